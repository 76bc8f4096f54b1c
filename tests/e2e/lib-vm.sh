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

# The Vagrant insecure private key, as a file ssh accepts.
insecure_key() {
    local ik
    ik=$(ls /usr/share/rubygems-integration/all/gems/vagrant-*/keys/vagrant | tail -1)
    install -m 600 "$ik" "$T_TMP/insecure"
    echo "$T_TMP/insecure"
}
# ssh_port DIR [MACHINE]: the host port of the machine's SSH forward
ssh_port() {
    "$VMENV" -C "$1" port ${2:+"$2"} --json | python3 -c 'import json,sys; print([p["host"] for p in json.load(sys.stdin) if p["ssh"]][0])'
}
# ssh_with KEY PORT CMD...: the system ssh as vagrant with one key, no agent
ssh_with() {
    local key=$1 port=$2; shift 2
    ssh -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
        -o IdentitiesOnly=yes -o ConnectTimeout=20 -i "$key" -p "$port" vagrant@127.0.0.1 "$@"
}
# start_up DIR LOG: 'vmenv -v up' in the background (pid in UP_PID)
start_up() {
    "$VMENV" -v -C "$1" up >"$2" 2>&1 &
    UP_PID=$!
}
# wait_log LOG PATTERN SECONDS: waits until LOG has a line matching PATTERN
wait_log() {
    local i
    for ((i = 0; i < $3 * 20; i++)); do
        grep -q -- "$2" "$1" 2>/dev/null && return 0
        kill -0 "$UP_PID" 2>/dev/null || { grep -q -- "$2" "$1" 2>/dev/null; return; }
        sleep 0.05
    done
    return 1
}
# domain_of DIR [MACHINE]: the libvirt domain name of a machine
domain_of() {
    "$VMENV" -C "$1" status --json | python3 -c 'import json,sys; print([m["domain"] for m in json.load(sys.stdin) if m["name"] == (sys.argv[1] if len(sys.argv) > 1 else m["name"])][0])' ${2:+"$2"}
}
# machine_good DIR WHAT: after up, the machine runs commands with its own
# key, the insecure key is refused, and its state says first boot is done
machine_good() {
    local port key
    port=$(ssh_port "$1")
    key=$1/.vmenv/machines/default/private_key
    [ "$("$VMENV" -C "$1" ssh -c 'echo ok' 2>/dev/null)" = ok ]; ok $? "$2: vmenv ssh -c runs a command"
    ssh_with "$key" "$port" true 2>/dev/null; ok $? "$2: the machine's own key logs in"
    ssh_with "$(insecure_key)" "$port" true 2>/dev/null
    [ $? -ne 0 ]; ok $? "$2: the insecure key is refused"
}
# bench_box_check DIR: 'vmenv bench --runs 1' of the machine in DIR on the
# host and in a bubblewrap container whose root filesystem is the machine's
# box, checked: the targets, the container's figures present and positive.
bench_box_check() {
    local t0=$SECONDS
    if ! command -v bwrap >/dev/null; then
        ok 1 "bench: bubblewrap is not installed (scripts/install-deps)"
        return
    fi
    export VMENV_PROBE=$VMENV_BUILDDIR/src/probe/vmenv-probe
    run_vmenv -C "$1" bench --runs 1 --idle 2 --only host,container --container-runtime bwrap --json
    echo "# bench --runs 1 (host, container): $RC in $((SECONDS - t0)) s"
    expect_eq "bench with the box as the container's root filesystem exits 0" 0 "$RC"
    [ "$RC" = 0 ] || printf '%s\n' "$ERR" | tail -20 | sed 's/^/# /'
    echo "$OUT" >"$T_TMP/bench.json"
    python3 - "$T_TMP/bench.json" >"$T_TMP/checks" 2>&1 <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
targets = {t["target"]: t for t in d["targets"]}
# host and container, and the container's veth path where the bench can make
# it (root, bwrap, ip, nsenter): network figures only
print("targets", sorted(set(targets) - {"container-veth"}) == ["container", "host"]
      and set(targets.get("container-veth", {"figures": {"net-rr": 0}})["figures"]) <=
      {"net-rr", "net-rr-p99", "net-bulk", "net-bulk4"})
f = targets.get("container", {"figures": {}})["figures"]
want = {"cpu", "mem", "syscall", "spawn", "disk-write", "disk-read", "meta", "start-cold"}
print("container-figures", want <= set(f))
print("container-positive", all(f[k]["median"] > 0 for k in want if k in f))
PY
    while read -r what result; do
        [ "$result" = True ]; ok $? "bench: $what"
    done <"$T_TMP/checks"
    [ -s "$T_TMP/checks" ]; ok $? "the bench output was checked"
}
