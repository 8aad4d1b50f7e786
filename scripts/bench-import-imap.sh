#!/usr/bin/env bash
# `smolmail import imap` benchmark (not a test: it prints figures and
# asserts nothing): the rate of a whole-account copy from Debian's Dovecot
# on loopback, and the importer's peak memory.
#
# 1. A Maildir of COUNT (50000) messages of mixed size is written straight
#    into Dovecot's home (faster than APPENDing them): 70% of 1-8 KB, 25%
#    of 8-64 KB, 5% of 64-256 KB, in INBOX (60%), a \Sent folder (20%) and
#    Archive.2023 (20%), with flags and a keyword in the file names and
#    dates as mtimes. Dovecot (TLS with a self-signed certificate) then
#    indexes it once through IMAP, timed apart, so the import below meets
#    a warm server as a migration from a live one would.
# 2. `smolmail import imap` (release build) copies the account into a
#    fresh data directory under /usr/bin/time -v: messages/s and MB/s
#    (from the summary line), peak RSS and peak anonymous RSS.
# 3. The same import again: nothing is fetched again; how long finding
#    that out takes.
#
# Everything is under a temporary directory, removed at the end
# (KEEP_TMP=1 keeps it).
#
#   scripts/bench-import-imap.sh
#   COUNT=10000 scripts/bench-import-imap.sh    # a quick look
set -euo pipefail
cd "$(dirname "$0")/.."

COUNT=${COUNT:-50000}
USER_NAME=bob@remote.test
PASSWORD=bench-password
LOCAL=you@home.arpa

for tool in dovecot openssl python3 /usr/bin/time; do
  command -v "$tool" >/dev/null || {
    echo "$tool is missing (scripts/setup.sh installs dovecot-imapd, openssl, python3 and time)" >&2
    exit 1
  }
done
[ -e /usr/lib/dovecot/imap ] || {
  echo "/usr/lib/dovecot/imap is missing: Debian's dovecot-imapd has it" >&2
  exit 1
}

cargo build --release --locked --quiet --bin smolmail
bin=$PWD/target/release/smolmail
# shellcheck source=scripts/bench-lib.sh
. "$(dirname "$0")/bench-lib.sh"
bench_tmp bench-import-imap


# --- 1. the source ---------------------------------------------------------------
d=$tmp/dovecot
mkdir -p "$d/run" "$d/state" "$d/home/Maildir"
if [ "$(id -u)" -eq 0 ]; then
  mail_user=nobody
  internal="default_internal_user = dovecot
default_login_user = dovenull"
else
  mail_user=$(id -un)
  internal="default_internal_user = $mail_user
default_login_user = $mail_user"
fi
echo "$USER_NAME:{PLAIN}$PASSWORD:$(id -u "$mail_user"):$(id -g "$mail_user")::$d/home::" >"$d/users"
chmod 644 "$d/users"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -keyout "$d/server.key" -out "$d/server.pem" -subj /CN=localhost \
  -addext subjectAltName=DNS:localhost 2>/dev/null
chmod 644 "$d/server.key"

echo "== writing $COUNT messages into Dovecot's Maildir"
python3 - "$d/home/Maildir" "$COUNT" <<'EOF'
import os, random, sys
root, count = sys.argv[1], int(sys.argv[2])
rng = random.Random(16)
folders = [("", 0.6), (".Sent", 0.2), (".Archive.2023", 0.2)]
for name, _ in folders:
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(root + "/" + name if name else root, sub), exist_ok=True)
    with open(os.path.join(root + "/" + name if name else root, "dovecot-keywords"), "w") as f:
        f.write("0 $Label1\n1 NonJunk\n")
with open(os.path.join(root, "subscriptions"), "w") as f:
    f.write("Sent\nArchive.2023\n")
words = "the quick brown fox jumps over the lazy dog and keeps running through".split()
# A pool of lines to draw from: random text per byte would take minutes.
pool = [" ".join(rng.choice(words) for _ in range(11)) + "\n" for _ in range(4096)]
total = 0
for i in range(count):
    r = rng.random()
    folder = ".Sent" if r < 0.2 else ".Archive.2023" if r < 0.4 else ""
    s = rng.random()
    size = rng.randint(1000, 8000) if s < 0.7 else rng.randint(8000, 64000) if s < 0.95 else rng.randint(64000, 256000)
    head = (f"From: Sender {i % 997} <s{i % 997}@example.org>\nTo: bob@remote.test\n"
            f"Subject: bench message {i}\nDate: Tue, 14 Nov 2023 10:00:00 +0000\n"
            f"Message-ID: <bench-{i}@example.org>\nMIME-Version: 1.0\n"
            f"Content-Type: text/plain; charset=utf-8\n\n")
    start = rng.randrange(len(pool))
    lines = (size - len(head)) // 60 + 1
    body = "".join(pool[(start + k) % len(pool)] for k in range(lines))
    data = (head + body).encode()
    flags = ["", "S", "RS", "FS", "Sa", "b"][i % 6]
    when = 1_500_000_000 + i * 600
    path = os.path.join(root + "/" + folder if folder else root, "cur",
                        f"{when}.M{i}P1.bench,S={len(data)}:2,{flags}")
    with open(path, "wb") as f:
        f.write(data)
    os.utime(path, (when, when))
    total += len(data)
print(f"{count} messages, {total / 1e6:.1f} MB")
EOF
chown -R "$(id -u "$mail_user"):$(id -g "$mail_user")" "$d/home"

port=$(free_port)
cat >"$d/dovecot.conf" <<EOF
base_dir = $d/run
state_dir = $d/state
instance_name = smolmail-bench-import-imap
log_path = $d/dovecot.log
protocols = imap
listen = 127.0.0.1
$internal
ssl = required
ssl_cert = <$d/server.pem
ssl_key = <$d/server.key
auth_mechanisms = plain
passdb {
  driver = passwd-file
  args = scheme=PLAIN $d/users
}
userdb {
  driver = passwd-file
  args = $d/users
}
mail_location = maildir:~/Maildir
first_valid_uid = 1
namespace inbox {
  inbox = yes
  separator = .
  mailbox Sent {
    special_use = \\Sent
  }
}
service imap-login {
  inet_listener imap {
    port = 0
  }
  inet_listener imaps {
    port = $port
    ssl = yes
  }
}
service anvil {
  chroot =
}
EOF
dovecot -F -c "$d/dovecot.conf" &
pids+=($!)
for _ in $(seq 100); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1', $port))" 2>/dev/null && break
  sleep 0.1
done

echo "== Dovecot indexes the account once (not part of the import's time)"
start=$(date +%s%N)
python3 - "$port" "$USER_NAME" "$PASSWORD" <<'EOF'
import imaplib, ssl, sys
port, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=ctx)
m.login(user, password)
for name in ("INBOX", "Sent", "Archive.2023"):
    m.select(name, readonly=True)
    m.uid("FETCH", "1:*", "(UID RFC822.SIZE INTERNALDATE FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID DATE FROM SUBJECT)])")
m.logout()
EOF
echo "indexed in $(( ($(date +%s%N) - start) / 1000000 )) ms"

# --- 2. the import ------------------------------------------------------------------
data=$tmp/smolmail
mkdir -p "$data"
echo pw | SMOLMAIL_DATA=$data "$bin" user add "$LOCAL" --password-stdin >/dev/null
echo "$PASSWORD" >"$tmp/password"
# Peak RSS counts the LMDB pages the process touched through its memory
# map (file pages, given back under pressure); the peak of RssAnon, sampled
# every 50 ms, is the heap alone.
import() {
  SMOLMAIL_DATA=$data /usr/bin/time -v "$bin" import imap "$LOCAL" --host localhost \
    --port "$port" --user "$USER_NAME" --password-file "$tmp/password" --ca "$d/server.pem" \
    >"$tmp/out" 2>"$tmp/time" &
  local timer=$! child="" anon=0 now
  while kill -0 "$timer" 2>/dev/null; do
    [ -n "$child" ] || child=$(pgrep -P "$timer" | head -1 || true)
    if [ -n "$child" ]; then
      now=$(awk '/^RssAnon/ { print $2 }' "/proc/$child/status" 2>/dev/null || echo 0)
      [ "${now:-0}" -gt "$anon" ] && anon=$now
    fi
    sleep 0.05
  done
  wait "$timer" || true
  cat "$tmp/out"
  grep -v '^\s' "$tmp/time" || true
  echo "elapsed $(sed -n 's/.*Elapsed (wall clock) time.*: //p' "$tmp/time"), peak RSS $(sed -n 's/.*Maximum resident set size (kbytes): //p' "$tmp/time") KiB, peak RssAnon $anon KiB"
}
echo
echo "== import imap: $COUNT messages"
import
echo "store: $(du -sh "$data" | cut -f1)"
echo
echo "== the same import again (everything there already)"
import
