#!/bin/bash
# vmenv bench on all three targets with a real VM: the tiny box booted by
# QEMU from a qcow2 overlay (driven by tests/integration/bench-qemu-driver.c
# until the machine commands supply the VM ops), next to the host and a
# bubblewrap container of the same box image. Checks every figure of every
# target is present, positive and labelled, that the VM did the host's work
# (checksums), and that nothing is left: no QEMU, no mount, no files.
# Needs $VMENV_TEST_BOXES/vmenv-tiny-1.0.0.box and root.
. "$(dirname "$0")/../lib.sh"

box=${VMENV_TEST_BOXES:-}/vmenv-tiny-1.0.0.box
[ -n "${VMENV_TEST_BOXES:-}" ] && [ -f "$box" ] || { echo "1..0 # SKIP no tiny box in \$VMENV_TEST_BOXES"; exit 0; }
[ "$(id -u)" = 0 ] || { echo "1..0 # SKIP needs root"; exit 0; }
command -v qemu-system-x86_64 >/dev/null || { echo "1..0 # SKIP no qemu"; exit 0; }
work=$T_TMP/work
mkdir -p "$work"
umount_ours() {
    findmnt -rn -o TARGET | grep -F "$T_TMP/" | sort -r | while read -r m; do umount "$m" || umount -l "$m"; done
}
on_exit umount_ours

# KVM when vmenv's KVM check says it runs guests here (docs/accel.md).
VMENV_BENCH_KVM=$([ "$(t_accel)" = kvm ] && echo 1 || echo 0)
export VMENV_BENCH_KVM
echo "# VMENV_BENCH_KVM=$VMENV_BENCH_KVM"
"$VMENV_BUILDDIR/tests/bench-qemu-driver" "$VMENV_BUILDDIR/src/probe/vmenv-probe" "$box" "$work" \
    2 0.05 2 "$T_TMP/r.json" "$T_TMP/r.svg" >"$T_TMP/table.txt" 2>"$T_TMP/err.txt" &
dpid=$!
on_exit "kill $dpid 2>/dev/null"
wait $dpid
rc=$?
[ $rc -eq 77 ] && { echo "1..0 # SKIP $(tail -1 "$T_TMP/err.txt")"; exit 0; }
ok $rc "host, container and vm benched"
[ $rc -eq 0 ] || sed 's/^/# /' "$T_TMP/err.txt" | tail -5

python3 - "$T_TMP/r.json" "$T_TMP/r.svg" >"$T_TMP/checks" 2>&1 <<'PY'
import json, sys
import xml.etree.ElementTree as ET
rep = json.load(open(sys.argv[1]))
def say(ok, what): print(("ok" if ok else "not ok") + " " + what)
t = {x["target"]: x for x in rep["targets"]}
say(set(t) == {"host", "container", "vm"}, "three targets")
vm = t["vm"]
say(vm["label"] in ("vm (TCG emulation)", "vm (KVM)"), "the vm label names the mode: " + vm["label"])
for k in ["cpu", "mem", "syscall", "spawn", "disk-write", "disk-read", "meta"]:
    for name in ("container", "vm"):
        f = t[name]["figures"].get(k)
        say(f is not None and f["median"] > 0 and f.get("ratio_to_host", 0) > 0 and f["unit"],
            "%s %s present, positive, with a ratio" % (name, k))
    cs = [{s["checksum"] for s in t[n]["samples"] if s["kind"] == k} for n in ("host", "container", "vm")]
    say(len(cs[0]) == 1 and cs[0] == cs[1] == cs[2], "%s: the same work everywhere" % k)
for k in ["start-stopped", "start-cold", "idle-rss", "idle-pss", "disk-added"]:
    f = vm["figures"].get(k)
    say(f is not None and f["median"] > 0, "vm %s present and positive (%s %s)" % (k, f and f["median"], f and f["unit"]))
say("idle-cpu" in vm["figures"], "vm idle-cpu present")
bars = [e for e in ET.parse(sys.argv[2]).getroot().iter("{http://www.w3.org/2000/svg}rect") if e.get("class") == "bar"]
say(len(bars) == sum(len(x["figures"]) for x in rep["targets"]), "one bar per figure and target (%d)" % len(bars))
PY
while read -r status rest; do
    if [ "$status" = ok ]; then ok 0 "$rest"; elif [ "$status" = "not" ]; then ok 1 "${rest#ok }"; else echo "# $status $rest"; fi
done <"$T_TMP/checks"
expect_eq "no qemu left" "" "$(pgrep -f "qemu-system-x86_64.*$work" || true)"
expect_eq "no mount left" "" "$(findmnt -rn -o TARGET | grep -F "$work" || true)"
expect_eq "only the console log is left" "console.log" "$(ls "$work")"
done_testing
