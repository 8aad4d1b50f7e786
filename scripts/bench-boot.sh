#!/usr/bin/env bash
# Boot time of the qemu-virt image: seconds from QEMU's start to smolmail's
# SMTP banner, on the first boot of a fresh card and on N later boots after a
# clean `poweroff`, for the board's own kernel (board/qemu-virt/kernel.config)
# and for Debian's generic arm64 kernel with its modules, the peer, built
# into the same image otherwise (SMOLMAIL_KERNEL=debian). Prints every boot,
# the median of the later ones and the ratio.
#
#   scripts/bench-boot.sh [N]        (N later boots per kernel, default 5)
#
# Both cards get the same smolmail.env (a user, NTP off) and the same kernel
# command line; Debian's kernel also gets `cryptomgr.notests`, which the own
# kernel has compiled in, so the comparison is of what is loaded and probed.
# Builds both images (the own kernel is cached in out/cache/kernel).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-5}
tmp=$(mktemp -d /tmp/smolmail-bench-boot.XXXXXX)
qpid=""
cleanup() { # (QEMU's own pid file: boot may run in a command substitution)
	[ -f "$tmp/qemu.pid" ] && kill "$(cat "$tmp/qemu.pid")" 2> /dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
base=$((30000 + RANDOM % 20000 / 100 * 100))

SMOLMAIL_SKIP_SETUP=1 scripts/build-image.sh qemu-virt > "$tmp/build-own.log" 2>&1 ||
	{ cat "$tmp/build-own.log"; exit 1; }
SMOLMAIL_KERNEL=debian OUT=out/qemu-virt-debian SMOLMAIL_SKIP_SETUP=1 scripts/build-image.sh qemu-virt \
	> "$tmp/build-debian.log" 2>&1 || { cat "$tmp/build-debian.log"; exit 1; }

now() { date +%s.%N; }
# banner PORT: waits (120 s at most) for a "220 " greeting on PORT. QEMU's
# port forward accepts before the guest listens, so only the greeting
# counts; and it holds a try open while the guest has no address yet, so
# each try is short (a ready guest greets in milliseconds), or the banner
# would be seen up to a try's length late.
banner() {
	python3 - "$1" << 'EOF'
import socket, sys, time
end = time.monotonic() + 120
while time.monotonic() < end:
    try:
        with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=0.25) as s:
            if s.recv(64).startswith(b"220 "):
                sys.exit(0)
    except OSError:
        pass
    time.sleep(0.05)
sys.exit(1)
EOF
}
# boot CARD: one boot to the banner, then `poweroff` at the console; prints
# the seconds to the banner
boot() {
	rm -f "$tmp/console" "$tmp/qemu.pid"
	mkfifo "$tmp/console"
	QEMU_OPTS="-pidfile $tmp/qemu.pid -no-reboot" PORT_BASE=$base \
		scripts/run-qemu.sh "$1" < "$tmp/console" > "$tmp/qemu.log" 2>&1 &
	qpid=$!
	exec 3> "$tmp/console"
	local t0 t1
	t0=$(now)
	banner $((base + 25)) || { echo "bench-boot: no banner; the console said:" >&2; tail -n 30 "$tmp/qemu.log" >&2; exit 1; }
	t1=$(now)
	sleep 1
	printf '\npoweroff\n' >&3
	local i=0
	while kill -0 "$qpid" 2> /dev/null; do
		i=$((i + 1))
		[ "$i" -gt 120 ] && { kill "$qpid"; echo "bench-boot: poweroff did not finish" >&2; exit 1; }
		sleep 0.5
	done
	wait "$qpid" 2> /dev/null || true
	qpid=""
	exec 3>&-
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f\n", b - a }'
}
# card IMAGE NAME [CMDLINE-EXTRA]: a 1 GiB card of IMAGE with smolmail.env
card() {
	local c=$tmp/$2.img fat
	cp "$1" "$c"
	truncate -s 1G "$c"
	fat="$c@@$(($(od -An -tu4 -j 454 -N 4 "$c" | tr -d ' ') * 512))"
	printf '%s\r\n' SMOLMAIL_HOSTNAME=mail.home.arpa MAIL_USER=test@home.arpa:secret-pw NTP_SERVERS=off > "$tmp/env"
	MTOOLS_SKIP_CHECK=1 mcopy -o -i "$fat" "$tmp/env" ::smolmail.env
	if [ -n "${3:-}" ]; then
		MTOOLS_SKIP_CHECK=1 mtype -i "$fat" ::cmdline.txt | tr -d '\r\n' > "$tmp/cmdline"
		printf ' %s\n' "$3" >> "$tmp/cmdline"
		MTOOLS_SKIP_CHECK=1 mcopy -o -i "$fat" "$tmp/cmdline" ::cmdline.txt
	fi
	echo "$c"
}
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

declare -A med
for kind in own debian; do
	if [ "$kind" = own ]; then
		c=$(card out/qemu-virt/sdcard.img own)
		label="own kernel ($(awk '$1 == "kernel.config" { print "kernel.config " substr($2, 1, 12) }' out/qemu-virt/manifest.txt))"
	else
		c=$(card out/qemu-virt-debian/sdcard.img debian cryptomgr.notests)
		label="Debian's kernel ($(sed -n 's/.*kernel \([^ ]*\)$/\1/p' "$tmp/build-debian.log" | tail -n 1))"
	fi
	first=$(boot "$c")
	: > "$tmp/$kind.times"
	for _ in $(seq "$n"); do boot "$c" >> "$tmp/$kind.times"; done
	med[$kind]=$(median < "$tmp/$kind.times")
	echo "$label: first boot ${first} s; later boots $(tr '\n' ' ' < "$tmp/$kind.times")s; median ${med[$kind]} s"
done
awk -v a="${med[own]}" -v b="${med[debian]}" \
	'BEGIN { printf "later boots, QEMU start to SMTP banner: own kernel %.2f s, Debian'"'"'s %.2f s (%.2fx faster)\n", a, b, b / a }'
