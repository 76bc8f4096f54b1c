/* vmenv package of a cloud image's machine: the box gets cloud-init
 * cleaned, the machine it came from does not. The machine is saved in a
 * snapshot of its own under a reserved name, cleaned and powered off, its
 * disk exported, then put back from that snapshot. An interruption at any
 * step leaves the snapshot, which the next package or up reverts to (and
 * destroy deletes with the disk). */
#include <string.h>
#include <unistd.h>

#include "machine-private.h"
#include "vmenv/log.h"
#include "vmenv/snapshot.h"

/* Users' snapshot names cannot hold a ':' (vmenv_snapshot_name_valid):
 * this one is package's alone. */
#define PACKAGE_SNAPSHOT "vmenv:package"

/* cloud-init's own reset, with what it leaves that must not travel in a
 * box: the host keys (a new instance makes its own; cloud-init's ssh module
 * does), this machine's login key (a new machine's seed installs its own)
 * and its machine-id, emptied as in the distributions' images: systemd
 * makes a new one at the next boot. Not 'cloud-init clean --machine-id':
 * the 22.4 of Debian 12 deletes the file, and a systemd that finds none
 * cannot set up a transient id early, so networkd got no DHCP lease. */
static const char CLEAN_CMD[] =
    "exec 2>&1; set -e; "
    "sudo -n cloud-init clean --logs; "
    "sudo -n sh -c ': > /etc/machine-id'; "
    "sudo -n rm -f /etc/ssh/ssh_host_*_key /etc/ssh/ssh_host_*_key.pub; "
    "rm -f ~/.ssh/authorized_keys; "
    "sync; "
    "test ! -e /var/lib/cloud/instances";

static int has_snapshot(struct vmenv_project *p, const char *domain, bool *out, vmenv_error *err)
{
        char **names = NULL;

        *out = false;
        if (!p->ops->snapshot_list)
                return 0;
        if (p->ops->snapshot_list(p->conn, domain, &names, err) < 0)
                return -1;
        for (char **n = names; *n; n++)
                if (!strcmp(*n, PACKAGE_SNAPSHOT))
                        *out = true;
        vmenv_strv_free(names);
        return 0;
}

/* Back to the snapshot, in the state it was saved in: a machine running
 * now (cleaned, or booting after the save) is stopped first, so the revert
 * neither meets a guest that is writing nor boots one that was saved off. */
static int restore(struct vmenv_project *p, const struct vmenv_machine_config *m,
                   const struct vmenv_machine_state *st, vmenv_error *err)
{
        enum vmenv_vm_state vs;

        if (p->ops->state(p->conn, st->domain, &vs, err) < 0)
                return -1;
        if (vs != VMENV_VM_SHUTOFF && vs != VMENV_VM_NOT_CREATED &&
            p->ops->poweroff(p->conn, st->domain, err) < 0)
                return vmenv_error_prefix(err, "machine '%s'", m->name);
        if (p->ops->snapshot_revert(p->conn, st->domain, PACKAGE_SNAPSHOT, err) < 0 ||
            p->ops->snapshot_delete(p->conn, st->domain, PACKAGE_SNAPSHOT, err) < 0)
                return vmenv_error_prefix(err,
                                          "machine '%s': cannot put it back as it was "
                                          "before 'vmenv package'",
                                          m->name);
        return 0;
}

int vmenv_package_heal(struct vmenv_project *p, const struct vmenv_machine_config *m,
                       const struct vmenv_machine_state *st, vmenv_error *err)
{
        bool found;

        if (has_snapshot(p, st->domain, &found, err) < 0)
                return vmenv_error_prefix(err, "machine '%s'", m->name);
        if (!found)
                return 0;
        vmenv_warn("%s: an interrupted 'vmenv package' left it cleaned for a box; putting it "
                   "back as it was before",
                   m->name);
        if (restore(p, m, st, err) < 0)
                return -1;
        return 1;
}

int vmenv_package_cloud_clean(struct vmenv_project *p, const struct vmenv_machine_config *m,
                              struct vmenv_machine_state *st, bool *saved, vmenv_error *err)
{
        _cleanup_(vmenv_ssh_freep) struct vmenv_ssh *s = NULL;
        _cleanup_free_ char *out = NULL, *stopped = NULL;
        struct vmenv_up_opts uo = {.no_provision = true};
        enum vmenv_vm_state vs;
        int status = -1;

        *saved = false;
        if (!p->ops->snapshot_create)
                return vmenv_error_set(err, VMENV_EXIT_UNAVAILABLE,
                                       "cannot package '%s': the %s provider has no snapshots, "
                                       "which packaging a cloud image's machine needs",
                                       m->name, p->ops->name);
        if (p->ops->state(p->conn, st->domain, &vs, err) < 0)
                return -1;
        vmenv_info("%s: saving it in a snapshot while cloud-init is cleaned for the box", m->name);
        if (p->ops->snapshot_create(p->conn, st->domain, PACKAGE_SNAPSHOT, err) < 0)
                return vmenv_error_prefix(err, "machine '%s'", m->name);
        *saved = true;
        if (vs == VMENV_VM_PAUSED && p->ops->resume(p->conn, st->domain, err) < 0)
                return vmenv_error_prefix(err, "cannot resume '%s'", m->name);
        if (vs == VMENV_VM_RUNNING || vs == VMENV_VM_PAUSED) {
                if (!(s = vmenv_machine_ssh(p, m, err)))
                        return -1;
        } else {
                if (vmenv_machine_boot(p, m, st, true, &stopped, &uo, err) < 0 ||
                    !(s = vmenv_machine_ssh(p, m, err)))
                        return -1;
        }
        vmenv_info("%s: cloud-init clean", m->name);
        if (vmenv_ssh_capture(s, CLEAN_CMD, 65536, &out, &status, err) < 0)
                return vmenv_error_prefix(err, "machine '%s': cannot clean cloud-init", m->name);
        if (status != 0) {
                _cleanup_free_ char *tail =
                    out ? vmenv_text_tail(out, strlen(out), 10, "    ") : NULL;
                vmenv_error_set(err, VMENV_EXIT_FAILURE,
                                "machine '%s': 'cloud-init clean' failed (exit status %d):\n%s",
                                m->name, status, tail ? tail : "    (no output)");
                return vmenv_error_hint(err,
                                        "the machine is put back as it was; check "
                                        "'vmenv ssh %s -c \"cloud-init --version\"'",
                                        m->name);
        }
        vmenv_ssh_free(TAKE_PTR(s));
        return vmenv_machine_halt_locked(p, m, false, 120, err);
}

int vmenv_package_cloud_restore(struct vmenv_project *p, const struct vmenv_machine_config *m,
                                const struct vmenv_machine_state *st, vmenv_error *err)
{
        vmenv_info("%s: putting it back as it was before packaging", m->name);
        return restore(p, m, st, err);
}
