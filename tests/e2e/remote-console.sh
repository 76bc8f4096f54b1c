# The boot diagnosis of a remote machine: the nossh box on a "remote host"
# (tests/lib-remote.sh) prints its console marker and never answers SSH; up's
# error carries the tail of the serial console, read back through libvirt
# from the log volume in the remote host's pool, and destroy removes it.
. "$(dirname "$0")/../lib-remote.sh"
[ -n "${VMENV_REMOTE:-}" ] || remote_enter_vm_test vmenv-rcons "$0"

# --- inside: the host answers at REMOTE_ADDR, /root/.ssh is the test's
. "$VMENV_SRCDIR/tests/e2e/lib-vm.sh"
on_exit remote_vm_cleanup
export VMENV_LIBVIRT_URI=$REMOTE_URI
echo "# remote host $REMOTE_ADDR (namespace $VMENV_REMOTE)"

P=$T_TMP/nossh
new_project "$P" "box: vmenv/tiny-nossh
box_url: file://$VMENV_TEST_BOXES/catalog-tiny-nossh.json
memory: 192M
boot_timeout: 60"

run_vmenv -C "$P" up
expect_eq "up of a remote guest without SSH times out (exit 75)" 75 "$RC"
case $ERR in *"did not run a command over SSH"*) ok 0 "the error says SSH never answered";; *) ok 1 "timeout message: $ERR";; esac
case $ERR in *"serial console (last lines):"*"| vmenv-tiny: ssh disabled (nossh variant)"*)
    ok 0 "the error shows the remote console's tail with the box's marker";;
*) ok 1 "console tail of the remote domain missing"; printf '# %s\n' "$ERR" | tail -30;; esac
DOM=$(remote_virsh list --all --name | grep '^vmenv-' | head -1)
[ -n "$DOM" ]; ok $? "the domain is on the remote host"
remote_virsh vol-list "$VMENV_POOL" 2>/dev/null | grep -q -- "$DOM-console\.log"
ok $? "its console log is a volume of the remote host's pool"
remote_nsenter grep -q 'vmenv-tiny: ssh disabled' "/var/lib/libvirt/images/vmenv/$DOM-console.log"
ok $? "the remote host's virtlogd wrote it"

run_vmenv -C "$P" destroy -f
expect_eq "destroy exits 0" 0 "$RC"
remote_virsh vol-list "$VMENV_POOL" 2>/dev/null | grep -q -- '-console\.log'
[ $? -ne 0 ]; ok $? "destroy removes the console log from the remote pool"

done_testing
