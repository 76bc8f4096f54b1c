# Helpers for tests that boot real VMs from the tiny box: a private storage
# pool, a project folder, and cleanup of every domain and volume made.
. "$VMENV_SRCDIR/tests/lib.sh"

if [ ! -f "${VMENV_TEST_BOXES:-/nonexistent}/catalog.json" ]; then
    echo "1..0 # SKIP no test boxes (VMENV_TEST_BOXES)"; exit 0
fi
if ! virsh -c qemu:///system version >/dev/null 2>&1; then
    echo "1..0 # SKIP libvirtd is not running"; exit 0
fi

# QEMU runs as libvirt-qemu: it must traverse to the pool and the console log.
chmod 0755 "$T_TMP"
export VMENV_LIBVIRT_URI=qemu:///system
export VMENV_POOL="vmenv-test-$$"
export VMENV_POOL_PATH="$T_TMP/pool"
CATALOG="file://$VMENV_TEST_BOXES/catalog.json"

vm_cleanup() {
    local d v
    for d in $(virsh -c qemu:///system list --all --name 2>/dev/null | grep "^vmenv-" ); do
        # only the domains of this test's projects (their names carry a hash of the folder)
        case " ${VM_DOMAINS:-} " in *" $d "*) ;; *) continue;; esac
        virsh -c qemu:///system destroy "$d" >/dev/null 2>&1
        virsh -c qemu:///system undefine "$d" --nvram >/dev/null 2>&1 || virsh -c qemu:///system undefine "$d" >/dev/null 2>&1
    done
    if virsh -c qemu:///system pool-info "$VMENV_POOL" >/dev/null 2>&1; then
        for v in $(virsh -c qemu:///system vol-list "$VMENV_POOL" 2>/dev/null | awk 'NR>2 && $1 {print $1}'); do
            virsh -c qemu:///system vol-delete "$v" --pool "$VMENV_POOL" >/dev/null 2>&1
        done
        virsh -c qemu:///system pool-destroy "$VMENV_POOL" >/dev/null 2>&1
        virsh -c qemu:///system pool-undefine "$VMENV_POOL" >/dev/null 2>&1
    fi
}
on_exit vm_cleanup

# new_project DIR YAML: writes a project and remembers its domains for cleanup
new_project() {
    mkdir -p "$1"
    printf '%s\n' "$2" > "$1/vmenv.yaml"
}
# track DIR: records the domains of the project in DIR for cleanup
track() {
    local names
    names=$("$VMENV" -C "$1" status --json 2>/dev/null | python3 -c 'import json,sys; print(" ".join(m["domain"] for m in json.load(sys.stdin)))' 2>/dev/null)
    VM_DOMAINS="${VM_DOMAINS:-} $names"
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
