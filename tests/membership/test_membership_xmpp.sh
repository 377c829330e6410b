#!/usr/bin/env bash
# The revocation of test_membership.sh with the group found through XMPP
# (real prosody, one shared account): four nodes that know only the
# account; the victim (x4) is revoked by config on x1 alone, then by a
# statement issued on x2. Within three management intervals no node links
# x4 and its pings fail; x3, cut off from every peer's UDP, gets the
# statement through the `members` XMPP signal alone.
. "$(dirname "$0")/lib.sh"
XMPP_LISTEN=10.19.1.100
. "$(dirname "$0")/../xmpp/lib.sh"
PORT=47241
MGMT=2

hub_add m19-xhub
ip link add m19-srv type veth peer name m19-srvh
ip link set m19-srvh netns m19-xhub
ip -n m19-xhub link set m19-srvh master br0 up
ip addr add "$XMPP_LISTEN/24" dev m19-srv
ip link set m19-srv up
trap 'rc=$?; xmpp_cleanup; ip link del m19-srv 2>/dev/null; (exit $rc); t_cleanup' EXIT
for n in 1 2 3 4; do ns_add "m19-x$n"; m_wire "m19-x$n" m19-xhub "10.19.1.$n/24" "x$n"; done
xmpp_setup
prosody_start $PORT node:pw-node || fail "prosody did not start"

OPK=$("$IPOP_BIN" genkey --operator "$T_DIR/op.key")
declare -A PK
for n in 1 2 3 4; do PK[$n]=$(genkey "n$n"); done
node_cfg() { # N [EXTRA_CFX]
    cat > "$T_DIR/n$1.json" <<JSON
{ "CFx": { "xmpp_username": "node@$XMPP_DOMAIN", "xmpp_password": "pw-node", "xmpp_host": "$XMPP_LISTEN",
           "xmpp_port": $PORT, "xmpp_ca_file": "$XMPP_DIR/ca.pem", "ip4_mask": 24, "tap_name": "m19tap",
           "listen_port": $M_PORT, "key_file": "$T_DIR/n$1.key", "control_socket": "$T_DIR/n$1.sock",
           "operator_key": "$OPK" ${2:-} },
  "TincanSender": { "stun": [] },
  "BaseTopologyManager": { "ip4": "10.254.19.$1", "interval_management": $MGMT } }
JSON
}
node_cfg 1 ", \"revoked_keys\": [\"${PK[4]}\"]"
for n in 2 3 4; do node_cfg $n; done
for n in 1 2 3 4; do start "m19-x$n" "x$n" run -v --config "$T_DIR/n$n.json"; done
for a in 2 3 4; do for b in 2 3 4; do
    [ $a = $b ] && continue
    wait_ping "m19-x$a" "10.254.19.$b" 40 || fail "x$a cannot reach x$b through an XMPP-found link"
done; done
for b in 2 3; do wait_ping m19-x1 "10.254.19.$b" 20 || fail "x1 cannot reach x$b"; done
ip netns exec m19-x4 ping -c 3 -i 0.3 -W 1 10.254.19.1 >/dev/null 2>&1 && fail "x4 reaches x1, which revoked it by config"
[ "$(m_has_peer 1 "${PK[4]}")" = 0 ] || fail "x1 has a peer entry for x4"
ok "group found through XMPP; x1 (revoked_keys) refuses x4, the others link it"

# x3 is cut off from every peer's UDP: only XMPP reaches it.
ip netns exec m19-x3 nft add table inet m19
ip netns exec m19-x3 nft add chain inet m19 out '{ type filter hook output priority 0; }'
ip netns exec m19-x3 nft add rule inet m19 out udp dport $M_PORT drop
ip netns exec m19-x3 nft add chain inet m19 in '{ type filter hook input priority 0; }'
ip netns exec m19-x3 nft add rule inet m19 in udp sport $M_PORT drop
out=$("$IPOP_BIN" member revoke "${PK[4]}" --operator-key "$T_DIR/op.key" --socket "$T_DIR/n2.sock") ||
    fail "member revoke: $out"
limit=$((3 * MGMT))
for i in $(seq 1 $((limit * 10))); do
    done_=1
    for n in 1 2 3; do [ "$(m_json $n "s['membership']['serial']")" = 1 ] || done_=0; done
    [ "$(m_has_peer 2 "${PK[4]}")" = 0 ] || done_=0
    [ $done_ = 1 ] && break
    sleep 0.1
done
[ $done_ = 1 ] || fail "statement 1 not everywhere (or x2 still links x4) after ${limit} s"
grep -q "membership statement 1 accepted from xmpp" "$T_DIR/x3.log" || fail "x3 did not get the statement through XMPP"
for n in 1 2 3; do [ "$(m_has_peer $n "${PK[4]}")" = 0 ] || fail "x$n still has a link to x4"; done
for b in 1 2 3; do
    ip netns exec m19-x4 ping -c 2 -i 0.3 -W 1 "10.254.19.$b" >/dev/null 2>&1 && fail "x4 still reaches x$b"
done
ip netns exec m19-x3 nft delete table inet m19
ip netns exec m19-x2 ping -c 2 -W 2 10.254.19.1 >/dev/null || fail "x2 lost x1"
ok "statement issued on x2 reached x1 and x3 (x3 through XMPP only) within ${limit} s; no node links x4, its pings fail"
