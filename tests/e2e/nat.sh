# network: nat end to end. The test makes a network namespace of its own and
# runs a libvirtd and virtlogd inside it, with /run/libvirt, /etc/libvirt,
# /var/lib/libvirt, /var/cache/libvirt and /var/log/libvirt on temporary
# folders of a private mount namespace: the NAT network vmenv makes, its
# dnsmasq and the guest exist only there, and nothing reaches the host's own
# network. Checks: up makes and starts the network, the address comes from
# the DHCP lease, SSH goes straight to the guest's port 22 (libssh and the
# system ssh through ssh-config's host key), port says so, a halt and up
# finds the address again, and forwarded_ports are refused in nat mode.
. "$(dirname "$0")/../lib-netns.sh"
[ -n "${VMENV_NETNS:-}" ] || netns_enter_vm_test vmenv-nat "$0"

# --- inside the namespaces (lib-vm.sh, sourced once libvirtd answers,
# brings lib.sh: TAP, T_TMP, on_exit)
netns_libvirtd_start || { echo "Bail out! no libvirtd in the namespace"; exit 1; }
. "$VMENV_SRCDIR/tests/e2e/lib-vm.sh"
T_CLEANUP=(netns_libvirtd_stop "${T_CLEANUP[@]}") # runs last, after vm_cleanup
echo "# network namespace $VMENV_NETNS, libvirtd pid $(cat "$VMENV_NETNS_DIR/libvirtd.pid")"

P=$T_TMP/natproj
new_project "$P" "box: vmenv/tiny
box_url: $CATALOG
memory: 192M
boot_timeout: 120
network: nat"
run_vmenv -C "$P" up
track "$P"
expect_eq "up in nat mode" 0 "$RC"
[ "$RC" -eq 0 ] || printf '%s\n' "$ERR" | sed 's/^/# /'
virsh -c qemu:///system net-info vmenv 2>/dev/null | grep -q '^Active: *yes'
ok $? "the libvirt network 'vmenv' was made and started"
virsh -c qemu:///system net-dumpxml vmenv 2>/dev/null | grep -q "<forward mode='nat'"
ok $? "it is a NAT network"

run_vmenv -C "$P" ssh-config
HOST=$(printf '%s\n' "$OUT" | awk '$1 == "HostName" {gsub(/"/, "", $2); print $2}')
PORT=$(printf '%s\n' "$OUT" | awk '$1 == "Port" {print $2}')
case $HOST in 192.168.*) ok 0 "ssh-config names the guest's own address ($HOST)";; *) ok 1 "ssh-config host: '$HOST'";; esac
expect_eq "and its port 22" 22 "$PORT"
LEASE=$(virsh -c qemu:///system domifaddr "$(echo $VM_DOMAINS | awk '{print $1}')" --source lease 2>/dev/null |
    awk '/ipv4/ {sub("/.*", "", $4); print $4}')
expect_eq "the address is the one in the DHCP lease" "$HOST" "$LEASE"

run_vmenv -C "$P" ssh -c 'ip -4 -o addr show eth0'
case $OUT in *"inet $HOST/"*) ok 0 "vmenv ssh reaches the guest, which has that address";; *) ok 1 "guest address: $OUT $ERR";; esac
ip route get "$HOST" | grep -q 'dev virbr'
ok $? "the host reaches it through the network's bridge, not a forward"
run_vmenv -C "$P" ssh -- 'echo via-system-ssh'
expect_eq "the system ssh logs in with the pinned host key" "via-system-ssh" "$OUT"
run_vmenv -C "$P" port
case $OUT in *"NAT network at $HOST"*) ok 0 "port says the machine is on a NAT network";; *) ok 1 "port: $OUT $ERR";; esac

run_vmenv -C "$P" halt
expect_eq "halt" 0 "$RC"
run_vmenv -C "$P" up
expect_eq "up again" 0 "$RC"
run_vmenv -C "$P" ssh -c 'echo back'
expect_eq "the address is found again after a reboot" "back" "$OUT"

Q=$T_TMP/natports
new_project "$Q" "box: vmenv/tiny
box_url: $CATALOG
memory: 192M
boot_timeout: 120
network: nat
forwarded_ports:
  - { guest: 80, host: 8080 }"
run_vmenv -C "$Q" up
track "$Q"
expect_eq "forwarded_ports in nat mode: a config error (exit 78)" 78 "$RC"
case $ERR in *"forwarded ports need 'network: user'"*) ok 0 "the error says why";; *) ok 1 "nat ports: $ERR";; esac
[ -z "$(virsh -c qemu:///system list --all --name | grep -F natports)" ]; ok $? "nothing was defined"

run_vmenv -C "$P" destroy -f
expect_eq "destroy" 0 "$RC"
done_testing
