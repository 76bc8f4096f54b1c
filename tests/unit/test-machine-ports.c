/* The machine's host ports on a local hypervisor (machine-ports.c): the
 * plan before a definition (SSH kept while free, forwarded ports moved
 * only with auto_correct) and the move after a start that found a port
 * taken, with real listeners on 127.0.0.1 standing for other programs. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../src/core/machine-private.h"
#include "tap.h"

/* A listener on 127.0.0.1 (port 0: any); *port gets its port. */
static int listener(int *port)
{
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof(a);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        a.sin_port = htons((uint16_t)*port);
        if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 1) < 0 ||
            getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
                if (fd >= 0)
                        close(fd);
                return -1;
        }
        *port = ntohs(a.sin_port);
        return fd;
}

/* A port nothing listens on now. */
static int free_port(void)
{
        int port = 0, fd = listener(&port);
        close(fd);
        return port;
}

static void state_clear(struct vmenv_machine_state *st)
{
        vmenv_state_ports_clear(st);
        free(st->ssh_host);
        memset(st, 0, sizeof(*st));
}

static int port_of(const struct vmenv_machine_state *st, int guest)
{
        for (size_t i = 0; i < st->n_ports; i++)
                if (st->ports[i].guest_port == guest)
                        return st->ports[i].host_port;
        return -1;
}

int main(void)
{
        struct vmenv_forward fw[2] = {{.guest = 80}, {.guest = 443, .auto_correct = true}};
        char name[] = "web", nat[] = "nat";
        struct vmenv_machine_config m = {.name = name, .forwards = fw, .n_forwards = 2};
        struct vmenv_machine_state st = {0};
        vmenv_error err = VMENV_ERROR_INIT;
        int held, fd, kept;

        m.ssh.port = 22;
        fw[0].host = free_port();
        fw[1].host = free_port();

        /* the plan */
        ok(vmenv_machine_plan_ports(&m, &st, NULL, &err) == 0 && st.n_ports == 3 &&
               st.ssh_port > 0 && port_of(&st, 22) == st.ssh_port &&
               port_of(&st, 80) == fw[0].host && port_of(&st, 443) == fw[1].host,
           "plan: SSH picked, forwarded ports as asked");
        kept = st.ssh_port;
        ok(vmenv_machine_plan_ports(&m, &st, NULL, &err) == 0 && st.ssh_port == kept,
           "plan again: the SSH port is kept while free");
        held = kept;
        fd = listener(&held);
        ok(vmenv_machine_plan_ports(&m, &st, NULL, &err) == 0 && st.ssh_port != kept &&
               st.ssh_port > 0 && port_of(&st, 22) == st.ssh_port,
           "plan: a kept SSH port taken here moves");
        close(fd);

        held = fw[0].host;
        fd = listener(&held);
        ok(vmenv_machine_plan_ports(&m, &st, NULL, &err) < 0 &&
               err.code == VMENV_EXIT_UNAVAILABLE && strstr(err.msg, "already in use by pid") &&
               err.hint && strstr(err.hint, "auto_correct"),
           "plan: a forwarded port taken without auto_correct is an error naming its user");
        printf("#   %s\n", err.msg ? err.msg : "(none)");
        vmenv_error_clear(&err);
        close(fd);
        held = fw[1].host;
        fd = listener(&held);
        ok(vmenv_machine_plan_ports(&m, &st, NULL, &err) == 0 && port_of(&st, 443) != fw[1].host &&
               port_of(&st, 443) > 0,
           "plan: one with auto_correct moves");
        close(fd);

        /* after a start that found a port taken */
        ok(vmenv_machine_plan_ports(&m, &st, NULL, &err) == 0, "plan with every port free");
        {
                struct vmenv_port_taken t = {.host_port = st.ssh_port};
                kept = st.ssh_port;
                vmenv_error_set(&err, VMENV_EXIT_FAILURE, "qemu's words");
                ok(vmenv_machine_move_port(&m, &st, NULL, &t, &err) == 0 && !err.msg &&
                       st.ssh_port != kept && port_of(&st, 22) == st.ssh_port &&
                       port_of(&st, 80) == fw[0].host && port_of(&st, 443) == fw[1].host,
                   "move: the SSH port QEMU named moves, alone");
        }
        {
                struct vmenv_port_taken t = {.host_port = fw[1].host};
                vmenv_error_set(&err, VMENV_EXIT_FAILURE, "qemu's words");
                ok(vmenv_machine_move_port(&m, &st, NULL, &t, &err) == 0 &&
                       port_of(&st, 443) != fw[1].host && port_of(&st, 443) > 0,
                   "move: an auto_correct port QEMU named moves");
        }
        {
                struct vmenv_port_taken t = {.host_port = fw[0].host};
                vmenv_error_set(&err, VMENV_EXIT_FAILURE, "qemu's words");
                ok(vmenv_machine_move_port(&m, &st, NULL, &t, &err) < 0 &&
                       err.code == VMENV_EXIT_UNAVAILABLE && strstr(err.msg, "host port") &&
                       strstr(err.msg, "(127.0.0.1/tcp) is already in use") &&
                       port_of(&st, 80) == fw[0].host,
                   "move: one without auto_correct stays, and the error names it");
                printf("#   %s\n", err.msg ? err.msg : "(none)");
                vmenv_error_clear(&err);
        }
        {
                struct vmenv_port_taken t = {.host_port = fw[0].host, .udp = true};
                vmenv_error_set(&err, VMENV_EXIT_FAILURE, "qemu's words");
                ok(vmenv_machine_move_port(&m, &st, NULL, &t, &err) < 0 && err.msg &&
                       !strcmp(err.msg, "qemu's words"),
                   "move: a port of another protocol is not ours: QEMU's error stands");
                vmenv_error_clear(&err);
        }
        {
                struct vmenv_port_taken t = {0};
                int ssh = st.ssh_port, alt = port_of(&st, 443);
                held = alt;
                fd = listener(&held);
                vmenv_error_set(&err, VMENV_EXIT_FAILURE, "qemu's words");
                ok(vmenv_machine_move_port(&m, &st, NULL, &t, &err) == 0 && st.ssh_port == ssh &&
                       port_of(&st, 443) != alt,
                   "move: QEMU named none: the port seen taken moves");
                close(fd);
                vmenv_error_set(&err, VMENV_EXIT_FAILURE, "qemu's words");
                ok(vmenv_machine_move_port(&m, &st, NULL, &t, &err) == 0 && st.ssh_port != ssh &&
                       port_of(&st, 22) == st.ssh_port,
                   "move: QEMU named none and none is seen taken: the SSH port moves");
        }
        state_clear(&st);
        {
                /* two forwards of one guest port, the first with
                 * auto_correct: the one QEMU named is found by its place,
                 * not by its guest port (review F2) */
                struct vmenv_forward two[2] = {{.guest = 80, .auto_correct = true}, {.guest = 80}};
                struct vmenv_machine_config m2 = {.name = name, .forwards = two, .n_forwards = 2};
                struct vmenv_port_taken t = {0};
                m2.ssh.port = 22;
                two[0].host = free_port();
                two[1].host = free_port();
                ok(vmenv_machine_plan_ports(&m2, &st, NULL, &err) == 0 && st.n_ports == 3,
                   "plan: two forwards of one guest port");
                t.host_port = two[1].host;
                vmenv_error_set(&err, VMENV_EXIT_FAILURE, "qemu's words");
                ok(vmenv_machine_move_port(&m2, &st, NULL, &t, &err) < 0 &&
                       err.code == VMENV_EXIT_UNAVAILABLE && st.ports[2].host_port == two[1].host,
                   "move: the one without auto_correct fails though its twin has it");
                vmenv_error_clear(&err);
                t.host_port = two[0].host;
                vmenv_error_set(&err, VMENV_EXIT_FAILURE, "qemu's words");
                ok(vmenv_machine_move_port(&m2, &st, NULL, &t, &err) == 0 &&
                       st.ports[1].host_port != two[0].host && st.ports[2].host_port == two[1].host,
                   "move: the one with auto_correct moves, its twin stays");
                vmenv_error_clear(&err);
                state_clear(&st);
        }
        m.network = nat;
        ok(vmenv_machine_plan_ports(&m, &st, NULL, &err) == 0 && st.n_ports == 0 &&
               st.ssh_port == 22,
           "plan: nat mode has no forwards");
        {
                struct vmenv_port_taken t = {.host_port = 22};
                ok(vmenv_machine_move_port(&m, &st, NULL, &t, &err) < 0,
                   "move: nothing to move in nat mode");
        }
        state_clear(&st);
        vmenv_error_clear(&err);
        return done_testing();
}
