# 'vmenv bench' end to end on the tiny box: host, a bubblewrap container on
# the box's root filesystem, and the VM, one run each; every figure present,
# positive (idle CPU may be an honest 0) and labelled; the SVG well-formed
# with one bar per figure and target.
. "$VMENV_SRCDIR/tests/e2e/lib-vm.sh"
command -v bwrap >/dev/null || { echo "1..0 # SKIP no bubblewrap"; exit 0; }

P=$T_TMP/bench
new_project "$P" "box: vmenv/tiny
box_url: $CATALOG
memory: 256M
boot_timeout: 300"
track "$P"

VMENV_PROBE=$VMENV_BUILDDIR/src/probe/vmenv-probe
export VMENV_PROBE
run_vmenv -C "$P" bench --runs 1 --idle 2 --container-runtime bwrap --json --plot "$T_TMP/bench.svg"
expect_eq "bench exits 0" 0 "$RC"
[ "$RC" = 0 ] || printf '# %s\n' "$ERR" | tail -20
echo "$OUT" > "$T_TMP/bench.json"

python3 - "$T_TMP/bench.json" "$T_TMP/bench.svg" > "$T_TMP/checks" 2>&1 <<'PY'
import json, sys
import xml.etree.ElementTree as ET
d = json.load(open(sys.argv[1]))
want = {"host": {"cpu", "mem", "syscall", "spawn", "disk-write", "disk-read", "meta"}}
want["container"] = want["host"] | {"start-cold", "idle-rss", "idle-pss", "idle-cpu", "disk-added"}
want["vm"] = want["container"] | {"start-stopped"}
targets = {t["target"]: t for t in d["targets"]}
print("targets", sorted(targets) == ["container", "host", "vm"])
total = 0
for name, figs in want.items():
    t = targets.get(name, {"figures": {}, "label": ""})
    f = t["figures"]
    total += len(f)
    print(name + "-figures", figs <= set(f))
    ok = all(f[k]["median"] > 0 or (k == "idle-cpu" and f[k]["median"] == 0) for k in figs if k in f)
    print(name + "-positive", ok)
    print(name + "-labelled", all(f[k].get("title") and f[k].get("unit") for k in f))
print("vm-label", targets.get("vm", {}).get("label") in ("vm (TCG emulation)", "vm (KVM)"))
print("container-label", targets.get("container", {}).get("label") == "container (bwrap)")
print("host-info", all(k in d["host"] for k in ("cpu", "kernel", "kvm")))
root = ET.parse(sys.argv[2]).getroot()
bars = [e for e in root.iter() if e.get("class") == "bar"]
print("svg-bars", len(bars) == total)
PY
while read -r what result; do
    [ "$result" = True ]; ok $? "bench: $what"
done < "$T_TMP/checks"
[ -s "$T_TMP/checks" ]; ok $? "the bench output was checked"

"$VMENV" -C "$P" destroy -f >/dev/null 2>&1
done_testing
