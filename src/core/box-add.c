/* Adding a box: a name at the registry, a catalog, a box file or an image,
 * a distribution's cloud image alias; resolved to name, version, URL and
 * digest, then fetched and installed (box-install.c). */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "box-private.h"
#include "vmenv/box.h"
#include "vmenv/cleanup.h"
#include "vmenv/cloud.h"
#include "vmenv/log.h"
#include "vmenv/util.h"

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

char *vmenv_box_name_from_source(const char *src)
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
        _cleanup_free_ char *dir = vmenv_box_version_dir(name, version);
        _cleanup_(vmenv_box_freep) struct vmenv_box *b = NULL;
        size_t tl = cs ? strcspn(cs, ":") : 0;

        if (!exists_ok) {
                vmenv_error_set(err, VMENV_EXIT_DATA, "box '%s' (%s) is already in the store", name,
                                version);
                vmenv_error_hint(err, "use --force to replace it");
                return NULL;
        }
        if (!(b = vmenv_box_load(name, version, dir, err)))
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
        char **versions = vmenv_box_stored_versions(name);
        struct vmenv_box *found = NULL;
        for (char **v = versions; v && *v && !found; v++) {
                _cleanup_free_ char *dir = vmenv_box_version_dir(name, *v);
                vmenv_error ignore = VMENV_ERROR_INIT;
                struct vmenv_box *b = vmenv_box_load(name, *v, dir, &ignore);
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
        _cleanup_(vmenv_box_lock_closep) int lock = -1;
        struct vmenv_box *b;
        struct vmenv_box_install_req in = {0};
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
                store_name = name ? vmenv_strdup(name) : vmenv_box_name_from_source(src);
                url = vmenv_strdup(src);
                cs = vmenv_strdup(checksum);
        }
        if (!vmenv_box_name_valid(store_name)) {
                vmenv_error_set(err, VMENV_EXIT_USAGE, "invalid box name '%s'", store_name);
                vmenv_error_hint(err, "names are letters, digits, '.', '_', '-' and one '/'");
                return NULL;
        }
        if ((lock = vmenv_box_lock(store_name, err)) < 0)
                return NULL;
        if (!o->force) {
                _cleanup_free_ char *dir = vmenv_box_version_dir(store_name, version);
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
                if (vmenv_box_fetch_and_extract(url, cs, &fo, &file, &digest, &in.extracted, &meta,
                                                err) < 0)
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
        b = vmenv_box_install(&in, err);
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

        /* A distribution's image ("debian/12") is shared by every project of
         * this user: a project (or its vmenv.lock) may not store other
         * bytes under that name. */
        if (box_url && vmenv_cloud_alias_known(name)) {
                struct vmenv_cloud_image im = {0};
                bool same;
                if (vmenv_cloud_image_locate(name, opts ? opts->architecture : NULL, &im, err) < 0)
                        return NULL;
                same = vmenv_streq(im.url, box_url);
                if (!same) {
                        vmenv_error_set(err, VMENV_EXIT_CONFIG,
                                        "box '%s' is the distribution's image at '%s', not '%s'",
                                        name, im.url, box_url);
                        vmenv_error_hint(err, "give an image of your own a name of its own; if "
                                              "the mirror moved, run 'vmenv lock' again");
                }
                vmenv_cloud_image_clear(&im);
                if (!same)
                        return NULL;
        }

        /* `box:` may itself be a URL or path: the store name then comes from
         * the catalog (or the file's base name). */
        if (!box_url && (vmenv_is_url(name) || classify(name) != KIND_NAME))
                store_name = classify(name) == KIND_CATALOG
                                 ? NULL
                                 : (derived = vmenv_box_name_from_source(name));
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
