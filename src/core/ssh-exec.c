/* Running commands over an SSH session: exec channels with streamed or
 * captured output and exit statuses, uploads, and the interactive shell. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "ssh-private.h"
#include "vmenv/cleanup.h"
#include "vmenv/log.h"
#include "vmenv/util.h"

#define IO_CHUNK 32768

/* libssh's reason, never empty (a block-scoped buffer per use) */
#define REASON(s) vmenv_ssh_reason((s)->session, (char[128]){0}, 128)

/* ---- running commands ------------------------------------------------ */

struct exit_info {
        int status; /* -1 until known */
        int signal; /* 0 unless killed */
};

static const struct {
        const char *name;
        int num;
} signal_names[] = {
    {"HUP", 1},   {"INT", 2},   {"QUIT", 3},  {"ILL", 4},   {"TRAP", 5},
    {"ABRT", 6},  {"BUS", 7},   {"FPE", 8},   {"KILL", 9},  {"USR1", 10},
    {"SEGV", 11}, {"USR2", 12}, {"PIPE", 13}, {"ALRM", 14}, {"TERM", 15},
};

static void on_exit_status(ssh_session session, ssh_channel channel, int status, void *userdata)
{
        struct exit_info *x = userdata;

        (void)session, (void)channel;
        x->status = status;
}

static void on_exit_signal(ssh_session session, ssh_channel channel, const char *signal, int core,
                           const char *errmsg, const char *lang, void *userdata)
{
        struct exit_info *x = userdata;

        (void)session, (void)channel, (void)core, (void)errmsg, (void)lang;
        x->signal = 64; /* unknown names still count as killed */
        for (size_t i = 0; i < VMENV_ARRAY_SIZE(signal_names); i++)
                if (signal && strcmp(signal, signal_names[i].name) == 0)
                        x->signal = signal_names[i].num;
}

/* Set by signal handlers while a terminal is in raw mode: the loop sees them
 * and returns, so the terminal is restored on every way out. */
static volatile sig_atomic_t winch_seen, stop_seen;

static void on_winch(int sig)
{
        (void)sig;
        winch_seen = 1;
}

static void on_stop(int sig)
{
        stop_seen = sig;
}

static void send_window_size(ssh_channel ch)
{
        struct winsize ws;

        if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
                ssh_channel_change_pty_size(ch, ws.ws_col, ws.ws_row);
}

/* Pumps input into ch and its output out until the remote side ends, then
 * fills *exit_status (128+n for signal n). */
static int channel_pump(struct vmenv_ssh *s, ssh_channel ch, struct exit_info *x, struct io *io,
                        const char *what, int *exit_status, vmenv_error *err)
{
        char buf[IO_CHUNK];
        char inbuf[IO_CHUNK];
        size_t in_off = 0, pend_off = 0, pend_len = 0;
        bool in_open = io->in || io->in_fd >= 0;
        bool in_ready = false;
        int sfd = ssh_get_fd(s->session);

        if (!in_open && ssh_channel_send_eof(ch) != SSH_OK)
                goto ssh_failed;
        for (;;) {
                bool busy = false;
                struct pollfd pfd[2];
                int n = 0, r;

                /* output first: it frees the peer's window */
                for (int is_err = 0; is_err <= 1; is_err++) {
                        for (;;) {
                                int got =
                                    ssh_channel_read_nonblocking(ch, buf, sizeof(buf), is_err);
                                int fd = is_err ? io->err_fd : io->out_fd;
                                if (got == SSH_ERROR)
                                        goto ssh_failed;
                                if (got <= 0)
                                        break;
                                busy = true;
                                if (!is_err && io->cap) {
                                        if (io->cap->len + (size_t)got > io->cap_max)
                                                return vmenv_error_set(
                                                    err, VMENV_EXIT_DATA,
                                                    "output of %s exceeds %zu bytes", what,
                                                    io->cap_max);
                                        vmenv_buf_add(io->cap, buf, (size_t)got);
                                }
                                if (fd >= 0 && vmenv_write_all(fd, buf, (size_t)got) < 0)
                                        return vmenv_error_errno(err, VMENV_EXIT_IO, errno,
                                                                 "cannot pass on the output of %s",
                                                                 what);
                        }
                }
                /* input, as far as the peer's window allows */
                while (in_open) {
                        uint32_t win = ssh_channel_window_size(ch);
                        const char *p;
                        size_t avail;
                        int w;

                        if (io->in) {
                                p = io->in + in_off;
                                avail = io->in_len - in_off;
                        } else {
                                if (pend_off == pend_len) {
                                        ssize_t got;
                                        if (!in_ready || win == 0)
                                                break;
                                        got = read(io->in_fd, inbuf, sizeof(inbuf));
                                        in_ready = false;
                                        if (got < 0 && (errno == EINTR || errno == EAGAIN))
                                                break;
                                        if (got < 0)
                                                return vmenv_error_errno(
                                                    err, VMENV_EXIT_IO, errno,
                                                    "cannot read the input of %s", what);
                                        pend_off = 0;
                                        pend_len = (size_t)got;
                                }
                                p = inbuf + pend_off;
                                avail = pend_len - pend_off;
                        }
                        if (avail == 0) {
                                in_open = false;
                                if (ssh_channel_send_eof(ch) != SSH_OK)
                                        goto ssh_failed;
                                busy = true;
                                break;
                        }
                        if (win == 0)
                                break;
                        if (avail > win)
                                avail = win;
                        if (avail > IO_CHUNK)
                                avail = IO_CHUNK;
                        w = ssh_channel_write(ch, p, (uint32_t)avail);
                        if (w == SSH_ERROR)
                                goto ssh_failed;
                        if (io->in)
                                in_off += (size_t)w;
                        else
                                pend_off += (size_t)w;
                        /* the next read waits for poll: stdin may be a terminal */
                        busy = true;
                }
                if (ssh_channel_is_eof(ch) || ssh_channel_is_closed(ch))
                        break;
                if (io->pty && winch_seen) {
                        winch_seen = 0;
                        send_window_size(ch);
                }
                if (io->pty && stop_seen)
                        return vmenv_error_set(err, VMENV_EXIT_FAILURE, "%s interrupted by SIG%s",
                                               what, sigabbrev_np(stop_seen));
                if (busy)
                        continue;
                if (io->tick && io->tick(io->tick_ctx, err) < 0)
                        return -1;
                if (io->deadline_ns && vmenv_now_ns() >= io->deadline_ns)
                        return vmenv_error_set(err, VMENV_EXIT_NETWORK,
                                               "%s on %s:%d did not finish in time", what, s->host,
                                               s->port);
                pfd[n++] = (struct pollfd){.fd = sfd, .events = POLLIN};
                if (in_open && io->in_fd >= 0 && pend_off == pend_len &&
                    ssh_channel_window_size(ch) > 0)
                        pfd[n++] = (struct pollfd){.fd = io->in_fd, .events = POLLIN};
                r = poll(pfd, (nfds_t)n, io->deadline_ns ? 200 : 1000);
                if (r < 0 && errno != EINTR)
                        return vmenv_error_errno(err, VMENV_EXIT_IO, errno, "poll");
                if (r > 0 && n > 1 && (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)))
                        in_ready = true;
                if (r > 0 && (pfd[0].revents & (POLLHUP | POLLERR)) && !(pfd[0].revents & POLLIN))
                        return vmenv_error_set(err, VMENV_EXIT_NETWORK,
                                               "connection to %s:%d lost while running %s", s->host,
                                               s->port, what);
        }
        /* the exit status travels just before the channel closes */
        ssh_channel_get_exit_status(ch);
        if (x->signal) {
                *exit_status = 128 + x->signal;
                return 0;
        }
        if (x->status >= 0) {
                *exit_status = x->status;
                return 0;
        }
        return vmenv_error_set(err, VMENV_EXIT_NETWORK,
                               "%s ended without an exit status (connection to %s:%d lost?)", what,
                               s->host, s->port);
ssh_failed:
        return vmenv_error_set(err, VMENV_EXIT_NETWORK, "ssh to %s:%d failed while running %s: %s",
                               s->host, s->port, what, REASON(s));
}

static void channel_endp(ssh_channel *ch)
{
        if (*ch) {
                if (ssh_channel_is_open(*ch))
                        ssh_channel_close(*ch);
                ssh_channel_free(*ch);
        }
}

/* Opens a session channel with exit callbacks; cmd NULL means a shell. */
/* With a deadline, a libssh request runs non-blocking: the caller's tick
 * (the boot wait's watcher) is called meanwhile, and the deadline bounds
 * it. Without one it blocks, bounded by the session's timeout. */
static int await(struct vmenv_ssh *s, struct io *io, int (*req)(ssh_channel, const void *),
                 ssh_channel ch, const void *arg, vmenv_error *err)
{
        int rc;

        if (!io || !io->deadline_ns)
                return req(ch, arg) == SSH_OK ? 0 : 1;
        ssh_set_blocking(s->session, 0);
        while ((rc = req(ch, arg)) == SSH_AGAIN) {
                struct pollfd pfd = {.fd = ssh_get_fd(s->session), .events = POLLIN};
                if (io->tick && io->tick(io->tick_ctx, err) < 0) {
                        ssh_set_blocking(s->session, 1);
                        return -1;
                }
                if (vmenv_now_ns() >= io->deadline_ns)
                        break;
                poll(&pfd, 1, 200);
        }
        ssh_set_blocking(s->session, 1);
        return rc == SSH_OK ? 0 : 1;
}

static int req_open(ssh_channel ch, const void *arg)
{
        (void)arg;
        return ssh_channel_open_session(ch);
}

static int req_exec(ssh_channel ch, const void *cmd)
{
        return ssh_channel_request_exec(ch, cmd);
}

/* Opens a session channel with exit callbacks. */
static ssh_channel open_channel(struct vmenv_ssh *s, struct ssh_channel_callbacks_struct *cb,
                                struct exit_info *x, struct io *io, vmenv_error *err)
{
        ssh_channel ch = ssh_channel_new(s->session);
        int r = 1;

        if (!ch)
                abort();
        *x = (struct exit_info){.status = -1};
        *cb = (struct ssh_channel_callbacks_struct){
            .userdata = x,
            .channel_exit_status_function = on_exit_status,
            .channel_exit_signal_function = on_exit_signal,
        };
        ssh_callbacks_init(cb);
        if (ssh_set_channel_callbacks(ch, cb) != SSH_OK ||
            (r = await(s, io, req_open, ch, NULL, err)) != 0) {
                if (r > 0)
                        vmenv_error_set(err, VMENV_EXIT_NETWORK,
                                        "cannot open an ssh channel to %s:%d: %s", s->host, s->port,
                                        REASON(s));
                ssh_channel_free(ch);
                return NULL;
        }
        return ch;
}

int vmenv_ssh_run_io(struct vmenv_ssh *s, const char *cmd, struct io *io, int *exit_status,
                     vmenv_error *err)
{
        _cleanup_(channel_endp) ssh_channel ch = NULL;
        struct ssh_channel_callbacks_struct cb;
        struct exit_info x;
        _cleanup_free_ char *what = NULL;
        size_t n = strlen(cmd);
        int r;

        what = n > 60 ? vmenv_strdupf("'%.57s...'", cmd) : vmenv_strdupf("'%s'", cmd);
        if (!(ch = open_channel(s, &cb, &x, io, err)))
                return -1;
        if ((r = await(s, io, req_exec, ch, cmd, err)) != 0)
                return r < 0
                           ? -1
                           : vmenv_error_set(err, VMENV_EXIT_NETWORK, "cannot run %s on %s:%d: %s",
                                             what, s->host, s->port, REASON(s));
        return channel_pump(s, ch, &x, io, what, exit_status, err);
}

int vmenv_ssh_exec(struct vmenv_ssh *s, const char *cmd, const void *stdin_data, size_t stdin_len,
                   int out_fd, int err_fd, int *exit_status, vmenv_error *err)
{
        struct io io = {
            .in = stdin_data, .in_len = stdin_len, .in_fd = -1, .out_fd = out_fd, .err_fd = err_fd};
        int status = 0;

        if (!stdin_data)
                io.in_len = 0;
        if (vmenv_ssh_run_io(s, cmd, &io, &status, err) < 0)
                return -1;
        if (exit_status)
                *exit_status = status;
        return 0;
}

int vmenv_ssh_capture(struct vmenv_ssh *s, const char *cmd, size_t max, char **out,
                      int *exit_status, vmenv_error *err)
{
        struct vmenv_buf b = {0};
        struct io io = {.in_fd = -1, .out_fd = -1, .err_fd = -1, .cap = &b, .cap_max = max};
        int status = 0;

        if (vmenv_ssh_run_io(s, cmd, &io, &status, err) < 0) {
                vmenv_buf_free(&b);
                return -1;
        }
        *out = vmenv_buf_steal(&b);
        if (exit_status)
                *exit_status = status;
        return 0;
}

int vmenv_ssh_upload_fd(struct vmenv_ssh *s, int fd, const char *remote_path, int mode,
                        vmenv_error *err)
{
        _cleanup_free_ char *q = vmenv_shell_quote(remote_path);
        _cleanup_free_ char *tmp = vmenv_strdupf("%s.vmenv-upload", remote_path);
        _cleanup_free_ char *qt = vmenv_shell_quote(tmp);
        _cleanup_free_ char *cmd = NULL;
        struct io io = {.in_fd = fd, .out_fd = -1, .err_fd = -1};
        int status = 0;

        cmd = vmenv_strdupf("cat > %s && chmod %o %s && mv -f %s %s || { rc=$?; rm -f %s; exit "
                            "$rc; }",
                            qt, (unsigned)(mode & 07777), qt, qt, q, qt);
        if (vmenv_ssh_run_io(s, cmd, &io, &status, err) < 0)
                return vmenv_error_prefix(err, "cannot upload to '%s'", remote_path);
        if (status != 0)
                return vmenv_error_set(err, VMENV_EXIT_FAILURE,
                                       "cannot upload to '%s': remote command exited with %d",
                                       remote_path, status);
        return 0;
}

int vmenv_ssh_upload(struct vmenv_ssh *s, const char *local_path, const char *remote_path, int mode,
                     vmenv_error *err)
{
        _cleanup_close_ int fd = open(local_path, O_RDONLY | O_CLOEXEC);

        if (fd < 0)
                return vmenv_error_errno(err, vmenv_exit_for_errno(errno), errno,
                                         "cannot open '%s'", local_path);
        return vmenv_ssh_upload_fd(s, fd, remote_path, mode, err);
}

/* ---- interactive shell ----------------------------------------------- */

int vmenv_ssh_shell(struct vmenv_ssh *s, const char *cmd, int *exit_status, vmenv_error *err)
{
        _cleanup_(channel_endp) ssh_channel ch = NULL;
        struct ssh_channel_callbacks_struct cb;
        struct exit_info x;
        struct termios saved, raw;
        struct sigaction sa = {.sa_handler = on_winch}, sa_stop = {.sa_handler = on_stop};
        struct sigaction old_sa, old_term, old_hup;
        struct io io = {.in_fd = STDIN_FILENO, .out_fd = STDOUT_FILENO, .err_fd = STDERR_FILENO};
        bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0;
        int r, status = 0;
        _cleanup_free_ char *what = cmd ? vmenv_strdupf("'%.60s'", cmd) : vmenv_strdup("the shell");

        if (!(ch = open_channel(s, &cb, &x, NULL, err)))
                return -1;
        if (tty) {
                struct winsize ws = {.ws_col = 80, .ws_row = 24};
                const char *term = getenv("TERM");
                ioctl(STDIN_FILENO, TIOCGWINSZ, &ws);
                if (ssh_channel_request_pty_size(ch, term && *term ? term : "xterm", ws.ws_col,
                                                 ws.ws_row) != SSH_OK)
                        return vmenv_error_set(err, VMENV_EXIT_NETWORK,
                                               "cannot get a terminal on %s:%d: %s", s->host,
                                               s->port, REASON(s));
        }
        r = cmd ? ssh_channel_request_exec(ch, cmd) : ssh_channel_request_shell(ch);
        if (r != SSH_OK)
                return vmenv_error_set(err, VMENV_EXIT_NETWORK, "cannot start %s on %s:%d: %s",
                                       what, s->host, s->port, REASON(s));
        if (tty) {
                sigemptyset(&sa.sa_mask);
                sigemptyset(&sa_stop.sa_mask);
                winch_seen = stop_seen = 0;
                sigaction(SIGWINCH, &sa, &old_sa);
                sigaction(SIGTERM, &sa_stop, &old_term);
                sigaction(SIGHUP, &sa_stop, &old_hup);
                raw = saved;
                cfmakeraw(&raw);
                tcsetattr(STDIN_FILENO, TCSADRAIN, &raw);
                io.pty = true;
        }
        r = channel_pump(s, ch, &x, &io, what, &status, err);
        if (tty) {
                sigaction(SIGWINCH, &old_sa, NULL);
                sigaction(SIGTERM, &old_term, NULL);
                sigaction(SIGHUP, &old_hup, NULL);
                tcsetattr(STDIN_FILENO, TCSADRAIN, &saved);
        }
        if (r < 0)
                return -1;
        if (exit_status)
                *exit_status = status;
        return 0;
}
