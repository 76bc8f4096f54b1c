# 'vmenv bench' end to end on the tiny box: host, a bubblewrap container on
# the box's root filesystem, and the VM, one run each (after one warm-up);
# every figure present, positive (idle CPU may be an honest 0), labelled and
# in its unit; a figure with a published band carries it (with its source)
# on the container and the VM; the SVG well-formed with one bar per figure
# and target and one band box per banded figure. The network figures run
# against the server on the host's 127.0.0.1 (the guest reaches it through
# its user-mode network's gateway), and for "container-veth" (network
# figures only, no band) against a server across the bench's veth pair.
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
run_vmenv -C "$P" bench --runs 1 --scale 0.25 --idle 2 --container-runtime bwrap --json --plot "$T_TMP/bench.svg"
expect_eq "bench exits 0" 0 "$RC"
[ "$RC" = 0 ] || printf '# %s\n' "$ERR" | tail -20
echo "$OUT" > "$T_TMP/bench.json"

python3 - "$T_TMP/bench.json" "$T_TMP/bench.svg" > "$T_TMP/checks" 2>&1 <<'PY'
import json, sys
import xml.etree.ElementTree as ET
d = json.load(open(sys.argv[1]))
units = {"cpu": "MiB/s", "mem": "MiB/s", "gups": "MUP/s", "syscall": "ns/call",
         "spawn": "us/process", "disk-write": "MiB/s", "disk-read": "MiB/s",
         "rand-read": "IOPS", "rand-read32": "IOPS", "rand-write": "IOPS", "rand-write32": "IOPS",
         "fsync": "us", "fsync-p99": "us", "meta": "files/s", "net-rr": "us", "net-rr-p99": "us",
         "net-bulk": "MiB/s", "net-bulk4": "MiB/s", "start-cold": "ms", "start-stopped": "ms",
         "idle-rss": "bytes", "idle-pss": "bytes", "idle-cpu": "ms", "disk-added": "bytes"}
banded = {"cpu", "mem", "gups", "disk-write", "disk-read", "rand-read", "rand-read32",
          "rand-write", "rand-write32", "net-rr", "net-bulk"}
work = {"cpu", "mem", "gups", "syscall", "spawn", "disk-write", "disk-read", "rand-read",
        "rand-read32", "rand-write", "rand-write32", "fsync", "fsync-p99", "meta",
        "net-rr", "net-rr-p99", "net-bulk", "net-bulk4"}
want = {"host": set(work)}
want["container"] = want["host"] | {"start-cold", "idle-rss", "idle-pss", "idle-cpu", "disk-added"}
want["vm"] = want["container"] | {"start-stopped"}
# the container's veth path: the network figures only, and no published band
want["container-veth"] = {"net-rr", "net-rr-p99", "net-bulk", "net-bulk4"}
targets = {t["target"]: t for t in d["targets"]}
print("targets", sorted(targets) == ["container", "container-veth", "host", "vm"])
total = bands = 0
for name, figs in want.items():
    t = targets.get(name, {"figures": {}, "label": "", "notes": []})
    f = t["figures"]
    total += len(f)
    missing = figs - set(f)
    if missing:
        print("#", name, "lacks", sorted(missing), "notes:", t.get("notes"))
    print(name + "-figures", not missing)
    ok = all(f[k]["median"] > 0 or (k == "idle-cpu" and f[k]["median"] == 0) for k in figs if k in f)
    print(name + "-positive", ok)
    print(name + "-labelled", all(f[k].get("title") and f[k].get("unit") for k in f))
    print(name + "-units", all(f[k]["unit"] == units.get(k) for k in f))
    print(name + "-cpu-time", all(f[k].get("cpu_per_wall", 0) > 0 for k in f if k in work))
    print(name + "-ci-fields", all("ci_ok" in f[k] and "outlier_runs" in f[k] for k in f))
    if name not in ("host", "container-veth"):
        b = [k for k in f if k in banded]
        bands += len(b)
        print(name + "-bands", all(f[k].get("band", {}).get("source", "").startswith("Felter")
                                   and f[k]["band"]["low"] < f[k]["band"]["high"]
                                   and "inside" in f[k]["band"] for k in b))
        print(name + "-band-cause", all(f[k]["band"]["inside"] or "cause" in f[k]["band"] for k in b))
print("vm-label", targets.get("vm", {}).get("label") in ("vm (TCG emulation)", "vm (KVM)"))
print("container-label", targets.get("container", {}).get("label") == "container (bwrap)")
print("veth-label", targets.get("container-veth", {}).get("label") == "container (bwrap, veth)")
print("veth-no-band", not any("band" in f for f in targets.get("container-veth", {}).get("figures", {}).values()))
print("host-info", all(k in d["host"] for k in ("cpu", "kernel", "kvm")))
root = ET.parse(sys.argv[2]).getroot()
bars = [e for e in root.iter() if e.get("class") == "bar"]
print("svg-bars", len(bars) == total)
boxes = [e for e in root.iter() if e.get("class") == "band"]
print("svg-bands", len(boxes) == bands)
print("svg-sources", any((e.text or "").startswith("band: Felter") for e in root.iter()))
PY
while read -r what result; do
    [ "$what" = "#" ] && { echo "# $result"; continue; }
    [ "$result" = True ]; ok $? "bench: $what"
done < "$T_TMP/checks"
[ -s "$T_TMP/checks" ]; ok $? "the bench output was checked"

"$VMENV" -C "$P" destroy -f >/dev/null 2>&1
done_testing
