#!/bin/bash
# vmenv on a real Debian 12 box (systemd, OpenSSH, sudo) under TCG, the kind of
# box users boot: tests/e2e/debian12.sh BOX [full|short].
#   full:  up (with provisioners and an rsync folder), first-boot security,
#          ssh -c, status, provisioner effects, rsync exclude + deletion,
#          snapshot save/restore, halt, up, reload, package + box add, bench
#          with the box as the container's root filesystem, destroy.
#   short: up, first-boot security, ssh -c, halt, up, destroy (the variants).
# BOX is a name in the test boxes (debian12, debian12-networkd, debian12-nonl).
# When the test boxes were built but this one is missing (its build failed),
# the test fails: it never skips silently in CI.
BOX=${1:-debian12}
MODE=${2:-full}
B=${VMENV_TEST_BOXES:-}
if [ ! -f "$B/catalog-$BOX.json" ]; then
    why=$(cat "$B/debian12.failed" 2>/dev/null)
    case $why in
        VMENV_TEST_DEBIAN=0*) [ -n "${CI:-}" ] || { echo "1..0 # SKIP $why"; exit 0; } ;;
    esac
    if [ -z "${CI:-}" ] && [ ! -f "$B/catalog.json" ]; then
        echo "1..0 # SKIP no test boxes (VMENV_TEST_BOXES)"; exit 0
    fi
    echo "1..1"
    echo "not ok 1 - no vmenv/$BOX box in '$B': ${why:-run tests/build-boxes DIR and set VMENV_TEST_BOXES=DIR}"
    exit 1
fi
. "$VMENV_SRCDIR/tests/e2e/lib-vm.sh"
CATALOG="file://$VMENV_TEST_BOXES/catalog-$BOX.json"
virsh() { command virsh -c qemu:///system "$@"; }
state_of() { "$VMENV" -C "$P" status --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["state"])' 2>/dev/null; }
# timed DESCRIPTION ARGS...: run_vmenv ARGS, then one TAP comment with the time
timed() {
    local what=$1 t0=$SECONDS
    shift
    run_vmenv "$@"
    echo "# $what: ${RC} in $((SECONDS - t0)) s"
}
# expect_ok DESCRIPTION: RC is 0, else the last lines of stderr as comments
expect_ok() {
    expect_eq "$1" 0 "$RC"
    [ "$RC" = 0 ] || printf '%s\n' "$ERR" | tail -25 | sed 's/^/# /'
}

P=$T_TMP/$BOX
mkdir -p "$P/src" "$P/.git" "$P/build" "$P/conf"
echo hello >"$P/src/hello.txt"
echo gone >"$P/src/gone.txt"
echo ref >"$P/.git/HEAD"
echo out >"$P/build/out"
printf 'echo "script ran as $(id -u) with $# args: $1|$2"\n' >"$P/setup.sh"
printf 'key = "value"\nsecond line\n' >"$P/conf/app.conf"
if [ "$MODE" = full ]; then
    new_project "$P" "box: vmenv/$BOX
box_url: $CATALOG
memory: 1G
cpus: 2
boot_timeout: 600
synced_folders:
  - { host: ., guest: /vagrant, type: rsync, exclude: [.git, build/] }
provision:
  - name: script
    script: setup.sh
    args: [\"two words\", \"it's \$HOME\"]
  - name: env
    shell: 'printf \"%s\\n\" \"\$GREETING\" > /tmp/env-out; id -un > /tmp/env-user'
    env: { GREETING: \"hi \\\"there\\\" \$USER 'q'\" }
    privileged: false
  - name: upload
    file: { source: conf/app.conf, destination: /tmp/app.conf }"
else
    # one vCPU: the two variants run beside each other and the full suite
    new_project "$P" "box: vmenv/$BOX
box_url: $CATALOG
memory: 1G
cpus: 1
boot_timeout: 600"
fi
track "$P"

timed "up (first boot, box $BOX)" -C "$P" up
expect_ok "up on vmenv/$BOX exits 0"
UP_ALL=$OUT$ERR
track "$P"
if [ "$RC" != 0 ]; then
    # Nothing below can pass without a machine: say what the guest did.
    dom=$("$VMENV" -C "$P" status --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["domain"])' 2>/dev/null)
    log=/var/log/libvirt/qemu/$dom.log
    [ -n "$dom" ] && [ -f "$log" ] && tail -5 "$log" | sed 's/^/# qemu: /'
    "$VMENV" -C "$P" destroy -f >/dev/null 2>&1
    done_testing
    exit 1
fi

expect_eq "status says running" running "$(state_of)"
run_vmenv -C "$P" status
case $OUT in *default*running*) ok 0 "status text names the machine and its state";; *) ok 1 "status text: $OUT";; esac

run_vmenv -C "$P" ssh -c 'echo out; echo err >&2; exit 3'
expect_eq "ssh -c exits with the command's status" 3 "$RC"
expect_eq "ssh -c streams stdout" out "$OUT"
expect_eq "ssh -c streams stderr separately" err "$ERR"
run_vmenv -C "$P" ssh -c 'sudo -n id -u; . /etc/os-release; echo "$VERSION_ID"; systemctl is-system-running --wait 2>/dev/null || true'
expect_eq "sudo works without a password on Debian 12, systemd up" "0
12
running" "$OUT"

# First-boot security: the insecure key no longer logs in, the machine's does.
run_vmenv -C "$P" port --json
SSHPORT=$(echo "$OUT" | python3 -c 'import json,sys; print([p["host"] for p in json.load(sys.stdin) if p["ssh"]][0])' 2>/dev/null)
ik=$(ls /usr/share/rubygems-integration/all/gems/vagrant-*/keys/vagrant | sort -V | tail -1)
install -m 600 "$ik" "$T_TMP/insecure"
ssh_as() { # ssh_as KEY CMD: plain OpenSSH to the machine with only KEY
    local key=$1
    shift
    ssh -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
        -o IdentitiesOnly=yes -o ConnectTimeout=30 -i "$key" -p "$SSHPORT" vagrant@127.0.0.1 "$@" 2>/dev/null
}
ssh_as "$T_TMP/insecure" true
[ $? = 255 ]; ok $? "the insecure key is refused after first boot"
got=$(ssh_as "$P/.vmenv/machines/default/private_key" 'echo machine-key')
expect_eq "the machine's own key logs in" machine-key "$got"
insecure_b64=$(cut -d' ' -f2 "$ik.pub")
run_vmenv -C "$P" ssh -c "grep -c '$insecure_b64' ~/.ssh/authorized_keys; ssh-keygen -lf ~/.ssh/authorized_keys >/dev/null && echo parses"
expect_eq "authorized_keys no longer has the insecure key and every line parses" "0
parses" "$OUT"

if [ "$MODE" = full ]; then
    # Provisioners ran at up: args and env quoted intact, the file uploaded.
    case $UP_ALL in *"default: script ran as 0 with 2 args: two words|it's \$HOME"*) ok 0 "shell script provisioner gets its args intact, as root";; *) ok 1 "script output at up: $UP_ALL";; esac
    run_vmenv -C "$P" ssh -c 'cat /tmp/env-out /tmp/env-user'
    expect_eq "env values arrive intact; privileged: false runs as vagrant" "hi \"there\" \$USER 'q'
vagrant" "$OUT"
    run_vmenv -C "$P" ssh -c 'cat /tmp/app.conf'
    expect_eq "the file provisioner uploaded the file" 'key = "value"
second line' "$OUT"

    # rsync folder: synced at up, excludes honoured, a deletion mirrored.
    run_vmenv -C "$P" ssh -c 'cd /vagrant && find . -mindepth 1 | sort'
    case $OUT in *./src/gone.txt*./src/hello.txt*) ok 0 "up synced the folder";; *) ok 1 "after up: $OUT";; esac
    grep -qx -e './.git' -e './build' -e './.vmenv' <<<"$OUT"
    [ $? = 1 ]; ok $? "excluded folders and .vmenv are not copied"
    rm "$P/src/gone.txt"
    echo changed >"$P/src/hello.txt"
    run_vmenv -C "$P" rsync
    case $ERR in *"(rsync: 1 sent, 1 deleted)"*) ok 0 "rsync sends the change and mirrors the deletion";; *) ok 1 "rsync: $ERR";; esac
    run_vmenv -C "$P" ssh -c 'ls /vagrant/src; cat /vagrant/src/hello.txt; stat -c %U /vagrant/src/hello.txt'
    expect_eq "the guest has the new content, not the deleted file, owned by vagrant" "hello.txt
changed
vagrant" "$OUT"

    # Snapshots: a change after the save is gone after the restore.
    "$VMENV" -C "$P" ssh -c 'echo before > /home/vagrant/mark; sync' >/dev/null 2>&1
    timed "snapshot save" -C "$P" snapshot save clean
    expect_ok "snapshot save exits 0"
    "$VMENV" -C "$P" ssh -c 'echo after > /home/vagrant/mark; sync' >/dev/null 2>&1
    timed "snapshot restore" -C "$P" snapshot restore clean
    expect_ok "snapshot restore exits 0"
    expect_eq "a restored running machine runs" running "$(state_of)"
    run_vmenv -C "$P" ssh -c 'cat /home/vagrant/mark'
    expect_eq "the change after the snapshot is gone" before "$OUT"
    run_vmenv -C "$P" snapshot delete clean
    expect_ok "snapshot delete exits 0"
fi

"$VMENV" -C "$P" ssh -c 'echo kept > /home/vagrant/kept; sync' >/dev/null 2>&1
timed "halt" -C "$P" halt
expect_ok "halt exits 0"
expect_eq "halt leaves it shut off" shutoff "$(state_of)"
timed "up (second boot)" -C "$P" up
expect_ok "up boots the halted machine"
run_vmenv -C "$P" ssh -c 'cat /home/vagrant/kept'
expect_eq "the same disk comes back, the machine key still logs in" kept "$OUT"
ssh_as "$T_TMP/insecure" true
[ $? = 255 ]; ok $? "the insecure key is still refused after a reboot"

if [ "$MODE" = full ]; then
    boot1=$("$VMENV" -C "$P" ssh -c 'cat /proc/sys/kernel/random/boot_id' 2>/dev/null)
    timed "reload" -C "$P" reload
    expect_ok "reload exits 0"
    run_vmenv -C "$P" ssh -c 'cat /proc/sys/kernel/random/boot_id'
    [ "$RC" = 0 ] && [ -n "$boot1" ] && [ "$OUT" != "$boot1" ]
    ok $? "ssh works after reload, in a new boot"

    # package → box add
    timed "package" -C "$P" package --insecure-key --output "$T_TMP/pkg.box"
    expect_ok "package exits 0"
    tar -tzf "$T_TMP/pkg.box" >"$T_TMP/members" 2>/dev/null
    grep -qx metadata.json "$T_TMP/members" && grep -qx box.img "$T_TMP/members"
    ok $? "the packaged box holds metadata.json and box.img"
    run_vmenv box add mine/debian12 "$T_TMP/pkg.box"
    expect_ok "box add accepts the packaged box"
    run_vmenv box list
    case $OUT in *mine/debian12*) ok 0 "box list shows the packaged box";; *) ok 1 "box list: $OUT";; esac
    run_vmenv box remove mine/debian12 --all
    expect_ok "box remove of the packaged box exits 0"
    rm -f "$T_TMP/pkg.box"

    # bench: host and a container whose root filesystem is this box.
    bench_box_check "$P"
fi

dom=$("$VMENV" -C "$P" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["domain"])')
timed "destroy" -C "$P" destroy -f
expect_ok "destroy exits 0"
expect_eq "destroy: status says not created" "not created" "$(state_of)"
virsh dominfo "$dom" >/dev/null 2>&1
[ $? != 0 ]; ok $? "destroy leaves no domain"
left=$(virsh vol-list "$VMENV_POOL" 2>/dev/null | grep -c -- "$dom")
expect_eq "destroy leaves no overlay volume" 0 "$left"
done_testing
