/* vmenv import, inside the core: both readers of a Vagrantfile (the literal
 * parser and the Ruby recorder) produce the same record, a JSON object
 *   { "events": [ {kind, line, scope?, override?, ...}, ... ],
 *     "not_understood": [ {line, end_line}, ... ],
 *     "error": {line, message} (Ruby only) }
 * which vagrant-yaml.c turns into vmenv.yaml text. Event kinds:
 *   set        key (box, box_version, box_url, hostname, boot_timeout,
 *              ssh.username), value
 *   define     name, options {primary, autostart, ...}
 *   network    type, options
 *   synced_folder host, guest, options
 *   provider   provider, key ("" for the block itself), value
 *   provision  type, name, options
 *   unsupported what */
#ifndef VMENV_VAGRANT_INTERNAL_H
#define VMENV_VAGRANT_INTERNAL_H

#include <json-c/json.h>
#include <stdbool.h>

#include "vmenv/error.h"

/* The literal parser: never fails on any text; lines it cannot read go to
 * "not_understood". */
json_object *vmenv_vagrantfile_literal(const char *text, size_t len);

/* Runs the Ruby recorder on path (whose text was read as text/len); how
 * says how it ran ("ruby in a bubblewrap sandbox"). */
json_object *vmenv_vagrantfile_ruby(const char *path, const char *text, size_t len, bool sandbox,
                                    int timeout_s, char **how, vmenv_error *err);

/* The record as vmenv.yaml text; text is the Vagrantfile, quoted in the
 * comment at the top. n_unsupported/n_not_understood may be NULL. */
char *vmenv_vagrant_record_to_yaml(json_object *record, const char *text, const char *source,
                                   const char *how, size_t *n_unsupported, size_t *n_not_understood,
                                   vmenv_error *err);

#endif
