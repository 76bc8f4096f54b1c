/* The libvirt provider: connection, host information, domain lifecycle, and
 * the operation table. Storage lives in storage.c, XML rendering in
 * domain-xml.c. Only this folder includes <libvirt/libvirt.h>. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "console-log.h"
#include "domain-diag.h"
#include "domain-xml.h"
#include "kvm-check.h"
#include "libvirt-private.h"
#include "network.h"
#include "privnet.h"
#include "snapshot.h"
#include "vmenv/cleanup.h"
#include "vmenv/log.h"
#include "vmenv/state.h"
#include "vmenv/util.h"

const char *vmenv_vm_state_name(enum vmenv_vm_state s)
{
        switch (s) {
        case VMENV_VM_NOT_CREATED:
                return "not created";
        case VMENV_VM_RUNNING:
                return "running";
        case VMENV_VM_PAUSED:
                return "paused";
        case VMENV_VM_SHUTOFF:
                return "shutoff";
        case VMENV_VM_SHUTTING_DOWN:
                return "shutting down";
        case VMENV_VM_CRASHED:
                return "crashed";
        case VMENV_VM_OTHER:
                break;
        }
        return "other";
}

void vmenv_host_info_clear(struct vmenv_host_info *h)
{
        if (!h)
                return;
        free(h->hypervisor);
        free(h->accel_reason);
        *h = (struct vmenv_host_info){0};
}

/* libvirt prints every error to stderr by default; vmenv reports errors once,
 * from main(), so the default handler is replaced by one that does nothing. */
static void silent_error_handler(void *opaque, virErrorPtr e)
{
        (void)opaque;
        (void)e;
}

bool vmenv_libvirt_last_error_is(int code)
{
        virErrorPtr e = virGetLastError();
        return e && e->code == code;
}

static bool contains(const char *s, const char *needle)
{
        return s && strstr(s, needle);
}

/* QEMU's own words inside libvirt's "internal error: qemu unexpectedly
 * closed the monitor: <timestamp> qemu-system-x86_64: <message>" (or
 * "process exited while connecting to monitor: …"), or NULL. */
static const char *qemu_message(const char *msg)
{
        const char *a = strstr(msg, "qemu unexpectedly closed the monitor: "), *b;
        if (!a)
                a = strstr(msg, "process exited while connecting to monitor: ");
        if (!a || !(a = strstr(a, " qemu-system-")) || !(b = strstr(a + 1, ": ")))
                return NULL;
        return b + 2;
}

bool vmenv_libvirt_forward_taken(const char *msg, struct vmenv_port_taken *out)
{
        static const char rule[] = "Could not set up host forwarding rule";
        const char *r = msg ? strstr(msg, rule) : NULL, *end, *dash, *colon;
        struct vmenv_port_taken t = {0};
        long port = 0;

        if (!r)
                return false;
        /* 'PROTO:HOSTIP:HOSTPORT-GUESTIP:GUESTPORT', the hostfwd= value */
        r += strlen(rule);
        if (*r == ' ' && r[1] == '\'' && (end = strchr(r + 2, '\''))) {
                r += 2;
                t.udp = !strncmp(r, "udp:", 4);
                dash = memchr(r, '-', (size_t)(end - r));
                for (colon = dash; colon && colon > r && colon[-1] != ':'; colon--)
                        ;
                if (dash && colon && colon > r && colon < dash && dash - colon <= 5) {
                        for (const char *c = colon; c < dash && port >= 0; c++)
                                port = *c >= '0' && *c <= '9' ? port * 10 + (*c - '0') : -1;
                        if (port > 0 && port <= 65535)
                                t.host_port = (int)port;
                }
        }
        if (out)
                *out = t;
        return true;
}

int vmenv_libvirt_error(vmenv_error *err, const char *fmt, ...)
{
        virErrorPtr e = virGetLastError();
        _cleanup_free_ char *what = NULL;
        const char *msg = e && e->message ? e->message : "unknown libvirt error";
        int code = VMENV_EXIT_FAILURE;
        const char *hint = NULL, *qemu;
        va_list ap;

        va_start(ap, fmt);
        what = vmenv_vstrdupf(fmt, ap);
        va_end(ap);

        if (e) {
                bool rpc = e->domain == VIR_FROM_RPC || e->code == VIR_ERR_NO_CONNECT;
                switch (e->code) {
                case VIR_ERR_NO_DOMAIN:
                case VIR_ERR_NO_STORAGE_POOL:
                case VIR_ERR_NO_STORAGE_VOL:
                case VIR_ERR_NO_NETWORK:
                        code = VMENV_EXIT_NOINPUT;
                        break;
                case VIR_ERR_AUTH_FAILED:
                case VIR_ERR_AUTH_CANCELLED:
                case VIR_ERR_AUTH_UNAVAILABLE:
                case VIR_ERR_ACCESS_DENIED:
                        code = VMENV_EXIT_NOPERM;
                        hint = "join the group 'libvirt', or use qemu:///session";
                        break;
                case VIR_ERR_XML_ERROR:
                case VIR_ERR_XML_DETAIL:
                case VIR_ERR_XML_INVALID_SCHEMA:
                        code = VMENV_EXIT_SOFTWARE;
                        break;
                case VIR_ERR_NO_SUPPORT:
                case VIR_ERR_CONFIG_UNSUPPORTED:
                        code = VMENV_EXIT_UNAVAILABLE;
                        if (contains(msg, "kvm"))
                                hint = "this host offers no KVM; let vmenv use TCG (kvm: false)";
                        break;
                default:
                        break;
                }
                if (rpc && contains(msg, "ssh")) {
                        code = VMENV_EXIT_UNAVAILABLE;
                        hint = "check that the host is reachable with ssh and runs libvirtd";
                } else if (rpc && (e->int1 == ENOENT || e->int1 == ECONNREFUSED ||
                                   contains(msg, "No such file or directory") ||
                                   contains(msg, "Connection refused"))) {
                        code = VMENV_EXIT_UNAVAILABLE;
                        hint = "start the libvirt daemon ('libvirtd -d', or 'systemctl start "
                               "libvirtd')";
                } else if (rpc && (e->int1 == EACCES || e->int1 == EPERM ||
                                   contains(msg, "Permission denied"))) {
                        code = VMENV_EXIT_NOPERM;
                        hint =
                            "join the group 'libvirt' (then log in again), or use qemu:///session";
                } else if (contains(msg, "system bus") || contains(msg, "polkit")) {
                        /* Without group access, libvirtd asks polkit over
                         * D-Bus, which hosts without systemd do not run. */
                        code = VMENV_EXIT_NOPERM;
                        hint =
                            "join the group 'libvirt' (then log in again), or use qemu:///session";
                } else if (contains(msg, "Cannot access storage file") &&
                           contains(msg, "Permission denied")) {
                        code = VMENV_EXIT_NOPERM;
                        hint = "QEMU runs as its own user (libvirt-qemu under qemu:///system): "
                               "every folder above the file must be searchable by it (chmod o+x)";
                } else if (e->code == VIR_ERR_NO_CONNECT) {
                        code = VMENV_EXIT_UNAVAILABLE;
                        hint = "check the URI; the libvirt driver for it may not be installed";
                } else if (contains(msg, "Cannot find QEMU binary") ||
                           contains(msg, "Cannot check QEMU binary") ||
                           (contains(msg, "emulator") && contains(msg, "No such file"))) {
                        code = VMENV_EXIT_UNAVAILABLE;
                        hint = "install QEMU ('apt-get install qemu-system-x86')";
                } else if (vmenv_libvirt_forward_taken(msg, NULL) ||
                           contains(msg, "Address already in use")) {
                        hint = "another program uses a forwarded host port; free it or pick "
                               "another port";
                } else if (contains(msg, "virtiofsd")) {
                        code = VMENV_EXIT_UNAVAILABLE;
                        hint = "install virtiofsd, or use a 9p or rsync synced folder";
                }
        }
        if ((qemu = qemu_message(msg)))
                vmenv_error_set(err, code, "%s: QEMU exited: %s", what, qemu);
        else
                vmenv_error_set(err, code, "%s: %s", what, msg);
        if (hint)
                vmenv_error_hint(err, "%s", hint);
        return -1;
}

static char *default_uri(void)
{
        const char *v = getenv("VMENV_LIBVIRT_URI");
        if (v && *v)
                return vmenv_strdup(v);
        return vmenv_strdup(geteuid() == 0 ? "qemu:///system" : "qemu:///session");
}

static void provider_close(struct vmenv_provider *p)
{
        if (!p)
                return;
        vmenv_libvirt_kvm_check_wait(p);
        if (p->conn)
                virConnectClose(p->conn);
        free(p->uri);
        free(p->kvm_reason);
        free(p->kvm_keys);
        pthread_mutex_destroy(&p->kvm_lock);
        free(p->owner);
        free(p->client);
        free(p);
}

static struct vmenv_provider *provider_open(const char *uri, vmenv_error *err)
{
        _cleanup_free_ char *want = uri ? vmenv_strdup(uri) : default_uri();
        struct vmenv_provider *p;
        char *actual;

        virSetErrorFunc(NULL, silent_error_handler);
        if (virInitialize() < 0) {
                vmenv_libvirt_error(err, "cannot initialise libvirt");
                return NULL;
        }
        p = vmenv_calloc(1, sizeof(*p));
        pthread_mutex_init(&p->kvm_lock, NULL);
        vmenv_debug("connecting to %s", want);
        if (!(p->conn = virConnectOpen(want))) {
                vmenv_libvirt_error(err, "cannot connect to '%s'", want);
                provider_close(p);
                return NULL;
        }
        actual = virConnectGetURI(p->conn);
        p->uri = vmenv_strdup(actual ? actual : want);
        free(actual);
        /* Names and ownership marks (client-id.c) are decided from the URI
         * as given, before any connection: an alias in libvirt.conf
         * (uri_aliases) for a remote host would be classed as this host's
         * and its machines named and marked as local ones. */
        if (!vmenv_uri_remote(want) && vmenv_uri_remote(p->uri)) {
                vmenv_error_set(err, VMENV_EXIT_USAGE,
                                "'%s' is a libvirt alias of the remote URI '%s', which vmenv "
                                "cannot tell from the name",
                                want, p->uri);
                vmenv_error_hint(err,
                                 "give the URI itself: --connect '%s' (or libvirt.uri, "
                                 "VMENV_LIBVIRT_URI)",
                                 p->uri);
                provider_close(p);
                return NULL;
        }
        p->session = strstr(p->uri, "/session") != NULL;
        return p;
}

static const char *provider_uri(struct vmenv_provider *p)
{
        return p->uri;
}

bool vmenv_libvirt_uri_is_local(const char *uri)
{
        return !vmenv_uri_remote(uri);
}

/* The passt binary on this machine's PATH. Meaningful for local URIs only:
 * for a remote hypervisor we cannot look, and say no. */
static bool have_passt(const char *uri)
{
        const char *path = getenv("PATH");
        _cleanup_free_ char *copy = NULL;
        char *save = NULL;

        if (!vmenv_libvirt_uri_is_local(uri))
                return false;
        copy = vmenv_strdup(path && *path ? path : "/usr/bin:/bin");
        for (char *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
                _cleanup_free_ char *f = vmenv_path_join(dir, "passt");
                if (access(f, X_OK) == 0)
                        return true;
        }
        return false;
}

/* The emulator of x86_64 guests in the capabilities (the first one listed
 * may be qemu-system-i386), or NULL. */
char *vmenv_libvirt_caps_emulator(const char *caps)
{
        const char *a = strstr(caps, "<arch name='x86_64'>"), *b;
        if (!a || !(a = strstr(a, "<emulator>")))
                return NULL;
        a += strlen("<emulator>");
        if (!(b = strstr(a, "</emulator>")) || b - a > 4096)
                return NULL;
        return vmenv_strndup(a, (size_t)(b - a));
}

static int provider_host_info(struct vmenv_provider *p, struct vmenv_host_info *out,
                              vmenv_error *err)
{
        struct vmenv_host_info h = {0};
        unsigned long hv = 0;
        const char *type;
        char *caps;

        if (virConnectGetLibVersion(p->conn, &h.libvirt_version) < 0)
                return vmenv_libvirt_error(err, "cannot read the libvirt version of '%s'", p->uri);
        type = virConnectGetType(p->conn);
        if (virConnectGetVersion(p->conn, &hv) < 0)
                return vmenv_libvirt_error(err, "cannot read the hypervisor version of '%s'",
                                           p->uri);
        h.hypervisor = vmenv_strdupf("%s %lu.%lu.%lu", type ? type : "unknown", hv / 1000000,
                                     hv / 1000 % 1000, hv % 1000);
        /* The capabilities list a <domain type='kvm'> guest only when the
         * daemon can open /dev/kvm. */
        if (!(caps = virConnectGetCapabilities(p->conn))) {
                vmenv_host_info_clear(&h);
                return vmenv_libvirt_error(err, "cannot read the capabilities of '%s'", p->uri);
        }
        if (vmenv_libvirt_accel(p, caps, &h, err) < 0) {
                free(caps);
                vmenv_host_info_clear(&h);
                return -1;
        }
        free(caps);
        h.passt = h.libvirt_version >= VMENV_LIBVIRT_PASST_VERSION && have_passt(p->uri);
        *out = h;
        return 0;
}

virDomainPtr vmenv_libvirt_domain_lookup(struct vmenv_provider *p, const char *name,
                                         vmenv_error *err)
{
        virDomainPtr d = virDomainLookupByName(p->conn, name);
        if (!d) {
                if (vmenv_libvirt_last_error_is(VIR_ERR_NO_DOMAIN)) {
                        vmenv_error_set(err, VMENV_EXIT_NOINPUT, "domain '%s' is not defined",
                                        name);
                        vmenv_error_hint(err, "run 'vmenv up' to create it");
                } else {
                        vmenv_libvirt_error(err, "cannot look up domain '%s'", name);
                }
        }
        return d;
}

int vmenv_libvirt_define_xml(struct vmenv_provider *p, const char *name, const char *xml,
                             vmenv_error *err)
{
        _cleanup_domain_ virDomainPtr d = NULL;

        vmenv_debug("domain XML of '%s':\n%s", name, xml);
        if (!(d = virDomainDefineXMLFlags(p->conn, xml, VIR_DOMAIN_DEFINE_VALIDATE)))
                return vmenv_libvirt_error(err, "cannot define domain '%s'", name);
        return 0;
}

static int provider_define(struct vmenv_provider *p, const struct vmenv_domain_spec *spec,
                           vmenv_error *err)
{
        struct vmenv_domain_spec s = *spec;
        struct vmenv_host_info h = {0};
        char uuid[VIR_UUID_STRING_BUFLEN];
        _cleanup_free_ char *xml = NULL;
        _cleanup_domain_ virDomainPtr old = NULL;

        /* the mark the ownership check of this connection asks for */
        if (!s.client)
                s.client = p->client;
        /* Redefining keeps the domain's identity: without a UUID in the XML
         * libvirt would invent a new one and refuse the name as taken. */
        if ((old = virDomainLookupByName(p->conn, s.name)) &&
            vmenv_libvirt_check_owner(p, old, s.name, err) < 0)
                return -1;
        if (!s.uuid && old) {
                if (virDomainGetUUIDString(old, uuid) < 0)
                        return vmenv_libvirt_error(err, "cannot read the UUID of domain '%s'",
                                                   s.name);
                s.uuid = uuid;
        }
        if (provider_host_info(p, &h, err) < 0)
                return vmenv_error_prefix(err, "cannot define domain '%s'", s.name);
        /* Test hook: "KVM" domains run under TCG through the wrapper that
         * makes them stop the way a broken KVM does. */
        if (s.kvm && vmenv_libvirt_test_kvm_wrapper()) {
                s.kvm = false;
                s.emulator = vmenv_libvirt_test_kvm_wrapper();
                h.kvm = false;
        }
        xml = vmenv_libvirt_domain_xml(&s, &h, err);
        vmenv_host_info_clear(&h);
        if (!xml)
                return vmenv_error_prefix(err, "cannot define domain '%s'", s.name);
        return vmenv_libvirt_define_xml(p, s.name, xml, err);
}

enum vmenv_vm_state vmenv_libvirt_map_state(int st)
{
        switch (st) {
        case VIR_DOMAIN_RUNNING:
        case VIR_DOMAIN_BLOCKED:
                return VMENV_VM_RUNNING;
        case VIR_DOMAIN_PAUSED:
        case VIR_DOMAIN_PMSUSPENDED:
                return VMENV_VM_PAUSED;
        case VIR_DOMAIN_SHUTDOWN:
                return VMENV_VM_SHUTTING_DOWN;
        case VIR_DOMAIN_SHUTOFF:
                return VMENV_VM_SHUTOFF;
        case VIR_DOMAIN_CRASHED:
                return VMENV_VM_CRASHED;
        default:
                return VMENV_VM_OTHER;
        }
}

static int domain_state(virDomainPtr d, const char *name, enum vmenv_vm_state *out,
                        vmenv_error *err)
{
        int st, reason;
        if (virDomainGetState(d, &st, &reason, 0) < 0)
                return vmenv_libvirt_error(err, "cannot read the state of domain '%s'", name);
        *out = vmenv_libvirt_map_state(st);
        return 0;
}

static int provider_state(struct vmenv_provider *p, const char *name, enum vmenv_vm_state *out,
                          vmenv_error *err)
{
        _cleanup_domain_ virDomainPtr d = virDomainLookupByName(p->conn, name);
        if (!d) {
                if (vmenv_libvirt_last_error_is(VIR_ERR_NO_DOMAIN)) {
                        *out = VMENV_VM_NOT_CREATED;
                        return 0;
                }
                return vmenv_libvirt_error(err, "cannot look up domain '%s'", name);
        }
        return domain_state(d, name, out, err);
}

/* Starting a running domain is done already. */
static int provider_start(struct vmenv_provider *p, const char *name,
                          struct vmenv_port_taken *taken, vmenv_error *err)
{
        _cleanup_domain_ virDomainPtr d = vmenv_libvirt_domain_owned(p, name, err);
        int active;

        if (!d)
                return -1;
        if ((active = virDomainIsActive(d)) < 0)
                return vmenv_libvirt_error(err, "cannot start domain '%s'", name);
        if (active)
                return 0;
        if (virDomainCreate(d) < 0) {
                virErrorPtr e = virGetLastError();
                struct vmenv_port_taken t;
                bool port = e && vmenv_libvirt_forward_taken(e->message, &t);
                vmenv_libvirt_error(err, "cannot start domain '%s'", name);
                if (!port)
                        return -1;
                if (taken)
                        *taken = t;
                return VMENV_START_PORT_TAKEN;
        }
        return 0;
}

/* Asks the guest to power off through ACPI; an inactive domain is done. */
static int provider_shutdown(struct vmenv_provider *p, const char *name, vmenv_error *err)
{
        _cleanup_domain_ virDomainPtr d = vmenv_libvirt_domain_owned(p, name, err);
        int active;

        if (!d)
                return -1;
        if ((active = virDomainIsActive(d)) < 0)
                return vmenv_libvirt_error(err, "cannot shut down domain '%s'", name);
        if (!active)
                return 0;
        if (virDomainShutdown(d) < 0)
                return vmenv_libvirt_error(err, "cannot shut down domain '%s'", name);
        return 0;
}

static int provider_poweroff(struct vmenv_provider *p, const char *name, vmenv_error *err)
{
        _cleanup_domain_ virDomainPtr d = vmenv_libvirt_domain_owned(p, name, err);
        int active;

        if (!d)
                return -1;
        if ((active = virDomainIsActive(d)) < 0)
                return vmenv_libvirt_error(err, "cannot power off domain '%s'", name);
        if (!active)
                return 0;
        /* Stopped between our check and the call: still success. */
        if (virDomainDestroy(d) < 0 && !vmenv_libvirt_last_error_is(VIR_ERR_OPERATION_INVALID))
                return vmenv_libvirt_error(err, "cannot power off domain '%s'", name);
        return 0;
}

static int provider_suspend(struct vmenv_provider *p, const char *name, vmenv_error *err)
{
        _cleanup_domain_ virDomainPtr d = vmenv_libvirt_domain_owned(p, name, err);
        enum vmenv_vm_state st = VMENV_VM_OTHER;

        if (!d || domain_state(d, name, &st, err) < 0)
                return -1;
        if (st == VMENV_VM_PAUSED)
                return 0;
        if (st != VMENV_VM_RUNNING)
                return vmenv_error_set(err, VMENV_EXIT_FAILURE,
                                       "cannot suspend domain '%s': it is %s", name,
                                       vmenv_vm_state_name(st));
        if (virDomainSuspend(d) < 0)
                return vmenv_libvirt_error(err, "cannot suspend domain '%s'", name);
        return 0;
}

static int provider_resume(struct vmenv_provider *p, const char *name, vmenv_error *err)
{
        _cleanup_domain_ virDomainPtr d = vmenv_libvirt_domain_owned(p, name, err);
        enum vmenv_vm_state st = VMENV_VM_OTHER;

        if (!d || domain_state(d, name, &st, err) < 0)
                return -1;
        if (st == VMENV_VM_RUNNING)
                return 0;
        if (st != VMENV_VM_PAUSED)
                return vmenv_error_set(err, VMENV_EXIT_FAILURE,
                                       "cannot resume domain '%s': it is %s", name,
                                       vmenv_vm_state_name(st));
        if (virDomainResume(d) < 0)
                return vmenv_libvirt_error(err, "cannot resume domain '%s'", name);
        return 0;
}

static int provider_undefine(struct vmenv_provider *p, const char *name, vmenv_error *err)
{
        _cleanup_domain_ virDomainPtr d = virDomainLookupByName(p->conn, name);
        unsigned flags = VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA |
                         VIR_DOMAIN_UNDEFINE_NVRAM | VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA;
        int active;

        if (!d) {
                if (vmenv_libvirt_last_error_is(VIR_ERR_NO_DOMAIN))
                        return 0;
                return vmenv_libvirt_error(err, "cannot look up domain '%s'", name);
        }
        if (vmenv_libvirt_check_owner(p, d, name, err) < 0)
                return -1;
        if ((active = virDomainIsActive(d)) < 0)
                return vmenv_libvirt_error(err, "cannot undefine domain '%s'", name);
        if (active && virDomainDestroy(d) < 0 &&
            !vmenv_libvirt_last_error_is(VIR_ERR_OPERATION_INVALID))
                return vmenv_libvirt_error(err, "cannot stop domain '%s'", name);
        if (virDomainUndefineFlags(d, flags) == 0)
                return 0;
        /* An older remote daemon may not know every flag. */
        if (!vmenv_libvirt_last_error_is(VIR_ERR_INVALID_ARG) &&
            !vmenv_libvirt_last_error_is(VIR_ERR_NO_SUPPORT))
                return vmenv_libvirt_error(err, "cannot undefine domain '%s'", name);
        if (virDomainUndefine(d) < 0)
                return vmenv_libvirt_error(err, "cannot undefine domain '%s'", name);
        return 0;
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static int provider_list(struct vmenv_provider *p, const char *prefix, char ***names,
                         vmenv_error *err)
{
        virDomainPtr *doms = NULL;
        char **v = vmenv_calloc(1, sizeof(char *));
        int n = virConnectListAllDomains(p->conn, &doms, 0);

        if (n < 0) {
                free(v);
                return vmenv_libvirt_error(err, "cannot list domains of '%s'", p->uri);
        }
        for (int i = 0; i < n; i++) {
                const char *name = virDomainGetName(doms[i]);
                if (name && vmenv_startswith(name, prefix ? prefix : ""))
                        vmenv_strv_push(&v, vmenv_strdup(name));
                virDomainFree(doms[i]);
        }
        free(doms);
        qsort(v, vmenv_strv_len(v), sizeof(char *), cmp_str);
        *names = v;
        return 0;
}

const struct vmenv_provider_ops vmenv_provider_libvirt = {
    .name = "libvirt",
    .open = provider_open,
    .close = provider_close,
    .host_info = provider_host_info,
    .kvm_mark_broken = vmenv_libvirt_kvm_mark_broken,
    .image_ensure = vmenv_libvirt_image_ensure,
    .overlay_create = vmenv_libvirt_overlay_create,
    .volume_delete = vmenv_libvirt_volume_delete,
    .overlay_delete = vmenv_libvirt_overlay_delete,
    .volume_path = vmenv_libvirt_volume_path,
    .set_owner = vmenv_libvirt_set_owner,
    .set_client = vmenv_libvirt_set_client,
    .volume_list = vmenv_libvirt_volume_list,
    .define = provider_define,
    .start = provider_start,
    .state = provider_state,
    .state_detail = vmenv_libvirt_state_detail,
    .log_tail = vmenv_libvirt_log_tail,
    .console_log_ensure = vmenv_libvirt_console_log_ensure,
    .console_log_read = vmenv_libvirt_console_log_read,
    .console_log_remove = vmenv_libvirt_console_log_remove,
    .uri = provider_uri,
    .shutdown = provider_shutdown,
    .poweroff = provider_poweroff,
    .suspend = provider_suspend,
    .resume = provider_resume,
    .undefine = provider_undefine,
    .list = provider_list,
    .snapshot_create = vmenv_libvirt_snapshot_create,
    .snapshot_revert = vmenv_libvirt_snapshot_revert,
    .snapshot_delete = vmenv_libvirt_snapshot_delete,
    .snapshot_list = vmenv_libvirt_snapshot_list,
    .volume_export = vmenv_libvirt_volume_export,
    .network_ensure = vmenv_libvirt_network_ensure,
    .privnet_ensure = vmenv_libvirt_privnet_ensure,
    .privnet_remove_unused = vmenv_libvirt_privnet_remove_unused,
    .guest_address = vmenv_libvirt_guest_address,
};
