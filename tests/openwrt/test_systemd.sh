#!/usr/bin/env bash
# Checks the Raspberry Pi / generic Linux unit contrib/systemd/ipop@.service:
# the exact command and restart policy, the capabilities a TAP needs, and
# (where systemd-analyze exists) that systemd accepts the unit and rates
# its exposure as OK (<= 4.0 on `systemd-analyze security`).
set -euo pipefail
cd "$(dirname "$0")/../.."
unit=contrib/systemd/ipop@.service
work=$(mktemp -d /tmp/ipop-openwrt-systemd.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

for want in 'ExecStart=/usr/local/bin/ipop run --config /etc/ipop/%i.json' \
	'Restart=on-failure' 'RestartPreventExitStatus=2' 'After=network-online.target' \
	'Wants=network-online.target' 'ConditionPathExists=/etc/ipop/%i.json' \
	'CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_BIND_SERVICE' 'DeviceAllow=/dev/net/tun rw' \
	'DevicePolicy=closed' 'ProtectSystem=strict' 'ReadWritePaths=/etc/ipop' \
	'RuntimeDirectory=ipop' 'RuntimeDirectoryPreserve=yes' 'NoNewPrivileges=yes' \
	'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK' 'WantedBy=multi-user.target'; do
	grep -qxF -- "$want" $unit || fail "unit lacks: $want"
done
# PrivateNetwork or a user switch would make the TAP impossible.
for bad in PrivateNetwork=yes User= DynamicUser=yes PrivateDevices=yes; do
	grep -q "^$bad" $unit && fail "unit must not set $bad"
done
echo "ok: ipop@.service runs ipop run --config /etc/ipop/%i.json with CAP_NET_ADMIN and /dev/net/tun"

if command -v systemd-analyze >/dev/null; then
	# verify needs the binary to exist: point ExecStart at /bin/true.
	sed 's|/usr/local/bin/ipop|/bin/true|' $unit > "$work/ipop@.service"
	systemd-analyze verify "$work/ipop@.service" || fail "systemd-analyze verify"
	level=$(systemd-analyze security --offline=yes "$work/ipop@.service" 2>/dev/null |
		sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) .*/\1/p')
	[ -n "$level" ] || fail "no exposure level"
	awk -v l="$level" 'BEGIN { exit !(l <= 4.0) }' || fail "exposure $level > 4.0"
	echo "ok: systemd-analyze verify passes; exposure $level"
else
	echo "note: systemd-analyze absent; unit not verified by systemd"
fi
echo "PASS test_systemd.sh"
