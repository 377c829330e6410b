#!/usr/bin/env bash
# Kernels that refuse IPv6 (issue 14): in namespaces b and c
# net.ipv6.conf.all.disable_ipv6=1, a keeps IPv6. The nodes start anyway,
# IPv4-only, with one warning; `ipop check` and `ipop status` (text and
# JSON) give the reason. a (IPv6) <-> b (none), and b <-> c (neither side
# has IPv6, c learns b through a's gossip), in L3 mode; then b <-> c in
# switch mode (ARP across the overlay).
. "$(dirname "$0")/lib.sh"

hub_add v14-hub
for n in a b c; do ns_add "v14-$n"; done
for n in b c; do
    ip netns exec "v14-$n" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
    ip netns exec "v14-$n" sysctl -qw net.ipv6.conf.default.disable_ipv6=1
done
ns_wire v14-a v14-hub 10.114.0.1/24
ns_wire v14-b v14-hub 10.114.0.2/24
ns_wire v14-c v14-hub 10.114.0.3/24

PA=$(genkey a); PB=$(genkey b); genkey c >/dev/null
peer_a="{\"endpoint\": \"10.114.0.1:47300\", \"public_key\": \"$PA\"}"
for n in a b c; do
    case $n in a) ip=10.254.14.1 p="" ;; b) ip=10.254.14.2 p=$peer_a ;; c) ip=10.254.14.3 p=$peer_a ;; esac
    overlay_json "$T_DIR/$n.json" $ip "$T_DIR/$n.key" "$T_DIR/$n.sock" '0, "stun": []' "$p"
    sed -i 's/"listen_port": 5800/"listen_port": 47300/' "$T_DIR/$n.json"
done

# ipop check names the switch before anything runs.
ip netns exec v14-b "$IPOP_BIN" check --config "$T_DIR/b.json" > "$T_DIR/check-b.out"
grep -qx "kernel_ipv6     off: net.ipv6.conf.all.disable_ipv6=1; the overlay will run IPv4-only" "$T_DIR/check-b.out" \
    || fail "check on b: $(grep kernel_ipv6 "$T_DIR/check-b.out")"
grep -qx "kernel_ipv6     on" <<<"$(ip netns exec v14-a "$IPOP_BIN" check --config "$T_DIR/a.json")" \
    || fail "check on a does not say IPv6 on"
ok "ipop check: off with the sysctl named on b, on on a"

for n in a b c; do start "v14-$n" "$n" run -v --config "$T_DIR/$n.json" --tap v14ovl; done
for n in a b c; do wait_dev "v14-$n" v14ovl || fail "TAP of $n not up"; done

for pair in "a 10.254.14.2" "b 10.254.14.1" "b 10.254.14.3" "c 10.254.14.2" "c 10.254.14.1"; do
    set -- $pair
    wait_ping "v14-$1" "$2" 30 || fail "$1 cannot reach $2"
    ok "$1 -> $2 (IPv4)"
done

# No IPv6 address on b's TAP, IPv6 on a's.
addr_b=$(ip -n v14-b -6 addr show dev v14ovl)
addr_a=$(ip -n v14-a -6 addr show dev v14ovl)
[[ "$addr_b" != *inet6* ]] || fail "b's TAP has IPv6: $addr_b"
[[ "$addr_a" == *"inet6 fd50:"* ]] || fail "a's TAP lost its IPv6: $addr_a"
n_warn=$(grep -c "no IPv6 on the overlay (net.ipv6.conf.v14ovl.disable_ipv6=1); running IPv4-only" "$T_DIR/b.log" || true)
[ "$n_warn" = 1 ] || fail "b warned $n_warn times about IPv6"
grep -q "no IPv6 on the overlay" "$T_DIR/a.log" && fail "a warned about IPv6"
ok "b: one warning, no IPv6 on its TAP; a keeps fd50::/64"

# c learned b through a's gossip; the ring links them directly at its next
# management cycle (15 s).
for i in $(seq 1 40); do
    st=$("$IPOP_BIN" status --json --socket "$T_DIR/b.sock")
    [ "$(echo "$st" | python3 -c 'import json,sys; ps = json.load(sys.stdin)["peers"]; print(len(ps) == 2 and all(p["established"] for p in ps))')" = True ] && break
    sleep 1
done
python3 - "$st" <<'PY' || fail "status of b: $st"
import json, sys
s = json.loads(sys.argv[1])
assert s["ip6_enabled"] is False, s
assert s["ip6_off_reason"] == "net.ipv6.conf.v14ovl.disable_ipv6=1", s
peers = {p["ip4"]: p for p in s["peers"]}
assert peers["10.254.14.1"]["established"] and peers["10.254.14.1"]["source"] == "static", peers
assert peers["10.254.14.3"]["established"], peers
PY
grep -qx "ip6      off: net.ipv6.conf.v14ovl.disable_ipv6=1 (IPv4-only)" <<<"$("$IPOP_BIN" status --socket "$T_DIR/b.sock")" \
    || fail "text status of b: $("$IPOP_BIN" status --socket "$T_DIR/b.sock" | head -3)"
st=$("$IPOP_BIN" status --json --socket "$T_DIR/a.sock")
python3 - "$st" <<'PY' || fail "status of a: $st"
import json, sys
s = json.loads(sys.argv[1])
assert s["ip6_enabled"] is True and s["ip6_off_reason"] is None, s
PY
ok "status of b (text and JSON): IPv6 off with the reason, both links up; a: IPv6 on"

# TCP over the IPv4-only overlay between the two IPv6-less nodes.
ip netns exec v14-c iperf3 -s -1 -D -p 47302 --logfile "$T_DIR/iperf-s.log"
sleep 0.5
ip netns exec v14-b iperf3 -c 10.254.14.3 -p 47302 -t 2 -J > "$T_DIR/iperf.json" || fail "iperf3 b -> c"
mbps=$(python3 -c "import json;print(int(json.load(open('$T_DIR/iperf.json'))['end']['sum_received']['bits_per_second']/1e6))")
[ "$mbps" -gt 1 ] || fail "iperf3 throughput $mbps Mbit/s"
ok "iperf3 TCP b -> c: $mbps Mbit/s"

# Switch mode between b and c, both without IPv6: ARP crosses the overlay.
peer_b="{\"endpoint\": \"10.114.0.2:47301\", \"public_key\": \"$PB\"}"
overlay_json "$T_DIR/bs.json" 10.254.15.2 "$T_DIR/b.key" "$T_DIR/bs.sock" '1, "stun": []' ""
overlay_json "$T_DIR/cs.json" 10.254.15.3 "$T_DIR/c.key" "$T_DIR/cs.sock" '1, "stun": []' "$peer_b"
sed -i 's/"listen_port": 5800/"listen_port": 47301/' "$T_DIR/bs.json" "$T_DIR/cs.json"
start v14-b bs run -v --config "$T_DIR/bs.json" --tap v14sw
start v14-c cs run -v --config "$T_DIR/cs.json" --tap v14sw
wait_dev v14-b v14sw && wait_dev v14-c v14sw || fail "switch-mode TAPs not up"
wait_ping v14-c 10.254.15.2 30 || fail "switch mode: c cannot reach b"
wait_ping v14-b 10.254.15.3 10 || fail "switch mode: b cannot reach c"
grep -q "10.254.15.2 lladdr" <<<"$(ip -n v14-c neigh show dev v14sw)" || fail "no ARP entry for b on c"
"$IPOP_BIN" status --json --socket "$T_DIR/cs.sock" | python3 -c '
import json, sys
s = json.load(sys.stdin)
assert s["switchmode"] is True and s["ip6_enabled"] is False, s
assert s["ip6_off_reason"] == "net.ipv6.conf.v14sw.disable_ipv6=1", s
' || fail "switch-mode status of c"
ok "switch mode without IPv6: ARP and ping b <-> c, status says IPv6 off"
