/* Which libvirt URIs a project file may name. libvirt's transports include
 * some that run a program on this host (qemu+ext, command=, netcat=, socket=
 * for the ssh transports, a keyfile, skipped certificate checks): a cloned
 * repository must not pick one. The user can still name any URI with
 * --connect or VMENV_LIBVIRT_URI. */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "vmenv/cleanup.h"
#include "vmenv/config.h"
#include "vmenv/ssh.h"
#include "vmenv/util.h"

/* Query parameters that only tune a remote connection. Anything else
 * (command, socket, netcat, keyfile, no_verify, known_hosts, pkipath, proxy,
 * name, ...) is refused rather than listed, so a future libvirt parameter
 * is refused until someone looks at it. */
static const char *const allowed_params[] = {"no_tty", "mode", "sshauth", "tls_priority", NULL};

static int hexval(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        c = (char)tolower((unsigned char)c);
        return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decodes s[0..n) into a new string; NULL for a bad escape or a
 * decoded control character or NUL. */
static char *pct_decode(const char *s, size_t n)
{
        _cleanup_free_ char *out = vmenv_malloc(n + 1);
        size_t k = 0;

        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)s[i];
                if (c == '%') {
                        int hi, lo;
                        if (i + 2 >= n)
                                return NULL;
                        if ((hi = hexval(s[i + 1])) < 0 || (lo = hexval(s[i + 2])) < 0)
                                return NULL;
                        c = (unsigned char)(hi * 16 + lo);
                        i += 2;
                }
                if (c < 0x20 || c == 0x7f)
                        return NULL;
                out[k++] = (char)c;
        }
        out[k] = '\0';
        return TAKE_PTR(out);
}

/* A host name or [IPv6] literal with an optional :port, never an option. */
static bool authority_host_valid(const char *h, size_t n)
{
        size_t i = 0;

        if (!n || h[0] == '-' || h[0] == '.')
                return false;
        if (h[0] == '[') {
                while (i < n && h[i] != ']')
                        i++;
                if (i == n || i == 1 || strspn(h + 1, "0123456789abcdefABCDEF:.") < i - 1)
                        return false;
                i++;
        } else {
                while (i < n && (isalnum((unsigned char)h[i]) || h[i] == '-' || h[i] == '.'))
                        i++;
                if (i == 0)
                        return false; /* ":22" names no host */
        }
        if (i < n && h[i] == ':') {
                size_t d = strspn(h + i + 1, "0123456789");
                if (!d || d > 5 || i + 1 + d != n)
                        return false;
                i = n;
        }
        return i == n;
}

/* Why uri cannot be read at all, or NULL. */
static const char *unreadable(const char *uri)
{
        for (const unsigned char *c = (const unsigned char *)uri; *c; c++)
                if (*c <= 0x20 || *c >= 0x7f)
                        return "it holds a space, a control or non-ASCII character";
        if (!strstr(uri, "://"))
                return "not a URI (no '://')";
        return NULL;
}

static int refuse(vmenv_error *err, const char *uri, const char *why)
{
        vmenv_error_set(err, VMENV_EXIT_CONFIG, "URI '%s' is refused: %s", uri, why);
        return vmenv_error_hint(err, "a project file may name qemu:///system, qemu:///session "
                                     "or qemu+ssh:// and qemu+tls:// hosts; pass any other URI "
                                     "with --connect or VMENV_LIBVIRT_URI");
}

int vmenv_uri_check_project(const char *uri, vmenv_error *err)
{
        const char *sep, *auth, *path, *query, *end;
        size_t slen;
        const char *bad;
        bool remote;

        if ((bad = unreadable(uri)))
                return refuse(err, uri, bad);
        sep = strstr(uri, "://");
        slen = (size_t)(sep - uri);
        if (slen == 4 && !strncasecmp(uri, "qemu", 4))
                remote = false;
        else if (slen == 8 &&
                 (!strncasecmp(uri, "qemu+ssh", 8) || !strncasecmp(uri, "qemu+tls", 8)))
                remote = true;
        else
                return refuse(err, uri, "only the qemu, qemu+ssh and qemu+tls transports");
        if (strchr(uri, '#'))
                return refuse(err, uri, "a fragment ('#') is not part of a libvirt URI");
        auth = sep + 3;
        path = strchr(auth, '/');
        query = strchr(auth, '?');
        if (!path || (query && query < path))
                return refuse(err, uri, "no path: end it with /system or /session");
        end = query ? query : uri + strlen(uri);
        if ((size_t)(end - path) != 7 || strncasecmp(path, "/system", 7)) {
                if ((size_t)(end - path) != 8 || strncasecmp(path, "/session", 8))
                        return refuse(err, uri, "the path must be /system or /session");
        }
        if (!remote) {
                if (path != auth)
                        return refuse(err, uri, "a host needs qemu+ssh:// or qemu+tls://");
                if (query)
                        return refuse(err, uri, "a local URI takes no parameters");
                return 0;
        }
        {
                const char *at = memchr(auth, '@', (size_t)(path - auth));
                const char *host = at ? at + 1 : auth;
                if (at) {
                        _cleanup_free_ char *user = pct_decode(auth, (size_t)(at - auth));
                        if (!user || !vmenv_ssh_user_valid(user))
                                return refuse(err, uri, "the user name is not valid");
                }
                if (!authority_host_valid(host, (size_t)(path - host)))
                        return refuse(err, uri, "the host name is not valid");
        }
        for (const char *q = query ? query + 1 : NULL; q && *q;) {
                const char *amp = q + strcspn(q, "&;");
                const char *eq = memchr(q, '=', (size_t)(amp - q));
                _cleanup_free_ char *name = pct_decode(q, (size_t)((eq ? eq : amp) - q));
                _cleanup_free_ char *value =
                    eq ? pct_decode(eq + 1, (size_t)(amp - eq - 1)) : vmenv_strdup("");
                bool ok = false;

                if (!name || !value)
                        return refuse(err, uri, "a parameter cannot be decoded");
                for (const char *const *a = allowed_params; *a && !ok; a++)
                        ok = !strcasecmp(name, *a);
                if (ok && value[strspn(value, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                              "0123456789,:._+!-")]) {
                        _cleanup_free_ char *why =
                            vmenv_strdupf("the value of '%s' holds an unexpected character", name);
                        return refuse(err, uri, why);
                }
                if (!ok) {
                        _cleanup_free_ char *why =
                            vmenv_strdupf("the parameter '%s' is not allowed", name);
                        return refuse(err, uri, why);
                }
                q = *amp ? amp + 1 : amp;
        }
        return 0;
}

/* ---- the SSH jump host of a URI ---------------------------------------- */

void vmenv_ssh_jump_free(struct vmenv_ssh_jump *j)
{
        if (!j)
                return;
        free(j->user);
        free(j->host);
        free(j->keyfile);
        free(j->known_hosts);
        free(j);
}
VMENV_DEFINE_CLEANUP(struct vmenv_ssh_jump, vmenv_ssh_jump_free)

static int jump_bad(vmenv_error *err, const char *uri, const char *why)
{
        return vmenv_error_set(err, VMENV_EXIT_CONFIG, "cannot reach the host of URI '%s': %s", uri,
                               why);
}

/* A file named by keyfile= or known_hosts=: it reaches an ssh_config and
 * ssh's argv, where '%' expands and quotes end words. */
static bool jump_path_valid(const char *v)
{
        return *v && !strpbrk(v, "%\"'\\ \t");
}

int vmenv_ssh_jump_from_uri(const char *uri, struct vmenv_ssh_jump **out, vmenv_error *err)
{
        _cleanup_(vmenv_ssh_jump_freep) struct vmenv_ssh_jump *j = NULL;
        const char *sep, *plus, *auth, *path, *at, *host, *hend, *colon = NULL, *bad;
        bool ssh;

        *out = NULL;
        if (!uri || !*uri)
                return 0;
        if ((bad = unreadable(uri)))
                return jump_bad(err, uri, bad);
        sep = strstr(uri, "://");
        auth = sep + 3;
        path = auth + strcspn(auth, "/?#");
        if (path == auth)
                return 0; /* no host: this machine */
        plus = memchr(uri, '+', (size_t)(sep - uri));
        /* the transport: ssh, libssh and libssh2 say how to log in; a host
         * without one is tls, which says only where */
        ssh = plus && ((sep - plus - 1 == 3 && !strncasecmp(plus + 1, "ssh", 3)) ||
                       (sep - plus - 1 == 6 && !strncasecmp(plus + 1, "libssh", 6)) ||
                       (sep - plus - 1 == 7 && !strncasecmp(plus + 1, "libssh2", 7)));
        if (plus && !ssh && (sep - plus - 1 == 4 && !strncasecmp(plus + 1, "unix", 4)))
                return jump_bad(err, uri, "a unix socket URI names no host");
        j = vmenv_calloc(1, sizeof(*j));
        at = memchr(auth, '@', (size_t)(path - auth));
        host = at ? at + 1 : auth;
        if (at && ssh) {
                if (!(j->user = pct_decode(auth, (size_t)(at - auth))) ||
                    !vmenv_ssh_user_valid(j->user))
                        return jump_bad(err, uri, "the user name is not valid");
        }
        if (!authority_host_valid(host, (size_t)(path - host)))
                return jump_bad(err, uri, "the host name is not valid");
        if (*host == '[') {
                hend = memchr(host, ']', (size_t)(path - host));
                j->host = vmenv_strndup(host + 1, (size_t)(hend - host - 1));
                colon = hend + 1 < path ? hend + 1 : NULL;
        } else {
                colon = memchr(host, ':', (size_t)(path - host));
                j->host = vmenv_strndup(host, (size_t)((colon ? colon : path) - host));
        }
        if (colon && ssh) {
                long port = strtol(colon + 1, NULL, 10);
                if (port < 1 || port > 65535)
                        return jump_bad(err, uri, "the port is not valid");
                j->port = (int)port;
        }
        for (const char *q = strchr(path, '?'); ssh && q && *q;) {
                const char *amp, *eq;
                _cleanup_free_ char *name = NULL, *value = NULL;

                q++;
                amp = q + strcspn(q, "&;#");
                eq = memchr(q, '=', (size_t)(amp - q));
                name = pct_decode(q, (size_t)((eq ? eq : amp) - q));
                value = eq ? pct_decode(eq + 1, (size_t)(amp - eq - 1)) : vmenv_strdup("");
                if (!name || !value)
                        return jump_bad(err, uri, "a parameter cannot be decoded");
                if (!strcasecmp(name, "keyfile") || !strcasecmp(name, "known_hosts")) {
                        char **slot = !strcasecmp(name, "keyfile") ? &j->keyfile : &j->known_hosts;
                        if (!jump_path_valid(value))
                                return jump_bad(err, uri,
                                                "a file name in a parameter holds a space, "
                                                "a quote, a backslash or a '%'");
                        free(*slot);
                        *slot = TAKE_PTR(value);
                }
                q = *amp == '&' || *amp == ';' ? amp : NULL;
        }
        *out = TAKE_PTR(j);
        return 0;
}

static bool jump_plain(const struct vmenv_ssh_jump *j)
{
        return !j->keyfile && !j->known_hosts;
}

char *vmenv_ssh_jump_spec(const struct vmenv_ssh_jump *j)
{
        bool v6 = strchr(j->host, ':') != NULL;
        _cleanup_free_ char *port = j->port ? vmenv_strdupf(":%d", j->port) : vmenv_strdup("");

        if (!jump_plain(j))
                return NULL;
        return vmenv_strdupf("%s%s%s%s%s%s", j->user ? j->user : "", j->user ? "@" : "",
                             v6 ? "[" : "", j->host, v6 ? "]" : "", port);
}

char *vmenv_ssh_jump_proxy_command(const struct vmenv_ssh_jump *j)
{
        struct vmenv_buf b = {0};

        if (jump_plain(j))
                return NULL;
        /* every value was checked when the URI was read: no quote, space,
         * backslash or '%' in a file name; user and host of a safe alphabet */
        vmenv_buf_puts(&b, "ssh -o BatchMode=yes");
        if (j->keyfile)
                vmenv_buf_printf(&b, " -o IdentitiesOnly=yes -i '%s'", j->keyfile);
        if (j->known_hosts)
                vmenv_buf_printf(&b, " -o 'UserKnownHostsFile=%s'", j->known_hosts);
        if (j->user)
                vmenv_buf_printf(&b, " -l '%s'", j->user);
        if (j->port)
                vmenv_buf_printf(&b, " -p %d", j->port);
        vmenv_buf_printf(&b, " -W '[%%h]:%%p' -- '%s'", j->host);
        return vmenv_buf_steal(&b);
}
