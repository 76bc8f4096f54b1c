#!/bin/bash
# Remote hypervisor costs, against the "remote host" of tests/lib-remote.sh
# (a network namespace with its own libvirtd and sshd, over a veth pair):
# - the box image's upload into the remote pool at the first 'vmenv up' (a
#   libvirt stream over qemu+ssh://) against 'scp' of the same file to that
#   host: the throughput ratio upload/scp (target >= 0.8);
# - 'vmenv ssh -c true' through the jump (libvirt's state check, then libssh
#   in a direct-tcpip channel) against OpenSSH's 'ssh -J root@HOST ... true'
#   to the same guest: the ratio of the medians (target <= 1.5).
# One run of each comparison (RUNS interleaved runs for the ssh one); prints
# figures and ratios and asserts no time. Usage, as root:
#   VMENV_TEST_BOXES=... tests/bench/remote.sh [BUILD_DIR]   (default build)
# BENCH_RUNS overrides the 10 runs.
set -uo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$src/build}
export VMENV_SRCDIR="$src" VMENV=${VMENV:-$build/src/cli/vmenv}
[ -x "$VMENV" ] || { echo "no $VMENV: build it first" >&2; exit 1; }
. "$src/tests/lib-remote.sh"
[ -n "${VMENV_REMOTE:-}" ] || remote_enter_vm_test vmenv-rbench "$0"

. "$src/tests/e2e/lib-vm.sh"
on_exit remote_vm_cleanup
export VMENV_LIBVIRT_URI=$REMOTE_URI
RUNS=${BENCH_RUNS:-10}
ms() { # ms CMD...: wall time in milliseconds
    local t0 t1
    t0=$(date +%s%N); "$@" >/dev/null 2>&1; t1=$(date +%s%N)
    awk -v d=$((t1 - t0)) 'BEGIN { printf "%.1f\n", d / 1e6 }'
}
median() { sort -n | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.1f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

P=$T_TMP/proj
new_project "$P" "box: vmenv/tiny
box_url: $CATALOG
memory: 192M
boot_timeout: 400"
if ! "$VMENV" -v -C "$P" up 2>"$T_TMP/up.log" >/dev/null; then
    echo "up failed:"; tail -20 "$T_TMP/up.log"; exit 1
fi
line=$(grep -o 'uploaded [0-9]* bytes in [0-9.]* s' "$T_TMP/up.log" | head -1)
bytes=$(awk '{ print $2 }' <<<"$line")
up_s=$(awk '{ print $5 }' <<<"$line")
img=$(find "$VMENV_HOME/boxes" -name 'box.img' | head -1)
t0=$(date +%s%N)
scp -q -o BatchMode=yes "$img" "root@$REMOTE_ADDR:$VMENV_REMOTE_DIR/scp-copy.img"
t1=$(date +%s%N)
scp_s=$(awk -v d=$((t1 - t0)) 'BEGIN { printf "%.3f\n", d / 1e9 }')
echo "# remote host $REMOTE_ADDR; box image $(basename "$(dirname "$(dirname "$img")")") $bytes bytes"
echo "upload by libvirt stream (qemu+ssh): ${up_s} s"
echo "scp of the same file:                ${scp_s} s"
echo "throughput ratio upload/scp: $(awk -v a="$up_s" -v b="$scp_s" 'BEGIN { printf "%.2f", b / a }') (target >= 0.8)"

port=$("$VMENV" -C "$P" port --json | python3 -c 'import json,sys; print([p["host"] for p in json.load(sys.stdin) if p["ssh"]][0])')
key=$P/.vmenv/machines/default/private_key
kh=$P/.vmenv/machines/default/known_hosts
vmenv_cmd() { "$VMENV" -C "$P" ssh -c true; }
ssh_cmd() {
    ssh -F /dev/null -o BatchMode=yes -o IdentitiesOnly=yes -o "UserKnownHostsFile=$kh" \
        -o StrictHostKeyChecking=yes -i "$key" -J "root@$REMOTE_ADDR" -p "$port" \
        vagrant@127.0.0.1 true
}
vmenv_cmd && ssh_cmd || { echo "a login through the jump failed"; exit 1; }
: >"$T_TMP/v"; : >"$T_TMP/o"
for _ in $(seq "$RUNS"); do
    ms vmenv_cmd >>"$T_TMP/v"
    ms ssh_cmd >>"$T_TMP/o"
done
v=$(median <"$T_TMP/v"); o=$(median <"$T_TMP/o")
echo "vmenv ssh -c true (through the jump): median ${v} ms ($RUNS runs)"
echo "ssh -J root@HOST ... true:            median ${o} ms"
echo "ratio: $(awk -v a="$v" -v b="$o" 'BEGIN { printf "%.2f", a / b }') (target <= 1.5)"
"$VMENV" -C "$P" destroy -f >/dev/null 2>&1
exit 0
