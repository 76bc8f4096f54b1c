/* The command table: one descriptor per command, in the order 'vmenv help'
 * lists them. Help and shell completion are generated from it. */
#include <stddef.h>

#include "cli.h"

extern const struct vmenv_cmd vmenv_cmd_help, vmenv_cmd_version, vmenv_cmd_completion;
extern const struct vmenv_cmd vmenv_cmd_init, vmenv_cmd_validate;
extern const struct vmenv_cmd vmenv_cmd_import;
extern const struct vmenv_cmd vmenv_cmd_box;
extern const struct vmenv_cmd vmenv_cmd_lock;
extern const struct vmenv_cmd vmenv_cmd_bench, vmenv_cmd_host;
extern const struct vmenv_cmd vmenv_cmd_rsync, vmenv_cmd_rsync_auto;
extern const struct vmenv_cmd vmenv_cmd_up, vmenv_cmd_ssh, vmenv_cmd_ssh_config, vmenv_cmd_status,
        vmenv_cmd_global_status, vmenv_cmd_port, vmenv_cmd_halt, vmenv_cmd_reload,
        vmenv_cmd_suspend, vmenv_cmd_resume, vmenv_cmd_destroy, vmenv_cmd_provision,
        vmenv_cmd_snapshot, vmenv_cmd_package;

const struct vmenv_cmd *const vmenv_cmd_table[] = {
        &vmenv_cmd_help,
        &vmenv_cmd_version,
        &vmenv_cmd_init,
        &vmenv_cmd_validate,
        &vmenv_cmd_import,
        &vmenv_cmd_up,
        &vmenv_cmd_ssh,
        &vmenv_cmd_ssh_config,
        &vmenv_cmd_status,
        &vmenv_cmd_global_status,
        &vmenv_cmd_port,
        &vmenv_cmd_halt,
        &vmenv_cmd_reload,
        &vmenv_cmd_suspend,
        &vmenv_cmd_resume,
        &vmenv_cmd_destroy,
        &vmenv_cmd_provision,
        &vmenv_cmd_rsync,
        &vmenv_cmd_rsync_auto,
        &vmenv_cmd_snapshot,
        &vmenv_cmd_package,
        &vmenv_cmd_box,
        &vmenv_cmd_lock,
        &vmenv_cmd_bench,
        &vmenv_cmd_host,
        &vmenv_cmd_completion,
        NULL,
};
