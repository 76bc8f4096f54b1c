/* The per-user box store, $VMENV_HOME/boxes/<name>/<version>/libvirt/, in
 * Vagrant's layout: finding, listing and removing boxes. A box appears there
 * whole or not at all (box-install.c), under a per-box lock, so concurrent
 * adds download once (box-add.c). */
#include <dirent.h>
#include <errno.h>
#include <json-c/json.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "box-private.h"
#include "json-cleanup.h"
#include "vmenv/box.h"
#include "vmenv/cleanup.h"
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

char *vmenv_box_stamp_of(const struct stat *st)
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
                now = vmenv_box_stamp_of(&st);
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
struct vmenv_box *vmenv_box_load(const char *name, const char *version, const char *dir,
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
char *vmenv_box_version_dir(const char *name, const char *version)
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
char **vmenv_box_stored_versions(const char *name)
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
                p = vmenv_box_version_dir(name, de->d_name);
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
        versions = vmenv_box_stored_versions(name);
        for (char **v = versions; v && *v; v++) {
                /* "0" and other plain versions match; a constraint filters */
                if (!vmenv_constraint_match(c, *v))
                        continue;
                if (!best || vmenv_version_compare(*v, best) > 0)
                        best = *v;
        }
        if (best) {
                _cleanup_free_ char *dir = vmenv_box_version_dir(name, best);
                b = vmenv_box_load(name, best, dir, err);
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
                versions = vmenv_box_stored_versions(name);
                for (char **ver = versions; ver && *ver; ver++) {
                        _cleanup_free_ char *dir = vmenv_box_version_dir(name, *ver);
                        vmenv_error e = VMENV_ERROR_INIT;
                        struct vmenv_box *b = vmenv_box_load(name, *ver, dir, &e);
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

int vmenv_box_lock(const char *name, vmenv_error *err)
{
        _cleanup_free_ char *home = vmenv_home(), *locks = vmenv_path_join(home, "locks");
        _cleanup_free_ char *dn = vmenv_box_dir_name(name), *path = NULL;
        if (vmenv_mkdir_p(locks, 0755, err) < 0)
                return -1;
        path = vmenv_strdupf("%s/box-%s.lock", locks, dn);
        return vmenv_lock_file(path, true, err);
}

void vmenv_box_lock_closep(int *fd)
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
        _cleanup_(vmenv_box_lock_closep) int lock = -1;
        char **versions;
        int r = 0;
        bool found = false;

        if (!vmenv_box_name_valid(name))
                return vmenv_error_set(err, VMENV_EXIT_USAGE, "invalid box name '%s'", name);
        if ((lock = vmenv_box_lock(name, err)) < 0)
                return -1;
        versions = vmenv_box_stored_versions(name);
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
                dir = vmenv_box_version_dir(name, *v);
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
