/* vmenv ssh-config: an OpenSSH client configuration for the machines, for
 * 'ssh -F FILE NAME', scp, rsync or an editor's remote mode; it pins the
 * host key vmenv recorded. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "vmenv/cleanup.h"
#include "vmenv/machine.h"
#include "vmenv/util.h"

/* A value between double quotes, with '%' doubled since IdentityFile and
 * UserKnownHostsFile expand %-tokens; NULL (and an error) for a value that
 * cannot be quoted, so no line of ours can become two. */
static char *quoted(const char *what, const char *v, vmenv_error *err)
{
        struct vmenv_buf b = {0};

        if (!vmenv_ssh_config_value_valid(v)) {
                vmenv_error_set(err, VMENV_EXIT_CONFIG,
                                "%s '%s' cannot be written into an ssh configuration", what, v);
                vmenv_error_hint(err, "it holds a control character, '\"' or '\\'");
                return NULL;
        }
        vmenv_buf_puts(&b, "\"");
        for (const char *c = v; *c; c++)
                if (*c == '%')
                        vmenv_buf_puts(&b, "%%");
                else
                        vmenv_buf_add(&b, c, 1);
        vmenv_buf_puts(&b, "\"");
        return vmenv_buf_steal(&b);
}

static int print_one(struct vmenv_ctx *ctx, const struct vmenv_machine_config *m,
                     const char *host, vmenv_error *err)
{
        struct vmenv_ssh_endpoint e;
        _cleanup_free_ char *key = NULL, *known = NULL, *hname = NULL;
        int r = -1;

        /* Checked when vmenv.yaml was read; again here, where one newline
         * would add a ProxyCommand line. */
        if (!vmenv_ssh_user_valid(m->ssh.user))
                return vmenv_error_set(err, VMENV_EXIT_CONFIG, "'%s' is not a user name",
                                       m->ssh.user);
        if (vmenv_machine_endpoint(ctx->config, m, &e, err) < 0)
                return -1;
        if (!(key = quoted("the key", e.key, err)) ||
            !(known = quoted("the known-hosts file", e.known_hosts, err)) ||
            !(hname = quoted("the host", e.host, err)))
                goto out;
        printf("Host %s\n"
               "  HostName %s\n"
               "  Port %d\n"
               "  User %s\n"
               "  IdentityFile %s\n"
               "  IdentitiesOnly yes\n"
               "  UserKnownHostsFile %s\n"
               "  StrictHostKeyChecking yes\n"
               "  PasswordAuthentication no\n"
               "  LogLevel FATAL\n",
               host ? host : m->name, hname, e.port, e.user, key, known);
        /* the values were checked when the URI was read (ssh-jump.c) */
        if (e.jump)
                printf("  ProxyJump %s\n", e.jump);
        else if (e.proxy_command)
                printf("  ProxyCommand %s\n", e.proxy_command);
        printf("\n");
        r = 0;
out:
        vmenv_ssh_endpoint_clear(&e);
        return r;
}

static int cmd_ssh_config_run(struct vmenv_ctx *ctx, const struct vmenv_args *args,
                              vmenv_error *err)
{
        _cleanup_free_ const struct vmenv_machine_config **ms = NULL;
        const char *host = vmenv_args_get(args, "host");
        size_t n = 0;

        if (vmenv_project_select(ctx->config, args->argc, args->argv, &ms, &n, err) < 0)
                return -1;
        if (host && n != 1)
                return vmenv_error_set(err, VMENV_EXIT_USAGE, "--host needs exactly one machine");
        for (size_t i = 0; i < n; i++)
                if (print_one(ctx, ms[i], host, err) < 0)
                        return -1;
        return 0;
}

static const struct vmenv_opt opts[] = {
        {"host", 0, "NAME", "the Host name to write (default: the machine name)"},
        {0},
};

const struct vmenv_cmd vmenv_cmd_ssh_config = {
        .name = "ssh-config",
        .usage = "[--host NAME] [MACHINE...]",
        .summary = "print an OpenSSH configuration for the machines",
        .opts = opts,
        .max_args = -1,
        .flags = VMENV_CMD_PROJECT,
        .run = cmd_ssh_config_run,
};
