#!/usr/bin/env bash
# Measures one argon2id password verification at smolmail's parameters
# (m=19456 KiB, t=2, p=1), and one SHA512-CRYPT verification with the
# longest password a login may present (1 KiB): natively, then as aarch64
# code under qemu-user. Runs the ignored tests *_timing of
# auth::password::tests in the release profile (the one shipped) and prints
# each median.
#
# qemu-user emulates an aarch64 CPU on this machine's; its figure is only a
# rough stand-in for a Raspberry Pi 3 and must be confirmed on the board.
# The aarch64 run uses the runner, linker and C compiler set in
# .cargo/config.toml (scripts/setup.sh installs them).
set -euo pipefail

cd "$(dirname "$0")/.."

TESTS=auth::password::tests::

# Run the timing test with the given extra cargo arguments and print the
# line it reports (it goes to stderr, the build noise is dropped).
measure() {
  local log
  log=$(mktemp)
  if ! cargo test --release "$@" --lib "$TESTS" -- --ignored --nocapture >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    echo "bench-password: the timing test failed" >&2
    exit 1
  fi
  grep 'verify: median' "$log" || { cat "$log" >&2; rm -f "$log"; exit 1; }
  rm -f "$log"
}

echo "native ($(uname -m)):"
measure
echo "aarch64-unknown-linux-musl under qemu-user:"
measure --target aarch64-unknown-linux-musl
