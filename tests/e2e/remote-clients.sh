# Two computers, one shared hypervisor: clients A and B (their own
# $VMENV_HOME, so their own client ID) keep a project at the same path and
# bring it up on the same "remote host" (tests/lib-remote.sh). Each gets its
# own domain, marked with its client ID; B's destroy leaves A's machine
# running, and neither may touch the other's (docs/remote.md).
# The second computer's project folder is another folder bind-mounted at
# the same path, in a mount namespace of each of B's commands.
. "$(dirname "$0")/../lib-remote.sh"
[ -n "${VMENV_REMOTE:-}" ] || remote_enter_vm_test vmenv-rcli "$0"

# --- inside: the host answers at REMOTE_ADDR, /root/.ssh is the test's
. "$VMENV_SRCDIR/tests/e2e/lib-vm.sh"
on_exit remote_vm_cleanup
export VMENV_LIBVIRT_URI=$REMOTE_URI
echo "# remote host $REMOTE_ADDR (namespace $VMENV_REMOTE)"

P=$T_TMP/proj
PB=$T_TMP/proj-on-b
HOME_A=$T_TMP/home-a
HOME_B=$T_TMP/home-b
yaml="box: vmenv/tiny
box_url: $CATALOG
memory: 192M
boot_timeout: 400"
new_project "$P" "$yaml"
new_project "$PB" "$yaml"

run_a() { VMENV_HOME=$HOME_A run_vmenv -C "$P" "$@"; }
# B's command sees its own folder at P
run_b() {
    OUT=$(VMENV_HOME=$HOME_B unshare -m --propagation private \
        bash -c 'p=$1; shift; mount --bind "$0" "$p" && exec "$VMENV" -C "$p" "$@"' "$PB" "$P" "$@" \
        2>"$T_TMP/stderr")
    RC=$?
    ERR=$(cat "$T_TMP/stderr")
}
doms() { remote_virsh list --all --name | grep '^vmenv-proj-default-' | sort; }

run_a up
expect_eq "client A: up exits 0" 0 "$RC"
[ "$RC" = 0 ] || printf '# %s\n' "$ERR" | tail -20
run_b up
expect_eq "client B (same project path): up exits 0" 0 "$RC"
[ "$RC" = 0 ] || printf '# %s\n' "$ERR" | tail -20
[ -f "$P/.vmenv/machines/default/state.json" ] && [ -f "$PB/.vmenv/machines/default/state.json" ]
ok $? "each client keeps its own .vmenv/ (B's is in its own folder)"

expect_eq "the remote host has two domains for the one project path" 2 "$(doms | wc -l)"
DA=$(VMENV_HOME=$HOME_A "$VMENV" -C "$P" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["domain"])')
run_b status --json
DB=$(echo "$OUT" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["domain"])')
[ -n "$DA" ] && [ -n "$DB" ] && [ "$DA" != "$DB" ]; ok $? "A and B name different domains ($DA, $DB)"
ida=$(cat "$HOME_A/client-id"); idb=$(cat "$HOME_B/client-id")
[ "$(stat -c %a "$HOME_A/client-id")" = 600 ]; ok $? "the client ID file is 0600"
remote_virsh dumpxml "$DA" | grep -q "<vmenv:client>$ida</vmenv:client>"
ok $? "A's domain carries A's client ID"
remote_virsh dumpxml "$DB" | grep -q "<vmenv:client>$idb</vmenv:client>"
ok $? "B's domain carries B's client ID"

run_a ssh -c 'echo from-a'
expect_eq "A reaches its machine" from-a "$OUT"
run_b ssh -c 'hostname; echo from-b'
expect_eq "B reaches its own machine" "default
from-b" "$OUT"

run_b destroy -f
expect_eq "client B: destroy exits 0" 0 "$RC"
remote_virsh dominfo "$DB" >/dev/null 2>&1
[ $? -ne 0 ]; ok $? "B's domain is gone"
st=$(remote_virsh domstate "$DA" 2>/dev/null | head -1)
expect_eq "A's domain still runs after B's destroy" running "$st"
run_a ssh -c 'echo still-here'
expect_eq "A still reaches its machine" still-here "$OUT"

run_a destroy -f
expect_eq "client A: destroy exits 0" 0 "$RC"
expect_eq "no domain of the project is left" 0 "$(doms | wc -l)"

done_testing
