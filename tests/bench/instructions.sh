#!/usr/bin/env bash
# slot-node vs redis-server in user-space instructions per request.
#
# Wall-clock throughput on a shared VM moves with the neighbours (steal time);
# instruction counts do not. Both servers run under valgrind's callgrind with
# the same settings; for each test the counters are zeroed, redis-benchmark
# sends a fixed number of requests, and the instructions executed are divided
# by the requests. Kernel work (the TCP path) is not counted: this shows what
# each server spends of its own, `vs-redis.sh` shows the whole.
#
# Usage: [BENCH_TESTS="get set"] [SLOT_NODE=path] tests/bench/instructions.sh [REQUESTS]
#   REQUESTS  requests per test (default 200000)
set -euo pipefail
N=${1:-200000}
TESTS=(${BENCH_TESTS:-set get incr lpush hset zadd evalsha_get evalsha_5cmd})
# The EVALSHA tests: a one-key GET script and five commands on one key.
declare -A SCRIPTS=(
  [evalsha_get]="return redis.call('get', KEYS[1])"
  [evalsha_5cmd]="redis.call('set', KEYS[1], '1') redis.call('incr', KEYS[1]) redis.call('get', KEYS[1]) redis.call('expire', KEYS[1], 100) return redis.call('ttl', KEYS[1])"
)
# Tests that are a command line rather than a redis-benchmark -t name
# (BENCH_TESTS="xadd xrange"): auto-ID entries to one stream, its first 10.
declare -A COMMANDS=(
  [xadd]="xadd events * f __rand_int__"
  [xrange]="xrange events - + count 10"
)
cd "$(dirname "$0")/../.."
for bin in redis-server redis-benchmark redis-cli valgrind callgrind_control; do
  command -v "$bin" >/dev/null || { echo "missing $bin: apt-get install -y redis-server redis-tools valgrind" >&2; exit 1; }
done
# SLOT_NODE=path measures another build (say, the previous commit's) instead.
if [[ -z "${SLOT_NODE:-}" ]]; then cargo build --release -q -p node-engine; fi
OURS=${SLOT_NODE:-target/release/slot-node}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
COMMON=(--bind 127.0.0.1 --save "" --appendonly no --dir "$WORK")

# start NAME PORT CMD... ; prints nothing, records the pid
start() {
  local name=$1 port=$2; shift 2
  valgrind --tool=callgrind --callgrind-out-file="$WORK/$name.%p" "$@" --port "$port" "${COMMON[@]}" >"$WORK/$name.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 200); do redis-cli -p "$port" ping >/dev/null 2>&1 && return; sleep 0.1; done
  echo "$name did not start: $(tail -3 "$WORK/$name.log")" >&2; exit 1
}
# measure PID PORT TEST -> instructions for N requests of TEST
measure() {
  local pid=$1 port=$2 t=$3
  local what=(-t "$t")
  if [[ -n "${SCRIPTS[$t]:-}" ]]; then
    what=(evalsha "$(redis-cli -p "$port" script load "${SCRIPTS[$t]}")" 1 "key:__rand_int__")
  elif [[ -n "${COMMANDS[$t]:-}" ]]; then
    # Split into words without globbing XADD's `*`.
    set -f
    read -r -a what <<<"${COMMANDS[$t]}"
    set +f
  fi
  redis-benchmark -p "$port" -n 20000 -r 100000 -c 50 -P 16 -q "${what[@]}" >/dev/null 2>&1
  callgrind_control -z "$pid" >/dev/null 2>&1
  redis-benchmark -p "$port" -n "$N" -r 100000 -c 50 -P 16 -q "${what[@]}" >/dev/null 2>&1
  callgrind_control -d "$t" "$pid" >/dev/null 2>&1
  local f
  f=$(ls -t "$WORK"/*."$pid".* 2>/dev/null | head -1)
  awk '/^summary:|^totals:/ {print $2; exit}' "$f"
}

P_OURS=$(free_port); P_REDIS=$(free_port)
start ours "$P_OURS" "$OURS"
start redis "$P_REDIS" redis-server --daemonize no
PID_OURS=${PIDS[0]}; PID_REDIS=${PIDS[1]}

echo "# user-space instructions per request (callgrind), slot-node vs redis-server $(redis-server --version | awk '{print $3}') — $(date -u +%Y-%m-%d)"
echo "# redis-benchmark -n $N -r 100000 -c 50 -P 16 per test"
printf '\n%-8s %14s %14s %8s\n' test slot-node redis ratio
for t in "${TESTS[@]}"; do
  o=$(measure "$PID_OURS" "$P_OURS" "$t")
  r=$(measure "$PID_REDIS" "$P_REDIS" "$t")
  awk -v t="$t" -v o="$o" -v r="$r" -v n="$N" 'BEGIN { printf "%-8s %14.0f %14.0f %8.2f\n", t, o/n, r/n, o/r }'
done
echo "(ratio = ours/redis: below 1.0 means fewer instructions than Redis)"
