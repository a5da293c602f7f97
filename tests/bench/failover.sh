#!/usr/bin/env bash
# Failover time and loss: slotd builtin nodes vs a real redis-server cluster
# (slotd kind = "redis-server"), in the same run on this machine.
#
# 1. Failover time: kill -9 the master of slot 0 (slotctl kill), then retry a
#    SET on a slot-0 key through a cluster client (redis-cli -c) until it
#    succeeds; at cluster-node-timeout 5000 and 1000, with Redis's own gossip
#    detection (failover = "gossip") and with slotd's assisted failover
#    (failover = "assisted": CLUSTER FAILOVER FORCE the moment the process dies).
# 2. Loss under steady write load (slotctl lab run, load_start/kill/read):
#    acknowledged writes missing after failover, without and with WAIT 1.
# Prints every figure and the ratios builtin/redis.
#
# Usage: tests/bench/failover.sh [ROUNDS]     (default 3 rounds, median kept)
#   MODES: which failover modes to time (default "gossip assisted")
#   TIMEOUTS: which cluster-node-timeouts (default "5000 1000")
#   SLOTD / SLOTCTL: the binaries (default: $CARGO_TARGET_DIR or target, release if built, else debug)
set -euo pipefail
ROUNDS=${1:-3}
cd "$(dirname "$0")/../.."
T=${CARGO_TARGET_DIR:-target}
pick() { if [ -x "$T/release/$1" ]; then echo "$T/release/$1"; else echo "$T/debug/$1"; fi; }
SLOTD=${SLOTD:-$(pick slotd)}
SLOTCTL=${SLOTCTL:-$(pick slotctl)}
for b in "$SLOTD" "$SLOTCTL"; do [ -x "$b" ] || { echo "missing $b: cargo build --release --bins" >&2; exit 1; }; done
command -v redis-server >/dev/null && command -v redis-cli >/dev/null || { echo "missing redis-server/redis-cli: apt-get install -y redis-server redis-tools" >&2; exit 1; }
free_port() { python3 - <<'PY'
import socket, random
while True:
    p = random.randint(20000, 29999)
    try:
        a = socket.socket(); a.bind(("127.0.0.1", p)); b = socket.socket(); b.bind(("127.0.0.1", p + 10000)); a.close(); b.close(); print(p); break
    except OSError:
        pass
PY
}
KEY=06S   # CLUSTER KEYSLOT 06S = 0
WORK=$(mktemp -d)
PID=""
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

# failover_ms ENGINE TIMEOUT MODE -> prints ms
failover_ms() {
  local engine=$1 timeout=$2 mode=$3 api ports=() dir
  dir=$(mktemp -d -p "$WORK")
  api=$(free_port); for _ in 1 2 3 4 5 6; do ports+=("$(free_port)"); done
  cat >"$dir/slotd.toml" <<TOML
[supervisor]
api = "127.0.0.1:$api"
data_dir = "$dir/data"
[engine]
kind = "$engine"
[cluster]
node_timeout_ms = $timeout
failover = "$mode"
[nodes]
ports = [$(IFS=,; echo "${ports[*]}")]
[persistence]
save = []
TOML
  SLOTD_LOG=warn "$SLOTD" --config "$dir/slotd.toml" >"$dir/slotd.log" 2>&1 &
  PID=$!
  local ctl=("$SLOTCTL" --api "127.0.0.1:$api")
  "${ctl[@]}" wait --timeout 60s >/dev/null
  local master
  master=$("${ctl[@]}" status --json | python3 -c 'import json,sys; s=json.load(sys.stdin); print(next(n["port"] for n in s["nodes"] if n["role"]=="master" and any(r.split("-")[0]=="0" for r in n["slots"])))')
  local other=${ports[0]}; [ "$other" = "$master" ] && other=${ports[1]}
  redis-cli -c -p "$other" set "$KEY" warm >/dev/null
  local t0 t1
  t0=$(date +%s%N)
  "${ctl[@]}" kill "$master" >/dev/null
  until [ "$(redis-cli -c -p "$other" set "$KEY" x 2>/dev/null)" = "OK" ]; do sleep 0.01; done
  t1=$(date +%s%N)
  "${ctl[@]}" shutdown >/dev/null 2>&1 || true
  wait "$PID" 2>/dev/null || true; PID=""
  echo $(( (t1 - t0) / 1000000 ))
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "# failover: slotd builtin vs redis-server $(redis-server --version | awk '{print $3}') — $(date -u +%Y-%m-%d) — $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"
echo "# kill -9 of the master of slot 0 until SET on slot 0 succeeds via redis-cli -c; median of $ROUNDS"
printf '%-10s %-14s %10s %14s %8s\n' failover node_timeout builtin_ms redis_ms ratio
for mode in ${MODES:-gossip assisted}; do
  for to in ${TIMEOUTS:-5000 1000}; do
    b=$(for _ in $(seq "$ROUNDS"); do failover_ms builtin "$to" "$mode"; done | median)
    r=$(for _ in $(seq "$ROUNDS"); do failover_ms redis-server "$to" "$mode"; done | median)
    printf '%-10s %-14s %10s %14s %8s\n' "$mode" "$to" "$b" "$r" "$(awk -v b="$b" -v r="$r" 'BEGIN{printf "%.2f", b/r}')"
  done
done

echo "# loss under steady write load (acknowledged keys missing after failover), node timeout 1000"
for wait in none 1; do
  sc="$WORK/loss-$wait.toml"
  cat >"$sc" <<TOML
name = "bench-loss"
description = "steady writes, kill -9 the master of slot 0, read back"
[setup]
node_timeout_ms = 1000
save = []
[[step]]
do = "load_start"
$( [ "$wait" = 1 ] && echo "wait_replicas = 1" )
[[step]]
do = "sleep"
ms = 2000
[[step]]
do = "remember"
node = "replica-of-slot-0"
as = "heir"
[[step]]
do = "kill"
node = "master-of-slot-0"
[[step]]
do = "wait"
node = "\$heir"
role = "master"
[[step]]
do = "sleep"
ms = 1000
[[step]]
do = "load_stop"
[[step]]
do = "read"
TOML
  for engine in builtin redis-server; do
    out=$("$SLOTCTL" lab run "$sc" --engine "$engine" --slotd "$SLOTD" 2>&1 || true)
    acked=$(echo "$out" | sed -n 's/^writes: \([0-9]*\) acknowledged.*/\1/p' | head -1)
    lost=$(echo "$out" | sed -n 's/.*acknowledged keys lost: \([0-9]*\).*/\1/p' | head -1)
    printf 'WAIT %-5s %-13s acked %-7s lost %s\n' "$wait" "$engine" "${acked:-?}" "${lost:-?}"
  done
done
