#!/usr/bin/env bash
# A path smaller than the LAN, with ICMP dropped (issue 13):
#
#   ipm-a (node a, 10.73.1.2) ── ipm-ra ══ 1400-byte link ══ ipm-rb ── ipm-b (node b, 10.73.2.2)
#                          router, drops ICMP       router, drops ICMP
#
# (Plain routers: NAT traversal has its own tests in tests/nat.)
#
# Both nodes run switch mode with 1500-byte TAPs. Checks: the path MTU in
# `ipop status` is the link's 1400 (found by probes: no ICMP gets through);
# 1500-byte DF pings cross (fragmented inside the overlay); TCP works both
# ways with its MSS clamped; no IP fragment on the 1400-byte link and none
# created by any host; with 5 % loss on the link, lost pieces are counted
# (frag_incomplete) and TCP still moves data (loss made by nftables).
. "$(dirname "$0")/lib.sh"

for n in a b ra rb; do ns_add "ipm-$n"; done
link() { # link NS1 IF1 NS2 IF2 MTU
    local x="ipmx$RANDOM" y="ipmy$RANDOM"
    ip link add "$x" type veth peer name "$y"
    ip link set "$x" netns "$1"; ip -n "$1" link set "$x" name "$2"
    ip link set "$y" netns "$3"; ip -n "$3" link set "$y" name "$4"
    ip -n "$1" link set "$2" mtu "$5" up
    ip -n "$3" link set "$4" mtu "$5" up
}
link ipm-a eth0 ipm-ra lan0 1500
link ipm-b eth0 ipm-rb lan0 1500
link ipm-ra wan0 ipm-rb wan0 1400
ip -n ipm-a addr add 10.73.1.2/24 dev eth0
ip -n ipm-ra addr add 10.73.1.1/24 dev lan0
ip -n ipm-b addr add 10.73.2.2/24 dev eth0
ip -n ipm-rb addr add 10.73.2.1/24 dev lan0
ip -n ipm-ra addr add 10.73.0.1/30 dev wan0
ip -n ipm-rb addr add 10.73.0.2/30 dev wan0
ip -n ipm-a route add default via 10.73.1.1
ip -n ipm-b route add default via 10.73.2.1
ip -n ipm-ra route add 10.73.2.0/24 via 10.73.0.2
ip -n ipm-rb route add 10.73.1.0/24 via 10.73.0.1
for r in ra rb; do
    ip netns exec "ipm-$r" sysctl -qw net.ipv4.ip_forward=1
    ip netns exec "ipm-$r" nft -f - <<'NFT'
table ip filter {
    chain forward { type filter hook forward priority 0; policy accept;
        ip protocol icmp icmp type != { echo-request, echo-reply } counter drop
    }
    chain output { type filter hook output priority 0; policy accept;
        ip protocol icmp icmp type != { echo-request, echo-reply } counter drop
    }
}
NFT
done

PA=$(genkey a); PB=$(genkey b)
conf() { # FILE IP4 NAME PEER_ENDPOINT PEER_KEY (no STUN: nothing to ask here)
    cat > "$1" <<JSON
{
  "CFx": { "vpn_type": "GroupVPN", "ip4_mask": 24, "tap_name": "ipop", "listen_port": 5800,
           "key_file": "$T_DIR/$3.key", "control_socket": "$T_DIR/$3.sock",
           "static_peers": [{"endpoint": "$4", "public_key": "$5"}] },
  "TincanSender": { "switchmode": 1, "stun": [] },
  "BaseTopologyManager": { "ip4": "$2" }
}
JSON
}
conf "$T_DIR/a.json" 10.254.7.1 a 10.73.2.2:5800 "$PB"
conf "$T_DIR/b.json" 10.254.7.2 b 10.73.1.2:5800 "$PA"
start ipm-a a run -v --config "$T_DIR/a.json"
start ipm-b b run -v --config "$T_DIR/b.json"
for n in a b; do wait_dev "ipm-$n" ipop || fail "TAP of $n not up"; done
for n in a b; do
    m=$(ip -n "ipm-$n" -j link show ipop | python3 -c 'import json,sys;print(json.load(sys.stdin)[0]["mtu"])')
    [ "$m" = 1500 ] || fail "$n: switch-mode TAP MTU $m, expected 1500"
done
wait_ping ipm-a 10.254.7.2 30 || fail "a cannot reach b over the overlay"
ok "two nodes behind routers joined by a 1400-byte link that drop ICMP: linked"

# The path MTU is found by probing (the routers drop every ICMP error).
pmtu() {
    "$IPOP_BIN" status --json --socket "$T_DIR/$1.sock" | python3 -c '
import json, sys
p = [p for p in json.load(sys.stdin)["peers"] if p["established"]]
print("%s %s" % (p[0]["path_mtu"], p[0]["path_mtu_searching"]) if p else "none")'
}
for i in $(seq 1 60); do
    [ "$(pmtu a)" = "1400 False" ] && [ "$(pmtu b)" = "1400 False" ] && break
    sleep 0.5
done
[ "$(pmtu a)" = "1400 False" ] || fail "a: path MTU $(pmtu a), expected 1400 (search done)"
[ "$(pmtu b)" = "1400 False" ] || fail "b: path MTU $(pmtu b), expected 1400 (search done)"
"$IPOP_BIN" status --socket "$T_DIR/a.sock" | grep -E '^10\.254\.7\.2 +[0-9a-f]+ +static +[a-z]+ +[0-9.:]+ +1400 ' >/dev/null \
    || fail "status table lacks the pmtu column: $("$IPOP_BIN" status --socket "$T_DIR/a.sock")"
ok "path MTU 1400 in ipop status on both sides, found without ICMP"

frag_creates() { ip netns exec "$1" nstat -az IpFragCreates | awk '/IpFragCreates/ {print $2}'; }
declare -A F0
for n in a b ra rb; do F0[$n]=$(frag_creates "ipm-$n"); done
bg_cap() {
    ip netns exec ipm-ra tcpdump -i wan0 -n -U --immediate-mode -w "$T_DIR/wan.pcap" \
        "ip[6:2] & 0x3fff != 0" >"$T_DIR/tcpdump.out" 2>&1 &
    T_PIDS+=($!)
    CAP=$!
    for i in $(seq 1 50); do grep -q "listening on" "$T_DIR/tcpdump.out" && return 0; sleep 0.1; done
    fail "tcpdump did not start"
}
bg_cap

# Full-size frames cross the smaller path, fragmented inside the overlay.
ip netns exec ipm-a ping -M do -s 1472 -c 5 -i 0.2 -W 2 10.254.7.2 >/dev/null \
    || fail "1500-byte DF ping a -> b failed"
ip netns exec ipm-b ping -M do -s 1472 -c 5 -i 0.2 -W 2 10.254.7.1 >/dev/null \
    || fail "1500-byte DF ping b -> a failed"
ok "1500-byte DF pings cross the 1400-byte path both ways"

# iperf3 TCP both ways; MSS clamped so no segment needs fragments.
iperf_tcp() { # NS_SRV SRV_IP NS_CLI [-R]
    ip netns exec "$1" iperf3 -s -1 -B "$2" -p 5211 >/dev/null 2>&1 &
    local srv=$! i
    for i in $(seq 1 50); do ip netns exec "$1" ss -ltn | grep -q "$2:5211" && break; sleep 0.1; done
    ip netns exec "$3" iperf3 -c "$2" -p 5211 -t 3 -J ${4:-} > "$T_DIR/iperf.json" || fail "iperf3 $3 -> $2 ${4:-}"
    wait "$srv" 2>/dev/null || true
    python3 -c '
import json,sys
e = json.load(open(sys.argv[1]))["end"]
assert e["sum_received"]["bytes"] > 1000000, e["sum_received"]
print("%.1f" % (e["sum_received"]["bits_per_second"] / 1e6))' "$T_DIR/iperf.json"
}
TP=$(iperf_tcp ipm-b 10.254.7.2 ipm-a)
TP_R=$(iperf_tcp ipm-b 10.254.7.2 ipm-a -R)
ok "iperf3 TCP a -> b $TP Mbit/s, b -> a $TP_R Mbit/s"
frag_frames() {
    "$IPOP_BIN" status --json --socket "$T_DIR/$1.sock" | python3 -c '
import json, sys
d = json.load(sys.stdin)["drops"]
print(d["frag_incomplete"], d["frag_duplicate"], d["frag_overlapping"], d["frag_oversized"])'
}
[ "$(frag_frames b)" = "0 0 0 0" ] || fail "b dropped fragments on a clean path: $(frag_frames b)"

sleep 0.5
kill -INT "$CAP" 2>/dev/null; wait "$CAP" 2>/dev/null || true
n=$(tcpdump -r "$T_DIR/wan.pcap" -n 2>/dev/null | wc -l)
[ "$n" = 0 ] || fail "$n IP fragments on the 1400-byte link"
for n in a b ra rb; do
    [ "$(frag_creates "ipm-$n")" = "${F0[$n]}" ] || fail "$n created IP fragments"
done
ok "no IP fragment on the underlay link, none created by any host (nstat IpFragCreates)"

# 5 % loss on the link: lost pieces are counted, TCP recovers. (nftables'
# random numbers rather than netem: not every kernel has sch_netem.)
for r in ra rb; do
    ip netns exec "ipm-$r" nft add rule ip filter forward oifname wan0 udp dport 5800 numgen random mod 20 == 0 counter drop
done
ip netns exec ipm-a ping -M do -s 1472 -c 60 -i 0.05 -W 1 10.254.7.2 > "$T_DIR/lossy.txt" 2>&1 || true
got=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$T_DIR/lossy.txt")
[ "${got:-0}" -ge 30 ] || fail "only ${got:-0} of 60 1500-byte pings crossed at 5 % loss"
sleep 1.5
inc=$(frag_frames b | cut -d' ' -f1)
[ "$inc" -ge 1 ] || fail "no incomplete reassembly counted at 5 % loss: $(frag_frames b)"
TP_L=$(iperf_tcp ipm-b 10.254.7.2 ipm-a)
ok "5 % loss: $got/60 full-size pings, $inc lost pieces counted (frag_incomplete), TCP $TP_L Mbit/s"
