/* Cloud images: the NoCloud seed against golden files, its refusals, and the
 * seed volume read back with libarchive.
 *
 * Every tests/golden/cloud/<case>.spec ("key = value" lines, '#' comments;
 * keys instance_id, hostname, user, key, mac, minimal, user_data = a file
 * under tests/fixtures/cloud/) is made into a seed and compared byte for
 * byte with <case>.meta-data, <case>.user-data and <case>.network-config
 * (VMENV_REGENERATE=1 rewrites them). */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "vmenv/cleanup.h"
#include "vmenv/cloud.h"
#include "vmenv/util.h"

static const char *srcdir(void)
{
        const char *s = getenv("VMENV_SRCDIR");
        return s ? s : ".";
}

static const struct vmenv_cloud_seed_in base = {
    .instance_id = "vmenv-0123456789abcdef",
    .hostname = "web",
    .user = "vmenv",
    .public_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHhz vmenv:demo/web",
    .mac = "52:54:00:12:34:56",
};

struct spec {
        struct vmenv_cloud_seed_in in;
        char *owned[8];
        size_t n_owned;
};

static const char *keep(struct spec *s, char *p)
{
        if (s->n_owned < VMENV_ARRAY_SIZE(s->owned))
                s->owned[s->n_owned++] = p;
        return p;
}

static int read_spec(const char *path, struct spec *s, vmenv_error *err)
{
        _cleanup_free_ char *text = NULL;
        size_t len;
        if (vmenv_read_file(path, 65536, &text, &len, err) < 0)
                return -1;
        s->in = base;
        for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
                if (*line == '#' || !*line)
                        continue;
                char *eq = strstr(line, " = ");
                if (!eq)
                        return vmenv_error_set(err, 1, "bad line '%s'", line);
                *eq = '\0';
                const char *v = keep(s, vmenv_strdup(eq + 3));
                if (!strcmp(line, "instance_id"))
                        s->in.instance_id = v;
                else if (!strcmp(line, "hostname"))
                        s->in.hostname = v;
                else if (!strcmp(line, "user"))
                        s->in.user = v;
                else if (!strcmp(line, "key"))
                        s->in.public_key = v;
                else if (!strcmp(line, "mac"))
                        s->in.mac = v;
                else if (!strcmp(line, "minimal"))
                        s->in.minimal = !strcmp(v, "true");
                else if (!strcmp(line, "user_data")) {
                        _cleanup_free_ char *f =
                            vmenv_strdupf("%s/tests/fixtures/cloud/%s", srcdir(), v);
                        char *ud = NULL;
                        if (vmenv_read_file(f, VMENV_CLOUD_USER_DATA_MAX, &ud, &len, err) < 0)
                                return -1;
                        s->in.user_data = keep(s, ud);
                        s->in.user_data_len = len;
                        s->in.user_data_name = v;
                } else
                        return vmenv_error_set(err, 1, "unknown key '%s'", line);
        }
        return 0;
}

static void compare(const char *golden, const char *got, const char *what)
{
        vmenv_error err = VMENV_ERROR_INIT;
        _cleanup_free_ char *want = NULL;
        size_t len;
        if (getenv("VMENV_REGENERATE")) {
                ok(vmenv_write_file_atomic(golden, got, strlen(got), 0644, &err) == 0,
                   "%s regenerated", what);
                vmenv_error_clear(&err);
                return;
        }
        if (vmenv_read_file(golden, 1 << 20, &want, &len, &err) < 0) {
                ok(0, "%s: %s", what, err.msg);
                vmenv_error_clear(&err);
                return;
        }
        is_str(got, want, what);
}

static void golden_cases(void)
{
        _cleanup_free_ char *dir = vmenv_strdupf("%s/tests/golden/cloud", srcdir());
        struct dirent **names = NULL;
        int n = scandir(dir, &names, NULL, alphasort);
        ok(n > 0, "golden folder %s", dir);
        for (int i = 0; i < n; i++) {
                const char *name = names[i]->d_name;
                if (vmenv_endswith(name, ".spec")) {
                        _cleanup_free_ char *c = vmenv_strndup(name, strlen(name) - 5);
                        _cleanup_free_ char *spec = vmenv_strdupf("%s/%s", dir, name);
                        struct spec s = {0};
                        struct vmenv_cloud_seed seed = {0};
                        vmenv_error err = VMENV_ERROR_INIT;
                        if (!ok(read_spec(spec, &s, &err) == 0 &&
                                    vmenv_cloud_seed_make(&s.in, &seed, &err) == 0,
                                "%s: seed made", c))
                                printf("#   error: %s\n", err.msg);
                        else {
                                const char *parts[][2] = {{"meta-data", seed.meta_data},
                                                          {"user-data", seed.user_data},
                                                          {"network-config", seed.network_config}};
                                for (size_t k = 0; k < 3; k++) {
                                        _cleanup_free_ char *g =
                                            vmenv_strdupf("%s/%s.%s", dir, c, parts[k][0]);
                                        _cleanup_free_ char *w =
                                            vmenv_strdupf("%s: %s", c, parts[k][0]);
                                        compare(g, parts[k][1], w);
                                }
                        }
                        vmenv_cloud_seed_clear(&seed);
                        vmenv_error_clear(&err);
                        for (size_t k = 0; k < s.n_owned; k++)
                                free(s.owned[k]);
                }
                free(names[i]);
        }
        free(names);
}

static void refusals(void)
{
        static const struct {
                const char *what, *user_data, *want;
        } cases[] = {
            {"an unknown user-data kind", "#include http://x/\n",
             "must start with '#cloud-config' or '#!'"},
            {"a jinja template", "## template: jinja\n#cloud-config\n", "must start with"},
            {"#cloud-config followed by text", "#cloud-configx\na: 1\n", "must start with"},
            {"a list, not a mapping", "#cloud-config\n- a\n- b\n", "must be a mapping"},
            {"a scalar document", "#cloud-config\nhello\n", "must be a mapping"},
            {"users not a list", "#cloud-config\nusers: default\n", "users: must be a list"},
            {"users an alias", "#cloud-config\nx: &u [a]\nusers: *u\n", "users: must be a list"},
            {"two documents", "#cloud-config\na: 1\n---\nb: 2\n", "more than one document"},
            {"invalid YAML", "#cloud-config\na: [1, 2\n", "ud.yaml:"},
            {"too deep",
             "#cloud-config\na: "
             "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
             "[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
             "]]]]]]\n",
             "nested too deeply"},
        };
        for (size_t i = 0; i < VMENV_ARRAY_SIZE(cases); i++) {
                struct vmenv_cloud_seed_in in = base;
                struct vmenv_cloud_seed seed = {0};
                vmenv_error err = VMENV_ERROR_INIT;
                in.user_data = cases[i].user_data;
                in.user_data_len = strlen(cases[i].user_data);
                in.user_data_name = "ud.yaml";
                int rc = vmenv_cloud_seed_make(&in, &seed, &err);
                ok(rc < 0 && err.code == VMENV_EXIT_CONFIG && err.msg &&
                       strstr(err.msg, cases[i].want),
                   "refused: %s", cases[i].what);
                if (rc == 0 || !err.msg || !strstr(err.msg, cases[i].want))
                        printf("#   error: %s\n", err.msg ? err.msg : "(none)");
                vmenv_cloud_seed_clear(&seed);
                vmenv_error_clear(&err);
        }

        static const struct {
                const char *what;
                struct vmenv_cloud_seed_in in;
        } bad_in[] = {
            {"a host name with a newline", {.hostname = "web\nruncmd: x"}},
            {"a user name with a quote", {.user = "a\"b"}},
            {"a key on two lines", {.public_key = "ssh-ed25519 AAAA\nruncmd: [x]"}},
            {"a key that is not one", {.public_key = "runcmd"}},
            {"a bad MAC", {.mac = "52:54:00:12:34"}},
        };
        for (size_t i = 0; i < VMENV_ARRAY_SIZE(bad_in); i++) {
                struct vmenv_cloud_seed_in in = base;
                const struct vmenv_cloud_seed_in *b = &bad_in[i].in;
                if (b->hostname)
                        in.hostname = b->hostname;
                if (b->user)
                        in.user = b->user;
                if (b->public_key)
                        in.public_key = b->public_key;
                if (b->mac)
                        in.mac = b->mac;
                struct vmenv_cloud_seed seed = {0};
                vmenv_error err = VMENV_ERROR_INIT;
                ok(vmenv_cloud_seed_make(&in, &seed, &err) < 0, "refused: %s", bad_in[i].what);
                vmenv_cloud_seed_clear(&seed);
                vmenv_error_clear(&err);
        }
}

static void identity(void)
{
        _cleanup_free_ char *a = vmenv_cloud_instance_id_new();
        _cleanup_free_ char *b = vmenv_cloud_instance_id_new();
        ok(vmenv_startswith(a, "vmenv-") && strlen(a) == 22, "instance id looks right: %s", a);
        ok(strcmp(a, b) != 0, "two instance ids differ");

        struct vmenv_cloud_seed s1 = {0}, s2 = {0};
        vmenv_error err = VMENV_ERROR_INIT;
        struct vmenv_cloud_seed_in in = base;
        CHECK(vmenv_cloud_seed_make(&in, &s1, &err), "seed made");
        in.hostname = "web2";
        CHECK(vmenv_cloud_seed_make(&in, &s2, &err), "seed with another host name made");
        _cleanup_free_ char *d1 = vmenv_cloud_seed_digest(&s1);
        _cleanup_free_ char *d1b = vmenv_cloud_seed_digest(&s1);
        _cleanup_free_ char *d2 = vmenv_cloud_seed_digest(&s2);
        ok(vmenv_startswith(d1, "sha256:") && !strcmp(d1, d1b), "the digest is stable");
        ok(strcmp(d1, d2) != 0, "the digest changes with the inputs");
        vmenv_cloud_seed_clear(&s1);
        vmenv_cloud_seed_clear(&s2);
}

/* The volume read back: ISO 9660 with the label cloud-init looks for, and
 * the three files (through Rock Ridge/Joliet names, as libarchive reads
 * them) byte for byte. */
static void iso(void)
{
        char dir[] = "/tmp/vmenv-test-cloud-XXXXXX";
        vmenv_error err = VMENV_ERROR_INIT;
        struct vmenv_cloud_seed seed = {0};
        if (!ok(mkdtemp(dir) != NULL, "temporary folder"))
                return;
        _cleanup_free_ char *path = vmenv_path_join(dir, "seed.iso");
        CHECK(vmenv_cloud_seed_make(&base, &seed, &err), "seed made");
        CHECK(vmenv_cloud_iso_write(&seed, path, &err), "seed volume written");

        _cleanup_free_ char *data = NULL;
        size_t len = 0;
        CHECK(vmenv_read_file(path, 64 << 20, &data, &len, &err), "seed volume read");
        ok(len >= 0x8028 + 32 && !memcmp(data + 0x8001, "CD001", 5),
           "a primary volume descriptor at sector 16");
        ok(len >= 0x8028 + 32 && !strncasecmp(data + 0x8028, "cidata ", 7),
           "the volume label is cidata");
        if (len >= 0x8028 + 32)
                printf("# label: '%.32s'\n", data + 0x8028);

        struct archive *a = archive_read_new();
        archive_read_support_format_iso9660(a);
        int found = 0;
        if (archive_read_open_filename(a, path, 10240) == ARCHIVE_OK) {
                struct archive_entry *e;
                while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
                        const char *n = archive_entry_pathname(e);
                        if (vmenv_startswith(n, "./"))
                                n += 2;
                        const char *want = !strcmp(n, "meta-data")        ? seed.meta_data
                                           : !strcmp(n, "user-data")      ? seed.user_data
                                           : !strcmp(n, "network-config") ? seed.network_config
                                                                          : NULL;
                        if (!want)
                                continue;
                        char buf[8192];
                        la_ssize_t got = archive_read_data(a, buf, sizeof(buf) - 1);
                        buf[got > 0 ? got : 0] = '\0';
                        found += is_str(buf, want, n);
                }
        }
        archive_read_free(a);
        ok(found == 3, "the three files are on the volume");

        CHECK(vmenv_rm_rf(dir, &err), "temporary folder removed");
        vmenv_cloud_seed_clear(&seed);
}

int main(void)
{
        golden_cases();
        refusals();
        identity();
        iso();
        return done_testing();
}
