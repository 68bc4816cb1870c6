#!/usr/bin/env bash
# ctest "bench: smoke tls": makes a throwaway self-signed certificate, starts wharf-echo
# with only a TLS connector on a free loopback port, runs wharf-bench --tls in echo mode
# for about a second and checks that messages flowed (msgs>0), none were wrong (errors=0)
# and the run really was TLS (tls=1). Then one short handshake-mode run (errors=0,
# handshakes>0). Speed is not checked. Needs the openssl command-line tool.
#
#   bench/smoke-tls.sh path/to/wharf-echo path/to/wharf-bench
set -u
echo_bin=${1:?usage: smoke-tls.sh WHARF_ECHO WHARF_BENCH}
bench_bin=${2:?usage: smoke-tls.sh WHARF_ECHO WHARF_BENCH}

dir=$(mktemp -d)
out=$dir/server.out
server=
cleanup() {
  if [[ -n $server ]] && kill -0 "$server" 2>/dev/null; then
    kill -TERM "$server" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$server" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server" 2>/dev/null
  fi
  rm -rf "$dir"
}
trap cleanup EXIT

if ! command -v openssl >/dev/null; then
  echo "smoke-tls: openssl not installed; skipped"
  exit 77  # ctest SKIP_RETURN_CODE
fi
if ! openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=localhost \
       -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -keyout "$dir/key.pem" -out "$dir/cert.pem" >/dev/null 2>&1; then
  echo "smoke-tls: openssl could not make a certificate" >&2
  exit 1
fi

"$echo_bin" --host 127.0.0.1 --no-plain --tls-port 0 --tls-cert "$dir/cert.pem" --tls-key "$dir/key.pem" \
  --threads 1 --no-deflate >"$out" 2>&1 &
server=$!

# wharf-echo prints "wharf-echo: echoing at wss://localhost:PORT/echo ..." once it listens.
port=
for _ in $(seq 100); do
  port=$(sed -n 's|.*echoing at wss://[^ ]*:\([0-9][0-9]*\)/echo.*|\1|p' "$out" | head -n1)
  [[ -n $port ]] && break
  kill -0 "$server" 2>/dev/null || break
  sleep 0.1
done
if [[ -z $port ]]; then
  echo "smoke-tls: wharf-echo did not print its wss URL:" >&2
  cat "$out" >&2
  exit 1
fi

check() {  # line rc count-field
  local line=$1 rc=$2 key=$3 errors count
  echo "$line"
  if [[ $rc -ne 0 ]]; then echo "smoke-tls: wharf-bench exited with $rc" >&2; exit 1; fi
  errors=$(sed -n 's/.* errors=\([0-9]*\).*/\1/p' <<<"$line")
  count=$(sed -n "s/.* $key=\\([0-9]*\\).*/\\1/p" <<<"$line")
  if [[ $line != *" tls=1 "* ]]; then echo "smoke-tls: not a TLS run (no tls=1)" >&2; exit 1; fi
  if [[ $errors != 0 ]]; then echo "smoke-tls: errors=$errors" >&2; exit 1; fi
  if [[ -z $count || $count -le 0 ]]; then echo "smoke-tls: $key=0" >&2; exit 1; fi
}

# Verifying the certificate here (--ca) also checks SNI/host name handling.
line=$(timeout 30 "$bench_bin" --tls --ca "$dir/cert.pem" --mode echo --host 127.0.0.1 --port "$port" --conns 10 \
         --inflight 4 --size 32 --duration 1 --warmup 0.2 --server-pid "$server" --label smoke-tls)
check "$line" $? msgs
msgs=$(sed -n 's/.* msgs=\([0-9]*\).*/\1/p' <<<"$line")

line=$(timeout 30 "$bench_bin" --tls --mode handshake --host 127.0.0.1 --port "$port" --conns 2 \
         --duration 0.5 --warmup 0.1 --server-pid "$server" --label smoke-tls)
check "$line" $? handshakes
echo "smoke-tls: ok ($msgs messages over TLS, 0 errors)"
