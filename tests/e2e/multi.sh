# Two machines brought up in parallel from one file, each reachable, each
# with its own name, ports and key; ssh needs a name (or primary).
. "$VMENV_SRCDIR/tests/e2e/lib-vm.sh"

P=$T_TMP/multi
new_project "$P" "box: vmenv/tiny
box_url: $CATALOG
memory: 192M
boot_timeout: 300
machines:
  web:
    primary: true
  db:
    hostname: database"
track "$P"

run_vmenv -C "$P" up
expect_eq "up of two machines exits 0" 0 "$RC"
[ "$RC" = 0 ] || printf '# %s\n' "$ERR" | head -40

run_vmenv -C "$P" status --json
n=$(echo "$OUT" | python3 -c 'import json,sys; print(sum(m["state"]=="running" for m in json.load(sys.stdin)))' 2>/dev/null)
expect_eq "both machines run" 2 "$n"

run_vmenv -C "$P" ssh web -c hostname
expect_eq "web answers as web" web "$OUT"
run_vmenv -C "$P" ssh db -c hostname
expect_eq "db answers with its hostname" database "$OUT"
run_vmenv -C "$P" ssh -c hostname
expect_eq "ssh without a name goes to the primary machine" web "$OUT"

a=$(cat "$P/.vmenv/machines/web/private_key.pub" 2>/dev/null)
b=$(cat "$P/.vmenv/machines/db/private_key.pub" 2>/dev/null)
[ -n "$a" ] && [ "$a" != "$b" ]; ok $? "each machine has its own key"

run_vmenv -C "$P" ssh nope -c true
expect_eq "an unknown machine is a usage error" 64 "$RC"

run_vmenv global-status --json
n=$(echo "$OUT" | python3 -c "import json,sys; print(sum(m['directory']=='$P' for m in json.load(sys.stdin)))" 2>/dev/null)
expect_eq "global-status lists both machines" 2 "$n"

run_vmenv -C "$P" destroy -f
expect_eq "destroy of both exits 0" 0 "$RC"
run_vmenv global-status --json
n=$(echo "$OUT" | python3 -c "import json,sys; print(sum(m['directory']=='$P' for m in json.load(sys.stdin)))" 2>/dev/null)
expect_eq "global-status forgets destroyed machines" 0 "$n"

done_testing
