/* libvirt failures become one vmenv error with a meaningful exit code and a
 * hint. No daemon needed: each case fails before reaching one (a socket that
 * does not exist, a URI no driver handles, ssh to a closed port on
 * 127.0.0.1). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../providers/libvirt/image-check.h"
#include "../../providers/libvirt/libvirt-private.h"
#include "tap.h"
#include "vmenv/cleanup.h"
#include "vmenv/provider.h"
#include "vmenv/util.h"

static void expect(const char *uri, int code, const char *msg_part, const char *hint_part)
{
        vmenv_error err = VMENV_ERROR_INIT;
        struct vmenv_provider *p = vmenv_provider_libvirt.open(uri, &err);

        ok(!p && err.code == code && err.msg && strstr(err.msg, msg_part) && err.hint &&
               strstr(err.hint, hint_part),
           "%s: exit %d, hint about '%s'", uri, code, hint_part);
        printf("#   %s\n#   hint: %s\n", err.msg ? err.msg : "(none)",
               err.hint ? err.hint : "(none)");
        if (p)
                vmenv_provider_libvirt.close(p);
        vmenv_error_clear(&err);
}

/* Box images that name other host files are refused before upload. */
static void image_checks(void)
{
        char dir[] = "/tmp/vmenv-image-check.XXXXXX";
        static const struct {
                const char *what, *make, *format;
                int code; /* 0: accepted */
                const char *msg;
        } cases[] = {
            {"plain qcow2", "qemu-img create -q -f qcow2 $D/a 1G", "qcow2", 0, NULL},
            {"qcow2 with a backing file",
             "qemu-img create -q -f raw $D/b.base 1M && qemu-img create -q -f qcow2 -F raw -b "
             "$D/b.base $D/a",
             "qcow2", VMENV_EXIT_DATA, "names a backing file"},
            {"qcow2 with an external data file",
             "qemu-img create -q -f qcow2 -o data_file=$D/a.data $D/a 1M", "qcow2", VMENV_EXIT_DATA,
             "external file"},
            {"raw said to be qcow2", "head -c 4096 /dev/zero > $D/a", "qcow2", VMENV_EXIT_DATA,
             "is not one"},
            {"qcow2 said to be raw (shown as bytes)", "qemu-img create -q -f qcow2 $D/a 1G", "raw",
             0, NULL},
            {"vmdk", "qemu-img create -q -f vmdk $D/a 1G", "vmdk", VMENV_EXIT_DATA,
             "unsupported image format 'vmdk'"},
            {"a missing file", "true", "qcow2", VMENV_EXIT_NOINPUT, "cannot open image"},
        };

        if (!mkdtemp(dir)) {
                ok(0, "temporary folder");
                return;
        }
        setenv("D", dir, 1);
        for (size_t i = 0; i < VMENV_ARRAY_SIZE(cases); i++) {
                _cleanup_free_ char *cmd =
                    vmenv_strdupf("rm -f $D/*; %s >/dev/null 2>&1", cases[i].make);
                _cleanup_free_ char *img = vmenv_path_join(dir, "a");
                vmenv_error err = VMENV_ERROR_INIT;
                int r;

                if (system(cmd) != 0) {
                        ok(1, "%s # SKIP cannot make it with qemu-img", cases[i].what);
                        continue;
                }
                r = vmenv_libvirt_check_image(img, cases[i].format, &err);
                if (cases[i].code == 0)
                        ok(r == 0, "accepted: %s", cases[i].what);
                else
                        ok(r < 0 && err.code == cases[i].code && strstr(err.msg, cases[i].msg),
                           "refused: %s", cases[i].what);
                if (err.msg)
                        printf("#   %s\n", err.msg);
                vmenv_error_clear(&err);
        }
        {
                _cleanup_free_ char *rm = vmenv_strdupf("rm -rf %s", dir);
                if (system(rm) != 0)
                        printf("# cannot remove %s\n", dir);
        }
}

/* QEMU's word on a host port it could not bind, as libvirt passes it on:
 * the start path tells it from other failures and names the port. */
static void forward_taken_checks(void)
{
        static const struct {
                const char *msg;
                bool taken;
                int port;
                bool udp;
        } cases[] = {
            {"internal error: process exited while connecting to monitor: 2026-12-06T09:00:00 "
             "qemu-system-x86_64: -netdev user,id=vmenvnet0,hostfwd=tcp:127.0.0.1:2222-:22,"
             "hostfwd=tcp:127.0.0.1:8080-:80: Could not set up host forwarding rule "
             "'tcp:127.0.0.1:8080-:80'",
             true, 8080, false},
            {"qemu unexpectedly closed the monitor: Could not set up host forwarding rule "
             "'udp:[::1]:5353-:53'",
             true, 5353, true},
            {"Could not set up host forwarding rule 'tcp::65535-10.0.2.15:22'", true, 65535, false},
            {"Could not set up host forwarding rule 'tcp:127.0.0.1:99999-:22'", true, 0, false},
            {"Could not set up host forwarding rule 'tcp:127.0.0.1:-:22'", true, 0, false},
            {"Could not set up host forwarding rule 'garbage", true, 0, false},
            {"Could not set up host forwarding rule", true, 0, false},
            {"Failed to bind socket: Address already in use", false, 0, false},
            {"Cannot access storage file '/x' (as uid:64055, gid:64055): Permission denied", false,
             0, false},
            {NULL, false, 0, false},
        };

        for (size_t i = 0; i < VMENV_ARRAY_SIZE(cases); i++) {
                struct vmenv_port_taken t = {.host_port = -1};
                bool r = vmenv_libvirt_forward_taken(cases[i].msg, &t);
                if (!cases[i].taken)
                        ok(!r && t.host_port == -1, "not a taken forward: %s",
                           cases[i].msg ? cases[i].msg : "(null)");
                else
                        ok(r && t.host_port == cases[i].port && t.udp == cases[i].udp,
                           "taken forward, port %d%s: ...%s", cases[i].port,
                           cases[i].udp ? "/udp" : "",
                           cases[i].msg +
                               (strlen(cases[i].msg) > 40 ? strlen(cases[i].msg) - 40 : 0));
        }
}

int main(void)
{
        vmenv_error err = VMENV_ERROR_INIT;
        struct vmenv_provider *p;

        expect("qemu:///system?socket=/nonexistent/libvirt-sock", VMENV_EXIT_UNAVAILABLE,
               "cannot connect to 'qemu:///system?socket=/nonexistent/libvirt-sock'",
               "libvirtd -d");
        expect("bogus:///nothing", VMENV_EXIT_UNAVAILABLE, "no connection driver", "check the URI");
        if (access("/usr/bin/ssh", X_OK) == 0)
                expect("qemu+ssh://127.0.0.1:1/system?no_tty=1&no_verify=1", VMENV_EXIT_UNAVAILABLE,
                       "cannot connect", "reachable with ssh");

        /* The URI comes from $VMENV_LIBVIRT_URI when the caller gives none. */
        setenv("VMENV_LIBVIRT_URI", "test:///default", 1);
        p = vmenv_provider_libvirt.open(NULL, &err);
        ok(p != NULL, "VMENV_LIBVIRT_URI is used when no URI is given");
        if (p) {
                enum vmenv_vm_state st = VMENV_VM_OTHER;
                ok(vmenv_provider_libvirt.state(p, "test", &st, &err) == 0 &&
                       st == VMENV_VM_RUNNING,
                   "it is test:///default (its domain 'test' runs)");
                ok(vmenv_provider_libvirt.state(p, "no-such-domain", &st, &err) == 0 &&
                       st == VMENV_VM_NOT_CREATED,
                   "a missing domain is 'not created', not an error");
                is_str(vmenv_vm_state_name(st), "not created", "state name");
                ok(vmenv_provider_libvirt.start(p, "no-such-domain", NULL, &err) < 0 &&
                       err.code == VMENV_EXIT_NOINPUT && strstr(err.msg, "'no-such-domain'"),
                   "start of a missing domain names it, exit 66");
                vmenv_error_clear(&err);
                vmenv_provider_libvirt.close(p);
        }
        vmenv_error_clear(&err);
        image_checks();
        forward_taken_checks();
        return done_testing();
}
