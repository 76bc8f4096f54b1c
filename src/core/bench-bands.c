/* vmenv bench reference bands: what published comparisons measured for a
 * KVM guest and for a container, as the cost ratio to native, so each result
 * is read beside what it "should" be, and a result outside its band carries
 * the likely cause when vmenv knows it (TCG, user-mode networking, a cache).
 *
 * Each band is the published range widened by 5 % on both sides: vmenv
 * settles a median to +-5 %, so a result that close to the published range
 * agrees with it. Figures without a published measurement have no band
 * (syscall, spawn, meta, fsync): vmenv does not invent one. */
#include <string.h>

#include "vmenv/bench.h"
#include "vmenv/util.h"

#define FELTER "Felter et al., IBM RC25482 / ISPASS 2015"

/* published native/VM (or native/container) throughput ratios, turned into
 * cost ratios and widened by 5 %: lo = min / 1.05, hi = max * 1.05 */
const struct vmenv_bench_band vmenv_bench_bands[] = {
    {"cpu", "vm", 0.95, 1.34, FELTER ": Linpack 0.98 of native (tuned), PXZ 0.78 on KVM"},
    {"cpu", "container", 0.95, 1.05, FELTER ": Docker equal to native (Linpack, PXZ)"},
    {"mem", "vm", 0.95, 1.08, FELTER ": STREAM 0.97-0.99 of native on KVM"},
    {"mem", "container", 0.95, 1.05, FELTER ": STREAM equal to native in Docker"},
    {"gups", "vm", 0.95, 1.22, FELTER ": RandomAccess 0.86-0.99 of native on KVM"},
    {"gups", "container", 0.95, 1.05, FELTER ": RandomAccess equal to native in Docker"},
    {"disk-write", "vm", 0.95, 1.08, FELTER ": sequential 1 MiB I/O 0.97 of native on KVM"},
    {"disk-write", "container", 0.95, 1.05, FELTER ": Docker volume I/O equal to native"},
    {"disk-read", "vm", 0.95, 1.08, FELTER ": sequential 1 MiB I/O 0.97 of native on KVM"},
    {"disk-read", "container", 0.95, 1.05, FELTER ": Docker volume I/O equal to native"},
    {"rand-read", "vm", 0.95, 2.1, FELTER ": 4 KiB random IOPS about 0.5 of native on KVM"},
    {"rand-read", "container", 0.95, 1.05, FELTER ": Docker volume IOPS equal to native"},
    {"rand-write", "vm", 0.95, 2.1, FELTER ": 4 KiB random IOPS about 0.5 of native on KVM"},
    {"rand-write", "container", 0.95, 1.05, FELTER ": Docker volume IOPS equal to native"},
    {"rand-read32", "vm", 0.95, 2.1, FELTER ": 4 KiB random IOPS about 0.5 of native on KVM"},
    {"rand-read32", "container", 0.95, 1.05, FELTER ": Docker volume IOPS equal to native"},
    {"rand-write32", "vm", 0.95, 2.1, FELTER ": 4 KiB random IOPS about 0.5 of native on KVM"},
    {"rand-write32", "container", 0.95, 1.05, FELTER ": Docker volume IOPS equal to native"},
    {"net-rr", "vm", 1.5, 2.1,
     FELTER ": TCP request-response about 1.8x native latency "
            "(+30 us) on KVM with vhost-net"},
    {"net-rr", "container", 0.95, 1.05,
     FELTER ": Docker with the host network equal to native "
            "(about 2x through NAT)"},
    {"net-bulk", "vm", 0.95, 1.06, FELTER ": TCP bulk 0.99 of native on KVM with vhost-net"},
    {"net-bulk", "container", 0.95, 1.05, FELTER ": Docker with the host network equal to native"},
    {NULL, NULL, 0, 0, NULL},
};

const struct vmenv_bench_band *vmenv_bench_band_find(const char *kind, const char *target)
{
        /* the VM's NAT and private-network paths are a KVM guest's network
         * through a bridge and a tap: the path Felter et al. measured (with
         * vhost-net); the container's veth path has no published band */
        if (vmenv_startswith(target ? target : "", "vm-"))
                target = "vm";
        for (const struct vmenv_bench_band *b = vmenv_bench_bands; b->kind; b++)
                if (vmenv_streq(b->kind, kind) && vmenv_streq(b->target, target))
                        return b;
        return NULL;
}

static bool info_has(const struct vmenv_bench_result *r, const char *prefix)
{
        for (char **p = r->info; p && *p; p++)
                if (vmenv_startswith(*p, prefix))
                        return true;
        return false;
}

static bool is_disk(const char *kind)
{
        return vmenv_startswith(kind, "disk-") || vmenv_startswith(kind, "rand-") ||
               vmenv_streq(kind, "meta");
}

/* The likely cause of a result outside its band, from what vmenv knows of
 * the target; NULL when it knows none. */
static const char *cause_of(const struct vmenv_bench_report *rep,
                            const struct vmenv_bench_figure *f, const struct vmenv_bench_result *r,
                            int where)
{
        bool vm = vmenv_streq(r->target, "vm") || vmenv_startswith(r->target, "vm-");
        if (where < 0)
                return is_disk(f->kind) ? (vm ? "a cache in the way: the host's page cache "
                                                "under the guest's disk"
                                              : "a cache in the way: the page cache")
                                        : NULL;
        if (vm && info_has(r, "hypervisor=tcg"))
                return "TCG emulation instead of KVM (the band is for KVM)";
        if (vmenv_streq(r->target, "vm") && vmenv_startswith(f->kind, "net-"))
                return "user-mode networking instead of vhost-net";
        /* a CPU-bound figure that got much less CPU than the host's did */
        struct vmenv_bench_stats s, hs;
        for (size_t i = 0; i < rep->n_results; i++) {
                const struct vmenv_bench_result *h = rep->results[i];
                if (vmenv_streq(h->target, "host") && !f->lifecycle &&
                    (vmenv_streq(f->kind, "cpu") || vmenv_streq(f->kind, "mem")) &&
                    vmenv_bench_result_stats(h, f->kind, &hs, NULL) &&
                    vmenv_bench_result_stats(r, f->kind, &s, NULL) && s.cpu_per_wall > 0 &&
                    s.cpu_per_wall < 0.8 * hs.cpu_per_wall)
                        return "waited for a CPU: steal or contention (see CPU time / wall time)";
        }
        return NULL;
}

/* The widest ratio both medians' 95 % CIs allow: a result is outside its
 * band only when all of that interval is. */
static void ratio_interval(const struct vmenv_bench_report *rep, const struct vmenv_bench_figure *f,
                           const struct vmenv_bench_result *r, struct vmenv_bench_band_check *out)
{
        struct vmenv_bench_stats hs, ts;
        for (size_t i = 0; i < rep->n_results; i++) {
                const struct vmenv_bench_result *h = rep->results[i];
                if (!vmenv_streq(h->target, "host") ||
                    !vmenv_bench_result_stats(h, f->kind, &hs, NULL) ||
                    !vmenv_bench_result_stats(r, f->kind, &ts, NULL) || !hs.ci_ok || !ts.ci_ok ||
                    !(hs.ci_lo > 0) || !(ts.ci_lo > 0))
                        continue;
                double a = vmenv_bench_cost_ratio(f, hs.ci_hi, ts.ci_lo);
                double b = vmenv_bench_cost_ratio(f, hs.ci_lo, ts.ci_hi);
                out->ratio_lo = a < b ? a : b;
                out->ratio_hi = a < b ? b : a;
                return;
        }
}

bool vmenv_bench_band_check(const struct vmenv_bench_report *rep,
                            const struct vmenv_bench_figure *f, const struct vmenv_bench_result *r,
                            struct vmenv_bench_band_check *out)
{
        memset(out, 0, sizeof(*out));
        if (!(out->band = vmenv_bench_band_find(f->kind, r->target)))
                return false;
        out->ratio = vmenv_bench_ratio_to_host(rep, f, r);
        if (!(out->ratio > 0))
                return false;
        out->ratio_lo = out->ratio_hi = out->ratio;
        ratio_interval(rep, f, r, out);
        if (out->ratio >= out->band->lo && out->ratio <= out->band->hi)
                out->where = 0;
        else if (out->ratio_hi < out->band->lo)
                out->where = -1;
        else if (out->ratio_lo > out->band->hi)
                out->where = 1;
        else
                out->where = 2; /* noise could put it inside: no cause claimed */
        if (out->where == 1 || out->where == -1)
                out->cause = cause_of(rep, f, r, out->where);
        return true;
}

const char *vmenv_bench_band_mark(const struct vmenv_bench_report *rep,
                                  const struct vmenv_bench_figure *f,
                                  const struct vmenv_bench_result *r)
{
        struct vmenv_bench_band_check c;
        if (!vmenv_bench_band_check(rep, f, r, &c))
                return "";
        if (!c.where)
                return " [in band]";
        if (c.where == 2)
                return " [band: CI overlaps]";
        if (!c.cause)
                return " [outside band]";
        if (vmenv_startswith(c.cause, "TCG"))
                return " [outside band: TCG]";
        if (vmenv_startswith(c.cause, "user-mode"))
                return " [outside band: user net]";
        if (vmenv_startswith(c.cause, "a cache"))
                return " [outside band: cache]";
        return " [outside band: CPU wait]";
}

void vmenv_bench_print_bands(const struct vmenv_bench_report *rep, FILE *f)
{
        bool header = false;
        for (const struct vmenv_bench_figure *fig = vmenv_bench_figures; fig->kind; fig++)
                for (size_t i = 0; i < rep->n_results; i++) {
                        struct vmenv_bench_band_check c;
                        const struct vmenv_bench_result *r = rep->results[i];
                        if (!vmenv_bench_band_check(rep, fig, r, &c))
                                continue;
                        if (!header)
                                fprintf(f, "\nreference bands (time relative to native, "
                                           "published range +-5 %%):\n");
                        header = true;
                        if (c.where == 2)
                                fprintf(f,
                                        "  %-12s %-22s %.2fx, band %.2f-%.2fx: not decided, "
                                        "its 95 %% CI %.2f-%.2fx overlaps the band\n",
                                        fig->kind, r->label, c.ratio, c.band->lo, c.band->hi,
                                        c.ratio_lo, c.ratio_hi);
                        else
                                fprintf(f, "  %-12s %-22s %.2fx, band %.2f-%.2fx: %s%s%s\n",
                                        fig->kind, r->label, c.ratio, c.band->lo, c.band->hi,
                                        c.where ? "OUTSIDE" : "inside", c.where ? ", likely " : "",
                                        c.where ? (c.cause ? c.cause : "cause unknown") : "");
                        fprintf(f, "  %-12s %-22s source: %s\n", "", "", c.band->source);
                }
        if (!header)
                return;
        fputc('\n', f);
}
