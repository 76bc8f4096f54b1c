/* The rsync folders of a machine: what 'up', 'reload', 'vmenv rsync' and
 * 'vmenv rsync-auto' run once a machine answers over SSH. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "vmenv/cleanup.h"
#include "vmenv/log.h"
#include "vmenv/machine.h"
#include "vmenv/ssh.h"
#include "vmenv/sync.h"
#include "vmenv/util.h"

/* Like Vagrant's ".vagrant/", vmenv's own state (private keys included)
 * never leaves the host. */
static const char *const default_excludes[] = {".vmenv/", NULL};

char **vmenv_sync_folder_excludes(char *const *exclude)
{
        char **v = NULL;
        for (const char *const *d = default_excludes; *d; d++)
                vmenv_strv_push(&v, vmenv_strdup(*d));
        for (char *const *e = exclude; e && *e; e++)
                vmenv_strv_push(&v, vmenv_strdup(*e));
        return v;
}

int vmenv_machine_sync_ssh(struct vmenv_project *p, const struct vmenv_machine_config *m,
                           struct vmenv_ssh *s, vmenv_error *err)
{
        for (size_t i = 0; i < m->n_folders; i++) {
                const struct vmenv_synced_folder *f = &m->folders[i];
                _cleanup_free_ char *local = NULL;
                struct vmenv_sync_stats st = {0};
                struct stat sb;
                char **ex;
                int r;

                if (!vmenv_sync_folder_is_rsync(f->type, f->disabled))
                        continue;
                local = vmenv_path_join(p->config->dir, f->host);
                if (stat(local, &sb) < 0) {
                        int e = errno;
                        vmenv_error_errno(
                            err, e == ENOENT ? VMENV_EXIT_NOINPUT : vmenv_exit_for_errno(e), e,
                            "machine '%s': synced folder '%s'", m->name, f->host);
                        return vmenv_error_hint(err, "create it or fix 'synced_folders' in %s",
                                                p->config->path);
                }
                if (!S_ISDIR(sb.st_mode))
                        return vmenv_error_set(err, VMENV_EXIT_NOINPUT,
                                               "machine '%s': synced folder '%s' is not a folder",
                                               m->name, f->host);
                ex = vmenv_sync_folder_excludes(f->exclude);
                r = vmenv_sync_folder(s, local, f->guest, ex, true, NULL, &st, err);
                vmenv_strv_free(ex);
                if (r < 0)
                        return vmenv_error_prefix(err, "machine '%s'", m->name);
                vmenv_info("%s: %s <- %s (rsync: %zu sent, %zu deleted)", m->name, f->guest,
                           f->host, st.sent, st.deleted);
        }
        return 0;
}

int vmenv_machine_sync(struct vmenv_project *p, const struct vmenv_machine_config *m,
                       vmenv_error *err)
{
        _cleanup_close_ int lock = -1;
        struct vmenv_ssh *s;
        bool any = false;
        int r;

        /* The state read below must not change under us (up, destroy). */
        if ((lock = vmenv_machine_lock(p, m->name, err)) < 0)
                return -1;
        for (size_t i = 0; i < m->n_folders; i++)
                any |= vmenv_sync_folder_is_rsync(m->folders[i].type, m->folders[i].disabled);
        if (!any) {
                vmenv_info("%s: no rsync folders", m->name);
                return 0;
        }
        if (!(s = vmenv_machine_ssh(p, m, err)))
                return -1;
        r = vmenv_machine_sync_ssh(p, m, s, err);
        vmenv_ssh_free(s);
        return r;
}
