/* Version ordering and constraints as RubyGems and Vagrant define them: the
 * cases are in tests/unit/versions.txt (format described there). */
#include <stdlib.h>

#include "tap.h"
#include "vmenv/box.h"
#include "vmenv/cleanup.h"
#include "vmenv/util.h"

#define MAX_FIELDS 5

/* A field without its surrounding spaces; "..." keeps them and knows \n, \t. */
static char *field(const char *s, size_t len)
{
        char *out, *o;

        while (len && (*s == ' ' || *s == '\t'))
                s++, len--;
        while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
                len--;
        if (len < 2 || s[0] != '"' || s[len - 1] != '"')
                return vmenv_strndup(s, len);
        o = out = vmenv_calloc(1, len);
        for (size_t i = 1; i + 1 < len; i++) {
                if (s[i] == '\\' && i + 2 < len) {
                        i++;
                        *o++ = s[i] == 'n' ? '\n' : s[i] == 't' ? '\t' : s[i];
                } else {
                        *o++ = s[i];
                }
        }
        return out;
}

static int sign(int r)
{
        return (r > 0) - (r < 0);
}

static void check_cmp(char **f, unsigned line)
{
        int want = !strcmp(f[3], "<") ? -1 : !strcmp(f[3], ">") ? 1 : 0;
        int r = sign(vmenv_version_compare(f[1], f[2]));
        int back = sign(vmenv_version_compare(f[2], f[1]));
        ok(r == want && back == -want, "line %u: '%s' %s '%s'", line, f[1], f[3], f[2]);
}

static void check_match(char **f, unsigned line)
{
        vmenv_error err = VMENV_ERROR_INIT;
        struct vmenv_constraint *c = vmenv_constraint_parse(f[1], &err);
        bool want = !strcmp(f[3], "yes");
        ok(c && vmenv_constraint_match(c, f[2]) == want, "line %u: '%s' %s '%s'", line, f[1],
           want ? "matches" : "does not match", f[2]);
        if (!c)
                printf("#   error: %s\n", err.msg);
        vmenv_error_clear(&err);
        vmenv_constraint_free(c);
}

static void check_req(char **f, unsigned line)
{
        vmenv_error err = VMENV_ERROR_INIT;
        struct vmenv_constraint *c = vmenv_constraint_parse(f[1], &err);
        if (!strcmp(f[2], "ok"))
                ok(c != NULL, "line %u: '%s' is a valid requirement", line, f[1]);
        else
                ok(!c && err.code == VMENV_EXIT_DATA && err.msg &&
                       strstr(err.msg, "invalid version constraint"),
                   "line %u: '%s' is refused", line, f[1]);
        if (c && strcmp(f[2], "ok"))
                printf("#   accepted\n");
        vmenv_error_clear(&err);
        vmenv_constraint_free(c);
}

static void check_valid(char **f, unsigned line)
{
        bool want = !strcmp(f[2], "yes");
        ok(vmenv_version_valid(f[1]) == want, "line %u: '%s' is %s", line, f[1],
           want ? "valid" : "not valid");
}

/* A catalog holding the versions, each with one libvirt provider. */
static void check_pick(char **f, unsigned line)
{
        vmenv_error err = VMENV_ERROR_INIT;
        struct vmenv_buf json = {0};
        _cleanup_free_ char *list = vmenv_strdup(f[1]), *text = NULL;
        struct vmenv_catalog *c;
        struct vmenv_box_ref ref = {0};
        const char *sep = "";
        char *save = NULL;
        int r;

        vmenv_buf_puts(&json, "{\"name\":\"t/b\",\"versions\":[");
        for (char *v = strtok_r(list, " ", &save); v; v = strtok_r(NULL, " ", &save)) {
                vmenv_buf_printf(&json,
                                 "%s{\"version\":\"%s\",\"providers\":[{\"name\":\"libvirt\","
                                 "\"url\":\"b-%s.box\"}]}",
                                 sep, v, v);
                sep = ",";
        }
        vmenv_buf_puts(&json, "]}");
        text = vmenv_buf_steal(&json);
        c = vmenv_catalog_parse(text, strlen(text), "/cat/t.json", &err);
        r = c ? vmenv_catalog_resolve(c, f[2], NULL, &ref, &err) : -1;
        if (!strcmp(f[3], "none"))
                ok(r < 0 && err.code == VMENV_EXIT_NOINPUT, "line %u: nothing in [%s] matches '%s'",
                   line, f[1], f[2]);
        else
                ok(r == 0 && ref.version && !strcmp(ref.version, f[3]),
                   "line %u: [%s] '%s' picks %s (got %s%s)", line, f[1], f[2], f[3],
                   ref.version ? ref.version : "none: ", ref.version ? "" : err.msg);
        vmenv_box_ref_clear(&ref);
        vmenv_catalog_free(c);
        vmenv_error_clear(&err);
}

static const struct {
        const char *kind;
        size_t fields;
        void (*check)(char **f, unsigned line);
} kinds[] = {
    {"cmp", 4, check_cmp},     {"match", 4, check_match}, {"req", 3, check_req},
    {"valid", 3, check_valid}, {"pick", 4, check_pick},
};

int main(void)
{
        const char *src = getenv("VMENV_SRCDIR");
        _cleanup_free_ char *path = vmenv_strdupf("%s/tests/unit/versions.txt", src ? src : ".");
        FILE *fp = fopen(path, "r");
        char buf[4096];
        unsigned line = 0, cases = 0;

        if (!fp) {
                printf("Bail out! cannot open %s\n", path);
                return 1;
        }
        while (fgets(buf, sizeof(buf), fp)) {
                char *f[MAX_FIELDS] = {0}, *s = buf;
                size_t n = 0, k;
                line++;
                buf[strcspn(buf, "\n")] = '\0';
                if (!buf[strspn(buf, " \t")] || buf[0] == '#')
                        continue;
                while (n < MAX_FIELDS) {
                        /* a '|' inside "..." does not split */
                        size_t len = 0;
                        bool quoted = false;
                        while (s[len] && (quoted || s[len] != '|')) {
                                if (s[len] == '"' && (len == 0 || s[len - 1] != '\\'))
                                        quoted = !quoted;
                                len++;
                        }
                        f[n++] = field(s, len);
                        if (!s[len])
                                break;
                        s += len + 1;
                }
                for (k = 0; k < VMENV_ARRAY_SIZE(kinds); k++)
                        if (!strcmp(f[0], kinds[k].kind))
                                break;
                if (k == VMENV_ARRAY_SIZE(kinds) || n != kinds[k].fields)
                        ok(0, "line %u: malformed case", line);
                else
                        kinds[k].check(f, line);
                cases++;
                for (size_t i = 0; i < n; i++)
                        free(f[i]);
        }
        fclose(fp);
        ok(cases > 200, "%u cases read from %s", cases, path);
        {
                /* one over the length limit is refused, whatever it holds */
                char big[2048];
                vmenv_error err = VMENV_ERROR_INIT;
                struct vmenv_constraint *c;
                memset(big, ' ', sizeof(big) - 1);
                big[sizeof(big) - 1] = '\0';
                big[0] = '1';
                c = vmenv_constraint_parse(big, &err);
                ok(!c && err.code == VMENV_EXIT_DATA,
                   "a constraint over the length limit is refused");
                vmenv_error_clear(&err);
                vmenv_constraint_free(c);
                c = vmenv_constraint_parse("= 1.2.3", &err);
                is_str(vmenv_constraint_exact(c), "1.2.3", "'= 1.2.3' is exact");
                vmenv_constraint_free(c);
                c = vmenv_constraint_parse(">= 1.2.3", &err);
                is_str(vmenv_constraint_exact(c), NULL, "'>= 1.2.3' is not exact");
                vmenv_constraint_free(c);
                memset(big, '1', 200);
                big[200] = '\0';
                ok(!vmenv_version_valid(big), "a version over 128 characters is not valid");
        }
        return done_testing();
}
