#!/usr/bin/env bash
# Benchmark: inbound SMTP delivery to one local user, smolmail against the
# Postfix + Dovecot pair it replaces. A benchmark, not a test: it prints
# figures, and fails only when a server cannot be set up, refuses a message
# or (Postfix + Dovecot) has not delivered them all within DELIVERY_TIMEOUT.
#
#   scripts/bench-smtp.sh                  # both servers, 3 runs each
#   RUNS=5 scripts/bench-smtp.sh           # more runs (medians are printed)
#   BENCH_ONLY=peer scripts/bench-smtp.sh  # Postfix + Dovecot only
#   BENCH_ONLY=smolmail scripts/bench-smtp.sh
#   CHECKS=on BENCH_ONLY=smolmail scripts/bench-smtp.sh   # sender checks on
#   CHECKS=off BENCH_ONLY=smolmail scripts/bench-smtp.sh  # the same mail, off
#
# CHECKS (on|off; unset: as before, smtp-source's own generated mail): every
# message is the same DKIM-signed (RSA-2048, relaxed) mail from
# sender@sender.example, whose zone (SPF "ip4:127.0.0.1 -all", the DKIM key,
# DMARC p=reject) a dnslib zone server on loopback serves. With on, smolmail
# treats the client as outside (--trusted-network none, --dns-server that
# server), so each message costs an SPF check, a DKIM key lookup and RSA
# verification, and a DMARC lookup; with off the client is trusted and none
# of it runs. Postfix + Dovecot, if run, get the same mail and check nothing.
#
# Other settings (environment): MESSAGES (2000), SESSIONS (10), SIZE (4096
# bytes of body), DELIVERY_TIMEOUT (600 s), BENCH_DISK (auto|loop|proc, see
# below), KEEP=1 keeps the scratch directory and prints where it is,
# SMOLMAIL_BIN=PATH measures that binary instead of building one.
# Needs root (Postfix starts as root and drops to its own user; the scratch
# file systems are loop devices). Installs Postfix, Dovecot and smtp-source
# through scripts/setup.sh when they are missing.
#
# What runs. Everything listens on 127.0.0.1 only, on free ports, and lives
# in one scratch directory; the system's Postfix and Dovecot services and
# their configuration in /etc are neither used nor touched (Postfix reads
# only its package's own tables there, such as postfix-files).
#   smolmail  `smolmail serve` with only its SMTP listener, one user
#             bench@bench.test. It answers 250 only once the message is
#             committed to disk (group commit), so a run ends when
#             smtp-source has had its last 250.
#   peer      a private Postfix instance (own config_directory,
#             queue_directory, data_directory; no chroot) with bench.test as
#             a virtual mailbox domain, handing mail over LMTP on a unix
#             socket to a private Dovecot instance (own base_dir and
#             state_dir, passwd-file userdb, Maildir owned by `nobody`). Both
#             keep their default tuning otherwise. Postfix answers 250 once
#             the message is in its queue, so a run ends only when every
#             message is a file in the Maildir (new/ and cur/ are polled).
# Workload: Postfix's smtp-source, SESSIONS parallel sessions, MESSAGES
# messages of SIZE bytes of body in all, one connection per message, run
# against each server in turn (the runs alternate, so that noise from other
# work on the machine falls on both). Wall time from date +%s.%N.
#
# Bytes written to disk. Each server's data (smolmail's LMDB directory;
# Postfix's queue and data directories and Dovecot's mail) lives on its own
# freshly made ext4 file system on a loop device (BENCH_DISK=loop). The
# figure is the number of sectors the kernel wrote to that device during the
# run (/sys/block/loopN/stat, field 7), after `sync -f` both before and
# after it: file data, metadata and the journal, all of it, whichever
# process (or kernel thread) caused it, and nothing from anything else on the
# machine. Logs are kept off these file systems for both servers.
# Only when loop devices cannot be had (BENCH_DISK=proc, or auto falling
# back) is the figure write_bytes from /proc/PID/io instead: for smolmail its
# one process; for the peer the Postfix master and the Dovecot master plus
# every live process under them. Processes that exited during the run are
# counted too: when a parent reaps a child, Linux adds the child's I/O
# counters to the parent's own, so the two masters carry every smtpd,
# cleanup, lmtp ... that came and went. That figure is rough, and is marked
# so in the table: it misses file-system metadata and the journal, includes
# the logs, and counts a whole page cache folio each time one turns dirty,
# which on kernels with large folios (6.x on ext4) counts a 100-byte
# overwrite inside a large file (LMDB's meta page) as up to 64 KiB that
# never reach the disk: measured here, 1000 x (100-byte pwrite + fdatasync)
# gave write_bytes 64 MiB, the device 4 MiB.
#
# Memory: smolmail's peak resident set (VmHWM in /proc/PID/status, at the
# end of all runs; it includes the pages of the LMDB map it touched). For
# the peer, the proportional set size (Pss, smaps_rollup) summed over its
# processes at the end is printed below the table for comparison.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD

RUNS=${RUNS:-3}
MESSAGES=${MESSAGES:-2000}
SESSIONS=${SESSIONS:-10}
SIZE=${SIZE:-4096}
DELIVERY_TIMEOUT=${DELIVERY_TIMEOUT:-600}
BENCH_ONLY=${BENCH_ONLY:-}
BENCH_DISK=${BENCH_DISK:-auto}
CHECKS=${CHECKS:-}
KEEP=${KEEP:-}
USER_ADDR=bench@bench.test
SENDER=sender@bench.test

die() { echo "bench-smtp: $*" >&2; exit 1; }
say() { echo "bench-smtp: $*" >&2; }

case "$BENCH_ONLY" in
  "" | both) DO_SMOLMAIL=1 DO_PEER=1 ;;
  smolmail) DO_SMOLMAIL=1 DO_PEER=0 ;;
  peer) DO_SMOLMAIL=0 DO_PEER=1 ;;
  *) die "BENCH_ONLY must be smolmail, peer or empty, not '$BENCH_ONLY'" ;;
esac
case "$BENCH_DISK" in auto | loop | proc) ;; *) die "BENCH_DISK must be auto, loop or proc" ;; esac
case "$CHECKS" in "" | on | off) ;; *) die "CHECKS must be on, off or unset, not '$CHECKS'" ;; esac
for v in RUNS MESSAGES SESSIONS SIZE DELIVERY_TIMEOUT; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive whole number, not '${!v}'"
done
[ "$(id -u)" -eq 0 ] || die "run me as root (Postfix is started as root; scratch file systems use loop devices)"

# ---------------------------------------------------------------- tools

if ! command -v smtp-source >/dev/null || ! command -v postfix >/dev/null ||
  ! command -v dovecot >/dev/null || [ ! -x /usr/lib/dovecot/lmtp ]; then
  say "Postfix, Dovecot or smtp-source missing: running scripts/setup.sh"
  scripts/setup.sh
fi
for c in smtp-source postfix postconf dovecot python3 losetup mkfs.ext4; do
  command -v "$c" >/dev/null || die "$c is still missing after scripts/setup.sh"
done

if [ "$DO_SMOLMAIL" = 1 ]; then
  if [ -n "${SMOLMAIL_BIN:-}" ]; then
    SMOLMAIL=$SMOLMAIL_BIN
  else
    say "building smolmail (release)"
    cargo build --release --quiet || die "cargo build failed (SMOLMAIL_BIN=PATH measures a binary built elsewhere)"
    SMOLMAIL=${CARGO_TARGET_DIR:-$ROOT/target}/release/smolmail
  fi
  [ -x "$SMOLMAIL" ] || die "no smolmail binary at $SMOLMAIL"
fi

# ---------------------------------------------------------------- scratch, cleanup

T=$(mktemp -d /tmp/smolmail-bench.XXXXXX)
chmod 755 "$T" # Postfix and Dovecot drop privileges and must reach into it
mkdir -p "$T/logs" "$T/run"
chmod 755 "$T/run"

SMOLMAIL_PID=
DNS_PID=
PEER_CONF=
DOVECOT_CONF=
DOVECOT_BASE=
MOUNTS=()
LOOPS=()

cleanup() {
  local rc=$? pid i
  trap - EXIT INT TERM
  if [ -n "$DNS_PID" ]; then kill "$DNS_PID" 2>/dev/null || true; fi
  if [ -n "$SMOLMAIL_PID" ] && kill -0 "$SMOLMAIL_PID" 2>/dev/null; then
    kill -TERM "$SMOLMAIL_PID" 2>/dev/null || true
    for i in $(seq 150); do kill -0 "$SMOLMAIL_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SMOLMAIL_PID" 2>/dev/null || true
    wait "$SMOLMAIL_PID" 2>/dev/null || true
  fi
  if [ -n "$PEER_CONF" ] && [ -f "$PEER_CONF/main.cf" ]; then
    pid=$(tr -d ' ' 2>/dev/null <"$(postconf -c "$PEER_CONF" -h queue_directory)/pid/master.pid") || true
    postfix -c "$PEER_CONF" stop >/dev/null 2>&1 || true
    if [ -n "$pid" ]; then
      for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  if [ -n "$DOVECOT_BASE" ] && [ -f "$DOVECOT_BASE/master.pid" ]; then
    pid=$(cat "$DOVECOT_BASE/master.pid")
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  # Postfix and Dovecot children may take a moment to go after their master.
  for i in "${!MOUNTS[@]}"; do
    for _ in $(seq 50); do umount "${MOUNTS[$i]}" 2>/dev/null && break; sleep 0.2; done
    if mountpoint -q "${MOUNTS[$i]}"; then umount -l "${MOUNTS[$i]}" || true; fi
  done
  for i in "${!LOOPS[@]}"; do losetup -d "${LOOPS[$i]}" 2>/dev/null || true; done
  if [ -n "$KEEP" ]; then
    echo "bench-smtp: kept $T (logs in $T/logs)" >&2
  else
    rm -rf "$T"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_port() { # PORT SECONDS WHAT [PID that must stay alive meanwhile]
  local i
  for i in $(seq $(($2 * 10))); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    if [ -n "${4:-}" ] && ! kill -0 "$4" 2>/dev/null; then
      tail -n 20 "$T/logs/$3.log" >&2 || true
      die "$3 exited before listening on 127.0.0.1:$1"
    fi
    sleep 0.1
  done
  die "$3 is not listening on 127.0.0.1:$1 after $2 s (logs: $T/logs; KEEP=1 keeps them)"
}

# Scratch file system $T/NAME, on a loop device of its own (DEVICE[NAME]) when
# BENCH_DISK allows and losetup works, else a plain directory.
declare -A DEVICE=()
make_fs() {
  local name=$1 dir=$T/$1 img=$T/$1.img dev
  mkdir -p "$dir"
  if [ "$BENCH_DISK" != proc ]; then
    truncate -s 4G "$img"
    if dev=$(losetup --find --show "$img" 2>/dev/null); then
      LOOPS+=("$dev")
      # Inode tables and journal written now, not lazily during a run.
      mkfs.ext4 -q -E lazy_itable_init=0,lazy_journal_init=0 "$dev"
      mount "$dev" "$dir"
      MOUNTS+=("$dir")
      DEVICE[$name]=$(basename "$dev")
    elif [ "$BENCH_DISK" = loop ]; then
      die "BENCH_DISK=loop but losetup failed"
    else
      say "no loop device: counting /proc/PID/io write_bytes only"
      BENCH_DISK=proc
      rm -f "$img"
    fi
  fi
  chmod 755 "$dir"
}

# Bytes written to scratch file system NAME so far, after flushing it.
device_bytes() {
  local name=$1 sectors
  sync -f "$T/$name"
  sectors=$(awk '{ print $7 }' "/sys/block/${DEVICE[$name]}/stat")
  echo $((sectors * 512))
}

# PIDs of the processes ROOTS... and all their descendants.
tree_pids() {
  ps -e -o pid=,ppid= | awk -v roots="$*" '
    BEGIN { n = split(roots, r, " "); for (i = 1; i <= n; i++) keep[r[i]] = 1 }
    { parent[$1] = $2; pids[NR] = $1 }
    END {
      do {
        changed = 0
        for (i in pids) { p = pids[i]; if (!(p in keep) && (parent[p] in keep)) { keep[p] = 1; changed = 1 } }
      } while (changed)
      for (p in keep) print p
    }'
}

# Sum of write_bytes in /proc/PID/io over the given PIDs (gone ones count 0).
io_bytes() {
  local pid sum=0 v
  for pid in "$@"; do
    v=$(awk '/^write_bytes:/ { print $2 }' "/proc/$pid/io" 2>/dev/null) || v=0
    sum=$((sum + ${v:-0}))
  done
  echo "$sum"
}

pss_kib() {
  local pid sum=0 v
  for pid in "$@"; do
    v=$(awk '/^Pss:/ { print $2 }' "/proc/$pid/smaps_rollup" 2>/dev/null) || v=0
    sum=$((sum + ${v:-0}))
  done
  echo "$sum"
}

now() { date +%s.%N; }

median() { # values on stdin, "-" ignored
  grep -v '^-$' | sort -g | awk '{ v[NR] = $1 } END {
    if (NR == 0) { print "-"; exit }
    if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# ---------------------------------------------------------------- CHECKS

# The signed message, the zone that vouches for it, and (CHECKS=on) a DNS
# server for that zone on loopback.
SMOLMAIL_CHECK_ARGS=()
prepare_checks() {
  local pydeps=$ROOT/target/pydeps key=$T/dkim.pem zone=$T/sender.zone
  [ -d "$pydeps/dnslib" ] || scripts/setup.sh
  /usr/bin/python3 -c 'import dkim' 2>/dev/null || die "python3-dkim is missing (scripts/setup.sh installs it)"
  openssl genrsa -out "$key" 2048 2>/dev/null || die "openssl genrsa failed"
  SENDER=sender@sender.example
  # smtp-source sends the file's lines with CRLF: sign that form, store LF.
  /usr/bin/python3 - "$key" "$SIZE" >"$T/signed.eml" <<'PY' || die "signing the bench message failed"
import sys, dkim
key = open(sys.argv[1], "rb").read()
body = (b"The quick brown fox jumps over the lazy dog. " * 400)[: int(sys.argv[2])]
body = b"\r\n".join(body[i:i + 76] for i in range(0, len(body), 76)) + b"\r\n"
msg = (b"From: Sender <sender@sender.example>\r\nTo: bench@bench.test\r\n"
       b"Subject: bench\r\nDate: Mon, 30 Nov 2026 12:00:00 +0000\r\n"
       b"Message-ID: <bench@sender.example>\r\n\r\n" + body)
sig = dkim.sign(msg, b"s1", b"sender.example", key,
                include_headers=[b"from", b"to", b"subject", b"date", b"message-id"])
sys.stdout.buffer.write((sig + msg).replace(b"\r\n", b"\n"))
PY
  local p
  p=$(openssl rsa -in "$key" -pubout -outform DER 2>/dev/null | base64 -w0)
  {
    echo '$ORIGIN sender.example.'
    echo '@ 60 IN TXT "v=spf1 ip4:127.0.0.1 -all"'
    echo "s1._domainkey 60 IN TXT \"v=DKIM1; k=rsa; p=${p:0:200}\" \"${p:200}\""
    echo '_dmarc 60 IN TXT "v=DMARC1; p=reject; adkim=r; aspf=r"'
  } >"$zone"
  if [ "$CHECKS" = on ]; then
    DNS_PORT=$(free_port)
    PYTHONPATH=$pydeps python3 -m dnslib.zoneresolver --zone "$zone" --address 127.0.0.1 \
      --port "$DNS_PORT" --log=-request,-reply >"$T/logs/dns.log" 2>&1 &
    DNS_PID=$!
    local i
    for i in $(seq 100); do
      if PYTHONPATH=$pydeps python3 -c 'import sys; from dnslib import DNSRecord
DNSRecord.question("sender.example", "TXT").send("127.0.0.1", int(sys.argv[1]), timeout=0.3)' "$DNS_PORT" 2>/dev/null; then
        break
      fi
      kill -0 "$DNS_PID" 2>/dev/null || { cat "$T/logs/dns.log" >&2; die "the zone server exited"; }
      [ "$i" -lt 100 ] || die "the zone server does not answer"
      sleep 0.1
    done
    SMOLMAIL_CHECK_ARGS=(--trusted-network none --dns-server "127.0.0.1:$DNS_PORT")
    say "zone server (dnslib, pid $DNS_PID) on 127.0.0.1:$DNS_PORT for sender.example"
  fi
}
if [ -n "$CHECKS" ]; then prepare_checks; fi

SMTP_SOURCE=(smtp-source -s "$SESSIONS" -M client.bench.test -f "$SENDER" -t "$USER_ADDR")
# -F's message has a SIZE-byte body of its own (smtp-source refuses -l too).
if [ -n "$CHECKS" ]; then SMTP_SOURCE+=(-F "$T/signed.eml"); else SMTP_SOURCE+=(-l "$SIZE"); fi

# ---------------------------------------------------------------- smolmail

start_smolmail() {
  make_fs smolmail
  SMOLMAIL_DATA=$T/smolmail/data
  mkdir -p "$SMOLMAIL_DATA"
  SMOLMAIL_PORT=$(free_port)
  echo pw | "$SMOLMAIL" user add "$USER_ADDR" --password-stdin --data "$SMOLMAIL_DATA" >/dev/null
  "$SMOLMAIL" serve --data "$SMOLMAIL_DATA" --hostname bench.test \
    --smtp "127.0.0.1:$SMOLMAIL_PORT" --submission off --submissions off \
    --imap off --imaps off --pop3 off --pop3s off --http off --https off --metrics off \
    "${SMOLMAIL_CHECK_ARGS[@]}" >"$T/logs/smolmail.log" 2>&1 &
  SMOLMAIL_PID=$!
  wait_port "$SMOLMAIL_PORT" 30 smolmail "$SMOLMAIL_PID"
  say "smolmail (pid $SMOLMAIL_PID) on 127.0.0.1:$SMOLMAIL_PORT"
}

# ---------------------------------------------------------------- Postfix + Dovecot

start_peer() {
  make_fs peer
  PEER_PORT=$(free_port)
  PEER_CONF=$T/postfix
  local queue=$T/peer/postfix-queue data=$T/peer/postfix-data
  local lmtp_socket=$T/run/dovecot-lmtp
  MAILDIR_ROOT=$T/peer/mail
  MAILDIR=$MAILDIR_ROOT/$USER_ADDR/Maildir
  DOVECOT_BASE=$T/dovecot/run
  DOVECOT_CONF=$T/dovecot/dovecot.conf
  mkdir -p "$PEER_CONF" "$queue" "$data" "$DOVECOT_BASE" "$T/dovecot/state" "$MAILDIR_ROOT/$USER_ADDR"
  chown postfix:postfix "$data"
  chown -R nobody:nogroup "$MAILDIR_ROOT"

  cat >"$PEER_CONF/main.cf" <<EOF
# Postfix instance of scripts/bench-smtp.sh: loopback only, no chroot,
# bench.test as a virtual mailbox domain delivered over LMTP to Dovecot.
compatibility_level = 3.6
queue_directory = $queue
data_directory = $data
mail_owner = postfix
setgid_group = postdrop
syslog_name = postfix-bench
maillog_file = $T/logs/postfix.log
maillog_file_prefixes = $T/logs
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mx.bench.test
mydomain = bench.test
myorigin = \$mydomain
mydestination =
mynetworks = 127.0.0.0/8
relayhost =
alias_maps =
alias_database =
local_recipient_maps =
biff = no
# No DNS: nothing may leave the machine. 127.0.0.1 is not looked up either.
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
lmtp_dns_support_level = disabled
virtual_mailbox_domains = bench.test
virtual_mailbox_maps = inline:{ $USER_ADDR=ok }
virtual_transport = lmtp:unix:$lmtp_socket
EOF

  # Only the services Postfix needs, smtpd on the benchmark port; every
  # service unchrooted (the config lives outside any chroot).
  cat >"$PEER_CONF/master.cf" <<EOF
# service type  private unpriv  chroot  wakeup  maxproc command
127.0.0.1:$PEER_PORT inet n - n - - smtpd
pickup     unix  n       -       n       60      1       pickup
cleanup    unix  n       -       n       -       0       cleanup
qmgr       unix  n       -       n       300     1       qmgr
rewrite    unix  -       -       n       -       -       trivial-rewrite
bounce     unix  -       -       n       -       0       bounce
defer      unix  -       -       n       -       0       bounce
trace      unix  -       -       n       -       0       bounce
verify     unix  -       -       n       -       1       verify
flush      unix  n       -       n       1000?   0       flush
proxymap   unix  -       -       n       -       -       proxymap
proxywrite unix  -       -       n       -       1       proxymap
smtp       unix  -       -       n       -       -       smtp
relay      unix  -       -       n       -       -       smtp
showq      unix  n       -       n       -       -       showq
error      unix  -       -       n       -       -       error
retry      unix  -       -       n       -       -       error
discard    unix  -       -       n       -       -       discard
local      unix  -       n       n       -       -       local
virtual    unix  -       n       n       -       -       virtual
lmtp       unix  -       -       n       -       -       lmtp
anvil      unix  -       -       n       -       1       anvil
scache     unix  -       -       n       -       1       scache
postlog    unix-dgram n  -       n       -       1       postlogd
EOF

  echo "$USER_ADDR:{PLAIN}pw::::::" >"$T/dovecot/users"
  cat >"$DOVECOT_CONF" <<EOF
# Dovecot instance of scripts/bench-smtp.sh: LMTP only, on a unix socket
# that the Postfix instance above delivers to.
instance_name = smolmail-bench-dovecot
base_dir = $DOVECOT_BASE
state_dir = $T/dovecot/state
protocols = lmtp
listen = 127.0.0.1
ssl = no
log_path = $T/logs/dovecot.log
mail_location = maildir:~/Maildir
passdb {
  driver = passwd-file
  args = $T/dovecot/users
}
userdb {
  driver = passwd-file
  args = $T/dovecot/users
  default_fields = uid=nobody gid=nogroup home=$MAILDIR_ROOT/%u
}
service lmtp {
  unix_listener $lmtp_socket {
    user = postfix
    group = postfix
    mode = 0600
  }
}
EOF

  dovecot -c "$DOVECOT_CONF" || die "dovecot did not start (see $T/logs/dovecot.log; KEEP=1 keeps it)"
  local i
  for i in $(seq 100); do [ -S "$lmtp_socket" ] && break; sleep 0.1; done
  [ -S "$lmtp_socket" ] || die "dovecot made no LMTP socket (see $T/logs/dovecot.log)"

  postfix -c "$PEER_CONF" check >"$T/logs/postfix-check.log" 2>&1 ||
    { cat "$T/logs/postfix-check.log" >&2; die "postfix check failed"; }
  postfix -c "$PEER_CONF" start >>"$T/logs/postfix-check.log" 2>&1 ||
    { cat "$T/logs/postfix-check.log" >&2; die "postfix did not start"; }
  wait_port "$PEER_PORT" 30 postfix
  PEER_QUEUE=$queue
  say "Postfix on 127.0.0.1:$PEER_PORT, Dovecot LMTP on $lmtp_socket"
}

peer_roots() {
  local p d
  p=$(tr -d ' ' <"$PEER_QUEUE/pid/master.pid")
  d=$(cat "$DOVECOT_BASE/master.pid")
  echo "$p $d"
}

maildir_count() {
  local n=0 d
  for d in "$MAILDIR/new" "$MAILDIR/cur"; do
    [ -d "$d" ] && n=$((n + $(find "$d" -maxdepth 1 -type f | wc -l)))
  done
  echo "$n"
}

# Wait until the Maildir holds WANT messages; fails after DELIVERY_TIMEOUT s.
wait_maildir() {
  local want=$1 deadline
  deadline=$(($(date +%s) + DELIVERY_TIMEOUT))
  while [ "$(maildir_count)" -lt "$want" ]; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      die "only $(maildir_count) of $want messages in $MAILDIR after ${DELIVERY_TIMEOUT} s (see $T/logs)"
    fi
    sleep 0.05
  done
}

# ---------------------------------------------------------------- runs

# Bytes SERVER has written so far, by the method BENCH_DISK says.
written() {
  local server=$1 roots
  if [ "$BENCH_DISK" != proc ]; then
    device_bytes "$server"
    return
  fi
  if [ "$server" = smolmail ]; then roots=$SMOLMAIL_PID; else roots=$(peer_roots); fi
  # shellcheck disable=SC2046,SC2086
  io_bytes $(tree_pids $roots)
}

# One run against SERVER: appends "messages/s bytes/message" to
# $T/results.SERVER.
run_once() {
  local server=$1 run=$2 port disk0 disk1 t0 t1 t2 base secs
  if [ "$server" = smolmail ]; then
    port=$SMOLMAIL_PORT
  else
    port=$PEER_PORT
    base=$(maildir_count)
  fi
  disk0=$(written "$server")
  t0=$(now)
  "${SMTP_SOURCE[@]}" -m "$MESSAGES" "127.0.0.1:$port" >"$T/logs/smtp-source.$server.$run.log" 2>&1 ||
    { cat "$T/logs/smtp-source.$server.$run.log" >&2; die "smtp-source against $server failed"; }
  t1=$(now)
  if [ "$server" = peer ]; then
    wait_maildir $((base + MESSAGES))
  fi
  t2=$(now)
  disk1=$(written "$server")
  secs=$(awk -v a="$t0" -v b="$t2" 'BEGIN { printf "%.3f", b - a }')
  awk -v m="$MESSAGES" -v s="$secs" -v a="$t0" -v b="$t1" -v d=$((disk1 - disk0)) \
    -v srv="$server" -v r="$run" -v how="$DISK_HOW" 'BEGIN {
      rate = m / s
      printf "%.3f %.0f\n", rate, d / m >> (ENVIRON["T"] "/results." srv)
      printf "bench-smtp: %-8s run %d: %d messages in %.2f s (smtp-source done at %.2f s): %.0f msg/s, %.0f B/msg %s\n",
        srv, r, m, s, b - a, rate, d / m, how > "/dev/stderr"
    }'
}

export T
if [ "$DO_SMOLMAIL" = 1 ]; then start_smolmail; fi
if [ "$DO_PEER" = 1 ]; then start_peer; fi
if [ "$BENCH_DISK" = proc ]; then DISK_HOW="write_bytes (rough)"; else DISK_HOW="to disk"; fi

# One warm-up message each, not measured: proves the path end to end.
if [ "$DO_SMOLMAIL" = 1 ]; then
  "${SMTP_SOURCE[@]}" -m 1 "127.0.0.1:$SMOLMAIL_PORT" >"$T/logs/warmup.smolmail.log" 2>&1 ||
    { cat "$T/logs/warmup.smolmail.log" >&2; die "smolmail refused the warm-up message"; }
fi
if [ "$DO_PEER" = 1 ]; then
  "${SMTP_SOURCE[@]}" -m 1 "127.0.0.1:$PEER_PORT" >"$T/logs/warmup.peer.log" 2>&1 ||
    { cat "$T/logs/warmup.peer.log" >&2; die "Postfix refused the warm-up message"; }
  wait_maildir 1
fi

say "$RUNS runs of $MESSAGES messages ($SIZE-byte bodies, $SESSIONS sessions) per server; disk: $BENCH_DISK"
for run in $(seq "$RUNS"); do
  if [ "$DO_SMOLMAIL" = 1 ]; then run_once smolmail "$run"; fi
  if [ "$DO_PEER" = 1 ]; then run_once peer "$run"; fi
done

# ---------------------------------------------------------------- report

col() { awk -v c="$1" '{ print $c }' "$T/results.$2" | median; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }
fmt() { awk -v v="$1" 'BEGIN { if (v == "-") print "-"; else printf "%.0f", v }'; }

S_RATE=- S_DISK=- S_HWM=- P_RATE=- P_DISK=-
if [ "$DO_SMOLMAIL" = 1 ]; then
  S_RATE=$(col 1 smolmail) S_DISK=$(col 2 smolmail)
  S_HWM=$(awk '/^VmHWM:/ { printf "%.1f MiB", $2 / 1024 }' "/proc/$SMOLMAIL_PID/status")
  S_ANON=$(awk '/^RssAnon:/ { printf "%.1f MiB", $2 / 1024 }' "/proc/$SMOLMAIL_PID/status")
fi
if [ "$DO_PEER" = 1 ]; then
  P_RATE=$(col 1 peer) P_DISK=$(col 2 peer)
  # shellcheck disable=SC2046
  P_PIDS=$(tree_pids $(peer_roots) | wc -l)
  # shellcheck disable=SC2046
  P_PSS=$(pss_kib $(tree_pids $(peer_roots)))
fi

echo
echo "SMTP delivery, $MESSAGES messages x $SIZE B body, $SESSIONS sessions, median of $RUNS runs"
case "$CHECKS" in
  on) echo "sender checks ON: every message DKIM-verified (RSA-2048), SPF and DMARC checked against a local zone server" ;;
  off) echo "sender checks OFF: the same signed message from a trusted client (nothing checked)" ;;
esac
if [ "$BENCH_DISK" = proc ]; then DISK_COL="write_bytes/msg*"; else DISK_COL="disk B/msg"; fi
row() { printf '%-18s %10s %12s %18s\n' "$@"; }
row server "msg/s" "peak RSS" "$DISK_COL"
row smolmail "$(fmt "$S_RATE")" "$S_HWM" "$(fmt "$S_DISK")"
row "postfix+dovecot" "$(fmt "$P_RATE")" "-" "$(fmt "$P_DISK")"
row "smolmail/peer" "$(ratio "$S_RATE" "$P_RATE")" "" "$(ratio "$S_DISK" "$P_DISK")"
echo
if [ "$DO_SMOLMAIL" = 1 ]; then
  echo "smolmail: peak RSS is VmHWM (it includes LMDB map pages touched); RssAnon at the end $S_ANON."
fi
if [ "$DO_PEER" = 1 ]; then
  echo "postfix+dovecot: $P_PIDS processes at the end, Pss summed $(awk -v k="$P_PSS" 'BEGIN { printf "%.1f MiB", k / 1024 }')."
  echo "postfix+dovecot msg/s counts until the last message is in the Maildir, not Postfix's last 250."
fi
if [ "$BENCH_DISK" = proc ]; then
  echo "* /proc/PID/io write_bytes (no loop device), a rough figure (see the header of $0)."
else
  echo "disk B/msg: sectors written to the server's own ext4 loop device (data, metadata, journal)."
fi
