/* Checks a box image's header before it is uploaded into a storage pool. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "image-check.h"
#include "vmenv/cleanup.h"
#include "vmenv/util.h"

#define QCOW2_MAGIC 0x514649fbu /* "QFI\xfb" */
#define QCOW2_V3_HEADER 104
#define QCOW2_INCOMPAT_DATA_FILE (1u << 2)

static uint32_t be32(const unsigned char *p)
{
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64(const unsigned char *p)
{
        return (uint64_t)be32(p) << 32 | be32(p + 4);
}

int vmenv_libvirt_check_image(const char *path, const char *format, vmenv_error *err)
{
        unsigned char h[QCOW2_V3_HEADER] = {0};
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t n;
        bool qcow2;

        if (fd < 0)
                return vmenv_error_errno(err, VMENV_EXIT_NOINPUT, errno, "cannot open image '%s'",
                                         path);
        do
                n = read(fd, h, sizeof(h));
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return vmenv_error_errno(err, 0, errno, "cannot read image '%s'", path);
        qcow2 = n >= 72 && be32(h) == QCOW2_MAGIC;

        if (vmenv_streq(format, "raw"))
                return 0; /* QEMU shows it to the guest as bytes, whatever they are */
        if (!vmenv_streq(format, "qcow2"))
                return vmenv_error_set(err, VMENV_EXIT_DATA,
                                       "unsupported image format '%s' of '%s' (use qcow2 or raw)",
                                       format, path);
        if (!qcow2)
                return vmenv_error_set(err, VMENV_EXIT_DATA,
                                       "image '%s' is said to be qcow2 but is not one", path);
        if (be32(h + 4) != 2 && be32(h + 4) != 3)
                return vmenv_error_set(err, VMENV_EXIT_DATA,
                                       "image '%s' is qcow2 version %u, not 2 or 3", path,
                                       be32(h + 4));
        if (be64(h + 8) != 0 || be32(h + 16) != 0)
                return vmenv_error_set(err, VMENV_EXIT_DATA,
                                       "image '%s' names a backing file: a box image must stand "
                                       "alone",
                                       path);
        if (be32(h + 4) == 3 && (be64(h + 72) & QCOW2_INCOMPAT_DATA_FILE))
                return vmenv_error_set(err, VMENV_EXIT_DATA,
                                       "image '%s' keeps its data in an external file: a box "
                                       "image must stand alone",
                                       path);
        return 0;
}
