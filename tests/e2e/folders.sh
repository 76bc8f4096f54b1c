# Synced folders on a real VM: an rsync folder copied at up (excludes kept
# out), changes and deletions mirrored by 'vmenv rsync'; a 9p folder shared
# live from the host; a virtiofs one where virtiofsd is installed.
. "$VMENV_SRCDIR/tests/e2e/lib-vm.sh"

P=$T_TMP/folders
mkdir -p "$P/src/sub" "$P/src/.git" "$P/shared"
echo one > "$P/src/a.txt"
echo two > "$P/src/sub/b.txt"
echo secret > "$P/src/.git/config"
echo obj > "$P/src/x.o"
ln -s a.txt "$P/src/link"
chmod 0750 "$P/src/sub"
echo live > "$P/shared/live.txt"
chmod 0777 "$P/shared"
VFS=
if [ -x /usr/lib/qemu/virtiofsd ] || [ -x /usr/libexec/virtiofsd ]; then
    mkdir -p "$P/vfs" && echo over-virtiofs > "$P/vfs/v.txt" && chmod 0777 "$P/vfs"
    VFS="
  - { host: vfs, guest: /mnt/vfs, type: virtiofs }"
fi
new_project "$P" "box: vmenv/tiny
box_url: $CATALOG
memory: 192M
boot_timeout: 240
synced_folders:
  - { host: src, guest: /srv/app, exclude: [.git, '*.o'] }
  - { host: shared, guest: /mnt/shared, type: 9p }$VFS"
track "$P"

run_vmenv -C "$P" up
UP_ERR=$ERR
expect_eq "up with synced folders exits 0" 0 "$RC"
[ "$RC" = 0 ] || printf '# %s\n' "$ERR" | head -40
case $ERR in *"/srv/app <- src (rsync"*) ok 0 "up says the folder was synced with rsync";; *) ok 1 "rsync line: $ERR";; esac
case $ERR in *"/mnt/shared <- shared (9p)"*) ok 0 "up says the 9p folder is mounted";; *) ok 1 "9p line: $ERR";; esac

run_vmenv -C "$P" ssh -c 'cd /srv/app && cat a.txt sub/b.txt && readlink link && stat -c %a sub && ls -a'
expect_eq "files, a symlink and modes arrive; excludes stay out" "one
two
a.txt
750
.
..
a.txt
link
sub" "$OUT"

echo changed > "$P/src/a.txt"
rm "$P/src/sub/b.txt"
echo new > "$P/src/c.txt"
run_vmenv -C "$P" rsync
expect_eq "vmenv rsync exits 0" 0 "$RC"
run_vmenv -C "$P" ssh -c 'cd /srv/app && cat a.txt c.txt && ls sub | wc -l'
expect_eq "changes and deletions are mirrored" "changed
new
0" "$(echo "$OUT" | tr -d ' ')"

run_vmenv -C "$P" ssh -c 'cat /mnt/shared/live.txt; echo from-guest > /mnt/shared/back.txt'
expect_eq "the 9p folder is visible in the guest" live "$OUT"
expect_eq "and writable from the guest" from-guest "$(cat "$P/shared/back.txt" 2>/dev/null)"
echo later > "$P/shared/later.txt"
run_vmenv -C "$P" ssh -c 'cat /mnt/shared/later.txt'
expect_eq "host changes show at once over 9p" later "$OUT"

if [ -n "$VFS" ]; then
    case $UP_ERR in *"/mnt/vfs <- vfs (virtiofs"*) ok 0 "up says the virtiofs folder is mounted";; *) ok 1 "virtiofs line: $UP_ERR";; esac
    run_vmenv -C "$P" ssh -c 'cat /mnt/vfs/v.txt; echo vfs-back > /mnt/vfs/w.txt'
    expect_eq "the virtiofs folder is visible in the guest" over-virtiofs "$OUT"
    expect_eq "and writable from the guest" vfs-back "$(cat "$P/vfs/w.txt" 2>/dev/null)"
else
    echo "# no virtiofsd: virtiofs folder not tried (apt-get install qemu-system-common)"
fi

rm -rf "$P/src"
run_vmenv -C "$P" rsync
[ "$RC" -ne 0 ]; ok $? "a missing host folder fails rsync"
case $ERR in *src*) ok 0 "the error names the folder";; *) ok 1 "missing folder: $ERR";; esac

"$VMENV" -C "$P" destroy -f >/dev/null 2>&1
done_testing
