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
  # tests: `file` proves the binary static; openssl inspects certificates
  file openssl python3 ca-certificates
  # the image (board/, image/): partitioning, file systems, busybox userland
  genimage mtools dosfstools e2fsprogs fakeroot busybox-static:arm64 xz-utils cpio
)

missing=()
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  echo "setup: enabling the arm64 architecture for cross libraries"
  $SUDO dpkg --add-architecture arm64
  missing=(update-needed)
fi
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${PACKAGES[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null
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
echo "setup: ready"
