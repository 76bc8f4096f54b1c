# Remote hypervisor end to end: the tiny box up on a "remote host" (a network
# namespace of the test's own with its libvirtd, virtlogd and sshd, see
# tests/lib-remote.sh) through qemu+ssh://root@ADDR/system. The guest's
# forwards exist only on that host's loopback, so everything below goes
# through the jump: ssh -c, the provisioner, rsync, port --tunnel reaching a
# forwarded port from this side's 127.0.0.1; then halt, up and destroy.
. "$(dirname "$0")/../lib-remote.sh"
[ -n "${VMENV_REMOTE:-}" ] || remote_enter_vm_test vmenv-remote "$0"

# --- inside: the host answers at REMOTE_ADDR, /root/.ssh is the test's
. "$VMENV_SRCDIR/tests/e2e/lib-vm.sh"
on_exit remote_vm_cleanup
export VMENV_LIBVIRT_URI=$REMOTE_URI
echo "# remote host $REMOTE_ADDR (namespace $VMENV_REMOTE)"

P=$T_TMP/proj
WEB=$(free_port)
mkdir -p "$P/src"
echo synced >"$P/src/file.txt"
new_project "$P" "box: vmenv/tiny
box_url: $CATALOG
memory: 192M
boot_timeout: 300
forwarded_ports:
  - { guest: 8000, host: $WEB }
synced_folders:
  - { host: ., guest: /vagrant, type: rsync }
provision:
  - { name: hello, shell: 'echo provisioned > /tmp/provisioned' }"

run_vmenv -C "$P" up
expect_eq "up on the remote host exits 0" 0 "$RC"
[ "$RC" = 0 ] || printf '# %s\n' "$ERR" | tail -40
DOM=$(remote_virsh list --name | grep '^vmenv-' | head -1)
[ -n "$DOM" ]; ok $? "the domain runs on the remote host, not here"
virsh -c qemu:///system dominfo "$DOM" >/dev/null 2>&1
[ $? -ne 0 ]; ok $? "the local libvirtd has no such domain"

run_vmenv -C "$P" ssh -c 'echo out; echo err >&2; exit 3'
expect_eq "ssh -c through the jump: exit status" 3 "$RC"
expect_eq "ssh -c through the jump: stdout" out "$OUT"
expect_eq "ssh -c through the jump: stderr" err "$ERR"

run_vmenv -C "$P" ssh -c 'cat /tmp/provisioned'
expect_eq "the provisioner ran" provisioned "$OUT"
run_vmenv -C "$P" ssh -c 'cat /vagrant/src/file.txt'
expect_eq "the folder was synced at up" synced "$OUT"
echo changed >"$P/src/file.txt"
run_vmenv -C "$P" rsync
expect_eq "vmenv rsync exits 0" 0 "$RC"
run_vmenv -C "$P" ssh -c 'cat /vagrant/src/file.txt'
expect_eq "vmenv rsync through the jump" changed "$OUT"

# the system ssh: -J for 'vmenv ssh -- CMD', ProxyJump in ssh-config
got=$("$VMENV" -C "$P" ssh -- -o BatchMode=yes 'echo system-ssh' 2>"$T_TMP/sys.err")
expect_eq "vmenv ssh -- CMD (the system ssh through -J)" system-ssh "$got"
[ "$got" = system-ssh ] || sed 's/^/# /' "$T_TMP/sys.err" | tail -5
"$VMENV" -C "$P" ssh-config >"$T_TMP/ssh_config" 2>/dev/null
grep -qx "  ProxyJump root@$REMOTE_ADDR" "$T_TMP/ssh_config"
ok $? "ssh-config says ProxyJump root@ADDR"
got=$(ssh -F "$T_TMP/ssh_config" -o BatchMode=yes default 'echo from-config' 2>/dev/null)
expect_eq "ssh -F (ssh-config) reaches the guest" from-config "$got"

# the forward is the remote host's, on its loopback only
"$VMENV" -C "$P" ssh -c 'echo tunnel-ok > /tmp/index.html; cd /tmp && (busybox httpd -p 8000 -h /tmp || httpd -p 8000 -h /tmp)' >/dev/null 2>&1
remote_nsenter ss -ltn "sport = :$WEB" | grep -q "127.0.0.1:$WEB"
ok $? "the forward listens on the remote host's 127.0.0.1"
curl -s --max-time 3 "http://127.0.0.1:$WEB/index.html" >/dev/null 2>&1
[ $? -ne 0 ]; ok $? "nothing listens on this side's port before --tunnel"

"$VMENV" -C "$P" port --tunnel >"$T_TMP/tunnel.log" 2>&1 &
TPID=$!
on_exit "kill $TPID 2>/dev/null"
got=
for _ in $(seq 100); do
    got=$(curl -s --max-time 5 "http://127.0.0.1:$WEB/index.html" 2>/dev/null) && [ -n "$got" ] && break
    sleep 0.2
done
expect_eq "port --tunnel reaches the forwarded port from 127.0.0.1" tunnel-ok "$got"
ss -ltn "sport = :$WEB" | grep -q "127.0.0.1:$WEB"
ok $? "the tunnel listens on 127.0.0.1"
kill -INT "$TPID"
wait "$TPID"
expect_eq "port --tunnel ends with 0 on SIGINT" 0 "$?"
[ $? = 0 ] || sed 's/^/# /' "$T_TMP/tunnel.log"

run_vmenv -C "$P" halt
expect_eq "halt exits 0" 0 "$RC"
st=$(remote_virsh domstate "$DOM" 2>/dev/null | head -1)
expect_eq "the remote domain is shut off" "shut off" "$st"
run_vmenv -C "$P" up
expect_eq "up again exits 0" 0 "$RC"
[ "$RC" = 0 ] || printf '# %s\n' "$ERR" | tail -20
run_vmenv -C "$P" ssh -c 'cat /vagrant/src/file.txt'
expect_eq "ssh -c after the second up" changed "$OUT"

run_vmenv -C "$P" destroy -f
expect_eq "destroy exits 0" 0 "$RC"
remote_virsh dominfo "$DOM" >/dev/null 2>&1
[ $? -ne 0 ]; ok $? "the remote domain is gone"
n=$(remote_virsh vol-list vmenv-test-$$ 2>/dev/null | grep -c "$DOM")
expect_eq "its disk is gone from the remote pool" 0 "$n"

done_testing
