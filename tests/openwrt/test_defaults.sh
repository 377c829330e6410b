#!/usr/bin/env bash
# The uci-defaults script (/etc/uci-defaults/90-ipop) as default_postinst
# and /etc/init.d/boot run it: sourced in a subshell from its directory,
# exit 0 to be deleted, against the firewall configs a router meets: a
# fresh one, its own output (second run, upgrade), an `ipop` zone made in
# LuCI (an unnamed section), the old package's named section, a zone the
# user deleted (marker), no lan zone, a leftover forwarding, a foreign
# section named ipop, no firewall at all. After each: exactly one zone
# named ipop where one is expected, nothing duplicated, files as libuci
# reads them. `uci` is OpenWrt's own (../shared/tools/uci) when present,
# else the stand-in tests/openwrt/shims/uci.py; either way the files are
# read back with `ipop uci show`, which matches libuci on the recorded
# cases in tests/fixtures/uci.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
defaults=$repo/openwrt/net/ipop/files/ipop.defaults
tools="$repo/../shared/tools"
work=$(mktemp -d /tmp/ipop-openwrt-defaults.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
command -v dash >/dev/null || fail "dash is needed (apt-get install dash)"
IPOP_BIN=${IPOP_BIN:-$repo/target/release/ipop}

etc=$work/etc
mkdir -p "$etc" "$work/bin" "$work/delta" "$work/uci-defaults"
if [ -x "$tools/uci/bin/uci" ]; then
	printf '#!/bin/sh\nLD_LIBRARY_PATH=%s exec %s -c %s -p %s "$@"\n' \
		"$tools/uci/lib" "$tools/uci/bin/uci" "$etc" "$work/delta" > "$work/bin/uci"
	which_uci="OpenWrt's uci"
else
	printf '#!/bin/sh\nexec python3 %s -c %s -P %s "$@"\n' \
		"$repo/tests/openwrt/shims/uci.py" "$etc" "$work/delta" > "$work/bin/uci"
	which_uci="the uci stand-in"
fi
chmod +x "$work/bin/uci"
export PATH="$work/bin:$PATH"

# run: what default_postinst does with it (functions.sh loaded there; the
# script needs none of it): ( cd /etc/uci-defaults && . ./90-ipop ) && rm.
run() {
	cp "$defaults" "$work/uci-defaults/90-ipop"
	dash -c 'cd "$1" && . ./90-ipop' _ "$work/uci-defaults" || fail "$1: exit status $?"
}

# show PKG: the committed file as libuci reads it (ipop's reader, which
# names every package "ipop"), so staged-only changes do not count.
show() {
	[ -x "$IPOP_BIN" ] || fail "no ipop binary at $IPOP_BIN (cargo build --release)"
	"$IPOP_BIN" uci show --uci-file "$etc/$1" | sed "s/^ipop\./$1./"
}

# zones NAME: how many zone sections have option name NAME.
zones() {
	local n=0 i=0
	while [ "$(uci -q get "firewall.@zone[$i]")" = zone ]; do
		[ "$(uci -q get "firewall.@zone[$i].name")" = "$1" ] && n=$((n + 1))
		i=$((i + 1))
	done
	echo $n
}

fresh() {
	rm -rf "$work/delta"/*
	cp "$repo/openwrt/net/ipop/files/ipop.config" "$etc/ipop"
	cat > "$etc/firewall" <<-'FW'
		config defaults
			option input 'REJECT'
			option forward 'REJECT'

		config zone 'lan'
			option name 'lan'
			list network 'lan'
			option input 'ACCEPT'

		config zone
			option name 'wan'
			list network 'wan'
			option masq '1'

		config forwarding
			option src 'lan'
			option dest 'wan'
	FW
}

ours="firewall.@zone[2]=zone
firewall.@zone[2].name='ipop'
firewall.@zone[2].device='ipop+' 'tunnel-tap'
firewall.@zone[2].input='ACCEPT'
firewall.@zone[2].output='ACCEPT'
firewall.@zone[2].forward='REJECT'
firewall.@zone[2].mtu_fix='1'"

# --- 1. fresh: one zone, one forwarding lan -> ipop, the marker ---
fresh
before=$(show firewall)
run fresh
[ "$(show firewall)" = "$before
$ours
firewall.@forwarding[1]=forwarding
firewall.@forwarding[1].src='lan'
firewall.@forwarding[1].dest='ipop'" ] || { show firewall; fail "fresh: firewall after the script"; }
[ "$(show ipop | grep globals)" = "ipop.globals=globals
ipop.globals.firewall_zone='1'" ] || fail "fresh: marker"
[ "$(zones ipop)" = 1 ] || fail "fresh: $(zones ipop) ipop zones"
[ -z "$(ls "$work/delta")" ] || fail "fresh: changes left uncommitted: $(ls "$work/delta")"
echo "ok: fresh config: one zone ipop, a forwarding lan -> ipop, the marker, all committed ($which_uci)"

# --- 2. twice: nothing changes ---
cp "$etc/firewall" "$work/fw1"; cp "$etc/ipop" "$work/ipop1"
run second
cmp -s "$work/fw1" "$etc/firewall" || fail "second run changed the firewall config"
cmp -s "$work/ipop1" "$etc/ipop" || fail "second run changed the ipop config"
# ... also when the marker is gone but the zone is there (an upgrade from
# the package that had no marker).
uci delete ipop.globals && uci commit ipop
run "no marker, zone there"
cmp -s "$work/fw1" "$etc/firewall" || fail "zone made again by its name's absence of a marker"
[ "$(zones ipop)" = 1 ] || fail "second run: $(zones ipop) ipop zones"
echo "ok: run twice (and after losing the marker): the firewall config is byte-identical, one zone"

# --- 3. an ipop zone made in LuCI: an unnamed section ---
fresh
cat >> "$etc/firewall" <<-'FW'

	config zone
		option name 'ipop'
		list device 'ipop+'
		option input 'REJECT'
FW
cp "$etc/firewall" "$work/fw-luci"
run "LuCI zone"
cmp -s "$work/fw-luci" "$etc/firewall" || { show firewall; fail "a LuCI-made ipop zone got company"; }
[ "$(zones ipop)" = 1 ] || fail "LuCI zone: $(zones ipop) ipop zones"
[ "$(uci -q get ipop.globals.firewall_zone)" = 1 ] || fail "LuCI zone: no marker"
run "LuCI zone, again"
[ "$(zones ipop)" = 1 ] || fail "LuCI zone, second run: $(zones ipop) ipop zones"
echo "ok: an unnamed ipop zone (LuCI's) is recognised by its name: exactly one zone, untouched, twice"

# --- 4. the old package's named section ---
fresh
printf "\nconfig zone 'ipop'\n\toption name 'ipop'\n\tlist device 'ipop+'\n" >> "$etc/firewall"
cp "$etc/firewall" "$work/fw-named"
run "named zone"
cmp -s "$work/fw-named" "$etc/firewall" || fail "a named ipop zone was changed"
[ "$(zones ipop)" = 1 ] || fail "named zone: $(zones ipop) ipop zones"
echo "ok: the old package's firewall.ipop zone counts as the zone"

# --- 5. the user deleted the zone: an upgrade does not bring it back ---
fresh
run first
i=$(uci show firewall | sed -n "s/^firewall\.\(@zone\[[0-9]*\]\)\.name='ipop'$/\1/p")
uci delete "firewall.$i" && uci commit firewall
cp "$etc/firewall" "$work/fw-deleted"
run "upgrade after the user deleted the zone"
cmp -s "$work/fw-deleted" "$etc/firewall" || fail "a deleted zone was made again"
[ "$(zones ipop)" = 0 ] || fail "deleted zone: $(zones ipop) ipop zones"
# Deleting the marker asks for it again.
uci delete ipop.globals.firewall_zone && uci commit ipop
run "marker deleted"
[ "$(zones ipop)" = 1 ] || fail "marker deleted: $(zones ipop) ipop zones"
[ "$(show firewall | grep -c "\.dest='ipop'$")" = 1 ] || fail "marker deleted: forwardings $(show firewall | grep dest)"
echo "ok: a zone the user deleted stays deleted (marker ipop.globals.firewall_zone); without the marker it is made again, once"

# --- 6. no lan zone; a leftover forwarding; a foreign section named ipop ---
fresh
python3 - "$etc/firewall" <<-'PY'
	import sys
	p = sys.argv[1]
	t = open(p).read().replace("option name 'lan'", "option name 'trusted'")
	open(p, "w").write(t + "\nconfig rule 'ipop'\n\toption name 'Allow-ipop'\n\toption src 'wan'\n")
PY
run "no lan zone"
[ "$(zones ipop)" = 1 ] || fail "no lan: $(zones ipop) ipop zones"
show firewall | grep -q "dest='ipop'" && fail "forwarding from a lan zone that does not exist"
[ "$(uci -q get firewall.ipop)" = rule ] && [ "$(uci -q get firewall.ipop.name)" = Allow-ipop ] ||
	fail "the rule section named ipop was changed"
fresh
printf "\nconfig forwarding\n\toption src 'lan'\n\toption dest 'ipop'\n" >> "$etc/firewall"
run "leftover forwarding"
[ "$(zones ipop)" = 1 ] || fail "leftover forwarding: $(zones ipop) ipop zones"
[ "$(show firewall | grep -c "\.dest='ipop'$")" = 1 ] || fail "forwarding lan -> ipop duplicated"
echo "ok: no lan zone -> no forwarding; a leftover forwarding is not doubled; a rule named ipop is left alone"

# --- 7. no firewall package ---
fresh
rm "$etc/firewall"
run "no firewall"
[ ! -e "$etc/firewall" ] || fail "a firewall config was made without a firewall"
[ -z "$(uci -q get ipop.globals.firewall_zone)" ] || fail "marker set without a firewall"
echo "ok: without /etc/config/firewall nothing is done and no marker is set"
echo "PASS test_defaults.sh"
