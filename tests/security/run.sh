#!/bin/bash
# Hostile projects, table-driven: each tests/security/cases/NAME.expected
# (with NAME.yaml as vmenv.yaml, and optionally NAME.state.json as
# .vmenv/machines/default/state.json and NAME.index.json as the per-user
# machine index) is one attack. The runner validates the file, runs the
# command it attacks, and checks the refusal and that nothing was touched:
# no /tmp/PWNED-* file, the victim domain and volume still there, unchanged.
#
# NAME.expected, one "key: value" per line (# starts a comment):
#   validate: CODE SUBSTRING   'vmenv validate' exits CODE, stderr has SUBSTRING
#   run: ARGS...               the attacked command (words split on spaces)
#   exit: CODE                 its exit status
#   message: SUBSTRING         in its stderr (or stdout)
#   connect: URI               VMENV_LIBVIRT_URI for run (default test:///default)
#   victim: KIND               a domain defined (never started) on qemu:///system
#                              before the run: 'foreign' (its own name, no
#                              metadata), 'squatter' (this project's machine
#                              name, another project's metadata) or 'own'
#                              (this project's, as vmenv writes it); plus a
#                              volume of the same name in a pool of the test's;
#                              'volume' is that volume alone (a plain qcow2,
#                              not an overlay of a box)
#   in: copy                   run in a 'cp -r' copy of the project
# Placeholders in the data files: @PWNED@ (a path that must never appear),
# @VICTIM@ (the victim's name), @OWN@ (this project's domain name for machine
# 'default'), @POOLDIR@ (the test pool's folder), @PROJECT@ (the project).
. "$VMENV_SRCDIR/tests/lib.sh"
CASES=$VMENV_SRCDIR/tests/security/cases
SYS=qemu:///system
have_system=0
virsh -c "$SYS" uri >/dev/null 2>&1 && have_system=1

# The test's own pool, so volumes of other users of 'vmenv' are never at risk.
POOL=vmenv-sec-$$
POOLDIR=$T_TMP/pool
mkdir -p "$POOLDIR"
if [ $have_system = 1 ]; then
    virsh -c "$SYS" pool-create-as "$POOL" dir --target "$POOLDIR" >/dev/null
    on_exit "virsh -c $SYS pool-destroy $POOL >/dev/null 2>&1"
fi
export VMENV_POOL=$POOL

kv() { sed -n "s/^$1: *//p" "$2" | head -1; }

domain_xml() { # NAME PROJECT MACHINE (empty PROJECT: no metadata)
    local meta=""
    [ -n "$2" ] && meta="<metadata><vmenv:machine xmlns:vmenv='https://vmenv.dev/xmlns/domain/1'><vmenv:project>$2</vmenv:project><vmenv:name>$3</vmenv:name></vmenv:machine></metadata>"
    echo "<domain type='qemu'><name>$1</name>$meta<memory unit='MiB'>64</memory><os><type arch='x86_64'>hvm</type></os><devices><disk type='file' device='disk'><source file='$POOLDIR/$1.qcow2'/><target dev='vda' bus='virtio'/></disk></devices></domain>"
}

for exp in "$CASES"/*.expected; do
    name=$(basename "$exp" .expected)
    base=$CASES/$name
    victim=$(kv victim "$exp")
    if [ -n "$victim" ] && [ $have_system = 0 ]; then
        ok 0 "$name # SKIP qemu:///system is not reachable"
        continue
    fi
    proj=$T_TMP/$name/proj
    mkdir -p "$proj"
    proj=$(realpath "$proj")
    own="vmenv-proj-default-$(printf %s "$proj" | sha256sum | cut -c1-8)"
    pwned=/tmp/PWNED-$$-$RANDOM$RANDOM
    vname=$own
    [ "$victim" = foreign ] && vname=vmenv-sec-victim-$$-$RANDOM
    subst() { sed -e "s|@PWNED@|$pwned|g" -e "s|@VICTIM@|$vname|g" -e "s|@OWN@|$own|g" \
                  -e "s|@POOLDIR@|$POOLDIR|g" -e "s|@PROJECT@|$proj|g" "$1"; }
    subst "$base.yaml" > "$proj/vmenv.yaml"
    if [ -f "$base.state.json" ]; then
        mkdir -p "$proj/.vmenv/machines/default"
        subst "$base.state.json" > "$proj/.vmenv/machines/default/state.json"
    fi
    export VMENV_HOME=$T_TMP/$name/home
    mkdir -p "$VMENV_HOME"
    [ -f "$base.index.json" ] && subst "$base.index.json" > "$VMENV_HOME/machines.json"

    before=""
    if [ -n "$victim" ]; then
        case $victim in
        foreign) xml=$(domain_xml "$vname" "" "") ;;
        volume) xml="" ;;
        squatter) xml=$(domain_xml "$vname" "$T_TMP/someone-else" default) ;;
        own) xml=$(domain_xml "$vname" "$proj" default) ;;
        esac
        virsh -c "$SYS" vol-create-as "$POOL" "$vname.qcow2" 1M --format qcow2 >/dev/null
        if [ "$victim" != volume ]; then
            printf '%s\n' "$xml" > "$T_TMP/$name/victim.xml"
            virsh -c "$SYS" define "$T_TMP/$name/victim.xml" >/dev/null
            on_exit "virsh -c $SYS undefine $vname >/dev/null 2>&1"
            before=$(virsh -c "$SYS" dumpxml "$vname" 2>&1)
        fi
    fi

    want=$(kv validate "$exp")
    if [ -n "$want" ]; then
        run_vmenv -C "$proj" validate
        code=${want%% *} msg=${want#* }
        [ "$RC" = "$code" ] && [[ $ERR == *"$msg"* ]]
        ok $? "$name: validate exits $code with '$msg'
got $RC: $ERR"
    fi

    args=$(kv run "$exp")
    if [ -n "$args" ]; then
        dir=$proj
        if [ "$(kv in "$exp")" = copy ]; then
            cp -r "$proj" "$proj-copy"
            dir=$proj-copy
        fi
        read -ra words <<< "$args"
        code=$(kv exit "$exp") msg=$(kv message "$exp")
        OUT=$(cd "$dir" && VMENV_LIBVIRT_URI=$(kv connect "$exp" | grep . || echo test:///default) \
              timeout 120 "$VMENV" "${words[@]}" 2>"$T_TMP/stderr" </dev/null); RC=$?
        ERR=$(cat "$T_TMP/stderr")
        [ "$RC" = "$code" ] && [[ "$ERR$OUT" == *"$msg"* ]]
        ok $? "$name: 'vmenv $args' exits $code with '$msg'
got $RC: $ERR"
    fi

    [ ! -e "$pwned" ]
    ok $? "$name: no host command ran ($pwned does not exist)"
    rm -f "$pwned"
    if [ -n "$victim" ]; then
        if [ "$victim" != volume ]; then
            after=$(virsh -c "$SYS" dumpxml "$vname" 2>&1)
            expect_eq "$name: domain '$vname' is still defined, unchanged" "$before" "$after"
        fi
        virsh -c "$SYS" vol-info --pool "$POOL" "$vname.qcow2" >/dev/null 2>&1
        ok $? "$name: volume '$vname.qcow2' is still there"
        virsh -c "$SYS" undefine "$vname" >/dev/null 2>&1
        virsh -c "$SYS" vol-delete --pool "$POOL" "$vname.qcow2" >/dev/null 2>&1
    fi
done
done_testing
