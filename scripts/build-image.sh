#!/usr/bin/env bash
# Builds the flashable image of one board: out/BOARD/sdcard.img.
#
#   scripts/build-image.sh BOARD [--xz]      BOARD: qemu-virt, rpi3, rpi4
#
# Everything comes from Debian's archive (arm64 packages, fetched with
# `apt-get download` into out/cache) and from this repository: the static
# smolmail binary (cross-built here), Debian's kernel (or, for a board with
# a kernel.config, one built by build-kernel.sh from Debian's linux-source
# with that configuration), busybox-static,
# e2fsck/resize2fs, OpenNTPD and, for the Raspberry Pi boards, the boot
# firmware from raspi-firmware. board/BOARD/ says what the board needs,
# image/ is the root file system overlay. The root is an initramfs (it lives
# in RAM, so it cannot be damaged by a power cut); genimage then writes the
# FAT boot partition and the empty ext4 data partition into the card image.
#
# Environment:
#   SMOLMAIL_BIN=FILE       use this aarch64 binary instead of building one
#   SOURCE_DATE_EPOCH=N     time stamp of every file (default: the last commit)
#   OUT=DIR                 output directory (default: out/BOARD)
#   SMOLMAIL_KERNEL=debian  Debian's arm64 kernel even where the board has a
#                           kernel.config of its own
#   SMOLMAIL_UPDATE_KEY=PEM the release key (Ed25519, private): its public
#                           half goes into the image, and updates must be
#                           signed by it (scripts/make-update.sh)
# The same inputs (packages, binary, repository files) give the same bytes.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD

usage() {
	local boards=(board/*/genimage.cfg)
	boards=("${boards[@]#board/}")
	echo "usage: scripts/build-image.sh BOARD [--xz]   (boards: ${boards[*]%/genimage.cfg})" >&2
	exit 2
}
[ $# -ge 1 ] || usage
board=$1
xz=no
[ "${2:-}" = --xz ] && xz=yes
[ -f "board/$board/genimage.cfg" ] || usage
step() { printf '== build-image %s: %s\n' "$board" "$*"; }
die() { echo "build-image: $*" >&2; exit 1; }

out=${OUT:-$top/out/$board}
mkdir -p "$out"
out=$(cd "$out" && pwd)
cache=$top/out/cache
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}
export TZ=UTC LC_ALL=C
# mke2fs (via genimage) takes its clock from here
export E2FSPROGS_FAKE_TIME=$SOURCE_DATE_EPOCH

if [ "${SMOLMAIL_SKIP_SETUP:-}" != 1 ]; then
	step "setup"
	scripts/setup.sh
fi

# ---------------------------------------------------------------- smolmail
target=aarch64-unknown-linux-musl
if [ -n "${SMOLMAIL_BIN:-}" ]; then
	bin=$SMOLMAIL_BIN
else
	step "cross-building smolmail for $target"
	cargo build --release --locked --target "$target"
	bin=${CARGO_TARGET_DIR:-target}/$target/release/smolmail
fi
file -L "$bin" | grep -q "ARM aarch64.*stati" || die "$bin is not a static aarch64 executable"

# ---------------------------------------------------------------- packages
# fetch PACKAGE...: downloads the current version of each package into the
# cache (once) and prints the paths of the .deb files
fetch() {
	mkdir -p "$cache/debs"
	local p uri name size _
	for p in "$@"; do
		uri=$(apt-get download --print-uris "$p" 2>/dev/null) || uri=""
		if [ -z "$uri" ]; then
			apt-get update -qq # the package lists are missing or stale
			uri=$(apt-get download --print-uris "$p")
		fi
		read -r _ name size _ <<<"$uri"
		if [ ! -f "$cache/debs/$name" ] || [ "$(stat -c %s "$cache/debs/$name")" != "$size" ]; then
			(cd "$cache/debs" && apt-get download -qq "$p" 2>&1 | grep -v "unsandboxed" >&2 || true)
			[ -f "$cache/debs/$name" ] || die "could not download $p"
		fi
		echo "$cache/debs/$name"
	done
}

step "fetching Debian packages"
# the kernel: a board with a kernel.config gets its own, built from Debian's
# kernel source (scripts/build-kernel.sh); the others boot Debian's, and so
# does any board with SMOLMAIL_KERNEL=debian (scripts/bench-boot.sh compares)
own_kernel=no
if [ -f "board/$board/kernel.config" ] && [ "${SMOLMAIL_KERNEL:-board}" != debian ]; then
	own_kernel=yes
	kpkg=${KERNEL_SOURCE:-}
	[ -n "$kpkg" ] || kpkg=$(apt-cache depends linux-source | awk '/Depends: linux-source-[0-9]/ { print $2; exit }')
	[ -n "$kpkg" ] || die "cannot tell which kernel source linux-source depends on (apt-get update?)"
else
	kpkg=${KERNEL_PACKAGE:-}
	[ -n "$kpkg" ] || kpkg=$(apt-cache depends linux-image-arm64:arm64 | awk '/Depends: linux-image-[0-9]/ { sub(/:arm64$/, "", $2); print $2; exit }')
	[ -n "$kpkg" ] || die "cannot tell which kernel linux-image-arm64:arm64 depends on (apt-get update?)"
fi
kdeb=$kpkg
[ "$own_kernel" = yes ] || kdeb=$kpkg:arm64
pkgs=("$kdeb" busybox-static:arm64 e2fsprogs:arm64 libext2fs2:arm64 libcom-err2:arm64
	libblkid1:arm64 libuuid1:arm64 libc6:arm64 openntpd:arm64)
case "$board" in rpi*) pkgs+=(raspi-firmware) ;; esac
# Wi-Fi (wifi.cpio.gz on the boot partition, unpacked at boot only when
# smolmail.env sets WIFI_SSID): wpa_supplicant and the libraries it asks
# for, iw, the regulatory database, the Broadcom firmware of the Pi boards;
# hostapd for the QEMU board's simulated access point (scripts/test-qemu.sh)
wifi_pkgs=(wpasupplicant:arm64 iw:arm64 wireless-regdb libnl-3-200:arm64 libnl-genl-3-200:arm64
	libnl-route-3-200:arm64 libpcsclite1:arm64 libdbus-1-3:arm64 libsystemd0:arm64 libcap2:arm64
	libgcrypt20:arm64 libgpg-error0:arm64 liblzma5:arm64 libzstd1:arm64 liblz4-1:arm64
	libssl3:arm64 libreadline8:arm64 libtinfo6:arm64)
case "$board" in
rpi*) wifi_pkgs+=(firmware-brcm80211) ;;
qemu-virt) wifi_pkgs+=(hostapd:arm64) ;;
esac
pkgs+=("${wifi_pkgs[@]}")
mapfile -t debs < <(fetch "${pkgs[@]}")
[ ${#debs[@]} -eq ${#pkgs[@]} ] || die "expected ${#pkgs[@]} packages, got ${#debs[@]}"

work=$out/work
rm -rf "$work"
mkdir -p "$work/x"
: > "$out/manifest.txt"
for d in "${debs[@]}"; do
	p=$(dpkg-deb -f "$d" Package)
	printf '%s %s %s\n' "$p" "$(dpkg-deb -f "$d" Version)" "$(sha256sum "$d" | cut -d' ' -f1)" >> "$out/manifest.txt"
	if [ "$p" = "$kpkg" ] && [ "$own_kernel" = yes ]; then
		# the source is built, not unpacked here
		printf 'kernel.config %s\n' "$(sha256sum "board/$board/kernel.config" | cut -d' ' -f1)" >> "$out/manifest.txt"
		step "the kernel ($kpkg with board/$board/kernel.config)"
		scripts/build-kernel.sh "$board" "$d" "$work/x/$kpkg"
		continue
	fi
	mkdir -p "$work/x/$p"
	dpkg-deb -x "$d" "$work/x/$p"
done
kx=$work/x/$kpkg
kver=$(ls "$kx/lib/modules")
printf 'smolmail %s\n' "$(git describe --always --dirty 2>/dev/null || echo unknown)" >> "$out/manifest.txt"

# ---------------------------------------------------------------- kernel modules
# Debian's package has no modules.dep (depmod runs when it is installed), so
# the dependencies come from each module's own .modinfo section: its
# `depends=` line. Modules are loaded in the order written to load.order,
# every module after the ones it depends on.
step "resolving kernel modules ($kver)"
declare -A modpath=() seen=() builtin=()
while IFS= read -r ko; do
	n=${ko##*/}
	n=${n%.ko*}
	modpath[${n//-/_}]=$ko
done < <(cd "$kx/lib/modules/$kver" && find kernel -name '*.ko*' | sort)
# drivers built into the kernel (all of a board's own kernel's boot
# drivers): listed, never loaded
if [ -f "$kx/lib/modules/$kver/modules.builtin" ]; then
	while IFS= read -r ko; do
		n=${ko##*/}
		n=${n%.ko}
		builtin[${n//-/_}]=1
	done < "$kx/lib/modules/$kver/modules.builtin"
fi
modinfo_field() { # FILE FIELD: the values of FIELD in the module's .modinfo
	local f=$1 tmp=$work/modinfo
	case "$f" in
	*.xz) xz -dc "$f" > "$tmp.ko" && f=$tmp.ko ;;
	*.zst) zstd -qdc "$f" > "$tmp.ko" && f=$tmp.ko ;;
	esac
	aarch64-linux-gnu-objcopy -O binary --only-section=.modinfo "$f" "$tmp"
	tr '\0' '\n' < "$tmp" | sed -n "s/^$2=//p"
}
order=()
visit() { # NAME [WANTED-BY]
	local n=${1//-/_}
	[ -n "${seen[$n]:-}" ] || [ -n "${builtin[$n]:-}" ] && return 0
	[ -n "${modpath[$n]:-}" ] || die "kernel module $1${2:+ (needed by $2)} is not in $kpkg"
	seen[$n]=1
	local deps d
	deps=$(modinfo_field "$kx/lib/modules/$kver/${modpath[$n]}" depends)
	for d in ${deps//,/ }; do visit "$d" "$n"; done
	order+=("${modpath[$n]}")
}
for list in board/common/modules "board/$board/modules"; do
	while read -r m _; do
		case "$m" in '' | '#'*) continue ;; esac
		visit "$m"
	done < "$list"
done
# the Wi-Fi modules go into wifi.cpio.gz, loaded by the network script
boot_mods=${#order[@]}
for list in board/common/wifi-modules "board/$board/wifi-modules"; do
	while read -r m _; do
		case "$m" in '' | '#'*) continue ;; esac
		visit "$m"
	done < "$list"
done

# ---------------------------------------------------------------- root file system
step "assembling the root file system"
root=$work/root
mkdir -p "$root"
cp -a image/. "$root/"
rm -f "$root/README.md"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,usr/lib/smolmail,lib/aarch64-linux-gnu,proc,sys,dev,run,tmp,data,boot,root}
# OpenNTPD chroots its network helper (user ntpd) into its home directory
mkdir -p "$root"/var/lib/openntpd/{db,run}
install -m 0755 "$bin" "$root/usr/lib/smolmail/smolmail"
# busybox and a link for each of its programs
install -m 0755 "$work/x/busybox-static/bin/busybox" "$root/bin/busybox"
qemu-aarch64-static "$root/bin/busybox" --list-full | sort | while read -r applet; do
	[ -e "$root/$applet" ] || [ -L "$root/$applet" ] || ln -s /bin/busybox "$root/$applet"
done
ln -sf /bin/busybox "$root/init"
# e2fsck and resize2fs (busybox has neither for ext4), OpenNTPD (busybox
# has no ntpd here), and the glibc libraries they need
install -m 0755 "$work/x/e2fsprogs/sbin/e2fsck" "$work/x/e2fsprogs/sbin/resize2fs" "$root/sbin/"
install -m 0755 "$work/x/openntpd/usr/sbin/ntpctl" "$root/usr/sbin/ntpd"
ln -s ntpd "$root/usr/sbin/ntpctl"
libs=(ld-linux-aarch64.so.1 libc.so.6 libm.so.6 libext2fs.so.2 libcom_err.so.2 libblkid.so.1 libuuid.so.1 libe2p.so.2)
for l in "${libs[@]}"; do
	src=$(find "$work/x" -name "$l" \( -type f -o -type l \) | head -n 1)
	[ -n "$src" ] || die "library $l not found in the packages"
	cp -L "$src" "$root/lib/aarch64-linux-gnu/$l"
done
ln -s aarch64-linux-gnu/ld-linux-aarch64.so.1 "$root/lib/ld-linux-aarch64.so.1"
# ---------------------------------------------------------------- Wi-Fi
# A second root tree, packed on its own: wpa_supplicant and its libraries
# double the root file system, which is unpacked into RAM at every boot;
# only a board that joins a Wi-Fi network unpacks this one.
wifi=$work/wifi
mkdir -p "$wifi"/{sbin,usr/sbin,usr/bin,lib/aarch64-linux-gnu,lib/firmware/brcm}
install -m 0755 "$work/x/wpasupplicant/sbin/wpa_supplicant" "$work/x/wpasupplicant/sbin/wpa_cli" "$wifi/sbin/"
install -m 0755 "$work/x/wpasupplicant/usr/bin/wpa_passphrase" "$wifi/usr/bin/"
install -m 0755 "$work/x/iw/sbin/iw" "$wifi/sbin/"
[ -d "$work/x/hostapd" ] && install -m 0755 "$work/x/hostapd/usr/sbin/hostapd" "$wifi/usr/sbin/"
# the regulatory database (signed; the kernel checks it) as Debian installs it
cp "$work/x/wireless-regdb/lib/firmware/regulatory.db-debian" "$wifi/lib/firmware/regulatory.db"
cp "$work/x/wireless-regdb/lib/firmware/regulatory.db.p7s-debian" "$wifi/lib/firmware/regulatory.db.p7s"
if [ -d "$work/x/firmware-brcm80211" ]; then
	# Pi 3B (BCM43430), Pi 3B+/3A+/4 (BCM43455): firmware, its CLM blob, and
	# the board's nvram file, which the driver finds by the device tree's
	# model name
	fw=$work/x/firmware-brcm80211/lib/firmware/brcm
	for f in brcmfmac43430-sdio.bin brcmfmac43430-sdio.clm_blob "brcmfmac43430-sdio.raspberrypi,3-model-b.txt" \
		"brcmfmac43430-sdio.raspberrypi,model-zero-w.txt" brcmfmac43455-sdio.bin brcmfmac43455-sdio.clm_blob \
		"brcmfmac43455-sdio.raspberrypi,3-model-b-plus.txt" "brcmfmac43455-sdio.raspberrypi,3-model-a-plus.txt" \
		"brcmfmac43455-sdio.raspberrypi,4-model-b.txt"; do
		cp -L "$fw/$f" "$wifi/lib/firmware/brcm/" || die "firmware $f is not in firmware-brcm80211"
	done
fi
# the libraries the Wi-Fi programs ask for that the root does not have,
# and the ones those ask for, until nothing is missing
added=1
while [ "$added" = 1 ]; do
	added=0
	while IFS= read -r elf; do
		for need in $(aarch64-linux-gnu-readelf -d "$elf" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
			[ -e "$root/lib/aarch64-linux-gnu/$need" ] || [ -e "$wifi/lib/aarch64-linux-gnu/$need" ] && continue
			src=$(find "$work/x" -name "$need" \( -type f -o -type l \) | head -n 1)
			[ -n "$src" ] || die "${elf#"$wifi"} needs $need, which is in none of the Wi-Fi packages"
			cp -L "$src" "$wifi/lib/aarch64-linux-gnu/$need"
			added=1
		done
	done < <(find "$wifi" -type f \( -perm -u+x -o -name '*.so*' \) -exec sh -c 'head -c 4 "$1" | grep -q ELF' _ {} \; -print)
done

# every library a program asks for is there
while IFS= read -r elf; do
	for need in $(aarch64-linux-gnu-readelf -d "$elf" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
		[ -e "$root/lib/aarch64-linux-gnu/$need" ] || [ -e "$wifi/lib/aarch64-linux-gnu/$need" ] ||
			die "${elf#"$work"} needs $need, which is not in the image"
	done
done < <(find "$root" "$wifi" -type f \( -perm -u+x -o -name '*.so*' \) -exec sh -c 'head -c 4 "$1" | grep -q ELF' _ {} \; -print)
# the modules, in their Debian paths, and the order to load them in
mkdir -p "$root/lib/modules/$kver"
i=0
for ko in "${order[@]}"; do
	# the first $boot_mods load at every boot; the rest are Wi-Fi's
	if [ "$i" -lt "$boot_mods" ]; then dest=$root; else dest=$wifi; fi
	i=$((i + 1))
	mkdir -p "$dest/lib/modules/$kver/$(dirname "$ko")"
	case "$ko" in
	*.xz) xz -dc "$kx/lib/modules/$kver/$ko" > "$dest/lib/modules/$kver/${ko%.xz}" ;;
	*.zst) zstd -qdc "$kx/lib/modules/$kver/$ko" > "$dest/lib/modules/$kver/${ko%.zst}" ;;
	*) cp "$kx/lib/modules/$kver/$ko" "$dest/lib/modules/$kver/$ko" ;;
	esac
	[ "$dest" = "$root" ] && echo "${ko%.[xz][zs]*}"
done > "$root/lib/modules/$kver/load.order"
# modules.dep (of every module, Wi-Fi's too), so that one `modprobe -a` at
# boot loads them all (a process per module costs more than the loading
# under a slow CPU); busybox's own depmod writes it, sorted for the same
# bytes every build
mkdir -p "$work/all/lib/modules"
cp -a "$root/lib/modules/$kver" "$work/all/lib/modules/"
cp -a "$wifi/lib/modules/$kver/." "$work/all/lib/modules/$kver/" 2>/dev/null || true
qemu-aarch64-static "$root/bin/busybox" depmod -b "$work/all" "$kver"
for f in "$work/all/lib/modules/$kver"/modules.*; do
	LC_ALL=C sort "$f" > "$root/lib/modules/$kver/${f##*/}"
done
# what the network script loads for Wi-Fi (their dependencies by modules.dep)
# (those built into the kernel left out: busybox's modprobe knows no
# modules.builtin)
cat board/common/wifi-modules "board/$board/wifi-modules" | grep -v '^[[:space:]]*\(#\|$\)' | awk '{ print $1 }' |
	while read -r m; do
		n=${m//-/_}
		[ -n "${builtin[$n]:-}" ] || echo "$m"
	done > "$root/lib/modules/$kver/wifi.load"
echo "$SOURCE_DATE_EPOCH" > "$root/etc/build-time"
# the release key's public half, which updates must be signed by
# (scripts/make-update.sh): SMOLMAIL_UPDATE_KEY=private.pem, or
# SMOLMAIL_UPDATE_PUBKEY=file with the base64 of the 32-byte key
mkdir -p "$root/etc/smolmail"
if [ -n "${SMOLMAIL_UPDATE_KEY:-}" ]; then
	openssl pkey -in "$SMOLMAIL_UPDATE_KEY" -pubout -outform DER | tail -c 32 | base64 > "$root/etc/smolmail/update-key"
elif [ -n "${SMOLMAIL_UPDATE_PUBKEY:-}" ]; then
	cp "$SMOLMAIL_UPDATE_PUBKEY" "$root/etc/smolmail/update-key"
else
	echo "build-image: no SMOLMAIL_UPDATE_KEY: this image accepts updates checked by checksum only" >&2
fi
printf '%s, %s image, kernel %s\n' "$(qemu-aarch64-static "$bin" version)" "$board" "$kver" > "$root/etc/smolmail-release"

# Owners, modes, device nodes and the archive itself under fakeroot, so no
# root rights are needed. Every file is root's; the time stamps are
# SOURCE_DATE_EPOCH; the archive lists files in a fixed order.
rm -rf "${out:?}/boot"
mkdir -p "$out/boot"
# The root file system is compressed with LZ4 (the legacy frame, the one the
# kernel unpacks): its unpacking is on every boot's path, and under QEMU the
# kernel unpacks it in about 0.2 s against 0.45 s for gzip -9, for a file
# about 15% larger (a Pi's firmware reads the extra MiB from the card in
# tens of milliseconds). The kernel knows
# the format by its first bytes; the file keeps the name initramfs.gz, which
# config.txt and the update step of systems already on cards look for.
# shellcheck disable=SC2016 # the script is for the sh inside fakeroot
fakeroot -- sh -ec '
	cd "$1"
	chown -R 0:0 .
	chmod 0700 root
	chmod 1777 tmp
	mknod -m 0600 dev/console c 5 1
	mknod -m 0666 dev/null c 1 3
	find . -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
	find . -print0 | LC_ALL=C sort -z |
		cpio --null --create --format=newc --reproducible --quiet
' _ "$root" | lz4 -l -9 -q > "$out/boot/initramfs.gz"
# shellcheck disable=SC2016 # as above
fakeroot -- sh -ec '
	cd "$1"
	chown -R 0:0 .
	find . -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
	find . -print0 | LC_ALL=C sort -z |
		cpio --null --create --format=newc --reproducible --quiet
' _ "$wifi" | gzip -9n > "$out/boot/wifi.cpio.gz"

# ---------------------------------------------------------------- boot partition
step "boot partition"
boot=$out/boot
cp "$kx/boot/vmlinuz-$kver" "$boot/vmlinuz"
cp "board/$board/cmdline.txt" "$boot/cmdline.txt"
[ -f "board/$board/config.txt" ] && cp "board/$board/config.txt" "$boot/config.txt"
cp board/common/smolmail.env "$boot/smolmail.env"
# the settings file is for people on any PC: CRLF line ends
sed -i 's/$/\r/' "$boot/smolmail.env"
while read -r f _; do
	case "$f" in '' | '#'*) continue ;; esac
	cp "$kx/usr/lib/linux-image-$kver/broadcom/$f" "$boot/" 2>/dev/null ||
		cp "$kx/usr/lib/linux-image-$kver/$f" "$boot/" || die "device tree $f is not in $kpkg"
done < "board/$board/dtbs"
while read -r f _; do
	case "$f" in '' | '#'*) continue ;; esac
	cp "$work/x/raspi-firmware/usr/lib/raspi-firmware/$f" "$boot/" || die "firmware $f is not in raspi-firmware"
done < "board/$board/firmware"
find "$boot" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

# ---------------------------------------------------------------- the card
step "genimage"
mkdir -p "$work/genimage-root"
rm -f "$out/sdcard.img" "$out/boot.vfat" "$out/data.ext4"
(cd "$out" && genimage --config "$top/board/$board/genimage.cfg" --rootpath "$work/genimage-root" \
	--tmppath "$work/genimage-tmp" --inputpath "$out" --outputpath "$out" > "$work/genimage.log" 2>&1) ||
	{ cat "$work/genimage.log" >&2; die "genimage failed"; }
rm -f "$out/boot.vfat" "$out/data.ext4"
rm -rf "$work"

size=$(stat -c %s "$out/sdcard.img")
echo "out/${out#"$top/out/"}/sdcard.img: $size bytes ($((size / 1048576)) MiB), initramfs $(stat -c %s "$boot/initramfs.gz") bytes, Wi-Fi $(stat -c %s "$boot/wifi.cpio.gz") bytes, $boot_mods + $((${#order[@]} - boot_mods)) modules, kernel $kver"
sha256sum "$out/sdcard.img" | sed "s|$top/||"
if [ "$xz" = yes ]; then
	xz -T0 -9 -c "$out/sdcard.img" > "$out/sdcard.img.xz"
	echo "out/${out#"$top/out/"}/sdcard.img.xz: $(stat -c %s "$out/sdcard.img.xz") bytes"
fi
