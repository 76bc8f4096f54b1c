/* Storage through libvirt's pool API, so a remote hypervisor works the same as
 * the local one: the default "dir" pool created on first use, box images
 * uploaded once through a stream, and machine disks as qcow2 overlays backed
 * by them (linked clones, O(1) in the size of the box). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "console-log.h"
#include "image-check.h"
#include "libvirt-private.h"
#include "vmenv/cleanup.h"
#include "vmenv/log.h"
#include "vmenv/util.h"

#define DEFAULT_POOL "vmenv"
/* QEMU under qemu:///system runs as libvirt-qemu and cannot enter /root or
 * most home folders, so the system pool lives where libvirt keeps images. */
#define SYSTEM_POOL_PATH "/var/lib/libvirt/images/vmenv"
#define UPLOAD_CHUNK (1024 * 1024)
/* libvirt's RPC stream packets carry at most this much (its
 * VIR_NET_MESSAGE_LEGACY_PAYLOAD_MAX, the size virStreamSendAll uses). */
#define STREAM_PACKET 262120
#define MAX_NAME 255
#define MAX_VOL_XML (1024 * 1024)

static int check_name(const char *what, const char *name, vmenv_error *err)
{
        if (!name || !*name || strlen(name) > MAX_NAME || strchr(name, '/') ||
            vmenv_streq(name, ".") || vmenv_streq(name, ".."))
                return vmenv_error_set(err, VMENV_EXIT_SOFTWARE, "invalid %s name '%s'", what,
                                       name ? name : "");
        return 0;
}

static char *default_pool_path(struct vmenv_provider *p)
{
        const char *v = getenv("VMENV_POOL_PATH");
        _cleanup_free_ char *home = NULL;

        /* VMENV_POOL_PATH and $VMENV_HOME are folders of this host: a
         * remote hypervisor keeps its pool in its own libvirt folder. */
        if (v && *v && vmenv_libvirt_uri_is_local(p->uri))
                return vmenv_strdup(v);
        if (!p->session || !vmenv_libvirt_uri_is_local(p->uri))
                return vmenv_strdup(SYSTEM_POOL_PATH);
        home = vmenv_home();
        return vmenv_path_join(home, "pool");
}

static virStoragePoolPtr pool_create(struct vmenv_provider *p, const char *name, vmenv_error *err)
{
        _cleanup_free_ char *path = default_pool_path(p);
        _cleanup_free_ char *ename = vmenv_xml_escape(name);
        _cleanup_free_ char *epath = vmenv_xml_escape(path);
        _cleanup_free_ char *xml = NULL;
        virStoragePoolPtr pool;

        vmenv_debug("creating storage pool '%s' at '%s'", name, path);
        xml = vmenv_strdupf("<pool type='dir'>\n"
                            "  <name>%s</name>\n"
                            "  <target>\n"
                            "    <path>%s</path>\n"
                            "  </target>\n"
                            "</pool>\n",
                            ename, epath);
        if (!(pool = virStoragePoolDefineXML(p->conn, xml, 0))) {
                /* Another vmenv defined it meanwhile. */
                if ((pool = virStoragePoolLookupByName(p->conn, name)))
                        return pool;
                vmenv_libvirt_error(err, "cannot define storage pool '%s' at '%s'", name, path);
                return NULL;
        }
        if (virStoragePoolBuild(pool, 0) < 0 || virStoragePoolSetAutostart(pool, 1) < 0) {
                vmenv_libvirt_error(err, "cannot build storage pool '%s' at '%s'", name, path);
                virStoragePoolUndefine(pool);
                virStoragePoolFree(pool);
                return NULL;
        }
        return pool;
}

/* The pool by name (NULL: $VMENV_POOL, else "vmenv", created on first use),
 * started if it is not. */
virStoragePoolPtr vmenv_libvirt_pool_get(struct vmenv_provider *p, const char *name,
                                         vmenv_error *err)
{
        const char *env = getenv("VMENV_POOL");
        const char *want = name ? name : (env && *env ? env : DEFAULT_POOL);
        virStoragePoolPtr pool;
        int active;

        if (check_name("storage pool", want, err) < 0)
                return NULL;
        if (!(pool = virStoragePoolLookupByName(p->conn, want))) {
                if (!vmenv_libvirt_last_error_is(VIR_ERR_NO_STORAGE_POOL)) {
                        vmenv_libvirt_error(err, "cannot look up storage pool '%s'", want);
                        return NULL;
                }
                if (name) {
                        vmenv_error_set(err, VMENV_EXIT_NOINPUT, "storage pool '%s' does not exist",
                                        name);
                        vmenv_error_hint(
                            err, "create it with 'virsh pool-define-as', or leave the pool unset");
                        return NULL;
                }
                if (!(pool = pool_create(p, want, err)))
                        return NULL;
        }
        if ((active = virStoragePoolIsActive(pool)) < 0 ||
            (!active && virStoragePoolCreate(pool, 0) < 0 &&
             !vmenv_libvirt_last_error_is(VIR_ERR_OPERATION_INVALID))) {
                vmenv_libvirt_error(err, "cannot start storage pool '%s'", want);
                virStoragePoolFree(pool);
                return NULL;
        }
        return pool;
}

/* A volume of the pool, or NULL with *missing set when there is none. */
static virStorageVolPtr vol_find(virStoragePoolPtr pool, const char *name, bool *missing,
                                 vmenv_error *err)
{
        virStorageVolPtr v = virStorageVolLookupByName(pool, name);
        *missing = false;
        if (!v) {
                if (vmenv_libvirt_last_error_is(VIR_ERR_NO_STORAGE_VOL))
                        *missing = true;
                else
                        vmenv_libvirt_error(err, "cannot look up volume '%s'", name);
        }
        return v;
}

/* The text of the first <tag>…</tag> or <tag type='…'/> value inside the
 * section that starts with `section`, e.g. ("<backingStore>", "<path>", "</path>").
 * Still XML-escaped. libvirt formats volume XML itself, one element per line,
 * so a search is enough; NULL when absent. */
static char *xml_find(const char *xml, const char *section, const char *open, const char *close)
{
        const char *s = section ? strstr(xml, section) : xml;
        const char *a, *b;

        if (!s || !(a = strstr(s, open)))
                return NULL;
        a += strlen(open);
        if (!(b = strstr(a, close)))
                return NULL;
        return vmenv_strndup(a, (size_t)(b - a));
}

static char *vol_xml(virStorageVolPtr v, const char *name, vmenv_error *err)
{
        char *xml = virStorageVolGetXMLDesc(v, 0);
        if (!xml)
                vmenv_libvirt_error(err, "cannot read volume '%s'", name);
        else if (strlen(xml) > MAX_VOL_XML) {
                free(xml);
                vmenv_error_set(err, VMENV_EXIT_DATA, "description of volume '%s' is too large",
                                name);
                return NULL;
        }
        return xml;
}

static char *vol_path(virStorageVolPtr v, const char *name, vmenv_error *err)
{
        char *lp = virStorageVolGetPath(v);
        char *r;
        if (!lp) {
                vmenv_libvirt_error(err, "cannot get the path of volume '%s'", name);
                return NULL;
        }
        r = vmenv_strdup(lp);
        free(lp);
        return r;
}

static int upload(virConnectPtr conn, virStorageVolPtr vol, int fd, uint64_t size,
                  const char *local_path, const char *name, vmenv_error *err)
{
        _cleanup_stream_ virStreamPtr st = virStreamNew(conn, 0);
        _cleanup_free_ char *buf = vmenv_malloc(UPLOAD_CHUNK);
        uint64_t sent = 0;

        if (!st)
                return vmenv_libvirt_error(err, "cannot open a stream for volume '%s'", name);
        if (virStorageVolUpload(vol, st, 0, size, 0) < 0)
                return vmenv_libvirt_error(err, "cannot upload '%s' to volume '%s'", local_path,
                                           name);
        while (sent < size) {
                ssize_t n = read(fd, buf, UPLOAD_CHUNK);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        int e = n < 0 ? errno : EIO;
                        virStreamAbort(st);
                        if (n == 0)
                                return vmenv_error_set(err, VMENV_EXIT_IO,
                                                       "'%s' shrank while it was uploaded",
                                                       local_path);
                        return vmenv_error_errno(err, 0, e, "cannot read '%s'", local_path);
                }
                for (ssize_t off = 0; off < n;) {
                        size_t want =
                            (size_t)(n - off) < STREAM_PACKET ? (size_t)(n - off) : STREAM_PACKET;
                        int w = virStreamSend(st, buf + off, want);
                        if (w < 0) {
                                vmenv_libvirt_error(err, "cannot upload '%s' to volume '%s'",
                                                    local_path, name);
                                virStreamAbort(st);
                                return -1;
                        }
                        off += w;
                }
                sent += (uint64_t)n;
        }
        if (virStreamFinish(st) < 0)
                return vmenv_libvirt_error(err, "cannot finish the upload of '%s' to volume '%s'",
                                           local_path, name);
        return 0;
}

/* Waits while the pool has an upload running (libvirt refuses to refresh it
 * then), so a volume that another vmenv is still filling is not used
 * half-written. Up to UPLOAD_WAIT_S; any other refresh failure ends the
 * wait, since it says nothing about uploads. */
#define UPLOAD_WAIT_S 1800
static void wait_uploads(virStoragePoolPtr pool)
{
        for (int i = 0; i < UPLOAD_WAIT_S * 5; i++) {
                virErrorPtr e;
                if (virStoragePoolRefresh(pool, 0) == 0)
                        return;
                e = virGetLastError();
                if (!e || !e->message || !strstr(e->message, "asynchronous jobs"))
                        return;
                if (i == 0)
                        vmenv_debug("waiting for an upload into the pool to finish");
                usleep(200000);
        }
}

/* Serialises imports of one volume among this user's vmenv processes and
 * threads (flock conflicts between separate opens, even in one process):
 * the volume exists from its creation on, long before its upload ends, so
 * "exists" alone cannot mean "ready". Other users of a shared system pool
 * are covered by wait_uploads(). */
static int upload_lock(struct vmenv_provider *p, virStoragePoolPtr pool, const char *vol,
                       vmenv_error *err)
{
        _cleanup_free_ char *home = vmenv_home();
        _cleanup_free_ char *dir = vmenv_path_join(home, "locks");
        _cleanup_free_ char *key = NULL, *path = NULL;
        const char *pname = virStoragePoolGetName(pool);
        uint64_t h = 0xcbf29ce484222325u; /* FNV-1a: a short, fixed-length file name */

        key = vmenv_strdupf("%s\n%s\n%s", p->uri, pname ? pname : "", vol);
        for (const unsigned char *c = (const unsigned char *)key; *c; c++)
                h = (h ^ *c) * 0x100000001b3u;
        path = vmenv_strdupf("%s/upload-%016" PRIx64 ".lock", dir, h);
        if (vmenv_mkdir_p(dir, 0700, err) < 0)
                return -1;
        return vmenv_lock_file(path, true, err);
}

int vmenv_libvirt_image_ensure(struct vmenv_provider *p, const char *pool_name, const char *name,
                               const char *local_path, const char *format, char **path,
                               vmenv_error *err)
{
        _cleanup_pool_ virStoragePoolPtr pool = NULL;
        _cleanup_vol_ virStorageVolPtr vol = NULL, tmp = NULL, stale = NULL;
        _cleanup_close_ int fd = -1, lock = -1;
        _cleanup_free_ char *xml = NULL, *ename = NULL, *part = NULL;
        virStorageVolInfo info;
        struct stat st;
        uint64_t t0;
        bool missing;

        if (!format)
                format = "qcow2";
        if (check_name("volume", name, err) < 0)
                return -1;
        if (!(pool = vmenv_libvirt_pool_get(p, pool_name, err)))
                return -1;
        if ((lock = upload_lock(p, pool, name, err)) < 0)
                return vmenv_error_prefix(err, "cannot import '%s'", local_path);
        if ((vol = vol_find(pool, name, &missing, err))) {
                /* Perhaps still being uploaded by another user's vmenv. */
                virStorageVolFree(vol);
                wait_uploads(pool);
                if (!(vol = vol_find(pool, name, &missing, err)))
                        return missing ? vmenv_error_set(err, VMENV_EXIT_FAILURE,
                                                         "volume '%s' vanished: its upload by "
                                                         "another vmenv failed",
                                                         name)
                                       : -1;
                if (!(*path = vol_path(vol, name, err)))
                        return -1;
                return 0;
        }
        if (!missing)
                return -1;

        if (vmenv_libvirt_check_image(local_path, format, err) < 0)
                return -1;
        if ((fd = open(local_path, O_RDONLY | O_CLOEXEC)) < 0)
                return vmenv_error_errno(err, VMENV_EXIT_NOINPUT, errno, "cannot open image '%s'",
                                         local_path);
        if (fstat(fd, &st) < 0)
                return vmenv_error_errno(err, 0, errno, "cannot stat image '%s'", local_path);
        if (!S_ISREG(st.st_mode) || st.st_size <= 0)
                return vmenv_error_set(err, VMENV_EXIT_DATA, "image '%s' is not a non-empty file",
                                       local_path);

        /* Upload under a temporary name and give the volume its real name
         * only once it is whole (libvirt has no rename: a server-side clone),
         * so a vmenv killed or a libvirtd restarted mid-upload leaves a
         * ".part" that the next import deletes, never a half-written base
         * that every later machine would be cloned from. */
        part = vmenv_strdupf("%s.part", name);
        if (check_name("volume", part, err) < 0)
                return -1;
        wait_uploads(pool); /* a .part another user is still filling */
        if ((stale = virStorageVolLookupByName(pool, part))) {
                vmenv_debug("deleting '%s', left by an interrupted upload", part);
                if (virStorageVolDelete(stale, 0) < 0)
                        return vmenv_libvirt_error(err, "cannot delete volume '%s'", part);
        }
        ename = vmenv_xml_escape(part);
        xml = vmenv_strdupf("<volume>\n"
                            "  <name>%s</name>\n"
                            "  <capacity unit='bytes'>%" PRIu64 "</capacity>\n"
                            "  <target>\n"
                            "    <format type='%s'/>\n"
                            "  </target>\n"
                            "</volume>\n",
                            ename, (uint64_t)st.st_size, format);
        vmenv_debug("uploading '%s' (%" PRIu64 " bytes) to volume '%s'", local_path,
                    (uint64_t)st.st_size, part);
        if (!(tmp = virStorageVolCreateXML(pool, xml, 0)))
                return vmenv_libvirt_error(err, "cannot create volume '%s'", part);
        t0 = vmenv_now_ns();
        if (upload(p->conn, tmp, fd, (uint64_t)st.st_size, local_path, part, err) < 0) {
                virStorageVolDelete(tmp, 0);
                return -1;
        }
        /* tests/bench/remote.sh reads this line */
        vmenv_debug("uploaded %" PRIu64 " bytes in %.3f s", (uint64_t)st.st_size,
                    (double)(vmenv_now_ns() - t0) / 1e9);
        /* The volume was created as an empty image of the file's size; make
         * libvirt read the uploaded header (virtual size, format) now. */
        if (virStoragePoolRefresh(pool, 0) < 0)
                vmenv_debug("cannot refresh the pool after uploading '%s'", part);
        if (virStorageVolGetInfo(tmp, &info) < 0) {
                vmenv_libvirt_error(err, "cannot read volume '%s'", part);
                virStorageVolDelete(tmp, 0);
                return -1;
        }
        free(ename);
        free(xml);
        ename = vmenv_xml_escape(name);
        xml = vmenv_strdupf("<volume>\n"
                            "  <name>%s</name>\n"
                            "  <capacity unit='bytes'>%llu</capacity>\n"
                            "  <target>\n"
                            "    <format type='%s'/>\n"
                            "  </target>\n"
                            "</volume>\n",
                            ename, (unsigned long long)info.capacity, format);
        vol = virStorageVolCreateXMLFrom(pool, xml, tmp, 0);
        if (!vol && vmenv_libvirt_last_error_is(VIR_ERR_STORAGE_VOL_EXIST)) {
                /* Another vmenv finished first. */
                wait_uploads(pool);
                vol = virStorageVolLookupByName(pool, name);
        }
        if (!vol) {
                vmenv_libvirt_error(err, "cannot create volume '%s'", name);
                virStorageVolDelete(tmp, 0);
                return -1;
        }
        if (virStorageVolDelete(tmp, 0) < 0)
                vmenv_debug("cannot delete '%s' after its copy", part);
        if (!(*path = vol_path(vol, name, err)))
                return -1;
        return 0;
}

struct blob {
        const char *data;
        size_t left;
};

static int send_blob(virStreamPtr st, char *buf, size_t n, void *opaque)
{
        struct blob *b = opaque;
        (void)st;
        if (n > b->left)
                n = b->left;
        memcpy(buf, b->data, n);
        b->data += n;
        b->left -= n;
        return (int)n;
}

/* A small read-only file of the default pool made from memory, readable by
 * QEMU whatever user it runs as (firmware is not relabelled by libvirt), e.g.
 * the KVM check's ROM. Named by its content, so an existing volume is it. */
int vmenv_libvirt_blob_ensure(struct vmenv_provider *p, const char *name, const void *data,
                              size_t len, char **path, vmenv_error *err)
{
        _cleanup_pool_ virStoragePoolPtr pool = NULL;
        _cleanup_vol_ virStorageVolPtr vol = NULL;
        _cleanup_stream_ virStreamPtr st = NULL;
        _cleanup_close_ int lock = -1;
        _cleanup_free_ char *xml = NULL, *ename = NULL;
        bool missing;

        if (check_name("volume", name, err) < 0 || !(pool = vmenv_libvirt_pool_get(p, NULL, err)))
                return -1;
        if ((lock = upload_lock(p, pool, name, err)) < 0)
                return -1;
        if ((vol = vol_find(pool, name, &missing, err))) {
                wait_uploads(pool);
                return (*path = vol_path(vol, name, err)) ? 0 : -1;
        }
        if (!missing)
                return -1;
        ename = vmenv_xml_escape(name);
        xml = vmenv_strdupf("<volume>\n"
                            "  <name>%s</name>\n"
                            "  <capacity unit='bytes'>%zu</capacity>\n"
                            "  <target>\n"
                            "    <format type='raw'/>\n"
                            "    <permissions><mode>0644</mode></permissions>\n"
                            "  </target>\n"
                            "</volume>\n",
                            ename, len);
        if (!(vol = virStorageVolCreateXML(pool, xml, 0))) {
                if (vmenv_libvirt_last_error_is(VIR_ERR_STORAGE_VOL_EXIST) &&
                    (vol = virStorageVolLookupByName(pool, name))) {
                        wait_uploads(pool);
                        return (*path = vol_path(vol, name, err)) ? 0 : -1;
                }
                return vmenv_libvirt_error(err, "cannot create volume '%s'", name);
        }
        if (!(st = virStreamNew(p->conn, 0)) || virStorageVolUpload(vol, st, 0, len, 0) < 0 ||
            virStreamSendAll(st, send_blob, &(struct blob){data, len}) < 0 ||
            virStreamFinish(st) < 0) {
                vmenv_libvirt_error(err, "cannot upload volume '%s'", name);
                virStorageVolDelete(vol, 0);
                return -1;
        }
        return (*path = vol_path(vol, name, err)) ? 0 : -1;
}

int vmenv_libvirt_overlay_create(struct vmenv_provider *p, const char *pool_name, const char *name,
                                 const char *base, uint64_t size, char **path, vmenv_error *err)
{
        _cleanup_pool_ virStoragePoolPtr pool = NULL;
        _cleanup_vol_ virStorageVolPtr bvol = NULL, vol = NULL;
        _cleanup_free_ char *bpath = NULL, *bxml = NULL, *bformat = NULL, *ebpath = NULL;
        _cleanup_free_ char *xml = NULL, *ename = NULL;
        virStorageVolInfo info;
        uint64_t capacity;
        bool missing;

        if (check_name("volume", name, err) < 0 || check_name("volume", base, err) < 0)
                return -1;
        if (!(pool = vmenv_libvirt_pool_get(p, pool_name, err)))
                return -1;
        if (!(bvol = vol_find(pool, base, &missing, err))) {
                if (missing) {
                        vmenv_error_set(err, VMENV_EXIT_NOINPUT, "base volume '%s' does not exist",
                                        base);
                        vmenv_error_hint(err, "the box image is uploaded by 'vmenv up'");
                }
                return vmenv_error_prefix(err, "cannot create overlay '%s'", name);
        }
        if (!(bpath = vol_path(bvol, base, err)) || !(bxml = vol_xml(bvol, base, err)))
                return -1;
        if (virStorageVolGetInfo(bvol, &info) < 0)
                return vmenv_libvirt_error(err, "cannot read volume '%s'", base);
        bformat = xml_find(bxml, "<target>", "<format type='", "'");
        if (!bformat || (!vmenv_streq(bformat, "qcow2") && !vmenv_streq(bformat, "raw")))
                return vmenv_error_set(err, VMENV_EXIT_DATA,
                                       "cannot create overlay '%s': base volume '%s' has format "
                                       "'%s', not qcow2 or raw",
                                       name, base, bformat ? bformat : "unknown");
        ebpath = vmenv_xml_escape(bpath);

        if ((vol = vol_find(pool, name, &missing, err))) {
                /* Already there (an earlier 'up'): fine if it is our clone. */
                _cleanup_free_ char *x = vol_xml(vol, name, err);
                _cleanup_free_ char *backing = NULL;
                if (!x)
                        return -1;
                backing = xml_find(x, "<backingStore>", "<path>", "</path>");
                if (!vmenv_streq(backing, ebpath))
                        return vmenv_error_set(err, VMENV_EXIT_DATA,
                                               "volume '%s' exists and is not an overlay of '%s'",
                                               name, base);
                return (*path = vol_path(vol, name, err)) ? 0 : -1;
        }
        if (!missing)
                return -1;

        capacity = size > info.capacity ? size : info.capacity;
        ename = vmenv_xml_escape(name);
        xml = vmenv_strdupf("<volume>\n"
                            "  <name>%s</name>\n"
                            "  <capacity unit='bytes'>%" PRIu64 "</capacity>\n"
                            "  <target>\n"
                            "    <format type='qcow2'/>\n"
                            "  </target>\n"
                            "  <backingStore>\n"
                            "    <path>%s</path>\n"
                            "    <format type='%s'/>\n"
                            "  </backingStore>\n"
                            "</volume>\n",
                            ename, capacity, ebpath, bformat);
        if (!(vol = virStorageVolCreateXML(pool, xml, 0)))
                return vmenv_libvirt_error(err, "cannot create overlay '%s' of '%s'", name, base);
        return (*path = vol_path(vol, name, err)) ? 0 : -1;
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The named volume of the pool (NULL, with *missing set when there is
 * none, else an error), after checking the name. */
static virStorageVolPtr vol_open(struct vmenv_provider *p, const char *pool_name, const char *name,
                                 bool *missing, vmenv_error *err)
{
        _cleanup_pool_ virStoragePoolPtr pool = NULL;

        *missing = false;
        if (check_name("volume", name, err) < 0)
                return NULL;
        if (!(pool = vmenv_libvirt_pool_get(p, pool_name, err)))
                return NULL;
        return vol_find(pool, name, missing, err);
}

int vmenv_libvirt_volume_delete(struct vmenv_provider *p, const char *pool_name, const char *name,
                                vmenv_error *err)
{
        _cleanup_pool_ virStoragePoolPtr pool = NULL;
        _cleanup_vol_ virStorageVolPtr vol = NULL;
        _cleanup_free_ char *vpath = NULL, *epath = NULL;
        virStorageVolPtr *vols = NULL;
        char **users = NULL;
        bool missing;
        int n;

        if (!(vol = vol_open(p, pool_name, name, &missing, err)))
                return missing ? 0 : -1;
        if (!(pool = virStoragePoolLookupByVolume(vol)))
                return vmenv_libvirt_error(err, "cannot find the pool of volume '%s'", name);
        if (!(vpath = vol_path(vol, name, err)))
                return -1;
        epath = vmenv_xml_escape(vpath);

        if ((n = virStoragePoolListAllVolumes(pool, &vols, 0)) < 0)
                return vmenv_libvirt_error(err, "cannot list the volumes of the pool");
        for (int i = 0; i < n; i++) {
                const char *other = virStorageVolGetName(vols[i]);
                char *x;
                /* a console log's bytes are the guest's: a qcow2 header
                 * it wrote there names any backing file it likes */
                if (other && !vmenv_streq(other, name) && !vmenv_libvirt_console_log_name(other) &&
                    (x = virStorageVolGetXMLDesc(vols[i], 0))) {
                        _cleanup_free_ char *backing =
                            xml_find(x, "<backingStore>", "<path>", "</path>");
                        if (vmenv_streq(backing, epath))
                                vmenv_strv_push(&users, vmenv_strdupf("'%s'", other));
                        free(x);
                }
                virStorageVolFree(vols[i]);
        }
        free(vols);
        if (users) {
                struct vmenv_buf list = {0};
                qsort(users, vmenv_strv_len(users), sizeof(char *), cmp_str);
                for (char **u = users; *u; u++)
                        vmenv_buf_printf(&list, "%s%s", u == users ? "" : ", ", *u);
                vmenv_error_set(err, VMENV_EXIT_FAILURE,
                                "cannot delete volume '%s': overlays still use it: %s", name,
                                list.data);
                vmenv_error_hint(err, "destroy the machines using it first");
                vmenv_buf_free(&list);
                vmenv_strv_free(users);
                return -1;
        }
        if (virStorageVolDelete(vol, 0) < 0) {
                if (vmenv_libvirt_last_error_is(VIR_ERR_NO_STORAGE_VOL))
                        return 0;
                return vmenv_libvirt_error(err, "cannot delete volume '%s'", name);
        }
        return 0;
}

int vmenv_libvirt_volume_list(struct vmenv_provider *p, const char *pool_name, const char *prefix,
                              char ***names, vmenv_error *err)
{
        _cleanup_pool_ virStoragePoolPtr pool = NULL;
        virStorageVolPtr *vols = NULL;
        char **v;
        int n;

        if (!(pool = vmenv_libvirt_pool_get(p, pool_name, err)))
                return -1;
        if ((n = virStoragePoolListAllVolumes(pool, &vols, 0)) < 0)
                return vmenv_libvirt_error(err, "cannot list the volumes of the pool");
        v = vmenv_calloc(1, sizeof(char *));
        for (int i = 0; i < n; i++) {
                const char *name = virStorageVolGetName(vols[i]);
                if (name && vmenv_startswith(name, prefix ? prefix : ""))
                        vmenv_strv_push(&v, vmenv_strdup(name));
                virStorageVolFree(vols[i]);
        }
        free(vols);
        qsort(v, vmenv_strv_len(v), sizeof(char *), cmp_str);
        *names = v;
        return 0;
}

int vmenv_libvirt_volume_path(struct vmenv_provider *p, const char *pool_name, const char *name,
                              char **path, vmenv_error *err)
{
        _cleanup_vol_ virStorageVolPtr vol = NULL;
        bool missing;

        if (!(vol = vol_open(p, pool_name, name, &missing, err))) {
                if (missing)
                        vmenv_error_set(err, VMENV_EXIT_NOINPUT, "volume '%s' does not exist",
                                        name);
                return -1;
        }
        return (*path = vol_path(vol, name, err)) ? 0 : -1;
}

/* What vmenv can verify about a volume without trusting its name: libvirt
 * reports its format and backing store; an overlay vmenv made is qcow2 on
 * top of a box volume ("vmenv-box-...") in the same pool folder. A volume a
 * project file or .vmenv/ could point at (another machine's plain disk, an
 * image someone put there) has no such backing store. */
int vmenv_libvirt_overlay_delete(struct vmenv_provider *p, const char *pool_name, const char *name,
                                 vmenv_error *err)
{
        _cleanup_vol_ virStorageVolPtr vol = NULL;
        _cleanup_free_ char *xml = NULL, *format = NULL, *backing = NULL, *vpath = NULL;
        const char *base, *slash;
        bool missing;

        if (!(vol = vol_open(p, pool_name, name, &missing, err)))
                return missing ? 0 : -1;
        if (!(xml = vol_xml(vol, name, err)) || !(vpath = vol_path(vol, name, err)))
                return -1;
        format = xml_find(xml, "<target>", "<format type='", "'");
        backing = xml_find(xml, "<backingStore>", "<path>", "</path>");
        base = backing ? strrchr(backing, '/') : NULL;
        base = base ? base + 1 : backing;
        slash = strrchr(vpath, '/');
        if (!vmenv_streq(format, "qcow2") || !base || strncmp(base, "vmenv-box-", 10) || !slash ||
            strncmp(backing, vpath, (size_t)(slash - vpath + 1)) ||
            strchr(backing + (slash - vpath + 1), '/')) {
                vmenv_error_set(err, VMENV_EXIT_NOPERM,
                                "refusing to delete volume '%s': it is not a vmenv overlay "
                                "(a qcow2 volume backed by a vmenv box volume of its pool)",
                                name);
                return vmenv_error_hint(err, "delete it yourself with 'virsh vol-delete' if it "
                                             "is no longer needed");
        }
        return vmenv_libvirt_volume_delete(p, pool_name, name, err);
}
