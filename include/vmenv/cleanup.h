/* Scope-bound cleanup, after systemd's _cleanup_ attributes. */
#ifndef VMENV_CLEANUP_H
#define VMENV_CLEANUP_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))

static inline void vmenv_freep(void *p) { free(*(void **)p); }
static inline void vmenv_closep(int *fd)
{
        if (*fd >= 0)
                close(*fd);
}
static inline void vmenv_fclosep(FILE **f)
{
        if (*f)
                fclose(*f);
}

#define _cleanup_free_ _cleanup_(vmenv_freep)
#define _cleanup_close_ _cleanup_(vmenv_closep)
#define _cleanup_fclose_ _cleanup_(vmenv_fclosep)

/* Declare a cleanup helper for a type with a NULL-accepting _free. */
#define VMENV_DEFINE_CLEANUP(type, func)                                       \
        static inline void func##p(type **p) { func(*p); }

/* Move ownership out of a cleanup-scoped variable. */
#define TAKE_PTR(p)                                                            \
        ({                                                                     \
                __typeof__(p) _tp = (p);                                       \
                (p) = NULL;                                                    \
                _tp;                                                           \
        })
#define TAKE_FD(fd)                                                            \
        ({                                                                     \
                int _tf = (fd);                                                \
                (fd) = -1;                                                     \
                _tf;                                                           \
        })

#define VMENV_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
