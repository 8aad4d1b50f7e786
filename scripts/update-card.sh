#!/usr/bin/env bash
# Puts a newer build onto a card that already runs smolmail, from a PC,
# without touching its data partition:
#
#   scripts/update-card.sh BOARD DEVICE|IMAGE     e.g. rpi4 /dev/sdb, or a .img
#
# It writes out/BOARD/smolmail-update.tar (scripts/make-update.sh) onto the
# card's boot partition. At its next start the board checks the archive
# (signature, checksums, board), backs its store up, installs the new
# system beside the running one and tries it once: if smolmail does not
# come up, the board goes back to the system it had. The card's
# smolmail.env, certificates and mail stay as they are.
set -euo pipefail
cd "$(dirname "$0")/.."
board=${1:?usage: scripts/update-card.sh BOARD DEVICE|IMAGE}
card=${2:?usage: scripts/update-card.sh BOARD DEVICE|IMAGE}
tar=out/$board/smolmail-update.tar
[ -f "$tar" ] || { echo "update-card: $tar is missing: run scripts/make-update.sh $board" >&2; exit 1; }
if [ -b "$card" ]; then
	# the first partition of the device: sdb1, mmcblk0p1, nvme0n1p1
	case "$card" in *[0-9]) part=${card}p1 ;; *) part=${card}1 ;; esac
	[ -b "$part" ] || { echo "update-card: $part is not a block device" >&2; exit 1; }
	grep -q "^$part " /proc/mounts && { echo "update-card: $part is mounted; unmount it first" >&2; exit 1; }
	spec=$part
else
	[ -f "$card" ] || { echo "update-card: $card is neither a block device nor an image file" >&2; exit 1; }
	start=$(od -An -tu4 -j 454 -N 4 "$card" | tr -d ' ')
	spec="$card@@$((start * 512))"
fi
label=$(MTOOLS_SKIP_CHECK=1 mlabel -s -i "$spec" :: 2>/dev/null || true)
case "$label" in *SMOLBOOT*) ;; *) echo "update-card: the first partition of $card is not a smolmail boot partition (label: ${label:-none})" >&2; exit 1 ;; esac
MTOOLS_SKIP_CHECK=1 mcopy -o -i "$spec" "$tar" ::smolmail-update.tar
sync
echo "update-card: $tar written to $card; the board installs it at its next start"
