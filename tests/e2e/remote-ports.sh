# Host ports taken on a remote hypervisor's host heal by themselves: the
# tiny box up on a "remote host" (tests/lib-remote.sh), halted, then its
# ports taken inside that host's namespace by holders this test starts
# (killed by pid). A holder that only binds (no listen) is invisible to the
# jump's probe, so the start finds it (QEMU: "Could not set up host
# forwarding rule") and up moves the port and starts again; a listener is
# seen by the probe before the domain is defined. The SSH port always
# moves; a forwarded port moves only with auto_correct, else up fails
# naming the port and the host, and leaves a machine a later up starts.
. "$(dirname "$0")/../lib-remote.sh"
[ -n "${VMENV_REMOTE:-}" ] || remote_enter_vm_test vmenv-rports "$0"

# --- inside: the host answers at REMOTE_ADDR, /root/.ssh is the test's
. "$VMENV_SRCDIR/tests/e2e/lib-vm.sh"
on_exit remote_vm_cleanup
export VMENV_LIBVIRT_URI=$REMOTE_URI
echo "# remote host $REMOTE_ADDR (namespace $VMENV_REMOTE)"

# hold MODE PORT: a process in the remote host's namespace holding its
# 127.0.0.1:PORT, "listen" (a listener) or "bind" (bound, not listening: a
# connection is refused, yet QEMU cannot bind it); HOLD_PID gets its pid
# (nsenter execs it). Without SO_REUSEADDR, a bind waits for the port's
# TIME_WAIT connections (the guest's SSH sessions) to end, a minute at most.
hold() {
    local f=$T_TMP/hold-$2
    rm -f "$f"
    nsenter -t "$(cat "$VMENV_REMOTE_DIR/mnt.pid")" -n -m python3 -c '
import socket, sys, time
s = socket.socket()
if sys.argv[1] == "listen":
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
for _ in range(900):
    try:
        s.bind(("127.0.0.1", int(sys.argv[2])))
        break
    except OSError:
        time.sleep(0.1)
else:
    sys.exit("cannot bind")
if sys.argv[1] == "listen":
    s.listen()
print("HOLDING", flush=True)
time.sleep(3600)' "$1" "$2" >"$f" 2>&1 &
    HOLD_PID=$!
    on_exit "kill $HOLD_PID 2>/dev/null"
    for _ in $(seq 1000); do grep -q HOLDING "$f" 2>/dev/null && return 0; sleep 0.1; done
    sed 's/^/# hold: /' "$f"
    return 1
}
unhold() { kill "$@"; wait "$@" 2>/dev/null; }
# xml_has PORT GUEST: the remote domain's definition forwards PORT to GUEST
xml_has() {
    remote_virsh dumpxml "$DOM" 2>/dev/null | grep -q "hostfwd=tcp:127.0.0.1:$1-:$2"
}
count() { printf '%s\n' "$1" | grep -c -- "$2"; }

P=$T_TMP/proj
WEB=$(free_port)
ALT=$(free_port)
new_project "$P" "box: vmenv/tiny
box_url: $CATALOG
memory: 192M
boot_timeout: 300
forwarded_ports:
  - { guest: 8000, host: $WEB }
  - { guest: 8001, host: $ALT, auto_correct: true }"

run_vmenv -C "$P" up
expect_eq "up on the remote host exits 0" 0 "$RC"
[ "$RC" = 0 ] || printf '# %s\n' "$ERR" | tail -40
DOM=$(remote_virsh list --name | grep '^vmenv-' | head -1)
SSH1=$(ssh_port "$P")
xml_has "$SSH1" 22; ok $? "the domain forwards the recorded SSH port $SSH1"
run_vmenv -C "$P" halt
expect_eq "halt exits 0" 0 "$RC"

# -- taken in a way only the start finds: the SSH port and the
# auto_correct one, so up starts three times
hold bind "$SSH1"; ok $? "the SSH port $SSH1 is bound on the remote host"
H1=$HOLD_PID
hold bind "$ALT"; ok $? "the auto_correct port $ALT is bound on the remote host"
H2=$HOLD_PID
run_vmenv -C "$P" -v up
expect_eq "up with both ports taken there exits 0" 0 "$RC"
[ "$RC" = 0 ] || printf '# %s\n' "$ERR" | grep -v debug | tail -40
expect_eq "QEMU found two ports taken: three starts" 2 \
    "$(count "$ERR" "Could not set up host forwarding rule")"
[ "$(count "$ERR" "rule 'tcp:127.0.0.1:$SSH1-:22'")" = 1 ] &&
    [ "$(count "$ERR" "rule 'tcp:127.0.0.1:$ALT-:8001'")" = 1 ]
ok $? "one for the SSH port, one for the other (in QEMU's order)"
expect_eq "one warning for the SSH port" 1 \
    "$(count "$ERR" "host port $SSH1 is taken on $REMOTE_ADDR; forwarding [0-9]* instead")"
expect_eq "one warning for the auto_correct port" 1 \
    "$(count "$ERR" "host port $ALT is taken on $REMOTE_ADDR; forwarding [0-9]* instead")"
expect_eq "no other port moved" 2 "$(count "$ERR" "is taken on")"
SSH2=$(ssh_port "$P")
[ -n "$SSH2" ] && [ "$SSH2" != "$SSH1" ]; ok $? "vmenv port shows a new SSH port ($SSH1 -> $SSH2)"
case $ERR in *"host port $SSH1 is taken on $REMOTE_ADDR; forwarding $SSH2 instead"*)
    ok 0 "the warning names the new port";; *) ok 1 "warning: $ERR";; esac
ALT2=$("$VMENV" -C "$P" port --json | python3 -c 'import json,sys; print([p["host"] for p in json.load(sys.stdin) if p["guest"] == 8001][0])')
[ "$ALT2" != "$ALT" ]; ok $? "and a new port for the auto_correct forward ($ALT -> $ALT2)"
WEB1=$("$VMENV" -C "$P" port --json | python3 -c 'import json,sys; print([p["host"] for p in json.load(sys.stdin) if p["guest"] == 8000][0])')
expect_eq "the forward without auto_correct keeps its port" "$WEB" "$WEB1"
xml_has "$SSH2" 22 && xml_has "$ALT2" 8001 && xml_has "$WEB" 8000
ok $? "the domain has the ports the state records"
remote_nsenter ss -ltn "sport = :$SSH2" | grep -q "127.0.0.1:$SSH2"
ok $? "QEMU listens on the new SSH port on the remote host"
"$VMENV" -C "$P" ssh-config 2>/dev/null | grep -qx "  Port $SSH2"
ok $? "ssh-config says the new port"
run_vmenv -C "$P" ssh -c true
expect_eq "vmenv ssh -c true works on the new port" 0 "$RC"
unhold "$H1" "$H2"

# -- a listener, which the jump sees before the domain is defined
run_vmenv -C "$P" halt
expect_eq "halt exits 0" 0 "$RC"
hold listen "$SSH2"; ok $? "a listener on the SSH port $SSH2 on the remote host"
H3=$HOLD_PID
run_vmenv -C "$P" -v up
expect_eq "up with a listener on the SSH port exits 0" 0 "$RC"
[ "$RC" = 0 ] || printf '# %s\n' "$ERR" | grep -v 'debug' | tail -40
SSH3=$(ssh_port "$P")
case $ERR in *"host port $SSH2 is taken on $REMOTE_ADDR; forwarding $SSH3 instead"*)
    ok 0 "the warning names the port and the host";; *) ok 1 "warning: $ERR";; esac
[ "$(count "$ERR" "Could not set up host forwarding rule")" = 0 ]
ok $? "the probe moved it before the start (no QEMU failure)"
run_vmenv -C "$P" ssh -c true
expect_eq "vmenv ssh -c true works" 0 "$RC"
unhold "$H3"

# -- a forwarded port without auto_correct taken there: up fails
run_vmenv -C "$P" halt
for mode in listen bind; do
    hold $mode "$WEB"; ok $? "the forwarded port $WEB held on the remote host ($mode)"
    run_vmenv -C "$P" up
    expect_eq "up with the port taken ($mode) exits 69" 69 "$RC"
    case $ERR in *"host port $WEB (127.0.0.1/tcp) is already in use on '$REMOTE_ADDR'"*)
        ok 0 "the error names the port and the host";; *) ok 1 "error: $ERR";; esac
    case $ERR in *"auto_correct: true"*) ok 0 "the hint says auto_correct";; *) ok 1 "hint: $ERR";; esac
    st=$(remote_virsh domstate "$DOM" 2>/dev/null | head -1)
    expect_eq "the remote domain stays shut off" "shut off" "$st"
    SSH4=$(ssh_port "$P")
    expect_eq "the recorded SSH port is unchanged" "$SSH3" "$SSH4"
    xml_has "$SSH4" 22; ok $? "and the domain has it"
    unhold "$HOLD_PID"
done
run_vmenv -C "$P" up
expect_eq "up once the port is free exits 0" 0 "$RC"
[ "$RC" = 0 ] || printf '# %s\n' "$ERR" | tail -20
run_vmenv -C "$P" ssh -c true
expect_eq "vmenv ssh -c true works" 0 "$RC"

run_vmenv -C "$P" destroy -f
expect_eq "destroy exits 0" 0 "$RC"
remote_virsh dominfo "$DOM" >/dev/null 2>&1
[ $? -ne 0 ]; ok $? "the remote domain is gone"

done_testing
