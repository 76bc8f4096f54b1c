/* The jump host of a libvirt URI (docs/remote.md): which URIs name another
 * host, the user, host and port ssh gets from each, the files the user may
 * name, what the system ssh is told (-J or a quoted ProxyCommand), and the
 * URIs refused. A new case is a new row. */
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "vmenv/config.h"
#include "vmenv/ssh.h"

struct row {
        const char *uri;
        /* expected; host NULL: a local URI (no jump) */
        const char *user, *host;
        int port;
        const char *keyfile, *known_hosts;
        const char *spec;  /* -J / ProxyJump */
        const char *proxy; /* ProxyCommand */
};

static const struct row good[] = {
    {NULL},
    {""},
    {"qemu:///system"},
    {"qemu:///session"},
    {"qemu+unix:///system"},
    {"qemu+ssh://root@198.18.0.2/system", "root", "198.18.0.2", 0, NULL, NULL, "root@198.18.0.2"},
    {"qemu+ssh://host.example/system", NULL, "host.example", 0, NULL, NULL, "host.example"},
    {"qemu+ssh://dev@host:2222/system?no_tty=1", "dev", "host", 2222, NULL, NULL, "dev@host:2222"},
    {"qemu+libssh2://dev@host/system", "dev", "host", 0, NULL, NULL, "dev@host"},
    {"QEMU+SSH://dev@host/system", "dev", "host", 0, NULL, NULL, "dev@host"},
    {"qemu+ssh://dev@[::1]:22/system", "dev", "::1", 22, NULL, NULL, "dev@[::1]:22"},
    {"qemu+ssh://d%65v@host/system", "dev", "host", 0, NULL, NULL, "dev@host"},
    /* tls and tcp say where, not how to log in: ssh's defaults */
    {"qemu+tls://admin@host:16514/system", NULL, "host", 0, NULL, NULL, "host"},
    {"qemu://host/system", NULL, "host", 0, NULL, NULL, "host"},
    /* the user's own URI may name the files (a project file may not) */
    {"qemu+ssh://root@h/system?keyfile=/k/id&known_hosts=/k/kh", "root", "h", 0, "/k/id", "/k/kh",
     NULL,
     "ssh -o BatchMode=yes -o IdentitiesOnly=yes -i '/k/id' -o 'UserKnownHostsFile=/k/kh' -l 'root' "
     "-W '[%h]:%p' -- 'h'"},
    {"qemu+ssh://h:2200/system?keyfile=/k/id", NULL, "h", 2200, "/k/id", NULL, NULL,
     "ssh -o BatchMode=yes -o IdentitiesOnly=yes -i '/k/id' -p 2200 -W '[%h]:%p' -- 'h'"},
};

static const char *const bad[] = {
    "qemu+ssh://-oProxyCommand=x/system",
    "qemu+ssh://host name/system",
    "qemu+ssh://ho;st/system",
    "qemu+ssh://-l@host/system",
    "qemu+ssh://a%0ab@host/system",
    "qemu+ssh://host:0/system",
    "qemu+ssh://host:99999/system",
    "qemu+ssh://host:/system",
    "qemu+ssh://:22/system",
    "q?m2://:2??ch://um", /* found by fuzz-uri: an empty host before a port */
    "qemu+ssh://[]/system",
    "qemu+ssh://[::1/system",
    "qemu+ssh://h/system?keyfile=/a%20b",
    "qemu+ssh://h/system?keyfile=/a'b",
    "qemu+ssh://h/system?known_hosts=/%25h",
    "qemu+ssh://h/system?keyfile=%zz",
    "qemu+ssh://h/system?keyfile=",
    "qemu+unix://host/system",
    "host/system",
    "qemu+ssh://hösté/system",
};

static void test_good(void)
{
        for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
                const struct row *r = &good[i];
                vmenv_error err = VMENV_ERROR_INIT;
                struct vmenv_ssh_jump *j = (struct vmenv_ssh_jump *)1;
                const char *u = r->uri ? r->uri : "(null)";

                if (!ok(vmenv_ssh_jump_from_uri(r->uri, &j, &err) == 0, "'%s' is read", u)) {
                        printf("#   error: %s\n", err.msg);
                        vmenv_error_clear(&err);
                        continue;
                }
                if (!r->host) {
                        ok(j == NULL, "'%s' is this host: no jump", u);
                        continue;
                }
                if (!ok(j != NULL, "'%s' names another host", u))
                        continue;
                is_str(j->user, r->user, "  its user");
                is_str(j->host, r->host, "  its host");
                ok(j->port == r->port, "  its port (%d)", j->port);
                is_str(j->keyfile, r->keyfile, "  its keyfile");
                is_str(j->known_hosts, r->known_hosts, "  its known_hosts");
                {
                        char *spec = vmenv_ssh_jump_spec(j);
                        char *proxy = vmenv_ssh_jump_proxy_command(j);
                        is_str(spec, r->spec, "  -J / ProxyJump");
                        is_str(proxy, r->proxy, "  ProxyCommand");
                        free(spec);
                        free(proxy);
                }
                vmenv_ssh_jump_free(j);
        }
}

static void test_bad(void)
{
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                vmenv_error err = VMENV_ERROR_INIT;
                struct vmenv_ssh_jump *j = (struct vmenv_ssh_jump *)1;
                int r = vmenv_ssh_jump_from_uri(bad[i], &j, &err);

                ok(r < 0 && j == NULL && err.code == VMENV_EXIT_CONFIG && err.msg &&
                       strstr(err.msg, "cannot reach the host of URI"),
                   "'%s' is refused", bad[i]);
                if (err.msg)
                        printf("#   %s\n", err.msg);
                vmenv_error_clear(&err);
                if (r == 0)
                        vmenv_ssh_jump_free(j);
        }
}

int main(void)
{
        vmenv_ssh_jump_free(NULL);
        test_good();
        test_bad();
        return done_testing();
}
