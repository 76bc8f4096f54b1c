/* Version ordering and Vagrant constraints, as tables: every operator,
 * pessimistic bounds, pre-releases, malformed input. */
#include <stdlib.h>

#include "tap.h"
#include "vmenv/box.h"

static const struct {
        const char *a, *b;
        int want; /* sign */
} cmp_cases[] = {
    {"1.0.0", "1.0.0", 0},
    {"1.0", "1.0.0", 0},
    {"1", "1.0.0.0", 0},
    {"1.0.1", "1.0.0", 1},
    {"1.10", "1.9", 1},
    {"2", "1.99.99", 1},
    {"0.9", "1", -1},
    {"1.0.0-beta", "1.0.0", -1},
    {"1.0.0", "1.0.0-rc.1", 1},
    {"1.0.0-alpha", "1.0.0-beta", -1},
    {"1.0.0-beta.2", "1.0.0-beta.11", -1},
    {"1.0.0-beta", "1.0.0-beta.1", -1},
    {"1.0.0-1", "1.0.0-alpha", -1},
    {"1.0.0+build5", "1.0.0", 0},
    {"20240101", "20231231", 1},
    {"1.0.0-beta", "0.9.9", 1},
};

static const struct {
        const char *constraint, *version;
        int match;
} match_cases[] = {
    {NULL, "1.0", 1},
    {"", "0", 1},
    {"= 1.0", "1.0.0", 1},
    {"= 1.0", "1.0.1", 0},
    {"1.2.3", "1.2.3", 1},
    {"1.2.3", "1.2.4", 0},
    {"=1.2.3", "1.2.3", 1},
    {"!= 1.0", "1.0", 0},
    {"!= 1.0", "1.1", 1},
    {"> 1.0", "1.0", 0},
    {"> 1.0", "1.0.1", 1},
    {"< 1.0", "0.9", 1},
    {"< 1.0", "1.0", 0},
    {"< 1.0", "1.0.0-rc1", 1},
    {">= 1.0", "1.0", 1},
    {">= 1.0", "0.99", 0},
    {"<= 1.0", "1.0", 1},
    {"<= 1.0", "1.0.1", 0},
    {">= 1.0, < 2", "1.5", 1},
    {">= 1.0, < 2", "2.0", 0},
    {">= 1.0, < 2", "0.5", 0},
    {">=1.0,<2,!=1.5", "1.5", 0},
    {">=1.0,<2,!=1.5", "1.6", 1},
    {"~> 1.2.3", "1.2.3", 1},
    {"~> 1.2.3", "1.2.9", 1},
    {"~> 1.2.3", "1.3", 0},
    {"~> 1.2.3", "1.2.2", 0},
    {"~> 1.2", "1.2", 1},
    {"~> 1.2", "1.9.9", 1},
    {"~> 1.2", "2.0", 0},
    {"~> 1.2", "1.1", 0},
    {"~> 1", "1.9", 1},
    {"~> 1", "2", 0},
    {"~>1.2,!=1.4", "1.4", 0},
    {"  >=  1.0 ,  <  2  ", "1.1", 1},
    {">= 1.0.0-beta", "1.0.0-alpha", 0},
    {">= 1.0.0-beta", "1.0.0-beta.1", 1},
    {">= 0", "junk", 0},
};

static const char *const bad_constraints[] = {
    ">= ",     "1.0,",    ",1.0",  ">== 1.0",  "=> 1.0",  "~ 1.0", "1.0 2.0", "abc",
    ">= 1..0", ">= 1.0-", ">= .1", "1.0,,2.0", ">= 1.0.", ">= -1", "<> 1",
};

int main(void)
{
        vmenv_error err = VMENV_ERROR_INIT;

        for (size_t i = 0; i < sizeof(cmp_cases) / sizeof(cmp_cases[0]); i++) {
                int r = vmenv_version_compare(cmp_cases[i].a, cmp_cases[i].b);
                int s = (r > 0) - (r < 0);
                int back = vmenv_version_compare(cmp_cases[i].b, cmp_cases[i].a);
                ok(s == cmp_cases[i].want && ((back > 0) - (back < 0)) == -s, "compare %s %s -> %d",
                   cmp_cases[i].a, cmp_cases[i].b, cmp_cases[i].want);
        }
        for (size_t i = 0; i < sizeof(match_cases) / sizeof(match_cases[0]); i++) {
                struct vmenv_constraint *c =
                    vmenv_constraint_parse(match_cases[i].constraint, &err);
                ok(c && vmenv_constraint_match(c, match_cases[i].version) == match_cases[i].match,
                   "'%s' %s '%s'", match_cases[i].constraint ? match_cases[i].constraint : "(null)",
                   match_cases[i].match ? "matches" : "does not match", match_cases[i].version);
                if (!c)
                        printf("#   error: %s\n", err.msg);
                vmenv_error_clear(&err);
                vmenv_constraint_free(c);
        }
        for (size_t i = 0; i < sizeof(bad_constraints) / sizeof(bad_constraints[0]); i++) {
                struct vmenv_constraint *c = vmenv_constraint_parse(bad_constraints[i], &err);
                ok(!c && err.code == VMENV_EXIT_DATA && err.msg &&
                       strstr(err.msg, "invalid version constraint"),
                   "malformed constraint '%s' is rejected", bad_constraints[i]);
                vmenv_error_clear(&err);
                vmenv_constraint_free(c);
        }
        {
                struct vmenv_constraint *c = vmenv_constraint_parse("= 1.2.3", &err);
                is_str(vmenv_constraint_exact(c), "1.2.3", "'= 1.2.3' is exact");
                vmenv_constraint_free(c);
                c = vmenv_constraint_parse(">= 1.2.3", &err);
                is_str(vmenv_constraint_exact(c), NULL, "'>= 1.2.3' is not exact");
                vmenv_constraint_free(c);
        }
        {
                /* a long but valid constraint, and one over the limit */
                char big[2048];
                memset(big, ' ', sizeof(big) - 1);
                big[sizeof(big) - 1] = '\0';
                big[0] = '1';
                struct vmenv_constraint *c = vmenv_constraint_parse(big, &err);
                ok(!c && err.code == VMENV_EXIT_DATA,
                   "a constraint over the length limit is rejected");
                vmenv_error_clear(&err);
                vmenv_constraint_free(c);
        }
        return done_testing();
}
