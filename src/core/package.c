/* vmenv package: a machine's disk, flattened (overlay + box merged), packed
 * as a Vagrant libvirt box that 'vmenv box add' and Vagrant itself accept.
 * A cloud image's machine is packaged with cloud-init cleaned
 * (package-cloud.c) and the box says it is a cloud-init image. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "machine-private.h"
#include "vmenv/box.h"
#include "vmenv/cleanup.h"
#include "vmenv/log.h"
#include "vmenv/machine.h"
#include "vmenv/snapshot.h"
#include "vmenv/ssh.h"
#include "vmenv/util.h"

#define COPY_CHUNK (1u << 20)

static int add_file(struct archive *a, const char *path, const char *name, vmenv_error *err)
{
        struct stat st;
        struct archive_entry *e;
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *buf = NULL;
        ssize_t n;

        if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) < 0)
                return vmenv_error_errno(err, 0, errno, "cannot read '%s'", path);
        if (!S_ISREG(st.st_mode))
                return vmenv_error_set(err, VMENV_EXIT_USAGE, "'%s' is not a regular file", path);
        e = archive_entry_new();
        archive_entry_set_pathname(e, name);
        archive_entry_set_size(e, st.st_size);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_mtime(e, st.st_mtime, 0);
        if (archive_write_header(a, e) != ARCHIVE_OK) {
                archive_entry_free(e);
                return vmenv_error_set(err, VMENV_EXIT_IO, "cannot add '%s' to the box: %s", name,
                                       archive_error_string(a));
        }
        archive_entry_free(e);
        buf = vmenv_malloc(COPY_CHUNK);
        while ((n = read(fd, buf, COPY_CHUNK)) != 0) {
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return vmenv_error_errno(err, 0, errno, "cannot read '%s'", path);
                }
                if (archive_write_data(a, buf, (size_t)n) != n)
                        return vmenv_error_set(err, VMENV_EXIT_IO, "cannot write the box: %s",
                                               archive_error_string(a));
        }
        return 0;
}

static int write_box(const char *dir, const struct vmenv_package_opts *o, const char *out,
                     vmenv_error *err)
{
        struct archive *a = archive_write_new();
        _cleanup_free_ char *meta = vmenv_path_join(dir, "metadata.json");
        _cleanup_free_ char *vf = vmenv_path_join(dir, "Vagrantfile");
        _cleanup_free_ char *img = vmenv_path_join(dir, "box.img");
        int r = -1;

        archive_write_set_format_pax_restricted(a);
        archive_write_add_filter_gzip(a);
        archive_write_set_filter_option(a, "gzip", "compression-level", "1");
        if (archive_write_open_filename(a, out) != ARCHIVE_OK) {
                vmenv_error_set(err, VMENV_EXIT_IO, "cannot write '%s': %s", out,
                                archive_error_string(a));
                goto done;
        }
        if (add_file(a, meta, "metadata.json", err) < 0 || add_file(a, vf, "Vagrantfile", err) < 0)
                goto done;
        for (char **i = o->include; i && *i; i++) {
                _cleanup_free_ char *copy = vmenv_strdup(*i);
                _cleanup_free_ char *name = vmenv_strdupf("include/%s", basename(copy));
                if (add_file(a, *i, name, err) < 0)
                        goto done;
        }
        if (add_file(a, img, "box.img", err) < 0)
                goto done;
        if (archive_write_close(a) != ARCHIVE_OK) {
                vmenv_error_set(err, VMENV_EXIT_IO, "cannot write '%s': %s", out,
                                archive_error_string(a));
                goto done;
        }
        r = 0;
done:
        archive_write_free(a);
        return r;
}

/* With --insecure-key the image accepts Vagrant's insecure key again (and
 * only it), as boxes for others must; otherwise it keeps accepting this
 * machine's own key and the Vagrantfile says so. */
static int set_box_key(struct vmenv_project *p, const struct vmenv_machine_config *m,
                       const struct vmenv_package_opts *o, char **key_note, vmenv_error *err)
{
        _cleanup_(vmenv_state_freep) struct vmenv_machine_state *st = NULL;
        _cleanup_(vmenv_ssh_freep) struct vmenv_ssh *s = NULL;
        _cleanup_free_ char *ipath = NULL, *ppath = NULL, *pub = NULL, *q = NULL, *cmd = NULL;
        enum vmenv_vm_state vs;
        int status = 0;

        if (!(st = vmenv_state_load(p->config, m->name, err)))
                return -1;
        if (!o->insecure_key) {
                _cleanup_free_ char *mine = vmenv_state_path(st, "private_key.pub");
                _cleanup_free_ char *line = NULL;
                _cleanup_free_ char *fp = NULL;
                if (vmenv_read_file(mine, 16384, &line, NULL, NULL) == 0) {
                        line[strcspn(line, "\n")] = '\0';
                        fp = vmenv_ssh_host_key_fingerprint(line);
                }
                *key_note = vmenv_strdupf(
                    "# SSH: this box accepts only the key of vmenv machine '%s' (%s),\n"
                    "# not Vagrant's insecure key. Repackage with 'vmenv package "
                    "--insecure-key'\n# to make a box for others.\n",
                    m->name, fp ? fp : "its private_key");
                return 0;
        }
        *key_note = vmenv_strdup("# SSH: user 'vagrant' with Vagrant's insecure key, replaced on "
                                 "first boot.\n");
        if (p->ops->state(p->conn, st->domain, &vs, err) < 0)
                return -1;
        if (vs != VMENV_VM_RUNNING) {
                struct vmenv_up_opts uo = {.no_provision = true};
                if (vmenv_machine_up(p, m, &uo, err) < 0)
                        return -1;
        }
        if (!(ipath = vmenv_insecure_key_path(err)))
                return -1;
        ppath = vmenv_strdupf("%s.pub", ipath);
        if (vmenv_read_file(ppath, 16384, &pub, NULL, err) < 0)
                return -1;
        pub[strcspn(pub, "\n")] = '\0';
        q = vmenv_shell_quote(pub);
        cmd = vmenv_strdupf("umask 077 && mkdir -p ~/.ssh && printf '%%s\\n' %s > "
                            "~/.ssh/authorized_keys.vmenv && mv -f ~/.ssh/authorized_keys.vmenv "
                            "~/.ssh/authorized_keys",
                            q);
        if (!(s = vmenv_machine_ssh(p, m, err)))
                return -1;
        if (vmenv_ssh_exec(s, cmd, NULL, 0, -1, STDERR_FILENO, &status, err) < 0)
                return -1;
        if (status != 0)
                return vmenv_error_set(err, VMENV_EXIT_FAILURE,
                                       "cannot put the insecure key into '%s' (exit status %d)",
                                       m->name, status);
        /* The machine now only accepts the insecure key: say so in its state. */
        st->key_replaced = false;
        return vmenv_state_save(st, err);
}

int vmenv_package(struct vmenv_project *p, const struct vmenv_machine_config *m,
                  const struct vmenv_package_opts *o, vmenv_error *err)
{
        _cleanup_(vmenv_state_freep) struct vmenv_machine_state *st = NULL;
        const char *out = o->output ? o->output : "package.box";
        _cleanup_free_ char *tmp = vmenv_strdupf("%s.tmp.%ld", out, (long)getpid());
        _cleanup_free_ char *img = vmenv_path_join(tmp, "box.img");
        _cleanup_free_ char *meta = vmenv_path_join(tmp, "metadata.json");
        _cleanup_free_ char *vf = vmenv_path_join(tmp, "Vagrantfile");
        _cleanup_free_ char *part = vmenv_strdupf("%s.part", out);
        _cleanup_free_ char *note = NULL, *json = NULL, *fmt = NULL, *vtext = NULL;
        uint64_t vsize = 0;
        enum vmenv_vm_state vs;
        vmenv_error e2 = VMENV_ERROR_INIT;
        _cleanup_close_ int lock = -1;
        bool cloud, saved = false;
        int r = -1;

        if (vmenv_path_exists(out) && !o->force) {
                vmenv_error_set(err, VMENV_EXIT_USAGE, "'%s' exists already", out);
                return vmenv_error_hint(err, "choose another --output, or pass -f to replace it");
        }
        if (o->vagrantfile && !vmenv_path_exists(o->vagrantfile))
                return vmenv_error_set(err, VMENV_EXIT_NOINPUT, "no Vagrantfile '%s'",
                                       o->vagrantfile);
        for (char **i = o->include; i && *i; i++)
                if (!vmenv_path_exists(*i))
                        return vmenv_error_set(err, VMENV_EXIT_NOINPUT, "no file '%s' to include",
                                               *i);
        if ((lock = vmenv_machine_lock(p, m->name, err)) < 0)
                return -1;
        if (!(st = vmenv_state_load(p->config, m->name, err)))
                return -1;
        if (p->ops->state(p->conn, st->domain, &vs, err) < 0)
                return -1;
        if (vs == VMENV_VM_NOT_CREATED || !st->disk_volume) {
                vmenv_error_set(err, VMENV_EXIT_FAILURE, "machine '%s' is not created", m->name);
                return vmenv_error_hint(err, "run 'vmenv up %s' first", m->name);
        }
        cloud = vmenv_machine_cloud(m, st);
        if (cloud && o->insecure_key) {
                vmenv_error_set(err, VMENV_EXIT_USAGE,
                                "'%s' is a cloud image's machine: its box takes each machine's "
                                "own key from cloud-init, never Vagrant's insecure key",
                                m->name);
                return vmenv_error_hint(err, "package it without --insecure-key");
        }
        /* an earlier package interrupted: the machine first, as it was */
        if (vmenv_package_heal(p, m, st, err) < 0)
                return -1;
        if (cloud) {
                note = vmenv_strdup(
                    "# A cloud-init image, cleaned ('cloud-init clean'): each machine made\n"
                    "# from it is configured by cloud-init from its own NoCloud seed (user,\n"
                    "# key, host keys). vmenv does that by itself (metadata.json: "
                    "\"" VMENV_BOX_CLOUD_INIT_KEY "\");\n"
                    "# no user or key is baked in.\n");
                if (vmenv_package_cloud_clean(p, m, st, &saved, err) < 0)
                        goto out;
        } else {
                if (set_box_key(p, m, o, &note, err) < 0)
                        return -1;
                if (vmenv_machine_halt_locked(p, m, false, 60, err) < 0)
                        return -1;
        }
        if (vmenv_mkdir_p(tmp, 0700, err) < 0)
                goto out;
        vmenv_info("%s: flattening the disk", m->name);
        if (p->ops->volume_export(p->conn, m->libvirt.storage_pool, st->disk_volume, img, err) < 0)
                goto out;
        if (vmenv_image_probe(img, &fmt, &vsize, err) < 0)
                goto out;
        json = vmenv_strdupf("{\n  \"provider\": \"libvirt\",\n  \"format\": \"qcow2\",\n"
                             "  \"virtual_size\": %llu%s\n}\n",
                             (unsigned long long)((vsize + (1ull << 30) - 1) >> 30),
                             cloud ? ",\n  \"" VMENV_BOX_CLOUD_INIT_KEY "\": true" : "");
        if (vmenv_write_file_atomic(meta, json, strlen(json), 0644, err) < 0)
                goto out;
        if (o->vagrantfile) {
                if (vmenv_read_file(o->vagrantfile, 1u << 20, &vtext, NULL, err) < 0)
                        goto out;
        } else {
                vtext = vmenv_strdupf("# Packaged by vmenv from machine '%s' of project '%s'.\n"
                                      "%s"
                                      "Vagrant.configure(\"2\") do |config|\n"
                                      "  config.vm.provider :libvirt do |libvirt|\n"
                                      "    libvirt.disk_bus = \"virtio\"\n"
                                      "  end\n"
                                      "end\n",
                                      m->name, p->config->project, note);
        }
        if (vmenv_write_file_atomic(vf, vtext, strlen(vtext), 0644, err) < 0)
                goto out;
        vmenv_info("%s: writing '%s'", m->name, out);
        if (write_box(tmp, o, part, err) < 0)
                goto out;
        if (rename(part, out) < 0) {
                vmenv_error_errno(err, 0, errno, "cannot write '%s'", out);
                goto out;
        }
        r = 0;
out:
        unlink(part);
        vmenv_rm_rf(tmp, &e2);
        vmenv_error_clear(&e2);
        if (saved) {
                /* the machine comes back as it was, then halts as any
                 * packaged machine does; a failure here is healed by the
                 * next up or package, and said */
                vmenv_error *e = r < 0 ? &e2 : err;
                if (vmenv_package_cloud_restore(p, m, st, e) < 0 ||
                    vmenv_machine_halt_locked(p, m, false, 60, e) < 0) {
                        if (r < 0) {
                                vmenv_warn("%s: %s (the next 'vmenv up' does it)", m->name, e->msg);
                                vmenv_error_clear(e);
                        }
                        return -1;
                }
        }
        return r;
}
