/* vmenv import: writes the checked model of a Vagrantfile as vmenv.yaml.
 * Vagrant's inheritance differs from vmenv's (Vagrant appends a machine's
 * lists to the top-level ones, vmenv replaces them), so a machine with lists
 * of its own gets both, top first, as Vagrant runs them. Every string is
 * quoted or written as a literal block; the result is parsed back before it
 * is returned, so what import writes always passes 'vmenv validate'. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "json-cleanup.h"
#include "vagrant-internal.h"
#include "vagrant-model.h"
#include "vmenv/cleanup.h"
#include "vmenv/config.h"
#include "vmenv/log.h"
#include "vmenv/util.h"

#define MAX_SHOWN 120 /* characters of a Vagrantfile line quoted in a note */

static void indent(struct vmenv_buf *b, int n)
{
        for (int i = 0; i < n; i++)
                vmenv_buf_add(b, " ", 1);
}

/* A literal block keeps scripts readable; it holds any text of printable
 * characters, tabs and newlines that YAML reads back unchanged. */
static bool block_safe(const char *s)
{
        if (!strchr(s, '\n') || strspn(s, "\n") == strlen(s))
                return false; /* a block of empty lines reads back as "" */
        for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
                if ((*p < 0x20 && *p != '\n' && *p != '\t') || *p == 0x7f)
                        return false;
                if ((*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) ||
                    (*p == 0xe2 && p[1] == 0x80 && (p[2] == 0xa8 || p[2] == 0xa9)) ||
                    (*p == 0xef && p[1] == 0xbf && p[2] >= 0xbe))
                        return false; /* YAML line breaks and what it refuses unescaped */
        }
        return true;
}

/* The value of a key indented by key_indent: a literal block or a quoted
 * string. */
static void put_text(struct vmenv_buf *b, int key_indent, const char *s)
{
        size_t len = strlen(s), trailing = 0;
        bool indicator = false;
        const char *p, *nl;

        if (!block_safe(s)) {
                vmenv_buf_yaml_quote(b, s);
                return;
        }
        while (trailing < len && s[len - 1 - trailing] == '\n')
                trailing++;
        /* Leading blanks on the first line that is not empty (YAML guesses
         * the indentation from it), or lines of blanks only, defeat YAML's
         * guess of the indentation: say it. */
        bool first = true;
        for (p = s; *p; p = nl + 1) {
                size_t n = (nl = strchr(p, '\n')) ? (size_t)(nl - p) : strlen(p);
                if (first && n && (*p == ' ' || *p == '\t'))
                        indicator = true;
                first = first && !n;
                if (n && strspn(p, " \t") >= n)
                        indicator = true;
                if (!nl)
                        break;
        }
        vmenv_buf_puts(b, "|");
        if (indicator)
                vmenv_buf_puts(b, "2");
        vmenv_buf_puts(b, trailing == 0 ? "-" : trailing == 1 ? "" : "+");
        vmenv_buf_puts(b, "\n");
        for (p = s; *p;) {
                size_t n = (nl = strchr(p, '\n')) ? (size_t)(nl - p) : strlen(p);
                if (n) {
                        indent(b, key_indent + 2);
                        vmenv_buf_add(b, p, n);
                }
                vmenv_buf_puts(b, "\n");
                if (!nl)
                        break;
                p = nl + 1;
        }
        /* the caller ends every value with a newline: take ours back */
        b->len--;
        b->data[b->len] = '\0';
}

static void put_strv(struct vmenv_buf *b, char **v)
{
        vmenv_buf_puts(b, "[");
        for (size_t i = 0; v && v[i]; i++) {
                vmenv_buf_puts(b, i ? ", " : "");
                vmenv_buf_yaml_quote(b, v[i]);
        }
        vmenv_buf_puts(b, "]");
}

static void put_key_str(struct vmenv_buf *b, int ind, const char *key, const char *v)
{
        if (!v)
                return;
        indent(b, ind);
        vmenv_buf_printf(b, "%s: ", key);
        vmenv_buf_yaml_quote(b, v);
        vmenv_buf_puts(b, "\n");
}

/* ---- lists ---- */

static void put_forward(struct vmenv_buf *b, int ind, const struct vi_forward *f)
{
        indent(b, ind);
        vmenv_buf_printf(b, "- { guest: %ld, host: %ld", f->guest, f->host);
        if (f->host_ip) {
                vmenv_buf_puts(b, ", host_ip: ");
                vmenv_buf_yaml_quote(b, f->host_ip);
        }
        if (f->protocol)
                vmenv_buf_printf(b, ", protocol: %s", f->protocol);
        if (f->auto_correct >= 0)
                vmenv_buf_printf(b, ", auto_correct: %s", f->auto_correct ? "true" : "false");
        if (f->id) {
                vmenv_buf_puts(b, ", id: ");
                vmenv_buf_yaml_quote(b, f->id);
        }
        vmenv_buf_puts(b, " }\n");
}

static void put_folder(struct vmenv_buf *b, int ind, const struct vi_folder *f)
{
        indent(b, ind);
        vmenv_buf_puts(b, "- { host: ");
        vmenv_buf_yaml_quote(b, f->host);
        vmenv_buf_puts(b, ", guest: ");
        vmenv_buf_yaml_quote(b, f->guest);
        if (f->type)
                vmenv_buf_printf(b, ", type: %s", f->type);
        if (f->exclude) {
                vmenv_buf_puts(b, ", exclude: ");
                put_strv(b, f->exclude);
        }
        if (f->disabled)
                vmenv_buf_puts(b, ", disabled: true");
        vmenv_buf_puts(b, f->is_default ? " }  # Vagrant's default share\n" : " }\n");
}

static void put_prov(struct vmenv_buf *b, int ind, const struct vi_prov *p, const char *name)
{
        const char *dash = "- ";

        /* the first key follows the dash; the others line up under it */
#define KEY(k)                                                                                     \
        do {                                                                                       \
                indent(b, ind);                                                                    \
                vmenv_buf_printf(b, "%s%s: ", dash, k);                                            \
                dash = "  ";                                                                       \
        } while (0)
        if (name) {
                KEY("name");
                vmenv_buf_yaml_quote(b, name);
                vmenv_buf_puts(b, "\n");
        }
        if (p->file) {
                KEY("file");
                vmenv_buf_puts(b, "{ source: ");
                vmenv_buf_yaml_quote(b, p->source);
                vmenv_buf_puts(b, ", destination: ");
                vmenv_buf_yaml_quote(b, p->destination);
                vmenv_buf_puts(b, " }\n");
        } else if (p->inline_text) {
                KEY("shell");
                put_text(b, ind + 2, p->inline_text);
                vmenv_buf_puts(b, "\n");
        } else {
                KEY("script");
                vmenv_buf_yaml_quote(b, p->path);
                vmenv_buf_puts(b, "\n");
        }
        if (p->args) {
                KEY("args");
                put_strv(b, p->args);
                vmenv_buf_puts(b, "\n");
        }
        if (p->env) {
                KEY("env");
                vmenv_buf_puts(b, "{ ");
                for (size_t i = 0; i < p->n_env; i++) {
                        vmenv_buf_printf(b, "%s%s: ", i ? ", " : "", p->env[i].name);
                        vmenv_buf_yaml_quote(b, p->env[i].value);
                }
                vmenv_buf_puts(b, " }\n");
        }
        if (p->run) {
                KEY("run");
                vmenv_buf_printf(b, "%s\n", p->run);
        }
        if (p->privileged >= 0) {
                KEY("privileged");
                vmenv_buf_printf(b, "%s\n", p->privileged ? "true" : "false");
        }
#undef KEY
}

static bool in_strv(char **v, const char *s)
{
        for (size_t i = 0; v && v[i]; i++)
                if (!strcmp(v[i], s))
                        return true;
        return false;
}

/* The provisioners of one scope: top-level first, each name used once. */
static void put_provs(struct vmenv_buf *b, int ind, const struct vi_machine *top,
                      const struct vi_machine *own)
{
        const struct vi_machine *parts[2] = {top, own};
        char **used = NULL;

        indent(b, ind);
        vmenv_buf_puts(b, "provision:\n");
        for (int k = 0; k < 2; k++)
                for (size_t i = 0; parts[k] && i < parts[k]->n_provs; i++) {
                        const struct vi_prov *p = &parts[k]->provs[i];
                        char *name = NULL;
                        if (p->name) {
                                name = vmenv_strdup(p->name);
                                for (unsigned n = 2; in_strv(used, name); n++) {
                                        free(name);
                                        name = vmenv_strdupf("%s-%u", p->name, n);
                                }
                                vmenv_strv_push(&used, name);
                        }
                        put_prov(b, ind + 2, p, name);
                }
        vmenv_strv_free(used);
}

/* Folders of one scope: the top level's, each replaced by the machine's
 * folder with the same guest path, then the machine's others. */
static void put_folders(struct vmenv_buf *b, int ind, const struct vi_machine *top,
                        const struct vi_machine *own)
{
        indent(b, ind);
        vmenv_buf_puts(b, "synced_folders:\n");
        for (size_t i = 0; top && i < top->n_folders; i++) {
                const struct vi_folder *f = &top->folders[i];
                for (size_t j = 0; own && j < own->n_folders; j++)
                        if (!strcmp(own->folders[j].guest, f->guest))
                                f = &own->folders[j];
                put_folder(b, ind + 2, f);
        }
        for (size_t j = 0; own && j < own->n_folders; j++) {
                bool replaced = false;
                for (size_t i = 0; top && i < top->n_folders; i++)
                        replaced |= !strcmp(own->folders[j].guest, top->folders[i].guest);
                if (!replaced)
                        put_folder(b, ind + 2, &own->folders[j]);
        }
}

/* Host ports taken so far across the file, as "proto/ip/port". A later
 * forward of a taken port is noted, not written: vmenv refuses the file. */
static bool port_taken(struct vi_model *m, char ***taken, const struct vi_forward *f)
{
        const char *proto = f->protocol ? f->protocol : "tcp";
        const char *ip = f->host_ip ? f->host_ip : "127.0.0.1";
        bool wild = !strcmp(ip, "0.0.0.0") || !strcmp(ip, "::");

        for (size_t i = 0; *taken && (*taken)[i]; i++) {
                char *t = (*taken)[i], *slash = strchr(t, '/'), *last = strrchr(t, '/');
                bool same_ip = !strncmp(slash + 1, ip, (size_t)(last - slash - 1)) &&
                               strlen(ip) == (size_t)(last - slash - 1);
                bool t_wild = !strncmp(slash + 1, "0.0.0.0/", 8) || !strncmp(slash + 1, "::/", 3);
                if (!strncmp(t, proto, (size_t)(slash - t)) &&
                    strlen(proto) == (size_t)(slash - t) && atol(last + 1) == f->host &&
                    (same_ip || wild || t_wild)) {
                        vi_note(m, f->line, "host port %ld is already forwarded", f->host);
                        return true;
                }
        }
        vmenv_strv_push(taken, vmenv_strdupf("%s/%s/%ld", proto, ip, f->host));
        return false;
}

static void put_forwards(struct vmenv_buf *b, int ind, struct vi_model *m, char ***taken,
                         const struct vi_machine *top, const struct vi_machine *own)
{
        const struct vi_machine *parts[2] = {top, own};
        bool header = false;

        for (int k = 0; k < 2; k++)
                for (size_t i = 0; parts[k] && i < parts[k]->n_fwd; i++) {
                        if (port_taken(m, taken, &parts[k]->fwd[i]))
                                continue;
                        if (!header) {
                                indent(b, ind);
                                vmenv_buf_puts(b, "forwarded_ports:\n");
                                header = true;
                        }
                        put_forward(b, ind + 2, &parts[k]->fwd[i]);
                }
}

static void put_networks(struct vmenv_buf *b, int ind, const struct vi_machine *mc)
{
        char ip[INET_ADDRSTRLEN];

        if (!mc->n_nets_out)
                return;
        indent(b, ind);
        vmenv_buf_puts(b, "networks:\n");
        for (size_t i = 0; i < mc->n_nets_out; i++) {
                const struct vi_net_out *n = &mc->nets_out[i];
                struct in_addr in = {htonl(n->addr)};
                indent(b, ind + 2);
                vmenv_buf_puts(b, "- { type: private");
                if (n->addr)
                        vmenv_buf_printf(b, ", ip: %s", inet_ntop(AF_INET, &in, ip, sizeof(ip)));
                if (n->addr && n->prefix != 24) {
                        in.s_addr = htonl(n->prefix ? 0xffffffffu << (32 - n->prefix) : 0);
                        vmenv_buf_printf(b, ", netmask: %s",
                                         inet_ntop(AF_INET, &in, ip, sizeof(ip)));
                }
                if (n->name) {
                        vmenv_buf_puts(b, ", name: ");
                        vmenv_buf_yaml_quote(b, n->name);
                }
                vmenv_buf_puts(b, " }\n");
        }
}

/* ---- one scope ---- */

/* libvirt's memory and cpus win over VirtualBox's; a different VirtualBox
 * value is noted. */
static long pick(struct vi_model *m, const long *v, const unsigned *lines, const char *what)
{
        if (v[VI_LIBVIRT] && v[VI_VIRTUALBOX] && v[VI_LIBVIRT] != v[VI_VIRTUALBOX])
                vi_note(m, lines[VI_VIRTUALBOX],
                        "virtualbox %s %ld: the libvirt provider's %ld is used", what,
                        v[VI_VIRTUALBOX], v[VI_LIBVIRT]);
        return v[VI_LIBVIRT] ? v[VI_LIBVIRT] : v[VI_VIRTUALBOX];
}

static void put_scalars(struct vmenv_buf *b, int ind, struct vi_model *m,
                        const struct vi_machine *mc)
{
        long cpus = pick(m, mc->cpus, mc->cpus_line, "cpus");
        long memory = pick(m, mc->memory, mc->memory_line, "memory");

        if (mc->primary) {
                indent(b, ind);
                vmenv_buf_puts(b, "primary: true\n");
        }
        put_key_str(b, ind, "box", mc->box);
        put_key_str(b, ind, "box_version", mc->box_version);
        put_key_str(b, ind, "box_url", mc->box_url);
        put_key_str(b, ind, "hostname", mc->hostname);
        if (cpus) {
                indent(b, ind);
                vmenv_buf_printf(b, "cpus: %ld\n", cpus);
        }
        if (memory) {
                indent(b, ind);
                vmenv_buf_printf(b, "memory: %ldM\n", memory);
        }
        if (mc->boot_timeout) {
                indent(b, ind);
                vmenv_buf_printf(b, "boot_timeout: %ld\n", mc->boot_timeout);
        }
        if (mc->ssh_user) {
                indent(b, ind);
                vmenv_buf_puts(b, "ssh:\n");
                put_key_str(b, ind + 2, "user", mc->ssh_user);
        }
}

/* ---- the whole file ---- */

static void add_default_folder(struct vi_machine *top)
{
        for (size_t i = 0; i < top->n_folders; i++)
                if (!strcmp(top->folders[i].guest, "/vagrant"))
                        return;
        top->folders = vmenv_realloc(top->folders, (top->n_folders + 1) * sizeof(*top->folders));
        memmove(top->folders + 1, top->folders, top->n_folders * sizeof(*top->folders));
        memset(top->folders, 0, sizeof(*top->folders));
        top->folders[0].host = vmenv_strdup(".");
        top->folders[0].guest = vmenv_strdup("/vagrant");
        top->folders[0].is_default = true;
        top->n_folders++;
}

static int check_boxes(const struct vi_model *m, const char *source, vmenv_error *err)
{
        const char *missing = NULL;
        size_t skipped = 0;

        if (!m->n_machines && !m->top.box)
                missing = "";
        for (size_t i = 0; i < m->n_machines && !missing; i++)
                if (!m->top.box && !m->machines[i].box)
                        missing = m->machines[i].vagrant_name;
        if (!missing)
                return 0;
        for (size_t i = 0; i < m->n_notes; i++)
                skipped += !m->notes[i].reason;
        if (*missing)
                vmenv_error_set(err, VMENV_EXIT_DATA, "'%s' sets no box for machine '%s'", source,
                                missing);
        else
                vmenv_error_set(err, VMENV_EXIT_DATA, "'%s' sets no box (config.vm.box)", source);
        if (skipped)
                vmenv_error_hint(err,
                                 "the literal parser did not understand %zu part%s of it; "
                                 "'vmenv import --ruby' evaluates the file (it runs it)",
                                 skipped, skipped == 1 ? "" : "s");
        return -1;
}

static int note_cmp(const void *a, const void *b)
{
        const struct vi_note *x = a, *y = b;
        if (x->line != y->line)
                return x->line < y->line ? -1 : 1;
        if (!x->reason || !y->reason)
                return (x->reason == NULL) - (y->reason == NULL);
        return strcmp(x->reason, y->reason);
}

/* Up to MAX_SHOWN characters of s (len bytes) in a YAML comment: what YAML
 * would read as a line break or refuse becomes '?'. */
static void put_comment_n(struct vmenv_buf *b, const char *s, size_t len)
{
        const unsigned char *p = (const unsigned char *)s, *end = p + len;
        size_t shown = 0;

        for (size_t n; p < end && shown < MAX_SHOWN; p += n, shown++) {
                unsigned cp;
                n = vi_utf8_char(p, &cp);
                if (!n || p + n > end || cp < 0x20 || (cp >= 0x7f && cp < 0xa0) || cp == 0x2028 ||
                    cp == 0x2029 || cp == 0xfeff || cp == 0xfffe || cp == 0xffff) {
                        vmenv_buf_add(b, "?", 1);
                        n = n ? n : 1;
                } else {
                        vmenv_buf_add(b, p, n);
                }
        }
        if (p < end)
                vmenv_buf_puts(b, " ...");
}

static void put_comment_text(struct vmenv_buf *b, const char *s)
{
        put_comment_n(b, s, strlen(s));
}

/* Line n of text, without its indentation, in a comment. */
static void put_source_line(struct vmenv_buf *b, const char *text, unsigned n)
{
        const char *p = text;
        size_t len;

        for (unsigned i = 1; i < n && p; i++)
                if ((p = strchr(p, '\n')))
                        p++;
        if (!p || !n)
                return;
        p += strspn(p, " \t");
        len = strcspn(p, "\n");
        while (len && (p[len - 1] == ' ' || p[len - 1] == '\t' || p[len - 1] == '\r'))
                len--;
        put_comment_n(b, p, len);
}

static void put_header(struct vmenv_buf *b, struct vi_model *m, const char *text,
                       const char *source, const char *how, size_t *n_unsup, size_t *n_nu)
{
        bool any[2] = {false, false};

        vmenv_buf_puts(b, "# vmenv.yaml made by 'vmenv import' from ");
        put_comment_text(b, source);
        vmenv_buf_puts(b, " (");
        put_comment_text(b, how);
        vmenv_buf_puts(b, ").\n# Check it with 'vmenv validate'; see vmenv.yaml(5).\n");
        if (m->n_notes)
                qsort(m->notes, m->n_notes, sizeof(*m->notes), note_cmp);
        for (int pass = 0; pass < 2; pass++)
                for (size_t i = 0; i < m->n_notes; i++) {
                        const struct vi_note *n = &m->notes[i];
                        bool same_line = i && m->notes[i - 1].line == n->line &&
                                         (pass == 0) == (m->notes[i - 1].reason != NULL);
                        if ((pass == 0) != (n->reason != NULL))
                                continue;
                        if (same_line && vmenv_streq(m->notes[i - 1].reason, n->reason))
                                continue;
                        if (!any[pass]) {
                                vmenv_buf_puts(b, pass == 0 ? "#\n# Not imported as written "
                                                              "(Vagrantfile line, then why):\n"
                                                            : "#\n# Not understood by the literal "
                                                              "parser, not imported ('vmenv import "
                                                              "--ruby' runs the file):\n");
                                any[pass] = true;
                        }
                        if (pass == 0)
                                (*n_unsup)++;
                        else
                                (*n_nu)++;
                        if (!same_line) {
                                if (n->end_line > n->line)
                                        vmenv_buf_printf(b, "#   lines %u-%u", n->line,
                                                         n->end_line);
                                else
                                        vmenv_buf_printf(b, "#   line %u", n->line);
                                vmenv_buf_puts(b, ": ");
                                put_source_line(b, text, n->line);
                                vmenv_buf_puts(b, "\n");
                        }
                        if (n->reason) {
                                vmenv_buf_puts(b, "#       ");
                                put_comment_text(b, n->reason);
                                vmenv_buf_puts(b, "\n");
                        }
                }
        if (m->n_unlisted) {
                vmenv_buf_printf(b, "#\n# And %zu more, not listed (the limit is %d).\n",
                                 m->n_unlisted, VI_MAX_NOTES);
                *n_unsup += m->n_unlisted;
        }
}

static void one_primary(struct vi_model *m)
{
        bool seen = false;

        for (size_t i = 0; i < m->n_machines; i++) {
                if (m->machines[i].primary && seen) {
                        vi_note(m, m->machines[i].line,
                                "primary: vmenv allows one primary machine, the first is kept");
                        m->machines[i].primary = false;
                }
                seen |= m->machines[i].primary;
        }
}

/* The body: settings at the top, then machines with what is their own. */
static void put_body(struct vmenv_buf *b, struct vi_model *m)
{
        char **taken = NULL;
        struct vi_machine *top = &m->top;

        put_scalars(b, 0, m, top);
        if (m->n_machines > 1)
                for (size_t i = 0; i < top->n_fwd; i++)
                        vi_note(m, top->fwd[i].line,
                                "a forward for every machine: vmenv needs each host port once; "
                                "forward it in one machine's define block");
        else if (!m->n_machines)
                put_forwards(b, 0, m, &taken, top, NULL);
        vi_nets_resolve(m);
        put_networks(b, 0, top);
        if (top->n_folders)
                put_folders(b, 0, top, NULL);
        if (top->n_provs)
                put_provs(b, 0, top, NULL);
        if (m->n_machines)
                vmenv_buf_puts(b, "machines:\n");
        for (size_t i = 0; i < m->n_machines; i++) {
                struct vi_machine *mc = &m->machines[i];
                size_t mark;
                vmenv_buf_printf(b, "  %s:\n", mc->name);
                mark = b->len;
                put_scalars(b, 4, m, mc);
                put_forwards(b, 4, m, &taken, m->n_machines == 1 ? top : NULL, mc);
                put_networks(b, 4, mc);
                if (mc->n_folders)
                        put_folders(b, 4, top, mc);
                if (mc->n_provs)
                        put_provs(b, 4, top, mc);
                if (b->len == mark) { /* nothing of its own */
                        b->len -= 2;
                        vmenv_buf_puts(b, ": {}\n");
                }
        }
        vmenv_strv_free(taken);
}

char *vmenv_vagrant_record_to_yaml(json_object *record, const char *text, const char *source,
                                   const char *how, size_t *n_unsupported, size_t *n_not_understood,
                                   vmenv_error *err)
{
        struct vi_model m = {0};
        struct vmenv_buf body = {0}, out = {0};
        size_t n_unsup = 0, n_nu = 0;
        struct vmenv_config *check;

        vi_model_build(&m, record);
        if (check_boxes(&m, source, err) < 0) {
                vi_model_clear(&m);
                return NULL;
        }
        add_default_folder(&m.top);
        one_primary(&m);
        put_body(&body, &m); /* first: it adds notes */
        put_header(&out, &m, text, source, how, &n_unsup, &n_nu);
        vmenv_buf_puts(&out, "\n");
        vmenv_buf_add(&out, body.data, body.len);
        vmenv_buf_free(&body);
        vi_model_clear(&m);
        if (!(check = vmenv_config_parse(out.data, out.len, "vmenv.yaml", err))) {
                vmenv_debug("import: the text that does not validate:\n%s", out.data);
                vmenv_buf_free(&out);
                err->code = VMENV_EXIT_SOFTWARE;
                return vmenv_error_prefix(err, "the vmenv.yaml made from '%s' does not validate",
                                          source),
                       NULL;
        }
        vmenv_config_free(check);
        if (n_unsupported)
                *n_unsupported = n_unsup;
        if (n_not_understood)
                *n_not_understood = n_nu;
        return vmenv_buf_steal(&out);
}
