/* Booting a machine until a command runs over SSH, watching the domain
 * meanwhile, and the first-boot setup that makes the machine its own. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "machine-private.h"
#include "vmenv/log.h"
#include "vmenv/privnet.h"
#include "vmenv/sync.h"
#include "vmenv/util.h"

#define CONSOLE_TAIL_LINES 15
#define CONSOLE_TAIL_BYTES (64 * 1024)

/* Diagnostics. */

/* The last lines of the serial console that show something, each prefixed
 * "  | ", read through the hypervisor's connection (a remote domain's log
 * is on its host). */
static char *console_tail(struct vmenv_project *p, const struct vmenv_machine_config *m,
                          const struct vmenv_machine_state *st)
{
        _cleanup_free_ char *text = NULL;
        vmenv_error e = VMENV_ERROR_INIT;
        size_t len = 0;
        char *tail;

        if (!p->ops->console_log_read)
                return vmenv_strdupf("  (the %s provider keeps no console log)", p->ops->name);
        if (p->ops->console_log_read(p->conn, m->libvirt.storage_pool, st->domain,
                                     CONSOLE_TAIL_BYTES, &text, &len, &e) < 0) {
                tail = vmenv_strdupf("  (not readable: %s)", e.msg);
                vmenv_error_clear(&e);
                return tail;
        }
        if (!text || !(tail = vmenv_text_tail(text, len, CONSOLE_TAIL_LINES, "  | ")))
                return vmenv_strdup("  (the serial console printed nothing)");
        return tail;
}

static void fill_target(const struct vmenv_ssh_jump *jump, const struct vmenv_machine_config *m,
                        const struct vmenv_machine_state *st, const char *key,
                        struct vmenv_ssh_target *t)
{
        *t = (struct vmenv_ssh_target){
            .jump = jump,
            .host = vmenv_machine_ssh_host(st),
            .port = st->ssh_port,
            .user = vmenv_machine_user(m, st),
            .key_path = key,
            .known_host_key = st->host_key,
            .connect_timeout_ms = 2000,
        };
}

/* The key to log in with: ours once it was made (first boot swaps it in),
 * else the configured one or the Vagrant insecure key. */
char *vmenv_machine_login_key(const struct vmenv_machine_config *m,
                              const struct vmenv_machine_state *st, vmenv_error *err)
{
        if (st->key_replaced || st->key_pending)
                return vmenv_state_path(st, "private_key");
        if (m->ssh.private_key)
                return vmenv_path_join(NULL, m->ssh.private_key);
        return vmenv_insecure_key_path(err);
}

/* The boot wait watches the domain: one that pauses, crashes or shuts off
 * by itself ends the wait at once, with what libvirt and QEMU said. */
struct boot_watch {
        struct vmenv_project *p;
        const struct vmenv_machine_config *m;
        const struct vmenv_machine_state *st;
        char *stopped; /* the domain stopped by itself: how (a KVM failure or its state) */
};

static int watch_domain(void *ctx, vmenv_error *err)
{
        struct boot_watch *w = ctx;
        const struct vmenv_provider_ops *ops = w->p->ops;
        enum vmenv_vm_state vs;
        _cleanup_free_ char *tail = NULL, *how = NULL, *qlog = NULL;
        const char *kvm;

        if (ops->state(w->p->conn, w->st->domain, &vs, err) < 0)
                return vmenv_error_prefix(err, "machine '%s': cannot follow its domain",
                                          w->m->name);
        if (vs == VMENV_VM_RUNNING)
                return 0;
        /* a domain on its way down: report where it ends */
        for (int i = 0; i < 20 && vs == VMENV_VM_SHUTTING_DOWN; i++) {
                usleep(100000);
                if (ops->state(w->p->conn, w->st->domain, &vs, err) < 0)
                        return -1;
        }
        if (!ops->state_detail || ops->state_detail(w->p->conn, w->st->domain, &vs, &how, NULL) < 0)
                how = vmenv_strdup(vmenv_vm_state_name(vs));
        qlog = ops->log_tail ? ops->log_tail(w->p->conn, w->st->domain, 12) : NULL;
        kvm = qlog ? vmenv_qemu_log_kvm_failure(qlog) : NULL;
        free(w->stopped);
        w->stopped = vmenv_strdup(kvm ? kvm : how);
        tail = console_tail(w->p, w->m, w->st);
        vmenv_error_set(err, VMENV_EXIT_UNAVAILABLE,
                        "machine '%s' stopped while booting: domain '%s' is %s%s%s\n"
                        "  QEMU log (last lines):\n%s\n"
                        "  serial console (last lines):\n%s",
                        w->m->name, w->st->domain, how, kvm ? ": " : "", kvm ? kvm : "",
                        qlog && *qlog ? qlog : "  (not readable from here)", tail);
        return vmenv_error_hint(err, "run 'vmenv up %s' to try again or 'vmenv destroy %s'",
                                w->m->name, w->m->name);
}

/* nat mode: the guest's address from its DHCP lease, polled until the
 * deadline (the lease of an earlier boot may answer first: dnsmasq gives a
 * MAC the same address again). */
static int wait_address(struct vmenv_project *p, const struct vmenv_machine_config *m,
                        struct vmenv_machine_state *st, uint64_t deadline, struct boot_watch *bw,
                        vmenv_error *err)
{
        vmenv_info("%s: waiting for an address on network '%s'", m->name, VMENV_NAT_NETWORK);
        for (;;) {
                char *ip = NULL;
                if (watch_domain(bw, err) < 0)
                        return -1;
                if (p->ops->guest_address(p->conn, st->domain, &ip, err) < 0)
                        return -1;
                if (ip) {
                        free(st->ssh_host);
                        st->ssh_host = ip;
                        return vmenv_state_save(st, err);
                }
                if (vmenv_now_ns() >= deadline) {
                        _cleanup_free_ char *tail = console_tail(p, m, st);
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

/* First boot, as one idempotent script run in the wait's own channel: our
 * key in authorized_keys (and the insecure one out), then the hostname,
 * with a 127.0.1.1 line as Vagrant's Debian guest writes it (sudo resolves
 * the hostname on every call). Converges when run again after any
 * interruption. A hostname that cannot be set is a warning. */
#define HOSTNAME_FAILED "vmenv-first-boot: hostname not set"

static char *first_boot_script(const struct vmenv_machine_config *m, const char *new_pub,
                               const char *insecure_pub, vmenv_error *err)
{
        _cleanup_free_ char *keys = NULL, *qh = NULL;
        struct vmenv_buf b = {0};

        if (new_pub && !(keys = vmenv_ssh_authorized_keys_script(new_pub, insecure_pub, err)))
                return NULL;
        if (keys)
                vmenv_buf_printf(&b, "%s || exit 1\n", keys);
        qh = vmenv_shell_quote(m->hostname ? m->hostname : m->name);
        vmenv_buf_printf(
            &b,
            "sudo -n sh -c 'h=$1; s=${h%%%%.*}; hostname \"$h\" && echo \"$h\" > /etc/hostname || "
            "exit 1; if grep -q \"^127\\.0\\.1\\.1[[:space:]]\" /etc/hosts; then "
            "sed -i \"s/^127\\.0\\.1\\.1[[:space:]].*/127.0.1.1 $h $s/\" /etc/hosts; "
            "else printf \"127.0.1.1\\t%%s %%s\\n\" \"$h\" \"$s\" >> /etc/hosts; fi' sh %s "
            "</dev/null || echo '" HOSTNAME_FAILED "'\n",
            qh);
        return vmenv_buf_steal(&b);
}

/* Makes (or keeps) the machine's own key before the first boot, and marks
 * it pending: from then on the login tries it first, so a crash between
 * the swap in the guest and the state saying so cannot lock vmenv out. */
static int prepare_key(const struct vmenv_machine_config *m, struct vmenv_machine_state *st,
                       char **pub, vmenv_error *err)
{
        _cleanup_free_ char *key = vmenv_state_path(st, "private_key");
        _cleanup_free_ char *pubfile = vmenv_strdupf("%s.pub", key);
        _cleanup_free_ char *comment = vmenv_strdupf("vmenv:%s", st->domain);

        if ((st->key_pending || st->key_replaced) &&
            vmenv_read_file(pubfile, 16384, pub, NULL, NULL) == 0 && vmenv_path_exists(key)) {
                (*pub)[strcspn(*pub, "\r\n")] = '\0';
                return 0;
        }
        unlink(key);
        unlink(pubfile);
        if (vmenv_ssh_keygen(key, comment, pub, err) < 0)
                return vmenv_error_prefix(err, "cannot make the key of '%s'", m->name);
        st->key_pending = true;
        st->key_replaced = false;
        return vmenv_state_save(st, err);
}

static char *insecure_pub_line(void)
{
        _cleanup_free_ char *ipath = vmenv_insecure_key_path(NULL);
        _cleanup_free_ char *ppath = ipath ? vmenv_strdupf("%s.pub", ipath) : NULL;
        char *text = NULL;

        if (!ppath || vmenv_read_file(ppath, 16384, &text, NULL, NULL) < 0)
                return NULL;
        return text;
}

/* Waits until a command runs: the first-boot script when first boot is
 * due, else 'true'. */
static struct vmenv_ssh *wait_ready(struct vmenv_project *p, const struct vmenv_machine_config *m,
                                    struct vmenv_machine_state *st, bool first, char **stopped,
                                    vmenv_error *err)
{
        _cleanup_free_ char *pub = NULL, *insecure_pub = NULL, *script = NULL;
        _cleanup_free_ char *key = NULL, *alt = NULL;
        struct boot_watch bw = {.p = p, .m = m, .st = st};
        struct vmenv_ssh_wait w = {
            .deadline_ns = vmenv_now_ns() + (uint64_t)m->boot_timeout * 1000000000ull,
            .watch = watch_domain,
            .watch_ctx = &bw,
        };
        struct vmenv_ssh_target t;
        struct vmenv_ssh *s;

        if (first && (!m->ssh.private_key || vmenv_machine_cloud(m, st))) {
                if (prepare_key(m, st, &pub, err) < 0)
                        return NULL;
                if (vmenv_machine_cloud(m, st)) {
                        /* the seed installed the key: no insecure one */
                } else if (!(insecure_pub = insecure_pub_line()))
                        vmenv_warn("%s: no insecure public key found to remove from the guest",
                                   m->name);
        }
        /* A cloud image: cloud-init did the key and hostname; the wait is
         * for a command, then for cloud-init (vmenv_machine_boot). */
        if (first && !vmenv_machine_cloud(m, st) &&
            !(script = first_boot_script(m, pub, insecure_pub, err)))
                return NULL;
        if (!(key = vmenv_machine_login_key(m, st, err)))
                return NULL;
        /* while the swap is unconfirmed, the box's key may still be the one */
        if (st->key_pending && !vmenv_machine_cloud(m, st) &&
            !(alt = m->ssh.private_key ? vmenv_path_join(NULL, m->ssh.private_key)
                                       : vmenv_insecure_key_path(err)))
                return NULL;
        if (vmenv_machine_nat(m) && wait_address(p, m, st, w.deadline_ns, &bw, err) < 0) {
                *stopped = TAKE_PTR(bw.stopped);
                return NULL;
        }
        fill_target(p->jump, m, st, key, &t);
        t.alt_key_path = alt;
        /* trust on first use: only up's wait may meet a new host key */
        t.tofu = !st->host_key;
        w.ready_cmd = script;
        vmenv_info("%s: waiting for SSH on %s:%d (timeout %d s)", m->name,
                   vmenv_machine_ssh_host(st), st->ssh_port, m->boot_timeout);
        s = vmenv_ssh_wait_ready(&t, &w, err);
        if (!s) {
                *stopped = bw.stopped;
                if (bw.stopped ||
                    (err->code == VMENV_EXIT_NOPERM && err->msg && strstr(err->msg, "host key"))) {
                        /* its own answer: a stopped domain, a changed key */
                } else {
                        enum vmenv_vm_state vs = VMENV_VM_OTHER;
                        vmenv_error e2 = VMENV_ERROR_INIT;
                        _cleanup_free_ char *tail = console_tail(p, m, st);
                        _cleanup_free_ char *why = vmenv_strdup(err->msg ? err->msg : "");
                        p->ops->state(p->conn, st->domain, &vs, &e2);
                        vmenv_error_clear(&e2);
                        vmenv_error_set(err,
                                        err->code == VMENV_EXIT_NOPERM ? VMENV_EXIT_NOPERM
                                                                       : VMENV_EXIT_TEMPFAIL,
                                        "machine '%s' did not run a command over SSH (%s:%d) "
                                        "within %d s\n"
                                        "  domain '%s' is %s\n  tries: %u (%s)\n"
                                        "  last SSH error: %s\n"
                                        "  serial console (last lines):\n%s",
                                        m->name, vmenv_machine_ssh_host(st), st->ssh_port,
                                        m->boot_timeout, st->domain, vmenv_vm_state_name(vs),
                                        w.tries, w.attempts ? w.attempts : "none",
                                        w.last_error ? w.last_error : why, tail);
                        vmenv_error_hint(err,
                                         "raise 'boot_timeout', check the box, or run 'vmenv "
                                         "destroy %s'",
                                         m->name);
                }
                vmenv_ssh_wait_clear(&w);
                *stopped = TAKE_PTR(bw.stopped);
                return NULL;
        }
        vmenv_debug("%s: ready after %u tries (%s)", m->name, w.tries, w.attempts);
        if (!st->host_key && w.seen_host_key)
                st->host_key = TAKE_PTR(w.seen_host_key);
        if (first) {
                if (w.ready_status != 0) {
                        vmenv_error_set(err, VMENV_EXIT_FAILURE,
                                        "first-boot setup of '%s' failed (exit status %d)%s%s",
                                        m->name, w.ready_status,
                                        w.ready_output && *w.ready_output ? ": " : "",
                                        w.ready_output ? w.ready_output : "");
                        vmenv_ssh_wait_clear(&w);
                        vmenv_ssh_free(s);
                        return NULL;
                }
                if (w.ready_output && strstr(w.ready_output, HOSTNAME_FAILED))
                        vmenv_warn("%s: setting the hostname failed", m->name);
                /* the guest confirmed: only now does the state say so */
                if (pub) {
                        st->key_replaced = true;
                        st->key_pending = false;
                }
                st->first_boot_done = true;
        }
        vmenv_ssh_wait_clear(&w);
        return s;
}

char *vmenv_machine_known_hosts(const struct vmenv_machine_state *st)
{
        return vmenv_state_path(st, "known_hosts");
}

struct vmenv_ssh *vmenv_machine_ssh_remote(const struct vmenv_config *c,
                                           const struct vmenv_machine_config *m, vmenv_error *err)
{
        _cleanup_(vmenv_state_freep) struct vmenv_machine_state *st = NULL;
        _cleanup_free_ char *key = NULL;
        struct vmenv_ssh_jump *j = NULL;
        struct vmenv_ssh_target t;
        struct vmenv_ssh *s = NULL;

        if (vmenv_ssh_jump_from_uri(vmenv_machine_uri(m), &j, err) < 0)
                return NULL;
        if (!j) {
                vmenv_error_set(err, VMENV_EXIT_USAGE, "machine '%s' is on this host", m->name);
                return NULL;
        }
        if ((st = vmenv_state_load(c, m->name, err)) && st->ssh_port && st->host_key &&
            (key = vmenv_machine_login_key(m, st, err))) {
                fill_target(j, m, st, key, &t);
                t.connect_timeout_ms = 15000;
                s = vmenv_ssh_connect(&t, NULL, err);
        } else if (st && !err->msg) {
                vmenv_error_set(err, VMENV_EXIT_FAILURE, "machine '%s' was never brought up",
                                m->name);
        }
        vmenv_ssh_jump_free(j);
        return s;
}

int vmenv_machine_endpoint(const struct vmenv_config *c, const struct vmenv_machine_config *m,
                           struct vmenv_ssh_endpoint *out, vmenv_error *err)
{
        _cleanup_(vmenv_state_freep) struct vmenv_machine_state *st = NULL;
        struct vmenv_ssh_jump *j = NULL;
        char *key;

        if (!(st = vmenv_state_load(c, m->name, err)))
                return -1;
        if (vmenv_ssh_jump_from_uri(vmenv_machine_uri(m), &j, err) < 0)
                return -1;
        if (!st->ssh_port) {
                vmenv_error_set(err, VMENV_EXIT_FAILURE, "machine '%s' was never brought up",
                                m->name);
                return vmenv_error_hint(err, "run 'vmenv up %s'", m->name);
        }
        if (!(key = vmenv_machine_login_key(m, st, err))) {
                vmenv_ssh_jump_free(j);
                return -1;
        }
        *out = (struct vmenv_ssh_endpoint){
            .jump = j ? vmenv_ssh_jump_spec(j) : NULL,
            .proxy_command = j ? vmenv_ssh_jump_proxy_command(j) : NULL,
            .host = vmenv_strdup(vmenv_machine_ssh_host(st)),
            .port = st->ssh_port,
            .user = vmenv_machine_user(m, st),
            .key = key,
            .known_hosts = vmenv_machine_known_hosts(st),
        };
        vmenv_ssh_jump_free(j);
        return 0;
}

void vmenv_ssh_endpoint_clear(struct vmenv_ssh_endpoint *e)
{
        free(e->host);
        free(e->key);
        free(e->known_hosts);
        free(e->jump);
        free(e->proxy_command);
        e->host = e->key = e->known_hosts = e->jump = e->proxy_command = NULL;
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
                       struct vmenv_machine_state *st, bool start, char **stopped,
                       const struct vmenv_up_opts *o, vmenv_error *err)
{
        _cleanup_(vmenv_ssh_freep) struct vmenv_ssh *s = NULL;
        bool first = !st->first_boot_done;
        uint64_t t0 = vmenv_now_ns(), t1, t2;
        double cloud_s = 0;

        *stopped = NULL;
        if (start) {
                vmenv_info("%s: booting", m->name);
                if (vmenv_machine_start(p, m, st, err) < 0)
                        return vmenv_error_prefix(err, "cannot start machine '%s'", m->name);
        }
        if (first)
                vmenv_info("%s: first boot: %s", m->name,
                           vmenv_machine_cloud(m, st) ? "cloud-init with the machine's own key"
                                                      : "own key, hostname");
        if (!(s = wait_ready(p, m, st, first, stopped, err)))
                return -1;
        t1 = vmenv_now_ns();
        /* the host key and the key swap are recorded before cloud-init is
         * waited for: a machine whose cloud-init failed is one to ssh into */
        if (vmenv_state_save(st, err) < 0 || write_known_hosts(st, err) < 0)
                return -1;
        if (vmenv_machine_cloud(m, st) && (start || first) &&
            vmenv_machine_cloud_wait(m, s, &cloud_s, err) < 0)
                return -1;
        t2 = vmenv_now_ns();
        if (vmenv_privnet_guest_configure(p->config, m, s, err) < 0)
                return -1;
        if (mount_folders(m, s, err) < 0)
                return -1;
        /* rsync folders are copied whenever up boots the machine (and by
         * 'vmenv rsync'), before provisioners that may need them. */
        if ((start || first) && vmenv_machine_sync_ssh(p, m, s, err) < 0)
                return -1;
        if (o && o->timings) {
                struct vmenv_accel a = {0};
                vmenv_error e = VMENV_ERROR_INIT;
                vmenv_project_accel(p, &a, &e);
                vmenv_error_clear(&e);
                if (vmenv_machine_cloud(m, st))
                        vmenv_info("%s: cloud-init %.2f s", m->name, cloud_s);
                vmenv_info("%s: boot to a command over SSH%s %.2f s, folders %.2f s (%s)", m->name,
                           first ? " (with first-boot setup)" : "", (double)(t1 - t0) / 1e9,
                           (double)(vmenv_now_ns() - t2) / 1e9, a.reason);
        }
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
        fill_target(p->jump, m, st, key, &t);
        /* a running guest under load may take seconds to send its banner:
         * the boot wait's short per-try budget is not for this */
        t.connect_timeout_ms = 15000;
        if (!(s = vmenv_ssh_connect(&t, NULL, err)))
                vmenv_error_prefix(err, "cannot reach '%s' over SSH", m->name);
        return s;
}
