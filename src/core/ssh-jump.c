/* Reaching a guest of a remote hypervisor: its forwards are bound to that
 * host's loopback, so a connection to it is a direct-tcpip channel of an
 * SSH session to the host, pumped to a local socket by a thread. The rest
 * of the SSH code then works on that socket as on a TCP connection. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ssh-private.h"
#include "vmenv/log.h"

struct vmenv_ssh_jump_conn {
        ssh_session session;
        ssh_channel channel;
        int fd;      /* our end of the pair (or the caller's socket) */
        int stop[2]; /* a byte here ends the pump */
        pthread_t pump;
        bool pumping;
        int done; /* the pump ended: read and written atomically */
};

static void conn_free(struct vmenv_ssh_jump_conn *c)
{
        if (c->channel) {
                ssh_channel_close(c->channel);
                ssh_channel_free(c->channel);
        }
        if (c->session) {
                ssh_disconnect(c->session);
                ssh_free(c->session);
        }
        if (c->fd >= 0)
                close(c->fd);
        if (c->stop[0] >= 0)
                close(c->stop[0]);
        if (c->stop[1] >= 0)
                close(c->stop[1]);
        free(c);
}

bool vmenv_ssh_jump_done(struct vmenv_ssh_jump_conn *c)
{
        return __atomic_load_n(&c->done, __ATOMIC_ACQUIRE) != 0;
}

void vmenv_ssh_jump_close(struct vmenv_ssh_jump_conn *c)
{
        if (!c)
                return;
        /* The pump must be gone before the session is: a thread still in
         * libssh at exit crashes the process. */
        if (c->pumping) {
                char b = 1;
                while (write(c->stop[1], &b, 1) < 0 && errno == EINTR)
                        ;
                pthread_join(c->pump, NULL);
        }
        conn_free(c);
}

/* Writes all of buf to a non-blocking fd, waiting for room; -1 when the
 * reader is gone or stop was asked. */
static int put_local(struct vmenv_ssh_jump_conn *c, const char *buf, size_t n)
{
        while (n) {
                ssize_t w = write(c->fd, buf, n);
                if (w > 0) {
                        buf += w;
                        n -= (size_t)w;
                        continue;
                }
                if (w < 0 && errno == EINTR)
                        continue;
                if (w < 0 && errno == EAGAIN) {
                        struct pollfd p[2] = {{.fd = c->fd, .events = POLLOUT},
                                              {.fd = c->stop[0], .events = POLLIN}};
                        if (poll(p, 2, -1) < 0 && errno != EINTR)
                                return -1;
                        if (p[1].revents)
                                return -1;
                        continue;
                }
                return -1;
        }
        return 0;
}

static void *pump(void *arg)
{
        struct vmenv_ssh_jump_conn *c = arg;
        bool local_eof = false, remote_eof = false;
        char buf[32768];

        for (;;) {
                struct pollfd p[3] = {{.fd = c->fd, .events = local_eof ? 0 : POLLIN},
                                      {.fd = ssh_get_fd(c->session), .events = POLLIN},
                                      {.fd = c->stop[0], .events = POLLIN}};
                int n;

                if (poll(p, 3, 200) < 0 && errno != EINTR)
                        break;
                if (p[2].revents)
                        break;
                if (!local_eof && (p[0].revents & (POLLIN | POLLHUP | POLLERR))) {
                        ssize_t r = read(c->fd, buf, sizeof(buf));
                        if (r > 0) {
                                if (ssh_channel_write(c->channel, buf, (uint32_t)r) != r)
                                        break;
                        } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
                                local_eof = true;
                                ssh_channel_send_eof(c->channel);
                        }
                }
                while ((n = ssh_channel_read_nonblocking(c->channel, buf, sizeof(buf), 0)) > 0)
                        if (put_local(c, buf, (size_t)n) < 0)
                                goto out;
                if (n == SSH_ERROR)
                        break;
                if (!remote_eof && ssh_channel_is_eof(c->channel)) {
                        remote_eof = true;
                        shutdown(c->fd, SHUT_WR);
                }
                if (ssh_channel_is_closed(c->channel) || (remote_eof && local_eof))
                        break;
        }
out:
        /* the other side of the pair sees the end */
        shutdown(c->fd, SHUT_RDWR);
        __atomic_store_n(&c->done, 1, __ATOMIC_RELEASE);
        return NULL;
}

static int jump_error(vmenv_error *err, int code, const struct vmenv_ssh_jump *j, ssh_session s,
                      const char *what)
{
        char buf[256];
        return vmenv_error_set(err, code, "cannot %s '%s': %s", what, j->host,
                               vmenv_ssh_reason(s, buf, sizeof(buf)));
}

static int jump_known(ssh_session s, const struct vmenv_ssh_jump *j, vmenv_error *err)
{
        enum ssh_known_hosts_e k = ssh_session_is_known_server(s);

        if (k == SSH_KNOWN_HOSTS_OK)
                return 0;
        if (k == SSH_KNOWN_HOSTS_CHANGED || k == SSH_KNOWN_HOSTS_OTHER)
                vmenv_error_set(err, VMENV_EXIT_NOPERM,
                                "the host key of '%s' is not the one in known_hosts", j->host);
        else
                vmenv_error_set(err, VMENV_EXIT_NOPERM, "the host key of '%s' is not known",
                                j->host);
        /* never trust on first use: the hypervisor host is the user's own
         * business, checked the way their ssh checks it */
        return vmenv_error_hint(err, "connect once with 'ssh %s' to check and record its key",
                                j->host);
}

static int jump_login(ssh_session s, const struct vmenv_ssh_jump *j, vmenv_error *err)
{
        int r;

        if (j->keyfile) {
                ssh_key key = NULL;
                if (ssh_pki_import_privkey_file(j->keyfile, NULL, NULL, NULL, &key) != SSH_OK)
                        return vmenv_error_set(err, VMENV_EXIT_NOPERM, "cannot read key '%s'",
                                               j->keyfile);
                r = ssh_userauth_publickey(s, NULL, key);
                ssh_key_free(key);
        } else {
                r = ssh_userauth_publickey_auto(s, NULL, NULL);
        }
        if (r != SSH_AUTH_SUCCESS)
                return jump_error(err, VMENV_EXIT_NOPERM, j, s, "log in to");
        return 0;
}

/* The session to the jump host, logged in. */
static ssh_session jump_session(const struct vmenv_ssh_jump *j, int timeout_ms, vmenv_error *err)
{
        ssh_session s = ssh_new();
        long timeout_us = (long)timeout_ms * 1000;
        long zero = 0;

        if (!s) {
                vmenv_error_set(err, VMENV_EXIT_SOFTWARE, "out of memory");
                return NULL;
        }
        /* the user's ~/.ssh/config first; what the URI says wins */
        if (ssh_options_set(s, SSH_OPTIONS_HOST, j->host) < 0 ||
            ssh_options_parse_config(s, NULL) < 0 ||
            (j->user && ssh_options_set(s, SSH_OPTIONS_USER, j->user) < 0) ||
            (j->port && ssh_options_set(s, SSH_OPTIONS_PORT, &j->port) < 0) ||
            (j->known_hosts && ssh_options_set(s, SSH_OPTIONS_KNOWNHOSTS, j->known_hosts) < 0) ||
            ssh_options_set(s, SSH_OPTIONS_TIMEOUT, &zero) < 0 ||
            ssh_options_set(s, SSH_OPTIONS_TIMEOUT_USEC, &timeout_us) < 0) {
                jump_error(err, VMENV_EXIT_CONFIG, j, s, "set up SSH to");
                goto fail;
        }
        if (ssh_connect(s) != SSH_OK) {
                jump_error(err, VMENV_EXIT_NETWORK, j, s, "connect to");
                goto fail;
        }
        if (jump_known(s, j, err) < 0 || jump_login(s, j, err) < 0)
                goto fail;
        return s;
fail:
        ssh_disconnect(s);
        ssh_free(s);
        return NULL;
}

int vmenv_ssh_jump_open(const struct vmenv_ssh_jump *j, const char *host, int port, int timeout_ms,
                        int local_fd, struct vmenv_ssh_jump_conn **out, vmenv_error *err)
{
        struct vmenv_ssh_jump_conn *c = vmenv_calloc(1, sizeof(*c));
        int pair[2] = {-1, -1}, r;
        bool given = local_fd >= 0;

        c->fd = -1;
        c->stop[0] = c->stop[1] = -1;
        if (!(c->session = jump_session(j, timeout_ms, err)))
                goto fail;
        if (!(c->channel = ssh_channel_new(c->session))) {
                jump_error(err, VMENV_EXIT_SOFTWARE, j, c->session, "open a channel on");
                goto fail;
        }
        if (ssh_channel_open_forward(c->channel, host, port, "127.0.0.1", 0) != SSH_OK) {
                char buf[256];
                vmenv_error_set(err, VMENV_EXIT_NETWORK, "cannot reach %s:%d through '%s': %s",
                                host, port, j->host,
                                vmenv_ssh_reason(c->session, buf, sizeof(buf)));
                goto fail;
        }
        if (local_fd < 0 && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0) {
                vmenv_error_errno(err, VMENV_EXIT_SOFTWARE, errno, "cannot make a socket pair");
                goto fail;
        }
        c->fd = local_fd < 0 ? pair[0] : local_fd;
        local_fd = -1;
        if (pipe2(c->stop, O_CLOEXEC) < 0 ||
            fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK) < 0) {
                vmenv_error_errno(err, VMENV_EXIT_SOFTWARE, errno, "cannot set up the jump");
                goto fail;
        }
        if ((r = pthread_create(&c->pump, NULL, pump, c)) != 0) {
                vmenv_error_errno(err, VMENV_EXIT_SOFTWARE, r, "cannot start the jump's thread");
                goto fail;
        }
        c->pumping = true;
        *out = c;
        return given ? 0 : pair[1];
fail:
        if (local_fd >= 0)
                close(local_fd);
        if (pair[1] >= 0)
                close(pair[1]);
        conn_free(c);
        return -1;
}

struct vmenv_ssh_probe {
        ssh_session session;
};

struct vmenv_ssh_probe *vmenv_ssh_probe_open(const struct vmenv_ssh_jump *j, int timeout_ms,
                                             vmenv_error *err)
{
        ssh_session s = jump_session(j, timeout_ms, err);
        struct vmenv_ssh_probe *pr;

        if (!s)
                return NULL;
        pr = vmenv_calloc(1, sizeof(*pr));
        pr->session = s;
        return pr;
}

int vmenv_ssh_probe_port(struct vmenv_ssh_probe *pr, const char *host, int port)
{
        ssh_channel c = ssh_channel_new(pr->session);
        int r = 0;

        if (!c)
                return 0;
        /* the host's sshd connects; the listener sees a connection that
         * closes at once */
        if (ssh_channel_open_forward(c, host, port, "127.0.0.1", 0) == SSH_OK) {
                r = 1;
                ssh_channel_close(c);
        }
        ssh_channel_free(c);
        return r;
}

void vmenv_ssh_probe_close(struct vmenv_ssh_probe *pr)
{
        if (!pr)
                return;
        ssh_disconnect(pr->session);
        ssh_free(pr->session);
        free(pr);
}
