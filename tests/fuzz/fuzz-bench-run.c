/* libFuzzer target for the bench run reader (vmenv bench --compare reads
 * runs written elsewhere): any bytes give a report or an error with a
 * message, never a crash or leak; a run that was read is written and read
 * again to the same JSON (stable after the first write), and compared with
 * itself. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmenv/bench.h"
#include "vmenv/cleanup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        vmenv_error err = VMENV_ERROR_INIT;
        struct vmenv_bench_report *r = NULL, *r2 = NULL;

        if (vmenv_bench_report_parse((const char *)data, size, &r, &err) < 0) {
                if (!err.msg || err.code != VMENV_EXIT_DATA)
                        abort(); /* every refusal is a data error with a message */
                vmenv_error_clear(&err);
                return 0;
        }
        /* the first write rounds the samples to 6 digits (and the statistics
         * derived from them may move in the 6th); from then on it is stable */
        _cleanup_free_ char *a = vmenv_bench_json(r);
        if (vmenv_bench_report_parse(a, strlen(a), &r2, &err) < 0)
                abort(); /* what we write, we must read */
        _cleanup_free_ char *b = vmenv_bench_json(r2);
        struct vmenv_bench_report *r3 = NULL;
        if (vmenv_bench_report_parse(b, strlen(b), &r3, &err) < 0)
                abort();
        _cleanup_free_ char *c = vmenv_bench_json(r3);
        vmenv_bench_report_free(r3);
        if (strcmp(b, c))
                abort();
        FILE *f = fopen("/dev/null", "w");
        if (f) {
                vmenv_bench_compare_table(r, "a", r2, "b", f);
                vmenv_bench_print_table(r, f);
                fclose(f);
        }
        free(vmenv_bench_compare_svg(r, "a", r2, "b"));
        free(vmenv_bench_svg(r));
        vmenv_bench_report_free(r);
        vmenv_bench_report_free(r2);
        return 0;
}
