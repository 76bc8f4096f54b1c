/* What the ssh modules share: ssh.c (connecting, readiness, keys) and
 * ssh-exec.c (commands, uploads, the shell). Not part of the public API;
 * the only other place that sees libssh types. */
#ifndef VMENV_SSH_PRIVATE_H
#define VMENV_SSH_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libssh/callbacks.h>
#include <libssh/libssh.h>

#include "vmenv/cleanup.h"
#include "vmenv/ssh.h"
#include "vmenv/util.h"

struct vmenv_ssh {
        ssh_session session;
        char *host;
        int port;
        char *user;
        char *key_path;
        int fd; /* ours: libssh does not close a socket given by SSH_OPTIONS_FD */
        struct vmenv_ssh_jump_conn *jump; /* the channel fd is pumped to, or NULL */
};

/* Requests on a logged-in session: a channel opened while PAM and logind
 * start under TCG can take many seconds. */
#define VMENV_SSH_SESSION_TIMEOUT_MS 120000

VMENV_DEFINE_CLEANUP(struct vmenv_ssh, vmenv_ssh_free)

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
        /* 0, or a vmenv_now_ns() time after which the command is given up;
         * with it, tick (optional) is called about every 200 ms and ends
         * the command when it returns -1 */
        uint64_t deadline_ns;
        int (*tick)(void *ctx, vmenv_error *err);
        void *tick_ctx;
};

/* Runs cmd with io on a new exec channel; *exit_status is 128+n for a
 * command killed by signal n. */
int vmenv_ssh_run_io(struct vmenv_ssh *s, const char *cmd, struct io *io, int *exit_status,
                     vmenv_error *err);

/* A TCP connection within timeout_ms; errors say "connection refused" etc. */
int vmenv_ssh_tcp_connect(const char *host, int port, int timeout_ms, vmenv_error *err);
/* The ssh handshake, host key check and login on a connected fd (always
 * taken over). *fatal says a retry cannot help (host key changed, key file
 * unusable). */
struct vmenv_ssh *vmenv_ssh_login_fd(const struct vmenv_ssh_target *t, int fd, int timeout_ms,
                                     char **seen_host_key, bool *fatal, vmenv_error *err);
/* A direct-tcpip channel to host:port through a session to the jump host,
 * pumped by a thread to local_fd (taken over), or with local_fd -1 to one
 * end of a new socket pair whose other end is returned (else 0). Close
 * with vmenv_ssh_jump_close, which stops and joins the pump. Errors:
 * VMENV_EXIT_NETWORK (host or port unreachable), NOPERM (host key, login). */
struct vmenv_ssh_jump_conn;
int vmenv_ssh_jump_open(const struct vmenv_ssh_jump *j, const char *host, int port, int timeout_ms,
                        int local_fd, struct vmenv_ssh_jump_conn **out, vmenv_error *err);
void vmenv_ssh_jump_close(struct vmenv_ssh_jump_conn *c);
/* Whether the connection ended (either side closed). */
bool vmenv_ssh_jump_done(struct vmenv_ssh_jump_conn *c);
VMENV_DEFINE_CLEANUP(struct vmenv_ssh_jump_conn, vmenv_ssh_jump_close)
/* A connection to the target's host:port, direct or through its jump
 * (*jump set, to keep with the session). */
int vmenv_ssh_transport(const struct vmenv_ssh_target *t, int timeout_ms,
                        struct vmenv_ssh_jump_conn **jump, vmenv_error *err);

/* libssh's error, or what the connection looked like when it gives none. */
const char *vmenv_ssh_reason(ssh_session session, char *buf, size_t size);

#endif
