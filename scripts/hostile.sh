#!/usr/bin/env bash
# Hostile load (issue 13): the attacks DESIGN.md's "Budgets" section bounds,
# each against a release smolmail of its own on 127.0.0.1, with what each
# cost printed beside its target (scripts/hostile.py says which and how).
# scripts/test.sh runs this; it fails when a bound is broken by a wide
# margin (figures, not timings: the bounds are generous).
#
#   scripts/hostile.sh                  # every scenario
#   scripts/hostile.sh memory stall     # some of them
#
# The full-disk scenario mounts a small tmpfs, so as root it runs in a mount
# namespace of its own (unshare), which touches no mount outside it.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --locked --quiet --bin smolmail
bin="${CARGO_TARGET_DIR:-$PWD/target}/release/smolmail"
# The flood scenario holds 1000 connections: as many descriptors on our side.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
echo "== hostile load against smolmail $("$bin" version | head -1), release build, $(nproc) cores"
if [ "$(id -u)" = 0 ]; then
  exec unshare --mount --propagation private python3 scripts/hostile.py "$bin" "$@"
fi
exec python3 scripts/hostile.py "$bin" "$@"
