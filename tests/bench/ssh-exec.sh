#!/bin/bash
# Cost of one SSH command: connect + key exchange + public-key login + exec
# 'true' + exit status, through the SSH module (tests/test-ssh --exec, the
# same calls 'vmenv ssh -c true' makes) next to OpenSSH's
# 'ssh -i KEY -p PORT root@127.0.0.1 true' against the same sshd on
# 127.0.0.1, RUNS runs each, interleaved. Prints both medians and the ratio
# (target <= 1.5). Usage: tests/bench/ssh-exec.sh [BUILD_DIR] (default
# build-ssh); BENCH_RUNS overrides the 20 runs.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$src/build-ssh}
export VMENV_SRCDIR="$src"
. "$src/tests/lib.sh"
. "$src/tests/integration/sshd-lib.sh"
DRIVER=$build/tests/test-ssh
RUNS=${BENCH_RUNS:-20}
[ -x "$DRIVER" ] || { echo "no $DRIVER: build it first (ninja -C $build)" >&2; exit 1; }

start_sshd "$T_TMP/sshd" >/dev/null
# shellcheck disable=SC2046
ssh_cmd() { ssh $(sshd_ssh_opts "$SSHD_KEY") root@127.0.0.1 true; }
vmenv_cmd() { "$DRIVER" --exec "$SSHD_PORT" "$SSHD_KEY" true; }
ms() { # ms CMD: wall time in milliseconds
    local t0 t1
    t0=$(date +%s%N); "$@" >/dev/null; t1=$(date +%s%N)
    echo $(((t1 - t0) / 1000)) | awk '{ printf "%.1f\n", $1 / 1000 }'
}
median() { sort -n | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.1f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

vmenv_cmd && ssh_cmd # warm caches, and fail early if a login does not work
: >"$T_TMP/ssh" >"$T_TMP/vmenv"
for _ in $(seq "$RUNS"); do
    ms vmenv_cmd >>"$T_TMP/vmenv"
    ms ssh_cmd >>"$T_TMP/ssh"
done
v=$(median <"$T_TMP/vmenv")
o=$(median <"$T_TMP/ssh")
echo "# sshd on 127.0.0.1:$SSHD_PORT, ed25519 key, $RUNS runs each (interleaved)"
echo "ssh module (connect+auth+exec true): median ${v} ms"
echo "OpenSSH ssh ... true:                 median ${o} ms"
echo "ratio: $(echo "$v / $o" | bc -l | awk '{ printf "%.2f", $1 }') (target <= 1.5)"
