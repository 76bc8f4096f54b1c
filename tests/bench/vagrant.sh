#!/bin/bash
# vmenv against Vagrant + vagrant-libvirt on the Debian 12 box (issue 10), as
# ratios measured in one run, both tools interleaved on the same box with
# 1 GiB and 2 vCPUs, driven by the same libvirtd (driver "qemu"):
#   up → first 'ssh -c true'  target: vmenv >= 1.8x faster
#   ssh -c true               target: >= 20x    (median of BENCH_SAMPLES pairs)
#   status                    target: >= 50x    (median of BENCH_SAMPLES pairs)
#   halt                      target: >= 2x
#   destroy (halted machine)  target: >= 10x
#   peak RSS of the vmenv process during up (VmHWM polled in /proc), target
#   < 15 MiB, and of Vagrant's Ruby process for comparison.
# The first up of each tool copies the box image into a libvirt pool; that
# part is measured from each tool's timestamped output and shown apart.
#
# Vagrant's side makes a NAT management network (vagrant-libvirt's
# 192.168.121.0/24) and reaches the guest through it, so the whole benchmark
# runs in a network namespace of its own with a libvirtd of its own
# (tests/lib-netns.sh, as tests/e2e/nat.sh): nothing is made in the root
# network namespace, and everything started is ended by pid on exit. vmenv's
# side uses user-mode networking (its default) on that same libvirtd.
# Vagrant runs with VAGRANT_HOME in a temporary folder, no update checks.
#
# Needs root, Debian's vagrant and vagrant-libvirt (not in scripts/install-deps:
# they pull ~150 packages in and only this benchmark uses them):
#   apt-get install -y -o DPkg::Lock::Timeout=600 vagrant-libvirt
# Usage: tests/bench/vagrant.sh [BUILD_DIR] [BOXES_DIR]   (BOXES_DIR holds
# vmenv-debian12-1.0.0.box; default $VMENV_TEST_BOXES); BENCH_RUNS (default 1)
# lifecycles per tool, BENCH_SAMPLES (default 5) ssh/status pairs per run.
set -uo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$src/build}" && pwd) || exit 1
boxes=${2:-${VMENV_TEST_BOXES:-/var/cache/vmenv/boxes}}
runs=${BENCH_RUNS:-1}
samples=${BENCH_SAMPLES:-5}
VMENV=$build/src/cli/vmenv
boxfile=$boxes/vmenv-debian12-1.0.0.box
. "$src/tests/lib-netns.sh"

if [ -z "${VMENV_NETNS:-}" ]; then
    [ -x "$VMENV" ] || { echo "no $VMENV: build first" >&2; exit 1; }
    [ -f "$boxfile" ] || { echo "no $boxfile (BOXES_DIR)" >&2; exit 1; }
    if ! command -v vagrant >/dev/null || [ ! -f /usr/share/vagrant-plugins/plugins.d/vagrant-libvirt.json ]; then
        echo "no vagrant-libvirt: apt-get install -y -o DPkg::Lock::Timeout=600 vagrant-libvirt" >&2
        exit 1
    fi
    missing=$(netns_missing)
    [ -z "$missing" ] || { echo "cannot make a network namespace: no $missing" >&2; exit 1; }
    netns_make vmenv-bench-vagrant || { echo "cannot make a network namespace" >&2; exit 1; }
    netns_exec bash "$0" "$build" "$boxes"
    exit $?
fi

# --- inside the network and mount namespaces
netns_libvirtd_start || exit 1
tmp=$(mktemp -d /tmp/vmenv-bench-vagrant.XXXXXX)
chmod 755 "$tmp"
export VMENV_HOME=$tmp/vmenv-home VMENV_LIBVIRT_URI=qemu:///system
export VMENV_POOL=vmenv-bench VMENV_POOL_PATH=$tmp/vmenv-pool
export VAGRANT_HOME=$tmp/vagrant-home VAGRANT_CHECKPOINT_DISABLE=1
export VAGRANT_BOX_UPDATE_CHECK_DISABLE=1 VAGRANT_DEFAULT_PROVIDER=libvirt NO_COLOR=1
V=qemu:///system
cleanup() {
    local d p
    for p in "$tmp"/vm-*; do [ -f "$p/vmenv.yaml" ] && "$VMENV" -q -C "$p" destroy -f >/dev/null 2>&1; done
    for p in "$tmp"/vg-*; do [ -f "$p/Vagrantfile" ] && (cd "$p" && timeout 300 vagrant destroy -f >/dev/null 2>&1); done
    # the daemon is this benchmark's own: whatever is left in it is ours
    for d in $(virsh -c $V list --all --name 2>/dev/null); do
        virsh -c $V destroy "$d" >/dev/null 2>&1
        virsh -c $V undefine "$d" --nvram >/dev/null 2>&1
    done
    for p in $(virsh -c $V pool-list --all --name 2>/dev/null); do
        for d in $(virsh -c $V vol-list "$p" 2>/dev/null | awk 'NR>2 && $1 {print $1}'); do
            virsh -c $V vol-delete "$d" --pool "$p" >/dev/null 2>&1
        done
        virsh -c $V pool-destroy "$p" >/dev/null 2>&1
        virsh -c $V pool-undefine "$p" >/dev/null 2>&1
    done
    netns_libvirtd_stop
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

now() { date +%s.%N; }
el() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f\n", b-a}'; }
median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.1f", a/b; else print "n/a"}'; }
stamp() { local l; while IFS= read -r l; do printf '%s %s\n' "$(now)" "$l"; done; }
# phase LOG FROM UNTIL: seconds from the first line matching FROM to the next matching UNTIL
phase() {
    awk -v f="$2" -v u="$3" 'a == "" && $0 ~ f {a = $1; next} a != "" && $0 ~ u {printf "%.3f\n", $1 - a; exit}' "$1"
}

# peak SIDE LOG CMD...: runs CMD (output timestamped into LOG), polls the
# VmHWM of its own process until it ends; appends the peak in KiB to
# $tmp/SIDE.rss; returns CMD's status.
peak() {
    local side=$1 log=$2 pid spid fd hwm=0 k v _ rc; shift 2
    exec {fd}> >(stamp > "$log")
    spid=$!
    "$@" >&$fd 2>&1 &
    pid=$!
    exec {fd}>&-
    while kill -0 "$pid" 2>/dev/null; do
        while read -r k v _; do [ "$k" = VmHWM: ] && hwm=$v; done < "/proc/$pid/status" 2>/dev/null
        sleep 0.1
    done
    wait "$pid"; rc=$?
    for _ in $(seq 50); do kill -0 "$spid" 2>/dev/null || break; sleep 0.1; done
    echo "$hwm" >> "$tmp/$side.rss"
    return $rc
}
# one SIDE OP CMD...: times CMD, appends seconds to $tmp/SIDE.OP, or to
# $tmp/SIDE.OP.failed when it fails (a failure is counted, not a sample)
one() {
    local side=$1 op=$2 t0 t1 rc; shift 2
    : > "$tmp/$side.$op.last"
    t0=$(now); "$@" > "$tmp/$side.$op.last" 2>&1; rc=$?; t1=$(now)
    cat "$tmp/$side.$op.last" >> "$tmp/$side.$op.out"
    if [ $rc -eq 0 ]; then
        el "$t0" "$t1" >> "$tmp/$side.$op"
    else
        echo "$side $op failed (exit $rc) after $(el "$t0" "$t1") s: $(tail -1 "$tmp/$side.$op.last")" >&2
        el "$t0" "$t1" >> "$tmp/$side.$op.failed"
    fi
    return $rc
}

up_vmenv() { # up_vmenv DIR RUN: up → first ssh -c true
    local d=$1 t0 t1 rc
    t0=$(now)
    (cd "$d" && peak vmenv "$tmp/vmenv.up.log.$2" "$VMENV" up --timings); rc=$?
    [ $rc -eq 0 ] && "$VMENV" -C "$d" ssh -c true; rc=$((rc | $?))
    t1=$(now)
    [ $rc -eq 0 ] || { echo "vmenv up failed:" >&2; tail -5 "$tmp/vmenv.up.log.$2" >&2; return 1; }
    el "$t0" "$t1" >> "$tmp/vmenv.up"
    phase "$tmp/vmenv.up.log.$2" 'creating from box' ': booting' >> "$tmp/vmenv.import"
    grep -h 'boot to a command' "$tmp/vmenv.up.log.$2" | cut -d' ' -f2- >> "$tmp/timings"
}
up_vagrant() {
    local d=$1 t0 t1 rc
    t0=$(now)
    (cd "$d" && peak vagrant "$tmp/vagrant.up.log.$2" vagrant up --provider=libvirt); rc=$?
    [ $rc -eq 0 ] && (cd "$d" && vagrant ssh -c true); rc=$((rc | $?))
    t1=$(now)
    [ $rc -eq 0 ] || { echo "vagrant up failed:" >&2; tail -5 "$tmp/vagrant.up.log.$2" >&2; return 1; }
    el "$t0" "$t1" >> "$tmp/vagrant.up"
    phase "$tmp/vagrant.up.log.$2" 'Uploading base box image' 'Creating image' >> "$tmp/vagrant.import"
}

# the same machine for both tools
vmenv_project() {
    mkdir -p "$1"
    printf '%s\n' "box: vmenv/debian12" "memory: 1024M" "cpus: 2" "boot_timeout: 900" > "$1/vmenv.yaml"
}
vagrant_project() {
    mkdir -p "$1"
    cat > "$1/Vagrantfile" <<'EOF'
Vagrant.configure("2") do |config|
  config.vm.box = "vmenv/debian12"
  config.vm.box_check_update = false
  config.vm.boot_timeout = 900
  config.vm.synced_folder ".", "/vagrant", disabled: true
  config.vm.provider :libvirt do |libvirt|
    libvirt.driver = "qemu"
    libvirt.uri = "qemu:///system"
    libvirt.memory = 1024
    libvirt.cpus = 2
    libvirt.machine_type = "q35"
    libvirt.cpu_mode = "custom"
    libvirt.cpu_model = "qemu64"
    libvirt.graphics_type = "none"
    libvirt.storage_pool_name = "vagrant-bench"
  end
end
EOF
}

dir_of() { if [ "$1" = vmenv ]; then echo "$tmp/vm-$2"; else echo "$tmp/vg-$2"; fi; }

load0=$(cut -d' ' -f1-3 /proc/loadavg)
mkdir -p "$tmp/vagrant-pool"
virsh -c $V pool-define-as vagrant-bench dir --target "$tmp/vagrant-pool" >/dev/null &&
    virsh -c $V pool-start vagrant-bench >/dev/null || exit 1
echo "# network namespace $VMENV_NETNS, libvirtd pid $(cat "$VMENV_NETNS_DIR/libvirtd.pid"), $runs run(s)"
one vmenv box-add "$VMENV" -q box add vmenv/debian12 "$boxfile" || exit 1
one vagrant box-add vagrant box add --name vmenv/debian12 "$boxfile" || exit 1

for i in $(seq "$runs"); do
    vmenv_project "$tmp/vm-$i"; vagrant_project "$tmp/vg-$i"
    # The tool that goes up first does so alone; the other boots, halts and
    # is destroyed while the first one's VM idles. Run 1 puts Vagrant first,
    # so any bias is against vmenv; later runs alternate.
    if [ $((i % 2)) -eq 1 ]; then first=vagrant second=vmenv; else first=vmenv second=vagrant; fi
    echo "# run $i: $first up"
    "up_$first" "$(dir_of "$first" "$i")" "$i" || exit 1
    echo "# run $i: $second up"
    "up_$second" "$(dir_of "$second" "$i")" "$i" || exit 1
    echo "# run $i: ssh -c true and status, $samples pairs each"
    for s in $(seq "$samples"); do
        one vmenv ssh "$VMENV" -C "$tmp/vm-$i" ssh -c true
        (cd "$tmp/vg-$i" && one vagrant ssh vagrant ssh -c true)
        one vmenv status "$VMENV" -C "$tmp/vm-$i" status
        (cd "$tmp/vg-$i" && one vagrant status vagrant status)
    done
    echo "# run $i: halt, destroy"
    for t in "$second" "$first"; do
        if [ "$t" = vmenv ]; then one vmenv halt "$VMENV" -C "$tmp/vm-$i" halt
        else (cd "$tmp/vg-$i" && one vagrant halt vagrant halt); fi
    done
    for t in "$second" "$first"; do
        if [ "$t" = vmenv ]; then one vmenv destroy "$VMENV" -C "$tmp/vm-$i" destroy -f
        else (cd "$tmp/vg-$i" && one vagrant destroy vagrant destroy -f); fi
    done
done

m() { [ -s "$tmp/$1" ] && median < "$tmp/$1" || echo 0; }
line() { # line LABEL OP UNIT TARGET
    local a b
    local a b f t fails=
    a=$(m "vmenv.$2"); b=$(m "vagrant.$2")
    for t in vmenv vagrant; do
        f=$tmp/$t.$2.failed
        [ -s "$f" ] && fails="$fails; $t failed $(wc -l < "$f") time(s), after $(median < "$f") s (median)"
    done
    printf '%-28s vmenv %8s %s, Vagrant %8s %s: %sx faster%s%s\n' "$1" "$a" "$3" "$b" "$3" \
        "$(ratio "$b" "$a")" "${4:+ (target >= $4)}" "$fails"
}
vv=$(dpkg-query -W -f='${Version}' vagrant 2>/dev/null); vl=$(dpkg-query -W -f='${Version}' vagrant-libvirt 2>/dev/null)
echo "vmenv $("$VMENV" --version | head -1) against Vagrant $vv + vagrant-libvirt $vl; box vmenv/debian12, 1 GiB, 2 vCPUs, driver qemu (TCG), one libvirtd"
line "box add:" box-add s ""
line "up → first ssh -c true:" up s 1.8
a=$(m vmenv.import); b=$(m vagrant.import)
echo "  of which copying the box image into the pool (first up): vmenv $a s, Vagrant $b s;" \
    "without it: vmenv $(el "$a" "$(m vmenv.up)") s, Vagrant $(el "$b" "$(m vagrant.up)") s"
sed 's/^/  vmenv up --timings: /' "$tmp/timings"
line "ssh -c true (median):" ssh s 20
line "status (median):" status s 50
line "halt:" halt s 2
line "destroy (halted machine):" destroy s 10
a=$(sort -n "$tmp/vmenv.rss" | tail -1); b=$(sort -n "$tmp/vagrant.rss" | tail -1)
awk -v a="$a" -v b="$b" 'BEGIN {printf "peak RSS during up:          vmenv %.1f MiB (target < 15 MiB), Vagrant (ruby) %.1f MiB\n", a/1024, b/1024}'
echo "conditions: $(nproc) cores, kernel $(uname -r), $runs run(s), $samples ssh/status pairs per run," \
    "load average $load0 at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end"
