/* What vmenv remembers about a machine, in the project's .vmenv/machines/<name>/.
 * It is a cache: libvirt is the authority on whether the machine exists. */
#ifndef VMENV_STATE_H
#define VMENV_STATE_H

#include <stdbool.h>

#include "vmenv/config.h"
#include "vmenv/error.h"

struct vmenv_state_port {
        char *host_ip;
        int host_port;
        int guest_port;
        char *protocol;
};

struct vmenv_machine_state {
        char *dir; /* .vmenv/machines/<name> (absolute) */
        char *machine;
        char *domain;      /* vmenv-<project>-<machine>-<hash> */
        char *uri;         /* libvirt URI the machine was created on */
        char *pool;        /* storage pool name ("" = default) */
        char *disk_volume; /* the overlay */
        char *disk_path;   /* its path on the hypervisor */
        char *box_volume;  /* the box image in the pool */
        char *box_name;
        char *box_version;
        char *box_digest;  /* "sha256:HEX" of the stored box, if known */
        /* A cloud image's: cloud-init's instance-id, new when the machine
         * is created (cloud-init then runs its per-instance steps once). */
        char *instance_id;
        /* The box's metadata.json says it is a cloud-init image (a box that
         * 'vmenv package' made of a cloud image's machine): the machine is a
         * cloud image's even when vmenv.yaml cannot tell from the box name. */
        bool cloud_box;
        char *ssh_host;    /* NULL: 127.0.0.1; nat: the guest's DHCP address */
        int ssh_port;      /* host port forwarded to the guest's SSH (nat: guest port) */
        char *host_key;    /* guest host key "TYPE BASE64", trusted on first use */
        bool key_replaced; /* the guest confirmed: only private_key logs in */
        /* private_key was made and may already be in the guest: log in with
         * it, else with the insecure key (a crash during the swap) */
        bool key_pending;
        bool first_boot_done;   /* key, hostname: the guest confirmed all of it */
        bool provision_pending; /* an up has not finished its provisioners */
        struct vmenv_state_port *ports;
        size_t n_ports;
        char **provisioned; /* "name:digest" of run-once provisioners done */
        /* "NETWORK=IPV4": the addresses vmenv chose on private networks
         * with no fixed ip, kept so that they do not move */
        char **net_ips;
        bool exists; /* state.json was there */
};

/* Loads the machine's state; a missing state is not an error (exists=false)
 * but dir, machine and domain are always filled in. */
struct vmenv_machine_state *vmenv_state_load(const struct vmenv_config *c, const char *machine,
                                             vmenv_error *err);
int vmenv_state_save(struct vmenv_machine_state *s, vmenv_error *err);
/* Removes the machine's folder (key, state, logs). */
int vmenv_state_remove(struct vmenv_machine_state *s, vmenv_error *err);
void vmenv_state_free(struct vmenv_machine_state *s);
/* Frees the forwarded ports and leaves none (n_ports 0). */
void vmenv_state_ports_clear(struct vmenv_machine_state *s);

char *vmenv_state_path(const struct vmenv_machine_state *s, const char *file);
/* The domain name for a machine of a project: "vmenv-<project>-<machine>-
 * <hash>", the hash of the project's folder, and for a machine on a remote
 * URI of the client ID too (c->client_id, see vmenv_config_identify). */
char *vmenv_domain_name(const struct vmenv_config *c, const char *machine);
/* Whether a libvirt URI names another host ("qemu+ssh://host/system"). */
bool vmenv_uri_remote(const char *uri);
/* This computer's client ID: $VMENV_HOME/client-id (0600), 32 hex digits,
 * made once (client-id.c). */
char *vmenv_client_id(vmenv_error *err);
/* Loads the client ID into c->client_id when a machine of c runs on a
 * remote URI; nothing otherwise. Call once the URIs are final (--connect),
 * before naming domains. */
int vmenv_config_identify(struct vmenv_config *c, vmenv_error *err);
/* The libvirt network of a private network of the project:
 * "vmenv-<project>-<network>-<hash>", the hash as in domain names. */
char *vmenv_network_name(const struct vmenv_config *c, const char *network);
/* Its Linux bridge: "vmv" and 10 hex digits of a hash of the project folder
 * and the network name (interface names have at most 15 characters). */
char *vmenv_network_bridge(const struct vmenv_config *c, const char *network);
/* The MAC of a machine's NIC on a private network: 52:54:00 (QEMU's) and
 * three bytes of a hash of the project folder, machine and network. */
char *vmenv_network_mac(const struct vmenv_config *c, const char *machine, const char *network);

/* The per-user index of machines across projects ($VMENV_HOME/machines.json),
 * updated under a file lock, for global-status and box-in-use checks. */
struct vmenv_index_entry {
        char *project_dir;
        char *machine;
        char *domain;
        char *uri;
        char *box;
        char *box_version;
};
int vmenv_index_put(const struct vmenv_index_entry *e, vmenv_error *err);
int vmenv_index_remove(const char *domain, vmenv_error *err);
int vmenv_index_read(struct vmenv_index_entry **out, size_t *n, vmenv_error *err);
void vmenv_index_entries_free(struct vmenv_index_entry *e, size_t n);

#endif
