#!/bin/bash
# Commands that read and write a machine's state wait for its lock, as up
# and destroy do, so they cannot lose an update racing them: halt,
# provision, rsync and package. The lock is held here by flock(1), which
# writes a marker just before it lets go; a command that waited finds it.
. "$VMENV_SRCDIR/tests/lib.sh"

export VMENV_LIBVIRT_URI=test:///default
P=$T_TMP/proj
mkdir -p "$P/.vmenv/locks" "$P/src"
printf 'box: vmenv/tiny\nsynced_folders:\n  - { host: src, guest: /srv, type: rsync }\n' >"$P/vmenv.yaml"
LOCK=$P/.vmenv/locks/default.lock

for cmd in halt provision rsync package; do
    rm -f "$T_TMP/released" "$T_TMP/ready"
    flock "$LOCK" sh -c "touch '$T_TMP/ready'; sleep 2; touch '$T_TMP/released'" &
    HOLDER=$!
    for _ in $(seq 100); do [ -e "$T_TMP/ready" ] && break; sleep 0.05; done
    (cd "$P" && "$VMENV" "$cmd" >/dev/null 2>&1)
    [ -e "$T_TMP/released" ]; ok $? "$cmd waits for the machine's lock"
    wait $HOLDER
done

done_testing
