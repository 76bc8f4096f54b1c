#!/bin/bash
# A distribution cloud image end to end: box: debian/12 resolved through a
# loopback mirror laid out like cloud.debian.org (SHA512SUMS next to the
# image), booted with a NoCloud seed: cloud-init done, the machine's own key,
# no password login; ssh -c; a provisioner; halt and up again without
# cloud-init re-running its per-instance steps; destroy removes the seed.
# Then a user-data that fails is reported with cloud-init's own output.
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
HK2=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["host_key"] or "")' "$P/.vmenv/machines/default/state.json")
expect_eq "the same host key after the second boot" "$HK" "$HK2"

DOM=$("$VMENV" -C "$P" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["domain"])')
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
