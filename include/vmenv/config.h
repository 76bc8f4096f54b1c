/* vmenv.yaml: the parsed, validated, inherited configuration of a project.
 * Every machine carries its fully resolved settings (top-level defaults
 * already merged in), so later stages never look at inheritance again. */
#ifndef VMENV_CONFIG_H
#define VMENV_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmenv/error.h"

/* Where a value came from, for errors raised after parsing. */
struct vmenv_where {
        unsigned line, column; /* 1-based; 0 if unknown */
};

struct vmenv_forward {
        int guest;
        int host;          /* 0: pick a free port (only for ssh) */
        char *host_ip;     /* default "127.0.0.1" */
        char *protocol;    /* "tcp" (default) or "udp" */
        bool auto_correct;
        char *id;          /* optional name */
        struct vmenv_where where;
};

struct vmenv_synced_folder {
        char *host;        /* as written; relative to the project folder */
        char *guest;       /* absolute path in the guest */
        char *type;        /* "rsync" (default), "9p", "virtiofs" */
        char **exclude;    /* NULL-terminated, may be NULL */
        bool disabled;
        bool allow_private_state; /* 9p/virtiofs may show the guest .vmenv/ */
        struct vmenv_where where;
};

enum vmenv_prov_kind { VMENV_PROV_SHELL, VMENV_PROV_FILE };
enum vmenv_prov_run { VMENV_RUN_ONCE, VMENV_RUN_ALWAYS, VMENV_RUN_NEVER };

struct vmenv_env_var {
        char *name;
        char *value;
        bool sensitive;
};

struct vmenv_provisioner {
        char *name;                 /* default "shell-N" / "file-N" (1-based) */
        enum vmenv_prov_kind kind;
        /* shell */
        char *inline_text;          /* `shell:` text, or NULL */
        char *path;                 /* `script:` path relative to the project, or NULL */
        char **args;                /* NULL-terminated, may be NULL */
        struct vmenv_env_var *env;
        size_t n_env;
        bool privileged;            /* default true */
        /* file */
        char *source;
        char *destination;
        enum vmenv_prov_run run;    /* default once */
        struct vmenv_where where;
};

/* One private network a machine is on (`networks: [{type: private, ...}]`). */
struct vmenv_private_net {
        char *name;    /* the project's network it joins; default "private" */
        char *ip;      /* dotted IPv4 as written; NULL: vmenv picks one (kept in the state) */
        int prefix;    /* netmask as a prefix length; 0: the network's (24 unless set) */
        struct vmenv_where where;
};

/* A private network of the project, as the machines on it define it: the
 * first fixed address (and its netmask) sets the subnet; a network with no
 * fixed address gets the first free 192.168.N.0/24 from N = 56 (free: no
 * other network of the project and, once the file is loaded, no address of
 * this host in it; see vmenv_config_place_networks). The host has the
 * subnet's first address, machines the others. */
struct vmenv_network_def {
        char *name;
        uint32_t subnet;           /* host byte order, host bits zero */
        int prefix;                /* 8..29 */
        bool automatic;            /* no fixed address: vmenv chose the subnet */
        struct vmenv_where where;  /* the entry that set the subnet */
};

struct vmenv_ssh_config {
        char *user;        /* default "vagrant" ("vmenv" for a cloud image) */
        /* not in vmenv.yaml: a box that is a cloud image makes it "vmenv" */
        bool user_default;
        int port;          /* guest port, default 22 */
        char *private_key; /* path; default: the Vagrant insecure key */
};

/* `cloud_init:` — the seed of a cloud image (docs/cloud-images.md). */
struct vmenv_cloud_init_config {
        bool minimal;     /* `cloud_init: minimal`: only the user and its key */
        char *user_data;  /* a #cloud-config or #! file, relative to the project; or NULL */
        struct vmenv_where where;
};

struct vmenv_libvirt_config {
        char *uri;          /* NULL: VMENV_LIBVIRT_URI, then the default */
        char *machine_type; /* default "q35" */
        char *cpu_mode;     /* NULL: host-passthrough on KVM, default on TCG */
        char *storage_pool; /* NULL: the "vmenv" pool under $VMENV_HOME */
        char *video;        /* NULL: none */
        char *graphics;     /* NULL: none; "vnc" or "spice" */
};

struct vmenv_machine_config {
        char *name;
        bool primary;
        char *box;          /* required */
        char *box_version;  /* constraint, NULL = any */
        char *box_url;
        char *box_checksum; /* "sha256:HEX" */
        int cpus;           /* default 1 */
        uint64_t memory;    /* bytes, default 512 MiB */
        uint64_t disk;      /* bytes, 0 = the box's size */
        char *hostname;     /* default: the machine name */
        int boot_timeout;   /* seconds, default 300 */
        char *network;      /* "user" (default) or "nat" */
        struct vmenv_forward *forwards;
        size_t n_forwards;
        struct vmenv_private_net *privnets; /* one per network, in file order */
        size_t n_privnets;
        struct vmenv_synced_folder *folders;
        size_t n_folders;
        struct vmenv_provisioner *provisioners;
        size_t n_provisioners;
        struct vmenv_ssh_config ssh;
        /* The box is a cloud image (an alias such as debian/12, an image URL
         * or path, or `cloud_init:` given): configured by cloud-init from a
         * seed, logged into as ssh.user (default "vmenv") with the machine's
         * own key from the first boot. */
        bool cloud;
        struct vmenv_cloud_init_config cloud_init;
        char *kernel, *initrd, *cmdline;
        struct vmenv_libvirt_config libvirt;
        struct vmenv_where where;
};

struct vmenv_config {
        char *path;    /* absolute path of vmenv.yaml */
        char *shown;   /* the path as messages show it ("vmenv.yaml" when here) */
        char *dir;     /* its folder: the project root */
        char *project; /* project name: basename of dir, sanitised */
        struct vmenv_machine_config *machines;
        size_t n_machines;
        struct vmenv_network_def *networks; /* the private networks of all machines */
        size_t n_networks;
        /* This computer's ID (vmenv_config_identify), set when a machine
         * runs on a remote URI: it names and marks those machines. */
        char *client_id;
};

/* Limits on outside input. */
#define VMENV_CONFIG_MAX_BYTES (1u << 20)
#define VMENV_CONFIG_MAX_DEPTH 32
#define VMENV_CONFIG_MAX_MACHINES 64

/* Parses and validates YAML text; path is used in messages only. Errors are
 * "PATH:LINE:COL: KEY.PATH: what is wrong" with code VMENV_EXIT_CONFIG. */
struct vmenv_config *vmenv_config_parse(const char *text, size_t len, const char *path,
                                        vmenv_error *err);
struct vmenv_config *vmenv_config_load(const char *path, vmenv_error *err);
/* Finds vmenv.yaml from start (NULL = cwd) upwards, or $VMENV_FILE. */
char *vmenv_config_find(const char *start, vmenv_error *err);
struct vmenv_config *vmenv_config_load_project(const char *start, vmenv_error *err);
void vmenv_config_free(struct vmenv_config *c);

const struct vmenv_machine_config *vmenv_config_machine(const struct vmenv_config *c,
                                                        const char *name);
/* Machine names: [a-z0-9][a-z0-9-]*, at most 32, usable in domain/host names. */
bool vmenv_machine_name_valid(const char *name);
/* Host names: labels of letters, digits and '-', joined by '.'. */
bool vmenv_hostname_valid(const char *h);

/* A user name vmenv passes to ssh: POSIX portable characters, not starting
 * with '-', at most 32 characters. */
bool vmenv_ssh_user_valid(const char *user);
/* A synced folder's guest path normalised ("//", "/./", ".."), or NULL with
 * *why (what the path is, e.g. "is the guest's root folder") and maybe
 * *hint set. */
char *vmenv_guest_folder(const char *path, const char **why, const char **hint);
/* "is" or "holds" when GUEST is USER's home folder or a folder above it
 * (mirroring it would delete ~/.ssh/authorized_keys), else NULL. */
const char *vmenv_guest_folder_home(const char *guest, const char *user);
/* A provisioner name: not empty, no ':', ',' or control character. */
bool vmenv_provisioner_name_valid(const char *name);
/* A value that can be written between double quotes into an ssh_config. */
bool vmenv_ssh_config_value_valid(const char *v);

/* A libvirt URI a project file may name: qemu:///system, qemu:///session,
 * or a qemu+ssh:// / qemu+tls:// host with only harmless parameters (the
 * query percent-decoded, names compared without case). -1 with err set,
 * saying why and what to do, otherwise. See docs/security.md. */
int vmenv_uri_check_project(const char *uri, vmenv_error *err);

/* One address of the host (getifaddrs), for vmenv_config_check_host. */
struct vmenv_host_addr {
        const char *ifname;
        uint32_t addr; /* IPv4, host byte order */
        int prefix;
};
/* Refuses a private network whose subnet overlaps an address of the host
 * (a route the host already has), at the file:line of the entry that set
 * it; path is the file as shown. */
int vmenv_config_check_host(const struct vmenv_config *c, const char *path,
                            const struct vmenv_host_addr *addrs, size_t n, vmenv_error *err);
/* Chooses again the subnet of each network without a fixed address so that
 * it overlaps none of the host's addresses addrs (nor another network of
 * the project): the subnet that the network's own bridge holds (it is up),
 * else the first free 192.168.N.0/24 from N = 56. Addresses on the bridges
 * of the project's own networks are no overlap. Deterministic for a given
 * list; a network for which no subnet is free keeps the file's choice, which
 * vmenv_config_check_host then refuses. c->dir names the bridges (NULL: no
 * bridge is the project's). */
void vmenv_config_place_networks(struct vmenv_config *c, const struct vmenv_host_addr *addrs,
                                 size_t n);
/* The same against the host's own addresses (getifaddrs), leaving out the
 * bridges of the project's own networks (vmenv_network_bridge), which
 * carry the networks' host addresses while they are up. 'validate' and
 * 'up' check it; other commands (destroy above all) still work when the
 * host has since taken an address in a network. */
int vmenv_config_check_host_addrs(const struct vmenv_config *c, const char *path, vmenv_error *err);
/* A private network's name: a-z, 0-9 and '-', at most 16 characters, not
 * starting or ending in '-'. */
bool vmenv_network_name_valid(const char *name);
/* "255.255.255.0", "24" or "/24" as a prefix length; -1 if none of those. */
int vmenv_netmask_prefix(const char *s);
/* Why vmenv.yaml refuses a machine address a (host byte order) on a /prefix
 * network of its own ("is a loopback address", a subnet outside the private
 * ranges, ...), or NULL when it takes it. */
const char *vmenv_privnet_refused(uint32_t a, int prefix);
/* The network a machine entry is on. */
const struct vmenv_network_def *vmenv_config_network(const struct vmenv_config *c,
                                                     const char *name);

/* Makes every machine use uri (the user's --connect), above the file's. */
void vmenv_config_set_uri(struct vmenv_config *c, const char *uri);

/* Resolved configuration as JSON text (for 'validate --json'). */
char *vmenv_config_to_json(const struct vmenv_config *c);

#endif
