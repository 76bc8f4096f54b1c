/* Putting a box into the store: it is built in $VMENV_HOME/tmp/ (same
 * filesystem), validated, fsynced and renamed into place under the per-box
 * lock; a download is extracted while it arrives. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "box-private.h"
#include "json-cleanup.h"
#include "vmenv/cleanup.h"
#include "vmenv/log.h"
#include "vmenv/util.h"

static int fsync_path(const char *path, vmenv_error *err)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0 || fsync(fd) < 0)
                return vmenv_error_errno(err, vmenv_exit_for_errno(errno), errno,
                                         "cannot sync '%s'", path);
        return 0;
}

static int fsync_tree(const char *dir, int depth, vmenv_error *err)
{
        DIR *d = opendir(dir);
        struct dirent *de;
        int r = 0;

        if (!d)
                return vmenv_error_errno(err, 0, errno, "cannot read '%s'", dir);
        while (r == 0 && (de = readdir(d))) {
                _cleanup_free_ char *p = NULL;
                struct stat st;
                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                        continue;
                p = vmenv_path_join(dir, de->d_name);
                if (lstat(p, &st) < 0)
                        continue;
                if (S_ISDIR(st.st_mode) && depth < 8)
                        r = fsync_tree(p, depth + 1, err);
                else if (S_ISREG(st.st_mode))
                        r = fsync_path(p, err);
        }
        closedir(d);
        return r < 0 ? r : fsync_path(dir, err);
}

static int copy_file(const char *from, const char *to, vmenv_error *err)
{
        _cleanup_close_ int in = open(from, O_RDONLY | O_CLOEXEC);
        _cleanup_close_ int out = -1;
        struct stat st;
        off_t left;

        if (in < 0 || fstat(in, &st) < 0)
                return vmenv_error_errno(err, errno == ENOENT ? VMENV_EXIT_NOINPUT : 0, errno,
                                         "cannot open '%s'", from);
        if ((out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) < 0)
                return vmenv_error_errno(err, 0, errno, "cannot create '%s'", to);
        for (left = st.st_size; left > 0;) {
                ssize_t n = copy_file_range(in, NULL, out, NULL,
                                            (size_t)(left > (1 << 30) ? (1 << 30) : left), 0);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return vmenv_error_errno(err, vmenv_exit_for_errno(errno), errno,
                                                 "cannot copy '%s'", from);
                if (n == 0)
                        break;
                left -= n;
        }
        return 0;
}

static void iso_now(char *buf, size_t len)
{
        time_t t = time(NULL);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Folders in tmp/ are named box-<pid>-XXXXXX; those of processes that are
 * gone (killed mid-add) are removed by the next add. */
static char *tmp_folder(const char *tmproot, vmenv_error *err)
{
        DIR *d = opendir(tmproot);
        struct dirent *de;
        char *p;

        while (d && (de = readdir(d))) {
                long pid;
                char *end;
                if (strncmp(de->d_name, "box-", 4) && strncmp(de->d_name, "old-", 4))
                        continue;
                pid = strtol(de->d_name + 4, &end, 10);
                if (*end == '-' && pid > 0 && kill((pid_t)pid, 0) < 0 && errno == ESRCH) {
                        _cleanup_free_ char *stale = vmenv_path_join(tmproot, de->d_name);
                        vmenv_error ignore = VMENV_ERROR_INIT;
                        vmenv_debug("removing '%s' left by an interrupted add", stale);
                        vmenv_rm_rf(stale, &ignore);
                        vmenv_error_clear(&ignore);
                }
        }
        if (d)
                closedir(d);
        p = vmenv_strdupf("%s/box-%ld-XXXXXX", tmproot, (long)getpid());
        if (!mkdtemp(p)) {
                vmenv_error_errno(err, 0, errno, "cannot create a folder in '%s'", tmproot);
                free(p);
                return NULL;
        }
        return p;
}

static int write_vmenv_json(const char *dir, const struct vmenv_box_install_req *in,
                            const struct vmenv_box_meta *m, vmenv_error *err)
{
        _cleanup_(json_putp) json_object *o = json_object_new_object();
        _cleanup_free_ char *path = vmenv_path_join(dir, "vmenv.json");
        json_object *imgs = json_object_new_array(), *stamps = json_object_new_object();
        const char *text;
        char now[32];

        iso_now(now, sizeof(now));
        json_object_object_add(o, "name", json_object_new_string(in->name));
        json_object_object_add(o, "version", json_object_new_string(in->version));
        json_object_object_add(o, "provider", json_object_new_string("libvirt"));
        if (in->source)
                json_object_object_add(o, "source", json_object_new_string(in->source));
        if (in->catalog)
                json_object_object_add(o, "catalog", json_object_new_string(in->catalog));
        if (in->digest)
                json_object_object_add(o, "checksum", json_object_new_string(in->digest));
        json_object_object_add(o, "format", json_object_new_string(m->format));
        json_object_object_add(o, "virtual_size", json_object_new_int64((int64_t)m->virtual_size));
        /* o owns them from here, whatever happens below */
        json_object_object_add(o, "images", imgs);
        json_object_object_add(o, "image_stamps", stamps);
        for (char **s = m->images; s && *s; s++) {
                _cleanup_free_ char *img = vmenv_path_join(dir, *s), *stamp = NULL;
                struct stat st;
                if (stat(img, &st) < 0)
                        return vmenv_error_errno(err, VMENV_EXIT_IO, errno, "cannot stat '%s'",
                                                 img);
                stamp = vmenv_box_stamp_of(&st);
                json_object_array_add(imgs, json_object_new_string(*s));
                json_object_object_add(stamps, *s, json_object_new_string(stamp));
        }
        json_object_object_add(o, "added", json_object_new_string(now));
        text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED);
        return vmenv_write_file_atomic(path, text, strlen(text), 0644, err);
}

static int image_box(const char *tmp, const char *image, struct vmenv_box_meta *m, vmenv_error *err)
{
        _cleanup_free_ char *dst = vmenv_path_join(tmp, "box.img"), *meta = NULL, *mpath = NULL;
        _cleanup_free_ char *format = NULL;
        uint64_t size = 0;

        if (vmenv_image_probe(image, &format, &size, err) < 0)
                return -1;
        if (copy_file(image, dst, err) < 0)
                return -1;
        meta = vmenv_strdupf(
            "{\"provider\": \"libvirt\", \"format\": \"%s\", \"virtual_size\": %llu}\n", format,
            /* whole GiB, rounded down: a v1 virtual_size larger than the
             * image would grow its disk */
            (unsigned long long)(size >> 30));
        mpath = vmenv_path_join(tmp, "metadata.json");
        if (vmenv_write_file_atomic(mpath, meta, strlen(meta), 0644, err) < 0)
                return -1;
        return vmenv_box_dir_validate(tmp, m, err);
}

/* Called with the box lock held. */
struct vmenv_box *vmenv_box_install(struct vmenv_box_install_req *in, vmenv_error *err)
{
        _cleanup_free_ char *home = vmenv_home(), *tmproot = vmenv_path_join(home, "tmp");
        _cleanup_free_ char *tmp = NULL, *final = vmenv_box_version_dir(in->name, in->version);
        _cleanup_free_ char *parent = NULL, *old = NULL;
        struct vmenv_box_meta m = {0};
        struct vmenv_box *b = NULL;
        vmenv_error ignore = VMENV_ERROR_INIT;
        uint64_t t0, t1;

        t0 = vmenv_now_ns();
        if (in->extracted) {
                tmp = in->extracted;
                in->extracted = NULL;
                m = *in->meta;
                memset(in->meta, 0, sizeof(*in->meta));
        } else {
                if (vmenv_mkdir_p(tmproot, 0755, err) < 0)
                        return NULL;
                if (!(tmp = tmp_folder(tmproot, err)))
                        return NULL;
                if ((in->is_image ? image_box(tmp, in->file, &m, err)
                                  : vmenv_box_archive_extract(in->file, tmp, &m, err)) < 0)
                        goto fail;
        }
        t1 = vmenv_now_ns();
        if (write_vmenv_json(tmp, in, &m, err) < 0 || fsync_tree(tmp, 0, err) < 0)
                goto fail;
        vmenv_debug("box '%s' (%s): extracted in %.2f s, synced in %.2f s", in->name, in->version,
                    (double)(t1 - t0) / 1e9, (double)(vmenv_now_ns() - t1) / 1e9);
        parent = vmenv_strndup(final, strlen(final) - strlen("/libvirt"));
        if (vmenv_mkdir_p(parent, 0755, err) < 0)
                goto fail;
        if (vmenv_path_exists(final)) {
                if (!in->force) {
                        vmenv_error_set(err, VMENV_EXIT_DATA,
                                        "box '%s' (%s) is already in the store", in->name,
                                        in->version);
                        vmenv_error_hint(err, "use --force to replace it");
                        goto fail;
                }
                old = vmenv_strdupf("%s/old-%ld-XXXXXX", tmproot, (long)getpid());
                if (!mkdtemp(old) || rename(final, old) < 0) {
                        vmenv_error_errno(err, 0, errno, "cannot replace '%s'", final);
                        goto fail;
                }
        }
        if (rename(tmp, final) < 0) {
                vmenv_error_errno(err, 0, errno, "cannot move the box into '%s'", final);
                goto fail;
        }
        fsync_path(parent, &ignore);
        vmenv_error_clear(&ignore);
        if (old) {
                vmenv_rm_rf(old, &ignore);
                vmenv_error_clear(&ignore);
        }
        vmenv_box_meta_clear(&m);
        b = vmenv_box_load(in->name, in->version, final, err);
        return b;
fail:
        vmenv_box_meta_clear(&m);
        vmenv_rm_rf(tmp, &ignore);
        vmenv_error_clear(&ignore);
        if (old) {
                vmenv_rm_rf(old, &ignore);
                vmenv_error_clear(&ignore);
        }
        if (parent) {
                _cleanup_free_ char *ndir =
                    vmenv_strndup(parent, (size_t)(strrchr(parent, '/') - parent));
                rmdir(parent);
                rmdir(ndir);
        }
        return NULL;
}

/* Extraction while downloading: a thread reads the download file as it
 * grows and extracts it into tmp/, so the two overlap. The result is used
 * only if the download completes and its digest is right; if the download
 * restarts from zero, the box is extracted again from the finished file. */
struct follow {
        pthread_mutex_t mu;
        pthread_cond_t cv;
        char *path;
        uint64_t size, off;
        bool done, failed, restarted;
        bool final;    /* size is the complete download's */
        bool zip;      /* the file starts as a zip archive */
        bool finished; /* the thread is done reading */
        int fd;
        /* The digest of [0, off) of the file, as read: the download thread
         * then need not hash (see consumer_digest). NULL if unusable. */
        EVP_MD_CTX *md;
        const char *md_type;
        char *dest;
        struct vmenv_box_meta meta;
        vmenv_error err;
        int rc;
        bool cut; /* extraction stopped because its input did, not on its own */
};

static bool follow_on_data(void *data, const char *path, uint64_t size, enum vmenv_fetch_event ev)
{
        struct follow *f = data;
        bool go_on;
        pthread_mutex_lock(&f->mu);
        if (!f->path)
                f->path = vmenv_strdup(path);
        if (ev == VMENV_FETCH_RESTARTED)
                f->restarted = true;
        else
                f->size = size;
        /* Extraction failed for good: stop the download instead of filling
         * the cache with the rest. A zip may need the whole file (its
         * directory is at the end), so it goes on to the definitive try. */
        go_on = !(f->finished && f->rc < 0 && !f->zip && !f->restarted);
        pthread_cond_broadcast(&f->cv);
        pthread_mutex_unlock(&f->mu);
        return go_on;
}

static long follow_cut(struct follow *f)
{
        pthread_mutex_lock(&f->mu);
        f->cut = true;
        pthread_mutex_unlock(&f->mu);
        return -1;
}

static long follow_read(void *data, void *buf, size_t len)
{
        struct follow *f = data;
        uint64_t avail;
        ssize_t n;

        pthread_mutex_lock(&f->mu);
        while (!f->failed && !f->restarted && !f->done && !f->final &&
               (!f->path || f->off >= f->size))
                pthread_cond_wait(&f->cv, &f->mu);
        if (f->failed || f->restarted || (f->done && !f->path)) {
                f->cut = true;
                pthread_mutex_unlock(&f->mu);
                return -1;
        }
        avail = f->size - f->off;
        if (f->fd < 0)
                f->fd = open(f->path, O_RDONLY | O_CLOEXEC);
        pthread_mutex_unlock(&f->mu);
        if (avail == 0)
                return 0; /* done, all read */
        if (f->fd < 0)
                return follow_cut(f);
        if (avail < len)
                len = (size_t)avail;
        do
                n = pread(f->fd, buf, len, (off_t)f->off);
        while (n < 0 && errno == EINTR);
        if (n <= 0) /* the download removed or cut its file */
                return follow_cut(f);
        if (f->md)
                EVP_DigestUpdate(f->md, buf, (size_t)n);
        if (f->off == 0 && n >= 2 && !memcmp(buf, "PK", 2))
                f->zip = true;
        f->off += (uint64_t)n;
        return n;
}

static void *follow_thread(void *data)
{
        struct follow *f = data;
        struct vmenv_box_reader r = {follow_read, f};
        long n = 0;

        f->rc = vmenv_box_archive_extract_from(&r, f->dest, &f->meta, &f->err);
        /* The archive may end before the file does (end-of-archive blocks,
         * padding): the digest covers every byte, so read on to the end. */
        if (f->rc == 0 && f->md) {
                _cleanup_free_ char *buf = vmenv_malloc(1 << 16);
                while ((n = follow_read(f, buf, 1 << 16)) > 0)
                        ;
        }
        pthread_mutex_lock(&f->mu);
        if (f->rc < 0 || n < 0)
                f->md_type = NULL;
        f->finished = true;
        pthread_cond_broadcast(&f->cv);
        pthread_mutex_unlock(&f->mu);
        return NULL;
}

/* Called by the download thread once the file is complete. */
static char *follow_digest(void *data, const char *type, uint64_t size)
{
        struct follow *f = data;
        unsigned char d[EVP_MAX_MD_SIZE];
        unsigned len = 0;
        char *hex;

        pthread_mutex_lock(&f->mu);
        f->final = true;
        f->size = size;
        pthread_cond_broadcast(&f->cv);
        while (!f->finished)
                pthread_cond_wait(&f->cv, &f->mu);
        pthread_mutex_unlock(&f->mu);
        if (!f->md_type || strcmp(f->md_type, type) || f->restarted || f->off != size)
                return NULL;
        EVP_DigestFinal_ex(f->md, d, &len);
        hex = vmenv_malloc(len * 2 + 1);
        for (unsigned i = 0; i < len; i++)
                snprintf(hex + 2 * i, 3, "%02x", d[i]);
        return hex;
}

/* Downloads url while extracting it into a new folder in tmp/. On success
 * *extracted and *meta hold the result, or *extracted is NULL when the box
 * must be extracted from *file afterwards (the download restarted). */
int vmenv_box_fetch_and_extract(const char *url, const char *cs, const struct vmenv_fetch_opts *fo,
                                char **file, char **digest, char **extracted,
                                struct vmenv_box_meta *meta, vmenv_error *err)
{
        _cleanup_free_ char *home = vmenv_home(), *tmproot = vmenv_path_join(home, "tmp");
        struct vmenv_fetch_opts o = fo ? *fo : (struct vmenv_fetch_opts){0};
        struct follow f = {
            .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER, .fd = -1};
        vmenv_error ignore = VMENV_ERROR_INIT;
        _cleanup_free_ char *type = NULL, *hex = NULL;
        pthread_t th;
        int r;

        *extracted = NULL;
        if (cs && vmenv_checksum_parse(cs, &type, &hex, err) < 0)
                return -1;
        if (vmenv_mkdir_p(tmproot, 0755, err) < 0)
                return -1;
        if (!(f.dest = tmp_folder(tmproot, err)))
                return -1;
        f.md_type = type ? type : "sha256";
        if (!(f.md = EVP_MD_CTX_new()) ||
            !EVP_DigestInit_ex(f.md, EVP_get_digestbyname(f.md_type), NULL))
                abort();
        o.on_data = follow_on_data;
        o.on_data_arg = &f;
        o.consumer_digest = follow_digest;
        if (pthread_create(&th, NULL, follow_thread, &f) != 0)
                abort();
        r = vmenv_fetch(url, cs, &o, file, digest, err);
        pthread_mutex_lock(&f.mu);
        if (r < 0 && f.finished && f.rc < 0 && !f.cut && f.err.msg) {
                /* the download stopped because extraction failed: say why
                 * (not when extraction only saw the download's own end: a
                 * cap or a failed transfer says it better) */
                vmenv_error_clear(err);
                vmenv_error_move(err, &f.err);
        }
        if (r < 0)
                f.failed = true;
        else
                f.done = true;
        pthread_cond_broadcast(&f.cv);
        pthread_mutex_unlock(&f.mu);
        pthread_join(th, NULL);
        if (f.fd >= 0)
                close(f.fd);
        /* If streaming extraction failed (a bad archive, or a zip that needs
         * seeking), the caller extracts from the finished file, which gives
         * the definitive error. */
        if (r == 0 && f.rc == 0 && !f.restarted) {
                *extracted = TAKE_PTR(f.dest);
                *meta = f.meta;
                memset(&f.meta, 0, sizeof(f.meta));
        }
        if (f.dest) {
                vmenv_rm_rf(f.dest, &ignore);
                vmenv_error_clear(&ignore);
                free(f.dest);
        }
        vmenv_box_meta_clear(&f.meta);
        vmenv_error_clear(&f.err);
        EVP_MD_CTX_free(f.md);
        free(f.path);
        return r;
}
