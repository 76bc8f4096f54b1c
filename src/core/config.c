/* vmenv.yaml, the whole: the tree from config-yaml.c built into a config
 * (what each key means lives in config-rules.c; top-level keys are applied
 * to every machine first, then the machine's own keys on top), the checks
 * across machines, and finding and loading a project's file. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#include "config-private.h"
#include "vmenv/cleanup.h"
#include "vmenv/config.h"
#include "vmenv/util.h"

VMENV_DEFINE_CLEANUP(struct vmenv_config, vmenv_config_free)

struct fwd_ref {
        const struct vmenv_forward *f;
        size_t machine, index;
};

static int fwd_cmp(const void *a, const void *b)
{
        const struct fwd_ref *x = a, *y = b;
        int r;

        if (x->f->host != y->f->host)
                return x->f->host < y->f->host ? -1 : 1;
        if ((r = strcmp(x->f->protocol, y->f->protocol)))
                return r;
        if (x->machine != y->machine)
                return x->machine < y->machine ? -1 : 1;
        return x->index < y->index ? -1 : x->index > y->index;
}

/* Two listening addresses that cannot both bind one port: the same address
 * (however written), or a wildcard covering the other (:: is dual-stack). */
static bool ip_overlap(const char *a, const char *b)
{
        unsigned char x[16], y[16];
        int fx = strchr(a, ':') ? AF_INET6 : AF_INET, fy = strchr(b, ':') ? AF_INET6 : AF_INET;
        static const unsigned char zero[16];

        if (inet_pton(fx, a, x) != 1 || inet_pton(fy, b, y) != 1)
                return !strcmp(a, b);
        if (fx == fy && !memcmp(x, y, fx == AF_INET ? 4 : 16))
                return true;
        if ((fx == AF_INET6 && !memcmp(x, zero, 16)) || (fy == AF_INET6 && !memcmp(y, zero, 16)))
                return true;
        if (fx == AF_INET && fy == AF_INET)
                return !memcmp(x, zero, 4) || !memcmp(y, zero, 4);
        return false;
}

static int check_forwards(struct pctx *p, const struct vmenv_config *c, struct mstate *st)
{
        _cleanup_free_ struct fwd_ref *refs = NULL;
        size_t n = 0, total = 0;

        /* A NAT guest has an address of its own: nothing to forward to. */
        for (size_t i = 0; i < c->n_machines; i++) {
                const struct vmenv_machine_config *m = &c->machines[i];
                if (!vmenv_streq(m->network, "nat") || !m->n_forwards)
                        continue;
                vmenv_cfg_fail_at(
                    p, m->forwards[0].where.line, m->forwards[0].where.column,
                    "%s[0]: forwarded ports need 'network: user', and machine '%s' has "
                    "'network: nat'",
                    st[i].fwd_prefix, m->name);
                return vmenv_error_hint(p->err, "reach the machine's ports at its own address "
                                                "('vmenv ssh-config' shows it), or drop "
                                                "'network: nat'");
        }

        for (size_t i = 0; i < c->n_machines; i++)
                total += c->machines[i].n_forwards;
        refs = vmenv_calloc(total + 1, sizeof(*refs));
        for (size_t i = 0; i < c->n_machines; i++)
                for (size_t j = 0; j < c->machines[i].n_forwards; j++)
                        refs[n++] = (struct fwd_ref){&c->machines[i].forwards[j], i, j};
        /* Groups of one host port and protocol, each in file order. */
        qsort(refs, n, sizeof(*refs), fwd_cmp);
        for (size_t g = 0, e; g < n; g = e) {
                for (e = g + 1; e < n && refs[e].f->host == refs[g].f->host &&
                                !strcmp(refs[e].f->protocol, refs[g].f->protocol);
                     e++)
                        ;
                for (size_t i = g + 1; i < e; i++)
                        for (size_t j = g; j < i; j++) {
                                const struct fwd_ref *a = &refs[j], *b = &refs[i];
                                if (!ip_overlap(a->f->host_ip, b->f->host_ip))
                                        continue;
                                vmenv_cfg_fail_at(
                                    p, b->f->where.line, b->f->where.column,
                                    "%s[%zu]: host port %d/%s on %s is already forwarded "
                                    "by machine '%s'%s%s",
                                    st[b->machine].fwd_prefix, b->index, b->f->host, b->f->protocol,
                                    b->f->host_ip, c->machines[a->machine].name,
                                    strcmp(a->f->host_ip, b->f->host_ip) ? " on " : "",
                                    strcmp(a->f->host_ip, b->f->host_ip) ? a->f->host_ip : "");
                                if (a->machine != b->machine &&
                                    a->f->where.line == b->f->where.line)
                                        return vmenv_error_hint(
                                            p->err, "the top-level forwarded_ports apply to "
                                                    "every machine: move them under "
                                                    "machines.NAME");
                                return vmenv_error_hint(p->err, "pick another host port");
                        }
        }
        return 0;
}

static int build_config(struct pctx *p, const struct ynode *root, struct vmenv_config *c)
{
        const struct ynode *machines = NULL;
        struct mstate st[VMENV_CONFIG_MAX_MACHINES] = {0};
        int r = -1;

        if (!root || vmenv_cfg_is_null(root)) {
                vmenv_cfg_fail_at(p, 1, 1, "the file is empty");
                return vmenv_error_hint(p->err, "run 'vmenv init' to write a starting point");
        }
        if (root->type != Y_MAP)
                return vmenv_cfg_fail(p, root, NULL,
                                      "expected a mapping of keys (box: ..., memory: ...), "
                                      "got %s",
                                      vmenv_cfg_type_name(root));
        for (size_t i = 0; i < root->n; i += 2)
                if (!strcmp(root->kids[i]->s, "machines"))
                        machines = root->kids[i + 1];
        if (machines && !vmenv_cfg_is_null(machines)) {
                if (vmenv_cfg_need(p, machines, Y_MAP, "machines") < 0)
                        return -1;
                if (!machines->n)
                        return vmenv_cfg_fail(p, machines, "machines", "no machines are defined");
                if (machines->n / 2 > VMENV_CONFIG_MAX_MACHINES)
                        return vmenv_cfg_fail(p, machines->kids[2 * VMENV_CONFIG_MAX_MACHINES],
                                              "machines", "too many machines (the limit is %d)",
                                              VMENV_CONFIG_MAX_MACHINES);
                c->machines = vmenv_calloc(machines->n / 2, sizeof(*c->machines));
                for (size_t i = 0; i < machines->n; i += 2) {
                        const struct ynode *k = machines->kids[i];
                        _cleanup_free_ char *kp = vmenv_cfg_key_path("machines", k->s);
                        if (!vmenv_machine_name_valid(k->s)) {
                                vmenv_cfg_fail(
                                    p, k, kp,
                                    "invalid machine name: use a-z, 0-9 and '-', starting with "
                                    "a letter or digit, at most 32 characters, not ending in '-'");
                                goto out;
                        }
                        c->n_machines++;
                        if (vmenv_cfg_build_machine(p, root, k->s, k, machines->kids[i + 1],
                                                    &c->machines[i / 2], &st[i / 2]) < 0)
                                goto out;
                }
        } else {
                if (machines)
                        return vmenv_cfg_fail(p, machines, "machines", "no machines are defined");
                c->machines = vmenv_calloc(1, sizeof(*c->machines));
                c->n_machines = 1;
                if (vmenv_cfg_build_machine(p, root, "default", NULL, NULL, &c->machines[0],
                                            &st[0]) < 0)
                        goto out;
        }
        for (size_t i = 0; i < c->n_machines; i++)
                for (size_t j = 0; j < i; j++)
                        if (c->machines[i].primary && c->machines[j].primary) {
                                const struct vmenv_where *w = &c->machines[i].where;
                                vmenv_cfg_fail_at(
                                    p, w->line, w->column,
                                    "machines.%s.primary: machine '%s' is already primary",
                                    c->machines[i].name, c->machines[j].name);
                                goto out;
                        }
        r = check_forwards(p, c, st);
        if (!r)
                r = vmenv_cfg_check_networks(p, c, st);
out:
        for (size_t i = 0; i < VMENV_ARRAY_SIZE(st); i++) {
                free(st[i].fwd_prefix);
                free(st[i].net_prefix);
        }
        return r;
}

struct vmenv_config *vmenv_config_parse(const char *text, size_t len, const char *path,
                                        vmenv_error *err)
{
        struct pctx p = {.path = path ? path : "vmenv.yaml", .err = err};
        _cleanup_(vmenv_cfg_tree_freep) struct ynode *root = NULL;
        _cleanup_(vmenv_config_freep) struct vmenv_config *c = NULL;

        if (len > VMENV_CONFIG_MAX_BYTES) {
                vmenv_error_set(err, VMENV_EXIT_CONFIG, "%s: larger than the limit of %u bytes",
                                p.path, VMENV_CONFIG_MAX_BYTES);
                return NULL;
        }
        if (memchr(text, '\0', len)) {
                vmenv_cfg_fail_at(&p, 0, 0, "contains a NUL byte: not a text file");
                return NULL;
        }
        if (vmenv_cfg_yaml_tree(&p, text, len, &root) < 0)
                return NULL;
        c = vmenv_calloc(1, sizeof(*c));
        if (build_config(&p, root, c) < 0)
                return NULL;
        return TAKE_PTR(c);
}

/* ---- files and projects ---- */

static char *project_name(const char *dir)
{
        const char *base = strrchr(dir, '/');
        struct vmenv_buf b = {0};
        char *s;

        base = base ? base + 1 : dir;
        for (; *base && b.len < 24; base++) {
                char ch = (char)tolower((unsigned char)*base);
                if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9'))
                        vmenv_buf_add(&b, &ch, 1);
                else if (b.len && b.data[b.len - 1] != '-')
                        vmenv_buf_add(&b, "-", 1);
        }
        while (b.len && b.data[b.len - 1] == '-')
                b.data[--b.len] = '\0';
        s = vmenv_buf_steal(&b);
        if (!*s) {
                free(s);
                s = vmenv_strdup("project");
        }
        return s;
}

static char *resolve_key(const char *dir, const char *key)
{
        const char *home = getenv("HOME");

        if (key[0] == '~' && key[1] == '/' && home && *home)
                return vmenv_strdupf("%s%s", home, key + 1);
        return vmenv_path_join(dir, key);
}

static struct vmenv_config *load(const char *path, const char *shown, vmenv_error *err)
{
        _cleanup_free_ char *text = NULL, *abs = NULL;
        _cleanup_(vmenv_config_freep) struct vmenv_config *c = NULL;
        size_t len = 0;
        char *slash;

        if (vmenv_read_file(path, VMENV_CONFIG_MAX_BYTES, &text, &len, err) < 0) {
                if (err->code == 0 || err->code == VMENV_EXIT_DATA)
                        err->code = VMENV_EXIT_CONFIG;
                return NULL;
        }
        if (!(c = vmenv_config_parse(text, len, shown, err)))
                return NULL;
        if (!(abs = realpath(path, NULL))) {
                vmenv_error_errno(err, VMENV_EXIT_CONFIG, errno, "cannot resolve '%s'", path);
                return NULL;
        }
        c->path = vmenv_strdup(abs);
        slash = strrchr(abs, '/');
        *slash = '\0';
        c->dir = vmenv_strdup(*abs ? abs : "/");
        c->project = project_name(c->dir);
        /* with the folder known, the bridges of the project's networks are */
        vmenv_config_place_networks_here(c);
        for (size_t i = 0; i < c->n_machines; i++) {
                char **k = &c->machines[i].ssh.private_key;
                if (*k) {
                        char *r = resolve_key(c->dir, *k);
                        free(*k);
                        *k = r;
                }
        }
        c->shown = vmenv_strdup(shown);
        return TAKE_PTR(c);
}

struct vmenv_config *vmenv_config_load(const char *path, vmenv_error *err)
{
        return load(path, path, err);
}

char *vmenv_config_find(const char *start, vmenv_error *err)
{
        const char *env = getenv("VMENV_FILE");
        _cleanup_free_ char *dir = NULL;

        if (env && *env) {
                if (!vmenv_path_exists(env)) {
                        vmenv_error_set(err, VMENV_EXIT_CONFIG,
                                        "'%s' (named by VMENV_FILE) does not exist", env);
                        vmenv_error_hint(err, "unset VMENV_FILE or run 'vmenv init'");
                        return NULL;
                }
                if (env[0] == '/')
                        return vmenv_strdup(env);
                _cleanup_free_ char *cwd = getcwd(NULL, 0);
                if (!cwd) {
                        vmenv_error_errno(err, VMENV_EXIT_IO, errno,
                                          "cannot get the current folder");
                        return NULL;
                }
                return vmenv_path_join(cwd, env);
        }
        if (start && start[0] == '/') {
                dir = vmenv_strdup(start);
        } else {
                _cleanup_free_ char *cwd = getcwd(NULL, 0);
                if (!cwd) {
                        vmenv_error_errno(err, VMENV_EXIT_IO, errno,
                                          "cannot get the current folder");
                        return NULL;
                }
                dir = start ? vmenv_path_join(cwd, start) : TAKE_PTR(cwd);
        }
        for (;;) {
                char *slash;
                _cleanup_free_ char *f = vmenv_path_join(dir, "vmenv.yaml");
                if (vmenv_path_exists(f))
                        return TAKE_PTR(f);
                slash = strrchr(dir, '/');
                if (!slash || (slash == dir && !dir[1]))
                        break;
                if (slash == dir)
                        slash[1] = '\0';
                else
                        *slash = '\0';
        }
        vmenv_error_set(err, VMENV_EXIT_CONFIG,
                        "no vmenv.yaml in this folder or any folder above it");
        vmenv_error_hint(err, "run 'vmenv init' to create one");
        return NULL;
}

struct vmenv_config *vmenv_config_load_project(const char *start, vmenv_error *err)
{
        _cleanup_free_ char *path = NULL, *cwd = NULL, *shown = NULL;
        const char *slash;

        if (!(path = vmenv_config_find(start, err)))
                return NULL;
        /* Messages say "vmenv.yaml:3:1" when the file is right here. */
        cwd = getcwd(NULL, 0);
        slash = strrchr(path, '/');
        if (cwd && slash && strlen(cwd) == (size_t)(slash - path) &&
            !strncmp(cwd, path, (size_t)(slash - path)))
                shown = vmenv_strdup(slash + 1);
        else
                shown = vmenv_strdup(path);
        return load(path, shown, err);
}

const struct vmenv_machine_config *vmenv_config_machine(const struct vmenv_config *c,
                                                        const char *name)
{
        for (size_t i = 0; c && name && i < c->n_machines; i++)
                if (!strcmp(c->machines[i].name, name))
                        return &c->machines[i];
        return NULL;
}

void vmenv_config_set_uri(struct vmenv_config *c, const char *uri)
{
        for (size_t i = 0; c && i < c->n_machines; i++) {
                free(c->machines[i].libvirt.uri);
                c->machines[i].libvirt.uri = vmenv_strdup(uri);
        }
}
