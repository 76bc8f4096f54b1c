/* vmenv bench: results, probe output parsing, the host target and lifecycle
 * measurements from /proc. The driver that runs every target is in
 * bench-run.c, statistics in bench-stats.c, output formats in
 * bench-report.c, the container in bench-container.c. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <linux/kvm.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vmenv/bench.h"
#include "vmenv/cleanup.h"
#include "vmenv/log.h"
#include "vmenv/util.h"

#define PROBE_MAX_LINES 4096
#define STDERR_KEEP 2048

const struct vmenv_bench_figure vmenv_bench_figures[] = {
    {"cpu", "CPU: FNV-1a hash", true, false, "cpu"},
    {"mem", "memory: memcpy bandwidth", true, false, "mem"},
    {"gups", "memory: random updates (GUPS)", true, false, "gups"},
    {"syscall", "syscall: getppid round trip", false, false, "syscall"},
    {"spawn", "process: fork+exec+wait", false, false, "spawn"},
    {"disk-write", "disk: write+fsync", true, false, "disk"},
    {"disk-read", "disk: read, cache dropped", true, false, "disk"},
    {"rand-read", "disk: 4 KiB random read, qd1", true, false, "randio"},
    {"rand-read32", "disk: 4 KiB random read, qd32", true, false, "randio"},
    {"rand-write", "disk: 4 KiB random write, qd1", true, false, "randio"},
    {"rand-write32", "disk: 4 KiB random write, qd32", true, false, "randio"},
    {"fsync", "disk: 4 KiB write+fsync, median", false, false, "randio"},
    {"fsync-p99", "disk: 4 KiB write+fsync, p99", false, false, "randio"},
    {"meta", "files: create+stat+unlink", true, false, "meta"},
    {"net-rr", "net: TCP 1-byte round trip, median", false, false, "net"},
    {"net-rr-p99", "net: TCP 1-byte round trip, p99", false, false, "net"},
    {"net-bulk", "net: TCP bulk, 1 stream", true, false, "net"},
    {"net-bulk4", "net: TCP bulk, 4 streams", true, false, "net"},
    {"start-stopped", "start: stopped -> first command", false, true},
    {"start-cold", "start: nothing -> first command", false, true},
    {"idle-rss", "memory when idle (RSS)", false, true},
    {"idle-pss", "memory when idle (PSS)", false, true},
    {"disk-added", "disk a new instance adds", false, true},
    {"idle-cpu", "host CPU time while idle", false, true},
    {NULL, NULL, false, false, NULL},
};

const struct vmenv_bench_figure *vmenv_bench_figure_find(const char *kind)
{
        for (const struct vmenv_bench_figure *f = vmenv_bench_figures; f->kind; f++)
                if (vmenv_streq(f->kind, kind))
                        return f;
        return NULL;
}

struct vmenv_bench_result *vmenv_bench_result_new(const char *target, const char *label)
{
        struct vmenv_bench_result *r = vmenv_calloc(1, sizeof(*r));
        r->target = vmenv_strdup(target);
        r->label = vmenv_strdup(label ? label : target);
        return r;
}

void vmenv_bench_result_free(struct vmenv_bench_result *r)
{
        if (!r)
                return;
        for (size_t i = 0; i < r->n_samples; i++) {
                free(r->samples[i].kind);
                free(r->samples[i].unit);
                free(r->samples[i].checksum);
        }
        free(r->samples);
        vmenv_strv_free(r->info);
        vmenv_strv_free(r->notes);
        free(r->target);
        free(r->label);
        free(r);
}

void vmenv_bench_report_free(struct vmenv_bench_report *r)
{
        if (!r)
                return;
        for (size_t i = 0; i < r->n_results; i++)
                vmenv_bench_result_free(r->results[i]);
        free(r->results);
        vmenv_strv_free(r->host_info);
        vmenv_strv_free(r->warnings);
        free(r);
}

static struct vmenv_bench_sample *add_sample(struct vmenv_bench_result *r)
{
        r->samples = vmenv_realloc(r->samples, (r->n_samples + 1) * sizeof(*r->samples));
        struct vmenv_bench_sample *s = &r->samples[r->n_samples++];
        memset(s, 0, sizeof(*s));
        return s;
}

void vmenv_bench_add(struct vmenv_bench_result *r, const char *kind, int run, double value,
                     const char *unit)
{
        struct vmenv_bench_sample *s = add_sample(r);
        s->kind = vmenv_strdup(kind);
        s->run = run;
        s->value = value;
        s->unit = vmenv_strdup(unit);
}

void vmenv_bench_add_info(struct vmenv_bench_result *r, const char *key, const char *value)
{
        /* the last value wins: one probe invocation per run reports it again */
        size_t klen = strlen(key);
        for (char **p = r->info; p && *p; p++)
                if (!strncmp(*p, key, klen) && (*p)[klen] == '=') {
                        free(*p);
                        *p = vmenv_strdupf("%s=%s", key, value);
                        return;
                }
        vmenv_strv_push(&r->info, vmenv_strdupf("%s=%s", key, value));
}

/* ---- probe output ------------------------------------------------------ */

static const char *jget_str(json_object *o, const char *key)
{
        json_object *v;
        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

static bool jget_num(json_object *o, const char *key, double *out)
{
        json_object *v;
        if (!json_object_object_get_ex(o, key, &v) ||
            !(json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)))
                return false;
        *out = json_object_get_double(v);
        return true;
}

int vmenv_bench_parse_probe(const char *out, struct vmenv_bench_result *r, vmenv_error *err)
{
        size_t lineno = 0, samples = 0;

        for (const char *p = out; p && *p;) {
                const char *nl = strchr(p, '\n');
                size_t len = nl ? (size_t)(nl - p) : strlen(p);
                _cleanup_free_ char *line = vmenv_strndup(p, len);
                p = nl ? nl + 1 : p + len;
                if (++lineno > PROBE_MAX_LINES)
                        return vmenv_error_set(err, VMENV_EXIT_DATA,
                                               "probe output has more than %d lines",
                                               PROBE_MAX_LINES);
                if (len == 0)
                        continue;
                json_object *o = json_tokener_parse(line);
                if (!o || !json_object_is_type(o, json_type_object)) {
                        json_object_put(o);
                        return vmenv_error_set(
                            err, VMENV_EXIT_DATA,
                            "probe output line %zu is not a JSON object: '%.80s'", lineno, line);
                }
                const char *type = jget_str(o, "type"), *kind = jget_str(o, "kind");
                const char *unit = jget_str(o, "unit"), *sum = jget_str(o, "checksum");
                double run = 0, value = 0, ns = 0, work = 0, cpu_ns = 0;
                int rc = 0;
                if (vmenv_streq(type, "refused")) {
                        double min_ns = 0;
                        jget_num(o, "ns", &ns);
                        jget_num(o, "min_ns", &min_ns);
                        rc = vmenv_error_set(err, VMENV_EXIT_SOFTWARE,
                                             "the probe refused to report '%s': it ran %.0f ns, "
                                             "below 100 x the clock's resolution (%.0f ns)",
                                             kind ? kind : "?", ns, min_ns);
                        vmenv_error_hint(err, "use a larger --scale");
                } else if (vmenv_streq(type, "sample")) {
                        if (!kind || !unit || !jget_num(o, "run", &run) ||
                            !jget_num(o, "value", &value) || !jget_num(o, "ns", &ns) ||
                            !jget_num(o, "work", &work) || !sum || !(value > 0) ||
                            !isfinite(value) || run < 1 || run > 1000 || strlen(kind) > 32 ||
                            strlen(unit) > 32 || strlen(sum) > 32) {
                                rc = vmenv_error_set(err, VMENV_EXIT_DATA,
                                                     "probe output line %zu is not a valid "
                                                     "sample: '%.80s'",
                                                     lineno, line);
                        } else {
                                struct vmenv_bench_sample *s = add_sample(r);
                                s->kind = vmenv_strdup(kind);
                                s->unit = vmenv_strdup(unit);
                                s->checksum = vmenv_strdup(sum);
                                s->run = (int)run;
                                s->value = value;
                                s->ns = (uint64_t)ns;
                                /* optional: probes before CPU time reported none */
                                if (jget_num(o, "cpu_ns", &cpu_ns) && cpu_ns >= 0 && cpu_ns < 1e18)
                                        s->cpu_ns = (uint64_t)cpu_ns;
                                s->work = (uint64_t)work;
                                samples++;
                        }
                } else if (vmenv_streq(type, "info")) {
                        double res = 0;
                        if (jget_num(o, "clock_res_ns", &res)) {
                                char v[32];
                                snprintf(v, sizeof(v), "%.0f", res);
                                vmenv_bench_add_info(r, "clock_res_ns", v);
                        }
                        /* a workload this target cannot run: said once, in the notes */
                        const char *skipped = jget_str(o, "skipped"), *why = jget_str(o, "reason");
                        if (skipped && why && strlen(skipped) <= 32 && strlen(why) <= 200) {
                                _cleanup_free_ char *note =
                                    vmenv_strdupf("'%s' skipped: %s", skipped, why);
                                bool seen = false;
                                for (char **n = r->notes; n && *n && !seen; n++)
                                        seen = vmenv_streq(*n, note);
                                if (!seen)
                                        vmenv_strv_push(&r->notes, TAKE_PTR(note));
                        }
                }
                json_object_put(o);
                if (rc < 0)
                        return -1;
        }
        if (samples == 0)
                return vmenv_error_set(err, VMENV_EXIT_DATA, "the probe reported no sample");
        return 0;
}

/* ---- processes --------------------------------------------------------- */

int vmenv_bench_spawn(char *const argv[], size_t max, char **out, vmenv_error *err)
{
        int op[2] = {-1, -1}, ep[2] = {-1, -1};
        struct vmenv_buf o = {0}, e = {0};
        bool too_big = false;

        if (pipe2(op, O_CLOEXEC) < 0 || pipe2(ep, O_CLOEXEC) < 0) {
                int saved = errno;
                if (op[0] >= 0) {
                        close(op[0]);
                        close(op[1]);
                }
                return vmenv_error_errno(err, VMENV_EXIT_IO, saved, "cannot create a pipe");
        }
        pid_t pid = fork();
        if (pid < 0) {
                int saved = errno;
                close(op[0]), close(op[1]), close(ep[0]), close(ep[1]);
                return vmenv_error_errno(err, VMENV_EXIT_IO, saved, "cannot fork");
        }
        if (pid == 0) {
                int nul = open("/dev/null", O_RDONLY);
                if (nul >= 0)
                        dup2(nul, 0);
                dup2(op[1], 1);
                dup2(ep[1], 2);
                execvp(argv[0], argv);
                dprintf(2, "cannot run '%s': %s", argv[0], strerror(errno));
                _exit(127);
        }
        close(op[1]);
        close(ep[1]);
        struct pollfd pfd[2] = {{op[0], POLLIN, 0}, {ep[0], POLLIN, 0}};
        int open_fds = 2;
        while (open_fds > 0) {
                if (poll(pfd, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                for (int i = 0; i < 2; i++) {
                        if (pfd[i].fd < 0 || !pfd[i].revents)
                                continue;
                        char buf[8192];
                        ssize_t n = read(pfd[i].fd, buf, sizeof(buf));
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n <= 0) {
                                close(pfd[i].fd);
                                pfd[i].fd = -1;
                                open_fds--;
                                continue;
                        }
                        if (i == 0) {
                                if (o.len + (size_t)n > max)
                                        too_big = true;
                                else
                                        vmenv_buf_add(&o, buf, (size_t)n);
                        } else {
                                vmenv_buf_add(&e, buf, (size_t)n);
                                if (e.len > 4 * STDERR_KEEP) { /* keep the tail */
                                        memmove(e.data, e.data + e.len - STDERR_KEEP, STDERR_KEEP);
                                        e.len = STDERR_KEEP;
                                        e.data[e.len] = 0;
                                }
                        }
                }
        }
        for (int i = 0; i < 2; i++)
                if (pfd[i].fd >= 0)
                        close(pfd[i].fd);
        int st = 0;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
                ;
        _cleanup_free_ char *errtext = vmenv_buf_steal(&e);
        size_t el = strlen(errtext);
        while (el > 0 && (errtext[el - 1] == '\n' || errtext[el - 1] == ' '))
                errtext[--el] = 0;
        const char *tail = el > STDERR_KEEP ? errtext + el - STDERR_KEEP : errtext;
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
                vmenv_buf_free(&o);
                if (WIFSIGNALED(st))
                        return vmenv_error_set(err, VMENV_EXIT_FAILURE,
                                               "'%s' was killed by signal %d%s%s", argv[0],
                                               WTERMSIG(st), *tail ? ": " : "", tail);
                return vmenv_error_set(err, VMENV_EXIT_FAILURE,
                                       "'%s' failed with exit status %d%s%s", argv[0],
                                       WEXITSTATUS(st), *tail ? ": " : "", tail);
        }
        if (too_big) {
                vmenv_buf_free(&o);
                return vmenv_error_set(err, VMENV_EXIT_DATA, "'%s' printed more than %zu bytes",
                                       argv[0], max);
        }
        if (out)
                *out = vmenv_buf_steal(&o);
        else
                vmenv_buf_free(&o);
        return 0;
}

/* ---- /proc ------------------------------------------------------------- */

static int read_stat(int pid, int *ppid, uint64_t *ticks)
{
        char path[64], buf[2048];
        snprintf(path, sizeof(path), "/proc/%d/stat", pid);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -1;
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        if (n <= 0)
                return -1;
        buf[n] = 0;
        /* comm may hold spaces and parentheses: fields start after the last ')' */
        char *p = strrchr(buf, ')');
        if (!p)
                return -1;
        char state;
        unsigned long long f[13];
        int pp;
        if (sscanf(p + 1, " %c %d %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &state,
                   &pp, &f[0], &f[1], &f[2], &f[3], &f[4], &f[5], &f[6], &f[7], &f[8], &f[9],
                   &f[10]) != 13)
                return -1;
        if (ppid)
                *ppid = pp;
        if (ticks)
                *ticks = f[9] + f[10]; /* utime + stime */
        return 0;
}

/* pid and its descendants, from the ppid of every process. */
static size_t descendants(int pid, int *out, size_t max)
{
        size_t n = 0;
        out[n++] = pid;
        for (size_t done = 0; done < n; done++) {
                DIR *d = opendir("/proc");
                if (!d)
                        break;
                struct dirent *de;
                while ((de = readdir(d))) {
                        int p = atoi(de->d_name), pp;
                        if (p > 0 && read_stat(p, &pp, NULL) == 0 && pp == out[done] && n < max)
                                out[n++] = p;
                }
                closedir(d);
        }
        return n;
}

static uint64_t rollup_kib(int pid, const char *field)
{
        char path[64];
        _cleanup_free_ char *text = NULL;
        snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", pid);
        vmenv_error e = VMENV_ERROR_INIT;
        if (vmenv_read_file(path, 1 << 16, &text, NULL, &e) < 0) {
                vmenv_error_clear(&e);
                return 0;
        }
        for (char *line = text; line && *line;) {
                if (vmenv_startswith(line, field) && line[strlen(field)] == ':')
                        return strtoull(line + strlen(field) + 1, NULL, 10);
                line = strchr(line, '\n');
                if (line)
                        line++;
        }
        return 0;
}

static uint64_t tree_ticks(int pid)
{
        int pids[256];
        uint64_t sum = 0, t;
        size_t n = descendants(pid, pids, VMENV_ARRAY_SIZE(pids));
        for (size_t i = 0; i < n; i++)
                if (read_stat(pids[i], NULL, &t) == 0)
                        sum += t;
        return sum;
}

int vmenv_bench_lifecycle_procs(int pid, int idle_seconds, int run, struct vmenv_bench_result *r,
                                vmenv_error *err)
{
        if (read_stat(pid, NULL, NULL) < 0)
                return vmenv_error_set(err, VMENV_EXIT_SOFTWARE,
                                       "cannot measure process %d: it is gone", pid);
        uint64_t t0 = tree_ticks(pid);
        struct timespec ts = {idle_seconds, 0};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
        uint64_t t1 = tree_ticks(pid);
        int pids[256];
        size_t n = descendants(pid, pids, VMENV_ARRAY_SIZE(pids));
        uint64_t rss = 0, pss = 0;
        for (size_t i = 0; i < n; i++) {
                rss += rollup_kib(pids[i], "Rss");
                pss += rollup_kib(pids[i], "Pss");
        }
        if (rss == 0)
                return vmenv_error_set(err, VMENV_EXIT_SOFTWARE,
                                       "cannot read the memory of process %d from "
                                       "/proc/%d/smaps_rollup",
                                       pid, pid);
        long hz = sysconf(_SC_CLK_TCK);
        vmenv_bench_add(r, "idle-rss", run, (double)rss * 1024, "bytes");
        vmenv_bench_add(r, "idle-pss", run, (double)pss * 1024, "bytes");
        vmenv_bench_add(r, "idle-cpu", run,
                        (double)(t1 > t0 ? t1 - t0 : 0) * 1000.0 / (double)(hz > 0 ? hz : 100),
                        "ms");
        char v[64];
        snprintf(v, sizeof(v), "%zu", n);
        vmenv_bench_add_info(r, "instance_processes", v);
        snprintf(v, sizeof(v), "%d", idle_seconds);
        vmenv_bench_add_info(r, "idle_seconds", v);
        return 0;
}

const char *vmenv_bench_fs_type(const char *path)
{
        struct statfs s;
        if (statfs(path, &s) < 0)
                return "unknown";
        switch ((unsigned long)s.f_type) {
        case 0xEF53:
                return "ext4";
        case 0x58465342:
                return "xfs";
        case 0x9123683E:
                return "btrfs";
        case 0x01021994:
                return "tmpfs";
        case 0x794c7630:
                return "overlay";
        case 0x2fc12fc1:
                return "zfs";
        case 0x65735546:
                return "fuse";
        default:
                return "other";
        }
}

/* Whether KVM really works: /dev/kvm may exist and still refuse VMs. */
static const char *kvm_state(void)
{
        _cleanup_close_ int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
        if (fd < 0)
                return "unavailable (VMs run under TCG emulation)";
        if (ioctl(fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
                return "unavailable (unexpected KVM API version)";
        int vm = ioctl(fd, KVM_CREATE_VM, 0);
        if (vm < 0)
                return "unavailable (KVM_CREATE_VM fails)";
        close(vm);
        /* Not proof that guests run: nested KVM can create VMs and still
         * fail on the first real instruction; the VM target records the
         * mode its machine actually runs in. */
        return "present (KVM_CREATE_VM works)";
}

char **vmenv_bench_host_info(void)
{
        char **info = NULL;
        _cleanup_free_ char *cpuinfo = NULL;
        vmenv_error e = VMENV_ERROR_INIT;
        const char *model = "unknown";
        if (vmenv_read_file("/proc/cpuinfo", 1 << 22, &cpuinfo, NULL, &e) == 0) {
                char *m = strstr(cpuinfo, "model name");
                if (m && (m = strchr(m, ':'))) {
                        m += 1 + strspn(m + 1, " \t");
                        m[strcspn(m, "\n")] = 0;
                        model = m;
                }
        }
        vmenv_error_clear(&e);
        vmenv_strv_push(&info, vmenv_strdupf("cpu=%s", model));
        vmenv_strv_push(&info, vmenv_strdupf("cpus=%ld", sysconf(_SC_NPROCESSORS_ONLN)));
        struct utsname u;
        if (uname(&u) == 0) {
                vmenv_strv_push(&info, vmenv_strdupf("kernel=%s %s", u.sysname, u.release));
                vmenv_strv_push(&info, vmenv_strdupf("arch=%s", u.machine));
        }
        vmenv_strv_push(&info, vmenv_strdupf("kvm=%s", kvm_state()));
        long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
        vmenv_strv_push(&info, vmenv_strdupf("memory=%.1f GiB",
                                             (double)pages * (double)psz / (1024.0 * 1024 * 1024)));
        _cleanup_free_ char *load = NULL;
        if (vmenv_read_file("/proc/loadavg", 4096, &load, NULL, &e) == 0) {
                /* the first three fields: 1, 5 and 15 minute load averages */
                char *p = load;
                for (int f = 0; f < 3 && p; f++)
                        p = strchr(p + 1, ' ');
                if (p)
                        *p = 0;
                vmenv_strv_push(&info, vmenv_strdupf("loadavg=%s", load));
        }
        vmenv_error_clear(&e);
        time_t now = time(NULL);
        char date[64];
        struct tm tm;
        strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
        vmenv_strv_push(&info, vmenv_strdupf("date=%s", date));
        return info;
}

/* ---- targets ----------------------------------------------------------- */

void vmenv_bench_target_free(struct vmenv_bench_target *t)
{
        if (!t)
                return;
        if (t->cleanup)
                t->cleanup(t);
        free(t->label);
        free(t);
}

struct host_data {
        char *dir;
};

static int host_prepare(struct vmenv_bench_target *t, const struct vmenv_bench_opts *o,
                        struct vmenv_bench_result *r, vmenv_error *err)
{
        struct host_data *h = t->data;
        _cleanup_free_ char *tmpl = vmenv_path_join(o->scratch_dir, "vmenv-bench-host.XXXXXX");
        if (!mkdtemp(tmpl))
                return vmenv_error_errno(err, vmenv_exit_for_errno(errno), errno,
                                         "cannot create a folder in '%s'", o->scratch_dir);
        h->dir = TAKE_PTR(tmpl);
        vmenv_strv_push(&r->notes, vmenv_strdupf("disk workloads write to %s (%s, host disk)",
                                                 o->scratch_dir, vmenv_bench_fs_type(h->dir)));
        return 0;
}

static int host_run(struct vmenv_bench_target *t, const struct vmenv_bench_opts *o,
                    char *const args[], char **out, vmenv_error *err)
{
        struct host_data *h = t->data;
        char **argv = NULL;
        vmenv_strv_push(&argv, vmenv_strdup(o->probe_path));
        for (size_t i = 0; args[i]; i++)
                vmenv_strv_push(&argv, vmenv_strdup(args[i]));
        vmenv_strv_push(&argv, vmenv_strdup("--dir"));
        vmenv_strv_push(&argv, vmenv_strdup(h->dir));
        int rc = vmenv_bench_spawn(argv, 1 << 20, out, err);
        vmenv_strv_free(argv);
        return rc;
}

static void host_cleanup(struct vmenv_bench_target *t)
{
        struct host_data *h = t->data;
        if (!h)
                return;
        if (h->dir) {
                vmenv_error e = VMENV_ERROR_INIT;
                if (vmenv_rm_rf(h->dir, &e) < 0)
                        vmenv_debug("bench: %s", e.msg);
                vmenv_error_clear(&e);
        }
        free(h->dir);
        free(h);
        t->data = NULL;
}

struct vmenv_bench_target *vmenv_bench_host_target_new(void)
{
        struct vmenv_bench_target *t = vmenv_calloc(1, sizeof(*t));
        t->name = "host";
        t->label = vmenv_strdup("host");
        t->net_addr = "127.0.0.1"; /* the baseline: loopback */
        t->data = vmenv_calloc(1, sizeof(struct host_data));
        t->prepare = host_prepare;
        t->run = host_run;
        t->cleanup = host_cleanup;
        return t;
}
