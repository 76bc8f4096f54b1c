/* The VM target of vmenv bench, over SSH: the probe is uploaded to the
 * guest's own disk and run there; lifecycle figures come from timing up and
 * the first 'true' over SSH, and from QEMU's process and disk overlay on the
 * host. The machine commands provide struct vmenv_bench_vm_ops. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmenv/bench.h"
#include "vmenv/cleanup.h"
#include "vmenv/log.h"
#include "vmenv/ssh.h"
#include "vmenv/util.h"

#define SSH_WAIT_NS (600ULL * 1000000000ULL) /* TCG boots are slow */
#define PROBE_OUT_MAX (1 << 20)

struct vm {
        struct vmenv_bench_vm_ops ops;
        struct vmenv_ssh *ssh;
        char *dir;            /* on the guest */
        double disk_prepared; /* overlay bytes allocated before the workloads, or -1 */
};

/* Bytes the machine's overlay has allocated on the host: what this
 * instance adds beside the shared backing image. */
static int overlay_bytes(struct vm *v, double *bytes, vmenv_error *err)
{
        _cleanup_free_ char *path = NULL;
        struct stat st;
        if (v->ops.disk_path(v->ops.ctx, &path, err) < 0)
                return -1;
        if (stat(path, &st) < 0)
                return vmenv_error_errno(err, VMENV_EXIT_IO, errno, "cannot stat '%s'", path);
        *bytes = (double)st.st_blocks * 512;
        return 0;
}

static int vm_connect(struct vm *v, vmenv_error *err)
{
        struct vmenv_ssh_target st = {0};
        _cleanup_free_ char *last = NULL;
        vmenv_ssh_free(v->ssh);
        v->ssh = NULL;
        if (v->ops.ssh_target(v->ops.ctx, &st, err) < 0)
                return -1;
        v->ssh = vmenv_ssh_wait(&st, vmenv_now_ns() + SSH_WAIT_NS, NULL, &last, err);
        return v->ssh ? 0 : -1;
}

/* Runs cmd on the guest; a non-zero exit is an error quoting its output. */
static int vm_sh(struct vm *v, const char *cmd, char **out, vmenv_error *err)
{
        _cleanup_free_ char *text = NULL;
        int status = -1;
        if (vmenv_ssh_capture(v->ssh, cmd, PROBE_OUT_MAX, &text, &status, err) < 0)
                return -1;
        if (status != 0) {
                size_t n = strlen(text);
                const char *tail = n > 1000 ? text + n - 1000 : text;
                return vmenv_error_set(err, VMENV_EXIT_FAILURE,
                                       "guest command failed with exit status %d: %s", status,
                                       tail);
        }
        if (out)
                *out = TAKE_PTR(text);
        return 0;
}

static int vm_prepare(struct vmenv_bench_target *t, const struct vmenv_bench_opts *o,
                      struct vmenv_bench_result *r, vmenv_error *err)
{
        struct vm *v = t->data;
        bool tcg = vmenv_startswith(v->ops.hypervisor ? v->ops.hypervisor : "", "tcg");

        free(t->label);
        t->label = vmenv_strdup(tcg ? "vm (TCG emulation)" : "vm (KVM)");
        vmenv_bench_add_info(r, "hypervisor", v->ops.hypervisor ? v->ops.hypervisor : "unknown");
        if (vm_connect(v, err) < 0)
                return vmenv_error_prefix(err, "cannot reach the machine over SSH");
        /* before the disk workloads write to it: their files stay allocated
         * in the qcow2 overlay after deletion and are not the instance's cost */
        if (v->ops.disk_path && overlay_bytes(v, &v->disk_prepared, err) < 0)
                return -1;
        if (o->pin && v->ops.qemu_pid) {
                uint64_t mask[16];
                int pid;
                if (vmenv_bench_parse_cpus(o->pin, mask, err) < 0 ||
                    v->ops.qemu_pid(v->ops.ctx, &pid, err) < 0 ||
                    vmenv_bench_pin(pid, mask, err) < 0)
                        return vmenv_error_prefix(err, "cannot pin the VM's vCPUs");
                vmenv_bench_add_info(r, "pinned", o->pin);
        }

        /* The probe and its data live on the guest's own disk, not a tmpfs:
         * the disk figures must measure the VM's disk. */
        v->dir = vmenv_strdupf("/var/tmp/vmenv-bench.%ld", (long)getpid());
        _cleanup_free_ char *qdir = vmenv_shell_quote(v->dir);
        _cleanup_free_ char *mk =
            vmenv_strdupf("mkdir -p %s/data && (stat -f -c %%T %s 2>/dev/null "
                          "|| echo unknown)",
                          qdir, qdir);
        _cleanup_free_ char *fstype = NULL;
        if (vm_sh(v, mk, &fstype, err) < 0)
                return vmenv_error_prefix(err, "cannot create '%s' on the guest", v->dir);
        fstype[strcspn(fstype, "\n")] = 0;
        vmenv_strv_push(&r->notes, vmenv_strdupf("disk workloads write to %s on the guest (%s), "
                                                 "a qcow2 overlay on the host disk",
                                                 v->dir, fstype));
        if (vmenv_streq(fstype, "tmpfs"))
                vmenv_strv_push(&r->notes,
                                vmenv_strdup("warning: the guest's /var/tmp is a tmpfs: its disk "
                                             "figures measure memory"));
        if (!v->ops.net_addr)
                vmenv_strv_push(&r->notes,
                                vmenv_strdup(v->ops.n_bridges
                                                 ? "no network figures here: the guest is not on "
                                                   "user-mode networking; its network path is "
                                                   "the 'vm (nat ...)' target's"
                                                 : "no network figures: the guest is not on "
                                                   "user-mode networking, so no address of it "
                                                   "reaches the host's 127.0.0.1"));
        if (tcg)
                vmenv_strv_push(&r->notes, vmenv_strdup("TCG: QEMU emulates the CPU in software; "
                                                        "these figures are emulation, not "
                                                        "virtualisation"));
        _cleanup_free_ char *remote = vmenv_strdupf("%s/vmenv-probe", v->dir);
        if (vmenv_ssh_upload(v->ssh, o->probe_path, remote, 0755, err) < 0)
                return vmenv_error_prefix(err, "cannot copy the probe to the guest");
        return 0;
}

static int vm_run(struct vmenv_bench_target *t, const struct vmenv_bench_opts *o,
                  char *const args[], char **out, vmenv_error *err)
{
        struct vm *v = t->data;
        struct vmenv_buf cmd = {0};
        _cleanup_free_ char *probe = vmenv_strdupf("%s/vmenv-probe", v->dir);
        _cleanup_free_ char *data = vmenv_strdupf("%s/data", v->dir);
        _cleanup_free_ char *qprobe = vmenv_shell_quote(probe), *qdata = vmenv_shell_quote(data);

        vmenv_buf_puts(&cmd, qprobe);
        for (size_t i = 0; args[i]; i++) {
                _cleanup_free_ char *q = vmenv_shell_quote(args[i]);
                vmenv_buf_printf(&cmd, " %s", q);
        }
        /* stderr joins stdout only on failure, so the JSON lines stay clean */
        vmenv_buf_printf(&cmd,
                         " --dir %s 2>%s/stderr || { s=$?; tail -c 1000 %s/stderr; exit $s; }",
                         qdata, qdata, qdata);
        _cleanup_free_ char *c = vmenv_buf_steal(&cmd);
        return vm_sh(v, c, out, err);
}

/* Time from 'up' to the first 'true' over SSH, in ms. */
static int time_up(struct vm *v, double *ms, vmenv_error *err)
{
        uint64_t t0 = vmenv_now_ns();
        if (v->ops.up(v->ops.ctx, err) < 0 || vm_connect(v, err) < 0 ||
            vm_sh(v, "true", NULL, err) < 0)
                return -1;
        *ms = (double)(vmenv_now_ns() - t0) / 1e6;
        return 0;
}

static int vm_lifecycle(struct vmenv_bench_target *t, const struct vmenv_bench_opts *o,
                        struct vmenv_bench_result *r, vmenv_error *err)
{
        struct vm *v = t->data;
        double ms;

        if (v->ops.qemu_pid) {
                int pid;
                if (v->ops.qemu_pid(v->ops.ctx, &pid, err) < 0 ||
                    vmenv_bench_lifecycle_procs(pid, o->idle_seconds, 1, r, err) < 0)
                        return -1;
        }
        if (v->ops.up && v->ops.halt)
                for (int run = 1; run <= o->runs; run++) {
                        if (v->ops.halt(v->ops.ctx, err) < 0 || time_up(v, &ms, err) < 0)
                                return vmenv_error_prefix(err, "cannot time a start of the "
                                                               "stopped machine");
                        vmenv_bench_add(r, "start-stopped", run, ms, "ms");
                }
        /* From nothing: once, as it re-creates the machine's disk too. */
        if (v->ops.up && v->ops.destroy) {
                if (v->ops.destroy(v->ops.ctx, err) < 0 || time_up(v, &ms, err) < 0)
                        return vmenv_error_prefix(err, "cannot time a start from nothing");
                vmenv_bench_add(r, "start-cold", 1, ms, "ms");
                /* a new instance, booted once: exactly what one more adds */
                if (v->ops.disk_path && overlay_bytes(v, &v->disk_prepared, err) < 0)
                        return -1;
                vmenv_strv_push(&r->notes,
                                vmenv_strdup("disk-added: the overlay's allocation right after "
                                             "a fresh instance's first boot"));
        } else if (v->disk_prepared >= 0) {
                vmenv_strv_push(&r->notes,
                                vmenv_strdup("disk-added: the overlay's allocation before the "
                                             "disk workloads ran"));
        }
        if (v->ops.disk_path && v->disk_prepared >= 0)
                vmenv_bench_add(r, "disk-added", 1, v->disk_prepared, "bytes");
        return 0;
}

static void vm_cleanup(struct vmenv_bench_target *t)
{
        struct vm *v = t->data;
        if (!v)
                return;
        if (v->ssh && v->dir) {
                _cleanup_free_ char *q = vmenv_shell_quote(v->dir);
                _cleanup_free_ char *cmd = vmenv_strdupf("rm -rf %s", q);
                vmenv_error e = VMENV_ERROR_INIT;
                int status;
                _cleanup_free_ char *out = NULL;
                if (vmenv_ssh_capture(v->ssh, cmd, 4096, &out, &status, &e) < 0)
                        vmenv_debug("bench: %s", e.msg);
                vmenv_error_clear(&e);
        }
        vmenv_ssh_free(v->ssh);
        free(v->dir);
        free(v);
        t->data = NULL;
}

struct vmenv_bench_target *vmenv_bench_vm_target_new(const struct vmenv_bench_vm_ops *ops)
{
        struct vm *v = vmenv_calloc(1, sizeof(*v));
        v->ops = *ops;
        v->disk_prepared = -1;
        struct vmenv_bench_target *t = vmenv_calloc(1, sizeof(*t));
        t->name = "vm";
        t->net_addr = v->ops.net_addr;
        t->label = vmenv_strdup("vm");
        t->data = v;
        t->prepare = vm_prepare;
        t->run = vm_run;
        t->lifecycle = vm_lifecycle;
        t->cleanup = vm_cleanup;
        return t;
}
