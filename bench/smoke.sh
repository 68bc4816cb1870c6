#!/usr/bin/env bash
# ctest "bench: smoke": starts wharf-echo on a free loopback port, runs wharf-bench in
# echo mode for about a second and checks that messages flowed (msgs>0) and none were
# wrong (errors=0). Then it runs bench/run.sh briefly with wharf-echo given as an
# EXTRA_SERVERS entry under another name and BASELINE set to it, and checks that its rows
# (main table and the BASELINE table) appear with 0 errors. Speed is not checked.
#
#   bench/smoke.sh path/to/wharf-echo path/to/wharf-bench
set -u
echo_bin=${1:?usage: smoke.sh WHARF_ECHO WHARF_BENCH}
bench_bin=${2:?usage: smoke.sh WHARF_ECHO WHARF_BENCH}

out=$(mktemp)
server=
cleanup() {
  if [[ -n $server ]] && kill -0 "$server" 2>/dev/null; then
    kill -TERM "$server" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$server" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server" 2>/dev/null
  fi
  rm -f "$out"
}
trap cleanup EXIT

"$echo_bin" --port 0 --host 127.0.0.1 --threads 1 --no-deflate >"$out" 2>&1 &
server=$!

# wharf-echo prints "wharf-echo: echoing at ws://localhost:PORT/echo ..." once it listens.
port=
for _ in $(seq 100); do
  port=$(sed -n 's|.*echoing at ws://[^ ]*:\([0-9][0-9]*\)/echo.*|\1|p' "$out" | head -n1)
  [[ -n $port ]] && break
  kill -0 "$server" 2>/dev/null || break
  sleep 0.1
done
if [[ -z $port ]]; then
  echo "smoke: wharf-echo did not print its URL:" >&2
  cat "$out" >&2
  exit 1
fi

line=$(timeout 30 "$bench_bin" --mode echo --host 127.0.0.1 --port "$port" --conns 10 --inflight 4 \
         --size 32 --duration 1 --warmup 0.2 --server-pid "$server" --label smoke)
rc=$?
echo "$line"
if [[ $rc -ne 0 ]]; then echo "smoke: wharf-bench exited with $rc" >&2; exit 1; fi
errors=$(sed -n 's/.* errors=\([0-9]*\).*/\1/p' <<<"$line")
msgs=$(sed -n 's/.* msgs=\([0-9]*\).*/\1/p' <<<"$line")
if [[ $errors != 0 ]]; then echo "smoke: errors=$errors" >&2; exit 1; fi
if [[ -z $msgs || $msgs -le 0 ]]; then echo "smoke: no messages echoed" >&2; exit 1; fi
echo "smoke: ok ($msgs messages, 0 errors)"

# EXTRA_SERVERS: run.sh finds wharf-bench in BENCH_BUILD_DIR/bench, where ctest's build has it.
tmp=$(mktemp -d)
trap 'cleanup; rm -rf "$tmp"' EXIT
table=$(NO_BUILD=1 BENCH_BUILD_DIR=$(cd "$(dirname "$bench_bin")/.." && pwd) BENCH_RESULTS=$tmp/results.txt \
        SERVERS="" TLS=0 FANOUT=0 RUNS=1 DURATION=0.2 WARMUP=0.05 IDLE_CONNS=20 BASELINE=other-echo \
        EXTRA_SERVERS="other-echo=$echo_bin --host 127.0.0.1 --port {port} --threads 1 --no-deflate" \
        timeout 60 "$(dirname "$0")/run.sh" 2>"$tmp/log")
rc=$?
echo "$table"
if [[ $rc -ne 0 ]]; then echo "smoke: run.sh exited with $rc:" >&2; cat "$tmp/log" >&2; exit 1; fi
# The main table's row ends with its error count; the BASELINE table has a header naming it.
if ! grep -Eq '^\| other-echo \| [0-9]+ \|.* \| 0 \|$' <<<"$table" ||
   ! grep -q '^| | other-echo |$' <<<"$table"; then
  echo "smoke: run.sh printed no error-free other-echo rows:" >&2; cat "$tmp/log" >&2; exit 1
fi
echo "smoke: ok (EXTRA_SERVERS row)"
