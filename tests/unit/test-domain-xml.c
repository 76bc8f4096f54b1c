/* Golden tests of the domain XML renderer: every tests/golden/<case>.spec is
 * rendered and compared byte for byte with tests/golden/<case>.xml
 * (VMENV_REGENERATE=1 rewrites the expected files), and every expected XML is
 * also defined through libvirt's own parser and schema on test:///default.
 * Then a table of invalid specs, each with the error it must give.
 *
 * Spec format: "key = value" lines, '#' comments; the value is the rest of
 * the line, verbatim (so it can carry <, & and quotes). Repeatable keys:
 *   disk = PATH FORMAT
 *   port = HOST_IP HOST_PORT GUEST_PORT PROTO
 *   fs   = TYPE HOST_PATH TAG [ro]
 *   nic  = NETWORK MAC
 * seed = PATH attaches a cloud-init seed image; mac = MAC fixes the first NIC's.
 * host.libvirt_version and host.passt describe the host it is rendered for. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "../../providers/libvirt/domain-xml.h"
#include "tap.h"
#include "vmenv/cleanup.h"
#include "vmenv/util.h"

#define MAX_SPEC (64 * 1024)

struct golden {
        struct vmenv_domain_spec s;
        struct vmenv_host_info h;
        struct vmenv_disk_spec disks[8];
        struct vmenv_port_map ports[16];
        struct vmenv_fs_spec fs[8];
        struct vmenv_nic_spec nics[8];
        char **strings; /* owns every value the spec points to */
};

static const char *keep(struct golden *g, char *owned)
{
        vmenv_strv_push(&g->strings, owned);
        return owned;
}

/* Splits a value into at most max space-separated words, kept in g. */
static size_t words(struct golden *g, const char *v, const char **out, size_t max)
{
        _cleanup_free_ char *copy = vmenv_strdup(v);
        char *save = NULL;
        size_t n = 0;
        for (char *w = strtok_r(copy, " \t", &save); w && n < max; w = strtok_r(NULL, " \t", &save))
                out[n++] = keep(g, vmenv_strdup(w));
        return n;
}

static int parse_spec(const char *path, struct golden *g, char **why)
{
        _cleanup_free_ char *text = NULL;
        vmenv_error err = VMENV_ERROR_INIT;
        char *save = NULL;

        if (vmenv_read_file(path, MAX_SPEC, &text, NULL, &err) < 0) {
                *why = vmenv_strdup(err.msg);
                vmenv_error_clear(&err);
                return -1;
        }
        g->s.disks = g->disks;
        g->s.ports = g->ports;
        g->s.fs = g->fs;
        g->s.nics = g->nics;
        for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *eq, *key, *val;
                const char *w[5] = {0};
                size_t nw;

                while (*line == ' ' || *line == '\t')
                        line++;
                if (!*line || *line == '#')
                        continue;
                if (!(eq = strstr(line, " = "))) {
                        *why = vmenv_strdupf("line without ' = ': %s", line);
                        return -1;
                }
                *eq = '\0';
                key = line;
                val = eq + 3;
#define STR(k, field)                                                                              \
        if (!strcmp(key, k)) {                                                                     \
                g->s.field = keep(g, vmenv_strdup(val));                                           \
                continue;                                                                          \
        }
                STR("name", name)
                STR("uuid", uuid)
                STR("title", title)
                STR("project_dir", project_dir)
                STR("machine", machine)
                STR("machine_type", machine_type)
                STR("cpu_mode", cpu_mode)
                STR("emulator", emulator)
                STR("serial_log", serial_log)
                STR("kernel", kernel)
                STR("initrd", initrd)
                STR("cmdline", cmdline)
                STR("network", network)
                STR("nat_network", nat_network)
                STR("video", video)
                STR("graphics", graphics)
                STR("seed", seed_iso)
                STR("mac", mac)
#undef STR
                if (!strcmp(key, "memory")) {
                        if (vmenv_parse_size(val, &g->s.memory) < 0) {
                                *why = vmenv_strdupf("bad memory '%s'", val);
                                return -1;
                        }
                } else if (!strcmp(key, "cpus")) {
                        g->s.cpus = atoi(val);
                } else if (!strcmp(key, "kvm")) {
                        g->s.kvm = !strcmp(val, "true");
                } else if (!strcmp(key, "host.libvirt_version")) {
                        g->h.libvirt_version = strtoul(val, NULL, 10);
                } else if (!strcmp(key, "host.passt")) {
                        g->h.passt = !strcmp(val, "true");
                } else if (!strcmp(key, "disk") && g->s.n_disks < VMENV_ARRAY_SIZE(g->disks)) {
                        /* The path may hold spaces: the format is the last word. */
                        char *sp = strrchr(val, ' ');
                        if (!sp) {
                                *why = vmenv_strdupf("disk needs PATH FORMAT: %s", val);
                                return -1;
                        }
                        g->disks[g->s.n_disks++] = (struct vmenv_disk_spec){
                            keep(g, vmenv_strndup(val, (size_t)(sp - val))),
                            keep(g, vmenv_strdup(sp + 1))};
                } else if (!strcmp(key, "port") && g->s.n_ports < VMENV_ARRAY_SIZE(g->ports)) {
                        if ((nw = words(g, val, w, 4)) != 4) {
                                *why = vmenv_strdupf("port needs 4 words: %s", val);
                                return -1;
                        }
                        g->ports[g->s.n_ports++] =
                            (struct vmenv_port_map){w[0], atoi(w[1]), atoi(w[2]), w[3]};
                } else if (!strcmp(key, "fs") && g->s.n_fs < VMENV_ARRAY_SIZE(g->fs)) {
                        nw = words(g, val, w, 4);
                        g->fs[g->s.n_fs++] =
                            (struct vmenv_fs_spec){.type = w[0],
                                                   .host_path = w[1],
                                                   .tag = w[2],
                                                   .readonly = nw > 3 && vmenv_streq(w[3], "ro")};
                } else if (!strcmp(key, "nic") && g->s.n_nics < VMENV_ARRAY_SIZE(g->nics)) {
                        if (words(g, val, w, 2) != 2) {
                                *why = vmenv_strdupf("nic needs NETWORK MAC: %s", val);
                                return -1;
                        }
                        g->nics[g->s.n_nics++] = (struct vmenv_nic_spec){w[0], w[1]};
                } else {
                        *why = vmenv_strdupf("unknown key '%s'", key);
                        return -1;
                }
        }
        return 0;
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static void golden_cases(const char *dir, struct vmenv_provider *test_conn,
                         unsigned long libvirt_version)
{
        DIR *d = opendir(dir);
        struct dirent *de;
        char **cases = NULL;
        bool regen = getenv("VMENV_REGENERATE") && vmenv_streq(getenv("VMENV_REGENERATE"), "1");

        if (!ok(d != NULL, "golden folder '%s' is there", dir))
                return;
        while ((de = readdir(d)))
                if (vmenv_endswith(de->d_name, ".spec"))
                        vmenv_strv_push(&cases, vmenv_strndup(de->d_name, strlen(de->d_name) - 5));
        closedir(d);
        qsort(cases, vmenv_strv_len(cases), sizeof(char *), cmp_str);
        ok(vmenv_strv_len(cases) >= 8, "%zu golden cases", vmenv_strv_len(cases));

        for (char **c = cases; c && *c; c++) {
                _cleanup_free_ char *spec_path = vmenv_strdupf("%s/%s.spec", dir, *c);
                _cleanup_free_ char *xml_path = vmenv_strdupf("%s/%s.xml", dir, *c);
                _cleanup_free_ char *why = NULL, *got = NULL, *want = NULL;
                struct golden g = {0};
                vmenv_error err = VMENV_ERROR_INIT;

                if (parse_spec(spec_path, &g, &why) < 0) {
                        ok(0, "%s: spec parses", *c);
                        printf("#   %s\n", why);
                        vmenv_strv_free(g.strings);
                        continue;
                }
                got = vmenv_libvirt_domain_xml(&g.s, &g.h, &err);
                if (!ok(got != NULL, "%s: renders", *c)) {
                        printf("#   %s\n", err.msg);
                        vmenv_error_clear(&err);
                        vmenv_strv_free(g.strings);
                        continue;
                }
                if (regen && vmenv_write_file_atomic(xml_path, got, strlen(got), 0644, &err) < 0) {
                        printf("#   %s\n", err.msg);
                        vmenv_error_clear(&err);
                }
                if (vmenv_read_file(xml_path, 1 << 20, &want, NULL, &err) < 0) {
                        printf("#   %s (VMENV_REGENERATE=1 writes it)\n", err.msg);
                        vmenv_error_clear(&err);
                }
                is_str(got, want, *c);
                if (test_conn && want && g.h.libvirt_version > libvirt_version) {
                        ok(1, "%s: libvirt's parser and schema accept it # SKIP needs libvirt %lu",
                           *c, g.h.libvirt_version);
                } else if (test_conn && want) {
                        if (!ok(vmenv_libvirt_define_xml(test_conn, g.s.name, want, &err) == 0,
                                "%s: libvirt's parser and schema accept it", *c))
                                printf("#   %s\n", err.msg);
                        vmenv_error_clear(&err);
                        if (vmenv_provider_libvirt.undefine(test_conn, g.s.name, &err) < 0)
                                vmenv_error_clear(&err);
                }
                vmenv_strv_free(g.strings);
        }
        vmenv_strv_free(cases);
}

/* A valid base spec that each bad case changes in one place. */
static struct vmenv_disk_spec base_disk = {"/pool/disk.qcow2", "qcow2"};

static void base_spec(struct vmenv_domain_spec *s, struct vmenv_port_map *ports, size_t n_ports)
{
        *s = (struct vmenv_domain_spec){
            .name = "vmenv-bad",
            .memory = 512u << 20,
            .cpus = 1,
            .disks = &base_disk,
            .n_disks = 1,
            .ports = ports,
            .n_ports = n_ports,
        };
}

/* Case i of bad[] below: one wrong field each. */
static void change(size_t i, struct vmenv_domain_spec *s)
{
        static struct vmenv_disk_spec vmdk = {"/pool/disk.vmdk", "vmdk"};
        static struct vmenv_disk_spec esc_disk = {"/pool/\033[31mred.qcow2", "qcow2"};
        static struct vmenv_fs_spec nfs = {"/src", "src", "nfs", false};
        static struct vmenv_nic_spec bad_mac = {"vmenv-p-private-01020304", "52:54:00:12:34:5G"};
        static struct vmenv_nic_spec multicast = {"vmenv-p-private-01020304", "01:00:5e:00:00:01"};
        switch (i) {
        case 0:
                s->memory = 1000;
                break;
        case 1:
                s->cpus = 0;
                break;
        case 2:
                s->network = "bridge";
                break;
        case 3:
                s->network = "nat";
                break;
        case 4:
                s->graphics = "rdp";
                break;
        case 5:
                s->cpu_mode = "host-model' foo='";
                break;
        case 6:
                s->initrd = "/boot/initrd";
                break;
        case 7:
                s->machine_type = "pc-i440fx-7.2";
                break;
        case 8:
                s->name = "";
                break;
        case 9:
                s->disks = &vmdk;
                break;
        case 10:
                s->fs = &nfs;
                s->n_fs = 1;
                break;
        case 11:
                s->title = "vmenv: a\nb";
                break;
        case 12:
                s->disks = &esc_disk;
                break;
        case 13:
                s->nics = &bad_mac;
                s->n_nics = 1;
                break;
        case 14:
                s->nics = &multicast;
                s->n_nics = 1;
                break;
        }
}

static void bad_cases(void)
{
        static const struct {
                const char *what;
                struct vmenv_port_map port;
                const char *want; /* substring of the error */
        } bad_ports[] = {
            {"host port 0", {"127.0.0.1", 0, 22, "tcp"}, "host port 0 is out of range"},
            {"host port 65536", {"127.0.0.1", 65536, 22, "tcp"}, "out of range"},
            {"guest port -1", {"127.0.0.1", 2222, -1, "tcp"}, "guest port -1"},
            {"protocol sctp", {"127.0.0.1", 2222, 22, "sctp"}, "unknown protocol 'sctp'"},
            {"host_ip a name", {"localhost", 2222, 22, "tcp"}, "'localhost'"},
            {"host_ip with a comma (option injection)",
             {"127.0.0.1,hostfwd=tcp::1-:1", 2222, 22, "tcp"},
             "is not an IPv4 address"},
            {"host_ip IPv6 without passt", {"::1", 2222, 22, "tcp"}, "not an IPv4"},
            {"host_ip empty", {"", 2222, 22, "tcp"}, "is not an IP"},
        };
        for (size_t i = 0; i < VMENV_ARRAY_SIZE(bad_ports); i++) {
                struct vmenv_port_map p = bad_ports[i].port;
                struct vmenv_domain_spec s;
                vmenv_error err = VMENV_ERROR_INIT;
                char *xml;

                base_spec(&s, &p, 1);
                xml = vmenv_libvirt_domain_xml(&s, NULL, &err);
                ok(!xml && err.code == VMENV_EXIT_CONFIG && err.msg &&
                       strstr(err.msg, bad_ports[i].want),
                   "refused: %s", bad_ports[i].what);
                if (xml || !err.msg || !strstr(err.msg, bad_ports[i].want))
                        printf("#   got: %s\n", err.msg ? err.msg : "(rendered)");
                free(xml);
                vmenv_error_clear(&err);
        }

        {
                struct vmenv_port_map two[] = {{NULL, 2222, 22, NULL},
                                               {"127.0.0.1", 2222, 80, "tcp"}};
                struct vmenv_domain_spec s;
                vmenv_error err = VMENV_ERROR_INIT;
                char *xml;
                base_spec(&s, two, 2);
                xml = vmenv_libvirt_domain_xml(&s, NULL, &err);
                ok(!xml && err.msg && strstr(err.msg, "forwarded twice"),
                   "refused: same host port twice");
                free(xml);
                vmenv_error_clear(&err);
                two[1].protocol = "udp";
                xml = vmenv_libvirt_domain_xml(&s, NULL, &err);
                ok(xml != NULL, "the same port number over tcp and udp is fine");
                free(xml);
                vmenv_error_clear(&err);
        }
        {
                struct vmenv_port_map v6 = {"::1", 2222, 22, "tcp"};
                struct vmenv_host_info h = {.libvirt_version = 9002000, .passt = true};
                struct vmenv_domain_spec s;
                vmenv_error err = VMENV_ERROR_INIT;
                char *xml;
                base_spec(&s, &v6, 1);
                xml = vmenv_libvirt_domain_xml(&s, &h, &err);
                ok(xml && strstr(xml, "address='::1'"), "IPv6 host_ip works with passt");
                free(xml);
                vmenv_error_clear(&err);
        }

        static const struct {
                const char *what, *want;
        } bad[] = {
            {"memory below 1 MiB", "less than 1 MiB"},
            {"zero cpus", "cpus 0"},
            {"unknown network mode", "unknown network mode 'bridge'"},
            {"nat without a network", "needs a libvirt network"},
            {"unknown graphics", "unknown graphics 'rdp'"},
            {"unknown cpu mode", "unknown cpu mode"},
            {"initrd without kernel", "needs a kernel"},
            {"pc machine with commandline networking", "needs a q35"},
            {"no name", "name is missing"},
            {"unknown disk format", "unknown disk format 'vmdk'"},
            {"unknown shared folder type", "unknown shared folder type 'nfs'"},
            {"a line break in the title", "title contains a control character (0x0a)"},
            {"an escape in a disk path", "disk path contains a control character (0x1b)"},
            {"a private network NIC with a bad MAC", "needs a network and a MAC"},
            {"a private network NIC with a multicast MAC", "needs a network and a MAC"},
        };
        for (size_t i = 0; i < VMENV_ARRAY_SIZE(bad); i++) {
                struct vmenv_port_map p = {NULL, 2222, 22, NULL};
                struct vmenv_domain_spec s;
                vmenv_error err = VMENV_ERROR_INIT;
                char *xml;
                base_spec(&s, &p, 1);
                change(i, &s);
                xml = vmenv_libvirt_domain_xml(&s, NULL, &err);
                ok(!xml && err.msg && strstr(err.msg, bad[i].want), "refused: %s", bad[i].what);
                if (xml || !err.msg || !strstr(err.msg, bad[i].want))
                        printf("#   got: %s\n", err.msg ? err.msg : "(rendered)");
                free(xml);
                vmenv_error_clear(&err);
        }
        {
                _cleanup_free_ char *long_title = vmenv_malloc(5000);
                struct vmenv_port_map p = {NULL, 2222, 22, NULL};
                struct vmenv_domain_spec s;
                vmenv_error err = VMENV_ERROR_INIT;
                char *xml;
                memset(long_title, 'x', 4999);
                long_title[4999] = '\0';
                base_spec(&s, &p, 1);
                s.title = long_title;
                xml = vmenv_libvirt_domain_xml(&s, NULL, &err);
                ok(!xml && err.msg && strstr(err.msg, "title is longer"),
                   "refused: a 5000-byte title");
                free(xml);
                vmenv_error_clear(&err);
        }
}

static void escapes(void)
{
        _cleanup_free_ char *a = vmenv_libvirt_qemu_opt_escape("a,b,,c");
        _cleanup_free_ char *b = vmenv_libvirt_qemu_opt_escape("");
        is_str(a, "a,,b,,,,c", "QEMU option escape doubles commas");
        is_str(b, "", "QEMU option escape of an empty value");
}

int main(void)
{
        const char *src = getenv("VMENV_SRCDIR");
        _cleanup_free_ char *dir = vmenv_path_join(src ? src : ".", "tests/golden");
        vmenv_error err = VMENV_ERROR_INIT;
        struct vmenv_host_info h = {0};
        struct vmenv_provider *test_conn = vmenv_provider_libvirt.open("test:///default", &err);

        if (!ok(test_conn != NULL, "test:///default opens"))
                printf("#   %s\n", err.msg);
        vmenv_error_clear(&err);
        if (test_conn && vmenv_provider_libvirt.host_info(test_conn, &h, &err) < 0) {
                printf("#   %s\n", err.msg);
                vmenv_error_clear(&err);
        }
        golden_cases(dir, test_conn, h.libvirt_version);
        vmenv_host_info_clear(&h);
        bad_cases();
        escapes();
        if (test_conn)
                vmenv_provider_libvirt.close(test_conn);
        return done_testing();
}
