# The command line: help, version, unknown commands and options, completion.
. "$VMENV_SRCDIR/tests/lib.sh"

run_vmenv --version
expect_eq "--version prints the version" 0 "$RC"
case $OUT in "vmenv "[0-9]*) ok 0 "--version output";; *) ok 1 "--version output: $OUT";; esac

run_vmenv help
expect_eq "help exits 0" 0 "$RC"
case $OUT in *"commands:"*help*) ok 0 "help lists commands";; *) ok 1 "help lists commands";; esac

run_vmenv help version
case $OUT in "usage: vmenv version"*) ok 0 "help CMD prints usage";; *) ok 1 "help CMD: $OUT";; esac
run_vmenv version --help
case $OUT in "usage: vmenv version"*) ok 0 "CMD --help prints usage";; *) ok 1 "CMD --help";; esac

run_vmenv verison
expect_eq "unknown command exits 64" 64 "$RC"
case $ERR in *"did you mean 'vmenv version'"*) ok 0 "unknown command gets a hint";; *) ok 1 "hint: $ERR";; esac

run_vmenv help --jsno
expect_eq "unknown option exits 64" 64 "$RC"
case $ERR in *"did you mean '--json'"*) ok 0 "unknown option gets a hint";; *) ok 1 "hint: $ERR";; esac

run_vmenv
expect_eq "no command is a usage error" 64 "$RC"

run_vmenv completion bash
expect_eq "completion exits 0" 0 "$RC"
echo "$OUT" > "$T_TMP/comp.bash"
bash -n "$T_TMP/comp.bash"; ok $? "completion script is valid bash"
( . "$T_TMP/comp.bash"; COMP_WORDS=(vmenv ver); COMP_CWORD=1; _vmenv; [ "${COMPREPLY[*]}" = "version" ] )
ok $? "completion completes a command name"

# bench MACHINE opens that machine's hypervisor, not the first machine's:
# 'far' names an address where nothing listens, so bench must fail there
# (before the fix it opened 'near's hypervisor and tried to create 'far'
# on it; the box_url that does not exist stops that early)
mkdir -p "$T_TMP/two"
cat >"$T_TMP/two/vmenv.yaml" <<EOF
box: vmenv/tiny
box_url: $T_TMP/no-such.box
machines:
  near: {}
  far:
    libvirt: { uri: 'qemu+ssh://root@127.0.0.1:1/system' }
EOF
run_vmenv -C "$T_TMP/two" bench far --only vm
expect_eq "bench far exits 69 (its host is unreachable)" 69 "$RC"
case $ERR in *"'qemu+ssh://root@127.0.0.1:1/system'"*) ok 0 "bench far connects to far's URI" ;;
    *) ok 1 "bench far connects to far's URI"; printf '# %s\n' "$ERR" ;; esac

done_testing
