/* vmenv suspend: pauses running machines in memory; 'vmenv resume' or
 * 'vmenv up' continues them where they were. */
#include "cli.h"
#include "vmenv/machine.h"

static int suspend_one(struct vmenv_project *p, const struct vmenv_machine_config *m,
                       const struct vmenv_args *args, vmenv_error *err)
{
        return vmenv_machine_suspend(p, m, err);
}

static int cmd_suspend_run(struct vmenv_ctx *ctx, const struct vmenv_args *args, vmenv_error *err)
{
        return vmenv_cli_each(ctx, args, suspend_one, err) < 0 ? -1 : 0;
}

const struct vmenv_cmd vmenv_cmd_suspend = {
        .name = "suspend",
        .usage = "[MACHINE...]",
        .summary = "pause running machines",
        .max_args = -1,
        .flags = VMENV_CMD_PROJECT | VMENV_CMD_PROVIDER,
        .run = cmd_suspend_run,
};
