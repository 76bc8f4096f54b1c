/* vmenv rsync-auto: syncs rsync-type folders once, then watches them on the
 * host and syncs again after each burst of changes, until Ctrl-C. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "vmenv/cleanup.h"
#include "vmenv/log.h"
#include "vmenv/machine.h"
#include "vmenv/ssh.h"
#include "vmenv/sync.h"
#include "vmenv/util.h"

/* Quiet time that ends a burst of changes, as Vagrant's listen latency. */
#define DEBOUNCE_MS 200

struct auto_machine {
        const struct vmenv_machine_config *m;
        struct vmenv_project *p; /* its own hypervisor's, borrowed from the hosts */
        struct vmenv_ssh *s;
};

/* Syncs one machine, reconnecting once if the session went away (the
 * machine was reloaded while we watched). */
static int sync_machine(struct auto_machine *am, vmenv_error *err)
{
        struct vmenv_project *p = am->p;
        vmenv_error first = VMENV_ERROR_INIT;

        if (am->s && vmenv_machine_sync_ssh(p, am->m, am->s, &first) == 0)
                return 0;
        vmenv_ssh_free(am->s);
        am->s = NULL;
        if (!(am->s = vmenv_machine_ssh(p, am->m, err)) ||
            vmenv_machine_sync_ssh(p, am->m, am->s, err) < 0) {
                vmenv_error_clear(&first);
                return -1;
        }
        vmenv_error_clear(&first);
        return 0;
}

static int cmd_rsync_auto_run(struct vmenv_ctx *ctx, const struct vmenv_args *args,
                              vmenv_error *err)
{
        _cleanup_free_ const struct vmenv_machine_config **ms = NULL;
        _cleanup_free_ struct auto_machine *am = NULL;
        _cleanup_free_ bool *dirty = NULL;
        struct vmenv_sync_watch *w = NULL;
        /* machines on several hypervisors: each is reached through its own */
        struct vmenv_cli_hosts hosts = {.ctx = ctx};
        const char *max = vmenv_args_get(args, "max-events");
        long max_events = -1;
        size_t n = 0, n_folders = 0;
        int r = -1;

        if (max) {
                char *end;
                max_events = strtol(max, &end, 10);
                if (*end || max_events < 0)
                        return vmenv_error_set(err, VMENV_EXIT_USAGE,
                                               "--max-events wants a number, not '%s'", max);
        }
        if (vmenv_project_select(ctx->config, args->argc, args->argv, &ms, &n, err) < 0)
                return -1;
        am = vmenv_calloc(n, sizeof(*am));
        dirty = vmenv_calloc(n, sizeof(*dirty));
        for (size_t i = 0; i < n; i++)
                if (!(am[i].p = vmenv_cli_hosts_get(&hosts, ms[i], err))) {
                        vmenv_error_prefix(err, "machine '%s'", ms[i]->name);
                        goto out;
                }
        /* Watch first, then sync: a change made during the first sync is
         * not lost. */
        if (!(w = vmenv_sync_watch_new(err)))
                goto out;
        for (size_t i = 0; i < n; i++) {
                am[i].m = ms[i];
                for (size_t k = 0; k < ms[i]->n_folders; k++) {
                        const struct vmenv_synced_folder *f = &ms[i]->folders[k];
                        _cleanup_free_ char *dir = NULL;
                        char **ex;
                        int rr;
                        if (!vmenv_sync_folder_is_rsync(f->type, f->disabled))
                                continue;
                        dir = vmenv_path_join(ctx->config->dir, f->host);
                        ex = vmenv_sync_folder_excludes(f->exclude);
                        rr = vmenv_sync_watch_add(w, dir, ex, i, err);
                        vmenv_strv_free(ex);
                        if (rr < 0) {
                                vmenv_error_prefix(err, "machine '%s'", ms[i]->name);
                                goto out;
                        }
                        n_folders++;
                }
        }
        if (n_folders == 0) {
                vmenv_error_set(err, VMENV_EXIT_CONFIG, "no rsync folders to watch");
                vmenv_error_hint(err, "add 'synced_folders' of type rsync to %s",
                                 ctx->config->path);
                goto out;
        }
        for (size_t i = 0; i < n; i++)
                if (sync_machine(&am[i], err) < 0)
                        goto out;
        vmenv_info("watching %zu folder%s for changes; press Ctrl-C to stop", n_folders,
                   n_folders == 1 ? "" : "s");
        for (long done = 0; max_events < 0 || done < max_events; done++) {
                int rr = vmenv_sync_watch_wait(w, DEBOUNCE_MS, dirty, n, err);
                if (rr < 0)
                        goto out;
                if (rr == 0)
                        break;
                for (size_t i = 0; i < n; i++) {
                        vmenv_error e = VMENV_ERROR_INIT;
                        if (!dirty[i])
                                continue;
                        /* Keep watching: the next change may well fix it. */
                        if (sync_machine(&am[i], &e) < 0) {
                                vmenv_warn("%s%s%s", e.msg, e.hint ? "; " : "",
                                           e.hint ? e.hint : "");
                                vmenv_error_clear(&e);
                        }
                }
        }
        r = 0;
out:
        vmenv_sync_watch_free(w);
        for (size_t i = 0; i < n; i++)
                vmenv_ssh_free(am[i].s);
        vmenv_cli_hosts_close(&hosts);
        return r;
}

static const struct vmenv_opt opts[] = {
    {"max-events", 0, "N", "stop after N syncs triggered by changes (for tests)"},
    {0},
};

const struct vmenv_cmd vmenv_cmd_rsync_auto = {
    .name = "rsync-auto",
    .usage = "[--max-events N] [MACHINE...]",
    .summary = "watch rsync-type synced folders and copy changes as they happen",
    .help = "Syncs once, then watches the host folders (inotify, recursively) and syncs\n"
            "after each burst of changes (200 ms of quiet). Ctrl-C or SIGTERM ends it.",
    .opts = opts,
    .max_args = -1,
    .flags = VMENV_CMD_PROJECT | VMENV_CMD_PROVIDER,
    .run = cmd_rsync_auto_run,
};
