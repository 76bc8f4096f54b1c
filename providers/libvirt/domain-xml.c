/* Renders a libvirt domain XML from a vmenv_domain_spec. Pure: no libvirt
 * calls, no I/O, so golden tests can pin the exact bytes. Every outside value
 * goes through vmenv_xml_escape (and QEMU's ',' doubling inside
 * <qemu:commandline> values). */
#include <arpa/inet.h>
#include <inttypes.h>
#include <string.h>

#include "domain-xml.h"
#include "vmenv/cleanup.h"
#include "vmenv/util.h"

/* Limits on what the renderer accepts; libvirt and QEMU would refuse worse
 * later with less clear messages. */
#define MAX_CPUS 512
#define MAX_DISKS 20 /* vda..vdt */
#define MAX_PORTS 256
#define MAX_FS 64
#define MAX_NICS 8
#define MAX_VALUE 4096 /* any single string value */

struct render {
        struct vmenv_buf b;
        char **tmp; /* escaped copies, freed after rendering */
};

/* Escaped copy of s, owned by r until the end of rendering. */
static const char *esc(struct render *r, const char *s)
{
        char *e = vmenv_xml_escape(s ? s : "");
        vmenv_strv_push(&r->tmp, e);
        return e;
}

char *vmenv_libvirt_qemu_opt_escape(const char *s)
{
        struct vmenv_buf b = {0};
        for (; *s; s++) {
                if (*s == ',')
                        vmenv_buf_puts(&b, ",,");
                else
                        vmenv_buf_add(&b, s, 1);
        }
        return vmenv_buf_steal(&b);
}

static bool one_of(const char *s, const char *const *list)
{
        for (; *list; list++)
                if (vmenv_streq(s, *list))
                        return true;
        return false;
}

static int check_value(const char *what, const char *s, vmenv_error *err)
{
        if (!s)
                return 0;
        if (strlen(s) > MAX_VALUE)
                return vmenv_error_set(err, VMENV_EXIT_CONFIG, "%s is longer than %d bytes", what,
                                       MAX_VALUE);
        /* XML 1.0 cannot carry control characters, escaped or not, and
         * libvirt refuses a title with a line break. */
        for (const unsigned char *c = (const unsigned char *)s; *c; c++)
                if (*c < 0x20 || *c == 0x7f)
                        return vmenv_error_set(err, VMENV_EXIT_CONFIG,
                                               "%s contains a control character (0x%02x)", what,
                                               *c);
        return 0;
}

/* Validates every string of the spec for length, so no value can blow up the
 * XML (and libvirt's RPC message limit). */
static int check_lengths(const struct vmenv_domain_spec *s, vmenv_error *err)
{
        const struct {
                const char *what, *value;
        } v[] = {
            {"domain name", s->name},
            {"uuid", s->uuid},
            {"title", s->title},
            {"project dir", s->project_dir},
            {"machine name", s->machine},
            {"machine type", s->machine_type},
            {"cpu mode", s->cpu_mode},
            {"emulator", s->emulator},
            {"serial log path", s->serial_log},
            {"kernel", s->kernel},
            {"initrd", s->initrd},
            {"kernel command line", s->cmdline},
            {"network", s->network},
            {"nat network", s->nat_network},
            {"video", s->video},
            {"graphics", s->graphics},
        };
        for (size_t i = 0; i < VMENV_ARRAY_SIZE(v); i++)
                if (check_value(v[i].what, v[i].value, err) < 0)
                        return -1;
        for (size_t i = 0; i < s->n_disks; i++)
                if (check_value("disk path", s->disks[i].path, err) < 0)
                        return -1;
        if (check_value("seed image path", s->seed_iso, err) < 0)
                return -1;
        for (size_t i = 0; i < s->n_fs; i++)
                if (check_value("shared folder path", s->fs[i].host_path, err) < 0 ||
                    check_value("shared folder tag", s->fs[i].tag, err) < 0)
                        return -1;
        return 0;
}

static bool is_ipv4(const char *s)
{
        struct in_addr a;
        return inet_pton(AF_INET, s, &a) == 1;
}

static bool is_ipv6(const char *s)
{
        struct in6_addr a;
        return inet_pton(AF_INET6, s, &a) == 1;
}

static int check_ports(const struct vmenv_domain_spec *s, bool native, vmenv_error *err)
{
        if (s->n_ports > MAX_PORTS)
                return vmenv_error_set(err, VMENV_EXIT_CONFIG,
                                       "too many forwarded ports (%zu, the limit is %d)",
                                       s->n_ports, MAX_PORTS);
        for (size_t i = 0; i < s->n_ports; i++) {
                const struct vmenv_port_map *p = &s->ports[i];
                const char *ip = p->host_ip ? p->host_ip : "127.0.0.1";
                const char *proto = p->protocol ? p->protocol : "tcp";

                if (p->host_port < 1 || p->host_port > 65535)
                        return vmenv_error_set(err, VMENV_EXIT_CONFIG,
                                               "host port %d is out of range 1-65535",
                                               p->host_port);
                if (p->guest_port < 1 || p->guest_port > 65535)
                        return vmenv_error_set(err, VMENV_EXIT_CONFIG,
                                               "guest port %d is out of range 1-65535",
                                               p->guest_port);
                if (!vmenv_streq(proto, "tcp") && !vmenv_streq(proto, "udp"))
                        return vmenv_error_set(
                            err, VMENV_EXIT_CONFIG,
                            "unknown protocol '%s' for host port %d (use tcp or udp)", proto,
                            p->host_port);
                if (!is_ipv4(ip) && !(native && is_ipv6(ip))) {
                        vmenv_error_set(err, VMENV_EXIT_CONFIG,
                                        "host_ip '%s' of host port %d is not an IP%s address", ip,
                                        p->host_port, native ? "" : "v4");
                        if (!native && is_ipv6(ip))
                                vmenv_error_hint(err,
                                                 "IPv6 forwards need libvirt >= 9.2 with passt");
                        return -1;
                }
                for (size_t j = 0; j < i; j++) {
                        const struct vmenv_port_map *q = &s->ports[j];
                        if (q->host_port == p->host_port &&
                            vmenv_streq(q->protocol ? q->protocol : "tcp", proto) &&
                            vmenv_streq(q->host_ip ? q->host_ip : "127.0.0.1", ip))
                                return vmenv_error_set(err, VMENV_EXIT_CONFIG,
                                                       "host port %s:%d/%s is forwarded twice", ip,
                                                       p->host_port, proto);
                }
        }
        return 0;
}

/* "xx:xx:xx:xx:xx:xx" in lower-case hex, not multicast. */
static bool mac_valid(const char *m)
{
        if (!m || strlen(m) != 17)
                return false;
        for (int i = 0; i < 17; i++)
                if (i % 3 == 2 ? m[i] != ':' : !strchr("0123456789abcdef", m[i]))
                        return false;
        return !(strtoul(m, NULL, 16) & 1);
}

static int validate(const struct vmenv_domain_spec *s, bool native, vmenv_error *err)
{
        static const char *const disk_formats[] = {"qcow2", "raw", NULL};
        static const char *const fs_types[] = {"9p", "virtiofs", NULL};
        static const char *const videos[] = {"none",   "virtio", "vga",   "qxl",
                                             "cirrus", "bochs",  "ramfb", NULL};
        static const char *const graphics[] = {"vnc", "spice", NULL};
        static const char *const cpu_modes[] = {"host-passthrough", "host-model", "maximum",
                                                "custom", NULL};
        const char *net = s->network ? s->network : "user";

        if (check_lengths(s, err) < 0)
                return -1;
        if (!s->name || !*s->name)
                return vmenv_error_set(err, VMENV_EXIT_SOFTWARE, "domain name is missing");
        if (s->memory < 1024 * 1024)
                return vmenv_error_set(err, VMENV_EXIT_CONFIG,
                                       "memory of '%s' is %" PRIu64 " bytes, less than 1 MiB",
                                       s->name, s->memory);
        if (s->cpus < 1 || s->cpus > MAX_CPUS)
                return vmenv_error_set(err, VMENV_EXIT_CONFIG, "cpus %d is out of range 1-%d",
                                       s->cpus, MAX_CPUS);
        if (s->cpu_mode && !one_of(s->cpu_mode, cpu_modes))
                return vmenv_error_set(
                    err, VMENV_EXIT_CONFIG,
                    "unknown cpu mode '%s' (use host-passthrough, host-model, maximum or custom)",
                    s->cpu_mode);
        if (s->n_disks > MAX_DISKS)
                return vmenv_error_set(err, VMENV_EXIT_CONFIG,
                                       "too many disks (%zu, the limit is %d)", s->n_disks,
                                       MAX_DISKS);
        for (size_t i = 0; i < s->n_disks; i++) {
                if (!s->disks[i].path || !*s->disks[i].path)
                        return vmenv_error_set(err, VMENV_EXIT_SOFTWARE, "disk %zu has no path", i);
                if (s->disks[i].format && !one_of(s->disks[i].format, disk_formats))
                        return vmenv_error_set(err, VMENV_EXIT_DATA,
                                               "unknown disk format '%s' (use qcow2 or raw)",
                                               s->disks[i].format);
        }
        if (s->n_fs > MAX_FS)
                return vmenv_error_set(err, VMENV_EXIT_CONFIG,
                                       "too many shared folders (%zu, the limit is %d)", s->n_fs,
                                       MAX_FS);
        for (size_t i = 0; i < s->n_fs; i++) {
                const struct vmenv_fs_spec *f = &s->fs[i];
                if (!f->host_path || !*f->host_path || !f->tag || !*f->tag)
                        return vmenv_error_set(err, VMENV_EXIT_CONFIG,
                                               "shared folder %zu needs a host path and a tag", i);
                if (f->type && !one_of(f->type, fs_types))
                        return vmenv_error_set(
                            err, VMENV_EXIT_CONFIG,
                            "unknown shared folder type '%s' (use 9p or virtiofs)", f->type);
        }
        if (s->video && !one_of(s->video, videos))
                return vmenv_error_set(err, VMENV_EXIT_CONFIG, "unknown video model '%s'",
                                       s->video);
        if (s->graphics && !one_of(s->graphics, graphics))
                return vmenv_error_set(err, VMENV_EXIT_CONFIG,
                                       "unknown graphics '%s' (use vnc or spice)", s->graphics);
        if ((s->initrd || s->cmdline) && !s->kernel)
                return vmenv_error_set(err, VMENV_EXIT_CONFIG,
                                       "an initrd or kernel command line needs a kernel");
        if (s->n_nics > MAX_NICS)
                return vmenv_error_set(err, VMENV_EXIT_CONFIG,
                                       "too many private networks (%zu, the limit is %d)",
                                       s->n_nics, MAX_NICS);
        if (s->mac && !mac_valid(s->mac))
                return vmenv_error_set(err, VMENV_EXIT_SOFTWARE,
                                       "the first network card's MAC '%s' is not like "
                                       "52:54:00:12:34:56",
                                       s->mac);
        for (size_t i = 0; i < s->n_nics; i++)
                if (!s->nics[i].network || !*s->nics[i].network || !mac_valid(s->nics[i].mac))
                        return vmenv_error_set(err, VMENV_EXIT_SOFTWARE,
                                               "private network %zu needs a network and a MAC "
                                               "like 52:54:00:12:34:56",
                                               i);
        if (vmenv_streq(net, "user"))
                return check_ports(s, native, err);
        if (vmenv_streq(net, "nat")) {
                if (!s->nat_network || !*s->nat_network)
                        return vmenv_error_set(err, VMENV_EXIT_SOFTWARE,
                                               "nat networking needs a libvirt network name");
                return 0;
        }
        return vmenv_error_set(err, VMENV_EXIT_CONFIG,
                               "unknown network mode '%s' (use user or nat)", net);
}

static bool needs_shared_memory(const struct vmenv_domain_spec *s)
{
        for (size_t i = 0; i < s->n_fs; i++)
                if (vmenv_streq(s->fs[i].type, "virtiofs"))
                        return true;
        return false;
}

static void render_head(struct render *r, const struct vmenv_domain_spec *s, bool cmdline_net)
{
        struct vmenv_buf *b = &r->b;

        vmenv_buf_printf(b, "<domain type='%s'%s>\n", s->kvm ? "kvm" : "qemu",
                         cmdline_net ? " xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'"
                                     : "");
        vmenv_buf_printf(b, "  <name>%s</name>\n", esc(r, s->name));
        if (s->uuid)
                vmenv_buf_printf(b, "  <uuid>%s</uuid>\n", esc(r, s->uuid));
        if (s->title)
                vmenv_buf_printf(b, "  <title>%s</title>\n", esc(r, s->title));
        if (s->project_dir || s->machine) {
                vmenv_buf_puts(b, "  <metadata>\n");
                vmenv_buf_printf(b, "    <vmenv:machine xmlns:vmenv='%s'>\n",
                                 VMENV_LIBVIRT_METADATA_NS);
                if (s->project_dir)
                        vmenv_buf_printf(b, "      <vmenv:project>%s</vmenv:project>\n",
                                         esc(r, s->project_dir));
                if (s->machine)
                        vmenv_buf_printf(b, "      <vmenv:name>%s</vmenv:name>\n",
                                         esc(r, s->machine));
                if (s->client)
                        vmenv_buf_printf(b, "      <vmenv:client>%s</vmenv:client>\n",
                                         esc(r, s->client));
                vmenv_buf_puts(b, "    </vmenv:machine>\n");
                vmenv_buf_puts(b, "  </metadata>\n");
        }
        /* Rounded up so a size that is not a whole KiB never shrinks. */
        vmenv_buf_printf(b, "  <memory unit='KiB'>%" PRIu64 "</memory>\n",
                         (s->memory + 1023) / 1024);
        if (needs_shared_memory(s))
                vmenv_buf_puts(b, "  <memoryBacking>\n"
                                  "    <source type='memfd'/>\n"
                                  "    <access mode='shared'/>\n"
                                  "  </memoryBacking>\n");
        vmenv_buf_printf(b, "  <vcpu placement='static'>%d</vcpu>\n", s->cpus);

        vmenv_buf_puts(b, "  <os>\n");
        vmenv_buf_printf(b, "    <type machine='%s'>hvm</type>\n",
                         esc(r, s->machine_type ? s->machine_type : "q35"));
        if (s->kernel) {
                vmenv_buf_printf(b, "    <kernel>%s</kernel>\n", esc(r, s->kernel));
                if (s->initrd)
                        vmenv_buf_printf(b, "    <initrd>%s</initrd>\n", esc(r, s->initrd));
                if (s->cmdline)
                        vmenv_buf_printf(b, "    <cmdline>%s</cmdline>\n", esc(r, s->cmdline));
        } else {
                vmenv_buf_puts(b, "    <boot dev='hd'/>\n");
        }
        vmenv_buf_puts(b, "  </os>\n");
        vmenv_buf_puts(b, "  <features>\n    <acpi/>\n  </features>\n");
        if (s->cpu_mode)
                vmenv_buf_printf(b, "  <cpu mode='%s'/>\n", esc(r, s->cpu_mode));
        else if (s->kvm)
                vmenv_buf_puts(b, "  <cpu mode='host-passthrough'/>\n");
        vmenv_buf_puts(b, "  <clock offset='utc'/>\n");
        vmenv_buf_puts(b, "  <on_poweroff>destroy</on_poweroff>\n"
                          "  <on_reboot>restart</on_reboot>\n"
                          "  <on_crash>destroy</on_crash>\n");
}

static void render_disks(struct render *r, const struct vmenv_domain_spec *s)
{
        for (size_t i = 0; i < s->n_disks; i++) {
                const struct vmenv_disk_spec *d = &s->disks[i];
                /* Default cache mode (writeback in the guest's view, flushes
                 * honoured) so a host crash cannot corrupt the qcow2; discard
                 * so fstrim in the guest gives space back to the host. */
                vmenv_buf_printf(&r->b,
                                 "    <disk type='file' device='disk'>\n"
                                 "      <driver name='qemu' type='%s' discard='unmap'/>\n"
                                 "      <source file='%s'/>\n"
                                 "      <target dev='vd%c' bus='virtio'/>\n"
                                 "    </disk>\n",
                                 esc(r, d->format ? d->format : "qcow2"), esc(r, d->path),
                                 (char)('a' + i));
        }
        /* The NoCloud seed on SATA (q35's built-in AHCI): a CD-ROM the guest
         * cannot write, found by its "cidata" label, not by a device name. */
        if (s->seed_iso)
                vmenv_buf_printf(&r->b,
                                 "    <disk type='file' device='cdrom'>\n"
                                 "      <driver name='qemu' type='raw'/>\n"
                                 "      <source file='%s'/>\n"
                                 "      <target dev='sda' bus='sata'/>\n"
                                 "      <readonly/>\n"
                                 "    </disk>\n",
                                 esc(r, s->seed_iso));
}

static void render_fs(struct render *r, const struct vmenv_domain_spec *s)
{
        for (size_t i = 0; i < s->n_fs; i++) {
                const struct vmenv_fs_spec *f = &s->fs[i];
                bool virtiofs = vmenv_streq(f->type, "virtiofs");

                /* 9p in 'squash' mode: files keep the host's owner and mode
                 * as the guest sees them, and a chown the QEMU user may not
                 * do is ignored instead of failing, so the guest can read
                 * and write (mapped mode would hide the host's ownership in
                 * xattrs and leave files the host user cannot read). */
                vmenv_buf_printf(&r->b, "    <filesystem type='mount'%s>\n",
                                 virtiofs ? "" : " accessmode='squash'");
                if (virtiofs)
                        vmenv_buf_puts(&r->b, "      <driver type='virtiofs'/>\n");
                vmenv_buf_printf(&r->b,
                                 "      <source dir='%s'/>\n"
                                 "      <target dir='%s'/>\n",
                                 esc(r, f->host_path), esc(r, f->tag));
                if (f->readonly)
                        vmenv_buf_puts(&r->b, "      <readonly/>\n");
                vmenv_buf_puts(&r->b, "    </filesystem>\n");
        }
}

static void render_passt(struct render *r, const struct vmenv_domain_spec *s)
{
        vmenv_buf_puts(&r->b, "    <interface type='user'>\n");
        if (s->mac)
                vmenv_buf_printf(&r->b, "      <mac address='%s'/>\n", esc(r, s->mac));
        vmenv_buf_puts(&r->b, "      <backend type='passt'/>\n");
        for (size_t i = 0; i < s->n_ports; i++) {
                const struct vmenv_port_map *p = &s->ports[i];
                vmenv_buf_printf(&r->b,
                                 "      <portForward proto='%s' address='%s'>\n"
                                 "        <range start='%d' to='%d'/>\n"
                                 "      </portForward>\n",
                                 esc(r, p->protocol ? p->protocol : "tcp"),
                                 esc(r, p->host_ip ? p->host_ip : "127.0.0.1"), p->host_port,
                                 p->guest_port);
        }
        vmenv_buf_puts(&r->b, "      <model type='virtio'/>\n"
                              "    </interface>\n");
}

/* -netdev user,... with hostfwd=PROTO:HOSTIP:HOSTPORT-:GUESTPORT per port. */
static void render_qemu_commandline(struct render *r, const struct vmenv_domain_spec *s)
{
        struct vmenv_buf opt = {0};

        vmenv_buf_puts(&opt, "user,id=vmenvnet0");
        for (size_t i = 0; i < s->n_ports; i++) {
                const struct vmenv_port_map *p = &s->ports[i];
                _cleanup_free_ char *ip =
                    vmenv_libvirt_qemu_opt_escape(p->host_ip ? p->host_ip : "127.0.0.1");
                vmenv_buf_printf(&opt, ",hostfwd=%s:%s:%d-:%d", p->protocol ? p->protocol : "tcp",
                                 ip, p->host_port, p->guest_port);
        }
        vmenv_buf_printf(
            &r->b,
            "  <qemu:commandline>\n"
            "    <qemu:arg value='-netdev'/>\n"
            "    <qemu:arg value='%s'/>\n"
            "    <qemu:arg value='-device'/>\n"
            "    <qemu:arg value='virtio-net-pci,netdev=vmenvnet0,bus=pcie.0,addr=%s%s%s'/>\n"
            "  </qemu:commandline>\n",
            esc(r, opt.data), VMENV_LIBVIRT_NET_SLOT, s->mac ? ",mac=" : "",
            s->mac ? esc(r, s->mac) : "");
        vmenv_buf_free(&opt);
}

char *vmenv_libvirt_domain_xml(const struct vmenv_domain_spec *s,
                               const struct vmenv_host_info *host, vmenv_error *err)
{
        struct render r = {0};
        const char *net = s->network ? s->network : "user";
        bool native = host && host->passt && host->libvirt_version >= VMENV_LIBVIRT_PASST_VERSION;
        bool user = vmenv_streq(net, "user");
        /* The commandline fallback puts its device on pcie.0, which only q35
         * has; other machine types get the native path or nothing. */
        bool cmdline_net = user && !native;

        if (validate(s, native, err) < 0)
                return NULL;
        if (cmdline_net && s->machine_type && !vmenv_startswith(s->machine_type, "q35") &&
            !vmenv_startswith(s->machine_type, "pc-q35")) {
                vmenv_error_set(
                    err, VMENV_EXIT_CONFIG,
                    "user networking on libvirt < 9.2 needs a q35 machine type, not '%s'",
                    s->machine_type);
                return NULL;
        }

        render_head(&r, s, cmdline_net);
        vmenv_buf_puts(&r.b, "  <devices>\n");
        if (s->emulator)
                vmenv_buf_printf(&r.b, "    <emulator>%s</emulator>\n", esc(&r, s->emulator));
        render_disks(&r, s);
        render_fs(&r, s);
        if (user && native)
                render_passt(&r, s);
        else if (!user)
                vmenv_buf_printf(&r.b,
                                 "    <interface type='network'>\n"
                                 "%s%s%s"
                                 "      <source network='%s'/>\n"
                                 "      <model type='virtio'/>\n"
                                 "    </interface>\n",
                                 s->mac ? "      <mac address='" : "",
                                 s->mac ? esc(&r, s->mac) : "", s->mac ? "'/>\n" : "",
                                 esc(&r, s->nat_network));
        for (size_t i = 0; i < s->n_nics; i++)
                vmenv_buf_printf(&r.b,
                                 "    <interface type='network'>\n"
                                 "      <mac address='%s'/>\n"
                                 "      <source network='%s'/>\n"
                                 "      <model type='virtio'/>\n"
                                 "    </interface>\n",
                                 esc(&r, s->nics[i].mac), esc(&r, s->nics[i].network));
        /* No USB controller without graphics: nothing would use it, and it
         * costs boot time under TCG. */
        if (!s->graphics)
                vmenv_buf_puts(&r.b, "    <controller type='usb' model='none'/>\n");
        vmenv_buf_puts(&r.b, "    <serial type='pty'>\n");
        if (s->serial_log)
                vmenv_buf_printf(&r.b, "      <log file='%s' append='on'/>\n",
                                 esc(&r, s->serial_log));
        vmenv_buf_puts(&r.b, "      <target port='0'/>\n"
                             "    </serial>\n"
                             "    <console type='pty'>\n"
                             "      <target type='serial' port='0'/>\n"
                             "    </console>\n");
        if (s->graphics) {
                vmenv_buf_printf(&r.b,
                                 "    <graphics type='%s' autoport='yes' listen='127.0.0.1'>\n"
                                 "      <listen type='address' address='127.0.0.1'/>\n"
                                 "    </graphics>\n",
                                 esc(&r, s->graphics));
                vmenv_buf_puts(&r.b, "    <input type='tablet' bus='usb'/>\n");
        }
        if (s->video)
                vmenv_buf_printf(&r.b, "    <video>\n      <model type='%s'/>\n    </video>\n",
                                 esc(&r, s->video));
        vmenv_buf_puts(&r.b, "    <memballoon model='virtio'/>\n"
                             "    <rng model='virtio'>\n"
                             "      <backend model='random'>/dev/urandom</backend>\n"
                             "    </rng>\n"
                             "  </devices>\n");
        if (cmdline_net)
                render_qemu_commandline(&r, s);
        vmenv_buf_puts(&r.b, "</domain>\n");

        vmenv_strv_free(r.tmp);
        return vmenv_buf_steal(&r.b);
}
