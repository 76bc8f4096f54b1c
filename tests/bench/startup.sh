#!/bin/bash
# Start-up cost of the CLI: median wall time of 'vmenv help' and of
# 'vmenv validate' on a five-machine vmenv.yaml over RUNS runs each, next to
# /bin/true measured in the same run (the cost of fork+exec alone).
# Target: under 10 ms each. Usage: tests/bench/startup.sh [BUILD_DIR]
# (default build-config); BENCH_RUNS overrides the 50 runs.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$src/build-config}
vmenv="$build/src/cli/vmenv"
runs=${BENCH_RUNS:-50}
[ -x "$vmenv" ] || { echo "no $vmenv: build first (ninja -C $build)" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vmenv-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

cat > "$tmp/vmenv.yaml" <<'Y'
box: vmenv/tiny
box_version: ">= 1.0, < 2"
memory: 512M
synced_folders:
  - { host: ., guest: /vagrant, type: rsync, exclude: [.git, build] }
provision:
  - name: base
    shell: echo base > /etc/motd
    env: { A: one, SECRET: { value: x, sensitive: true } }
machines:
  web:
    primary: true
    memory: 1G
    forwarded_ports: [{ guest: 80, host: 18080 }, { guest: 443, host: 18443 }]
  api:
    cpus: 2
    forwarded_ports: [{ guest: 3000, host: 13000 }]
  db:
    memory: 2G
    disk: 20G
    forwarded_ports: [{ guest: 5432, host: 15432 }]
  cache:
    memory: 256M
    forwarded_ports: [{ guest: 6379, host: 16379 }]
  worker:
    cpus: 4
    provision:
      - { name: jobs, script: scripts/worker.sh, args: [--queue, default], run: always }
Y
"$vmenv" -C "$tmp" validate >/dev/null

VMENV_BIN="$vmenv" DIR="$tmp" RUNS="$runs" python3 - <<'PY'
import os, statistics, subprocess, time

vmenv, d, runs = os.environ["VMENV_BIN"], os.environ["DIR"], int(os.environ["RUNS"])
devnull = subprocess.DEVNULL

def median_ms(argv):
    subprocess.run(argv, stdout=devnull, stderr=devnull, check=True)  # warm the cache
    times = []
    for _ in range(runs):
        t = time.perf_counter_ns()
        subprocess.run(argv, stdout=devnull, stderr=devnull, check=True)
        times.append(time.perf_counter_ns() - t)
    return statistics.median(times) / 1e6

true_ms = median_ms(["/bin/true"])
help_ms = median_ms([vmenv, "help"])
val_ms = median_ms([vmenv, "-C", d, "validate"])
print(f"# {runs} runs each, median wall time including fork+exec")
print(f"/bin/true: median {true_ms:.2f} ms")
print(f"help: median {help_ms:.2f} ms ({help_ms / true_ms:.1f}x /bin/true)")
print(f"validate (5 machines): median {val_ms:.2f} ms ({val_ms / true_ms:.1f}x /bin/true)")
target = 10.0
print(f"target < {target:.0f} ms: {'met' if max(help_ms, val_ms) < target else 'NOT met'}")
PY
