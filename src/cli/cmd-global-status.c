/* vmenv global-status: every vmenv machine of this user across projects,
 * from the machine index, each checked against libvirt; --prune drops the
 * entries whose project or domain is gone. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "vmenv/cleanup.h"
#include "vmenv/config.h"
#include "vmenv/provider.h"
#include "vmenv/state.h"
#include "vmenv/util.h"

/* One libvirt connection at a time, reused while entries name its URI; a
 * URI that failed (refused or unreachable) is not tried again for every
 * entry of a run of them. */
struct gconn {
        const struct vmenv_provider_ops *ops;
        struct vmenv_provider *conn;
        const char *uri; /* NULL: the default */
        char *why;       /* why there is no connection, or NULL */
        bool tried;
};

/* The index records what project files said, so a URI in it is held to the
 * rule for vmenv.yaml unless it is the user's own (--connect or
 * VMENV_LIBVIRT_URI). Returns the connection, or NULL with g->why set. */
static struct vmenv_provider *gconn_get(struct gconn *g, const char *uri)
{
        const char *mine = getenv("VMENV_LIBVIRT_URI");
        vmenv_error e = VMENV_ERROR_INIT;

        if (g->tried && vmenv_streq(g->uri, uri))
                return g->conn;
        if (g->conn)
                g->ops->close(g->conn);
        g->conn = NULL;
        free(g->why);
        g->why = NULL;
        g->uri = uri;
        g->tried = true;
        if (uri && !vmenv_streq(uri, mine) && vmenv_uri_check_project(uri, &e) < 0)
                g->why = vmenv_strdupf("not connecting: %s", e.msg);
        else if (!(g->conn = g->ops->open(uri, &e)))
                g->why = vmenv_strdupf("host unreachable: %s", e.msg);
        vmenv_error_clear(&e);
        return g->conn;
}

static bool project_gone(const struct vmenv_index_entry *e)
{
        _cleanup_free_ char *f = NULL;

        if (!e->project_dir)
                return true;
        f = vmenv_path_join(e->project_dir, "vmenv.yaml");
        return !vmenv_path_exists(f);
}

static int cmd_global_status_run(struct vmenv_ctx *ctx, const struct vmenv_args *args,
                                 vmenv_error *err)
{
        struct gconn g = {.ops = &vmenv_provider_libvirt};
        struct vmenv_index_entry *e = NULL;
        json_object *arr = ctx->json ? json_object_new_array() : NULL;
        bool prune = vmenv_args_has(args, "prune");
        size_t n = 0, unknown = 0;
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
                struct vmenv_provider *conn;
                _cleanup_free_ char *state = NULL;
                vmenv_error se = VMENV_ERROR_INIT;
                bool known = false;

                if (!e[i].domain || !e[i].machine)
                        continue;
                if (prune && project_gone(&e[i])) {
                        if (vmenv_index_remove(e[i].domain, err) < 0) {
                                r = -1;
                                break;
                        }
                        continue;
                }
                if (!(conn = gconn_get(&g, uri)))
                        state = vmenv_strdupf("unknown (%s)", g.why);
                else if (g.ops->state(conn, e[i].domain, &vs, &se) < 0)
                        state = vmenv_strdupf("unknown (%s)", se.msg);
                else
                        known = true;
                vmenv_error_clear(&se);
                if (!known)
                        unknown++;
                if (prune && known && vs == VMENV_VM_NOT_CREATED) {
                        if (vmenv_index_remove(e[i].domain, err) < 0) {
                                r = -1;
                                break;
                        }
                        continue;
                }
                if (!state)
                        state = vmenv_strdup(vmenv_vm_state_name(vs));
                if (arr) {
                        json_object *o = json_object_new_object();
                        json_object_object_add(o, "domain", json_object_new_string(e[i].domain));
                        json_object_object_add(o, "name", json_object_new_string(e[i].machine));
                        json_object_object_add(o, "state", json_object_new_string(state));
                        json_object_object_add(o, "uri", json_object_new_string(uri ? uri : ""));
                        json_object_object_add(
                            o, "directory",
                            json_object_new_string(e[i].project_dir ? e[i].project_dir : ""));
                        json_object_object_add(o, "box",
                                               json_object_new_string(e[i].box ? e[i].box : ""));
                        json_object_array_add(arr, o);
                } else {
                        /* The id is the domain's hash suffix, as short as Vagrant's. */
                        const char *id = strrchr(e[i].domain, '-');
                        printf("%-10s %-12s %-14s %s\n", id ? id + 1 : e[i].domain,
                               e[i].machine, state, e[i].project_dir ? e[i].project_dir : "");
                }
        }
        if (g.conn)
                g.ops->close(g.conn);
        free(g.why);
        if (arr) {
                if (r == 0)
                        puts(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY |
                                                                     JSON_C_TO_STRING_NOSLASHESCAPE));
                json_object_put(arr);
        } else if (r == 0 && n == 0) {
                puts("no vmenv machines");
        }
        vmenv_index_entries_free(e, n);
        /* Every machine is listed; the status says whether each was known. */
        if (r == 0 && unknown)
                return vmenv_error_set(err, VMENV_EXIT_UNAVAILABLE,
                                       "the state of %zu machine%s is unknown (see above)",
                                       unknown, unknown == 1 ? "" : "s");
        return r;
}

static const struct vmenv_opt opts[] = {
        {"prune", 0, NULL, "forget machines whose project or domain is gone"},
        {0},
};

const struct vmenv_cmd vmenv_cmd_global_status = {
        .name = "global-status",
        .usage = "[--prune] [--json]",
        .summary = "show every vmenv machine of this user",
        .help = "Exits 0 when every machine's state is known, 69 when some host could not be\n"
                "reached or some URI in the index was refused (those machines are listed as\n"
                "'unknown (...)').",
        .opts = opts,
        .flags = VMENV_CMD_JSON | VMENV_CMD_PROVIDER,
        .run = cmd_global_status_run,
};
