# A libvirt URI alias (uri_aliases in libvirt.conf) is resolved by the
# connection, not by vmenv: an alias of a remote URI would have been classed
# as this host's, its machines named and marked without the client ID
# (docs/remote.md). vmenv refuses it and names the URI it stands for; an alias
# of a local URI still works. The "remote" URI is test+ext:///default whose
# command is virt-ssh-helper: the remote driver's transport, but it reaches
# only this host's libvirtd, no network. libvirt reads aliases from
# $XDG_CONFIG_HOME/libvirt/libvirt.conf for a non-root user only: vmenv runs
# as uid 1000 of a user namespace (still root's files, nothing to clean up).
. "$VMENV_SRCDIR/tests/lib.sh"

helper=$(command -v virt-ssh-helper)
[ -n "$helper" ] || { echo "1..0 # SKIP no virt-ssh-helper"; exit 0; }
unshare -U --map-user=1000 --map-group=1000 true 2>/dev/null ||
    { echo "1..0 # SKIP no user namespaces"; exit 0; }
printf '#!/bin/sh\nexec %s test:///default\n' "$helper" >"$T_TMP/helper"
chmod +x "$T_TMP/helper"
far="test+ext:///default?command=$T_TMP/helper"
virsh -q -c "$far" uri >/dev/null 2>&1 || { echo "1..0 # SKIP libvirtd does not serve test:///default"; exit 0; }
mkdir -p "$T_TMP/cfg/libvirt" "$T_TMP/proj"
cat >"$T_TMP/cfg/libvirt/libvirt.conf" <<EOF
uri_aliases = [ "vmenvtest-far=$far", "vmenvtest-near=test:///default" ]
EOF
cat >"$T_TMP/proj/vmenv.yaml" <<EOF
box: vmenv/tiny
box_url: $T_TMP/no-such.box
machines:
  web: {}
EOF
as_user() {
    OUT=$(XDG_CONFIG_HOME="$T_TMP/cfg" unshare -U --map-user=1000 --map-group=1000 \
        "$VMENV" -C "$T_TMP/proj" "$@" 2>"$T_TMP/stderr"); RC=$?; ERR=$(cat "$T_TMP/stderr")
}

as_user --connect vmenvtest-far status
[ "$RC" != 0 ]; ok $? "an alias of a remote URI is refused (exit $RC)"
case $OUT in *"'vmenvtest-far' is a libvirt alias of the remote URI '$far'"*) ok 0 "the refusal names the URI it stands for";;
    *) ok 1 "the refusal names the URI it stands for"; printf '# %s\n' "$OUT" "$ERR";; esac
[ ! -e "$VMENV_HOME/client-id" ]; ok $? "no client ID was needed for it"

as_user --connect vmenvtest-far halt
expect_eq "halt with it exits 64" 64 "$RC"
case $ERR in *"--connect '$far'"*) ok 0 "the hint gives the URI to pass";;
    *) ok 1 "the hint gives the URI to pass"; printf '# %s\n' "$ERR";; esac

as_user --connect vmenvtest-near status
expect_eq "an alias of a local URI works" 0 "$RC"
case $OUT in *"not created"*) ok 0 "status through the local alias";; *) ok 1 "status: $OUT";; esac

as_user --connect "$far" status
expect_eq "the remote URI itself works" 0 "$RC"
[ -s "$VMENV_HOME/client-id" ]; ok $? "and is classed remote: the client ID is made for it"

done_testing
