/* The command table: one descriptor per command, in the order 'vmenv help'
 * lists them. Help and shell completion are generated from it. */
#include <stddef.h>

#include "cli.h"

extern const struct vmenv_cmd vmenv_cmd_help, vmenv_cmd_version, vmenv_cmd_completion;
extern const struct vmenv_cmd vmenv_cmd_init, vmenv_cmd_validate;
extern const struct vmenv_cmd vmenv_cmd_box;
extern const struct vmenv_cmd vmenv_cmd_lock;
extern const struct vmenv_cmd vmenv_cmd_bench;

const struct vmenv_cmd *const vmenv_cmd_table[] = {
        &vmenv_cmd_help,
        &vmenv_cmd_version,
        &vmenv_cmd_init,
        &vmenv_cmd_validate,
        &vmenv_cmd_box,
        &vmenv_cmd_lock,
        &vmenv_cmd_bench,
        &vmenv_cmd_completion,
        NULL,
};
