/* vmenv.lock: resolving each machine's box to one exact version, URL and
 * checksum, writing that down as stable JSON, and holding 'up' to it.
 * The text is produced by hand rather than by json-c so that key order,
 * indentation and escaping never change between versions of the library. */
#include <ctype.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json-cleanup.h"
#include "vmenv/box.h"
#include "vmenv/cleanup.h"
#include "vmenv/cloud.h"
#include "vmenv/config.h"
#include "vmenv/lock.h"
#include "vmenv/log.h"
#include "vmenv/util.h"

#define MAX_FIELD 8192
#define MAX_DEPTH 8
#define LOCK_HINT "run 'vmenv lock' and commit vmenv.lock"

static void constraint_freep(struct vmenv_constraint **c)
{
        vmenv_constraint_free(*c);
}

VMENV_DEFINE_CLEANUP(struct vmenv_lock, vmenv_lock_free)
VMENV_DEFINE_CLEANUP(struct vmenv_catalog, vmenv_catalog_free)

static void strv_freep(char ***v)
{
        vmenv_strv_free(*v);
}

void vmenv_lock_entry_clear(struct vmenv_lock_entry *e)
{
        if (!e)
                return;
        free(e->machine);
        free(e->box);
        free(e->name);
        free(e->constraint);
        free(e->version);
        free(e->provider);
        free(e->architecture);
        free(e->catalog);
        free(e->url);
        free(e->checksum);
        *e = (struct vmenv_lock_entry){0};
}

void vmenv_lock_free(struct vmenv_lock *l)
{
        if (!l)
                return;
        for (size_t i = 0; i < l->n_entries; i++)
                vmenv_lock_entry_clear(&l->entries[i]);
        free(l->entries);
        free(l->path);
        free(l->config_digest);
        free(l);
}

const struct vmenv_lock_entry *vmenv_lock_find(const struct vmenv_lock *l, const char *machine)
{
        for (size_t i = 0; l && i < l->n_entries; i++)
                if (!strcmp(l->entries[i].machine, machine))
                        return &l->entries[i];
        return NULL;
}

char *vmenv_lock_path(const struct vmenv_config *c)
{
        return vmenv_path_join(c->dir, VMENV_LOCK_FILE);
}

int vmenv_lock_config_digest(const struct vmenv_config *c, char **out, vmenv_error *err)
{
        return vmenv_file_digest(c->path, "sha256", out, err);
}

/* Local copies of config.h's lookups, so the lock module (and its fuzz
 * target) does not pull in the YAML parser. */
static const struct vmenv_machine_config *config_machine(const struct vmenv_config *c,
                                                         const char *name)
{
        for (size_t i = 0; c && i < c->n_machines; i++)
                if (!strcmp(c->machines[i].name, name))
                        return &c->machines[i];
        return NULL;
}

static bool machine_name_valid(const char *name)
{
        size_t n = strlen(name);
        if (n == 0 || n > 32 ||
            !(islower((unsigned char)name[0]) || isdigit((unsigned char)name[0])))
                return false;
        for (const char *p = name; *p; p++)
                if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '-'))
                        return false;
        return true;
}

static int cmp_entries(const void *a, const void *b)
{
        return strcmp(((const struct vmenv_lock_entry *)a)->machine,
                      ((const struct vmenv_lock_entry *)b)->machine);
}

/* Normalises "TYPE:HEX" (lowercase) or fails; the error says why. */
static char *checksum_norm(const char *s, vmenv_error *err)
{
        _cleanup_free_ char *type = NULL, *hex = NULL;
        if (vmenv_checksum_parse(s, &type, &hex, err) < 0)
                return NULL;
        return vmenv_strdupf("%s:%s", type, hex);
}

static bool checksum_eq(const char *a, const char *b)
{
        return a && b && strcasecmp(a, b) == 0;
}

static const char *norm_arch(const char *a)
{
        if (!a)
                return NULL;
        if (!strcmp(a, "x86_64"))
                return "amd64";
        if (!strcmp(a, "aarch64"))
                return "arm64";
        return a;
}

/* ---- reading ------------------------------------------------------------ */

static unsigned line_at(const char *text, size_t off)
{
        unsigned line = 1;
        for (size_t i = 0; i < off; i++)
                if (text[i] == '\n')
                        line++;
        return line;
}

/* The line of the object key path keys[0] > keys[1] > ..., as deep as it is
 * found (json-c keeps no positions, so the text is scanned once more). */
static unsigned key_line(const char *text, size_t len, const char *const *keys, size_t n)
{
        size_t depth = 0, found = 0;
        unsigned line = 1, best = 1;

        for (size_t i = 0; i < len && found < n; i++) {
                char ch = text[i];
                if (ch == '\n') {
                        line++;
                } else if (ch == '{' || ch == '[') {
                        depth++;
                } else if (ch == '}' || ch == ']') {
                        if (depth <= found + 1)
                                break; /* left the object the next key must be in */
                        depth--;
                } else if (ch == '"') {
                        size_t start = ++i, j;
                        unsigned sline = line;
                        while (i < len && text[i] != '"') {
                                if (text[i] == '\\')
                                        i++;
                                else if (text[i] == '\n')
                                        line++;
                                i++;
                        }
                        if (i >= len)
                                break;
                        for (j = i + 1; j < len && isspace((unsigned char)text[j]); j++)
                                ;
                        if (j < len && text[j] == ':' && depth == found + 1 &&
                            i - start == strlen(keys[found]) &&
                            !memcmp(text + start, keys[found], i - start)) {
                                best = sline;
                                found++;
                        }
                }
        }
        return best;
}

struct reader {
        const char *text;
        size_t len;
        const char *path;
        vmenv_error *err;
};

__attribute__((format(printf, 3, 4))) static int rd_error(struct reader *r, unsigned line,
                                                          const char *fmt, ...)
{
        va_list ap;
        _cleanup_free_ char *msg = NULL;
        va_start(ap, fmt);
        msg = vmenv_vstrdupf(fmt, ap);
        va_end(ap);
        return vmenv_error_set(r->err, VMENV_EXIT_CONFIG, "%s:%u: %s", r->path, line, msg);
}

static const char *const top_keys[] = {"config_digest", "machines", "version", NULL};
static const char *const entry_keys[] = {"architecture", "box",  "catalog",  "checksum",
                                         "constraint",   "name", "provider", "url",
                                         "version",      NULL};

static int unknown_key(struct reader *r, unsigned line, const char *key, const char *where,
                       const char *const *known)
{
        const char *dym = vmenv_did_you_mean(key, known);
        rd_error(r, line, "unknown key '%s'%s%s", key, where ? " in " : "", where ? where : "");
        if (dym)
                vmenv_error_hint(r->err, "did you mean '%s'?", dym);
        return -1;
}

/* A non-empty string without NUL, at most MAX_FIELD bytes. */
static int get_string(struct reader *r, json_object *v, unsigned line, const char *what, char **out)
{
        const char *s;
        int n;

        if (!json_object_is_type(v, json_type_string))
                return rd_error(r, line, "'%s' must be a string", what);
        s = json_object_get_string(v);
        n = json_object_get_string_len(v);
        if (n <= 0 || (size_t)n != strlen(s))
                return rd_error(r, line, "'%s' must be a non-empty string without NUL bytes", what);
        if (n > MAX_FIELD)
                return rd_error(r, line, "'%s' is longer than %d bytes", what, MAX_FIELD);
        *out = vmenv_strdup(s);
        return 0;
}

static int check_digest(struct reader *r, unsigned line, const char *what, const char *value,
                        const char *only_type)
{
        vmenv_error e = VMENV_ERROR_INIT;
        _cleanup_free_ char *type = NULL, *hex = NULL;

        if (vmenv_checksum_parse(value, &type, &hex, &e) < 0) {
                rd_error(r, line, "malformed digest in '%s': %s", what, e.msg);
                vmenv_error_clear(&e);
                return -1;
        }
        if (strcmp(strchr(value, ':') + 1, hex) || strncmp(value, type, strlen(type)))
                return rd_error(r, line, "malformed digest in '%s': '%s' is not lowercase", what,
                                value);
        if (only_type && strcmp(type, only_type))
                return rd_error(r, line, "malformed digest in '%s': expected %s, not %s", what,
                                only_type, type);
        return 0;
}

static int read_entry(struct reader *r, const char *machine, json_object *o,
                      struct vmenv_lock_entry *e)
{
        const char *kp[] = {"machines", machine, NULL};
        unsigned line = key_line(r->text, r->len, kp, 2);
        static const char *const required[] = {"architecture", "box", "checksum",
                                               "provider",     "url", "version"};

        e->machine = vmenv_strdup(machine);
        e->line = line;
        if (!machine_name_valid(machine))
                return rd_error(r, line, "invalid machine name '%s'", machine);
        if (!json_object_is_type(o, json_type_object))
                return rd_error(r, line, "machine '%s' must be an object", machine);
        json_object_object_foreach(o, key, v)
        {
                char **slot = NULL;
                kp[2] = key;
                unsigned kl = key_line(r->text, r->len, kp, 3);
                if (!strcmp(key, "architecture"))
                        slot = &e->architecture;
                else if (!strcmp(key, "box"))
                        slot = &e->box;
                else if (!strcmp(key, "catalog"))
                        slot = &e->catalog;
                else if (!strcmp(key, "checksum"))
                        slot = &e->checksum;
                else if (!strcmp(key, "constraint"))
                        slot = &e->constraint;
                else if (!strcmp(key, "name"))
                        slot = &e->name;
                else if (!strcmp(key, "provider"))
                        slot = &e->provider;
                else if (!strcmp(key, "url"))
                        slot = &e->url;
                else if (!strcmp(key, "version"))
                        slot = &e->version;
                else {
                        _cleanup_free_ char *where = vmenv_strdupf("machine '%s'", machine);
                        return unknown_key(r, kl, key, where, entry_keys);
                }
                if (get_string(r, v, kl, key, slot) < 0)
                        return -1;
                if (slot == &e->checksum && check_digest(r, kl, key, e->checksum, NULL) < 0)
                        return -1;
                if (slot == &e->version && !vmenv_version_valid(e->version))
                        return rd_error(r, kl, "invalid version '%s' for machine '%s'", e->version,
                                        machine);
                if (slot == &e->provider && strcmp(e->provider, "libvirt"))
                        return rd_error(r, kl, "unsupported provider '%s' for machine '%s'",
                                        e->provider, machine);
                if (slot == &e->name && !vmenv_box_name_valid(e->name))
                        return rd_error(r, kl, "invalid box name '%s'", e->name);
        }
        for (size_t i = 0; i < VMENV_ARRAY_SIZE(required); i++) {
                json_object *rv;
                if (!json_object_object_get_ex(o, required[i], &rv))
                        return rd_error(r, line, "machine '%s' has no '%s'", machine, required[i]);
        }
        if (e->constraint) {
                vmenv_error ce = VMENV_ERROR_INIT;
                struct vmenv_constraint *c = vmenv_constraint_parse(e->constraint, &ce);
                if (!c) {
                        kp[2] = "constraint";
                        rd_error(r, key_line(r->text, r->len, kp, 3), "%s", ce.msg);
                        vmenv_error_clear(&ce);
                        return -1;
                }
                vmenv_constraint_free(c);
        }
        return 0;
}

struct vmenv_lock *vmenv_lock_parse(const char *text, size_t len, const char *path,
                                    const struct vmenv_config *c, vmenv_error *err)
{
        struct reader r = {text, len, path ? path : VMENV_LOCK_FILE, err};
        _cleanup_(vmenv_lock_freep) struct vmenv_lock *l = vmenv_calloc(1, sizeof(*l));
        _cleanup_(json_putp) json_object *root = NULL;
        json_tokener *tok;
        enum json_tokener_error jerr;
        size_t end;
        json_object *v, *machines = NULL;
        const char *kp[2] = {NULL, NULL};

        l->path = vmenv_strdup(r.path);
        if (len > VMENV_LOCK_MAX_BYTES) {
                rd_error(&r, 1, "larger than the limit of %u bytes", VMENV_LOCK_MAX_BYTES);
                return NULL;
        }
        if (memchr(text, '\0', len)) {
                rd_error(&r, line_at(text, (size_t)((const char *)memchr(text, '\0', len) - text)),
                         "NUL byte in the file");
                return NULL;
        }
        if (!(tok = json_tokener_new_ex(MAX_DEPTH)))
                abort();
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        root = json_tokener_parse_ex(tok, text, (int)len);
        jerr = json_tokener_get_error(tok);
        end = json_tokener_get_parse_end(tok);
        if (!root && jerr == json_tokener_continue)
                jerr = json_tokener_error_parse_eof;
        if (root)
                for (size_t i = end; i < len; i++)
                        if (!isspace((unsigned char)text[i])) {
                                jerr = json_tokener_error_parse_unexpected;
                                end = i;
                                break;
                        }
        json_tokener_free(tok);
        if (jerr != json_tokener_success) {
                rd_error(&r, line_at(text, end < len ? end : len), "not valid JSON: %s",
                         json_tokener_error_desc(jerr));
                vmenv_error_hint(err, "fix the file, or delete it and run 'vmenv lock'");
                return NULL;
        }
        if (!json_object_is_type(root, json_type_object)) {
                rd_error(&r, 1, "the lock must be a JSON object");
                return NULL;
        }
        json_object_object_foreach(root, key, val)
        {
                (void)val;
                kp[0] = key;
                if (strcmp(key, "config_digest") && strcmp(key, "machines") &&
                    strcmp(key, "version")) {
                        unknown_key(&r, key_line(text, len, kp, 1), key, NULL, top_keys);
                        return NULL;
                }
        }
        kp[0] = "version";
        if (!json_object_object_get_ex(root, "version", &v)) {
                rd_error(&r, 1, "no 'version' (the lock format version)");
                return NULL;
        }
        if (!json_object_is_type(v, json_type_int) ||
            json_object_get_int64(v) != VMENV_LOCK_FORMAT) {
                rd_error(&r, key_line(text, len, kp, 1), "unsupported lock format version '%s'",
                         json_object_to_json_string(v));
                vmenv_error_hint(err,
                                 "this vmenv reads version %d; upgrade vmenv or run 'vmenv lock'",
                                 VMENV_LOCK_FORMAT);
                return NULL;
        }
        kp[0] = "config_digest";
        if (!json_object_object_get_ex(root, "config_digest", &v)) {
                rd_error(&r, 1, "no 'config_digest'");
                return NULL;
        }
        if (get_string(&r, v, key_line(text, len, kp, 1), "config_digest", &l->config_digest) < 0 ||
            check_digest(&r, key_line(text, len, kp, 1), "config_digest", l->config_digest,
                         "sha256") < 0)
                return NULL;
        kp[0] = "machines";
        if (!json_object_object_get_ex(root, "machines", &machines)) {
                rd_error(&r, 1, "no 'machines'");
                return NULL;
        }
        if (!json_object_is_type(machines, json_type_object)) {
                rd_error(&r, key_line(text, len, kp, 1), "'machines' must be an object");
                return NULL;
        }
        if (json_object_object_length(machines) > VMENV_CONFIG_MAX_MACHINES) {
                rd_error(&r, key_line(text, len, kp, 1), "more than %d machines",
                         VMENV_CONFIG_MAX_MACHINES);
                return NULL;
        }
        l->entries =
            vmenv_calloc((size_t)json_object_object_length(machines) + 1, sizeof(*l->entries));
        json_object_object_foreach(machines, name, o)
        {
                struct vmenv_lock_entry *e = &l->entries[l->n_entries++];
                if (read_entry(&r, name, o, e) < 0)
                        return NULL;
                if (c && !config_machine(c, name)) {
                        rd_error(&r, e->line, "machine '%s' is not in vmenv.yaml", name);
                        vmenv_error_hint(err, LOCK_HINT);
                        return NULL;
                }
        }
        qsort(l->entries, l->n_entries, sizeof(*l->entries), cmp_entries);
        return TAKE_PTR(l);
}

static int lock_read(const char *path, const struct vmenv_config *c, struct vmenv_lock **out,
                     vmenv_error *err)
{
        _cleanup_free_ char *text = NULL;
        size_t len = 0;

        if (!vmenv_path_exists(path)) {
                *out = NULL;
                return 0;
        }
        if (vmenv_read_file(path, VMENV_LOCK_MAX_BYTES, &text, &len, err) < 0) {
                if (err->code == VMENV_EXIT_DATA) /* the size limit */
                        err->code = VMENV_EXIT_CONFIG;
                return -1;
        }
        if (!(*out = vmenv_lock_parse(text, len, path, c, err)))
                return -1;
        return 0;
}

int vmenv_lock_load(const struct vmenv_config *c, struct vmenv_lock **out, vmenv_error *err)
{
        _cleanup_free_ char *path = vmenv_lock_path(c);
        return lock_read(path, c, out, err);
}

/* ---- writing ------------------------------------------------------------ */

static void put_string(struct vmenv_buf *b, const char *s)
{
        vmenv_buf_puts(b, "\"");
        for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
                switch (*p) {
                case '"':
                        vmenv_buf_puts(b, "\\\"");
                        break;
                case '\\':
                        vmenv_buf_puts(b, "\\\\");
                        break;
                case '\n':
                        vmenv_buf_puts(b, "\\n");
                        break;
                case '\t':
                        vmenv_buf_puts(b, "\\t");
                        break;
                case '\r':
                        vmenv_buf_puts(b, "\\r");
                        break;
                default:
                        if (*p < 0x20 || *p == 0x7f)
                                vmenv_buf_printf(b, "\\u%04x", *p);
                        else
                                vmenv_buf_add(b, p, 1);
                }
        }
        vmenv_buf_puts(b, "\"");
}

static void put_field(struct vmenv_buf *b, bool *first, const char *key, const char *value)
{
        if (!value)
                return;
        vmenv_buf_puts(b, *first ? "\n" : ",\n");
        *first = false;
        vmenv_buf_puts(b, "      ");
        put_string(b, key);
        vmenv_buf_puts(b, ": ");
        put_string(b, value);
}

char *vmenv_lock_format(const struct vmenv_lock *l)
{
        struct vmenv_buf b = {0};
        _cleanup_free_ const struct vmenv_lock_entry **sorted =
            vmenv_calloc(l->n_entries + 1, sizeof(*sorted));

        /* Entries are sorted when parsed or made; sort pointers anyway so the
         * output never depends on how the caller filled the array. */
        for (size_t i = 0; i < l->n_entries; i++) {
                size_t j = i;
                while (j > 0 && strcmp(sorted[j - 1]->machine, l->entries[i].machine) > 0) {
                        sorted[j] = sorted[j - 1];
                        j--;
                }
                sorted[j] = &l->entries[i];
        }
        vmenv_buf_puts(&b, "{\n  \"config_digest\": ");
        put_string(&b, l->config_digest ? l->config_digest : "");
        vmenv_buf_puts(&b, ",\n  \"machines\": {");
        for (size_t i = 0; i < l->n_entries; i++) {
                const struct vmenv_lock_entry *e = sorted[i];
                bool first = true;
                vmenv_buf_puts(&b, i ? ",\n    " : "\n    ");
                put_string(&b, e->machine);
                vmenv_buf_puts(&b, ": {");
                /* alphabetical, like the rest of the file */
                put_field(&b, &first, "architecture", e->architecture);
                put_field(&b, &first, "box", e->box);
                put_field(&b, &first, "catalog", e->catalog);
                put_field(&b, &first, "checksum", e->checksum);
                put_field(&b, &first, "constraint", e->constraint);
                put_field(&b, &first, "name", e->name);
                put_field(&b, &first, "provider", e->provider);
                put_field(&b, &first, "url", e->url);
                put_field(&b, &first, "version", e->version);
                vmenv_buf_puts(&b, first ? "}" : "\n    }");
        }
        vmenv_buf_puts(&b, l->n_entries ? "\n  },\n" : "},\n");
        vmenv_buf_printf(&b, "  \"version\": %d\n}\n", VMENV_LOCK_FORMAT);
        return vmenv_buf_steal(&b);
}

int vmenv_lock_save(const struct vmenv_lock *l, const char *path, vmenv_error *err)
{
        _cleanup_free_ char *text = vmenv_lock_format(l);
        return vmenv_write_file_atomic(path, text, strlen(text), 0644, err);
}

/* ---- resolving ---------------------------------------------------------- */

enum src_kind { SRC_NAME, SRC_CATALOG, SRC_BOX };

static bool path_ends(const char *s, const char *suffix)
{
        _cleanup_free_ char *p = vmenv_strndup(s, strcspn(s, "?#"));
        return vmenv_endswith(p, suffix);
}

/* A path as written in vmenv.yaml, made absolute against the project. */
static char *project_path(const char *dir, const char *p)
{
        if (vmenv_is_url(p) || !dir)
                return vmenv_strdup(p);
        return vmenv_path_join(dir, p);
}

/* A local path inside the project, written relative to it, so the lock
 * works in every clone; anything else as it is. */
static char *relative_to(const char *dir, const char *p)
{
        size_t n = dir ? strlen(dir) : 0;
        if (n && !vmenv_is_url(p) && !strncmp(p, dir, n) && p[n] == '/' && p[n + 1])
                return vmenv_strdup(p + n + 1);
        return vmenv_strdup(p);
}

/* The same decision the box store makes (box-store.c: classify), so the
 * lock resolves a box the way 'up' would fetch it. */
static enum src_kind classify(const char *dir, const char *src, bool from_box)
{
        static const char *const boxes[] = {".box",    ".tar",     ".tar.gz", ".tgz",
                                            ".tar.xz", ".tar.zst", ".zip",    ".qcow2",
                                            ".img",    ".raw",     NULL};
        bool url = vmenv_is_url(src);
        _cleanup_free_ char *abs = project_path(dir, src);
        bool exists = !url && vmenv_path_exists(abs);

        if (from_box && !url && !exists &&
            (!strchr(src, '/') || (vmenv_box_name_valid(src) && !vmenv_startswith(src, "./"))))
                return SRC_NAME;
        if (path_ends(src, ".json"))
                return SRC_CATALOG;
        for (const char *const *s = boxes; *s; s++)
                if (path_ends(src, *s))
                        return SRC_BOX;
        if (url)
                return SRC_CATALOG;
        {
                _cleanup_fclose_ FILE *f = fopen(abs, "re");
                if (f && fgetc(f) == '{')
                        return SRC_CATALOG;
        }
        return SRC_BOX;
}

static enum src_kind machine_kind(const char *dir, const struct vmenv_machine_config *m,
                                  const char **src)
{
        *src = m->box_url ? m->box_url : m->box;
        return classify(dir, *src, !m->box_url);
}

/* "https://x/y/tiny.box?a=b" → "tiny", as the box store names such boxes. */
static char *derive_name(const char *src)
{
        _cleanup_free_ char *p = vmenv_strndup(src, strcspn(src, "?#"));
        const char *base = strrchr(p, '/') ? strrchr(p, '/') + 1 : p;
        char *name = vmenv_strdup(base), *dot = strchr(name, '.');
        if (dot && dot != name)
                *dot = '\0';
        return name;
}

/* The checksum of a box file when nobody published one: the store's record
 * if that version is stored, else the sha256 of the file itself. */
static int box_file_digest(const char *dir, const char *name, const char *version, const char *url,
                           const struct vmenv_lock_opts *o, char **out, vmenv_error *err)
{
        _cleanup_(vmenv_box_freep) struct vmenv_box *stored = NULL;
        _cleanup_free_ char *exact = vmenv_strdupf("= %s", version), *file = NULL;
        vmenv_error e = VMENV_ERROR_INIT;

        if (name && vmenv_box_name_valid(name) && (stored = vmenv_box_find(name, exact, &e)) &&
            stored->digest && vmenv_streq(stored->source, url)) {
                vmenv_debug("lock: using the stored digest of '%s' (%s)", name, version);
                *out = vmenv_strdup(stored->digest);
                return 0;
        }
        vmenv_error_clear(&e);
        if (vmenv_is_url(url)) {
                if (vmenv_fetch(url, NULL, o ? o->fetch : NULL, &file, out, err) < 0)
                        return vmenv_error_prefix(err, "cannot download '%s' to checksum it", url);
                unlink(file);
                return 0;
        }
        file = project_path(dir, url);
        return vmenv_file_digest(file, "sha256", out, err);
}

/* The architecture of the provider the catalog resolution picked. */
static char *ref_arch(const struct vmenv_catalog *cat, const struct vmenv_box_ref *ref)
{
        for (size_t i = 0; i < cat->n_versions; i++) {
                const struct vmenv_catalog_version *v = &cat->versions[i];
                if (strcmp(v->version, ref->version))
                        continue;
                for (size_t j = 0; j < v->n_providers; j++) {
                        const struct vmenv_catalog_provider *p = &v->providers[j];
                        _cleanup_free_ char *u = NULL;
                        vmenv_error e = VMENV_ERROR_INIT;
                        if (strcmp(p->name, "libvirt") || !p->url || !p->architecture)
                                continue;
                        u = vmenv_url_resolve(cat->source, p->url, &e);
                        vmenv_error_clear(&e);
                        if (vmenv_streq(u, ref->url) &&
                            !strcmp(norm_arch(p->architecture), vmenv_host_arch()))
                                return vmenv_strdup(norm_arch(p->architecture));
                }
        }
        return vmenv_strdup(vmenv_host_arch());
}

/* Locks what CATALOG offers; FETCHED, when given, is that catalog already
 * loaded (taken over). */
static int resolve_catalog(const char *dir, const struct vmenv_machine_config *m,
                           const char *catalog, struct vmenv_catalog *fetched, bool named,
                           const struct vmenv_lock_opts *o, struct vmenv_lock_entry *e,
                           vmenv_error *err)
{
        _cleanup_(vmenv_catalog_freep) struct vmenv_catalog *cat = fetched;
        _cleanup_free_ char *where = project_path(dir, catalog);
        struct vmenv_box_ref ref = {0};
        int r = -1;

        if (!cat && !(cat = vmenv_catalog_fetch(where, o ? o->fetch : NULL, err)))
                return -1;
        if (vmenv_catalog_resolve(cat, m->box_version, NULL, &ref, err) < 0)
                return -1;
        e->catalog = vmenv_strdup(catalog);
        e->version = vmenv_strdup(ref.version);
        e->url = relative_to(dir, ref.url);
        e->architecture = ref_arch(cat, &ref);
        if (!named) {
                const char *n = ref.name ? ref.name : cat->name;
                if (!n || !vmenv_box_name_valid(n)) {
                        vmenv_error_set(err, VMENV_EXIT_DATA, "catalog '%s' has no valid 'name'",
                                        catalog);
                        goto out;
                }
                if (strcmp(n, m->box))
                        e->name = vmenv_strdup(n);
        }
        if (m->box_checksum) {
                if (!(e->checksum = checksum_norm(m->box_checksum, err)))
                        goto out;
        } else if (ref.checksum && ref.checksum_type) {
                _cleanup_free_ char *cs = vmenv_strdupf("%s:%s", ref.checksum_type, ref.checksum);
                if (!(e->checksum = checksum_norm(cs, err))) {
                        vmenv_error_prefix(err, "catalog '%s', version %s", catalog, ref.version);
                        err->code = VMENV_EXIT_DATA;
                        goto out;
                }
        } else if (box_file_digest(dir, e->name ? e->name : m->box, e->version, e->url, o,
                                   &e->checksum, err) < 0) {
                goto out;
        }
        r = 0;
out:
        vmenv_box_ref_clear(&ref);
        return r;
}

/* Without any catalog to ask (no box_url, no registry that answers), the
 * store is all there is: lock the newest stored version that fits. */
static int resolve_stored(const struct vmenv_machine_config *m, struct vmenv_lock_entry *e,
                          vmenv_error *err)
{
        _cleanup_(vmenv_box_freep) struct vmenv_box *b =
            vmenv_box_find(m->box, m->box_version, err);

        if (!b) {
                vmenv_error_set(err, VMENV_EXIT_NOINPUT,
                                "box '%s' is not in the store and no catalog is known for it",
                                m->box);
                return vmenv_error_hint(err, "set box_url in vmenv.yaml, run 'vmenv box add URL', "
                                             "or set VMENV_BOX_SERVER");
        }
        if (!b->source || !b->digest) {
                vmenv_error_set(err, VMENV_EXIT_NOINPUT,
                                "stored box '%s' (%s) does not record where it came from", m->box,
                                b->version);
                return vmenv_error_hint(err, "set box_url in vmenv.yaml or VMENV_BOX_SERVER");
        }
        e->version = vmenv_strdup(b->version);
        e->url = vmenv_strdup(b->source);
        e->catalog = vmenv_strdup(b->catalog);
        e->architecture = vmenv_strdup(vmenv_host_arch());
        if (m->box_checksum) {
                if (!(e->checksum = checksum_norm(m->box_checksum, err)))
                        return -1;
        } else {
                e->checksum = vmenv_strdup(b->digest);
        }
        return 0;
}

/* A box named without box_url: the registry's catalog for it, as 'up' and
 * 'box add' find it (Vagrant's lookup, vmenv_catalog_fetch_name); when the
 * registry cannot answer, the newest stored version that fits, said so. */
static int resolve_name(const char *dir, const struct vmenv_machine_config *m,
                        const struct vmenv_lock_opts *o, struct vmenv_lock_entry *e,
                        vmenv_error *err)
{
        vmenv_error looked = VMENV_ERROR_INIT;
        _cleanup_free_ char *url = NULL;
        struct vmenv_catalog *cat =
            vmenv_catalog_fetch_name(m->box, o ? o->fetch : NULL, &url, &looked);
        int r;

        if (cat) {
                vmenv_error_clear(&looked);
                return resolve_catalog(dir, m, url, cat, true, o, e, err);
        }
        if ((r = resolve_stored(m, e, err)) == 0)
                vmenv_warn("%s: %s; locked the stored version %s", m->name, looked.msg, e->version);
        else if (err->code == VMENV_EXIT_NOINPUT) {
                /* neither: the registry's reason (and hint) is the one to act on */
                vmenv_error_set(err, looked.code, "box '%s' is not in the store, and %s", m->box,
                                looked.msg);
                vmenv_error_hint(err, "%s", looked.hint ? looked.hint : "give box_url");
        }
        vmenv_error_clear(&looked);
        return r;
}

/* A distribution's cloud image ("debian/12"): the stored one if there is
 * one, else what the distribution's index lists now: its URL and digest. */
static int resolve_cloud(const struct vmenv_machine_config *m, const struct vmenv_lock_opts *o,
                         struct vmenv_lock_entry *e, vmenv_error *err)
{
        struct vmenv_cloud_image im = {0};
        vmenv_error none = VMENV_ERROR_INIT;
        _cleanup_(vmenv_box_freep) struct vmenv_box *b =
            vmenv_box_find(m->box, m->box_version, &none);

        vmenv_error_clear(&none);
        if (b && b->source && b->digest)
                return resolve_stored(m, e, err);
        if (vmenv_cloud_image_resolve(m->box, NULL, o ? o->fetch : NULL, &im, err) < 0)
                return -1;
        e->version = vmenv_cloud_image_version(&im);
        e->url = vmenv_strdup(im.url);
        e->architecture = vmenv_strdup(vmenv_host_arch());
        e->checksum =
            m->box_checksum ? checksum_norm(m->box_checksum, err) : vmenv_strdup(im.checksum);
        vmenv_cloud_image_clear(&im);
        return e->checksum ? 0 : -1;
}

int vmenv_lock_resolve(const struct vmenv_config *c, const struct vmenv_machine_config *m,
                       const struct vmenv_lock_opts *o, struct vmenv_lock_entry *out,
                       vmenv_error *err)
{
        struct vmenv_lock_entry e = {0};
        const char *src;
        enum src_kind kind = machine_kind(c->dir, m, &src);
        int r;

        e.machine = vmenv_strdup(m->name);
        e.box = vmenv_strdup(m->box);
        e.constraint = vmenv_strdup(m->box_version && *m->box_version ? m->box_version : NULL);
        e.provider = vmenv_strdup("libvirt");
        if (kind == SRC_NAME && vmenv_cloud_alias_known(m->box)) {
                r = resolve_cloud(m, o, &e, err);
        } else if (kind == SRC_NAME) {
                r = resolve_name(c->dir, m, o, &e, err);
        } else if (kind == SRC_CATALOG) {
                r = resolve_catalog(c->dir, m, src, NULL, m->box_url != NULL, o, &e, err);
        } else {
                _cleanup_(constraint_freep) struct vmenv_constraint *con =
                    vmenv_constraint_parse(m->box_version, err);
                r = -1;
                if (!con)
                        goto out;
                if (m->box_version && *m->box_version && !vmenv_constraint_exact(con)) {
                        vmenv_error_set(err, VMENV_EXIT_CONFIG,
                                        "a box file needs one exact box_version, not '%s'",
                                        m->box_version);
                        vmenv_error_hint(err,
                                         "use box_version: \"1.2.3\", or a catalog in box_url");
                        goto out;
                }
                e.version =
                    vmenv_strdup(vmenv_constraint_exact(con) ? vmenv_constraint_exact(con) : "0");
                e.url = vmenv_strdup(src);
                e.architecture = vmenv_strdup(vmenv_host_arch());
                if (!m->box_url) {
                        _cleanup_free_ char *n = derive_name(src);
                        if (strcmp(n, m->box))
                                e.name = TAKE_PTR(n);
                }
                if (m->box_checksum)
                        r = (e.checksum = checksum_norm(m->box_checksum, err)) ? 0 : -1;
                else
                        r = box_file_digest(c->dir, e.name ? e.name : m->box, e.version, src, o,
                                            &e.checksum, err);
        }
out:
        if (r < 0) {
                vmenv_lock_entry_clear(&e);
                return vmenv_error_prefix(err, "cannot lock box '%s' of machine '%s'", m->box,
                                          m->name);
        }
        *out = e;
        return 0;
}

/* ---- checking ----------------------------------------------------------- */

static const char *lock_name(const struct vmenv_lock *l)
{
        return l && l->path ? l->path : VMENV_LOCK_FILE;
}

/* A difference between lock and vmenv.yaml. The hint re-resolves only the
 * machine concerned (when there is one), so the others stay as locked. */
static int drift(const struct vmenv_lock *l, const struct vmenv_lock_entry *e, const char *machine,
                 vmenv_error *err, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int drift(const struct vmenv_lock *l, const struct vmenv_lock_entry *e, const char *machine,
                 vmenv_error *err, const char *fmt, ...)
{
        va_list ap;
        _cleanup_free_ char *msg = NULL;
        va_start(ap, fmt);
        msg = vmenv_vstrdupf(fmt, ap);
        va_end(ap);
        if (e && e->line)
                vmenv_error_set(err, VMENV_EXIT_CONFIG, "%s:%u: %s", lock_name(l), e->line, msg);
        else
                vmenv_error_set(err, VMENV_EXIT_CONFIG, "%s: %s", lock_name(l), msg);
        if (!machine)
                return vmenv_error_hint(err, LOCK_HINT);
        return vmenv_error_hint(err, "run 'vmenv lock --update %s' and commit vmenv.lock", machine);
}

static char *lock_dir(const struct vmenv_lock *l)
{
        const char *slash = l && l->path ? strrchr(l->path, '/') : NULL;
        return slash ? vmenv_strndup(l->path, (size_t)(slash - l->path)) : NULL;
}

int vmenv_lock_check_machine(const struct vmenv_lock *l, const struct vmenv_machine_config *m,
                             vmenv_error *err)
{
        const struct vmenv_lock_entry *e = vmenv_lock_find(l, m->name);
        _cleanup_(constraint_freep) struct vmenv_constraint *con = NULL;
        _cleanup_free_ char *dir = lock_dir(l);
        const char *src;
        enum src_kind kind = machine_kind(dir, m, &src);

        if (!e)
                return drift(l, NULL, m->name, err, "machine '%s' is not in the lock", m->name);
        if (strcmp(e->box, m->box))
                return drift(l, e, m->name, err,
                             "'%s' is locked to box '%s' but vmenv.yaml says '%s'", m->name, e->box,
                             m->box);
        if (!(con = vmenv_constraint_parse(m->box_version, err)))
                return vmenv_error_prefix(err, "machine '%s'", m->name);
        if (kind == SRC_BOX) {
                const char *want = vmenv_constraint_exact(con) ? vmenv_constraint_exact(con) : "0";
                if (vmenv_version_compare(want, e->version))
                        return drift(l, e, m->name, err,
                                     "'%s' is locked to %s %s but vmenv.yaml asks for version %s",
                                     m->name, e->box, e->version, want);
                if (strcmp(e->url, src))
                        return drift(l, e, m->name, err,
                                     "'%s' is locked to '%s' but vmenv.yaml says '%s'", m->name,
                                     e->url, src);
        } else {
                if (!vmenv_constraint_match(con, e->version))
                        return drift(l, e, m->name, err,
                                     "'%s' is locked to %s %s, which box_version '%s' excludes",
                                     m->name, e->box, e->version, m->box_version);
                if (kind == SRC_CATALOG && !vmenv_streq(e->catalog, src))
                        return drift(l, e, m->name, err,
                                     "'%s' is locked to catalog '%s' but vmenv.yaml says '%s'",
                                     m->name, e->catalog ? e->catalog : "(none)", src);
        }
        if (m->box_checksum) {
                vmenv_error ce = VMENV_ERROR_INIT;
                _cleanup_free_ char *cs = checksum_norm(m->box_checksum, &ce);
                vmenv_error_clear(&ce);
                if (!checksum_eq(cs ? cs : m->box_checksum, e->checksum))
                        return drift(l, e, m->name, err,
                                     "'%s' is locked with checksum %s but vmenv.yaml says %s",
                                     m->name, e->checksum, m->box_checksum);
        }
        if (strcmp(norm_arch(e->architecture), vmenv_host_arch()))
                return drift(l, e, m->name, err, "'%s' is locked to a box for %s; this host is %s",
                             m->name, e->architecture, vmenv_host_arch());
        return 0;
}

int vmenv_lock_check(const struct vmenv_lock *l, const struct vmenv_config *c, bool frozen,
                     vmenv_error *err)
{
        for (size_t i = 0; i < l->n_entries; i++)
                if (!config_machine(c, l->entries[i].machine))
                        return drift(l, &l->entries[i], NULL, err,
                                     "machine '%s' is not in vmenv.yaml", l->entries[i].machine);
        for (size_t i = 0; i < c->n_machines; i++)
                if (vmenv_lock_check_machine(l, &c->machines[i], err) < 0)
                        return -1;
        if (frozen) {
                _cleanup_free_ char *digest = NULL;
                if (vmenv_lock_config_digest(c, &digest, err) < 0)
                        return -1;
                if (!checksum_eq(digest, l->config_digest))
                        return drift(l, NULL, NULL, err,
                                     "vmenv.yaml changed since the lock was written "
                                     "(locked %s, now %s)",
                                     l->config_digest, digest);
                for (size_t i = 0; i < c->n_machines; i++) {
                        const struct vmenv_machine_config *m = &c->machines[i];
                        const struct vmenv_lock_entry *e = vmenv_lock_find(l, m->name);
                        const char *want =
                            m->box_version && *m->box_version ? m->box_version : NULL;
                        if (!vmenv_streq(e->constraint, want))
                                return drift(l, e, NULL, err,
                                             "'%s' was locked for box_version '%s', vmenv.yaml "
                                             "now says '%s'",
                                             m->name, e->constraint ? e->constraint : "",
                                             want ? want : "");
                }
        }
        return 0;
}

int vmenv_lock_ensure(const struct vmenv_config *c, const struct vmenv_lock_opts *o,
                      struct vmenv_lock **out, vmenv_error *err)
{
        _cleanup_(vmenv_lock_freep) struct vmenv_lock *l = NULL;
        _cleanup_free_ char *path = vmenv_lock_path(c);
        bool frozen = o && o->frozen;
        vmenv_error werr = VMENV_ERROR_INIT;

        if (vmenv_lock_load(c, &l, err) < 0)
                return -1;
        if (!l) {
                if (frozen) {
                        vmenv_error_set(err, VMENV_EXIT_CONFIG, "'%s' does not exist (--frozen)",
                                        path);
                        return vmenv_error_hint(err, "run 'vmenv lock' and commit vmenv.lock");
                }
                if (vmenv_lock_update(c, NULL, false, NULL, o, &l, NULL, err) < 0)
                        return -1;
                /* A read-only checkout can still be brought up: the lock is
                 * then used for this run only. */
                if (vmenv_lock_save(l, path, &werr) < 0) {
                        vmenv_warn("%s; going on without recording the lock", werr.msg);
                        vmenv_error_clear(&werr);
                } else {
                        vmenv_info("wrote %s", path);
                }
                free(l->path);
                l->path = vmenv_strdup(path);
        }
        if (vmenv_lock_check(l, c, frozen, err) < 0)
                return -1;
        *out = TAKE_PTR(l);
        return 0;
}

void vmenv_lock_pin_clear(struct vmenv_lock_pin *p)
{
        if (!p)
                return;
        free(p->name);
        free(p->constraint);
        free(p->url);
        free(p->checksum);
        *p = (struct vmenv_lock_pin){0};
}

int vmenv_lock_pin(const struct vmenv_lock *l, const struct vmenv_machine_config *m,
                   struct vmenv_lock_pin *out, vmenv_error *err)
{
        const struct vmenv_lock_entry *e;
        _cleanup_free_ char *dir = NULL;

        if (!l) {
                *out = (struct vmenv_lock_pin){
                    .name = vmenv_strdup(m->box),
                    .constraint = vmenv_strdup(m->box_version),
                    .url = vmenv_strdup(m->box_url),
                    .checksum = vmenv_strdup(m->box_checksum),
                };
                return 0;
        }
        if (vmenv_lock_check_machine(l, m, err) < 0)
                return -1;
        e = vmenv_lock_find(l, m->name);
        dir = lock_dir(l);
        *out = (struct vmenv_lock_pin){
            .name = vmenv_strdup(e->name ? e->name : e->box),
            .constraint = vmenv_strdupf("= %s", e->version),
            .checksum = vmenv_strdup(e->checksum),
            .locked = true,
        };
        /* The box store tells a .box from a catalog by the name's suffix; a
         * download URL without one goes through its catalog, which resolves
         * "= VERSION" to it (and the locked checksum is still enforced). */
        if (e->catalog && classify(dir, e->url, false) != SRC_BOX)
                out->url = project_path(dir, e->catalog);
        else
                out->url = project_path(dir, e->url);
        return 0;
}

int vmenv_lock_verify_box(const struct vmenv_lock *l, const struct vmenv_machine_config *m,
                          const struct vmenv_box *box, vmenv_error *err)
{
        const struct vmenv_lock_entry *e = vmenv_lock_find(l, m->name);

        if (!e)
                return 0;
        if (vmenv_version_compare(box->version, e->version)) {
                vmenv_error_set(err, VMENV_EXIT_DATA,
                                "box '%s' is version %s but %s locks '%s' to %s", box->name,
                                box->version, lock_name(l), m->name, e->version);
                return vmenv_error_hint(err, "run 'vmenv lock --update %s' and commit vmenv.lock",
                                        m->name);
        }
        if (!checksum_eq(box->digest, e->checksum)) {
                vmenv_error_set(err, VMENV_EXIT_DATA,
                                "stored box '%s' (%s) does not match %s: its digest is %s, the "
                                "lock says %s",
                                box->name, box->version, lock_name(l),
                                box->digest ? box->digest : "not recorded", e->checksum);
                return vmenv_error_hint(err,
                                        "remove it with 'vmenv box remove %s --box-version %s' and "
                                        "run 'vmenv up' again to download the locked box",
                                        box->name, box->version);
        }
        return 0;
}

/* ---- updating ----------------------------------------------------------- */

static bool entry_same(const struct vmenv_lock_entry *a, const struct vmenv_lock_entry *b)
{
        return vmenv_streq(a->box, b->box) && vmenv_streq(a->name, b->name) &&
               vmenv_streq(a->constraint, b->constraint) && vmenv_streq(a->version, b->version) &&
               vmenv_streq(a->provider, b->provider) &&
               vmenv_streq(a->architecture, b->architecture) &&
               vmenv_streq(a->catalog, b->catalog) && vmenv_streq(a->url, b->url) &&
               checksum_eq(a->checksum, b->checksum);
}

static void entry_copy(struct vmenv_lock_entry *dst, const struct vmenv_lock_entry *src)
{
        *dst = (struct vmenv_lock_entry){
            .machine = vmenv_strdup(src->machine),
            .box = vmenv_strdup(src->box),
            .name = vmenv_strdup(src->name),
            .constraint = vmenv_strdup(src->constraint),
            .version = vmenv_strdup(src->version),
            .provider = vmenv_strdup(src->provider),
            .architecture = vmenv_strdup(src->architecture),
            .catalog = vmenv_strdup(src->catalog),
            .url = vmenv_strdup(src->url),
            .checksum = vmenv_strdup(src->checksum),
        };
}

/* Change lines in machine order, like the file. */
static int cmp_lines(const void *a, const void *b)
{
        const char *x = *(char *const *)a, *y = *(char *const *)b;
        size_t nx = strcspn(x, ":"), ny = strcspn(y, ":");
        int r = strncmp(x, y, nx < ny ? nx : ny);
        return r ? r : (nx > ny) - (nx < ny);
}

static char *change_line(const struct vmenv_lock_entry *old, const struct vmenv_lock_entry *new)
{
        if (!old)
                return vmenv_strdupf("%s: %s %s (new)", new->machine, new->box, new->version);
        if (strcmp(old->box, new->box))
                return vmenv_strdupf("%s: %s %s → %s %s", new->machine, old->box, old->version,
                                     new->box, new->version);
        if (strcmp(old->version, new->version))
                return vmenv_strdupf("%s: %s %s → %s", new->machine, new->box, old->version,
                                     new->version);
        if (!checksum_eq(old->checksum, new->checksum))
                return vmenv_strdupf("%s: %s %s checksum %s → %s", new->machine, new->box,
                                     new->version, old->checksum, new->checksum);
        if (!vmenv_streq(old->url, new->url))
                return vmenv_strdupf("%s: %s %s from %s", new->machine, new->box, new->version,
                                     new->url);
        return vmenv_strdupf("%s: %s %s (locked for box_version '%s')", new->machine, new->box,
                             new->version, new->constraint ? new->constraint : "");
}

int vmenv_lock_update(const struct vmenv_config *c, const struct vmenv_lock *old, bool update,
                      char *const *machines, const struct vmenv_lock_opts *o,
                      struct vmenv_lock **out, char ***changes, vmenv_error *err)
{
        _cleanup_(vmenv_lock_freep) struct vmenv_lock *l = vmenv_calloc(1, sizeof(*l));
        _cleanup_(strv_freep) char **lines = NULL;

        for (char *const *n = machines; n && *n; n++)
                if (!config_machine(c, *n)) {
                        vmenv_error_set(err, VMENV_EXIT_NOINPUT, "no machine '%s' in '%s'", *n,
                                        c->path);
                        return -1;
                }
        if (vmenv_lock_config_digest(c, &l->config_digest, err) < 0)
                return -1;
        l->path = vmenv_lock_path(c);
        l->entries = vmenv_calloc(c->n_machines + 1, sizeof(*l->entries));
        for (size_t i = 0; i < c->n_machines; i++) {
                const struct vmenv_machine_config *m = &c->machines[i];
                const struct vmenv_lock_entry *e = vmenv_lock_find(old, m->name);
                struct vmenv_lock_entry *ne = &l->entries[l->n_entries];
                bool named = update && (!machines || !*machines);
                vmenv_error ignore = VMENV_ERROR_INIT;

                for (char *const *n = machines; update && n && *n; n++)
                        named = named || !strcmp(*n, m->name);
                if (e && !named && vmenv_lock_check_machine(old, m, &ignore) == 0) {
                        entry_copy(ne, e);
                        /* the constraint it satisfies is the one now written */
                        free(ne->constraint);
                        ne->constraint =
                            vmenv_strdup(m->box_version && *m->box_version ? m->box_version : NULL);
                } else if (vmenv_lock_resolve(c, m, o, ne, err) < 0) {
                        vmenv_error_clear(&ignore);
                        return -1;
                }
                vmenv_error_clear(&ignore);
                l->n_entries++;
                if (!e || !entry_same(e, ne))
                        vmenv_strv_push(&lines, change_line(e, ne));
        }
        for (size_t i = 0; old && i < old->n_entries; i++)
                if (!config_machine(c, old->entries[i].machine))
                        vmenv_strv_push(
                            &lines, vmenv_strdupf("%s: %s %s (removed)", old->entries[i].machine,
                                                  old->entries[i].box, old->entries[i].version));
        qsort(l->entries, l->n_entries, sizeof(*l->entries), cmp_entries);
        if (lines)
                qsort(lines, vmenv_strv_len(lines), sizeof(*lines), cmp_lines);
        *out = TAKE_PTR(l);
        if (changes)
                *changes = TAKE_PTR(lines);
        return 0;
}

/* ---- reporting ---------------------------------------------------------- */

void vmenv_lock_report_clear(struct vmenv_lock_report *r)
{
        if (!r)
                return;
        free(r->machine);
        free(r->locked);
        free(r->running);
        free(r->newest);
        free(r->message);
        free(r->catalog_error);
        *r = (struct vmenv_lock_report){0};
}

int vmenv_lock_report(const struct vmenv_lock *l, const struct vmenv_machine_config *m,
                      const char *running_version, const struct vmenv_fetch_opts *fetch,
                      struct vmenv_lock_report *out, vmenv_error *err)
{
        const struct vmenv_lock_entry *e = vmenv_lock_find(l, m->name);
        struct vmenv_lock_report r = {.machine = vmenv_strdup(m->name),
                                      .running = vmenv_strdup(running_version)};
        struct vmenv_buf msg = {0};

        if (!l) {
                *out = r;
                return 0;
        }
        if (!e) {
                r.message = vmenv_strdupf("%s: not in vmenv.lock (run 'vmenv lock')", m->name);
                *out = r;
                return 0;
        }
        r.locked = vmenv_strdup(e->version);
        if (fetch && e->catalog) {
                _cleanup_free_ char *dir = lock_dir(l), *where = project_path(dir, e->catalog);
                _cleanup_(vmenv_catalog_freep) struct vmenv_catalog *cat =
                    vmenv_catalog_fetch(where, fetch, err);
                struct vmenv_box_ref ref = {0};
                vmenv_error e2 = VMENV_ERROR_INIT;
                if (!cat)
                        vmenv_error_move(&e2, err);
                if (!cat || vmenv_catalog_resolve(cat, m->box_version, NULL, &ref, &e2) < 0) {
                        /* the machine's own state is still worth reporting */
                        r.catalog_error = TAKE_PTR(e2.msg);
                        vmenv_error_clear(&e2);
                } else {
                        r.newest = TAKE_PTR(ref.version);
                        r.lock_older = vmenv_version_compare(e->version, r.newest) < 0;
                }
                vmenv_box_ref_clear(&ref);
        }
        r.running_older = r.running && vmenv_version_compare(r.running, e->version) < 0;
        if (r.running && vmenv_version_compare(r.running, e->version))
                vmenv_buf_printf(&msg,
                                 "%s: runs %s %s, %s than the locked %s (run 'vmenv destroy "
                                 "%s' and 'vmenv up %s')",
                                 m->name, e->box, r.running, r.running_older ? "older" : "newer",
                                 e->version, m->name, m->name);
        if (r.lock_older) {
                _cleanup_free_ char *by = m->box_version && *m->box_version
                                              ? vmenv_strdupf("allowed by '%s'", m->box_version)
                                              : vmenv_strdup("available");
                vmenv_buf_printf(&msg,
                                 "%s%s: vmenv.lock pins %s %s; %s is %s (run "
                                 "'vmenv lock --update %s')",
                                 msg.len ? "\n" : "", m->name, e->box, e->version, r.newest, by,
                                 m->name);
        }
        if (msg.len)
                r.message = vmenv_buf_steal(&msg);
        *out = r;
        return 0;
}
