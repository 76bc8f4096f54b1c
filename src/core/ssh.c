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

#include "ssh-private.h"
#include "vmenv/cleanup.h"
#include "vmenv/log.h"
#include "vmenv/ssh.h"
#include "vmenv/util.h"

#define DEFAULT_CONNECT_TIMEOUT_MS 10000

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
        vmenv_ssh_jump_close(s->jump);
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
int vmenv_ssh_tcp_connect(const char *host, int port, int timeout_ms, vmenv_error *err)
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

/* libssh's reason, or, when it gives none (a timeout often leaves it
 * empty), what the connection looked like. */
const char *vmenv_ssh_reason(ssh_session session, char *buf, size_t size)
{
        const char *e = session ? ssh_get_error(session) : NULL;
        int st;

        if (e && *e)
                return e;
        if (!session)
                return "no session";
        st = ssh_get_status(session);
        snprintf(buf, size, "no answer in time (connection %s%s)",
                 ssh_is_connected(session) ? "open" : "closed",
                 st & SSH_CLOSED_ERROR ? ", closed with an error"
                 : st & SSH_CLOSED     ? ", closed by the guest"
                                       : "");
        return buf;
}

/* Loads a private key; an unreadable key is a local problem, said at once. */
static int load_key(const char *path, ssh_key *out, vmenv_error *err)
{
        if (ssh_pki_import_privkey_file(path, NULL, NULL, NULL, out) == SSH_OK)
                return 0;
        if (access(path, R_OK) < 0)
                return vmenv_error_set(err, VMENV_EXIT_NOINPUT,
                                       "cannot load private key '%s': no such file or no access",
                                       path);
        return vmenv_error_set(err, VMENV_EXIT_DATA,
                               "cannot load private key '%s': not a usable key", path);
}

/* Public-key authentication with one key, non-blocking so a guest that
 * stalls after the key exchange cannot hold us past end_ns (libssh would
 * wait forever). */
static int auth_key(ssh_session session, int fd, ssh_key key, uint64_t end_ns)
{
        int rc;

        ssh_set_blocking(session, 0);
        while ((rc = ssh_userauth_publickey(session, NULL, key)) == SSH_AUTH_AGAIN) {
                uint64_t now = vmenv_now_ns();
                struct pollfd pfd = {.fd = fd, .events = POLLIN};
                if (now >= end_ns)
                        break;
                poll(&pfd, 1, (int)((end_ns - now) / 1000000 + 1));
        }
        ssh_set_blocking(session, 1);
        return rc;
}

struct vmenv_ssh *vmenv_ssh_login_fd(const struct vmenv_ssh_target *t, int fd_in, int timeout_ms,
                                     char **seen_host_key, bool *fatal, vmenv_error *err)
{
        _cleanup_close_ int fd = fd_in; /* declared first: closed after ssh_free */
        _cleanup_(ssh_sessionp) ssh_session session = NULL;
        _cleanup_key_ ssh_key priv = NULL, alt = NULL, srv = NULL;
        _cleanup_free_ char *algos = NULL, *seen = NULL;
        const char *used = t->key_path;
        struct vmenv_ssh *s;
        long usec = (long)timeout_ms * 1000;
        int rc, off = 0;
        const char *user = t->user ? t->user : "vagrant";
        char why[128];

        *fatal = true;
        if (!t->host || !t->key_path)
                return vmenv_error_set(err, VMENV_EXIT_SOFTWARE, "ssh target without host or key"),
                       NULL;
        if (!t->known_host_key && !t->tofu) {
                vmenv_error_set(err, VMENV_EXIT_NOPERM,
                                "no host key is recorded for %s:%d, so it cannot be checked",
                                t->host, t->port);
                vmenv_error_hint(err, "run 'vmenv up' to boot the machine and record its host key "
                                      "(only the first boot trusts a new key)");
                return NULL;
        }
        if (load_key(t->key_path, &priv, err) < 0)
                return NULL;
        /* the second key may not exist yet: it is only ever a fallback */
        if (t->alt_key_path && access(t->alt_key_path, R_OK) == 0 &&
            load_key(t->alt_key_path, &alt, err) < 0)
                return NULL;
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
            ssh_options_set(session, SSH_OPTIONS_HOSTKEYS, algos) < 0 ||
            ssh_options_set(session, SSH_OPTIONS_FD, &fd) < 0) {
                vmenv_error_set(err, VMENV_EXIT_SOFTWARE, "cannot set ssh options: %s",
                                ssh_get_error(session));
                return NULL;
        }
        *fatal = false;
        if (ssh_connect(session) != SSH_OK) {
                const char *e = vmenv_ssh_reason(session, why, sizeof(why));
                if (strstr(e, "imeout") || strstr(e, "timed out") || strstr(e, "no answer"))
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
                                t->port, vmenv_ssh_reason(session, why, sizeof(why)));
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
        {
                uint64_t end = vmenv_now_ns() + (uint64_t)timeout_ms * 1000000ull;
                rc = auth_key(session, fd, priv, end);
                if (rc == SSH_AUTH_DENIED && alt) {
                        rc = auth_key(session, fd, alt, end);
                        used = t->alt_key_path;
                }
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
                                        t->port, user, vmenv_ssh_reason(session, why, sizeof(why)));
                else
                        vmenv_error_set(err, VMENV_EXIT_NOPERM,
                                        "authentication refused for '%s' with key %s%s%s", user,
                                        t->key_path, alt ? " and " : "",
                                        alt ? t->alt_key_path : "");
                return NULL;
        }
        /* The guest is up: later requests (a channel while PAM and logind
         * start, a long upload) get a generous timeout, not the login's. */
        usec = (long)VMENV_SSH_SESSION_TIMEOUT_MS * 1000;
        ssh_options_set(session, SSH_OPTIONS_TIMEOUT_USEC, &usec);
        vmenv_debug("ssh: logged in to %s@%s:%d with %s", user, t->host, t->port, used);
        s = vmenv_calloc(1, sizeof(*s));
        s->session = TAKE_PTR(session);
        s->host = vmenv_strdup(t->host);
        s->port = t->port;
        s->user = vmenv_strdup(user);
        s->key_path = vmenv_strdup(used);
        s->fd = TAKE_FD(fd);
        if (seen_host_key)
                *seen_host_key = TAKE_PTR(seen);
        return s;
}

struct vmenv_ssh *vmenv_ssh_connect(const struct vmenv_ssh_target *t, char **seen_host_key,
                                    vmenv_error *err)
{
        int timeout_ms = timeout_ms_of(t), fd;
        struct vmenv_ssh_jump_conn *jump = NULL;
        struct vmenv_ssh *s;
        bool fatal;

        if ((fd = vmenv_ssh_transport(t, timeout_ms, &jump, err)) < 0)
                return NULL;
        if (!(s = vmenv_ssh_login_fd(t, fd, timeout_ms, seen_host_key, &fatal, err)))
                vmenv_ssh_jump_close(jump);
        else
                s->jump = jump;
        return s;
}

int vmenv_ssh_transport(const struct vmenv_ssh_target *t, int timeout_ms,
                        struct vmenv_ssh_jump_conn **jump, vmenv_error *err)
{
        *jump = NULL;
        if (!t->jump)
                return vmenv_ssh_tcp_connect(t->host, t->port, timeout_ms, err);
        return vmenv_ssh_jump_open(t->jump, t->host, t->port, timeout_ms, -1, jump, err);
}

const char *vmenv_ssh_key_used(const struct vmenv_ssh *s)
{
        return s->key_path;
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
        r = vmenv_write_all(fd, pem, len) < 0 || fsync(fd) < 0 ? errno : 0;
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

char *vmenv_ssh_authorized_keys_script(const char *new_pub_line, const char *old_pub_line,
                                       vmenv_error *err)
{
        _cleanup_free_ char *nt = NULL, *nb = NULL, *ot = NULL, *ob = NULL;
        _cleanup_free_ char *qline = NULL, *qnew = NULL, *qold = NULL, *clean = NULL;

        if (split_key_line(new_pub_line, &nt, &nb) < 0)
                return vmenv_error_set(err, VMENV_EXIT_DATA, "not a public key line: '%.40s'",
                                       new_pub_line ? new_pub_line : ""),
                       NULL;
        if (old_pub_line && split_key_line(old_pub_line, &ot, &ob) < 0)
                return vmenv_error_set(err, VMENV_EXIT_DATA, "not a public key line: '%.40s'",
                                       old_pub_line),
                       NULL;
        clean = vmenv_strndup(new_pub_line, strcspn(new_pub_line, "\r\n"));
        qline = vmenv_shell_quote(clean);
        qnew = vmenv_shell_quote(nb);
        /* without an old key, drop earlier copies of the new one: idempotent */
        qold = vmenv_shell_quote(ob && strcmp(ob, nb) != 0 ? ob : nb);
        /* grep -v prints every kept line with its newline, so a file without a
         * final newline still gets the new key on a line of its own. */
        return vmenv_strdupf(
            "( set -e; umask 077; d=\"$HOME/.ssh\"; f=\"$d/authorized_keys\"; "
            "t=\"$d/authorized_keys.vmenv-tmp\"; mkdir -p \"$d\"; chmod 700 \"$d\"; "
            "touch \"$f\"; "
            "{ grep -v -F -e %s -e %s \"$f\" || [ $? -eq 1 ]; printf '%%s\\n' %s; } > \"$t\"; "
            "chmod 600 \"$t\"; mv -f \"$t\" \"$f\" )",
            qnew, qold, qline);
}

int vmenv_ssh_replace_insecure_key(struct vmenv_ssh *s, const char *new_pub_line,
                                   const char *old_pub_line, vmenv_error *err)
{
        _cleanup_free_ char *derived = NULL, *script = NULL, *full = NULL;
        struct vmenv_buf eb = {0};
        struct io io = {.in_fd = -1, .out_fd = -1, .err_fd = -1, .cap = &eb, .cap_max = 65536};
        int status = 0;

        if (!old_pub_line)
                old_pub_line = derived = pub_of_private(s->key_path);
        if (!(script = vmenv_ssh_authorized_keys_script(new_pub_line, old_pub_line, err)))
                return -1;
        /* stderr is the interesting part: send it to stdout */
        full = vmenv_strdupf("{ %s; } 2>&1", script);
        if (vmenv_ssh_run_io(s, full, &io, &status, err) < 0) {
                vmenv_buf_free(&eb);
                return vmenv_error_prefix(err, "cannot update authorized_keys of '%s'", s->user);
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
