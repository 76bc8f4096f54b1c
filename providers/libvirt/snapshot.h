/* Snapshot and export operations of the libvirt provider (snapshot.c). */
#ifndef VMENV_LIBVIRT_SNAPSHOT_H
#define VMENV_LIBVIRT_SNAPSHOT_H

#include "libvirt-private.h"

int vmenv_libvirt_snapshot_create(struct vmenv_provider *p, const char *domain, const char *name,
                                  vmenv_error *err);
int vmenv_libvirt_snapshot_revert(struct vmenv_provider *p, const char *domain, const char *name,
                                  vmenv_error *err);
int vmenv_libvirt_snapshot_delete(struct vmenv_provider *p, const char *domain, const char *name,
                                  vmenv_error *err);
int vmenv_libvirt_snapshot_list(struct vmenv_provider *p, const char *domain, char ***names,
                                vmenv_error *err);
int vmenv_libvirt_volume_export(struct vmenv_provider *p, const char *pool, const char *vol,
                                const char *dest, vmenv_error *err);
/* The storage pool by name (NULL: the default one), started; storage.c. */
virStoragePoolPtr vmenv_libvirt_pool_get(struct vmenv_provider *p, const char *name,
                                         vmenv_error *err);

#endif
