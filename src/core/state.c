/* Machine state in .vmenv/ and the per-user machine index, both JSON files
 * written atomically so a crash leaves the old or the new version. */
#include <arpa/inet.h>
#include <errno.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vmenv/cleanup.h"
#include "vmenv/machine.h"
#include "vmenv/state.h"
#include "vmenv/util.h"

#define STATE_MAX_BYTES (1u << 20)
#define INDEX_MAX_BYTES (16u << 20)

VMENV_DEFINE_CLEANUP(json_object, json_object_put)

static char *sha256_hex(const char *s, size_t nbytes)
{
        unsigned char md[32];
        unsigned int len = 0;
        char *hex = vmenv_malloc(nbytes * 2 + 1);

        EVP_Digest(s, strlen(s), md, &len, EVP_sha256(), NULL);
        for (size_t i = 0; i < nbytes && i < len; i++)
                sprintf(hex + 2 * i, "%02x", md[i]);
        hex[nbytes * 2] = '\0';
        return hex;
}

char *vmenv_domain_name(const struct vmenv_config *c, const char *machine)
{
        const struct vmenv_machine_config *m = vmenv_config_machine(c, machine);
        _cleanup_free_ char *key = NULL, *h = NULL;

        /* On a shared remote hypervisor the same path on two computers is
         * two projects; local names stay what they were. */
        if (m && c->client_id && vmenv_uri_remote(vmenv_machine_uri(m)))
                key = vmenv_strdupf("%s\n%s", c->client_id, c->dir);
        h = sha256_hex(key ? key : c->dir, 4);
        return vmenv_strdupf("vmenv-%s-%s-%s", c->project, machine, h);
}

char *vmenv_network_name(const struct vmenv_config *c, const char *network)
{
        _cleanup_free_ char *h = sha256_hex(c->dir, 4);
        return vmenv_strdupf("vmenv-%s-%s-%s", c->project, network, h);
}

char *vmenv_network_bridge(const struct vmenv_config *c, const char *network)
{
        _cleanup_free_ char *key = vmenv_strdupf("%s\n%s", c->dir, network);
        _cleanup_free_ char *h = sha256_hex(key, 5);
        return vmenv_strdupf("vmv%s", h);
}

char *vmenv_network_mac(const struct vmenv_config *c, const char *machine, const char *network)
{
        _cleanup_free_ char *key = vmenv_strdupf("%s\n%s\n%s", c->dir, machine, network);
        _cleanup_free_ char *h = sha256_hex(key, 3);
        return vmenv_strdupf("52:54:00:%.2s:%.2s:%.2s", h, h + 2, h + 4);
}

char *vmenv_state_path(const struct vmenv_machine_state *s, const char *file)
{
        return vmenv_path_join(s->dir, file);
}

static const char *jstr(json_object *o, const char *key)
{
        json_object *v;
        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

static int jint(json_object *o, const char *key)
{
        json_object *v;
        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
                return 0;
        return json_object_get_int(v);
}

/* A port from .vmenv/: 1..65535, else 0 (none: planned again). */
static int jport(json_object *o, const char *key)
{
        int v = jint(o, key);
        return v >= 1 && v <= 65535 ? v : 0;
}

static bool jbool(json_object *o, const char *key)
{
        json_object *v;
        return json_object_object_get_ex(o, key, &v) && json_object_get_boolean(v);
}

static void jset_str(json_object *o, const char *key, const char *value)
{
        if (value)
                json_object_object_add(o, key, json_object_new_string(value));
}

static bool ip_valid(const char *s)
{
        unsigned char buf[16];
        return s && (inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1);
}

/* "TYPE BASE64" as a known_hosts line takes it after the host. */
static bool host_key_valid(const char *s)
{
        const char *sp = s ? strchr(s, ' ') : NULL;

        if (!sp || sp == s ||
            strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-@.") != (size_t)(sp - s))
                return false;
        return sp[1] &&
               strspn(sp + 1,
                      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") ==
                   strlen(sp + 1);
}

struct vmenv_machine_state *vmenv_state_load(const struct vmenv_config *c, const char *machine,
                                             vmenv_error *err)
{
        struct vmenv_machine_state *s = vmenv_calloc(1, sizeof(*s));
        _cleanup_free_ char *path = NULL, *text = NULL;
        _cleanup_(json_object_putp) json_object *root = NULL;
        json_object *arr;
        size_t len = 0;
        const struct vmenv_machine_config *m;

        s->machine = vmenv_strdup(machine);
        s->dir = vmenv_strdupf("%s/.vmenv/machines/%s", c->dir, machine);
        s->domain = vmenv_domain_name(c, machine);
        path = vmenv_state_path(s, "state.json");
        if (!vmenv_path_exists(path))
                return s;
        if (vmenv_read_file(path, STATE_MAX_BYTES, &text, &len, err) < 0)
                goto fail;
        if (!(root = json_tokener_parse(text)) || !json_object_is_type(root, json_type_object)) {
                vmenv_error_set(err, VMENV_EXIT_DATA, "'%s' is not valid JSON", path);
                vmenv_error_hint(err, "remove it, then 'vmenv destroy' or 'vmenv up' again");
                goto fail;
        }
        s->exists = true;
        /* .vmenv/ may come from elsewhere (a clone, a copy of another
         * project): nothing in it names an object to act on. The domain and
         * its overlay are recomputed from the project; the URI and pool come
         * from vmenv.yaml or the command line; the disk path is asked of the
         * provider. The box name, version and digest only describe. */
        s->disk_volume = vmenv_strdupf("%s.qcow2", s->domain);
        s->box_name = vmenv_strdup(jstr(root, "box"));
        s->box_version = vmenv_strdup(jstr(root, "box_version"));
        s->box_digest = vmenv_strdup(jstr(root, "box_digest"));
        s->instance_id = vmenv_strdup(jstr(root, "instance_id"));
        if (host_key_valid(jstr(root, "host_key")))
                s->host_key = vmenv_strdup(jstr(root, "host_key"));
        /* An address, never a word ssh could read as an option; and only
         * for a machine on a NAT network, whose address its DHCP lease
         * gave: in user mode SSH is 127.0.0.1's forward, so a .vmenv/ of a
         * cloned project cannot send vmenv ssh or a provisioner elsewhere. */
        if (ip_valid(jstr(root, "ssh_host")) && (m = vmenv_config_machine(c, machine)) &&
            vmenv_streq(m->network, "nat"))
                s->ssh_host = vmenv_strdup(jstr(root, "ssh_host"));
        s->ssh_port = jport(root, "ssh_port");
        s->key_replaced = jbool(root, "key_replaced");
        s->key_pending = jbool(root, "key_pending");
        s->cloud_box = jbool(root, "cloud_box");
        s->first_boot_done = jbool(root, "first_boot_done");
        s->provision_pending = jbool(root, "provision_pending");
        if (json_object_object_get_ex(root, "ports", &arr) &&
            json_object_is_type(arr, json_type_array)) {
                size_t n = json_object_array_length(arr);
                s->ports = vmenv_calloc(n, sizeof(*s->ports));
                for (size_t i = 0; i < n; i++) {
                        json_object *p = json_object_array_get_idx(arr, i);
                        struct vmenv_state_port *sp = &s->ports[s->n_ports++];
                        sp->host_ip = vmenv_strdup(ip_valid(jstr(p, "host_ip")) ? jstr(p, "host_ip")
                                                                                : "127.0.0.1");
                        sp->protocol = vmenv_strdup(jstr(p, "protocol"));
                        sp->host_port = jport(p, "host");
                        sp->guest_port = jport(p, "guest");
                }
        }
        if (json_object_object_get_ex(root, "provisioned", &arr) &&
            json_object_is_type(arr, json_type_array)) {
                for (size_t i = 0; i < json_object_array_length(arr); i++) {
                        json_object *p = json_object_array_get_idx(arr, i);
                        if (json_object_is_type(p, json_type_string))
                                vmenv_strv_push(&s->provisioned,
                                                vmenv_strdup(json_object_get_string(p)));
                }
        }
        if (json_object_object_get_ex(root, "private_ips", &arr) &&
            json_object_is_type(arr, json_type_object)) {
                json_object_object_foreach(arr, net, v)
                {
                        struct in_addr in;
                        const char *ip = json_object_is_type(v, json_type_string)
                                             ? json_object_get_string(v)
                                             : "";
                        if (strlen(net) <= 16 && !strchr(net, '=') &&
                            inet_pton(AF_INET, ip, &in) == 1)
                                vmenv_strv_push(&s->net_ips, vmenv_strdupf("%s=%s", net, ip));
                }
        }
        return s;
fail:
        vmenv_state_free(s);
        return NULL;
}

int vmenv_state_save(struct vmenv_machine_state *s, vmenv_error *err)
{
        _cleanup_(json_object_putp) json_object *root = json_object_new_object();
        json_object *ports = json_object_new_array();
        json_object *prov = json_object_new_array();
        _cleanup_free_ char *path = vmenv_state_path(s, "state.json");
        const char *text;

        if (vmenv_mkdir_p(s->dir, 0700, err) < 0)
                return -1;
        jset_str(root, "machine", s->machine);
        jset_str(root, "domain", s->domain);
        /* for the reader's information only (never read back); without the
         * query, which may name the user's key files (keyfile=): the
         * project folder may be shared, the per-user index keeps it all */
        _cleanup_free_ char *uri = s->uri ? vmenv_strndup(s->uri, strcspn(s->uri, "?")) : NULL;
        jset_str(root, "uri", uri);
        jset_str(root, "pool", s->pool);
        jset_str(root, "disk_volume", s->disk_volume);
        jset_str(root, "disk_path", s->disk_path);
        jset_str(root, "box_volume", s->box_volume);
        jset_str(root, "box", s->box_name);
        jset_str(root, "box_version", s->box_version);
        jset_str(root, "box_digest", s->box_digest);
        jset_str(root, "instance_id", s->instance_id);
        jset_str(root, "host_key", s->host_key);
        jset_str(root, "ssh_host", s->ssh_host);
        json_object_object_add(root, "ssh_port", json_object_new_int(s->ssh_port));
        json_object_object_add(root, "key_replaced", json_object_new_boolean(s->key_replaced));
        json_object_object_add(root, "key_pending", json_object_new_boolean(s->key_pending));
        if (s->cloud_box)
                json_object_object_add(root, "cloud_box", json_object_new_boolean(true));
        json_object_object_add(root, "first_boot_done",
                               json_object_new_boolean(s->first_boot_done));
        json_object_object_add(root, "provision_pending",
                               json_object_new_boolean(s->provision_pending));
        for (size_t i = 0; i < s->n_ports; i++) {
                json_object *p = json_object_new_object();
                jset_str(p, "host_ip", s->ports[i].host_ip);
                jset_str(p, "protocol", s->ports[i].protocol);
                json_object_object_add(p, "host", json_object_new_int(s->ports[i].host_port));
                json_object_object_add(p, "guest", json_object_new_int(s->ports[i].guest_port));
                json_object_array_add(ports, p);
        }
        json_object_object_add(root, "ports", ports);
        for (char **p = s->provisioned; p && *p; p++)
                json_object_array_add(prov, json_object_new_string(*p));
        json_object_object_add(root, "provisioned", prov);
        if (s->net_ips) {
                json_object *ips = json_object_new_object();
                for (char **p = s->net_ips; *p; p++) {
                        const char *eq = strchr(*p, '=');
                        _cleanup_free_ char *net = vmenv_strndup(*p, (size_t)(eq - *p));
                        json_object_object_add(ips, net, json_object_new_string(eq + 1));
                }
                json_object_object_add(root, "private_ips", ips);
        }
        text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
                                                        JSON_C_TO_STRING_NOSLASHESCAPE);
        if (vmenv_write_file_atomic(path, text, strlen(text), 0600, err) < 0)
                return -1;
        s->exists = true;
        return 0;
}

int vmenv_state_remove(struct vmenv_machine_state *s, vmenv_error *err)
{
        if (vmenv_rm_rf(s->dir, err) < 0)
                return -1;
        s->exists = false;
        return 0;
}

void vmenv_state_ports_clear(struct vmenv_machine_state *s)
{
        for (size_t i = 0; i < s->n_ports; i++) {
                free(s->ports[i].host_ip);
                free(s->ports[i].protocol);
        }
        free(s->ports);
        s->ports = NULL;
        s->n_ports = 0;
}

void vmenv_state_free(struct vmenv_machine_state *s)
{
        if (!s)
                return;
        free(s->dir);
        free(s->machine);
        free(s->domain);
        free(s->uri);
        free(s->pool);
        free(s->disk_volume);
        free(s->disk_path);
        free(s->box_volume);
        free(s->box_name);
        free(s->box_version);
        free(s->box_digest);
        free(s->instance_id);
        free(s->host_key);
        free(s->ssh_host);
        vmenv_strv_free(s->net_ips);
        vmenv_state_ports_clear(s);
        vmenv_strv_free(s->provisioned);
        free(s);
}

/* The index: $VMENV_HOME/machines.json, an array of objects. */

static char *index_path(const char *file)
{
        _cleanup_free_ char *home = vmenv_home();
        return vmenv_path_join(home, file);
}

static json_object *index_load(vmenv_error *err)
{
        _cleanup_free_ char *path = index_path("machines.json");
        _cleanup_free_ char *text = NULL;
        json_object *root;

        if (!vmenv_path_exists(path))
                return json_object_new_array();
        if (vmenv_read_file(path, INDEX_MAX_BYTES, &text, NULL, err) < 0)
                return NULL;
        root = json_tokener_parse(text);
        if (!root || !json_object_is_type(root, json_type_array)) {
                /* A broken index is rebuilt: it is only a cache of what libvirt knows. */
                json_object_put(root);
                return json_object_new_array();
        }
        return root;
}

static int index_update(const struct vmenv_index_entry *put, const char *remove_domain,
                        vmenv_error *err)
{
        _cleanup_free_ char *home = vmenv_home();
        _cleanup_free_ char *lock = index_path("machines.lock");
        _cleanup_free_ char *path = index_path("machines.json");
        _cleanup_close_ int fd = -1;
        _cleanup_(json_object_putp) json_object *root = NULL;
        _cleanup_(json_object_putp) json_object *out = json_object_new_array();
        const char *text;
        const char *drop = put ? put->domain : remove_domain;

        if (vmenv_mkdir_p(home, 0700, err) < 0)
                return -1;
        if ((fd = vmenv_lock_file(lock, true, err)) < 0)
                return -1;
        if (!(root = index_load(err)))
                return -1;
        for (size_t i = 0; i < json_object_array_length(root); i++) {
                json_object *e = json_object_array_get_idx(root, i);
                if (vmenv_streq(jstr(e, "domain"), drop) &&
                    vmenv_streq(jstr(e, "uri"), put ? put->uri : jstr(e, "uri")))
                        continue;
                json_object_array_add(out, json_object_get(e));
        }
        if (put) {
                json_object *e = json_object_new_object();
                jset_str(e, "project_dir", put->project_dir);
                jset_str(e, "machine", put->machine);
                jset_str(e, "domain", put->domain);
                jset_str(e, "uri", put->uri);
                jset_str(e, "box", put->box);
                jset_str(e, "box_version", put->box_version);
                json_object_array_add(out, e);
        }
        text = json_object_to_json_string_ext(out, JSON_C_TO_STRING_PRETTY |
                                                       JSON_C_TO_STRING_NOSLASHESCAPE);
        return vmenv_write_file_atomic(path, text, strlen(text), 0600, err);
}

int vmenv_index_put(const struct vmenv_index_entry *e, vmenv_error *err)
{
        return index_update(e, NULL, err);
}

int vmenv_index_remove(const char *domain, vmenv_error *err)
{
        return index_update(NULL, domain, err);
}

int vmenv_index_read(struct vmenv_index_entry **out, size_t *n, vmenv_error *err)
{
        _cleanup_(json_object_putp) json_object *root = index_load(err);
        struct vmenv_index_entry *v;
        size_t len;

        if (!root)
                return -1;
        len = json_object_array_length(root);
        v = vmenv_calloc(len, sizeof(*v));
        for (size_t i = 0; i < len; i++) {
                json_object *e = json_object_array_get_idx(root, i);
                v[i].project_dir = vmenv_strdup(jstr(e, "project_dir"));
                v[i].machine = vmenv_strdup(jstr(e, "machine"));
                v[i].domain = vmenv_strdup(jstr(e, "domain"));
                v[i].uri = vmenv_strdup(jstr(e, "uri"));
                v[i].box = vmenv_strdup(jstr(e, "box"));
                v[i].box_version = vmenv_strdup(jstr(e, "box_version"));
        }
        *out = v;
        *n = len;
        return 0;
}

void vmenv_index_entries_free(struct vmenv_index_entry *e, size_t n)
{
        for (size_t i = 0; e && i < n; i++) {
                free(e[i].project_dir);
                free(e[i].machine);
                free(e[i].domain);
                free(e[i].uri);
                free(e[i].box);
                free(e[i].box_version);
        }
        free(e);
}
