/* TEMPORARY scaffold: replaced by the libyaml parser (issue 2). */
#include <stdlib.h>

#include "vmenv/config.h"
#include "vmenv/util.h"

struct vmenv_config *vmenv_config_load_project(const char *start, vmenv_error *err)
{
        vmenv_error_set(err, VMENV_EXIT_SOFTWARE, "vmenv.yaml parsing is not built yet");
        return NULL;
}

void vmenv_config_free(struct vmenv_config *c)
{
        free(c);
}
