#!/usr/bin/env bash
# Builds a board's own kernel, buildroot style: Debian's kernel source
# (the linux-source package), `make allnoconfig` with board/BOARD/kernel.config
# on top, cross-compiled for arm64. Used by scripts/build-image.sh for a
# board that has a kernel.config; the others boot Debian's packaged kernel.
#
#   scripts/build-kernel.sh BOARD LINUX-SOURCE.deb DIR
#
# DIR gets the same layout as Debian's linux-image package, so build-image.sh
# treats both alike: boot/vmlinuz-RELEASE (a gzip-compressed Image, as
# Debian's is) and lib/modules/RELEASE/ with the modules and
# modules.builtin (the drivers built in, which need no loading).
#
# The result is kept in out/cache/kernel under a key made of the source
# package, the board's configuration and this script: the same inputs are
# built once. The kernel's own build stamp is the source tarball's time in
# the package (not the commit's: a cached kernel must be the one a fresh
# build would give), so the same inputs give the same bytes.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
die() { echo "build-kernel: $*" >&2; exit 1; }
[ $# -eq 3 ] || die "usage: scripts/build-kernel.sh BOARD LINUX-SOURCE.deb DIR"
board=$1 deb=$2 dest=$3
fragment=$top/board/$board/kernel.config
[ -f "$fragment" ] || die "board/$board has no kernel.config"
[ -f "$deb" ] || die "$deb not found"

key=$( { basename "$deb"; cat "$fragment" "$0"; } | sha256sum | cut -c1-16)
cache=$top/out/cache/kernel
built=$cache/$board-$key
if [ ! -f "$built/done" ]; then
	# an older build of this board, and what a cut-off build left
	rm -rf "$cache/$board-"* "$cache/src" "$cache/obj" "$cache/stage"
	mkdir -p "$cache"
	src=$cache/src
	echo "== build-kernel $board: unpacking $(basename "$deb")"
	mkdir -p "$src"
	members=(--wildcards './usr/src/linux-source-*.tar.xz')
	stamp=$(dpkg-deb --fsys-tarfile "$deb" | TZ=UTC tar -tv --full-time "${members[@]}" | awk '{ print $4 " " $5 " UTC"; exit }')
	[ -n "$stamp" ] || die "no kernel source tarball in $deb"
	dpkg-deb --fsys-tarfile "$deb" | tar -xO "${members[@]}" | xz -dc | tar -x -C "$src" --strip-components=1
	# O= keeps the objects apart from the source; LOCALVERSION= stops the
	# "+" the kernel appends to a release it cannot find in git
	k=(make -s -C "$src" O="$cache/obj" ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu- LOCALVERSION=
		KBUILD_BUILD_TIMESTAMP="$(date -u -d "$stamp")" KBUILD_BUILD_USER=smolmail
		KBUILD_BUILD_HOST=build-image)
	"${k[@]}" KCONFIG_ALLCONFIG="$fragment" allnoconfig
	# every line of the fragment must have held: Kconfig drops a symbol
	# whose dependencies are not met without a word
	while IFS= read -r line; do
		case "$line" in
		CONFIG_*=*)
			grep -qxF "$line" "$cache/obj/.config" || die "kernel.config: $line did not hold (now: $(grep "^${line%%=*}=" "$cache/obj/.config" || echo "not set"))"
			;;
		"# CONFIG_"*" is not set")
			sym=${line#\# }
			sym=${sym%% *}
			! grep -q "^$sym=" "$cache/obj/.config" || die "kernel.config: $sym should be off"
			;;
		esac
	done < "$fragment"
	echo "== build-kernel $board: compiling $("${k[@]}" kernelrelease) ($(nproc) jobs)"
	"${k[@]}" -j"$(nproc)" Image.gz modules
	"${k[@]}" INSTALL_MOD_PATH="$cache/stage" INSTALL_MOD_STRIP=1 DEPMOD=true modules_install
	release=$("${k[@]}" kernelrelease)
	mkdir -p "$cache/stage/boot"
	cp "$cache/obj/arch/arm64/boot/Image.gz" "$cache/stage/boot/vmlinuz-$release"
	cp "$cache/obj/.config" "$cache/stage/boot/config-$release"
	# the links modules_install leaves into the build tree go with it
	rm -f "$cache/stage/lib/modules/$release/build" "$cache/stage/lib/modules/$release/source"
	mv "$cache/stage" "$built"
	rm -rf "$src" "$cache/obj"
	touch "$built/done"
fi
rm -rf "$dest"
mkdir -p "$dest"
cp -a "$built/boot" "$built/lib" "$dest/"
