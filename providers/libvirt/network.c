/* NAT networking: the libvirt network vmenv's machines share (made on first
 * use, like the management network of vagrant-libvirt) and the address a
 * machine got from its DHCP server. */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "network.h"
#include "vmenv/cleanup.h"
#include "vmenv/log.h"
#include "vmenv/util.h"

static void net_freep(virNetworkPtr *n)
{
        if (*n)
                virNetworkFree(*n);
}
#define _cleanup_net_ __attribute__((cleanup(net_freep)))

/* Whether any address of this host lies in 192.168.third.0/24. */
static bool subnet_taken(int third)
{
        struct ifaddrs *ifs, *i;
        bool taken = false;

        if (getifaddrs(&ifs) < 0)
                return false;
        for (i = ifs; i && !taken; i = i->ifa_next) {
                if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET)
                        continue;
                uint32_t a = ntohl(((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr.s_addr);
                taken = (a >> 8) == ((192u << 16) | (168u << 8) | (unsigned)third);
        }
        freeifaddrs(ifs);
        return taken;
}

static char *network_xml(const char *name, int third)
{
        _cleanup_free_ char *ename = vmenv_xml_escape(name);

        return vmenv_strdupf("<network>\n"
                             "  <name>%s</name>\n"
                             "  <forward mode='nat'/>\n"
                             /* no STP: its forward delay would hold a new
                              * guest's first DHCP requests for seconds */
                             "  <bridge stp='off' delay='0'/>\n"
                             "  <ip address='192.168.%d.1' netmask='255.255.255.0'>\n"
                             "    <dhcp><range start='192.168.%d.2' end='192.168.%d.254'/></dhcp>\n"
                             "  </ip>\n"
                             "</network>\n",
                             ename, third, third, third);
}

int vmenv_libvirt_network_ensure(struct vmenv_provider *p, const char *name, vmenv_error *err)
{
        _cleanup_net_ virNetworkPtr n = virNetworkLookupByName(p->conn, name);

        if (!n && !vmenv_libvirt_last_error_is(VIR_ERR_NO_NETWORK))
                return vmenv_libvirt_error(err, "cannot look up network '%s'", name);
        if (!n) {
                /* 192.168.121 is vagrant-libvirt's, 122 libvirt's default */
                int third = 123;
                _cleanup_free_ char *xml = NULL;

                while (third < 255 && subnet_taken(third))
                        third++;
                if (third == 255)
                        return vmenv_error_set(err, VMENV_EXIT_UNAVAILABLE,
                                               "no free 192.168.x.0/24 subnet for network '%s'",
                                               name);
                xml = network_xml(name, third);
                if (!(n = virNetworkDefineXML(p->conn, xml)))
                        return vmenv_libvirt_error(err, "cannot define network '%s'", name);
                vmenv_info("created libvirt network '%s' (192.168.%d.0/24, NAT)", name, third);
                if (virNetworkSetAutostart(n, 1) < 0)
                        vmenv_debug("network '%s': no autostart", name);
        }
        if (virNetworkIsActive(n) != 1 && virNetworkCreate(n) < 0) {
                vmenv_libvirt_error(err, "cannot start network '%s'", name);
                return vmenv_error_hint(err, "NAT mode needs dnsmasq and iptables on the host "
                                             "(apt-get install dnsmasq-base iptables)");
        }
        return 0;
}

int vmenv_libvirt_guest_address(struct vmenv_provider *p, const char *domain, char **ip,
                                vmenv_error *err)
{
        _cleanup_domain_ virDomainPtr d = vmenv_libvirt_domain_lookup(p, domain, err);
        virDomainInterfacePtr *ifaces = NULL;
        int n;

        *ip = NULL;
        if (!d)
                return -1;
        n = virDomainInterfaceAddresses(d, &ifaces, VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE, 0);
        if (n < 0)
                return vmenv_libvirt_error(err, "cannot read the DHCP lease of '%s'", domain);
        for (int i = 0; i < n; i++) {
                for (unsigned j = 0; !*ip && j < ifaces[i]->naddrs; j++)
                        if (ifaces[i]->addrs[j].type == VIR_IP_ADDR_TYPE_IPV4)
                                *ip = vmenv_strdup(ifaces[i]->addrs[j].addr);
                virDomainInterfaceFree(ifaces[i]);
        }
        free(ifaces);
        return 0;
}
