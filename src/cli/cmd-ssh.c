/* vmenv ssh: a shell on a machine (a real terminal), or one command with -c
 * whose output streams back and whose exit status becomes ours; after '--'
 * the system ssh runs with the extra arguments. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "vmenv/cleanup.h"
#include "vmenv/log.h"
#include "vmenv/machine.h"
#include "vmenv/ssh.h"
#include "vmenv/util.h"

/* exec()s the system ssh with our key, port and pinned host key. */
static int system_ssh(struct vmenv_ctx *ctx, const struct vmenv_machine_config *m,
                      const struct vmenv_args *args, vmenv_error *err)
{
        struct vmenv_ssh_endpoint e;
        _cleanup_free_ char *khopt = NULL, *port = NULL, *proxy = NULL;
        _cleanup_free_ const char **argv = NULL;
        int n = 0;

        if (vmenv_machine_endpoint(ctx->config, m, &e, err) < 0)
                return -1;
        /* The user comes from vmenv.yaml: checked there, and again here since
         * ssh would read "-oProxyCommand=..." as an option and run it. It goes
         * after -l, never into "user@host". */
        if (!vmenv_ssh_user_valid(e.user)) {
                vmenv_error_set(err, VMENV_EXIT_CONFIG, "'%s' is not a user name", e.user);
                vmenv_ssh_endpoint_clear(&e);
                return -1;
        }
        khopt = vmenv_strdupf("UserKnownHostsFile=%s", e.known_hosts);
        port = vmenv_strdupf("%d", e.port);
        argv = vmenv_calloc((size_t)args->argc_extra + 20, sizeof(char *));
        argv[n++] = "ssh";
        argv[n++] = "-F";
        argv[n++] = "/dev/null";
        argv[n++] = "-o";
        argv[n++] = khopt;
        argv[n++] = "-o";
        argv[n++] = "StrictHostKeyChecking=yes";
        argv[n++] = "-o";
        argv[n++] = "IdentitiesOnly=yes";
        argv[n++] = "-i";
        argv[n++] = e.key;
        argv[n++] = "-p";
        argv[n++] = port;
        /* a remote hypervisor's guest: through its host, as libssh does */
        if (e.jump) {
                argv[n++] = "-J";
                argv[n++] = e.jump;
        } else if (e.proxy_command) {
                proxy = vmenv_strdupf("ProxyCommand=%s", e.proxy_command);
                argv[n++] = "-o";
                argv[n++] = proxy;
        }
        argv[n++] = "-l";
        argv[n++] = e.user;
        argv[n++] = e.host;
        /* As with 'vagrant ssh -- ARGS': after the host, where OpenSSH takes
         * both more options and a command. */
        for (int i = 0; i < args->argc_extra; i++)
                argv[n++] = args->argv_extra[i];
        argv[n] = NULL;
        fflush(NULL);
        execvp("ssh", (char *const *)argv);
        vmenv_ssh_endpoint_clear(&e);
        return vmenv_error_errno(err, VMENV_EXIT_UNAVAILABLE, errno, "cannot run 'ssh'");
}

static int cmd_ssh_run(struct vmenv_ctx *ctx, const struct vmenv_args *args, vmenv_error *err)
{
        const struct vmenv_machine_config *m;
        const char *cmd = vmenv_args_get(args, "command");
        int named = args->argc - args->argc_extra;
        struct vmenv_project *p;
        struct vmenv_ssh *s;
        int status = 0, r;

        if (named > 1)
                return vmenv_error_set(err, VMENV_EXIT_USAGE, "'vmenv ssh' takes one machine");
        if (!(m = vmenv_project_select_one(ctx->config, named ? args->argv[0] : NULL, err)))
                return -1;
        if (args->dashdash && !cmd)
                return system_ssh(ctx, m, args, err);
        {
                /* a remote machine: straight through the jump; libvirt is
                 * asked only when that fails, for the reason */
                vmenv_error e = VMENV_ERROR_INIT;
                s = vmenv_machine_ssh_remote(ctx->config, m, &e);
                if (!s && e.msg)
                        vmenv_debug("%s: %s", m->name, e.msg);
                vmenv_error_clear(&e);
        }
        if (!s) {
                if (!(p = vmenv_cli_project_of(ctx, m, err)))
                        return -1;
                s = vmenv_machine_ssh(p, m, err);
                vmenv_project_close(p);
        }
        if (!s)
                return -1;
        if (cmd)
                r = vmenv_ssh_exec(s, cmd, NULL, 0, STDOUT_FILENO, STDERR_FILENO, &status, err);
        else
                r = vmenv_ssh_shell(s, NULL, &status, err);
        vmenv_ssh_free(s);
        return r < 0 ? -1 : status;
}

static const struct vmenv_opt opts[] = {
        {"command", 'c', "CMD", "run CMD instead of a shell; exit with its status"},
        {0},
};

const struct vmenv_cmd vmenv_cmd_ssh = {
        .name = "ssh",
        .usage = "[MACHINE] [-c CMD] [-- SSH-ARGS...]",
        .summary = "open a shell on a machine, or run a command",
        .opts = opts,
        .max_args = -1,
        .flags = VMENV_CMD_PROJECT | VMENV_CMD_PROVIDER,
        .run = cmd_ssh_run,
};
