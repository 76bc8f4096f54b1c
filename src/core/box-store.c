/* The per-user box store, $VMENV_HOME/boxes/<name>/<version>/libvirt/, in
 * Vagrant's layout. A box appears there whole or not at all: it is built in
 * $VMENV_HOME/tmp/ (same filesystem), validated, fsynced and renamed into
 * place under a per-box lock, so concurrent adds download once. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "json-cleanup.h"
#include "vmenv/box.h"
#include "vmenv/cleanup.h"
#include "vmenv/cloud.h"
#include "vmenv/log.h"
#include "vmenv/util.h"

#define SLASH "-VAGRANTSLASH-"
#define MAX_BOX_NAME 128
#define INDEX_MAX_BYTES (16u << 20)

void vmenv_box_free(struct vmenv_box *b)
{
        if (!b)
                return;
        free(b->name);
        free(b->version);
        free(b->dir);
        vmenv_strv_free(b->images);
        free(b->format);
        free(b->source);
        free(b->catalog);
        free(b->digest);
        free(b->added);
        vmenv_strv_free(b->stamps);
        free(b);
}

VMENV_DEFINE_CLEANUP(struct vmenv_box, vmenv_box_free)

void vmenv_boxes_free(struct vmenv_box **v, size_t n)
{
        for (size_t i = 0; v && i < n; i++)
                vmenv_box_free(v[i]);
        free(v);
}

bool vmenv_box_name_valid(const char *name)
{
        size_t n = name ? strlen(name) : 0;
        if (n == 0 || n > MAX_BOX_NAME || name[0] == '.' || name[0] == '/' || name[n - 1] == '/' ||
            strstr(name, "..") || strstr(name, "//") || strstr(name, SLASH))
                return false;
        for (const char *s = name; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
                      (*s >= '0' && *s <= '9') || strchr("._-/", *s)))
                        return false;
        return true;
}

char *vmenv_box_dir_name(const char *name)
{
        struct vmenv_buf b = {0};
        for (const char *s = name; *s; s++) {
                if (*s == '/')
                        vmenv_buf_puts(&b, SLASH);
                else
                        vmenv_buf_add(&b, s, 1);
        }
        return vmenv_buf_steal(&b);
}

static char *name_from_dir(const char *dir)
{
        struct vmenv_buf b = {0};
        size_t ls = strlen(SLASH);
        for (const char *s = dir; *s;) {
                if (!strncmp(s, SLASH, ls)) {
                        vmenv_buf_puts(&b, "/");
                        s += ls;
                } else {
                        vmenv_buf_add(&b, s++, 1);
                }
        }
        return vmenv_buf_steal(&b);
}

static char *boxes_root(void)
{
        _cleanup_free_ char *home = vmenv_home();
        return vmenv_path_join(home, "boxes");
}

static const char *jstr(json_object *o, const char *key)
{
        json_object *v;
        if (json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string))
                return json_object_get_string(v);
        return NULL;
}

/* "image_stamps": {"box.img": "SIZE MTIME_NS"}, one per image or none. */
static void load_stamps(json_object *o, struct vmenv_box *b)
{
        json_object *st;

        if (!json_object_object_get_ex(o, "image_stamps", &st) ||
            !json_object_is_type(st, json_type_object))
                return;
        for (char **img = b->images; img && *img; img++) {
                const char *slash = strrchr(*img, '/');
                const char *v = jstr(st, slash ? slash + 1 : *img);
                if (!v) {
                        vmenv_strv_free(b->stamps);
                        b->stamps = NULL;
                        return;
                }
                vmenv_strv_push(&b->stamps, vmenv_strdup(v));
        }
}

static char *stamp_of(const struct stat *st)
{
        return vmenv_strdupf("%llu %llu", (unsigned long long)st->st_size,
                             (unsigned long long)st->st_mtim.tv_sec * 1000000000ull +
                                 (unsigned long long)st->st_mtim.tv_nsec);
}

int vmenv_box_check_unchanged(const struct vmenv_box *b, vmenv_error *err)
{
        for (size_t i = 0; b->stamps && b->images && b->images[i]; i++) {
                _cleanup_free_ char *now = NULL;
                struct stat st;

                if (stat(b->images[i], &st) < 0)
                        return vmenv_error_errno(err, VMENV_EXIT_DATA, errno,
                                                 "stored box '%s' (%s) has lost '%s'", b->name,
                                                 b->version, b->images[i]);
                now = stamp_of(&st);
                if (!b->stamps[i] || strcmp(now, b->stamps[i])) {
                        vmenv_error_set(err, VMENV_EXIT_DATA,
                                        "stored box '%s' (%s) was written to after it was "
                                        "checked: '%s' changed since it matched the box's "
                                        "digest (size, mtime in ns: was %s, now %s)",
                                        b->name, b->version, b->images[i],
                                        b->stamps[i] ? b->stamps[i] : "?", now);
                        return vmenv_error_hint(err,
                                                "remove it with 'vmenv box remove %s "
                                                "--box-version %s' and add it again",
                                                b->name, b->version);
                }
        }
        return 0;
}

/* Loads a stored box from its folder: vmenv.json if we wrote one, else the
 * box's own metadata.json (a store copied from Vagrant). */
static struct vmenv_box *load_box(const char *name, const char *version, const char *dir,
                                  vmenv_error *err)
{
        _cleanup_(vmenv_box_freep) struct vmenv_box *b = vmenv_calloc(1, sizeof(*b));
        _cleanup_free_ char *path = vmenv_path_join(dir, "vmenv.json"), *text = NULL;
        _cleanup_(json_putp) json_object *o = NULL;
        json_object *imgs, *vs;

        b->name = vmenv_strdup(name);
        b->version = vmenv_strdup(version);
        b->dir = vmenv_strdup(dir);
        if (vmenv_path_exists(path)) {
                if (vmenv_read_file(path, VMENV_BOX_MAX_SMALL, &text, NULL, err) < 0)
                        return NULL;
                if (!(o = json_tokener_parse(text)) || !json_object_is_type(o, json_type_object)) {
                        vmenv_error_set(err, VMENV_EXIT_DATA, "'%s' is not valid JSON", path);
                        return NULL;
                }
                b->format = vmenv_strdup(jstr(o, "format"));
                b->source = vmenv_strdup(jstr(o, "source"));
                b->catalog = vmenv_strdup(jstr(o, "catalog"));
                b->digest = vmenv_strdup(jstr(o, "checksum"));
                b->added = vmenv_strdup(jstr(o, "added"));
                if (json_object_object_get_ex(o, "virtual_size", &vs))
                        b->virtual_size = (uint64_t)json_object_get_int64(vs);
                if (json_object_object_get_ex(o, "images", &imgs) &&
                    json_object_is_type(imgs, json_type_array))
                        for (size_t i = 0; i < json_object_array_length(imgs); i++) {
                                const char *f =
                                    json_object_get_string(json_object_array_get_idx(imgs, i));
                                if (vmenv_box_member_path_ok(f))
                                        vmenv_strv_push(&b->images, vmenv_path_join(dir, f));
                        }
                load_stamps(o, b);
        }
        if (!b->images || !b->format) {
                struct vmenv_box_meta m = {0};
                if (vmenv_box_dir_validate(dir, &m, err) < 0) {
                        vmenv_error_prefix(err, "stored box '%s' (%s)", name, version);
                        return NULL;
                }
                vmenv_strv_free(b->images);
                vmenv_strv_free(b->stamps);
                b->images = b->stamps = NULL;
                for (char **s = m.images; *s; s++)
                        vmenv_strv_push(&b->images, vmenv_path_join(dir, *s));
                free(b->format);
                b->format = vmenv_strdup(m.format);
                b->virtual_size = m.virtual_size;
                vmenv_box_meta_clear(&m);
        }
        return TAKE_PTR(b);
}

/* Where a stored version's libvirt box is: NAME/VERSION/ARCH/libvirt as
 * Vagrant >= 2.4 writes it (ARCH of this host), else the older
 * NAME/VERSION/libvirt, which vmenv writes and Vagrant 2.4 still reads. */
static char *version_dir(const char *name, const char *version)
{
        _cleanup_free_ char *root = boxes_root(), *dn = vmenv_box_dir_name(name);
        _cleanup_free_ char *arch =
            vmenv_strdupf("%s/%s/%s/%s/libvirt", root, dn, version, vmenv_host_arch());
        struct stat st;

        if (stat(arch, &st) == 0 && S_ISDIR(st.st_mode))
                return TAKE_PTR(arch);
        return vmenv_strdupf("%s/%s/%s/libvirt", root, dn, version);
}

/* Versions stored for name: folders named as a valid version (Vagrant skips
 * the others too) with a libvirt box in either layout. */
static char **stored_versions(const char *name)
{
        _cleanup_free_ char *root = boxes_root(), *dn = vmenv_box_dir_name(name);
        _cleanup_free_ char *dir = vmenv_path_join(root, dn);
        char **out = NULL;
        DIR *d = opendir(dir);
        struct dirent *de;

        if (!d)
                return NULL;
        while ((de = readdir(d))) {
                _cleanup_free_ char *p = NULL;
                struct stat st;
                if (de->d_name[0] == '.' || !vmenv_version_valid(de->d_name))
                        continue;
                p = version_dir(name, de->d_name);
                if (stat(p, &st) == 0 && S_ISDIR(st.st_mode))
                        vmenv_strv_push(&out, vmenv_strdup(de->d_name));
        }
        closedir(d);
        return out;
}

struct vmenv_box *vmenv_box_find(const char *name, const char *constraint, vmenv_error *err)
{
        struct vmenv_constraint *c;
        char **versions;
        const char *best = NULL;
        struct vmenv_box *b = NULL;

        if (!vmenv_box_name_valid(name)) {
                vmenv_error_set(err, VMENV_EXIT_USAGE, "invalid box name '%s'", name ? name : "");
                return NULL;
        }
        if (!(c = vmenv_constraint_parse(constraint, err)))
                return NULL;
        versions = stored_versions(name);
        for (char **v = versions; v && *v; v++) {
                /* "0" and other plain versions match; a constraint filters */
                if (!vmenv_constraint_match(c, *v))
                        continue;
                if (!best || vmenv_version_compare(*v, best) > 0)
                        best = *v;
        }
        if (best) {
                _cleanup_free_ char *dir = version_dir(name, best);
                b = load_box(name, best, dir, err);
        } else {
                vmenv_error_set(err, VMENV_EXIT_NOINPUT, "box '%s'%s%s%s is not in the store", name,
                                constraint && *constraint ? " (" : "",
                                constraint && *constraint ? constraint : "",
                                constraint && *constraint ? ")" : "");
                vmenv_error_hint(err, "run 'vmenv box add %s'", name);
        }
        vmenv_strv_free(versions);
        vmenv_constraint_free(c);
        return b;
}

static int cmp_boxes(const void *a, const void *b)
{
        const struct vmenv_box *x = *(struct vmenv_box *const *)a,
                               *y = *(struct vmenv_box *const *)b;
        int r = strcmp(x->name, y->name);
        return r ? r : vmenv_version_compare(x->version, y->version);
}

int vmenv_box_list(struct vmenv_box ***out, size_t *n_out, vmenv_error *err)
{
        _cleanup_free_ char *root = boxes_root();
        struct vmenv_box **v = NULL;
        size_t n = 0;
        DIR *d = opendir(root);
        struct dirent *de;

        if (!d) {
                if (errno != ENOENT)
                        return vmenv_error_errno(err, 0, errno, "cannot read '%s'", root);
                *out = NULL;
                *n_out = 0;
                return 0;
        }
        while ((de = readdir(d))) {
                _cleanup_free_ char *name = NULL;
                char **versions;
                if (de->d_name[0] == '.')
                        continue;
                name = name_from_dir(de->d_name);
                if (!vmenv_box_name_valid(name))
                        continue;
                versions = stored_versions(name);
                for (char **ver = versions; ver && *ver; ver++) {
                        _cleanup_free_ char *dir = version_dir(name, *ver);
                        vmenv_error e = VMENV_ERROR_INIT;
                        struct vmenv_box *b = load_box(name, *ver, dir, &e);
                        if (!b) {
                                vmenv_debug("skipping %s: %s", dir, e.msg);
                                vmenv_error_clear(&e);
                                continue;
                        }
                        v = vmenv_realloc(v, (n + 1) * sizeof(*v));
                        v[n++] = b;
                }
                vmenv_strv_free(versions);
        }
        closedir(d);
        if (n)
                qsort(v, n, sizeof(*v), cmp_boxes);
        *out = v;
        *n_out = n;
        return 0;
}

int vmenv_box_in_use(const char *name, const char *version, bool *in_use, char **who,
                     vmenv_error *err)
{
        _cleanup_free_ char *home = vmenv_home(), *path = vmenv_path_join(home, "machines.json");
        _cleanup_free_ char *text = NULL;
        _cleanup_(json_putp) json_object *o = NULL;

        *in_use = false;
        if (!vmenv_path_exists(path))
                return 0;
        if (vmenv_read_file(path, INDEX_MAX_BYTES, &text, NULL, err) < 0)
                return -1;
        if (!(o = json_tokener_parse(text)) || !json_object_is_type(o, json_type_array))
                return vmenv_error_set(err, VMENV_EXIT_DATA,
                                       "machine index '%s' is not a JSON array", path);
        for (size_t i = 0; i < json_object_array_length(o); i++) {
                json_object *e = json_object_array_get_idx(o, i);
                const char *b, *v;
                if (!json_object_is_type(e, json_type_object) || !(b = jstr(e, "box")) ||
                    strcmp(b, name))
                        continue;
                v = jstr(e, "box_version");
                /* An entry without a version holds every version. */
                if (version && v && *v && strcmp(v, version))
                        continue;
                *in_use = true;
                if (who)
                        *who = vmenv_strdupf("%s:%s",
                                             jstr(e, "project_dir") ? jstr(e, "project_dir") : "?",
                                             jstr(e, "machine") ? jstr(e, "machine") : "?");
                return 0;
        }
        return 0;
}

static int lock_box(const char *name, vmenv_error *err)
{
        _cleanup_free_ char *home = vmenv_home(), *locks = vmenv_path_join(home, "locks");
        _cleanup_free_ char *dn = vmenv_box_dir_name(name), *path = NULL;
        if (vmenv_mkdir_p(locks, 0755, err) < 0)
                return -1;
        path = vmenv_strdupf("%s/box-%s.lock", locks, dn);
        return vmenv_lock_file(path, true, err);
}

static void lock_closep(int *fd)
{
        if (*fd >= 0)
                close(*fd);
}

static void remove_empty_parents(const char *name, const char *version)
{
        _cleanup_free_ char *root = boxes_root(), *dn = vmenv_box_dir_name(name);
        _cleanup_free_ char *vdir = vmenv_strdupf("%s/%s/%s", root, dn, version);
        _cleanup_free_ char *ndir = vmenv_strdupf("%s/%s", root, dn);
        _cleanup_free_ char *adir = vmenv_strdupf("%s/%s", vdir, vmenv_host_arch());
        rmdir(adir);
        rmdir(vdir);
        rmdir(ndir);
}

int vmenv_box_remove(const char *name, const char *version, bool force, vmenv_error *err)
{
        _cleanup_(lock_closep) int lock = -1;
        char **versions;
        int r = 0;
        bool found = false;

        if (!vmenv_box_name_valid(name))
                return vmenv_error_set(err, VMENV_EXIT_USAGE, "invalid box name '%s'", name);
        if ((lock = lock_box(name, err)) < 0)
                return -1;
        versions = stored_versions(name);
        for (char **v = versions; r == 0 && v && *v; v++) {
                _cleanup_free_ char *dir = NULL, *who = NULL;
                bool used = false;
                if (version && strcmp(*v, version))
                        continue;
                found = true;
                if (!force) {
                        if ((r = vmenv_box_in_use(name, *v, &used, &who, err)) < 0)
                                break;
                        if (used) {
                                vmenv_error_set(err, VMENV_EXIT_FAILURE,
                                                "box '%s' (%s) is in use by machine '%s'", name, *v,
                                                who);
                                vmenv_error_hint(err, "destroy the machine first, or use -f");
                                r = -1;
                                break;
                        }
                }
                dir = version_dir(name, *v);
                if ((r = vmenv_rm_rf(dir, err)) == 0)
                        remove_empty_parents(name, *v);
        }
        vmenv_strv_free(versions);
        if (r == 0 && !found) {
                vmenv_error_set(err, VMENV_EXIT_NOINPUT, "box '%s'%s%s%s is not in the store", name,
                                version ? " (" : "", version ? version : "", version ? ")" : "");
                vmenv_error_hint(err, "run 'vmenv box list' to see the stored boxes");
                return -1;
        }
        return r;
}

/* ---- adding ------------------------------------------------------------ */

static int fsync_path(const char *path, vmenv_error *err)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0 || fsync(fd) < 0)
                return vmenv_error_errno(err, vmenv_exit_for_errno(errno), errno,
                                         "cannot sync '%s'", path);
        return 0;
}

static int fsync_tree(const char *dir, int depth, vmenv_error *err)
{
        DIR *d = opendir(dir);
        struct dirent *de;
        int r = 0;

        if (!d)
                return vmenv_error_errno(err, 0, errno, "cannot read '%s'", dir);
        while (r == 0 && (de = readdir(d))) {
                _cleanup_free_ char *p = NULL;
                struct stat st;
                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                        continue;
                p = vmenv_path_join(dir, de->d_name);
                if (lstat(p, &st) < 0)
                        continue;
                if (S_ISDIR(st.st_mode) && depth < 8)
                        r = fsync_tree(p, depth + 1, err);
                else if (S_ISREG(st.st_mode))
                        r = fsync_path(p, err);
        }
        closedir(d);
        return r < 0 ? r : fsync_path(dir, err);
}

static int copy_file(const char *from, const char *to, vmenv_error *err)
{
        _cleanup_close_ int in = open(from, O_RDONLY | O_CLOEXEC);
        _cleanup_close_ int out = -1;
        struct stat st;
        off_t left;

        if (in < 0 || fstat(in, &st) < 0)
                return vmenv_error_errno(err, errno == ENOENT ? VMENV_EXIT_NOINPUT : 0, errno,
                                         "cannot open '%s'", from);
        if ((out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) < 0)
                return vmenv_error_errno(err, 0, errno, "cannot create '%s'", to);
        for (left = st.st_size; left > 0;) {
                ssize_t n = copy_file_range(in, NULL, out, NULL,
                                            (size_t)(left > (1 << 30) ? (1 << 30) : left), 0);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return vmenv_error_errno(err, vmenv_exit_for_errno(errno), errno,
                                                 "cannot copy '%s'", from);
                if (n == 0)
                        break;
                left -= n;
        }
        return 0;
}

static void iso_now(char *buf, size_t len)
{
        time_t t = time(NULL);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Folders in tmp/ are named box-<pid>-XXXXXX; those of processes that are
 * gone (killed mid-add) are removed by the next add. */
static char *tmp_folder(const char *tmproot, vmenv_error *err)
{
        DIR *d = opendir(tmproot);
        struct dirent *de;
        char *p;

        while (d && (de = readdir(d))) {
                long pid;
                char *end;
                if (strncmp(de->d_name, "box-", 4) && strncmp(de->d_name, "old-", 4))
                        continue;
                pid = strtol(de->d_name + 4, &end, 10);
                if (*end == '-' && pid > 0 && kill((pid_t)pid, 0) < 0 && errno == ESRCH) {
                        _cleanup_free_ char *stale = vmenv_path_join(tmproot, de->d_name);
                        vmenv_error ignore = VMENV_ERROR_INIT;
                        vmenv_debug("removing '%s' left by an interrupted add", stale);
                        vmenv_rm_rf(stale, &ignore);
                        vmenv_error_clear(&ignore);
                }
        }
        if (d)
                closedir(d);
        p = vmenv_strdupf("%s/box-%ld-XXXXXX", tmproot, (long)getpid());
        if (!mkdtemp(p)) {
                vmenv_error_errno(err, 0, errno, "cannot create a folder in '%s'", tmproot);
                free(p);
                return NULL;
        }
        return p;
}

struct install {
        const char *name, *version;
        const char *file;            /* archive or image */
        char *extracted;             /* or: a folder in tmp/ already extracted (taken) */
        struct vmenv_box_meta *meta; /* its metadata (taken) */
        bool is_image;
        const char *source, *catalog, *digest;
        bool force;
};

static int write_vmenv_json(const char *dir, const struct install *in,
                            const struct vmenv_box_meta *m, vmenv_error *err)
{
        _cleanup_(json_putp) json_object *o = json_object_new_object();
        _cleanup_free_ char *path = vmenv_path_join(dir, "vmenv.json");
        json_object *imgs = json_object_new_array(), *stamps = json_object_new_object();
        const char *text;
        char now[32];

        iso_now(now, sizeof(now));
        json_object_object_add(o, "name", json_object_new_string(in->name));
        json_object_object_add(o, "version", json_object_new_string(in->version));
        json_object_object_add(o, "provider", json_object_new_string("libvirt"));
        if (in->source)
                json_object_object_add(o, "source", json_object_new_string(in->source));
        if (in->catalog)
                json_object_object_add(o, "catalog", json_object_new_string(in->catalog));
        if (in->digest)
                json_object_object_add(o, "checksum", json_object_new_string(in->digest));
        json_object_object_add(o, "format", json_object_new_string(m->format));
        json_object_object_add(o, "virtual_size", json_object_new_int64((int64_t)m->virtual_size));
        /* o owns them from here, whatever happens below */
        json_object_object_add(o, "images", imgs);
        json_object_object_add(o, "image_stamps", stamps);
        for (char **s = m->images; s && *s; s++) {
                _cleanup_free_ char *img = vmenv_path_join(dir, *s), *stamp = NULL;
                struct stat st;
                if (stat(img, &st) < 0)
                        return vmenv_error_errno(err, VMENV_EXIT_IO, errno, "cannot stat '%s'",
                                                 img);
                stamp = stamp_of(&st);
                json_object_array_add(imgs, json_object_new_string(*s));
                json_object_object_add(stamps, *s, json_object_new_string(stamp));
        }
        json_object_object_add(o, "added", json_object_new_string(now));
        text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED);
        return vmenv_write_file_atomic(path, text, strlen(text), 0644, err);
}

static int image_box(const char *tmp, const char *image, struct vmenv_box_meta *m, vmenv_error *err)
{
        _cleanup_free_ char *dst = vmenv_path_join(tmp, "box.img"), *meta = NULL, *mpath = NULL;
        _cleanup_free_ char *format = NULL;
        uint64_t size = 0;

        if (vmenv_image_probe(image, &format, &size, err) < 0)
                return -1;
        if (copy_file(image, dst, err) < 0)
                return -1;
        meta = vmenv_strdupf(
            "{\"provider\": \"libvirt\", \"format\": \"%s\", \"virtual_size\": %llu}\n", format,
            /* whole GiB, rounded down: a v1 virtual_size larger than the
             * image would grow its disk */
            (unsigned long long)(size >> 30));
        mpath = vmenv_path_join(tmp, "metadata.json");
        if (vmenv_write_file_atomic(mpath, meta, strlen(meta), 0644, err) < 0)
                return -1;
        return vmenv_box_dir_validate(tmp, m, err);
}

/* Called with the box lock held. */
static struct vmenv_box *install(struct install *in, vmenv_error *err)
{
        _cleanup_free_ char *home = vmenv_home(), *tmproot = vmenv_path_join(home, "tmp");
        _cleanup_free_ char *tmp = NULL, *final = version_dir(in->name, in->version);
        _cleanup_free_ char *parent = NULL, *old = NULL;
        struct vmenv_box_meta m = {0};
        struct vmenv_box *b = NULL;
        vmenv_error ignore = VMENV_ERROR_INIT;
        uint64_t t0, t1;

        t0 = vmenv_now_ns();
        if (in->extracted) {
                tmp = in->extracted;
                in->extracted = NULL;
                m = *in->meta;
                memset(in->meta, 0, sizeof(*in->meta));
        } else {
                if (vmenv_mkdir_p(tmproot, 0755, err) < 0)
                        return NULL;
                if (!(tmp = tmp_folder(tmproot, err)))
                        return NULL;
                if ((in->is_image ? image_box(tmp, in->file, &m, err)
                                  : vmenv_box_archive_extract(in->file, tmp, &m, err)) < 0)
                        goto fail;
        }
        t1 = vmenv_now_ns();
        if (write_vmenv_json(tmp, in, &m, err) < 0 || fsync_tree(tmp, 0, err) < 0)
                goto fail;
        vmenv_debug("box '%s' (%s): extracted in %.2f s, synced in %.2f s", in->name, in->version,
                    (double)(t1 - t0) / 1e9, (double)(vmenv_now_ns() - t1) / 1e9);
        parent = vmenv_strndup(final, strlen(final) - strlen("/libvirt"));
        if (vmenv_mkdir_p(parent, 0755, err) < 0)
                goto fail;
        if (vmenv_path_exists(final)) {
                if (!in->force) {
                        vmenv_error_set(err, VMENV_EXIT_DATA,
                                        "box '%s' (%s) is already in the store", in->name,
                                        in->version);
                        vmenv_error_hint(err, "use --force to replace it");
                        goto fail;
                }
                old = vmenv_strdupf("%s/old-%ld-XXXXXX", tmproot, (long)getpid());
                if (!mkdtemp(old) || rename(final, old) < 0) {
                        vmenv_error_errno(err, 0, errno, "cannot replace '%s'", final);
                        goto fail;
                }
        }
        if (rename(tmp, final) < 0) {
                vmenv_error_errno(err, 0, errno, "cannot move the box into '%s'", final);
                goto fail;
        }
        fsync_path(parent, &ignore);
        vmenv_error_clear(&ignore);
        if (old) {
                vmenv_rm_rf(old, &ignore);
                vmenv_error_clear(&ignore);
        }
        vmenv_box_meta_clear(&m);
        b = load_box(in->name, in->version, final, err);
        return b;
fail:
        vmenv_box_meta_clear(&m);
        vmenv_rm_rf(tmp, &ignore);
        vmenv_error_clear(&ignore);
        if (old) {
                vmenv_rm_rf(old, &ignore);
                vmenv_error_clear(&ignore);
        }
        if (parent) {
                _cleanup_free_ char *ndir =
                    vmenv_strndup(parent, (size_t)(strrchr(parent, '/') - parent));
                rmdir(parent);
                rmdir(ndir);
        }
        return NULL;
}

/* Extraction while downloading: a thread reads the download file as it
 * grows and extracts it into tmp/, so the two overlap. The result is used
 * only if the download completes and its digest is right; if the download
 * restarts from zero, the box is extracted again from the finished file. */
struct follow {
        pthread_mutex_t mu;
        pthread_cond_t cv;
        char *path;
        uint64_t size, off;
        bool done, failed, restarted;
        bool final;    /* size is the complete download's */
        bool zip;      /* the file starts as a zip archive */
        bool finished; /* the thread is done reading */
        int fd;
        /* The digest of [0, off) of the file, as read: the download thread
         * then need not hash (see consumer_digest). NULL if unusable. */
        EVP_MD_CTX *md;
        const char *md_type;
        char *dest;
        struct vmenv_box_meta meta;
        vmenv_error err;
        int rc;
};

static bool follow_on_data(void *data, const char *path, uint64_t size, enum vmenv_fetch_event ev)
{
        struct follow *f = data;
        bool go_on;
        pthread_mutex_lock(&f->mu);
        if (!f->path)
                f->path = vmenv_strdup(path);
        if (ev == VMENV_FETCH_RESTARTED)
                f->restarted = true;
        else
                f->size = size;
        /* Extraction failed for good: stop the download instead of filling
         * the cache with the rest. A zip may need the whole file (its
         * directory is at the end), so it goes on to the definitive try. */
        go_on = !(f->finished && f->rc < 0 && !f->zip && !f->restarted);
        pthread_cond_broadcast(&f->cv);
        pthread_mutex_unlock(&f->mu);
        return go_on;
}

static long follow_read(void *data, void *buf, size_t len)
{
        struct follow *f = data;
        uint64_t avail;
        ssize_t n;

        pthread_mutex_lock(&f->mu);
        while (!f->failed && !f->restarted && !f->done && !f->final &&
               (!f->path || f->off >= f->size))
                pthread_cond_wait(&f->cv, &f->mu);
        if (f->failed || f->restarted || (f->done && !f->path)) {
                pthread_mutex_unlock(&f->mu);
                return -1;
        }
        avail = f->size - f->off;
        if (f->fd < 0)
                f->fd = open(f->path, O_RDONLY | O_CLOEXEC);
        pthread_mutex_unlock(&f->mu);
        if (avail == 0)
                return 0; /* done, all read */
        if (f->fd < 0)
                return -1;
        if (avail < len)
                len = (size_t)avail;
        do
                n = pread(f->fd, buf, len, (off_t)f->off);
        while (n < 0 && errno == EINTR);
        if (n <= 0)
                return -1;
        if (f->md)
                EVP_DigestUpdate(f->md, buf, (size_t)n);
        if (f->off == 0 && n >= 2 && !memcmp(buf, "PK", 2))
                f->zip = true;
        f->off += (uint64_t)n;
        return n;
}

static void *follow_thread(void *data)
{
        struct follow *f = data;
        struct vmenv_box_reader r = {follow_read, f};
        long n = 0;

        f->rc = vmenv_box_archive_extract_from(&r, f->dest, &f->meta, &f->err);
        /* The archive may end before the file does (end-of-archive blocks,
         * padding): the digest covers every byte, so read on to the end. */
        if (f->rc == 0 && f->md) {
                _cleanup_free_ char *buf = vmenv_malloc(1 << 16);
                while ((n = follow_read(f, buf, 1 << 16)) > 0)
                        ;
        }
        pthread_mutex_lock(&f->mu);
        if (f->rc < 0 || n < 0)
                f->md_type = NULL;
        f->finished = true;
        pthread_cond_broadcast(&f->cv);
        pthread_mutex_unlock(&f->mu);
        return NULL;
}

/* Called by the download thread once the file is complete. */
static char *follow_digest(void *data, const char *type, uint64_t size)
{
        struct follow *f = data;
        unsigned char d[EVP_MAX_MD_SIZE];
        unsigned len = 0;
        char *hex;

        pthread_mutex_lock(&f->mu);
        f->final = true;
        f->size = size;
        pthread_cond_broadcast(&f->cv);
        while (!f->finished)
                pthread_cond_wait(&f->cv, &f->mu);
        pthread_mutex_unlock(&f->mu);
        if (!f->md_type || strcmp(f->md_type, type) || f->restarted || f->off != size)
                return NULL;
        EVP_DigestFinal_ex(f->md, d, &len);
        hex = vmenv_malloc(len * 2 + 1);
        for (unsigned i = 0; i < len; i++)
                snprintf(hex + 2 * i, 3, "%02x", d[i]);
        return hex;
}

/* Downloads url while extracting it into a new folder in tmp/. On success
 * *extracted and *meta hold the result, or *extracted is NULL when the box
 * must be extracted from *file afterwards (the download restarted). */
static int fetch_and_extract(const char *url, const char *cs, const struct vmenv_fetch_opts *fo,
                             char **file, char **digest, char **extracted,
                             struct vmenv_box_meta *meta, vmenv_error *err)
{
        _cleanup_free_ char *home = vmenv_home(), *tmproot = vmenv_path_join(home, "tmp");
        struct vmenv_fetch_opts o = fo ? *fo : (struct vmenv_fetch_opts){0};
        struct follow f = {
            .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER, .fd = -1};
        vmenv_error ignore = VMENV_ERROR_INIT;
        _cleanup_free_ char *type = NULL, *hex = NULL;
        pthread_t th;
        int r;

        *extracted = NULL;
        if (cs && vmenv_checksum_parse(cs, &type, &hex, err) < 0)
                return -1;
        if (vmenv_mkdir_p(tmproot, 0755, err) < 0)
                return -1;
        if (!(f.dest = tmp_folder(tmproot, err)))
                return -1;
        f.md_type = type ? type : "sha256";
        if (!(f.md = EVP_MD_CTX_new()) ||
            !EVP_DigestInit_ex(f.md, EVP_get_digestbyname(f.md_type), NULL))
                abort();
        o.on_data = follow_on_data;
        o.on_data_arg = &f;
        o.consumer_digest = follow_digest;
        if (pthread_create(&th, NULL, follow_thread, &f) != 0)
                abort();
        r = vmenv_fetch(url, cs, &o, file, digest, err);
        pthread_mutex_lock(&f.mu);
        if (r < 0 && f.finished && f.rc < 0 && f.err.msg) {
                /* the download stopped because extraction failed: say why */
                vmenv_error_clear(err);
                vmenv_error_move(err, &f.err);
        }
        if (r < 0)
                f.failed = true;
        else
                f.done = true;
        pthread_cond_broadcast(&f.cv);
        pthread_mutex_unlock(&f.mu);
        pthread_join(th, NULL);
        if (f.fd >= 0)
                close(f.fd);
        /* If streaming extraction failed (a bad archive, or a zip that needs
         * seeking), the caller extracts from the finished file, which gives
         * the definitive error. */
        if (r == 0 && f.rc == 0 && !f.restarted) {
                *extracted = TAKE_PTR(f.dest);
                *meta = f.meta;
                memset(&f.meta, 0, sizeof(f.meta));
        }
        if (f.dest) {
                vmenv_rm_rf(f.dest, &ignore);
                vmenv_error_clear(&ignore);
                free(f.dest);
        }
        vmenv_box_meta_clear(&f.meta);
        vmenv_error_clear(&f.err);
        EVP_MD_CTX_free(f.md);
        free(f.path);
        return r;
}

enum kind { KIND_NAME, KIND_CATALOG, KIND_BOXFILE, KIND_IMAGE };

static bool path_ends(const char *s, const char *suffix)
{
        _cleanup_free_ char *p = vmenv_strndup(s, strcspn(s, "?#"));
        return vmenv_endswith(p, suffix);
}

static enum kind classify(const char *src)
{
        static const char *const boxes[] = {".box",    ".tar",     ".tar.gz", ".tgz",
                                            ".tar.xz", ".tar.zst", ".zip",    NULL};
        static const char *const images[] = {".qcow2", ".img", ".raw", NULL};
        bool url = vmenv_is_url(src);

        if (!url && !vmenv_path_exists(src) && !strchr(src, '/'))
                return KIND_NAME;
        if (!url && vmenv_box_name_valid(src) && !vmenv_path_exists(src) &&
            !vmenv_startswith(src, "./"))
                return KIND_NAME;
        if (path_ends(src, ".json"))
                return KIND_CATALOG;
        for (const char *const *s = images; *s; s++)
                if (path_ends(src, *s))
                        return KIND_IMAGE;
        for (const char *const *s = boxes; *s; s++)
                if (path_ends(src, *s))
                        return KIND_BOXFILE;
        if (!url) {
                /* a local file without a telling suffix: look at it */
                _cleanup_close_ int fd = open(src, O_RDONLY | O_CLOEXEC);
                char h[8] = {0};
                if (fd >= 0 && read(fd, h, sizeof(h)) > 0) {
                        if (!memcmp(h, "QFI\xfb", 4))
                                return KIND_IMAGE;
                        if (h[0] == '{')
                                return KIND_CATALOG;
                }
                return KIND_BOXFILE;
        }
        return KIND_CATALOG;
}

/* "https://x/y/tiny.box?a=b" → "tiny" */
static char *derive_name(const char *src)
{
        _cleanup_free_ char *p = vmenv_strndup(src, strcspn(src, "?#"));
        const char *base = strrchr(p, '/') ? strrchr(p, '/') + 1 : p;
        char *name = vmenv_strdup(base), *dot = strchr(name, '.');
        if (dot && dot != name)
                *dot = '\0';
        return name;
}

/* The version already stored, when adding it again: 'box add' refuses it
 * without --force, as Vagrant does (BoxAlreadyExists); 'up' uses it, unless
 * the checksum asked for contradicts the digest recorded when it was added. */
static struct vmenv_box *existing_version(const char *name, const char *version, const char *cs,
                                          bool exists_ok, vmenv_error *err)
{
        _cleanup_free_ char *dir = version_dir(name, version);
        _cleanup_(vmenv_box_freep) struct vmenv_box *b = NULL;
        size_t tl = cs ? strcspn(cs, ":") : 0;

        if (!exists_ok) {
                vmenv_error_set(err, VMENV_EXIT_DATA, "box '%s' (%s) is already in the store", name,
                                version);
                vmenv_error_hint(err, "use --force to replace it");
                return NULL;
        }
        if (!(b = load_box(name, version, dir, err)))
                return NULL;
        if (cs && b->digest && !strncmp(cs, b->digest, tl + 1) && strcmp(cs, b->digest)) {
                vmenv_error_set(err, VMENV_EXIT_DATA,
                                "box '%s' (%s) in the store has %s, but %s is expected", name,
                                version, b->digest, cs);
                vmenv_error_hint(err, "run 'vmenv box add --force' to replace it");
                return NULL;
        }
        vmenv_debug("box '%s' (%s) is already present", name, version);
        return TAKE_PTR(b);
}

/* The stored version of name whose digest is digest, if any. */
static struct vmenv_box *stored_digest(const char *name, const char *digest, vmenv_error *err)
{
        char **versions = stored_versions(name);
        struct vmenv_box *found = NULL;
        for (char **v = versions; v && *v && !found; v++) {
                _cleanup_free_ char *dir = version_dir(name, *v);
                vmenv_error ignore = VMENV_ERROR_INIT;
                struct vmenv_box *b = load_box(name, *v, dir, &ignore);
                vmenv_error_clear(&ignore);
                if (b && vmenv_streq(b->digest, digest))
                        found = b;
                else
                        vmenv_box_free(b);
        }
        vmenv_strv_free(versions);
        return found;
}

static struct vmenv_box *add_source(const char *src, const char *name, const char *constraint,
                                    const char *checksum, const struct vmenv_box_opts *o,
                                    bool exists_ok, vmenv_error *err)
{
        static const struct vmenv_box_opts defaults = {0};
        enum kind kind = classify(src);
        _cleanup_free_ char *catalog_url = NULL, *store_name = NULL, *version = NULL;
        _cleanup_free_ char *url = NULL, *cs = NULL, *file = NULL, *digest = NULL;
        _cleanup_(lock_closep) int lock = -1;
        struct vmenv_box *b;
        struct install in = {0};
        struct vmenv_box_meta meta = {0};
        struct vmenv_catalog *named = NULL;
        struct vmenv_fetch_opts fo;
        bool downloaded = false;
        int r;

        if (!o)
                o = &defaults;
        if (kind == KIND_NAME && vmenv_cloud_alias_known(src)) {
                /* A distribution's cloud image ("debian/12"): its index
                 * gives URL and digest; then it is an image like any other. */
                struct vmenv_cloud_image im = {0};
                if (vmenv_cloud_image_resolve(src, o->architecture, &o->fetch, &im, err) < 0)
                        return NULL;
                if (!checksum && (b = stored_digest(im.name, im.checksum, err))) {
                        vmenv_cloud_image_clear(&im);
                        return b; /* the same bytes under an earlier date */
                }
                store_name = vmenv_strdup(im.name);
                url = vmenv_strdup(im.url);
                cs = vmenv_strdup(checksum ? checksum : im.checksum);
                version = vmenv_cloud_image_version(&im);
                vmenv_cloud_image_clear(&im);
                kind = KIND_IMAGE;
        } else if (kind == KIND_NAME) {
                /* Vagrant's shorthand: looked up at the box registry */
                if (!(named = vmenv_catalog_fetch_name(src, &o->fetch, &catalog_url, err)))
                        return NULL;
                if (!name)
                        name = src;
                kind = KIND_CATALOG;
        } else if (kind == KIND_CATALOG) {
                /* recorded for 'outdated'/'update': make a path valid anywhere */
                char *abs = vmenv_is_url(src) ? NULL : realpath(src, NULL);
                catalog_url = vmenv_strdup(abs ? abs : src);
                free(abs);
        }

        if (kind == KIND_CATALOG) {
                struct vmenv_catalog *cat =
                    named ? TAKE_PTR(named) : vmenv_catalog_fetch(catalog_url, &o->fetch, err);
                struct vmenv_box_ref ref = {0};
                if (!cat)
                        return NULL;
                r = vmenv_catalog_resolve(cat, constraint, o->architecture, &ref, err);
                vmenv_catalog_free(cat);
                if (r < 0)
                        return NULL;
                if (name && ref.name && strcmp(name, ref.name)) {
                        /* Vagrant's BoxAddNameMismatch */
                        vmenv_error_set(err, VMENV_EXIT_DATA,
                                        "catalog '%s' is for box '%s', not '%s'", catalog_url,
                                        ref.name, name);
                        vmenv_error_hint(err, "use the catalog's name, or leave out --name");
                        vmenv_box_ref_clear(&ref);
                        return NULL;
                }
                store_name = vmenv_strdup(name ? name : ref.name);
                version = vmenv_strdup(ref.version);
                url = vmenv_strdup(ref.url);
                if (checksum)
                        cs = vmenv_strdup(checksum);
                else if (ref.checksum)
                        cs = vmenv_strdupf("%s:%s", ref.checksum_type, ref.checksum);
                vmenv_box_ref_clear(&ref);
                if (!store_name) {
                        vmenv_error_set(err, VMENV_EXIT_DATA, "catalog '%s' has no 'name'",
                                        catalog_url);
                        vmenv_error_hint(err, "give the box a name with --name");
                        return NULL;
                }
        } else if (!version) {
                struct vmenv_constraint *c = vmenv_constraint_parse(constraint, err);
                if (!c)
                        return NULL;
                if (constraint && *constraint && !vmenv_constraint_exact(c)) {
                        vmenv_constraint_free(c);
                        vmenv_error_set(err, VMENV_EXIT_USAGE,
                                        "a box file needs one exact version, not '%s'", constraint);
                        vmenv_error_hint(err, "use --box-version 1.2.3");
                        return NULL;
                }
                version = vmenv_strdup(vmenv_constraint_exact(c) ? vmenv_constraint_exact(c) : "0");
                vmenv_constraint_free(c);
                store_name = name ? vmenv_strdup(name) : derive_name(src);
                url = vmenv_strdup(src);
                cs = vmenv_strdup(checksum);
        }
        if (!vmenv_box_name_valid(store_name)) {
                vmenv_error_set(err, VMENV_EXIT_USAGE, "invalid box name '%s'", store_name);
                vmenv_error_hint(err, "names are letters, digits, '.', '_', '-' and one '/'");
                return NULL;
        }
        if ((lock = lock_box(store_name, err)) < 0)
                return NULL;
        if (!o->force) {
                _cleanup_free_ char *dir = version_dir(store_name, version);
                if (vmenv_path_exists(dir)) {
                        if (!(b = existing_version(store_name, version, cs, exists_ok, err)))
                                vmenv_error_prefix(err, "cannot add box '%s' (%s)", store_name,
                                                   version);
                        return b;
                }
        }
        fo = o->fetch;
        fo.bearer = vmenv_box_server_token(url); /* a box on the registry's own host */
        if (vmenv_is_url(url) && kind != KIND_IMAGE) {
                if (fetch_and_extract(url, cs, &fo, &file, &digest, &in.extracted, &meta, err) < 0)
                        goto fail;
                in.meta = &meta;
                downloaded = true;
        } else if (vmenv_is_url(url)) {
                if (vmenv_fetch(url, cs, &fo, &file, &digest, err) < 0)
                        goto fail;
                downloaded = true;
        } else {
                _cleanup_free_ char *type = NULL, *hex = NULL;
                if (cs && vmenv_checksum_parse(cs, &type, &hex, err) < 0)
                        return NULL;
                /* Hash and extract the same bytes: a private copy. */
                if (vmenv_file_snapshot(url, type ? type : "sha256", &file, &digest, err) < 0)
                        return NULL;
                downloaded = true; /* the copy is ours to delete */
                if (hex && strcmp(strchr(digest, ':') + 1, hex)) {
                        vmenv_error_set(err, VMENV_EXIT_DATA,
                                        "checksum mismatch for '%s': expected %s:%s, got %s", url,
                                        type, hex, digest);
                        unlink(file);
                        return NULL;
                }
                {
                        /* record where it came from in a form valid anywhere */
                        char *abs = realpath(url, NULL);
                        if (abs) {
                                free(url);
                                url = vmenv_strdup(abs);
                                free(abs);
                        }
                }
        }
        in.name = store_name;
        in.version = version;
        in.file = file;
        in.is_image = kind == KIND_IMAGE;
        in.source = url;
        in.catalog = catalog_url;
        in.digest = digest;
        in.force = o->force;
        b = install(&in, err);
        if (downloaded)
                unlink(file); /* the store has it now; a bad box is not worth keeping */
        if (!b)
                goto fail;
        return b;
fail:
        vmenv_box_meta_clear(&meta);
        if (in.extracted) {
                vmenv_error ignore = VMENV_ERROR_INIT;
                vmenv_rm_rf(in.extracted, &ignore);
                vmenv_error_clear(&ignore);
                free(in.extracted);
        }
        vmenv_error_prefix(err, "cannot add box '%s' (%s)", store_name, version);
        return NULL;
}

struct vmenv_box *vmenv_box_add(const char *source, const char *constraint,
                                const struct vmenv_box_opts *opts, vmenv_error *err)
{
        return add_source(source, opts ? opts->name : NULL, constraint,
                          opts ? opts->checksum : NULL, opts, false, err);
}

struct vmenv_box *vmenv_box_ensure(const char *name, const char *constraint, const char *box_url,
                                   const char *checksum, const struct vmenv_box_opts *opts,
                                   vmenv_error *err)
{
        const char *src = box_url ? box_url : name;
        const char *store_name = name;
        _cleanup_free_ char *derived = NULL;
        struct vmenv_box *b;
        vmenv_error e = VMENV_ERROR_INIT;

        /* `box:` may itself be a URL or path: the store name then comes from
         * the catalog (or the file's base name). */
        if (!box_url && (vmenv_is_url(name) || classify(name) != KIND_NAME))
                store_name = classify(name) == KIND_CATALOG ? NULL : (derived = derive_name(name));
        if (store_name && !(opts && opts->refresh)) {
                if ((b = vmenv_box_find(store_name, constraint, &e)))
                        return b;
                if (e.code != VMENV_EXIT_NOINPUT) {
                        vmenv_error_move(err, &e);
                        return NULL;
                }
                vmenv_error_clear(&e);
        }
        return add_source(src, store_name, constraint, checksum, opts, true, err);
}
