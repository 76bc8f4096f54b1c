/* Digests of files and of what streams through vmenv: "TYPE:HEX" checksums
 * as box catalogs and vmenv.yaml write them, computed with libcrypto. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "digest.h"
#include "vmenv/box.h"
#include "vmenv/cleanup.h"
#include "vmenv/util.h"

#define HASH_BUF (1u << 20)

static const char *const checksum_types[] = {"sha256", "sha384", "sha512", "sha1", "md5", NULL};

int vmenv_checksum_parse(const char *s, char **type, char **hex, vmenv_error *err)
{
        const char *colon = s ? strchr(s, ':') : NULL;
        _cleanup_free_ char *t = NULL, *h = NULL;
        const EVP_MD *md;
        bool known = false;

        if (!colon)
                return vmenv_error_set(err, VMENV_EXIT_USAGE,
                                       "invalid checksum '%s': expected TYPE:HEX (e.g. sha256:...)",
                                       s ? s : "");
        t = vmenv_strndup(s, (size_t)(colon - s));
        for (char *p = t; *p; p++)
                *p = (char)tolower((unsigned char)*p);
        for (const char *const *c = checksum_types; *c; c++)
                known = known || !strcmp(*c, t);
        if (!known || !(md = EVP_get_digestbyname(t)))
                return vmenv_error_set(
                    err, VMENV_EXIT_USAGE,
                    "unknown checksum type '%s': use sha256, sha384, sha512, sha1 or md5", t);
        h = vmenv_strdup(colon + 1);
        for (char *p = h; *p; p++) {
                if (!isxdigit((unsigned char)*p))
                        return vmenv_error_set(err, VMENV_EXIT_USAGE,
                                               "invalid checksum '%s': not hexadecimal", s);
                *p = (char)tolower((unsigned char)*p);
        }
        if (strlen(h) != (size_t)EVP_MD_get_size(md) * 2)
                return vmenv_error_set(err, VMENV_EXIT_USAGE,
                                       "invalid checksum '%s': a %s digest has %d hex digits", s, t,
                                       EVP_MD_get_size(md) * 2);
        *type = TAKE_PTR(t);
        *hex = TAKE_PTR(h);
        return 0;
}

char *vmenv_hex_of(const unsigned char *d, unsigned n)
{
        char *s = vmenv_malloc(n * 2 + 1);
        for (unsigned i = 0; i < n; i++)
                snprintf(s + 2 * i, 3, "%02x", d[i]);
        return s;
}

char *vmenv_md_final_hex(EVP_MD_CTX *md)
{
        unsigned char d[EVP_MAX_MD_SIZE];
        unsigned n = 0;
        EVP_MD_CTX *copy = EVP_MD_CTX_new();
        if (!copy)
                abort();
        EVP_MD_CTX_copy_ex(copy, md);
        EVP_DigestFinal_ex(copy, d, &n);
        EVP_MD_CTX_free(copy);
        return vmenv_hex_of(d, n);
}

void vmenv_md_freep(EVP_MD_CTX **m)
{
        if (*m)
                EVP_MD_CTX_free(*m);
}

/* Feeds [0, upto) of fd into md, and copies it to out when out >= 0. */
int vmenv_hash_fd(int fd, uint64_t upto, EVP_MD_CTX *md, int out, const char *path,
                  vmenv_error *err)
{
        _cleanup_free_ char *buf = vmenv_malloc(HASH_BUF);
        uint64_t off = 0;

        while (off < upto) {
                size_t want = upto - off < HASH_BUF ? (size_t)(upto - off) : HASH_BUF;
                ssize_t n = pread(fd, buf, want, (off_t)off), w = 0;
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return vmenv_error_errno(err, 0, errno, "cannot read '%s'", path);
                if (n == 0)
                        return vmenv_error_set(err, VMENV_EXIT_IO, "'%s' shrank while reading",
                                               path);
                EVP_DigestUpdate(md, buf, (size_t)n);
                for (ssize_t done = 0; out >= 0 && done < n; done += w) {
                        if ((w = write(out, buf + done, (size_t)(n - done))) < 0 && errno == EINTR)
                                w = 0;
                        else if (w < 0)
                                return vmenv_error_errno(err, vmenv_exit_for_errno(errno), errno,
                                                         "cannot copy '%s'", path);
                }
                off += (uint64_t)n;
        }
        return 0;
}

int vmenv_file_digest(const char *path, const char *type, char **digest, vmenv_error *err)
{
        _cleanup_(vmenv_md_freep) EVP_MD_CTX *md = EVP_MD_CTX_new();
        _cleanup_close_ int fd = -1;
        const EVP_MD *alg = EVP_get_digestbyname(type);
        struct stat st;
        _cleanup_free_ char *hex = NULL;

        if (!md)
                abort();
        if (!alg)
                return vmenv_error_set(err, VMENV_EXIT_USAGE, "unknown checksum type '%s'", type);
        if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) < 0)
                return vmenv_error_errno(err, errno == ENOENT ? VMENV_EXIT_NOINPUT : 0, errno,
                                         "cannot open '%s'", path);
        EVP_DigestInit_ex(md, alg, NULL);
        if (vmenv_hash_fd(fd, (uint64_t)st.st_size, md, -1, path, err) < 0)
                return -1;
        hex = vmenv_md_final_hex(md);
        *digest = vmenv_strdupf("%s:%s", type, hex);
        return 0;
}

int vmenv_file_snapshot(const char *path, const char *type, char **copy_out, char **digest_out,
                        vmenv_error *err)
{
        _cleanup_(vmenv_md_freep) EVP_MD_CTX *md = EVP_MD_CTX_new();
        _cleanup_free_ char *home = vmenv_home(), *cache = NULL, *copy = NULL, *hex = NULL;
        _cleanup_close_ int in = -1, out = -1;
        const EVP_MD *alg = EVP_get_digestbyname(type);
        struct stat st;

        if (!md)
                abort();
        if (!alg)
                return vmenv_error_set(err, VMENV_EXIT_USAGE, "unknown checksum type '%s'", type);
        /* O_NONBLOCK: a FIFO must not hang the open; cleared for the read. */
        if ((in = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) < 0 ||
            fstat(in, &st) < 0)
                return vmenv_error_errno(err, errno == ENOENT ? VMENV_EXIT_NOINPUT : 0, errno,
                                         "cannot open '%s'", path);
        if (!S_ISREG(st.st_mode))
                return vmenv_error_set(err, VMENV_EXIT_NOINPUT, "'%s' is not a regular file", path);
        if (fcntl(in, F_SETFL, 0) < 0)
                return vmenv_error_errno(err, 0, errno, "cannot read '%s'", path);
        cache = vmenv_path_join(home, "cache");
        if (vmenv_mkdir_p(cache, 0755, err) < 0)
                return -1;
        copy = vmenv_strdupf("%s/local-XXXXXX", cache);
        if ((out = mkostemp(copy, O_CLOEXEC)) < 0)
                return vmenv_error_errno(err, 0, errno, "cannot write in '%s'", cache);
        EVP_DigestInit_ex(md, alg, NULL);
        if (vmenv_hash_fd(in, (uint64_t)st.st_size, md, out, path, err) < 0) {
                unlink(copy);
                return -1;
        }
        hex = vmenv_md_final_hex(md);
        *digest_out = vmenv_strdupf("%s:%s", type, hex);
        *copy_out = TAKE_PTR(copy);
        return 0;
}
