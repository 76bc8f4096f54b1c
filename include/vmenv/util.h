/* Small utilities shared by core, CLI and providers. Out of memory aborts:
 * there is no sensible recovery for a CLI, and it keeps every caller simple. */
#ifndef VMENV_UTIL_H
#define VMENV_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vmenv/cleanup.h"
#include "vmenv/error.h"

void *vmenv_malloc(size_t n);
void *vmenv_calloc(size_t n, size_t size);
void *vmenv_realloc(void *p, size_t n);
char *vmenv_strdup(const char *s); /* NULL → NULL */
char *vmenv_strndup(const char *s, size_t n);
char *vmenv_strdupf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *vmenv_vstrdupf(const char *fmt, va_list ap);
bool vmenv_streq(const char *a, const char *b); /* NULL-safe */
bool vmenv_startswith(const char *s, const char *prefix);
bool vmenv_endswith(const char *s, const char *suffix);

/* A NULL-terminated vector of owned strings. */
void vmenv_strv_free(char **v);
VMENV_DEFINE_CLEANUP(char *, vmenv_strv_free)
size_t vmenv_strv_len(char *const *v);
void vmenv_strv_push(char ***v, char *owned);

/* A growing byte buffer, always NUL-terminated. */
struct vmenv_buf {
        char *data;
        size_t len, cap;
};
void vmenv_buf_add(struct vmenv_buf *b, const void *p, size_t n);
void vmenv_buf_puts(struct vmenv_buf *b, const char *s);
void vmenv_buf_printf(struct vmenv_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
char *vmenv_buf_steal(struct vmenv_buf *b); /* never NULL */
void vmenv_buf_free(struct vmenv_buf *b);

/* Escaping: every outside value goes through one of these. */
char *vmenv_xml_escape(const char *s);  /* & < > " ' */
char *vmenv_shell_quote(const char *s); /* POSIX sh single quotes */
/* Appends s as a YAML double-quoted scalar: safe for any text. */
void vmenv_buf_yaml_quote(struct vmenv_buf *b, const char *s);

/* Levenshtein distance, for "did you mean" hints. */
size_t vmenv_edit_distance(const char *a, const char *b);
/* The closest candidate within a small distance, or NULL. */
const char *vmenv_did_you_mean(const char *word, const char *const *candidates);

/* Files. All fail with an error naming the path. */
char *vmenv_path_join(const char *a, const char *b);
int vmenv_mkdir_p(const char *path, mode_t mode, vmenv_error *err);
int vmenv_rm_rf(const char *path, vmenv_error *err); /* missing is fine */
/* Reads a whole file, refusing more than max bytes; *out is NUL-terminated. */
int vmenv_read_file(const char *path, size_t max, char **out, size_t *len, vmenv_error *err);
/* Reads NAME (relative to the project folder DIR): refused when it resolves
 * outside DIR or is not a regular file. */
int vmenv_read_project_file(const char *dir, const char *name, size_t max, char **out, size_t *len,
                            vmenv_error *err);
/* Writes via a temporary file, fsync and rename: old or new, never half. */
/* Writes all of p, through EINTR and (polling) EAGAIN; -1 with errno set. */
int vmenv_write_all(int fd, const void *p, size_t n);
int vmenv_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
                            vmenv_error *err);
bool vmenv_path_exists(const char *path);
/* An exclusive flock on path (created), waiting if wait; returns the fd. */
int vmenv_lock_file(const char *path, bool wait, vmenv_error *err);

/* Monotonic clock in nanoseconds. */
uint64_t vmenv_now_ns(void);

/* Per-user data folder: $VMENV_HOME, else $XDG_DATA_HOME/vmenv, else
 * ~/.local/share/vmenv. Not created. */
char *vmenv_home(void);

/* The last MAX_LINES lines of TEXT that show something on a terminal, each
 * as shown (after its last '\r', escape sequences and control characters
 * dropped: outside text must not drive the user's terminal), each prefixed
 * with PREFIX, joined by '\n'; NULL when no line shows anything. */
char *vmenv_text_tail(const char *text, size_t len, size_t max_lines, const char *prefix);

/* Sizes: "512M", "1G", "1GiB", "2048" (bytes), "1.5G". Binary units. */
int vmenv_parse_size(const char *s, uint64_t *out);

#endif
