#!/bin/bash
# 'vmenv bench' over the VM's NAT and private networks (issue 17 item 1),
# all of it inside a network namespace this test makes, with a libvirtd and
# virtlogd of its own (tests/lib-netns.sh, as tests/e2e/nat.sh and
# privnet.sh): the NAT network, the isolated private network, their bridges
# and the guest exist only there, and the bench's traffic goes from the
# namespace's host side to the guest's addresses on those bridges. One
# tiny-box machine on 'network: nat' with a private network:
# 'bench --runs 1 --workloads net --only host,vm' gives a target per path
# (vm-nat, vm-private) with the four network figures, positive, in their
# units, with the VM's published band (cause TCG when outside it under TCG),
# and the path, network and guest address in the JSON; the 'vm' target has
# no network figures (not on user-mode networking) and says where they are.
# Then a bench killed with -9 while the guest's probe server listens: the
# server is gone from the guest soon after (it dies with its SSH session).
. "$(dirname "$0")/../lib-netns.sh"
[ -n "${VMENV_NETNS:-}" ] || netns_enter_vm_test vmenv-benchnet "$0"

netns_libvirtd_start || { echo "Bail out! no libvirtd in the namespace"; exit 1; }
. "$VMENV_SRCDIR/tests/e2e/lib-vm.sh"
T_CLEANUP=(netns_libvirtd_stop "${T_CLEANUP[@]}") # runs last, after vm_cleanup
echo "# network namespace $VMENV_NETNS, libvirtd pid $(cat "$VMENV_NETNS_DIR/libvirtd.pid")"
VMENV_PROBE=$VMENV_BUILDDIR/src/probe/vmenv-probe
export VMENV_PROBE

P=$T_TMP/bn
new_project "$P" "box: vmenv/tiny
box_url: $CATALOG
memory: 256M
boot_timeout: 300
network: nat
networks:
  - { type: private, ip: 192.168.81.10 }"
run_vmenv -C "$P" up
track "$P"
expect_eq "up on a NAT network with a private network" 0 "$RC"
[ "$RC" -eq 0 ] || printf '%s\n' "$ERR" | sed 's/^/# /'
run_vmenv -C "$P" ssh-config
NAT_IP=$(printf '%s\n' "$OUT" | awk '$1 == "HostName" {gsub(/"/, "", $2); print $2}')
case $NAT_IP in 192.168.*) ok 0 "the guest's NAT address is $NAT_IP";; *) ok 1 "NAT address: '$NAT_IP'";; esac

# -v: debug lines on vmenv's stderr must not end the guest's server
run_vmenv -v -C "$P" bench --runs 1 --workloads net --only host,vm --scale 0.25 --idle 1 --json \
    --plot "$T_TMP/bench.svg"
expect_eq "bench --workloads net exits 0" 0 "$RC"
[ "$RC" = 0 ] || printf '%s\n' "$ERR" | tail -20 | sed 's/^/# /'
printf '%s\n' "$OUT" > "$T_TMP/bench.json"

python3 - "$T_TMP/bench.json" "$T_TMP/bench.svg" "$NAT_IP" > "$T_TMP/checks" 2>&1 <<'PY'
import json, sys
import xml.etree.ElementTree as ET
d = json.load(open(sys.argv[1]))
nat_ip = sys.argv[3]
units = {"net-rr": "us", "net-rr-p99": "us", "net-bulk": "MiB/s", "net-bulk4": "MiB/s"}
targets = {t["target"]: t for t in d["targets"]}
print("targets", sorted(targets) == ["host", "vm", "vm-nat", "vm-private"])
paths = {"vm-nat": ("nat", "vmenv", nat_ip), "vm-private": ("private", "private", "192.168.81.10")}
tcg = targets.get("vm", {}).get("info", {}).get("hypervisor", "").startswith("tcg")
for name, (kind, net, ip) in paths.items():
    t = targets.get(name, {"figures": {}, "info": {}, "label": "", "notes": []})
    f, info = t["figures"], t["info"]
    print(name + "-figures", sorted(f) == sorted(units))
    if sorted(f) != sorted(units):
        print("#", name, "has", sorted(f), "notes:", t.get("notes"))
    print(name + "-positive", all(f[k]["median"] > 0 for k in f))
    print(name + "-units", all(f[k]["unit"] == units[k] for k in f))
    host_sums = {s["kind"]: s.get("checksum") for s in targets.get("host", {}).get("samples", [])}
    print(name + "-checksums", bool(t.get("samples")) and all(
        s.get("checksum") and s["checksum"] == host_sums.get(s["kind"]) for s in t["samples"]))
    print(name + "-ratio", all(f[k].get("ratio_to_host", 0) > 0 for k in f))
    print(name + "-path", (info.get("path"), info.get("network"), info.get("guest_address")) == (kind, net, ip))
    print(name + "-server", info.get("server", "").startswith(ip + ":"))
    mode = "TCG emulation" if tcg else "KVM"
    print(name + "-label", t["label"] == "vm (%s, %s)" % (kind, mode))
    b = [f[k].get("band", {}) for k in ("net-rr", "net-bulk") if k in f]
    print(name + "-bands", len(b) == 2 and all(x.get("source", "").startswith("Felter") for x in b))
    # a result outside the band under TCG names TCG, never user-mode networking
    print(name + "-band-cause", all(x.get("inside") or x.get("side") == "undecided"
                                    or (tcg and (x.get("cause") or "").startswith("TCG"))
                                    or (not tcg and "user-mode" not in (x.get("cause") or ""))
                                    for x in b))
    print(name + "-no-band-p99", "band" not in f.get("net-rr-p99", {}))
    for k in sorted(f):
        print("#", "%s %s: %.4g %s, %.3gx host" % (name, k, f[k]["median"], f[k]["unit"],
                                                   f[k].get("ratio_to_host") or 0))
vm = targets.get("vm", {"figures": {}, "notes": []})
print("vm-no-net", not any(k.startswith("net-") for k in vm["figures"]))
print("vm-says-where", any("'vm (nat ...)'" in n for n in vm["notes"]))
print("host-net", sorted(k for k in targets.get("host", {}).get("figures", {})) == sorted(units))
root = ET.parse(sys.argv[2]).getroot()
bars = {(e.get("data-figure"), e.get("data-target")) for e in root.iter() if e.get("class") == "bar"}
print("svg-bars", all((k, n) in bars for k in units for n in paths))
PY
while read -r what result; do
    [ "$what" = "#" ] && { echo "# $result"; continue; }
    [ "$result" = True ]; ok $? "bench: $what"
done < "$T_TMP/checks"
[ -s "$T_TMP/checks" ]; ok $? "the bench output was checked"
[ -s "$T_TMP/checks" ] && grep -q False "$T_TMP/checks" && sed 's/^/# /' "$T_TMP/checks" | head -40

# the guest's server dies with vmenv: kill -9 a bench while it listens
"$VMENV" -C "$P" bench --runs 30 --warmup 0 --workloads net --only host,vm --idle 1 --json \
    >/dev/null 2>"$T_TMP/killed.err" &
BPID=$!
on_exit kill -9 "$BPID"
# servers COUNT: the probe servers in the guest, empty when ssh did not answer
servers() {
    local out
    out=$("$VMENV" -C "$P" ssh -c '{ ps -o args 2>/dev/null || ps; } && echo ps-done' 2>/dev/null)
    case $out in *ps-done*) printf '%s\n' "$out" | grep -c '[v]menv-probe --serve';; esac
}
listening=
for _ in $(seq 240); do
    s=$(servers)
    [ "${s:-0}" -ge 1 ] && { listening=$s; break; }
    sleep 1
done
[ -n "$listening" ]; ok $? "the guest runs the probe's server during a bench ($listening)"
kill -9 "$BPID"
wait "$BPID" 2>/dev/null
gone=
for _ in $(seq 60); do
    s=$(servers)
    [ "${s:-1}" -eq 0 ] && { gone=1; break; }
    sleep 1
done
[ -n "$gone" ]; ok $? "after kill -9 of vmenv, no probe server is left in the guest"

run_vmenv -C "$P" destroy -f
expect_eq "destroy" 0 "$RC"
done_testing
