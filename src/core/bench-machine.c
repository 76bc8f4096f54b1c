/* The VM side of 'vmenv bench': how bench-vm.c reaches and drives a machine
 * of the project (SSH endpoint, up/halt/destroy, QEMU's pid, the overlay). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "machine-private.h"
#include "vmenv/bench.h"
#include "vmenv/box.h"
#include "vmenv/cleanup.h"
#include "vmenv/log.h"
#include "vmenv/machine.h"
#include "vmenv/privnet.h"
#include "vmenv/ssh.h"
#include "vmenv/state.h"
#include "vmenv/util.h"

struct bench_machine {
        struct vmenv_project *p;
        const struct vmenv_machine_config *m;
        struct vmenv_machine_state *st;
        char *key;
        char *nat_addr; /* the guest's address on the NAT network */
        char **net_ips; /* "NETWORK=IP" on its private networks */
};

static int reload_state(struct bench_machine *b, vmenv_error *err)
{
        vmenv_state_free(b->st);
        free(b->key);
        b->key = NULL;
        if (!(b->st = vmenv_state_load(b->p->config, b->m->name, err)))
                return -1;
        return (b->key = vmenv_machine_login_key(b->m, b->st, err)) ? 0 : -1;
}

static int bm_ssh_target(void *ctx, struct vmenv_ssh_target *t, vmenv_error *err)
{
        struct bench_machine *b = ctx;

        if (reload_state(b, err) < 0)
                return -1;
        *t = (struct vmenv_ssh_target){
            .jump = b->p->jump,
            .host = b->st->ssh_host ? b->st->ssh_host : "127.0.0.1",
            .port = b->st->ssh_port,
            .user = vmenv_machine_user(b->m, b->st),
            .key_path = b->key,
            .known_host_key = b->st->host_key,
            .connect_timeout_ms = 15000, /* a running machine, as vmenv ssh */
        };
        return 0;
}

static int bm_up(void *ctx, vmenv_error *err)
{
        struct bench_machine *b = ctx;
        struct vmenv_up_opts o = {.no_provision = true};
        return vmenv_machine_up(b->p, b->m, &o, err);
}

static int bm_halt(void *ctx, vmenv_error *err)
{
        struct bench_machine *b = ctx;
        return vmenv_machine_halt(b->p, b->m, false, 60, err);
}

static int bm_destroy(void *ctx, vmenv_error *err)
{
        struct bench_machine *b = ctx;
        return vmenv_machine_destroy(b->p, b->m, err);
}

static int bm_qemu_pid(void *ctx, int *pid, vmenv_error *err)
{
        struct bench_machine *b = ctx;
        _cleanup_free_ char *path = NULL, *text = NULL;

        if (reload_state(b, err) < 0)
                return -1;
        path = vmenv_strdupf("/run/libvirt/qemu/%s.pid", b->st->domain);
        if (vmenv_read_file(path, 64, &text, NULL, err) < 0)
                return vmenv_error_prefix(err, "cannot find the QEMU process of '%s'", b->m->name);
        *pid = atoi(text);
        return *pid > 0 ? 0 : vmenv_error_set(err, VMENV_EXIT_SOFTWARE, "bad pid in '%s'", path);
}

static int bm_disk_path(void *ctx, char **path, vmenv_error *err)
{
        struct bench_machine *b = ctx;

        if (reload_state(b, err) < 0)
                return -1;
        return vmenv_machine_disk_path(b->p, b->m, b->st, path, err);
}

static void bench_machine_free(void *ctx)
{
        struct bench_machine *b = ctx;
        if (!b)
                return;
        vmenv_state_free(b->st);
        free(b->key);
        free(b->nat_addr);
        vmenv_strv_free(b->net_ips);
        free(b);
}

/* The NAT and private networks of the machine, each a bridge this host is
 * on, unless the machine runs on a remote hypervisor. */
static int find_bridges(struct bench_machine *b, struct vmenv_bench_vm_ops *ops, vmenv_error *err)
{
        const char *nat = vmenv_machine_nat(b->m) ? b->st->ssh_host : NULL;
        if (b->p->jump) {
                if (nat || b->m->n_privnets)
                        vmenv_info("bench: no network figures over '%s''s NAT or private "
                                   "networks: its hypervisor is another host, whose bridges "
                                   "this one is not on",
                                   b->m->name);
                return 0;
        }
        if (vmenv_privnet_machine_ips(b->p->config, b->m->name, &b->net_ips, err) < 0)
                return vmenv_error_prefix(err, "cannot find the private addresses of '%s'",
                                          b->m->name);
        if (nat) {
                b->nat_addr = vmenv_strdup(nat);
                ops->bridges[ops->n_bridges++] =
                    (struct vmenv_bench_vm_bridge){"nat", VMENV_NAT_NETWORK, b->nat_addr};
        }
        for (char **p = b->net_ips; p && *p; p++) {
                char *eq = strchr(*p, '=');
                if (!eq)
                        continue;
                if (ops->n_bridges == VMENV_BENCH_MAX_BRIDGES) {
                        vmenv_info("bench: private network '%.*s' of '%s' left out: %d network "
                                   "paths at most",
                                   (int)(eq - *p), *p, b->m->name, VMENV_BENCH_MAX_BRIDGES);
                        continue;
                }
                *eq = 0; /* "NETWORK" and "IP", kept in net_ips */
                ops->bridges[ops->n_bridges++] =
                    (struct vmenv_bench_vm_bridge){"private", *p, eq + 1};
        }
        return 0;
}

struct vmenv_bench_machine *vmenv_bench_machine_new(struct vmenv_project *p,
                                                    const struct vmenv_machine_config *m,
                                                    vmenv_error *err)
{
        struct vmenv_bench_machine *bm = vmenv_calloc(1, sizeof(*bm));
        struct bench_machine *b = vmenv_calloc(1, sizeof(*b));
        const struct vmenv_host_info *host;
        struct vmenv_up_opts o = {.no_provision = true};
        struct vmenv_box *box;

        b->p = p;
        b->m = m;
        bm->ctx = b;
        /* The machine runs before the figures start: bench measures it, it
         * does not create it (start-cold does that itself, once). */
        if (vmenv_machine_up(p, m, &o, err) < 0 || !(host = vmenv_project_host(p, err)) ||
            reload_state(b, err) < 0)
                goto fail;
        if (!(box = vmenv_box_find(b->st->box_name, b->st->box_version, err))) {
                vmenv_error_prefix(err, "cannot find the box of '%s'", m->name);
                goto fail;
        }
        bm->image = vmenv_strdup(box->images[0]);
        vmenv_box_free(box);
        bm->ops = (struct vmenv_bench_vm_ops){
            .ctx = b,
            /* "kvm", or "tcg: <why>" (docs/accel.md) */
            .hypervisor = host->accel_reason ? host->accel_reason
                          : host->kvm        ? "kvm"
                                             : "tcg",
            /* user-mode networking (slirp, passt) maps the guest's gateway
             * to the host's loopback; on a NAT network it is the bridge's
             * address, and the NAT path is measured the other way round,
             * from the host to the guest (bench-bridge.c) */
            .net_addr = !m->network || vmenv_streq(m->network, "user") ? "gateway" : NULL,
            .ssh_target = bm_ssh_target,
            .up = bm_up,
            .halt = bm_halt,
            .destroy = bm_destroy,
            .qemu_pid = bm_qemu_pid,
            .disk_path = bm_disk_path,
        };
        if (find_bridges(b, &bm->ops, err) < 0)
                goto fail;
        return bm;
fail:
        vmenv_bench_machine_free(bm);
        return NULL;
}

void vmenv_bench_machine_free(struct vmenv_bench_machine *bm)
{
        if (!bm)
                return;
        bench_machine_free(bm->ctx);
        free(bm->image);
        free(bm);
}
