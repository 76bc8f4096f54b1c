/* Private networks: the plan of addresses (fixed, chosen, kept in the state
 * and not moved by machines added later) and the libvirt side through the
 * real test:///default driver: the network's XML (isolated, escaped, the
 * project's mark, DHCP and DNS per machine), made once and brought up to
 * date, refused when another project's or nobody's, removed only when no
 * domain uses it, and refused on a session connection. */
#include <stdlib.h>
#include <string.h>

#include "../../providers/libvirt/libvirt-private.h"
#include "../../providers/libvirt/privnet.h"
#include "tap.h"
#include "vmenv/cleanup.h"
#include "vmenv/config.h"
#include "vmenv/privnet.h"
#include "vmenv/util.h"

static const struct vmenv_provider_ops *ops = &vmenv_provider_libvirt;

static const char project[] = "box: b\n"
                              "machines:\n"
                              "  a:\n"
                              "    networks: [{type: private}]\n"
                              "  web:\n"
                              "    networks: [{type: private, ip: 10.9.0.2}]\n"
                              "  b:\n"
                              "    networks: [{type: private}, {type: private, name: back}]\n";

static const char *kept_a; /* what machine a recorded, for recorded() */

static char **recorded(const struct vmenv_config *c, const char *machine, void *data)
{
        char **v = NULL;
        (void)c;
        (void)data;
        if (kept_a && !strcmp(machine, "a"))
                vmenv_strv_push(&v, vmenv_strdup(kept_a));
        return v;
}

static struct vmenv_config *load(const char *yaml)
{
        vmenv_error err = VMENV_ERROR_INIT;
        struct vmenv_config *c = vmenv_config_parse(yaml, strlen(yaml), "vmenv.yaml", &err);
        if (!c) {
                printf("# %s\n", err.msg);
                exit(1);
        }
        c->dir = vmenv_strdup("/home/dev/p");
        c->project = vmenv_strdup("p");
        return c;
}

static const char *ip_of(struct vmenv_privnet_plan *pl, size_t n, const char *net,
                         const char *machine)
{
        const struct vmenv_privnet_member *m = vmenv_privnet_member(pl, n, net, machine);
        return m ? m->ip : "(none)";
}

static void test_plan(void)
{
        vmenv_error err = VMENV_ERROR_INIT;
        struct vmenv_config *c = load(project);
        struct vmenv_privnet_plan *pl = NULL;
        size_t n = 0;
        const struct vmenv_privnet_member *m;

        CHECK(vmenv_privnet_plan(c, recorded, NULL, &pl, &n, &err), "a plan");
        ok(n == 2, "two networks");
        is_str(ip_of(pl, n, "private", "web"), "10.9.0.2", "the fixed address");
        is_str(ip_of(pl, n, "private", "a"), "10.9.0.3", "a: the lowest free address after .1");
        is_str(ip_of(pl, n, "private", "b"), "10.9.0.4", "b: the next one");
        is_str(ip_of(pl, n, "back", "b"), "192.168.56.2", "b on the second network");
        is_str(pl[0].host_ip, "10.9.0.1", "the host has the first address");
        ok(!strncmp(pl[0].libvirt_name, "vmenv-p-private-", 16) && strlen(pl[0].libvirt_name) == 24,
           "network name vmenv-<project>-<network>-<hash>");
        ok(!strncmp(pl[0].bridge, "vmv", 3) && strlen(pl[0].bridge) == 13, "bridge vmv + 10 hex");
        is_str(pl[0].dns_domain, "p.vmenv", "DNS domain <project>.vmenv");
        ok(pl[0].n_members == 3 && !strcmp(pl[0].members[0].machine, "a") &&
               !strcmp(pl[0].members[1].machine, "web"),
           "members in file order");
        m = vmenv_privnet_member(pl, n, "private", "a");
        ok(m && m->chosen && !strncmp(m->mac, "52:54:00:", 9) && strlen(m->mac) == 17,
           "a chosen address and a QEMU MAC");
        ok(strcmp(vmenv_privnet_member(pl, n, "private", "b")->mac, m->mac) != 0,
           "MACs differ per machine");
        vmenv_privnet_plan_free(pl, n);

        /* a keeps what it recorded; b does not take it */
        kept_a = "private=10.9.0.77";
        CHECK(vmenv_privnet_plan(c, recorded, NULL, &pl, &n, &err), "a plan with a kept address");
        is_str(ip_of(pl, n, "private", "a"), "10.9.0.77", "a kept address is used again");
        is_str(ip_of(pl, n, "private", "b"), "10.9.0.3", "others skip it");
        vmenv_privnet_plan_free(pl, n);
        kept_a = "private=10.9.0.2";
        CHECK(vmenv_privnet_plan(c, recorded, NULL, &pl, &n, &err),
              "a plan with a kept address now fixed");
        is_str(ip_of(pl, n, "private", "a"), "10.9.0.3",
               "a kept address now fixed for another machine moves");
        vmenv_privnet_plan_free(pl, n);
        kept_a = "private=10.10.0.5";
        CHECK(vmenv_privnet_plan(c, recorded, NULL, &pl, &n, &err),
              "a plan with a kept address outside");
        is_str(ip_of(pl, n, "private", "a"), "10.9.0.3", "a kept address outside the subnet moves");
        vmenv_privnet_plan_free(pl, n);
        kept_a = NULL;
        vmenv_config_free(c);
}

static struct vmenv_privnet_spec spec_of(const char *name, const char *dir,
                                         const struct vmenv_privnet_host *hosts, size_t n)
{
        return (struct vmenv_privnet_spec){.name = name,
                                           .bridge = "vmv0123456789",
                                           .project_dir = dir,
                                           .network = "private",
                                           .dns_domain = "p.vmenv",
                                           .host_ip = "10.9.0.1",
                                           .prefix = 24,
                                           .hosts = hosts,
                                           .n_hosts = n};
}

static void test_xml(void)
{
        vmenv_error err = VMENV_ERROR_INIT;
        struct vmenv_privnet_host hosts[] = {{"web", "52:54:00:01:02:03", "10.9.0.2"},
                                             {"d<b>&'x", "52:54:00:01:02:04", "10.9.0.3"}};
        struct vmenv_privnet_spec s =
            spec_of("vmenv-p-private-0a0b0c0d", "/home/dev/a'b&<c>", hosts, 2);
        _cleanup_free_ char *xml = vmenv_libvirt_privnet_xml(&s, NULL, &err);

        if (!ok(xml != NULL, "the network XML renders"))
                return;
        ok(!strstr(xml, "<forward"), "no <forward>: isolated");
        ok(strstr(xml, "<vmenv:project>/home/dev/a&apos;b&amp;&lt;c&gt;</vmenv:project>") != NULL,
           "the project's mark, escaped");
        ok(strstr(xml, "<hostname>d&lt;b&gt;&amp;&apos;x.p.vmenv</hostname>") != NULL,
           "DNS names escaped");
        ok(strstr(xml, "<host mac='52:54:00:01:02:03' name='web' ip='10.9.0.2'/>") != NULL,
           "a DHCP reservation per machine");
        ok(strstr(xml, "<ip address='10.9.0.1' prefix='24'>") != NULL, "the host's address");
        s.host_ip = "10.9.0.1' foo='";
        ok(!vmenv_libvirt_privnet_xml(&s, NULL, &err) && err.code == VMENV_EXIT_SOFTWARE,
           "an address that is not one is refused");
        vmenv_error_clear(&err);
}

static int count_networks(struct vmenv_provider *p, const char *name)
{
        virNetworkPtr n = virNetworkLookupByName(p->conn, name);
        int active;
        if (!n)
                return 0;
        active = virNetworkIsActive(n);
        virNetworkFree(n);
        return active == 1 ? 1 : 2;
}

static void test_libvirt(void)
{
        vmenv_error err = VMENV_ERROR_INIT;
        struct vmenv_privnet_host hosts[] = {{"web", "52:54:00:01:02:03", "10.9.0.2"},
                                             {"db", "52:54:00:01:02:04", "10.9.0.3"}};
        const char *name = "vmenv-p-private-0a0b0c0d";
        struct vmenv_privnet_spec s = spec_of(name, "/home/dev/p", hosts, 1);
        struct vmenv_provider *p = ops->open("test:///default", &err);
        struct vmenv_disk_spec disk = {"/tmp/vmenv-privnet-test.qcow2", "qcow2"};
        struct vmenv_nic_spec nic = {name, "52:54:00:01:02:03"};
        struct vmenv_domain_spec dom = {.name = "vmenv-p-web-0a0b0c0d",
                                        .project_dir = "/home/dev/p",
                                        .machine = "web",
                                        .memory = 64ull << 20,
                                        .cpus = 1,
                                        .disks = &disk,
                                        .n_disks = 1,
                                        .network = "user",
                                        .nics = &nic,
                                        .n_nics = 1};
        bool removed = true;
        char *xml;
        virNetworkPtr n;

        if (!ok(p != NULL, "test:///default opens"))
                return;
        ops->set_owner(p, "/home/dev/p");
        CHECK(ops->privnet_ensure(p, &s, &err), "ensure makes the network");
        ok(count_networks(p, name) == 1, "and starts it");
        /* the test driver neither updates a running network nor shows an
         * inactive definition: the live update is covered by
         * tests/e2e/privnet.sh; here the stopped network is redefined */
        n = virNetworkLookupByName(p->conn, name);
        ok(n && virNetworkDestroy(n) == 0, "stop it");
        if (n)
                virNetworkFree(n);
        s.n_hosts = 2;
        CHECK(ops->privnet_ensure(p, &s, &err), "ensure again brings it up to date");
        ok(count_networks(p, name) == 1, "and starts it again");
        n = virNetworkLookupByName(p->conn, name);
        xml = n ? virNetworkGetXMLDesc(n, 0) : NULL;
        ok(xml && strstr(xml, "name='db'") && strstr(xml, "db.p.vmenv"),
           "the new machine's reservation and name are in its definition");
        free(xml);
        if (n)
                virNetworkFree(n);

        ops->set_owner(p, "/home/dev/other");
        ok(ops->privnet_ensure(p, &s, &err) < 0 && err.code == VMENV_EXIT_NOPERM &&
               strstr(err.msg, "belongs to the project in '/home/dev/p'") && err.hint,
           "another project's network is refused");
        vmenv_error_clear(&err);
        ok(ops->privnet_remove_unused(p, name, "private", &removed, &err) < 0 &&
               err.code == VMENV_EXIT_NOPERM,
           "and not removed for another project");
        vmenv_error_clear(&err);
        ops->set_owner(p, "/home/dev/p");
        ok(ops->privnet_ensure(p,
                               &(struct vmenv_privnet_spec){.name = name,
                                                            .bridge = "vmv0123456789",
                                                            .project_dir = "/home/dev/p",
                                                            .network = "back",
                                                            .dns_domain = "p.vmenv",
                                                            .host_ip = "10.9.0.1",
                                                            .prefix = 24},
                               &err) < 0 &&
               err.code == VMENV_EXIT_NOPERM,
           "a network marked for another network name is refused");
        vmenv_error_clear(&err);

        CHECK(ops->define(p, &dom, &err), "a domain with a NIC on it");
        CHECK(ops->privnet_remove_unused(p, name, "private", &removed, &err),
              "remove_unused while a domain uses it");
        ok(!removed && count_networks(p, name) == 1, "keeps it");
        CHECK(ops->undefine(p, dom.name, &err), "the domain goes");
        CHECK(ops->privnet_remove_unused(p, name, "private", &removed, &err),
              "remove_unused after the last domain");
        ok(removed && count_networks(p, name) == 0, "removes it");
        CHECK(ops->privnet_remove_unused(p, name, "private", &removed, &err),
              "a missing network is fine");

        /* a network vmenv did not make, under a name vmenv would use */
        n = virNetworkDefineXML(p->conn, "<network><name>vmenv-p-private-0a0b0c0d</name>"
                                         "<ip address='10.8.0.1' prefix='24'/></network>");
        ok(n != NULL, "a network made by hand");
        if (n)
                virNetworkFree(n);
        ok(ops->privnet_ensure(p, &s, &err) < 0 && err.code == VMENV_EXIT_NOPERM &&
               strstr(err.msg, "no vmenv metadata"),
           "one without the mark is refused");
        vmenv_error_clear(&err);
        ok(ops->privnet_remove_unused(p, name, "private", &removed, &err) < 0 &&
               count_networks(p, name) == 2,
           "and never removed");
        vmenv_error_clear(&err);

        p->session = true; /* what qemu:///session opens as */
        ok(ops->privnet_ensure(p, &s, &err) < 0 && err.code == VMENV_EXIT_UNAVAILABLE &&
               strstr(err.msg, "cannot make a bridge") && err.hint &&
               strstr(err.hint, "qemu:///system"),
           "session mode: a clear error with a hint");
        vmenv_error_clear(&err);
        ops->close(p);
}

int main(void)
{
        test_plan();
        test_xml();
        test_libvirt();
        return done_testing();
}
