/* Strings, buffers, escaping and file helpers used across the tree. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vmenv/cleanup.h"
#include "vmenv/util.h"

static void oom(void)
{
        fputs("vmenv: out of memory\n", stderr);
        abort();
}

void *vmenv_malloc(size_t n)
{
        void *p = malloc(n ? n : 1);
        if (!p)
                oom();
        return p;
}

void *vmenv_calloc(size_t n, size_t size)
{
        void *p = calloc(n ? n : 1, size ? size : 1);
        if (!p)
                oom();
        return p;
}

void *vmenv_realloc(void *p, size_t n)
{
        p = realloc(p, n ? n : 1);
        if (!p)
                oom();
        return p;
}

char *vmenv_strdup(const char *s)
{
        return s ? vmenv_strndup(s, strlen(s)) : NULL;
}

char *vmenv_strndup(const char *s, size_t n)
{
        char *p = vmenv_malloc(n + 1);
        memcpy(p, s, n);
        p[n] = '\0';
        return p;
}

char *vmenv_vstrdupf(const char *fmt, va_list ap)
{
        char *p;
        if (vasprintf(&p, fmt, ap) < 0)
                oom();
        return p;
}

char *vmenv_strdupf(const char *fmt, ...)
{
        va_list ap;
        char *p;
        va_start(ap, fmt);
        p = vmenv_vstrdupf(fmt, ap);
        va_end(ap);
        return p;
}

bool vmenv_streq(const char *a, const char *b)
{
        if (!a || !b)
                return a == b;
        return strcmp(a, b) == 0;
}

bool vmenv_startswith(const char *s, const char *prefix)
{
        return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool vmenv_endswith(const char *s, const char *suffix)
{
        size_t ls = strlen(s), lx = strlen(suffix);
        return ls >= lx && strcmp(s + ls - lx, suffix) == 0;
}

void vmenv_strv_free(char **v)
{
        if (!v)
                return;
        for (char **p = v; *p; p++)
                free(*p);
        free(v);
}

size_t vmenv_strv_len(char *const *v)
{
        size_t n = 0;
        while (v && v[n])
                n++;
        return n;
}

void vmenv_strv_push(char ***v, char *owned)
{
        size_t n = vmenv_strv_len(*v);
        *v = vmenv_realloc(*v, (n + 2) * sizeof(char *));
        (*v)[n] = owned;
        (*v)[n + 1] = NULL;
}

void vmenv_buf_add(struct vmenv_buf *b, const void *p, size_t n)
{
        if (b->len + n + 1 > b->cap) {
                size_t cap = b->cap ? b->cap : 64;
                while (cap < b->len + n + 1)
                        cap *= 2;
                b->data = vmenv_realloc(b->data, cap);
                b->cap = cap;
        }
        if (n)
                memcpy(b->data + b->len, p, n);
        b->len += n;
        b->data[b->len] = '\0';
}

void vmenv_buf_puts(struct vmenv_buf *b, const char *s)
{
        vmenv_buf_add(b, s, strlen(s));
}

void vmenv_buf_printf(struct vmenv_buf *b, const char *fmt, ...)
{
        va_list ap;
        _cleanup_free_ char *s = NULL;
        va_start(ap, fmt);
        s = vmenv_vstrdupf(fmt, ap);
        va_end(ap);
        vmenv_buf_puts(b, s);
}

char *vmenv_buf_steal(struct vmenv_buf *b)
{
        char *p;
        if (!b->data)
                vmenv_buf_add(b, "", 0);
        p = b->data;
        b->data = NULL;
        b->len = b->cap = 0;
        return p;
}

void vmenv_buf_free(struct vmenv_buf *b)
{
        free(b->data);
        b->data = NULL;
        b->len = b->cap = 0;
}

char *vmenv_xml_escape(const char *s)
{
        struct vmenv_buf b = {0};
        for (; *s; s++) {
                switch (*s) {
                case '&':
                        vmenv_buf_puts(&b, "&amp;");
                        break;
                case '<':
                        vmenv_buf_puts(&b, "&lt;");
                        break;
                case '>':
                        vmenv_buf_puts(&b, "&gt;");
                        break;
                case '"':
                        vmenv_buf_puts(&b, "&quot;");
                        break;
                case '\'':
                        vmenv_buf_puts(&b, "&apos;");
                        break;
                default:
                        vmenv_buf_add(&b, s, 1);
                }
        }
        return vmenv_buf_steal(&b);
}

char *vmenv_shell_quote(const char *s)
{
        struct vmenv_buf b = {0};
        vmenv_buf_puts(&b, "'");
        for (; *s; s++) {
                if (*s == '\'')
                        vmenv_buf_puts(&b, "'\\''");
                else
                        vmenv_buf_add(&b, s, 1);
        }
        vmenv_buf_puts(&b, "'");
        return vmenv_buf_steal(&b);
}

size_t vmenv_edit_distance(const char *a, const char *b)
{
        size_t la = strlen(a), lb = strlen(b);
        _cleanup_free_ size_t *row = vmenv_calloc(lb + 1, sizeof(size_t));

        for (size_t j = 0; j <= lb; j++)
                row[j] = j;
        for (size_t i = 1; i <= la; i++) {
                size_t diag = row[0];
                row[0] = i;
                for (size_t j = 1; j <= lb; j++) {
                        size_t up = row[j];
                        size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
                        size_t best = diag + cost;
                        if (up + 1 < best)
                                best = up + 1;
                        if (row[j - 1] + 1 < best)
                                best = row[j - 1] + 1;
                        row[j] = best;
                        diag = up;
                }
        }
        return row[lb];
}

const char *vmenv_did_you_mean(const char *word, const char *const *candidates)
{
        const char *best = NULL;
        size_t best_d = (size_t)-1;
        size_t limit = strlen(word) / 3 + 1;

        if (limit > 3)
                limit = 3;
        for (; candidates && *candidates; candidates++) {
                size_t d = vmenv_edit_distance(word, *candidates);
                if (d < best_d) {
                        best_d = d;
                        best = *candidates;
                }
        }
        return best_d <= limit ? best : NULL;
}

char *vmenv_path_join(const char *a, const char *b)
{
        if (!a || !*a || b[0] == '/')
                return vmenv_strdup(b);
        return vmenv_strdupf("%s%s%s", a, vmenv_endswith(a, "/") ? "" : "/", b);
}

int vmenv_mkdir_p(const char *path, mode_t mode, vmenv_error *err)
{
        _cleanup_free_ char *p = vmenv_strdup(path);

        for (char *s = p + 1; *s; s++) {
                if (*s != '/')
                        continue;
                *s = '\0';
                if (mkdir(p, mode) < 0 && errno != EEXIST)
                        return vmenv_error_errno(err, 0, errno, "cannot create folder '%s'", p);
                *s = '/';
        }
        if (mkdir(p, mode) < 0 && errno != EEXIST)
                return vmenv_error_errno(err, 0, errno, "cannot create folder '%s'", p);
        return 0;
}

int vmenv_rm_rf(const char *path, vmenv_error *err)
{
        struct stat st;
        DIR *d;
        struct dirent *de;
        int r = 0;

        if (lstat(path, &st) < 0)
                return errno == ENOENT
                           ? 0
                           : vmenv_error_errno(err, 0, errno, "cannot remove '%s'", path);
        if (!S_ISDIR(st.st_mode)) {
                if (unlink(path) < 0 && errno != ENOENT)
                        return vmenv_error_errno(err, 0, errno, "cannot remove '%s'", path);
                return 0;
        }
        if (!(d = opendir(path)))
                return vmenv_error_errno(err, 0, errno, "cannot remove '%s'", path);
        while (r == 0 && (de = readdir(d))) {
                _cleanup_free_ char *child = NULL;
                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                        continue;
                child = vmenv_path_join(path, de->d_name);
                r = vmenv_rm_rf(child, err);
        }
        closedir(d);
        if (r < 0)
                return r;
        if (rmdir(path) < 0 && errno != ENOENT)
                return vmenv_error_errno(err, 0, errno, "cannot remove '%s'", path);
        return 0;
}

static int read_fd(int fd, const char *path, size_t max, char **out, size_t *len, vmenv_error *err)
{
        struct vmenv_buf b = {0};
        char chunk[65536];
        ssize_t n;

        while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        vmenv_buf_free(&b);
                        return vmenv_error_errno(err, 0, errno, "cannot read '%s'", path);
                }
                if (b.len + (size_t)n > max) {
                        vmenv_buf_free(&b);
                        return vmenv_error_set(err, VMENV_EXIT_DATA,
                                               "'%s' is larger than the limit of %zu bytes", path,
                                               max);
                }
                vmenv_buf_add(&b, chunk, (size_t)n);
        }
        if (len)
                *len = b.len;
        *out = vmenv_buf_steal(&b);
        return 0;
}

int vmenv_read_file(const char *path, size_t max, char **out, size_t *len, vmenv_error *err)
{
        _cleanup_close_ int fd = -1;

        if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
                return vmenv_error_errno(err, 0, errno, "cannot open '%s'", path);
        return read_fd(fd, path, max, out, len, err);
}

/* A file a project file names is read only if it lies inside the project
 * once every symlink and '..' is resolved, and is a regular file: a cloned
 * project may not read the user's other files (and send them to a guest) or
 * hang vmenv on a FIFO or a device. */
int vmenv_read_project_file(const char *dir, const char *name, size_t max, char **out, size_t *len,
                            vmenv_error *err)
{
        _cleanup_free_ char *joined = NULL, *real = NULL, *root = NULL;
        _cleanup_close_ int fd = -1;
        struct stat st;
        size_t n;

        if (!name || !*name || name[0] == '/')
                return vmenv_error_set(err, VMENV_EXIT_CONFIG,
                                       "'%s' is not a path inside the project", name ? name : "");
        joined = vmenv_path_join(dir, name);
        if (!(root = realpath(dir, NULL)))
                return vmenv_error_errno(err, 0, errno, "cannot resolve the project folder '%s'",
                                         dir);
        if (!(real = realpath(joined, NULL)))
                return vmenv_error_errno(err, VMENV_EXIT_NOINPUT, errno, "cannot open '%s'",
                                         joined);
        n = strlen(root);
        if (strncmp(real, root, n) || (real[n] != '/' && strcmp(root, "/")))
                return vmenv_error_set(err, VMENV_EXIT_CONFIG,
                                       "'%s' leads outside the project folder '%s'", name, root);
        if ((fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)) < 0)
                return vmenv_error_errno(err, VMENV_EXIT_NOINPUT, errno, "cannot open '%s'",
                                         joined);
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
                return vmenv_error_set(err, VMENV_EXIT_CONFIG, "'%s' is not a regular file",
                                       joined);
        return read_fd(fd, joined, max, out, len, err);
}

int vmenv_write_all(int fd, const void *p, size_t n)
{
        const char *c = p;

        while (n > 0) {
                ssize_t w = write(fd, c, n);
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN) {
                                struct pollfd pfd = {.fd = fd, .events = POLLOUT};
                                poll(&pfd, 1, -1);
                                continue;
                        }
                        return -1;
                }
                c += w;
                n -= (size_t)w;
        }
        return 0;
}

/* fsync of the folder holding path, so a rename into it survives a crash. */
static int sync_parent(const char *path)
{
        _cleanup_free_ char *copy = vmenv_strdup(path);
        _cleanup_close_ int dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (dfd < 0 || fsync(dfd) < 0)
                return -1;
        return 0;
}

int vmenv_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
                            vmenv_error *err)
{
        /* A fresh, unpredictable name created with O_EXCL: whoever can write
         * to the folder (a project folder from a cloned repository) cannot
         * plant a symlink or a file there for us to write through. */
        _cleanup_free_ char *tmp = vmenv_strdupf("%s.tmp.XXXXXX", path);
        _cleanup_close_ int fd = -1;
        const char *p = data;

        if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0)
                return vmenv_error_errno(err, 0, errno, "cannot write '%s'", path);
        if (fchmod(fd, mode) < 0)
                goto fail;
        while (len > 0) {
                ssize_t n = write(fd, p, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        goto fail;
                }
                p += n;
                len -= (size_t)n;
        }
        if (fsync(fd) < 0)
                goto fail;
        if (close(TAKE_FD(fd)) < 0)
                goto fail;
        if (rename(tmp, path) < 0)
                goto fail;
        if (sync_parent(path) < 0)
                return vmenv_error_errno(err, 0, errno, "cannot write '%s'", path);
        return 0;
fail:
        vmenv_error_errno(err, 0, errno, "cannot write '%s'", path);
        unlink(tmp);
        return -1;
}

bool vmenv_path_exists(const char *path)
{
        return access(path, F_OK) == 0;
}

int vmenv_lock_file(const char *path, bool wait, vmenv_error *err)
{
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);

        if (fd < 0)
                return vmenv_error_errno(err, 0, errno, "cannot open lock '%s'", path);
        while (flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) < 0) {
                int e = errno;
                if (e == EINTR)
                        continue;
                close(fd);
                if (e == EWOULDBLOCK)
                        return vmenv_error_set(err, VMENV_EXIT_TEMPFAIL,
                                               "'%s' is locked by another vmenv process", path);
                return vmenv_error_errno(err, 0, e, "cannot lock '%s'", path);
        }
        return fd;
}

uint64_t vmenv_now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

char *vmenv_home(void)
{
        const char *v = getenv("VMENV_HOME");
        if (v && *v)
                return vmenv_strdup(v);
        v = getenv("XDG_DATA_HOME");
        if (v && *v)
                return vmenv_path_join(v, "vmenv");
        v = getenv("HOME");
        return vmenv_strdupf("%s/.local/share/vmenv", v && *v ? v : "/");
}

/* Decimal digits, an optional fraction and unit: never strtod(), which
 * also reads "0x1p30", "1e9", "inf" and a locale's decimal comma. */
int vmenv_parse_size(const char *s, uint64_t *out)
{
        unsigned __int128 whole = 0, frac = 0, scale = 1, v;
        const char *end = s;
        uint64_t mult = 1;

        if (!s || !isdigit((unsigned char)*s))
                return -1;
        for (; isdigit((unsigned char)*end); end++)
                if ((whole = whole * 10 + (unsigned)(*end - '0')) > UINT64_MAX)
                        return -1;
        if (*end == '.') {
                if (!isdigit((unsigned char)*++end))
                        return -1;
                for (; isdigit((unsigned char)*end); end++) {
                        if (scale > UINT64_MAX)
                                return -1;
                        frac = frac * 10 + (unsigned)(*end - '0');
                        scale *= 10;
                }
        }
        switch (*end) {
        case '\0':
                break;
        case 'k':
        case 'K':
                mult = 1ull << 10;
                end++;
                break;
        case 'm':
        case 'M':
                mult = 1ull << 20;
                end++;
                break;
        case 'g':
        case 'G':
                mult = 1ull << 30;
                end++;
                break;
        case 't':
        case 'T':
                mult = 1ull << 40;
                end++;
                break;
        default:
                return -1;
        }
        if (mult > 1 && (!strcmp(end, "iB") || !strcmp(end, "B") || !strcmp(end, "ib")))
                end += strlen(end);
        else if (mult == 1 && !strcmp(end, "B"))
                end++;
        if (*end)
                return -1;
        if (frac * mult % scale)
                return -1; /* fractional bytes */
        v = whole * mult + frac * mult / scale;
        if (v > UINT64_MAX)
                return -1;
        *out = (uint64_t)v;
        return 0;
}

void vmenv_buf_yaml_quote(struct vmenv_buf *b, const char *s)
{
        vmenv_buf_puts(b, "\"");
        for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
                if (*p == '"' || *p == '\\') {
                        vmenv_buf_printf(b, "\\%c", *p);
                } else if (*p == '\n') {
                        vmenv_buf_puts(b, "\\n");
                } else if (*p == '\t') {
                        vmenv_buf_puts(b, "\\t");
                } else if (*p < 0x20 || *p == 0x7f) {
                        vmenv_buf_printf(b, "\\x%02x", *p);
                } else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
                        /* C1 controls, NEL among them (a YAML line break) */
                        vmenv_buf_printf(b, "\\x%02x", p[1]);
                        p++;
                } else if (*p == 0xe2 && p[1] == 0x80 && (p[2] == 0xa8 || p[2] == 0xa9)) {
                        vmenv_buf_puts(b, p[2] == 0xa8 ? "\\L" : "\\P"); /* line breaks */
                        p += 2;
                } else if (*p == 0xef && p[1] == 0xbf && p[2] >= 0xbe) {
                        /* U+FFFE and U+FFFF, which YAML refuses raw */
                        vmenv_buf_printf(b, "\\u%04x", 0xffc0u | (p[2] & 0x3fu));
                        p += 2;
                } else {
                        vmenv_buf_add(b, p, 1);
                }
        }
        vmenv_buf_puts(b, "\"");
}

/* What a terminal would show of one line: the text after its last carriage
 * return, without escape sequences or other control characters. Appends to
 * B; returns whether anything but blanks was added (else B is as it was). */
static bool shown_line(struct vmenv_buf *b, const char *p, size_t n)
{
        size_t start = b->len;
        bool seen = false;

        for (size_t i = n; i > 1; i--)
                if (p[i - 2] == '\r') {
                        p += i - 1;
                        n -= i - 1;
                        break;
                }
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)p[i];
                if (c == 0x1b) { /* CSI to its final byte, OSC to BEL or ST, else 2 bytes */
                        if (i + 1 < n && p[i + 1] == '[')
                                for (i += 2; i < n && !(p[i] >= 0x40 && p[i] <= 0x7e); i++)
                                        ;
                        else if (i + 1 < n && p[i + 1] == ']') {
                                for (i += 2; i < n && p[i] != 0x07 && p[i] != 0x1b; i++)
                                        ;
                                if (i + 1 < n && p[i] == 0x1b && p[i + 1] == '\\')
                                        i++;
                        } else
                                i++;
                        continue;
                }
                if (c < 0x20 || c == 0x7f)
                        continue;
                seen |= c != ' ';
                vmenv_buf_add(b, &c, 1);
        }
        if (!seen)
                b->len = start;
        return seen;
}

char *vmenv_text_tail(const char *text, size_t len, size_t max_lines, const char *prefix)
{
        struct vmenv_buf b = {0}, probe = {0};
        size_t first = len, n = 0;

        /* from the end back to the first of the last max_lines shown lines */
        for (size_t e = len; e > 0 && n < max_lines;) {
                size_t s = e;
                while (s > 0 && text[s - 1] != '\n')
                        s--;
                probe.len = 0;
                if (shown_line(&probe, text + s, e - s)) {
                        first = s;
                        n++;
                }
                e = s > 0 ? s - 1 : 0;
        }
        vmenv_buf_free(&probe);
        for (size_t s = first; s < len;) {
                size_t e = s;
                while (e < len && text[e] != '\n')
                        e++;
                size_t mark = b.len;
                vmenv_buf_puts(&b, prefix);
                if (shown_line(&b, text + s, e - s))
                        vmenv_buf_puts(&b, "\n");
                else
                        b.len = mark;
                s = e + 1;
        }
        if (!b.len) {
                vmenv_buf_free(&b);
                return NULL;
        }
        b.data[--b.len] = '\0';
        return vmenv_buf_steal(&b);
}
