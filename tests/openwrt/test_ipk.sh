#!/usr/bin/env bash
# Builds ipop's ipk and luci-app-ipop's ipk with scripts/mkipk from a binary
# (the cross-built mipsel one if present, else $IPOP_BIN or the native
# release build), unpacks them and checks every field, path, mode and owner,
# that control fields, conffiles, keep.d and Depends are what the SDK
# would write for the same Makefiles, that the build is reproducible,
# that postinst/prerm call OpenWrt's
# default_postinst/default_prerm, and installs both with OpenWrt's own opkg
# (../shared/tools/opkg/opkg-try) when that is available.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
tools="$repo/../shared/tools"
work=$(mktemp -d /tmp/ipop-openwrt-ipk.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

if [ -f dist/mipsel-unknown-linux-musl/ipop ]; then
	bin=dist/mipsel-unknown-linux-musl/ipop arch=mipsel_24kc
elif [ -n "${IPOP_BIN:-}" ] && [ -f "$IPOP_BIN" ]; then
	bin=$IPOP_BIN arch=x86_64
elif [ -f target/release/ipop ]; then
	bin=target/release/ipop arch=x86_64
else
	fail "no binary: run scripts/cross-build mipsel or cargo build --release"
fi
echo "binary: $bin ($(stat -c %s "$bin") bytes), arch $arch"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
full="$version-r1"
export SOURCE_DATE_EPOCH=1700000000

scripts/mkipk -o "$work/out" "$bin" "$arch" > "$work/mkipk.log"
ipk="$work/out/ipop_${full}_${arch}.ipk"
luci="$work/out/luci-app-ipop_${full}_all.ipk"
[ -f "$ipk" ] || fail "missing $ipk"
[ -f "$luci" ] || fail "missing $luci"
[ "$(ls "$work/out" | wc -l)" = 2 ] || fail "unexpected files: $(ls "$work/out")"

# Bad arguments: exit 2 with a message.
set +e
scripts/mkipk "$work/nosuch" mipsel_24kc 2>"$work/err"; rc=$?
set -e
[ $rc = 2 ] && grep -q "no such file" "$work/err" || fail "missing binary must exit 2"
set +e
scripts/mkipk "$bin" 'Bad Arch' 2>"$work/err"; rc=$?
set -e
[ $rc = 2 ] && grep -q "bad architecture" "$work/err" || fail "bad arch must exit 2"

# Reproducible: a second build is byte-identical.
scripts/mkipk -o "$work/out2" "$bin" "$arch" > /dev/null
cmp -s "$ipk" "$work/out2/$(basename "$ipk")" || fail "ipop ipk not reproducible"
cmp -s "$luci" "$work/out2/$(basename "$luci")" || fail "luci ipk not reproducible"
echo "ok: reproducible (SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH)"

# check_outer IPK DIR: gzip'd GNU tar of exactly the three members, root-owned.
check_outer() {
	local ipk=$1 dir=$2
	[ "$(head -c2 "$ipk" | od -An -tx1 | tr -d ' ')" = 1f8b ] || fail "$ipk: not gzip"
	gzip -t "$ipk" || fail "$ipk: bad gzip"
	# gzip -n: no name, mtime 0 in the header.
	[ "$(od -An -tu4 -j4 -N4 "$ipk" | tr -d ' ')" = 0 ] || fail "$ipk: gzip header has an mtime"
	(( $(od -An -tu1 -j3 -N1 "$ipk") & 8 )) && fail "$ipk: gzip header has a name"
	tar -tvzf "$ipk" --numeric-owner > "$dir.list"
	[ "$(awk '{print $6}' "$dir.list")" = "$(printf '%s\n' ./debian-binary ./data.tar.gz ./control.tar.gz)" ] ||
		fail "$ipk: members $(awk '{print $6}' "$dir.list" | tr '\n' ' ')"
	awk '$2 != "0/0" { exit 1 }' "$dir.list" || fail "$ipk: owner not 0/0"
	# GNU tar magic "ustar  \0" at offset 257 of each header.
	python3 - "$ipk" <<'PY' || fail "$ipk: outer tar is not GNU format"
import gzip, sys
data = gzip.open(sys.argv[1]).read()
off = 0
while off + 512 <= len(data) and data[off:off + 512].strip(b"\0"):
    h = data[off:off + 512]
    assert h[257:265] == b"ustar  \0", h[257:265]
    size = int(h[124:136].strip(b"\0 ") or b"0", 8)
    off += 512 + (size + 511) // 512 * 512
PY
	mkdir -p "$dir"
	tar -xzf "$ipk" -C "$dir"
	[ "$(cat "$dir/debian-binary")" = 2.0 ] || fail "$ipk: debian-binary"
	[ "$(od -An -c "$dir/debian-binary" | tr -d ' ')" = '2.0\n' ] || fail "$ipk: debian-binary bytes"
	mkdir -p "$dir/control" "$dir/data"
	tar -xzf "$dir/control.tar.gz" -C "$dir/control"
	tar -xzf "$dir/data.tar.gz" -C "$dir/data"
	# Every inner entry root-owned, with the epoch mtime.
	for t in control data; do
		tar -tvzf "$dir/$t.tar.gz" --numeric-owner --full-time > "$dir/$t.list"
		awk '$2 != "0/0" { exit 1 }' "$dir/$t.list" || fail "$ipk: $t.tar.gz owner not 0/0"
		awk '$4" "$5 != "2023-11-14 22:13:20" { exit 1 }' "$dir/$t.list" ||
			fail "$ipk: $t.tar.gz mtimes not SOURCE_DATE_EPOCH ($(head -2 "$dir/$t.list"))"
	done
}

# modes DIR/data.list -> "mode path" lines, for exact comparison
modes() { awk '{ print $1, $6 }' "$1"; }

# --- ipop ---
u="$work/ipop"
check_outer "$ipk" "$u"
[ "$(tar -tzf "$u/control.tar.gz" | sort | tr '\n' ' ')" = "./ ./conffiles ./control ./postinst ./prerm " ] ||
	fail "control.tar.gz members: $(tar -tzf "$u/control.tar.gz" | tr '\n' ' ')"
size=$(stat -c %s "$u/data/usr/bin/ipop")
expect_size=$(( size + $(cat openwrt/net/ipop/files/ipop.init openwrt/net/ipop/files/ipop.config \
	openwrt/net/ipop/files/ipop.defaults openwrt/net/ipop/files/ipop-fwguard | wc -c) + 11 ))
# What an SDK build of openwrt/net/ipop/Makefile writes (include/package-pack.mk).
maint=$(sed -n 's/^PKG_MAINTAINER:=//p' openwrt/net/ipop/Makefile)
url=$(sed -n 's/^[[:space:]]*URL:=//p' openwrt/net/ipop/Makefile)
cat > "$work/control.want" <<CTRL
Package: ipop
Version: $full
Depends: libc, kmod-tun
Source: openwrt/net/ipop
SourceName: ipop
License: MIT
LicenseFiles: LICENSE
Section: net
SourceDateEpoch: 1700000000
URL: $url
Maintainer: $maint
Architecture: $arch
Installed-Size: $expect_size
Description: IP-over-P2P GroupVPN node
 Encrypted peer-to-peer overlay through NATs on a TAP device: a routed
 virtual subnet or a switched Ethernet segment. Peers meet over XMPP or a
 static list. Reads IPOP 16.01 JSON configs and /etc/config/ipop.
CTRL
diff -u "$work/control.want" "$u/control/control" || fail "ipop control file"
# Depends as the SDK derives it: libc (PKG_DEFAULT_DEPENDS) first, then
# DEPENDS without its @ conditions and + marks.
sdk_depends() {
	printf 'libc'
	sed -n "s/^[[:space:]]*$1:=//p" "$2" | tr ' ' '\n' | grep -v '^\$(RUST_ARCH_DEPENDS)$' |
		grep -v '^@' | sed -n 's/^+//p' | sed 's/^/, /' | tr -d '\n'
}
[ "$(sed -n 's/^Depends: //p' "$u/control/control")" = "$(sdk_depends DEPENDS openwrt/net/ipop/Makefile)" ] ||
	fail "ipop Depends differs from the Makefile's ($(sdk_depends DEPENDS openwrt/net/ipop/Makefile))"
[ "$(cat "$u/control/conffiles")" = "$(printf '/etc/config/ipop\n/etc/ipop/')" ] || fail "conffiles"
# As the SDK: conffiles that are no file of the package go to keep.d.
[ "$(cat "$u/data/lib/upgrade/keep.d/ipop")" = /etc/ipop/ ] || fail "keep.d content"
cat > "$work/modes.want" <<MODES
drwxr-xr-x ./
drwxr-xr-x ./etc/
drwxr-xr-x ./etc/config/
-rw------- ./etc/config/ipop
drwxr-xr-x ./etc/init.d/
-rwxr-xr-x ./etc/init.d/ipop
drwxr-xr-x ./etc/uci-defaults/
-rwxr-xr-x ./etc/uci-defaults/90-ipop
drwxr-xr-x ./lib/
drwxr-xr-x ./lib/upgrade/
drwxr-xr-x ./lib/upgrade/keep.d/
-rw-r--r-- ./lib/upgrade/keep.d/ipop
drwxr-xr-x ./usr/
drwxr-xr-x ./usr/bin/
-rwxr-xr-x ./usr/bin/ipop
drwxr-xr-x ./usr/libexec/
-rwxr-xr-x ./usr/libexec/ipop-fwguard
MODES
modes "$u/data.list" | diff -u "$work/modes.want" - || fail "ipop data paths/modes"
cmp -s "$bin" "$u/data/usr/bin/ipop" || fail "usr/bin/ipop differs from $bin"
for f in ipop.init:etc/init.d/ipop ipop.config:etc/config/ipop ipop.defaults:etc/uci-defaults/90-ipop \
	ipop-fwguard:usr/libexec/ipop-fwguard; do
	cmp -s "openwrt/net/ipop/files/${f%%:*}" "$u/data/${f#*:}" || fail "${f#*:} differs from ${f%%:*}"
done
grep -qx -- '-rwxr-xr-x ./postinst' <(modes "$u/control.list") || fail "postinst mode"
grep -qx -- '-rwxr-xr-x ./prerm' <(modes "$u/control.list") || fail "prerm mode"
if [ "$arch" = mipsel_24kc ]; then
	file -b "$u/data/usr/bin/ipop" | grep -q 'ELF 32-bit LSB executable, MIPS, MIPS32 rel2.*statically linked' ||
		fail "not a static mipsel binary: $(file -b "$u/data/usr/bin/ipop")"
	ipk_size=$(stat -c %s "$ipk")
	# Issue 9's budget was 600,000 bytes; raised with the binary's (see
	# tests/cross/test_qemu.sh and docs/BENCHMARKS.md, Binary size).
	[ "$ipk_size" -le 630000 ] || fail "ipk is $ipk_size bytes, over the 630,000-byte budget"
	echo "ok: mipsel ipk $ipk_size bytes (budget 630,000)"
fi
echo "ok: ipop ipk fields, files, modes"

# postinst/prerm: with a stand-in /lib/functions.sh under IPKG_INSTROOT they
# call default_postinst / default_prerm with the script's arguments; without
# functions.sh (IPKG_INSTROOT pointing at an empty dir) they do nothing, exit 0.
root="$work/root"
mkdir -p "$root/lib" "$work/empty"
cat > "$root/lib/functions.sh" <<SH
default_postinst() { echo "default_postinst \$*" >> "$work/calls"; }
default_prerm() { echo "default_prerm \$*" >> "$work/calls"; }
SH
IPKG_INSTROOT="$root" dash "$u/control/postinst" configure || fail "postinst exit"
IPKG_INSTROOT="$root" dash "$u/control/prerm" remove || fail "prerm exit"
IPKG_INSTROOT="$root" IPKG_NO_SCRIPT=1 dash "$u/control/postinst" configure || fail "postinst no-script"
printf '%s\n' "default_postinst $u/control/postinst configure" "default_prerm $u/control/prerm remove" |
	diff -u - "$work/calls" || fail "maintainer script calls"
IPKG_INSTROOT="$work/empty" dash "$u/control/postinst" || fail "postinst without functions.sh"
IPKG_INSTROOT="$work/empty" dash "$u/control/prerm" || fail "prerm without functions.sh"
echo "ok: postinst/prerm call default_postinst/default_prerm, guarded"

# --- luci-app-ipop ---
l="$work/luci"
check_outer "$luci" "$l"
lsize=$(find openwrt/luci-app-ipop/htdocs openwrt/luci-app-ipop/root -type f -printf '%s\n' | awk '{s+=$1} END {print s}')
cat > "$work/lcontrol.want" <<CTRL
Package: luci-app-ipop
Version: $full
Depends: libc, ipop, luci-base
Source: openwrt/luci-app-ipop
SourceName: luci-app-ipop
License: MIT
LicenseFiles: LICENSE
Section: luci
SourceDateEpoch: 1700000000
URL: $(sed -n 's/^LUCI_URL:=//p' openwrt/luci-app-ipop/Makefile)
Maintainer: $(sed -n 's/^LUCI_MAINTAINER:=//p' openwrt/luci-app-ipop/Makefile)
Architecture: all
Installed-Size: $lsize
Description: LuCI support for ipop (IP-over-P2P GroupVPN)
 Web pages to configure ipop overlays and to see their peers and links.
CTRL
diff -u "$work/lcontrol.want" "$l/control/control" || fail "luci control file"
[ "$(sed -n 's/^Depends: //p' "$l/control/control")" = "$(sdk_depends LUCI_DEPENDS openwrt/luci-app-ipop/Makefile)" ] ||
	fail "luci Depends differs from the Makefile's"
[ ! -e "$l/control/conffiles" ] || fail "luci has no conffiles"
cat > "$work/lmodes.want" <<MODES
drwxr-xr-x ./
drwxr-xr-x ./usr/
drwxr-xr-x ./usr/libexec/
drwxr-xr-x ./usr/libexec/rpcd/
-rwxr-xr-x ./usr/libexec/rpcd/luci.ipop
drwxr-xr-x ./usr/share/
drwxr-xr-x ./usr/share/luci/
drwxr-xr-x ./usr/share/luci/menu.d/
-rw-r--r-- ./usr/share/luci/menu.d/luci-app-ipop.json
drwxr-xr-x ./usr/share/rpcd/
drwxr-xr-x ./usr/share/rpcd/acl.d/
-rw-r--r-- ./usr/share/rpcd/acl.d/luci-app-ipop.json
drwxr-xr-x ./www/
drwxr-xr-x ./www/luci-static/
drwxr-xr-x ./www/luci-static/resources/
drwxr-xr-x ./www/luci-static/resources/view/
drwxr-xr-x ./www/luci-static/resources/view/ipop/
-rw-r--r-- ./www/luci-static/resources/view/ipop/overlays.js
-rw-r--r-- ./www/luci-static/resources/view/ipop/status.js
MODES
modes "$l/data.list" | diff -u "$work/lmodes.want" - || fail "luci data paths/modes"
grep -q 'rpcd reload' "$l/control/postinst" || fail "luci postinst must reload rpcd"
: > "$work/calls"
IPKG_INSTROOT="$root" dash "$l/control/postinst" configure || fail "luci postinst exit"
[ "$(cat "$work/calls")" = "default_postinst $l/control/postinst configure" ] || fail "luci postinst calls"
echo "ok: luci-app-ipop ipk fields, files, modes"

# --- OpenWrt's own opkg ---
if [ -x "$tools/opkg/opkg-try" ]; then
	"$tools/opkg/opkg-try" "$ipk" "$luci" > "$work/opkg.log" 2>&1 || {
		cat "$work/opkg.log"; fail "opkg install failed"; }
	grep -q '^== result: opkg install exit status 0$' "$work/opkg.log" || fail "opkg result"
	for p in /usr/bin/ipop /etc/init.d/ipop /etc/config/ipop /etc/uci-defaults/90-ipop \
		/lib/upgrade/keep.d/ipop; do
		grep -q "/root$p\$" "$work/opkg.log" || fail "opkg did not install $p"
	done
	grep -q '^ /etc/config/ipop [0-9a-f]\{64\}$' "$work/opkg.log" || fail "opkg conffile entry"
	grep -q "^Version: $full\$" "$work/opkg.log" || fail "opkg version"
	grep -q '^./www/luci-static/resources/view/ipop/status.js$' "$work/opkg.log" || fail "opkg luci files"
	echo "ok: OpenWrt opkg installs both packages (conffile registered)"
else
	echo "note: ../shared/tools/opkg absent; the opkg install check was not available (archive checked above)"
fi
echo "PASS test_ipk.sh"
