/* vmenv up: makes every selected machine exist and run, whatever state it
 * is in (creates, boots, resumes or does nothing); several in parallel. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "vmenv/cleanup.h"
#include "vmenv/box.h"
#include "vmenv/lock.h"
#include "vmenv/machine.h"
#include "vmenv/util.h"

struct job {
        struct vmenv_project *p;
        const struct vmenv_machine_config *m;
        const struct vmenv_up_opts *o;
        vmenv_error err;
        int r;
        bool threaded;
};

static void *up_thread(void *arg)
{
        struct job *j = arg;
        j->r = vmenv_machine_up(j->p, j->m, j->o, &j->err);
        return NULL;
}

static int cmd_up_run(struct vmenv_ctx *ctx, const struct vmenv_args *args, vmenv_error *err)
{
        _cleanup_free_ const struct vmenv_machine_config **ms = NULL;
        _cleanup_free_ struct job *jobs = NULL;
        _cleanup_free_ pthread_t *threads = NULL;
        struct vmenv_up_opts o = {
                .provision = vmenv_args_has(args, "provision"),
                .no_provision = vmenv_args_has(args, "no-provision"),
                .insecure = vmenv_args_has(args, "insecure"),
                .timings = vmenv_args_has(args, "timings"),
                .frozen = vmenv_args_has(args, "frozen"),
        };
        const char *with = vmenv_args_get(args, "provision-with");
        bool parallel = !vmenv_args_has(args, "no-parallel");
        struct vmenv_cli_hosts hosts = {.ctx = ctx};
        size_t n = 0;
        int failed = 0;
        struct vmenv_lock *lock = NULL;

        if (o.provision && o.no_provision)
                return vmenv_error_set(err, VMENV_EXIT_USAGE,
                                       "--provision and --no-provision contradict each other");
        if (with) {
                _cleanup_free_ char *copy = vmenv_strdup(with);
                for (char *t = strtok(copy, ","); t; t = strtok(NULL, ","))
                        vmenv_strv_push(&o.provision_with, vmenv_strdup(t));
        }
        if (vmenv_project_select(ctx->config, args->argc, args->argv, &ms, &n, err) < 0)
                goto out;
        {
                /* before any machine starts: a bad or stale lock stops everything */
                struct vmenv_fetch_opts fo = {.insecure = o.insecure};
                struct vmenv_lock_opts lo = {.fetch = &fo, .frozen = o.frozen};
                if (vmenv_lock_ensure(ctx->config, &lo, &lock, err) < 0)
                        goto out;
                o.lock = lock;
        }
        jobs = vmenv_calloc(n, sizeof(*jobs));
        threads = vmenv_calloc(n, sizeof(*threads));
        /* each machine on its own hypervisor's connection, all of them in
         * parallel across hosts; one host unreachable fails its machines */
        for (size_t i = 0; i < n; i++) {
                jobs[i] = (struct job){.m = ms[i], .o = &o, .r = -1};
                if (!(jobs[i].p = vmenv_cli_hosts_get(&hosts, ms[i], &jobs[i].err)))
                        continue;
                jobs[i].threaded = parallel && n > 1 &&
                                   pthread_create(&threads[i], NULL, up_thread, &jobs[i]) == 0;
                if (!jobs[i].threaded)
                        up_thread(&jobs[i]);
        }
        for (size_t i = 0; i < n; i++) {
                if (jobs[i].threaded)
                        pthread_join(threads[i], NULL);
                if (jobs[i].r >= 0)
                        continue;
                if (!failed++)
                        vmenv_error_move(err, &jobs[i].err);
                else {
                        fprintf(stderr, "vmenv: error: %s\n", jobs[i].err.msg);
                        vmenv_error_clear(&jobs[i].err);
                }
        }
        vmenv_cli_hosts_close(&hosts);
out:
        vmenv_lock_free(lock);
        vmenv_strv_free(o.provision_with);
        return failed || err->msg ? -1 : 0;
}

static const struct vmenv_opt opts[] = {
        {"provision", 0, NULL, "run every provisioner, even those already done"},
        {"no-provision", 0, NULL, "run no provisioner"},
        {"provision-with", 0, "NAME,...", "run only these provisioners"},
        {"no-parallel", 0, NULL, "bring machines up one after the other"},
        {"insecure", 0, NULL, "do not verify TLS when downloading the box"},
        {"timings", 0, NULL, "print how long each phase took"},
        {"frozen", 0, NULL, "fail if vmenv.lock does not match vmenv.yaml exactly"},
        {0},
};

const struct vmenv_cmd vmenv_cmd_up = {
        .name = "up",
        .usage = "[--provision|--no-provision] [--no-parallel] [MACHINE...]",
        .summary = "create, boot or resume machines",
        .opts = opts,
        .max_args = -1,
        .flags = VMENV_CMD_PROJECT | VMENV_CMD_PROVIDER,
        .run = cmd_up_run,
};
