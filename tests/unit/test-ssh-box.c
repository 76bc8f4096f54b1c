/* The SSH module against the real tiny box: dropbear 2022.83 on busybox, the
 * Vagrant insecure RSA key for user 'vagrant'. QEMU is started here directly
 * (no libvirt; KVM where vmenv's KVM check says it works, else TCG) on a
 * copy-on-write view of the box image (-snapshot),
 * with a user-mode network that reaches nothing but a forward from 127.0.0.1 (restrict=on), and
 * killed by its pid. Box: $VMENV_TEST_BOXES/ vmenv-tiny-1.0.0.box (built by boxes/build tiny);
 * skipped without it. */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libssh/libssh.h>

#include "tap.h"
#include "vmenv/cleanup.h"
#include "vmenv/provider.h"
#include "vmenv/ssh.h"
#include "vmenv/util.h"

static char *tmp;
static pid_t qemu_pid = -1;

static void stop_qemu(void)
{
        if (qemu_pid > 0) {
                kill(qemu_pid, SIGTERM);
                waitpid(qemu_pid, NULL, 0);
                qemu_pid = -1;
        }
}

static void bail(const char *what)
{
        vmenv_error err = VMENV_ERROR_INIT;
        printf("Bail out! %s\n", what);
        stop_qemu();
        if (tmp)
                vmenv_rm_rf(tmp, &err);
        vmenv_error_clear(&err);
        exit(1);
}

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
        va_list ap;
        _cleanup_free_ char *cmd = NULL;
        va_start(ap, fmt);
        cmd = vmenv_vstrdupf(fmt, ap);
        va_end(ap);
        if (system(cmd) != 0)
                bail(cmd);
}

static char *slurp(const char *path)
{
        vmenv_error err = VMENV_ERROR_INIT;
        char *s = NULL;
        if (vmenv_read_file(path, 1 << 20, &s, NULL, &err) < 0) {
                vmenv_error_clear(&err);
                return NULL;
        }
        return s;
}

static int free_port(void)
{
        _cleanup_free_ char *p = NULL, *out = vmenv_path_join(tmp, "port");
        sh("python3 -c 'import socket; s=socket.socket(); s.bind((\"127.0.0.1\", 0)); "
           "print(s.getsockname()[1])' > '%s'",
           out);
        p = slurp(out);
        return p ? atoi(p) : 0;
}

static char *find_box(void)
{
        const char *dir = getenv("VMENV_TEST_BOXES");
        _cleanup_free_ char *pat = NULL;
        glob_t g = {0};
        char *found = NULL;

        if (!dir || !*dir)
                return NULL;
        pat = vmenv_strdupf("%s/vmenv-tiny-[0-9]*.box", dir);
        if (glob(pat, 0, NULL, &g) == 0 && g.gl_pathc > 0)
                found = vmenv_strdup(g.gl_pathv[g.gl_pathc - 1]);
        globfree(&g);
        return found;
}

/* The verdict of vmenv's KVM check for the default libvirt connection
 * (docs/accel.md); TCG when it cannot be had. */
static bool kvm_runs_guests(void)
{
        const struct vmenv_provider_ops *ops = &vmenv_provider_libvirt;
        vmenv_error e = VMENV_ERROR_INIT;
        struct vmenv_host_info h = {0};
        struct vmenv_provider *p = ops->open(NULL, &e);
        bool kvm = p && ops->host_info(p, &h, &e) == 0 && h.kvm;

        printf("# accelerator: %s\n", h.accel_reason ? h.accel_reason : "tcg: no libvirt");
        vmenv_host_info_clear(&h);
        vmenv_error_clear(&e);
        if (p)
                ops->close(p);
        return kvm;
}

int main(void)
{
        vmenv_error err = VMENV_ERROR_INIT;
        _cleanup_free_ char *box = find_box(), *ikey = NULL, *img = NULL, *console = NULL;
        _cleanup_free_ char *fwd = NULL, *seen = NULL, *last = NULL, *out = NULL;
        _cleanup_free_ char *newkey = NULL, *newpub = NULL, *ipub = NULL, *ipub_path = NULL;
        struct vmenv_ssh_target t;
        struct vmenv_ssh *s;
        uint64_t t0;
        int port, st = -1, r;
        bool kvm;

        if (!box) {
                printf("1..0 # SKIP no tiny box: set VMENV_TEST_BOXES to the output of "
                       "'boxes/build tiny'\n");
                return 0;
        }
        if (access("/usr/bin/qemu-system-x86_64", X_OK) < 0) {
                printf("1..0 # SKIP no qemu-system-x86_64\n");
                return 0;
        }
        if (!(ikey = vmenv_insecure_key_path(&err))) {
                printf("1..0 # SKIP %s\n", err.msg);
                vmenv_error_clear(&err);
                return 0;
        }
        ipub_path = vmenv_strdupf("%s.pub", ikey);
        if (!(ipub = slurp(ipub_path))) {
                printf("1..0 # SKIP no %s\n", ipub_path);
                return 0;
        }
        tmp = vmenv_strdup("/tmp/vmenv-ssh-box.XXXXXX");
        if (!mkdtemp(tmp))
                bail("mkdtemp");
        sh("tar -xzf '%s' -C '%s' box.img", box, tmp);
        img = vmenv_strdupf("file=%s/box.img,format=qcow2,if=virtio", tmp);
        console = vmenv_strdupf("file:%s/console.log", tmp);
        port = free_port();
        fwd = vmenv_strdupf("user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:%d-:22", port);
        /* KVM only where vmenv's KVM check (which runs guest code) says it
         * works: /dev/kvm may exist where KVM stops every guest. */
        kvm = kvm_runs_guests();
        qemu_pid = fork();
        if (qemu_pid < 0)
                bail("fork");
        if (qemu_pid == 0) {
                int nul = open("/dev/null", O_RDWR);
                dup2(nul, 0), dup2(nul, 1), dup2(nul, 2);
                prctl(PR_SET_PDEATHSIG, SIGKILL); /* no VM outlives its test */
                execl("/usr/bin/qemu-system-x86_64", "qemu-system-x86_64", "-machine",
                      kvm ? "q35,accel=kvm" : "q35,accel=tcg", "-m", "256", "-snapshot", "-drive",
                      img, "-netdev", fwd, "-device", "virtio-net-pci,netdev=n0", "-serial",
                      console, "-monitor", "none", "-display", "none", (char *)NULL);
                _exit(127);
        }

        t = (struct vmenv_ssh_target){.host = "127.0.0.1",
                                      .port = port,
                                      .user = "vagrant",
                                      .key_path = ikey,
                                      .connect_timeout_ms = 5000,
                                      .tofu = true};
        t0 = vmenv_now_ns();
        s = vmenv_ssh_wait(&t, t0 + 240000000000ull, &seen, &last, &err);
        if (!ok(s != NULL, "box: insecure RSA key logs in to dropbear after %.1f s (%s)",
                (double)(vmenv_now_ns() - t0) / 1e9, s ? "" : err.msg)) {
                _cleanup_free_ char *cp = vmenv_path_join(tmp, "console.log");
                _cleanup_free_ char *c = slurp(cp);
                printf("# last: %s\n# console:\n%s\n", last ? last : "", c ? c : "");
                bail("no login");
        }
        ok(seen && vmenv_startswith(seen, "ssh-ed25519 "), "box: ed25519 host key recorded");

        r = vmenv_ssh_capture(s, "id -un; exit 3", 100, &out, &st, &err);
        ok(r == 0 && st == 3 && vmenv_streq(out, "vagrant\n"), "box: capture + exit status 3");
        free(out), out = NULL;
        r = vmenv_ssh_exec(s, "kill -9 $$", NULL, 0, -1, -1, &st, &err);
        ok(r == 0 && st == 137, "box: killed command gives 137 (got %d)", st);
        r = vmenv_ssh_capture(s, "cat | wc -c", 100, &out, &st, &err);
        ok(r == 0 && out && atoi(out) == 0, "box: no stdin is end of file");
        free(out), out = NULL;

        /* upload and compare sums (busybox sha256sum in the guest) */
        {
                _cleanup_free_ char *local = vmenv_path_join(tmp, "up.bin");
                _cleanup_free_ char *lsum_path = vmenv_path_join(tmp, "up.sum");
                _cleanup_free_ char *lsum = NULL;
                sh("head -c 5242880 /dev/urandom > '%s' && sha256sum < '%s' | cut -d' ' -f1 > '%s'",
                   local, local, lsum_path);
                lsum = slurp(lsum_path);
                t0 = vmenv_now_ns();
                r = vmenv_ssh_upload(s, local, "/tmp/a b'c \"d\".bin", 0600, &err);
                ok(r == 0, "box: 5 MiB upload in %.2f s (%s)", (double)(vmenv_now_ns() - t0) / 1e9,
                   r ? err.msg : "");
                vmenv_error_clear(&err);
                r = vmenv_ssh_capture(s,
                                      "sha256sum < '/tmp/a b'\\''c \"d\".bin' | cut -d' ' -f1; "
                                      "stat -c %a '/tmp/a b'\\''c \"d\".bin'",
                                      200, &out, &st, &err);
                {
                        _cleanup_free_ char *want = vmenv_strdupf("%s600\n", lsum ? lsum : "?");
                        is_str(out, want, "box: guest sha256 and mode match");
                }
                free(out), out = NULL;
        }

        /* first boot: our key in, the insecure key out */
        newkey = vmenv_path_join(tmp, "machine_key");
        if (vmenv_ssh_keygen(newkey, "vmenv:box-test", &newpub, &err) < 0)
                bail(err.msg);
        r = vmenv_ssh_replace_insecure_key(s, newpub, ipub, &err);
        ok(r == 0, "box: insecure key replaced (%s)", r ? err.msg : "");
        vmenv_error_clear(&err);
        r = vmenv_ssh_capture(s,
                              "stat -c %a ~/.ssh/authorized_keys; grep -c . ~/.ssh/authorized_keys",
                              100, &out, &st, &err);
        is_str(out, "600\n1\n", "box: authorized_keys is 0600 with one key");
        free(out), out = NULL;
        vmenv_ssh_free(s);

        t.known_host_key = seen;
        s = vmenv_ssh_connect(&t, NULL, &err);
        ok(s == NULL && err.code == VMENV_EXIT_NOPERM, "box: insecure key refused afterwards");
        vmenv_error_clear(&err);
        vmenv_ssh_free(s);
        t.key_path = newkey;
        s = vmenv_ssh_connect(&t, NULL, &err);
        ok(s != NULL, "box: machine key logs in, recorded host key accepted (%s)",
           s ? "" : err.msg);
        vmenv_error_clear(&err);
        vmenv_ssh_free(s);

        stop_qemu();
        r = vmenv_rm_rf(tmp, &err);
        ok(r == 0, "cleanup: temporary folder removed");
        vmenv_error_clear(&err);
        free(tmp);
        ssh_finalize();
        return done_testing();
}
