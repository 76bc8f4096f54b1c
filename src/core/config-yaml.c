/* vmenv.yaml as libyaml reads it: events → a small tree (no anchors,
 * bounded depth and size), its messages at file:line:col, and the typed
 * readers of one value. What the keys mean is config-rules.c's; the checks
 * across machines and the loading of files are config.c's. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "config-private.h"
#include "vmenv/cleanup.h"
#include "vmenv/config.h"
#include "vmenv/util.h"

/* Limits beyond the header's: entries of one mapping or list, all values. */
#define MAX_ENTRIES 1024
#define MAX_NODES 100000

void vmenv_cfg_tree_free(struct ynode *n)
{
        if (!n)
                return;
        for (size_t i = 0; i < n->n; i++)
                vmenv_cfg_tree_free(n->kids[i]);
        free(n->kids);
        free(n->s);
        free(n);
}

int vmenv_cfg_fail_at(struct pctx *p, unsigned line, unsigned col, const char *fmt, ...)
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
int vmenv_cfg_fail(struct pctx *p, const struct ynode *n, const char *key, const char *fmt, ...)
{
        _cleanup_free_ char *msg = NULL;
        va_list ap;

        va_start(ap, fmt);
        msg = vmenv_vstrdupf(fmt, ap);
        va_end(ap);
        if (key && *key)
                return vmenv_cfg_fail_at(p, n ? n->line : 0, n ? n->col : 0, "%s: %s", key, msg);
        return vmenv_cfg_fail_at(p, n ? n->line : 0, n ? n->col : 0, "%s", msg);
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
                vmenv_cfg_tree_free(node);
                return vmenv_cfg_fail_at(p, l, c, "too many values (the limit is %d)", MAX_NODES);
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
                        vmenv_cfg_tree_free(node);
                        return vmenv_cfg_fail_at(p, l, c, "%s%skeys must be plain strings", where,
                                                 *where ? ": " : "");
                }
                /* A key is a name: "web\0evil" must not read as "web", nor
                 * may a control character reach a message or a domain. */
                for (size_t i = 0; i < node->len; i++)
                        if ((unsigned char)node->s[i] < 0x20 || node->s[i] == 0x7f) {
                                unsigned l = node->line, c = node->col;
                                vmenv_cfg_tree_free(node);
                                return vmenv_cfg_fail_at(
                                    p, l, c, "%s%sa key cannot hold a NUL or control character",
                                    where, *where ? ": " : "");
                        }
                for (size_t i = 0; i < par->n; i += 2)
                        if (par->kids[i]->len == node->len &&
                            !memcmp(par->kids[i]->s, node->s, node->len)) {
                                unsigned first = par->kids[i]->line;
                                if (depth == 2 && !strcmp(where, "machines"))
                                        vmenv_cfg_fail_at(
                                            p, node->line, node->col,
                                            "machines.%s: machine '%s' is defined twice "
                                            "(first on line %u)",
                                            node->s, node->s, first);
                                else
                                        vmenv_cfg_fail_at(
                                            p, node->line, node->col,
                                            "%s%s%s: duplicate key (first given on line %u)", where,
                                            *where ? "." : "", node->s, first);
                                vmenv_cfg_tree_free(node);
                                return -1;
                        }
        }
        if (par->n >= 2 * MAX_ENTRIES) {
                _cleanup_free_ char *where = stack_path(stack, depth);
                unsigned l = node->line, c = node->col;
                vmenv_cfg_tree_free(node);
                return vmenv_cfg_fail_at(p, l, c, "%s%stoo many entries (the limit is %d)", where,
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
                return vmenv_cfg_fail_at(p, line, col, "invalid YAML: %s (%s started on line %u)",
                                         ps->problem, ps->context,
                                         (unsigned)ps->context_mark.line + 1);
        return vmenv_cfg_fail_at(p, line, col, "invalid YAML: %s",
                                 ps->problem ? ps->problem : "cannot parse");
}

/* *out is NULL for an empty document. */
int vmenv_cfg_yaml_tree(struct pctx *p, const char *text, size_t len, struct ynode **out)
{
        yaml_parser_t ps;
        yaml_event_t ev;
        struct ynode *stack[VMENV_CONFIG_MAX_DEPTH + 1];
        _cleanup_(vmenv_cfg_tree_freep) struct ynode *root = NULL;
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
                                r = vmenv_cfg_fail_at(p, (unsigned)ev.start_mark.line + 1,
                                                      (unsigned)ev.start_mark.column + 1,
                                                      "only one YAML document is allowed");
                        break;
                case YAML_ALIAS_EVENT:
                        r = vmenv_cfg_fail_at(
                            p, (unsigned)ev.start_mark.line + 1, (unsigned)ev.start_mark.column + 1,
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
                                r = vmenv_cfg_fail_at(p, (unsigned)ev.start_mark.line + 1,
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
                        r = vmenv_cfg_fail_at(
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

bool vmenv_cfg_is_null(const struct ynode *n)
{
        return n->type == Y_SCALAR && n->plain &&
               (!n->len || !strcmp(n->s, "~") || !strcmp(n->s, "null") || !strcmp(n->s, "Null") ||
                !strcmp(n->s, "NULL"));
}

const char *vmenv_cfg_type_name(const struct ynode *n)
{
        if (n->type == Y_MAP)
                return "a mapping";
        if (n->type == Y_SEQ)
                return "a list";
        if (vmenv_cfg_is_null(n))
                return "nothing";
        return "a string";
}

int vmenv_cfg_get_str(struct pctx *p, const struct ynode *n, const char *key, char **out)
{
        if (n->type != Y_SCALAR || vmenv_cfg_is_null(n))
                return vmenv_cfg_fail(p, n, key, "expected a string, got %s",
                                      vmenv_cfg_type_name(n));
        if (strlen(n->s) != n->len)
                return vmenv_cfg_fail(p, n, key, "contains a NUL character");
        free(*out);
        *out = vmenv_strdup(n->s);
        return 0;
}

/* A string from a closed set; the hint lists the set. */
int vmenv_cfg_get_enum(struct pctx *p, const struct ynode *n, const char *key,
                       const char *const *set, char **out)
{
        _cleanup_free_ char *v = NULL;
        struct vmenv_buf b = {0};
        const char *best;

        if (vmenv_cfg_get_str(p, n, key, &v) < 0)
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
                vmenv_cfg_fail(p, n, key, "\"%s\" is not one of %s; did you mean '%s'?", v, b.data,
                               best);
        else
                vmenv_cfg_fail(p, n, key, "\"%s\" is not one of %s", v, b.data);
        vmenv_buf_free(&b);
        return -1;
}

int vmenv_cfg_get_bool(struct pctx *p, const struct ynode *n, const char *key, bool *out)
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
                return vmenv_cfg_fail(p, n, key, "expected true or false, got \"%s\"", n->s);
        return vmenv_cfg_fail(p, n, key, "expected true or false, got %s", vmenv_cfg_type_name(n));
}

int vmenv_cfg_get_int(struct pctx *p, const struct ynode *n, const char *key, long min, long max,
                      const char *what, int *out)
{
        char *end;
        long v;

        if (n->type != Y_SCALAR || vmenv_cfg_is_null(n))
                return vmenv_cfg_fail(p, n, key, "expected %s, got %s", what,
                                      vmenv_cfg_type_name(n));
        errno = 0;
        v = strtol(n->s, &end, 10);
        if (!n->len || !isdigit((unsigned char)n->s[n->s[0] == '-' ? 1 : 0]) || *end ||
            (errno && errno != ERANGE))
                return vmenv_cfg_fail(p, n, key, "expected %s, got \"%s\"", what, n->s);
        if (errno == ERANGE || v < min || v > max)
                return vmenv_cfg_fail(p, n, key, "%s is out of range (%ld to %ld)", n->s, min, max);
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

int vmenv_cfg_get_size(struct pctx *p, const struct ynode *n, const char *key, uint64_t min,
                       uint64_t max, uint64_t *out)
{
        char lo[32], hi[32];
        uint64_t v;

        if (n->type != Y_SCALAR || vmenv_cfg_is_null(n))
                return vmenv_cfg_fail(p, n, key, "expected a size like 512M or 2G, got %s",
                                      vmenv_cfg_type_name(n));
        if (n->s[0] == '-')
                return vmenv_cfg_fail(p, n, key, "a size cannot be negative, got \"%s\"", n->s);
        if (vmenv_parse_size(n->s, &v) < 0)
                return vmenv_cfg_fail(p, n, key, "expected a size like 512M or 2G, got \"%s\"",
                                      n->s);
        if (v == 0)
                return vmenv_cfg_fail(p, n, key, "a size cannot be zero; use at least %s",
                                      (fmt_size(min, lo, sizeof(lo)), lo));
        fmt_size(min, lo, sizeof(lo));
        fmt_size(max, hi, sizeof(hi));
        if (v < min) {
                bool digits = strspn(n->s, "0123456789") == n->len;
                if (digits)
                        return vmenv_cfg_fail(
                            p, n, key, "%s bytes is less than the minimum of %s; did you mean %sM?",
                            n->s, lo, n->s);
                return vmenv_cfg_fail(p, n, key, "%s is less than the minimum of %s", n->s, lo);
        }
        if (v > max)
                return vmenv_cfg_fail(p, n, key, "%s is more than the maximum of %s", n->s, hi);
        *out = v;
        return 0;
}

int vmenv_cfg_need(struct pctx *p, const struct ynode *n, enum ytype t, const char *key)
{
        if (n->type == t)
                return 0;
        return vmenv_cfg_fail(p, n, key, "expected %s, got %s", t == Y_MAP ? "a mapping" : "a list",
                              vmenv_cfg_type_name(n));
}

int vmenv_cfg_unknown_key(struct pctx *p, const struct ynode *k, const char *path,
                          const char *const *keys)
{
        const char *best = vmenv_did_you_mean(k->s, keys);

        if (best)
                vmenv_cfg_fail(p, k, path, "unknown key; did you mean '%s'?", best);
        else
                vmenv_cfg_fail(p, k, path, "unknown key");
        return vmenv_error_hint(p->err, "see vmenv.yaml(5) for the keys vmenv reads");
}

char *vmenv_cfg_key_path(const char *prefix, const char *key)
{
        return vmenv_strdupf("%s%s%s", prefix, *prefix ? "." : "", key);
}

int vmenv_cfg_get_strv(struct pctx *p, const struct ynode *n, const char *key, char ***out)
{
        char **v = NULL;

        if (vmenv_cfg_need(p, n, Y_SEQ, key) < 0)
                return -1;
        if (n->n > MAX_LIST)
                return vmenv_cfg_fail(p, n, key, "too many entries (the limit is %d)", MAX_LIST);
        for (size_t i = 0; i < n->n; i++) {
                _cleanup_free_ char *ik = vmenv_strdupf("%s[%zu]", key, i);
                char *s = NULL;
                if (vmenv_cfg_get_str(p, n->kids[i], ik, &s) < 0) {
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
