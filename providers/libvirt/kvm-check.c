/* Whether KVM runs guests on the hypervisor. /dev/kvm existing (libvirt's
 * capabilities listing <domain type='kvm'>) is not enough: some nested
 * hypervisors create VMs and then stop every ordinary guest during its early
 * boot. So vmenv runs a tiny firmware (kvm-check-rom.S: real -> protected ->
 * long mode with paging, MSRs, MMIO) in a transient domain on the provider's
 * own connection, which works the same for a remote hypervisor, and waits for
 * it to report through the pvpanic port. The verdict is cached per URI in
 * $VMENV_HOME/kvm-check/, keyed by the emulator, its version, the host's
 * kernel and the check itself, so an upgrade checks again. */
#include <inttypes.h>
#include <libvirt/libvirt-qemu.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "domain-diag.h"
#include "kvm-check.h"
#include "vmenv/cleanup.h"
#include "vmenv/log.h"
#include "vmenv/util.h"

#define CACHE_MAX 4096
#define REASON_MAX 200
#define HEADER "# vmenv: whether KVM runs guests on this hypervisor (docs/accel.md)\n"

static uint64_t fnv1a(const void *data, size_t len)
{
        const unsigned char *c = data;
        uint64_t h = 0xcbf29ce484222325u;
        for (size_t i = 0; i < len; i++)
                h = (h ^ c[i]) * 0x100000001b3u;
        return h;
}

/* One line of text at most REASON_MAX long: reasons end up in a cache file
 * of "key value" lines and in one-line warnings. */
static char *one_line(const char *s)
{
        char *r = vmenv_strndup(s ? s : "", strnlen(s ? s : "", REASON_MAX));
        for (char *c = r; *c; c++)
                if (*c == '\n' || *c == '\r' || *c == '\t')
                        *c = ' ';
        while (*r && r[strlen(r) - 1] == ' ')
                r[strlen(r) - 1] = '\0';
        return r;
}

/* QEMU's own message in a libvirt error ("... monitor: <ts> qemu-system-x86_64:
 * failed to set MSR ..."), else the whole message. */
static const char *qemu_words(const char *msg)
{
        const char *q = strstr(msg, "qemu-system-");
        const char *c = q ? strstr(q, ": ") : NULL;
        return c ? c + 2 : msg;
}

struct reaper {
        virDomainPtr d;
        char *log; /* the check domain's QEMU log, or NULL */
};

static void *reaper_run(void *arg)
{
        struct reaper *r = arg;

        /* On a busy host libvirt may give up waiting for QEMU to end; try
         * again, or the autodestroy at close would write the log anew. */
        bool gone = virDomainDestroy(r->d) == 0 || virDomainDestroy(r->d) == 0 ||
                    vmenv_libvirt_last_error_is(VIR_ERR_NO_DOMAIN) ||
                    vmenv_libvirt_last_error_is(VIR_ERR_OPERATION_INVALID);

        virDomainFree(r->d);
        /* Each check has a log of its own under its unique name. */
        if (r->log && gone)
                unlink(r->log);
        free(r->log);
        free(r);
        return NULL;
}

/* Destroys the check's domain in the background: libvirt takes from 0.2 s
 * to seconds to stop QEMU, while the caller (up) can go on defining its
 * machine. provider_close() waits for it (vmenv_libvirt_kvm_check_wait). */
static void reap(struct vmenv_provider *p, virDomainPtr d, char *log)
{
        struct reaper *r = vmenv_calloc(1, sizeof(*r));

        r->d = d;
        r->log = log;
        vmenv_libvirt_kvm_check_wait(p);
        if (pthread_create(&p->reaper, NULL, reaper_run, r) == 0)
                p->reaper_running = true;
        else
                reaper_run(r);
}

void vmenv_libvirt_kvm_check_wait(struct vmenv_provider *p)
{
        if (p->reaper_running)
                pthread_join(p->reaper, NULL);
        p->reaper_running = false;
}

/* Whether QEMU says the guest panicked, i.e. reported. QEMU pauses a guest
 * that panics and libvirt shows "paused" until it has handled the panic
 * event, which can take a second on a busy host; QEMU's own status
 * ("guest-panicked", against "internal-error" for a KVM failure) tells at
 * once. */
static bool qemu_panicked(virDomainPtr d)
{
        char *reply = NULL;
        bool yes;

        if (virDomainQemuMonitorCommand(d, "{\"execute\": \"query-status\"}", &reply, 0) < 0)
                return false;
        yes = strstr(reply, "guest-panicked") != NULL;
        vmenv_debug("KVM check: QEMU status %s", reply);
        free(reply);
        return yes;
}

static char *check_xml(const char *name, const char *type, const char *emulator,
                       const char *rom_path)
{
        _cleanup_free_ char *ename = vmenv_xml_escape(name);
        _cleanup_free_ char *erom = vmenv_xml_escape(rom_path);
        _cleanup_free_ char *eemu = emulator ? vmenv_xml_escape(emulator) : NULL;
        _cleanup_free_ char *emu =
            eemu ? vmenv_strdupf("    <emulator>%s</emulator>\n", eemu) : vmenv_strdup("");

        /* The same CPU model as vmenv's machines get under KVM; the panic
         * is kept ("preserve") so that it can be seen. */
        return vmenv_strdupf("<domain type='%s'>\n"
                             "  <name>%s</name>\n"
                             "  <title>vmenv: KVM check</title>\n"
                             "  <memory unit='MiB'>16</memory>\n"
                             "  <vcpu>1</vcpu>\n"
                             "  <os>\n"
                             "    <type arch='x86_64' machine='q35'>hvm</type>\n"
                             "    <loader readonly='yes' type='rom'>%s</loader>\n"
                             "  </os>\n"
                             "%s"
                             "  <on_poweroff>destroy</on_poweroff>\n"
                             "  <on_reboot>destroy</on_reboot>\n"
                             "  <on_crash>preserve</on_crash>\n"
                             "  <devices>\n"
                             "%s"
                             "    <controller type='usb' model='none'/>\n"
                             "    <memballoon model='none'/>\n"
                             "    <panic model='isa'>\n"
                             "      <address type='isa' iobase='0x505'/>\n"
                             "    </panic>\n"
                             "  </devices>\n"
                             "</domain>\n",
                             type, ename, erom,
                             vmenv_streq(type, "kvm") ? "  <cpu mode='host-passthrough'/>\n" : "",
                             emu);
}

/* Why the check's guest did not report, refined by QEMU's log when it can
 * be read here ("emulation failure" rather than "paused (unknown)"). */
static char *failure_reason(struct vmenv_provider *p, const char *name, const char *what,
                            const char *fallback)
{
        _cleanup_free_ char *log = vmenv_libvirt_log_tail(p, name, 40);
        const char *kvm = vmenv_qemu_log_kvm_failure(log);
        _cleanup_free_ char *r = vmenv_strdupf("%s: %s", what, kvm ? kvm : fallback);
        return one_line(r);
}

int vmenv_libvirt_kvm_check_run(struct vmenv_provider *p, const char *type, const char *emulator,
                                const void *rom, size_t rom_len, int timeout_ms, char **reason,
                                vmenv_error *err)
{
        _cleanup_free_ char *vol =
            vmenv_strdupf("vmenv-kvm-check-%016" PRIx64 ".rom", fnv1a(rom, rom_len));
        _cleanup_free_ char *rom_path = NULL, *xml = NULL, *name = NULL;
        _cleanup_domain_ virDomainPtr d = NULL;
        uint64_t t0, deadline;
        int st = VIR_DOMAIN_NOSTATE, why = 0, works = -1;
        useconds_t nap = 500;

        if (vmenv_libvirt_blob_ensure(p, vol, rom, rom_len, &rom_path, err) < 0)
                return vmenv_error_prefix(err, "cannot prepare the KVM check");
        name = vmenv_strdupf("vmenv-kvm-check-%ld-%04" PRIx64, (long)getpid(),
                             vmenv_now_ns() / 1000 % 0x10000);
        xml = check_xml(name, type, emulator, rom_path);
        t0 = vmenv_now_ns();
        /* Autodestroy: the domain goes with this connection, whatever happens. */
        if (!(d = virDomainCreateXML(p->conn, xml, VIR_DOMAIN_START_AUTODESTROY))) {
                virErrorPtr e = virGetLastError();
                _cleanup_free_ char *msg =
                    one_line(qemu_words(e && e->message ? e->message : "unknown error"));
                *reason = failure_reason(p, name, "QEMU did not start", msg);
                vmenv_debug("KVM check (%s): %s", type, *reason);
                return 0;
        }
        vmenv_debug("KVM check (%s): QEMU started in %.0f ms", type,
                    (double)(vmenv_now_ns() - t0) / 1e6);
        /* From the start on: libvirt may take seconds to start QEMU on a
         * busy host, which says nothing about KVM. */
        deadline = vmenv_now_ns() + (uint64_t)timeout_ms * 1000000u;
        while (works < 0) {
                if (virDomainGetState(d, &st, &why, 0) < 0) {
                        /* A transient domain whose QEMU exited is gone. */
                        *reason = failure_reason(p, name, "QEMU exited", "no reason given");
                        works = 0;
                } else if (st == VIR_DOMAIN_CRASHED ||
                           (st == VIR_DOMAIN_PAUSED && qemu_panicked(d))) {
                        works = 1;
                } else if (st == VIR_DOMAIN_PAUSED || st == VIR_DOMAIN_SHUTOFF) {
                        _cleanup_free_ char *s = vmenv_libvirt_state_text(st, why);
                        *reason = failure_reason(p, name, "the guest stopped", s);
                        works = 0;
                } else if (vmenv_now_ns() > deadline) {
                        _cleanup_free_ char *s =
                            vmenv_strdupf("it did not report within %d ms", timeout_ms);
                        *reason = failure_reason(p, name, "the guest stopped", s);
                        works = 0;
                } else {
                        usleep(nap);
                        nap = nap < 10000 ? nap * 2 : nap;
                }
        }
        vmenv_debug("KVM check (%s) in %.0f ms: %s", type, (double)(vmenv_now_ns() - t0) / 1e6,
                    works ? "the guest reached long mode" : *reason);
        reap(p, TAKE_PTR(d), vmenv_libvirt_log_path(p, name));
        return works;
}

/* The cache's keys: whatever change could change the verdict. */
static char *cache_keys(struct vmenv_provider *p, const char *emulator, const char *hypervisor)
{
        struct utsname u;
        _cleanup_free_ char *kernel = NULL, *host = NULL;
        size_t rom_len = 0;
        const void *rom = vmenv_libvirt_kvm_check_rom(&rom_len);

        if (vmenv_libvirt_uri_is_local(p->uri) && uname(&u) == 0)
                kernel = vmenv_strdup(u.release);
        else if ((host = virConnectGetHostname(p->conn)))
                kernel = vmenv_strdupf("unknown on %s", host);
        else
                kernel = vmenv_strdup("unknown");
        return vmenv_strdupf(
            "uri %s\nemulator %s\nhypervisor %s\nkernel %s\ncheck %016" PRIx64 "\n", p->uri,
            emulator ? emulator : "default", hypervisor, kernel, fnv1a(rom, rom_len));
}

/* One file per URI and emulator, the first two keys: a verdict for another
 * QEMU binary (the test hook's wrapper among them) keeps its own file
 * instead of taking turns with this one's. */
static char *cache_path(const char *keys)
{
        _cleanup_free_ char *home = vmenv_home();
        const char *e = strchr(keys, '\n');
        size_t n = e && (e = strchr(e + 1, '\n')) ? (size_t)(e - keys) : strlen(keys);

        return vmenv_strdupf("%s/kvm-check/%016" PRIx64, home, fnv1a(keys, n));
}

/* The cached verdict for these keys: 1 KVM works, 0 not (*reason set), -1
 * none or stale. */
static int cache_read(struct vmenv_provider *p, const char *keys, char **reason)
{
        _cleanup_free_ char *path = cache_path(keys), *text = NULL;
        vmenv_error err = VMENV_ERROR_INIT;
        const char *rest, *r;
        size_t len;

        if (vmenv_read_file(path, CACHE_MAX, &text, &len, &err) < 0) {
                vmenv_error_clear(&err);
                return -1;
        }
        if (!vmenv_startswith(text, HEADER) || !vmenv_startswith(text + strlen(HEADER), keys)) {
                vmenv_debug("KVM check verdict in '%s' is for another host or QEMU", path);
                return -1;
        }
        rest = text + strlen(HEADER) + strlen(keys);
        if (vmenv_startswith(rest, "verdict kvm\n"))
                return 1;
        if (!vmenv_startswith(rest, "verdict tcg\nreason ") || !strchr(rest, '\n'))
                return -1;
        r = rest + strlen("verdict tcg\nreason ");
        *reason = vmenv_strndup(r, strcspn(r, "\n"));
        return 0;
}

static int cache_write(struct vmenv_provider *p, const char *keys, bool works, const char *reason,
                       vmenv_error *err)
{
        _cleanup_free_ char *path = cache_path(keys), *dir = NULL, *text = NULL, *r = NULL;

        dir = vmenv_strndup(path, (size_t)(strrchr(path, '/') - path));
        if (vmenv_mkdir_p(dir, 0700, err) < 0)
                return -1;
        r = one_line(reason);
        text = works ? vmenv_strdupf("%s%sverdict kvm\n", HEADER, keys)
                     : vmenv_strdupf("%s%sverdict tcg\nreason %s\n", HEADER, keys, r);
        if (vmenv_write_file_atomic(path, text, strlen(text), 0644, err) < 0)
                return vmenv_error_prefix(err, "cannot record the KVM check's verdict");
        return 0;
}

const char *vmenv_libvirt_test_kvm_wrapper(void)
{
        const char *w = getenv(VMENV_TEST_KVM_WRAPPER);
        return w && *w ? w : NULL;
}

/* Test-only: the check runs (and is cached) as if KVM were listed, with its
 * guest under TCG, to show on a host without KVM that the check works. */
static bool test_check_tcg(void)
{
        return vmenv_streq(getenv(VMENV_TEST_KVM_CHECK_TCG), "1");
}

/* Runs the check under KVM; if the guest fails there, runs the same guest
 * under TCG, so that a failure of the check itself (pool, permissions, a
 * QEMU without pvpanic) is not taken for a broken KVM. 1: KVM works; 0:
 * broken, *reason says how; -1: cannot tell (err set). */
static int kvm_check(struct vmenv_provider *p, const char *emulator, char **reason,
                     vmenv_error *err)
{
        const char *hook = vmenv_libvirt_test_kvm_wrapper();
        size_t rom_len = 0;
        const void *rom = vmenv_libvirt_kvm_check_rom(&rom_len);
        _cleanup_free_ char *why = NULL, *control = NULL;
        int r;

        /* The test hooks render KVM domains as TCG. */
        r = vmenv_libvirt_kvm_check_run(p, hook || test_check_tcg() ? "qemu" : "kvm", hook, rom,
                                        rom_len, VMENV_KVM_CHECK_TIMEOUT_MS, &why, err);
        if (r != 0)
                return r;
        r = vmenv_libvirt_kvm_check_run(p, "qemu", emulator, rom, rom_len,
                                        VMENV_KVM_CHECK_TCG_TIMEOUT_MS, &control, err);
        if (r < 0)
                return -1;
        if (r == 0)
                return vmenv_error_set(err, VMENV_EXIT_SOFTWARE,
                                       "the KVM check fails under TCG too: %s", control);
        *reason = vmenv_strdupf("KVM present but %s", why);
        return 0;
}

static int parse_kvm_env(int *want, vmenv_error *err)
{
        const char *env = getenv("VMENV_KVM");

        *want = -1;
        if (!env || !*env)
                return 0;
        if (vmenv_streq(env, "0") || vmenv_streq(env, "no") || vmenv_streq(env, "false"))
                *want = 0;
        else if (vmenv_streq(env, "1") || vmenv_streq(env, "yes") || vmenv_streq(env, "true"))
                *want = 1;
        else {
                vmenv_error_set(err, VMENV_EXIT_USAGE, "invalid VMENV_KVM value '%s'", env);
                return vmenv_error_hint(err, "use 1 to insist on KVM, 0 to use TCG, or unset it");
        }
        return 0;
}

/* The verdict for this connection: memo, then cache, then the check. */
static int verdict(struct vmenv_provider *p, const char *caps, const char *hypervisor,
                   vmenv_error *err)
{
        const char *hook = vmenv_libvirt_test_kvm_wrapper();
        _cleanup_free_ char *emulator = NULL, *keys = NULL, *reason = NULL;
        vmenv_error cerr = VMENV_ERROR_INIT;
        int r;

        if (p->kvm_verdict)
                return 0;
        emulator = hook ? vmenv_strdup(hook) : vmenv_libvirt_caps_emulator(caps);
        keys = cache_keys(p, emulator, hypervisor);
        if ((r = cache_read(p, keys, &reason)) < 0) {
                if (hook && !test_check_tcg())
                        r = 1; /* the test hook stands for a check that passed */
                else if ((r = kvm_check(p, emulator, &reason, &cerr)) < 0) {
                        /* Cannot tell: trust the capabilities, record nothing;
                         * a guest that then stops is caught by the boot wait. */
                        vmenv_debug("KVM check inconclusive: %s", cerr.msg);
                        vmenv_error_clear(&cerr);
                        r = 1;
                } else if (cache_write(p, keys, r > 0, reason, err) < 0) {
                        return -1;
                }
        }
        free(p->kvm_keys);
        p->kvm_keys = TAKE_PTR(keys);
        p->kvm_verdict = r > 0 ? 1 : -1;
        free(p->kvm_reason);
        p->kvm_reason = r > 0 ? vmenv_strdup("kvm") : vmenv_strdupf("tcg: %s", reason);
        return 0;
}

int vmenv_libvirt_accel(struct vmenv_provider *p, const char *caps, struct vmenv_host_info *h,
                        vmenv_error *err)
{
        bool has_kvm = strstr(caps, "<domain type='kvm'") != NULL ||
                       vmenv_libvirt_test_kvm_wrapper() || test_check_tcg();
        int want, r;

        if (parse_kvm_env(&want, err) < 0)
                return -1;
        h->kvm_insisted = want == 1;
        if (want == 0) {
                h->kvm = false;
                h->accel_reason = vmenv_strdup("tcg: VMENV_KVM=0");
                return 0;
        }
        if (!has_kvm) {
                if (want == 1) {
                        vmenv_error_set(err, VMENV_EXIT_UNAVAILABLE,
                                        "VMENV_KVM=1 but '%s' offers no KVM: no /dev/kvm", p->uri);
                        return vmenv_error_hint(err, "load the kvm module and give access to "
                                                     "/dev/kvm, or unset VMENV_KVM to use TCG");
                }
                h->kvm = false;
                h->accel_reason = vmenv_strdup("tcg: no /dev/kvm");
                return 0;
        }
        /* Machines of one project start in parallel threads, each asking;
         * one of them runs the check. */
        pthread_mutex_lock(&p->kvm_lock);
        if ((r = verdict(p, caps, h->hypervisor, err)) == 0) {
                h->kvm = p->kvm_verdict > 0;
                h->accel_reason = vmenv_strdup(p->kvm_reason);
        }
        pthread_mutex_unlock(&p->kvm_lock);
        if (r < 0)
                return -1;
        if (!h->kvm && want == 1) {
                vmenv_error_set(err, VMENV_EXIT_UNAVAILABLE,
                                "VMENV_KVM=1 but KVM cannot run guests on '%s': %s", p->uri,
                                h->accel_reason + strlen("tcg: "));
                return vmenv_error_hint(err, "unset VMENV_KVM to let vmenv use TCG");
        }
        return 0;
}

int vmenv_libvirt_kvm_mark_broken(struct vmenv_provider *p, const char *reason, vmenv_error *err)
{
        _cleanup_free_ char *r = one_line(reason && *reason ? reason : "the guest stopped");

        struct vmenv_host_info h = {0};
        int ret = 0;

        /* Not resolved on this connection yet: host_info computes the keys
         * (and perhaps runs the check). */
        if (vmenv_provider_libvirt.host_info(p, &h, err) < 0)
                return vmenv_error_prefix(err, "cannot record that KVM is broken");
        vmenv_host_info_clear(&h);
        pthread_mutex_lock(&p->kvm_lock);
        /* No keys: KVM was not in use, nothing to record. */
        if (p->kvm_keys && (ret = cache_write(p, p->kvm_keys, false, r, err)) == 0) {
                p->kvm_verdict = -1;
                free(p->kvm_reason);
                p->kvm_reason = vmenv_strdupf("tcg: %s", r);
        }
        pthread_mutex_unlock(&p->kvm_lock);
        return ret;
}
