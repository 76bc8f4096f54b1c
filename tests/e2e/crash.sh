# Crash tests: 'vmenv up' killed with SIGKILL at each phase (box add,
# upload into the pool, define, boot wait, first boot, provisioning), then
# the next up must finish the machine (own key in use, insecure key
# refused, provisioners done) and destroy must leave no domain or volume.
# A crash between the key swap in the guest and the state saying so is
# made exactly, by editing the state the way such a crash leaves it.
. "$VMENV_SRCDIR/tests/e2e/lib-vm.sh"

yaml="box: vmenv/tiny
box_url: $CATALOG
memory: 192M
boot_timeout: 300
provision:
  - { name: slow, shell: 'sleep 3; echo done > /tmp/provisioned', run: once }"

pool_volumes() { # the overlay volumes of machines left in the test pool
    virsh -c qemu:///system vol-list "$VMENV_POOL" 2>/dev/null | awk 'NR>2 && $1 ~ /^vmenv-[^b]/ {print $1}'
}

# crash_at PHASE PATTERN: kill up when its -v log matches PATTERN
crash_at() {
    local phase=$1 pattern=$2 P=$T_TMP/crash-$1 log=$T_TMP/crash-$1.log dom
    new_project "$P" "$yaml"
    # a fresh box store and pool each time, so box add and upload happen
    export VMENV_HOME=$T_TMP/home-$phase VMENV_POOL=vmenv-test-$$-$phase
    export VMENV_POOL_PATH=$T_TMP/pool-$phase
    on_exit "VMENV_POOL=$VMENV_POOL vm_cleanup"
    start_up "$P" "$log"
    if wait_log "$log" "$pattern" 180; then
        kill -9 "$UP_PID" 2>/dev/null
        ok 0 "$phase: up was killed at '$pattern'"
    else
        ok 1 "$phase: up never reached '$pattern'
$(tail -5 "$log")"
    fi
    wait "$UP_PID" 2>/dev/null
    track "$P"
    run_vmenv -C "$P" up
    expect_eq "$phase: the next up exits 0" 0 "$RC"
    [ "$RC" = 0 ] || printf '# %s\n' "$ERR" | tail -8
    track "$P"
    machine_good "$P" "$phase"
    [ "$("$VMENV" -C "$P" ssh -c 'cat /tmp/provisioned' 2>/dev/null)" = done ]
    ok $? "$phase: the provisioner ran"
    dom=$(domain_of "$P")
    run_vmenv -C "$P" destroy -f
    expect_eq "$phase: destroy exits 0" 0 "$RC"
    [ -z "$(virsh -c qemu:///system list --all --name | grep -Fx "$dom")" ]; ok $? "$phase: no domain is left"
    [ -z "$(pool_volumes | grep -F "$dom")" ]; ok $? "$phase: no overlay volume is left"
}

crash_at box-add "creating from box"
crash_at upload "uploading '"
crash_at define "box and disk ready"
crash_at boot-wait "waiting for SSH"
crash_at first-boot "first boot: own key"
crash_at provision "provisioner 'slow'"

# The key swap happened in the guest, the state was not saved: the state
# says the key is pending, the guest takes only the machine's key.
P=$T_TMP/swap
export VMENV_HOME=$T_TMP/home-swap VMENV_POOL=vmenv-test-$$-swap VMENV_POOL_PATH=$T_TMP/pool-swap
on_exit "VMENV_POOL=$VMENV_POOL vm_cleanup"
new_project "$P" "$yaml"
run_vmenv -C "$P" up
expect_eq "swap: first up exits 0" 0 "$RC"
track "$P"
S=$P/.vmenv/machines/default/state.json
python3 - "$S" <<'PY'
import json, sys
p = sys.argv[1]; s = json.load(open(p))
s.update(key_replaced=False, key_pending=True, first_boot_done=False)
json.dump(s, open(p, "w"))
PY
run_vmenv -C "$P" halt
run_vmenv -C "$P" up
expect_eq "swap done, state not saved: up exits 0" 0 "$RC"
machine_good "$P" "swap done, state not saved"

# The key was made, the swap never reached the guest: the guest still
# takes only the insecure key.
pub=$(ssh-keygen -y -f "$(insecure_key)")
"$VMENV" -C "$P" ssh -c "printf '%s\n' '$pub' > ~/.ssh/authorized_keys" >/dev/null 2>&1
python3 - "$S" <<'PY'
import json, sys
p = sys.argv[1]; s = json.load(open(p))
s.update(key_replaced=False, key_pending=True, first_boot_done=False)
json.dump(s, open(p, "w"))
PY
ssh_with "$P/.vmenv/machines/default/private_key" "$(ssh_port "$P")" true 2>/dev/null
[ $? -ne 0 ]; ok $? "swap not done: the guest refuses the machine's key"
run_vmenv -C "$P" up --no-provision
expect_eq "swap not done, key pending: up exits 0" 0 "$RC"
machine_good "$P" "swap not done, key pending"
run_vmenv -C "$P" destroy -f

done_testing
