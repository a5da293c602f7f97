#!/usr/bin/env bash
# Persistence benchmark: slot-node vs redis-server 7.0, side by side.
#   - start-up load time of N keys (default 1M) from RDB and from AOF
#   - RDB file size
#   - SET throughput with appendfsync everysec and always (redis-benchmark)
#   - worst client latency while a BGSAVE of the N keys runs
# Usage: tests/bench/persistence.sh [N]
set -euo pipefail
N=${1:-1000000}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
for t in redis-server redis-cli redis-benchmark; do
  command -v $t >/dev/null || { echo "$t not installed: skipping benchmark"; exit 0; }
done
(cd "$ROOT" && cargo build --release -p node-engine -q)
NODE=$TARGET/release/slot-node
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now_ms() { date +%s%3N; }

# start NAME DIR ARGS... ; sets PORT and PID
start() {
  local name=$1 dir=$2; shift 2
  PORT=$(free_port)
  mkdir -p "$dir"
  if [ "$name" = redis ]; then
    redis-server --port "$PORT" --bind 127.0.0.1 --dir "$dir" --logfile "$dir/log" "$@" &
  else
    "$NODE" --port "$PORT" --bind 127.0.0.1 --dir "$dir" --logfile "$dir/log" "$@" &
  fi
  PID=$!
  PIDS+=("$PID")
}

# Waits until the server answers DBSIZE with the expected count; prints elapsed ms since $1.
wait_loaded() {
  local t0=$1 want=$2
  while true; do
    local n
    n=$(redis-cli -p "$PORT" dbsize 2>/dev/null || true)
    if [ "$n" = "$want" ]; then echo $(( $(now_ms) - t0 )); return; fi
    sleep 0.005
  done
}

stop() { redis-cli -p "$PORT" shutdown nosave >/dev/null 2>&1 || true; wait "$PID" 2>/dev/null || true; }

# N SET commands in RESP, generated once.
GEN=$WORK/load.resp
awk -v n="$N" 'BEGIN { for (i = 0; i < n; i++) { k = "key:" i; v = "value-" i "-abcdefghij"; printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", length(k), k, length(v), v } }' > "$GEN"

ratio() { python3 -c "import sys; a=float('$1'); b=float('$2'); print('%.2f' % (a/b if b else float('nan')))"; }

declare -A R
for s in redis node; do
  d=$WORK/$s-rdb
  start $s "$d" --save ""
  t0=$(now_ms); wait_loaded "$t0" 0 >/dev/null
  redis-cli -p "$PORT" --pipe < "$GEN" >/dev/null
  # Worst latency of GETs while BGSAVE runs.
  redis-benchmark -p "$PORT" -t get -n 300000 -c 20 -r "$N" > "$WORK/$s-lat.txt" 2>&1 &
  BP=$!
  sleep 0.3
  redis-cli -p "$PORT" bgsave >/dev/null
  wait $BP || true
  while [ "$(redis-cli -p "$PORT" info persistence | tr -d '\r' | grep rdb_bgsave_in_progress: | cut -d: -f2)" != 0 ]; do sleep 0.05; done
  R[$s-bgsave-max-ms]=$(grep -A2 "latency summary" "$WORK/$s-lat.txt" | tail -1 | awk '{print $NF}')
  redis-cli -p "$PORT" save >/dev/null
  R[$s-rdb-bytes]=$(stat -c %s "$d/dump.rdb")
  stop
  start $s "$d" --save ""
  t0=$(now_ms); R[$s-rdb-load-ms]=$(wait_loaded "$t0" "$N"); stop

  d=$WORK/$s-aof
  start $s "$d" --save "" --appendonly yes --auto-aof-rewrite-percentage 0
  t0=$(now_ms); wait_loaded "$t0" 0 >/dev/null
  redis-cli -p "$PORT" --pipe < "$GEN" >/dev/null
  stop
  start $s "$d" --save "" --appendonly yes --auto-aof-rewrite-percentage 0
  t0=$(now_ms); R[$s-aof-load-ms]=$(wait_loaded "$t0" "$N"); stop

  for f in everysec always; do
    d=$WORK/$s-set-$f
    start $s "$d" --save "" --appendonly yes --appendfsync $f
    t0=$(now_ms); wait_loaded "$t0" 0 >/dev/null
    R[$s-set-$f]=$(redis-benchmark -p "$PORT" -t set -n 200000 -c 50 -r 100000 -q 2>/dev/null | tr '\r' '\n' | grep -o 'SET: [0-9.]*' | tail -1 | awk '{print $2}')
    stop
  done
done

printf "\n%-34s %14s %14s %8s\n" "metric ($N keys)" "redis-server" "slot-node" "ratio"
for m in rdb-load-ms aof-load-ms rdb-bytes set-everysec set-always bgsave-max-ms; do
  printf "%-34s %14s %14s %8s\n" "$m" "${R[redis-$m]}" "${R[node-$m]}" "$(ratio "${R[node-$m]}" "${R[redis-$m]}")"
done
echo "(ratio = slot-node / redis-server; lower is better for times and size, higher for SET req/s)"
