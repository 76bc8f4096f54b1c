/* The console log volume against the real qemu:///system (or
 * $VMENV_LIBVIRT_URI), in a private dir pool in a temporary folder that the
 * test removes. The guest writes the log's bytes: a qcow2 header at its start
 * (as after virtlogd rotated it) makes libvirt probe it as a qcow2 image with
 * a huge capacity and a vmenv box as its backing file. The tail must still be
 * read from the end of the file, and the box must still be deletable. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "console-log.h"
#include "tap.h"
#include "vmenv/cleanup.h"
#include "vmenv/provider.h"
#include "vmenv/util.h"

static const struct vmenv_provider_ops *ops = &vmenv_provider_libvirt;
static char tmp[] = "/tmp/vmenv-console-log-test.XXXXXX";
static char pool_name[64];

__attribute__((format(printf, 1, 2))) static char *runf(const char *fmt, ...)
{
        va_list ap;
        _cleanup_free_ char *cmd = NULL;
        struct vmenv_buf b = {0};
        char chunk[4096];
        size_t n;
        FILE *f;

        va_start(ap, fmt);
        cmd = vmenv_vstrdupf(fmt, ap);
        va_end(ap);
        if (!(f = popen(cmd, "r")))
                return vmenv_strdup("");
        while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 && b.len < 65536)
                vmenv_buf_add(&b, chunk, n);
        pclose(f);
        return b.data ? vmenv_buf_steal(&b) : vmenv_strdup("");
}

static void cleanup(void)
{
        free(
            runf("(for v in $(virsh -q -c \"$URI\" vol-list %1$s 2>/dev/null | awk '{print $1}');"
                 " do virsh -q -c \"$URI\" vol-delete --pool %1$s $v; done;"
                 " virsh -q -c \"$URI\" pool-destroy %1$s; virsh -q -c \"$URI\" pool-undefine %1$s;"
                 " rm -rf %2$s) >/dev/null 2>&1",
                 pool_name, tmp));
}

static void names(void)
{
        ok(vmenv_libvirt_console_log_name("vmenv-a-b-console.log"), "DOMAIN-console.log");
        ok(vmenv_libvirt_console_log_name("d-console.log.0") &&
               vmenv_libvirt_console_log_name("d-console.log.9"),
           "rotated copies .0 and .9");
        ok(!vmenv_libvirt_console_log_name("d-console.log.10") &&
               !vmenv_libvirt_console_log_name("d-console.log.x") &&
               !vmenv_libvirt_console_log_name("d-console.log.") &&
               !vmenv_libvirt_console_log_name("-console.log") &&
               !vmenv_libvirt_console_log_name("d.qcow2") &&
               !vmenv_libvirt_console_log_name("d-console.logx") &&
               !vmenv_libvirt_console_log_name(NULL),
           "other names are not console logs");
}

int main(void)
{
        vmenv_error err = VMENV_ERROR_INIT;
        struct vmenv_provider *p = NULL;
        const char *uri = getenv("VMENV_LIBVIRT_URI");
        _cleanup_free_ char *pool_path = NULL, *log = NULL, *box = NULL, *out = NULL, *ov = NULL,
                            *data = NULL, *dom = NULL, *ovname = NULL;
        size_t len = 0;
        int r;

        names();
        if (!uri || !*uri)
                uri = "qemu:///system";
        setenv("URI", uri, 1);
        if (!mkdtemp(tmp)) {
                printf("# SKIP cannot create a temporary folder\n");
                return done_testing();
        }
        chmod(tmp, 0755);
        snprintf(pool_name, sizeof(pool_name), "vmenv-test-cl-%ld", (long)getpid());
        dom = vmenv_strdupf("vmenv-test-cl-%ld", (long)getpid());
        ovname = vmenv_strdupf("%s.qcow2", dom);
        pool_path = vmenv_path_join(tmp, "pool");
        setenv("VMENV_POOL", pool_name, 1);
        setenv("VMENV_POOL_PATH", pool_path, 1);
        atexit(cleanup);
        if (!(p = ops->open(uri, &err))) {
                printf("# SKIP %s cannot be opened: %s\n", uri, err.msg);
                return done_testing();
        }

        ok(ops->console_log_ensure(p, NULL, dom, &log, &err) == 0 && log,
           "the console log volume is created (%s)", err.msg ? err.msg : "");
        if (!log) {
                ops->close(p);
                return done_testing();
        }
        /* a box volume and, as the guest could write it, a log that starts
         * with a qcow2 header naming the box as backing file, 1 TiB large */
        box = vmenv_strdupf("%s/vmenv-box-cltest.qcow2", pool_path);
        free(runf("qemu-img create -q -f qcow2 %1$s 1M && qemu-img create -q -u -f qcow2 -b "
                  "vmenv-box-cltest.qcow2 -F qcow2 %2$s/hdr 1T && cat %2$s/hdr > %3$s &&"
                  " yes boot-line | head -c 100000 >> %3$s && echo LAST-LINE-OF-THE-LOG >> %3$s &&"
                  " virsh -q -c \"$URI\" pool-refresh %4$s >/dev/null",
                  box, tmp, log, pool_name));
        out = runf("virsh -q -c \"$URI\" vol-dumpxml --pool %s %s-console.log", pool_name, dom);
        ok(strstr(out, "<format type='qcow2'/>") && strstr(out, "vmenv-box-cltest.qcow2"),
           "libvirt probes the log as a qcow2 overlay of the box (the precondition)");

        r = ops->console_log_read(p, NULL, dom, 65536, &data, &len, &err);
        ok(r == 0 && len == 65536 && vmenv_endswith(data, "LAST-LINE-OF-THE-LOG\n"),
           "the tail is read from the end of the file, not from its probed capacity (%zu "
           "bytes%s%s)",
           len, err.msg ? ": " : "", err.msg ? err.msg : "");

        /* a real overlay still holds the box; the log does not */
        ok(ops->overlay_create(p, NULL, ovname, "vmenv-box-cltest.qcow2", 0, &ov, &err) == 0,
           "an overlay of the box is created (%s)", err.msg ? err.msg : "");
        vmenv_error_clear(&err);
        ok(ops->volume_delete(p, NULL, "vmenv-box-cltest.qcow2", &err) < 0 && err.msg &&
               strstr(err.msg, ovname) && !strstr(err.msg, "console.log"),
           "deleting the box is refused for the overlay only (%s)", err.msg ? err.msg : "");
        vmenv_error_clear(&err);
        ok(ops->overlay_delete(p, NULL, ovname, &err) == 0, "the overlay is deleted");
        vmenv_error_clear(&err);
        ok(ops->volume_delete(p, NULL, "vmenv-box-cltest.qcow2", &err) == 0,
           "the box is deleted although the console log names it as backing file (%s)",
           err.msg ? err.msg : "");
        vmenv_error_clear(&err);
        ok(ops->console_log_remove(p, NULL, dom, &err) == 0 && access(log, F_OK) != 0,
           "the console log is removed");
        ops->close(p);
        return done_testing();
}
