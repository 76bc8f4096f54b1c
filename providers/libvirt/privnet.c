/* Private networks: one isolated libvirt network per network of a project
 * (no <forward>: nothing routes to or from the outside), named and marked
 * like the project's domains, so that only this project changes or removes
 * it (docs/security.md). dnsmasq on it gives every machine its reserved
 * address by DHCP and resolves MACHINE and MACHINE.<project>.vmenv. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "privnet.h"
#include "vmenv/cleanup.h"
#include "vmenv/log.h"
#include "vmenv/util.h"

static void net_freep(virNetworkPtr *n)
{
        if (*n)
                virNetworkFree(*n);
}
#define _cleanup_net_ __attribute__((cleanup(net_freep)))

static bool ipv4_valid(const char *s)
{
        struct in_addr in;
        return s && inet_pton(AF_INET, s, &in) == 1;
}

char *vmenv_libvirt_privnet_xml(const struct vmenv_privnet_spec *s, const char *uuid,
                                vmenv_error *err)
{
        struct vmenv_buf b = {0};
        _cleanup_free_ char *name = NULL, *dir = NULL, *net = NULL, *bridge = NULL, *domain = NULL,
                            *eu = NULL;

        if (!s->name || !*s->name || !s->bridge || !*s->bridge || strlen(s->bridge) > 15 ||
            !s->network || !*s->network || !s->project_dir || !s->dns_domain ||
            !ipv4_valid(s->host_ip) || s->prefix < 8 || s->prefix > 30) {
                vmenv_error_set(err, VMENV_EXIT_SOFTWARE, "incomplete private network '%s'",
                                s->name ? s->name : "");
                return NULL;
        }
        for (size_t i = 0; i < s->n_hosts; i++)
                if (!s->hosts[i].machine || !s->hosts[i].mac || !ipv4_valid(s->hosts[i].ip)) {
                        vmenv_error_set(err, VMENV_EXIT_SOFTWARE,
                                        "private network '%s': host %zu is incomplete", s->name, i);
                        return NULL;
                }
        name = vmenv_xml_escape(s->name);
        dir = vmenv_xml_escape(s->project_dir);
        net = vmenv_xml_escape(s->network);
        bridge = vmenv_xml_escape(s->bridge);
        domain = vmenv_xml_escape(s->dns_domain);
        vmenv_buf_printf(&b, "<network>\n  <name>%s</name>\n", name);
        if (uuid) {
                eu = vmenv_xml_escape(uuid);
                vmenv_buf_printf(&b, "  <uuid>%s</uuid>\n", eu);
        }
        vmenv_buf_printf(&b,
                         "  <metadata>\n"
                         "    <vmenv:vmenv xmlns:vmenv='%s'>\n"
                         "      <vmenv:project>%s</vmenv:project>\n"
                         "      <vmenv:name>%s</vmenv:name>\n"
                         "    </vmenv:vmenv>\n"
                         "  </metadata>\n"
                         /* no STP: its forward delay would hold a new
                          * guest's first packets for seconds */
                         "  <bridge name='%s' stp='off' delay='0'/>\n"
                         "  <domain name='%s' localOnly='yes'/>\n"
                         "  <dns>\n",
                         VMENV_LIBVIRT_NETWORK_NS, dir, net, bridge, domain);
        for (size_t i = 0; i < s->n_hosts; i++) {
                _cleanup_free_ char *m = vmenv_xml_escape(s->hosts[i].machine);
                vmenv_buf_printf(&b,
                                 "    <host ip='%s'>\n"
                                 "      <hostname>%s</hostname>\n"
                                 "      <hostname>%s.%s</hostname>\n"
                                 "    </host>\n",
                                 s->hosts[i].ip, m, m, domain);
        }
        vmenv_buf_printf(&b,
                         "  </dns>\n"
                         "  <ip address='%s' prefix='%d'>\n"
                         "    <dhcp>\n",
                         s->host_ip, s->prefix);
        for (size_t i = 0; i < s->n_hosts; i++) {
                _cleanup_free_ char *m = vmenv_xml_escape(s->hosts[i].machine);
                _cleanup_free_ char *mac = vmenv_xml_escape(s->hosts[i].mac);
                vmenv_buf_printf(&b, "      <host mac='%s' name='%s' ip='%s'/>\n", mac, m,
                                 s->hosts[i].ip);
        }
        vmenv_buf_puts(&b, "    </dhcp>\n"
                           "  </ip>\n"
                           "</network>\n");
        return vmenv_buf_steal(&b);
}

static int not_ours(const char *name, const char *why, vmenv_error *err)
{
        vmenv_error_set(err, VMENV_EXIT_NOPERM, "refusing to touch network '%s': %s", name, why);
        return vmenv_error_hint(err, "vmenv acts only on networks it created for this project "
                                     "folder; remove or rename that network, or move the "
                                     "project (see docs/security.md)");
}

/* The network carries this project's mark and its own name in vmenv.yaml. */
static int check_owner(struct vmenv_provider *p, virNetworkPtr n, const char *name,
                       const char *network, vmenv_error *err)
{
        _cleanup_free_ char *xml = NULL, *meta = NULL, *why = NULL;
        const char *a, *b;

        if (!p->owner)
                return 0;
        if (!(xml = virNetworkGetXMLDesc(n, 0)))
                return vmenv_libvirt_error(err, "cannot read network '%s'", name);
        /* only inside <metadata>: the network's own <name> is not ours */
        if (!(a = strstr(xml, "<metadata>")) || !(b = strstr(a, "</metadata>")) ||
            !strstr((meta = vmenv_strndup(a, (size_t)(b - a))), VMENV_LIBVIRT_NETWORK_NS))
                return not_ours(name, "it has no vmenv metadata", err);
        if ((why = vmenv_libvirt_owner_mismatch(p, meta, name, "network", network)))
                return not_ours(name, why, err);
        return 0;
}

/* Brings the running network's DHCP reservations and DNS names up to the
 * spec (a machine added to the file, a changed address). */
static void update_live(virNetworkPtr n, const struct vmenv_privnet_spec *s)
{
        unsigned live = VIR_NETWORK_UPDATE_AFFECT_LIVE;

        for (size_t i = 0; i < s->n_hosts; i++) {
                const struct vmenv_privnet_host *h = &s->hosts[i];
                _cleanup_free_ char *m = vmenv_xml_escape(h->machine);
                _cleanup_free_ char *d = vmenv_xml_escape(s->dns_domain);
                _cleanup_free_ char *mac = vmenv_xml_escape(h->mac);
                _cleanup_free_ char *dhcp =
                    vmenv_strdupf("<host mac='%s' name='%s' ip='%s'/>", mac, m, h->ip);
                _cleanup_free_ char *dns = vmenv_strdupf(
                    "<host ip='%s'><hostname>%s</hostname><hostname>%s.%s</hostname></host>", h->ip,
                    m, m, d);
                _cleanup_free_ char *old_dns =
                    vmenv_strdupf("<host><hostname>%s</hostname></host>", m);

                if (virNetworkUpdate(n, VIR_NETWORK_UPDATE_COMMAND_MODIFY,
                                     VIR_NETWORK_SECTION_IP_DHCP_HOST, -1, dhcp, live) < 0 &&
                    virNetworkUpdate(n, VIR_NETWORK_UPDATE_COMMAND_ADD_LAST,
                                     VIR_NETWORK_SECTION_IP_DHCP_HOST, -1, dhcp, live) < 0)
                        vmenv_debug("network '%s': cannot update the DHCP host of '%s'", s->name,
                                    h->machine);
                /* DNS hosts cannot be modified: drop the old entry first */
                virNetworkUpdate(n, VIR_NETWORK_UPDATE_COMMAND_DELETE, VIR_NETWORK_SECTION_DNS_HOST,
                                 -1, old_dns, live);
                if (virNetworkUpdate(n, VIR_NETWORK_UPDATE_COMMAND_ADD_LAST,
                                     VIR_NETWORK_SECTION_DNS_HOST, -1, dns, live) < 0)
                        vmenv_debug("network '%s': cannot update the DNS name of '%s'", s->name,
                                    h->machine);
        }
}

/* Defines the network, over this project's existing one (its UUID kept,
 * the running one updated); *n NULL when libvirt refused the definition. */
static int define_network(struct vmenv_provider *p, const struct vmenv_privnet_spec *s,
                          virNetworkPtr *out, bool *existed, vmenv_error *err)
{
        _cleanup_net_ virNetworkPtr n = virNetworkLookupByName(p->conn, s->name);
        _cleanup_free_ char *xml = NULL;
        char uuid[VIR_UUID_STRING_BUFLEN];

        *out = NULL;
        if (!n && !vmenv_libvirt_last_error_is(VIR_ERR_NO_NETWORK))
                return vmenv_libvirt_error(err, "cannot look up network '%s'", s->name);
        *existed = n != NULL;
        if (n && check_owner(p, n, s->name, s->network, err) < 0)
                return -1;
        if (n && virNetworkGetUUIDString(n, uuid) < 0)
                return vmenv_libvirt_error(err, "cannot read network '%s'", s->name);
        if (!(xml = vmenv_libvirt_privnet_xml(s, n ? uuid : NULL, err)))
                return -1;
        if (n && virNetworkIsActive(n) == 1)
                update_live(n, s);
        /* defining over an existing one (same name and UUID) replaces its
         * persistent definition */
        *out = virNetworkDefineXML(p->conn, xml);
        return 0;
}

int vmenv_libvirt_privnet_ensure(struct vmenv_provider *p, const struct vmenv_privnet_spec *s,
                                 vmenv_error *err)
{
        _cleanup_net_ virNetworkPtr n = NULL;
        bool existed = false;

        if (p->session) {
                vmenv_error_set(err, VMENV_EXIT_UNAVAILABLE,
                                "private network '%s' needs libvirt's system instance: '%s' "
                                "runs without root and cannot make a bridge",
                                s->network, p->uri);
                return vmenv_error_hint(err, "use qemu:///system (as root or a member of the "
                                             "group 'libvirt': 'libvirt: { uri: "
                                             "qemu:///system }' or --connect), or drop "
                                             "'networks:' (see docs/networking.md)");
        }
        /* twice at most: an up of another machine of the project (in
         * parallel) may define it between our look-up and our definition */
        for (int attempt = 0;; attempt++) {
                if (define_network(p, s, &n, &existed, err) < 0)
                        return -1;
                if (n)
                        break;
                if (existed || attempt)
                        return vmenv_libvirt_error(err, "cannot define network '%s'", s->name);
        }
        if (!existed) {
                vmenv_info("created private network '%s' (%s/%d, isolated)", s->network, s->host_ip,
                           s->prefix);
                if (virNetworkSetAutostart(n, 1) < 0)
                        vmenv_debug("network '%s': no autostart", s->name);
        }
        if (virNetworkIsActive(n) != 1 && virNetworkCreate(n) < 0 && virNetworkIsActive(n) != 1) {
                vmenv_libvirt_error(err, "cannot start network '%s'", s->name);
                return vmenv_error_hint(err, "private networks need dnsmasq on the host "
                                             "(apt-get install dnsmasq-base)");
        }
        return 0;
}

/* Whether a defined domain has a NIC on the network. */
static int network_in_use(struct vmenv_provider *p, const char *name, bool *used, vmenv_error *err)
{
        virDomainPtr *doms = NULL;
        _cleanup_free_ char *ename = vmenv_xml_escape(name);
        _cleanup_free_ char *needle = vmenv_strdupf("network='%s'", ename);
        int n = virConnectListAllDomains(p->conn, &doms, 0);

        if (n < 0)
                return vmenv_libvirt_error(err, "cannot list domains of '%s'", p->uri);
        *used = false;
        for (int i = 0; i < n; i++) {
                for (unsigned flags = 0; !*used && flags < 2; flags++) {
                        char *xml =
                            virDomainGetXMLDesc(doms[i], flags ? VIR_DOMAIN_XML_INACTIVE : 0);
                        *used = xml && strstr(xml, needle);
                        free(xml);
                }
                virDomainFree(doms[i]);
        }
        free(doms);
        return 0;
}

int vmenv_libvirt_privnet_remove_unused(struct vmenv_provider *p, const char *name,
                                        const char *network, bool *removed, vmenv_error *err)
{
        _cleanup_net_ virNetworkPtr n = virNetworkLookupByName(p->conn, name);
        bool used = false;

        *removed = false;
        if (!n) {
                if (vmenv_libvirt_last_error_is(VIR_ERR_NO_NETWORK))
                        return 0;
                return vmenv_libvirt_error(err, "cannot look up network '%s'", name);
        }
        if (check_owner(p, n, name, network, err) < 0)
                return -1;
        if (network_in_use(p, name, &used, err) < 0)
                return -1;
        if (used)
                return 0;
        if (virNetworkIsActive(n) == 1 && virNetworkDestroy(n) < 0)
                return vmenv_libvirt_error(err, "cannot stop network '%s'", name);
        if (virNetworkUndefine(n) < 0 && !vmenv_libvirt_last_error_is(VIR_ERR_NO_NETWORK))
                return vmenv_libvirt_error(err, "cannot remove network '%s'", name);
        *removed = true;
        return 0;
}
