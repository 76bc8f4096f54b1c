/* Machines of a project and their lifecycle: the work behind up, halt,
 * destroy, status and friends, so the commands stay thin. */
#ifndef VMENV_MACHINE_H
#define VMENV_MACHINE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "vmenv/config.h"
#include "vmenv/error.h"
#include "vmenv/provider.h"
#include "vmenv/state.h"

struct vmenv_ssh;
struct vmenv_lock;

/* A project with its provider connection open. */
struct vmenv_project {
        struct vmenv_config *config; /* borrowed */
        const struct vmenv_provider_ops *ops;
        struct vmenv_provider *conn;
        struct vmenv_host_info host; /* read on first need: vmenv_project_host() */
        bool host_known;
        /* Machines come up in parallel threads: host is read and changed
         * (a KVM fallback) under this lock; reasons it replaced are kept
         * until close, since a thread may still print one. */
        pthread_mutex_t host_lock;
        char **old_reasons;
        /* The hypervisor's host when it is not this one: guests are
         * reached through it (ssh-jump.c), their console and QEMU log are
         * on it. NULL: this machine. */
        struct vmenv_ssh_jump *jump;
};

/* The accelerator a machine is defined with now, copied under the lock. */
struct vmenv_accel {
        bool kvm;
        bool insisted;    /* VMENV_KVM=1: no fallback */
        char reason[200]; /* "kvm", "tcg: no /dev/kvm", ... */
};

/* The provider is chosen by the caller (the CLI), so core never links a backend. */
struct vmenv_project *vmenv_project_open(struct vmenv_config *c,
                                         const struct vmenv_provider_ops *ops, vmenv_error *err);
/* The same on the hypervisor of uri (a machine's libvirt.uri; NULL: the
 * provider's default): machines of one project may run on several. */
struct vmenv_project *vmenv_project_open_uri(struct vmenv_config *c,
                                             const struct vmenv_provider_ops *ops, const char *uri,
                                             vmenv_error *err);
void vmenv_project_close(struct vmenv_project *p);
int vmenv_project_accel(struct vmenv_project *p, struct vmenv_accel *out, vmenv_error *err);
/* Records that KVM cannot run guests here (reason: what happened) and makes
 * this project's later machines use TCG. */
int vmenv_project_kvm_broken(struct vmenv_project *p, const char *reason, vmenv_error *err);
/* What the hypervisor offers (KVM or not, versions); probed once, only by
 * the commands that need it, since the KVM probe starts QEMU. */
const struct vmenv_host_info *vmenv_project_host(struct vmenv_project *p, vmenv_error *err);

/* The machines named on the command line (each must exist in the file), or
 * all machines when none are named. *out is an array of borrowed pointers. */
int vmenv_project_select(const struct vmenv_config *c, int argc, char *const *names,
                         const struct vmenv_machine_config ***out, size_t *n, vmenv_error *err);
/* Exactly one machine: the named one, the only one, or the primary one. */
const struct vmenv_machine_config *vmenv_project_select_one(const struct vmenv_config *c,
                                                            const char *name, vmenv_error *err);

struct vmenv_up_opts {
        bool provision;                /* --provision: run every provisioner */
        bool no_provision;             /* --no-provision */
        char **provision_with;         /* only these provisioners (NULL: all due) */
        bool insecure;                 /* TLS for box downloads */
        bool timings;                  /* print phase timings */
        bool frozen;                   /* vmenv.lock must match exactly */
        const struct vmenv_lock *lock; /* from vmenv_lock_ensure; NULL: no lock */
};

/* Takes the machine's lock (.vmenv/locks/MACHINE.lock), waiting for it;
 * returns its descriptor (close it to release) or -1. Every command that
 * changes a machine or its state holds it: up, destroy, halt, provision,
 * rsync, package. */
int vmenv_machine_lock(const struct vmenv_project *p, const char *machine, vmenv_error *err);

/* Creates, boots, resumes or does nothing, as the state requires. */
int vmenv_machine_up(struct vmenv_project *p, const struct vmenv_machine_config *m,
                     const struct vmenv_up_opts *o, vmenv_error *err);
/* ACPI shutdown, then force after timeout_s seconds (or at once if force). */
int vmenv_machine_halt(struct vmenv_project *p, const struct vmenv_machine_config *m, bool force,
                       int timeout_s, vmenv_error *err);
/* Removes the domain, its overlay, its state; keeps the box. */
int vmenv_machine_destroy(struct vmenv_project *p, const struct vmenv_machine_config *m,
                          vmenv_error *err);
int vmenv_machine_suspend(struct vmenv_project *p, const struct vmenv_machine_config *m,
                          vmenv_error *err);
int vmenv_machine_resume(struct vmenv_project *p, const struct vmenv_machine_config *m,
                         vmenv_error *err);
/* The state from libvirt (not the cache). */
int vmenv_machine_state(struct vmenv_project *p, const struct vmenv_machine_config *m,
                        enum vmenv_vm_state *out, vmenv_error *err);
/* An authenticated SSH session to a running machine. */
struct vmenv_ssh *vmenv_machine_ssh(struct vmenv_project *p, const struct vmenv_machine_config *m,
                                    vmenv_error *err);
/* The same for a machine of a remote hypervisor without asking libvirt
 * first (a connection to it costs as much as the login): the ports, key
 * and pinned host key recorded at up, through the jump host. Whoever
 * fails here asks vmenv_machine_ssh, which says why. */
struct vmenv_ssh *vmenv_machine_ssh_remote(const struct vmenv_config *c,
                                           const struct vmenv_machine_config *m, vmenv_error *err);
/* The private key vmenv logs in with (ours after first boot). */
char *vmenv_machine_login_key(const struct vmenv_machine_config *m,
                              const struct vmenv_machine_state *st, vmenv_error *err);
/* st's known_hosts file for the system ssh: "[127.0.0.1]:PORT KEY". */
char *vmenv_machine_known_hosts(const struct vmenv_machine_state *st);

/* The libvirt URI a machine runs on: --connect, vmenv.yaml's libvirt.uri,
 * $VMENV_LIBVIRT_URI, or NULL for the provider's default. Never the one
 * recorded in .vmenv/, which is trusted for no URI. */
const char *vmenv_machine_uri(const struct vmenv_machine_config *m);

/* How the system ssh reaches a machine that was brought up once. */
struct vmenv_ssh_endpoint {
        char *host; /* 127.0.0.1, or the guest's address in nat mode */
        int port;
        const char *user;  /* borrowed from the config */
        char *key;         /* private key path */
        char *known_hosts; /* file pinning the guest's host key */
        /* a remote hypervisor's host: -J/ProxyJump, or a ProxyCommand;
         * both NULL for a machine of this host */
        char *jump;
        char *proxy_command;
};
int vmenv_machine_endpoint(const struct vmenv_config *c, const struct vmenv_machine_config *m,
                           struct vmenv_ssh_endpoint *out, vmenv_error *err);
void vmenv_ssh_endpoint_clear(struct vmenv_ssh_endpoint *e);

/* Deletes the storage-pool copies of a box (one version, or all when
 * version is NULL) that no machine's overlay still uses; called by 'box
 * remove' and 'box prune'. A libvirt that cannot be reached is skipped. */
int vmenv_box_pool_remove(const struct vmenv_provider_ops *ops, const char *box,
                          const char *version, vmenv_error *err);

/* Runs the provisioners that are due (or all with force / only those named). */
int vmenv_machine_provision(struct vmenv_project *p, const struct vmenv_machine_config *m,
                            bool force, char *const *only, vmenv_error *err);
/* The same over a session the caller opened, recording what ran in st
 * (saved after each provisioner). Only p->config is used. */
int vmenv_provision_run(struct vmenv_ssh *s, const struct vmenv_project *p,
                        const struct vmenv_machine_config *m, struct vmenv_machine_state *st,
                        bool force, char *const *only, vmenv_error *err);

#endif
