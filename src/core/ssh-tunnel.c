/* Local forwards to a remote hypervisor's loopback: for 'vmenv port
 * --tunnel', each port listens on this host's 127.0.0.1 and every
 * connection accepted becomes a direct-tcpip channel through the host. */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ssh-private.h"
#include "vmenv/log.h"

#define TUNNEL_CONNECT_MS 15000

static int listen_on(int port, vmenv_error *err)
{
        struct sockaddr_in a = {.sin_family = AF_INET,
                                .sin_port = htons((uint16_t)port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (fd < 0)
                return vmenv_error_errno(err, VMENV_EXIT_IO, errno, "cannot make a socket");
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 16) < 0) {
                int e = errno;
                close(fd);
                vmenv_error_errno(err, VMENV_EXIT_UNAVAILABLE, e, "cannot listen on 127.0.0.1:%d",
                                  port);
                return vmenv_error_hint(err, "free the port on this host");
        }
        return fd;
}

int vmenv_ssh_tunnel(const struct vmenv_ssh_jump *j, const char *to_host, const int *ports,
                     size_t n, int stop_fd, vmenv_error *err)
{
        _cleanup_free_ struct pollfd *p = vmenv_calloc(n + 1, sizeof(*p));
        struct vmenv_ssh_jump_conn **conns = NULL;
        size_t n_conns = 0;
        int r = -1;

        for (size_t i = 0; i < n; i++)
                p[i].fd = -1;
        for (size_t i = 0; i < n; i++) {
                p[i] = (struct pollfd){.fd = listen_on(ports[i], err), .events = POLLIN};
                if (p[i].fd < 0)
                        goto out;
        }
        p[n] = (struct pollfd){.fd = stop_fd, .events = POLLIN};
        for (;;) {
                if (poll(p, n + 1, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        vmenv_error_errno(err, VMENV_EXIT_IO, errno, "cannot wait for connections");
                        goto out;
                }
                if (p[n].revents)
                        break;
                for (size_t i = 0; i < n; i++) {
                        struct vmenv_ssh_jump_conn *c = NULL;
                        vmenv_error e = VMENV_ERROR_INIT;
                        int fd;

                        if (!(p[i].revents & POLLIN))
                                continue;
                        if ((fd = accept4(p[i].fd, NULL, NULL, SOCK_CLOEXEC)) < 0)
                                continue;
                        /* one refused connection is that client's problem,
                         * not the end of the tunnel */
                        if (vmenv_ssh_jump_open(j, to_host, ports[i], TUNNEL_CONNECT_MS, fd, &c,
                                                &e) < 0) {
                                vmenv_warn("port %d: %s", ports[i], e.msg);
                                vmenv_error_clear(&e);
                                continue;
                        }
                        /* the ended ones go, so a long tunnel holds only
                         * the live connections */
                        for (size_t k = 0; k < n_conns;) {
                                if (vmenv_ssh_jump_done(conns[k])) {
                                        vmenv_ssh_jump_close(conns[k]);
                                        conns[k] = conns[--n_conns];
                                } else {
                                        k++;
                                }
                        }
                        conns = vmenv_realloc(conns, (n_conns + 1) * sizeof(*conns));
                        conns[n_conns++] = c;
                }
        }
        r = 0;
out:
        for (size_t k = 0; k < n_conns; k++)
                vmenv_ssh_jump_close(conns[k]);
        free(conns);
        for (size_t i = 0; i < n; i++)
                if (p[i].fd >= 0)
                        close(p[i].fd);
        return r;
}
