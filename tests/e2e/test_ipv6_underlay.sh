#!/usr/bin/env bash
# IPv6 underlay (issue 14). Three nodes on an IPv6-only LAN (no IPv4 on
# the underlay at all) with static peers given as IPv6 literals: they link,
# gossip and ping each other; `ipop status` shows every link as ipv6. Then
# a dual-stack pair that first meets over IPv4 moves to its IPv6 path; the
# IPv6 path is cut with nftables and traffic goes on over IPv4 in the same
# session (no new handshake), and comes back to IPv6 when the cut heals.
. "$(dirname "$0")/lib.sh"

# ns_wire6 NS HUB ADDR6/PREFIX: a veth from NS (eth0) to HUB's br0, IPv6 only.
ns_wire6() {
    local ns=$1 hub=$2 addr=$3
    local a="v$RANDOM$RANDOM" b="w$RANDOM$RANDOM"
    a=${a:0:12}; b=${b:0:12}
    ip link add "$a" type veth peer name "$b"
    ip link set "$a" netns "$ns"
    ip -n "$ns" link set "$a" name eth0
    ip link set "$b" netns "$hub"
    ip -n "$hub" link set "$b" master br0 up
    ip -n "$ns" addr add "$addr" dev eth0 nodad
    ip -n "$ns" link set eth0 up
}

# status_of SOCK: the JSON status.
status_of() { "$IPOP_BIN" status --json --socket "$1"; }

# link_family SOCK PEER_IP4: "established family endpoint" of that link.
link_family() {
    status_of "$1" | python3 -c '
import json, sys
for p in json.load(sys.stdin)["peers"]:
    if p["ip4"] == sys.argv[1]:
        print(p["established"], p["family"], p["endpoint"], p["last_handshake_s"])
' "$2"
}

# wait_family SOCK PEER_IP4 FAMILY SECONDS
wait_family() {
    local i
    for ((i = 0; i < $4; i++)); do
        [[ "$(link_family "$1" "$2")" == "True $3 "* ]] && return 0
        sleep 1
    done
    return 1
}

### 1. IPv6-only underlay, three nodes.
hub_add v14-h6
for n in a b c; do ns_add "v14-6$n"; done
ns_wire6 v14-6a v14-h6 2001:db8:14::1/64
ns_wire6 v14-6b v14-h6 2001:db8:14::2/64
ns_wire6 v14-6c v14-h6 2001:db8:14::3/64
PA=$(genkey a); genkey b >/dev/null; genkey c >/dev/null
peer_a="{\"endpoint\": \"[2001:db8:14::1]:47310\", \"public_key\": \"$PA\"}"
for n in a b c; do
    case $n in a) ip=10.254.16.1 p="" ;; b) ip=10.254.16.2 p=$peer_a ;; c) ip=10.254.16.3 p=$peer_a ;; esac
    overlay_json "$T_DIR/$n.json" $ip "$T_DIR/$n.key" "$T_DIR/$n.sock" '0, "stun": []' "$p"
    sed -i 's/"listen_port": 5800/"listen_port": 47310/' "$T_DIR/$n.json"
    start "v14-6$n" "$n" run -v --config "$T_DIR/$n.json" --tap v14ovl
done
for n in a b c; do wait_dev "v14-6$n" v14ovl || fail "TAP of $n not up"; done
grep -q "host candidates: \[2001:db8:14::2\]:47310$" "$T_DIR/b.log" || fail "b's host candidates: $(grep 'host candidates' "$T_DIR/b.log")"
ok "host candidate of b is its IPv6 address"

for pair in "a 10.254.16.2" "b 10.254.16.1" "a 10.254.16.3" "c 10.254.16.1"; do
    set -- $pair
    wait_ping "v14-6$1" "$2" 20 || fail "$1 cannot reach $2 over the IPv6 underlay"
    ok "$1 -> $2 over the IPv6-only underlay"
done
# b and c learn each other through a's gossip and link directly.
wait_family "$T_DIR/b.sock" 10.254.16.3 ipv6 40 || fail "b -- c: $(link_family "$T_DIR/b.sock" 10.254.16.3)"
wait_ping v14-6b 10.254.16.3 10 || fail "b cannot reach c"
wait_ping v14-6c 10.254.16.2 10 || fail "c cannot reach b"
status_of "$T_DIR/b.sock" | python3 -c '
import json, sys
s = json.load(sys.stdin)
peers = {p["ip4"]: p for p in s["peers"]}
assert set(peers) == {"10.254.16.1", "10.254.16.3"}, peers
assert peers["10.254.16.1"]["endpoint"] == "[2001:db8:14::1]:47310", peers
assert peers["10.254.16.3"]["endpoint"] == "[2001:db8:14::3]:47310", peers
for p in peers.values():
    assert p["established"] and p["family"] == "ipv6" and p["path"] == "host", p
' || fail "status of b: $(status_of "$T_DIR/b.sock")"
grep -Eq '^10\.254\.16\.1 .* ipv6 ' <<<"$("$IPOP_BIN" status --socket "$T_DIR/b.sock")" \
    || fail "text status lacks the family: $("$IPOP_BIN" status --socket "$T_DIR/b.sock")"
ok "b -- c linked directly after gossip; status: both links ipv6, host"

# A 1400-byte ping crosses (the path MTU is found over IPv6: 40-byte header).
ip netns exec v14-6b ping -c 2 -W 2 -s 1400 10.254.16.1 >/dev/null || fail "1400-byte ping over the IPv6 underlay"
ok "1400-byte pings cross the IPv6 underlay"
for n in a b c; do kill "$(eval echo \$PID_$n)"; done
sleep 0.5

### 2. Dual-stack pair: meets over IPv4, prefers IPv6, falls back to IPv4.
hub_add v14-hd
for n in a b; do ns_add "v14-d$n"; done
ns_wire v14-da v14-hd 10.114.16.1/24
ns_wire v14-db v14-hd 10.114.16.2/24
ip -n v14-da addr add 2001:db8:15::1/64 dev eth0 nodad
ip -n v14-db addr add 2001:db8:15::2/64 dev eth0 nodad
PA=$(genkey da); genkey db >/dev/null
peer_a="{\"endpoint\": \"10.114.16.1:47311\", \"public_key\": \"$PA\"}"
overlay_json "$T_DIR/da.json" 10.254.17.1 "$T_DIR/da.key" "$T_DIR/da.sock" '0, "stun": []' ""
overlay_json "$T_DIR/db.json" 10.254.17.2 "$T_DIR/db.key" "$T_DIR/db.sock" '0, "stun": []' "$peer_a"
sed -i 's/"listen_port": 5800/"listen_port": 47311/' "$T_DIR/da.json" "$T_DIR/db.json"
start v14-da da run -v --config "$T_DIR/da.json" --tap v14ovl
start v14-db db run -v --config "$T_DIR/db.json" --tap v14ovl
wait_dev v14-da v14ovl && wait_dev v14-db v14ovl || fail "dual-stack TAPs not up"
wait_ping v14-db 10.254.17.1 20 || fail "dual-stack pair does not link"
# The first gossip round (15 s) probes the better (IPv6) candidate.
wait_family "$T_DIR/db.sock" 10.254.17.1 ipv6 30 || fail "db -> da did not move to IPv6: $(link_family "$T_DIR/db.sock" 10.254.17.1)"
wait_family "$T_DIR/da.sock" 10.254.17.2 ipv6 10 || fail "da -> db did not move to IPv6: $(link_family "$T_DIR/da.sock" 10.254.17.2)"
ok "dual-stack pair met over IPv4 and moved to IPv6: $(link_family "$T_DIR/db.sock" 10.254.17.1)"

# Cut IPv6 between them (both directions, at da).
ip netns exec v14-da nft -f - <<'NFT'
table inet v14cut {
    chain in  { type filter hook input priority 0; meta nfproto ipv6 udp sport 47311 drop; }
    chain out { type filter hook output priority 0; meta nfproto ipv6 udp dport 47311 drop; }
}
NFT
hs_before=$(grep -c "established" "$T_DIR/db.log")
ip netns exec v14-db ping -i 0.2 -c 150 -W 1 10.254.17.1 > "$T_DIR/cut-ping.out" 2>&1 &
ping_pid=$!
wait_family "$T_DIR/db.sock" 10.254.17.1 ipv4 25 || fail "db did not fall back to IPv4: $(link_family "$T_DIR/db.sock" 10.254.17.1)"
wait_family "$T_DIR/da.sock" 10.254.17.2 ipv4 10 || fail "da did not fall back to IPv4: $(link_family "$T_DIR/da.sock" 10.254.17.2)"
wait_ping v14-db 10.254.17.1 5 || fail "no traffic over IPv4 after the cut"
wait "$ping_pid" || true
recv=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$T_DIR/cut-ping.out")
[ "${recv:-0}" -ge 60 ] || fail "only ${recv:-0} of 150 pings (30 s) answered across the cut: $(tail -2 "$T_DIR/cut-ping.out")"
hs_after=$(grep -c "established" "$T_DIR/db.log")
[ "$hs_before" = "$hs_after" ] || fail "the link was re-established ($hs_before -> $hs_after): not a fallback in the session"
n=$(ip netns exec v14-da nft list table inet v14cut | grep -c "drop")
[ "$n" = 2 ] || fail "nft rules: $n"
ok "IPv6 cut: both sides on IPv4 in the same session, $recv/150 pings answered during the 30 s"

# Heal: the gossip-round probe finds IPv6 again.
ip netns exec v14-da nft delete table inet v14cut
wait_family "$T_DIR/db.sock" 10.254.17.1 ipv6 35 || fail "db did not return to IPv6: $(link_family "$T_DIR/db.sock" 10.254.17.1)"
wait_ping v14-db 10.254.17.1 5 || fail "no traffic after the heal"
ok "cut healed: back on IPv6"
