/* From a box to a defined domain: the box in the store and the pool, the
 * machine's overlay disk, its shared folders, its definition (its ports:
 * machine-ports.c), and the start that moves a port found taken. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "machine-private.h"
#include "vmenv/lock.h"
#include "vmenv/log.h"
#include "vmenv/privnet.h"
#include "vmenv/util.h"

static char *box_volume_prefix(const char *box)
{
        struct vmenv_buf b = {0};
        vmenv_buf_puts(&b, "vmenv-box-");
        for (const char *c = box; *c; c++)
                vmenv_buf_add(&b, (*c == '/' || *c == ':') ? "_" : c, 1);
        vmenv_buf_puts(&b, "-");
        return vmenv_buf_steal(&b);
}

/* "<prefix><version>@<12 hex of its digest>.qcow2": the pool is shared by
 * every store of the host, and a version published again with other
 * content (or a store with another box of that name) must not reuse a copy
 * made from different bytes. Without a digest (a store copied from
 * Vagrant): "<prefix><version>.qcow2". */
static char *box_volume_name(const char *box, const char *version, const char *digest,
                             const char *format)
{
        _cleanup_free_ char *prefix = box_volume_prefix(box);
        const char *hex = digest ? strchr(digest, ':') : NULL;
        const char *ext = vmenv_streq(format, "raw") ? "img" : "qcow2";

        if (hex && strlen(hex + 1) >= 12)
                return vmenv_strdupf("%s%s@%.12s.%s", prefix, version, hex + 1, ext);
        return vmenv_strdupf("%s%s.%s", prefix, version, ext);
}

int vmenv_box_pool_remove(const struct vmenv_provider_ops *ops, const char *box,
                          const char *version, vmenv_error *err)
{
        _cleanup_free_ char *prefix = box_volume_prefix(box);
        struct vmenv_provider *conn;
        vmenv_error e = VMENV_ERROR_INIT;
        char **names = NULL;
        int r = 0;

        /* The store is the user's; a libvirt that is down must not keep a
         * box from being removed. */
        if (!(conn = ops->open(NULL, &e))) {
                vmenv_debug("not removing pool copies of '%s': %s", box, e.msg);
                vmenv_error_clear(&e);
                return 0;
        }
        if (ops->volume_list(conn, NULL, prefix, &names, &e) < 0) {
                vmenv_debug("not removing pool copies of '%s': %s", box, e.msg);
                vmenv_error_clear(&e);
                goto out;
        }
        for (char **n = names; *n; n++) {
                /* the rest must be exactly "<version>[@<digest>].<ext>":
                 * "tiny-nossh-1.0" is another box than "tiny" */
                _cleanup_free_ char *ver = vmenv_strdup(*n + strlen(prefix));
                char *dot = strrchr(ver, '.'), *at;
                if (!dot || (strcmp(dot, ".qcow2") && strcmp(dot, ".img")))
                        continue;
                *dot = '\0';
                if ((at = strchr(ver, '@')))
                        *at = '\0';
                if (!vmenv_version_valid(ver) || (version && strcmp(ver, version)))
                        continue;
                if (ops->volume_delete(conn, NULL, *n, &e) < 0) {
                        vmenv_warn("kept '%s' in the storage pool: %s", *n, e.msg);
                        vmenv_error_clear(&e);
                        continue;
                }
                vmenv_debug("removed '%s' from the storage pool", *n);
        }
out:
        vmenv_strv_free(names);
        ops->close(conn);
        return r;
}

static void fs_specs_free(struct vmenv_fs_spec *fs)
{
        for (size_t i = 0; fs && fs[i].tag; i++) {
                free((char *)fs[i].host_path);
                free((char *)fs[i].tag);
        }
        free(fs);
}
VMENV_DEFINE_CLEANUP(struct vmenv_fs_spec, fs_specs_free)

/* Whether a 9p/virtiofs share of the real folder host contains the
 * project's .vmenv/ (or lies inside it): the guest would read every
 * machine's private key and could plant files vmenv reads. */
static bool holds_private_state(const struct vmenv_project *p, const char *host)
{
        _cleanup_free_ char *dir = realpath(p->config->dir, NULL);
        _cleanup_free_ char *state = NULL;
        size_t hl = strlen(host), sl;

        if (!dir)
                return true;
        state = vmenv_path_join(dir, ".vmenv");
        sl = strlen(state);
        if (!strcmp(host, "/") || (hl <= sl && !strncmp(state, host, hl) && state[hl] == '/'))
                return true;
        return !strncmp(host, state, sl) && (host[sl] == '\0' || host[sl] == '/');
}

/* Refuses, before anything is made, a 9p/virtiofs folder that would share
 * the project's .vmenv/ without the folder's explicit opt-in. */
static int check_shares(const struct vmenv_project *p, const struct vmenv_machine_config *m,
                        vmenv_error *err)
{
        for (size_t i = 0; i < m->n_folders; i++) {
                const struct vmenv_synced_folder *f = &m->folders[i];
                _cleanup_free_ char *joined = NULL, *real = NULL;

                if (!vmenv_folder_shared(f) || f->allow_private_state)
                        continue;
                joined = vmenv_path_join(p->config->dir, f->host);
                if (!(real = realpath(joined, NULL)) || !holds_private_state(p, real))
                        continue; /* a missing folder is said by shared_folders */
                vmenv_error_set(err, VMENV_EXIT_CONFIG,
                                "%s:%u:%u: machine '%s': %s folder '%s' would show the guest "
                                "'%s/.vmenv' (every machine's private key)",
                                p->config->path, f->where.line, f->where.column, m->name, f->type,
                                f->host, p->config->dir);
                return vmenv_error_hint(err, "share a subfolder, use 'type: rsync' (it skips "
                                             ".vmenv/), or add 'allow_private_state: true' to "
                                             "this folder if the guest may read it");
        }
        return 0;
}

static int shared_folders(struct vmenv_project *p, const struct vmenv_machine_config *m,
                          struct vmenv_fs_spec **out, size_t *n, vmenv_error *err)
{
        struct vmenv_fs_spec *fs = vmenv_calloc(m->n_folders + 1, sizeof(*fs));
        size_t k = 0;

        for (size_t i = 0; i < m->n_folders; i++) {
                const struct vmenv_synced_folder *f = &m->folders[i];
                _cleanup_free_ char *joined = NULL;
                char *real;
                if (!vmenv_folder_shared(f))
                        continue;
                joined = vmenv_path_join(p->config->dir, f->host);
                if (!(real = realpath(joined, NULL))) {
                        vmenv_error_errno(err, VMENV_EXIT_CONFIG, errno,
                                          "machine '%s': synced folder '%s' cannot be shared",
                                          m->name, f->host);
                        fs_specs_free(fs);
                        return -1;
                }
                fs[k].host_path = real;
                fs[k].tag = vmenv_strdupf("vmenv%zu", i);
                fs[k].type = f->type;
                k++;
        }
        *out = fs;
        *n = k;
        return 0;
}

/* The machine's private networks: each one made or brought up to date on
 * the hypervisor (every machine of the project on it, so names resolve for
 * machines not made yet too), a NIC per network, and the addresses vmenv
 * chose kept in the state. */
static int private_networks(struct vmenv_project *p, const struct vmenv_machine_config *m,
                            struct vmenv_machine_state *st, struct vmenv_nic_spec **nics,
                            vmenv_error *err)
{
        struct vmenv_privnet_plan *plans = NULL;
        size_t n_plans = 0;
        char **kept = NULL;
        int r = -1;

        if (!m->n_privnets)
                return 0;
        if (!p->ops->privnet_ensure)
                return vmenv_error_set(err, VMENV_EXIT_UNAVAILABLE,
                                       "the %s provider does not support private networks",
                                       p->ops->name);
        if (vmenv_privnet_plan(p->config, NULL, NULL, &plans, &n_plans, err) < 0)
                return vmenv_error_prefix(err, "machine '%s'", m->name);
        *nics = vmenv_calloc(m->n_privnets, sizeof(**nics));
        for (size_t i = 0; i < m->n_privnets; i++) {
                const char *net = m->privnets[i].name;
                const struct vmenv_privnet_plan *pl = NULL;
                const struct vmenv_privnet_member *me =
                    vmenv_privnet_member(plans, n_plans, net, m->name);
                struct vmenv_privnet_host *hosts;
                struct vmenv_privnet_spec spec;
                for (size_t k = 0; k < n_plans; k++)
                        if (!strcmp(plans[k].net->name, net))
                                pl = &plans[k];
                if (!pl || !me) {
                        vmenv_error_set(err, VMENV_EXIT_SOFTWARE,
                                        "machine '%s': no plan for network '%s'", m->name, net);
                        r = -1;
                        goto out;
                }
                hosts = vmenv_calloc(pl->n_members + 1, sizeof(*hosts));
                for (size_t k = 0; k < pl->n_members; k++)
                        hosts[k] = (struct vmenv_privnet_host){
                            pl->members[k].machine, pl->members[k].mac, pl->members[k].ip};
                spec = (struct vmenv_privnet_spec){
                    .name = pl->libvirt_name,
                    .bridge = pl->bridge,
                    .project_dir = p->config->dir,
                    .network = net,
                    .dns_domain = pl->dns_domain,
                    .host_ip = pl->host_ip,
                    .prefix = pl->net->prefix,
                    .hosts = hosts,
                    .n_hosts = pl->n_members,
                };
                r = p->ops->privnet_ensure(p->conn, &spec, err);
                free(hosts);
                if (r < 0) {
                        vmenv_error_prefix(err, "machine '%s'", m->name);
                        goto out;
                }
                (*nics)[i] =
                    (struct vmenv_nic_spec){vmenv_strdup(pl->libvirt_name), vmenv_strdup(me->mac)};
                if (me->chosen)
                        vmenv_strv_push(&kept, vmenv_strdupf("%s=%s", net, me->ip));
        }
        vmenv_strv_free(st->net_ips);
        st->net_ips = TAKE_PTR(kept);
        r = 0;
out:
        vmenv_strv_free(kept);
        vmenv_privnet_plan_free(plans, n_plans);
        return r;
}

static void nics_free(struct vmenv_nic_spec *nics, size_t n)
{
        for (size_t i = 0; nics && i < n; i++) {
                free((char *)nics[i].network);
                free((char *)nics[i].mac);
        }
        free(nics);
}

/* plan: decide the ports and record them before defining; otherwise the
 * definition takes st's ports as they are and nothing is recorded (a
 * start that moved a port records it once the domain runs). */
static int define_domain(struct vmenv_project *p, const struct vmenv_machine_config *m,
                         struct vmenv_machine_state *st, const char *disk_path,
                         const char *disk_format, bool plan, vmenv_error *err)
{
        _cleanup_free_ char *log = NULL;
        _cleanup_free_ char *title = vmenv_strdupf("vmenv: %s/%s", p->config->project, m->name);
        _cleanup_free_ struct vmenv_port_map *ports = NULL;
        _cleanup_(fs_specs_freep) struct vmenv_fs_spec *fs = NULL;
        struct vmenv_disk_spec disk = {disk_path, disk_format};
        const struct vmenv_host_info *host = vmenv_project_host(p, err);
        struct vmenv_accel accel = {0};
        struct vmenv_nic_spec *nics = NULL;
        _cleanup_free_ char *mac = NULL, *seed = NULL;
        int r;
        struct vmenv_domain_spec spec = {
            .name = st->domain,
            .title = title,
            .project_dir = p->config->dir,
            .machine = m->name,
            .memory = m->memory,
            .cpus = m->cpus,
            .machine_type = m->libvirt.machine_type,
            .cpu_mode = m->libvirt.cpu_mode,
            .kvm = false, /* below, from the accelerator copied under the lock */
            .disks = &disk,
            .n_disks = 1,
            .serial_log = log,
            .kernel = m->kernel,
            .initrd = m->initrd,
            .cmdline = m->cmdline,
            .network = m->network,
            .nat_network = vmenv_machine_nat(m) ? VMENV_NAT_NETWORK : NULL,
            .video = m->libvirt.video,
            .graphics = m->libvirt.graphics,
        };

        if (!host || vmenv_project_accel(p, &accel, err) < 0)
                return -1;
        spec.kvm = accel.kvm;
        /* The console log is a volume of the machine's pool, on the
         * hypervisor, never in the project (virtlogd opens it as root: a
         * link shipped in a cloned .vmenv/ must not send its writes
         * anywhere); machine-boot.c reads it back through libvirt. */
        if (p->ops->console_log_ensure &&
            p->ops->console_log_ensure(p->conn, m->libvirt.storage_pool, st->domain, &log, err) < 0)
                return vmenv_error_prefix(err, "cannot define machine '%s'", m->name);
        spec.serial_log = log;
        if (plan && vmenv_machine_plan_ports(m, st, p->jump, err) < 0)
                return -1;
        if (vmenv_machine_nat(m) && p->ops->network_ensure(p->conn, VMENV_NAT_NETWORK, err) < 0)
                return vmenv_error_prefix(err, "machine '%s'", m->name);
        if (check_shares(p, m, err) < 0 || shared_folders(p, m, &fs, &spec.n_fs, err) < 0)
                return -1;
        if (private_networks(p, m, st, &nics, err) < 0) {
                nics_free(nics, m->n_privnets);
                return -1;
        }
        if (vmenv_machine_cloud(m, st)) {
                /* cloud-init's network-config finds the first NIC by MAC:
                 * a fixed one, the same at every define */
                mac = vmenv_network_mac(p->config, m->name, "");
                if (vmenv_machine_cloud_seed(p, m, st, mac, &seed, err) < 0) {
                        nics_free(nics, m->n_privnets);
                        return -1;
                }
                spec.mac = mac;
                spec.seed_iso = seed;
        }
        spec.nics = nics;
        spec.n_nics = m->n_privnets;
        spec.fs = fs;
        ports = vmenv_calloc(st->n_ports, sizeof(*ports));
        for (size_t i = 0; i < st->n_ports; i++)
                ports[i] = (struct vmenv_port_map){st->ports[i].host_ip, st->ports[i].host_port,
                                                   st->ports[i].guest_port, st->ports[i].protocol};
        spec.ports = ports;
        spec.n_ports = st->n_ports;
        r = plan ? vmenv_state_save(st, err) : 0;
        if (!r)
                r = p->ops->define(p->conn, &spec, err);
        nics_free(nics, m->n_privnets);
        if (r < 0)
                return vmenv_error_prefix(err, "cannot define machine '%s'", m->name);
        return 0;
}

int vmenv_machine_define(struct vmenv_project *p, const struct vmenv_machine_config *m,
                         struct vmenv_machine_state *st, const char *disk_path,
                         const char *disk_format, vmenv_error *err)
{
        return define_domain(p, m, st, disk_path, disk_format, true, err);
}

/* Enough for a few programs taking ports on a shared host at once; a
 * host where every try loses is not one to keep guessing on. */
#define START_TRIES 5

int vmenv_machine_start(struct vmenv_project *p, const struct vmenv_machine_config *m,
                        struct vmenv_machine_state *st, vmenv_error *err)
{
        for (int i = 1;; i++) {
                struct vmenv_port_taken t = {0};
                int r = p->ops->start(p->conn, st->domain, &t, err);

                if (r == 0)
                        break;
                if (r != VMENV_START_PORT_TAKEN || !st->disk_path)
                        return -1;
                if (i == START_TRIES)
                        return vmenv_error_hint(err,
                                                "a host port was taken at each of %d starts; "
                                                "run 'vmenv up' again",
                                                START_TRIES);
                /* recorded as soon as defined: a vmenv killed after the
                 * start must not leave a running domain whose SSH port
                 * .vmenv/ does not know (the next up would wait on the old
                 * one, which another program holds) */
                if (vmenv_machine_move_port(m, st, p->jump, &t, err) < 0 ||
                    define_domain(p, m, st, st->disk_path, "qcow2", false, err) < 0 ||
                    vmenv_state_save(st, err) < 0)
                        return -1;
        }
        return 0;
}

int vmenv_machine_create(struct vmenv_project *p, const struct vmenv_machine_config *m,
                         struct vmenv_machine_state *st, const struct vmenv_up_opts *o,
                         vmenv_error *err)
{
        _cleanup_(vmenv_box_freep) struct vmenv_box *box = NULL;
        _cleanup_free_ char *base_path = NULL, *disk_path = NULL;
        struct vmenv_box_opts bo = {.fetch.insecure = o->insecure};
        uint64_t t0 = vmenv_now_ns();

        struct vmenv_lock_pin pin = {0};

        if (check_shares(p, m, err) < 0)
                return -1;
        if (m->cloud && vmenv_machine_cloud_check(p, m, err) < 0)
                return -1;
        if (vmenv_lock_pin(o->lock, m, &pin, err) < 0)
                return -1;
        box = vmenv_box_ensure(pin.name, pin.constraint, pin.url, pin.checksum, &bo, err);
        vmenv_lock_pin_clear(&pin);
        if (!box)
                return vmenv_error_prefix(err, "cannot get box '%s' for '%s'", m->box, m->name);
        if (vmenv_lock_verify_box(o->lock, m, box, err) < 0 ||
            vmenv_box_check_unchanged(box, err) < 0)
                return vmenv_error_prefix(err, "cannot create '%s'", m->name);
        free(st->box_name);
        free(st->box_version);
        free(st->box_volume);
        free(st->disk_volume);
        free(st->box_digest);
        st->box_name = vmenv_strdup(box->name);
        st->box_version = vmenv_strdup(box->version);
        st->box_digest = vmenv_strdup(box->digest);
        st->box_volume = box_volume_name(box->name, box->version, box->digest, box->format);
        /* a box that vmenv packaged from a cloud image's machine is one too */
        if (vmenv_box_dir_cloud_init(box->dir, &st->cloud_box, err) < 0)
                return vmenv_error_prefix(err, "cannot create '%s'", m->name);
        st->disk_volume = vmenv_strdupf("%s.qcow2", st->domain);
        st->key_replaced = false;
        st->key_pending = false;
        st->first_boot_done = false;
        st->provision_pending = true;
        free(st->host_key);
        st->host_key = NULL;
        free(st->instance_id); /* a new machine: cloud-init's per-instance steps run again */
        st->instance_id = NULL;
        vmenv_strv_free(st->provisioned);
        st->provisioned = NULL;
        if (vmenv_state_save(st, err) < 0)
                return -1;

        if (p->ops->image_ensure(p->conn, m->libvirt.storage_pool, st->box_volume, box->images[0],
                                 box->format, &base_path, err) < 0)
                return vmenv_error_prefix(err, "cannot import box '%s' into the storage pool",
                                          box->name);
        /* A leftover overlay from an interrupted up has never been trusted:
         * start again from the box. */
        if (p->ops->volume_delete(p->conn, m->libvirt.storage_pool, st->disk_volume, err) < 0)
                return -1;
        if (p->ops->overlay_create(p->conn, m->libvirt.storage_pool, st->disk_volume,
                                   st->box_volume, m->disk, &disk_path, err) < 0)
                return vmenv_error_prefix(err, "cannot create the disk of '%s'", m->name);
        free(st->disk_path);
        st->disk_path = vmenv_strdup(disk_path);
        vmenv_debug("%s: box and disk ready in %.2f s", m->name,
                    (double)(vmenv_now_ns() - t0) / 1e9);
        return vmenv_machine_define(p, m, st, disk_path, "qcow2", err);
}
