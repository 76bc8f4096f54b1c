/* vmenv help [COMMAND]: the list of commands, or one command's usage and
 * options; generated from the command table so it is never out of date. */
#include <stdio.h>

#include "cli.h"

static int cmd_help_run(struct vmenv_ctx *ctx, const struct vmenv_args *args, vmenv_error *err)
{
        const struct vmenv_cmd *cmd = NULL;

        if (args->argc == 1 && !(cmd = vmenv_cmd_find(args->argv[0])))
                return vmenv_error_set(err, VMENV_EXIT_USAGE, "unknown command '%s'",
                                       args->argv[0]);
        vmenv_cmd_print_help(cmd, stdout);
        return 0;
}

const struct vmenv_cmd vmenv_cmd_help = {
        .name = "help",
        .usage = "[COMMAND]",
        .summary = "show the commands, or one command's options",
        .max_args = 1,
        .run = cmd_help_run,
};
