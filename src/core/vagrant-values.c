/* vmenv import: reading the values of a Vagrantfile's record (JSON) as
 * vmenv takes them: bounded UTF-8 text, integers in a range, booleans,
 * string lists, shell-like argument splitting. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "vagrant-model.h"
#include "vmenv/util.h"

#define MAX_TEXT (256u * 1024)

json_object *vi_field(json_object *o, const char *key)
{
        json_object *v = NULL;
        if (!o || !json_object_is_type(o, json_type_object) ||
            !json_object_object_get_ex(o, key, &v))
                return NULL;
        return v;
}

size_t vi_utf8_char(const unsigned char *s, unsigned *cp)
{
        unsigned c = *s, n;

        if (c < 0x80) {
                *cp = c;
                return c ? 1 : 0;
        }
        n = c >= 0xf0 && c <= 0xf4   ? 3
            : c >= 0xe0 && c <= 0xef ? 2
            : c >= 0xc2 && c <= 0xdf ? 1
                                     : 0;
        if (!n)
                return 0;
        *cp = c & (0x3fu >> n);
        for (unsigned i = 1; i <= n; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                *cp = (*cp << 6) | (s[i] & 0x3fu);
        }
        if ((n == 2 && *cp < 0x800) || (n == 3 && (*cp < 0x10000 || *cp > 0x10ffff)) ||
            (*cp >= 0xd800 && *cp <= 0xdfff))
                return 0;
        return n + 1;
}

/* YAML takes UTF-8 only: a string that is not is refused, not mangled. */
static bool utf8_valid(const unsigned char *s)
{
        unsigned cp;

        for (size_t n; *s; s += n)
                if (!(n = vi_utf8_char(s, &cp)))
                        return false;
        return true;
}

/* A string value (numbers count: Vagrantfiles write "2048" and 2048 alike). */
char *vi_text_of(json_object *v)
{
        if (json_object_is_type(v, json_type_string)) {
                const char *s = json_object_get_string(v);
                if (strlen(s) > MAX_TEXT || strlen(s) != (size_t)json_object_get_string_len(v) ||
                    !utf8_valid((const unsigned char *)s))
                        return NULL;
                return vmenv_strdup(s);
        }
        if (json_object_is_type(v, json_type_int))
                return vmenv_strdupf("%" PRId64, json_object_get_int64(v));
        if (json_object_is_type(v, json_type_double))
                return vmenv_strdup(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
        return NULL;
}

const char *vi_str_field(json_object *o, const char *key)
{
        json_object *v = vi_field(o, key);
        return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

/* An integer from a number or a string of digits. */
bool vi_long_of(json_object *v, long min, long max, long *out)
{
        long n;

        if (json_object_is_type(v, json_type_int)) {
                int64_t i = json_object_get_int64(v);
                if (i < min || i > max)
                        return false;
                *out = (long)i;
                return true;
        }
        if (json_object_is_type(v, json_type_string)) {
                const char *s = json_object_get_string(v);
                char *end;
                if (!*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 12)
                        return false;
                n = strtol(s, &end, 10);
                if (n < min || n > max)
                        return false;
                *out = n;
                return true;
        }
        return false;
}

int vi_bool_of(json_object *v)
{
        return json_object_is_type(v, json_type_boolean) ? json_object_get_boolean(v) : -1;
}

/* A list of strings from an array (or one string); NULL if not that. */
char **vi_strv_of(json_object *v)
{
        char **out = NULL;

        if (!json_object_is_type(v, json_type_array)) {
                char *s = vi_text_of(v);
                if (!s)
                        return NULL;
                vmenv_strv_push(&out, s);
                return out;
        }
        if (json_object_array_length(v) > VI_MAX_ITEMS)
                return NULL;
        out = vmenv_calloc(1, sizeof(char *));
        for (size_t i = 0; i < json_object_array_length(v); i++) {
                char *s = vi_text_of(json_object_array_get_idx(v, i));
                if (!s) {
                        vmenv_strv_free(out);
                        return NULL;
                }
                vmenv_strv_push(&out, s);
        }
        return out;
}

/* Vagrant's shell `args:` as one string is split like a shell would on
 * blanks and plain quotes; anything cleverer is kept as one word. */
char **vi_split_args(const char *s)
{
        char **out = vmenv_calloc(1, sizeof(char *));
        struct vmenv_buf w = {0};
        bool in_word = false;
        char q = 0;

        for (; *s; s++) {
                if (q) {
                        if (*s == q)
                                q = 0;
                        else
                                vmenv_buf_add(&w, s, 1);
                } else if (*s == '\'' || *s == '"') {
                        q = *s;
                        in_word = true;
                } else if (*s == ' ' || *s == '\t' || *s == '\n') {
                        if (in_word)
                                vmenv_strv_push(&out, vmenv_buf_steal(&w));
                        in_word = false;
                } else {
                        vmenv_buf_add(&w, s, 1);
                        in_word = true;
                }
        }
        if (in_word)
                vmenv_strv_push(&out, vmenv_buf_steal(&w));
        vmenv_buf_free(&w);
        return out;
}
