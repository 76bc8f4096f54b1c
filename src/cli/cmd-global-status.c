/* vmenv global-status: every vmenv machine of this user across projects,
 * from the machine index, each checked against libvirt; --prune drops the
 * entries libvirt no longer knows. */
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "vmenv/cleanup.h"
#include "vmenv/provider.h"
#include "vmenv/state.h"
#include "vmenv/util.h"

static int cmd_global_status_run(struct vmenv_ctx *ctx, const struct vmenv_args *args,
                                 vmenv_error *err)
{
        const struct vmenv_provider_ops *ops = &vmenv_provider_libvirt;
        struct vmenv_index_entry *e = NULL;
        struct vmenv_provider *conn = NULL;
        const char *conn_uri = NULL;
        json_object *arr = ctx->json ? json_object_new_array() : NULL;
        bool prune = vmenv_args_has(args, "prune");
        size_t n = 0;
        int r = 0;

        if (vmenv_index_read(&e, &n, err) < 0) {
                json_object_put(arr);
                return -1;
        }
        if (!arr && n)
                printf("%-10s %-12s %-14s %s\n", "id", "name", "state", "directory");
        for (size_t i = 0; i < n; i++) {
                enum vmenv_vm_state vs = VMENV_VM_OTHER;
                const char *uri = e[i].uri && *e[i].uri ? e[i].uri : NULL;

                if (!conn || !vmenv_streq(conn_uri, uri)) {
                        if (conn)
                                ops->close(conn);
                        conn_uri = uri;
                        if (!(conn = ops->open(uri, err))) {
                                r = -1;
                                break;
                        }
                }
                if (ops->state(conn, e[i].domain, &vs, err) < 0) {
                        r = -1;
                        break;
                }
                if (prune && vs == VMENV_VM_NOT_CREATED) {
                        if (vmenv_index_remove(e[i].domain, err) < 0) {
                                r = -1;
                                break;
                        }
                        continue;
                }
                if (arr) {
                        json_object *o = json_object_new_object();
                        json_object_object_add(o, "domain", json_object_new_string(e[i].domain));
                        json_object_object_add(o, "name", json_object_new_string(e[i].machine));
                        json_object_object_add(o, "state",
                                               json_object_new_string(vmenv_vm_state_name(vs)));
                        json_object_object_add(o, "directory",
                                               json_object_new_string(e[i].project_dir));
                        json_object_object_add(o, "box",
                                               json_object_new_string(e[i].box ? e[i].box : ""));
                        json_object_array_add(arr, o);
                } else {
                        /* The id is the domain's hash suffix, as short as Vagrant's. */
                        const char *id = strrchr(e[i].domain, '-');
                        printf("%-10s %-12s %-14s %s\n", id ? id + 1 : e[i].domain,
                               e[i].machine, vmenv_vm_state_name(vs), e[i].project_dir);
                }
        }
        if (conn)
                ops->close(conn);
        if (arr) {
                if (r == 0)
                        puts(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY |
                                                                         JSON_C_TO_STRING_NOSLASHESCAPE));
                json_object_put(arr);
        } else if (r == 0 && n == 0) {
                puts("no vmenv machines");
        }
        vmenv_index_entries_free(e, n);
        return r;
}

static const struct vmenv_opt opts[] = {
        {"prune", 0, NULL, "forget machines that no longer exist"},
        {0},
};

const struct vmenv_cmd vmenv_cmd_global_status = {
        .name = "global-status",
        .usage = "[--prune] [--json]",
        .summary = "show every vmenv machine of this user",
        .opts = opts,
        .flags = VMENV_CMD_JSON | VMENV_CMD_PROVIDER,
        .run = cmd_global_status_run,
};
