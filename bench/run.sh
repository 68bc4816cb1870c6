#!/usr/bin/env bash
# bench/run.sh: builds Release in build-bench, runs wharf-bench against wharf-echo and the
# peer servers (beast-echo, websocketpp-echo if built, Node ws if installed, Jetty 9.4 if
# java, javac and Debian's libjetty9-java + libjetty9-extra-java are installed), and prints
# one Markdown table of medians with ratios against websocketpp (or beast-echo without it).
# Then, when openssl is installed, a second table for TLS (wss://): wharf-echo and
# websocketpp-echo with a throwaway self-signed certificate, ratios against websocketpp-tls
# (or against plain wharf without it).
# Then a fan-out table (wharf-bench --mode fanout: FANOUT_CONNS receivers and one sender,
# one row per server and size in FANOUT_SIZES) against servers of the same chat protocol:
# wharf-chat (the chat sample on topics: one frame per publish, shared), wharf-chat-2t (the
# same with 2 threads), wharf-chat-naive (wharf, one sendText per member) and
# websocketpp-chat (websocketpp's per-member send), ratios against websocketpp-chat; and an
# all-to-all table (wharf-bench --mode alltoall: ALLTOALL_CONNS members all sending) for the
# same servers.
#
#   bench/run.sh            # everything, about 6 minutes (TLS: about 1 of them)
#   RUNS=1 DURATION=1 IDLE_CONNS=1000 bench/run.sh   # a quick look
#   SERVERS="wharf beast" bench/run.sh                # a subset (SERVERS="": no main table)
#   TLS=0 bench/run.sh                                # no TLS table
#   TLS_SERVERS=wharf-tls bench/run.sh                # a TLS subset
#   FANOUT=0 bench/run.sh                             # no fan-out table
#   FANOUT_CONNS=100 bench/run.sh                     # fewer fan-out receivers (default 1000)
#   FANOUT_SIZES=4096 bench/run.sh                    # fan-out payload sizes, bytes (default "16 4096")
#   ALLTOALL=0 bench/run.sh                           # no all-to-all table
#   ALLTOALL_CONNS=100 ALLTOALL_SIZES=16 bench/run.sh # all-to-all members (default 320), sizes (default FANOUT_SIZES)
#   FANOUT_SERVERS="wharf-chat websocketpp-chat" bench/run.sh   # a fan-out subset
#   JIT_WARMUP=20 bench/run.sh                        # jetty's throwaway JIT warm-up (s, default 10)
#   NO_BUILD=1 bench/run.sh                           # use what build-bench holds
#   BENCH_BUILD_DIR=/path NO_BUILD=1 bench/run.sh     # another build directory
#   EXTRA_SERVERS='uws=/path/to/uws-echo --port {port}' BASELINE=uws SERVERS="wharf beast" bench/run.sh
#   EXTRA_FANOUT_SERVERS='uws-chat=/path/to/uws-chat --port {port}' FANOUT_BASELINE=uws-chat bench/run.sh
#   TLS_IDLE_CONNS=500 bench/run.sh                   # idle wss connections per TLS server (default 1000)
#   BENCH_RESULTS=/tmp/r.txt bench/run.sh             # raw lines elsewhere (default build-bench/bench-results.txt)
#
# EXTRA_SERVERS puts any echo server into the main table beside the built-in ones:
# entries NAME=COMMAND separated by ';', COMMAND split at spaces (no quoting). The server
# must echo every text and binary message on any path (the load tool uses /echo), without
# compression; {port} in COMMAND becomes a free port on 127.0.0.1 that run.sh picks, and the
# server counts as ready once that port accepts a connection. It runs pinned, started,
# measured and stopped (by PID) exactly like the built-in servers, after those in SERVERS.
# BASELINE=NAME makes NAME the base of the ratios (default websocketpp, else beast) and
# adds a second table with one column per server and "X vs NAME" ratios for every row.
# EXTRA_FANOUT_SERVERS does the same for the fan-out table: a chat server of wharf-chat's
# protocol (the first text is the sender's name and is announced as "* NAME joined" to
# everyone; every later text goes to every member, the sender included, as "NAME: text"),
# any path; FANOUT_BASELINE=NAME makes it the base of the fan-out ratios.
#
# Servers run pinned to CPU 0 (taskset -c 0), the load tool to CPU 1; "wharf-2t" is
# wharf-echo with 2 threads on both CPUs (the load tool still on CPU 1, so it shares), and
# "wharf-chat-2t" is wharf-chat with 2 threads the same way.
# "jetty" (bench/peers/JettyEcho.java, compiled here with javac) runs in a JVM pinned to
# CPU 0 like the others; before its measured runs it gets a throwaway warm-up for the JIT
# (echo 16 B for JIT_WARMUP s, default 10, then 2 s each of echo 64 KiB and handshakes):
# with the compiler threads sharing the one CPU, echo rates were still climbing after 3 s
# and flat from about 8 s on.
# Only 127.0.0.1 is used. Only the servers started here are stopped, by PID. Raw result
# lines go to build-bench/bench-results.txt.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
build=${BENCH_BUILD_DIR:-$root/build-bench}
RUNS=${RUNS:-3}
DURATION=${DURATION:-3}
WARMUP=${WARMUP:-0.5}
IDLE_CONNS=${IDLE_CONNS:-5000}
# The built-in servers (server_cmd below); set but empty (SERVERS="") runs none of that group.
all_servers="wharf wharf-2t beast websocketpp ws jetty"
all_tls_servers="wharf-tls websocketpp-tls"
all_fanout_servers="wharf-chat wharf-chat-2t wharf-chat-naive websocketpp-chat"
SERVERS=${SERVERS-$all_servers}
TLS=${TLS:-1}
TLS_SERVERS=${TLS_SERVERS-$all_tls_servers}
TLS_IDLE_CONNS=${TLS_IDLE_CONNS:-1000}
FANOUT=${FANOUT:-1}
FANOUT_CONNS=${FANOUT_CONNS:-1000}
FANOUT_SIZES=${FANOUT_SIZES:-${FANOUT_SIZE:-16 4096}}  # FANOUT_SIZE: the old name of a single size
ALLTOALL=${ALLTOALL:-1}
ALLTOALL_CONNS=${ALLTOALL_CONNS:-320}
ALLTOALL_SIZES=${ALLTOALL_SIZES:-$FANOUT_SIZES}
FANOUT_SERVERS=${FANOUT_SERVERS-$all_fanout_servers}
BASELINE=${BASELINE:-}
JIT_WARMUP=${JIT_WARMUP:-10}
tls_cert=$build/bench-tls-cert.pem
tls_key=$build/bench-tls-key.pem
results=${BENCH_RESULTS:-$build/bench-results.txt}

log() { echo "run.sh: $*" >&2; }

# EXTRA_SERVERS (see the top): NAME -> COMMAND with {port}; the names join SERVERS.
declare -A extra_cmd
[[ ${EXTRA_SERVERS:-} == *$'\n'* ]] && { log "EXTRA_SERVERS: separate entries with ';', not newlines"; exit 2; }
[[ ${EXTRA_FANOUT_SERVERS:-} == *$'\n'* ]] && { log "EXTRA_FANOUT_SERVERS: separate entries with ';', not newlines"; exit 2; }
add_extra() {  # variable-name "entries": each NAME=COMMAND joins SERVERS or FANOUT_SERVERS
  local var=$1 e name cmd entries
  IFS=';' read -ra entries <<<"$2"
  for e in "${entries[@]}"; do
    [[ $e =~ ^[[:space:]]*$ ]] && continue
    name=${e%%=*}; name=${name//[[:space:]]/}
    cmd=${e#*=}
    if [[ $e != *=* || ! $name =~ ^[A-Za-z0-9._-]+$ || $cmd != *"{port}"* ]]; then
      log "$var entry '$e' is not NAME=COMMAND with {port} in COMMAND"; exit 2
    fi
    if [[ " $all_servers $all_tls_servers $all_fanout_servers ${!extra_cmd[*]} " == *" $name "* ]]; then
      log "$var: the name '$name' is taken"; exit 2
    fi
    extra_cmd[$name]=$cmd
    if [[ $var == EXTRA_SERVERS ]]; then SERVERS+=" $name"; else FANOUT_SERVERS+=" $name"; fi
  done
}
add_extra EXTRA_SERVERS "${EXTRA_SERVERS:-}"
add_extra EXTRA_FANOUT_SERVERS "${EXTRA_FANOUT_SERVERS:-}"

# Many idle connections need descriptors on both sides.
want_fds=$((IDLE_CONNS + 1000))
[[ $FANOUT == 1 && $((FANOUT_CONNS + 1000)) -gt $want_fds ]] && want_fds=$((FANOUT_CONNS + 1000))
if [[ $(ulimit -n) -lt $want_fds ]]; then
  ulimit -n "$want_fds" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
fi
if [[ $(ulimit -n) -lt $want_fds ]]; then
  IDLE_CONNS=$(( $(ulimit -n) - 1000 ))
  log "ulimit -n is $(ulimit -n): idle test uses $IDLE_CONNS connections"
fi

# --- build ---------------------------------------------------------------------------
if [[ ${NO_BUILD:-0} != 1 ]]; then
  log "building Release in $build (-j1; NO_BUILD=1 skips this)"
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DWHARF_BUILD_BENCH=ON -DWHARF_BUILD_SAMPLES=ON \
        -DWHARF_BUILD_TESTS=OFF >/dev/null
  targets="wharf-echo wharf-bench beast-echo"
  [[ $FANOUT == 1 ]] && targets+=" wharf-chat wharf-chat-naive"
  help=$(cmake --build "$build" --target help)
  if [[ $help == *websocketpp-echo* ]]; then targets+=" websocketpp-echo"; fi
  if [[ $FANOUT == 1 && $help == *websocketpp-chat* ]]; then targets+=" websocketpp-chat"; fi
  for t in $targets; do
    cmake --build "$build" -j1 --target "$t" >"$build/bench-build.log" 2>&1 ||
      { log "building $t failed; see $build/bench-build.log"; exit 1; }
  done
fi
bench=$build/bench/wharf-bench

# Jetty 9.4 from Debian's jars (libjetty9-java, libjetty9-extra-java for WebSocket).
jetty_dir=$build/bench/jetty
jetty_cp=
have_java_jars=1
for j in jetty9-server jetty9-http jetty9-io jetty9-util jetty9-servlet jetty9-security jetty9-websocket-api \
         jetty9-websocket-common jetty9-websocket-server jetty9-websocket-servlet jetty9-websocket-client \
         jetty9-client jetty9-xml servlet-api; do
  [[ -f /usr/share/java/$j.jar ]] || { have_java_jars=0; break; }
  jetty_cp+=/usr/share/java/$j.jar:
done
command -v java >/dev/null || have_java_jars=0
if [[ ${NO_BUILD:-0} != 1 && $have_java_jars == 1 && " $SERVERS " == *" jetty "* ]]; then
  if command -v javac >/dev/null; then
    mkdir -p "$jetty_dir"
    javac -nowarn -d "$jetty_dir" -cp "$jetty_cp" "$here/peers/JettyEcho.java" >"$build/bench-build-jetty.log" 2>&1 ||
      { log "javac JettyEcho.java failed; see $build/bench-build-jetty.log"; exit 1; }
  else
    log "no javac: jetty uses what $jetty_dir holds, if anything"
  fi
fi
# JVM flags: the serial collector (no GC threads to compete on the one CPU), a heap cap and
# a small initial heap (so idle RSS counts what the connections touch), smaller thread stacks.
jetty_jvm="-XX:+UseSerialGC -Xms16m -Xmx512m -Xss256k"
if [[ -d $here/peers/node_modules/ws ]] ||
   { [[ " $SERVERS " == *" ws "* ]] && command -v npm >/dev/null &&
     (cd "$here/peers" && timeout 120 npm ci --no-audit --no-fund >/dev/null 2>&1); }; then
  have_ws=1
else
  have_ws=0
fi

server_cmd() {  # name -> "cpus|command"
  case $1 in
    wharf)       echo "0|$build/samples/echo/wharf-echo --host 127.0.0.1 --port 0 --threads 1 --no-deflate" ;;
    wharf-2t)    echo "0,1|$build/samples/echo/wharf-echo --host 127.0.0.1 --port 0 --threads 2 --no-deflate" ;;
    beast)       echo "0|$build/bench/beast-echo --port 0 --threads 1" ;;
    websocketpp) [[ -x $build/bench/websocketpp-echo ]] && echo "0|$build/bench/websocketpp-echo --port 0 --threads 1" ;;
    ws)          [[ $have_ws == 1 ]] && command -v node >/dev/null && echo "0|node $here/peers/ws-echo.mjs --port 0" ;;
    jetty)       [[ $have_java_jars == 1 && -f $jetty_dir/JettyEcho.class ]] && echo "0|java $jetty_jvm -cp $jetty_cp$jetty_dir JettyEcho --port 0" ;;
    # TLS: only the wss connector (--no-plain), same threads and CPU as "wharf".
    wharf-tls)   echo "0|$build/samples/echo/wharf-echo --host 127.0.0.1 --no-plain --tls-port 0 --tls-cert $tls_cert --tls-key $tls_key --threads 1 --no-deflate" ;;
    websocketpp-tls) [[ -x $build/bench/websocketpp-echo ]] && echo "0|$build/bench/websocketpp-echo --port 0 --threads 1 --tls-cert $tls_cert --tls-key $tls_key" ;;
    # Fan-out: the chat sample, one thread; receivers never speak after their name, so no idle timeout hits.
    wharf-chat)  [[ -x $build/samples/chat/wharf-chat ]] && echo "0|$build/samples/chat/wharf-chat --host 127.0.0.1 --port 0 --threads 1 --public $root/samples/chat/public --idle-timeout 86400" ;;
    wharf-chat-2t) [[ -x $build/samples/chat/wharf-chat ]] && echo "0,1|$build/samples/chat/wharf-chat --host 127.0.0.1 --port 0 --threads 2 --public $root/samples/chat/public --idle-timeout 86400" ;;
    # The same chat protocol with a frame built per recipient: on wharf (sendText per member), on websocketpp.
    wharf-chat-naive) [[ -x $build/bench/wharf-chat-naive ]] && echo "0|$build/bench/wharf-chat-naive --port 0 --threads 1" ;;
    websocketpp-chat) [[ -x $build/bench/websocketpp-chat ]] && echo "0|$build/bench/websocketpp-chat --port 0" ;;
    *)           [[ -n ${extra_cmd[$1]:-} ]] && echo "0|${extra_cmd[$1]}" ;;
  esac
  return 0
}

# --- server control --------------------------------------------------------------------
server_pid=
server_port=
server_out=$(mktemp)
stop_server() {
  [[ -z $server_pid ]] && return 0
  if kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server_pid" 2>/dev/null || true
  fi
  wait "$server_pid" 2>/dev/null || true
  server_pid=
}
trap 'stop_server; rm -f "$server_out"' EXIT

# shellcheck source=bench/ports.sh
source "$here/ports.sh"

start_server() {  # name
  local spec cpus cmd given_port=
  spec=$(server_cmd "$1")
  cpus=${spec%%|*}
  cmd=${spec#*|}
  if [[ $cmd == *"{port}"* ]]; then
    given_port=$(free_port) || { log "$1: no free port found"; return 1; }
    cmd=${cmd//"{port}"/$given_port}
  fi
  : >"$server_out"
  # shellcheck disable=SC2086
  taskset -c "$cpus" $cmd >"$server_out" 2>&1 &
  server_pid=$!
  server_port=
  for _ in $(seq 100); do
    if [[ -n $given_port ]]; then
      # A server given its port (EXTRA_SERVERS) is ready once the port accepts connections.
      port_open "$given_port" && server_port=$given_port
    else
      # Echo servers print "echoing at ws://HOST:PORT/"; the chat servers "open http://HOST:PORT/".
      server_port=$(sed -n -e 's|.*echoing at wss\{0,1\}://[^ ]*:\([0-9][0-9]*\)/.*|\1|p' \
                           -e 's|.*open http://[^ ]*:\([0-9][0-9]*\)/.*|\1|p' "$server_out" | head -n1)
    fi
    [[ -n $server_port ]] && return 0
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  log "$1 did not start:"; cat "$server_out" >&2
  stop_server
  return 1
}

load() {  # label args... -> one result line
  local label=$1; shift
  local line
  line=$(taskset -c 1 timeout 180 "$bench" --host 127.0.0.1 --port "$server_port" --label "$label" "$@") || true
  [[ -z $line ]] && line="mode=failed label=$label errors=1"
  echo "$line" >>"$results"
  echo "$line" >&2  # progress
  echo "$line"      # for the caller's $(...): the table is built from these
}

field() { [[ $1 =~ \ $2=([^ ]*) ]] && echo "${BASH_REMATCH[1]}"; true; }

idle_runs() {  # server conns [wharf-bench args...]: a fresh server for each of RUNS idle measurements,
  # so earlier runs' freed memory does not hide the cost.
  local s=$1 n=$2; shift 2
  for _ in $(seq "$RUNS"); do
    start_server "$s" || break
    lines[$s/idle]+="$(load "$s" "$@" --mode idle --conns "$n" --pid "$server_pid")"$'\n'
    stop_server
  done
}

# --- workloads ---------------------------------------------------------------------
declare -A lines  # "server/workload" -> newline-separated result lines
ran=()
tls_ran=()  # TLS servers, in their own table
fanout_ran=()  # fan-out (chat servers), in its own table
jit_warmed=()  # servers that got the throwaway JIT warm-up (for the table's footnote)
if [[ ${TABLE_ONLY:-0} == 1 ]]; then
  # Re-render the table from an earlier run's raw lines.
  t_fanout_sizes=; t_alltoall_sizes=
  while IFS= read -r l; do
    [[ $l == mode=* ]] || continue
    s=$(sed -n 's/.* label=\([^ ]*\).*/\1/p' <<<"$l")
    if [[ $l == mode=fanout* || $l == mode=alltoall* ]]; then
      w=${l%% *}; w=${w#mode=}
      n=$(field "$l" conns); z=$(field "$l" size)
      if [[ $w == fanout ]]; then
        FANOUT_CONNS=$n; [[ " $t_fanout_sizes " == *" $z "* ]] || t_fanout_sizes+=" $z"
      else
        ALLTOALL_CONNS=$n; [[ " $t_alltoall_sizes " == *" $z "* ]] || t_alltoall_sizes+=" $z"
      fi
      [[ " ${fanout_ran[*]} " == *" $s "* ]] || fanout_ran+=("$s")
      lines[$s/$w$z]+="$l"$'\n'
      continue
    fi
    case $l in
      "mode=echo "*" size=16 "*) w=echo16 ;;
      "mode=echo "*" size=65536 "*) w=echo64k ;;
      mode=latency*) w=latency ;;
      mode=handshake*) w=handshake ;;
      mode=idle*)
        w=idle
        n=$(sed -n 's/.* conns=\([0-9]*\).*/\1/p' <<<"$l")
        if [[ $l == *" tls=1 "* ]]; then TLS_IDLE_CONNS=$n; else IDLE_CONNS=$n; fi ;;
      *) continue ;;
    esac
    if [[ $l == *" tls=1 "* ]]; then
      [[ " ${tls_ran[*]} " == *" $s "* ]] || tls_ran+=("$s")
    else
      [[ " ${ran[*]} " == *" $s "* ]] || ran+=("$s")
    fi
    lines[$s/$w]+="$l"$'\n'
  done <"$results"
  SERVERS=
  TLS_SERVERS=
  FANOUT=0
  FANOUT_SIZES=${t_fanout_sizes# }
  ALLTOALL_SIZES=${t_alltoall_sizes# }
  if grep -q '^# JIT warm-up .* label=jetty ' "$results"; then
    jit_warmed+=(jetty)
    w=$(sed -n 's/^# JIT warm-up mode=echo .* size=16 .* duration_s=\([0-9.]*\).*/\1/p' "$results" | head -n1)
    [[ -n $w ]] && JIT_WARMUP=$(printf '%.0f' "$w")
  fi
else
  : >"$results"
fi
[[ ${TABLE_ONLY:-0} == 1 ]] || { echo "# $(date -u +%FT%TZ) nproc=$(nproc) cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"; } >>"$results"

for s in $SERVERS; do
  [[ -z $(server_cmd "$s") ]] && { log "skipping $s (not available)"; continue; }
  ran+=("$s")
  log "server $s"
  start_server "$s" || continue
  if [[ $s == jetty ]]; then
    # A JIT needs more than WARMUP: throwaway runs first, kept in the raw file as comments only.
    log "jetty: ${JIT_WARMUP} s + 4 s JIT warm-up (not measured)"
    jit_warmed+=("$s")
    for args in "--mode echo --conns 100 --inflight 16 --size 16 --duration $JIT_WARMUP" \
                "--mode echo --conns 10 --inflight 4 --size 65536 --binary --duration 2" \
                "--mode handshake --conns 8 --duration 2"; do
      # shellcheck disable=SC2086
      echo "# JIT warm-up $(taskset -c 1 timeout $((JIT_WARMUP + 60)) "$bench" --host 127.0.0.1 --port "$server_port" --label "$s" --warmup 0 $args || true)" >>"$results"
    done
  fi
  for _ in $(seq "$RUNS"); do
    lines[$s/echo16]+="$(load "$s" --mode echo --conns 100 --inflight 16 --size 16 --duration "$DURATION" --warmup "$WARMUP" --server-pid "$server_pid")"$'\n'
    lines[$s/echo64k]+="$(load "$s" --mode echo --conns 10 --inflight 4 --size 65536 --binary --duration "$DURATION" --warmup "$WARMUP" --server-pid "$server_pid")"$'\n'
    lines[$s/latency]+="$(load "$s" --mode latency --size 16 --duration "$DURATION" --warmup "$WARMUP" --server-pid "$server_pid")"$'\n'
    lines[$s/handshake]+="$(load "$s" --mode handshake --conns 8 --duration "$DURATION" --warmup "$WARMUP" --server-pid "$server_pid")"$'\n'
  done
  stop_server
  idle_runs "$s" "$IDLE_CONNS"
done

# TLS: a throwaway self-signed P-256 certificate for localhost, made fresh for every run.
# Echo 16 B, echo 64 KiB, handshakes and idle memory (TLS_IDLE_CONNS; latency: see the plain table).
if [[ $TLS == 1 && -n $TLS_SERVERS ]]; then
  if command -v openssl >/dev/null &&
     openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=localhost \
       -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -keyout "$tls_key" -out "$tls_cert" >/dev/null 2>&1; then
    for s in $TLS_SERVERS; do
      [[ -z $(server_cmd "$s") ]] && { log "skipping $s (not available)"; continue; }
      log "server $s"
      start_server "$s" || continue
      tls_ran+=("$s")
      for _ in $(seq "$RUNS"); do
        lines[$s/echo16]+="$(load "$s" --tls --mode echo --conns 100 --inflight 16 --size 16 --duration "$DURATION" --warmup "$WARMUP" --server-pid "$server_pid")"$'\n'
        lines[$s/echo64k]+="$(load "$s" --tls --mode echo --conns 10 --inflight 4 --size 65536 --binary --duration "$DURATION" --warmup "$WARMUP" --server-pid "$server_pid")"$'\n'
        lines[$s/handshake]+="$(load "$s" --tls --mode handshake --conns 8 --duration "$DURATION" --warmup "$WARMUP" --server-pid "$server_pid")"$'\n'
      done
      stop_server
      idle_runs "$s" "$TLS_IDLE_CONNS" --tls
    done
  else
    log "skipping TLS (no openssl, or it could not make a certificate)"
  fi
fi

# Fan-out: FANOUT_CONNS receivers + one sender with 4 broadcasts outstanding, for each size
# in FANOUT_SIZES; then all-to-all: ALLTOALL_CONNS members each with 1 message outstanding,
# for each size in ALLTOALL_SIZES; against each chat server, one server process for all.
# wharf-chat frames every broadcast once and shares it; wharf-chat-naive and
# websocketpp-chat build a frame per recipient.
[[ $ALLTOALL == 1 ]] || ALLTOALL_SIZES=
if [[ $FANOUT == 1 ]]; then
  for s in $FANOUT_SERVERS; do
    [[ -z $(server_cmd "$s") ]] && { log "skipping $s (not available)"; continue; }
    log "server $s (fan-out, $FANOUT_CONNS receivers; all-to-all, $ALLTOALL_CONNS members)"
    start_server "$s" || continue
    fanout_ran+=("$s")
    for _ in $(seq "$RUNS"); do
      for z in $FANOUT_SIZES; do
        lines[$s/fanout$z]+="$(load "$s" --mode fanout --path /chat --conns "$FANOUT_CONNS" --inflight 4 --size "$z" --duration "$DURATION" --warmup "$WARMUP" --server-pid "$server_pid")"$'\n'
      done
      for z in $ALLTOALL_SIZES; do
        lines[$s/alltoall$z]+="$(load "$s" --mode alltoall --path /chat --conns "$ALLTOALL_CONNS" --inflight 1 --size "$z" --duration "$DURATION" --warmup "$WARMUP" --server-pid "$server_pid")"$'\n'
      done
    done
    stop_server
  done
fi

# --- table ---------------------------------------------------------------------------
median() {  # values on stdin -> median (empty when none)
  { grep -E '^-?[0-9.]+$' || true; } | sort -g | awk '{v[NR]=$1} END {if (NR==0) exit; if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'
}
metric() {  # server workload key -> median over the runs that measured (a failed setup has duration_s=0.000
  # and counts only in the errors column)
  local l
  while IFS= read -r l; do [[ -n $l && $l != *" duration_s=0.000 "* ]] && field "$l" "$3"; true; done <<<"${lines[$1/$2]:-}" | median
}
cpu_per() {  # server workload count-field -> median server CPU microseconds per counted item
  local l
  while IFS= read -r l; do
    [[ -z $l ]] && continue
    local c m
    c=$(field "$l" server_cpu_s); m=$(field "$l" "$3")
    [[ -n $c && -n $m && $m != 0 ]] && awk -v c="$c" -v m="$m" 'BEGIN {printf "%.3f\n", c * 1e6 / m}'
    true
  done <<<"${lines[$1/$2]:-}" | median
}
errors_total() {
  local s=$1 w l total=0 e
  for w in echo16 echo64k latency handshake idle; do
    while IFS= read -r l; do
      [[ -z $l ]] && continue
      e=$(field "$l" errors); total=$((total + ${e:-1}))
    done <<<"${lines[$s/$w]:-}"
  done
  echo "$total"
}
ratio() {  # value base -> "x.xx×"
  [[ -z $1 || -z $2 ]] && { echo "–"; return; }
  awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "–"; else printf "%.2f×", a / b }'
}
fmt() { [[ -z $1 ]] && echo "–" || awk -v v="$1" -v d="$2" 'BEGIN {printf "%." d "f", v}'; }

base=beast
for s in "${ran[@]}"; do [[ $s == websocketpp ]] && base=websocketpp; done
if [[ -n $BASELINE ]]; then
  if [[ " ${ran[*]} " == *" $BASELINE "* ]]; then base=$BASELINE; else log "BASELINE=$BASELINE did not run: ratios vs $base"; fi
fi
b_echo=$(metric "$base" echo16 msgs_per_s)
b_big=$(metric "$base" echo64k mb_per_s)
b_hs=$(metric "$base" handshake handshakes_per_s)

if [[ ${#ran[@]} -gt 0 ]]; then
  echo
  echo "Medians of $RUNS runs, ${DURATION} s each (+${WARMUP} s warm-up); ratios vs $base (higher is better)."
  echo "Server on CPU 0, wharf-bench on CPU 1; wharf-2t: wharf-echo --threads 2 on CPUs 0-1."
  echo "Server CPU columns: server utime+stime over the measured window / messages (or handshakes) in it."
  echo "Idle: RSS growth per connection with $IDLE_CONNS open (average, includes what the server sets up once) and over"
  echo "the second half only (marginal: the cost of one more idle connection)."
  if [[ ${#jit_warmed[@]} -gt 0 ]]; then
    echo "${jit_warmed[*]}: JVM (Jetty 9.4, $jetty_jvm) pinned to CPU 0 like the others; after start a throwaway JIT warm-up"
    echo "(echo 16 B for ${JIT_WARMUP} s, echo 64 KiB 2 s, handshakes 2 s) before the measured runs; its idle memory uses a fresh JVM, no warm-up."
  fi
  echo
  echo "| server | echo 16 B msg/s (100 conns × 16) | vs $base | server CPU µs/msg | echo 64 KiB MB/s (10 × 4) | vs $base | latency p50 µs | p99 µs | handshakes/s | vs $base | server CPU µs/handshake | idle bytes/conn, average | marginal | errors |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  for s in "${ran[@]}"; do
    e=$(metric "$s" echo16 msgs_per_s); big=$(metric "$s" echo64k mb_per_s)
    p50=$(metric "$s" latency p50_us); p99=$(metric "$s" latency p99_us)
    hs=$(metric "$s" handshake handshakes_per_s); idle=$(metric "$s" idle bytes_per_conn)
    idle_marginal=$(metric "$s" idle marginal_bytes_per_conn)
    echo "| $s | $(fmt "$e" 0) | $(ratio "$e" "$b_echo") | $(fmt "$(cpu_per "$s" echo16 msgs)" 2) | $(fmt "$big" 1) | $(ratio "$big" "$b_big") | $(fmt "$p50" 1) | $(fmt "$p99" 1) | $(fmt "$hs" 0) | $(ratio "$hs" "$b_hs") | $(fmt "$(cpu_per "$s" handshake handshakes)" 0) | $(fmt "$idle" 0) | $(fmt "$idle_marginal" 0) | $(errors_total "$s") |"
  done
fi

# BASELINE: the same figures with one column per server and "X vs BASELINE" ratios of every row.
if [[ -n $BASELINE && $base == "$BASELINE" ]]; then
  others=()
  for s in "${ran[@]}"; do [[ $s != "$base" ]] && others+=("$s"); done
  cmp_row() {  # label decimals getter args... (called as: getter SERVER args...)
    local label=$1 d=$2 getter=$3 s out
    shift 3
    local -A v
    out="| $label |"
    for s in "${ran[@]}"; do v[$s]=$("$getter" "$s" "$@"); out+=" $(fmt "${v[$s]}" "$d") |"; done
    for s in "${others[@]}"; do out+=" $(ratio "${v[$s]}" "${v[$base]}") |"; done
    echo "$out"
  }
  echo
  echo "Beside $base: the figures above, one column per server; \"X vs $base\" = X's figure / $base's"
  echo "(rates: higher is better; server CPU, latency and memory: lower is better)."
  echo
  hdr="| |"; sep="|---|"
  for s in "${ran[@]}"; do hdr+=" $s |"; sep+="---:|"; done
  for s in "${others[@]}"; do hdr+=" $s vs $base |"; sep+="---:|"; done
  echo "$hdr"; echo "$sep"
  cmp_row "echo 16 B msg/s (100 conns × 16)" 0 metric echo16 msgs_per_s
  cmp_row "server CPU µs per 16 B echo" 2 cpu_per echo16 msgs
  cmp_row "1 connection round trip p50 µs" 1 metric latency p50_us
  cmp_row "1 connection round trip p99 µs" 1 metric latency p99_us
  cmp_row "echo 64 KiB MB/s (10 × 4)" 1 metric echo64k mb_per_s
  cmp_row "handshakes/s" 0 metric handshake handshakes_per_s
  cmp_row "server CPU µs per handshake" 0 cpu_per handshake handshakes
  cmp_row "idle RSS bytes/conn ($IDLE_CONNS), average" 0 metric idle bytes_per_conn
  cmp_row "idle RSS bytes/conn, marginal" 0 metric idle marginal_bytes_per_conn
fi

# TLS table: ratios vs websocketpp-tls when it ran, else vs plain wharf (same workload
# without TLS). "of plain" = the TLS server's figure / the same server's plain figure.
if [[ ${#tls_ran[@]} -gt 0 ]]; then
  tbase=
  for s in "${tls_ran[@]}"; do [[ $s == websocketpp-tls ]] && tbase=websocketpp-tls; done
  [[ -z $tbase && -n ${lines[wharf/echo16]:-} ]] && tbase=wharf
  plain_of() { echo "${1%-tls}"; }
  t_echo=; t_big=; t_hs=
  if [[ -n $tbase ]]; then
    t_echo=$(metric "$tbase" echo16 msgs_per_s); t_big=$(metric "$tbase" echo64k mb_per_s); t_hs=$(metric "$tbase" handshake handshakes_per_s)
  fi
  tnote=${tbase:-–}
  [[ $tbase == wharf ]] && tnote="wharf without TLS (websocketpp-tls did not run)"
  l1=$(head -n1 <<<"${lines[${tls_ran[0]}/echo16]:-}")
  echo
  echo "TLS (wss://): medians of $RUNS runs, same workloads, durations and CPUs as above; ratios vs $tnote."
  echo "Negotiated: $(field "$l1" tls_version) $(field "$l1" tls_cipher) $(field "$l1" tls_group); self-signed P-256 (ECDSA) certificate, not verified by the client;"
  echo "every handshake is a full one (no resumption). \"of plain\" = the TLS figure / the same server's figure without TLS;"
  echo "server CPU columns: with TLS (in parentheses: the same server without TLS, from the plain table);"
  echo "idle: RSS growth per idle wss connection with $TLS_IDLE_CONNS open, as in the plain table (average, marginal)."
  echo
  echo "| server | echo 16 B msg/s | vs ${tbase:-–} | of plain | server CPU µs/msg | echo 64 KiB MB/s | vs ${tbase:-–} | of plain | server CPU µs/64 KiB msg | handshakes/s | vs ${tbase:-–} | of plain | server CPU µs/handshake | idle bytes/conn, average | marginal | errors |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  for s in "${tls_ran[@]}"; do
    p=$(plain_of "$s")
    e=$(metric "$s" echo16 msgs_per_s); big=$(metric "$s" echo64k mb_per_s); hs=$(metric "$s" handshake handshakes_per_s)
    pe=$(metric "$p" echo16 msgs_per_s); pbig=$(metric "$p" echo64k mb_per_s); phs=$(metric "$p" handshake handshakes_per_s)
    echo "| $s | $(fmt "$e" 0) | $(ratio "$e" "$t_echo") | $(ratio "$e" "$pe") | $(fmt "$(cpu_per "$s" echo16 msgs)" 2) ($(fmt "$(cpu_per "$p" echo16 msgs)" 2)) | $(fmt "$big" 1) | $(ratio "$big" "$t_big") | $(ratio "$big" "$pbig") | $(fmt "$(cpu_per "$s" echo64k msgs)" 0) ($(fmt "$(cpu_per "$p" echo64k msgs)" 0)) | $(fmt "$hs" 0) | $(ratio "$hs" "$t_hs") | $(ratio "$hs" "$phs") | $(fmt "$(cpu_per "$s" handshake handshakes)" 0) ($(fmt "$(cpu_per "$p" handshake handshakes)" 0)) | $(fmt "$(metric "$s" idle bytes_per_conn)" 0) | $(fmt "$(metric "$s" idle marginal_bytes_per_conn)" 0) | $(errors_total "$s") |"
  done
fi

if [[ ${#fanout_ran[@]} -gt 0 ]]; then
  fbase=
  want_fbase=${FANOUT_BASELINE:-websocketpp-chat}
  for s in "${fanout_ran[@]}"; do [[ $s == "$want_fbase" ]] && fbase=$want_fbase; done
  shape_errors() {  # server workload -> errors summed over runs (a failed run counts 1)
    local l e total=0
    while IFS= read -r l; do
      [[ -z $l ]] && continue
      e=$(field "$l" errors); total=$((total + ${e:-1}))
    done <<<"${lines[$1/$2]:-}"
    echo "$total"
  }
  shape_rows() {  # workload conns count-label-field: one row per server with that workload
    local w=$1 n=$2 per=$3 s d c b_d= b_c=
    if [[ -n $fbase ]]; then b_d=$(metric "$fbase" "$w" deliveries_per_s); b_c=$(cpu_per "$fbase" "$w" deliveries); fi
    for s in "${fanout_ran[@]}"; do
      [[ -z ${lines[$s/$w]:-} ]] && continue
      d=$(metric "$s" "$w" deliveries_per_s); c=$(cpu_per "$s" "$w" deliveries)
      echo "| $s | $n | ${w//[!0-9]/} B | $(fmt "$d" 0) | $(ratio "$d" "$b_d") | $(fmt "$(metric "$s" "$w" "$per")" 0) | $(fmt "$c" 2) | $(ratio "$c" "$b_c") | $(shape_errors "$s" "$w") |"
    done
  }
  two_t=
  [[ " ${fanout_ran[*]} " == *" wharf-chat-2t "* ]] &&
    two_t=" wharf-chat-2t: wharf-chat --threads 2 on CPUs 0-1, so it shares CPU 1 with wharf-bench (its CPU column counts both threads)."
  fnote="Ratios vs ${fbase:-– ($want_fbase did not run)}: deliveries/s (higher is better) and server CPU per delivery (lower is better)."
  if [[ -n $FANOUT_SIZES ]]; then
    echo
    echo "Fan-out: medians of $RUNS runs, ${DURATION} s each (+${WARMUP} s warm-up); each chat server on CPU 0 (1 thread), wharf-bench on CPU 1.$two_t"
    echo "$FANOUT_CONNS receivers and one sender with at most 4 broadcasts outstanding; a delivery is one"
    echo "receiver getting one broadcast. Same chat protocol on every server: wharf-chat publishes each broadcast to a topic (one frame,"
    echo "shared); wharf-chat-naive (wharf, sendText per member) and websocketpp-chat (websocketpp's send per member) build a"
    echo "frame per recipient. Server CPU µs/delivery: server utime+stime over the measured window / deliveries in it."
    echo "$fnote"
    echo
    echo "| server | receivers | payload | deliveries/s | vs ${fbase:-–} | broadcasts/s | server CPU µs/delivery | vs ${fbase:-–} | errors |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    for z in $FANOUT_SIZES; do shape_rows "fanout$z" "$FANOUT_CONNS" broadcasts_per_s; done
  fi
  if [[ -n $ALLTOALL_SIZES ]]; then
    echo
    echo "All-to-all (as uWebSockets' broadcast test): medians of $RUNS runs, same durations and CPUs as the fan-out table."
    echo "$ALLTOALL_CONNS members of one room, each sending with 1 message of its own outstanding; every message goes to every"
    echo "member, the sender included, so a message is $ALLTOALL_CONNS deliveries. Every receiver checks every sender's order."
    echo "$fnote"
    echo
    echo "| server | members | payload | deliveries/s | vs ${fbase:-–} | messages/s | server CPU µs/delivery | vs ${fbase:-–} | errors |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    for z in $ALLTOALL_SIZES; do shape_rows "alltoall$z" "$ALLTOALL_CONNS" messages_per_s; done
  fi
fi
echo
echo "Raw lines: $results"
