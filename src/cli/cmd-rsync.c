/* vmenv rsync: copies every rsync-type synced folder of running machines to
 * the guest now (one-way, host → guest, guest-only files removed). */
#include "cli.h"
#include "vmenv/machine.h"
#include "vmenv/sync.h"

static int rsync_one(struct vmenv_project *p, const struct vmenv_machine_config *m,
                     const struct vmenv_args *args, vmenv_error *err)
{
        return vmenv_machine_sync(p, m, err);
}

static int cmd_rsync_run(struct vmenv_ctx *ctx, const struct vmenv_args *args, vmenv_error *err)
{
        return vmenv_cli_each(ctx, args, rsync_one, err) < 0 ? -1 : 0;
}

const struct vmenv_cmd vmenv_cmd_rsync = {
    .name = "rsync",
    .usage = "[MACHINE...]",
    .summary = "copy rsync-type synced folders to running machines now",
    .help = "Folders of type rsync (the default) are copied host -> guest over SSH: new and\n"
            "changed files are sent, files deleted on the host are deleted in the guest,\n"
            "excluded paths are left alone. The guest needs only sh, find, stat and tar.",
    .max_args = -1,
    .flags = VMENV_CMD_PROJECT | VMENV_CMD_PROVIDER,
    .run = cmd_rsync_run,
};
