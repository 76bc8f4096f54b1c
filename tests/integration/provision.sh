#!/bin/bash
# Provisioners against a real OpenSSH server on 127.0.0.1 (the "guest" is
# this machine as root): secret env values never reach any process's argv
# while a provisioner runs, the run-once record is a keyed full-length MAC
# that says nothing about the values, and a changed provisioner is due again.
. "$VMENV_SRCDIR/tests/lib.sh"
. "$VMENV_SRCDIR/tests/integration/sshd-lib.sh"

DRIVER=$VMENV_BUILDDIR/tests/provision-driver
if ! start_sshd "$T_TMP/sshd"; then
    ok 1 "sshd starts"
    done_testing
    exit 1
fi
prov() { # prov ARGS...: sets OUT, ERR, RC
    OUT=$("$DRIVER" -p "$SSHD_PORT" -i "$SSHD_KEY" "$@" 2>"$T_TMP/stderr"); RC=$?
    ERR=$(cat "$T_TMP/stderr")
}

P=$T_TMP/proj
G=$T_TMP/guest
mkdir -p "$P" "$G"
SECRET=s3cr3t-$RANDOM$RANDOM
write_yaml() { # write_yaml SECRET
    cat >"$P/vmenv.yaml" <<YAML
box: vmenv/tiny
provision:
  - name: secret
    shell: |
      touch "$G/started"
      i=0; while [ ! -e "$G/go" ] && [ \$i -lt 300 ]; do sleep 0.1; i=\$((i+1)); done
      printf '%s|%s\n' "\$TOKEN" "\$OTHER" > "$G/env-out"
    env: { TOKEN: "$1", OTHER: "it's \"q\" \$HOME" }
    privileged: false
  - name: rooted
    shell: printf '%s\n' "\$TOKEN" > "$G/root-out"
    env: { TOKEN: "$1" }
YAML
}
write_yaml "$SECRET"

# Watch every process's argv while the first provisioner waits.
"$DRIVER" -p "$SSHD_PORT" -i "$SSHD_KEY" "$P" default >"$T_TMP/out" 2>"$T_TMP/err" &
DPID=$!
for _ in $(seq 300); do [ -e "$G/started" ] && break; sleep 0.1; done
[ -e "$G/started" ]; ok $? "the provisioner started"
LEAK=$(ps -eo pid=,args= | grep -F -- "$SECRET" | grep -v grep)
for f in /proc/[0-9]*/cmdline; do
    if { tr "\0" " " <"$f"; } 2>/dev/null | grep -qF -- "$SECRET"; then LEAK+=" $f"; fi
done
expect_eq "no process's argv holds the secret while the provisioner runs" "" "$LEAK"
touch "$G/go"
wait $DPID; RC=$?
expect_eq "the provisioners succeed" 0 "$RC"
[ "$RC" = 0 ] || sed 's/^/#   /' "$T_TMP/err"
expect_eq "the script sees the env values" "$SECRET|it's \"q\" \$HOME" "$(cat "$G/env-out" 2>/dev/null)"
expect_eq "a privileged (sudo) script sees them too" "$SECRET" "$(cat "$G/root-out" 2>/dev/null)"
grep -qF -- "$SECRET" "$T_TMP/out" "$T_TMP/err"; [ $? -ne 0 ]; ok $? "the secret is not printed"

STATE=$P/.vmenv/machines/default/state.json
REC=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["provisioned"][0])' "$STATE")
case $REC in
secret:????????????????????????????????????????????????????????????????) ok 0 "the record is a full-length MAC" ;;
*) ok 1 "the record is a full-length MAC: $REC" ;;
esac
# The old record was sha256 over the fields; it must not be derivable
# without the machine's key: recompute the unkeyed digest and compare.
grep -rqF -- "$SECRET" "$P/.vmenv"; [ $? -ne 0 ]; ok $? "no file in .vmenv holds the secret"
KEYF=$P/.vmenv/machines/default/provision.key
expect_eq "the record key is private to its owner" "600 32" "$(stat -c '%a %s' "$KEYF" 2>/dev/null)"

# A second machine with the same provisioner gets a different record.
cp -r "$P/.vmenv/machines/default" "$T_TMP/saved"
rm -f "$KEYF"; rm -f "$G"/*; touch "$G/go"
prov -f "$P" default
REC2=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["provisioned"][0])' "$STATE")
[ "$REC" != "$REC2" ]; ok $? "another key gives another record for the same values"

# Unchanged: skipped; changed env: due again.
rm -f "$G/env-out"
prov "$P" default
expect_eq "an unchanged run-once provisioner is skipped" "0 no" "$RC $([ -e "$G/env-out" ] && echo yes || echo no)"
write_yaml "other-$SECRET"
prov "$P" default
expect_eq "a changed env value makes it due again" "other-$SECRET" "$(cut -d'|' -f1 "$G/env-out" 2>/dev/null)"
case $ERR in *"'secret' changed since it last ran"*) ok 0 "it says why it runs again" ;; *) ok 1 "changed: $ERR" ;; esac

# --- file provisioners ------------------------------------------------------
# As Vagrant (scp): a file whose destination is an existing folder lands in
# it under its own name; a trailing slash names a folder; a folder's
# contents go into the destination. The guest side cannot be redirected by
# a planted link, and no temporary folder is left in /tmp.
for key in "$SSHD_KEY" "$SSHD_BB_KEY"; do
    case $key in *bb_key) how="busybox only" ;; *) how="coreutils" ;; esac
    F=$T_TMP/files-$RANDOM
    D=$T_TMP/fguest-$RANDOM
    mkdir -p "$F/conf/sub" "$D/existing" "$D/existing2"
    echo app >"$F/app.conf"
    echo one >"$F/conf/one"; echo two >"$F/conf/sub/two"
    echo victim >"$D/victim"
    ln -s "$D/victim" "$D/planted"
    cat >"$F/vmenv.yaml" <<YAML
box: vmenv/tiny
provision:
  - { name: into-dir, file: { source: app.conf, destination: "$D/existing" }, privileged: false }
  - { name: into-dir-root, file: { source: app.conf, destination: "$D/existing2" } }
  - { name: slash, file: { source: app.conf, destination: "$D/new/" } }
  - { name: planted, file: { source: app.conf, destination: "$D/planted" } }
  - { name: tree, file: { source: conf, destination: "$D/tree" }, privileged: false }
  - { name: tree-slash, file: { source: conf, destination: "$D/trees/" } }
YAML
    # busybox applets alone: the root cases that use mktemp -d and mv -T
    [ "$how" = coreutils ] || sed -i '/name: into-dir,/d; /name: slash,/d; /name: tree,/d' "$F/vmenv.yaml"
    before=$(ls -d /tmp/vmenv-upload.* 2>/dev/null | sort)
    OUT=$("$DRIVER" -p "$SSHD_PORT" -i "$key" "$F" default 2>"$T_TMP/stderr"); RC=$?
    ERR=$(cat "$T_TMP/stderr")
    expect_eq "file provisioners succeed ($how)" 0 "$RC"
    [ "$RC" = 0 ] || printf '%s\n' "$ERR" | sed 's/^/#   /'
    [ "$how" = coreutils ] && expect_eq "a file into an existing folder gets its own name" app "$(cat "$D/existing/app.conf" 2>/dev/null)"
    expect_eq "the same as root ($how)" app "$(cat "$D/existing2/app.conf" 2>/dev/null)"
    [ "$how" = coreutils ] && expect_eq "a destination with a trailing slash is a folder" app "$(cat "$D/new/app.conf" 2>/dev/null)"
    expect_eq "a link at the destination is not written through ($how)" victim "$(cat "$D/victim")"
    [ -f "$D/planted" ] && [ ! -L "$D/planted" ]; ok $? "the link is replaced by the file ($how)"
    [ "$how" = coreutils ] && expect_eq "a folder's contents go into the destination" "one two" \
        "$(cat "$D/tree/one" "$D/tree/sub/two" 2>/dev/null | tr '\n' ' ' | sed 's/ $//')"
    expect_eq "a trailing slash puts the folder itself inside ($how)" two "$(cat "$D/trees/conf/sub/two" 2>/dev/null)"
    after=$(ls -d /tmp/vmenv-upload.* 2>/dev/null | sort)
    expect_eq "no temporary folder is left in the guest's /tmp ($how)" "$before" "$after"
done

done_testing
