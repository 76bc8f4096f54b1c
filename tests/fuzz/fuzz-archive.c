/* libFuzzer target: box archive extraction and validation. The input is
 * written to a memfd and extracted into a fresh temporary folder, which must
 * be the only thing touched. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmenv/box.h"
#include "vmenv/util.h"

/* The fuzzing build instruments only the target file, not the core library,
 * so the code under test is compiled in here to give libFuzzer coverage. */
#include "../../src/core/box-archive.c"
#include "../../src/core/image.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        vmenv_error err = VMENV_ERROR_INIT;
        struct vmenv_box_meta meta = {0};
        char dir[] = "/tmp/vmenv-fuzz-archive.XXXXXX";
        char path[64];
        int fd = memfd_create("box", 0);

        if (fd < 0 || !mkdtemp(dir))
                abort();
        if (size && write(fd, data, size) != (ssize_t)size)
                abort();
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        if (vmenv_box_archive_extract(path, dir, &meta, &err) == 0)
                vmenv_box_meta_clear(&meta);
        vmenv_error_clear(&err);
        vmenv_rm_rf(dir, &err);
        vmenv_error_clear(&err);
        close(fd);
        return 0;
}
