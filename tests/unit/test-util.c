/* Unit tests for the shared utilities: escaping, sizes, hints, files. */
#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tap.h"
#include "vmenv/cleanup.h"
#include "vmenv/util.h"

static void test_escape(void)
{
        _cleanup_free_ char *x = vmenv_xml_escape("a<b>&\"c'");
        _cleanup_free_ char *q = vmenv_shell_quote("it's $HOME `x`");
        _cleanup_free_ char *e = vmenv_shell_quote("");
        is_str(x, "a&lt;b&gt;&amp;&quot;c&apos;", "xml escape of every special character");
        is_str(q, "'it'\\''s $HOME `x`'", "shell quote closes and reopens around a quote");
        is_str(e, "''", "empty string quotes to ''");
}

static void test_sizes(void)
{
        static const struct {
                const char *in;
                int rc;
                unsigned long long want;
        } cases[] = {
            {"512M", 0, 512ull << 20},
            {"1G", 0, 1ull << 30},
            {"1GiB", 0, 1ull << 30},
            {"2048", 0, 2048},
            {"1.5G", 0, 3ull << 29},
            {"10k", 0, 10240},
            {"lots", -1, 0},
            {"-1G", -1, 0},
            {"", -1, 0},
            {"1X", -1, 0},
            {"1GG", -1, 0},
            {"99999999999T", -1, 0},
            {"1.5", -1, 0},
            {"0x1p30", -1, 0},
            {"1e9", -1, 0},
            {"1E3M", -1, 0},
            {"inf", -1, 0},
            {"nan", -1, 0},
            {" 1G", -1, 0},
            {"+1G", -1, 0},
            {".5G", -1, 0},
            {"1.G", -1, 0},
            {"1,5G", -1, 0},
            {"0.25K", 0, 256},
            {"18446744073709551615", 0, 18446744073709551615ull},
            {"18446744073709551616", -1, 0},
            {"16777216T", -1, 0},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                uint64_t v = 0;
                int rc = vmenv_parse_size(cases[i].in, &v);
                ok(rc == cases[i].rc && (rc < 0 || v == cases[i].want), "size '%s'", cases[i].in);
        }
}

static void test_hint(void)
{
        const char *cands[] = {"memory", "machines", "cpus", "box_version", NULL};
        is_str(vmenv_did_you_mean("memroy", cands), "memory", "did you mean: transposition");
        is_str(vmenv_did_you_mean("box_verison", cands), "box_version", "did you mean: long key");
        ok(vmenv_did_you_mean("zzzzzz", cands) == NULL, "no hint for a far word");
}

static void test_files(void)
{
        vmenv_error err = VMENV_ERROR_INIT;
        char tmpl[] = "/tmp/vmenv-test-XXXXXX";
        char *dir = mkdtemp(tmpl);
        _cleanup_free_ char *deep = vmenv_path_join(dir, "a/b/c");
        _cleanup_free_ char *file = vmenv_path_join(deep, "f");
        _cleanup_free_ char *got = NULL;
        size_t len = 0;
        struct stat st;

        ok(vmenv_mkdir_p(deep, 0755, &err) == 0, "mkdir -p");
        ok(vmenv_write_file_atomic(file, "hello", 5, 0600, &err) == 0, "atomic write");
        ok(stat(file, &st) == 0 && (st.st_mode & 0777) == 0600, "atomic write keeps the mode");
        ok(vmenv_read_file(file, 100, &got, &len, &err) == 0 && len == 5, "read back");
        is_str(got, "hello", "content round-trips");
        free(TAKE_PTR(got));
        ok(vmenv_read_file(file, 3, &got, &len, &err) < 0 && err.code == 65, "read limit enforced");
        vmenv_error_clear(&err);
        {
                /* Planted links at the names the old writer used (path.tmp.PID)
                 * must not be written through; the target link is replaced,
                 * not followed, and no temporary file is left behind. */
                _cleanup_free_ char *victim = vmenv_path_join(dir, "victim");
                _cleanup_free_ char *planted = vmenv_strdupf("%s.tmp.%ld", file, (long)getpid());
                _cleanup_free_ char *link = vmenv_path_join(deep, "link");
                DIR *d;
                struct dirent *de;
                int extra = 0;

                ok(vmenv_write_file_atomic(victim, "keep", 4, 0644, &err) == 0, "victim written");
                ok(symlink(victim, planted) == 0, "planted a link at path.tmp.PID");
                ok(vmenv_write_file_atomic(file, "again", 5, 0600, &err) == 0,
                   "atomic write with a planted link beside it");
                free(TAKE_PTR(got));
                ok(vmenv_read_file(victim, 100, &got, &len, &err) == 0 && len == 4,
                   "the planted link was not written through");
                unlink(planted);
                ok(symlink(victim, link) == 0, "a link in place of the target");
                ok(vmenv_write_file_atomic(link, "new", 3, 0600, &err) == 0 &&
                       lstat(link, &st) == 0 && S_ISREG(st.st_mode),
                   "the target link is replaced by a file");
                free(TAKE_PTR(got));
                ok(vmenv_read_file(victim, 100, &got, &len, &err) == 0 && len == 4,
                   "the target link was not followed");
                d = opendir(deep);
                while (d && (de = readdir(d)))
                        extra += strstr(de->d_name, ".tmp.") != NULL;
                if (d)
                        closedir(d);
                ok(extra == 0, "no temporary file is left behind");
        }
        ok(vmenv_rm_rf(dir, &err) == 0 && !vmenv_path_exists(dir), "rm -rf");
        ok(vmenv_rm_rf(dir, &err) == 0, "rm -rf of a missing path is fine");
}

/* A project may name its own files only: not one outside it by '..', an
 * absolute path or a symlink, and not a FIFO (which would hang vmenv). */
static void test_project_file(void)
{
        vmenv_error err = VMENV_ERROR_INIT;
        char tmpl[] = "/tmp/vmenv-test-XXXXXX";
        char *top = mkdtemp(tmpl);
        _cleanup_free_ char *proj = vmenv_path_join(top, "proj");
        _cleanup_free_ char *sub = vmenv_path_join(proj, "sub");
        _cleanup_free_ char *secret = vmenv_path_join(top, "secret");
        _cleanup_free_ char *inside = vmenv_path_join(sub, "ud.yaml");
        _cleanup_free_ char *out_link = vmenv_path_join(proj, "out");
        _cleanup_free_ char *in_link = vmenv_path_join(proj, "in");
        _cleanup_free_ char *fifo = vmenv_path_join(proj, "fifo");
        _cleanup_free_ char *got = NULL;
        size_t len = 0;

        ok(vmenv_mkdir_p(sub, 0755, &err) == 0 &&
               vmenv_write_file_atomic(secret, "TOKEN", 5, 0600, &err) == 0 &&
               vmenv_write_file_atomic(inside, "#cloud-config\n", 14, 0644, &err) == 0 &&
               symlink(secret, out_link) == 0 && symlink("sub/ud.yaml", in_link) == 0 &&
               mkfifo(fifo, 0600) == 0,
           "project with a file, links in and out, a FIFO");
        ok(vmenv_read_project_file(proj, "sub/ud.yaml", 100, &got, &len, &err) == 0 && len == 14,
           "a file of the project is read");
        free(TAKE_PTR(got));
        ok(vmenv_read_project_file(proj, "in", 100, &got, &len, &err) == 0 && len == 14,
           "a link to a file of the project is read");
        free(TAKE_PTR(got));
        ok(vmenv_read_project_file(proj, "../secret", 100, &got, &len, &err) < 0 &&
               err.code == 78 && strstr(err.msg, "outside the project"),
           "'..' out of the project is refused");
        vmenv_error_clear(&err);
        ok(vmenv_read_project_file(proj, "sub/../../secret", 100, &got, &len, &err) < 0 &&
               err.code == 78,
           "'..' deeper in the path is refused");
        vmenv_error_clear(&err);
        ok(vmenv_read_project_file(proj, "out", 100, &got, &len, &err) < 0 && err.code == 78,
           "a link out of the project is refused");
        vmenv_error_clear(&err);
        ok(vmenv_read_project_file(proj, secret, 100, &got, &len, &err) < 0 && err.code == 78,
           "an absolute path is refused");
        vmenv_error_clear(&err);
        ok(vmenv_read_project_file(proj, "fifo", 100, &got, &len, &err) < 0 && err.code == 78 &&
               strstr(err.msg, "not a regular file"),
           "a FIFO is refused without blocking");
        vmenv_error_clear(&err);
        ok(vmenv_read_project_file(proj, "sub", 100, &got, &len, &err) < 0 && err.code == 78,
           "a folder is refused");
        vmenv_error_clear(&err);
        ok(got == NULL, "nothing is returned on refusal");
        ok(vmenv_rm_rf(top, &err) == 0, "clean up");
}

static void test_error(void)
{
        vmenv_error err = VMENV_ERROR_INIT;
        vmenv_error_set(&err, 74, "cannot define domain");
        vmenv_error_prefix(&err, "cannot start '%s'", "web");
        is_str(err.msg, "cannot start 'web': cannot define domain", "prefix adds context");
        ok(err.code == 74, "prefix keeps the code");
        vmenv_error_clear(&err);
}

/* The console tail shown in boot diagnostics: what a terminal would show. */
static void test_text_tail(void)
{
        static const struct {
                const char *in;
                size_t max;
                const char *want, *what;
        } cases[] = {
            {"a\nb\nc\n", 2, "> b\n> c", "the last lines, prefixed"},
            {"a\nb\nc", 5, "> a\n> b\n> c", "fewer lines than asked, no final newline"},
            {"boot\r\n\x1b[0;1;31m*\x1b[0m\r\n  \r\n\r\n", 5, "> boot\n> *",
             "CRLF, colour codes and blank lines dropped"},
            {"login\n\x1b[K\x1b[1A\r\x08\x07\n \t\n", 1, "> login",
             "lines of control characters alone do not count against the limit"},
            {"[   ] A start job\r[ * ] A start job\r[  OK  ] Started\r\n", 3, "> [  OK  ] Started",
             "a line redrawn with carriage returns shows its last drawing"},
            {"\x1b]0;title\x07x\n", 3, "> x", "an OSC (window title) is dropped to its BEL"},
            {"\x1b]0;t\x1b\\y\n", 3, "> y", "an OSC is dropped to its ST"},
            {"\x1b[2J\x1b[H\n\n", 3, NULL, "nothing shown: NULL"},
            {"", 3, NULL, "empty: NULL"},
            {"caf\xc3\xa9\n", 3, "> caf\xc3\xa9", "UTF-8 kept"},
        };

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char *got = vmenv_text_tail(cases[i].in, strlen(cases[i].in), cases[i].max, "> ");
                is_str(got, cases[i].want, cases[i].what);
                free(got);
        }
}

int main(void)
{
        test_escape();
        test_sizes();
        test_hint();
        test_files();
        test_project_file();
        test_error();
        test_text_tail();
        return done_testing();
}
