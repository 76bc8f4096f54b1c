/* This computer's identity on shared hypervisors. Two computers that keep a
 * project at the same path (CI runners' /builds/..., containers' /workspace)
 * and use the same remote hypervisor would otherwise name the same domain
 * and adopt each other's machines. A random ID made once in $VMENV_HOME goes
 * into the names and the ownership mark of machines on a remote URI only:
 * local domain names do not change. It tells computers apart; it is no
 * secret and no credential (anyone who may manage the hypervisor may touch
 * any domain on it). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <unistd.h>

#include "vmenv/cleanup.h"
#include "vmenv/machine.h"
#include "vmenv/state.h"
#include "vmenv/util.h"

#define CLIENT_ID_HEX 32

/* Where a machine runs (here, beside the client ID that depends on it, so
 * that naming a domain needs no provider). */
const char *vmenv_machine_uri(const struct vmenv_machine_config *m)
{
        const char *env = getenv("VMENV_LIBVIRT_URI");

        if (m->libvirt.uri && *m->libvirt.uri)
                return m->libvirt.uri;
        return env && *env ? env : NULL;
}

bool vmenv_uri_remote(const char *uri)
{
        const char *sep = uri ? strstr(uri, "://") : NULL, *plus;

        /* no scheme: an alias of libvirt.conf, which only the connection
         * resolves (the provider refuses an alias of a remote URI) */
        if (!sep)
                return false;
        /* a host part, or a transport that can reach one (ssh, tls, tcp,
         * ext, libssh…): only unix is this host's socket for sure */
        if (sep[3] && sep[3] != '/' && sep[3] != '?')
                return true;
        plus = memchr(uri, '+', (size_t)(sep - uri));
        return plus && !(sep - plus - 1 == 4 && strncasecmp(plus + 1, "unix", 4) == 0);
}

static bool id_valid(const char *s, size_t len)
{
        while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r'))
                len--;
        return len == CLIENT_ID_HEX && strspn(s, "0123456789abcdef") >= CLIENT_ID_HEX;
}

static char *id_new(void)
{
        unsigned char r[CLIENT_ID_HEX / 2];
        char *hex = vmenv_malloc(CLIENT_ID_HEX + 2);
        size_t got = 0;

        while (got < sizeof(r)) {
                ssize_t n = getrandom(r + got, sizeof(r) - got, 0);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        abort(); /* a kernel without getrandom cannot run vmenv */
                got += (size_t)n;
        }
        for (size_t i = 0; i < sizeof(r); i++)
                sprintf(hex + 2 * i, "%02x", r[i]);
        hex[CLIENT_ID_HEX] = '\n';
        hex[CLIENT_ID_HEX + 1] = '\0';
        return hex;
}

static int make_id(const char *home, const char *path, vmenv_error *err)
{
        _cleanup_free_ char *id = id_new();
        _cleanup_free_ char *tmp = vmenv_strdupf("%s.%ld.tmp", path, (long)getpid());
        _cleanup_close_ int fd = -1, dfd = -1;
        int r = 0;

        if (vmenv_mkdir_p(home, 0700, err) < 0)
                return -1;
        unlink(tmp);
        if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600)) < 0 ||
            write(fd, id, strlen(id)) != (ssize_t)strlen(id) || fsync(fd) < 0)
                r = vmenv_error_errno(err, VMENV_EXIT_IO, errno, "cannot write '%s'", tmp);
        else if (link(tmp, path) < 0 && errno != EEXIST)
                r = vmenv_error_errno(err, VMENV_EXIT_IO, errno, "cannot make '%s'", path);
        unlink(tmp);
        /* the link on disk before any domain carries the ID: a crash must
         * not bring back a home without it (and a new ID at next start) */
        if (r == 0 &&
            ((dfd = open(home, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 || fsync(dfd) < 0))
                r = vmenv_error_errno(err, VMENV_EXIT_IO, errno, "cannot sync folder '%s'", home);
        return r;
}

/* Reads $VMENV_HOME/client-id, making it first when there is none. Two
 * vmenv starting at once agree: the new ID is written to a private file
 * and link()ed into place, which fails if the other was first. */
char *vmenv_client_id(vmenv_error *err)
{
        _cleanup_free_ char *home = vmenv_home();
        _cleanup_free_ char *path = vmenv_path_join(home, "client-id");
        _cleanup_free_ char *text = NULL;
        size_t len = 0;

        if (!vmenv_path_exists(path) && make_id(home, path, err) < 0)
                return NULL;
        if (vmenv_read_file(path, 4096, &text, &len, err) < 0)
                return NULL;
        if (!id_valid(text, len)) {
                vmenv_error_set(err, VMENV_EXIT_DATA,
                                "'%s' is not a vmenv client ID (32 hex digits)", path);
                vmenv_error_hint(err, "remove it: vmenv makes a new one, and the machines made "
                                      "on remote hypervisors with the old one are then another "
                                      "computer's (docs/remote.md)");
                return NULL;
        }
        text[CLIENT_ID_HEX] = '\0';
        return TAKE_PTR(text);
}

int vmenv_config_identify(struct vmenv_config *c, vmenv_error *err)
{
        bool remote = false;

        for (size_t i = 0; c && i < c->n_machines; i++)
                remote = remote || vmenv_uri_remote(vmenv_machine_uri(&c->machines[i]));
        if (!c || c->client_id || !remote)
                return 0;
        return (c->client_id = vmenv_client_id(err)) ? 0 : -1;
}
