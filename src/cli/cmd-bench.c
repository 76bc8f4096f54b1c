/* vmenv bench: runs the same workloads (vmenv-probe) on the host, in a
 * container of the box's root filesystem and in the VM, and reports them
 * side by side with their lifecycle costs: a table, --json, --plot SVG. */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "vmenv/bench.h"
#include "vmenv/cleanup.h"
#include "vmenv/config.h"
#include "vmenv/log.h"
#include "vmenv/machine.h"
#include "vmenv/util.h"

static const struct vmenv_opt bench_opts[] = {
    {"runs", 0, "N", "exactly N runs of every workload (default: 6 and more until settled)"},
    {"max-runs", 0, "N", "at most N runs while a median's 95 % CI is wider than ±5 % (default 30)"},
    {"budget", 0, "SECONDS", "time per figure for runs beyond the first ones (default 20)"},
    {"warmup", 0, "N", "discarded runs before the measured ones (default 1)"},
    {"compare", 0, "A.json", "compare run A with run B.json (an argument), or with this run"},
    {"baseline", 0, NULL, "store this run as the baseline ('--compare baseline' reads it)"},
    {"pin", 0, "CPUS", "pin the workloads and the VM's vCPUs to host CPUs, like 0 or 0,2-3"},
    {"only", 0, "TARGET,...", "where to run: host, container, vm (default all)"},
    {"workloads", 0, "KIND,...",
     "cpu, mem, gups, syscall, spawn, disk, randio, meta, net (default all)"},
    {"plot", 0, "FILE.svg", "also write an SVG bar chart"},
    {"container-runtime", 0, "RUNTIME", "podman, docker or bwrap (default: the first that works)"},
    {"image", 0, "FILE", "box image (qcow2, raw or .box) for the container, without a machine"},
    {"idle", 0, "SECONDS", "idle window for the idle CPU figure (default 10)"},
    {"scale", 0, "X", "multiply every workload's size (default 1)"},
    {"dir", 0, "DIR", "host folder on disk for the disk workloads (default /var/tmp)"},
    {0},
};

/* The probe next to the vmenv binary (installed or in the build tree), or
 * $VMENV_PROBE. */
static char *find_probe(vmenv_error *err)
{
        const char *env = getenv("VMENV_PROBE");
        if (env && *env)
                return vmenv_strdup(env);
        char self[4096];
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n > 0) {
                self[n] = 0;
                const char *dir = dirname(self);
                const char *rel[] = {"vmenv-probe", "../probe/vmenv-probe",
                                     "../libexec/vmenv/vmenv-probe"};
                for (size_t i = 0; i < VMENV_ARRAY_SIZE(rel); i++) {
                        char *p = vmenv_path_join(dir, rel[i]);
                        if (access(p, X_OK) == 0)
                                return p;
                        free(p);
                }
        }
        vmenv_error_set(err, VMENV_EXIT_SOFTWARE, "cannot find the 'vmenv-probe' program");
        vmenv_error_hint(err, "set VMENV_PROBE to the vmenv-probe built with vmenv");
        return NULL;
}

static int parse_int(const char *s, const char *what, int lo, int hi, int *out, vmenv_error *err)
{
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (errno || *end || end == s || v < lo || v > hi)
                return vmenv_error_set(err, VMENV_EXIT_USAGE, "invalid %s '%s': want %d to %d",
                                       what, s, lo, hi);
        *out = (int)v;
        return 0;
}

static int check_list(const char *list, const char *what, const char *const *known,
                      vmenv_error *err)
{
        _cleanup_free_ char *copy = vmenv_strdup(list);
        char *save = NULL, *w = strtok_r(copy, ",", &save);
        if (!w)
                return vmenv_error_set(err, VMENV_EXIT_USAGE, "empty %s list", what);
        for (; w; w = strtok_r(NULL, ",", &save)) {
                size_t i;
                for (i = 0; known[i] && !vmenv_streq(known[i], w); i++)
                        ;
                if (!known[i]) {
                        vmenv_error_set(err, VMENV_EXIT_USAGE, "unknown %s '%s'", what, w);
                        const char *near = vmenv_did_you_mean(w, known);
                        if (near)
                                vmenv_error_hint(err, "did you mean '%s'?", near);
                        return -1;
                }
        }
        return 0;
}

static char *run_path(const char *arg)
{
        return vmenv_streq(arg, "baseline") ? vmenv_bench_baseline_path() : vmenv_strdup(arg);
}

/* Run A (a file) beside b: the table, and the SVG when asked for. */
static int compare(const char *a_arg, const struct vmenv_bench_report *b, const char *b_name,
                   const char *plot, vmenv_error *err)
{
        _cleanup_free_ char *a_path = run_path(a_arg);
        struct vmenv_bench_report *a = NULL;
        int rc = 0;
        if (vmenv_bench_report_load(a_path, &a, err) < 0)
                return -1;
        if (plot) {
                _cleanup_free_ char *svg = vmenv_bench_compare_svg(a, a_path, b, b_name);
                if ((rc = vmenv_write_file_atomic(plot, svg, strlen(svg), 0644, err)) < 0)
                        vmenv_error_prefix(err, "cannot write the plot");
        }
        if (rc == 0) {
                vmenv_bench_compare_table(a, a_path, b, b_name, stdout);
                if (plot)
                        printf("plot: %s\n", plot);
        }
        vmenv_bench_report_free(a);
        return rc;
}

static int compare_files(const char *a_arg, const char *b_arg, const char *plot, vmenv_error *err)
{
        _cleanup_free_ char *b_path = run_path(b_arg);
        struct vmenv_bench_report *b = NULL;
        if (vmenv_bench_report_load(b_path, &b, err) < 0)
                return -1;
        int rc = compare(a_arg, b, b_path, plot, err);
        vmenv_bench_report_free(b);
        return rc;
}

static int store_baseline(const struct vmenv_bench_report *rep, vmenv_error *err)
{
        _cleanup_free_ char *home = vmenv_home(), *path = vmenv_bench_baseline_path();
        _cleanup_free_ char *json = vmenv_bench_json(rep);
        if (vmenv_mkdir_p(home, 0700, err) < 0 ||
            vmenv_write_file_atomic(path, json, strlen(json), 0644, err) < 0)
                return vmenv_error_prefix(err, "cannot store the baseline");
        vmenv_info("bench: this run is the baseline now: %s", path);
        return 0;
}

static void free_targets(struct vmenv_bench_target **t, size_t n)
{
        for (size_t i = 0; i < n; i++)
                vmenv_bench_target_free(t[i]);
}

static int cmd_bench_run(struct vmenv_ctx *ctx, const struct vmenv_args *a, vmenv_error *err)
{
        static const char *const target_names[] = {"host", "container", "vm", NULL};
        static const char *const kinds[] = {"cpu",  "mem",    "gups", "syscall", "spawn",
                                            "disk", "randio", "meta", "net",     NULL};
        struct vmenv_bench_opts o = {.runs = VMENV_BENCH_CI_MIN_RUNS,
                                     .max_runs = 30,
                                     .warmup = 1,
                                     .budget_s = 20,
                                     .scale = 1,
                                     .idle_seconds = 10,
                                     .scratch_dir = "/var/tmp"};
        const char *only = vmenv_args_get(a, "only"), *v;
        const char *image = vmenv_args_get(a, "image"), *plot = vmenv_args_get(a, "plot");
        const char *machine = a->argc > 0 ? a->argv[0] : NULL;

        /* --runs N alone is a fixed count, as before the runs adapted */
        if ((v = vmenv_args_get(a, "runs"))) {
                if (parse_int(v, "--runs", 1, 100, &o.runs, err) < 0)
                        return -1;
                o.max_runs = o.runs;
        }
        if ((v = vmenv_args_get(a, "max-runs")) &&
            parse_int(v, "--max-runs", 1, 1000, &o.max_runs, err) < 0)
                return -1;
        if ((v = vmenv_args_get(a, "budget")) &&
            parse_int(v, "--budget", 0, 3600, &o.budget_s, err) < 0)
                return -1;
        if ((v = vmenv_args_get(a, "warmup")) &&
            parse_int(v, "--warmup", 0, 10, &o.warmup, err) < 0)
                return -1;
        if ((o.pin = vmenv_args_get(a, "pin"))) {
                uint64_t mask[16];
                if (vmenv_bench_parse_cpus(o.pin, mask, err) < 0)
                        return -1;
        }
        if ((v = vmenv_args_get(a, "idle")) &&
            parse_int(v, "--idle", 1, 600, &o.idle_seconds, err) < 0)
                return -1;
        if ((v = vmenv_args_get(a, "scale"))) {
                char *end;
                o.scale = strtod(v, &end);
                if (*end || end == v || !(o.scale >= 0.001 && o.scale <= 100))
                        return vmenv_error_set(err, VMENV_EXIT_USAGE,
                                               "invalid --scale '%s': want 0.001 to 100", v);
        }
        if ((v = vmenv_args_get(a, "dir")))
                o.scratch_dir = v;
        if ((o.workloads = vmenv_args_get(a, "workloads")) &&
            check_list(o.workloads, "workload", kinds, err) < 0)
                return -1;
        if (only && check_list(only, "target", target_names, err) < 0)
                return -1;
        if (!only)
                only = "host,container,vm";
        const char *cmp = vmenv_args_get(a, "compare");
        if (cmp && machine) {
                /* two stored runs: nothing is measured */
                if (ctx->json || vmenv_args_has(a, "baseline"))
                        return vmenv_error_set(err, VMENV_EXIT_USAGE,
                                               "--compare A.json B.json only prints and plots");
                return compare_files(cmp, machine, plot, err);
        }
        if (!vmenv_path_exists(o.scratch_dir))
                return vmenv_error_set(err, VMENV_EXIT_NOINPUT, "cannot find folder '%s'",
                                       o.scratch_dir);
        if (vmenv_streq(vmenv_bench_fs_type(o.scratch_dir), "tmpfs"))
                vmenv_warn("'%s' is a tmpfs: the disk figures measure memory, not a disk",
                           o.scratch_dir);

        _cleanup_free_ char *probe = find_probe(err);
        if (!probe)
                return -1;
        o.probe_path = probe;

        struct vmenv_bench_target *targets[4 + VMENV_BENCH_MAX_BRIDGES] = {0};
        struct vmenv_config *config = NULL;
        struct vmenv_project *project = NULL;
        struct vmenv_bench_machine *bm = NULL;
        size_t n = 0;
        int rc = -1;

        /* A machine of the project: named, or the only/primary one when the
         * VM is wanted or no --image says what the container runs. */
        if (machine || vmenv_bench_list_has(only, "vm") || !image) {
                const struct vmenv_machine_config *m;
                if (!(config = vmenv_config_load_project(NULL, err))) {
                        if (!machine && !vmenv_bench_list_has(only, "vm")) {
                                vmenv_error_set(err, VMENV_EXIT_USAGE,
                                                "the container target needs a box image");
                                vmenv_error_hint(err, "pass --image FILE (a qcow2, raw or .box "
                                                      "file), or run it in a vmenv project");
                        }
                        goto out;
                }
                /* on the machine's own hypervisor, not the first machine's */
                if (!(m = vmenv_project_select_one(config, machine, err)) ||
                    !(project = vmenv_project_open_uri(config, &vmenv_provider_libvirt,
                                                       m->libvirt.uri, err)) ||
                    !(bm = vmenv_bench_machine_new(project, m, err)))
                        goto out;
                if (!image)
                        image = bm->image;
        }
        if (vmenv_bench_list_has(only, "host"))
                targets[n++] = vmenv_bench_host_target_new();
        if (vmenv_bench_list_has(only, "container")) {
                struct vmenv_bench_target *t = vmenv_bench_container_target_new(
                    image, vmenv_args_get(a, "container-runtime"), err);
                if (!t)
                        goto out;
                targets[n++] = t;
                /* the container's second network path, through a veth pair */
                if (!o.workloads || vmenv_bench_list_has(o.workloads, "net"))
                        if ((t = vmenv_bench_veth_target_new(targets[n - 1])))
                                targets[n++] = t;
        }
        if (vmenv_bench_list_has(only, "vm")) {
                targets[n++] = vmenv_bench_vm_target_new(&bm->ops);
                /* its NAT and private networks, from the host to the guest */
                if (!o.workloads || vmenv_bench_list_has(o.workloads, "net"))
                        for (size_t k = 0; k < bm->ops.n_bridges; k++)
                                targets[n++] =
                                    vmenv_bench_bridge_target_new(&bm->ops, &bm->ops.bridges[k]);
        }

        struct vmenv_bench_report *rep = NULL;
        rc = vmenv_bench_run(targets, n, &o, &rep, err);
        free_targets(targets, n);
        n = 0;
        if (rc < 0)
                goto out;

        rc = -1;
        if (vmenv_args_has(a, "baseline") && store_baseline(rep, err) < 0) {
                vmenv_bench_report_free(rep);
                goto out;
        }
        if (plot && !cmp) {
                _cleanup_free_ char *svg = vmenv_bench_svg(rep);
                if (vmenv_write_file_atomic(plot, svg, strlen(svg), 0644, err) < 0) {
                        vmenv_bench_report_free(rep);
                        vmenv_error_prefix(err, "cannot write the plot");
                        goto out;
                }
        }
        if (ctx->json) {
                _cleanup_free_ char *json = vmenv_bench_json(rep);
                printf("%s\n", json);
        } else {
                vmenv_bench_print_table(rep, stdout);
                if (plot && !cmp)
                        printf("plot: %s\n", plot);
        }
        if (cmp && !ctx->json) {
                putchar('\n');
                if (compare(cmp, rep, "this run", plot, err) < 0) {
                        vmenv_bench_report_free(rep);
                        goto out;
                }
        }
        vmenv_bench_report_free(rep);
        rc = 0;
out:
        free_targets(targets, n);
        vmenv_bench_machine_free(bm);
        vmenv_project_close(project);
        vmenv_config_free(config);
        return rc;
}

const struct vmenv_cmd vmenv_cmd_bench = {
    .name = "bench",
    .usage = "[MACHINE | --compare A.json B.json] [--baseline] [--compare A.json|baseline] "
             "[--runs N | --max-runs N --budget S] [--warmup N] [--pin CPUS] "
             "[--only host,container,vm] [--json] [--plot FILE.svg] "
             "[--container-runtime podman|docker|bwrap] [--image FILE]",
    .summary = "measure workloads and lifecycle costs: host vs container vs VM",
    .help = "Runs vmenv-probe (CPU, memory, syscalls, process creation, disk, small files)\n"
            "on the host, in a container whose root filesystem is the box image (needs\n"
            "root: the image is loop-mounted read-only) and in the VM, and reports the\n"
            "median of each figure with its 95 % confidence interval, its ratio to the\n"
            "host and the published reference band. Runs are added until every median\n"
            "is known to ±5 % or its time budget is spent. See docs/bench.md.",
    .opts = bench_opts,
    .min_args = 0,
    .max_args = 1,
    .flags = VMENV_CMD_JSON,
    .run = cmd_bench_run,
};
