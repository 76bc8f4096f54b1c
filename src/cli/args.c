/* One argument parser for every command, driven by the option tables, so
 * help, completion and "did you mean" all come from the same data. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "vmenv/cleanup.h"
#include "vmenv/util.h"

const struct vmenv_opt vmenv_global_opts[] = {
        {"verbose", 'v', NULL, "print debug logs"},
        {"quiet", 'q', NULL, "print only errors"},
        {"json", 0, NULL, "machine-readable output"},
        {"dir", 'C', "DIR", "run as if started in DIR"},
        {"connect", 0, "URI", "the libvirt URI to use, above vmenv.yaml's libvirt.uri"},
        {"help", 'h', NULL, "show help"},
        {0},
};

bool vmenv_args_has(const struct vmenv_args *a, const char *name)
{
        return vmenv_args_get(a, name) != NULL;
}

const char *vmenv_args_get(const struct vmenv_args *a, const char *name)
{
        for (int i = a->n_opts - 1; i >= 0; i--)
                if (!strcmp(a->opts[i].name, name))
                        return a->opts[i].value;
        return NULL;
}

static const struct vmenv_opt *find_opt(const struct vmenv_opt *tab, const char *lname, char sname)
{
        for (; tab && tab->name; tab++)
                if ((lname && !strcmp(tab->name, lname)) || (sname && tab->short_name == sname))
                        return tab;
        return NULL;
}

static const struct vmenv_opt *lookup(const struct vmenv_cmd *cmd, const char *lname, char sname)
{
        const struct vmenv_opt *o = find_opt(cmd ? cmd->opts : NULL, lname, sname);
        return o ? o : find_opt(vmenv_global_opts, lname, sname);
}

static int unknown_option(const struct vmenv_cmd *cmd, const char *word, vmenv_error *err)
{
        const char *cands[96];
        size_t n = 0;
        const char *best;
        const char *bare = word + strspn(word, "-");
        const char *cmdname = cmd ? cmd->name : "vmenv";

        for (const struct vmenv_opt *o = cmd ? cmd->opts : NULL; o && o->name && n < 90; o++)
                cands[n++] = o->name;
        for (const struct vmenv_opt *o = vmenv_global_opts; o->name && n < 95; o++)
                cands[n++] = o->name;
        cands[n] = NULL;
        vmenv_error_set(err, VMENV_EXIT_USAGE, "unknown option '%s' for '%s'", word, cmdname);
        if ((best = vmenv_did_you_mean(bare, cands)))
                vmenv_error_hint(err, "did you mean '--%s'?", best);
        else
                vmenv_error_hint(err, "run 'vmenv help %s' for the options", cmd ? cmd->name : "");
        return -1;
}

static int add_opt(struct vmenv_args *out, const char *name, const char *value, vmenv_error *err)
{
        if (out->n_opts >= (int)VMENV_ARRAY_SIZE(out->opts))
                return vmenv_error_set(err, VMENV_EXIT_USAGE, "too many options");
        out->opts[out->n_opts].name = name;
        out->opts[out->n_opts].value = value;
        out->n_opts++;
        return 0;
}

static int parse(const struct vmenv_cmd *cmd, int argc, char **argv, struct vmenv_args *out,
                 vmenv_error *err)
{
        memset(out, 0, sizeof(*out));
        out->argv = vmenv_calloc((size_t)argc + 1, sizeof(char *));
        for (int i = 0; i < argc; i++) {
                char *w = argv[i];
                const struct vmenv_opt *o;

                if (!strcmp(w, "--")) {
                        out->dashdash = true;
                        out->argv_extra = out->argv + out->argc;
                        for (i++; i < argc; i++) {
                                out->argv[out->argc++] = argv[i];
                                out->argc_extra++;
                        }
                        break;
                }
                if (w[0] != '-' || w[1] == '\0') {
                        out->argv[out->argc++] = w;
                        continue;
                }
                if (w[1] == '-') {
                        _cleanup_free_ char *name = vmenv_strdup(w + 2);
                        char *eq = strchr(name, '=');
                        const char *value = NULL;
                        if (eq) {
                                *eq = '\0';
                                value = w + 2 + (eq - name) + 1;
                        }
                        if (!(o = lookup(cmd, name, 0)))
                                return unknown_option(cmd, w, err);
                        if (o->arg && !value) {
                                if (i + 1 >= argc)
                                        return vmenv_error_set(err, VMENV_EXIT_USAGE,
                                                               "option '--%s' needs a value (%s)",
                                                               o->name, o->arg);
                                value = argv[++i];
                        } else if (!o->arg && value) {
                                return vmenv_error_set(err, VMENV_EXIT_USAGE,
                                                       "option '--%s' takes no value", o->name);
                        }
                        if (add_opt(out, o->name, value ? value : "", err) < 0)
                                return -1;
                        continue;
                }
                /* Bundled short options: -fv, -Cdir, -C dir. */
                for (char *s = w + 1; *s; s++) {
                        char sw[3] = {'-', *s, 0};
                        if (!(o = lookup(cmd, NULL, *s)))
                                return unknown_option(cmd, sw, err);
                        if (o->arg) {
                                const char *value = s[1] ? s + 1 : (i + 1 < argc ? argv[++i] : NULL);
                                if (!value)
                                        return vmenv_error_set(err, VMENV_EXIT_USAGE,
                                                               "option '-%c' needs a value (%s)",
                                                               *s, o->arg);
                                if (add_opt(out, o->name, value, err) < 0)
                                        return -1;
                                break;
                        }
                        if (add_opt(out, o->name, "", err) < 0)
                                return -1;
                }
        }
        return 0;
}

int vmenv_args_parse(const struct vmenv_cmd *cmd, int argc, char **argv, struct vmenv_args *out,
                     vmenv_error *err)
{
        if (parse(cmd, argc, argv, out, err) < 0) {
                free(out->argv);
                out->argv = NULL;
                return -1;
        }
        return 0;
}
