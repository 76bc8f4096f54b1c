/* vmenv.lock: holding 'up' to the lock (drift between vmenv.yaml, the lock
 * and the stored box), updating it, and the report behind 'vmenv lock'. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "lock-private.h"
#include "vmenv/box.h"
#include "vmenv/cleanup.h"
#include "vmenv/config.h"
#include "vmenv/lock.h"
#include "vmenv/log.h"
#include "vmenv/util.h"

static const char *lock_name(const struct vmenv_lock *l)
{
        return l && l->path ? l->path : VMENV_LOCK_FILE;
}

/* A difference between lock and vmenv.yaml. The hint re-resolves only the
 * machine concerned (when there is one), so the others stay as locked. */
static int drift(const struct vmenv_lock *l, const struct vmenv_lock_entry *e, const char *machine,
                 vmenv_error *err, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int drift(const struct vmenv_lock *l, const struct vmenv_lock_entry *e, const char *machine,
                 vmenv_error *err, const char *fmt, ...)
{
        va_list ap;
        _cleanup_free_ char *msg = NULL;
        va_start(ap, fmt);
        msg = vmenv_vstrdupf(fmt, ap);
        va_end(ap);
        if (e && e->line)
                vmenv_error_set(err, VMENV_EXIT_CONFIG, "%s:%u: %s", lock_name(l), e->line, msg);
        else
                vmenv_error_set(err, VMENV_EXIT_CONFIG, "%s: %s", lock_name(l), msg);
        if (!machine)
                return vmenv_error_hint(err, LOCK_HINT);
        return vmenv_error_hint(err, "run 'vmenv lock --update %s' and commit vmenv.lock", machine);
}

static char *lock_dir(const struct vmenv_lock *l)
{
        const char *slash = l && l->path ? strrchr(l->path, '/') : NULL;
        return slash ? vmenv_strndup(l->path, (size_t)(slash - l->path)) : NULL;
}

int vmenv_lock_check_machine(const struct vmenv_lock *l, const struct vmenv_machine_config *m,
                             vmenv_error *err)
{
        const struct vmenv_lock_entry *e = vmenv_lock_find(l, m->name);
        _cleanup_(vmenv_constraint_freep) struct vmenv_constraint *con = NULL;
        _cleanup_free_ char *dir = lock_dir(l);
        const char *src;
        enum vmenv_lock_src kind = vmenv_lock_machine_kind(dir, m, &src);

        if (!e)
                return drift(l, NULL, m->name, err, "machine '%s' is not in the lock", m->name);
        if (strcmp(e->box, m->box))
                return drift(l, e, m->name, err,
                             "'%s' is locked to box '%s' but vmenv.yaml says '%s'", m->name, e->box,
                             m->box);
        if (!(con = vmenv_constraint_parse(m->box_version, err)))
                return vmenv_error_prefix(err, "machine '%s'", m->name);
        if (kind == VMENV_LOCK_SRC_BOX) {
                const char *want = vmenv_constraint_exact(con) ? vmenv_constraint_exact(con) : "0";
                if (vmenv_version_compare(want, e->version))
                        return drift(l, e, m->name, err,
                                     "'%s' is locked to %s %s but vmenv.yaml asks for version %s",
                                     m->name, e->box, e->version, want);
                if (strcmp(e->url, src))
                        return drift(l, e, m->name, err,
                                     "'%s' is locked to '%s' but vmenv.yaml says '%s'", m->name,
                                     e->url, src);
        } else {
                if (!vmenv_constraint_match(con, e->version))
                        return drift(l, e, m->name, err,
                                     "'%s' is locked to %s %s, which box_version '%s' excludes",
                                     m->name, e->box, e->version, m->box_version);
                if (kind == VMENV_LOCK_SRC_CATALOG && !vmenv_streq(e->catalog, src))
                        return drift(l, e, m->name, err,
                                     "'%s' is locked to catalog '%s' but vmenv.yaml says '%s'",
                                     m->name, e->catalog ? e->catalog : "(none)", src);
        }
        if (m->box_checksum) {
                vmenv_error ce = VMENV_ERROR_INIT;
                _cleanup_free_ char *cs = vmenv_lock_checksum_norm(m->box_checksum, &ce);
                vmenv_error_clear(&ce);
                if (!vmenv_lock_checksum_eq(cs ? cs : m->box_checksum, e->checksum))
                        return drift(l, e, m->name, err,
                                     "'%s' is locked with checksum %s but vmenv.yaml says %s",
                                     m->name, e->checksum, m->box_checksum);
        }
        if (strcmp(vmenv_lock_norm_arch(e->architecture), vmenv_host_arch()))
                return drift(l, e, m->name, err, "'%s' is locked to a box for %s; this host is %s",
                             m->name, e->architecture, vmenv_host_arch());
        return 0;
}

int vmenv_lock_check(const struct vmenv_lock *l, const struct vmenv_config *c, bool frozen,
                     vmenv_error *err)
{
        for (size_t i = 0; i < l->n_entries; i++)
                if (!vmenv_lock_config_machine(c, l->entries[i].machine))
                        return drift(l, &l->entries[i], NULL, err,
                                     "machine '%s' is not in vmenv.yaml", l->entries[i].machine);
        for (size_t i = 0; i < c->n_machines; i++)
                if (vmenv_lock_check_machine(l, &c->machines[i], err) < 0)
                        return -1;
        if (frozen) {
                _cleanup_free_ char *digest = NULL;
                if (vmenv_lock_config_digest(c, &digest, err) < 0)
                        return -1;
                if (!vmenv_lock_checksum_eq(digest, l->config_digest))
                        return drift(l, NULL, NULL, err,
                                     "vmenv.yaml changed since the lock was written "
                                     "(locked %s, now %s)",
                                     l->config_digest, digest);
                for (size_t i = 0; i < c->n_machines; i++) {
                        const struct vmenv_machine_config *m = &c->machines[i];
                        const struct vmenv_lock_entry *e = vmenv_lock_find(l, m->name);
                        const char *want =
                            m->box_version && *m->box_version ? m->box_version : NULL;
                        if (!vmenv_streq(e->constraint, want))
                                return drift(l, e, NULL, err,
                                             "'%s' was locked for box_version '%s', vmenv.yaml "
                                             "now says '%s'",
                                             m->name, e->constraint ? e->constraint : "",
                                             want ? want : "");
                }
        }
        return 0;
}

int vmenv_lock_ensure(const struct vmenv_config *c, const struct vmenv_lock_opts *o,
                      struct vmenv_lock **out, vmenv_error *err)
{
        _cleanup_(vmenv_lock_freep) struct vmenv_lock *l = NULL;
        _cleanup_free_ char *path = vmenv_lock_path(c);
        bool frozen = o && o->frozen;
        vmenv_error werr = VMENV_ERROR_INIT;

        if (vmenv_lock_load(c, &l, err) < 0)
                return -1;
        if (!l) {
                if (frozen) {
                        vmenv_error_set(err, VMENV_EXIT_CONFIG, "'%s' does not exist (--frozen)",
                                        path);
                        return vmenv_error_hint(err, "run 'vmenv lock' and commit vmenv.lock");
                }
                if (vmenv_lock_update(c, NULL, false, NULL, o, &l, NULL, err) < 0)
                        return -1;
                /* A read-only checkout can still be brought up: the lock is
                 * then used for this run only. */
                if (vmenv_lock_save(l, path, &werr) < 0) {
                        vmenv_warn("%s; going on without recording the lock", werr.msg);
                        vmenv_error_clear(&werr);
                } else {
                        vmenv_info("wrote %s", path);
                }
                free(l->path);
                l->path = vmenv_strdup(path);
        }
        if (vmenv_lock_check(l, c, frozen, err) < 0)
                return -1;
        *out = TAKE_PTR(l);
        return 0;
}

void vmenv_lock_pin_clear(struct vmenv_lock_pin *p)
{
        if (!p)
                return;
        free(p->name);
        free(p->constraint);
        free(p->url);
        free(p->checksum);
        *p = (struct vmenv_lock_pin){0};
}

int vmenv_lock_pin(const struct vmenv_lock *l, const struct vmenv_machine_config *m,
                   struct vmenv_lock_pin *out, vmenv_error *err)
{
        const struct vmenv_lock_entry *e;
        _cleanup_free_ char *dir = NULL;

        if (!l) {
                *out = (struct vmenv_lock_pin){
                    .name = vmenv_strdup(m->box),
                    .constraint = vmenv_strdup(m->box_version),
                    .url = vmenv_strdup(m->box_url),
                    .checksum = vmenv_strdup(m->box_checksum),
                };
                return 0;
        }
        if (vmenv_lock_check_machine(l, m, err) < 0)
                return -1;
        e = vmenv_lock_find(l, m->name);
        dir = lock_dir(l);
        *out = (struct vmenv_lock_pin){
            .name = vmenv_strdup(e->name ? e->name : e->box),
            .constraint = vmenv_strdupf("= %s", e->version),
            .checksum = vmenv_strdup(e->checksum),
            .locked = true,
        };
        /* The box store tells a .box from a catalog by the name's suffix; a
         * download URL without one goes through its catalog, which resolves
         * "= VERSION" to it (and the locked checksum is still enforced). */
        if (e->catalog && vmenv_lock_classify(dir, e->url, false) != VMENV_LOCK_SRC_BOX)
                out->url = vmenv_lock_project_path(dir, e->catalog);
        else
                out->url = vmenv_lock_project_path(dir, e->url);
        return 0;
}

int vmenv_lock_verify_box(const struct vmenv_lock *l, const struct vmenv_machine_config *m,
                          const struct vmenv_box *box, vmenv_error *err)
{
        const struct vmenv_lock_entry *e = vmenv_lock_find(l, m->name);

        if (!e)
                return 0;
        if (vmenv_version_compare(box->version, e->version)) {
                vmenv_error_set(err, VMENV_EXIT_DATA,
                                "box '%s' is version %s but %s locks '%s' to %s", box->name,
                                box->version, lock_name(l), m->name, e->version);
                return vmenv_error_hint(err, "run 'vmenv lock --update %s' and commit vmenv.lock",
                                        m->name);
        }
        if (!vmenv_lock_checksum_eq(box->digest, e->checksum)) {
                vmenv_error_set(err, VMENV_EXIT_DATA,
                                "stored box '%s' (%s) does not match %s: its digest is %s, the "
                                "lock says %s",
                                box->name, box->version, lock_name(l),
                                box->digest ? box->digest : "not recorded", e->checksum);
                return vmenv_error_hint(err,
                                        "remove it with 'vmenv box remove %s --box-version %s' and "
                                        "run 'vmenv up' again to download the locked box",
                                        box->name, box->version);
        }
        return 0;
}

/* ---- updating ----------------------------------------------------------- */

static bool entry_same(const struct vmenv_lock_entry *a, const struct vmenv_lock_entry *b)
{
        return vmenv_streq(a->box, b->box) && vmenv_streq(a->name, b->name) &&
               vmenv_streq(a->constraint, b->constraint) && vmenv_streq(a->version, b->version) &&
               vmenv_streq(a->provider, b->provider) &&
               vmenv_streq(a->architecture, b->architecture) &&
               vmenv_streq(a->catalog, b->catalog) && vmenv_streq(a->url, b->url) &&
               vmenv_lock_checksum_eq(a->checksum, b->checksum);
}

static void entry_copy(struct vmenv_lock_entry *dst, const struct vmenv_lock_entry *src)
{
        *dst = (struct vmenv_lock_entry){
            .machine = vmenv_strdup(src->machine),
            .box = vmenv_strdup(src->box),
            .name = vmenv_strdup(src->name),
            .constraint = vmenv_strdup(src->constraint),
            .version = vmenv_strdup(src->version),
            .provider = vmenv_strdup(src->provider),
            .architecture = vmenv_strdup(src->architecture),
            .catalog = vmenv_strdup(src->catalog),
            .url = vmenv_strdup(src->url),
            .checksum = vmenv_strdup(src->checksum),
        };
}

/* Change lines in machine order, like the file. */
static int cmp_lines(const void *a, const void *b)
{
        const char *x = *(char *const *)a, *y = *(char *const *)b;
        size_t nx = strcspn(x, ":"), ny = strcspn(y, ":");
        int r = strncmp(x, y, nx < ny ? nx : ny);
        return r ? r : (nx > ny) - (nx < ny);
}

static char *change_line(const struct vmenv_lock_entry *old, const struct vmenv_lock_entry *new)
{
        if (!old)
                return vmenv_strdupf("%s: %s %s (new)", new->machine, new->box, new->version);
        if (strcmp(old->box, new->box))
                return vmenv_strdupf("%s: %s %s → %s %s", new->machine, old->box, old->version,
                                     new->box, new->version);
        if (strcmp(old->version, new->version))
                return vmenv_strdupf("%s: %s %s → %s", new->machine, new->box, old->version,
                                     new->version);
        if (!vmenv_lock_checksum_eq(old->checksum, new->checksum))
                return vmenv_strdupf("%s: %s %s checksum %s → %s", new->machine, new->box,
                                     new->version, old->checksum, new->checksum);
        if (!vmenv_streq(old->url, new->url))
                return vmenv_strdupf("%s: %s %s from %s", new->machine, new->box, new->version,
                                     new->url);
        return vmenv_strdupf("%s: %s %s (locked for box_version '%s')", new->machine, new->box,
                             new->version, new->constraint ? new->constraint : "");
}

int vmenv_lock_update(const struct vmenv_config *c, const struct vmenv_lock *old, bool update,
                      char *const *machines, const struct vmenv_lock_opts *o,
                      struct vmenv_lock **out, char ***changes, vmenv_error *err)
{
        _cleanup_(vmenv_lock_freep) struct vmenv_lock *l = vmenv_calloc(1, sizeof(*l));
        _cleanup_(vmenv_strv_freep) char **lines = NULL;

        for (char *const *n = machines; n && *n; n++)
                if (!vmenv_lock_config_machine(c, *n)) {
                        vmenv_error_set(err, VMENV_EXIT_NOINPUT, "no machine '%s' in '%s'", *n,
                                        c->path);
                        return -1;
                }
        if (vmenv_lock_config_digest(c, &l->config_digest, err) < 0)
                return -1;
        l->path = vmenv_lock_path(c);
        l->entries = vmenv_calloc(c->n_machines + 1, sizeof(*l->entries));
        for (size_t i = 0; i < c->n_machines; i++) {
                const struct vmenv_machine_config *m = &c->machines[i];
                const struct vmenv_lock_entry *e = vmenv_lock_find(old, m->name);
                struct vmenv_lock_entry *ne = &l->entries[l->n_entries];
                bool named = update && (!machines || !*machines);
                vmenv_error ignore = VMENV_ERROR_INIT;

                for (char *const *n = machines; update && n && *n; n++)
                        named = named || !strcmp(*n, m->name);
                if (e && !named && vmenv_lock_check_machine(old, m, &ignore) == 0) {
                        entry_copy(ne, e);
                        /* the constraint it satisfies is the one now written */
                        free(ne->constraint);
                        ne->constraint =
                            vmenv_strdup(m->box_version && *m->box_version ? m->box_version : NULL);
                } else if (vmenv_lock_resolve(c, m, o, ne, err) < 0) {
                        vmenv_error_clear(&ignore);
                        return -1;
                }
                vmenv_error_clear(&ignore);
                l->n_entries++;
                if (!e || !entry_same(e, ne))
                        vmenv_strv_push(&lines, change_line(e, ne));
        }
        for (size_t i = 0; old && i < old->n_entries; i++)
                if (!vmenv_lock_config_machine(c, old->entries[i].machine))
                        vmenv_strv_push(
                            &lines, vmenv_strdupf("%s: %s %s (removed)", old->entries[i].machine,
                                                  old->entries[i].box, old->entries[i].version));
        qsort(l->entries, l->n_entries, sizeof(*l->entries), vmenv_lock_cmp_entries);
        if (lines)
                qsort(lines, vmenv_strv_len(lines), sizeof(*lines), cmp_lines);
        *out = TAKE_PTR(l);
        if (changes)
                *changes = TAKE_PTR(lines);
        return 0;
}

/* ---- reporting ---------------------------------------------------------- */

void vmenv_lock_report_clear(struct vmenv_lock_report *r)
{
        if (!r)
                return;
        free(r->machine);
        free(r->locked);
        free(r->running);
        free(r->newest);
        free(r->message);
        free(r->catalog_error);
        *r = (struct vmenv_lock_report){0};
}

int vmenv_lock_report(const struct vmenv_lock *l, const struct vmenv_machine_config *m,
                      const char *running_version, const struct vmenv_fetch_opts *fetch,
                      struct vmenv_lock_report *out, vmenv_error *err)
{
        const struct vmenv_lock_entry *e = vmenv_lock_find(l, m->name);
        struct vmenv_lock_report r = {.machine = vmenv_strdup(m->name),
                                      .running = vmenv_strdup(running_version)};
        struct vmenv_buf msg = {0};

        if (!l) {
                *out = r;
                return 0;
        }
        if (!e) {
                r.message = vmenv_strdupf("%s: not in vmenv.lock (run 'vmenv lock')", m->name);
                *out = r;
                return 0;
        }
        r.locked = vmenv_strdup(e->version);
        if (fetch && e->catalog) {
                _cleanup_free_ char *dir = lock_dir(l),
                                    *where = vmenv_lock_project_path(dir, e->catalog);
                _cleanup_(vmenv_catalog_freep) struct vmenv_catalog *cat =
                    vmenv_catalog_fetch(where, fetch, err);
                struct vmenv_box_ref ref = {0};
                vmenv_error e2 = VMENV_ERROR_INIT;
                if (!cat)
                        vmenv_error_move(&e2, err);
                if (!cat || vmenv_catalog_resolve(cat, m->box_version, NULL, &ref, &e2) < 0) {
                        /* the machine's own state is still worth reporting */
                        r.catalog_error = TAKE_PTR(e2.msg);
                        vmenv_error_clear(&e2);
                } else {
                        r.newest = TAKE_PTR(ref.version);
                        r.lock_older = vmenv_version_compare(e->version, r.newest) < 0;
                }
                vmenv_box_ref_clear(&ref);
        }
        r.running_older = r.running && vmenv_version_compare(r.running, e->version) < 0;
        if (r.running && vmenv_version_compare(r.running, e->version))
                vmenv_buf_printf(&msg,
                                 "%s: runs %s %s, %s than the locked %s (run 'vmenv destroy "
                                 "%s' and 'vmenv up %s')",
                                 m->name, e->box, r.running, r.running_older ? "older" : "newer",
                                 e->version, m->name, m->name);
        if (r.lock_older) {
                _cleanup_free_ char *by = m->box_version && *m->box_version
                                              ? vmenv_strdupf("allowed by '%s'", m->box_version)
                                              : vmenv_strdup("available");
                vmenv_buf_printf(&msg,
                                 "%s%s: vmenv.lock pins %s %s; %s is %s (run "
                                 "'vmenv lock --update %s')",
                                 msg.len ? "\n" : "", m->name, e->box, e->version, r.newest, by,
                                 m->name);
        }
        if (msg.len)
                r.message = vmenv_buf_steal(&msg);
        *out = r;
        return 0;
}
