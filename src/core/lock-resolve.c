/* vmenv.lock: resolving a machine's box to one exact version, URL, digest
 * and architecture, as 'up' would fetch it (catalog, box file, stored box,
 * distribution image). */
#include <string.h>
#include <unistd.h>

#include "lock-private.h"
#include "vmenv/box.h"
#include "vmenv/cleanup.h"
#include "vmenv/cloud.h"
#include "vmenv/config.h"
#include "vmenv/lock.h"
#include "vmenv/log.h"
#include "vmenv/util.h"

static bool path_ends(const char *s, const char *suffix)
{
        _cleanup_free_ char *p = vmenv_strndup(s, strcspn(s, "?#"));
        return vmenv_endswith(p, suffix);
}

/* A path as written in vmenv.yaml, made absolute against the project. */
char *vmenv_lock_project_path(const char *dir, const char *p)
{
        if (vmenv_is_url(p) || !dir)
                return vmenv_strdup(p);
        return vmenv_path_join(dir, p);
}

/* A local path inside the project, written relative to it, so the lock
 * works in every clone; anything else as it is. */
static char *relative_to(const char *dir, const char *p)
{
        size_t n = dir ? strlen(dir) : 0;
        if (n && !vmenv_is_url(p) && !strncmp(p, dir, n) && p[n] == '/' && p[n + 1])
                return vmenv_strdup(p + n + 1);
        return vmenv_strdup(p);
}

/* The same decision the box store makes (box-store.c: vmenv_lock_classify), so the
 * lock resolves a box the way 'up' would fetch it. */
enum vmenv_lock_src vmenv_lock_classify(const char *dir, const char *src, bool from_box)
{
        static const char *const boxes[] = {".box",    ".tar",     ".tar.gz", ".tgz",
                                            ".tar.xz", ".tar.zst", ".zip",    ".qcow2",
                                            ".img",    ".raw",     NULL};
        bool url = vmenv_is_url(src);
        _cleanup_free_ char *abs = vmenv_lock_project_path(dir, src);
        bool exists = !url && vmenv_path_exists(abs);

        if (from_box && !url && !exists &&
            (!strchr(src, '/') || (vmenv_box_name_valid(src) && !vmenv_startswith(src, "./"))))
                return VMENV_LOCK_SRC_NAME;
        if (path_ends(src, ".json"))
                return VMENV_LOCK_SRC_CATALOG;
        for (const char *const *s = boxes; *s; s++)
                if (path_ends(src, *s))
                        return VMENV_LOCK_SRC_BOX;
        if (url)
                return VMENV_LOCK_SRC_CATALOG;
        {
                _cleanup_fclose_ FILE *f = fopen(abs, "re");
                if (f && fgetc(f) == '{')
                        return VMENV_LOCK_SRC_CATALOG;
        }
        return VMENV_LOCK_SRC_BOX;
}

enum vmenv_lock_src vmenv_lock_machine_kind(const char *dir, const struct vmenv_machine_config *m,
                                            const char **src)
{
        *src = m->box_url ? m->box_url : m->box;
        return vmenv_lock_classify(dir, *src, !m->box_url);
}

/* The checksum of a box file when nobody published one: the store's record
 * if that version is stored, else the sha256 of the file itself. */
static int box_file_digest(const char *dir, const char *name, const char *version, const char *url,
                           const struct vmenv_lock_opts *o, char **out, vmenv_error *err)
{
        _cleanup_(vmenv_box_freep) struct vmenv_box *stored = NULL;
        _cleanup_free_ char *exact = vmenv_strdupf("= %s", version), *file = NULL;
        vmenv_error e = VMENV_ERROR_INIT;

        if (name && vmenv_box_name_valid(name) && (stored = vmenv_box_find(name, exact, &e)) &&
            stored->digest && vmenv_streq(stored->source, url)) {
                vmenv_debug("lock: using the stored digest of '%s' (%s)", name, version);
                *out = vmenv_strdup(stored->digest);
                return 0;
        }
        vmenv_error_clear(&e);
        if (vmenv_is_url(url)) {
                if (vmenv_fetch(url, NULL, o ? o->fetch : NULL, &file, out, err) < 0)
                        return vmenv_error_prefix(err, "cannot download '%s' to checksum it", url);
                unlink(file);
                return 0;
        }
        file = vmenv_lock_project_path(dir, url);
        return vmenv_file_digest(file, "sha256", out, err);
}

/* The architecture of the provider the catalog resolution picked. */
static char *ref_arch(const struct vmenv_catalog *cat, const struct vmenv_box_ref *ref)
{
        for (size_t i = 0; i < cat->n_versions; i++) {
                const struct vmenv_catalog_version *v = &cat->versions[i];
                if (strcmp(v->version, ref->version))
                        continue;
                for (size_t j = 0; j < v->n_providers; j++) {
                        const struct vmenv_catalog_provider *p = &v->providers[j];
                        _cleanup_free_ char *u = NULL;
                        vmenv_error e = VMENV_ERROR_INIT;
                        if (strcmp(p->name, "libvirt") || !p->url || !p->architecture)
                                continue;
                        u = vmenv_url_resolve(cat->source, p->url, &e);
                        vmenv_error_clear(&e);
                        if (vmenv_streq(u, ref->url) &&
                            !strcmp(vmenv_lock_norm_arch(p->architecture), vmenv_host_arch()))
                                return vmenv_strdup(vmenv_lock_norm_arch(p->architecture));
                }
        }
        return vmenv_strdup(vmenv_host_arch());
}

/* Locks what CATALOG offers; FETCHED, when given, is that catalog already
 * loaded (taken over). */
static int resolve_catalog(const char *dir, const struct vmenv_machine_config *m,
                           const char *catalog, struct vmenv_catalog *fetched, bool named,
                           const struct vmenv_lock_opts *o, struct vmenv_lock_entry *e,
                           vmenv_error *err)
{
        _cleanup_(vmenv_catalog_freep) struct vmenv_catalog *cat = fetched;
        _cleanup_free_ char *where = vmenv_lock_project_path(dir, catalog);
        struct vmenv_box_ref ref = {0};
        int r = -1;

        if (!cat && !(cat = vmenv_catalog_fetch(where, o ? o->fetch : NULL, err)))
                return -1;
        if (vmenv_catalog_resolve(cat, m->box_version, NULL, &ref, err) < 0)
                return -1;
        e->catalog = vmenv_strdup(catalog);
        e->version = vmenv_strdup(ref.version);
        e->url = relative_to(dir, ref.url);
        e->architecture = ref_arch(cat, &ref);
        if (!named) {
                const char *n = ref.name ? ref.name : cat->name;
                if (!n || !vmenv_box_name_valid(n)) {
                        vmenv_error_set(err, VMENV_EXIT_DATA, "catalog '%s' has no valid 'name'",
                                        catalog);
                        goto out;
                }
                if (strcmp(n, m->box))
                        e->name = vmenv_strdup(n);
        }
        if (m->box_checksum) {
                if (!(e->checksum = vmenv_lock_checksum_norm(m->box_checksum, err)))
                        goto out;
        } else if (ref.checksum && ref.checksum_type) {
                _cleanup_free_ char *cs = vmenv_strdupf("%s:%s", ref.checksum_type, ref.checksum);
                if (!(e->checksum = vmenv_lock_checksum_norm(cs, err))) {
                        vmenv_error_prefix(err, "catalog '%s', version %s", catalog, ref.version);
                        err->code = VMENV_EXIT_DATA;
                        goto out;
                }
        } else if (box_file_digest(dir, e->name ? e->name : m->box, e->version, e->url, o,
                                   &e->checksum, err) < 0) {
                goto out;
        }
        r = 0;
out:
        vmenv_box_ref_clear(&ref);
        return r;
}

/* Without any catalog to ask (no box_url, no registry that answers), the
 * store is all there is: lock the newest stored version that fits. */
static int resolve_stored(const struct vmenv_machine_config *m, struct vmenv_lock_entry *e,
                          vmenv_error *err)
{
        _cleanup_(vmenv_box_freep) struct vmenv_box *b =
            vmenv_box_find(m->box, m->box_version, err);

        if (!b) {
                vmenv_error_set(err, VMENV_EXIT_NOINPUT,
                                "box '%s' is not in the store and no catalog is known for it",
                                m->box);
                return vmenv_error_hint(err, "set box_url in vmenv.yaml, run 'vmenv box add URL', "
                                             "or set VMENV_BOX_SERVER");
        }
        if (!b->source || !b->digest) {
                vmenv_error_set(err, VMENV_EXIT_NOINPUT,
                                "stored box '%s' (%s) does not record where it came from", m->box,
                                b->version);
                return vmenv_error_hint(err, "set box_url in vmenv.yaml or VMENV_BOX_SERVER");
        }
        e->version = vmenv_strdup(b->version);
        e->url = vmenv_strdup(b->source);
        e->catalog = vmenv_strdup(b->catalog);
        e->architecture = vmenv_strdup(vmenv_host_arch());
        if (m->box_checksum) {
                if (!(e->checksum = vmenv_lock_checksum_norm(m->box_checksum, err)))
                        return -1;
        } else {
                e->checksum = vmenv_strdup(b->digest);
        }
        return 0;
}

/* A box named without box_url: the registry's catalog for it, as 'up' and
 * 'box add' find it (Vagrant's lookup, vmenv_catalog_fetch_name); when the
 * registry cannot answer, the newest stored version that fits, said so. */
static int resolve_name(const char *dir, const struct vmenv_machine_config *m,
                        const struct vmenv_lock_opts *o, struct vmenv_lock_entry *e,
                        vmenv_error *err)
{
        vmenv_error looked = VMENV_ERROR_INIT;
        _cleanup_free_ char *url = NULL;
        struct vmenv_catalog *cat =
            vmenv_catalog_fetch_name(m->box, o ? o->fetch : NULL, &url, &looked);
        int r;

        if (cat) {
                vmenv_error_clear(&looked);
                return resolve_catalog(dir, m, url, cat, true, o, e, err);
        }
        if ((r = resolve_stored(m, e, err)) == 0)
                vmenv_warn("%s: %s; locked the stored version %s", m->name, looked.msg, e->version);
        else if (err->code == VMENV_EXIT_NOINPUT) {
                /* neither: the registry's reason (and hint) is the one to act on */
                vmenv_error_set(err, looked.code, "box '%s' is not in the store, and %s", m->box,
                                looked.msg);
                vmenv_error_hint(err, "%s", looked.hint ? looked.hint : "give box_url");
        }
        vmenv_error_clear(&looked);
        return r;
}

/* A distribution's cloud image ("debian/12"): the stored one if there is
 * one, else what the distribution's index lists now: its URL and digest. */
static int resolve_cloud(const struct vmenv_machine_config *m, const struct vmenv_lock_opts *o,
                         struct vmenv_lock_entry *e, vmenv_error *err)
{
        struct vmenv_cloud_image im = {0};
        vmenv_error none = VMENV_ERROR_INIT;
        _cleanup_(vmenv_box_freep) struct vmenv_box *b =
            vmenv_box_find(m->box, m->box_version, &none);

        vmenv_error_clear(&none);
        if (b && b->source && b->digest)
                return resolve_stored(m, e, err);
        if (vmenv_cloud_image_resolve(m->box, NULL, o ? o->fetch : NULL, &im, err) < 0)
                return -1;
        e->version = vmenv_cloud_image_version(&im);
        e->url = vmenv_strdup(im.url);
        e->architecture = vmenv_strdup(vmenv_host_arch());
        e->checksum = m->box_checksum ? vmenv_lock_checksum_norm(m->box_checksum, err)
                                      : vmenv_strdup(im.checksum);
        vmenv_cloud_image_clear(&im);
        return e->checksum ? 0 : -1;
}

int vmenv_lock_resolve(const struct vmenv_config *c, const struct vmenv_machine_config *m,
                       const struct vmenv_lock_opts *o, struct vmenv_lock_entry *out,
                       vmenv_error *err)
{
        struct vmenv_lock_entry e = {0};
        const char *src;
        enum vmenv_lock_src kind = vmenv_lock_machine_kind(c->dir, m, &src);
        int r;

        e.machine = vmenv_strdup(m->name);
        e.box = vmenv_strdup(m->box);
        e.constraint = vmenv_strdup(m->box_version && *m->box_version ? m->box_version : NULL);
        e.provider = vmenv_strdup("libvirt");
        if (kind == VMENV_LOCK_SRC_NAME && vmenv_cloud_alias_known(m->box)) {
                r = resolve_cloud(m, o, &e, err);
        } else if (kind == VMENV_LOCK_SRC_NAME) {
                r = resolve_name(c->dir, m, o, &e, err);
        } else if (kind == VMENV_LOCK_SRC_CATALOG) {
                r = resolve_catalog(c->dir, m, src, NULL, m->box_url != NULL, o, &e, err);
        } else {
                _cleanup_(vmenv_constraint_freep) struct vmenv_constraint *con =
                    vmenv_constraint_parse(m->box_version, err);
                r = -1;
                if (!con)
                        goto out;
                if (m->box_version && *m->box_version && !vmenv_constraint_exact(con)) {
                        vmenv_error_set(err, VMENV_EXIT_CONFIG,
                                        "a box file needs one exact box_version, not '%s'",
                                        m->box_version);
                        vmenv_error_hint(err,
                                         "use box_version: \"1.2.3\", or a catalog in box_url");
                        goto out;
                }
                e.version =
                    vmenv_strdup(vmenv_constraint_exact(con) ? vmenv_constraint_exact(con) : "0");
                e.url = vmenv_strdup(src);
                e.architecture = vmenv_strdup(vmenv_host_arch());
                if (!m->box_url) {
                        _cleanup_free_ char *n = vmenv_box_name_from_source(src);
                        if (strcmp(n, m->box))
                                e.name = TAKE_PTR(n);
                }
                if (m->box_checksum)
                        r = (e.checksum = vmenv_lock_checksum_norm(m->box_checksum, err)) ? 0 : -1;
                else
                        r = box_file_digest(c->dir, e.name ? e.name : m->box, e.version, src, o,
                                            &e.checksum, err);
        }
out:
        if (r < 0) {
                vmenv_lock_entry_clear(&e);
                return vmenv_error_prefix(err, "cannot lock box '%s' of machine '%s'", m->box,
                                          m->name);
        }
        *out = e;
        return 0;
}
