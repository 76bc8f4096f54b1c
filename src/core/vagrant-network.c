/* vmenv import: Vagrant's private_network as vmenv's private networks.
 * Vagrant puts machines whose addresses share a subnet on one network
 * (vagrant-libvirt and VirtualBox's host-only networks both key them by
 * subnet, or by the name an option gives); vmenv keys them by `name:`. So
 * each subnet without a name gets one ("private", then "private-2", ...),
 * and every entry is checked against vmenv.yaml's rules here, so that what
 * import writes validates: what does not fit is noted at its line. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "vagrant-model.h"
#include "vmenv/cleanup.h"
#include "vmenv/config.h"
#include "vmenv/util.h"

#define MAX_NETS_PER_MACHINE 8 /* config-networks.c: MAX_PRIVNETS */
/* what a project can use at most: bounds the work a hostile file causes */
#define MAX_NETS (VMENV_CONFIG_MAX_MACHINES * MAX_NETS_PER_MACHINE)
#define DEFAULT_PREFIX 24 /* Vagrant's netmask default and vmenv's */

static uint32_t mask_of(int prefix)
{
        return prefix ? 0xffffffffu << (32 - prefix) : 0;
}

static const char *ip_text(uint32_t a, char buf[INET_ADDRSTRLEN])
{
        struct in_addr in = {htonl(a)};
        return inet_ntop(AF_INET, &in, buf, INET_ADDRSTRLEN);
}

void vi_nets_clear(struct vi_machine *mc)
{
        for (size_t i = 0; i < mc->n_nets; i++) {
                free(mc->nets[i].name);
                free(mc->nets[i].id);
        }
        free(mc->nets);
        free(mc->nets_out);
        mc->nets = NULL;
        mc->nets_out = NULL;
        mc->n_nets = mc->n_nets_out = 0;
}

/* ---- one entry ---- */

/* The network name an option gives, or NULL (noted when it is not one
 * vmenv takes). */
static char *option_name(struct vi_model *m, json_object *o, const char *key, unsigned line)
{
        json_object *v = vi_field(o, key);
        char *s;

        if (!v || json_object_is_type(v, json_type_null) || vi_bool_of(v) == 0)
                return NULL;
        if (vi_bool_of(v) == 1) /* virtualbox__intnet: true is VirtualBox's "intnet" */
                return vmenv_strdup("intnet");
        s = vi_text_of(v);
        if (s && vmenv_network_name_valid(s))
                return s;
        vi_note(m, line, "private_network %s \"%s\": not a vmenv network name (a-z, 0-9, -)", key,
                s ? s : "?");
        free(s);
        return NULL;
}

/* The options with a meaning vmenv keeps, or says why not. */
static void note_options(struct vi_model *m, json_object *o, unsigned line)
{
        static const char *const known[] = {"ip",
                                            "netmask",
                                            "type",
                                            "id",
                                            "protocol", /* Vagrant's own default on every network */
                                            "libvirt__network_name",
                                            "virtualbox__intnet",
                                            "auto_config",
                                            "libvirt__forward_mode",
                                            "libvirt__dhcp_enabled",
                                            NULL};
        const char *fwd = vi_str_field(o, "libvirt__forward_mode");

        if (vi_bool_of(vi_field(o, "auto_config")) == 0)
                vi_note(m, line,
                        "private_network auto_config: false: vmenv configures the card in the "
                        "guest itself");
        if (vi_field(o, "libvirt__forward_mode") && !vmenv_streq(fwd, "none"))
                vi_note(m, line,
                        "private_network libvirt__forward_mode: vmenv's private networks are "
                        "isolated (no forward, like 'none')");
        if (vi_field(o, "libvirt__dhcp_enabled") &&
            vi_bool_of(vi_field(o, "libvirt__dhcp_enabled")) != 1)
                vi_note(m, line,
                        "private_network libvirt__dhcp_enabled: vmenv's network always gives "
                        "its machines their addresses by DHCP");
        vi_note_other_options(m, line, "private_network", o, known);
}

/* The fixed address and its prefix; false (noted) when there is none vmenv
 * can take. *addr 0: vmenv chooses. */
static bool entry_address(struct vi_model *m, json_object *o, unsigned line, uint32_t *addr,
                          int *prefix)
{
        const char *type = vi_str_field(o, "type");
        json_object *ipv = vi_field(o, "ip"), *nmv = vi_field(o, "netmask");
        bool dhcp = vmenv_streq(type, "dhcp");
        _cleanup_free_ char *ip = NULL, *nm = NULL;
        struct in_addr in;
        char *slash;
        const char *why;
        uint32_t net;

        *addr = 0;
        *prefix = DEFAULT_PREFIX;
        if (type && !dhcp && strcmp(type, "static"))
                vi_note(m, line, "private_network type \"%s\": read as a fixed address", type);
        if (ipv && json_object_is_type(ipv, json_type_null))
                ipv = NULL;
        if (dhcp || !ipv) {
                if (dhcp && ipv)
                        vi_note(m, line, "private_network ip: ignored with type dhcp");
                else if (!dhcp)
                        vi_note(m, line,
                                "private_network without ip or type: dhcp: vmenv chooses the "
                                "address");
                if (nmv)
                        vi_note(m, line,
                                "private_network netmask: vmenv chooses a /24 for a network "
                                "without a fixed address");
                return true;
        }
        if (!(ip = vi_text_of(ipv))) {
                vi_note(m, line, "private_network ip is not an address vmenv can read");
                return false;
        }
        if (strchr(ip, ':')) {
                vi_note(m, line, "private_network ip %s: vmenv's private networks are IPv4 only",
                        ip);
                return false;
        }
        if ((slash = strchr(ip, '/'))) {
                *slash = '\0';
                if ((*prefix = vmenv_netmask_prefix(slash + 1)) < 0 || !slash[1]) {
                        vi_note(m, line, "private_network ip %s/%s: not a prefix length", ip,
                                slash + 1);
                        return false;
                }
        }
        if (inet_pton(AF_INET, ip, &in) != 1) {
                vi_note(m, line, "private_network ip \"%s\" is not an IPv4 address", ip);
                return false;
        }
        *addr = ntohl(in.s_addr);
        if (nmv) {
                int p = (nm = vi_text_of(nmv)) ? vmenv_netmask_prefix(nm) : -1;
                if (p < 0) {
                        vi_note(m, line, "private_network netmask \"%s\" is not a netmask",
                                nm ? nm : "?");
                        return false;
                }
                if (slash && p != *prefix) {
                        vi_note(m, line, "private_network netmask /%d contradicts ip %s/%d", p, ip,
                                *prefix);
                        return false;
                }
                *prefix = p;
        }
        if ((why = vmenv_privnet_refused(*addr, *prefix))) {
                vi_note(m, line, "private_network %s/%d %s", ip, *prefix, why);
                return false;
        }
        net = *addr & mask_of(*prefix);
        if (*addr == net || *addr == (net | ~mask_of(*prefix))) {
                vi_note(m, line, "private_network ip %s is the %s address of its subnet", ip,
                        *addr == net ? "network" : "broadcast");
                return false;
        }
        if (*addr == net + 1) {
                vi_note(m, line,
                        "private_network ip %s: vmenv gives the host the first address of "
                        "the subnet",
                        ip);
                return false;
        }
        return true;
}

void vi_ev_private_network(struct vi_model *m, struct vi_machine *mc, json_object *o, unsigned line)
{
        struct vi_net n = {.line = line};
        char *vb;
        json_object *idv = vi_field(o, "id");
        size_t slot = mc->n_nets;

        note_options(m, o, line);
        if (!entry_address(m, o, line, &n.addr, &n.prefix))
                return;
        n.name = option_name(m, o, "libvirt__network_name", line);
        vb = option_name(m, o, "virtualbox__intnet", line);
        if (vb && n.name && strcmp(vb, n.name))
                vi_note(m, line,
                        "private_network virtualbox__intnet \"%s\": the libvirt network name "
                        "is used",
                        vb);
        if (!n.name)
                n.name = TAKE_PTR(vb);
        free(vb);
        n.id = idv && !json_object_is_type(idv, json_type_null) ? vi_text_of(idv) : NULL;
        /* Vagrant: a later network with the same id replaces the earlier */
        for (size_t i = 0; n.id && i < mc->n_nets; i++)
                if (vmenv_streq(mc->nets[i].id, n.id))
                        slot = i;
        if (slot == mc->n_nets && mc->n_nets >= VI_MAX_ITEMS) {
                vi_note(m, line, "too many private networks");
                free(n.name);
                free(n.id);
                return;
        }
        if (slot == mc->n_nets) {
                mc->nets = vmenv_realloc(mc->nets, (mc->n_nets + 1) * sizeof(*mc->nets));
                mc->n_nets++;
        } else {
                vi_note(m, mc->nets[slot].line,
                        "private_network id \"%s\": replaced by the one with that id at line %u",
                        n.id, line);
                free(mc->nets[slot].name);
                free(mc->nets[slot].id);
        }
        mc->nets[slot] = n;
}

/* ---- across the file ---- */

struct net {
        const char *name;
        bool fixed;        /* a fixed address set its subnet */
        uint32_t subnet;   /* when fixed */
        int prefix;        /* when fixed */
        bool dhcp_default; /* the network of the entries with no address and no name */
        bool keyed;        /* unnamed: the network of the subnet below */
        uint32_t key_subnet;
        int key_prefix;
        size_t used;
};

struct ref {
        struct vi_machine *out;
        const struct vi_net *n;
};

struct plan {
        struct vi_model *m;
        struct net *nets;
        size_t n_nets;
        char **explicit_names;
        unsigned generated; /* names handed out: private, private-2, ... */
};

static struct net *net_named(struct plan *pl, const char *name)
{
        for (size_t i = 0; i < pl->n_nets; i++)
                if (!strcmp(pl->nets[i].name, name))
                        return &pl->nets[i];
        return NULL;
}

static bool strv_has(char **v, const char *s)
{
        for (; v && *v; v++)
                if (!strcmp(*v, s))
                        return true;
        return false;
}

static struct net *net_add(struct plan *pl, const char *name)
{
        struct net *n;

        if (pl->n_nets >= MAX_NETS)
                return NULL;
        if (!name) { /* a generated name: private, private-2, ... in order */
                char *g = NULL;
                do {
                        free(g);
                        g = pl->generated++ ? vmenv_strdupf("private-%u", pl->generated)
                                            : vmenv_strdup("private");
                } while (strv_has(pl->explicit_names, g) || net_named(pl, g));
                vmenv_strv_push(&pl->m->net_names, g);
                name = g;
        } else if (!strv_has(pl->m->net_names, name)) {
                vmenv_strv_push(&pl->m->net_names, vmenv_strdup(name));
        }
        for (char **v = pl->m->net_names; *v; v++)
                if (!strcmp(*v, name))
                        name = *v;   /* the copy the model owns */
        n = &pl->nets[pl->n_nets++]; /* room for one per entry: never moves */
        memset(n, 0, sizeof(*n));
        n->name = name;
        return n;
}

/* The network an entry joins: its name's; else the named or unnamed one
 * with its subnet; else a new one. hint[]: the subnets that the named
 * networks' first fixed addresses will set. */
static struct net *net_of(struct plan *pl, const struct vi_net *e, const struct net *hint,
                          size_t n_hint)
{
        uint32_t sub = e->addr & mask_of(e->prefix);
        struct net *n;

        if (e->name)
                return (n = net_named(pl, e->name)) ? n : net_add(pl, e->name);
        if (!e->addr) {
                for (size_t i = 0; i < pl->n_nets; i++)
                        if (pl->nets[i].dhcp_default)
                                return &pl->nets[i];
                if ((n = net_add(pl, NULL)))
                        n->dhcp_default = true;
                return n;
        }
        for (size_t i = 0; i < n_hint; i++)
                if (hint[i].subnet == sub && hint[i].prefix == e->prefix)
                        return (n = net_named(pl, hint[i].name)) ? n : net_add(pl, hint[i].name);
        for (size_t i = 0; i < pl->n_nets; i++)
                if (pl->nets[i].keyed && pl->nets[i].key_subnet == sub &&
                    pl->nets[i].key_prefix == e->prefix)
                        return &pl->nets[i];
        if ((n = net_add(pl, NULL))) {
                n->keyed = true;
                n->key_subnet = sub;
                n->key_prefix = e->prefix;
        }
        return n;
}

/* Whether machine out may take entry e on network n; noted when not. */
static bool entry_fits(struct plan *pl, struct net *n, const struct ref *r, const struct ref *refs,
                       const struct net **net_of_ref, size_t i_ref)
{
        const struct vi_net *e = r->n;
        const char *who = r->out->name ? r->out->name : "default";
        char a[INET_ADDRSTRLEN], s[INET_ADDRSTRLEN];

        for (size_t k = 0; k < r->out->n_nets_out; k++)
                if (!strcmp(r->out->nets_out[k].name ? r->out->nets_out[k].name : "private",
                            n->name)) {
                        vi_note(pl->m, e->line,
                                "private_network: machine '%s' is already on network '%s' "
                                "(vmenv gives a machine one card per network)",
                                who, n->name);
                        return false;
                }
        if (!e->addr)
                return true;
        ip_text(e->addr, a);
        if (n->fixed && (e->prefix != n->prefix || (e->addr & mask_of(n->prefix)) != n->subnet)) {
                vi_note(pl->m, e->line, "private_network ip %s/%d is outside network '%s' (%s/%d)",
                        a, e->prefix, n->name, ip_text(n->subnet, s), n->prefix);
                return false;
        }
        if (n->fixed && e->addr == n->subnet + 1) {
                vi_note(pl->m, e->line,
                        "private_network ip %s: vmenv gives the host the first address of "
                        "the subnet",
                        a);
                return false;
        }
        for (size_t j = 0; j < i_ref; j++)
                if (net_of_ref[j] == n && refs[j].n->addr == e->addr) {
                        vi_note(pl->m, e->line,
                                "private_network ip %s is already the address of machine '%s'", a,
                                refs[j].out->name ? refs[j].out->name : "default");
                        return false;
                }
        if (!n->fixed) {
                uint32_t sub = e->addr & mask_of(e->prefix);
                for (size_t k = 0; k < pl->n_nets; k++) {
                        const struct net *o = &pl->nets[k];
                        int p = o->prefix < e->prefix ? o->prefix : e->prefix;
                        if (o == n || !o->fixed || (o->subnet & mask_of(p)) != (sub & mask_of(p)))
                                continue;
                        vi_note(pl->m, e->line,
                                "private_network ip %s/%d: its subnet overlaps network '%s' "
                                "(%s/%d)",
                                a, e->prefix, o->name, ip_text(o->subnet, s), o->prefix);
                        return false;
                }
                n->fixed = true;
                n->subnet = sub;
                n->prefix = e->prefix;
        }
        return true;
}

/* The entries of machine own (NULL: the file has no machines): the top
 * level's first, less those whose id the machine's replace, as Vagrant
 * merges them. */
static void add_refs(struct vi_model *m, struct vi_machine *out, const struct vi_machine *own,
                     struct ref **refs, size_t *n)
{
        for (size_t i = 0; i < m->top.n_nets; i++) {
                bool replaced = false;
                for (size_t j = 0; own && m->top.nets[i].id && j < own->n_nets; j++)
                        replaced |= vmenv_streq(own->nets[j].id, m->top.nets[i].id);
                if (replaced)
                        continue;
                *refs = vmenv_realloc(*refs, (*n + 1) * sizeof(**refs));
                (*refs)[(*n)++] = (struct ref){out, &m->top.nets[i]};
        }
        for (size_t j = 0; own && j < own->n_nets; j++) {
                *refs = vmenv_realloc(*refs, (*n + 1) * sizeof(**refs));
                (*refs)[(*n)++] = (struct ref){out, &own->nets[j]};
        }
}

/* Networks without a fixed address get 192.168.N.0/24 subnets (N from 56)
 * that no fixed one overlaps: the ones past the last free subnet are
 * noted, not written, as vmenv would refuse them. */
static void drop_unplaceable(struct plan *pl, const struct ref *refs, size_t n)
{
        size_t free_subnets = 0, placed = 0;

        for (uint32_t third = 56; third <= 255; third++) {
                uint32_t sub = (192u << 24) | (168u << 16) | (third << 8);
                bool taken = false;
                for (size_t k = 0; k < pl->n_nets && !taken; k++) {
                        const struct net *o = &pl->nets[k];
                        int p = o->prefix < 24 ? o->prefix : 24;
                        taken = o->fixed && (o->subnet & mask_of(p)) == (sub & mask_of(p));
                }
                free_subnets += !taken;
        }
        for (size_t k = 0; k < pl->n_nets; k++) {
                struct net *o = &pl->nets[k];
                if (o->fixed || !o->used || ++placed <= free_subnets)
                        continue;
                for (size_t i = 0; i < n; i++) {
                        struct vi_machine *out = refs[i].out;
                        for (size_t j = 0; j < out->n_nets_out; j++) {
                                const char *nm = out->nets_out[j].name;
                                if (strcmp(nm ? nm : "private", o->name))
                                        continue;
                                vi_note(pl->m, out->nets_out[j].line,
                                        "private_network: no 192.168.N.0/24 subnet is left for "
                                        "network '%s'",
                                        o->name);
                                memmove(&out->nets_out[j], &out->nets_out[j + 1],
                                        (out->n_nets_out - j - 1) * sizeof(*out->nets_out));
                                out->n_nets_out--;
                                break;
                        }
                }
        }
}

void vi_nets_resolve(struct vi_model *m)
{
        struct plan pl = {.m = m};
        _cleanup_free_ struct ref *refs = NULL;
        _cleanup_free_ struct net *hint = NULL;
        _cleanup_free_ const struct net **net_of_ref = NULL;
        size_t n = 0, n_hint = 0;

        if (!m->n_machines)
                add_refs(m, &m->top, NULL, &refs, &n);
        for (size_t i = 0; i < m->n_machines; i++)
                add_refs(m, &m->machines[i], &m->machines[i], &refs, &n);
        if (!n)
                return;
        /* the subnet each named network's first fixed address gives it:
         * an entry without a name on that subnet joins it */
        hint = vmenv_calloc(n, sizeof(*hint));
        for (size_t i = 0; i < n; i++) {
                const struct vi_net *e = refs[i].n;
                bool seen = false;
                if (!e->name)
                        continue;
                if (!strv_has(pl.explicit_names, e->name))
                        vmenv_strv_push(&pl.explicit_names, vmenv_strdup(e->name));
                for (size_t k = 0; k < n_hint && !seen; k++)
                        seen = !strcmp(hint[k].name, e->name);
                if (!seen && e->addr)
                        hint[n_hint++] = (struct net){.name = e->name,
                                                      .subnet = e->addr & mask_of(e->prefix),
                                                      .prefix = e->prefix};
        }
        net_of_ref = vmenv_calloc(n, sizeof(*net_of_ref));
        pl.nets = vmenv_calloc(n, sizeof(*pl.nets));
        for (size_t i = 0; i < n; i++) {
                struct vi_machine *out = refs[i].out;
                size_t before = pl.n_nets;
                struct net *nt;
                uint64_t room;
                /* checked before a network is made for it, and a network
                 * made for an entry that then does not fit is dropped:
                 * refused entries make no networks (a hostile file's
                 * thousands of them cost no more than the ones that fit) */
                if (out->n_nets_out >= MAX_NETS_PER_MACHINE) {
                        vi_note(m, refs[i].n->line,
                                "private_network: machine '%s' has %d networks already",
                                out->name ? out->name : "default", MAX_NETS_PER_MACHINE);
                        continue;
                }
                nt = net_of(&pl, refs[i].n, hint, n_hint);
                if (!nt) {
                        vi_note(m, refs[i].n->line,
                                "private_network: more than %d networks in one project", MAX_NETS);
                        continue;
                }
                if (!entry_fits(&pl, nt, &refs[i], refs, net_of_ref, i)) {
                        if (pl.n_nets > before && !nt->used)
                                pl.n_nets = before;
                        continue;
                }
                room = (1ull << (32 - (nt->fixed ? nt->prefix : DEFAULT_PREFIX))) - 3;
                if (++nt->used > room) {
                        vi_note(m, refs[i].n->line,
                                "private_network: network '%s' has room for %llu machines",
                                nt->name, (unsigned long long)room);
                        nt->used--;
                        continue;
                }
                net_of_ref[i] = nt;
                out->nets_out =
                    vmenv_realloc(out->nets_out, (out->n_nets_out + 1) * sizeof(*out->nets_out));
                out->nets_out[out->n_nets_out++] = (struct vi_net_out){
                    refs[i].n->addr, refs[i].n->addr ? refs[i].n->prefix : DEFAULT_PREFIX,
                    strcmp(nt->name, "private") ? nt->name : NULL, refs[i].n->line};
        }
        drop_unplaceable(&pl, refs, n);
        vmenv_strv_free(pl.explicit_names);
        free(pl.nets);
}
