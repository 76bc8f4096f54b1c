/* Box versions and constraints with RubyGems' rules (Gem::Version and
 * Gem::Requirement), because Vagrant's box versions and box_version are
 * exactly those: the same strings must sort and match the same way here. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "vmenv/box.h"
#include "vmenv/cleanup.h"
#include "vmenv/util.h"

/* A version is at most this long; every '-' becomes ".pre." (5 bytes), and a
 * character starts at most one segment, so the buffers below always fit. */
#define VERSION_MAX_LEN 128
#define VERSION_BUF (VERSION_MAX_LEN * 5 + 1)
#define VERSION_MAX_SEGS (VERSION_MAX_LEN * 2)
#define CONSTRAINT_MAX_LEN 1024
#define CONSTRAINT_MAX_CLAUSES 32

enum op { OP_EQ, OP_NE, OP_GT, OP_LT, OP_GE, OP_LE, OP_PESSIMISTIC };

struct clause {
        enum op op;
        char *version;
        char *bump; /* for "~>": the version the release must stay below */
};

struct vmenv_constraint {
        struct clause *clauses;
        size_t n;
        char *exact;
};

/* A run of digits (a number, leading zeros dropped) or of letters. */
struct seg {
        const char *s;
        size_t len;
        bool num;
};

struct parsed {
        char ver[VERSION_BUF];   /* trimmed, '-' spelled ".pre.", "" as "0" */
        char canon[VERSION_BUF]; /* ver without zeros that do not count */
        struct seg segs[VERSION_MAX_SEGS], csegs[VERSION_MAX_SEGS];
        size_t n, cn;
        bool pre;
};

static bool is_space(char c)
{
        return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/* RubyGems' version pattern: N(.ALNUM)*(-[ALNUM-]+(.[ALNUM-]+)*)?, which
 * s[0..len) must match whole. */
static bool pattern_match(const char *s, size_t len)
{
        const char *e = s + len;

        if (s == e || !isdigit((unsigned char)*s))
                return false;
        while (s < e && isdigit((unsigned char)*s))
                s++;
        while (s + 1 < e && *s == '.' && isalnum((unsigned char)s[1])) {
                s++;
                while (s < e && isalnum((unsigned char)*s))
                        s++;
        }
        if (s == e)
                return true;
        if (*s != '-')
                return false;
        s++;
        for (;;) {
                const char *start = s;
                while (s < e && (isalnum((unsigned char)*s) || *s == '-'))
                        s++;
                if (s == start)
                        return false;
                if (s == e)
                        return true;
                if (*s != '.')
                        return false;
                s++;
        }
}

static size_t split_segments(const char *s, struct seg *out)
{
        size_t n = 0;

        while (*s) {
                const char *start = s;
                bool num = isdigit((unsigned char)*s);
                if (!isalnum((unsigned char)*s)) {
                        s++;
                        continue;
                }
                while (*s && (num ? isdigit((unsigned char)*s) : isalpha((unsigned char)*s)))
                        s++;
                if (num)
                        while (start + 1 < s && *start == '0')
                                start++;
                out[n].s = start;
                out[n].len = (size_t)(s - start);
                out[n].num = num;
                n++;
        }
        return n;
}

/* Zeros that do not change a version's place: trailing ".0"s of the release
 * and of the pre-release part, and zeros just before the first letters
 * ("1.0.0.a.1.0" counts as 1.a.1). Same two rewrites as RubyGems. */
static void canonicalize(struct parsed *p)
{
        char *s = p->canon;
        size_t len, q;

        strcpy(s, p->ver);
        len = strlen(s);
        q = len;
        while (q > 0 && (s[q - 1] == '.' || s[q - 1] == '0'))
                q--;
        if (q < len) {
                if (q > 0 && isalpha((unsigned char)s[q - 1])) {
                        s[q] = '\0';
                } else {
                        for (size_t i = q; i + 1 < len; i++)
                                if (s[i] == '.') {
                                        s[i + 1] = '\0';
                                        break;
                                }
                }
        }
        len = strlen(s);
        for (size_t i = 0; p->pre && i < len; i++) {
                size_t r = i;
                if (i > 0 && s[i - 1] != '.')
                        continue;
                while (r < len && (s[r] == '0' || s[r] == '.'))
                        r++;
                if (r > i && r < len && isalpha((unsigned char)s[r])) {
                        memmove(s + i, s + r, len - r + 1);
                        break;
                }
        }
}

static bool parse_version(const char *v, struct parsed *p)
{
        size_t len, o = 0;

        if (!v || strlen(v) > VERSION_MAX_LEN)
                return false;
        while (is_space(*v))
                v++;
        len = strlen(v);
        while (len > 0 && is_space(v[len - 1]))
                len--;
        if (len == 0) {
                v = "0";
                len = 1;
        }
        if (!pattern_match(v, len))
                return false;
        p->pre = false;
        for (size_t i = 0; i < len; i++) {
                if (v[i] == '-') {
                        memcpy(p->ver + o, ".pre.", 5);
                        o += 5;
                        p->pre = true;
                        continue;
                }
                p->pre = p->pre || isalpha((unsigned char)v[i]);
                p->ver[o++] = v[i];
        }
        p->ver[o] = '\0';
        canonicalize(p);
        p->n = split_segments(p->ver, p->segs);
        p->cn = split_segments(p->canon, p->csegs);
        return true;
}

/* What vmenv accepts as a version it names things after: RubyGems' rules,
 * but not blank and without surrounding whitespace. */
bool vmenv_version_valid(const char *v)
{
        struct parsed *p;
        bool ok;

        if (!v || !*v || is_space(*v) || is_space(v[strlen(v) - 1]))
                return false;
        p = vmenv_calloc(1, sizeof(*p));
        ok = parse_version(v, p);
        free(p);
        return ok;
}

static int cmp_seg(const struct seg *a, const struct seg *b)
{
        int r;

        if (a->num != b->num)
                return a->num ? 1 : -1; /* a letter segment sorts first */
        if (a->num && a->len != b->len)
                return a->len < b->len ? -1 : 1;
        r = memcmp(a->s, b->s, a->len < b->len ? a->len : b->len);
        if (r)
                return r < 0 ? -1 : 1;
        return a->len == b->len ? 0 : a->len < b->len ? -1 : 1;
}

static bool seg_zero(const struct seg *s)
{
        return s->num && s->len == 1 && s->s[0] == '0';
}

/* The sign of the rest of the longer version: a letter means pre-release
 * (smaller), a non-zero number means larger. */
static int cmp_tail(const struct seg *segs, size_t from, size_t n)
{
        for (size_t i = from; i < n; i++) {
                if (!segs[i].num)
                        return -1;
                if (!seg_zero(&segs[i]))
                        return 1;
        }
        return 0;
}

static int compare_parsed(const struct parsed *a, const struct parsed *b)
{
        size_t limit = a->cn < b->cn ? a->cn : b->cn;

        if (!strcmp(a->ver, b->ver))
                return 0;
        for (size_t i = 0; i < limit; i++) {
                int r = cmp_seg(&a->csegs[i], &b->csegs[i]);
                if (r)
                        return r;
        }
        if (a->cn == b->cn)
                return 0;
        return a->cn < b->cn ? -cmp_tail(b->csegs, limit, b->cn) : cmp_tail(a->csegs, limit, a->cn);
}

int vmenv_version_compare(const char *a, const char *b)
{
        _cleanup_free_ struct parsed *pa = vmenv_calloc(2, sizeof(*pa));
        struct parsed *pb = pa + 1;
        bool va = parse_version(a, pa), vb = parse_version(b, pb);
        int r;

        if (!va || !vb) {
                if (va != vb)
                        return va ? 1 : -1;
                r = strcmp(a ? a : "", b ? b : "");
                return (r > 0) - (r < 0);
        }
        return compare_parsed(pa, pb);
}

/* The segments up to the first letter joined by dots: "1.9.3.alpha.5" has
 * release 1.9.3. With bump, the last one of those dropped (unless alone)
 * and the new last one plus one: 5.2.4.a is bumped to 5.3. */
static char *release_of(const struct parsed *p, bool bump)
{
        struct vmenv_buf b = {0};
        size_t n = 0;

        while (n < p->n && p->segs[n].num)
                n++;
        if (bump && n > 1)
                n--;
        for (size_t i = 0; i < n; i++) {
                if (i)
                        vmenv_buf_puts(&b, ".");
                if (bump && i == n - 1) {
                        /* decimal +1 on the digit string, of any length */
                        _cleanup_free_ char *d = vmenv_calloc(1, p->segs[i].len + 2);
                        size_t k = p->segs[i].len;
                        memcpy(d + 1, p->segs[i].s, k);
                        d[0] = '0';
                        while (d[k] == '9')
                                d[k--] = '0';
                        d[k]++;
                        vmenv_buf_puts(&b, d[0] == '0' ? d + 1 : d);
                } else {
                        vmenv_buf_add(&b, p->segs[i].s, p->segs[i].len);
                }
        }
        return vmenv_buf_steal(&b);
}

void vmenv_constraint_free(struct vmenv_constraint *c)
{
        if (!c)
                return;
        for (size_t i = 0; i < c->n; i++) {
                free(c->clauses[i].version);
                free(c->clauses[i].bump);
        }
        free(c->clauses);
        free(c->exact);
        free(c);
}


/* One requirement like Gem::Requirement's: [OP] VERSION, spaces around. */
static int parse_clause(struct vmenv_constraint *c, const char *text, const char *p, size_t len,
                        vmenv_error *err)
{
        static const struct {
                const char *s;
                enum op op;
        } ops[] = {
            {"~>", OP_PESSIMISTIC}, {">=", OP_GE}, {"<=", OP_LE}, {"!=", OP_NE},
            {">", OP_GT},           {"<", OP_LT},  {"=", OP_EQ},
        };
        _cleanup_free_ char *clause = vmenv_strndup(p, len);
        _cleanup_free_ struct parsed *parsed = vmenv_calloc(1, sizeof(*parsed));
        char *s = clause, *end;
        enum op op = OP_EQ;

        while (is_space(*s))
                s++;
        for (size_t i = 0; i < VMENV_ARRAY_SIZE(ops); i++)
                if (!strncmp(s, ops[i].s, strlen(ops[i].s))) {
                        op = ops[i].op;
                        s += strlen(ops[i].s);
                        break;
                }
        while (is_space(*s))
                s++;
        end = s + strlen(s);
        while (end > s && is_space(end[-1]))
                *--end = '\0';
        if (!*s) {
                vmenv_error_set(err, VMENV_EXIT_DATA,
                                "invalid version constraint '%s': empty requirement", text);
                vmenv_error_hint(err, "write constraints like '>= 1.0, < 2' or '~> 1.2'");
                return -1;
        }
        if (!parse_version(s, parsed)) {
                vmenv_error_set(err, VMENV_EXIT_DATA,
                                "invalid version constraint '%s': '%s' is not a version", text, s);
                vmenv_error_hint(err, "write constraints like '>= 1.0, < 2' or '~> 1.2'");
                return -1;
        }
        if (c->n + 1 > CONSTRAINT_MAX_CLAUSES) {
                vmenv_error_set(err, VMENV_EXIT_DATA,
                                "invalid version constraint '%s': more than %d requirements", text,
                                CONSTRAINT_MAX_CLAUSES);
                return -1;
        }
        c->clauses = vmenv_realloc(c->clauses, (c->n + 1) * sizeof(*c->clauses));
        c->clauses[c->n] = (struct clause){
            .op = op,
            .version = vmenv_strdup(s),
            .bump = op == OP_PESSIMISTIC ? release_of(parsed, true) : NULL,
        };
        c->n++;
        return 0;
}

/* Vagrant splits box_version at commas (Ruby's split: empty fields at the
 * end vanish, others are errors) and reads each part as a Gem::Requirement;
 * all of them must hold. No requirement at all matches every version. */
struct vmenv_constraint *vmenv_constraint_parse(const char *text, vmenv_error *err)
{
        _cleanup_(vmenv_constraint_freep) struct vmenv_constraint *c = vmenv_calloc(1, sizeof(*c));
        const char *s = text;
        size_t end;

        if (!text)
                return TAKE_PTR(c);
        if (strlen(text) > CONSTRAINT_MAX_LEN) {
                vmenv_error_set(err, VMENV_EXIT_DATA, "version constraint is longer than %d bytes",
                                CONSTRAINT_MAX_LEN);
                return NULL;
        }
        end = strlen(text);
        while (end > 0 && text[end - 1] == ',')
                end--;
        while (s < text + end) {
                size_t len = strcspn(s, ",");
                if (s + len > text + end)
                        len = (size_t)(text + end - s);
                if (parse_clause(c, text, s, len, err) < 0)
                        return NULL;
                s += len;
                if (s < text + end)
                        s++;
        }
        if (c->n == 1 && c->clauses[0].op == OP_EQ)
                c->exact = vmenv_strdup(c->clauses[0].version);
        return TAKE_PTR(c);
}

bool vmenv_constraint_match(const struct vmenv_constraint *c, const char *version)
{
        _cleanup_free_ struct parsed *pv = vmenv_calloc(3, sizeof(*pv));
        struct parsed *pr = pv + 1, *tmp = pv + 2;

        if (!parse_version(version, pv))
                return false;
        for (size_t i = 0; c && i < c->n; i++) {
                int r;
                bool okay;
                if (!parse_version(c->clauses[i].version, pr))
                        return false;
                r = compare_parsed(pv, pr);
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
                case OP_PESSIMISTIC: {
                        /* RubyGems: v >= r and v.release < r.bump */
                        _cleanup_free_ char *rel = release_of(pv, false);
                        okay = r >= 0 && parse_version(rel, tmp) &&
                               parse_version(c->clauses[i].bump, pr) && compare_parsed(tmp, pr) < 0;
                        break;
                }
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
