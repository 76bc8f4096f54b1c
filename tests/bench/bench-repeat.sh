#!/bin/bash
# Do 'vmenv bench' figures repeat? Two consecutive runs on this machine, then
# the ratio of their medians (run 2 / run 1, as a cost: above 1 = run 2
# slower) for the CPU, memory and network-latency figures, which issue 17
# wants within 10 %; the whole comparison comes from 'vmenv bench --compare'.
# Usage: tests/bench/bench-repeat.sh [BUILD_DIR] [BOX_OR_IMAGE]
#   default build, $VMENV_TEST_BOXES/vmenv-tiny-1.0.0.box
# BENCH_ONLY (default host,container: the container needs root), BENCH_ARGS
# (more 'vmenv bench' flags, e.g. '--runs 6' or '--pin 1'). For the VM, run
# it in a project folder with BENCH_ONLY=host,container,vm.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$src/build}
image=${2:-${VMENV_TEST_BOXES:-$src/build-test/boxes}/vmenv-tiny-1.0.0.box}
only=${BENCH_ONLY:-host,container}
vmenv=$build/src/cli/vmenv
export VMENV_PROBE=$build/src/probe/vmenv-probe
[ -x "$vmenv" ] || { echo "no $vmenv: build it first (ninja -C $build)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export VMENV_HOME=$tmp/home

for i in 1 2; do
    # shellcheck disable=SC2086
    "$vmenv" --json bench --only "$only" --image "$image" ${BENCH_ARGS:-} \
        >"$tmp/run$i.json" 2>"$tmp/run$i.err" ||
        { echo "run $i failed:" >&2; tail -5 "$tmp/run$i.err" >&2; exit 1; }
done
"$vmenv" bench --compare "$tmp/run1.json" "$tmp/run2.json" --plot "$tmp/compare.svg"
echo
python3 - "$tmp/run1.json" "$tmp/run2.json" <<'PY'
import json, sys
runs = [json.load(open(p)) for p in sys.argv[1:3]]
print("# runs: %s and %s; load average %s then %s" % (
    runs[0]["host"].get("date"), runs[1]["host"].get("date"),
    runs[0]["host"].get("loadavg"), runs[1]["host"].get("loadavg")))
bad = 0
for t in runs[0]["targets"]:
    other = {x["target"]: x for x in runs[1]["targets"]}.get(t["target"])
    if not other:
        continue
    for k in ("cpu", "mem", "gups", "syscall", "net-rr"):
        a, b = t["figures"].get(k), other["figures"].get(k)
        if not a or not b:
            continue
        r = a["median"] / b["median"] if a["higher_is_better"] else b["median"] / a["median"]
        ok = abs(r - 1) <= 0.10
        bad += not ok
        print("%-10s %-8s run1 %10.4g  run2 %10.4g %-8s ratio %.3f %s" % (
            t["target"], k, a["median"], b["median"], a["unit"], r,
            "within 10 %" if ok else "OUTSIDE 10 %"))
print("# %d figure(s) outside 10 %%" % bad)
PY
