/* A minimal TAP producer for unit tests run by 'meson test' (protocol: tap).
 * Table-driven tests call ok()/is_str() per case; done_testing() prints the plan. */
#ifndef VMENV_TAP_H
#define VMENV_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed;

__attribute__((format(printf, 2, 3), unused)) static int ok(int cond, const char *fmt, ...)
{
        va_list ap;
        char what[4096];
        printf("%s %d - ", cond ? "ok" : "not ok", ++tap_n);
        va_start(ap, fmt);
        vsnprintf(what, sizeof(what), fmt, ap);
        va_end(ap);
        /* one TAP line: a newline in a case's text would start a line
         * that is no TAP at all */
        for (const char *c = what; *c; c++)
                fputs(*c == '\n' ? "\\n" : *c == '\r' ? "\\r" : (char[2]){*c, 0}, stdout);
        putchar('\n');
        if (!cond)
                tap_failed++;
        fflush(stdout);
        return cond;
}

__attribute__((unused)) static int is_str(const char *got, const char *want, const char *what)
{
        int same = (got && want) ? strcmp(got, want) == 0 : got == want;
        ok(same, "%s", what);
        if (!same)
                printf("#   got:  '%s'\n#   want: '%s'\n", got ? got : "(null)",
                       want ? want : "(null)");
        return same;
}

/* ok() for a vmenv call that returns 0 on success and fills the caller's
 * vmenv_error named err; the error is printed when it fails. */
#define CHECK(call, what)                                                                          \
        do {                                                                                       \
                vmenv_error_clear(&err);                                                           \
                if (!ok((call) == 0, "%s", what))                                                  \
                        printf("#   error: %s\n", err.msg ? err.msg : "(none)");                   \
        } while (0)

__attribute__((unused)) static int done_testing(void)
{
        printf("1..%d\n", tap_n);
        return tap_failed ? 1 : 0;
}

#endif
