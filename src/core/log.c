/* Logging to stderr: debug lines only with -v, notices unless -q. */
#include <stdarg.h>
#include <stdio.h>

#include "vmenv/log.h"

int vmenv_log_level = VMENV_LOG_INFO;

static void vlog(const char *prefix, const char *fmt, va_list ap)
{
        fputs(prefix, stderr);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
}

void vmenv_debug(const char *fmt, ...)
{
        va_list ap;

        if (vmenv_log_level < VMENV_LOG_DEBUG)
                return;
        va_start(ap, fmt);
        vlog("vmenv: debug: ", fmt, ap);
        va_end(ap);
}

void vmenv_info(const char *fmt, ...)
{
        va_list ap;

        if (vmenv_log_level < VMENV_LOG_INFO)
                return;
        va_start(ap, fmt);
        vlog("", fmt, ap);
        va_end(ap);
}

void vmenv_warn(const char *fmt, ...)
{
        va_list ap;

        if (vmenv_log_level < VMENV_LOG_INFO)
                return;
        va_start(ap, fmt);
        vlog("vmenv: warning: ", fmt, ap);
        va_end(ap);
}
