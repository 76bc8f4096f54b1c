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
#include "vmenv/ssh.h"
#include "vmenv/state.h"
#include "vmenv/util.h"

VMENV_DEFINE_CLEANUP(struct vmenv_machine_state, vmenv_state_free)
VMENV_DEFINE_CLEANUP(struct vmenv_ssh, vmenv_ssh_free)
VMENV_DEFINE_CLEANUP(struct vmenv_box, vmenv_box_free)

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
int vmenv_machine_define(struct vmenv_project *p, const struct vmenv_machine_config *m,
                         struct vmenv_machine_state *st, const char *disk_path,
                         const char *disk_format, vmenv_error *err);

/* machine-boot.c: starts the domain when start is set, waits until a
 * command runs over SSH (the first-boot script while first boot is not
 * confirmed), mounts shared folders and syncs rsync folders when the
 * machine was booted. *stopped says the domain stopped by itself during
 * the wait (the error says how). */
int vmenv_machine_boot(struct vmenv_project *p, const struct vmenv_machine_config *m,
                       struct vmenv_machine_state *st, bool start, bool *stopped,
                       const struct vmenv_up_opts *o, vmenv_error *err);

#endif
