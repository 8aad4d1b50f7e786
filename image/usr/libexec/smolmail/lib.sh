# Shell functions shared by the start-up and shutdown scripts.

# log MESSAGE: to the console, and to the log through the kernel's log
# buffer (/dev/kmsg, at "notice", below what a `quiet` console shows; klogd
# hands it to syslogd's RAM ring, copied to /data/log/messages once the data
# partition is mounted). Both are shell redirections: no process per line,
# which under a slow CPU is what start-up time is made of. With
# `smolmail.timing` on the kernel command line, console lines carry the
# seconds since the kernel started, to see where boot time goes.
log() {
	if [ -n "${SMOLMAIL_TIMING:-}" ]; then
		read -r up _ < /proc/uptime
		echo "smolmail-init: [$up] $*" > /dev/console
	else
		echo "smolmail-init: $*" > /dev/console
	fi
	echo "<5>smolmail-init: $*" > /dev/kmsg 2> /dev/null
	return 0
}
# timing_from_cmdline: sets SMOLMAIL_TIMING when the kernel command line
# asks for it (in the shell: no process for it)
timing_from_cmdline() {
	cmdline=""
	[ -r /proc/cmdline ] && read -r cmdline < /proc/cmdline
	case " $cmdline " in *" smolmail.timing "*) SMOLMAIL_TIMING=1 ;; esac
	return 0
}
timing_from_cmdline

# fs_clean DEVICE: true if the ext4 file system on DEVICE was unmounted
# cleanly and records no errors: its superblock's s_state is "valid" with no
# "errors" bit, and the journal needs no replay (incompat flag RECOVER,
# 0x4). Such a file system needs no e2fsck at boot; anything else gets one.
fs_clean() {
	# bytes 1082-1083 (s_state, little-endian) and 1120 (the low byte of
	# s_feature_incompat), read by one od
	# shellcheck disable=SC2046 # the bytes, split into the arguments
	set -- $(od -An -tu1 -v -j 1082 -N 39 "$1" 2>/dev/null)
	[ "$#" = 39 ] && [ "$1" = 1 ] && [ "$2" = 0 ] && [ $((${39} & 4)) = 0 ]
}

# fail MESSAGE: start-up cannot go on; smolmail is not started, the console
# shell stays available, and the reason is shown where smolmail would run
fail() {
	log "ERROR: $*; smolmail is not started"
	echo "$*" > /run/smolmail/not-ready
	exit 1
}

# clock_forward FILE: sets the clock to the seconds since 1970 that FILE
# holds, if it is behind that (it never goes back; a missing or damaged
# file changes nothing)
clock_forward() {
	t=""
	[ -f "$1" ] && read -r t < "$1"
	case "$t" in '' | *[!0-9]*) return 0 ;; esac
	[ "$(date +%s)" -lt "$t" ] && date -u -s "@$t" > /dev/null
	return 0
}

# server_pids: the running `smolmail serve` (not admin commands)
server_pids() {
	for p in $(pidof smolmail); do
		[ "$(readlink "/proc/$p/exe")" = /usr/lib/smolmail/smolmail ] &&
			tr '\0' ' ' < "/proc/$p/cmdline" | grep -q ' serve' && echo "$p"
	done
	return 0
}
