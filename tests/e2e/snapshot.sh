# Snapshots and packaging on a real VM: save, change, restore (the change is
# gone, the machine runs again), push/pop, errors for names; then package the
# machine, add the box and boot a new machine from it.
. "$VMENV_SRCDIR/tests/e2e/lib-vm.sh"

P=$T_TMP/snap
new_project "$P" "box: vmenv/tiny
box_url: $CATALOG
memory: 192M
boot_timeout: 240"
track "$P"

run_vmenv -C "$P" up
expect_eq "up exits 0" 0 "$RC"
"$VMENV" -C "$P" ssh -c 'echo before > /home/vagrant/mark; sync' >/dev/null 2>&1

run_vmenv -C "$P" snapshot save clean
expect_eq "snapshot save exits 0" 0 "$RC"
run_vmenv -C "$P" snapshot save clean
[ "$RC" -ne 0 ] && case $ERR in *"'clean' exists"*) true;; *) false;; esac
ok $? "saving an existing name is refused"
run_vmenv -C "$P" snapshot save 'bad name!'
expect_eq "an invalid name is a usage error" 64 "$RC"

"$VMENV" -C "$P" ssh -c 'echo after > /home/vagrant/mark; sync' >/dev/null 2>&1
run_vmenv -C "$P" snapshot restore clean
expect_eq "snapshot restore exits 0" 0 "$RC"
state=$("$VMENV" -C "$P" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["state"])')
expect_eq "a restored running machine runs" running "$state"
run_vmenv -C "$P" ssh -c 'cat /home/vagrant/mark'
expect_eq "the change after the snapshot is gone" before "$OUT"

run_vmenv -C "$P" snapshot restore nope
expect_eq "restoring an unknown snapshot fails (66)" 66 "$RC"

run_vmenv -C "$P" snapshot push
expect_eq "snapshot push exits 0" 0 "$RC"
"$VMENV" -C "$P" ssh -c 'echo pushed-change > /home/vagrant/mark; sync' >/dev/null 2>&1
run_vmenv -C "$P" snapshot pop
expect_eq "snapshot pop exits 0" 0 "$RC"
run_vmenv -C "$P" ssh -c 'cat /home/vagrant/mark'
expect_eq "pop brings back the pushed state" before "$OUT"
run_vmenv -C "$P" snapshot list --json
n=$(echo "$OUT" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)[0]["snapshots"]))' 2>/dev/null)
expect_eq "pop deletes the pushed snapshot; 'clean' stays" 1 "$n"
run_vmenv -C "$P" snapshot delete clean
expect_eq "snapshot delete exits 0" 0 "$RC"

# package → box add → up from the packaged box
"$VMENV" -C "$P" ssh -c 'echo packaged > /home/vagrant/mark; sync' >/dev/null 2>&1
run_vmenv -C "$P" package --insecure-key --output "$T_TMP/mine.box"
expect_eq "package exits 0" 0 "$RC"
[ "$RC" = 0 ] || printf '# %s\n' "$ERR" | head -20
tar -tzf "$T_TMP/mine.box" > "$T_TMP/members" 2>/dev/null
grep -qx metadata.json "$T_TMP/members" && grep -qx box.img "$T_TMP/members" && grep -qx Vagrantfile "$T_TMP/members"
ok $? "the box holds metadata.json, Vagrantfile and box.img"
tar -xzOf "$T_TMP/mine.box" box.img > "$T_TMP/box.img" 2>/dev/null
qemu-img info --output=json "$T_TMP/box.img" | python3 -c 'import json,sys; i=json.load(sys.stdin); sys.exit(0 if i["format"]=="qcow2" and "backing-filename" not in i else 1)'
ok $? "box.img is a standalone qcow2 (no backing file)"
run_vmenv -C "$P" package --output "$T_TMP/mine.box"
[ "$RC" -ne 0 ]; ok $? "package refuses to overwrite without -f"

run_vmenv box add mine/packaged "$T_TMP/mine.box"
expect_eq "box add of the packaged box exits 0" 0 "$RC"
Q=$T_TMP/from-package
new_project "$Q" "box: mine/packaged
memory: 192M
boot_timeout: 240"
track "$Q"
run_vmenv -C "$Q" up
expect_eq "up from the packaged box exits 0" 0 "$RC"
[ "$RC" = 0 ] || printf '# %s\n' "$ERR" | head -20
run_vmenv -C "$Q" ssh -c 'cat /home/vagrant/mark'
expect_eq "the new machine has the packaged machine's files" packaged "$OUT"

"$VMENV" -C "$Q" destroy -f >/dev/null 2>&1
"$VMENV" -C "$P" destroy -f >/dev/null 2>&1
done_testing
