/* vmenv validate: reads vmenv.yaml as 'up' would and says whether it is
 * valid; --json prints every machine's resolved settings. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "vmenv/cleanup.h"
#include "vmenv/config.h"
#include "vmenv/util.h"

static int cmd_validate_run(struct vmenv_ctx *ctx, const struct vmenv_args *args, vmenv_error *err)
{
        const struct vmenv_config *c = ctx->config;
        const char *base;

        if (vmenv_config_check_host_addrs(c, c->shown ? c->shown : c->path, err) < 0)
                return -1;
        if (ctx->json) {
                _cleanup_free_ char *json = vmenv_config_to_json(c);
                puts(json);
                return 0;
        }
        base = strrchr(c->path, '/');
        printf("%s is valid: %zu machine%s (", base ? base + 1 : c->path, c->n_machines,
               c->n_machines == 1 ? "" : "s");
        for (size_t i = 0; i < c->n_machines; i++)
                printf("%s%s", i ? ", " : "", c->machines[i].name);
        puts(")");
        return 0;
}

const struct vmenv_cmd vmenv_cmd_validate = {
    .name = "validate",
    .usage = "[--json]",
    .summary = "check vmenv.yaml and show the resolved settings",
    .flags = VMENV_CMD_PROJECT | VMENV_CMD_JSON,
    .run = cmd_validate_run,
};
