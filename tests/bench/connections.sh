#!/usr/bin/env bash
# Many idle connections: slot-node vs redis-server, side by side.
#
# Opens N TCP connections one after another to each server (a pool warming
# up), then sends PING on every one and reads every PONG. Prints the time to
# open them, the slowest single connect (1 s or more means a SYN was dropped
# because the accept queue overflowed), the PINGs answered, the RSS each
# connection costs, and the ratio ours/redis.
#
# Usage: tests/bench/connections.sh [N] [ROUNDS]
#   N       connections per run (default 5000)
#   ROUNDS  runs per server, alternating; the median open time is kept (default 3)
set -euo pipefail
N=${1:-5000}
ROUNDS=${2:-3}
cd "$(dirname "$0")/../.."
for bin in redis-server redis-cli python3; do
  command -v "$bin" >/dev/null || { echo "missing $bin: apt-get install -y redis-server redis-tools python3" >&2; exit 1; }
done
cargo build --release -q -p node-engine
OURS=target/release/slot-node
WORK=$(mktemp -d)
# Ports below the ephemeral range, so the client's own source ports never collide with them.
P_OURS=$((20000 + RANDOM % 5000)); P_REDIS=$((P_OURS + 1))
cleanup() { redis-cli -p "$P_OURS" shutdown nosave >/dev/null 2>&1 || true; redis-cli -p "$P_REDIS" shutdown nosave >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT
ulimit -n $((N * 2 + 1024)) 2>/dev/null || true
COMMON=(--bind 127.0.0.1 --save "" --appendonly no --dir "$WORK" --maxclients $((N + 100)))
"$OURS" --port "$P_OURS" "${COMMON[@]}" >"$WORK/ours.log" 2>&1 &
redis-server --port "$P_REDIS" "${COMMON[@]}" --daemonize no >"$WORK/redis.log" 2>&1 &
for p in $P_OURS $P_REDIS; do
  for _ in $(seq 100); do redis-cli -p "$p" ping >/dev/null 2>&1 && break; sleep 0.05; done
done
pid_of() { redis-cli -p "$1" info server | awk -F: '/^process_id/{print $2}' | tr -d '\r'; }
cat >"$WORK/conn.py" <<'PY'
import socket, sys, time
port, n, pid = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
def rss_kb():
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
before = rss_kb()
t = time.monotonic(); socks = []; worst = 0.0
for _ in range(n):
    t0 = time.monotonic()
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    worst = max(worst, time.monotonic() - t0)
    socks.append(s)
opened = time.monotonic() - t
for s in socks:
    s.sendall(b"PING\r\n")
ok = sum(1 for s in socks if s.recv(64) == b"+PONG\r\n")
per_conn = (rss_kb() - before) * 1024 / n
print(f"{opened:.3f} {worst * 1000:.0f} {ok} {per_conn:.0f}")
for s in socks:
    s.close()
PY
echo "# $N idle connections, slot-node vs redis-server $(redis-server --version | awk '{print $3}') — $(date -u +%Y-%m-%d) — $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
printf '%-12s %5s %10s %14s %10s %14s\n' server round "open (s)" "worst (ms)" "PONGs" "RSS/conn (B)"
declare -a T_OURS=() T_REDIS=() M_OURS=() M_REDIS=()
for r in $(seq "$ROUNDS"); do
  for who in ours redis; do
    if [ $who = ours ]; then p=$P_OURS; else p=$P_REDIS; fi
    # Wait until the previous round's connections are gone from the server.
    for _ in $(seq 200); do
      c=$(redis-cli -p "$p" info clients | awk -F: '/^connected_clients/{print $2}' | tr -d '\r')
      [ "${c:-0}" -le 1 ] && break; sleep 0.05
    done
    read -r t w ok m < <(python3 "$WORK/conn.py" "$p" "$N" "$(pid_of "$p")")
    printf '%-12s %5s %10s %14s %10s %14s\n' "$([ $who = ours ] && echo slot-node || echo redis-server)" "$r" "$t" "$w" "$ok/$N" "$m"
    if [ $who = ours ]; then T_OURS+=("$t"); M_OURS+=("$m"); else T_REDIS+=("$t"); M_REDIS+=("$m"); fi
  done
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
to=$(median "${T_OURS[@]}"); tr=$(median "${T_REDIS[@]}")
printf '\nmedian open time: slot-node %ss, redis-server %ss, ratio %.2f\n' "$to" "$tr" "$(echo "scale=4; $to / $tr" | bc)"
grep -h "somaxconn" "$WORK/ours.log" "$WORK/redis.log" || true
