# The failure paths of up: a guest whose SSH never starts gets a diagnosis
# (state, console, last error) and a machine that destroy removes; a box that
# cannot be found leaves nothing behind; a taken host port is named.
. "$VMENV_SRCDIR/tests/e2e/lib-vm.sh"

P=$T_TMP/nossh
new_project "$P" "box: vmenv/tiny-nossh
box_url: file://$VMENV_TEST_BOXES/catalog-tiny-nossh.json
memory: 192M
boot_timeout: 45"
track "$P"
# A cloned project may ship a link where the console log used to be:
# virtlogd (root) must not write through it.
mkdir -p "$P/.vmenv/machines/default"
echo untouched >"$T_TMP/victim"
ln -s "$T_TMP/victim" "$P/.vmenv/machines/default/console.log"
run_vmenv -C "$P" up
expect_eq "up of a guest without SSH times out (exit 75)" 75 "$RC"
expect_eq "a link planted at .vmenv/.../console.log is not written through" untouched "$(cat "$T_TMP/victim")"
virsh -c qemu:///system vol-list "$VMENV_POOL" 2>/dev/null | grep -q -- '-default-.*-console\.log'
ok $? "the console log is a volume of the machine's pool"
case $ERR in *"did not run a command over SSH"*) ok 0 "the error says SSH never answered";; *) ok 1 "timeout message: $ERR";; esac
case $ERR in *"serial console"*"|"*) ok 0 "the error shows the serial console";; *) ok 1 "console tail missing";; esac
case $ERR in *"| vmenv-tiny: ssh disabled"*) ok 0 "the console tail has the box's marker";; *) ok 1 "marker missing: $ERR";; esac
case $ERR in *"last SSH error"*) ok 0 "the error shows the last SSH error";; *) ok 1 "last error missing";; esac
run_vmenv -C "$P" destroy -f
expect_eq "destroy cleans up the failed machine" 0 "$RC"
! virsh -c qemu:///system vol-list "$VMENV_POOL" 2>/dev/null | grep -q -- '-console\.log'
ok $? "destroy removes the console log"
state=$("$VMENV" -C "$P" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["state"])')
expect_eq "nothing is left" "not created" "$state"

Q=$T_TMP/nobox
new_project "$Q" "box: vmenv/does-not-exist
box_url: file://$T_TMP/missing-catalog.json"
run_vmenv -C "$Q" up
[ "$RC" -ne 0 ]; ok $? "up with a missing box fails"
case $ERR in *does-not-exist*) ok 0 "the error names the box";; *) ok 1 "missing box: $ERR";; esac
[ -z "$(virsh -c qemu:///system list --all --name | grep -F "$(basename "$Q")")" ]; ok $? "no domain was defined"

# a host port in use is named, with its user
R=$T_TMP/busy
PORT=$(free_port)
python3 -c "import socket,time; s=socket.socket(); s.bind(('127.0.0.1',$PORT)); s.listen(); time.sleep(600)" &
LPID=$!
on_exit "kill $LPID"
for _ in $(seq 100); do ss -ltn "sport = :$PORT" | grep -q LISTEN && break; sleep 0.1; done
new_project "$R" "box: vmenv/tiny
box_url: $CATALOG
memory: 192M
forwarded_ports:
  - { guest: 80, host: $PORT }"
track "$R"
run_vmenv -C "$R" up
[ "$RC" -ne 0 ]; ok $? "up with a taken host port fails"
case $ERR in *"host port $PORT"*"in use by pid $LPID"*) ok 0 "the error names the port and who holds it";; *) ok 1 "port error: $ERR";; esac
"$VMENV" -C "$R" destroy -f >/dev/null 2>&1

# a stored image written to after it was added is refused before anything
# is defined (the box stays: its pool copy is shared with other tests)
S=$T_TMP/tampered
new_project "$S" "box: vmenv/tiny
box_url: $CATALOG
memory: 192M"
track "$S"
run_vmenv box add "$CATALOG"
IMG=$(ls "$VMENV_HOME"/boxes/vmenv-VAGRANTSLASH-tiny/*/libvirt/box.img | head -1)
printf 'X' | dd of="$IMG" bs=1 seek=8192 conv=notrunc status=none
run_vmenv -C "$S" up
expect_eq "up from an image written to in the store fails (exit 65)" 65 "$RC"
case $ERR in *"written to after it was checked"*"$IMG"*) ok 0 "the error names the image";; *) ok 1 "tampered image: $ERR";; esac
[ -z "$(virsh -c qemu:///system list --all --name | grep -F "$(basename "$S")")" ]; ok $? "no domain was defined"
case $ERR in *"vmenv box remove vmenv/tiny --box-version"*) ok 0 "the hint says how to get a clean copy";; *) ok 1 "hint: $ERR";; esac

done_testing
