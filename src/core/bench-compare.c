/* vmenv bench --compare: two runs side by side (the same project on a KVM
 * laptop and on a TCG CI runner, or today against the stored baseline).
 * A run is read back from the JSON that --json wrote; that file comes from
 * elsewhere, so the reader checks every field and limits every size. */
#include <json-c/json.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "bench-private.h"
#include "vmenv/bench.h"
#include "vmenv/cleanup.h"
#include "vmenv/util.h"

#define RUN_MAX_BYTES (16u << 20)
#define RUN_MAX_TARGETS 8
#define RUN_MAX_SAMPLES 100000
#define RUN_MAX_STRINGS 64
#define RUN_MAX_STR 1024

static int bad(vmenv_error *err, const char *what)
{
        return vmenv_error_set(err, VMENV_EXIT_DATA, "not a vmenv bench run: %s", what);
}

static const char *get_str(json_object *o, const char *key, size_t max)
{
        json_object *v;
        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string) ||
            (size_t)json_object_get_string_len(v) > max)
                return NULL;
        const char *s = json_object_get_string(v);
        return strlen(s) == (size_t)json_object_get_string_len(v) ? s : NULL; /* no NUL inside */
}

/* A number in [lo, hi]; absent is fine when optional (*out stays). */
static bool get_num(json_object *o, const char *key, double lo, double hi, bool optional,
                    double *out)
{
        json_object *v;
        if (!json_object_object_get_ex(o, key, &v))
                return optional;
        if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double))
                return false;
        double d = json_object_get_double(v);
        if (!isfinite(d) || d < lo || d > hi)
                return false;
        *out = d;
        return true;
}

/* {"k": "v", ...} into "k=v" strings */
static int read_kv(json_object *o, char ***out, vmenv_error *err)
{
        if (!o)
                return 0;
        if (!json_object_is_type(o, json_type_object) ||
            json_object_object_length(o) > RUN_MAX_STRINGS)
                return bad(err, "'host' and 'info' must be small objects of strings");
        json_object_object_foreach(o, k, v)
        {
                if (!json_object_is_type(v, json_type_string) || strlen(k) > 64 || strchr(k, '=') ||
                    json_object_get_string_len(v) > RUN_MAX_STR ||
                    strlen(json_object_get_string(v)) != (size_t)json_object_get_string_len(v))
                        return bad(err, "a condition is not a short string");
                vmenv_strv_push(out, vmenv_strdupf("%s=%s", k, json_object_get_string(v)));
        }
        return 0;
}

static int read_sample(json_object *o, struct vmenv_bench_result *r, vmenv_error *err)
{
        const char *kind = get_str(o, "kind", 32), *unit = get_str(o, "unit", 32);
        double run = 0, value = 0, ns = 0, cpu = 0, work = 0;
        if (!json_object_is_type(o, json_type_object) || !kind || !unit ||
            !get_num(o, "run", 0, 100000, false, &run) ||
            !get_num(o, "value", 0, 1e18, false, &value) || !get_num(o, "ns", 0, 1e18, true, &ns) ||
            !get_num(o, "cpu_ns", 0, 1e18, true, &cpu) || !get_num(o, "work", 0, 1e18, true, &work))
                return bad(err, "a sample needs kind, run, value and unit in range");
        json_object *c;
        const char *sum = NULL;
        if (json_object_object_get_ex(o, "checksum", &c) && !(sum = get_str(o, "checksum", 32)))
                return bad(err, "a checksum is not a short string");
        vmenv_bench_add(r, kind, (int)run, value, unit);
        struct vmenv_bench_sample *s = &r->samples[r->n_samples - 1];
        s->ns = (uint64_t)ns;
        s->cpu_ns = (uint64_t)cpu;
        s->work = (uint64_t)work;
        s->checksum = sum ? vmenv_strdup(sum) : NULL;
        return 0;
}

static int read_target(json_object *o, struct vmenv_bench_report *rep, size_t *samples,
                       vmenv_error *err)
{
        const char *target = get_str(o, "target", 32), *label = get_str(o, "label", 128);
        json_object *info = NULL, *notes = NULL, *ss = NULL;
        if (!json_object_is_type(o, json_type_object) || !target || !label)
                return bad(err, "a target needs 'target' and 'label'");
        struct vmenv_bench_result *r = vmenv_bench_result_new(target, label);
        rep->results[rep->n_results++] = r;
        json_object_object_get_ex(o, "info", &info);
        if (read_kv(info, &r->info, err) < 0)
                return -1;
        if (json_object_object_get_ex(o, "notes", &notes)) {
                if (!json_object_is_type(notes, json_type_array) ||
                    json_object_array_length(notes) > RUN_MAX_STRINGS)
                        return bad(err, "'notes' must be a short array");
                for (size_t i = 0; i < json_object_array_length(notes); i++) {
                        json_object *n = json_object_array_get_idx(notes, i);
                        if (!json_object_is_type(n, json_type_string) ||
                            json_object_get_string_len(n) > RUN_MAX_STR ||
                            strlen(json_object_get_string(n)) !=
                                (size_t)json_object_get_string_len(n))
                                return bad(err, "a note is not a short string");
                        vmenv_strv_push(&r->notes, vmenv_strdup(json_object_get_string(n)));
                }
        }
        if (!json_object_object_get_ex(o, "samples", &ss) ||
            !json_object_is_type(ss, json_type_array))
                return bad(err, "a target needs its 'samples'");
        size_t n = json_object_array_length(ss);
        if (n > RUN_MAX_SAMPLES - *samples)
                return bad(err, "too many samples");
        *samples += n;
        for (size_t i = 0; i < n; i++)
                if (read_sample(json_object_array_get_idx(ss, i), r, err) < 0)
                        return -1;
        return 0;
}

int vmenv_bench_report_parse(const char *text, size_t len, struct vmenv_bench_report **out,
                             vmenv_error *err)
{
        if (len > RUN_MAX_BYTES)
                return bad(err, "larger than 16 MiB");
        json_tokener *tok = json_tokener_new_ex(32);
        json_object *root = json_tokener_parse_ex(tok, text, (int)len);
        size_t end = json_tokener_get_parse_end(tok);
        bool complete = json_tokener_get_error(tok) == json_tokener_success && end <= len;
        /* only white space after the object; text need not end in a NUL */
        for (size_t i = end; complete && i < len; i++)
                complete = strchr(" \t\r\n", text[i]) && text[i];
        json_tokener_free(tok);
        if (!root || !complete || !json_object_is_type(root, json_type_object)) {
                json_object_put(root);
                return bad(err, "not one JSON object");
        }
        struct vmenv_bench_report *rep = vmenv_calloc(1, sizeof(*rep));
        json_object *host = NULL, *targets = NULL;
        double runs = 1, max_runs = 0, warmup = 0, budget = 0;
        size_t samples = 0;
        int rc = -1;
        if (!get_num(root, "runs", 1, 1000, true, &runs) ||
            !get_num(root, "max_runs", 0, 1000, true, &max_runs) ||
            !get_num(root, "warmup", 0, 1000, true, &warmup) ||
            !get_num(root, "budget_s", 0, 1e6, true, &budget)) {
                bad(err, "'runs', 'max_runs', 'warmup' or 'budget_s' out of range");
                goto out;
        }
        rep->runs = (int)runs;
        rep->max_runs = max_runs < runs ? (int)runs : (int)max_runs;
        rep->warmup = (int)warmup;
        rep->budget_s = (int)budget;
        json_object_object_get_ex(root, "host", &host);
        if (read_kv(host, &rep->host_info, err) < 0)
                goto out;
        if (!json_object_object_get_ex(root, "targets", &targets) ||
            !json_object_is_type(targets, json_type_array) ||
            json_object_array_length(targets) > RUN_MAX_TARGETS) {
                bad(err, "'targets' must be an array of at most 8");
                goto out;
        }
        rep->results = vmenv_calloc(json_object_array_length(targets) + 1, sizeof(*rep->results));
        for (size_t i = 0; i < json_object_array_length(targets); i++)
                if (read_target(json_object_array_get_idx(targets, i), rep, &samples, err) < 0)
                        goto out;
        vmenv_bench_check(rep);
        *out = TAKE_PTR(rep);
        rc = 0;
out:
        json_object_put(root);
        vmenv_bench_report_free(rep);
        return rc;
}

int vmenv_bench_report_load(const char *path, struct vmenv_bench_report **out, vmenv_error *err)
{
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        if (vmenv_read_file(path, RUN_MAX_BYTES, &text, &len, err) < 0 ||
            vmenv_bench_report_parse(text, len, out, err) < 0)
                return vmenv_error_prefix(err, "cannot read the bench run '%s'", path);
        return 0;
}

char *vmenv_bench_baseline_path(void)
{
        _cleanup_free_ char *home = vmenv_home();
        return vmenv_path_join(home, "bench-baseline.json");
}

/* ---- the comparison ---------------------------------------------------- */

static const struct vmenv_bench_result *find(const struct vmenv_bench_report *rep,
                                             const char *target)
{
        for (size_t i = 0; i < rep->n_results; i++)
                if (vmenv_streq(rep->results[i]->target, target))
                        return rep->results[i];
        return NULL;
}

/* Each target name once, A's first. */
static size_t target_names(const struct vmenv_bench_report *a, const struct vmenv_bench_report *b,
                           const char **names, size_t max)
{
        size_t n = 0;
        const struct vmenv_bench_report *both[2] = {a, b};
        for (int k = 0; k < 2; k++)
                for (size_t i = 0; i < both[k]->n_results && n < max; i++) {
                        const char *t = both[k]->results[i]->target;
                        size_t j;
                        for (j = 0; j < n && !vmenv_streq(names[j], t); j++)
                                ;
                        if (j == n)
                                names[n++] = t;
                }
        return n;
}

struct pair {
        struct vmenv_bench_stats a, b;
        const char *unit;
        bool has_a, has_b;
        double cost;  /* B relative to A, > 1: B is slower; 0 without both */
        bool overlap; /* the two 95 % CIs overlap: no difference shown */
};

static struct pair pair_of(const struct vmenv_bench_report *a, const struct vmenv_bench_report *b,
                           const struct vmenv_bench_figure *f, const char *target)
{
        struct pair p = {0};
        const struct vmenv_bench_result *ra = find(a, target), *rb = find(b, target);
        p.has_a = ra && vmenv_bench_result_stats(ra, f->kind, &p.a, &p.unit);
        p.has_b = rb && vmenv_bench_result_stats(rb, f->kind, &p.b, &p.unit);
        if (p.has_a && p.has_b) {
                p.cost = vmenv_bench_cost_ratio(f, p.a.median, p.b.median);
                p.overlap =
                    p.a.ci_ok && p.b.ci_ok && p.a.ci_lo <= p.b.ci_hi && p.b.ci_lo <= p.a.ci_hi;
        }
        return p;
}

static const char *info_of(const struct vmenv_bench_report *r, const char *key)
{
        size_t n = strlen(key);
        for (char **p = r->host_info; p && *p; p++)
                if (!strncmp(*p, key, n) && (*p)[n] == '=')
                        return *p + n + 1;
        return "?";
}

void vmenv_bench_compare_table(const struct vmenv_bench_report *a, const char *a_name,
                               const struct vmenv_bench_report *b, const char *b_name, FILE *f)
{
        const char *names[2 * RUN_MAX_TARGETS];
        size_t nt = target_names(a, b, names, VMENV_ARRAY_SIZE(names));
        const struct vmenv_bench_report *both[2] = {a, b};
        const char *labels[2] = {a_name, b_name};
        fprintf(f, "vmenv bench --compare: B relative to A ('B/A' above 1: B is slower; '~': "
                   "the 95 %% CIs overlap, no difference shown)\n");
        for (int k = 0; k < 2; k++)
                fprintf(f, "  %c = %s: %s, %s cpus, kvm %s, %s\n", 'A' + k, labels[k],
                        info_of(both[k], "date"), info_of(both[k], "cpus"), info_of(both[k], "kvm"),
                        info_of(both[k], "cpu"));
        fprintf(f, "\n%-42s %-10s %-22s %-22s %s\n", "figure", "target", "A", "B", "B/A");
        for (const struct vmenv_bench_figure *fig = vmenv_bench_figures; fig->kind; fig++)
                for (size_t t = 0; t < nt; t++) {
                        struct pair p = pair_of(a, b, fig, names[t]);
                        if (!p.has_a && !p.has_b)
                                continue;
                        char va[48] = "-", vb[48] = "-", title[96];
                        if (p.has_a)
                                vmenv_bench_fmt_value(va, sizeof(va), p.a.median, p.unit);
                        if (p.has_b)
                                vmenv_bench_fmt_value(vb, sizeof(vb), p.b.median, p.unit);
                        snprintf(title, sizeof(title), "%s [%s]", fig->title, p.unit);
                        fprintf(f, "%-42s %-10s %-22s %-22s ", title, names[t], va, vb);
                        if (p.cost > 0)
                                fprintf(f, "%.2fx%s\n", p.cost, p.overlap ? " ~" : "");
                        else
                                fprintf(f, "-\n");
                }
}

char *vmenv_bench_compare_svg(const struct vmenv_bench_report *a, const char *a_name,
                              const struct vmenv_bench_report *b, const char *b_name)
{
        const char *names[2 * RUN_MAX_TARGETS];
        size_t nt = target_names(a, b, names, VMENV_ARRAY_SIZE(names));
        struct vmenv_buf body = {0}, out = {0};
        double min = 1, max = 1;
        for (const struct vmenv_bench_figure *fig = vmenv_bench_figures; fig->kind; fig++)
                for (size_t t = 0; t < nt; t++) {
                        struct pair p = pair_of(a, b, fig, names[t]);
                        if (p.cost > 0) {
                                min = fmin(min, p.cost);
                                max = fmax(max, p.cost);
                        }
                }
        struct vmenv_bench_axis ax = vmenv_bench_axis_make(min, max);
        int y = 70, top = y;
        for (const struct vmenv_bench_figure *fig = vmenv_bench_figures; fig->kind; fig++)
                for (size_t t = 0; t < nt; t++) {
                        struct pair p = pair_of(a, b, fig, names[t]);
                        if (p.cost <= 0)
                                continue;
                        char va[48], vb[48], label[160];
                        vmenv_bench_fmt_value(va, sizeof(va), p.a.median, p.unit);
                        vmenv_bench_fmt_value(vb, sizeof(vb), p.b.median, p.unit);
                        snprintf(label, sizeof(label), "%.2fx%s  (A %s, B %s)", p.cost,
                                 p.overlap ? " ~" : "", va, vb);
                        _cleanup_free_ char *title = vmenv_xml_escape(fig->title);
                        _cleanup_free_ char *kind = vmenv_xml_escape(fig->kind);
                        _cleanup_free_ char *tg = vmenv_xml_escape(names[t]);
                        _cleanup_free_ char *lab = vmenv_xml_escape(label);
                        double x1 = fmax(vmenv_bench_axis_x(&ax, p.cost), BAR_X + 2);
                        vmenv_buf_printf(&body,
                                         "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%s, "
                                         "%s</text>\n",
                                         LABEL_W, y + 13, title, tg);
                        vmenv_buf_printf(&body,
                                         "<rect class=\"bar\" data-figure=\"%s\" "
                                         "data-target=\"%s\" x=\"%d\" y=\"%d\" width=\"%.1f\" "
                                         "height=\"%d\" fill=\"%s\"/>\n",
                                         kind, tg, BAR_X, y + 2, x1 - BAR_X, ROW_H - 4,
                                         vmenv_bench_target_color(names[t]));
                        vmenv_buf_printf(&body,
                                         "<text x=\"%d\" y=\"%d\" class=\"value\">%s</text>\n",
                                         BAR_X + BAR_W + 12, y + 13, lab);
                        y += ROW_H;
                }
        vmenv_bench_svg_ticks(&body, &ax, top, y, "x");
        y += 40;
        _cleanup_free_ char *an = vmenv_xml_escape(a_name), *bn = vmenv_xml_escape(b_name);
        vmenv_buf_printf(&out,
                         "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                         "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                         "viewBox=\"0 0 %d %d\" font-family=\"DejaVu Sans, Helvetica, Arial, "
                         "sans-serif\">\n"
                         "<style>text{font-size:12px;fill:#222}.tick{font-size:10px;fill:#666}"
                         ".value{font-size:11px}</style>\n"
                         "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
                         "<text x=\"10\" y=\"22\" font-size=\"17\" font-weight=\"bold\">vmenv "
                         "bench: B relative to A (log scale; right of the dashed line = B "
                         "slower)</text>\n"
                         "<text x=\"10\" y=\"42\">A = %s</text>\n"
                         "<text x=\"10\" y=\"57\">B = %s</text>\n",
                         SVG_W, y, SVG_W, y, an, bn);
        vmenv_buf_add(&out, body.data, body.len);
        vmenv_buf_free(&body);
        vmenv_buf_puts(&out, "</svg>\n");
        return vmenv_buf_steal(&out);
}
