/* vmenv box add|list|remove|prune|outdated|update: manage the per-user box
 * store; a box is added whole and verified, or not at all. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "vmenv/box.h"
#include "vmenv/cleanup.h"
#include "vmenv/cloud.h"
#include "vmenv/config.h"
#include "vmenv/lock.h"
#include "vmenv/log.h"
#include "vmenv/machine.h"
#include "vmenv/state.h"
#include "vmenv/util.h"

static const struct vmenv_opt box_opts[] = {
    {"box-version", 0, "VERSION", "version constraint (add) or exact version (remove)"},
    {"checksum", 0, "[TYPE:]HEX", "expected digest of the box file (add)"},
    {"checksum-type", 0, "TYPE", "md5, sha1, sha256, sha384 or sha512, for --checksum (add)"},
    {"provider", 0, "NAME", "the provider to add the box for: libvirt only (add)"},
    {"architecture", 0, "ARCH", "take the catalog's box for this architecture (add)"},
    {"clean", 0, NULL, "do not resume an earlier partial download (add)"},
    {"name", 0, "NAME", "store name for a .box file, image or catalog (add)"},
    {"insecure", 0, NULL, "do not verify TLS certificates"},
    {"cacert", 0, "FILE", "CA certificates to verify TLS peers with"},
    {"capath", 0, "DIR", "a folder of CA certificates to verify TLS peers with"},
    {"cert", 0, "FILE", "client certificate (PEM) to show to the server"},
    {"location-trusted", 0, NULL, "send credentials to redirect targets too"},
    {"force", 'f', NULL, "replace a stored version (add); remove even if in use (remove)"},
    {"all", 0, NULL, "remove every version (remove)"},
    {"dry-run", 0, NULL, "only say what would be removed (prune)"},
    {"global", 0, NULL, "check every stored box, not the project's (outdated)"},
    {"box", 0, "NAME", "update only this stored box (update)"},
    {0},
};

struct sub {
        const char *name;
        const char *opts[16]; /* the options that apply */
        int min_args, max_args;
        const char *usage;
        int (*run)(struct vmenv_ctx *ctx, const struct vmenv_args *args, vmenv_error *err);
};

static void box_fetch_opts(const struct vmenv_args *a, struct vmenv_box_opts *o)
{
        memset(o, 0, sizeof(*o));
        o->fetch.insecure = vmenv_args_has(a, "insecure");
        o->fetch.cacert = vmenv_args_get(a, "cacert");
        o->fetch.capath = vmenv_args_get(a, "capath");
        o->fetch.cert = vmenv_args_get(a, "cert");
        o->fetch.location_trusted = vmenv_args_has(a, "location-trusted");
        o->fetch.clean = vmenv_args_has(a, "clean");
        o->name = vmenv_args_get(a, "name");
        o->architecture = vmenv_args_get(a, "architecture");
        o->force = vmenv_args_has(a, "force");
}

static int box_add(struct vmenv_ctx *ctx, const struct vmenv_args *a, vmenv_error *err)
{
        struct vmenv_box_opts o;
        const char *src = a->argv[1], *provider = vmenv_args_get(a, "provider");
        const char *ctype = vmenv_args_get(a, "checksum-type");
        _cleanup_free_ char *checksum = NULL;
        struct vmenv_box *b;

        box_fetch_opts(a, &o);
        if (provider && strcmp(provider, "libvirt"))
                return vmenv_error_set(err, VMENV_EXIT_USAGE,
                                       "vmenv adds boxes for the libvirt provider only, not '%s'",
                                       provider);
        if (ctype && !vmenv_args_get(a, "checksum"))
                return vmenv_error_set(err, VMENV_EXIT_USAGE, "--checksum-type needs --checksum");
        if (vmenv_checksum_join(ctype, vmenv_args_get(a, "checksum"), &checksum, err) < 0)
                return -1;
        o.checksum = checksum;
        if (a->argc == 3) { /* box add NAME SOURCE */
                if (o.name && strcmp(o.name, a->argv[1]))
                        return vmenv_error_set(err, VMENV_EXIT_USAGE,
                                               "the box is named twice: '%s' and --name '%s'",
                                               a->argv[1], o.name);
                o.name = a->argv[1];
                src = a->argv[2];
        }
        if (!(b = vmenv_box_add(src, vmenv_args_get(a, "box-version"), &o, err)))
                return -1;
        if (ctx->json) {
                /* json-c escapes: a name or a $VMENV_HOME may hold '"' or '\\' */
                json_object *jo = json_object_new_object();
                json_object_object_add(jo, "name", json_object_new_string(b->name));
                json_object_object_add(jo, "version", json_object_new_string(b->version));
                json_object_object_add(jo, "dir", json_object_new_string(b->dir));
                puts(json_object_to_json_string_ext(jo, JSON_C_TO_STRING_SPACED |
                                                            JSON_C_TO_STRING_NOSLASHESCAPE));
                json_object_put(jo);
        } else
                printf("box '%s' (%s) is in the store\n", b->name, b->version);
        vmenv_box_free(b);
        return 0;
}

static json_object *box_json(const struct vmenv_box *b)
{
        json_object *o = json_object_new_object(), *imgs = json_object_new_array();
        json_object_object_add(o, "name", json_object_new_string(b->name));
        json_object_object_add(o, "version", json_object_new_string(b->version));
        json_object_object_add(o, "provider", json_object_new_string("libvirt"));
        json_object_object_add(o, "format", json_object_new_string(b->format));
        json_object_object_add(o, "virtual_size", json_object_new_int64((int64_t)b->virtual_size));
        json_object_object_add(o, "dir", json_object_new_string(b->dir));
        for (char **s = b->images; s && *s; s++)
                json_object_array_add(imgs, json_object_new_string(*s));
        json_object_object_add(o, "images", imgs);
        json_object_object_add(o, "source", b->source ? json_object_new_string(b->source) : NULL);
        json_object_object_add(o, "catalog",
                               b->catalog ? json_object_new_string(b->catalog) : NULL);
        json_object_object_add(o, "checksum", b->digest ? json_object_new_string(b->digest) : NULL);
        json_object_object_add(o, "added", b->added ? json_object_new_string(b->added) : NULL);
        return o;
}

static int box_list(struct vmenv_ctx *ctx, const struct vmenv_args *a, vmenv_error *err)
{
        struct vmenv_box **v;
        size_t n;

        if (vmenv_box_list(&v, &n, err) < 0)
                return -1;
        if (ctx->json) {
                json_object *arr = json_object_new_array();
                for (size_t i = 0; i < n; i++)
                        json_object_array_add(arr, box_json(v[i]));
                puts(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY |
                                                             JSON_C_TO_STRING_SPACED));
                json_object_put(arr);
        } else if (n == 0) {
                vmenv_info("there are no boxes in the store; add one with 'vmenv box add'");
        } else {
                for (size_t i = 0; i < n; i++)
                        printf("%s (libvirt, %s)\n", v[i]->name, v[i]->version);
        }
        vmenv_boxes_free(v, n);
        return 0;
}

static int box_remove(struct vmenv_ctx *ctx, const struct vmenv_args *a, vmenv_error *err)
{
        const char *name = a->argv[1], *version = vmenv_args_get(a, "box-version");
        bool all = vmenv_args_has(a, "all");
        struct vmenv_box **v;
        size_t n, count = 0;
        const char *only = NULL;

        if (all && version)
                return vmenv_error_set(err, VMENV_EXIT_USAGE,
                                       "--all and --box-version exclude each other");
        if (vmenv_box_list(&v, &n, err) < 0)
                return -1;
        for (size_t i = 0; i < n; i++)
                if (!strcmp(v[i]->name, name)) {
                        count++;
                        only = v[i]->version;
                }
        if (!version && !all && count > 1) {
                vmenv_boxes_free(v, n);
                vmenv_error_set(err, VMENV_EXIT_USAGE, "box '%s' has %zu versions in the store",
                                name, count);
                return vmenv_error_hint(
                    err, "choose one with --box-version, or remove them all with --all");
        }
        {
                _cleanup_free_ char *ver = vmenv_strdup(version ? version : all ? NULL : only);
                vmenv_boxes_free(v, n);
                if (vmenv_box_remove(name, ver, vmenv_args_has(a, "force"), err) < 0 ||
                    vmenv_box_pool_remove(&vmenv_provider_libvirt, name, ver, err) < 0)
                        return -1;
                if (!ctx->json)
                        printf("removed box '%s'%s%s%s\n", name, ver ? " (" : "", ver ? ver : "",
                               ver ? ")" : "");
        }
        return 0;
}

static int box_prune(struct vmenv_ctx *ctx, const struct vmenv_args *a, vmenv_error *err)
{
        bool dry = vmenv_args_has(a, "dry-run");
        struct vmenv_box **v;
        size_t n;
        int r = 0;

        if (vmenv_box_list(&v, &n, err) < 0)
                return -1;
        /* sorted by name, then version: the last of each name is the newest */
        for (size_t i = 0; i < n && r == 0; i++) {
                _cleanup_free_ char *who = NULL;
                bool newest = i + 1 == n || strcmp(v[i]->name, v[i + 1]->name);
                bool used = false;
                if (newest)
                        continue;
                if ((r = vmenv_box_in_use(v[i]->name, v[i]->version, &used, &who, err)) < 0)
                        break;
                if (used) {
                        printf("keeping box '%s' (%s): used by '%s'\n", v[i]->name, v[i]->version,
                               who);
                        continue;
                }
                if (dry) {
                        printf("would remove box '%s' (%s)\n", v[i]->name, v[i]->version);
                        continue;
                }
                if ((r = vmenv_box_remove(v[i]->name, v[i]->version, false, err)) == 0 &&
                    (r = vmenv_box_pool_remove(&vmenv_provider_libvirt, v[i]->name, v[i]->version,
                                               err)) == 0)
                        printf("removed box '%s' (%s)\n", v[i]->name, v[i]->version);
        }
        vmenv_boxes_free(v, n);
        return r;
}

/* The newest version the catalog offers within constraint, or NULL. */
static char *catalog_newest(const char *catalog, const char *constraint,
                            const struct vmenv_fetch_opts *fo, vmenv_error *err)
{
        struct vmenv_catalog *c = vmenv_catalog_fetch(catalog, fo, err);
        struct vmenv_box_ref ref = {0};
        char *v;

        if (!c)
                return NULL;
        if (vmenv_catalog_resolve(c, constraint, NULL, &ref, err) < 0) {
                vmenv_catalog_free(c);
                return NULL;
        }
        vmenv_catalog_free(c);
        v = TAKE_PTR(ref.version);
        vmenv_box_ref_clear(&ref);
        return v;
}

/* A cloud image's newest version: the stored one while the distribution's
 * index lists the stored digest, else the version a new download gets. */
static char *image_newest(const char *alias, const struct vmenv_box *b,
                          const struct vmenv_fetch_opts *fo, vmenv_error *err)
{
        struct vmenv_cloud_image im = {0};
        char *v;

        if (vmenv_cloud_image_resolve(alias, NULL, fo, &im, err) < 0)
                return NULL;
        v = b && vmenv_streq(im.checksum, b->digest) ? vmenv_strdup(b->version)
                                                     : vmenv_cloud_image_version(&im);
        vmenv_cloud_image_clear(&im);
        return v;
}

/* The catalog a machine's box comes from when vmenv.yaml names one (box_url
 * or box as a catalog URL); NULL: the box registry, as in Vagrant. */
static char *project_catalog(const struct vmenv_machine_config *m)
{
        if (m->box_url &&
            (vmenv_endswith(m->box_url, ".json") || !vmenv_endswith(m->box_url, ".box")))
                return vmenv_strdup(m->box_url);
        if (vmenv_is_url(m->box) && vmenv_endswith(m->box, ".json"))
                return vmenv_strdup(m->box);
        return NULL;
}

static void report(const char *name, const char *have, const char *latest, json_object *arr)
{
        bool old = latest && (!have || vmenv_version_compare(latest, have) > 0);
        if (arr) {
                json_object *o = json_object_new_object();
                json_object_object_add(o, "name", json_object_new_string(name));
                json_object_object_add(o, "version", have ? json_object_new_string(have) : NULL);
                json_object_object_add(o, "latest", latest ? json_object_new_string(latest) : NULL);
                json_object_object_add(o, "outdated", json_object_new_boolean(old));
                json_object_array_add(arr, o);
                return;
        }
        if (!latest)
                printf("box '%s' (%s): no catalog to check\n", name, have ? have : "not stored");
        else if (!have)
                printf("box '%s' is not stored; %s is available\n", name, latest);
        else if (old)
                printf("box '%s' (%s) is outdated: %s is available\n", name, have, latest);
        else
                printf("box '%s' (%s) is up to date\n", name, have);
}

static void report_failed(const char *name, const char *have, const char *why, json_object *arr)
{
        if (arr) {
                json_object *o = json_object_new_object();
                json_object_object_add(o, "name", json_object_new_string(name));
                json_object_object_add(o, "version", json_object_new_string(have));
                json_object_object_add(o, "error", json_object_new_string(why ? why : "failed"));
                json_object_array_add(arr, o);
                return;
        }
        printf("box '%s' (%s): cannot check: %s\n", name, have, why ? why : "failed");
}

static int box_outdated(struct vmenv_ctx *ctx, const struct vmenv_args *a, vmenv_error *err)
{
        struct vmenv_box_opts o;
        json_object *arr = ctx->json ? json_object_new_array() : NULL;
        int r = 0;

        box_fetch_opts(a, &o);
        if (vmenv_args_has(a, "global")) {
                struct vmenv_box **v;
                size_t n;
                if (vmenv_box_list(&v, &n, err) < 0) {
                        json_object_put(arr);
                        return -1;
                }
                /* like Vagrant: one box whose catalog fails does not stop the others */
                for (size_t i = 0; i < n; i++) {
                        _cleanup_free_ char *latest = NULL;
                        bool newest = i + 1 == n || strcmp(v[i]->name, v[i + 1]->name);
                        vmenv_error e = VMENV_ERROR_INIT;
                        if (!newest)
                                continue;
                        if (v[i]->catalog &&
                            !(latest = catalog_newest(v[i]->catalog, NULL, &o.fetch, &e)))
                                report_failed(v[i]->name, v[i]->version, e.msg, arr);
                        else if (!v[i]->catalog && vmenv_cloud_alias_known(v[i]->name) &&
                                 !(latest = image_newest(v[i]->name, v[i], &o.fetch, &e)))
                                report_failed(v[i]->name, v[i]->version, e.msg, arr);
                        else
                                report(v[i]->name, v[i]->version, latest, arr);
                        vmenv_error_clear(&e);
                }
                vmenv_boxes_free(v, n);
        } else {
                struct vmenv_config *c = vmenv_config_load_project(NULL, err);
                if (!c) {
                        json_object_put(arr);
                        return -1;
                }
                struct vmenv_lock *lock = NULL;
                if (vmenv_lock_load(c, &lock, err) < 0) {
                        vmenv_config_free(c);
                        json_object_put(arr);
                        return -1;
                }
                for (size_t i = 0; i < c->n_machines && r == 0; i++) {
                        const struct vmenv_machine_config *m = &c->machines[i];
                        struct vmenv_machine_state *st = vmenv_state_load(c, m->name, err);
                        struct vmenv_lock_report rep = {0};
                        if (!st || vmenv_lock_report(lock, m, st->exists ? st->box_version : NULL,
                                                     &o.fetch, &rep, err) < 0) {
                                vmenv_state_free(st);
                                r = -1;
                                break;
                        }
                        if (rep.message && !arr)
                                printf("%s\n", rep.message);
                        vmenv_lock_report_clear(&rep);
                        vmenv_state_free(st);
                        _cleanup_free_ char *cat = project_catalog(m), *latest = NULL;
                        vmenv_error e = VMENV_ERROR_INIT;
                        struct vmenv_box *b = vmenv_box_find(m->box, m->box_version, &e);
                        vmenv_error_clear(&e);
                        /* the catalog the stored box came from, else the registry's */
                        if (!cat && b && b->catalog)
                                cat = vmenv_strdup(b->catalog);
                        if (!cat && !m->box_url && vmenv_cloud_alias_known(m->box)) {
                                if (!(latest = image_newest(m->box, b, &o.fetch, err))) {
                                        vmenv_box_free(b);
                                        r = -1;
                                        break;
                                }
                        } else if (!cat && !m->box_url && vmenv_box_name_valid(m->box)) {
                                struct vmenv_catalog *reg =
                                    vmenv_catalog_fetch_name(m->box, &o.fetch, &cat, &e);
                                vmenv_catalog_free(reg);
                                vmenv_error_clear(&e);
                        }
                        if (cat && !(latest = catalog_newest(cat, m->box_version, &o.fetch, err)))
                                r = -1;
                        else
                                report(m->box, b ? b->version : NULL, latest, arr);
                        vmenv_box_free(b);
                }
                vmenv_lock_free(lock);
                vmenv_config_free(c);
        }
        if (arr && r == 0)
                puts(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY |
                                                             JSON_C_TO_STRING_SPACED));
        json_object_put(arr);
        return r;
}

static int box_update(struct vmenv_ctx *ctx, const struct vmenv_args *a, vmenv_error *err)
{
        struct vmenv_box_opts o;
        const char *only = vmenv_args_get(a, "box");
        struct vmenv_box *b;

        box_fetch_opts(a, &o);
        o.refresh = true;
        if (only) {
                struct vmenv_box *cur = vmenv_box_find(only, NULL, err);
                if (!cur)
                        return -1;
                if (!cur->catalog && !vmenv_cloud_alias_known(only)) {
                        vmenv_error_set(
                            err, VMENV_EXIT_NOINPUT,
                            "box '%s' was not added from a catalog, so it has no updates", only);
                        vmenv_box_free(cur);
                        return -1;
                }
                b = vmenv_box_ensure(only, NULL, cur->catalog, NULL, &o, err);
                vmenv_box_free(cur);
                if (!b)
                        return -1;
                printf("box '%s' (%s) is the newest\n", b->name, b->version);
                vmenv_box_free(b);
                return 0;
        }
        {
                struct vmenv_config *c = vmenv_config_load_project(NULL, err);
                int r = 0;
                if (!c)
                        return -1;
                for (size_t i = 0; i < c->n_machines && r == 0; i++) {
                        const struct vmenv_machine_config *m = &c->machines[i];
                        _cleanup_free_ char *cat = project_catalog(m);
                        if (!cat && m->box_url) {
                                printf("box '%s': no catalog to check\n", m->box);
                                continue;
                        }
                        if (!cat) {
                                /* as Vagrant: the catalog the stored box came from,
                                 * else (ensure with no catalog) the box registry */
                                vmenv_error e = VMENV_ERROR_INIT;
                                struct vmenv_box *cur = vmenv_box_find(m->box, NULL, &e);
                                if (cur && cur->catalog)
                                        cat = vmenv_strdup(cur->catalog);
                                vmenv_box_free(cur);
                                vmenv_error_clear(&e);
                        }
                        if (!(b = vmenv_box_ensure(m->box, m->box_version, cat, m->box_checksum, &o,
                                                   err))) {
                                r = -1;
                                break;
                        }
                        printf("box '%s' (%s) is the newest matching '%s'\n", b->name, b->version,
                               m->box_version ? m->box_version : "any");
                        vmenv_box_free(b);
                }
                vmenv_config_free(c);
                return r;
        }
}

static const struct sub subs[] = {
    {"add",
     {"box-version", "checksum", "checksum-type", "name", "insecure", "cacert", "capath", "cert",
      "location-trusted", "force", "clean", "provider", "architecture"},
     1,
     2,
     "add NAME|URL|PATH [--box-version C] [--checksum [TYPE:]HEX [--checksum-type T]] "
     "[--name NAME] [--architecture A] [--provider libvirt] [--clean] [-f] | add NAME PATH",
     box_add},
    {"list", {NULL}, 0, 0, "list [--json]", box_list},
    {"remove",
     {"box-version", "all", "force"},
     1,
     1,
     "remove NAME [--box-version V | --all] [-f]",
     box_remove},
    {"prune", {"dry-run"}, 0, 0, "prune [--dry-run]", box_prune},
    {"outdated",
     {"global", "insecure", "cacert", "capath", "cert", "location-trusted"},
     0,
     0,
     "outdated [--global]",
     box_outdated},
    {"update",
     {"box", "insecure", "cacert", "capath", "cert", "location-trusted"},
     0,
     0,
     "update [--box NAME]",
     box_update},
};

static int cmd_box_run(struct vmenv_ctx *ctx, const struct vmenv_args *args, vmenv_error *err)
{
        const struct sub *s = NULL;
        const char *names[VMENV_ARRAY_SIZE(subs) + 1];
        const char *best;

        for (size_t i = 0; i < VMENV_ARRAY_SIZE(subs); i++) {
                names[i] = subs[i].name;
                if (!strcmp(subs[i].name, args->argv[0]))
                        s = &subs[i];
        }
        names[VMENV_ARRAY_SIZE(subs)] = NULL;
        if (!s) {
                vmenv_error_set(err, VMENV_EXIT_USAGE, "unknown box command '%s'", args->argv[0]);
                if ((best = vmenv_did_you_mean(args->argv[0], names)))
                        return vmenv_error_hint(err, "did you mean 'vmenv box %s'?", best);
                return vmenv_error_hint(
                    err, "the box commands are add, list, remove, prune, outdated, update");
        }
        for (int i = 0; i < args->n_opts; i++) {
                const char *o = args->opts[i].name;
                bool fits = false;
                for (const struct vmenv_opt *g = vmenv_global_opts; g->name; g++)
                        fits = fits || !strcmp(g->name, o);
                for (size_t j = 0; j < VMENV_ARRAY_SIZE(s->opts) && s->opts[j]; j++)
                        fits = fits || !strcmp(s->opts[j], o);
                if (!fits) {
                        vmenv_error_set(err, VMENV_EXIT_USAGE,
                                        "option '--%s' does not apply to 'box %s'", o, s->name);
                        return vmenv_error_hint(err, "usage: vmenv box %s", s->usage);
                }
        }
        if (ctx->json && strcmp(s->name, "list") && strcmp(s->name, "outdated") &&
            strcmp(s->name, "add"))
                return vmenv_error_set(err, VMENV_EXIT_USAGE, "'vmenv box %s' has no --json output",
                                       s->name);
        if (args->argc - 1 < s->min_args || args->argc - 1 > s->max_args) {
                vmenv_error_set(err, VMENV_EXIT_USAGE, "wrong number of arguments for 'box %s'",
                                s->name);
                return vmenv_error_hint(err, "usage: vmenv box %s", s->usage);
        }
        return s->run(ctx, args, err) < 0 ? -1 : 0;
}

const struct vmenv_cmd vmenv_cmd_box = {
    .name = "box",
    .usage = "add|list|remove|prune|outdated|update [ARGS...]",
    .summary = "manage the boxes in the per-user store",
    .help =
        "subcommands:\n"
        "  add NAME|URL|PATH   add a box from a catalog name or URL, a .box file or URL,\n"
        "                      or a disk image ('box add NAME ./disk.qcow2')\n"
        "  list                the stored boxes (--json)\n"
        "  remove NAME         remove a box (--box-version V or --all; -f if in use)\n"
        "  prune               remove all but the newest version of each box, keeping used ones\n"
        "  outdated            compare the project's boxes (or --global: all) with their catalogs\n"
        "  update              download the newest matching versions (--box NAME: one box)",
    .opts = box_opts,
    .min_args = 1,
    .max_args = 3,
    .flags = VMENV_CMD_JSON,
    .run = cmd_box_run,
};
