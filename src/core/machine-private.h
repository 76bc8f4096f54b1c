/* What the machine modules share: machine.c (the lifecycle verbs),
 * machine-create.c (box → disk → domain definition) and machine-boot.c
 * (boot, the SSH wait, first-boot setup). Not part of the public API. */
#ifndef VMENV_MACHINE_PRIVATE_H
#define VMENV_MACHINE_PRIVATE_H

#include <stdbool.h>

#include "vmenv/box.h"
#include "vmenv/cleanup.h"
#include "vmenv/config.h"
#include "vmenv/machine.h"
#include "vmenv/provider.h"
#include "vmenv/ssh.h"
#include "vmenv/state.h"
#include "vmenv/util.h"

VMENV_DEFINE_CLEANUP(struct vmenv_machine_state, vmenv_state_free)
VMENV_DEFINE_CLEANUP(struct vmenv_ssh, vmenv_ssh_free)

/* nat mode: machines share this libvirt network, made on first use. */
#define VMENV_NAT_NETWORK "vmenv"

static inline bool vmenv_machine_nat(const struct vmenv_machine_config *m)
{
        return vmenv_streq(m->network, "nat");
}

static inline const char *vmenv_machine_ssh_host(const struct vmenv_machine_state *st)
{
        return st->ssh_host ? st->ssh_host : "127.0.0.1";
}

/* A cloud image's machine: vmenv.yaml says so (an alias, cloud_init:), or
 * the box did when the machine was made (st->cloud_box, a packaged cloud
 * image: docs/cloud-images.md). */
static inline bool vmenv_machine_cloud(const struct vmenv_machine_config *m,
                                       const struct vmenv_machine_state *st)
{
        return m->cloud || (st && st->cloud_box);
}

/* The account vmenv logs in as: ssh.user, whose default is "vmenv" on a
 * cloud image's machine (known from the box only once it is made). */
static inline const char *vmenv_machine_user(const struct vmenv_machine_config *m,
                                             const struct vmenv_machine_state *st)
{
        if (m->ssh.user_default && !m->cloud && st && st->cloud_box)
                return "vmenv";
        return m->ssh.user ? m->ssh.user : "vagrant";
}

/* 9p and virtiofs folders become filesystem devices tagged vmenv<N>, N
 * being the folder's index in the file; the guest mounts them after boot. */
static inline bool vmenv_folder_shared(const struct vmenv_synced_folder *f)
{
        return !f->disabled && (vmenv_streq(f->type, "9p") || vmenv_streq(f->type, "virtiofs"));
}

/* machine-create.c: gets the box, makes the overlay, defines the domain. */
int vmenv_machine_create(struct vmenv_project *p, const struct vmenv_machine_config *m,
                         struct vmenv_machine_state *st, const struct vmenv_up_opts *o,
                         vmenv_error *err);
/* (Re)defines the domain on an existing disk, so changed settings apply. */
/* The path of the machine's overlay as the pool reports it (never the one
 * recorded in .vmenv/); also kept in st->disk_path. */
int vmenv_machine_disk_path(struct vmenv_project *p, const struct vmenv_machine_config *m,
                            struct vmenv_machine_state *st, char **out, vmenv_error *err);
int vmenv_machine_define(struct vmenv_project *p, const struct vmenv_machine_config *m,
                         struct vmenv_machine_state *st, const char *disk_path,
                         const char *disk_format, vmenv_error *err);

/* Starts the domain. A host port that the hypervisor's host finds taken
 * (provider start: VMENV_START_PORT_TAKEN) is moved, the SSH port always,
 * a forwarded port only with auto_correct (else the error names the port
 * and the host), the domain is defined again with the new ports and
 * started, a few times at most; each move is warned about once. The state
 * records the new ports only once the domain runs with them. */
int vmenv_machine_start(struct vmenv_project *p, const struct vmenv_machine_config *m,
                        struct vmenv_machine_state *st, vmenv_error *err);

/* machine-ports.c: the host ports (st->ports, ssh_port) for a definition:
 * SSH kept across ups while free where it binds, forwarded ports moved
 * when taken and auto_correct is set. jump: the remote hypervisor's host,
 * whose ports are tested through it (NULL: this host). */
int vmenv_machine_plan_ports(const struct vmenv_machine_config *m, struct vmenv_machine_state *st,
                             const struct vmenv_ssh_jump *jump, vmenv_error *err);
/* After a start that found a host port taken (t): moves it (the SSH port
 * also when t names none and no other is seen taken) in st, or fails:
 * a forwarded port without auto_correct (VMENV_EXIT_UNAVAILABLE, naming
 * the port and the host), or none of st's ports (err kept as is). */
int vmenv_machine_move_port(const struct vmenv_machine_config *m, struct vmenv_machine_state *st,
                            const struct vmenv_ssh_jump *jump, const struct vmenv_port_taken *t,
                            vmenv_error *err);

/* The same as vmenv_machine_halt and vmenv_machine_provision, for a caller
 * that holds the machine's lock already (flock is not reentrant). */
int vmenv_machine_halt_locked(struct vmenv_project *p, const struct vmenv_machine_config *m,
                              bool force, int timeout_s, vmenv_error *err);
int vmenv_machine_provision_locked(struct vmenv_project *p, const struct vmenv_machine_config *m,
                                   bool force, char *const *only, vmenv_error *err);

/* package-cloud.c: packaging a cloud image's machine. _heal puts back a
 * machine that an interrupted package left cleaned (1: it did, 0: nothing
 * to do); up and package call it on a machine that exists. _clean saves the
 * machine in package's own snapshot (*saved), boots it if it was off,
 * cleans cloud-init and powers it off; whatever it returns, a saved machine
 * is put back with _restore (the disk exported in between). */
int vmenv_package_heal(struct vmenv_project *p, const struct vmenv_machine_config *m,
                       const struct vmenv_machine_state *st, vmenv_error *err);
int vmenv_package_cloud_clean(struct vmenv_project *p, const struct vmenv_machine_config *m,
                              struct vmenv_machine_state *st, bool *saved, vmenv_error *err);
int vmenv_package_cloud_restore(struct vmenv_project *p, const struct vmenv_machine_config *m,
                                const struct vmenv_machine_state *st, vmenv_error *err);


/* machine-boot.c: starts the domain when start is set, waits until a
 * command runs over SSH (the first-boot script while first boot is not
 * confirmed), mounts shared folders and syncs rsync folders when the
 * machine was booted. *stopped (to free) says how the domain stopped by
 * itself during the wait, when it did: "emulation failure" (from the QEMU
 * log), "paused (unknown)"; the error says more. */
int vmenv_machine_boot(struct vmenv_project *p, const struct vmenv_machine_config *m,
                       struct vmenv_machine_state *st, bool start, char **stopped,
                       const struct vmenv_up_opts *o, vmenv_error *err);

/* machine-cloud.c: a cloud image's machine. The seed (made with the
 * machine's own key, its instance-id and the project's user-data) in the
 * pool as "<domain>-seed-<digest>.iso", uploaded again only when it
 * changed; *path gets its path for the domain's CD-ROM. */
int vmenv_machine_cloud_seed(struct vmenv_project *p, const struct vmenv_machine_config *m,
                             struct vmenv_machine_state *st, const char *mac, char **path,
                             vmenv_error *err);
/* Refuses, before anything is fetched, a user_data file that cannot go
 * into the seed (outside the project, not a regular file, too large). */
int vmenv_machine_cloud_check(struct vmenv_project *p, const struct vmenv_machine_config *m,
                              vmenv_error *err);
/* Deletes the machine's seed volumes (destroy). */
int vmenv_machine_cloud_remove(struct vmenv_project *p, const struct vmenv_machine_config *m,
                               const struct vmenv_machine_state *st, vmenv_error *err);
/* Waits for cloud-init to finish in the guest; a failure is an error with
 * cloud-init's own output (the tail of /var/log/cloud-init-output.log).
 * *seconds gets how long it waited. */
int vmenv_machine_cloud_wait(const struct vmenv_machine_config *m, struct vmenv_ssh *s,
                             double *seconds, vmenv_error *err);

#endif
