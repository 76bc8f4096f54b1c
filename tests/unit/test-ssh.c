/* The SSH module against a real OpenSSH sshd on 127.0.0.1, started here from
 * tests/fixtures/sshd/sshd_config.in in a temporary folder and killed by its
 * pid: login, exec (streams, exit status, signals, stdin), capture limits,
 * big output, uploads, trust-on-first-use host keys, keygen, replacing the
 * insecure key, wait() against late and closed ports, the shell on a pipe
 * and on a pty.
 *
 * Also a benchmark driver: test-ssh --exec PORT KEY CMD logs in as root and
 * runs CMD (used by tests/bench/ssh-exec.sh). */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pty.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <libssh/libssh.h>

#include "tap.h"
#include "vmenv/cleanup.h"
#include "vmenv/ssh.h"
#include "vmenv/util.h"

static char *tmp, *home, *cfg;
static int port;
static pid_t sshd_pid = -1, dropbear_pid = -1;
static const char *phase_name = "setup";
static int tap_fd = -1;

/* A hang is reported with the step it happened in, before meson's timeout
 * kills the test without a word. */
static void on_alarm(int sig)
{
        /* write() only: snprintf is not async-signal-safe */
        const char *parts[] = {"Bail out! ", phase_name, ": no answer within the step's limit\n"};
        (void)sig;
        for (size_t i = 0; i < 3; i++)
                if (write(tap_fd, parts[i], strlen(parts[i])) < 0)
                        _exit(2);
        if (sshd_pid > 0)
                kill(sshd_pid, SIGKILL);
        if (dropbear_pid > 0)
                kill(dropbear_pid, SIGKILL);
        _exit(1);
}

static void phase(const char *name, unsigned secs)
{
        phase_name = name;
        alarm(secs);
}

static void bail(const char *what)
{
        printf("Bail out! %s\n", what);
        if (sshd_pid > 0) {
                kill(sshd_pid, SIGTERM);
                waitpid(sshd_pid, NULL, 0);
        }
        exit(1);
}

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
        va_list ap;
        _cleanup_free_ char *cmd = NULL;
        va_start(ap, fmt);
        cmd = vmenv_vstrdupf(fmt, ap);
        va_end(ap);
        if (system(cmd) != 0)
                bail(cmd);
}

static char *slurp(const char *path, size_t *len)
{
        vmenv_error err = VMENV_ERROR_INIT;
        char *s = NULL;
        if (vmenv_read_file(path, 64 << 20, &s, len, &err) < 0) {
                vmenv_error_clear(&err);
                return NULL;
        }
        return s;
}

static void spew(const char *path, const char *text)
{
        vmenv_error err = VMENV_ERROR_INIT;
        if (vmenv_write_file_atomic(path, text, strlen(text), 0600, &err) < 0)
                bail(err.msg);
}

static int free_port(void)
{
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t l = sizeof(a);
        int fd = socket(AF_INET, SOCK_STREAM, 0), p;

        if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
            getsockname(fd, (struct sockaddr *)&a, &l) < 0)
                bail("cannot find a free port");
        p = ntohs(a.sin_port);
        close(fd);
        return p;
}

static bool port_open(int p)
{
        struct sockaddr_in a = {.sin_family = AF_INET,
                                .sin_port = htons((uint16_t)p),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
        if (fd >= 0)
                close(fd);
        return ok;
}

/* Starts sshd on port after delay_ms (the child sleeps, so wait() sees a
 * closed port first). */
static void start_sshd(int delay_ms, bool wait_ready)
{
        _cleanup_free_ char *log = vmenv_path_join(tmp, "sshd.log");
        _cleanup_free_ char *ps = vmenv_strdupf("%d", port);
        pid_t pid = fork();

        if (pid < 0)
                bail("fork");
        if (pid == 0) {
                int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
                /* Not on the test's stdout: meson waits for every holder of
                 * that pipe, so a stray sshd would turn a crash into a
                 * timeout. And it goes when the test goes. */
                if (fd >= 0)
                        dup2(fd, STDOUT_FILENO), dup2(fd, STDERR_FILENO);
                prctl(PR_SET_PDEATHSIG, SIGTERM);
                if (delay_ms > 0)
                        usleep((useconds_t)delay_ms * 1000);
                execl("/usr/sbin/sshd", "/usr/sbin/sshd", "-D", "-e", "-f", cfg, "-p", ps,
                      (char *)NULL);
                _exit(127);
        }
        sshd_pid = pid;
        if (!wait_ready)
                return;
        for (int i = 0; i < 100; i++) {
                if (port_open(port))
                        return;
                usleep(50000);
        }
        bail("sshd did not start (see sshd.log)");
}

/* SIGTERM, then SIGKILL after 3 s. Dropbear 2022.83 at times does not act
 * on a SIGTERM that lands as a session ends (its accept loop checks an exit
 * flag around a select() without a timeout): seen in a full CI run as a
 * hang right after the last dropbear check. */
static void stop_child(pid_t pid)
{
        kill(pid, SIGTERM);
        for (int i = 0; i < 60; i++) {
                if (waitpid(pid, NULL, WNOHANG) != 0)
                        return;
                usleep(50000);
        }
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
}

static void stop_sshd(void)
{
        if (sshd_pid > 0) {
                stop_child(sshd_pid);
                sshd_pid = -1;
        }
}

static struct vmenv_ssh_target target(const char *key, const char *known)
{
        return (struct vmenv_ssh_target){.host = "127.0.0.1",
                                         .port = port,
                                         .user = "root",
                                         .key_path = key,
                                         .known_host_key = known,
                                         .tofu = !known,
                                         .connect_timeout_ms = 5000};
}

static int count_fds(void)
{
        int n = 0;
        for (int fd = 0; fd < 1024; fd++)
                if (fcntl(fd, F_GETFD) >= 0)
                        n++;
        return n;
}

static double secs_since(uint64_t t0)
{
        return (double)(vmenv_now_ns() - t0) / 1e9;
}

/* Runs cmd with stdout and stderr into files; returns the status or -1. */
static int exec_to_files(struct vmenv_ssh *s, const char *cmd, const void *in, size_t in_len,
                         char **out, char **errout, vmenv_error *err)
{
        _cleanup_free_ char *po = vmenv_path_join(tmp, "out"), *pe = vmenv_path_join(tmp, "err");
        int fo = open(po, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int fe = open(pe, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int st = -1, r;

        r = vmenv_ssh_exec(s, cmd, in, in_len, fo, fe, &st, err);
        close(fo);
        close(fe);
        if (out)
                *out = slurp(po, NULL);
        if (errout)
                *errout = slurp(pe, NULL);
        return r < 0 ? -1 : st;
}

static void test_exec(struct vmenv_ssh *s)
{
        vmenv_error err = VMENV_ERROR_INIT;
        char *o = NULL, *e = NULL;
        int st;

        st = exec_to_files(s, "echo out; echo err >&2; exit 0", NULL, 0, &o, &e, &err);
        ok(st == 0, "exec: exit status 0 (%s)", err.msg ? err.msg : "");
        is_str(o, "out\n", "exec: stdout goes to out_fd");
        is_str(e, "err\n", "exec: stderr goes to err_fd");
        free(o), free(e), o = e = NULL;

        st = exec_to_files(s, "echo partial; exit 3", NULL, 0, &o, NULL, &err);
        ok(st == 3, "exec: exit status 3 is returned (got %d)", st);
        is_str(o, "partial\n", "exec: output before a failing exit arrives");
        free(o), o = NULL;

        st = exec_to_files(s, "kill -TERM $$", NULL, 0, NULL, NULL, &err);
        ok(st == 128 + SIGTERM, "exec: killed by SIGTERM gives 143 (got %d)", st);
        st = exec_to_files(s, "kill -KILL $$", NULL, 0, NULL, NULL, &err);
        ok(st == 128 + SIGKILL, "exec: killed by SIGKILL gives 137 (got %d)", st);

        st = exec_to_files(s, "cat", "line one\nline two\n", 18, &o, NULL, &err);
        ok(st == 0, "exec: cat with stdin exits 0");
        is_str(o, "line one\nline two\n", "exec: stdin data reaches the command");
        free(o), o = NULL;

        st = exec_to_files(s, "cat", NULL, 0, &o, NULL, &err);
        ok(st == 0 && o && !*o, "exec: no stdin means an immediate end of file");
        free(o), o = NULL;

        /* stdin larger than any window, echoed back while still sending */
        {
                size_t n = 3 << 20;
                _cleanup_free_ char *in = vmenv_malloc(n);
                _cleanup_free_ char *po = vmenv_path_join(tmp, "out");
                size_t got = 0;
                for (size_t i = 0; i < n; i++)
                        in[i] = (char)(i * 7 + i / 251);
                st = exec_to_files(s, "cat", in, n, NULL, NULL, &err);
                o = slurp(po, &got);
                ok(st == 0 && o && got == n && memcmp(o, in, n) == 0,
                   "exec: 3 MiB of binary stdin comes back byte for byte (%zu bytes)", got);
                free(o), o = NULL;
        }

        /* output well past 1 MiB, streamed to the fd */
        {
                _cleanup_free_ char *po = vmenv_path_join(tmp, "out");
                size_t got = 0;
                bool all_x = true;
                st = exec_to_files(s, "head -c 20971520 /dev/zero | tr '\\0' x; echo done >&2",
                                   NULL, 0, NULL, &e, &err);
                o = slurp(po, &got);
                for (size_t i = 0; o && i < got; i++)
                        all_x = all_x && o[i] == 'x';
                ok(st == 0 && got == 20971520 && all_x, "exec: 20 MiB of stdout streamed whole");
                is_str(e, "done\n", "exec: stderr after big stdout");
                free(o), free(e), o = e = NULL;
        }
        vmenv_error_clear(&err);
}

static void test_capture(struct vmenv_ssh *s)
{
        vmenv_error err = VMENV_ERROR_INIT;
        char *out = NULL;
        int st = -1, r;

        r = vmenv_ssh_capture(s, "printf hello; echo noise >&2; exit 4", 100, &out, &st, &err);
        ok(r == 0 && st == 4, "capture: returns the exit status");
        is_str(out, "hello", "capture: keeps stdout only");
        free(out), out = NULL;

        r = vmenv_ssh_capture(s, "head -c 100000 /dev/zero", 1000, &out, &st, &err);
        ok(r < 0 && out == NULL, "capture: output past the limit is an error");
        ok(err.msg && strstr(err.msg, "exceeds 1000 bytes"),
           "capture: message names the limit (%s)", err.msg ? err.msg : "");
        vmenv_error_clear(&err);

        r = vmenv_ssh_capture(s, "echo still-here", 100, &out, &st, &err);
        is_str(r == 0 ? out : NULL, "still-here\n", "capture: session usable after a limit error");
        free(out);
        vmenv_error_clear(&err);
}

static void test_upload(struct vmenv_ssh *s)
{
        vmenv_error err = VMENV_ERROR_INIT;
        _cleanup_free_ char *local = vmenv_path_join(tmp, "upload.src");
        _cleanup_free_ char *remote = vmenv_path_join(home, "a b'c\"d $(x).bin");
        _cleanup_free_ char *data = vmenv_malloc(5 << 20);
        _cleanup_free_ char *back = NULL, *q = NULL, *cmd = NULL, *sum = NULL, *lsum = NULL;
        size_t n = 5 << 20, got = 0;
        struct stat st;
        int fd, r, status;

        for (size_t i = 0; i < n; i++)
                data[i] = (char)((i * 2654435761u) >> 13);
        fd = open(local, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || write(fd, data, n) != (ssize_t)n)
                bail("cannot write upload source");
        close(fd);
        r = vmenv_ssh_upload(s, local, remote, 0640, &err);
        ok(r == 0, "upload: 5 MiB to a name with spaces and quotes (%s)", err.msg ? err.msg : "");
        back = slurp(remote, &got);
        ok(back && got == n && memcmp(back, data, n) == 0, "upload: same bytes arrive");
        ok(stat(remote, &st) == 0 && (st.st_mode & 0777) == 0640, "upload: mode 0640 is set");
        /* the remote sum, as the guest sees it */
        q = vmenv_shell_quote(remote);
        cmd = vmenv_strdupf("sha256sum < %s | cut -d' ' -f1", q);
        vmenv_ssh_capture(s, cmd, 200, &sum, &status, &err);
        {
                _cleanup_free_ char *c2 =
                    vmenv_strdupf("sha256sum < '%s' | cut -d' ' -f1 > '%s/sum'", local, tmp);
                _cleanup_free_ char *p = vmenv_strdupf("%s/sum", tmp);
                sh("%s", c2);
                lsum = slurp(p, NULL);
        }
        ok(sum && lsum && strcmp(sum, lsum) == 0, "upload: remote sha256 equals the local one");

        r = vmenv_ssh_upload(s, local, "/nonexistent-dir/x", 0600, &err);
        ok(r < 0 && err.msg && strstr(err.msg, "/nonexistent-dir/x"),
           "upload: a failing remote side is an error naming the path (%s)", err.msg);
        vmenv_error_clear(&err);
        r = vmenv_ssh_upload(s, "/nonexistent-local", "/tmp/x", 0600, &err);
        ok(r < 0 && err.code == VMENV_EXIT_NOINPUT, "upload: a missing local file is NOINPUT");
        vmenv_error_clear(&err);
}

static void test_shell_pipe(struct vmenv_ssh *s)
{
        vmenv_error err = VMENV_ERROR_INIT;
        _cleanup_free_ char *in = vmenv_path_join(tmp, "shell.in");
        _cleanup_free_ char *out = vmenv_path_join(tmp, "shell.out");
        _cleanup_free_ char *got = NULL;
        int save_in = dup(0), save_out = dup(1), fi, fo, st = -1, r;

        spew(in, "echo from-shell\nexit 5\n");
        fflush(stdout);
        fi = open(in, O_RDONLY);
        fo = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(fi, 0);
        dup2(fo, 1);
        r = vmenv_ssh_shell(s, NULL, &st, &err);
        dup2(save_in, 0);
        dup2(save_out, 1);
        close(fi), close(fo), close(save_in), close(save_out);
        ok(r == 0 && st == 5, "shell: no tty, stdin piped, exit status 5 (got %d)", st);
        got = slurp(out, NULL);
        is_str(got, "from-shell\n", "shell: output of the piped script");
        vmenv_error_clear(&err);
}

/* stdin a pipe fed slowly: lines are answered as they come, not at EOF */
static void test_shell_slow_pipe(struct vmenv_ssh *s)
{
        vmenv_error err = VMENV_ERROR_INIT;
        _cleanup_free_ char *out = vmenv_path_join(tmp, "slow.out");
        _cleanup_free_ char *got = NULL;
        int p[2], in2 = dup(0), out2 = dup(1), fo, st = -1, r;
        pid_t writer;

        if (pipe(p) < 0)
                bail("pipe");
        writer = fork();
        if (writer == 0) {
                close(p[0]);
                if (write(p[1], "echo one\n", 9) != 9)
                        _exit(1);
                usleep(400000);
                if (write(p[1], "echo two; exit 6\n", 17) != 17)
                        _exit(1);
                usleep(8000000); /* EOF comes late: the exit must not wait for it */
                _exit(0);
        }
        close(p[1]);
        fflush(stdout);
        fo = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(p[0], 0);
        dup2(fo, 1);
        {
                uint64_t t0 = vmenv_now_ns();
                r = vmenv_ssh_shell(s, NULL, &st, &err);
                dup2(in2, 0);
                dup2(out2, 1);
                close(in2), close(out2), close(fo), close(p[0]);
                ok(r == 0 && st == 6 && secs_since(t0) < 5.0,
                   "shell: a slow pipe is served line by line (status %d, %.2f s)", st,
                   secs_since(t0));
        }
        kill(writer, SIGTERM);
        waitpid(writer, NULL, 0);
        got = slurp(out, NULL);
        is_str(got, "one\ntwo\n", "shell: both lines ran");
        vmenv_error_clear(&err);
}

/* In a forked helper: waits until the remote command has written text to
 * path, so input and signals come once vmenv is pumping, never before. */
static void await_output(const char *path, const char *text)
{
        for (int i = 0; i < 200; i++) {
                _cleanup_free_ char *got = slurp(path, NULL);
                if (got && strstr(got, text))
                        return;
                usleep(50000);
        }
        _exit(3);
}

static void test_shell_pty(struct vmenv_ssh *s)
{
        vmenv_error err = VMENV_ERROR_INIT;
        _cleanup_free_ char *out = vmenv_path_join(tmp, "pty.out");
        _cleanup_free_ char *got = NULL;
        struct termios before, after;
        struct winsize ws = {.ws_row = 33, .ws_col = 111};
        int master, slave, save_in = dup(0), save_out = dup(1), fo, st = -1, r;

        if (openpty(&master, &slave, NULL, NULL, &ws) < 0)
                bail("openpty");
        tcgetattr(slave, &before);
        setenv("TERM", "xterm-vmenvtest", 1);
        fflush(stdout);
        fo = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(slave, 0);
        dup2(fo, 1);
        r = vmenv_ssh_shell(
            s, "echo \"term=$TERM\"; stty size; tty >/dev/null && echo on-a-tty; exit 7", &st,
            &err);
        tcgetattr(0, &after);
        dup2(save_in, 0);
        dup2(save_out, 1);
        close(fo), close(save_in), close(save_out);
        ok(r == 0 && st == 7, "shell: on a pty, exit status 7 (got %d, %s)", st,
           err.msg ? err.msg : "");
        got = slurp(out, NULL);
        ok(got && strstr(got, "term=xterm-vmenvtest"), "shell: TERM is passed");
        ok(got && strstr(got, "33 111"), "shell: window size is passed");
        ok(got && strstr(got, "on-a-tty"), "shell: the command runs on a remote tty");
        ok(memcmp(&before.c_lflag, &after.c_lflag, sizeof(before.c_lflag)) == 0 &&
               before.c_iflag == after.c_iflag && before.c_oflag == after.c_oflag,
           "shell: terminal modes restored afterwards");
        /* typed input reaches the guest, and its answer comes back at once */
        {
                int in2 = dup(0), out2 = dup(1);
                pid_t typist;
                uint64_t t0 = vmenv_now_ns();
                fflush(stdout);
                fo = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
                dup2(slave, 0);
                dup2(fo, 1);
                typist = fork();
                if (typist == 0) {
                        await_output(out, "type now");
                        if (write(master, "abc\r", 4) != 4)
                                _exit(1);
                        _exit(0);
                }
                r = vmenv_ssh_shell(s, "echo type now; read l; echo \"got-$l\"", &st, &err);
                waitpid(typist, NULL, 0);
                dup2(in2, 0);
                dup2(out2, 1);
                close(in2), close(out2), close(fo);
                free(got);
                got = slurp(out, NULL);
                ok(r == 0 && st == 0 && got && strstr(got, "got-abc"),
                   "shell: typed input is answered (%.2f s)", secs_since(t0));
                vmenv_error_clear(&err);
        }
        /* the window grows while the command runs: SIGWINCH is forwarded */
        {
                int in2 = dup(0), out2 = dup(1);
                pid_t resizer;
                fflush(stdout);
                fo = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
                dup2(slave, 0);
                dup2(fo, 1);
                resizer = fork();
                if (resizer == 0) {
                        struct winsize big = {.ws_row = 44, .ws_col = 155};
                        await_output(out, "resize now");
                        ioctl(master, TIOCSWINSZ, &big);
                        kill(getppid(), SIGWINCH);
                        _exit(0);
                }
                r = vmenv_ssh_shell(s, "echo resize now; sleep 1.5; stty size", &st, &err);
                waitpid(resizer, NULL, 0);
                dup2(in2, 0);
                dup2(out2, 1);
                close(in2), close(out2), close(fo);
                free(got);
                got = slurp(out, NULL);
                ok(r == 0 && got && strstr(got, "44 155"),
                   "shell: a window size change reaches the guest");
                vmenv_error_clear(&err);
        }
        /* SIGTERM while in raw mode: the shell returns, the terminal is back */
        {
                int in2 = dup(0), out2 = dup(1);
                pid_t killer;
                fflush(stdout);
                fo = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
                dup2(slave, 0);
                dup2(fo, 1);
                killer = fork();
                if (killer == 0) {
                        await_output(out, "kill now");
                        kill(getppid(), SIGTERM);
                        _exit(0);
                }
                r = vmenv_ssh_shell(s, "echo kill now; sleep 30", &st, &err);
                tcgetattr(0, &after);
                waitpid(killer, NULL, 0);
                dup2(in2, 0);
                dup2(out2, 1);
                close(in2), close(out2), close(fo);
                ok(r < 0 && err.msg && strstr(err.msg, "interrupted"),
                   "shell: SIGTERM ends the shell with an error (%s)", err.msg ? err.msg : "");
                ok(before.c_lflag == after.c_lflag && before.c_iflag == after.c_iflag,
                   "shell: terminal modes restored after SIGTERM");
                vmenv_error_clear(&err);
        }
        close(master), close(slave);
        unsetenv("TERM");
        vmenv_error_clear(&err);
}

static void test_host_keys(const char *key, char **first_seen)
{
        vmenv_error err = VMENV_ERROR_INIT;
        _cleanup_free_ char *hostpub_path = vmenv_path_join(tmp, "host_key.pub");
        _cleanup_free_ char *hostpub = slurp(hostpub_path, NULL);
        _cleanup_free_ char *seen = NULL, *seen2 = NULL, *fp = NULL, *want_fp = NULL;
        struct vmenv_ssh_target t = target(key, NULL);
        struct vmenv_ssh *s;

        s = vmenv_ssh_connect(&t, &seen, &err);
        ok(s != NULL, "tofu: first contact is accepted (%s)", err.msg ? err.msg : "");
        ok(seen && hostpub && vmenv_startswith(hostpub, seen) &&
               vmenv_startswith(seen, "ssh-ed25519 AAAA"),
           "tofu: the server's key is returned as TYPE BASE64 (%s)", seen ? seen : "(null)");
        vmenv_ssh_free(s);

        t.known_host_key = seen;
        s = vmenv_ssh_connect(&t, &seen2, &err);
        ok(s != NULL, "tofu: the same key again is accepted");
        is_str(seen2, seen, "tofu: same key seen the second time");
        vmenv_ssh_free(s);

        /* the fingerprint is OpenSSH's */
        {
                _cleanup_free_ char *c = vmenv_strdupf(
                    "ssh-keygen -lf '%s' | cut -d' ' -f2 > '%s/fp'", hostpub_path, tmp);
                _cleanup_free_ char *p = vmenv_strdupf("%s/fp", tmp);
                sh("%s", c);
                want_fp = slurp(p, NULL);
                if (want_fp)
                        want_fp[strcspn(want_fp, "\n")] = '\0';
        }
        fp = vmenv_ssh_host_key_fingerprint(seen);
        is_str(fp, want_fp, "fingerprint: same as ssh-keygen -l");
        ok(vmenv_ssh_host_key_fingerprint("not a key") == NULL, "fingerprint: NULL for junk");
        *first_seen = TAKE_PTR(seen);
        vmenv_error_clear(&err);
}

static void test_host_key_changed(const char *key, const char *old_seen)
{
        vmenv_error err = VMENV_ERROR_INIT;
        _cleanup_free_ char *want = NULL, *old_fp = vmenv_ssh_host_key_fingerprint(old_seen);
        _cleanup_free_ char *last = NULL, *seen = NULL;
        struct vmenv_ssh_target t = target(key, old_seen);
        struct vmenv_ssh *s;
        uint64_t t0;

        stop_sshd();
        sh("rm -f '%s/host_key' '%s/host_key.pub' && ssh-keygen -q -t ed25519 -N '' -f "
           "'%s/host_key'",
           tmp, tmp, tmp);
        start_sshd(0, true);
        s = vmenv_ssh_connect(&t, &seen, &err);
        ok(s == NULL && err.code == VMENV_EXIT_NOPERM, "tofu: a changed host key is refused");
        want = vmenv_strdupf("host key of 127.0.0.1:%d changed (was %s, now SHA256:", port, old_fp);
        ok(err.msg && vmenv_startswith(err.msg, want), "tofu: message names both fingerprints (%s)",
           err.msg ? err.msg : "");
        ok(err.hint && strstr(err.hint, "vmenv destroy"), "tofu: hint says how to clear it");
        ok(seen == NULL, "tofu: no key returned on refusal");
        vmenv_ssh_free(s);
        vmenv_error_clear(&err);

        t0 = vmenv_now_ns();
        s = vmenv_ssh_wait(&t, vmenv_now_ns() + 10000000000ull, NULL, &last, &err);
        ok(s == NULL && err.code == VMENV_EXIT_NOPERM && secs_since(t0) < 3,
           "wait: a changed host key ends the wait at once (%.2f s)", secs_since(t0));
        ok(last && strstr(last, "changed"), "wait: last_error says the key changed");
        vmenv_error_clear(&err);
}

static void test_keygen_and_replace(const char *first_key)
{
        vmenv_error err = VMENV_ERROR_INIT;
        _cleanup_free_ char *newkey = vmenv_path_join(tmp, "new_key");
        _cleanup_free_ char *newpub_path = vmenv_path_join(tmp, "new_key.pub");
        _cleanup_free_ char *oldkey = vmenv_path_join(tmp, "insecure_key");
        _cleanup_free_ char *ak = vmenv_path_join(home, ".ssh/authorized_keys");
        _cleanup_free_ char *sshdir = vmenv_path_join(home, ".ssh");
        _cleanup_free_ char *pub = NULL, *oldpub = NULL, *first_pub = NULL, *text = NULL;
        _cleanup_free_ char *after = NULL, *filepub = NULL;
        struct vmenv_ssh_target t;
        struct vmenv_ssh *s;
        struct stat st;
        int r;

        r = vmenv_ssh_keygen(newkey, "vmenv:test", &pub, &err);
        ok(r == 0, "keygen: writes a key pair (%s)", err.msg ? err.msg : "");
        ok(stat(newkey, &st) == 0 && (st.st_mode & 0777) == 0600, "keygen: private key is 0600");
        ok(pub && vmenv_startswith(pub, "ssh-ed25519 AAAA") && vmenv_endswith(pub, " vmenv:test"),
           "keygen: public line is 'ssh-ed25519 BASE64 comment'");
        filepub = slurp(newpub_path, NULL);
        ok(filepub && pub && strncmp(filepub, pub, strlen(pub)) == 0,
           "keygen: .pub holds the line");
        {
                _cleanup_free_ char *c = vmenv_strdupf("ssh-keygen -y -f '%s' > /dev/null", newkey);
                ok(system(c) == 0, "keygen: OpenSSH reads the private key");
        }

        /* an "insecure" RSA key, last in authorized_keys without a newline */
        sh("ssh-keygen -q -t rsa -b 2048 -N '' -f '%s'", oldkey);
        {
                _cleanup_free_ char *p = vmenv_strdupf("%s.pub", oldkey);
                _cleanup_free_ char *fp = vmenv_strdupf("%s.pub", first_key);
                oldpub = slurp(p, NULL);
                first_pub = slurp(fp, NULL);
                if (!oldpub || !first_pub)
                        bail("cannot read public keys");
                oldpub[strcspn(oldpub, "\n")] = '\0';
                text = vmenv_strdupf("%s%s", first_pub, oldpub);
                spew(ak, text);
        }
        t = target(oldkey, NULL);
        s = vmenv_ssh_connect(&t, NULL, &err);
        ok(s != NULL, "rsa: login with an RSA key (rsa-sha2) (%s)", err.msg ? err.msg : "");
        if (!s)
                return;
        r = vmenv_ssh_replace_insecure_key(s, pub, oldpub, &err);
        ok(r == 0, "replace: succeeds (%s)", err.msg ? err.msg : "");
        vmenv_ssh_free(s);
        after = slurp(ak, NULL);
        {
                _cleanup_free_ char *want = vmenv_strdupf("%s%s\n", first_pub, pub);
                is_str(after, want, "replace: other keys kept, old removed, new on its own line");
        }
        ok(stat(ak, &st) == 0 && (st.st_mode & 0777) == 0600, "replace: authorized_keys is 0600");
        ok(stat(sshdir, &st) == 0 && (st.st_mode & 0777) == 0700, "replace: ~/.ssh is 0700");

        t = target(oldkey, NULL);
        s = vmenv_ssh_connect(&t, NULL, &err);
        ok(s == NULL && err.code == VMENV_EXIT_NOPERM && strstr(err.msg, "authentication refused"),
           "replace: the old key is refused afterwards (%s)", err.msg ? err.msg : "");
        vmenv_error_clear(&err);
        vmenv_ssh_free(s);
        t = target(newkey, NULL);
        s = vmenv_ssh_connect(&t, NULL, &err);
        ok(s != NULL, "replace: the new key logs in");

        /* again with the new key, old NULL: idempotent, no duplicate */
        if (s) {
                _cleanup_free_ char *again = NULL;
                r = vmenv_ssh_replace_insecure_key(s, pub, NULL, &err);
                again = slurp(ak, NULL);
                ok(r == 0 && again && after && strcmp(again, after) == 0,
                   "replace: running it twice changes nothing");
        }
        vmenv_ssh_free(s);
        vmenv_error_clear(&err);
}

static void test_wait(const char *key)
{
        vmenv_error err = VMENV_ERROR_INIT;
        _cleanup_free_ char *last = NULL, *seen = NULL;
        struct vmenv_ssh_target t = target(key, NULL);
        struct vmenv_ssh *s;
        uint64_t t0;
        double el;
        int lfd;

        /* closed port: refused at once, retried until the deadline */
        stop_sshd();
        t0 = vmenv_now_ns();
        s = vmenv_ssh_wait(&t, t0 + 1000000000ull, NULL, &last, &err);
        el = secs_since(t0);
        ok(s == NULL && err.code == VMENV_EXIT_TEMPFAIL, "wait: closed port times out");
        ok(el >= 0.95 && el < 2.5, "wait: gives up at the deadline (%.2f s)", el);
        ok(last && strstr(last, "connection refused"),
           "wait: last_error says connection refused (%s)", last ? last : "(null)");
        vmenv_error_clear(&err);
        free(last), last = NULL;

        /* a listener that never speaks: the per-try timeout bounds the wait */
        {
                struct sockaddr_in a = {.sin_family = AF_INET,
                                        .sin_port = htons((uint16_t)port),
                                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
                int one = 1;
                lfd = socket(AF_INET, SOCK_STREAM, 0);
                setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
                if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 16) < 0)
                        bail("cannot listen");
        }
        t.connect_timeout_ms = 400;
        t0 = vmenv_now_ns();
        s = vmenv_ssh_wait(&t, t0 + 1200000000ull, NULL, &last, &err);
        el = secs_since(t0);
        close(lfd);
        ok(s == NULL && el < 2.5, "wait: a silent server does not hold past the deadline (%.2f s)",
           el);
        ok(last && strstr(last, "no banner"), "wait: last_error says no banner came (%s)",
           last ? last : "(null)");
        vmenv_error_clear(&err);
        free(last), last = NULL;
        t.connect_timeout_ms = 5000;

        /* a port forward to a guest without sshd: accepted, then dropped */
        {
                struct sockaddr_in a = {.sin_family = AF_INET,
                                        .sin_port = htons((uint16_t)port),
                                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
                int one = 1;
                pid_t dropper;
                lfd = socket(AF_INET, SOCK_STREAM, 0);
                setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
                if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 16) < 0)
                        bail("cannot listen");
                dropper = fork();
                if (dropper == 0) {
                        for (;;) {
                                int c = accept(lfd, NULL, NULL);
                                struct linger lg = {.l_onoff = 1, .l_linger = 0};
                                if (c < 0)
                                        _exit(0);
                                setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
                                close(c);
                        }
                }
                close(lfd);
                t0 = vmenv_now_ns();
                s = vmenv_ssh_wait(&t, t0 + 800000000ull, NULL, &last, &err);
                el = secs_since(t0);
                kill(dropper, SIGTERM);
                waitpid(dropper, NULL, 0);
                ok(s == NULL && el < 2.5,
                   "wait: an accepting-then-dropping port times out (%.2f s)", el);
                ok(last && strstr(last, "connection closed before the ssh banner"),
                   "wait: last_error says the connection was dropped (%s)", last ? last : "(null)");
                vmenv_error_clear(&err);
                free(last), last = NULL;
        }

        /* sshd comes up a second later */
        start_sshd(1000, false);
        t0 = vmenv_now_ns();
        s = vmenv_ssh_wait(&t, t0 + 15000000000ull, &seen, &last, &err);
        el = secs_since(t0);
        ok(s != NULL, "wait: logs in once sshd starts (%s)", err.msg ? err.msg : "");
        ok(el >= 0.9 && el < 3.5, "wait: soon after it starts (%.2f s)", el);
        ok(seen != NULL, "wait: returns the host key");
        vmenv_ssh_free(s);
        vmenv_error_clear(&err);
}

static void test_insecure_key_path(void)
{
        vmenv_error err = VMENV_ERROR_INIT;
        _cleanup_free_ char *p = NULL, *fake = vmenv_path_join(tmp, "fakehome");
        _cleanup_free_ char *vd = vmenv_path_join(fake, ".vagrant.d");
        _cleanup_free_ char *want = vmenv_path_join(vd, "insecure_private_key");
        const char *pkg = "/usr/share/rubygems-integration/all/gems";
        char *old_home = vmenv_strdup(getenv("HOME"));

        setenv("VMENV_INSECURE_KEY", want, 1);
        p = vmenv_insecure_key_path(&err);
        ok(p == NULL && err.code == VMENV_EXIT_NOINPUT,
           "insecure key: a missing $VMENV_INSECURE_KEY is an error");
        vmenv_error_clear(&err);
        vmenv_mkdir_p(vd, 0700, &err);
        spew(want, "key\n");
        p = vmenv_insecure_key_path(&err);
        is_str(p, want, "insecure key: $VMENV_INSECURE_KEY wins");
        free(p), p = NULL;
        unsetenv("VMENV_INSECURE_KEY");
        setenv("HOME", fake, 1);
        p = vmenv_insecure_key_path(&err);
        {
                _cleanup_free_ char *c =
                    vmenv_strdupf("ls %s/vagrant-*/keys/vagrant >/dev/null 2>&1", pkg);
                if (system(c) == 0)
                        ok(p && vmenv_startswith(p, pkg) && vmenv_endswith(p, "/keys/vagrant"),
                           "insecure key: the vagrant package's key (%s)", p ? p : "(null)");
                else
                        is_str(p, want, "insecure key: ~/.vagrant.d/insecure_private_key");
        }
        if (old_home)
                setenv("HOME", old_home, 1);
        free(old_home);
        vmenv_error_clear(&err);
}

static void test_connect_errors(const char *key)
{
        vmenv_error err = VMENV_ERROR_INIT;
        struct vmenv_ssh_target t = target("/nonexistent/key", NULL);
        struct vmenv_ssh *s;
        int before = count_fds();

        s = vmenv_ssh_connect(&t, NULL, &err);
        ok(!s && err.code == VMENV_EXIT_NOINPUT && strstr(err.msg, "/nonexistent/key"),
           "connect: a missing key file is NOINPUT naming it");
        vmenv_error_clear(&err);
        t = target(key, NULL);
        for (int i = 0; i < 5; i++)
                vmenv_ssh_free(vmenv_ssh_connect(&t, NULL, &err));
        ok(count_fds() == before, "connect: no file descriptor leaks over 5 logins (%d → %d)",
           before, count_fds());
        vmenv_error_clear(&err);
}

/* Dropbear 2022.83, the tiny box's server, with the RSA insecure key: it
 * reads /root/.ssh/authorized_keys, so it runs in a mount namespace of its
 * own where a temporary folder is bind-mounted over /root. */
static pid_t start_dropbear(int dport, const char *dbroot, const char *rsa_host,
                            const char *ed_host)
{
        _cleanup_free_ char *log = vmenv_path_join(tmp, "dropbear.log");
        _cleanup_free_ char *pidf = vmenv_path_join(tmp, "dropbear.pid");
        _cleanup_free_ char *listen = vmenv_strdupf("127.0.0.1:%d", dport);
        pid_t pid = fork();

        if (pid < 0)
                bail("fork");
        if (pid == 0) {
                int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
                if (fd >= 0)
                        dup2(fd, STDOUT_FILENO), dup2(fd, STDERR_FILENO);
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (unshare(CLONE_NEWNS) < 0 ||
                    mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
                    mount(dbroot, "/root", NULL, MS_BIND, NULL) < 0) {
                        perror("namespace");
                        _exit(126);
                }
                if (ed_host)
                        execl("/usr/sbin/dropbear", "dropbear", "-F", "-E", "-s", "-r", rsa_host,
                              "-r", ed_host, "-p", listen, "-P", pidf, (char *)NULL);
                else
                        execl("/usr/sbin/dropbear", "dropbear", "-F", "-E", "-s", "-r", rsa_host,
                              "-p", listen, "-P", pidf, (char *)NULL);
                _exit(127);
        }
        dropbear_pid = pid;
        for (int i = 0; i < 100; i++) {
                if (port_open(dport))
                        return pid;
                usleep(50000);
        }
        stop_child(pid);
        return -1;
}

static void test_dropbear(void)
{
        vmenv_error err = VMENV_ERROR_INIT;
        _cleanup_free_ char *dbroot = vmenv_path_join(tmp, "dbroot");
        _cleanup_free_ char *ak = vmenv_path_join(dbroot, ".ssh/authorized_keys");
        _cleanup_free_ char *sshdir = vmenv_path_join(dbroot, ".ssh");
        _cleanup_free_ char *rsa_host = vmenv_path_join(tmp, "db_rsa"),
                            *ed_host = vmenv_path_join(tmp, "db_ed");
        _cleanup_free_ char *ikey = NULL, *ipub = NULL, *ipub_path = NULL, *newkey = NULL,
                            *newpub = NULL;
        _cleanup_free_ char *seen = NULL, *seen2 = NULL, *out = NULL, *after = NULL;
        struct vmenv_ssh_target t;
        struct vmenv_ssh *s;
        int dport = free_port(), st = -1, r;
        pid_t pid;

        if (access("/usr/sbin/dropbear", X_OK) < 0) {
                ok(1, "# SKIP dropbear: no /usr/sbin/dropbear (apt-get install dropbear-bin)");
                return;
        }
        /* the real insecure key when the vagrant package is there */
        ikey = vmenv_insecure_key_path(&err);
        vmenv_error_clear(&err);
        if (ikey)
                ipub_path = vmenv_strdupf("%s.pub", ikey);
        if (!ikey || access(ipub_path, R_OK) < 0) {
                free(ikey), free(ipub_path);
                ikey = vmenv_path_join(tmp, "db_insecure");
                sh("ssh-keygen -q -t rsa -b 2048 -m PEM -N '' -f '%s'", ikey);
                ipub_path = vmenv_strdupf("%s.pub", ikey);
        }
        ipub = slurp(ipub_path, NULL);
        if (!ipub || vmenv_mkdir_p(sshdir, 0700, &err) < 0)
                bail("dropbear setup");
        ipub[strcspn(ipub, "\n")] = '\0'; /* and no final newline in the file */
        spew(ak, ipub);
        sh("dropbearkey -t rsa -s 2048 -f '%s' >/dev/null 2>&1 && dropbearkey -t ed25519 -f '%s' "
           ">/dev/null 2>&1",
           rsa_host, ed_host);

        /* RSA host key only first: TOFU with an "ssh-rsa" key over rsa-sha2 */
        if ((pid = start_dropbear(dport, dbroot, rsa_host, NULL)) < 0) {
                ok(0, "dropbear: starts on 127.0.0.1:%d (see dropbear.log)", dport);
                return;
        }
        t = (struct vmenv_ssh_target){.host = "127.0.0.1",
                                      .port = dport,
                                      .user = "root",
                                      .key_path = ikey,
                                      .tofu = true,
                                      .connect_timeout_ms = 5000};
        s = vmenv_ssh_wait(&t, vmenv_now_ns() + 10000000000ull, &seen, NULL, &err);
        ok(s != NULL, "dropbear: RSA insecure key logs in (%s)", err.msg ? err.msg : "");
        ok(seen && vmenv_startswith(seen, "ssh-rsa "),
           "dropbear: RSA host key recorded as ssh-rsa");
        vmenv_ssh_free(s);
        t.known_host_key = seen;
        s = vmenv_ssh_connect(&t, &seen2, &err);
        ok(s != NULL && vmenv_streq(seen, seen2),
           "dropbear: recorded RSA host key accepted again (%s)", err.msg ? err.msg : "");
        vmenv_ssh_free(s);
        stop_child(pid);
        vmenv_error_clear(&err);

        /* both host keys: the recorded RSA one is still the one negotiated */
        if ((pid = start_dropbear(dport, dbroot, rsa_host, ed_host)) < 0)
                bail("dropbear did not restart");
        free(seen2), seen2 = NULL;
        s = vmenv_ssh_connect(&t, &seen2, &err);
        ok(s != NULL && vmenv_streq(seen, seen2),
           "dropbear: with an ed25519 key added, the recorded RSA key is still used (%s)",
           err.msg ? err.msg : "");
        if (!s) {
                stop_child(pid);
                return;
        }
        r = vmenv_ssh_capture(s, "echo hi; exit 2", 100, &out, &st, &err);
        ok(r == 0 && st == 2 && vmenv_streq(out, "hi\n"), "dropbear: capture and exit status");
        free(out), out = NULL;
        r = vmenv_ssh_exec(s, "kill -TERM $$", NULL, 0, -1, -1, &st, &err);
        ok(r == 0 && st == 143, "dropbear: a signal gives 128+n (got %d)", st);

        newkey = vmenv_path_join(tmp, "db_new");
        if (vmenv_ssh_keygen(newkey, "vmenv:dropbear", &newpub, &err) < 0)
                bail(err.msg);
        r = vmenv_ssh_replace_insecure_key(s, newpub, ipub, &err);
        ok(r == 0, "dropbear: insecure key replaced (%s)", err.msg ? err.msg : "");
        vmenv_ssh_free(s);
        after = slurp(ak, NULL);
        {
                _cleanup_free_ char *want = vmenv_strdupf("%s\n", newpub);
                is_str(after, want, "dropbear: authorized_keys holds only the new key");
        }
        t.known_host_key = seen;
        s = vmenv_ssh_connect(&t, NULL, &err);
        ok(s == NULL && err.code == VMENV_EXIT_NOPERM, "dropbear: insecure key refused afterwards");
        vmenv_error_clear(&err);
        t.key_path = newkey;
        s = vmenv_ssh_connect(&t, NULL, &err);
        ok(s != NULL, "dropbear: the new ed25519 key logs in (%s)", err.msg ? err.msg : "");
        vmenv_ssh_free(s);
        stop_child(pid);
        vmenv_error_clear(&err);
}

static int bench_exec(int argc, char **argv)
{
        vmenv_error err = VMENV_ERROR_INIT;
        struct vmenv_ssh_target t;
        struct vmenv_ssh *s;
        int st = 255;

        if (argc != 5) {
                fprintf(stderr, "usage: test-ssh --exec PORT KEY CMD\n");
                return 64;
        }
        t = (struct vmenv_ssh_target){.host = "127.0.0.1",
                                      .port = atoi(argv[2]),
                                      .user = "root",
                                      .key_path = argv[3],
                                      .tofu = true};
        if (!(s = vmenv_ssh_connect(&t, NULL, &err)) ||
            vmenv_ssh_exec(s, argv[4], NULL, 0, 1, 2, &st, &err) < 0) {
                fprintf(stderr, "test-ssh: %s\n", err.msg);
                vmenv_ssh_free(s);
                vmenv_error_clear(&err);
                ssh_finalize();
                return 255;
        }
        vmenv_ssh_free(s);
        ssh_finalize();
        return st;
}

int main(int argc, char **argv)
{
        vmenv_error err = VMENV_ERROR_INIT;
        _cleanup_free_ char *key = NULL, *tmpl = NULL, *conf_text = NULL, *seen = NULL;
        _cleanup_free_ char *tpl_path = NULL, *sshdir = NULL;
        const char *srcdir = getenv("VMENV_SRCDIR");
        struct vmenv_ssh_target t;
        struct vmenv_ssh *s;
        int r;

        if (argc > 1 && strcmp(argv[1], "--exec") == 0)
                return bench_exec(argc, argv);
        if (access("/usr/sbin/sshd", X_OK) < 0) {
                printf("1..0 # SKIP no /usr/sbin/sshd (apt-get install openssh-server)\n");
                return 0;
        }
        /* stdin may be closed under a CI runner: the shell tests need 0-2 */
        for (int fd = 0; fd <= 2; fd++)
                if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", fd ? O_WRONLY : O_RDONLY) != fd)
                        bail("cannot open /dev/null");
        signal(SIGPIPE, SIG_IGN);
        signal(SIGALRM, on_alarm);
        tap_fd = dup(STDOUT_FILENO);
        tmp = vmenv_strdup("/tmp/vmenv-ssh-test.XXXXXX");
        if (!mkdtemp(tmp))
                bail("mkdtemp");
        home = vmenv_path_join(tmp, "home");
        sshdir = vmenv_path_join(home, ".ssh");
        cfg = vmenv_path_join(tmp, "sshd_config");
        if (vmenv_mkdir_p(sshdir, 0700, &err) < 0 || vmenv_mkdir_p("/run/sshd", 0755, &err) < 0)
                bail(err.msg);
        tpl_path = vmenv_strdupf("%s/tests/fixtures/sshd/sshd_config.in", srcdir ? srcdir : ".");
        if (!(tmpl = slurp(tpl_path, NULL)))
                bail("cannot read tests/fixtures/sshd/sshd_config.in (set VMENV_SRCDIR)");
        {
                struct vmenv_buf b = {0};
                for (const char *p = tmpl, *q; *p; p = q + 5) {
                        if (!(q = strstr(p, "@DIR@"))) {
                                vmenv_buf_puts(&b, p);
                                break;
                        }
                        vmenv_buf_add(&b, p, (size_t)(q - p));
                        vmenv_buf_puts(&b, tmp);
                }
                conf_text = vmenv_buf_steal(&b);
        }
        spew(cfg, conf_text);
        sh("ssh-keygen -q -t ed25519 -N '' -f '%s/host_key'", tmp);
        sh("ssh-keygen -q -t ed25519 -N '' -C test -f '%s/key'", tmp);
        sh("cp '%s/key.pub' '%s/.ssh/authorized_keys'", tmp, home);
        key = vmenv_path_join(tmp, "key");
        port = free_port();
        phase("start sshd and log in", 30);
        start_sshd(0, true);

        /* no recorded key and no trust on first use: refused before any
         * packet, with what to do (only up's first boot may trust) */
        t = target(key, NULL);
        t.tofu = false;
        s = vmenv_ssh_connect(&t, NULL, &err);
        ok(s == NULL && err.code == VMENV_EXIT_NOPERM && err.msg &&
               strstr(err.msg, "no host key is recorded") && err.hint &&
               strstr(err.hint, "vmenv up"),
           "connect: without a recorded host key nor tofu, refused (%s)", err.msg ? err.msg : "");
        vmenv_ssh_free(s);
        vmenv_error_clear(&err);
        t = target(key, NULL);
        s = vmenv_ssh_connect(&t, NULL, &err);
        if (!ok(s != NULL, "connect: logs in as root with an ed25519 key (%s)",
                err.msg ? err.msg : ""))
                bail("cannot log in");
        phase("exec", 60);
        test_exec(s);
        phase("capture", 30);
        test_capture(s);
        phase("upload", 30);
        test_upload(s);
        phase("shell on a pipe", 30);
        test_shell_pipe(s);
        phase("shell on a slow pipe", 30);
        test_shell_slow_pipe(s);
        phase("shell on a pty", 60);
        test_shell_pty(s);
        vmenv_ssh_free(s);

        phase("connect errors", 30);
        test_connect_errors(key);
        phase("host keys", 30);
        test_host_keys(key, &seen);
        phase("keygen and replace", 30);
        test_keygen_and_replace(key);
        phase("host key changed", 30);
        test_host_key_changed(key, seen);
        phase("wait", 40);
        test_wait(key);
        test_insecure_key_path();
        phase("dropbear", 60);
        test_dropbear();
        alarm(0);

        stop_sshd();
        r = vmenv_rm_rf(tmp, &err);
        ok(r == 0, "cleanup: temporary folder removed");
        vmenv_error_clear(&err);
        free(tmp), free(home), free(cfg);
        ssh_finalize();
        return done_testing();
}
