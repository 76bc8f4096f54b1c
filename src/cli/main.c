/* vmenv's entry point: global options, command dispatch, and the one place
 * where errors are printed and mapped to exit codes. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "vmenv/cleanup.h"
#include "vmenv/config.h"
#include "vmenv/log.h"
#include "vmenv/state.h"
#include "vmenv/util.h"
#include "vmenv/version.h"

const struct vmenv_cmd *vmenv_cmd_find(const char *name)
{
        for (const struct vmenv_cmd *const *c = vmenv_cmd_table; *c; c++)
                if (!strcmp((*c)->name, name))
                        return *c;
        return NULL;
}

static void print_opts(const struct vmenv_opt *o, FILE *f)
{
        for (; o && o->name; o++) {
                char left[64];
                if (o->short_name)
                        snprintf(left, sizeof(left), "-%c, --%s%s%s", o->short_name, o->name,
                                 o->arg ? " " : "", o->arg ? o->arg : "");
                else
                        snprintf(left, sizeof(left), "    --%s%s%s", o->name, o->arg ? " " : "",
                                 o->arg ? o->arg : "");
                fprintf(f, "  %-28s %s\n", left, o->help);
        }
}

void vmenv_cmd_print_help(const struct vmenv_cmd *cmd, FILE *f)
{
        if (cmd) {
                fprintf(f, "usage: vmenv %s %s\n\n%s\n", cmd->name, cmd->usage, cmd->summary);
                if (cmd->help)
                        fprintf(f, "\n%s\n", cmd->help);
                if (cmd->opts && cmd->opts->name) {
                        fputs("\noptions:\n", f);
                        print_opts(cmd->opts, f);
                }
                fputs("\nglobal options:\n", f);
                print_opts(vmenv_global_opts, f);
                return;
        }
        fputs("usage: vmenv [-v|-q] [--json] [-C DIR] [--connect URI] COMMAND [ARGS...]\n\n"
              "Development virtual machines from vmenv.yaml, on libvirt.\n\ncommands:\n",
              f);
        for (const struct vmenv_cmd *const *c = vmenv_cmd_table; *c; c++)
                if (!((*c)->flags & VMENV_CMD_HIDDEN))
                        fprintf(f, "  %-16s %s\n", (*c)->name, (*c)->summary);
        fputs("\nglobal options:\n", f);
        print_opts(vmenv_global_opts, f);
        fputs("      --version                print the version\n"
              "\nRun 'vmenv help COMMAND' for a command's options.\n",
              f);
}

static int unknown_command(const char *word, vmenv_error *err)
{
        const char *cands[64];
        size_t n = 0;
        const char *best;

        for (const struct vmenv_cmd *const *c = vmenv_cmd_table; *c && n < 63; c++)
                cands[n++] = (*c)->name;
        cands[n] = NULL;
        vmenv_error_set(err, VMENV_EXIT_USAGE, "unknown command '%s'", word);
        if ((best = vmenv_did_you_mean(word, cands)))
                vmenv_error_hint(err, "did you mean 'vmenv %s'?", best);
        else
                vmenv_error_hint(err, "run 'vmenv help' for the list of commands");
        return -1;
}

static int run(int argc, char **argv, vmenv_error *err)
{
        struct vmenv_ctx ctx = {0};
        struct vmenv_args args;
        const struct vmenv_cmd *cmd = NULL;
        const char *connect;
        int i, r;

        /* Global options before the command word. */
        for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
                if (!strcmp(argv[i], "--version")) {
                        printf("vmenv %s\n", VMENV_VERSION);
                        return 0;
                }
                if (!strcmp(argv[i], "--"))
                        break;
                if ((!strcmp(argv[i], "-C") || !strcmp(argv[i], "--dir") ||
                     !strcmp(argv[i], "--connect")) &&
                    i + 1 < argc)
                        i++;
        }
        if (i >= argc || !strcmp(argv[i], "--")) {
                if (vmenv_args_parse(NULL, argc - 1, argv + 1, &args, err) < 0)
                        return -1;
                free(args.argv);
                vmenv_cmd_print_help(NULL, argc > 1 ? stdout : stderr);
                return argc > 1 ? 0 : VMENV_EXIT_USAGE;
        }
        if (!(cmd = vmenv_cmd_find(argv[i])))
                return unknown_command(argv[i], err);
        /* Everything but the command word goes to the parser: globals may
         * come before or after it. */
        {
                _cleanup_free_ char **rest = vmenv_calloc((size_t)argc, sizeof(char *));
                int n = 0;
                for (int j = 1; j < argc; j++)
                        if (j != i)
                                rest[n++] = argv[j];
                if (vmenv_args_parse(cmd, n, rest, &args, err) < 0)
                        return -1;
        }
        if (vmenv_args_has(&args, "verbose"))
                vmenv_log_level = VMENV_LOG_DEBUG;
        else if (vmenv_args_has(&args, "quiet"))
                vmenv_log_level = VMENV_LOG_QUIET;
        ctx.json = vmenv_args_has(&args, "json");
        ctx.dir = vmenv_args_get(&args, "dir");
        /* The user's own choice of URI: it may name any transport. Through the
         * environment, every provider connection of this process (and the
         * global-status check of the index) sees it as VMENV_LIBVIRT_URI. */
        if ((connect = vmenv_args_get(&args, "connect")))
                setenv("VMENV_LIBVIRT_URI", connect, 1);
        ctx.cmd = cmd;
        if (vmenv_args_has(&args, "help")) {
                vmenv_cmd_print_help(cmd, stdout);
                free(args.argv);
                return 0;
        }
        if (ctx.json && !(cmd->flags & VMENV_CMD_JSON)) {
                free(args.argv);
                return vmenv_error_set(err, VMENV_EXIT_USAGE, "'vmenv %s' has no --json output",
                                       cmd->name);
        }
        if (args.argc < cmd->min_args || (cmd->max_args >= 0 && args.argc > cmd->max_args)) {
                vmenv_error_set(err, VMENV_EXIT_USAGE, "wrong number of arguments for '%s'",
                                cmd->name);
                vmenv_error_hint(err, "usage: vmenv %s %s", cmd->name, cmd->usage);
                free(args.argv);
                return -1;
        }
        if (ctx.dir && chdir(ctx.dir) < 0) {
                free(args.argv);
                return vmenv_error_errno(err, VMENV_EXIT_USAGE, errno, "cannot change to '%s'",
                                         ctx.dir);
        }
        if (cmd->flags & VMENV_CMD_PROJECT) {
                if (!(ctx.config = vmenv_config_load_project(NULL, err))) {
                        free(args.argv);
                        return -1;
                }
                if (connect)
                        vmenv_config_set_uri(ctx.config, connect);
                /* before any command names a domain (status does so first) */
                if (vmenv_config_identify(ctx.config, err) < 0) {
                        free(args.argv);
                        return -1;
                }
        }
        r = cmd->run(&ctx, &args, err);
        vmenv_config_free(ctx.config);
        free(args.argv);
        return r;
}

/* A closed stdin, stdout or stderr would be taken by the next file opened
 * (a lock, a disk image) and written to by accident: fill the gap. */
static void open_std_fds(void)
{
        for (int fd = 0; fd <= 2; fd++)
                if (fcntl(fd, F_GETFD) < 0 && errno == EBADF &&
                    open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY) != fd)
                        abort();
}

int main(int argc, char **argv)
{
        vmenv_error err = VMENV_ERROR_INIT;
        int r;

        open_std_fds();
        r = run(argc, argv, &err);

        fflush(stdout);
        if (r < 0) {
                fprintf(stderr, "vmenv: error: %s\n", err.msg ? err.msg : "unknown error");
                if (err.hint)
                        fprintf(stderr, "hint: %s\n", err.hint);
                r = err.code ? err.code : VMENV_EXIT_FAILURE;
        }
        vmenv_error_clear(&err);
        return r;
}
