/* rsync-type folders over SSH: list the guest folder in one command, plan
 * against the local tree, delete in batches, then send what changed as one
 * tar stream that the guest's own tar extracts (mtimes and modes carried by
 * tar). No rsync binary in the guest. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmenv/cleanup.h"
#include "vmenv/log.h"
#include "vmenv/ssh.h"
#include "vmenv/sync.h"
#include "vmenv/util.h"

/* A tar batch is sent once it holds this much; bounds memory on big trees. */
#define SYNC_BATCH_BYTES (32u << 20)
/* Longest shell command we send (OpenSSH accepts far more). */
#define SYNC_MAX_CMD (64u << 10)
/* A batch bigger than this (one big file) goes to a temporary file. */
#define SYNC_SPILL_BYTES (64u << 20)
/* How much of the guest's stderr goes into an error message. */
#define SYNC_ERR_TAIL 2048

/* stderr of a guest command lands in an anonymous file so its tail can be
 * quoted in the error; a pipe could fill up and stall the session. */
static int err_file(vmenv_error *err)
{
        int fd = memfd_create("vmenv-sync-stderr", MFD_CLOEXEC);
        if (fd < 0)
                return vmenv_error_errno(err, VMENV_EXIT_IO, errno,
                                         "cannot create a temporary file");
        return fd;
}

static char *err_tail(int fd)
{
        char buf[SYNC_ERR_TAIL + 1];
        off_t size = lseek(fd, 0, SEEK_END);
        off_t from = size > SYNC_ERR_TAIL ? size - SYNC_ERR_TAIL : 0;
        ssize_t n = pread(fd, buf, SYNC_ERR_TAIL, from);
        if (n <= 0)
                return vmenv_strdup("no error output");
        buf[n] = '\0';
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
                buf[--n] = '\0';
        for (char *c = buf; *c; c++)
                if (*c == '\n')
                        *c = ' ';
        return vmenv_strdup(n ? buf : "no error output");
}

/* Runs cmd in the guest; a non-zero exit is an error quoting its stderr. */
static int run(struct vmenv_ssh *s, const char *cmd, const void *in, size_t in_len,
               const char *what, vmenv_error *err)
{
        _cleanup_close_ int efd = -1;
        _cleanup_free_ char *tail = NULL;
        int status = 0;

        if ((efd = err_file(err)) < 0)
                return -1;
        vmenv_debug("sync: %s: %.200s", what, cmd);
        if (vmenv_ssh_exec(s, cmd, in, in_len, -1, efd, &status, err) < 0)
                return vmenv_error_prefix(err, "cannot %s", what);
        if (status == 0)
                return 0;
        tail = err_tail(efd);
        return vmenv_error_set(err, VMENV_EXIT_FAILURE, "cannot %s: exit status %d: %s", what,
                               status, tail);
}

static char *root_cmd(const char *inner, bool as_root)
{
        _cleanup_free_ char *q = NULL;
        if (!as_root)
                return vmenv_strdup(inner);
        q = vmenv_shell_quote(inner);
        return vmenv_strdupf("sudo -n sh -c %s", q);
}

static int list_remote(struct vmenv_ssh *s, const char *guest_dir, bool as_root,
                       struct vmenv_sync_list *out, vmenv_error *err)
{
        _cleanup_free_ char *inner = vmenv_sync_listing_cmd(guest_dir);
        _cleanup_free_ char *cmd = root_cmd(inner, as_root);
        _cleanup_free_ char *data = NULL;
        int status = 0;

        /* vmenv_ssh_capture keeps stdout only; its length is not returned,
         * so the listing goes through a file of our own to keep NULs. */
        _cleanup_close_ int ofd = memfd_create("vmenv-sync-listing", MFD_CLOEXEC);
        _cleanup_close_ int efd = -1;
        off_t size;

        if (ofd < 0)
                return vmenv_error_errno(err, VMENV_EXIT_IO, errno,
                                         "cannot create a temporary file");
        if ((efd = err_file(err)) < 0)
                return -1;
        if (vmenv_ssh_exec(s, cmd, NULL, 0, ofd, efd, &status, err) < 0)
                return vmenv_error_prefix(err, "cannot list the guest folder");
        if (status != 0) {
                _cleanup_free_ char *tail = err_tail(efd);
                return vmenv_error_set(err, VMENV_EXIT_FAILURE,
                                       "cannot list the guest folder: exit status %d: %s", status,
                                       tail);
        }
        if ((size = lseek(ofd, 0, SEEK_END)) < 0)
                return vmenv_error_errno(err, VMENV_EXIT_IO, errno, "cannot read the listing");
        if ((uint64_t)size > VMENV_SYNC_MAX_LISTING)
                return vmenv_error_set(err, VMENV_EXIT_DATA,
                                       "the guest folder's listing is larger than %u MiB",
                                       VMENV_SYNC_MAX_LISTING >> 20);
        if (size == 0)
                return 0;
        data = vmenv_malloc((size_t)size);
        if (pread(ofd, data, (size_t)size, 0) != size)
                return vmenv_error_errno(err, VMENV_EXIT_IO, errno, "cannot read the listing");
        return vmenv_sync_parse_listing(data, (size_t)size, out, err);
}

/* libarchive writes into a growing memory buffer; a batch that outgrows
 * SYNC_SPILL_BYTES (one big file) moves to an unlinked temporary file that
 * is mapped for sending, so a large file is never held on the heap. */
struct tar_batch {
        struct archive *a;
        struct vmenv_buf buf;
        int fd;     /* spill file, or -1 */
        size_t len; /* bytes written in all */
        void *map;
        int werr; /* errno of a failed spill write */
};

static la_ssize_t batch_write(struct archive *a, void *data, const void *p, size_t n)
{
        struct tar_batch *t = data;

        if (t->fd < 0 && t->buf.len + n > SYNC_SPILL_BYTES) {
                const char *dir = getenv("TMPDIR");
                t->fd = open(dir && *dir ? dir : "/var/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
                if (t->fd < 0 || vmenv_write_all(t->fd, t->buf.data, t->buf.len) < 0) {
                        t->werr = errno;
                        archive_set_error(a, errno, "cannot write a temporary file");
                        return -1;
                }
                vmenv_buf_free(&t->buf);
        }
        if (t->fd >= 0) {
                if (vmenv_write_all(t->fd, p, n) < 0) {
                        t->werr = errno;
                        archive_set_error(a, errno, "cannot write a temporary file");
                        return -1;
                }
        } else {
                vmenv_buf_add(&t->buf, p, n);
        }
        t->len += n;
        return (la_ssize_t)n;
}

static int batch_open(struct tar_batch *t, vmenv_error *err)
{
        t->fd = -1;
        t->len = 0;
        t->werr = 0;
        t->a = archive_write_new();
        /* GNU format: long names and big files, raw bytes in names (no
         * charset conversion), understood by GNU and busybox tar. */
        if (archive_write_set_format_gnutar(t->a) != ARCHIVE_OK ||
            archive_write_set_bytes_in_last_block(t->a, 1) != ARCHIVE_OK ||
            archive_write_open(t->a, t, NULL, batch_write, NULL) != ARCHIVE_OK) {
                vmenv_error_set(err, VMENV_EXIT_SOFTWARE, "cannot start a tar stream: %s",
                                archive_error_string(t->a));
                archive_write_free(t->a);
                t->a = NULL;
                return -1;
        }
        return 0;
}

/* The finished stream, in memory or mapped from the spill file. */
static const void *batch_data(struct tar_batch *t, vmenv_error *err)
{
        if (t->fd < 0)
                return t->buf.data ? t->buf.data : "";
        t->map = mmap(NULL, t->len, PROT_READ, MAP_SHARED, t->fd, 0);
        if (t->map == MAP_FAILED) {
                t->map = NULL;
                vmenv_error_errno(err, VMENV_EXIT_IO, errno, "cannot map a temporary file");
                return NULL;
        }
        return t->map;
}

static void batch_free(struct tar_batch *t)
{
        if (t->a)
                archive_write_free(t->a);
        t->a = NULL;
        if (t->map)
                munmap(t->map, t->len);
        t->map = NULL;
        if (t->fd >= 0)
                close(t->fd);
        t->fd = -1;
        vmenv_buf_free(&t->buf);
}

static int add_entry(struct tar_batch *t, const char *root, const struct vmenv_sync_entry *e,
                     bool *skipped, uint64_t *bytes, vmenv_error *err)
{
        _cleanup_free_ char *full = vmenv_path_join(root, e->path);
        _cleanup_close_ int fd = -1;
        struct archive_entry *ae;
        struct stat st;
        int r = -1;

        *skipped = false;
        ae = archive_entry_new();
        archive_entry_copy_pathname(ae, e->path);
        archive_entry_set_mtime(ae, e->mtime, 0);
        archive_entry_set_perm(ae, e->mode);
        switch (e->type) {
        case VMENV_SYNC_DIR:
                archive_entry_set_filetype(ae, AE_IFDIR);
                break;
        case VMENV_SYNC_LINK:
                archive_entry_set_filetype(ae, AE_IFLNK);
                archive_entry_set_perm(ae, 0777);
                archive_entry_copy_symlink(ae, e->link);
                break;
        default:
                /* Never follow a link swapped in since the walk. */
                fd = open(full, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
                if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                        if (fd < 0 && errno != ENOENT && errno != ELOOP) {
                                vmenv_error_errno(err, vmenv_exit_for_errno(errno), errno,
                                                  "cannot read '%s'", full);
                                goto out;
                        }
                        vmenv_debug("sync: '%s' vanished or changed type, skipped", full);
                        *skipped = true;
                        r = 0;
                        goto out;
                }
                archive_entry_set_filetype(ae, AE_IFREG);
                archive_entry_set_size(ae, st.st_size);
                archive_entry_set_mtime(ae, st.st_mtim.tv_sec, 0);
                archive_entry_set_perm(ae, st.st_mode & 07777);
        }
        if (archive_write_header(t->a, ae) != ARCHIVE_OK) {
                vmenv_error_set(err, VMENV_EXIT_SOFTWARE, "cannot add '%s' to the tar stream: %s",
                                full, archive_error_string(t->a));
                goto out;
        }
        if (fd >= 0) {
                char chunk[65536];
                int64_t left = st.st_size;
                while (left > 0) {
                        ssize_t n = read(fd, chunk, sizeof(chunk));
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n < 0) {
                                vmenv_error_errno(err, vmenv_exit_for_errno(errno), errno,
                                                  "cannot read '%s'", full);
                                goto out;
                        }
                        if (n == 0) {
                                /* Shrunk while we read: pad, the next sync fixes it. */
                                memset(chunk, 0, sizeof(chunk));
                                n = left < (int64_t)sizeof(chunk) ? (ssize_t)left
                                                                  : (ssize_t)sizeof(chunk);
                        }
                        if (n > left)
                                n = (ssize_t)left;
                        if (archive_write_data(t->a, chunk, (size_t)n) < 0) {
                                vmenv_error_set(err, VMENV_EXIT_SOFTWARE,
                                                "cannot add '%s' to the tar stream: %s", full,
                                                archive_error_string(t->a));
                                goto out;
                        }
                        left -= n;
                }
                *bytes += (uint64_t)st.st_size;
        }
        r = 0;
out:
        archive_entry_free(ae);
        return r;
}

/* The guest command that extracts one batch; the last one also fixes
 * ownership like Vagrant's rsync__chown. */
static char *extract_cmd(const char *guest_dir, bool as_root, const char *owner, bool chown)
{
        _cleanup_free_ char *qd = vmenv_shell_quote(guest_dir);
        _cleanup_free_ char *inner = NULL, *qi = NULL, *qu = NULL, *qg = NULL;
        _cleanup_free_ char *user = NULL, *group = NULL;
        const char *colon;

        if (!as_root)
                return vmenv_strdupf("mkdir -p %s && cd %s && tar -xpf -", qd, qd);
        inner = vmenv_strdupf("mkdir -p \"$1\" && cd \"$1\" && tar -xpf -%s",
                              chown ? " && find . \\( ! -user \"$2\" -o ! -group \"$3\" \\) "
                                      "-exec chown -h \"$2:$3\" {} +"
                                    : "");
        qi = vmenv_shell_quote(inner);
        if (!owner)
                return vmenv_strdupf("u=$(id -u) && g=$(id -g) && sudo -n sh -c %s sh %s \"$u\" "
                                     "\"$g\"",
                                     qi, qd);
        colon = strchr(owner, ':');
        user = colon ? vmenv_strndup(owner, (size_t)(colon - owner)) : vmenv_strdup(owner);
        group = vmenv_strdup(colon && colon[1] ? colon + 1 : user);
        qu = vmenv_shell_quote(user);
        qg = vmenv_shell_quote(group);
        return vmenv_strdupf("sudo -n sh -c %s sh %s %s %s", qi, qd, qu, qg);
}

static int send_plan(struct vmenv_ssh *s, const char *local_dir, const char *guest_dir,
                     const struct vmenv_sync_plan *plan, bool as_root, const char *owner,
                     struct vmenv_sync_stats *st, vmenv_error *err)
{
        struct tar_batch t = {.fd = -1};
        size_t i = 0;
        int r = 0;

        /* Even with nothing to send the folder must exist (and, as root,
         * belong to the user), so an empty folder still gets one empty batch. */
        while (r == 0) {
                uint64_t t0 = vmenv_now_ns(), t1;
                size_t in_batch = 0;
                _cleanup_free_ char *cmd = NULL;

                if ((r = batch_open(&t, err)) < 0)
                        break;
                const void *data;

                while (i < plan->n_send && t.len < SYNC_BATCH_BYTES) {
                        bool skipped;
                        if ((r = add_entry(&t, local_dir, plan->send[i], &skipped, &st->bytes,
                                           err)) < 0)
                                break;
                        i++;
                        if (!skipped) {
                                in_batch++;
                                st->sent++;
                        }
                }
                if (r < 0)
                        break;
                if (archive_write_close(t.a) != ARCHIVE_OK) {
                        r = vmenv_error_set(err, VMENV_EXIT_SOFTWARE,
                                            "cannot finish the tar stream: %s",
                                            archive_error_string(t.a));
                        break;
                }
                if (!(data = batch_data(&t, err))) {
                        r = -1;
                        break;
                }
                cmd = extract_cmd(guest_dir, as_root, owner, i == plan->n_send);
                t1 = vmenv_now_ns();
                r = run(s, cmd, data, t.len, "extract the files in the guest", err);
                vmenv_debug("sync: batch of %zu entries, %zu bytes of tar%s: made in %.3f s, sent "
                            "and extracted in %.3f s",
                            in_batch, t.len, t.fd >= 0 ? " (from a temporary file)" : "",
                            (double)(t1 - t0) / 1e9, (double)(vmenv_now_ns() - t1) / 1e9);
                batch_free(&t);
                if (i == plan->n_send)
                        break;
        }
        batch_free(&t);
        return r;
}

int vmenv_sync_folder(struct vmenv_ssh *s, const char *local_dir, const char *guest_dir,
                      char *const *exclude, bool as_root, const char *owner,
                      struct vmenv_sync_stats *stats, vmenv_error *err)
{
        struct vmenv_sync_list local = {0}, remote = {0};
        struct vmenv_sync_plan plan = {0};
        struct vmenv_sync_stats st = {0};
        char **dels = NULL;
        uint64_t t0 = vmenv_now_ns();
        int r = -1;

        if (guest_dir[0] != '/')
                return vmenv_error_set(err, VMENV_EXIT_CONFIG,
                                       "guest folder '%s' is not an absolute path", guest_dir);
        /* Mirroring deletes what the host lacks: never the guest's root. */
        if (guest_dir[strspn(guest_dir, "/")] == '\0')
                return vmenv_error_set(err, VMENV_EXIT_CONFIG,
                                       "refusing to sync into the guest's root folder '%s'",
                                       guest_dir);
        if (vmenv_sync_walk(local_dir, exclude, &local, err) < 0)
                return -1;
        if (list_remote(s, guest_dir, as_root, &remote, err) < 0)
                goto fail;
        vmenv_sync_plan_make(&local, &remote, exclude, &plan);
        vmenv_debug("sync: '%s' -> '%s': %zu local, %zu remote, %zu to send (%llu bytes), %zu to "
                    "delete, listed in %.3f s",
                    local_dir, guest_dir, local.n, remote.n, plan.n_send,
                    (unsigned long long)plan.send_bytes, plan.n_del,
                    (double)(vmenv_now_ns() - t0) / 1e9);
        dels = vmenv_sync_delete_cmds(guest_dir, plan.del, plan.n_del, as_root, SYNC_MAX_CMD);
        for (char **c = dels; c && *c; c++)
                if (run(s, *c, NULL, 0, "delete files in the guest", err) < 0)
                        goto fail;
        st.deleted = plan.n_del;
        st.unchanged = plan.n_unchanged;
        /* Nothing changed and the folder is there: no second round trip. */
        if (plan.n_send > 0 || !remote.exists) {
                if (send_plan(s, local_dir, guest_dir, &plan, as_root, owner, &st, err) < 0)
                        goto fail;
        }
        vmenv_debug("sync: done in %.3f s", (double)(vmenv_now_ns() - t0) / 1e9);
        if (stats)
                *stats = st;
        r = 0;
        goto out;
fail:
        vmenv_error_prefix(err, "cannot sync '%s' to guest folder '%s'", local_dir, guest_dir);
out:
        vmenv_strv_free(dels);
        vmenv_sync_plan_free(&plan);
        vmenv_sync_list_free(&local);
        vmenv_sync_list_free(&remote);
        return r;
}
