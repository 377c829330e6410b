#!/usr/bin/env bash
# Switch mode (L2): two nodes, each with a bridge lxcbr0 and a "container"
# namespace behind it. ipop attaches its TAP to the bridge itself (`bridge`
# option). Containers on different nodes ARP for and ping each other.
. "$(dirname "$0")/lib.sh"

hub_add ips-hub
for n in a b; do ns_add "ips-$n"; ns_add "ips-$n-ct"; done
ns_wire ips-a ips-hub 10.89.0.1/24
ns_wire ips-b ips-hub 10.89.0.2/24

# Each host: bridge lxcbr0 (10.0.3.x/24 is on the TAP, as in the seed) and
# a container 10.0.3.1y behind it.
i=0
for n in a b; do
    i=$((i + 1))
    ip -n "ips-$n" link add lxcbr0 type bridge
    ip -n "ips-$n" link set lxcbr0 up
    ip link add "ipsv$n" type veth peer name "ipsc$n"
    ip link set "ipsv$n" netns "ips-$n"
    ip -n "ips-$n" link set "ipsv$n" master lxcbr0 mtu 1280 up
    ip link set "ipsc$n" netns "ips-$n-ct"
    ip -n "ips-$n-ct" link set "ipsc$n" name eth0
    ip -n "ips-$n-ct" link set eth0 mtu 1280 up
    ip -n "ips-$n-ct" addr add "10.0.3.1$i/24" dev eth0
done

PA=$(genkey a); genkey b >/dev/null
peer_a="{\"endpoint\": \"10.89.0.1:5800\", \"public_key\": \"$PA\"}"
overlay_json "$T_DIR/a.json" 10.0.3.100 "$T_DIR/a.key" "$T_DIR/a.sock" 1 "" ', "bridge": "lxcbr0"'
overlay_json "$T_DIR/b.json" 10.0.3.101 "$T_DIR/b.key" "$T_DIR/b.sock" 1 "$peer_a" ', "bridge": "lxcbr0"'
start ips-a a run -v --config "$T_DIR/a.json"
start ips-b b run -v --config "$T_DIR/b.json"
wait_dev ips-a ipop && wait_dev ips-b ipop || fail "TAPs not up"

# The TAP is a port of lxcbr0, ARP stays on (switch mode).
ip -n ips-a -d link show ipop | grep -q "master lxcbr0" || fail "TAP not attached to lxcbr0"
ip -n ips-a link show ipop | grep -q NOARP && fail "switch mode TAP has NOARP"
ok "TAP attached to lxcbr0 by ipop, ARP on"

wait_ping ips-a-ct 10.0.3.12 20 || fail "container a cannot reach container b"
wait_ping ips-b-ct 10.0.3.11 5 || fail "container b cannot reach container a"
ok "containers ping across the switched overlay"
# ARP resolved end to end: b's MAC is in a's container neighbour table.
mac_b=$(ip -n ips-b-ct -j link show eth0 | python3 -c 'import json,sys;print(json.load(sys.stdin)[0]["address"])')
ip -n ips-a-ct neigh show 10.0.3.12 | grep -qi "$mac_b" || fail "ARP entry for 10.0.3.12 is not b's MAC $mac_b"
ok "ARP across the overlay resolved 10.0.3.12 to $mac_b"
# Status shows b's node, learned MACs are in use: a unicast flow went
# to b only (no flooding counters needed: two nodes), and ARP stayed on.
ip netns exec ips-a "$IPOP_BIN" status --json --socket "$T_DIR/a.sock" | python3 -c '
import json, sys
s = json.load(sys.stdin)
assert s["switchmode"] is True, s
assert [p["ip4"] for p in s["peers"]] == ["10.0.3.101"], s["peers"]
assert s["peers"][0]["established"] and s["peers"][0]["rx_packets"] > 2, s["peers"]
' || fail "status of a in switch mode"
ok "status of a: switch mode, b linked"
