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

struct vmenv_project *vmenv_cli_project_of(struct vmenv_ctx *ctx,
                                           const struct vmenv_machine_config *m, vmenv_error *err)
{
        return vmenv_project_open_uri(ctx->config, &vmenv_provider_libvirt, m->libvirt.uri, err);
}

struct vmenv_project *vmenv_cli_hosts_get(struct vmenv_cli_hosts *h,
                                          const struct vmenv_machine_config *m, vmenv_error *err)
{
        struct vmenv_cli_host *x = NULL;

        for (size_t i = 0; i < h->n && !x; i++)
                if (vmenv_streq(h->v[i].uri, m->libvirt.uri))
                        x = &h->v[i];
        if (!x) {
                h->v = vmenv_realloc(h->v, (h->n + 1) * sizeof(*h->v));
                x = &h->v[h->n++];
                *x = (struct vmenv_cli_host){.uri = m->libvirt.uri, .err = VMENV_ERROR_INIT};
                x->p = vmenv_cli_project_of(h->ctx, m, &x->err);
        }
        if (!x->p) {
                vmenv_error_set(err, x->err.code, "%s", x->err.msg);
                if (x->err.hint)
                        vmenv_error_hint(err, "%s", x->err.hint);
        }
        return x->p;
}

void vmenv_cli_hosts_close(struct vmenv_cli_hosts *h)
{
        for (size_t i = 0; i < h->n; i++) {
                vmenv_project_close(h->v[i].p);
                vmenv_error_clear(&h->v[i].err);
        }
        free(h->v);
        h->v = NULL;
        h->n = 0;
}

int vmenv_cli_each(struct vmenv_ctx *ctx, const struct vmenv_args *args,
                   int (*fn)(struct vmenv_project *p, const struct vmenv_machine_config *m,
                             const struct vmenv_args *args, vmenv_error *err),
                   vmenv_error *err)
{
        _cleanup_free_ const struct vmenv_machine_config **ms = NULL;
        struct vmenv_cli_hosts hosts = {.ctx = ctx};
        size_t n = 0;
        int r = 0;

        if (vmenv_project_select(ctx->config, args->argc, args->argv, &ms, &n, err) < 0)
                return -1;
        for (size_t i = 0; i < n; i++) {
                vmenv_error e = VMENV_ERROR_INIT;
                struct vmenv_project *p = vmenv_cli_hosts_get(&hosts, ms[i], &e);
                if (p && fn(p, ms[i], args, &e) >= 0)
                        continue;
                if (r == 0) {
                        vmenv_error_move(err, &e);
                        r = -1;
                } else {
                        fprintf(stderr, "vmenv: error: %s\n", e.msg);
                        vmenv_error_clear(&e);
                }
        }
        vmenv_cli_hosts_close(&hosts);
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
