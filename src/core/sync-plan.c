/* The pure half of rsync-type folders: trees as sorted entry lists, rsync's
 * basic exclude rules, the guest listing format, and the plan that says what
 * to send and what to delete. No I/O beyond the local walk. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmenv/cleanup.h"
#include "vmenv/sync.h"
#include "vmenv/util.h"

void vmenv_sync_list_free(struct vmenv_sync_list *l)
{
        if (!l)
                return;
        for (size_t i = 0; i < l->n; i++) {
                free(l->v[i].path);
                free(l->v[i].link);
        }
        free(l->v);
        l->v = NULL;
        l->n = l->cap = 0;
}

static struct vmenv_sync_entry *list_push(struct vmenv_sync_list *l)
{
        if (l->n == l->cap) {
                l->cap = l->cap ? l->cap * 2 : 256;
                l->v = vmenv_realloc(l->v, l->cap * sizeof(*l->v));
        }
        memset(&l->v[l->n], 0, sizeof(l->v[0]));
        return &l->v[l->n++];
}

void vmenv_sync_list_add(struct vmenv_sync_list *l, const struct vmenv_sync_entry *e)
{
        struct vmenv_sync_entry *n = list_push(l);
        *n = *e;
        n->path = vmenv_strdup(e->path);
        n->link = vmenv_strdup(e->link);
}

/* Byte order except that '/' sorts before every other byte, so a folder's
 * children follow it directly ("a", "a/x", "a-b"): the planner relies on it. */
static int path_cmp(const char *a, const char *b)
{
        for (;; a++, b++) {
                unsigned char ca = (unsigned char)*a, cb = (unsigned char)*b;
                if (ca == cb) {
                        if (!ca)
                                return 0;
                        continue;
                }
                if (!ca)
                        return -1;
                if (!cb)
                        return 1;
                if (ca == '/')
                        return -1;
                if (cb == '/')
                        return 1;
                return ca < cb ? -1 : 1;
        }
}

static int entry_cmp(const void *a, const void *b)
{
        return path_cmp(((const struct vmenv_sync_entry *)a)->path,
                        ((const struct vmenv_sync_entry *)b)->path);
}

void vmenv_sync_list_sort(struct vmenv_sync_list *l)
{
        if (l->n > 1)
                qsort(l->v, l->n, sizeof(*l->v), entry_cmp);
}

static bool under(const char *path, const char *dir)
{
        size_t n = strlen(dir);
        return strncmp(path, dir, n) == 0 && path[n] == '/';
}

/* One pattern against one path (rsync's basic rules, no include/exclude
 * lists, no "***"). */
static bool pattern_matches(const char *pat, const char *path, bool is_dir)
{
        _cleanup_free_ char *p = NULL;
        size_t len = strlen(pat);
        bool anchored = pat[0] == '/';
        int flags;
        const char *s;

        if (len == 0)
                return false;
        if (pat[len - 1] == '/') {
                if (!is_dir)
                        return false;
                len--;
        }
        if (anchored) {
                pat++;
                len--;
        }
        p = vmenv_strndup(pat, len);
        if (!*p)
                return false;
        /* "**" crosses folders; a single "*" does not. */
        flags = strstr(p, "**") ? 0 : FNM_PATHNAME;
        if (anchored)
                return fnmatch(p, path, flags) == 0;
        if (!strchr(p, '/')) {
                const char *base = strrchr(path, '/');
                return fnmatch(p, base ? base + 1 : path, flags) == 0;
        }
        /* "a/b" matches the trailing components of the path. */
        for (s = path;; s++) {
                if (fnmatch(p, s, flags) == 0)
                        return true;
                if (!(s = strchr(s, '/')))
                        return false;
        }
}

bool vmenv_sync_excluded(const char *path, bool is_dir, char *const *exclude)
{
        for (; exclude && *exclude; exclude++)
                if (pattern_matches(*exclude, path, is_dir))
                        return true;
        return false;
}

static int walk(int dirfd, const char *root, const char *rel, unsigned depth, char *const *exclude,
                struct vmenv_sync_list *out, vmenv_error *err)
{
        DIR *d;
        struct dirent *de;
        int r = 0;

        if (depth > VMENV_SYNC_MAX_DEPTH)
                return vmenv_error_set(err, VMENV_EXIT_DATA,
                                       "folder '%s/%s' is nested deeper than %d levels", root, rel,
                                       VMENV_SYNC_MAX_DEPTH);
        if (!(d = fdopendir(dirfd))) {
                int e = errno;
                close(dirfd);
                return vmenv_error_errno(err, vmenv_exit_for_errno(e), e, "cannot read '%s/%s'",
                                         root, rel);
        }
        while (r == 0) {
                _cleanup_free_ char *path = NULL;
                struct vmenv_sync_entry *e;
                struct stat st;
                char type;

                errno = 0;
                if (!(de = readdir(d))) {
                        if (errno)
                                r = vmenv_error_errno(err, vmenv_exit_for_errno(errno), errno,
                                                      "cannot read '%s/%s'", root, rel);
                        break;
                }
                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                        continue;
                path = *rel ? vmenv_strdupf("%s/%s", rel, de->d_name) : vmenv_strdup(de->d_name);
                if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        if (errno == ENOENT)
                                continue; /* vanished while we looked: as rsync */
                        r = vmenv_error_errno(err, vmenv_exit_for_errno(errno), errno,
                                              "cannot read '%s/%s'", root, path);
                        break;
                }
                if (S_ISREG(st.st_mode))
                        type = VMENV_SYNC_FILE;
                else if (S_ISDIR(st.st_mode))
                        type = VMENV_SYNC_DIR;
                else if (S_ISLNK(st.st_mode))
                        type = VMENV_SYNC_LINK;
                else
                        continue; /* fifos, sockets, devices are not copied (rsync -a without -D) */
                if (vmenv_sync_excluded(path, type == VMENV_SYNC_DIR, exclude))
                        continue;
                if (out->n >= VMENV_SYNC_MAX_ENTRIES) {
                        r = vmenv_error_set(err, VMENV_EXIT_DATA,
                                            "folder '%s' has more than %u entries", root,
                                            VMENV_SYNC_MAX_ENTRIES);
                        break;
                }
                e = list_push(out);
                e->type = type;
                e->mode = st.st_mode & 07777;
                e->mtime = st.st_mtim.tv_sec;
                if (type == VMENV_SYNC_FILE)
                        e->size = (uint64_t)st.st_size;
                if (type == VMENV_SYNC_LINK) {
                        size_t cap = (size_t)st.st_size + 1;
                        ssize_t n;
                        if (cap < 64 || cap > 65536)
                                cap = cap < 64 ? 64 : 65536;
                        e->link = vmenv_malloc(cap);
                        if ((n = readlinkat(dirfd, de->d_name, e->link, cap - 1)) < 0) {
                                r = vmenv_error_errno(err, vmenv_exit_for_errno(errno), errno,
                                                      "cannot read link '%s/%s'", root, path);
                                e->path = TAKE_PTR(path);
                                break;
                        }
                        e->link[n] = '\0';
                }
                e->path = TAKE_PTR(path);
                if (type == VMENV_SYNC_DIR) {
                        int fd = openat(dirfd, de->d_name,
                                        O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (fd < 0) {
                                r = vmenv_error_errno(err, vmenv_exit_for_errno(errno), errno,
                                                      "cannot read '%s/%s'", root, e->path);
                                break;
                        }
                        /* e may move when the list grows: pass a copy of the path. */
                        _cleanup_free_ char *sub = vmenv_strdup(e->path);
                        r = walk(fd, root, sub, depth + 1, exclude, out, err);
                }
        }
        closedir(d);
        return r;
}

int vmenv_sync_walk(const char *dir, char *const *exclude, struct vmenv_sync_list *out,
                    vmenv_error *err)
{
        struct vmenv_sync_list l = {0};
        int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (fd < 0) {
                int e = errno;
                vmenv_error_errno(err, e == ENOENT ? VMENV_EXIT_NOINPUT : vmenv_exit_for_errno(e),
                                  e, "cannot read folder '%s'", dir);
                if (e == ENOENT)
                        vmenv_error_hint(err, "create it or fix 'synced_folders' in vmenv.yaml");
                return -1;
        }
        if (walk(fd, dir, "", 0, exclude, &l, err) < 0) {
                vmenv_sync_list_free(&l);
                return -1;
        }
        vmenv_sync_list_sort(&l);
        *out = l;
        return 0;
}

/* The guest lists its folder in batches (find -exec ... +) of:
 *   "B\0" NAME\0... "S\0" "RAWMODE_HEX SIZE MTIME PERM_OCTAL\n"... "L\0" TARGET\0... "E\0"
 * Names come NUL-terminated (any byte but NUL is allowed), stat lines in the
 * same order, then one target per symlink. Only sh, find, stat, readlink
 * and printf are needed, all in busybox. */
static const char listing_script[] =
    "printf 'B\\0'; printf '%s\\0' \"$@\"; printf 'S\\0'; "
    "stat -c '%f %s %Y %a' \"$@\" || exit 1; printf 'L\\0'; "
    "for f; do if [ -L \"$f\" ]; then printf '%s\\0' \"$(readlink \"$f\")\"; fi; done; "
    "printf 'E\\0'";

char *vmenv_sync_listing_cmd(const char *guest_dir)
{
        _cleanup_free_ char *qd = vmenv_shell_quote(guest_dir);
        _cleanup_free_ char *qs = vmenv_shell_quote(listing_script);
        return vmenv_strdupf("[ -d %s ] || exit 0; printf 'D\\0'; cd %s && find . -mindepth 1 "
                             "-exec sh -c %s sh "
                             "{} +",
                             qd, qd, qs);
}

struct reader {
        const char *p, *end;
};

/* The next NUL-terminated token, or NULL at a malformed end. */
static const char *next_token(struct reader *r, size_t *len)
{
        const char *z;
        const char *s = r->p;
        if (r->p >= r->end || !(z = memchr(r->p, '\0', (size_t)(r->end - r->p))))
                return NULL;
        r->p = z + 1;
        if (len)
                *len = (size_t)(z - s);
        return s;
}

static bool valid_path(const char *p)
{
        /* Relative, no empty, "." or ".." component: we pass these to rm. */
        const char *c = p;
        if (!*p)
                return false;
        for (;;) {
                const char *slash = strchr(c, '/');
                size_t n = slash ? (size_t)(slash - c) : strlen(c);
                if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
                        return false;
                if (!slash)
                        return true;
                c = slash + 1;
        }
}

static int parse_stat_line(struct reader *r, struct vmenv_sync_entry *e)
{
        const char *nl = memchr(r->p, '\n', (size_t)(r->end - r->p));
        char line[128], *s, *end;
        unsigned long raw, perm;
        size_t n;

        if (!nl || (n = (size_t)(nl - r->p)) >= sizeof(line))
                return -1;
        memcpy(line, r->p, n);
        line[n] = '\0';
        r->p = nl + 1;
        s = line;
        errno = 0;
        raw = strtoul(s, &end, 16);
        if (end == s || *end != ' ')
                return -1;
        s = end + 1;
        e->size = strtoull(s, &end, 10);
        if (end == s || *end != ' ')
                return -1;
        s = end + 1;
        e->mtime = strtoll(s, &end, 10);
        if (end == s || *end != ' ')
                return -1;
        s = end + 1;
        perm = strtoul(s, &end, 8);
        if (end == s || *end || errno)
                return -1;
        switch (raw & S_IFMT) {
        case S_IFREG:
                e->type = VMENV_SYNC_FILE;
                break;
        case S_IFDIR:
                e->type = VMENV_SYNC_DIR;
                break;
        case S_IFLNK:
                e->type = VMENV_SYNC_LINK;
                break;
        default:
                e->type = VMENV_SYNC_OTHER;
        }
        e->mode = (unsigned)(perm & 07777);
        if (e->type != VMENV_SYNC_FILE)
                e->size = 0;
        return 0;
}

int vmenv_sync_parse_listing(const char *data, size_t len, struct vmenv_sync_list *out,
                             vmenv_error *err)
{
        struct vmenv_sync_list l = {0};
        struct reader r = {data, data + len};
        const char *what = NULL;

        if (r.p < r.end) {
                const char *t = next_token(&r, NULL);
                if (!t || strcmp(t, "D")) {
                        what = "it does not start with 'D'";
                        goto bad;
                }
                l.exists = true;
        }
        while (r.p < r.end) {
                size_t first = l.n, n;
                const char *t = next_token(&r, NULL);

                if (!t || strcmp(t, "B")) {
                        what = "a batch does not start with 'B'";
                        goto bad;
                }
                while ((t = next_token(&r, &n)) && strcmp(t, "S")) {
                        if (n < 3 || t[0] != '.' || t[1] != '/' || !valid_path(t + 2)) {
                                what = "a name is not a relative path";
                                goto bad;
                        }
                        if (l.n >= VMENV_SYNC_MAX_ENTRIES) {
                                what = "too many entries";
                                goto bad;
                        }
                        list_push(&l)->path = vmenv_strdup(t + 2);
                }
                if (!t) {
                        what = "the names are not terminated";
                        goto bad;
                }
                for (size_t i = first; i < l.n; i++) {
                        if (parse_stat_line(&r, &l.v[i]) < 0) {
                                what = "a stat line is malformed";
                                goto bad;
                        }
                }
                if (!(t = next_token(&r, NULL)) || strcmp(t, "L")) {
                        what = "names and stat lines do not match (did the folder change?)";
                        goto bad;
                }
                for (size_t i = first; i < l.n; i++) {
                        if (l.v[i].type != VMENV_SYNC_LINK)
                                continue;
                        if (!(t = next_token(&r, NULL))) {
                                what = "a link target is missing";
                                goto bad;
                        }
                        l.v[i].link = vmenv_strdup(t);
                }
                if (!(t = next_token(&r, NULL)) || strcmp(t, "E")) {
                        what = "a batch does not end with 'E'";
                        goto bad;
                }
        }
        vmenv_sync_list_sort(&l);
        for (size_t i = 1; i < l.n; i++)
                if (!strcmp(l.v[i - 1].path, l.v[i].path)) {
                        what = "a name appears twice";
                        goto bad;
                }
        *out = l;
        return 0;
bad:
        vmenv_sync_list_free(&l);
        return vmenv_error_set(err, VMENV_EXIT_DATA, "malformed guest folder listing: %s", what);
}

static bool entry_differs(const struct vmenv_sync_entry *l, const struct vmenv_sync_entry *r)
{
        switch (l->type) {
        case VMENV_SYNC_FILE:
                return l->size != r->size || l->mtime != r->mtime || l->mode != r->mode;
        case VMENV_SYNC_DIR:
                return l->mode != r->mode;
        case VMENV_SYNC_LINK:
                return !vmenv_streq(l->link, r->link);
        default:
                return false;
        }
}

void vmenv_sync_plan_make(const struct vmenv_sync_list *local, const struct vmenv_sync_list *remote,
                          char *const *exclude, struct vmenv_sync_plan *out)
{
        struct vmenv_sync_plan p = {0};
        const char *deleted_dir = NULL, *excluded_dir = NULL;
        size_t i = 0, j = 0;

        p.send = vmenv_calloc(local->n + 1, sizeof(*p.send));
        p.del = vmenv_calloc(remote->n + 1, sizeof(*p.del));
        while (i < local->n || j < remote->n) {
                const struct vmenv_sync_entry *l = i < local->n ? &local->v[i] : NULL;
                const struct vmenv_sync_entry *r = j < remote->n ? &remote->v[j] : NULL;
                int c = !l ? 1 : !r ? -1 : path_cmp(l->path, r->path);

                if (c < 0) {
                        p.send[p.n_send++] = l;
                        if (l->type == VMENV_SYNC_FILE)
                                p.send_bytes += l->size;
                        i++;
                        continue;
                }
                if (c > 0) {
                        j++;
                        /* Under a folder already deleted or left alone. */
                        if ((deleted_dir && under(r->path, deleted_dir)) ||
                            (excluded_dir && under(r->path, excluded_dir)))
                                continue;
                        if (vmenv_sync_excluded(r->path, r->type == VMENV_SYNC_DIR, exclude)) {
                                if (r->type == VMENV_SYNC_DIR)
                                        excluded_dir = r->path;
                                continue;
                        }
                        p.del[p.n_del++] = r->path;
                        if (r->type == VMENV_SYNC_DIR)
                                deleted_dir = r->path;
                        continue;
                }
                i++;
                j++;
                if (l->type != r->type) {
                        /* tar cannot turn a folder into a file: remove first. */
                        p.del[p.n_del++] = r->path;
                        if (r->type == VMENV_SYNC_DIR)
                                deleted_dir = r->path;
                } else if (!entry_differs(l, r)) {
                        p.n_unchanged++;
                        continue;
                }
                p.send[p.n_send++] = l;
                if (l->type == VMENV_SYNC_FILE)
                        p.send_bytes += l->size;
        }
        *out = p;
}

void vmenv_sync_plan_free(struct vmenv_sync_plan *p)
{
        if (!p)
                return;
        free(p->send);
        free(p->del);
        memset(p, 0, sizeof(*p));
}

static char *wrap_root(const char *cmd, bool as_root)
{
        _cleanup_free_ char *q = NULL;
        if (!as_root)
                return vmenv_strdup(cmd);
        q = vmenv_shell_quote(cmd);
        return vmenv_strdupf("sudo -n sh -c %s", q);
}

char **vmenv_sync_delete_cmds(const char *guest_dir, const char *const *paths, size_t n,
                              bool as_root, size_t max_len)
{
        _cleanup_free_ char *qd = vmenv_shell_quote(guest_dir);
        char **cmds = NULL;
        size_t i = 0;

        while (i < n) {
                struct vmenv_buf b = {0};
                _cleanup_free_ char *inner = NULL;
                vmenv_buf_printf(&b, "cd %s && rm -rf --", qd);
                /* At least one path per command, however long. Quoting may
                 * double under sudo, so budget twice the length. */
                do {
                        _cleanup_free_ char *rel = vmenv_strdupf("./%s", paths[i]);
                        _cleanup_free_ char *q = vmenv_shell_quote(rel);
                        vmenv_buf_printf(&b, " %s", q);
                        i++;
                } while (i < n && (b.len + strlen(paths[i]) + 8) * (as_root ? 2 : 1) < max_len);
                inner = vmenv_buf_steal(&b);
                vmenv_strv_push(&cmds, wrap_root(inner, as_root));
        }
        return cmds;
}

bool vmenv_sync_folder_is_rsync(const char *type, bool disabled)
{
        return !disabled && (!type || vmenv_streq(type, "rsync"));
}
