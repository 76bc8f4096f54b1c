#!/bin/sh
# Not a test: a helper of tests/unit/test-libvirt-system.c. Builds OUT/initrd.img
# for the host kernel KVER: busybox, the virtio-net modules in modprobe's
# order, and, when dropbear is installed and PUBKEY is given, dropbear with a
# 'vagrant' user that accepts PUBKEY. /init puts 10.0.2.15 on eth0 (QEMU's
# user network), mounts the shares tagged vmenv9p (9p) and vmenvvfs
# (virtiofs) at /mnt/9p and /mnt/vfs when the domain has them, starts
# dropbear on port 22 and answers one line on port 2200. The guest sends nothing anywhere: it only answers connections that
# the host forwards into QEMU's user network.
# Usage: libvirt-initramfs.sh OUT KVER [PUBKEY]
set -eu
out=$1; k=$2; pub=${3:-}
d="$out/initramfs"
rm -rf "$d"
mkdir -p "$d/bin" "$d/proc" "$d/sys" "$d/dev" "$d/mods" "$d/etc" "$d/tmp" "$d/var/run"
cp /bin/busybox "$d/bin/busybox"
: > "$d/mods/order"
for f in $(for m in virtio_pci virtio_net virtio_rng 9p 9pnet_virtio virtiofs; do
             modprobe -S "$k" --show-depends $m 2>/dev/null; done |
           awk '$1=="insmod"{print $2}'); do
  b=$(basename "$f"); grep -qx "$b" "$d/mods/order" && continue
  cp "$f" "$d/mods/"; echo "$b" >> "$d/mods/order"
done

ssh=no
if [ -n "$pub" ] && command -v dropbear >/dev/null && command -v dropbearkey >/dev/null; then
  db=$(command -v dropbear)
  mkdir -p "$d/usr/sbin" "$d/etc/dropbear" "$d/home/vagrant/.ssh"
  cp "$db" "$d/usr/sbin/dropbear"
  for l in $(ldd "$db" | awk '$2=="=>" && $3 ~ /^\// {print $3} $1 ~ /^\/.*ld-linux/ {print $1}'); do
    mkdir -p "$d$(dirname "$l")"; cp -L "$l" "$d$l"
  done
  dropbearkey -t ed25519 -f "$d/etc/dropbear/hostkey" >/dev/null 2>&1
  printf 'root:x:0:0::/root:/bin/sh\nvagrant:x:1000:1000::/home/vagrant:/bin/sh\n' > "$d/etc/passwd"
  printf 'root:x:0:\nvagrant:x:1000:\n' > "$d/etc/group"
  printf '/bin/sh\n' > "$d/etc/shells"
  cp "$pub" "$d/home/vagrant/.ssh/authorized_keys"
  # owned by root in the archive (cpio -R, which works unprivileged too):
  # dropbear accepts root-owned files and reads them as the user, so they
  # must be readable by all (but writable by nobody else)
  chmod 755 "$d/home/vagrant" "$d/home/vagrant/.ssh"
  chmod 644 "$d/home/vagrant/.ssh/authorized_keys"
  ssh=yes
fi

cat > "$d/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in $(cat /mods/order); do insmod /mods/$m; done
i=0; while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
ip link set lo up; ip link set eth0 up; ip addr add 10.0.2.15/24 dev eth0
printf '#!/bin/sh\necho vmenv-guest-ok\n' > /hello; chmod +x /hello
ip addr show eth0 | grep -q 10.0.2.15 && echo vmenv-guest-net-up
mkdir -p /mnt/9p /mnt/vfs
# the devices are probed asynchronously (slowly on a loaded host): mount in
# the background for up to 30 s while SSH already starts
( i=0; while [ $i -lt 300 ] && ! grep -qs ' /mnt/9p ' /proc/mounts; do
    mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 vmenv9p /mnt/9p 2>/dev/null &&
      echo vmenv-9p-mounted
    sleep 0.1; i=$((i+1))
  done ) &
( i=0; while [ $i -lt 300 ] && ! grep -qs ' /mnt/vfs ' /proc/mounts; do
    mount -t virtiofs vmenvvfs /mnt/vfs 2>/dev/null && echo vmenv-virtiofs-mounted
    sleep 0.1; i=$((i+1))
  done ) &
[ -x /usr/sbin/dropbear ] && /usr/sbin/dropbear -r /etc/dropbear/hostkey -p 22 -s -E
exec nc -ll -p 2200 -e /hello
EOF
chmod +x "$d/init"
(cd "$d" && find . | cpio -o -H newc -R 0:0 --quiet | gzip -1) > "$out/initrd.img"
rm -rf "$d"
echo "ssh=$ssh"
