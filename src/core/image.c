/* Disk image headers: enough of qcow2 to know the format and virtual size
 * without running qemu-img; anything else is raw (size = file size). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmenv/box.h"
#include "vmenv/cleanup.h"
#include "vmenv/util.h"

static uint64_t be64(const unsigned char *p)
{
        uint64_t v = 0;
        for (int i = 0; i < 8; i++)
                v = v << 8 | p[i];
        return v;
}

static uint32_t be32(const unsigned char *p)
{
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int vmenv_image_probe(const char *path, char **format, uint64_t *virtual_size, vmenv_error *err)
{
        _cleanup_close_ int fd = -1;
        unsigned char h[32];
        struct stat st;
        ssize_t n;

        if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
                return vmenv_error_errno(err, errno == ENOENT ? VMENV_EXIT_NOINPUT : 0, errno,
                                         "cannot open image '%s'", path);
        if (fstat(fd, &st) < 0)
                return vmenv_error_errno(err, 0, errno, "cannot read image '%s'", path);
        if (!S_ISREG(st.st_mode))
                return vmenv_error_set(err, VMENV_EXIT_DATA, "image '%s' is not a regular file",
                                       path);
        do
                n = pread(fd, h, sizeof(h), 0);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return vmenv_error_errno(err, 0, errno, "cannot read image '%s'", path);
        if (n >= 32 && !memcmp(h, "QFI\xfb", 4)) {
                uint32_t version = be32(h + 4);
                uint64_t size = be64(h + 24);
                if (version < 2 || version > 3)
                        return vmenv_error_set(err, VMENV_EXIT_DATA,
                                               "image '%s' is qcow2 version %u, not 2 or 3", path,
                                               version);
                if (size == 0 || size > (1ull << 50))
                        return vmenv_error_set(err, VMENV_EXIT_DATA,
                                               "image '%s' has an implausible virtual size %llu",
                                               path, (unsigned long long)size);
                /* A backing file would let a box read any file on the host. */
                if (be64(h + 8) != 0)
                        return vmenv_error_set(
                            err, VMENV_EXIT_DATA,
                            "image '%s' has a backing file, which a box may not have", path);
                *format = vmenv_strdup("qcow2");
                *virtual_size = size;
                return 0;
        }
        if (st.st_size == 0)
                return vmenv_error_set(err, VMENV_EXIT_DATA, "image '%s' is empty", path);
        *format = vmenv_strdup("raw");
        *virtual_size = (uint64_t)st.st_size;
        return 0;
}
