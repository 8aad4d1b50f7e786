#!/usr/bin/env bash
# Login benchmark (not a test: it prints figures and asserts nothing).
#
# What the login cache (--auth-cache-ttl) buys: one client logs in over
# IMAP N (200) times in a row (connect, greeting, LOGIN, LOGOUT), against
# the release build with the cache on (its default, 1h) and off (0), and
# prints the median login time and logins/s of each and the ratio. Then the
# same against Debian's Dovecot on loopback (dovecot-imapd, passwd-file)
# with its auth_cache on (auth_cache_size = 1M, auth_cache_ttl = 1 hour)
# and off (its default), when Dovecot is installed (DOVECOT=0 skips it).
# Dovecot's cache keeps the passdb's answer, the stored hash, and still
# checks the password against it (passdb_cache_verify_plain): it saves the
# lookup, not the hash, so with argon2id it gains next to nothing.
#
# Every server verifies the same hash: `doveadm pw -s ARGON2ID`, Dovecot's
# defaults (m=64 MiB, t=3), which smolmail keeps on import. Without
# doveadm, smolmail alone runs with its own argon2id (m=19 MiB, t=2) from
# `user add`, and the figures say so.
#
# Everything listens on 127.0.0.1 in a temporary directory, removed at the
# end (KEEP_TMP=1 keeps it).
#
#   scripts/bench-login.sh
#   N=50 DOVECOT=0 scripts/bench-login.sh     # a quick look
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-200}
DOVECOT=${DOVECOT:-1}
PASSWORD=bench-password
USER_ADDR=bench1@home.arpa

cargo build --release --locked --quiet --bin smolmail
bin=$PWD/target/release/smolmail
# shellcheck source=scripts/bench-lib.sh
. "$(dirname "$0")/bench-lib.sh"
bench_tmp bench-login

stop() { kill "$1"; wait "$1" 2>/dev/null || true; }

# logins PORT LABEL: N sequential IMAP logins; prints "LABEL: median X ms,
# Y logins/s" and leaves the median (ms) in $median.
logins() {
  local out
  out=$(python3 - "$1" "$N" "$USER_ADDR" "$PASSWORD" <<'PY'
import socket, statistics, sys, time
port, n, user, password = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]

def until(f, prefix):
    while True:
        line = f.readline()
        if not line:
            sys.exit("connection closed")
        if line.startswith(prefix):
            return line

times = []
for _ in range(n):
    t0 = time.perf_counter()
    s = socket.create_connection(("127.0.0.1", port))
    f = s.makefile("rb")
    until(f, b"* OK")
    s.sendall(b"a LOGIN " + user.encode() + b" " + password.encode() + b"\r\n")
    line = until(f, b"a ")
    if not line.startswith(b"a OK"):
        sys.exit("login failed: %r" % line)
    times.append(time.perf_counter() - t0)
    s.sendall(b"b LOGOUT\r\n")
    until(f, b"b ")
    s.close()
med = statistics.median(times) * 1000
print("%.2f %.0f" % (med, 1000 / med))
PY
  )
  median=${out% *}
  echo "$2: median $median ms per login, ${out#* } logins/s ($N logins)"
}

# serve_smolmail DATA LOG [ARGS...]: IMAP on a free port; sets $server, $port.
serve_smolmail() {
  local data=$1 log=$2
  shift 2
  port=$(free_port)
  SMOLMAIL_DATA=$data "$bin" serve --hostname mail.home.arpa --log-level warn \
    --smtp off --submission off --submissions off --imaps off --pop3 off --pop3s off --http off --https off --metrics off \
    --imap "127.0.0.1:$port" "$@" 2>>"$log" &
  server=$!
  pids+=("$server")
  wait_port "$port" smolmail "$log"
}

ratio() { awk -v off="$1" -v on="$2" 'BEGIN { printf "%.1f", off / on }'; }

if command -v doveadm >/dev/null; then
  hash=$(doveadm pw -s ARGON2ID -p "$PASSWORD")
  hash_note="Dovecot's default ARGON2ID (m=64 MiB, t=3), on every server"
else
  hash=""
  hash_note="smolmail's own argon2id (m=19 MiB, t=2); no doveadm"
fi
data=$tmp/smolmail
mkdir -p "$data"
if [ -n "$hash" ]; then
  echo "$USER_ADDR:$hash:::" >"$tmp/smolmail.users"
  SMOLMAIL_DATA=$data "$bin" user import-passwd "$tmp/smolmail.users" >/dev/null
else
  echo "$PASSWORD" | SMOLMAIL_DATA=$data "$bin" user add "$USER_ADDR" --password-stdin >/dev/null
fi

echo "== smolmail $("$bin" version | head -1), release build, $(nproc) cores; hash: $hash_note"
serve_smolmail "$data" "$tmp/on.log"
logins "$port" "smolmail, cache on (1h)"
on=$median
stop "$server"
serve_smolmail "$data" "$tmp/off.log" --auth-cache-ttl 0
logins "$port" "smolmail, cache off"
off=$median
stop "$server"
echo "smolmail: the cache makes a repeated login $(ratio "$off" "$on")x faster"

if [ "$DOVECOT" = 1 ] && [ -n "$hash" ] && command -v dovecot >/dev/null && [ -e /usr/lib/dovecot/imap ]; then
  if [ "$(id -u)" -eq 0 ]; then mail_user=nobody; else mail_user=$(id -un); fi
  uid=$(id -u "$mail_user")
  gid=$(id -g "$mail_user")
  if [ "$(id -u)" -eq 0 ]; then
    internal="default_internal_user = dovecot
default_login_user = dovenull"
  else
    internal="default_internal_user = $mail_user
default_login_user = $mail_user"
  fi
  d=$tmp/dovecot
  mkdir -p "$d/run" "$d/state" "$d/home"
  echo "$USER_ADDR:$hash:$uid:$gid::$d/home/bench1::" >"$d/users"
  chmod 644 "$d/users"
  chown -R "$uid:$gid" "$d/home"
  # dovecot_run CACHE_SETTINGS LABEL
  dovecot_run() {
    local dport
    dport=$(free_port)
    cat >"$d/dovecot.conf" <<EOF
base_dir = $d/run
state_dir = $d/state
instance_name = smolmail-bench-login
log_path = $d/dovecot.log
protocols = imap
listen = 127.0.0.1
$internal
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
$1
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
EOF
    dovecot -F -c "$d/dovecot.conf" &
    local pid=$!
    pids+=("$pid")
    wait_port "$dport" dovecot "$d/dovecot.log"
    logins "$dport" "$2"
    stop "$pid"
  }
  echo "== Dovecot $(dovecot --version | cut -d' ' -f1), same user and hash"
  dovecot_run "auth_cache_size = 1M
auth_cache_ttl = 1 hour" "dovecot, auth_cache on (1 hour)"
  don=$median
  dovecot_run "" "dovecot, auth_cache off"
  doff=$median
  echo "dovecot: its cache makes a repeated login $(ratio "$doff" "$don")x faster"
  echo "smolmail vs Dovecot, per login: cache on $(ratio "$don" "$on")x, cache off $(ratio "$doff" "$off")x (above 1: smolmail faster)"
fi
