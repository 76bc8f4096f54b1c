/* What a domain is doing and why, for diagnosing a guest that stopped: its
 * state with libvirt's reason as text (the words virsh uses), and the tail
 * of its QEMU log, where QEMU writes why it stopped or exited. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "domain-diag.h"
#include "vmenv/cleanup.h"
#include "vmenv/util.h"

#define LOG_TAIL_MAX (64 * 1024)

static const char *pick(const char *const *v, size_t n, int i)
{
        return i >= 0 && (size_t)i < n && v[i] ? v[i] : "unknown";
}

#define PICK(v, i) pick(v, sizeof(v) / sizeof(v[0]), i)

/* virsh's words for each state and reason (tools/virsh-domain-monitor.c). */
char *vmenv_libvirt_state_text(int state, int reason)
{
        static const char *const running[] = {
            "unknown",       "booted",   "migrated",           "restored",
            "from snapshot", "unpaused", "migration canceled", "save canceled",
            "event wakeup",  "crashed",  "post-copy",          "post-copy failed"};
        static const char *const paused[] = {
            "unknown",   "user",        "migrating",     "saving",           "dumping",
            "I/O error", "watchdog",    "from snapshot", "shutting down",    "creating snapshot",
            "crashed",   "starting up", "post-copy",     "post-copy failed", "api error"};
        static const char *const shutdown[] = {"unknown", "user"};
        static const char *const shutoff[] = {"unknown", "shutdown",      "destroyed",
                                              "crashed", "migrated",      "saved",
                                              "failed",  "from snapshot", "daemon"};
        static const char *const crashed[] = {"unknown", "panicked"};
        const char *s, *r;

        switch (state) {
        case VIR_DOMAIN_RUNNING:
                s = "running", r = PICK(running, reason);
                break;
        case VIR_DOMAIN_BLOCKED:
                s = "idle", r = "unknown";
                break;
        case VIR_DOMAIN_PAUSED:
                s = "paused", r = PICK(paused, reason);
                break;
        case VIR_DOMAIN_SHUTDOWN:
                s = "in shutdown", r = PICK(shutdown, reason);
                break;
        case VIR_DOMAIN_SHUTOFF:
                s = "shut off", r = PICK(shutoff, reason);
                break;
        case VIR_DOMAIN_CRASHED:
                s = "crashed", r = PICK(crashed, reason);
                break;
        case VIR_DOMAIN_PMSUSPENDED:
                s = "pmsuspended", r = "unknown";
                break;
        default:
                s = "no state", r = "unknown";
                break;
        }
        return vmenv_strdupf("%s (%s)", s, r);
}

/* Where libvirt's QEMU driver writes a domain's log, if this machine is the
 * hypervisor: qemu:///system in /var/log/libvirt/qemu, qemu:///session in
 * $XDG_CACHE_HOME/libvirt/qemu/log. */
char *vmenv_libvirt_log_path(struct vmenv_provider *p, const char *name)
{
        const char *cache = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");

        if (!name || !*name || strchr(name, '/') || name[0] == '.' ||
            !vmenv_libvirt_uri_is_local(p->uri))
                return NULL;
        if (!p->session)
                return vmenv_strdupf("/var/log/libvirt/qemu/%s.log", name);
        if (cache && *cache)
                return vmenv_strdupf("%s/libvirt/qemu/log/%s.log", cache, name);
        if (home && *home)
                return vmenv_strdupf("%s/.cache/libvirt/qemu/log/%s.log", home, name);
        return NULL;
}

char *vmenv_libvirt_log_tail(struct vmenv_provider *p, const char *name, int lines)
{
        _cleanup_free_ char *path = vmenv_libvirt_log_path(p, name);
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *buf = NULL;
        struct stat st;
        size_t len = 0;
        char *start;

        if (!path || lines <= 0 || (fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0 ||
            fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
                return NULL;
        if (st.st_size > LOG_TAIL_MAX && lseek(fd, st.st_size - LOG_TAIL_MAX, SEEK_SET) < 0)
                return NULL;
        buf = vmenv_malloc(LOG_TAIL_MAX + 1);
        while (len < LOG_TAIL_MAX) {
                ssize_t n = read(fd, buf + len, LOG_TAIL_MAX - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                len += (size_t)n;
        }
        while (len > 0 && buf[len - 1] == '\n')
                len--;
        buf[len] = '\0';
        start = buf + len;
        for (int n = 0; start > buf; start--) {
                if (start[-1] == '\n' && ++n == lines)
                        break;
        }
        return vmenv_strdup(start);
}

const char *vmenv_qemu_log_kvm_failure(const char *log)
{
        static const char *const known[] = {"emulation failure", "failed to set MSR",
                                            "KVM internal error", "kvm run failed"};
        for (size_t i = 0; log && i < sizeof(known) / sizeof(known[0]); i++)
                if (strstr(log, known[i]))
                        return known[i];
        return NULL;
}

int vmenv_libvirt_state_detail(struct vmenv_provider *p, const char *name,
                               enum vmenv_vm_state *state, char **reason_text, vmenv_error *err)
{
        _cleanup_domain_ virDomainPtr d = virDomainLookupByName(p->conn, name);
        int st, reason;

        if (!d) {
                if (!vmenv_libvirt_last_error_is(VIR_ERR_NO_DOMAIN))
                        return vmenv_libvirt_error(err, "cannot look up domain '%s'", name);
                *state = VMENV_VM_NOT_CREATED;
                *reason_text = vmenv_strdup("not created");
                return 0;
        }
        if (virDomainGetState(d, &st, &reason, 0) < 0)
                return vmenv_libvirt_error(err, "cannot read the state of domain '%s'", name);
        *state = vmenv_libvirt_map_state(st);
        *reason_text = vmenv_libvirt_state_text(st, reason);
        return 0;
}
