/* The lifecycle of a project's machines: what up, halt, destroy, suspend and
 * resume do, on top of the provider, the box store and the SSH module. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "vmenv/box.h"
#include "vmenv/cleanup.h"
#include "vmenv/lock.h"
#include "vmenv/log.h"
#include "vmenv/machine.h"
#include "vmenv/ssh.h"
#include "vmenv/sync.h"
#include "vmenv/util.h"

#define CONSOLE_TAIL_LINES 15

VMENV_DEFINE_CLEANUP(struct vmenv_machine_state, vmenv_state_free)
VMENV_DEFINE_CLEANUP(struct vmenv_ssh, vmenv_ssh_free)
VMENV_DEFINE_CLEANUP(struct vmenv_box, vmenv_box_free)

struct vmenv_project *vmenv_project_open(struct vmenv_config *c,
                                         const struct vmenv_provider_ops *ops, vmenv_error *err)
{
        struct vmenv_project *p = vmenv_calloc(1, sizeof(*p));
        const char *uri = c->n_machines ? c->machines[0].libvirt.uri : NULL;

        p->config = c;
        p->ops = ops;
        if (!(p->conn = ops->open(uri, err)))
                goto fail;
        return p;
fail:
        vmenv_project_close(p);
        return NULL;
}

const struct vmenv_host_info *vmenv_project_host(struct vmenv_project *p, vmenv_error *err)
{
        if (!p->host_known) {
                if (p->ops->host_info(p->conn, &p->host, err) < 0)
                        return NULL;
                p->host_known = true;
        }
        return &p->host;
}

void vmenv_project_close(struct vmenv_project *p)
{
        if (!p)
                return;
        if (p->conn)
                p->ops->close(p->conn);
        vmenv_host_info_clear(&p->host);
        free(p);
}

int vmenv_project_select(const struct vmenv_config *c, int argc, char *const *names,
                         const struct vmenv_machine_config ***out, size_t *n, vmenv_error *err)
{
        const struct vmenv_machine_config **v;
        size_t k = 0;

        if (argc == 0) {
                v = vmenv_calloc(c->n_machines, sizeof(*v));
                for (size_t i = 0; i < c->n_machines; i++)
                        v[k++] = &c->machines[i];
                *out = v;
                *n = k;
                return 0;
        }
        v = vmenv_calloc((size_t)argc, sizeof(*v));
        for (int i = 0; i < argc; i++) {
                const struct vmenv_machine_config *m = vmenv_config_machine(c, names[i]);
                bool dup = false;
                if (!m) {
                        vmenv_error_set(err, VMENV_EXIT_USAGE, "no machine '%s' in '%s'", names[i],
                                        c->path);
                        free(v);
                        return -1;
                }
                for (size_t j = 0; j < k; j++)
                        dup |= v[j] == m;
                if (!dup)
                        v[k++] = m;
        }
        *out = v;
        *n = k;
        return 0;
}

const struct vmenv_machine_config *vmenv_project_select_one(const struct vmenv_config *c,
                                                            const char *name, vmenv_error *err)
{
        const struct vmenv_machine_config *m;

        if (name) {
                if (!(m = vmenv_config_machine(c, name)))
                        vmenv_error_set(err, VMENV_EXIT_USAGE, "no machine '%s' in '%s'", name,
                                        c->path);
                return m;
        }
        if (c->n_machines == 1)
                return &c->machines[0];
        for (size_t i = 0; i < c->n_machines; i++)
                if (c->machines[i].primary)
                        return &c->machines[i];
        vmenv_error_set(err, VMENV_EXIT_USAGE, "this project has %zu machines; name one",
                        c->n_machines);
        vmenv_error_hint(err, "or mark one with 'primary: true' in vmenv.yaml");
        return NULL;
}

/* Ports. */

static int port_free(const char *ip, int port, const char *proto)
{
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        int one = 1, fd, r;

        if (inet_pton(AF_INET, ip, &sa.sin_addr) != 1)
                return -1;
        fd = socket(AF_INET, (vmenv_streq(proto, "udp") ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC,
                    0);
        if (fd < 0)
                return -1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
        close(fd);
        return r == 0;
}

static int pick_free_port(const char *ip, const char *proto)
{
        struct sockaddr_in sa = {.sin_family = AF_INET};
        socklen_t len = sizeof(sa);
        int fd, port = -1;

        inet_pton(AF_INET, ip, &sa.sin_addr);
        fd = socket(AF_INET, (vmenv_streq(proto, "udp") ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC,
                    0);
        if (fd < 0)
                return -1;
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
            getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
                port = ntohs(sa.sin_port);
        close(fd);
        return port;
}

/* Who listens on a TCP port, for the error message: "pid 42 (nginx)". */
static char *port_user(int port)
{
        _cleanup_fclose_ FILE *f = fopen("/proc/net/tcp", "re");
        char line[512];
        unsigned long inode = 0;
        DIR *proc;
        struct dirent *de;

        while (f && fgets(line, sizeof(line), f)) {
                unsigned int lport, st;
                unsigned long ino;
                if (sscanf(line, " %*d: %*x:%x %*x:%*x %x %*x:%*x %*x:%*x %*x %*d %*d %lu", &lport,
                           &st, &ino) == 3 &&
                    (int)lport == port && st == 0x0A) {
                        inode = ino;
                        break;
                }
        }
        if (!inode || !(proc = opendir("/proc")))
                return vmenv_strdup("another process");
        while ((de = readdir(proc))) {
                char fddir[300], target[64], want[64];
                DIR *fds;
                struct dirent *fe;
                if (de->d_name[0] < '0' || de->d_name[0] > '9')
                        continue;
                snprintf(fddir, sizeof(fddir), "/proc/%s/fd", de->d_name);
                snprintf(want, sizeof(want), "socket:[%lu]", inode);
                if (!(fds = opendir(fddir)))
                        continue;
                while ((fe = readdir(fds))) {
                        char link[600];
                        ssize_t n;
                        snprintf(link, sizeof(link), "%s/%s", fddir, fe->d_name);
                        n = readlink(link, target, sizeof(target) - 1);
                        if (n <= 0)
                                continue;
                        target[n] = '\0';
                        if (!strcmp(target, want)) {
                                char comm[64] = "?", path[300];
                                FILE *c;
                                snprintf(path, sizeof(path), "/proc/%s/comm", de->d_name);
                                if ((c = fopen(path, "re"))) {
                                        if (fgets(comm, sizeof(comm), c))
                                                comm[strcspn(comm, "\n")] = '\0';
                                        fclose(c);
                                }
                                char *who = vmenv_strdupf("pid %s (%s)", de->d_name, comm);
                                closedir(fds);
                                closedir(proc); /* frees de */
                                return who;
                        }
                }
                closedir(fds);
        }
        closedir(proc);
        return vmenv_strdup("another process");
}

/* nat mode: machines share this libvirt network, made on first use. */
#define NAT_NETWORK "vmenv"

static bool nat_mode(const struct vmenv_machine_config *m)
{
        return vmenv_streq(m->network, "nat");
}

static const char *ssh_host(const struct vmenv_machine_state *st)
{
        return st->ssh_host ? st->ssh_host : "127.0.0.1";
}

/* Decides the host ports: SSH first (kept across ups), then forwarded_ports
 * (moved when taken and auto_correct is set). In nat mode there are none
 * (the config refuses forwarded_ports there): SSH is the guest's own port. */
static int plan_ports(const struct vmenv_machine_config *m, struct vmenv_machine_state *st,
                      vmenv_error *err)
{
        for (size_t i = 0; i < st->n_ports; i++) {
                free(st->ports[i].host_ip);
                free(st->ports[i].protocol);
        }
        free(st->ports);
        st->ports = vmenv_calloc(m->n_forwards + 1, sizeof(*st->ports));
        st->n_ports = 0;
        free(st->ssh_host);
        st->ssh_host = NULL;

        if (nat_mode(m)) {
                st->ssh_port = m->ssh.port;
                return 0;
        }

        if (st->ssh_port <= 0 || port_free("127.0.0.1", st->ssh_port, "tcp") != 1)
                st->ssh_port = pick_free_port("127.0.0.1", "tcp");
        if (st->ssh_port <= 0)
                return vmenv_error_set(err, VMENV_EXIT_IO, "cannot find a free port for SSH");
        st->ports[st->n_ports++] = (struct vmenv_state_port){
            vmenv_strdup("127.0.0.1"), st->ssh_port, m->ssh.port, vmenv_strdup("tcp")};

        for (size_t i = 0; i < m->n_forwards; i++) {
                const struct vmenv_forward *f = &m->forwards[i];
                const char *ip = f->host_ip ? f->host_ip : "127.0.0.1";
                const char *proto = f->protocol ? f->protocol : "tcp";
                int host = f->host;
                int fr = port_free(ip, host, proto);

                if (fr < 0)
                        return vmenv_error_set(err, VMENV_EXIT_CONFIG,
                                               "forwarded port %d: host_ip '%s' is not an IPv4 "
                                               "address of this host",
                                               f->guest, ip);
                if (fr == 0) {
                        _cleanup_free_ char *who = port_user(host);
                        if (!f->auto_correct) {
                                vmenv_error_set(err, VMENV_EXIT_UNAVAILABLE,
                                                "machine '%s': host port %d (%s/%s) is already in "
                                                "use by %s",
                                                m->name, host, ip, proto, who);
                                return vmenv_error_hint(err,
                                                        "free the port, choose another 'host:', or "
                                                        "set 'auto_correct: true'");
                        }
                        host = pick_free_port(ip, proto);
                        vmenv_warn("%s: host port %d is used by %s; forwarding %d instead", m->name,
                                   f->host, who, host);
                }
                st->ports[st->n_ports++] = (struct vmenv_state_port){vmenv_strdup(ip), host,
                                                                     f->guest, vmenv_strdup(proto)};
        }
        return 0;
}

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
            .host = ssh_host(st),
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
        vmenv_info("%s: waiting for an address on network '%s'", m->name, NAT_NETWORK);
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
                                        m->name, NAT_NETWORK, m->boot_timeout, tail);
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
        if (nat_mode(m) && wait_address(p, m, st, deadline, err) < 0)
                return NULL;
        fill_target(m, st, key, &t);
        vmenv_info("%s: waiting for SSH on %s:%d (timeout %d s)", m->name, ssh_host(st),
                   st->ssh_port, m->boot_timeout);
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
                                m->name, ssh_host(st), st->ssh_port, m->boot_timeout, st->domain,
                                vmenv_vm_state_name(vs), last ? last : "none", tail);
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
            .host = vmenv_strdup(ssh_host(st)),
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
                line = vmenv_strdupf("%s %s\n", ssh_host(st), st->host_key);
        else
                line = vmenv_strdupf("[%s]:%d %s\n", ssh_host(st), st->ssh_port, st->host_key);
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

/* "vmenv-box-<name, / as _>-" : the pool volumes of a box start so. */
static char *box_volume_prefix(const char *box)
{
        struct vmenv_buf b = {0};
        vmenv_buf_puts(&b, "vmenv-box-");
        for (const char *c = box; *c; c++)
                vmenv_buf_add(&b, (*c == '/' || *c == ':') ? "_" : c, 1);
        vmenv_buf_puts(&b, "-");
        return vmenv_buf_steal(&b);
}

/* "<prefix><version>@<12 hex of its digest>.qcow2": the pool is shared by
 * every store of the host, and a version published again with other
 * content (or a store with another box of that name) must not reuse a copy
 * made from different bytes. Without a digest (a store copied from
 * Vagrant): "<prefix><version>.qcow2". */
static char *box_volume_name(const char *box, const char *version, const char *digest,
                             const char *format)
{
        _cleanup_free_ char *prefix = box_volume_prefix(box);
        const char *hex = digest ? strchr(digest, ':') : NULL;
        const char *ext = vmenv_streq(format, "raw") ? "img" : "qcow2";

        if (hex && strlen(hex + 1) >= 12)
                return vmenv_strdupf("%s%s@%.12s.%s", prefix, version, hex + 1, ext);
        return vmenv_strdupf("%s%s.%s", prefix, version, ext);
}

int vmenv_box_pool_remove(const struct vmenv_provider_ops *ops, const char *box,
                          const char *version, vmenv_error *err)
{
        _cleanup_free_ char *prefix = box_volume_prefix(box);
        struct vmenv_provider *conn;
        vmenv_error e = VMENV_ERROR_INIT;
        char **names = NULL;
        int r = 0;

        /* The store is the user's; a libvirt that is down must not keep a
         * box from being removed. */
        if (!(conn = ops->open(NULL, &e))) {
                vmenv_debug("not removing pool copies of '%s': %s", box, e.msg);
                vmenv_error_clear(&e);
                return 0;
        }
        if (ops->volume_list(conn, NULL, prefix, &names, &e) < 0) {
                vmenv_debug("not removing pool copies of '%s': %s", box, e.msg);
                vmenv_error_clear(&e);
                goto out;
        }
        for (char **n = names; *n; n++) {
                /* the rest must be exactly "<version>[@<digest>].<ext>":
                 * "tiny-nossh-1.0" is another box than "tiny" */
                _cleanup_free_ char *ver = vmenv_strdup(*n + strlen(prefix));
                char *dot = strrchr(ver, '.'), *at;
                if (!dot || (strcmp(dot, ".qcow2") && strcmp(dot, ".img")))
                        continue;
                *dot = '\0';
                if ((at = strchr(ver, '@')))
                        *at = '\0';
                if (!vmenv_version_valid(ver) || (version && strcmp(ver, version)))
                        continue;
                if (ops->volume_delete(conn, NULL, *n, &e) < 0) {
                        vmenv_warn("kept '%s' in the storage pool: %s", *n, e.msg);
                        vmenv_error_clear(&e);
                        continue;
                }
                vmenv_debug("removed '%s' from the storage pool", *n);
        }
out:
        vmenv_strv_free(names);
        ops->close(conn);
        return r;
}

static int index_machine(struct vmenv_project *p, const struct vmenv_machine_config *m,
                         const struct vmenv_machine_state *st, vmenv_error *err)
{
        struct vmenv_index_entry e = {
            .project_dir = p->config->dir,
            .machine = m->name,
            .domain = st->domain,
            .uri = st->uri,
            .box = st->box_name,
            .box_version = st->box_version,
        };
        return vmenv_index_put(&e, err);
}

/* 9p and virtiofs folders become filesystem devices tagged vmenv<N>, N
 * being the folder's index in the file; the guest mounts them after boot. */
static bool shared_type(const struct vmenv_synced_folder *f)
{
        return !f->disabled && (vmenv_streq(f->type, "9p") || vmenv_streq(f->type, "virtiofs"));
}

static void fs_specs_free(struct vmenv_fs_spec *fs)
{
        for (size_t i = 0; fs && fs[i].tag; i++) {
                free((char *)fs[i].host_path);
                free((char *)fs[i].tag);
        }
        free(fs);
}
VMENV_DEFINE_CLEANUP(struct vmenv_fs_spec, fs_specs_free)

static int shared_folders(struct vmenv_project *p, const struct vmenv_machine_config *m,
                          struct vmenv_fs_spec **out, size_t *n, vmenv_error *err)
{
        struct vmenv_fs_spec *fs = vmenv_calloc(m->n_folders + 1, sizeof(*fs));
        size_t k = 0;

        for (size_t i = 0; i < m->n_folders; i++) {
                const struct vmenv_synced_folder *f = &m->folders[i];
                _cleanup_free_ char *joined = NULL;
                char *real;
                if (!shared_type(f))
                        continue;
                joined = vmenv_path_join(p->config->dir, f->host);
                if (!(real = realpath(joined, NULL))) {
                        vmenv_error_errno(err, VMENV_EXIT_CONFIG, errno,
                                          "machine '%s': synced folder '%s' cannot be shared",
                                          m->name, f->host);
                        fs_specs_free(fs);
                        return -1;
                }
                fs[k].host_path = real;
                fs[k].tag = vmenv_strdupf("vmenv%zu", i);
                fs[k].type = f->type;
                k++;
        }
        *out = fs;
        *n = k;
        return 0;
}

/* Mounts the 9p/virtiofs folders and says which type each folder got. */
static int mount_folders(const struct vmenv_machine_config *m, struct vmenv_ssh *s,
                         vmenv_error *err)
{
        for (size_t i = 0; i < m->n_folders; i++) {
                const struct vmenv_synced_folder *f = &m->folders[i];
                _cleanup_free_ char *qg = NULL, *cmd = NULL;
                int status = 0;
                if (!shared_type(f))
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

static int define_machine(struct vmenv_project *p, const struct vmenv_machine_config *m,
                          struct vmenv_machine_state *st, const char *disk_path,
                          const char *disk_format, vmenv_error *err)
{
        _cleanup_free_ char *log = vmenv_state_path(st, "console.log");
        _cleanup_free_ char *title = vmenv_strdupf("vmenv: %s/%s", p->config->project, m->name);
        _cleanup_free_ struct vmenv_port_map *ports = NULL;
        _cleanup_(fs_specs_freep) struct vmenv_fs_spec *fs = NULL;
        struct vmenv_disk_spec disk = {disk_path, disk_format};
        const struct vmenv_host_info *host = vmenv_project_host(p, err);
        struct vmenv_domain_spec spec = {
            .name = st->domain,
            .title = title,
            .project_dir = p->config->dir,
            .machine = m->name,
            .memory = m->memory,
            .cpus = m->cpus,
            .machine_type = m->libvirt.machine_type,
            .cpu_mode = m->libvirt.cpu_mode,
            .kvm = host && host->kvm,
            .disks = &disk,
            .n_disks = 1,
            .serial_log = log,
            .kernel = m->kernel,
            .initrd = m->initrd,
            .cmdline = m->cmdline,
            .network = m->network,
            .nat_network = nat_mode(m) ? NAT_NETWORK : NULL,
            .video = m->libvirt.video,
            .graphics = m->libvirt.graphics,
        };

        if (!host)
                return -1;
        if (plan_ports(m, st, err) < 0)
                return -1;
        if (nat_mode(m) && p->ops->network_ensure(p->conn, NAT_NETWORK, err) < 0)
                return vmenv_error_prefix(err, "machine '%s'", m->name);
        if (shared_folders(p, m, &fs, &spec.n_fs, err) < 0)
                return -1;
        spec.fs = fs;
        ports = vmenv_calloc(st->n_ports, sizeof(*ports));
        for (size_t i = 0; i < st->n_ports; i++)
                ports[i] = (struct vmenv_port_map){st->ports[i].host_ip, st->ports[i].host_port,
                                                   st->ports[i].guest_port, st->ports[i].protocol};
        spec.ports = ports;
        spec.n_ports = st->n_ports;
        if (vmenv_state_save(st, err) < 0)
                return -1;
        if (p->ops->define(p->conn, &spec, err) < 0)
                return vmenv_error_prefix(err, "cannot define machine '%s'", m->name);
        return 0;
}

static int create_machine(struct vmenv_project *p, const struct vmenv_machine_config *m,
                          struct vmenv_machine_state *st, const struct vmenv_up_opts *o,
                          vmenv_error *err)
{
        _cleanup_(vmenv_box_freep) struct vmenv_box *box = NULL;
        _cleanup_free_ char *base_path = NULL, *disk_path = NULL;
        struct vmenv_box_opts bo = {.fetch.insecure = o->insecure};
        uint64_t t0 = vmenv_now_ns();

        struct vmenv_lock_pin pin = {0};

        if (vmenv_lock_pin(o->lock, m, &pin, err) < 0)
                return -1;
        box = vmenv_box_ensure(pin.name, pin.constraint, pin.url, pin.checksum, &bo, err);
        vmenv_lock_pin_clear(&pin);
        if (!box)
                return vmenv_error_prefix(err, "cannot get box '%s' for '%s'", m->box, m->name);
        if (vmenv_lock_verify_box(o->lock, m, box, err) < 0 ||
            vmenv_box_check_unchanged(box, err) < 0)
                return vmenv_error_prefix(err, "cannot create '%s'", m->name);
        free(st->box_name);
        free(st->box_version);
        free(st->box_volume);
        free(st->disk_volume);
        free(st->box_digest);
        st->box_name = vmenv_strdup(box->name);
        st->box_version = vmenv_strdup(box->version);
        st->box_digest = vmenv_strdup(box->digest);
        st->box_volume = box_volume_name(box->name, box->version, box->digest, box->format);
        st->disk_volume = vmenv_strdupf("%s.qcow2", st->domain);
        st->key_replaced = false;
        free(st->host_key);
        st->host_key = NULL;
        vmenv_strv_free(st->provisioned);
        st->provisioned = NULL;
        if (vmenv_state_save(st, err) < 0)
                return -1;

        if (p->ops->image_ensure(p->conn, m->libvirt.storage_pool, st->box_volume, box->images[0],
                                 box->format, &base_path, err) < 0)
                return vmenv_error_prefix(err, "cannot import box '%s' into the storage pool",
                                          box->name);
        /* A leftover overlay from an interrupted up has never been trusted:
         * start again from the box. */
        if (p->ops->volume_delete(p->conn, m->libvirt.storage_pool, st->disk_volume, err) < 0)
                return -1;
        if (p->ops->overlay_create(p->conn, m->libvirt.storage_pool, st->disk_volume,
                                   st->box_volume, m->disk, &disk_path, err) < 0)
                return vmenv_error_prefix(err, "cannot create the disk of '%s'", m->name);
        free(st->disk_path);
        st->disk_path = vmenv_strdup(disk_path);
        vmenv_debug("%s: box and disk ready in %.2f s", m->name,
                    (double)(vmenv_now_ns() - t0) / 1e9);
        return define_machine(p, m, st, disk_path, "qcow2", err);
}

int vmenv_machine_state(struct vmenv_project *p, const struct vmenv_machine_config *m,
                        enum vmenv_vm_state *out, vmenv_error *err)
{
        _cleanup_free_ char *domain = vmenv_domain_name(p->config, m->name);
        return p->ops->state(p->conn, domain, out, err);
}

static int machine_lock(const struct vmenv_project *p, const char *machine, vmenv_error *err)
{
        _cleanup_free_ char *dir = vmenv_strdupf("%s/.vmenv/locks", p->config->dir);
        _cleanup_free_ char *path = vmenv_strdupf("%s/%s.lock", dir, machine);

        if (vmenv_mkdir_p(dir, 0700, err) < 0)
                return -1;
        return vmenv_lock_file(path, true, err);
}

static int boot_and_connect(struct vmenv_project *p, const struct vmenv_machine_config *m,
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

int vmenv_machine_up(struct vmenv_project *p, const struct vmenv_machine_config *m,
                     const struct vmenv_up_opts *o, vmenv_error *err)
{
        _cleanup_close_ int lock = -1;
        _cleanup_(vmenv_state_freep) struct vmenv_machine_state *st = NULL;
        enum vmenv_vm_state vs;
        bool fresh = false, start = true, provision;

        if ((lock = machine_lock(p, m->name, err)) < 0)
                return -1;
        if (!(st = vmenv_state_load(p->config, m->name, err)))
                return -1;
        if (p->ops->state(p->conn, st->domain, &vs, err) < 0)
                return -1;
        if (!st->uri)
                st->uri = vmenv_strdup(m->libvirt.uri ? m->libvirt.uri : "");

        switch (vs) {
        case VMENV_VM_NOT_CREATED:
                vmenv_info("%s: creating from box '%s'", m->name, m->box);
                if (create_machine(p, m, st, o, err) < 0)
                        return -1;
                fresh = true;
                break;
        case VMENV_VM_RUNNING:
                if (!st->exists || !st->ssh_port)
                        goto lost;
                vmenv_info("%s: already running", m->name);
                start = false;
                break;
        case VMENV_VM_PAUSED:
                vmenv_info("%s: resuming", m->name);
                if (p->ops->resume(p->conn, st->domain, err) < 0)
                        return -1;
                start = false;
                break;
        default:
                if (!st->exists || !st->disk_volume)
                        goto lost;
                /* Redefine so changed settings (memory, cpus, ports) apply. */
                if (!st->disk_path)
                        goto lost;
                {
                        _cleanup_free_ char *disk = vmenv_strdup(st->disk_path);
                        if (define_machine(p, m, st, disk, "qcow2", err) < 0)
                                return -1;
                }
                fresh = !st->key_replaced && !m->ssh.private_key;
                break;
        }
        if (boot_and_connect(p, m, st, start, fresh, o, err) < 0)
                return -1;
        if (index_machine(p, m, st, err) < 0)
                return -1;
        /* Provisioners that are due run whenever up boots the machine; on a
         * running or resumed one only when asked. */
        provision = start && vs != VMENV_VM_PAUSED;
        if (!o->no_provision && (provision || o->provision || o->provision_with) &&
            m->n_provisioners) {
                vmenv_state_free(TAKE_PTR(st));
                if (vmenv_machine_provision(p, m, o->provision, o->provision_with, err) < 0)
                        return -1;
        }
        vmenv_info("%s: running (ssh: vmenv ssh %s)", m->name, m->name);
        return 0;
lost:
        vmenv_error_set(err, VMENV_EXIT_FAILURE,
                        "machine '%s' exists in libvirt as '%s' but its state in '%s' is missing",
                        m->name, st->domain, st->dir);
        return vmenv_error_hint(err, "run 'vmenv destroy %s' and 'vmenv up %s' again", m->name,
                                m->name);
}

static int wait_state(struct vmenv_project *p, const char *domain, enum vmenv_vm_state want,
                      int timeout_s, vmenv_error *err)
{
        uint64_t deadline = vmenv_now_ns() + (uint64_t)timeout_s * 1000000000ull;
        enum vmenv_vm_state vs;

        for (;;) {
                if (p->ops->state(p->conn, domain, &vs, err) < 0)
                        return -1;
                if (vs == want || (want == VMENV_VM_SHUTOFF && vs == VMENV_VM_NOT_CREATED))
                        return 1;
                if (vmenv_now_ns() >= deadline)
                        return 0;
                usleep(200000);
        }
}

int vmenv_machine_halt(struct vmenv_project *p, const struct vmenv_machine_config *m, bool force,
                       int timeout_s, vmenv_error *err)
{
        _cleanup_free_ char *domain = vmenv_domain_name(p->config, m->name);
        enum vmenv_vm_state vs;
        int r;

        if (p->ops->state(p->conn, domain, &vs, err) < 0)
                return -1;
        if (vs == VMENV_VM_NOT_CREATED || vs == VMENV_VM_SHUTOFF) {
                vmenv_info("%s: %s", m->name, vmenv_vm_state_name(vs));
                return 0;
        }
        if (!force && vs == VMENV_VM_RUNNING) {
                vmenv_info("%s: shutting down", m->name);
                if (p->ops->shutdown(p->conn, domain, err) < 0)
                        return -1;
                if ((r = wait_state(p, domain, VMENV_VM_SHUTOFF, timeout_s, err)) < 0)
                        return -1;
                if (r == 1) {
                        vmenv_info("%s: halted", m->name);
                        return 0;
                }
                vmenv_warn("%s: no clean shutdown within %d s; forcing it off", m->name, timeout_s);
        }
        if (p->ops->poweroff(p->conn, domain, err) < 0)
                return -1;
        vmenv_info("%s: halted (forced)", m->name);
        return 0;
}

int vmenv_machine_destroy(struct vmenv_project *p, const struct vmenv_machine_config *m,
                          vmenv_error *err)
{
        _cleanup_close_ int lock = -1;
        _cleanup_(vmenv_state_freep) struct vmenv_machine_state *st = NULL;
        _cleanup_free_ char *overlay = NULL;
        enum vmenv_vm_state vs;

        if ((lock = machine_lock(p, m->name, err)) < 0)
                return -1;
        if (!(st = vmenv_state_load(p->config, m->name, err)))
                return -1;
        if (p->ops->state(p->conn, st->domain, &vs, err) < 0)
                return -1;
        if (vs == VMENV_VM_NOT_CREATED && !st->exists) {
                vmenv_info("%s: not created", m->name);
                return vmenv_index_remove(st->domain, err);
        }
        if (vs != VMENV_VM_NOT_CREATED && vs != VMENV_VM_SHUTOFF &&
            p->ops->poweroff(p->conn, st->domain, err) < 0)
                return -1;
        if (p->ops->undefine(p->conn, st->domain, err) < 0)
                return vmenv_error_prefix(err, "cannot destroy '%s'", m->name);
        overlay =
            st->disk_volume ? vmenv_strdup(st->disk_volume) : vmenv_strdupf("%s.qcow2", st->domain);
        if (p->ops->volume_delete(p->conn, m->libvirt.storage_pool, overlay, err) < 0)
                return vmenv_error_prefix(err, "cannot delete the disk of '%s'", m->name);
        if (vmenv_state_remove(st, err) < 0 || vmenv_index_remove(st->domain, err) < 0)
                return -1;
        vmenv_info("%s: destroyed", m->name);
        return 0;
}

static int simple_op(struct vmenv_project *p, const struct vmenv_machine_config *m,
                     enum vmenv_vm_state need, const char *verb,
                     int (*op)(struct vmenv_provider *, const char *, vmenv_error *),
                     vmenv_error *err)
{
        _cleanup_free_ char *domain = vmenv_domain_name(p->config, m->name);
        enum vmenv_vm_state vs;

        if (p->ops->state(p->conn, domain, &vs, err) < 0)
                return -1;
        if (vs != need) {
                vmenv_error_set(err, VMENV_EXIT_FAILURE, "cannot %s '%s': it is %s", verb, m->name,
                                vmenv_vm_state_name(vs));
                if (vs == VMENV_VM_NOT_CREATED || vs == VMENV_VM_SHUTOFF)
                        vmenv_error_hint(err, "run 'vmenv up %s' first", m->name);
                return -1;
        }
        if (op(p->conn, domain, err) < 0)
                return vmenv_error_prefix(err, "cannot %s '%s'", verb, m->name);
        return 0;
}

int vmenv_machine_suspend(struct vmenv_project *p, const struct vmenv_machine_config *m,
                          vmenv_error *err)
{
        if (simple_op(p, m, VMENV_VM_RUNNING, "suspend", p->ops->suspend, err) < 0)
                return -1;
        vmenv_info("%s: suspended", m->name);
        return 0;
}

int vmenv_machine_resume(struct vmenv_project *p, const struct vmenv_machine_config *m,
                         vmenv_error *err)
{
        if (simple_op(p, m, VMENV_VM_PAUSED, "resume", p->ops->resume, err) < 0)
                return -1;
        vmenv_info("%s: resumed", m->name);
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
