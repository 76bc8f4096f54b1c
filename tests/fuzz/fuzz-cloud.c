/* libFuzzer target for the outside input of cloud images: a distribution's
 * checksum index (vmenv_sums_parse) and a project's user-data merged into
 * the seed (vmenv_cloud_seed_make). The first byte picks which. Any bytes
 * must give a result or an error with a message, never a crash or leak; an
 * index that parses lists only plain names with digests, and a seed that is
 * made always holds vmenv's key. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmenv/cleanup.h"
#include "vmenv/cloud.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void sums(const char *text, size_t len)
{
        vmenv_error err = VMENV_ERROR_INIT;
        struct vmenv_sums s = {0};
        if (vmenv_sums_parse(text, len, "SUMS", &s, &err) < 0) {
                if (!err.msg || err.code != VMENV_EXIT_DATA)
                        abort(); /* every refusal is a data error with a message */
                vmenv_error_clear(&err);
                return;
        }
        for (size_t i = 0; i < s.n; i++)
                if (!*s.entries[i].name || strchr(s.entries[i].name, '/') ||
                    !strchr(s.entries[i].checksum, ':') ||
                    vmenv_sums_find(&s, s.entries[i].name) != s.entries[i].checksum)
                        abort();
        vmenv_sums_clear(&s);
}

static void user_data(const char *text, size_t len)
{
        struct vmenv_cloud_seed_in in = {
            .instance_id = "vmenv-0123456789abcdef",
            .hostname = "web",
            .user = "vmenv",
            .public_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHhz vmenv",
            .mac = "52:54:00:12:34:56",
            .user_data = text,
            .user_data_len = len,
            .user_data_name = "fuzz.yaml",
        };
        vmenv_error err = VMENV_ERROR_INIT;
        struct vmenv_cloud_seed seed = {0};
        if (vmenv_cloud_seed_make(&in, &seed, &err) < 0) {
                if (!err.msg || err.code != VMENV_EXIT_CONFIG)
                        abort();
                vmenv_error_clear(&err);
                return;
        }
        if (!strstr(seed.user_data, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHhz vmenv"))
                abort(); /* vmenv's key is always there */
        vmenv_cloud_seed_clear(&seed);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size < 1)
                return 0;
        /* NUL-terminated copies: the parsers take lengths, but the seed's
         * text must be a C string (it refuses NUL bytes itself). */
        char *text = malloc(size);
        memcpy(text, data + 1, size - 1);
        text[size - 1] = '\0';
        if (data[0] & 1)
                user_data(text, size - 1);
        else
                sums(text, size - 1);
        free(text);
        return 0;
}
