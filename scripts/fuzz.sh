#!/usr/bin/env bash
# scripts/fuzz.sh [SECONDS] — runs every cargo-fuzz target of fuzz/ for
# SECONDS each (default 60) and prints one line per target: its name, the
# executions it made and what it found (ok, or crash / timeout / oom with
# the input that causes it). Exits non-zero if any target found anything.
#
# Needs the nightly toolchain (`cargo +nightly`); installs cargo-fuzz when
# it is missing. Targets are built once (release, AddressSanitizer, debug
# assertions), then each runs on a fresh writable corpus plus its seeds
# from fuzz/seeds/<target> (read only: libFuzzer writes new inputs to the
# first corpus directory only). An input slower than FUZZ_TIMEOUT seconds
# counts as a finding, so quadratic paths show up, not only panics.
#
# Environment: FUZZ_TIMEOUT (default 5) seconds per input, FUZZ_RSS_MB
# (default 2048) memory limit, FUZZ_WORK (default fuzz/target/runs) where
# corpora, logs and artifacts go; FUZZ_TARGETS limits the run to the given
# space-separated targets.
set -euo pipefail

seconds="${1:-60}"
timeout="${FUZZ_TIMEOUT:-5}"
rss_mb="${FUZZ_RSS_MB:-2048}"
root="$(cd "$(dirname "$0")/.." && pwd)"
work="${FUZZ_WORK:-$root/fuzz/target/runs}"

if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "fuzz.sh: no nightly toolchain (rustup toolchain install nightly)" >&2
    exit 2
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi

cd "$root/fuzz"
# The binaries are looked for under fuzz/target, whatever the caller's
# CARGO_TARGET_DIR says.
export CARGO_TARGET_DIR="$root/fuzz/target"
echo "fuzz.sh: building the targets" >&2
cargo +nightly fuzz build >&2
triple="$(rustc +nightly -vV | sed -n 's/^host: //p')"
bin_dir="$root/fuzz/target/$triple/release"
targets="${FUZZ_TARGETS:-$(cargo +nightly fuzz list)}"

# Longest input per target: long enough for the parser's interesting
# structure and for slow (quadratic) paths to show, short enough for many
# executions per second. -len_control=0 lets inputs be that long from the
# start rather than after a long warm-up, which a short run never ends.
max_len() {
    case "$1" in
    mime_message | summary_record) echo 65536 ;;
    imap_command | fetch_response | smtp_data) echo 16384 ;;
    mdns_query) echo 9000 ;;
    *) echo 4096 ;;
    esac
}

found=0
printf '%-16s %14s  %s\n' target executions result
for target in $targets; do
    dir="$work/$target"
    rm -rf "$dir"
    mkdir -p "$dir/corpus" "$dir/artifacts"
    corpora=("$dir/corpus")
    if [ -d "$root/fuzz/seeds/$target" ]; then
        corpora+=("$root/fuzz/seeds/$target")
    fi
    log="$dir/log"
    # libFuzzer's exit status says little (a finding or not); the log says
    # which kind and where the input went.
    "$bin_dir/$target" "${corpora[@]}" \
        -max_total_time="$seconds" -timeout="$timeout" -rss_limit_mb="$rss_mb" \
        -max_len="$(max_len "$target")" -len_control=0 -print_final_stats=1 \
        -artifact_prefix="$dir/artifacts/" >"$log" 2>&1 || true
    execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
    if [ -z "$execs" ]; then
        # No final statistics after a crash: the last status line's count.
        execs="$(sed -n 's/^#\([0-9][0-9]*\).*/\1/p' "$log" | tail -n 1)"
    fi
    artifact="$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | head -n 1)"
    if grep -q 'ERROR: libFuzzer: timeout' "$log"; then
        result="timeout $artifact"
    elif grep -q -e 'ERROR: libFuzzer: out-of-memory' -e 'ERROR: libFuzzer: malloc' "$log"; then
        result="oom $artifact"
    elif [ -n "$artifact" ] || grep -q -e '^==[0-9]*==ERROR' -e 'ERROR: libFuzzer' "$log"; then
        result="crash ${artifact:-(see $log)}"
    elif ! grep -q '^Done [0-9]* runs' "$log"; then
        result="error (see $log)"
    else
        result=ok
    fi
    [ "$result" = ok ] || found=1
    printf '%-16s %14s  %s\n' "$target" "${execs:-?}" "$result"
done
exit "$found"
