/* The probe's workloads; see probe-work.h. Each times only the work itself:
 * set-up (allocating, filling buffers) and checksums of results are outside
 * the timed region. */
#include "probe-work.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

uint64_t probe_now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

uint64_t probe_cpu_ns(void)
{
        struct rusage self, kids;
        if (getrusage(RUSAGE_SELF, &self) < 0 || getrusage(RUSAGE_CHILDREN, &kids) < 0)
                return 0;
        uint64_t us = 0;
        const struct rusage *u[2] = {&self, &kids};
        for (int i = 0; i < 2; i++)
                us += (uint64_t)(u[i]->ru_utime.tv_sec + u[i]->ru_stime.tv_sec) * 1000000ULL +
                      (uint64_t)(u[i]->ru_utime.tv_usec + u[i]->ru_stime.tv_usec);
        return us * 1000ULL;
}

uint64_t probe_fnv1a(uint64_t h, const void *p, size_t n)
{
        const unsigned char *b = p;
        for (size_t i = 0; i < n; i++) {
                h ^= b[i];
                h *= PROBE_FNV_PRIME;
        }
        return h;
}

void probe_fill(void *buf, size_t n, uint64_t seed)
{
        unsigned char *b = buf;
        uint64_t x = seed ? seed : 1;
        for (size_t i = 0; i < n; i += 8) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                for (size_t k = 0; k < 8 && i + k < n; k++)
                        b[i + k] = (unsigned char)(x >> (8 * k));
        }
}

int probe_cpu(size_t bytes, unsigned passes, struct probe_result *r)
{
        unsigned char *buf = malloc(bytes ? bytes : 1);
        if (!buf)
                return -1;
        probe_fill(buf, bytes, PROBE_SEED_CPU);
        uint64_t h = PROBE_FNV_OFFSET, c0 = probe_cpu_ns(), t0 = probe_now_ns();
        for (unsigned p = 0; p < passes; p++)
                h = probe_fnv1a(h, buf, bytes);
        r->ns = probe_now_ns() - t0;
        r->cpu_ns = probe_cpu_ns() - c0;
        r->work = (uint64_t)bytes * passes;
        r->checksum = h;
        free(buf);
        return 0;
}

int probe_mem(size_t bytes, unsigned passes, struct probe_result *r)
{
        unsigned char *src = malloc(bytes ? bytes : 1), *dst = malloc(bytes ? bytes : 1);
        if (!src || !dst) {
                free(src);
                free(dst);
                errno = ENOMEM;
                return -1;
        }
        probe_fill(src, bytes, PROBE_SEED_MEM);
        memset(dst, 0, bytes); /* fault the pages in before timing */
        uint64_t c0 = probe_cpu_ns(), t0 = probe_now_ns();
        for (unsigned p = 0; p < passes; p++) {
                memcpy(dst, src, bytes);
                /* a compiler barrier: every copy must happen */
                __asm__ volatile("" : : "r"(dst) : "memory");
        }
        r->ns = probe_now_ns() - t0;
        r->cpu_ns = probe_cpu_ns() - c0;
        r->work = (uint64_t)bytes * passes;
        r->checksum = probe_fnv1a(PROBE_FNV_OFFSET, dst, bytes);
        free(src);
        free(dst);
        return 0;
}

int probe_syscall(unsigned calls, struct probe_result *r)
{
        /* The parent's pid differs between host, container and VM: count
         * the calls that returned it, so the checksum is the same everywhere. */
        long want = (long)getppid();
        uint64_t sum = 0, c0 = probe_cpu_ns(), t0 = probe_now_ns();
        for (unsigned i = 0; i < calls; i++)
                sum += syscall(SYS_getppid) == want;
        r->ns = probe_now_ns() - t0;
        r->cpu_ns = probe_cpu_ns() - c0;
        r->work = calls;
        r->checksum = sum;
        return 0;
}

int probe_spawn(const char *self_exe, unsigned n, struct probe_result *r)
{
        uint64_t good = 0, c0 = probe_cpu_ns(), t0 = probe_now_ns();
        for (unsigned i = 0; i < n; i++) {
                pid_t pid = fork();
                if (pid < 0)
                        return -1;
                if (pid == 0) {
                        char *const argv[] = {(char *)self_exe, (char *)"--child", NULL};
                        execv(self_exe, argv);
                        _exit(127);
                }
                int st;
                while (waitpid(pid, &st, 0) < 0)
                        if (errno != EINTR)
                                return -1;
                if (WIFEXITED(st) && WEXITSTATUS(st) == PROBE_CHILD_STATUS)
                        good++;
        }
        r->ns = probe_now_ns() - t0;
        r->cpu_ns = probe_cpu_ns() - c0;
        r->work = n;
        r->checksum = good;
        return 0;
}

static int write_all(int fd, const unsigned char *p, size_t n)
{
        while (n > 0) {
                ssize_t w = write(fd, p, n);
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        return -1;
                }
                p += w;
                n -= (size_t)w;
        }
        return 0;
}

int probe_disk(const char *dir, size_t bytes, struct probe_result *wr, struct probe_result *rd)
{
        enum { CHUNK = 1 << 20 };
        char path[4096];
        unsigned char *buf = NULL;
        int fd = -1, saved;

        if ((size_t)snprintf(path, sizeof(path), "%s/vmenv-probe-disk.%ld", dir, (long)getpid()) >=
            sizeof(path)) {
                errno = ENAMETOOLONG;
                return -1;
        }
        if (!(buf = malloc(bytes ? bytes : 1)))
                return -1;
        probe_fill(buf, bytes, PROBE_SEED_DISK);
        if ((fd = open(path, O_CREAT | O_TRUNC | O_RDWR | O_CLOEXEC, 0600)) < 0)
                goto fail;
        unlink(path); /* a killed probe leaves nothing behind */

        uint64_t c0 = probe_cpu_ns(), t0 = probe_now_ns();
        for (size_t off = 0; off < bytes; off += CHUNK)
                if (write_all(fd, buf + off, bytes - off < CHUNK ? bytes - off : CHUNK) < 0)
                        goto fail;
        if (fsync(fd) < 0)
                goto fail;
        wr->ns = probe_now_ns() - t0;
        wr->cpu_ns = probe_cpu_ns() - c0;
        wr->work = bytes;

        /* Read from the disk, not from the page cache the write just filled:
         * the pages are clean after fsync, so this drops them. */
        (void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        if (lseek(fd, 0, SEEK_SET) < 0)
                goto fail;
        memset(buf, 0, bytes);
        c0 = probe_cpu_ns();
        t0 = probe_now_ns();
        size_t got = 0;
        while (got < bytes) {
                ssize_t n = read(fd, buf + got, bytes - got < CHUNK ? bytes - got : CHUNK);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        goto fail;
                if (n == 0) {
                        errno = EIO;
                        goto fail;
                }
                got += (size_t)n;
        }
        rd->ns = probe_now_ns() - t0;
        rd->cpu_ns = probe_cpu_ns() - c0;
        rd->work = bytes;
        rd->checksum = wr->checksum = probe_fnv1a(PROBE_FNV_OFFSET, buf, bytes);
        close(fd);
        free(buf);
        return 0;
fail:
        saved = errno;
        if (fd >= 0)
                close(fd);
        free(buf);
        errno = saved;
        return -1;
}

int probe_meta(const char *dir, unsigned n, struct probe_result *r)
{
        static const char data[13] = "0123456789ab";
        char sub[4096], path[4200];
        uint64_t sum = 0;
        unsigned made = 0;
        int saved;

        if ((size_t)snprintf(sub, sizeof(sub), "%s/vmenv-probe-meta.%ld", dir, (long)getpid()) >=
            sizeof(sub)) {
                errno = ENAMETOOLONG;
                return -1;
        }
        if (mkdir(sub, 0700) < 0)
                return -1;
        uint64_t c0 = probe_cpu_ns(), t0 = probe_now_ns();
        for (; made < n; made++) {
                snprintf(path, sizeof(path), "%s/f%u", sub, made);
                int fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
                if (fd < 0)
                        goto fail;
                if (write_all(fd, (const unsigned char *)data, made % 13) < 0) {
                        close(fd);
                        goto fail;
                }
                close(fd);
        }
        for (unsigned i = 0; i < n; i++) {
                struct stat st;
                snprintf(path, sizeof(path), "%s/f%u", sub, i);
                if (stat(path, &st) < 0)
                        goto fail;
                sum += (uint64_t)st.st_size;
        }
        for (unsigned i = 0; i < n; i++) {
                snprintf(path, sizeof(path), "%s/f%u", sub, i);
                if (unlink(path) < 0)
                        goto fail;
        }
        made = 0;
        r->ns = probe_now_ns() - t0;
        r->cpu_ns = probe_cpu_ns() - c0;
        r->work = n;
        r->checksum = sum;
        return rmdir(sub);
fail:
        saved = errno;
        for (unsigned i = 0; i < made + 1 && i < n; i++) {
                snprintf(path, sizeof(path), "%s/f%u", sub, i);
                unlink(path);
        }
        rmdir(sub);
        errno = saved;
        return -1;
}
