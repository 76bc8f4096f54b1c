/* The lifecycle of a project's machines: what up, halt, destroy, suspend and
 * resume do, on top of the provider, the box store and the SSH module. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "machine-private.h"
#include "vmenv/lock.h"
#include "vmenv/log.h"
#include "vmenv/util.h"

struct vmenv_project *vmenv_project_open(struct vmenv_config *c,
                                         const struct vmenv_provider_ops *ops, vmenv_error *err)
{
        struct vmenv_project *p = vmenv_calloc(1, sizeof(*p));
        const char *uri = c->n_machines ? c->machines[0].libvirt.uri : NULL;

        p->config = c;
        p->ops = ops;
        if (!(p->conn = ops->open(uri, err)))
                goto fail;
        return p;
fail:
        vmenv_project_close(p);
        return NULL;
}

const struct vmenv_host_info *vmenv_project_host(struct vmenv_project *p, vmenv_error *err)
{
        if (!p->host_known) {
                if (p->ops->host_info(p->conn, &p->host, err) < 0)
                        return NULL;
                p->host_known = true;
        }
        return &p->host;
}

void vmenv_project_close(struct vmenv_project *p)
{
        if (!p)
                return;
        if (p->conn)
                p->ops->close(p->conn);
        vmenv_host_info_clear(&p->host);
        free(p);
}

int vmenv_project_select(const struct vmenv_config *c, int argc, char *const *names,
                         const struct vmenv_machine_config ***out, size_t *n, vmenv_error *err)
{
        const struct vmenv_machine_config **v;
        size_t k = 0;

        if (argc == 0) {
                v = vmenv_calloc(c->n_machines, sizeof(*v));
                for (size_t i = 0; i < c->n_machines; i++)
                        v[k++] = &c->machines[i];
                *out = v;
                *n = k;
                return 0;
        }
        v = vmenv_calloc((size_t)argc, sizeof(*v));
        for (int i = 0; i < argc; i++) {
                const struct vmenv_machine_config *m = vmenv_config_machine(c, names[i]);
                bool dup = false;
                if (!m) {
                        vmenv_error_set(err, VMENV_EXIT_USAGE, "no machine '%s' in '%s'", names[i],
                                        c->path);
                        free(v);
                        return -1;
                }
                for (size_t j = 0; j < k; j++)
                        dup |= v[j] == m;
                if (!dup)
                        v[k++] = m;
        }
        *out = v;
        *n = k;
        return 0;
}

const struct vmenv_machine_config *vmenv_project_select_one(const struct vmenv_config *c,
                                                            const char *name, vmenv_error *err)
{
        const struct vmenv_machine_config *m;

        if (name) {
                if (!(m = vmenv_config_machine(c, name)))
                        vmenv_error_set(err, VMENV_EXIT_USAGE, "no machine '%s' in '%s'", name,
                                        c->path);
                return m;
        }
        if (c->n_machines == 1)
                return &c->machines[0];
        for (size_t i = 0; i < c->n_machines; i++)
                if (c->machines[i].primary)
                        return &c->machines[i];
        vmenv_error_set(err, VMENV_EXIT_USAGE, "this project has %zu machines; name one",
                        c->n_machines);
        vmenv_error_hint(err, "or mark one with 'primary: true' in vmenv.yaml");
        return NULL;
}

/* Ports. */
static int index_machine(struct vmenv_project *p, const struct vmenv_machine_config *m,
                         const struct vmenv_machine_state *st, vmenv_error *err)
{
        struct vmenv_index_entry e = {
            .project_dir = p->config->dir,
            .machine = m->name,
            .domain = st->domain,
            .uri = st->uri,
            .box = st->box_name,
            .box_version = st->box_version,
        };
        return vmenv_index_put(&e, err);
}

int vmenv_machine_state(struct vmenv_project *p, const struct vmenv_machine_config *m,
                        enum vmenv_vm_state *out, vmenv_error *err)
{
        _cleanup_free_ char *domain = vmenv_domain_name(p->config, m->name);
        return p->ops->state(p->conn, domain, out, err);
}

static int machine_lock(const struct vmenv_project *p, const char *machine, vmenv_error *err)
{
        _cleanup_free_ char *dir = vmenv_strdupf("%s/.vmenv/locks", p->config->dir);
        _cleanup_free_ char *path = vmenv_strdupf("%s/%s.lock", dir, machine);

        if (vmenv_mkdir_p(dir, 0700, err) < 0)
                return -1;
        return vmenv_lock_file(path, true, err);
}

int vmenv_machine_up(struct vmenv_project *p, const struct vmenv_machine_config *m,
                     const struct vmenv_up_opts *o, vmenv_error *err)
{
        _cleanup_close_ int lock = -1;
        _cleanup_(vmenv_state_freep) struct vmenv_machine_state *st = NULL;
        enum vmenv_vm_state vs;
        bool start = true, stopped = false, provision;

        if ((lock = machine_lock(p, m->name, err)) < 0)
                return -1;
        if (!(st = vmenv_state_load(p->config, m->name, err)))
                return -1;
        if (p->ops->state(p->conn, st->domain, &vs, err) < 0)
                return -1;
        if (!st->uri)
                st->uri = vmenv_strdup(m->libvirt.uri ? m->libvirt.uri : "");

        switch (vs) {
        case VMENV_VM_NOT_CREATED:
                vmenv_info("%s: creating from box '%s'", m->name, m->box);
                if (vmenv_machine_create(p, m, st, o, err) < 0)
                        return -1;
                break;
        case VMENV_VM_RUNNING:
                if (!st->exists || !st->ssh_port)
                        goto lost;
                vmenv_info("%s: already running", m->name);
                start = false;
                break;
        case VMENV_VM_PAUSED:
                vmenv_info("%s: resuming", m->name);
                if (p->ops->resume(p->conn, st->domain, err) < 0)
                        return -1;
                start = false;
                break;
        default:
                if (!st->exists || !st->disk_volume)
                        goto lost;
                /* Redefine so changed settings (memory, cpus, ports) apply. */
                if (!st->disk_path)
                        goto lost;
                {
                        _cleanup_free_ char *disk = vmenv_strdup(st->disk_path);
                        if (vmenv_machine_define(p, m, st, disk, "qcow2", err) < 0)
                                return -1;
                }
                break;
        }
        /* First-boot setup runs in every branch until the guest confirmed
         * it: an up interrupted while waiting is finished by the next. */
        if (vmenv_machine_boot(p, m, st, start, &stopped, o, err) < 0)
                return -1;
        if (index_machine(p, m, st, err) < 0)
                return -1;
        /* Provisioners that are due run whenever up boots the machine, and
         * whenever an earlier up did not get through them; on a running or
         * resumed one otherwise only when asked. */
        provision = (start && vs != VMENV_VM_PAUSED) || st->provision_pending;
        if (!o->no_provision && (provision || o->provision || o->provision_with) &&
            m->n_provisioners) {
                vmenv_state_free(TAKE_PTR(st));
                if (vmenv_machine_provision(p, m, o->provision, o->provision_with, err) < 0)
                        return -1;
                if (!(st = vmenv_state_load(p->config, m->name, err)))
                        return -1;
        }
        if (st->provision_pending) {
                st->provision_pending = false;
                if (vmenv_state_save(st, err) < 0)
                        return -1;
        }
        vmenv_info("%s: running (ssh: vmenv ssh %s)", m->name, m->name);
        return 0;
lost:
        vmenv_error_set(err, VMENV_EXIT_FAILURE,
                        "machine '%s' exists in libvirt as '%s' but its state in '%s' is missing",
                        m->name, st->domain, st->dir);
        return vmenv_error_hint(err, "run 'vmenv destroy %s' and 'vmenv up %s' again", m->name,
                                m->name);
}

static int wait_state(struct vmenv_project *p, const char *domain, enum vmenv_vm_state want,
                      int timeout_s, vmenv_error *err)
{
        uint64_t deadline = vmenv_now_ns() + (uint64_t)timeout_s * 1000000000ull;
        enum vmenv_vm_state vs;

        for (;;) {
                if (p->ops->state(p->conn, domain, &vs, err) < 0)
                        return -1;
                if (vs == want || (want == VMENV_VM_SHUTOFF && vs == VMENV_VM_NOT_CREATED))
                        return 1;
                if (vmenv_now_ns() >= deadline)
                        return 0;
                usleep(200000);
        }
}

int vmenv_machine_halt(struct vmenv_project *p, const struct vmenv_machine_config *m, bool force,
                       int timeout_s, vmenv_error *err)
{
        _cleanup_free_ char *domain = vmenv_domain_name(p->config, m->name);
        enum vmenv_vm_state vs;
        int r;

        if (p->ops->state(p->conn, domain, &vs, err) < 0)
                return -1;
        if (vs == VMENV_VM_NOT_CREATED || vs == VMENV_VM_SHUTOFF) {
                vmenv_info("%s: %s", m->name, vmenv_vm_state_name(vs));
                return 0;
        }
        if (!force && vs == VMENV_VM_RUNNING) {
                vmenv_info("%s: shutting down", m->name);
                if (p->ops->shutdown(p->conn, domain, err) < 0)
                        return -1;
                if ((r = wait_state(p, domain, VMENV_VM_SHUTOFF, timeout_s, err)) < 0)
                        return -1;
                if (r == 1) {
                        vmenv_info("%s: halted", m->name);
                        return 0;
                }
                vmenv_warn("%s: no clean shutdown within %d s; forcing it off", m->name, timeout_s);
        }
        if (p->ops->poweroff(p->conn, domain, err) < 0)
                return -1;
        vmenv_info("%s: halted (forced)", m->name);
        return 0;
}

int vmenv_machine_destroy(struct vmenv_project *p, const struct vmenv_machine_config *m,
                          vmenv_error *err)
{
        _cleanup_close_ int lock = -1;
        _cleanup_(vmenv_state_freep) struct vmenv_machine_state *st = NULL;
        _cleanup_free_ char *overlay = NULL;
        enum vmenv_vm_state vs;

        if ((lock = machine_lock(p, m->name, err)) < 0)
                return -1;
        if (!(st = vmenv_state_load(p->config, m->name, err)))
                return -1;
        if (p->ops->state(p->conn, st->domain, &vs, err) < 0)
                return -1;
        if (vs == VMENV_VM_NOT_CREATED && !st->exists) {
                vmenv_info("%s: not created", m->name);
                return vmenv_index_remove(st->domain, err);
        }
        if (vs != VMENV_VM_NOT_CREATED && vs != VMENV_VM_SHUTOFF &&
            p->ops->poweroff(p->conn, st->domain, err) < 0)
                return -1;
        if (p->ops->undefine(p->conn, st->domain, err) < 0)
                return vmenv_error_prefix(err, "cannot destroy '%s'", m->name);
        overlay =
            st->disk_volume ? vmenv_strdup(st->disk_volume) : vmenv_strdupf("%s.qcow2", st->domain);
        if (p->ops->volume_delete(p->conn, m->libvirt.storage_pool, overlay, err) < 0)
                return vmenv_error_prefix(err, "cannot delete the disk of '%s'", m->name);
        if (vmenv_state_remove(st, err) < 0 || vmenv_index_remove(st->domain, err) < 0)
                return -1;
        vmenv_info("%s: destroyed", m->name);
        return 0;
}

static int simple_op(struct vmenv_project *p, const struct vmenv_machine_config *m,
                     enum vmenv_vm_state need, const char *verb,
                     int (*op)(struct vmenv_provider *, const char *, vmenv_error *),
                     vmenv_error *err)
{
        _cleanup_free_ char *domain = vmenv_domain_name(p->config, m->name);
        enum vmenv_vm_state vs;

        if (p->ops->state(p->conn, domain, &vs, err) < 0)
                return -1;
        if (vs != need) {
                vmenv_error_set(err, VMENV_EXIT_FAILURE, "cannot %s '%s': it is %s", verb, m->name,
                                vmenv_vm_state_name(vs));
                if (vs == VMENV_VM_NOT_CREATED || vs == VMENV_VM_SHUTOFF)
                        vmenv_error_hint(err, "run 'vmenv up %s' first", m->name);
                return -1;
        }
        if (op(p->conn, domain, err) < 0)
                return vmenv_error_prefix(err, "cannot %s '%s'", verb, m->name);
        return 0;
}

int vmenv_machine_suspend(struct vmenv_project *p, const struct vmenv_machine_config *m,
                          vmenv_error *err)
{
        if (simple_op(p, m, VMENV_VM_RUNNING, "suspend", p->ops->suspend, err) < 0)
                return -1;
        vmenv_info("%s: suspended", m->name);
        return 0;
}

int vmenv_machine_resume(struct vmenv_project *p, const struct vmenv_machine_config *m,
                         vmenv_error *err)
{
        if (simple_op(p, m, VMENV_VM_PAUSED, "resume", p->ops->resume, err) < 0)
                return -1;
        vmenv_info("%s: resumed", m->name);
        return 0;
}
