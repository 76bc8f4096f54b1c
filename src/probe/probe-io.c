/* The probe's random-access workloads: 4 KiB O_DIRECT random reads and
 * writes at queue depth 1 and 32 (one thread per outstanding request),
 * fsync latency, and GUPS-like random updates of a table in memory.
 * O_DIRECT keeps the target's own page cache out of the I/O figures; what
 * lies below the target (the host's cache under a guest's disk) does not
 * see the flag, and the reference bands say so when it shows. */
#include "probe-work.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BLOCK 4096

struct rio_job {
        int fd;
        uint64_t blocks; /* in the file */
        unsigned ops;
        uint64_t seed;
        bool write;
        uint64_t sum; /* XOR of the first word of every block read; ops done for writes */
        int err;
};

static uint64_t xorshift(uint64_t *x)
{
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        return *x;
}

static void *rio_thread(void *arg)
{
        struct rio_job *j = arg;
        void *buf;
        if (posix_memalign(&buf, BLOCK, BLOCK) != 0) {
                j->err = ENOMEM;
                return NULL;
        }
        probe_fill(buf, BLOCK, j->seed);
        uint64_t x = j->seed;
        for (unsigned i = 0; i < j->ops; i++) {
                off_t off = (off_t)(xorshift(&x) % j->blocks) * BLOCK;
                ssize_t n =
                    j->write ? pwrite(j->fd, buf, BLOCK, off) : pread(j->fd, buf, BLOCK, off);
                if (n < 0 && errno == EINTR) {
                        i--;
                        continue;
                }
                if (n != BLOCK) {
                        j->err = n < 0 ? errno : EIO;
                        break;
                }
                uint64_t first;
                memcpy(&first, buf, sizeof(first));
                j->sum += j->write ? 1 : first;
        }
        free(buf);
        return NULL;
}

/* ops requests over depth threads, each with its own offsets. */
static int rio_run(int fd, uint64_t blocks, unsigned ops, unsigned depth, bool write,
                   struct probe_result *r)
{
        struct rio_job jobs[32];
        pthread_t th[32];
        unsigned started = 0;
        if (depth < 1 || depth > 32) {
                errno = EINVAL;
                return -1;
        }
        for (unsigned i = 0; i < depth; i++)
                jobs[i] =
                    (struct rio_job){fd, blocks, ops / depth, PROBE_SEED_RIO + i, write, 0, 0};
        uint64_t c0 = probe_cpu_ns(), t0 = probe_now_ns();
        for (; started < depth; started++)
                if (pthread_create(&th[started], NULL, rio_thread, &jobs[started]) != 0)
                        break;
        uint64_t sum = 0;
        int err = started < depth ? EAGAIN : 0;
        for (unsigned i = 0; i < started; i++) {
                pthread_join(th[i], NULL);
                sum = write ? sum + jobs[i].sum : sum ^ jobs[i].sum;
                err = err ? err : jobs[i].err;
        }
        r->ns = probe_now_ns() - t0;
        r->cpu_ns = probe_cpu_ns() - c0;
        r->work = (uint64_t)(ops / depth) * depth;
        r->checksum = sum;
        if (err) {
                errno = err;
                return -1;
        }
        return 0;
}

static int cmp_u64(const void *a, const void *b)
{
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
        return x < y ? -1 : x > y;
}

int probe_randio(const char *dir, size_t bytes, unsigned ops, struct probe_result r[4],
                 struct probe_result *fs, double *fsync_p50_ns, double *fsync_p99_ns)
{
        char path[4096];
        void *buf = NULL;
        uint64_t *lat = NULL;
        int fd = -1, saved;
        unsigned syncs = ops / 10 ? ops / 10 : 1;

        bytes = bytes / (1 << 20) * (1 << 20);
        if (bytes < (1 << 20))
                bytes = 1 << 20;
        if ((size_t)snprintf(path, sizeof(path), "%s/vmenv-probe-rio.%ld", dir, (long)getpid()) >=
            sizeof(path)) {
                errno = ENAMETOOLONG;
                return -1;
        }
        if (posix_memalign(&buf, BLOCK, 1 << 20) != 0 || !(lat = calloc(syncs, sizeof(*lat)))) {
                free(buf);
                errno = ENOMEM;
                return -1;
        }
        /* set-up: the file written in full, so reads hit real blocks; it is
         * unlinked at once so a killed probe leaves nothing behind */
        if ((fd = open(path, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600)) < 0)
                goto fail;
        unlink(path);
        for (size_t off = 0; off < bytes; off += 1 << 20) {
                probe_fill(buf, 1 << 20, PROBE_SEED_RIO ^ off);
                if (pwrite(fd, buf, 1 << 20, (off_t)off) != 1 << 20)
                        goto fail;
        }
        int flags = fcntl(fd, F_GETFL);
        if (fsync(fd) < 0 || flags < 0 || fcntl(fd, F_SETFL, flags | O_DIRECT) < 0)
                goto fail; /* EINVAL: the filesystem has no O_DIRECT */

        uint64_t blocks = bytes / BLOCK;
        if (rio_run(fd, blocks, ops, 1, false, &r[0]) < 0 ||
            rio_run(fd, blocks, ops * 2, 32, false, &r[1]) < 0 ||
            rio_run(fd, blocks, ops, 1, true, &r[2]) < 0 ||
            rio_run(fd, blocks, ops * 2, 32, true, &r[3]) < 0)
                goto fail;

        /* fsync latency: one 4 KiB write, then fsync, each timed */
        uint64_t x = PROBE_SEED_RIO, c0 = probe_cpu_ns(), t0 = probe_now_ns();
        for (unsigned i = 0; i < syncs; i++) {
                off_t off = (off_t)(xorshift(&x) % blocks) * BLOCK;
                uint64_t s = probe_now_ns();
                if (pwrite(fd, buf, BLOCK, off) != BLOCK || fsync(fd) < 0)
                        goto fail;
                lat[i] = probe_now_ns() - s;
        }
        fs->ns = probe_now_ns() - t0;
        fs->cpu_ns = probe_cpu_ns() - c0;
        fs->work = syncs;
        fs->checksum = syncs;
        qsort(lat, syncs, sizeof(*lat), cmp_u64);
        *fsync_p50_ns = syncs % 2 ? (double)lat[syncs / 2]
                                  : ((double)lat[syncs / 2 - 1] + (double)lat[syncs / 2]) / 2;
        *fsync_p99_ns = (double)lat[(size_t)((double)(syncs - 1) * 0.99)];
        close(fd);
        free(buf);
        free(lat);
        return 0;
fail:
        saved = errno;
        if (fd >= 0)
                close(fd);
        free(buf);
        free(lat);
        errno = saved;
        return -1;
}

int probe_gups(size_t bytes, uint64_t updates, struct probe_result *r)
{
        size_t n = 1;
        while (n * 2 * sizeof(uint64_t) <= bytes)
                n *= 2; /* a power of two: the index is a mask */
        uint64_t *t = malloc(n * sizeof(*t));
        if (!t)
                return -1;
        for (size_t i = 0; i < n; i++)
                t[i] = i; /* also faults every page in before timing */
        uint64_t x = PROBE_SEED_GUPS, c0 = probe_cpu_ns(), t0 = probe_now_ns();
        for (uint64_t i = 0; i < updates; i++) {
                uint64_t v = xorshift(&x);
                t[v & (n - 1)] ^= v;
        }
        __asm__ volatile("" : : "r"(t) : "memory");
        r->ns = probe_now_ns() - t0;
        r->cpu_ns = probe_cpu_ns() - c0;
        r->work = updates;
        r->checksum = probe_fnv1a(PROBE_FNV_OFFSET, t, n * sizeof(*t));
        free(t);
        return 0;
}
