/* Internal to the box store: box-store.c (reading, removing), box-install.c
 * (putting a box into place, extracting while downloading) and box-add.c
 * (resolving a source to a name, version and URL). */
#pragma once

#include <stdbool.h>
#include <sys/stat.h>

#include "vmenv/box.h"
#include "vmenv/error.h"

/* What to put into the store; install() takes extracted and meta. */
struct vmenv_box_install_req {
        const char *name, *version;
        const char *file;            /* archive or image */
        char *extracted;             /* or: a folder in tmp/ already extracted (taken) */
        struct vmenv_box_meta *meta; /* its metadata (taken) */
        bool is_image;
        const char *source, *catalog, *digest;
        bool force;
};

char *vmenv_box_version_dir(const char *name, const char *version);
char **vmenv_box_stored_versions(const char *name);
struct vmenv_box *vmenv_box_load(const char *name, const char *version, const char *dir,
                                 vmenv_error *err);
char *vmenv_box_stamp_of(const struct stat *st);

/* The per-box lock (an fd, or -1 with err set) and its scope cleanup. */
int vmenv_box_lock(const char *name, vmenv_error *err);
void vmenv_box_lock_closep(int *fd);

/* Called with the box lock held. */
struct vmenv_box *vmenv_box_install(struct vmenv_box_install_req *in, vmenv_error *err);

/* Downloads url while extracting it into a new folder in tmp/. On success
 * *extracted and *meta hold the result, or *extracted is NULL when the box
 * must be extracted from *file afterwards (the download restarted). */
int vmenv_box_fetch_and_extract(const char *url, const char *cs, const struct vmenv_fetch_opts *fo,
                                char **file, char **digest, char **extracted,
                                struct vmenv_box_meta *meta, vmenv_error *err);
