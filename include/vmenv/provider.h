/* The backend interface: a provider is a table of operations on an opaque
 * connection. A NULL operation means "not supported by this provider", and
 * callers say so clearly. No libvirt type appears here. */
#ifndef VMENV_PROVIDER_H
#define VMENV_PROVIDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmenv/error.h"

enum vmenv_vm_state {
        VMENV_VM_NOT_CREATED = 0,
        VMENV_VM_RUNNING,
        VMENV_VM_PAUSED,     /* suspended */
        VMENV_VM_SHUTOFF,
        VMENV_VM_SHUTTING_DOWN,
        VMENV_VM_CRASHED,
        VMENV_VM_OTHER,
};
const char *vmenv_vm_state_name(enum vmenv_vm_state s); /* "running", "not created", ... */

/* One host → guest forward (user-mode networking). */
struct vmenv_port_map {
        const char *host_ip;  /* "127.0.0.1" unless asked */
        int host_port;
        int guest_port;
        const char *protocol; /* "tcp" or "udp" */
};

/* A forward whose host port QEMU could not bind at start (taken on the
 * hypervisor's host): see start. */
struct vmenv_port_taken {
        int host_port; /* 0: QEMU did not say which */
        bool udp;
};
#define VMENV_START_PORT_TAKEN (-2)

struct vmenv_disk_spec {
        const char *path;   /* host path of the image (a pool volume) */
        const char *format; /* "qcow2" or "raw" */
};

struct vmenv_fs_spec {  /* 9p/virtiofs shares; issue 5 */
        const char *host_path;
        const char *tag;
        const char *type; /* "9p" or "virtiofs" */
        bool readonly;
};

/* A NIC on a private network (vmenv.yaml `networks:`). */
struct vmenv_nic_spec {
        const char *network; /* the libvirt network */
        const char *mac;     /* "52:54:00:xx:xx:xx", fixed per machine and network */
};

/* An isolated libvirt network of a project: no <forward>, the host's own
 * address on its bridge, a DHCP reservation and DNS names per machine. */
struct vmenv_privnet_host {
        const char *machine; /* DNS: MACHINE and MACHINE.<dns_domain> */
        const char *mac;
        const char *ip;
};
struct vmenv_privnet_spec {
        const char *name;        /* libvirt name: vmenv-<project>-<network>-<hash> */
        const char *bridge;      /* vmv<hash>, at most 15 characters */
        const char *project_dir; /* ownership mark, checked before it is changed or removed */
        const char *network;     /* its name in vmenv.yaml */
        const char *dns_domain;  /* "<project>.vmenv" */
        const char *host_ip;     /* the host's address on it (the subnet's first) */
        int prefix;
        const struct vmenv_privnet_host *hosts;
        size_t n_hosts;
};

/* Everything needed to render one domain; values are raw (unescaped): the
 * renderer escapes them. */
struct vmenv_domain_spec {
        const char *name;          /* vmenv-<project>-<machine>-<hash> */
        const char *uuid;          /* NULL: let libvirt choose */
        const char *title;         /* "vmenv: <project>/<machine>" */
        const char *project_dir;   /* recorded in <metadata> for global-status */
        const char *client;        /* <vmenv:client>: the client ID, on a remote URI; or NULL */
        const char *machine;
        uint64_t memory;           /* bytes */
        int cpus;
        const char *machine_type;  /* NULL: "q35" */
        const char *cpu_mode;      /* NULL: host-passthrough on kvm, default on tcg */
        bool kvm;                  /* type='kvm' vs type='qemu' (TCG) */
        const char *emulator;      /* NULL: libvirt's default */
        struct vmenv_disk_spec *disks;
        size_t n_disks;
        const char *seed_iso;      /* cloud-init's NoCloud seed, a read-only CD-ROM; or NULL */
        const char *serial_log;    /* file the serial console is written to */
        const char *kernel, *initrd, *cmdline;
        const char *network;       /* "user" (default) or "nat" */
        const char *mac;           /* the first NIC's; NULL: the hypervisor's choice */
        const char *nat_network;   /* libvirt network name for "nat" */
        const struct vmenv_nic_spec *nics; /* private networks, after the first NIC */
        size_t n_nics;
        struct vmenv_port_map *ports; /* ports[0] is SSH in user mode */
        size_t n_ports;
        const char *video;         /* NULL: none */
        const char *graphics;      /* NULL: none; "vnc", "spice" */
        struct vmenv_fs_spec *fs;
        size_t n_fs;
};

struct vmenv_provider; /* an open connection */

/* Information about the host side. */
struct vmenv_host_info {
        bool kvm;            /* KVM runs guests on the hypervisor: use type='kvm' */
        /* Why this accelerator, for humans and --json: "kvm", "tcg: no
         * /dev/kvm", "tcg: VMENV_KVM=0", "tcg: KVM present but the guest
         * stopped: emulation failure" (see docs/accel.md). Never NULL. */
        char *accel_reason;
        bool kvm_insisted;   /* VMENV_KVM=1: a guest that stops is an error, no fallback */
        char *hypervisor;    /* "QEMU 7.2.0" */
        unsigned long libvirt_version; /* major*1e6 + minor*1e3 + micro */
        bool passt;          /* native <portForward> usable */
};

struct vmenv_provider_ops {
        const char *name;
        /* uri NULL: $VMENV_LIBVIRT_URI, then qemu:///system (root) or
         * qemu:///session. */
        struct vmenv_provider *(*open)(const char *uri, vmenv_error *err);
        void (*close)(struct vmenv_provider *p);
        /* The URI the connection says it has ("qemu+ssh://root@host/system"). */
        const char *(*uri)(struct vmenv_provider *p);
        int (*host_info)(struct vmenv_provider *p, struct vmenv_host_info *out, vmenv_error *err);

        /* Records that KVM cannot run guests on this host (e.g. a machine
         * started under KVM stopped by itself in its first boot), so that
         * later host_info calls, in this process and later ones, say TCG
         * with the accelerator reason "tcg: <reason>". reason says what
         * happened, e.g. "KVM present but the guest stopped: emulation
         * failure". */
        int (*kvm_mark_broken)(struct vmenv_provider *p, const char *reason, vmenv_error *err);

        /* Storage. pool NULL: the "vmenv" directory pool under $VMENV_HOME,
         * created on first use. Volumes are named by the caller. */
        /* Uploads a local image into the pool once (through a libvirt stream);
         * does nothing if the volume exists. *path gets the volume's path. */
        int (*image_ensure)(struct vmenv_provider *p, const char *pool, const char *vol,
                            const char *local_path, const char *format, char **path,
                            vmenv_error *err);
        /* A qcow2 overlay backed by base (a volume of the same pool), grown to
         * size when size is larger than the base's virtual size. */
        int (*overlay_create)(struct vmenv_provider *p, const char *pool, const char *vol,
                              const char *base, uint64_t size, char **path, vmenv_error *err);
        /* Deletes a volume; missing is fine. Refuses a base that an existing
         * overlay in the pool still uses (error code VMENV_EXIT_FAILURE). */
        int (*volume_delete)(struct vmenv_provider *p, const char *pool, const char *vol,
                             vmenv_error *err);
        /* Deletes a machine's overlay, refusing a volume that is not a qcow2
         * overlay of a vmenv box volume in the same pool; missing is fine. */
        int (*overlay_delete)(struct vmenv_provider *p, const char *pool, const char *vol,
                              vmenv_error *err);
        /* The path of an existing volume on the hypervisor. */
        int (*volume_path)(struct vmenv_provider *p, const char *pool, const char *vol, char **path,
                           vmenv_error *err);
        /* Volume names of the pool with the given prefix. */
        int (*volume_list)(struct vmenv_provider *p, const char *pool, const char *prefix,
                           char ***names, vmenv_error *err);

        /* The project folder whose domains this connection may change: from
         * then on define (over an existing domain), start, shutdown, poweroff,
         * suspend, resume, undefine and snapshots refuse a domain whose
         * <metadata> does not name this project and a machine fitting its name
         * (VMENV_EXIT_NOPERM). */
        void (*set_owner)(struct vmenv_provider *p, const char *project_dir);
        /* The client ID (docs/remote.md) of a connection to a shared,
         * remote hypervisor: from then on the same operations also refuse
         * a domain whose <vmenv:client> is not this one. */
        void (*set_client)(struct vmenv_provider *p, const char *client);

        /* Domains, by name. */
        int (*define)(struct vmenv_provider *p, const struct vmenv_domain_spec *spec,
                      vmenv_error *err);
        /* Starting a running domain is done already. When the start fails
         * because a host forward could not be set up (QEMU: "Could not set
         * up host forwarding rule": its port is taken on the hypervisor's
         * host), returns VMENV_START_PORT_TAKEN, err set as for any failure
         * and *taken (when not NULL) naming the forward; otherwise -1. */
        int (*start)(struct vmenv_provider *p, const char *name, struct vmenv_port_taken *taken,
                     vmenv_error *err);
        /* NOT_CREATED when no such domain exists: not an error. */
        int (*state)(struct vmenv_provider *p, const char *name, enum vmenv_vm_state *out,
                     vmenv_error *err);
        /* The state with the hypervisor's reason as text, as virsh prints
         * it: "running (booted)", "paused (unknown)", "shut off (crashed)";
         * *reason_text is "not created" when no such domain exists. */
        int (*state_detail)(struct vmenv_provider *p, const char *name,
                            enum vmenv_vm_state *state, char **reason_text, vmenv_error *err);
        /* The last lines (at most 64 KiB) of the domain's QEMU log, or NULL
         * when it cannot be read from here (no such log, remote host). */
        char *(*log_tail)(struct vmenv_provider *p, const char *name, int lines);
        /* The serial console's log: a file volume "DOMAIN-console.log" of
         * the pool (NULL: the default one) that the hypervisor's virtlogd
         * appends to, read back through libvirt, so a remote domain's
         * console is read like a local one's. console_log_ensure makes it
         * once and gives its path on the hypervisor for serial_log (*path
         * NULL when the pool's volumes are not files: no log). */
        int (*console_log_ensure)(struct vmenv_provider *p, const char *pool, const char *domain,
                                  char **path, vmenv_error *err);
        /* Its last max bytes at most (*data NULL when there is no log). */
        int (*console_log_read)(struct vmenv_provider *p, const char *pool, const char *domain,
                                size_t max, char **data, size_t *len, vmenv_error *err);
        /* Deletes it and virtlogd's rotated copies; missing is fine. */
        int (*console_log_remove)(struct vmenv_provider *p, const char *pool, const char *domain,
                                  vmenv_error *err);
        int (*shutdown)(struct vmenv_provider *p, const char *name, vmenv_error *err); /* ACPI */
        int (*poweroff)(struct vmenv_provider *p, const char *name, vmenv_error *err); /* force */
        int (*suspend)(struct vmenv_provider *p, const char *name, vmenv_error *err);
        int (*resume)(struct vmenv_provider *p, const char *name, vmenv_error *err);
        /* Removes the definition (and its snapshots' metadata); missing is fine. */
        int (*undefine)(struct vmenv_provider *p, const char *name, vmenv_error *err);
        /* Names of defined domains starting with prefix. */
        int (*list)(struct vmenv_provider *p, const char *prefix, char ***names,
                    vmenv_error *err);

        /* Snapshots of a domain's disk (and memory when it runs), kept inside
         * its qcow2 overlay; the box image is never touched. */
        int (*snapshot_create)(struct vmenv_provider *p, const char *domain, const char *name,
                               vmenv_error *err);
        /* Brings the domain back to the snapshot; running if it runs now or
         * ran when the snapshot was taken. */
        int (*snapshot_revert)(struct vmenv_provider *p, const char *domain, const char *name,
                               vmenv_error *err);
        int (*snapshot_delete)(struct vmenv_provider *p, const char *domain, const char *name,
                               vmenv_error *err);
        /* Oldest first. */
        int (*snapshot_list)(struct vmenv_provider *p, const char *domain, char ***names,
                             vmenv_error *err);
        /* Writes a volume with its backing chain merged into a standalone
         * qcow2 file on this host (works for remote hypervisors too). */
        int (*volume_export)(struct vmenv_provider *p, const char *pool, const char *vol,
                             const char *dest, vmenv_error *err);

        /* NAT mode: the shared network, made and started on first use, and
         * a domain's IPv4 address from its DHCP lease (*ip NULL: none yet). */
        int (*network_ensure)(struct vmenv_provider *p, const char *name, vmenv_error *err);
        int (*guest_address)(struct vmenv_provider *p, const char *domain, char **ip,
                             vmenv_error *err);

        /* Private networks. privnet_ensure defines the network (or brings an
         * existing one of this project up to date: hosts, DNS names) and
         * starts it; it refuses a network of that name that does not carry
         * this project's mark (VMENV_EXIT_NOPERM) and a session connection
         * (VMENV_EXIT_UNAVAILABLE: libvirt makes bridges only as root). */
        int (*privnet_ensure)(struct vmenv_provider *p, const struct vmenv_privnet_spec *s,
                              vmenv_error *err);
        /* Stops and removes the network when no domain is attached to it any
         * more (*removed says so); missing is fine; refuses one that is not
         * this project's. */
        int (*privnet_remove_unused)(struct vmenv_provider *p, const char *name,
                                     const char *network, bool *removed, vmenv_error *err);
};

extern const struct vmenv_provider_ops vmenv_provider_libvirt;

void vmenv_host_info_clear(struct vmenv_host_info *h);
/* The words of a KVM failure in a QEMU log tail (log_tail): "emulation
 * failure", "failed to set MSR", "KVM internal error", "kvm run failed";
 * NULL when the log shows none. For the reason given to kvm_mark_broken,
 * e.g. "KVM present but the guest stopped: emulation failure". */
const char *vmenv_qemu_log_kvm_failure(const char *log);

#endif
