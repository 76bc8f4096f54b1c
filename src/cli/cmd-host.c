/* vmenv host: what the hypervisor offers and which accelerator vmenv uses
 * there, and why. The first call per host and QEMU runs the KVM check. */
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "vmenv/provider.h"

static int cmd_host_run(struct vmenv_ctx *ctx, const struct vmenv_args *args, vmenv_error *err)
{
        const struct vmenv_provider_ops *ops = &vmenv_provider_libvirt;
        struct vmenv_host_info h = {0};
        struct vmenv_provider *conn;
        const char *accel;
        char libvirt[32];
        int r;

        if (!(conn = ops->open(NULL, err)))
                return -1;
        r = ops->host_info(conn, &h, err);
        ops->close(conn);
        if (r < 0)
                return -1;
        accel = h.kvm ? "kvm" : "tcg";
        snprintf(libvirt, sizeof(libvirt), "%lu.%lu.%lu", h.libvirt_version / 1000000,
                 h.libvirt_version / 1000 % 1000, h.libvirt_version % 1000);
        if (ctx->json) {
                json_object *o = json_object_new_object();
                json_object_object_add(o, "hypervisor", json_object_new_string(h.hypervisor));
                json_object_object_add(o, "libvirt", json_object_new_string(libvirt));
                json_object_object_add(o, "accel", json_object_new_string(accel));
                json_object_object_add(o, "accel_reason", json_object_new_string(h.accel_reason));
                json_object_object_add(o, "kvm_insisted", json_object_new_boolean(h.kvm_insisted));
                json_object_object_add(o, "passt", json_object_new_boolean(h.passt));
                puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
                                                           JSON_C_TO_STRING_NOSLASHESCAPE));
                json_object_put(o);
        } else {
                printf("hypervisor:   %s\n", h.hypervisor);
                printf("libvirt:      %s\n", libvirt);
                printf("accelerator:  %s\n", h.accel_reason);
                printf("passt:        %s\n", h.passt ? "yes" : "no");
        }
        vmenv_host_info_clear(&h);
        return 0;
}

const struct vmenv_cmd vmenv_cmd_host = {
    .name = "host",
    .usage = "[--json]",
    .summary = "show the hypervisor and the accelerator machines run under",
    .help = "The accelerator is kvm when KVM runs a guest on the hypervisor (a check that\n"
            "boots a few bytes of code under KVM, cached per host and QEMU version in\n"
            "$VMENV_HOME/kvm-check/), else tcg, with the reason. VMENV_KVM=0 forces TCG,\n"
            "VMENV_KVM=1 insists on KVM. See docs/accel.md.\n",
    .flags = VMENV_CMD_PROVIDER | VMENV_CMD_JSON,
    .run = cmd_host_run,
};
