#!/usr/bin/env bash
# SORT and THREAD benchmark (not a test: it prints figures and asserts
# nothing). scripts/bench-sort.py APPENDs MESSAGES (50000) messages in
# threads linked by References to one user, then times SORT (ARRIVAL,
# DATE, SUBJECT, FROM, SIZE) and THREAD REFERENCES (first run and best of
# three) and the worst NOOP latency another session saw meanwhile, for
# smolmail (native release build; with QEMU=1 also the static aarch64
# build under qemu-aarch64-static) and for Debian's Dovecot on loopback
# (dovecot-imapd, passwd-file, Maildir, no TLS), and the ratio.
# The issue's targets (aarch64 under qemu-user): SORT < 0.5 s, THREAD
# < 1 s, other sessions answered within 0.1 s.
#
# STORE=DIR times a copy of an already populated data directory (user
# bench1@home.arpa, password bench-password) instead of populating one,
# and skips Dovecot (which would need populating); the copy is made
# afresh for each server, so DIR itself is never changed.
#
#   scripts/bench-sort.sh
#   MESSAGES=10000 QEMU=1 scripts/bench-sort.sh
#   STORE=/work/sortbench-50k QEMU=1 scripts/bench-sort.sh
set -euo pipefail
cd "$(dirname "$0")/.."

MESSAGES=${MESSAGES:-50000}
QEMU=${QEMU:-0}
STORE=${STORE:-}
if [ -n "$STORE" ] && [ ! -d "$STORE" ]; then
  echo "bench-sort: STORE=$STORE is not a directory" >&2
  exit 1
fi
PASSWORD=bench-password
USER_NAME=bench1@home.arpa

cargo build --release --locked --quiet --bin smolmail
bin=$PWD/target/release/smolmail
tmp=$(mktemp -d /tmp/smolmail-bench-sort.XXXXXX)
chmod 755 "$tmp" # Dovecot's processes read the users file and mail in it
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ -z "${KEEP_TMP:-}" ]; then rm -rf "$tmp"; else echo "kept $tmp"; fi
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { # port what logfile
  for _ in $(seq 600); do
    if python3 -c "import socket; socket.create_connection(('127.0.0.1', $1))" 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "bench-sort: $2 did not start:" >&2; cat "$3" >&2; exit 1
}
stop() { kill "$1"; wait "$1" 2>/dev/null || true; }
bench() { python3 scripts/bench-sort.py "$@"; }

# A cheap password scheme both servers read, so logins cost nothing here.
ssha=$(python3 -c 'import base64, hashlib, os, sys; salt = os.urandom(8)
print("{SSHA256}" + base64.b64encode(hashlib.sha256(sys.argv[1].encode() + salt).digest() + salt).decode())' "$PASSWORD")

# smolmail DATA LABEL RUNNER...: populate (or copy STORE), then time.
smolmail() {
  local data=$1 label=$2 port
  shift 2
  if [ -n "$STORE" ]; then
    cp -a "$STORE" "$data"
  else
    mkdir -p "$data"
    echo "$USER_NAME:$ssha:::" >"$tmp/users.smolmail"
    SMOLMAIL_DATA=$data "$@" user import-passwd "$tmp/users.smolmail" >/dev/null
  fi
  port=$(free_port)
  SMOLMAIL_DATA=$data "$@" serve --hostname mail.home.arpa --log-level warn \
    --smtp off --submission off --submissions off --imap "127.0.0.1:$port" --imaps off \
    --pop3 off --pop3s off --http off --https off --metrics off 2>>"$tmp/$label.log" &
  local server=$!
  pids+=("$server")
  wait_port "$port" smolmail "$tmp/$label.log"
  if [ -z "$STORE" ]; then
    bench populate "$port" "$USER_NAME" "$PASSWORD" "$MESSAGES" | sed "s/^/$label: /"
  fi
  bench time "$port" "$USER_NAME" "$PASSWORD" "$label" | tee "$tmp/$label.times"
  stop "$server"
}

if [ -n "$STORE" ]; then
  echo "== a copy of $STORE, $(nproc) cores"
else
  echo "== $MESSAGES messages, $(nproc) cores"
fi
smolmail "$tmp/native" smolmail "$bin"

if [ "$QEMU" != 0 ]; then
  cargo build --release --locked --quiet --target aarch64-unknown-linux-musl --bin smolmail
  smolmail "$tmp/qemu" qemu qemu-aarch64-static "$PWD/target/aarch64-unknown-linux-musl/release/smolmail"
fi

if [ -n "$STORE" ]; then
  echo "== Dovecot skipped with STORE (it would need populating)"
elif command -v dovecot >/dev/null && [ -e /usr/lib/dovecot/imap ]; then
  if [ "$(id -u)" -eq 0 ]; then
    mail_user=nobody
    internal="default_internal_user = dovecot
default_login_user = dovenull"
  else
    mail_user=$(id -un)
    internal="default_internal_user = $mail_user
default_login_user = $mail_user"
  fi
  d=$tmp/dovecot
  mkdir -p "$d/run" "$d/state" "$d/home"
  echo "$USER_NAME:$ssha:$(id -u "$mail_user"):$(id -g "$mail_user")::$d/home/bench1::" >"$d/users"
  chmod 644 "$d/users"
  chown -R "$(id -u "$mail_user"):$(id -g "$mail_user")" "$d/home"
  dport=$(free_port)
  cat >"$d/dovecot.conf" <<CONF
base_dir = $d/run
state_dir = $d/state
instance_name = smolmail-bench-sort
log_path = $d/dovecot.log
protocols = imap
listen = 127.0.0.1
$internal
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
passdb {
  driver = passwd-file
  args = $d/users
}
userdb {
  driver = passwd-file
  args = $d/users
}
mail_location = maildir:~/Maildir
first_valid_uid = 1
service imap-login {
  inet_listener imap {
    port = $dport
  }
  inet_listener imaps {
    port = 0
  }
}
service anvil {
  chroot =
}
CONF
  dovecot -F -c "$d/dovecot.conf" &
  dovecot_pid=$!
  pids+=("$dovecot_pid")
  wait_port "$dport" dovecot "$d/dovecot.log"
  echo "== Dovecot $(dovecot --version | cut -d' ' -f1)"
  bench populate "$dport" "$USER_NAME" "$PASSWORD" "$MESSAGES" | sed 's/^/dovecot: /'
  bench time "$dport" "$USER_NAME" "$PASSWORD" dovecot | tee "$tmp/dovecot.times"
  stop "$dovecot_pid"
  echo "== ratio dovecot/smolmail time (best of 3; above 1 means smolmail is faster)"
  python3 - "$tmp/smolmail.times" "$tmp/dovecot.times" <<'PY'
import re, sys
def read(path):
    out = {}
    for line in open(path):
        m = re.match(r"\w+: (.*?)\s+first ([\d.]+) s, best ([\d.]+) s", line)
        if m:
            out[m.group(1)] = float(m.group(3))
    return out
s, d = read(sys.argv[1]), read(sys.argv[2])
for cmd in s:
    if cmd in d and s[cmd] > 0:
        print("%-30s smolmail %.3f s, dovecot %.3f s, ratio %.2fx" % (cmd, s[cmd], d[cmd], d[cmd] / s[cmd]))
PY
else
  echo "== Dovecot IMAP not installed (scripts/setup.sh installs dovecot-imapd); skipped"
fi
