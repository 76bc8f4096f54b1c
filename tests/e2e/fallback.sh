# The KVM fallback (issue 11), on any host: the test hook makes vmenv believe
# KVM works and run "KVM" guests through tests/fixtures/broken-kvm-qemu, which
# stops them the way a KVM that cannot run guests does ("emulation failure",
# paused (unknown)). up must fall back to TCG, boot, warn once, record the
# verdict, and the next up must not try KVM again; with VMENV_KVM=1 there is
# no fallback.
. "$VMENV_SRCDIR/tests/e2e/lib-vm.sh"

# libvirt-qemu runs the wrapper under qemu:///system: a copy in the test's
# own folder (lib-vm.sh makes it searchable), wherever the checkout is
wrapper=$T_TMP/broken-kvm-qemu
install -m 0755 "$VMENV_SRCDIR/tests/fixtures/broken-kvm-qemu" "$wrapper"

P=$T_TMP/fallback
new_project "$P" "box: vmenv/tiny
box_url: $CATALOG
memory: 192M
boot_timeout: 300"

VMENV_TEST_KVM_WRAPPER=$wrapper run_vmenv -C "$P" up
track "$P"
expect_eq "up falls back to TCG and succeeds" 0 "$RC"
[ "$RC" = 0 ] || printf '# %s\n' "$ERR" | tail -8
n=$(grep -c "KVM is present but cannot run this guest (emulation failure); using TCG emulation" <<< "$ERR")
expect_eq "it warns once, naming the emulation failure" 1 "$n"
dom=$(domain_of "$P")
xml=$(virsh -c qemu:///system dumpxml "$dom")
grep -q "<domain type='qemu'" <<< "$xml"; ok $? "the machine now runs under TCG"
! grep -q broken-kvm-qemu <<< "$xml"; ok $? "and not through the broken emulator"
machine_good "$P" "after the fallback"
state=$(VMENV_TEST_KVM_WRAPPER=$wrapper "$VMENV" -C "$P" status --json | python3 -c 'import json,sys; m=json.load(sys.stdin)[0]; print(m["accel"], m["accel_reason"])')
case $state in "tcg tcg: KVM present but the guest stopped: emulation failure") ok 0 "status --json says tcg and why";;
               *) ok 1 "status --json: $state";; esac
run_vmenv -C "$P" destroy -f
expect_eq "destroy exits 0" 0 "$RC"

# The verdict is remembered: the next up goes straight to TCG.
VMENV_TEST_KVM_WRAPPER=$wrapper run_vmenv -C "$P" up
expect_eq "the next up succeeds" 0 "$RC"
! grep -q "KVM is present but" <<< "$ERR"; ok $? "the next up does not try KVM again"
grep -q "running under TCG emulation (KVM present but the guest stopped: emulation failure)" <<< "$ERR"
ok $? "it says why it runs under TCG"
run_vmenv -C "$P" destroy -f

# VMENV_KVM=1 insists: the stop is an error, not a fallback.
export VMENV_HOME=$T_TMP/home-insist
VMENV_KVM=1 VMENV_TEST_KVM_WRAPPER=$wrapper run_vmenv -C "$P" up
expect_eq "with VMENV_KVM=1 up fails (exit 69)" 69 "$RC"
grep -q "stopped while booting.*emulation failure" <<< "$ERR"; ok $? "the error names the emulation failure
$ERR"
grep -q "KVM internal error" <<< "$ERR"; ok $? "the error quotes QEMU's log"
! grep -q "using TCG emulation" <<< "$ERR"; ok $? "no fallback"
run_vmenv -C "$P" destroy -f
expect_eq "destroy cleans up" 0 "$RC"
[ -z "$(virsh -c qemu:///system list --all --name | grep -Fx "$dom")" ]; ok $? "no domain is left"

done_testing
