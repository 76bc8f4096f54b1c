#!/bin/bash
# vmenv bench on the host and in a container of a box image, end to end:
# a tiny busybox root filesystem in an MBR-partitioned qcow2 (or the real
# tiny box from $VMENV_TEST_BOXES), the runtime picked by trying it (podman
# and docker do not start containers here, bubblewrap does), every figure
# present, positive and labelled, the SVG well-formed with one bar per
# figure and target, and no mount or loop device left behind. The
# container's veth path ("container-veth": bwrap in a network namespace of
# the bench's own, a veth pair to the server's) has its network figures, and
# leaves no namespace holder and no veth behind, even after a kill -9.
. "$(dirname "$0")/../lib.sh"
# every vmenv this test starts carries it: see netns_left
export VMENV_TEST_TAG=$T_TMP

if [ "$(id -u)" != 0 ]; then echo "1..0 # SKIP needs root (loop mount)"; exit 0; fi
for p in bwrap mkfs.ext4 sfdisk qemu-img python3 busybox ip nsenter pgrep; do
    command -v "$p" >/dev/null || { echo "1..0 # SKIP $p is not installed"; exit 0; }
done

scratch=$T_TMP/scratch
mkdir -p "$scratch"
# If the bench is killed half-way, its loop mount must not outlive the test.
umount_ours() {
    findmnt -rn -o TARGET | grep -F "$T_TMP/" | sort -r | while read -r m; do umount "$m" || umount -l "$m"; done
}
on_exit umount_ours

# ---- the image -----------------------------------------------------------
box=${VMENV_TEST_BOXES:-}/vmenv-tiny-1.0.0.box
if [ -n "${VMENV_TEST_BOXES:-}" ] && [ -f "$box" ]; then
    img=$box
    echo "# using the tiny box $box"
else
    root=$T_TMP/rootfs
    mkdir -p "$root"/{bin,proc,dev,tmp,sys,etc}
    cp "$(command -v busybox)" "$root/bin/busybox"
    for a in sh true sleep ls cat; do ln -s busybox "$root/bin/$a"; done
    truncate -s 16M "$T_TMP/fs.img"
    mkfs.ext4 -q -F -d "$root" "$T_TMP/fs.img"
    truncate -s 18M "$T_TMP/disk.raw"
    echo 'start=2048, type=83' | sfdisk -q "$T_TMP/disk.raw"
    dd if="$T_TMP/fs.img" of="$T_TMP/disk.raw" bs=512 seek=2048 conv=notrunc status=none
    qemu-img convert -O qcow2 "$T_TMP/disk.raw" "$T_TMP/disk.qcow2"
    img=$T_TMP/disk.qcow2
fi
check "test image built" -- test -s "$img"

# ---- one run, JSON and plot ----------------------------------------------
run_vmenv bench --only host,container --runs 2 --scale 0.05 --idle 1 --json \
    --image "$img" --plot "$T_TMP/bench.svg" --dir "$scratch"
ok $RC "bench --only host,container --json runs"
[ $RC -eq 0 ] || printf '# %s\n' "$ERR"
printf '%s\n' "$OUT" >"$T_TMP/bench.json"

python3 - "$T_TMP/bench.json" "$T_TMP/bench.svg" >"$T_TMP/checks" 2>&1 <<'PY'
import json, sys
import xml.etree.ElementTree as ET
rep = json.load(open(sys.argv[1]))
def say(ok, what):
    print(("ok" if ok else "not ok") + " " + what)
workloads = ["cpu", "mem", "syscall", "spawn", "disk-write", "disk-read", "meta"]
lifecycle = ["start-cold", "idle-rss", "idle-pss", "disk-added", "idle-cpu"]
t = {x["target"]: x for x in rep["targets"]}
say(set(t) == {"host", "container", "container-veth"}, "json has host, container and container-veth")
host, ctr, veth = t["host"], t["container"], t["container-veth"]
say(ctr["info"].get("runtime") in ("podman", "docker", "bwrap"), "the runtime is recorded: %s" % ctr["info"].get("runtime"))
say(ctr["label"] == "container (%s)" % ctr["info"].get("runtime"), "the label names the runtime: %s" % ctr["label"])
say(bool(ctr["info"].get("runtime_version")), "the runtime version is recorded")
say(all(rep["host"].get(k) for k in ("cpu", "kernel", "kvm", "cpus")), "cpu model, kernel, kvm and cores are recorded")
for name, tg in (("host", host), ("container", ctr)):
    for k in workloads:
        f = tg["figures"].get(k)
        good = f is not None and f["median"] > 0 and f["n"] == 2 and f["unit"] and f["title"]
        say(good, "%s %s present, positive and labelled" % (name, k))
        n = sum(1 for s in tg["samples"] if s["kind"] == k)
        say(n == 2, "%s %s has its 2 raw samples" % (name, k))
for k in workloads:
    f = ctr["figures"][k]
    say(f.get("ratio_to_host", 0) > 0, "container %s has a ratio to the host" % k)
    hs = {s["checksum"] for s in host["samples"] if s["kind"] == k}
    cs = {s["checksum"] for s in ctr["samples"] if s["kind"] == k}
    say(len(hs) == 1 and hs == cs, "container %s did the same work as the host (checksum)" % k)
net = {"net-rr": "us", "net-rr-p99": "us", "net-bulk": "MiB/s", "net-bulk4": "MiB/s"}
for name, tg in (("host", host), ("container", ctr), ("container-veth", veth)):
    for k, unit in net.items():
        f = tg["figures"].get(k)
        good = f is not None and f["median"] > 0 and f["n"] == 2 and f["unit"] == unit
        say(good, "%s %s present, positive, in %s (%s)" % (name, k, unit, f and f["median"]))
for k in net:
    say(veth["figures"][k].get("ratio_to_host", 0) > 0, "container-veth %s has a ratio to the host" % k)
say(set(veth["figures"]) == set(net), "container-veth has the network figures only: %s" % sorted(veth["figures"]))
say(veth["label"] == "container (bwrap, veth)", "the veth path is labelled: %s" % veth["label"])
say(veth["info"].get("network") == "veth 169.254.77.2 -> 169.254.77.1", "the veth addresses are recorded")
for k in lifecycle:
    f = ctr["figures"].get(k)
    # idle CPU may honestly be 0: a sleeping sandbox uses no CPU tick
    good = f is not None and (f["median"] >= 0 if k == "idle-cpu" else f["median"] > 0) and f["unit"]
    say(good, "container %s present and labelled (%s %s)" % (k, f and f["median"], f and f["unit"]))
say(any("writable layer" in n for n in ctr["notes"]) or ctr["info"]["runtime"] != "bwrap",
    "the notes say how the writable layer is backed")
svg = ET.parse(sys.argv[2]).getroot()
bars = [e for e in svg.iter("{http://www.w3.org/2000/svg}rect") if e.get("class") == "bar"]
want = sum(len(tg["figures"]) for tg in rep["targets"])
say(len(bars) == want, "svg has one bar per figure and target (%d, want %d)" % (len(bars), want))
pairs = {(b.get("data-figure"), b.get("data-target")) for b in bars}
say(len(pairs) == len(bars), "no bar is drawn twice")
say(all(float(b.get("width")) > 0 for b in bars), "every bar is visible")
texts = "".join(e.text or "" for e in svg.iter("{http://www.w3.org/2000/svg}text"))
say("container (" in texts and "host" in texts and "CPU" in texts, "svg labels targets and figures")
say("container (bwrap, veth)" in texts, "svg labels the veth path")
PY
while read -r status rest; do
    if [ "$status" = ok ]; then ok 0 "$rest"; elif [ "$status" = "not" ]; then ok 1 "${rest#ok }"; else echo "# $status $rest"; fi
done <"$T_TMP/checks"

if command -v rsvg-convert >/dev/null; then
    check "the svg renders to png" -- rsvg-convert -o "$T_TMP/bench.png" "$T_TMP/bench.svg"
fi
expect_eq "no mount left" "" "$(findmnt -rn -o TARGET | grep -F "$scratch" || true)"
expect_eq "no temporary folder left" "" "$(ls -A "$scratch")"
expect_eq "no loop device left on the image" "" "$(losetup -a | grep -F "$T_TMP" || true)"
# the namespaces' holders are vmenv's children named vmenv-netns; the veth
# ends live only in those namespaces, never in ours
# (only this test's: another bench may run on the machine at the same time;
# the holders are forked, not exec'd, so they carry vmenv's environment)
netns_left() {
    local p
    for p in $(pgrep -x vmenv-netns); do
        tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qxF "VMENV_TEST_TAG=$T_TMP" &&
            printf '%s ' "$p"
    done
    return 0
}
expect_eq "no network namespace holder left" "" "$(netns_left)"
expect_eq "no veth end in the root namespace" "" "$(ip -o link show | grep -E ' vmenv-[sc][@:]' || true)"

# ---- bubblewrap asked for by name, the table, a raw image in a .box --------
if [ "$img" != "$box" ]; then
    cp "$T_TMP/disk.raw" "$T_TMP/box.img"
    tar -C "$T_TMP" -cf "$T_TMP/test.box" box.img
    run_vmenv bench --only container --container-runtime bwrap --runs 1 --workloads cpu,spawn \
        --scale 0.05 --idle 1 --image "$T_TMP/test.box" --dir "$scratch"
    ok $RC "bench of a .box holding a raw image, runtime bwrap"
    [ $RC -eq 0 ] || printf '# %s\n' "$ERR"
    grep -q 'container (bwrap): image_format=raw' <<<"$OUT"; ok $? "the raw image is used as is"
    grep -q 'container (bwrap): partition_offset=1048576' <<<"$OUT"; ok $? "the partition offset comes from the MBR"
    grep -Eq '^CPU: FNV-1a hash \[MiB/s\] +-? +[0-9.]+ MiB/s' <<<"$OUT"; ok $? "the table shows the cpu figure"
    grep -Eq '^start: nothing -> first command \[ms\]' <<<"$OUT"; ok $? "the table shows the start figure"
    expect_eq "no temporary folder left after the .box run" "" "$(ls -A "$scratch")"
fi

# ---- killed half-way: the mount and the loop device go with vmenv ------------
"$VMENV" bench --only host,container --runs 20 --scale 0.2 --image "$img" --dir "$scratch" \
    >/dev/null 2>"$T_TMP/killed.err" &
pid=$!
on_exit "kill -KILL $pid 2>/dev/null"
# (a warm-up and one run of every workload first: up to a minute on a loaded machine)
for _ in $(seq 600); do grep -q "run 2 of 20 on container (bwrap, veth)" "$T_TMP/killed.err" && break; sleep 0.1; done
grep -q "run 2 of 20 on container (bwrap, veth)" "$T_TMP/killed.err"; ok $? "the bench is running in the container and its veth path"
held=$(pgrep -x -P $pid vmenv-netns | wc -l)
expect_eq "the bench holds its two network namespaces" 2 "$held"
kill -KILL $pid; wait $pid 2>/dev/null
for _ in $(seq 50); do [ -z "$(losetup -a | grep -F "$scratch")" ] && break; sleep 0.1; done
expect_eq "no loop device left after kill -9" "" "$(losetup -a | grep -F "$scratch" || true)"
expect_eq "no mount left after kill -9" "" "$(findmnt -rn -o TARGET | grep -F "$scratch" || true)"
for _ in $(seq 50); do [ -z "$(netns_left)" ] && break; sleep 0.1; done
expect_eq "no network namespace holder left after kill -9" "" "$(netns_left)"
expect_eq "no veth end in the root namespace after kill -9" "" "$(ip -o link show | grep -E ' vmenv-[sc][@:]' || true)"
left=$(du -s "$scratch" | cut -f1)
ok $((left > 1024)) "the converted image does not stay behind on disk (${left} KiB left)"
rm -rf "${scratch:?}"/*

# ---- errors ----------------------------------------------------------------
run_vmenv bench --only host,container --image "$T_TMP/missing.qcow2" --dir "$scratch"
expect_eq "a missing image exits 66" 66 "$RC"
grep -q "cannot find image '$T_TMP/missing.qcow2'" <<<"$ERR"; ok $? "and names it"
run_vmenv -C "$T_TMP" bench --only container --dir "$scratch"
expect_eq "the container without an image exits 64" 64 "$RC"
grep -q -- "--image FILE" <<<"$ERR"; ok $? "and says to pass --image"
run_vmenv bench --only host --workloads cpu,spwan --dir "$scratch"
expect_eq "an unknown workload exits 64" 64 "$RC"
grep -q "did you mean 'spawn'" <<<"$ERR"; ok $? "with a did-you-mean hint"
run_vmenv -C "$T_TMP" bench --only host,vm --dir "$scratch"
expect_eq "the vm target outside a project is a config error (78)" 78 "$RC"
grep -q "vmenv init" <<<"$ERR"; ok $? "and says how to make a project"
run_vmenv bench --only container --container-runtime lxc --image "$img" --dir "$scratch"
expect_eq "an unknown runtime exits 64" 64 "$RC"
if ! command -v podman >/dev/null; then
    run_vmenv bench --only container --container-runtime podman --runs 1 --image "$img" --dir "$scratch"
    ok $((RC == 0)) "podman asked for but missing fails"
    grep -q "container runtime 'podman' does not work here: podman is not installed" <<<"$ERR"; ok $? "and says why"
    expect_eq "and leaves no mount" "" "$(findmnt -rn -o TARGET | grep -F "$scratch" || true)"
fi
run_vmenv bench --only host --runs 0
expect_eq "--runs 0 exits 64" 64 "$RC"

done_testing
