/* Private to providers/libvirt: what an image must be before it enters the
 * storage pool. No libvirt types, so tests can call it directly. */
#ifndef VMENV_LIBVIRT_IMAGE_CHECK_H
#define VMENV_LIBVIRT_IMAGE_CHECK_H

#include "vmenv/error.h"

/* Refuses a local image whose content does not match format ("qcow2" or
 * "raw"), and any qcow2 that names another file (a backing file or an
 * external data file): libvirt follows such names when it starts a domain,
 * hands the files to QEMU and relabels them for it, so a hostile box could
 * otherwise expose any host file to the guest. */
int vmenv_libvirt_check_image(const char *path, const char *format, vmenv_error *err);

#endif
