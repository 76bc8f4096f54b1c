#!/bin/bash
# The fetcher against hostile servers and catalogs on 127.0.0.1: a remote
# catalog may not point at a local file, file:// only reaches regular
# files, an endless body stops at VMENV_MAX_DOWNLOAD, a failed extraction
# stops the transfer at once, and a 206 must start at the offset asked for.
# After each failure the download cache holds nothing.
. "$VMENV_SRCDIR/tests/lib.sh"
. "$VMENV_SRCDIR/tests/integration/box-lib.sh"
export VMENV_LOW_SPEED_TIME=30

start_server range
W=$T_TMP/www
make_box_file "$W/tiny.box" 1
SUM=$(sha256 "$W/tiny.box")
cache_empty() { [ -z "$(ls -A "$VMENV_HOME/cache" 2>/dev/null | grep -v '^local-')" ]; }

# --- a remote catalog naming file:///dev/zero (or any local file)
for u in file:///dev/zero "file://$W/tiny.box"; do
    cat >"$W/evil.json" <<JSON
{"name": "evil/box", "versions": [{"version": "1.0.0", "providers": [
  {"name": "libvirt", "url": "$u", "checksum_type": "sha256", "checksum": "$SUM"}]}]}
JSON
    run_vmenv box add "$BASE/evil.json"
    expect_eq "a remote catalog pointing at $u is refused (exit 65)" 65 "$RC"
    case $ERR in *"points to a local file"*) ok 0 "the error says why" ;; *) ok 1 "evil catalog: $ERR" ;; esac
    cache_empty; ok $? "nothing is left in the cache"
done

# --- a local catalog may use file://, but only for regular files
cat >"$T_TMP/local.json" <<JSON
{"name": "local/zero", "versions": [{"version": "1.0.0", "providers": [
  {"name": "libvirt", "url": "file:///dev/zero"}]}]}
JSON
run_vmenv box add "$T_TMP/local.json"
expect_eq "file:///dev/zero from a local catalog is refused (exit 65)" 65 "$RC"
case $ERR in *"not a regular file"*) ok 0 "the error says it is not a regular file" ;; *) ok 1 "dev/zero: $ERR" ;; esac
run_vmenv box add file:///dev/zero --name local/zero2
expect_eq "box add file:///dev/zero is refused too" 65 "$RC"
sed -i "s|file:///dev/zero|file://$W/tiny.box|" "$T_TMP/local.json"
run_vmenv box add "$T_TMP/local.json"
expect_eq "a regular file:// from a local catalog works" 0 "$RC"

# --- an endless body without Content-Length stops at the cap
server_control mode endless
cp "$W/tiny.box" "$W/endless.box"
VMENV_MAX_DOWNLOAD=3M timeout 120 "$VMENV" box add "$BASE/endless.box" --name test/endless \
    >/dev/null 2>"$T_TMP/err"; RC=$?; ERR=$(cat "$T_TMP/err")
expect_eq "an endless body is refused at VMENV_MAX_DOWNLOAD (exit 65)" 65 "$RC"
case $ERR in *"larger than the limit of 3145728 bytes"*VMENV_MAX_DOWNLOAD*) ok 0 "the error names the limit and the setting" ;; *) ok 1 "endless: $ERR" ;; esac
cache_empty; ok $? "the cache is emptied"

# --- an extraction that failed stops the transfer: junk, then zeros without
# end (the default cap, 64 GiB, would take minutes: the timeout catches a
# fetcher that goes on)
head -c 300000 /dev/urandom >"$W/junk.box"
timeout 120 "$VMENV" box add "$BASE/junk.box" --name test/junk >/dev/null 2>"$T_TMP/err"; RC=$?
ERR=$(cat "$T_TMP/err")
[ "$RC" -ne 0 ] && [ "$RC" -ne 124 ]; ok $? "a body that is no box stops when extraction fails (rc $RC)"
case $ERR in *"box"*) ok 0 "the error is the extraction's: ${ERR%%$'\n'*}" ;; *) ok 1 "zeros: $ERR" ;; esac
cache_empty; ok $? "the cache is emptied"

# --- a 206 whose Content-Range starts elsewhere is not appended: restart
server_control mode badrange
KEY=$(cache_key "$BASE/tiny.box")
mkdir -p "$VMENV_HOME/cache"
head -c 100000 "$W/tiny.box" >"$VMENV_HOME/cache/$KEY.part"
ETAG=$(curl -sI "$BASE/tiny.box" | tr -d '\r' | sed -n 's/^ETag: //Ip')
printf '{"url": "%s", "etag": %s}' "$BASE/tiny.box" "$(printf '%s' "$ETAG" | python3 -c 'import json,sys; print(json.dumps(sys.stdin.read()))')" \
    >"$VMENV_HOME/cache/$KEY.part.json"
: >"$SRV_LOG"
run_vmenv box add "$BASE/tiny.box" --name test/badrange --checksum "sha256:$SUM"
expect_eq "a 206 at the wrong offset restarts from zero and completes" 0 "$RC"
[ "$RC" = 0 ] || printf '%s\n' "$ERR" | sed 's/^/#   /'
check "the server answered the range with 206, then the whole file with 200" -- \
    grep -qzE "GET /tiny.box bytes=100000- [^ ]+ 206.*GET /tiny.box - - 200" "$SRV_LOG"

done_testing
