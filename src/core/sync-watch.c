/* Watching host folders for 'vmenv rsync-auto': recursive inotify watches
 * (new folders get theirs as they appear), excluded paths ignored, bursts of
 * events folded into one sync, and SIGINT/SIGTERM as a clean stop. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmenv/cleanup.h"
#include "vmenv/log.h"
#include "vmenv/sync.h"
#include "vmenv/util.h"

/* A burst of events is over after this much quiet, but never waits longer
 * than the cap (an editor saving in a loop must not starve the sync). */
#define WATCH_MAX_DELAY_MS 2000

struct watch {
        int wd;
        size_t tag;
        char *root;     /* the synced folder */
        char *rel;      /* this folder relative to root, "" for root */
        char **exclude; /* borrowed from the root's entry */
};

struct vmenv_sync_watch {
        int ifd, sfd;
        sigset_t old_mask;
        struct watch *w;
        size_t n, cap;
        char ***excludes; /* owned copies, one per added root */
        size_t n_ex;
};

static const uint32_t watch_mask = IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE |
                                   IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB | IN_DELETE_SELF |
                                   IN_MOVE_SELF | IN_DONT_FOLLOW | IN_ONLYDIR;

struct vmenv_sync_watch *vmenv_sync_watch_new(vmenv_error *err)
{
        struct vmenv_sync_watch *w = vmenv_calloc(1, sizeof(*w));
        sigset_t mask;

        w->sfd = -1;
        if ((w->ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK)) < 0) {
                vmenv_error_errno(err, VMENV_EXIT_FAILURE, errno, "cannot watch folders");
                free(w);
                return NULL;
        }
        sigemptyset(&mask);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGTERM);
        sigprocmask(SIG_BLOCK, &mask, &w->old_mask);
        if ((w->sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK)) < 0) {
                vmenv_error_errno(err, VMENV_EXIT_FAILURE, errno, "cannot watch for signals");
                vmenv_sync_watch_free(w);
                return NULL;
        }
        return w;
}

void vmenv_sync_watch_free(struct vmenv_sync_watch *w)
{
        if (!w)
                return;
        for (size_t i = 0; i < w->n; i++) {
                free(w->w[i].root);
                free(w->w[i].rel);
        }
        free(w->w);
        for (size_t i = 0; i < w->n_ex; i++)
                vmenv_strv_free(w->excludes[i]);
        free(w->excludes);
        if (w->sfd >= 0)
                close(w->sfd);
        close(w->ifd);
        sigprocmask(SIG_SETMASK, &w->old_mask, NULL);
        free(w);
}

/* Two machines often sync the same folder: inotify gives both the same wd,
 * so an entry is a (wd, tag) pair and one event may concern several. */
static struct watch *find_wd(struct vmenv_sync_watch *w, int wd, size_t tag)
{
        for (size_t i = 0; i < w->n; i++)
                if (w->w[i].wd == wd && w->w[i].tag == tag)
                        return &w->w[i];
        return NULL;
}

static int add_tree(struct vmenv_sync_watch *w, const char *root, const char *rel, size_t tag,
                    char **exclude, unsigned depth, vmenv_error *err)
{
        _cleanup_free_ char *path = *rel ? vmenv_path_join(root, rel) : vmenv_strdup(root);
        struct watch *x;
        DIR *d;
        struct dirent *de;
        int wd, r = 0;

        if (depth > VMENV_SYNC_MAX_DEPTH)
                return 0;
        if ((wd = inotify_add_watch(w->ifd, path, watch_mask)) < 0) {
                int e = errno;
                if (e == ENOENT || e == ENOTDIR)
                        return 0; /* gone already; its parent's event covers it */
                vmenv_error_errno(err, VMENV_EXIT_FAILURE, e, "cannot watch '%s'", path);
                if (e == ENOSPC)
                        vmenv_error_hint(err,
                                         "raise the limit: sysctl fs.inotify.max_user_watches");
                return -1;
        }
        if ((x = find_wd(w, wd, tag))) {
                /* A folder moved within the tree keeps its watch: follow
                 * its new name so excludes still apply to the right path. */
                free(x->rel);
                x->rel = vmenv_strdup(rel);
        } else {
                if (w->n == w->cap) {
                        w->cap = w->cap ? w->cap * 2 : 64;
                        w->w = vmenv_realloc(w->w, w->cap * sizeof(*w->w));
                }
                x = &w->w[w->n++];
                x->wd = wd;
                x->tag = tag;
                x->root = vmenv_strdup(root);
                x->rel = vmenv_strdup(rel);
                x->exclude = exclude;
        }
        if (!(d = opendir(path)))
                return 0;
        while (r == 0 && (de = readdir(d))) {
                _cleanup_free_ char *sub = NULL;
                struct stat st;
                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                        continue;
                sub = *rel ? vmenv_strdupf("%s/%s", rel, de->d_name) : vmenv_strdup(de->d_name);
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
                    !S_ISDIR(st.st_mode) || vmenv_sync_excluded(sub, true, exclude))
                        continue;
                r = add_tree(w, root, sub, tag, exclude, depth + 1, err);
        }
        closedir(d);
        return r;
}

int vmenv_sync_watch_add(struct vmenv_sync_watch *w, const char *dir, char *const *exclude,
                         size_t tag, vmenv_error *err)
{
        char **copy = NULL;
        for (char *const *e = exclude; e && *e; e++)
                vmenv_strv_push(&copy, vmenv_strdup(*e));
        w->excludes = vmenv_realloc(w->excludes, (w->n_ex + 1) * sizeof(*w->excludes));
        w->excludes[w->n_ex++] = copy;
        return add_tree(w, dir, "", tag, copy, 0, err);
}

/* One event for one watch entry: 0 ignored, 1 relevant, 2 the entry was
 * removed (its folder is gone), -1 error. */
static int on_event(struct vmenv_sync_watch *w, struct watch *x, const struct inotify_event *ev,
                    bool *dirty, size_t n_tags, vmenv_error *err)
{
        _cleanup_free_ char *rel = NULL, *root = NULL;
        bool is_dir = ev->mask & IN_ISDIR;
        size_t tag = x->tag;
        char **ex = x->exclude;

        if (x->wd != ev->wd)
                return 0;
        if (ev->mask & IN_IGNORED) {
                free(x->root);
                free(x->rel);
                *x = w->w[--w->n];
                return 2;
        }
        if (ev->len && ev->name[0]) {
                rel = *x->rel ? vmenv_strdupf("%s/%s", x->rel, ev->name) : vmenv_strdup(ev->name);
                if (vmenv_sync_excluded(rel, is_dir, x->exclude))
                        return 0;
        }
        if (tag < n_tags)
                dirty[tag] = true;
        if (rel && is_dir && (ev->mask & (IN_CREATE | IN_MOVED_TO))) {
                /* x may move as the table grows: copy what add_tree needs. */
                root = vmenv_strdup(x->root);
                if (add_tree(w, root, rel, tag, ex, 0, err) < 0)
                        return -1;
        }
        return 1;
}

/* Reads what inotify has; marks tags dirty. Returns how many relevant
 * events were seen. */
static int drain(struct vmenv_sync_watch *w, bool *dirty, size_t n_tags, vmenv_error *err)
{
        char buf[65536] __attribute__((aligned(__alignof__(struct inotify_event))));
        int seen = 0;

        for (;;) {
                ssize_t n = read(w->ifd, buf, sizeof(buf));
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                return seen;
                        return vmenv_error_errno(err, VMENV_EXIT_FAILURE, errno,
                                                 "cannot read folder events");
                }
                for (char *p = buf; p < buf + n;) {
                        struct inotify_event *ev = (struct inotify_event *)(void *)p;

                        p += sizeof(*ev) + ev->len;
                        if (ev->mask & IN_Q_OVERFLOW) {
                                /* Lost events: sync everything. */
                                for (size_t i = 0; i < n_tags; i++)
                                        dirty[i] = true;
                                seen++;
                                continue;
                        }
                        for (size_t i = 0; i < w->n;) {
                                int r = on_event(w, &w->w[i], ev, dirty, n_tags, err);
                                if (r < 0)
                                        return -1;
                                if (r == 2)
                                        continue; /* entry i was removed: i holds the next */
                                seen += r;
                                i++;
                        }
                }
        }
}

static bool got_signal(struct vmenv_sync_watch *w)
{
        struct signalfd_siginfo si;
        return read(w->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si);
}

int vmenv_sync_watch_wait(struct vmenv_sync_watch *w, int debounce_ms, bool *dirty, size_t n_tags,
                          vmenv_error *err)
{
        uint64_t first = 0;
        int seen = 0;

        for (size_t i = 0; i < n_tags; i++)
                dirty[i] = false;
        for (;;) {
                struct pollfd pfd[2] = {{w->ifd, POLLIN, 0}, {w->sfd, POLLIN, 0}};
                int timeout = -1, r;

                if (seen) {
                        uint64_t waited = (vmenv_now_ns() - first) / 1000000u;
                        if (waited >= WATCH_MAX_DELAY_MS)
                                return 1;
                        timeout = debounce_ms;
                        if ((uint64_t)timeout > WATCH_MAX_DELAY_MS - waited)
                                timeout = (int)(WATCH_MAX_DELAY_MS - waited);
                }
                r = poll(pfd, 2, timeout);
                if (r < 0) {
                        if (errno == EINTR)
                                continue;
                        return vmenv_error_errno(err, VMENV_EXIT_FAILURE, errno,
                                                 "cannot wait for folder events");
                }
                if (pfd[1].revents && got_signal(w))
                        return 0;
                if (r == 0)
                        return 1; /* quiet for debounce_ms after changes */
                if (pfd[0].revents) {
                        int n = drain(w, dirty, n_tags, err);
                        if (n < 0)
                                return -1;
                        if (n > 0 && !seen++)
                                first = vmenv_now_ns();
                }
        }
}
