/* vmenv port: the host → guest port mappings of a machine, as forwarded on
 * the host (SSH first), then its addresses on private networks (where the
 * other machines of the network reach any of its ports). */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "vmenv/cleanup.h"
#include "vmenv/log.h"
#include "vmenv/machine.h"
#include "vmenv/privnet.h"
#include "vmenv/ssh.h"
#include "vmenv/state.h"
#include "vmenv/util.h"

VMENV_DEFINE_CLEANUP(struct vmenv_machine_state, vmenv_state_free)

VMENV_DEFINE_CLEANUP(struct vmenv_ssh_jump, vmenv_ssh_jump_free)

static int tunnel_stop[2] = {-1, -1};

static void on_stop_signal(int sig)
{
        char b = (char)sig;
        int saved = errno;
        if (write(tunnel_stop[1], &b, 1) < 0) {
                /* the pipe is full: a stop is pending anyway */
        }
        errno = saved;
}

/* --tunnel: the machine's forwarded TCP ports of a remote hypervisor, on
 * this host's 127.0.0.1 until SIGINT or SIGTERM. */
static int port_tunnel(const struct vmenv_machine_config *m, const struct vmenv_machine_state *st,
                       vmenv_error *err)
{
        _cleanup_(vmenv_ssh_jump_freep) struct vmenv_ssh_jump *j = NULL;
        _cleanup_free_ int *ports = vmenv_calloc(st->n_ports + 1, sizeof(*ports));
        struct sigaction sa = {.sa_handler = on_stop_signal};
        size_t n = 0;
        int r;

        if (vmenv_ssh_jump_from_uri(vmenv_machine_uri(m), &j, err) < 0)
                return -1;
        if (!j) {
                vmenv_error_set(err, VMENV_EXIT_USAGE,
                                "machine '%s' runs on this host: its forwarded ports are here "
                                "already",
                                m->name);
                return vmenv_error_hint(err, "--tunnel is for a remote libvirt URI");
        }
        /* Only the forwards vmenv.yaml declares, on the ports they were
         * given: a port that .vmenv/ alone names (a cloned folder) could
         * be any service on the hypervisor's loopback. */
        for (size_t i = 1; i < st->n_ports; i++) {
                bool declared = false;
                if (vmenv_streq(st->ports[i].protocol, "udp") || st->ports[i].host_port < 1 ||
                    st->ports[i].host_port > 65535)
                        continue;
                for (size_t k = 0; k < m->n_forwards && !declared; k++)
                        declared = m->forwards[k].guest == st->ports[i].guest_port &&
                                   !vmenv_streq(m->forwards[k].protocol, "udp");
                if (declared)
                        ports[n++] = st->ports[i].host_port;
        }
        if (!n)
                return vmenv_error_set(err, VMENV_EXIT_USAGE,
                                       "machine '%s' has no forwarded TCP ports", m->name);
        if (pipe2(tunnel_stop, O_CLOEXEC) < 0)
                return vmenv_error_errno(err, VMENV_EXIT_SOFTWARE, errno, "cannot make a pipe");
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        for (size_t i = 0; i < n; i++)
                vmenv_info("%s: 127.0.0.1:%d => 127.0.0.1:%d on '%s'", m->name, ports[i], ports[i],
                           j->host);
        vmenv_info("forwarding until interrupted (Ctrl-C)");
        r = vmenv_ssh_tunnel(j, "127.0.0.1", ports, n, tunnel_stop[0], err);
        close(tunnel_stop[0]);
        close(tunnel_stop[1]);
        return r;
}

static int cmd_port_run(struct vmenv_ctx *ctx, const struct vmenv_args *args, vmenv_error *err)
{
        const struct vmenv_machine_config *m;
        _cleanup_(vmenv_state_freep) struct vmenv_machine_state *st = NULL;
        _cleanup_(vmenv_strv_freep) char **ips = NULL;
        json_object *arr;

        if (!(m = vmenv_project_select_one(ctx->config, args->argc ? args->argv[0] : NULL, err)))
                return -1;
        if (!(st = vmenv_state_load(ctx->config, m->name, err)))
                return -1;
        if (vmenv_privnet_machine_ips(ctx->config, m->name, &ips, err) < 0)
                return -1;
        if (vmenv_args_has(args, "tunnel"))
                return port_tunnel(m, st, err);
        if (!st->n_ports && st->ssh_host && !ctx->json) {
                printf("machine '%s' is on a NAT network at %s: no forwarded ports (its ssh is "
                       "%s:%d)\n",
                       m->name, st->ssh_host, st->ssh_host, st->ssh_port);
                return 0;
        }
        if (!st->n_ports && !st->ssh_host) {
                vmenv_error_set(err, VMENV_EXIT_FAILURE,
                                "machine '%s' has no ports yet: it was "
                                "never brought up",
                                m->name);
                return vmenv_error_hint(err, "run 'vmenv up %s'", m->name);
        }
        if (!ctx->json) {
                for (size_t i = 0; i < st->n_ports; i++)
                        printf("%5d (guest) => %s:%d (host)%s%s\n", st->ports[i].guest_port,
                               st->ports[i].host_ip, st->ports[i].host_port,
                               vmenv_streq(st->ports[i].protocol, "udp") ? " udp" : "",
                               i == 0 ? "  ssh" : "");
                for (char **a = ips; a && *a; a++)
                        printf("%*s (private network '%.*s', every port)\n", 5, strchr(*a, '=') + 1,
                               (int)(strchr(*a, '=') - *a), *a);
                return 0;
        }
        arr = json_object_new_array();
        for (size_t i = 0; i < st->n_ports; i++) {
                json_object *o = json_object_new_object();
                json_object_object_add(o, "guest", json_object_new_int(st->ports[i].guest_port));
                json_object_object_add(o, "host", json_object_new_int(st->ports[i].host_port));
                json_object_object_add(o, "host_ip", json_object_new_string(st->ports[i].host_ip));
                json_object_object_add(o, "protocol",
                                       json_object_new_string(st->ports[i].protocol));
                json_object_object_add(o, "ssh", json_object_new_boolean(i == 0));
                json_object_array_add(arr, o);
        }
        for (char **a = ips; a && *a; a++) {
                json_object *o = json_object_new_object();
                const char *eq = strchr(*a, '=');
                json_object_object_add(o, "network",
                                       json_object_new_string_len(*a, (int)(eq - *a)));
                json_object_object_add(o, "ip", json_object_new_string(eq + 1));
                json_object_object_add(o, "ssh", json_object_new_boolean(0));
                json_object_array_add(arr, o);
        }
        puts(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY |
                                                     JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(arr);
        return 0;
}

static const struct vmenv_opt opts[] = {
    {"tunnel", 0, NULL,
     "a remote machine's forwarded ports on this host's 127.0.0.1, until "
     "interrupted"},
    {0},
};

const struct vmenv_cmd vmenv_cmd_port = {
    .name = "port",
    .usage = "[--json] [--tunnel] [MACHINE]",
    .summary = "list a machine's forwarded ports (or hold them here: --tunnel)",
    .max_args = 1,
    .opts = opts,
    .flags = VMENV_CMD_PROJECT | VMENV_CMD_JSON,
    .run = cmd_port_run,
};
