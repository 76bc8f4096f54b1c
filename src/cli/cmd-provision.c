/* vmenv provision: runs a running machine's provisioners again, all of them
 * (run: never excepted) as Vagrant does, or only those named. */
#include <string.h>

#include "cli.h"
#include "vmenv/cleanup.h"
#include "vmenv/machine.h"
#include "vmenv/util.h"

static int provision_one(struct vmenv_project *p, const struct vmenv_machine_config *m,
                         const struct vmenv_args *args, vmenv_error *err)
{
        const char *with = vmenv_args_get(args, "provision-with");
        char **only = NULL;
        int r;

        if (with) {
                _cleanup_free_ char *copy = vmenv_strdup(with);
                for (char *t = strtok(copy, ","); t; t = strtok(NULL, ","))
                        vmenv_strv_push(&only, vmenv_strdup(t));
        }
        r = vmenv_machine_provision(p, m, true, only, err);
        vmenv_strv_free(only);
        return r;
}

static int cmd_provision_run(struct vmenv_ctx *ctx, const struct vmenv_args *args,
                             vmenv_error *err)
{
        return vmenv_cli_each(ctx, args, provision_one, err) < 0 ? -1 : 0;
}

static const struct vmenv_opt opts[] = {
        {"provision-with", 0, "NAME,...", "run only these provisioners"},
        {0},
};

const struct vmenv_cmd vmenv_cmd_provision = {
        .name = "provision",
        .usage = "[--provision-with NAME,...] [MACHINE...]",
        .summary = "run provisioners on running machines",
        .opts = opts,
        .max_args = -1,
        .flags = VMENV_CMD_PROJECT | VMENV_CMD_PROVIDER,
        .run = cmd_provision_run,
};
