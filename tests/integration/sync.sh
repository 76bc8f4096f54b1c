#!/bin/bash
# rsync-type folders against a real OpenSSH server on 127.0.0.1: the "guest"
# is this machine as root. First sync of an odd tree, incremental changes,
# type changes, excludes, ownership, no-change resync, errors, and the same
# through busybox applets only.
. "$VMENV_SRCDIR/tests/lib.sh"
. "$VMENV_SRCDIR/tests/integration/sshd-lib.sh"

DRIVER=$VMENV_BUILDDIR/tests/sync-driver
if ! start_sshd "$T_TMP/sshd"; then
    ok 1 "sshd starts"
    done_testing
    exit 1
fi

# A listing that tar must reproduce: type, mode, size and mtime (seconds)
# of files, target of links; folders by type and mode (their mtimes are not
# synced, as with rsync without -t on folders... vmenv does not carry them).
listing() { # listing DIR [EXCLUDE-REGEX]
    python3 - "$1" "${2:-}" <<'EOF'
import os, re, stat, sys
root, ex = sys.argv[1], sys.argv[2]
out = []
for d, dirs, files in os.walk(root):
    for n in dirs + files:
        p = os.path.join(d, n)
        rel = os.path.relpath(p, root)
        if ex and re.search(ex, rel):
            continue
        st = os.lstat(p)
        m = oct(stat.S_IMODE(st.st_mode))
        if stat.S_ISLNK(st.st_mode):
            out.append("l %r -> %r" % (rel, os.readlink(p)))
        elif stat.S_ISDIR(st.st_mode):
            out.append("d %r %s" % (rel, m))
        else:
            out.append("f %r %s %d %d" % (rel, m, st.st_size, int(st.st_mtime)))
print("\n".join(sorted(out)))
EOF
}
owners() { # owners DIR: the distinct uid:gid of everything in DIR (links included)
    python3 -c 'import os,sys
r=sys.argv[1]; s={"%d:%d"%(os.lstat(r).st_uid,os.lstat(r).st_gid)}
for d,ds,fs in os.walk(r):
    for n in ds+fs:
        st=os.lstat(os.path.join(d,n)); s.add("%d:%d"%(st.st_uid,st.st_gid))
print(" ".join(sorted(s)))' "$1"
}
sync_run() { # sync_run ARGS...: sets OUT (the stats line), ERR, RC
    OUT=$("$DRIVER" -p "$SSHD_PORT" -i "$SSHD_KEY" "$@" 2>"$T_TMP/stderr"); RC=$?
    ERR=$(cat "$T_TMP/stderr")
}
same_tree() { # same_tree DESC A B [EXCLUDE-REGEX]
    local a b
    a=$(listing "$2" "${4:-}"); b=$(listing "$3" "${4:-}")
    if [ "$a" = "$b" ]; then ok 0 "$1"; else
        ok 1 "$1"; diff <(echo "$a") <(echo "$b") | head -20 | sed 's/^/#   /'; fi
}

# --- a tree with odd names, symlinks, modes --------------------------------
SRC=$T_TMP/src
DST=$T_TMP/guest/vagrant
mkdir -p "$SRC/nested/deeper/deepest" "$SRC/empty dir" "$SRC/private"
echo hello >"$SRC/plain.txt"
echo spaces >"$SRC/a file with spaces"
echo quotes >"$SRC/it's \"quoted\""
echo dollar >"$SRC/\$HOME and \$(reboot)"
echo newline >"$SRC/new
line"
echo dash >"$SRC/-rf"
echo utf8 >"$SRC/$(printf 'caf\xc3\xa9')"
printf 'x%.0s' $(seq 3000) >"$SRC/nested/deeper/deepest/data"
head -c 300000 /dev/urandom >"$SRC/nested/blob.bin"
: >"$SRC/nested/empty"
echo '#!/bin/sh' >"$SRC/nested/run.sh"; chmod 0755 "$SRC/nested/run.sh"
echo secret >"$SRC/private/key"; chmod 0600 "$SRC/private/key"; chmod 0700 "$SRC/private"
chmod 2775 "$SRC/nested/deeper"
ln -s plain.txt "$SRC/link-to-file"
ln -s nested/deeper "$SRC/link-to-dir"
ln -s /nonexistent/target "$SRC/dangling"
ln -s "../it's \"quoted\"" "$SRC/nested/odd link"
long=$(printf 'n%.0s' $(seq 200))
mkdir -p "$SRC/$long"; echo long >"$SRC/$long/$long"
touch -d '2001-02-03 04:05:06' "$SRC/plain.txt"
N_SRC=$(find "$SRC" -mindepth 1 -printf x | wc -c)

sync_run "$SRC" "$DST"
expect_eq "first sync succeeds" "0" "$RC"
[ "$RC" -eq 0 ] || echo "# $ERR"
expect_eq "first sync sends every entry" "sent=$N_SRC" "$(echo "$OUT" | cut -d' ' -f1)"
same_tree "guest tree equals host tree (names, types, modes, sizes, mtimes, links)" "$SRC" "$DST"
check "file contents equal" -- diff -r --no-dereference "$SRC" "$DST"
check "links are copied as links, never followed" -- test -L "$DST/link-to-dir" -a ! -e "$DST/dangling" -a -L "$DST/dangling"

# --- incremental: change, delete, add, chmod ---------------------------------
sleep 1.1
echo changed >"$SRC/plain.txt"                  # content and mtime
rm "$SRC/a file with spaces"                     # deleted
rm -r "$SRC/nested/deeper"                       # a folder with contents
echo new >"$SRC/new file"                        # added
chmod 0640 "$SRC/nested/empty"                   # mode only
sync_run "$SRC" "$DST"
expect_eq "incremental sync: 3 sent, 2 deleted" "0 sent=3 deleted=2" \
    "$RC $(echo "$OUT" | grep -o 'sent=[0-9]*') $(echo "$OUT" | grep -o 'deleted=[0-9]*')"
same_tree "incremental sync mirrors the host" "$SRC" "$DST"
check "deleted folder is gone in the guest" -- test ! -e "$DST/nested/deeper"

sync_run "$SRC" "$DST"
expect_eq "no-change resync sends and deletes nothing" "sent=0 bytes=0 deleted=0" \
    "$(echo "$OUT" | cut -d' ' -f1-3)"

# --- type changes ----------------------------------------------------------
rm "$SRC/plain.txt"; mkdir "$SRC/plain.txt"; echo inside >"$SRC/plain.txt/inner"   # file -> dir
rm -r "$SRC/private"; echo now-a-file >"$SRC/private"                              # dir -> file
rm "$SRC/link-to-file"; echo real >"$SRC/link-to-file"                            # link -> file
rm "$SRC/new file"; ln -s plain.txt/inner "$SRC/new file"                          # file -> link
ln -sfn nested "$SRC/link-to-dir"                                                  # new target
sync_run "$SRC" "$DST"
expect_eq "type changes sync" "0" "$RC"
[ "$RC" -eq 0 ] || echo "# $ERR"
same_tree "file<->folder<->link changes mirrored" "$SRC" "$DST"

# --- excludes ---------------------------------------------------------------
mkdir -p "$SRC/.git/objects" "$SRC/build" "$SRC/sub/build"
echo ref >"$SRC/.git/HEAD"; echo obj >"$SRC/main.o"; echo out >"$SRC/build/out"
echo o2 >"$SRC/sub/build/x"; echo top >"$SRC/rooted"; echo deep >"$SRC/sub/rooted"
mkdir -p "$DST/.git"; echo guest-only >"$DST/.git/guest-file"; echo g >"$DST/guest.o"
EX=(-x .git -x '*.o' -x build/ -x /rooted)
sync_run "${EX[@]}" "$SRC" "$DST"
expect_eq "sync with excludes" "0" "$RC"
check "excluded files are not sent" -- test ! -e "$DST/main.o" -a ! -e "$DST/build" -a ! -e "$DST/sub/build" -a ! -e "$DST/.git/HEAD" -a ! -e "$DST/rooted"
check "an anchored pattern only applies at the top" -- test -f "$DST/sub/rooted"
check "excluded guest files are left alone" -- test -f "$DST/.git/guest-file" -a -f "$DST/guest.o"
same_tree "the rest mirrors the host" "$SRC" "$DST" '(^|/)(\.git|build)(/|$)|\.o$|^rooted$'
sync_run "${EX[@]}" "$SRC" "$DST"
expect_eq "resync with excludes sends nothing" "sent=0 deleted=0" \
    "$(echo "$OUT" | grep -o 'sent=[0-9]*') $(echo "$OUT" | grep -o 'deleted=[0-9]*')"

# --- as root through sudo, with ownership -----------------------------------
ROOTDST=$T_TMP/guest/owned/deep/vagrant
sync_run -r -o 65534:65534 "${EX[@]}" "$SRC" "$ROOTDST"
expect_eq "privileged sync through sudo -n" "0" "$RC"
[ "$RC" -eq 0 ] || echo "# $ERR"
expect_eq "everything, the folder included, belongs to the owner" "65534:65534" "$(owners "$ROOTDST")"
same_tree "privileged sync mirrors the host" "$SRC" "$ROOTDST" '(^|/)(\.git|build)(/|$)|\.o$|^rooted$'
echo more >>"$SRC/sub/rooted"
sync_run -r "${EX[@]}" "$SRC" "$ROOTDST"
expect_eq "without an owner, the folder goes to the SSH user's ids (root here)" "0 sent=1 0:0" \
    "$RC $(echo "$OUT" | grep -o 'sent=[0-9]*') $(owners "$ROOTDST")"

# --- errors -----------------------------------------------------------------
sync_run "$T_TMP/does-not-exist" "$DST"
expect_eq "missing host folder: exit 66" "66" "$RC"
check "the error names the folder" -- grep -q "does-not-exist" <<<"$ERR"
echo blocker >"$T_TMP/guest/blocker"
sync_run "$SRC" "$T_TMP/guest/blocker/sub"
ok $([ "$RC" -ne 0 ] && grep -q "blocker/sub" <<<"$ERR" && echo 0 || echo 1) \
    "a guest folder that cannot be created: a clear error ($ERR)"
sync_run "$SRC" "relative/path"
ok $([ "$RC" -eq 78 ] && grep -q "not an absolute path" <<<"$ERR" && echo 0 || echo 1) \
    "a relative guest folder is refused"
sync_run "$SRC" "//"
ok $([ "$RC" -eq 78 ] && grep -q "root folder" <<<"$ERR" && echo 0 || echo 1) \
    "the guest's root folder is refused"
mkdir -p "$T_TMP/unreadable/sub"; chmod 000 "$T_TMP/unreadable/sub"
sync_run "$T_TMP/unreadable" "$T_TMP/guest/unreadable"
# root reads anything: only meaningful when the test runs unprivileged.
if [ "$(id -u)" -ne 0 ]; then
    ok $([ "$RC" -eq 77 ] && echo 0 || echo 1) "an unreadable host folder: permission error"
fi
chmod 755 "$T_TMP/unreadable/sub"

# --- a file bigger than a memory batch goes through a temporary file -------------
BIG=$T_TMP/bigsrc
mkdir -p "$BIG"; truncate -s 70M "$BIG/sparse.img"; printf end >>"$BIG/sparse.img"
echo small >"$BIG/small"
sync_run -v "$BIG" "$T_TMP/guest/big"
expect_eq "a 70 MB file syncs" "0 bytes=73400329" "$RC $(echo "$OUT" | grep -o 'bytes=[0-9]*')"
check "it went through a temporary file, not the heap" -- grep -q "from a temporary file" <<<"$ERR"
check "the big file arrives intact" -- cmp "$BIG/sparse.img" "$T_TMP/guest/big/sparse.img"
rm -rf "$BIG" "$T_TMP/guest/big"

# --- watching, as rsync-auto does --------------------------------------------
WSRC=$T_TMP/wsrc
WDST=$T_TMP/guest/watched
mkdir -p "$WSRC/a"; echo 1 >"$WSRC/a/one"
"$DRIVER" -p "$SSHD_PORT" -i "$SSHD_KEY" -x '*.tmp' -w 100 "$WSRC" "$WDST" \
    >"$T_TMP/watch.out" 2>"$T_TMP/watch.err" &
WPID=$!
on_exit "kill $WPID 2>/dev/null"
wait_lines() { # wait_lines N: until the watcher has printed N stats lines (20 s max)
    local i
    for i in $(seq 200); do
        [ "$(wc -l <"$T_TMP/watch.out")" -ge "$1" ] && return 0
        sleep 0.1
    done
    return 1
}
check "watch: initial sync" -- wait_lines 1
mkdir -p "$WSRC/new/sub"; echo 2 >"$WSRC/new/sub/two"
check "watch: a new folder tree is synced" -- wait_lines 2
sleep 0.3
same_tree "watch: guest mirrors the host after the first change" "$WSRC" "$WDST"
echo 3 >"$WSRC/new/sub/three"
check "watch: a change inside a folder created after start is seen" -- wait_lines 3
sleep 0.3
check "watch: the new file arrived" -- test -f "$WDST/new/sub/three"
for i in $(seq 50); do echo "$i" >"$WSRC/a/burst-$i"; done
check "watch: a burst of 50 writes is synced" -- wait_lines 4
sleep 1
n=$(wc -l <"$T_TMP/watch.out")
ok $([ "$n" -le 5 ] && echo 0 || echo 1) "watch: the burst is folded into one or two syncs ($((n - 3)))"
same_tree "watch: guest mirrors the host after the burst" "$WSRC" "$WDST"
echo ignored >"$WSRC/a/x.tmp"
sleep 1
expect_eq "watch: changes to excluded files do not trigger a sync" "$n" "$(wc -l <"$T_TMP/watch.out")"
rm -r "$WSRC/new"
check "watch: a deleted folder is mirrored" -- wait_lines $((n + 1))
sleep 0.3
check "watch: the folder is gone in the guest" -- test ! -e "$WDST/new"
kill -TERM "$WPID"
wait "$WPID"
expect_eq "watch: SIGTERM ends it cleanly" "0" "$?"
[ -s "$T_TMP/watch.err" ] && sed 's/^/# watcher: /' "$T_TMP/watch.err"

# --- busybox applets only (a tiny guest) ---------------------------------------
if [ -x /bin/busybox ]; then
    # shellcheck disable=SC2046
    expect_eq "busybox guest: its sessions find busybox's tar" "$T_TMP/sshd/bb-bin/tar" \
        "$(ssh $(sshd_ssh_opts "$SSHD_BB_KEY") root@127.0.0.1 'command -v tar' 2>&1)"
    BBDST=$T_TMP/guest/busybox
    OUT=$("$DRIVER" -p "$SSHD_PORT" -i "$SSHD_BB_KEY" "${EX[@]}" "$SRC" "$BBDST" 2>"$T_TMP/stderr"); RC=$?
    expect_eq "busybox guest: first sync" "0" "$RC"
    [ "$RC" -eq 0 ] || sed 's/^/# /' "$T_TMP/stderr"
    same_tree "busybox guest: tree mirrors the host" "$SRC" "$BBDST" '(^|/)(\.git|build)(/|$)|\.o$|^rooted$'
    sleep 1.1
    echo again >"$SRC/sub/rooted"; rm "$SRC/-rf"; chmod 0700 "$SRC/nested/run.sh"
    OUT=$("$DRIVER" -p "$SSHD_PORT" -i "$SSHD_BB_KEY" "${EX[@]}" "$SRC" "$BBDST" 2>"$T_TMP/stderr"); RC=$?
    expect_eq "busybox guest: incremental sync" "0 sent=2 deleted=1" \
        "$RC $(echo "$OUT" | grep -o 'sent=[0-9]*') $(echo "$OUT" | grep -o 'deleted=[0-9]*')"
    same_tree "busybox guest: incremental tree" "$SRC" "$BBDST" '(^|/)(\.git|build)(/|$)|\.o$|^rooted$'
    OUT=$("$DRIVER" -p "$SSHD_PORT" -i "$SSHD_BB_KEY" "${EX[@]}" "$SRC" "$BBDST" 2>"$T_TMP/stderr"); RC=$?
    expect_eq "busybox guest: no-change resync" "sent=0" "$(echo "$OUT" | cut -d' ' -f1)"
fi

done_testing
