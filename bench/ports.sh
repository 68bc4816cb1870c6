# Loopback ports for the bench scripts (sourced by run.sh and cluster.sh).

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A port nobody listens on, below Linux's ephemeral range (32768-60999) so that the load
# tool's own connections never take it.
free_port() {
  local p
  for _ in $(seq 50); do
    p=$((20000 + RANDOM % 10000))
    port_open "$p" || { echo "$p"; return 0; }
  done
  return 1
}
