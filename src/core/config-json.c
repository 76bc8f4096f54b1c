/* The resolved configuration as JSON, for 'vmenv validate --json': every
 * machine with every default filled in, sizes in bytes, secrets hidden. */
#include <arpa/inet.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "vmenv/config.h"
#include "vmenv/log.h"
#include "vmenv/util.h"

static json_object *jstr(const char *s)
{
        return s ? json_object_new_string(s) : NULL;
}

static json_object *jstrv(char *const *v)
{
        json_object *a = json_object_new_array();

        for (; v && *v; v++)
                json_object_array_add(a, json_object_new_string(*v));
        return a;
}

static json_object *jwhere(const struct vmenv_where *w)
{
        json_object *o = json_object_new_object();

        json_object_object_add(o, "line", json_object_new_int((int)w->line));
        json_object_object_add(o, "column", json_object_new_int((int)w->column));
        return o;
}

static const char *run_name(enum vmenv_prov_run r)
{
        return r == VMENV_RUN_ALWAYS ? "always" : r == VMENV_RUN_NEVER ? "never" : "once";
}

static json_object *jprov(const struct vmenv_provisioner *v)
{
        json_object *o = json_object_new_object();

        json_object_object_add(o, "name", jstr(v->name));
        json_object_object_add(o, "kind", jstr(v->kind == VMENV_PROV_FILE ? "file" : "shell"));
        json_object_object_add(o, "run", jstr(run_name(v->run)));
        if (v->kind == VMENV_PROV_FILE) {
                json_object_object_add(o, "source", jstr(v->source));
                json_object_object_add(o, "destination", jstr(v->destination));
        } else {
                json_object *env = json_object_new_object();
                json_object_object_add(o, "shell", jstr(v->inline_text));
                json_object_object_add(o, "script", jstr(v->path));
                json_object_object_add(o, "args", jstrv(v->args));
                /* env values may be secrets: shown only with -v, and never
                 * when marked sensitive. */
                for (size_t i = 0; i < v->n_env; i++)
                        json_object_object_add(
                            env, v->env[i].name,
                            jstr(v->env[i].sensitive || vmenv_log_level < VMENV_LOG_DEBUG
                                     ? "***"
                                     : v->env[i].value));
                json_object_object_add(o, "env", env);
                json_object_object_add(o, "privileged", json_object_new_boolean(v->privileged));
        }
        json_object_object_add(o, "where", jwhere(&v->where));
        return o;
}

static json_object *jmachine(const struct vmenv_machine_config *m)
{
        json_object *o = json_object_new_object(), *a, *s, *l;

        json_object_object_add(o, "name", jstr(m->name));
        json_object_object_add(o, "primary", json_object_new_boolean(m->primary));
        json_object_object_add(o, "box", jstr(m->box));
        json_object_object_add(o, "box_version", jstr(m->box_version));
        json_object_object_add(o, "box_url", jstr(m->box_url));
        json_object_object_add(o, "box_checksum", jstr(m->box_checksum));
        json_object_object_add(o, "cpus", json_object_new_int(m->cpus));
        json_object_object_add(o, "memory", json_object_new_int64((int64_t)m->memory));
        json_object_object_add(o, "disk", json_object_new_int64((int64_t)m->disk));
        json_object_object_add(o, "hostname", jstr(m->hostname));
        json_object_object_add(o, "boot_timeout", json_object_new_int(m->boot_timeout));
        json_object_object_add(o, "network", jstr(m->network));

        a = json_object_new_array();
        for (size_t i = 0; i < m->n_forwards; i++) {
                const struct vmenv_forward *f = &m->forwards[i];
                json_object *fo = json_object_new_object();
                json_object_object_add(fo, "guest", json_object_new_int(f->guest));
                json_object_object_add(fo, "host", json_object_new_int(f->host));
                json_object_object_add(fo, "host_ip", jstr(f->host_ip));
                json_object_object_add(fo, "protocol", jstr(f->protocol));
                json_object_object_add(fo, "auto_correct",
                                       json_object_new_boolean(f->auto_correct));
                json_object_object_add(fo, "id", jstr(f->id));
                json_object_array_add(a, fo);
        }
        json_object_object_add(o, "forwarded_ports", a);

        a = json_object_new_array();
        for (size_t i = 0; i < m->n_privnets; i++) {
                const struct vmenv_private_net *e = &m->privnets[i];
                json_object *no = json_object_new_object();
                json_object_object_add(no, "type", jstr("private"));
                json_object_object_add(no, "name", jstr(e->name));
                json_object_object_add(no, "ip", jstr(e->ip)); /* null: chosen at up */
                json_object_array_add(a, no);
        }
        json_object_object_add(o, "networks", a);

        a = json_object_new_array();
        for (size_t i = 0; i < m->n_folders; i++) {
                const struct vmenv_synced_folder *f = &m->folders[i];
                json_object *fo = json_object_new_object();
                json_object_object_add(fo, "host", jstr(f->host));
                json_object_object_add(fo, "guest", jstr(f->guest));
                json_object_object_add(fo, "type", jstr(f->type));
                json_object_object_add(fo, "exclude", jstrv(f->exclude));
                json_object_object_add(fo, "disabled", json_object_new_boolean(f->disabled));
                json_object_array_add(a, fo);
        }
        json_object_object_add(o, "synced_folders", a);

        a = json_object_new_array();
        for (size_t i = 0; i < m->n_provisioners; i++)
                json_object_array_add(a, jprov(&m->provisioners[i]));
        json_object_object_add(o, "provision", a);

        s = json_object_new_object();
        json_object_object_add(s, "user", jstr(m->ssh.user));
        json_object_object_add(s, "port", json_object_new_int(m->ssh.port));
        json_object_object_add(s, "private_key", jstr(m->ssh.private_key));
        json_object_object_add(o, "ssh", s);
        json_object_object_add(o, "cloud", json_object_new_boolean(m->cloud));
        if (m->cloud) {
                struct json_object *ci = json_object_new_object();
                json_object_object_add(ci, "minimal",
                                       json_object_new_boolean(m->cloud_init.minimal));
                json_object_object_add(ci, "user_data", jstr(m->cloud_init.user_data));
                json_object_object_add(o, "cloud_init", ci);
        }

        json_object_object_add(o, "kernel", jstr(m->kernel));
        json_object_object_add(o, "initrd", jstr(m->initrd));
        json_object_object_add(o, "cmdline", jstr(m->cmdline));

        l = json_object_new_object();
        json_object_object_add(l, "uri", jstr(m->libvirt.uri));
        json_object_object_add(l, "machine_type", jstr(m->libvirt.machine_type));
        json_object_object_add(l, "cpu_mode", jstr(m->libvirt.cpu_mode));
        json_object_object_add(l, "storage_pool", jstr(m->libvirt.storage_pool));
        json_object_object_add(l, "video", jstr(m->libvirt.video));
        json_object_object_add(l, "graphics", jstr(m->libvirt.graphics));
        json_object_object_add(o, "libvirt", l);
        json_object_object_add(o, "where", jwhere(&m->where));
        return o;
}

char *vmenv_config_to_json(const struct vmenv_config *c)
{
        json_object *root = json_object_new_object(), *a = json_object_new_array();
        char *out;

        json_object_object_add(root, "path", jstr(c->path));
        json_object_object_add(root, "dir", jstr(c->dir));
        json_object_object_add(root, "project", jstr(c->project));
        for (size_t i = 0; i < c->n_machines; i++)
                json_object_array_add(a, jmachine(&c->machines[i]));
        json_object_object_add(root, "machines", a);
        a = json_object_new_array();
        for (size_t i = 0; i < c->n_networks; i++) {
                const struct vmenv_network_def *d = &c->networks[i];
                json_object *no = json_object_new_object();
                struct in_addr in = {htonl(d->subnet)};
                char sub[INET_ADDRSTRLEN + 4];
                inet_ntop(AF_INET, &in, sub, INET_ADDRSTRLEN);
                snprintf(sub + strlen(sub), 4, "/%d", d->prefix);
                json_object_object_add(no, "name", jstr(d->name));
                json_object_object_add(no, "subnet", jstr(sub));
                json_object_array_add(a, no);
        }
        json_object_object_add(root, "networks", a);
        out = vmenv_strdup(json_object_to_json_string_ext(
            root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(root);
        return out;
}
