/* The probe's workloads, kept apart from its main() so the unit tests can
 * check that each one does the work it claims. No vmenv dependency: the
 * probe is linked statically and copied into guests and containers. */
#ifndef VMENV_PROBE_WORK_H
#define VMENV_PROBE_WORK_H

#include <stddef.h>
#include <stdint.h>

/* What one timed sample did: elapsed time, amount of work (bytes, calls,
 * processes or files) and a checksum of that work, so every target can be
 * seen to have done the same thing. */
struct probe_result {
        uint64_t ns;
        uint64_t cpu_ns; /* user+system time of the probe and its children meanwhile */
        uint64_t work;
        uint64_t checksum;
};

#define PROBE_FNV_OFFSET 0xcbf29ce484222325ULL
#define PROBE_FNV_PRIME 0x100000001b3ULL
/* Seeds of the buffers each workload fills (public so tests can recompute
 * the expected checksums independently). */
#define PROBE_SEED_CPU 0x9e3779b97f4a7c15ULL
#define PROBE_SEED_MEM 0x2545f4914f6cdd1dULL
#define PROBE_SEED_DISK 0xd1b54a32d192ed03ULL
#define PROBE_SEED_RIO 0x94d049bb133111ebULL
#define PROBE_SEED_GUPS 0xbf58476d1ce4e5b9ULL
/* The exit status the spawned child returns, checked by the parent. */
#define PROBE_CHILD_STATUS 42

uint64_t probe_now_ns(void);
/* CPU time (user + system) used so far by this process and its waited-for
 * children: next to the wall time it shows steal and contention. */
uint64_t probe_cpu_ns(void);
/* FNV-1a 64 continued from h over n bytes. */
uint64_t probe_fnv1a(uint64_t h, const void *p, size_t n);
/* Fills buf with the xorshift64 stream started at seed (8 bytes per step,
 * little-endian). */
void probe_fill(void *buf, size_t n, uint64_t seed);

/* Each returns 0, or -1 with errno set. */
/* FNV-1a over a bytes-long xorshift buffer, passes times (the hash carries
 * over from pass to pass); checksum = the final hash. */
int probe_cpu(size_t bytes, unsigned passes, struct probe_result *r);
/* memcpy of a bytes-long buffer, passes times; checksum = FNV-1a of the
 * destination (equal to that of the source when the copies were done). */
int probe_mem(size_t bytes, unsigned passes, struct probe_result *r);
/* calls getppid system calls through syscall(); checksum = the number of
 * calls that returned the parent's pid. */
int probe_syscall(unsigned calls, struct probe_result *r);
/* n times fork, exec self_exe with "--child", wait; checksum = number of
 * children that exited with PROBE_CHILD_STATUS. */
int probe_spawn(const char *self_exe, unsigned n, struct probe_result *r);
/* Writes bytes of xorshift data to a new file in dir, fsync, drops it from
 * the page cache, reads it back; checksum (both) = FNV-1a of what was read.
 * The file is removed. */
int probe_disk(const char *dir, size_t bytes, struct probe_result *wr, struct probe_result *rd);
/* Creates n files in a new folder in dir (file i holds i % 13 bytes), stats
 * each, unlinks each; checksum = sum of st_size seen. Leaves nothing. */
int probe_meta(const char *dir, unsigned n, struct probe_result *r);

/* ---- random access (probe-io.c) ---- */
/* Writes a bytes-long file (whole MiB, at least 1) in dir, then with
 * O_DIRECT: r[0] ops random 4 KiB reads at queue depth 1, r[1] 2 x ops at
 * depth 32 (32 threads), r[2] and r[3] the same for writes; then ops / 10
 * times a 4 KiB write + fsync, each timed (*fs, median and p99 in ns).
 * Read checksums: XOR of the first word of every block read; writes and
 * fsyncs: the count done. The file is removed. */
int probe_randio(const char *dir, size_t bytes, unsigned ops, struct probe_result r[4],
                 struct probe_result *fs, double *fsync_p50_ns, double *fsync_p99_ns);
/* updates random read-xor-writes of a table of 64-bit words (the largest
 * power of two that fits in bytes), HPCC RandomAccess style; checksum =
 * FNV-1a of the table afterwards. */
int probe_gups(size_t bytes, uint64_t updates, struct probe_result *r);

/* ---- network (probe-net.c) ---- */
struct sockaddr_in;
/* The address the server binds: an IPv4 dotted quad; 0, or -1 with errno
 * EINVAL. */
int probe_serve_addr(const char *addr, struct sockaddr_in *sa);
/* Serves on addr (127.0.0.1 by default; the bench's veth path gives its
 * namespace's link-local address), an ephemeral port printed as
 * {"type":"serve","port":P}, until the parent dies (PR_SET_PDEATHSIG).
 * Returns only on failure, -1 with errno set. */
int probe_serve(const char *addr);
/* "ADDR:PORT", ADDR an IPv4 address or "gateway" (the default route's). */
int probe_net_resolve(const char *spec, struct sockaddr_in *sa);
/* n one-byte TCP round trips on one connection; the median and the 99th
 * percentile round trip in ns; checksum = bytes echoed back unchanged. */
int probe_net_rr(const struct sockaddr_in *sa, unsigned n, struct probe_result *r, double *p50_ns,
                 double *p99_ns);
/* bytes sent to the server over streams parallel connections (1-16);
 * checksum = the bytes the server counted. */
int probe_net_bulk(const struct sockaddr_in *sa, size_t bytes, unsigned streams,
                   struct probe_result *r);

#endif
