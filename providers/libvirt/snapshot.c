/* Snapshots and volume export. Snapshots are internal qcow2 snapshots of the
 * machine's overlay: with linked clones they stay inside the overlay (the
 * shared box image is read-only and never gains a snapshot), they include
 * memory when the machine runs, and destroying the machine deletes them with
 * the overlay. External snapshots would add a file per snapshot on top of the
 * overlay, which libvirt 9.0 cannot revert to. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "libvirt-private.h"
#include "snapshot.h"
#include "vmenv/cleanup.h"
#include "vmenv/log.h"
#include "vmenv/util.h"

#define STREAM_CHUNK (256 * 1024)

static void snapshot_freep(virDomainSnapshotPtr *s)
{
        if (*s)
                virDomainSnapshotFree(*s);
}
#define _cleanup_snapshot_ __attribute__((cleanup(snapshot_freep)))

static virDomainSnapshotPtr snapshot_get(virDomainPtr d, const char *name, vmenv_error *err)
{
        virDomainSnapshotPtr s = virDomainSnapshotLookupByName(d, name, 0);
        if (!s) {
                if (vmenv_libvirt_last_error_is(VIR_ERR_NO_DOMAIN_SNAPSHOT)) {
                        vmenv_error_set(err, VMENV_EXIT_NOINPUT, "there is no snapshot '%s'", name);
                        vmenv_error_hint(err, "'vmenv snapshot list' shows the snapshots");
                } else {
                        vmenv_libvirt_error(err, "cannot look up snapshot '%s'", name);
                }
        }
        return s;
}

int vmenv_libvirt_snapshot_create(struct vmenv_provider *p, const char *domain, const char *name,
                                  vmenv_error *err)
{
        _cleanup_domain_ virDomainPtr d = NULL;
        _cleanup_snapshot_ virDomainSnapshotPtr s = NULL;
        _cleanup_free_ char *ename = vmenv_xml_escape(name);
        _cleanup_free_ char *xml = NULL;

        if (!(d = vmenv_libvirt_domain_owned(p, domain, err)))
                return -1;
        if ((s = virDomainSnapshotLookupByName(d, name, 0))) {
                vmenv_error_set(err, VMENV_EXIT_USAGE, "a snapshot '%s' exists already", name);
                return vmenv_error_hint(err, "delete it first or choose another name");
        }
        xml = vmenv_strdupf("<domainsnapshot><name>%s</name></domainsnapshot>", ename);
        if (!(s = virDomainSnapshotCreateXML(d, xml, 0)))
                return vmenv_libvirt_error(err, "cannot create snapshot '%s'", name);
        return 0;
}

int vmenv_libvirt_snapshot_revert(struct vmenv_provider *p, const char *domain, const char *name,
                                  vmenv_error *err)
{
        _cleanup_domain_ virDomainPtr d = NULL;
        _cleanup_snapshot_ virDomainSnapshotPtr s = NULL;
        int active;

        if (!(d = vmenv_libvirt_domain_owned(p, domain, err)) || !(s = snapshot_get(d, name, err)))
                return -1;
        active = virDomainIsActive(d);
        if (virDomainRevertToSnapshot(s, active == 1 ? VIR_DOMAIN_SNAPSHOT_REVERT_RUNNING : 0) < 0)
                return vmenv_libvirt_error(err, "cannot restore snapshot '%s'", name);
        return 0;
}

int vmenv_libvirt_snapshot_delete(struct vmenv_provider *p, const char *domain, const char *name,
                                  vmenv_error *err)
{
        _cleanup_domain_ virDomainPtr d = NULL;
        _cleanup_snapshot_ virDomainSnapshotPtr s = NULL;

        if (!(d = vmenv_libvirt_domain_owned(p, domain, err)) || !(s = snapshot_get(d, name, err)))
                return -1;
        if (virDomainSnapshotDelete(s, 0) < 0)
                return vmenv_libvirt_error(err, "cannot delete snapshot '%s'", name);
        return 0;
}

struct snap_item {
        long long created;
        char *name;
};

static int cmp_created(const void *a, const void *b)
{
        const struct snap_item *x = a, *y = b;
        if (x->created != y->created)
                return (x->created > y->created) - (x->created < y->created);
        return strcmp(x->name, y->name);
}

/* creationTime from the snapshot's XML, for ordering. */
static long long created(virDomainSnapshotPtr s)
{
        _cleanup_free_ char *xml = virDomainSnapshotGetXMLDesc(s, 0);
        const char *t = xml ? strstr(xml, "<creationTime>") : NULL;
        return t ? atoll(t + strlen("<creationTime>")) : 0;
}

int vmenv_libvirt_snapshot_list(struct vmenv_provider *p, const char *domain, char ***names,
                                vmenv_error *err)
{
        _cleanup_domain_ virDomainPtr d = NULL;
        virDomainSnapshotPtr *snaps = NULL;
        _cleanup_free_ struct snap_item *items = NULL;
        char **v;
        int n;

        if (!(d = vmenv_libvirt_domain_lookup(p, domain, err)))
                return -1;
        if ((n = virDomainListAllSnapshots(d, &snaps, 0)) < 0)
                return vmenv_libvirt_error(err, "cannot list the snapshots of '%s'", domain);
        items = vmenv_calloc((size_t)n, sizeof(*items));
        for (int i = 0; i < n; i++) {
                items[i].created = created(snaps[i]);
                items[i].name = vmenv_strdup(virDomainSnapshotGetName(snaps[i]));
                virDomainSnapshotFree(snaps[i]);
        }
        free(snaps);
        qsort(items, (size_t)n, sizeof(*items), cmp_created);
        v = vmenv_calloc((size_t)n + 1, sizeof(char *));
        for (int i = 0; i < n; i++)
                v[i] = items[i].name;
        *names = v;
        return 0;
}

static int sink(virStreamPtr st, const char *buf, size_t n, void *opaque)
{
        int fd = *(int *)opaque;
        size_t done = 0;
        (void)st;
        while (done < n) {
                ssize_t w = write(fd, buf + done, n - done);
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        return -1;
                }
                done += (size_t)w;
        }
        return (int)n;
}

int vmenv_libvirt_volume_export(struct vmenv_provider *p, const char *pool, const char *vol,
                                const char *dest, vmenv_error *err)
{
        _cleanup_pool_ virStoragePoolPtr pl = NULL;
        _cleanup_vol_ virStorageVolPtr src = NULL;
        _cleanup_vol_ virStorageVolPtr tmp = NULL;
        _cleanup_stream_ virStreamPtr st = NULL;
        _cleanup_free_ char *tmpname = vmenv_strdupf("%s.export-%ld.qcow2", vol, (long)getpid());
        _cleanup_free_ char *etmp = vmenv_xml_escape(tmpname);
        _cleanup_free_ char *xml = NULL;
        _cleanup_free_ char *part = vmenv_strdupf("%s.part", dest);
        _cleanup_close_ int fd = -1;
        int r = -1;

        if (!(pl = vmenv_libvirt_pool_get(p, pool, err)))
                return -1;
        if (!(src = virStorageVolLookupByName(pl, vol)))
                return vmenv_libvirt_error(err, "cannot find volume '%s'", vol);
        /* Cloning into a volume without a backing store makes libvirt run
         * qemu-img convert, which merges the chain. */
        xml = vmenv_strdupf("<volume><name>%s</name><capacity>0</capacity>"
                            "<target><format type='qcow2'/></target></volume>",
                            etmp);
        vmenv_debug("flattening '%s' into '%s'", vol, tmpname);
        if (!(tmp = virStorageVolCreateXMLFrom(pl, xml, src, 0)))
                return vmenv_libvirt_error(err, "cannot flatten volume '%s'", vol);
        if ((fd = open(part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) {
                vmenv_error_errno(err, 0, errno, "cannot write '%s'", part);
                goto out;
        }
        if (!(st = virStreamNew(p->conn, 0)) || virStorageVolDownload(tmp, st, 0, 0, 0) < 0) {
                vmenv_libvirt_error(err, "cannot download volume '%s'", tmpname);
                goto out;
        }
        if (virStreamRecvAll(st, sink, &fd) < 0) {
                vmenv_libvirt_error(err, "cannot download volume '%s'", tmpname);
                virStreamAbort(st);
                goto out;
        }
        if (virStreamFinish(st) < 0) {
                vmenv_libvirt_error(err, "cannot download volume '%s'", tmpname);
                goto out;
        }
        if (fsync(fd) < 0 || close(TAKE_FD(fd)) < 0 || rename(part, dest) < 0) {
                vmenv_error_errno(err, 0, errno, "cannot write '%s'", dest);
                goto out;
        }
        r = 0;
out:
        if (r < 0)
                unlink(part);
        virStorageVolDelete(tmp, 0);
        return r;
}
