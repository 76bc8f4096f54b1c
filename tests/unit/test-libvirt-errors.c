/* libvirt failures become one vmenv error with a meaningful exit code and a
 * hint. No daemon needed: each case fails before reaching one (a socket that
 * does not exist, a URI no driver handles, ssh to a closed port on
 * 127.0.0.1). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
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
                ok(vmenv_provider_libvirt.start(p, "no-such-domain", &err) < 0 &&
                       err.code == VMENV_EXIT_NOINPUT && strstr(err.msg, "'no-such-domain'"),
                   "start of a missing domain names it, exit 66");
                vmenv_error_clear(&err);
                vmenv_provider_libvirt.close(p);
        }
        vmenv_error_clear(&err);
        return done_testing();
}
