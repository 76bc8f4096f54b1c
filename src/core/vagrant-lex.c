/* vmenv import: a tokenizer for the literal subset of Ruby that most
 * Vagrantfiles are written in. Newlines inside brackets or after a comma,
 * an operator or a backslash do not end a statement, so statements spread
 * over lines come out whole; heredoc bodies become one string token. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "vagrant-lex.h"
#include "vmenv/cleanup.h"
#include "vmenv/util.h"

struct lexer {
        const char *s, *end;
        unsigned line;
        int depth; /* ( [ { nesting */
        bool space;
        size_t max;
        struct vl_tokens *out;
        /* heredocs opened on the current line, read at its end */
        struct {
                size_t tok;
                char id[64];
                char kind; /* '-', '~' or 0 */
                bool raw;  /* <<-'ID': no escapes, no interpolation */
        } pending[8];
        size_t n_pending;
};

static struct vl_token *emit(struct lexer *lx, enum vl_type t, char *text)
{
        struct vl_token *k;

        if (lx->out->n >= lx->max) {
                free(text);
                lx->s = lx->end; /* too many tokens: stop reading */
                return NULL;
        }
        if (lx->out->n == lx->out->cap) {
                lx->out->cap = lx->out->cap ? 2 * lx->out->cap : 256;
                lx->out->v = vmenv_realloc(lx->out->v, lx->out->cap * sizeof(*lx->out->v));
        }
        k = &lx->out->v[lx->out->n++];
        *k = (struct vl_token){t,       text ? text : vmenv_strdup(""), false, lx->space, lx->line,
                               lx->line};
        lx->space = false;
        return k;
}

/* Does the last token let the statement go on to the next line? */
static bool continues(const struct lexer *lx)
{
        const struct vl_token *t;
        static const char *const ops[] = {
            ",", ".",  "=",  "=>",  "+",  "-", "*", "&&", "||", "(", "[",
            "{", "<<", "+=", "||=", "&.", "?", ":", "==", "!=", NULL};

        if (lx->depth > 0)
                return true;
        if (!lx->out->n)
                return false;
        t = &lx->out->v[lx->out->n - 1];
        if (t->type == VL_LABEL)
                return true;
        if (t->type != VL_PUNCT)
                return t->type == VL_IDENT && (!strcmp(t->text, "and") || !strcmp(t->text, "or"));
        for (size_t i = 0; ops[i]; i++)
                if (!strcmp(t->text, ops[i]))
                        return true;
        return false;
}

/* Backslash escapes of a double-quoted string; unknown for those whose
 * value is not plain text. */
static void unescape(struct vmenv_buf *b, const char **pp, const char *end, bool *unknown)
{
        const char *p = *pp;
        static const char from[] = "ntsreabfv", to[] = "\n\t \r\033\a\b\f\v";
        const char *k;
        char c;

        if (p >= end)
                return;
        c = *p++;
        if (c && (k = strchr(from, c)))
                vmenv_buf_add(b, &to[k - from], 1);
        else if (c && strchr("uxcCM01234567", c))
                *unknown = true; /* codes and numeric escapes: not read here */
        else if (c != '\n')      /* backslash-newline continues the line */
                vmenv_buf_add(b, &c, 1);
        *pp = p;
}

/* Skips #{...} inside a string, with nested braces and quotes. */
static const char *skip_interpolation(const char *p, const char *end)
{
        int depth = 1;
        char q = 0;

        for (p += 2; p < end && depth; p++) {
                if (q) {
                        if (*p == '\\')
                                p++;
                        else if (*p == q)
                                q = 0;
                } else if (*p == '"' || *p == '\'') {
                        q = *p;
                } else if (*p == '{') {
                        depth++;
                } else if (*p == '}') {
                        depth--;
                }
        }
        return p;
}

/* A string body between p and its closing delimiter close (open for
 * nesting brackets); double says whether escapes and #{} apply. */
static char *read_quoted(struct lexer *lx, char open, char close, bool dbl, bool *unknown)
{
        struct vmenv_buf b = {0};
        const char *p = lx->s;
        int nest = 0;

        while (p < lx->end) {
                if (*p == '\n')
                        lx->line++;
                if (*p == '\\' && p + 1 < lx->end) {
                        if (dbl) {
                                p++;
                                if (*p == '\n')
                                        lx->line++;
                                unescape(&b, &p, lx->end, unknown);
                                continue;
                        }
                        if (p[1] == close || p[1] == '\\') {
                                vmenv_buf_add(&b, p + 1, 1);
                                p += 2;
                                continue;
                        }
                }
                if (dbl && *p == '#' && p + 1 < lx->end &&
                    (p[1] == '{' || p[1] == '@' || p[1] == '$')) {
                        *unknown = true;
                        p = p[1] == '{' ? skip_interpolation(p, lx->end) : p + 2;
                        continue;
                }
                if (open != close && *p == open)
                        nest++;
                else if (*p == close && nest-- == 0)
                        break;
                vmenv_buf_add(&b, p, 1);
                p++;
        }
        lx->s = p < lx->end ? p + 1 : p;
        return vmenv_buf_steal(&b);
}

static char closing(char c)
{
        return c == '(' ? ')' : c == '[' ? ']' : c == '{' ? '}' : c == '<' ? '>' : c;
}

/* %w[a b] and %i[a b] become the tokens of ["a", "b"]. */
static void read_words(struct lexer *lx, char open)
{
        bool unknown = false;
        _cleanup_free_ char *body = NULL;
        char *save = NULL;

        lx->s++;
        body = read_quoted(lx, open, closing(open), false, &unknown);
        emit(lx, VL_PUNCT, vmenv_strdup("["));
        for (char *w = strtok_r(body, " \t\n", &save), *first = w; w;
             w = strtok_r(NULL, " \t\n", &save)) {
                if (w != first)
                        emit(lx, VL_PUNCT, vmenv_strdup(","));
                emit(lx, VL_STRING, vmenv_strdup(w));
        }
        emit(lx, VL_PUNCT, vmenv_strdup("]"));
}

/* <<~ID, <<-ID, <<ID, with the id optionally quoted. */
static bool heredoc_start(struct lexer *lx)
{
        const char *p = lx->s + 2;
        char kind = 0, q = 0, id[64];
        size_t n = 0;
        struct vl_token *t;

        if (*p == '~' || *p == '-')
                kind = *p++;
        if (*p == '\'' || *p == '"')
                q = *p++;
        if (!q &&
            !(isupper((unsigned char)*p) || *p == '_' || (kind && isalpha((unsigned char)*p))))
                return false;
        while (p < lx->end && (isalnum((unsigned char)*p) || *p == '_') && n < sizeof(id) - 1)
                id[n++] = *p++;
        id[n] = '\0';
        if (!n || (q && *p != q) || lx->n_pending >= VMENV_ARRAY_SIZE(lx->pending))
                return false;
        if (q)
                p++;
        if (!(t = emit(lx, VL_STRING, NULL)))
                return true;
        lx->pending[lx->n_pending].tok = lx->out->n - 1;
        memcpy(lx->pending[lx->n_pending].id, id, n + 1);
        lx->pending[lx->n_pending].kind = kind;
        lx->pending[lx->n_pending++].raw = q == '\'';
        lx->s = p;
        return true;
}

/* Smallest indentation of the non-blank lines, for <<~. */
static size_t common_indent(const char *s)
{
        size_t best = (size_t)-1;

        for (const char *p = s; *p;) {
                size_t ind = strspn(p, " \t"), len = strcspn(p, "\n");
                if (ind < len && ind < best)
                        best = ind;
                p += len + (p[len] == '\n');
        }
        return best == (size_t)-1 ? 0 : best;
}

/* Reads the bodies of the heredocs opened on the line just ended. */
static void heredoc_bodies(struct lexer *lx)
{
        for (size_t h = 0; h < lx->n_pending; h++) {
                struct vmenv_buf raw = {0}, val = {0};
                bool unknown = false, closed = false;
                size_t cut;
                const char *p;

                while (lx->s < lx->end) {
                        const char *e = memchr(lx->s, '\n', (size_t)(lx->end - lx->s));
                        size_t len = e ? (size_t)(e - lx->s) : (size_t)(lx->end - lx->s);
                        const char *w = lx->s;
                        size_t wl = len;
                        if (lx->pending[h].kind) {
                                w += strspn(w, " \t");
                                wl = len - (size_t)(w - lx->s);
                        }
                        while (wl && (w[wl - 1] == '\r' || w[wl - 1] == ' ' || w[wl - 1] == '\t'))
                                wl--;
                        lx->s = e ? e + 1 : lx->end;
                        lx->line++;
                        if (wl == strlen(lx->pending[h].id) && !memcmp(w, lx->pending[h].id, wl)) {
                                closed = true;
                                break;
                        }
                        vmenv_buf_add(&raw, lx->s - len - (e ? 1 : 0), len);
                        vmenv_buf_add(&raw, "\n", 1);
                }
                cut = lx->pending[h].kind == '~' && raw.data ? common_indent(raw.data) : 0;
                for (p = raw.data ? raw.data : ""; *p;) {
                        size_t len = strcspn(p, "\n");
                        size_t skip = strspn(p, " \t");
                        skip = skip < cut ? skip : cut;
                        skip = skip < len ? skip : len;
                        vmenv_buf_add(&val, p + skip, len - skip);
                        vmenv_buf_add(&val, "\n", 1);
                        p += len + (p[len] == '\n');
                }
                vmenv_buf_free(&raw);
                if (!lx->pending[h].raw && val.data) {
                        struct lexer sub = {.s = val.data, .end = val.data + val.len};
                        char *text = read_quoted(&sub, 0, 0, true, &unknown);
                        vmenv_buf_free(&val);
                        val.data = text;
                }
                free(lx->out->v[lx->pending[h].tok].text);
                lx->out->v[lx->pending[h].tok].text = val.data ? val.data : vmenv_strdup("");
                lx->out->v[lx->pending[h].tok].unknown = unknown || !closed;
                lx->out->v[lx->pending[h].tok].end_line = lx->line - 1;
        }
        lx->n_pending = 0;
}

static const char *const multi_ops[] = {"**", "::", "=>", "==", "!=", "...", "..", "&&", "||=",
                                        "||", "<<", "+=", "-=", "<=", ">=",  "&.", "=~", NULL};

/* =begin ... =end comments and __END__ start at the beginning of a line. */
static void line_start(struct lexer *lx)
{
        if (lx->end - lx->s >= 6 && !strncmp(lx->s, "=begin", 6)) {
                while (lx->s < lx->end) {
                        size_t len = strcspn(lx->s, "\n");
                        bool last = len >= 4 && !strncmp(lx->s, "=end", 4);
                        lx->s += len;
                        if (last || lx->s >= lx->end)
                                break;
                        lx->s++;
                        lx->line++;
                }
        }
        if (lx->end - lx->s >= 7 && !strncmp(lx->s, "__END__", 7))
                lx->s = lx->end;
}

static void newline(struct lexer *lx)
{
        lx->s++;
        if (!continues(lx) && lx->out->n && lx->out->v[lx->out->n - 1].type != VL_NL)
                emit(lx, VL_NL, vmenv_strdup("\n"));
        lx->line++;
        heredoc_bodies(lx);
        line_start(lx);
}

static void one_token(struct lexer *lx)
{
        const char *p = lx->s;
        char c = *p;

        if (c == '"' || c == '\'' || c == '`') {
                bool unknown = c == '`';
                struct vl_token *t;
                unsigned start = lx->line;
                char *v;
                lx->s++;
                v = read_quoted(lx, c, c, c != '\'', &unknown);
                /* "key": value is a label */
                if (lx->s < lx->end && *lx->s == ':' && lx->s[1] != ':' && lx->out->n &&
                    (isspace((unsigned char)lx->s[1]))) {
                        lx->s++;
                        if ((t = emit(lx, VL_LABEL, v)))
                                t->unknown = unknown;
                        return;
                }
                if ((t = emit(lx, VL_STRING, v))) {
                        t->unknown = unknown;
                        t->line = start;
                }
        } else if (c == '%' && p + 2 < lx->end && strchr("wWiI", p[1]) &&
                   ispunct((unsigned char)p[2])) {
                lx->s += 2;
                read_words(lx, *lx->s);
        } else if (c == '%' && p + 2 < lx->end && strchr("qQ", p[1]) &&
                   ispunct((unsigned char)p[2])) {
                bool unknown = false;
                char open = p[2];
                struct vl_token *t;
                lx->s += 3;
                t = emit(lx, VL_STRING,
                         read_quoted(lx, open, closing(open), p[1] == 'Q', &unknown));
                if (t)
                        t->unknown = unknown;
        } else if (c == ':' && p + 1 < lx->end &&
                   (isalpha((unsigned char)p[1]) || p[1] == '_' || p[1] == '"')) {
                if (p[1] == '"') {
                        bool unknown = false;
                        struct vl_token *t;
                        lx->s += 2;
                        if ((t = emit(lx, VL_SYMBOL, read_quoted(lx, '"', '"', true, &unknown))))
                                t->unknown = unknown;
                        return;
                }
                for (p++; p < lx->end && (isalnum((unsigned char)*p) || *p == '_'); p++)
                        ;
                if (p < lx->end && (*p == '?' || *p == '!' || *p == '='))
                        p++;
                emit(lx, VL_SYMBOL, vmenv_strndup(lx->s + 1, (size_t)(p - lx->s - 1)));
                lx->s = p;
        } else if (isdigit((unsigned char)c)) {
                struct vmenv_buf b = {0};
                for (; p < lx->end && (isdigit((unsigned char)*p) || *p == '_'); p++)
                        if (*p != '_')
                                vmenv_buf_add(&b, p, 1);
                if (p + 1 < lx->end && *p == '.' && isdigit((unsigned char)p[1]))
                        for (vmenv_buf_add(&b, p++, 1); p < lx->end && isdigit((unsigned char)*p);
                             p++)
                                vmenv_buf_add(&b, p, 1);
                emit(lx, VL_NUMBER, vmenv_buf_steal(&b));
                lx->s = p;
        } else if (isalpha((unsigned char)c) || c == '_' || c == '$' || c == '@' ||
                   (unsigned char)c >= 0x80) {
                for (p++; p < lx->end && (isalnum((unsigned char)*p) || *p == '_' || *p == '@' ||
                                          (unsigned char)*p >= 0x80);
                     p++)
                        ;
                if (p < lx->end && (*p == '?' || *p == '!') && (p + 1 >= lx->end || p[1] != '='))
                        p++;
                /* `key: value`, but not `A::B` or `a ? b : c` */
                if (p + 1 < lx->end && *p == ':' && p[1] != ':' && c != '$' && c != '@' &&
                    (isspace((unsigned char)p[1]) || p + 1 == lx->end)) {
                        emit(lx, VL_LABEL, vmenv_strndup(lx->s, (size_t)(p - lx->s)));
                        lx->s = p + 1;
                        return;
                }
                emit(lx, VL_IDENT, vmenv_strndup(lx->s, (size_t)(p - lx->s)));
                lx->s = p;
        } else if (c == '<' && p + 2 < lx->end && p[1] == '<' && heredoc_start(lx)) {
                return;
        } else {
                size_t n = 1;
                for (size_t i = 0; multi_ops[i]; i++)
                        if ((size_t)(lx->end - p) >= strlen(multi_ops[i]) &&
                            !strncmp(p, multi_ops[i], strlen(multi_ops[i]))) {
                                n = strlen(multi_ops[i]);
                                break;
                        }
                if (n == 1 && strchr("([{", c))
                        lx->depth++;
                else if (n == 1 && strchr(")]}", c) && lx->depth > 0)
                        lx->depth--;
                emit(lx, VL_PUNCT, vmenv_strndup(p, n));
                lx->s = p + n;
        }
}

void vl_lex(const char *text, size_t len, size_t max_tokens, struct vl_tokens *out)
{
        struct lexer lx = {.s = text, .end = text + len, .line = 1, .max = max_tokens, .out = out};

        memset(out, 0, sizeof(*out));
        line_start(&lx);
        while (lx.s < lx.end) {
                char c = *lx.s;
                if (c == '\n') {
                        newline(&lx);
                } else if (c == ' ' || c == '\t' || c == '\r') {
                        lx.s++;
                        lx.space = true;
                } else if (c == '\\' && lx.s + 1 < lx.end && lx.s[1] == '\n') {
                        lx.s += 2;
                        lx.line++;
                        heredoc_bodies(&lx);
                        lx.space = true;
                } else if (c == '#') {
                        lx.s += strcspn(lx.s, "\n");
                } else if (c == ';') {
                        lx.s++;
                        if (lx.out->n && lx.out->v[lx.out->n - 1].type != VL_NL)
                                emit(&lx, VL_NL, vmenv_strdup(";"));
                } else {
                        one_token(&lx);
                }
        }
        heredoc_bodies(&lx);
        /* the end is always there, past the limit if need be */
        lx.max = (size_t)-1;
        emit(&lx, VL_NL, vmenv_strdup("\n"));
        emit(&lx, VL_EOF, NULL);
}

void vl_tokens_free(struct vl_tokens *t)
{
        for (size_t i = 0; i < t->n; i++)
                free(t->v[i].text);
        free(t->v);
        memset(t, 0, sizeof(*t));
}
