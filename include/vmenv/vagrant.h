/* vmenv import: a vmenv.yaml made from an existing Vagrantfile. By default
 * a literal parser reads the common forms without running anything; with
 * ruby set, the file is evaluated by Ruby against a recording stand-in for
 * Vagrant.configure, in a sandbox where bubblewrap is available. */
#ifndef VMENV_VAGRANT_H
#define VMENV_VAGRANT_H

#include <stdbool.h>
#include <stddef.h>

#include "vmenv/error.h"

/* A Vagrantfile larger than this is refused. */
#define VMENV_VAGRANTFILE_MAX_BYTES (1u << 20)

struct vmenv_import_opts {
        bool ruby;        /* evaluate with Ruby (runs the file) */
        bool no_sandbox;  /* with ruby: run without bubblewrap even if present */
        int ruby_timeout; /* seconds; 0 = the default (60) */
};

struct vmenv_import_result {
        char *yaml;              /* the vmenv.yaml text, valid for 'vmenv validate' */
        char *method;            /* "literal parser", "ruby in a bubblewrap sandbox", ... */
        size_t n_unsupported;    /* settings listed as not expressible */
        size_t n_not_understood; /* lines the literal parser skipped */
};

/* Reads the Vagrantfile at path and returns its vmenv.yaml in out. */
int vmenv_vagrant_import(const char *path, const struct vmenv_import_opts *opts,
                         struct vmenv_import_result *out, vmenv_error *err);
void vmenv_import_result_clear(struct vmenv_import_result *r);

#endif
