/* Private to providers/libvirt: the connection object and the translation of
 * libvirt's last error into a vmenv error. */
#ifndef VMENV_LIBVIRT_PRIVATE_H
#define VMENV_LIBVIRT_PRIVATE_H

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <pthread.h>
#include <stdbool.h>

#include "vmenv/error.h"
#include "vmenv/provider.h"

struct vmenv_provider {
        virConnectPtr conn;
        char *uri;    /* what the connection says it is */
        bool session; /* qemu:///session (unprivileged QEMU) */
        /* KVM verdict of this connection (kvm-check.c): 0 not decided yet,
         * 1 KVM runs guests, -1 it does not; its reason and cache keys. */
        int kvm_verdict;
        char *kvm_reason;
        char *kvm_keys;
        pthread_mutex_t kvm_lock; /* guards kvm_verdict, kvm_reason, kvm_keys, reaper */
        pthread_t reaper;         /* destroys the check's domain, see kvm-check.c */
        bool reaper_running;
        char *owner;              /* the project folder whose domains we may change, or NULL */
        char *client;             /* and the client ID they must carry (remote), or NULL */
};

/* Whether the URI names this machine (qemu:///system, qemu:///session). */
bool vmenv_libvirt_uri_is_local(const char *uri);
/* The first <emulator> of the capabilities, or NULL. */
char *vmenv_libvirt_caps_emulator(const char *caps);
enum vmenv_vm_state vmenv_libvirt_map_state(int st);
/* The domain's QEMU log file when this machine is the hypervisor, or NULL. */
char *vmenv_libvirt_log_path(struct vmenv_provider *p, const char *name);

/* Fills err from virGetLastError(): "<what>: <libvirt's message>", with an
 * exit code and a hint chosen from libvirt's error code. Returns -1. */
int vmenv_libvirt_error(vmenv_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The domain by name; a missing one is VMENV_EXIT_NOINPUT naming it, with
 * the hint to run 'vmenv up'. The caller frees it. */
virDomainPtr vmenv_libvirt_domain_lookup(struct vmenv_provider *p, const char *name,
                                         vmenv_error *err);

/* Ownership (owner.c): the domain by name, refused (VMENV_EXIT_NOPERM, with a
 * hint) unless its <metadata> says vmenv made it for p->owner's project and a
 * machine of that name. Without an owner (no project: tests, tools) it is
 * vmenv_libvirt_domain_lookup. */
void vmenv_libvirt_set_owner(struct vmenv_provider *p, const char *project_dir);
void vmenv_libvirt_set_client(struct vmenv_provider *p, const char *client);
int vmenv_libvirt_check_owner(struct vmenv_provider *p, virDomainPtr d, const char *name,
                              vmenv_error *err);
virDomainPtr vmenv_libvirt_domain_owned(struct vmenv_provider *p, const char *name,
                                        vmenv_error *err);

/* The unescaped text of <PREFIX:tag>…</PREFIX:tag> in metadata libvirt
 * gives back; NULL when absent or not plain text. */
char *vmenv_libvirt_meta_text(const char *xml, const char *tag);
/* Why vmenv metadata meta does not make the object name this project's
 * WHAT ("machine", "network"), as text for an error; NULL when it does.
 * expect, when not NULL, is the name the metadata must carry. */
char *vmenv_libvirt_owner_mismatch(const struct vmenv_provider *p, const char *meta,
                                   const char *name, const char *what, const char *expect);
/* Whether name is "vmenv-<project>-WHAT-<hash>". */
bool vmenv_libvirt_name_fits(const char *name, const char *what);

/* Whether a libvirt error message is QEMU's "Could not set up host
 * forwarding rule 'tcp:127.0.0.1:2222-:22'" (a host port taken); *out
 * (when not NULL) gets the forward's host port (0 if the rule is not in
 * that form) and protocol. */
bool vmenv_libvirt_forward_taken(const char *msg, struct vmenv_port_taken *out);

/* True when libvirt's last error has this code (e.g. VIR_ERR_NO_DOMAIN). */
bool vmenv_libvirt_last_error_is(int code);

static inline void vmenv_virDomainFreep(virDomainPtr *d)
{
        if (*d)
                virDomainFree(*d);
}
static inline void vmenv_virStoragePoolFreep(virStoragePoolPtr *p)
{
        if (*p)
                virStoragePoolFree(*p);
}
static inline void vmenv_virStorageVolFreep(virStorageVolPtr *v)
{
        if (*v)
                virStorageVolFree(*v);
}
static inline void vmenv_virStreamFreep(virStreamPtr *s)
{
        if (*s)
                virStreamFree(*s);
}
#define _cleanup_domain_ __attribute__((cleanup(vmenv_virDomainFreep)))
#define _cleanup_pool_ __attribute__((cleanup(vmenv_virStoragePoolFreep)))
#define _cleanup_vol_ __attribute__((cleanup(vmenv_virStorageVolFreep)))
#define _cleanup_stream_ __attribute__((cleanup(vmenv_virStreamFreep)))

/* Storage operations (storage.c). */
/* The storage pool by name (NULL: $VMENV_POOL, else "vmenv", created on
 * first use), started; the caller frees it. */
virStoragePoolPtr vmenv_libvirt_pool_get(struct vmenv_provider *p, const char *name,
                                         vmenv_error *err);
int vmenv_libvirt_image_ensure(struct vmenv_provider *p, const char *pool, const char *vol,
                               const char *local_path, const char *format, char **path,
                               vmenv_error *err);
int vmenv_libvirt_overlay_create(struct vmenv_provider *p, const char *pool, const char *vol,
                                 const char *base, uint64_t size, char **path, vmenv_error *err);
int vmenv_libvirt_volume_delete(struct vmenv_provider *p, const char *pool, const char *vol,
                                vmenv_error *err);
/* A small raw volume of the default pool holding data, mode 0644, created
 * once (the name must identify the content). */
int vmenv_libvirt_blob_ensure(struct vmenv_provider *p, const char *name, const void *data,
                              size_t len, char **path, vmenv_error *err);
/* Deletes vol only if it is a vmenv overlay: a qcow2 volume whose backing
 * store is a vmenv box volume ("vmenv-box-…") of the same pool; missing is
 * fine. */
int vmenv_libvirt_overlay_delete(struct vmenv_provider *p, const char *pool, const char *vol,
                                 vmenv_error *err);
/* The path of an existing volume. */
int vmenv_libvirt_volume_path(struct vmenv_provider *p, const char *pool, const char *vol,
                              char **path, vmenv_error *err);
int vmenv_libvirt_volume_list(struct vmenv_provider *p, const char *pool, const char *prefix,
                              char ***names, vmenv_error *err);

#endif
