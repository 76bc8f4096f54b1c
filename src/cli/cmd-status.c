/* vmenv status: each machine's state as libvirt reports it now (the cached
 * state in .vmenv is not trusted for this). */
#include <json-c/json.h>
#include <stdio.h>

#include "cli.h"
#include "vmenv/cleanup.h"
#include "vmenv/lock.h"
#include "vmenv/machine.h"
#include "vmenv/privnet.h"
#include "vmenv/util.h"
#include <string.h>

/* [{"network": NAME, "ip": IP}] from "NAME=IP" entries. */
static json_object *private_json(char **ips)
{
        json_object *a = json_object_new_array();

        for (; ips && *ips; ips++) {
                json_object *o = json_object_new_object();
                const char *eq = strchr(*ips, '=');
                json_object_object_add(o, "network",
                                       json_object_new_string_len(*ips, (int)(eq - *ips)));
                json_object_object_add(o, "ip", json_object_new_string(eq + 1));
                json_object_array_add(a, o);
        }
        return a;
}

static int cmd_status_run(struct vmenv_ctx *ctx, const struct vmenv_args *args, vmenv_error *err)
{
        _cleanup_free_ const struct vmenv_machine_config **ms = NULL;
        struct vmenv_cli_hosts hosts = {.ctx = ctx};
        json_object *arr = NULL;
        struct vmenv_lock *lock = NULL;
        size_t n = 0, unknown = 0;
        int r = 0;

        if (vmenv_project_select(ctx->config, args->argc, args->argv, &ms, &n, err) < 0)
                return -1;
        if (ctx->json)
                arr = json_object_new_array();
        /* a lock that cannot be read is said by 'up'; status still reports */
        {
                vmenv_error le = VMENV_ERROR_INIT;
                if (vmenv_lock_load(ctx->config, &lock, &le) < 0)
                        vmenv_error_clear(&le);
        }
        for (size_t i = 0; i < n && r == 0; i++) {
                enum vmenv_vm_state vs = VMENV_VM_OTHER;
                _cleanup_free_ char *domain = vmenv_domain_name(ctx->config, ms[i]->name);
                _cleanup_free_ char *state = NULL;
                const char *uri = vmenv_machine_uri(ms[i]);
                const struct vmenv_host_info *host = NULL;
                vmenv_error he = VMENV_ERROR_INIT;
                struct vmenv_project *p;
                char **ips = NULL;

                /* a host that does not answer marks its machines unknown;
                 * the others are still shown, and the exit status says so */
                if (!(p = vmenv_cli_hosts_get(&hosts, ms[i], &he))) {
                        state = vmenv_strdupf("unknown (host unreachable: %s)", he.msg);
                        unknown++;
                } else if (vmenv_machine_state(p, ms[i], &vs, &he) < 0) {
                        state = vmenv_strdupf("unknown (%s)", he.msg);
                        unknown++;
                } else {
                        state = vmenv_strdup(vmenv_vm_state_name(vs));
                }
                vmenv_error_clear(&he);
                if ((r = vmenv_privnet_machine_ips(ctx->config, ms[i]->name, &ips, err)) < 0)
                        break;
                /* The accelerator machines run under, and why (the KVM
                 * check's verdict); status still reports without it. */
                if (arr && p) {
                        host = vmenv_project_host(p, &he);
                        vmenv_error_clear(&he);
                }
                if (arr) {
                        json_object *o = json_object_new_object();
                        json_object_object_add(o, "name", json_object_new_string(ms[i]->name));
                        json_object_object_add(o, "state", json_object_new_string(state));
                        json_object_object_add(o, "domain", json_object_new_string(domain));
                        json_object_object_add(o, "uri", json_object_new_string(uri ? uri : ""));
                        json_object_object_add(o, "box", json_object_new_string(ms[i]->box));
                        if (host) {
                                json_object_object_add(
                                    o, "accel", json_object_new_string(host->kvm ? "kvm" : "tcg"));
                                json_object_object_add(o, "accel_reason",
                                                       json_object_new_string(host->accel_reason));
                        }
                        json_object_object_add(o, "private_networks", private_json(ips));
                        json_object_array_add(arr, o);
                } else {
                        printf("%-20s %-14s (%s)\n", ms[i]->name, state, ms[i]->box);
                        for (char **a = ips; a && *a; a++)
                                printf("  private network '%.*s': %s\n",
                                       (int)(strchr(*a, '=') - *a), *a, strchr(*a, '=') + 1);
                }
                vmenv_strv_free(ips);
                {
                        struct vmenv_machine_state *st = vmenv_state_load(ctx->config, ms[i]->name, err);
                        struct vmenv_lock_report rep = {0};
                        if (!st) {
                                r = -1;
                                break;
                        }
                        /* offline: pass fetch options instead of NULL to also ask the catalog */
                        if (vmenv_lock_report(lock, ms[i], st->exists ? st->box_version : NULL, NULL,
                                              &rep, err) == 0 && rep.message && !arr)
                                printf("  %s\n", rep.message);
                        vmenv_lock_report_clear(&rep);
                        vmenv_state_free(st);
                }
        }
        if (arr) {
                if (r == 0)
                        puts(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY |
                                                                         JSON_C_TO_STRING_NOSLASHESCAPE));
                json_object_put(arr);
        }
        vmenv_cli_hosts_close(&hosts);
        vmenv_lock_free(lock);
        if (r == 0 && unknown)
                return vmenv_error_set(err, VMENV_EXIT_UNAVAILABLE,
                                       "the state of %zu machine%s is unknown (see above)",
                                       unknown, unknown == 1 ? "" : "s");
        return r;
}

const struct vmenv_cmd vmenv_cmd_status = {
        .name = "status",
        .usage = "[--json] [MACHINE...]",
        .summary = "show the state of machines",
        .help = "Exits 0 when every machine's state is known, 69 when the host of some machine\n"
                "could not be reached (those machines are listed as 'unknown (...)').",
        .max_args = -1,
        .flags = VMENV_CMD_PROJECT | VMENV_CMD_PROVIDER | VMENV_CMD_JSON,
        .run = cmd_status_run,
};
