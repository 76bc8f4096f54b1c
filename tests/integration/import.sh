#!/bin/bash
# vmenv import: each tests/fixtures/vagrantfiles/NAME/Vagrantfile against its
# golden files expected-literal.yaml (the literal parser, the default) and
# expected-ruby.yaml (--ruby), rewritten by VMENV_REGENERATE=1; a fixture
# without expected-literal.yaml has expected-literal.err (the exact error).
# Every result must pass 'vmenv validate'. A fixture with a file named
# 'same' must give the same vmenv.yaml from both readers (header aside).
# Then: ruby missing from PATH, the sandbox (no network, no writes outside,
# a timeout), Ruby errors, -o/-f, and YAML escaping surviving a round trip.
. "$VMENV_SRCDIR/tests/lib.sh"
S=$VMENV_SRCDIR
REGEN=${VMENV_REGENERATE:-0}
FIX=$S/tests/fixtures/vagrantfiles
HAVE_RUBY=0
command -v ruby >/dev/null && HAVE_RUBY=1

# golden NAME MODE WANT-FILE: compares (or rewrites) and validates
golden() {
    local name=$1 mode=$2 exp=$3 got rc=$5 err=$6
    got=$(printf '%s' "$4") # without the final newline, as $(cat) reads the file
    if [ "$rc" -ne 0 ]; then
        local e="$err
exit: $rc"
        [ "$REGEN" = 1 ] && printf '%s\n' "$e" > "${exp%.yaml}.err" && rm -f "$exp"
        if [ -f "${exp%.yaml}.err" ]; then
            expect_eq "$name ($mode): the expected error" "$(cat "${exp%.yaml}.err")" "$e"
        else
            ok 1 "$name ($mode): failed with exit $rc: $err"
        fi
        return
    fi
    [ "$REGEN" = 1 ] && printf '%s\n' "$got" > "$exp" && rm -f "${exp%.yaml}.err"
    if [ ! -f "$exp" ]; then
        ok 1 "$name ($mode): no $exp (run with VMENV_REGENERATE=1)"
        return
    fi
    if [ "$got" = "$(cat "$exp")" ]; then ok 0 "$name ($mode): matches ${exp#"$S"/}"
    else ok 1 "$name ($mode): differs from ${exp#"$S"/}"; diff <(printf '%s' "$got") "$exp" | head -20 | sed 's/^/#   /'; fi
    local d="$T_TMP/validate-$name-$mode"
    mkdir -p "$d" && printf '%s' "$got" > "$d/vmenv.yaml"
    run_vmenv -C "$d" validate
    expect_eq "$name ($mode): vmenv validate accepts it" "0" "$RC${ERR:+ $ERR}"
}

# --- the fixtures, both readers ---
for dir in "$FIX"/*/; do
    name=$(basename "$dir")
    OUT=$(cd "$dir" && "$VMENV" import 2>"$T_TMP/stderr"; echo "rc=$?")
    lit_rc=${OUT##*rc=}; lit=${OUT%rc=*}
    golden "$name" literal "$dir/expected-literal.yaml" "$lit" "$lit_rc" "$(cat "$T_TMP/stderr")"
    if [ "$HAVE_RUBY" = 0 ]; then
        echo "ok $((T_N += 1)) - $name (ruby) # SKIP ruby is not installed"
        continue
    fi
    OUT=$(cd "$dir" && "$VMENV" import --ruby 2>"$T_TMP/stderr"; echo "rc=$?")
    rb_rc=${OUT##*rc=}; rb=${OUT%rc=*}
    golden "$name" ruby "$dir/expected-ruby.yaml" "$rb" "$rb_rc" "$(cat "$T_TMP/stderr")"
    if [ -f "$dir/same" ]; then
        expect_eq "$name: both readers give the same vmenv.yaml" \
            "$(printf '%s' "$lit" | tail -n +2)" "$(printf '%s' "$rb" | tail -n +2)"
    fi
done

# --- the literal parser never needs ruby; --ruby says when it is missing ---
P=$T_TMP/noruby
mkdir -p "$P/bin"
for tool in bwrap; do ln -s "$(command -v $tool)" "$P/bin/$tool" 2>/dev/null; done
cp "$FIX/basic/Vagrantfile" "$P/"
OUT=$(cd "$P" && PATH="$P/bin" "$VMENV" import 2>/dev/null); RC=$?
expect_eq "without ruby on PATH the literal parser still works" \
    "0 $(cat "$FIX/basic/expected-literal.yaml")" "$RC $OUT"
OUT=$(cd "$P" && PATH="$P/bin" "$VMENV" import --ruby 2>"$T_TMP/stderr"); RC=$?
expect_eq "--ruby without ruby: exit 69 and what to do" \
    "69 vmenv: error: ruby is not installed
hint: install ruby, or run 'vmenv import' without --ruby to use the literal parser" \
    "$RC $(cat "$T_TMP/stderr")"

# --- arguments, -o and -f ---
run_vmenv -C "$P" import Nope
expect_eq "a missing Vagrantfile: exit 66" 66 "$RC"
case $ERR in *"'Nope'"*) ok 0 "the error names the file";; *) ok 1 "the error names the file: $ERR";; esac
run_vmenv -C "$P" import -o vmenv.yaml
expect_eq "-o writes the file" "0 yes" "$RC $([ -f "$P/vmenv.yaml" ] && echo yes)"
case $ERR in "wrote vmenv.yaml from Vagrantfile (read by the literal parser"*) ok 0 "-o says what it wrote";;
    *) ok 1 "-o says what it wrote: $ERR";; esac
run_vmenv -C "$P" validate
expect_eq "what -o wrote validates" 0 "$RC"
echo "# mine" > "$P/vmenv.yaml"
run_vmenv -C "$P" import -o vmenv.yaml
expect_eq "-o refuses to overwrite" "1 vmenv: error: 'vmenv.yaml' already exists
hint: add -f to overwrite it # mine" "$RC $ERR $(cat "$P/vmenv.yaml")"
run_vmenv -C "$P" import -o vmenv.yaml -f
expect_eq "-f overwrites" "0 box" "$RC $(grep -o '^box' "$P/vmenv.yaml")"
run_vmenv -C "$P" import --no-sandbox
expect_eq "--no-sandbox needs --ruby" "64 vmenv: error: --no-sandbox and --ruby-timeout go with --ruby" "$RC $ERR"
run_vmenv -C "$P" import --ruby --ruby-timeout 0
expect_eq "--ruby-timeout is checked" 64 "$RC"
printf 'Vagrant.configure("2") do |config|\n  config.vm.hostname = "x"\nend\n' > "$P/Vagrantfile"
run_vmenv -C "$P" import
expect_eq "no box: exit 65 and why" "65 vmenv: error: 'Vagrantfile' sets no box (config.vm.box)" "$RC $ERR"
printf 'Vagrant.configure("2") do |config|\n  config.vm.box = "a\0b"\nend\n' > "$P/Vagrantfile"
run_vmenv -C "$P" import
expect_eq "a NUL byte is refused" "65 vmenv: error: 'Vagrantfile' is not a text file (it holds a NUL byte)" "$RC $ERR"

# past the limit of listed notes the rest are counted, not dropped silently
{ echo 'Vagrant.configure("2") do |config|'; echo '  config.vm.box = "b"'
  for i in $(seq 4100); do echo "  config.plugin$i.on = true"; done; echo end; } > "$P/Vagrantfile"
run_vmenv -C "$P" import
expect_eq "4100 unsupported lines: 4096 listed, the rest counted" "0 4096 # And 4 more, not listed (the limit is 4096)." \
    "$RC $(grep -c '^#   line ' <<<"$OUT") $(grep '^# And' <<<"$OUT")"

# --- YAML escaping: values come back unchanged through validate --json ---
E=$T_TMP/escape
mkdir -p "$E"
(cd "$FIX/escaping" && "$VMENV" import > "$E/vmenv.yaml" 2>/dev/null)
run_vmenv -C "$E" -v validate --json
got=$(python3 -c '
import json, sys
m = json.load(sys.stdin)["machines"][0]
p = m["provision"]
print(repr((m["box"], m["ssh"]["user"], p[0]["shell"], p[0]["env"], p[1]["shell"], p[2]["shell"], p[3]["shell"], p[4]["shell"], m["forwarded_ports"][0]["id"])))
' <<<"$OUT" 2>&1)
want=$(python3 -c '
print(repr(("acme/box: \"quoted\" # not a comment", "dev.ops", "echo '"'"'a: b'"'"' \"c\" \\ # d\n  second line\ttab\n\n",
    {"MSG": "line1\nline2: x", "Q": "it'"'"'s \"q\""}, "   leading spaces\nend", "snow \u2603 and caf\u00e9", "ends with blank lines\n\n\n",
    "\n\n     indented after blank lines\nless\n", "ssh: \"alt\"")))')
expect_eq "quotes, colons, #, newlines, tabs and unicode survive import → validate" "$want" "$got"

# --- Ruby: errors, the sandbox, the timeout ---
if [ "$HAVE_RUBY" = 1 ]; then
    R=$T_TMP/ruby
    mkdir -p "$R"
    printf 'Vagrant.configure("2") do |config|\n  config.vm.box = "a"\n  raise "boom"\nend\n' > "$R/Vagrantfile"
    run_vmenv -C "$R" import --ruby
    expect_eq "a Ruby error: exit 65 with file:line" "65 vmenv: error: Vagrantfile:3: ruby failed: RuntimeError: boom
hint: 'vmenv import' without --ruby reads the file without running it" "$RC $ERR"

    printf 'Vagrant.configure("2") do |config|\n  config.vm.box = "a"\n  loop { }\nend\n' > "$R/Vagrantfile"
    run_vmenv -C "$R" import --ruby --ruby-timeout 2
    expect_eq "an endless Vagrantfile is stopped" \
        "75 vmenv: error: cannot evaluate 'Vagrantfile': ruby did not finish within 2 s" "$RC $ERR"

    # a listener on 127.0.0.1 that the Vagrantfile tries to reach, and files
    # it tries to write next to itself and in /tmp
    port_file=$T_TMP/port
    python3 -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(4)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
s.settimeout(60)
try:
    while True: s.accept()[0].close()
except Exception: pass' "$port_file" &
    listener=$!
    on_exit "kill $listener"
    for _ in $(seq 300); do [ -s "$port_file" ] && break; sleep 0.1; done
    port=$(cat "$port_file")
    cat > "$R/Vagrantfile" <<EOF
require "socket"
reached = begin; TCPSocket.new("127.0.0.1", $port).close; "reached"; rescue StandardError; "isolated"; end
File.write("$T_TMP/outside-marker", "x") rescue nil
File.write(File.join(__dir__, "project-marker"), "x") rescue nil
home = Dir.exist?("${HOME:-/root}") && !Dir.children("${HOME:-/root}").empty? ? "home-visible" : "home-hidden"
Vagrant.configure("2") do |config|
  config.vm.box = "a"
  config.vm.hostname = reached + "." + home
end
EOF
    if command -v bwrap >/dev/null; then
        run_vmenv -C "$R" import --ruby
        host=$(grep '^hostname:' <<<"$OUT")
        expect_eq "in the sandbox the Vagrantfile reaches no network and sees no home folder" \
            'hostname: "isolated.home-hidden"' "$host"
        [ ! -e "$T_TMP/outside-marker" ] && [ ! -e "$R/project-marker" ]
        ok $? "in the sandbox it writes nothing outside its temporary folder"
        case $OUT in *"in a bubblewrap sandbox"*) ok 0 "the header says the sandbox was used";;
            *) ok 1 "the header says the sandbox was used";; esac
    else
        echo "ok $((T_N += 1)) - sandbox # SKIP bwrap is not installed"
    fi
    run_vmenv -C "$R" import --ruby --no-sandbox
    host=$(grep '^hostname:' <<<"$OUT")
    case $host in 'hostname: "reached.'*) ok 0 "without the sandbox the same file reaches 127.0.0.1 (the check above can fail)";;
        *) ok 1 "without the sandbox the same file reaches 127.0.0.1: $host";; esac
    [ -e "$R/project-marker" ]; ok $? "without the sandbox it can write next to itself (the check above can fail)"
    case $OUT in *"WITHOUT a sandbox (--no-sandbox)"*) ok 0 "the header says no sandbox was used";;
        *) ok 1 "the header says no sandbox was used";; esac
    rm -f "$T_TMP/outside-marker"
    # temporary folders are removed
    left=$(find "${TMPDIR:-/tmp}" -maxdepth 1 -name 'vmenv-import-*' -newer "$port_file" 2>/dev/null | wc -l)
    expect_eq "no temporary folder is left behind" 0 "$left"
fi

done_testing
