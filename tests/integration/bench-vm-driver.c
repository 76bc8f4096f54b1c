/* Drives the bench VM target against a real sshd on 127.0.0.1 standing in
 * for a guest, next to the host target, and prints the report as JSON.
 * usage: bench-vm-driver PROBE PORT USER KEY PID DISK
 * up/halt/destroy only reconnect (sshd stays up): the test checks the
 * target's SSH, upload, quoting and lifecycle plumbing, not boot times. */
#include <stdio.h>
#include <stdlib.h>

#include "vmenv/bench.h"
#include "vmenv/ssh.h"
#include "vmenv/util.h"

struct fake {
        int port, pid;
        const char *user, *key, *disk;
        int ups;
};

static int fake_target(void *ctx, struct vmenv_ssh_target *t, vmenv_error *err)
{
        struct fake *f = ctx;
        t->host = "127.0.0.1";
        t->port = f->port;
        t->user = f->user;
        t->key_path = f->key;
        t->connect_timeout_ms = 5000;
        t->tofu = true;
        return 0;
}

static int fake_up(void *ctx, vmenv_error *err)
{
        ((struct fake *)ctx)->ups++;
        return 0;
}

static int fake_nop(void *ctx, vmenv_error *err)
{
        return 0;
}

static int fake_pid(void *ctx, int *pid, vmenv_error *err)
{
        *pid = ((struct fake *)ctx)->pid;
        return 0;
}

static int fake_disk(void *ctx, char **path, vmenv_error *err)
{
        *path = vmenv_strdup(((struct fake *)ctx)->disk);
        return 0;
}

int main(int argc, char **argv)
{
        if (argc != 7) {
                fprintf(stderr, "usage: bench-vm-driver PROBE PORT USER KEY PID DISK\n");
                return 2;
        }
        struct fake f = {atoi(argv[2]), atoi(argv[5]), argv[3], argv[4], argv[6], 0};
        struct vmenv_bench_vm_ops ops = {
            .ctx = &f,
            .hypervisor = "tcg",
            .ssh_target = fake_target,
            .up = fake_up,
            .halt = fake_nop,
            .destroy = fake_nop,
            .qemu_pid = fake_pid,
            .disk_path = fake_disk,
        };
        /* no net: the fake guest is this host, and the failing probe's
         * case is about the guest, not the network server */
        struct vmenv_bench_opts o = {.runs = 2,
                                     .workloads = "cpu,mem,syscall,spawn,disk,meta",
                                     .scale = 0.02,
                                     .idle_seconds = 1,
                                     .probe_path = argv[1],
                                     .scratch_dir = "/var/tmp"};
        struct vmenv_bench_target *t[2] = {vmenv_bench_host_target_new(),
                                           vmenv_bench_vm_target_new(&ops)};
        struct vmenv_bench_report *rep = NULL;
        vmenv_error err = VMENV_ERROR_INIT;
        int rc = vmenv_bench_run(t, 2, &o, &rep, &err);
        vmenv_bench_target_free(t[0]);
        vmenv_bench_target_free(t[1]);
        if (rc < 0) {
                fprintf(stderr, "bench-vm-driver: %s\n", err.msg);
                vmenv_error_clear(&err);
                return 1;
        }
        char *json = vmenv_bench_json(rep);
        printf("%s\n", json);
        fprintf(stderr, "ups=%d\n", f.ups);
        free(json);
        vmenv_bench_report_free(rep);
        return 0;
}
