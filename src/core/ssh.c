/* SSH to machines over libssh: the only file that includes libssh.
 * Logins use one private key file (no agent, no password); host keys are
 * trusted on first use and compared afterwards; ~/.ssh is never read. */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <libssh/callbacks.h>
#include <libssh/libssh.h>

#include "vmenv/cleanup.h"
#include "vmenv/log.h"
#include "vmenv/ssh.h"
#include "vmenv/util.h"

#define DEFAULT_CONNECT_TIMEOUT_MS 10000
#define WAIT_INTERVAL_MS 200
/* How long a wait try gives the guest to send its banner (see connect_once). */
#define BANNER_WAIT_MS 400
#define IO_CHUNK 32768

struct vmenv_ssh {
        ssh_session session;
        char *host;
        int port;
        char *user;
        char *key_path;
        int fd; /* ours: libssh does not close a socket given by SSH_OPTIONS_FD */
};

static void ssh_keyp(ssh_key *k)
{
        if (*k)
                ssh_key_free(*k);
}
#define _cleanup_key_ _cleanup_(ssh_keyp)

static void ssh_sessionp(ssh_session *s)
{
        if (*s)
                ssh_free(*s);
}

static void ssh_string_charp(char **p)
{
        if (*p)
                ssh_string_free_char(*p);
}
#define _cleanup_sshstr_ _cleanup_(ssh_string_charp)

void vmenv_ssh_free(struct vmenv_ssh *s)
{
        if (!s)
                return;
        if (s->session) {
                ssh_disconnect(s->session);
                ssh_free(s->session);
        }
        if (s->fd >= 0)
                close(s->fd);
        free(s->host);
        free(s->user);
        free(s->key_path);
        free(s);
}

/* ---- keys as text --------------------------------------------------- */

/* "TYPE BASE64" of a key (public part). */
static char *key_line(ssh_key key)
{
        _cleanup_sshstr_ char *b64 = NULL;
        const char *type = ssh_key_type_to_char(ssh_key_type(key));

        if (!type || ssh_pki_export_pubkey_base64(key, &b64) != SSH_OK)
                return NULL;
        return vmenv_strdupf("%s %s", type, b64);
}

/* Splits "TYPE BASE64 [comment]" into its first two words (copies). */
static int split_key_line(const char *line, char **type, char **b64)
{
        size_t n;

        if (!line)
                return -1;
        line += strspn(line, " \t");
        n = strcspn(line, " \t\r\n");
        if (n == 0)
                return -1;
        *type = vmenv_strndup(line, n);
        line += n;
        line += strspn(line, " \t");
        n = strcspn(line, " \t\r\n");
        if (n == 0) {
                free(*type);
                *type = NULL;
                return -1;
        }
        *b64 = vmenv_strndup(line, n);
        return 0;
}

char *vmenv_ssh_host_key_fingerprint(const char *key_line_text)
{
        _cleanup_free_ char *type = NULL, *b64 = NULL;
        _cleanup_key_ ssh_key key = NULL;
        unsigned char *hash = NULL;
        size_t hlen = 0;
        char *fp, *ret;

        if (split_key_line(key_line_text, &type, &b64) < 0)
                return NULL;
        if (ssh_pki_import_pubkey_base64(b64, ssh_key_type_from_name(type), &key) != SSH_OK)
                return NULL;
        if (ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash, &hlen) != 0)
                return NULL;
        fp = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, hlen);
        ssh_clean_pubkey_hash(&hash);
        if (!fp)
                return NULL;
        ret = vmenv_strdup(fp);
        ssh_string_free_char(fp);
        return ret;
}

static bool same_key(const char *a, const char *b)
{
        _cleanup_free_ char *ta = NULL, *ba = NULL, *tb = NULL, *bb = NULL;

        if (split_key_line(a, &ta, &ba) < 0 || split_key_line(b, &tb, &bb) < 0)
                return false;
        return strcmp(ta, tb) == 0 && strcmp(ba, bb) == 0;
}

/* Host key algorithms, the recorded key's own first so the server shows the
 * key we know rather than another one it also has. */
static char *hostkey_algorithms(const char *known)
{
        static const char *const all[] = {
            "ssh-ed25519",         "ecdsa-sha2-nistp521", "ecdsa-sha2-nistp384",
            "ecdsa-sha2-nistp256", "rsa-sha2-512",        "rsa-sha2-256",
        };
        _cleanup_free_ char *type = NULL, *b64 = NULL;
        struct vmenv_buf b = {0};
        const char *first = NULL;

        if (known && split_key_line(known, &type, &b64) == 0) {
                if (strcmp(type, "ssh-rsa") == 0)
                        first = "rsa-sha2-512,rsa-sha2-256";
                else
                        for (size_t i = 0; i < VMENV_ARRAY_SIZE(all); i++)
                                if (strcmp(type, all[i]) == 0)
                                        first = all[i];
        }
        if (first)
                vmenv_buf_puts(&b, first);
        for (size_t i = 0; i < VMENV_ARRAY_SIZE(all); i++) {
                if (first && strstr(first, all[i]))
                        continue;
                if (b.len)
                        vmenv_buf_puts(&b, ",");
                vmenv_buf_puts(&b, all[i]);
        }
        return vmenv_buf_steal(&b);
}

/* ---- connecting ----------------------------------------------------- */

static int timeout_ms_of(const struct vmenv_ssh_target *t)
{
        return t->connect_timeout_ms > 0 ? t->connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS;
}

/* A TCP connection within timeout_ms; errors say "connection refused" etc. */
static int tcp_connect(const char *host, int port, int timeout_ms, vmenv_error *err)
{
        struct addrinfo hints = {
            .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
        struct addrinfo *res = NULL;
        char portstr[16];
        int r, fd = -1, last_errno = 0;

        snprintf(portstr, sizeof(portstr), "%d", port);
        r = getaddrinfo(host, portstr, &hints, &res);
        if (r != 0)
                return vmenv_error_set(err, VMENV_EXIT_NETWORK, "cannot resolve '%s': %s", host,
                                       gai_strerror(r));
        for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
                struct pollfd pfd;
                socklen_t sl = sizeof(last_errno);

                fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                            ai->ai_protocol);
                if (fd < 0) {
                        last_errno = errno;
                        continue;
                }
                if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
                        break;
                if (errno != EINPROGRESS) {
                        last_errno = errno;
                        close(fd);
                        fd = -1;
                        continue;
                }
                pfd = (struct pollfd){.fd = fd, .events = POLLOUT};
                do
                        r = poll(&pfd, 1, timeout_ms);
                while (r < 0 && errno == EINTR);
                if (r == 0)
                        last_errno = ETIMEDOUT;
                else if (r < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &last_errno, &sl) < 0)
                        last_errno = errno;
                if (r > 0 && last_errno == 0)
                        break;
                close(fd);
                fd = -1;
        }
        freeaddrinfo(res);
        if (fd < 0) {
                if (last_errno == ECONNREFUSED)
                        return vmenv_error_set(err, VMENV_EXIT_NETWORK,
                                               "cannot connect to %s:%d: connection refused", host,
                                               port);
                if (last_errno == ECONNRESET || last_errno == EPIPE)
                        return vmenv_error_set(
                            err, VMENV_EXIT_NETWORK,
                            "cannot connect to %s:%d: connection closed before the ssh banner",
                            host, port);
                if (last_errno == ETIMEDOUT)
                        return vmenv_error_set(err, VMENV_EXIT_NETWORK,
                                               "cannot connect to %s:%d: connection timed out",
                                               host, port);
                return vmenv_error_errno(err, VMENV_EXIT_NETWORK, last_errno,
                                         "cannot connect to %s:%d", host, port);
        }
        return fd;
}

/* One attempt. *fatal says a retry cannot help (host key changed, key file
 * unusable). */
static struct vmenv_ssh *connect_once(const struct vmenv_ssh_target *t, int timeout_ms,
                                      int banner_ms, char **seen_host_key, bool *fatal,
                                      vmenv_error *err)
{
        _cleanup_close_ int fd = -1; /* declared first: closed after ssh_free */
        _cleanup_(ssh_sessionp) ssh_session session = NULL;
        _cleanup_key_ ssh_key priv = NULL;
        _cleanup_key_ ssh_key srv = NULL;
        _cleanup_free_ char *algos = NULL, *seen = NULL;
        struct vmenv_ssh *s;
        long usec = (long)timeout_ms * 1000;
        int rc, off = 0;
        const char *user = t->user ? t->user : "vagrant";

        *fatal = false;
        if (!t->host || !t->key_path) {
                *fatal = true;
                return vmenv_error_set(err, VMENV_EXIT_SOFTWARE, "ssh target without host or key"),
                       NULL;
        }
        if (!t->known_host_key && !t->tofu) {
                *fatal = true;
                vmenv_error_set(err, VMENV_EXIT_NOPERM,
                                "no host key is recorded for %s:%d, so it cannot be checked",
                                t->host, t->port);
                vmenv_error_hint(err, "run 'vmenv up' to boot the machine and record its host key "
                                      "(only the first boot trusts a new key)");
                return NULL;
        }
        /* The key first: an unreadable key is a local problem, said at once. */
        rc = ssh_pki_import_privkey_file(t->key_path, NULL, NULL, NULL, &priv);
        if (rc != SSH_OK) {
                *fatal = true;
                vmenv_error_set(
                    err, access(t->key_path, R_OK) < 0 ? VMENV_EXIT_NOINPUT : VMENV_EXIT_DATA,
                    "cannot load private key '%s'%s", t->key_path,
                    access(t->key_path, R_OK) < 0 ? ": no such file or no access"
                                                  : ": not a usable key");
                return NULL;
        }
        if (!(session = ssh_new()))
                abort();
        algos = hostkey_algorithms(t->known_host_key);
        if (ssh_options_set(session, SSH_OPTIONS_HOST, t->host) < 0 ||
            ssh_options_set(session, SSH_OPTIONS_PORT, &t->port) < 0 ||
            ssh_options_set(session, SSH_OPTIONS_USER, user) < 0 ||
            ssh_options_set(session, SSH_OPTIONS_TIMEOUT_USEC, &usec) < 0 ||
            ssh_options_set(session, SSH_OPTIONS_KNOWNHOSTS, "/dev/null") < 0 ||
            ssh_options_set(session, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, "/dev/null") < 0 ||
            ssh_options_set(session, SSH_OPTIONS_PROCESS_CONFIG, &off) < 0 ||
            ssh_options_set(session, SSH_OPTIONS_HOSTKEYS, algos) < 0) {
                *fatal = true;
                vmenv_error_set(err, VMENV_EXIT_SOFTWARE, "cannot set ssh options: %s",
                                ssh_get_error(session));
                return NULL;
        }
        if ((fd = tcp_connect(t->host, t->port, timeout_ms, err)) < 0)
                return NULL;
        /* A QEMU port forward accepts at once, then holds the connection
         * while the guest's network is not up: the banner never comes on
         * it. Waiting a short while for the first byte and trying a fresh
         * connection saves up to a whole timeout of boot time. */
        if (banner_ms > 0) {
                struct pollfd pfd = {.fd = fd, .events = POLLIN};
                int r;
                do
                        r = poll(&pfd, 1, banner_ms);
                while (r < 0 && errno == EINTR);
                if (r == 0)
                        return vmenv_error_set(err, VMENV_EXIT_NETWORK,
                                               "%s:%d: banner exchange timed out", t->host,
                                               t->port),
                               NULL;
        }
        ssh_options_set(session, SSH_OPTIONS_FD, &fd);
        if (ssh_connect(session) != SSH_OK) {
                const char *e = ssh_get_error(session);
                if (strstr(e, "imeout") || strstr(e, "timed out"))
                        vmenv_error_set(err, VMENV_EXIT_NETWORK, "%s:%d: banner exchange timed out",
                                        t->host, t->port);
                else if (strstr(e, "reset by peer") || strstr(e, "disconnected") ||
                         strstr(e, "closed"))
                        /* what a QEMU port forward does while the guest has
                         * no sshd yet: it accepts, then drops the connection */
                        vmenv_error_set(err, VMENV_EXIT_NETWORK,
                                        "%s:%d: connection closed before the ssh banner", t->host,
                                        t->port);
                else
                        vmenv_error_set(err, VMENV_EXIT_NETWORK, "%s:%d: ssh handshake failed: %s",
                                        t->host, t->port, e);
                return NULL;
        }
        if (ssh_get_server_publickey(session, &srv) != SSH_OK || !(seen = key_line(srv))) {
                vmenv_error_set(err, VMENV_EXIT_NETWORK, "%s:%d: no usable host key: %s", t->host,
                                t->port, ssh_get_error(session));
                return NULL;
        }
        if (t->known_host_key && !same_key(t->known_host_key, seen)) {
                _cleanup_free_ char *was = vmenv_ssh_host_key_fingerprint(t->known_host_key);
                _cleanup_free_ char *now = vmenv_ssh_host_key_fingerprint(seen);
                *fatal = true;
                vmenv_error_set(err, VMENV_EXIT_NOPERM,
                                "host key of %s:%d changed (was %s, now %s)", t->host, t->port,
                                was ? was : t->known_host_key, now ? now : seen);
                vmenv_error_hint(err, "if the machine was re-created on purpose, run 'vmenv "
                                      "destroy' and 'vmenv up', or remove its recorded host key");
                return NULL;
        }
        /* Non-blocking, so a guest that stalls after the key exchange cannot
         * hold us past this try's budget (libssh waits forever here). */
        {
                uint64_t end = vmenv_now_ns() + (uint64_t)timeout_ms * 1000000ull;
                ssh_set_blocking(session, 0);
                while ((rc = ssh_userauth_publickey(session, NULL, priv)) == SSH_AUTH_AGAIN) {
                        uint64_t now = vmenv_now_ns();
                        struct pollfd pfd = {.fd = fd, .events = POLLIN};
                        if (now >= end)
                                break;
                        poll(&pfd, 1, (int)((end - now) / 1000000 + 1));
                }
                ssh_set_blocking(session, 1);
        }
        if (rc == SSH_AUTH_AGAIN) {
                vmenv_error_set(err, VMENV_EXIT_NETWORK, "%s:%d: authentication timed out", t->host,
                                t->port);
                return NULL;
        }
        if (rc != SSH_AUTH_SUCCESS) {
                if (rc == SSH_AUTH_ERROR)
                        vmenv_error_set(err, VMENV_EXIT_NETWORK,
                                        "%s:%d: authentication of '%s' failed: %s", t->host,
                                        t->port, user, ssh_get_error(session));
                else
                        vmenv_error_set(err, VMENV_EXIT_NOPERM,
                                        "authentication refused for '%s' with key %s", user,
                                        t->key_path);
                return NULL;
        }
        vmenv_debug("ssh: logged in to %s@%s:%d with %s", user, t->host, t->port, t->key_path);
        s = vmenv_calloc(1, sizeof(*s));
        s->session = TAKE_PTR(session);
        s->host = vmenv_strdup(t->host);
        s->port = t->port;
        s->user = vmenv_strdup(user);
        s->key_path = vmenv_strdup(t->key_path);
        s->fd = TAKE_FD(fd);
        if (seen_host_key)
                *seen_host_key = TAKE_PTR(seen);
        return s;
}

struct vmenv_ssh *vmenv_ssh_connect(const struct vmenv_ssh_target *t, char **seen_host_key,
                                    vmenv_error *err)
{
        bool fatal;

        return connect_once(t, timeout_ms_of(t), 0, seen_host_key, &fatal, err);
}

static void sleep_ms(uint64_t ms)
{
        struct timespec ts = {.tv_sec = (time_t)(ms / 1000),
                              .tv_nsec = (long)(ms % 1000) * 1000000};

        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

/* The message without the "cannot connect to HOST:PORT: " part. */
static const char *short_reason(const char *msg)
{
        const char *p = msg ? strstr(msg, ": ") : NULL;

        if (msg && vmenv_startswith(msg, "cannot connect to ") && p)
                return p + 2;
        return msg ? msg : "unknown error";
}

struct vmenv_ssh *vmenv_ssh_wait(const struct vmenv_ssh_target *t, uint64_t deadline_ns,
                                 char **seen_host_key, char **last_error, vmenv_error *err)
{
        vmenv_error e = VMENV_ERROR_INIT;
        unsigned tries = 0;

        for (;;) {
                uint64_t start = vmenv_now_ns(), left_ms, try_ms;
                struct vmenv_ssh *s;
                bool fatal = false;

                if (start >= deadline_ns && tries > 0)
                        break;
                left_ms = start < deadline_ns ? (deadline_ns - start) / 1000000 : 0;
                try_ms = (uint64_t)timeout_ms_of(t);
                if (try_ms > left_ms)
                        try_ms = left_ms;
                if (try_ms < 50)
                        try_ms = 50;
                tries++;
                vmenv_error_clear(&e);
                /* Every tenth try waits the whole time for the banner, in
                 * case a slow guest needs longer than the short wait. */
                s = connect_once(t, (int)try_ms, tries % 10 == 0 ? 0 : BANNER_WAIT_MS,
                                 seen_host_key, &fatal, &e);
                if (s) {
                        vmenv_debug("ssh: %s:%d answered after %u tries", t->host, t->port, tries);
                        return s;
                }
                vmenv_debug("ssh: try %u: %s", tries, e.msg);
                if (fatal) {
                        if (last_error) {
                                free(*last_error);
                                *last_error = vmenv_strdup(e.msg);
                        }
                        vmenv_error_move(err, &e);
                        return NULL;
                }
                {
                        uint64_t now = vmenv_now_ns(), next = start + WAIT_INTERVAL_MS * 1000000ull;
                        if (now >= deadline_ns)
                                break;
                        if (next > deadline_ns)
                                next = deadline_ns;
                        if (next > now)
                                sleep_ms((next - now + 999999) / 1000000);
                }
        }
        if (last_error) {
                free(*last_error);
                *last_error = vmenv_strdup(short_reason(e.msg));
        }
        vmenv_error_set(err, VMENV_EXIT_TEMPFAIL, "no ssh login to %s@%s:%d in time (%u tries): %s",
                        t->user ? t->user : "vagrant", t->host, t->port, tries,
                        short_reason(e.msg));
        vmenv_error_clear(&e);
        return NULL;
}

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

struct io {
        /* input: a buffer, or an fd read until end of file */
        const char *in;
        size_t in_len;
        int in_fd;
        /* output: fds (-1 discards), stdout optionally into cap (≤ cap_max) */
        int out_fd, err_fd;
        struct vmenv_buf *cap;
        size_t cap_max;
        /* shell on a pty: forward window size changes */
        bool pty;
};

static int write_all(int fd, const char *p, size_t n)
{
        while (n > 0) {
                ssize_t w = write(fd, p, n);
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN) {
                                struct pollfd pfd = {.fd = fd, .events = POLLOUT};
                                poll(&pfd, 1, -1);
                                continue;
                        }
                        return -1;
                }
                p += w;
                n -= (size_t)w;
        }
        return 0;
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
                                if (fd >= 0 && write_all(fd, buf, (size_t)got) < 0)
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
                pfd[n++] = (struct pollfd){.fd = sfd, .events = POLLIN};
                if (in_open && io->in_fd >= 0 && pend_off == pend_len &&
                    ssh_channel_window_size(ch) > 0)
                        pfd[n++] = (struct pollfd){.fd = io->in_fd, .events = POLLIN};
                r = poll(pfd, (nfds_t)n, 1000);
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
                               s->host, s->port, what, ssh_get_error(s->session));
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
static ssh_channel open_channel(struct vmenv_ssh *s, struct ssh_channel_callbacks_struct *cb,
                                struct exit_info *x, vmenv_error *err)
{
        ssh_channel ch = ssh_channel_new(s->session);

        if (!ch)
                abort();
        *x = (struct exit_info){.status = -1};
        *cb = (struct ssh_channel_callbacks_struct){
            .userdata = x,
            .channel_exit_status_function = on_exit_status,
            .channel_exit_signal_function = on_exit_signal,
        };
        ssh_callbacks_init(cb);
        if (ssh_set_channel_callbacks(ch, cb) != SSH_OK || ssh_channel_open_session(ch) != SSH_OK) {
                vmenv_error_set(err, VMENV_EXIT_NETWORK, "cannot open an ssh channel to %s:%d: %s",
                                s->host, s->port, ssh_get_error(s->session));
                ssh_channel_free(ch);
                return NULL;
        }
        return ch;
}

static int run(struct vmenv_ssh *s, const char *cmd, struct io *io, int *exit_status,
               vmenv_error *err)
{
        _cleanup_(channel_endp) ssh_channel ch = NULL;
        struct ssh_channel_callbacks_struct cb;
        struct exit_info x;
        _cleanup_free_ char *what = NULL;
        size_t n = strlen(cmd);

        what = n > 60 ? vmenv_strdupf("'%.57s...'", cmd) : vmenv_strdupf("'%s'", cmd);
        if (!(ch = open_channel(s, &cb, &x, err)))
                return -1;
        if (ssh_channel_request_exec(ch, cmd) != SSH_OK)
                return vmenv_error_set(err, VMENV_EXIT_NETWORK, "cannot run %s on %s:%d: %s", what,
                                       s->host, s->port, ssh_get_error(s->session));
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
        if (run(s, cmd, &io, &status, err) < 0)
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

        if (run(s, cmd, &io, &status, err) < 0) {
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
        if (run(s, cmd, &io, &status, err) < 0)
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

        if (!(ch = open_channel(s, &cb, &x, err)))
                return -1;
        if (tty) {
                struct winsize ws = {.ws_col = 80, .ws_row = 24};
                const char *term = getenv("TERM");
                ioctl(STDIN_FILENO, TIOCGWINSZ, &ws);
                if (ssh_channel_request_pty_size(ch, term && *term ? term : "xterm", ws.ws_col,
                                                 ws.ws_row) != SSH_OK)
                        return vmenv_error_set(err, VMENV_EXIT_NETWORK,
                                               "cannot get a terminal on %s:%d: %s", s->host,
                                               s->port, ssh_get_error(s->session));
        }
        r = cmd ? ssh_channel_request_exec(ch, cmd) : ssh_channel_request_shell(ch);
        if (r != SSH_OK)
                return vmenv_error_set(err, VMENV_EXIT_NETWORK, "cannot start %s on %s:%d: %s",
                                       what, s->host, s->port, ssh_get_error(s->session));
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

/* ---- keys ------------------------------------------------------------ */

int vmenv_ssh_keygen(const char *priv_path, const char *comment, char **pub_line, vmenv_error *err)
{
        _cleanup_key_ ssh_key key = NULL;
        _cleanup_free_ char *line = NULL, *pubpath = NULL, *tmp = NULL, *base = NULL;
        char *pem = NULL;
        int fd, r;
        size_t len;

        if (ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &key) != SSH_OK)
                return vmenv_error_set(err, VMENV_EXIT_SOFTWARE, "cannot generate an ed25519 key");
        if (!(base = key_line(key)))
                return vmenv_error_set(err, VMENV_EXIT_SOFTWARE, "cannot export the new key");
        line = comment && *comment ? vmenv_strdupf("%s %s", base, comment) : vmenv_strdup(base);
        if (ssh_pki_export_privkey_base64(key, NULL, NULL, NULL, &pem) != SSH_OK)
                return vmenv_error_set(err, VMENV_EXIT_SOFTWARE, "cannot export the new key");
        /* created 0600 by mkstemp, never widened; renamed into place whole */
        tmp = vmenv_strdupf("%s.tmpXXXXXX", priv_path);
        fd = mkstemp(tmp);
        if (fd < 0) {
                r = errno;
                explicit_bzero(pem, strlen(pem));
                ssh_string_free_char(pem);
                return vmenv_error_errno(err, vmenv_exit_for_errno(r), r, "cannot create '%s'",
                                         priv_path);
        }
        len = strlen(pem);
        r = write_all(fd, pem, len) < 0 || fsync(fd) < 0 ? errno : 0;
        explicit_bzero(pem, len);
        ssh_string_free_char(pem);
        if (close(fd) < 0 && !r)
                r = errno;
        if (!r && rename(tmp, priv_path) < 0)
                r = errno;
        if (r) {
                unlink(tmp);
                return vmenv_error_errno(err, vmenv_exit_for_errno(r), r, "cannot write '%s'",
                                         priv_path);
        }
        pubpath = vmenv_strdupf("%s.pub", priv_path);
        {
                _cleanup_free_ char *text = vmenv_strdupf("%s\n", line);
                if (vmenv_write_file_atomic(pubpath, text, strlen(text), 0644, err) < 0)
                        return -1;
        }
        if (pub_line)
                *pub_line = TAKE_PTR(line);
        return 0;
}

/* The public line of a private key file. */
static char *pub_of_private(const char *path)
{
        _cleanup_key_ ssh_key priv = NULL;

        if (ssh_pki_import_privkey_file(path, NULL, NULL, NULL, &priv) != SSH_OK)
                return NULL;
        return key_line(priv);
}

int vmenv_ssh_replace_insecure_key(struct vmenv_ssh *s, const char *new_pub_line,
                                   const char *old_pub_line, vmenv_error *err)
{
        _cleanup_free_ char *nt = NULL, *nb = NULL, *ot = NULL, *ob = NULL, *derived = NULL;
        _cleanup_free_ char *qline = NULL, *qnew = NULL, *qold = NULL, *cmd = NULL;
        _cleanup_free_ char *clean = NULL;
        struct vmenv_buf eb = {0};
        int status = 0;

        if (split_key_line(new_pub_line, &nt, &nb) < 0)
                return vmenv_error_set(err, VMENV_EXIT_DATA, "not a public key line: '%.40s'",
                                       new_pub_line ? new_pub_line : "");
        if (!old_pub_line)
                old_pub_line = derived = pub_of_private(s->key_path);
        if (old_pub_line && split_key_line(old_pub_line, &ot, &ob) < 0)
                return vmenv_error_set(err, VMENV_EXIT_DATA, "not a public key line: '%.40s'",
                                       old_pub_line);
        clean = vmenv_strndup(new_pub_line, strcspn(new_pub_line, "\r\n"));
        qline = vmenv_shell_quote(clean);
        qnew = vmenv_shell_quote(nb);
        /* without an old key, drop earlier copies of the new one: idempotent */
        qold = vmenv_shell_quote(ob && strcmp(ob, nb) != 0 ? ob : nb);
        /* grep -v prints every kept line with its newline, so a file without a
         * final newline still gets the new key on a line of its own. */
        cmd = vmenv_strdupf(
            "set -e; umask 077; d=\"$HOME/.ssh\"; f=\"$d/authorized_keys\"; "
            "t=\"$d/authorized_keys.vmenv-tmp\"; mkdir -p \"$d\"; chmod 700 \"$d\"; "
            "touch \"$f\"; "
            "{ grep -v -F -e %s -e %s \"$f\" || [ $? -eq 1 ]; printf '%%s\\n' %s; } > \"$t\"; "
            "chmod 600 \"$t\"; mv -f \"$t\" \"$f\"",
            qnew, qold, qline);
        {
                struct io io = {
                    .in_fd = -1, .out_fd = -1, .err_fd = -1, .cap = &eb, .cap_max = 65536};
                /* stderr is the interesting part: send it to stdout */
                _cleanup_free_ char *full = vmenv_strdupf("{ %s; } 2>&1", cmd);
                if (run(s, full, &io, &status, err) < 0) {
                        vmenv_buf_free(&eb);
                        return vmenv_error_prefix(err, "cannot update authorized_keys of '%s'",
                                                  s->user);
                }
        }
        if (status != 0) {
                vmenv_error_set(err, VMENV_EXIT_FAILURE,
                                "cannot update authorized_keys of '%s' (exit status %d)%s%s",
                                s->user, status, eb.len ? ": " : "", eb.len ? eb.data : "");
                vmenv_buf_free(&eb);
                return -1;
        }
        vmenv_buf_free(&eb);
        return 0;
}

/* ---- the Vagrant insecure key ----------------------------------------- */

static int version_cmp(const void *a, const void *b)
{
        return strverscmp(*(char *const *)a, *(char *const *)b);
}

char *vmenv_insecure_key_path(vmenv_error *err)
{
        const char *env = getenv("VMENV_INSECURE_KEY");
        const char *home = getenv("HOME");
        glob_t g = {0};
        char *found = NULL;

        if (env && *env) {
                if (access(env, R_OK) < 0)
                        return vmenv_error_errno(err, VMENV_EXIT_NOINPUT, errno,
                                                 "cannot read VMENV_INSECURE_KEY '%s'", env),
                               NULL;
                return vmenv_strdup(env);
        }
        if (glob("/usr/share/rubygems-integration/all/gems/vagrant-*/keys/vagrant", 0, NULL, &g) ==
                0 &&
            g.gl_pathc > 0) {
                qsort(g.gl_pathv, g.gl_pathc, sizeof(char *), version_cmp);
                found = vmenv_strdup(g.gl_pathv[g.gl_pathc - 1]);
        }
        globfree(&g);
        if (found)
                return found;
        if (home && *home) {
                found = vmenv_path_join(home, ".vagrant.d/insecure_private_key");
                if (access(found, R_OK) == 0)
                        return found;
                free(found);
        }
        vmenv_error_set(err, VMENV_EXIT_NOINPUT, "cannot find Vagrant's insecure private key");
        vmenv_error_hint(err, "run 'apt-get install vagrant' or set VMENV_INSECURE_KEY to the "
                              "key file");
        return NULL;
}
