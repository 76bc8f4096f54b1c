/* Internal to the lock module: lock.c (the model, reading and writing),
 * lock-resolve.c (a machine's box to one exact version, URL and digest) and
 * lock-check.c (holding 'up' to the lock, updating and reporting it). */
#pragma once

#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "vmenv/box.h"
#include "vmenv/cleanup.h"
#include "vmenv/config.h"
#include "vmenv/lock.h"
#include "vmenv/util.h"

#define LOCK_HINT "run 'vmenv lock' and commit vmenv.lock"

/* Local copies of config.h's lookups, so the lock module (and its fuzz
 * target) does not pull in the YAML parser. */
static inline const struct vmenv_machine_config *
vmenv_lock_config_machine(const struct vmenv_config *c, const char *name)
{
        for (size_t i = 0; c && i < c->n_machines; i++)
                if (!strcmp(c->machines[i].name, name))
                        return &c->machines[i];
        return NULL;
}

static inline int vmenv_lock_cmp_entries(const void *a, const void *b)
{
        return strcmp(((const struct vmenv_lock_entry *)a)->machine,
                      ((const struct vmenv_lock_entry *)b)->machine);
}

/* Normalises "TYPE:HEX" (lowercase) or fails; the error says why. */
static inline char *vmenv_lock_checksum_norm(const char *s, vmenv_error *err)
{
        _cleanup_free_ char *type = NULL, *hex = NULL;
        if (vmenv_checksum_parse(s, &type, &hex, err) < 0)
                return NULL;
        return vmenv_strdupf("%s:%s", type, hex);
}

static inline bool vmenv_lock_checksum_eq(const char *a, const char *b)
{
        return a && b && strcasecmp(a, b) == 0;
}

static inline const char *vmenv_lock_norm_arch(const char *a)
{
        if (!a)
                return NULL;
        if (!strcmp(a, "x86_64"))
                return "amd64";
        if (!strcmp(a, "aarch64"))
                return "arm64";
        return a;
}

enum vmenv_lock_src { VMENV_LOCK_SRC_NAME, VMENV_LOCK_SRC_CATALOG, VMENV_LOCK_SRC_BOX };

/* A path as written in vmenv.yaml, made absolute against the project. */
char *vmenv_lock_project_path(const char *dir, const char *p);
/* The same decision the box store makes (box-add.c: classify), so the lock
 * resolves a box the way 'up' would fetch it. */
enum vmenv_lock_src vmenv_lock_classify(const char *dir, const char *src, bool from_box);
enum vmenv_lock_src vmenv_lock_machine_kind(const char *dir, const struct vmenv_machine_config *m,
                                            const char **src);
