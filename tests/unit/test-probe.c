/* vmenv-probe's workloads do the work they claim: each checksum is compared
 * with an independent computation (FNV-1a and xorshift written again here
 * from their definitions), and the disk and file workloads leave nothing. */
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "probe-work.h"
#include "tap.h"

static uint64_t ref_fnv(uint64_t h, const unsigned char *p, size_t n)
{
        while (n--) {
                h ^= *p++;
                h *= 1099511628211ULL; /* 2^40 + 2^8 + 0xb3 */
        }
        return h;
}

/* xorshift64 (13, 7, 17), each state emitted low byte first */
static unsigned char *ref_buf(size_t n, uint64_t seed)
{
        unsigned char *b = malloc(n + 8);
        uint64_t x = seed;
        for (size_t i = 0; i < n; i += 8) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                memcpy(b + i, &x, 8); /* little-endian host */
        }
        return b;
}

static int dir_entries(const char *path)
{
        DIR *d = opendir(path);
        int n = 0;
        struct dirent *de;
        if (!d)
                return -1;
        while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
                        n++;
        closedir(d);
        return n;
}

/* Random access: GUPS against its own definition, random I/O counts,
 * the same checksums twice, nothing left behind. */
static void test_random(const char *dir)
{
        struct probe_result r = {0};
        ok(probe_gups(8192, 5000, &r) == 0 && r.work == 5000, "gups runs");
        uint64_t t[1024], x = PROBE_SEED_GUPS;
        for (int i = 0; i < 1024; i++)
                t[i] = (uint64_t)i;
        for (int i = 0; i < 5000; i++) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                t[x & 1023] ^= x;
        }
        ok(r.checksum == probe_fnv1a(PROBE_FNV_OFFSET, t, sizeof(t)),
           "gups checksum: the table after xorshift read-xor-writes (1024 words in 8 KiB)");

        struct probe_result a[4], b[4], fs;
        double p50 = 0, p99 = 0;
        int rc = probe_randio(dir, 1 << 20, 64, a, &fs, &p50, &p99);
        if (rc < 0 && errno == EINVAL) {
                ok(1, "# SKIP no O_DIRECT in %s", dir);
                return;
        }
        ok(rc == 0 && a[0].work == 64 && a[1].work == 128 && a[2].work == 64 && a[3].work == 128,
           "random I/O: 64 ops at qd1, 128 at qd32");
        ok(a[2].checksum == 64 && a[3].checksum == 128 && fs.work == 6 && p99 >= p50 && p50 > 0,
           "writes counted, 6 fsyncs timed, p99 >= median");
        ok(probe_randio(dir, 1 << 20, 64, b, &fs, &p50, &p99) == 0 &&
               a[0].checksum == b[0].checksum && a[1].checksum == b[1].checksum,
           "the blocks read are the same each time (checksums)");
        /* queue depth 32 on io_uring (where the kernel allows it) and on
         * threads reads and writes the same blocks */
        setenv("VMENV_PROBE_NO_URING", "1", 1);
        ok(probe_randio(dir, 1 << 20, 64, b, &fs, &p50, &p99) == 0 &&
               a[1].checksum == b[1].checksum && b[3].checksum == 128,
           "threads and io_uring read the same blocks at qd32 (checksums)");
        unsetenv("VMENV_PROBE_NO_URING");
}

/* The network workloads against the probe's own server on 127.0.0.1. */
static void test_net(void)
{
        struct sockaddr_in sa;
        ok(probe_net_resolve("127.0.0.1:80", &sa) == 0 && sa.sin_port == htons(80) &&
               sa.sin_addr.s_addr == htonl(INADDR_LOOPBACK),
           "resolve ADDR:PORT");
        static const char *const bad[] = {"127.0.0.1",     "127.0.0.1:0", "x:1",
                                          "1.2.3.4:70000", ":5",          NULL};
        int refused = 0;
        for (int i = 0; bad[i]; i++)
                refused += probe_net_resolve(bad[i], &sa) < 0;
        ok(refused == 5, "bad server addresses are refused");
        ok(probe_serve_addr("169.254.77.1", &sa) == 0 && sa.sin_addr.s_addr == htonl(0xa9fe4d01) &&
               sa.sin_port == 0,
           "the server binds the address it is given, on any port");
        static const char *const badbind[] = {"",    "localhost", "169.254.77", "1.2.3.4:5",
                                              "::1", "256.1.1.1", NULL};
        refused = 0;
        for (int i = 0; badbind[i]; i++)
                refused += probe_serve_addr(badbind[i], &sa) < 0;
        ok(refused == 6 && probe_serve_addr(NULL, &sa) < 0, "bad bind addresses are refused");

        int fds[2];
        if (pipe(fds) < 0)
                return;
        pid_t srv = fork();
        if (srv == 0) {
                dup2(fds[1], 1);
                probe_serve("127.0.0.1");
                _exit(1);
        }
        close(fds[1]);
        char line[128] = "";
        ssize_t n = read(fds[0], line, sizeof(line) - 1);
        close(fds[0]);
        const char *p = n > 0 ? strstr(line, "\"port\":") : NULL;
        ok(p != NULL, "the server prints its port");
        char spec[64];
        snprintf(spec, sizeof(spec), "127.0.0.1:%d", p ? atoi(p + 7) : 1);
        struct probe_result r = {0};
        double p50 = 0, p99 = 0;
        ok(probe_net_resolve(spec, &sa) == 0 && probe_net_rr(&sa, 500, &r, &p50, &p99) == 0 &&
               r.work == 500 && r.checksum == 500 && p50 > 0 && p99 >= p50,
           "500 round trips, all echoed, p99 >= median");
        ok(probe_net_bulk(&sa, 1 << 20, 1, &r) == 0 && r.checksum == 1 << 20 && r.ns > 0,
           "bulk, one stream: the server counted every byte");
        ok(probe_net_bulk(&sa, 1 << 20, 4, &r) == 0 && r.checksum == 1 << 20,
           "bulk, four streams: the server counted every byte");
        kill(srv, SIGKILL);
        waitpid(srv, NULL, 0);
}

int main(int argc, char **argv)
{
        if (argc > 1 && !strcmp(argv[1], "--child"))
                return PROBE_CHILD_STATUS; /* what vmenv-probe does */

        /* FNV-1a 64 reference vectors */
        ok(probe_fnv1a(PROBE_FNV_OFFSET, "", 0) == 0xcbf29ce484222325ULL, "fnv1a of ''");
        ok(probe_fnv1a(PROBE_FNV_OFFSET, "a", 1) == 0xaf63dc4c8601ec8cULL, "fnv1a of 'a'");
        ok(probe_fnv1a(PROBE_FNV_OFFSET, "foobar", 6) == 0x85944171f73967e8ULL,
           "fnv1a of 'foobar'");

        unsigned char fill[1001], *ref = ref_buf(sizeof(fill), 12345);
        probe_fill(fill, sizeof(fill), 12345);
        ok(memcmp(fill, ref, sizeof(fill)) == 0, "fill is the xorshift64 stream, odd length too");
        free(ref);

        struct probe_result r = {0}, r2 = {0};
        ok(probe_cpu(100000, 3, &r) == 0, "cpu runs");
        ref = ref_buf(100000, PROBE_SEED_CPU);
        uint64_t h = PROBE_FNV_OFFSET;
        for (int i = 0; i < 3; i++)
                h = ref_fnv(h, ref, 100000);
        free(ref);
        ok(r.checksum == h, "cpu checksum is 3 chained FNV-1a passes over the buffer");
        ok(r.work == 300000 && r.ns > 0, "cpu reports its work and time");
        /* CPU time comes from getrusage: a busy loop long enough to pass
         * its resolution uses about as much CPU as wall time */
        struct probe_result busy = {0};
        ok(probe_cpu(1 << 20, 64, &busy) == 0 && busy.cpu_ns > 0 &&
               busy.cpu_ns < busy.ns + 20000000ULL,
           "cpu reports its CPU time, not more than its wall time (+ one tick)");

        ok(probe_mem(1 << 20, 4, &r) == 0, "mem runs");
        ref = ref_buf(1 << 20, PROBE_SEED_MEM);
        ok(r.checksum == ref_fnv(PROBE_FNV_OFFSET, ref, 1 << 20),
           "mem checksum: the destination holds the source");
        free(ref);
        ok(r.work == 4u << 20, "mem work is bytes x passes");

        ok(probe_syscall(5000, &r) == 0 && r.checksum == 5000 && r.work == 5000,
           "syscall: every getppid returned the parent");

        ok(probe_spawn("/proc/self/exe", 5, &r) == 0 && r.checksum == 5 && r.work == 5,
           "spawn: 5 children ran and exited %d", PROBE_CHILD_STATUS);
        ok(probe_spawn("/bin/false", 3, &r) == 0 && r.checksum == 0,
           "spawn: children that fail are not counted");

        char dir[] = "/var/tmp/vmenv-test-probe.XXXXXX";
        if (!mkdtemp(dir)) {
                ok(0, "mkdtemp: %s", strerror(errno));
                return done_testing();
        }
        ok(probe_disk(dir, 3000000, &r, &r2) == 0, "disk runs");
        ref = ref_buf(3000000, PROBE_SEED_DISK);
        h = ref_fnv(PROBE_FNV_OFFSET, ref, 3000000);
        free(ref);
        ok(r.checksum == h && r2.checksum == h, "disk: what was read back is what was written");
        ok(r.work == 3000000 && r2.work == 3000000 && r.ns > 0 && r2.ns > 0, "disk work and time");
        ok(dir_entries(dir) == 0, "disk leaves no file");

        ok(probe_meta(dir, 100, &r) == 0, "meta runs");
        uint64_t sizes = 0;
        for (unsigned i = 0; i < 100; i++)
                sizes += i % 13;
        ok(r.checksum == sizes && r.work == 100, "meta: stat saw every file's size");
        ok(dir_entries(dir) == 0, "meta leaves no file");

        char missing[4200];
        snprintf(missing, sizeof(missing), "%s/nope", dir);
        errno = 0;
        ok(probe_meta(missing, 10, &r) < 0 && errno == ENOENT, "meta in a missing folder fails");
        ok(probe_disk(missing, 1000, &r, &r2) < 0 && errno == ENOENT,
           "disk in a missing folder fails");
        test_random(dir);
        ok(rmdir(dir) == 0, "random I/O leaves nothing in the folder");
        test_net();
        return done_testing();
}
