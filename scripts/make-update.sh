#!/usr/bin/env bash
# Makes a system update for boards running an earlier build:
#
#   scripts/make-update.sh BOARD [KEY.pem]     -> out/BOARD/smolmail-update.tar
#
# from the boot files scripts/build-image.sh left in out/BOARD/boot: the
# kernel, the root file system (initramfs.gz), wifi.cpio.gz, cmdline.txt and
# the device trees, under boot/; a `release` file (board, version);
# SHA256SUMS of all of them; and SHA256SUMS.sig, the release key's Ed25519
# signature of that list (KEY.pem, or SMOLMAIL_UPDATE_KEY; the image must
# have been built with the same key's public half). The board checks all
# of it before it writes anything (/usr/libexec/smolmail/update). Not in an
# update: smolmail.env and config.txt (the user's and the updater's) and
# the Raspberry Pi boot firmware, which the board's ROM reads from the top
# of the partition only.
set -euo pipefail
cd "$(dirname "$0")/.."
board=${1:?usage: scripts/make-update.sh BOARD [KEY.pem]}
key=${2:-${SMOLMAIL_UPDATE_KEY:-}}
# (BOOT_DIR and UPDATE_OUT change where the files come from and where the
# archive goes; scripts/test-qemu.sh uses them)
src=${BOOT_DIR:-out/$board/boot}
[ -f "$src/vmlinuz" ] || { echo "make-update: $src/vmlinuz is missing: run scripts/build-image.sh $board first" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/boot"
skip=" smolmail.env config.txt "
while read -r f _; do
	case "$f" in '' | '#'*) continue ;; esac
	skip="$skip$f "
done < "board/$board/firmware"
for f in "$src"/*; do
	n=${f##*/}
	case "$skip" in *" $n "*) continue ;; esac
	cp "$f" "$work/boot/"
done
printf 'board %s\nversion %s (%s)\n' "$board" \
	"$(git describe --always --dirty 2>/dev/null || echo unknown)" "$(date -u -d "@${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}" '+%Y-%m-%d %H:%M UTC')" > "$work/release"
(cd "$work" && find boot release -type f | LC_ALL=C sort | xargs sha256sum > SHA256SUMS)
if [ -n "$key" ]; then
	openssl pkeyutl -sign -rawin -inkey "$key" -in "$work/SHA256SUMS" -out "$work/SHA256SUMS.sig"
else
	echo "make-update: no key (KEY.pem or SMOLMAIL_UPDATE_KEY): the update is not signed, and a board built with a key refuses it" >&2
fi
out=${UPDATE_OUT:-out/$board/smolmail-update.tar}
(cd "$work" && tar --sort=name --owner=0 --group=0 --numeric-owner -cf - SHA256SUMS* release boot) > "$out"
echo "$out: $(stat -c %s "$out") bytes, $(wc -l < "$work/SHA256SUMS") files, $(sed -n 's/^version //p' "$work/release")"
