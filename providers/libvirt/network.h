/* NAT networking of the libvirt provider (network.c). */
#ifndef VMENV_LIBVIRT_NETWORK_H
#define VMENV_LIBVIRT_NETWORK_H

#include "libvirt-private.h"

/* The network by name, defined (NAT, DHCP, on the first free 192.168.x.0/24
 * from x = 123) and started if need be. */
int vmenv_libvirt_network_ensure(struct vmenv_provider *p, const char *name, vmenv_error *err);
/* The domain's IPv4 address from its DHCP lease; *ip NULL while it has none. */
int vmenv_libvirt_guest_address(struct vmenv_provider *p, const char *domain, char **ip,
                                vmenv_error *err);

#endif
