/* libFuzzer target for vmenv_text_tail, which cleans a guest's serial
 * console output before boot diagnostics print it: any bytes give NULL or
 * lines with no control character (no escape reaches the user's terminal),
 * at most the number asked for, each with its prefix. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmenv/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *tail = vmenv_text_tail((const char *)data, size, 3, "| ");
        size_t lines = 1;

        if (!tail)
                return 0;
        for (const char *p = tail; *p; p++) {
                if (*p == '\n') {
                        lines++;
                        if (strncmp(p + 1, "| ", 2))
                                abort();
                } else if ((unsigned char)*p < 0x20 || *p == 0x7f)
                        abort();
        }
        if (lines > 3 || strncmp(tail, "| ", 2))
                abort();
        free(tail);
        return 0;
}
