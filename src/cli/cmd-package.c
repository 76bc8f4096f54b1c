/* vmenv package: turns a machine into a Vagrant libvirt box file (its disk
 * flattened), ready for 'vmenv box add' or Vagrant. */
#include <string.h>

#include "cli.h"
#include "vmenv/machine.h"
#include "vmenv/snapshot.h"
#include "vmenv/util.h"

static int cmd_package_run(struct vmenv_ctx *ctx, const struct vmenv_args *args, vmenv_error *err)
{
        struct vmenv_package_opts o = {
                .output = vmenv_args_get(args, "output"),
                .vagrantfile = vmenv_args_get(args, "vagrantfile"),
                .insecure_key = vmenv_args_has(args, "insecure-key"),
                .force = vmenv_args_has(args, "force"),
        };
        const struct vmenv_machine_config *m;
        struct vmenv_project *p;
        int r;

        for (int i = 0; i < args->n_opts; i++)
                if (!strcmp(args->opts[i].name, "include"))
                        vmenv_strv_push(&o.include, vmenv_strdup(args->opts[i].value));
        if (!(m = vmenv_project_select_one(ctx->config, args->argc ? args->argv[0] : NULL, err)) ||
            !(p = vmenv_cli_project_of(ctx, m, err))) {
                vmenv_strv_free(o.include);
                return -1;
        }
        r = vmenv_package(p, m, &o, err);
        vmenv_project_close(p);
        vmenv_strv_free(o.include);
        return r < 0 ? -1 : 0;
}

static const struct vmenv_opt opts[] = {
        {"output", 'o', "FILE", "the box file to write (default package.box)"},
        {"vagrantfile", 0, "FILE", "a Vagrantfile to put in the box"},
        {"include", 0, "FILE", "another file to put in the box (repeatable)"},
        {"insecure-key", 0, NULL, "make the box accept Vagrant's insecure key (for others)"},
        {"force", 'f', NULL, "replace an existing output file"},
        {0},
};

const struct vmenv_cmd vmenv_cmd_package = {
        .name = "package",
        .usage = "[--output FILE] [--vagrantfile FILE] [--include FILE]... [--insecure-key] "
                 "[MACHINE]",
        .summary = "make a box from a machine",
        .opts = opts,
        .max_args = 1,
        .flags = VMENV_CMD_PROJECT | VMENV_CMD_PROVIDER,
        .run = cmd_package_run,
};
