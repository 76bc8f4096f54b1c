/* The lifecycle of a project's machines: what up, halt, destroy, suspend and
 * resume do, on top of the provider, the box store and the SSH module. */
#include <errno.h>
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
        return vmenv_project_open_uri(c, ops, c->n_machines ? c->machines[0].libvirt.uri : NULL,
                                      err);
}

struct vmenv_project *vmenv_project_open_uri(struct vmenv_config *c,
                                             const struct vmenv_provider_ops *ops, const char *uri,
                                             vmenv_error *err)
{
        struct vmenv_project *p = vmenv_calloc(1, sizeof(*p));

        const char *env = getenv("VMENV_LIBVIRT_URI");

        p->config = c;
        p->ops = ops;
        pthread_mutex_init(&p->host_lock, NULL);
        if (vmenv_config_identify(c, err) < 0)
                goto fail;
        if (!(p->conn = ops->open(uri, err)))
                goto fail;
        /* From here on the provider refuses to change a domain that vmenv did
         * not create for this project folder (docs/security.md), and on a
         * shared remote hypervisor for this computer (docs/remote.md). */
        if (ops->set_owner)
                ops->set_owner(p->conn, c->dir);
        if (ops->set_client && c->client_id &&
            vmenv_uri_remote(uri && *uri   ? uri
                             : env && *env ? env
                                           : NULL))
                ops->set_client(p->conn, c->client_id);
        if (vmenv_ssh_jump_from_uri(ops->uri ? ops->uri(p->conn) : NULL, &p->jump, err) < 0)
                goto fail;
        return p;
fail:
        vmenv_project_close(p);
        return NULL;
}

const struct vmenv_host_info *vmenv_project_host(struct vmenv_project *p, vmenv_error *err)
{
        const struct vmenv_host_info *h = &p->host;

        pthread_mutex_lock(&p->host_lock);
        if (!p->host_known) {
                if (p->ops->host_info(p->conn, &p->host, err) < 0)
                        h = NULL;
                else
                        p->host_known = true;
        }
        pthread_mutex_unlock(&p->host_lock);
        return h;
}

int vmenv_project_accel(struct vmenv_project *p, struct vmenv_accel *out, vmenv_error *err)
{
        if (!vmenv_project_host(p, err))
                return -1;
        pthread_mutex_lock(&p->host_lock);
        out->kvm = p->host.kvm;
        out->insisted = p->host.kvm_insisted;
        snprintf(out->reason, sizeof(out->reason), "%s",
                 p->host.accel_reason ? p->host.accel_reason : (p->host.kvm ? "kvm" : "tcg"));
        pthread_mutex_unlock(&p->host_lock);
        return 0;
}

int vmenv_project_kvm_broken(struct vmenv_project *p, const char *reason, vmenv_error *err)
{
        struct vmenv_host_info h = {0};
        int r = -1;

        if (!p->ops->kvm_mark_broken)
                return vmenv_error_set(err, VMENV_EXIT_SOFTWARE,
                                       "provider '%s' cannot record a KVM verdict", p->ops->name);
        pthread_mutex_lock(&p->host_lock);
        if (p->ops->kvm_mark_broken(p->conn, reason, err) == 0 &&
            p->ops->host_info(p->conn, &h, err) == 0) {
                p->host.kvm = h.kvm;
                p->host.kvm_insisted = h.kvm_insisted;
                if (p->host.accel_reason)
                        vmenv_strv_push(&p->old_reasons, p->host.accel_reason);
                p->host.accel_reason = TAKE_PTR(h.accel_reason);
                p->host_known = true;
                r = 0;
        }
        pthread_mutex_unlock(&p->host_lock);
        vmenv_host_info_clear(&h);
        return r;
}

void vmenv_project_close(struct vmenv_project *p)
{
        if (!p)
                return;
        if (p->conn)
                p->ops->close(p->conn);
        vmenv_host_info_clear(&p->host);
        vmenv_ssh_jump_free(p->jump);
        vmenv_strv_free(p->old_reasons);
        pthread_mutex_destroy(&p->host_lock);
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

int vmenv_machine_disk_path(struct vmenv_project *p, const struct vmenv_machine_config *m,
                            struct vmenv_machine_state *st, char **out, vmenv_error *err)
{
        char *path = NULL;

        if (p->ops->volume_path(p->conn, m->libvirt.storage_pool, st->disk_volume, &path, err) < 0)
                return vmenv_error_prefix(err, "cannot find the disk of '%s'", m->name);
        free(st->disk_path);
        st->disk_path = vmenv_strdup(path);
        *out = path;
        return 0;
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

int vmenv_machine_lock(const struct vmenv_project *p, const char *machine, vmenv_error *err)
{
        _cleanup_free_ char *dir = vmenv_strdupf("%s/.vmenv/locks", p->config->dir);
        _cleanup_free_ char *path = vmenv_strdupf("%s/%s.lock", dir, machine);

        if (vmenv_mkdir_p(dir, 0700, err) < 0)
                return -1;
        return vmenv_lock_file(path, true, err);
}

/* The domain (stopped first) and its overlay go; the provider checks that
 * both are this machine's own. */
static int remove_domain(struct vmenv_project *p, const struct vmenv_machine_config *m,
                         const struct vmenv_machine_state *st, enum vmenv_vm_state vs,
                         vmenv_error *err)
{
        _cleanup_free_ char *overlay = vmenv_strdupf("%s.qcow2", st->domain);

        if (vs != VMENV_VM_NOT_CREATED && vs != VMENV_VM_SHUTOFF &&
            p->ops->poweroff(p->conn, st->domain, err) < 0)
                return -1;
        if (p->ops->undefine(p->conn, st->domain, err) < 0)
                return vmenv_error_prefix(err, "cannot destroy '%s'", m->name);
        if (p->ops->overlay_delete(p->conn, m->libvirt.storage_pool, overlay, err) < 0)
                return vmenv_error_prefix(err, "cannot delete the disk of '%s'", m->name);
        return 0;
}

/* A machine started under KVM stopped by itself in its first boot: KVM
 * exists here but cannot run this guest (a nested hypervisor that stops
 * ordinary guests with an emulation failure, an MSR it refuses). The
 * attempt goes whole, the verdict is recorded so later ups go straight to
 * TCG, and the machine is made and booted again under TCG. */
static int fall_back_to_tcg(struct vmenv_project *p, const struct vmenv_machine_config *m,
                            struct vmenv_machine_state *st, const char *how,
                            const struct vmenv_up_opts *o, vmenv_error *err)
{
        _cleanup_free_ char *reason = vmenv_strdupf("KVM present but the guest stopped: %s", how);
        _cleanup_free_ char *stopped = NULL;
        enum vmenv_vm_state vs;

        vmenv_debug("%s: %s", m->name, err->msg ? err->msg : how);
        vmenv_error_clear(err);
        if (vmenv_project_kvm_broken(p, reason, err) < 0)
                return vmenv_error_prefix(err, "machine '%s': cannot fall back to TCG", m->name);
        vmenv_warn("%s: KVM is present but cannot run this guest (%s); using TCG emulation, "
                   "which is much slower",
                   m->name, how);
        if (p->ops->state(p->conn, st->domain, &vs, err) < 0 ||
            remove_domain(p, m, st, vs, err) < 0 || vmenv_machine_create(p, m, st, o, err) < 0)
                return -1;
        return vmenv_machine_boot(p, m, st, true, &stopped, o, err);
}

int vmenv_machine_up(struct vmenv_project *p, const struct vmenv_machine_config *m,
                     const struct vmenv_up_opts *o, vmenv_error *err)
{
        _cleanup_close_ int lock = -1;
        _cleanup_(vmenv_state_freep) struct vmenv_machine_state *st = NULL;
        _cleanup_free_ char *stopped = NULL;
        enum vmenv_vm_state vs;
        struct vmenv_accel accel;
        bool start = true, first, provision;

        if (m->n_privnets &&
            vmenv_config_check_host_addrs(
                p->config, p->config->shown ? p->config->shown : p->config->path, err) < 0)
                return -1;
        if ((lock = vmenv_machine_lock(p, m->name, err)) < 0)
                return -1;
        if (vmenv_project_accel(p, &accel, err) < 0)
                return -1;
        if (!(st = vmenv_state_load(p->config, m->name, err)))
                return -1;
        if (p->ops->state(p->conn, st->domain, &vs, err) < 0)
                return -1;
        /* a package interrupted while the machine was cleaned for the box:
         * it comes back as it was (in the state it was saved in) */
        if (vs != VMENV_VM_NOT_CREATED) {
                int healed = vmenv_package_heal(p, m, st, err);
                if (healed < 0 || (healed && p->ops->state(p->conn, st->domain, &vs, err) < 0))
                        return -1;
        }
        /* the URI it runs on, also when the user's environment named it,
         * so global-status asks the right host */
        if (!st->uri || !*st->uri)
                st->uri = vmenv_strdup(vmenv_machine_uri(m) ? vmenv_machine_uri(m) : "");

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
                if (p->ops->resume(p->conn, st->domain, err) < 0) {
                        /* an up killed while libvirt started the domain
                         * leaves it paused until QEMU's start completes */
                        enum vmenv_vm_state now;
                        vmenv_error e = VMENV_ERROR_INIT;
                        if (p->ops->state(p->conn, st->domain, &now, &e) < 0 ||
                            now != VMENV_VM_RUNNING) {
                                vmenv_error_clear(&e);
                                return -1;
                        }
                        vmenv_error_clear(err);
                }
                start = false;
                break;
        default:
                if (!st->exists || !st->disk_volume)
                        goto lost;
                /* Redefine so changed settings (memory, cpus, ports) apply, on
                 * the disk the pool has under the recomputed overlay name. */
                {
                        _cleanup_free_ char *disk = NULL;
                        if (vmenv_machine_disk_path(p, m, st, &disk, err) < 0 ||
                            vmenv_machine_define(p, m, st, disk, "qcow2", err) < 0)
                                return -1;
                }
                break;
        }
        if (start && !accel.kvm)
                vmenv_warn("%s: running under TCG emulation (%s), which is much slower", m->name,
                           vmenv_startswith(accel.reason, "tcg: ") ? accel.reason + 5
                                                                   : accel.reason);
        /* First-boot setup runs in every branch until the guest confirmed
         * it: an up interrupted while waiting is finished by the next. */
        first = !st->first_boot_done;
        if (vmenv_machine_boot(p, m, st, start, &stopped, o, err) < 0) {
                if (!stopped || !start || !first || !accel.kvm || accel.insisted)
                        return -1;
                if (fall_back_to_tcg(p, m, st, stopped, o, err) < 0)
                        return -1;
        }
        if (index_machine(p, m, st, err) < 0)
                return -1;
        /* Provisioners that are due run whenever up boots the machine, and
         * whenever an earlier up did not get through them; on a running or
         * resumed one otherwise only when asked. */
        provision = (start && vs != VMENV_VM_PAUSED) || st->provision_pending;
        if (!o->no_provision && (provision || o->provision || o->provision_with) &&
            m->n_provisioners) {
                vmenv_state_free(TAKE_PTR(st));
                if (vmenv_machine_provision_locked(p, m, o->provision, o->provision_with, err) < 0)
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
        _cleanup_close_ int lock = vmenv_machine_lock(p, m->name, err);

        if (lock < 0)
                return -1;
        return vmenv_machine_halt_locked(p, m, force, timeout_s, err);
}

int vmenv_machine_halt_locked(struct vmenv_project *p, const struct vmenv_machine_config *m,
                              bool force, int timeout_s, vmenv_error *err)
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

/* The machine's private networks that no domain uses any more: the
 * destroy of a network's last machine removes it. */
static int remove_private_networks(struct vmenv_project *p, const struct vmenv_machine_config *m,
                                   vmenv_error *err)
{
        for (size_t i = 0; i < m->n_privnets && p->ops->privnet_remove_unused; i++) {
                _cleanup_free_ char *name = vmenv_network_name(p->config, m->privnets[i].name);
                bool removed = false;
                if (p->ops->privnet_remove_unused(p->conn, name, m->privnets[i].name, &removed,
                                                  err) < 0) {
                        /* the machine is gone; a network that is not ours
                         * under our name was never used by it */
                        if (err->code != VMENV_EXIT_NOPERM)
                                return vmenv_error_prefix(err, "machine '%s'", m->name);
                        vmenv_warn("%s: %s: left alone", m->name, err->msg);
                        vmenv_error_clear(err);
                }
                if (removed)
                        vmenv_info("removed private network '%s'", m->privnets[i].name);
        }
        return 0;
}

/* The serial console's log goes with its domain (a new machine of the
 * same name starts a new log). Not being able to remove it is worth a
 * warning, not a failed destroy. */
static void remove_console_log(struct vmenv_project *p, const struct vmenv_machine_config *m,
                               const struct vmenv_machine_state *st)
{
        vmenv_error e = VMENV_ERROR_INIT;

        if (p->ops->console_log_remove &&
            p->ops->console_log_remove(p->conn, m->libvirt.storage_pool, st->domain, &e) < 0)
                vmenv_warn("%s: cannot remove the console log: %s", m->name, e.msg);
        vmenv_error_clear(&e);
}

int vmenv_machine_destroy(struct vmenv_project *p, const struct vmenv_machine_config *m,
                          vmenv_error *err)
{
        _cleanup_close_ int lock = -1;
        _cleanup_(vmenv_state_freep) struct vmenv_machine_state *st = NULL;
        enum vmenv_vm_state vs;

        if ((lock = vmenv_machine_lock(p, m->name, err)) < 0)
                return -1;
        if (!(st = vmenv_state_load(p->config, m->name, err)))
                return -1;
        if (p->ops->state(p->conn, st->domain, &vs, err) < 0)
                return -1;
        if (vs == VMENV_VM_NOT_CREATED && !st->exists) {
                vmenv_info("%s: not created", m->name);
                return vmenv_index_remove(st->domain, err);
        }
        if (remove_domain(p, m, st, vs, err) < 0)
                return -1;
        if (vmenv_machine_cloud(m, st) && vmenv_machine_cloud_remove(p, m, st, err) < 0)
                return vmenv_error_prefix(err, "cannot delete the seed of '%s'", m->name);
        remove_console_log(p, m, st);
        if (vmenv_state_remove(st, err) < 0 || vmenv_index_remove(st->domain, err) < 0)
                return -1;
        vmenv_info("%s: destroyed", m->name);
        if (remove_private_networks(p, m, err) < 0)
                return -1;
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
