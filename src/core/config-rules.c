/* vmenv.yaml, the rules: what each key accepts, its defaults, and how a
 * machine's settings are put together from the top level and its own keys
 * (scalars and lists are replaced, ssh:/libvirt: merge by key). */
#include <arpa/inet.h>
#include <string.h>

#include "config-private.h"
#include "vmenv/box.h"
#include "vmenv/cleanup.h"
#include "vmenv/config.h"
#include "vmenv/util.h"

#define MAX_FORWARDS 256
#define MAX_FOLDERS 64
#define MAX_PROVISIONERS 256

#define MEM_MIN (16ull << 20)
#define MEM_MAX (1ull << 40)
#define DISK_MIN (16ull << 20)
#define DISK_MAX (16ull << 40)

/* ---- schema ---- */

static const char *const machine_keys[] = {"box",
                                           "box_version",
                                           "box_url",
                                           "box_checksum",
                                           "cpus",
                                           "memory",
                                           "disk",
                                           "hostname",
                                           "boot_timeout",
                                           "network",
                                           "forwarded_ports",
                                           "synced_folders",
                                           "provision",
                                           "ssh",
                                           "cloud_init",
                                           "kernel",
                                           "initrd",
                                           "cmdline",
                                           "libvirt",
                                           "primary",
                                           "machines",
                                           "networks",
                                           NULL};
static const char *const forward_keys[] = {"guest",        "host", "host_ip", "protocol",
                                           "auto_correct", "id",   NULL};
static const char *const folder_keys[] = {
    "host", "guest", "type", "exclude", "disabled", "allow_private_state", NULL};
static const char *const prov_keys[] = {"name",   "shell",       "script", "args",
                                        "env",    "privileged",  "run",    "file",
                                        "source", "destination", NULL};
static const char *const file_keys[] = {"source", "destination", NULL};
static const char *const env_keys[] = {"value", "sensitive", NULL};
static const char *const ssh_keys[] = {"user", "port", "private_key", NULL};
static const char *const libvirt_keys[] = {"uri",   "machine_type", "cpu_mode", "storage_pool",
                                           "video", "graphics",     NULL};
static const char *const protocols[] = {"tcp", "udp", NULL};
static const char *const folder_types[] = {"rsync", "9p", "virtiofs", NULL};
static const char *const networks[] = {"user", "nat", NULL};
static const char *const runs[] = {"once", "always", "never", NULL};
static const char *const cpu_modes[] = {"host-passthrough", "host-model", "maximum", "custom",
                                        NULL};
static const char *const videos[] = {"none",   "virtio", "vga",   "qxl",
                                     "cirrus", "bochs",  "ramfb", NULL};
static const char *const graphics_set[] = {"none", "vnc", "spice", NULL};

static int parse_forward(struct pctx *p, const struct ynode *n, const char *path,
                         struct vmenv_forward *f)
{
        bool has_guest = false, has_host = false;

        if (vmenv_cfg_need(p, n, Y_MAP, path) < 0)
                return -1;
        f->where = (struct vmenv_where){n->line, n->col};
        for (size_t i = 0; i < n->n; i += 2) {
                const struct ynode *k = n->kids[i], *v = n->kids[i + 1];
                _cleanup_free_ char *kp = vmenv_cfg_key_path(path, k->s);
                int r;

                if (!strcmp(k->s, "guest")) {
                        r = vmenv_cfg_get_int(p, v, kp, 1, 65535, "a port number", &f->guest);
                        has_guest = true;
                } else if (!strcmp(k->s, "host")) {
                        r = vmenv_cfg_get_int(p, v, kp, 1, 65535, "a port number", &f->host);
                        has_host = true;
                } else if (!strcmp(k->s, "host_ip")) {
                        unsigned char buf[16];
                        r = vmenv_cfg_get_str(p, v, kp, &f->host_ip);
                        if (!r && inet_pton(AF_INET, f->host_ip, buf) != 1 &&
                            inet_pton(AF_INET6, f->host_ip, buf) != 1)
                                r = vmenv_cfg_fail(p, v, kp, "\"%s\" is not an IP address",
                                                   f->host_ip);
                } else if (!strcmp(k->s, "protocol")) {
                        r = vmenv_cfg_get_enum(p, v, kp, protocols, &f->protocol);
                } else if (!strcmp(k->s, "auto_correct")) {
                        r = vmenv_cfg_get_bool(p, v, kp, &f->auto_correct);
                } else if (!strcmp(k->s, "id")) {
                        r = vmenv_cfg_get_str(p, v, kp, &f->id);
                } else {
                        r = vmenv_cfg_unknown_key(p, k, kp, forward_keys);
                }
                if (r < 0)
                        return -1;
        }
        if (!has_guest)
                return vmenv_cfg_fail(p, n, path,
                                      "a forwarded port needs 'guest' (the port in the machine)");
        if (!has_host)
                return vmenv_cfg_fail(p, n, path,
                                      "a forwarded port needs 'host' (the port on this computer)");
        if (!f->host_ip)
                f->host_ip = vmenv_strdup("127.0.0.1");
        if (!f->protocol)
                f->protocol = vmenv_strdup("tcp");
        return 0;
}

/* Folders are mirrored: what the host lacks is deleted in the guest. The
 * path is normalised here ("/./", "//", "..") so that no spelling of the
 * root or of the SSH user's home (checked once the user is known) gets past
 * the checks; "~" forms are refused as such. */
char *vmenv_guest_folder(const char *path, const char **why, const char **hint)
{
        struct vmenv_buf b = {0};
        const char *s = path;

        *why = *hint = NULL;
        if (s[0] == '~' && (!strchr(s, '/') || !strchr(s, '/')[strspn(strchr(s, '/'), "/")])) {
                *why = "is the SSH user's home folder";
                *hint = "mirroring it would delete ~/.ssh/authorized_keys: name a folder of its "
                        "own, like /vagrant";
                return NULL;
        }
        if (s[0] != '/') {
                *why = "is not an absolute path";
                return NULL;
        }
        while (*s) {
                size_t n;
                s += strspn(s, "/");
                n = strcspn(s, "/");
                if (n == 2 && !strncmp(s, "..", 2)) {
                        while (b.len && b.data[b.len - 1] != '/')
                                b.len--;
                        if (b.len)
                                b.len--;
                } else if (n && !(n == 1 && s[0] == '.')) {
                        vmenv_buf_puts(&b, "/");
                        vmenv_buf_add(&b, s, n);
                }
                s += n;
        }
        if (!b.len) {
                vmenv_buf_free(&b);
                *why = "is the guest's root folder";
                *hint = "mirroring it would delete the guest's system: name a folder of its own, "
                        "like /vagrant";
                return NULL;
        }
        b.data[b.len] = '\0';
        return vmenv_buf_steal(&b);
}

static int guest_path(struct pctx *p, const struct ynode *v, const char *kp, char **path)
{
        const char *why, *hint;
        char *norm = vmenv_guest_folder(*path, &why, &hint);

        if (!norm) {
                vmenv_cfg_fail(p, v, kp, "\"%s\" %s", *path, why);
                return hint ? vmenv_error_hint(p->err, "%s", hint) : -1;
        }
        free(*path);
        *path = norm;
        return 0;
}

/* ':' separates the name from the digest in the run-once record, ',' names
 * in --provision-with. */
bool vmenv_provisioner_name_valid(const char *name)
{
        if (!*name)
                return false;
        for (const unsigned char *c = (const unsigned char *)name; *c; c++)
                if (*c == ':' || *c == ',' || *c < 0x20 || *c == 0x7f)
                        return false;
        return true;
}

const char *vmenv_guest_folder_home(const char *guest, const char *user)
{
        _cleanup_free_ char *home =
            vmenv_streq(user, "root") ? vmenv_strdup("/root") : vmenv_strdupf("/home/%s", user);
        size_t n = strlen(guest);

        if (strncmp(home, guest, n) || (home[n] && home[n] != '/'))
                return NULL;
        return home[n] ? "holds" : "is";
}

/* The SSH user's home, or a folder above it, as a synced folder's guest. */
static int check_homes(struct pctx *p, const struct vmenv_machine_config *m, const char *prefix)
{
        for (size_t i = 0; i < m->n_folders; i++) {
                const char *g = m->folders[i].guest, *verb;
                if (m->folders[i].disabled || !(verb = vmenv_guest_folder_home(g, m->ssh.user)))
                        continue;
                vmenv_cfg_fail_at(p, m->folders[i].where.line, m->folders[i].where.column,
                                  "%s%ssynced_folders[%zu].guest: \"%s\" %s the home folder of "
                                  "the SSH user '%s'",
                                  prefix, *prefix ? "." : "", i, g, verb, m->ssh.user);
                return vmenv_error_hint(p->err, "mirroring it would delete "
                                                "~/.ssh/authorized_keys: name a folder of its "
                                                "own, like /vagrant");
        }
        return 0;
}

static int parse_folder(struct pctx *p, const struct ynode *n, const char *path,
                        struct vmenv_synced_folder *f)
{
        if (vmenv_cfg_need(p, n, Y_MAP, path) < 0)
                return -1;
        f->where = (struct vmenv_where){n->line, n->col};
        for (size_t i = 0; i < n->n; i += 2) {
                const struct ynode *k = n->kids[i], *v = n->kids[i + 1];
                _cleanup_free_ char *kp = vmenv_cfg_key_path(path, k->s);
                int r;

                if (!strcmp(k->s, "host"))
                        r = vmenv_cfg_get_str(p, v, kp, &f->host);
                else if (!strcmp(k->s, "guest")) {
                        r = vmenv_cfg_get_str(p, v, kp, &f->guest);
                        if (!r)
                                r = guest_path(p, v, kp, &f->guest);
                } else if (!strcmp(k->s, "type"))
                        r = vmenv_cfg_get_enum(p, v, kp, folder_types, &f->type);
                else if (!strcmp(k->s, "exclude"))
                        r = vmenv_cfg_get_strv(p, v, kp, &f->exclude);
                else if (!strcmp(k->s, "disabled"))
                        r = vmenv_cfg_get_bool(p, v, kp, &f->disabled);
                else if (!strcmp(k->s, "allow_private_state"))
                        r = vmenv_cfg_get_bool(p, v, kp, &f->allow_private_state);
                else
                        r = vmenv_cfg_unknown_key(p, k, kp, folder_keys);
                if (r < 0)
                        return -1;
        }
        if (!f->host)
                return vmenv_cfg_fail(p, n, path,
                                      "a synced folder needs 'host' (a folder of the project)");
        if (!f->guest)
                return vmenv_cfg_fail(p, n, path,
                                      "a synced folder needs 'guest' (an absolute path)");
        if (!f->type)
                f->type = vmenv_strdup("rsync");
        return 0;
}

static int parse_env(struct pctx *p, const struct ynode *n, const char *path,
                     struct vmenv_provisioner *v)
{
        if (vmenv_cfg_need(p, n, Y_MAP, path) < 0)
                return -1;
        if (n->n / 2 > MAX_LIST)
                return vmenv_cfg_fail(p, n, path, "too many entries (the limit is %d)", MAX_LIST);
        for (size_t i = 0; i < v->n_env; i++) {
                free(v->env[i].name);
                free(v->env[i].value);
        }
        free(v->env);
        v->n_env = 0;
        v->env = vmenv_calloc(n->n / 2 + 1, sizeof(*v->env));
        for (size_t i = 0; i < n->n; i += 2) {
                const struct ynode *k = n->kids[i], *val = n->kids[i + 1];
                _cleanup_free_ char *kp = vmenv_cfg_key_path(path, k->s);
                struct vmenv_env_var *e = &v->env[v->n_env];

                if (!vmenv_cfg_env_name_valid(k->s))
                        return vmenv_cfg_fail(
                            p, k, kp,
                            "not a valid variable name (letters, digits and _, not "
                            "starting with a digit)");
                e->name = vmenv_strdup(k->s);
                v->n_env++;
                if (val->type == Y_MAP) {
                        bool has_value = false;
                        for (size_t j = 0; j < val->n; j += 2) {
                                const struct ynode *k2 = val->kids[j], *v2 = val->kids[j + 1];
                                _cleanup_free_ char *kp2 = vmenv_cfg_key_path(kp, k2->s);
                                int r;
                                if (!strcmp(k2->s, "value")) {
                                        r = vmenv_cfg_get_str(p, v2, kp2, &e->value);
                                        has_value = true;
                                } else if (!strcmp(k2->s, "sensitive")) {
                                        r = vmenv_cfg_get_bool(p, v2, kp2, &e->sensitive);
                                } else {
                                        r = vmenv_cfg_unknown_key(p, k2, kp2, env_keys);
                                }
                                if (r < 0)
                                        return -1;
                        }
                        if (!has_value)
                                return vmenv_cfg_fail(p, val, kp, "needs 'value'");
                } else if (val->type == Y_SCALAR && vmenv_cfg_is_null(val)) {
                        e->value = vmenv_strdup("");
                } else if (vmenv_cfg_get_str(p, val, kp, &e->value) < 0) {
                        return -1;
                }
        }
        return 0;
}

static int parse_prov(struct pctx *p, const struct ynode *n, const char *path, size_t index,
                      struct vmenv_provisioner *v)
{
        const struct ynode *file = NULL, *shell = NULL, *script = NULL, *src = NULL, *dst = NULL;

        if (vmenv_cfg_need(p, n, Y_MAP, path) < 0)
                return -1;
        v->where = (struct vmenv_where){n->line, n->col};
        v->privileged = true;
        v->run = VMENV_RUN_ONCE;
        for (size_t i = 0; i < n->n; i += 2) {
                const struct ynode *k = n->kids[i], *val = n->kids[i + 1];
                _cleanup_free_ char *kp = vmenv_cfg_key_path(path, k->s);
                int r = 0;

                if (!strcmp(k->s, "name")) {
                        r = vmenv_cfg_get_str(p, val, kp, &v->name);
                        if (!r && !*v->name)
                                r = vmenv_cfg_fail(p, val, kp, "must not be empty");
                        if (!r && !vmenv_provisioner_name_valid(v->name)) {
                                vmenv_cfg_fail(p, val, kp,
                                               "\"%s\" cannot be a provisioner name: it holds "
                                               "':', ',' or a control character",
                                               v->name);
                                r = vmenv_error_hint(p->err, "use letters, digits, '-', '_', '.' "
                                                             "or spaces");
                        }
                } else if (!strcmp(k->s, "shell")) {
                        shell = k;
                        r = vmenv_cfg_get_str(p, val, kp, &v->inline_text);
                } else if (!strcmp(k->s, "script")) {
                        script = k;
                        r = vmenv_cfg_get_str(p, val, kp, &v->path);
                } else if (!strcmp(k->s, "args")) {
                        r = vmenv_cfg_get_strv(p, val, kp, &v->args);
                } else if (!strcmp(k->s, "env")) {
                        r = parse_env(p, val, kp, v);
                } else if (!strcmp(k->s, "privileged")) {
                        r = vmenv_cfg_get_bool(p, val, kp, &v->privileged);
                } else if (!strcmp(k->s, "run")) {
                        _cleanup_free_ char *run = NULL;
                        r = vmenv_cfg_get_enum(p, val, kp, runs, &run);
                        if (!r)
                                v->run = !strcmp(run, "once")     ? VMENV_RUN_ONCE
                                         : !strcmp(run, "always") ? VMENV_RUN_ALWAYS
                                                                  : VMENV_RUN_NEVER;
                } else if (!strcmp(k->s, "file")) {
                        file = k;
                        if (val->type == Y_MAP) {
                                for (size_t j = 0; j < val->n && !r; j += 2) {
                                        const struct ynode *k2 = val->kids[j];
                                        _cleanup_free_ char *kp2 = vmenv_cfg_key_path(kp, k2->s);
                                        if (!strcmp(k2->s, "source"))
                                                r = vmenv_cfg_get_str(p, val->kids[j + 1], kp2,
                                                                      &v->source);
                                        else if (!strcmp(k2->s, "destination"))
                                                r = vmenv_cfg_get_str(p, val->kids[j + 1], kp2,
                                                                      &v->destination);
                                        else
                                                r = vmenv_cfg_unknown_key(p, k2, kp2, file_keys);
                                }
                        } else {
                                /* `file: SRC` with `destination:` beside it */
                                r = vmenv_cfg_get_str(p, val, kp, &v->source);
                        }
                } else if (!strcmp(k->s, "source")) {
                        src = k;
                        r = vmenv_cfg_get_str(p, val, kp, &v->source);
                } else if (!strcmp(k->s, "destination")) {
                        dst = k;
                        r = vmenv_cfg_get_str(p, val, kp, &v->destination);
                } else {
                        r = vmenv_cfg_unknown_key(p, k, kp, prov_keys);
                }
                if (r < 0)
                        return -1;
        }
        if (shell && script)
                return vmenv_cfg_fail(p, script, path, "give either 'shell' or 'script', not both");
        if (file && (shell || script))
                return vmenv_cfg_fail(
                    p, file, path,
                    "a provisioner is either a file ('file') or a command ('shell' or "
                    "'script'), not both");
        if (!file && !shell && !script) {
                if (src || dst)
                        return vmenv_cfg_fail(
                            p, n, path,
                            "'source' and 'destination' belong in a file provisioner: "
                            "file: {source: ..., destination: ...}");
                return vmenv_cfg_fail(p, n, path,
                                      "a provisioner needs 'shell', 'script' or 'file'");
        }
        if (file) {
                v->kind = VMENV_PROV_FILE;
                if (!v->source)
                        return vmenv_cfg_fail(p, file, path, "a file provisioner needs a 'source'");
                if (!v->destination)
                        return vmenv_cfg_fail(p, file, path,
                                              "a file provisioner needs a 'destination'");
                if (v->args || v->env)
                        return vmenv_cfg_fail(p, file, path,
                                              "'args' and 'env' go with 'shell' or 'script'");
        } else {
                v->kind = VMENV_PROV_SHELL;
                if (src || dst)
                        return vmenv_cfg_fail(p, src ? src : dst, path,
                                              "'source' and 'destination' go with 'file'");
        }
        if (!v->name)
                v->name = vmenv_strdupf("%s-%zu", file ? "file" : "shell", index + 1);
        return 0;
}

int vmenv_cfg_parse_list(struct pctx *p, const struct ynode *n, const char *path, size_t max,
                         size_t elem, void **out, size_t *count, vmenv_cfg_one_fn *one)
{
        char *arr;

        if (vmenv_cfg_is_null(n)) {
                *out = NULL;
                *count = 0;
                return 0;
        }
        if (vmenv_cfg_need(p, n, Y_SEQ, path) < 0)
                return -1;
        if (n->n > max)
                return vmenv_cfg_fail(p, n, path, "too many entries (the limit is %zu)", max);
        arr = vmenv_calloc(n->n + 1, elem);
        *out = arr;
        for (size_t i = 0; i < n->n; i++) {
                _cleanup_free_ char *ip = vmenv_strdupf("%s[%zu]", path, i);
                (*count)++;
                if (one(p, n->kids[i], ip, i, arr + i * elem) < 0)
                        return -1;
        }
        return 0;
}

static int one_forward(struct pctx *p, const struct ynode *n, const char *path, size_t i, void *out)
{
        return parse_forward(p, n, path, out);
}

static int one_folder(struct pctx *p, const struct ynode *n, const char *path, size_t i, void *out)
{
        return parse_folder(p, n, path, out);
}

static int one_prov(struct pctx *p, const struct ynode *n, const char *path, size_t i, void *out)
{
        return parse_prov(p, n, path, i, out);
}

static int parse_ssh(struct pctx *p, const struct ynode *n, const char *path,
                     struct vmenv_ssh_config *s)
{
        if (vmenv_cfg_need(p, n, Y_MAP, path) < 0)
                return -1;
        for (size_t i = 0; i < n->n; i += 2) {
                const struct ynode *k = n->kids[i], *v = n->kids[i + 1];
                _cleanup_free_ char *kp = vmenv_cfg_key_path(path, k->s);
                int r;

                if (!strcmp(k->s, "user")) {
                        r = vmenv_cfg_get_str(p, v, kp, &s->user);
                        if (!r && !vmenv_ssh_user_valid(s->user)) {
                                vmenv_cfg_fail(p, v, kp, "\"%s\" is not a user name", s->user);
                                r = vmenv_error_hint(p->err,
                                                     "use letters, digits, '.', '_' and '-', not "
                                                     "starting with '-', at most 32 characters");
                        }
                } else if (!strcmp(k->s, "port")) {
                        r = vmenv_cfg_get_int(p, v, kp, 1, 65535, "a port number", &s->port);
                } else if (!strcmp(k->s, "private_key")) {
                        r = vmenv_cfg_get_str(p, v, kp, &s->private_key);
                        if (!r && !vmenv_ssh_config_value_valid(s->private_key))
                                r = vmenv_cfg_fail(p, v, kp,
                                                   "a key path cannot hold a control character, "
                                                   "'\"' or '\\'");
                } else
                        r = vmenv_cfg_unknown_key(p, k, kp, ssh_keys);
                if (r < 0)
                        return -1;
        }
        return 0;
}

/* An enum whose "none" means unset. */
static int get_optional_enum(struct pctx *p, const struct ynode *n, const char *key,
                             const char *const *set, char **out)
{
        if (vmenv_cfg_get_enum(p, n, key, set, out) < 0)
                return -1;
        if (!strcmp(*out, "none")) {
                free(*out);
                *out = NULL;
        }
        return 0;
}

static int parse_libvirt(struct pctx *p, const struct ynode *n, const char *path,
                         struct vmenv_libvirt_config *l)
{
        if (vmenv_cfg_need(p, n, Y_MAP, path) < 0)
                return -1;
        for (size_t i = 0; i < n->n; i += 2) {
                const struct ynode *k = n->kids[i], *v = n->kids[i + 1];
                _cleanup_free_ char *kp = vmenv_cfg_key_path(path, k->s);
                int r;

                if (!strcmp(k->s, "uri")) {
                        vmenv_error e = VMENV_ERROR_INIT;
                        r = vmenv_cfg_get_str(p, v, kp, &l->uri);
                        if (!r && vmenv_uri_check_project(l->uri, &e) < 0) {
                                r = vmenv_cfg_fail(p, v, kp, "%s", e.msg);
                                vmenv_error_hint(p->err, "%s", e.hint);
                        }
                        vmenv_error_clear(&e);
                } else if (!strcmp(k->s, "machine_type"))
                        r = vmenv_cfg_get_str(p, v, kp, &l->machine_type);
                else if (!strcmp(k->s, "cpu_mode"))
                        r = vmenv_cfg_get_enum(p, v, kp, cpu_modes, &l->cpu_mode);
                else if (!strcmp(k->s, "storage_pool"))
                        r = vmenv_cfg_get_str(p, v, kp, &l->storage_pool);
                else if (!strcmp(k->s, "video"))
                        r = get_optional_enum(p, v, kp, videos, &l->video);
                else if (!strcmp(k->s, "graphics"))
                        r = get_optional_enum(p, v, kp, graphics_set, &l->graphics);
                else
                        r = vmenv_cfg_unknown_key(p, k, kp, libvirt_keys);
                if (r < 0)
                        return -1;
        }
        return 0;
}

static int apply_key(struct pctx *p, struct vmenv_machine_config *m, struct mstate *st,
                     const struct ynode *k, const struct ynode *v, const char *prefix)
{
        _cleanup_free_ char *kp = vmenv_cfg_key_path(prefix, k->s);
        const char *key = k->s;

        if (!strcmp(key, "box"))
                return vmenv_cfg_get_str(p, v, kp, &m->box);
        if (!strcmp(key, "box_version")) {
                /* Vagrant's validation: each comma-separated part a Gem::Requirement */
                vmenv_error cerr = VMENV_ERROR_INIT;
                struct vmenv_constraint *c;
                int r;
                if (vmenv_cfg_get_str(p, v, kp, &m->box_version) < 0)
                        return -1;
                c = vmenv_constraint_parse(m->box_version, &cerr);
                r = c ? 0
                      : vmenv_cfg_fail(p, v, kp, "%s",
                                       cerr.msg ? cerr.msg : "invalid version constraint");
                vmenv_constraint_free(c);
                vmenv_error_clear(&cerr);
                return r;
        }
        if (!strcmp(key, "box_url"))
                return vmenv_cfg_get_str(p, v, kp, &m->box_url);
        if (!strcmp(key, "box_checksum")) {
                if (vmenv_cfg_get_str(p, v, kp, &m->box_checksum) < 0)
                        return -1;
                if (!vmenv_cfg_checksum_valid(m->box_checksum))
                        return vmenv_cfg_fail(
                            p, v, kp, "expected TYPE:HEX like sha256:<64 hex digits>, got \"%s\"",
                            m->box_checksum);
                return 0;
        }
        if (!strcmp(key, "cpus"))
                return vmenv_cfg_get_int(p, v, kp, 1, 256, "a number of CPUs", &m->cpus);
        if (!strcmp(key, "memory"))
                return vmenv_cfg_get_size(p, v, kp, MEM_MIN, MEM_MAX, &m->memory);
        if (!strcmp(key, "disk"))
                return vmenv_cfg_get_size(p, v, kp, DISK_MIN, DISK_MAX, &m->disk);
        if (!strcmp(key, "hostname")) {
                if (vmenv_cfg_get_str(p, v, kp, &m->hostname) < 0)
                        return -1;
                if (!vmenv_hostname_valid(m->hostname))
                        return vmenv_cfg_fail(
                            p, v, kp,
                            "\"%s\" is not a valid host name (letters, digits, '-' and "
                            "'.')",
                            m->hostname);
                return 0;
        }
        if (!strcmp(key, "boot_timeout"))
                return vmenv_cfg_get_int(p, v, kp, 1, 86400, "a number of seconds",
                                         &m->boot_timeout);
        if (!strcmp(key, "network"))
                return vmenv_cfg_get_enum(p, v, kp, networks, &m->network);
        if (!strcmp(key, "forwarded_ports")) {
                vmenv_cfg_forwards_free(m);
                free(st->fwd_prefix);
                st->fwd_prefix = vmenv_strdup(kp);
                return vmenv_cfg_parse_list(p, v, kp, MAX_FORWARDS, sizeof(*m->forwards),
                                            (void **)&m->forwards, &m->n_forwards, one_forward);
        }
        if (!strcmp(key, "networks")) {
                vmenv_cfg_privnets_free(m);
                free(st->net_prefix);
                st->net_prefix = vmenv_strdup(kp);
                return vmenv_cfg_parse_privnets(p, v, kp, m);
        }
        if (!strcmp(key, "synced_folders")) {
                vmenv_cfg_folders_free(m);
                return vmenv_cfg_parse_list(p, v, kp, MAX_FOLDERS, sizeof(*m->folders),
                                            (void **)&m->folders, &m->n_folders, one_folder);
        }
        if (!strcmp(key, "provision")) {
                vmenv_cfg_provs_free(m);
                if (vmenv_cfg_parse_list(p, v, kp, MAX_PROVISIONERS, sizeof(*m->provisioners),
                                         (void **)&m->provisioners, &m->n_provisioners,
                                         one_prov) < 0)
                        return -1;
                for (size_t i = 0; i < m->n_provisioners; i++)
                        for (size_t j = 0; j < i; j++)
                                if (!strcmp(m->provisioners[i].name, m->provisioners[j].name)) {
                                        _cleanup_free_ char *ip = vmenv_strdupf("%s[%zu]", kp, i);
                                        const struct vmenv_where *w = &m->provisioners[i].where;
                                        return vmenv_cfg_fail_at(
                                            p, w->line, w->column,
                                            "%s: provisioner name '%s' is used twice", ip,
                                            m->provisioners[i].name);
                                }
                return 0;
        }
        if (!strcmp(key, "ssh"))
                return parse_ssh(p, v, kp, &m->ssh);
        if (!strcmp(key, "cloud_init")) {
                m->cloud = true;
                return vmenv_cfg_parse_cloud_init(p, v, kp, &m->cloud_init);
        }
        if (!strcmp(key, "kernel"))
                return vmenv_cfg_get_str(p, v, kp, &m->kernel);
        if (!strcmp(key, "initrd"))
                return vmenv_cfg_get_str(p, v, kp, &m->initrd);
        if (!strcmp(key, "cmdline"))
                return vmenv_cfg_get_str(p, v, kp, &m->cmdline);
        if (!strcmp(key, "libvirt"))
                return parse_libvirt(p, v, kp, &m->libvirt);
        if (!strcmp(key, "primary")) {
                if (!*prefix)
                        return vmenv_cfg_fail(p, k, kp,
                                              "'primary' marks one of several machines: put it "
                                              "under machines.NAME");
                return vmenv_cfg_get_bool(p, v, kp, &m->primary);
        }
        if (!strcmp(key, "machines")) {
                if (*prefix)
                        return vmenv_cfg_fail(p, k, kp, "machines cannot be nested");
                return 0; /* handled by the caller */
        }
        return vmenv_cfg_unknown_key(p, k, kp, machine_keys);
}

int vmenv_cfg_build_machine(struct pctx *p, const struct ynode *top, const char *name,
                            const struct ynode *name_node, const struct ynode *own,
                            struct vmenv_machine_config *m, struct mstate *st)
{
        _cleanup_free_ char *prefix = NULL;

        m->name = vmenv_strdup(name);
        m->cpus = 1;
        m->memory = 512ull << 20;
        m->boot_timeout = 300;
        m->ssh.port = 22;
        m->where = name_node ? (struct vmenv_where){name_node->line, name_node->col}
                             : (struct vmenv_where){top->line, top->col};
        for (size_t i = 0; i < top->n; i += 2)
                if (apply_key(p, m, st, top->kids[i], top->kids[i + 1], "") < 0)
                        return -1;
        prefix = vmenv_strdupf("machines.%s", name);
        if (own && !vmenv_cfg_is_null(own)) {
                if (vmenv_cfg_need(p, own, Y_MAP, prefix) < 0)
                        return -1;
                for (size_t i = 0; i < own->n; i += 2)
                        if (apply_key(p, m, st, own->kids[i], own->kids[i + 1], prefix) < 0)
                                return -1;
        }
        if (!m->box) {
                if (name_node)
                        vmenv_cfg_fail(p, name_node, prefix, "machine '%s' has no box", name);
                else
                        vmenv_cfg_fail(p, top, NULL, "no box: say which box to boot");
                return vmenv_error_hint(p->err, "add 'box: NAME' (for example 'box: vmenv/tiny')");
        }
        if (!m->hostname)
                m->hostname = vmenv_strdup(name);
        if (!m->network)
                m->network = vmenv_strdup("user");
        if (m->box_url && vmenv_cfg_box_is_cloud(m->box)) {
                vmenv_cfg_fail(p, name_node ? name_node : top, prefix,
                               "box '%s' is a distribution's image: box_url cannot replace it",
                               m->box);
                return vmenv_error_hint(p->err, "name your own image differently (box: "
                                                "myproject/debian, box_url: ...)");
        }
        m->cloud = m->cloud || vmenv_cfg_box_is_cloud(m->box_url ? m->box_url : m->box);
        if (!m->ssh.user) {
                m->ssh.user = vmenv_strdup(m->cloud ? "vmenv" : "vagrant");
                m->ssh.user_default = true;
        }
        if (check_homes(p, m, own && !vmenv_cfg_is_null(own) ? prefix : "") < 0)
                return -1;
        if (!m->libvirt.machine_type)
                m->libvirt.machine_type = vmenv_strdup("q35");
        return 0;
}
