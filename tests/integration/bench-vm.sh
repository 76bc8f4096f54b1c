#!/bin/bash
# The bench VM target over a real OpenSSH server on 127.0.0.1 standing in
# for the guest (the machine commands are not wired yet): the probe is
# uploaded and run over SSH, its figures match the host's work (checksums),
# lifecycle figures come from the "QEMU" pid (sshd here) and the disk file,
# and the guest folder is removed afterwards.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/sshd-lib.sh"

driver=$VMENV_BUILDDIR/tests/bench-vm-driver
probe=$VMENV_BUILDDIR/src/probe/vmenv-probe
[ -x /usr/sbin/sshd ] || { echo "1..0 # SKIP no sshd"; exit 0; }
start_sshd "$T_TMP/sshd" || { echo "1..0 # SKIP sshd did not start"; exit 0; }
truncate -s 0 "$T_TMP/disk.qcow2"
head -c 300000 /dev/urandom >"$T_TMP/disk.qcow2"

"$driver" "$probe" "$SSHD_PORT" root "$SSHD_KEY" "$SSHD_PID" "$T_TMP/disk.qcow2" \
    >"$T_TMP/vm.json" 2>"$T_TMP/vm.err" &
dpid=$!
wait $dpid
ok $? "host + vm targets ran over SSH"
sed 's/^/# /' "$T_TMP/vm.err" | grep -v "run [0-9] of" | head -20

python3 - "$T_TMP/vm.json" >"$T_TMP/checks" 2>&1 <<'PY'
import json, sys
rep = json.load(open(sys.argv[1]))
def say(ok, what): print(("ok" if ok else "not ok") + " " + what)
t = {x["target"]: x for x in rep["targets"]}
vm, host = t.get("vm"), t.get("host")
say(vm is not None and host is not None, "both targets reported")
say(vm["label"] == "vm (TCG emulation)", "TCG is labelled as emulation: %s" % vm["label"])
say(vm["info"].get("hypervisor") == "tcg", "the hypervisor mode is recorded")
say(any("emulation, not virtualisation" in n for n in vm["notes"]), "a note says TCG figures are emulation")
say(any("/var/tmp/vmenv-bench." in n for n in vm["notes"]), "a note says where the guest's disk figures come from")
for k in ["cpu", "mem", "syscall", "spawn", "disk-write", "disk-read", "meta"]:
    f = vm["figures"].get(k)
    say(f is not None and f["n"] == 2 and f["median"] > 0 and f.get("ratio_to_host", 0) > 0,
        "vm %s: 2 positive samples and a ratio" % k)
    hs = {s["checksum"] for s in host["samples"] if s["kind"] == k}
    vs = {s["checksum"] for s in vm["samples"] if s["kind"] == k}
    say(len(vs) == 1 and vs == hs, "vm %s did the host's work (checksum)" % k)
f = vm["figures"]
say(f.get("start-stopped", {}).get("n") == 2 and f["start-stopped"]["median"] > 0, "start-stopped timed once per run")
say(f.get("start-cold", {}).get("n") == 1 and f["start-cold"]["median"] > 0, "start-cold timed once")
say(f.get("idle-rss", {}).get("median", 0) > 0 and f.get("idle-pss", {}).get("median", 0) > 0, "idle memory of the pid")
say("idle-cpu" in f, "idle cpu of the pid")
say(f.get("disk-added", {}).get("median", 0) >= 300000, "disk-added is the disk file's allocation")
say(not any("checksum" in w for w in rep["warnings"]), "no checksum warning")
PY
while read -r status rest; do
    if [ "$status" = ok ]; then ok 0 "$rest"; elif [ "$status" = "not" ]; then ok 1 "${rest#ok }"; else echo "# $status $rest"; fi
done <"$T_TMP/checks"
grep -q "^ups=3$" "$T_TMP/vm.err"; ok $? "up was called for 2 stopped starts and 1 cold start"
check "the guest folder is removed" -- test ! -e "/var/tmp/vmenv-bench.$dpid"
kill -0 "$SSHD_PID"; ok $? "the measured process was only observed"

# a probe that fails on the guest: its exit status and stderr reach the error
printf '#!/bin/sh\necho "no such workload here" >&2\nexit 7\n' >"$T_TMP/bad-probe"
chmod +x "$T_TMP/bad-probe"
"$driver" "$T_TMP/bad-probe" "$SSHD_PORT" root "$SSHD_KEY" "$SSHD_PID" "$T_TMP/disk.qcow2" \
    >/dev/null 2>"$T_TMP/bad.err"
rc=$?
ok $((rc == 0)) "a failing guest probe fails the bench"
grep -q "exit status 7: no such workload here" "$T_TMP/bad.err"; ok $? "with the guest's exit status and stderr"
done_testing
