/* The container target of vmenv bench: the box image's root filesystem,
 * mounted read-only from a loop device, run by podman or docker when they
 * actually start a container on this host, else by bubblewrap. The probe is
 * bind-mounted in; the disk workloads write to a bind-mounted folder on the
 * host disk, the same filesystem the host target writes to. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vmenv/bench.h"
#include "vmenv/cleanup.h"
#include "vmenv/log.h"
#include "vmenv/util.h"

#define GUEST_PROBE "/tmp/vmenv-probe/vmenv-probe"
#define GUEST_SCRATCH "/tmp/vmenv-scratch"

enum runtime { RT_NONE, RT_PODMAN, RT_DOCKER, RT_BWRAP };
static const char *const runtime_names[] = {"none", "podman", "docker", "bwrap"};

struct ctr {
        char *image;
        enum runtime want; /* RT_NONE: the first that works */
        enum runtime rt;
        char *work; /* our temporary folder: unpacked box, raw image, mount point */
        char *root; /* the mounted root filesystem */
        bool mounted;
        char *scratch;    /* on the host disk, bound in for the disk workloads */
        char *docker_tag; /* docker: the imported image */
};

/* ---- the image --------------------------------------------------------- */

int vmenv_bench_partition_offset(const char *raw_path, uint64_t *offset, vmenv_error *err)
{
        unsigned char mbr[512];
        _cleanup_close_ int fd = open(raw_path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return vmenv_error_errno(err, vmenv_exit_for_errno(errno), errno,
                                         "cannot open image '%s'", raw_path);
        ssize_t n = pread(fd, mbr, sizeof(mbr), 0);
        if (n != (ssize_t)sizeof(mbr))
                return vmenv_error_set(err, VMENV_EXIT_DATA,
                                       "image '%s' is too small to hold a filesystem", raw_path);
        if (mbr[510] != 0x55 || mbr[511] != 0xaa) {
                *offset = 0; /* a bare filesystem */
                return 0;
        }
        /* An ext superblock at 1024 with its magic means no partition table
         * even with a boot signature (extlinux on a whole-disk filesystem). */
        unsigned char sb[2];
        if (pread(fd, sb, 2, 1024 + 56) == 2 && sb[0] == 0x53 && sb[1] == 0xef) {
                *offset = 0;
                return 0;
        }
        uint64_t first_any = 0;
        for (int i = 0; i < 4; i++) {
                const unsigned char *e = mbr + 446 + 16 * i;
                unsigned type = e[4];
                uint64_t lba = (uint64_t)e[8] | (uint64_t)e[9] << 8 | (uint64_t)e[10] << 16 |
                               (uint64_t)e[11] << 24;
                if (type == 0 || lba == 0)
                        continue;
                if (type == 0xee)
                        return vmenv_error_set(err, VMENV_EXIT_DATA,
                                               "image '%s' has a GPT partition table; only MBR is "
                                               "supported",
                                               raw_path);
                if (type == 0x83) {
                        *offset = lba * 512;
                        return 0;
                }
                if (!first_any)
                        first_any = lba * 512;
        }
        if (!first_any)
                return vmenv_error_set(err, VMENV_EXIT_DATA,
                                       "image '%s' has an empty partition table", raw_path);
        *offset = first_any;
        return 0;
}

static char *image_format(const char *path, vmenv_error *err)
{
        char *const argv[] = {(char *)"qemu-img", (char *)"info", (char *)"--output=json",
                              (char *)path, NULL};
        _cleanup_free_ char *out = NULL;
        if (vmenv_bench_spawn(argv, 1 << 20, &out, err) < 0)
                return NULL;
        json_object *o = json_tokener_parse(out), *f;
        char *fmt = NULL;
        if (o && json_object_object_get_ex(o, "format", &f) &&
            json_object_is_type(f, json_type_string))
                fmt = vmenv_strdup(json_object_get_string(f));
        json_object_put(o);
        if (!fmt)
                vmenv_error_set(err, VMENV_EXIT_DATA, "cannot tell the format of image '%s'", path);
        return fmt;
}

/* Makes c->root a read-only view of the image's root filesystem. */
static int mount_image(struct ctr *c, struct vmenv_bench_result *r, vmenv_error *err)
{
        _cleanup_free_ char *img = vmenv_strdup(c->image);
        if (vmenv_endswith(c->image, ".box")) {
                /* A Vagrant box: the disk is box.img inside the archive. */
                char *const argv[] = {(char *)"tar", (char *)"-xf",     c->image, (char *)"-C",
                                      c->work,       (char *)"box.img", NULL};
                if (vmenv_bench_spawn(argv, 1 << 16, NULL, err) < 0)
                        return vmenv_error_prefix(err, "cannot unpack box '%s'", c->image);
                free(img);
                img = vmenv_path_join(c->work, "box.img");
        }
        _cleanup_free_ char *fmt = image_format(img, err);
        if (!fmt)
                return -1;
        vmenv_bench_add_info(r, "image_format", fmt);
        _cleanup_free_ char *raw = NULL;
        if (vmenv_streq(fmt, "raw")) {
                raw = TAKE_PTR(img);
        } else {
                raw = vmenv_path_join(c->work, "rootfs.raw");
                char *const argv[] = {(char *)"qemu-img",
                                      (char *)"convert",
                                      (char *)"-O",
                                      (char *)"raw",
                                      img,
                                      raw,
                                      NULL};
                vmenv_info("bench: converting '%s' (%s) to a raw image", c->image, fmt);
                if (vmenv_bench_spawn(argv, 1 << 16, NULL, err) < 0)
                        return vmenv_error_prefix(err, "cannot convert image '%s'", c->image);
        }
        uint64_t off;
        if (vmenv_bench_partition_offset(raw, &off, err) < 0)
                return -1;
        char offv[32];
        snprintf(offv, sizeof(offv), "%llu", (unsigned long long)off);
        vmenv_bench_add_info(r, "partition_offset", offv);

        c->root = vmenv_path_join(c->work, "root");
        if (mkdir(c->root, 0755) < 0)
                return vmenv_error_errno(err, VMENV_EXIT_IO, errno, "cannot create '%s'", c->root);
        /* A mount namespace of our own: if vmenv is killed, the kernel drops
         * the mount with the namespace and the loop device (autoclear) with
         * it, so nothing outlives us. bwrap and podman are our children and
         * see it; without the namespace (unshare refused) the mount is
         * still undone by cleanup. */
        if (geteuid() == 0 && unshare(CLONE_NEWNS) == 0) {
                if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                        vmenv_debug("bench: cannot make mounts private: %s", strerror(errno));
                else
                        vmenv_bench_add_info(r, "mount_namespace", "private");
        }
        _cleanup_free_ char *mopts = vmenv_strdupf("ro,loop,offset=%llu", (unsigned long long)off);
        char *const argv[] = {(char *)"mount", (char *)"-o", mopts, raw, c->root, NULL};
        if (vmenv_bench_spawn(argv, 1 << 16, NULL, err) < 0) {
                vmenv_error_prefix(err, "cannot mount the root filesystem of '%s'", c->image);
                if (geteuid() != 0)
                        vmenv_error_hint(err, "the container target mounts the image from a loop "
                                              "device: run as root, or use '--only host,vm'");
                return -1;
        }
        c->mounted = true;
        /* The loop device holds the file open: our temporary copies can go
         * now, and their space comes back when the loop device does. */
        _cleanup_free_ char *ours = vmenv_strdupf("%s/", c->work);
        if (vmenv_startswith(raw, ours))
                unlink(raw);
        _cleanup_free_ char *boximg = vmenv_path_join(c->work, "box.img");
        unlink(boximg);
        vmenv_bench_add_info(r, "rootfs", vmenv_bench_fs_type(c->root));
        return 0;
}

/* ---- runtimes ---------------------------------------------------------- */

/* The command line that runs cmd in a fresh container with scratch bound
 * in; detached for the idle measurement (podman/docker: -d). */
static char **container_argv(const struct ctr *c, enum runtime rt, const char *probe,
                             const char *scratch, bool detached, char *const cmd[])
{
        char **v = NULL;
        if (rt == RT_BWRAP) {
                const char *fixed[] = {"bwrap",
                                       "--ro-bind",
                                       c->root,
                                       "/",
                                       "--proc",
                                       "/proc",
                                       "--dev",
                                       "/dev",
                                       "--tmpfs",
                                       "/tmp",
                                       "--unshare-all",
                                       "--die-with-parent",
                                       "--new-session",
                                       "--clearenv",
                                       "--setenv",
                                       "PATH",
                                       "/usr/sbin:/usr/bin:/sbin:/bin",
                                       "--chdir",
                                       "/"};
                for (size_t i = 0; i < VMENV_ARRAY_SIZE(fixed); i++)
                        vmenv_strv_push(&v, vmenv_strdup(fixed[i]));
                if (probe) {
                        /* the host's network, as 'docker run --network host':
                         * the network workloads talk to the server on the
                         * host's 127.0.0.1 */
                        vmenv_strv_push(&v, vmenv_strdup("--share-net"));
                        vmenv_strv_push(&v, vmenv_strdup("--ro-bind"));
                        vmenv_strv_push(&v, vmenv_strdup(probe));
                        vmenv_strv_push(&v, vmenv_strdup(GUEST_PROBE));
                }
                if (scratch) {
                        vmenv_strv_push(&v, vmenv_strdup("--bind"));
                        vmenv_strv_push(&v, vmenv_strdup(scratch));
                        vmenv_strv_push(&v, vmenv_strdup(GUEST_SCRATCH));
                }
        } else {
                vmenv_strv_push(&v, vmenv_strdup(runtime_names[rt]));
                vmenv_strv_push(&v, vmenv_strdup("run"));
                vmenv_strv_push(&v, vmenv_strdup(detached ? "-d" : "--rm"));
                vmenv_strv_push(&v, vmenv_strdup(probe ? "--network=host" : "--network=none"));
                if (probe)
                        vmenv_strv_push(&v, vmenv_strdupf("--volume=%s:%s:ro", probe, GUEST_PROBE));
                if (scratch)
                        vmenv_strv_push(&v,
                                        vmenv_strdupf("--volume=%s:%s", scratch, GUEST_SCRATCH));
                if (rt == RT_PODMAN) {
                        /* :O gives the read-only root a writable overlay */
                        vmenv_strv_push(&v, vmenv_strdup("--rootfs"));
                        vmenv_strv_push(&v, vmenv_strdupf("%s:O", c->root));
                } else {
                        vmenv_strv_push(&v, vmenv_strdup(c->docker_tag));
                }
        }
        for (size_t i = 0; cmd[i]; i++)
                vmenv_strv_push(&v, vmenv_strdup(cmd[i]));
        return v;
}

char **vmenv_bench_container_bwrap_argv(const struct vmenv_bench_target *t, const char *probe,
                                        char *const args[])
{
        const struct ctr *c = t ? t->data : NULL;
        if (!c || !c->root || !c->mounted)
                return NULL;
        char **cmd = NULL;
        vmenv_strv_push(&cmd, vmenv_strdup(GUEST_PROBE));
        for (size_t i = 0; args[i]; i++)
                vmenv_strv_push(&cmd, vmenv_strdup(args[i]));
        char **v = container_argv(c, RT_BWRAP, probe, NULL, false, cmd);
        vmenv_strv_free(cmd);
        return v;
}

bool vmenv_bench_in_path(const char *prog)
{
        const char *path = getenv("PATH");
        _cleanup_free_ char *copy = vmenv_strdup(path ? path : "/usr/bin:/bin");
        for (char *save = NULL, *d = strtok_r(copy, ":", &save); d;
             d = strtok_r(NULL, ":", &save)) {
                _cleanup_free_ char *p = vmenv_path_join(d, prog);
                if (access(p, X_OK) == 0)
                        return true;
        }
        return false;
}

/* Tries the runtime for real: a container that runs 'true'. */
static int try_runtime(struct ctr *c, enum runtime rt, vmenv_error *err)
{
        const char *name = runtime_names[rt];
        if (!vmenv_bench_in_path(name))
                return vmenv_error_set(err, VMENV_EXIT_UNAVAILABLE, "%s is not installed", name);
        if (rt == RT_DOCKER) {
                /* docker runs images only: import the root filesystem as one. */
                _cleanup_free_ char *tar = vmenv_path_join(c->work, "rootfs.tar");
                char *const targv[] = {(char *)"tar", (char *)"-C", c->root, (char *)"-cf",
                                       tar,           (char *)".",  NULL};
                if (vmenv_bench_spawn(targv, 1 << 16, NULL, err) < 0)
                        return -1;
                _cleanup_free_ char *tag = vmenv_strdupf("vmenv-bench-rootfs:%ld", (long)getpid());
                char *const iargv[] = {(char *)"docker", (char *)"import", tar, tag, NULL};
                int rc = vmenv_bench_spawn(iargv, 1 << 16, NULL, err);
                unlink(tar);
                if (rc < 0)
                        return -1;
                c->docker_tag = TAKE_PTR(tag);
        }
        char *const cmd[] = {(char *)"/bin/true", NULL};
        char **argv = container_argv(c, rt, NULL, NULL, false, cmd);
        int rc = vmenv_bench_spawn(argv, 1 << 16, NULL, err);
        vmenv_strv_free(argv);
        return rc;
}

static char *runtime_version(enum runtime rt)
{
        char *const argv[] = {(char *)runtime_names[rt], (char *)"--version", NULL};
        char *out = NULL;
        vmenv_error e = VMENV_ERROR_INIT;
        if (vmenv_bench_spawn(argv, 4096, &out, &e) < 0) {
                vmenv_error_clear(&e);
                return vmenv_strdup("unknown");
        }
        out[strcspn(out, "\n")] = 0;
        return out;
}

static int pick_runtime(struct ctr *c, struct vmenv_bench_result *r, vmenv_error *err)
{
        enum runtime order[] = {RT_PODMAN, RT_DOCKER, RT_BWRAP};
        for (size_t i = 0; i < VMENV_ARRAY_SIZE(order); i++) {
                enum runtime rt = order[i];
                if (c->want != RT_NONE && c->want != rt)
                        continue;
                vmenv_error e = VMENV_ERROR_INIT;
                if (try_runtime(c, rt, &e) == 0) {
                        c->rt = rt;
                        return 0;
                }
                vmenv_debug("bench: %s cannot run a container here: %s", runtime_names[rt], e.msg);
                if (c->want != RT_NONE) {
                        vmenv_error_move(err, &e);
                        return vmenv_error_prefix(err, "container runtime '%s' does not work here",
                                                  runtime_names[rt]);
                }
                _cleanup_free_ char *first = vmenv_strndup(e.msg, strcspn(e.msg, "\n"));
                vmenv_strv_push(&r->notes,
                                vmenv_strdupf("%s not used: %.200s", runtime_names[rt], first));
                vmenv_error_clear(&e);
        }
        return vmenv_error_set(err, VMENV_EXIT_UNAVAILABLE,
                               "no container runtime works here (tried podman, docker, bwrap)");
}

/* ---- the target -------------------------------------------------------- */

static int ctr_prepare(struct vmenv_bench_target *t, const struct vmenv_bench_opts *o,
                       struct vmenv_bench_result *r, vmenv_error *err)
{
        struct ctr *c = t->data;
        _cleanup_free_ char *tmpl = vmenv_path_join(o->scratch_dir, "vmenv-bench-container.XXXXXX");
        if (!mkdtemp(tmpl))
                return vmenv_error_errno(err, vmenv_exit_for_errno(errno), errno,
                                         "cannot create a folder in '%s'", o->scratch_dir);
        c->work = TAKE_PTR(tmpl);
        if (mount_image(c, r, err) < 0)
                return -1;
        if (pick_runtime(c, r, err) < 0)
                return -1;
        c->scratch = vmenv_path_join(c->work, "scratch");
        if (mkdir(c->scratch, 0777) < 0)
                return vmenv_error_errno(err, VMENV_EXIT_IO, errno, "cannot create '%s'",
                                         c->scratch);

        free(t->label);
        t->label = vmenv_strdupf("container (%s)", runtime_names[c->rt]);
        _cleanup_free_ char *ver = runtime_version(c->rt);
        vmenv_bench_add_info(r, "runtime", runtime_names[c->rt]);
        vmenv_bench_add_info(r, "runtime_version", ver);
        vmenv_bench_add_info(r, "image", c->image);
        if (c->rt == RT_BWRAP)
                vmenv_strv_push(
                    &r->notes, vmenv_strdupf("writable layer: a bind mount of a folder on the host "
                                             "disk (%s), not an overlay (this bubblewrap has no "
                                             "--overlay); /tmp is a tmpfs",
                                             vmenv_bench_fs_type(c->scratch)));
        else
                vmenv_strv_push(&r->notes, vmenv_strdupf("disk workloads write to a volume on the "
                                                         "host disk (%s)",
                                                         vmenv_bench_fs_type(c->scratch)));
        vmenv_strv_push(&r->notes, vmenv_strdup("root filesystem: the box image, mounted read-only "
                                                "from a loop device"));
        return 0;
}

static int ctr_run(struct vmenv_bench_target *t, const struct vmenv_bench_opts *o,
                   char *const args[], char **out, vmenv_error *err)
{
        struct ctr *c = t->data;
        char **cmd = NULL;
        vmenv_strv_push(&cmd, vmenv_strdup(GUEST_PROBE));
        for (size_t i = 0; args[i]; i++)
                vmenv_strv_push(&cmd, vmenv_strdup(args[i]));
        vmenv_strv_push(&cmd, vmenv_strdup("--dir"));
        vmenv_strv_push(&cmd, vmenv_strdup(GUEST_SCRATCH));
        char **argv = container_argv(c, c->rt, o->probe_path, c->scratch, false, cmd);
        int rc = vmenv_bench_spawn(argv, 1 << 20, out, err);
        vmenv_strv_free(argv);
        vmenv_strv_free(cmd);
        return rc;
}

/* Bytes allocated under path, the folder itself included (du -s). */
static uint64_t allocated(const char *path)
{
        struct stat st;
        if (lstat(path, &st) < 0)
                return 0;
        uint64_t sum = (uint64_t)st.st_blocks * 512;
        if (!S_ISDIR(st.st_mode))
                return sum;
        DIR *d = opendir(path);
        if (!d)
                return sum;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                        continue;
                _cleanup_free_ char *p = vmenv_path_join(path, de->d_name);
                sum += allocated(p);
        }
        closedir(d);
        return sum;
}

static int idle_bwrap(struct ctr *c, const struct vmenv_bench_opts *o, struct vmenv_bench_result *r,
                      vmenv_error *err)
{
        _cleanup_free_ char *inst = vmenv_path_join(c->work, "idle-instance");
        if (mkdir(inst, 0777) < 0)
                return vmenv_error_errno(err, VMENV_EXIT_IO, errno, "cannot create '%s'", inst);
        char *const cmd[] = {(char *)"/bin/sleep", (char *)"100000", NULL};
        char **argv = container_argv(c, RT_BWRAP, NULL, inst, false, cmd);
        pid_t pid = fork();
        if (pid == 0) {
                int nul = open("/dev/null", O_RDWR);
                if (nul >= 0)
                        dup2(nul, 0), dup2(nul, 1), dup2(nul, 2);
                execvp(argv[0], argv);
                _exit(127);
        }
        vmenv_strv_free(argv);
        if (pid < 0)
                return vmenv_error_errno(err, VMENV_EXIT_IO, errno, "cannot fork");
        /* let it settle: the sandbox is set up and sleep has started */
        struct timespec ts = {0, 500 * 1000000L};
        nanosleep(&ts, NULL);
        int rc = vmenv_bench_lifecycle_procs(pid, o->idle_seconds, 1, r, err);
        if (rc == 0)
                vmenv_bench_add(r, "disk-added", 1, (double)allocated(inst), "bytes");
        kill(pid, SIGTERM); /* bwrap --die-with-parent takes the sandbox down */
        int st;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
                ;
        return rc;
}

static int idle_engine(struct ctr *c, const struct vmenv_bench_opts *o,
                       struct vmenv_bench_result *r, vmenv_error *err)
{
        const char *rt = runtime_names[c->rt];
        char *const cmd[] = {(char *)"/bin/sleep", (char *)"100000", NULL};
        char **argv = container_argv(c, c->rt, NULL, NULL, true, cmd);
        _cleanup_free_ char *id = NULL, *pidtext = NULL;
        int rc = vmenv_bench_spawn(argv, 4096, &id, err);
        vmenv_strv_free(argv);
        if (rc < 0)
                return -1;
        id[strcspn(id, "\n")] = 0;
        char *const iargv[] = {
            (char *)rt, (char *)"inspect", (char *)"--format", (char *)"{{.State.Pid}}", id, NULL};
        if ((rc = vmenv_bench_spawn(iargv, 4096, &pidtext, err)) == 0) {
                rc = vmenv_bench_lifecycle_procs(atoi(pidtext), o->idle_seconds, 1, r, err);
                vmenv_strv_push(&r->notes,
                                vmenv_strdupf("idle figures count the container's "
                                              "processes, not %s's own daemon or monitor",
                                              rt));
        }
        char *const rargv[] = {(char *)rt, (char *)"rm", (char *)"-f", id, NULL};
        vmenv_error e = VMENV_ERROR_INIT;
        if (vmenv_bench_spawn(rargv, 4096, NULL, &e) < 0)
                vmenv_debug("bench: %s", e.msg);
        vmenv_error_clear(&e);
        return rc;
}

static int ctr_lifecycle(struct vmenv_bench_target *t, const struct vmenv_bench_opts *o,
                         struct vmenv_bench_result *r, vmenv_error *err)
{
        struct ctr *c = t->data;
        char *const cmd[] = {(char *)"/bin/true", NULL};
        char **argv = container_argv(c, c->rt, NULL, NULL, false, cmd);
        /* A container has no stopped state: its first command is 'run true'
         * from nothing, reported as start-cold. */
        for (int run = 1; run <= o->runs; run++) {
                uint64_t t0 = vmenv_now_ns();
                if (vmenv_bench_spawn(argv, 1 << 16, NULL, err) < 0) {
                        vmenv_strv_free(argv);
                        return -1;
                }
                vmenv_bench_add(r, "start-cold", run, (double)(vmenv_now_ns() - t0) / 1e6, "ms");
        }
        vmenv_strv_free(argv);
        return c->rt == RT_BWRAP ? idle_bwrap(c, o, r, err) : idle_engine(c, o, r, err);
}

static void ctr_cleanup(struct vmenv_bench_target *t)
{
        struct ctr *c = t->data;
        if (!c)
                return;
        if (c->mounted && umount2(c->root, 0) < 0 && umount2(c->root, MNT_DETACH) < 0)
                vmenv_warn("cannot unmount '%s': %s", c->root, strerror(errno));
        if (c->docker_tag) {
                char *const argv[] = {(char *)"docker", (char *)"rmi", c->docker_tag, NULL};
                vmenv_error e = VMENV_ERROR_INIT;
                if (vmenv_bench_spawn(argv, 4096, NULL, &e) < 0)
                        vmenv_debug("bench: %s", e.msg);
                vmenv_error_clear(&e);
        }
        if (c->work && (!c->mounted || !vmenv_path_exists(c->root) || rmdir(c->root) == 0)) {
                vmenv_error e = VMENV_ERROR_INIT;
                if (vmenv_rm_rf(c->work, &e) < 0)
                        vmenv_debug("bench: %s", e.msg);
                vmenv_error_clear(&e);
        }
        free(c->image);
        free(c->work);
        free(c->root);
        free(c->scratch);
        free(c->docker_tag);
        free(c);
        t->data = NULL;
}

struct vmenv_bench_target *vmenv_bench_container_target_new(const char *image, const char *runtime,
                                                            vmenv_error *err)
{
        enum runtime want = RT_NONE;
        if (runtime) {
                for (int i = RT_PODMAN; i <= RT_BWRAP; i++)
                        if (vmenv_streq(runtime, runtime_names[i]))
                                want = (enum runtime)i;
                if (want == RT_NONE) {
                        vmenv_error_set(err, VMENV_EXIT_USAGE, "unknown container runtime '%s'",
                                        runtime);
                        vmenv_error_hint(err, "use podman, docker or bwrap");
                        return NULL;
                }
        }
        if (!vmenv_path_exists(image)) {
                vmenv_error_set(err, VMENV_EXIT_NOINPUT, "cannot find image '%s'", image);
                return NULL;
        }
        struct ctr *c = vmenv_calloc(1, sizeof(*c));
        c->image = vmenv_strdup(image);
        c->want = want;
        struct vmenv_bench_target *t = vmenv_calloc(1, sizeof(*t));
        t->name = "container";
        t->net_addr = "127.0.0.1"; /* the host's network, shared for the probe runs */
        t->label = vmenv_strdup("container");
        t->data = c;
        t->prepare = ctr_prepare;
        t->run = ctr_run;
        t->lifecycle = ctr_lifecycle;
        t->cleanup = ctr_cleanup;
        return t;
}
