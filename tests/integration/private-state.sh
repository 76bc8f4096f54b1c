#!/bin/bash
# A 9p or virtiofs share that holds the project's .vmenv/ (every machine's
# private key, the state vmenv trusts) is refused at up, before anything is
# fetched or made, unless the folder says allow_private_state: true; rsync
# folders skip .vmenv/ and are not concerned. Runs on libvirt's test driver:
# past the check, up stops at the volume upload that driver lacks.
. "$VMENV_SRCDIR/tests/lib.sh"

export VMENV_LIBVIRT_URI=test:///default
P=$T_TMP/proj
mkdir -p "$P/sub" "$P/.vmenv/machines"
qemu-img create -q -f qcow2 "$P/disk.qcow2" 1G
up_with() { # up_with FOLDER-LINE: sets OUT, ERR, RC
    printf 'box: ./disk.qcow2\nsynced_folders:\n  %s\n' "$1" >"$P/vmenv.yaml"
    rm -rf "$VMENV_HOME"
    run_vmenv -C "$P" up
}

for host in . ./ .vmenv .vmenv/machines ..; do
    up_with "- { host: $host, guest: /vagrant, type: 9p }"
    expect_eq "a 9p share of '$host' is refused (exit 78)" 78 "$RC"
    case $ERR in
    *"vmenv.yaml:3:"*"9p folder '$host' would show the guest"*".vmenv"*allow_private_state*) ok 0 "the error names the file, line and folder, with the way out" ;;
    *) ok 1 "refusal message: $ERR" ;;
    esac
    [ ! -e "$VMENV_HOME/boxes" ]; ok $? "nothing was fetched for '$host'"
done
up_with "- { host: ., guest: /vagrant, type: virtiofs }"
expect_eq "a virtiofs share of the project is refused too" 78 "$RC"

up_with "- { host: sub, guest: /vagrant, type: 9p }"
case $ERR in *"would show the guest"*) ok 1 "a subfolder is shared: $ERR" ;; *) ok 0 "a subfolder may be shared" ;; esac
up_with "- { host: ., guest: /vagrant, type: 9p, allow_private_state: true }"
case $ERR in *"would show the guest"*) ok 1 "opt-in: $ERR" ;; *) ok 0 "allow_private_state: true lets the share through" ;; esac
up_with "- { host: ., guest: /vagrant, type: rsync }"
case $ERR in *"would show the guest"*) ok 1 "rsync: $ERR" ;; *) ok 0 "an rsync folder of the project is fine (it skips .vmenv/)" ;; esac

done_testing
