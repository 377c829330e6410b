#!/usr/bin/env bash
# `ipop check --online` behind each NAT type (tests/nat/lib.sh): it must
# print the reflexive address from every STUN server, mark the dead one
# failed after one timeout, and show a TURN allocation with a working relay.
# Output lines checked (io::stun_probe::ProbeReport's Display):
#   srflx SERVER MAPPED | srflx SERVER failed
#   relay SERVER RELAYED mapped=M in=ok|fail out=ok|fail
set -euo pipefail
cd "$(dirname "$0")/../.."
IPOP_BIN=${IPOP_BIN:-$PWD/target/release/ipop}
NAT_PREFIX=ipnc$$
NAT_PREFIX=${NAT_PREFIX:0:8}
. tests/nat/lib.sh
trap nat_teardown EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

nat_pub_up
nat_coturn_start
nat_site_add 1 cone
nat_site_add 2 restricted
nat_site_add 3 symmetric
nat_site_add 4 public

for i in 1 2 3 4; do
    cat >"$NAT_WORK/n$i.json" <<JSON
{
  "CFx": { "vpn_type": "GroupVPN", "ip4_mask": 24, "tap_name": "ipop", "listen_port": 5800,
           "network_ignore_list": [], "key_file": "$NAT_WORK/n$i.key",
           "control_socket": "$NAT_WORK/n$i.sock" },
  "TincanSender": {
    "stun": ["203.0.113.1:3478", "203.0.113.2:3478", "203.0.113.99:3478"],
    "turn": [{"server": "203.0.113.1:3478", "user": "u", "pass": "p"}]
  },
  "BaseTopologyManager": { "ip4": "10.254.0.$i" }
}
JSON
done

pids=()
for i in 1 2 3 4; do
    nat_ns "node$i" "$IPOP_BIN" check --online --config "$NAT_WORK/n$i.json" \
        >"$NAT_WORK/out$i" 2>"$NAT_WORK/err$i" &
    pids+=($!)
done
for i in 1 2 3 4; do
    wait "${pids[$((i - 1))]}" || true
    echo "--- site $i"; cat "$NAT_WORK/out$i"
done

for i in 1 2 3 4; do
    out=$NAT_WORK/out$i
    wan=$(nat_wan_ip "$i")
    grep -q "^srflx 203.0.113.99:3478 failed$" "$out" || fail "site $i: dead STUN server not reported failed"
    m1=$(awk '$1=="srflx" && $2=="203.0.113.1:3478" {print $3}' "$out")
    m2=$(awk '$1=="srflx" && $2=="203.0.113.2:3478" {print $3}' "$out")
    [ "${m1%:*}" = "$wan" ] && [ "${m2%:*}" = "$wan" ] || fail "site $i: mapped $m1 $m2, want $wan"
    relay=$(grep "^relay 203.0.113.1:3478 203.0.113.1:" "$out") || fail "site $i: no TURN allocation"
    echo "$relay" | grep -q "mapped=$m1 in=ok" || fail "site $i: relay line: $relay"
    if [ "$i" = 3 ]; then
        [ "${m1#*:}" != "${m2#*:}" ] || fail "symmetric NAT kept the port: $m1 $m2"
        echo "$relay" | grep -q "out=fail" || fail "symmetric: relay-out should be filtered"
    else
        [ "$m1" = "$wan:5800" ] && [ "$m2" = "$wan:5800" ] || fail "site $i: port not kept: $m1 $m2"
        echo "$relay" | grep -q "out=ok" || fail "site $i: relay-out failed"
    fi
done
echo "PASS: check --online through cone, restricted, symmetric and public sites"
