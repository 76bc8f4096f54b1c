#!/bin/bash
# Builds the tiny box and its nossh variant into $1 (called by boxes/build):
#   $1/vmenv-tiny-$VMENV_BOX_VERSION.box, $1/vmenv-tiny-nossh-$VMENV_BOX_VERSION.box
# From the host's Debian packages: linux-image-amd64, busybox-static,
# dropbear-bin, rsync, openssh-sftp-server, extlinux, syslinux-common,
# e2fsprogs, fdisk, kmod, cpio, qemu-utils, vagrant (the insecure key), gcc.
set -euo pipefail
out=$1
version=${VMENV_BOX_VERSION:-1.0.0}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../loop.sh"
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export LC_ALL=C

disk_mib=1024     # virtual size (metadata.json says 1 GiB)
part_start=2048   # sectors: the partition starts at 1 MiB
# Drivers Debian builds as modules; their dependencies are resolved below.
modules="virtio_pci virtio_blk virtio_net virtio_rng virtio_console virtio_balloon
  crc32c_generic crc32c_intel ext4 9pnet_virtio 9p virtiofs button evdev"

need() {
  local missing=0 p
  for p in "$@"; do
    if ! command -v "$p" >/dev/null; then
      echo "build-tiny: '$p' not found (run scripts/install-deps)" >&2
      missing=1
    fi
  done
  return $missing
}
need busybox dropbear dropbearkey rsync extlinux mkfs.ext4 sfdisk losetup depmod modprobe \
  cpio qemu-img gcc gzip

kver=$(find /boot -maxdepth 1 -name 'vmlinuz-*' -printf '%f\n' | sed 's/^vmlinuz-//' | sort -V | tail -1)
if [ -z "$kver" ] || [ ! -d "/lib/modules/$kver" ]; then
  echo "build-tiny: no Debian kernel in /boot and /lib/modules (apt-get install linux-image-amd64)" >&2
  exit 1
fi
# busybox-static's binary: the initramfs has no libraries.
busybox_bin=/bin/busybox
if [ ! -x "$busybox_bin" ] || ldd "$busybox_bin" >/dev/null 2>&1; then
  echo "build-tiny: $busybox_bin is not a static busybox (apt-get install busybox-static)" >&2
  exit 1
fi
vagrant_pub=$(ls /usr/share/rubygems-integration/all/gems/vagrant-*/keys/vagrant.pub 2>/dev/null | sort -V | tail -1)
if [ -z "$vagrant_pub" ]; then
  echo "build-tiny: the Vagrant insecure key is missing (apt-get install vagrant)" >&2
  exit 1
fi
sftp_server=/usr/lib/openssh/sftp-server
mbr=/usr/lib/syslinux/mbr/mbr.bin

work=$(mktemp -d /tmp/vmenv-tiny.XXXXXX)
loopdev=
cleanup() {
  if mountpoint -q "$work/mnt" 2>/dev/null; then umount "$work/mnt" || true; fi
  if [ -n "$loopdev" ]; then losetup -d "$loopdev" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# --- modules: resolve dependency order from the installed tree, copy them,
# and depmod the copy (the guest's busybox modprobe reads its modules.dep).
: >"$work/modules.order"
for m in $modules; do
  modprobe -S "$kver" --show-depends "$m" | awk '$1 == "insmod" { print $2 }'
done | awk '!seen[$0]++' | sed "s|^/lib/modules/$kver/||" >"$work/modules.order"
mods="$work/mods"
while read -r rel; do
  install -D -m 0644 "/lib/modules/$kver/$rel" "$mods/lib/modules/$kver/$rel"
done <"$work/modules.order"
cp "/lib/modules/$kver/modules.order" "/lib/modules/$kver/modules.builtin" \
  "/lib/modules/$kver/modules.builtin.modinfo" "$mods/lib/modules/$kver/" 2>/dev/null || true
depmod -b "$mods" "$kver"

# --- initramfs: static busybox, the modules, an init that mounts /dev/vda1.
ird="$work/initramfs"
mkdir -p "$ird"/{bin,dev,proc,sys,newroot,lib/modules}
install -m 0755 "$busybox_bin" "$ird/bin/busybox"
ln -s busybox "$ird/bin/sh"
install -m 0755 "$here/initramfs-init" "$ird/init"
cp -a "$mods/lib/modules/$kver/kernel" "$ird/lib/modules/"
sed 's|^kernel/|kernel/|' "$work/modules.order" >"$ird/modules.order"
mknod -m 600 "$ird/dev/console" c 5 1
mknod -m 666 "$ird/dev/null" c 1 3
find "$ird" -exec touch -h -d @0 {} +
(cd "$ird" && find . -print0 | sort -z | cpio --null -o -H newc -R 0:0 --quiet) | gzip -9n >"$work/initramfs.gz"

# --- root file system staging tree
r="$work/root"
mkdir -p "$r"/{bin,sbin,usr/bin,usr/sbin,usr/lib,lib,lib64,etc,dev,proc,sys,run,mnt,media,boot/extlinux,var/log,var/lib,root}
mkdir -p "$r/etc/init.d" "$r/etc/acpi/PWRF" "$r/etc/dropbear" "$r/usr/share/udhcpc" "$r/home/vagrant/.ssh"
install -d -m 1777 "$r/tmp" "$r/var/tmp"
chmod 0700 "$r/root"
ln -s /run "$r/var/run"

install -m 0755 "$busybox_bin" "$r/bin/busybox"
"$busybox_bin" --list-full | while read -r applet; do
  [ -e "$r/$applet" ] || [ -L "$r/$applet" ] || ln -s /bin/busybox "$r/$applet"
done

# Dynamically linked programs, their libraries (ldd) and the loader.
copy_dyn() {
  local src=$1 dst=$2 lib
  install -D -m 0755 "$src" "$r$dst"
  for lib in $(ldd "$src" | grep -o '/[^ ]*'); do
    [ -e "$r$lib" ] || install -D -m 0755 "$(readlink -f "$lib")" "$r$lib"
  done
}
rm -f "$r/usr/bin/rsync"
copy_dyn "$(command -v dropbear)" /usr/sbin/dropbear
copy_dyn "$(command -v rsync)" /usr/bin/rsync
if [ -x "$sftp_server" ]; then
  copy_dyn "$sftp_server" /usr/lib/sftp-server
fi

gcc -static -O2 -Wall -o "$work/sudo" "$here/sudo.c"
install -m 4755 "$work/sudo" "$r/usr/bin/sudo"

cp -a "$mods/lib/modules" "$r/lib/"
install -m 0644 "/boot/vmlinuz-$kver" "$r/boot/vmlinuz"
install -m 0644 "$work/initramfs.gz" "$r/boot/initramfs.gz"
install -m 0644 "$here/extlinux.conf" "$r/boot/extlinux/extlinux.conf"

install -m 0644 "$here/inittab" "$r/etc/inittab"
install -m 0755 "$here/rcS" "$r/etc/init.d/rcS"
install -m 0755 "$here/rcK" "$r/etc/init.d/rcK"
install -m 0755 "$here/acpi-power" "$r/etc/acpi/PWRF/00000080"
install -m 0755 "$here/udhcpc.script" "$r/usr/share/udhcpc/default.script"
echo vmenv-tiny >"$r/etc/hostname"
cat >"$r/etc/os-release" <<OSREL
NAME="vmenv tiny"
ID=vmenv-tiny
ID_LIKE=busybox
VERSION_ID=$version
PRETTY_NAME="vmenv tiny test box $version (busybox, dropbear, Linux $kver)"
OSREL
printf '127.0.0.1\tlocalhost\n127.0.1.1\tvmenv-tiny\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$r/etc/hosts"
printf '/bin/sh\n/bin/ash\n' >"$r/etc/shells"
: >"$r/etc/resolv.conf"
printf 'passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n' >"$r/etc/nsswitch.conf"
printf '/dev/vda1\t/\text4\trw,relatime\t0\t1\nproc\t/proc\tproc\tdefaults\t0\t0\n' >"$r/etc/fstab"
cat >"$r/etc/profile" <<'PROFILE'
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
[ "$(id -u)" = 0 ] && PS1='# ' || PS1='$ '
PROFILE
cat >"$r/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
vagrant:x:1000:1000:vagrant:/home/vagrant:/bin/sh
PASSWD
cat >"$r/etc/group" <<'GROUP'
root:x:0:
daemon:x:1:
tty:x:5:
disk:x:6:
shadow:x:42:
sudo:x:27:vagrant
users:x:100:vagrant
nogroup:x:65534:
vagrant:x:1000:
GROUP
# No passwords at all ('*': no password login; not '!', which dropbear treats
# as a locked account and refuses even keys).
cat >"$r/etc/shadow" <<'SHADOW'
root:*:19000:0:99999:7:::
daemon:*:19000:0:99999:7:::
nobody:*:19000:0:99999:7:::
vagrant:*:19000:0:99999:7:::
SHADOW
chmod 0640 "$r/etc/shadow"
chown 0:42 "$r/etc/shadow"

install -m 0600 "$vagrant_pub" "$r/home/vagrant/.ssh/authorized_keys"
chmod 0700 "$r/home/vagrant/.ssh"
chown -R 1000:1000 "$r/home/vagrant"
chmod 0755 "$r/home/vagrant"

dropbearkey -t ed25519 -f "$r/etc/dropbear/dropbear_ed25519_host_key" >/dev/null 2>&1
dropbearkey -t rsa -s 2048 -f "$r/etc/dropbear/dropbear_rsa_host_key" >/dev/null 2>&1
chmod 0600 "$r/etc/dropbear/"*_host_key

# --- disk: MBR + one bootable ext4 partition, extlinux
part_bytes=$(( (disk_mib << 20) - part_start * 512 ))
truncate -s "$part_bytes" "$work/part.img"
mkfs.ext4 -q -F -L vmenv-root -U 7f3c6a52-8d0e-4b7a-9a39-0c1d2e3f4a5b \
  -E root_owner=0:0,hash_seed=2f0e5d4c-3b2a-4190-8877-665544332211 \
  -O ^64bit,^metadata_csum -d "$r" "$work/part.img"
truncate -s "${disk_mib}M" "$work/disk.img"
echo "start=$part_start, type=83, bootable" | sfdisk -q --label dos "$work/disk.img" >/dev/null
dd if="$work/part.img" of="$work/disk.img" bs=1M seek=1 conv=notrunc,sparse status=none
rm -f "$work/part.img"
dd if="$mbr" of="$work/disk.img" bs=440 count=1 conv=notrunc status=none

mkdir -p "$work/mnt"
loop_attach "$work/disk.img" "$part_start" "$part_bytes"
mount -t ext4 "$loopdev" "$work/mnt"
extlinux --install "$work/mnt/boot/extlinux" >/dev/null 2>&1
umount "$work/mnt"
loop_detach
check_boot_sector "$work/disk.img" "$part_start"

# The nossh variant: the same disk plus /etc/vmenv-nossh (a new file leaves
# extlinux's ldlinux.sys where the boot sector expects it).
cp --sparse=always "$work/disk.img" "$work/disk-nossh.img"
loop_attach "$work/disk-nossh.img" "$part_start" "$part_bytes"
mount -t ext4 "$loopdev" "$work/mnt"
echo "the SSH server of this box never starts (vmenv test box)" >"$work/mnt/etc/vmenv-nossh"
umount "$work/mnt"
loop_detach
check_boot_sector "$work/disk-nossh.img" "$part_start"

# --- package: Vagrant libvirt box = tar.gz of metadata.json + box.img
package() {
  local raw=$1 box=$2 d="$work/pkg"
  rm -rf "$d"; mkdir -p "$d"
  qemu-img convert -f raw -O qcow2 "$raw" "$d/box.img"
  printf '{"provider":"libvirt","format":"qcow2","virtual_size":%d}\n' $((disk_mib / 1024)) >"$d/metadata.json"
  touch -d @0 "$d/box.img" "$d/metadata.json"
  tar -C "$d" --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -cf - metadata.json box.img \
    | gzip -n >"$out/$box.tmp"
  mv "$out/$box.tmp" "$out/$box"
}
package "$work/disk.img" "vmenv-tiny-$version.box"
package "$work/disk-nossh.img" "vmenv-tiny-nossh-$version.box"
echo "build-tiny: $out/vmenv-tiny-$version.box (kernel $kver)"
