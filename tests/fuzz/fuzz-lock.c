/* libFuzzer target for the vmenv.lock reader: any bytes must give a lock or
 * an error, never a crash or leak; and a lock that was read must come back
 * byte-identical after format → parse → format (the file is stable). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmenv/cleanup.h"
#include "vmenv/lock.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        vmenv_error err = VMENV_ERROR_INIT;
        struct vmenv_lock *l = vmenv_lock_parse((const char *)data, size, "fuzz.lock", NULL, &err);
        _cleanup_free_ char *a = NULL, *b = NULL;
        struct vmenv_lock *l2;

        if (!l) {
                if (!err.msg || err.code != VMENV_EXIT_CONFIG)
                        abort(); /* every refusal is a config error with a message */
                vmenv_error_clear(&err);
                return 0;
        }
        a = vmenv_lock_format(l);
        if (!(l2 = vmenv_lock_parse(a, strlen(a), "fuzz.lock", NULL, &err)))
                abort(); /* what we write, we must read */
        b = vmenv_lock_format(l2);
        if (strcmp(a, b))
                abort();
        vmenv_lock_free(l);
        vmenv_lock_free(l2);
        return 0;
}
