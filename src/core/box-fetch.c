/* Downloads with libcurl (the only file that includes it): bounded
 * redirects, verified TLS, timeouts, a digest computed while streaming, and
 * resumable partials in $VMENV_HOME/cache/ validated by ETag/Last-Modified. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <libgen.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "digest.h"
#include "vmenv/box.h"
#include "vmenv/cleanup.h"
#include "vmenv/log.h"
#include "vmenv/util.h"

#define MAX_REDIRS 10L
#define HEADER_MAX 1024
/* libcurl hands the body over in pieces of at most 16 KiB (CURL_MAX_WRITE_SIZE);
 * writing, hashing and announcing each piece costs a syscall and a thread
 * wake-up per 16 KiB. Batches of 256 KiB stay in the L2 cache between the
 * memcpy, the write and the hash (2 MiB batches were slower than none). */
#define WRITE_BUF (256u << 10)

bool vmenv_is_url(const char *s)
{
        return s && (vmenv_startswith(s, "http://") || vmenv_startswith(s, "https://") ||
                     vmenv_startswith(s, "file://"));
}

char *vmenv_url_resolve(const char *base, const char *ref, vmenv_error *err)
{
        CURLU *u;
        char *out = NULL, *res;

        /* A remote catalog may not send us to a local file (file:///dev/zero,
         * ~/.ssh/...): only a catalog read from this machine may. */
        if ((vmenv_startswith(base ? base : "", "http://") ||
             vmenv_startswith(base ? base : "", "https://")) &&
            vmenv_startswith(ref, "file:")) {
                vmenv_error_set(err, VMENV_EXIT_DATA,
                                "catalog '%s' points to a local file '%s': only a catalog on "
                                "this machine may",
                                base, ref);
                return NULL;
        }
        if (vmenv_is_url(ref) || !base)
                return vmenv_strdup(ref);
        if (!vmenv_is_url(base)) {
                _cleanup_free_ char *copy = vmenv_strdup(base);
                if (ref[0] == '/')
                        return vmenv_strdup(ref);
                return vmenv_path_join(dirname(copy), ref);
        }
        if (!(u = curl_url()))
                abort();
        if (curl_url_set(u, CURLUPART_URL, base, 0) != CURLUE_OK ||
            curl_url_set(u, CURLUPART_URL, ref, 0) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_URL, &res, 0) != CURLUE_OK) {
                curl_url_cleanup(u);
                vmenv_error_set(err, VMENV_EXIT_DATA, "cannot resolve '%s' against '%s'", ref,
                                base);
                return NULL;
        }
        out = vmenv_strdup(res);
        curl_free(res);
        curl_url_cleanup(u);
        return out;
}

static long env_seconds(const char *name, long def)
{
        const char *v = getenv(name);
        char *end;
        long n;
        if (!v || !*v)
                return def;
        n = strtol(v, &end, 10);
        return (*end || n <= 0 || n > 86400) ? def : n;
}

/* file:// only names regular files: /dev/zero or a FIFO never end. */
static int check_file_url(const char *url, vmenv_error *err)
{
        CURLU *u;
        char *path = NULL;
        struct stat st;
        int r = 0;

        if (!vmenv_startswith(url, "file:"))
                return 0;
        if (!(u = curl_url()))
                abort();
        if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_PATH, &path, CURLU_URLDECODE) != CURLUE_OK)
                r = vmenv_error_set(err, VMENV_EXIT_DATA, "invalid URL '%s'", url);
        else if (stat(path, &st) < 0)
                r = vmenv_error_errno(err, errno == ENOENT ? VMENV_EXIT_NOINPUT : 0, errno,
                                      "cannot download '%s'", url);
        else if (!S_ISREG(st.st_mode))
                r = vmenv_error_set(err, VMENV_EXIT_DATA,
                                    "cannot download '%s': not a regular file", url);
        curl_free(path);
        curl_url_cleanup(u);
        return r;
}

/* The most a single download may bring: VMENV_MAX_DOWNLOAD (a size such as
 * 20G), 64 GiB by default; a server that sends no length is cut there. */
static uint64_t download_cap(void)
{
        const char *v = getenv("VMENV_MAX_DOWNLOAD");
        uint64_t n = 0;
        if (v && *v && vmenv_parse_size(v, &n) == 0 && n > 0)
                return n;
        return 64ull << 30;
}

static void curl_freep(CURL **c)
{
        if (*c)
                curl_easy_cleanup(*c);
}

static void slist_freep(struct curl_slist **l)
{
        if (*l)
                curl_slist_free_all(*l);
}

static void setup(CURL *c, const char *url, const struct vmenv_fetch_opts *o, char *errbuf)
{
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(c, CURLOPT_MAXREDIRS, MAX_REDIRS);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https,file");
        curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, env_seconds("VMENV_CONNECT_TIMEOUT", 30));
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, env_seconds("VMENV_LOW_SPEED_TIME", 30));
        curl_easy_setopt(c, CURLOPT_USERAGENT, "vmenv");
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
        curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 512L * 1024);
        if (o && o->insecure) {
                curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
                curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
        }
        if (o && o->cacert)
                curl_easy_setopt(c, CURLOPT_CAINFO, o->cacert);
        /* vagrant box add --capath, --cert, --location-trusted */
        if (o && o->capath)
                curl_easy_setopt(c, CURLOPT_CAPATH, o->capath);
        if (o && o->cert)
                curl_easy_setopt(c, CURLOPT_SSLCERT, o->cert);
        /* a registry token: curl keeps auth to the host it was set for and
         * drops it on a redirect elsewhere, which must stay so for it */
        if (o && o->bearer) {
                curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BEARER);
                curl_easy_setopt(c, CURLOPT_XOAUTH2_BEARER, o->bearer);
        } else if (o && o->location_trusted) {
                curl_easy_setopt(c, CURLOPT_UNRESTRICTED_AUTH, 1L);
        }
        errbuf[0] = '\0';
}

static int curl_failed(CURLcode rc, const char *errbuf, const char *url, vmenv_error *err)
{
        int code = rc == CURLE_OPERATION_TIMEDOUT ? VMENV_EXIT_TEMPFAIL : VMENV_EXIT_NETWORK;
        return vmenv_error_set(err, code, "cannot download '%s': %s", url,
                               errbuf[0] ? errbuf : curl_easy_strerror(rc));
}

/* ---- small documents --------------------------------------------------- */

struct membuf {
        struct vmenv_buf b;
        size_t max;
        bool too_big;
};

static size_t mem_write(char *p, size_t size, size_t n, void *data)
{
        struct membuf *m = data;
        if (m->b.len + n > m->max) {
                m->too_big = true;
                return 0;
        }
        vmenv_buf_add(&m->b, p, n);
        return n * size;
}

int vmenv_fetch_memory(const char *url, size_t max, const struct vmenv_fetch_opts *opts, char **out,
                       size_t *len, vmenv_error *err)
{
        _cleanup_(curl_freep) CURL *c = NULL;
        struct membuf m = {.max = max};
        char errbuf[CURL_ERROR_SIZE];
        long status = 0;
        CURLcode rc;

        if (!vmenv_is_url(url))
                return vmenv_read_file(url, max, out, len, err);
        if (check_file_url(url, err) < 0)
                return -1;
        if (!(c = curl_easy_init()))
                abort();
        setup(c, url, opts, errbuf);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, mem_write);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &m);
        rc = curl_easy_perform(c);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        if (m.too_big) {
                vmenv_buf_free(&m.b);
                return vmenv_error_set(err, VMENV_EXIT_DATA,
                                       "'%s' is larger than the limit of %zu bytes", url, max);
        }
        if (rc != CURLE_OK) {
                vmenv_buf_free(&m.b);
                return curl_failed(rc, errbuf, url, err);
        }
        if (status >= 400) {
                vmenv_buf_free(&m.b);
                return vmenv_error_set(err, VMENV_EXIT_NETWORK, "cannot download '%s': HTTP %ld",
                                       url, status);
        }
        if (len)
                *len = m.b.len;
        *out = vmenv_buf_steal(&m.b);
        return 0;
}

/* ---- resumable, verified downloads -------------------------------------- */

struct dl {
        CURL *curl;
        const char *url;
        int fd;
        EVP_MD_CTX *md;
        uint64_t offset; /* bytes of the partial we asked to resume from */
        uint64_t have;   /* bytes now in the file (and hashed) */
        char *buf;       /* WRITE_BUF bytes received but not yet written */
        size_t buffered;
        bool consumer_hashes; /* opts->consumer_digest hashes, not md */
        bool started;
        bool http_error;    /* status >= 400: body discarded */
        bool bad_range;     /* a 206 whose Content-Range is not the offset asked */
        bool too_long;      /* past Content-Length or the cap */
        bool stopped;       /* the consumer gave up (extraction failed) */
        uint64_t expect;    /* bytes this response may bring (Content-Length or cap) */
        uint64_t body_base; /* d->have when this response's body began */
        uint64_t cap;
        int write_errno;
        char etag[HEADER_MAX], last_modified[HEADER_MAX], content_range[HEADER_MAX];
        const char *sidecar;
        const char *path;
        const struct vmenv_fetch_opts *opts;
        const char *label;
        bool tty, quiet;
        uint64_t t0, last_draw;
};

static void header_value(const char *line, size_t n, const char *name, char *out)
{
        size_t ln = strlen(name);
        if (n <= ln || strncasecmp(line, name, ln))
                return;
        line += ln;
        n -= ln;
        while (n && (*line == ' ' || *line == '\t'))
                line++, n--;
        while (n && (line[n - 1] == '\r' || line[n - 1] == '\n' || line[n - 1] == ' '))
                n--;
        if (n >= HEADER_MAX)
                n = HEADER_MAX - 1;
        memcpy(out, line, n);
        out[n] = '\0';
}

static size_t dl_header(char *p, size_t size, size_t n, void *data)
{
        struct dl *d = data;
        if (n >= 5 && !strncmp(p, "HTTP/", 5)) {
                /* a new response (redirect) */
                d->etag[0] = d->last_modified[0] = d->content_range[0] = '\0';
                return n * size;
        }
        header_value(p, n, "etag:", d->etag);
        header_value(p, n, "last-modified:", d->last_modified);
        header_value(p, n, "content-range:", d->content_range);
        return n * size;
}

static int write_sidecar(struct dl *d)
{
        _cleanup_free_ char *text = NULL;
        json_object *o;
        vmenv_error e = VMENV_ERROR_INIT;
        int r;

        if (!d->etag[0] && !d->last_modified[0]) {
                unlink(d->sidecar); /* nothing to validate a resume with */
                return 0;
        }
        o = json_object_new_object();
        json_object_object_add(o, "url", json_object_new_string(d->url));
        if (d->etag[0])
                json_object_object_add(o, "etag", json_object_new_string(d->etag));
        if (d->last_modified[0])
                json_object_object_add(o, "last_modified",
                                       json_object_new_string(d->last_modified));
        text = vmenv_strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        json_object_put(o);
        r = vmenv_write_file_atomic(d->sidecar, text, strlen(text), 0644, &e);
        vmenv_error_clear(&e);
        return r;
}

/* Writes, hashes and announces the buffered bytes; the file only ever holds
 * bytes that are hashed, so an interrupted download resumes correctly. */
static int dl_flush(struct dl *d)
{
        const char *p = d->buf;
        size_t left = d->buffered;

        while (left > 0) {
                ssize_t w = pwrite(d->fd, p, left, (off_t)d->have);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0) {
                        d->write_errno = w < 0 ? errno : ENOSPC;
                        return -1;
                }
                if (!d->consumer_hashes)
                        EVP_DigestUpdate(d->md, p, (size_t)w);
                p += w;
                left -= (size_t)w;
                d->have += (uint64_t)w;
        }
        d->buffered = 0;
        if (d->opts && d->opts->on_data &&
            !d->opts->on_data(d->opts->on_data_arg, d->path, d->have, VMENV_FETCH_GROWING)) {
                d->stopped = true;
                return -1;
        }
        return 0;
}

static size_t dl_write(char *p, size_t size, size_t n, void *data)
{
        struct dl *d = data;
        size_t left = n * size;

        if (!d->started) {
                long status = 0;
                d->started = true;
                curl_easy_getinfo(d->curl, CURLINFO_RESPONSE_CODE, &status);
                if (status >= 300) {
                        d->http_error = true;
                        return 0;
                }
                if (status == 206) {
                        /* The bytes must start where the partial ends. */
                        unsigned long long a = 0, b = 0;
                        if (sscanf(d->content_range, "bytes %llu-%llu/", &a, &b) != 2 ||
                            a != d->offset) {
                                vmenv_debug("'%s': Content-Range '%s' is not at %llu", d->url,
                                            d->content_range, (unsigned long long)d->offset);
                                d->bad_range = true;
                                return 0;
                        }
                }
                {
                        curl_off_t cl = -1;
                        curl_easy_getinfo(d->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
                        d->expect = d->cap;
                        if (cl >= 0 && (uint64_t)cl < d->cap)
                                d->expect = (uint64_t)cl;
                        if (cl >= 0 && (uint64_t)cl > d->cap) {
                                d->too_long = true;
                                return 0;
                        }
                }
                if (d->offset > 0 && status != 206 && status != 0) {
                        /* The server sent the whole file (no Range support, or
                         * the If-Range validator no longer matches). */
                        vmenv_debug("'%s': HTTP %ld instead of 206: restarting from zero", d->url,
                                    status);
                        if (ftruncate(d->fd, 0) < 0) {
                                d->write_errno = errno;
                                return 0;
                        }
                        EVP_DigestInit_ex(d->md, EVP_MD_CTX_get0_md(d->md), NULL);
                        d->have = 0;
                        d->consumer_hashes = false;
                        if (d->opts && d->opts->on_data)
                                d->opts->on_data(d->opts->on_data_arg, d->path, 0,
                                                 VMENV_FETCH_RESTARTED);
                }
                d->body_base = d->have;
                write_sidecar(d);
        }
        /* Bytes of this response so far, against what it may bring. */
        if (d->have + d->buffered - d->body_base + left > d->expect ||
            d->have + d->buffered + left > d->cap) {
                d->too_long = true;
                return 0;
        }
        while (left > 0) {
                size_t take = WRITE_BUF - d->buffered < left ? WRITE_BUF - d->buffered : left;
                memcpy(d->buf + d->buffered, p, take);
                d->buffered += take;
                p += take;
                left -= take;
                if (d->buffered == WRITE_BUF && dl_flush(d) < 0)
                        return 0;
        }
        return n * size;
}

static void human(double v, char *out, size_t len)
{
        const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
        int i = 0;
        while (v >= 1024 && i < 4)
                v /= 1024, i++;
        snprintf(out, len, i ? "%.1f %s" : "%.0f %s", v, u[i]);
}

static int dl_progress(void *data, curl_off_t total, curl_off_t now, curl_off_t ut, curl_off_t un)
{
        struct dl *d = data;
        uint64_t t = vmenv_now_ns();
        double secs, rate;
        char a[32], b[32], r[32];

        if (!d->tty || d->quiet || t - d->last_draw < 200000000ull)
                return 0;
        d->last_draw = t;
        secs = (double)(t - d->t0) / 1e9;
        rate = secs > 0 ? (double)now / secs : 0;
        human((double)(now + (curl_off_t)d->offset), a, sizeof(a));
        human((double)(total + (curl_off_t)d->offset), b, sizeof(b));
        human(rate, r, sizeof(r));
        if (total > 0) {
                double pct = 100.0 * (double)(now + (curl_off_t)d->offset) /
                             (double)(total + (curl_off_t)d->offset);
                long eta = rate > 0 ? (long)((double)(total - now) / rate) : 0;
                char bar[21];
                int fill = (int)(pct / 5);
                for (int i = 0; i < 20; i++)
                        bar[i] = i < fill ? '#' : '-';
                bar[20] = '\0';
                fprintf(stderr, "\r%s [%s] %3.0f%% %s / %s  %s/s  ETA %ld:%02ld \033[K", d->label,
                        bar, pct, a, b, r, eta / 60, eta % 60);
        } else {
                fprintf(stderr, "\r%s %s  %s/s \033[K", d->label, a, r);
        }
        return 0;
}

static const char *base_name(const char *url)
{
        const char *s = strrchr(url, '/');
        return s && s[1] ? s + 1 : url;
}

/* Reads the sidecar of an earlier attempt; true if it validates a resume. */
static bool read_sidecar(const char *path, const char *url, char *etag, char *lm)
{
        _cleanup_free_ char *text = NULL;
        vmenv_error e = VMENV_ERROR_INIT;
        json_object *o, *v;
        bool okay = false;

        if (vmenv_read_file(path, 16384, &text, NULL, &e) < 0) {
                vmenv_error_clear(&e);
                return false;
        }
        if (!(o = json_tokener_parse(text)))
                return false;
        if (json_object_object_get_ex(o, "url", &v) &&
            vmenv_streq(json_object_get_string(v), url)) {
                if (json_object_object_get_ex(o, "etag", &v))
                        snprintf(etag, HEADER_MAX, "%s", json_object_get_string(v));
                if (json_object_object_get_ex(o, "last_modified", &v))
                        snprintf(lm, HEADER_MAX, "%s", json_object_get_string(v));
                okay = etag[0] || lm[0];
        }
        json_object_put(o);
        return okay;
}

static void lock_closep(int *fd)
{
        if (*fd >= 0)
                close(*fd);
}

int vmenv_fetch(const char *url, const char *checksum, const struct vmenv_fetch_opts *opts,
                char **path_out, char **digest_out, vmenv_error *err)
{
        _cleanup_free_ char *home = vmenv_home(), *cache = NULL, *locks = NULL, *key = NULL;
        _cleanup_free_ char *part = NULL, *sidecar = NULL, *done = NULL, *lockp = NULL;
        _cleanup_free_ char *want_type = NULL, *want_hex = NULL, *got = NULL;
        _cleanup_(lock_closep) int lock = -1;
        _cleanup_(vmenv_md_freep) EVP_MD_CTX *md = EVP_MD_CTX_new();
        _cleanup_free_ char *wbuf = vmenv_malloc(WRITE_BUF);
        const char *type = "sha256";
        bool quiet = (opts && opts->quiet) || vmenv_log_level < VMENV_LOG_INFO;

        if (!md)
                abort();
        if (checksum) {
                if (vmenv_checksum_parse(checksum, &want_type, &want_hex, err) < 0)
                        return -1;
                type = want_type;
        }
        {
                unsigned char h[EVP_MAX_MD_SIZE];
                unsigned n;
                EVP_Digest(url, strlen(url), h, &n, EVP_sha256(), NULL);
                key = vmenv_hex_of(h, 16);
        }
        cache = vmenv_path_join(home, "cache");
        locks = vmenv_path_join(home, "locks");
        if (vmenv_mkdir_p(cache, 0755, err) < 0 || vmenv_mkdir_p(locks, 0755, err) < 0)
                return -1;
        part = vmenv_strdupf("%s/%s.part", cache, key);
        sidecar = vmenv_strdupf("%s/%s.part.json", cache, key);
        done = vmenv_strdupf("%s/%s.box", cache, key);
        lockp = vmenv_strdupf("%s/download-%s.lock", locks, key);
        if (check_file_url(url, err) < 0)
                return -1;
        /* One writer per partial: a second download of the same URL waits. */
        if ((lock = vmenv_lock_file(lockp, true, err)) < 0)
                return -1;
        unlink(done);              /* a finished download nobody extracted (crash): stale */
        if (opts && opts->clean) { /* --clean: no resuming from an earlier attempt */
                unlink(part);
                unlink(sidecar);
        }

        for (int attempt = 0; attempt < 2; attempt++) {
                _cleanup_(curl_freep) CURL *c = curl_easy_init();
                _cleanup_(slist_freep) struct curl_slist *hdrs = NULL;
                _cleanup_close_ int fd = -1;
                struct dl d = {.url = url,
                               .sidecar = sidecar,
                               .path = part,
                               .opts = opts,
                               .buf = wbuf,
                               .cap = download_cap(),
                               .label = base_name(url)};
                char etag[HEADER_MAX] = "", lm[HEADER_MAX] = "";
                char errbuf[CURL_ERROR_SIZE];
                struct stat st;
                long status = 0;
                CURLcode rc;
                double secs;

                if (!c)
                        abort();
                if ((fd = open(part, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0 || fstat(fd, &st) < 0)
                        return vmenv_error_errno(err, 0, errno, "cannot write '%s'", part);
                EVP_DigestInit_ex(md, EVP_get_digestbyname(type), NULL);
                if (st.st_size > 0 && attempt == 0 && read_sidecar(sidecar, url, etag, lm)) {
                        if (vmenv_hash_fd(fd, (uint64_t)st.st_size, md, -1, part, err) < 0)
                                return -1;
                        _cleanup_free_ char *h = vmenv_strdupf("If-Range: %s", etag[0] ? etag : lm);
                        d.offset = d.have = (uint64_t)st.st_size;
                        hdrs = curl_slist_append(NULL, h);
                } else if (st.st_size > 0) {
                        if (ftruncate(fd, 0) < 0)
                                return vmenv_error_errno(err, 0, errno, "cannot write '%s'", part);
                }
                if (opts && opts->on_data)
                        opts->on_data(opts->on_data_arg, part, d.have,
                                      attempt ? VMENV_FETCH_RESTARTED : VMENV_FETCH_GROWING);
                d.curl = c;
                d.fd = fd;
                d.md = md;
                d.consumer_hashes =
                    opts && opts->on_data && opts->consumer_digest && attempt == 0 && d.offset == 0;
                d.tty = isatty(STDERR_FILENO) && !quiet;
                d.quiet = quiet;
                d.t0 = vmenv_now_ns();
                setup(c, url, opts, errbuf);
                curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, dl_write);
                curl_easy_setopt(c, CURLOPT_WRITEDATA, &d);
                curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, dl_header);
                curl_easy_setopt(c, CURLOPT_HEADERDATA, &d);
                curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, dl_progress);
                curl_easy_setopt(c, CURLOPT_XFERINFODATA, &d);
                curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
                if (d.offset) {
                        /* CURLOPT_RANGE rather than RESUME_FROM: a 200 reply is
                         * then ours to handle (restart), not a curl error. */
                        char range[32];
                        snprintf(range, sizeof(range), "%llu-", (unsigned long long)d.offset);
                        curl_easy_setopt(c, CURLOPT_RANGE, range);
                        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
                        vmenv_debug("resuming '%s' at %llu bytes", url,
                                    (unsigned long long)d.offset);
                }
                rc = curl_easy_perform(c);
                curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
                /* Also after an error: what arrived is kept for a resume. */
                if (d.buffered && !d.write_errno)
                        dl_flush(&d);
                if (d.tty && d.last_draw)
                        fputs("\r\033[K", stderr);
                if (d.bad_range) {
                        /* Not the bytes we asked for: start again from zero
                         * (the second attempt never resumes). */
                        if (ftruncate(fd, 0) < 0)
                                return vmenv_error_errno(err, 0, errno, "cannot write '%s'", part);
                        if (opts && opts->on_data)
                                opts->on_data(opts->on_data_arg, part, 0, VMENV_FETCH_RESTARTED);
                        unlink(sidecar);
                        continue;
                }
                if (d.too_long || d.stopped) {
                        unlink(part);
                        unlink(sidecar);
                        if (d.stopped)
                                return vmenv_error_set(err, VMENV_EXIT_DATA,
                                                       "download of '%s' stopped: what arrived "
                                                       "cannot be used",
                                                       url);
                        vmenv_error_set(err, VMENV_EXIT_DATA,
                                        "cannot download '%s': it is larger than %s of "
                                        "%llu bytes",
                                        url, d.expect < d.cap ? "its Content-Length" : "the limit",
                                        (unsigned long long)(d.expect < d.cap ? d.expect : d.cap));
                        return vmenv_error_hint(err, "set VMENV_MAX_DOWNLOAD (e.g. 100G) to allow "
                                                     "larger downloads");
                }
                if (d.write_errno) {
                        unlink(part);
                        unlink(sidecar);
                        return vmenv_error_errno(err, vmenv_exit_for_errno(d.write_errno),
                                                 d.write_errno, "cannot save download of '%s'",
                                                 url);
                }
                if (status == 416 && d.offset) {
                        /* "Range not satisfiable": the partial may already be
                         * whole (interrupted after the last byte); the digest
                         * check below decides. Otherwise start again. */
                        unsigned long long total = 0;
                        if (sscanf(d.content_range, "bytes */%llu", &total) == 1 &&
                            total == d.offset) {
                                vmenv_debug("'%s' was already complete", url);
                                got = vmenv_md_final_hex(md);
                                goto complete;
                        }
                        if (checksum) {
                                got = vmenv_md_final_hex(md);
                                if (!strcmp(got, want_hex)) {
                                        vmenv_debug("'%s' was already complete", url);
                                        goto complete;
                                }
                                free(TAKE_PTR(got));
                        }
                        if (ftruncate(fd, 0) < 0)
                                return vmenv_error_errno(err, 0, errno, "cannot write '%s'", part);
                        if (opts && opts->on_data)
                                opts->on_data(opts->on_data_arg, part, 0, VMENV_FETCH_RESTARTED);
                        unlink(sidecar);
                        continue;
                }
                if (d.http_error || status >= 300) {
                        if (!d.offset) {
                                unlink(part);
                                unlink(sidecar);
                        }
                        return vmenv_error_set(err, VMENV_EXIT_NETWORK,
                                               "cannot download '%s': HTTP %ld", url, status);
                }
                if (rc != CURLE_OK) {
                        curl_failed(rc, errbuf, url, err);
                        if (d.have)
                                vmenv_error_hint(
                                    err, "%llu bytes are kept; run the command again to resume",
                                    (unsigned long long)d.have);
                        else {
                                unlink(part);
                                unlink(sidecar);
                        }
                        return -1;
                }
                secs = (double)(vmenv_now_ns() - d.t0) / 1e9;
                {
                        char size[32], rate[32];
                        human((double)d.have, size, sizeof(size));
                        human(secs > 0 ? (double)(d.have - d.offset) / secs : 0, rate,
                              sizeof(rate));
                        if (!quiet)
                                vmenv_info("downloaded %s: %s in %.1f s (%s/s)%s", d.label, size,
                                           secs, rate, d.offset ? ", resumed" : "");
                }
                if (d.consumer_hashes &&
                    !(got = opts->consumer_digest(opts->on_data_arg, type, d.have))) {
                        vmenv_debug("hashing '%s' again: the consumer did not", part);
                        EVP_DigestInit_ex(md, EVP_get_digestbyname(type), NULL);
                        if (vmenv_hash_fd(fd, d.have, md, -1, part, err) < 0)
                                return -1;
                }
                if (!got)
                        got = vmenv_md_final_hex(md);
                goto complete;
        }
        return vmenv_error_set(err, VMENV_EXIT_NETWORK,
                               "cannot download '%s': the server keeps refusing the range request",
                               url);
complete:
        if (want_hex && strcmp(got, want_hex)) {
                unlink(part);
                unlink(sidecar);
                vmenv_error_set(err, VMENV_EXIT_DATA,
                                "checksum mismatch for '%s': expected %s:%s, got %s:%s", url, type,
                                want_hex, type, got);
                return vmenv_error_hint(err,
                                        "the download was deleted; check the checksum or the URL");
        }
        if (rename(part, done) < 0)
                return vmenv_error_errno(err, 0, errno, "cannot rename '%s'", part);
        unlink(sidecar);
        *path_out = TAKE_PTR(done);
        *digest_out = vmenv_strdupf("%s:%s", type, got);
        return 0;
}
