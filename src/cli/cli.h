/* The command table and the argument parser shared by every cmd-*.c. */
#ifndef VMENV_CLI_H
#define VMENV_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "vmenv/error.h"

struct vmenv_config;

/* One option of a command: "--long-name" / "-s", with or without a value. */
struct vmenv_opt {
        const char *name;     /* long name without dashes */
        char short_name;      /* 0 if none */
        const char *arg;      /* value placeholder ("FILE"), NULL for a flag */
        const char *help;
};

/* What the parser found: options by long name, then positional words. */
struct vmenv_args {
        int n_opts;
        struct {
                const char *name;
                const char *value; /* "" for flags */
        } opts[32];
        int argc;
        char **argv;       /* positional; after "--" everything is positional */
        int argc_extra;    /* words after "--", if any (also in argv's tail) */
        char **argv_extra;
        bool dashdash;
};

bool vmenv_args_has(const struct vmenv_args *a, const char *name);
/* The last value given for name, or NULL. */
const char *vmenv_args_get(const struct vmenv_args *a, const char *name);

/* Process-wide settings from the global options; passed to every command. */
struct vmenv_ctx {
        bool json;
        const char *dir;              /* -C DIR, or NULL */
        struct vmenv_config *config;  /* loaded when the command has VMENV_CMD_PROJECT */
        const struct vmenv_cmd *cmd;
};

enum vmenv_cmd_flags {
        VMENV_CMD_PROJECT = 1 << 0,   /* needs vmenv.yaml loaded into ctx->config */
        VMENV_CMD_PROVIDER = 1 << 1,  /* talks to libvirt */
        VMENV_CMD_JSON = 1 << 2,      /* honours --json */
        VMENV_CMD_HIDDEN = 1 << 3,    /* not listed by 'vmenv help' */
};

struct vmenv_cmd {
        const char *name;
        const char *usage;   /* "[-f] [MACHINE...]" */
        const char *summary; /* one line for 'vmenv help' */
        const char *help;    /* more text for 'vmenv help CMD', may be NULL */
        const struct vmenv_opt *opts; /* terminated by {0} */
        int min_args, max_args;       /* positional words; max -1 = any */
        unsigned flags;
        /* Returns an exit code >= 0, or -1 with err set. */
        int (*run)(struct vmenv_ctx *ctx, const struct vmenv_args *args, vmenv_error *err);
};

extern const struct vmenv_cmd *const vmenv_cmd_table[];
extern const struct vmenv_opt vmenv_global_opts[];

const struct vmenv_cmd *vmenv_cmd_find(const char *name);
/* Full help of one command, or of vmenv itself when cmd is NULL. */
void vmenv_cmd_print_help(const struct vmenv_cmd *cmd, FILE *f);

/* Parses argv for cmd (global options are accepted anywhere). */
int vmenv_args_parse(const struct vmenv_cmd *cmd, int argc, char **argv,
                     struct vmenv_args *out, vmenv_error *err);

struct vmenv_project;
struct vmenv_machine_config;
/* Opens the project's provider (libvirt). */
struct vmenv_project *vmenv_cli_project(struct vmenv_ctx *ctx, vmenv_error *err);
/* Opens the provider on the hypervisor machine m runs on. */
struct vmenv_project *vmenv_cli_project_of(struct vmenv_ctx *ctx,
                                           const struct vmenv_machine_config *m, vmenv_error *err);

/* The open projects of one command, one per hypervisor its machines run
 * on (a machine's libvirt.uri), each opened on first need. A host that
 * cannot be reached is tried once: later machines on it get the same
 * error. */
struct vmenv_cli_hosts {
        struct vmenv_ctx *ctx;
        struct vmenv_cli_host {
                const char *uri; /* borrowed from the config; NULL: the default */
                struct vmenv_project *p;
                vmenv_error err; /* why p is NULL */
        } *v;
        size_t n;
};
struct vmenv_project *vmenv_cli_hosts_get(struct vmenv_cli_hosts *h,
                                          const struct vmenv_machine_config *m, vmenv_error *err);
void vmenv_cli_hosts_close(struct vmenv_cli_hosts *h);

/* Runs fn on each selected machine (all when none are named), going on
 * after a failure; the first error is returned, later ones are printed. */
int vmenv_cli_each(struct vmenv_ctx *ctx, const struct vmenv_args *args,
                   int (*fn)(struct vmenv_project *p, const struct vmenv_machine_config *m,
                             const struct vmenv_args *args, vmenv_error *err),
                   vmenv_error *err);
/* Asks a yes/no question on the terminal; false when stdin is not a TTY. */
bool vmenv_cli_confirm(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
