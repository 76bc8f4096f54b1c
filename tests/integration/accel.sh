#!/bin/bash
# The accelerator as the CLI reports it (docs/accel.md): 'vmenv host' gives the
# same verdict three times and it matches libvirt's capabilities, VMENV_KVM=0
# and =1 (a clear error where KVM cannot run guests) and a bad value, the
# verdict in 'status --json', and t_accel for tests that boot QEMU themselves.
. "$(dirname "$0")/../lib.sh"

command -v virsh >/dev/null || { echo "1..0 # SKIP no virsh"; exit 0; }
"$VMENV" host >/dev/null 2>&1 || { echo "1..0 # SKIP 'vmenv host' cannot reach libvirt"; exit 0; }
uri=${VMENV_LIBVIRT_URI:-qemu:///system}
json() { python3 -c 'import json, sys; print(json.load(sys.stdin)'"$1"')'; }

first=$("$VMENV" host --json | json '["accel_reason"]')
for i in 2 3; do
    expect_eq "vmenv host: the same verdict, run $i" "$first" "$("$VMENV" host --json | json '["accel_reason"]')"
done
if virsh -c "$uri" capabilities | grep -q "<domain type='kvm'"; then
    case $first in kvm | "tcg: KVM present but "*) ok 0 "KVM listed: the check decided ($first)" ;;
    *) ok 1 "KVM listed: the check decided ($first)" ;; esac
else
    expect_eq "no KVM in the capabilities" "tcg: no /dev/kvm" "$first"
    # ... and indeed no guest runs under KVM here: libvirt refuses one.
    cat >"$T_TMP/kvm.xml" <<X
<domain type='kvm'><name>vmenv-accel-test-$$</name><memory unit='MiB'>16</memory>
<os><type arch='x86_64' machine='q35'>hvm</type></os></domain>
X
    on_exit "virsh -q -c '$uri' destroy vmenv-accel-test-$$ >/dev/null 2>&1"
    out=$(virsh -q -c "$uri" create "$T_TMP/kvm.xml" 2>&1)
    ok $([ $? -ne 0 ] && [[ $out == *kvm* ]]; echo $?) "libvirt indeed refuses a KVM guest here"$'\n'"$out"
fi
run_vmenv host
case $OUT in *"accelerator:  $first"*) ok 0 "the human output names the accelerator and why" ;;
*) ok 1 "the human output names the accelerator and why"$'\n'"$OUT" ;; esac
expect_eq "--json: accel matches the reason" "${first%%:*}" "$("$VMENV" host --json | json '["accel"]')"
expect_eq "t_accel agrees" "${first%%:*}" "$(t_accel)"

VMENV_KVM=0 run_vmenv host --json
expect_eq "VMENV_KVM=0: tcg, said so" "tcg: VMENV_KVM=0" "$(json '["accel_reason"]' <<<"$OUT")"
VMENV_KVM=maybe run_vmenv host
ok $([ "$RC" = 64 ] && [[ $ERR == *"invalid VMENV_KVM value 'maybe'"* ]]; echo $?) \
    "VMENV_KVM=maybe: exit 64, named"$'\n'"$ERR"
VMENV_KVM=1 run_vmenv host --json
if [ "$first" = kvm ]; then
    expect_eq "VMENV_KVM=1 with working KVM: insisted" "True" "$(json '["kvm_insisted"]' <<<"$OUT")"
else
    ok $([ "$RC" = 69 ] && [[ $ERR == *"VMENV_KVM=1 but"* ]] && [[ $ERR == *"hint: "* ]]; echo $?) \
        "VMENV_KVM=1 without working KVM: exit 69 with the reason and a hint"$'\n'"$ERR"
fi

P=$T_TMP/p
mkdir -p "$P"
printf 'box: vmenv/tiny\n' >"$P/vmenv.yaml"
run_vmenv -C "$P" status --json
expect_eq "status --json: exit 0" 0 "$RC"
expect_eq "status --json says the accelerator and why" "$first" "$(json '[0]["accel_reason"]' <<<"$OUT")"

run_vmenv help
case $OUT in *host*) ok 0 "help lists 'host'" ;; *) ok 1 "help lists 'host'" ;; esac
done_testing
