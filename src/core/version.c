/* Box versions and Vagrant's constraint syntax (=, !=, >, <, >=, <=, ~>),
 * comma-separated; a pre-release ("1.0.0-beta") sorts before its release. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "vmenv/box.h"
#include "vmenv/cleanup.h"
#include "vmenv/util.h"

#define VERSION_MAX_LEN 128
#define VERSION_MAX_PARTS 16
#define CONSTRAINT_MAX_LEN 1024
#define CONSTRAINT_MAX_CLAUSES 32

enum op { OP_EQ, OP_NE, OP_GT, OP_LT, OP_GE, OP_LE };

struct clause {
        enum op op;
        char *version;
};

struct vmenv_constraint {
        struct clause *clauses;
        size_t n;
        char *exact;
};

struct parsed {
        unsigned long long num[VERSION_MAX_PARTS];
        size_t n;
        const char *pre; /* after '-', up to '+' or end; NULL if none */
        size_t pre_len;
};

static bool parse_version(const char *v, struct parsed *p)
{
        const char *s = v;

        memset(p, 0, sizeof(*p));
        if (!v || !*v || strlen(v) > VERSION_MAX_LEN)
                return false;
        for (;;) {
                unsigned long long n = 0;
                size_t digits = 0;
                if (p->n >= VERSION_MAX_PARTS)
                        return false;
                while (isdigit((unsigned char)*s)) {
                        if (++digits > 18)
                                return false;
                        n = n * 10 + (unsigned)(*s++ - '0');
                }
                if (!digits)
                        return false;
                p->num[p->n++] = n;
                if (*s != '.')
                        break;
                s++;
        }
        if (*s == '-') {
                const char *start = ++s;
                while (isalnum((unsigned char)*s) || *s == '.' || *s == '-')
                        s++;
                if (s == start || start[0] == '.' || s[-1] == '.')
                        return false;
                p->pre = start;
                p->pre_len = (size_t)(s - start);
        }
        if (*s == '+') {
                const char *start = ++s;
                while (isalnum((unsigned char)*s) || *s == '.' || *s == '-')
                        s++;
                if (s == start)
                        return false;
        }
        return *s == '\0';
}

bool vmenv_version_valid(const char *v)
{
        struct parsed p;
        return parse_version(v, &p);
}

static int cmp_ull(unsigned long long a, unsigned long long b)
{
        return a < b ? -1 : a > b;
}

/* Semantic-versioning precedence of two pre-release strings. */
static int cmp_pre(const char *a, size_t la, const char *b, size_t lb)
{
        const char *ea = a + la, *eb = b + lb;

        while (a < ea && b < eb) {
                size_t na = strcspn(a, "."), nb = strcspn(b, ".");
                bool da = true, db = true;
                int r;
                if (a + na > ea)
                        na = (size_t)(ea - a);
                if (b + nb > eb)
                        nb = (size_t)(eb - b);
                for (size_t i = 0; i < na; i++)
                        da = da && isdigit((unsigned char)a[i]);
                for (size_t i = 0; i < nb; i++)
                        db = db && isdigit((unsigned char)b[i]);
                if (da && db) {
                        /* compare numerically without overflow: length, then text */
                        while (na > 1 && *a == '0')
                                a++, na--;
                        while (nb > 1 && *b == '0')
                                b++, nb--;
                        r = na != nb ? (na < nb ? -1 : 1) : memcmp(a, b, na);
                } else if (da != db) {
                        r = da ? -1 : 1;
                } else {
                        r = memcmp(a, b, na < nb ? na : nb);
                        if (!r && na != nb)
                                r = na < nb ? -1 : 1;
                }
                if (r)
                        return r < 0 ? -1 : 1;
                a += na;
                b += nb;
                if (a < ea)
                        a++;
                if (b < eb)
                        b++;
        }
        return (a < ea) - (b < eb);
}

int vmenv_version_compare(const char *a, const char *b)
{
        struct parsed pa, pb;
        bool va = parse_version(a, &pa), vb = parse_version(b, &pb);
        size_t n;

        if (!va || !vb) {
                if (va != vb)
                        return va ? 1 : -1;
                return strcmp(a ? a : "", b ? b : "") < 0 ? -1 : strcmp(a ? a : "", b ? b : "") > 0;
        }
        n = pa.n > pb.n ? pa.n : pb.n;
        for (size_t i = 0; i < n; i++) {
                int r = cmp_ull(i < pa.n ? pa.num[i] : 0, i < pb.n ? pb.num[i] : 0);
                if (r)
                        return r;
        }
        if (!pa.pre || !pb.pre)
                return pa.pre ? -1 : pb.pre ? 1 : 0;
        return cmp_pre(pa.pre, pa.pre_len, pb.pre, pb.pre_len);
}

void vmenv_constraint_free(struct vmenv_constraint *c)
{
        if (!c)
                return;
        for (size_t i = 0; i < c->n; i++)
                free(c->clauses[i].version);
        free(c->clauses);
        free(c->exact);
        free(c);
}

VMENV_DEFINE_CLEANUP(struct vmenv_constraint, vmenv_constraint_free)

static void add_clause(struct vmenv_constraint *c, enum op op, char *version)
{
        c->clauses = vmenv_realloc(c->clauses, (c->n + 1) * sizeof(*c->clauses));
        c->clauses[c->n].op = op;
        c->clauses[c->n].version = version;
        c->n++;
}

/* "~> 1.2.3" → ">= 1.2.3" and "< 1.3"; "~> 1.2" → "< 2"; "~> 1" → "< 2". */
static char *pessimistic_upper(const char *v)
{
        struct parsed p;
        struct vmenv_buf b = {0};
        size_t keep;

        if (!parse_version(v, &p))
                return NULL;
        keep = p.n > 1 ? p.n - 1 : 1;
        for (size_t i = 0; i < keep; i++) {
                unsigned long long n = p.num[i] + (i == keep - 1 ? 1 : 0);
                vmenv_buf_printf(&b, "%s%llu", i ? "." : "", n);
        }
        return vmenv_buf_steal(&b);
}

struct vmenv_constraint *vmenv_constraint_parse(const char *text, vmenv_error *err)
{
        _cleanup_(vmenv_constraint_freep) struct vmenv_constraint *c = vmenv_calloc(1, sizeof(*c));
        const char *s = text;

        if (!text)
                return TAKE_PTR(c);
        if (strlen(text) > CONSTRAINT_MAX_LEN) {
                vmenv_error_set(err, VMENV_EXIT_DATA, "version constraint is longer than %d bytes",
                                CONSTRAINT_MAX_LEN);
                return NULL;
        }
        while (isspace((unsigned char)*s))
                s++;
        if (!*s)
                return TAKE_PTR(c);
        for (;;) {
                size_t len = strcspn(s, ",");
                _cleanup_free_ char *clause = vmenv_strndup(s, len);
                char *p = clause, *end;
                enum op op = OP_EQ;
                bool pessimistic = false;

                while (isspace((unsigned char)*p))
                        p++;
                end = p + strlen(p);
                while (end > p && isspace((unsigned char)end[-1]))
                        *--end = '\0';
                if (!*p) {
                        vmenv_error_set(err, VMENV_EXIT_DATA,
                                        "invalid version constraint '%s': empty clause", text);
                        return NULL;
                }
                if (!strncmp(p, "~>", 2))
                        pessimistic = true, p += 2;
                else if (!strncmp(p, ">=", 2))
                        op = OP_GE, p += 2;
                else if (!strncmp(p, "<=", 2))
                        op = OP_LE, p += 2;
                else if (!strncmp(p, "!=", 2))
                        op = OP_NE, p += 2;
                else if (*p == '>')
                        op = OP_GT, p++;
                else if (*p == '<')
                        op = OP_LT, p++;
                else if (*p == '=')
                        op = OP_EQ, p++;
                while (isspace((unsigned char)*p))
                        p++;
                if (!vmenv_version_valid(p)) {
                        vmenv_error_set(err, VMENV_EXIT_DATA,
                                        "invalid version constraint '%s': '%s' is not a version",
                                        text, p);
                        vmenv_error_hint(err, "write constraints like '>= 1.0, < 2' or '~> 1.2'");
                        return NULL;
                }
                if (c->n + 2 > CONSTRAINT_MAX_CLAUSES) {
                        vmenv_error_set(err, VMENV_EXIT_DATA,
                                        "invalid version constraint '%s': more than %d clauses",
                                        text, CONSTRAINT_MAX_CLAUSES);
                        return NULL;
                }
                if (pessimistic) {
                        add_clause(c, OP_GE, vmenv_strdup(p));
                        add_clause(c, OP_LT, pessimistic_upper(p));
                } else {
                        add_clause(c, op, vmenv_strdup(p));
                }
                s += len;
                if (!*s)
                        break;
                s++;
        }
        if (c->n == 1 && c->clauses[0].op == OP_EQ)
                c->exact = vmenv_strdup(c->clauses[0].version);
        return TAKE_PTR(c);
}

bool vmenv_constraint_match(const struct vmenv_constraint *c, const char *version)
{
        if (!vmenv_version_valid(version))
                return false;
        for (size_t i = 0; c && i < c->n; i++) {
                int r = vmenv_version_compare(version, c->clauses[i].version);
                bool okay;
                switch (c->clauses[i].op) {
                case OP_EQ:
                        okay = r == 0;
                        break;
                case OP_NE:
                        okay = r != 0;
                        break;
                case OP_GT:
                        okay = r > 0;
                        break;
                case OP_LT:
                        okay = r < 0;
                        break;
                case OP_GE:
                        okay = r >= 0;
                        break;
                case OP_LE:
                        okay = r <= 0;
                        break;
                default:
                        okay = false;
                }
                if (!okay)
                        return false;
        }
        return true;
}

const char *vmenv_constraint_exact(const struct vmenv_constraint *c)
{
        return c ? c->exact : NULL;
}
