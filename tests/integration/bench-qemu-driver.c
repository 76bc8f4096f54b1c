/* Drives a full 'vmenv bench' (host, bubblewrap container, VM) where the VM
 * is the tiny box run by QEMU directly from this driver (no libvirt: the
 * machine commands are not wired yet): a qcow2 overlay on the box image as
 * 'vmenv up' makes it, user-mode network restricted to one SSH forward on
 * 127.0.0.1, KVM when it works, else TCG. up/halt/destroy start QEMU, kill
 * it by its pid, and delete the overlay.
 * usage: bench-qemu-driver PROBE BOX WORKDIR RUNS SCALE IDLE JSON-OUT SVG-OUT
 *        [--no-container] */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmenv/bench.h"
#include "vmenv/cleanup.h"
#include "vmenv/ssh.h"
#include "vmenv/util.h"

struct vmq {
        const char *work;
        char *base, *overlay, *key;
        int port;
        pid_t pid;
        bool kvm;
};

static int free_port(void)
{
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof(a);
        int s = socket(AF_INET, SOCK_STREAM, 0), port = 0;
        if (s >= 0 && bind(s, (struct sockaddr *)&a, sizeof(a)) == 0 &&
            getsockname(s, (struct sockaddr *)&a, &len) == 0)
                port = ntohs(a.sin_port);
        if (s >= 0)
                close(s);
        return port;
}

static int q_target(void *ctx, struct vmenv_ssh_target *t, vmenv_error *err)
{
        struct vmq *q = ctx;
        *t = (struct vmenv_ssh_target){.host = "127.0.0.1",
                                       .port = q->port,
                                       .user = "vagrant",
                                       .key_path = q->key,
                                       .connect_timeout_ms = 5000,
                                       .tofu = true};
        return 0;
}

static int q_halt(void *ctx, vmenv_error *err)
{
        struct vmq *q = ctx;
        if (q->pid > 0) {
                kill(q->pid, SIGTERM);
                waitpid(q->pid, NULL, 0);
                q->pid = -1;
        }
        return 0;
}

static int q_up(void *ctx, vmenv_error *err)
{
        struct vmq *q = ctx;
        if (q->pid > 0)
                return 0;
        if (!vmenv_path_exists(q->overlay)) {
                char *const argv[] = {(char *)"qemu-img",
                                      (char *)"create",
                                      (char *)"-q",
                                      (char *)"-f",
                                      (char *)"qcow2",
                                      (char *)"-F",
                                      (char *)"qcow2",
                                      (char *)"-b",
                                      q->base,
                                      q->overlay,
                                      NULL};
                if (vmenv_bench_spawn(argv, 4096, NULL, err) < 0)
                        return -1;
        }
        _cleanup_free_ char *drive = vmenv_strdupf("file=%s,format=qcow2,if=virtio", q->overlay);
        _cleanup_free_ char *net =
            vmenv_strdupf("user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:%d-:22", q->port);
        _cleanup_free_ char *console = vmenv_strdupf("file:%s/console.log", q->work);
        q->pid = fork();
        if (q->pid < 0)
                return vmenv_error_errno(err, VMENV_EXIT_IO, errno, "cannot fork");
        if (q->pid == 0) {
                int nul = open("/dev/null", O_RDWR);
                dup2(nul, 0), dup2(nul, 1), dup2(nul, 2);
                prctl(PR_SET_PDEATHSIG, SIGKILL); /* no VM outlives its test */
                execl("/usr/bin/qemu-system-x86_64", "qemu-system-x86_64", "-machine",
                      q->kvm ? "q35,accel=kvm" : "q35,accel=tcg", "-cpu", q->kvm ? "host" : "max",
                      "-smp", "1", "-m", "512", "-drive", drive, "-netdev", net, "-device",
                      "virtio-net-pci,netdev=n0", "-serial", console, "-monitor", "none",
                      "-display", "none", "-nodefaults", (char *)NULL);
                _exit(127);
        }
        /* QEMU refuses bad settings at once: say so instead of waiting
         * for SSH until the deadline */
        usleep(500000);
        int st;
        if (waitpid(q->pid, &st, WNOHANG) == q->pid) {
                q->pid = -1;
                return vmenv_error_set(err, VMENV_EXIT_UNAVAILABLE,
                                       "qemu exited at start (status %d); see %s/console.log",
                                       WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st),
                                       q->work);
        }
        return 0;
}

static int q_destroy(void *ctx, vmenv_error *err)
{
        struct vmq *q = ctx;
        q_halt(ctx, err);
        unlink(q->overlay);
        return 0;
}

static int q_pid(void *ctx, int *pid, vmenv_error *err)
{
        *pid = ((struct vmq *)ctx)->pid;
        return 0;
}

static int q_disk(void *ctx, char **path, vmenv_error *err)
{
        *path = vmenv_strdup(((struct vmq *)ctx)->overlay);
        return 0;
}

int main(int argc, char **argv)
{
        if (argc < 9) {
                fprintf(stderr, "usage: bench-qemu-driver PROBE BOX WORKDIR RUNS SCALE IDLE "
                                "JSON-OUT SVG-OUT [--no-container]\n");
                return 2;
        }
        vmenv_error err = VMENV_ERROR_INIT;
        /* KVM only when asked: bench-qemu.sh asks when vmenv's KVM check
         * (which runs guest code) says KVM works; /dev/kvm may accept
         * KVM_CREATE_VM and still stop every guest. */
        struct vmq q = {.work = argv[3],
                        .pid = -1,
                        .port = free_port(),
                        .kvm = vmenv_streq(getenv("VMENV_BENCH_KVM"), "1")};
        q.base = vmenv_path_join(q.work, "box.img");
        q.overlay = vmenv_path_join(q.work, "machine.qcow2");
        if (!(q.key = vmenv_insecure_key_path(&err))) {
                fprintf(stderr, "bench-qemu-driver: %s\n", err.msg);
                return 77;
        }
        char *const tar[] = {(char *)"tar",  (char *)"-xf",     argv[2], (char *)"-C",
                             (char *)q.work, (char *)"box.img", NULL};
        if (vmenv_bench_spawn(tar, 4096, NULL, &err) < 0 || q_up(&q, &err) < 0) {
                fprintf(stderr, "bench-qemu-driver: %s\n", err.msg);
                return 1;
        }
        struct vmenv_bench_vm_ops ops = {.ctx = &q,
                                         .hypervisor = q.kvm ? "kvm" : "tcg",
                                         .ssh_target = q_target,
                                         .up = q_up,
                                         .halt = q_halt,
                                         .destroy = q_destroy,
                                         .qemu_pid = q_pid,
                                         .disk_path = q_disk};
        struct vmenv_bench_opts o = {.runs = atoi(argv[4]),
                                     .scale = atof(argv[5]),
                                     .idle_seconds = atoi(argv[6]),
                                     .probe_path = argv[1],
                                     .scratch_dir = q.work};
        struct vmenv_bench_target *t[3];
        size_t n = 0;
        t[n++] = vmenv_bench_host_target_new();
        if (argc < 10 || strcmp(argv[9], "--no-container") != 0)
                if (!(t[n++] = vmenv_bench_container_target_new(argv[2], "bwrap", &err))) {
                        fprintf(stderr, "bench-qemu-driver: %s\n", err.msg);
                        return 1;
                }
        t[n++] = vmenv_bench_vm_target_new(&ops);
        struct vmenv_bench_report *rep = NULL;
        int rc = vmenv_bench_run(t, n, &o, &rep, &err);
        for (size_t i = 0; i < n; i++)
                vmenv_bench_target_free(t[i]);
        q_destroy(&q, NULL);
        unlink(q.base);
        if (rc < 0) {
                fprintf(stderr, "bench-qemu-driver: %s\n", err.msg);
                return 1;
        }
        vmenv_strv_push(&rep->results[n - 1]->notes,
                        vmenv_strdup("machine run by QEMU directly (test driver), not through "
                                     "libvirt: 1 vCPU, 512 MiB, user-mode network"));
        char *json = vmenv_bench_json(rep), *svg = vmenv_bench_svg(rep);
        if (vmenv_write_file_atomic(argv[7], json, strlen(json), 0644, &err) < 0 ||
            vmenv_write_file_atomic(argv[8], svg, strlen(svg), 0644, &err) < 0) {
                fprintf(stderr, "bench-qemu-driver: %s\n", err.msg);
                rc = -1;
        }
        vmenv_bench_print_table(rep, stdout);
        free(json);
        free(svg);
        vmenv_bench_report_free(rep);
        free(q.base);
        free(q.overlay);
        free(q.key);
        return rc < 0;
}
