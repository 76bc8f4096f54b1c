/* vmenv bench: the same workloads (vmenv-probe) and lifecycle costs measured
 * on the host, in a container running the box's root filesystem and in the
 * VM, reported side by side. No json-c or libvirt type here. */
#ifndef VMENV_BENCH_H
#define VMENV_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "vmenv/error.h"

/* ---- results ----------------------------------------------------------- */

/* One measured value. Probe workloads carry the probe's elapsed ns and
 * checksum; lifecycle figures carry ns = 0 and checksum NULL. */
struct vmenv_bench_sample {
        char *kind; /* "cpu", "disk-write", "start-stopped", "idle-rss", ... */
        int run;    /* 1-based */
        double value;
        char *unit; /* "MiB/s", "ns/call", "ms", "bytes", ... */
        uint64_t ns;
        uint64_t cpu_ns; /* the probe's CPU time meanwhile; 0 when not reported */
        uint64_t work;
        char *checksum; /* hex, or NULL */
};

/* Everything measured on one target. */
struct vmenv_bench_result {
        char *target; /* "host", "container", "vm" */
        char *label;  /* "container (bwrap)", "vm (TCG emulation)" */
        struct vmenv_bench_sample *samples;
        size_t n_samples;
        char **info;  /* "key=value": runtime version, hypervisor mode, ... */
        char **notes; /* things a reader must know (how the disk is backed) */
};

struct vmenv_bench_report {
        struct vmenv_bench_result **results; /* host first when measured */
        size_t n_results;
        char **host_info; /* "cpu=...", "kernel=...", "kvm=...", "cpus=..." */
        char **warnings;  /* medians not settled, outliers, checksum mismatches */
        int runs;         /* runs of every workload at least */
        int max_runs;     /* at most (== runs: a fixed count) */
        int warmup;       /* runs before those, discarded */
        int budget_s;     /* time budget per figure for runs beyond 'runs' */
};

struct vmenv_bench_result *vmenv_bench_result_new(const char *target, const char *label);
void vmenv_bench_result_free(struct vmenv_bench_result *r);
void vmenv_bench_report_free(struct vmenv_bench_report *r);
void vmenv_bench_add(struct vmenv_bench_result *r, const char *kind, int run, double value,
                     const char *unit);
/* Records key=value, replacing an earlier value of key. */
void vmenv_bench_add_info(struct vmenv_bench_result *r, const char *key, const char *value);

/* Parses vmenv-probe's JSON lines (at most 4096 lines) into r. A "refused"
 * line (a workload too short for the clock) is an error. */
int vmenv_bench_parse_probe(const char *out, struct vmenv_bench_result *r, vmenv_error *err);

/* ---- figures and statistics -------------------------------------------- */

struct vmenv_bench_figure {
        const char *kind;
        const char *title;     /* "CPU (FNV-1a hash)" */
        bool higher_is_better; /* throughput; otherwise a time or a cost */
        bool lifecycle;        /* not compared with the host */
        const char *probe;     /* the probe's --only kind that measures it */
};
/* The known figures, in report order; terminated by kind == NULL. */
extern const struct vmenv_bench_figure vmenv_bench_figures[];
const struct vmenv_bench_figure *vmenv_bench_figure_find(const char *kind);

struct vmenv_bench_stats {
        size_t n;
        double median, min, max;
        double spread; /* (max - min) / median, 0 for one sample */
        /* The median's 95 % confidence interval from order statistics (no
         * assumption about the distribution): [v(j), v(n+1-j)] with the
         * largest j whose binomial coverage is still >= 95 %. Below 6
         * samples no such pair exists: ci_ok is false, lo/hi = min/max. */
        bool ci_ok;
        double ci_lo, ci_hi;
        double ci_rel; /* max(median - lo, hi - median) / median */
        /* Median absolute deviation; a sample is an outlier when its
         * modified z-score 0.6745 |x - median| / MAD exceeds 3.5
         * (Iglewicz and Hoaglin). Outliers are counted, never dropped: the
         * median does not need it. */
        double mad;
        size_t n_outliers;
        /* Median of CPU time / wall time over the samples that carry both
         * (0 when none): well below 1 for a CPU-bound figure means the
         * workload waited for a CPU (steal, contention). */
        double cpu_per_wall;
};
#define VMENV_BENCH_CI_TARGET 0.05 /* runs are added until ci_rel is within this */
#define VMENV_BENCH_CI_MIN_RUNS 6

/* Sorts v in place. n == 0 gives n = 0 and zeros. */
void vmenv_bench_stats_of(double *v, size_t n, struct vmenv_bench_stats *s);
/* Whether x is an outlier against s (see above). */
bool vmenv_bench_is_outlier(const struct vmenv_bench_stats *s, double x);
/* Statistics of one kind in a result; false when it has no sample. */
bool vmenv_bench_result_stats(const struct vmenv_bench_result *r, const char *kind,
                              struct vmenv_bench_stats *s, const char **unit);
/* How many times the host's cost the target's is (> 1: slower than the
 * host): target/host for times, host/target for throughput. */
double vmenv_bench_cost_ratio(const struct vmenv_bench_figure *f, double host, double target);
/* Whether the median of kind in r is settled: at least 6 samples and the
 * 95 % CI within +-5 %. */
bool vmenv_bench_settled(const struct vmenv_bench_result *r, const char *kind);
/* Fills report->warnings: medians whose 95 % CI is wider than +-5 % (or
 * has too few runs), outliers, checksums that differ between targets or
 * runs for the same kind. */
void vmenv_bench_check(struct vmenv_bench_report *report);

/* ---- reference bands (bench-bands.c) ------------------------------------ */

/* What the literature reports for a figure on a KVM VM or a container, as
 * the cost ratio to native (vmenv_bench_cost_ratio: > 1 slower). */
struct vmenv_bench_band {
        const char *kind;
        const char *target; /* "vm" (a KVM guest) or "container" */
        double lo, hi;
        const char *source;
};
/* Terminated by kind == NULL. */
extern const struct vmenv_bench_band vmenv_bench_bands[];
const struct vmenv_bench_band *vmenv_bench_band_find(const char *kind, const char *target);

struct vmenv_bench_band_check {
        const struct vmenv_bench_band *band;
        double ratio;
        /* the ratio's interval from both medians' 95 % CIs (lo = hi = ratio
         * when either has too few runs for one) */
        double ratio_lo, ratio_hi;
        /* 0 inside, -1 below (cheaper than the band), +1 above; 2: the
         * ratio is outside but its interval overlaps the band (undecided) */
        int where;
        const char *cause; /* the likely cause vmenv knows of a result outside, or NULL */
};
/* Checks the ratio to the host of figure f on r against its band; false
 * when there is no band or no ratio. */
bool vmenv_bench_band_check(const struct vmenv_bench_report *rep,
                            const struct vmenv_bench_figure *f, const struct vmenv_bench_result *r,
                            struct vmenv_bench_band_check *out);
/* A short mark for a table cell or a bar label: " [in band]",
 * " [outside band: TCG]", or "" without a band. Static storage. */
const char *vmenv_bench_band_mark(const struct vmenv_bench_report *rep,
                                  const struct vmenv_bench_figure *f,
                                  const struct vmenv_bench_result *r);
/* The bands and every result outside one, with its likely cause. */
void vmenv_bench_print_bands(const struct vmenv_bench_report *rep, FILE *f);
/* The ratio to the host, 0 when there is none (a lifecycle figure, no host). */
double vmenv_bench_ratio_to_host(const struct vmenv_bench_report *rep,
                                 const struct vmenv_bench_figure *f,
                                 const struct vmenv_bench_result *r);

/* ---- output ------------------------------------------------------------ */

/* The human table: conditions, then one row per figure with each target's
 * median, spread and ratio to the host. */
void vmenv_bench_print_table(const struct vmenv_bench_report *report, FILE *f);
/* Every raw sample, statistics, conditions and warnings as one JSON object. */
char *vmenv_bench_json(const struct vmenv_bench_report *report);
/* An SVG bar chart: workloads as cost ratios to the host (log scale), and
 * lifecycle figures per target (log scale, labelled with absolute values).
 * Every bar is a <rect class="bar" data-figure="KIND" data-target="T">. */
char *vmenv_bench_svg(const struct vmenv_bench_report *report);

/* ---- runs compared (bench-compare.c) ------------------------------------ */

/* Reads a run that vmenv_bench_json wrote (outside input: every field is
 * checked, 16 MiB, 8 targets, 100000 samples at most); the statistics are
 * computed again from the raw samples. len bytes of text, no NUL needed. */
int vmenv_bench_report_parse(const char *text, size_t len, struct vmenv_bench_report **out,
                             vmenv_error *err);
int vmenv_bench_report_load(const char *path, struct vmenv_bench_report **out, vmenv_error *err);
/* Where --baseline stores a run: $VMENV_HOME/bench-baseline.json. */
char *vmenv_bench_baseline_path(void);
/* B beside A, figure by figure and target by target, with B's cost
 * relative to A (> 1: B is slower) and whether their 95 % CIs overlap. */
void vmenv_bench_compare_table(const struct vmenv_bench_report *a, const char *a_name,
                               const struct vmenv_bench_report *b, const char *b_name, FILE *f);
/* The same as bars on a log axis: <rect class="bar" data-figure data-target>. */
char *vmenv_bench_compare_svg(const struct vmenv_bench_report *a, const char *a_name,
                              const struct vmenv_bench_report *b, const char *b_name);

/* ---- targets ----------------------------------------------------------- */

struct vmenv_bench_opts {
        int runs;                /* runs at least (--runs N makes it exactly N) */
        int max_runs;            /* runs at most while a median is not settled */
        int warmup;              /* discarded runs first, default 1 */
        int budget_s;            /* seconds per figure for the runs beyond 'runs' */
        const char *pin;         /* --pin CPUS: host CPU list, or NULL */
        const char *net_server;  /* "PORT" of the running server, set by vmenv_bench_run */
        const char *workloads;   /* probe kinds "cpu,mem,...", NULL = all */
        double scale;            /* probe --scale, default 1 */
        int idle_seconds;        /* lifecycle idle window, default 10 */
        const char *probe_path;  /* the static vmenv-probe on the host */
        const char *scratch_dir; /* host folder on disk for host/container data */
};

/* A place where the workloads run. vmenv_bench_run() calls prepare on
 * every target, then run once per run and target, interleaved (run 1 on
 * each target, then run 2, ...; each call is one probe invocation with
 * --runs 1 and every workload), then lifecycle (may be NULL: no lifecycle
 * figures), then cleanup (always, also after a failure; must accept a
 * half-prepared target; frees data).
 *
 * The VM target is vmenv_bench_vm_target_new() below; the machine commands
 * give it struct vmenv_bench_vm_ops. What it does with them:
 *   label "vm (KVM)" or "vm (TCG emulation)" from ops->hypervisor;
 *   prepare: waits for SSH, creates /var/tmp/vmenv-bench.PID on the guest's
 *     own disk (its filesystem type goes in the notes), uploads the probe;
 *   run: the probe over SSH, every word through vmenv_shell_quote, output
 *     capped at 1 MiB, a non-zero exit an error quoting the probe's stderr;
 *   lifecycle: "idle-rss"/"idle-pss"/"idle-cpu" of QEMU's pid and its
 *     descendants (vmenv_bench_lifecycle_procs), "disk-added" (allocated
 *     bytes of the overlay), "start-stopped" (halt, then up to the first
 *     'true' over SSH, once per run), "start-cold" (destroy, then up to the
 *     first 'true', once);
 *   cleanup: removes the guest folder. */
struct vmenv_bench_target {
        const char *name;
        char *label;
        /* Where the target's probe reaches the host's 127.0.0.1 for the
         * network workloads ("127.0.0.1", or "gateway" in a guest on
         * user-mode networking); NULL: no network workloads here. */
        const char *net_addr;
        void *data;
        int (*prepare)(struct vmenv_bench_target *t, const struct vmenv_bench_opts *o,
                       struct vmenv_bench_result *r, vmenv_error *err);
        /* Runs the probe with args (not including the program or --dir: the
         * target adds its own) and returns its stdout in *out; *out NULL
         * when none of the kinds in args' --only runs on this target (the
         * veth path runs "net" only). */
        int (*run)(struct vmenv_bench_target *t, const struct vmenv_bench_opts *o,
                   char *const args[], char **out, vmenv_error *err);
        int (*lifecycle)(struct vmenv_bench_target *t, const struct vmenv_bench_opts *o,
                         struct vmenv_bench_result *r, vmenv_error *err);
        void (*cleanup)(struct vmenv_bench_target *t);
};
/* The VM target, done here over SSH (bench-vm.c): the machine commands
 * only say how to reach and drive the machine. Every callback returns 0,
 * or -1 with err set; a NULL callback skips the figures that need it. */
struct vmenv_ssh_target;
/* A network of the machine that this host is on too, through a libvirt
 * bridge: the NAT network or a private network. The host reaches the
 * guest's address there directly (no forward), so the bench measures that
 * path from the host to a probe server in the guest (bench-bridge.c). */
struct vmenv_bench_vm_bridge {
        const char *kind;    /* "nat" or "private" */
        const char *network; /* the private network's name; "vmenv" for nat */
        const char *addr;    /* the guest's IPv4 address on it */
};
#define VMENV_BENCH_MAX_BRIDGES 4 /* with host, container, veth and vm: 8 targets */
struct vmenv_bench_vm_ops {
        void *ctx;
        const char *hypervisor; /* "kvm", or "tcg" with why: "tcg: no /dev/kvm" */
        /* How the guest reaches the host's 127.0.0.1 ("gateway" on user-mode
         * networking); NULL: no network workloads, since on any other
         * network that address is not the host's loopback. */
        const char *net_addr;
        /* The machine's NAT and private networks, when this host is on
         * them (not for a remote hypervisor): one target each. */
        struct vmenv_bench_vm_bridge bridges[VMENV_BENCH_MAX_BRIDGES];
        size_t n_bridges;
        /* The running machine's SSH endpoint and credentials; asked again
         * after every up, since a first boot replaces the key. */
        int (*ssh_target)(void *ctx, struct vmenv_ssh_target *t, vmenv_error *err);
        /* As 'vmenv up' / 'halt' / 'destroy' of the machine; up returns once
         * the domain runs (bench itself waits for SSH and times it). */
        int (*up)(void *ctx, vmenv_error *err);
        int (*halt)(void *ctx, vmenv_error *err);
        int (*destroy)(void *ctx, vmenv_error *err);
        /* QEMU's pid (from /run/libvirt/qemu/DOMAIN.pid) and the machine's
         * disk overlay file on the host. */
        int (*qemu_pid)(void *ctx, int *pid, vmenv_error *err);
        int (*disk_path)(void *ctx, char **path, vmenv_error *err);
};
/* ops is copied; ops->ctx stays the caller's. The probe and the data go to
 * /var/tmp/vmenv-bench.PID on the guest's own disk (removed at cleanup). */
struct vmenv_bench_target *vmenv_bench_vm_target_new(const struct vmenv_bench_vm_ops *ops);

/* The network workloads from the host to the guest's address on bridge
 * b (one of ops->bridges): target "vm-nat", "vm-private" or
 * "vm-private-NAME", labelled "vm (nat, TCG emulation)" and so on. The
 * guest runs 'vmenv-probe --serve --bind ADDR' (uploaded to
 * /var/tmp/vmenv-bench-net.PID) as the command of an SSH session that a
 * child of vmenv holds: when the child is killed or vmenv dies, the
 * session ends and the guest's probe dies with its parent (the probe sets
 * PR_SET_PDEATHSIG). The host's probe is the client. */
struct vmenv_bench_target *vmenv_bench_bridge_target_new(const struct vmenv_bench_vm_ops *ops,
                                                         const struct vmenv_bench_vm_bridge *b);

/* A machine of the project as a bench subject (src/core/bench-machine.c):
 * brought up if needed, with ops for vmenv_bench_vm_target_new and the
 * path of its box image for the container target. */
struct vmenv_project;
struct vmenv_machine_config;
struct vmenv_bench_machine {
        struct vmenv_bench_vm_ops ops;
        char *image;
        void *ctx;
};
struct vmenv_bench_machine *vmenv_bench_machine_new(struct vmenv_project *p,
                                                    const struct vmenv_machine_config *m,
                                                    vmenv_error *err);
void vmenv_bench_machine_free(struct vmenv_bench_machine *bm);

/* Runs cleanup and frees the label and the struct; NULL is fine. */
void vmenv_bench_target_free(struct vmenv_bench_target *t);

/* The host itself: the probe runs from o->probe_path, data in a fresh
 * folder under o->scratch_dir. */
struct vmenv_bench_target *vmenv_bench_host_target_new(void);

/* A container whose root filesystem is image (qcow2 or raw, MBR-partitioned
 * or a bare filesystem; a .box is unpacked first), mounted read-only.
 * runtime is "podman", "docker", "bwrap" or NULL to pick the first that
 * actually starts a container here. Needs root (loop mount). */
struct vmenv_bench_target *vmenv_bench_container_target_new(const char *image, const char *runtime,
                                                            vmenv_error *err);
/* bubblewrap's command line that runs the probe with args (no program) in
 * the prepared container target t's root filesystem, sharing the caller's
 * network; NULL while t is not prepared. */
char **vmenv_bench_container_bwrap_argv(const struct vmenv_bench_target *t, const char *probe,
                                        char *const args[]);
/* "container-veth": the network workloads only, in bubblewrap inside a
 * network namespace of the bench's own, against a server in a second one
 * joined by a veth pair (bench-veth.c). ctr is the container target, listed
 * before this one. NULL (and an info line saying why) when not root or
 * bwrap, ip or nsenter is missing. */
struct vmenv_bench_target *vmenv_bench_veth_target_new(const struct vmenv_bench_target *ctr);

/* The offset in bytes of the first Linux partition of a raw disk image
 * (MBR), or 0 when the image has no partition table. */
int vmenv_bench_partition_offset(const char *raw_path, uint64_t *offset, vmenv_error *err);

/* Samples idle-rss, idle-pss (sums over pid and its descendants),
 * idle-cpu (their utime+stime over idle_seconds) for an instance whose
 * processes are pid and its descendants; run is the sample's run number. */
int vmenv_bench_lifecycle_procs(int pid, int idle_seconds, int run, struct vmenv_bench_result *r,
                                vmenv_error *err);

/* The filesystem type of path ("ext4", "tmpfs", "overlay", ...), for the
 * notes that say where each target's disk workload wrote. */
const char *vmenv_bench_fs_type(const char *path);

/* Host facts recorded with every report: CPU model, kernel, cores, KVM
 * (tried with KVM_CREATE_VM), memory, load average, date. */
char **vmenv_bench_host_info(void);

/* Runs every target (a failing target stops the bench with its error) and
 * fills *report. */
int vmenv_bench_run(struct vmenv_bench_target **targets, size_t n_targets,
                    const struct vmenv_bench_opts *o, struct vmenv_bench_report **report,
                    vmenv_error *err);

/* Parses a CPU list ("0", "0-3", "0,2-3"; CPUs below 1024) into a mask of
 * 64-bit words (bit i of word i / 64). */
int vmenv_bench_parse_cpus(const char *list, uint64_t mask[16], vmenv_error *err);
/* Pins the calling process (pid 0) or every thread of pid to mask. */
int vmenv_bench_pin(int pid, const uint64_t mask[16], vmenv_error *err);

/* The network workloads' server: vmenv-probe --serve on 127.0.0.1, killed
 * by _stop and by the kernel when vmenv dies. A server that prints no port
 * is an error that says what it printed or how it ended. */
struct vmenv_bench_server {
        int pid;
        int port;
};
int vmenv_bench_server_start(const char *probe, struct vmenv_bench_server *s, vmenv_error *err);
/* The same inside the network namespace of netns_pid (0: ours), bound to
 * bind (NULL: 127.0.0.1). */
int vmenv_bench_server_start_in(const char *probe, int netns_pid, const char *bind,
                                struct vmenv_bench_server *s, vmenv_error *err);
/* The same with child(ctx) as the server: it runs in a child of vmenv
 * (PR_SET_PDEATHSIG set) whose stdout and stderr are read like the
 * probe's, and must print the probe's port line within wait_ms; its return
 * value is the child's exit status. The VM's bridge path runs the guest's
 * probe server this way, over an SSH session of the child's own. */
int vmenv_bench_server_start_fn(int (*child)(void *ctx), void *ctx, int wait_ms,
                                struct vmenv_bench_server *s, vmenv_error *err);
void vmenv_bench_server_stop(struct vmenv_bench_server *s);
/* The probe arguments of a target that runs only the network workloads
 * against its own server: args without --only and --net, then "--only net
 * --net SPEC". false (and *out NULL) when args' --only lacks "net". */
bool vmenv_bench_net_args(char *const args[], const char *spec, char ***out);

/* Whether word is one of the comma-separated list's words. */
bool vmenv_bench_list_has(const char *list, const char *word);
/* Whether prog is an executable file in one of $PATH's folders. */
bool vmenv_bench_in_path(const char *prog);

/* Runs argv (no shell) and captures stdout (at most max bytes) and the
 * tail of stderr; a non-zero exit is an error quoting stderr. Exported for
 * the targets and tests. */
int vmenv_bench_spawn(char *const argv[], size_t max, char **out, vmenv_error *err);

#endif
