/* vmenv.yaml's model: the names it accepts (machines, users, hosts,
 * environment variables, checksums) and freeing what the parser built. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "config-private.h"
#include "vmenv/box.h"
#include "vmenv/config.h"
#include "vmenv/util.h"

/* ---- names ---- */

bool vmenv_machine_name_valid(const char *name)
{
        size_t n = name ? strlen(name) : 0;

        if (!n || n > 32 || name[n - 1] == '-')
                return false;
        if (!(islower((unsigned char)name[0]) || isdigit((unsigned char)name[0])))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!(name[i] >= 'a' && name[i] <= 'z') && !(name[i] >= '0' && name[i] <= '9') &&
                    name[i] != '-')
                        return false;
        return true;
}

/* POSIX portable user names (letters, digits, '.', '_', '-'), not starting
 * with '-' so that no ssh or shell reads one as an option. */
bool vmenv_ssh_user_valid(const char *user)
{
        size_t n = user ? strlen(user) : 0;

        if (!n || n > 32 || user[0] == '-')
                return false;
        return strspn(user, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") ==
               n;
}

/* A value that can go between double quotes in an ssh_config(5) line:
 * OpenSSH has no escape for '"' there and reads '\' as one, and a control
 * character would end the line. */
bool vmenv_ssh_config_value_valid(const char *v)
{
        for (const unsigned char *c = (const unsigned char *)v; c && *c; c++)
                if (*c < 0x20 || *c == 0x7f || *c == '"' || *c == '\\')
                        return false;
        return v != NULL;
}

bool vmenv_hostname_valid(const char *h)
{
        size_t len = strlen(h), label = 0;

        if (!len || len > 253)
                return false;
        for (size_t i = 0; i <= len; i++) {
                char c = h[i];
                if (c == '.' || c == '\0') {
                        if (!label || h[i - 1] == '-' || label > 63)
                                return false;
                        label = 0;
                } else if (isalnum((unsigned char)c) || (c == '-' && label)) {
                        label++;
                } else {
                        return false;
                }
        }
        return true;
}

bool vmenv_cfg_env_name_valid(const char *s)
{
        if (!*s || isdigit((unsigned char)*s))
                return false;
        for (; *s; s++)
                if (!isalnum((unsigned char)*s) && *s != '_')
                        return false;
        return true;
}

bool vmenv_cfg_checksum_valid(const char *s)
{
        static const struct {
                const char *type;
                size_t hex;
        } types[] = {{"sha256", 64}, {"sha384", 96}, {"sha512", 128}, {"sha1", 40}, {"md5", 32}};
        const char *colon = strchr(s, ':');

        if (!colon)
                return false;
        for (size_t i = 0; i < VMENV_ARRAY_SIZE(types); i++)
                if (strlen(types[i].type) == (size_t)(colon - s) &&
                    !strncmp(s, types[i].type, (size_t)(colon - s)))
                        return strlen(colon + 1) == types[i].hex &&
                               strspn(colon + 1, "0123456789abcdefABCDEF") == types[i].hex;
        return false;
}

/* ---- freeing ---- */

static void forward_clear(struct vmenv_forward *f)
{
        free(f->host_ip);
        free(f->protocol);
        free(f->id);
}

static void folder_clear(struct vmenv_synced_folder *f)
{
        free(f->host);
        free(f->guest);
        free(f->type);
        vmenv_strv_free(f->exclude);
}

static void prov_clear(struct vmenv_provisioner *v)
{
        free(v->name);
        free(v->inline_text);
        free(v->path);
        vmenv_strv_free(v->args);
        for (size_t i = 0; i < v->n_env; i++) {
                free(v->env[i].name);
                free(v->env[i].value);
        }
        free(v->env);
        free(v->source);
        free(v->destination);
}

void vmenv_cfg_forwards_free(struct vmenv_machine_config *m)
{
        for (size_t i = 0; i < m->n_forwards; i++)
                forward_clear(&m->forwards[i]);
        free(m->forwards);
        m->forwards = NULL;
        m->n_forwards = 0;
}

void vmenv_cfg_folders_free(struct vmenv_machine_config *m)
{
        for (size_t i = 0; i < m->n_folders; i++)
                folder_clear(&m->folders[i]);
        free(m->folders);
        m->folders = NULL;
        m->n_folders = 0;
}

void vmenv_cfg_provs_free(struct vmenv_machine_config *m)
{
        for (size_t i = 0; i < m->n_provisioners; i++)
                prov_clear(&m->provisioners[i]);
        free(m->provisioners);
        m->provisioners = NULL;
        m->n_provisioners = 0;
}

static void machine_clear(struct vmenv_machine_config *m)
{
        free(m->name);
        free(m->box);
        free(m->box_version);
        free(m->box_url);
        free(m->box_checksum);
        free(m->hostname);
        free(m->network);
        vmenv_cfg_forwards_free(m);
        vmenv_cfg_privnets_free(m);
        vmenv_cfg_folders_free(m);
        vmenv_cfg_provs_free(m);
        free(m->ssh.user);
        free(m->ssh.private_key);
        free(m->cloud_init.user_data);
        free(m->kernel);
        free(m->initrd);
        free(m->cmdline);
        free(m->libvirt.uri);
        free(m->libvirt.machine_type);
        free(m->libvirt.cpu_mode);
        free(m->libvirt.storage_pool);
        free(m->libvirt.video);
        free(m->libvirt.graphics);
}

void vmenv_config_free(struct vmenv_config *c)
{
        if (!c)
                return;
        for (size_t i = 0; i < c->n_machines; i++)
                machine_clear(&c->machines[i]);
        free(c->machines);
        for (size_t i = 0; i < c->n_networks; i++)
                free(c->networks[i].name);
        free(c->networks);
        free(c->path);
        free(c->shown);
        free(c->dir);
        free(c->project);
        free(c->client_id);
        free(c);
}
