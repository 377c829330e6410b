#!/usr/bin/env bash
# What the init script leaves to ipop instead of procd's netdev (which only
# compares ifindexes when the service is set again): a nested overlay
# copes with its outer overlay's TAP and with its bridge being re-created.
# Two routers in namespaces, each with an outer overlay (TAP tunnel-tap,
# L3, static peers over eth0) and an inner switch-mode overlay whose only
# underlay is tunnel-tap (eth0 and br-lan ignored), its TAP a port of
# br-lan with a "LAN host" behind it:
#   1. the inner overlay starts before the outer one (procd forks them in
#      no order): it links up once tunnel-tap appears;
#   2. the outer node on h2 is killed (SIGKILL, as a crash) and respawned
#      5 s later, as procd does: tunnel-tap vanishes and comes back with
#      another ifindex; the inner nodes keep their processes and recover;
#   3. br-lan on h2 is deleted and re-created (a netifd network reload): the
#      inner TAP is a port of the new bridge within seconds, same process;
#      and when "netifd" re-attaches it first (TAP in the bridge's
#      `ports`), ipop leaves it so, without a warning.
# Root; namespaces and devices o15*, UDP ports 47150/47151.
. "$(dirname "$0")/../e2e/lib.sh"

[ "$(id -u)" = 0 ] || fail "needs root (network namespaces)"
for n in hub h1 h2 c1 c2; do ip netns del "o15-$n" 2>/dev/null || true; done
for l in o15v1 o15v2 o15c1 o15c2 o15u1 o15u2 o15l1 o15l2; do ip link del "$l" 2>/dev/null || true; done

# wire NS PEER_NS NAME_IN_NS NAME_IN_PEER VETH_A VETH_B
wire() {
	ip link add "$5" type veth peer name "$6"
	ip link set "$5" netns "$1"
	ip link set "$6" netns "$2"
	ip -n "$1" link set "$5" name "$3"
	ip -n "$2" link set "$6" name "$4"
}
hub_add o15-hub
for h in 1 2; do
	ns_add "o15-h$h"
	ns_add "o15-c$h"
	wire "o15-h$h" o15-hub eth0 "h$h" "o15u$h" "o15v$h"
	ip -n o15-hub link set "h$h" master br0 up
	ip -n "o15-h$h" addr add "10.151.0.$h/24" dev eth0
	ip -n "o15-h$h" link set eth0 up
	ip -n "o15-h$h" link add br-lan type bridge
	ip -n "o15-h$h" link set br-lan up
	wire "o15-c$h" "o15-h$h" eth0 lan1 "o15c$h" "o15l$h"
	ip -n "o15-h$h" link set lan1 master br-lan up
	ip -n "o15-c$h" addr add "10.0.151.1$h/24" dev eth0
	ip -n "o15-c$h" link set eth0 up
done

for h in 1 2; do
	genkey "outer$h" > "$T_DIR/outer$h.pub"
	genkey "inner$h" > "$T_DIR/inner$h.pub"
done
# conf LAYER HOST: the JSON config of one overlay on one host.
conf() {
	local layer=$1 h=$2 o=$((3 - $2)) peer extra
	if [ "$layer" = outer ]; then
		peer="{\"endpoint\": \"10.151.0.$o:47150\", \"public_key\": \"$(cat "$T_DIR/outer$o.pub")\"}"
		extra='"tap_name": "tunnel-tap", "listen_port": 47150, "network_ignore_list": ["ipop", "br-lan"]'
		sw=0 ip=192.168.151.$h
	else
		peer="{\"endpoint\": \"192.168.151.$o:47151\", \"public_key\": \"$(cat "$T_DIR/inner$o.pub")\"}"
		extra='"tap_name": "ipop", "listen_port": 47151, "bridge": "br-lan", "network_ignore_list": ["eth0", "br-lan"]'
		sw=1 ip=10.0.151.10$h
	fi
	cat > "$T_DIR/$layer$h.json" <<-JSON
		{
		  "CFx": { "vpn_type": "GroupVPN", "ip4_mask": 24, $extra,
		           "key_file": "$T_DIR/$layer$h.key", "control_socket": "$T_DIR/$layer$h.sock",
		           "static_peers": [$peer] },
		  "TincanSender": { "switchmode": $sw },
		  "BaseTopologyManager": { "ip4": "$ip" }
		}
	JSON
}
for h in 1 2; do conf outer $h; conf inner $h; done
ifindex() { ip -n "$1" -o link show "$2" | cut -d: -f1; }
master() { ip -n "$1" -o link show "$2" | sed -n 's/.* master \([^ ]*\) .*/\1/p'; }
alive() { kill -0 "$1" 2>/dev/null; }

# --- 1. inner first, outer later ---
for h in 1 2; do start "o15-h$h" "inner$h" run -v --config "$T_DIR/inner$h.json"; done
for h in 1 2; do wait_dev "o15-h$h" ipop || fail "inner TAP on h$h"; done
[ "$(master o15-h1 ipop)" = br-lan ] || fail "inner TAP not in br-lan"
ip -n o15-h1 link show tunnel-tap >/dev/null 2>&1 && fail "tunnel-tap exists before the outer overlay"
sleep 1
for h in 1 2; do start "o15-h$h" "outer$h" run -v --config "$T_DIR/outer$h.json"; done
for h in 1 2; do wait_dev "o15-h$h" tunnel-tap || fail "outer TAP on h$h"; done
wait_ping o15-h1 192.168.151.2 30 || fail "outer overlay: h1 cannot reach h2"
wait_ping o15-c1 10.0.151.12 40 || fail "LAN hosts cannot reach each other over the inner overlay"
ok "inner overlay started before tunnel-tap existed; LAN host c1 reaches c2 over inner over outer"

# --- 2. the outer node on h2 crashes and is respawned ---
idx=$(ifindex o15-h2 tunnel-tap)
kill -9 "$PID_outer2"
wait "$PID_outer2" 2>/dev/null || true
for _ in $(seq 30); do ip -n o15-h2 link show tunnel-tap >/dev/null 2>&1 || break; sleep 0.1; done
ip -n o15-h2 link show tunnel-tap >/dev/null 2>&1 && fail "tunnel-tap outlived its process"
ip netns exec o15-c1 ping -c 1 -W 1 10.0.151.12 >/dev/null 2>&1 && fail "c2 reachable with h2's outer node dead"
sleep 5    # procd's respawn_timeout
start o15-h2 outer2r run -v --config "$T_DIR/outer2.json"
wait_dev o15-h2 tunnel-tap || fail "respawned outer TAP"
idx2=$(ifindex o15-h2 tunnel-tap)
[ "$idx" != "$idx2" ] || fail "tunnel-tap came back with the same ifindex ($idx)"
t0=$(date +%s)
wait_ping o15-c1 10.0.151.12 60 || fail "inner overlay did not recover after the outer node's respawn"
for h in 1 2; do alive "$(eval echo \$PID_inner$h)" || fail "inner node on h$h died"; done
ok "outer on h2 killed and respawned (tunnel-tap ifindex $idx -> $idx2): inner nodes kept their processes, c1 -> c2 back after $(($(date +%s) - t0)) s"

# --- 3. netifd re-creates br-lan on h2 ---
rebuild() {
	ip -n o15-h2 link del br-lan
	sleep "${1:-0}"
	ip -n o15-h2 link add br-lan type bridge
	ip -n o15-h2 link set br-lan up
	ip -n o15-h2 link set lan1 master br-lan
}
bidx=$(ifindex o15-h2 br-lan)
rebuild 1
for _ in $(seq 50); do [ "$(master o15-h2 ipop)" = br-lan ] && break; sleep 0.1; done
[ "$(master o15-h2 ipop)" = br-lan ] || fail "inner TAP not back in the re-created br-lan"
[ "$bidx" != "$(ifindex o15-h2 br-lan)" ] || fail "br-lan was not re-created"
grep -q "port of bridge br-lan again" "$T_DIR/inner2.log" || fail "no log line for the re-join"
wait_ping o15-c1 10.0.151.12 30 || fail "c1 -> c2 after br-lan was re-created"
alive "$PID_inner2" || fail "inner node on h2 died"
# "netifd" puts it back itself (the TAP listed in the bridge's ports).
ip -n o15-h2 link del br-lan
ip -n o15-h2 link add br-lan type bridge
ip -n o15-h2 link set ipop master br-lan
ip -n o15-h2 link set br-lan up
ip -n o15-h2 link set lan1 master br-lan
sleep 1
[ "$(master o15-h2 ipop)" = br-lan ] || fail "TAP lost its bridge"
grep -E "WARN +ipop::io::tap" "$T_DIR/inner2.log" && fail "TAP warnings (above)"
wait_ping o15-c1 10.0.151.12 30 || fail "c1 -> c2 after netifd re-attached the TAP"
ok "br-lan re-created on h2: ipop re-joins it (same process), or leaves netifd's own re-attach alone"

# Clean stop: the TAPs leave their bridges without complaint.
for h in 1 2; do kill "$(eval echo \$PID_inner$h)"; done
for h in 1 2; do wait "$(eval echo \$PID_inner$h)" 2>/dev/null || true; done
ip -n o15-h2 link show ipop >/dev/null 2>&1 && fail "inner TAP left behind"
grep -qi "leaving bridge" "$T_DIR/inner2.log" && fail "leaving the bridge failed: $(grep -i 'leaving bridge' "$T_DIR/inner2.log")"
ok "inner nodes stopped: TAPs gone, bridges left cleanly"
echo "PASS test_nested_netns.sh"
