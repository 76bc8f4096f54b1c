/* vmenv import: the literal parser. It reads a Vagrantfile without running
 * it: the statements of the common forms (config.vm.X = literal, network,
 * synced_folder, provision, provider and define blocks, variables holding
 * literals) become the same record the Ruby recorder makes; any other
 * statement, and the whole block it opens (a loop, an if), is listed as not
 * understood, never guessed at. */
#include <stdlib.h>
#include <string.h>

#include "json-cleanup.h"
#include "vagrant-internal.h"
#include "vagrant-lex.h"
#include "vmenv/cleanup.h"
#include "vmenv/util.h"

#define MAX_TOKENS 200000
#define MAX_DEPTH 64
#define MAX_VARS 1024

enum blk { B_CONFIG, B_PROVIDER, B_PROVISION };

struct block {
        enum blk kind;
        char *var;              /* the block's parameter */
        char *var2;             /* B_PROVIDER: the override config, |vb, override| */
        char *scope;            /* machine name, NULL at the top */
        char *provider;         /* B_PROVIDER; for B_CONFIG an override's provider */
        json_object *provision; /* B_PROVISION: the event being filled */
        bool broken;            /* a line of a provision block was not understood */
};

struct parser {
        const struct vl_token *t;
        size_t n, pos;
        struct block stack[MAX_DEPTH];
        int depth;
        json_object *vars; /* name → literal value */
        json_object *events, *nu;
        const char *override; /* while a statement goes through an override */
};

/* ---- statements ---- */

struct stmt {
        size_t start, end; /* tokens [start, end) */
};

static const struct vl_token *tok(const struct parser *p, const struct stmt *s, size_t i)
{
        static const struct vl_token none = {VL_NL, (char *)"", false, false, 0, 0};
        return s->start + i < s->end ? &p->t[s->start + i] : &none;
}

static bool is(const struct vl_token *t, enum vl_type type, const char *text)
{
        return t->type == type && (!text || !strcmp(t->text, text));
}

static bool is_punct(const struct vl_token *t, const char *text)
{
        return is(t, VL_PUNCT, text);
}

static bool is_kw(const struct vl_token *t, const char *text)
{
        return is(t, VL_IDENT, text);
}

static unsigned last_line(const struct parser *p, const struct stmt *s)
{
        unsigned line = tok(p, s, 0)->line;

        for (size_t i = s->start; i < s->end; i++)
                if (p->t[i].end_line > line)
                        line = p->t[i].end_line;
        return line;
}

/* How the statement changes block nesting: openers minus `end`s. */
static int nesting(const struct parser *p, const struct stmt *s)
{
        static const char *const openers[] = {"if",  "unless", "while",  "until", "case", "begin",
                                              "def", "class",  "module", "for",   NULL};
        int d = 0;
        bool loop_kw = false;

        for (size_t i = s->start; i < s->end; i++) {
                const struct vl_token *t = &p->t[i], *prev = i > s->start ? &p->t[i - 1] : NULL;
                if (t->type != VL_IDENT)
                        continue;
                if (!strcmp(t->text, "end") && !(prev && is_punct(prev, ".")))
                        d--;
                else if (!strcmp(t->text, "do") && !loop_kw)
                        d++;
                else if (!prev || (prev->type == VL_PUNCT && strchr("=(,|&", prev->text[0])))
                        for (size_t k = 0; openers[k]; k++)
                                if (!strcmp(t->text, openers[k])) {
                                        d++;
                                        loop_kw = !strcmp(t->text, "while") ||
                                                  !strcmp(t->text, "until") ||
                                                  !strcmp(t->text, "for");
                                }
        }
        return d;
}

static bool next_stmt(struct parser *p, struct stmt *s)
{
        while (p->pos < p->n && p->t[p->pos].type == VL_NL)
                p->pos++;
        if (p->pos >= p->n || p->t[p->pos].type == VL_EOF)
                return false;
        s->start = p->pos;
        while (p->pos < p->n && p->t[p->pos].type != VL_NL && p->t[p->pos].type != VL_EOF)
                p->pos++;
        s->end = p->pos;
        return true;
}

/* Skips the statements of a block opened by s; returns its last line. */
static unsigned skip_block(struct parser *p, const struct stmt *s)
{
        int d = nesting(p, s);
        struct stmt t = *s;

        while (d > 0 && next_stmt(p, &t))
                d += nesting(p, &t);
        return last_line(p, &t);
}

static void add_event(struct parser *p, const char *kind, unsigned line, json_object *fields)
{
        json_object *ev = json_object_new_object();
        const struct block *b = NULL;

        for (int i = p->depth - 1; i >= 0 && !b; i--)
                if (p->stack[i].kind == B_CONFIG)
                        b = &p->stack[i];
        json_object_object_add(ev, "kind", json_object_new_string(kind));
        json_object_object_add(ev, "line", json_object_new_int((int)line));
        if (b && b->scope)
                json_object_object_add(ev, "scope", json_object_new_string(b->scope));
        if (p->override)
                json_object_object_add(ev, "override", json_object_new_string(p->override));
        json_object_object_foreach(fields, k, v) json_object_object_add(ev, k, json_object_get(v));
        json_object_put(fields);
        json_object_array_add(p->events, ev);
}

static void not_understood(struct parser *p, unsigned line, unsigned end_line)
{
        json_object *o = json_object_new_object();

        json_object_object_add(o, "line", json_object_new_int((int)line));
        json_object_object_add(o, "end_line", json_object_new_int((int)end_line));
        json_object_array_add(p->nu, o);
        for (int i = p->depth - 1; i >= 0; i--)
                if (p->stack[i].kind == B_PROVISION) {
                        p->stack[i].broken = true;
                        break;
                }
}

/* ---- literal values ---- */

static json_object *value(struct parser *p, const struct stmt *s, size_t *i, int depth);

/* key: value, "key" => value, :key => value; returns the key or NULL. */
static char *pair_key(struct parser *p, const struct stmt *s, size_t *i)
{
        const struct vl_token *t = tok(p, s, *i);

        if (t->type == VL_LABEL && !t->unknown) {
                (*i)++;
                return vmenv_strdup(t->text);
        }
        if ((t->type == VL_STRING || t->type == VL_SYMBOL) && !t->unknown &&
            is_punct(tok(p, s, *i + 1), "=>")) {
                *i += 2;
                return vmenv_strdup(t->text);
        }
        return NULL;
}

static json_object *hash_body(struct parser *p, const struct stmt *s, size_t *i, const char *close,
                              int depth)
{
        json_object *o = json_object_new_object();

        while (!is_punct(tok(p, s, *i), close)) {
                _cleanup_free_ char *k = pair_key(p, s, i);
                json_object *v;
                if (!k || !(v = value(p, s, i, depth + 1))) {
                        json_object_put(o);
                        return NULL;
                }
                json_object_object_add(o, k, v);
                if (is_punct(tok(p, s, *i), ","))
                        (*i)++;
                else if (!is_punct(tok(p, s, *i), close)) {
                        json_object_put(o);
                        return NULL;
                }
        }
        (*i)++;
        return o;
}

static json_object *number(const char *text)
{
        if (strchr(text, '.'))
                return json_object_new_double(strtod(text, NULL));
        if (strlen(text) > 15)
                return NULL;
        return json_object_new_int64(strtoll(text, NULL, 10));
}

static json_object *value(struct parser *p, const struct stmt *s, size_t *i, int depth)
{
        const struct vl_token *t = tok(p, s, *i);
        json_object *v = NULL;

        if (depth > 32)
                return NULL;
        (*i)++;
        if ((t->type == VL_STRING || t->type == VL_SYMBOL) && !t->unknown) {
                v = json_object_new_string(t->text);
        } else if (t->type == VL_NUMBER) {
                v = number(t->text);
        } else if (is_punct(t, "-") && tok(p, s, *i)->type == VL_NUMBER) {
                _cleanup_free_ char *neg = vmenv_strdupf("-%s", tok(p, s, (*i)++)->text);
                v = number(neg);
        } else if (is_kw(t, "true") || is_kw(t, "false")) {
                v = json_object_new_boolean(!strcmp(t->text, "true"));
        } else if (is_kw(t, "nil")) {
                return json_object_new_null();
        } else if (t->type == VL_IDENT) {
                json_object *known = NULL;
                if (json_object_object_get_ex(p->vars, t->text, &known))
                        v = json_object_get(known);
        } else if (is_punct(t, "[")) {
                v = json_object_new_array();
                while (v && !is_punct(tok(p, s, *i), "]")) {
                        json_object *e = value(p, s, i, depth + 1);
                        if (!e || json_object_array_length(v) > 4096) {
                                json_object_put(e);
                                json_object_put(v);
                                return NULL;
                        }
                        json_object_array_add(v, e);
                        if (is_punct(tok(p, s, *i), ","))
                                (*i)++;
                        else if (!is_punct(tok(p, s, *i), "]")) {
                                json_object_put(v);
                                return NULL;
                        }
                }
                (*i)++;
        } else if (is_punct(t, "{")) {
                v = hash_body(p, s, i, "}", depth);
        }
        /* "a" "b" and "a" + B join when both are strings */
        while (json_object_is_type(v, json_type_string) &&
               (is(tok(p, s, *i), VL_STRING, NULL) || is_punct(tok(p, s, *i), "+"))) {
                _cleanup_free_ char *joined = NULL;
                json_object *n;
                if (is_punct(tok(p, s, *i), "+"))
                        (*i)++;
                n = value(p, s, i, depth + 1);
                if (!json_object_is_type(n, json_type_string)) {
                        json_object_put(n);
                        json_object_put(v);
                        return NULL;
                }
                joined =
                    vmenv_strdupf("%s%s", json_object_get_string(v), json_object_get_string(n));
                json_object_put(n);
                json_object_put(v);
                v = json_object_new_string(joined);
        }
        /* a value that is used, not just written (x.to_s, x[0], x * 2) */
        if (v && tok(p, s, *i)->type == VL_PUNCT && strchr(".[*/%", tok(p, s, *i)->text[0]) &&
            !is_punct(tok(p, s, *i), "[")) {
                json_object_put(v);
                return NULL;
        }
        return v;
}

/* Call arguments up to a `do`, the statement's end, or a `)` when in
 * parentheses: positional values, then key: value pairs. */
static bool call_args(struct parser *p, const struct stmt *s, size_t *i, json_object **pos,
                      json_object **opts)
{
        bool paren = is_punct(tok(p, s, *i), "(") && !tok(p, s, *i)->space_before;
        const char *close = paren ? ")" : NULL;

        *pos = json_object_new_array();
        *opts = json_object_new_object();
        if (paren)
                (*i)++;
        for (;;) {
                const struct vl_token *t = tok(p, s, *i);
                _cleanup_free_ char *k = NULL;
                json_object *v;
                if (close ? is_punct(t, close) : (t->type == VL_NL || is_kw(t, "do")))
                        break;
                if (is_punct(t, "{") && json_object_object_length(*opts) == 0 &&
                    json_object_array_length(*pos) > 0) {
                        (*i)++;
                        v = hash_body(p, s, i, "}", 0); /* provision "shell", {inline: ...} */
                        if (!v)
                                return false;
                        json_object_object_foreach(v, kk, vv)
                            json_object_object_add(*opts, kk, json_object_get(vv));
                        json_object_put(v);
                } else if ((k = pair_key(p, s, i))) {
                        if (!(v = value(p, s, i, 0)))
                                return false;
                        json_object_object_add(*opts, k, v);
                } else {
                        if (json_object_object_length(*opts) || !(v = value(p, s, i, 0)))
                                return false;
                        json_object_array_add(*pos, v);
                }
                if (is_punct(tok(p, s, *i), ","))
                        (*i)++;
                else if (close ? !is_punct(tok(p, s, *i), close)
                               : !(tok(p, s, *i)->type == VL_NL || is_kw(tok(p, s, *i), "do")))
                        return false;
        }
        if (close)
                (*i)++;
        return true;
}

/* `do |a, b|` at the end of the statement: the parameter names. */
static bool block_params(struct parser *p, const struct stmt *s, size_t i, char **a, char **b)
{
        *a = *b = NULL;
        if (!is_kw(tok(p, s, i), "do"))
                return false;
        if (!is_punct(tok(p, s, i + 1), "|"))
                return tok(p, s, i + 1)->type == VL_NL;
        if (tok(p, s, i + 2)->type != VL_IDENT)
                return false;
        i += 3;
        if (is_punct(tok(p, s, i), ",") && tok(p, s, i + 1)->type == VL_IDENT) {
                *b = vmenv_strdup(tok(p, s, i + 1)->text);
                i += 2;
        }
        if (!is_punct(tok(p, s, i), "|") || tok(p, s, i + 1)->type != VL_NL) {
                free(*b);
                *b = NULL;
                return false;
        }
        *a = vmenv_strdup(tok(p, s, i - (*b ? 3 : 1))->text);
        return true;
}

/* The block whose parameter is name; *second when it is a provider
 * block's override config. */
static struct block *find_var(struct parser *p, const char *name, bool *second)
{
        for (int i = p->depth - 1; i >= 0; i--) {
                if (vmenv_streq(p->stack[i].var, name) || vmenv_streq(p->stack[i].var2, name)) {
                        *second = !vmenv_streq(p->stack[i].var, name);
                        return &p->stack[i];
                }
        }
        return NULL;
}

static const char *cur_scope(const struct parser *p)
{
        for (int i = p->depth - 1; i >= 0; i--)
                if (p->stack[i].kind == B_CONFIG)
                        return p->stack[i].scope;
        return NULL;
}

static void push(struct parser *p, enum blk kind, char *var, char *var2, const char *scope,
                 const char *provider, json_object *prov)
{
        struct block *b;

        if (p->depth >= MAX_DEPTH) {
                free(var);
                free(var2);
                json_object_put(prov);
                return;
        }
        b = &p->stack[p->depth++];
        *b = (struct block){kind, var,  var2, vmenv_strdup(scope), vmenv_strdup(provider),
                            prov, false};
}

static void pop(struct parser *p)
{
        struct block *b = &p->stack[--p->depth];

        if (b->kind == B_PROVISION && b->provision && !b->broken) {
                long line = json_object_get_int(json_object_object_get(b->provision, "line"));
                json_object_object_del(b->provision, "line");
                add_event(p, "provision", (unsigned)line, b->provision);
        } else {
                json_object_put(b->provision);
        }
        free(b->var);
        free(b->var2);
        free(b->scope);
        free(b->provider);
}

/* ---- statements ---- */

static json_object *fields(const char *k1, json_object *v1, const char *k2, json_object *v2,
                           const char *k3, json_object *v3)
{
        json_object *o = json_object_new_object();
        json_object_object_add(o, k1, v1);
        if (k2)
                json_object_object_add(o, k2, v2);
        if (k3)
                json_object_object_add(o, k3, v3);
        return o;
}

static json_object *str_or_null(const char *s)
{
        return s ? json_object_new_string(s) : json_object_new_null();
}

/* A statement vmenv cannot take: noted with the lines of the block it
 * opens, which is skipped. */
static void unsupported(struct parser *p, const struct stmt *s, const char *what)
{
        unsigned line = tok(p, s, 0)->line,
                 end = nesting(p, s) > 0 ? skip_block(p, s) : last_line(p, s);
        add_event(p, "unsupported", line,
                  fields("what", json_object_new_string(what), "end_line",
                         json_object_new_int((int)end), NULL, NULL));
}

static void skipped(struct parser *p, const struct stmt *s)
{
        unsigned line = tok(p, s, 0)->line,
                 end = nesting(p, s) > 0 ? skip_block(p, s) : last_line(p, s);
        not_understood(p, line, end);
}

/* "a.b.c" from the statement's leading names, for notes. */
static char *chain(const struct parser *p, const struct stmt *s, size_t from)
{
        struct vmenv_buf b = {0};

        for (size_t i = from; tok(p, s, i)->type == VL_IDENT && i < from + 8; i += 2) {
                vmenv_buf_printf(&b, "%s%s", b.len ? "." : "", tok(p, s, i)->text);
                if (!is_punct(tok(p, s, i + 1), "."))
                        break;
        }
        return vmenv_buf_steal(&b);
}

static const char *string_at(json_object *arr, size_t i)
{
        json_object *v = json_object_array_get_idx(arr, i);
        return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

/* config.vm.define/provider/provision/network/synced_folder ARGS [do |x|] */
static void vm_call(struct parser *p, const struct stmt *s, const char *m, size_t i, unsigned line)
{
        _cleanup_(json_putp) json_object *pos = NULL, *opts = NULL;
        _cleanup_free_ char *a = NULL, *b = NULL;
        bool block = false;
        const char *first;

        if (!call_args(p, s, &i, &pos, &opts)) {
                skipped(p, s);
                return;
        }
        if (!(tok(p, s, i)->type == VL_NL) && !(block = block_params(p, s, i, &a, &b))) {
                skipped(p, s);
                return;
        }
        first = string_at(pos, 0);
        if (!strcmp(m, "define") && first && json_object_array_length(pos) == 1) {
                add_event(p, "define", line,
                          fields("name", json_object_new_string(first), "options",
                                 json_object_get(opts), NULL, NULL));
                if (block)
                        push(p, B_CONFIG, TAKE_PTR(a), NULL, first, NULL, NULL);
                return;
        }
        if (!strcmp(m, "provider") && first && json_object_array_length(pos) == 1) {
                add_event(p, "provider", line,
                          fields("provider", json_object_new_string(first), "key",
                                 json_object_new_string(""), "value", NULL));
                if (block)
                        push(p, B_PROVIDER, TAKE_PTR(a), TAKE_PTR(b), cur_scope(p), first, NULL);
                return;
        }
        if (!strcmp(m, "provision") && first && json_object_array_length(pos) == 1) {
                json_object *type = NULL, *name = NULL, *ev;
                bool has_type = json_object_object_get_ex(opts, "type", &type);
                json_object_object_get_ex(opts, "name", &name);
                ev = fields("type",
                            json_object_new_string(has_type && json_object_get_string(type)
                                                       ? json_object_get_string(type)
                                                       : first),
                            "name",
                            name ? json_object_get(name) : str_or_null(has_type ? first : NULL),
                            "options", json_object_get(opts));
                json_object_object_del(opts, "type");
                json_object_object_del(opts, "name");
                if (!block ||
                    (!vmenv_streq(json_object_get_string(json_object_object_get(ev, "type")),
                                  "shell") &&
                     !vmenv_streq(json_object_get_string(json_object_object_get(ev, "type")),
                                  "file"))) {
                        /* another provisioner's block says nothing vmenv can use */
                        add_event(p, "provision", line, ev);
                        if (block)
                                skip_block(p, s);
                        return;
                }
                json_object_object_add(ev, "line", json_object_new_int((int)line));
                push(p, B_PROVISION, TAKE_PTR(a), NULL, cur_scope(p), NULL, ev);
                return;
        }
        if (block) {
                skipped(p, s);
                return;
        }
        if (!strcmp(m, "network") && first && json_object_array_length(pos) == 1) {
                add_event(p, "network", line,
                          fields("type", json_object_new_string(first), "options",
                                 json_object_get(opts), NULL, NULL));
                return;
        }
        if (!strcmp(m, "synced_folder") && json_object_array_length(pos) == 2) {
                add_event(p, "synced_folder", line,
                          fields("host", json_object_get(json_object_array_get_idx(pos, 0)),
                                 "guest", json_object_get(json_object_array_get_idx(pos, 1)),
                                 "options", json_object_get(opts)));
                return;
        }
        skipped(p, s);
}

static const char *const simple_keys[] = {"box",      "box_version",  "box_url",
                                          "hostname", "boot_timeout", NULL};

/* RECV.vm.KEY = v, RECV.vm.METHOD ARGS, RECV.ssh.username = v, RECV.X ... */
static void config_stmt(struct parser *p, const struct stmt *s)
{
        const struct vl_token *x = tok(p, s, 2), *m = tok(p, s, 4);
        unsigned line = tok(p, s, 0)->line;
        _cleanup_free_ char *what = chain(p, s, 2);

        if (is_kw(x, "vm") && is_punct(tok(p, s, 3), ".") && m->type == VL_IDENT) {
                if (is_punct(tok(p, s, 5), "=")) {
                        size_t i = 6;
                        json_object *v;
                        for (size_t k = 0; simple_keys[k]; k++)
                                if (!strcmp(m->text, simple_keys[k])) {
                                        if (!(v = value(p, s, &i, 0)) ||
                                            tok(p, s, i)->type != VL_NL) {
                                                json_object_put(v);
                                                {
                                                        skipped(p, s);
                                                        return;
                                                }
                                        }
                                        {
                                                add_event(p, "set", line,
                                                          fields("key",
                                                                 json_object_new_string(m->text),
                                                                 "value", v, NULL, NULL));
                                                return;
                                        }
                                }
                        {
                                unsupported(p, s, what);
                                return;
                        }
                }
                if (!strcmp(m->text, "define") || !strcmp(m->text, "provider") ||
                    !strcmp(m->text, "provision") || !strcmp(m->text, "network") ||
                    !strcmp(m->text, "synced_folder")) {
                        vm_call(p, s, m->text, 5, line);
                        return;
                }
                {
                        unsupported(p, s, what);
                        return;
                }
        }
        if (is_kw(x, "ssh") && is_punct(tok(p, s, 3), ".") && is_kw(m, "username") &&
            is_punct(tok(p, s, 5), "=")) {
                size_t i = 6;
                json_object *v = value(p, s, &i, 0);
                if (!v || tok(p, s, i)->type != VL_NL) {
                        json_object_put(v);
                        {
                                skipped(p, s);
                                return;
                        }
                }
                {
                        add_event(p, "set", line,
                                  fields("key", json_object_new_string("ssh.username"), "value", v,
                                         NULL, NULL));
                        return;
                }
        }
        unsupported(p, s, what);
}

/* lv.memory = 2048, vb.customize [...], lv.nested = true */
static void provider_stmt(struct parser *p, const struct stmt *s, const struct block *b)
{
        const struct vl_token *k = tok(p, s, 2);
        bool needed = is_kw(k, "memory") || is_kw(k, "cpus") || is_kw(k, "customize");
        json_object *v = NULL;
        size_t i = 4;

        if (k->type != VL_IDENT) {
                skipped(p, s);
                return;
        }
        if (is_punct(tok(p, s, 3), "=")) {
                v = value(p, s, &i, 0);
        } else if (!is_punct(tok(p, s, 3), ".")) {
                json_object *pos = NULL, *opts = NULL;
                i = 3;
                if (call_args(p, s, &i, &pos, &opts))
                        v = json_object_array_length(pos) == 1
                                ? json_object_get(json_object_array_get_idx(pos, 0))
                            : json_object_array_length(pos) ? json_object_get(pos)
                                                            : json_object_get(opts);
                json_object_put(pos);
                json_object_put(opts);
        }
        if (v && tok(p, s, i)->type != VL_NL) {
                json_object_put(v);
                v = NULL;
        }
        if (!v && needed) {
                skipped(p, s);
                return;
        }
        add_event(p, "provider", k->line,
                  fields("provider", json_object_new_string(b->provider), "key",
                         json_object_new_string(k->text), "value", v));
        if (nesting(p, s) > 0)
                skip_block(p, s);
}

/* s.inline = "...", s.path = "...", s.args = [...] inside a provision block */
static void provision_stmt(struct parser *p, const struct stmt *s, struct block *b)
{
        const struct vl_token *k = tok(p, s, 2);
        json_object *opts = json_object_object_get(b->provision, "options"), *v = NULL;
        size_t i = 4;

        if (k->type == VL_IDENT && is_punct(tok(p, s, 3), "="))
                v = value(p, s, &i, 0);
        if (!v || tok(p, s, i)->type != VL_NL) {
                json_object_put(v);
                {
                        skipped(p, s);
                        return;
                }
        }
        if (!strcmp(k->text, "name"))
                json_object_object_add(b->provision, "name", v);
        else
                json_object_object_add(opts, k->text, v);
}

static void statement(struct parser *p, const struct stmt *s)
{
        const struct vl_token *t0 = tok(p, s, 0), *t1 = tok(p, s, 1);
        unsigned line = t0->line;
        struct block *b;
        bool second = false;

        p->override = NULL;
        if (is_kw(t0, "end") && t1->type == VL_NL) {
                if (p->depth > 0)
                        pop(p);
                else
                        not_understood(p, line, line);
                return;
        }
        if (is_kw(t0, "Vagrant") && (is_punct(t1, ".") || is_punct(t1, "::")) &&
            is_kw(tok(p, s, 2), "configure")) {
                _cleanup_free_ char *a = NULL, *b2 = NULL;
                size_t i = 3;
                while (tok(p, s, i)->type != VL_NL && !is_kw(tok(p, s, i), "do"))
                        i++;
                if (!block_params(p, s, i, &a, &b2) || !a || b2) {
                        skipped(p, s);
                        return;
                }
                push(p, B_CONFIG, TAKE_PTR(a), NULL, NULL, NULL, NULL);
                return;
        }
        if (is_kw(t0, "Vagrant") && is_punct(t1, ".") && tok(p, s, 2)->type == VL_IDENT) {
                _cleanup_free_ char *what = chain(p, s, 0);
                {
                        unsupported(p, s, what);
                        return;
                }
        }
        if (t0->type == VL_IDENT && is_punct(t1, "=")) {
                size_t i = 2;
                json_object *v = value(p, s, &i, 0);
                if (v && tok(p, s, i)->type == VL_NL &&
                    json_object_object_length(p->vars) < MAX_VARS) {
                        json_object_object_add(p->vars, t0->text, v);
                        return;
                }
                json_object_put(v);
                json_object_object_del(p->vars, t0->text);
                {
                        skipped(p, s);
                        return;
                }
        }
        if (t0->type != VL_IDENT || !is_punct(t1, ".") || !(b = find_var(p, t0->text, &second))) {
                skipped(p, s);
                return;
        }
        if (second || b->kind == B_CONFIG) {
                p->override = second ? b->provider : NULL;
                config_stmt(p, s);
        } else if (b->kind == B_PROVIDER) {
                provider_stmt(p, s, b);
        } else {
                provision_stmt(p, s, b);
        }
        p->override = NULL;
}

json_object *vmenv_vagrantfile_literal(const char *text, size_t len)
{
        struct vl_tokens toks;
        struct parser p = {0};
        struct stmt s;
        json_object *record = json_object_new_object();

        vl_lex(text, len, MAX_TOKENS, &toks);
        p.t = toks.v;
        p.n = toks.n;
        p.vars = json_object_new_object();
        p.events = json_object_new_array();
        p.nu = json_object_new_array();
        while (next_stmt(&p, &s))
                statement(&p, &s);
        while (p.depth > 0)
                pop(&p);
        json_object_object_add(record, "events", p.events);
        json_object_object_add(record, "not_understood", p.nu);
        json_object_put(p.vars);
        vl_tokens_free(&toks);
        return record;
}
