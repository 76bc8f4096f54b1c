/* Distribution cloud images by alias ("debian/12"): where each
 * distribution publishes its images and their checksum index, the index
 * parsed (outside input: tests/fuzz/fuzz-cloud.c), and the image's URL,
 * digest and version picked from it. Downloading and storing are the box
 * store's (box-store.c), as for any image box. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vmenv/box.h"
#include "vmenv/cleanup.h"
#include "vmenv/cloud.h"
#include "vmenv/util.h"

void vmenv_sums_clear(struct vmenv_sums *s)
{
        if (!s)
                return;
        for (size_t i = 0; i < s->n; i++) {
                free(s->entries[i].name);
                free(s->entries[i].checksum);
        }
        free(s->entries);
        *s = (struct vmenv_sums){0};
}

const char *vmenv_sums_find(const struct vmenv_sums *s, const char *name)
{
        for (size_t i = 0; i < s->n; i++)
                if (!strcmp(s->entries[i].name, name))
                        return s->entries[i].checksum;
        return NULL;
}

/* A file name the index may list: it becomes the last part of a URL. */
static bool sums_name_ok(const char *n, size_t len)
{
        if (len == 0 || len > 255 || (len == 1 && n[0] == '.') ||
            (len == 2 && n[0] == '.' && n[1] == '.'))
                return false;
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char)n[i];
                if (c <= 0x20 || c == 0x7f || c == '/' || c == '\\' || c == '%' || c == '?' ||
                    c == '#')
                        return false;
        }
        return true;
}

static int sums_bad(vmenv_error *err, const char *source, size_t line, const char *what)
{
        return vmenv_error_set(err, VMENV_EXIT_DATA, "%s:%zu: %s", source, line, what);
}

/* One "TYPE (NAME) = HEX" (BSD, Fedora) or "HEX  NAME" / "HEX *NAME" (GNU,
 * Debian and Ubuntu) line; *type, *name, *hex point into line. */
static bool split_line(char *line, const char **type, char **name, size_t *name_len, char **hex)
{
        size_t n = strspn(line, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789");
        if (n > 0 && !strncmp(line + n, " (", 2)) {
                char *close = strstr(line + n + 2, ") = ");
                if (!close)
                        return false;
                /* the last ") = ": a name may hold one, a digest cannot */
                for (char *c; (c = strstr(close + 1, ") = "));)
                        close = c;
                line[n] = '\0';
                *type = line;
                *name = line + n + 2;
                *name_len = (size_t)(close - *name);
                *hex = close + 4;
                return true;
        }
        n = strspn(line, "0123456789abcdefABCDEF");
        if (n == 0 || line[n] != ' ' || (line[n + 1] != ' ' && line[n + 1] != '*'))
                return false;
        line[n] = '\0';
        *type = NULL;
        *hex = line;
        *name = line + n + 2;
        *name_len = strlen(*name);
        return true;
}

int vmenv_sums_parse(const char *text, size_t len, const char *source, struct vmenv_sums *out,
                     vmenv_error *err)
{
        struct vmenv_sums s = {0};
        size_t cap = 0, lineno = 0;
        bool header = false, signature = false;
        const char *p = text, *end = text + len;

        if (len > VMENV_SUMS_MAX_BYTES)
                return vmenv_error_set(err, VMENV_EXIT_DATA, "%s: larger than %u bytes", source,
                                       VMENV_SUMS_MAX_BYTES);
        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                size_t ll = nl ? (size_t)(nl - p) : (size_t)(end - p);
                lineno++;
                if (ll > VMENV_SUMS_MAX_LINE) {
                        vmenv_sums_clear(&s);
                        return sums_bad(err, source, lineno, "line too long");
                }
                if (memchr(p, '\0', ll)) {
                        vmenv_sums_clear(&s);
                        return sums_bad(err, source, lineno, "a NUL byte");
                }
                _cleanup_free_ char *line = vmenv_strndup(p, ll);
                p += ll + (nl ? 1 : 0);
                size_t l = strlen(line);
                while (l > 0 && (line[l - 1] == '\r' || line[l - 1] == ' ' || line[l - 1] == '\t'))
                        line[--l] = '\0';

                /* OpenPGP clear-signed text (Fedora's CHECKSUM): the armour
                 * header up to the first blank line, the signature after
                 * the text, and "- " in front of lines starting with '-'.
                 * vmenv does not check the signature: the index comes over
                 * TLS from the distribution's mirror. */
                if (signature) {
                        continue;
                } else if (!strcmp(line, "-----BEGIN PGP SIGNED MESSAGE-----")) {
                        header = true;
                        continue;
                } else if (header) {
                        header = l != 0;
                        continue;
                } else if (!strcmp(line, "-----BEGIN PGP SIGNATURE-----")) {
                        signature = true;
                        continue;
                }
                char *t = line;
                if (vmenv_startswith(t, "- "))
                        t += 2;
                if (!*t || *t == '#')
                        continue;

                const char *type;
                char *name, *hex;
                size_t name_len;
                if (!split_line(t, &type, &name, &name_len, &hex)) {
                        vmenv_sums_clear(&s);
                        return sums_bad(err, source, lineno, "not a checksum line");
                }
                if (!sums_name_ok(name, name_len)) {
                        vmenv_sums_clear(&s);
                        return sums_bad(err, source, lineno, "not a plain file name");
                }
                name[name_len] = '\0';
                _cleanup_free_ char *cs = NULL;
                vmenv_error e = VMENV_ERROR_INIT;
                if (vmenv_checksum_join(type, hex, &cs, &e) < 0 || !cs) {
                        vmenv_error_clear(&e);
                        vmenv_sums_clear(&s);
                        return sums_bad(err, source, lineno, "not a digest");
                }
                if (vmenv_sums_find(&s, name)) {
                        vmenv_sums_clear(&s);
                        return sums_bad(err, source, lineno, "lists a file twice");
                }
                if (s.n >= VMENV_SUMS_MAX_ENTRIES) {
                        vmenv_sums_clear(&s);
                        return sums_bad(err, source, lineno, "too many entries");
                }
                if (s.n == cap) {
                        cap = cap ? cap * 2 : 16;
                        s.entries = vmenv_realloc(s.entries, cap * sizeof(*s.entries));
                }
                s.entries[s.n++] = (struct vmenv_sums_entry){vmenv_strdup(name), TAKE_PTR(cs)};
        }
        *out = s;
        return 0;
}

/* ---- aliases ------------------------------------------------------------ */

enum distro { DEBIAN, UBUNTU, FEDORA };

static const struct {
        const char *env;    /* the mirror's variable */
        const char *mirror; /* the distribution's own */
        const char *amd64, *arm64;
} distros[] = {
    [DEBIAN] = {"VMENV_IMAGE_MIRROR_DEBIAN", "https://cloud.debian.org/images/cloud/", "amd64",
                "arm64"},
    [UBUNTU] = {"VMENV_IMAGE_MIRROR_UBUNTU", "https://cloud-images.ubuntu.com/", "amd64", "arm64"},
    [FEDORA] = {"VMENV_IMAGE_MIRROR_FEDORA", "https://download.fedoraproject.org/pub/fedora/linux/",
                "x86_64", "aarch64"},
};

/* Paths under the mirror; %s is the distribution's name of the architecture.
 * Fedora's release folders never change after the release, so its compose
 * (41-1.4) is known and is the version; Debian's and Ubuntu's "latest"
 * folders are rebuilt, so the version is the date the digest was first
 * stored (see docs/cloud-images.md). */
static const struct alias {
        const char *name;
        enum distro distro;
        const char *dir, *sums, *file, *version;
} aliases[] = {
    {"debian/12", DEBIAN, "bookworm/latest/", "SHA512SUMS", "debian-12-genericcloud-%s.qcow2"},
    {"debian/13", DEBIAN, "trixie/latest/", "SHA512SUMS", "debian-13-genericcloud-%s.qcow2"},
    {"ubuntu/22.04", UBUNTU, "releases/22.04/release/", "SHA256SUMS",
     "ubuntu-22.04-server-cloudimg-%s.img"},
    {"ubuntu/24.04", UBUNTU, "releases/24.04/release/", "SHA256SUMS",
     "ubuntu-24.04-server-cloudimg-%s.img"},
    {"fedora/41", FEDORA, "releases/41/Cloud/%s/images/", "Fedora-Cloud-41-1.4-%s-CHECKSUM",
     "Fedora-Cloud-Base-Generic-41-1.4.%s.qcow2", "41.1.4"},
};

static const struct alias *find_alias(const char *name)
{
        for (size_t i = 0; name && i < VMENV_ARRAY_SIZE(aliases); i++)
                if (!strcmp(aliases[i].name, name))
                        return &aliases[i];
        return NULL;
}

bool vmenv_cloud_alias_known(const char *name)
{
        return find_alias(name) != NULL;
}

void vmenv_cloud_image_clear(struct vmenv_cloud_image *im)
{
        if (!im)
                return;
        free(im->name);
        free(im->url);
        free(im->sums_url);
        free(im->file);
        free(im->checksum);
        free(im->version);
        *im = (struct vmenv_cloud_image){0};
}

static char *expand(const char *fmt, const char *arch)
{
        /* the table's own formats: at most one %s */
        struct vmenv_buf b = {0};
        const char *s = strstr(fmt, "%s");
        if (!s)
                return vmenv_strdup(fmt);
        vmenv_buf_add(&b, fmt, (size_t)(s - fmt));
        vmenv_buf_puts(&b, arch);
        vmenv_buf_puts(&b, s + 2);
        return vmenv_buf_steal(&b);
}

int vmenv_cloud_image_locate(const char *alias, const char *arch, struct vmenv_cloud_image *out,
                             vmenv_error *err)
{
        const struct alias *a = find_alias(alias);
        if (!a) {
                vmenv_error_set(err, VMENV_EXIT_NOINPUT, "unknown image alias '%s'", alias);
                return vmenv_error_hint(err, "known: debian/12, debian/13, ubuntu/22.04, "
                                             "ubuntu/24.04, fedora/41; or give the image's URL");
        }
        const char *host = arch ? arch : vmenv_host_arch();
        const char *darch = NULL;
        if (!strcmp(host, "amd64") || !strcmp(host, "x86_64"))
                darch = distros[a->distro].amd64;
        else if (!strcmp(host, "arm64") || !strcmp(host, "aarch64"))
                darch = distros[a->distro].arm64;
        if (!darch)
                return vmenv_error_set(err, VMENV_EXIT_NOINPUT,
                                       "image '%s' is not published for %s", alias, host);

        const char *mirror = getenv(distros[a->distro].env);
        if (!mirror || !*mirror)
                mirror = distros[a->distro].mirror;
        if (!vmenv_is_url(mirror))
                return vmenv_error_set(err, VMENV_EXIT_USAGE,
                                       "%s: '%s' is not an http, https or file URL",
                                       distros[a->distro].env, mirror);
        _cleanup_free_ char *dir = expand(a->dir, darch);
        _cleanup_free_ char *base =
            vmenv_strdupf("%s%s%s", mirror, vmenv_endswith(mirror, "/") ? "" : "/", dir);
        _cleanup_free_ char *sums = expand(a->sums, darch);
        struct vmenv_cloud_image im = {
            .name = vmenv_strdup(a->name),
            .file = expand(a->file, darch),
            .sums_url = vmenv_strdupf("%s%s", base, sums),
            .version = vmenv_strdup(a->version),
        };
        im.url = vmenv_strdupf("%s%s", base, im.file);
        *out = im;
        return 0;
}

int vmenv_cloud_image_pick(struct vmenv_cloud_image *im, const char *sums_text, size_t len,
                           vmenv_error *err)
{
        struct vmenv_sums s = {0};
        if (vmenv_sums_parse(sums_text, len, im->sums_url, &s, err) < 0)
                return -1;
        const char *cs = vmenv_sums_find(&s, im->file);
        if (!cs) {
                vmenv_sums_clear(&s);
                return vmenv_error_set(err, VMENV_EXIT_DATA, "'%s' does not list '%s'",
                                       im->sums_url, im->file);
        }
        free(im->checksum);
        im->checksum = vmenv_strdup(cs);
        vmenv_sums_clear(&s);
        return 0;
}

char *vmenv_cloud_image_version(const struct vmenv_cloud_image *im)
{
        char buf[32];
        time_t now = time(NULL);
        struct tm tm;
        if (im->version)
                return vmenv_strdup(im->version);
        gmtime_r(&now, &tm);
        strftime(buf, sizeof(buf), "%Y%m%d.%H%M%S", &tm);
        return vmenv_strdup(buf);
}

int vmenv_cloud_image_resolve(const char *alias, const char *arch,
                              const struct vmenv_fetch_opts *opts, struct vmenv_cloud_image *out,
                              vmenv_error *err)
{
        struct vmenv_cloud_image im = {0};
        _cleanup_free_ char *text = NULL;
        size_t len = 0;

        if (vmenv_cloud_image_locate(alias, arch, &im, err) < 0)
                return -1;
        if (vmenv_fetch_memory(im.sums_url, VMENV_SUMS_MAX_BYTES, opts, &text, &len, err) < 0 ||
            vmenv_cloud_image_pick(&im, text, len, err) < 0) {
                vmenv_error_prefix(err, "cannot resolve image '%s'", alias);
                vmenv_cloud_image_clear(&im);
                return -1;
        }
        *out = im;
        return 0;
}
