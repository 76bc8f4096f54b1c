/* Catalog parsing and resolution: newest matching version, provider and
 * architecture choice, relative URLs, and malformed catalogs. */
#include <stdlib.h>

#include "tap.h"
#include "vmenv/box.h"

static const char catalog[] =
    "{\"name\": \"vmenv/tiny\", \"description\": \"test\", \"versions\": ["
    " {\"version\": \"1.0.0\", \"providers\": ["
    "   {\"name\": \"libvirt\", \"url\": \"tiny-1.0.0.box\", \"checksum_type\": \" SHA256\", "
    "\"checksum\": \" ABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABAB\\n\"}]},"
    " {\"version\": \"1.1.0\", \"providers\": ["
    "   {\"name\": \"virtualbox\", \"url\": \"https://example.invalid/vb.box\"},"
    "   {\"name\": \"libvirt\", \"url\": \"https://mirror.invalid/tiny-1.1.0-arm.box\", "
    "\"architecture\": \"arm64\"},"
    "   {\"name\": \"libvirt\", \"url\": \"/abs/tiny-1.1.0.box\", \"architecture\": \"amd64\", "
    "\"default_architecture\": true}]},"
    " {\"version\": \"1.2.0-beta\", \"providers\": ["
    "   {\"name\": \"libvirt\", \"url\": \"sub/tiny-1.2.0-beta.box\", \"architecture\": "
    "\"x86_64\"}]},"
    " {\"version\": \"2.0.0\", \"providers\": ["
    "   {\"name\": \"virtualbox\", \"url\": \"vb2.box\"}]},"
    " {\"version\": \"0.9\", \"providers\": null}"
    "]}";

static const struct {
        const char *constraint, *arch;
        const char *version, *url; /* NULL version: no match */
} cases[] = {
    {NULL, "amd64", "1.2.0-beta", "http://127.0.0.1:1/boxes/sub/tiny-1.2.0-beta.box"},
    {NULL, "x86_64", "1.2.0-beta", "http://127.0.0.1:1/boxes/sub/tiny-1.2.0-beta.box"},
    {"<= 1.1", "amd64", "1.1.0", "http://127.0.0.1:1/abs/tiny-1.1.0.box"},
    {"<= 1.1", "arm64", "1.1.0", "https://mirror.invalid/tiny-1.1.0-arm.box"},
    {"<= 1.1", "aarch64", "1.1.0", "https://mirror.invalid/tiny-1.1.0-arm.box"},
    {"~> 1.0.0", "amd64", "1.0.0", "http://127.0.0.1:1/boxes/tiny-1.0.0.box"},
    {"= 1.0.0", "s390x", "1.0.0", "http://127.0.0.1:1/boxes/tiny-1.0.0.box"},
    {"<= 1.1", "s390x", "1.0.0", "http://127.0.0.1:1/boxes/tiny-1.0.0.box"},
    {">= 2", "amd64", NULL, NULL},
    {"= 0.9", "amd64", NULL, NULL},
};

static const struct {
        const char *text, *want; /* substring of the error */
} bad[] = {
    {"", "not valid JSON"},
    {"{", "not valid JSON"},
    {"[]", "not a JSON object"},
    {"{\"name\": \"x\"}", "no 'versions' list"},
    {"{\"versions\": {}}", "no 'versions' list"},
    {"{\"versions\": [1]}", "version 1 is not an object"},
    {"{\"versions\": [{\"version\": 1}]}", "'version' is not a string"},
    {"{\"versions\": [{\"version\": \"1\", \"providers\": [{}]}]}", "provider has no 'name'"},
    {"{\"versions\": [{\"version\": \"1\", \"providers\": [{\"name\": 5}]}]}",
     "'name' is not a string"},
    {"{\"versions\": [{\"version\": \"1\", \"providers\": 3}]}", "'providers' must be a list"},
};

/* Vagrant 2.4 catalogs (after test/unit/vagrant/box_metadata_test.rb,
 * "with architecture"): one provider per architecture, default_architecture,
 * the legacy "unknown" entry, and a lone provider without the keys. */
static const char arch_catalog[] =
    "{\"name\": \"t/arch\", \"versions\": ["
    " {\"version\": \"1.0.0\", \"providers\": ["
    "   {\"name\": \"libvirt\", \"url\": \"1-amd64.box\", \"architecture\": \"amd64\", "
    "\"default_architecture\": true},"
    "   {\"name\": \"libvirt\", \"url\": \"1-arm64.box\", \"architecture\": \"arm64\", "
    "\"default_architecture\": false}]},"
    " {\"version\": \"2.0.0\", \"providers\": ["
    "   {\"name\": \"libvirt\", \"url\": \"2-arm64.box\", \"architecture\": \"arm64\", "
    "\"default_architecture\": true}]},"
    " {\"version\": \"3.0.0\", \"providers\": ["
    "   {\"name\": \"libvirt\", \"url\": \"3-unknown.box\", \"architecture\": \"unknown\", "
    "\"default_architecture\": true},"
    "   {\"name\": \"libvirt\", \"url\": \"3-ppc.box\", \"architecture\": \"ppc64le\", "
    "\"default_architecture\": false}]},"
    " {\"version\": \"not a version\", \"providers\": ["
    "   {\"name\": \"libvirt\", \"url\": \"bad.box\"}]},"
    " {\"providers\": []},"
    " {\"version\": \"0.5\", \"providers\": ["
    "   {\"name\": \"libvirt\", \"url\": \"0.5-arm.box\", \"architecture\": \"arm64\"}]}"
    "]}";

static const struct {
        const char *constraint, *host, *arch; /* arch NULL: not asked for (Vagrant's :auto) */
        const char *url;                      /* NULL: no match */
} arch_cases[] = {
    /* newest: 3.0.0's "unknown" default entry fits any host when not asked */
    {NULL, "amd64", NULL, "/c/3-unknown.box"},
    {NULL, "ppc64le", NULL, "/c/3-ppc.box"},
    /* an explicit architecture needs that exact entry */
    {NULL, "amd64", "amd64", "/c/1-amd64.box"},
    {NULL, "amd64", "arm64", "/c/2-arm64.box"},
    {NULL, "amd64", "x86_64", "/c/1-amd64.box"},
    {"< 3", "s390x", "s390x", NULL},
    {"= 2.0.0", "amd64", "amd64", NULL},
    /* 2.0.0 has one provider, but with default_architecture: not legacy */
    {"< 3", "amd64", NULL, "/c/1-amd64.box"},
    {"< 3", "arm64", NULL, "/c/2-arm64.box"},
    {"= 1.0.0", "arm64", NULL, "/c/1-arm64.box"},
    /* a lone provider without default_architecture fits any host (legacy) */
    {"< 1", "amd64", NULL, "/c/0.5-arm.box"},
    {"< 1", "amd64", "amd64", NULL},
    {"< 1", "arm64", "arm64", "/c/0.5-arm.box"},
};

int main(void)
{
        vmenv_error err = VMENV_ERROR_INIT;
        struct vmenv_catalog *c = vmenv_catalog_parse(catalog, sizeof(catalog) - 1,
                                                      "http://127.0.0.1:1/boxes/tiny.json", &err);

        if (!ok(c != NULL, "the catalog parses"))
                printf("#   %s\n", err.msg);
        if (!c)
                return done_testing();
        is_str(c->name, "vmenv/tiny", "name");
        ok(c->n_versions == 5, "five versions");
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct vmenv_box_ref r = {0};
                int rc =
                    vmenv_catalog_resolve_on(c, cases[i].constraint, cases[i].arch, NULL, &r, &err);
                if (!cases[i].version) {
                        ok(rc < 0 && err.code == VMENV_EXIT_NOINPUT, "'%s' on %s: no match",
                           cases[i].constraint, cases[i].arch);
                } else {
                        is_str(r.version, cases[i].version, "resolved version");
                        is_str(r.url, cases[i].url, "resolved url");
                }
                vmenv_error_clear(&err);
                vmenv_box_ref_clear(&r);
        }
        {
                struct vmenv_box_ref r = {0};
                vmenv_catalog_resolve(c, "= 1.0.0", NULL, &r, &err);
                is_str(r.checksum_type, "sha256", "checksum type lowercased");
                is_str(r.checksum,
                       "abababababababababababababababababababababababababababababababab",
                       "checksum trimmed and lowercased");
                is_str(r.name, "vmenv/tiny", "ref name");
                vmenv_box_ref_clear(&r);
        }
        {
                struct vmenv_box_ref r = {0};
                ok(vmenv_catalog_resolve(c, ">= junk", "amd64", &r, &err) < 0 &&
                       err.code == VMENV_EXIT_DATA,
                   "a malformed constraint is a data error");
                vmenv_error_clear(&err);
        }
        vmenv_catalog_free(c);

        /* relative URLs against a local catalog path */
        c = vmenv_catalog_parse(catalog, sizeof(catalog) - 1, "/srv/boxes/tiny.json", &err);
        {
                struct vmenv_box_ref r = {0};
                vmenv_catalog_resolve(c, "= 1.0.0", NULL, &r, &err);
                is_str(r.url, "/srv/boxes/tiny-1.0.0.box", "relative url against a path");
                vmenv_box_ref_clear(&r);
        }
        vmenv_catalog_free(c);

        c = vmenv_catalog_parse(arch_catalog, sizeof(arch_catalog) - 1, "/c/arch.json", &err);
        ok(c && c->n_versions == 4, "entries without a valid version are skipped, not fatal");
        for (size_t i = 0; c && i < sizeof(arch_cases) / sizeof(arch_cases[0]); i++) {
                struct vmenv_box_ref r = {0};
                int rc = vmenv_catalog_resolve_on(c, arch_cases[i].constraint, arch_cases[i].host,
                                                  arch_cases[i].arch, &r, &err);
                if (arch_cases[i].url)
                        is_str(r.url, arch_cases[i].url, "architecture case");
                else
                        ok(rc < 0 && err.code == VMENV_EXIT_NOINPUT, "architecture case: no match");
                printf("#   '%s' on %s asking %s\n",
                       arch_cases[i].constraint ? arch_cases[i].constraint : "", arch_cases[i].host,
                       arch_cases[i].arch ? arch_cases[i].arch : "nothing");
                vmenv_box_ref_clear(&r);
                vmenv_error_clear(&err);
        }
        vmenv_catalog_free(c);

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                c = vmenv_catalog_parse(bad[i].text, strlen(bad[i].text), "t.json", &err);
                ok(!c && err.code == VMENV_EXIT_DATA && err.msg && strstr(err.msg, bad[i].want),
                   "bad catalog %zu: %s", i + 1, bad[i].want);
                if (c || !err.msg || !strstr(err.msg, bad[i].want))
                        printf("#   got: %s\n", err.msg ? err.msg : "(success)");
                vmenv_catalog_free(c);
                vmenv_error_clear(&err);
        }
        return done_testing();
}
