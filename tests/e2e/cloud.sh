#!/bin/bash
# A distribution cloud image end to end: box: debian/12 resolved through a
# loopback mirror laid out like cloud.debian.org (SHA512SUMS next to the
# image), booted with a NoCloud seed: cloud-init done, the machine's own key,
# no password login; ssh -c; a provisioner; halt and up again without
# cloud-init re-running its per-instance steps. On that machine: snapshot
# save/restore; an interrupted package healed by up; package, whose box
# boots as a new instance (cloud-init again, its own user key and host key)
# while the source machine comes back with its host key; bench --runs 1
# (host, container). destroy removes the seed. Then a user-data that fails
# is reported with cloud-init's own output.
. "$VMENV_SRCDIR/tests/e2e/lib-vm.sh"

MIRROR="$VMENV_TEST_BOXES/cloud-mirror"
if [ ! -f "$MIRROR/bookworm/latest/SHA512SUMS" ]; then
    echo "1..0 # SKIP no cloud image (VMENV_TEST_BOXES/cloud-mirror)"; exit 0
fi

# The mirror on 127.0.0.1 only, on a port the server picked.
serve_dir "$MIRROR" "$T_TMP/mirror.log" || exit 1
export VMENV_IMAGE_MIRROR_DEBIAN=$SERVE_URL

P=$T_TMP/proj
mkdir -p "$P"
cat >"$P/user-data.yaml" <<'EOF'
#cloud-config
# the test image has no en_US.UTF-8 for cloud-init's default locale step
locale: false
write_files:
  - path: /var/tmp/from-user-data
    content: "written by the project's cloud-config\n"
runcmd:
  - [sh, -c, 'echo run >> /var/tmp/runcmd-count']
EOF
new_project "$P" "box: debian/12
memory: 768M
boot_timeout: 900
cloud_init:
  user_data: user-data.yaml
provision:
  - { name: hello, shell: 'echo provisioned > /var/tmp/provisioned' }"

run_vmenv -C "$P" up --timings
track "$P"
expect_eq "up of debian/12 from the loopback mirror" 0 "$RC"
[ "$RC" -eq 0 ] || printf '%s\n' "$ERR" | tail -40 | sed 's/^/# /'
case $ERR in *"cloud-init "*" s"*) ok 0 "--timings shows cloud-init's time" ;; *) ok 1 "--timings: $ERR" ;; esac
grep -q "GET /bookworm/latest/SHA512SUMS" "$T_TMP/mirror.log"
ok $? "the index was read from the mirror"

run_vmenv -C "$P" ssh -c 'id -un; sudo -n true && echo sudo-ok; cat /var/tmp/from-user-data; cloud-init status'
expect_eq "ssh -c runs as vmenv with passwordless sudo" 0 "$RC"
case $OUT in *vmenv*sudo-ok*"written by the project"*"status: done"*) ok 0 "user, sudo, the user's cloud-config, cloud-init done" ;;
    *) ok 1 "ssh -c output: $OUT $ERR" ;; esac
run_vmenv -C "$P" ssh -c 'cat /var/tmp/provisioned'
expect_eq "the provisioner ran" "provisioned" "$OUT"

PORT=$(ssh_port "$P")
ssh -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
    -o PreferredAuthentications=password -o PubkeyAuthentication=no -o ConnectTimeout=20 \
    -p "$PORT" vmenv@127.0.0.1 true 2>"$T_TMP/pw.err"
[ $? -ne 0 ] && grep -q "Permission denied (publickey)" "$T_TMP/pw.err"
ok $? "no password login: sshd offers publickey only ($(tr '\n' ' ' <"$T_TMP/pw.err"))"
IK=$(insecure_key)
ssh -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
    -o IdentitiesOnly=yes -o ConnectTimeout=20 -i "$IK" -p "$PORT" vmenv@127.0.0.1 true 2>/dev/null
[ $? -ne 0 ]; ok $? "the Vagrant insecure key is refused"
ls -l "$P/.vmenv/machines/default/private_key" | grep -q '^-rw-------'
ok $? "the machine's own key is 0600"
HK=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["host_key"] or "")' "$P/.vmenv/machines/default/state.json")
[ -n "$HK" ]; ok $? "the guest host key is pinned"

run_vmenv -C "$P" halt
expect_eq "halt" 0 "$RC"
run_vmenv -C "$P" up
expect_eq "up again" 0 "$RC"
run_vmenv -C "$P" ssh -c 'cat /var/tmp/runcmd-count | wc -l'
expect_eq "cloud-init's per-instance steps did not run again" "1" "$OUT"
host_key() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["host_key"] or "")' "$1/.vmenv/machines/default/state.json"; }
state_field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get(sys.argv[2]) or "")' "$1/.vmenv/machines/default/state.json" "$2"; }
state_of() { "$VMENV" -C "$1" status --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["state"])'; }
expect_ok() {
    expect_eq "$1" 0 "$RC"
    [ "$RC" = 0 ] || printf '%s\n' "$ERR" | tail -25 | sed 's/^/# /'
}
virsh() { command virsh -c qemu:///system "$@"; }
expect_eq "the same host key after the second boot" "$HK" "$(host_key "$P")"
DOM=$("$VMENV" -C "$P" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["domain"])')

# Snapshots of the cloud machine (its seed CD-ROM is read-only and raw).
"$VMENV" -C "$P" ssh -c 'echo before > /var/tmp/mark; sync' >/dev/null 2>&1
run_vmenv -C "$P" snapshot save s1
expect_ok "snapshot save of the running cloud machine"
"$VMENV" -C "$P" ssh -c 'echo after > /var/tmp/mark; sync' >/dev/null 2>&1
run_vmenv -C "$P" snapshot restore s1
expect_ok "snapshot restore"
run_vmenv -C "$P" ssh -c 'cat /var/tmp/mark'
expect_eq "after restore, ssh -c runs and the file written after the save is gone" before "$OUT"
run_vmenv -C "$P" snapshot delete s1
expect_ok "snapshot delete"

# A package interrupted after it saved the machine in its own snapshot
# (made here as package makes it): up puts the machine back from it.
virsh snapshot-create-as "$DOM" vmenv:package >/dev/null
ok $? "the snapshot an interrupted package leaves, made by hand"
"$VMENV" -C "$P" ssh -c 'echo cleaned > /var/tmp/interrupted; sync' >/dev/null 2>&1
run_vmenv -C "$P" up
expect_ok "up after an interrupted package"
case $ERR in *"interrupted 'vmenv package'"*) ok 0 "up says it puts the machine back" ;; *) ok 1 "up said: $ERR" ;; esac
run_vmenv -C "$P" ssh -c 'test -e /var/tmp/interrupted && echo still || echo gone'
expect_eq "the machine is as it was before the package" gone "$OUT"
! virsh snapshot-list "$DOM" --name | grep -qx vmenv:package
ok $? "package's snapshot is gone"

# package: a box with cloud-init cleaned; the source machine untouched.
IID=$(state_field "$P" instance_id)
MID=$("$VMENV" -C "$P" ssh -c 'cat /etc/machine-id' 2>/dev/null)
run_vmenv -C "$P" package --insecure-key --output "$T_TMP/cloud.box"
[ "$RC" -ne 0 ] && case $ERR in *"cloud image"*"insecure key"*) true ;; *) false ;; esac
ok $? "package --insecure-key of a cloud machine is refused ($ERR)"
t0=$SECONDS
run_vmenv -C "$P" package --output "$T_TMP/cloud.box"
echo "# package of the cloud machine: $RC in $((SECONDS - t0)) s"
expect_ok "package of the cloud machine"
tar -xzf "$T_TMP/cloud.box" -O metadata.json 2>/dev/null | grep -q '"vmenv_cloud_init": true'
ok $? "the box's metadata.json says it is a cloud-init image"
tar -xzf "$T_TMP/cloud.box" -O Vagrantfile 2>/dev/null | grep -q 'cloud-init image'
ok $? "its Vagrantfile says so"
expect_eq "package leaves the source machine halted" shutoff "$(state_of "$P")"
! virsh snapshot-list "$DOM" --name | grep -qx vmenv:package
ok $? "package deleted its snapshot"

# The box boots as a new instance: no ssh.user, no cloud_init in vmenv.yaml.
run_vmenv box add test/cloudpkg "$T_TMP/cloud.box"
expect_ok "box add of the packaged box"
N=$T_TMP/frombox
new_project "$N" "box: test/cloudpkg
memory: 768M
boot_timeout: 900"
run_vmenv -C "$N" up
track "$N"
expect_ok "up of a machine from the packaged box"
NIID=$(state_field "$N" instance_id)
[ -n "$NIID" ] && [ "$NIID" != "$IID" ]; ok $? "it got a seed with a new instance-id"
run_vmenv -C "$N" ssh -c 'id -un; ls /var/lib/cloud/instances; cloud-init status; cat /etc/machine-id; wc -l < /var/tmp/runcmd-count'
expect_ok "ssh -c into it"
L=($OUT)
expect_eq "it logs in as vmenv (the box is a cloud image's)" vmenv "${L[0]:-}"
expect_eq "cloud-init ran as this new instance only (no instance of the source)" "$NIID" "${L[1]:-}"
expect_eq "cloud-init status: done" "status: done" "${L[2]:-} ${L[3]:-}"
[ -n "${L[4]:-}" ] && [ "${L[4]:-}" != "$MID" ]; ok $? "a new machine-id (${L[4]:-} vs $MID)"
expect_eq "the source's data came along; its runcmd did not run again" 1 "${L[5]:-}"
NHK=$(host_key "$N")
[ -n "$NHK" ] && [ "$NHK" != "$HK" ]; ok $? "its own host key, not the source machine's"
PORT=$(ssh_port "$N")
ssh -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
    -o IdentitiesOnly=yes -o ConnectTimeout=20 -i "$P/.vmenv/machines/default/private_key" \
    -p "$PORT" vmenv@127.0.0.1 true 2>/dev/null
[ $? -ne 0 ]; ok $? "the source machine's key does not log into it"
run_vmenv -C "$N" destroy -f
expect_ok "destroy the machine from the packaged box"
run_vmenv box remove test/cloudpkg --all
expect_ok "box remove of the packaged box"
rm -f "$T_TMP/cloud.box"

# The source machine: back with its host key, the same instance, not re-run.
run_vmenv -C "$P" up
expect_ok "the source machine comes up after package"
expect_eq "with the same host key (pinned: up would refuse another)" "$HK" "$(host_key "$P")"
run_vmenv -C "$P" ssh -c 'ls /var/lib/cloud/instances; wc -l < /var/tmp/runcmd-count'
expect_eq "its cloud-init instance is there, its runcmd ran once" "$IID 1" "$(echo $OUT)"

bench_box_check "$P"

virsh -c qemu:///system vol-list "$VMENV_POOL" | grep -q "$DOM-seed-"
ok $? "the seed is a volume of the pool"
run_vmenv -C "$P" destroy -f
expect_eq "destroy" 0 "$RC"
! virsh -c qemu:///system vol-list "$VMENV_POOL" | grep -q "$DOM-seed-"
ok $? "destroy removed the seed volume"

# A user-data that fails: the error carries cloud-init's own output.
Q=$T_TMP/broken
mkdir -p "$Q"
printf '#!/bin/sh\necho "vmenv-test: this script fails on purpose" >&2\nexit 3\n' >"$Q/fail.sh"
new_project "$Q" "box: debian/12
memory: 768M
boot_timeout: 900
cloud_init: { user_data: fail.sh }"
run_vmenv -C "$Q" up
track "$Q"
[ "$RC" -ne 0 ]; ok $? "up with a failing user-data fails (exit $RC)"
case $ERR in *"cloud-init failed"*"cloud-init-output.log"*"this script fails on purpose"*) ok 0 "the error shows cloud-init's output" ;;
    *) ok 1 "error: $ERR" ;; esac
run_vmenv -C "$Q" destroy -f
expect_eq "destroy the broken one" 0 "$RC"

done_testing
