#!/usr/bin/env bash
# POP3 RETR throughput and memory: N messages of SIZE_KIB KiB (default 1000
# of 64 KiB) fetched over pop3s (implicit TLS) with python's poplib, from
# smolmail and, when it is installed, from Debian's Dovecot pop3 in the same
# run. Prints MB/s per pass and each server's memory: for smolmail the
# process's VmHWM and VmRSS peak (/proc/PID/status); for Dovecot the pop3
# process serving the session and the sum over all of its processes.
#
# Everything runs on 127.0.0.1 in a temporary directory; nothing is left
# behind. The messages go into smolmail through its own SMTP port (so the
# store holds what a real delivery makes); the server is then restarted so
# that its high-water mark counts only the POP3 run.
#
#   scripts/bench-pop3.sh                 # 1000 x 64 KiB, 3 passes
#   N=200 SIZE_KIB=1024 PASSES=1 scripts/bench-pop3.sh
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-1000}
SIZE_KIB=${SIZE_KIB:-64}
PASSES=${PASSES:-3}
USER_ADDR=bench@home.arpa
PASSWORD=bench-password

cargo build --release --locked --quiet
bin=$PWD/target/release/smolmail
tmp=$(mktemp -d /tmp/smolmail-bench-pop3.XXXXXX)
chmod 755 "$tmp" # Dovecot's auth and mail processes run as other users
pids=()
cleanup() {
  status=$?
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ "$status" -ne 0 ]; then
    for log in "$tmp/smolmail.log" "$tmp/dovecot/dovecot.log"; do
      if [ -e "$log" ]; then echo "--- $log"; tail -20 "$log"; fi
    done
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The client side: message generator, SMTP seeding, the timed poplib run
# and the /proc sampler.
cat >"$tmp/bench.py" <<'EOF'
import os, poplib, smtplib, socket, ssl, sys, threading, time

def message(i, size_kib):
    head = (f"From: Bench <bench@example.org>\r\nTo: bench@home.arpa\r\n"
            f"Subject: bench {i}\r\nMessage-ID: <bench-{i}@example.org>\r\n\r\n")
    line = "The quick brown fox jumps over the lazy dog, again and again. 0123456789\r\n"
    body, n = [], len(head)
    while n < size_kib * 1024:
        body.append(line)
        n += len(line)
    return (head + "".join(body)).encode()

FIELDS = ("Name", "PPid", "VmHWM", "VmRSS", "RssAnon")
TICK = os.sysconf("SC_CLK_TCK")

def status(pid):
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for l in f:
                k, _, v = l.partition(":")
                if k in FIELDS:
                    out[k] = v.strip()
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
            out["cpu"] = (int(fields[11]) + int(fields[12])) / TICK  # utime + stime
    except (OSError, IndexError, ValueError):
        return {}
    return out

def kib(v):
    return int(v.split()[0]) if v else 0

def tree(root):
    """root and its descendants (Dovecot's processes)."""
    children = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            s = status(d)
            if "PPid" in s:
                children.setdefault(int(s["PPid"]), []).append(int(d))
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out

def watched(root, whole_tree):
    return tree(root) if whole_tree else [root]

def cpu(root, whole_tree):
    return sum(status(p).get("cpu", 0.0) for p in watched(root, whole_tree))

def memory(root, whole_tree):
    """(VmRSS, RssAnon) summed over the watched processes, in KiB."""
    rss = anon = 0
    for p in watched(root, whole_tree):
        s = status(p)
        rss += kib(s.get("VmRSS"))
        anon += kib(s.get("RssAnon"))
    return rss, anon

class Sampler(threading.Thread):
    """Every 20 ms: memory of each watched process; keeps the peaks. VmRSS
    counts the file pages a process has mapped too (for smolmail: the LMDB
    map, i.e. page cache); RssAnon is the process's own memory."""
    def __init__(self, root, whole_tree):
        super().__init__(daemon=True)
        self.root, self.whole_tree = root, whole_tree
        self.stop = False
        # Sampled only while RETRs run: a login's password verification
        # (argon2, 19 MiB for a moment) is not the POP3 session's memory.
        self.active = False
        self.peak_rss = self.peak_anon = 0
        self.procs = {}   # pid -> dict(name, rss, anon, hwm)
    def sample(self):
        rss = anon = 0
        for p in watched(self.root, self.whole_tree):
            s = status(p)
            if not s:
                continue
            e = self.procs.setdefault(p, dict(name=s.get("Name"), rss=0, anon=0, hwm=0))
            e["rss"] = max(e["rss"], kib(s.get("VmRSS")))
            e["anon"] = max(e["anon"], kib(s.get("RssAnon")))
            e["hwm"] = kib(s.get("VmHWM"))
            rss += kib(s.get("VmRSS"))
            anon += kib(s.get("RssAnon"))
        self.peak_rss = max(self.peak_rss, rss)
        self.peak_anon = max(self.peak_anon, anon)
    def run(self):
        while not self.stop:
            if self.active:
                self.sample()
            time.sleep(0.02)
    def report(self, label):
        for pid, e in sorted(self.procs.items()):
            print(f"{label}:   pid {pid} {e['name']}: VmRSS peak {e['rss']} KiB "
                  f"(RssAnon peak {e['anon']} KiB); VmHWM {e['hwm']} KiB")
        if self.whole_tree:
            print(f"{label}:   all processes: VmRSS peak (sum) {self.peak_rss} KiB, "
                  f"RssAnon peak (sum) {self.peak_anon} KiB")

def seed(port, n, size_kib):
    s = smtplib.SMTP("127.0.0.1", port)
    for i in range(n):
        s.sendmail("bench@example.org", ["bench@home.arpa"], message(i, size_kib))
    s.quit()

def maildir(path, n, size_kib):
    for d in ("cur", "new", "tmp"):
        os.makedirs(f"{path}/{d}", exist_ok=True)
    for i in range(n):
        with open(f"{path}/cur/{1700000000 + i}.M{i}P1.bench:2,", "wb") as f:
            f.write(message(i, size_kib))

def retr_all(port, user, password, passes, root, whole_tree, label):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    rss, anon = memory(root, whole_tree)
    print(f"{label}: before any session: VmRSS {rss} KiB, RssAnon {anon} KiB")
    # Log in once first, outside the timing: Dovecot builds its index then,
    # and smolmail's argon2 verification (19 MiB, m=19456) runs once.
    p = poplib.POP3_SSL("127.0.0.1", port, context=ctx)
    p.user(user); p.pass_(password); p.uidl(); p.quit()
    time.sleep(0.1)
    rss, anon = memory(root, whole_tree)
    print(f"{label}: after one login: VmRSS {rss} KiB, RssAnon {anon} KiB")
    sampler = Sampler(root, whole_tree)
    sampler.start()
    best = 0.0
    for k in range(passes):
        p = poplib.POP3_SSL("127.0.0.1", port, context=ctx)
        p.user(user); p.pass_(password)
        count, octets = p.stat()
        cpu0 = cpu(root, whole_tree)
        sampler.active = True
        start = time.perf_counter()
        got = 0
        for i in range(1, count + 1):
            _, lines, _ = p.retr(i)
            got += sum(len(l) + 2 for l in lines)
        elapsed = time.perf_counter() - start
        sampler.sample()
        sampler.active = False
        used = cpu(root, whole_tree) - cpu0
        p.quit()
        assert got >= octets, (got, octets)
        mbs = octets / elapsed / 1e6
        best = max(best, mbs)
        print(f"{label}: pass {k + 1}: RETR {count} messages, {octets / 1e6:.1f} MB in "
              f"{elapsed:.2f} s = {mbs:.1f} MB/s; server CPU {used:.2f} s "
              f"({used / elapsed * 100:.0f}% of one core)")
    # The same RETRs pipelined (RFC 2449 PIPELINING) and read in bulk: the
    # line-by-line poplib is the slower side above, this shows the server.
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)))
    r = s.makefile("rb")
    r.readline()
    s.sendall(f"USER {user}\r\nPASS {password}\r\n".encode())
    r.readline(); assert r.readline().startswith(b"+OK")
    cpu0 = cpu(root, whole_tree)
    sampler.active = True
    start = time.perf_counter()
    s.sendall(b"".join(b"RETR %d\r\n" % i for i in range(1, count + 1)))
    ends, tail, total = 0, b"", 0
    while ends < count:
        chunk = r.read1(1 << 20)
        assert chunk, "connection closed"
        total += len(chunk)
        ends += (tail + chunk).count(b"\r\n.\r\n")
        tail = chunk[-4:]
    elapsed = time.perf_counter() - start
    sampler.sample()
    sampler.active = False
    used = cpu(root, whole_tree) - cpu0
    s.sendall(b"QUIT\r\n"); r.readline(); s.close()
    print(f"{label}: pipelined, bulk reads: {count} RETRs, {octets / 1e6:.1f} MB in {elapsed:.2f} s "
          f"= {octets / elapsed / 1e6:.1f} MB/s; server CPU {used:.2f} s ({used / elapsed * 100:.0f}% of one core)")
    time.sleep(0.1)
    sampler.stop = True
    sampler.join()
    print(f"{label}: best poplib pass {best:.1f} MB/s; memory while RETRs ran:")
    sampler.report(label)

if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "seed":
        seed(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
    elif cmd == "maildir":
        maildir(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif cmd == "retr":
        port, user, password, passes, root, whole, label = sys.argv[2:9]
        retr_all(int(port), user, password, int(passes), int(root), whole == "tree", label)
EOF

wait_for() { # file needle
  for _ in $(seq 200); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
  echo "bench-pop3: no \"$2\" in $1:" >&2; cat "$1" >&2; exit 1
}

smtp_port=$(free_port)
pop3s_port=$(free_port)
export SMOLMAIL_DATA=$tmp/smolmail
echo "$PASSWORD" | "$bin" user add "$USER_ADDR" --password-stdin >/dev/null
serve() {
  # A fixed mmap threshold makes glibc give a login's 19 MiB argon2 buffer
  # back at once, as musl's malloc in the shipped static binary does;
  # otherwise glibc keeps it in a thread arena and RSS says little.
  MALLOC_MMAP_THRESHOLD_=131072 "$bin" serve --hostname mail.home.arpa --log-level warn \
    --smtp "127.0.0.1:$smtp_port" --submission off --submissions off \
    --imap off --imaps off --pop3 off --pop3s "127.0.0.1:$pop3s_port" --http off --https off --metrics off \
    2>>"$tmp/smolmail.log" &
  server=$!
  pids+=("$server")
  for _ in $(seq 200); do
    if python3 -c "import socket; socket.create_connection(('127.0.0.1', $pop3s_port))" 2>/dev/null; then return; fi
    sleep 0.05
  done
  echo "bench-pop3: smolmail did not start:" >&2; cat "$tmp/smolmail.log" >&2; exit 1
}

echo "== seeding smolmail with $N messages of $SIZE_KIB KiB over SMTP"
serve
python3 "$tmp/bench.py" seed "$smtp_port" "$N" "$SIZE_KIB"
kill "$server"; wait "$server" || true
serve
echo "== smolmail $("$bin" version 2>/dev/null | head -1), pop3s, release build"
python3 "$tmp/bench.py" retr "$pop3s_port" "$USER_ADDR" "$PASSWORD" "$PASSES" "$server" one smolmail
grep -E "VmHWM|VmRSS|RssAnon|RssFile" "/proc/$server/status" | tr -s ' \t' ' ' |
  sed 's/^/smolmail: after the run (VmHWM includes the argon2 logins): /'
kill "$server"; wait "$server" || true

if ! command -v dovecot >/dev/null || [ ! -e /usr/lib/dovecot/pop3 ]; then
  echo "== Dovecot pop3 not installed (scripts/setup.sh installs dovecot-pop3d); skipped"
  exit 0
fi

echo "== Dovecot $(dovecot --version) pop3s, same messages in a Maildir"
d=$tmp/dovecot
mkdir -p "$d/run" "$d/state" "$d/home"
if [ "$(id -u)" -eq 0 ]; then
  mail_user=nobody
  internal="default_internal_user = dovecot
default_login_user = dovenull"
else
  mail_user=$(id -un)
  internal="default_internal_user = $mail_user
default_login_user = $mail_user"
fi
uid=$(id -u "$mail_user")
gid=$(id -g "$mail_user")
python3 "$tmp/bench.py" maildir "$d/home/Maildir" "$N" "$SIZE_KIB"
chown -R "$uid:$gid" "$d/home"
echo "$USER_ADDR:{PLAIN}$PASSWORD:$uid:$gid::$d/home::" >"$d/users"
chmod 644 "$d/users"
dport=$(free_port)
cat >"$d/dovecot.conf" <<EOF
base_dir = $d/run
state_dir = $d/state
instance_name = smolmail-bench
log_path = $d/dovecot.log
protocols = pop3
listen = 127.0.0.1
$internal
ssl = required
ssl_cert = <$SMOLMAIL_DATA/tls/selfsigned-cert.pem
ssl_key = <$SMOLMAIL_DATA/tls/selfsigned-key.pem
ssl_min_protocol = TLSv1.2
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
service pop3-login {
  inet_listener pop3 {
    port = 0
  }
  inet_listener pop3s {
    port = $dport
    ssl = yes
  }
}
service anvil {
  chroot =
}
EOF
dovecot -F -c "$d/dovecot.conf" &
dovecot_pid=$!
pids+=("$dovecot_pid")
for _ in $(seq 200); do
  if python3 -c "import socket; socket.create_connection(('127.0.0.1', $dport))" 2>/dev/null; then break; fi
  sleep 0.05
done
python3 "$tmp/bench.py" retr "$dport" "$USER_ADDR" "$PASSWORD" "$PASSES" "$dovecot_pid" tree dovecot
