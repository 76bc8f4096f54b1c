/* Machine snapshots (src/core/snapshot.c) and packaging a machine as a box
 * (src/core/package.c). */
#ifndef VMENV_SNAPSHOT_H
#define VMENV_SNAPSHOT_H

#include <stdbool.h>

#include "vmenv/error.h"

struct vmenv_project;
struct vmenv_machine_config;

bool vmenv_snapshot_name_valid(const char *name);
int vmenv_snapshot_save(struct vmenv_project *p, const struct vmenv_machine_config *m,
                        const char *name, vmenv_error *err);
int vmenv_snapshot_restore(struct vmenv_project *p, const struct vmenv_machine_config *m,
                           const char *name, vmenv_error *err);
int vmenv_snapshot_delete(struct vmenv_project *p, const struct vmenv_machine_config *m,
                          const char *name, vmenv_error *err);
/* Oldest first; a NULL-terminated vector. */
int vmenv_snapshot_list(struct vmenv_project *p, const struct vmenv_machine_config *m,
                        char ***names, vmenv_error *err);
int vmenv_snapshot_push(struct vmenv_project *p, const struct vmenv_machine_config *m,
                        vmenv_error *err);
int vmenv_snapshot_pop(struct vmenv_project *p, const struct vmenv_machine_config *m,
                       bool no_delete, vmenv_error *err);

struct vmenv_package_opts {
        const char *output;      /* default "package.box" */
        const char *vagrantfile; /* a Vagrantfile to include, or NULL */
        char **include;          /* more files to include (NULL-terminated) */
        bool insecure_key;       /* put the Vagrant insecure key back in the image */
        bool force;              /* overwrite output */
};

/* Flattens a halted machine's disk into a standalone Vagrant libvirt box. */
int vmenv_package(struct vmenv_project *p, const struct vmenv_machine_config *m,
                  const struct vmenv_package_opts *o, vmenv_error *err);

#endif
