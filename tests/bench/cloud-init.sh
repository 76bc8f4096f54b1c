#!/bin/bash
# What cloud-init costs: 'vmenv up --timings' of box: debian/12 (from a
# loopback mirror of $VMENV_TEST_BOXES/cloud-mirror) with vmenv's full seed,
# then with cloud_init: minimal (only the user and its key), each on a fresh
# machine; prints each up's wall time and vmenv's cloud-init line. Under TCG
# both are slow: compare the two numbers of one run, on a quiet machine.
# Usage: VMENV_TEST_BOXES=... tests/bench/cloud-init.sh [BUILD_DIR]  (default build)
set -uo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$src/build}
export VMENV="$build/src/cli/vmenv" VMENV_SRCDIR="$src"
. "$src/tests/e2e/lib-vm.sh"

MIRROR="$VMENV_TEST_BOXES/cloud-mirror"
serve_dir "$MIRROR" /dev/null || exit 1
export VMENV_IMAGE_MIRROR_DEBIAN=$SERVE_URL

"$VMENV" box add debian/12 >/dev/null 2>&1 # the download is not what is measured
for mode in full minimal; do
    P=$T_TMP/$mode
    min=$([ $mode = minimal ] && echo true || echo false)
    new_project "$P" "box: debian/12
memory: 768M
boot_timeout: 1200
cloud_init: { user_data: ud.yaml, minimal: $min }"
    # locale: the test image has no en_US.UTF-8 (cloud-init's default)
    printf '#cloud-config\nlocale: false\n' >"$P/ud.yaml"
    t0=$(date +%s.%N)
    "$VMENV" -C "$P" up --timings >"$T_TMP/$mode.log" 2>&1
    rc=$?
    t1=$(date +%s.%N)
    track "$P"
    printf '%s: up %.1f s (exit %d); %s\n' "$mode" "$(echo "$t1 - $t0" | bc -l)" "$rc" \
        "$(grep -E 'cloud-init [0-9.]+ s|boot to a command' "$T_TMP/$mode.log" | sed 's/^[a-z]*: //' | tr '\n' ';')"
    "$VMENV" -C "$P" destroy -f >/dev/null 2>&1
done
