/* The provider changes only domains whose <metadata> names its project and
 * a machine fitting the domain's name, once it knows its project; checked
 * through the real test:///default driver (its built-in domain 'test' has
 * no vmenv metadata, like any domain vmenv did not make). */
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "vmenv/provider.h"
#include "vmenv/util.h"

static const struct vmenv_provider_ops *ops = &vmenv_provider_libvirt;

static void refused(int r, vmenv_error *err, const char *part, const char *what)
{
        ok(r < 0 && err->code == VMENV_EXIT_NOPERM && err->msg && strstr(err->msg, part) &&
               err->hint && strstr(err->hint, "docs/security.md"),
           "%s is refused (exit 77, '%s')", what, part);
        if (err->msg)
                printf("#   %s\n", err->msg);
        vmenv_error_clear(err);
}

static void accepted(int r, vmenv_error *err, const char *what)
{
        ok(r == 0, "%s", what);
        if (r < 0)
                printf("#   %s\n", err->msg ? err->msg : "(no message)");
        vmenv_error_clear(err);
}

static struct vmenv_domain_spec spec(const char *name, const char *project, const char *machine,
                                     struct vmenv_disk_spec *disk)
{
        return (struct vmenv_domain_spec){.name = name,
                                          .project_dir = project,
                                          .machine = machine,
                                          .memory = 64ull << 20,
                                          .cpus = 1,
                                          .disks = disk,
                                          .n_disks = 1,
                                          .network = "user"};
}

int main(void)
{
        vmenv_error err = VMENV_ERROR_INIT;
        struct vmenv_disk_spec disk = {"/tmp/vmenv-owner-test.qcow2", "qcow2"};
        struct vmenv_domain_spec web = spec("vmenv-a-web-0123abcd", "/proj/a", "web", &disk);
        struct vmenv_domain_spec web_b = spec("vmenv-a-web-0123abcd", "/proj/b", "web", &disk);
        struct vmenv_domain_spec lie = spec("vmenv-a-db-0123abcd", "/proj/a", "web", &disk);
        enum vmenv_vm_state vs = VMENV_VM_OTHER;
        struct vmenv_provider *p = ops->open("test:///default", &err);

        if (!ok(p != NULL, "test:///default opens")) {
                printf("#   %s\n", err.msg);
                return done_testing();
        }
        /* Without a project, nothing is checked (tests, tools). */
        accepted(ops->define(p, &web, &err), &err, "without an owner, define works");

        ops->set_owner(p, "/proj/a");
        refused(ops->poweroff(p, "test", &err), &err, "it has no vmenv metadata",
                "poweroff of a domain without metadata");
        refused(ops->undefine(p, "test", &err), &err, "no vmenv metadata",
                "undefine of a domain without metadata");
        refused(ops->shutdown(p, "test", &err), &err, "no vmenv metadata", "shutdown");
        refused(ops->suspend(p, "test", &err), &err, "no vmenv metadata", "suspend");
        refused(ops->snapshot_create(p, "test", "s1", &err), &err, "no vmenv metadata",
                "a snapshot");
        struct vmenv_domain_spec over = spec("test", "/proj/a", "web", &disk);
        refused(ops->define(p, &over, &err), &err, "no vmenv metadata",
                "redefining a domain without metadata");
        ok(ops->state(p, "test", &vs, &err) == 0 && vs == VMENV_VM_RUNNING,
           "the domain without metadata still runs");

        accepted(ops->define(p, &web, &err), &err, "redefining our own domain works");
        accepted(ops->start(p, web.name, NULL, &err), &err, "starting our own domain works");
        accepted(ops->poweroff(p, web.name, &err), &err, "powering it off works");

        ops->set_owner(p, "/proj/b");
        refused(ops->define(p, &web_b, &err), &err, "belongs to the project in '/proj/a'",
                "another project redefining it");
        /* the console log volume is made only past define's check */
        {
                char *log = NULL;
                refused(ops->console_log_ensure(p, "default-pool", web.name, &log, &err), &err,
                        "belongs to the project in '/proj/a'",
                        "another project making its console log volume");
                ok(!log &&
                       ops->volume_path(p, "default-pool", "vmenv-a-web-0123abcd-console.log", &log,
                                        &err) < 0 &&
                       err.code == VMENV_EXIT_NOINPUT,
                   "the refusal leaves no console log volume");
                vmenv_error_clear(&err);
                free(log);
        }
        refused(ops->start(p, web.name, NULL, &err), &err, "belongs to the project in '/proj/a'",
                "another project starting it");
        refused(ops->undefine(p, web.name, &err), &err, "/proj/a", "another project undefining it");

        ops->set_owner(p, "/proj/a");
        accepted(ops->define(p, &lie, &err), &err, "a new domain is defined as asked");
        refused(ops->start(p, lie.name, NULL, &err), &err, "names machine 'web'",
                "a domain whose metadata names another machine");

        accepted(ops->undefine(p, web.name, &err), &err, "our own domain is undefined");

        /* A shared remote hypervisor: the same project path on two
         * computers, told apart by their client IDs (docs/remote.md). */
        struct vmenv_domain_spec shared = spec("vmenv-a-db-89abcdef", "/proj/a", "db", &disk);
        ops->set_client(p, "0123456789abcdef0123456789abcdef");
        accepted(ops->define(p, &shared, &err), &err, "a remote client defines its domain");
        accepted(ops->start(p, shared.name, NULL, &err), &err, "and starts it");
        ops->set_client(p, "fedcba9876543210fedcba9876543210");
        refused(ops->poweroff(p, shared.name, &err), &err, "another computer's vmenv",
                "another client (same project path) powering it off");
        refused(ops->define(p, &shared, &err), &err, "another computer's vmenv",
                "another client redefining it");
        refused(ops->undefine(p, shared.name, &err), &err, "client ID '0123456789abcdef",
                "another client undefining it");
        ops->set_client(p, "0123456789abcdef0123456789abcdef");
        accepted(ops->poweroff(p, shared.name, &err), &err, "its own client powers it off");
        accepted(ops->undefine(p, shared.name, &err), &err, "its own client undefines it");
        /* a domain a local connection made carries no client mark */
        ops->set_client(p, NULL);
        accepted(ops->define(p, &shared, &err), &err, "a local connection defines it unmarked");
        ops->set_client(p, "fedcba9876543210fedcba9876543210");
        refused(ops->start(p, shared.name, NULL, &err), &err, "client ID 'none'",
                "a remote client starting a domain without a client mark");
        ops->set_client(p, NULL);
        accepted(ops->undefine(p, shared.name, &err), &err, "the local connection undefines it");
        ops->set_owner(p, NULL);
        accepted(ops->undefine(p, lie.name, &err), &err, "cleanup without an owner");
        ops->close(p);
        return done_testing();
}
