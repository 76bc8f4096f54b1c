/* Catalog parsing and resolution: newest matching version, provider and
 * architecture choice, relative URLs, and malformed catalogs. */
#include <stdlib.h>

#include "tap.h"
#include "vmenv/box.h"

static const char catalog[] =
    "{\"name\": \"vmenv/tiny\", \"description\": \"test\", \"versions\": ["
    " {\"version\": \"1.0.0\", \"providers\": ["
    "   {\"name\": \"libvirt\", \"url\": \"tiny-1.0.0.box\", \"checksum_type\": \"sha256\", "
    "\"checksum\": \"aa\"}]},"
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
    {"{\"versions\": [{}]}", "version 1 has no valid 'version'"},
    {"{\"versions\": [{\"version\": \"x.y\"}]}", "version 1 has no valid 'version'"},
    {"{\"versions\": [{\"version\": 1}]}", "'version' is not a string"},
    {"{\"versions\": [{\"version\": \"1\", \"providers\": [{}]}]}", "provider has no 'name'"},
    {"{\"versions\": [{\"version\": \"1\", \"providers\": [{\"name\": 5}]}]}",
     "'name' is not a string"},
    {"{\"versions\": [{\"version\": \"1\", \"providers\": 3}]}", "'providers' must be a list"},
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
                int rc = vmenv_catalog_resolve(c, cases[i].constraint, cases[i].arch, &r, &err);
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
                vmenv_catalog_resolve(c, "= 1.0.0", "amd64", &r, &err);
                is_str(r.checksum_type, "sha256", "checksum type");
                is_str(r.checksum, "aa", "checksum");
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
                vmenv_catalog_resolve(c, "= 1.0.0", "amd64", &r, &err);
                is_str(r.url, "/srv/boxes/tiny-1.0.0.box", "relative url against a path");
                vmenv_box_ref_clear(&r);
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
