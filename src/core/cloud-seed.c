/* The NoCloud seed of a cloud image's machine: meta-data, user-data and
 * network-config, the three files cloud-init reads from a volume labelled
 * "cidata" at first boot. Every value is a double-quoted YAML scalar. */
#include <ctype.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "vmenv/cleanup.h"
#include "vmenv/cloud.h"
#include "vmenv/config.h"
#include "vmenv/util.h"

void vmenv_cloud_seed_clear(struct vmenv_cloud_seed *s)
{
        if (!s)
                return;
        free(s->meta_data);
        free(s->user_data);
        free(s->network_config);
        *s = (struct vmenv_cloud_seed){0};
}

char *vmenv_cloud_instance_id_new(void)
{
        unsigned char r[8];
        size_t got = 0;
        while (got < sizeof(r)) {
                ssize_t n = getrandom(r + got, sizeof(r) - got, 0);
                if (n < 0)
                        abort(); /* a kernel without getrandom cannot run vmenv */
                got += (size_t)n;
        }
        struct vmenv_buf b = {0};
        vmenv_buf_puts(&b, "vmenv-");
        for (size_t i = 0; i < sizeof(r); i++)
                vmenv_buf_printf(&b, "%02x", r[i]);
        return vmenv_buf_steal(&b);
}

static bool mac_valid(const char *m)
{
        if (!m || strlen(m) != 17)
                return false;
        for (int i = 0; i < 17; i++)
                if (i % 3 == 2 ? m[i] != ':' : !isxdigit((unsigned char)m[i]))
                        return false;
        return true;
}

/* An OpenSSH public key line: "TYPE BASE64 [COMMENT]", printable, one line. */
static bool public_key_valid(const char *k)
{
        if (!k || !vmenv_startswith(k, "ssh-") || strlen(k) > 16384)
                return false;
        for (const unsigned char *p = (const unsigned char *)k; *p; p++)
                if (*p < 0x20 || *p == 0x7f)
                        return false;
        return strchr(k, ' ') != NULL;
}

static int check_in(const struct vmenv_cloud_seed_in *in, vmenv_error *err)
{
        if (!in->instance_id || !*in->instance_id || strlen(in->instance_id) > 128)
                return vmenv_error_set(err, VMENV_EXIT_SOFTWARE, "seed: no instance id");
        if (!in->hostname || !vmenv_hostname_valid(in->hostname))
                return vmenv_error_set(err, VMENV_EXIT_CONFIG, "seed: invalid host name '%s'",
                                       in->hostname ? in->hostname : "");
        if (!in->user || !vmenv_ssh_user_valid(in->user))
                return vmenv_error_set(err, VMENV_EXIT_CONFIG, "seed: invalid user name '%s'",
                                       in->user ? in->user : "");
        if (!public_key_valid(in->public_key))
                return vmenv_error_set(err, VMENV_EXIT_SOFTWARE, "seed: invalid public key");
        if (!mac_valid(in->mac))
                return vmenv_error_set(err, VMENV_EXIT_SOFTWARE, "seed: invalid MAC address '%s'",
                                       in->mac ? in->mac : "");
        if (in->user_data && in->user_data_len > VMENV_CLOUD_USER_DATA_MAX)
                return vmenv_error_set(err, VMENV_EXIT_CONFIG,
                                       "%s: user-data is larger than %u bytes",
                                       in->user_data_name ? in->user_data_name : "user-data",
                                       VMENV_CLOUD_USER_DATA_MAX);
        if (in->user_data && memchr(in->user_data, '\0', in->user_data_len))
                return vmenv_error_set(err, VMENV_EXIT_CONFIG, "%s: user-data holds a NUL byte",
                                       in->user_data_name ? in->user_data_name : "user-data");
        return 0;
}

static char *meta_data(const struct vmenv_cloud_seed_in *in)
{
        struct vmenv_buf b = {0};
        vmenv_buf_puts(&b, "instance-id: ");
        vmenv_buf_yaml_quote(&b, in->instance_id);
        vmenv_buf_puts(&b, "\nlocal-hostname: ");
        vmenv_buf_yaml_quote(&b, in->hostname);
        vmenv_buf_puts(&b, "\n");
        return vmenv_buf_steal(&b);
}

/* Version 2 (netplan's schema, which cloud-init renders for ifupdown,
 * networkd or NetworkManager alike): DHCP on the NIC with the machine's
 * MAC, whatever the guest names it. */
static char *network_config(const struct vmenv_cloud_seed_in *in)
{
        struct vmenv_buf b = {0};
        vmenv_buf_puts(&b, "version: 2\n"
                           "ethernets:\n"
                           "  nic0:\n"
                           "    match:\n"
                           "      macaddress: ");
        vmenv_buf_yaml_quote(&b, in->mac);
        vmenv_buf_puts(&b, "\n    dhcp4: true\n");
        return vmenv_buf_steal(&b);
}

/* A boundary that occurs in neither part: derived from the parts' digest
 * (the same input gives the same bytes), lengthened if it ever collides. */
static char *boundary(const char *a, const char *b)
{
        unsigned char md[32];
        unsigned int mdlen = 0;
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) ||
            !EVP_DigestUpdate(ctx, a, strlen(a)) || !EVP_DigestUpdate(ctx, b, strlen(b)) ||
            !EVP_DigestFinal_ex(ctx, md, &mdlen))
                abort();
        EVP_MD_CTX_free(ctx);
        struct vmenv_buf s = {0};
        vmenv_buf_puts(&s, "==vmenv-");
        for (unsigned i = 0; i < 12; i++)
                vmenv_buf_printf(&s, "%02x", md[i]);
        while (strstr(a, s.data) || strstr(b, s.data))
                vmenv_buf_puts(&s, "=");
        return vmenv_buf_steal(&s);
}

/* RFC 2046 multipart/mixed, as cloud-init's make-mime writes it: vmenv's
 * #cloud-config, then the user's script, byte for byte. */
static char *multipart(const char *config, const char *script)
{
        _cleanup_free_ char *bd = boundary(config, script);
        struct vmenv_buf b = {0};
        vmenv_buf_printf(&b,
                         "Content-Type: multipart/mixed; boundary=\"%s\"\n"
                         "MIME-Version: 1.0\n"
                         "\n"
                         "--%s\n"
                         "Content-Type: text/cloud-config; charset=\"utf-8\"\n"
                         "MIME-Version: 1.0\n"
                         "Content-Disposition: attachment; filename=\"vmenv.cfg\"\n"
                         "\n",
                         bd, bd);
        vmenv_buf_puts(&b, config);
        vmenv_buf_printf(&b,
                         "\n--%s\n"
                         "Content-Type: text/x-shellscript; charset=\"utf-8\"\n"
                         "MIME-Version: 1.0\n"
                         "Content-Disposition: attachment; filename=\"user-data.sh\"\n"
                         "\n",
                         bd);
        vmenv_buf_puts(&b, script);
        vmenv_buf_printf(&b, "%s--%s--\n", vmenv_endswith(script, "\n") ? "" : "\n", bd);
        return vmenv_buf_steal(&b);
}

static char *user_data(const struct vmenv_cloud_seed_in *in, vmenv_error *err)
{
        const char *u = in->user_data;
        if (!u)
                return vmenv_cloud_config_merge(in, NULL, 0, err);
        if (vmenv_startswith(u, "#!")) {
                _cleanup_free_ char *config = vmenv_cloud_config_merge(in, NULL, 0, err);
                return config ? multipart(config, u) : NULL;
        }
        /* "#cloud-config" alone on the first line (cloud-init allows
         * trailing blanks). */
        size_t line = strcspn(u, "\n");
        while (line > 0 && strchr(" \t\r", u[line - 1]))
                line--;
        if (line == strlen("#cloud-config") && vmenv_startswith(u, "#cloud-config"))
                return vmenv_cloud_config_merge(in, u, in->user_data_len, err);
        vmenv_error_set(err, VMENV_EXIT_CONFIG,
                        "%s: user-data must start with '#cloud-config' or '#!' (a script)",
                        in->user_data_name ? in->user_data_name : "user-data");
        return NULL;
}

int vmenv_cloud_seed_make(const struct vmenv_cloud_seed_in *in, struct vmenv_cloud_seed *out,
                          vmenv_error *err)
{
        if (check_in(in, err) < 0)
                return -1;
        char *ud = user_data(in, err);
        if (!ud)
                return -1;
        *out = (struct vmenv_cloud_seed){
            .meta_data = meta_data(in),
            .user_data = ud,
            .network_config = network_config(in),
        };
        return 0;
}

char *vmenv_cloud_seed_digest(const struct vmenv_cloud_seed *s)
{
        const char *parts[] = {s->meta_data, s->user_data, s->network_config};
        unsigned char md[32];
        unsigned int mdlen = 0;
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL))
                abort();
        for (size_t i = 0; i < VMENV_ARRAY_SIZE(parts); i++) {
                /* length-prefixed, so moving bytes between files changes it */
                char len[32];
                int n = snprintf(len, sizeof(len), "%zu:", strlen(parts[i]));
                if (!EVP_DigestUpdate(ctx, len, (size_t)n) ||
                    !EVP_DigestUpdate(ctx, parts[i], strlen(parts[i])))
                        abort();
        }
        if (!EVP_DigestFinal_ex(ctx, md, &mdlen))
                abort();
        EVP_MD_CTX_free(ctx);
        struct vmenv_buf b = {0};
        vmenv_buf_puts(&b, "sha256:");
        for (unsigned i = 0; i < mdlen; i++)
                vmenv_buf_printf(&b, "%02x", md[i]);
        return vmenv_buf_steal(&b);
}
