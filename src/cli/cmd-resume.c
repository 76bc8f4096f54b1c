/* vmenv resume: continues suspended machines; their SSH session state and
 * processes are as they were. */
#include "cli.h"
#include "vmenv/machine.h"

static int resume_one(struct vmenv_project *p, const struct vmenv_machine_config *m,
                      const struct vmenv_args *args, vmenv_error *err)
{
        return vmenv_machine_resume(p, m, err);
}

static int cmd_resume_run(struct vmenv_ctx *ctx, const struct vmenv_args *args, vmenv_error *err)
{
        return vmenv_cli_each(ctx, args, resume_one, err) < 0 ? -1 : 0;
}

const struct vmenv_cmd vmenv_cmd_resume = {
        .name = "resume",
        .usage = "[MACHINE...]",
        .summary = "continue suspended machines",
        .max_args = -1,
        .flags = VMENV_CMD_PROJECT | VMENV_CMD_PROVIDER,
        .run = cmd_resume_run,
};
