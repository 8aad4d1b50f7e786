#!/usr/bin/env bash
# Boots the qemu-virt image the way a board boots its card:
#
#   scripts/run-qemu.sh [IMAGE]        (default out/qemu-virt/sdcard.img)
#
# The kernel, the initramfs and the kernel command line are read from the
# image's own boot partition; the whole image is the guest's disk (virtio).
# The mail ports are forwarded to 127.0.0.1 on the host (10025 -> 25,
# 10587 -> 587, 10465 -> 465, 10143 -> 143, 10993 -> 993, 10110 -> 110,
# 10995 -> 995, 10443 -> 443 for the admin pages; PORT_BASE=20000 gives
# 20025 and so on). The guest reaches
# nothing else: QEMU's user network runs restricted, so the guest cannot
# open connections of its own to the host or beyond.
#
# The serial console is this terminal (Ctrl-A X quits QEMU; `poweroff` at
# the console shuts down cleanly). The image is written to: it is the
# board's card. QEMU_OPTS adds options.
set -euo pipefail
cd "$(dirname "$0")/.."
img=${1:-out/qemu-virt/sdcard.img}
[ -f "$img" ] || { echo "run-qemu: $img not found; build it with scripts/build-image.sh qemu-virt" >&2; exit 1; }
base=${PORT_BASE:-10000}

# the boot partition (the first MBR entry) as an mtools image spec
start=$(od -An -tu4 -j 454 -N 4 "$img" | tr -d ' ')
fat="$img@@$((start * 512))"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
# config.txt's os_prefix picks the system to boot, as the Raspberry Pi
# firmware reads it (the second system of an update lives under b/)
prefix=$({ MTOOLS_SKIP_CHECK=1 mtype -i "$fat" ::config.txt 2>/dev/null || true; } | tr -d '\r' | sed -n 's/^os_prefix=//p' | tail -n 1)
MTOOLS_SKIP_CHECK=1 mcopy -n -i "$fat" "::${prefix}vmlinuz" "$dir/vmlinuz" 2>/dev/null || prefix=""
for f in vmlinuz initramfs.gz cmdline.txt; do
	MTOOLS_SKIP_CHECK=1 mcopy -n -i "$fat" "::$prefix$f" "$dir/$f"
done

fwd=""
for p in 25 587 465 143 993 110 995 443; do
	fwd="$fwd,hostfwd=tcp:127.0.0.1:$((base + p))-:$p"
done

# shellcheck disable=SC2086 # QEMU_OPTS is a list of options
qemu-system-aarch64 -M virt -cpu cortex-a53 -m 256M \
	-kernel "$dir/vmlinuz" -initrd "$dir/initramfs.gz" -append "$(tr -d '\r\n' < "$dir/cmdline.txt")" \
	-drive "file=$img,format=raw,if=none,id=card,cache=writeback" -device virtio-blk-pci,drive=card \
	-netdev "user,id=lan,restrict=on$fwd" -device virtio-net-pci,netdev=lan,romfile= \
	-device virtio-rng-pci \
	-nographic ${QEMU_OPTS:-}
