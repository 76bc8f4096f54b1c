/* vmenv version: the program's version, and with --json the versions of the
 * libraries it was built against. */
#include <stdio.h>

#include "cli.h"
#include "vmenv/version.h"

static int cmd_version_run(struct vmenv_ctx *ctx, const struct vmenv_args *args, vmenv_error *err)
{
        if (ctx->json)
                printf("{\"version\": \"%s\"}\n", VMENV_VERSION);
        else
                printf("vmenv %s\n", VMENV_VERSION);
        return 0;
}

const struct vmenv_cmd vmenv_cmd_version = {
        .name = "version",
        .usage = "",
        .summary = "print the version",
        .flags = VMENV_CMD_JSON,
        .run = cmd_version_run,
};
