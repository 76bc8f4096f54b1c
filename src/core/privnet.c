/* Private networks at run time: the address of every machine on every
 * network of the project. Fixed addresses come from vmenv.yaml (checked
 * there); a chosen one is kept in the machine's state, so that machines
 * added to the file later do not move it. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "vmenv/cleanup.h"
#include "vmenv/privnet.h"
#include "vmenv/state.h"
#include "vmenv/util.h"

static char *ip_text(uint32_t a)
{
        struct in_addr in = {htonl(a)};
        char buf[INET_ADDRSTRLEN];

        inet_ntop(AF_INET, &in, buf, sizeof(buf));
        return vmenv_strdup(buf);
}

static bool ip_parse(const char *s, uint32_t *out)
{
        struct in_addr in;

        if (!s || inet_pton(AF_INET, s, &in) != 1)
                return false;
        *out = ntohl(in.s_addr);
        return true;
}

static char **state_recorded(const struct vmenv_config *c, const char *machine, void *data)
{
        vmenv_error err = VMENV_ERROR_INIT;
        struct vmenv_machine_state *st = vmenv_state_load(c, machine, &err);
        char **ips = NULL;

        (void)data;
        /* an unreadable state keeps nothing: its machine gets a new choice */
        vmenv_error_clear(&err);
        if (st) {
                ips = st->net_ips;
                st->net_ips = NULL;
        }
        vmenv_state_free(st);
        return ips;
}

static const char *recorded_ip(char *const *ips, const char *network)
{
        size_t n = strlen(network);

        for (; ips && *ips; ips++)
                if (!strncmp(*ips, network, n) && (*ips)[n] == '=')
                        return *ips + n + 1;
        return NULL;
}

static bool taken(const struct vmenv_privnet_plan *pl, uint32_t a)
{
        uint32_t b;

        for (size_t i = 0; i < pl->n_members; i++)
                if (ip_parse(pl->members[i].ip, &b) && a == b)
                        return true;
        return false;
}

static int plan_one(const struct vmenv_config *c, const struct vmenv_network_def *d,
                    char ***recorded, struct vmenv_privnet_plan *pl, vmenv_error *err)
{
        uint32_t mask = 0xffffffffu << (32 - d->prefix), last = d->subnet | ~mask;
        size_t total = 0;

        pl->net = d;
        pl->libvirt_name = vmenv_network_name(c, d->name);
        pl->bridge = vmenv_network_bridge(c, d->name);
        pl->host_ip = ip_text(d->subnet + 1);
        pl->dns_domain = vmenv_strdupf("%s.vmenv", c->project);
        for (size_t i = 0; i < c->n_machines; i++)
                for (size_t j = 0; j < c->machines[i].n_privnets; j++)
                        total += !strcmp(c->machines[i].privnets[j].name, d->name);
        pl->members = vmenv_calloc(total, sizeof(*pl->members));
        /* fixed addresses first, then kept ones that are still free */
        for (int pass = 0; pass < 3; pass++)
                for (size_t i = 0; i < c->n_machines; i++) {
                        const struct vmenv_machine_config *m = &c->machines[i];
                        for (size_t j = 0; j < m->n_privnets; j++) {
                                const struct vmenv_private_net *e = &m->privnets[j];
                                struct vmenv_privnet_member *mb;
                                const char *kept;
                                uint32_t a;
                                if (strcmp(e->name, d->name) || (pass == 0) != (e->ip != NULL))
                                        continue;
                                if (pass == 0) {
                                        mb = &pl->members[pl->n_members++];
                                        mb->ip = vmenv_strdup(e->ip);
                                } else if (pass == 1) {
                                        kept = recorded_ip(recorded[i], d->name);
                                        if (!ip_parse(kept, &a) || (a & mask) != d->subnet ||
                                            a <= d->subnet + 1 || a >= last || taken(pl, a))
                                                continue;
                                        mb = &pl->members[pl->n_members++];
                                        mb->ip = vmenv_strdup(kept);
                                        mb->chosen = true;
                                } else {
                                        bool done = false;
                                        for (size_t k = 0; k < pl->n_members && !done; k++)
                                                done = pl->members[k].machine == m->name;
                                        if (done)
                                                continue;
                                        for (a = d->subnet + 2; a < last && taken(pl, a); a++)
                                                ;
                                        if (a >= last)
                                                return vmenv_error_set(
                                                    err, VMENV_EXIT_CONFIG,
                                                    "no free address on network '%s' for '%s'",
                                                    d->name, m->name);
                                        mb = &pl->members[pl->n_members++];
                                        mb->ip = ip_text(a);
                                        mb->chosen = true;
                                }
                                mb->machine = m->name;
                                mb->mac = vmenv_network_mac(c, m->name, d->name);
                        }
                }
        /* file order, so that the network's XML does not depend on history */
        for (size_t i = 1; i < pl->n_members; i++)
                for (size_t k = i; k > 0; k--) {
                        const struct vmenv_machine_config *x = vmenv_config_machine(
                                                              c, pl->members[k - 1].machine),
                                                          *y = vmenv_config_machine(
                                                              c, pl->members[k].machine);
                        struct vmenv_privnet_member t;
                        if (x <= y)
                                break;
                        t = pl->members[k];
                        pl->members[k] = pl->members[k - 1];
                        pl->members[k - 1] = t;
                }
        return 0;
}

int vmenv_privnet_plan(const struct vmenv_config *c, vmenv_privnet_recorded_fn *recorded,
                       void *data, struct vmenv_privnet_plan **out, size_t *n, vmenv_error *err)
{
        struct vmenv_privnet_plan *plans = vmenv_calloc(c->n_networks + 1, sizeof(*plans));
        char ***rec = vmenv_calloc(c->n_machines + 1, sizeof(*rec));
        int r = 0;

        if (!recorded)
                recorded = state_recorded;
        for (size_t i = 0; i < c->n_machines; i++)
                if (c->machines[i].n_privnets)
                        rec[i] = recorded(c, c->machines[i].name, data);
        for (size_t k = 0; k < c->n_networks && !r; k++)
                r = plan_one(c, &c->networks[k], rec, &plans[k], err);
        for (size_t i = 0; i < c->n_machines; i++)
                vmenv_strv_free(rec[i]);
        free(rec);
        if (r < 0) {
                vmenv_privnet_plan_free(plans, c->n_networks);
                return -1;
        }
        *out = plans;
        *n = c->n_networks;
        return 0;
}

void vmenv_privnet_plan_free(struct vmenv_privnet_plan *plans, size_t n)
{
        if (!plans)
                return;
        for (size_t k = 0; k < n; k++) {
                for (size_t i = 0; i < plans[k].n_members; i++) {
                        free(plans[k].members[i].ip);
                        free(plans[k].members[i].mac);
                }
                free(plans[k].members);
                free(plans[k].libvirt_name);
                free(plans[k].bridge);
                free(plans[k].host_ip);
                free(plans[k].dns_domain);
        }
        free(plans);
}

const struct vmenv_privnet_member *vmenv_privnet_member(const struct vmenv_privnet_plan *plans,
                                                        size_t n, const char *network,
                                                        const char *machine)
{
        for (size_t k = 0; k < n; k++) {
                if (strcmp(plans[k].net->name, network))
                        continue;
                for (size_t i = 0; i < plans[k].n_members; i++)
                        if (!strcmp(plans[k].members[i].machine, machine))
                                return &plans[k].members[i];
        }
        return NULL;
}

int vmenv_privnet_machine_ips(const struct vmenv_config *c, const char *machine, char ***out,
                              vmenv_error *err)
{
        const struct vmenv_machine_config *m = vmenv_config_machine(c, machine);
        struct vmenv_privnet_plan *plans = NULL;
        size_t n = 0;

        *out = NULL;
        if (!m || !m->n_privnets)
                return 0;
        if (vmenv_privnet_plan(c, NULL, NULL, &plans, &n, err) < 0)
                return -1;
        for (size_t i = 0; i < m->n_privnets; i++) {
                const struct vmenv_privnet_member *me =
                    vmenv_privnet_member(plans, n, m->privnets[i].name, machine);
                if (me)
                        vmenv_strv_push(out, vmenv_strdupf("%s=%s", m->privnets[i].name, me->ip));
        }
        vmenv_privnet_plan_free(plans, n);
        return 0;
}
