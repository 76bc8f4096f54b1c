/* libFuzzer target for vmenv import's literal parser and YAML writer: any
 * bytes must give a vmenv.yaml that validates or a data error with a
 * message (a Vagrantfile without a box), never a crash, hang, leak, or a
 * vmenv.yaml that the writer made but the config parser refuses (that is
 * reported as an internal error, VMENV_EXIT_SOFTWARE). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/core/json-cleanup.h"
#include "../../src/core/vagrant-internal.h"
#include "vmenv/cleanup.h"
#include "vmenv/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        vmenv_error err = VMENV_ERROR_INIT;
        _cleanup_free_ char *text = NULL, *yaml = NULL;
        _cleanup_(json_putp) json_object *record = NULL;
        const uint8_t *nul = memchr(data, '\0', size);

        /* import refuses a NUL byte up front: fuzz the text before it */
        if (nul)
                size = (size_t)(nul - data);
        text = vmenv_strndup((const char *)data, size);
        record = vmenv_vagrantfile_literal(text, size);
        if (!record)
                abort();
        yaml = vmenv_vagrant_record_to_yaml(record, text, "Vagrantfile", "fuzz", NULL, NULL, &err);
        if (!yaml) {
                if (!err.msg || err.code != VMENV_EXIT_DATA) {
                        fprintf(stderr, "refused: %s\n", err.msg ? err.msg : "(no message)");
                        abort(); /* only "sets no box" may refuse */
                }
                vmenv_error_clear(&err);
        }
        return 0;
}
