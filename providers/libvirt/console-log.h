/* The serial console's log as a volume of the storage pool (console-log.c). */
#ifndef VMENV_LIBVIRT_CONSOLE_LOG_H
#define VMENV_LIBVIRT_CONSOLE_LOG_H

#include "libvirt-private.h"

int vmenv_libvirt_console_log_ensure(struct vmenv_provider *p, const char *pool, const char *domain,
                                     char **path, vmenv_error *err);
int vmenv_libvirt_console_log_read(struct vmenv_provider *p, const char *pool, const char *domain,
                                   size_t max, char **data, size_t *len, vmenv_error *err);
/* NAME is a console log's volume name: DOMAIN-console.log or one of
 * virtlogd's rotated copies, DOMAIN-console.log.0 to .9. Its bytes are the
 * guest's, so what libvirt probes in them (a format, a backing file) means
 * nothing. */
bool vmenv_libvirt_console_log_name(const char *name);
int vmenv_libvirt_console_log_remove(struct vmenv_provider *p, const char *pool, const char *domain,
                                     vmenv_error *err);

#endif
