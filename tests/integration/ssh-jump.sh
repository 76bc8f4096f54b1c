# The SSH jump of remote hypervisors (src/core/ssh-jump.c, ssh-tunnel.c)
# against a real OpenSSH server on 127.0.0.1, which is the jump host and,
# through a direct-tcpip channel to its own loopback, the "guest": commands
# and their status, 8 MiB of output through the pump intact, twenty sessions
# in one process (each pump stopped and joined), the jump host's key checked
# (never trusted on first use), a closed port, a tunnel, and the port
# probe. Run under ASan too (build-asan).
. "$VMENV_SRCDIR/tests/lib.sh"
. "$VMENV_SRCDIR/tests/integration/sshd-lib.sh"
DRIVER=$VMENV_BUILDDIR/tests/jump-driver
if ! command -v /usr/sbin/sshd >/dev/null; then echo "1..0 # SKIP no sshd"; exit 0; fi
start_sshd "$T_TMP/sshd" || { echo "Bail out! sshd does not start"; exit 1; }
HOSTKEY=$(cut -d' ' -f1,2 "$T_TMP/sshd/host_key.pub")
echo "[127.0.0.1]:$SSHD_PORT $HOSTKEY" >"$T_TMP/known_hosts"
echo "[127.0.0.1]:$SSHD_PORT ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB" >"$T_TMP/wrong_hosts"
: >"$T_TMP/empty_hosts"
URI="qemu+ssh://root@127.0.0.1:$SSHD_PORT/system?keyfile=$SSHD_KEY&known_hosts=$T_TMP/known_hosts"
jd() { "$DRIVER" "$1" "$SSHD_PORT" "$SSHD_KEY" "$HOSTKEY" "$2" "$3"; }

out=$(jd "$URI" 1 'echo through; exit 7' 2>"$T_TMP/err"); rc=$?
expect_eq "a command through the jump: its output" through "$out"
expect_eq "a command through the jump: its exit status" 7 "$rc"
[ "$out" = through ] || sed 's/^/# /' "$T_TMP/err"

head -c 8388608 /dev/urandom >"$T_TMP/big"
jd "$URI" 1 "cat $T_TMP/big" >"$T_TMP/big.out" 2>"$T_TMP/err"
cmp -s "$T_TMP/big" "$T_TMP/big.out"
ok $? "8 MiB of output arrive intact through the pump"

out=$(jd "$URI" 20 'echo x' 2>"$T_TMP/err" | wc -l)
expect_eq "twenty sessions through the jump in one process" 20 "$out"
[ "$out" = 20 ] || sed 's/^/# /' "$T_TMP/err"

jd "${URI/known_hosts=*/known_hosts=$T_TMP/wrong_hosts}" 1 true 2>"$T_TMP/err"
expect_eq "a changed jump host key is refused (77)" 77 "$?"
grep -q "is not the one in known_hosts" "$T_TMP/err"; ok $? "  and the error says so"
jd "${URI/known_hosts=*/known_hosts=$T_TMP/empty_hosts}" 1 true 2>"$T_TMP/err"
expect_eq "an unknown jump host key is refused, not trusted (77)" 77 "$?"
grep -q "connect once with 'ssh 127.0.0.1'" "$T_TMP/err"; ok $? "  with the hint to check it with ssh"

closed=$(sshd_free_port)
"$DRIVER" "$URI" "$closed" "$SSHD_KEY" "$HOSTKEY" 1 true 2>"$T_TMP/err"
expect_eq "a closed port behind the jump is a network error (76)" 76 "$?"

# the tunnel: this side's 127.0.0.1:PORT carried to PORT of the jump host's
# ::1 (the same host here: its 127.0.0.1:PORT is the tunnel itself)
WEB=$(sshd_free_port)
python3 -c "
import http.server, socket, sys, os
class S(http.server.HTTPServer): address_family = socket.AF_INET6
os.chdir(sys.argv[2])
S(('::1', int(sys.argv[1])), http.server.SimpleHTTPRequestHandler).serve_forever()" "$WEB" "$T_TMP" >/dev/null 2>&1 &
HPID=$!
on_exit "kill $HPID 2>/dev/null"
echo tunnel-ok >"$T_TMP/index.html"
TURI="qemu+ssh://root@127.0.0.1:$SSHD_PORT/system?keyfile=$SSHD_KEY&known_hosts=$T_TMP/known_hosts"
"$DRIVER" --tunnel "$TURI" ::1 "$WEB" 2>"$T_TMP/tunnel.err" &
TPID=$!
on_exit "kill $TPID 2>/dev/null"
got=
for _ in $(seq 50); do
    got=$(curl -s --max-time 5 "http://127.0.0.1:$WEB/index.html" 2>/dev/null) && [ -n "$got" ] && break
    sleep 0.1
done
expect_eq "the tunnel carries a connection through the jump host" tunnel-ok "$got"
for _ in 1 2 3 4 5; do curl -s --max-time 5 "http://127.0.0.1:$WEB/index.html" >/dev/null; done
got=$(curl -s --max-time 5 "http://127.0.0.1:$WEB/index.html")
expect_eq "  and connection after connection" tunnel-ok "$got"
kill -TERM "$TPID"; wait "$TPID"
expect_eq "the tunnel ends with 0 on SIGTERM" 0 "$?"
[ -s "$T_TMP/tunnel.err" ] && sed 's/^/# /' "$T_TMP/tunnel.err"

# the probe that up uses to test a remote host's ports: a channel that
# opens is a listener; a refused one (a closed port, a bound socket that
# does not listen) is not, and the session goes on after a refusal
python3 -c "
import socket, time
s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1], flush=True); time.sleep(600)" >"$T_TMP/bound" &
BPID=$!
on_exit "kill $BPID 2>/dev/null"
for _ in $(seq 50); do [ -s "$T_TMP/bound" ] && break; sleep 0.1; done
BOUND=$(cat "$T_TMP/bound")
got=$("$DRIVER" --probe "$TURI" 127.0.0.1 "$closed" "$SSHD_PORT" "$BOUND" "$closed" 2>"$T_TMP/err" | tr '\n' ' ')
expect_eq "the probe: closed free, listening taken, bound free, and again" \
    "$closed free $SSHD_PORT taken $BOUND free $closed free " "$got"
[ -s "$T_TMP/err" ] && sed 's/^/# /' "$T_TMP/err"
got=$("$DRIVER" --probe "$TURI" ::1 "$WEB" 2>"$T_TMP/err")
expect_eq "the probe asks the jump host's ::1 too" "$WEB taken" "$got"

done_testing
