#!/usr/bin/env bash
# Three nodes with static peers (b and c know only a): IPv4 and IPv6 pings
# every way, iperf3 TCP, the 1280-MTU path (DF pings at the limit pass, one
# byte more fails locally), status output, kill + restart of a node.
. "$(dirname "$0")/lib.sh"

hub_add ipe-hub
for n in a b c; do ns_add "ipe-$n"; done
ns_wire ipe-a ipe-hub 10.88.0.1/24
ns_wire ipe-b ipe-hub 10.88.0.2/24
ns_wire ipe-c ipe-hub 10.88.0.3/24

PA=$(genkey a); genkey b >/dev/null; genkey c >/dev/null
peer_a="{\"endpoint\": \"10.88.0.1:5800\", \"public_key\": \"$PA\"}"
overlay_json "$T_DIR/a.json" 10.254.1.1 "$T_DIR/a.key" "$T_DIR/a.sock" 0 ""
overlay_json "$T_DIR/b.json" 10.254.1.2 "$T_DIR/b.key" "$T_DIR/b.sock" 0 "$peer_a"
overlay_json "$T_DIR/c.json" 10.254.1.3 "$T_DIR/c.key" "$T_DIR/c.sock" 0 "$peer_a"
for n in a b c; do start "ipe-$n" "$n" run -v --config "$T_DIR/$n.json"; done
for n in a b c; do wait_dev "ipe-$n" ipop || fail "TAP of $n not up"; done

for pair in "a 10.254.1.2" "b 10.254.1.3" "c 10.254.1.1" "a 10.254.1.3" "b 10.254.1.1" "c 10.254.1.2"; do
    set -- $pair
    wait_ping "ipe-$1" "$2" 20 || fail "$1 cannot reach $2"
    ok "$1 -> $2 (IPv4)"
done
for pair in "a 10.254.1.2" "b 10.254.1.3" "c 10.254.1.1"; do
    set -- $pair
    v6=$(ip6_of "$2")
    wait_ping "ipe-$1" "$v6" 10 || fail "$1 cannot reach $v6"
    ok "$1 -> $v6 (IPv6)"
done

# b learned c through a's gossip; the ring (20 successors > 2 members)
# links them directly at its next management cycle (15 s).
for i in $(seq 1 30); do
    st=$("$IPOP_BIN" status --json --socket "$T_DIR/b.sock")
    [ "$(echo "$st" | python3 -c 'import json,sys; print(all(p["established"] for p in json.load(sys.stdin)["peers"]))')" = True ] && break
    sleep 1
done
python3 - "$st" <<'PY' || fail "status of b: $st"
import json, sys
s = json.loads(sys.argv[1])
assert s["ip4"] == "10.254.1.2", s
peers = {p["ip4"]: p for p in s["peers"]}
assert set(peers) == {"10.254.1.1", "10.254.1.3"}, peers
assert peers["10.254.1.1"]["source"] == "static", peers
assert peers["10.254.1.3"]["source"] in ("gossip", "inbound"), peers
for p in peers.values():
    assert p["established"] and p["path"] in ("host", "prflx"), p
    assert p["endpoint"].startswith("10.88.0."), p
    assert p["rx_packets"] > 0 and p["tx_packets"] > 0, p
PY
ok "status of b: a static, c learned from a (gossip or its own handshake), both direct"

# MTU 1280: 1252 bytes of ICMP payload + 28 = 1280 pass with DF; 1253 fails locally.
ip netns exec ipe-a ping -c 2 -W 2 -M do -s 1252 10.254.1.2 >/dev/null || fail "DF ping at MTU"
if ip netns exec ipe-a ping -c 1 -W 2 -M do -s 1253 10.254.1.2 >"$T_DIR/big.out" 2>&1; then
    fail "a 1281-byte DF packet passed a 1280 MTU"
fi
grep -qi "message too long\|mtu" "$T_DIR/big.out" || fail "oversized DF ping did not fail cleanly: $(cat $T_DIR/big.out)"
ok "1280-byte DF packets pass, 1281 fail locally (EMSGSIZE)"

# iperf3 TCP over the overlay.
ip netns exec ipe-b iperf3 -s -1 -D -p 5201 --logfile "$T_DIR/iperf-s.log"
sleep 0.5
ip netns exec ipe-a iperf3 -c 10.254.1.2 -p 5201 -t 3 -J > "$T_DIR/iperf.json" || fail "iperf3"
mbps=$(python3 -c "import json;print(int(json.load(open('$T_DIR/iperf.json'))['end']['sum_received']['bits_per_second']/1e6))")
[ "$mbps" -gt 1 ] || fail "iperf3 throughput $mbps Mbit/s"
ok "iperf3 TCP a -> b: $mbps Mbit/s"

# Kill c and restart it: it rejoins and traffic resumes.
kill "$PID_c"; wait "$PID_c" 2>/dev/null || true
ip -n ipe-c link show ipop >/dev/null 2>&1 && fail "TAP of c left behind after SIGTERM"
start ipe-c c2 run -v --config "$T_DIR/c.json"
wait_dev ipe-c ipop || fail "restarted c: no TAP"
wait_ping ipe-c 10.254.1.2 30 || fail "restarted c cannot reach b"
wait_ping ipe-b 10.254.1.3 30 || fail "b cannot reach restarted c"
ok "c restarted and rejoined"
