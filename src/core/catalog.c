/* Vagrant box catalogs (the JSON that lists a box's versions and where each
 * provider's file is), and resolving a name + constraint to one download.
 * Extension: a provider 'url' may be relative; it is resolved against the
 * catalog's own URL or path. */
#include <ctype.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/utsname.h>

#include "json-cleanup.h"
#include "vmenv/box.h"
#include "vmenv/cleanup.h"
#include "vmenv/log.h"
#include "vmenv/util.h"

#define MAX_PROVIDERS 64
#define MAX_FIELD 8192

void vmenv_box_ref_clear(struct vmenv_box_ref *r)
{
        if (!r)
                return;
        free(r->name);
        free(r->version);
        free(r->url);
        free(r->checksum_type);
        free(r->checksum);
        free(r->architecture);
        memset(r, 0, sizeof(*r));
}

void vmenv_catalog_free(struct vmenv_catalog *c)
{
        if (!c)
                return;
        for (size_t i = 0; i < c->n_versions; i++) {
                struct vmenv_catalog_version *v = &c->versions[i];
                for (size_t j = 0; j < v->n_providers; j++) {
                        struct vmenv_catalog_provider *p = &v->providers[j];
                        free(p->name);
                        free(p->url);
                        free(p->checksum_type);
                        free(p->checksum);
                        free(p->architecture);
                }
                free(v->providers);
                free(v->version);
        }
        free(c->versions);
        free(c->source);
        free(c->name);
        free(c->description);
        free(c);
}


/* An optional string member: NULL if absent or null; error if another type. */
static int get_str(json_object *o, const char *key, const char *where, char **out, vmenv_error *err)
{
        json_object *v;
        *out = NULL;
        if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
                return 0;
        if (!json_object_is_type(v, json_type_string))
                return vmenv_error_set(err, VMENV_EXIT_DATA,
                                       "invalid catalog: %s'%s' is not a string", where, key);
        if (json_object_get_string_len(v) > MAX_FIELD)
                return vmenv_error_set(err, VMENV_EXIT_DATA, "invalid catalog: %s'%s' is too long",
                                       where, key);
        *out = vmenv_strdup(json_object_get_string(v));
        return 0;
}

static int parse_provider(json_object *o, struct vmenv_catalog_provider *p, const char *where,
                          vmenv_error *err)
{
        json_object *v;

        if (!json_object_is_type(o, json_type_object))
                return vmenv_error_set(err, VMENV_EXIT_DATA,
                                       "invalid catalog: %sprovider is not an object", where);
        if (get_str(o, "name", where, &p->name, err) < 0 ||
            get_str(o, "url", where, &p->url, err) < 0 ||
            get_str(o, "checksum_type", where, &p->checksum_type, err) < 0 ||
            get_str(o, "checksum", where, &p->checksum, err) < 0 ||
            get_str(o, "architecture", where, &p->architecture, err) < 0)
                return -1;
        if (!p->name)
                return vmenv_error_set(err, VMENV_EXIT_DATA,
                                       "invalid catalog: %sprovider has no 'name'", where);
        if (json_object_object_get_ex(o, "default_architecture", &v) &&
            !json_object_is_type(v, json_type_null)) {
                p->has_default_architecture = true;
                p->default_architecture = json_object_get_boolean(v);
        }
        return 0;
}

struct vmenv_catalog *vmenv_catalog_parse(const char *text, size_t len, const char *source,
                                          vmenv_error *err)
{
        _cleanup_(vmenv_catalog_freep) struct vmenv_catalog *c = vmenv_calloc(1, sizeof(*c));
        _cleanup_(json_putp) json_object *root = NULL;
        json_tokener *tok;
        json_object *versions;
        enum json_tokener_error jerr;
        size_t n;

        if (len > VMENV_CATALOG_MAX_BYTES || len > (size_t)INT32_MAX) {
                vmenv_error_set(err, VMENV_EXIT_DATA, "invalid catalog: larger than %u bytes",
                                VMENV_CATALOG_MAX_BYTES);
                return NULL;
        }
        tok = json_tokener_new_ex(32);
        root = json_tokener_parse_ex(tok, text, (int)len);
        jerr = json_tokener_get_error(tok);
        json_tokener_free(tok);
        if (!root) {
                vmenv_error_set(err, VMENV_EXIT_DATA, "invalid catalog: not valid JSON: %s",
                                json_tokener_error_desc(jerr == json_tokener_continue
                                                            ? json_tokener_error_parse_eof
                                                            : jerr));
                return NULL;
        }
        if (!json_object_is_type(root, json_type_object)) {
                vmenv_error_set(err, VMENV_EXIT_DATA, "invalid catalog: not a JSON object");
                return NULL;
        }
        c->source = vmenv_strdup(source);
        if (get_str(root, "name", "", &c->name, err) < 0 ||
            get_str(root, "description", "", &c->description, err) < 0)
                return NULL;
        if (!json_object_object_get_ex(root, "versions", &versions) ||
            !json_object_is_type(versions, json_type_array)) {
                vmenv_error_set(err, VMENV_EXIT_DATA, "invalid catalog: no 'versions' list");
                return NULL;
        }
        n = json_object_array_length(versions);
        if (n > VMENV_CATALOG_MAX_VERSIONS) {
                vmenv_error_set(err, VMENV_EXIT_DATA, "invalid catalog: more than %d versions",
                                VMENV_CATALOG_MAX_VERSIONS);
                return NULL;
        }
        c->versions = vmenv_calloc(n, sizeof(*c->versions));
        for (size_t i = 0; i < n; i++) {
                json_object *v = json_object_array_get_idx(versions, i), *provs;
                struct vmenv_catalog_version *cv = &c->versions[c->n_versions++];
                _cleanup_free_ char *where = NULL;
                size_t np;

                if (!json_object_is_type(v, json_type_object)) {
                        vmenv_error_set(err, VMENV_EXIT_DATA,
                                        "invalid catalog: version %zu is not an object", i + 1);
                        return NULL;
                }
                if (get_str(v, "version", "", &cv->version, err) < 0)
                        return NULL;
                /* Vagrant refuses the whole catalog for one bad version;
                 * the others are still good to use (docs/vagrant.md). */
                if (!cv->version || !vmenv_version_valid(cv->version)) {
                        if (cv->version)
                                vmenv_warn(
                                    "catalog '%s': skipping version '%s': not a valid version",
                                    source ? source : "?", cv->version);
                        else
                                vmenv_warn("catalog '%s': skipping entry %zu: it has no 'version'",
                                           source ? source : "?", i + 1);
                        free(cv->version);
                        cv->version = NULL;
                        c->n_versions--;
                        continue;
                }
                where = vmenv_strdupf("version '%s': ", cv->version);
                if (!json_object_object_get_ex(v, "providers", &provs) ||
                    json_object_is_type(provs, json_type_null))
                        continue;
                if (!json_object_is_type(provs, json_type_array) ||
                    (np = json_object_array_length(provs)) > MAX_PROVIDERS) {
                        vmenv_error_set(
                            err, VMENV_EXIT_DATA,
                            "invalid catalog: %s'providers' must be a list of at most %d", where,
                            MAX_PROVIDERS);
                        return NULL;
                }
                cv->providers = vmenv_calloc(np, sizeof(*cv->providers));
                for (size_t j = 0; j < np; j++) {
                        cv->n_providers = j + 1;
                        if (parse_provider(json_object_array_get_idx(provs, j), &cv->providers[j],
                                           where, err) < 0)
                                return NULL;
                }
        }
        return TAKE_PTR(c);
}

const char *vmenv_box_server(void)
{
        const char *s = getenv("VMENV_BOX_SERVER");
        if (!s || !*s)
                s = getenv("VAGRANT_SERVER_URL");
        return s && *s ? s : "https://vagrantcloud.com";
}

/* "http://user@Host:8080/x" → "host:8080" (malloc'd), NULL if not http(s) */
static char *url_host(const char *url)
{
        const char *s = strstr(url, "://"), *at;
        size_t n;
        char *h;

        if (!s || (strncasecmp(url, "http://", 7) && strncasecmp(url, "https://", 8)))
                return NULL;
        s += 3;
        n = strcspn(s, "/?#");
        at = memchr(s, '@', n);
        if (at) {
                n -= (size_t)(at + 1 - s);
                s = at + 1;
        }
        h = vmenv_strndup(s, n);
        for (char *p = h; *p; p++)
                *p = (char)tolower((unsigned char)*p);
        return h;
}

const char *vmenv_box_server_token(const char *url)
{
        const char *token = getenv("VAGRANT_CLOUD_TOKEN");
        _cleanup_free_ char *a = NULL, *b = NULL;

        if (!token || !*token || !url || !(a = url_host(url)) ||
            !(b = url_host(vmenv_box_server())))
                return NULL;
        return strcmp(a, b) ? NULL : token;
}

struct vmenv_catalog *vmenv_catalog_fetch(const char *url_or_path,
                                          const struct vmenv_fetch_opts *opts, vmenv_error *err)
{
        static const struct vmenv_fetch_opts defaults = {0};
        struct vmenv_fetch_opts o = opts ? *opts : defaults;
        _cleanup_free_ char *text = NULL;
        struct vmenv_catalog *c;
        size_t len = 0;

        o.bearer = vmenv_box_server_token(url_or_path);
        if (vmenv_fetch_memory(url_or_path, VMENV_CATALOG_MAX_BYTES, &o, &text, &len, err) < 0) {
                vmenv_error_prefix(err, "cannot load catalog '%s'", url_or_path);
                return NULL;
        }
        if (!(c = vmenv_catalog_parse(text, len, url_or_path, err)))
                vmenv_error_prefix(err, "'%s'", url_or_path);
        return c;
}

struct vmenv_catalog *vmenv_catalog_fetch_name(const char *name,
                                               const struct vmenv_fetch_opts *opts, char **url,
                                               vmenv_error *err)
{
        const char *server = vmenv_box_server();
        const char *slash = vmenv_endswith(server, "/") ? "" : "/";
        vmenv_error first = VMENV_ERROR_INIT;
        char *candidates[3] = {
            vmenv_strdupf("%s%sapi/v2/vagrant/%s", server, slash, name),
            vmenv_strdupf("%s%s%s", server, slash, name),
            vmenv_strdupf("%s%s%s.json", server, slash, name),
        };
        struct vmenv_catalog *c = NULL;

        *url = NULL;
        for (size_t i = 0; i < VMENV_ARRAY_SIZE(candidates) && !c; i++) {
                vmenv_error e = VMENV_ERROR_INIT;
                if ((c = vmenv_catalog_fetch(candidates[i], opts, &e))) {
                        *url = TAKE_PTR(candidates[i]);
                        break;
                }
                vmenv_debug("registry: %s", e.msg);
                if (!first.msg)
                        vmenv_error_move(&first, &e);
                vmenv_error_clear(&e);
        }
        if (!c) {
                vmenv_error_move(err, &first);
                vmenv_error_prefix(err, "cannot look up box '%s' at '%s'", name, server);
                vmenv_error_hint(err,
                                 "set VAGRANT_SERVER_URL or VMENV_BOX_SERVER, or give box_url");
        }
        vmenv_error_clear(&first);
        for (size_t i = 0; i < VMENV_ARRAY_SIZE(candidates); i++)
                free(candidates[i]);
        return c;
}

static char *trimmed(const char *s)
{
        size_t n;
        while (s && isspace((unsigned char)*s))
                s++;
        if (!s || !*s)
                return NULL;
        n = strlen(s);
        while (n && isspace((unsigned char)s[n - 1]))
                n--;
        return vmenv_strndup(s, n);
}

int vmenv_checksum_join(const char *type, const char *value, char **out, vmenv_error *err)
{
        static const struct {
                size_t len;
                const char *type;
        } by_len[] = {{32, "md5"}, {40, "sha1"}, {64, "sha256"}, {96, "sha384"}, {128, "sha512"}};
        _cleanup_free_ char *t = trimmed(type), *v = trimmed(value), *joined = NULL;
        _cleanup_free_ char *pt = NULL, *ph = NULL;

        *out = NULL;
        if (!v)
                return 0;
        if (!t && !strchr(v, ':')) {
                for (size_t i = 0; i < VMENV_ARRAY_SIZE(by_len) && !t; i++)
                        if (strlen(v) == by_len[i].len)
                                t = vmenv_strdup(by_len[i].type);
                if (!t) {
                        vmenv_error_set(err, VMENV_EXIT_USAGE,
                                        "cannot tell the type of checksum '%s' from its length", v);
                        return vmenv_error_hint(err, "give the type, e.g. --checksum-type sha256");
                }
        }
        joined = t ? vmenv_strdupf("%s:%s", t, v) : vmenv_strdup(v);
        if (vmenv_checksum_parse(joined, &pt, &ph, err) < 0)
                return -1;
        *out = vmenv_strdupf("%s:%s", pt, ph);
        return 0;
}

const char *vmenv_host_arch(void)
{
        static const struct {
                const char *uname, *arch;
        } map[] = {
            {"x86_64", "amd64"}, {"aarch64", "arm64"},   {"i686", "i386"},   {"i386", "i386"},
            {"armv7l", "armhf"}, {"ppc64le", "ppc64le"}, {"s390x", "s390x"}, {"riscv64", "riscv64"},
        };
        struct utsname u;
        if (uname(&u) == 0)
                for (size_t i = 0; i < VMENV_ARRAY_SIZE(map); i++)
                        if (!strcmp(u.machine, map[i].uname))
                                return map[i].arch;
        return "amd64";
}

static const char *norm_arch(const char *a)
{
        if (!strcmp(a, "x86_64"))
                return "amd64";
        if (!strcmp(a, "aarch64"))
                return "arm64";
        return a;
}

/* Vagrant 2.4's BoxMetadata::Version#provider for libvirt: the provider of
 * exactly the architecture; when the architecture was not asked for, else
 * one marked "unknown" and default_architecture (a legacy box re-published),
 * else the lone provider of a catalog that predates architectures. */
static const struct vmenv_catalog_provider *pick_provider(const struct vmenv_catalog_version *v,
                                                          const char *host, const char *arch,
                                                          bool *any_libvirt)
{
        const struct vmenv_catalog_provider *lone = NULL, *legacy = NULL;
        const char *want = norm_arch(arch ? arch : host);
        size_t count = 0;

        for (size_t j = 0; j < v->n_providers; j++) {
                const struct vmenv_catalog_provider *p = &v->providers[j];
                if (strcmp(p->name, "libvirt") || !p->url)
                        continue;
                *any_libvirt = true;
                count++;
                lone = p;
                if (p->architecture && !strcmp(norm_arch(p->architecture), want))
                        return p;
                if (!legacy && p->architecture && !strcmp(p->architecture, "unknown") &&
                    p->default_architecture)
                        legacy = p;
        }
        if (arch)
                return NULL;
        if (legacy)
                return legacy;
        return count == 1 && !lone->has_default_architecture ? lone : NULL;
}

int vmenv_catalog_resolve(const struct vmenv_catalog *c, const char *constraint, const char *arch,
                          struct vmenv_box_ref *out, vmenv_error *err)
{
        return vmenv_catalog_resolve_on(c, constraint, vmenv_host_arch(), arch, out, err);
}

int vmenv_catalog_resolve_on(const struct vmenv_catalog *c, const char *constraint,
                             const char *host_arch, const char *arch, struct vmenv_box_ref *out,
                             vmenv_error *err)
{
        struct vmenv_constraint *con = vmenv_constraint_parse(constraint, err);
        const struct vmenv_catalog_version *best = NULL;
        const struct vmenv_catalog_provider *best_p = NULL;
        const char *want = norm_arch(arch ? arch : host_arch);
        bool any_libvirt = false;

        if (!con)
                return vmenv_error_prefix(err, "catalog '%s'", c->name ? c->name : c->source);
        for (size_t i = 0; i < c->n_versions; i++) {
                const struct vmenv_catalog_version *v = &c->versions[i];
                const struct vmenv_catalog_provider *pick;
                if (!vmenv_constraint_match(con, v->version))
                        continue;
                pick = pick_provider(v, host_arch, arch, &any_libvirt);
                if (pick && (!best || vmenv_version_compare(v->version, best->version) > 0)) {
                        best = v;
                        best_p = pick;
                }
        }
        vmenv_constraint_free(con);
        if (!best) {
                vmenv_error_set(err, VMENV_EXIT_NOINPUT,
                                "no version of box '%s' in '%s' matches '%s' for libvirt on %s",
                                c->name ? c->name : "?", c->source ? c->source : "catalog",
                                constraint && *constraint ? constraint : "any", want);
                if (!any_libvirt)
                        vmenv_error_hint(
                            err, "the catalog has no matching version with a libvirt provider");
                else if (arch)
                        vmenv_error_hint(err,
                                         "no libvirt provider is marked for architecture "
                                         "'%s'; leave out --architecture to take the default",
                                         arch);
                return -1;
        }
        memset(out, 0, sizeof(*out));
        if (!(out->url = vmenv_url_resolve(c->source, best_p->url, err)))
                return -1;
        out->name = vmenv_strdup(c->name);
        out->version = vmenv_strdup(best->version);
        out->architecture = best_p->architecture ? vmenv_strdup(best_p->architecture) : NULL;
        if (best_p->checksum && *best_p->checksum) {
                _cleanup_free_ char *cs = NULL;
                if (vmenv_checksum_join(best_p->checksum_type, best_p->checksum, &cs, err) < 0) {
                        vmenv_box_ref_clear(out);
                        return vmenv_error_prefix(err, "catalog '%s', version '%s'",
                                                  c->name ? c->name : c->source, best->version);
                }
                if (cs) {
                        out->checksum_type = vmenv_strndup(cs, strcspn(cs, ":"));
                        out->checksum = vmenv_strdup(strchr(cs, ':') + 1);
                }
        }
        return 0;
}
