/* The probe's network workloads: a server on the host (--serve) and the
 * clients that run in each target against it. The server binds 127.0.0.1,
 * or with --bind the link-local address of the bench's own network
 * namespace (the container's veth path); a guest reaches it through its
 * user-mode network's gateway, which QEMU's slirp and passt map to the
 * host's loopback. */
#include "probe-work.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define BULK_CHUNK (64 * 1024)

static int read_full(int fd, void *buf, size_t n)
{
        unsigned char *p = buf;
        while (n > 0) {
                ssize_t r = read(fd, p, n);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r <= 0) {
                        if (r == 0)
                                errno = ECONNRESET;
                        return -1;
                }
                p += r;
                n -= (size_t)r;
        }
        return 0;
}

static int write_full(int fd, const void *buf, size_t n)
{
        const unsigned char *p = buf;
        while (n > 0) {
                ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w < 0)
                        return -1;
                p += w;
                n -= (size_t)w;
        }
        return 0;
}

/* One connection: 'R' echoes single bytes until EOF; 'B' counts bytes
 * until EOF and answers with the count (8 bytes, little-endian). */
static void serve_one(int fd)
{
        unsigned char mode, c;
        if (read_full(fd, &mode, 1) < 0)
                return;
        if (mode == 'R') {
                while (read_full(fd, &c, 1) == 0 && write_full(fd, &c, 1) == 0)
                        ;
        } else if (mode == 'B') {
                static unsigned char buf[BULK_CHUNK];
                uint64_t total = 0;
                ssize_t n;
                while ((n = read(fd, buf, sizeof(buf))) != 0) {
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n < 0)
                                return;
                        total += (uint64_t)n;
                }
                unsigned char le[8];
                for (int i = 0; i < 8; i++)
                        le[i] = (unsigned char)(total >> (8 * i));
                (void)write_full(fd, le, sizeof(le));
        }
}

int probe_serve_addr(const char *addr, struct sockaddr_in *sa)
{
        memset(sa, 0, sizeof(*sa));
        sa->sin_family = AF_INET;
        if (!addr || inet_pton(AF_INET, addr, &sa->sin_addr) != 1) {
                errno = EINVAL;
                return -1;
        }
        return 0;
}

int probe_serve(const char *addr)
{
        pid_t parent = getppid();
        /* die with vmenv: the server must not outlive the bench */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                return -1;
        signal(SIGCHLD, SIG_IGN); /* connections' processes reap themselves */
        int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
        struct sockaddr_in sa;
        socklen_t len = sizeof(sa);
        if (probe_serve_addr(addr, &sa) < 0 || s < 0 ||
            setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
            bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(s, 64) < 0 ||
            getsockname(s, (struct sockaddr *)&sa, &len) < 0)
                return -1;
        printf("{\"type\":\"serve\",\"port\":%u}\n", ntohs(sa.sin_port));
        fflush(stdout);
        for (;;) {
                int c = accept4(s, NULL, NULL, SOCK_CLOEXEC);
                if (c < 0) {
                        if (errno == EINTR || errno == ECONNABORTED)
                                continue;
                        return -1;
                }
                setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                pid_t pid = fork();
                if (pid == 0) {
                        prctl(PR_SET_PDEATHSIG, SIGKILL);
                        close(s);
                        serve_one(c);
                        _exit(0);
                }
                close(c);
        }
}

/* "gateway" is the default route's gateway from /proc/net/route: inside a
 * guest on user-mode networking, the host's loopback. */
int probe_net_resolve(const char *spec, struct sockaddr_in *sa)
{
        char host[64];
        const char *colon = strrchr(spec, ':');
        if (!colon || (size_t)(colon - spec) >= sizeof(host))
                goto bad;
        memcpy(host, spec, (size_t)(colon - spec));
        host[colon - spec] = 0;
        char *end;
        unsigned long port = strtoul(colon + 1, &end, 10);
        if (*end || port < 1 || port > 65535)
                goto bad;
        memset(sa, 0, sizeof(*sa));
        sa->sin_family = AF_INET;
        sa->sin_port = htons((uint16_t)port);
        if (strcmp(host, "gateway") == 0) {
                FILE *f = fopen("/proc/net/route", "re");
                char line[256];
                unsigned dest, gw, flags;
                bool found = false;
                while (f && fgets(line, sizeof(line), f))
                        if (sscanf(line, "%*s %x %x %x", &dest, &gw, &flags) == 3 && dest == 0 &&
                            (flags & 2)) {
                                sa->sin_addr.s_addr = gw; /* already network order */
                                found = true;
                                break;
                        }
                if (f)
                        fclose(f);
                if (!found) {
                        errno = ENETUNREACH;
                        return -1;
                }
                return 0;
        }
        if (inet_pton(AF_INET, host, &sa->sin_addr) == 1)
                return 0;
bad:
        errno = EINVAL;
        return -1;
}

static int dial(const struct sockaddr_in *sa, char mode)
{
        int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -1;
        if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0 ||
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0 ||
            write_full(fd, &mode, 1) < 0) {
                int saved = errno;
                close(fd);
                errno = saved;
                return -1;
        }
        return fd;
}

static int cmp_u64(const void *a, const void *b)
{
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
        return x < y ? -1 : x > y;
}

int probe_net_rr(const struct sockaddr_in *sa, unsigned n, struct probe_result *r, double *p50_ns,
                 double *p99_ns)
{
        uint64_t *rtt = calloc(n ? n : 1, sizeof(*rtt)), good = 0;
        int fd = rtt ? dial(sa, 'R') : -1;
        if (fd < 0) {
                free(rtt);
                return -1;
        }
        uint64_t c0 = probe_cpu_ns(), t0 = probe_now_ns();
        for (unsigned i = 0; i < n; i++) {
                unsigned char out = (unsigned char)i, in;
                uint64_t s = probe_now_ns();
                if (write_full(fd, &out, 1) < 0 || read_full(fd, &in, 1) < 0) {
                        int saved = errno;
                        close(fd);
                        free(rtt);
                        errno = saved;
                        return -1;
                }
                rtt[i] = probe_now_ns() - s;
                good += in == out;
        }
        r->ns = probe_now_ns() - t0;
        r->cpu_ns = probe_cpu_ns() - c0;
        r->work = n;
        r->checksum = good;
        close(fd);
        qsort(rtt, n, sizeof(*rtt), cmp_u64);
        *p50_ns = n % 2 ? (double)rtt[n / 2] : ((double)rtt[n / 2 - 1] + (double)rtt[n / 2]) / 2;
        *p99_ns = (double)rtt[(size_t)((double)(n - 1) * 0.99)];
        free(rtt);
        return 0;
}

/* One stream: send bytes, then the server's count must equal them. */
static int bulk_stream(const struct sockaddr_in *sa, size_t bytes)
{
        static unsigned char buf[BULK_CHUNK];
        unsigned char le[8];
        int fd = dial(sa, 'B');
        if (fd < 0)
                return -1;
        probe_fill(buf, sizeof(buf), PROBE_SEED_DISK);
        for (size_t off = 0; off < bytes; off += BULK_CHUNK)
                if (write_full(fd, buf, bytes - off < BULK_CHUNK ? bytes - off : BULK_CHUNK) < 0)
                        goto fail;
        if (shutdown(fd, SHUT_WR) < 0 || read_full(fd, le, sizeof(le)) < 0)
                goto fail;
        close(fd);
        uint64_t got = 0;
        for (int i = 0; i < 8; i++)
                got |= (uint64_t)le[i] << (8 * i);
        return got == bytes ? 0 : -1;
fail:
        close(fd);
        return -1;
}

int probe_net_bulk(const struct sockaddr_in *sa, size_t bytes, unsigned streams,
                   struct probe_result *r)
{
        pid_t pids[16];
        unsigned started = 0;
        uint64_t ok = 0;
        if (streams < 1 || streams > 16) {
                errno = EINVAL;
                return -1;
        }
        size_t each = bytes / streams;
        uint64_t c0 = probe_cpu_ns(), t0 = probe_now_ns();
        for (; started < streams; started++) {
                pids[started] = fork();
                if (pids[started] < 0)
                        break;
                if (pids[started] == 0)
                        _exit(bulk_stream(sa, each) == 0 ? 0 : 1);
        }
        for (unsigned i = 0; i < started; i++) {
                int st;
                while (waitpid(pids[i], &st, 0) < 0)
                        if (errno != EINTR)
                                return -1;
                ok += WIFEXITED(st) && WEXITSTATUS(st) == 0;
        }
        r->ns = probe_now_ns() - t0;
        r->cpu_ns = probe_cpu_ns() - c0;
        r->work = (uint64_t)each * streams;
        r->checksum = ok * each;
        if (ok != streams) {
                errno = ECONNRESET;
                return -1;
        }
        return 0;
}
