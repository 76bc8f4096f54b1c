/* vmenv.lock: resolving each machine's box to one exact version, URL and
 * checksum, writing that down as stable JSON, and holding 'up' to it.
 * The text is produced by hand rather than by json-c so that key order,
 * indentation and escaping never change between versions of the library. */
#include <ctype.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "json-cleanup.h"
#include "lock-private.h"
#include "vmenv/box.h"
#include "vmenv/cleanup.h"
#include "vmenv/config.h"
#include "vmenv/lock.h"
#include "vmenv/util.h"

#define MAX_FIELD 8192
#define MAX_DEPTH 8

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
                if (c && !vmenv_lock_config_machine(c, name)) {
                        rd_error(&r, e->line, "machine '%s' is not in vmenv.yaml", name);
                        vmenv_error_hint(err, LOCK_HINT);
                        return NULL;
                }
        }
        qsort(l->entries, l->n_entries, sizeof(*l->entries), vmenv_lock_cmp_entries);
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
