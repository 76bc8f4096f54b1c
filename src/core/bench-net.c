/* The host side of the network workloads: vmenv-probe --serve on
 * 127.0.0.1 (or, for the container's veth path, on a link-local address in
 * one of the bench's own network namespaces), started once per bench,
 * killed at its end and, should vmenv die first, by the kernel
 * (PR_SET_PDEATHSIG). Each target's probe is the client. */
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

/* What the server said on stderr, or why it said nothing. */
/* true when it has ended (and was reaped) */
static bool failure(int pid, int errfd, char *why, size_t n)
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
                snprintf(why, n, "it printed nothing in %d s%s%s", SERVE_WAIT_MS / 1000,
                         *msg ? ": " : "", msg);
        return w == pid;
}

int vmenv_bench_server_start(const char *probe, struct vmenv_bench_server *s, vmenv_error *err)
{
        return vmenv_bench_server_start_in(probe, 0, NULL, s, err);
}

int vmenv_bench_server_start_in(const char *probe, int netns_pid, const char *bind,
                                struct vmenv_bench_server *s, vmenv_error *err)
{
        int op[2], ep[2], nsfd = -1;
        memset(s, 0, sizeof(*s));
        if (netns_pid > 0) {
                char nspath[64];
                snprintf(nspath, sizeof(nspath), "/proc/%d/ns/net", netns_pid);
                if ((nsfd = open(nspath, O_RDONLY | O_CLOEXEC)) < 0)
                        return vmenv_error_errno(err, VMENV_EXIT_IO, errno, "cannot open '%s'",
                                                 nspath);
        }
        if (pipe2(op, O_CLOEXEC) < 0) {
                int saved = errno;
                if (nsfd >= 0)
                        close(nsfd);
                return vmenv_error_errno(err, VMENV_EXIT_IO, saved, "cannot create a pipe");
        }
        if (pipe2(ep, O_CLOEXEC | O_NONBLOCK) < 0) {
                int saved = errno;
                close(op[0]), close(op[1]);
                if (nsfd >= 0)
                        close(nsfd);
                return vmenv_error_errno(err, VMENV_EXIT_IO, saved, "cannot create a pipe");
        }
        pid_t parent = getpid(), pid = fork();
        if (pid < 0) {
                int saved = errno;
                close(op[0]), close(op[1]), close(ep[0]), close(ep[1]);
                if (nsfd >= 0)
                        close(nsfd);
                return vmenv_error_errno(err, VMENV_EXIT_IO, saved, "cannot fork");
        }
        if (pid == 0) {
                /* set here too: the probe's own prctl comes after exec */
                if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                        _exit(126);
                dup2(op[1], 1);
                dup2(ep[1], 2);
                if (nsfd >= 0 && setns(nsfd, CLONE_NEWNET) < 0) {
                        dprintf(2, "cannot enter the network namespace of pid %d: %s\n", netns_pid,
                                strerror(errno));
                        _exit(125);
                }
                if (bind)
                        execl(probe, probe, "--serve", "--bind", bind, (char *)NULL);
                else
                        execl(probe, probe, "--serve", (char *)NULL);
                dprintf(2, "cannot run '%s': %s\n", probe, strerror(errno));
                _exit(127);
        }
        if (nsfd >= 0)
                close(nsfd);
        close(op[1]);
        close(ep[1]);

        char line[128] = "";
        size_t len = 0;
        struct pollfd pfd = {op[0], POLLIN, 0};
        uint64_t deadline = vmenv_now_ns() + SERVE_WAIT_MS * 1000000ULL;
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
                if (!failure(pid, ep[0], why, sizeof(why))) {
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
