/* Cloud images by alias: the checksum index parser (Debian, Ubuntu and
 * Fedora's forms, and what it refuses), alias → URLs per architecture and
 * mirror, resolution through fixture mirrors under tests/fixtures/cloud/
 * (file:// URLs), and a wrong digest refused by the fetcher. */
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "vmenv/box.h"
#include "vmenv/cleanup.h"
#include "vmenv/cloud.h"
#include "vmenv/util.h"

static char *fixture(const char *rel)
{
        const char *s = getenv("VMENV_SRCDIR");
        return vmenv_strdupf("%s/tests/fixtures/cloud/%s", s ? s : ".", rel);
}

#define H64 "a4abd4448c49562d82812a4abd4448c49562d82812a4abd4448c49562d82812f"
#define H128 H64 H64

static void parse_good(void)
{
        static const struct {
                const char *what, *text, *name, *want;
                size_t n;
        } cases[] = {
            {"GNU, two spaces", H128 "  a.qcow2\n", "a.qcow2", "sha512:" H128, 1},
            {"GNU, binary mark", H64 " *b.img\r\n", "b.img", "sha256:" H64, 1},
            {"upper-case digest",
             "SHA256 (c.qcow2) = A4ABD4448C49562D82812A4ABD4448C49562D82812A4"
             "ABD4448C49562D82812F\n",
             "c.qcow2", "sha256:" H64, 1},
            {"a name with ')' in it", "SHA256 (x)y) = " H64 "\n", "x)y", "sha256:" H64, 1},
            {"comments, blanks, no final newline", "# c\n\n" H64 "  d\n" H64 "  e", "e",
             "sha256:" H64, 2},
            {"clear-signed",
             "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n" H64
             "  f\n- # dash-escaped\n-----BEGIN PGP SIGNATURE-----\n\nxx\n"
             "-----END PGP SIGNATURE-----\n",
             "f", "sha256:" H64, 1},
            {"empty", "", NULL, NULL, 0},
        };
        for (size_t i = 0; i < VMENV_ARRAY_SIZE(cases); i++) {
                struct vmenv_sums s = {0};
                vmenv_error err = VMENV_ERROR_INIT;
                int rc = vmenv_sums_parse(cases[i].text, strlen(cases[i].text), "SUMS", &s, &err);
                ok(rc == 0 && s.n == cases[i].n, "parsed: %s", cases[i].what);
                if (rc < 0)
                        printf("#   error: %s\n", err.msg);
                if (cases[i].name)
                        is_str(vmenv_sums_find(&s, cases[i].name), cases[i].want, cases[i].what);
                vmenv_sums_clear(&s);
                vmenv_error_clear(&err);
        }
}

static void parse_bad(void)
{
        static const struct {
                const char *what, *text, *want;
        } cases[] = {
            {"a line that is not one", H64 "  a\nhello world\n", "SUMS:2: not a checksum line"},
            {"one space", H64 " a\n", "SUMS:1: not a checksum line"},
            {"a path, not a name", H64 "  ../etc/passwd\n", "SUMS:1: not a plain file name"},
            {"a sub-folder", H64 "  sub/a.img\n", "not a plain file name"},
            {"a name with a space", H64 "  a b\n", "not a plain file name"},
            {"a name with '?'", H64 "  a?b=c\n", "not a plain file name"},
            {"'..'", H64 "  ..\n", "not a plain file name"},
            {"a digest of no known length", "abc  a\n", "SUMS:1: not a digest"},
            {"a type that does not fit the digest", "SHA512 (a) = " H64 "\n", "not a digest"},
            {"an unknown type", "SHA3 (a) = " H64 "\n", "not a digest"},
            {"a colon in the digest", "SHA256 (a) = sha512:" H128 "\n", "not a digest"},
            {"a name twice", H64 "  a\n" H64 "  a\n", "SUMS:2: lists a file twice"},
            {"a NUL byte", H64 "  a\0b\n", "SUMS:1: a NUL byte"},
        };
        for (size_t i = 0; i < VMENV_ARRAY_SIZE(cases); i++) {
                struct vmenv_sums s = {0};
                vmenv_error err = VMENV_ERROR_INIT;
                size_t len = strlen(cases[i].text);
                if (strstr(cases[i].what, "NUL"))
                        len = 64 + 2 + 4;
                int rc = vmenv_sums_parse(cases[i].text, len, "SUMS", &s, &err);
                ok(rc < 0 && err.code == VMENV_EXIT_DATA && strstr(err.msg, cases[i].want),
                   "refused: %s", cases[i].what);
                if (rc == 0 || !strstr(err.msg, cases[i].want))
                        printf("#   error: %s\n", err.msg ? err.msg : "(none)");
                vmenv_sums_clear(&s);
                vmenv_error_clear(&err);
        }

        /* limits */
        struct vmenv_buf b = {0};
        for (int i = 0; i <= VMENV_SUMS_MAX_ENTRIES; i++)
                vmenv_buf_printf(&b, H64 "  f%d\n", i);
        struct vmenv_sums s = {0};
        vmenv_error err = VMENV_ERROR_INIT;
        ok(vmenv_sums_parse(b.data, b.len, "SUMS", &s, &err) < 0 && strstr(err.msg, "too many"),
           "refused: more than %d entries", VMENV_SUMS_MAX_ENTRIES);
        vmenv_error_clear(&err);
        vmenv_buf_free(&b);
        char *huge = vmenv_calloc(1, VMENV_SUMS_MAX_BYTES + 2);
        memset(huge, '#', VMENV_SUMS_MAX_BYTES + 1);
        ok(vmenv_sums_parse(huge, VMENV_SUMS_MAX_BYTES + 1, "SUMS", &s, &err) < 0 &&
               strstr(err.msg, "larger than"),
           "refused: an index over %u bytes", VMENV_SUMS_MAX_BYTES);
        vmenv_error_clear(&err);
        ok(vmenv_sums_parse(huge, VMENV_SUMS_MAX_LINE + 1, "SUMS", &s, &err) < 0 &&
               strstr(err.msg, "line too long"),
           "refused: a line over %d bytes", VMENV_SUMS_MAX_LINE);
        vmenv_error_clear(&err);
        free(huge);
}

static void locate(void)
{
        static const struct {
                const char *alias, *arch, *url, *sums, *version;
        } cases[] = {
            {"debian/12", "amd64",
             "https://cloud.debian.org/images/cloud/bookworm/latest/"
             "debian-12-genericcloud-amd64.qcow2",
             "https://cloud.debian.org/images/cloud/bookworm/latest/SHA512SUMS", NULL},
            {"debian/13", "aarch64",
             "https://cloud.debian.org/images/cloud/trixie/latest/"
             "debian-13-genericcloud-arm64.qcow2",
             "https://cloud.debian.org/images/cloud/trixie/latest/SHA512SUMS", NULL},
            {"ubuntu/24.04", "x86_64",
             "https://cloud-images.ubuntu.com/releases/24.04/release/"
             "ubuntu-24.04-server-cloudimg-amd64.img",
             "https://cloud-images.ubuntu.com/releases/24.04/release/SHA256SUMS", NULL},
            {"fedora/41", "amd64",
             "https://download.fedoraproject.org/pub/fedora/linux/releases/41/Cloud/x86_64/images/"
             "Fedora-Cloud-Base-Generic-41-1.4.x86_64.qcow2",
             "https://download.fedoraproject.org/pub/fedora/linux/releases/41/Cloud/x86_64/images/"
             "Fedora-Cloud-41-1.4-x86_64-CHECKSUM",
             "41.1.4"},
            {"fedora/41", "arm64",
             "https://download.fedoraproject.org/pub/fedora/linux/releases/41/Cloud/aarch64/images/"
             "Fedora-Cloud-Base-Generic-41-1.4.aarch64.qcow2",
             "https://download.fedoraproject.org/pub/fedora/linux/releases/41/Cloud/aarch64/images/"
             "Fedora-Cloud-41-1.4-aarch64-CHECKSUM",
             "41.1.4"},
        };
        unsetenv("VMENV_IMAGE_MIRROR_DEBIAN");
        unsetenv("VMENV_IMAGE_MIRROR_UBUNTU");
        unsetenv("VMENV_IMAGE_MIRROR_FEDORA");
        for (size_t i = 0; i < VMENV_ARRAY_SIZE(cases); i++) {
                struct vmenv_cloud_image im = {0};
                vmenv_error err = VMENV_ERROR_INIT;
                CHECK(vmenv_cloud_image_locate(cases[i].alias, cases[i].arch, &im, &err),
                      cases[i].alias);
                is_str(im.url, cases[i].url, "image URL");
                is_str(im.sums_url, cases[i].sums, "index URL");
                is_str(im.version, cases[i].version, "version");
                is_str(im.name, cases[i].alias, "store name");
                vmenv_cloud_image_clear(&im);
        }

        struct vmenv_cloud_image im = {0};
        vmenv_error err = VMENV_ERROR_INIT;
        ok(vmenv_cloud_alias_known("debian/12") && !vmenv_cloud_alias_known("debian/11") &&
               !vmenv_cloud_alias_known("vmenv/tiny"),
           "known aliases");
        ok(vmenv_cloud_image_locate("debian/11", NULL, &im, &err) < 0 &&
               err.code == VMENV_EXIT_NOINPUT && err.hint && strstr(err.hint, "debian/12"),
           "an unknown alias names the known ones");
        vmenv_error_clear(&err);
        ok(vmenv_cloud_image_locate("debian/12", "s390x", &im, &err) < 0 &&
               strstr(err.msg, "not published for s390x"),
           "an architecture the distribution has no image for");
        vmenv_error_clear(&err);

        setenv("VMENV_IMAGE_MIRROR_DEBIAN", "http://127.0.0.1:8000", 1);
        CHECK(vmenv_cloud_image_locate("debian/12", "amd64", &im, &err),
              "mirror from the environment");
        is_str(im.sums_url, "http://127.0.0.1:8000/bookworm/latest/SHA512SUMS",
               "the mirror replaces the distribution's (a '/' added)");
        vmenv_cloud_image_clear(&im);
        setenv("VMENV_IMAGE_MIRROR_DEBIAN", "/srv/mirror", 1);
        ok(vmenv_cloud_image_locate("debian/12", "amd64", &im, &err) < 0 &&
               err.code == VMENV_EXIT_USAGE,
           "a mirror that is not a URL is refused");
        vmenv_error_clear(&err);
        unsetenv("VMENV_IMAGE_MIRROR_DEBIAN");
}

static void resolve(void)
{
        static const struct {
                const char *alias, *env, *mirror, *want;
        } cases[] = {
            {"debian/12", "VMENV_IMAGE_MIRROR_DEBIAN", "mirror/debian",
             "sha512:886e4fdec62b9e93d1bae648719cb3"},
            {"ubuntu/24.04", "VMENV_IMAGE_MIRROR_UBUNTU", "mirror/ubuntu",
             "sha256:bb82030dbc2bcaba32a90bf2e207a84a856fc5f033b77c480836ab6f77f40f19"},
            {"fedora/41", "VMENV_IMAGE_MIRROR_FEDORA", "mirror/fedora",
             "sha256:e4ab4e3b1493d5a997b4e51cdefbaa10570ef3ea9432bd72e7b6a89654ceb7f6"},
        };
        for (size_t i = 0; i < VMENV_ARRAY_SIZE(cases); i++) {
                _cleanup_free_ char *dir = fixture(cases[i].mirror);
                _cleanup_free_ char *url = vmenv_strdupf("file://%s/", dir);
                struct vmenv_cloud_image im = {0};
                vmenv_error err = VMENV_ERROR_INIT;
                setenv(cases[i].env, url, 1);
                CHECK(vmenv_cloud_image_resolve(cases[i].alias, "amd64", NULL, &im, &err),
                      cases[i].alias);
                ok(im.checksum && vmenv_startswith(im.checksum, cases[i].want), "%s: digest %s",
                   cases[i].alias, im.checksum ? im.checksum : "(none)");
                vmenv_cloud_image_clear(&im);
                unsetenv(cases[i].env);
        }

        /* the index does not list the image for this architecture */
        _cleanup_free_ char *bad = fixture("mirror-bad/debian");
        _cleanup_free_ char *bad_url = vmenv_strdupf("file://%s", bad);
        struct vmenv_cloud_image im = {0};
        vmenv_error err = VMENV_ERROR_INIT;
        setenv("VMENV_IMAGE_MIRROR_DEBIAN", bad_url, 1);
        ok(vmenv_cloud_image_resolve("debian/12", "arm64", NULL, &im, &err) < 0 &&
               err.code == VMENV_EXIT_DATA && strstr(err.msg, "does not list"),
           "an image the index does not list: %s", err.msg ? err.msg : "");
        vmenv_error_clear(&err);

        /* a digest that does not match the image: the fetcher refuses it */
        char home[] = "/tmp/vmenv-test-cloud-image-XXXXXX";
        if (!ok(mkdtemp(home) != NULL, "temporary VMENV_HOME"))
                return;
        setenv("VMENV_HOME", home, 1);
        CHECK(vmenv_cloud_image_resolve("debian/12", "amd64", NULL, &im, &err), "resolved");
        struct vmenv_fetch_opts fo = {.quiet = true};
        char *path = NULL, *digest = NULL;
        int rc = vmenv_fetch(im.url, im.checksum, &fo, &path, &digest, &err);
        ok(rc < 0 && err.code == VMENV_EXIT_DATA && strstr(err.msg, "mismatch"),
           "a wrong digest is refused: %s", err.msg ? err.msg : "(accepted)");
        free(path);
        free(digest);
        vmenv_error_clear(&err);
        vmenv_cloud_image_clear(&im);
        unsetenv("VMENV_IMAGE_MIRROR_DEBIAN");

        /* and the right one accepted */
        _cleanup_free_ char *good = fixture("mirror/debian");
        _cleanup_free_ char *good_url = vmenv_strdupf("file://%s", good);
        setenv("VMENV_IMAGE_MIRROR_DEBIAN", good_url, 1);
        CHECK(vmenv_cloud_image_resolve("debian/12", "amd64", NULL, &im, &err), "resolved");
        path = digest = NULL;
        CHECK(vmenv_fetch(im.url, im.checksum, &fo, &path, &digest, &err),
              "the listed digest is accepted");
        is_str(digest, im.checksum, "the download's digest is the index's");
        if (path)
                unlink(path);
        free(path);
        free(digest);
        vmenv_cloud_image_clear(&im);
        unsetenv("VMENV_IMAGE_MIRROR_DEBIAN");
        CHECK(vmenv_rm_rf(home, &err), "temporary VMENV_HOME removed");
}

int main(void)
{
        parse_good();
        parse_bad();
        locate();
        resolve();
        return done_testing();
}
