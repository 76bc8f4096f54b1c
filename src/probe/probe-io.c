/* The probe's random-access workloads: 4 KiB O_DIRECT random reads and
 * writes at queue depth 1 and 32 (32 requests in flight on one io_uring
 * where the kernel and the sandbox allow it, else one thread per request),
 * fsync latency, and GUPS-like random updates of a table in memory.
 * O_DIRECT keeps the target's own page cache out of the I/O figures; what
 * lies below the target (the host's cache under a guest's disk) does not
 * see the flag, and the reference bands say so when it shows. */
#include "probe-work.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
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

/* ---- io_uring, by its system calls (the probe is static and has no
 * liburing). Each of depth slots walks the same offsets a thread would
 * (its own seed), so the checksum is the threads' one. */

struct ring {
        int fd;
        void *sq_map, *cq_map;
        size_t sq_len, cq_len, sqes_len;
        unsigned *sq_head, *sq_tail, *sq_mask, *sq_array, *cq_head, *cq_tail, *cq_mask;
        struct io_uring_sqe *sqes;
        struct io_uring_cqe *cqes;
};

static void ring_close(struct ring *q)
{
        if (q->sqes)
                munmap(q->sqes, q->sqes_len);
        if (q->cq_map && q->cq_map != q->sq_map)
                munmap(q->cq_map, q->cq_len);
        if (q->sq_map)
                munmap(q->sq_map, q->sq_len);
        if (q->fd >= 0)
                close(q->fd);
}

/* 0, or -1 when this kernel or sandbox offers no io_uring (ENOSYS, EPERM
 * under a seccomp filter as Docker's, or io_uring_disabled). */
static int ring_open(struct ring *q, unsigned entries)
{
        struct io_uring_params p;
        memset(&p, 0, sizeof(p));
        memset(q, 0, sizeof(*q));
        q->fd = (int)syscall(__NR_io_uring_setup, entries, &p);
        if (q->fd < 0)
                return -1;
        q->sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
        q->cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
        q->sqes_len = p.sq_entries * sizeof(struct io_uring_sqe);
        q->sq_map = mmap(NULL, q->sq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, q->fd,
                         IORING_OFF_SQ_RING);
        q->cq_map = mmap(NULL, q->cq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, q->fd,
                         IORING_OFF_CQ_RING);
        q->sqes = mmap(NULL, q->sqes_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, q->fd,
                       IORING_OFF_SQES);
        if (q->sq_map == MAP_FAILED || q->cq_map == MAP_FAILED || q->sqes == MAP_FAILED) {
                q->sq_map = q->sq_map == MAP_FAILED ? NULL : q->sq_map;
                q->cq_map = q->cq_map == MAP_FAILED ? NULL : q->cq_map;
                q->sqes = q->sqes == MAP_FAILED ? NULL : q->sqes;
                ring_close(q);
                return -1;
        }
        char *sq = q->sq_map, *cq = q->cq_map;
        q->sq_head = (unsigned *)(sq + p.sq_off.head);
        q->sq_tail = (unsigned *)(sq + p.sq_off.tail);
        q->sq_mask = (unsigned *)(sq + p.sq_off.ring_mask);
        q->sq_array = (unsigned *)(sq + p.sq_off.array);
        q->cq_head = (unsigned *)(cq + p.cq_off.head);
        q->cq_tail = (unsigned *)(cq + p.cq_off.tail);
        q->cq_mask = (unsigned *)(cq + p.cq_off.ring_mask);
        q->cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
        return 0;
}

static void ring_queue(struct ring *q, int fd, bool write, void *buf, off_t off, unsigned slot)
{
        unsigned tail = *q->sq_tail, i = tail & *q->sq_mask;
        struct io_uring_sqe *e = &q->sqes[i];
        memset(e, 0, sizeof(*e));
        e->opcode = write ? IORING_OP_WRITE : IORING_OP_READ;
        e->fd = fd;
        e->addr = (uint64_t)(uintptr_t)buf;
        e->len = BLOCK;
        e->off = (uint64_t)off;
        e->user_data = slot;
        q->sq_array[i] = i;
        __atomic_store_n(q->sq_tail, tail + 1, __ATOMIC_RELEASE);
}

/* 0 done; 1 io_uring cannot be used here (nothing was counted: fall back);
 * -1 an I/O error (errno). */
static int rio_uring(struct rio_job *jobs, unsigned depth, uint64_t *sum)
{
        struct ring q;
        void *bufs[32] = {0};
        unsigned left[32], pending = 0, done = 0;
        uint64_t x[32];
        int rc = 1;

        if (ring_open(&q, depth) < 0)
                return 1;
        for (unsigned i = 0; i < depth; i++) {
                if (posix_memalign(&bufs[i], BLOCK, BLOCK) != 0) {
                        rc = -1;
                        errno = ENOMEM;
                        goto out;
                }
                probe_fill(bufs[i], BLOCK, jobs[i].seed);
                x[i] = jobs[i].seed;
                left[i] = jobs[i].ops;
        }
        for (unsigned i = 0; i < depth; i++)
                if (left[i]) {
                        ring_queue(&q, jobs[i].fd, jobs[i].write, bufs[i],
                                   (off_t)(xorshift(&x[i]) % jobs[i].blocks) * BLOCK, i);
                        left[i]--;
                        pending++;
                }
        unsigned to_submit = pending;
        while (pending) {
                int n = (int)syscall(__NR_io_uring_enter, q.fd, to_submit, 1,
                                     IORING_ENTER_GETEVENTS, NULL, 0);
                if (n < 0 && errno == EINTR) {
                        to_submit = 0; /* submitted already, or resubmitted by the kernel */
                        continue;
                }
                if (n < 0) {
                        rc = done ? -1 : 1;
                        goto out;
                }
                to_submit = 0;
                unsigned head = *q.cq_head;
                while (head != __atomic_load_n(q.cq_tail, __ATOMIC_ACQUIRE)) {
                        struct io_uring_cqe *c = &q.cqes[head & *q.cq_mask];
                        unsigned slot = (unsigned)c->user_data;
                        int res = c->res;
                        head++;
                        pending--;
                        if (res != BLOCK || slot >= depth) {
                                __atomic_store_n(q.cq_head, head, __ATOMIC_RELEASE);
                                /* the first request failing with EINVAL or
                                 * EOPNOTSUPP: an old kernel without READ/WRITE */
                                rc = !done && (res == -EINVAL || res == -EOPNOTSUPP) ? 1 : -1;
                                errno = res < 0 ? -res : EIO;
                                goto out;
                        }
                        done++;
                        uint64_t first;
                        memcpy(&first, bufs[slot], sizeof(first));
                        jobs[slot].sum += jobs[slot].write ? 1 : first;
                        if (left[slot]) {
                                ring_queue(&q, jobs[slot].fd, jobs[slot].write, bufs[slot],
                                           (off_t)(xorshift(&x[slot]) % jobs[slot].blocks) * BLOCK,
                                           slot);
                                left[slot]--;
                                pending++;
                                to_submit++;
                        }
                }
                __atomic_store_n(q.cq_head, head, __ATOMIC_RELEASE);
        }
        *sum = 0;
        for (unsigned i = 0; i < depth; i++)
                *sum = jobs[i].write ? *sum + jobs[i].sum : *sum ^ jobs[i].sum;
        rc = 0;
out:
        /* What is still in flight writes into the buffers: wait for it
         * before they are freed. */
        while (pending) {
                int n = (int)syscall(__NR_io_uring_enter, q.fd, 0, pending, IORING_ENTER_GETEVENTS,
                                     NULL, 0);
                if (n < 0 && errno != EINTR)
                        break;
                unsigned head = *q.cq_head;
                while (pending && head != __atomic_load_n(q.cq_tail, __ATOMIC_ACQUIRE))
                        head++, pending--;
                __atomic_store_n(q.cq_head, head, __ATOMIC_RELEASE);
        }
        ring_close(&q);
        for (unsigned i = 0; i < depth; i++)
                free(bufs[i]);
        if (rc == 1)
                for (unsigned i = 0; i < depth; i++)
                        jobs[i].sum = 0;
        return rc;
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
        if (depth > 1 && !getenv("VMENV_PROBE_NO_URING")) {
                uint64_t usum = 0;
                int u = rio_uring(jobs, depth, &usum);
                if (u <= 0) {
                        r->ns = probe_now_ns() - t0;
                        r->cpu_ns = probe_cpu_ns() - c0;
                        r->work = (uint64_t)(ops / depth) * depth;
                        r->checksum = usum;
                        return u;
                }
                c0 = probe_cpu_ns(); /* no io_uring here: the threads' figure */
                t0 = probe_now_ns();
        }
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
