/* Drives vmenv_provision_run against a real sshd for
 * tests/integration/provision.sh:
 *   provision-driver -p PORT -i KEY [-u USER] [-f] [-o NAME]... PROJECT MACHINE
 * loads PROJECT/vmenv.yaml and the machine's state in PROJECT/.vmenv, runs
 * the provisioners that are due (all with -f, only those named with -o) and
 * exits with the error's code after printing it, as main() would. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "vmenv/config.h"
#include "vmenv/machine.h"
#include "vmenv/ssh.h"
#include "vmenv/state.h"
#include "vmenv/util.h"

static int fail(vmenv_error *err)
{
        int code = err->code ? err->code : 1;
        fprintf(stderr, "provision-driver: error: %s\n", err->msg);
        if (err->hint)
                fprintf(stderr, "provision-driver: hint: %s\n", err->hint);
        vmenv_error_clear(err);
        return code;
}

int main(int argc, char **argv)
{
        struct vmenv_ssh_target t = {
            .host = "127.0.0.1", .user = "root", .connect_timeout_ms = 10000, .tofu = true};
        vmenv_error err = VMENV_ERROR_INIT;
        struct vmenv_project p = {0};
        const struct vmenv_machine_config *m;
        struct vmenv_machine_state *st = NULL;
        struct vmenv_config *c = NULL;
        struct vmenv_ssh *s = NULL;
        char **only = NULL, *path;
        bool force = false;
        int opt, r = -1;

        while ((opt = getopt(argc, argv, "p:i:u:fo:")) != -1) {
                switch (opt) {
                case 'p':
                        t.port = atoi(optarg);
                        break;
                case 'i':
                        t.key_path = optarg;
                        break;
                case 'u':
                        t.user = optarg;
                        break;
                case 'f':
                        force = true;
                        break;
                case 'o':
                        vmenv_strv_push(&only, vmenv_strdup(optarg));
                        break;
                default:
                        return 64;
                }
        }
        if (argc - optind != 2 || !t.port || !t.key_path) {
                fprintf(stderr, "usage: provision-driver -p PORT -i KEY [-u USER] [-f] "
                                "[-o NAME]... PROJECT MACHINE\n");
                return 64;
        }
        path = vmenv_path_join(argv[optind], "vmenv.yaml");
        c = vmenv_config_load(path, &err);
        free(path);
        if (!c)
                return fail(&err);
        p.config = c;
        if (!(m = vmenv_config_machine(c, argv[optind + 1])))
                vmenv_error_set(&err, 64, "no machine '%s'", argv[optind + 1]);
        else if ((st = vmenv_state_load(c, m->name, &err)) &&
                 (s = vmenv_ssh_connect(&t, NULL, &err)))
                r = vmenv_provision_run(s, &p, m, st, force, only, &err);
        vmenv_ssh_free(s);
        vmenv_state_free(st);
        vmenv_config_free(c);
        vmenv_strv_free(only);
        return r < 0 ? fail(&err) : 0;
}
