/* Provisioners: shell scripts and file uploads run over SSH in file order.
 * run-once provisioners are remembered by name and by a digest of what they
 * do, so a changed provisioner becomes due again. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "machine-private.h"
#include "vmenv/cleanup.h"
#include "vmenv/log.h"
#include "vmenv/machine.h"
#include "vmenv/ssh.h"
#include "vmenv/util.h"

#define SCRIPT_MAX_BYTES (16u << 20)
#define RECORD_KEY_BYTES 32

/* The key that makes run-once records unguessable: a record holds no
 * plain digest of the provisioner (its env may hold secrets, and .vmenv/ may
 * be shared or committed), only an HMAC keyed by this machine's random salt. */
static int record_key(const struct vmenv_machine_state *st, unsigned char key[RECORD_KEY_BYTES],
                      vmenv_error *err)
{
        _cleanup_free_ char *path = vmenv_state_path(st, "provision.key");
        _cleanup_free_ char *text = NULL;
        size_t len = 0;

        if (vmenv_path_exists(path)) {
                if (vmenv_read_file(path, 4096, &text, &len, err) < 0)
                        return -1;
                if (len == RECORD_KEY_BYTES) {
                        memcpy(key, text, RECORD_KEY_BYTES);
                        return 0;
                }
                /* A damaged key only makes run-once provisioners due again. */
        }
        if (RAND_bytes(key, RECORD_KEY_BYTES) != 1)
                return vmenv_error_set(err, VMENV_EXIT_SOFTWARE, "cannot make a random key");
        if (vmenv_mkdir_p(st->dir, 0700, err) < 0)
                return -1;
        return vmenv_write_file_atomic(path, key, RECORD_KEY_BYTES, 0600, err);
}

/* The record of a provisioner that ran: "NAME:HMAC-SHA256" over everything
 * that decides what it does, so a changed provisioner becomes due again. */
static char *prov_record(const struct vmenv_provisioner *pv, const char *script,
                         const unsigned char key[RECORD_KEY_BYTES])
{
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        unsigned char md[EVP_MAX_MD_SIZE], mac[EVP_MAX_MD_SIZE];
        unsigned int len = 0, mac_len = 0;
        char hex[2 * EVP_MAX_MD_SIZE + 1];

#define FEED(s)                                                                                    \
        do {                                                                                       \
                const char *_s = (s) ? (s) : "";                                                   \
                EVP_DigestUpdate(ctx, _s, strlen(_s) + 1);                                         \
        } while (0)
        EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
        FEED(pv->kind == VMENV_PROV_SHELL ? "shell" : "file");
        FEED(script);
        for (char **a = pv->args; a && *a; a++)
                FEED(*a);
        FEED("--env");
        for (size_t i = 0; i < pv->n_env; i++) {
                FEED(pv->env[i].name);
                FEED(pv->env[i].value);
        }
        FEED(pv->privileged ? "root" : "user");
        FEED(pv->source);
        FEED(pv->destination);
#undef FEED
        EVP_DigestFinal_ex(ctx, md, &len);
        EVP_MD_CTX_free(ctx);
        HMAC(EVP_sha256(), key, RECORD_KEY_BYTES, md, len, mac, &mac_len);
        OPENSSL_cleanse(md, sizeof(md));
        for (unsigned int i = 0; i < mac_len; i++)
                sprintf(hex + 2 * i, "%02x", mac[i]);
        hex[2 * mac_len] = '\0';
        return vmenv_strdupf("%s:%s", pv->name, hex);
}

/* Index in st->provisioned of the record for name, or -1. */
static int record_index(const struct vmenv_machine_state *st, const char *name)
{
        size_t nl = strlen(name);
        for (int i = 0; st->provisioned && st->provisioned[i]; i++)
                if (!strncmp(st->provisioned[i], name, nl) && st->provisioned[i][nl] == ':')
                        return i;
        return -1;
}

static void record(struct vmenv_machine_state *st, const char *rec, const char *name)
{
        int i = record_index(st, name);
        if (i >= 0) {
                free(st->provisioned[i]);
                st->provisioned[i] = vmenv_strdup(rec);
        } else {
                vmenv_strv_push(&st->provisioned, vmenv_strdup(rec));
        }
}

/* Copies lines from a pipe to an fd with a "machine: " prefix, so the output
 * of machines provisioned at once stays readable. */
struct prefixer {
        int rfd, out;
        const char *prefix;
        pthread_t thread;
};

static void *prefix_thread(void *arg)
{
        struct prefixer *px = arg;
        struct vmenv_buf line = {0};
        char buf[4096];
        ssize_t n;

        while ((n = read(px->rfd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR)) {
                for (ssize_t i = 0; i < n; i++) {
                        vmenv_buf_add(&line, &buf[i], 1);
                        if (buf[i] == '\n') {
                                dprintf(px->out, "%s: %s", px->prefix, line.data);
                                line.len = 0;
                        }
                }
        }
        if (line.len)
                dprintf(px->out, "%s: %s\n", px->prefix, line.data);
        vmenv_buf_free(&line);
        close(px->rfd);
        return NULL;
}

static int prefixer_start(struct prefixer *px, const char *prefix, int out)
{
        int fds[2];
        if (pipe2(fds, O_CLOEXEC) < 0)
                return -1;
        px->rfd = fds[0];
        px->out = out;
        px->prefix = prefix;
        if (pthread_create(&px->thread, NULL, prefix_thread, px)) {
                close(fds[0]);
                close(fds[1]);
                return -1;
        }
        return fds[1];
}

static void prefixer_stop(struct prefixer *px, int wfd)
{
        close(wfd);
        pthread_join(px->thread, NULL);
}

static int run_remote(struct vmenv_ssh *s, const char *machine, const char *cmd, const void *in,
                      size_t in_len, int *status, vmenv_error *err)
{
        struct prefixer po, pe;
        int wo = prefixer_start(&po, machine, STDOUT_FILENO);
        int we = wo < 0 ? -1 : prefixer_start(&pe, machine, STDERR_FILENO);
        int r;

        if (wo < 0 || we < 0) {
                if (wo >= 0)
                        prefixer_stop(&po, wo);
                return vmenv_error_errno(err, VMENV_EXIT_SOFTWARE, errno, "cannot make a pipe");
        }
        r = vmenv_ssh_exec(s, cmd, in, in_len, wo, we, status, err);
        prefixer_stop(&po, wo);
        prefixer_stop(&pe, we);
        return r;
}

static int run_shell(struct vmenv_ssh *s, const struct vmenv_project *p,
                     const struct vmenv_machine_config *m, const struct vmenv_provisioner *pv,
                     const char *script, vmenv_error *err)
{
        struct vmenv_buf cmd = {0}, body = {0};
        _cleanup_free_ char *qname = vmenv_shell_quote(pv->name);
        _cleanup_free_ char *text = NULL, *stdin_text = NULL;
        int status = 0, r;

        /* The script arrives on stdin into a private temporary file, then
         * runs from there so it may read stdin itself without eating its
         * own text. The env values go into that file as exports, never on
         * a command line: ps, sudo's log and the process accounting of the
         * guest would show them there. */
        for (size_t i = 0; i < pv->n_env; i++) {
                _cleanup_free_ char *q = vmenv_shell_quote(pv->env[i].value);
                vmenv_buf_printf(&body, "export %s=%s\n", pv->env[i].name, q);
        }
        vmenv_buf_puts(&body, script);
        stdin_text = vmenv_buf_steal(&body);
        vmenv_buf_puts(&cmd, "f=$(umask 077 && mktemp /tmp/vmenv-provision.XXXXXX) && "
                             "cat > \"$f\" && ");
        if (pv->privileged)
                vmenv_buf_puts(&cmd, "sudo -n ");
        vmenv_buf_puts(&cmd, "sh \"$f\"");
        for (char **a = pv->args; a && *a; a++) {
                _cleanup_free_ char *q = vmenv_shell_quote(*a);
                vmenv_buf_printf(&cmd, " %s", q);
        }
        vmenv_buf_puts(&cmd, "; rc=$?; rm -f \"$f\"; exit $rc");
        text = vmenv_buf_steal(&cmd);
        vmenv_info("%s: provisioner %s (shell%s)", m->name, qname,
                   pv->privileged ? ", as root" : "");
        r = run_remote(s, m->name, text, stdin_text, strlen(stdin_text), &status, err);
        OPENSSL_cleanse(stdin_text, strlen(stdin_text));
        if (r < 0) {
                vmenv_error_prefix(err,
                                   "provisioner '%s' on '%s' lost its connection (did the "
                                   "machine reboot?)",
                                   pv->name, m->name);
                return -1;
        }
        if (status != 0) {
                vmenv_error_set(err, VMENV_EXIT_FAILURE,
                                "provisioner '%s' on '%s' failed with exit status %d", pv->name,
                                m->name, status);
                return -1;
        }
        return 0;
}

/* Moves the upload in $1/f to $2, as Vagrant's file provisioner (scp)
 * places a file: into an existing folder (or one named with a trailing
 * slash) under its own name $3 when $4 is 1, else at $2 itself. mv -T
 * renames over whatever is at the target, a planted link included, and
 * never moves into a folder found there; busybox has it. */
#define PLACE_SCRIPT                                                                               \
        "t=$2; if [ \"$4\" = 1 ]; then case $t in */) mkdir -p -- \"$t\" || exit 1;; esac; "       \
        "if [ -d \"$t\" ]; then t=${t%/}/$3; fi; fi; "                                             \
        "mkdir -p -- \"$(dirname -- \"$t\")\" && mv -f -T -- \"$1/f\" \"$t\""

static int upload_file(struct vmenv_ssh *s, const char *local, const char *remote, int mode,
                       bool privileged, bool into_folder, vmenv_error *err)
{
        _cleanup_free_ char *tmp = NULL, *file = NULL, *base = NULL, *cmd = NULL;
        _cleanup_free_ char *qt = NULL, *qr = NULL, *qb = NULL, *qs = NULL;
        const char *slash = strrchr(local, '/');
        int status = 0;

        /* A private folder made by mktemp -d: the login user's upload cannot
         * be redirected by anything another guest user planted in /tmp. */
        if (vmenv_ssh_capture(s, "umask 077 && mktemp -d /tmp/vmenv-upload.XXXXXX", 4096, &tmp,
                              &status, err) < 0)
                return -1;
        tmp[strcspn(tmp, "\n")] = '\0';
        if (status != 0 || tmp[0] != '/')
                return vmenv_error_set(err, VMENV_EXIT_FAILURE,
                                       "cannot make a temporary folder in the guest (mktemp -d "
                                       "exited with %d)",
                                       status);
        file = vmenv_path_join(tmp, "f");
        qt = vmenv_shell_quote(tmp);
        if (vmenv_ssh_upload(s, local, file, mode, err) < 0) {
                _cleanup_free_ char *rm = vmenv_strdupf("rm -rf %s", qt);
                vmenv_ssh_exec(s, rm, NULL, 0, -1, -1, &status, NULL);
                return -1;
        }
        base = vmenv_strdup(slash ? slash + 1 : local);
        qr = vmenv_shell_quote(remote);
        qb = vmenv_shell_quote(base);
        qs = vmenv_shell_quote(PLACE_SCRIPT);
        cmd = vmenv_strdupf("%ssh -c %s sh %s %s %s %d; rc=$?; rm -rf %s; exit $rc",
                            privileged ? "sudo -n " : "", qs, qt, qr, qb, into_folder ? 1 : 0, qt);
        if (vmenv_ssh_exec(s, cmd, NULL, 0, -1, STDERR_FILENO, &status, err) < 0)
                return -1;
        if (status != 0)
                return vmenv_error_set(err, VMENV_EXIT_FAILURE,
                                       "cannot put the upload at '%s' in the guest (exit status "
                                       "%d)",
                                       remote, status);
        return 0;
}

static int upload_tree(struct vmenv_ssh *s, const char *local, const char *remote, bool privileged,
                       bool top, vmenv_error *err)
{
        struct stat st;
        DIR *d;
        struct dirent *de;
        int r = 0, status = 0;

        if (stat(local, &st) < 0)
                return vmenv_error_errno(err, 0, errno, "cannot read '%s'", local);
        if (!S_ISDIR(st.st_mode))
                return upload_file(s, local, remote, (int)(st.st_mode & 0777), privileged, top,
                                   err);
        {
                _cleanup_free_ char *q = vmenv_shell_quote(remote);
                _cleanup_free_ char *mk =
                    vmenv_strdupf("%smkdir -p -- %s", privileged ? "sudo -n " : "", q);
                if (vmenv_ssh_exec(s, mk, NULL, 0, -1, STDERR_FILENO, &status, err) < 0)
                        return -1;
                if (status != 0)
                        return vmenv_error_set(err, VMENV_EXIT_FAILURE,
                                               "cannot create folder '%s' in the guest", remote);
        }
        if (!(d = opendir(local)))
                return vmenv_error_errno(err, 0, errno, "cannot read folder '%s'", local);
        while (r == 0 && (de = readdir(d))) {
                _cleanup_free_ char *l = NULL, *rm = NULL;
                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                        continue;
                l = vmenv_path_join(local, de->d_name);
                rm = vmenv_path_join(remote, de->d_name);
                r = upload_tree(s, l, rm, privileged, false, err);
        }
        closedir(d);
        return r;
}

static int run_file(struct vmenv_ssh *s, const struct vmenv_project *p,
                    const struct vmenv_machine_config *m, const struct vmenv_provisioner *pv,
                    vmenv_error *err)
{
        _cleanup_free_ char *src = vmenv_path_join(p->config->dir, pv->source);
        _cleanup_free_ char *dest = vmenv_strdup(pv->destination);
        struct stat st;

        vmenv_info("%s: provisioner '%s' (file %s -> %s)", m->name, pv->name, pv->source,
                   pv->destination);
        /* As Vagrant: a folder's contents go into the destination, or the
         * folder itself into it when the destination ends with a slash. */
        if (stat(src, &st) == 0 && S_ISDIR(st.st_mode) && vmenv_endswith(dest, "/")) {
                _cleanup_free_ char *copy = vmenv_strdup(src);
                size_t n = strlen(copy);
                while (n > 1 && copy[n - 1] == '/')
                        copy[--n] = '\0';
                free(dest);
                dest = vmenv_strdupf("%s%s", pv->destination,
                                     strrchr(copy, '/') ? strrchr(copy, '/') + 1 : copy);
        }
        if (upload_tree(s, src, dest, pv->privileged, true, err) < 0)
                return vmenv_error_prefix(err, "provisioner '%s' on '%s'", pv->name, m->name);
        return 0;
}

/* The text a shell provisioner runs: inline, or read from its script. */
static char *script_text(const struct vmenv_project *p, const struct vmenv_provisioner *pv,
                         vmenv_error *err)
{
        _cleanup_free_ char *path = NULL;
        char *text = NULL;

        if (pv->kind != VMENV_PROV_SHELL)
                return vmenv_strdup("");
        if (pv->inline_text)
                return vmenv_strdup(pv->inline_text);
        path = vmenv_path_join(p->config->dir, pv->path);
        if (vmenv_read_file(path, SCRIPT_MAX_BYTES, &text, NULL, err) < 0) {
                vmenv_error_prefix(err, "provisioner '%s'", pv->name);
                vmenv_error_hint(err, "'script:' paths are relative to '%s'", p->config->dir);
                return NULL;
        }
        return text;
}

static bool wanted(const char *name, char *const *only)
{
        if (!only)
                return true;
        for (; *only; only++)
                if (!strcmp(*only, name))
                        return true;
        return false;
}

static int check_only(const struct vmenv_machine_config *m, char *const *only, vmenv_error *err)
{
        for (char *const *o = only; o && *o; o++) {
                bool found = false;
                for (size_t i = 0; i < m->n_provisioners; i++)
                        found |= !strcmp(m->provisioners[i].name, *o);
                if (!found)
                        return vmenv_error_set(err, VMENV_EXIT_USAGE,
                                               "machine '%s' has no provisioner '%s'", m->name, *o);
        }
        return 0;
}

int vmenv_provision_run(struct vmenv_ssh *s, const struct vmenv_project *p,
                        const struct vmenv_machine_config *m, struct vmenv_machine_state *st,
                        bool force, char *const *only, vmenv_error *err)
{
        unsigned char key[RECORD_KEY_BYTES];
        int r = 0;

        if (check_only(m, only, err) < 0)
                return -1;
        if (m->n_provisioners && record_key(st, key, err) < 0)
                return -1;
        for (size_t i = 0; r == 0 && i < m->n_provisioners; i++) {
                const struct vmenv_provisioner *pv = &m->provisioners[i];
                _cleanup_free_ char *script = NULL, *rec = NULL;
                int known;

                if (!wanted(pv->name, only))
                        continue;
                if (!(script = script_text(p, pv, err))) {
                        r = -1;
                        break;
                }
                rec = prov_record(pv, script, key);
                known = record_index(st, pv->name);
                /* run: never runs only when named; run: once when not done
                 * yet or changed, unless forced. */
                if (!only && pv->run == VMENV_RUN_NEVER)
                        continue;
                if (!only && !force) {
                        if (pv->run == VMENV_RUN_ONCE && known >= 0) {
                                if (!strcmp(st->provisioned[known], rec))
                                        continue;
                                vmenv_info("%s: provisioner '%s' changed since it last ran; "
                                           "running it again",
                                           m->name, pv->name);
                        }
                }
                if ((pv->kind == VMENV_PROV_SHELL ? run_shell(s, p, m, pv, script, err)
                                                  : run_file(s, p, m, pv, err)) < 0) {
                        r = -1;
                        break;
                }
                record(st, rec, pv->name);
                r = vmenv_state_save(st, err);
        }
        OPENSSL_cleanse(key, sizeof(key));
        return r;
}

int vmenv_machine_provision(struct vmenv_project *p, const struct vmenv_machine_config *m,
                            bool force, char *const *only, vmenv_error *err)
{
        _cleanup_close_ int lock = -1;

        if (check_only(m, only, err) < 0)
                return -1;
        if ((lock = vmenv_machine_lock(p, m->name, err)) < 0)
                return -1;
        return vmenv_machine_provision_locked(p, m, force, only, err);
}

int vmenv_machine_provision_locked(struct vmenv_project *p, const struct vmenv_machine_config *m,
                                   bool force, char *const *only, vmenv_error *err)
{
        _cleanup_(vmenv_state_freep) struct vmenv_machine_state *st = NULL;
        _cleanup_(vmenv_ssh_freep) struct vmenv_ssh *s = NULL;

        if (check_only(m, only, err) < 0)
                return -1;
        if (!(st = vmenv_state_load(p->config, m->name, err)))
                return -1;
        if (!(s = vmenv_machine_ssh(p, m, err)))
                return -1;
        return vmenv_provision_run(s, p, m, st, force, only, err);
}
