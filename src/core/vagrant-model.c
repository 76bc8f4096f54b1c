/* vmenv import: turns the events of a Vagrantfile's record into a checked
 * model. Every value is validated here (ports, names, sizes, paths) so the
 * writer only formats; what vmenv cannot take becomes a note with its line. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "json-cleanup.h"
#include "vagrant-model.h"
#include "vmenv/box.h"
#include "vmenv/cleanup.h"
#include "vmenv/config.h"
#include "vmenv/util.h"

/* Room for one more note; false past the limit (the note is counted). */
static bool note_room(struct vi_model *m)
{
        if (m->n_notes >= VI_MAX_NOTES) {
                m->n_unlisted++;
                return false;
        }
        if (m->n_notes == m->cap_notes) {
                m->cap_notes = m->cap_notes ? 2 * m->cap_notes : 32;
                m->notes = vmenv_realloc(m->notes, m->cap_notes * sizeof(*m->notes));
        }
        return true;
}

void vi_note(struct vi_model *m, unsigned line, const char *fmt, ...)
{
        va_list ap;
        struct vi_note *n;

        if (!note_room(m))
                return;
        n = &m->notes[m->n_notes++];
        n->line = n->end_line = line;
        va_start(ap, fmt);
        n->reason = vmenv_vstrdupf(fmt, ap);
        va_end(ap);
}

/* ---- machines ---- */

static void prov_clear(struct vi_prov *p)
{
        free(p->name);
        free(p->inline_text);
        free(p->path);
        free(p->source);
        free(p->destination);
        free(p->run);
        vmenv_strv_free(p->args);
        for (size_t j = 0; j < p->n_env; j++) {
                free(p->env[j].name);
                free(p->env[j].value);
        }
        free(p->env);
}

static void machine_clear(struct vi_machine *mc)
{
        free(mc->name);
        free(mc->vagrant_name);
        free(mc->box);
        free(mc->box_version);
        free(mc->box_url);
        free(mc->hostname);
        free(mc->ssh_user);
        for (size_t i = 0; i < mc->n_fwd; i++) {
                free(mc->fwd[i].host_ip);
                free(mc->fwd[i].protocol);
                free(mc->fwd[i].id);
        }
        free(mc->fwd);
        for (size_t i = 0; i < mc->n_folders; i++) {
                free(mc->folders[i].host);
                free(mc->folders[i].guest);
                free(mc->folders[i].type);
                vmenv_strv_free(mc->folders[i].exclude);
        }
        free(mc->folders);
        for (size_t i = 0; i < mc->n_provs; i++)
                prov_clear(&mc->provs[i]);
        free(mc->provs);
        vi_nets_clear(mc);
}

void vi_model_clear(struct vi_model *m)
{
        machine_clear(&m->top);
        for (size_t i = 0; i < m->n_machines; i++)
                machine_clear(&m->machines[i]);
        free(m->machines);
        for (size_t i = 0; i < m->n_notes; i++)
                free(m->notes[i].reason);
        free(m->notes);
        vmenv_strv_free(m->net_names);
        memset(m, 0, sizeof(*m));
}

/* vmenv's machine names are [a-z0-9-]; Vagrant's are anything. */
static char *sanitize_name(const char *s)
{
        struct vmenv_buf b = {0};
        char *out;

        for (; *s && b.len < 32; s++) {
                char c = (char)tolower((unsigned char)*s);
                if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
                        vmenv_buf_add(&b, &c, 1);
                else if (b.len && b.data[b.len - 1] != '-')
                        vmenv_buf_add(&b, "-", 1);
        }
        out = vmenv_buf_steal(&b);
        while (*out && out[strlen(out) - 1] == '-')
                out[strlen(out) - 1] = '\0';
        return out;
}

static struct vi_machine *machine_by_vagrant_name(struct vi_model *m, const char *name)
{
        for (size_t i = 0; i < m->n_machines; i++)
                if (!strcmp(m->machines[i].vagrant_name, name))
                        return &m->machines[i];
        return NULL;
}

static struct vi_machine *machine_add(struct vi_model *m, const char *vname, unsigned line)
{
        struct vi_machine *mc;
        _cleanup_free_ char *name = sanitize_name(vname);

        if ((mc = machine_by_vagrant_name(m, vname)))
                return mc;
        if (m->n_machines >= VMENV_CONFIG_MAX_MACHINES)
                return NULL;
        for (size_t i = 0; i < m->n_machines; i++)
                if (!strcmp(m->machines[i].name, name)) {
                        free(name);
                        name = vmenv_strdupf("machine-%zu", m->n_machines + 1);
                }
        if (!vmenv_machine_name_valid(name)) {
                free(name);
                name = vmenv_strdupf("machine-%zu", m->n_machines + 1);
        }
        if (strcmp(name, vname))
                vi_note(m, line, "machine \"%s\" is named '%s' (vmenv names are a-z, 0-9 and -)",
                        vname, name);
        m->machines = vmenv_realloc(m->machines, (m->n_machines + 1) * sizeof(*m->machines));
        mc = &m->machines[m->n_machines++];
        memset(mc, 0, sizeof(*mc));
        mc->name = TAKE_PTR(name);
        mc->vagrant_name = vmenv_strdup(vname);
        mc->line = line;
        return mc;
}

/* ---- one event kind each ---- */

static void set_string(struct vi_model *m, unsigned line, const char *key, json_object *v,
                       char **slot)
{
        char *s = vi_text_of(v);
        if (!s || !*s) {
                free(s);
                vi_note(m, line, "%s is not a string vmenv can use", key);
                return;
        }
        free(*slot);
        *slot = s;
}

/* What config-rules.c will check of box_version, checked here so that an
 * import never writes a vmenv.yaml that does not validate. */
static bool constraint_valid(const char *text)
{
        vmenv_error err = VMENV_ERROR_INIT;
        struct vmenv_constraint *c = vmenv_constraint_parse(text, &err);
        bool ok = c != NULL;

        vmenv_error_clear(&err);
        vmenv_constraint_free(c);
        return ok;
}

static void ev_set(struct vi_model *m, struct vi_machine *mc, json_object *ev, unsigned line)
{
        const char *key = vi_str_field(ev, "key");
        json_object *v = vi_field(ev, "value");

        if (!key)
                return;
        if (!strcmp(key, "box"))
                set_string(m, line, "box", v, &mc->box);
        else if (!strcmp(key, "box_version")) {
                _cleanup_free_ char *c = vi_text_of(v);
                if (!c || !constraint_valid(c))
                        vi_note(m, line, "box_version is not a version constraint vmenv accepts");
                else
                        set_string(m, line, "box_version", v, &mc->box_version);
        } else if (!strcmp(key, "box_url")) {
                if (json_object_is_type(v, json_type_array) && json_object_array_length(v) > 0) {
                        if (json_object_array_length(v) > 1)
                                vi_note(m, line, "only the first box_url is kept");
                        v = json_object_array_get_idx(v, 0);
                }
                set_string(m, line, "box_url", v, &mc->box_url);
        } else if (!strcmp(key, "hostname")) {
                _cleanup_free_ char *h = vi_text_of(v);
                if (!h || !vmenv_hostname_valid(h))
                        vi_note(m, line, "hostname is not a valid host name");
                else
                        set_string(m, line, "hostname", v, &mc->hostname);
        } else if (!strcmp(key, "boot_timeout")) {
                if (!vi_long_of(v, 1, 86400, &mc->boot_timeout))
                        vi_note(m, line, "boot_timeout must be 1 to 86400 seconds");
        } else if (!strcmp(key, "ssh.username")) {
                _cleanup_free_ char *u = vi_text_of(v);
                if (!u || !vmenv_ssh_user_valid(u))
                        vi_note(m, line, "ssh.username is not a user name vmenv accepts");
                else
                        set_string(m, line, "ssh.username", v, &mc->ssh_user);
        } else {
                vi_note(m, line, "%s", key);
        }
}

void vi_note_other_options(struct vi_model *m, unsigned line, const char *what, json_object *opts,
                           const char *const *known)
{
        if (!json_object_is_type(opts, json_type_object))
                return;
        json_object_object_foreach(opts, k, v)
        {
                bool ok = false;
                (void)v;
                for (const char *const *kk = known; *kk && !ok; kk++)
                        ok = !strcmp(k, *kk);
                if (!ok)
                        vi_note(m, line, "%s option '%s'", what, k);
        }
}

static void ev_forward(struct vi_model *m, struct vi_machine *mc, json_object *o, unsigned line)
{
        static const char *const known[] = {"guest",        "host", "host_ip", "protocol",
                                            "auto_correct", "id",   NULL};
        struct vi_forward f = {.auto_correct = -1, .line = line};
        const char *ip = vi_str_field(o, "host_ip"), *proto = vi_str_field(o, "protocol");
        const char *id = vi_str_field(o, "id");
        unsigned char buf[16];

        if (!vi_long_of(vi_field(o, "guest"), 1, 65535, &f.guest) ||
            !vi_long_of(vi_field(o, "host"), 1, 65535, &f.host)) {
                vi_note(m, line, "forwarded_port needs guest and host ports from 1 to 65535");
                return;
        }
        if (vi_field(o, "host_ip") &&
            (!ip || (inet_pton(AF_INET, ip, buf) != 1 && inet_pton(AF_INET6, ip, buf) != 1))) {
                vi_note(m, line, "forwarded_port host_ip is not an IP address");
                return;
        }
        if (vi_field(o, "protocol") && !vmenv_streq(proto, "tcp") && !vmenv_streq(proto, "udp")) {
                vi_note(m, line, "forwarded_port protocol must be tcp or udp");
                return;
        }
        if (mc->n_fwd >= VI_MAX_ITEMS) {
                vi_note(m, line, "too many forwarded ports");
                return;
        }
        vi_note_other_options(m, line, "forwarded_port", o, known);
        f.host_ip = vmenv_strdup(ip);
        f.protocol = vmenv_strdup(proto);
        f.id = id && *id ? vi_text_of(vi_field(o, "id")) : NULL;
        f.auto_correct = vi_bool_of(vi_field(o, "auto_correct"));
        mc->fwd = vmenv_realloc(mc->fwd, (mc->n_fwd + 1) * sizeof(*mc->fwd));
        mc->fwd[mc->n_fwd++] = f;
}

static void ev_network(struct vi_model *m, struct vi_machine *mc, json_object *ev, unsigned line)
{
        const char *type = vi_str_field(ev, "type");
        json_object *o = vi_field(ev, "options");

        if (vmenv_streq(type, "forwarded_port")) {
                ev_forward(m, mc, o, line);
                return;
        }
        if (vmenv_streq(type, "private_network")) {
                vi_ev_private_network(m, mc, o, line);
                return;
        }
        if (vmenv_streq(type, "public_network")) {
                vi_note(m, line,
                        "network public_network: vmenv has no bridged networks (a private "
                        "network or forwarded_ports instead)");
                return;
        }
        vi_note(m, line, "network %s", type ? type : "of an unknown type");
}

/* Vagrant keys synced folders by their guest path: a later one replaces. */
static struct vi_folder *folder_slot(struct vi_machine *mc, const char *guest)
{
        for (size_t i = 0; i < mc->n_folders; i++)
                if (!strcmp(mc->folders[i].guest, guest)) {
                        struct vi_folder *f = &mc->folders[i];
                        free(f->host);
                        free(f->guest);
                        free(f->type);
                        vmenv_strv_free(f->exclude);
                        memset(f, 0, sizeof(*f));
                        return f;
                }
        if (mc->n_folders >= VI_MAX_ITEMS)
                return NULL;
        mc->folders = vmenv_realloc(mc->folders, (mc->n_folders + 1) * sizeof(*mc->folders));
        memset(&mc->folders[mc->n_folders], 0, sizeof(*mc->folders));
        return &mc->folders[mc->n_folders++];
}

static void ev_folder(struct vi_model *m, struct vi_machine *mc, json_object *ev, unsigned line)
{
        static const char *const known[] = {"type", "rsync__exclude", "disabled", NULL};
        json_object *o = vi_field(ev, "options");
        _cleanup_free_ char *host = vi_text_of(vi_field(ev, "host"));
        _cleanup_free_ char *guest = vi_text_of(vi_field(ev, "guest"));
        const char *type = vi_str_field(o, "type");
        char **exclude = NULL;
        struct vi_folder *f;

        const char *why, *hint;

        if (!host || !*host || !guest) {
                vi_note(m, line, "synced_folder needs a host folder and an absolute guest path");
                return;
        }
        {
                char *norm = vmenv_guest_folder(guest, &why, &hint);
                if (!norm) {
                        vi_note(m, line, "synced_folder: the guest path %s", why);
                        return;
                }
                free(guest);
                guest = norm;
        }
        if (vi_field(o, "rsync__exclude") &&
            !(exclude = vi_strv_of(vi_field(o, "rsync__exclude")))) {
                vi_note(m, line, "synced_folder rsync__exclude is not a list of patterns");
                return;
        }
        if (!(f = folder_slot(mc, guest))) {
                vmenv_strv_free(exclude);
                {
                        vi_note(m, line, "too many synced folders");
                        return;
                }
        }
        vi_note_other_options(m, line, "synced_folder", o, known);
        f->host = TAKE_PTR(host);
        f->guest = TAKE_PTR(guest);
        f->line = line;
        f->exclude = exclude;
        f->disabled = vi_bool_of(vi_field(o, "disabled")) == 1;
        if (!type || !strcmp(type, "rsync"))
                f->type = NULL;
        else if (!strcmp(type, "9p") || !strcmp(type, "virtiofs"))
                f->type = vmenv_strdup(type);
        else
                vi_note(m, line, "synced_folder type \"%s\": written as rsync (a copy)", type);
}

static int provider_index(const char *name)
{
        if (vmenv_streq(name, "libvirt"))
                return VI_LIBVIRT;
        if (vmenv_streq(name, "virtualbox"))
                return VI_VIRTUALBOX;
        return -1;
}

static void set_memory(struct vi_model *m, struct vi_machine *mc, int p, json_object *v,
                       unsigned line)
{
        if (!vi_long_of(v, 16, 1024 * 1024, &mc->memory[p])) {
                vi_note(m, line, "memory must be 16 to 1048576 MiB");
                return;
        }
        mc->memory_line[p] = line;
}

static void set_cpus(struct vi_model *m, struct vi_machine *mc, int p, json_object *v,
                     unsigned line)
{
        if (!vi_long_of(v, 1, 256, &mc->cpus[p])) {
                vi_note(m, line, "cpus must be 1 to 256");
                return;
        }
        mc->cpus_line[p] = line;
}

/* VirtualBox's `vb.customize ["modifyvm", :id, "--memory", "2048"]`. */
static void ev_customize(struct vi_model *m, struct vi_machine *mc, json_object *v, unsigned line)
{
        size_t n = json_object_is_type(v, json_type_array) ? json_object_array_length(v) : 0;
        const char *verb = n ? json_object_get_string(json_object_array_get_idx(v, 0)) : NULL;
        bool other = !vmenv_streq(verb, "modifyvm");

        for (size_t i = 2; !other && i < n; i += 2) {
                const char *opt = json_object_get_string(json_object_array_get_idx(v, i));
                json_object *val = i + 1 < n ? json_object_array_get_idx(v, i + 1) : NULL;
                if (vmenv_streq(opt, "--memory"))
                        set_memory(m, mc, VI_VIRTUALBOX, val, line);
                else if (vmenv_streq(opt, "--cpus"))
                        set_cpus(m, mc, VI_VIRTUALBOX, val, line);
                else
                        other = true;
        }
        if (other)
                vi_note(m, line, "virtualbox customize");
}

static void ev_provider(struct vi_model *m, struct vi_machine *mc, json_object *ev, unsigned line)
{
        const char *prov = vi_str_field(ev, "provider"), *key = vi_str_field(ev, "key");
        json_object *v = vi_field(ev, "value");
        int p = provider_index(prov);

        if (!prov || !key)
                return;
        if (p < 0) {
                vi_note(m, line, "provider %s", prov);
                return;
        }
        if (!*key)
                return; /* the block itself */
        if (!strcmp(key, "memory"))
                set_memory(m, mc, p, v, line);
        else if (!strcmp(key, "cpus"))
                set_cpus(m, mc, p, v, line);
        else if (p == VI_VIRTUALBOX && !strcmp(key, "customize"))
                ev_customize(m, mc, v, line);
        else
                vi_note(m, line, "%s setting '%s'", prov, key);
}

static bool env_name_ok(const char *s)
{
        if (!*s || isdigit((unsigned char)*s))
                return false;
        for (; *s; s++)
                if (!isalnum((unsigned char)*s) && *s != '_')
                        return false;
        return true;
}

static int prov_env(struct vi_model *m, struct vi_prov *p, json_object *env, unsigned line)
{
        if (!json_object_is_type(env, json_type_object) ||
            json_object_object_length(env) > VI_MAX_ITEMS)
                return vi_note(m, line, "shell env is not a mapping of variables"), -1;
        p->env = vmenv_calloc((size_t)json_object_object_length(env) + 1, sizeof(*p->env));
        json_object_object_foreach(env, k, v)
        {
                char *val =
                    json_object_is_type(v, json_type_null) ? vmenv_strdup("") : vi_text_of(v);
                if (!env_name_ok(k) || !val) {
                        free(val);
                        vi_note(m, line, "shell env variable \"%s\"", k);
                        return -1;
                }
                p->env[p->n_env].name = vmenv_strdup(k);
                p->env[p->n_env++].value = val;
        }
        return 0;
}

/* Fills the shell or file parts; -1 (noted) when the provisioner cannot be
 * written at all. */
static int prov_fill(struct vi_model *m, struct vi_prov *p, const char *type, json_object *o,
                     unsigned line)
{
        static const char *const shell_known[] = {"inline", "path",       "args", "env",
                                                  "run",    "privileged", NULL};
        static const char *const file_known[] = {"source", "destination", "run", NULL};
        json_object *args = vi_field(o, "args"), *env = vi_field(o, "env");

        if (!strcmp(type, "file")) {
                p->file = true;
                p->source = vi_text_of(vi_field(o, "source"));
                p->destination = vi_text_of(vi_field(o, "destination"));
                if (!p->source || !*p->source || !p->destination || !*p->destination)
                        return vi_note(m, line, "file provisioner needs source and destination"),
                               -1;
                vi_note_other_options(m, line, "file provisioner", o, file_known);
                return 0;
        }
        p->inline_text = vi_text_of(vi_field(o, "inline"));
        p->path = vi_text_of(vi_field(o, "path"));
        if (!p->inline_text == !p->path)
                return vi_note(m, line, "shell provisioner needs one of inline and path"), -1;
        if (p->path && (strstr(p->path, "://") || !*p->path))
                return vi_note(m, line,
                               "shell provisioner path \"%s\" is not a file of the project",
                               p->path),
                       -1;
        if (args && !json_object_is_type(args, json_type_null)) {
                _cleanup_free_ char *words =
                    json_object_is_type(args, json_type_string) ? vi_text_of(args) : NULL;
                if (words)
                        p->args = vi_split_args(words);
                else if (!(p->args = vi_strv_of(args)))
                        return vi_note(m, line, "shell args is not a list of strings"), -1;
        }
        if (env && !json_object_is_type(env, json_type_null) && prov_env(m, p, env, line) < 0)
                return -1;
        p->privileged = vi_bool_of(vi_field(o, "privileged"));
        vi_note_other_options(m, line, "shell provisioner", o, shell_known);
        return 0;
}

static void ev_provision(struct vi_model *m, struct vi_machine *mc, json_object *ev, unsigned line)
{
        const char *type = vi_str_field(ev, "type"), *name = vi_str_field(ev, "name");
        const char *run;
        json_object *o = vi_field(ev, "options");
        struct vi_prov p = {.privileged = -1};

        if (!vmenv_streq(type, "shell") && !vmenv_streq(type, "file")) {
                vi_note(m, line, "provisioner %s", type ? type : "of an unknown type");
                return;
        }
        if (mc->n_provs >= VI_MAX_ITEMS) {
                vi_note(m, line, "too many provisioners");
                return;
        }
        run = vi_str_field(o, "run");
        if (run && strcmp(run, "once") && strcmp(run, "always") && strcmp(run, "never")) {
                vi_note(m, line, "provisioner run \"%s\": written as once", run);
                run = NULL;
        }
        mc->provs = vmenv_realloc(mc->provs, (mc->n_provs + 1) * sizeof(*mc->provs));
        mc->provs[mc->n_provs] = p;
        if (prov_fill(m, &mc->provs[mc->n_provs], type, o, line) < 0) {
                prov_clear(&mc->provs[mc->n_provs]);
                return;
        }
        if (name && *name && !vmenv_provisioner_name_valid(name))
                vi_note(m, line,
                        "the provisioner name holds ':', ',' or a control character: "
                        "written without a name");
        else if (name && *name)
                mc->provs[mc->n_provs].name = vi_text_of(vi_field(ev, "name"));
        mc->provs[mc->n_provs].run = vmenv_strdup(run);
        mc->n_provs++;
}

static void ev_define(struct vi_model *m, json_object *ev, unsigned line)
{
        static const char *const known[] = {"primary", "autostart", NULL};
        const char *name = vi_str_field(ev, "name");
        json_object *o = vi_field(ev, "options");
        struct vi_machine *mc;

        if (!name || !*name || strlen(name) > 256) {
                vi_note(m, line, "define needs a machine name");
                return;
        }
        if (!(mc = machine_add(m, name, line))) {
                vi_note(m, line, "too many machines (the limit is %d)", VMENV_CONFIG_MAX_MACHINES);
                return;
        }
        if (vi_bool_of(vi_field(o, "primary")) == 1)
                mc->primary = true;
        if (vi_bool_of(vi_field(o, "autostart")) == 0)
                vi_note(m, line,
                        "autostart: false ('vmenv up' starts every machine; name the "
                        "ones to start)");
        vi_note_other_options(m, line, "define", o, known);
}

/* ---- the record ---- */

static void note_unsupported(struct vi_model *m, json_object *ev, const char *kind, unsigned line)
{
        const char *what = vi_str_field(ev, "what");
        size_t before = m->n_notes;
        long end = 0;

        vi_note(m, line, "%s", what ? what : kind);
        if (m->n_notes > before &&
            vi_long_of(vi_field(ev, "end_line"), line, 10 * 1000 * 1000, &end))
                m->notes[m->n_notes - 1].end_line = (unsigned)end;
}

/* Drops the folders of MC that are USER's home or above it: vmenv.yaml
 * refuses them (mirroring would delete ~/.ssh/authorized_keys). */
static void drop_homes(struct vi_model *m, struct vi_machine *mc, const char *user)
{
        for (size_t i = 0; i < mc->n_folders;) {
                struct vi_folder *f = &mc->folders[i];
                const char *verb = f->disabled ? NULL : vmenv_guest_folder_home(f->guest, user);
                if (!verb) {
                        i++;
                        continue;
                }
                vi_note(m, f->line,
                        "synced_folder: the guest path %s the home folder of the SSH "
                        "user '%s'",
                        verb, user);
                free(f->host);
                free(f->guest);
                free(f->type);
                vmenv_strv_free(f->exclude);
                memmove(f, f + 1, (mc->n_folders - i - 1) * sizeof(*f));
                mc->n_folders--;
        }
}

static void drop_all_homes(struct vi_model *m)
{
        const char *top_user = m->top.ssh_user ? m->top.ssh_user : "vagrant";

        drop_homes(m, &m->top, top_user);
        for (size_t i = 0; i < m->n_machines; i++)
                drop_homes(m, &m->top,
                           m->machines[i].ssh_user ? m->machines[i].ssh_user : top_user);
        for (size_t i = 0; i < m->n_machines; i++)
                drop_homes(m, &m->machines[i],
                           m->machines[i].ssh_user ? m->machines[i].ssh_user : top_user);
}

void vi_model_build(struct vi_model *m, json_object *record)
{
        json_object *events = vi_field(record, "events"), *nu = vi_field(record, "not_understood");
        size_t n =
            json_object_is_type(events, json_type_array) ? json_object_array_length(events) : 0;

        for (size_t i = 0; i < n; i++) {
                json_object *ev = json_object_array_get_idx(events, i);
                const char *kind = vi_str_field(ev, "kind"), *scope = vi_str_field(ev, "scope");
                const char *override = vi_str_field(ev, "override");
                long l = 0;
                unsigned line;
                struct vi_machine *mc = &m->top;

                vi_long_of(vi_field(ev, "line"), 0, 10 * 1000 * 1000, &l);
                line = (unsigned)l;
                if (!kind)
                        continue;
                if (override && strcmp(override, "libvirt")) {
                        vi_note(m, line, "set only for the %s provider", override);
                        continue;
                }
                if (scope && !(mc = machine_by_vagrant_name(m, scope)))
                        continue; /* the define was refused and noted */
                if (!strcmp(kind, "set"))
                        ev_set(m, mc, ev, line);
                else if (!strcmp(kind, "define"))
                        ev_define(m, ev, line);
                else if (!strcmp(kind, "network"))
                        ev_network(m, mc, ev, line);
                else if (!strcmp(kind, "synced_folder"))
                        ev_folder(m, mc, ev, line);
                else if (!strcmp(kind, "provider"))
                        ev_provider(m, mc, ev, line);
                else if (!strcmp(kind, "provision"))
                        ev_provision(m, mc, ev, line);
                else
                        note_unsupported(m, ev, kind, line);
        }
        n = json_object_is_type(nu, json_type_array) ? json_object_array_length(nu) : 0;
        for (size_t i = 0; i < n; i++) {
                json_object *o = json_object_array_get_idx(nu, i);
                long a = 0, b = 0;
                struct vi_note *note;
                vi_long_of(vi_field(o, "line"), 0, 10 * 1000 * 1000, &a);
                vi_long_of(vi_field(o, "end_line"), 0, 10 * 1000 * 1000, &b);
                if (!note_room(m))
                        continue;
                note = &m->notes[m->n_notes++];
                note->line = (unsigned)a;
                note->end_line = (unsigned)(b > a ? b : a);
                note->reason = NULL;
        }
        drop_all_homes(m);
}
