#!/bin/bash
# vmenv.yaml on the command line: the golden corpus of bad files (each
# tests/config/bad/NAME.yaml with NAME.expected: the exact stderr and exit
# code; VMENV_REGENERATE=1 rewrites them), the good examples, init, validate
# --json, finding the file, and the input limits.
. "$VMENV_SRCDIR/tests/lib.sh"
S=$VMENV_SRCDIR
REGEN=${VMENV_REGENERATE:-0}

# validate_in DIR: runs 'vmenv validate' in DIR; sets OUT, ERR, RC
validate_in() { run_vmenv -C "$1" validate "${@:2}"; }

# --- golden corpus of bad files ---
for y in "$S"/tests/config/bad/*.yaml; do
    name=$(basename "$y" .yaml)
    d="$T_TMP/bad-$name"
    mkdir -p "$d" && cp "$y" "$d/vmenv.yaml"
    # the time bound is the harness's, not an assertion on speed
    OUT=$(timeout 10 "$VMENV" -C "$d" validate 2>"$T_TMP/stderr"); RC=$?
    got="$(cat "$T_TMP/stderr")
exit: $RC"
    exp="${y%.yaml}.expected"
    if [ "$REGEN" = 1 ]; then
        printf '%s\n' "$got" > "$exp"
    fi
    if [ ! -f "$exp" ]; then
        ok 1 "bad/$name: no $exp (run with VMENV_REGENERATE=1)"
        continue
    fi
    expect_eq "bad/$name: $(head -1 "$exp" | cut -c1-90)" "$(cat "$exp")" "$got"
done

# --- good files validate ---
for y in "$S"/docs/examples/*.yaml "$S"/tests/config/good/*.yaml "$S"/examples/hello/vmenv.yaml; do
    [ -f "$y" ] || continue
    d="$T_TMP/good-$(basename "$(dirname "$y")")-$(basename "$y" .yaml)"
    mkdir -p "$d" && cp "$y" "$d/vmenv.yaml"
    validate_in "$d"
    [ "$RC" -eq 0 ] && case $OUT in "vmenv.yaml is valid: "*) true;; *) false;; esac
    ok $? "good: ${y#"$S"/} validates${ERR:+ ($ERR)}"
done

# --- init ---
P="$T_TMP/My Project"
mkdir -p "$P"
run_vmenv -C "$P" init
expect_eq "init exits 0" 0 "$RC"
[ -f "$P/vmenv.yaml" ] && grep -q '^box: "vmenv/tiny"$' "$P/vmenv.yaml"
ok $? "init writes vmenv.yaml with the default box"
grep -q '^# ' "$P/vmenv.yaml"; ok $? "the file is commented"
validate_in "$P"
expect_eq "what init writes validates" "vmenv.yaml is valid: 1 machine (default)" "$OUT"
before=$(cat "$P/vmenv.yaml")
run_vmenv -C "$P" init other/box
expect_eq "init refuses to overwrite: exit 1" 1 "$RC"
expect_eq "init refuses to overwrite: message and hint" "vmenv: error: 'vmenv.yaml' already exists
hint: run 'vmenv init -f' to overwrite it" "$ERR"
expect_eq "the file is left alone" "$before" "$(cat "$P/vmenv.yaml")"
run_vmenv -C "$P" init -f 'odd "box": \name' --box-url 'file:///tmp/a b.json'
expect_eq "init -f overwrites" 0 "$RC"
validate_in "$P" --json
box=$(python3 -c 'import json,sys; m=json.load(sys.stdin)["machines"][0]; print(m["box"] + "|" + m["box_url"])' <<<"$OUT")
expect_eq "a box name with quotes and backslashes survives init → validate" \
    'odd "box": \name|file:///tmp/a b.json' "$box"
(cd "$P" && "$VMENV" init --force >/dev/null 2>&1); ok $? "init without -C writes in the current folder"
run_vmenv -C "$P" init a b
expect_eq "init takes at most one box" 64 "$RC"

# --- validate: text, JSON, finding the file ---
P2="$T_TMP/multi"
mkdir -p "$P2/src/deep"
cat > "$P2/vmenv.yaml" <<'Y'
box: vmenv/tiny
memory: 1G
provision:
  - name: setup
    shell: echo "$TOKEN"
    env:
      TOKEN: { value: hunter2, sensitive: true }
      MODE: dev
machines:
  web:
    primary: true
    forwarded_ports: [{ guest: 80, host: 8080 }]
  db:
    memory: 2G
Y
validate_in "$P2"
expect_eq "validate names the machines" "vmenv.yaml is valid: 2 machines (web, db)" "$OUT"
expect_eq "validate exits 0" 0 "$RC"
validate_in "$P2/src/deep"
expect_eq "validate finds vmenv.yaml in a parent folder" "vmenv.yaml is valid: 2 machines (web, db)" "$OUT"
validate_in "$P2" --json
got=$(python3 -c '
import json, sys
c = json.load(sys.stdin)
web, db = c["machines"]
print(c["project"], web["name"], web["primary"], web["memory"], db["memory"],
      web["forwarded_ports"][0]["host_ip"], db["provision"][0]["env"]["TOKEN"],
      db["provision"][0]["env"]["MODE"], db["ssh"]["user"], db["libvirt"]["machine_type"])
' <<<"$OUT")
expect_eq "validate --json: resolved values, bytes, defaults, env values hidden" \
    "multi web True 1073741824 2147483648 127.0.0.1 *** *** vagrant q35" "$got"
validate_in "$P2" --json -v
got=$(python3 -c '
import json, sys
p = json.load(sys.stdin)["machines"][1]["provision"][0]["env"]
print(p["TOKEN"], p["MODE"])
' <<<"$OUT")
expect_eq "validate --json -v shows env values, except sensitive ones" "*** dev" "$got"
case $OUT$ERR in *hunter2*) ok 1 "the secret is not printed with -v";; *) ok 0 "the secret is not printed with -v";; esac
case $OUT in *hunter2*) ok 1 "the secret is not printed";; *) ok 0 "the secret is not printed";; esac
run_vmenv -C "$P2" --json validate
expect_eq "--json also works before the command" 0 "$RC"

E="$T_TMP/empty-dir"
mkdir -p "$E"
validate_in "$E"
expect_eq "no vmenv.yaml: exit 78" 78 "$RC"
expect_eq "no vmenv.yaml: message and hint" "vmenv: error: no vmenv.yaml in this folder or any folder above it
hint: run 'vmenv init' to create one" "$ERR"
VMENV_FILE="$P2/vmenv.yaml" run_vmenv -C "$E" validate
expect_eq "VMENV_FILE overrides the search" "vmenv.yaml is valid: 2 machines (web, db)" "$OUT"
VMENV_FILE="$E/none.yaml" run_vmenv -C "$P2" validate
expect_eq "a missing VMENV_FILE is a config error" 78 "$RC"

# errors name the file as found when it is not in the current folder
cp "$S/tests/config/bad/memory-words.yaml" "$E/vmenv.yaml"
mkdir -p "$E/sub"
validate_in "$E/sub"
case $ERR in "vmenv: error: $E/vmenv.yaml:7:13: machines.web.memory: "*) ok 0 "a parent's file is named by its path";;
    *) ok 1 "a parent's file is named by its path: $ERR";; esac
rm -rf "$E/sub" "$E/vmenv.yaml"

# --- limits ---
{ echo "box: vmenv/tiny"; head -c 1100000 /dev/zero | tr '\0' '#'; echo; } > "$E/vmenv.yaml"
OUT=$(timeout 10 "$VMENV" -C "$E" validate 2>"$T_TMP/stderr"); RC=$?
expect_eq "a file over 1 MiB: exit 78" 78 "$RC"
grep -q "larger than the limit of 1048576 bytes" "$T_TMP/stderr"; ok $? "a file over 1 MiB is named as too large"
python3 - "$E/vmenv.yaml" <<'PY'
import sys
lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
for i in range(1, 30):
    lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i-1}"] * 10) + "]")
lines.append("box: *a29")
open(sys.argv[1], "w").write("\n".join(lines) + "\n")
PY
OUT=$(timeout 10 "$VMENV" -C "$E" validate 2>"$T_TMP/stderr"); RC=$?
expect_eq "10^30 laughs fail fast with the config code (not killed by timeout)" 78 "$RC"
python3 -c 'print("box: vmenv/tiny\nx: " + "[" * 100000 + "]" * 100000)' > "$E/vmenv.yaml"
OUT=$(timeout 10 "$VMENV" -C "$E" validate 2>"$T_TMP/stderr"); RC=$?
expect_eq "100000 levels of nesting fail fast" 78 "$RC"

done_testing
