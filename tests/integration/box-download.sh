# Box downloads against a real HTTP server on 127.0.0.1: checksums, catalogs,
# redirects, HTTP errors, resumes (206, 200 instead of 206, 416, changed
# ETag), truncated bodies, low-speed timeouts, interrupts, concurrent adds,
# disk full. After every failure the store must be exactly as before.
. "$VMENV_SRCDIR/tests/lib.sh"
. "$VMENV_SRCDIR/tests/integration/box-lib.sh"
export VMENV_LOW_SPEED_TIME=30

start_server range
W=$T_TMP/www
make_box_file "$W/tiny.box" 4
SUM=$(sha256 "$W/tiny.box")
cp "$W/tiny.box" "$W/tiny-1.1.0.box"
make_box_file "$W/tiny-1.0.0.box" 1
make_box_file "$W/tiny-2.0.0.box" 1
cat > "$W/tiny.json" <<JSON
{"name": "test/tiny", "description": "a test box", "versions": [
  {"version": "1.0.0", "providers": [{"name": "libvirt", "url": "tiny-1.0.0.box",
     "checksum_type": "sha256", "checksum": "$(sha256 "$W/tiny-1.0.0.box")"}]},
  {"version": "1.1.0", "providers": [
     {"name": "virtualbox", "url": "nope.box"},
     {"name": "libvirt", "url": "tiny-1.1.0.box", "architecture": "amd64",
      "checksum_type": "sha256", "checksum": "$SUM"}]},
  {"version": "2.0.0", "providers": [{"name": "libvirt", "url": "$BASE/tiny-2.0.0.box",
     "checksum_type": "sha256", "checksum": "$(sha256 "$W/tiny-2.0.0.box")"}]}
]}
JSON
cat > "$W/bad.json" <<JSON
{"name": "test/bad", "versions": [{"version": "1.0.0", "providers": [{"name": "libvirt",
  "url": "tiny.box", "checksum_type": "sha256", "checksum": "$(printf '0%.0s' $(seq 64))"}]}]}
JSON

# --- a plain download with the right checksum
run_vmenv box add "$BASE/tiny.box" --name test/plain --checksum "sha256:$SUM"
expect_eq "box add URL with checksum succeeds" 0 "$RC"
V=$VMENV_HOME/boxes/test-VAGRANTSLASH-plain/0/libvirt
check "stored under name-VAGRANTSLASH-/0/libvirt" -- test -f "$V/box.img"
check "vmenv.json records the digest" -- grep -q "sha256:$SUM" "$V/vmenv.json"
check "vmenv.json records the source" -- grep -q "tiny.box" "$V/vmenv.json"
check "the cache is emptied after a good add" -- test -z "$(ls "$VMENV_HOME/cache")"
expect_eq "no temp debris" 0 "$(tmp_debris)"

# --- catalogs, constraints, relative URLs
run_vmenv box add "$BASE/tiny.json" --box-version "~> 1.0"
expect_eq "box add catalog ~> 1.0" 0 "$RC"
expect_eq "newest matching version (1.1.0) chosen" "box 'test/tiny' (1.1.0) is in the store" "$OUT"
run_vmenv box add "$BASE/tiny.json" --box-version "< 1.1"
expect_eq "box add catalog < 1.1 gets 1.0.0" "box 'test/tiny' (1.0.0) is in the store" "$OUT"
run_vmenv box add "$BASE/tiny.json"
expect_eq "no constraint: newest (2.0.0, absolute URL)" "box 'test/tiny' (2.0.0) is in the store" "$OUT"
N_GET=$(grep -c "GET /tiny-2.0.0.box" "$SRV_LOG")
run_vmenv box add "$BASE/tiny.json"
expect_eq "adding a present box is refused without --force, as in Vagrant" 65 "$RC"
case $ERR in *"(2.0.0) is already in the store"*) ok 0 "refusal message";; *) ok 1 "refusal: $ERR";; esac
expect_eq "a present box is not downloaded again" "$N_GET" "$(grep -c "GET /tiny-2.0.0.box" "$SRV_LOG")"
run_vmenv box add "$BASE/tiny.json" --box-version ">= 3"
expect_eq "no matching version exits 66" 66 "$RC"
case $ERR in *"no version of box 'test/tiny'"*">= 3"*) ok 0 "no-match message";; *) ok 1 "no-match message: $ERR";; esac
run_vmenv box list
expect_eq "list shows all versions" "test/plain (libvirt, 0)
test/tiny (libvirt, 1.0.0)
test/tiny (libvirt, 1.1.0)
test/tiny (libvirt, 2.0.0)" "$OUT"
run_vmenv box outdated --global
case $OUT in *"box 'test/tiny' (2.0.0) is up to date"*) ok 0 "outdated --global";; *) ok 1 "outdated: $OUT $ERR";; esac

BEFORE=$(store_listing)
# --- wrong checksum (given, and from a catalog)
run_vmenv box add "$BASE/tiny.box" --name test/wrong --checksum "sha256:$(printf 'a%.0s' $(seq 64))"
expect_eq "wrong checksum exits 65" 65 "$RC"
case $ERR in *"checksum mismatch"*"expected sha256:aaaa"*"got sha256:$SUM"*) ok 0 "mismatch names both digests";; *) ok 1 "mismatch message: $ERR";; esac
run_vmenv box add "$BASE/bad.json"
expect_eq "wrong catalog checksum exits 65" 65 "$RC"
check "a mismatched download is deleted" -- test -z "$(ls "$VMENV_HOME/cache")"
run_vmenv box add "$BASE/tiny.box" --name test/wrong --checksum "sha256:xyz"
expect_eq "malformed checksum is a usage error" 64 "$RC"
run_vmenv box add "$BASE/tiny.box" --name test/wrong --checksum "sha256:$SUM" --all
expect_eq "an option of another subcommand is refused" 64 "$RC"

# --- HTTP errors
run_vmenv box add "$BASE/status/404" --name test/e
expect_eq "404 exits 76" 76 "$RC"
case $ERR in *"HTTP 404"*"$BASE/status/404"*|*"$BASE/status/404"*"HTTP 404"*) ok 0 "404 message names status and URL";; *) ok 1 "404: $ERR";; esac
run_vmenv box add "$BASE/status/500" --name test/e
expect_eq "500 exits 76" 76 "$RC"
case $ERR in *"HTTP 500"*) ok 0 "500 message";; *) ok 1 "500: $ERR";; esac
run_vmenv box add "$BASE/missing.json"
expect_eq "a missing catalog exits 76" 76 "$RC"
run_vmenv box add "http://127.0.0.1:1/x.box" --name test/e
expect_eq "connection refused exits 76" 76 "$RC"

# --- redirects
run_vmenv box add "$BASE/redirect/3/tiny.box" --name test/redir --checksum "sha256:$SUM"
expect_eq "3 redirects are followed" 0 "$RC"
run_vmenv box add "$BASE/redirect/11/tiny.box" --name test/redir2
expect_eq "11 redirects are too many (exit 76)" 76 "$RC"
case $ERR in *"redirect"*) ok 0 "too many redirects message";; *) ok 1 "redirects: $ERR";; esac
run_vmenv box remove test/redir
BEFORE=$(store_listing)

# --- low-speed timeout
server_control mode slow
T0=$(date +%s)
VMENV_LOW_SPEED_TIME=2 run_vmenv box add "$BASE/tiny.box" --name test/slow
expect_eq "a stalled transfer times out (exit 75)" 75 "$RC"
case $ERR in *"cannot download"*) ok 0 "timeout message: ${ERR%%$'\n'*}";; *) ok 1 "timeout: $ERR";; esac
check "it gave up within 20 s" -- test $(( $(date +%s) - T0 )) -lt 20
expect_eq "store unchanged after HTTP failures" "$BEFORE" "$(store_listing)"
expect_eq "no temp debris after failures" 0 "$(tmp_debris)"
rm -f "$VMENV_HOME"/cache/*

# --- a body cut short, then a resume with Range + If-Range
server_control mode truncate
run_vmenv box add "$BASE/tiny.box" --name test/trunc --checksum "sha256:$SUM"
check "a short body fails" -- test "$RC" -ne 0
KEY=$(cache_key "$BASE/tiny.box")
PART_SIZE=$(stat -c %s "$VMENV_HOME/cache/$KEY.part" 2>/dev/null || echo 0)
check "the partial is kept ($PART_SIZE bytes)" -- test "$PART_SIZE" -gt 0
check "with its validator sidecar" -- grep -q etag "$VMENV_HOME/cache/$KEY.part.json"
expect_eq "store unchanged after the short body" "$BEFORE" "$(store_listing)"
: > "$SRV_LOG"
run_vmenv box add "$BASE/tiny.box" --name test/trunc --checksum "sha256:$SUM"
expect_eq "the second attempt completes" 0 "$RC"
check "it asked for the rest with Range and If-Range, got 206" -- grep -qE "GET /tiny.box bytes=$PART_SIZE- \"[0-9a-f-]+\" 206" "$SRV_LOG"
check "the stored image is intact" -- grep -q "sha256:$SUM" "$VMENV_HOME/boxes/test-VAGRANTSLASH-trunc/0/libvirt/vmenv.json"
run_vmenv box remove test/trunc

# plant a partial of the right length but wrong bytes + a sidecar with the
# current ETag: a server that ignores Range must restart from zero.
plant_partial() { # URL BYTES [ETAG]
    local key etag
    key=$(cache_key "$1")
    mkdir -p "$VMENV_HOME/cache"
    head -c "$2" /dev/urandom > "$VMENV_HOME/cache/$key.part"
    etag=${3:-$(curl -sI "$1" | tr -d '\r' | sed -n 's/^ETag: //Ip')}
    printf '{"url": "%s", "etag": %s}' "$1" "$(printf '%s' "$etag" | python3 -c 'import json,sys; print(json.dumps(sys.stdin.read()))')" \
        > "$VMENV_HOME/cache/$key.part.json"
}
server_control mode norange
plant_partial "$BASE/tiny.box" 100000
: > "$SRV_LOG"
run_vmenv box add "$BASE/tiny.box" --name test/norange --checksum "sha256:$SUM"
expect_eq "server ignoring Range: 200 restarts cleanly" 0 "$RC"
check "the request had a Range and got 200" -- grep -q "GET /tiny.box bytes=100000- .* 200" "$SRV_LOG"
run_vmenv box remove test/norange

server_control mode changing
plant_partial "$BASE/tiny.box" 100000 '"stale-etag"'
: > "$SRV_LOG"
run_vmenv box add "$BASE/tiny.box" --name test/changed --checksum "sha256:$SUM"
expect_eq "a changed ETag restarts from zero" 0 "$RC"
check "If-Range did not match: 200" -- grep -q 'GET /tiny.box bytes=100000- "stale-etag" 200' "$SRV_LOG"
run_vmenv box remove test/changed

# a complete partial (interrupted after the last byte): 416 is success
server_control mode range
KEY=$(cache_key "$BASE/tiny.box")
plant_partial "$BASE/tiny.box" 1
cp "$W/tiny.box" "$VMENV_HOME/cache/$KEY.part"
: > "$SRV_LOG"
run_vmenv box add "$BASE/tiny.box" --name test/complete --checksum "sha256:$SUM"
expect_eq "416 on a complete partial is handled" 0 "$RC"
check "the server said 416" -- grep -q "GET /tiny.box .* 416" "$SRV_LOG"
run_vmenv box remove test/complete
BEFORE=$(store_listing)

# --- interrupts: SIGINT and SIGKILL mid-transfer, then resume
make_box_file "$W/big.box" 12
BIGSUM=$(sha256 "$W/big.box")
BIGKEY=$(cache_key "$BASE/big.box")
server_control rate 2000000
for sig in INT KILL; do
    # background jobs of a script ignore SIGINT: restore the default first
    python3 -c 'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execv(sys.argv[1], sys.argv[1:])' \
        "$VMENV" box add "$BASE/big.box" --name test/big --checksum "sha256:$BIGSUM" >/dev/null 2>&1 &
    pid=$!
    for _ in $(seq 200); do
        s=$(stat -c %s "$VMENV_HOME/cache/$BIGKEY.part" 2>/dev/null || echo 0)
        [ "$s" -gt 2000000 ] && break
        sleep 0.05
    done
    kill -"$sig" "$pid"
    wait "$pid"; rc=$?
    check "SIG$sig stops box add (rc $rc)" -- test "$rc" -ne 0
    s=$(stat -c %s "$VMENV_HOME/cache/$BIGKEY.part" 2>/dev/null || echo 0)
    check "after SIG$sig the partial survives ($s bytes)" -- test "$s" -gt 0
    expect_eq "after SIG$sig the store is unchanged" "$BEFORE" "$(store_listing)"
done
server_control rate 0
: > "$SRV_LOG"
run_vmenv box add "$BASE/big.box" --name test/big --checksum "sha256:$BIGSUM"
expect_eq "the interrupted download resumes and completes" 0 "$RC"
check "it resumed with 206" -- grep -q "GET /big.box bytes=[0-9]*- .* 206" "$SRV_LOG"
check "with the right digest" -- grep -q "sha256:$BIGSUM" "$VMENV_HOME/boxes/test-VAGRANTSLASH-big/0/libvirt/vmenv.json"
run_vmenv box remove test/big

# --- two concurrent adds of the same box download once
run_vmenv box remove test/tiny --box-version 1.1.0
server_control rate 4000000
: > "$SRV_LOG"
"$VMENV" box add "$BASE/tiny.json" --box-version "= 1.1.0" >"$T_TMP/c1" 2>&1 & p1=$!
"$VMENV" box add "$BASE/tiny.json" --box-version "= 1.1.0" >"$T_TMP/c2" 2>&1 & p2=$!
wait $p1; r1=$?; wait $p2; r2=$?
server_control rate 0
# the second finds it stored once the first is done: refused as in Vagrant
expect_eq "one concurrent add stores it, the other is refused" "0 65" "$(printf '%s\n' "$r1" "$r2" | sort -n | tr '\n' ' ' | sed 's/ $//')"
expect_eq "the box was downloaded once" 1 "$(grep -c "GET /tiny-1.1.0.box" "$SRV_LOG")"

# --- file:// URLs
run_vmenv box add "file://$W/tiny.box" --name test/file --checksum "sha256:$SUM"
expect_eq "file:// URL" 0 "$RC"

# --- archives over HTTP: hostile, zip, xz (extracted while downloading)
python3 "$VMENV_SRCDIR/tests/fixtures/hostile/gen.py" "$T_TMP/hostile"
cp "$T_TMP"/hostile/{symlink.tar,good.zip,good.tar.xz} "$W/"
BEFORE=$(store_listing)
run_vmenv box add "$BASE/symlink.tar" --name evil/http
expect_eq "a hostile box over HTTP exits 65" 65 "$RC"
case $ERR in *"member 'box.img' is a symbolic link: links are not allowed"*) ok 0 "hostile over HTTP: message";; *) ok 1 "hostile: $ERR";; esac
expect_eq "store unchanged after a hostile box" "$BEFORE" "$(store_listing)"
expect_eq "no temp debris after a hostile box" 0 "$(tmp_debris)"
check "the hostile download is not kept" -- test -z "$(ls "$VMENV_HOME/cache" | grep -v '^$')"
run_vmenv box add "$BASE/good.zip" --name fmt/zip
expect_eq "a zip box over HTTP" 0 "$RC"
run_vmenv box add "$BASE/good.tar.xz" --name fmt/xz
expect_eq "an xz box over HTTP" 0 "$RC"

# --- the box registry: a shorthand name as Vagrant looks it up (box_add.rb:
# SERVER/api/v2/vagrant/NAME, then SERVER/NAME), VAGRANT_CLOUD_TOKEN sent to
# that server only, never to a redirect target on another host
mkdir -p "$W/api/v2/vagrant/reg" "$W/reg"
cat > "$W/api/v2/vagrant/reg/api" <<JSON
{"name": "reg/api", "versions": [{"version": "1.0.0", "providers": [{"name": "libvirt",
  "url": "$BASE/redirect-host/localhost:$PORT/tiny-1.0.0.box",
  "checksum_type": "sha256", "checksum": "$(sha256 "$W/tiny-1.0.0.box")"}]}]}
JSON
cat > "$W/reg/plain" <<JSON
{"name": "reg/plain", "versions": [{"version": "2.0", "providers": [{"name": "libvirt",
  "url": "http://localhost:$PORT/tiny-2.0.0.box"}]}]}
JSON
: > "$SRV_LOG"
VAGRANT_SERVER_URL=$BASE VAGRANT_CLOUD_TOKEN=tok-123 run_vmenv box add reg/api
expect_eq "a shorthand name through the API form" "box 'reg/api' (1.0.0) is in the store" "$OUT"
check "asked at SERVER/api/v2/vagrant/NAME" -- grep -q "^GET /api/v2/vagrant/reg/api - - 200" "$SRV_LOG"
check "the token went to the registry" -- grep -q "^AUTH 127.0.0.1:$PORT /api/v2/vagrant/reg/api Bearer tok-123" "$SRV_LOG"
check "and to a box on the registry's host" -- grep -q "^AUTH 127.0.0.1:$PORT /redirect-host/" "$SRV_LOG"
check "but not to the redirect target on another host" -- test -z "$(grep "^AUTH localhost" "$SRV_LOG")"
check "which served the box" -- grep -q "^GET /tiny-1.0.0.box - - 200" "$SRV_LOG"
: > "$SRV_LOG"
VAGRANT_SERVER_URL=$BASE/ VAGRANT_CLOUD_TOKEN=tok-123 run_vmenv box add reg/plain
expect_eq "then the plain SERVER/NAME form" "box 'reg/plain' (2.0) is in the store" "$OUT"
check "after the API form answered 404" -- grep -q "^GET /api/v2/vagrant/reg/plain - - 404" "$SRV_LOG"
check "no token for a box on another host" -- test -z "$(grep "^AUTH localhost" "$SRV_LOG")"
: > "$SRV_LOG"
VAGRANT_SERVER_URL=http://localhost:$PORT VAGRANT_CLOUD_TOKEN=tok-123 run_vmenv box add "$BASE/tiny.json" --box-version "= 1.0.0" --name test/tiny -f
expect_eq "a catalog URL off the registry's host" 0 "$RC"
check "gets no token" -- test -z "$(grep "^AUTH" "$SRV_LOG")"
mkdir -p "$W/test" && sed 's|"url": "tiny-|"url": "../tiny-|' "$W/tiny.json" > "$W/test/tiny.json"
VMENV_BOX_SERVER=$BASE VAGRANT_SERVER_URL=http://127.0.0.1:9 run_vmenv box add test/tiny --box-version "= 2.0.0" -f
expect_eq "VMENV_BOX_SERVER comes before VAGRANT_SERVER_URL (and NAME.json is tried last)" 0 "$RC"
VAGRANT_SERVER_URL=$BASE run_vmenv box add reg/none
expect_eq "a name the registry does not know exits 76 (HTTP error)" 76 "$RC"
case $ERR in *"cannot look up box 'reg/none' at '$BASE'"*"404"*) ok 0 "names the server";; *) ok 1 "unknown name: $ERR";; esac

# --- disk full: a small tmpfs as VMENV_HOME (needs mount; skipped without)
FULL=$T_TMP/full
mkdir -p "$FULL"
if mount -t tmpfs -o size=2m tmpfs "$FULL" 2>/dev/null; then
    on_exit "umount $FULL"
    VMENV_HOME=$FULL run_vmenv box add "$BASE/tiny.box" --name test/full
    expect_eq "disk full exits 74" 74 "$RC"
    case $ERR in *"No space left on device"*) ok 0 "disk full message";; *) ok 1 "disk full: $ERR";; esac
    expect_eq "disk full leaves no debris" "" "$(cd "$FULL" && find cache tmp boxes -type f 2>/dev/null)"
else
    ok 0 "# SKIP cannot mount a tmpfs"
fi

done_testing
