# A libvirtd of its own inside a network namespace of its own, for the tests
# and benchmarks that make libvirt networks (tests/e2e/nat.sh,
# tests/bench/vagrant.sh): whatever network, dnsmasq or guest is made there
# exists only in that namespace, and nothing reaches the host's own network.
#
# Outside (as root):   . tests/lib-netns.sh
#                      [ -n "${VMENV_NETNS:-}" ] || netns_enter_vm_test PREFIX "$0"
#                      (a VM test: its skips, the namespace, the run inside); by hand:
#                      why=$(netns_missing) && [ -z "$why" ] || skip...
#                      netns_make PREFIX || skip...   # the namespace, a folder, the trap
#                      netns_exec bash "$0" ARGS...    # runs it again inside; its status
# Inside (VMENV_NETNS is set): netns_libvirtd_start || bail out...
#                      ... virsh -c qemu:///system is the namespace's daemon ...
#                      netns_libvirtd_stop               # in the script's own cleanup
#
# Inside, /run/libvirt, /etc/libvirt, /var/lib/libvirt, /var/cache/libvirt and
# /var/log/libvirt are temporary folders bound in a private mount namespace
# (unshare -m), /etc/libvirt without the host's networks, pools and domains.
# Whatever happens inside (even a kill), the outer trap ends every process
# started there by its pid file (libvirtd, virtlogd, dnsmasq, QEMU), deletes
# the namespace and removes the folder.

netns_missing() { # prints what is missing to make the namespace, or nothing
    local t
    if [ "$(id -u)" != 0 ]; then echo "root"; return; fi
    for t in ip dnsmasq iptables libvirtd virtlogd unshare; do
        if ! PATH=$PATH:/usr/sbin command -v "$t" >/dev/null; then echo "$t"; return; fi
    done
}

netns_enter_vm_test() { # outside: skips (exit 0) without root, test boxes or tools, else
    # runs SCRIPT again inside a namespace PREFIX-PID and exits with its status
    local prefix=$1 script=$2 missing
    if [ "$(id -u)" != 0 ]; then echo "1..0 # SKIP needs root for a network namespace"; exit 0; fi
    if [ ! -f "${VMENV_TEST_BOXES:-/nonexistent}/catalog.json" ]; then
        echo "1..0 # SKIP no test boxes (VMENV_TEST_BOXES)"; exit 0
    fi
    missing=$(netns_missing)
    if [ -n "$missing" ]; then
        echo "1..0 # SKIP no $missing (apt-get install dnsmasq-base iptables)"; exit 0
    fi
    if ! netns_make "$prefix"; then echo "1..0 # SKIP cannot make a network namespace"; exit 0; fi
    netns_exec bash "$script"
    exit $?
}

netns_outer_cleanup() {
    local f
    for f in "$NETNS_DIR"/libvirtd.pid "$NETNS_DIR"/virtlogd.pid \
        $(find "$NETNS_DIR/run" -name '*.pid' 2>/dev/null); do
        kill -9 "$(cat "$f" 2>/dev/null)" 2>/dev/null
    done
    ip netns del "$NETNS_NAME" 2>/dev/null
    rm -rf "$NETNS_DIR"
}

netns_make() { # netns_make PREFIX: sets NETNS_NAME, NETNS_DIR and the EXIT trap
    NETNS_NAME=$1-$$
    NETNS_DIR=$(mktemp -d "/tmp/$1.XXXXXX") || return 1
    trap netns_outer_cleanup EXIT
    trap 'exit 143' TERM INT
    ip netns add "$NETNS_NAME"
}

netns_exec() { # netns_exec CMD...: CMD in the namespace and a private mount namespace
    VMENV_NETNS=$NETNS_NAME VMENV_NETNS_DIR=$NETNS_DIR \
        ip netns exec "$NETNS_NAME" unshare -m --propagation private "$@"
}

netns_libvirtd_start() { # inside: the private folders, then virtlogd and libvirtd
    local L=$VMENV_NETNS_DIR d
    mkdir -p "$L/run" "$L/etc" "$L/lib" "$L/cache" "$L/log"
    cp -a /etc/libvirt/. "$L/etc/"
    # none of the host's networks, pools or domains
    rm -f "$L"/etc/storage/*.xml "$L"/etc/storage/autostart/*.xml "$L"/etc/qemu/*.xml \
        "$L"/etc/qemu/networks/*.xml "$L"/etc/qemu/networks/autostart/*.xml
    chmod 0755 "$L" "$L"/*
    for d in run:/run/libvirt etc:/etc/libvirt lib:/var/lib/libvirt cache:/var/cache/libvirt \
        log:/var/log/libvirt; do
        mkdir -p "${d#*:}"
        if ! mount --bind "$L/${d%%:*}" "${d#*:}"; then
            echo "cannot bind $L/${d%%:*} on ${d#*:}" >&2
            return 1
        fi
    done
    ip link set lo up
    virtlogd -d -p "$L/virtlogd.pid"
    libvirtd -d -p "$L/libvirtd.pid"
    for _ in $(seq 300); do virsh -c qemu:///system version >/dev/null 2>&1 && return 0; sleep 0.1; done
    echo "the namespace's libvirtd does not answer" >&2
    return 1
}

netns_libvirtd_stop() { # inside: its networks, then the daemons, by pid
    local n f pid
    for n in $(virsh -c qemu:///system net-list --all --name 2>/dev/null); do
        virsh -c qemu:///system net-destroy "$n" >/dev/null 2>&1
    done
    for f in libvirtd virtlogd; do
        pid=$(cat "$VMENV_NETNS_DIR/$f.pid" 2>/dev/null) || continue
        kill "$pid" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null
    done
}
