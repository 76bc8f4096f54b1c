# host_ip '::1' in forwarded_ports: the port checks at up take IPv6, and the
# forward itself needs libvirt >= 9.2 with passt, since QEMU's -netdev user
# hostfwd (7.2 here) takes IPv4 only ("tcp:[::1]:P-:G" is a "Bad host
# address"). Without passt, up refuses before defining anything.
. "$VMENV_SRCDIR/tests/e2e/lib-vm.sh"

P=$T_TMP/proj6
PORT=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1",0)); print(s.getsockname()[1])')
new_project "$P" "box: vmenv/tiny
box_url: $CATALOG
memory: 256M
boot_timeout: 240
forwarded_ports:
  - { guest: 8000, host: $PORT, host_ip: '::1' }"
track "$P"

passt=0
command -v passt >/dev/null && [ "$(virsh -c qemu:///system version 2>/dev/null |
    sed -n 's/.*libvirt \([0-9]*\)\.\([0-9]*\).*/\1\2/p' | head -1)" -ge 902 ] 2>/dev/null && passt=1

run_vmenv -C "$P" up
if [ $passt = 1 ]; then
    expect_eq "up with host_ip ::1 exits 0 (passt)" 0 "$RC"
    ss -ltn "sport = :$PORT" | grep -q "\[::1\]:$PORT"
    ok $? "the forward listens on [::1]:$PORT"
else
    [ "$RC" = 78 ] && [[ $ERR == *"host_ip '::1' of host port $PORT is not an IPv4 address"* ]] &&
        [[ $ERR == *"IPv6 forwards need libvirt >= 9.2 with passt"* ]]
    ok $? "without passt, up refuses host_ip ::1 with the reason and what is needed
$ERR"
    [[ $ERR != *"not an address of this host"* ]]
    ok $? "the IPv6 port check itself passes"
fi

# A taken IPv6 port is reported as taken, not as a bad address.
python3 -c 'import socket,time,sys; s=socket.socket(socket.AF_INET6); s.bind(("::1",int(sys.argv[1]))); s.listen(); open(sys.argv[2],"w").close(); time.sleep(120)' "$PORT" "$T_TMP/held" &
holder=$!
on_exit "kill $holder 2>/dev/null"
for _ in $(seq 100); do [ -e "$T_TMP/held" ] && break; sleep 0.1; done
run_vmenv -C "$P" destroy -f
run_vmenv -C "$P" up
[[ $ERR == *"host port $PORT (::1/tcp) is already in use"* ]]
ok $? "a taken port on ::1 is reported as in use
$ERR"
kill $holder 2>/dev/null
run_vmenv -C "$P" destroy -f
expect_eq "destroy exits 0" 0 "$RC"
done_testing
