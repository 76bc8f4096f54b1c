/* Box archives: extraction that trusts nothing in the archive. Every member
 * is checked by name, type and size before libarchive writes it (with its
 * ARCHIVE_EXTRACT_SECURE_* flags on as well) into a fresh folder; then the
 * result is validated: metadata.json, declared disks, image headers. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json-cleanup.h"
#include "vmenv/box.h"
#include "vmenv/cleanup.h"
#include "vmenv/log.h"
#include "vmenv/util.h"

#define MAX_DISKS 16
#define MAX_NAME 255
/* Images are pushed to disk in chunks of this size while they are written
 * (8 MiB: the recycled pages are still warm; 32 MiB was ~5% slower). */
#define WRITEBACK_CHUNK (8ull << 20)
/* Archive reads: a block that stays in a core's L2 cache between the read
 * and the write of the member (1 MiB blocks were measurably slower). */
#define READ_BLOCK (256u << 10)

void vmenv_box_meta_clear(struct vmenv_box_meta *m)
{
        if (!m)
                return;
        free(m->format);
        vmenv_strv_free(m->images);
        memset(m, 0, sizeof(*m));
}

static bool is_image_name(const char *name)
{
        return vmenv_endswith(name, ".img") || vmenv_endswith(name, ".qcow2") ||
               vmenv_endswith(name, ".raw");
}

/* metadata.json and the Vagrantfile are read into memory: they stay small. */
static bool is_small_name(const char *name)
{
        return !strcmp(name, "metadata.json") || !strcmp(name, "Vagrantfile");
}

__attribute__((format(printf, 2, 3))) static int unsafe(vmenv_error *err, const char *fmt, ...)
{
        _cleanup_free_ char *what = NULL;
        va_list ap;

        va_start(ap, fmt);
        what = vmenv_vstrdupf(fmt, ap);
        va_end(ap);
        return vmenv_error_set(err, VMENV_EXIT_DATA, "unsafe box archive: %s", what);
}

/* Strips "./" prefixes; rejects absolute paths and '..' components.
 * Returns the normalised name (maybe "" for the archive's root). */
static int check_name(const char *raw, char **out, vmenv_error *err)
{
        const char *s = raw;
        _cleanup_free_ char *name = NULL;
        char *p;

        if (!raw)
                return vmenv_error_set(err, VMENV_EXIT_DATA,
                                       "unsafe box archive: a member has no name");
        if (strlen(raw) > MAX_NAME)
                return unsafe(err, "member name '%.64s...' is too long", raw);
        if (raw[0] == '/')
                return unsafe(err, "member '%s' has an absolute path", raw);
        while (s[0] == '.' && s[1] == '/') {
                s += 2;
                while (*s == '/')
                        s++;
        }
        if (!strcmp(s, "."))
                s = "";
        name = vmenv_strdup(s);
        /* trailing '/' of directories */
        for (size_t l = strlen(name); l > 0 && name[l - 1] == '/'; l--)
                name[l - 1] = '\0';
        for (p = name; *p;) {
                size_t n = strcspn(p, "/");
                if (n == 0 || (n == 1 && p[0] == '.'))
                        return unsafe(err, "member '%s' has an empty or '.' component", raw);
                if (n == 2 && p[0] == '.' && p[1] == '.')
                        return unsafe(err, "member '%s' has a '..' component", raw);
                for (size_t i = 0; i < n; i++)
                        if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f || p[i] == '\\')
                                return unsafe(
                                    err,
                                    "member '%s' has a control character or backslash in its name",
                                    raw);
                p += n;
                if (*p == '/')
                        p++;
        }
        *out = TAKE_PTR(name);
        return 0;
}

static int check_type(struct archive_entry *e, const char *raw, vmenv_error *err)
{
        if (archive_entry_hardlink(e))
                return unsafe(err, "member '%s' is a hard link: links are not allowed", raw);
        switch (archive_entry_filetype(e)) {
        case AE_IFREG:
        case AE_IFDIR:
                return 0;
        case AE_IFLNK:
                return unsafe(err, "member '%s' is a symbolic link: links are not allowed", raw);
        case AE_IFCHR:
        case AE_IFBLK:
                return unsafe(err, "member '%s' is a device node", raw);
        case AE_IFIFO:
                return unsafe(err, "member '%s' is a FIFO", raw);
        case AE_IFSOCK:
                return unsafe(err, "member '%s' is a socket", raw);
        default:
                return unsafe(err, "member '%s' has an unknown file type", raw);
        }
}

static int archive_fail(struct archive *a, const char *what, vmenv_error *err)
{
        const char *m = archive_error_string(a);
        int e = archive_errno(a);
        if (e == ENOSPC || e == EDQUOT || e == EIO)
                return vmenv_error_errno(err, vmenv_exit_for_errno(e), e, "cannot %s", what);
        return vmenv_error_set(err, VMENV_EXIT_DATA, "cannot %s: %s", what,
                               m ? m : "unknown archive error");
}

static void archive_freep(struct archive **a)
{
        if (*a)
                archive_read_free(*a);
}

static void archive_write_freep(struct archive **a)
{
        if (*a)
                archive_write_free(*a);
}

static int copy_data(struct archive *a, struct archive *w, const char *raw, uint64_t limit,
                     vmenv_error *err)
{
        for (;;) {
                const void *buf;
                size_t size;
                la_int64_t offset;
                int r = archive_read_data_block(a, &buf, &size, &offset);
                if (r == ARCHIVE_EOF)
                        return 0;
                if (r < ARCHIVE_WARN)
                        return archive_fail(a, "read box archive", err);
                if (offset < 0 || (uint64_t)offset + size > limit)
                        return unsafe(err, "member '%s' is larger than its size limit", raw);
                if (archive_write_data_block(w, buf, size, offset) < ARCHIVE_WARN)
                        return archive_fail(w, "write box contents", err);
        }
}

/* Starts writeback of each finished chunk of the file, waits for the chunk
 * before it and drops it from the page cache. The fsync before the box is
 * renamed into the store then has almost nothing left to do, and a 1 GiB
 * image occupies ~16 MiB of page cache instead of 1 GiB (which matters when
 * the download file is in the page cache at the same time). */
static int writeback(int fd, uint64_t *started, uint64_t end, const char *raw, vmenv_error *err)
{
        while (end - *started >= WRITEBACK_CHUNK) {
                uint64_t off = *started;
                int r = sync_file_range(fd, (off_t)off, WRITEBACK_CHUNK, SYNC_FILE_RANGE_WRITE);
                if (r == 0 && off >= WRITEBACK_CHUNK) {
                        r = sync_file_range(fd, (off_t)(off - WRITEBACK_CHUNK), WRITEBACK_CHUNK,
                                            SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                                                SYNC_FILE_RANGE_WAIT_AFTER);
                        if (r == 0)
                                posix_fadvise(fd, (off_t)(off - WRITEBACK_CHUNK),
                                              (off_t)WRITEBACK_CHUNK, POSIX_FADV_DONTNEED);
                }
                /* A file system without it: the final fsync does the work. A
                 * writeback error must be reported here, since it would not
                 * be reported again to the fsync of a later open. */
                if (r < 0 && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP &&
                    errno != ESPIPE)
                        return vmenv_error_errno(err, vmenv_exit_for_errno(errno), errno,
                                                 "cannot write box member '%s'", raw);
                *started = off + WRITEBACK_CHUNK;
        }
        return 0;
}

/* Writes a regular member that sits at the top of the box folder itself
 * rather than through archive_write_disk, so that it holds the descriptor
 * for writeback(). The checks done on the header are the same; O_EXCL and
 * O_NOFOLLOW on a name without '/' under the fresh folder's descriptor keep
 * it inside that folder and never overwrite anything. */
static int write_member(struct archive *a, int dfd, struct archive_entry *e, const char *name,
                        const char *raw, uint64_t limit, vmenv_error *err)
{
        _cleanup_close_ int fd = -1;
        uint64_t end = 0, started = 0;

        fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0 && errno == EEXIST)
                return unsafe(err, "member '%s' would replace an existing file", raw);
        if (fd < 0)
                return vmenv_error_errno(err, vmenv_exit_for_errno(errno), errno,
                                         "cannot write box member '%s'", raw);
        for (;;) {
                const void *buf;
                size_t size;
                la_int64_t offset;
                int r = archive_read_data_block(a, &buf, &size, &offset);
                if (r == ARCHIVE_EOF)
                        break;
                if (r < ARCHIVE_WARN)
                        return archive_fail(a, "read box archive", err);
                if (offset < 0 || (uint64_t)offset + size > limit)
                        return unsafe(err, "member '%s' is larger than its size limit", raw);
                for (size_t done = 0; done < size;) {
                        ssize_t n = pwrite(fd, (const char *)buf + done, size - done,
                                           (off_t)((uint64_t)offset + done));
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n <= 0)
                                return vmenv_error_errno(
                                    err, vmenv_exit_for_errno(n < 0 ? errno : ENOSPC),
                                    n < 0 ? errno : ENOSPC, "cannot write box member '%s'", raw);
                        done += (size_t)n;
                }
                if ((uint64_t)offset + size > end)
                        end = (uint64_t)offset + size;
                if (writeback(fd, &started, end, raw, err) < 0)
                        return -1;
        }
        /* A sparse member may end in a hole. */
        if (archive_entry_size_is_set(e) && (uint64_t)archive_entry_size(e) > end &&
            ftruncate(fd, archive_entry_size(e)) < 0)
                return vmenv_error_errno(err, vmenv_exit_for_errno(errno), errno,
                                         "cannot write box member '%s'", raw);
        /* Collects the writeback started above, and its errors. */
        if (started && fsync(fd) < 0)
                return vmenv_error_errno(err, vmenv_exit_for_errno(errno), errno,
                                         "cannot write box member '%s'", raw);
        return 0;
}

static struct archive *reader_new(void)
{
        struct archive *a = archive_read_new();
        if (!a)
                abort();
        archive_read_support_filter_all(a);
        archive_read_support_format_tar(a);
        archive_read_support_format_zip(a);
        return a;
}

static int extract_all(struct archive *a, const char *dest, struct vmenv_box_meta *meta,
                       vmenv_error *err);

int vmenv_box_archive_extract(const char *path, const char *dest, struct vmenv_box_meta *meta,
                              vmenv_error *err)
{
        _cleanup_(archive_freep) struct archive *a = reader_new();

        if (archive_read_open_filename(a, path, READ_BLOCK) != ARCHIVE_OK)
                return archive_fail(a, "open box archive", err);
        return extract_all(a, dest, meta, err);
}

struct cb_reader {
        const struct vmenv_box_reader *r;
        char *buf;
};

static la_ssize_t cb_read(struct archive *a, void *data, const void **out)
{
        struct cb_reader *c = data;
        long n = c->r->read(c->r->data, c->buf, READ_BLOCK);
        *out = c->buf;
        if (n < 0)
                archive_set_error(a, ECANCELED, "reading the box was aborted");
        return n;
}

int vmenv_box_archive_extract_from(const struct vmenv_box_reader *r, const char *dest,
                                   struct vmenv_box_meta *meta, vmenv_error *err)
{
        _cleanup_(archive_freep) struct archive *a = reader_new();
        _cleanup_free_ char *buf = vmenv_malloc(READ_BLOCK);
        struct cb_reader c = {r, buf};

        if (archive_read_open(a, &c, NULL, cb_read, NULL) != ARCHIVE_OK)
                return archive_fail(a, "open box archive", err);
        return extract_all(a, dest, meta, err);
}

static int extract_all(struct archive *a, const char *dest, struct vmenv_box_meta *meta,
                       vmenv_error *err)
{
        _cleanup_(archive_write_freep) struct archive *w = archive_write_disk_new();
        _cleanup_close_ int dfd = open(dest, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        char **seen = NULL;
        size_t n_members = 0;
        uint64_t extra_used = 0;
        int r = -1;

        if (dfd < 0)
                return vmenv_error_errno(err, 0, errno, "cannot open '%s'", dest);
        /* Our own checks run first; these are the second line of defence. */
        archive_write_disk_set_options(w, ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                                              ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                                              ARCHIVE_EXTRACT_NO_OVERWRITE);
        for (;;) {
                struct archive_entry *e;
                _cleanup_free_ char *name = NULL, *full = NULL;
                const char *raw;
                uint64_t limit;
                int h = archive_read_next_header(a, &e);

                if (h == ARCHIVE_EOF)
                        break;
                if (h < ARCHIVE_WARN) {
                        archive_fail(a, "read box archive", err);
                        goto out;
                }
                raw = archive_entry_pathname(e);
                if (check_name(raw, &name, err) < 0 || check_type(e, raw, err) < 0)
                        goto out;
                if (!*name) {
                        if (archive_entry_filetype(e) != AE_IFDIR) {
                                unsafe(err, "member '%s' has no name", raw);
                                goto out;
                        }
                        continue;
                }
                if (++n_members > VMENV_BOX_MAX_MEMBERS) {
                        vmenv_error_set(err, VMENV_EXIT_DATA,
                                        "unsafe box archive: more than %d members",
                                        VMENV_BOX_MAX_MEMBERS);
                        goto out;
                }
                for (char **s = seen; s && *s; s++)
                        if (!strcmp(*s, name)) {
                                unsafe(err, "member '%s' appears twice", raw);
                                goto out;
                        }
                vmenv_strv_push(&seen, vmenv_strdup(name));
                limit = is_image_name(name)   ? VMENV_BOX_MAX_IMAGE
                        : is_small_name(name) ? VMENV_BOX_MAX_SMALL
                                              : VMENV_BOX_MAX_EXTRA;
                if (archive_entry_filetype(e) == AE_IFREG && archive_entry_size_is_set(e) &&
                    (uint64_t)archive_entry_size(e) > limit) {
                        vmenv_error_set(err, VMENV_EXIT_DATA,
                                        "unsafe box archive: member '%s' is larger than the limit "
                                        "of %llu bytes",
                                        raw, (unsigned long long)limit);
                        goto out;
                }
                if (limit == VMENV_BOX_MAX_EXTRA && archive_entry_filetype(e) == AE_IFREG) {
                        /* charged at its declared size, else at all it may use */
                        uint64_t left = VMENV_BOX_MAX_EXTRA_TOTAL - extra_used;
                        bool sized = archive_entry_size_is_set(e);
                        if (sized && (uint64_t)archive_entry_size(e) > left) {
                                vmenv_error_set(err, VMENV_EXIT_DATA,
                                                "unsafe box archive: the members other than disks "
                                                "and metadata are over %llu bytes together",
                                                (unsigned long long)VMENV_BOX_MAX_EXTRA_TOTAL);
                                goto out;
                        }
                        if (limit > left)
                                limit = left;
                        extra_used += sized ? (uint64_t)archive_entry_size(e) : limit;
                }
                if (archive_entry_filetype(e) == AE_IFREG && !strchr(name, '/')) {
                        if (write_member(a, dfd, e, name, raw, limit, err) < 0)
                                goto out;
                        continue;
                }
                full = vmenv_path_join(dest, name);
                archive_entry_set_pathname(e, full);
                archive_entry_set_perm(e, archive_entry_filetype(e) == AE_IFDIR ? 0755 : 0644);
                archive_entry_set_uid(e, 0);
                archive_entry_set_gid(e, 0);
                if (archive_write_header(w, e) < ARCHIVE_WARN) {
                        archive_fail(w, "write box contents", err);
                        goto out;
                }
                if (archive_entry_filetype(e) == AE_IFREG && copy_data(a, w, raw, limit, err) < 0)
                        goto out;
                if (archive_write_finish_entry(w) < ARCHIVE_WARN) {
                        archive_fail(w, "write box contents", err);
                        goto out;
                }
        }
        if (archive_write_close(w) < ARCHIVE_WARN) {
                archive_fail(w, "write box contents", err);
                goto out;
        }
        if (!n_members) {
                vmenv_error_set(err, VMENV_EXIT_DATA, "box archive is empty");
                goto out;
        }
        r = vmenv_box_dir_validate(dest, meta, err);
out:
        vmenv_strv_free(seen);
        return r;
}

bool vmenv_box_member_path_ok(const char *s)
{
        if (!s || !*s || strlen(s) > MAX_NAME)
                return false;
        for (const char *p = s;;) {
                size_t n = strcspn(p, "/");
                if (n == 0 || p[0] == '.')
                        return false;
                for (size_t i = 0; i < n; i++)
                        if (p[i] == '\\' || (unsigned char)p[i] < 0x20 || p[i] == 0x7f)
                                return false;
                if (!p[n])
                        return true;
                p += n + 1;
        }
}

/* declared: the v1 box's "format"; NULL for a v2 disk, whose format
 * vagrant-libvirt takes from the image itself (qemu-img info), whatever the
 * disk's "format" says. */
static int check_disk(const char *dir, const char *path, const char *declared,
                      struct vmenv_box_meta *m, vmenv_error *err)
{
        _cleanup_free_ char *full = NULL, *format = NULL, *real = NULL, *rdir = NULL;
        uint64_t size = 0;
        struct stat st;

        if (!vmenv_box_member_path_ok(path))
                return vmenv_error_set(
                    err, VMENV_EXIT_DATA,
                    "invalid box: disk path '%s' must be a relative path inside the box", path);
        if (declared && strcmp(declared, "qcow2") && strcmp(declared, "raw"))
                return vmenv_error_set(err, VMENV_EXIT_DATA,
                                       "invalid box: disk '%s' has format '%s', not qcow2 or raw",
                                       path, declared);
        full = vmenv_path_join(dir, path);
        if (lstat(full, &st) < 0 || !S_ISREG(st.st_mode))
                return vmenv_error_set(err, VMENV_EXIT_DATA,
                                       "invalid box: disk '%s' named in metadata.json is missing",
                                       path);
        /* no link on the way may lead out of the box (a store copied in) */
        real = realpath(full, NULL);
        rdir = realpath(dir, NULL);
        if (!real || !rdir || strncmp(real, rdir, strlen(rdir)) || real[strlen(rdir)] != '/')
                return vmenv_error_set(err, VMENV_EXIT_DATA,
                                       "invalid box: disk '%s' is not inside the box", path);
        if (vmenv_image_probe(full, &format, &size, err) < 0)
                return vmenv_error_prefix(err, "invalid box");
        if (declared && strcmp(format, declared))
                return vmenv_error_set(
                    err, VMENV_EXIT_DATA,
                    "invalid box: image '%s' is declared %s but its header says %s", path, declared,
                    format);
        for (char **s = m->images; s && *s; s++)
                if (!strcmp(*s, path))
                        return vmenv_error_set(err, VMENV_EXIT_DATA,
                                               "invalid box: disk '%s' is listed twice", path);
        if (!m->images) {
                m->format = vmenv_strdup(format);
                m->virtual_size = size;
        }
        vmenv_strv_push(&m->images, vmenv_strdup(path));
        return 0;
}

/* A v1 box's "virtual_size" (GiB, what vagrant-libvirt gives the volume)
 * counts when it is larger than the image's own size. */
static int v1_virtual_size(json_object *root, struct vmenv_box_meta *m, vmenv_error *err)
{
        json_object *vs;
        int64_t gib;

        if (!json_object_object_get_ex(root, "virtual_size", &vs) ||
            json_object_is_type(vs, json_type_null))
                return 0;
        if (!json_object_is_type(vs, json_type_int) || (gib = json_object_get_int64(vs)) < 0 ||
            (uint64_t)gib > (VMENV_BOX_MAX_IMAGE >> 30) * 256)
                return vmenv_error_set(err, VMENV_EXIT_DATA,
                                       "invalid box: 'virtual_size' in metadata.json must be a "
                                       "number of GiB up to %llu",
                                       (unsigned long long)(VMENV_BOX_MAX_IMAGE >> 30) * 256);
        if ((uint64_t)gib << 30 > m->virtual_size)
                m->virtual_size = (uint64_t)gib << 30;
        return 0;
}

static int meta_cloud_init(json_object *root, bool *out, vmenv_error *err)
{
        json_object *v;

        *out = false;
        if (!json_object_object_get_ex(root, VMENV_BOX_CLOUD_INIT_KEY, &v))
                return 0;
        if (!json_object_is_type(v, json_type_boolean))
                return vmenv_error_set(err, VMENV_EXIT_DATA,
                                       "invalid box: '" VMENV_BOX_CLOUD_INIT_KEY
                                       "' in metadata.json must be true or false");
        *out = json_object_get_boolean(v);
        return 0;
}

int vmenv_box_dir_cloud_init(const char *dir, bool *out, vmenv_error *err)
{
        _cleanup_free_ char *path = vmenv_path_join(dir, "metadata.json"), *text = NULL;
        _cleanup_(json_putp) json_object *root = NULL;

        *out = false;
        if (!vmenv_path_exists(path))
                return 0;
        if (vmenv_read_file(path, VMENV_BOX_MAX_SMALL, &text, NULL, err) < 0)
                return vmenv_error_prefix(err, "box '%s'", dir);
        if (!(root = json_tokener_parse(text)) || !json_object_is_type(root, json_type_object))
                return vmenv_error_set(err, VMENV_EXIT_DATA, "'%s' is not a JSON object", path);
        return meta_cloud_init(root, out, err);
}

int vmenv_box_dir_validate(const char *dir, struct vmenv_box_meta *meta, vmenv_error *err)
{
        _cleanup_free_ char *path = vmenv_path_join(dir, "metadata.json"), *text = NULL;
        _cleanup_(json_putp) json_object *root = NULL;
        json_tokener *tok;
        json_object *provider, *format, *disks;
        struct vmenv_box_meta m = {0};
        enum json_tokener_error jerr;
        struct stat st;
        size_t len;

        if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode))
                return vmenv_error_set(err, VMENV_EXIT_DATA, "invalid box: no metadata.json");
        if (vmenv_read_file(path, VMENV_BOX_MAX_SMALL, &text, &len, err) < 0)
                return vmenv_error_prefix(err, "invalid box");
        tok = json_tokener_new_ex(16);
        root = json_tokener_parse_ex(tok, text, (int)len);
        jerr = json_tokener_get_error(tok);
        if (!root && jerr == json_tokener_continue)
                jerr = json_tokener_error_parse_eof;
        if (root && json_tokener_get_parse_end(tok) < len) {
                for (const char *s = text + json_tokener_get_parse_end(tok); *s; s++)
                        if (*s != ' ' && *s != '\n' && *s != '\r' && *s != '\t') {
                                jerr = json_tokener_error_parse_unexpected;
                                break;
                        }
        }
        json_tokener_free(tok);
        if (!root || jerr != json_tokener_success)
                return vmenv_error_set(
                    err, VMENV_EXIT_DATA, "invalid box: metadata.json is not valid JSON: %s",
                    json_tokener_error_desc(
                        jerr != json_tokener_success ? jerr : json_tokener_error_parse_unexpected));
        if (!json_object_is_type(root, json_type_object))
                return vmenv_error_set(err, VMENV_EXIT_DATA,
                                       "invalid box: metadata.json is not a JSON object");
        if (!json_object_object_get_ex(root, "provider", &provider) ||
            !json_object_is_type(provider, json_type_string))
                return vmenv_error_set(err, VMENV_EXIT_DATA,
                                       "invalid box: metadata.json has no 'provider'");
        if (strcmp(json_object_get_string(provider), "libvirt"))
                return vmenv_error_set(err, VMENV_EXIT_DATA,
                                       "invalid box: provider is '%.64s', not 'libvirt'",
                                       json_object_get_string(provider));
        if (json_object_object_get_ex(root, "disks", &disks)) {
                size_t n;
                if (!json_object_is_type(disks, json_type_array) ||
                    (n = json_object_array_length(disks)) == 0 || n > MAX_DISKS) {
                        return vmenv_error_set(
                            err, VMENV_EXIT_DATA,
                            "invalid box: 'disks' in metadata.json must be a list of 1 to %d disks",
                            MAX_DISKS);
                }
                _cleanup_(vmenv_strv_freep) char **volumes = NULL;
                for (size_t i = 0; i < n; i++) {
                        json_object *d = json_object_array_get_idx(disks, i), *p, *nm;
                        _cleanup_free_ char *vol = NULL;
                        size_t k = 0;
                        if (!json_object_is_type(d, json_type_object) ||
                            !json_object_object_get_ex(d, "path", &p) ||
                            !json_object_is_type(p, json_type_string)) {
                                vmenv_box_meta_clear(&m);
                                return vmenv_error_set(
                                    err, VMENV_EXIT_DATA,
                                    "invalid box: disk %zu in metadata.json has no 'path'", i + 1);
                        }
                        if (check_disk(dir, json_object_get_string(p), NULL, &m, err) < 0) {
                                vmenv_box_meta_clear(&m);
                                return -1;
                        }
                        /* vagrant-libvirt's volume name: 'name', else the
                         * path without its extension; two alike clash */
                        if (json_object_object_get_ex(d, "name", &nm) &&
                            json_object_is_type(nm, json_type_string)) {
                                vol = vmenv_strdup(json_object_get_string(nm));
                        } else {
                                const char *ps = json_object_get_string(p);
                                const char *dot = strrchr(ps, '.'), *sl = strrchr(ps, '/');
                                vol = vmenv_strndup(ps, dot && (!sl || dot > sl) && dot[1]
                                                            ? (size_t)(dot - ps)
                                                            : strlen(ps));
                        }
                        for (char **v = volumes; v && *v; v++, k++)
                                if (!strcmp(*v, vol)) {
                                        vmenv_box_meta_clear(&m);
                                        return vmenv_error_set(
                                            err, VMENV_EXIT_DATA,
                                            "invalid box: disks %zu and %zu would both be volume "
                                            "'%.64s'",
                                            k + 1, i + 1, vol);
                                }
                        vmenv_strv_push(&volumes, TAKE_PTR(vol));
                }
        } else {
                const char *fmt = "qcow2";
                if (json_object_object_get_ex(root, "format", &format)) {
                        if (!json_object_is_type(format, json_type_string))
                                return vmenv_error_set(
                                    err, VMENV_EXIT_DATA,
                                    "invalid box: 'format' in metadata.json is not a string");
                        fmt = json_object_get_string(format);
                }
                if (check_disk(dir, "box.img", fmt, &m, err) < 0) {
                        vmenv_box_meta_clear(&m);
                        return -1;
                }
                if (v1_virtual_size(root, &m, err) < 0) {
                        vmenv_box_meta_clear(&m);
                        return -1;
                }
        }
        if (meta_cloud_init(root, &m.cloud_init, err) < 0) {
                vmenv_box_meta_clear(&m);
                return -1;
        }
        if (meta)
                *meta = m;
        else
                vmenv_box_meta_clear(&m);
        return 0;
}
