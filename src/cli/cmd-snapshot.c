/* vmenv snapshot save|restore|list|delete [MACHINE] NAME, and push/pop as a
 * stack, as in Vagrant; a restored running machine comes back running. */
#include <stdio.h>
#include <string.h>

#include "../core/json-cleanup.h"
#include "cli.h"
#include "vmenv/cleanup.h"
#include "vmenv/machine.h"
#include "vmenv/snapshot.h"
#include "vmenv/util.h"

static const char *const subcommands[] = {"save", "restore", "list", "delete", "push", "pop", NULL};

/* list, push, pop over machines that may run on several hypervisors: each
 * is asked through its own (hosts). */
static int each(struct vmenv_ctx *ctx, struct vmenv_cli_hosts *hosts, int argc, char **names,
                const char *sub, bool no_delete, vmenv_error *err)
{
        _cleanup_free_ const struct vmenv_machine_config **ms = NULL;
        _cleanup_(json_putp) json_object *arr = NULL;
        struct vmenv_project *p;
        size_t n = 0;

        if (vmenv_project_select(ctx->config, argc, names, &ms, &n, err) < 0)
                return -1;
        /* Built whole and printed at the end: escaped by json-c, and never
         * half a document when a later machine fails. */
        if (ctx->json && !strcmp(sub, "list"))
                arr = json_object_new_array();
        for (size_t i = 0; i < n; i++) {
                if (!(p = vmenv_cli_hosts_get(hosts, ms[i], err)))
                        return vmenv_error_prefix(err, "machine '%s'", ms[i]->name);
                if (!strcmp(sub, "push") && vmenv_snapshot_push(p, ms[i], err) < 0)
                        return -1;
                if (!strcmp(sub, "pop") && vmenv_snapshot_pop(p, ms[i], no_delete, err) < 0)
                        return -1;
                if (!strcmp(sub, "list")) {
                        char **names_out = NULL;
                        if (vmenv_snapshot_list(p, ms[i], &names_out, err) < 0)
                                return -1;
                        if (arr) {
                                json_object *o = json_object_new_object();
                                json_object *snaps = json_object_new_array();
                                for (char **s = names_out; *s; s++)
                                        json_object_array_add(snaps, json_object_new_string(*s));
                                json_object_object_add(o, "machine",
                                                       json_object_new_string(ms[i]->name));
                                json_object_object_add(o, "snapshots", snaps);
                                json_object_array_add(arr, o);
                        } else {
                                printf("%s:%s\n", ms[i]->name, *names_out ? "" : " no snapshots");
                                for (char **s = names_out; *s; s++)
                                        printf("  %s\n", *s);
                        }
                        vmenv_strv_free(names_out);
                }
        }
        if (arr)
                puts(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_SPACED |
                                                             JSON_C_TO_STRING_NOSLASHESCAPE));
        return 0;
}

static int cmd_snapshot_run(struct vmenv_ctx *ctx, const struct vmenv_args *args, vmenv_error *err)
{
        const char *sub = args->argv[0];
        const struct vmenv_machine_config *m;
        struct vmenv_cli_hosts hosts = {.ctx = ctx};
        struct vmenv_project *p;
        const char *name;
        int r = -1;

        bool known = false;

        for (const char *const *s = subcommands; *s; s++)
                known |= !strcmp(*s, sub);
        if (!known) {
                const char *best = vmenv_did_you_mean(sub, subcommands);
                vmenv_error_set(err, VMENV_EXIT_USAGE, "unknown snapshot command '%s'", sub);
                if (best)
                        vmenv_error_hint(err, "did you mean 'vmenv snapshot %s'?", best);
                else
                        vmenv_error_hint(err, "use save, restore, list, delete, push or pop");
                return -1;
        }
        if (!strcmp(sub, "list") || !strcmp(sub, "push") || !strcmp(sub, "pop")) {
                r = each(ctx, &hosts, args->argc - 1, args->argv + 1, sub,
                         vmenv_args_has(args, "no-delete"), err);
                goto out;
        }
        /* save|restore|delete [MACHINE] NAME */
        if (args->argc < 2 || args->argc > 3) {
                vmenv_error_set(err, VMENV_EXIT_USAGE, "'vmenv snapshot %s' needs a snapshot name",
                                sub);
                vmenv_error_hint(err, "usage: vmenv snapshot %s [MACHINE] NAME", sub);
                goto out;
        }
        name = args->argv[args->argc - 1];
        if (!(m = vmenv_project_select_one(ctx->config, args->argc == 3 ? args->argv[1] : NULL,
                                           err)) ||
            !(p = vmenv_cli_hosts_get(&hosts, m, err)))
                goto out;
        if (!strcmp(sub, "save"))
                r = vmenv_snapshot_save(p, m, name, err);
        else if (!strcmp(sub, "restore"))
                r = vmenv_snapshot_restore(p, m, name, err);
        else
                r = vmenv_snapshot_delete(p, m, name, err);
out:
        vmenv_cli_hosts_close(&hosts);
        return r < 0 ? -1 : 0;
}

static const struct vmenv_opt opts[] = {
    {"no-delete", 0, NULL, "pop: keep the snapshot after restoring it"},
    {0},
};

const struct vmenv_cmd vmenv_cmd_snapshot = {
    .name = "snapshot",
    .usage = "save|restore|delete [MACHINE] NAME | list|push|pop [MACHINE...]",
    .summary = "save and restore machine snapshots",
    .opts = opts,
    .min_args = 1,
    .max_args = -1,
    .flags = VMENV_CMD_PROJECT | VMENV_CMD_PROVIDER | VMENV_CMD_JSON,
    .run = cmd_snapshot_run,
};
