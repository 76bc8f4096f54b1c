/* Waiting for a booting guest until a command runs over SSH. Everything
 * that fails while a guest boots is retried until the deadline: the port
 * forward holding or dropping connections, a late banner, MaxStartups, a
 * session or channel refused while PAM and logind start. Only a changed
 * host key, a local key problem, an sshd that keeps refusing the key, or
 * the caller's watcher (a domain that stopped by itself) end it early. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ssh-private.h"
#include "vmenv/cleanup.h"
#include "vmenv/log.h"
#include "vmenv/util.h"

/* Pause between tries and the watcher's rhythm. */
#define RETRY_MS 250
#define WATCH_MS 250
/* How long one connection is held while no banner comes. QEMU's user-mode
 * forward accepts at once and holds a connection while the guest's network
 * is down, retrying its SYN with a growing backoff; it hands the
 * connection to the guest later, even one we have closed (slirp reads the
 * host side only once the guest side connected). Connections abandoned
 * after a short wait thus reach sshd as a burst when its network comes up:
 * under TCG every one costs sshd a fork and an exec of seconds of CPU, and
 * past MaxStartups it drops ours too. So: one connection at a time, held
 * 2 s, then twice as long each time up to 16 s (a handful abandoned over a
 * whole boot, each new one starting with a fresh SYN). Once the guest's
 * network has answered (a connection refused by the guest, or sshd seen),
 * a held connection is sshd's own, busy forking: it is held for as long
 * as the budget of a try allows. */
#define HOLD_FIRST_MS 2000
#define HOLD_MAX_MS 16000
#define HOLD_NET_UP_MS 30000
/* Pause after a connection the guest closed; grows to RETRY_MAX_MS while
 * they go on (sshd's MaxStartups also closes connections). */
#define RETRY_MAX_MS 1000
/* A key refused this often over this long, by an sshd that answers, is
 * refused for good: a guest still booting installs its keys before sshd
 * starts. */
#define DENIALS_FATAL 3
#define DENIAL_SPAN_MS 5000
#define READY_OUTPUT_MAX 65536
#define REASONS_MAX 8

struct attempts {
        char *reason[REASONS_MAX];
        unsigned count[REASONS_MAX];
        size_t n;
        unsigned other; /* reasons past REASONS_MAX */
};

static void attempts_add(struct attempts *a, const char *reason)
{
        for (size_t i = 0; i < a->n; i++)
                if (strcmp(a->reason[i], reason) == 0) {
                        a->count[i]++;
                        return;
                }
        if (a->n == REASONS_MAX) {
                a->other++;
                return;
        }
        a->reason[a->n] = vmenv_strdup(reason);
        a->count[a->n++] = 1;
}

static char *attempts_summary(const struct attempts *a)
{
        struct vmenv_buf b = {0};

        for (size_t i = 0; i < a->n; i++)
                vmenv_buf_printf(&b, "%s%u × %s", i ? "; " : "", a->count[i], a->reason[i]);
        if (a->other)
                vmenv_buf_printf(&b, "; %u × other errors", a->other);
        if (!b.len)
                vmenv_buf_puts(&b, "none");
        return vmenv_buf_steal(&b);
}

static void attempts_clear(struct attempts *a)
{
        for (size_t i = 0; i < a->n; i++)
                free(a->reason[i]);
        *a = (struct attempts){0};
}

/* The message without "cannot connect to HOST:PORT: " or "HOST:PORT: ". */
static const char *short_reason(const char *msg, const char *host, int port)
{
        char prefix[300];

        if (!msg)
                return "unknown error";
        snprintf(prefix, sizeof(prefix), "cannot connect to %s:%d: ", host, port);
        if (vmenv_startswith(msg, prefix))
                return msg + strlen(prefix);
        snprintf(prefix, sizeof(prefix), "%s:%d: ", host, port);
        if (vmenv_startswith(msg, prefix))
                return msg + strlen(prefix);
        return msg;
}

struct waiter {
        const struct vmenv_ssh_target *t;
        struct vmenv_ssh_wait *w;
        struct attempts a;
        uint64_t next_watch;
        char *last;
        unsigned denials;
        uint64_t first_denial_ns;
        bool watch_failed; /* the watcher ended a command */
        uint64_t hold_ms;  /* the next hold */
        uint64_t pause_ms; /* the next pause after a closed connection */
        bool net_up;       /* the guest's network has answered */
};

static uint64_t left_ms(const struct waiter *x)
{
        uint64_t now = vmenv_now_ns();

        return now < x->w->deadline_ns ? (x->w->deadline_ns - now) / 1000000 : 0;
}

static int watch(struct waiter *x, vmenv_error *err)
{
        uint64_t now = vmenv_now_ns();

        if (!x->w->watch || now < x->next_watch)
                return 0;
        x->next_watch = now + WATCH_MS * 1000000ull;
        return x->w->watch(x->w->watch_ctx, err);
}

/* The watcher, as the tick of a command the wait runs. */
static int tick(void *ctx, vmenv_error *err)
{
        struct waiter *x = ctx;

        if (watch(x, err) < 0) {
                x->watch_failed = true;
                return -1;
        }
        return 0;
}

static void note(struct waiter *x, const char *reason)
{
        vmenv_debug("ssh: try %u: %s", x->w->tries, reason);
        attempts_add(&x->a, reason);
        free(x->last);
        x->last = vmenv_strdup(reason);
}

/* Sleeps ms, or less at the deadline, calling the watcher meanwhile. */
static int pause_ms(struct waiter *x, uint64_t ms, vmenv_error *err)
{
        uint64_t end = vmenv_now_ns() + ms * 1000000ull;

        if (end > x->w->deadline_ns)
                end = x->w->deadline_ns;
        for (;;) {
                uint64_t now = vmenv_now_ns(), slice;
                struct timespec ts;
                if (watch(x, err) < 0)
                        return -1;
                if (now >= end)
                        return 0;
                slice = (end - now) / 1000000 + 1;
                if (slice > WATCH_MS)
                        slice = WATCH_MS;
                ts = (struct timespec){.tv_sec = 0, .tv_nsec = (long)slice * 1000000};
                nanosleep(&ts, NULL);
        }
}

/* Holds fd until the guest sends something or closes it (1), the hold or
 * the deadline pass (0), or the watcher ends the wait (-1). */
static int hold(struct waiter *x, int fd, vmenv_error *err)
{
        uint64_t end = vmenv_now_ns() + (x->net_up ? HOLD_NET_UP_MS : x->hold_ms) * 1000000ull;

        if (end > x->w->deadline_ns)
                end = x->w->deadline_ns;
        for (;;) {
                struct pollfd pfd = {.fd = fd, .events = POLLIN};
                uint64_t now = vmenv_now_ns();
                int r, slice;
                if (watch(x, err) < 0)
                        return -1;
                if (now >= end)
                        return 0;
                slice = (int)((end - now) / 1000000) + 1;
                if (slice > WATCH_MS)
                        slice = WATCH_MS;
                r = poll(&pfd, 1, slice);
                if (r > 0)
                        return 1;
                if (r < 0 && errno != EINTR)
                        return 1; /* let the read below say what is wrong */
        }
}

/* One try: a connection, held for the banner, a login, the ready command.
 * Returns the session, or NULL with *stop set when the wait must end. */
static struct vmenv_ssh *try_once(struct waiter *x, bool *stop, vmenv_error *err)
{
        const struct vmenv_ssh_target *t = x->t;
        struct vmenv_ssh_wait *w = x->w;
        _cleanup_(vmenv_ssh_freep) struct vmenv_ssh *s = NULL;
        _cleanup_free_ char *seen = NULL;
        _cleanup_close_ int fd = -1;
        _cleanup_(vmenv_ssh_jump_closep) struct vmenv_ssh_jump_conn *jump = NULL;
        vmenv_error e = VMENV_ERROR_INIT;
        struct vmenv_buf out = {0};
        bool fatal = false;
        int r, status = -1;
        uint64_t budget = left_ms(x);
        char c;

        *stop = false;
        w->tries++;
        if ((fd = vmenv_ssh_transport(t, (int)(budget < 2000 ? budget + 1 : 2000), &jump, &e)) <
            0) {
                if (t->jump && e.code == VMENV_EXIT_NOPERM) {
                        /* the hypervisor host refused us: no retry helps */
                        vmenv_error_move(err, &e);
                        *stop = true;
                        return NULL;
                }
                x->pause_ms = RETRY_MS;
                note(x, short_reason(e.msg, t->host, t->port));
                vmenv_error_clear(&e);
                return NULL;
        }
        if ((r = hold(x, fd, err)) < 0) {
                *stop = true;
                return NULL;
        }
        if (r == 0) {
                /* a hold cut short by the deadline says little: keep what
                 * the earlier tries saw, if they saw anything */
                if (left_ms(x) > 0 || !x->last)
                        note(x, "no banner (the guest's network or its sshd is not up yet)");
                x->hold_ms = x->hold_ms * 2 > HOLD_MAX_MS ? HOLD_MAX_MS : x->hold_ms * 2;
                x->pause_ms = 0;
                return NULL;
        }
        r = (int)recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
        x->net_up = true;
        if (r <= 0) {
                note(x, "connection closed before the ssh banner");
                x->pause_ms = x->pause_ms ? x->pause_ms * 3 / 2 : RETRY_MS;
                if (x->pause_ms > RETRY_MAX_MS)
                        x->pause_ms = RETRY_MAX_MS;
                return NULL;
        }
        x->pause_ms = RETRY_MS;
        budget = left_ms(x);
        s = vmenv_ssh_login_fd(t, TAKE_FD(fd), (int)(budget < 10000 ? budget + 1 : 10000), &seen,
                               &fatal, &e);
        if (s)
                s->jump = TAKE_PTR(jump);
        if (!s) {
                if (fatal) {
                        free(x->last);
                        x->last = vmenv_strdup(e.msg);
                        vmenv_error_move(err, &e);
                        *stop = true;
                        return NULL;
                }
                if (e.code == VMENV_EXIT_NOPERM) {
                        uint64_t now = vmenv_now_ns();
                        if (!x->first_denial_ns)
                                x->first_denial_ns = now;
                        if (++x->denials >= DENIALS_FATAL &&
                            now - x->first_denial_ns >= DENIAL_SPAN_MS * 1000000ull) {
                                free(x->last);
                                x->last = vmenv_strdup(e.msg);
                                vmenv_error_move(err, &e);
                                vmenv_error_hint(err, "the guest's sshd keeps refusing the key; "
                                                      "check ssh.user and ssh.private_key");
                                *stop = true;
                                return NULL;
                        }
                }
                note(x, short_reason(e.msg, t->host, t->port));
                vmenv_error_clear(&e);
                return NULL;
        }
        {
                /* bounded by the wait's deadline alone: a guest slow to open
                 * a session (PAM, logind under TCG) gains nothing from a new
                 * connection, and the watcher still runs meanwhile */
                struct io io = {.in_fd = -1,
                                .out_fd = -1,
                                .err_fd = -1,
                                .cap = &out,
                                .cap_max = READY_OUTPUT_MAX,
                                .deadline_ns = w->deadline_ns,
                                .tick = tick,
                                .tick_ctx = x};
                _cleanup_free_ char *cmd =
                    vmenv_strdupf("exec 2>&1\n%s", w->ready_cmd ? w->ready_cmd : "true");
                x->watch_failed = false;
                r = vmenv_ssh_run_io(s, cmd, &io, &status, &e);
        }
        if (r < 0) {
                if (x->watch_failed || e.code == VMENV_EXIT_DATA) {
                        vmenv_error_move(err, &e);
                        *stop = true;
                } else {
                        /* transient while sshd, PAM or logind start: a new try */
                        note(x, short_reason(e.msg, t->host, t->port));
                        vmenv_error_clear(&e);
                }
                vmenv_buf_free(&out);
                return NULL;
        }
        w->ready_status = status;
        free(w->ready_output);
        w->ready_output = vmenv_buf_steal(&out);
        free(w->seen_host_key);
        w->seen_host_key = TAKE_PTR(seen);
        return TAKE_PTR(s);
}

struct vmenv_ssh *vmenv_ssh_wait_ready(const struct vmenv_ssh_target *t, struct vmenv_ssh_wait *w,
                                       vmenv_error *err)
{
        struct waiter x = {.t = t, .w = w, .hold_ms = HOLD_FIRST_MS};
        struct vmenv_ssh *s = NULL;
        bool stop = false;

        w->tries = 0;
        for (;;) {
                if (watch(&x, err) < 0)
                        break;
                if ((s = try_once(&x, &stop, err)) || stop)
                        break;
                if (left_ms(&x) == 0) {
                        _cleanup_free_ char *sum = attempts_summary(&x.a);
                        vmenv_error_set(
                            err, VMENV_EXIT_TEMPFAIL,
                            "no command ran over ssh on %s@%s:%d in time (%u tries: %s)",
                            t->user ? t->user : "vagrant", t->host, t->port, w->tries, sum);
                        break;
                }
                if (pause_ms(&x, x.pause_ms, err) < 0)
                        break;
        }
        if (s)
                vmenv_debug("ssh: %s:%d ran a command after %u tries", t->host, t->port, w->tries);
        free(w->attempts);
        w->attempts = attempts_summary(&x.a);
        free(w->last_error);
        w->last_error = TAKE_PTR(x.last);
        attempts_clear(&x.a);
        return s;
}

void vmenv_ssh_wait_clear(struct vmenv_ssh_wait *w)
{
        free(w->seen_host_key);
        free(w->ready_output);
        free(w->attempts);
        free(w->last_error);
        w->seen_host_key = w->ready_output = w->attempts = w->last_error = NULL;
}

struct vmenv_ssh *vmenv_ssh_wait(const struct vmenv_ssh_target *t, uint64_t deadline_ns,
                                 char **seen_host_key, char **last_error, vmenv_error *err)
{
        struct vmenv_ssh_wait w = {.deadline_ns = deadline_ns};
        struct vmenv_ssh *s = vmenv_ssh_wait_ready(t, &w, err);

        if (s && w.ready_status != 0) {
                vmenv_error_set(err, VMENV_EXIT_FAILURE,
                                "'true' failed on %s:%d (exit status %d): the guest's shell is "
                                "not usable",
                                t->host, t->port, w.ready_status);
                vmenv_ssh_free(s);
                s = NULL;
        }
        if (s && seen_host_key)
                *seen_host_key = TAKE_PTR(w.seen_host_key);
        if (last_error) {
                free(*last_error);
                *last_error = TAKE_PTR(w.last_error);
        }
        vmenv_ssh_wait_clear(&w);
        return s;
}
