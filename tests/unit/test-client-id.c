/* The client ID (docs/remote.md): made once in $VMENV_HOME (0600), mixed into
 * the names of machines on remote URIs only, so two computers with the same
 * project path on one hypervisor name two domains, and local names stay as
 * they were. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tap.h"
#include "vmenv/cleanup.h"
#include "vmenv/config.h"
#include "vmenv/state.h"
#include "vmenv/util.h"

static struct vmenv_config *project(const char *yaml, const char *dir)
{
        vmenv_error err = VMENV_ERROR_INIT;
        struct vmenv_config *c = vmenv_config_parse(yaml, strlen(yaml), "vmenv.yaml", &err);

        if (!c) {
                printf("# %s\n", err.msg);
                exit(1);
        }
        /* as vmenv_config_load sets them for a file in dir */
        free(c->dir);
        free(c->project);
        c->dir = vmenv_strdup(dir);
        c->project = vmenv_strdup("app");
        return c;
}

static const char *yaml = "box: vmenv/tiny\n"
                          "machines:\n"
                          "  near: {}\n"
                          "  far:\n"
                          "    libvirt: { uri: 'qemu+ssh://root@hv.example/system' }\n";

int main(void)
{
        char tmpl[] = "/tmp/vmenv-client-id-XXXXXX";
        char *top = mkdtemp(tmpl);
        _cleanup_free_ char *home_a = vmenv_path_join(top, "a"),
                            *home_b = vmenv_path_join(top, "b");
        _cleanup_free_ char *idfile = vmenv_path_join(home_a, "client-id");
        _cleanup_free_ char *near_before = NULL, *near_a = NULL, *far_a = NULL, *far_a2 = NULL;
        _cleanup_free_ char *far_b = NULL, *near_b = NULL, *text = NULL;
        vmenv_error err = VMENV_ERROR_INIT;
        struct vmenv_config *c;
        struct stat sb;

        unsetenv("VMENV_LIBVIRT_URI");
        setenv("VMENV_HOME", home_a, 1);

        ok(!vmenv_uri_remote("qemu:///system") && !vmenv_uri_remote(NULL) &&
               !vmenv_uri_remote("qemu+unix:///system") &&
               vmenv_uri_remote("qemu+ssh://root@hv/system") &&
               vmenv_uri_remote("qemu+tls://hv/system"),
           "qemu:///… and qemu+unix:///… are local, qemu+ssh://HOST/… and qemu+tls://HOST/… "
           "remote");
        /* the canonical URI of a connection (virConnectGetURI) is classed by
         * the same rule: a host part, or a transport that can reach one */
        ok(vmenv_uri_remote("qemu+ssh:///system") && vmenv_uri_remote("qemu+ext:///system") &&
               vmenv_uri_remote("test+ext:///default?command=/x") &&
               vmenv_uri_remote("QEMU+TCP:///system") && vmenv_uri_remote("qemu://hv/system") &&
               !vmenv_uri_remote("QEMU+UNIX:///system?socket=/s") &&
               !vmenv_uri_remote("test:///default") && vmenv_uri_remote("qemu+unixx:///system"),
           "a transport but unix makes a URI remote, even without a host");
        ok(!vmenv_uri_remote("hail") && !vmenv_uri_remote(""),
           "an alias is not classed remote by its name (the provider checks what it resolves to)");

        /* a project of local machines only: no ID, names as before */
        c = project("box: vmenv/tiny\nmachines:\n  near: {}\n", "/work/app");
        near_before = vmenv_domain_name(c, "near");
        ok(vmenv_config_identify(c, &err) == 0 && !c->client_id && !vmenv_path_exists(idfile),
           "only local machines: no client ID is made");
        vmenv_config_free(c);

        c = project(yaml, "/work/app");
        ok(vmenv_config_identify(c, &err) == 0 && c->client_id && strlen(c->client_id) == 32 &&
               strspn(c->client_id, "0123456789abcdef") == 32,
           "a remote machine: the client ID is 32 hex digits");
        ok(stat(idfile, &sb) == 0 && (sb.st_mode & 0777) == 0600,
           "it is kept in $VMENV_HOME/client-id, mode 0600");
        near_a = vmenv_domain_name(c, "near");
        far_a = vmenv_domain_name(c, "far");
        is_str(near_a, near_before, "the local machine's name does not change");
        ok(strncmp(far_a, "vmenv-app-far-", 14) == 0 && strlen(far_a) == 14 + 8,
           "the remote machine's name keeps its form (%s)", far_a);
        vmenv_config_free(c);

        c = project(yaml, "/work/app");
        ok(vmenv_config_identify(c, &err) == 0, "the ID is read again");
        far_a2 = vmenv_domain_name(c, "far");
        is_str(far_a2, far_a, "the same computer names the remote machine the same");
        vmenv_config_free(c);

        /* another computer: another $VMENV_HOME, the same project path */
        setenv("VMENV_HOME", home_b, 1);
        c = project(yaml, "/work/app");
        ok(vmenv_config_identify(c, &err) == 0, "another computer makes its own ID");
        far_b = vmenv_domain_name(c, "far");
        near_b = vmenv_domain_name(c, "near");
        ok(strcmp(far_b, far_a) != 0, "another computer names the remote machine differently");
        is_str(near_b, near_a, "local names do not depend on the computer");
        vmenv_config_free(c);

        /* --connect / VMENV_LIBVIRT_URI make every machine remote */
        setenv("VMENV_HOME", home_a, 1);
        setenv("VMENV_LIBVIRT_URI", "qemu+ssh://root@hv.example/system", 1);
        c = project("box: vmenv/tiny\nmachines:\n  near: {}\n", "/work/app");
        ok(vmenv_config_identify(c, &err) == 0 && c->client_id, "VMENV_LIBVIRT_URI is remote");
        free(near_b);
        near_b = vmenv_domain_name(c, "near");
        ok(strcmp(near_b, near_a) != 0, "a machine sent to a remote URI by the environment too");
        vmenv_config_free(c);
        unsetenv("VMENV_LIBVIRT_URI");

        /* a damaged file is said, with what to do */
        ok(vmenv_write_file_atomic(idfile, "not an id\n", 10, 0600, &err) == 0, "damaged ID");
        c = project(yaml, "/work/app");
        ok(vmenv_config_identify(c, &err) < 0 && err.code == VMENV_EXIT_DATA && err.msg &&
               strstr(err.msg, "client-id") && err.hint && strstr(err.hint, "remove it"),
           "a damaged ID is an error naming the file, with a hint");
        if (err.msg)
                printf("#   %s\n", err.msg);
        vmenv_error_clear(&err);
        vmenv_config_free(c);

        vmenv_rm_rf(top, NULL);
        (void)text;
        return done_testing();
}
