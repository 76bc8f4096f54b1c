/* Shared between the vmenv.yaml walker (config.c) and the rules of each key
 * (config-rules.c); nothing outside the config module includes this. */
#ifndef VMENV_CONFIG_PRIVATE_H
#define VMENV_CONFIG_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmenv/cleanup.h"
#include "vmenv/config.h"
#include "vmenv/error.h"

#define MAX_LIST 1024 /* args, exclude, env */

enum ytype { Y_SCALAR, Y_MAP, Y_SEQ };

struct ynode {
        enum ytype type;
        char *s; /* scalar text */
        size_t len;
        bool plain; /* unquoted scalar: may be null/bool/int */
        unsigned line, col;
        struct ynode **kids; /* map: key, value, key, value ... */
        size_t n, cap;
};

struct pctx {
        const char *path; /* for messages */
        vmenv_error *err;
        size_t nodes;
};

/* Where the machine's forwarded_ports came from, for duplicate errors. */
struct mstate {
        char *fwd_prefix;
        char *net_prefix; /* where the machine's networks came from */
};

/* The YAML of TEXT as a tree (config-yaml.c); -1 with the error at file:line. */
int vmenv_cfg_yaml_tree(struct pctx *p, const char *text, size_t len, struct ynode **out);
void vmenv_cfg_tree_free(struct ynode *n);
VMENV_DEFINE_CLEANUP(struct ynode, vmenv_cfg_tree_free)

/* "PATH:LINE:COL: what" and "PATH:LINE:COL: KEY.PATH: what"; both return -1. */
__attribute__((format(printf, 4, 5))) int vmenv_cfg_fail_at(struct pctx *p, unsigned line,
                                                            unsigned col, const char *fmt, ...);
__attribute__((format(printf, 4, 5))) int vmenv_cfg_fail(struct pctx *p, const struct ynode *n,
                                                         const char *key, const char *fmt, ...);

bool vmenv_cfg_is_null(const struct ynode *n);
const char *vmenv_cfg_type_name(const struct ynode *n);
char *vmenv_cfg_key_path(const char *prefix, const char *key);
int vmenv_cfg_need(struct pctx *p, const struct ynode *n, enum ytype t, const char *key);
int vmenv_cfg_unknown_key(struct pctx *p, const struct ynode *k, const char *path,
                          const char *const *keys);

/* Typed readers: each replaces *out only on success. */
int vmenv_cfg_get_str(struct pctx *p, const struct ynode *n, const char *key, char **out);
int vmenv_cfg_get_enum(struct pctx *p, const struct ynode *n, const char *key,
                       const char *const *set, char **out);
int vmenv_cfg_get_bool(struct pctx *p, const struct ynode *n, const char *key, bool *out);
int vmenv_cfg_get_int(struct pctx *p, const struct ynode *n, const char *key, long min, long max,
                      const char *what, int *out);
int vmenv_cfg_get_size(struct pctx *p, const struct ynode *n, const char *key, uint64_t min,
                       uint64_t max, uint64_t *out);
int vmenv_cfg_get_strv(struct pctx *p, const struct ynode *n, const char *key, char ***out);

typedef int vmenv_cfg_one_fn(struct pctx *p, const struct ynode *n, const char *path, size_t i,
                             void *out);
/* A list of at most max maps, each read by one into the next of elem bytes. */
int vmenv_cfg_parse_list(struct pctx *p, const struct ynode *n, const char *path, size_t max,
                         size_t elem, void **out, size_t *count, vmenv_cfg_one_fn *one);

/* networks: (config-networks.c) */
int vmenv_cfg_parse_privnets(struct pctx *p, const struct ynode *n, const char *path,
                             struct vmenv_machine_config *m);
void vmenv_cfg_privnets_free(struct vmenv_machine_config *m);
/* Across machines: one subnet per network, no address twice, none the
 * host's; fills c->networks. */
int vmenv_cfg_check_networks(struct pctx *p, struct vmenv_config *c, struct mstate *st);
/* vmenv_config_place_networks with this host's addresses (getifaddrs); the
 * file's choice stands when they cannot be read. */
void vmenv_config_place_networks_here(struct vmenv_config *c);

/* cloud_init: (config-cloud.c): "minimal" or {user_data: FILE, minimal: BOOL}. */
int vmenv_cfg_parse_cloud_init(struct pctx *p, const struct ynode *n, const char *path,
                               struct vmenv_cloud_init_config *out);
/* Whether box: (or box_url:) names a cloud image by an alias vmenv knows
 * (an image URL or path is one when cloud_init: says so). */
bool vmenv_cfg_box_is_cloud(const char *box);

/* One machine: defaults, then the top level's keys, then its own (own may be
 * NULL for the single-machine form). */
int vmenv_cfg_build_machine(struct pctx *p, const struct ynode *top, const char *name,
                            const struct ynode *name_node, const struct ynode *own,
                            struct vmenv_machine_config *m, struct mstate *st);

#endif

/* config-model.c */
bool vmenv_cfg_env_name_valid(const char *s);
bool vmenv_cfg_checksum_valid(const char *s);
void vmenv_cfg_forwards_free(struct vmenv_machine_config *m);
void vmenv_cfg_folders_free(struct vmenv_machine_config *m);
void vmenv_cfg_provs_free(struct vmenv_machine_config *m);
