#!/bin/bash
# Throughput of 'vmenv box add' of a 1 GiB box (uncompressed tar, qcow2 with
# random data) from a local HTTP server, next to 'curl -o' of the same URL in
# the same run. Prints both rates in MB/s and the ratio (target >= 0.8).
# Both compete for 2 cores with whatever else runs: compare runs made on a
# quiet machine (/proc/pressure/cpu), and see docs/boxes.md "Throughput".
# Usage: tests/bench/box-add.sh [BUILD_DIR]  (default build-boxes)
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$src/build-boxes}
export VMENV="$build/src/cli/vmenv" VMENV_SRCDIR="$src"
. "$src/tests/lib.sh"
. "$src/tests/integration/box-lib.sh"
MIB=${BENCH_MIB:-1024}
ROUNDS=${BENCH_ROUNDS:-3}

start_server range
make_box_file "$T_TMP/www/bench.box" "$MIB"
SIZE=$(stat -c %s "$T_TMP/www/bench.box")
URL="$BASE/bench.box"
echo "# box: $((SIZE / 1048576)) MiB uncompressed tar; $ROUNDS rounds, best of each"

now() { date +%s.%N; }
best_curl=0 best_vmenv=0
for r in $(seq "$ROUNDS"); do
    sync
    t0=$(now); curl -s -o "$T_TMP/curl.out" "$URL"; t1=$(now)
    rm -f "$T_TMP/curl.out"
    c=$(echo "$SIZE / ($t1 - $t0) / 1000000" | bc -l)
    sync
    t0=$(now); "$VMENV" -q box add "$URL" --name bench/box >/dev/null; t1=$(now)
    "$VMENV" -q box remove bench/box >/dev/null
    v=$(echo "$SIZE / ($t1 - $t0) / 1000000" | bc -l)
    printf '# round %d: curl -o %.0f MB/s, vmenv box add %.0f MB/s\n' "$r" "$c" "$v"
    best_curl=$(echo "if ($c > $best_curl) $c else $best_curl" | bc -l)
    best_vmenv=$(echo "if ($v > $best_vmenv) $v else $best_vmenv" | bc -l)
done
ratio=$(echo "$best_vmenv / $best_curl" | bc -l)
printf 'curl -o:       %.0f MB/s\n' "$best_curl"
printf 'vmenv box add: %.0f MB/s (download + sha256 + extract + fsync)\n' "$best_vmenv"
printf 'ratio:         %.2f (target >= 0.80)\n' "$ratio"
