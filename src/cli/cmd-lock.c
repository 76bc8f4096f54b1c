/* vmenv lock: resolves every machine's box to one exact version, URL and
 * checksum and writes vmenv.lock, without booting anything; --update moves
 * machines to the newest allowed version, --check verifies the lock. */
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "vmenv/box.h"
#include "vmenv/cleanup.h"
#include "vmenv/config.h"
#include "vmenv/lock.h"
#include "vmenv/util.h"

static const struct vmenv_opt lock_opts[] = {
    {"update", 'u', NULL, "re-resolve the named machines (or all) to the newest allowed box"},
    {"check", 0, NULL, "only check that vmenv.lock matches vmenv.yaml (as 'up' would)"},
    {"frozen", 0, NULL, "with --check: any difference, even in vmenv.yaml's digest, fails"},
    {"insecure", 0, NULL, "do not verify TLS certificates"},
    {"cacert", 0, "FILE", "CA certificates to verify TLS peers with"},
    {0},
};


static int lock_check(struct vmenv_ctx *ctx, bool frozen, vmenv_error *err)
{
        _cleanup_(vmenv_lock_freep) struct vmenv_lock *l = NULL;
        _cleanup_free_ char *path = vmenv_lock_path(ctx->config);

        if (vmenv_lock_load(ctx->config, &l, err) < 0)
                return -1;
        if (!l) {
                vmenv_error_set(err, VMENV_EXIT_CONFIG, "'%s' does not exist", path);
                return vmenv_error_hint(err, "run 'vmenv lock' and commit vmenv.lock");
        }
        if (vmenv_lock_check(l, ctx->config, frozen, err) < 0)
                return -1;
        if (ctx->json) {
                json_object *root = json_object_new_object();
                json_object_object_add(root, "path", json_object_new_string(path));
                json_object_object_add(root, "ok", json_object_new_boolean(true));
                puts(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
                                                              JSON_C_TO_STRING_NOSLASHESCAPE));
                json_object_put(root);
        } else {
                printf("%s matches vmenv.yaml\n", VMENV_LOCK_FILE);
        }
        return 0;
}

static int cmd_lock_run(struct vmenv_ctx *ctx, const struct vmenv_args *args, vmenv_error *err)
{
        _cleanup_(vmenv_lock_freep) struct vmenv_lock *old = NULL, *l = NULL;
        _cleanup_(vmenv_strv_freep) char **names = NULL, **changes = NULL;
        _cleanup_free_ char *path = vmenv_lock_path(ctx->config);
        _cleanup_free_ char *before = NULL, *after = NULL;
        struct vmenv_fetch_opts fetch = {
            .insecure = vmenv_args_has(args, "insecure"),
            .cacert = vmenv_args_get(args, "cacert"),
        };
        struct vmenv_lock_opts o = {.fetch = &fetch};
        bool update = vmenv_args_has(args, "update");

        if (vmenv_args_has(args, "check")) {
                if (update || args->argc)
                        return vmenv_error_set(err, VMENV_EXIT_USAGE,
                                               "--check takes no machines and no --update");
                return lock_check(ctx, vmenv_args_has(args, "frozen"), err);
        }
        if (vmenv_args_has(args, "frozen"))
                return vmenv_error_set(err, VMENV_EXIT_USAGE, "--frozen goes with --check");
        if (args->argc && !update) {
                vmenv_error_set(err, VMENV_EXIT_USAGE, "naming machines needs --update");
                return vmenv_error_hint(err, "run 'vmenv lock --update %s'", args->argv[0]);
        }
        for (int i = 0; i < args->argc; i++)
                vmenv_strv_push(&names, vmenv_strdup(args->argv[i]));

        /* Machines that left vmenv.yaml are dropped here, so the lock is read
         * without checking them against it. */
        if (vmenv_path_exists(path)) {
                _cleanup_free_ char *text = NULL;
                size_t len = 0;
                if (vmenv_read_file(path, VMENV_LOCK_MAX_BYTES, &text, &len, err) < 0) {
                        if (err->code == VMENV_EXIT_DATA)
                                err->code = VMENV_EXIT_CONFIG;
                        return -1;
                }
                if (!(old = vmenv_lock_parse(text, len, path, NULL, err)))
                        return -1;
                before = TAKE_PTR(text);
        }
        if (vmenv_lock_update(ctx->config, old, update, names, &o, &l, &changes, err) < 0)
                return -1;
        after = vmenv_lock_format(l);
        if (!vmenv_streq(before, after) && vmenv_lock_save(l, path, err) < 0)
                return -1;

        if (ctx->json) {
                json_object *root = json_object_new_object(), *arr = json_object_new_array();
                for (char **c = changes; c && *c; c++)
                        json_object_array_add(arr, json_object_new_string(*c));
                json_object_object_add(root, "path", json_object_new_string(path));
                json_object_object_add(root, "written",
                                       json_object_new_boolean(!vmenv_streq(before, after)));
                json_object_object_add(root, "changes", arr);
                puts(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
                                                              JSON_C_TO_STRING_NOSLASHESCAPE));
                json_object_put(root);
                return 0;
        }
        if (!changes)
                puts("no changes");
        for (char **c = changes; c && *c; c++)
                puts(*c);
        return 0;
}

const struct vmenv_cmd vmenv_cmd_lock = {
    .name = "lock",
    .usage = "[--update [MACHINE...]] | --check [--frozen]",
    .summary = "pin each machine's box (version, URL, checksum) in vmenv.lock",
    .help = "Resolves every machine's box against its catalog and writes vmenv.lock beside\n"
            "vmenv.yaml; entries that still satisfy vmenv.yaml are kept. Nothing is booted.\n"
            "Commit vmenv.lock: 'vmenv up' then uses exactly the locked boxes.\n"
            "See vmenv.lock(5).",
    .opts = lock_opts,
    .min_args = 0,
    .max_args = -1,
    .flags = VMENV_CMD_PROJECT | VMENV_CMD_JSON,
    .run = cmd_lock_run,
};
