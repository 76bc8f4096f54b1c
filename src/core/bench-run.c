/* vmenv bench's driver: prepares every target, discards the warm-up runs,
 * runs the workloads interleaved over the targets, adds runs where a median
 * has not settled, measures lifecycle costs, and cleans up. The network
 * workloads' server runs for the whole bench. */
#include <stdlib.h>
#include <string.h>

#include "vmenv/bench.h"
#include "vmenv/cleanup.h"
#include "vmenv/log.h"
#include "vmenv/util.h"

/* ---- the driver -------------------------------------------------------- */

/* list without word, or NULL when nothing is left. */
static char *list_without(const char *list, const char *word)
{
        struct vmenv_buf b = {0};
        size_t n = strlen(word);
        for (const char *p = list; *p;) {
                size_t len = strcspn(p, ",");
                if (len && !(len == n && !strncmp(p, word, n)))
                        vmenv_buf_printf(&b, "%s%.*s", b.len ? "," : "", (int)len, p);
                p += len + (p[len] == ',');
        }
        return b.len ? vmenv_buf_steal(&b) : (vmenv_buf_free(&b), NULL);
}

/* One run of the workloads on t: the probe with --runs 1, its samples
 * numbered run. only: the probe kinds, NULL for every one asked for. */
static int bench_run_once(struct vmenv_bench_target *t, const struct vmenv_bench_opts *o, int run,
                          const char *only, struct vmenv_bench_result *r, vmenv_error *err)
{
        char scale[32], net[96];
        char *args[10];
        size_t n = 0, before = r->n_samples;
        _cleanup_free_ char *out = NULL;

        /* a target with no way to the server is not asked for "net": alone
         * it would report no sample at all */
        const char *kinds = only ? only : o->workloads;
        _cleanup_free_ char *without = NULL;
        if (kinds && !(t->net_addr && o->net_server) && vmenv_bench_list_has(kinds, "net")) {
                if (!(without = list_without(kinds, "net")))
                        return 0;
                kinds = without;
        }
        snprintf(scale, sizeof(scale), "%g", o->scale);
        args[n++] = (char *)"--runs";
        args[n++] = (char *)"1";
        args[n++] = (char *)"--scale";
        args[n++] = scale;
        if (kinds) {
                args[n++] = (char *)"--only";
                args[n++] = (char *)kinds;
        }
        if (t->net_addr && o->net_server) {
                snprintf(net, sizeof(net), "%s:%s", t->net_addr, o->net_server);
                args[n++] = (char *)"--net";
                args[n++] = net;
        }
        args[n] = NULL;
        if (t->run(t, o, args, &out, err) < 0)
                return vmenv_error_prefix(err, "cannot run the probe");
        if (!out)
                return 0; /* none of the kinds asked for runs on this target */
        if (vmenv_bench_parse_probe(out, r, err) < 0)
                return -1;
        for (size_t i = before; i < r->n_samples; i++)
                r->samples[i].run = run;
        return 0;
}

static void cleanup_all(struct vmenv_bench_target **targets, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                if (targets[i]->cleanup)
                        targets[i]->cleanup(targets[i]);
                targets[i]->cleanup = NULL;
        }
}

bool vmenv_bench_list_has(const char *list, const char *word)
{
        size_t n = strlen(word);
        for (const char *p = list; p && *p;) {
                size_t len = strcspn(p, ",");
                if (len == n && !strncmp(p, word, n))
                        return true;
                p += len + (p[len] == ',');
        }
        return false;
}

/* The probe kinds whose figures are not settled on some target and still
 * have time left, as an --only list; NULL when every median is settled. */
static char *unsettled(const struct vmenv_bench_report *rep, const double *spent, double budget_s)
{
        struct vmenv_buf b = {0};
        const char *last = NULL;
        for (const struct vmenv_bench_figure *f = vmenv_bench_figures; f->kind; f++) {
                size_t k = (size_t)(f - vmenv_bench_figures);
                if (!f->probe || vmenv_streq(f->probe, last) || spent[k] >= budget_s)
                        continue;
                for (size_t i = 0; i < rep->n_results; i++)
                        if (!vmenv_bench_settled(rep->results[i], f->kind)) {
                                vmenv_buf_printf(&b, "%s%s", b.len ? "," : "", f->probe);
                                last = f->probe;
                                break;
                        }
        }
        return b.len ? vmenv_buf_steal(&b) : (vmenv_buf_free(&b), NULL);
}

/* Runs beyond o->runs, only of the figures whose median's 95 % CI is still
 * wider than +-5 %, until they settle, o->max_runs is reached or each such
 * figure used o->budget_s seconds (a round's wall time is shared out over
 * the kinds it ran). */
static int bench_adapt(struct vmenv_bench_target **targets, size_t n_targets,
                       const struct vmenv_bench_opts *o, struct vmenv_bench_report *rep,
                       size_t *failed, vmenv_error *err)
{
        double spent[64] = {0};
        for (int run = o->runs + 1; run <= o->max_runs; run++) {
                _cleanup_free_ char *only = unsettled(rep, spent, o->budget_s);
                if (!only)
                        break;
                uint64_t t0 = vmenv_now_ns();
                for (size_t i = 0; i < n_targets; i++) {
                        vmenv_info("bench: run %d on %s: %s not settled yet", run,
                                   targets[i]->label, only);
                        if (bench_run_once(targets[i], o, run, only, rep->results[i], err) < 0) {
                                *failed = i;
                                return -1;
                        }
                }
                double dt = (double)(vmenv_now_ns() - t0) / 1e9, kinds = 1;
                for (const char *c = only; *c; c++)
                        kinds += *c == ',';
                for (const struct vmenv_bench_figure *f = vmenv_bench_figures; f->kind; f++)
                        if (f->probe && (size_t)(f - vmenv_bench_figures) < 64 &&
                            vmenv_bench_list_has(only, f->probe))
                                spent[f - vmenv_bench_figures] += dt / kinds;
        }
        return 0;
}

/* Runs are interleaved (run 1 on every target, then run 2, ...) so a change
 * in the host's load during the bench spreads over all targets instead of
 * favouring the one measured in the quiet moment. */
int vmenv_bench_run(struct vmenv_bench_target **targets, size_t n_targets,
                    const struct vmenv_bench_opts *o_in, struct vmenv_bench_report **report,
                    vmenv_error *err)
{
        struct vmenv_bench_report *rep = vmenv_calloc(1, sizeof(*rep));
        struct vmenv_bench_opts o = *o_in;
        size_t i = 0;
        int run = 0;

        if (o.max_runs < o.runs)
                o.max_runs = o.runs;
        rep->runs = o.runs;
        rep->max_runs = o.max_runs;
        rep->warmup = o.warmup;
        rep->budget_s = o.budget_s;
        rep->host_info = vmenv_bench_host_info();
        if (o.pin) {
                uint64_t mask[16];
                if (vmenv_bench_parse_cpus(o.pin, mask, err) < 0 ||
                    vmenv_bench_pin(0, mask, err) < 0) {
                        vmenv_bench_report_free(rep);
                        return -1;
                }
                vmenv_strv_push(&rep->host_info, vmenv_strdupf("pinned=%s", o.pin));
        }
        struct vmenv_bench_server server = {0};
        char port[16];
        if (!o.workloads || vmenv_bench_list_has(o.workloads, "net")) {
                if (vmenv_bench_server_start(o.probe_path, &server, err) < 0) {
                        vmenv_bench_report_free(rep);
                        return vmenv_error_prefix(err, "cannot bench the network");
                }
                snprintf(port, sizeof(port), "%d", server.port);
                o.net_server = port;
        }
        rep->results = vmenv_calloc(n_targets + 1, sizeof(*rep->results));
        for (i = 0; i < n_targets; i++) {
                struct vmenv_bench_target *t = targets[i];
                struct vmenv_bench_result *r = vmenv_bench_result_new(t->name, t->label);
                rep->results[rep->n_results++] = r;
                if (t->prepare && t->prepare(t, &o, r, err) < 0)
                        goto fail;
                free(r->label);
                r->label = vmenv_strdup(t->label);
        }
        /* warm-up: caches, page tables, the guest's first exec of the probe */
        for (run = 1; run <= o.warmup; run++)
                for (i = 0; i < n_targets; i++) {
                        struct vmenv_bench_result *scratch = vmenv_bench_result_new("warmup", NULL);
                        vmenv_info("bench: warm-up run %d on %s", run, targets[i]->label);
                        int rc = bench_run_once(targets[i], &o, 0, NULL, scratch, err);
                        vmenv_bench_result_free(scratch);
                        if (rc < 0)
                                goto fail;
                }
        for (run = 1; run <= o.runs; run++)
                for (i = 0; i < n_targets; i++) {
                        vmenv_info("bench: run %d of %d on %s", run, o.runs, targets[i]->label);
                        if (bench_run_once(targets[i], &o, run, NULL, rep->results[i], err) < 0)
                                goto fail;
                }
        if (bench_adapt(targets, n_targets, &o, rep, &i, err) < 0)
                goto fail;
        for (i = 0; i < n_targets; i++) {
                struct vmenv_bench_target *t = targets[i];
                if (!t->lifecycle)
                        continue;
                vmenv_info("bench: measuring lifecycle costs on %s", t->label);
                if (t->lifecycle(t, &o, rep->results[i], err) < 0) {
                        vmenv_error_prefix(err, "cannot measure lifecycle costs");
                        goto fail;
                }
        }
        cleanup_all(targets, n_targets);
        vmenv_bench_server_stop(&server);
        vmenv_bench_check(rep);
        *report = rep;
        return 0;
fail:
        vmenv_error_prefix(err, "cannot bench on '%s'", targets[i]->label);
        cleanup_all(targets, n_targets);
        vmenv_bench_server_stop(&server);
        vmenv_bench_report_free(rep);
        return -1;
}
