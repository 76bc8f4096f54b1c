/* The machine's host ports: SSH and forwarded_ports, decided before the
 * domain is defined and moved when the hypervisor's host finds one taken
 * at start. A local hypervisor's ports are tested with this host's
 * sockets; a remote one's through the SSH jump to its host. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "machine-private.h"
#include "vmenv/log.h"
#include "vmenv/util.h"

/* ip:port as a socket address of either family; false if ip is neither. */
static bool sock_addr(const char *ip, int port, struct sockaddr_storage *ss, socklen_t *len)
{
        struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
        struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;

        memset(ss, 0, sizeof(*ss));
        if (inet_pton(AF_INET, ip, &v4->sin_addr) == 1) {
                v4->sin_family = AF_INET;
                v4->sin_port = htons((uint16_t)port);
                *len = sizeof(*v4);
                return true;
        }
        if (inet_pton(AF_INET6, ip, &v6->sin6_addr) == 1) {
                v6->sin6_family = AF_INET6;
                v6->sin6_port = htons((uint16_t)port);
                *len = sizeof(*v6);
                return true;
        }
        return false;
}

static int bound_socket(const char *ip, int port, const char *proto, struct sockaddr_storage *ss,
                        socklen_t *len)
{
        int one = 1, fd;

        if (!sock_addr(ip, port, ss, len))
                return -2;
        fd = socket(ss->ss_family,
                    (vmenv_streq(proto, "udp") ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, (struct sockaddr *)ss, *len) < 0) {
                int e = errno;
                close(fd);
                errno = e;
                return -1;
        }
        return fd;
}

/* 1 free, 0 taken (or not an address of this host), -1 not an address. */
static int port_free(const char *ip, int port, const char *proto)
{
        struct sockaddr_storage ss;
        socklen_t len;
        int fd = bound_socket(ip, port, proto, &ss, &len);

        if (fd == -2 || (fd < 0 && errno == EADDRNOTAVAIL))
                return -1;
        if (fd < 0)
                return 0;
        close(fd);
        return 1;
}

static int pick_free_port(const char *ip, const char *proto)
{
        struct sockaddr_storage ss;
        socklen_t len;
        int fd = bound_socket(ip, 0, proto, &ss, &len), port = -1;

        if (fd < 0)
                return -1;
        if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
                port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                      : ((struct sockaddr_in *)&ss)->sin_port);
        close(fd);
        return port;
}

/* Who listens on a TCP port, for the error message: "pid 42 (nginx)". */
static char *port_user(int port)
{
        _cleanup_fclose_ FILE *f = fopen("/proc/net/tcp", "re");
        char line[512];
        unsigned long inode = 0;
        DIR *proc;
        struct dirent *de;

        while (f && fgets(line, sizeof(line), f)) {
                unsigned int lport, st;
                unsigned long ino;
                if (sscanf(line, " %*d: %*x:%x %*x:%*x %x %*x:%*x %*x:%*x %*x %*d %*d %lu", &lport,
                           &st, &ino) == 3 &&
                    (int)lport == port && st == 0x0A) {
                        inode = ino;
                        break;
                }
        }
        if (!inode || !(proc = opendir("/proc")))
                return vmenv_strdup("another process");
        while ((de = readdir(proc))) {
                char fddir[300], target[64], want[64];
                DIR *fds;
                struct dirent *fe;
                if (de->d_name[0] < '0' || de->d_name[0] > '9')
                        continue;
                snprintf(fddir, sizeof(fddir), "/proc/%s/fd", de->d_name);
                snprintf(want, sizeof(want), "socket:[%lu]", inode);
                if (!(fds = opendir(fddir)))
                        continue;
                while ((fe = readdir(fds))) {
                        char link[600];
                        ssize_t n;
                        snprintf(link, sizeof(link), "%s/%s", fddir, fe->d_name);
                        n = readlink(link, target, sizeof(target) - 1);
                        if (n <= 0)
                                continue;
                        target[n] = '\0';
                        if (!strcmp(target, want)) {
                                char comm[64] = "?", path[300];
                                FILE *c;
                                snprintf(path, sizeof(path), "/proc/%s/comm", de->d_name);
                                if ((c = fopen(path, "re"))) {
                                        if (fgets(comm, sizeof(comm), c))
                                                comm[strcspn(comm, "\n")] = '\0';
                                        fclose(c);
                                }
                                char *who = vmenv_strdupf("pid %s (%s)", de->d_name, comm);
                                closedir(fds);
                                closedir(proc); /* frees de */
                                return who;
                        }
                }
                closedir(fds);
        }
        closedir(proc);
        return vmenv_strdup("another process");
}

/* Where the forwards bind: this host, or a remote hypervisor's, asked
 * through one session to its host opened on first use. */
struct port_host {
        const struct vmenv_ssh_jump *jump; /* NULL: this host */
        struct vmenv_ssh_probe *probe;
        bool probe_failed; /* then only the start can tell */
};

static void port_host_clear(struct port_host *h)
{
        vmenv_ssh_probe_close(h->probe);
        h->probe = NULL;
}

/* 1 free (or not seen taken), 0 taken, -1 ip is not an address of this
 * host (a local hypervisor only). */
static int host_port_free(struct port_host *h, const char *ip, int port, const char *proto)
{
        vmenv_error e = VMENV_ERROR_INIT;

        if (!h->jump)
                return port_free(ip, port, proto);
        /* Only the host's own loopback is asked (a wildcard is held there
         * too): a host_ip of vmenv.yaml must not make the host connect
         * anywhere else. Another address, UDP (a channel says nothing of
         * it) and a host the jump cannot test are left to the start. */
        if (vmenv_streq(ip, "0.0.0.0"))
                ip = "127.0.0.1";
        else if (vmenv_streq(ip, "::"))
                ip = "::1";
        if ((!vmenv_startswith(ip, "127.") && !vmenv_streq(ip, "::1")) ||
            vmenv_streq(proto, "udp") || h->probe_failed)
                return 1;
        if (!h->probe && !(h->probe = vmenv_ssh_probe_open(h->jump, 15000, &e))) {
                vmenv_debug("cannot test ports on '%s': %s", h->jump->host, e.msg);
                vmenv_error_clear(&e);
                h->probe_failed = true;
                return 1;
        }
        return vmenv_ssh_probe_port(h->probe, ip, port) ? 0 : 1;
}

/* A port free here and, for a remote host, not seen taken there; never
 * avoid. On a remote host the address may not be this host's: the port
 * is picked on this loopback. */
static int pick_port(struct port_host *h, const char *ip, const char *proto, int avoid)
{
        for (int i = 0; i < 20; i++) {
                int port = pick_free_port(h->jump ? "127.0.0.1" : ip, proto);
                if (port <= 0)
                        return -1;
                if (port != avoid && (!h->jump || host_port_free(h, ip, port, proto) == 1))
                        return port;
        }
        return -1;
}

static int port_taken_error(vmenv_error *err, const struct vmenv_machine_config *m,
                            const struct port_host *h, int port, const char *ip, const char *proto)
{
        _cleanup_free_ char *who = h->jump ? NULL : port_user(port);

        if (h->jump)
                vmenv_error_set(err, VMENV_EXIT_UNAVAILABLE,
                                "machine '%s': host port %d (%s/%s) is already in use on '%s'",
                                m->name, port, ip, proto, h->jump->host);
        else
                vmenv_error_set(err, VMENV_EXIT_UNAVAILABLE,
                                "machine '%s': host port %d (%s/%s) is already in use by %s",
                                m->name, port, ip, proto, who);
        return vmenv_error_hint(err, "free the port, choose another 'host:', or set "
                                     "'auto_correct: true'");
}

static void port_moved(const struct vmenv_machine_config *m, const struct port_host *h, int from,
                       int to)
{
        _cleanup_free_ char *who = NULL;

        if (h->jump) {
                vmenv_warn("%s: host port %d is taken on %s; forwarding %d instead", m->name, from,
                           h->jump->host, to);
                return;
        }
        who = port_user(from);
        vmenv_warn("%s: host port %d is used by %s; forwarding %d instead", m->name, from, who, to);
}

/* SSH first, then forwarded_ports in file order. In nat mode there are
 * none (the config refuses forwarded_ports there): SSH is the guest's own
 * port. */
static int plan(const struct vmenv_machine_config *m, struct vmenv_machine_state *st,
                struct port_host *h, vmenv_error *err)
{
        int kept = st->ssh_port;

        vmenv_state_ports_clear(st);
        st->ports = vmenv_calloc(m->n_forwards + 1, sizeof(*st->ports));
        free(st->ssh_host);
        st->ssh_host = NULL;

        if (vmenv_machine_nat(m)) {
                st->ssh_port = m->ssh.port;
                return 0;
        }

        /* The SSH port is kept across ups while it is free where it binds;
         * on a remote host "free" is what the jump can see (a listener),
         * and a port taken otherwise is moved when the start fails. */
        if (kept <= 0 || host_port_free(h, "127.0.0.1", kept, "tcp") != 1) {
                st->ssh_port = pick_port(h, "127.0.0.1", "tcp", kept);
                if (st->ssh_port <= 0)
                        return vmenv_error_set(err, VMENV_EXIT_IO,
                                               "cannot find a free port for SSH");
                if (kept > 0)
                        port_moved(m, h, kept, st->ssh_port);
        }
        st->ports[st->n_ports++] = (struct vmenv_state_port){
            vmenv_strdup("127.0.0.1"), st->ssh_port, m->ssh.port, vmenv_strdup("tcp")};

        for (size_t i = 0; i < m->n_forwards; i++) {
                const struct vmenv_forward *f = &m->forwards[i];
                const char *ip = f->host_ip ? f->host_ip : "127.0.0.1";
                const char *proto = f->protocol ? f->protocol : "tcp";
                int host = f->host;
                int fr = host_port_free(h, ip, host, proto);

                if (fr < 0)
                        return vmenv_error_set(err, VMENV_EXIT_CONFIG,
                                               "forwarded port %d: host_ip '%s' is not an "
                                               "address of this host",
                                               f->guest, ip);
                if (fr == 0) {
                        if (!f->auto_correct)
                                return port_taken_error(err, m, h, host, ip, proto);
                        if ((host = pick_port(h, ip, proto, f->host)) <= 0)
                                return vmenv_error_set(err, VMENV_EXIT_IO,
                                                       "cannot find a free port for %d", f->host);
                        port_moved(m, h, f->host, host);
                }
                st->ports[st->n_ports++] = (struct vmenv_state_port){vmenv_strdup(ip), host,
                                                                     f->guest, vmenv_strdup(proto)};
        }
        return 0;
}

int vmenv_machine_plan_ports(const struct vmenv_machine_config *m, struct vmenv_machine_state *st,
                             const struct vmenv_ssh_jump *jump, vmenv_error *err)
{
        struct port_host h = {.jump = jump};
        int r = plan(m, st, &h, err);

        port_host_clear(&h);
        return r;
}

/* The forward of vmenv.yaml that a planned port stands for: plan() puts
 * SSH at ports[0] and forwards[k - 1] at ports[k] (two forwards may share
 * a guest port, so it is found by place, not by value). */
static const struct vmenv_forward *forward_of(const struct vmenv_machine_config *m, size_t k)
{
        return k >= 1 && k - 1 < m->n_forwards ? &m->forwards[k - 1] : NULL;
}

static bool is_taken(struct port_host *h, const struct vmenv_state_port *sp,
                     const struct vmenv_port_taken *t)
{
        if (t->host_port)
                return sp->host_port == t->host_port &&
                       vmenv_streq(sp->protocol, t->udp ? "udp" : "tcp");
        return host_port_free(h, sp->host_ip, sp->host_port, sp->protocol) == 0;
}

static int move(const struct vmenv_machine_config *m, struct vmenv_machine_state *st,
                struct port_host *h, const struct vmenv_port_taken *t, vmenv_error *err)
{
        _cleanup_free_ bool *hit = vmenv_calloc(st->n_ports, sizeof(*hit));
        size_t n_hit = 0;

        for (size_t k = 0; k < st->n_ports; k++)
                if ((hit[k] = is_taken(h, &st->ports[k], t)))
                        n_hit++;
        /* QEMU did not say which and none is seen taken: the SSH port,
         * vmenv's to choose, moves */
        if (!n_hit && !t->host_port) {
                hit[0] = true;
                n_hit = 1;
        }
        /* not one of ours: QEMU's own words stand */
        if (!n_hit)
                return -1;
        vmenv_debug("%s: %s", m->name, err->msg);
        for (size_t k = 1; k < st->n_ports; k++) {
                const struct vmenv_state_port *sp = &st->ports[k];
                const struct vmenv_forward *f = forward_of(m, k);
                if (hit[k] && !(f && f->auto_correct)) {
                        vmenv_error_clear(err);
                        return port_taken_error(err, m, h, sp->host_port, sp->host_ip,
                                                sp->protocol);
                }
        }
        for (size_t k = 0; k < st->n_ports; k++) {
                struct vmenv_state_port *sp = &st->ports[k];
                int to;
                if (!hit[k])
                        continue;
                if ((to = pick_port(h, sp->host_ip, sp->protocol, sp->host_port)) <= 0)
                        return vmenv_error_prefix(err, "cannot find a free port for %d",
                                                  sp->host_port);
                port_moved(m, h, sp->host_port, to);
                sp->host_port = to;
                if (!k)
                        st->ssh_port = to;
        }
        vmenv_error_clear(err);
        return 0;
}

int vmenv_machine_move_port(const struct vmenv_machine_config *m, struct vmenv_machine_state *st,
                            const struct vmenv_ssh_jump *jump, const struct vmenv_port_taken *t,
                            vmenv_error *err)
{
        struct port_host h = {.jump = jump};
        int r;

        if (vmenv_machine_nat(m) || !st->n_ports)
                return -1;
        r = move(m, st, &h, t, err);
        port_host_clear(&h);
        return r;
}
