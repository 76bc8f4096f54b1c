/* A cloud image's machine: its NoCloud seed made, written as an ISO and put
 * into the storage pool beside its disk (again whenever its inputs change),
 * and, after the first login, the wait for cloud-init to finish. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "machine-private.h"
#include "vmenv/cloud.h"
#include "vmenv/log.h"

/* The seed volume of a domain: "<domain>-seed-<12 hex of its digest>.iso",
 * so a changed seed is a new volume and the old one is deleted by name. */
static char *seed_prefix(const struct vmenv_machine_state *st)
{
        return vmenv_strdupf("%s-seed-", st->domain);
}

/* Exactly a seed vmenv names (PREFIX + 12 hex digits + ".iso"): a machine
 * 'db' must not take the volumes of a machine named 'db-x-seed-...'. */
static bool is_seed(const char *prefix, const char *name)
{
        size_t n = strlen(prefix);
        if (strncmp(name, prefix, n))
                return false;
        name += n;
        for (int i = 0; i < 12; i++)
                if (!strchr("0123456789abcdef", name[i]) || !name[i])
                        return false;
        return !strcmp(name + 12, ".iso");
}

/* The machine's own key, made once before its first boot: cloud-init puts
 * the public half into the guest, so it is the only key ever used. */
static int own_key(const struct vmenv_machine_config *m, struct vmenv_machine_state *st, char **pub,
                   vmenv_error *err)
{
        _cleanup_free_ char *key = vmenv_state_path(st, "private_key");
        _cleanup_free_ char *pubfile = vmenv_strdupf("%s.pub", key);
        _cleanup_free_ char *comment = vmenv_strdupf("vmenv:%s", st->domain);

        if (vmenv_path_exists(key) && vmenv_read_file(pubfile, 16384, pub, NULL, NULL) == 0) {
                (*pub)[strcspn(*pub, "\r\n")] = '\0';
        } else {
                unlink(key);
                unlink(pubfile);
                if (vmenv_ssh_keygen(key, comment, pub, err) < 0)
                        return vmenv_error_prefix(err, "cannot make the key of '%s'", m->name);
        }
        if (!st->key_replaced)
                st->key_pending = true; /* log in with it; confirmed at first boot */
        return 0;
}

int vmenv_machine_cloud_seed(struct vmenv_project *p, const struct vmenv_machine_config *m,
                             struct vmenv_machine_state *st, const char *mac, char **path,
                             vmenv_error *err)
{
        _cleanup_free_ char *pub = NULL, *ud = NULL, *digest = NULL;
        _cleanup_free_ char *prefix = seed_prefix(st), *vol = NULL, *home = vmenv_home();
        _cleanup_free_ char *tmpdir = vmenv_path_join(home, "tmp"), *iso = NULL;
        struct vmenv_cloud_seed seed = {0};
        size_t ud_len = 0;
        char **names = NULL;
        int r;

        if (own_key(m, st, &pub, err) < 0)
                return -1;
        if (!st->instance_id)
                st->instance_id = vmenv_cloud_instance_id_new();
        /* only a file inside the project: a link or '..' out of it would
         * put any file this user can read into the guest */
        if (m->cloud_init.user_data) {
                if (vmenv_read_project_file(p->config->dir, m->cloud_init.user_data,
                                            VMENV_CLOUD_USER_DATA_MAX, &ud, &ud_len, err) < 0)
                        return vmenv_error_prefix(err, "machine '%s': cloud_init.user_data",
                                                  m->name);
        }
        struct vmenv_cloud_seed_in in = {
            .instance_id = st->instance_id,
            .hostname = m->hostname ? m->hostname : m->name,
            .user = vmenv_machine_user(m, st),
            .public_key = pub,
            .mac = mac,
            .user_data = ud,
            .user_data_len = ud_len,
            .user_data_name = m->cloud_init.user_data,
            .minimal = m->cloud_init.minimal,
        };
        if (vmenv_cloud_seed_make(&in, &seed, err) < 0)
                return vmenv_error_prefix(err, "machine '%s'", m->name);
        digest = vmenv_cloud_seed_digest(&seed);
        vol = vmenv_strdupf("%s%.12s.iso", prefix, strchr(digest, ':') + 1);
        if (vmenv_state_save(st, err) < 0)
                goto out;

        /* The volume of this very seed may be there already (a redefine
         * with nothing changed): nothing to upload. */
        r = p->ops->volume_path(p->conn, m->libvirt.storage_pool, vol, path, err);
        if (r < 0) {
                vmenv_error_clear(err);
                iso = vmenv_strdupf("%s/seed-%d-%s", tmpdir, (int)getpid(), vol);
                if (vmenv_mkdir_p(tmpdir, 0700, err) < 0 ||
                    vmenv_cloud_iso_write(&seed, iso, err) < 0)
                        goto out;
                r = p->ops->image_ensure(p->conn, m->libvirt.storage_pool, vol, iso, "raw", path,
                                         err);
                unlink(iso);
                if (r < 0) {
                        vmenv_error_prefix(err, "cannot put the seed of '%s' into the pool",
                                           m->name);
                        goto out;
                }
                vmenv_debug("%s: seed %s (%s)", m->name, vol, digest);
        }
        /* Earlier seeds of this machine go. */
        if (p->ops->volume_list(p->conn, m->libvirt.storage_pool, prefix, &names, err) == 0) {
                for (char **n = names; n && *n; n++) {
                        vmenv_error e = VMENV_ERROR_INIT;
                        if (strcmp(*n, vol) && is_seed(prefix, *n) &&
                            p->ops->volume_delete(p->conn, m->libvirt.storage_pool, *n, &e) < 0)
                                vmenv_debug("cannot delete old seed '%s': %s", *n, e.msg);
                        vmenv_error_clear(&e);
                }
                vmenv_strv_free(names);
        } else {
                vmenv_error_clear(err);
        }
        vmenv_cloud_seed_clear(&seed);
        return 0;
out:
        vmenv_cloud_seed_clear(&seed);
        return -1;
}

int vmenv_machine_cloud_check(struct vmenv_project *p, const struct vmenv_machine_config *m,
                              vmenv_error *err)
{
        _cleanup_free_ char *ud = NULL;

        if (!m->cloud_init.user_data)
                return 0;
        if (vmenv_read_project_file(p->config->dir, m->cloud_init.user_data,
                                    VMENV_CLOUD_USER_DATA_MAX, &ud, NULL, err) < 0)
                return vmenv_error_prefix(err, "machine '%s': cloud_init.user_data", m->name);
        return 0;
}

int vmenv_machine_cloud_remove(struct vmenv_project *p, const struct vmenv_machine_config *m,
                               const struct vmenv_machine_state *st, vmenv_error *err)
{
        _cleanup_free_ char *prefix = seed_prefix(st);
        char **names = NULL;
        int r = 0;

        if (p->ops->volume_list(p->conn, m->libvirt.storage_pool, prefix, &names, err) < 0)
                return -1;
        for (char **n = names; n && *n && r == 0; n++)
                if (is_seed(prefix, *n))
                        r = p->ops->volume_delete(p->conn, m->libvirt.storage_pool, *n, err);
        vmenv_strv_free(names);
        return r;
}

/* What a failure shows of /var/log/cloud-init-output.log. */
#define CLOUD_INIT_OUTPUT_LINES 25
/* timeout(1)'s exit status when the command ran out of time. */
#define TIMED_OUT 124

int vmenv_machine_cloud_wait(const struct vmenv_machine_config *m, struct vmenv_ssh *s,
                             double *seconds, vmenv_error *err)
{
        _cleanup_free_ char *out = NULL, *log = NULL, *tail = NULL;
        /* boot_timeout bounds this wait too (in the guest: a session
         * blocked in --wait has no other end); a user's cloud-config that
         * installs packages under TCG may need it raised */
        _cleanup_free_ char *cmd =
            vmenv_strdupf("timeout %d cloud-init status --wait --long 2>&1", m->boot_timeout);
        uint64_t t0 = vmenv_now_ns();
        int status = -1;

        vmenv_info("%s: waiting for cloud-init", m->name);
        /* --wait blocks until cloud-init is done; 'status' says how it ended
         * (exit 1: error; 2: done with recoverable errors, cloud-init >= 23.4) */
        if (vmenv_ssh_capture(s, cmd, 65536, &out, &status, err) < 0)
                return vmenv_error_prefix(err, "machine '%s': cannot wait for cloud-init", m->name);
        if (status == TIMED_OUT) {
                vmenv_error_set(err, VMENV_EXIT_TEMPFAIL,
                                "cloud-init did not finish in machine '%s' within %d s", m->name,
                                m->boot_timeout);
                return vmenv_error_hint(err,
                                        "raise 'boot_timeout', or see 'vmenv ssh %s -c "
                                        "\"cloud-init status --long\"'",
                                        m->name);
        }
        *seconds = (double)(vmenv_now_ns() - t0) / 1e9;
        if (status == 0 || status == 2) {
                if (status == 2)
                        vmenv_warn("%s: cloud-init finished with recoverable errors", m->name);
                return 0;
        }
        {
                vmenv_error e = VMENV_ERROR_INIT;
                int st2 = 0;
                _cleanup_free_ char *tail_cmd = vmenv_strdupf(
                    "sudo -n tail -n %d /var/log/cloud-init-output.log", CLOUD_INIT_OUTPUT_LINES);
                if (vmenv_ssh_capture(s, tail_cmd, 1 << 20, &log, &st2, &e) < 0)
                        vmenv_error_clear(&e);
        }
        tail = log ? vmenv_text_tail(log, strlen(log), CLOUD_INIT_OUTPUT_LINES, "    ") : NULL;
        _cleanup_free_ char *shown = out ? vmenv_text_tail(out, strlen(out), 8, "    ") : NULL;
        vmenv_error_set(err, VMENV_EXIT_FAILURE,
                        "cloud-init failed in machine '%s' (exit status %d)\n"
                        "  cloud-init status:\n%s\n"
                        "  /var/log/cloud-init-output.log (last lines):\n%s",
                        m->name, status, shown ? shown : "    (nothing)",
                        tail ? tail : "    (not readable)");
        return vmenv_error_hint(err,
                                "check cloud_init.user_data; 'vmenv ssh %s' and 'cloud-init "
                                "status --long' say more",
                                m->name);
}
