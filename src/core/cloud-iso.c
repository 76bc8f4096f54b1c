/* The seed as an ISO 9660 volume labelled "cidata" (with Joliet and Rock
 * Ridge, as cloud-localds makes it), written with libisofs: the only file
 * that includes it. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h> /* libisofs.h uses uint32_t without including it */
#include <sys/types.h>

/* struct burn_source comes from libburn's header, or from libisofs's own
 * copy with this defined: vmenv reads the image itself, without libburn. */
#define LIBISOFS_WITHOUT_LIBBURN 1
#include <libisofs/libisofs.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmenv/cleanup.h"
#include "vmenv/cloud.h"
#include "vmenv/util.h"

/* A seed is three small text files; an image past this is a bug. */
#define MAX_ISO_BYTES (64u << 20)

static int init_rc;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

/* libisofs keeps process-wide state: set up once (never finished: machines
 * are made on several threads), and never printing to stderr itself (the
 * library reports through return codes; only main() prints). */
static void init_isofs(void)
{
        init_rc = iso_init_with_flag(1);
        if (init_rc >= 0) {
                /* (the API takes char *, it does not write to them) */
                char never[] = "NEVER", never2[] = "NEVER", id[] = "vmenv";
                iso_set_msgs_severities(never, never2, id);
        }
}

static int iso_err(vmenv_error *err, int rc, const char *what)
{
        return vmenv_error_set(err, VMENV_EXIT_SOFTWARE, "cannot write the seed image: %s: %s",
                               what, iso_error_to_msg(rc));
}

static int add_file(IsoImage *img, const char *name, const char *text, vmenv_error *err)
{
        size_t len = strlen(text);
        unsigned char *copy = vmenv_malloc(len ? len : 1);
        memcpy(copy, text, len);
        IsoStream *stream = NULL;
        int rc = iso_memory_stream_new(copy, len, &stream); /* owns copy */
        if (rc < 0) {
                free(copy);
                return iso_err(err, rc, name);
        }
        IsoFile *file = NULL;
        /* the file takes the stream's reference, but not on failure */
        rc = iso_image_add_new_file(img, iso_image_get_root(img), name, stream, &file);
        if (rc < 0) {
                iso_stream_unref(stream);
                return iso_err(err, rc, name);
        }
        iso_node_set_permissions((IsoNode *)file, 0444);
        return 0;
}

static int write_image(IsoImage *img, int fd, vmenv_error *err)
{
        IsoWriteOpts *opts = NULL;
        struct burn_source *src = NULL;
        int rc = iso_write_opts_new(&opts, 0);
        if (rc < 0)
                return iso_err(err, rc, "options");
        iso_write_opts_set_rockridge(opts, 1);
        iso_write_opts_set_joliet(opts, 1);
        rc = iso_image_create_burn_source(img, opts, &src);
        iso_write_opts_free(opts);
        if (rc < 0)
                return iso_err(err, rc, "image");

        unsigned char block[2048];
        size_t total = 0;
        int ret = 0;
        for (;;) {
                int n = src->read_xt(src, block, sizeof(block));
                if (n == 0)
                        break;
                if (n < 0) {
                        ret = vmenv_error_set(err, VMENV_EXIT_SOFTWARE,
                                              "cannot write the seed image: libisofs failed");
                        break;
                }
                total += (size_t)n;
                if (total > MAX_ISO_BYTES) {
                        src->cancel(src);
                        ret = vmenv_error_set(err, VMENV_EXIT_SOFTWARE,
                                              "the seed image is larger than %u bytes",
                                              MAX_ISO_BYTES);
                        break;
                }
                if (vmenv_write_all(fd, block, (size_t)n) < 0) {
                        src->cancel(src);
                        ret = vmenv_error_errno(err, vmenv_exit_for_errno(errno), errno,
                                                "cannot write the seed image");
                        break;
                }
        }
        /* read_xt returned 0 or the job was cancelled: the writer thread is
         * done with the image once free_data returns. */
        src->free_data(src);
        free(src);
        return ret;
}

int vmenv_cloud_iso_write(const struct vmenv_cloud_seed *s, const char *path, vmenv_error *err)
{
        pthread_once(&init_once, init_isofs);
        if (init_rc < 0)
                return iso_err(err, init_rc, "cannot start libisofs");

        IsoImage *img = NULL;
        int rc = iso_image_new("cidata", &img);
        if (rc < 0)
                return iso_err(err, rc, "new image");
        if (add_file(img, "meta-data", s->meta_data, err) < 0 ||
            add_file(img, "user-data", s->user_data, err) < 0 ||
            add_file(img, "network-config", s->network_config, err) < 0) {
                iso_image_unref(img);
                return -1;
        }

        /* A temporary file beside the target, renamed when complete: a seed
         * is never seen half-written. */
        _cleanup_free_ char *tmp = vmenv_strdupf("%s.tmp-XXXXXX", path);
        _cleanup_close_ int fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0) {
                iso_image_unref(img);
                return vmenv_error_errno(err, vmenv_exit_for_errno(errno), errno,
                                         "cannot create '%s'", tmp);
        }
        rc = write_image(img, fd, err);
        iso_image_unref(img);
        if (rc == 0 && (fchmod(fd, 0644) < 0 || fsync(fd) < 0))
                rc = vmenv_error_errno(err, vmenv_exit_for_errno(errno), errno, "cannot write '%s'",
                                       tmp);
        if (rc == 0 && rename(tmp, path) < 0)
                rc = vmenv_error_errno(err, vmenv_exit_for_errno(errno), errno,
                                       "cannot rename '%s' to '%s'", tmp, path);
        if (rc < 0)
                unlink(tmp);
        return rc;
}
