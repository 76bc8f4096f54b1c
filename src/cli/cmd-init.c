/* vmenv init: writes a commented vmenv.yaml for one machine in the current
 * folder (or -C DIR) that validates as written; never overwrites without -f. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "vmenv/cleanup.h"
#include "vmenv/config.h"
#include "vmenv/util.h"

#define DEFAULT_BOX "vmenv/tiny"
#define MAX_WORD 1024

static const struct vmenv_opt init_opts[] = {
    {"force", 'f', NULL, "overwrite an existing vmenv.yaml"},
    {"box-url", 0, "URL", "where the box comes from (a catalog or a .box)"},
    {0},
};

static char *init_text(const char *box, const char *box_url)
{
        struct vmenv_buf b = {0};

        vmenv_buf_puts(&b, "# vmenv.yaml: the machines of this project. See vmenv.yaml(5).\n"
                           "# Check it with 'vmenv validate', start it with 'vmenv up'.\n\n"
                           "# The box to boot: a catalog name, a catalog or .box URL, or a path.\n"
                           "box: ");
        vmenv_buf_yaml_quote(&b, box);
        vmenv_buf_puts(&b, "\n");
        if (box_url) {
                vmenv_buf_puts(&b, "box_url: ");
                vmenv_buf_yaml_quote(&b, box_url);
                vmenv_buf_puts(&b, "\n");
        } else {
                vmenv_buf_puts(&b, "# box_url: https://example.org/boxes/catalog.json\n");
        }
        vmenv_buf_puts(&b,
                       "# box_version: \">= 1.0, < 2\"   # Vagrant-style version constraint\n"
                       "\n"
                       "cpus: 1\n"
                       "memory: 512M\n"
                       "# disk: 10G                     # default: the box's own size\n"
                       "# boot_timeout: 300             # seconds to wait for SSH\n"
                       "\n"
                       "# Ports on this computer (127.0.0.1 unless host_ip says otherwise)\n"
                       "# forwarded to ports in the machine.\n"
                       "# forwarded_ports:\n"
                       "#   - { guest: 80, host: 8080 }\n"
                       "\n"
                       "# Folders copied (rsync) or shared (9p, virtiofs) into the machine.\n"
                       "# synced_folders:\n"
                       "#   - { host: ., guest: /vagrant, type: rsync, exclude: [.git] }\n"
                       "\n"
                       "# Commands and files run once at the first 'up' (run: always for every\n"
                       "# boot), or again with 'vmenv provision'.\n"
                       "# provision:\n"
                       "#   - name: hello\n"
                       "#     shell: echo hello from $(hostname)\n"
                       "#   - file: { source: motd, destination: /etc/motd }\n"
                       "\n"
                       "# Several machines: top-level keys are defaults for each one.\n"
                       "# machines:\n"
                       "#   web:\n"
                       "#     primary: true\n"
                       "#     memory: 1G\n"
                       "#   db: {}\n");
        return vmenv_buf_steal(&b);
}

static int cmd_init_run(struct vmenv_ctx *ctx, const struct vmenv_args *args, vmenv_error *err)
{
        const char *box = args->argc ? args->argv[0] : DEFAULT_BOX;
        const char *box_url = vmenv_args_get(args, "box-url");
        _cleanup_free_ char *text = NULL;
        struct vmenv_config *check;

        if (!*box || strlen(box) > MAX_WORD)
                return vmenv_error_set(err, VMENV_EXIT_USAGE,
                                       "the box name must be 1 to %d characters", MAX_WORD);
        if (box_url && (!*box_url || strlen(box_url) > MAX_WORD))
                return vmenv_error_set(err, VMENV_EXIT_USAGE,
                                       "--box-url must be 1 to %d characters", MAX_WORD);
        if (vmenv_path_exists("vmenv.yaml") && !vmenv_args_has(args, "force")) {
                vmenv_error_set(err, VMENV_EXIT_FAILURE, "'vmenv.yaml' already exists");
                return vmenv_error_hint(err, "run 'vmenv init -f' to overwrite it");
        }
        text = init_text(box, box_url);
        /* What init writes must pass validate: check before writing. */
        if (!(check = vmenv_config_parse(text, strlen(text), "vmenv.yaml", err)))
                return vmenv_error_prefix(err, "cannot write a valid vmenv.yaml for box '%s'", box);
        vmenv_config_free(check);
        if (vmenv_write_file_atomic("vmenv.yaml", text, strlen(text), 0644, err) < 0)
                return -1;
        printf("wrote vmenv.yaml for box '%s'; run 'vmenv up' to start it\n", box);
        return 0;
}

const struct vmenv_cmd vmenv_cmd_init = {
    .name = "init",
    .usage = "[-f] [--box-url URL] [BOX]",
    .summary = "write a commented vmenv.yaml in this folder",
    .help = "BOX defaults to " DEFAULT_BOX ". The file validates as written; edit it and\n"
            "run 'vmenv validate' to check your changes.",
    .opts = init_opts,
    .min_args = 0,
    .max_args = 1,
    .run = cmd_init_run,
};
