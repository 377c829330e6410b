#!/usr/bin/env bash
# Nodes that know nothing but an XMPP account find each other and link, against
# real prosody (one shared account) and real ejabberd (one account each, in a
# shared roster group). Then the server is killed during a running ping: the
# pings keep flowing over the links; after the server restarts, a fourth node
# joins and reaches everyone.
#   tests/xmpp/test_discovery.sh [prosody|ejabberd]   (default: both)
. "$(dirname "$0")/../e2e/lib.sh"
XMPP_LISTEN=10.84.0.100
. "$(dirname "$0")/lib.sh"
PORT=15232

# The server runs in the root namespace on a veth this test makes; the nodes
# reach it through the hub bridge.
hub_add ipd-hub
ip link add ipd-srv type veth peer name ipd-srv-h
ip link set ipd-srv-h netns ipd-hub
ip -n ipd-hub link set ipd-srv-h master br0 up
ip addr add "$XMPP_LISTEN/24" dev ipd-srv
ip link set ipd-srv up
trap 'rc=$?; xmpp_cleanup; ip link del ipd-srv 2>/dev/null; (exit $rc); t_cleanup' EXIT
for n in 1 2 3 4; do ns_add "ipd-$n"; ns_wire "ipd-$n" ipd-hub "10.84.0.$n/24"; done
xmpp_setup

# node_config N USER PASS
node_config() {
    cat > "$T_DIR/n$1.json" <<JSON
{ "CFx": { "xmpp_username": "$2@$XMPP_DOMAIN", "xmpp_password": "$3", "xmpp_host": "$XMPP_LISTEN",
           "xmpp_port": $PORT, "xmpp_ca_file": "$XMPP_DIR/ca.pem", "ip4_mask": 24,
           "key_file": "$T_DIR/n$1.key", "control_socket": "$T_DIR/n$1.sock" },
  "BaseTopologyManager": { "ip4": "10.254.7.$1" } }
JSON
}

run_server_case() { # SERVER
    local server=$1 n
    for n in 1 2 3 4; do
        if [ "$server" = prosody ]; then node_config $n node pw-node; else node_config $n "n$n" "pw-n$n"; fi
    done
    for n in 1 2 3; do start "ipd-$n" "$server$n" run -v --config "$T_DIR/n$n.json"; done
    for a in 1 2 3; do
        for b in 1 2 3; do
            [ $a = $b ] && continue
            wait_ping "ipd-$a" "10.254.7.$b" 40 || fail "$server: node $a cannot reach 10.254.7.$b"
        done
    done
    wait_ping ipd-1 "$(ip6_of 10.254.7.2)" 10 || fail "$server: IPv6 1 -> 2"
    wait_ping ipd-3 "$(ip6_of 10.254.7.1)" 10 || fail "$server: IPv6 3 -> 1"
    ok "$server: three nodes found each other through XMPP only (IPv4 and IPv6)"
    ip netns exec ipd-1 "$IPOP_BIN" status --socket "$T_DIR/n1.sock" | grep -q "^xmpp .*connected as" \
        || fail "$server: status does not show the XMPP session"
    ip netns exec ipd-1 "$IPOP_BIN" status --json --socket "$T_DIR/n1.sock" | python3 -c '
import json, sys
s = json.load(sys.stdin)
assert sorted(p["ip4"] for p in s["peers"]) == ["10.254.7.2", "10.254.7.3"], s["peers"]
assert all(p["source"] in ("xmpp", "inbound") and p["established"] for p in s["peers"]), s["peers"]
' || fail "$server: status peers"

    # Kill the server during a running ping: the links do not care.
    ip netns exec ipd-1 ping -i 0.2 -c 60 -W 1 10.254.7.3 > "$T_DIR/ping-$server.txt" &
    local ping_pid=$!
    sleep 2
    if [ "$server" = prosody ]; then prosody_stop || true; else ejabberd_stop || true; fi
    wait $ping_pid || true
    local loss
    loss=$(grep -o '[0-9.]*% packet loss' "$T_DIR/ping-$server.txt" | cut -d% -f1)
    python3 -c "import sys; sys.exit(0 if float('$loss') <= 5 else 1)" || fail "$server: $loss% loss while the server was down"
    ok "$server: server killed during a 12 s ping: $loss% loss"
    grep -q "back-off\|connecting" <(ip netns exec ipd-1 "$IPOP_BIN" status --socket "$T_DIR/n1.sock") \
        || fail "$server: status does not show the XMPP outage"

    # Server back: node 4 joins and reaches everyone.
    if [ "$server" = prosody ]; then prosody_start $PORT node:pw-node; else ejabberd_start $PORT; fi
    start ipd-4 "${server}4" run -v --config "$T_DIR/n4.json"
    for b in 1 2 3; do
        wait_ping ipd-4 "10.254.7.$b" 90 || fail "$server: node 4 cannot reach 10.254.7.$b after the restart"
    done
    wait_ping ipd-2 10.254.7.4 20 || fail "$server: node 2 cannot reach node 4"
    ok "$server: after the restart a fourth node joined and reaches everyone"
    for p in "${T_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${T_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    T_PIDS=()
    if [ "$server" = prosody ]; then prosody_stop || true; else ejabberd_stop || true; fi
}

cases=${1:-"prosody ejabberd"}
for server in $cases; do
    if [ "$server" = prosody ]; then
        prosody_start $PORT node:pw-node || fail "prosody did not start"
    else
        ejabberd_start $PORT n1:pw-n1 n2:pw-n2 n3:pw-n3 n4:pw-n4 || fail "ejabberd did not start"
        ejabberd_ctl srg_create ipop "$XMPP_DOMAIN" ipop "ipop group" ipop >/dev/null || fail "srg_create"
        ejabberd_ctl srg_user_add @all@ "$XMPP_DOMAIN" ipop "$XMPP_DOMAIN" >/dev/null || fail "srg_user_add"
    fi
    run_server_case "$server"
done
