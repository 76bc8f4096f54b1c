#!/bin/bash
# rsync-type folders on a real VM from the tiny box (busybox guest): 'vmenv
# rsync' copies the project with excludes and odd names, mirrors changes and
# deletions, and 'vmenv rsync-auto' syncs a change by itself.
. "$VMENV_SRCDIR/tests/e2e/lib-vm.sh"

P=$T_TMP/rsync-project
mkdir -p "$P/src/nested" "$P/.git" "$P/build"
echo hello >"$P/src/hello.txt"
echo "odd" >"$P/src/it's a \$name"
chmod 0750 "$P/src/nested"
ln -s ../src/hello.txt "$P/src/nested/link"
echo ref >"$P/.git/HEAD"
echo out >"$P/build/out"
new_project "$P" "box: vmenv/tiny
box_url: $CATALOG
memory: 192M
boot_timeout: 240
synced_folders:
  - { host: ., guest: /vagrant, type: rsync, exclude: [.git, build/] }"
track "$P"

run_vmenv -C "$P" up
expect_eq "up exits 0" 0 "$RC"
[ "$RC" = 0 ] || printf '# %s\n' "$ERR" | head -20
track "$P"

run_vmenv -C "$P" rsync
expect_eq "vmenv rsync exits 0" 0 "$RC"
[ "$RC" = 0 ] || printf '# %s\n' "$ERR" | head -20
case $ERR in *"default: /vagrant <- . (rsync: "*) ok 0 "one line per folder says what was synced";; *) ok 1 "sync line: $ERR";; esac

guest_list() { "$VMENV" -C "$P" ssh -c 'cd /vagrant && find . | sort' 2>/dev/null; }
L=$(guest_list)
case $L in *"./src/it's a \$name"*) ok 0 "an odd name arrived";; *) ok 1 "odd name: $L";; esac
ok $(grep -qx './.git' <<<"$L" || grep -qx './build' <<<"$L"; echo $((1 - $?))) "excluded folders are not copied"
ok $(grep -qx './.vmenv' <<<"$L"; echo $((1 - $?))) "vmenv's own state (.vmenv) is never copied"
run_vmenv -C "$P" ssh -c 'readlink /vagrant/src/nested/link; stat -c %a /vagrant/src/nested; cat /vagrant/src/hello.txt; stat -c %U /vagrant/src/hello.txt'
expect_eq "link, mode, content and owner in the guest" "../src/hello.txt
750
hello
vagrant" "$OUT"

echo changed >"$P/src/hello.txt"
rm "$P/src/it's a \$name"
run_vmenv -C "$P" rsync
case $ERR in *"(rsync: 1 sent, 1 deleted)"*) ok 0 "a resync sends the change and mirrors the deletion";; *) ok 1 "resync: $ERR";; esac
run_vmenv -C "$P" ssh -c 'cat /vagrant/src/hello.txt; ls /vagrant/src'
expect_eq "the guest has the new content and not the deleted file" "changed
hello.txt
nested" "$OUT"
run_vmenv -C "$P" rsync
case $ERR in *"(rsync: 0 sent, 0 deleted)"*) ok 0 "no-change resync sends nothing";; *) ok 1 "no-change: $ERR";; esac

# rsync-auto: one change-triggered sync, then it exits by itself.
"$VMENV" -C "$P" rsync-auto --max-events 1 >"$T_TMP/auto.out" 2>"$T_TMP/auto.err" &
APID=$!
on_exit "kill $APID 2>/dev/null"
for _ in $(seq 300); do grep -q "watching" "$T_TMP/auto.err" && break; sleep 0.1; done
echo auto >"$P/src/auto.txt"
for _ in $(seq 600); do kill -0 "$APID" 2>/dev/null || break; sleep 0.1; done
wait "$APID"
expect_eq "rsync-auto exits 0 after --max-events 1" 0 "$?"
run_vmenv -C "$P" ssh -c 'cat /vagrant/src/auto.txt'
expect_eq "rsync-auto synced the change" "auto" "$OUT"

rm -rf "$P/src"
mv "$P/vmenv.yaml" "$P/vmenv.yaml.ok"
sed 's/host: \./host: missing/' "$P/vmenv.yaml.ok" >"$P/vmenv.yaml"
run_vmenv -C "$P" rsync
ok $([ "$RC" = 66 ] && grep -q "missing" <<<"$ERR" && echo 0 || echo 1) "a missing host folder: exit 66 naming it ($ERR)"
mv "$P/vmenv.yaml.ok" "$P/vmenv.yaml"

run_vmenv -C "$P" destroy -f
expect_eq "destroy exits 0" 0 "$RC"
done_testing
