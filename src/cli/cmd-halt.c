/* vmenv halt: stops machines cleanly (ACPI power button), forcing them off
 * after a timeout or at once with -f. Disks and state are kept. */
#include <stdlib.h>

#include "cli.h"
#include "vmenv/machine.h"

static int halt_one(struct vmenv_project *p, const struct vmenv_machine_config *m,
                    const struct vmenv_args *args, vmenv_error *err)
{
        const char *t = vmenv_args_get(args, "timeout");
        return vmenv_machine_halt(p, m, vmenv_args_has(args, "force"), t ? atoi(t) : 60, err);
}

static int cmd_halt_run(struct vmenv_ctx *ctx, const struct vmenv_args *args, vmenv_error *err)
{
        return vmenv_cli_each(ctx, args, halt_one, err) < 0 ? -1 : 0;
}

static const struct vmenv_opt opts[] = {
        {"force", 'f', NULL, "power off at once"},
        {"timeout", 0, "SECONDS", "wait this long for a clean shutdown (default 60)"},
        {0},
};

const struct vmenv_cmd vmenv_cmd_halt = {
        .name = "halt",
        .usage = "[-f] [MACHINE...]",
        .summary = "stop machines (ACPI shutdown, then force)",
        .opts = opts,
        .max_args = -1,
        .flags = VMENV_CMD_PROJECT | VMENV_CMD_PROVIDER,
        .run = cmd_halt_run,
};
