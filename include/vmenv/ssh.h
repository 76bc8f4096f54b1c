/* SSH to machines, over libssh: readiness, commands, an interactive shell,
 * uploads, keys and trust-on-first-use host keys. No libssh type here. */
#ifndef VMENV_SSH_H
#define VMENV_SSH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmenv/error.h"

/* The hypervisor host of a remote libvirt URI, reached over SSH: the
 * guest's forwards are bound to its loopback, so connections to a guest
 * go through a direct-tcpip channel of a session to it (ssh-jump.c).
 * Identity and host key as the user's ssh finds them (agent,
 * ~/.ssh/config, ~/.ssh/known_hosts), or the URI's keyfile= and
 * known_hosts= when the user named them. */
struct vmenv_ssh_jump {
        char *user;        /* NULL: as ~/.ssh/config or the local user */
        char *host;        /* a name or an address, without brackets */
        int port;          /* 0: as ~/.ssh/config, else 22 */
        char *keyfile;     /* NULL: agent and default identities */
        char *known_hosts; /* NULL: ~/.ssh/known_hosts */
};
/* *out (free with vmenv_ssh_jump_free) for a URI naming another host,
 * NULL for a local one (NULL, "", qemu:///system). The ssh transports
 * give their user, host and port; tls and tcp the host, with ssh's
 * defaults. Errors: VMENV_EXIT_CONFIG for a URI that cannot be read. */
int vmenv_ssh_jump_from_uri(const char *uri, struct vmenv_ssh_jump **out, vmenv_error *err);
void vmenv_ssh_jump_free(struct vmenv_ssh_jump *j);
/* For the system ssh: "[user@]host[:port]" for -J and ProxyJump, or, when
 * the URI named a keyfile or known_hosts (which ProxyJump cannot carry),
 * NULL and vmenv_ssh_jump_proxy_command gives a ProxyCommand with every
 * value quoted ("ssh ... -W '[%h]:%p' -- 'host'"). */
char *vmenv_ssh_jump_spec(const struct vmenv_ssh_jump *j);
char *vmenv_ssh_jump_proxy_command(const struct vmenv_ssh_jump *j);

/* Listens on this host's 127.0.0.1 at each of ports and carries every
 * connection to the same port of to_host as the jump host resolves it
 * ("127.0.0.1": its loopback), until stop_fd is readable (then 0). Fails
 * only when a port cannot be listened on. */
int vmenv_ssh_tunnel(const struct vmenv_ssh_jump *j, const char *to_host, const int *ports,
                     size_t n, int stop_fd, vmenv_error *err);

/* Whether something listens on a port of the jump host, asked through one
 * session: a direct-tcpip channel to host:port that opens means yes (1);
 * one refused, or a host that allows no forwarding, means "not seen" (0),
 * and the hypervisor's bind decides. Nothing runs on the host. */
struct vmenv_ssh_probe;
struct vmenv_ssh_probe *vmenv_ssh_probe_open(const struct vmenv_ssh_jump *j, int timeout_ms,
                                             vmenv_error *err);
int vmenv_ssh_probe_port(struct vmenv_ssh_probe *pr, const char *host, int port);
void vmenv_ssh_probe_close(struct vmenv_ssh_probe *pr);

struct vmenv_ssh_target {
        /* NULL: connect to host:port directly; else host:port are an
         * address on the jump host (its 127.0.0.1) */
        const struct vmenv_ssh_jump *jump;
        const char *host; /* "127.0.0.1" */
        int port;
        const char *user;     /* "vagrant" */
        const char *key_path; /* private key file */
        /* Tried when key_path is refused: the insecure key while a first
         * boot that may have swapped keys is not confirmed yet. Optional,
         * and a missing file is skipped. */
        const char *alt_key_path;
        /* The recorded host key as "TYPE BASE64". A different key is
         * refused with an error that says how to clear it. */
        const char *known_host_key;
        /* Without a recorded key: accept whatever key the server shows
         * (trust on first use). Only up's first boot sets it; everyone
         * else is refused before connecting. */
        bool tofu;
        int connect_timeout_ms;
};

struct vmenv_ssh;

/* Connects and authenticates. *seen_host_key (optional) gets the server's key
 * as "TYPE BASE64". Errors: VMENV_EXIT_NETWORK (cannot connect), NOPERM
 * (authentication refused, host key mismatch). */
struct vmenv_ssh *vmenv_ssh_connect(const struct vmenv_ssh_target *t, char **seen_host_key,
                                    vmenv_error *err);
void vmenv_ssh_free(struct vmenv_ssh *s);

/* The boot wait: a guest is ready when a command runs. It connects (one
 * connection at a time, held while the guest sends no banner), logs in
 * and runs ready_cmd on an exec channel; whatever fails on the way while
 * the guest boots is retried until deadline_ns. A changed host key, an
 * unusable key file, a key the guest's sshd keeps refusing, ready_cmd's
 * output over 64 KiB, or the watcher end it early. */
struct vmenv_ssh_wait {
        uint64_t deadline_ns;  /* a vmenv_now_ns() value */
        const char *ready_cmd; /* a shell script; NULL: "true" */
        /* Called about every 250 ms; -1 (with err set) ends the wait at
         * once, e.g. for a domain that stopped by itself. */
        int (*watch)(void *ctx, vmenv_error *err);
        void *watch_ctx;
        /* Filled in (free with vmenv_ssh_wait_clear): */
        char *seen_host_key; /* the guest's key, "TYPE BASE64" */
        int ready_status;    /* ready_cmd's exit status */
        char *ready_output;  /* its stdout and stderr */
        char *attempts;      /* "12 × no banner ...; 2 × ...": what failed on the way */
        char *last_error;
        unsigned tries;
};
struct vmenv_ssh *vmenv_ssh_wait_ready(const struct vmenv_ssh_target *t, struct vmenv_ssh_wait *w,
                                       vmenv_error *err);
void vmenv_ssh_wait_clear(struct vmenv_ssh_wait *w);
/* The private key a session logged in with (key_path or alt_key_path). */
const char *vmenv_ssh_key_used(const struct vmenv_ssh *s);

/* vmenv_ssh_wait_ready with "true" until deadline (a vmenv_now_ns()
 * value); on failure *last_error says what failed last. */
struct vmenv_ssh *vmenv_ssh_wait(const struct vmenv_ssh_target *t, uint64_t deadline_ns,
                                 char **seen_host_key, char **last_error, vmenv_error *err);

/* Runs cmd (a shell command line: quote every argument with
 * vmenv_shell_quote). stdin_data may be NULL. stdout and stderr stream to
 * out_fd and err_fd as they arrive (-1 discards). */
int vmenv_ssh_exec(struct vmenv_ssh *s, const char *cmd, const void *stdin_data, size_t stdin_len,
                   int out_fd, int err_fd, int *exit_status, vmenv_error *err);
/* Runs cmd and keeps stdout in memory (at most max bytes, else an error). */
int vmenv_ssh_capture(struct vmenv_ssh *s, const char *cmd, size_t max, char **out,
                      int *exit_status, vmenv_error *err);
/* Interactive shell (or cmd when not NULL) on a pty when stdin is a
 * terminal: raw mode, window size changes forwarded. */
int vmenv_ssh_shell(struct vmenv_ssh *s, const char *cmd, int *exit_status, vmenv_error *err);
/* Copies a local file to the guest (works without an SFTP server). */
int vmenv_ssh_upload(struct vmenv_ssh *s, const char *local_path, const char *remote_path, int mode,
                     vmenv_error *err);

/* Writes a new ed25519 key pair: priv_path (0600) and priv_path.pub;
 * *pub_line gets "ssh-ed25519 BASE64 comment". */
int vmenv_ssh_keygen(const char *priv_path, const char *comment, char **pub_line, vmenv_error *err);

/* Like vmenv_ssh_upload, from an open file read to its end (streamed). */
int vmenv_ssh_upload_fd(struct vmenv_ssh *s, int fd, const char *remote_path, int mode,
                        vmenv_error *err);

/* "SHA256:..." of a key line "TYPE BASE64 [comment]", for messages; NULL if
 * the line is not a key. */
char *vmenv_ssh_host_key_fingerprint(const char *key_line);

/* First boot: appends new_pub_line to ~/.ssh/authorized_keys of the logged-in
 * user and removes the line holding old_pub_line's key (NULL: the key this
 * session logged in with), via a temporary file and mv; modes 0600/0700. */
int vmenv_ssh_replace_insecure_key(struct vmenv_ssh *s, const char *new_pub_line,
                                   const char *old_pub_line, vmenv_error *err);

/* The shell text (a subshell) that does the same in the guest, for a
 * first-boot script; old_pub_line NULL drops earlier copies of the new key. */
char *vmenv_ssh_authorized_keys_script(const char *new_pub_line, const char *old_pub_line,
                                       vmenv_error *err);

/* Vagrant's insecure private key: $VMENV_INSECURE_KEY, else the Debian
 * 'vagrant' package's keys/vagrant (newest), else
 * ~/.vagrant.d/insecure_private_key. */
char *vmenv_insecure_key_path(vmenv_error *err);

#endif
