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
};

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

/* Runs cmd with io on a new exec channel; *exit_status is 128+n for a
 * command killed by signal n. */
int vmenv_ssh_run_io(struct vmenv_ssh *s, const char *cmd, struct io *io, int *exit_status,
                     vmenv_error *err);

#endif
