/* vmenv bench statistics: medians with a distribution-free confidence
 * interval, outliers by the median absolute deviation, CPU time against
 * wall time, the warnings a reader must see, and pinning to host CPUs.
 * A figure is trusted when its median is known to +-5 % at 95 %. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "vmenv/bench.h"
#include "vmenv/cleanup.h"
#include "vmenv/util.h"

#define OUTLIER_Z 3.5
#define MAX_CPUS 1024

static int cmp_double(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;
        return x < y ? -1 : x > y;
}

static double median_sorted(const double *v, size_t n)
{
        return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The largest j >= 1 with P(X <= j - 1) <= 2.5 % for X ~ Binomial(n, 1/2),
 * so that [v(j), v(n+1-j)] (1-based) covers the median with >= 95 %;
 * 0 when there is none (n < 6). */
static size_t ci_rank(size_t n)
{
        double p = pow(0.5, (double)n), cdf = 0, term = p;
        size_t j = 0;
        for (size_t k = 0; k < n; k++) {
                cdf += term; /* P(X <= k) */
                if (cdf > 0.025)
                        break;
                j = k + 1;
                term = term * (double)(n - k) / (double)(k + 1);
        }
        return j;
}

void vmenv_bench_stats_of(double *v, size_t n, struct vmenv_bench_stats *s)
{
        memset(s, 0, sizeof(*s));
        if (n == 0)
                return;
        qsort(v, n, sizeof(*v), cmp_double);
        s->n = n;
        s->min = v[0];
        s->max = v[n - 1];
        s->median = median_sorted(v, n);
        s->spread = s->median > 0 ? (s->max - s->min) / s->median : 0;

        size_t j = ci_rank(n);
        s->ci_ok = j > 0;
        s->ci_lo = j ? v[j - 1] : s->min;
        s->ci_hi = j ? v[n - j] : s->max;
        double half = fmax(s->median - s->ci_lo, s->ci_hi - s->median);
        s->ci_rel = s->median > 0 ? half / s->median : 0;

        _cleanup_free_ double *dev = vmenv_calloc(n, sizeof(double));
        for (size_t i = 0; i < n; i++)
                dev[i] = fabs(v[i] - s->median);
        qsort(dev, n, sizeof(*dev), cmp_double);
        s->mad = median_sorted(dev, n);
        for (size_t i = 0; i < n; i++)
                s->n_outliers += vmenv_bench_is_outlier(s, v[i]);
}

bool vmenv_bench_is_outlier(const struct vmenv_bench_stats *s, double x)
{
        /* MAD 0 (more than half the samples equal): nothing to scale by,
         * and the median is then exact anyway */
        return s->mad > 0 && 0.6745 * fabs(x - s->median) / s->mad > OUTLIER_Z;
}

bool vmenv_bench_result_stats(const struct vmenv_bench_result *r, const char *kind,
                              struct vmenv_bench_stats *s, const char **unit)
{
        _cleanup_free_ double *v = vmenv_calloc(r->n_samples + 1, sizeof(double));
        _cleanup_free_ double *c = vmenv_calloc(r->n_samples + 1, sizeof(double));
        size_t n = 0, nc = 0;
        for (size_t i = 0; i < r->n_samples; i++)
                if (vmenv_streq(r->samples[i].kind, kind)) {
                        v[n++] = r->samples[i].value;
                        if (r->samples[i].cpu_ns && r->samples[i].ns)
                                c[nc++] = (double)r->samples[i].cpu_ns / (double)r->samples[i].ns;
                        if (unit)
                                *unit = r->samples[i].unit;
                }
        vmenv_bench_stats_of(v, n, s);
        if (nc) {
                qsort(c, nc, sizeof(*c), cmp_double);
                s->cpu_per_wall = median_sorted(c, nc);
        }
        return n > 0;
}

double vmenv_bench_cost_ratio(const struct vmenv_bench_figure *f, double host, double target)
{
        if (!(host > 0) || !(target > 0))
                return 0;
        return f->higher_is_better ? host / target : target / host;
}

bool vmenv_bench_settled(const struct vmenv_bench_result *r, const char *kind)
{
        struct vmenv_bench_stats s;
        if (!vmenv_bench_result_stats(r, kind, &s, NULL))
                return true; /* nothing measured, nothing to wait for */
        return s.ci_ok && s.ci_rel <= VMENV_BENCH_CI_TARGET;
}

static void check_settled(struct vmenv_bench_report *report, const struct vmenv_bench_result *r,
                          const struct vmenv_bench_figure *f)
{
        struct vmenv_bench_stats s;
        if (!vmenv_bench_result_stats(r, f->kind, &s, NULL) || s.n < 2)
                return; /* one run was asked for: nothing to judge */
        if (!s.ci_ok)
                vmenv_strv_push(&report->warnings,
                                vmenv_strdupf("%s: '%s' has %zu runs, too few for a 95 %% "
                                              "confidence interval of the median (need %d)",
                                              r->label, f->kind, s.n, VMENV_BENCH_CI_MIN_RUNS));
        else if (s.ci_rel > VMENV_BENCH_CI_TARGET)
                vmenv_strv_push(&report->warnings,
                                vmenv_strdupf("%s: '%s' median known only to ±%.0f %% (95 %% CI) "
                                              "after %zu runs%s",
                                              r->label, f->kind, s.ci_rel * 100, s.n,
                                              report->max_runs > report->runs
                                                  ? ": the time budget or run limit ran out"
                                                  : ""));
        if (s.n_outliers) {
                _cleanup_free_ char *runs = NULL;
                for (size_t i = 0; i < r->n_samples; i++) {
                        const struct vmenv_bench_sample *x = &r->samples[i];
                        if (!vmenv_streq(x->kind, f->kind) || !vmenv_bench_is_outlier(&s, x->value))
                                continue;
                        char *more = vmenv_strdupf("%s%s%d (%.4g)", runs ? runs : "",
                                                   runs ? ", " : "", x->run, x->value);
                        free(runs);
                        runs = more;
                }
                vmenv_strv_push(&report->warnings,
                                vmenv_strdupf("%s: '%s' outlier%s by MAD, kept in the data: run "
                                              "%s",
                                              r->label, f->kind, s.n_outliers > 1 ? "s" : "",
                                              runs ? runs : "?"));
        }
}

void vmenv_bench_check(struct vmenv_bench_report *report)
{
        for (size_t i = 0; i < report->n_results; i++)
                for (const struct vmenv_bench_figure *f = vmenv_bench_figures; f->kind; f++)
                        check_settled(report, report->results[i], f);
        /* Identical work gives identical checksums everywhere: a difference
         * means a target did not run the workload it claims. */
        const struct vmenv_bench_sample *first[64] = {0};
        for (size_t i = 0; i < report->n_results; i++) {
                const struct vmenv_bench_result *r = report->results[i];
                for (size_t k = 0; k < r->n_samples; k++) {
                        const struct vmenv_bench_sample *s = &r->samples[k];
                        const struct vmenv_bench_figure *f = vmenv_bench_figure_find(s->kind);
                        if (!s->checksum || !f || (size_t)(f - vmenv_bench_figures) >= 64)
                                continue;
                        const struct vmenv_bench_sample **seen = &first[f - vmenv_bench_figures];
                        if (!*seen)
                                *seen = s;
                        else if (!vmenv_streq((*seen)->checksum, s->checksum) &&
                                 (*seen)->work == s->work)
                                vmenv_strv_push(&report->warnings,
                                                vmenv_strdupf("%s: '%s' checksum %s differs from "
                                                              "%s: the work done was not the same",
                                                              r->label, s->kind, s->checksum,
                                                              (*seen)->checksum));
                }
        }
}

/* ---- pinning ----------------------------------------------------------- */

int vmenv_bench_parse_cpus(const char *list, uint64_t mask[16], vmenv_error *err)
{
        uint64_t m[16] = {0};
        const char *p = list;
        bool any = false;
        if (!list || strlen(list) > 256)
                return vmenv_error_set(err, VMENV_EXIT_USAGE, "invalid CPU list");
        while (*p) {
                char *end;
                if (*p < '0' || *p > '9')
                        goto bad;
                unsigned long lo = strtoul(p, &end, 10), hi = lo;
                p = end;
                if (*p == '-') {
                        if (p[1] < '0' || p[1] > '9')
                                goto bad;
                        hi = strtoul(p + 1, &end, 10);
                        p = end;
                }
                if (lo > hi || hi >= MAX_CPUS)
                        goto bad;
                for (unsigned long c = lo; c <= hi; c++)
                        m[c / 64] |= 1ULL << (c % 64);
                any = true;
                if (*p == ',' && p[1])
                        p++;
                else if (*p)
                        goto bad;
        }
        if (!any)
                goto bad;
        memcpy(mask, m, sizeof(m));
        return 0;
bad:
        return vmenv_error_set(err, VMENV_EXIT_USAGE,
                               "invalid CPU list '%.64s': want numbers and ranges below %d, like "
                               "'0' or '0,2-3'",
                               list, MAX_CPUS);
}

static int pin_one(pid_t tid, const cpu_set_t *set)
{
        return sched_setaffinity(tid, sizeof(*set), set);
}

int vmenv_bench_pin(int pid, const uint64_t mask[16], vmenv_error *err)
{
        cpu_set_t set;
        CPU_ZERO(&set);
        for (int c = 0; c < MAX_CPUS && c < CPU_SETSIZE; c++)
                if (mask[c / 64] & (1ULL << (c % 64)))
                        CPU_SET(c, &set);
        if (pid == 0) {
                if (pin_one(0, &set) < 0)
                        return vmenv_error_errno(err, VMENV_EXIT_USAGE, errno,
                                                 "cannot pin to the CPUs asked for");
                return 0;
        }
        /* every thread: QEMU's vCPUs are threads of its process */
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/task", pid);
        DIR *d = opendir(path);
        if (!d)
                return vmenv_error_errno(err, VMENV_EXIT_SOFTWARE, errno,
                                         "cannot list the threads of process %d", pid);
        int rc = 0, saved = 0;
        struct dirent *de;
        while ((de = readdir(d)))
                if (atoi(de->d_name) > 0 && pin_one(atoi(de->d_name), &set) < 0) {
                        rc = -1;
                        saved = errno;
                }
        closedir(d);
        if (rc < 0)
                return vmenv_error_errno(err, VMENV_EXIT_SOFTWARE, saved,
                                         "cannot pin the threads of process %d", pid);
        return 0;
}
