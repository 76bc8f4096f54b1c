/* The VM's network path through a libvirt bridge: a machine on the NAT
 * network or on a private network has an address that this host reaches
 * directly, through the network's bridge (no forward, no user-mode stack),
 * as a user's browser or database client does. The bench measures that
 * path from the host: a probe server runs in the guest, bound to that
 * address, and the host's probe is the client. The guest's server is the
 * command of an SSH session held by a child of vmenv, so it lives exactly
 * as long as that session: the probe sets PR_SET_PDEATHSIG, and its parent
 * in the guest is the SSH server's process for the session, which ends when
 * the child is killed (at cleanup) or vmenv dies (the child has
 * PR_SET_PDEATHSIG too). Nothing stays listening in the guest. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmenv/bench.h"
#include "vmenv/cleanup.h"
#include "vmenv/log.h"
#include "vmenv/ssh.h"
#include "vmenv/util.h"

#define SSH_WAIT_NS (300ULL * 1000000000ULL)
#define SERVE_WAIT_MS 120000 /* an SSH login and a fork in a TCG guest */

struct bridge {
        struct vmenv_bench_vm_ops ops;
        char *kind, *network, *addr;      /* copies of the bridge's */
        struct vmenv_ssh *ssh;            /* upload and cleanup */
        char *dir;                        /* on the guest */
        struct vmenv_bench_server server; /* pid: the child holding the guest's server */
        char spec[64];                    /* "ADDR:PORT" of the guest's server */
};

static int bridge_connect(struct bridge *b, vmenv_error *err)
{
        struct vmenv_ssh_target st = {0};
        _cleanup_free_ char *last = NULL;
        if (b->ops.ssh_target(b->ops.ctx, &st, err) < 0)
                return -1;
        b->ssh = vmenv_ssh_wait(&st, vmenv_now_ns() + SSH_WAIT_NS, NULL, &last, err);
        return b->ssh ? 0 : vmenv_error_prefix(err, "cannot reach the machine over SSH");
}

/* In the child: its own SSH session, whose command is the guest's server;
 * the probe's port line and its stderr reach vmenv through the child's
 * stdout and stderr. Returns when the session ends. */
static int serve_in_guest(void *ctx)
{
        struct bridge *b = ctx;
        vmenv_error e = VMENV_ERROR_INIT;
        struct vmenv_ssh_target st = {0};
        struct vmenv_ssh *s = NULL;
        int status = 1;

        /* none of vmenv's connections (its SSH session, libvirt): the
         * child must not write to them, nor hold them open */
        close_range(3, ~0U, 0);
        /* vmenv stops reading its stderr once the port is known: a later
         * debug line (-v) would end the child, and the server with it */
        vmenv_log_level = VMENV_LOG_QUIET;
        _cleanup_free_ char *probe = vmenv_strdupf("%s/vmenv-probe", b->dir);
        _cleanup_free_ char *qprobe = vmenv_shell_quote(probe), *qaddr = vmenv_shell_quote(b->addr);
        /* exec: the probe's parent must be the SSH server's session process */
        _cleanup_free_ char *cmd = vmenv_strdupf("exec %s --serve --bind %s", qprobe, qaddr);
        if (b->ops.ssh_target(b->ops.ctx, &st, &e) < 0 || !(s = vmenv_ssh_connect(&st, NULL, &e)) ||
            vmenv_ssh_exec(s, cmd, NULL, 0, 1, 2, &status, &e) < 0) {
                dprintf(2, "cannot run the probe's server in the guest: %s\n", e.msg);
                status = 1;
        }
        vmenv_ssh_free(s);
        vmenv_error_clear(&e);
        return status > 0 && status < 256 ? status : 1;
}

static const char *path_text(const struct bridge *b, char *buf, size_t n)
{
        if (vmenv_streq(b->kind, "nat"))
                snprintf(buf, n, "the NAT network's bridge");
        else
                snprintf(buf, n, "the bridge of private network '%s'", b->network);
        return buf;
}

static int bridge_prepare(struct vmenv_bench_target *t, const struct vmenv_bench_opts *o,
                          struct vmenv_bench_result *r, vmenv_error *err)
{
        struct bridge *b = t->data;
        const char *hv = b->ops.hypervisor ? b->ops.hypervisor : "unknown";
        bool tcg = vmenv_startswith(hv, "tcg");
        bool named = !vmenv_streq(b->kind, "nat") && !vmenv_streq(b->network, "private");
        char path[128];

        free(t->label);
        t->label = vmenv_strdupf("vm (%s%s%s, %s)", b->kind, named ? " " : "",
                                 named ? b->network : "", tcg ? "TCG emulation" : "KVM");
        vmenv_bench_add_info(r, "hypervisor", hv);
        vmenv_bench_add_info(r, "path", b->kind);
        vmenv_bench_add_info(r, "network", b->network);
        vmenv_bench_add_info(r, "guest_address", b->addr);
        if (bridge_connect(b, err) < 0)
                return -1;
        b->dir = vmenv_strdupf("/var/tmp/vmenv-bench-net.%ld.%s", (long)getpid(), t->name);
        _cleanup_free_ char *qdir = vmenv_shell_quote(b->dir);
        _cleanup_free_ char *mk = vmenv_strdupf("mkdir -p %s", qdir);
        _cleanup_free_ char *out = NULL;
        int status = -1;
        if (vmenv_ssh_capture(b->ssh, mk, 4096, &out, &status, err) < 0)
                return -1;
        if (status != 0)
                return vmenv_error_set(err, VMENV_EXIT_FAILURE,
                                       "cannot create '%s' on the guest: exit status %d: %s",
                                       b->dir, status, out);
        _cleanup_free_ char *remote = vmenv_strdupf("%s/vmenv-probe", b->dir);
        if (vmenv_ssh_upload(b->ssh, o->probe_path, remote, 0755, err) < 0)
                return vmenv_error_prefix(err, "cannot copy the probe to the guest");
        if (vmenv_bench_server_start_fn(serve_in_guest, b, SERVE_WAIT_MS, &b->server, err) < 0)
                return vmenv_error_prefix(err,
                                          "cannot start the probe's server in the guest at "
                                          "'%s'",
                                          b->addr);
        snprintf(b->spec, sizeof(b->spec), "%s:%d", b->addr, b->server.port);
        vmenv_bench_add_info(r, "server", b->spec);
        vmenv_strv_push(&r->notes,
                        vmenv_strdupf("network workloads only: the host's probe to a probe "
                                      "server in the guest at %s, through %s (no forward, "
                                      "no user-mode stack); ratios are to the host's loopback",
                                      b->spec, path_text(b, path, sizeof(path))));
        if (tcg)
                vmenv_strv_push(&r->notes, vmenv_strdup("TCG: QEMU emulates the CPU in software, "
                                                        "the guest's network stack included"));
        return 0;
}

/* The host's probe, network workloads only, against the guest's server. */
static int bridge_run(struct vmenv_bench_target *t, const struct vmenv_bench_opts *o,
                      char *const args[], char **out, vmenv_error *err)
{
        struct bridge *b = t->data;
        char **cmd = NULL, **argv = NULL;
        if (!vmenv_bench_net_args(args, b->spec, &cmd)) {
                *out = NULL;
                return 0;
        }
        vmenv_strv_push(&argv, vmenv_strdup(o->probe_path));
        for (size_t i = 0; cmd[i]; i++)
                vmenv_strv_push(&argv, vmenv_strdup(cmd[i]));
        vmenv_strv_free(cmd);
        vmenv_strv_push(&argv, vmenv_strdup("--dir"));
        vmenv_strv_push(&argv, vmenv_strdup(o->scratch_dir));
        int rc = vmenv_bench_spawn(argv, 1 << 20, out, err);
        vmenv_strv_free(argv);
        return rc;
}

static void bridge_cleanup(struct vmenv_bench_target *t)
{
        struct bridge *b = t->data;
        if (!b)
                return;
        /* the session ends, and the guest's server with it */
        vmenv_bench_server_stop(&b->server);
        if (b->ssh && b->dir) {
                /* fails quietly when the VM's lifecycle figures restarted
                 * the machine meanwhile (start-cold: a new disk) */
                _cleanup_free_ char *q = vmenv_shell_quote(b->dir);
                _cleanup_free_ char *cmd = vmenv_strdupf("rm -rf %s", q);
                _cleanup_free_ char *out = NULL;
                vmenv_error e = VMENV_ERROR_INIT;
                int status;
                if (vmenv_ssh_capture(b->ssh, cmd, 4096, &out, &status, &e) < 0)
                        vmenv_debug("bench: %s", e.msg);
                vmenv_error_clear(&e);
        }
        vmenv_ssh_free(b->ssh);
        free(b->dir);
        free(b->kind);
        free(b->network);
        free(b->addr);
        free(b);
        t->data = NULL;
}

/* The target and its name in one block: vmenv_bench_target_free frees
 * both, and the name outlives cleanup. */
struct bridge_target {
        struct vmenv_bench_target t;
        char name[40];
};

struct vmenv_bench_target *vmenv_bench_bridge_target_new(const struct vmenv_bench_vm_ops *ops,
                                                         const struct vmenv_bench_vm_bridge *br)
{
        struct bridge *b = vmenv_calloc(1, sizeof(*b));
        b->ops = *ops;
        b->kind = vmenv_strdup(br->kind);
        b->network = vmenv_strdup(br->network ? br->network : br->kind);
        b->addr = vmenv_strdup(br->addr);
        struct bridge_target *bt = vmenv_calloc(1, sizeof(*bt));
        struct vmenv_bench_target *t = &bt->t;
        /* one name per path, at most 32 characters (the run reader's
         * limit); network names are a-z, 0-9 and '-', 16 at most */
        if (vmenv_streq(b->kind, "nat") || vmenv_streq(b->network, "private"))
                snprintf(bt->name, sizeof(bt->name), "vm-%.8s", b->kind);
        else
                snprintf(bt->name, sizeof(bt->name), "vm-private-%.21s", b->network);
        t->name = bt->name;
        /* bench_run_once passes --net with the host server's port;
         * bridge_run replaces it with the guest's */
        t->net_addr = b->addr;
        t->label = vmenv_strdup(bt->name);
        t->data = b;
        t->prepare = bridge_prepare;
        t->run = bridge_run;
        t->cleanup = bridge_cleanup;
        return t;
}
