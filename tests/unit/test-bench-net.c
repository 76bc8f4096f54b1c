/* The bench's network side: the probe's server (a port, its errors, its
 * death with its parent; started by a child function, as the VM's bridge
 * paths do over SSH), the network-only probe arguments, a target with no
 * network address, and the bands of the VM's NAT and private-network
 * paths. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"
#include "vmenv/bench.h"
#include "vmenv/cleanup.h"
#include "vmenv/util.h"

/* A target that reports one cpu sample per call and keeps its --only. */
struct fake_target {
        int calls;
        char last_only[32];
};

static int fake_run(struct vmenv_bench_target *t, const struct vmenv_bench_opts *o,
                    char *const args[], char **out, vmenv_error *err)
{
        struct fake_target *f = t->data;
        (void)o, (void)err;
        for (size_t i = 0; args[i]; i++)
                if (vmenv_streq(args[i], "--only") && args[i + 1])
                        snprintf(f->last_only, sizeof(f->last_only), "%s", args[i + 1]);
        f->calls++;
        *out = vmenv_strdup("{\"type\":\"sample\",\"kind\":\"cpu\",\"run\":1,\"value\":100,"
                            "\"unit\":\"MiB/s\",\"ns\":1000000,\"cpu_ns\":900000,\"work\":1,"
                            "\"checksum\":\"01\"}\n");
        return 0;
}

/* The network server: a port from the real probe, a real error from a
 * program that prints none, and death with its parent. */
static void test_server(void)
{
        const char *probe = getenv("VMENV_PROBE");
        struct vmenv_bench_server srv;
        vmenv_error err = VMENV_ERROR_INIT;
        ok(probe && vmenv_bench_server_start(probe, &srv, &err) == 0 && srv.port > 0 &&
               kill(srv.pid, 0) == 0,
           "the probe serves on a port");
        int pid = srv.pid;
        vmenv_bench_server_stop(&srv);
        ok(srv.pid == 0 && kill(pid, 0) < 0, "stop kills the server");
        vmenv_error_clear(&err);

        ok(vmenv_bench_server_start("/bin/true", &srv, &err) < 0 &&
               strstr(err.msg, "printed no port: it exited with status 0: (nothing on stderr)"),
           "a server that prints no port: the error says how it ended");
        vmenv_error_clear(&err);
        ok(vmenv_bench_server_start("/nonexistent/probe", &srv, &err) < 0 &&
               strstr(err.msg, "status 127: cannot run '/nonexistent/probe'"),
           "a server that cannot start: the error quotes why");
        vmenv_error_clear(&err);

        /* the veth path's form: a bind address, our own namespace (pid 0) */
        ok(probe && vmenv_bench_server_start_in(probe, 0, "127.0.0.1", &srv, &err) == 0 &&
               srv.port > 0,
           "the probe serves on the address it is told to bind");
        vmenv_bench_server_stop(&srv);
        vmenv_error_clear(&err);
        ok(probe && vmenv_bench_server_start_in(probe, 0, "localhost", &srv, &err) < 0 &&
               strstr(err.msg, "cannot serve on localhost"),
           "a bind address that is not a dotted quad: the error quotes the probe");
        vmenv_error_clear(&err);
        ok(vmenv_bench_server_start_in("/bin/true", 999999999, NULL, &srv, &err) < 0 &&
               strstr(err.msg, "cannot open '/proc/999999999/ns/net'") && srv.pid == 0,
           "the namespace of a process that does not exist: an error, no server");
        vmenv_error_clear(&err);

        /* the server dies with the process that started it */
        int fds[2];
        if (!probe || pipe(fds) < 0)
                return;
        pid_t child = fork();
        if (child == 0) {
                struct vmenv_bench_server s2;
                vmenv_error e2 = VMENV_ERROR_INIT;
                int spid = vmenv_bench_server_start(probe, &s2, &e2) == 0 ? s2.pid : -1;
                (void)!write(fds[1], &spid, sizeof(spid));
                _exit(0);
        }
        int spid = -1;
        (void)!read(fds[0], &spid, sizeof(spid));
        waitpid(child, NULL, 0);
        close(fds[0]);
        close(fds[1]);
        bool gone = false;
        for (int i = 0; i < 100 && spid > 0 && !gone; i++) {
                /* reparented, so not ours to reap: a zombie or nothing */
                char path[64], st = 0;
                snprintf(path, sizeof(path), "/proc/%d/stat", spid);
                FILE *f = fopen(path, "r");
                gone = !f || (fscanf(f, "%*d %*s %c", &st) == 1 && st == 'Z');
                if (f)
                        fclose(f);
                if (!gone)
                        usleep(20000);
        }
        ok(spid > 0 && gone, "the server dies with its parent (PR_SET_PDEATHSIG)");
}

/* The VM's NAT and private-network paths are read against the VM's bands
 * (a bridged KVM guest); the user-mode cause belongs to the 'vm' target. */
static void test_bridge_bands(void)
{
        struct vmenv_bench_result *h = vmenv_bench_result_new("host", NULL);
        struct vmenv_bench_result *tcg = vmenv_bench_result_new("vm-private", NULL);
        struct vmenv_bench_result *kvm = vmenv_bench_result_new("vm-nat", NULL);
        struct vmenv_bench_result *user = vmenv_bench_result_new("vm", NULL);
        struct vmenv_bench_result *veth = vmenv_bench_result_new("container-veth", NULL);
        struct vmenv_bench_result *rs[] = {h, tcg, kvm, user, veth};
        vmenv_bench_add_info(tcg, "hypervisor", "tcg: no /dev/kvm");
        vmenv_bench_add_info(kvm, "hypervisor", "kvm");
        vmenv_bench_add_info(user, "hypervisor", "kvm");
        vmenv_bench_add(h, "net-rr", 1, 20, "us");
        vmenv_bench_add(tcg, "net-rr", 1, 200, "us");
        vmenv_bench_add(kvm, "net-rr", 1, 60, "us");
        vmenv_bench_add(user, "net-rr", 1, 60, "us");
        vmenv_bench_add(veth, "net-rr", 1, 60, "us");
        struct vmenv_bench_report rep = {.results = rs, .n_results = 5, .runs = 1, .max_runs = 1};
        const struct vmenv_bench_figure *rr = vmenv_bench_figure_find("net-rr");
        struct vmenv_bench_band_check k;

        ok(vmenv_bench_band_find("net-rr", "vm-nat") == vmenv_bench_band_find("net-rr", "vm") &&
               vmenv_bench_band_find("net-bulk", "vm-private-backend") ==
                   vmenv_bench_band_find("net-bulk", "vm") &&
               !vmenv_bench_band_find("net-rr", "container-veth"),
           "the bridge paths take the VM's bands; the veth path has none");
        ok(vmenv_bench_band_check(&rep, rr, tcg, &k) && k.where == 1 && k.cause &&
               vmenv_startswith(k.cause, "TCG"),
           "a TCG guest's private network at 10x: above the band, cause TCG");
        ok(vmenv_bench_band_check(&rep, rr, kvm, &k) && k.where == 1 && !k.cause &&
               vmenv_streq(vmenv_bench_band_mark(&rep, rr, kvm), " [outside band]"),
           "a KVM guest's NAT path at 3x: outside, no user-mode cause claimed");
        ok(vmenv_bench_band_check(&rep, rr, user, &k) && k.where == 1 && k.cause &&
               strstr(k.cause, "user-mode"),
           "the 'vm' target at 3x: user-mode networking");
        for (size_t i = 0; i < VMENV_ARRAY_SIZE(rs); i++)
                vmenv_bench_result_free(rs[i]);
}

/* The guest's server is started by a child function (an SSH session in
 * bench-bridge.c): its port line, its error, its end. */
static int child_serves(void *ctx)
{
        (void)ctx;
        printf("{\"type\":\"serve\",\"port\":4242}\n");
        fflush(stdout);
        for (;;)
                pause();
        return 0;
}

static int child_fails(void *ctx)
{
        fprintf(stderr, "%s\n", (const char *)ctx);
        return 3;
}

static void test_server_fn(void)
{
        struct vmenv_bench_server srv;
        vmenv_error err = VMENV_ERROR_INIT;
        ok(vmenv_bench_server_start_fn(child_serves, NULL, 5000, &srv, &err) == 0 &&
               srv.port == 4242 && kill(srv.pid, 0) == 0,
           "a child function's port line is the server's port");
        int pid = srv.pid;
        vmenv_bench_server_stop(&srv);
        ok(srv.pid == 0 && kill(pid, 0) < 0, "stop ends the child");
        vmenv_error_clear(&err);
        ok(vmenv_bench_server_start_fn(child_fails, (void *)"cannot connect to 10.0.0.2", 5000,
                                       &srv, &err) < 0 &&
               strstr(err.msg, "printed no port: it exited with status 3: cannot connect to "
                               "10.0.0.2") &&
               srv.pid == 0,
           "a child that fails: its status and stderr in the error");
        vmenv_error_clear(&err);
}

static bool args_are(char **v, const char *want)
{
        _cleanup_free_ char *got = NULL;
        struct vmenv_buf b = {0};
        for (size_t i = 0; v && v[i]; i++)
                vmenv_buf_printf(&b, "%s%s", i ? " " : "", v[i]);
        got = vmenv_buf_steal(&b);
        if (!vmenv_streq(got, want))
                printf("# got '%s'\n", got);
        return vmenv_streq(got, want);
}

static void test_net_args(void)
{
        char *all[] = {
            (char *)"--runs",    (char *)"1", (char *)"--scale", (char *)"0.5", (char *)"--net",
            (char *)"gateway:1", NULL};
        char *some[] = {
            (char *)"--runs",     (char *)"1", (char *)"--only", (char *)"cpu,net", (char *)"--net",
            (char *)"10.0.0.2:1", NULL};
        char *none[] = {(char *)"--runs", (char *)"1", (char *)"--only", (char *)"cpu,disk", NULL};
        char **v = NULL;
        ok(vmenv_bench_net_args(all, "192.168.56.10:4242", &v) &&
               args_are(v, "--runs 1 --scale 0.5 --only net --net 192.168.56.10:4242"),
           "every kind: the network ones only, against our own server");
        vmenv_strv_free(v);
        ok(vmenv_bench_net_args(some, "192.168.56.10:4242", &v) &&
               args_are(v, "--runs 1 --only net --net 192.168.56.10:4242"),
           "cpu,net: net only");
        vmenv_strv_free(v);
        ok(!vmenv_bench_net_args(none, "x:1", &v) && !v, "no net asked for: nothing to run");
}

/* A target with no way to the network server (a VM on a NAT network) is
 * not asked for "net": alone, it would report no sample and fail. */
static void test_no_net_addr(void)
{
        const char *probe = getenv("VMENV_PROBE");
        for (int with_cpu = 0; with_cpu < 2; with_cpu++) {
                struct fake_target f = {0};
                struct vmenv_bench_target t = {.name = "vm", .data = &f, .run = fake_run};
                t.label = vmenv_strdup("vm");
                struct vmenv_bench_target *ts[] = {&t};
                struct vmenv_bench_opts o = {.runs = 1,
                                             .max_runs = 1,
                                             .warmup = 0,
                                             .workloads = with_cpu ? "cpu,net" : "net",
                                             .scale = 1,
                                             .probe_path = probe};
                struct vmenv_bench_report *rep = NULL;
                vmenv_error err = VMENV_ERROR_INIT;
                int rc = probe ? vmenv_bench_run(ts, 1, &o, &rep, &err) : -1;
                if (with_cpu)
                        ok(rc == 0 && f.calls == 1 && vmenv_streq(f.last_only, "cpu"),
                           "cpu,net without a network address: asked for cpu only (%s)",
                           rc ? err.msg : "ok");
                else
                        ok(rc == 0 && f.calls == 0 && rep->results[0]->n_samples == 0,
                           "net alone without a network address: not run, no error (%s)",
                           rc ? err.msg : "ok");
                vmenv_error_clear(&err);
                vmenv_bench_report_free(rep);
                free(t.label);
        }
}

int main(void)
{
        test_server();
        test_server_fn();
        test_net_args();
        test_no_net_addr();
        test_bridge_bands();
        return done_testing();
}
