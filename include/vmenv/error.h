/* The error object carried up from library code; only main() prints it. */
#ifndef VMENV_ERROR_H
#define VMENV_ERROR_H

/* Exit codes, sysexits-style; documented in vmenv(1). */
enum vmenv_exit {
        VMENV_EXIT_OK = 0,
        VMENV_EXIT_FAILURE = 1,      /* generic failure, guest command failed */
        VMENV_EXIT_USAGE = 64,       /* bad command line */
        VMENV_EXIT_DATA = 65,        /* bad input data: box, catalog, lock */
        VMENV_EXIT_NOINPUT = 66,     /* a named file, box or machine is missing */
        VMENV_EXIT_UNAVAILABLE = 69, /* provider (libvirt/QEMU) unavailable */
        VMENV_EXIT_SOFTWARE = 70,    /* internal error */
        VMENV_EXIT_IO = 74,          /* local I/O error, disk full */
        VMENV_EXIT_TEMPFAIL = 75,    /* timeout, try again (boot, lock busy) */
        VMENV_EXIT_NETWORK = 76,     /* download or SSH peer failed */
        VMENV_EXIT_NOPERM = 77,      /* permission denied */
        VMENV_EXIT_CONFIG = 78,      /* vmenv.yaml or vmenv.lock is invalid */
};

typedef struct vmenv_error {
        int code;  /* an enum vmenv_exit; 0 while no error is set */
        char *msg; /* "cannot start 'web': cannot define domain: ..." */
        char *hint; /* optional: "run 'vmenv box add ...'" */
} vmenv_error;

#define VMENV_ERROR_INIT {0, NULL, NULL}

/* All return -1 so callers can write `return vmenv_error_set(...)`. */
int vmenv_error_set(vmenv_error *err, int code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
/* Like _set, with ": strerror(errnum)" appended. */
int vmenv_error_errno(vmenv_error *err, int code, int errnum, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
/* Adds context in front: "<prefix>: <old message>". */
int vmenv_error_prefix(vmenv_error *err, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
int vmenv_error_hint(vmenv_error *err, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
void vmenv_error_clear(vmenv_error *err);
/* Moves src into dst (dst is cleared first). */
void vmenv_error_move(vmenv_error *dst, vmenv_error *src);
/* An exit code for an errno value (EACCES → NOPERM, ENOSPC → IO, ...). */
int vmenv_exit_for_errno(int errnum);

#endif
