/* The host side of the network workloads: vmenv-probe --serve on
 * 127.0.0.1 (or, for the container's veth path, on a link-local address in
 * one of the bench's own network namespaces), started once per bench,
 * killed at its end and, should vmenv die first, by the kernel
 * (PR_SET_PDEATHSIG). Each target's probe is the client. The VM's bridge
 * paths start their server in the guest through the same code, with a
 * child function in place of the exec (bench-bridge.c). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmenv/bench.h"
#include "vmenv/util.h"

#define SERVE_WAIT_MS 10000

/* What the server said on stderr, or why it said nothing; true when it
 * has ended (and was reaped). */
static bool failure(int pid, int errfd, int wait_ms, char *why, size_t n)
{
        char msg[512] = "";
        int st = 0;
        pid_t w = 0;
        /* it may be exiting right now: give it a moment to be reaped */
        for (int i = 0; i < 100 && (w = waitpid(pid, &st, WNOHANG)) == 0; i++)
                usleep(10000);
        ssize_t got = read(errfd, msg, sizeof(msg) - 1);
        msg[got > 0 ? got : 0] = 0;
        msg[strcspn(msg, "\n")] = 0;
        if (w == pid && WIFEXITED(st))
                snprintf(why, n, "it exited with status %d: %s", WEXITSTATUS(st),
                         *msg ? msg : "(nothing on stderr)");
        else if (w == pid && WIFSIGNALED(st))
                snprintf(why, n, "it was killed by signal %d: %s", WTERMSIG(st),
                         *msg ? msg : "(nothing on stderr)");
        else
                snprintf(why, n, "it printed nothing in %d s%s%s", wait_ms / 1000, *msg ? ": " : "",
                         msg);
        return w == pid;
}

int vmenv_bench_server_start(const char *probe, struct vmenv_bench_server *s, vmenv_error *err)
{
        return vmenv_bench_server_start_in(probe, 0, NULL, s, err);
}

/* What the server's child does once its stdout and stderr are the pipes:
 * exec the probe (in a namespace), or run a guest's probe over SSH. */
struct serve_how {
        const char *probe, *bind;
        int nsfd, netns_pid;
        int (*child)(void *ctx);
        void *ctx;
        int wait_ms;
};

static void serve_child(const struct serve_how *h)
{
        if (h->child)
                _exit(h->child(h->ctx));
        if (h->nsfd >= 0 && setns(h->nsfd, CLONE_NEWNET) < 0) {
                dprintf(2, "cannot enter the network namespace of pid %d: %s\n", h->netns_pid,
                        strerror(errno));
                _exit(125);
        }
        if (h->bind)
                execl(h->probe, h->probe, "--serve", "--bind", h->bind, (char *)NULL);
        else
                execl(h->probe, h->probe, "--serve", (char *)NULL);
        dprintf(2, "cannot run '%s': %s\n", h->probe, strerror(errno));
        _exit(127);
}

static int serve_start(const struct serve_how *h, struct vmenv_bench_server *s, vmenv_error *err)
{
        int op[2], ep[2];
        memset(s, 0, sizeof(*s));
        if (pipe2(op, O_CLOEXEC) < 0)
                return vmenv_error_errno(err, VMENV_EXIT_IO, errno, "cannot create a pipe");
        if (pipe2(ep, O_CLOEXEC | O_NONBLOCK) < 0) {
                int saved = errno;
                close(op[0]), close(op[1]);
                return vmenv_error_errno(err, VMENV_EXIT_IO, saved, "cannot create a pipe");
        }
        pid_t parent = getpid(), pid = fork();
        if (pid < 0) {
                int saved = errno;
                close(op[0]), close(op[1]), close(ep[0]), close(ep[1]);
                return vmenv_error_errno(err, VMENV_EXIT_IO, saved, "cannot fork");
        }
        if (pid == 0) {
                /* set here too: the probe's own prctl comes after exec */
                if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                        _exit(126);
                dup2(op[1], 1);
                dup2(ep[1], 2);
                /* the stderr pipe is non-blocking for the parent's read only */
                fcntl(2, F_SETFL, fcntl(2, F_GETFL) & ~O_NONBLOCK);
                serve_child(h);
        }
        close(op[1]);
        close(ep[1]);

        char line[128] = "";
        size_t len = 0;
        struct pollfd pfd = {op[0], POLLIN, 0};
        uint64_t deadline = vmenv_now_ns() + (uint64_t)h->wait_ms * 1000000ULL;
        while (len < sizeof(line) - 1 && !memchr(line, '\n', len)) {
                uint64_t now = vmenv_now_ns();
                if (now >= deadline || poll(&pfd, 1, (int)((deadline - now) / 1000000) + 1) <= 0)
                        break;
                ssize_t n = read(op[0], line + len, sizeof(line) - 1 - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                len += (size_t)n;
                line[len] = 0;
        }
        close(op[0]);
        const char *p = strstr(line, "\"port\":");
        long port = p ? strtol(p + 7, NULL, 10) : 0;
        if (port < 1 || port > 65535) {
                char why[640];
                if (!failure(pid, ep[0], h->wait_ms, why, sizeof(why))) {
                        kill(pid, SIGKILL);
                        waitpid(pid, NULL, 0);
                }
                close(ep[0]);
                return vmenv_error_set(err, VMENV_EXIT_SOFTWARE,
                                       "the probe's network server printed no port: %s", why);
        }
        close(ep[0]);
        s->pid = pid;
        s->port = (int)port;
        return 0;
}

int vmenv_bench_server_start_in(const char *probe, int netns_pid, const char *bind,
                                struct vmenv_bench_server *s, vmenv_error *err)
{
        struct serve_how h = {.probe = probe,
                              .bind = bind,
                              .nsfd = -1,
                              .netns_pid = netns_pid,
                              .wait_ms = SERVE_WAIT_MS};
        memset(s, 0, sizeof(*s));
        if (netns_pid > 0) {
                char nspath[64];
                snprintf(nspath, sizeof(nspath), "/proc/%d/ns/net", netns_pid);
                if ((h.nsfd = open(nspath, O_RDONLY | O_CLOEXEC)) < 0)
                        return vmenv_error_errno(err, VMENV_EXIT_IO, errno, "cannot open '%s'",
                                                 nspath);
        }
        int rc = serve_start(&h, s, err);
        if (h.nsfd >= 0)
                close(h.nsfd);
        return rc;
}

int vmenv_bench_server_start_fn(int (*child)(void *ctx), void *ctx, int wait_ms,
                                struct vmenv_bench_server *s, vmenv_error *err)
{
        struct serve_how h = {.nsfd = -1, .child = child, .ctx = ctx, .wait_ms = wait_ms};
        return serve_start(&h, s, err);
}

void vmenv_bench_server_stop(struct vmenv_bench_server *s)
{
        if (s->pid > 0) {
                kill(s->pid, SIGKILL);
                while (waitpid(s->pid, NULL, 0) < 0 && errno == EINTR)
                        ;
        }
        s->pid = 0;
        s->port = 0;
}

bool vmenv_bench_net_args(char *const args[], const char *spec, char ***out)
{
        char **cmd = NULL;
        bool net = false, only = false;
        for (size_t i = 0; args[i]; i++) {
                bool has_value = args[i + 1] != NULL;
                if (has_value && vmenv_streq(args[i], "--only")) {
                        only = true;
                        net = vmenv_bench_list_has(args[i + 1], "net");
                        i++;
                        continue;
                }
                if (has_value && vmenv_streq(args[i], "--net")) {
                        net = net || !only;
                        i++;
                        continue;
                }
                vmenv_strv_push(&cmd, vmenv_strdup(args[i]));
        }
        if (!net) {
                vmenv_strv_free(cmd);
                *out = NULL;
                return false;
        }
        vmenv_strv_push(&cmd, vmenv_strdup("--only"));
        vmenv_strv_push(&cmd, vmenv_strdup("net"));
        vmenv_strv_push(&cmd, vmenv_strdup("--net"));
        vmenv_strv_push(&cmd, vmenv_strdup(spec));
        *out = cmd;
        return true;
}
