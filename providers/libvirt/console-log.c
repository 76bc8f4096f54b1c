/* The serial console's log as a volume of the storage pool: virtlogd on the
 * hypervisor appends to it, and vmenv reads its tail back through a libvirt
 * stream (virStorageVolDownload), so a remote domain's console is read the
 * same way as a local one's. Chosen over draining virDomainOpenConsole into
 * memory: the log keeps what the guest printed while no vmenv ran, and
 * 'virsh console' stays free for the user during the boot wait. */
#include <stdlib.h>
#include <string.h>

#include "console-log.h"
#include "vmenv/cleanup.h"
#include "vmenv/log.h"
#include "vmenv/util.h"

/* virtlogd keeps this many rotated copies at most (virtlogd.conf's
 * max_backups defaults to 3): NAME.0, NAME.1, … */
#define MAX_ROTATED 10

static char *log_vol_name(const char *domain)
{
        return vmenv_strdupf("%s-console.log", domain);
}

static bool name_ok(const char *domain)
{
        return domain && *domain && !strchr(domain, '/') && domain[0] != '.' &&
               strlen(domain) < 200;
}

bool vmenv_libvirt_console_log_name(const char *name)
{
        static const char suffix[] = "-console.log";
        const char *s = name ? strstr(name, suffix) : NULL;

        for (; s; s = strstr(s + 1, suffix)) {
                const char *t = s + sizeof(suffix) - 1;
                if (s == name)
                        continue;
                if (!*t || (t[0] == '.' && t[1] >= '0' && t[1] < '0' + MAX_ROTATED && !t[2]))
                        return true;
        }
        return false;
}

/* Only a pool whose volumes are files can hold a log virtlogd appends to
 * (a logical or iSCSI pool's volumes are block devices). */
static int pool_is_folder(virStoragePoolPtr pool, bool *yes, vmenv_error *err)
{
        _cleanup_free_ char *xml = virStoragePoolGetXMLDesc(pool, 0);

        if (!xml)
                return vmenv_libvirt_error(err, "cannot read storage pool '%s'",
                                           virStoragePoolGetName(pool));
        *yes = strstr(xml, "<pool type='dir'") || strstr(xml, "<pool type='fs'") ||
               strstr(xml, "<pool type='netfs'");
        return 0;
}

int vmenv_libvirt_console_log_ensure(struct vmenv_provider *p, const char *pool_name,
                                     const char *domain, char **path, vmenv_error *err)
{
        _cleanup_pool_ virStoragePoolPtr pool = NULL;
        _cleanup_vol_ virStorageVolPtr vol = NULL;
        _cleanup_domain_ virDomainPtr dom = NULL;
        _cleanup_free_ char *name = NULL, *ename = NULL, *xml = NULL;
        char *lp;
        bool folder = false;

        *path = NULL;
        if (!name_ok(domain))
                return vmenv_error_set(err, VMENV_EXIT_SOFTWARE, "invalid domain name '%s'",
                                       domain ? domain : "");
        if (!(pool = vmenv_libvirt_pool_get(p, pool_name, err)) ||
            pool_is_folder(pool, &folder, err) < 0)
                return -1;
        if (!folder) {
                vmenv_debug("no console log for '%s': pool '%s' is not a folder", domain,
                            virStoragePoolGetName(pool));
                return 0;
        }
        /* define's ownership check, first: a define it refuses must not
         * leave a new volume behind (nor touch another's log) */
        if ((dom = virDomainLookupByName(p->conn, domain)) &&
            vmenv_libvirt_check_owner(p, dom, domain, err) < 0)
                return -1;
        name = log_vol_name(domain);
        if (!(vol = virStorageVolLookupByName(pool, name))) {
                if (!vmenv_libvirt_last_error_is(VIR_ERR_NO_STORAGE_VOL))
                        return vmenv_libvirt_error(err, "cannot look up volume '%s'", name);
                ename = vmenv_xml_escape(name);
                xml = vmenv_strdupf("<volume>\n"
                                    "  <name>%s</name>\n"
                                    "  <capacity unit='bytes'>0</capacity>\n"
                                    "  <target>\n"
                                    "    <format type='raw'/>\n"
                                    "    <permissions><mode>0600</mode></permissions>\n"
                                    "  </target>\n"
                                    "</volume>\n",
                                    ename);
                if (!(vol = virStorageVolCreateXML(pool, xml, 0)) &&
                    !(vmenv_libvirt_last_error_is(VIR_ERR_STORAGE_VOL_EXIST) &&
                      (vol = virStorageVolLookupByName(pool, name))))
                        return vmenv_libvirt_error(err, "cannot create the console log '%s'", name);
        }
        if (!(lp = virStorageVolGetPath(vol)))
                return vmenv_libvirt_error(err, "cannot get the path of volume '%s'", name);
        *path = vmenv_strdup(lp);
        free(lp);
        return 0;
}

/* The volume by name; *vol NULL when the pool has none. */
static int find_log(struct vmenv_provider *p, const char *pool_name, const char *name,
                    virStorageVolPtr *vol, vmenv_error *err)
{
        _cleanup_pool_ virStoragePoolPtr pool = NULL;

        if (!(pool = vmenv_libvirt_pool_get(p, pool_name, err)))
                return -1;
        if (!(*vol = virStorageVolLookupByName(pool, name)) &&
            !vmenv_libvirt_last_error_is(VIR_ERR_NO_STORAGE_VOL))
                return vmenv_libvirt_error(err, "cannot look up volume '%s'", name);
        return 0;
}

int vmenv_libvirt_console_log_read(struct vmenv_provider *p, const char *pool_name,
                                   const char *domain, size_t max, char **data, size_t *len,
                                   vmenv_error *err)
{
        _cleanup_free_ char *name = NULL, *buf = NULL;
        _cleanup_vol_ virStorageVolPtr vol = NULL;
        _cleanup_stream_ virStreamPtr st = NULL;
        virStorageVolInfo info;
        unsigned long long off;
        size_t n = 0;

        *data = NULL;
        *len = 0;
        if (!name_ok(domain) || max == 0)
                return 0;
        name = log_vol_name(domain);
        if (find_log(p, pool_name, name, &vol, err) < 0)
                return -1;
        if (!vol)
                return 0;
        /* The file's size on disk, which the storage driver stats again
         * for this. Not its capacity: the guest writes the log's bytes, and
         * a qcow2 header at its start (after virtlogd rotated it) makes
         * libvirt probe it as an image of any capacity it names. */
        if (virStorageVolGetInfoFlags(vol, &info, VIR_STORAGE_VOL_GET_PHYSICAL) < 0)
                return vmenv_libvirt_error(err, "cannot read the size of '%s'", name);
        off = info.allocation > max ? info.allocation - max : 0;
        buf = vmenv_malloc(max + 1);
        if (!(st = virStreamNew(p->conn, 0)) || virStorageVolDownload(vol, st, off, max, 0) < 0)
                return vmenv_libvirt_error(err, "cannot read the console log '%s'", name);
        for (;;) {
                int r = virStreamRecv(st, buf + n, max - n);
                if (r < 0) {
                        virStreamAbort(st);
                        return vmenv_libvirt_error(err, "cannot read the console log '%s'", name);
                }
                if (r == 0)
                        break;
                n += (size_t)r;
                if (n == max) {
                        /* the length asked for: the rest came after */
                        virStreamAbort(st);
                        break;
                }
        }
        if (n < max && virStreamFinish(st) < 0)
                return vmenv_libvirt_error(err, "cannot read the console log '%s'", name);
        buf[n] = '\0';
        *data = TAKE_PTR(buf);
        *len = n;
        return 0;
}

int vmenv_libvirt_console_log_remove(struct vmenv_provider *p, const char *pool_name,
                                     const char *domain, vmenv_error *err)
{
        _cleanup_pool_ virStoragePoolPtr pool = NULL;
        _cleanup_free_ char *name = NULL;

        if (!name_ok(domain))
                return 0;
        name = log_vol_name(domain);
        if (!(pool = vmenv_libvirt_pool_get(p, pool_name, err)))
                return -1;
        /* virtlogd's rotated copies are volumes only after a refresh, which
         * the storage driver refuses while an upload runs: then they stay */
        if (virStoragePoolRefresh(pool, 0) < 0)
                vmenv_debug("not refreshing pool '%s' before removing '%s'",
                            virStoragePoolGetName(pool), name);
        for (int i = -1; i < MAX_ROTATED; i++) {
                _cleanup_free_ char *n =
                    i < 0 ? vmenv_strdup(name) : vmenv_strdupf("%s.%d", name, i);
                _cleanup_vol_ virStorageVolPtr vol = virStorageVolLookupByName(pool, n);
                if (!vol) {
                        if (!vmenv_libvirt_last_error_is(VIR_ERR_NO_STORAGE_VOL))
                                return vmenv_libvirt_error(err, "cannot look up volume '%s'", n);
                        continue;
                }
                if (virStorageVolDelete(vol, 0) < 0 &&
                    !vmenv_libvirt_last_error_is(VIR_ERR_NO_STORAGE_VOL))
                        return vmenv_libvirt_error(err, "cannot delete the console log '%s'", n);
        }
        return 0;
}
