# Shared helpers for script tests: TAP output, temporary folders, cleanup.
# Source it; it sets -u and runs cleanup functions on exit.
set -u
T_N=0
T_FAILED=0
T_TMP=$(mktemp -d "${TMPDIR:-/tmp}/vmenv-test.XXXXXX")
T_CLEANUP=()
export VMENV_HOME="$T_TMP/home"
export NO_COLOR=1
# A box name not in the store is looked up at the box registry: never the
# real one (Vagrant's default) from a test; a closed loopback port instead.
export VAGRANT_SERVER_URL=http://127.0.0.1:9 VMENV_BOX_SERVER= VAGRANT_CLOUD_TOKEN=

t_cleanup() {
    local i
    for ((i = ${#T_CLEANUP[@]} - 1; i >= 0; i--)); do eval "${T_CLEANUP[i]}" || true; done
    rm -rf "$T_TMP"
}
trap t_cleanup EXIT
on_exit() { T_CLEANUP+=("$*"); }

ok() { # ok COND-EXIT-STATUS DESCRIPTION (lines after the first become comments)
    local desc=${2%%$'\n'*}
    T_N=$((T_N + 1))
    if [ "$1" -eq 0 ]; then echo "ok $T_N - $desc"; else echo "not ok $T_N - $desc"; T_FAILED=$((T_FAILED + 1)); fi
    [ "$desc" = "$2" ] || printf '%s\n' "$2" | tail -n +2 | sed 's/^/# /'
}
# check DESCRIPTION -- CMD...: passes when CMD succeeds
check() { local d=$1; shift; [ "$1" = "--" ] && shift; "$@" >/dev/null 2>&1; ok $? "$d"; }
# expect_out DESCRIPTION WANT GOT
expect_eq() {
    if [ "$2" = "$3" ]; then ok 0 "$1"; else ok 1 "$1"; printf '#   want: %s\n#   got:  %s\n' "$2" "$3"; fi
}
# run_vmenv: runs $VMENV with args, sets OUT, ERR and RC
run_vmenv() {
    OUT=$("$VMENV" "$@" 2>"$T_TMP/stderr"); RC=$?; ERR=$(cat "$T_TMP/stderr")
}
done_testing() { echo "1..$T_N"; [ "$T_FAILED" -eq 0 ]; }
# t_accel: "kvm" or "tcg", the accelerator vmenv's KVM check chose for this
# host ('vmenv host --json', docs/accel.md), for tests that boot QEMU
# themselves; tcg whenever vmenv cannot tell.
t_accel() {
    "$VMENV" host --json 2>/dev/null |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["accel"])' 2>/dev/null ||
        echo tcg
}
# t_qemu_accel: QEMU's -accel and -cpu options for that accelerator.
t_qemu_accel() {
    if [ "$(t_accel)" = kvm ]; then echo "-accel kvm -cpu host"; else echo "-accel tcg"; fi
}
# serve_dir DIR LOG: serves DIR over HTTP on 127.0.0.1, on a port the server
# picks (SERVE_PORT gets it; SERVE_URL is http://127.0.0.1:PORT/); the
# server's request log goes to LOG. Stopped by its pid on exit.
serve_dir() {
    local portfile
    portfile=$(mktemp "$T_TMP/serve-port.XXXXXX")
    python3 - "$1" "$portfile" <<'PY' >"$2" 2>&1 &
import functools, http.server, sys
h = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), h)
open(sys.argv[2], "w").write(str(s.server_address[1]))
s.serve_forever()
PY
    local pid=$!
    on_exit "kill $pid 2>/dev/null; wait $pid 2>/dev/null"
    for _ in $(seq 200); do [ -s "$portfile" ] && break; sleep 0.05; done
    if [ ! -s "$portfile" ]; then
        echo "serve_dir: the HTTP server for $1 did not start: $(cat "$2")" >&2
        return 1
    fi
    SERVE_PORT=$(cat "$portfile")
    SERVE_URL="http://127.0.0.1:$SERVE_PORT/"
}
