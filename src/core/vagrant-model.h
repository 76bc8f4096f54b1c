/* vmenv import: what a Vagrantfile's record says, per machine, after every
 * value was checked (vagrant-model.c), ready to be written as YAML
 * (vagrant-yaml.c). Values vmenv cannot take become notes, never dropped. */
#ifndef VMENV_VAGRANT_MODEL_H
#define VMENV_VAGRANT_MODEL_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { VI_LIBVIRT, VI_VIRTUALBOX, VI_N_PROVIDERS };

struct vi_note {
        unsigned line, end_line; /* end_line > line for a range */
        char *reason;            /* NULL: the line was not understood */
};

struct vi_forward {
        long guest, host;
        char *host_ip, *protocol, *id;
        int auto_correct; /* -1 unset */
        unsigned line;
};

struct vi_folder {
        char *host, *guest, *type;
        char **exclude;
        bool disabled;
        bool is_default; /* Vagrant's own . → /vagrant */
        unsigned line;
};

/* A private_network as the Vagrantfile says it. */
struct vi_net {
        uint32_t addr; /* IPv4, host byte order; 0: vmenv chooses (type: dhcp) */
        int prefix;    /* 24 unless netmask said */
        char *name;    /* libvirt__network_name or virtualbox__intnet; NULL: by subnet */
        char *id;      /* Vagrant's id: a later entry with the same one replaces it */
        unsigned line;
};

/* A private network entry as vmenv.yaml gets it (vagrant-network.c). */
struct vi_net_out {
        uint32_t addr;    /* 0: vmenv chooses */
        int prefix;       /* written when not 24 */
        const char *name; /* NULL: vmenv's default, "private" */
        unsigned line;
};

struct vi_env {
        char *name, *value;
};

struct vi_prov {
        char *name;
        bool file;
        char *inline_text, *path, *source, *destination, *run;
        char **args;
        struct vi_env *env;
        size_t n_env;
        int privileged; /* -1 unset */
};

struct vi_machine {
        char *name;         /* vmenv's name; NULL for the top level */
        char *vagrant_name; /* as the Vagrantfile wrote it */
        unsigned line;
        bool primary;
        char *box, *box_version, *box_url, *hostname, *ssh_user;
        long boot_timeout;                                 /* 0 unset */
        long memory[VI_N_PROVIDERS], cpus[VI_N_PROVIDERS]; /* 0 unset; memory in MiB */
        unsigned memory_line[VI_N_PROVIDERS], cpus_line[VI_N_PROVIDERS];
        struct vi_forward *fwd;
        size_t n_fwd;
        struct vi_folder *folders;
        size_t n_folders;
        struct vi_prov *provs;
        size_t n_provs;
        struct vi_net *nets;
        size_t n_nets;
        struct vi_net_out *nets_out; /* vi_nets_resolve() */
        size_t n_nets_out;
};

struct vi_model {
        struct vi_machine top;
        struct vi_machine *machines;
        size_t n_machines;
        struct vi_note *notes;
        size_t n_notes, cap_notes;
        size_t n_unlisted; /* notes past VI_MAX_NOTES, counted, not kept */
        char **net_names;  /* the names nets_out point to */
};

#define VI_MAX_NOTES 4096

/* Builds the model from a record's events; never fails: what it cannot take
 * becomes a note. */
void vi_model_build(struct vi_model *m, json_object *record);
void vi_model_clear(struct vi_model *m);
/* The length of the valid UTF-8 character at s (its code point in *cp), or
 * 0 if the bytes there are not one. */
size_t vi_utf8_char(const unsigned char *s, unsigned *cp);

/* private_network (vagrant-network.c): one entry of a machine (or of the
 * top level), and, once every event is read, the entries each scope of the
 * output gets: networks named and checked as vmenv.yaml's rules want them
 * (what does not fit is noted). */
void vi_ev_private_network(struct vi_model *m, struct vi_machine *mc, json_object *opts,
                           unsigned line);
void vi_nets_resolve(struct vi_model *m);
void vi_nets_clear(struct vi_machine *mc);

/* Reading the record's values (vagrant-values.c); NULL, -1 or false when
 * the value is not of that kind or out of bounds. */
#define VI_MAX_ITEMS 256
json_object *vi_field(json_object *o, const char *key);
char *vi_text_of(json_object *v);
const char *vi_str_field(json_object *o, const char *key);
bool vi_long_of(json_object *v, long min, long max, long *out);
int vi_bool_of(json_object *v);
char **vi_strv_of(json_object *v);
char **vi_split_args(const char *s);
/* Options of opts not in known are noted, one note per key ("WHAT option
 * 'KEY'"). */
void vi_note_other_options(struct vi_model *m, unsigned line, const char *what, json_object *opts,
                           const char *const *known);
void vi_note(struct vi_model *m, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
