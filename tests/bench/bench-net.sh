#!/bin/bash
# The VM's network paths side by side (issue 17 item 1): the host's
# loopback, the guest's user-mode forward ('vm'), its private network
# ('vm-private') and, on a second machine, its NAT network ('vm-nat'), with
# 'vmenv bench --workloads net' on the tiny box. Everything libvirt makes
# (the NAT and the isolated network, their bridges, dnsmasq, the guests)
# lives in a network namespace of this script's own with its own libvirtd
# (tests/lib-netns.sh), and everything started is ended by pid on exit.
#
# Usage: tests/bench/bench-net.sh [BUILD_DIR] [BOXES_DIR]   (as root; BOXES_DIR
# holds catalog.json of the tiny box, default $VMENV_TEST_BOXES).
# BENCH_ARGS (default "--runs 6") is added to each bench; BENCH_OUT=DIR keeps
# user-private.json and nat.json there.
set -uo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$src/build}" && pwd) || exit 1
boxes=$(cd "${2:-${VMENV_TEST_BOXES:-/nonexistent}}" && pwd) || exit 1
VMENV=$build/src/cli/vmenv
. "$src/tests/lib-netns.sh"

if [ -z "${VMENV_NETNS:-}" ]; then
    [ -x "$VMENV" ] || { echo "no $VMENV: build first" >&2; exit 1; }
    [ -f "$boxes/catalog.json" ] || { echo "no $boxes/catalog.json (BOXES_DIR)" >&2; exit 1; }
    missing=$(netns_missing)
    [ -z "$missing" ] || { echo "cannot make a network namespace: no $missing" >&2; exit 1; }
    netns_make vmenv-bench-net || { echo "cannot make a network namespace" >&2; exit 1; }
    netns_exec bash "$0" "$build" "$boxes"
    exit $?
fi

# --- inside the network and mount namespaces
netns_libvirtd_start || exit 1
tmp=$(mktemp -d /tmp/vmenv-bench-net.XXXXXX)
chmod 755 "$tmp"
export VMENV_HOME=$tmp/home VMENV_LIBVIRT_URI=qemu:///system
export VMENV_POOL=vmenv-bench-net-$$ VMENV_POOL_PATH=$tmp/pool
export VMENV_PROBE=$build/src/probe/vmenv-probe
cleanup() {
    local p
    for p in "$tmp/user-private" "$tmp/nat"; do
        [ -f "$p/vmenv.yaml" ] && "$VMENV" -C "$p" destroy -f >/dev/null 2>&1
    done
    virsh -c qemu:///system pool-destroy "$VMENV_POOL" >/dev/null 2>&1
    virsh -c qemu:///system pool-undefine "$VMENV_POOL" >/dev/null 2>&1
    netns_libvirtd_stop
    rm -rf "$tmp"
}
trap cleanup EXIT

project() { # project NAME NETWORK-LINES
    mkdir -p "$tmp/$1"
    printf 'box: vmenv/tiny\nbox_url: file://%s/catalog.json\nmemory: 256M\nboot_timeout: 300\n%s\n' \
        "$boxes" "$2" >"$tmp/$1/vmenv.yaml"
}
project user-private "networks:
  - { type: private, ip: 192.168.82.10 }"
project nat "network: nat"

rc=0
for p in user-private nat; do
    echo "== $p: vmenv bench --workloads net --only host,vm ${BENCH_ARGS:---runs 6}"
    # shellcheck disable=SC2086
    if ! "$VMENV" -C "$tmp/$p" bench --workloads net --only host,vm --idle 1 --json \
        ${BENCH_ARGS:---runs 6} >"$tmp/$p.json"; then
        rc=1
        continue
    fi
    [ -n "${BENCH_OUT:-}" ] && cp "$tmp/$p.json" "$BENCH_OUT/$p.json"
    python3 - "$tmp/$p.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print("  host:", ", ".join(d["host"][k] for k in ("cpu", "kvm", "loadavg", "date")))
for t in d["targets"]:
    f = t["figures"]
    if not any(k.startswith("net-") for k in f):
        continue
    cells = []
    for k in ("net-rr", "net-rr-p99", "net-bulk", "net-bulk4"):
        x = f.get(k)
        if not x:
            continue
        c = "%s %.4g %s" % (k, x["median"], x["unit"])
        if x.get("ci_ok"):
            c += " ±%.0f%%" % (100 * x["ci_rel"])
        if x.get("ratio_to_host"):
            c += " (%.2fx)" % x["ratio_to_host"]
        cells.append(c)
    print("  %-28s %s" % (t["label"], "; ".join(cells)))
PY
    "$VMENV" -C "$tmp/$p" destroy -f >/dev/null 2>&1
done
exit $rc
