#!/usr/bin/env bash
# Fan-out through a cluster (issue 13, docs/scaling.md): two wharf-chat nodes and one
# redis-server, FANOUT_CONNS (1000) subscribers split across the nodes, one publisher on
# the first node; beside it the same load on one wharf-chat without Redis (in-process).
#
#   bench/cluster.sh                      # builds build-bench (as run.sh does) and runs
#   NO_BUILD=1 BENCH_BUILD_DIR=build bench/cluster.sh
#
# For each setup, RUNS times (median reported):
#   1. the maximum rate: wharf-bench --mode fanout with 4 broadcasts outstanding; deliveries
#      per second, and (cluster) Redis CPU per 1,000 publishes, from /proc/PID/stat of the
#      redis-server started here, over the whole wharf-bench run divided by the publishes
#      Redis took in it (broadcasts plus the subscribers' joins);
#   2. half that rate on a clock (--rate): publish-to-receive p50 and p99 over every delivery.
# And the nodes' CPU per 1,000 deliveries at the maximum rate (the figure that compares on a
# shared machine, where the rates partly measure each process's share of the scheduler).
# CPUs: redis-server and the nodes (one thread each) on CPU 0, wharf-bench on CPU 1, as in
# run.sh's fan-out table. Only 127.0.0.1; every process started here is stopped by its PID.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
build=${BENCH_BUILD_DIR:-$root/build-bench}
RUNS=${RUNS:-3}
DURATION=${DURATION:-3}
WARMUP=${WARMUP:-0.5}
FANOUT_CONNS=${FANOUT_CONNS:-1000}
SIZE=${SIZE:-16}
APPENDFSYNC=${APPENDFSYNC:-always}  # redis-server's, as docs/scaling.md recommends
results=${BENCH_RESULTS:-$build/bench-cluster-results.txt}

log() { echo "cluster.sh: $*" >&2; }

if [[ ${NO_BUILD:-0} != 1 ]]; then
  log "building Release in $build (NO_BUILD=1 skips this)"
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DWHARF_BUILD_BENCH=ON -DWHARF_BUILD_SAMPLES=ON \
        -DWHARF_BUILD_TESTS=OFF >/dev/null
  cmake --build "$build" -j2 --target wharf-chat wharf-chat-cli wharf-bench >/dev/null
fi
chat=$build/samples/chat/wharf-chat
cli=$build/samples/chat-cli/wharf-chat-cli
bench=$build/bench/wharf-bench
for exe in "$chat" "$cli" "$bench"; do
  [[ -x $exe ]] || { log "missing $exe"; exit 1; }
done
redis_server=$(command -v redis-server) || { log "redis-server is not installed (scripts/install-deps.sh --tests)"; exit 1; }

if [[ $(ulimit -n) -lt $((FANOUT_CONNS + 1000)) ]]; then
  ulimit -n $((FANOUT_CONNS + 1000)) 2>/dev/null || ulimit -n "$(ulimit -Hn)"
fi

work=$(mktemp -d)
pids=()
probe_fds=()
cleanup() {
  local pid fd
  for fd in "${probe_fds[@]}"; do exec {fd}>&-; done
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pids=()
  node_pids=()
  probe_fds=()
  redis_pid=
  rm -rf "${work:?}"/*
}
trap 'cleanup; rm -rf "$work"' EXIT

# shellcheck source=bench/ports.sh
source "$here/ports.sh"

redis_port=
redis_pid=
start_redis() {
  redis_port=$(free_port)
  mkdir -p "$work/redis"
  taskset -c 0 "$redis_server" --port "$redis_port" --bind 127.0.0.1 --dir "$work/redis" --save '' \
    --appendonly yes --appendfsync "$APPENDFSYNC" --maxmemory-policy noeviction >"$work/redis.log" 2>&1 &
  redis_pid=$!
  pids+=("$redis_pid")
  for _ in $(seq 100); do port_open "$redis_port" && return 0; sleep 0.05; done
  log "redis-server did not start:"; cat "$work/redis.log" >&2; exit 1
}

node_port=
node_pids=()
start_node() {  # name [wharf-chat args...] -> node_port
  local name=$1 out=$work/$1.log; shift
  taskset -c 0 "$chat" --host 127.0.0.1 --port 0 --threads 1 --idle-timeout 86400 --public "$root/samples/chat/public" \
    --node "$name" "$@" >"$out" 2>&1 &
  pids+=("$!")
  node_pids+=("$!")
  for _ in $(seq 100); do
    node_port=$(sed -n 's|.*open http://[^ ]*:\([0-9][0-9]*\)/.*|\1|p' "$out" | head -n1)
    [[ -n $node_port ]] && return 0
    sleep 0.05
  done
  log "wharf-chat $name did not start:"; cat "$out" >&2; exit 1
}

# A client that stays in the lobby of node `port`, so that the node is subscribed in Redis
# before wharf-bench's receivers join (a join sent before the subscription is made would
# not come back); returns once its own lines come back.
probe() {  # name port
  local name=$1 port=$2 fifo=$work/$1.in out=$work/$1.out fd
  mkfifo "$fifo"
  "$cli" "ws://127.0.0.1:$port/chat" --name "$name" <"$fifo" >"$out" 2>&1 &
  pids+=("$!")
  exec {fd}>"$fifo"
  probe_fds+=("$fd")
  for n in $(seq 40); do
    echo "ping $n" >&"$fd"
    sleep 0.25
    grep -q "^$name: ping" "$out" && return 0
  done
  log "probe $name never saw its own line:"; cat "$out" >&2; exit 1
}

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
field() { [[ $1 =~ \ $2=([^ ]*) ]] && echo "${BASH_REMATCH[1]}"; true; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else print v[int((NR + 1) / 2)] }'; }

# Starts `setup` ("cluster": redis-server and two nodes; "single": one node without Redis);
# sets `targets` to wharf-bench's --port (and --port2).
targets=()
start_setup() {
  if [[ $1 == cluster ]]; then
    start_redis
    start_node one --redis "redis://127.0.0.1:$redis_port"; local port1=$node_port
    start_node two --redis "redis://127.0.0.1:$redis_port"; local port2=$node_port
    probe probe1 "$port1"
    probe probe2 "$port2"
    targets=(--port "$port1" --port2 "$port2")
  else
    start_node single
    targets=(--port "$node_port")
  fi
}

nodes_ticks() {
  local pid sum=0
  for pid in "${node_pids[@]}"; do sum=$((sum + $(cpu_ticks "$pid"))); done
  echo "$sum"
}

# One wharf-bench fan-out run against a fresh `setup`: sets `line` (its result),
# `redis_ticks` and `node_ticks` (the CPU ticks redis-server and the nodes used meanwhile;
# redis_ticks 0 without Redis), and adds its errors to `run_errors`.
line=
redis_ticks=0
node_ticks=0
run_errors=0
fanout_run() {  # setup wharf-bench-args...
  local setup=$1 e ticks0=0 nodes0; shift
  start_setup "$setup"
  [[ -n $redis_pid ]] && ticks0=$(cpu_ticks "$redis_pid")
  nodes0=$(nodes_ticks)
  line=$(taskset -c 1 timeout 180 "$bench" --host 127.0.0.1 "${targets[@]}" --mode fanout --conns "$FANOUT_CONNS" \
           --size "$SIZE" --duration "$DURATION" --warmup "$WARMUP" --label "$setup" "$@") || true
  echo "$line" | tee -a "$results" >&2
  redis_ticks=0
  [[ -n $redis_pid ]] && redis_ticks=$(( $(cpu_ticks "$redis_pid") - ticks0 ))
  node_ticks=$(( $(nodes_ticks) - nodes0 ))
  e=$(field "$line" errors)
  run_errors=$((run_errors + ${e:-1}))
  cleanup
}

declare -A max_rate deliveries node_cpu half_rate p50 p99 redis_cpu errors
run_setup() {  # setup-name: "cluster" or "single"
  local setup=$1 publishes
  local rates=() dels=() nodecpus=() p50s=() p99s=() cpus=()
  run_errors=0
  for _ in $(seq "$RUNS"); do
    fanout_run "$setup" --inflight 4
    rates+=("$(field "$line" broadcasts_per_s)")
    dels+=("$(field "$line" deliveries_per_s)")
    # Over the whole run (setup and warm-up too), per delivery of the measured window: an
    # upper bound that the short setup inflates little.
    nodecpus+=("$(awk -v t="$node_ticks" -v hz="$(getconf CLK_TCK)" -v d="$(field "$line" deliveries)" \
                      -v w="$WARMUP" -v r="$(field "$line" deliveries_per_s)" \
                      'BEGIN { printf "%.1f", t / hz * 1000 / (d + r * w) * 1000 }')")
    if [[ $setup == cluster ]]; then
      # Every broadcast (the warm-up's included: about broadcasts_per_s more) plus the joins.
      publishes=$(awk -v b="$(field "$line" broadcasts)" -v r="$(field "$line" broadcasts_per_s)" -v w="$WARMUP" \
                      -v n="$FANOUT_CONNS" 'BEGIN { print b + r * w + n + 1 }')
      cpus+=("$(awk -v t="$redis_ticks" -v hz="$(getconf CLK_TCK)" -v b="$publishes" \
                    'BEGIN { printf "%.1f", t / hz * 1000 / b * 1000 }')")
    fi
  done
  max_rate[$setup]=$(printf '%s\n' "${rates[@]}" | median)
  deliveries[$setup]=$(printf '%s\n' "${dels[@]}" | median)
  node_cpu[$setup]=$(printf '%s\n' "${nodecpus[@]}" | median)
  [[ ${#cpus[@]} -gt 0 ]] && redis_cpu[$setup]=$(printf '%s\n' "${cpus[@]}" | median)

  half_rate[$setup]=$(awk -v r="${max_rate[$setup]}" 'BEGIN { printf "%d", r / 2 }')
  for _ in $(seq "$RUNS"); do
    fanout_run "$setup" --rate "${half_rate[$setup]}"
    p50s+=("$(field "$line" p50_us)")
    p99s+=("$(field "$line" p99_us)")
  done
  p50[$setup]=$(printf '%s\n' "${p50s[@]}" | median)
  p99[$setup]=$(printf '%s\n' "${p99s[@]}" | median)
  errors[$setup]=$run_errors
}

log "results also in $results"
run_setup single
run_setup cluster

echo
echo "Fan-out to $FANOUT_CONNS subscribers, $SIZE-byte messages: medians of $RUNS runs, ${DURATION} s each (+${WARMUP} s warm-up);"
echo "servers (and redis-server) on CPU 0, one thread each, wharf-bench on CPU 1. Latency: publish to receive, every delivery, at half the maximum rate."
echo
echo "| setup | broadcasts/s (max) | deliveries/s (max) | node CPU per 1,000 deliveries | rate for latency | p50 | p99 | Redis CPU per 1,000 publishes | errors |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
for s in single cluster; do
  name="1 node, in-process"
  [[ $s == cluster ]] && name="2 nodes + Redis, $((FANOUT_CONNS / 2)) subscribers each"
  cpu=${redis_cpu[$s]:-}
  echo "| $name | ${max_rate[$s]} | ${deliveries[$s]} | ${node_cpu[$s]} ms | ${half_rate[$s]}/s | ${p50[$s]} µs | ${p99[$s]} µs | ${cpu:+$cpu ms} | ${errors[$s]} |"
done
