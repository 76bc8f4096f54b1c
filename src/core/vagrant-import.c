/* vmenv import: reads a Vagrantfile with the literal parser (the default:
 * nothing runs) or with Ruby (--ruby: the file is evaluated, sandboxed),
 * and returns the vmenv.yaml both readers' record describes. */
#include <string.h>

#include "json-cleanup.h"
#include "vagrant-internal.h"
#include "vmenv/cleanup.h"
#include "vmenv/util.h"
#include "vmenv/vagrant.h"

void vmenv_import_result_clear(struct vmenv_import_result *r)
{
        free(r->yaml);
        free(r->method);
        memset(r, 0, sizeof(*r));
}

int vmenv_vagrant_import(const char *path, const struct vmenv_import_opts *opts,
                         struct vmenv_import_result *out, vmenv_error *err)
{
        _cleanup_free_ char *text = NULL, *how = NULL;
        _cleanup_(json_putp) json_object *record = NULL;
        struct vmenv_import_result r = {0};
        size_t len;

        if (vmenv_read_file(path, VMENV_VAGRANTFILE_MAX_BYTES, &text, &len, err) < 0)
                return -1;
        if (memchr(text, '\0', len))
                return vmenv_error_set(err, VMENV_EXIT_DATA,
                                       "'%s' is not a text file (it holds a "
                                       "NUL byte)",
                                       path);
        if (opts->ruby) {
                if (!(record = vmenv_vagrantfile_ruby(path, text, len, !opts->no_sandbox,
                                                      opts->ruby_timeout, &how, err)))
                        return -1;
        } else {
                record = vmenv_vagrantfile_literal(text, len);
                how = vmenv_strdup("read by the literal parser; the file was not run");
        }
        if (!(r.yaml = vmenv_vagrant_record_to_yaml(record, text, path, how, &r.n_unsupported,
                                                    &r.n_not_understood, err)))
                return -1;
        r.method = TAKE_PTR(how);
        *out = r;
        return 0;
}
