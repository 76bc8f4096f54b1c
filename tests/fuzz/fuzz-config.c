/* libFuzzer target for the vmenv.yaml parser: any bytes must give a config
 * or a config error with a message, never a crash, hang or leak; a config
 * that parses must also render as JSON. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmenv/cleanup.h"
#include "vmenv/config.h"

/* The core library is built without coverage instrumentation, which leaves
 * libFuzzer blind; compiling the parser into this target instruments it.
 * The archive's copies are then never linked (their symbols are defined). */
#include "../../src/core/config-json.c"
#include "../../src/core/config-networks.c"
#include "../../src/core/config-rules.c"
#include "../../src/core/config-uri.c"
#include "../../src/core/config.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        vmenv_error err = VMENV_ERROR_INIT;
        struct vmenv_config *c;
        _cleanup_free_ char *json = NULL;

        /* A NUL byte is refused up front: fuzz the text before it, so
         * mutations that add one do not all end in the same check. */
        if (size > 1 && memchr(data, '\0', size - 1))
                size = (size_t)((const uint8_t *)memchr(data, '\0', size - 1) - data);
        c = vmenv_config_parse((const char *)data, size, "fuzz.yaml", &err);

        if (!c) {
                if (!err.msg || err.code != VMENV_EXIT_CONFIG)
                        abort(); /* every refusal is a config error with a message */
                vmenv_error_clear(&err);
                return 0;
        }
        if (!c->n_machines || !c->machines[0].box)
                abort(); /* a valid config has machines, each with a box */
        json = vmenv_config_to_json(c);
        if (!json || !*json)
                abort();
        vmenv_config_free(c);
        return 0;
}
