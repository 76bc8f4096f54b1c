#!/bin/bash
# Private networks end to end, all of it inside a network namespace this
# test makes, with a libvirtd and virtlogd of its own (tests/lib-netns.sh, as
# tests/e2e/nat.sh): the isolated network, its bridge and dnsmasq and the
# guests exist only there. Two tiny-box machines on one private network
# with fixed addresses: each has its address on the NIC with its MAC, pings
# the other by address and by name, reaches a TCP service on the other
# (busybox nc); status and port show the addresses; halt/up keeps them;
# destroy of one keeps the network, of both removes it. Refused: a network
# under the project's name that vmenv did not make. When the Debian box is
# there: the ifupdown configuration vmenv writes, and a changed address
# applied by reload.
. "$(dirname "$0")/../lib-netns.sh"
[ -n "${VMENV_NETNS:-}" ] || netns_enter_vm_test vmenv-privnet "$0"

netns_libvirtd_start || { echo "Bail out! no libvirtd in the namespace"; exit 1; }
. "$VMENV_SRCDIR/tests/e2e/lib-vm.sh"
T_CLEANUP=(netns_libvirtd_stop "${T_CLEANUP[@]}") # runs last, after vm_cleanup
echo "# network namespace $VMENV_NETNS, libvirtd pid $(cat "$VMENV_NETNS_DIR/libvirtd.pid")"
V="virsh -c qemu:///system"
# banner IP: the first 7 bytes an SSH server at IP:22 sends (no ping here)
banner() { timeout 10 bash -c 'exec 3<>"/dev/tcp/$1/22" && head -c 7 <&3' _ "$1" 2>/dev/null; }

P=$T_TMP/pn
new_project "$P" "box: vmenv/tiny
box_url: $CATALOG
memory: 256M
boot_timeout: 180
machines:
  web:
    networks:
      - { type: private, ip: 192.168.77.10 }
  db:
    networks:
      - { type: private, ip: 192.168.77.11 }"
NET=$("$VMENV" -C "$P" validate --json >/dev/null && echo "vmenv-pn-private-$(printf '%s' "$(cd "$P" && pwd -P)" | sha256sum | cut -c1-8)")

run_vmenv -C "$P" up
track "$P"
expect_eq "up of two machines on a private network" 0 "$RC"
[ "$RC" -eq 0 ] || printf '%s\n' "$ERR" | sed 's/^/# /'
$V net-info "$NET" 2>/dev/null | grep -q '^Active: *yes'
ok $? "the network '$NET' was made and started"
XML=$($V net-dumpxml "$NET" 2>/dev/null)
case $XML in *"<forward"*) ok 1 "the network is isolated (no <forward>)";; *) ok 0 "the network is isolated (no <forward>)";; esac
case $XML in *"<vmenv:project>$(cd "$P" && pwd -P)</vmenv:project>"*) ok 0 "it carries the project's mark";; *) ok 1 "no project mark: $XML";; esac
case $XML in *"name='db' ip='192.168.77.11'"*"<hostname>db.pn.vmenv</hostname>"*|*"<hostname>db.pn.vmenv</hostname>"*"name='db' ip='192.168.77.11'"*)
    ok 0 "DHCP reservation and DNS name for db";; *) ok 1 "DHCP/DNS for db: $XML";; esac

MAC=$($V domiflist "$(domain_of "$P" web)" 2>/dev/null | awk -v n="$NET" '$3 == n {print $5}')
run_vmenv -C "$P" ssh web -c "ip -4 -o addr; cat /sys/class/net/*/address"
case $OUT in *"inet 192.168.77.10/24"*) ok 0 "web has 192.168.77.10/24";; *) ok 1 "web's addresses: $OUT $ERR";; esac
case $OUT in *"$MAC"*) ok 0 "on the NIC with the MAC libvirt shows ($MAC)";; *) ok 1 "MAC $MAC not in: $OUT";; esac
run_vmenv -C "$P" ssh web -c 'sudo -n ping -c 1 -W 5 192.168.77.11 >/dev/null && echo ok'
expect_eq "web pings db by address" ok "$OUT"
run_vmenv -C "$P" ssh web -c 'sudo -n ping -c 1 -W 5 db >/dev/null && echo ok'
expect_eq "web pings db by name" ok "$OUT"
run_vmenv -C "$P" ssh db -c 'sudo -n ping -c 1 -W 5 web.pn.vmenv >/dev/null && echo ok'
expect_eq "db pings web by web.<project>.vmenv" ok "$OUT"
run_vmenv -C "$P" ssh db -c 'nslookup web 192.168.77.1 2>&1'
case $OUT in *192.168.77.10*) ok 0 "the network's DNS (at the host's address) knows web";; *) ok 1 "nslookup: $OUT";; esac

run_vmenv -C "$P" status --json
got=$(python3 -c 'import json,sys; print(" ".join(m["name"] + "=" + ",".join(n["network"] + ":" + n["ip"] for n in m["private_networks"]) for m in json.load(sys.stdin)))' <<<"$OUT")
expect_eq "status --json shows the private addresses" "web=private:192.168.77.10 db=private:192.168.77.11" "$got"
run_vmenv -C "$P" port db
case $OUT in *"192.168.77.11 (private network 'private', every port)"*) ok 0 "port shows db's private address";; *) ok 1 "port: $OUT $ERR";; esac
run_vmenv -C "$P" port --json web
got=$(python3 -c 'import json,sys; print([(p["network"], p["ip"]) for p in json.load(sys.stdin) if "network" in p])' <<<"$OUT")
expect_eq "port --json too" "[('private', '192.168.77.10')]" "$got"
run_vmenv -C "$P" ssh-config web
case $OUT in *192.168.77*) ok 1 "ssh-config is unchanged: $OUT";; *) ok 0 "ssh-config is unchanged (127.0.0.1)";; esac

expect_eq "the host reaches web's sshd at its private address" SSH-2.0 "$(banner 192.168.77.10)"

# a TCP service on db, reached from web
run_vmenv -C "$P" ssh db -c 'printf "#!/bin/sh\necho pong\n" >/tmp/pong && chmod +x /tmp/pong &&
    setsid nc -l -p 7777 -e /tmp/pong </dev/null >/dev/null 2>&1 & sleep 1; echo started'
expect_eq "a TCP service on db" started "$OUT"
run_vmenv -C "$P" ssh web -c 'sleep 3 | nc -w 5 db 7777'
expect_eq "web reaches it over the private network" pong "$OUT"

run_vmenv -C "$P" ssh web -c 'echo hi' >/dev/null
run_vmenv -C "$P" halt web
expect_eq "halt web" 0 "$RC"
run_vmenv -C "$P" up web
expect_eq "up web again" 0 "$RC"
run_vmenv -C "$P" ssh web -c 'ip -4 -o addr | grep -c "inet 192.168.77.10/24"; sudo -n ping -c 1 -W 5 db >/dev/null && echo ok'
expect_eq "halt/up keeps web's address and db is reachable" "1
ok" "$OUT"

run_vmenv -C "$P" destroy -f web
expect_eq "destroy web" 0 "$RC"
$V net-info "$NET" >/dev/null 2>&1
ok $? "the network stays while db is on it"
run_vmenv -C "$P" destroy -f db
expect_eq "destroy db" 0 "$RC"
case $ERR in *"removed private network 'private'"*) ok 0 "destroy says it removed the network";; *) ok 1 "destroy: $ERR";; esac
$V net-info "$NET" >/dev/null 2>&1
ok $((! $?)) "the last destroy removed the network"

# --- refusals: a network under the project's name that vmenv did not make
R=$T_TMP/pr
new_project "$R" "box: vmenv/tiny
box_url: $CATALOG
memory: 256M
boot_timeout: 180
networks:
  - { type: private, ip: 192.168.79.10 }"
RNET="vmenv-pr-private-$(printf '%s' "$(cd "$R" && pwd -P)" | sha256sum | cut -c1-8)"
printf "<network><name>%s</name><ip address='10.99.0.1' prefix='24'/></network>\n" "$RNET" >"$T_TMP/hand.xml"
$V net-define "$T_TMP/hand.xml" >/dev/null 2>&1
ok $? "a network made by hand under the name vmenv would use"
run_vmenv -C "$R" up
track "$R"
expect_eq "up refuses to take it over (exit 77)" 77 "$RC"
case $ERR in *"refusing to touch network '$RNET': it has no vmenv metadata"*) ok 0 "and says why";; *) ok 1 "refusal: $ERR";; esac
[ -z "$($V list --all --name | grep -F vmenv-pr-)" ]; ok $? "no domain was defined"
run_vmenv -C "$R" destroy -f
expect_eq "destroy of the half-made machine works" 0 "$RC"
$V net-dumpxml "$RNET" 2>/dev/null | grep -q "10.99.0.1"
ok $? "and leaves the hand-made network alone"
$V net-undefine "$RNET" >/dev/null 2>&1

# a subnet the host (here: the namespace) already has an address in
ip link add vmenvtest0 type bridge && ip addr add 192.168.79.200/24 dev vmenvtest0
ok $? "a bridge with 192.168.79.200/24 on the host side"
run_vmenv -C "$R" up
expect_eq "up refuses a network over a host address (exit 78)" 78 "$RC"
case $ERR in *"vmenv.yaml:6:5: network 'private' (192.168.79.0/24) overlaps the host's address 192.168.79.200/24 on 'vmenvtest0'"*)
    ok 0 "at file:line, naming the address";; *) ok 1 "overlap: $ERR";; esac
[ -z "$($V list --all --name | grep -F vmenv-pr-)" ]; ok $? "nothing was defined"
run_vmenv -C "$R" destroy -f
expect_eq "destroy still works" 0 "$RC"
ip link del vmenvtest0

# --- the Debian box: ifupdown configuration written by vmenv, kept by reload
if [ -f "$VMENV_TEST_BOXES/catalog-debian12.json" ]; then
    D=$T_TMP/pd
    deb_project() { # deb_project IP
        new_project "$D" "box: vmenv/debian12
box_url: file://$VMENV_TEST_BOXES/catalog-debian12.json
memory: 512M
boot_timeout: 600
networks:
  - { type: private, ip: $1 }"
    }
    deb_project 192.168.78.10
    DNET="vmenv-pd-private-$(printf '%s' "$(cd "$D" && pwd -P)" | sha256sum | cut -c1-8)"
    run_vmenv -C "$D" up
    track "$D"
    expect_eq "Debian: up with a private network" 0 "$RC"
    [ "$RC" -eq 0 ] || printf '%s\n' "$ERR" | tail -20 | sed 's/^/# /'
    run_vmenv -C "$D" ssh -c 'cat /etc/network/interfaces.d/vmenv-private; ip -4 -o addr'
    case $OUT in *"iface eth1 inet static"*"address 192.168.78.10/24"*"inet 192.168.78.10/24"*)
        ok 0 "Debian: ifupdown configuration written and eth1 has 192.168.78.10/24";;
        *) ok 1 "Debian ifupdown: $OUT $ERR";; esac
    # the test runs where the network's host side is: the guest's sshd
    # answers there at the private address
    expect_eq "Debian: the machine answers at its private address" SSH-2.0 "$(banner 192.168.78.10)"
    deb_project 192.168.78.20
    run_vmenv -C "$D" reload
    expect_eq "Debian: reload with a changed address" 0 "$RC"
    run_vmenv -C "$D" ssh -c 'grep address /etc/network/interfaces.d/vmenv-private; ip -4 -o addr show eth1'
    case $OUT in *"address 192.168.78.20/24"*"inet 192.168.78.20/24"*)
        case $OUT in *192.168.78.10*) ok 1 "Debian: the old address is gone: $OUT";;
            *) ok 0 "Debian: after reload the new address, in the file and on eth1";; esac;;
        *) ok 1 "Debian after reload: $OUT $ERR";; esac
    expect_eq "Debian: and answers there" SSH-2.0 "$(banner 192.168.78.20)"
    $V net-dumpxml "$DNET" 2>/dev/null | grep -q "ip='192.168.78.20'"
    ok $? "Debian: the running network's reservation follows"
    run_vmenv -C "$D" destroy -f
    expect_eq "Debian: destroy" 0 "$RC"
    $V net-info "$DNET" >/dev/null 2>&1
    ok $((! $?)) "Debian: its network is gone"
else
    echo "# no Debian box in $VMENV_TEST_BOXES: its part is not run"
fi
done_testing
