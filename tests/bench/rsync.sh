#!/bin/bash
# vmenv's own sync (listing + tar over libssh) against 'rsync -a --delete -e
# ssh' into the same kind of target over the same sshd on 127.0.0.1, in one
# run: a project of 5,000 small files and 50 MB in all. Times a first sync
# and a no-change resync, each including the SSH connection, best of a few
# rounds. Targets: first sync <= 1.5x rsync, no-change resync <= 1.0x.
# Usage: tests/bench/rsync.sh [BUILD_DIR]  (default build-sync)
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$src/build-sync}
export VMENV_SRCDIR="$src"
. "$src/tests/lib.sh"
. "$src/tests/integration/sshd-lib.sh"
DRIVER=$build/tests/sync-driver
FILES=${BENCH_FILES:-5000}
MB=${BENCH_MB:-50}
ROUNDS=${BENCH_ROUNDS:-3}
[ -x "$DRIVER" ] || { echo "no $DRIVER: build it first (ninja -C $build)" >&2; exit 1; }

start_sshd "$T_TMP/sshd" >/dev/null
# The tree and both copies live on a tmpfs by default: on a shared, busy disk
# the journal's noise swamps what is measured here (the protocols).
W=${BENCH_DIR:-/dev/shm}
W=$(mktemp -d "$W/vmenv-bench-rsync.XXXXXX")
on_exit "rm -rf '$W'"

# The project: FILES files in 50 folders of 2 levels, sizes spread so the
# total is MB megabytes (a few big files, many small ones, like source trees).
python3 - "$W/project" "$FILES" "$MB" <<'EOF'
import os, random, sys
root, n, mb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
random.seed(42)
total = mb * 1000 * 1000
big = 10                                   # ten files carry half the bytes
small = (total // 2) // (n - big)
for i in range(n):
    d = os.path.join(root, "dir%02d" % (i % 50), "sub%d" % (i % 5))
    os.makedirs(d, exist_ok=True)
    size = (total // 2) // big if i < big else random.randint(small // 2, small * 3 // 2)
    with open(os.path.join(d, "file%05d.txt" % i), "wb") as f:
        f.write(os.urandom(size))
EOF
BYTES=$(du -sb "$W/project" | cut -f1)
NFILES=$(find "$W/project" -type f | wc -l)
echo "# tree: $NFILES files, $((BYTES / 1000000)) MB in $W; sshd on 127.0.0.1:$SSHD_PORT; best of $ROUNDS rounds"

SSH_CMD="ssh $(sshd_ssh_opts "$SSHD_KEY")"
now() { date +%s.%N; }
best() { # best VAR SECONDS
    local cur=${!1}
    if [ "$cur" = "" ] || [ "$(echo "$2 < $cur" | bc -l)" = 1 ]; then printf -v "$1" '%s' "$2"; fi
}
t_rsync_first= t_rsync_again= t_vmenv_first= t_vmenv_again=
for r in $(seq "$ROUNDS"); do
    rm -rf "$W/guest-rsync" "$W/guest-vmenv"
    sync
    t0=$(now); rsync -a --delete -e "$SSH_CMD" "$W/project/" "root@127.0.0.1:$W/guest-rsync/"; t1=$(now)
    rsync -a --delete -e "$SSH_CMD" "$W/project/" "root@127.0.0.1:$W/guest-rsync/"; t2=$(now)
    a=$(echo "$t1 - $t0" | bc -l); b=$(echo "$t2 - $t1" | bc -l)
    best t_rsync_first "$a"; best t_rsync_again "$b"
    sync
    t0=$(now); "$DRIVER" -p "$SSHD_PORT" -i "$SSHD_KEY" "$W/project" "$W/guest-vmenv" >"$T_TMP/first.out"; t1=$(now)
    "$DRIVER" -p "$SSHD_PORT" -i "$SSHD_KEY" "$W/project" "$W/guest-vmenv" >"$T_TMP/again.out"; t2=$(now)
    c=$(echo "$t1 - $t0" | bc -l); d=$(echo "$t2 - $t1" | bc -l)
    best t_vmenv_first "$c"; best t_vmenv_again "$d"
    printf '# round %d: rsync first %.3f s, resync %.3f s; vmenv first %.3f s, resync %.3f s\n' "$r" "$a" "$b" "$c" "$d"
done
echo "# vmenv first: $(cat "$T_TMP/first.out"); resync: $(cat "$T_TMP/again.out")"
if ! diff -r "$W/project" "$W/guest-vmenv" >/dev/null; then
    echo "vmenv's copy differs from the project" >&2; exit 1
fi
printf 'first sync:      rsync %.3f s, vmenv %.3f s, ratio %.2f (target <= 1.50)\n' \
    "$t_rsync_first" "$t_vmenv_first" "$(echo "$t_vmenv_first / $t_rsync_first" | bc -l)"
printf 'no-change sync:  rsync %.3f s, vmenv %.3f s, ratio %.2f (target <= 1.00)\n' \
    "$t_rsync_again" "$t_vmenv_again" "$(echo "$t_vmenv_again / $t_rsync_again" | bc -l)"
