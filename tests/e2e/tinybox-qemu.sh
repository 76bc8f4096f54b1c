#!/bin/bash
# Boots the tiny box built by boxes/build with plain QEMU (no libvirt; KVM
# when vmenv's KVM check says it runs guests here, else TCG):
# the box and catalog are well formed, the guest reaches SSH with the Vagrant
# insecure key, sudo/hostname/root fs/rsync are as documented, the ACPI power
# button (QEMU's system_powerdown, what 'virsh shutdown' sends) powers it off,
# and the nossh variant prints its console marker but never opens SSH. Like
# vmenv's domains it has a virtio RNG: without one, dropbear waits ~2 s more
# under TCG for the kernel's random pool.
. "$VMENV_SRCDIR/tests/lib.sh"

B=${VMENV_TEST_BOXES:-}
VERSION=1.0.0
if [ -z "$B" ] || [ ! -f "$B/vmenv-tiny-$VERSION.box" ]; then
    echo "1..0 # SKIP no test boxes (VMENV_TEST_BOXES)"; exit 0
fi
for tool in qemu-system-x86_64 qemu-img ssh python3; do
    command -v "$tool" >/dev/null || { echo "1..0 # SKIP $tool is missing"; exit 0; }
done
KEY_SRC=$(ls /usr/share/rubygems-integration/all/gems/vagrant-*/keys/vagrant 2>/dev/null | sort -V | tail -1)
if [ -z "$KEY_SRC" ]; then
    echo "1..0 # SKIP the Vagrant insecure key is missing (package vagrant)"; exit 0
fi
KEY=$T_TMP/insecure-key
install -m 0600 "$KEY_SRC" "$KEY"
# shellcheck disable=SC2207 # two words: -accel X [-cpu host]
ACCEL=($(t_qemu_accel))
echo "# accelerator: ${ACCEL[*]}"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }
elapsed() { python3 -c "import sys; print('%.1f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$1" "$2"; }

# --- the package and its catalog
check_catalog() { # check_catalog CATALOG NAME BOX
    python3 - "$B/$1" "$2" "$3" <<'PY'
import hashlib, json, sys
path, name, box = sys.argv[1:]
c = json.load(open(path))
p = c["versions"][0]["providers"][0]
digest = hashlib.sha256(open(path.rsplit("/", 1)[0] + "/" + box, "rb").read()).hexdigest()
assert c["name"] == name, c["name"]
assert c["versions"][0]["version"] == "1.0.0"
assert p == {"name": "libvirt", "url": box, "checksum_type": "sha256",
             "checksum": digest, "architecture": "amd64"}, p
PY
}
check "catalog.json names vmenv/tiny, a relative URL and the box's sha256" -- \
    check_catalog catalog.json vmenv/tiny "vmenv-tiny-$VERSION.box"
check "catalog-tiny-nossh.json describes the nossh variant" -- \
    check_catalog catalog-tiny-nossh.json vmenv/tiny-nossh "vmenv-tiny-nossh-$VERSION.box"

unpack() { # unpack BOX DIR
    mkdir -p "$2" && tar -xzf "$B/$1" -C "$2"
}
unpack "vmenv-tiny-$VERSION.box" "$T_TMP/tiny"
expect_eq "the box holds metadata.json and box.img" "box.img metadata.json" \
    "$(cd "$T_TMP/tiny" && ls | sort | tr '\n' ' ' | sed 's/ $//')"
expect_eq "metadata.json is libvirt/qcow2/1 GiB" '{"format": "qcow2", "provider": "libvirt", "virtual_size": 1}' \
    "$(python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1])), sort_keys=True))' "$T_TMP/tiny/metadata.json")"
expect_eq "box.img is a 1 GiB qcow2" "qcow2 1073741824" \
    "$(qemu-img info --output=json "$T_TMP/tiny/box.img" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["format"], d["virtual-size"])')"

# --- boot
QEMU_PID=
boot() { # boot BOXDIR NAME: overlay + QEMU in the background; sets QEMU_PID, PORT, CONSOLE, MON
    local dir=$1 name=$2
    qemu-img create -q -f qcow2 -F qcow2 -b "$dir/box.img" "$T_TMP/$name.qcow2" || return 1
    PORT=$(free_port)
    CONSOLE=$T_TMP/$name-console.log
    MON=$T_TMP/$name.mon
    qemu-system-x86_64 -machine q35 "${ACCEL[@]}" -m 256 -nographic \
        -drive "file=$T_TMP/$name.qcow2,if=none,id=d0,format=qcow2" \
        -device virtio-blk-pci,drive=d0,bus=pcie.0,addr=0x4 \
        -netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$PORT-:22" \
        -device virtio-net-pci,netdev=n0,bus=pcie.0,addr=0x3 \
        -device virtio-rng-pci,bus=pcie.0,addr=0x5 \
        -monitor "unix:$MON,server,nowait" </dev/null >"$CONSOLE" 2>&1 &
    QEMU_PID=$!
    on_exit "kill $QEMU_PID 2>/dev/null"
}
monitor() { # monitor COMMAND: one HMP command on QEMU's monitor socket
    python3 - "$MON" "$1" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
time.sleep(0.3)
s.close()
PY
}
gssh() {
    ssh -q -i "$KEY" -p "$PORT" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
        -o ConnectTimeout=5 -o BatchMode=yes -o LogLevel=ERROR vagrant@127.0.0.1 "$@" </dev/null
}
wait_exit() { # wait_exit SECONDS: 0 when QEMU_PID exited in time
    local i
    for ((i = 0; i < $1 * 5; i++)); do
        kill -0 "$QEMU_PID" 2>/dev/null || { wait "$QEMU_PID" 2>/dev/null; return 0; }
        sleep 0.2
    done
    return 1
}
powerdown() { # powerdown LABEL: ACPI power button, QEMU must exit by itself
    local t0 t1
    t0=$(now)
    monitor system_powerdown
    if wait_exit 60; then
        t1=$(now)
        ok 0 "$1 powers off on the ACPI power button"
        echo "# $1: power button to QEMU exit: $(elapsed "$t0" "$t1") s"
    else
        ok 1 "$1 powers off on the ACPI power button"
        kill "$QEMU_PID" 2>/dev/null; wait "$QEMU_PID" 2>/dev/null
        tail -5 "$CONSOLE" | sed 's/^/#   /'
    fi
}

boot "$T_TMP/tiny" tiny
t0=$(now)
up=1
for ((i = 0; i < 180; i++)); do
    kill -0 "$QEMU_PID" 2>/dev/null || break
    if gssh true 2>/dev/null; then up=0; break; fi
    sleep 0.5
done
t1=$(now)
ok $up "the tiny box accepts SSH as vagrant with the insecure key"
if [ $up -eq 0 ]; then
    echo "# boot to SSH (QEMU start to first successful 'ssh true', TCG): $(elapsed "$t0" "$t1") s"
    echo "# guest's own $(grep -o 'ssh is up (uptime [0-9.]* s)' "$CONSOLE")"
    expect_eq "sudo id -u prints 0" 0 "$(gssh sudo id -u)"
    expect_eq "sudo -n, sudo -u root and sudo -E work" "0 0 0" "$(gssh 'echo $(sudo -n id -u) $(sudo -u root id -u) $(sudo -E id -u)')"
    expect_eq "sudo sh -c runs a shell command as root" "root:1" "$(gssh "sudo sh -c 'echo 1 >/root/f && echo \$(id -un):\$(cat /root/f)'")"
    expect_eq "sudo -i starts root's login shell in /root" "/root" "$(gssh sudo -i pwd)"
    expect_eq "sudo -u vagrant switches to uid 1000" 1000 "$(gssh sudo -u vagrant id -u)"
    expect_eq "sudo passes VAR=value to the command" "bar" "$(gssh 'sudo FOO=bar sh -c "echo \$FOO"')"
    expect_eq "hostname is vmenv-tiny" vmenv-tiny "$(gssh hostname)"
    expect_eq "the user is vagrant, uid 1000, home /home/vagrant" "vagrant 1000 /home/vagrant" \
        "$(gssh 'echo $(id -un) $(id -u) $HOME')"
    check "/dev/vda1 is the root file system, mounted rw" -- \
        gssh "grep -q '^/dev/vda1 / ext4 rw' /proc/mounts"
    check "rsync is installed" -- gssh 'rsync --version'
    check "/etc/os-release names the box" -- gssh 'grep -q "^ID=vmenv-tiny$" /etc/os-release'
    check "/tmp is writable" -- gssh 'echo x >/tmp/x && rm /tmp/x'
    check "the 9p and virtiofs modules are loaded for shared folders" -- \
        gssh 'grep -q "^9pnet_virtio " /proc/modules && grep -q "^virtiofs " /proc/modules'
    check "the network has a default route (DHCP or the static fallback)" -- \
        gssh 'ip route | grep -q "^default via 10.0.2.2"'
    check "an sftp server answers (scp, sftp)" -- \
        sftp -q -i "$KEY" -P "$PORT" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
            -o BatchMode=yes -o LogLevel=ERROR -b <(echo 'ls /') vagrant@127.0.0.1
    check "the console says when SSH is up" -- grep -q 'vmenv-tiny: ssh is up' "$CONSOLE"
    check "dropbear logs the login to syslog (logread)" -- gssh 'logread | grep -q "auth succeeded for .vagrant"'
    powerdown "the tiny box"
else
    tail -20 "$CONSOLE" | sed 's/^/#   /'
    kill "$QEMU_PID" 2>/dev/null; wait "$QEMU_PID" 2>/dev/null
fi

# --- the nossh variant: console marker, but SSH never answers
unpack "vmenv-tiny-nossh-$VERSION.box" "$T_TMP/nossh"
boot "$T_TMP/nossh" nossh
t0=$(now)
marker=1
for ((i = 0; i < 300; i++)); do
    if grep -q 'vmenv-tiny: ssh disabled' "$CONSOLE"; then marker=0; break; fi
    kill -0 "$QEMU_PID" 2>/dev/null || break
    sleep 0.2
done
ok $marker "the nossh variant prints its console marker"
opened=0
while [ "$(elapsed "$t0" "$(now)" | cut -d. -f1)" -lt 30 ]; do
    if gssh true 2>/dev/null; then opened=1; break; fi
    sleep 1
done
expect_eq "the nossh variant never opens SSH in 30 s" 0 "$opened"
if [ $marker -eq 0 ]; then
    powerdown "the nossh variant"
else
    kill "$QEMU_PID" 2>/dev/null; wait "$QEMU_PID" 2>/dev/null
fi

done_testing
