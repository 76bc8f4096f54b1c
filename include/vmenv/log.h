/* Logging: library code logs at debug level only; the user sees one error. */
#ifndef VMENV_LOG_H
#define VMENV_LOG_H

enum vmenv_log_level { VMENV_LOG_QUIET = -1, VMENV_LOG_INFO = 0, VMENV_LOG_DEBUG = 1 };

/* The only global mutable state: set once by main() from -v/-q. */
extern int vmenv_log_level;

void vmenv_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Progress and notices for humans, on stderr; silenced by -q. */
void vmenv_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void vmenv_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
