/* The bench library: statistics, ratios, probe output parsing and its
 * limits, MBR partition offsets, warnings, the JSON/SVG/table outputs, and
 * a real run of the host target with the built vmenv-probe. */
#include <fcntl.h>
#include <json-c/json.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"
#include "vmenv/bench.h"
#include "vmenv/cleanup.h"
#include "vmenv/util.h"

static bool near(double a, double b)
{
        return fabs(a - b) < 1e-9 * (fabs(b) + 1);
}

static void test_stats(void)
{
        double v[] = {5, 1, 3, 2, 4};
        struct vmenv_bench_stats s;
        vmenv_bench_stats_of(v, 5, &s);
        ok(s.n == 5 && near(s.median, 3) && near(s.min, 1) && near(s.max, 5), "odd count median");
        ok(near(s.spread, 4.0 / 3.0), "spread is (max-min)/median");
        double w[] = {10, 20, 40, 30};
        vmenv_bench_stats_of(w, 4, &s);
        ok(near(s.median, 25), "even count median is the mean of the middle two");
        vmenv_bench_stats_of(w, 1, &s);
        ok(s.n == 1 && near(s.spread, 0), "one sample has no spread");
        vmenv_bench_stats_of(NULL, 0, &s);
        ok(s.n == 0 && s.median == 0, "no samples");

        const struct vmenv_bench_figure *cpu = vmenv_bench_figure_find("cpu");
        const struct vmenv_bench_figure *sys = vmenv_bench_figure_find("syscall");
        ok(cpu && sys && !vmenv_bench_figure_find("nope"), "figures are found by kind");
        ok(near(vmenv_bench_cost_ratio(cpu, 1000, 500), 2), "half the throughput costs 2x");
        ok(near(vmenv_bench_cost_ratio(sys, 100, 300), 3), "three times the latency costs 3x");
        ok(vmenv_bench_cost_ratio(sys, 0, 3) == 0, "no host figure gives no ratio");
}

static void seq(double *v, size_t n)
{
        for (size_t i = 0; i < n; i++)
                v[n - 1 - i] = (double)(i + 1); /* reversed: stats sorts */
}

static void test_ci(void)
{
        double v[32];
        struct vmenv_bench_stats s;
        seq(v, 5);
        vmenv_bench_stats_of(v, 5, &s);
        ok(!s.ci_ok && near(s.ci_lo, 1) && near(s.ci_hi, 5), "5 samples: no 95 %% CI exists");
        seq(v, 6);
        vmenv_bench_stats_of(v, 6, &s);
        ok(s.ci_ok && near(s.ci_lo, 1) && near(s.ci_hi, 6) && near(s.ci_rel, 2.5 / 3.5),
           "6 samples: CI is [x1, x6] (coverage 96.9 %%)");
        seq(v, 9);
        vmenv_bench_stats_of(v, 9, &s);
        ok(s.ci_ok && near(s.ci_lo, 2) && near(s.ci_hi, 8), "9 samples: CI is [x2, x8]");
        seq(v, 10);
        vmenv_bench_stats_of(v, 10, &s);
        ok(near(s.ci_lo, 2) && near(s.ci_hi, 9), "10 samples: CI is [x2, x9]");
        seq(v, 20);
        vmenv_bench_stats_of(v, 20, &s);
        ok(near(s.ci_lo, 6) && near(s.ci_hi, 15), "20 samples: CI is [x6, x15]");

        double o[] = {10, 10.1, 9.9, 10.2, 9.8, 10, 50};
        vmenv_bench_stats_of(o, 7, &s);
        ok(near(s.mad, 0.1) && s.n_outliers == 1, "MAD 0.1, one outlier (50)");
        ok(vmenv_bench_is_outlier(&s, 50) && !vmenv_bench_is_outlier(&s, 10.2),
           "50 is an outlier, 10.2 is not (modified z 1.35)");
        ok(near(s.median, 10), "the outlier is kept and the median is unmoved");
        double same[] = {5, 5, 5, 5, 9};
        vmenv_bench_stats_of(same, 5, &s);
        ok(s.mad == 0 && s.n_outliers == 0, "MAD 0: nothing is called an outlier");

        struct vmenv_bench_result *r = vmenv_bench_result_new("host", NULL);
        for (int i = 0; i < 10; i++) {
                vmenv_bench_add(r, "cpu", i + 1, 100 + (i % 3), "MiB/s");
                r->samples[r->n_samples - 1].ns = 1000;
                r->samples[r->n_samples - 1].cpu_ns = i < 6 ? 900 : 500;
        }
        for (int i = 0; i < 10; i++)
                vmenv_bench_add(r, "mem", i + 1, i % 2 ? 100 : 200, "MiB/s");
        ok(vmenv_bench_result_stats(r, "cpu", &s, NULL) && near(s.cpu_per_wall, 0.9),
           "CPU time / wall time is the median of the per-run ratios");
        ok(vmenv_bench_settled(r, "cpu") && !vmenv_bench_settled(r, "mem") &&
               vmenv_bench_settled(r, "none"),
           "settled: CI within 5 %% (cpu), not when the runs disagree (mem)");
        struct vmenv_bench_report rep = {.results = &r, .n_results = 1, .runs = 6, .max_runs = 30};
        vmenv_bench_check(&rep);
        ok(vmenv_strv_len(rep.warnings) == 1 &&
               strstr(rep.warnings[0], "'mem' median known only to ±33 % (95 % CI) after 10 "
                                       "runs: the time budget or run limit ran out"),
           "an unsettled median is warned about, with why the runs stopped");
        vmenv_strv_free(rep.warnings);
        rep.warnings = NULL;
        vmenv_bench_add(r, "cpu", 11, 1000, "MiB/s");
        vmenv_bench_check(&rep);
        bool found = false;
        for (char **w = rep.warnings; w && *w; w++)
                found |=
                    strstr(*w, "'cpu' outlier by MAD, kept in the data: run 11 (1000)") != NULL;
        ok(found, "an outlier is reported with its run and value");
        vmenv_strv_free(rep.warnings);
        vmenv_bench_result_free(r);
}

static void test_cpus(void)
{
        uint64_t m[16];
        vmenv_error err = VMENV_ERROR_INIT;
        ok(vmenv_bench_parse_cpus("0", m, &err) == 0 && m[0] == 1, "cpu list '0'");
        ok(vmenv_bench_parse_cpus("0,2-3,64", m, &err) == 0 && m[0] == 0xd && m[1] == 1,
           "cpu list '0,2-3,64'");
        static const char *const bad[] = {"", "a", "3-1", "1024", "0,", "-1", "1-", "0,,1", NULL};
        int rejected = 0;
        for (int i = 0; bad[i]; i++) {
                rejected += vmenv_bench_parse_cpus(bad[i], m, &err) < 0 &&
                            strstr(err.msg, "invalid CPU list");
                vmenv_error_clear(&err);
        }
        ok(rejected == 8, "bad cpu lists are refused");
        ok(vmenv_bench_parse_cpus("0", m, &err) == 0 && vmenv_bench_pin(0, m, &err) == 0,
           "pinning to CPU 0 works");
        vmenv_error_clear(&err);
}

/* The band check on fixed results: inside, above with a known cause (TCG),
 * below with a known cause (a cache), no band for a figure without one. */
static void test_bands(void)
{
        struct vmenv_bench_result *h = vmenv_bench_result_new("host", NULL);
        struct vmenv_bench_result *c = vmenv_bench_result_new("container", NULL);
        struct vmenv_bench_result *v = vmenv_bench_result_new("vm", "vm (TCG emulation)");
        struct vmenv_bench_result *rs[] = {h, c, v};
        vmenv_bench_add_info(v, "hypervisor", "tcg: no /dev/kvm");
        vmenv_bench_add(h, "cpu", 1, 1000, "MiB/s");
        vmenv_bench_add(c, "cpu", 1, 980, "MiB/s");
        vmenv_bench_add(v, "cpu", 1, 500, "MiB/s");
        vmenv_bench_add(h, "disk-read", 1, 1000, "MiB/s");
        vmenv_bench_add(v, "disk-read", 1, 2000, "MiB/s");
        vmenv_bench_add(h, "syscall", 1, 100, "ns/call");
        vmenv_bench_add(v, "syscall", 1, 300, "ns/call");
        struct vmenv_bench_report rep = {.results = rs, .n_results = 3, .runs = 1, .max_runs = 1};
        struct vmenv_bench_band_check k;
        const struct vmenv_bench_figure *cpu = vmenv_bench_figure_find("cpu");

        ok(vmenv_bench_band_find("cpu", "vm") && vmenv_bench_band_find("net-rr", "container") &&
               !vmenv_bench_band_find("cpu", "host"),
           "bands exist for a VM and a container, not the host");
        for (const struct vmenv_bench_band *b = vmenv_bench_bands; b->kind; b++)
                if (!(b->lo > 0 && b->lo < b->hi && b->source && *b->source))
                        ok(false, "band %s/%s is well formed", b->kind, b->target);
        ok(vmenv_bench_band_check(&rep, cpu, c, &k) && k.where == 0 && near(k.ratio, 1000.0 / 980),
           "a container at 1.02x is inside its band");
        ok(vmenv_bench_band_check(&rep, cpu, v, &k) && k.where == 1 && near(k.ratio, 2) &&
               k.cause && strstr(k.cause, "TCG"),
           "a TCG guest at 2x is above the KVM band, cause TCG");
        ok(vmenv_streq(vmenv_bench_band_mark(&rep, cpu, v), " [outside band: TCG]"),
           "its mark says TCG");
        ok(vmenv_bench_band_check(&rep, vmenv_bench_figure_find("disk-read"), v, &k) &&
               k.where == -1 && k.cause && strstr(k.cause, "page cache"),
           "a guest reading faster than the host: below the band, a cache in the way");
        ok(!vmenv_bench_band_check(&rep, vmenv_bench_figure_find("syscall"), v, &k) &&
               vmenv_streq(vmenv_bench_band_mark(&rep, vmenv_bench_figure_find("syscall"), v), ""),
           "no published band, no mark");
        ok(!vmenv_bench_band_check(&rep, cpu, h, &k), "the host has no band");

        /* with 6 runs each: outside only when the ratio's whole CI is */
        static const double noisy[] = {700, 800, 850, 900, 1000, 1100};
        for (int i = 0; i < 6; i++) {
                vmenv_bench_add(h, "mem", i + 1, 1000, "MiB/s");
                vmenv_bench_add(c, "mem", i + 1, noisy[i], "MiB/s");
                vmenv_bench_add(v, "mem", i + 1, 500, "MiB/s");
        }
        const struct vmenv_bench_figure *mem = vmenv_bench_figure_find("mem");
        ok(vmenv_bench_band_check(&rep, mem, c, &k) && k.where == 2 && !k.cause &&
               near(k.ratio, 1000.0 / 875) && near(k.ratio_lo, 1000.0 / 1100) &&
               near(k.ratio_hi, 1000.0 / 700),
           "1.14x with a CI of 0.91-1.43x: undecided, no cause claimed");
        ok(vmenv_streq(vmenv_bench_band_mark(&rep, mem, c), " [band: CI overlaps]"),
           "its mark says the CI overlaps");
        ok(vmenv_bench_band_check(&rep, mem, v, &k) && k.where == 1 && near(k.ratio_lo, 2) &&
               near(k.ratio_hi, 2),
           "2x with a CI of 2-2x: outside");
        for (size_t i = 0; i < 3; i++)
                vmenv_bench_result_free(rs[i]);
}

static const char probe_out[] =
    "{\"type\":\"info\",\"probe\":1,\"clock_res_ns\":1,\"min_ns\":100,\"dir\":\"/x\"}\n"
    "{\"type\":\"sample\",\"kind\":\"cpu\",\"run\":1,\"value\":1000,\"unit\":\"MiB/s\","
    "\"ns\":5000000,\"work\":5242880,\"checksum\":\"00000000000000aa\"}\n"
    "{\"type\":\"sample\",\"kind\":\"cpu\",\"run\":2,\"value\":800,\"unit\":\"MiB/s\","
    "\"ns\":6000000,\"work\":5242880,\"checksum\":\"00000000000000aa\"}\n"
    "{\"type\":\"sample\",\"kind\":\"syscall\",\"run\":1,\"value\":100,\"unit\":\"ns/call\","
    "\"ns\":100000,\"work\":1000,\"checksum\":\"00000000000003e8\"}\n";

static void test_parse(void)
{
        vmenv_error err = VMENV_ERROR_INIT;
        struct vmenv_bench_result *r = vmenv_bench_result_new("host", NULL);
        ok(vmenv_bench_parse_probe(probe_out, r, &err) == 0, "probe output parses");
        ok(r->n_samples == 3, "three samples");
        ok(vmenv_streq(r->samples[1].kind, "cpu") && r->samples[1].run == 2 &&
               near(r->samples[1].value, 800) && r->samples[1].ns == 6000000 &&
               vmenv_streq(r->samples[1].checksum, "00000000000000aa"),
           "a sample keeps kind, run, value, ns and checksum");
        ok(r->info && vmenv_streq(r->info[0], "clock_res_ns=1"), "the clock resolution is kept");
        const char skip[] =
            "{\"type\":\"info\",\"skipped\":\"randio\",\"reason\":\"no O_DIRECT\"}\n"
            "{\"type\":\"info\",\"skipped\":\"randio\",\"reason\":\"no O_DIRECT\"}\n";
        vmenv_bench_parse_probe(skip, r, &err);
        vmenv_error_clear(&err);
        ok(vmenv_strv_len(r->notes) == 1 &&
               vmenv_streq(r->notes[0], "'randio' skipped: no O_DIRECT"),
           "a skipped workload is one note with its reason");
        vmenv_bench_result_free(r);

        static const struct {
                const char *text, *want;
        } bad[] = {
            {"{\"type\":\"refused\",\"kind\":\"cpu\",\"run\":1,\"ns\":50,\"min_ns\":100}\n",
             "refused to report 'cpu'"},
            {"not json\n", "is not a JSON object"},
            {"{\"type\":\"sample\",\"kind\":\"cpu\",\"run\":1,\"value\":-1,\"unit\":\"x\","
             "\"ns\":1,\"work\":1,\"checksum\":\"1\"}\n",
             "not a valid sample"},
            {"{\"type\":\"sample\",\"kind\":\"cpu\",\"run\":1}\n", "not a valid sample"},
            {"{\"type\":\"info\"}\n", "no sample"},
            {"", "no sample"},
        };
        for (size_t i = 0; i < VMENV_ARRAY_SIZE(bad); i++) {
                r = vmenv_bench_result_new("host", NULL);
                int rc = vmenv_bench_parse_probe(bad[i].text, r, &err);
                ok(rc < 0 && err.msg && strstr(err.msg, bad[i].want), "bad output %zu: %s", i,
                   err.msg ? err.msg : "(no error)");
                vmenv_error_clear(&err);
                vmenv_bench_result_free(r);
        }
        struct vmenv_buf many = {0};
        for (int i = 0; i < 5000; i++)
                vmenv_buf_puts(&many, "\n");
        r = vmenv_bench_result_new("host", NULL);
        ok(vmenv_bench_parse_probe(many.data, r, &err) < 0 &&
               strstr(err.msg, "more than 4096 lines"),
           "probe output has a line limit");
        vmenv_error_clear(&err);
        vmenv_bench_result_free(r);
        vmenv_buf_free(&many);
}

static void test_mbr(void)
{
        char path[] = "/var/tmp/vmenv-test-mbr.XXXXXX";
        int fd = mkstemp(path);
        unsigned char mbr[2048] = {0};
        uint64_t off = 1;
        vmenv_error err = VMENV_ERROR_INIT;

        ok(write(fd, mbr, sizeof(mbr)) == (ssize_t)sizeof(mbr), "write blank image");
        ok(vmenv_bench_partition_offset(path, &off, &err) == 0 && off == 0,
           "no boot signature: a bare filesystem at 0");
        mbr[510] = 0x55, mbr[511] = 0xaa;
        unsigned char *e = mbr + 446 + 16; /* second entry */
        e[4] = 0x83;
        e[8] = 0x00, e[9] = 0x08; /* LBA 2048 */
        ok(pwrite(fd, mbr, 512, 0) == 512, "write MBR");
        ok(vmenv_bench_partition_offset(path, &off, &err) == 0 && off == 2048 * 512,
           "the Linux partition's offset");
        mbr[446 + 4] = 0xee, mbr[446 + 8] = 1;
        ok(pwrite(fd, mbr, 512, 0) == 512, "write protective MBR");
        ok(vmenv_bench_partition_offset(path, &off, &err) < 0 && strstr(err.msg, "GPT"),
           "GPT is refused clearly");
        vmenv_error_clear(&err);
        ok(ftruncate(fd, 100) == 0, "truncate");
        ok(vmenv_bench_partition_offset(path, &off, &err) < 0 && strstr(err.msg, "too small"),
           "a truncated image is refused");
        vmenv_error_clear(&err);
        close(fd);
        unlink(path);
}

/* A report with a host and a container, built by hand. */
static struct vmenv_bench_report *fake_report(void)
{
        struct vmenv_bench_report *rep = vmenv_calloc(1, sizeof(*rep));
        struct vmenv_bench_result *h = vmenv_bench_result_new("host", "host");
        struct vmenv_bench_result *c =
            vmenv_bench_result_new("container", "container <bwrap & co>");
        vmenv_error err = VMENV_ERROR_INIT;
        vmenv_bench_parse_probe(probe_out, h, &err);
        vmenv_bench_parse_probe(probe_out, c, &err);
        c->samples[0].value = c->samples[1].value = 500; /* half the host's cpu */
        free(c->samples[2].checksum);
        c->samples[2].checksum = vmenv_strdup("0000000000000001"); /* different work */
        vmenv_bench_add(c, "start-cold", 1, 12.5, "ms");
        vmenv_bench_add(c, "idle-rss", 1, 4 << 20, "bytes");
        vmenv_bench_add(c, "idle-cpu", 1, 0, "ms");
        vmenv_bench_add_info(c, "runtime", "bwrap");
        rep->runs = 2;
        rep->host_info = vmenv_bench_host_info();
        rep->results = vmenv_calloc(2, sizeof(*rep->results));
        rep->results[0] = h;
        rep->results[1] = c;
        rep->n_results = 2;
        return rep;
}

static int count(const char *hay, const char *needle)
{
        int n = 0;
        for (const char *p = hay; (p = strstr(p, needle)); p++)
                n++;
        return n;
}

static void test_outputs(void)
{
        struct vmenv_bench_report *rep = fake_report();
        vmenv_bench_check(rep);
        int spread = 0, sums = 0;
        for (char **w = rep->warnings; w && *w; w++) {
                spread += strstr(*w, "'cpu' has 2 runs, too few for a 95 % confidence") != NULL;
                sums += strstr(*w, "'syscall' checksum 0000000000000001 differs") != NULL;
        }
        ok(spread == 2, "two runs are too few for a CI: warned about on each target");
        ok(sums == 1, "a different checksum is warned about");

        char *json = vmenv_bench_json(rep);
        json_object *o = json_tokener_parse(json), *t, *c, *figs, *cpu, *ratio, *samples;
        ok(o && json_object_object_get_ex(o, "targets", &t) && json_object_array_length(t) == 2,
           "json has both targets");
        c = json_object_array_get_idx(t, 1);
        ok(json_object_object_get_ex(c, "samples", &samples) &&
               json_object_array_length(samples) == 6,
           "json keeps every raw sample");
        ok(json_object_object_get_ex(c, "figures", &figs) &&
               json_object_object_get_ex(figs, "cpu", &cpu) &&
               json_object_object_get_ex(cpu, "ratio_to_host", &ratio) &&
               near(json_object_get_double(ratio), 1.8),
           "json has the ratio to the host (900 / 500)");
        json_object *band, *v;
        ok(json_object_object_get_ex(cpu, "band", &band) &&
               json_object_object_get_ex(band, "inside", &v) && !json_object_get_boolean(v) &&
               json_object_object_get_ex(band, "source", &v) &&
               strstr(json_object_get_string(v), "RC25482") &&
               json_object_object_get_ex(band, "low", &v) && near(json_object_get_double(v), 0.95),
           "json has the band, its source, and that 1.8x is outside it");
        ok(json_object_object_get_ex(cpu, "ci_ok", &v) && !json_object_get_boolean(v) &&
               json_object_object_get_ex(cpu, "outlier_runs", &v) &&
               json_object_array_length(v) == 0,
           "json says two runs give no CI, and lists no outliers");
        json_object *host;
        ok(json_object_object_get_ex(o, "host", &host) &&
               json_object_object_get_ex(host, "kernel", NULL) &&
               json_object_object_get_ex(host, "cpu", NULL) &&
               json_object_object_get_ex(host, "kvm", NULL),
           "json records the host's cpu, kernel and kvm");
        json_object_put(o);
        free(json);

        char *svg = vmenv_bench_svg(rep);
        /* cpu and syscall for both targets, three lifecycle bars */
        ok(count(svg, "class=\"bar\"") == 7, "svg has one bar per figure and target");
        ok(count(svg, "class=\"bar\" data-figure=\"cpu\"") == 2, "bars carry their figure");
        ok(count(svg, "class=\"band\" data-figure=\"cpu\" data-target=\"container\"") == 1,
           "the container's cpu bar has its published band drawn");
        ok(strstr(svg, "band: Felter et al.") != NULL, "the svg names the band's source");
        ok(strstr(svg, "[outside band]") != NULL, "the bar outside its band is marked");
        ok(strstr(svg, "container &lt;bwrap &amp; co&gt;") && !strstr(svg, "<bwrap"),
           "labels are escaped");
        ok(strstr(svg, "1.80x") != NULL, "the ratio is written on the bar");
        free(svg);

        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        vmenv_bench_print_table(rep, f);
        fclose(f);
        ok(strstr(buf, "1.80x host") != NULL, "the table shows the ratio");
        ok(strstr(buf, "4.0 MiB") != NULL, "the table formats bytes");
        ok(strstr(buf, "warning: ") != NULL, "the table repeats the warnings");
        ok(strstr(buf, "1.80x host [outside band]") != NULL, "the table marks the band");
        ok(strstr(buf, "reference bands") && strstr(buf, "OUTSIDE, likely cause unknown"),
           "the table lists results outside their band");
        ok(strstr(buf, "CPU time / wall time") != NULL, "the table shows CPU vs wall time");
        free(buf);
        vmenv_bench_report_free(rep);
}

/* The run reader (outside input) and the comparison of two runs. */
static void test_compare(void)
{
        struct vmenv_bench_report *rep = fake_report(), *a = NULL, *b = NULL;
        vmenv_error err = VMENV_ERROR_INIT;
        _cleanup_free_ char *json = vmenv_bench_json(rep);
        ok(vmenv_bench_report_parse(json, strlen(json), &a, &err) == 0 && a->n_results == 2 &&
               a->results[1]->n_samples == rep->results[1]->n_samples,
           "a run written with --json reads back, every sample");
        _cleanup_free_ char *again = a ? vmenv_bench_json(a) : NULL;
        json_object *o1 = json_tokener_parse(json), *o2 = again ? json_tokener_parse(again) : NULL;
        json_object *t1, *t2;
        ok(o1 && o2 && json_object_object_get_ex(o1, "targets", &t1) &&
               json_object_object_get_ex(o2, "targets", &t2) && json_object_equal(t1, t2),
           "and writes the same targets, figures and samples again");
        json_object_put(o1);
        json_object_put(o2);

        static const struct {
                const char *text, *want;
        } bad[] = {
            {"", "not one JSON object"},
            {"[]", "not one JSON object"},
            {"{} x", "not one JSON object"},
            {"{\"runs\":0,\"targets\":[]}", "out of range"},
            {"{\"host\":{\"a\":1},\"targets\":[]}", "not a short string"},
            {"{\"targets\":[{\"target\":\"host\"}]}", "needs 'target' and 'label'"},
            {"{\"targets\":[{\"target\":\"h\",\"label\":\"h\"}]}", "needs its 'samples'"},
            {"{\"targets\":[{\"target\":\"h\",\"label\":\"h\",\"samples\":[{\"kind\":"
             "\"cpu\",\"run\":1,\"value\":-1,\"unit\":\"x\"}]}]}",
             "in range"},
            {"{\"targets\":[{\"target\":\"h\\u0000x\",\"label\":\"h\",\"samples\":[]}]}",
             "needs 'target'"},
            {"{\"targets\":[1,2,3,4,5,6,7,8,9]}", "at most 8"},
        };
        int refused = 0;
        for (size_t i = 0; i < VMENV_ARRAY_SIZE(bad); i++) {
                struct vmenv_bench_report *x = NULL;
                bool r = vmenv_bench_report_parse(bad[i].text, strlen(bad[i].text), &x, &err) < 0 &&
                         err.code == VMENV_EXIT_DATA && strstr(err.msg, bad[i].want);
                if (!r)
                        printf("# case %zu: %s\n", i, err.msg ? err.msg : "(accepted)");
                refused += r;
                vmenv_error_clear(&err);
                vmenv_bench_report_free(x);
        }
        ok(refused == (int)VMENV_ARRAY_SIZE(bad), "bad runs are refused with the reason");

        /* B: the container's cpu twice as slow again, the host unchanged */
        rep->results[1]->samples[0].value = rep->results[1]->samples[1].value = 250;
        _cleanup_free_ char *jb = vmenv_bench_json(rep);
        vmenv_bench_report_parse(jb, strlen(jb), &b, &err);
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (a && b)
                vmenv_bench_compare_table(a, "laptop.json", b, "ci.json", f);
        fclose(f);
        ok(buf && strstr(buf, "A = laptop.json") && strstr(buf, "B = ci.json"), "names both runs");
        const char *line = buf ? strstr(buf, "container  500.0 MiB/s") : NULL;
        ok(line && strstr(line, "250.0 MiB/s") && strstr(line, "2.00x") &&
               strstr(line, "2.00x") < strchr(line, '\n'),
           "B's cpu at half A's throughput costs 2.00x");
        ok(buf && strstr(buf, "1.00x"), "the host's unchanged figure is 1.00x");
        free(buf);
        _cleanup_free_ char *svg =
            a && b ? vmenv_bench_compare_svg(a, "laptop.json", b, "ci.json") : NULL;
        ok(svg && count(svg, "class=\"bar\"") == 6 &&
               count(svg, "class=\"bar\" data-figure=\"cpu\" data-target=\"container\"") == 1,
           "the comparison plot has a bar per figure and target in both (idle-cpu 0: none)");
        vmenv_bench_report_free(a);
        vmenv_bench_report_free(b);
        vmenv_bench_report_free(rep);
}

/* The driver against a fake target: the warm-up is discarded, runs stop
 * once the median settles, and stop at max_runs when it does not. */
struct fake_target {
        int calls;
        bool noisy;
        char last_only[32];
};

static int fake_run(struct vmenv_bench_target *t, const struct vmenv_bench_opts *o,
                    char *const args[], char **out, vmenv_error *err)
{
        struct fake_target *f = t->data;
        for (size_t i = 0; args[i]; i++)
                if (vmenv_streq(args[i], "--only") && args[i + 1])
                        snprintf(f->last_only, sizeof(f->last_only), "%s", args[i + 1]);
        /* call 1 is the warm-up: a value no run may keep */
        double v = f->calls == 0 ? 1 : f->noisy && f->calls % 2 ? 200 : 100;
        f->calls++;
        *out = vmenv_strdupf("{\"type\":\"sample\",\"kind\":\"cpu\",\"run\":1,\"value\":%g,"
                             "\"unit\":\"MiB/s\",\"ns\":1000000,\"cpu_ns\":900000,\"work\":1,"
                             "\"checksum\":\"01\"}\n",
                             v);
        return 0;
}

static void test_adaptive(void)
{
        for (int noisy = 0; noisy < 2; noisy++) {
                struct fake_target f = {.noisy = noisy};
                struct vmenv_bench_target t = {.name = "host", .data = &f, .run = fake_run};
                t.label = vmenv_strdup("host");
                struct vmenv_bench_target *ts[] = {&t};
                struct vmenv_bench_opts o = {.runs = 6,
                                             .max_runs = 12,
                                             .warmup = 1,
                                             .budget_s = 100,
                                             .workloads = "cpu",
                                             .scale = 1};
                struct vmenv_bench_report *rep = NULL;
                vmenv_error err = VMENV_ERROR_INIT;
                int rc = vmenv_bench_run(ts, 1, &o, &rep, &err);
                struct vmenv_bench_stats s = {0};
                if (rc == 0)
                        vmenv_bench_result_stats(rep->results[0], "cpu", &s, NULL);
                if (!noisy) {
                        ok(rc == 0 && f.calls == 7 && s.n == 6 && s.min == 100,
                           "settled after 6 runs: no more, and the warm-up's sample is gone");
                } else {
                        bool warned = false;
                        for (char **w = rep ? rep->warnings : NULL; w && *w; w++)
                                warned |= strstr(*w, "after 12 runs: the time budget or run limit "
                                                     "ran out") != NULL;
                        ok(rc == 0 && f.calls == 13 && s.n == 12 && warned,
                           "never settled: runs up to max_runs, and says so");
                        ok(vmenv_streq(f.last_only, "cpu"),
                           "added runs ask only for the unsettled kind");
                }
                vmenv_bench_report_free(rep);
                free(t.label);
        }
}

/* A target with nothing to run for the kinds asked for (the container's
 * veth path, when only non-network kinds are left): *out NULL is no run,
 * not a probe that reported nothing. */
static int idle_run(struct vmenv_bench_target *t, const struct vmenv_bench_opts *o,
                    char *const args[], char **out, vmenv_error *err)
{
        (void)o, (void)args, (void)err;
        ++*(int *)t->data;
        *out = NULL;
        return 0;
}

static void test_nothing_to_run(void)
{
        struct fake_target f = {0};
        int idle_calls = 0;
        struct vmenv_bench_target host = {.name = "host", .data = &f, .run = fake_run};
        struct vmenv_bench_target none = {
            .name = "container-veth", .data = &idle_calls, .run = idle_run};
        host.label = vmenv_strdup("host");
        none.label = vmenv_strdup("none");
        struct vmenv_bench_target *ts[] = {&host, &none};
        struct vmenv_bench_opts o = {
            .runs = 2, .max_runs = 2, .warmup = 1, .workloads = "cpu", .scale = 1};
        struct vmenv_bench_report *rep = NULL;
        vmenv_error err = VMENV_ERROR_INIT;
        int rc = vmenv_bench_run(ts, 2, &o, &rep, &err);
        ok(rc == 0 && idle_calls == 3 && rep->n_results == 2 && rep->results[1]->n_samples == 0,
           "a target with nothing to run: no samples, no error (%s)", rc ? err.msg : "ok");
        vmenv_error_clear(&err);
        vmenv_bench_report_free(rep);
        free(host.label);
        free(none.label);
}

static void test_host_run(void)
{
        const char *probe = getenv("VMENV_PROBE");
        if (!probe) {
                ok(0, "VMENV_PROBE is set by meson");
                return;
        }
        struct vmenv_bench_opts o = {.runs = 2,
                                     .scale = 0.01,
                                     .idle_seconds = 1,
                                     .probe_path = probe,
                                     .scratch_dir = "/var/tmp"};
        struct vmenv_bench_target *t = vmenv_bench_host_target_new();
        struct vmenv_bench_report *rep = NULL;
        vmenv_error err = VMENV_ERROR_INIT;
        int rc = vmenv_bench_run(&t, 1, &o, &rep, &err);
        ok(rc == 0, "the host target runs the real probe: %s", err.msg ? err.msg : "ok");
        if (rc == 0) {
                const char *kinds[] = {"cpu",        "mem",       "syscall", "spawn",
                                       "disk-write", "disk-read", "meta"};
                for (size_t i = 0; i < VMENV_ARRAY_SIZE(kinds); i++) {
                        struct vmenv_bench_stats s;
                        ok(vmenv_bench_result_stats(rep->results[0], kinds[i], &s, NULL) &&
                               s.n == 2 && s.min > 0,
                           "host '%s' has 2 positive samples", kinds[i]);
                }
        }
        vmenv_bench_report_free(rep);
        vmenv_bench_target_free(t);
        vmenv_error_clear(&err);

        /* the probe's own refusal of bad arguments reaches the error */
        char *const argv[] = {(char *)probe, (char *)"--runs", (char *)"0", NULL};
        char *out = NULL;
        ok(vmenv_bench_spawn(argv, 1024, &out, &err) < 0 && strstr(err.msg, "exit status 2") &&
               strstr(err.msg, "usage: vmenv-probe"),
           "a failing program's exit status and stderr are in the error");
        vmenv_error_clear(&err);
        char *const big[] = {(char *)probe,     (char *)"--runs",  (char *)"1",    (char *)"--only",
                             (char *)"syscall", (char *)"--scale", (char *)"0.01", NULL};
        ok(vmenv_bench_spawn(big, 16, &out, &err) < 0 && strstr(err.msg, "more than 16 bytes"),
           "captured output has a limit");
        vmenv_error_clear(&err);
}

static void test_procs(void)
{
        pid_t pid = fork();
        if (pid == 0) {
                execlp("sleep", "sleep", "30", (char *)NULL);
                _exit(127);
        }
        usleep(200000);
        struct vmenv_bench_result *r = vmenv_bench_result_new("x", NULL);
        vmenv_error err = VMENV_ERROR_INIT;
        ok(vmenv_bench_lifecycle_procs(pid, 1, 1, r, &err) == 0, "lifecycle of a sleeping process");
        struct vmenv_bench_stats s;
        ok(vmenv_bench_result_stats(r, "idle-rss", &s, NULL) && s.median > 100 * 1024,
           "its RSS is counted");
        ok(vmenv_bench_result_stats(r, "idle-pss", &s, NULL) && s.median > 0, "its PSS is counted");
        ok(vmenv_bench_result_stats(r, "idle-cpu", &s, NULL) && s.median < 200,
           "sleeping costs (almost) no CPU");
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        ok(vmenv_bench_lifecycle_procs(pid, 1, 1, r, &err) < 0 && strstr(err.msg, "gone"),
           "a gone process is an error");
        vmenv_error_clear(&err);
        vmenv_bench_result_free(r);
}

int main(void)
{
        test_ci();
        test_cpus();
        test_bands();
        test_stats();
        test_parse();
        test_mbr();
        test_outputs();
        test_compare();
        test_adaptive();
        test_nothing_to_run();
        test_host_run();
        test_procs();
        return done_testing();
}
