#!/usr/bin/env bash
# IMAP benchmark (not a test: it prints figures and asserts nothing).
#
# 1. Memory: smolmail's VmRSS after start with one user, then with HOLD
#    (1000) idle TLS connections open on the imaps port, greeted, and then
#    again logged in, and the cost per connection.
# 2. Throughput: examples/imap_load.rs runs CLIENTS (10) clients for
#    DURATION (30 s) against smolmail and then, in the same run, against
#    Debian's Dovecot on loopback (dovecot-imapd, passwd-file, Maildir, no
#    TLS, its other settings Debian's defaults): sessions of LOGIN, SELECT,
#    UID FETCH 1:* FLAGS, then OPS (100) commands drawn from FETCH of
#    flags/envelopes/bodies, STORE, APPEND, STORE \Deleted + UID EXPUNGE,
#    SEARCH and NOOP, then LOGOUT, for USERS (10) users with MESSAGES (200)
#    messages each. Both servers verify the same argon2id hash (smolmail's
#    parameters) and get the same messages and the same command sequence.
#    Prints commands/s for each and the ratio. Then the same for
#    LONG_SECONDS (15 s; 0 skips) with one login per client, so that the
#    IMAP work is compared without argon2id's cost in every session.
#    Then the session mix once more with COMPRESS=DEFLATE (RFC 4978) after
#    each login, COMPRESS_SECONDS (15 s; 0 skips), Dovecot with its
#    imap_zlib plugin; and, in part 1, HOLD idle connections that also
#    turned COMPRESS on (memory per idle compressed connection).
#    A LOGIN answered NO [UNAVAILABLE] (smolmail's auth queue refuses
#    logins past 8 waiting per address, as populate's first ones are) is
#    sent again after a short backoff, as a real client would, against
#    both servers alike; every result line says how many retries there were.
# 3. A first sync and IDLE (the figures the tests print but do not judge):
#    mbsync (isync) pulls SYNC_COUNT (5000) messages in its first sync,
#    pipelining one UID FETCH per message; then how soon an IMAP session in
#    IDLE hears of an SMTP delivery, over IDLE_ROUNDS (20) deliveries.
#    SYNC_COUNT=0 skips it.
# 4. Large mailbox under emulation: the static aarch64 build under
#    qemu-aarch64-static, BIG (50000) small messages APPENDed over 8
#    connections, then SELECT, FETCH 1:* (FLAGS) and a few SEARCHes timed.
#    QEMU=0 skips it.
#
# Everything listens on 127.0.0.1 in a temporary directory, removed at the
# end (KEEP_TMP=1 keeps it).
#
#   scripts/bench-imap.sh
#   DURATION=10 QEMU=0 scripts/bench-imap.sh     # a quick look
set -euo pipefail
cd "$(dirname "$0")/.."

CLIENTS=${CLIENTS:-10}
RUN_SECONDS=${DURATION:-30}
OPS=${OPS:-100}
USERS=${USERS:-10}
MESSAGES=${MESSAGES:-200}
HOLD=${HOLD:-1000}
BIG=${BIG:-50000}
QEMU=${QEMU:-1}
LONG_SECONDS=${LONG_SECONDS:-15}
SYNC_COUNT=${SYNC_COUNT:-5000}
COMPRESS_SECONDS=${COMPRESS_SECONDS:-15}
IDLE_ROUNDS=${IDLE_ROUNDS:-20}
PASSWORD=bench-password

cargo build --release --locked --quiet --bin smolmail --example imap_load
bin=$PWD/target/release/smolmail
load=$PWD/target/release/examples/imap_load
# shellcheck source=scripts/bench-lib.sh
. "$(dirname "$0")/bench-lib.sh"
bench_tmp bench-imap
# 1000 connections need 1000 descriptors on each side.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

rss_kib() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
# VmRSS split into anonymous memory and mapped files (the binary, libc, the
# LMDB map), in KiB.
rss_parts() { awk '/^Rss(Anon|File|Shmem)/ { printf "%s%s %s", sep, $1, $2; sep = ", " }' "/proc/$1/status"; }
users_list() { seq -s, -f "bench%g@home.arpa" "$USERS"; }

# serve DATA_DIR LOG [RUNNER...]: starts smolmail with IMAP, IMAPS and SMTP
# on free ports of 127.0.0.1; sets $server, $imap_port, $imaps_port,
# $smtp_port.
# IMAP draws from the users' share, seven eighths of --max-connections
# (src/server/limits.rs), so the total is set for HOLD + 100 to fit in it.
# serve_args: more flags for the next serve.
serve_args=()
serve() {
  local data=$1 log=$2
  shift 2
  imap_port=$(free_port)
  imaps_port=$(free_port)
  smtp_port=$(free_port)
  SMOLMAIL_DATA=$data "$@" serve --hostname mail.home.arpa --log-level warn \
    --smtp "127.0.0.1:$smtp_port" --submission off --submissions off \
    --imap "127.0.0.1:$imap_port" --imaps "127.0.0.1:$imaps_port" --pop3 off --pop3s off --http off --https off --metrics off \
    --max-connections $(((HOLD + 100) * 8 / 7 + 1)) --max-connections-per-ip $((HOLD + 100)) \
    "${serve_args[@]}" 2>>"$log" &
  server=$!
  pids+=("$server")
  wait_port "$imaps_port" smolmail "$log"
}
stop() { kill "$1"; wait "$1" 2>/dev/null || true; }

echo "== smolmail $("$bin" version | head -1), release build, $(nproc) cores"

# --- 1. memory ----------------------------------------------------------------
# The user's hash is {SSHA256}, a cheap scheme smolmail keeps on import, so
# that logging 1000 sessions in measures sessions, not argon2id's 19 MiB
# work area (which glibc's malloc keeps once freed; see the report).
mem=$tmp/mem
mkdir -p "$mem"
ssha=$(python3 -c 'import base64, hashlib, os, sys; salt = os.urandom(8)
print("{SSHA256}" + base64.b64encode(hashlib.sha256(sys.argv[1].encode() + salt).digest() + salt).decode())' "$PASSWORD")
echo "bench1@home.arpa:$ssha:::" >"$tmp/mem.users"
SMOLMAIL_DATA=$mem "$bin" user import-passwd "$tmp/mem.users" >/dev/null
# Each compressed connection takes ~440 KiB of the memory budget (its
# deflate state; src/imap/compress.rs), so the default budget (50 MiB)
# admits ~110: it is raised here so that HOLD of them fit. The budget is a
# count, not memory set aside, so the other figures are not changed by it.
serve_args=(--memory-budget "$((HOLD / 2 + 64))M")
serve "$mem" "$tmp/mem.log" "$bin"
serve_args=()
sleep 1
idle=$(rss_kib "$server")
echo "smolmail: idle, one user: VmRSS $idle KiB ($(awk -v k="$idle" 'BEGIN { printf "%.2f", k / 1024 }') MiB; target <= 4 MiB): $(rss_parts "$server")"

# hold_open WHAT [ARGS...]: HOLD TLS connections held open while VmRSS is read.
hold_open() {
  local what=$1 fifo=$tmp/hold.fifo holder
  shift
  rm -f "$fifo" "$tmp/hold.out"
  mkfifo "$fifo"
  "$load" hold --addr "127.0.0.1:$imaps_port" --connections "$HOLD" --tls "$@" <"$fifo" >"$tmp/hold.out" &
  holder=$!
  pids+=("$holder")
  exec 3>"$fifo" # the holder runs until this closes
  for _ in $(seq 1200); do
    grep -q "connections open" "$tmp/hold.out" 2>/dev/null && break
    if ! kill -0 "$holder" 2>/dev/null; then echo "bench-imap: hold failed" >&2; exit 1; fi
    sleep 0.1
  done
  sed 's/^/smolmail: /' "$tmp/hold.out"
  sleep 1
  local held
  held=$(rss_kib "$server")
  awk -v i="$idle" -v h="$held" -v n="$HOLD" -v w="$what" 'BEGIN {
    printf "smolmail: %d idle TLS connections (%s): VmRSS %d KiB, %.1f KiB per connection%s\n", n, w, h, (h - i) / n,
      (w ~ /COMPRESS/) ? " (README: ~350 KiB of deflate state)" : " (target <= 48)" }'
  echo "smolmail:   $(rss_parts "$server")"
  exec 3>&-
  wait "$holder" || true
  sleep 1
}
hold_open "greeted"
hold_open "logged in" --login "bench1@home.arpa:$PASSWORD"
if [ "$COMPRESS_SECONDS" -gt 0 ]; then
  hold_open "logged in, COMPRESS=DEFLATE" --login "bench1@home.arpa:$PASSWORD" --compress
fi
echo "smolmail: after closing them: VmRSS $(rss_kib "$server") KiB: $(rss_parts "$server")"
stop "$server"

# --- 2. throughput --------------------------------------------------------------
hash=$("$load" hash --password "$PASSWORD")
if [ "$(id -u)" -eq 0 ]; then mail_user=nobody; else mail_user=$(id -un); fi
uid=$(id -u "$mail_user")
gid=$(id -g "$mail_user")
d=$tmp/dovecot
mkdir -p "$d/run" "$d/state" "$d/home"
for i in $(seq "$USERS"); do
  echo "bench$i@home.arpa:$hash:$uid:$gid::$d/home/bench$i::"
done >"$d/users"
chmod 644 "$d/users"
chown -R "$uid:$gid" "$d/home"

mix_data=$tmp/smolmail
mkdir -p "$mix_data"
SMOLMAIL_DATA=$mix_data "$bin" user import-passwd "$d/users" >/dev/null
serve "$mix_data" "$tmp/smolmail.log" "$bin"
echo
echo "== throughput: $CLIENTS clients, $RUN_SECONDS s, sessions of $OPS commands, $USERS users x $MESSAGES messages"
"$load" populate --addr "127.0.0.1:$imap_port" --users "$(users_list)" --password "$PASSWORD" \
  --count "$MESSAGES" --connections 2 | sed 's/^/smolmail: /'
"$load" mix --addr "127.0.0.1:$imap_port" --users "$(users_list)" --password "$PASSWORD" \
  --clients "$CLIENTS" --seconds "$RUN_SECONDS" --ops-per-session "$OPS" --label smolmail |
  tee "$tmp/smolmail.mix"
if [ "$LONG_SECONDS" -gt 0 ]; then
  "$load" mix --addr "127.0.0.1:$imap_port" --users "$(users_list)" --password "$PASSWORD" \
    --clients "$CLIENTS" --seconds "$LONG_SECONDS" --ops-per-session 1000000000 --label smolmail-long |
    tee "$tmp/smolmail.long"
fi
if [ "$COMPRESS_SECONDS" -gt 0 ]; then
  "$load" mix --addr "127.0.0.1:$imap_port" --users "$(users_list)" --password "$PASSWORD" \
    --clients "$CLIENTS" --seconds "$COMPRESS_SECONDS" --ops-per-session "$OPS" --compress \
    --label smolmail-compress | tee "$tmp/smolmail.compress"
fi
echo "smolmail: VmRSS after the run $(rss_kib "$server") KiB, VmHWM $(awk '/^VmHWM/ { print $2 }' "/proc/$server/status") KiB"
stop "$server"

dovecot_ops=""
if command -v dovecot >/dev/null && [ -e /usr/lib/dovecot/imap ]; then
  if [ "$(id -u)" -eq 0 ]; then
    internal="default_internal_user = dovecot
default_login_user = dovenull"
  else
    internal="default_internal_user = $mail_user
default_login_user = $mail_user"
  fi
  dport=$(free_port)
  cat >"$d/dovecot.conf" <<EOF
base_dir = $d/run
state_dir = $d/state
instance_name = smolmail-bench-imap
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
# COMPRESS=DEFLATE for the compressed run (dovecot-imapd ships the plugin)
protocol imap {
  mail_plugins = \$mail_plugins imap_zlib
}
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
  dovecot_pid=$!
  pids+=("$dovecot_pid")
  wait_port "$dport" dovecot "$d/dovecot.log"
  echo "== Dovecot $(dovecot --version | cut -d' ' -f1), same load"
  "$load" populate --addr "127.0.0.1:$dport" --users "$(users_list)" --password "$PASSWORD" \
    --count "$MESSAGES" --connections 2 | sed 's/^/dovecot: /'
  "$load" mix --addr "127.0.0.1:$dport" --users "$(users_list)" --password "$PASSWORD" \
    --clients "$CLIENTS" --seconds "$RUN_SECONDS" --ops-per-session "$OPS" --label dovecot |
    tee "$tmp/dovecot.mix"
  if [ "$LONG_SECONDS" -gt 0 ]; then
    "$load" mix --addr "127.0.0.1:$dport" --users "$(users_list)" --password "$PASSWORD" \
      --clients "$CLIENTS" --seconds "$LONG_SECONDS" --ops-per-session 1000000000 --label dovecot-long |
      tee "$tmp/dovecot.long"
  fi
  if [ "$COMPRESS_SECONDS" -gt 0 ]; then
    "$load" mix --addr "127.0.0.1:$dport" --users "$(users_list)" --password "$PASSWORD" \
      --clients "$CLIENTS" --seconds "$COMPRESS_SECONDS" --ops-per-session "$OPS" --compress \
      --label dovecot-compress | tee "$tmp/dovecot.compress"
  fi
  stop "$dovecot_pid"
  dovecot_ops=$(sed -n 's/.* = \([0-9]*\) ops\/s.*/\1/p' "$tmp/dovecot.mix")
else
  echo "== Dovecot IMAP not installed (scripts/setup.sh installs dovecot-imapd); skipped"
fi
ops_of() { sed -n 's/.* = \([0-9]*\) ops\/s.*/\1/p' "$1" 2>/dev/null; }
smolmail_ops=$(ops_of "$tmp/smolmail.mix")
echo
echo "== summary"
echo "smolmail: $smolmail_ops commands/s"
if [ -n "$dovecot_ops" ]; then
  echo "dovecot:  $dovecot_ops commands/s"
  awk -v s="$smolmail_ops" -v d="$dovecot_ops" 'BEGIN { printf "ratio smolmail/dovecot: %.2fx (target >= 1.5x)\n", s / d }'
fi
if [ "$LONG_SECONDS" -gt 0 ]; then
  long_s=$(ops_of "$tmp/smolmail.long")
  long_d=$(ops_of "$tmp/dovecot.long")
  echo "one login per client ($LONG_SECONDS s): smolmail $long_s commands/s${long_d:+, dovecot $long_d commands/s}"
  if [ -n "$long_d" ]; then
    awk -v s="$long_s" -v d="$long_d" 'BEGIN { printf "ratio smolmail/dovecot, one login per client: %.2fx\n", s / d }'
  fi
fi
if [ "$COMPRESS_SECONDS" -gt 0 ]; then
  comp_s=$(ops_of "$tmp/smolmail.compress")
  comp_d=$(ops_of "$tmp/dovecot.compress")
  echo "COMPRESS=DEFLATE ($COMPRESS_SECONDS s): smolmail $comp_s commands/s${comp_d:+, dovecot $comp_d commands/s}"
  if [ -n "$comp_d" ]; then
    awk -v s="$comp_s" -v d="$comp_d" 'BEGIN { printf "ratio smolmail/dovecot with COMPRESS: %.2fx\n", s / d }'
  fi
fi

# --- 3. a first sync with mbsync, and IDLE ----------------------------------------
# tests/imap_clients.rs checks that all of a 5000-message first sync arrives
# and that IDLE is woken by a delivery; how fast is measured here. (The
# server once paced every session to 200 commands a second after a burst
# of 800, which made this first sync take at least 21 s.)
if [ "$SYNC_COUNT" -gt 0 ]; then
  echo
  echo "== a first sync of $SYNC_COUNT messages with mbsync, and IDLE wake-up"
  sync_data=$tmp/sync
  mkdir -p "$sync_data" "$tmp/mbsync/Mail"
  echo "bench1@home.arpa:$hash:::" >"$tmp/sync.users"
  SMOLMAIL_DATA=$sync_data "$bin" user import-passwd "$tmp/sync.users" >/dev/null
  serve "$sync_data" "$tmp/sync.log" "$bin"
  "$load" populate --addr "127.0.0.1:$imap_port" --users bench1@home.arpa --password "$PASSWORD" \
    --count "$SYNC_COUNT" --connections 4 | sed 's/^/smolmail: /'
  if command -v mbsync >/dev/null; then
    printf '%s\n' "FSync no" "" \
      "IMAPAccount smol" "Host 127.0.0.1" "Port $imap_port" "User bench1@home.arpa" \
      "Pass $PASSWORD" "SSLType None" "AuthMechs LOGIN" "" \
      "IMAPStore remote" "Account smol" "" \
      "MaildirStore local" "Path $tmp/mbsync/Mail/" "Inbox $tmp/mbsync/Mail/INBOX" "" \
      "Channel mail" "Far :remote:" "Near :local:" "Patterns INBOX" "Create Both" \
      "SyncState *" >"$tmp/mbsync/rc"
    start=$(date +%s.%N)
    HOME=$tmp/mbsync mbsync -q -c "$tmp/mbsync/rc" -a
    end=$(date +%s.%N)
    got=$(find "$tmp/mbsync/Mail/INBOX/cur" "$tmp/mbsync/Mail/INBOX/new" -type f | wc -l)
    awk -v s="$start" -v e="$end" -v n="$got" -v want="$SYNC_COUNT" 'BEGIN {
      printf "mbsync: first sync of %d messages (%d arrived) in %.2f s, %.0f messages/s\n", want, n, e - s, n / (e - s) }'
  else
    echo "mbsync not installed (scripts/setup.sh installs isync); skipped"
  fi
  python3 - "$imap_port" "$smtp_port" bench1@home.arpa "$PASSWORD" "$IDLE_ROUNDS" <<'PY'
import imaplib, re, smtplib, statistics, sys, time
imap, smtp, user, password = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
rounds = int(sys.argv[5])
M = imaplib.IMAP4("127.0.0.1", imap)
M.login(user, password)
M.select("INBOX")
woke, accepted = [], []
for i in range(rounds):
    tag = M._new_tag()
    M.send(tag + b" IDLE\r\n")
    assert M.readline().startswith(b"+")
    start = time.monotonic()
    with smtplib.SMTP("127.0.0.1", smtp) as s:
        s.sendmail("bench@example.org", [user], f"Subject: idle {i}\r\n\r\nwake up\r\n")
        accepted.append(time.monotonic() - start)
    while not re.match(rb"\* \d+ EXISTS", M.readline()):
        pass
    woke.append(time.monotonic() - start)
    M.send(b"DONE\r\n")
    while not M.readline().startswith(tag):
        pass
M.logout()
med = statistics.median
print(f"IDLE: {rounds} SMTP deliveries: EXISTS {med(woke) * 1000:.1f} ms after the SMTP "
      f"session began (median; worst {max(woke) * 1000:.1f} ms), its 250 after "
      f"{med(accepted) * 1000:.1f} ms (median)")
PY
  stop "$server"
fi

# --- 4. a large mailbox under qemu-user ------------------------------------------
if [ "$QEMU" = 0 ]; then exit 0; fi
echo
echo "== $BIG messages, aarch64 build under qemu-aarch64-static"
cargo build --release --locked --quiet --target aarch64-unknown-linux-musl --bin smolmail
arm=$PWD/target/aarch64-unknown-linux-musl/release/smolmail
big=$tmp/big
mkdir -p "$big"
echo "bench1@home.arpa:$hash:::" >"$tmp/big.users"
SMOLMAIL_DATA=$big qemu-aarch64-static "$arm" user import-passwd "$tmp/big.users" >/dev/null
serve "$big" "$tmp/big.log" qemu-aarch64-static "$arm"
"$load" populate --addr "127.0.0.1:$imap_port" --users bench1@home.arpa --password "$PASSWORD" \
  --count "$BIG" --connections 8 | sed 's/^/qemu: /'
"$load" time --addr "127.0.0.1:$imap_port" --user bench1@home.arpa --password "$PASSWORD" \
  --command "FETCH 1:* (FLAGS)" \
  --command "UID FETCH 1:* (FLAGS)" \
  --command "SEARCH UNSEEN" \
  --command "SEARCH FLAGGED" \
  --command "SEARCH SUBJECT needle" \
  --command "SEARCH FROM friend7" \
  --command "SEARCH BODY weekend" | sed 's/^time: /qemu: /'
stop "$server"
