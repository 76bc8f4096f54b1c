/* Diagnosis of a domain: state and reason as text, the QEMU log's tail. */
#ifndef VMENV_LIBVIRT_DOMAIN_DIAG_H
#define VMENV_LIBVIRT_DOMAIN_DIAG_H

#include "libvirt-private.h"

/* "paused (unknown)", "shut off (crashed)": virsh domstate --reason. */
char *vmenv_libvirt_state_text(int state, int reason);
int vmenv_libvirt_state_detail(struct vmenv_provider *p, const char *name,
                               enum vmenv_vm_state *state, char **reason_text, vmenv_error *err);
/* The last lines of the domain's QEMU log on this machine, or NULL. */
char *vmenv_libvirt_log_tail(struct vmenv_provider *p, const char *name, int lines);

#endif
