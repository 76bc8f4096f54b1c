/* libFuzzer target for the check of libvirt URIs named by a project file:
 * any bytes give a verdict, a refusal always has a message, and an accepted
 * URI never names a transport or parameter that runs a host program, in
 * any case or percent-encoding. The same bytes go to the reading of the
 * jump host (remote hypervisors): what it gives the system ssh never holds
 * a character that could end a word or a line, or start an option, and to
 * the remote-or-local rule of names and client marks. */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "vmenv/cleanup.h"
#include "vmenv/config.h"
#include "vmenv/ssh.h"
#include "vmenv/state.h"
#include "vmenv/util.h"

#include "../../src/core/config-uri.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The URI lower-cased with every %XX decoded, for the invariants below. */
static char *folded(const char *s)
{
        char *out = vmenv_malloc(strlen(s) + 1), *o = out;

        for (; *s; s++) {
                int hi, lo;
                if (*s == '%' && (hi = hexval(s[1])) >= 0 && (lo = hexval(s[2])) >= 0) {
                        *o++ = (char)tolower(hi * 16 + lo);
                        s += 2;
                } else {
                        *o++ = (char)tolower((unsigned char)*s);
                }
        }
        *o = '\0';
        return out;
}

static void check_jump(const char *uri)
{
        struct vmenv_ssh_jump *j = NULL;
        vmenv_error err = VMENV_ERROR_INIT;
        char *spec, *proxy;

        if (vmenv_ssh_jump_from_uri(uri, &j, &err) < 0) {
                if (!err.msg || err.code != VMENV_EXIT_CONFIG || j)
                        abort();
                vmenv_error_clear(&err);
                return;
        }
        if (!j)
                return;
        if (!*j->host || j->host[0] == '-' || strpbrk(j->host, " '\"\\%;\n\t@/") ||
            (j->user && (j->user[0] == '-' || strpbrk(j->user, " '\"\\%;\n\t@/:"))) ||
            j->port < 0 || j->port > 65535)
                abort();
        for (const char *f = j->keyfile; f; f = f == j->keyfile ? j->known_hosts : NULL)
                if (!*f || strpbrk(f, " '\"\\%\n\t"))
                        abort();
        spec = vmenv_ssh_jump_spec(j);
        proxy = vmenv_ssh_jump_proxy_command(j);
        if (!spec == !proxy || (spec && (spec[0] == '-' || strpbrk(spec, " '\"\n"))) ||
            (proxy && strpbrk(proxy, "\n\"\\")))
                abort();
        free(spec);
        free(proxy);
        vmenv_ssh_jump_free(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static const char *const never[] = {"command=",   "netcat=",  "socket=",   "keyfile=",
                                            "no_verify=", "qemu+ext", "qemu+unix", "qemu+tcp"};
        _cleanup_free_ char *uri = vmenv_strndup((const char *)data, size);
        _cleanup_free_ char *f = NULL;
        vmenv_error err = VMENV_ERROR_INIT;
        bool remote;

        if (strlen(uri) != size)
                return 0; /* vmenv.yaml values never hold a NUL */
        check_jump(uri);
        /* remote or local (client-id.c) gives a verdict for any bytes */
        remote = vmenv_uri_remote(uri);
        if (vmenv_uri_check_project(uri, &err) < 0) {
                if (!err.msg || err.code != VMENV_EXIT_CONFIG)
                        abort();
                vmenv_error_clear(&err);
                return 0;
        }
        f = folded(uri);
        if (strncmp(f, "qemu:///", 8) && strncmp(f, "qemu+ssh://", 11) &&
            strncmp(f, "qemu+tls://", 11))
                abort();
        /* an accepted URI is remote exactly when it is not qemu:///… */
        if (remote != (strncmp(f, "qemu:///", 8) != 0))
                abort();
        /* No parameter name, decoded and folded, is one that runs a program. */
        for (char *q = strchr(f, '?'); q && *q; q += strcspn(q, "&;")) {
                size_t n;
                q += strspn(q, "?&;");
                n = strcspn(q, "=&;");
                for (size_t i = 0; i < VMENV_ARRAY_SIZE(never); i++)
                        if (n == strlen(never[i]) && !strncmp(q, never[i], n))
                                abort();
        }
        return 0;
}
