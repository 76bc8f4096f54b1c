/* vmenv reload: halt then up, so changed settings in vmenv.yaml (memory,
 * cpus, ports) apply; due provisioners run as on any boot. */
#include "cli.h"
#include "vmenv/machine.h"

static int reload_one(struct vmenv_project *p, const struct vmenv_machine_config *m,
                      const struct vmenv_args *args, vmenv_error *err)
{
        struct vmenv_up_opts o = {
                .provision = vmenv_args_has(args, "provision"),
                .no_provision = vmenv_args_has(args, "no-provision"),
        };
        if (vmenv_machine_halt(p, m, vmenv_args_has(args, "force"), 60, err) < 0)
                return -1;
        return vmenv_machine_up(p, m, &o, err);
}

static int cmd_reload_run(struct vmenv_ctx *ctx, const struct vmenv_args *args, vmenv_error *err)
{
        return vmenv_cli_each(ctx, args, reload_one, err) < 0 ? -1 : 0;
}

static const struct vmenv_opt opts[] = {
        {"provision", 0, NULL, "run every provisioner after the reboot"},
        {"no-provision", 0, NULL, "run no provisioner"},
        {"force", 'f', NULL, "power off instead of a clean shutdown"},
        {0},
};

const struct vmenv_cmd vmenv_cmd_reload = {
        .name = "reload",
        .usage = "[--provision] [MACHINE...]",
        .summary = "restart machines, applying changed settings",
        .opts = opts,
        .max_args = -1,
        .flags = VMENV_CMD_PROJECT | VMENV_CMD_PROVIDER,
        .run = cmd_reload_run,
};
