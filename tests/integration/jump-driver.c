/* Drives the SSH jump (src/core/ssh-jump.c) against a real sshd on
 * 127.0.0.1 for tests/integration/ssh-jump.sh, the sshd being both the jump
 * host and, through its own loopback, the "guest":
 *   jump-driver URI PORT KEY HOSTKEY N CMD
 * reads the jump host from URI (with keyfile= and known_hosts=), then N
 * times connects to 127.0.0.1:PORT through it as root with KEY, the guest's
 * host key pinned to HOSTKEY ("TYPE BASE64"), and runs CMD with its output
 * streamed to stdout; exits with CMD's last status, or the error's code.
 *   jump-driver --tunnel URI TO_HOST PORT...
 * holds 127.0.0.1:PORT... (to TO_HOST:PORT... seen from the jump host)
 * until SIGTERM.
 *   jump-driver --probe URI HOST PORT...
 * prints "PORT taken" or "PORT free" for each, as the jump host sees
 * HOST:PORT (vmenv_ssh_probe_port). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmenv/ssh.h"
#include "vmenv/util.h"

static int stop_pipe[2];

static void on_term(int sig)
{
        char b = (char)sig;
        if (write(stop_pipe[1], &b, 1) < 0) {
                /* a stop is pending anyway */
        }
}

static int fail(vmenv_error *err)
{
        int code = err->code ? err->code : 1;
        fprintf(stderr, "jump-driver: error: %s\n", err->msg);
        if (err->hint)
                fprintf(stderr, "jump-driver: hint: %s\n", err->hint);
        vmenv_error_clear(err);
        return code;
}

static int tunnel(int argc, char **argv)
{
        vmenv_error err = VMENV_ERROR_INIT;
        struct vmenv_ssh_jump *j = NULL;
        int *ports = vmenv_calloc((size_t)argc, sizeof(*ports));
        struct sigaction sa = {.sa_handler = on_term};
        int r;

        if (vmenv_ssh_jump_from_uri(argv[0], &j, &err) < 0)
                return fail(&err);
        for (int i = 2; i < argc; i++)
                ports[i - 2] = atoi(argv[i]);
        if (pipe(stop_pipe) < 0)
                return 1;
        sigaction(SIGTERM, &sa, NULL);
        r = vmenv_ssh_tunnel(j, argv[1], ports, (size_t)argc - 2, stop_pipe[0], &err);
        vmenv_ssh_jump_free(j);
        free(ports);
        return r < 0 ? fail(&err) : 0;
}

static int probe(int argc, char **argv)
{
        vmenv_error err = VMENV_ERROR_INIT;
        struct vmenv_ssh_jump *j = NULL;
        struct vmenv_ssh_probe *pr;

        if (vmenv_ssh_jump_from_uri(argv[0], &j, &err) < 0)
                return fail(&err);
        if (!(pr = vmenv_ssh_probe_open(j, 10000, &err))) {
                vmenv_ssh_jump_free(j);
                return fail(&err);
        }
        for (int i = 2; i < argc; i++)
                printf("%s %s\n", argv[i],
                       vmenv_ssh_probe_port(pr, argv[1], atoi(argv[i])) ? "taken" : "free");
        vmenv_ssh_probe_close(pr);
        vmenv_ssh_jump_free(j);
        return 0;
}

int main(int argc, char **argv)
{
        vmenv_error err = VMENV_ERROR_INIT;
        struct vmenv_ssh_jump *j = NULL;
        int status = -1, n;

        if (argc >= 5 && !strcmp(argv[1], "--tunnel"))
                return tunnel(argc - 2, argv + 2);
        if (argc >= 5 && !strcmp(argv[1], "--probe"))
                return probe(argc - 2, argv + 2);
        if (argc != 7) {
                fprintf(stderr, "usage: jump-driver URI PORT KEY HOSTKEY N CMD\n");
                return 64;
        }
        if (vmenv_ssh_jump_from_uri(argv[1], &j, &err) < 0)
                return fail(&err);
        n = atoi(argv[5]);
        for (int i = 0; i < n; i++) {
                struct vmenv_ssh_target t = {.jump = j,
                                             .host = "127.0.0.1",
                                             .port = atoi(argv[2]),
                                             .user = "root",
                                             .key_path = argv[3],
                                             .known_host_key = argv[4],
                                             .connect_timeout_ms = 10000};
                struct vmenv_ssh *s = vmenv_ssh_connect(&t, NULL, &err);
                if (!s) {
                        vmenv_ssh_jump_free(j);
                        return fail(&err);
                }
                if (vmenv_ssh_exec(s, argv[6], NULL, 0, STDOUT_FILENO, STDERR_FILENO, &status,
                                   &err) < 0) {
                        vmenv_ssh_free(s);
                        vmenv_ssh_jump_free(j);
                        return fail(&err);
                }
                vmenv_ssh_free(s);
        }
        vmenv_ssh_jump_free(j);
        return status;
}
