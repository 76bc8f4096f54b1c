/* Machine snapshots: save/restore/list/delete by name, and push/pop as a
 * stack, on the provider's snapshots of the machine's overlay. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "vmenv/cleanup.h"
#include "vmenv/log.h"
#include "vmenv/machine.h"
#include "vmenv/snapshot.h"
#include "vmenv/util.h"

#define PUSH_PREFIX "push_"

static int need_machine(struct vmenv_project *p, const struct vmenv_machine_config *m,
                        char **domain, vmenv_error *err)
{
        enum vmenv_vm_state vs;
        char *d = vmenv_domain_name(p->config, m->name);

        if (!p->ops->snapshot_create)
                return vmenv_error_set(err, VMENV_EXIT_UNAVAILABLE,
                                       "the %s provider has no snapshots", p->ops->name);
        if (p->ops->state(p->conn, d, &vs, err) < 0) {
                free(d);
                return -1;
        }
        if (vs == VMENV_VM_NOT_CREATED) {
                free(d);
                vmenv_error_set(err, VMENV_EXIT_FAILURE, "machine '%s' is not created", m->name);
                return vmenv_error_hint(err, "run 'vmenv up %s' first", m->name);
        }
        *domain = d;
        return 0;
}

bool vmenv_snapshot_name_valid(const char *name)
{
        size_t n = strlen(name);
        if (n == 0 || n > 64 || name[0] == '.' || name[0] == '-')
                return false;
        return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") ==
               n;
}

static int check_name(const char *name, vmenv_error *err)
{
        if (vmenv_snapshot_name_valid(name))
                return 0;
        vmenv_error_set(err, VMENV_EXIT_USAGE, "invalid snapshot name '%s'", name);
        return vmenv_error_hint(err, "use letters, digits, '.', '_' and '-' (at most 64)");
}

int vmenv_snapshot_save(struct vmenv_project *p, const struct vmenv_machine_config *m,
                        const char *name, vmenv_error *err)
{
        _cleanup_free_ char *domain = NULL;

        if (check_name(name, err) < 0 || need_machine(p, m, &domain, err) < 0)
                return -1;
        if (p->ops->snapshot_create(p->conn, domain, name, err) < 0)
                return vmenv_error_prefix(err, "machine '%s'", m->name);
        vmenv_info("%s: saved snapshot '%s'", m->name, name);
        return 0;
}

int vmenv_snapshot_restore(struct vmenv_project *p, const struct vmenv_machine_config *m,
                           const char *name, vmenv_error *err)
{
        _cleanup_free_ char *domain = NULL;

        if (check_name(name, err) < 0 || need_machine(p, m, &domain, err) < 0)
                return -1;
        if (p->ops->snapshot_revert(p->conn, domain, name, err) < 0)
                return vmenv_error_prefix(err, "machine '%s'", m->name);
        vmenv_info("%s: restored snapshot '%s'", m->name, name);
        return 0;
}

int vmenv_snapshot_delete(struct vmenv_project *p, const struct vmenv_machine_config *m,
                          const char *name, vmenv_error *err)
{
        _cleanup_free_ char *domain = NULL;

        if (check_name(name, err) < 0 || need_machine(p, m, &domain, err) < 0)
                return -1;
        if (p->ops->snapshot_delete(p->conn, domain, name, err) < 0)
                return vmenv_error_prefix(err, "machine '%s'", m->name);
        vmenv_info("%s: deleted snapshot '%s'", m->name, name);
        return 0;
}

int vmenv_snapshot_list(struct vmenv_project *p, const struct vmenv_machine_config *m,
                        char ***names, vmenv_error *err)
{
        _cleanup_free_ char *domain = NULL;

        if (need_machine(p, m, &domain, err) < 0)
                return -1;
        if (p->ops->snapshot_list(p->conn, domain, names, err) < 0)
                return vmenv_error_prefix(err, "machine '%s'", m->name);
        return 0;
}

int vmenv_snapshot_push(struct vmenv_project *p, const struct vmenv_machine_config *m,
                        vmenv_error *err)
{
        char name[64];
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        snprintf(name, sizeof(name), PUSH_PREFIX "%lld_%09ld", (long long)ts.tv_sec, ts.tv_nsec);
        return vmenv_snapshot_save(p, m, name, err);
}

int vmenv_snapshot_pop(struct vmenv_project *p, const struct vmenv_machine_config *m,
                       bool no_delete, vmenv_error *err)
{
        char **names = NULL;
        const char *last = NULL;
        int r = -1;

        if (vmenv_snapshot_list(p, m, &names, err) < 0)
                return -1;
        for (char **n = names; *n; n++)
                if (vmenv_startswith(*n, PUSH_PREFIX))
                        last = *n;
        if (!last) {
                vmenv_error_set(err, VMENV_EXIT_NOINPUT, "machine '%s' has no pushed snapshot",
                                m->name);
                vmenv_error_hint(err, "'vmenv snapshot push' makes one");
                goto out;
        }
        if (vmenv_snapshot_restore(p, m, last, err) < 0)
                goto out;
        if (!no_delete && vmenv_snapshot_delete(p, m, last, err) < 0)
                goto out;
        r = 0;
out:
        vmenv_strv_free(names);
        return r;
}
