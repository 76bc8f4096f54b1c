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
                spread += strstr(*w, "'cpu' spread 22 %") != NULL;
                sums += strstr(*w, "'syscall' checksum 0000000000000001 differs") != NULL;
        }
        ok(spread == 1, "a spread above 10 %% is warned about once per target");
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
        ok(count(svg, "data-figure=\"cpu\"") == 2, "bars carry their figure");
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
        free(buf);
        vmenv_bench_report_free(rep);
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
        test_stats();
        test_parse();
        test_mbr();
        test_outputs();
        test_host_run();
        test_procs();
        return done_testing();
}
