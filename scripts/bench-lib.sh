# Sourced by the benchmarks that start Dovecot and smolmail side by side
# (bench-imap.sh, bench-login.sh, bench-import-imap.sh): their scratch
# directory with the processes to stop on exit, and loopback ports.
#
# bench_tmp NAME: makes $tmp (/tmp/smolmail-NAME.XXXXXX, readable by
# Dovecot's processes, which run as other users), an empty $pids array
# whose processes are stopped on exit, and removes $tmp then (kept with
# KEEP_TMP=1).
bench_tmp() {
  tmp=$(mktemp -d "/tmp/smolmail-$1.XXXXXX")
  chmod 755 "$tmp"
  pids=()
  trap bench_cleanup EXIT
}
bench_cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ -z "${KEEP_TMP:-}" ]; then rm -rf "$tmp"; else echo "kept $tmp"; fi
}

# free_port: a port of 127.0.0.1 free now.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# wait_port PORT WHAT LOGFILE: waits (30 s at most) until PORT accepts a
# connection; otherwise prints LOGFILE and exits.
wait_port() {
  for _ in $(seq 600); do
    if python3 -c "import socket; socket.create_connection(('127.0.0.1', $1))" 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "$(basename "$0" .sh): $2 did not start:" >&2; cat "$3" >&2; exit 1
}
