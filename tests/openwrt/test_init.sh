#!/usr/bin/env bash
# Checks the OpenWrt procd init script, the default UCI file and the feed
# Makefiles without a router: `/etc/init.d/ipop start` runs under dash (as
# busybox ash would run it) through a stand-in of rc.common and shims of
# functions.sh/procd.sh that record every call; the test compares the
# exact call sequence for a sample config (named, disabled, boolean
# spellings, bridge, firewall port, unnamed and foreign sections), then
# evaluates the Makefile with GNU make against stand-ins of the SDK's
# include files. What procd makes of the calls: test_procd.sh; the
# uci-defaults script: test_defaults.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
files=openwrt/net/ipop/files
tools="$repo/../shared/tools"
work=$(mktemp -d /tmp/ipop-openwrt-init.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

command -v dash >/dev/null || fail "dash is needed (apt-get install dash)"
sh_syntax() { dash -n "$1" || fail "$1: sh syntax error"; }
sh_syntax $files/ipop.init
sh_syntax $files/ipop.defaults
sh_syntax $files/ipop-fwguard
[ "$(head -1 $files/ipop.init)" = '#!/bin/sh /etc/rc.common' ] || fail "init shebang"
[ "$(head -1 $files/ipop.defaults)" = '#!/bin/sh' ] || fail "defaults shebang"
[ "$(head -1 $files/ipop-fwguard)" = '#!/bin/sh' ] || fail "guard shebang"

# --- 1. init script: instances, arguments, triggers ---
mkdir -p "$work/config"
cat > "$work/config/ipop" <<'UCI'
config ipop 'global'
	option enabled '1'

config overlay 'outer'
	option enabled '1'
	option tap_name 'tunnel-tap'
	option listen_port '5800'

config overlay 'off'
	option enabled '0'
	option listen_port '5801'

config overlay 'inner'
	option enabled 'yes'
	option bridge 'br-lan'
	option underlay_dev 'tunnel-tap'
	option listen_port '0'

config overlay 'noflag'
	option ip4 '10.1.1.1'

config overlay 'offword'
	option enabled 'off'
	option bridge 'br-x'

config overlay
	option enabled 'on'

config overlay 'lab2'
	option enabled 'true'
	option listen_port '15805'
UCI

export SHIM_DIR=$repo/tests/openwrt/shims SHIM_ROOT=$work/root SHIM_UCI_DIR=$work/config
export SHIM_LOG=$work/log PATH="$repo/tests/openwrt/shims/bin:$PATH"
mkdir -p "$SHIM_ROOT/etc/init.d"
cp $files/ipop.init "$SHIM_ROOT/etc/init.d/ipop"
# `/etc/init.d/ipop start` through the rc.common stand-in; the call log
# with the test root taken out of the paths.
run_init() {
	rm -f "$SHIM_ROOT/procd.json"
	: >"$work/log"
	dash "$SHIM_DIR/rc.common" "$SHIM_ROOT/etc/init.d/ipop" start
	sed -i "s|$SHIM_ROOT||g" "$work/log"
}
run_init
cat > "$work/expected" <<'LOG'
procd_open_service ipop /etc/init.d/ipop
mkdir -p -m 0700 /etc/ipop
mkdir -p /var/run/ipop
config_load ipop
procd_open_instance outer
procd_set_param command /usr/bin/ipop run --uci outer
procd_set_param file /var/run/ipop/outer.uci /usr/bin/ipop
procd_set_param respawn
procd_set_param stdout 1
procd_set_param stderr 1
procd_open_data
json_add_array firewall
json_add_object ''
json_add_string type rule
json_add_string name Allow-ipop-outer
json_add_string src *
json_add_string proto udp
json_add_string dest_port 5800
json_add_string target ACCEPT
json_close_object
json_close_array
procd_close_data
procd_close_instance
procd_open_instance inner
procd_set_param command /usr/bin/ipop run --uci inner
procd_set_param file /var/run/ipop/inner.uci /usr/bin/ipop
procd_set_param respawn
procd_set_param stdout 1
procd_set_param stderr 1
procd_close_instance
procd_open_instance noflag
procd_set_param command /usr/bin/ipop run --uci noflag
procd_set_param file /var/run/ipop/noflag.uci /usr/bin/ipop
procd_set_param respawn
procd_set_param stdout 1
procd_set_param stderr 1
procd_close_instance
logger -t ipop 'overlay section cfg071234 has no name; skipped (write: config overlay 'NAME')'
procd_open_instance lab2
procd_set_param command /usr/bin/ipop run --uci lab2
procd_set_param file /var/run/ipop/lab2.uci /usr/bin/ipop
procd_set_param respawn
procd_set_param stdout 1
procd_set_param stderr 1
procd_open_data
json_add_array firewall
json_add_object ''
json_add_string type rule
json_add_string name Allow-ipop-lab2
json_add_string src *
json_add_string proto udp
json_add_string dest_port 15805
json_add_string target ACCEPT
json_close_object
json_close_array
procd_close_data
procd_close_instance
procd_open_instance fw-guard
procd_set_param command /usr/libexec/ipop-fwguard
procd_set_param respawn
procd_set_param stderr 1
procd_close_instance
procd_add_reload_trigger ipop
procd_close_service set
procd_set_config_changed firewall
LOG
diff -u "$work/expected" "$work/log" || fail "init script calls differ (- expected, + got)"
grep -q '^USE_PROCD=1$' $files/ipop.init || fail "USE_PROCD"
grep -q '^START=90$' $files/ipop.init || fail "START"
grep -q '^RUNDIR=/var/run/ipop$' $files/ipop.init || fail "RUNDIR (the shim moves it under the test root)"
# Each instance's snapshot is its own section as `uci show` prints it.
for s in outer inner noflag lab2; do
	[ "$(cat "$SHIM_ROOT/var/run/ipop/$s.uci")" = "$(uci show "ipop.$s")" ] || fail "snapshot of $s"
done
[ "$(ls "$SHIM_ROOT/var/run/ipop" | tr '\n' ' ')" = "inner.uci lab2.uci noflag.uci outer.uci " ] ||
	fail "snapshots: $(ls "$SHIM_ROOT/var/run/ipop")"
echo "ok: init script declares outer, inner, noflag, lab2 and the guard with exact params and triggers"

# The shipped default config: both seed overlays present and disabled -> no instance.
cp $files/ipop.config "$work/config/ipop"
run_init
printf '%s\n' 'procd_open_service ipop /etc/init.d/ipop' 'mkdir -p -m 0700 /etc/ipop' \
	'mkdir -p /var/run/ipop' 'config_load ipop' 'procd_add_reload_trigger ipop' \
	'procd_close_service set' 'procd_set_config_changed firewall' > "$work/expected"
diff -u "$work/expected" "$work/log" || fail "default config must start nothing"
# A stale snapshot of a section that is gone is removed at start.
[ -z "$(ls "$SHIM_ROOT/var/run/ipop")" ] || fail "stale snapshots: $(ls "$SHIM_ROOT/var/run/ipop")"
# ... and enabling both starts outer then inner.
sed "s/option enabled '0'/option enabled '1'/" $files/ipop.config > "$work/config/ipop"
run_init
[ "$(grep '^procd_set_param command' "$work/log")" = "$(printf '%s\n' \
	'procd_set_param command /usr/bin/ipop run --uci outer' \
	'procd_set_param command /usr/bin/ipop run --uci inner' \
	'procd_set_param command /usr/libexec/ipop-fwguard')" ] || fail "enabled seed overlays"
grep -qx 'json_add_string dest_port 5800' "$work/log" || fail "outer port"
grep -qx 'json_add_string dest_port 5805' "$work/log" || fail "inner port"
grep -q 'netdev' "$work/log" && fail "procd netdev used"
echo "ok: default config starts nothing; enabled it runs outer then inner (and the guard)"

# --- 2. default /etc/config/ipop: exact sections and the options that matter ---
[ "$(grep -c "^config overlay '" $files/ipop.config)" = 2 ] || fail "two overlay sections"
if [ -x "$tools/uci/uci-show" ]; then
	"$tools/uci/uci-show" $files/ipop.config ipop > "$work/show" || fail "libuci rejects ipop.config"
	for want in "ipop.outer=overlay" "ipop.outer.enabled='0'" "ipop.outer.tap_name='tunnel-tap'" \
		"ipop.outer.ip4='192.168.1.100'" "ipop.outer.ip4_mask='16'" "ipop.outer.switchmode='0'" \
		"ipop.outer.network_ignore_list='ipop' 'lxcbr0'" "ipop.inner=overlay" \
		"ipop.inner.enabled='0'" "ipop.inner.tap_name='ipop'" "ipop.inner.ip4='10.0.3.100'" \
		"ipop.inner.ip4_mask='24'" "ipop.inner.switchmode='1'" \
		"ipop.inner.network_ignore_list='eth0' 'lxcbr0'" "ipop.inner.stun='192.168.1.100:19302'"; do
		grep -qxF "$want" "$work/show" || fail "libuci: missing $want"
	done
	echo "ok: libuci reads ipop.config with the seed's values"
else
	echo "note: ../shared/tools/uci absent; libuci check of ipop.config not available"
fi
# Every option must be a key ipop knows; when the binary has the CLI,
# `ipop check --uci` validates both sections of the shipped file.
if [ -n "${IPOP_BIN:-}" ] && "$IPOP_BIN" --help 2>/dev/null | grep -q -- '--uci'; then
	for sec in outer inner; do
		out=$("$IPOP_BIN" check --uci "$sec" --uci-file $files/ipop.config 2>&1) ||
			fail "ipop check --uci $sec: $out"
	done
	"$IPOP_BIN" check --uci outer --uci-file $files/ipop.config 2>&1 |
		grep -q 'fd50:dbc:41f2:4a3c:25c9:651:c297:fef3' || fail "outer IPv6 not derived"
	echo "ok: ipop check accepts both default sections"
else
	echo "note: \$IPOP_BIN has no 'check --uci' yet; option names not validated by ipop"
fi

# (uci-defaults: test_defaults.sh; procd's behaviour: test_procd.sh)

# --- 3. feed Makefiles, licence ---
mk=openwrt/net/ipop/Makefile
lmk=openwrt/luci-app-ipop/Makefile
for want in 'PKG_NAME:=ipop' 'PKG_RELEASE:=1' 'PKG_BUILD_DEPENDS:=rust/host' \
	'DEPENDS:=$(RUST_ARCH_DEPENDS) +kmod-tun' '$(eval $(call RustBinPackage,ipop))' \
	'$(eval $(call BuildPackage,ipop))' 'include $(TOPDIR)/feeds/packages/lang/rust/rust-package.mk' \
	'$(call Build/Compile/Cargo,,--no-default-features)' 'PKG_LICENSE:=MIT' \
	'PKG_LICENSE_FILES:=LICENSE' 'CONFIG_USE_APK' '/lib/apk/packages/ipop.list'; do
	grep -qF -- "$want" $mk || fail "Makefile lacks: $want"
done
ver=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
grep -qx "PKG_VERSION:=$ver" $mk || fail "PKG_VERSION differs from Cargo.toml ($ver)"
# apk's version rule (digits and dots, -rN): what 25.12 accepts.
[[ "$ver-r1" =~ ^[0-9]+(\.[0-9]+)*-r[0-9]+$ ]] || fail "version $ver-r1 is not an apk version"
[ "$(sed -n '/^define Package\/ipop\/conffiles$/,/^endef$/p' $mk | sed '1d;$d')" = \
	"$(printf '/etc/config/ipop\n/etc/ipop/')" ] || fail "conffiles"
# The SDK writes lib/upgrade/keep.d/ipop from the conffiles that are no
# file; installing one too would list /etc/ipop/ twice.
grep -q 'keep.d' <(sed -n '/^define Package\/ipop\/install$/,/^endef$/p' $mk) &&
	fail "Makefile installs a keep.d file (the SDK makes it)"
# Every file under files/ is installed, and every installed one exists.
for f in $files/*; do
	grep -q "\./files/$(basename "$f") " $mk || fail "$f is not installed by the Makefile"
done
for f in $(grep -o '\./files/[A-Za-z0-9._-]*' $mk); do
	[ -f "openwrt/net/ipop/$f" ] || fail "Makefile installs missing $f"
done

# Evaluate the Makefile with GNU make against stand-ins of the SDK's
# include files (rules.mk, package.mk, and a rust-package.mk that sets
# CARGO_PKG_VARS the way the packages feed's does).
if command -v make >/dev/null; then
	sdk=$work/sdk
	mkdir -p "$sdk/include" "$sdk/feeds/packages/lang/rust"
	: > "$sdk/rules.mk"
	: > "$sdk/include/package.mk"
	cat > "$sdk/feeds/packages/lang/rust/rust-package.mk" <<'MK'
CARGO_RUSTFLAGS+=-Ctarget-feature=-crt-static
CARGO_PKG_CONFIG_VARS= \
	CARGO_BUILD_TARGET=mipsel-unknown-linux-musl \
	CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 \
	CARGO_PROFILE_RELEASE_DEBUG=false \
	CARGO_PROFILE_RELEASE_LTO=true \
	CARGO_PROFILE_RELEASE_OPT_LEVEL=s \
	CARGO_PROFILE_RELEASE_OVERFLOW_CHECKS=true \
	CARGO_PROFILE_RELEASE_PANIC=unwind \
	RUSTFLAGS="$(CARGO_RUSTFLAGS)"
CARGO_PKG_VARS= $(CARGO_PKG_CONFIG_VARS) CC=cc MAKEFLAGS="-j1"
RUST_ARCH_DEPENDS:=@(mipsel||x86_64)
define RustBinPackage
endef
define BuildPackage
endef
MK
	cat > "$sdk/print.mk" <<'MK'
print:
	@echo 'VARS $(CARGO_PKG_VARS)'
	@echo 'DEPS $(PKG_FILE_DEPENDS)'
	@echo 'COPY $(subst $(IPOP_SRC)/,,$(filter $(IPOP_SRC)/%,$(Build/Prepare)))'
MK
	make -s -C openwrt/net/ipop -f Makefile -f "$sdk/print.mk" TOPDIR="$sdk" \
		INCLUDE_DIR="$sdk/include" print > "$work/make.out" || fail "make could not read $mk"
	vars=$(sed -n 's/^VARS //p' "$work/make.out")
	prof=$(tr ' ' '\n' <<<"$vars" | grep '^CARGO_PROFILE_' | tr '\n' ' ')
	[ "$prof" = "CARGO_PROFILE_RELEASE_PANIC=abort " ] ||
		fail "cargo's profile environment: '$prof' (Cargo.toml's profile must apply, panic=abort)"
	grep -q 'RUSTFLAGS="-Ctarget-feature=-crt-static"' <<<"$vars" ||
		fail "RUSTFLAGS changed (linking is meant to stay dynamic, as the SDK does it): $vars"
	deps=$(sed -n 's/^DEPS //p' "$work/make.out")
	copied=$(sed -n 's/^COPY //p' "$work/make.out")
	for c in $copied; do
		[ -e "$c" ] || fail "Build/Prepare copies missing $c"
		grep -q "$repo/$c\b" <<<"$deps" || fail "PKG_FILE_DEPENDS lacks $c (edits there would not rebuild)"
	done
	for c in Cargo.toml Cargo.lock src boards LICENSE; do
		grep -qw "$c" <<<"$copied" || fail "Build/Prepare does not copy $c"
	done
	# The copy Build/Prepare makes is enough to build the binary (what the
	# SDK's cargo install compiles): cargo check on exactly those files.
	if command -v cargo >/dev/null; then
		mkdir -p "$work/pkgbuild"
		(cd "$repo" && cp -r $copied "$work/pkgbuild/")
		CARGO_TARGET_DIR="$repo/target/openwrt-copy-check" cargo check -q --locked --offline \
			--no-default-features --manifest-path "$work/pkgbuild/Cargo.toml" 2>"$work/check.err" ||
			{ cat "$work/check.err"; fail "the crate does not build from Build/Prepare's copy"; }
		echo "ok: the crate builds from Build/Prepare's copy alone ($copied)"
	else
		echo "note: cargo absent; the build from Build/Prepare's copy was not tried"
	fi
	echo "ok: make reads the Makefile: only CARGO_PROFILE_RELEASE_PANIC=abort overrides Cargo.toml, PKG_FILE_DEPENDS covers $copied"
else
	echo "note: make absent; the Makefile was only grepped"
fi

# Metadata: one maintainer and URL for both packages, none a placeholder.
maint=$(sed -n 's/^PKG_MAINTAINER:=//p' $mk)
url=$(sed -n 's/^[[:space:]]*URL:=//p' $mk)
[ -n "$maint" ] && [ -n "$url" ] || fail "maintainer or URL missing"
case "$maint $url" in *example.org* | *ipop-project* | *"<Name>"*) fail "placeholder metadata: $maint $url" ;; esac
[ "$(sed -n 's/^LUCI_MAINTAINER:=//p' $lmk)" = "$maint" ] || fail "LUCI_MAINTAINER differs from PKG_MAINTAINER"
[ "$(sed -n 's/^LUCI_URL:=//p' $lmk)" = "$url" ] || fail "LUCI_URL differs from URL"
for want in 'PKG_LICENSE:=MIT' 'PKG_LICENSE_FILES:=LICENSE' 'include $(TOPDIR)/feeds/luci/luci.mk'; do
	grep -qxF -- "$want" $lmk || fail "$lmk lacks: $want"
done
[ -f LICENSE ] || fail "no LICENSE at the repository root"
[ "$(head -1 LICENSE)" = "MIT License" ] && grep -q '^Permission is hereby granted, free of charge' LICENSE ||
	fail "LICENSE is not the MIT licence"
grep -qx 'license = "MIT"' Cargo.toml || fail "Cargo.toml: license"
echo "ok: Makefiles (metadata, conffiles, installs), MIT LICENSE named in Cargo.toml and both Makefiles"
echo "PASS test_init.sh"
