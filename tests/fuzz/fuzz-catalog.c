/* libFuzzer target: catalog JSON, then resolution with a few constraints,
 * and the first line of the input as a constraint of its own. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmenv/box.h"
#include "vmenv/util.h"

/* The fuzzing build instruments only the target file, not the core library,
 * so the code under test is compiled in here to give libFuzzer coverage. */
#include "../../src/core/catalog.c"
#include "../../src/core/version.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static const char *const constraints[] = {NULL, ">= 1.0, < 2", "~> 1.2", "!= 0"};
        vmenv_error err = VMENV_ERROR_INIT;
        struct vmenv_catalog *c =
            vmenv_catalog_parse((const char *)data, size, "http://127.0.0.1/b/c.json", &err);
        vmenv_error_clear(&err);
        if (c) {
                for (size_t i = 0; i < sizeof(constraints) / sizeof(constraints[0]); i++) {
                        struct vmenv_box_ref r = {0};
                        if (vmenv_catalog_resolve(c, constraints[i], "amd64", &r, &err) == 0)
                                vmenv_box_ref_clear(&r);
                        vmenv_error_clear(&err);
                        /* Vagrant's :auto choice (unknown / lone providers) */
                        if (vmenv_catalog_resolve_on(c, constraints[i], "arm64", NULL, &r, &err) ==
                            0)
                                vmenv_box_ref_clear(&r);
                        vmenv_error_clear(&err);
                }
                vmenv_catalog_free(c);
        }
        {
                const char *nl = memchr(data, '\n', size);
                char *line = vmenv_strndup((const char *)data,
                                           nl ? (size_t)(nl - (const char *)data) : size);
                struct vmenv_constraint *k = vmenv_constraint_parse(line, &err);
                vmenv_error_clear(&err);
                if (k) {
                        vmenv_constraint_match(k, "1.2.3-beta.1");
                        vmenv_constraint_match(k, line);
                        vmenv_constraint_free(k);
                }
                (void)vmenv_version_compare(line, "1.0");
                (void)vmenv_version_compare(line, "1.0.0.a.1.0");
                (void)vmenv_version_valid(line);
                free(line);
        }
        return 0;
}
