/* vmenv.lock: the exact box (version, URL, checksum) every machine of a
 * project was resolved to, so that everyone who clones the project boots
 * the same box, the way poetry.lock pins packages. Format: vmenv.lock(5). */
#ifndef VMENV_LOCK_H
#define VMENV_LOCK_H

#include <stdbool.h>
#include <stddef.h>

#include "vmenv/cleanup.h"
#include "vmenv/error.h"

struct vmenv_config;
struct vmenv_machine_config;
struct vmenv_box;
struct vmenv_fetch_opts;

#define VMENV_LOCK_FILE "vmenv.lock"
#define VMENV_LOCK_FORMAT 1
#define VMENV_LOCK_MAX_BYTES (1u << 20)

/* One machine's pinned box. Strings are owned; optional ones may be NULL. */
struct vmenv_lock_entry {
        char *machine;
        char *box;          /* `box:` as written in vmenv.yaml */
        char *name;         /* name in the box store, when it differs from box */
        char *constraint;   /* `box_version:` it was resolved from, NULL = any */
        char *version;      /* exact version ("0" for an unversioned .box) */
        char *provider;     /* "libvirt" */
        char *architecture; /* "amd64", ... */
        char *catalog;      /* catalog it came from; NULL for a direct .box */
        char *url;          /* the .box it downloads (URL or path) */
        char *checksum;     /* "TYPE:HEX" of that file, hex lowercase */
        unsigned line;      /* where the entry starts in the file; 0 if made */
};

struct vmenv_lock {
        char *path;                       /* the file, for messages; may be NULL */
        char *config_digest;              /* "sha256:HEX" of the vmenv.yaml it was made from */
        struct vmenv_lock_entry *entries; /* sorted by machine name */
        size_t n_entries;
};

void vmenv_lock_free(struct vmenv_lock *l);
VMENV_DEFINE_CLEANUP(struct vmenv_lock, vmenv_lock_free)
void vmenv_lock_entry_clear(struct vmenv_lock_entry *e);
const struct vmenv_lock_entry *vmenv_lock_find(const struct vmenv_lock *l, const char *machine);

/* The project's lock file path: <project dir>/vmenv.lock. */
char *vmenv_lock_path(const struct vmenv_config *c);
/* "sha256:HEX" of the vmenv.yaml file's bytes. */
int vmenv_lock_config_digest(const struct vmenv_config *c, char **out, vmenv_error *err);

/* Parses lock text; path is for messages. When c is given, machines that are
 * not in it are an error. Every error is "PATH:LINE: what is wrong" with
 * VMENV_EXIT_CONFIG. */
struct vmenv_lock *vmenv_lock_parse(const char *text, size_t len, const char *path,
                                    const struct vmenv_config *c, vmenv_error *err);
/* Reads the project's vmenv.lock. *out is NULL (and 0 returned) when there
 * is no lock file. */
int vmenv_lock_load(const struct vmenv_config *c, struct vmenv_lock **out, vmenv_error *err);
/* The file text: sorted keys, 2-space indent, trailing newline; the same
 * lock always gives the same bytes. */
char *vmenv_lock_format(const struct vmenv_lock *l);
int vmenv_lock_save(const struct vmenv_lock *l, const char *path, vmenv_error *err);

struct vmenv_lock_opts {
        const struct vmenv_fetch_opts *fetch; /* may be NULL */
        bool frozen; /* any difference between lock and vmenv.yaml is an error */
};

/* Resolves one machine's box to what a new lock entry would say: the
 * newest version its constraint allows in its catalog, or the direct .box
 * with its checksum (downloading or hashing it when none is known). */
int vmenv_lock_resolve(const struct vmenv_config *c, const struct vmenv_machine_config *m,
                       const struct vmenv_lock_opts *o, struct vmenv_lock_entry *out,
                       vmenv_error *err);

/* Whether entry still pins what m asks for; if not, an error (CONFIG) that
 * says what differs, with the hint to run 'vmenv lock --update'. */
int vmenv_lock_check_machine(const struct vmenv_lock *l, const struct vmenv_machine_config *m,
                             vmenv_error *err);
/* Every machine of c against the lock (the lock's machines must all be in
 * c, c's all in the lock); with frozen, also the vmenv.yaml digest. */
int vmenv_lock_check(const struct vmenv_lock *l, const struct vmenv_config *c, bool frozen,
                     vmenv_error *err);

/* For 'vmenv up', once before any machine starts: loads vmenv.lock, or
 * resolves every machine and writes it when there is none (with frozen, a
 * missing lock is an error), then checks it against vmenv.yaml. *out gets
 * the lock (caller frees). Nothing is downloaded or booted on a bad lock. */
int vmenv_lock_ensure(const struct vmenv_config *c, const struct vmenv_lock_opts *o,
                      struct vmenv_lock **out, vmenv_error *err);

/* What to pass to vmenv_box_ensure for machine m. */
struct vmenv_lock_pin {
        char *name;       /* store name */
        char *constraint; /* "= VERSION" */
        char *url;        /* the locked .box URL (or catalog when there is no lock) */
        char *checksum;   /* "TYPE:HEX" */
        bool locked;      /* false: lock was NULL, the values are m's own */
};
void vmenv_lock_pin_clear(struct vmenv_lock_pin *p);
/* With a lock: the locked name, "= VERSION", URL and checksum (after
 * vmenv_lock_check_machine). Without one (lock NULL): m's own settings, so
 * the caller has a single code path. */
int vmenv_lock_pin(const struct vmenv_lock *l, const struct vmenv_machine_config *m,
                   struct vmenv_lock_pin *out, vmenv_error *err);
/* Refuses (VMENV_EXIT_DATA, both digests in the message) a store copy whose
 * recorded digest differs from the lock's checksum, or that has none. Does
 * nothing when l is NULL or m is not locked. */
int vmenv_lock_verify_box(const struct vmenv_lock *l, const struct vmenv_machine_config *m,
                          const struct vmenv_box *box, vmenv_error *err);

/* Makes a new lock for c. Without update (plain 'vmenv lock', and 'up'
 * when there is no lock): entries of old that still satisfy vmenv.yaml are
 * kept, the others resolved. With update: the named machines (NULL or empty:
 * all) are re-resolved to the newest version their constraint allows, the
 * rest kept when they still satisfy vmenv.yaml. old may be NULL. The lock
 * records the current vmenv.yaml digest. *changes (if asked) gets one line
 * per difference ("web: vmenv/tiny 1.0.0 → 1.1.0"), NULL when none. */
int vmenv_lock_update(const struct vmenv_config *c, const struct vmenv_lock *old, bool update,
                      char *const *machines, const struct vmenv_lock_opts *o,
                      struct vmenv_lock **out, char ***changes, vmenv_error *err);

/* For 'vmenv status' and 'vmenv box outdated'. */
struct vmenv_lock_report {
        char *machine;
        char *locked;        /* locked version; NULL when the machine has no entry */
        char *running;       /* version the machine was created from; NULL if none */
        char *newest;        /* newest allowed by the constraint; NULL if not looked up */
        bool running_older;  /* running < locked */
        bool lock_older;     /* locked < newest */
        char *message;       /* line(s) for humans, NULL when all is current */
        char *catalog_error; /* why newest is NULL although asked for, or NULL */
};
void vmenv_lock_report_clear(struct vmenv_lock_report *r);
/* running_version: from the machine's state (NULL if it has none). With
 * fetch non-NULL the lock's catalog is consulted for the newest version the
 * constraint allows (if it cannot be read, catalog_error says why and the
 * rest is still filled in); with NULL it is not. With l NULL (no lock) the
 * report is empty: nothing to say. */
int vmenv_lock_report(const struct vmenv_lock *l, const struct vmenv_machine_config *m,
                      const char *running_version, const struct vmenv_fetch_opts *fetch,
                      struct vmenv_lock_report *out, vmenv_error *err);

#endif
