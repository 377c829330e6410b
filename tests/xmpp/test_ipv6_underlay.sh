#!/usr/bin/env bash
# XMPP over an IPv6-only underlay (issue 14): real prosody listens on an
# IPv6 address only; three nodes with no IPv4 on their underlay log in by
# that literal, learn each other's (IPv6) candidates from the signals and
# link directly; `ipop status` shows the links as ipv6.
. "$(dirname "$0")/../e2e/lib.sh"
XMPP_LISTEN=2001:db8:16::100
. "$(dirname "$0")/lib.sh"
PORT=47320

hub_add v14-hx
ip link add v14-srv type veth peer name v14-srv-h
ip link set v14-srv-h netns v14-hx
ip -n v14-hx link set v14-srv-h master br0 up
ip addr add "$XMPP_LISTEN/64" dev v14-srv nodad
ip link set v14-srv up
trap 'rc=$?; xmpp_cleanup; ip link del v14-srv 2>/dev/null; (exit $rc); t_cleanup' EXIT
for n in 1 2 3; do
    ns_add "v14-x$n"
    a="v14x$n" b="v14x$n-h"
    ip link add "$a" type veth peer name "$b"
    ip link set "$a" netns "v14-x$n"
    ip -n "v14-x$n" link set "$a" name eth0
    ip link set "$b" netns v14-hx
    ip -n v14-hx link set "$b" master br0 up
    ip -n "v14-x$n" addr add "2001:db8:16::$n/64" dev eth0 nodad
    ip -n "v14-x$n" link set eth0 up
done
xmpp_setup
prosody_start "$PORT" node:pw-node || fail "prosody did not start on [$XMPP_LISTEN]:$PORT"

for n in 1 2 3; do
    cat > "$T_DIR/n$n.json" <<JSON
{ "CFx": { "xmpp_username": "node@$XMPP_DOMAIN", "xmpp_password": "pw-node", "xmpp_host": "[$XMPP_LISTEN]",
           "xmpp_port": $PORT, "xmpp_ca_file": "$XMPP_DIR/ca.pem", "ip4_mask": 24, "listen_port": 47321,
           "key_file": "$T_DIR/n$n.key", "control_socket": "$T_DIR/n$n.sock" },
  "TincanSender": { "stun": [] },
  "BaseTopologyManager": { "ip4": "10.254.18.$n" } }
JSON
    start "v14-x$n" "x$n" run -v --config "$T_DIR/n$n.json" --tap v14ovl
done
for a in 1 2 3; do
    for b in 1 2 3; do
        [ $a = $b ] && continue
        wait_ping "v14-x$a" "10.254.18.$b" 40 || fail "node $a cannot reach 10.254.18.$b"
    done
done
ok "three nodes on an IPv6-only underlay found each other through prosody at [$XMPP_LISTEN]"
"$IPOP_BIN" status --json --socket "$T_DIR/n1.sock" | python3 -c '
import json, sys
s = json.load(sys.stdin)
assert s["signalling"].startswith("[2001:db8:16::100]:47320: connected as node@ipop.test/"), s["signalling"]
peers = {p["ip4"]: p for p in s["peers"]}
assert sorted(peers) == ["10.254.18.2", "10.254.18.3"], peers
for ip, p in peers.items():
    assert p["established"] and p["family"] == "ipv6" and p["path"] == "host", p
    assert p["endpoint"] == "[2001:db8:16::%s]:47321" % ip[-1], p
' || fail "status of node 1: $("$IPOP_BIN" status --json --socket "$T_DIR/n1.sock")"
ok "status of node 1: XMPP connected, both links direct over IPv6"
