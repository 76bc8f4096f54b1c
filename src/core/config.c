/* vmenv.yaml: libyaml events → a small tree (no anchors, bounded depth and
 * size) → one fully resolved struct vmenv_machine_config per machine.
 * Top-level keys are applied to every machine first, then the machine's own
 * keys on top: scalars and lists are replaced, ssh:/libvirt: merge by key. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#include "vmenv/cleanup.h"
#include "vmenv/config.h"
#include "vmenv/util.h"

/* Limits beyond the header's: entries of one mapping or list, all values. */
#define MAX_ENTRIES 1024
#define MAX_NODES 100000
#define MAX_FORWARDS 256
#define MAX_FOLDERS 64
#define MAX_PROVISIONERS 256
#define MAX_LIST 1024 /* args, exclude, env */

#define MEM_MIN (16ull << 20)
#define MEM_MAX (1ull << 40)
#define DISK_MIN (16ull << 20)
#define DISK_MAX (16ull << 40)

enum ytype { Y_SCALAR, Y_MAP, Y_SEQ };

struct ynode {
        enum ytype type;
        char *s; /* scalar text */
        size_t len;
        bool plain; /* unquoted scalar: may be null/bool/int */
        unsigned line, col;
        struct ynode **kids; /* map: key, value, key, value ... */
        size_t n, cap;
};

struct pctx {
        const char *path; /* for messages */
        vmenv_error *err;
        size_t nodes;
};

static void ynode_free(struct ynode *n)
{
        if (!n)
                return;
        for (size_t i = 0; i < n->n; i++)
                ynode_free(n->kids[i]);
        free(n->kids);
        free(n->s);
        free(n);
}

VMENV_DEFINE_CLEANUP(struct ynode, ynode_free)

__attribute__((format(printf, 4, 5))) static int fail_at(struct pctx *p, unsigned line,
                                                         unsigned col, const char *fmt, ...)
{
        _cleanup_free_ char *msg = NULL;
        va_list ap;

        va_start(ap, fmt);
        msg = vmenv_vstrdupf(fmt, ap);
        va_end(ap);
        if (line)
                return vmenv_error_set(p->err, VMENV_EXIT_CONFIG, "%s:%u:%u: %s", p->path, line,
                                       col, msg);
        return vmenv_error_set(p->err, VMENV_EXIT_CONFIG, "%s: %s", p->path, msg);
}

/* "PATH:LINE:COL: KEY.PATH: what" */
__attribute__((format(printf, 4, 5))) static int fail(struct pctx *p, const struct ynode *n,
                                                      const char *key, const char *fmt, ...)
{
        _cleanup_free_ char *msg = NULL;
        va_list ap;

        va_start(ap, fmt);
        msg = vmenv_vstrdupf(fmt, ap);
        va_end(ap);
        if (key && *key)
                return fail_at(p, n ? n->line : 0, n ? n->col : 0, "%s: %s", key, msg);
        return fail_at(p, n ? n->line : 0, n ? n->col : 0, "%s", msg);
}

/* ---- YAML events → tree ---- */

/* The key path of the collection being built at stack depth d, for errors
 * raised while the tree is still being read (duplicate keys, limits). */
static char *stack_path(struct ynode **stack, int depth)
{
        struct vmenv_buf b = {0};

        for (int i = 0; i + 1 < depth; i++) {
                const struct ynode *par = stack[i];
                if (par->type == Y_MAP && par->n >= 2) {
                        if (b.len)
                                vmenv_buf_puts(&b, ".");
                        vmenv_buf_puts(&b, par->kids[par->n - 2]->s);
                } else if (par->type == Y_SEQ && par->n) {
                        vmenv_buf_printf(&b, "[%zu]", par->n - 1);
                }
        }
        return vmenv_buf_steal(&b);
}

static int tree_add(struct pctx *p, struct ynode **stack, int depth, struct ynode **root,
                    struct ynode *node)
{
        struct ynode *par;

        if (++p->nodes > MAX_NODES) {
                unsigned l = node->line, c = node->col;
                ynode_free(node);
                return fail_at(p, l, c, "too many values (the limit is %d)", MAX_NODES);
        }
        if (depth == 0) {
                *root = node;
                return 0;
        }
        par = stack[depth - 1];
        if (par->type == Y_MAP && par->n % 2 == 0) {
                _cleanup_free_ char *where = stack_path(stack, depth);
                if (node->type != Y_SCALAR) {
                        unsigned l = node->line, c = node->col;
                        ynode_free(node);
                        return fail_at(p, l, c, "%s%skeys must be plain strings", where,
                                       *where ? ": " : "");
                }
                for (size_t i = 0; i < par->n; i += 2)
                        if (par->kids[i]->len == node->len &&
                            !memcmp(par->kids[i]->s, node->s, node->len)) {
                                unsigned first = par->kids[i]->line;
                                if (depth == 2 && !strcmp(where, "machines"))
                                        fail_at(p, node->line, node->col,
                                                "machines.%s: machine '%s' is defined twice "
                                                "(first on line %u)",
                                                node->s, node->s, first);
                                else
                                        fail_at(p, node->line, node->col,
                                                "%s%s%s: duplicate key (first given on line %u)",
                                                where, *where ? "." : "", node->s, first);
                                ynode_free(node);
                                return -1;
                        }
        }
        if (par->n >= 2 * MAX_ENTRIES) {
                _cleanup_free_ char *where = stack_path(stack, depth);
                unsigned l = node->line, c = node->col;
                ynode_free(node);
                return fail_at(p, l, c, "%s%stoo many entries (the limit is %d)", where,
                               *where ? ": " : "", MAX_ENTRIES);
        }
        if (par->n == par->cap) {
                par->cap = par->cap ? 2 * par->cap : 8;
                par->kids = vmenv_realloc(par->kids, par->cap * sizeof(*par->kids));
        }
        par->kids[par->n++] = node;
        return 0;
}

static struct ynode *ynode_new(enum ytype t, const yaml_mark_t *m)
{
        struct ynode *n = vmenv_calloc(1, sizeof(*n));
        n->type = t;
        n->line = (unsigned)m->line + 1;
        n->col = (unsigned)m->column + 1;
        return n;
}

static int yaml_problem(struct pctx *p, const yaml_parser_t *ps)
{
        unsigned line = (unsigned)ps->problem_mark.line + 1;
        unsigned col = (unsigned)ps->problem_mark.column + 1;

        if (ps->error == YAML_MEMORY_ERROR)
                abort();
        if (ps->problem && ps->context)
                return fail_at(p, line, col, "invalid YAML: %s (%s started on line %u)",
                               ps->problem, ps->context, (unsigned)ps->context_mark.line + 1);
        return fail_at(p, line, col, "invalid YAML: %s",
                       ps->problem ? ps->problem : "cannot parse");
}

/* *out is NULL for an empty document. */
static int yaml_tree(struct pctx *p, const char *text, size_t len, struct ynode **out)
{
        yaml_parser_t ps;
        yaml_event_t ev;
        struct ynode *stack[VMENV_CONFIG_MAX_DEPTH + 1];
        _cleanup_(ynode_freep) struct ynode *root = NULL;
        int depth = 0, docs = 0, r = 0;
        bool done = false;

        if (!yaml_parser_initialize(&ps))
                abort();
        yaml_parser_set_input_string(&ps, (const unsigned char *)text, len);
        yaml_parser_set_encoding(&ps, YAML_UTF8_ENCODING);
        while (!done && r == 0) {
                struct ynode *n = NULL;
                const char *anchor = NULL;

                if (!yaml_parser_parse(&ps, &ev)) {
                        r = yaml_problem(p, &ps);
                        break;
                }
                switch (ev.type) {
                case YAML_STREAM_END_EVENT:
                        done = true;
                        break;
                case YAML_DOCUMENT_START_EVENT:
                        if (++docs > 1)
                                r = fail_at(p, (unsigned)ev.start_mark.line + 1,
                                            (unsigned)ev.start_mark.column + 1,
                                            "only one YAML document is allowed");
                        break;
                case YAML_ALIAS_EVENT:
                        r = fail_at(p, (unsigned)ev.start_mark.line + 1,
                                    (unsigned)ev.start_mark.column + 1,
                                    "YAML aliases (*%s) are not supported: write the value out",
                                    (const char *)ev.data.alias.anchor);
                        break;
                case YAML_SCALAR_EVENT:
                        anchor = (const char *)ev.data.scalar.anchor;
                        if (anchor)
                                break;
                        n = ynode_new(Y_SCALAR, &ev.start_mark);
                        n->len = ev.data.scalar.length;
                        n->s = vmenv_strndup((const char *)ev.data.scalar.value, n->len);
                        n->s[n->len] = '\0';
                        n->plain =
                            ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !ev.data.scalar.tag;
                        r = tree_add(p, stack, depth, &root, n);
                        break;
                case YAML_SEQUENCE_START_EVENT:
                case YAML_MAPPING_START_EVENT:
                        anchor = ev.type == YAML_SEQUENCE_START_EVENT
                                     ? (const char *)ev.data.sequence_start.anchor
                                     : (const char *)ev.data.mapping_start.anchor;
                        if (anchor)
                                break;
                        if (depth >= VMENV_CONFIG_MAX_DEPTH) {
                                r = fail_at(p, (unsigned)ev.start_mark.line + 1,
                                            (unsigned)ev.start_mark.column + 1,
                                            "nested too deeply (the limit is %d levels)",
                                            VMENV_CONFIG_MAX_DEPTH);
                                break;
                        }
                        n = ynode_new(ev.type == YAML_MAPPING_START_EVENT ? Y_MAP : Y_SEQ,
                                      &ev.start_mark);
                        if ((r = tree_add(p, stack, depth, &root, n)) == 0)
                                stack[depth++] = n;
                        break;
                case YAML_SEQUENCE_END_EVENT:
                case YAML_MAPPING_END_EVENT:
                        depth--;
                        break;
                default:
                        break;
                }
                if (anchor && r == 0)
                        r = fail_at(
                            p, (unsigned)ev.start_mark.line + 1, (unsigned)ev.start_mark.column + 1,
                            "YAML anchors (&%s) are not supported: write the value out", anchor);
                yaml_event_delete(&ev);
        }
        yaml_parser_delete(&ps);
        if (r < 0)
                return -1;
        *out = TAKE_PTR(root);
        return 0;
}

/* ---- scalars ---- */

static bool is_null(const struct ynode *n)
{
        return n->type == Y_SCALAR && n->plain &&
               (!n->len || !strcmp(n->s, "~") || !strcmp(n->s, "null") || !strcmp(n->s, "Null") ||
                !strcmp(n->s, "NULL"));
}

static const char *type_name(const struct ynode *n)
{
        if (n->type == Y_MAP)
                return "a mapping";
        if (n->type == Y_SEQ)
                return "a list";
        if (is_null(n))
                return "nothing";
        return "a string";
}

static int get_str(struct pctx *p, const struct ynode *n, const char *key, char **out)
{
        if (n->type != Y_SCALAR || is_null(n))
                return fail(p, n, key, "expected a string, got %s", type_name(n));
        if (strlen(n->s) != n->len)
                return fail(p, n, key, "contains a NUL character");
        free(*out);
        *out = vmenv_strdup(n->s);
        return 0;
}

/* A string from a closed set; the hint lists the set. */
static int get_enum(struct pctx *p, const struct ynode *n, const char *key, const char *const *set,
                    char **out)
{
        _cleanup_free_ char *v = NULL;
        struct vmenv_buf b = {0};
        const char *best;

        if (get_str(p, n, key, &v) < 0)
                return -1;
        for (const char *const *s = set; *s; s++)
                if (!strcmp(v, *s)) {
                        free(*out);
                        *out = TAKE_PTR(v);
                        return 0;
                }
        for (const char *const *s = set; *s; s++)
                vmenv_buf_printf(&b, "%s%s", s == set ? "" : (s[1] ? ", " : " or "), *s);
        best = vmenv_did_you_mean(v, set);
        if (best)
                fail(p, n, key, "\"%s\" is not one of %s; did you mean '%s'?", v, b.data, best);
        else
                fail(p, n, key, "\"%s\" is not one of %s", v, b.data);
        vmenv_buf_free(&b);
        return -1;
}

static int get_bool(struct pctx *p, const struct ynode *n, const char *key, bool *out)
{
        static const char *const t[] = {"true", "True", "TRUE", "yes", "Yes", "on", NULL};
        static const char *const f[] = {"false", "False", "FALSE", "no", "No", "off", NULL};

        if (n->type == Y_SCALAR && n->plain) {
                for (size_t i = 0; t[i]; i++)
                        if (!strcmp(n->s, t[i])) {
                                *out = true;
                                return 0;
                        }
                for (size_t i = 0; f[i]; i++)
                        if (!strcmp(n->s, f[i])) {
                                *out = false;
                                return 0;
                        }
        }
        if (n->type == Y_SCALAR)
                return fail(p, n, key, "expected true or false, got \"%s\"", n->s);
        return fail(p, n, key, "expected true or false, got %s", type_name(n));
}

static int get_int(struct pctx *p, const struct ynode *n, const char *key, long min, long max,
                   const char *what, int *out)
{
        char *end;
        long v;

        if (n->type != Y_SCALAR || is_null(n))
                return fail(p, n, key, "expected %s, got %s", what, type_name(n));
        errno = 0;
        v = strtol(n->s, &end, 10);
        if (!n->len || !isdigit((unsigned char)n->s[n->s[0] == '-' ? 1 : 0]) || *end ||
            (errno && errno != ERANGE))
                return fail(p, n, key, "expected %s, got \"%s\"", what, n->s);
        if (errno == ERANGE || v < min || v > max)
                return fail(p, n, key, "%s is out of range (%ld to %ld)", n->s, min, max);
        *out = (int)v;
        return 0;
}

static void fmt_size(uint64_t v, char *buf, size_t len)
{
        if (v >= (1ull << 40) && v % (1ull << 40) == 0)
                snprintf(buf, len, "%lluT", (unsigned long long)(v >> 40));
        else if (v >= (1ull << 30) && v % (1ull << 30) == 0)
                snprintf(buf, len, "%lluG", (unsigned long long)(v >> 30));
        else
                snprintf(buf, len, "%lluM", (unsigned long long)(v >> 20));
}

static int get_size(struct pctx *p, const struct ynode *n, const char *key, uint64_t min,
                    uint64_t max, uint64_t *out)
{
        char lo[32], hi[32];
        uint64_t v;

        if (n->type != Y_SCALAR || is_null(n))
                return fail(p, n, key, "expected a size like 512M or 2G, got %s", type_name(n));
        if (n->s[0] == '-')
                return fail(p, n, key, "a size cannot be negative, got \"%s\"", n->s);
        if (vmenv_parse_size(n->s, &v) < 0)
                return fail(p, n, key, "expected a size like 512M or 2G, got \"%s\"", n->s);
        if (v == 0)
                return fail(p, n, key, "a size cannot be zero; use at least %s",
                            (fmt_size(min, lo, sizeof(lo)), lo));
        fmt_size(min, lo, sizeof(lo));
        fmt_size(max, hi, sizeof(hi));
        if (v < min) {
                bool digits = strspn(n->s, "0123456789") == n->len;
                if (digits)
                        return fail(p, n, key,
                                    "%s bytes is less than the minimum of %s; did you mean %sM?",
                                    n->s, lo, n->s);
                return fail(p, n, key, "%s is less than the minimum of %s", n->s, lo);
        }
        if (v > max)
                return fail(p, n, key, "%s is more than the maximum of %s", n->s, hi);
        *out = v;
        return 0;
}

static int need(struct pctx *p, const struct ynode *n, enum ytype t, const char *key)
{
        if (n->type == t)
                return 0;
        return fail(p, n, key, "expected %s, got %s", t == Y_MAP ? "a mapping" : "a list",
                    type_name(n));
}

static int unknown_key(struct pctx *p, const struct ynode *k, const char *path,
                       const char *const *keys)
{
        const char *best = vmenv_did_you_mean(k->s, keys);

        if (best)
                fail(p, k, path, "unknown key; did you mean '%s'?", best);
        else
                fail(p, k, path, "unknown key");
        return vmenv_error_hint(p->err, "see vmenv.yaml(5) for the keys vmenv reads");
}

static char *key_path(const char *prefix, const char *key)
{
        return vmenv_strdupf("%s%s%s", prefix, *prefix ? "." : "", key);
}

static int get_strv(struct pctx *p, const struct ynode *n, const char *key, char ***out)
{
        char **v = NULL;

        if (need(p, n, Y_SEQ, key) < 0)
                return -1;
        if (n->n > MAX_LIST)
                return fail(p, n, key, "too many entries (the limit is %d)", MAX_LIST);
        for (size_t i = 0; i < n->n; i++) {
                _cleanup_free_ char *ik = vmenv_strdupf("%s[%zu]", key, i);
                char *s = NULL;
                if (get_str(p, n->kids[i], ik, &s) < 0) {
                        vmenv_strv_free(v);
                        return -1;
                }
                vmenv_strv_push(&v, s);
        }
        if (!v)
                v = vmenv_calloc(1, sizeof(char *));
        vmenv_strv_free(*out);
        *out = v;
        return 0;
}

/* ---- names ---- */

bool vmenv_machine_name_valid(const char *name)
{
        size_t n = name ? strlen(name) : 0;

        if (!n || n > 32 || name[n - 1] == '-')
                return false;
        if (!(islower((unsigned char)name[0]) || isdigit((unsigned char)name[0])))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!(name[i] >= 'a' && name[i] <= 'z') && !(name[i] >= '0' && name[i] <= '9') &&
                    name[i] != '-')
                        return false;
        return true;
}

static bool hostname_valid(const char *h)
{
        size_t len = strlen(h), label = 0;

        if (!len || len > 253)
                return false;
        for (size_t i = 0; i <= len; i++) {
                char c = h[i];
                if (c == '.' || c == '\0') {
                        if (!label || h[i - 1] == '-' || label > 63)
                                return false;
                        label = 0;
                } else if (isalnum((unsigned char)c) || (c == '-' && label)) {
                        label++;
                } else {
                        return false;
                }
        }
        return true;
}

static bool env_name_valid(const char *s)
{
        if (!*s || isdigit((unsigned char)*s))
                return false;
        for (; *s; s++)
                if (!isalnum((unsigned char)*s) && *s != '_')
                        return false;
        return true;
}

static bool checksum_valid(const char *s)
{
        static const struct {
                const char *type;
                size_t hex;
        } types[] = {{"sha256", 64}, {"sha384", 96}, {"sha512", 128}, {"sha1", 40}, {"md5", 32}};
        const char *colon = strchr(s, ':');

        if (!colon)
                return false;
        for (size_t i = 0; i < VMENV_ARRAY_SIZE(types); i++)
                if (strlen(types[i].type) == (size_t)(colon - s) &&
                    !strncmp(s, types[i].type, (size_t)(colon - s)))
                        return strlen(colon + 1) == types[i].hex &&
                               strspn(colon + 1, "0123456789abcdefABCDEF") == types[i].hex;
        return false;
}

/* ---- freeing ---- */

static void forward_clear(struct vmenv_forward *f)
{
        free(f->host_ip);
        free(f->protocol);
        free(f->id);
}

static void folder_clear(struct vmenv_synced_folder *f)
{
        free(f->host);
        free(f->guest);
        free(f->type);
        vmenv_strv_free(f->exclude);
}

static void prov_clear(struct vmenv_provisioner *v)
{
        free(v->name);
        free(v->inline_text);
        free(v->path);
        vmenv_strv_free(v->args);
        for (size_t i = 0; i < v->n_env; i++) {
                free(v->env[i].name);
                free(v->env[i].value);
        }
        free(v->env);
        free(v->source);
        free(v->destination);
}

static void forwards_free(struct vmenv_machine_config *m)
{
        for (size_t i = 0; i < m->n_forwards; i++)
                forward_clear(&m->forwards[i]);
        free(m->forwards);
        m->forwards = NULL;
        m->n_forwards = 0;
}

static void folders_free(struct vmenv_machine_config *m)
{
        for (size_t i = 0; i < m->n_folders; i++)
                folder_clear(&m->folders[i]);
        free(m->folders);
        m->folders = NULL;
        m->n_folders = 0;
}

static void provs_free(struct vmenv_machine_config *m)
{
        for (size_t i = 0; i < m->n_provisioners; i++)
                prov_clear(&m->provisioners[i]);
        free(m->provisioners);
        m->provisioners = NULL;
        m->n_provisioners = 0;
}

static void machine_clear(struct vmenv_machine_config *m)
{
        free(m->name);
        free(m->box);
        free(m->box_version);
        free(m->box_url);
        free(m->box_checksum);
        free(m->hostname);
        free(m->network);
        forwards_free(m);
        folders_free(m);
        provs_free(m);
        free(m->ssh.user);
        free(m->ssh.private_key);
        free(m->kernel);
        free(m->initrd);
        free(m->cmdline);
        free(m->libvirt.uri);
        free(m->libvirt.machine_type);
        free(m->libvirt.cpu_mode);
        free(m->libvirt.storage_pool);
        free(m->libvirt.video);
        free(m->libvirt.graphics);
}

void vmenv_config_free(struct vmenv_config *c)
{
        if (!c)
                return;
        for (size_t i = 0; i < c->n_machines; i++)
                machine_clear(&c->machines[i]);
        free(c->machines);
        free(c->path);
        free(c->dir);
        free(c->project);
        free(c);
}

VMENV_DEFINE_CLEANUP(struct vmenv_config, vmenv_config_free)

/* ---- schema ---- */

static const char *const machine_keys[] = {
    "box",      "box_version",  "box_url", "box_checksum",    "cpus",           "memory",    "disk",
    "hostname", "boot_timeout", "network", "forwarded_ports", "synced_folders", "provision", "ssh",
    "kernel",   "initrd",       "cmdline", "libvirt",         "primary",        "machines",  NULL};
static const char *const forward_keys[] = {"guest",        "host", "host_ip", "protocol",
                                           "auto_correct", "id",   NULL};
static const char *const folder_keys[] = {
    "host", "guest", "type", "exclude", "disabled", "allow_private_state", NULL};
static const char *const prov_keys[] = {"name",   "shell",       "script", "args",
                                        "env",    "privileged",  "run",    "file",
                                        "source", "destination", NULL};
static const char *const file_keys[] = {"source", "destination", NULL};
static const char *const env_keys[] = {"value", "sensitive", NULL};
static const char *const ssh_keys[] = {"user", "port", "private_key", NULL};
static const char *const libvirt_keys[] = {"uri",   "machine_type", "cpu_mode", "storage_pool",
                                           "video", "graphics",     NULL};
static const char *const protocols[] = {"tcp", "udp", NULL};
static const char *const folder_types[] = {"rsync", "9p", "virtiofs", NULL};
static const char *const networks[] = {"user", "nat", NULL};
static const char *const runs[] = {"once", "always", "never", NULL};
static const char *const cpu_modes[] = {"host-passthrough", "host-model", "maximum", "custom",
                                        NULL};
static const char *const videos[] = {"none",   "virtio", "vga",   "qxl",
                                     "cirrus", "bochs",  "ramfb", NULL};
static const char *const graphics_set[] = {"none", "vnc", "spice", NULL};

static int parse_forward(struct pctx *p, const struct ynode *n, const char *path,
                         struct vmenv_forward *f)
{
        bool has_guest = false, has_host = false;

        if (need(p, n, Y_MAP, path) < 0)
                return -1;
        f->where = (struct vmenv_where){n->line, n->col};
        for (size_t i = 0; i < n->n; i += 2) {
                const struct ynode *k = n->kids[i], *v = n->kids[i + 1];
                _cleanup_free_ char *kp = key_path(path, k->s);
                int r;

                if (!strcmp(k->s, "guest")) {
                        r = get_int(p, v, kp, 1, 65535, "a port number", &f->guest);
                        has_guest = true;
                } else if (!strcmp(k->s, "host")) {
                        r = get_int(p, v, kp, 1, 65535, "a port number", &f->host);
                        has_host = true;
                } else if (!strcmp(k->s, "host_ip")) {
                        unsigned char buf[16];
                        r = get_str(p, v, kp, &f->host_ip);
                        if (!r && inet_pton(AF_INET, f->host_ip, buf) != 1 &&
                            inet_pton(AF_INET6, f->host_ip, buf) != 1)
                                r = fail(p, v, kp, "\"%s\" is not an IP address", f->host_ip);
                } else if (!strcmp(k->s, "protocol")) {
                        r = get_enum(p, v, kp, protocols, &f->protocol);
                } else if (!strcmp(k->s, "auto_correct")) {
                        r = get_bool(p, v, kp, &f->auto_correct);
                } else if (!strcmp(k->s, "id")) {
                        r = get_str(p, v, kp, &f->id);
                } else {
                        r = unknown_key(p, k, kp, forward_keys);
                }
                if (r < 0)
                        return -1;
        }
        if (!has_guest)
                return fail(p, n, path, "a forwarded port needs 'guest' (the port in the machine)");
        if (!has_host)
                return fail(p, n, path,
                            "a forwarded port needs 'host' (the port on this computer)");
        if (!f->host_ip)
                f->host_ip = vmenv_strdup("127.0.0.1");
        if (!f->protocol)
                f->protocol = vmenv_strdup("tcp");
        return 0;
}

static int parse_folder(struct pctx *p, const struct ynode *n, const char *path,
                        struct vmenv_synced_folder *f)
{
        if (need(p, n, Y_MAP, path) < 0)
                return -1;
        f->where = (struct vmenv_where){n->line, n->col};
        for (size_t i = 0; i < n->n; i += 2) {
                const struct ynode *k = n->kids[i], *v = n->kids[i + 1];
                _cleanup_free_ char *kp = key_path(path, k->s);
                int r;

                if (!strcmp(k->s, "host"))
                        r = get_str(p, v, kp, &f->host);
                else if (!strcmp(k->s, "guest")) {
                        r = get_str(p, v, kp, &f->guest);
                        if (!r && f->guest[0] != '/')
                                r = fail(p, v, kp, "\"%s\" is not an absolute path", f->guest);
                } else if (!strcmp(k->s, "type"))
                        r = get_enum(p, v, kp, folder_types, &f->type);
                else if (!strcmp(k->s, "exclude"))
                        r = get_strv(p, v, kp, &f->exclude);
                else if (!strcmp(k->s, "disabled"))
                        r = get_bool(p, v, kp, &f->disabled);
                else if (!strcmp(k->s, "allow_private_state"))
                        r = get_bool(p, v, kp, &f->allow_private_state);
                else
                        r = unknown_key(p, k, kp, folder_keys);
                if (r < 0)
                        return -1;
        }
        if (!f->host)
                return fail(p, n, path, "a synced folder needs 'host' (a folder of the project)");
        if (!f->guest)
                return fail(p, n, path, "a synced folder needs 'guest' (an absolute path)");
        if (!f->type)
                f->type = vmenv_strdup("rsync");
        return 0;
}

static int parse_env(struct pctx *p, const struct ynode *n, const char *path,
                     struct vmenv_provisioner *v)
{
        if (need(p, n, Y_MAP, path) < 0)
                return -1;
        if (n->n / 2 > MAX_LIST)
                return fail(p, n, path, "too many entries (the limit is %d)", MAX_LIST);
        for (size_t i = 0; i < v->n_env; i++) {
                free(v->env[i].name);
                free(v->env[i].value);
        }
        free(v->env);
        v->n_env = 0;
        v->env = vmenv_calloc(n->n / 2 + 1, sizeof(*v->env));
        for (size_t i = 0; i < n->n; i += 2) {
                const struct ynode *k = n->kids[i], *val = n->kids[i + 1];
                _cleanup_free_ char *kp = key_path(path, k->s);
                struct vmenv_env_var *e = &v->env[v->n_env];

                if (!env_name_valid(k->s))
                        return fail(p, k, kp,
                                    "not a valid variable name (letters, digits and _, not "
                                    "starting with a digit)");
                e->name = vmenv_strdup(k->s);
                v->n_env++;
                if (val->type == Y_MAP) {
                        bool has_value = false;
                        for (size_t j = 0; j < val->n; j += 2) {
                                const struct ynode *k2 = val->kids[j], *v2 = val->kids[j + 1];
                                _cleanup_free_ char *kp2 = key_path(kp, k2->s);
                                int r;
                                if (!strcmp(k2->s, "value")) {
                                        r = get_str(p, v2, kp2, &e->value);
                                        has_value = true;
                                } else if (!strcmp(k2->s, "sensitive")) {
                                        r = get_bool(p, v2, kp2, &e->sensitive);
                                } else {
                                        r = unknown_key(p, k2, kp2, env_keys);
                                }
                                if (r < 0)
                                        return -1;
                        }
                        if (!has_value)
                                return fail(p, val, kp, "needs 'value'");
                } else if (val->type == Y_SCALAR && is_null(val)) {
                        e->value = vmenv_strdup("");
                } else if (get_str(p, val, kp, &e->value) < 0) {
                        return -1;
                }
        }
        return 0;
}

static int parse_prov(struct pctx *p, const struct ynode *n, const char *path, size_t index,
                      struct vmenv_provisioner *v)
{
        const struct ynode *file = NULL, *shell = NULL, *script = NULL, *src = NULL, *dst = NULL;

        if (need(p, n, Y_MAP, path) < 0)
                return -1;
        v->where = (struct vmenv_where){n->line, n->col};
        v->privileged = true;
        v->run = VMENV_RUN_ONCE;
        for (size_t i = 0; i < n->n; i += 2) {
                const struct ynode *k = n->kids[i], *val = n->kids[i + 1];
                _cleanup_free_ char *kp = key_path(path, k->s);
                int r = 0;

                if (!strcmp(k->s, "name")) {
                        r = get_str(p, val, kp, &v->name);
                        if (!r && !*v->name)
                                r = fail(p, val, kp, "must not be empty");
                } else if (!strcmp(k->s, "shell")) {
                        shell = k;
                        r = get_str(p, val, kp, &v->inline_text);
                } else if (!strcmp(k->s, "script")) {
                        script = k;
                        r = get_str(p, val, kp, &v->path);
                } else if (!strcmp(k->s, "args")) {
                        r = get_strv(p, val, kp, &v->args);
                } else if (!strcmp(k->s, "env")) {
                        r = parse_env(p, val, kp, v);
                } else if (!strcmp(k->s, "privileged")) {
                        r = get_bool(p, val, kp, &v->privileged);
                } else if (!strcmp(k->s, "run")) {
                        _cleanup_free_ char *run = NULL;
                        r = get_enum(p, val, kp, runs, &run);
                        if (!r)
                                v->run = !strcmp(run, "once")     ? VMENV_RUN_ONCE
                                         : !strcmp(run, "always") ? VMENV_RUN_ALWAYS
                                                                  : VMENV_RUN_NEVER;
                } else if (!strcmp(k->s, "file")) {
                        file = k;
                        if (val->type == Y_MAP) {
                                for (size_t j = 0; j < val->n && !r; j += 2) {
                                        const struct ynode *k2 = val->kids[j];
                                        _cleanup_free_ char *kp2 = key_path(kp, k2->s);
                                        if (!strcmp(k2->s, "source"))
                                                r = get_str(p, val->kids[j + 1], kp2, &v->source);
                                        else if (!strcmp(k2->s, "destination"))
                                                r = get_str(p, val->kids[j + 1], kp2,
                                                            &v->destination);
                                        else
                                                r = unknown_key(p, k2, kp2, file_keys);
                                }
                        } else {
                                /* `file: SRC` with `destination:` beside it */
                                r = get_str(p, val, kp, &v->source);
                        }
                } else if (!strcmp(k->s, "source")) {
                        src = k;
                        r = get_str(p, val, kp, &v->source);
                } else if (!strcmp(k->s, "destination")) {
                        dst = k;
                        r = get_str(p, val, kp, &v->destination);
                } else {
                        r = unknown_key(p, k, kp, prov_keys);
                }
                if (r < 0)
                        return -1;
        }
        if (shell && script)
                return fail(p, script, path, "give either 'shell' or 'script', not both");
        if (file && (shell || script))
                return fail(p, file, path,
                            "a provisioner is either a file ('file') or a command ('shell' or "
                            "'script'), not both");
        if (!file && !shell && !script) {
                if (src || dst)
                        return fail(p, n, path,
                                    "'source' and 'destination' belong in a file provisioner: "
                                    "file: {source: ..., destination: ...}");
                return fail(p, n, path, "a provisioner needs 'shell', 'script' or 'file'");
        }
        if (file) {
                v->kind = VMENV_PROV_FILE;
                if (!v->source)
                        return fail(p, file, path, "a file provisioner needs a 'source'");
                if (!v->destination)
                        return fail(p, file, path, "a file provisioner needs a 'destination'");
                if (v->args || v->env)
                        return fail(p, file, path, "'args' and 'env' go with 'shell' or 'script'");
        } else {
                v->kind = VMENV_PROV_SHELL;
                if (src || dst)
                        return fail(p, src ? src : dst, path,
                                    "'source' and 'destination' go with 'file'");
        }
        if (!v->name)
                v->name = vmenv_strdupf("%s-%zu", file ? "file" : "shell", index + 1);
        return 0;
}

static int parse_list(struct pctx *p, const struct ynode *n, const char *path, size_t max,
                      size_t elem, void **out, size_t *count,
                      int (*one)(struct pctx *, const struct ynode *, const char *, size_t, void *))
{
        char *arr;

        if (is_null(n)) {
                *out = NULL;
                *count = 0;
                return 0;
        }
        if (need(p, n, Y_SEQ, path) < 0)
                return -1;
        if (n->n > max)
                return fail(p, n, path, "too many entries (the limit is %zu)", max);
        arr = vmenv_calloc(n->n + 1, elem);
        *out = arr;
        for (size_t i = 0; i < n->n; i++) {
                _cleanup_free_ char *ip = vmenv_strdupf("%s[%zu]", path, i);
                (*count)++;
                if (one(p, n->kids[i], ip, i, arr + i * elem) < 0)
                        return -1;
        }
        return 0;
}

static int one_forward(struct pctx *p, const struct ynode *n, const char *path, size_t i, void *out)
{
        return parse_forward(p, n, path, out);
}

static int one_folder(struct pctx *p, const struct ynode *n, const char *path, size_t i, void *out)
{
        return parse_folder(p, n, path, out);
}

static int one_prov(struct pctx *p, const struct ynode *n, const char *path, size_t i, void *out)
{
        return parse_prov(p, n, path, i, out);
}

static int parse_ssh(struct pctx *p, const struct ynode *n, const char *path,
                     struct vmenv_ssh_config *s)
{
        if (need(p, n, Y_MAP, path) < 0)
                return -1;
        for (size_t i = 0; i < n->n; i += 2) {
                const struct ynode *k = n->kids[i], *v = n->kids[i + 1];
                _cleanup_free_ char *kp = key_path(path, k->s);
                int r;

                if (!strcmp(k->s, "user"))
                        r = get_str(p, v, kp, &s->user);
                else if (!strcmp(k->s, "port"))
                        r = get_int(p, v, kp, 1, 65535, "a port number", &s->port);
                else if (!strcmp(k->s, "private_key"))
                        r = get_str(p, v, kp, &s->private_key);
                else
                        r = unknown_key(p, k, kp, ssh_keys);
                if (r < 0)
                        return -1;
        }
        return 0;
}

/* An enum whose "none" means unset. */
static int get_optional_enum(struct pctx *p, const struct ynode *n, const char *key,
                             const char *const *set, char **out)
{
        if (get_enum(p, n, key, set, out) < 0)
                return -1;
        if (!strcmp(*out, "none")) {
                free(*out);
                *out = NULL;
        }
        return 0;
}

static int parse_libvirt(struct pctx *p, const struct ynode *n, const char *path,
                         struct vmenv_libvirt_config *l)
{
        if (need(p, n, Y_MAP, path) < 0)
                return -1;
        for (size_t i = 0; i < n->n; i += 2) {
                const struct ynode *k = n->kids[i], *v = n->kids[i + 1];
                _cleanup_free_ char *kp = key_path(path, k->s);
                int r;

                if (!strcmp(k->s, "uri"))
                        r = get_str(p, v, kp, &l->uri);
                else if (!strcmp(k->s, "machine_type"))
                        r = get_str(p, v, kp, &l->machine_type);
                else if (!strcmp(k->s, "cpu_mode"))
                        r = get_enum(p, v, kp, cpu_modes, &l->cpu_mode);
                else if (!strcmp(k->s, "storage_pool"))
                        r = get_str(p, v, kp, &l->storage_pool);
                else if (!strcmp(k->s, "video"))
                        r = get_optional_enum(p, v, kp, videos, &l->video);
                else if (!strcmp(k->s, "graphics"))
                        r = get_optional_enum(p, v, kp, graphics_set, &l->graphics);
                else
                        r = unknown_key(p, k, kp, libvirt_keys);
                if (r < 0)
                        return -1;
        }
        return 0;
}

/* Where the machine's forwarded_ports came from, for duplicate errors. */
struct mstate {
        char *fwd_prefix;
};

static int apply_key(struct pctx *p, struct vmenv_machine_config *m, struct mstate *st,
                     const struct ynode *k, const struct ynode *v, const char *prefix)
{
        _cleanup_free_ char *kp = key_path(prefix, k->s);
        const char *key = k->s;

        if (!strcmp(key, "box"))
                return get_str(p, v, kp, &m->box);
        if (!strcmp(key, "box_version"))
                return get_str(p, v, kp, &m->box_version);
        if (!strcmp(key, "box_url"))
                return get_str(p, v, kp, &m->box_url);
        if (!strcmp(key, "box_checksum")) {
                if (get_str(p, v, kp, &m->box_checksum) < 0)
                        return -1;
                if (!checksum_valid(m->box_checksum))
                        return fail(p, v, kp,
                                    "expected TYPE:HEX like sha256:<64 hex digits>, got \"%s\"",
                                    m->box_checksum);
                return 0;
        }
        if (!strcmp(key, "cpus"))
                return get_int(p, v, kp, 1, 256, "a number of CPUs", &m->cpus);
        if (!strcmp(key, "memory"))
                return get_size(p, v, kp, MEM_MIN, MEM_MAX, &m->memory);
        if (!strcmp(key, "disk"))
                return get_size(p, v, kp, DISK_MIN, DISK_MAX, &m->disk);
        if (!strcmp(key, "hostname")) {
                if (get_str(p, v, kp, &m->hostname) < 0)
                        return -1;
                if (!hostname_valid(m->hostname))
                        return fail(p, v, kp,
                                    "\"%s\" is not a valid host name (letters, digits, '-' and "
                                    "'.')",
                                    m->hostname);
                return 0;
        }
        if (!strcmp(key, "boot_timeout"))
                return get_int(p, v, kp, 1, 86400, "a number of seconds", &m->boot_timeout);
        if (!strcmp(key, "network"))
                return get_enum(p, v, kp, networks, &m->network);
        if (!strcmp(key, "forwarded_ports")) {
                forwards_free(m);
                free(st->fwd_prefix);
                st->fwd_prefix = vmenv_strdup(kp);
                return parse_list(p, v, kp, MAX_FORWARDS, sizeof(*m->forwards),
                                  (void **)&m->forwards, &m->n_forwards, one_forward);
        }
        if (!strcmp(key, "synced_folders")) {
                folders_free(m);
                return parse_list(p, v, kp, MAX_FOLDERS, sizeof(*m->folders), (void **)&m->folders,
                                  &m->n_folders, one_folder);
        }
        if (!strcmp(key, "provision")) {
                provs_free(m);
                if (parse_list(p, v, kp, MAX_PROVISIONERS, sizeof(*m->provisioners),
                               (void **)&m->provisioners, &m->n_provisioners, one_prov) < 0)
                        return -1;
                for (size_t i = 0; i < m->n_provisioners; i++)
                        for (size_t j = 0; j < i; j++)
                                if (!strcmp(m->provisioners[i].name, m->provisioners[j].name)) {
                                        _cleanup_free_ char *ip = vmenv_strdupf("%s[%zu]", kp, i);
                                        const struct vmenv_where *w = &m->provisioners[i].where;
                                        return fail_at(p, w->line, w->column,
                                                       "%s: provisioner name '%s' is used twice",
                                                       ip, m->provisioners[i].name);
                                }
                return 0;
        }
        if (!strcmp(key, "ssh"))
                return parse_ssh(p, v, kp, &m->ssh);
        if (!strcmp(key, "kernel"))
                return get_str(p, v, kp, &m->kernel);
        if (!strcmp(key, "initrd"))
                return get_str(p, v, kp, &m->initrd);
        if (!strcmp(key, "cmdline"))
                return get_str(p, v, kp, &m->cmdline);
        if (!strcmp(key, "libvirt"))
                return parse_libvirt(p, v, kp, &m->libvirt);
        if (!strcmp(key, "primary")) {
                if (!*prefix)
                        return fail(p, k, kp,
                                    "'primary' marks one of several machines: put it "
                                    "under machines.NAME");
                return get_bool(p, v, kp, &m->primary);
        }
        if (!strcmp(key, "machines")) {
                if (*prefix)
                        return fail(p, k, kp, "machines cannot be nested");
                return 0; /* handled by the caller */
        }
        return unknown_key(p, k, kp, machine_keys);
}

static int build_machine(struct pctx *p, const struct ynode *top, const char *name,
                         const struct ynode *name_node, const struct ynode *own,
                         struct vmenv_machine_config *m, struct mstate *st)
{
        _cleanup_free_ char *prefix = NULL;

        m->name = vmenv_strdup(name);
        m->cpus = 1;
        m->memory = 512ull << 20;
        m->boot_timeout = 300;
        m->ssh.port = 22;
        m->where = name_node ? (struct vmenv_where){name_node->line, name_node->col}
                             : (struct vmenv_where){top->line, top->col};
        for (size_t i = 0; i < top->n; i += 2)
                if (apply_key(p, m, st, top->kids[i], top->kids[i + 1], "") < 0)
                        return -1;
        prefix = vmenv_strdupf("machines.%s", name);
        if (own && !is_null(own)) {
                if (need(p, own, Y_MAP, prefix) < 0)
                        return -1;
                for (size_t i = 0; i < own->n; i += 2)
                        if (apply_key(p, m, st, own->kids[i], own->kids[i + 1], prefix) < 0)
                                return -1;
        }
        if (!m->box) {
                if (name_node)
                        fail(p, name_node, prefix, "machine '%s' has no box", name);
                else
                        fail(p, top, NULL, "no box: say which box to boot");
                return vmenv_error_hint(p->err, "add 'box: NAME' (for example 'box: vmenv/tiny')");
        }
        if (!m->hostname)
                m->hostname = vmenv_strdup(name);
        if (!m->network)
                m->network = vmenv_strdup("user");
        if (!m->ssh.user)
                m->ssh.user = vmenv_strdup("vagrant");
        if (!m->libvirt.machine_type)
                m->libvirt.machine_type = vmenv_strdup("q35");
        return 0;
}

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
                fail_at(p, m->forwards[0].where.line, m->forwards[0].where.column,
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
                                fail_at(p, b->f->where.line, b->f->where.column,
                                        "%s[%zu]: host port %d/%s on %s is already forwarded "
                                        "by machine '%s'%s%s",
                                        st[b->machine].fwd_prefix, b->index, b->f->host,
                                        b->f->protocol, b->f->host_ip, c->machines[a->machine].name,
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

        if (!root || is_null(root)) {
                fail_at(p, 1, 1, "the file is empty");
                return vmenv_error_hint(p->err, "run 'vmenv init' to write a starting point");
        }
        if (root->type != Y_MAP)
                return fail(p, root, NULL,
                            "expected a mapping of keys (box: ..., memory: ...), "
                            "got %s",
                            type_name(root));
        for (size_t i = 0; i < root->n; i += 2)
                if (!strcmp(root->kids[i]->s, "machines"))
                        machines = root->kids[i + 1];
        if (machines && !is_null(machines)) {
                if (need(p, machines, Y_MAP, "machines") < 0)
                        return -1;
                if (!machines->n)
                        return fail(p, machines, "machines", "no machines are defined");
                if (machines->n / 2 > VMENV_CONFIG_MAX_MACHINES)
                        return fail(p, machines->kids[2 * VMENV_CONFIG_MAX_MACHINES], "machines",
                                    "too many machines (the limit is %d)",
                                    VMENV_CONFIG_MAX_MACHINES);
                c->machines = vmenv_calloc(machines->n / 2, sizeof(*c->machines));
                for (size_t i = 0; i < machines->n; i += 2) {
                        const struct ynode *k = machines->kids[i];
                        _cleanup_free_ char *kp = key_path("machines", k->s);
                        if (!vmenv_machine_name_valid(k->s)) {
                                fail(p, k, kp,
                                     "invalid machine name: use a-z, 0-9 and '-', starting with "
                                     "a letter or digit, at most 32 characters, not ending in '-'");
                                goto out;
                        }
                        c->n_machines++;
                        if (build_machine(p, root, k->s, k, machines->kids[i + 1],
                                          &c->machines[i / 2], &st[i / 2]) < 0)
                                goto out;
                }
        } else {
                if (machines)
                        return fail(p, machines, "machines", "no machines are defined");
                c->machines = vmenv_calloc(1, sizeof(*c->machines));
                c->n_machines = 1;
                if (build_machine(p, root, "default", NULL, NULL, &c->machines[0], &st[0]) < 0)
                        goto out;
        }
        for (size_t i = 0; i < c->n_machines; i++)
                for (size_t j = 0; j < i; j++)
                        if (c->machines[i].primary && c->machines[j].primary) {
                                const struct vmenv_where *w = &c->machines[i].where;
                                fail_at(p, w->line, w->column,
                                        "machines.%s.primary: machine '%s' is already primary",
                                        c->machines[i].name, c->machines[j].name);
                                goto out;
                        }
        r = check_forwards(p, c, st);
out:
        for (size_t i = 0; i < VMENV_ARRAY_SIZE(st); i++)
                free(st[i].fwd_prefix);
        return r;
}

struct vmenv_config *vmenv_config_parse(const char *text, size_t len, const char *path,
                                        vmenv_error *err)
{
        struct pctx p = {.path = path ? path : "vmenv.yaml", .err = err};
        _cleanup_(ynode_freep) struct ynode *root = NULL;
        _cleanup_(vmenv_config_freep) struct vmenv_config *c = NULL;

        if (len > VMENV_CONFIG_MAX_BYTES) {
                vmenv_error_set(err, VMENV_EXIT_CONFIG, "%s: larger than the limit of %u bytes",
                                p.path, VMENV_CONFIG_MAX_BYTES);
                return NULL;
        }
        if (memchr(text, '\0', len)) {
                fail_at(&p, 0, 0, "contains a NUL byte: not a text file");
                return NULL;
        }
        if (yaml_tree(&p, text, len, &root) < 0)
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
        for (size_t i = 0; i < c->n_machines; i++) {
                char **k = &c->machines[i].ssh.private_key;
                if (*k) {
                        char *r = resolve_key(c->dir, *k);
                        free(*k);
                        *k = r;
                }
        }
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
