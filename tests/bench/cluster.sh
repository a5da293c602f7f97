#!/usr/bin/env bash
# Cluster formation and cluster throughput: slotd with builtin nodes vs six
# redis-server processes formed with `redis-cli --cluster create`, same
# machine, same run.
#
# Prints: time from cold start to cluster_state:ok on all six nodes, and
# redis-benchmark --cluster -t set,get -n N -c 50 -P 16 against each, with
# the ratio ours/redis.
#
# Usage: tests/bench/cluster.sh [REQUESTS]   (default 1000000)
set -euo pipefail
N=${1:-1000000}
cd "$(dirname "$0")/../.."
for bin in redis-server redis-benchmark redis-cli; do
  command -v "$bin" >/dev/null || { echo "missing $bin: apt-get install -y redis-server redis-tools" >&2; exit 1; }
done
cargo build --release -q --bins
SLOTD=$PWD/target/release/slotd
SLOTCTL=$PWD/target/release/slotctl
WORK=$(mktemp -d)
BASE_OURS=${BASE_OURS:-7400}
BASE_REDIS=${BASE_REDIS:-7500}
API_PORT=${API_PORT:-7399}
cleanup() {
  "$SLOTCTL" --api "127.0.0.1:$API_PORT" shutdown >/dev/null 2>&1 || true
  for i in 0 1 2 3 4 5; do redis-cli -p $((BASE_REDIS + i)) shutdown nosave >/dev/null 2>&1 || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
now_ms() { date +%s%3N; }
all_ok() { for i in 0 1 2 3 4 5; do redis-cli -p $(($1 + i)) cluster info 2>/dev/null | grep -q cluster_state:ok || return 1; done; }

echo "# slotd (builtin) vs redis-server $(redis-server --version | awk '{print $3}') cluster — $(date -u +%Y-%m-%d) — $(nproc) cores"
# --- slotd builtin: cold start to ok
cat > "$WORK/slotd.toml" <<TOML
[supervisor]
api = "127.0.0.1:$API_PORT"
data_dir = "$WORK/slotd-data"
[engine]
kind = "builtin"
[cluster]
replicas = 1
node_timeout_ms = 5000
create = "auto"
[nodes]
host = "127.0.0.1"
ports = "$BASE_OURS-$((BASE_OURS + 5))"
[persistence]
save = []
TOML
t0=$(now_ms)
"$SLOTD" --config "$WORK/slotd.toml" >"$WORK/slotd.log" 2>&1 &
until all_ok "$BASE_OURS"; do sleep 0.02; done
t_ours=$(( $(now_ms) - t0 ))
# --- redis-server + redis-cli --cluster create: cold start to ok
t0=$(now_ms)
for i in 0 1 2 3 4 5; do
  p=$((BASE_REDIS + i)); mkdir -p "$WORK/r$p"
  redis-server --port "$p" --bind 127.0.0.1 --cluster-enabled yes --cluster-node-timeout 5000 --dir "$WORK/r$p" --save "" --appendonly no --daemonize yes --logfile "$WORK/r$p/log" >/dev/null
done
for i in 0 1 2 3 4 5; do until redis-cli -p $((BASE_REDIS + i)) ping >/dev/null 2>&1; do sleep 0.01; done; done
redis-cli --cluster create $(for i in 0 1 2 3 4 5; do printf '127.0.0.1:%d ' $((BASE_REDIS + i)); done) --cluster-replicas 1 --cluster-yes >"$WORK/create.log" 2>&1
until all_ok "$BASE_REDIS"; do sleep 0.02; done
t_redis=$(( $(now_ms) - t0 ))
printf '\n%-34s %12s %12s %8s\n' "" slotd redis ratio
printf '%-34s %10d ms %10d ms %8.2f\n' "cold start to cluster_state:ok x6" "$t_ours" "$t_redis" "$(echo "scale=4; $t_ours / $t_redis" | bc)"
# --- throughput through the cluster
bench() { redis-benchmark --cluster -p "$1" -t set,get -n "$N" -c 50 -P 16 -q --csv 2>/dev/null | grep -E '^"(SET|GET)"' | tr -d '"' | awk -F, '{print tolower($1), $2}'; }
declare -A o r
while read -r t v; do o[$t]=$v; done < <(bench "$BASE_OURS")
while read -r t v; do r[$t]=$v; done < <(bench "$BASE_REDIS")
for t in set get; do
  printf '%-34s %12.0f %12.0f %8.2f\n' "redis-benchmark --cluster $t -P 16" "${o[$t]:-0}" "${r[$t]:-0}" "$(echo "scale=4; ${o[$t]:-0} / ${r[$t]:-1}" | bc)"
done
