/* vmenv import: writes a vmenv.yaml made from a Vagrantfile, to stdout or
 * -o FILE; reads it without running it unless --ruby asks to evaluate it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "vmenv/cleanup.h"
#include "vmenv/util.h"
#include "vmenv/vagrant.h"

static const struct vmenv_opt import_opts[] = {
    {"output", 'o', "FILE", "write to FILE instead of standard output"},
    {"force", 'f', NULL, "overwrite FILE if it exists"},
    {"ruby", 0, NULL, "evaluate the Vagrantfile with Ruby (this runs it; sandboxed)"},
    {"no-sandbox", 0, NULL, "with --ruby: run Ruby without bubblewrap"},
    {"ruby-timeout", 0, "SECONDS", "with --ruby: stop Ruby after SECONDS (default 60)"},
    {0},
};

static int cmd_import_run(struct vmenv_ctx *ctx, const struct vmenv_args *args, vmenv_error *err)
{
        const char *path = args->argc ? args->argv[0] : "Vagrantfile";
        const char *output = vmenv_args_get(args, "output");
        const char *timeout = vmenv_args_get(args, "ruby-timeout");
        struct vmenv_import_opts opts = {.ruby = vmenv_args_has(args, "ruby"),
                                         .no_sandbox = vmenv_args_has(args, "no-sandbox")};
        struct vmenv_import_result r = {0};
        int ret = 0;

        if ((opts.no_sandbox || timeout) && !opts.ruby)
                return vmenv_error_set(err, VMENV_EXIT_USAGE,
                                       "--no-sandbox and --ruby-timeout go with --ruby");
        if (timeout) {
                char *end;
                long t = strtol(timeout, &end, 10);
                if (*end || t < 1 || t > 3600)
                        return vmenv_error_set(err, VMENV_EXIT_USAGE,
                                               "--ruby-timeout must be 1 to 3600 seconds, got '%s'",
                                               timeout);
                opts.ruby_timeout = (int)t;
        }
        if (output && vmenv_path_exists(output) && !vmenv_args_has(args, "force")) {
                vmenv_error_set(err, VMENV_EXIT_FAILURE, "'%s' already exists", output);
                return vmenv_error_hint(err, "add -f to overwrite it");
        }
        if (vmenv_vagrant_import(path, &opts, &r, err) < 0)
                return -1;
        if (output) {
                if (vmenv_write_file_atomic(output, r.yaml, strlen(r.yaml), 0644, err) < 0)
                        ret = -1;
                else
                        fprintf(stderr, "wrote %s from %s (%s)\n", output, path, r.method);
        } else {
                fputs(r.yaml, stdout);
        }
        if (!ret && (r.n_unsupported || r.n_not_understood))
                fprintf(stderr,
                        "%zu setting%s not imported as written, %zu part%s not understood: "
                        "listed at the top of the file\n",
                        r.n_unsupported, r.n_unsupported == 1 ? "" : "s", r.n_not_understood,
                        r.n_not_understood == 1 ? "" : "s");
        (void)ctx;
        vmenv_import_result_clear(&r);
        return ret;
}

const struct vmenv_cmd vmenv_cmd_import = {
    .name = "import",
    .usage = "[-o FILE [-f]] [--ruby [--no-sandbox] [--ruby-timeout S]] [VAGRANTFILE]",
    .summary = "write a vmenv.yaml from a Vagrantfile",
    .help = "VAGRANTFILE defaults to ./Vagrantfile. By default the file is read, not run:\n"
            "a literal parser takes the common forms and lists the lines it did not\n"
            "understand. --ruby evaluates it with Ruby against a stand-in for Vagrant,\n"
            "so loops and variables work; that runs code from the file, so vmenv runs\n"
            "it in a bubblewrap sandbox (no network, read-only files) when bwrap is\n"
            "installed. Settings vmenv cannot express are listed at the top of the output.",
    .opts = import_opts,
    .min_args = 0,
    .max_args = 1,
    .run = cmd_import_run,
};
