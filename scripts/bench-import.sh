#!/usr/bin/env bash
# Import throughput (then, unless IMAP=0, scripts/bench-import-imap.sh
# for `import imap` from Dovecot): a Maildir++ tree of N messages (default 50 000) of
# mixed size, as Dovecot leaves it (LF line ends, flags in the file names,
# dovecot-keywords, mtimes as received dates), spread over 10 folders, is
# imported by a release `smolmail import maildir`. Prints messages/s, MB/s
# (of Maildir bytes read) and the import's peak RSS, from /usr/bin/time -v.
#
# Sizes: 80% 1-6 KB, 18% 10-60 KB, 2% 100-500 KB (about 15 KB on average,
# so 50 000 messages are about 0.75 GB). The store is on the same disk as
# the Maildir, in a temporary directory removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-50000}
[ -x /usr/bin/time ] || { echo "/usr/bin/time missing: run scripts/setup.sh (time)" >&2; exit 1; }

cargo build --release --locked -q
bin=${CARGO_TARGET_DIR:-$PWD/target}/release/smolmail
work=$(mktemp -d /tmp/smolmail-bench-import.XXXXXX)
trap 'rm -rf "$work"' EXIT

python3 - "$work/Maildir" "$N" <<'EOF'
import os, random, sys
root, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(14)
folders = ["", ".Sent", ".Archive", ".Archive.2023", ".Archive.2024", ".Lists",
           ".Lists.rust", ".Work", ".Work.Projects", ".Trash"]
for f in folders:
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(root, f, sub), exist_ok=True)
    with open(os.path.join(root, f, "dovecot-keywords"), "w") as k:
        k.write("0 $Label1\n1 NonJunk\n2 $Forwarded\n")
line = "the quick brown fox jumps over the lazy dog, again and again\n"
t0 = 1_500_000_000
for i in range(n):
    r = rnd.random()
    size = (rnd.randint(1000, 6000) if r < 0.80 else
            rnd.randint(10_000, 60_000) if r < 0.98 else
            rnd.randint(100_000, 500_000))
    head = (f"From: Sender {i % 500} <s{i % 500}@example.org>\nTo: me@home.arpa\n"
            f"Subject: bench message {i}\nDate: Tue, 14 Nov 2023 10:00:00 +0000\n"
            f"Message-ID: <bench-{i}@example.org>\n\n")
    body = (line * (size // len(line) + 1))[: max(0, size - len(head))]
    info = rnd.choice(["S", "RS", "FS", "", "Sa", "Sb", "PSc"])
    name = f"{t0 + i * 60}.M{i}P1.bench:2,{info}"
    folder = folders[i % len(folders)]
    path = os.path.join(root, folder, "cur", name)
    with open(path, "w") as m:
        m.write(head + body)
    os.utime(path, (t0 + i * 60, t0 + i * 60))
EOF

bytes=$(du -sb "$work/Maildir" | cut -f1)
export SMOLMAIL_DATA=$work/data
echo bench-pw | "$bin" user add me@home.arpa --password-stdin >/dev/null
start=$(date +%s.%N)
/usr/bin/time -v "$bin" import maildir me@home.arpa "$work/Maildir" >"$work/out" 2>"$work/time"
end=$(date +%s.%N)
cat "$work/out"
rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time")
python3 - "$N" "$bytes" "$start" "$end" "$rss" <<'EOF'
import sys
n, size, start, end, rss = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
secs = end - start
print(f"import maildir: {n} messages, {size / 1e6:.0f} MB in {secs:.1f} s: "
      f"{n / secs:.0f} messages/s, {size / 1e6 / secs:.1f} MB/s, peak RSS {rss / 1024:.1f} MiB")
EOF

# The same for `import imap` from a Dovecot holding N messages (its own
# script: it starts Dovecot and writes its Maildir); IMAP=0 skips it.
if [ "${IMAP:-1}" != 0 ]; then
  echo
  COUNT=$N scripts/bench-import-imap.sh
fi
