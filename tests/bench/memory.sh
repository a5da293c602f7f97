#!/usr/bin/env bash
# Memory of small and large values: slot-node vs redis-server, side by side.
#
# For each case a fresh pair of servers is started with the default
# thresholds, the same data is loaded into both with `redis-cli --pipe`, and
# the RSS growth is compared (ratio = ours/redis; below 1.0 means we use
# less). The encoding each server chose for the first key is printed too.
#
# Usage: [KINDS="hash set"] tests/bench/memory.sh [ELEMENTS]
#   ELEMENTS  total elements per case (default 1000000): keys = ELEMENTS / per-key size
#   KINDS     only these value types (string hash set zset list stream; default all)
set -euo pipefail
TOTAL=${1:-1000000}
cd "$(dirname "$0")/../.."
for bin in redis-server redis-cli python3; do
  command -v "$bin" >/dev/null || { echo "missing $bin: apt-get install -y redis-server redis-tools python3" >&2; exit 1; }
done
cargo build --release -q -p node-engine
OURS=target/release/slot-node
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
WORK=$(mktemp -d)
P_OURS=0; P_REDIS=0
stop_servers() {
  for p in $P_OURS $P_REDIS; do [ "$p" != 0 ] && redis-cli -p "$p" shutdown nosave >/dev/null 2>&1 || true; done
}
cleanup() { stop_servers; rm -rf "$WORK"; }
trap cleanup EXIT
COMMON=(--bind 127.0.0.1 --save "" --appendonly no --dir "$WORK")
rss() { awk '/VmRSS/ {print $2 * 1024}' "/proc/$1/status"; }
pid_of() { redis-cli -p "$1" info server | awk -F: '/process_id/ {print $2}' | tr -d '\r'; }

# gen TYPE PER_KEY VALUE_BYTES FILE: RESP commands building TOTAL/PER_KEY keys.
gen() {
  python3 - "$1" "$2" "$3" "$TOTAL" "$4" <<'PY'
import sys
kind, per, vlen, total, path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
def cmd(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)
keys = max(1, total // per)
with open(path, "wb") as f:
    for k in range(keys):
        key = b"key:%010d" % k
        if kind == "string":
            f.write(cmd(b"SET", key, b"v" * vlen))
        elif kind == "hash":
            args = [b"HSET", key]
            for i in range(per):
                args += [b"field:%d" % i, (b"%d" % i).rjust(vlen, b"v")]
            f.write(cmd(*args))
        elif kind == "set":
            f.write(cmd(b"SADD", key, *[b"%d" % (i * 7) for i in range(per)]))
        elif kind == "zset":
            args = [b"ZADD", key]
            for i in range(per):
                args += [b"%d" % i, (b"member:%d" % i).rjust(vlen, b"m")]
            f.write(cmd(*args))
        elif kind == "list":
            f.write(cmd(b"RPUSH", key, *[(b"%d" % i).rjust(vlen, b"e") for i in range(per)]))
        elif kind == "stream":
            for i in range(per):
                f.write(cmd(b"XADD", key, b"*", b"n", (b"%d" % i).rjust(vlen, b"e")))
PY
}

echo "# memory, slot-node vs redis-server $(redis-server --version | awk '{print $3}') — $(date -u +%Y-%m-%d) — $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "# $TOTAL elements per case, loaded with redis-cli --pipe; RSS growth in MB"
printf '%-30s %8s %11s %11s %7s  %-10s %-10s\n' case keys slot-node redis ratio "ours" "redis"
# type per-key value-bytes
for spec in "string 1 16" \
  "hash 10 8" "hash 100 8" "hash 1000 8" "hash 10 100" \
  "set 10 0" "set 100 0" "set 1000 0" \
  "zset 10 8" "zset 100 8" "zset 1000 8" \
  "list 10 8" "list 100 8" "list 1000 8" \
  "stream 10 8" "stream $TOTAL 8"; do
  read -r kind per vlen <<<"$spec"
  [ -n "${KINDS:-}" ] && [[ " $KINDS " != *" $kind "* ]] && continue
  gen "$kind" "$per" "$vlen" "$WORK/data.resp"
  P_OURS=$(free_port); P_REDIS=$(free_port)
  "$OURS" --port "$P_OURS" "${COMMON[@]}" >"$WORK/ours.log" 2>&1 &
  redis-server --port "$P_REDIS" "${COMMON[@]}" --daemonize no >"$WORK/redis.log" 2>&1 &
  for p in $P_OURS $P_REDIS; do
    for _ in $(seq 100); do redis-cli -p "$p" ping >/dev/null 2>&1 && break; sleep 0.05; done
  done
  po=$(pid_of "$P_OURS"); pr=$(pid_of "$P_REDIS")
  bo=$(rss "$po"); br=$(rss "$pr")
  redis-cli -p "$P_OURS" --pipe <"$WORK/data.resp" >/dev/null
  redis-cli -p "$P_REDIS" --pipe <"$WORK/data.resp" >/dev/null
  keys=$(redis-cli -p "$P_OURS" dbsize)
  [ "$keys" = "$(redis-cli -p "$P_REDIS" dbsize)" ] || { echo "key counts differ for $spec" >&2; exit 1; }
  go=$(( $(rss "$po") - bo )); gr=$(( $(rss "$pr") - br ))
  eo=$(redis-cli -p "$P_OURS" object encoding key:0000000000); er=$(redis-cli -p "$P_REDIS" object encoding key:0000000000)
  label="$kind x$per"; [ "$vlen" -gt 0 ] && label="$label (${vlen} B)"
  printf '%-30s %8s %10.1fM %10.1fM %7.2f  %-10s %-10s\n' "$label" "$keys" "$(echo "$go/1048576" | bc -l)" "$(echo "$gr/1048576" | bc -l)" "$(echo "scale=4; $go / $gr" | bc)" "$eo" "$er"
  stop_servers
  P_OURS=0; P_REDIS=0
done
