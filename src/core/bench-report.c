/* vmenv bench output: the human table, the JSON document with every raw
 * sample, and the SVG chart. All three read the same report. */
#include <json-c/json.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench-private.h"
#include "vmenv/bench.h"
#include "vmenv/cleanup.h"
#include "vmenv/util.h"

void vmenv_bench_fmt_value(char *buf, size_t n, double v, const char *unit)
{
        if (vmenv_streq(unit, "bytes")) {
                const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
                int i = 0;
                while (v >= 1024 && i < 4) {
                        v /= 1024;
                        i++;
                }
                snprintf(buf, n, i ? "%.1f %s" : "%.0f %s", v, u[i]);
        } else if (v >= 1000 || v == 0) {
                snprintf(buf, n, "%.0f %s", v, unit);
        } else if (v >= 10) {
                snprintf(buf, n, "%.1f %s", v, unit);
        } else {
                snprintf(buf, n, "%.3g %s", v, unit);
        }
}

static const struct vmenv_bench_result *host_of(const struct vmenv_bench_report *rep)
{
        for (size_t i = 0; i < rep->n_results; i++)
                if (vmenv_streq(rep->results[i]->target, "host"))
                        return rep->results[i];
        return NULL;
}

static bool any_has(const struct vmenv_bench_report *rep, const char *kind)
{
        struct vmenv_bench_stats s;
        for (size_t i = 0; i < rep->n_results; i++)
                if (vmenv_bench_result_stats(rep->results[i], kind, &s, NULL))
                        return true;
        return false;
}

double vmenv_bench_ratio_to_host(const struct vmenv_bench_report *rep,
                                 const struct vmenv_bench_figure *f,
                                 const struct vmenv_bench_result *r)
{
        const struct vmenv_bench_result *h = host_of(rep);
        struct vmenv_bench_stats hs, ts;
        if (f->lifecycle || !h || !vmenv_bench_result_stats(h, f->kind, &hs, NULL) ||
            !vmenv_bench_result_stats(r, f->kind, &ts, NULL))
                return 0;
        return vmenv_bench_cost_ratio(f, hs.median, ts.median);
}

/* ---- table ------------------------------------------------------------- */

/* "±3%" (the median's 95 % CI), "n=4: no CI" below 6 runs, "" for one */
static void fmt_ci(char *buf, size_t n, const struct vmenv_bench_stats *s)
{
        if (s->n < 2)
                snprintf(buf, n, "%s", "");
        else if (s->ci_ok)
                snprintf(buf, n, " ±%.0f%%", s->ci_rel * 100);
        else
                snprintf(buf, n, " (n=%zu, no CI)", s->n);
}

static void print_runs(const struct vmenv_bench_report *rep, FILE *f)
{
        if (rep->max_runs > rep->runs)
                fprintf(f,
                        "%d-%d runs (more while the median's 95 %% CI is wider than ±5 %%, "
                        "up to %d s per figure)",
                        rep->runs, rep->max_runs, rep->budget_s);
        else
                fprintf(f, "%d runs", rep->runs);
        if (rep->warmup)
                fprintf(f, " after %d warm-up run%s (discarded)", rep->warmup,
                        rep->warmup > 1 ? "s" : "");
}

void vmenv_bench_print_table(const struct vmenv_bench_report *rep, FILE *f)
{
        fprintf(f, "vmenv bench: median of ");
        print_runs(rep, f);
        fprintf(f, "; ± = the median's 95 %% confidence interval; "
                   "'x host' = time relative to the host, above 1 is slower\n");
        for (char **p = rep->host_info; p && *p; p++)
                fprintf(f, "  host %s\n", *p);
        for (size_t i = 0; i < rep->n_results; i++) {
                const struct vmenv_bench_result *r = rep->results[i];
                for (char **p = r->info; p && *p; p++)
                        fprintf(f, "  %s: %s\n", r->label, *p);
                for (char **p = r->notes; p && *p; p++)
                        fprintf(f, "  %s: note: %s\n", r->label, *p);
        }
        fprintf(f, "\n%-42s", "figure");
        for (size_t i = 0; i < rep->n_results; i++)
                fprintf(f, "  %-30s", rep->results[i]->label);
        fputc('\n', f);
        for (const struct vmenv_bench_figure *fig = vmenv_bench_figures; fig->kind; fig++) {
                if (!any_has(rep, fig->kind))
                        continue;
                const char *unit = NULL;
                struct vmenv_bench_stats s;
                for (size_t i = 0; i < rep->n_results && !unit; i++)
                        vmenv_bench_result_stats(rep->results[i], fig->kind, &s, &unit);
                char title[96];
                snprintf(title, sizeof(title), "%s [%s]", fig->title, unit ? unit : "");
                fprintf(f, "%-42s", title);
                for (size_t i = 0; i < rep->n_results; i++) {
                        const struct vmenv_bench_result *r = rep->results[i];
                        char cell[128] = "-", val[32], ci[48];
                        if (vmenv_bench_result_stats(r, fig->kind, &s, &unit)) {
                                vmenv_bench_fmt_value(val, sizeof(val), s.median, unit);
                                fmt_ci(ci, sizeof(ci), &s);
                                int len = snprintf(cell, sizeof(cell), "%s%s", val, ci);
                                double ratio = vmenv_bench_ratio_to_host(rep, fig, r);
                                if (ratio > 0 && !vmenv_streq(r->target, "host"))
                                        snprintf(cell + len, sizeof(cell) - (size_t)len,
                                                 " %.2fx host%s", ratio,
                                                 vmenv_bench_band_mark(rep, fig, r));
                        }
                        fprintf(f, "  %-30s", cell);
                }
                fputc('\n', f);
        }
        /* CPU time next to wall time: a CPU-bound figure well below 1
         * waited for a CPU it was promised (steal, other load) */
        fprintf(f, "\n%-42s", "CPU time / wall time");
        for (size_t i = 0; i < rep->n_results; i++)
                fprintf(f, "  %-30s", rep->results[i]->label);
        fputc('\n', f);
        for (const struct vmenv_bench_figure *fig = vmenv_bench_figures; fig->kind; fig++) {
                if (fig->lifecycle || !any_has(rep, fig->kind))
                        continue;
                fprintf(f, "%-42s", fig->title);
                for (size_t i = 0; i < rep->n_results; i++) {
                        struct vmenv_bench_stats s;
                        char cell[32] = "-";
                        if (vmenv_bench_result_stats(rep->results[i], fig->kind, &s, NULL) &&
                            s.cpu_per_wall > 0)
                                snprintf(cell, sizeof(cell), "%.2f", s.cpu_per_wall);
                        fprintf(f, "  %-30s", cell);
                }
                fputc('\n', f);
        }
        vmenv_bench_print_bands(rep, f);
        for (char **p = rep->warnings; p && *p; p++)
                fprintf(f, "warning: %s\n", *p);
}

/* ---- JSON -------------------------------------------------------------- */

/* Six significant digits: the figures are not more precise than that, and
 * json-c would otherwise print 17 ("431.27499999999998"). */
static json_object *jdouble(double v)
{
        char buf[32];
        snprintf(buf, sizeof(buf), "%.6g", v);
        return json_object_new_double_s(v, buf);
}

static json_object *kv_object(char **kv)
{
        json_object *o = json_object_new_object();
        for (char **p = kv; p && *p; p++) {
                const char *eq = strchr(*p, '=');
                if (!eq)
                        continue;
                _cleanup_free_ char *k = vmenv_strndup(*p, (size_t)(eq - *p));
                json_object_object_add(o, k, json_object_new_string(eq + 1));
        }
        return o;
}

static json_object *str_array(char **v)
{
        json_object *a = json_object_new_array();
        for (char **p = v; p && *p; p++)
                json_object_array_add(a, json_object_new_string(*p));
        return a;
}

/* "band": the published range for this figure and target, whether the
 * result is inside and, when not, the likely cause vmenv knows */
static void band_json(const struct vmenv_bench_report *rep, const struct vmenv_bench_figure *f,
                      const struct vmenv_bench_result *r, json_object *o)
{
        struct vmenv_bench_band_check c;
        if (!vmenv_bench_band_check(rep, f, r, &c))
                return;
        json_object *b = json_object_new_object();
        json_object_object_add(b, "low", jdouble(c.band->lo));
        json_object_object_add(b, "high", jdouble(c.band->hi));
        json_object_object_add(b, "source", json_object_new_string(c.band->source));
        json_object_object_add(b, "inside", json_object_new_boolean(c.where == 0));
        json_object_object_add(b, "side",
                               json_object_new_string(c.where == 2  ? "undecided"
                                                      : c.where < 0 ? "below"
                                                      : c.where > 0 ? "above"
                                                                    : "inside"));
        json_object_object_add(b, "ratio_low", jdouble(c.ratio_lo));
        json_object_object_add(b, "ratio_high", jdouble(c.ratio_hi));
        json_object_object_add(b, "cause", c.cause ? json_object_new_string(c.cause) : NULL);
        json_object_object_add(o, "band", b);
}

char *vmenv_bench_json(const struct vmenv_bench_report *rep)
{
        json_object *root = json_object_new_object();
        json_object_object_add(root, "format", json_object_new_int(2));
        json_object_object_add(root, "runs", json_object_new_int(rep->runs));
        json_object_object_add(root, "max_runs", json_object_new_int(rep->max_runs));
        json_object_object_add(root, "warmup", json_object_new_int(rep->warmup));
        json_object_object_add(root, "budget_s", json_object_new_int(rep->budget_s));
        json_object_object_add(root, "host", kv_object(rep->host_info));
        json_object *targets = json_object_new_array();
        for (size_t i = 0; i < rep->n_results; i++) {
                const struct vmenv_bench_result *r = rep->results[i];
                json_object *t = json_object_new_object();
                json_object_object_add(t, "target", json_object_new_string(r->target));
                json_object_object_add(t, "label", json_object_new_string(r->label));
                json_object_object_add(t, "info", kv_object(r->info));
                json_object_object_add(t, "notes", str_array(r->notes));
                json_object *figs = json_object_new_object();
                for (const struct vmenv_bench_figure *f = vmenv_bench_figures; f->kind; f++) {
                        struct vmenv_bench_stats s;
                        const char *unit = NULL;
                        if (!vmenv_bench_result_stats(r, f->kind, &s, &unit))
                                continue;
                        json_object *o = json_object_new_object();
                        json_object_object_add(o, "title", json_object_new_string(f->title));
                        json_object_object_add(o, "unit", json_object_new_string(unit));
                        json_object_object_add(o, "higher_is_better",
                                               json_object_new_boolean(f->higher_is_better));
                        json_object_object_add(o, "lifecycle",
                                               json_object_new_boolean(f->lifecycle));
                        json_object_object_add(o, "n", json_object_new_int((int)s.n));
                        json_object_object_add(o, "median", jdouble(s.median));
                        json_object_object_add(o, "min", jdouble(s.min));
                        json_object_object_add(o, "max", jdouble(s.max));
                        json_object_object_add(o, "spread", jdouble(s.spread));
                        json_object_object_add(o, "ci_ok", json_object_new_boolean(s.ci_ok));
                        json_object_object_add(o, "ci_low", jdouble(s.ci_lo));
                        json_object_object_add(o, "ci_high", jdouble(s.ci_hi));
                        json_object_object_add(o, "ci_rel", jdouble(s.ci_rel));
                        json_object_object_add(o, "mad", jdouble(s.mad));
                        json_object *outl = json_object_new_array();
                        for (size_t k = 0; k < r->n_samples; k++)
                                if (vmenv_streq(r->samples[k].kind, f->kind) &&
                                    vmenv_bench_is_outlier(&s, r->samples[k].value))
                                        json_object_array_add(
                                            outl, json_object_new_int(r->samples[k].run));
                        json_object_object_add(o, "outlier_runs", outl);
                        json_object_object_add(o, "cpu_per_wall",
                                               s.cpu_per_wall > 0 ? jdouble(s.cpu_per_wall) : NULL);
                        double ratio = vmenv_bench_ratio_to_host(rep, f, r);
                        json_object_object_add(o, "ratio_to_host",
                                               ratio > 0 ? jdouble(ratio) : NULL);
                        band_json(rep, f, r, o);
                        json_object_object_add(figs, f->kind, o);
                }
                json_object_object_add(t, "figures", figs);
                json_object *samples = json_object_new_array();
                for (size_t k = 0; k < r->n_samples; k++) {
                        const struct vmenv_bench_sample *s = &r->samples[k];
                        json_object *o = json_object_new_object();
                        json_object_object_add(o, "kind", json_object_new_string(s->kind));
                        json_object_object_add(o, "run", json_object_new_int(s->run));
                        json_object_object_add(o, "value", jdouble(s->value));
                        json_object_object_add(o, "unit", json_object_new_string(s->unit));
                        /* what a probe measured; lifecycle samples have none */
                        if (s->checksum || s->ns)
                                json_object_object_add(o, "ns",
                                                       json_object_new_int64((int64_t)s->ns));
                        if (s->cpu_ns)
                                json_object_object_add(o, "cpu_ns",
                                                       json_object_new_int64((int64_t)s->cpu_ns));
                        if (s->checksum || s->work)
                                json_object_object_add(o, "work",
                                                       json_object_new_int64((int64_t)s->work));
                        if (s->checksum)
                                json_object_object_add(o, "checksum",
                                                       json_object_new_string(s->checksum));
                        json_object_array_add(samples, o);
                }
                json_object_object_add(t, "samples", samples);
                json_object_array_add(targets, t);
        }
        json_object_object_add(root, "targets", targets);
        json_object_object_add(root, "warnings", str_array(rep->warnings));
        char *s = vmenv_strdup(json_object_to_json_string_ext(
            root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(root);
        return s;
}

/* ---- SVG --------------------------------------------------------------- */

const char *vmenv_bench_target_color(const char *target)
{
        if (vmenv_streq(target, "host"))
                return "#8a8a8a";
        if (vmenv_streq(target, "container"))
                return "#2a9d8f";
        if (vmenv_streq(target, "container-veth"))
                return "#264653";
        if (vmenv_startswith(target, "vm-")) /* the VM's bridge paths */
                return "#f4a261";
        return "#e76f51";
}

double vmenv_bench_axis_x(const struct vmenv_bench_axis *a, double v)
{
        if (v < a->lo)
                v = a->lo;
        return BAR_X + (log(v) - log(a->lo)) / (log(a->hi) - log(a->lo)) * BAR_W;
}

/* A log axis around [min, max] that always shows 1. */
struct vmenv_bench_axis vmenv_bench_axis_make(double min, double max)
{
        struct vmenv_bench_axis a = {0.5, 2};
        static const double steps[] = {1, 2, 5};
        double lo = min < 1 ? min / 1.5 : 0.5, hi = max > 1 ? max * 1.5 : 2;
        /* snap to 1-2-5 values so the ticks are round */
        for (double d = 1e-4; d < 1e7; d *= 10)
                for (int i = 0; i < 3; i++) {
                        double v = d * steps[i];
                        if (v <= lo * 1.0001)
                                a.lo = v;
                        if (v >= hi * 0.9999 && a.hi <= 2 && v > 0) {
                                a.hi = v;
                                d = 1e8; /* done */
                                break;
                        }
                }
        if (a.hi < hi)
                a.hi = hi;
        return a;
}

void vmenv_bench_svg_ticks(struct vmenv_buf *b, const struct vmenv_bench_axis *a, int y0, int y1,
                           const char *suffix)
{
        static const double steps[] = {1, 2, 5};
        double span = log10(a->hi / a->lo);
        for (double d = 1e-4; d <= a->hi; d *= 10)
                for (int i = 0; i < 3; i++) {
                        double v = d * steps[i];
                        if (v < a->lo || v > a->hi || (span > 2.5 && i != 0))
                                continue;
                        double x = vmenv_bench_axis_x(a, v);
                        vmenv_buf_printf(b,
                                         "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" "
                                         "stroke=\"%s\" stroke-width=\"1\"%s/>\n",
                                         x, y0, x, y1, v == 1 ? "#333" : "#ddd",
                                         v == 1 ? " stroke-dasharray=\"4 3\"" : "");
                        vmenv_buf_printf(b,
                                         "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" "
                                         "class=\"tick\">%g%s</text>\n",
                                         x, y1 + 14, v, suffix);
                }
}

static void svg_bar(struct vmenv_buf *b, const struct vmenv_bench_axis *a, int y,
                    const char *figure, const struct vmenv_bench_result *r, double v,
                    const char *label)
{
        _cleanup_free_ char *tl = vmenv_xml_escape(r->label), *lab = vmenv_xml_escape(label);
        _cleanup_free_ char *fig = vmenv_xml_escape(figure), *tg = vmenv_xml_escape(r->target);
        double x1 = v > 0 ? vmenv_bench_axis_x(a, v) : BAR_X + 2;
        if (x1 < BAR_X + 2)
                x1 = BAR_X + 2;
        vmenv_buf_printf(b,
                         "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" class=\"target\">%s</text>\n",
                         LABEL_W, y + 13, tl);
        vmenv_buf_printf(b,
                         "<rect class=\"bar\" data-figure=\"%s\" data-target=\"%s\" x=\"%d\" "
                         "y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\"/>\n",
                         fig, tg, BAR_X, y + 2, x1 - BAR_X, ROW_H - 4,
                         vmenv_bench_target_color(r->target));
        /* values in a column right of the axis, clear of the grid lines */
        vmenv_buf_printf(b, "<text x=\"%d\" y=\"%d\" class=\"value\">%s</text>\n",
                         BAR_X + BAR_W + 12, y + 13, lab);
}

/* The published band of a figure on a target as a shaded box behind the
 * bar (<rect class="band">), so a bar ending outside it stands out. */
static void svg_band(struct vmenv_buf *b, const struct vmenv_bench_axis *a, int y,
                     const char *figure, const struct vmenv_bench_result *r)
{
        const struct vmenv_bench_band *band = vmenv_bench_band_find(figure, r->target);
        if (!band)
                return;
        _cleanup_free_ char *fig = vmenv_xml_escape(figure), *tg = vmenv_xml_escape(r->target);
        double x0 = vmenv_bench_axis_x(a, band->lo), x1 = vmenv_bench_axis_x(a, band->hi);
        vmenv_buf_printf(b,
                         "<rect class=\"band\" data-figure=\"%s\" data-target=\"%s\" "
                         "x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"none\" "
                         "stroke=\"%s\" stroke-width=\"1.5\" stroke-dasharray=\"3 2\"/>\n",
                         fig, tg, x0, y, x1 - x0 < 2 ? 2 : x1 - x0, ROW_H,
                         vmenv_bench_target_color(r->target));
}

char *vmenv_bench_svg(const struct vmenv_bench_report *rep)
{
        struct vmenv_buf body = {0}, b = {0};
        int y = 58;
        double min = 1, max = 1;

        /* workloads: one axis for every ratio so bars compare across rows */
        for (const struct vmenv_bench_figure *f = vmenv_bench_figures; f->kind; f++)
                for (size_t i = 0; !f->lifecycle && i < rep->n_results; i++) {
                        double ratio = vmenv_bench_ratio_to_host(rep, f, rep->results[i]);
                        const struct vmenv_bench_band *band =
                            vmenv_bench_band_find(f->kind, rep->results[i]->target);
                        if (band && ratio > 0) {
                                min = band->lo < min ? band->lo : min;
                                max = band->hi > max ? band->hi : max;
                        }
                        if (ratio > 0) {
                                min = ratio < min ? ratio : min;
                                max = ratio > max ? ratio : max;
                        }
                }
        struct vmenv_bench_axis wa = vmenv_bench_axis_make(min, max);
        vmenv_buf_printf(&body,
                         "<text x=\"10\" y=\"%d\" class=\"section\">Workloads: time relative to "
                         "the host (log scale; right of the dashed line = slower; dashed boxes: "
                         "published bands)</text>\n",
                         y);
        y += 12;
        int top = y;
        for (const struct vmenv_bench_figure *f = vmenv_bench_figures; f->kind; f++) {
                if (f->lifecycle || !any_has(rep, f->kind))
                        continue;
                _cleanup_free_ char *title = vmenv_xml_escape(f->title);
                vmenv_buf_printf(&body, "<text x=\"10\" y=\"%d\" class=\"figure\">%s</text>\n",
                                 y + 14, title);
                y += ROW_H;
                for (size_t i = 0; i < rep->n_results; i++) {
                        const struct vmenv_bench_result *r = rep->results[i];
                        struct vmenv_bench_stats s;
                        const char *unit = "";
                        if (!vmenv_bench_result_stats(r, f->kind, &s, &unit))
                                continue;
                        double ratio = vmenv_bench_ratio_to_host(rep, f, r);
                        char val[48], label[160];
                        vmenv_bench_fmt_value(val, sizeof(val), s.median, unit);
                        char spread[48] = "";
                        fmt_ci(spread, sizeof(spread), &s);
                        if (ratio > 0)
                                snprintf(label, sizeof(label), "%.2fx  (%s%s)%s", ratio, val,
                                         spread, vmenv_bench_band_mark(rep, f, r));
                        else
                                snprintf(label, sizeof(label), "%s%s (no host figure)", val,
                                         spread);
                        svg_band(&body, &wa, y, f->kind, r);
                        svg_bar(&body, &wa, y, f->kind, r, ratio > 0 ? ratio : wa.lo, label);
                        y += ROW_H;
                }
                y += 6;
        }
        vmenv_bench_svg_ticks(&body, &wa, top, y, "x");
        y += 50;

        /* lifecycle: units differ, so each figure is drawn relative to its
         * cheapest target on a shared log axis and labelled absolutely */
        bool any_life = false;
        min = 1, max = 1;
        for (const struct vmenv_bench_figure *f = vmenv_bench_figures; f->kind; f++) {
                if (!f->lifecycle)
                        continue;
                double lo = 0;
                struct vmenv_bench_stats s;
                for (size_t i = 0; i < rep->n_results; i++)
                        if (vmenv_bench_result_stats(rep->results[i], f->kind, &s, NULL) &&
                            s.median > 0 && (lo == 0 || s.median < lo))
                                lo = s.median;
                for (size_t i = 0; lo > 0 && i < rep->n_results; i++)
                        if (vmenv_bench_result_stats(rep->results[i], f->kind, &s, NULL) &&
                            s.median / lo > max)
                                max = s.median / lo;
                any_life |= any_has(rep, f->kind);
        }
        if (any_life) {
                struct vmenv_bench_axis la = vmenv_bench_axis_make(min, max);
                vmenv_buf_printf(&body,
                                 "<text x=\"10\" y=\"%d\" class=\"section\">Lifecycle costs: "
                                 "relative to the cheapest target (log scale), absolute values "
                                 "labelled</text>\n",
                                 y);
                y += 12;
                top = y;
                for (const struct vmenv_bench_figure *f = vmenv_bench_figures; f->kind; f++) {
                        if (!f->lifecycle || !any_has(rep, f->kind))
                                continue;
                        double lo = 0;
                        struct vmenv_bench_stats s;
                        for (size_t i = 0; i < rep->n_results; i++)
                                if (vmenv_bench_result_stats(rep->results[i], f->kind, &s, NULL) &&
                                    s.median > 0 && (lo == 0 || s.median < lo))
                                        lo = s.median;
                        _cleanup_free_ char *title = vmenv_xml_escape(f->title);
                        vmenv_buf_printf(&body,
                                         "<text x=\"10\" y=\"%d\" class=\"figure\">%s</text>\n",
                                         y + 14, title);
                        y += ROW_H;
                        for (size_t i = 0; i < rep->n_results; i++) {
                                const struct vmenv_bench_result *r = rep->results[i];
                                const char *unit = "";
                                if (!vmenv_bench_result_stats(r, f->kind, &s, &unit))
                                        continue;
                                char val[48];
                                vmenv_bench_fmt_value(val, sizeof(val), s.median, unit);
                                svg_bar(&body, &la, y, f->kind, r, lo > 0 ? s.median / lo : 0, val);
                                y += ROW_H;
                        }
                        y += 6;
                }
                vmenv_bench_svg_ticks(&body, &la, top, y, "x");
                y += 30;
        }

        /* conditions, so a picture carries its context */
        y += 10;
        size_t nwarn = vmenv_strv_len(rep->warnings);
        if (nwarn) {
                vmenv_buf_printf(
                    &body,
                    "<text x=\"10\" y=\"%d\" class=\"cond\" style=\"fill:#b00\">%zu "
                    "warning%s (medians not settled, outliers or different checksums): "
                    "see the table or --json</text>\n",
                    y, nwarn, nwarn > 1 ? "s" : "");
                y += 15;
        }
        const char *sources[16] = {0};
        size_t n_sources = 0;
        for (const struct vmenv_bench_figure *f = vmenv_bench_figures; f->kind; f++)
                for (size_t i = 0; !f->lifecycle && i < rep->n_results; i++) {
                        struct vmenv_bench_band_check c;
                        if (!vmenv_bench_band_check(rep, f, rep->results[i], &c))
                                continue;
                        const char *src = c.band->source;
                        size_t k;
                        for (k = 0; k < n_sources && !vmenv_streq(sources[k], src); k++)
                                ;
                        if (k == n_sources && n_sources < VMENV_ARRAY_SIZE(sources))
                                sources[n_sources++] = src;
                }
        for (size_t k = 0; k < n_sources; k++) {
                _cleanup_free_ char *t = vmenv_xml_escape(sources[k]);
                vmenv_buf_printf(&body, "<text x=\"10\" y=\"%d\" class=\"cond\">band: %s</text>\n",
                                 y, t);
                y += 15;
        }
        for (char **p = rep->host_info; p && *p; p++) {
                _cleanup_free_ char *t = vmenv_xml_escape(*p);
                vmenv_buf_printf(&body, "<text x=\"10\" y=\"%d\" class=\"cond\">host %s</text>\n",
                                 y, t);
                y += 15;
        }
        for (size_t i = 0; i < rep->n_results; i++)
                for (char **p = rep->results[i]->info; p && *p; p++) {
                        if (!vmenv_startswith(*p, "runtime") && !vmenv_startswith(*p, "hypervisor"))
                                continue;
                        _cleanup_free_ char *l = vmenv_xml_escape(rep->results[i]->label);
                        _cleanup_free_ char *t = vmenv_xml_escape(*p);
                        vmenv_buf_printf(&body,
                                         "<text x=\"10\" y=\"%d\" class=\"cond\">%s: %s</text>\n",
                                         y, l, t);
                        y += 15;
                }
        y += 10;

        vmenv_buf_printf(&b,
                         "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                         "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                         "viewBox=\"0 0 %d %d\" font-family=\"DejaVu Sans, Helvetica, Arial, "
                         "sans-serif\">\n"
                         "<style>text{font-size:12px;fill:#222}.section{font-size:15px;"
                         "font-weight:bold}.figure{font-weight:bold}.tick{font-size:10px;"
                         "fill:#666}.cond{font-size:11px;fill:#555}.value{font-size:11px}"
                         "</style>\n"
                         "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
                         "<text x=\"10\" y=\"22\" font-size=\"17\" font-weight=\"bold\">vmenv "
                         "bench: median of %d%s runs, ± = 95 %% CI of the median</text>\n",
                         SVG_W, y, SVG_W, y, rep->runs, rep->max_runs > rep->runs ? "+" : "");
        vmenv_buf_add(&b, body.data, body.len);
        vmenv_buf_free(&body);
        vmenv_buf_puts(&b, "</svg>\n");
        return vmenv_buf_steal(&b);
}
