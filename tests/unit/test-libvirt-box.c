/* End to end through the provider alone: the tiny test box
 * ($VMENV_TEST_BOXES/vmenv-tiny-*.box) uploaded into a private pool, a linked
 * clone of it booted from disk with the user-mode network and an SSH forward
 * on 127.0.0.1, and a login with the Vagrant insecure key. This is what
 * proves the <qemu:commandline> NIC on q35 carries real SSH. Skips without
 * a box or without libvirtd. */
#include <arpa/inet.h>
#include <glob.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tap.h"
#include "vmenv/cleanup.h"
#include "vmenv/provider.h"
#include "vmenv/util.h"

#define SSH_DEADLINE_S 240

static const struct vmenv_provider_ops *ops = &vmenv_provider_libvirt;
static char tmp[] = "/tmp/vmenv-libvirt-box.XXXXXX";
static char pool_name[64], dom_name[64];

static char *run(const char *cmd)
{
        FILE *f = popen(cmd, "r");
        struct vmenv_buf b = {0};
        char chunk[4096];
        size_t n;

        if (!f)
                return vmenv_strdup("");
        while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 && b.len < 65536)
                vmenv_buf_add(&b, chunk, n);
        pclose(f);
        return vmenv_buf_steal(&b);
}

__attribute__((format(printf, 1, 2))) static char *runf(const char *fmt, ...)
{
        va_list ap;
        _cleanup_free_ char *cmd = NULL;
        va_start(ap, fmt);
        cmd = vmenv_vstrdupf(fmt, ap);
        va_end(ap);
        return run(cmd);
}

static int free_port(void)
{
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof(a);
        int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

        if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
            getsockname(fd, (struct sockaddr *)&a, &len) == 0)
                port = ntohs(a.sin_port);
        if (fd >= 0)
                close(fd);
        return port;
}

static void cleanup(void)
{
        _cleanup_free_ char *out =
            runf("(virsh -q -c \"$URI\" destroy %1$s; virsh -q -c \"$URI\" undefine %1$s;"
                 "for v in $(virsh -q -c \"$URI\" vol-list %2$s 2>/dev/null | awk '{print $1}'); do"
                 "  virsh -q -c \"$URI\" vol-delete --pool %2$s $v; done;"
                 "virsh -q -c \"$URI\" pool-destroy %2$s; virsh -q -c \"$URI\" pool-undefine %2$s;"
                 "rm -rf %3$s) >/dev/null 2>&1",
                 dom_name, pool_name, tmp);
}

static char *first_glob(const char *pattern)
{
        glob_t g;
        char *r = NULL;
        if (glob(pattern, 0, NULL, &g) == 0 && g.gl_pathc > 0)
                r = vmenv_strdup(g.gl_pathv[0]);
        globfree(&g);
        return r;
}

int main(void)
{
        vmenv_error err = VMENV_ERROR_INIT;
        struct vmenv_provider *p = NULL;
        struct vmenv_host_info h = {0};
        const char *uri = getenv("VMENV_LIBVIRT_URI");
        const char *boxes = getenv("VMENV_TEST_BOXES");
        _cleanup_free_ char *pattern = NULL, *box = NULL, *key_src = NULL, *key = NULL;
        _cleanup_free_ char *img = NULL, *meta = NULL, *out = NULL, *base = NULL, *disk = NULL;
        _cleanup_free_ char *serial = NULL, *format = NULL;
        enum vmenv_vm_state st = VMENV_VM_OTHER;
        bool logged_in = false;
        uint64_t t0;
        int port;

        if (!uri || !*uri)
                uri = "qemu:///system";
        setenv("URI", uri, 1);
        pattern = vmenv_strdupf("%s/vmenv-tiny-*.box", boxes && *boxes ? boxes : "/nonexistent");
        if (!(box = first_glob(pattern))) {
                printf("1..0 # SKIP no tiny box (%s)\n", pattern);
                return 0;
        }
        if (!(key_src =
                  first_glob("/usr/share/rubygems-integration/all/gems/vagrant-*/keys/vagrant"))) {
                printf("1..0 # SKIP no Vagrant insecure key (package vagrant)\n");
                return 0;
        }
        if (!mkdtemp(tmp)) {
                printf("1..0 # SKIP cannot create a temporary folder\n");
                return 0;
        }
        chmod(tmp, 0755); /* QEMU runs as libvirt-qemu */
        snprintf(pool_name, sizeof(pool_name), "vmenv-test-box-%ld", (long)getpid());
        snprintf(dom_name, sizeof(dom_name), "vmenv-test-box-%ld", (long)getpid());
        {
                _cleanup_free_ char *pool_path = vmenv_path_join(tmp, "pool");
                _cleanup_free_ char *home = vmenv_path_join(tmp, "home");
                setenv("VMENV_HOME", home, 1);
                setenv("VMENV_POOL", pool_name, 1);
                setenv("VMENV_POOL_PATH", pool_path, 1);
        }
        atexit(cleanup);
        if (!(p = ops->open(uri, &err))) {
                printf("1..0 # SKIP cannot connect to %s: %s\n", uri, err.msg);
                vmenv_error_clear(&err);
                return 0;
        }

        key = vmenv_path_join(tmp, "key");
        img = vmenv_path_join(tmp, "box.img");
        meta = vmenv_path_join(tmp, "metadata.json");
        serial = vmenv_path_join(tmp, "serial.log");
        out = runf("cp %s %s && chmod 0600 %s && tar -xf %s -C %s box.img metadata.json 2>&1",
                   key_src, key, key, box, tmp);
        ok(vmenv_path_exists(img), "box.img extracted from %s", box);
        free(out);
        out =
            runf("python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get(\"format\", "
                 "\"qcow2\"))' %s 2>/dev/null",
                 meta);
        format = vmenv_strndup(out, strcspn(out, "\n"));
        if (!*format) {
                free(format);
                format = vmenv_strdup("qcow2");
        }

        CHECK(ops->host_info(p, &h, &err), "host_info");
        CHECK(ops->image_ensure(p, NULL, "tiny-box.img", img, format, &base, &err),
              "image_ensure uploads the box");
        CHECK(ops->overlay_create(p, NULL, "tiny-disk.qcow2", "tiny-box.img", 2ULL << 30, &disk,
                                  &err),
              "overlay_create clones it");

        port = free_port();
        {
                struct vmenv_disk_spec d = {.path = disk, .format = "qcow2"};
                struct vmenv_port_map fwd = {
                    .host_ip = "127.0.0.1", .host_port = port, .guest_port = 22, .protocol = "tcp"};
                struct vmenv_domain_spec s = {
                    .name = dom_name,
                    .title = "vmenv: box-test/default",
                    .project_dir = tmp,
                    .machine = "default",
                    .memory = 256ULL << 20,
                    .cpus = 1,
                    .kvm = h.kvm,
                    .disks = &d,
                    .n_disks = 1,
                    .serial_log = serial,
                    .ports = &fwd,
                    .n_ports = 1,
                };
                CHECK(ops->define(p, &s, &err), "define");
        }
        t0 = vmenv_now_ns();
        CHECK(ops->start(p, dom_name, NULL, &err), "start");
        while (!logged_in && (vmenv_now_ns() - t0) / 1000000000u < SSH_DEADLINE_S) {
                free(out);
                out =
                    runf("ssh -q -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
                         "-o BatchMode=yes -o ConnectTimeout=5 -o IdentitiesOnly=yes "
                         "-i %s -p %d vagrant@127.0.0.1 'echo vmenv-ssh-ok; uname -r' 2>/dev/null",
                         key, port);
                logged_in = strstr(out, "vmenv-ssh-ok") != NULL;
                if (!logged_in)
                        sleep(1);
        }
        if (!ok(logged_in, "ssh -p %d vagrant@127.0.0.1 logs in with the insecure key", port)) {
                _cleanup_free_ char *tail = runf("tail -n 20 %s 2>/dev/null", serial);
                printf("# serial console:\n%s", tail);
        } else {
                const char *nl = strchr(out, '\n');
                printf("# boot to SSH: %.1f s (kvm=%d), guest kernel %s",
                       (double)(vmenv_now_ns() - t0) / 1e9, h.kvm, nl ? nl + 1 : "?\n");
        }
        CHECK(ops->shutdown(p, dom_name, &err), "ACPI shutdown is accepted");
        for (int i = 0; i < 300; i++) {
                vmenv_error e = VMENV_ERROR_INIT;
                if (ops->state(p, dom_name, &st, &e) < 0 || st == VMENV_VM_SHUTOFF)
                        break;
                vmenv_error_clear(&e);
                usleep(100000);
        }
        ok(st == VMENV_VM_SHUTOFF, "the guest powers off on ACPI within 30 s (state: %s)",
           vmenv_vm_state_name(st));
        CHECK(ops->poweroff(p, dom_name, &err), "poweroff");
        CHECK(ops->undefine(p, dom_name, &err), "undefine");
        CHECK(ops->volume_delete(p, NULL, "tiny-disk.qcow2", &err), "delete the disk");
        CHECK(ops->volume_delete(p, NULL, "tiny-box.img", &err), "delete the box image");
        vmenv_error_clear(&err);
        vmenv_host_info_clear(&h);
        ops->close(p);
        return done_testing();
}
