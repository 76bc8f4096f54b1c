/* The sync planner: what is sent, what is deleted, excludes, type changes,
 * the guest listing parser (odd names included) and delete-command quoting. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"
#include "vmenv/cleanup.h"
#include "vmenv/sync.h"
#include "vmenv/util.h"

/* A tree written as "f path size mtime mode", "d path mode", "l path target". */
static void build(struct vmenv_sync_list *l, const char *const *spec)
{
        memset(l, 0, sizeof(*l));
        for (; *spec; spec++) {
                struct vmenv_sync_entry e = {0};
                char path[256], target[256];
                unsigned long long size = 0;
                long long mtime = 0;
                unsigned mode = 0;
                switch ((*spec)[0]) {
                case 'f':
                        sscanf(*spec, "f %255s %llu %lld %o", path, &size, &mtime, &mode);
                        e.type = VMENV_SYNC_FILE;
                        break;
                case 'd':
                        sscanf(*spec, "d %255s %o", path, &mode);
                        e.type = VMENV_SYNC_DIR;
                        break;
                default:
                        sscanf(*spec, "l %255s %255s", path, target);
                        e.type = VMENV_SYNC_LINK;
                        e.link = target;
                        mode = 0777;
                }
                e.path = path;
                e.size = size;
                e.mtime = mtime;
                e.mode = mode;
                vmenv_sync_list_add(l, &e);
        }
        vmenv_sync_list_sort(l);
}

/* "send: a b | del: c" */
static char *describe(const struct vmenv_sync_plan *p)
{
        struct vmenv_buf b = {0};
        vmenv_buf_puts(&b, "send:");
        for (size_t i = 0; i < p->n_send; i++)
                vmenv_buf_printf(&b, " %s", p->send[i]->path);
        vmenv_buf_puts(&b, " | del:");
        for (size_t i = 0; i < p->n_del; i++)
                vmenv_buf_printf(&b, " %s", p->del[i]);
        return vmenv_buf_steal(&b);
}

struct plan_case {
        const char *name;
        const char *local[12], *remote[12], *exclude[6];
        const char *want;
        size_t unchanged;
};

static const struct plan_case plan_cases[] = {
    {"first sync sends everything, parents first",
     {"f b/x 3 10 644", "d b 755", "f a 1 10 644", "l c a", "d b/y 700", "f b/y/z 0 1 600"},
     {0},
     {0},
     "send: a b b/x b/y b/y/z c | del:",
     0},
    {"unchanged tree sends nothing",
     {"f a 1 10 644", "d b 755", "f b/x 3 10 644", "l c a"},
     {"f a 1 10 644", "d b 755", "f b/x 3 10 644", "l c a"},
     {0},
     "send: | del:",
     4},
    {"size, mtime and mode changes are sent",
     {"f a 2 10 644", "f b 1 11 644", "f c 1 10 755", "f d 1 10 644", "d e 700"},
     {"f a 1 10 644", "f b 1 10 644", "f c 1 10 644", "f d 1 10 644", "d e 755"},
     {0},
     "send: a b c e | del:",
     1},
    {"deleted locally: deleted remotely, a folder once",
     {"f keep 1 1 644"},
     {"f keep 1 1 644", "f gone 1 1 644", "d old 755", "f old/x 1 1 644", "d old/sub 755",
      "f old/sub/y 1 1 644", "f old-2 1 1 644"},
     {0},
     "send: | del: gone old old-2",
     1},
    {"file becomes folder: delete then send",
     {"d a 755", "f a/x 1 1 644"},
     {"f a 1 1 644"},
     {0},
     "send: a a/x | del: a",
     0},
    {"folder becomes file: delete the folder, children not listed",
     {"f a 1 1 644"},
     {"d a 755", "f a/x 1 1 644"},
     {0},
     "send: a | del: a",
     0},
    {"file becomes symlink, symlink target changes",
     {"l a target", "l b new"},
     {"f a 1 1 644", "l b old"},
     {0},
     "send: a b | del: a",
     0},
    {"symlink becomes folder", {"d a 755"}, {"l a elsewhere"}, {0}, "send: a | del: a", 0},
    {"excluded remote entries are left alone",
     {"f a.c 1 1 644"},
     {"f a.c 1 1 644", "f a.o 1 1 644", "d .git 755", "f .git/HEAD 1 1 644", "d build 755",
      "f build/out 1 1 644", "f sub 1 1 644", "f stale 1 1 644"},
     {"*.o", ".git", "build/", 0},
     "send: | del: stale sub",
     1},
    {"a 'build/' pattern spares folders only",
     {0},
     {"f build 1 1 644"},
     {"build/", 0},
     "send: | del: build",
     0},
    {"rooted pattern only at the top",
     {"d src 755", "f src/cfg 1 1 644"},
     {"f cfg 1 1 644", "d src 755", "f src/cfg 1 1 644", "d x 755", "f x/cfg 1 1 644"},
     {"/cfg", 0},
     "send: | del: x",
     2},
    {"slash pattern matches trailing components",
     {0},
     {"d a 755", "d a/b 755", "f a/b/c 1 1 644", "d z 755", "d z/a 755", "d z/a/b 755"},
     {"a/b", 0},
     "send: | del: a z",
     0},
};

static void test_plans(void)
{
        for (size_t k = 0; k < VMENV_ARRAY_SIZE(plan_cases); k++) {
                const struct plan_case *c = &plan_cases[k];
                struct vmenv_sync_list l, r;
                struct vmenv_sync_plan p;
                _cleanup_free_ char *got = NULL;

                build(&l, c->local);
                build(&r, c->remote);
                vmenv_sync_plan_make(&l, &r, (char *const *)c->exclude, &p);
                got = describe(&p);
                is_str(got, c->want, c->name);
                ok(p.n_unchanged == c->unchanged, "%s: %zu unchanged", c->name, p.n_unchanged);
                vmenv_sync_plan_free(&p);
                vmenv_sync_list_free(&l);
                vmenv_sync_list_free(&r);
        }
}

static void test_excludes(void)
{
        const char *pats[] = {".git", "*.o", "build/", "/rooted", "docs/*.tmp", "deep/**/x", NULL};
        char *const *ex = (char *const *)pats;
        struct {
                const char *path;
                bool dir, want;
        } cases[] = {
            {".git", true, true},           {"a/.git", true, true},
            {"a/.gitignore", false, false}, {"x.o", false, true},
            {"a/b/x.o", false, true},       {"x.oo", false, false},
            {"build", true, true},          {"a/build", true, true},
            {"build", false, false},        {"rooted", false, true},
            {"a/rooted", false, false},     {"docs/a.tmp", false, true},
            {"z/docs/a.tmp", false, true},  {"docs/s/a.tmp", false, false},
            {"deep/1/2/x", false, true},    {"src/main.c", false, false},
        };
        for (size_t i = 0; i < VMENV_ARRAY_SIZE(cases); i++)
                ok(vmenv_sync_excluded(cases[i].path, cases[i].dir, ex) == cases[i].want,
                   "exclude: '%s'%s %s", cases[i].path, cases[i].dir ? " (folder)" : "",
                   cases[i].want ? "excluded" : "kept");
        ok(!vmenv_sync_excluded("a", false, NULL), "no patterns exclude nothing");
}

static void test_listing(void)
{
        static const char good[] = "D\0B\0./a\0./odd\nname 'q' $x\0./l\0S\0"
                                   "81a4 5 1700000000 644\n41ed 4096 1700000001 755\n"
                                   "a1ff 3 1700000002 777\nL\0target with space\0E\0"
                                   "B\0./a/b\0S\0"
                                   "81ed 0 17 4755\nL\0E\0";
        struct vmenv_sync_list l = {0};
        vmenv_error err = VMENV_ERROR_INIT;

        ok(vmenv_sync_parse_listing(good, sizeof(good) - 1, &l, &err) == 0, "listing parses");
        ok(l.exists && l.n == 4, "four entries in two batches");
        if (l.n == 4) {
                is_str(l.v[0].path, "a", "sorted: a");
                is_str(l.v[1].path, "a/b", "sorted: a/b right after a");
                is_str(l.v[2].path, "l", "sorted: l");
                is_str(l.v[3].path, "odd\nname 'q' $x", "a name with newline, quotes and $");
                ok(l.v[0].type == 'f' && l.v[0].size == 5 && l.v[0].mtime == 1700000000 &&
                       l.v[0].mode == 0644,
                   "file fields");
                ok(l.v[1].type == 'f' && l.v[1].mode == 04755, "setuid mode kept");
                ok(l.v[2].type == 'l' && vmenv_streq(l.v[2].link, "target with space"),
                   "symlink target");
                ok(l.v[3].type == 'd' && l.v[3].mode == 0755 && l.v[3].size == 0, "folder");
        }
        vmenv_sync_list_free(&l);

        ok(vmenv_sync_parse_listing("", 0, &l, &err) == 0 && !l.exists && l.n == 0,
           "empty output: the folder does not exist");
        vmenv_sync_list_free(&l);

        static const struct {
                const char *data;
                size_t len;
                const char *what;
        } bad[] = {
#define B(s) s, sizeof(s) - 1
            {B("D\0B\0./a\0S\0"), "stat line missing"},
            {B("D\0B\0./a\0./b\0S\0"
               "81a4 1 1 644\nL\0E\0"),
             "fewer stat lines than names"},
            {B("D\0B\0../x\0S\0"
               "81a4 1 1 644\nL\0E\0"),
             "name outside the folder"},
            {B("D\0B\0./a/../../x\0S\0"
               "81a4 1 1 644\nL\0E\0"),
             "dot-dot inside a name"},
            {B("D\0B\0./a\0S\0"
               "81a4 x 1 644\nL\0E\0"),
             "size not a number"},
            {B("D\0B\0./a\0S\0"
               "a1ff 1 1 777\nL\0E\0"),
             "link target missing"},
            {B("D\0B\0./a\0S\0"
               "81a4 1 1 644\nL\0"),
             "batch not ended"},
            {B("D\0B\0./a\0S\0"
               "81a4 1 1 644\nL\0E\0B\0./a\0S\0"
               "81a4 1 1 644\nL\0E\0"),
             "duplicate name"},
            {B("X\0"), "no leading D"},
            {B("D\0B\0./a"), "unterminated name"},
#undef B
        };
        for (size_t i = 0; i < VMENV_ARRAY_SIZE(bad); i++) {
                vmenv_error e = VMENV_ERROR_INIT;
                int r = vmenv_sync_parse_listing(bad[i].data, bad[i].len, &l, &e);
                ok(r < 0 && e.code == VMENV_EXIT_DATA && vmenv_startswith(e.msg, "malformed"),
                   "rejected: %s (%s)", bad[i].what, e.msg ? e.msg : "accepted");
                vmenv_error_clear(&e);
        }
        vmenv_error_clear(&err);
}

/* Runs a shell command locally and returns its stdout. */
static char *sh_out(const char *cmd, size_t *len)
{
        FILE *f = popen(cmd, "r");
        struct vmenv_buf b = {0};
        char chunk[4096];
        size_t n;
        if (!f)
                return NULL;
        while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
                vmenv_buf_add(&b, chunk, n);
        pclose(f);
        *len = b.len;
        return vmenv_buf_steal(&b);
}

static void write_file(const char *dir, const char *name, const char *text, mode_t mode)
{
        _cleanup_free_ char *p = vmenv_path_join(dir, name);
        int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode);
        if (fd >= 0) {
                if (write(fd, text, strlen(text)) < 0)
                        perror("write");
                fchmod(fd, mode);
                close(fd);
        }
}

/* The real listing command, run by sh (and by busybox sh when present),
 * agrees with the local walk on a tree of odd names. */
static void test_listing_roundtrip(void)
{
        char tmpl[] = "/tmp/vmenv-test-sync.XXXXXX";
        char *dir = mkdtemp(tmpl);
        _cleanup_free_ char *bb = NULL, *bbsh = NULL;
        const char *shells[3] = {"sh", NULL, NULL};
        struct vmenv_sync_list local = {0};
        vmenv_error err = VMENV_ERROR_INIT;
        _cleanup_free_ char *sub = NULL, *sub2 = NULL, *lnk = NULL;

        if (!dir) {
                ok(0, "mkdtemp");
                return;
        }
        sub = vmenv_path_join(dir, "dir with space");
        mkdir(sub, 0750);
        sub2 = vmenv_path_join(dir, "dir with space/-dash");
        mkdir(sub2, 0700);
        write_file(dir, "plain", "hello", 0644);
        write_file(dir, "it's $HOME \"q\"", "x", 0600);
        write_file(dir, "new\nline", "yz", 0755);
        write_file(dir, "dir with space/-dash/\xc3\xa9t\xc3\xa9", "", 0640);
        lnk = vmenv_path_join(dir, "link");
        if (symlink("dir with space/../plain", lnk) < 0)
                perror("symlink");

        int r = vmenv_sync_walk(dir, NULL, &local, &err);
        ok(r == 0 && local.n == 7, "local walk: %zu entries", local.n);
        /* A PATH holding only busybox applets, like a tiny guest. */
        if (access("/bin/busybox", X_OK) == 0) {
                const char *applets[] = {"sh", "find", "stat", "readlink", "printf", NULL};
                bb = vmenv_strdupf("%s.bin", dir);
                mkdir(bb, 0755);
                for (const char **a = applets; *a; a++) {
                        _cleanup_free_ char *l = vmenv_path_join(bb, *a);
                        if (symlink("/bin/busybox", l) < 0)
                                perror("symlink");
                }
                bbsh = vmenv_strdupf("env PATH=%s sh", bb);
                shells[1] = bbsh;
        }
        for (const char **sh = shells; *sh; sh++) {
                _cleanup_free_ char *cmd = vmenv_sync_listing_cmd(dir);
                _cleanup_free_ char *q = vmenv_shell_quote(cmd);
                _cleanup_free_ char *full = NULL, *out = NULL;
                struct vmenv_sync_list remote = {0};
                struct vmenv_sync_plan p = {0};
                size_t len = 0;

                full = vmenv_strdupf("%s -c %s", *sh, q);
                out = sh_out(full, &len);
                ok(out && vmenv_sync_parse_listing(out, len, &remote, &err) == 0,
                   "%s: listing parses", *sh);
                ok(remote.n == local.n, "%s: same number of entries (%zu)", *sh, remote.n);
                vmenv_sync_plan_make(&local, &remote, NULL, &p);
                ok(p.n_send == 0 && p.n_del == 0 && p.n_unchanged == local.n,
                   "%s: the listing matches the walk exactly (%zu to send, %zu to delete)", *sh,
                   p.n_send, p.n_del);
                vmenv_sync_plan_free(&p);
                vmenv_sync_list_free(&remote);
        }
        {
                _cleanup_free_ char *missing = vmenv_path_join(dir, "nope");
                _cleanup_free_ char *cmd = vmenv_sync_listing_cmd(missing);
                _cleanup_free_ char *q = vmenv_shell_quote(cmd);
                _cleanup_free_ char *full = vmenv_strdupf("sh -c %s", q);
                size_t len = 1;
                _cleanup_free_ char *out = sh_out(full, &len);
                ok(out && len == 0, "a missing guest folder lists as nothing");
        }
        {
                const char *ex[] = {"*.txt", "dir with space/", NULL};
                struct vmenv_sync_list l2 = {0};
                int rr = vmenv_sync_walk(dir, (char *const *)ex, &l2, &err);
                ok(rr == 0 && l2.n == 4,
                   "walk leaves out an excluded folder and its contents (%zu)", l2.n);
                vmenv_sync_list_free(&l2);
        }
        {
                _cleanup_free_ char *missing = vmenv_path_join(dir, "nope");
                struct vmenv_sync_list l3 = {0};
                vmenv_error e = VMENV_ERROR_INIT;
                int rr = vmenv_sync_walk(missing, NULL, &l3, &e);
                ok(rr < 0 && e.code == VMENV_EXIT_NOINPUT && strstr(e.msg, "nope") && e.hint,
                   "missing local folder: %s", e.msg ? e.msg : "no error");
                vmenv_error_clear(&e);
        }
        vmenv_sync_list_free(&local);
        vmenv_error_clear(&err);
        vmenv_rm_rf(dir, &err);
        if (bb)
                vmenv_rm_rf(bb, &err);
        vmenv_error_clear(&err);
}

static void test_delete_cmds(void)
{
        const char *paths[] = {"a b", "it's", "-rf", "$(reboot)", "new\nline"};
        char **cmds = vmenv_sync_delete_cmds("/srv/my dir", paths, 5, false, 1 << 16);
        char **root = vmenv_sync_delete_cmds("/vagrant", paths, 5, true, 1 << 16);
        char **small = vmenv_sync_delete_cmds("/v", paths, 5, false, 20);

        ok(vmenv_strv_len(cmds) == 1, "one command for a short list");
        is_str(cmds[0],
               "cd '/srv/my dir' && rm -rf -- './a b' './it'\\''s' './-rf' './$(reboot)' "
               "'./new\nline'",
               "every path quoted and prefixed with ./");
        ok(vmenv_startswith(root[0], "sudo -n sh -c 'cd '\\''/vagrant'\\'' && rm -rf -- "),
           "as root: through sudo -n sh -c");
        ok(vmenv_strv_len(small) == 5, "split into batches under the length limit (%zu)",
           vmenv_strv_len(small));
        /* The quoted command, run by a shell, sees exactly the names. */
        {
                char tmpl[] = "/tmp/vmenv-test-del.XXXXXX";
                char *dir = mkdtemp(tmpl);
                vmenv_error err = VMENV_ERROR_INIT;
                char **c;
                int all = 1;
                for (size_t i = 0; dir && i < 5; i++)
                        write_file(dir, paths[i], "", 0644);
                write_file(dir, "keep", "", 0644);
                c = vmenv_sync_delete_cmds(dir, paths, 5, false, 1 << 16);
                {
                        pid_t pid = fork();
                        int status = 1;
                        if (pid == 0) {
                                execl("/bin/sh", "sh", "-c", c[0], (char *)NULL);
                                _exit(127);
                        }
                        waitpid(pid, &status, 0);
                        all = WIFEXITED(status) && WEXITSTATUS(status) == 0;
                }
                for (size_t i = 0; dir && i < 5; i++) {
                        _cleanup_free_ char *p = vmenv_path_join(dir, paths[i]);
                        all &= !vmenv_path_exists(p);
                }
                {
                        _cleanup_free_ char *k = vmenv_path_join(dir, "keep");
                        all &= vmenv_path_exists(k);
                }
                ok(all, "the shell removes exactly the odd names");
                vmenv_strv_free(c);
                if (dir)
                        vmenv_rm_rf(dir, &err);
                vmenv_error_clear(&err);
        }
        vmenv_strv_free(cmds);
        vmenv_strv_free(root);
        vmenv_strv_free(small);
}

/* Two machines watching the same folder with different excludes, a folder
 * created after the start, and SIGTERM as a clean stop. */
static void test_watch(void)
{
        char tmpl[] = "/tmp/vmenv-test-watch.XXXXXX";
        char *dir = mkdtemp(tmpl);
        const char *ex1[] = {"*.log", NULL};
        vmenv_error err = VMENV_ERROR_INIT;
        struct vmenv_sync_watch *w = vmenv_sync_watch_new(&err);
        bool dirty[2];
        int r;

        if (!dir || !w) {
                ok(0, "watch set up: %s", err.msg ? err.msg : "mkdtemp");
                vmenv_sync_watch_free(w);
                vmenv_error_clear(&err);
                return;
        }
        ok(vmenv_sync_watch_add(w, dir, NULL, 0, &err) == 0 &&
               vmenv_sync_watch_add(w, dir, (char *const *)ex1, 1, &err) == 0,
           "one folder watched for two machines");
        write_file(dir, "a.txt", "x", 0644);
        r = vmenv_sync_watch_wait(w, 50, dirty, 2, &err);
        ok(r == 1 && dirty[0] && dirty[1], "a change marks both machines");
        write_file(dir, "b.log", "x", 0644);
        r = vmenv_sync_watch_wait(w, 50, dirty, 2, &err);
        ok(r == 1 && dirty[0] && !dirty[1], "a file excluded for one machine marks only the other");
        {
                _cleanup_free_ char *sub = vmenv_path_join(dir, "new");
                _cleanup_free_ char *deep = vmenv_path_join(dir, "new/deeper");
                mkdir(sub, 0755);
                r = vmenv_sync_watch_wait(w, 50, dirty, 2, &err);
                mkdir(deep, 0755);
                r = vmenv_sync_watch_wait(w, 50, dirty, 2, &err);
                ok(r == 1 && dirty[0] && dirty[1], "a folder made after the start is watched");
                write_file(deep, "c.txt", "x", 0644);
                r = vmenv_sync_watch_wait(w, 50, dirty, 2, &err);
                ok(r == 1 && dirty[0] && dirty[1], "and so is one made inside it");
        }
        kill(getpid(), SIGTERM);
        r = vmenv_sync_watch_wait(w, 50, dirty, 2, &err);
        ok(r == 0, "SIGTERM ends the wait cleanly");
        vmenv_sync_watch_free(w);
        vmenv_rm_rf(dir, &err);
        vmenv_error_clear(&err);
}

int main(void)
{
        test_plans();
        test_excludes();
        test_listing();
        test_listing_roundtrip();
        test_delete_cmds();
        test_watch();
        return done_testing();
}
