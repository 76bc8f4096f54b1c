/* Cloud images configured by cloud-init: the NoCloud seed of a machine
 * (cloud-seed.c, with the user-data document built in config-cloud.c, where
 * libyaml lives), the seed as an ISO 9660 volume (cloud-iso.c, the only file
 * that includes libisofs), and images named by a distribution alias resolved
 * through the distribution's checksum index (cloud-image.c). See
 * docs/cloud-images.md. */
#ifndef VMENV_CLOUD_H
#define VMENV_CLOUD_H

#include <stdbool.h>
#include <stddef.h>

#include "vmenv/error.h"

struct vmenv_fetch_opts;

/* ---- the NoCloud seed (cloud-seed.c, config-cloud.c) ------------------ */

/* The largest user-data file a project may give. */
#define VMENV_CLOUD_USER_DATA_MAX (1u << 20)

struct vmenv_cloud_seed_in {
        const char *instance_id; /* vmenv_cloud_instance_id_new(), kept per machine */
        const char *hostname;
        const char *user;       /* the account vmenv logs in as (ssh.user, default "vmenv") */
        const char *public_key; /* the machine's own "ssh-ed25519 AAAA... comment" */
        const char *mac;        /* of the first NIC, "52:54:00:xx:xx:xx" */
        /* The project's `cloud_init: { user_data: FILE }` content, or NULL;
         * user_data_name names it in messages. */
        const char *user_data;
        size_t user_data_len;
        const char *user_data_name;
        /* `cloud_init: minimal`: only the user and its key, nothing else of
         * vmenv's (no hostname, growpart, resize). */
        bool minimal;
};

struct vmenv_cloud_seed {
        char *meta_data;
        char *user_data;
        char *network_config;
};

/* Builds the three files. A user's #cloud-config is merged (their keys
 * first, in their order, vmenv's after; their `users:` list keeps its entries
 * and gets vmenv's user appended; a key they set is not set again); a "#!"
 * script is kept byte for byte and joined with vmenv's #cloud-config as a MIME
 * multipart message. Anything else is VMENV_EXIT_CONFIG. */
int vmenv_cloud_seed_make(const struct vmenv_cloud_seed_in *in, struct vmenv_cloud_seed *out,
                          vmenv_error *err);
void vmenv_cloud_seed_clear(struct vmenv_cloud_seed *s);
/* "sha256:HEX" over the three files: the seed is made again when it changes. */
char *vmenv_cloud_seed_digest(const struct vmenv_cloud_seed *s);
/* A fresh "vmenv-<16 hex>" instance id (a new one only when a machine is
 * created: cloud-init runs its per-instance steps again when it changes). */
char *vmenv_cloud_instance_id_new(void);

/* The #cloud-config user-data alone (config-cloud.c): vmenv's part merged
 * into the user's #cloud-config text (NULL: vmenv's part only). */
char *vmenv_cloud_config_merge(const struct vmenv_cloud_seed_in *in, const char *user_yaml,
                               size_t len, vmenv_error *err);

/* ---- the seed volume (cloud-iso.c) ------------------------------------ */

/* Writes the seed as an ISO 9660 volume labelled "cidata" with Joliet and
 * Rock Ridge (what cloud-init's NoCloud source looks for), atomically. */
int vmenv_cloud_iso_write(const struct vmenv_cloud_seed *s, const char *path, vmenv_error *err);

/* ---- images by alias (cloud-image.c) ---------------------------------- */

/* A distribution's checksum index: sha256sum/sha512sum output ("HEX  NAME",
 * "HEX *NAME": Debian's SHA512SUMS, Ubuntu's SHA256SUMS) or BSD style
 * ("SHA256 (NAME) = HEX": Fedora's CHECKSUM, clear-signed; the signature is
 * skipped). Outside input: limits below, and names are plain file names. */
#define VMENV_SUMS_MAX_BYTES (4u << 20)
#define VMENV_SUMS_MAX_LINE 4096
#define VMENV_SUMS_MAX_ENTRIES 10000

struct vmenv_sums_entry {
        char *name;
        char *checksum; /* "TYPE:HEX", HEX lowercase */
};
struct vmenv_sums {
        struct vmenv_sums_entry *entries;
        size_t n;
};
/* source names the index in messages ("URL:LINE: what"); VMENV_EXIT_DATA
 * for anything that is not a checksum line, comment or blank. */
int vmenv_sums_parse(const char *text, size_t len, const char *source, struct vmenv_sums *out,
                     vmenv_error *err);
const char *vmenv_sums_find(const struct vmenv_sums *s, const char *name);
void vmenv_sums_clear(struct vmenv_sums *s);

/* An image named by alias ("debian/12"), resolved for an architecture. */
struct vmenv_cloud_image {
        char *name;     /* the alias: the box store's name */
        char *url;      /* the image */
        char *sums_url; /* the index that gives its digest */
        char *file;     /* the image's name in the index */
        char *checksum; /* "TYPE:HEX" from the index; NULL before _pick */
        char *version;  /* the release's (fedora/41: "41.1.4"), or NULL: the store dates it */
};
void vmenv_cloud_image_clear(struct vmenv_cloud_image *im);
/* Whether box: names an alias vmenv knows. */
bool vmenv_cloud_alias_known(const char *name);
/* URLs only, no I/O: the mirror is $VMENV_IMAGE_MIRROR_DEBIAN (_UBUNTU,
 * _FEDORA) or the distribution's own; arch NULL = this host. */
int vmenv_cloud_image_locate(const char *alias, const char *arch, struct vmenv_cloud_image *out,
                             vmenv_error *err);
/* Takes the image's digest from the index text (VMENV_EXIT_DATA when the
 * index does not list it). */
int vmenv_cloud_image_pick(struct vmenv_cloud_image *im, const char *sums_text, size_t len,
                           vmenv_error *err);
/* The version to store it as: the release's, else the UTC date and time
 * now ("20261206.013000"), so a newer build of a "latest" folder sorts
 * after the one stored before. */
char *vmenv_cloud_image_version(const struct vmenv_cloud_image *im);
/* _locate, fetch the index, _pick. */
int vmenv_cloud_image_resolve(const char *alias, const char *arch,
                              const struct vmenv_fetch_opts *opts, struct vmenv_cloud_image *out,
                              vmenv_error *err);

#endif
