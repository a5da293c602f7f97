#!/usr/bin/env bash
# slot-node vs redis-server, side by side on this machine.
#
# Starts both with the same settings (no persistence, standalone), runs
# redis-benchmark against each in turn for several rounds and prints
# requests/s and the ratio ours/redis per test, at -P 1 and -P 16; then loads
# 1,000,000 keys with 16-byte values into each and compares RSS.
#
# EVALSHA of a one-key GET script and of a five-command script are measured
# the same way (redis-benchmark ... evalsha <sha> 1 key:__rand_int__), and so
# are bitmaps, HyperLogLog and GEO (SETBIT/BITCOUNT on random keys, PFADD of
# random elements and PFCOUNT, GEOADD of random points then GEOSEARCH of the
# 5 nearest within 5 km), and streams (XADD of auto-ID entries to one stream,
# XRANGE of its first 10).
#
# Usage: tests/bench/vs-redis.sh [ROUNDS] [REQUESTS]
#   ROUNDS    rounds per test, best is kept (default 3)
#   REQUESTS  requests per redis-benchmark run (default 1000000)
set -euo pipefail
ROUNDS=${1:-3}
N=${2:-1000000}
TESTS=set,get,incr,lpush,hset,zadd
cd "$(dirname "$0")/../.."
for bin in redis-server redis-benchmark redis-cli; do
  command -v "$bin" >/dev/null || { echo "missing $bin: apt-get install -y redis-server redis-tools" >&2; exit 1; }
done
cargo build --release -q -p node-engine
OURS=target/release/slot-node
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
P_OURS=$(free_port); P_REDIS=$(free_port)
WORK=$(mktemp -d)
cleanup() { redis-cli -p "$P_OURS" shutdown nosave >/dev/null 2>&1 || true; redis-cli -p "$P_REDIS" shutdown nosave >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT
COMMON=(--bind 127.0.0.1 --save "" --appendonly no --dir "$WORK")
"$OURS" --port "$P_OURS" "${COMMON[@]}" >"$WORK/ours.log" 2>&1 &
redis-server --port "$P_REDIS" "${COMMON[@]}" --daemonize no >"$WORK/redis.log" 2>&1 &
for p in $P_OURS $P_REDIS; do
  for _ in $(seq 100); do redis-cli -p "$p" ping >/dev/null 2>&1 && break; sleep 0.05; done
done
echo "# slot-node vs redis-server $(redis-server --version | awk '{print $3}') — $(date -u +%Y-%m-%d) — $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "# redis-benchmark -n $N -c 50, best of $ROUNDS rounds, alternating servers"
# Scripts as client libraries run them (EVALSHA): one GET, and five commands on one key.
SCRIPT_GET="return redis.call('get', KEYS[1])"
SCRIPT_FIVE="redis.call('set', KEYS[1], '1') redis.call('incr', KEYS[1]) redis.call('get', KEYS[1]) redis.call('expire', KEYS[1], 100) return redis.call('ttl', KEYS[1])"
for p in $P_OURS $P_REDIS; do
  redis-cli -p "$p" script load "$SCRIPT_GET" >/dev/null
  redis-cli -p "$p" script load "$SCRIPT_FIVE" >/dev/null
done
SHA_GET=$(redis-cli -p "$P_REDIS" script load "$SCRIPT_GET")
SHA_FIVE=$(redis-cli -p "$P_REDIS" script load "$SCRIPT_FIVE")
bench() { # port pipeline -> "test rps" lines
  redis-benchmark -p "$1" -t "$TESTS" -n "$N" -c 50 -P "$2" -q --csv 2>/dev/null | tail -n +2 | tr -d '"' | awk -F, '{print tolower($1), $2}'
  for s in "evalsha_get $SHA_GET" "evalsha_5cmd $SHA_FIVE"; do
    set -- "$1" "$2" $s
    redis-benchmark -p "$1" -n "$N" -c 50 -P "$2" -r 100000 -q --csv evalsha "$4" 1 "key:__rand_int__" 2>/dev/null \
      | tail -n +2 | tr -d '"' | awk -F, -v name="$3" '{print name, $2}'
  done
  local port=$1 pipe=$2 name
  while IFS='|' read -r name cmd; do
    # The command's words are meant to split, but not to glob (XADD's `*`).
    set -f
    # shellcheck disable=SC2086
    redis-benchmark -p "$port" -n "$N" -c 50 -P "$pipe" -r 100000 -q --csv $cmd 2>/dev/null </dev/null \
      | tail -n +2 | tr -d '"' | awk -F, -v name="$name" '{print name, $2}'
    set +f
  done <<'CMDS'
setbit|setbit bm:__rand_int__ 7 1
bitcount|bitcount bm:__rand_int__
pfadd|pfadd hll __rand_int__
pfcount|pfcount hll
geoadd|geoadd geo 13.__rand_int__ 38.__rand_int__ m:__rand_int__
geosearch|geosearch geo fromlonlat 13.5 38.5 byradius 5 km count 5 asc
xadd|xadd events * f __rand_int__
xrange|xrange events - + count 10
CMDS
}
for P in 1 16; do
  declare -A best_ours=() best_redis=()
  for r in $(seq "$ROUNDS"); do
    redis-cli -p "$P_OURS" flushall >/dev/null; redis-cli -p "$P_REDIS" flushall >/dev/null
    while read -r t v; do [[ -z "${best_ours[$t]:-}" || $(echo "$v > ${best_ours[$t]}" | bc) == 1 ]] && best_ours[$t]=$v; done < <(bench "$P_OURS" "$P")
    while read -r t v; do [[ -z "${best_redis[$t]:-}" || $(echo "$v > ${best_redis[$t]}" | bc) == 1 ]] && best_redis[$t]=$v; done < <(bench "$P_REDIS" "$P")
  done
  printf '\n%-10s %14s %14s %8s   (-P %s)\n' test slot-node redis ratio "$P"
  for t in $(echo "${!best_ours[@]}" | tr ' ' '\n' | sort); do
    o=${best_ours[$t]}; r=${best_redis[$t]:-0}
    printf '%-10s %14.0f %14.0f %8.2f\n' "$t" "$o" "$r" "$(echo "scale=4; $o / $r" | bc)"
  done
  unset best_ours best_redis
done
# Memory: exactly 1,000,000 keys (key:%012d) with 16-byte values, loaded with redis-cli --pipe.
python3 - "$WORK/keys.resp" <<'PY'
import sys
with open(sys.argv[1], "wb") as f:
    v = b"x" * 16
    for i in range(1_000_000):
        k = b"key:%012d" % i
        f.write(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$16\r\n%s\r\n" % (len(k), k, v))
PY
rss() { awk '/VmRSS/ {print $2 * 1024}' "/proc/$1/status"; }
PID_OURS=$(redis-cli -p "$P_OURS" info server | awk -F: '/process_id/ {print $2}' | tr -d '\r')
PID_REDIS=$(redis-cli -p "$P_REDIS" info server | awk -F: '/process_id/ {print $2}' | tr -d '\r')
for p in $P_OURS $P_REDIS; do redis-cli -p "$p" flushall >/dev/null; done
base_o=$(rss "$PID_OURS"); base_r=$(rss "$PID_REDIS")
redis-cli -p "$P_OURS" --pipe < "$WORK/keys.resp" >/dev/null
redis-cli -p "$P_REDIS" --pipe < "$WORK/keys.resp" >/dev/null
ko=$(redis-cli -p "$P_OURS" dbsize); kr=$(redis-cli -p "$P_REDIS" dbsize)
mo=$(rss "$PID_OURS"); mr=$(rss "$PID_REDIS")
printf '\n%-22s %14s %14s %8s\n' memory slot-node redis ratio
printf '%-22s %14s %14s\n' "keys" "$ko" "$kr"
printf '%-22s %13.1fM %13.1fM %8.2f\n' "RSS with 1M keys" "$(echo "$mo/1048576" | bc -l)" "$(echo "$mr/1048576" | bc -l)" "$(echo "scale=4; $mo / $mr" | bc)"
printf '%-22s %13.1fM %13.1fM %8.2f\n' "RSS growth" "$(echo "($mo-$base_o)/1048576" | bc -l)" "$(echo "($mr-$base_r)/1048576" | bc -l)" "$(echo "scale=4; ($mo-$base_o) / ($mr-$base_r)" | bc)"
