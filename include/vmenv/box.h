/* Boxes: version constraints, catalogs, verified resumable downloads, safe
 * extraction and the per-user box store. No curl or libarchive types here:
 * src/core/box-fetch.c is the only file that includes curl, box-archive.c
 * the only one that includes libarchive. */
#ifndef VMENV_BOX_H
#define VMENV_BOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmenv/error.h"
#include "vmenv/cleanup.h"

/* ---- versions and constraints (version.c) ----------------------------- */

/* Versions and constraints follow RubyGems (Gem::Version, Gem::Requirement),
 * as Vagrant does: "1.2.3", "20240101", pre-releases "3.0.rc2", "1.8.2.a10"
 * or "1.0.0-beta.2" (any letter makes one; it sorts before its release);
 * "1.0" == "1.0.0"; letters sort before numbers ("1.0.0-alpha" <
 * "1.0.0-1"). vmenv_version_valid() is RubyGems' check, but a version vmenv
 * names things after must not be blank nor have whitespace around it. */
bool vmenv_version_valid(const char *v);
/* <0, 0, >0 like strcmp; invalid versions sort before valid ones. */
int vmenv_version_compare(const char *a, const char *b);

struct vmenv_constraint;
/* Vagrant's box_version: comma-separated Gem::Requirements ("= 1.0",
 * ">= 1.2, < 2", "~> 1.2.3", a bare "1.0" meaning "= 1.0"), all of which must
 * hold; NULL or "" match everything. "~> 1.2" is ">= 1.2" with a release
 * below 2. Fails with VMENV_EXIT_DATA on a malformed constraint. */
struct vmenv_constraint *vmenv_constraint_parse(const char *text, vmenv_error *err);
bool vmenv_constraint_match(const struct vmenv_constraint *c, const char *version);
/* The version when the constraint is one exact "= V" (or a bare "V"), else NULL. */
const char *vmenv_constraint_exact(const struct vmenv_constraint *c);
void vmenv_constraint_free(struct vmenv_constraint *c);
VMENV_DEFINE_CLEANUP(struct vmenv_constraint, vmenv_constraint_free)

/* ---- downloads (box-fetch.c) ------------------------------------------ */

enum vmenv_fetch_event {
        VMENV_FETCH_GROWING,   /* the file now holds size bytes */
        VMENV_FETCH_RESTARTED, /* the file was truncated: earlier bytes are void */
};

struct vmenv_fetch_opts {
        bool insecure;         /* do not verify TLS peers */
        const char *cacert;    /* CA bundle file, or NULL */
        const char *capath;    /* folder of CA certificates, or NULL */
        const char *cert;      /* client certificate (PEM), or NULL */
        bool location_trusted; /* credentials also go to redirect targets */
        bool clean;            /* drop a partial download instead of resuming it */
        const char *bearer;    /* a token for the URL's host (never sent to another) */
        bool quiet;            /* no progress output */
        /* Optional: called as the download file grows, so a consumer can
         * read it while it is written (box add extracts while downloading).
         * path is the file being written; it is renamed when complete. */
        /* Returns false to stop the download at once (the consumer failed:
         * the rest would be fetched for nothing). */
        bool (*on_data)(void *data, const char *path, uint64_t size, enum vmenv_fetch_event ev);
        void *on_data_arg;
        /* Optional, with on_data: a consumer that reads the whole file in
         * order anyway hashes it too, which takes the digest off the
         * download thread. Used only for a download that starts from zero;
         * called once the file is complete at size bytes (not called after
         * VMENV_FETCH_RESTARTED). Returns the lowercase hex digest (type as
         * in "TYPE:HEX") of exactly those bytes, malloc'd, or NULL when the
         * consumer cannot vouch for every byte: the file is hashed again. */
        char *(*consumer_digest)(void *data, const char *type, uint64_t size);
};

/* Downloads url (http, https, file: a regular file only) into the download
 * cache under $VMENV_HOME/cache/, resuming a partial from an earlier attempt
 * (a 206 must start at the offset asked for), hashing while streaming. A
 * body longer than its Content-Length or VMENV_MAX_DOWNLOAD (64 GiB by
 * default) is refused. checksum is "TYPE:HEX" or NULL (then sha256 is computed
 * and only recorded). On success *path is the completed file in the cache
 * (the caller deletes it when done) and *digest is "TYPE:HEX" of it. */
int vmenv_fetch(const char *url, const char *checksum, const struct vmenv_fetch_opts *opts,
                char **path, char **digest, vmenv_error *err);
/* A small document (catalog) into memory, at most max bytes. */
int vmenv_fetch_memory(const char *url, size_t max, const struct vmenv_fetch_opts *opts, char **out,
                       size_t *len, vmenv_error *err);
/* Resolves a possibly relative reference against a base URL or path. */
char *vmenv_url_resolve(const char *base, const char *ref, vmenv_error *err);
/* True for "http://", "https://" and "file://" references. */
bool vmenv_is_url(const char *s);
/* Checks "TYPE:HEX" (sha1, sha256, sha384, sha512, md5); lowercases HEX. */
int vmenv_checksum_parse(const char *s, char **type, char **hex, vmenv_error *err);
/* Vagrant keeps a checksum and its type apart (a catalog's checksum and
 * checksum_type, box add's --checksum and --checksum-type): *out gets
 * "TYPE:HEX", both trimmed; a value already "TYPE:HEX" keeps its type; with
 * no type the digest's length tells (32 hex digits md5, 40 sha1, 64 sha256,
 * 96 sha384, 128 sha512). *out is NULL for an empty value. */
int vmenv_checksum_join(const char *type, const char *value, char **out, vmenv_error *err);

/* A private copy of the regular file path in $VMENV_HOME/cache/ and the
 * digest of exactly the bytes copied, in one read: hashing path and then
 * opening it again would let whoever can write it swap the bytes between
 * the check and the use. The caller deletes *copy. */
int vmenv_file_snapshot(const char *path, const char *type, char **copy, char **digest,
                        vmenv_error *err);
/* Digest of a whole file as "TYPE:HEX". */
int vmenv_file_digest(const char *path, const char *type, char **digest, vmenv_error *err);

/* ---- catalogs (catalog.c) --------------------------------------------- */

#define VMENV_CATALOG_MAX_BYTES (8u << 20)
#define VMENV_CATALOG_MAX_VERSIONS 10000

struct vmenv_catalog_provider {
        char *name;          /* "libvirt" */
        char *url;           /* as written (may be relative: resolved by _resolve) */
        char *checksum_type; /* may be NULL */
        char *checksum;      /* may be NULL */
        char *architecture;  /* may be NULL; "unknown" in legacy catalogs */
        bool default_architecture;
        bool has_default_architecture; /* the key is there (Vagrant 2.4 catalogs) */
};

struct vmenv_catalog_version {
        char *version;
        struct vmenv_catalog_provider *providers;
        size_t n_providers;
};

struct vmenv_catalog {
        char *source; /* URL or path it was read from */
        char *name;
        char *description;
        struct vmenv_catalog_version *versions;
        size_t n_versions;
};

/* What a catalog lookup resolves to. */
struct vmenv_box_ref {
        char *name;
        char *version;
        char *url;           /* absolute */
        char *checksum_type; /* NULL if the catalog gives none */
        char *checksum;
        char *architecture; /* of the provider picked, may be NULL */
};

/* The box registry: $VMENV_BOX_SERVER, else $VAGRANT_SERVER_URL, else
 * Vagrant's https://vagrantcloud.com. */
const char *vmenv_box_server(void);
/* $VAGRANT_CLOUD_TOKEN when url is on the registry's host, else NULL: the
 * token goes to that server only. */
const char *vmenv_box_server_token(const char *url);
/* A shorthand name ("generic/debian12") looked up as Vagrant does: the API
 * form SERVER/api/v2/vagrant/NAME, then SERVER/NAME, then (vmenv's static
 * layout) SERVER/NAME.json; *url gets the one that answered. */
struct vmenv_catalog *vmenv_catalog_fetch_name(const char *name,
                                               const struct vmenv_fetch_opts *opts, char **url,
                                               vmenv_error *err);
struct vmenv_catalog *vmenv_catalog_parse(const char *text, size_t len, const char *source,
                                          vmenv_error *err);
/* From a URL (http, https, file) or a local path. */
struct vmenv_catalog *vmenv_catalog_fetch(const char *url_or_path,
                                          const struct vmenv_fetch_opts *opts, vmenv_error *err);
/* The newest version matching constraint (NULL = any) with a libvirt
 * provider for the architecture, chosen as Vagrant 2.4 does. arch NULL
 * means this host, and then a provider marked "unknown" with
 * default_architecture, or a version's lone provider from a catalog without
 * default_architecture keys, also fits; an explicit arch (--architecture)
 * needs a provider of exactly that architecture. "x86_64"/"amd64" and
 * "aarch64"/"arm64" are the same. VMENV_EXIT_NOINPUT if none. */
int vmenv_catalog_resolve(const struct vmenv_catalog *c, const char *constraint, const char *arch,
                          struct vmenv_box_ref *out, vmenv_error *err);
/* The same as if this host were host_arch. */
int vmenv_catalog_resolve_on(const struct vmenv_catalog *c, const char *constraint,
                             const char *host_arch, const char *arch, struct vmenv_box_ref *out,
                             vmenv_error *err);
void vmenv_catalog_free(struct vmenv_catalog *c);
VMENV_DEFINE_CLEANUP(struct vmenv_catalog, vmenv_catalog_free)
void vmenv_box_ref_clear(struct vmenv_box_ref *r);
/* This host's architecture in catalog terms ("amd64", "arm64", ...). */
const char *vmenv_host_arch(void);

/* ---- images (image.c) ------------------------------------------------- */

/* Reads the header: "qcow2" (virtual size at offset 24) or "raw" (file size). */
int vmenv_image_probe(const char *path, char **format, uint64_t *virtual_size, vmenv_error *err);

/* ---- archives (box-archive.c) ----------------------------------------- */

#define VMENV_BOX_MAX_IMAGE (256ull << 30)
#define VMENV_BOX_MAX_SMALL (1u << 20) /* metadata.json, Vagrantfile */
/* Other members (info.json, files of 'package --include'): each, and all
 * of them together. */
#define VMENV_BOX_MAX_EXTRA (256ull << 20)
#define VMENV_BOX_MAX_EXTRA_TOTAL (1ull << 30)
#define VMENV_BOX_MAX_MEMBERS 256

/* The key of metadata.json that says a box is a cleaned cloud-init image;
 * Vagrant ignores it. */
#define VMENV_BOX_CLOUD_INIT_KEY "vmenv_cloud_init"

struct vmenv_box_meta {
        char *format;          /* of the first disk: "qcow2" or "raw" */
        uint64_t virtual_size; /* bytes, from the first image's header */
        char **images;         /* file names relative to the box folder */
        /* "vmenv_cloud_init": true: a cloud-init image with cloud-init
         * cleaned (what 'vmenv package' makes of a cloud image's machine):
         * each machine made from it gets a NoCloud seed. */
        bool cloud_init;
};
void vmenv_box_meta_clear(struct vmenv_box_meta *m);

/* Extracts a box archive (tar, tar.gz/xz/zst/bz2, zip) into dest (an
 * existing empty folder) and validates it. Hostile content (links, devices,
 * absolute or '..' paths, duplicates, oversized members, bad metadata,
 * image headers that contradict the declared format) fails with
 * VMENV_EXIT_DATA; nothing is written outside dest. */
int vmenv_box_archive_extract(const char *archive, const char *dest, struct vmenv_box_meta *meta,
                              vmenv_error *err);
/* The same, reading from a callback (a file that may still be growing):
 * read returns the number of bytes, 0 at the end, -1 to abort. */
struct vmenv_box_reader {
        long (*read)(void *data, void *buf, size_t len);
        void *data;
};
int vmenv_box_archive_extract_from(const struct vmenv_box_reader *r, const char *dest,
                                   struct vmenv_box_meta *meta, vmenv_error *err);
/* A disk path of metadata.json: relative, inside the box ("disks/d1.qcow2"
 * is fine), no '..', '.', empty or hidden component, no control character. */
bool vmenv_box_member_path_ok(const char *path);
/* Validates an extracted box folder (metadata.json + images) as
 * vagrant-libvirt reads it: v1 ("format", box.img, "virtual_size" in GiB,
 * taken when larger than the image) or v2 ("disks": each disk's format is
 * its header's, volume names must differ). */
int vmenv_box_dir_validate(const char *dir, struct vmenv_box_meta *meta, vmenv_error *err);
/* Whether the stored box in dir says it is a cleaned cloud-init image
 * (VMENV_BOX_CLOUD_INIT_KEY); a box without the key (or without a
 * metadata.json) is not. */
int vmenv_box_dir_cloud_init(const char *dir, bool *out, vmenv_error *err);

/* ---- the store (box-store.c) ------------------------------------------ */

struct vmenv_box {
        char *name;            /* "vmenv/tiny" */
        char *version;         /* "1.0.0"; "0" for unversioned local boxes */
        char *dir;             /* .../boxes/vmenv-VAGRANTSLASH-tiny/1.0.0/libvirt */
        char **images;         /* absolute paths; images[0] is the boot disk */
        char *format;          /* "qcow2" or "raw" (of images[0]) */
        uint64_t virtual_size; /* bytes */
        char *source;          /* URL or path it came from, may be NULL */
        char *catalog;         /* catalog URL it was resolved from, may be NULL */
        char *digest;          /* "sha256:HEX" of the downloaded file, may be NULL */
        char *added;           /* ISO 8601 UTC */
        char **stamps;         /* per image "SIZE MTIME_NS" when it was added; NULL if unknown */
};
/* The store name of a box file or image added without a name, as Vagrant
 * derives it: "https://x/y/tiny.box?a=b" → "tiny". */
char *vmenv_box_name_from_source(const char *src);
void vmenv_box_free(struct vmenv_box *b);
VMENV_DEFINE_CLEANUP(struct vmenv_box, vmenv_box_free)
void vmenv_boxes_free(struct vmenv_box **v, size_t n);

/* Whether the box's images are still the files that were checked against
 * its digest when it was added: each image's size and modification time
 * are recorded then (hashing them again would cost a full read per use).
 * A write to an image since is VMENV_EXIT_DATA. Boxes stored by Vagrant or
 * an older vmenv have no record and pass. */
int vmenv_box_check_unchanged(const struct vmenv_box *b, vmenv_error *err);

/* "vmenv/tiny" → "vmenv-VAGRANTSLASH-tiny" (Vagrant's store convention). */
char *vmenv_box_dir_name(const char *name);
bool vmenv_box_name_valid(const char *name);

/* The newest stored version of name matching constraint (NULL = any), or
 * NULL with VMENV_EXIT_NOINPUT. */
struct vmenv_box *vmenv_box_find(const char *name, const char *constraint, vmenv_error *err);
/* Every stored box, sorted by name then version (oldest first). */
int vmenv_box_list(struct vmenv_box ***out, size_t *n, vmenv_error *err);

/* Whether a machine uses name/version (version NULL = any). Reads the
 * machine index $VMENV_HOME/machines.json (a JSON array of objects with
 * "box" and "box_version"; "project_dir"/"machine" are used in messages);
 * *who gets "project:machine" of the first user, if asked. */
int vmenv_box_in_use(const char *name, const char *version, bool *in_use, char **who,
                     vmenv_error *err);

struct vmenv_box_opts {
        struct vmenv_fetch_opts fetch;
        const char *name;         /* --name: store name for a .box URL/path */
        const char *checksum;     /* "TYPE:HEX" */
        const char *architecture; /* --architecture: that provider exactly; NULL = host */
        bool force;               /* replace a stored version (else adding one is refused) */
        bool refresh;             /* ignore the store, look for newer in the catalog */
};

/* vmenv box add: source is a box name (resolved via $VMENV_BOX_SERVER), a
 * catalog URL/path (*.json), a .box URL/path, or a disk image path. */
struct vmenv_box *vmenv_box_add(const char *source, const char *constraint,
                                const struct vmenv_box_opts *opts, vmenv_error *err);

/* What 'vmenv up' calls: the stored box if one matches, otherwise catalog →
 * download → extract → store, under the box's lock. box_url may be NULL (a
 * catalog at $VMENV_BOX_SERVER/<name>.json), a catalog URL, or a .box URL. */
struct vmenv_box *vmenv_box_ensure(const char *name, const char *constraint, const char *box_url,
                                   const char *checksum, const struct vmenv_box_opts *opts,
                                   vmenv_error *err);

/* Removes one version (or all when version is NULL); refuses while in use
 * unless force. */
int vmenv_box_remove(const char *name, const char *version, bool force, vmenv_error *err);

#endif
