/* Private networks of the libvirt provider (privnet.c). */
#ifndef VMENV_LIBVIRT_PRIVNET_H
#define VMENV_LIBVIRT_PRIVNET_H

#include "libvirt-private.h"

#define VMENV_LIBVIRT_NETWORK_NS "https://vmenv.dev/xmlns/network/1"

/* The network's XML: isolated (no <forward>), the project's mark in
 * <metadata>, one DHCP reservation and DNS entry per host; every value
 * escaped. uuid NULL: a new network. NULL with err set on a bad spec. */
char *vmenv_libvirt_privnet_xml(const struct vmenv_privnet_spec *s, const char *uuid,
                                vmenv_error *err);
int vmenv_libvirt_privnet_ensure(struct vmenv_provider *p, const struct vmenv_privnet_spec *s,
                                 vmenv_error *err);
int vmenv_libvirt_privnet_remove_unused(struct vmenv_provider *p, const char *name,
                                        const char *network, bool *removed, vmenv_error *err);

#endif
