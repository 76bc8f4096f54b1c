/* The error object: set at the failure, prefixed with context on the way up. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "vmenv/error.h"
#include "vmenv/util.h"

int vmenv_error_set(vmenv_error *err, int code, const char *fmt, ...)
{
        va_list ap;

        if (!err)
                return -1;
        vmenv_error_clear(err);
        va_start(ap, fmt);
        err->msg = vmenv_vstrdupf(fmt, ap);
        va_end(ap);
        err->code = code ? code : VMENV_EXIT_FAILURE;
        return -1;
}

int vmenv_error_errno(vmenv_error *err, int code, int errnum, const char *fmt, ...)
{
        va_list ap;
        char *head;

        if (!err)
                return -1;
        va_start(ap, fmt);
        head = vmenv_vstrdupf(fmt, ap);
        va_end(ap);
        vmenv_error_set(err, code ? code : vmenv_exit_for_errno(errnum), "%s: %s",
                        head, strerror(errnum));
        free(head);
        return -1;
}

int vmenv_error_prefix(vmenv_error *err, const char *fmt, ...)
{
        va_list ap;
        char *head, *msg;

        if (!err)
                return -1;
        va_start(ap, fmt);
        head = vmenv_vstrdupf(fmt, ap);
        va_end(ap);
        msg = err->msg ? vmenv_strdupf("%s: %s", head, err->msg) : head;
        if (msg != head)
                free(head);
        free(err->msg);
        err->msg = msg;
        if (!err->code)
                err->code = VMENV_EXIT_FAILURE;
        return -1;
}

int vmenv_error_hint(vmenv_error *err, const char *fmt, ...)
{
        va_list ap;

        if (!err)
                return -1;
        free(err->hint);
        va_start(ap, fmt);
        err->hint = vmenv_vstrdupf(fmt, ap);
        va_end(ap);
        return -1;
}

void vmenv_error_clear(vmenv_error *err)
{
        if (!err)
                return;
        free(err->msg);
        free(err->hint);
        err->msg = err->hint = NULL;
        err->code = 0;
}

void vmenv_error_move(vmenv_error *dst, vmenv_error *src)
{
        vmenv_error_clear(dst);
        *dst = *src;
        src->msg = src->hint = NULL;
        src->code = 0;
}

int vmenv_exit_for_errno(int errnum)
{
        switch (errnum) {
        case EACCES:
        case EPERM:
        case EROFS:
                return VMENV_EXIT_NOPERM;
        case ENOENT:
        case ENOTDIR:
                return VMENV_EXIT_NOINPUT;
        case ETIMEDOUT:
                return VMENV_EXIT_TEMPFAIL;
        case ECONNREFUSED:
        case ECONNRESET:
        case EHOSTUNREACH:
        case ENETUNREACH:
                return VMENV_EXIT_NETWORK;
        default:
                return VMENV_EXIT_IO;
        }
}
