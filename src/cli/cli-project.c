/* What every machine command shares: opening the provider, walking the
 * selected machines, asking before destructive work. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "vmenv/cleanup.h"
#include "vmenv/machine.h"
#include "vmenv/util.h"

struct vmenv_project *vmenv_cli_project(struct vmenv_ctx *ctx, vmenv_error *err)
{
        return vmenv_project_open(ctx->config, &vmenv_provider_libvirt, err);
}

int vmenv_cli_each(struct vmenv_ctx *ctx, const struct vmenv_args *args,
                   int (*fn)(struct vmenv_project *p, const struct vmenv_machine_config *m,
                             const struct vmenv_args *args, vmenv_error *err),
                   vmenv_error *err)
{
        _cleanup_free_ const struct vmenv_machine_config **ms = NULL;
        struct vmenv_project *p;
        size_t n = 0;
        int r = 0;

        if (vmenv_project_select(ctx->config, args->argc, args->argv, &ms, &n, err) < 0)
                return -1;
        if (!(p = vmenv_cli_project(ctx, err)))
                return -1;
        for (size_t i = 0; i < n; i++) {
                vmenv_error e = VMENV_ERROR_INIT;
                if (fn(p, ms[i], args, &e) >= 0)
                        continue;
                if (r == 0) {
                        vmenv_error_move(err, &e);
                        r = -1;
                } else {
                        fprintf(stderr, "vmenv: error: %s\n", e.msg);
                        vmenv_error_clear(&e);
                }
        }
        vmenv_project_close(p);
        return r;
}

bool vmenv_cli_confirm(const char *fmt, ...)
{
        va_list ap;
        char line[32];

        if (!isatty(STDIN_FILENO))
                return false;
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputs(" [y/N] ", stderr);
        if (!fgets(line, sizeof(line), stdin))
                return false;
        return line[0] == 'y' || line[0] == 'Y';
}
