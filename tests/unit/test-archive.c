/* Box archive extraction against a generated corpus of hostile archives:
 * each must fail with its exact error and write nothing outside the
 * destination; the good ones (tar, tar.gz, tar.xz, zip, disks) must extract. */
#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tap.h"
#include "vmenv/box.h"
#include "vmenv/util.h"

/* Entries in dir other than "dest". */
static int stray_entries(const char *dir)
{
        DIR *d = opendir(dir);
        struct dirent *de;
        int n = 0;
        if (!d)
                return -1;
        while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
                    strcmp(de->d_name, "dest"))
                        n++;
        closedir(d);
        return n;
}

int main(void)
{
        const char *src = getenv("VMENV_SRCDIR");
        char tmpl[] = "/tmp/vmenv-test-archive.XXXXXX";
        char *root = mkdtemp(tmpl), *corpus, *cmd, *manifest_path, *text = NULL;
        vmenv_error err = VMENV_ERROR_INIT;
        size_t len;

        if (!src || !root) {
                printf("Bail out! VMENV_SRCDIR not set or no temp dir\n");
                return 1;
        }
        corpus = vmenv_path_join(root, "corpus");
        cmd = vmenv_strdupf("python3 %s/tests/fixtures/hostile/gen.py %s", src, corpus);
        if (system(cmd) != 0) {
                printf("Bail out! cannot generate the corpus\n");
                return 1;
        }
        manifest_path = vmenv_path_join(corpus, "manifest.tsv");
        if (vmenv_read_file(manifest_path, 1 << 20, &text, &len, &err) < 0) {
                printf("Bail out! %s\n", err.msg);
                return 1;
        }
        for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
                char *tab = strchr(line, '\t'), *file, *work, *dest, *tmpw;
                const char *want;
                struct vmenv_box_meta meta = {0};
                int r;

                if (!tab)
                        continue;
                *tab = '\0';
                want = tab + 1;
                file = vmenv_path_join(corpus, line);
                tmpw = vmenv_strdupf("%s/work-XXXXXX", root);
                work = mkdtemp(tmpw);
                dest = vmenv_path_join(work, "dest");
                mkdir(dest, 0755);
                r = vmenv_box_archive_extract(file, dest, &meta, &err);
                if (!strcmp(want, "OK")) {
                        ok(r == 0 && meta.images && meta.format, "%s extracts", line);
                        if (r < 0)
                                printf("#   error: %s\n", err.msg);
                } else {
                        int good = r < 0 && err.msg && strstr(err.msg, want) &&
                                   err.code == VMENV_EXIT_DATA;
                        ok(good, "%s is refused", line);
                        if (!good)
                                printf("#   want: %s\n#   got:  %s (code %d)\n", want,
                                       r < 0 ? err.msg : "success", err.code);
                }
                ok(stray_entries(work) == 0, "%s: nothing written beside the destination", line);
                vmenv_box_meta_clear(&meta);
                vmenv_error_clear(&err);
                vmenv_rm_rf(work, &err);
                free(file);
                free(tmpw);
                free(dest);
        }
        {
                /* nothing escaped into the corpus folder (the targets of ../ and
                 * absolute members) */
                const char *escaped[] = {"escaped-abs", "escaped-dotdot", "escaped-deep",
                                         "escaped-zip", "escaped-link"};
                int found = 0;
                for (size_t i = 0; i < sizeof(escaped) / sizeof(escaped[0]); i++) {
                        char *p = vmenv_path_join(corpus, escaped[i]);
                        char *q = vmenv_path_join(root, escaped[i]);
                        found += vmenv_path_exists(p) + vmenv_path_exists(q);
                        free(p);
                        free(q);
                }
                ok(found == 0, "no member escaped its destination");
        }
        {
                /* the good multi-disk box reports both disks, the first one's format */
                char *file = vmenv_path_join(corpus, "good-disks.tar");
                char *dest = vmenv_path_join(root, "disks");
                struct vmenv_box_meta meta = {0};
                mkdir(dest, 0755);
                vmenv_box_archive_extract(file, dest, &meta, &err);
                ok(vmenv_strv_len(meta.images) == 2, "two disks");
                is_str(meta.images ? meta.images[1] : NULL, "box_2.img", "second disk");
                is_str(meta.format, "qcow2", "format of the boot disk");
                ok(meta.virtual_size == 1ull << 30, "virtual size from the qcow2 header");
                vmenv_box_meta_clear(&meta);
                vmenv_error_clear(&err);
                free(file);
                free(dest);
        }
        {
                /* a box vmenv packaged from a cloud image's machine says so;
                 * any other box is not one, also for vmenv_box_dir_cloud_init */
                static const struct {
                        const char *file;
                        bool want;
                } cl[] = {{"good-cloud-init.tar", true}, {"v1-vsize.tar", false}};
                for (size_t i = 0; i < sizeof(cl) / sizeof(cl[0]); i++) {
                        char *file = vmenv_path_join(corpus, cl[i].file);
                        char *dest = vmenv_strdupf("%s/cl-%zu", root, i);
                        struct vmenv_box_meta meta = {0};
                        bool flag = !cl[i].want;
                        mkdir(dest, 0755);
                        ok(vmenv_box_archive_extract(file, dest, &meta, &err) == 0 &&
                               meta.cloud_init == cl[i].want,
                           "%s: cloud-init image %s", cl[i].file, cl[i].want ? "yes" : "no");
                        ok(vmenv_box_dir_cloud_init(dest, &flag, &err) == 0 && flag == cl[i].want,
                           "%s: the stored box reads the same", cl[i].file);
                        vmenv_box_meta_clear(&meta);
                        vmenv_error_clear(&err);
                        free(file);
                        free(dest);
                }
        }
        {
                /* v1 virtual_size (GiB) counts when larger than the image */
                static const struct {
                        const char *file;
                        unsigned long long want;
                        const char *what;
                } vs[] = {
                    {"v1-vsize.tar", 5ull << 30, "a v1 virtual_size larger than the image is used"},
                    {"v1-vsize-small.tar", 1ull << 30, "a smaller one leaves the image's size"},
                    {"good-subdir.tar", 1ull << 30, "a disk in a subfolder is the boot disk"},
                };
                for (size_t i = 0; i < sizeof(vs) / sizeof(vs[0]); i++) {
                        char *file = vmenv_path_join(corpus, vs[i].file);
                        char *dest = vmenv_strdupf("%s/vs-%zu", root, i);
                        struct vmenv_box_meta meta = {0};
                        mkdir(dest, 0755);
                        vmenv_box_archive_extract(file, dest, &meta, &err);
                        ok(meta.virtual_size == vs[i].want, "%s", vs[i].what);
                        vmenv_box_meta_clear(&meta);
                        vmenv_error_clear(&err);
                        free(file);
                        free(dest);
                }
        }
        {
                char *file = vmenv_path_join(corpus, "good-v2-format-from-header.tar");
                char *dest = vmenv_path_join(root, "v2fmt");
                struct vmenv_box_meta meta = {0};
                mkdir(dest, 0755);
                vmenv_box_archive_extract(file, dest, &meta, &err);
                is_str(meta.format, "qcow2", "a v2 disk's format comes from its header");
                vmenv_box_meta_clear(&meta);
                vmenv_error_clear(&err);
                free(file);
                free(dest);
        }
        ok(vmenv_box_member_path_ok("disks/d1.qcow2") && !vmenv_box_member_path_ok("disks//d") &&
               !vmenv_box_member_path_ok("/abs") && !vmenv_box_member_path_ok("a/./b") &&
               !vmenv_box_member_path_ok("a/.hidden") && !vmenv_box_member_path_ok("a\\b") &&
               !vmenv_box_member_path_ok("a/"),
           "disk paths: subfolders yes; empty, '.', hidden, absolute, backslash no");
        vmenv_rm_rf(root, &err);
        vmenv_error_clear(&err);
        free(text);
        free(manifest_path);
        free(cmd);
        free(corpus);
        return done_testing();
}
