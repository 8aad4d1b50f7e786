#!/usr/bin/env bash
# The appliance image under QEMU, as a user meets it: build the qemu-virt
# image, put settings into its smolmail.env the way one would from a PC,
# boot it, send and read mail over the forwarded ports, cut the power in the
# middle of a stream of submissions, boot again and count what survived,
# check the data file system; then boot the rpi3 image on QEMU's raspi3b
# model far enough to see smolmail start.
#
#   scripts/test-qemu.sh            (scripts/test.sh runs it too)
#
# Each check prints "ok", "FAIL" or "skip" with its name; the last line
# counts them. SMOLMAIL_BIN=FILE uses a prebuilt aarch64 binary;
# SMOLMAIL_SKIP_SETUP=1 skips scripts/setup.sh (test.sh has run it).
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
export SMOLMAIL_SKIP_SETUP=${SMOLMAIL_SKIP_SETUP:-0}
[ "$SMOLMAIL_SKIP_SETUP" = 1 ] || scripts/setup.sh
export SMOLMAIL_SKIP_SETUP=1

work=$top/out/test-qemu
rm -rf "$work"
mkdir -p "$work"
passed=0 failed=0 skipped=0
step() { printf '\n== %s\n' "$*"; }
ok() { echo "ok - $*"; passed=$((passed + 1)); }
fail() { echo "FAIL - $*"; failed=$((failed + 1)); }
skip() { echo "skip - $*"; skipped=$((skipped + 1)); }
check() { # NAME COMMAND...: ok if the command succeeds
	local name=$1
	shift
	if "$@"; then ok "$name"; else fail "$name"; fi
}
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# the eight forwarded ports must be free: pick a base where they are
port_base() {
	python3 - <<'EOF'
import socket
for base in range(40000, 60000, 1000):
    try:
        socks = []
        for p in (25, 587, 465, 143, 993, 110, 995, 443):
            s = socket.socket()
            s.bind(("127.0.0.1", base + p))
            socks.append(s)
    except OSError:
        continue
    finally:
        for s in socks:
            s.close()
    print(base)
    break
EOF
}

# mail.py: the mail clients (python's smtplib, imaplib, poplib)
cat > "$work/mail.py" <<'EOF'
import imaplib, poplib, smtplib, socket, ssl, sys, threading, time
from email.message import EmailMessage

base = int(sys.argv[1]); cmd = sys.argv[2]; args = sys.argv[3:]
USER, PASSWORD = "test@home.arpa", "secret-pw"
tls = ssl.create_default_context()
tls.check_hostname = False
tls.verify_mode = ssl.CERT_NONE   # the appliance's certificate is self-signed

def message(subject):
    m = EmailMessage()
    m["From"] = USER; m["To"] = USER; m["Subject"] = subject
    m.set_content("sent by scripts/test-qemu.sh\n")
    return m

def not_built(greeting):
    # until a protocol lands, its port answers "service not available"
    return "not available" in greeting.lower() or greeting.startswith(("* BYE", "-ERR"))

if cmd == "banner":            # wait for the SMTP greeting; prints it
    start = time.time(); deadline = start + float(args[0])
    while time.time() < deadline:
        try:
            # a short wait per try (a ready guest greets in milliseconds):
            # QEMU's port forward accepts at once and holds a try open while
            # the guest has no address yet, so the wait is also how late
            # the time to the banner can be seen. A longer one after 20 s,
            # should a busy host make the guest slower than that to greet.
            wait = 0.25 if time.time() - start < 20 else 2
            with socket.create_connection(("127.0.0.1", base + 25), timeout=wait) as s:
                line = s.makefile("rb").readline().decode()
                if line.startswith("220"):
                    print(line.strip()); sys.exit(0)
        except OSError:
            pass
        time.sleep(0.05)
    sys.exit(1)
elif cmd == "submit":          # one message over 587 (STARTTLS) or 465 (TLS)
    port, subject = int(args[0]), args[1]
    if port == 465:
        c = smtplib.SMTP_SSL("127.0.0.1", base + 465, context=tls, timeout=60)
    else:
        c = smtplib.SMTP("127.0.0.1", base + 587, timeout=60)
        c.starttls(context=tls)
    c.login(USER, PASSWORD)
    c.send_message(message(subject))
    c.quit()
elif cmd == "auth":            # AUTH over 587 with another user's password
    c = smtplib.SMTP("127.0.0.1", base + 587, timeout=60)
    c.starttls(context=tls)
    c.login(args[0], args[1])
    c.quit()
elif cmd == "imaps":           # is the message there over IMAPS?
    try:
        c = imaplib.IMAP4_SSL("127.0.0.1", base + 993, ssl_context=tls, timeout=60)
    except imaplib.IMAP4.abort as e:
        print("IMAP not built yet:", e); sys.exit(3)
    if not_built(c.welcome.decode()):
        print("IMAP not built yet:", c.welcome.decode()); sys.exit(3)
    c.login(USER, PASSWORD)
    c.select("INBOX")
    typ, data = c.search(None, "SUBJECT", '"%s"' % args[0])
    ids = data[0].split()
    if not ids:
        print("not found"); sys.exit(1)
    typ, msg = c.fetch(ids[0], "(BODY.PEEK[])")
    assert b"sent by scripts/test-qemu.sh" in msg[0][1]
    print("found, %d bytes" % len(msg[0][1]))
    c.logout()
elif cmd in ("pop3s", "pop3-subjects"):
    try:
        c = poplib.POP3_SSL("127.0.0.1", base + 995, context=tls, timeout=60)
    except poplib.error_proto as e:
        print("POP3 not built yet:", e); sys.exit(3)
    if not_built(c.getwelcome().decode()):
        print("POP3 not built yet:", c.getwelcome().decode()); sys.exit(3)
    c.user(USER); c.pass_(PASSWORD)
    count, size = c.stat()
    subjects = []
    for i in range(1, count + 1):
        for line in c.top(i, 0)[1]:
            if line.lower().startswith(b"subject:"):
                subjects.append(line[8:].strip().decode())
    c.quit()
    if cmd == "pop3s":
        print("STAT %d messages, %d bytes" % (count, size))
        if args[0] not in subjects:
            print("not found"); sys.exit(1)
        print("found")
    else:
        print("STAT %d" % count, file=sys.stderr)
        print("\n".join(subjects))
elif cmd == "admin":           # log in to the admin pages over HTTPS; print the status page's title
    import http.cookiejar, re, urllib.parse, urllib.request
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=tls),
                                         urllib.request.HTTPCookieProcessor(jar))
    url = "https://127.0.0.1:%d/admin" % (base + 443)
    body = urllib.parse.urlencode({"user": "", "password": args[0]}).encode()
    page = opener.open(url + "/login", body, timeout=60).read().decode()
    title = re.search(r"<title>(.*?)</title>", page)
    print(title.group(1) if title else page[:200])
    if not len(jar):
        print("no session cookie"); sys.exit(1)
elif cmd == "stream":          # submissions one after another until killed;
    # prints the subject of each message answered 250, as soon as it is
    c = smtplib.SMTP("127.0.0.1", base + 587, timeout=30)
    c.starttls(context=tls); c.login(USER, PASSWORD)
    n = 0
    try:
        while True:
            n += 1
            subject = "power-cut %d" % n
            c.send_message(message(subject))
            print(subject, flush=True)
    except (OSError, smtplib.SMTPException) as e:
        print("stream ended: %r" % e, file=sys.stderr)
EOF
mailpy() { python3 "$work/mail.py" "$base" "$@"; }

# --- QEMU with the console on a pipe we can type into
qemu_start() { # IMAGE LOG
	rm -f "$work/console" "$work/qemu.pid"
	mkfifo "$work/console"
	QEMU_OPTS="-pidfile $work/qemu.pid -no-reboot" PORT_BASE=$base \
		scripts/run-qemu.sh "$1" < "$work/console" > "$2" 2>&1 &
	exec 3> "$work/console"
	qemu_log=$2
	qemu_t0=$(now)
}
qemu_wait_exit() { # SECONDS: waits for QEMU to end by itself
	local i=0
	while [ -f "$work/qemu.pid" ] && kill -0 "$(cat "$work/qemu.pid")" 2>/dev/null; do
		i=$((i + 1))
		[ "$i" -gt "$(($1 * 2))" ] && return 1
		sleep 0.5
	done
	wait 2>/dev/null || true
	exec 3>&-
}
qemu_kill() { # SIGNAL
	[ -f "$work/qemu.pid" ] && kill "-$1" "$(cat "$work/qemu.pid")" 2>/dev/null
	qemu_wait_exit 30 || true
}
console() { # COMMAND: runs it at the guest's console; prints its output
	local tag="@@$RANDOM$RANDOM@@" i=0
	printf '%s; echo %s\n' "$1" "${tag}done" >&3
	while ! grep -q "^${tag}done" "$qemu_log"; do
		i=$((i + 1))
		[ "$i" -gt 120 ] && return 1
		sleep 0.5
	done
	# between the echoed command line and the tag, leaving out what the board
	# prints to the console by itself meanwhile: init's lines, smolmail's own
	# start-up lines and warnings, kernel messages
	awk -v t="${tag}done" 'index($0, t) == 1 { exit } p { print } index($0, t) > 1 { p = 1 }' "$qemu_log" |
		tr -d '\r' | grep -av -e '^smolmail-init: ' -e '^\[[0-9]\{4\}-[0-9-]*T' -e '^\[ *[0-9]*\.[0-9]*\] ' || true
}
wait_log() { # PATTERN SECONDS FILE
	local i=0
	while ! grep -q "$1" "$3" 2>/dev/null; do
		i=$((i + 1))
		[ "$i" -gt "$(($2 * 2))" ] && return 1
		sleep 0.5
	done
}
# the byte offset of partition N (1-4) of an MBR image
part_offset() { echo $(($(od -An -tu4 -j $((454 + 16 * ($2 - 1))) -N 4 "$1" | tr -d ' ') * 512)); }
part_size() { echo $(($(od -An -tu4 -j $((458 + 16 * ($2 - 1))) -N 4 "$1" | tr -d ' ') * 512)); }
fsck_data() { # IMAGE OPTIONS: e2fsck on a copy of the data partition
	dd if="$1" of="$work/data.ext4" bs=1M iflag=skip_bytes,count_bytes \
		skip="$(part_offset "$1" 2)" count="$(part_size "$1" 2)" status=none
	local rc=0
	e2fsck "$2" "$work/data.ext4" > "$work/e2fsck.log" 2>&1 || rc=$?
	sed 's/^/    /' "$work/e2fsck.log"
	rm -f "$work/data.ext4"
	return "$rc"
}
trap 'qemu_kill KILL >/dev/null 2>&1 || true' EXIT

# the release key of this test's builds: the image carries its public half
# and accepts only updates it signed (scripts/make-update.sh)
openssl genpkey -algorithm ed25519 -out "$work/release-key.pem" 2>/dev/null
export SMOLMAIL_UPDATE_KEY=$work/release-key.pem

# ================================================================ qemu-virt
step "build the qemu-virt image"
scripts/build-image.sh qemu-virt
img=out/qemu-virt/sdcard.img
# the binary that went into it, for the rebuild below
cp "${SMOLMAIL_BIN:-${CARGO_TARGET_DIR:-target}/aarch64-unknown-linux-musl/release/smolmail}" "$work/smolmail"

step "reproducible: the same inputs give the same image"
SMOLMAIL_BIN=$work/smolmail OUT=$work/rebuild scripts/build-image.sh qemu-virt > "$work/rebuild.log" 2>&1 ||
	{ cat "$work/rebuild.log"; fail "second build of qemu-virt"; }
a=$(sha256sum < "$img") b=$(sha256sum < "$work/rebuild/sdcard.img" 2>/dev/null || true)
if [ "$a" = "$b" ]; then ok "a second build gives the same bytes (${a%% *})"; else fail "a second build differs: ${a%% *} and ${b%% *}"; fi
rm -rf "$work/rebuild"

step "a card with a user in smolmail.env (as written from a PC)"
card=$work/card.img
cp "$img" "$card"
# a 1 GiB card: the first boot grows the data partition to its end
truncate -s 1G "$card"
# a second user given as a SHA512-CRYPT hash (its "$" must reach smolmail as is)
hash=$(openssl passwd -6 -salt smolmailtest hashed-pw)
printf '%s\r\n' "# test settings" "SMOLMAIL_HOSTNAME=mail.home.arpa" \
	"MAIL_USER=test@home.arpa:secret-pw" "MAIL_USER=hashed@home.arpa:{SHA512-CRYPT}$hash" \
	"ADMIN_PASSWORD=admin-pw" "SMOLMAIL_ADMIN_FROM=10.0.2.2/32" "NTP_SERVERS=off" > "$work/smolmail.env"
fat="$card@@$(part_offset "$card" 1)"
MTOOLS_SKIP_CHECK=1 mcopy -o -i "$fat" "$work/smolmail.env" ::smolmail.env
base=$(port_base)
echo "ports forwarded from 127.0.0.1:$((base + 25)) and on"

step "first boot"
qemu_start "$card" "$work/boot1.log"
if banner=$(mailpy banner 180); then
	t=$(elapsed "$qemu_t0" "$(now)")
	ok "SMTP banner on port 25 after ${t} s from QEMU start: $banner"
	echo "$t" > "$work/banner-seconds"
else
	fail "no SMTP banner within 180 s"
	tail -n 40 "$work/boot1.log"
fi
check "data partition grown to the end of the card" grep -q "data partition now 863 MiB" "$work/boot1.log"
check "user from smolmail.env created" grep -q "user test@home.arpa created" "$work/boot1.log"
check "user given as a hash created" grep -q "user hashed@home.arpa created" "$work/boot1.log"
env_now=$(MTOOLS_SKIP_CHECK=1 mtype -i "$fat" ::smolmail.env | tr -d '\r')
if grep -qx "MAIL_USER=test@home.arpa" <<<"$env_now" && ! grep -q "secret-pw" <<<"$env_now" &&
	grep -qF "MAIL_USER=hashed@home.arpa:{SHA512-CRYPT}$hash" <<<"$env_now" &&
	grep -qx "ADMIN_PASSWORD=" <<<"$env_now"; then
	ok "plain passwords (a user's, the admin's) removed from smolmail.env, the hash kept"
else
	fail "plain password still in smolmail.env: $env_now"
fi
printf '\n' >&3 # the console asks for Enter first
# smolmail copies its log to the console for 2 s after "listening on" (the
# banner probe's connect line among it); a command typed meanwhile gets
# interleaved with those lines on a slow host, and console() cannot find it
sleep 3
ids=$(console 'p=$(pidof smolmail); grep -E "^(Uid|CapEff)" /proc/$p/status | tr -s "\t" " "' || true)
echo "$ids" | sed 's/^/    /'
if grep -q "^Uid: 100 100 100 100" <<<"$ids" && grep -q "^CapEff: 0000000000000000" <<<"$ids"; then
	ok "smolmail runs as user smolmail (uid 100) without capabilities"
else
	fail "smolmail's identity: $ids"
fi
# memory after start-up, and the clock it runs on
status=$(console 'sleep 5; smolmail-status' || true)
echo "    $status"
echo "$status" > "$work/rss.txt"
check "smolmail-status reports the server" grep -q "VmRSS" <<<"$status"
status_full() {
	grep -q "^link eth0: wired, up" <<<"$status" && grep -q "^outbound queue: Mail queue is empty" <<<"$status" &&
		grep -q "^store: [0-9]* MiB in /data/smolmail; card: [0-9]* MiB free" <<<"$status" &&
		grep -qE "^  [A-Z][a-z]{2} +[0-9]+ [0-9:]{8} [^ ]+ [a-z]+\.[a-z]+ smolmail(-init)?: " <<<"$status"
}
check "smolmail-status reports the link, the queue, the store and free space, and the log" status_full

check "admin password from smolmail.env set" grep -q "admin pages: password set from smolmail.env" "$work/boot1.log"
admin_title=$(mailpy admin admin-pw 2>&1 || true)
echo "    $admin_title"
check "the admin pages answer over HTTPS and take the password from smolmail.env" grep -q "^Status" <<<"$admin_title"

step "the console says where to point a mail client"
if wait_log "admin page: *https://mail.local/admin" 30 "$work/boot1.log"; then
	sed -n '/---- mail clients/,/admin page/p' "$work/boot1.log" | tr -d '\r' | sed 's/^/    /'
	if grep -q "reading mail: *IMAP 993 (TLS) or 143 (STARTTLS); POP3 995 (TLS) or 110 (STARTTLS)" "$work/boot1.log" &&
		grep -q "sending mail: *SMTP 465 (TLS) or 587 (STARTTLS)" "$work/boot1.log" &&
		grep -q "mail clients: server mail.home.arpa or mail.local (10.0.2.15" "$work/boot1.log"; then
		ok "addresses, ports, the mDNS name and the admin URL printed at boot"
	else
		fail "the console's client lines are not right"
	fi
else
	fail "no 'where to point a mail client' lines on the console"
fi
fp=$(grep -o "SHA-256 [0-9A-F:]*" "$work/boot1.log" | head -n 1 | cut -d' ' -f2)
served=$(echo | openssl s_client -connect "127.0.0.1:$((base + 993))" 2>/dev/null | openssl x509 -noout -fingerprint -sha256 | cut -d= -f2)
if [ -n "$fp" ] && [ "$fp" = "$served" ]; then
	ok "the self-signed certificate's fingerprint on the console is the one IMAPS serves ($fp)"
else
	fail "fingerprint on the console (${fp:-none}) is not the served one (${served:-none})"
fi

step "the log: a RAM ring from the first line of boot, copied to the card"
ring=$(console 'logread | grep -c "smolmail-init: booting"' | tail -n 1)
check "logread has this boot's lines, from before the data partition was mounted" test "${ring:-0}" -ge 1
card_log=$(console 'grep -c "init: booting" /data/log/messages' | tail -n 1)
check "/data/log/messages has them too" test "${card_log:-0}" -ge 1
procs=$(console 'ps -o comm | grep -c -x logread' | tail -n 1)
check "one long-lived logread copies the ring (no process per line)" test "${procs:-0}" = 1

step "IPv6: SLAAC address, printed at boot, answering SMTP"
# QEMU's user network advertises fec0::/64 (RFC 4862 SLAAC). Its host
# forwarding is IPv4 only (QEMU 7.2), so SMTP over IPv6 is checked from the
# guest itself, to its own global address: the dual-stack [::]:25 listener.
if wait_log "smolmail-init: network: eth0 IPv6 fec0::" 30 "$work/boot1.log"; then
	ok "IPv6 address printed at boot: $(grep -o "network: eth0 IPv6 .*" "$work/boot1.log" | head -n 1 | tr -d '\r')"
else
	fail "no IPv6 address printed at boot"
fi
check "smolmail listens on [::]:25 (IPv6 and IPv4)" grep -q "smtp: listening on \[::\]:25" "$work/boot1.log"
v6=$(console "ip -6 addr show dev eth0 | awk '\$1 == \"inet6\" && !/ scope (link|host)/ { sub(/\\/.*/, \"\", \$2); print \$2; exit }'" | tail -n 1)
echo "    the guest's IPv6 address: ${v6:-none}"
greeting=$(console "printf 'QUIT\\r\\n' | nc -w 10 $v6 25 | head -n 1" | tail -n 1)
echo "    $greeting"
if [ -n "$v6" ] && grep -q "^220 " <<<"$greeting"; then
	ok "SMTP answers on the board's IPv6 address [$v6]:25"
else
	fail "no SMTP greeting on the board's IPv6 address [${v6:-none}]:25: $greeting"
fi
logged=$(console "sleep 1; grep -cF 'smtp: connect from [$v6]:' /data/log/messages" | tail -n 1)
check "the IPv6 client is logged as itself in /data/log/messages" test "${logged:-0}" -ge 1 2> /dev/null
status6=$(console 'smolmail-status | grep "^addresses"' || true)
echo "    $status6"
check "smolmail-status lists the IPv6 address" grep -qF "${v6:-no address}/" <<<"$status6"

step "submission and reading"
check "submit over 587 with STARTTLS and AUTH" mailpy submit 587 "hello over 587"
check "submit over 465 with TLS and AUTH" mailpy submit 465 "hello over 465"
check "AUTH with the password whose hash was in smolmail.env" mailpy auth hashed@home.arpa hashed-pw
for proto in imaps pop3s; do
	rc=0
	out=$(mailpy "$proto" "hello over 587" 2>&1) || rc=$?
	echo "    $out"
	case $rc in
	0) ok "read it over ${proto^^}" ;;
	3) skip "read it over ${proto^^}: $(head -n 1 <<<"$out")" ;;
	*) fail "read it over ${proto^^}" ;;
	esac
done

step "power cut in the middle of a stream of submissions"
# (the file exists before the loop reads it: the background job's own
# redirection may come later, and an unreadable count ended the wait at once)
: > "$work/accepted.txt"
mailpy stream >> "$work/accepted.txt" 2> "$work/stream.err" &
stream=$!
i=0
while [ "$(wc -l < "$work/accepted.txt")" -lt 20 ] && [ "$i" -lt 120 ]; do sleep 0.5; i=$((i + 1)); done
qemu_kill KILL
wait "$stream" 2>/dev/null || true
accepted=$(wc -l < "$work/accepted.txt")
echo "    $accepted messages answered 250 before the power cut ($(cat "$work/stream.err"))"
check "submissions were being accepted when the power went" test "$accepted" -ge 1
echo "    e2fsck -fy on a copy of the data partition as the power cut left it:"
rc=0
fsck_data "$card" -fy || rc=$?
# 0: clean; 1: the journal was replayed or something fixed
if [ "$rc" -le 1 ]; then ok "data file system after the power cut: e2fsck exit $rc"; else fail "data file system after the power cut: e2fsck exit $rc"; fi

step "second boot"
qemu_start "$card" "$work/boot2.log"
if mailpy banner 180 > /dev/null; then ok "SMTP banner after the power cut"; else fail "no SMTP banner after the power cut"; fi
if grep -q "e2fsck: smolmail-data" "$work/boot2.log" && ! grep -q "data file system clean" "$work/boot2.log"; then
	ok "after the power cut the data file system was checked at boot (journal to replay), not taken as clean"
else
	fail "after the power cut the data file system was not checked at boot"
fi
rc=0
mailpy pop3-subjects > "$work/stored.txt" 2> "$work/pop3.err" || rc=$?
if [ "$rc" = 0 ]; then
	missing=$(grep -vxF -f "$work/stored.txt" "$work/accepted.txt" || true)
	if [ -z "$missing" ]; then
		ok "every message answered 250 is there after the power cut ($accepted of them; POP3 $(cat "$work/pop3.err"))"
	else
		fail "messages answered 250 but lost: $missing"
	fi
elif [ "$rc" = 3 ]; then
	skip "messages after the power cut: POP3 not built yet, and nothing else shows the store from outside"
else
	fail "reading the mailbox after the power cut: $(cat "$work/pop3.err")"
fi
printf '\n' >&3
sleep 1
console 'poweroff' > /dev/null || true
if qemu_wait_exit 90; then ok "poweroff at the console ends the machine"; else fail "poweroff did not finish within 90 s"; qemu_kill KILL; fi
check "shutdown stopped smolmail and unmounted the data partition" grep -q "unmounting /data" "$work/boot2.log"
echo "    e2fsck -fn on the data partition of the card:"
check "data file system clean after power cut, reboot and poweroff" fsck_data "$card" -fn

step "a boot after a clean shutdown: the time to the SMTP banner"
# the everyday case: the card was shut down cleanly, nothing to grow or
# check. The issue's target is 3 s in QEMU's virt machine on the test host;
# the check itself allows 10 s, so a busy host does not fail it.
qemu_start "$card" "$work/boot3.log"
if mailpy banner 120 > /dev/null; then
	t=$(elapsed "$qemu_t0" "$(now)")
	echo "$t" > "$work/banner3-seconds"
	if awk -v t="$t" 'BEGIN { exit !(t <= 3) }'; then target="the 3 s target met"; else target="over the 3 s target"; fi
	check "SMTP banner after ${t} s from QEMU start on a boot after the first ($target)" awk -v t="$t" 'BEGIN { exit !(t <= 10) }'
else
	fail "no SMTP banner on the third boot"
fi
check "the clean data file system was not checked at boot" grep -q "data file system clean" "$work/boot3.log"
printf '\n' >&3
sleep 1
console 'poweroff' > /dev/null || true
qemu_wait_exit 90 || qemu_kill KILL

# ================================================================ updates
step "a system update dropped on the boot partition: installed beside, tried, kept"
# "Newer builds" made from this one: its initramfs with one more archive
# after it, in the same LZ4 stream (the kernel unpacks the archives in
# order, the later file wins): a release line that says which build it is,
# and for the broken one a smolmail that exits at once.
newer() { # DIR NOTE [BROKEN]: boot files of a build whose release says NOTE
	rm -rf "$1"
	cp -a out/qemu-virt/boot "$1"
	mkdir -p "$1.ov/etc" "$1.ov/usr/lib/smolmail"
	printf '%s (%s)\n' "$(lz4 -dc out/qemu-virt/boot/initramfs.gz | cpio -i --quiet --to-stdout etc/smolmail-release)" "$2" > "$1.ov/etc/smolmail-release"
	if [ -n "${3:-}" ]; then printf '#!/bin/sh\necho "this build is broken" >&2\nexit 1\n' > "$1.ov/usr/lib/smolmail/smolmail"; chmod 0755 "$1.ov/usr/lib/smolmail/smolmail"; fi
	{
		lz4 -dc out/qemu-virt/boot/initramfs.gz
		(cd "$1.ov" && find . -mindepth 1 | cpio -o -H newc --quiet -R 0:0)
	} | lz4 -l -9 -q > "$1/initramfs.gz"
	rm -rf "$1.ov"
}
mail_count() { mailpy pop3-subjects 2> /dev/null | wc -l; }
newer "$work/boot-good" "update test"
BOOT_DIR=$work/boot-good UPDATE_OUT=$work/good.tar scripts/make-update.sh qemu-virt | sed 's/^/    /'
newer "$work/boot-broken" "broken update test" broken
BOOT_DIR=$work/boot-broken UPDATE_OUT=$work/broken.tar scripts/make-update.sh qemu-virt | sed 's/^/    /'
# unsigned, and signed by another key: refused
UPDATE_OUT=$work/unsigned.tar SMOLMAIL_UPDATE_KEY="" scripts/make-update.sh qemu-virt > /dev/null 2>&1
# a short trial for the test (the default gives smolmail 300 s)
env_now=$(MTOOLS_SKIP_CHECK=1 mtype -i "$fat" ::smolmail.env | tr -d '\r')
printf '%s\r\n' "$env_now" "UPDATE_TRIAL_SECONDS=40" > "$work/smolmail.env"
MTOOLS_SKIP_CHECK=1 mcopy -o -i "$fat" "$work/smolmail.env" ::smolmail.env

MTOOLS_SKIP_CHECK=1 mcopy -o -i "$fat" "$work/unsigned.tar" ::smolmail-update.tar
qemu_start "$card" "$work/update0.log"
mailpy banner 180 > /dev/null || true
before=$(mail_count)
echo "    $before messages in the mailbox before the updates"
check "an unsigned update is refused and set aside" grep -q "update: REFUSED" "$work/update0.log"
printf '\n' >&3
sleep 1
console 'poweroff' > /dev/null || true
qemu_wait_exit 90 || qemu_kill KILL
refused=$(MTOOLS_SKIP_CHECK=1 mtype -i "$fat" ::smolmail-update-refused.txt 2>/dev/null | tr -d '\r')
echo "$refused" | sed 's/^/    /'
if grep -q "REFUSED" <<<"$refused" && ! MTOOLS_SKIP_CHECK=1 mdir -b -i "$fat" :: | grep -q "smolmail-update.tar"; then
	ok "the refused archive is removed from the card, the reason left in smolmail-update-refused.txt"
else
	fail "the refused archive is still on the card, or no reason beside it"
fi

# as from a PC: scripts/update-card.sh writes out/qemu-virt/smolmail-update.tar
cp "$work/good.tar" out/qemu-virt/smolmail-update.tar
scripts/update-card.sh qemu-virt "$card" | sed 's/^/    /'
qemu_start "$card" "$work/update1.log"
if qemu_wait_exit 300 && grep -q "update: .*installed in slot b" "$work/update1.log"; then
	ok "the update was checked, the store backed up, the new system written to slot b, and the board restarted"
else
	fail "the update was not installed"
	grep -a "update" "$work/update1.log" | tail -n 10
	qemu_kill KILL
fi
qemu_start "$card" "$work/update2.log"
mailpy banner 180 > /dev/null || true
check "the board booted the new system (slot b)" grep -q "booting .*(update test)" "$work/update2.log"
if wait_log "update: .*(slot b) is up: kept" 90 "$work/update2.log"; then ok "smolmail came up on it: the update is kept"; else fail "the update was not confirmed"; fi
after=$(mail_count)
check "every message is still there after the update ($after of $before)" test "$after" = "$before" -a "$before" -gt 0
printf '\n' >&3
sleep 1
console 'poweroff' > /dev/null || true
qemu_wait_exit 90 || qemu_kill KILL
check "config.txt boots slot b for good" sh -c "MTOOLS_SKIP_CHECK=1 mtype -i '$fat' ::config.txt | grep -qx 'os_prefix=b/'"

step "a broken update: tried, and the board returns to the system it had"
MTOOLS_SKIP_CHECK=1 mcopy -o -i "$fat" "$work/broken.tar" ::smolmail-update.tar
qemu_start "$card" "$work/update3.log"
if qemu_wait_exit 300 && grep -q "update: .*installed in slot a" "$work/update3.log"; then ok "the broken update was installed in slot a"; else fail "the broken update was not installed"; qemu_kill KILL; fi
qemu_start "$card" "$work/update4.log"
if qemu_wait_exit 240 && grep -q "booting .*(broken update test)" "$work/update4.log" &&
	grep -q "smolmail did not start on the new system within 40 s" "$work/update4.log"; then
	ok "the broken system booted, smolmail did not start, and the board restarted by itself"
else
	fail "the broken system's trial did not end in a restart"
	grep -a "update\|smolmail-init" "$work/update4.log" | tail -n 10
	qemu_kill KILL
fi
qemu_start "$card" "$work/update5.log"
mailpy banner 180 > /dev/null || true
check "back on the previous system (the good update, slot b)" grep -q "booting .*(update test)" "$work/update5.log"
check "the failed update is reported" grep -q "update: .*(slot a) failed; back on the previous system (slot b)" "$work/update5.log"
after=$(mail_count)
check "every message is still there after the failed update ($after of $before)" test "$after" = "$before"
printf '\n' >&3
sleep 1
console 'poweroff' > /dev/null || true
qemu_wait_exit 90 || qemu_kill KILL
check "data file system clean after the updates" fsck_data "$card" -fn

# ================================================================ Wi-Fi
step "Wi-Fi: join a WPA2 network on a simulated radio, get an address, serve mail over it"
# The kernel's mac80211_hwsim gives the guest two radios that hear each
# other. The board's own start-up joins the network named in smolmail.env
# on the first (wpa_supplicant, DHCP); scripts/qemu-wifi-ap.sh, copied to
# the boot partition, runs the access point on the second in a network
# namespace of its own (hostapd, udhcpd), and connects from there to port
# 25 of the address the board got, so the bytes can only go over the radio.
wcard=$work/wifi.img
cp "$img" "$wcard"
truncate -s 1G "$wcard"
printf '%s\r\n' "SMOLMAIL_HOSTNAME=mail.home.arpa" "MAIL_USER=test@home.arpa:secret-pw" "NTP_SERVERS=off" \
	"WIFI_SSID=smolmail-test" "WIFI_PSK=correct horse battery" "WIFI_COUNTRY=de" > "$work/wifi.env"
wfat="$wcard@@$(part_offset "$wcard" 1)"
MTOOLS_SKIP_CHECK=1 mcopy -o -i "$wfat" "$work/wifi.env" ::smolmail.env
MTOOLS_SKIP_CHECK=1 mcopy -o -i "$wfat" scripts/qemu-wifi-ap.sh ::ap.sh
qemu_start "$wcard" "$work/wifi.log"
if mailpy banner 180 > /dev/null && wait_log 'Wi-Fi: wlan0 joining "smolmail-test" (country DE)' 60 "$work/wifi.log"; then
	ok "the board started wpa_supplicant on wlan0 for the network in smolmail.env"
else
	fail "no wpa_supplicant on wlan0"
	grep -a "smolmail-init" "$work/wifi.log" | tail -n 20
fi
printf '\n' >&3
sleep 3
console 'mount -o ro /dev/vda1 /boot' > /dev/null || true
console 'sh /boot/ap.sh start' | sed 's/^/    /'
if wait_log "DHCP bound: wlan0 192\.168\.77\." 120 "$work/wifi.log"; then
	waddr=$(grep -ao "DHCP bound: wlan0 192\.168\.77\.[0-9]*" "$work/wifi.log" | head -n 1 | awk '{ print $4 }')
	ok "joined the access point and got $waddr by DHCP over Wi-Fi"
else
	waddr=""
	fail "no DHCP lease on wlan0 within 120 s"
	console 'grep -i wpa /tmp/hostapd.log; logread | grep -i wpa | tail' | sed 's/^/    /' || true
fi
greeting=$(console "sh /boot/ap.sh probe ${waddr:-192.168.77.0}" | tail -n 1)
echo "    from the access point's side: $greeting"
check "SMTP banner over the Wi-Fi link, from the access point's network" grep -q "^220 mail.home.arpa" <<<"$greeting"
# (console lines stay under 80 columns, or the shell wraps them)
mdns=$(console "sh /boot/ap.sh mdns ${waddr:-192.168.77.0}" | tr -d '\r' | tail -n 1)
echo "    mDNS from the access point's side: $mdns"
check "mDNS (RFC 6762) query for mail.local answered over the Wi-Fi link" grep -q "^Address: *${waddr:-none}" <<<"$mdns"
console 'logread > /tmp/l; cat /data/log/m* >> /tmp/l' > /dev/null || true
leak=$(console 'grep -c "ct horse" /tmp/l' | tr -d '\r' | tail -n 1)
check "the Wi-Fi passphrase is in neither log" test "${leak:-x}" = 0
reg=$(console 'iw reg get | grep -c "country DE"' | tail -n 1)
check "regulatory domain set from WIFI_COUNTRY (iw reg get: DE)" test "${reg:-0}" -ge 1
wst=$(console 'smolmail-status | grep wlan0' | tr -d '\r')
echo "    $wst"
check "smolmail-status shows the Wi-Fi link and its network" grep -q "link wlan0: Wi-Fi, up, network smolmail-test, COMPLETED" <<<"$wst"
console 'umount /boot; poweroff' > /dev/null || true
qemu_wait_exit 90 || qemu_kill KILL
wenv=$(MTOOLS_SKIP_CHECK=1 mtype -i "$wfat" ::smolmail.env | tr -d '\r')
if grep -qx "WIFI_PSK=[0-9a-f]\{64\}" <<<"$wenv" && ! grep -q "correct horse" <<<"$wenv"; then
	ok "the Wi-Fi passphrase in smolmail.env was replaced by its hash"
else
	fail "smolmail.env still holds the Wi-Fi passphrase: $(grep WIFI_PSK <<<"$wenv")"
fi

# ================================================================ raspi3b
step "build the rpi3 image"
scripts/build-image.sh rpi3
pimg=out/rpi3/sdcard.img

step "boot the rpi3 image on QEMU's raspi3b model"
# the raspi3b model wants an SD card of a power-of-two size
cp "$pimg" "$work/pi.img"
truncate -s 256M "$work/pi.img"
fat="$work/pi.img@@$(part_offset "$work/pi.img" 1)"
for f in vmlinuz initramfs.gz cmdline.txt bcm2837-rpi-3-b.dtb; do
	MTOOLS_SKIP_CHECK=1 mcopy -n -i "$fat" "::$f" "$work/$f"
done
t0=$(now)
# serial 0 is the PL011 (Bluetooth on a real Pi 3), serial 1 the mini UART
# that is ttyS1, the console on the GPIO header
qemu-system-aarch64 -M raspi3b -kernel "$work/vmlinuz" -dtb "$work/bcm2837-rpi-3-b.dtb" \
	-initrd "$work/initramfs.gz" -append "$(tr -d '\r\n' < "$work/cmdline.txt")" \
	-drive "file=$work/pi.img,format=raw,if=sd" -serial null -serial "file:$work/pi.log" \
	-nic none -display none -monitor none -pidfile "$work/pi.pid" -no-reboot &
if wait_log "listening on \[::\]:25" 600 "$work/pi.log"; then
	t=$(elapsed "$t0" "$(now)")
	ok "smolmail started on the raspi3b model after ${t} s"
	echo "$t" > "$work/raspi3b-seconds"
else
	fail "smolmail did not start on the raspi3b model within 600 s"
fi
grep -E "^smolmail-init|listening|^\[" "$work/pi.log" | grep -v "^\[ *[0-9]" | head -n 40 | sed 's/^/    /'
kill -KILL "$(cat "$work/pi.pid")" 2>/dev/null || true
wait 2>/dev/null || true

step "build the rpi4 image"
# no QEMU model of the Pi 4 in Debian bookworm: the image is built, not booted
if scripts/build-image.sh rpi4 > "$work/rpi4.log" 2>&1; then
	ok "rpi4 image built: $(tail -n 2 "$work/rpi4.log" | head -n 1)"
else
	cat "$work/rpi4.log"
	fail "rpi4 image build"
fi

echo
echo "image: $(stat -c %s "$img") bytes raw; SMTP banner $(cat "$work/banner-seconds" 2>/dev/null || echo -) s after QEMU start on the first boot," \
	"$(cat "$work/banner3-seconds" 2>/dev/null || echo -) s on a later one;" \
	"raspi3b: smolmail up after $(cat "$work/raspi3b-seconds" 2>/dev/null || echo -) s"
echo "qemu: $passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
