/* vmenv-probe: the workloads that 'vmenv bench' runs on the host, in a
 * container and in a VM. Linked statically with no dependencies so one binary
 * runs in any Linux root filesystem; prints one JSON line per sample.
 *
 * Output (one JSON object per line):
 *   {"type":"info","probe":1,"clock_res_ns":R,"min_ns":M,"dir":"..."}
 *   {"type":"sample","kind":"cpu","run":1,"value":V,"unit":"MiB/s","ns":N,
 *    "work":W,"checksum":"hex"}
 *   {"type":"refused","kind":"cpu","run":1,"ns":N,"min_ns":M,"reason":"..."}
 * A sample shorter than 100 x the clock's resolution is refused rather than
 * reported (exit status 3): its figure would be noise. */
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "probe-work.h"

#define PROBE_FORMAT 1
#define EXIT_REFUSED 3

enum kind { K_CPU, K_MEM, K_GUPS, K_SYSCALL, K_SPAWN, K_DISK, K_RANDIO, K_META, K_NET, K_COUNT };
static const char *const kind_names[K_COUNT] = {"cpu",  "mem",    "gups", "syscall", "spawn",
                                                "disk", "randio", "meta", "net"};

struct opts {
        unsigned runs;
        double scale;
        const char *dir;
        bool only[K_COUNT];
        const char *self;
        uint64_t min_ns;
        const char *net; /* the server "ADDR:PORT"; without it "net" is skipped */
};

static void json_str(const char *s)
{
        putchar('"');
        for (; *s; s++) {
                unsigned char c = (unsigned char)*s;
                if (c == '"' || c == '\\')
                        printf("\\%c", c);
                else if (c < 0x20)
                        printf("\\u%04x", c);
                else
                        putchar(c);
        }
        putchar('"');
}

/* A workload this target cannot run, said instead of failing the others. */
static void skipped(const char *kind, const char *why)
{
        printf("{\"type\":\"info\",\"skipped\":\"%s\",\"reason\":", kind);
        json_str(why);
        printf("}\n");
        fflush(stdout);
}

/* Prints the sample, or refuses it; returns false when refused. */
static bool report(const struct opts *o, const char *kind, unsigned run,
                   const struct probe_result *r, double value, const char *unit)
{
        if (r->ns < o->min_ns) {
                printf("{\"type\":\"refused\",\"kind\":\"%s\",\"run\":%u,\"ns\":%llu,"
                       "\"min_ns\":%llu,\"reason\":\"ran too short to time; use a larger "
                       "--scale\"}\n",
                       kind, run, (unsigned long long)r->ns, (unsigned long long)o->min_ns);
                fflush(stdout);
                return false;
        }
        printf("{\"type\":\"sample\",\"kind\":\"%s\",\"run\":%u,\"value\":%.6g,\"unit\":\"%s\","
               "\"ns\":%llu,\"cpu_ns\":%llu,\"work\":%llu,\"checksum\":\"%016llx\"}\n",
               kind, run, value, unit, (unsigned long long)r->ns, (unsigned long long)r->cpu_ns,
               (unsigned long long)r->work, (unsigned long long)r->checksum);
        fflush(stdout);
        return true;
}

static double mib_per_s(const struct probe_result *r)
{
        return (double)r->work / (1024.0 * 1024.0) / ((double)r->ns / 1e9);
}

static uint64_t scaled(double base, double scale, uint64_t min)
{
        double v = base * scale;
        return v < (double)min ? min : (uint64_t)v;
}

static int run_kind(const struct opts *o, enum kind k, unsigned run)
{
        struct probe_result r = {0}, r2 = {0};
        bool ok = true;

        switch (k) {
        case K_CPU: {
                uint64_t total = scaled(64.0 * 1048576, o->scale, 4096);
                size_t bytes = total < (4u << 20) ? total : (4u << 20);
                if (probe_cpu(bytes, (unsigned)(total / bytes), &r) < 0)
                        return -1;
                ok = report(o, "cpu", run, &r, mib_per_s(&r), "MiB/s");
                break;
        }
        case K_MEM: {
                uint64_t total = scaled(256.0 * 1048576, o->scale, 4096);
                size_t bytes = total < (32u << 20) ? total : (32u << 20);
                if (probe_mem(bytes, (unsigned)(total / bytes), &r) < 0)
                        return -1;
                ok = report(o, "mem", run, &r, mib_per_s(&r), "MiB/s");
                break;
        }
        case K_GUPS: {
                size_t bytes = (size_t)scaled(64.0 * 1048576, o->scale, 4096);
                if (probe_gups(bytes, scaled(8.0 * 1048576, o->scale, 1024), &r) < 0)
                        return -1;
                ok = report(o, "gups", run, &r, (double)r.work / ((double)r.ns / 1e3), "MUP/s");
                break;
        }
        case K_RANDIO: {
                struct probe_result rr[4] = {{0}}, fs = {0};
                double p50, p99;
                static const char *const names[4] = {"rand-read", "rand-read32", "rand-write",
                                                     "rand-write32"};
                if (probe_randio(o->dir, (size_t)scaled(256.0 * 1048576, o->scale, 1048576),
                                 (unsigned)scaled(2000, o->scale, 64), rr, &fs, &p50, &p99) < 0) {
                        if (errno != EINVAL)
                                return -1;
                        skipped("randio", "the folder's filesystem has no O_DIRECT (a tmpfs?)");
                        break;
                }
                for (int i = 0; i < 4 && ok; i++)
                        ok = report(o, names[i], run, &rr[i],
                                    (double)rr[i].work / ((double)rr[i].ns / 1e9), "IOPS");
                ok = ok && report(o, "fsync", run, &fs, p50 / 1000.0, "us") &&
                     report(o, "fsync-p99", run, &fs, p99 / 1000.0, "us");
                break;
        }
        case K_SYSCALL:
                if (probe_syscall((unsigned)scaled(200000, o->scale, 1), &r) < 0)
                        return -1;
                ok = report(o, "syscall", run, &r, (double)r.ns / (double)r.work, "ns/call");
                break;
        case K_SPAWN:
                if (probe_spawn(o->self, (unsigned)scaled(200, o->scale, 1), &r) < 0)
                        return -1;
                if (r.checksum != r.work) {
                        fprintf(stderr, "vmenv-probe: %llu of %llu children failed to run '%s'\n",
                                (unsigned long long)(r.work - r.checksum),
                                (unsigned long long)r.work, o->self);
                        errno = ECHILD;
                        return -1;
                }
                ok = report(o, "spawn", run, &r, (double)r.ns / (double)r.work / 1000.0,
                            "us/process");
                break;
        case K_DISK:
                if (probe_disk(o->dir, (size_t)scaled(64.0 * 1048576, o->scale, 65536), &r, &r2) <
                    0)
                        return -1;
                ok = report(o, "disk-write", run, &r, mib_per_s(&r), "MiB/s") &&
                     report(o, "disk-read", run, &r2, mib_per_s(&r2), "MiB/s");
                break;
        case K_META:
                if (probe_meta(o->dir, (unsigned)scaled(1000, o->scale, 1), &r) < 0)
                        return -1;
                ok = report(o, "meta", run, &r, (double)r.work / ((double)r.ns / 1e9), "files/s");
                break;
        case K_NET: {
                struct sockaddr_in sa;
                double p50, p99;
                if (!o->net)
                        break; /* no server to talk to on this target */
                if (probe_net_resolve(o->net, &sa) < 0) {
                        if (errno != ENETUNREACH)
                                return -1;
                        skipped("net", "no default route, so no gateway to the host");
                        break;
                }
                if (probe_net_rr(&sa, (unsigned)scaled(10000, o->scale, 100), &r, &p50, &p99) < 0)
                        return -1;
                ok = report(o, "net-rr", run, &r, p50 / 1000.0, "us") &&
                     report(o, "net-rr-p99", run, &r, p99 / 1000.0, "us");
                size_t bytes = (size_t)scaled(64.0 * 1048576, o->scale, 65536);
                if (ok && probe_net_bulk(&sa, bytes, 1, &r) < 0)
                        return -1;
                ok = ok && report(o, "net-bulk", run, &r, mib_per_s(&r), "MiB/s");
                if (ok && probe_net_bulk(&sa, bytes, 4, &r2) < 0)
                        return -1;
                ok = ok && report(o, "net-bulk4", run, &r2, mib_per_s(&r2), "MiB/s");
                break;
        }
        case K_COUNT:
                break;
        }
        return ok ? 0 : 1;
}

static int usage(void)
{
        fprintf(stderr, "usage: vmenv-probe [--runs N] [--only KIND,...] [--dir DIR] "
                        "[--scale X] [--net ADDR:PORT]\n       vmenv-probe --serve [--bind ADDR]\n"
                        "kinds: cpu mem gups syscall spawn disk randio meta net\n");
        return 2;
}

static int parse_only(struct opts *o, const char *list)
{
        char buf[256];
        if (strlen(list) >= sizeof(buf))
                return -1;
        strcpy(buf, list);
        memset(o->only, 0, sizeof(o->only));
        for (char *save = NULL, *w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
                int k;
                for (k = 0; k < K_COUNT && strcmp(w, kind_names[k]) != 0; k++)
                        ;
                if (k == K_COUNT) {
                        fprintf(stderr, "vmenv-probe: unknown kind '%s'\n", w);
                        return -1;
                }
                o->only[k] = true;
        }
        return 0;
}

int main(int argc, char **argv)
{
        struct opts o = {.runs = 5, .scale = 1.0, .dir = "."};
        struct timespec res;

        for (int k = 0; k < K_COUNT; k++)
                o.only[k] = true;
        for (int i = 1; i < argc; i++) {
                const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
                char *end;
                if (strcmp(a, "--child") == 0)
                        return PROBE_CHILD_STATUS;
                if (strcmp(a, "--serve") == 0) {
                        /* --serve [--bind ADDR]: the bench's veth path binds
                         * the server to its namespace's link-local address */
                        const char *addr = "127.0.0.1";
                        if (v && strcmp(v, "--bind") == 0 && i + 2 < argc)
                                addr = argv[i + 2];
                        else if (v)
                                return usage();
                        probe_serve(addr);
                        fprintf(stderr, "vmenv-probe: cannot serve on %s: %s\n", addr,
                                strerror(errno));
                        return 1;
                }
                if (strcmp(a, "--version") == 0) {
                        printf("vmenv-probe %d\n", PROBE_FORMAT);
                        return 0;
                }
                if (!v)
                        return usage();
                i++;
                if (strcmp(a, "--runs") == 0) {
                        unsigned long n = strtoul(v, &end, 10);
                        if (*end || n < 1 || n > 1000)
                                return usage();
                        o.runs = (unsigned)n;
                } else if (strcmp(a, "--scale") == 0) {
                        o.scale = strtod(v, &end);
                        if (*end || !(o.scale >= 0.0001 && o.scale <= 100))
                                return usage();
                } else if (strcmp(a, "--net") == 0) {
                        o.net = v;
                } else if (strcmp(a, "--dir") == 0) {
                        o.dir = v;
                } else if (strcmp(a, "--only") == 0) {
                        if (parse_only(&o, v) < 0)
                                return usage();
                } else {
                        return usage();
                }
        }

        /* Spawn runs this very binary again; /proc/self/exe finds it even
         * when it was started through a relative path or a bind mount. */
        o.self = access("/proc/self/exe", X_OK) == 0 ? "/proc/self/exe" : argv[0];
        if (clock_getres(CLOCK_MONOTONIC, &res) < 0) {
                perror("vmenv-probe: clock_getres");
                return 1;
        }
        uint64_t res_ns = (uint64_t)res.tv_sec * 1000000000ULL + (uint64_t)res.tv_nsec;
        o.min_ns = 100 * (res_ns ? res_ns : 1);
        printf("{\"type\":\"info\",\"probe\":%d,\"clock_res_ns\":%llu,\"min_ns\":%llu,\"dir\":",
               PROBE_FORMAT, (unsigned long long)res_ns, (unsigned long long)o.min_ns);
        json_str(o.dir);
        printf("}\n");

        for (unsigned run = 1; run <= o.runs; run++)
                for (int k = 0; k < K_COUNT; k++) {
                        if (!o.only[k])
                                continue;
                        int rc = run_kind(&o, (enum kind)k, run);
                        if (rc < 0) {
                                fprintf(stderr, "vmenv-probe: %s: %s\n", kind_names[k],
                                        strerror(errno));
                                return 1;
                        }
                        if (rc > 0)
                                return EXIT_REFUSED;
                }
        return 0;
}
