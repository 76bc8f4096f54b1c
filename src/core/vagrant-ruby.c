/* vmenv import --ruby: evaluates a Vagrantfile with Ruby against the
 * recording stand-in for Vagrant.configure (share/vmenv/vagrantfile-
 * recorder.rb, built into the binary). The file comes from a cloned
 * repository and may do anything, so it runs in a throwaway folder, with
 * stdin from /dev/null, a minimal environment, resource limits and a
 * timeout, and inside bubblewrap when it is installed: no network, a
 * read-only file system with home folders hidden, writes only to a tmpfs. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "json-cleanup.h"
#include "vagrant-internal.h"
#include "vmenv/cleanup.h"
#include "vmenv/log.h"
#include "vmenv/util.h"

extern const char vmenv_vagrant_recorder_rb[]; /* generated from the .rb at build time */

#define DEFAULT_TIMEOUT 60
#define MAX_RECORD (8u << 20)
#define MAX_OUTPUT (16u << 10) /* of Ruby's own output, kept for messages */

/* The program's path in $PATH, or NULL. */
static char *find_program(const char *name)
{
        const char *path = getenv("PATH");
        _cleanup_free_ char *copy = vmenv_strdup(path ? path : "/usr/bin:/bin");
        char *save = NULL;

        for (char *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
                char *p = vmenv_path_join(*dir ? dir : ".", name);
                if (access(p, X_OK) == 0)
                        return p;
                free(p);
        }
        return NULL;
}

static void strv_add(char ***v, const char *s)
{
        vmenv_strv_push(v, vmenv_strdup(s));
}

/* The command line: ruby alone, or ruby inside bubblewrap. */
static char **ruby_argv(const char *ruby, const char *bwrap, const char *tmp, const char *project,
                        const char *real_path)
{
        char **v = vmenv_calloc(1, sizeof(char *));
        _cleanup_free_ char *rec = vmenv_path_join(tmp, "recorder.rb");
        _cleanup_free_ char *copy = vmenv_path_join(tmp, "Vagrantfile");
        _cleanup_free_ char *out = vmenv_path_join(tmp, "record.json");
        char real_ruby[PATH_MAX];

        if (bwrap) {
                const char *const fixed[] = {bwrap,
                                             "--unshare-all",
                                             "--die-with-parent",
                                             "--new-session",
                                             "--cap-drop",
                                             "ALL",
                                             "--ro-bind",
                                             "/",
                                             "/",
                                             "--dev",
                                             "/dev",
                                             "--proc",
                                             "/proc",
                                             "--tmpfs",
                                             "/tmp",
                                             "--tmpfs",
                                             "/var/tmp",
                                             "--tmpfs",
                                             "/run",
                                             "--tmpfs",
                                             "/home",
                                             "--tmpfs",
                                             "/root",
                                             NULL};
                for (size_t i = 0; fixed[i]; i++)
                        strv_add(&v, fixed[i]);
                /* a Ruby installed in a home folder stays visible */
                if (realpath(ruby, real_ruby) && (vmenv_startswith(real_ruby, "/home/") ||
                                                  vmenv_startswith(real_ruby, "/root/"))) {
                        _cleanup_free_ char *prefix = vmenv_strdup(real_ruby);
                        for (int i = 0; i < 2 && strrchr(prefix, '/') != prefix; i++)
                                *strrchr(prefix, '/') = '\0';
                        strv_add(&v, "--ro-bind");
                        strv_add(&v, prefix);
                        strv_add(&v, prefix);
                }
                strv_add(&v, "--ro-bind");
                strv_add(&v, project);
                strv_add(&v, project);
                strv_add(&v, "--bind");
                strv_add(&v, tmp);
                strv_add(&v, tmp);
                strv_add(&v, "--chdir");
                strv_add(&v, tmp);
                strv_add(&v, "--");
        }
        strv_add(&v, ruby);
        strv_add(&v, rec);
        strv_add(&v, copy);
        strv_add(&v, real_path);
        strv_add(&v, out);
        return v;
}

static void child_exec(char **argv, const char *tmp, int out_fd, int timeout_s)
{
        _cleanup_free_ char *home = vmenv_strdupf("HOME=%s", tmp);
        _cleanup_free_ char *path = vmenv_strdup("PATH=/usr/local/bin:/usr/bin:/bin");
        _cleanup_free_ char *lang = vmenv_strdup("LANG=C.UTF-8");
        char *envp[] = {path, home, lang, NULL};
        struct rlimit fsize = {16u << 20, 16u << 20};
        struct rlimit cpu = {(rlim_t)timeout_s + 5, (rlim_t)timeout_s + 5};
        int null = open("/dev/null", O_RDONLY);

        setpgid(0, 0);
        if (null < 0 || dup2(null, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(out_fd, 2) < 0 ||
            chdir(tmp) < 0)
                _exit(127);
        setrlimit(RLIMIT_FSIZE, &fsize);
        setrlimit(RLIMIT_CPU, &cpu);
        execve(argv[0], argv, envp);
        _exit(127);
}

/* Runs argv; keeps the start of its output; -1 on timeout. */
static int run_with_timeout(char **argv, const char *tmp, int timeout_s, int *status,
                            struct vmenv_buf *output, vmenv_error *err)
{
        int fds[2];
        pid_t pid;
        struct timespec start;
        bool timed_out = false;

        if (pipe2(fds, O_CLOEXEC) < 0)
                return vmenv_error_errno(err, VMENV_EXIT_IO, errno, "cannot make a pipe");
        if ((pid = fork()) < 0) {
                close(fds[0]);
                close(fds[1]);
                return vmenv_error_errno(err, VMENV_EXIT_IO, errno, "cannot start ruby");
        }
        if (pid == 0)
                child_exec(argv, tmp, fds[1], timeout_s);
        close(fds[1]);
        clock_gettime(CLOCK_MONOTONIC, &start);
        for (;;) {
                struct timespec now;
                struct pollfd pfd = {fds[0], POLLIN, 0};
                char buf[4096];
                long left;
                ssize_t n;

                clock_gettime(CLOCK_MONOTONIC, &now);
                left = (long)timeout_s * 1000 - ((now.tv_sec - start.tv_sec) * 1000 +
                                                 (now.tv_nsec - start.tv_nsec) / 1000000);
                if (left <= 0) {
                        timed_out = true;
                        break;
                }
                if (poll(&pfd, 1, (int)(left > 1000 ? 1000 : left)) < 0 && errno != EINTR)
                        break;
                if (!pfd.revents)
                        continue;
                n = read(fds[0], buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                if (output->len < MAX_OUTPUT)
                        vmenv_buf_add(output, buf, (size_t)n);
        }
        close(fds[0]);
        if (timed_out)
                kill(-pid, SIGKILL), kill(pid, SIGKILL);
        while (waitpid(pid, status, 0) < 0 && errno == EINTR)
                ;
        if (timed_out)
                return vmenv_error_set(err, VMENV_EXIT_TEMPFAIL, "ruby did not finish within %d s",
                                       timeout_s);
        return 0;
}

/* The last non-empty line of Ruby's output, for a message. */
static char *last_line(const struct vmenv_buf *b)
{
        _cleanup_free_ char *s = vmenv_strndup(b->data ? b->data : "", b->len);
        char *end = s + strlen(s), *start;

        while (end > s && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' '))
                *--end = '\0';
        start = strrchr(s, '\n');
        start = start ? start + 1 : s;
        if (strlen(start) > 300)
                start[300] = '\0';
        for (char *p = start; *p; p++)
                if ((unsigned char)*p < 0x20)
                        *p = '?';
        return vmenv_strdup(*start ? start : "no output");
}

static json_object *read_record(const char *tmp, const char *path, int status,
                                const struct vmenv_buf *output, bool sandbox, vmenv_error *err)
{
        _cleanup_free_ char *file = vmenv_path_join(tmp, "record.json");
        _cleanup_free_ char *text = NULL, *last = last_line(output);
        json_object *rec, *e;
        size_t len;

        if (!vmenv_path_exists(file)) {
                vmenv_error_set(err, VMENV_EXIT_FAILURE, "ruby failed on '%s' (%s %d): %s", path,
                                WIFEXITED(status) ? "exit status" : "signal",
                                WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), last);
                if (sandbox && vmenv_startswith(last, "bwrap:"))
                        return vmenv_error_hint(err, "the sandbox could not start; 'vmenv import "
                                                     "--ruby --no-sandbox' runs without it"),
                               NULL;
                return NULL;
        }
        if (vmenv_read_file(file, MAX_RECORD, &text, &len, err) < 0)
                return vmenv_error_prefix(err, "cannot read what ruby recorded"), NULL;
        if (!(rec = json_tokener_parse(text)) || !json_object_is_type(rec, json_type_object)) {
                json_object_put(rec);
                return vmenv_error_set(err, VMENV_EXIT_SOFTWARE,
                                       "what ruby recorded for '%s' is not JSON", path),
                       NULL;
        }
        if (json_object_object_get_ex(rec, "error", &e)) {
                json_object *l = NULL, *msg = NULL;
                json_object_object_get_ex(e, "line", &l);
                json_object_object_get_ex(e, "message", &msg);
                vmenv_error_set(err, VMENV_EXIT_DATA, "%s:%d: ruby failed: %s", path,
                                json_object_get_int(l),
                                msg ? json_object_get_string(msg) : "unknown error");
                vmenv_error_hint(err, "'vmenv import' without --ruby reads the file without "
                                      "running it");
                json_object_put(rec);
                return NULL;
        }
        return rec;
}

json_object *vmenv_vagrantfile_ruby(const char *path, const char *text, size_t len, bool sandbox,
                                    int timeout_s, char **how, vmenv_error *err)
{
        _cleanup_free_ char *ruby = find_program("ruby");
        _cleanup_free_ char *bwrap = sandbox ? find_program("bwrap") : NULL;
        _cleanup_free_ char *real = NULL, *project = NULL, *tmp = NULL, *rec = NULL, *copy = NULL;
        const char *tmpdir = getenv("TMPDIR");
        struct vmenv_buf output = {0};
        vmenv_error ignore = VMENV_ERROR_INIT;
        json_object *record = NULL;
        char **argv = NULL;
        int status = 0;

        if (!ruby) {
                vmenv_error_set(err, VMENV_EXIT_UNAVAILABLE, "ruby is not installed");
                return vmenv_error_hint(err, "install ruby, or run 'vmenv import' without --ruby "
                                             "to use the literal parser"),
                       NULL;
        }
        if (!(real = realpath(path, NULL)))
                return vmenv_error_errno(err, VMENV_EXIT_NOINPUT, errno, "cannot open '%s'", path),
                       NULL;
        project = vmenv_strdup(real);
        *strrchr(project, '/') = '\0';
        if (!*project) {
                free(project);
                project = vmenv_strdup("/");
        }
        tmp = vmenv_path_join(tmpdir && *tmpdir == '/' ? tmpdir : "/tmp", "vmenv-import-XXXXXX");
        if (!mkdtemp(tmp))
                return vmenv_error_errno(err, VMENV_EXIT_IO, errno, "cannot make '%s'", tmp), NULL;
        rec = vmenv_path_join(tmp, "recorder.rb");
        copy = vmenv_path_join(tmp, "Vagrantfile");
        if (vmenv_write_file_atomic(rec, vmenv_vagrant_recorder_rb,
                                    strlen(vmenv_vagrant_recorder_rb), 0600, err) < 0 ||
            vmenv_write_file_atomic(copy, text, len, 0600, err) < 0)
                goto out;
        argv = ruby_argv(ruby, bwrap, tmp, project, real);
        vmenv_debug("import: running %s%s", bwrap ? "bwrap ... " : "", ruby);
        if (run_with_timeout(argv, tmp, timeout_s > 0 ? timeout_s : DEFAULT_TIMEOUT, &status,
                             &output, err) < 0) {
                vmenv_error_prefix(err, "cannot evaluate '%s'", path);
                goto out;
        }
        if (!(record = read_record(tmp, path, status, &output, bwrap != NULL, err)))
                goto out;
        *how =
            vmenv_strdup(bwrap     ? "evaluated by ruby in a bubblewrap sandbox: no network, "
                                     "read-only files"
                         : sandbox ? "evaluated by ruby WITHOUT a sandbox: bwrap is not installed"
                                   : "evaluated by ruby WITHOUT a sandbox (--no-sandbox)");
out:
        vmenv_strv_free(argv);
        vmenv_buf_free(&output);
        vmenv_rm_rf(tmp, &ignore);
        vmenv_error_clear(&ignore);
        return record;
}
