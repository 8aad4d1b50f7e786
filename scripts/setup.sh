#!/usr/bin/env bash
# Installs everything a fresh Debian bookworm machine needs to build smolmail,
# cross-build it for the boards, run its tests and assemble the image.
# Idempotent: a second run installs nothing and takes a second or two.
# Only Debian's package archive and rustup's own channel are used.
set -euo pipefail

need_root() { if [ "$(id -u)" -ne 0 ]; then echo sudo; fi; }
SUDO=$(need_root)

# Debian packages, one line per purpose.
PACKAGES=(
  # native build: a C compiler for LMDB and ring
  build-essential pkg-config
  # cross build for Raspberry Pi 3/4/Zero 2 (aarch64, static musl) and running
  # the aarch64 tests under emulation
  gcc-aarch64-linux-gnu musl-dev:arm64 qemu-user-static binfmt-support
  # tests: `file` proves the binary static; openssl inspects certificates;
  # iproute2 builds the test network namespace
  file openssl python3 ca-certificates iproute2
  # swaks, a real SMTP client; without its Recommends (which
  # --no-install-recommends leaves out) it can neither start TLS
  # (Net::SSLeay, IO::Socket::SSL) nor authenticate (Authen::SASL,
  # Digest::HMAC)
  swaks libnet-ssleay-perl libio-socket-ssl-perl libauthen-sasl-perl libdigest-hmac-perl
  # msmtp: the sendmail-style submission client homelab tools use; its
  # test submits without Date/Message-ID (tests/smtp_clients.rs)
  msmtp
  # the image (board/, image/): partitioning, file systems, busybox userland
  genimage mtools dosfstools e2fsprogs fakeroot busybox-static:arm64 xz-utils cpio lz4
  # the qemu-virt board's own kernel (scripts/build-kernel.sh, from Debian's
  # linux-source, fetched by build-image.sh): Kconfig's parser generators,
  # bc for its constants, OpenSSL's headers for the certificate tool that
  # builds the Wi-Fi regulatory keys into it
  flex bison bc libssl-dev
  # the image's tests (scripts/test-qemu.sh): the aarch64 virt and raspi3b machines
  qemu-system-arm
  # scripts/bench-smtp.sh: the Postfix + Dovecot pair it compares against, and
  # Postfix's smtp-source as the load generator; losetup and mkfs for the
  # scratch file systems whose writes it counts
  postfix dovecot-core dovecot-lmtpd util-linux procps
  # POP3: the real clients of tests/pop3.rs, and Dovecot's POP3 server that
  # scripts/bench-pop3.sh compares against
  fetchmail getmail6 curl dovecot-pop3d
  # IMAP: the real clients of tests/imap_clients.rs (mutt runs inside tmux;
  # pip fetches IMAPClient, which bookworm does not package), and Dovecot's
  # IMAP server that scripts/bench-imap.sh compares against
  isync offlineimap3 mutt tmux python3-pip dovecot-imapd
  # IMAP: node runs imapflow (npm) for tests/imapflow.rs; Debian's npm
  # package is added below only where no npm is installed (a nodejs from
  # NodeSource carries its own npm and conflicts with Debian's)
  nodejs
  # outbound delivery: tests/delivery.rs and scripts/bench-delivery.sh use
  # Postfix's smtp-sink (in the postfix package above) as a receiving peer
  # scripts/bench-import.sh: GNU time for the import's peak RSS
  time
  # ACME: Let's Encrypt's test CA and its DNS/challenge server (tests/acme.rs)
  pebble
  # tests/metrics.rs: Prometheus's promtool checks the /metrics text
  prometheus
  # tests/dkim.rs: an independent DKIM verifier (Debian's python3, not the
  # pyenv one) checks the signatures smolmail puts on outbound mail
  python3-dkim
  # tests/admin_web.rs: a real browser (headless, driven by playwright-core
  # from npm below) at the admin pages
  chromium
  # tests/mdns.rs: avahi-daemon as the mDNS peer on a private D-Bus system
  # bus, asked through avahi-resolve, avahi-browse and avahi-publish
  avahi-daemon avahi-utils dbus
)

missing=()
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  echo "setup: enabling the arm64 architecture for cross libraries"
  $SUDO dpkg --add-architecture arm64
  missing=(update-needed)
fi
# The image takes the Raspberry Pi boot firmware from Debian's raspi-firmware
# package (scripts/build-image.sh downloads it), which is in the
# non-free-firmware component: add that component in a file of its own.
nonfree=/etc/apt/sources.list.d/smolmail-nonfree.sources
if [ ! -e "$nonfree" ] && ! grep -rqs "non-free-firmware" /etc/apt/sources.list /etc/apt/sources.list.d/; then
  echo "setup: adding Debian's non-free-firmware component ($nonfree)"
  printf '%s\n' "# written by smolmail scripts/setup.sh: raspi-firmware for the board images" \
    "Types: deb" "URIs: http://deb.debian.org/debian" "Suites: bookworm bookworm-updates" \
    "Components: non-free-firmware" "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg" |
    $SUDO tee "$nonfree" >/dev/null
  missing+=(update-needed)
fi
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    missing+=("$p")
  fi
done
if ! command -v npm >/dev/null 2>&1; then
  missing+=(npm)
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${PACKAGES[*]}"
  # Postfix asks what kind of mail system this is: answer "No configuration",
  # so it writes no /etc/postfix/main.cf (the benchmark runs its own instance).
  echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
  # Packages such as postfix and dovecot-core start their system service when
  # installed. A policy-rc.d that answers 101 ("action forbidden") stops that;
  # any policy already there is put back afterwards.
  policy=/usr/sbin/policy-rc.d
  # (a backup left by an interrupted run is the original: put it back first)
  if [ -e "$policy.smolmail-setup" ]; then $SUDO mv -f "$policy.smolmail-setup" "$policy"; fi
  if [ -e "$policy" ]; then $SUDO mv "$policy" "$policy.smolmail-setup"; fi
  restore_policy() {
    $SUDO rm -f "$policy"
    if [ -e "$policy.smolmail-setup" ]; then $SUDO mv "$policy.smolmail-setup" "$policy"; fi
  }
  trap restore_policy EXIT
  printf '#!/bin/sh\n# written by smolmail scripts/setup.sh while it installs packages\nexit 101\n' |
    $SUDO tee "$policy" >/dev/null
  $SUDO chmod 755 "$policy"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null
  restore_policy
  trap - EXIT
fi

# Rust: the cross target and the lint tools scripts/test.sh runs.
if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo is missing; install Rust with rustup (https://rustup.rs) first" >&2
  exit 1
fi
if command -v rustup >/dev/null 2>&1; then
  installed=$(rustup target list --installed)
  grep -qx aarch64-unknown-linux-musl <<<"$installed" || rustup target add aarch64-unknown-linux-musl
  components=$(rustup component list --installed)
  grep -q '^rustfmt' <<<"$components" || rustup component add rustfmt
  grep -q '^clippy' <<<"$components" || rustup component add clippy
fi
# cargo-fuzz for scripts/fuzz.sh, which needs a nightly toolchain: installed
# only where one is (rustup cannot fetch one on every machine).
if command -v rustup >/dev/null 2>&1 && rustup toolchain list | grep -q '^nightly' &&
  ! cargo fuzz --version >/dev/null 2>&1; then
  echo "setup: installing cargo-fuzz from crates.io"
  cargo install --locked --quiet cargo-fuzz
fi
# PyPI: IMAPClient for tests/imap_clients.rs, into target/pydeps (the tests
# put it on PYTHONPATH); --target leaves the system's Python untouched.
pydeps="$(cd "$(dirname "$0")/.." && pwd)/target/pydeps"
if [ ! -d "$pydeps/imapclient-4.1.0.dist-info" ]; then
  echo "setup: installing IMAPClient from PyPI into $pydeps"
  python3 -m pip install --quiet --disable-pip-version-check --upgrade --target "$pydeps" imapclient==4.1.0
fi
# dnslib (PyPI) reads `smolmail dns-records` output as a zone file (tests/cli.rs)
# and serves the SPF/DMARC test zone (tests/spf_dmarc.rs).
if [ ! -d "$pydeps/dnslib-0.9.26.dist-info" ]; then
  echo "setup: installing dnslib from PyPI into $pydeps"
  python3 -m pip install --quiet --disable-pip-version-check --upgrade --target "$pydeps" dnslib==0.9.26
fi
# npm: imapflow for tests/imapflow.rs, into target/nodedeps (COMPRESS,
# QRESYNC, BINARY from a real client library).
nodedeps="$(cd "$(dirname "$0")/.." && pwd)/target/nodedeps"
if [ ! -d "$nodedeps/node_modules/imapflow" ]; then
  echo "setup: installing imapflow from npm into $nodedeps"
  npm install --silent --prefix "$nodedeps" imapflow@2.10.2
fi
# npm: mailauth for tests/dkim.rs, a second independent DKIM verifier of
# our outbound signatures (its CLI takes DNS answers from a file). 4.13.3 is
# the last release that runs on node 20 (later ones want node >= 22.19).
if [ ! -d "$nodedeps/node_modules/mailauth" ]; then
  echo "setup: installing mailauth from npm into $nodedeps"
  npm install --silent --prefix "$nodedeps" mailauth@4.13.3
fi
# npm: playwright-core for tests/admin_web.rs, which drives Debian's
# /usr/bin/chromium with it (no browser download: -core has none).
if [ ! -d "$nodedeps/node_modules/playwright-core" ]; then
  echo "setup: installing playwright-core from npm into $nodedeps"
  npm install --silent --prefix "$nodedeps" playwright-core@1.65.1
fi
echo "setup: ready"
