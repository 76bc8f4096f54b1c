/* The KVM check against the real libvirt and QEMU (qemu:///system, or
 * $VMENV_LIBVIRT_URI): its guest code run under TCG really reaches long mode
 * and reports, a guest that never reports is caught, the verdict is the
 * same three times and matches the host, the cache and its keys, VMENV_KVM,
 * kvm_mark_broken, and the test hook that makes "KVM" guests stop the way a
 * broken KVM does (paused (unknown), "emulation failure" in QEMU's log).
 * Everything it creates (pool, volumes, domains, files) is removed. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "domain-diag.h"
#include "kvm-check.h"
#include "tap.h"
#include "vmenv/cleanup.h"
#include "vmenv/util.h"

static const struct vmenv_provider_ops *ops = &vmenv_provider_libvirt;
static char tmp[] = "/tmp/vmenv-kvm-check-test.XXXXXX";
static char pool_name[64], dom_name[64];

static void cleanup(void)
{
        _cleanup_free_ char *cmd = vmenv_strdupf(
            "(virsh -q -c \"$URI\" destroy %1$s; virsh -q -c \"$URI\" undefine %1$s;"
            "for v in $(virsh -q -c \"$URI\" vol-list %2$s 2>/dev/null | awk '{print $1}'); do"
            "  virsh -q -c \"$URI\" vol-delete --pool %2$s $v; done;"
            "virsh -q -c \"$URI\" pool-destroy %2$s; virsh -q -c \"$URI\" pool-undefine %2$s;"
            "rm -f /var/log/libvirt/qemu/%1$s.log; rm -rf %3$s) >/dev/null 2>&1",
            dom_name, pool_name, tmp);
        if (system(cmd) != 0)
                printf("# cleanup failed\n");
}

static char *slurp(const char *path)
{
        char *s = NULL;
        size_t len;
        vmenv_error err = VMENV_ERROR_INIT;
        if (vmenv_read_file(path, 1 << 20, &s, &len, &err) < 0)
                vmenv_error_clear(&err);
        return s;
}

static char *cache_file(void)
{
        _cleanup_free_ char *out = NULL;
        FILE *f = popen("ls -d \"$VMENV_HOME\"/kvm-check/* 2>/dev/null | head -1", "r");
        char line[4096] = "";
        if (f) {
                if (!fgets(line, sizeof(line), f))
                        line[0] = '\0';
                pclose(f);
        }
        line[strcspn(line, "\n")] = '\0';
        return line[0] ? vmenv_strdup(line) : NULL;
}

/* Replaces the first `from` in the file by `to`. */
static void replace_in(const char *path, const char *from, const char *to)
{
        _cleanup_free_ char *text = path ? slurp(path) : NULL, *out = NULL;
        vmenv_error err = VMENV_ERROR_INIT;
        char *at = text ? strstr(text, from) : NULL;

        if (!at) {
                printf("# '%s' is not in the cache file\n", from);
                return;
        }
        out = vmenv_strdupf("%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
        if (vmenv_write_file_atomic(path, out, strlen(out), 0644, &err) < 0)
                vmenv_error_clear(&err);
}

/* host_info on a fresh connection (nothing remembered from earlier calls). */
static int fresh_host_info(struct vmenv_host_info *h, vmenv_error *err)
{
        struct vmenv_provider *q = ops->open(getenv("URI"), err);
        int r;
        if (!q)
                return -1;
        r = ops->host_info(q, h, err);
        ops->close(q);
        return r;
}

static void set_home(const char *name)
{
        _cleanup_free_ char *home = vmenv_strdupf("%s/%s", tmp, name);
        setenv("VMENV_HOME", home, 1);
}

static void test_pure(void)
{
        size_t len = 0;
        const unsigned char *rom = vmenv_libvirt_kvm_check_rom(&len);
        struct vmenv_provider fake = {.uri = (char *)"qemu:///session", .session = true};
        struct vmenv_provider remote = {.uri = (char *)"qemu+ssh://h/system"};
        _cleanup_free_ char *dir = vmenv_strdupf("%s/cache/libvirt/qemu/log", tmp);
        _cleanup_free_ char *log = vmenv_strdupf("%s/vm1.log", dir);
        _cleanup_free_ char *cache = vmenv_strdupf("%s/cache", tmp);
        _cleanup_free_ char *t = NULL, *t2 = NULL, *t3 = NULL;
        struct vmenv_buf b = {0};
        vmenv_error err = VMENV_ERROR_INIT;
        static const struct {
                int st, reason;
                const char *want;
        } states[] = {
            {VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_UNKNOWN, "paused (unknown)"},
            {VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_USER, "paused (user)"},
            {VIR_DOMAIN_SHUTOFF, VIR_DOMAIN_SHUTOFF_CRASHED, "shut off (crashed)"},
            {VIR_DOMAIN_RUNNING, VIR_DOMAIN_RUNNING_BOOTED, "running (booted)"},
            {VIR_DOMAIN_CRASHED, VIR_DOMAIN_CRASHED_PANICKED, "crashed (panicked)"},
            {VIR_DOMAIN_PAUSED, 999, "paused (unknown)"},
            {999, 0, "no state (unknown)"},
        };

        ok(len == 65536, "the check's firmware is 64 KiB (%zu bytes)", len);
        ok(len == 65536 && (rom[0xfff0] == 0xe9 || rom[0xfff0] == 0xeb),
           "its reset vector at 0xfff0 is a jump");
        for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
                _cleanup_free_ char *s = vmenv_libvirt_state_text(states[i].st, states[i].reason);
                is_str(s, states[i].want, states[i].want);
        }
        is_str(
            vmenv_qemu_log_kvm_failure("x\nKVM internal error. Suberror: 1\nemulation failure\n"),
            "emulation failure", "a KVM emulation failure is recognised in a log");
        is_str(vmenv_qemu_log_kvm_failure("qemu: error: failed to set MSR 0x48f to 0x7"),
               "failed to set MSR", "a failed MSR write is recognised");
        ok(vmenv_qemu_log_kvm_failure("char device redirected to /dev/pts/3") == NULL &&
               vmenv_qemu_log_kvm_failure(NULL) == NULL,
           "an ordinary log shows no KVM failure");

        /* log_tail: the session log under $XDG_CACHE_HOME, last lines only */
        setenv("XDG_CACHE_HOME", cache, 1);
        if (vmenv_mkdir_p(dir, 0700, &err) < 0)
                vmenv_error_clear(&err);
        for (int i = 1; i <= 20000; i++)
                vmenv_buf_printf(&b, "line %d\n", i);
        t = vmenv_buf_steal(&b);
        if (vmenv_write_file_atomic(log, t, strlen(t), 0644, &err) < 0)
                vmenv_error_clear(&err);
        t2 = vmenv_libvirt_log_tail(&fake, "vm1", 3);
        is_str(t2, "line 19998\nline 19999\nline 20000", "log_tail gives the last 3 lines");
        t3 = vmenv_libvirt_log_tail(&fake, "vm1", 100000);
        ok(t3 && strlen(t3) <= 64 * 1024 && strstr(t3, "line 20000") && !strstr(t3, "line 1\n"),
           "log_tail reads at most 64 KiB of a long log");
        ok(vmenv_libvirt_log_tail(&fake, "../vm1", 3) == NULL &&
               vmenv_libvirt_log_tail(&fake, "missing", 3) == NULL,
           "log_tail refuses a name with a slash and says NULL for a missing log");
        ok(vmenv_libvirt_log_tail(&remote, "vm1", 3) == NULL,
           "log_tail says NULL for a remote hypervisor");
        unsetenv("XDG_CACHE_HOME");
}

/* The check's own guest, run under TCG: it must reach long mode and report;
 * a guest that never reports must be caught. */
static void test_guest(struct vmenv_provider *p)
{
        size_t len = 0;
        const unsigned char *rom = vmenv_libvirt_kvm_check_rom(&len);
        _cleanup_free_ unsigned char *bad = vmenv_malloc(len);
        vmenv_error err = VMENV_ERROR_INIT;

        for (int i = 0; i < 3; i++) {
                _cleanup_free_ char *reason = NULL;
                int r =
                    vmenv_libvirt_kvm_check_run(p, "qemu", NULL, rom, len, 60000, &reason, &err);
                ok(r == 1, "run %d: the check's guest reaches long mode under TCG and reports",
                   i + 1);
                if (r != 1)
                        printf("#   %s\n", r < 0 ? err.msg : reason);
                vmenv_error_clear(&err);
        }
        /* The same firmware with its reset vector replaced by cli; hlt. */
        memcpy(bad, rom, len);
        memcpy(bad + 0xfff0, "\xfa\xf4\xeb\xfd", 4);
        {
                _cleanup_free_ char *reason = NULL;
                int r = vmenv_libvirt_kvm_check_run(p, "qemu", NULL, bad, len, 3000, &reason, &err);
                ok(r == 0 && reason && strstr(reason, "did not report"),
                   "a guest that halts before reporting is a failure: %s",
                   reason    ? reason
                   : err.msg ? err.msg
                             : "");
                vmenv_error_clear(&err);
        }
}

static void test_verdict(void)
{
        vmenv_error err = VMENV_ERROR_INIT;
        _cleanup_free_ char *first = NULL, *caps = NULL;
        FILE *f;
        char buf[256];
        bool caps_kvm = false;
        int r;

        f = popen("virsh -c \"$URI\" capabilities 2>/dev/null | grep -c \"<domain type='kvm'\"",
                  "r");
        if (f) {
                caps_kvm = fgets(buf, sizeof(buf), f) && atoi(buf) > 0;
                pclose(f);
        }
        for (int i = 0; i < 3; i++) {
                struct vmenv_host_info h = {0};
                CHECK(fresh_host_info(&h, &err), "host_info");
                printf("# verdict %d: %s\n", i + 1, h.accel_reason ? h.accel_reason : "(none)");
                if (i == 0)
                        first = vmenv_strdup(h.accel_reason);
                else
                        is_str(h.accel_reason, first, "the verdict is the same again");
                vmenv_host_info_clear(&h);
        }
        if (!caps_kvm)
                is_str(first, "tcg: no /dev/kvm", "no KVM in the capabilities: tcg: no /dev/kvm");
        else
                ok(vmenv_streq(first, "kvm") || vmenv_startswith(first, "tcg: KVM present but "),
                   "KVM listed: the check decided (%s)", first);

        {
                struct vmenv_host_info h = {0};
                setenv("VMENV_KVM", "0", 1);
                CHECK(fresh_host_info(&h, &err), "host_info with VMENV_KVM=0");
                ok(!h.kvm && vmenv_streq(h.accel_reason, "tcg: VMENV_KVM=0"),
                   "VMENV_KVM=0: tcg: VMENV_KVM=0");
                vmenv_host_info_clear(&h);
                setenv("VMENV_KVM", "maybe", 1);
                r = fresh_host_info(&h, &err);
                ok(r < 0 && err.code == VMENV_EXIT_USAGE && strstr(err.msg, "'maybe'"),
                   "VMENV_KVM=maybe is refused: %s", err.msg ? err.msg : "");
                vmenv_error_clear(&err);
                setenv("VMENV_KVM", "1", 1);
                if (!vmenv_streq(first, "kvm")) {
                        r = fresh_host_info(&h, &err);
                        ok(r < 0 && err.code == VMENV_EXIT_UNAVAILABLE &&
                               strstr(err.msg, "VMENV_KVM=1") && err.hint,
                           "VMENV_KVM=1 without a working KVM fails clearly: %s (%s)",
                           err.msg ? err.msg : "", err.hint ? err.hint : "");
                } else {
                        CHECK(fresh_host_info(&h, &err), "VMENV_KVM=1 with a working KVM");
                        ok(h.kvm && h.kvm_insisted, "VMENV_KVM=1: kvm, insisted");
                }
                vmenv_host_info_clear(&h);
                vmenv_error_clear(&err);
                unsetenv("VMENV_KVM");
        }
}

/* The cache, with the check run under TCG as if the host listed KVM. */
static void test_cache(void)
{
        vmenv_error err = VMENV_ERROR_INIT;
        struct vmenv_host_info h = {0};
        _cleanup_free_ char *path = NULL, *text = NULL, *want = NULL;
        struct vmenv_provider *q;
        struct utsname u;
        int r;

        set_home("home-cache");
        setenv(VMENV_TEST_KVM_CHECK_TCG, "1", 1);
        CHECK(fresh_host_info(&h, &err), "host_info runs the check (under TCG)");
        ok(h.kvm && vmenv_streq(h.accel_reason, "kvm"), "the check passed: kvm (%s)",
           h.accel_reason ? h.accel_reason : "");
        vmenv_host_info_clear(&h);
        path = cache_file();
        text = path ? slurp(path) : NULL;
        uname(&u);
        want = vmenv_strdupf("\nkernel %s\n", u.release);
        ok(text && strstr(text, "\nuri qemu:///") && strstr(text, "\nemulator /") &&
               strstr(text, "\nhypervisor QEMU ") && strstr(text, want) &&
               strstr(text, "\ncheck ") && strstr(text, "\nverdict kvm\n"),
           "the verdict is cached with its keys (uri, emulator, hypervisor, kernel, check)");
        for (char *l = text ? strtok(text, "\n") : NULL; l; l = strtok(NULL, "\n"))
                printf("#   %s\n", l);
        free(text);
        text = NULL;
        /* A verdict only the cache can know: it is used, not checked again. */
        replace_in(path, "verdict kvm\n", "verdict tcg\nreason cached marker\n");
        CHECK(fresh_host_info(&h, &err), "host_info again");
        is_str(h.accel_reason, "tcg: cached marker", "the cached verdict is used, no new check");
        vmenv_host_info_clear(&h);

        /* The same cache made for another QEMU version: checked again. */
        replace_in(path, "\nhypervisor QEMU ", "\nhypervisor QEMU 0.0.1-was-");
        CHECK(fresh_host_info(&h, &err), "host_info with a cache for another QEMU");
        free(text);
        text = slurp(path);
        ok(h.kvm && text && !strstr(text, "0.0.1-was-") && !strstr(text, "cached marker") &&
               strstr(text, "\nverdict kvm\n"),
           "a cache made for another QEMU version is checked again and rewritten");
        vmenv_host_info_clear(&h);

        /* kvm_mark_broken: this connection and later ones say TCG. */
        q = ops->open(getenv("URI"), &err);
        ok(q != NULL, "open");
        if (q) {
                CHECK(ops->kvm_mark_broken(
                          q, "KVM present but the guest stopped: emulation failure", &err),
                      "kvm_mark_broken");
                CHECK(ops->host_info(q, &h, &err), "host_info on the same connection");
                is_str(h.accel_reason, "tcg: KVM present but the guest stopped: emulation failure",
                       "after kvm_mark_broken the same connection says TCG with the reason");
                ok(!h.kvm, "and kvm is false");
                vmenv_host_info_clear(&h);
                ops->close(q);
        }
        CHECK(fresh_host_info(&h, &err), "host_info in a new connection");
        is_str(h.accel_reason, "tcg: KVM present but the guest stopped: emulation failure",
               "a later connection reads the recorded verdict");
        vmenv_host_info_clear(&h);
        setenv("VMENV_KVM", "1", 1);
        r = fresh_host_info(&h, &err);
        ok(r < 0 && strstr(err.msg, "emulation failure"),
           "VMENV_KVM=1 then fails with the reason: %s", err.msg ? err.msg : "");
        vmenv_error_clear(&err);
        unsetenv("VMENV_KVM");
        unsetenv(VMENV_TEST_KVM_CHECK_TCG);
}

/* The hook: a "KVM" domain runs under TCG through the wrapper and stops the
 * way a broken KVM stops it. */
static void test_hook(struct vmenv_provider *p0)
{
        vmenv_error err = VMENV_ERROR_INIT;
        struct vmenv_host_info h = {0};
        const char *src = getenv("VMENV_SRCDIR");
        _cleanup_free_ char *wrapper =
            vmenv_strdupf("%s/tests/fixtures/broken-kvm-qemu", src ? src : ".");
        _cleanup_free_ char *reason = NULL, *tail = NULL, *xml = NULL, *cmd = NULL;
        struct vmenv_domain_spec spec = {.name = dom_name,
                                         .title = "vmenv: kvm-check test",
                                         .memory = 64 << 20,
                                         .cpus = 1,
                                         .kvm = true};
        struct vmenv_provider *p;
        enum vmenv_vm_state st = VMENV_VM_OTHER;

        (void)p0;
        set_home("home-hook");
        setenv(VMENV_TEST_KVM_WRAPPER, wrapper, 1);
        p = ops->open(getenv("URI"), &err);
        CHECK(ops->host_info(p, &h, &err), "host_info with the test hook");
        ok(h.kvm && vmenv_streq(h.accel_reason, "kvm"), "the hook makes vmenv believe in KVM");
        vmenv_host_info_clear(&h);
        CHECK(ops->define(p, &spec, &err), "define a kvm domain under the hook");
        cmd = vmenv_strdupf("virsh -q -c \"$URI\" dumpxml %s", dom_name);
        {
                FILE *f = popen(cmd, "r");
                struct vmenv_buf b = {0};
                char chunk[4096];
                size_t n;
                while (f && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
                        vmenv_buf_add(&b, chunk, n);
                if (f)
                        pclose(f);
                xml = vmenv_buf_steal(&b);
        }
        ok(strstr(xml, "type='qemu'") && strstr(xml, wrapper),
           "it is rendered type='qemu' with the wrapper as emulator");
        CHECK(ops->start(p, dom_name, NULL, &err), "start it");
        for (int i = 0; i < 600; i++) { /* 60 s: the wrapper stops it after 1 s */
                free(reason);
                reason = NULL;
                if (ops->state_detail(p, dom_name, &st, &reason, &err) < 0 ||
                    st != VMENV_VM_RUNNING)
                        break;
                usleep(100000);
        }
        is_str(reason, "paused (unknown)", "the guest stops by itself: paused (unknown)");
        ok(st == VMENV_VM_PAUSED, "state_detail's state is paused");
        tail = ops->log_tail(p, dom_name, 10);
        ok(tail && vmenv_streq(vmenv_qemu_log_kvm_failure(tail), "emulation failure"),
           "the QEMU log's tail says emulation failure");
        if (tail)
                printf("# log tail:\n# %s\n", tail);
        CHECK(ops->undefine(p, dom_name, &err), "undefine");
        free(reason);
        reason = NULL;
        CHECK(ops->state_detail(p, dom_name, &st, &reason, &err), "state_detail when gone");
        ok(st == VMENV_VM_NOT_CREATED && vmenv_streq(reason, "not created"),
           "a missing domain is 'not created'");
        ops->close(p);
        unsetenv(VMENV_TEST_KVM_WRAPPER);
}

int main(void)
{
        vmenv_error err = VMENV_ERROR_INIT;
        const char *uri = getenv("VMENV_LIBVIRT_URI");
        _cleanup_free_ char *pool_path = NULL;
        struct vmenv_provider *p;

        if (!uri || !*uri)
                uri = "qemu:///system";
        setenv("URI", uri, 1);
        unsetenv("VMENV_KVM");
        unsetenv(VMENV_TEST_KVM_WRAPPER);
        unsetenv(VMENV_TEST_KVM_CHECK_TCG);
        if (!mkdtemp(tmp)) {
                printf("1..0 # SKIP cannot create a temporary folder\n");
                return 0;
        }
        chmod(tmp, 0755); /* QEMU (libvirt-qemu) reads the pool's firmware */
        snprintf(pool_name, sizeof(pool_name), "vmenv-kvm-test-%ld", (long)getpid());
        snprintf(dom_name, sizeof(dom_name), "vmenv-kvm-test-%ld", (long)getpid());
        pool_path = vmenv_path_join(tmp, "pool");
        setenv("VMENV_POOL", pool_name, 1);
        setenv("VMENV_POOL_PATH", pool_path, 1);
        set_home("home");
        atexit(cleanup);

        test_pure();
        if (!(p = ops->open(uri, &err))) {
                printf("# cannot connect to %s: %s\n", uri, err.msg);
                vmenv_error_clear(&err);
                return done_testing();
        }
        test_guest(p);
        test_verdict();
        test_cache();
        test_hook(p);
        ops->close(p);
        return done_testing();
}
