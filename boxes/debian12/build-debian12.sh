#!/bin/bash
# Builds vmenv/debian12 and its two variants into $1 (called by boxes/build)
# from ONE debootstrap of Debian 12 (bookworm): minbase with systemd, udev,
# dbus, libpam-systemd, OpenSSH (host keys generated at build time), sudo,
# Debian's kernel booted by extlinux, a serial console on ttyS0, and the
# Vagrant conventions (user vagrant, the insecure key, passwordless sudo).
# The variants differ in a few files only:
#   vmenv-debian12-V.box           ifupdown + isc-dhcp-client: DHCP on eth0
#   vmenv-debian12-nonl-V.box      the same, authorized_keys without a final newline
#   vmenv-debian12-networkd-V.box  systemd-networkd DHCP + resolved, no ifupdown
#   cloud-mirror/bookworm/latest/debian-12-genericcloud-amd64.qcow2 + SHA512SUMS
#       the networkd tree with cloud-init and no Vagrant conventions (no user
#       vagrant, no host keys), laid out like Debian's cloud image folder so a
#       loopback HTTP server can stand in for cloud.debian.org (issue 15)
# Needs the Debian mirror (about 150 MB of packages); a few minutes.
#
# Mirror: $VMENV_DEBIAN_MIRROR, else the first bookworm URI in apt's sources.
set -euo pipefail
out=$1
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../loop.sh"
version=${VMENV_BOX_VERSION:-1.0.0}
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export LC_ALL=C DEBIAN_FRONTEND=noninteractive

disk_gib=8
part_start=2048
fs_uuid=3d1f0b7e-5c2a-4e8b-9f61-7a2b3c4d5e6f
mbr=/usr/lib/syslinux/mbr/mbr.bin
suite=bookworm

for p in debootstrap extlinux mkfs.ext4 sfdisk losetup qemu-img gzip depmod; do
  command -v "$p" >/dev/null || { echo "build-debian12: '$p' not found (run scripts/install-deps)" >&2; exit 1; }
done
vagrant_pub=$(ls /usr/share/rubygems-integration/all/gems/vagrant-*/keys/vagrant.pub 2>/dev/null | sort -V | tail -1)
[ -n "$vagrant_pub" ] || { echo "build-debian12: the Vagrant insecure key is missing (apt-get install vagrant)" >&2; exit 1; }

mirror=${VMENV_DEBIAN_MIRROR:-}
if [ -z "$mirror" ]; then
  mirror=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '
    /^URIs:/ { uri = $2 } /^Suites:/ && / bookworm( |$)/ && uri != "" { print uri; exit }')
fi
if [ -z "$mirror" ]; then
  mirror=$(awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }' /etc/apt/sources.list 2>/dev/null || true)
fi
mirror=${mirror:-http://deb.debian.org/debian}
security=${VMENV_DEBIAN_SECURITY_MIRROR:-${mirror%/debian}/debian-security}

work=${VMENV_DEBIAN12_WORK:-$(mktemp -d /var/tmp/vmenv-debian12.XXXXXX)}
mkdir -p "$work"
r=$work/root
loopdev=
cleanup() {
  local m
  for m in "$r/dev/pts" "$r/dev" "$r/proc" "$r/sys" "$work/mnt"; do
    if mountpoint -q "$m" 2>/dev/null; then umount -l "$m" || true; fi
  done
  if [ -n "$loopdev" ]; then losetup -d "$loopdev" || true; fi
  [ -n "${VMENV_DEBIAN12_KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

echo "build-debian12: debootstrap $suite from $mirror into $r"
include=systemd,systemd-sysv,systemd-resolved,udev,dbus,libpam-systemd,openssh-server,sudo
include=$include,linux-image-amd64,initramfs-tools,ifupdown,isc-dhcp-client,ca-certificates
include=$include,rsync,iproute2,procps,kmod,netbase,less,nano
rm -rf "$r"
# Twice at most: a download cut off half-way by a busy mirror is common.
debootstrap --variant=minbase --include="$include" "$suite" "$r" "$mirror" ||
  { echo "build-debian12: debootstrap failed; once more" >&2; rm -rf "$r";
    debootstrap --variant=minbase --include="$include" "$suite" "$r" "$mirror"; }

in_root() { chroot "$r" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C DEBIAN_FRONTEND=noninteractive "$@"; }

cat >"$r/etc/apt/sources.list" <<SOURCES
deb $mirror $suite main
deb $mirror $suite-updates main
deb $security $suite-security main
SOURCES
echo vmenv-debian12 >"$r/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tvmenv-debian12\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$r/etc/hosts"
printf 'UUID=%s\t/\text4\terrors=remount-ro\t0\t1\n' "$fs_uuid" >"$r/etc/fstab"
in_root systemctl enable ssh serial-getty@ttyS0.service

# Small: no documentation, manual pages or translations now or from later
# installs; no drivers for hardware a VM never has.
cat >"$r/etc/dpkg/dpkg.cfg.d/vmenv-nodoc" <<'NODOC'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
NODOC
find "$r/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
rm -rf "$r"/usr/share/man/* "$r"/usr/share/info/*
find "$r/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
kver=$(ls "$r/boot" | sed -n 's/^vmlinuz-//p' | sort -V | tail -1)
[ -n "$kver" ] && [ -f "$r/boot/initrd.img-$kver" ] || { echo "build-debian12: no kernel/initrd in the image" >&2; exit 1; }
k=$r/lib/modules/$kver/kernel
rm -rf "$k/sound" "$k/drivers/media" "$k/drivers/net/wireless" "$k/drivers/infiniband" \
  "$k/drivers/staging" "$k/drivers/bluetooth" "$k/net/bluetooth" "$k/net/wireless" \
  "$k/net/mac80211" "$k/drivers/isdn" "$k/drivers/gpu/drm/amd" "$k/drivers/gpu/drm/nouveau" \
  "$k/drivers/gpu/drm/i915" "$k/drivers/gpu/drm/radeon" "$k/drivers/net/ethernet/mellanox" \
  "$k/drivers/scsi/lpfc" "$k/drivers/scsi/qla2xxx" "$k/drivers/iio"
depmod -b "$r" "$kver"

# OpenSSH: host keys now (generating them on first boot under TCG is slow),
# keys only, no reverse DNS.
rm -f "$r"/etc/ssh/ssh_host_*
in_root ssh-keygen -A
cat >"$r/etc/ssh/sshd_config.d/vmenv.conf" <<'SSHD'
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
SSHD

# Vagrant conventions.
in_root useradd -m -u 1000 -U -s /bin/bash -c vagrant vagrant
in_root usermod -p '*' vagrant
install -d -m 0700 -o 1000 -g 1000 "$r/home/vagrant/.ssh"
install -m 0600 -o 1000 -g 1000 "$vagrant_pub" "$r/home/vagrant/.ssh/authorized_keys"
echo 'vagrant ALL=(ALL) NOPASSWD: ALL' >"$r/etc/sudoers.d/vagrant"
chmod 0440 "$r/etc/sudoers.d/vagrant"

# Each VM gets its own machine-id on first boot; no caches in the image.
: >"$r/etc/machine-id"
rm -f "$r/var/lib/dbus/machine-id"
in_root apt-get clean
rm -rf "$r"/var/lib/apt/lists/* "$r"/var/cache/apt/*.bin "$r"/var/log/*.log "$r"/tmp/* "$r"/var/tmp/*

mkdir -p "$r/boot/extlinux"
cat >"$r/boot/extlinux/extlinux.conf" <<EXT
DEFAULT debian
PROMPT 0
TIMEOUT 0
SERIAL 0 115200
LABEL debian
  LINUX /boot/vmlinuz-$kver
  INITRD /boot/initrd.img-$kver
  APPEND root=UUID=$fs_uuid ro console=tty0 console=ttyS0,115200 net.ifnames=0
EXT

# disk: $work/disk.img, a raw disk of the tree as it is now: MBR + one
# bootable ext4 partition, extlinux (as for the tiny box).
disk() {
  local m part_bytes
  for m in "$r/dev/pts" "$r/dev" "$r/proc" "$r/sys"; do
    if mountpoint -q "$m"; then umount -l "$m"; fi
  done
  part_bytes=$(( (disk_gib << 30) - part_start * 512 ))
  rm -f "$work/part.img" "$work/disk.img"
  truncate -s "$part_bytes" "$work/part.img"
  mkfs.ext4 -q -F -L vmenv-root -U "$fs_uuid" -E root_owner=0:0 -O ^64bit,^metadata_csum \
    -d "$r" "$work/part.img"
  truncate -s "${disk_gib}G" "$work/disk.img"
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
}

# image NAME: the box OUTDIR/vmenv-NAME-VERSION.box from the tree as it is now.
image() {
  local name=$1 d box
  disk
  d=$work/pkg
  rm -rf "$d"; mkdir -p "$d"
  qemu-img convert -f raw -O qcow2 "$work/disk.img" "$d/box.img"
  rm -f "$work/disk.img"
  printf '{"provider":"libvirt","format":"qcow2","virtual_size":%d}\n' "$disk_gib" >"$d/metadata.json"
  box=vmenv-$name-$version.box
  tar -C "$d" --sort=name --owner=0 --group=0 --numeric-owner -cf - metadata.json box.img | gzip -n >"$out/$box.tmp"
  mv "$out/$box.tmp" "$out/$box"
  rm -rf "$d"
  echo "build-debian12: $out/$box (kernel $kver, $(du -m "$out/$box" | cut -f1) MiB)"
}

# vmenv/debian12: ifupdown brings eth0 up by DHCP (isc-dhcp-client writes
# /etc/resolv.conf), as a classic Debian install does; networkd and resolved
# stay off.
cat >"$r/etc/network/interfaces" <<'IFACES'
source /etc/network/interfaces.d/*

auto lo
iface lo inet loopback
IFACES
cat >"$r/etc/network/interfaces.d/eth0" <<'ETH0'
allow-hotplug eth0
iface eth0 inet dhcp
ETH0
in_root systemctl disable systemd-networkd.service systemd-networkd.socket \
  systemd-networkd-wait-online.service systemd-resolved.service 2>/dev/null || true
in_root systemctl enable networking.service
rm -f "$r/etc/resolv.conf"
: >"$r/etc/resolv.conf"
image debian12

# vmenv/debian12-nonl: authorized_keys without its final newline, as some
# box builders leave it (appending a key must not glue it to the last one).
printf '%s' "$(cat "$vagrant_pub")" >"$r/home/vagrant/.ssh/authorized_keys"
image debian12-nonl
install -m 0600 -o 1000 -g 1000 "$vagrant_pub" "$r/home/vagrant/.ssh/authorized_keys"

# vmenv/debian12-networkd: cloud-style, systemd-networkd DHCP on the first
# NIC by either naming scheme and resolved's stub resolver; no ifupdown.
in_root systemctl disable networking.service 2>/dev/null || true
in_root dpkg --purge ifupdown isc-dhcp-client isc-dhcp-common
rm -rf "$r/etc/network/interfaces.d" "$r/etc/network/interfaces"
mkdir -p "$r/etc/systemd/network"
cat >"$r/etc/systemd/network/20-vmenv-dhcp.network" <<'NET'
[Match]
Name=en* eth*

[Network]
DHCP=yes

[DHCPv4]
UseDomains=yes
NET
mkdir -p "$r/etc/systemd/system/systemd-networkd-wait-online.service.d"
cat >"$r/etc/systemd/system/systemd-networkd-wait-online.service.d/vmenv.conf" <<'WAIT'
[Service]
ExecStart=
ExecStart=/lib/systemd/systemd-networkd-wait-online --any --timeout=30
WAIT
in_root systemctl enable systemd-networkd.service systemd-networkd-wait-online.service \
  systemd-resolved.service
ln -sf /run/systemd/resolve/stub-resolv.conf "$r/etc/resolv.conf"
rm -rf "$r"/var/log/*.log "$r"/tmp/*
image debian12-networkd

# debian-12-genericcloud: what Debian's own cloud image is, from the networkd
# tree: cloud-init (NoCloud seed: user, key, hostname, network, growpart) and
# cloud-guest-utils, no user vagrant, no insecure key and no host keys (the
# ssh module of cloud-init makes them on first boot, so no two machines share
# them). Laid out as cloud.debian.org/images/cloud/bookworm/latest/.
cp -L /etc/resolv.conf "$work/resolv.conf"
rm -f "$r/etc/resolv.conf"
cp "$work/resolv.conf" "$r/etc/resolv.conf"
mount -t proc proc "$r/proc"
mount -t sysfs sys "$r/sys"
printf '#!/bin/sh\nexit 101\n' >"$r/usr/sbin/policy-rc.d"
chmod 0755 "$r/usr/sbin/policy-rc.d"
in_root apt-get update -q ||
  { echo "build-debian12: apt-get update failed; once more" >&2; sleep 5; in_root apt-get update -q; }
in_root apt-get install -y -q --no-install-recommends cloud-init cloud-guest-utils
rm -f "$r/usr/sbin/policy-rc.d"
# cloud-init's locale module sets en_US.UTF-8, as on Debian's own image, and
# reports an error when that locale was never generated.
echo 'en_US.UTF-8 UTF-8' >"$r/etc/locale.gen"
in_root locale-gen
in_root userdel -r vagrant 2>/dev/null || in_root userdel vagrant
rm -rf "$r/home/vagrant" "$r/etc/sudoers.d/vagrant"
rm -f "$r"/etc/ssh/ssh_host_*
# cloud-init's datasources: NoCloud (the seed vmenv attaches) first, so the
# first boot does not spend minutes probing for cloud metadata servers.
cat >"$r/etc/cloud/cloud.cfg.d/90-vmenv-datasources.cfg" <<'CLOUD'
datasource_list: [ NoCloud, ConfigDrive, None ]
CLOUD
in_root apt-get clean
rm -rf "$r"/var/lib/apt/lists/* "$r"/var/cache/apt/*.bin "$r"/var/lib/cloud/* "$r"/var/log/*.log \
  "$r"/var/log/cloud-init* "$r"/tmp/*
: >"$r/etc/machine-id"
ln -sf /run/systemd/resolve/stub-resolv.conf "$r/etc/resolv.conf"
disk
cloud=$out/cloud-mirror/bookworm/latest
mkdir -p "$cloud"
qemu-img convert -f raw -O qcow2 "$work/disk.img" "$cloud/debian-12-genericcloud-amd64.qcow2.tmp"
rm -f "$work/disk.img"
mv "$cloud/debian-12-genericcloud-amd64.qcow2.tmp" "$cloud/debian-12-genericcloud-amd64.qcow2"
(cd "$cloud" && sha512sum debian-12-genericcloud-amd64.qcow2 >SHA512SUMS)
echo "build-debian12: $cloud/debian-12-genericcloud-amd64.qcow2 ($(du -m "$cloud/debian-12-genericcloud-amd64.qcow2" | cut -f1) MiB)"
