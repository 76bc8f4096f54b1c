/* Which domains vmenv may act on. A connection opened for a project knows
 * the project's folder (its owner); every operation that changes a domain
 * (define over an existing one, start, shutdown, poweroff, suspend, resume,
 * undefine, snapshots) first reads the <vmenv:project> and <vmenv:name> that
 * vmenv writes into each domain's <metadata> and refuses a domain that does
 * not carry this project's folder and a machine name matching its own
 * domain name (and, on a remote hypervisor, this computer's client ID in
 * <vmenv:client>). Names come from vmenv, never from .vmenv/ or vmenv.yaml, but
 * a domain with a colliding name (made by hand, or by another tool) is still
 * not ours to stop or delete. */
#include <stdlib.h>
#include <string.h>

#include "domain-xml.h"
#include "libvirt-private.h"
#include "vmenv/cleanup.h"
#include "vmenv/util.h"

void vmenv_libvirt_set_owner(struct vmenv_provider *p, const char *project_dir)
{
        free(p->owner);
        p->owner = project_dir ? vmenv_strdup(project_dir) : NULL;
}

void vmenv_libvirt_set_client(struct vmenv_provider *p, const char *client)
{
        free(p->client);
        p->client = client ? vmenv_strdup(client) : NULL;
}

/* The text of <PREFIX:tag>…</PREFIX:tag> (or <tag>) in the metadata element
 * libvirt gives back, unescaped; NULL when absent or not plain text. */
char *vmenv_libvirt_meta_text(const char *xml, const char *tag)
{
        _cleanup_free_ char *open = vmenv_strdupf("%s>", tag);
        const char *a = xml, *b;
        struct vmenv_buf out = {0};

        for (;;) {
                if (!(a = strstr(a, open)))
                        return NULL;
                if (a > xml && (a[-1] == ':' || a[-1] == '<'))
                        break;
                a++;
        }
        a += strlen(open);
        if (!(b = strchr(a, '<')))
                return NULL;
        while (a < b) {
                static const struct {
                        const char *ent, *ch;
                } ents[] = {{"&amp;", "&"},
                            {"&lt;", "<"},
                            {"&gt;", ">"},
                            {"&quot;", "\""},
                            {"&apos;", "'"}};
                size_t i;
                if (*a != '&') {
                        vmenv_buf_add(&out, a++, 1);
                        continue;
                }
                for (i = 0; i < VMENV_ARRAY_SIZE(ents); i++)
                        if (!strncmp(a, ents[i].ent, strlen(ents[i].ent)))
                                break;
                if (i == VMENV_ARRAY_SIZE(ents)) {
                        vmenv_buf_free(&out);
                        return NULL; /* numeric references are not written by vmenv */
                }
                vmenv_buf_puts(&out, ents[i].ch);
                a += strlen(ents[i].ent);
        }
        if (!out.data)
                vmenv_buf_puts(&out, "");
        return vmenv_buf_steal(&out);
}

/* The domain name vmenv gives machine M: "vmenv-<project>-M-<hash>" (and
 * the network name it gives network M). */
bool vmenv_libvirt_name_fits(const char *domain, const char *machine)
{
        _cleanup_free_ char *mid = vmenv_strdupf("-%s-", machine);
        const char *last = strrchr(domain, '-');
        size_t ml = strlen(mid);

        return !strncmp(domain, "vmenv-", 6) && last && (size_t)(last - domain) + 1 >= ml &&
               !strncmp(last + 1 - ml, mid, ml);
}

static int not_ours(const char *name, const char *why, vmenv_error *err)
{
        vmenv_error_set(err, VMENV_EXIT_NOPERM, "refusing to touch domain '%s': %s", name, why);
        return vmenv_error_hint(err, "vmenv acts only on domains it created for this project "
                                     "folder; if the project was moved or copied, remove its "
                                     ".vmenv/ folder and run 'vmenv up' (see docs/security.md)");
}

char *vmenv_libvirt_owner_mismatch(const struct vmenv_provider *p, const char *meta,
                                   const char *name, const char *what, const char *expect)
{
        _cleanup_free_ char *project = vmenv_libvirt_meta_text(meta, "project");
        _cleanup_free_ char *mine = vmenv_libvirt_meta_text(meta, "name");

        if (!project || !mine)
                return vmenv_strdupf("its vmenv metadata names no project or %s", what);
        if (strcmp(project, p->owner))
                return vmenv_strdupf("it belongs to the project in '%s'", project);
        if ((expect && strcmp(mine, expect)) || !vmenv_libvirt_name_fits(name, mine))
                return vmenv_strdupf("its metadata names %s '%s', which is not this name", what,
                                     mine);
        return NULL;
}

int vmenv_libvirt_check_owner(struct vmenv_provider *p, virDomainPtr d, const char *name,
                              vmenv_error *err)
{
        _cleanup_free_ char *meta = NULL, *why = NULL;

        if (!p->owner)
                return 0;
        meta = virDomainGetMetadata(d, VIR_DOMAIN_METADATA_ELEMENT, VMENV_LIBVIRT_METADATA_NS, 0);
        if (!meta) {
                if (vmenv_libvirt_last_error_is(VIR_ERR_NO_DOMAIN_METADATA))
                        return not_ours(name, "it has no vmenv metadata", err);
                return vmenv_libvirt_error(err, "cannot read the metadata of domain '%s'", name);
        }
        if ((why = vmenv_libvirt_owner_mismatch(p, meta, name, "machine", NULL)))
                return not_ours(name, why, err);
        /* a shared hypervisor: the same project path on another computer
         * is another project */
        if (p->client) {
                _cleanup_free_ char *client = vmenv_libvirt_meta_text(meta, "client");
                if (!client || strcmp(client, p->client)) {
                        why = vmenv_strdupf("it belongs to another computer's vmenv (client ID "
                                            "'%s', not this one's)",
                                            client ? client : "none");
                        return not_ours(name, why, err);
                }
        }
        return 0;
}

virDomainPtr vmenv_libvirt_domain_owned(struct vmenv_provider *p, const char *name,
                                        vmenv_error *err)
{
        virDomainPtr d = vmenv_libvirt_domain_lookup(p, name, err);

        if (d && vmenv_libvirt_check_owner(p, d, name, err) < 0) {
                virDomainFree(d);
                return NULL;
        }
        return d;
}
