/* The #cloud-config user-data of a cloud image's seed: vmenv's own keys
 * merged into the project's #cloud-config. It lives beside config.c because
 * libyaml does: the user's document is read as parser events and written
 * back through libyaml's emitter, event for event (styles, tags, anchors and
 * aliases kept, so an alias is never expanded), with vmenv's keys added. */
#include <string.h>
#include <yaml.h>

#include "config-private.h"
#include "vmenv/box.h"
#include "vmenv/cleanup.h"
#include "vmenv/cloud.h"
#include "vmenv/util.h"

/* Outside input: a document deeper or longer than this is refused. */
#define MAX_DEPTH 64
#define MAX_EVENTS 200000

struct merge {
        yaml_emitter_t e;
        struct vmenv_buf out;
        const struct vmenv_cloud_seed_in *in;
        vmenv_error *err;
        int failed;
        bool seen[6]; /* which of vmenv_keys the user's document sets */
};

static int write_out(void *data, unsigned char *buf, size_t size)
{
        vmenv_buf_add(data, buf, size);
        return 1;
}

static int emit(struct merge *m, yaml_event_t *ev)
{
        /* The emitter owns the event from here, on success or failure. */
        if (m->failed)
                return yaml_event_delete(ev), -1;
        if (!yaml_emitter_emit(&m->e, ev)) {
                m->failed = 1;
                return vmenv_error_set(m->err, VMENV_EXIT_CONFIG, "cannot write user-data: %s",
                                       m->e.problem ? m->e.problem : "emitter error");
        }
        return 0;
}

/* vmenv's values are double-quoted (any text is safe); plain for booleans. */
static int scalar(struct merge *m, const char *s, bool quoted)
{
        yaml_event_t ev;
        if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)strlen(s), 1, 1,
                                          quoted ? YAML_DOUBLE_QUOTED_SCALAR_STYLE
                                                 : YAML_PLAIN_SCALAR_STYLE))
                abort();
        return emit(m, &ev);
}

static int map_start(struct merge *m, bool flow)
{
        yaml_event_t ev;
        yaml_mapping_start_event_initialize(
            &ev, NULL, NULL, 1, flow ? YAML_FLOW_MAPPING_STYLE : YAML_BLOCK_MAPPING_STYLE);
        return emit(m, &ev);
}

static int seq_start(struct merge *m, bool flow)
{
        yaml_event_t ev;
        yaml_sequence_start_event_initialize(
            &ev, NULL, NULL, 1, flow ? YAML_FLOW_SEQUENCE_STYLE : YAML_BLOCK_SEQUENCE_STYLE);
        return emit(m, &ev);
}

static int end(struct merge *m, bool mapping)
{
        yaml_event_t ev;
        if (mapping)
                yaml_mapping_end_event_initialize(&ev);
        else
                yaml_sequence_end_event_initialize(&ev);
        return emit(m, &ev);
}

static int pair(struct merge *m, const char *key, const char *value, bool quoted)
{
        scalar(m, key, false);
        return scalar(m, value, quoted);
}

/* vmenv's user: passwordless sudo, no password, the machine's own key. */
static int emit_user(struct merge *m)
{
        map_start(m, false);
        pair(m, "name", m->in->user, true);
        pair(m, "sudo", "ALL=(ALL) NOPASSWD:ALL", true);
        pair(m, "shell", "/bin/bash", true);
        pair(m, "lock_passwd", "true", false);
        scalar(m, "ssh_authorized_keys", false);
        seq_start(m, false);
        scalar(m, m->in->public_key, true);
        end(m, false);
        return end(m, true);
}

/* The top-level keys vmenv sets when the user's document does not. */
enum { K_HOSTNAME, K_ETC_HOSTS, K_PWAUTH, K_GROWPART, K_RESIZE, K_USERS, K_N };
static const char *const vmenv_keys[K_N] = {
    "hostname", "manage_etc_hosts", "ssh_pwauth", "growpart", "resize_rootfs", "users",
};

static int emit_vmenv_keys(struct merge *m)
{
        const bool *seen = m->seen;
        bool full = !m->in->minimal;
        if (full && !seen[K_HOSTNAME])
                pair(m, "hostname", m->in->hostname, true);
        if (full && !seen[K_ETC_HOSTS])
                pair(m, "manage_etc_hosts", "true", false);
        if (!seen[K_PWAUTH])
                pair(m, "ssh_pwauth", "false", false);
        if (full && !seen[K_GROWPART]) {
                scalar(m, "growpart", false);
                map_start(m, false);
                pair(m, "mode", "auto", true);
                scalar(m, "devices", false);
                seq_start(m, true);
                scalar(m, "/", true);
                end(m, false);
                end(m, true);
        }
        if (full && !seen[K_RESIZE])
                pair(m, "resize_rootfs", "true", false);
        if (!seen[K_USERS]) {
                scalar(m, "users", false);
                seq_start(m, false);
                emit_user(m);
                end(m, false);
        }
        return m->failed ? -1 : 0;
}

static int key_index(const yaml_event_t *ev)
{
        for (int i = 0; i < K_N; i++)
                if (ev->data.scalar.length == strlen(vmenv_keys[i]) &&
                    !memcmp(ev->data.scalar.value, vmenv_keys[i], ev->data.scalar.length))
                        return i;
        return -1;
}

static int bad(struct merge *m, const yaml_event_t *ev, const char *what)
{
        const char *name = m->in->user_data_name ? m->in->user_data_name : "user-data";
        return vmenv_error_set(m->err, VMENV_EXIT_CONFIG, "%s:%zu:%zu: %s", name,
                               ev->start_mark.line + 1, ev->start_mark.column + 1, what);
}

/* Copies the user's events to the emitter, adding vmenv's user to their
 * `users:` list and vmenv's keys at the end of the top-level mapping. */
static int pass_through(struct merge *m, yaml_parser_t *p)
{
        bool *seen = m->seen;
        int depth = 0, users_depth = -1, pending = -1;
        size_t top_nodes = 0, n_events = 0;
        bool root_done = false, docs = false;

        for (;;) {
                yaml_event_t ev;
                if (!yaml_parser_parse(p, &ev))
                        return vmenv_error_set(m->err, VMENV_EXIT_CONFIG, "%s:%zu:%zu: %s",
                                               m->in->user_data_name ? m->in->user_data_name
                                                                     : "user-data",
                                               p->problem_mark.line + 1, p->problem_mark.column + 1,
                                               p->problem ? p->problem : "invalid YAML");
                if (++n_events > MAX_EVENTS) {
                        bad(m, &ev, "the document is too long");
                        return yaml_event_delete(&ev), -1;
                }
                yaml_event_type_t t = ev.type;
                bool starts_node = t == YAML_SCALAR_EVENT || t == YAML_ALIAS_EVENT ||
                                   t == YAML_SEQUENCE_START_EVENT || t == YAML_MAPPING_START_EVENT;

                if (t == YAML_STREAM_START_EVENT) {
                        yaml_event_delete(&ev);
                        continue;
                }
                if (t == YAML_STREAM_END_EVENT) {
                        yaml_event_delete(&ev);
                        return 0;
                }
                if (t == YAML_DOCUMENT_START_EVENT) {
                        if (docs) {
                                bad(m, &ev, "more than one document");
                                return yaml_event_delete(&ev), -1;
                        }
                        docs = true;
                        yaml_event_delete(&ev);
                        continue;
                }
                if (t == YAML_DOCUMENT_END_EVENT) {
                        yaml_event_delete(&ev);
                        continue;
                }
                if (depth == 0 && starts_node) {
                        if (t == YAML_SCALAR_EVENT && ev.data.scalar.length == 0 &&
                            ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
                                yaml_event_delete(&ev); /* an empty document */
                                continue;
                        }
                        if (t != YAML_MAPPING_START_EVENT || root_done) {
                                bad(m, &ev, "#cloud-config must be a mapping of keys");
                                return yaml_event_delete(&ev), -1;
                        }
                        root_done = true;
                        yaml_event_delete(&ev); /* ours was emitted already */
                        depth = 1;
                        continue;
                }
                if (depth == 1 && starts_node) {
                        bool is_key = top_nodes++ % 2 == 0;
                        if (is_key) {
                                pending = t == YAML_SCALAR_EVENT ? key_index(&ev) : -1;
                                if (pending >= 0)
                                        seen[pending] = true;
                        } else if (pending == K_USERS) {
                                if (t != YAML_SEQUENCE_START_EVENT) {
                                        bad(m, &ev, "users: must be a list");
                                        return yaml_event_delete(&ev), -1;
                                }
                                users_depth = 2;
                        }
                }
                if (t == YAML_MAPPING_END_EVENT && depth == 1) {
                        yaml_event_delete(&ev);
                        depth = 0;
                        continue;
                }
                if (t == YAML_SEQUENCE_END_EVENT && depth == users_depth) {
                        emit_user(m);
                        users_depth = -1;
                }
                if (t == YAML_SEQUENCE_START_EVENT || t == YAML_MAPPING_START_EVENT) {
                        if (++depth > MAX_DEPTH) {
                                bad(m, &ev, "the document is nested too deeply");
                                return yaml_event_delete(&ev), -1;
                        }
                } else if (t == YAML_SEQUENCE_END_EVENT || t == YAML_MAPPING_END_EVENT) {
                        depth--;
                }
                if (emit(m, &ev) < 0)
                        return -1;
        }
}

char *vmenv_cloud_config_merge(const struct vmenv_cloud_seed_in *in, const char *user_yaml,
                               size_t len, vmenv_error *err)
{
        struct merge m = {.in = in, .err = err};
        yaml_event_t ev;

        _Static_assert(K_N == VMENV_ARRAY_SIZE(m.seen), "one flag per key");
        if (!yaml_emitter_initialize(&m.e))
                abort();
        yaml_emitter_set_output(&m.e, write_out, &m.out);
        yaml_emitter_set_unicode(&m.e, 1);
        yaml_emitter_set_width(&m.e, -1); /* no folding: a key stays on one line */
        yaml_emitter_set_indent(&m.e, 2);
        vmenv_buf_puts(&m.out, "#cloud-config\n");

        yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
        emit(&m, &ev);
        yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
        emit(&m, &ev);
        map_start(&m, false);
        if (user_yaml) {
                yaml_parser_t p;
                if (!yaml_parser_initialize(&p))
                        abort();
                yaml_parser_set_input_string(&p, (const unsigned char *)user_yaml, len);
                int rc = pass_through(&m, &p);
                yaml_parser_delete(&p);
                if (rc < 0)
                        goto fail;
        }
        emit_vmenv_keys(&m);
        end(&m, true);
        yaml_document_end_event_initialize(&ev, 1);
        emit(&m, &ev);
        yaml_stream_end_event_initialize(&ev);
        if (emit(&m, &ev) < 0 || !yaml_emitter_flush(&m.e))
                goto fail;
        yaml_emitter_delete(&m.e);
        return vmenv_buf_steal(&m.out);
fail:
        if (!err->code)
                vmenv_error_set(err, VMENV_EXIT_CONFIG, "cannot write user-data");
        yaml_emitter_delete(&m.e);
        vmenv_buf_free(&m.out);
        return NULL;
}

/* ---- the cloud_init: key of vmenv.yaml ---------------------------------- */

static const char *const cloud_init_keys[] = {"user_data", "minimal", NULL};

int vmenv_cfg_parse_cloud_init(struct pctx *p, const struct ynode *n, const char *path,
                               struct vmenv_cloud_init_config *out)
{
        struct vmenv_cloud_init_config c = {.where = {n->line, n->col}};

        if (n->type == Y_SCALAR && !vmenv_cfg_is_null(n)) {
                if (strcmp(n->s, "minimal"))
                        return vmenv_cfg_fail(p, n, path,
                                              "expected 'minimal' or a mapping with user_data, "
                                              "got \"%s\"",
                                              n->s);
                c.minimal = true;
        } else if (!vmenv_cfg_is_null(n)) {
                if (vmenv_cfg_need(p, n, Y_MAP, path) < 0)
                        return -1;
                for (size_t i = 0; i < n->n; i += 2) {
                        const struct ynode *k = n->kids[i], *v = n->kids[i + 1];
                        _cleanup_free_ char *kp = vmenv_cfg_key_path(path, k->s);
                        int r;
                        if (!strcmp(k->s, "user_data")) {
                                r = vmenv_cfg_get_str(p, v, kp, &c.user_data);
                                if (!r && (!*c.user_data || c.user_data[0] == '/'))
                                        r = vmenv_cfg_fail(p, v, kp,
                                                           "name a file of the project, relative "
                                                           "to vmenv.yaml");
                        } else if (!strcmp(k->s, "minimal")) {
                                r = vmenv_cfg_get_bool(p, v, kp, &c.minimal);
                        } else {
                                r = vmenv_cfg_unknown_key(p, k, kp, cloud_init_keys);
                        }
                        if (r < 0) {
                                free(c.user_data);
                                return -1;
                        }
                }
        }
        free(out->user_data);
        *out = c;
        return 0;
}

bool vmenv_cfg_box_is_cloud(const char *box)
{
        return box && vmenv_cloud_alias_known(box);
}
