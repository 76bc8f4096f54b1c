#!/bin/bash
# networks: in vmenv.yaml on the command line: validate --json shows each
# machine's entries and the project's subnets, and a private network that
# overlaps one of the host's own addresses is refused at file:line. The host
# addresses are made in a network namespace of this test's own (a bridge
# interface), never in the host's: the one where an address overlaps, and
# the one where the address sits on the project's own bridge (skipped: that
# is the network itself, up). A network without a fixed address gets a
# subnet none of them uses.
. "$VMENV_SRCDIR/tests/lib.sh"

P=$T_TMP/proj
mkdir -p "$P"
cat > "$P/vmenv.yaml" <<'Y'
box: vmenv/tiny
machines:
  web:
    networks:
      - { type: private, ip: 10.213.57.10 }
  db:
    networks:
      - { type: private }
      - { type: private, name: backend }
Y
run_vmenv -C "$P" validate --json
expect_eq "validate --json exits 0" 0 "$RC"
got=$(python3 -c '
import json, sys
c = json.load(sys.stdin)
web, db = c["machines"]
print(web["networks"], db["networks"][0]["ip"], db["networks"][1]["name"],
      [(n["name"], n["subnet"]) for n in c["networks"]])
' <<<"$OUT")
expect_eq "validate --json: entries, an unset ip, the subnets" \
    "[{'type': 'private', 'name': 'private', 'ip': '10.213.57.10'}] None backend [('private', '10.213.57.0/24'), ('backend', '192.168.56.0/24')]" "$got"

if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null; then
    echo "# SKIP the host-overlap checks need root for a network namespace"
    done_testing; exit
fi
NS=vmenv-pnc-$$
ip netns add "$NS" || { echo "Bail out! cannot make a network namespace"; exit 1; }
on_exit ip netns del "$NS"
in_ns() { ip netns exec "$NS" "$@"; }
in_ns ip link add d0 type bridge && in_ns ip addr add 10.213.57.200/16 dev d0 && in_ns ip link set d0 up
ok $? "a bridge with 10.213.57.200/16 in the namespace"

OUT=$(in_ns "$VMENV" -C "$P" validate 2>"$T_TMP/err"); RC=$?; ERR=$(cat "$T_TMP/err")
expect_eq "overlap with a host address: exit 78" 78 "$RC"
expect_eq "overlap with a host address: where, what and a hint" \
"vmenv: error: vmenv.yaml:5:9: network 'private' (10.213.57.0/24) overlaps the host's address 10.213.57.200/16 on 'd0'
hint: the host would not know where to send that subnet's packets: pick a subnet the host does not use ('ip -4 addr' lists them)" "$ERR"

OUT=$(in_ns "$VMENV" -C "$P" ssh-config web 2>"$T_TMP/err"); RC=$?
case $(cat "$T_TMP/err") in *overlaps*) ok 1 "other commands still read the file: $(cat "$T_TMP/err")";; *) ok 0 "other commands still read the file (destroy must work)";; esac

# The network's own bridge carries its host address while it is up.
in_ns ip link del d0
br=vmv$(printf '%s\n%s' "$(cd "$P" && pwd -P)" private | sha256sum | cut -c1-10)
in_ns ip link add "$br" type bridge && in_ns ip addr add 10.213.57.1/24 dev "$br"
ok $? "a bridge named like the project's bridge ($br)"
OUT=$(in_ns "$VMENV" -C "$P" validate 2>"$T_TMP/err"); RC=$?
expect_eq "the project's own bridge is not an overlap" "0 vmenv.yaml is valid: 2 machines (web, db)" "$RC $OUT"

# A network without a fixed address skips the subnets of the host's own
# addresses, and keeps the one its bridge holds while it is up.
subnets() { python3 -c 'import json, sys; print(" ".join(n["name"] + "=" + n["subnet"] for n in json.load(sys.stdin)["networks"]))'; }
in_ns ip link add d1 type bridge && in_ns ip addr add 192.168.56.5/24 dev d1
ok $? "a bridge with 192.168.56.5/24 in the namespace"
OUT=$(in_ns "$VMENV" -C "$P" validate --json 2>"$T_TMP/err"); RC=$?
expect_eq "the host uses 192.168.56.0/24: backend gets 192.168.57.0/24 and validates" \
    "0 private=10.213.57.0/24 backend=192.168.57.0/24" "$RC $(subnets <<<"$OUT")"
bbr=vmv$(printf '%s\n%s' "$(cd "$P" && pwd -P)" backend | sha256sum | cut -c1-10)
in_ns ip link add "$bbr" type bridge && in_ns ip addr add 192.168.60.1/24 dev "$bbr"
ok $? "backend's own bridge ($bbr) holds 192.168.60.1/24"
OUT=$(in_ns "$VMENV" -C "$P" validate --json 2>"$T_TMP/err"); RC=$?
expect_eq "backend keeps the subnet its bridge holds" \
    "0 private=10.213.57.0/24 backend=192.168.60.0/24" "$RC $(subnets <<<"$OUT")"
in_ns ip link del "$bbr"
in_ns ip link add d2 type bridge && in_ns ip addr add 192.168.0.1/16 dev d2
OUT=$(in_ns "$VMENV" -C "$P" validate 2>"$T_TMP/err"); RC=$?
expect_eq "no 192.168.N.0/24 is free: validate says what overlaps" \
    "78 vmenv: error: vmenv.yaml:9:9: network 'backend' (192.168.56.0/24) overlaps the host's address 192.168.56.5/24 on 'd1'" \
    "$RC $(head -1 "$T_TMP/err")"
done_testing
