#!/usr/bin/env bash
# All of smolmail's tests, as CI runs them (.ci/run) and as README.md says:
# set-up, lints, native unit and integration tests, the static aarch64
# cross build, and the store tests again under qemu-user emulation.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step "setup"
scripts/setup.sh

step "every tool the tests use is present and able (scripts/check-tools.sh)"
scripts/check-tools.sh

step "format and lints"
cargo fmt --check
cargo clippy --all-targets --locked -- -D warnings

step "native tests"
cargo test --locked

step "rules for clients off this host (in a network namespace)"
# AUTH before TLS is allowed only from loopback, so this test needs a client
# address that is not 127/8: 192.0.2.1 on the loopback device of a network
# namespace of its own, which touches nothing outside it.
unshare --net sh -c 'ip link set lo up && ip addr add 192.0.2.1/32 dev lo &&
  export SMOLMAIL_TEST_NONLOOPBACK=192.0.2.1 &&
  cargo test --locked --offline --test smtp auth_needs_tls_off_loopback -- --exact --ignored &&
  cargo test --locked --offline --test imap logindisabled_off_loopback -- --exact --ignored' \
  2>&1 | tee /tmp/smolmail-netns.log
# (the tests are #[ignore]d and fail without the namespace's address: prove they ran)
for t in auth_needs_tls_off_loopback logindisabled_off_loopback; do
  grep -q "^test $t \.\.\. ok$" /tmp/smolmail-netns.log || { echo "FAIL: the namespace test $t did not run" >&2; exit 1; }
done

step "an IPv6 trusted network, off loopback (in a network namespace)"
# --trusted-network 2001:db8::/32 seen from 2001:db8::1 on the loopback
# device of a namespace of its own, through the default dual-stack listener.
unshare --net sh -c 'ip link set lo up && ip addr add 2001:db8::1/128 dev lo &&
  SMOLMAIL_TEST_NONLOOPBACK6=2001:db8::1 cargo test --locked --offline --test client_addr ipv6_trusted_network_off_loopback -- --exact --ignored' \
  2>&1 | tee /tmp/smolmail-netns-ipv6.log
grep -q "^test ipv6_trusted_network_off_loopback \.\.\. ok$" /tmp/smolmail-netns-ipv6.log || { echo "FAIL: the IPv6 namespace test did not run" >&2; exit 1; }

step "mDNS: avahi finds NAME.local and the services (in a network namespace)"
# tests/mdns.rs makes a veth link inside the namespace (smolmail on one
# end, avahi-daemon on a private D-Bus bus in a second namespace on the
# other); --mount keeps its /run/netns and /run/avahi-daemon mounts private.
unshare --net --mount sh -c 'SMOLMAIL_TEST_MDNS_NETNS=1 cargo test --locked --offline --test mdns -- --ignored' \
  2>&1 | tee /tmp/smolmail-netns-mdns.log
grep -q "^test avahi_finds_the_name_and_services_rfc_6762_6763 \.\.\. ok$" /tmp/smolmail-netns-mdns.log || { echo "FAIL: the mDNS namespace test did not run" >&2; exit 1; }

step "POP3: real clients, and login rules off this host"
# python poplib, curl (pop3 and pop3s), fetchmail and getmail6, in keep and
# in delete mode (the #[ignore]d tests of tests/pop3.rs); then the
# TLS-before-login rule from 192.0.2.1 in a network namespace of its own.
cargo test --locked --test pop3 -- --ignored --skip login_needs_tls_off_loopback 2>&1 | tee /tmp/smolmail-pop3-clients.log
grep -q "^test real_clients \.\.\. ok$" /tmp/smolmail-pop3-clients.log || { echo "FAIL: the POP3 real-client test did not run" >&2; exit 1; }
unshare --net sh -c 'ip link set lo up && ip addr add 192.0.2.1/32 dev lo &&
  SMOLMAIL_TEST_NONLOOPBACK=192.0.2.1 cargo test --locked --offline --test pop3 login_needs_tls_off_loopback -- --exact --ignored' \
  2>&1 | tee /tmp/smolmail-netns-pop3.log
grep -q "^test login_needs_tls_off_loopback \.\.\. ok$" /tmp/smolmail-netns-pop3.log || { echo "FAIL: the POP3 namespace test did not run" >&2; exit 1; }

step "outbound delivery: 1000 queued messages to Postfix's smtp-sink (scripts/bench-delivery.sh)"
# tests/delivery.rs (in the native tests) covers MX, relay, bounces and
# kill -9; this runs the release binary end to end and prints its rate.
scripts/bench-delivery.sh

step "hostile load: what each attack costs the server (scripts/hostile.sh)"
scripts/hostile.sh

step "fetching from IMAP accounts: a first sync of 500 messages from Dovecot, measured"
# The fetch tests ran in `cargo test` (against a second smolmail and against
# Dovecot); this prints the time and the server's memory for the first sync
# with an optimised build.
cargo build --release --locked -q
SMOLMAIL_MEASURE_BIN="${CARGO_TARGET_DIR:-$PWD/target}/release/smolmail" \
  cargo test --locked --test fetch measure_dovecot_first_sync -- --ignored --nocapture 2>&1 | tee /tmp/smolmail-measure.log
grep -q "MEASURED: first sync" /tmp/smolmail-measure.log || { echo "FAIL: the Dovecot measurement did not run" >&2; exit 1; }

step "fuzzing: every parser of outside bytes, 15 s a target (scripts/fuzz.sh)"
# Needs a nightly toolchain, which rustup cannot fetch on every machine;
# without one this says so and goes on (the parsers' unit tests ran above).
if cargo +nightly --version >/dev/null 2>&1; then
  scripts/fuzz.sh 15
else
  echo "fuzz: no nightly toolchain on this machine: not run"
fi

step "static aarch64 release build"
cargo build --release --locked --target aarch64-unknown-linux-musl
bin=target/aarch64-unknown-linux-musl/release/smolmail
info=$(file -L "$bin")
echo "$info"
case "$info" in
  *"ARM aarch64"*"statically linked"* | *"ARM aarch64"*"static-pie linked"*) ;;
  *) echo "FAIL: $bin is not a static aarch64 executable" >&2; exit 1 ;;
esac
size=$(stat -c %s "$bin")
awk -v s="$size" 'BEGIN { printf "aarch64 binary: %d bytes (%.2f MiB; budget 4.5 MiB)\n", s, s / 1048576 }'
qemu-aarch64-static "$bin" version

step "store tests under qemu-user (aarch64)"
cargo test --locked --target aarch64-unknown-linux-musl --test store

step "appliance image under QEMU (scripts/test-qemu.sh)"
SMOLMAIL_SKIP_SETUP=1 scripts/test-qemu.sh

echo
echo "all tests passed"
