# Machines of one project on two hypervisors: 'near' on this host's libvirtd
# (qemu:///system), 'far' on the "remote host" of tests/lib-remote.sh through
# its vmenv.yaml libvirt.uri (qemu+ssh://root@ADDR/system). up brings both up
# in parallel, each on its own hypervisor; status and global-status ask each
# machine's own; with the remote host's sshd stopped, 'far' is listed as
# 'unknown (host unreachable: ...)', 'near' as running, and both commands exit
# 69; global-status --json carries each machine's URI. snapshot save/list/
# delete and rsync-auto over both reach each through its own hypervisor.
. "$(dirname "$0")/../lib-remote.sh"
[ -n "${VMENV_REMOTE:-}" ] || remote_enter_vm_test vmenv-rmulti "$0"

. "$VMENV_SRCDIR/tests/e2e/lib-vm.sh"
on_exit remote_vm_cleanup
echo "# remote host $REMOTE_ADDR (namespace $VMENV_REMOTE)"

P=$T_TMP/proj
mkdir -p "$P/src"
echo synced >"$P/src/file.txt"
new_project "$P" "box: vmenv/tiny
box_url: $CATALOG
memory: 192M
boot_timeout: 400
synced_folders:
  - { host: ., guest: /vagrant, type: rsync }
machines:
  near: {}
  far:
    libvirt: { uri: '$REMOTE_URI' }"
track "$P"

run_vmenv -C "$P" up
track "$P"
expect_eq "up of a local and a remote machine exits 0" 0 "$RC"
[ "$RC" = 0 ] || printf '# %s\n' "$ERR" | tail -30
# in parallel: both were waiting for SSH before either was up
a=$(grep -n 'near: waiting for SSH' <<<"$ERR" | cut -d: -f1)
b=$(grep -n 'far: waiting for SSH' <<<"$ERR" | cut -d: -f1)
c=$(grep -n -E '(near|far): running \(ssh:' <<<"$ERR" | head -1 | cut -d: -f1)
[ -n "$a" ] && [ -n "$b" ] && [ -n "$c" ] && [ "$a" -lt "$c" ] && [ "$b" -lt "$c" ]
r=$?
ok $r "both machines came up in parallel (both waited for SSH before either ran)"
[ $r = 0 ] || printf '# %s\n' "$ERR" | head -20

remote_virsh list --name | grep -q -- '-far-'
ok $? "'far' runs on the remote host"
virsh -c qemu:///system list --name | grep -q -- "-near-"
ok $? "'near' runs on this host"
remote_virsh list --name | grep -q -- '-near-'
[ $? -ne 0 ]; ok $? "'near' is not on the remote host"

run_vmenv -C "$P" ssh far -c 'echo far-ok'
expect_eq "ssh -c to the remote machine" far-ok "$OUT"
run_vmenv -C "$P" ssh near -c 'echo near-ok'
expect_eq "ssh -c to the local machine" near-ok "$OUT"

run_vmenv -C "$P" status --json
expect_eq "status exits 0 with both hosts up" 0 "$RC"
got=$(echo "$OUT" | python3 -c 'import json,sys; print(" ".join(m["name"]+"="+m["state"] for m in json.load(sys.stdin)))')
expect_eq "status: both running" "near=running far=running" "$got"

# snapshot and rsync-auto reach each machine through its own hypervisor
run_vmenv -C "$P" snapshot save far s1
expect_eq "snapshot save of the remote machine exits 0" 0 "$RC"
[ "$RC" = 0 ] || printf '# %s\n' "$ERR" | tail -5
FARDOM=$(remote_virsh list --name | grep -- '-far-')
remote_virsh snapshot-list --name "$FARDOM" 2>/dev/null | grep -qx s1
ok $? "the snapshot is on the remote host"
run_vmenv -C "$P" snapshot list --json
expect_eq "snapshot list over both hosts exits 0" 0 "$RC"
got=$(echo "$OUT" | python3 -c 'import json,sys; print(" ".join(m["machine"]+"="+",".join(m["snapshots"]) for m in json.load(sys.stdin)))' 2>/dev/null)
expect_eq "snapshot list: each machine's own" "near= far=s1" "$got"
run_vmenv -C "$P" snapshot delete far s1
expect_eq "snapshot delete of the remote machine exits 0" 0 "$RC"

"$VMENV" -C "$P" rsync-auto --max-events 1 >"$T_TMP/auto.out" 2>"$T_TMP/auto.err" &
APID=$!
on_exit "kill $APID 2>/dev/null"
for _ in $(seq 600); do grep -q "watching" "$T_TMP/auto.err" && break; kill -0 "$APID" 2>/dev/null || break; sleep 0.1; done
echo auto >"$P/src/auto.txt"
for _ in $(seq 900); do kill -0 "$APID" 2>/dev/null || break; sleep 0.1; done
wait "$APID"
r=$?
expect_eq "rsync-auto over both hosts exits 0 after --max-events 1" 0 "$r"
[ "$r" = 0 ] || sed 's/^/# /' "$T_TMP/auto.err" | tail -5
run_vmenv -C "$P" ssh far -c 'cat /vagrant/src/auto.txt'
expect_eq "rsync-auto synced the change to the remote machine" auto "$OUT"
run_vmenv -C "$P" ssh near -c 'cat /vagrant/src/auto.txt'
expect_eq "rsync-auto synced the change to the local machine" auto "$OUT"

remote_sshd_stop
run_vmenv -C "$P" status
expect_eq "status exits 69 with the remote host down" 69 "$RC"
grep -q '^near  *running' <<<"$OUT"; ok $? "status: the local machine is still shown running"
grep -q '^far  *unknown (host unreachable: ' <<<"$OUT"
ok $? "status: the remote machine is unknown (host unreachable: ...)"
[ $? = 0 ] || printf '# %s\n' "$OUT"

run_vmenv global-status --json
expect_eq "global-status exits 69 with the remote host down" 69 "$RC"
got=$(echo "$OUT" | python3 -c '
import json,sys
for m in json.load(sys.stdin):
    if m["directory"] == sys.argv[1]:
        print(m["name"], m["state"].split(" (")[0], m["uri"] or "default")' "$P" | sort | tr '\n' ';')
expect_eq "global-status: state and uri of each" "far unknown $REMOTE_URI;near running qemu:///system;" "$got"
run_vmenv global-status
grep -q "far  *unknown (host unreachable: " <<<"$OUT"
ok $? "global-status: the remote machine is unknown (host unreachable: ...)"

remote_sshd_start
run_vmenv -C "$P" destroy -f
expect_eq "destroy of both exits 0" 0 "$RC"
[ "$RC" = 0 ] || printf '# %s\n' "$ERR" | tail -10
n=$( (remote_virsh list --all --name; virsh -c qemu:///system list --all --name) | grep -c -- "-\(near\|far\)-")
expect_eq "no domain of the project is left" 0 "$n"

done_testing
