# A "remote hypervisor host" for the tests of remote URIs (tests/e2e/remote*.sh,
# tests/bench/remote.sh): a network namespace the test makes, holding its own
# libvirtd and virtlogd (private /run/libvirt, /etc/libvirt, /var/lib/libvirt,
# /var/cache/libvirt, /var/log/libvirt: lib-netns.sh's netns_libvirtd_start in
# a mount namespace of its own) and its own OpenSSH server, root login by a key
# the test makes. The root namespace reaches it only over a veth pair with a
# /30 the test sets up (198.18.0.0/15, the benchmarking range, never routed);
# the guests' forwards bind the namespace's 127.0.0.1, so only a jump through
# its sshd reaches them.
#
# Outside (as root):   . tests/lib-remote.sh
#                      [ -n "${VMENV_REMOTE:-}" ] || remote_enter_vm_test PREFIX "$0"
# That makes the host, then runs the script again in a private mount namespace
# whose /root is a folder of the test (its .ssh holds the client's key and the
# host's known_hosts line, as a user's would), so the system ssh that libvirt's
# qemu+ssh transport runs, and vmenv's libssh, find them the ordinary way and
# nothing of the real /root/.ssh is read or written.
# Inside: REMOTE_ADDR, REMOTE_URI (qemu+ssh://root@ADDR/system),
#         remote_sshd_stop / remote_sshd_start (the host "goes down"),
#         remote_virsh ARGS... (virsh against the namespace's libvirtd).
# The outer trap kills every process started there by its pid file (sshd,
# libvirtd, virtlogd, QEMU), deletes the namespace (and with it the veth pair)
# and removes the folder.
REMOTE_LIB_NETNS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib-netns.sh"
. "$REMOTE_LIB_NETNS"

remote_missing() { # prints what is missing, or nothing
    local t
    t=$(netns_missing)
    if [ -n "$t" ]; then echo "$t"; return; fi
    for t in sshd ssh ssh-keygen virt-ssh-helper; do
        if ! PATH=$PATH:/usr/sbin command -v "$t" >/dev/null; then echo "$t"; return; fi
    done
}

remote_outer_cleanup() {
    local f
    for f in "$NETNS_DIR/sshd/sshd.pid" "$NETNS_DIR/mnt.pid"; do
        [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null
    done
    netns_outer_cleanup
}

remote_enter_vm_test() { # remote_enter_vm_test PREFIX SCRIPT: skips, or runs SCRIPT inside and exits
    local prefix=$1 script=$2 missing n a b v r
    if [ "$(id -u)" != 0 ]; then echo "1..0 # SKIP needs root for a network namespace"; exit 0; fi
    if [ ! -f "${VMENV_TEST_BOXES:-/nonexistent}/catalog.json" ]; then
        echo "1..0 # SKIP no test boxes (VMENV_TEST_BOXES)"; exit 0
    fi
    missing=$(remote_missing)
    if [ -n "$missing" ]; then echo "1..0 # SKIP no $missing"; exit 0; fi
    if ! netns_make "$prefix"; then echo "1..0 # SKIP cannot make a network namespace"; exit 0; fi
    trap remote_outer_cleanup EXIT
    # the /30: 198.18.X.Y, one per pid
    n=$(($$ % 16384))
    a="198.18.$((n / 64)).$((n % 64 * 4 + 1))"
    b="198.18.$((n / 64)).$((n % 64 * 4 + 2))"
    v=vmr$$
    if ! ip link add "${v}a" type veth peer name "${v}b" ||
        ! ip link set "${v}b" netns "$NETNS_NAME" ||
        ! ip addr add "$a/30" dev "${v}a" || ! ip link set "${v}a" up ||
        ! ip -n "$NETNS_NAME" addr add "$b/30" dev "${v}b" ||
        ! ip -n "$NETNS_NAME" link set "${v}b" up || ! ip -n "$NETNS_NAME" link set lo up; then
        echo "1..0 # SKIP cannot set up the veth pair"; exit 0
    fi
    REMOTE_ADDR=$b
    remote_keys || { echo "Bail out! cannot make the keys"; exit 1; }
    if ! remote_host_start; then
        echo "Bail out! the remote host does not start"
        sed 's/^/# /' "$NETNS_DIR"/host.log "$NETNS_DIR"/sshd/sshd.log 2>/dev/null | tail -30
        exit 1
    fi
    VMENV_REMOTE=$NETNS_NAME VMENV_REMOTE_DIR=$NETNS_DIR REMOTE_ADDR=$REMOTE_ADDR \
        unshare -m --propagation private bash -c \
        'mount --bind "$VMENV_REMOTE_DIR/client" /root && exec bash "$0"' "$script"
    r=$?
    exit $r
}

remote_keys() { # the client's key and known_hosts, the server's host key and authorized_keys
    local D=$NETNS_DIR
    mkdir -p "$D/client/.ssh" "$D/sshd" && chmod 0700 "$D/client" "$D/client/.ssh" || return 1
    ssh-keygen -q -t ed25519 -N '' -C vmenv-remote-test -f "$D/client/.ssh/id_ed25519" || return 1
    ssh-keygen -q -t ed25519 -N '' -C remote-host -f "$D/sshd/host_key" || return 1
    cp "$D/client/.ssh/id_ed25519.pub" "$D/sshd/authorized_keys"
    printf '%s %s\n' "$REMOTE_ADDR" "$(cut -d' ' -f1,2 "$D/sshd/host_key.pub")" \
        >"$D/client/.ssh/known_hosts"
    cat >"$D/sshd/sshd_config" <<EOF2
ListenAddress $REMOTE_ADDR
Port 22
HostKey $D/sshd/host_key
AuthorizedKeysFile $D/sshd/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
AllowTcpForwarding yes
StrictModes no
UsePAM no
PidFile $D/sshd/sshd.pid
MaxStartups 100
MaxSessions 100
Subsystem sftp internal-sftp
EOF2
}

# The daemons, in the namespace and a mount namespace of their own; they stay
# after the shell that started them ends, and so do those namespaces.
remote_host_start() {
    VMENV_NETNS=$NETNS_NAME VMENV_NETNS_DIR=$NETNS_DIR \
        ip netns exec "$NETNS_NAME" unshare -m --propagation private bash -c '
        . "$0"
        netns_libvirtd_start || exit 1
        # the namespace of this mount namespace, for remote_virsh and sshd restarts
        echo $$ >"$VMENV_NETNS_DIR/mnt.pid"
        # sshd refuses to start without its privilege separation folder
        # (a container whose /run is fresh has none)
        mkdir -p /run/sshd
        /usr/sbin/sshd -E "$VMENV_NETNS_DIR/sshd/sshd.log" -f "$VMENV_NETNS_DIR/sshd/sshd_config" || exit 1
        # keep the mount namespace reachable by pid
        exec sleep infinity' "$REMOTE_LIB_NETNS" \
        >"$NETNS_DIR/host.log" 2>&1 &
    disown
    local i
    for i in $(seq 300); do
        [ -s "$NETNS_DIR/sshd/sshd.pid" ] && return 0
        sleep 0.1
    done
    return 1
}

# --- inside (VMENV_REMOTE is set)
REMOTE_URI=${REMOTE_ADDR:+qemu+ssh://root@$REMOTE_ADDR/system}

remote_nsenter() { nsenter -t "$(cat "$VMENV_REMOTE_DIR/mnt.pid")" -n -m "$@"; }
remote_virsh() { remote_nsenter virsh -c qemu:///system "$@"; }
remote_sshd_stop() { # the host stops answering: its sshd goes (sessions open stay)
    local pid
    pid=$(cat "$VMENV_REMOTE_DIR/sshd/sshd.pid" 2>/dev/null) || return 0
    kill "$pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -f "$VMENV_REMOTE_DIR/sshd/sshd.pid"
}
remote_sshd_start() {
    remote_nsenter /usr/sbin/sshd -E "$VMENV_REMOTE_DIR/sshd/sshd.log" \
        -f "$VMENV_REMOTE_DIR/sshd/sshd_config"
    for _ in $(seq 100); do [ -s "$VMENV_REMOTE_DIR/sshd/sshd.pid" ] && return 0; sleep 0.1; done
    return 1
}
# Every domain of the remote host goes (the namespace is the test's own).
remote_vm_cleanup() {
    local d
    for d in $(remote_virsh list --all --name 2>/dev/null); do
        remote_virsh destroy "$d" >/dev/null 2>&1
        remote_virsh undefine "$d" >/dev/null 2>&1
    done
}
