# Shell functions shared by the start-up and shutdown scripts.

# log MESSAGE: to the console, and to the log file once syslogd runs
log() {
	echo "smolmail-init: $*" > /dev/console
	[ -e /run/smolmail/syslog ] && logger -t smolmail-init -- "$*"
	return 0
}

# fail MESSAGE: start-up cannot go on; smolmail is not started, the console
# shell stays available, and the reason is shown where smolmail would run
fail() {
	log "ERROR: $*; smolmail is not started"
	echo "$*" > /run/smolmail/not-ready
	exit 1
}

# clock_forward SECONDS: sets the clock to SECONDS since 1970 if it is behind
# that (it never goes back)
clock_forward() {
	case "$1" in '' | *[!0-9]*) return 0 ;; esac
	[ "$(date +%s)" -lt "$1" ] && date -u -s "@$1" > /dev/null
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
