/* rsync-type synced folders done by vmenv itself over SSH: a one-way copy
 * host → guest that needs only sh, find, stat, readlink and tar in the guest
 * (busybox is enough). The planner is pure so tests can drive it directly. */
#ifndef VMENV_SYNC_H
#define VMENV_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmenv/error.h"

struct vmenv_ssh;
struct vmenv_project;
struct vmenv_machine_config;

/* Limits on what the guest may make us keep in memory. */
#define VMENV_SYNC_MAX_LISTING (64u << 20) /* bytes of remote listing */
#define VMENV_SYNC_MAX_ENTRIES 2000000u    /* entries on either side */
#define VMENV_SYNC_MAX_DEPTH 256           /* local folder nesting */

enum vmenv_sync_type {
        VMENV_SYNC_FILE = 'f',
        VMENV_SYNC_DIR = 'd',
        VMENV_SYNC_LINK = 'l',
        VMENV_SYNC_OTHER = 'o', /* fifo, socket, device: never sent */
};

/* One entry of a tree, by its path relative to the folder ("a/b", no "./"). */
struct vmenv_sync_entry {
        char *path;
        char type;     /* enum vmenv_sync_type */
        unsigned mode; /* permission bits, 07777 */
        uint64_t size;
        int64_t mtime; /* seconds */
        char *link;    /* symlink target, NULL for other types */
};

struct vmenv_sync_list {
        struct vmenv_sync_entry *v;
        size_t n, cap;
        bool exists; /* a guest listing: the folder itself exists */
};

/* What a sync will do: deletions first (missing locally, or type changed),
 * then the entries to send, parents before children. Paths are borrowed
 * from the lists the plan was made from. */
struct vmenv_sync_plan {
        const struct vmenv_sync_entry **send;
        size_t n_send;
        const char **del;
        size_t n_del;
        size_t n_unchanged;
        uint64_t send_bytes;
};

struct vmenv_sync_stats {
        size_t sent;    /* entries sent (files, links, folders) */
        uint64_t bytes; /* file content bytes sent */
        size_t deleted; /* guest entries removed (a folder counts once) */
        size_t unchanged;
};

void vmenv_sync_list_free(struct vmenv_sync_list *l); /* frees the contents */
/* Adds a copy of e (paths duplicated). */
void vmenv_sync_list_add(struct vmenv_sync_list *l, const struct vmenv_sync_entry *e);
/* Sorts by path, bytewise but with '/' first, so a folder's children follow it. */
void vmenv_sync_list_sort(struct vmenv_sync_list *l);

/* rsync's basic exclude rules: "name" and "*.o" match the last component at
 * any depth, "dir/" matches folders only, "/x" is anchored at the top of the
 * folder, "a/b" matches trailing components. is_dir says what path is. */
bool vmenv_sync_excluded(const char *path, bool is_dir, char *const *exclude);

/* Walks the local folder (lstat, symlinks never followed), leaving out
 * excluded entries and what is under them. Errors name the path. */
int vmenv_sync_walk(const char *dir, char *const *exclude, struct vmenv_sync_list *out,
                    vmenv_error *err);

/* The shell command that lists guest_dir for parse_listing; prints nothing
 * when the folder does not exist, "D\0" first when it does. */
char *vmenv_sync_listing_cmd(const char *guest_dir);
/* Parses the NUL-separated listing the command prints. Errors are
 * VMENV_EXIT_DATA naming what is malformed. */
int vmenv_sync_parse_listing(const char *data, size_t len, struct vmenv_sync_list *out,
                             vmenv_error *err);

/* Compares local (already excluded) with remote; both must be sorted. Remote
 * entries that are excluded, or under an excluded folder, are left alone. */
void vmenv_sync_plan_make(const struct vmenv_sync_list *local, const struct vmenv_sync_list *remote,
                          char *const *exclude, struct vmenv_sync_plan *out);
void vmenv_sync_plan_free(struct vmenv_sync_plan *p);

/* Shell commands to delete paths (relative to guest_dir) in batches of at
 * most max_len bytes each; a NULL-terminated vector. */
char **vmenv_sync_delete_cmds(const char *guest_dir, const char *const *paths, size_t n,
                              bool as_root, size_t max_len);

/* Makes guest_dir a copy of local_dir over s. as_root: list, delete and
 * extract through 'sudo -n', then chown what is not owned by owner ("uid:gid",
 * or NULL for the SSH user's own ids). stats may be NULL. */
int vmenv_sync_folder(struct vmenv_ssh *s, const char *local_dir, const char *guest_dir,
                      char *const *exclude, bool as_root, const char *owner,
                      struct vmenv_sync_stats *stats, vmenv_error *err);

/* Syncs every enabled rsync folder of a running machine and prints one line
 * per folder ("web: /vagrant <- . (rsync: 12 sent, 0 deleted)"). */
int vmenv_machine_sync(struct vmenv_project *p, const struct vmenv_machine_config *m,
                       vmenv_error *err);
/* The same over an open session (for 'up', which has one already). */
int vmenv_machine_sync_ssh(struct vmenv_project *p, const struct vmenv_machine_config *m,
                           struct vmenv_ssh *s, vmenv_error *err);

/* Watching host folders for rsync-auto. _new blocks SIGINT and SIGTERM
 * (they become a clean stop of _wait); _free restores the signal mask. */
struct vmenv_sync_watch;
struct vmenv_sync_watch *vmenv_sync_watch_new(vmenv_error *err);
void vmenv_sync_watch_free(struct vmenv_sync_watch *w);
/* Watches dir and every folder under it that is not excluded; events for
 * it mark dirty[tag]. */
int vmenv_sync_watch_add(struct vmenv_sync_watch *w, const char *dir, char *const *exclude,
                         size_t tag, vmenv_error *err);
/* Waits for changes, then for debounce_ms of quiet (at most 2 s in all).
 * Returns 1 with dirty[0..n_tags) set, 0 on SIGINT/SIGTERM, -1 on error. */
int vmenv_sync_watch_wait(struct vmenv_sync_watch *w, int debounce_ms, bool *dirty, size_t n_tags,
                          vmenv_error *err);

/* The excludes vmenv_machine_sync uses for a folder: the folder's own plus
 * ".vmenv/" (vmenv's state, private keys included). A new vector. */
char **vmenv_sync_folder_excludes(char *const *exclude);

/* True for folders synced by vmenv_machine_sync (type rsync, not disabled). */
bool vmenv_sync_folder_is_rsync(const char *type, bool disabled);

#endif
