#!/usr/bin/env bash
# Reshard throughput: `slotctl reshard` on builtin nodes vs
# `redis-cli --cluster reshard` on real redis-server, side by side.
#
# Two slotd clusters (6 nodes, replicas 1, no persistence) are started on
# free ports, one per engine. Each gets KEYS keys with 16-byte values spread
# evenly over slots 0-999 (owned by the first master), loaded with
# `redis-cli --pipe`. Then slots 0-999 move to the second master:
#   builtin:      slotctl reshard --from P0 --to P1 --slot 0-999
#   redis-server: redis-cli --cluster reshard --cluster-from ID0 --cluster-to ID1 --cluster-slots 1000 --cluster-yes
# and keys/s (KEYS / wall time) and the ratio are printed.
#
# Usage: tests/bench/reshard.sh [KEYS]     (default 1000000)
set -euo pipefail
KEYS=${1:-1000000}
cd "$(dirname "$0")/../.."
for bin in redis-server redis-cli python3; do
  command -v "$bin" >/dev/null || { echo "missing $bin: apt-get install -y redis-server redis-tools python3" >&2; exit 1; }
done
TARGET=${CARGO_TARGET_DIR:-target}
cargo build --release -q --bin slotd --bin slotctl
SLOTD=$TARGET/release/slotd
SLOTCTL=$TARGET/release/slotctl
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for api in "${APIS[@]:-}"; do [[ -n "$api" ]] && "$SLOTCTL" --api "$api" shutdown >/dev/null 2>&1 || true; done
  for p in "${PIDS[@]:-}"; do [[ -n "$p" ]] && kill "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
APIS=()

# 7 consecutive free ports (API + 6 nodes) whose bus ports are free too.
free_block() {
  python3 - <<'PY'
import random, socket
def free(p):
    for q in (p, p + 10000):
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", q))
        except OSError:
            return False
        finally:
            s.close()
    return True
while True:
    b = random.randrange(20000, 29000)
    if all(free(b + i) for i in range(7)):
        print(b)
        break
PY
}

start_cluster() { # kind -> sets BASE (API port; nodes are BASE+1..BASE+6)
  local kind=$1 base dir
  base=$(free_block)
  dir=$WORK/$kind
  mkdir -p "$dir"
  cat >"$dir/slotd.toml" <<EOF
[supervisor]
api = "127.0.0.1:$base"
data_dir = "$dir/data"
[engine]
kind = "$kind"
[cluster]
replicas = 1
[nodes]
ports = "$((base + 1))-$((base + 6))"
[persistence]
save = []
appendonly = false
EOF
  "$SLOTD" --config "$dir/slotd.toml" >"$dir/slotd.log" 2>&1 &
  PIDS+=($!)
  APIS+=("127.0.0.1:$base")
  for _ in $(seq 600); do
    if "$SLOTCTL" --api "127.0.0.1:$base" check >/dev/null 2>&1; then BASE=$base; return; fi
    sleep 0.1
  done
  echo "cluster $kind did not form; see $dir/slotd.log" >&2
  exit 1
}

# KEYS keys over slots 0-999 as RESP for --pipe: one hash tag per slot.
python3 - "$KEYS" "$WORK/keys.resp" <<'PY'
import sys
n, path = int(sys.argv[1]), sys.argv[2]
def crc16(d):
    crc = 0
    for b in d:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc
tags, i = {}, 0
while len(tags) < 1000:
    t = b"t%d" % i
    s = crc16(t) % 16384
    if s < 1000 and s not in tags:
        tags[s] = t
    i += 1
v = b"x" * 16
with open(path, "wb") as f:
    for k in range(n):
        key = b"{%s}:%d" % (tags[k % 1000], k)
        f.write(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$16\r\n%s\r\n" % (len(key), key, v))
PY

now() { date +%s.%N; }

echo "# reshard of slots 0-999 holding $KEYS keys — $(date -u +%Y-%m-%d) — $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "# redis-server $(redis-server --version | awk '{print $3}'); both clusters 3 masters + 3 replicas, no persistence"

start_cluster builtin
B_OURS=$BASE
start_cluster redis-server
B_REDIS=$BASE
for base in $B_OURS $B_REDIS; do
  redis-cli -p $((base + 1)) --pipe <"$WORK/keys.resp" >/dev/null
  got=$(redis-cli -p $((base + 1)) dbsize)
  [[ "$got" == "$KEYS" ]] || { echo "loaded $got keys into $((base + 1)), wanted $KEYS" >&2; exit 1; }
done

t0=$(now)
"$SLOTCTL" --api "127.0.0.1:$B_OURS" reshard --from $((B_OURS + 1)) --to $((B_OURS + 2)) --slot 0-999 >"$WORK/ours.out" 2>"$WORK/ours.err" \
  || { cat "$WORK/ours.out" "$WORK/ours.err" >&2; exit 1; }
t1=$(now)
ID0=$(redis-cli -p $((B_REDIS + 1)) cluster myid)
ID1=$(redis-cli -p $((B_REDIS + 2)) cluster myid)
redis-cli --cluster reshard 127.0.0.1:$((B_REDIS + 1)) --cluster-from "$ID0" --cluster-to "$ID1" --cluster-slots 1000 --cluster-yes >"$WORK/redis.out" 2>&1 \
  || { tail "$WORK/redis.out" >&2; exit 1; }
t2=$(now)

moved_ours=$(redis-cli -p $((B_OURS + 2)) dbsize)
moved_redis=$(redis-cli -p $((B_REDIS + 2)) dbsize)
s_ours=$(echo "$t1 - $t0" | bc -l)
s_redis=$(echo "$t2 - $t1" | bc -l)
r_ours=$(echo "$KEYS / $s_ours" | bc -l)
r_redis=$(echo "$KEYS / $s_redis" | bc -l)
printf '\n%-44s %10s %12s %10s\n' tool seconds keys/s "keys on target"
printf '%-44s %10.1f %12.0f %10s\n' "slotctl reshard (builtin nodes)" "$s_ours" "$r_ours" "$moved_ours"
printf '%-44s %10.1f %12.0f %10s\n' "redis-cli --cluster reshard (redis-server)" "$s_redis" "$r_redis" "$moved_redis"
printf 'ratio slotctl/redis-cli: %.2fx\n' "$(echo "$r_ours / $r_redis" | bc -l)"
"$SLOTCTL" --api "127.0.0.1:$B_OURS" check >/dev/null || { echo "builtin cluster check failed after the reshard" >&2; exit 1; }
