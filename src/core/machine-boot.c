/* Booting a machine until a command runs over SSH, watching the domain
 * meanwhile, and the first-boot setup that makes the machine its own. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "machine-private.h"
#include "vmenv/log.h"
#include "vmenv/sync.h"
#include "vmenv/util.h"

#define CONSOLE_TAIL_LINES 15

/* Diagnostics. */

static char *console_tail(const struct vmenv_machine_state *st)
{
        _cleanup_free_ char *path = vmenv_state_path(st, "console.log");
        _cleanup_free_ char *text = NULL;
        size_t len = 0, lines = 0;
        char *p;

        if (vmenv_read_file(path, 64u << 20, &text, &len, NULL) < 0 || len == 0)
                return vmenv_strdup("  (the serial console printed nothing)");
        p = text + len;
        while (p > text && lines <= CONSOLE_TAIL_LINES)
                if (*--p == '\n')
                        lines++;
        if (*p == '\n')
                p++;
        {
                struct vmenv_buf b = {0};
                for (char *line = strtok(p, "\n"); line; line = strtok(NULL, "\n")) {
                        line[strcspn(line, "\r")] = '\0';
                        vmenv_buf_printf(&b, "  | %s\n", line);
                }
                if (b.len)
                        b.data[--b.len] = '\0';
                return vmenv_buf_steal(&b);
        }
}

static void fill_target(const struct vmenv_machine_config *m, const struct vmenv_machine_state *st,
                        const char *key, struct vmenv_ssh_target *t)
{
        *t = (struct vmenv_ssh_target){
            .host = vmenv_machine_ssh_host(st),
            .port = st->ssh_port,
            .user = m->ssh.user ? m->ssh.user : "vagrant",
            .key_path = key,
            .known_host_key = st->host_key,
            .connect_timeout_ms = 2000,
        };
}

/* The key to log in with: ours after first boot, else the configured one or
 * the Vagrant insecure key. */
char *vmenv_machine_login_key(const struct vmenv_machine_config *m,
                              const struct vmenv_machine_state *st, vmenv_error *err)
{
        if (st->key_replaced)
                return vmenv_state_path(st, "private_key");
        if (m->ssh.private_key)
                return vmenv_path_join(NULL, m->ssh.private_key);
        return vmenv_insecure_key_path(err);
}

/* nat mode: the guest's address from its DHCP lease, polled until the
 * deadline (the lease of an earlier boot may answer first: dnsmasq gives a
 * MAC the same address again). */
static int wait_address(struct vmenv_project *p, const struct vmenv_machine_config *m,
                        struct vmenv_machine_state *st, uint64_t deadline, vmenv_error *err)
{
        vmenv_info("%s: waiting for an address on network '%s'", m->name, VMENV_NAT_NETWORK);
        for (;;) {
                char *ip = NULL;
                if (p->ops->guest_address(p->conn, st->domain, &ip, err) < 0)
                        return -1;
                if (ip) {
                        free(st->ssh_host);
                        st->ssh_host = ip;
                        return vmenv_state_save(st, err);
                }
                if (vmenv_now_ns() >= deadline) {
                        _cleanup_free_ char *tail = console_tail(st);
                        vmenv_error_set(err, VMENV_EXIT_TEMPFAIL,
                                        "machine '%s' got no address from network '%s' within "
                                        "%d s\n  serial console (last lines):\n%s",
                                        m->name, VMENV_NAT_NETWORK, m->boot_timeout, tail);
                        return vmenv_error_hint(err,
                                                "the box must ask for an address by DHCP on its "
                                                "first network card");
                }
                usleep(200000);
        }
}

static struct vmenv_ssh *wait_ssh(struct vmenv_project *p, const struct vmenv_machine_config *m,
                                  struct vmenv_machine_state *st, vmenv_error *err)
{
        _cleanup_free_ char *key = vmenv_machine_login_key(m, st, err);
        _cleanup_free_ char *seen = NULL, *last = NULL;
        struct vmenv_ssh_target t;
        struct vmenv_ssh *s;
        uint64_t deadline = vmenv_now_ns() + (uint64_t)m->boot_timeout * 1000000000ull;

        if (!key)
                return NULL;
        if (vmenv_machine_nat(m) && wait_address(p, m, st, deadline, err) < 0)
                return NULL;
        fill_target(m, st, key, &t);
        vmenv_info("%s: waiting for SSH on %s:%d (timeout %d s)", m->name,
                   vmenv_machine_ssh_host(st), st->ssh_port, m->boot_timeout);
        s = vmenv_ssh_wait(&t, deadline, &seen, &last, err);
        if (!s) {
                enum vmenv_vm_state vs = VMENV_VM_OTHER;
                vmenv_error e2 = VMENV_ERROR_INIT;
                _cleanup_free_ char *tail = console_tail(st);
                if (err && err->code == VMENV_EXIT_NOPERM && err->msg &&
                    strstr(err->msg, "host key"))
                        return NULL; /* a changed host key is its own answer */
                p->ops->state(p->conn, st->domain, &vs, &e2);
                vmenv_error_clear(&e2);
                vmenv_error_set(err, VMENV_EXIT_TEMPFAIL,
                                "machine '%s' did not answer on SSH (%s:%d) within %d s\n"
                                "  domain '%s' is %s\n  last SSH error: %s\n"
                                "  serial console (last lines):\n%s",
                                m->name, vmenv_machine_ssh_host(st), st->ssh_port, m->boot_timeout,
                                st->domain, vmenv_vm_state_name(vs), last ? last : "none", tail);
                vmenv_error_hint(err,
                                 "raise 'boot_timeout', check the box, or run 'vmenv "
                                 "destroy %s'",
                                 m->name);
                return NULL;
        }
        if (!st->host_key && seen)
                st->host_key = TAKE_PTR(seen);
        return s;
}

/* First boot: our own key replaces the insecure one; the hostname is set. */
char *vmenv_machine_known_hosts(const struct vmenv_machine_state *st)
{
        return vmenv_state_path(st, "known_hosts");
}

int vmenv_machine_endpoint(const struct vmenv_config *c, const struct vmenv_machine_config *m,
                           struct vmenv_ssh_endpoint *out, vmenv_error *err)
{
        _cleanup_(vmenv_state_freep) struct vmenv_machine_state *st = NULL;
        char *key;

        if (!(st = vmenv_state_load(c, m->name, err)))
                return -1;
        if (!st->ssh_port) {
                vmenv_error_set(err, VMENV_EXIT_FAILURE, "machine '%s' was never brought up",
                                m->name);
                return vmenv_error_hint(err, "run 'vmenv up %s'", m->name);
        }
        if (!(key = vmenv_machine_login_key(m, st, err)))
                return -1;
        *out = (struct vmenv_ssh_endpoint){
            .host = vmenv_strdup(vmenv_machine_ssh_host(st)),
            .port = st->ssh_port,
            .user = m->ssh.user ? m->ssh.user : "vagrant",
            .key = key,
            .known_hosts = vmenv_machine_known_hosts(st),
        };
        return 0;
}

void vmenv_ssh_endpoint_clear(struct vmenv_ssh_endpoint *e)
{
        free(e->host);
        free(e->key);
        free(e->known_hosts);
        e->host = e->key = e->known_hosts = NULL;
}

/* The system ssh (ssh-config, ssh -- ARGS) checks the same host key. */
static int write_known_hosts(const struct vmenv_machine_state *st, vmenv_error *err)
{
        _cleanup_free_ char *path = vmenv_machine_known_hosts(st);
        _cleanup_free_ char *line = NULL;

        if (!st->host_key)
                return 0;
        /* OpenSSH names port 22 by the bare host */
        if (st->ssh_port == 22)
                line = vmenv_strdupf("%s %s\n", vmenv_machine_ssh_host(st), st->host_key);
        else
                line = vmenv_strdupf("[%s]:%d %s\n", vmenv_machine_ssh_host(st), st->ssh_port,
                                     st->host_key);
        return vmenv_write_file_atomic(path, line, strlen(line), 0600, err);
}

static int first_boot(const struct vmenv_machine_config *m, struct vmenv_machine_state *st,
                      struct vmenv_ssh *s, vmenv_error *err)
{
        _cleanup_free_ char *key = vmenv_state_path(st, "private_key");
        _cleanup_free_ char *pub = NULL, *insecure_pub = NULL, *cmd = NULL, *qh = NULL;
        _cleanup_free_ char *comment = vmenv_strdupf("vmenv:%s", st->domain);
        int status = 0;

        if (!m->ssh.private_key) {
                _cleanup_free_ char *ipath = vmenv_insecure_key_path(err);
                _cleanup_free_ char *ppath = NULL;
                if (!ipath)
                        return -1;
                ppath = vmenv_strdupf("%s.pub", ipath);
                if (vmenv_read_file(ppath, 16384, &insecure_pub, NULL, NULL) < 0)
                        insecure_pub = NULL; /* removal then matches nothing; say so below */
                unlink(key);
                {
                        _cleanup_free_ char *pubfile = vmenv_strdupf("%s.pub", key);
                        unlink(pubfile);
                }
                if (vmenv_ssh_keygen(key, comment, &pub, err) < 0)
                        return vmenv_error_prefix(err, "cannot make the key of '%s'", m->name);
                if (vmenv_ssh_replace_insecure_key(s, pub, insecure_pub, err) < 0)
                        return vmenv_error_prefix(err, "cannot replace the insecure key of '%s'",
                                                  m->name);
                if (!insecure_pub)
                        vmenv_warn("%s: no insecure public key found to remove from the guest",
                                   m->name);
                st->key_replaced = true;
        }
        qh = vmenv_shell_quote(m->hostname ? m->hostname : m->name);
        cmd = vmenv_strdupf("sudo -n sh -c 'hostname \"$1\" && echo \"$1\" > /etc/hostname' sh %s",
                            qh);
        if (vmenv_ssh_exec(s, cmd, NULL, 0, -1, -1, &status, err) < 0)
                return vmenv_error_prefix(err, "cannot set the hostname of '%s'", m->name);
        if (status != 0)
                vmenv_warn("%s: setting the hostname failed (exit status %d)", m->name, status);
        return 0;
}

static int mount_folders(const struct vmenv_machine_config *m, struct vmenv_ssh *s,
                         vmenv_error *err)
{
        for (size_t i = 0; i < m->n_folders; i++) {
                const struct vmenv_synced_folder *f = &m->folders[i];
                _cleanup_free_ char *qg = NULL, *cmd = NULL;
                int status = 0;
                if (!vmenv_folder_shared(f))
                        continue;
                qg = vmenv_shell_quote(f->guest);
                if (vmenv_streq(f->type, "9p"))
                        cmd = vmenv_strdupf("mountpoint -q %s || { sudo -n mkdir -p %s && sudo -n "
                                            "mount -t 9p -o trans=virtio,version=9p2000.L,"
                                            "msize=262144 vmenv%zu %s; }",
                                            qg, qg, i, qg);
                else
                        cmd = vmenv_strdupf("mountpoint -q %s || { sudo -n mkdir -p %s && sudo -n "
                                            "mount -t virtiofs vmenv%zu %s; }",
                                            qg, qg, i, qg);
                if (vmenv_ssh_exec(s, cmd, NULL, 0, -1, STDERR_FILENO, &status, err) < 0)
                        return -1;
                if (status != 0)
                        return vmenv_error_set(err, VMENV_EXIT_FAILURE,
                                               "machine '%s': cannot mount the %s folder '%s' at "
                                               "'%s' (exit status %d)",
                                               m->name, f->type, f->host, f->guest, status);
                vmenv_info("%s: %s <- %s (%s)", m->name, f->guest, f->host, f->type);
        }
        return 0;
}

int vmenv_machine_boot(struct vmenv_project *p, const struct vmenv_machine_config *m,
                       struct vmenv_machine_state *st, bool start, bool fresh,
                       const struct vmenv_up_opts *o, vmenv_error *err)
{
        _cleanup_(vmenv_ssh_freep) struct vmenv_ssh *s = NULL;
        uint64_t t0 = vmenv_now_ns(), t1;

        if (start) {
                const struct vmenv_host_info *host = vmenv_project_host(p, err);
                if (!host)
                        return -1;
                if (!host->kvm)
                        vmenv_warn("%s: no KVM on this host: running under TCG emulation, "
                                   "which is much slower",
                                   m->name);
                vmenv_info("%s: booting", m->name);
                if (p->ops->start(p->conn, st->domain, err) < 0)
                        return vmenv_error_prefix(err, "cannot start machine '%s'", m->name);
        }
        if (!(s = wait_ssh(p, m, st, err)))
                return -1;
        t1 = vmenv_now_ns();
        if (fresh && first_boot(m, st, s, err) < 0)
                return -1;
        if (vmenv_state_save(st, err) < 0 || write_known_hosts(st, err) < 0)
                return -1;
        if (mount_folders(m, s, err) < 0)
                return -1;
        /* rsync folders are copied whenever up boots the machine (and by
         * 'vmenv rsync'), before provisioners that may need them. */
        if (start && vmenv_machine_sync_ssh(p, m, s, err) < 0)
                return -1;
        if (o && o->timings)
                vmenv_info("%s: boot to SSH %.2f s, first-boot setup %.2f s", m->name,
                           (double)(t1 - t0) / 1e9, (double)(vmenv_now_ns() - t1) / 1e9);
        return 0;
}

struct vmenv_ssh *vmenv_machine_ssh(struct vmenv_project *p, const struct vmenv_machine_config *m,
                                    vmenv_error *err)
{
        _cleanup_(vmenv_state_freep) struct vmenv_machine_state *st = NULL;
        _cleanup_free_ char *key = NULL;
        enum vmenv_vm_state vs;
        struct vmenv_ssh_target t;
        struct vmenv_ssh *s;

        if (!(st = vmenv_state_load(p->config, m->name, err)))
                return NULL;
        if (p->ops->state(p->conn, st->domain, &vs, err) < 0)
                return NULL;
        if (vs != VMENV_VM_RUNNING || !st->ssh_port) {
                vmenv_error_set(err, VMENV_EXIT_FAILURE, "machine '%s' is %s", m->name,
                                vmenv_vm_state_name(vs));
                vmenv_error_hint(err, "run 'vmenv up %s' first", m->name);
                return NULL;
        }
        if (!(key = vmenv_machine_login_key(m, st, err)))
                return NULL;
        fill_target(m, st, key, &t);
        if (!(s = vmenv_ssh_connect(&t, NULL, err)))
                vmenv_error_prefix(err, "cannot reach '%s' over SSH", m->name);
        return s;
}
