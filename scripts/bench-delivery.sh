#!/usr/bin/env bash
# Outbound delivery throughput: N queued messages of SIZE bytes (default
# 1000 x 4 KiB) sent by smolmail's queue runner to Postfix's smtp-sink on
# loopback. Prints deliveries per second, how many SMTP connections carried
# them, and the server's resident memory while it worked.
#
# How: a release smolmail takes the messages from smtp-source on its
# submission port while the sink is down, so each is queued and deferred
# (retry in 4 h). Then the server stops, the sink starts, `smolmail queue
# flush` makes everything due, and the server starts again: the clock runs
# from its first connection to the sink to the last queue entry removed
# (committed to disk), from its own log. The next hop is a --route to the
# sink, so no DNS is involved; only loopback is used.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-1000}
SIZE=${SIZE:-4096}

command -v smtp-sink >/dev/null || PATH=$PATH:/usr/sbin
command -v smtp-sink >/dev/null || { echo "smtp-sink missing: run scripts/setup.sh (postfix)" >&2; exit 1; }

cargo build --release --locked -q
bin=${CARGO_TARGET_DIR:-$PWD/target}/release/smolmail
work=$(mktemp -d /tmp/smolmail-bench-delivery.XXXXXX)
server=
sink=
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  # smtp-sink ignores SIGTERM.
  if [ -n "$sink" ]; then kill -9 "$sink" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
sink_port=$(free_port)
sub_port=$(free_port)
export SMOLMAIL_DATA=$work/data SMOLMAIL_HOSTNAME=bench.home.arpa
echo bench-pw | "$bin" user add alice@home.arpa --password-stdin >/dev/null

serve() { # log file
  "$bin" serve --smtp off --submissions off --imap off --imaps off --pop3 off --pop3s off --http off --https off --metrics off \
    --submission "127.0.0.1:$sub_port" --route "bench.test=127.0.0.1:$sink_port" \
    --retry-base 4h --dns-server 127.0.0.1:9 2>"$1" &
  server=$!
  for _ in $(seq 100); do grep -q "submission: listening" "$1" && return; sleep 0.1; done
  echo "smolmail did not start:" >&2; cat "$1" >&2; exit 1
}

queued() { "$bin" queue list | awk '/Requests?\.$/ { print $(NF-1); found=1 } END { if (!found) print 0 }'; }

echo "queueing $N messages of $SIZE bytes (sink down, so each is deferred)..."
serve "$work/fill.log"
smtp-source -s 10 -l "$SIZE" -m "$N" -f alice@home.arpa -t someone@bench.test "127.0.0.1:$sub_port"
for _ in $(seq 600); do
  [ "$(grep -c 'status=deferred' "$work/fill.log")" -ge "$N" ] && break
  sleep 0.1
done
kill "$server"; wait "$server" 2>/dev/null || true
[ "$(queued)" -eq "$N" ] || { echo "expected $N queued, found $(queued)" >&2; exit 1; }

sink_user=()
if [ "$(id -u)" -eq 0 ]; then sink_user=(-u postfix); fi
smtp-sink "${sink_user[@]}" "127.0.0.1:$sink_port" 256 &
sink=$!
disown "$sink" # no job-control notice when it is killed
sleep 0.3
"$bin" queue flush >/dev/null

echo "delivering..."
serve "$work/send.log"
before=$(awk '/^VmRSS/ { print $2 }' "/proc/$server/status")
for _ in $(seq 3000); do
  [ "$(grep -c 'delivery: .*: removed' "$work/send.log")" -ge "$N" ] && break
  sleep 0.05
done
hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$server/status")
after=$(awk '/^VmRSS/ { print $2 }' "/proc/$server/status")
kill "$server"; wait "$server" 2>/dev/null || true
server=

sent=$(grep -c 'status=sent' "$work/send.log")
connections=$(grep -c 'delivery: connected to' "$work/send.log")
# env_logger stamps: [2026-11-23T05:18:40.123Z ...
stamp() { sed -E 's/^\[[0-9-]+T([0-9]+):([0-9]+):([0-9.]+)Z.*/\1 \2 \3/' | awk '{ print $1*3600 + $2*60 + $3 }'; }
first=$(grep -m1 'delivery: connected to' "$work/send.log" | stamp)
last=$(grep 'delivery: .*: removed' "$work/send.log" | tail -1 | stamp)
awk -v n="$sent" -v a="$first" -v b="$last" -v c="$connections" -v s="$before" -v e="$after" -v h="$hwm" -v size="$SIZE" 'BEGIN {
  t = b - a; if (t <= 0) t = 0.001
  printf "delivered %d messages of %d bytes in %.3f s: %.0f deliveries/s over %d connection(s)\n", n, size, t, n / t, c
  printf "server RSS: %.1f MiB at start, %.1f MiB after, %.1f MiB peak (VmHWM)\n", s / 1024, e / 1024, h / 1024
}'
[ "$sent" -eq "$N" ] || { echo "FAIL: only $sent of $N delivered" >&2; exit 1; }
[ "$("$bin" queue list)" = "Mail queue is empty" ] || { echo "FAIL: queue not empty" >&2; exit 1; }
