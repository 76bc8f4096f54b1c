/* vmenv.yaml, private networks: each `networks:` entry of a machine, and the
 * rules across machines (one subnet per network, no address twice, no
 * network over another or over one of the host's own addresses). */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config-private.h"
#include "vmenv/cleanup.h"
#include "vmenv/state.h"
#include "vmenv/util.h"

#define MAX_PRIVNETS 8
#define NET_NAME_MAX 16
#define PREFIX_MIN 8
#define PREFIX_MAX 29
#define PREFIX_DEFAULT 24 /* no netmask given */

static const char *const privnet_keys[] = {"type", "ip", "netmask", "name", NULL};
static const char *const privnet_types[] = {"private", NULL};

static uint32_t mask_of(int prefix)
{
        return prefix ? 0xffffffffu << (32 - prefix) : 0;
}

static void ip_text(uint32_t a, char buf[INET_ADDRSTRLEN])
{
        struct in_addr in = {htonl(a)};
        inet_ntop(AF_INET, &in, buf, INET_ADDRSTRLEN);
}

static bool parse_ipv4(const char *s, uint32_t *out)
{
        struct in_addr in;

        if (inet_pton(AF_INET, s, &in) != 1)
                return false;
        *out = ntohl(in.s_addr);
        return true;
}

int vmenv_netmask_prefix(const char *s)
{
        uint32_t m;
        char *end;
        long v;

        if (*s == '/')
                s++;
        if (parse_ipv4(s, &m)) {
                int prefix = 0;
                while (prefix < 32 && (m & (0x80000000u >> prefix)))
                        prefix++;
                return prefix > 0 && m == mask_of(prefix) ? prefix : -1;
        }
        /* one or two plain digits: no sign, blanks or leading zeros; /0 is
         * no network of its own */
        if (!(s[0] >= '1' && s[0] <= '9') || (s[1] && !(s[1] >= '0' && s[1] <= '9')) ||
            (s[1] && s[2]))
                return -1;
        v = strtol(s, &end, 10);
        if (*end || v < 1 || v > 32)
                return -1;
        return (int)v;
}

bool vmenv_network_name_valid(const char *s)
{
        size_t n = strlen(s);

        if (!n || n > NET_NAME_MAX || s[0] == '-' || s[n - 1] == '-')
                return false;
        for (; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-'))
                        return false;
        return true;
}

/* Addresses that no machine may have on a network of its own. */
static const char *reserved_why(uint32_t a)
{
        if ((a >> 24) == 0)
                return "is in 0.0.0.0/8 (this host on this network)";
        if ((a >> 24) == 127)
                return "is a loopback address";
        if ((a >> 16) == ((169u << 8) | 254u))
                return "is a link-local address";
        if ((a >> 28) >= 14)
                return "is a multicast or reserved address";
        return NULL;
}

/* Whether the whole subnet IP/PREFIX lies in RFC 1918 space: a route to
 * anything else (a public, CGNAT or VPN range) would be taken from the host
 * by a project file. */
static bool private_range_addr(uint32_t a, int prefix)
{
        static const struct {
                uint32_t net;
                int prefix;
        } ranges[] = {
            {0x0a000000u, 8},  /* 10.0.0.0/8 */
            {0xac100000u, 12}, /* 172.16.0.0/12 */
            {0xc0a80000u, 16}, /* 192.168.0.0/16 */
        };

        for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++)
                if (prefix >= ranges[i].prefix && (a & mask_of(ranges[i].prefix)) == ranges[i].net)
                        return true;
        return false;
}

static bool private_range(const char *ip, int prefix)
{
        uint32_t a;

        return parse_ipv4(ip, &a) && private_range_addr(a, prefix);
}

const char *vmenv_privnet_refused(uint32_t a, int prefix)
{
        const char *why = reserved_why(a);

        if (why)
                return why;
        if (prefix < PREFIX_MIN || prefix > PREFIX_MAX)
                return "has a netmask vmenv does not take (/8 to /29)";
        if (!private_range_addr(a, prefix))
                return "is not inside a private range (10.0.0.0/8, 172.16.0.0/12, "
                       "192.168.0.0/16)";
        return NULL;
}

/* A network's prefix length: its own, else the default. */
static int net_prefix(const struct vmenv_private_net *e)
{
        return e->prefix ? e->prefix : PREFIX_DEFAULT;
}

static int parse_privnet(struct pctx *p, const struct ynode *n, const char *path,
                         struct vmenv_private_net *e)
{
        _cleanup_free_ char *type = NULL, *netmask = NULL;
        const struct ynode *ip_node = NULL, *mask_node = NULL;
        _cleanup_free_ char *mask_key = NULL;

        if (vmenv_cfg_need(p, n, Y_MAP, path) < 0)
                return -1;
        e->where = (struct vmenv_where){n->line, n->col};
        for (size_t i = 0; i < n->n; i += 2) {
                const struct ynode *k = n->kids[i], *v = n->kids[i + 1];
                _cleanup_free_ char *kp = vmenv_cfg_key_path(path, k->s);
                int r;

                if (!strcmp(k->s, "type")) {
                        r = vmenv_cfg_get_enum(p, v, kp, privnet_types, &type);
                } else if (!strcmp(k->s, "ip")) {
                        r = vmenv_cfg_get_str(p, v, kp, &e->ip);
                        ip_node = v;
                } else if (!strcmp(k->s, "netmask")) {
                        r = vmenv_cfg_get_str(p, v, kp, &netmask);
                        mask_node = v;
                        free(mask_key);
                        mask_key = vmenv_strdup(kp);
                } else if (!strcmp(k->s, "name")) {
                        r = vmenv_cfg_get_str(p, v, kp, &e->name);
                        if (!r && !vmenv_network_name_valid(e->name))
                                r = vmenv_cfg_fail(p, v, kp,
                                                   "invalid network name \"%s\": use a-z, 0-9 and "
                                                   "'-', at most %d characters, not starting or "
                                                   "ending in '-'",
                                                   e->name, NET_NAME_MAX);
                } else {
                        r = vmenv_cfg_unknown_key(p, k, kp, privnet_keys);
                }
                if (r < 0)
                        return -1;
        }
        if (!type) {
                vmenv_cfg_fail(p, n, path, "a network needs 'type'");
                return vmenv_error_hint(p->err, "write '{ type: private, ip: 192.168.56.10 }'");
        }
        if (!e->name)
                e->name = vmenv_strdup("private");
        if (e->ip) {
                _cleanup_free_ char *kp = vmenv_cfg_key_path(path, "ip");
                char *slash = strchr(e->ip, '/');
                uint32_t a;
                const char *why;

                if (slash) {
                        int prefix = vmenv_netmask_prefix(slash + 1);
                        if (prefix < 0 || !slash[1])
                                return vmenv_cfg_fail(p, ip_node, kp,
                                                      "\"%s\" is not an IPv4 address with a "
                                                      "prefix length (like 192.168.56.10/24)",
                                                      e->ip);
                        e->prefix = prefix;
                        *slash = '\0';
                }
                if (!parse_ipv4(e->ip, &a)) {
                        vmenv_cfg_fail(p, ip_node, kp, "\"%s\" is not an IPv4 address", e->ip);
                        return vmenv_error_hint(p->err, "write four numbers like 192.168.56.10");
                }
                if ((why = reserved_why(a)))
                        return vmenv_cfg_fail(p, ip_node, kp, "%s %s", e->ip, why);
        }
        if (netmask) {
                int prefix = vmenv_netmask_prefix(netmask);
                if (prefix < 0)
                        return vmenv_cfg_fail(p, mask_node, mask_key,
                                              "\"%s\" is not a netmask (like 255.255.255.0 or 24)",
                                              netmask);
                if (e->prefix && e->prefix != prefix)
                        return vmenv_cfg_fail(p, mask_node, mask_key,
                                              "netmask /%d contradicts the /%d of ip", prefix,
                                              e->prefix);
                e->prefix = prefix;
        }
        if (e->prefix && (e->prefix < PREFIX_MIN || e->prefix > PREFIX_MAX))
                return vmenv_cfg_fail(p, mask_node ? mask_node : ip_node,
                                      mask_node ? mask_key : path,
                                      "a /%d network is not supported: use /%d to /%d", e->prefix,
                                      PREFIX_MIN, PREFIX_MAX);
        if (e->ip && !private_range(e->ip, net_prefix(e))) {
                _cleanup_free_ char *kp = vmenv_cfg_key_path(path, "ip");
                vmenv_cfg_fail(p, ip_node, kp,
                               "%s/%d is not inside a private range (10.0.0.0/8, 172.16.0.0/12, "
                               "192.168.0.0/16)",
                               e->ip, net_prefix(e));
                return vmenv_error_hint(p->err, "a project's network elsewhere would take over "
                                                "this host's routes to those addresses; pick an "
                                                "address like 192.168.56.10");
        }
        if (e->prefix && !e->ip) {
                vmenv_cfg_fail(p, mask_node, mask_key, "a netmask needs an 'ip' in that subnet");
                return vmenv_error_hint(p->err, "give the machine a fixed address, or drop "
                                                "'netmask' to let vmenv choose one");
        }
        return 0;
}

static int one_privnet(struct pctx *p, const struct ynode *n, const char *path, size_t i, void *out)
{
        (void)i;
        return parse_privnet(p, n, path, out);
}

void vmenv_cfg_privnets_free(struct vmenv_machine_config *m)
{
        for (size_t i = 0; i < m->n_privnets; i++) {
                free(m->privnets[i].name);
                free(m->privnets[i].ip);
        }
        free(m->privnets);
        m->privnets = NULL;
        m->n_privnets = 0;
}

int vmenv_cfg_parse_privnets(struct pctx *p, const struct ynode *n, const char *path,
                             struct vmenv_machine_config *m)
{
        if (vmenv_cfg_parse_list(p, n, path, MAX_PRIVNETS, sizeof(*m->privnets),
                                 (void **)&m->privnets, &m->n_privnets, one_privnet) < 0)
                return -1;
        for (size_t i = 0; i < m->n_privnets; i++)
                for (size_t j = 0; j < i; j++)
                        if (!strcmp(m->privnets[i].name, m->privnets[j].name)) {
                                const struct vmenv_where *w = &m->privnets[i].where;
                                vmenv_cfg_fail_at(p, w->line, w->column,
                                                  "%s[%zu]: the machine is already on network "
                                                  "'%s' (entry %zu)",
                                                  path, i, m->privnets[i].name, j);
                                return vmenv_error_hint(p->err, "give each network another "
                                                                "'name', or drop one entry");
                        }
        return 0;
}

/* ---- across machines ---- */

struct entry_ref {
        const struct vmenv_machine_config *m;
        const struct vmenv_private_net *e;
        const char *prefix; /* key path of the machine's networks */
        size_t index;
};

static const struct vmenv_network_def *find_net(const struct vmenv_config *c, const char *name)
{
        for (size_t i = 0; i < c->n_networks; i++)
                if (!strcmp(c->networks[i].name, name))
                        return &c->networks[i];
        return NULL;
}

const struct vmenv_network_def *vmenv_config_network(const struct vmenv_config *c, const char *name)
{
        return find_net(c, name);
}

static bool nets_overlap(uint32_t a, int pa, uint32_t b, int pb)
{
        uint32_t m = mask_of(pa < pb ? pa : pb);
        return (a & m) == (b & m);
}

/* The subnet of network `name`: its first fixed address's. */
static int define_net(struct pctx *p, struct vmenv_config *c, const struct entry_ref *refs,
                      size_t n, const char *name)
{
        struct vmenv_network_def *d = &c->networks[c->n_networks];
        const struct entry_ref *first = NULL;
        char sub[INET_ADDRSTRLEN];

        for (size_t i = 0; i < n && !first; i++)
                if (!strcmp(refs[i].e->name, name) && refs[i].e->ip)
                        first = &refs[i];
        d->name = vmenv_strdup(name);
        c->n_networks++;
        if (first) {
                uint32_t a = 0;
                parse_ipv4(first->e->ip, &a);
                d->prefix = net_prefix(first->e);
                d->subnet = a & mask_of(d->prefix);
                d->where = first->e->where;
        } else {
                /* 192.168.56.0/24 is the host-only range Vagrant users know */
                unsigned third = 56;
                d->automatic = true;
                for (size_t i = 0; i < n; i++)
                        if (!strcmp(refs[i].e->name, name)) {
                                d->where = refs[i].e->where;
                                break;
                        }
                d->prefix = PREFIX_DEFAULT;
                for (;; third++) {
                        bool taken = false;
                        if (third > 255)
                                return vmenv_cfg_fail_at(
                                    p, d->where.line, d->where.column,
                                    "no free 192.168.N.0/24 subnet for network '%s'", name);
                        d->subnet = (192u << 24) | (168u << 16) | (third << 8);
                        for (size_t i = 0; i + 1 < c->n_networks && !taken; i++)
                                taken = nets_overlap(c->networks[i].subnet, c->networks[i].prefix,
                                                     d->subnet, d->prefix);
                        for (size_t i = 0; i < n && !taken; i++) {
                                uint32_t a;
                                taken =
                                    refs[i].e->ip && parse_ipv4(refs[i].e->ip, &a) &&
                                    nets_overlap(a, net_prefix(refs[i].e), d->subnet, d->prefix);
                        }
                        if (!taken)
                                break;
                }
                return 0;
        }
        for (size_t i = 0; i + 1 < c->n_networks; i++) {
                const struct vmenv_network_def *o = &c->networks[i];
                char osub[INET_ADDRSTRLEN];
                if (!nets_overlap(o->subnet, o->prefix, d->subnet, d->prefix))
                        continue;
                ip_text(d->subnet, sub);
                ip_text(o->subnet, osub);
                vmenv_cfg_fail_at(p, d->where.line, d->where.column,
                                  "%s[%zu].ip: network '%s' (%s/%d) overlaps network '%s' "
                                  "(%s/%d)",
                                  first->prefix, first->index, name, sub, d->prefix, o->name, osub,
                                  o->prefix);
                return vmenv_error_hint(p->err, "machines on one network share one 'name'; "
                                                "give different networks different subnets");
        }
        return 0;
}

static int check_entry(struct pctx *p, const struct vmenv_network_def *d, const struct entry_ref *r,
                       const struct entry_ref *refs, size_t i_ref)
{
        char sub[INET_ADDRSTRLEN], host[INET_ADDRSTRLEN];
        uint32_t a = 0, m = mask_of(d->prefix);
        const struct vmenv_where *w = &r->e->where;

        ip_text(d->subnet, sub);
        if (!r->e->ip)
                return 0;
        parse_ipv4(r->e->ip, &a);
        if (r->e->prefix && r->e->prefix != d->prefix) {
                vmenv_cfg_fail_at(p, w->line, w->column,
                                  "%s[%zu]: netmask /%d differs from the /%d of network '%s' "
                                  "(%s/%d, set at line %u)",
                                  r->prefix, r->index, r->e->prefix, d->prefix, d->name, sub,
                                  d->prefix, d->where.line);
                return vmenv_error_hint(p->err, "machines on one network share its netmask");
        }
        if ((a & m) != d->subnet) {
                vmenv_cfg_fail_at(p, w->line, w->column,
                                  "%s[%zu].ip: %s is outside network '%s' (%s/%d, set at line %u)",
                                  r->prefix, r->index, r->e->ip, d->name, sub, d->prefix,
                                  d->where.line);
                return vmenv_error_hint(p->err,
                                        "use an address in %s/%d, or another 'name' for "
                                        "another network",
                                        sub, d->prefix);
        }
        ip_text(d->subnet + 1, host);
        if (a == d->subnet || a == (d->subnet | ~m))
                return vmenv_cfg_fail_at(
                    p, w->line, w->column, "%s[%zu].ip: %s is the %s address of %s/%d", r->prefix,
                    r->index, r->e->ip, a == d->subnet ? "network" : "broadcast", sub, d->prefix);
        if (a == d->subnet + 1) {
                vmenv_cfg_fail_at(p, w->line, w->column,
                                  "%s[%zu].ip: %s is the host's own address on network '%s'",
                                  r->prefix, r->index, r->e->ip, d->name);
                return vmenv_error_hint(p->err, "the host takes the first address of the subnet; "
                                                "pick another one");
        }
        for (size_t j = 0; j < i_ref; j++) {
                uint32_t b;
                if (!refs[j].e->ip || strcmp(refs[j].e->name, d->name) ||
                    !parse_ipv4(refs[j].e->ip, &b) || a != b)
                        continue;
                vmenv_cfg_fail_at(p, w->line, w->column,
                                  "%s[%zu].ip: %s is already the address of machine '%s' (line %u)",
                                  r->prefix, r->index, r->e->ip, refs[j].m->name,
                                  refs[j].e->where.line);
                return vmenv_error_hint(p->err, "give every machine its own address");
        }
        return 0;
}

int vmenv_cfg_check_networks(struct pctx *p, struct vmenv_config *c, struct mstate *st)
{
        _cleanup_free_ struct entry_ref *refs = NULL;
        size_t n = 0, total = 0;

        for (size_t i = 0; i < c->n_machines; i++)
                total += c->machines[i].n_privnets;
        if (!total)
                return 0;
        refs = vmenv_calloc(total, sizeof(*refs));
        for (size_t i = 0; i < c->n_machines; i++)
                for (size_t j = 0; j < c->machines[i].n_privnets; j++)
                        refs[n++] = (struct entry_ref){&c->machines[i], &c->machines[i].privnets[j],
                                                       st[i].net_prefix, j};
        c->networks = vmenv_calloc(total, sizeof(*c->networks));
        for (size_t i = 0; i < n; i++)
                if (!find_net(c, refs[i].e->name) && define_net(p, c, refs, n, refs[i].e->name) < 0)
                        return -1;
        for (size_t k = 0; k < c->n_networks; k++) {
                const struct vmenv_network_def *d = &c->networks[k];
                uint64_t room = (1ull << (32 - d->prefix)) - 3, used = 0;
                for (size_t i = 0; i < n; i++) {
                        if (strcmp(refs[i].e->name, d->name))
                                continue;
                        if (check_entry(p, d, &refs[i], refs, i) < 0)
                                return -1;
                        if (++used > room) {
                                const struct vmenv_where *w = &refs[i].e->where;
                                return vmenv_cfg_fail_at(p, w->line, w->column,
                                                         "%s[%zu]: network '%s' has room for "
                                                         "%llu machines",
                                                         refs[i].prefix, refs[i].index, d->name,
                                                         (unsigned long long)room);
                        }
                }
        }
        return 0;
}

/* ---- the host's own addresses ---- */

int vmenv_config_check_host(const struct vmenv_config *c, const char *path,
                            const struct vmenv_host_addr *addrs, size_t n, vmenv_error *err)
{
        struct pctx p = {.path = path, .err = err};

        for (size_t k = 0; k < c->n_networks; k++) {
                const struct vmenv_network_def *d = &c->networks[k];
                for (size_t i = 0; i < n; i++) {
                        char sub[INET_ADDRSTRLEN], a[INET_ADDRSTRLEN];
                        if (!nets_overlap(d->subnet, d->prefix, addrs[i].addr, addrs[i].prefix))
                                continue;
                        ip_text(d->subnet, sub);
                        ip_text(addrs[i].addr, a);
                        vmenv_cfg_fail_at(&p, d->where.line, d->where.column,
                                          "network '%s' (%s/%d) overlaps the host's address "
                                          "%s/%d on '%s'",
                                          d->name, sub, d->prefix, a, addrs[i].prefix,
                                          addrs[i].ifname);
                        return vmenv_error_hint(err, "the host would not know where to send "
                                                     "that subnet's packets: pick a subnet the "
                                                     "host does not use ('ip -4 addr' lists "
                                                     "them)");
                }
        }
        return 0;
}

static int prefix_of(const struct sockaddr *mask)
{
        uint32_t m;
        int prefix = 0;

        if (!mask || mask->sa_family != AF_INET)
                return 32;
        m = ntohl(((const struct sockaddr_in *)(const void *)mask)->sin_addr.s_addr);
        while (prefix < 32 && (m & (0x80000000u >> prefix)))
                prefix++;
        return prefix;
}

/* The host's IPv4 addresses; *ifs holds the interface names they point to. */
static int host_addrs(struct ifaddrs **ifs, struct vmenv_host_addr **out, size_t *count,
                      vmenv_error *err)
{
        struct vmenv_host_addr *a = NULL;
        size_t n = 0, cap = 0;

        if (getifaddrs(ifs) < 0)
                return vmenv_error_errno(err, VMENV_EXIT_FAILURE, errno,
                                         "cannot read the host's addresses");
        for (struct ifaddrs *i = *ifs; i; i = i->ifa_next) {
                if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET)
                        continue;
                if (n == cap) {
                        cap = cap ? 2 * cap : 8;
                        a = vmenv_realloc(a, cap * sizeof(*a));
                }
                a[n++] = (struct vmenv_host_addr){
                    i->ifa_name,
                    ntohl(((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr.s_addr),
                    prefix_of(i->ifa_netmask)};
        }
        *out = a;
        *count = n;
        return 0;
}

/* Whether ifname is the bridge of one of the project's networks. */
static bool own_bridge(const struct vmenv_config *c, const char *ifname)
{
        if (!c->dir)
                return false;
        for (size_t k = 0; k < c->n_networks; k++) {
                _cleanup_free_ char *br = vmenv_network_bridge(c, c->networks[k].name);
                if (!strcmp(br, ifname))
                        return true;
        }
        return false;
}

int vmenv_config_check_host_addrs(const struct vmenv_config *c, const char *path, vmenv_error *err)
{
        struct ifaddrs *ifs = NULL;
        struct vmenv_host_addr *a = NULL;
        size_t n = 0, kept = 0;
        int r;

        if (!c->n_networks)
                return 0;
        if (host_addrs(&ifs, &a, &n, err) < 0)
                return -1;
        for (size_t i = 0; i < n; i++)
                if (!own_bridge(c, a[i].ifname))
                        a[kept++] = a[i];
        r = vmenv_config_check_host(c, path, a, kept, err);
        free(a);
        freeifaddrs(ifs);
        return r;
}

/* ---- choosing a subnet on this host ---- */

/* Whether network k may have subnet sub/24 on this host: no fixed network
 * and no network placed before it overlaps, nor any host address that is
 * not on one of the project's bridges. */
static bool subnet_free(const struct vmenv_config *c, size_t k, uint32_t sub,
                        const struct vmenv_host_addr *addrs, const bool *on_own, size_t n)
{
        for (size_t i = 0; i < c->n_networks; i++) {
                const struct vmenv_network_def *o = &c->networks[i];
                if (i == k || (o->automatic && i > k))
                        continue;
                if (nets_overlap(o->subnet, o->prefix, sub, PREFIX_DEFAULT))
                        return false;
        }
        for (size_t i = 0; i < n; i++)
                if (!on_own[i] && nets_overlap(addrs[i].addr, addrs[i].prefix, sub, PREFIX_DEFAULT))
                        return false;
        return true;
}

void vmenv_config_place_networks(struct vmenv_config *c, const struct vmenv_host_addr *addrs,
                                 size_t n)
{
        _cleanup_free_ bool *on_own = vmenv_calloc(n + 1, sizeof(*on_own));

        for (size_t i = 0; i < n; i++)
                on_own[i] = own_bridge(c, addrs[i].ifname);
        for (size_t k = 0; k < c->n_networks; k++) {
                struct vmenv_network_def *d = &c->networks[k];
                _cleanup_free_ char *br = c->dir ? vmenv_network_bridge(c, d->name) : NULL;
                bool placed = false;

                if (!d->automatic)
                        continue;
                /* up already: its bridge holds the subnet it has; keep it */
                for (size_t i = 0; i < n && !placed && br; i++) {
                        uint32_t sub = addrs[i].addr & mask_of(PREFIX_DEFAULT);
                        if (strcmp(addrs[i].ifname, br) || (sub >> 16) != ((192u << 8) | 168u) ||
                            ((sub >> 8) & 0xff) < 56 || !subnet_free(c, k, sub, addrs, on_own, n))
                                continue;
                        d->subnet = sub;
                        placed = true;
                }
                for (uint32_t third = 56; third <= 255 && !placed; third++) {
                        uint32_t sub = (192u << 24) | (168u << 16) | (third << 8);
                        if (!subnet_free(c, k, sub, addrs, on_own, n))
                                continue;
                        d->subnet = sub;
                        placed = true;
                }
        }
}

void vmenv_config_place_networks_here(struct vmenv_config *c)
{
        vmenv_error err = VMENV_ERROR_INIT;
        struct ifaddrs *ifs = NULL;
        struct vmenv_host_addr *a = NULL;
        size_t n = 0;
        bool any = false;

        for (size_t k = 0; k < c->n_networks; k++)
                any |= c->networks[k].automatic;
        if (!any)
                return;
        if (host_addrs(&ifs, &a, &n, &err) < 0) {
                /* the file's choice stands; validate and up say what overlaps */
                vmenv_error_clear(&err);
                return;
        }
        vmenv_config_place_networks(c, a, n);
        free(a);
        freeifaddrs(ifs);
}
