/* vmenv destroy: removes machines (domain, disk overlay, state) and keeps
 * their boxes; asks first on a terminal unless -f. */
#include "cli.h"
#include "vmenv/machine.h"
#include "vmenv/util.h"

static int destroy_one(struct vmenv_project *p, const struct vmenv_machine_config *m,
                       const struct vmenv_args *args, vmenv_error *err)
{
        if (!vmenv_args_has(args, "force") &&
            !vmenv_cli_confirm("destroy machine '%s'? its disk is deleted", m->name)) {
                vmenv_error_set(err, VMENV_EXIT_USAGE, "not destroying '%s' without confirmation",
                                m->name);
                return vmenv_error_hint(err, "pass -f to destroy without asking");
        }
        return vmenv_machine_destroy(p, m, err);
}

static int cmd_destroy_run(struct vmenv_ctx *ctx, const struct vmenv_args *args, vmenv_error *err)
{
        return vmenv_cli_each(ctx, args, destroy_one, err) < 0 ? -1 : 0;
}

static const struct vmenv_opt opts[] = {
        {"force", 'f', NULL, "do not ask"},
        {0},
};

const struct vmenv_cmd vmenv_cmd_destroy = {
        .name = "destroy",
        .usage = "[-f] [MACHINE...]",
        .summary = "stop and delete machines (boxes are kept)",
        .opts = opts,
        .max_args = -1,
        .flags = VMENV_CMD_PROJECT | VMENV_CMD_PROVIDER,
        .run = cmd_destroy_run,
};
