# The boot wait watches the domain: a guest paused or destroyed behind
# vmenv's back while up waits for SSH ends the wait within seconds with the
# state in the error, and the next up finishes the machine.
. "$VMENV_SRCDIR/tests/e2e/lib-vm.sh"

P=$T_TMP/watch
new_project "$P" "box: vmenv/tiny
box_url: $CATALOG
memory: 192M
boot_timeout: 300"

# stop_during_wait VERB WANT-STATE: runs up, does 'virsh VERB' once up
# waits for SSH, and checks how up ends
stop_during_wait() {
    local verb=$1 want=$2 log=$T_TMP/up-$1.log dom t0 t1 rc
    start_up "$P" "$log"
    wait_log "$log" "waiting for SSH" 120; ok $? "$verb: up reaches the SSH wait"
    track "$P"
    dom=$(domain_of "$P")
    virsh -c qemu:///system "$verb" "$dom" >/dev/null
    t0=$(date +%s.%N)
    wait "$UP_PID"; rc=$?
    t1=$(date +%s.%N)
    expect_eq "$verb: up fails with the documented exit status 69" 69 "$rc"
    # not a timing assertion of vmenv's speed: 300 s would be the timeout
    python3 -c "import sys; sys.exit(0 if $t1 - $t0 < 30 else 1)"
    ok $? "$verb: up ends soon, not at the boot timeout ($(python3 -c "print(round($t1 - $t0, 1))") s)"
    grep -q "stopped while booting: domain '$dom' is $want" "$log"
    ok $? "$verb: the error names the domain and its state ($want)
$(tail -5 "$log")"
    grep -q "serial console" "$log"; ok $? "$verb: the error shows the serial console"
    run_vmenv -C "$P" up
    expect_eq "$verb: the next up finishes the machine" 0 "$RC"
    machine_good "$P" "$verb"
    run_vmenv -C "$P" destroy -f
    expect_eq "$verb: destroy exits 0" 0 "$RC"
    [ -z "$(virsh -c qemu:///system list --all --name | grep -Fx "$dom")" ]; ok $? "$verb: no domain is left"
}

stop_during_wait suspend paused
stop_during_wait destroy "shut off"

done_testing
