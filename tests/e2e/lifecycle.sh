# The core trio on a real VM: up, ssh -c, status, halt, up, suspend/resume,
# reload, destroy; a forwarded port reached from the host; the insecure key
# refused after first boot; a changed host key detected; a domain removed
# behind vmenv's back.
. "$VMENV_SRCDIR/tests/e2e/lib-vm.sh"

P=$T_TMP/proj
WEB=$(free_port)
new_project "$P" "box: vmenv/tiny
box_url: $CATALOG
memory: 256M
boot_timeout: 240
forwarded_ports:
  - { guest: 8000, host: $WEB }"
track "$P"

run_vmenv -C "$P" up
expect_eq "up exits 0" 0 "$RC"
[ "$RC" = 0 ] || printf '# %s\n' "$ERR" | head -40

run_vmenv -C "$P" status --json
state=$(echo "$OUT" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["state"])' 2>/dev/null)
expect_eq "status says running" running "$state"

run_vmenv -C "$P" ssh -c 'echo out; echo err >&2; exit 3'
expect_eq "ssh -c exits with the command's status" 3 "$RC"
expect_eq "ssh -c streams stdout" out "$OUT"
expect_eq "ssh -c streams stderr separately" err "$ERR"

run_vmenv -C "$P" ssh -c 'hostname'
expect_eq "hostname is the machine name" default "$OUT"

run_vmenv -C "$P" ssh -c 'sudo -n id -u'
expect_eq "sudo works without a password" 0 "$OUT"

# a forwarded port reached from the host, bound to 127.0.0.1
"$VMENV" -C "$P" ssh -c 'echo forwarded-ok > /tmp/index.html; cd /tmp && (busybox httpd -p 8000 -h /tmp || httpd -p 8000 -h /tmp)' >/dev/null 2>&1
got=$(curl -s --max-time 10 "http://127.0.0.1:$WEB/index.html")
expect_eq "forwarded port reaches the guest" forwarded-ok "$got"
ss -ltn "sport = :$WEB" | grep -q "127.0.0.1:$WEB"
ok $? "forwarded port is bound to 127.0.0.1 only"

run_vmenv -C "$P" port --json
n=$(echo "$OUT" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))' 2>/dev/null)
expect_eq "port lists ssh and the forward" 2 "$n"

# our key replaced the insecure one
SSHPORT=$(echo "$OUT" | python3 -c 'import json,sys; print([p["host"] for p in json.load(sys.stdin) if p["ssh"]][0])')
ik=$(ls /usr/share/rubygems-integration/all/gems/vagrant-*/keys/vagrant | tail -1)
install -m 600 "$ik" "$T_TMP/insecure"
ssh -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
    -o IdentitiesOnly=yes -i "$T_TMP/insecure" -p "$SSHPORT" vagrant@127.0.0.1 true 2>/dev/null
[ $? -ne 0 ]; ok $? "the insecure key is refused after first boot"
key=$P/.vmenv/machines/default/private_key
[ "$(stat -c %a "$key")" = 600 ]; ok $? "the machine's private key is 0600"

# ssh-config works with the system ssh and pins the host key
"$VMENV" -C "$P" ssh-config > "$T_TMP/ssh_config"
got=$(ssh -F "$T_TMP/ssh_config" default 'echo via-openssh' 2>/dev/null)
expect_eq "ssh-config works with OpenSSH" via-openssh "$got"
run_vmenv -C "$P" ssh -- -o BatchMode=yes echo via-dashdash
expect_eq "ssh -- ARGS runs the system ssh" via-dashdash "$OUT"

# idempotent up
run_vmenv -C "$P" up
expect_eq "up on a running machine exits 0" 0 "$RC"
case $ERR in *"already running"*) ok 0 "up says it is already running";; *) ok 1 "up again: $ERR";; esac

run_vmenv -C "$P" suspend
state=$("$VMENV" -C "$P" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["state"])')
expect_eq "suspend pauses" paused "$state"
run_vmenv -C "$P" resume
expect_eq "resume exits 0" 0 "$RC"
run_vmenv -C "$P" ssh -c true
expect_eq "ssh works after resume" 0 "$RC"

run_vmenv -C "$P" halt
expect_eq "halt exits 0" 0 "$RC"
state=$("$VMENV" -C "$P" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["state"])')
expect_eq "halt stops it" shutoff "$state"

run_vmenv -C "$P" up
expect_eq "up boots a halted machine" 0 "$RC"
run_vmenv -C "$P" ssh -c 'cat /tmp/index.html 2>/dev/null; hostname'
expect_eq "the same disk comes back (our key still works)" default "$(echo "$OUT" | tail -1)"

run_vmenv -C "$P" reload
expect_eq "reload exits 0" 0 "$RC"
run_vmenv -C "$P" ssh -c true
expect_eq "ssh works after reload" 0 "$RC"

# a changed host key is detected
sf=$P/.vmenv/machines/default/state.json
cp "$sf" "$T_TMP/state.bak"
python3 - "$sf" <<'PY'
import json, sys
p = sys.argv[1]; s = json.load(open(p))
s["host_key"] = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBK3yrm3rKkQhvBwTNq2BlbmOYkaLDWUmDYC6Gr2Dq7s"
json.dump(s, open(p, "w"))
PY
run_vmenv -C "$P" ssh -c true
[ "$RC" -ne 0 ] && case $ERR in *"host key"*changed*) true;; *) false;; esac
ok $? "a changed host key is refused"
cp "$T_TMP/state.bak" "$sf"

# removed behind vmenv's back
dom=$("$VMENV" -C "$P" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["domain"])')
virsh -c qemu:///system destroy "$dom" >/dev/null 2>&1
virsh -c qemu:///system undefine "$dom" >/dev/null 2>&1
state=$("$VMENV" -C "$P" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["state"])')
expect_eq "a domain undefined behind vmenv's back shows as not created" "not created" "$state"
run_vmenv -C "$P" up
expect_eq "and up brings it back" 0 "$RC"

run_vmenv -C "$P" destroy -f
expect_eq "destroy exits 0" 0 "$RC"
state=$("$VMENV" -C "$P" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["state"])')
expect_eq "destroy removes the domain" "not created" "$state"
left=$(virsh -c qemu:///system vol-list "$VMENV_POOL" 2>/dev/null | grep -c "$dom")
expect_eq "destroy removes the overlay" 0 "$left"
[ ! -e "$P/.vmenv/machines/default" ]; ok $? "destroy removes the machine's state"
run_vmenv box list
case $OUT in *vmenv/tiny*) ok 0 "destroy keeps the box";; *) ok 1 "box kept: $OUT";; esac
left=$(virsh -c qemu:///system vol-list "$VMENV_POOL" 2>/dev/null | grep -c "vmenv-box-")
expect_eq "and its copy in the storage pool" 1 "$left"
digest=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["checksum"].split(":")[1][:12])' \
    "$(ls "$VMENV_HOME"/boxes/vmenv-VAGRANTSLASH-tiny/*/libvirt/vmenv.json | head -1)" 2>/dev/null)
left=$(virsh -c qemu:///system vol-list "$VMENV_POOL" 2>/dev/null | grep -c "vmenv-box-vmenv_tiny-1.0.0@$digest\.qcow2")
expect_eq "the pool copy is named by version and digest (@$digest)" 1 "$left"
run_vmenv box remove vmenv/tiny --all
expect_eq "box remove exits 0" 0 "$RC"
left=$(virsh -c qemu:///system vol-list "$VMENV_POOL" 2>/dev/null | grep -c "vmenv-box-")
expect_eq "box remove deletes the pool copy no overlay uses" 0 "$left"

done_testing
