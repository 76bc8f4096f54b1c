/* The container's second network path, "container-veth": the path docker's
 * default bridge gives a container, without the bridge and the NAT. The
 * bench makes two network namespaces of its own, S for a second probe
 * server and C for the container (bubblewrap --share-net inside C), joined
 * by a veth pair with link-local addresses (VETH_S/30 in S, VETH_C in C):
 * nothing routable, nothing in the root namespace touched. Each namespace
 * is held by a child of vmenv that sleeps with PR_SET_PDEATHSIG, so a kill
 * -9 of vmenv takes the holders, hence the namespaces and the veth pair,
 * with it; there are no /run/netns names to go stale. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmenv/bench.h"
#include "vmenv/cleanup.h"
#include "vmenv/log.h"
#include "vmenv/util.h"

#define VETH_S "169.254.77.1"
#define VETH_C "169.254.77.2"
#define VETH_PREFIX "/30"

struct veth {
        const struct vmenv_bench_target *ctr; /* bwrap's root filesystem */
        pid_t holder_s, holder_c;
        struct vmenv_bench_server server; /* in S, on VETH_S */
        char port[16];
};

/* A child in a network namespace of its own, sleeping until it is killed
 * or vmenv dies; its /proc/PID/ns/net is the namespace. */
static pid_t hold_netns(vmenv_error *err)
{
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return vmenv_error_errno(err, VMENV_EXIT_IO, errno, "cannot create a pipe");
        pid_t parent = getpid(), pid = fork();
        if (pid < 0) {
                int saved = errno;
                close(p[0]), close(p[1]);
                return vmenv_error_errno(err, VMENV_EXIT_IO, saved, "cannot fork");
        }
        if (pid == 0) {
                /* hold none of vmenv's files (its stdout above all: a
                 * reader waits for its end) */
                close(p[0]);
                int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
                if (nul >= 0)
                        dup2(nul, 0), dup2(nul, 1), dup2(nul, 2);
                if (p[1] != 3 && dup2(p[1], 3) == 3) {
                        close(p[1]);
                        p[1] = 3;
                }
                close_range(4, ~0U, 0);
                char ok = unshare(CLONE_NEWNET) == 0 ? 'y' : 'n';
                int saved = errno;
                prctl(PR_SET_NAME, "vmenv-netns");
                if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                        _exit(126);
                if (write(p[1], &ok, 1) != 1 || ok != 'y')
                        _exit(saved & 0x7f);
                close(p[1]);
                for (;;)
                        pause();
        }
        close(p[1]);
        char ok = 0;
        ssize_t n;
        while ((n = read(p[0], &ok, 1)) < 0 && errno == EINTR)
                ;
        close(p[0]);
        if (n == 1 && ok == 'y')
                return pid;
        int st = 0;
        kill(pid, SIGKILL);
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
                ;
        return vmenv_error_errno(err, VMENV_EXIT_UNAVAILABLE,
                                 WIFEXITED(st) && WEXITSTATUS(st) ? WEXITSTATUS(st) : EPERM,
                                 "cannot make a network namespace");
}

static void unhold(pid_t *pid)
{
        if (*pid > 0) {
                kill(*pid, SIGKILL);
                while (waitpid(*pid, NULL, 0) < 0 && errno == EINTR)
                        ;
        }
        *pid = 0;
}

/* argv run inside the network namespace held by pid, through nsenter. */
static char **in_netns(pid_t pid, char *const argv[])
{
        char **v = NULL;
        vmenv_strv_push(&v, vmenv_strdup("nsenter"));
        vmenv_strv_push(&v, vmenv_strdupf("--net=/proc/%d/ns/net", (int)pid));
        vmenv_strv_push(&v, vmenv_strdup("--"));
        for (size_t i = 0; argv[i]; i++)
                vmenv_strv_push(&v, vmenv_strdup(argv[i]));
        return v;
}

static int ip_in(pid_t pid, const char *const args[], vmenv_error *err)
{
        char *cmd[16];
        size_t n = 0;
        cmd[n++] = (char *)"ip";
        for (size_t i = 0; args[i] && n < VMENV_ARRAY_SIZE(cmd) - 1; i++)
                cmd[n++] = (char *)args[i];
        cmd[n] = NULL;
        char **argv = in_netns(pid, cmd);
        int rc = vmenv_bench_spawn(argv, 4096, NULL, err);
        vmenv_strv_free(argv);
        return rc;
}

/* S and C, the veth pair between them, addresses and links up. */
static int make_pair(struct veth *v, vmenv_error *err)
{
        if ((v->holder_s = hold_netns(err)) < 0 || (v->holder_c = hold_netns(err)) < 0)
                return -1;
        char cpid[16];
        snprintf(cpid, sizeof(cpid), "%d", (int)v->holder_c);
        const char *const add[] = {"link", "add",     "vmenv-s", "type", "veth", "peer",
                                   "name", "vmenv-c", "netns",   cpid,   NULL};
        const char *const s_addr[] = {"addr", "add", VETH_S VETH_PREFIX, "dev", "vmenv-s", NULL};
        const char *const s_up[] = {"link", "set", "vmenv-s", "up", NULL};
        const char *const c_addr[] = {"addr", "add", VETH_C VETH_PREFIX, "dev", "vmenv-c", NULL};
        const char *const c_up[] = {"link", "set", "vmenv-c", "up", NULL};
        const char *const lo_up[] = {"link", "set", "lo", "up", NULL};
        if (ip_in(v->holder_s, add, err) < 0 || ip_in(v->holder_s, s_addr, err) < 0 ||
            ip_in(v->holder_s, s_up, err) < 0 || ip_in(v->holder_s, lo_up, err) < 0 ||
            ip_in(v->holder_c, c_addr, err) < 0 || ip_in(v->holder_c, c_up, err) < 0 ||
            ip_in(v->holder_c, lo_up, err) < 0)
                return vmenv_error_prefix(err, "cannot join the bench's network namespaces by a "
                                               "veth pair");
        return 0;
}

static int veth_prepare(struct vmenv_bench_target *t, const struct vmenv_bench_opts *o,
                        struct vmenv_bench_result *r, vmenv_error *err)
{
        struct veth *v = t->data;
        if (make_pair(v, err) < 0)
                return -1;
        if (vmenv_bench_server_start_in(o->probe_path, v->holder_s, VETH_S, &v->server, err) < 0)
                return vmenv_error_prefix(err, "cannot start the server of the veth path");
        snprintf(v->port, sizeof(v->port), "%d", v->server.port);
        vmenv_bench_add_info(r, "runtime", "bwrap");
        vmenv_bench_add_info(r, "network", "veth " VETH_C " -> " VETH_S);
        vmenv_strv_push(&r->notes,
                        vmenv_strdup("network workloads only: bubblewrap in a network namespace "
                                     "of the bench's own, reaching the server in a second one "
                                     "through a veth pair (link-local /30, no bridge, no NAT); "
                                     "ratios are to the host's loopback"));
        return 0;
}

/* Only the network workloads, against the server in S: the --only list is
 * narrowed to "net" (nothing to do when it lacks it) and --net's port is
 * ours. */
static int veth_run(struct vmenv_bench_target *t, const struct vmenv_bench_opts *o,
                    char *const args[], char **out, vmenv_error *err)
{
        struct veth *v = t->data;
        (void)o;
        char **cmd = NULL;
        _cleanup_free_ char *spec = vmenv_strdupf("%s:%s", VETH_S, v->port);
        if (!vmenv_bench_net_args(args, spec, &cmd)) {
                *out = NULL;
                return 0;
        }
        vmenv_strv_push(&cmd, vmenv_strdup("--dir"));
        vmenv_strv_push(&cmd, vmenv_strdup("/tmp"));
        char **bw = vmenv_bench_container_bwrap_argv(v->ctr, o->probe_path, cmd);
        vmenv_strv_free(cmd);
        if (!bw)
                return vmenv_error_set(err, VMENV_EXIT_SOFTWARE,
                                       "the container's root filesystem is not ready");
        char **argv = in_netns(v->holder_c, bw);
        vmenv_strv_free(bw);
        int rc = vmenv_bench_spawn(argv, 1 << 20, out, err);
        vmenv_strv_free(argv);
        return rc;
}

static void veth_cleanup(struct vmenv_bench_target *t)
{
        struct veth *v = t->data;
        if (!v)
                return;
        vmenv_bench_server_stop(&v->server);
        unhold(&v->holder_c);
        unhold(&v->holder_s);
        free(v);
        t->data = NULL;
}

struct vmenv_bench_target *vmenv_bench_veth_target_new(const struct vmenv_bench_target *ctr)
{
        static const char *const needs[] = {"bwrap", "ip", "nsenter"};
        if (geteuid() != 0) {
                vmenv_info("bench: no container veth path: making network namespaces needs root");
                return NULL;
        }
        for (size_t i = 0; i < VMENV_ARRAY_SIZE(needs); i++)
                if (!vmenv_bench_in_path(needs[i])) {
                        vmenv_info("bench: no container veth path: %s is not installed", needs[i]);
                        return NULL;
                }
        struct veth *v = vmenv_calloc(1, sizeof(*v));
        v->ctr = ctr;
        struct vmenv_bench_target *t = vmenv_calloc(1, sizeof(*t));
        t->name = "container-veth";
        /* bench_run_once passes --net with the host server's port; veth_run
         * replaces it with ours */
        t->net_addr = VETH_S;
        t->label = vmenv_strdup("container (bwrap, veth)");
        t->data = v;
        t->prepare = veth_prepare;
        t->run = veth_run;
        t->cleanup = veth_cleanup;
        return t;
}
