/* The libvirt provider against the real qemu:///system (or $VMENV_LIBVIRT_URI):
 * a private storage pool in a temporary folder, box upload, linked-clone
 * overlays, and the lifecycle of a domain that boots a copy of the host's
 * kernel with the <qemu:commandline> user networking and an SSH-style port
 * forward. Everything it creates is removed at the end. */
#include <arpa/inet.h>
#include <errno.h>
#include <glob.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"
#include "vmenv/cleanup.h"
#include "vmenv/provider.h"
#include "vmenv/util.h"

static const struct vmenv_provider_ops *ops = &vmenv_provider_libvirt;
static char tmp[] = "/tmp/vmenv-libvirt-test.XXXXXX";
static char pool_name[64], dom_name[64];

/* Runs a shell command and returns its stdout (at most 64 KiB). */
static char *run(const char *cmd)
{
        FILE *f = popen(cmd, "r");
        struct vmenv_buf b = {0};
        char chunk[4096];
        size_t n;

        if (!f)
                return vmenv_strdup("");
        while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 && b.len < 65536)
                vmenv_buf_add(&b, chunk, n);
        pclose(f);
        return vmenv_buf_steal(&b);
}

/* Formats a command and returns its stdout. */
__attribute__((format(printf, 1, 2))) static char *runf(const char *fmt, ...)
{
        va_list ap;
        _cleanup_free_ char *cmd = NULL;
        va_start(ap, fmt);
        cmd = vmenv_vstrdupf(fmt, ap);
        va_end(ap);
        return run(cmd);
}

static int free_port(void)
{
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof(a);
        int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

        if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
            getsockname(fd, (struct sockaddr *)&a, &len) == 0)
                port = ntohs(a.sin_port);
        if (fd >= 0)
                close(fd);
        return port;
}

static bool port_accepts(int port)
{
        struct sockaddr_in a = {.sin_family = AF_INET,
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                                .sin_port = htons((uint16_t)port)};
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        bool okc = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
        if (fd >= 0)
                close(fd);
        return okc;
}

static enum vmenv_vm_state state_of(struct vmenv_provider *p, const char *name)
{
        enum vmenv_vm_state st = VMENV_VM_OTHER;
        vmenv_error err = VMENV_ERROR_INIT;
        if (ops->state(p, name, &st, &err) < 0) {
                printf("# state: %s\n", err.msg);
                vmenv_error_clear(&err);
        }
        return st;
}

static char *first_glob(const char *pattern)
{
        glob_t g;
        char *r = NULL;
        if (glob(pattern, 0, NULL, &g) == 0 && g.gl_pathc > 0)
                r = vmenv_strdup(g.gl_pathv[0]);
        globfree(&g);
        return r;
}

/* Connects to 127.0.0.1:port and returns the first line the guest sends. */
static char *read_banner(int port)
{
        struct sockaddr_in a = {.sin_family = AF_INET,
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                                .sin_port = htons((uint16_t)port)};
        struct timeval tv = {.tv_sec = 3};
        char buf[128] = "";
        ssize_t n = -1;
        int fd = socket(AF_INET, SOCK_STREAM, 0);

        if (fd < 0)
                return vmenv_strdup("");
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
                n = recv(fd, buf, sizeof(buf) - 1, 0);
        close(fd);
        buf[strcspn(buf, "\r\n")] = '\0';
        (void)n;
        return vmenv_strdup(buf);
}

static bool log_has(const char *path, const char *needle, int tenths)
{
        for (int i = 0; i < tenths; i++) {
                _cleanup_free_ char *log = NULL;
                vmenv_error e = VMENV_ERROR_INIT;
                bool seen = false;
                if (vmenv_read_file(path, 16 << 20, &log, NULL, &e) == 0)
                        seen = strstr(log, needle) != NULL;
                vmenv_error_clear(&e);
                if (seen)
                        return true;
                usleep(100000);
        }
        return false;
}

static void cleanup(void)
{
        _cleanup_free_ char *out =
            runf("(virsh -q -c \"$URI\" destroy %1$s; virsh -q -c \"$URI\" undefine %1$s;"
                 "for v in $(virsh -q -c \"$URI\" vol-list %2$s 2>/dev/null | awk '{print $1}'); do"
                 "  virsh -q -c \"$URI\" vol-delete --pool %2$s $v; done;"
                 "virsh -q -c \"$URI\" pool-destroy %2$s; virsh -q -c \"$URI\" pool-undefine %2$s;"
                 "rm -rf %3$s) >/dev/null 2>&1",
                 dom_name, pool_name, tmp);
}

int main(void)
{
        vmenv_error err = VMENV_ERROR_INIT;
        struct vmenv_provider *p = NULL;
        const char *uri = getenv("VMENV_LIBVIRT_URI");
        _cleanup_free_ char *pool_path = NULL, *base_file = NULL, *out = NULL;
        _cleanup_free_ char *base_path = NULL, *base_path2 = NULL, *ov_path = NULL,
                            *ov_path2 = NULL, *big_path = NULL, *kernel = NULL, *serial = NULL,
                            *initrd = NULL;
        _cleanup_free_ char *key = NULL;
        bool have_initrd = false, have_ssh = false;
        _cleanup_free_ char *share9p = NULL, *sharevfs = NULL;
        struct vmenv_fs_spec shares[2];
        size_t n_shares = 0;
        int banner_port;
        char **names = NULL;
        struct vmenv_host_info h = {0};
        int port;

        if (!uri || !*uri)
                uri = "qemu:///system";
        setenv("URI", uri, 1);
        if (!mkdtemp(tmp)) {
                printf("1..0 # SKIP cannot create a temporary folder\n");
                return 0;
        }
        /* QEMU runs as libvirt-qemu and must reach the pool and the kernel. */
        chmod(tmp, 0755);
        snprintf(pool_name, sizeof(pool_name), "vmenv-test-%ld", (long)getpid());
        snprintf(dom_name, sizeof(dom_name), "vmenv-test-%ld", (long)getpid());
        pool_path = vmenv_path_join(tmp, "pool");
        {
                _cleanup_free_ char *home = vmenv_path_join(tmp, "home");
                setenv("VMENV_HOME", home, 1); /* upload locks go there */
        }
        setenv("VMENV_POOL", pool_name, 1);
        setenv("VMENV_POOL_PATH", pool_path, 1);
        atexit(cleanup);

        if (!(p = ops->open(uri, &err)) && geteuid() == 0 && err.code == VMENV_EXIT_UNAVAILABLE) {
                /* As .ci does: no systemd here, start the daemons ourselves. */
                free(out);
                out = run(
                    "(pgrep -x virtlogd || virtlogd -d; pgrep -x libvirtd || libvirtd -d;"
                    " for i in $(seq 50); do virsh -c \"$URI\" version && break; sleep 0.2; done)"
                    " >/dev/null 2>&1");
                vmenv_error_clear(&err);
                p = ops->open(uri, &err);
        }
        if (!p) {
                printf("1..0 # SKIP cannot connect to %s: %s\n", uri, err.msg);
                vmenv_error_clear(&err);
                return 0;
        }

        if (geteuid() == 0 && vmenv_streq(uri, "qemu:///system")) {
                /* An unprivileged user on the system URI: no permission,
                 * with the usual remedies. Run as nobody in a child. */
                pid_t pid = fork();
                int status = 0;
                if (pid == 0) {
                        vmenv_error e = VMENV_ERROR_INIT;
                        struct vmenv_provider *q;
                        if (setgid(65534) < 0 || setuid(65534) < 0)
                                _exit(100);
                        q = ops->open("qemu:///system", &e);
                        _exit(q ? 101
                              : e.code == VMENV_EXIT_NOPERM && e.hint &&
                                      strstr(e.hint, "qemu:///session")
                                  ? 0
                                  : e.code);
                }
                waitpid(pid, &status, 0);
                ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                   "an unprivileged user gets exit 77 with a hint (child said %d)",
                   WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        }
        CHECK(ops->host_info(p, &h, &err), "host_info");
        ok(h.libvirt_version >= 8000000, "libvirt version %lu", h.libvirt_version);
        ok(h.hypervisor && vmenv_startswith(h.hypervisor, "QEMU "), "hypervisor '%s'",
           h.hypervisor ? h.hypervisor : "");
        printf("# kvm=%d (%s) passt=%d\n", h.kvm, h.accel_reason, h.passt);
        {
                /* The overrides; the domain below uses what the KVM check
                 * found (on some test machines /dev/kvm exists but stops
                 * every guest, and the check must see that). */
                struct vmenv_host_info h2 = {0};
                setenv("VMENV_KVM", "0", 1);
                CHECK(ops->host_info(p, &h2, &err), "host_info with VMENV_KVM=0");
                ok(!h2.kvm, "VMENV_KVM=0 turns kvm off");
                vmenv_host_info_clear(&h2);
                /* VMENV_KVM=1 insists: kvm where the check passed, else a
                 * clear error rather than a guest that stops. */
                setenv("VMENV_KVM", "1", 1);
                if (h.kvm) {
                        CHECK(ops->host_info(p, &h2, &err), "host_info with VMENV_KVM=1");
                        ok(h2.kvm && h2.kvm_insisted, "VMENV_KVM=1 keeps kvm, insisted");
                } else {
                        int r = ops->host_info(p, &h2, &err);
                        ok(r < 0 && err.code == VMENV_EXIT_UNAVAILABLE && err.hint,
                           "VMENV_KVM=1 without working KVM fails: %s", err.msg ? err.msg : "");
                        vmenv_error_clear(&err);
                }
                vmenv_host_info_clear(&h2);
                unsetenv("VMENV_KVM");
        }

        /* A base with 20 GiB of virtual size and almost no data. */
        base_file = vmenv_path_join(tmp, "box.img");
        free(out);
        out = runf("qemu-img create -q -f qcow2 %s 20G", base_file);
        ok(vmenv_path_exists(base_file), "qemu-img made a 20 GiB-virtual base");

        CHECK(ops->image_ensure(p, NULL, "test-base.img", base_file, "qcow2", &base_path, &err),
              "image_ensure uploads the base into a new pool");
        ok(base_path && vmenv_startswith(base_path, pool_path), "the base is in the test pool (%s)",
           base_path ? base_path : "");
        CHECK(
            ops->image_ensure(p, NULL, "test-base.img", "/nonexistent", "qcow2", &base_path2, &err),
            "image_ensure of an existing volume does nothing");
        is_str(base_path2, base_path, "same path the second time");
        free(out);
        out = runf("qemu-img info --output=json %s", base_path ? base_path : "/x");
        ok(strstr(out, "\"virtual-size\": 21474836480") && strstr(out, "\"format\": \"qcow2\""),
           "uploaded base is the same qcow2 (20 GiB virtual)");

        {
                /* Two vmenv processes import the same raw image at once:
                 * both succeed, and neither uses a half-uploaded volume. */
                _cleanup_free_ char *raw = vmenv_path_join(tmp, "race.raw");
                _cleanup_free_ char *o2 = runf("head -c 268435456 /dev/urandom > %s", raw);
                pid_t kids[2];
                int good = 0;
                for (int i = 0; i < 2; i++) {
                        if ((kids[i] = fork()) == 0) {
                                vmenv_error e = VMENV_ERROR_INIT;
                                struct vmenv_provider *q = ops->open(uri, &e);
                                char *vp = NULL, *o3 = NULL;
                                int rc = 1;
                                if (q && ops->image_ensure(q, NULL, "test-race.raw", raw, "raw",
                                                           &vp, &e) == 0) {
                                        o3 = runf("cmp %s %s && echo same", raw, vp);
                                        rc = strstr(o3, "same") ? 0 : 2;
                                } else {
                                        printf("#   child: %s\n", e.msg ? e.msg : "");
                                }
                                _exit(rc);
                        }
                }
                for (int i = 0; i < 2; i++) {
                        int status = 0;
                        waitpid(kids[i], &status, 0);
                        good += WIFEXITED(status) && WEXITSTATUS(status) == 0;
                }
                ok(good == 2, "two concurrent imports both see the complete image (%d of 2)", good);
                CHECK(ops->volume_delete(p, NULL, "test-race.raw", &err), "delete it");
                unlink(raw);
        }
        {
                /* vmenv killed (-9) in the middle of an upload: the next import
                 * must not take the half-written volume for the box. */
                _cleanup_free_ char *raw = vmenv_path_join(tmp, "kill.raw");
                _cleanup_free_ char *o2 = runf("head -c 268435456 /dev/urandom > %s", raw);
                _cleanup_free_ char *partf = vmenv_strdupf("%s/test-kill.raw.part", pool_path);
                _cleanup_free_ char *vp = NULL, *o3 = NULL;
                int status = 0;
                pid_t kid = fork();
                if (kid == 0) {
                        vmenv_error e = VMENV_ERROR_INIT;
                        struct vmenv_provider *q = ops->open(uri, &e);
                        char *kp = NULL;
                        _exit(q && ops->image_ensure(q, NULL, "test-kill.raw", raw, "raw", &kp,
                                                     &e) == 0
                                  ? 0
                                  : 1);
                }
                for (int i = 0; i < 600; i++) {
                        struct stat pst;
                        if (stat(partf, &pst) == 0 && pst.st_blocks * 512 > (32 << 20))
                                break;
                        if (waitpid(kid, &status, WNOHANG) == kid) {
                                kid = 0;
                                break;
                        }
                        usleep(20000);
                }
                if (kid > 0) {
                        kill(kid, SIGKILL);
                        waitpid(kid, &status, 0);
                }
                ok(kid > 0 && WIFSIGNALED(status), "the import was killed mid-upload");
                CHECK(ops->image_ensure(p, NULL, "test-kill.raw", raw, "raw", &vp, &err),
                      "the next import succeeds");
                o3 = runf("cmp %s %s && echo same", raw, vp ? vp : "/nonexistent");
                ok(strstr(o3, "same") != NULL, "and its volume is the whole image, not the "
                                               "half-written one");
                ok(!vmenv_path_exists(partf), "the interrupted upload's .part is gone");
                CHECK(ops->volume_delete(p, NULL, "test-kill.raw", &err), "delete it");
                unlink(raw);
        }
        CHECK(ops->overlay_create(p, NULL, "test-disk.img", "test-base.img", 0, &ov_path, &err),
              "overlay_create");
        free(out);
        out = runf("qemu-img info --output=json %s", ov_path ? ov_path : "/x");
        {
                _cleanup_free_ char *want =
                    vmenv_strdupf("\"backing-filename\": \"%s\"", base_path);
                struct stat st = {0};
                ok(strstr(out, want) != NULL, "overlay is backed by the base");
                ok(strstr(out, "\"virtual-size\": 21474836480") != NULL,
                   "overlay has the base's virtual size");
                int sr = ov_path ? stat(ov_path, &st) : -1;
                ok(sr == 0 && st.st_size < 1024 * 1024,
                   "overlay file is small (%lld bytes): a linked clone", (long long)st.st_size);
        }
        CHECK(ops->overlay_create(p, NULL, "test-disk.img", "test-base.img", 0, &ov_path2, &err),
              "overlay_create again accepts the existing clone");
        is_str(ov_path2, ov_path, "same overlay path");
        CHECK(ops->overlay_create(p, NULL, "test-big.img", "test-base.img", 30ULL << 30, &big_path,
                                  &err),
              "overlay_create larger than the base");
        free(out);
        out = runf("qemu-img info --output=json %s", big_path ? big_path : "/x");
        ok(strstr(out, "\"virtual-size\": 32212254720") != NULL, "grown overlay is 30 GiB");

        vmenv_error_clear(&err);
        ok(ops->volume_delete(p, NULL, "test-base.img", &err) < 0 &&
               err.code == VMENV_EXIT_FAILURE && strstr(err.msg, "'test-disk.img'") &&
               strstr(err.msg, "'test-big.img'"),
           "volume_delete refuses a base in use, naming the overlays");
        printf("#   %s\n", err.msg ? err.msg : "");
        CHECK(ops->volume_list(p, NULL, "test-", &names, &err), "volume_list");
        ok(vmenv_strv_len(names) == 3 && vmenv_streq(names[0], "test-base.img") &&
               vmenv_streq(names[2], "test-disk.img"),
           "volume_list gives the three volumes, sorted");
        vmenv_strv_free(names);
        names = NULL;

        /* A domain that boots the host's kernel (copied: libvirt relabels
         * what it boots) with no initramfs: enough to reach the serial
         * console and keep running. */
        kernel = vmenv_path_join(tmp, "vmlinuz");
        initrd = vmenv_path_join(tmp, "initrd.img");
        serial = vmenv_path_join(tmp, "serial.log");
        free(out);
        out =
            runf("k=$(ls /boot/vmlinuz-* | head -1); cp \"$k\" %s && echo \"${k#/boot/vmlinuz-}\"",
                 kernel);
        {
                /* A tiny initramfs: busybox, the virtio-net modules and,
                 * with dropbear installed, an SSH server that accepts the
                 * Vagrant insecure key (tests/integration/libvirt-initramfs.sh). */
                const char *src = getenv("VMENV_SRCDIR");
                _cleanup_free_ char *key_src =
                    first_glob("/usr/share/rubygems-integration/all/gems/vagrant-*/keys/vagrant");
                _cleanup_free_ char *o2 = NULL;
                char *nl = strchr(out, '\n');
                if (nl)
                        *nl = '\0';
                key = vmenv_path_join(tmp, "key");
                if (key_src)
                        o2 = runf("cp %s %s && chmod 0600 %s", key_src, key, key);
                free(o2);
                o2 = runf("sh %s/tests/integration/libvirt-initramfs.sh %s %s %s%s 2>&1",
                          src ? src : ".", tmp, out, key_src ? key_src : "", key_src ? ".pub" : "");
                have_initrd = vmenv_path_exists(initrd);
                have_ssh = strstr(o2, "ssh=yes") != NULL;
                if (!have_initrd)
                        printf("# no initramfs (%s): the guest network is not checked\n", o2);
        }
        if (vmenv_streq(uri, "qemu:///system")) {
                /* A disk QEMU's user cannot reach: the hint says why. */
                _cleanup_free_ char *priv = vmenv_path_join(tmp, "private");
                _cleanup_free_ char *img = vmenv_path_join(priv, "disk.qcow2");
                struct vmenv_disk_spec disk = {.path = img, .format = "qcow2"};
                struct vmenv_domain_spec s = {
                    .name = dom_name,
                    .memory = 128ULL << 20,
                    .cpus = 1,
                    .kvm = h.kvm,
                    .disks = &disk,
                    .n_disks = 1,
                };
                free(out);
                out = runf("mkdir -m 0700 %s && qemu-img create -q -f qcow2 %s 1G", priv, img);
                CHECK(ops->define(p, &s, &err), "define a domain whose disk is in a 0700 folder");
                vmenv_error_clear(&err);
                ok(ops->start(p, dom_name, NULL, &err) < 0 && err.code == VMENV_EXIT_NOPERM &&
                       err.hint && strstr(err.hint, "chmod o+x"),
                   "start: exit 77 with a hint about the folder's permissions");
                printf("#   %s\n", err.msg ? err.msg : "(none)");
                vmenv_error_clear(&err);
                CHECK(ops->undefine(p, dom_name, &err), "undefine it");
        }
        {
                /* A forwarded host port someone else holds: exit 1 with a
                 * hint, and the domain does not stay half-started. */
                struct sockaddr_in a = {.sin_family = AF_INET,
                                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
                socklen_t len = sizeof(a);
                int busy = socket(AF_INET, SOCK_STREAM, 0);
                struct vmenv_port_map fwd = {.host_ip = "127.0.0.1", .guest_port = 22};
                struct vmenv_domain_spec s = {
                    .name = dom_name,
                    .memory = 128ULL << 20,
                    .cpus = 1,
                    .kvm = h.kvm,
                    .kernel = kernel,
                    .ports = &fwd,
                    .n_ports = 1,
                };
                if (busy >= 0 && bind(busy, (struct sockaddr *)&a, sizeof(a)) == 0 &&
                    listen(busy, 1) == 0 && getsockname(busy, (struct sockaddr *)&a, &len) == 0) {
                        fwd.host_port = ntohs(a.sin_port);
                        CHECK(ops->define(p, &s, &err), "define a domain forwarding a busy port");
                        vmenv_error_clear(&err);
                        struct vmenv_port_taken t = {0};
                        ok(ops->start(p, dom_name, &t, &err) == VMENV_START_PORT_TAKEN &&
                               err.code == VMENV_EXIT_FAILURE && err.hint &&
                               strstr(err.hint, "forwarded host port"),
                           "start: the busy port is told apart, with a hint");
                        ok(t.host_port == fwd.host_port && !t.udp,
                           "and the forward QEMU could not set up is named (%d)", t.host_port);
                        printf("#   %s\n", err.msg ? err.msg : "(none)");
                        vmenv_error_clear(&err);
                        ok(state_of(p, dom_name) == VMENV_VM_SHUTOFF, "and the domain is shut off");
                        CHECK(ops->undefine(p, dom_name, &err), "undefine it");
                }
                if (busy >= 0)
                        close(busy);
        }
        /* Shared folders: a 9p one always, virtiofs where virtiofsd is
         * installed and the URI is the system one. World-writable, since QEMU (or virtiofsd) writes
         * as its own user. */
        share9p = vmenv_path_join(tmp, "share9p");
        sharevfs = vmenv_path_join(tmp, "sharevfs");
        free(out);
        out = runf("mkdir -m 0777 %s %s && echo from-host > %s/hello && echo from-host > %s/hello"
                   " && chmod 0644 %s/hello %s/hello",
                   share9p, sharevfs, share9p, sharevfs, share9p, sharevfs);
        {
                shares[0] =
                    (struct vmenv_fs_spec){.host_path = share9p, .tag = "vmenv9p", .type = "9p"};
                n_shares = 1;
                /* libvirt 9.0 runs virtiofsd only for privileged domains */
                if (vmenv_path_exists("/usr/lib/qemu/virtiofsd") &&
                    vmenv_streq(uri, "qemu:///system")) {
                        shares[1] = (struct vmenv_fs_spec){
                            .host_path = sharevfs, .tag = "vmenvvfs", .type = "virtiofs"};
                        n_shares = 2;
                }
        }
        port = free_port();
        do
                banner_port = free_port();
        while (banner_port == port);
        {
                struct vmenv_disk_spec disk = {.path = ov_path, .format = "qcow2"};
                struct vmenv_port_map fwd[] = {
                    {.host_ip = "127.0.0.1",
                     .host_port = port,
                     .guest_port = 22,
                     .protocol = "tcp"},
                    {.host_ip = "127.0.0.1",
                     .host_port = banner_port,
                     .guest_port = 2200,
                     .protocol = "tcp"},
                };
                struct vmenv_domain_spec s = {
                    .name = dom_name,
                    .title = "vmenv: test/default",
                    .project_dir = tmp,
                    .machine = "default",
                    .memory = 256ULL << 20,
                    .cpus = 1,
                    .kvm = h.kvm,
                    .disks = &disk,
                    .n_disks = 1,
                    .serial_log = serial,
                    .kernel = kernel,
                    .initrd = have_initrd ? initrd : NULL,
                    .cmdline = "console=ttyS0",
                    .ports = fwd,
                    .n_ports = 2,
                    .fs = shares,
                    .n_fs = n_shares,
                };
                ok(state_of(p, dom_name) == VMENV_VM_NOT_CREATED,
                   "state before define: not created");
                CHECK(ops->define(p, &s, &err), "define");
                ok(state_of(p, dom_name) == VMENV_VM_SHUTOFF, "state after define: shutoff");
                s.memory = 300ULL << 20;
                CHECK(ops->define(p, &s, &err), "define again (changed memory) redefines");
        }
        {
                /* A missing emulator is "unavailable", with what to install. */
                struct vmenv_domain_spec bad = {
                    .name = dom_name,
                    .memory = 128ULL << 20,
                    .cpus = 1,
                    .emulator = "/nonexistent/qemu-system-x86_64",
                };
                vmenv_error_clear(&err);
                ok(ops->define(p, &bad, &err) < 0 && err.code == VMENV_EXIT_UNAVAILABLE &&
                       err.hint && strstr(err.hint, "qemu-system-x86"),
                   "a missing emulator: exit 69 and a hint to install QEMU");
                printf("#   %s\n", err.msg ? err.msg : "(none)");
        }
        CHECK(ops->list(p, "vmenv-test-", &names, &err), "list");
        {
                bool found = false;
                for (char **n = names; n && *n; n++)
                        found |= vmenv_streq(*n, dom_name);
                ok(found, "list finds the domain by prefix");
        }
        vmenv_strv_free(names);
        names = NULL;

        CHECK(ops->start(p, dom_name, NULL, &err), "start");
        ok(state_of(p, dom_name) == VMENV_VM_RUNNING, "state: running");
        CHECK(ops->start(p, dom_name, NULL, &err), "start of a running domain is fine");
        ok(port_accepts(port), "the user-mode host forward listens on 127.0.0.1:%d", port);
        ok(log_has(serial, "Linux version", 300), "the kernel writes to the serial log");
        if (have_initrd) {
                /* End to end through the <qemu:commandline> network: the
                 * virtio-net device at pcie.0 slot 0x10 works in the guest
                 * and both host forwards reach the guest. */
                bool up = log_has(serial, "vmenv-guest-net-up", 600);
                _cleanup_free_ char *banner = NULL;
                ok(up, "the guest finds its virtio-net device and configures eth0");
                for (int i = 0; up && i < 20; i++) {
                        free(banner);
                        banner = read_banner(banner_port);
                        if (strstr(banner, "vmenv-guest-ok"))
                                break;
                        usleep(500000);
                }
                ok(banner && strstr(banner, "vmenv-guest-ok"),
                   "127.0.0.1:%d reaches the guest's port 2200 (got '%s')", banner_port,
                   banner ? banner : "");
                if (have_ssh) {
                        _cleanup_free_ char *o3 = NULL;
                        uint64_t t0 = vmenv_now_ns();
                        for (int i = 0; i < 30; i++) {
                                free(o3);
                                o3 = runf("ssh -q -o StrictHostKeyChecking=no "
                                          "-o UserKnownHostsFile=/dev/null -o BatchMode=yes "
                                          "-o ConnectTimeout=5 -o IdentitiesOnly=yes -i %s -p %d "
                                          "vagrant@127.0.0.1 'echo vmenv-ssh-ok; id -un' 2>&1",
                                          key, port);
                                if (strstr(o3, "vmenv-ssh-ok"))
                                        break;
                                sleep(1);
                        }
                        ok(strstr(o3, "vmenv-ssh-ok\nvagrant") != NULL,
                           "ssh -p %d vagrant@127.0.0.1 logs in with the insecure key", port);
                        if (!strstr(o3, "vmenv-ssh-ok")) {
                                _cleanup_free_ char *tail = runf("tail -n 25 %s", serial);
                                printf("# ssh said: %s# serial console:\n%s", o3, tail);
                        }
                        printf("# ssh answered after %.1f s more\n",
                               (double)(vmenv_now_ns() - t0) / 1e9);
                        for (size_t i = 0; i < n_shares; i++) {
                                /* The guest's unprivileged user reads the
                                 * host's file and writes a new one. */
                                const char *mnt = i == 0 ? "/mnt/9p" : "/mnt/vfs";
                                const char *host = i == 0 ? share9p : sharevfs;
                                _cleanup_free_ char *back = NULL, *bpath = NULL;
                                vmenv_error e4 = VMENV_ERROR_INIT;
                                free(o3);
                                o3 = runf("ssh -q -o StrictHostKeyChecking=no "
                                          "-o UserKnownHostsFile=/dev/null -o BatchMode=yes "
                                          "-o IdentitiesOnly=yes -i %s -p %d vagrant@127.0.0.1 "
                                          "'i=0; while ! grep -qs \" %s \" /proc/mounts && [ $i "
                                          "-lt 600 ]; do "
                                          "sleep 0.1; i=$((i+1)); done; "
                                          "cat %s/hello && echo from-guest > %s/new && echo wrote' "
                                          "2>&1",
                                          key, port, mnt, mnt, mnt);
                                ok(strstr(o3, "from-host\nwrote") != NULL,
                                   "%s share: the guest's user reads the host's file and writes",
                                   shares[i].type);
                                if (!strstr(o3, "wrote"))
                                        printf("#   %s", o3);
                                bpath = vmenv_path_join(host, "new");
                                if (vmenv_read_file(bpath, 4096, &back, NULL, &e4) < 0)
                                        vmenv_error_clear(&e4);
                                ok(back && vmenv_streq(back, "from-guest\n"),
                                   "%s share: the host sees the guest's file", shares[i].type);
                        }
                } else {
                        ok(1, "ssh login # SKIP no dropbear or no Vagrant key");
                }
        }
        CHECK(ops->suspend(p, dom_name, &err), "suspend");
        ok(state_of(p, dom_name) == VMENV_VM_PAUSED, "state: paused");
        CHECK(ops->resume(p, dom_name, &err), "resume");
        ok(state_of(p, dom_name) == VMENV_VM_RUNNING, "state: running again");
        CHECK(ops->poweroff(p, dom_name, &err), "poweroff");
        ok(state_of(p, dom_name) == VMENV_VM_SHUTOFF, "state: shutoff");
        CHECK(ops->poweroff(p, dom_name, &err), "poweroff of a stopped domain is fine");
        vmenv_error_clear(&err);
        ok(ops->suspend(p, dom_name, &err) < 0 && err.msg && strstr(err.msg, "shutoff"),
           "suspend of a stopped domain says why it cannot");
        CHECK(ops->start(p, dom_name, NULL, &err), "start again");
        CHECK(ops->undefine(p, dom_name, &err), "undefine stops and removes a running domain");
        ok(state_of(p, dom_name) == VMENV_VM_NOT_CREATED, "state: not created");
        CHECK(ops->undefine(p, dom_name, &err), "undefine of a missing domain is fine");
        vmenv_error_clear(&err);
        ok(ops->start(p, dom_name, NULL, &err) < 0 && err.code == VMENV_EXIT_NOINPUT,
           "start of a missing domain: no input");

        CHECK(ops->volume_delete(p, NULL, "test-disk.img", &err), "delete overlay");
        CHECK(ops->volume_delete(p, NULL, "test-big.img", &err), "delete the other overlay");
        CHECK(ops->volume_delete(p, NULL, "test-base.img", &err), "delete the base once unused");
        CHECK(ops->volume_delete(p, NULL, "test-base.img", &err),
              "delete of a missing volume is fine");
        CHECK(ops->volume_list(p, NULL, "", &names, &err), "volume_list");
        {
                /* The KVM check's firmware is vmenv's own content-named blob,
                 * uploaded once per pool and kept (kvm-check.c): it is there
                 * on a host whose /dev/kvm had to be checked. */
                size_t left = 0;
                for (size_t i = 0; names && names[i]; i++) {
                        if (!strncmp(names[i], "vmenv-kvm-check-", 16) &&
                            strstr(names[i], ".rom"))
                                continue;
                        printf("#   left in the pool: %s\n", names[i]);
                        left++;
                }
                ok(left == 0, "the pool is empty (but for the KVM check's firmware)");
        }
        vmenv_strv_free(names);

        vmenv_error_clear(&err);
        ok(ops->volume_list(p, "vmenv-no-such-pool", "", &names, &err) < 0 &&
               err.code == VMENV_EXIT_NOINPUT,
           "a named pool that does not exist is an error");
        vmenv_error_clear(&err);
        vmenv_host_info_clear(&h);
        ops->close(p);
        return done_testing();
}
