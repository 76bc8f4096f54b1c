/* vmenv.lock against a real catalog on a real HTTP server (127.0.0.1,
 * tests/fixtures/http/server.py) with real boxes made at test time:
 * resolving, stable bytes, honouring the lock while newer versions appear,
 * drift and --frozen, a tampered store copy, reports, and the corpus of bad
 * lock files in tests/lock/bad/ (NAME.lock + NAME.err, the exact message). */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"
#include "vmenv/box.h"
#include "vmenv/cleanup.h"
#include "vmenv/config.h"
#include "vmenv/lock.h"
#include "vmenv/util.h"

static char *tmp, *www, *base;
static char *sums[8]; /* sha256 hex of tiny-<v>.box, by index in versions[] */
static const char *const versions[] = {"1.0.0", "1.1.0", "2.0.0", "1.2.0"};

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
        va_list ap;
        _cleanup_free_ char *cmd = NULL;
        va_start(ap, fmt);
        cmd = vmenv_vstrdupf(fmt, ap);
        va_end(ap);
        if (system(cmd) != 0) {
                printf("Bail out! command failed: %s\n", cmd);
                exit(1);
        }
}

static char *slurp(const char *path)
{
        vmenv_error err = VMENV_ERROR_INIT;
        char *s = NULL;
        if (vmenv_read_file(path, 1 << 20, &s, NULL, &err) < 0) {
                vmenv_error_clear(&err);
                return NULL;
        }
        return s;
}

static void spew(const char *path, const char *text)
{
        vmenv_error err = VMENV_ERROR_INIT;
        if (vmenv_write_file_atomic(path, text, strlen(text), 0644, &err) < 0) {
                printf("Bail out! %s\n", err.msg);
                exit(1);
        }
}

/* A real box: a qcow2 image, metadata.json and a Vagrantfile naming the
 * version (so every version's file, and checksum, differs). */
static void make_box(size_t i)
{
        _cleanup_free_ char *d = vmenv_strdupf("%s/src-%s", tmp, versions[i]);
        _cleanup_free_ char *out = vmenv_strdupf("%s/tiny-%s.box", www, versions[i]);
        _cleanup_free_ char *digest = NULL;
        vmenv_error err = VMENV_ERROR_INIT;

        sh("mkdir -p %s && cd %s && qemu-img create -q -f qcow2 box.img 1M && "
           "printf '{\"provider\": \"libvirt\", \"format\": \"qcow2\", \"virtual_size\": 1}' "
           "> metadata.json && echo '# %s' > Vagrantfile && tar -cf %s metadata.json box.img "
           "Vagrantfile",
           d, d, versions[i], out);
        if (vmenv_file_digest(out, "sha256", &digest, &err) < 0) {
                printf("Bail out! %s\n", err.msg);
                exit(1);
        }
        sums[i] = vmenv_strdup(strchr(digest, ':') + 1);
}

/* The catalog with the first n versions; 1.0.0 has no checksum. */
static void publish(size_t n)
{
        struct vmenv_buf b = {0};
        _cleanup_free_ char *path = vmenv_strdupf("%s/tiny.json", www);
        vmenv_buf_puts(&b, "{\"name\": \"vmenv/tiny\", \"versions\": [");
        for (size_t i = 0; i < n; i++) {
                vmenv_buf_printf(&b,
                                 "%s{\"version\": \"%s\", \"providers\": [{\"name\": \"libvirt\", "
                                 "\"url\": \"tiny-%s.box\", \"architecture\": \"amd64\"",
                                 i ? ", " : "", versions[i], versions[i]);
                if (i > 0)
                        vmenv_buf_printf(
                            &b, ", \"checksum_type\": \"sha256\", \"checksum\": \"%s\"", sums[i]);
                vmenv_buf_puts(&b, "}]}");
        }
        vmenv_buf_puts(&b, "]}");
        spew(path, b.data);
        vmenv_buf_free(&b);
}

static pid_t start_server(void)
{
        _cleanup_free_ char *port_file = vmenv_strdupf("%s/port", tmp);
        _cleanup_free_ char *log = vmenv_strdupf("%s/server.log", tmp);
        _cleanup_free_ char *script = NULL, *port = NULL;
        const char *src = getenv("VMENV_SRCDIR");
        pid_t pid;

        script = vmenv_strdupf("%s/tests/fixtures/http/server.py", src ? src : ".");
        if ((pid = fork()) == 0) {
                int nul = open("/dev/null", O_WRONLY);
                /* off the test's stdout, which meson waits on; gone with the test */
                dup2(nul, STDOUT_FILENO);
                prctl(PR_SET_PDEATHSIG, SIGTERM);
                execlp("python3", "python3", script, "--root", www, "--port-file", port_file,
                       "--log", log, (char *)NULL);
                _exit(127);
        }
        for (int i = 0; i < 200 && !(port = slurp(port_file)); i++)
                usleep(50000);
        for (int i = 0; i < 200 && port && !*port; i++) {
                usleep(50000);
                free(port);
                port = slurp(port_file);
        }
        if (!port || !*port) {
                printf("Bail out! the HTTP server did not start\n");
                kill(pid, SIGTERM);
                exit(1);
        }
        port[strcspn(port, "\n")] = '\0';
        base = vmenv_strdupf("http://127.0.0.1:%s", port);
        return pid;
}

/* A project of one machine "web"; the caller changes fields as it likes. */
struct project {
        struct vmenv_config c;
        struct vmenv_machine_config m[2];
};

static void project_init(struct project *p, const char *yaml)
{
        memset(p, 0, sizeof(*p));
        p->c.dir = vmenv_strdupf("%s/proj", tmp);
        p->c.path = vmenv_strdupf("%s/proj/vmenv.yaml", tmp);
        p->c.project = vmenv_strdup("proj");
        p->c.machines = p->m;
        p->c.n_machines = 1;
        p->m[0].name = vmenv_strdup("web");
        p->m[0].box = vmenv_strdup("vmenv/tiny");
        p->m[0].box_version = vmenv_strdup("~> 1.0");
        p->m[0].box_url = vmenv_strdupf("%s/tiny.json", base);
        sh("mkdir -p %s", p->c.dir);
        spew(p->c.path, yaml);
}

static void machine_clear(struct vmenv_machine_config *m)
{
        free(m->name);
        free(m->box);
        free(m->box_version);
        free(m->box_url);
        free(m->box_checksum);
        memset(m, 0, sizeof(*m));
}

static void project_clear(struct project *p)
{
        free(p->c.dir);
        free(p->c.path);
        free(p->c.project);
        machine_clear(&p->m[0]);
        machine_clear(&p->m[1]);
}

static void set(char **field, const char *value)
{
        free(*field);
        *field = vmenv_strdup(value);
}

static const struct vmenv_fetch_opts quiet = {.quiet = true};
static const struct vmenv_lock_opts lopts = {.fetch = &quiet};

static bool has(const char *s, const char *sub)
{
        bool r = s && sub && strstr(s, sub);
        if (!r)
                printf("#   '%s' does not contain '%s'\n", s ? s : "(null)", sub ? sub : "");
        return r;
}

static void test_bad_corpus(struct project *p)
{
        const char *src = getenv("VMENV_SRCDIR");
        _cleanup_free_ char *dir = vmenv_strdupf("%s/tests/lock/bad", src ? src : ".");
        DIR *d = opendir(dir);
        struct dirent *de;
        int n = 0;

        ok(d != NULL, "bad-lock corpus at %s", dir);
        while (d && (de = readdir(d))) {
                _cleanup_free_ char *path = NULL, *text = NULL, *errp = NULL, *want = NULL;
                vmenv_error err = VMENV_ERROR_INIT;
                struct vmenv_lock *l;
                size_t len = 0;

                if (!vmenv_endswith(de->d_name, ".lock"))
                        continue;
                n++;
                path = vmenv_path_join(dir, de->d_name);
                errp = vmenv_strdupf("%.*s.err", (int)(strlen(path) - 5), path);
                if (vmenv_read_file(path, 1 << 22, &text, &len, &err) < 0 ||
                    !(want = slurp(errp))) {
                        ok(0, "%s: readable, with a .err file", de->d_name);
                        vmenv_error_clear(&err);
                        continue;
                }
                want[strcspn(want, "\n")] = '\0';
                l = vmenv_lock_parse(text, len, de->d_name, &p->c, &err);
                ok(!l && err.code == VMENV_EXIT_CONFIG, "%s: refused with the config exit code",
                   de->d_name);
                is_str(err.msg, want, de->d_name);
                vmenv_lock_free(l);
                vmenv_error_clear(&err);
        }
        if (d)
                closedir(d);
        ok(n >= 10, "the corpus has %d bad locks", n);
}

static void test_limits(void)
{
        vmenv_error err = VMENV_ERROR_INIT;
        size_t big = VMENV_LOCK_MAX_BYTES + 1;
        _cleanup_free_ char *text = vmenv_malloc(big);
        struct vmenv_lock *l;

        memset(text, ' ', big);
        l = vmenv_lock_parse(text, big, "huge.lock", NULL, &err);
        ok(!l && err.code == VMENV_EXIT_CONFIG && has(err.msg, "huge.lock:1: larger than"),
           "a lock over the size limit is refused");
        vmenv_error_clear(&err);
}

static void test_lock_flow(void)
{
        struct project p;
        vmenv_error err = VMENV_ERROR_INIT;
        struct vmenv_lock *l = NULL, *l2 = NULL, *l3 = NULL;
        char **changes = NULL;
        _cleanup_free_ char *text = NULL, *text2 = NULL, *want = NULL, *ydigest = NULL;
        _cleanup_free_ char *lock_path = NULL, *on_disk = NULL;
        struct vmenv_lock_pin pin = {0};
        const struct vmenv_lock_entry *e;

        project_init(&p, "box: vmenv/tiny\nbox_version: \"~> 1.0\"\n");
        lock_path = vmenv_lock_path(&p.c);
        publish(3); /* 1.0.0 1.1.0 2.0.0 */

        /* --- lock: ~> 1.0 pins 1.1.0 */
        ok(vmenv_lock_update(&p.c, NULL, false, NULL, &lopts, &l, &changes, &err) == 0,
           "lock resolves the project");
        if (!l) {
                printf("Bail out! %s\n", err.msg);
                exit(1);
        }
        e = vmenv_lock_find(l, "web");
        is_str(e ? e->version : NULL, "1.1.0", "~> 1.0 pins 1.1.0 (not 2.0.0)");
        ok(changes && vmenv_strv_len(changes) == 1, "one change line");
        is_str(changes ? changes[0] : NULL, "web: vmenv/tiny 1.1.0 (new)", "the change says new");
        vmenv_strv_free(changes);
        changes = NULL;

        vmenv_lock_config_digest(&p.c, &ydigest, &err);
        text = vmenv_lock_format(l);
        want = vmenv_strdupf("{\n"
                             "  \"config_digest\": \"%s\",\n"
                             "  \"machines\": {\n"
                             "    \"web\": {\n"
                             "      \"architecture\": \"amd64\",\n"
                             "      \"box\": \"vmenv/tiny\",\n"
                             "      \"catalog\": \"%s/tiny.json\",\n"
                             "      \"checksum\": \"sha256:%s\",\n"
                             "      \"constraint\": \"~> 1.0\",\n"
                             "      \"provider\": \"libvirt\",\n"
                             "      \"url\": \"%s/tiny-1.1.0.box\",\n"
                             "      \"version\": \"1.1.0\"\n"
                             "    }\n"
                             "  },\n"
                             "  \"version\": 1\n"
                             "}\n",
                             ydigest, base, sums[1], base);
        is_str(text, want, "the lock text: sorted keys, 2-space indent, trailing newline");

        /* --- byte-identical on the same inputs, and through a parse */
        ok(vmenv_lock_update(&p.c, NULL, false, NULL, &lopts, &l2, NULL, &err) == 0, "lock again");
        text2 = l2 ? vmenv_lock_format(l2) : NULL;
        is_str(text2, text, "two locks of the same inputs are byte-identical");
        vmenv_lock_free(l2);
        l2 = NULL;
        free(text2);
        l2 = vmenv_lock_parse(text, strlen(text), "vmenv.lock", &p.c, &err);
        text2 = l2 ? vmenv_lock_format(l2) : NULL;
        is_str(text2, text, "parse then format gives the same bytes");
        vmenv_lock_free(l2);
        l2 = NULL;
        free(text2);
        text2 = NULL;

        /* --- ensure writes it when missing, then reads it */
        unlink(lock_path);
        ok(vmenv_lock_ensure(&p.c, &lopts, &l2, &err) == 0 && vmenv_path_exists(lock_path),
           "ensure writes vmenv.lock when there is none");
        on_disk = slurp(lock_path);
        is_str(on_disk, text, "what ensure wrote is the same lock");
        vmenv_lock_free(l2);
        l2 = NULL;
        {
                struct project f;
                project_init(&f, "box: vmenv/tiny\nbox_version: \"~> 1.0\"\n");
                unlink(lock_path);
                struct vmenv_lock_opts fr = {.fetch = &quiet, .frozen = true};
                ok(vmenv_lock_ensure(&f.c, &fr, &l2, &err) < 0 && err.code == VMENV_EXIT_CONFIG &&
                       has(err.msg, "does not exist (--frozen)"),
                   "ensure --frozen without a lock fails and writes nothing");
                ok(!vmenv_path_exists(lock_path), "no lock written under --frozen");
                vmenv_error_clear(&err);
                project_clear(&f);
        }
        {
                /* an unwritable project still comes up, with the lock in memory
                 * (the project folder read-only: a bind mount, since root
                 * writes through file modes) */
                _cleanup_free_ char *dir = vmenv_strdup(lock_path);
                *strrchr(dir, '/') = '\0';
                sh("mount --bind %s %s && mount -o remount,ro,bind %s", dir, dir, dir);
                ok(vmenv_lock_ensure(&p.c, &lopts, &l2, &err) == 0 && l2 &&
                       !vmenv_path_exists(lock_path),
                   "ensure goes on when vmenv.lock cannot be written");
                vmenv_lock_free(l2);
                l2 = NULL;
                vmenv_error_clear(&err);
                sh("umount %s", dir);
        }
        spew(lock_path, text);

        /* --- 1.2.0 appears: the lock and the pin stay at 1.1.0 */
        publish(4);
        ok(vmenv_lock_ensure(&p.c, &lopts, &l2, &err) == 0, "ensure reads the existing lock");
        ok(vmenv_lock_pin(l2, &p.m[0], &pin, &err) == 0, "pin");
        is_str(pin.constraint, "= 1.1.0", "pin asks for exactly 1.1.0 although 1.2.0 matches");
        _cleanup_free_ char *u11 = vmenv_strdupf("%s/tiny-1.1.0.box", base);
        _cleanup_free_ char *c11 = vmenv_strdupf("sha256:%s", sums[1]);
        is_str(pin.url, u11, "pin gives the locked URL");
        is_str(pin.checksum, c11, "pin gives the locked checksum");
        is_str(pin.name, "vmenv/tiny", "pin gives the store name");
        ok(pin.locked, "pin says it is locked");
        ok(vmenv_lock_update(&p.c, l2, false, NULL, &lopts, &l3, &changes, &err) == 0 && !changes,
           "plain lock keeps 1.1.0: no changes");
        text2 = l3 ? vmenv_lock_format(l3) : NULL;
        is_str(text2, text, "and the bytes stay the same");
        free(text2);
        text2 = NULL;
        vmenv_lock_free(l3);
        l3 = NULL;

        /* --- the box itself: downloaded at the locked version, then verified */
        {
                struct vmenv_box_opts bo = {.fetch.quiet = true};
                struct vmenv_box *b =
                    vmenv_box_ensure(pin.name, pin.constraint, pin.url, pin.checksum, &bo, &err);
                ok(b && vmenv_streq(b->version, "1.1.0"), "box_ensure with the pin stores 1.1.0");
                if (!b)
                        printf("# %s\n", err.msg);
                vmenv_error_clear(&err);
                ok(b && vmenv_lock_verify_box(l2, &p.m[0], b, &err) == 0,
                   "the downloaded copy matches the lock");
                vmenv_box_free(b);
        }
        {
                _cleanup_free_ char *home = vmenv_home();
                _cleanup_free_ char *vj = vmenv_strdupf(
                    "%s/boxes/vmenv-VAGRANTSLASH-tiny/1.1.0/libvirt/vmenv.json", home);
                _cleanup_free_ char *orig = slurp(vj);
                char *hit = orig ? strstr(orig, sums[1]) : NULL;
                struct vmenv_box *b;
                _cleanup_free_ char *tampered = NULL, *want_msg = NULL;

                ok(hit != NULL, "the store records the digest");
                if (hit) {
                        tampered = vmenv_strdup(orig);
                        tampered[hit - orig] = hit[0] == '0' ? '1' : '0';
                        spew(vj, tampered);
                }
                b = vmenv_box_find("vmenv/tiny", "= 1.1.0", &err);
                ok(b && vmenv_lock_verify_box(l2, &p.m[0], b, &err) < 0 &&
                       err.code == VMENV_EXIT_DATA,
                   "a store copy whose digest differs from the lock is refused (exit 65)");
                ok(has(err.msg, c11) && has(err.msg, "does not match"),
                   "the refusal names the locked digest");
                {
                        _cleanup_free_ char *stored =
                            hit ? vmenv_strdupf("sha256:%.64s", tampered + (hit - orig)) : NULL;
                        ok(stored && has(err.msg, stored), "and the stored one");
                }
                ok(err.hint && has(err.hint, "vmenv box remove vmenv/tiny --box-version 1.1.0"),
                   "with the way out");
                vmenv_error_clear(&err);
                vmenv_box_free(b);
                if (orig)
                        spew(vj, orig);
        }

        /* --- a byte of the stored image flipped: refused, though the recorded
         * digest still matches the lock */
        {
                struct vmenv_box *b = vmenv_box_find("vmenv/tiny", "= 1.1.0", &err);
                const char *img = b && b->images ? b->images[0] : NULL;
                int fd = img ? open(img, O_RDWR) : -1;
                struct stat st0;
                char c = 0, flipped;
                bool flipped_ok = false;
                int r;

                ok(b && b->stamps && b->stamps[0] && vmenv_box_check_unchanged(b, &err) == 0,
                   "the store records each image's size and mtime, and they match");
                if (fd >= 0 && fstat(fd, &st0) == 0 && pread(fd, &c, 1, 4096) == 1) {
                        flipped = (char)(c ^ 0x20);
                        flipped_ok = pwrite(fd, &flipped, 1, 4096) == 1;
                }
                r = flipped_ok && b ? vmenv_box_check_unchanged(b, &err) : 0;
                ok(r < 0 && err.code == VMENV_EXIT_DATA &&
                       has(err.msg, "written to after it was checked") && has(err.msg, img),
                   "an image written to after it was added is refused (%s)",
                   err.msg ? err.msg : "");
                ok(err.hint && has(err.hint, "vmenv box remove vmenv/tiny --box-version 1.1.0"),
                   "with the way out");
                vmenv_error_clear(&err);
                if (flipped_ok) {
                        struct timespec ts[2] = {st0.st_atim, st0.st_mtim};
                        if (pwrite(fd, &c, 1, 4096) != 1 || futimens(fd, ts) < 0)
                                ok(0, "restore the image");
                }
                ok(b && vmenv_box_check_unchanged(b, &err) == 0,
                   "the same bytes and mtime back: accepted again");
                vmenv_error_clear(&err);
                if (fd >= 0)
                        close(fd);
                vmenv_box_free(b);
        }

        /* --- lock --update moves to 1.2.0 and says so */
        ok(vmenv_lock_update(&p.c, l2, true, NULL, &lopts, &l3, &changes, &err) == 0,
           "lock --update");
        ok(changes && vmenv_strv_len(changes) == 1, "one change");
        is_str(changes ? changes[0] : NULL, "web: vmenv/tiny 1.1.0 → 1.2.0", "the change line");
        vmenv_strv_free(changes);
        changes = NULL;
        e = l3 ? vmenv_lock_find(l3, "web") : NULL;
        is_str(e ? e->version : NULL, "1.2.0", "the lock now pins 1.2.0");
        vmenv_lock_free(l3);
        l3 = NULL;
        {
                char *only[] = {(char *)"web", NULL};
                ok(vmenv_lock_update(&p.c, l2, true, only, &lopts, &l3, &changes, &err) == 0 &&
                       changes && !strcmp(changes[0], "web: vmenv/tiny 1.1.0 → 1.2.0"),
                   "lock --update web names the machine");
                vmenv_strv_free(changes);
                changes = NULL;
                vmenv_lock_free(l3);
                l3 = NULL;
                char *bad[] = {(char *)"nope", NULL};
                ok(vmenv_lock_update(&p.c, l2, true, bad, &lopts, &l3, &changes, &err) < 0 &&
                       has(err.msg, "no machine 'nope'"),
                   "lock --update of an unknown machine fails");
                vmenv_error_clear(&err);
        }

        /* --- drift: a constraint that excludes the lock */
        set(&p.m[0].box_version, ">= 2");
        ok(vmenv_lock_check(l2, &p.c, false, &err) < 0 && err.code == VMENV_EXIT_CONFIG,
           "a constraint that excludes the lock fails (exit 78)");
        ok(has(err.msg, "vmenv.lock:4: 'web' is locked to vmenv/tiny 1.1.0, which box_version "
                        "'>= 2' excludes"),
           "the message says what and where");
        ok(has(err.hint, "vmenv lock --update"), "the hint says to run vmenv lock --update");
        vmenv_error_clear(&err);
        {
                struct vmenv_lock_pin refused = {0};
                ok(vmenv_lock_pin(l2, &p.m[0], &refused, &err) < 0 && !refused.name,
                   "pin refuses too");
                vmenv_error_clear(&err);
        }
        ok(vmenv_lock_update(&p.c, l2, false, NULL, &lopts, &l3, &changes, &err) == 0 && changes &&
               !strcmp(changes[0], "web: vmenv/tiny 1.1.0 → 2.0.0"),
           "plain lock re-resolves a machine the lock no longer satisfies");
        vmenv_strv_free(changes);
        changes = NULL;
        vmenv_lock_free(l3);
        l3 = NULL;
        set(&p.m[0].box_version, "~> 1.0");

        /* --- other drift */
        set(&p.m[0].box, "other/box");
        ok(vmenv_lock_check(l2, &p.c, false, &err) < 0 &&
               has(err.msg, "'web' is locked to box 'vmenv/tiny' but vmenv.yaml says 'other/box'"),
           "another box name is drift");
        vmenv_error_clear(&err);
        set(&p.m[0].box, "vmenv/tiny");
        p.m[1].name = vmenv_strdup("db");
        p.m[1].box = vmenv_strdup("vmenv/tiny");
        p.c.n_machines = 2;
        ok(vmenv_lock_check(l2, &p.c, false, &err) < 0 &&
               has(err.msg, "machine 'db' is not in the lock") && has(err.hint, "--update"),
           "a machine missing from the lock is drift");
        vmenv_error_clear(&err);
        p.c.n_machines = 1;
        machine_clear(&p.m[1]);
        set(&p.m[0].box_checksum,
            "sha256:0000000000000000000000000000000000000000000000000000000000000000");
        ok(vmenv_lock_check(l2, &p.c, false, &err) < 0 && has(err.msg, "locked with checksum"),
           "a different box_checksum is drift");
        vmenv_error_clear(&err);
        set(&p.m[0].box_checksum, NULL);

        /* --- frozen: the yaml digest too */
        ok(vmenv_lock_check(l2, &p.c, true, &err) == 0, "--frozen passes on an unchanged project");
        vmenv_error_clear(&err);
        spew(p.c.path, "box: vmenv/tiny\nbox_version: \"~> 1.0\"\n# a comment\n");
        ok(vmenv_lock_check(l2, &p.c, false, &err) == 0, "a comment in vmenv.yaml is no drift");
        ok(vmenv_lock_check(l2, &p.c, true, &err) < 0 && err.code == VMENV_EXIT_CONFIG &&
               has(err.msg, "vmenv.yaml changed since the lock was written"),
           "--frozen fails when vmenv.yaml changed at all");
        vmenv_error_clear(&err);
        {
                struct vmenv_lock_opts fr = {.fetch = &quiet, .frozen = true};
                vmenv_lock_free(l3);
                l3 = NULL;
                ok(vmenv_lock_ensure(&p.c, &fr, &l3, &err) < 0 && err.code == VMENV_EXIT_CONFIG,
                   "ensure --frozen fails on the changed vmenv.yaml");
                vmenv_error_clear(&err);
        }

        /* --- reports for status and box outdated */
        {
                struct vmenv_lock_report r = {0};
                ok(vmenv_lock_report(l2, &p.m[0], "1.0.0", &quiet, &r, &err) == 0, "report");
                ok(r.running_older && r.lock_older,
                   "running older than the lock, lock older than newest");
                is_str(r.newest, "1.2.0", "newest allowed is 1.2.0");
                ok(has(r.message, "web: runs vmenv/tiny 1.0.0, older than the locked 1.1.0") &&
                       has(r.message, "web: vmenv.lock pins vmenv/tiny 1.1.0; 1.2.0 is allowed "
                                      "by '~> 1.0'"),
                   "report lines");
                vmenv_lock_report_clear(&r);
                ok(vmenv_lock_report(l2, &p.m[0], "1.1.0", NULL, &r, &err) == 0 && !r.message &&
                       !r.running_older && !r.newest,
                   "offline report of a current machine says nothing");
                vmenv_lock_report_clear(&r);
                ok(vmenv_lock_report(NULL, &p.m[0], "1.0.0", &quiet, &r, &err) == 0 && !r.message,
                   "without a lock there is nothing to report");
                vmenv_lock_report_clear(&r);
                free(l2->entries[0].catalog);
                l2->entries[0].catalog = vmenv_strdup("http://127.0.0.1:1/nothing.json");
                ok(vmenv_lock_report(l2, &p.m[0], "1.0.0", &quiet, &r, &err) == 0 &&
                       r.catalog_error && !r.newest && r.running_older &&
                       has(r.message, "older than the locked 1.1.0"),
                   "an unreachable catalog is reported, the rest still said");
                vmenv_lock_report_clear(&r);
                vmenv_error_clear(&err);
        }

        /* --- a download URL without a .box suffix is fetched via its catalog */
        {
                struct vmenv_lock_pin p2 = {0};
                free(l2->entries[0].catalog);
                l2->entries[0].catalog = vmenv_strdupf("%s/tiny.json", base);
                free(l2->entries[0].url);
                l2->entries[0].url = vmenv_strdupf("%s/download?box=tiny&v=1.1.0", base);
                ok(vmenv_lock_pin(l2, &p.m[0], &p2, &err) == 0 &&
                       vmenv_streq(p2.url, l2->entries[0].catalog) &&
                       vmenv_streq(p2.constraint, "= 1.1.0") && vmenv_streq(p2.checksum, c11),
                   "pin of a suffix-less URL goes through the catalog, same version and checksum");
                vmenv_lock_pin_clear(&p2);
        }

        vmenv_lock_pin_clear(&pin);
        vmenv_lock_free(l);
        vmenv_lock_free(l2);
        vmenv_lock_free(l3);
        unlink(lock_path);
        project_clear(&p);
}

static void test_no_checksum_and_direct(void)
{
        struct project p;
        vmenv_error err = VMENV_ERROR_INIT;
        struct vmenv_lock *l = NULL;
        const struct vmenv_lock_entry *e;
        _cleanup_free_ char *c10 = vmenv_strdupf("sha256:%s", sums[0]);
        _cleanup_free_ char *c20 = vmenv_strdupf("sha256:%s", sums[2]);
        _cleanup_free_ char *u20 = vmenv_strdupf("%s/tiny-2.0.0.box", base);
        struct vmenv_lock_pin pin = {0};

        project_init(&p, "box: vmenv/tiny\nbox_version: \"< 1.1\"\n");
        set(&p.m[0].box_version, "< 1.1");
        ok(vmenv_lock_update(&p.c, NULL, false, NULL, &lopts, &l, NULL, &err) == 0,
           "lock a version the catalog gives no checksum for");
        e = l ? vmenv_lock_find(l, "web") : NULL;
        is_str(e ? e->checksum : NULL, c10, "the lock records the sha256 of the downloaded box");
        vmenv_lock_free(l);
        l = NULL;

        /* a direct .box URL: locked by URL and checksum */
        set(&p.m[0].box_version, NULL);
        set(&p.m[0].box_url, u20);
        set(&p.m[0].box, "local/tiny");
        ok(vmenv_lock_update(&p.c, NULL, false, NULL, &lopts, &l, NULL, &err) == 0,
           "lock a direct .box URL");
        e = l ? vmenv_lock_find(l, "web") : NULL;
        is_str(e ? e->url : NULL, u20, "by its URL");
        is_str(e ? e->checksum : NULL, c20, "and its sha256");
        ok(e && !e->catalog, "with no catalog");
        is_str(e ? e->version : NULL, "0", "unversioned");
        ok(vmenv_lock_pin(l, &p.m[0], &pin, &err) == 0 && vmenv_streq(pin.constraint, "= 0") &&
               vmenv_streq(pin.name, "local/tiny"),
           "pin of a direct box");
        vmenv_lock_pin_clear(&pin);
        vmenv_lock_free(l);
        l = NULL;

        /* a local path, relative to the project */
        {
                _cleanup_free_ char *path = vmenv_strdupf("%s/tiny-2.0.0.box", www);
                sh("cp %s %s/proj/mine.box", path, tmp);
                set(&p.m[0].box_url, NULL);
                set(&p.m[0].box, "./mine.box");
                ok(vmenv_lock_update(&p.c, NULL, false, NULL, &lopts, &l, NULL, &err) == 0,
                   "lock a local .box path");
                if (!l)
                        printf("# %s\n", err.msg);
                e = l ? vmenv_lock_find(l, "web") : NULL;
                is_str(e ? e->checksum : NULL, c20, "by its sha256");
                is_str(e ? e->name : NULL, "mine", "stored under the file's base name");
                ok(vmenv_lock_pin(l, &p.m[0], &pin, &err) == 0 && pin.url && pin.url[0] == '/',
                   "pin gives an absolute path");
                vmenv_lock_pin_clear(&pin);
                vmenv_lock_free(l);
                l = NULL;
        }
        /* a catalog inside the project: paths stay relative, so clones work */
        {
                _cleanup_free_ char *want_url = NULL;
                sh("mkdir -p %s/proj/boxes && cp %s/tiny.json %s/tiny-1.1.0.box %s/proj/boxes/",
                   tmp, www, www, tmp);
                set(&p.m[0].box, "vmenv/tiny");
                set(&p.m[0].box_url, "boxes/tiny.json");
                set(&p.m[0].box_version, "= 1.1.0");
                ok(vmenv_lock_update(&p.c, NULL, false, NULL, &lopts, &l, NULL, &err) == 0,
                   "lock against a catalog in the project folder");
                if (!l)
                        printf("# %s\n", err.msg);
                e = l ? vmenv_lock_find(l, "web") : NULL;
                is_str(e ? e->url : NULL, "boxes/tiny-1.1.0.box", "the box path is relative");
                is_str(e ? e->catalog : NULL, "boxes/tiny.json", "the catalog path as written");
                want_url = vmenv_strdupf("%s/proj/boxes/tiny-1.1.0.box", tmp);
                ok(vmenv_lock_pin(l, &p.m[0], &pin, &err) == 0 && vmenv_streq(pin.url, want_url),
                   "pin makes it absolute again");
                vmenv_lock_pin_clear(&pin);
                vmenv_lock_free(l);
                l = NULL;
        }
        vmenv_error_clear(&err);
        ok(vmenv_lock_pin(NULL, &p.m[0], &pin, &err) == 0 && !pin.locked &&
               vmenv_streq(pin.name, "vmenv/tiny") && vmenv_streq(pin.url, "boxes/tiny.json"),
           "without a lock, pin passes the machine's own settings");
        vmenv_lock_pin_clear(&pin);
        project_clear(&p);
}

int main(void)
{
        char tmpl[] = "/tmp/vmenv-test-lock.XXXXXX";
        pid_t server;
        int status;

        if (!(tmp = mkdtemp(tmpl))) {
                printf("Bail out! mkdtemp\n");
                return 1;
        }
        tmp = vmenv_strdup(tmp);
        www = vmenv_strdupf("%s/www", tmp);
        {
                _cleanup_free_ char *home = vmenv_strdupf("%s/home", tmp);
                setenv("VMENV_HOME", home, 1);
        }
        unsetenv("VMENV_BOX_SERVER");
        sh("mkdir -p %s", www);
        for (size_t i = 0; i < VMENV_ARRAY_SIZE(versions); i++)
                make_box(i);
        server = start_server();

        test_limits();
        {
                struct project p;
                project_init(&p, "box: vmenv/tiny\n");
                test_bad_corpus(&p);
                project_clear(&p);
        }
        test_lock_flow();
        test_no_checksum_and_direct();

        kill(server, SIGTERM);
        waitpid(server, &status, 0);
        sh("rm -rf %s", tmp);
        for (size_t i = 0; i < VMENV_ARRAY_SIZE(versions); i++)
                free(sums[i]);
        free(tmp);
        free(www);
        free(base);
        return done_testing();
}
