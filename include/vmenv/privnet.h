/* Private networks of a project at run time: which address and MAC every
 * machine has on each network (fixed in vmenv.yaml, or chosen once and kept
 * in the machine's state), and the names the libvirt side uses. */
#ifndef VMENV_PRIVNET_H
#define VMENV_PRIVNET_H

#include <stddef.h>

#include "vmenv/config.h"
#include "vmenv/error.h"

struct vmenv_privnet_member {
        const char *machine; /* the config's */
        char *ip;
        char *mac;
        bool chosen; /* no fixed ip: chosen by vmenv */
};

struct vmenv_privnet_plan {
        const struct vmenv_network_def *net;  /* the config's */
        char *libvirt_name;                   /* vmenv_network_name */
        char *bridge;                         /* vmenv_network_bridge */
        char *host_ip;                        /* the subnet's first address */
        char *dns_domain;                     /* "<project>.vmenv" */
        struct vmenv_privnet_member *members; /* file order */
        size_t n_members;
};

/* Every network of c with every member. recorded(machine) gives the
 * machine's kept choices ("NETWORK=IP", NULL-terminated, may be NULL);
 * NULL reads them from each machine's state. A kept address is used again
 * while it is in the subnet and no fixed or earlier address has it; the
 * others get the lowest free address from the subnet's second one on. */
typedef char **vmenv_privnet_recorded_fn(const struct vmenv_config *c, const char *machine,
                                         void *data);
int vmenv_privnet_plan(const struct vmenv_config *c, vmenv_privnet_recorded_fn *recorded,
                       void *data, struct vmenv_privnet_plan **out, size_t *n, vmenv_error *err);
void vmenv_privnet_plan_free(struct vmenv_privnet_plan *plans, size_t n);
/* The member for machine on network, or NULL. */
const struct vmenv_privnet_member *vmenv_privnet_member(const struct vmenv_privnet_plan *plans,
                                                        size_t n, const char *network,
                                                        const char *machine);

/* The machine's addresses as "NETWORK=IP", in file order; NULL when it is
 * on no private network (not an error). -1 only when planning fails. */
int vmenv_privnet_machine_ips(const struct vmenv_config *c, const char *machine, char ***out,
                              vmenv_error *err);

/* The guest side (privnet-guest.c): a POSIX sh script, run as root, that
 * finds each of the machine's private NICs by MAC, detects how the guest
 * configures networks (netplan, systemd-networkd, NetworkManager, ifupdown,
 * else plain busybox 'ip'), writes that system's persistent configuration,
 * brings the NIC up with its address, and keeps a block of /etc/hosts with
 * every machine of its networks. Every value is shell-quoted. */
char *vmenv_privnet_guest_script(const struct vmenv_machine_config *m,
                                 const struct vmenv_privnet_plan *plans, size_t n);
/* Runs that script in the machine over s (sudo -n); a failure says which
 * machine, with the guest's own words on stderr. Nothing without networks. */
struct vmenv_ssh;
int vmenv_privnet_guest_configure(const struct vmenv_config *c,
                                  const struct vmenv_machine_config *m, struct vmenv_ssh *s,
                                  vmenv_error *err);

#endif
