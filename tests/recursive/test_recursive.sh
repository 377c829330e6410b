#!/usr/bin/env bash
# The seed's recursive setup (issue 8), end to end, in namespaces:
#
#   ipr-srv  prosody 10.86.0.100 ─┐
#   ipr-h1   eth0 10.86.0.1 ──────┤ ipr-hub (br0, the "underlay")
#   ipr-h2   eth0 10.86.0.2 ──────┤
#   ipr-nat  wan0 10.86.0.254 ────┘ masquerade ── lan0 172.30.3.1
#   ipr-h3   eth0 172.30.3.2 (behind the NAT)
#
# Every host runs the outer overlay (TAP tunnel-tap, 192.168.1.x/16, L3)
# and the inner overlay (TAP ipop, 10.0.3.x/24, switch mode, joined to the
# bridge lxcbr0 by ipop itself) whose only usable underlay is tunnel-tap.
# Behind each lxcbr0 sits a "container" namespace ipr-cN (10.0.3.1N).
# Configs are tests/fixtures/seed-{outer,inner}.json with per-host values.
. "$(dirname "$0")/../e2e/lib.sh"
. "$(dirname "$0")/../xmpp/lib.sh"
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
XPORT=15222
OUTER_PW="outer-pw-$RANDOM"
INNER_PW="inner-pw-$RANDOM"
T0=$(date +%s)
REPORT=()
note() { REPORT+=("$*"); echo "   $*"; }
elapsed() { echo $(($(date +%s) - T0)); }

r_cleanup() {
    local rc=$?
    set +e
    # IPR_KEEP=DIR keeps the logs and captures for a look afterwards.
    if [ -n "${IPR_KEEP:-}" ]; then
        rm -rf "$IPR_KEEP" && cp -a "$T_DIR" "$IPR_KEEP"
        cp -a "${XMPP_DIR:-/nonexistent}/prosody" "$IPR_KEEP/" 2>/dev/null
    fi
    [ -n "${XMPP_DIR:-}" ] && rm -rf "$XMPP_DIR"
    (exit $rc)
    t_cleanup
}
trap r_cleanup EXIT

# bg NS LOGNAME CMD...: a background helper (tcpdump, iperf3, charon) in NS.
bg() {
    local ns=$1 name=$2; shift 2
    ip netns exec "$ns" "$@" >"$T_DIR/$name.out" 2>&1 &
    T_PIDS+=($!)
    BG_PID=$!
}
stop_pid() { kill -INT "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
status_json() { ip netns exec "ipr-h$1" "$IPOP_BIN" status --json --socket "$T_DIR/$2$1.sock"; }
mtu_of() { ip -n "$1" -j link show "$2" | python3 -c 'import json,sys;print(json.load(sys.stdin)[0]["mtu"])'; }
mac_of() { ip -n "$1" -j link show "$2" | python3 -c 'import json,sys;print(json.load(sys.stdin)[0]["address"])'; }
# pcap_count FILE [FILTER]: packets in a capture.
pcap_count() { tcpdump -r "$1" -n ${2:+"$2"} 2>/dev/null | wc -l; }
# cap NS IF NAME FILTER: start a capture, wait until it listens.
declare -A CAP_PID
cap() {
    bg "$1" "$3" tcpdump -i "$2" -n -U --immediate-mode -w "$T_DIR/$3.pcap" "$4"
    CAP_PID[$3]=$BG_PID
    local i
    for ((i = 0; i < 50; i++)); do grep -q "listening on" "$T_DIR/$3.out" && return 0; sleep 0.1; done
    fail "tcpdump on $1/$2 did not start: $(cat "$T_DIR/$3.out")"
}
# rtt NS DST: average RTT in ms of 5 pings.
rtt() { ip netns exec "$1" ping -c 5 -i 0.2 -W 2 "$2" | sed -n 's|.*= [0-9.]*/\([0-9.]*\)/.*|\1|p'; }
# iperf NS_SRV SRV_IP NS_CLI [-R]: TCP throughput in Mbit/s (3 s).
iperf() {
    bg "$1" "iperf-srv-$1" iperf3 -s -1 -B "$2" -p 5201
    local srv=$BG_PID i
    for ((i = 0; i < 50; i++)); do
        ip netns exec "$1" ss -ltn | grep -q "$2:5201" && break
        sleep 0.1
    done
    ip netns exec "$3" iperf3 -c "$2" -p 5201 -t 3 -J ${4:-} > "$T_DIR/iperf-$3.json" || fail "iperf3 $3 -> $2 ${4:-}"
    wait "$srv" 2>/dev/null || true
    python3 -c '
import json,sys
e = json.load(open(sys.argv[1]))["end"]
b = e["sum_received"]["bytes"]
assert b > 1000000, b
print("%.1f" % (e["sum_received"]["bits_per_second"] / 1e6))' "$T_DIR/iperf-$3.json"
}

# ---------------------------------------------------------------- the world
# Leftovers of an interrupted run (same names) would make `ip netns add` fail.
for n in hub srv h1 h2 h3 nat c1 c2 c3; do ip netns del "ipr-$n" 2>/dev/null || true; done
for l in iprv1 iprv2 iprv3 iprc1 iprc2 iprc3 iprn-lan iprn-h3; do ip link del "$l" 2>/dev/null || true; done
hub_add ipr-hub
ns_add ipr-srv
ns_wire ipr-srv ipr-hub 10.86.0.100/24
for h in 1 2; do ns_add "ipr-h$h"; ns_wire "ipr-h$h" ipr-hub "10.86.0.$h/24"; done
ns_add ipr-nat
ns_wire ipr-nat ipr-hub 10.86.0.254/24 wan0
ns_add ipr-h3
ip link add iprn-lan type veth peer name iprn-h3
ip link set iprn-lan netns ipr-nat
ip link set iprn-h3 netns ipr-h3
ip -n ipr-nat link set iprn-lan name lan0
ip -n ipr-h3 link set iprn-h3 name eth0
ip -n ipr-nat addr add 172.30.3.1/24 dev lan0
ip -n ipr-nat link set lan0 up
ip -n ipr-h3 addr add 172.30.3.2/24 dev eth0
ip -n ipr-h3 link set eth0 up
ip -n ipr-h3 route add default via 172.30.3.1
ip netns exec ipr-nat sysctl -qw net.ipv4.ip_forward=1
ip netns exec ipr-nat nft -f - <<'NFT'
table ip nat {
    chain postrouting { type nat hook postrouting priority 100; oifname "wan0" masquerade; }
}
table ip filter {
    chain forward { type filter hook forward priority 0; policy drop;
        iifname "lan0" accept
        ct state established,related accept
    }
}
NFT
ip netns exec ipr-h1 ping -c 1 -W 1 172.30.3.2 >/dev/null 2>&1 && fail "h3 is reachable from the underlay without NAT"
wait_ping ipr-h3 10.86.0.1 5 || fail "h3 cannot reach the underlay through the NAT"

# Containers behind lxcbr0 (no address on the bridge: 10.0.3.x is on the TAP).
for h in 1 2 3; do
    ns_add "ipr-c$h"
    ip -n "ipr-h$h" link add lxcbr0 type bridge
    ip -n "ipr-h$h" link set lxcbr0 up
    ip link add "iprv$h" type veth peer name "iprc$h"
    ip link set "iprv$h" netns "ipr-h$h"
    ip -n "ipr-h$h" link set "iprv$h" master lxcbr0 up
    ip link set "iprc$h" netns "ipr-c$h"
    ip -n "ipr-c$h" link set "iprc$h" name eth0
    ip -n "ipr-c$h" addr add "10.0.3.1$h/24" dev eth0
    ip -n "ipr-c$h" link set eth0 up
done
ok "world: 3 hosts (h3 behind NAT), XMPP server, 3 containers ($(elapsed) s)"

# ---------------------------------------------------------------- XMPP
XMPP_LISTEN=10.86.0.100
xmpp_setup
PROSODY_PID=$(ip netns exec ipr-srv bash -c "$(declare -f prosody_start wait_port xmpp_log)
    XMPP_DIR='$XMPP_DIR'; XMPP_DOMAIN='$XMPP_DOMAIN'; XMPP_LISTEN='$XMPP_LISTEN'
    prosody_start $XPORT outer:$OUTER_PW inner:$INNER_PW >&2 || exit 1
    echo \$PROSODY_PID") || fail "prosody did not start"
T_PIDS+=("$PROSODY_PID")
ok "prosody on $XMPP_LISTEN:$XPORT, accounts outer@ and inner@$XMPP_DOMAIN"

# ---------------------------------------------------------------- configs
# mkconf SEED OUT HOST ACCOUNT PASS PORT TAP: the seed file with per-host values.
mkconf() {
    python3 - "$@" "$T_DIR" "$XMPP_DOMAIN" "$XMPP_LISTEN" "$XPORT" <<'PY'
import json, sys
seed, out, host, user, pw, port, tap, tdir, dom, srv, xport = sys.argv[1:]
c = json.load(open(seed))
x = c["CFx"]
inner = user == "inner"
x.update({
    "xmpp_username": f"{user}@{dom}", "xmpp_password": pw,
    "xmpp_host": srv, "xmpp_port": int(xport),
    # ipop's own keys: lab server cert, where keys/sockets live, fixed port.
    "xmpp_insecure": True, "key_file": f"{tdir}/{tap}{host}.key",
    "control_socket": f"{tdir}/{user[0]}{host}.sock",
    "listen_port": int(port), "tap_name": tap,
})
if inner:
    x["bridge"] = "lxcbr0"
base = "10.0.3." if inner else "192.168.1."
c["BaseTopologyManager"]["ip4"] = base + str(99 + int(host))
json.dump(c, open(out, "w"), indent=2)
# Only per-host values and ipop's CFx keys differ from the seed.
s = json.load(open(seed))
for sec in s:
    for k in s[sec]:
        if s[sec][k] != c[sec][k]:
            assert (sec, k) in [("CFx", "xmpp_username"), ("CFx", "xmpp_password"),
                ("CFx", "xmpp_host"), ("CFx", "xmpp_port"),
                ("BaseTopologyManager", "ip4")], (sec, k)
assert c["CFx"]["network_ignore_list"] == (["eth0", "lxcbr0"] if inner else ["ipop", "lxcbr0"])
assert c["TincanSender"]["switchmode"] == (1 if inner else 0)
assert c["TincanSender"].get("stun") == (["192.168.1.100:19302"] if inner else None)
PY
}
for h in 1 2 3; do
    mkconf "$ROOT/tests/fixtures/seed-outer.json" "$T_DIR/outer$h.json" $h outer "$OUTER_PW" 5800 tunnel-tap
    mkconf "$ROOT/tests/fixtures/seed-inner.json" "$T_DIR/inner$h.json" $h inner "$INNER_PW" 5805 ipop
done
ok "configs: seed files with per-host ip4 and XMPP account only (+ ipop CFx keys)"

# ---------------------------------------------------------------- start: inner first
for h in 1 2 3; do start "ipr-h$h" "i$h" run -v --config "$T_DIR/inner$h.json"; done
for h in 1 2 3; do wait_dev "ipr-h$h" ipop || fail "inner TAP on h$h not up"; done
sleep 2
for h in 1 2 3; do
    ip -n "ipr-h$h" link show tunnel-tap >/dev/null 2>&1 && fail "tunnel-tap exists before the outer overlay"
    ip -n "ipr-h$h" -d link show ipop | grep -q "master lxcbr0" || fail "h$h: inner TAP not in lxcbr0"
    status_json $h i | python3 -c '
import json, sys
s = json.load(sys.stdin)
assert not any(p["established"] for p in s["peers"]), s["peers"]' || fail "h$h: inner link up without an outer overlay"
done
ok "inner overlays started first: TAPs in lxcbr0, no links (no usable underlay yet)"
T_OUTER=$(date +%s)
for h in 1 2 3; do start "ipr-h$h" "o$h" run -v --config "$T_DIR/outer$h.json"; done
for h in 1 2 3; do wait_dev "ipr-h$h" tunnel-tap || fail "outer TAP on h$h not up"; done
wait_ping ipr-h1 192.168.1.101 60 || fail "outer: h1 cannot reach h2 (192.168.1.101)"
wait_ping ipr-h1 192.168.1.102 60 || fail "outer: h1 cannot reach h3 behind NAT (192.168.1.102)"
wait_ping ipr-h3 192.168.1.101 30 || fail "outer: h3 cannot reach h2"
note "outer overlay up $(($(date +%s) - T_OUTER)) s after its start"
ip -n ipr-h1 link show tunnel-tap | grep -q NOARP || fail "tunnel-tap is not NOARP (switchmode 0)"
ip -n ipr-h1 link show ipop | grep -q NOARP && fail "inner TAP has NOARP (switchmode 1)"

# MTU: the containers keep Linux's default 1500, as every LAN device does.
# The inner TAP joins lxcbr0 at the bridge's MTU (it never lowers it), and
# frames bigger than the 1280-byte tunnel-tap path are fragmented inside
# the inner overlay; the outer TAP stays at 1280 (as in the seed).
MO=$(mtu_of ipr-h1 tunnel-tap)
[ "$MO" = 1280 ] || fail "tunnel-tap MTU $MO, expected 1280"
M=$(mtu_of ipr-h1 ipop)
[ "$M" = 1500 ] || fail "inner TAP MTU $M, expected 1500 (lxcbr0's)"
for h in 1 2 3; do
    [ "$(mtu_of "ipr-h$h" lxcbr0)" = 1500 ] || fail "h$h: lxcbr0 MTU $(mtu_of "ipr-h$h" lxcbr0), expected 1500"
    [ "$(mtu_of "ipr-c$h" eth0)" = 1500 ] || fail "c$h: container MTU is not 1500"
done
# The inner TAP has the seed's IPv6 address (MTU >= 1280).
ip -n ipr-h1 -6 addr show dev ipop | grep -q "fd50:dbc:41f2:4a3c:f46d:6281:ae45:f92e/64" \
    || fail "inner TAP on h1 lacks the seed's IPv6 address: $(ip -n ipr-h1 -6 addr show dev ipop)"
for p in "1 10.0.3.12" "1 10.0.3.13" "2 10.0.3.13" "3 10.0.3.11"; do
    set -- $p
    wait_ping "ipr-c$1" "$2" 60 || fail "container c$1 cannot reach $2 over the inner overlay"
done
note "inner overlay (containers) up $(($(date +%s) - T_OUTER)) s after the outer start"
for h in 1 2 3; do kill -0 "$(eval echo \$PID_i$h)" 2>/dev/null || fail "inner node h$h died"; done
grep -c "" "$T_DIR/i1.log" >/dev/null
ok "start order inner-then-outer: containers ping across 3 hosts, inner nodes never restarted"

# ARP across the inner overlay.
for p in "1 2" "1 3" "3 1"; do
    set -- $p
    mac=$(mac_of "ipr-c$2" eth0)
    ip -n "ipr-c$1" neigh show "10.0.3.1$2" | grep -qi "lladdr $mac" \
        || fail "c$1: ARP entry for 10.0.3.1$2 is not c$2's MAC $mac"
done
ok "ARP across the inner overlay resolves the remote containers' MACs"

# The inner overlay's peers are reached at outer-overlay addresses.
for h in 1 2 3; do
    status_json $h i > "$T_DIR/st-i$h.json"
    python3 - "$T_DIR/st-i$h.json" $h <<'PY' || fail "h$h: inner peers not over the outer overlay"
import json, sys
s = json.load(open(sys.argv[1]))
me = int(sys.argv[2])
want = {f"10.0.3.{99 + h}": f"192.168.1.{99 + h}:5805" for h in (1, 2, 3) if h != me}
got = {p["ip4"]: p["endpoint"] for p in s["peers"] if p["established"]}
assert got == want, (got, want)
PY
done
python3 - "$T_DIR/st-i1.json" <<'PY' | while read -r l; do note "$l"; done
import json, sys
for p in json.load(open(sys.argv[1]))["peers"]:
    print(f"h1 inner peer {p['ip4']}: endpoint {p['endpoint']} path {p['path']}")
PY
status_json 1 o > "$T_DIR/st-o1.json"
python3 - "$T_DIR/st-o1.json" <<'PY' | while read -r l; do note "$l"; done
import json, sys
for p in json.load(open(sys.argv[1]))["peers"]:
    print(f"h1 outer peer {p['ip4']}: endpoint {p['endpoint']} path {p['path']} established {p['established']}")
PY
ok "inner peers' endpoints are outer-overlay addresses (192.168.1.x:5805)"

# Inner traffic: on tunnel-tap, never directly on eth0; no IP fragments.
for h in 1 3; do
    cap "ipr-h$h" eth0 "eth0-inner$h" "udp or (ip[6:2] & 0x3fff != 0)"
done
cap ipr-h1 tunnel-tap tt-inner1 "udp port 5805"
cap ipr-h1 tunnel-tap tt-frag1 "ip[6:2] & 0x3fff != 0"
RTT_INNER=$(rtt ipr-c1 10.0.3.12)
RTT_INNER3=$(rtt ipr-c1 10.0.3.13)
RTT_OUTER=$(rtt ipr-h1 192.168.1.101)
RTT_UNDER=$(rtt ipr-h1 10.86.0.2)
# IP fragments the hosts create (the kernel's own counter, per namespace).
frag_creates() { ip netns exec "ipr-h$1" nstat -az IpFragCreates | awk '/IpFragCreates/ {print $2}'; }
declare -A FRAGS0
for h in 1 2 3; do FRAGS0[$h]=$(frag_creates $h); done
# MTU: DF pings of a full 1500-byte packet pass (to h2 and across the NAT
# to h3), fragmented inside the inner overlay; one byte more fails locally.
for d in 10.0.3.12 10.0.3.13; do
    ip netns exec ipr-c1 ping -M do -s 1472 -c 3 -i 0.2 -W 2 "$d" >/dev/null \
        || fail "DF ping of 1500 bytes to $d failed"
done
out=$(ip netns exec ipr-c1 ping -M do -s 1473 -c 1 -W 2 10.0.3.12 2>&1) \
    && fail "DF ping of 1501 bytes passed"
echo "$out" | grep -q "message too long, mtu=1500" || fail "DF ping of 1501 bytes: $out"
ok "MTU: containers at 1500: DF pings of 1500 bytes pass, 1501 fail locally (message too long, mtu=1500)"
# IPv6 between the containers (ULA addresses on their eth0), full size too.
for h in 1 2 3; do ip -n "ipr-c$h" addr add "fd00:3::1$h/64" dev eth0 nodad; done
wait_ping6() {
    local i
    for ((i = 0; i < 40; i++)); do
        ip netns exec "$1" ping -6 -c 1 -W 1 "$2" >/dev/null 2>&1 && return 0
        sleep 0.25
    done
    return 1
}
wait_ping6 ipr-c1 fd00:3::12 || fail "IPv6 ping c1 -> c2"
wait_ping6 ipr-c3 fd00:3::11 || fail "IPv6 ping c3 (NAT) -> c1"
ip netns exec ipr-c1 ping -6 -M do -s 1452 -c 2 -i 0.2 -W 2 fd00:3::13 >/dev/null \
    || fail "IPv6 DF ping of 1500 bytes c1 -> c3"
ok "IPv6 between containers: ping and 1500-byte DF ping pass"
TP_INNER=$(iperf ipr-c2 10.0.3.12 ipr-c1)
TP_INNER_R=$(iperf ipr-c2 10.0.3.12 ipr-c1 -R)
TP_INNER3=$(iperf ipr-c3 10.0.3.13 ipr-c1)
TP_OUTER=$(iperf ipr-h2 192.168.1.101 ipr-h1)
ok "iperf3 TCP container c1 -> c2: $TP_INNER Mbit/s, c2 -> c1: $TP_INNER_R Mbit/s, c1 -> c3 (NAT): $TP_INNER3 Mbit/s"
for h in 1 2 3; do
    [ "$(frag_creates $h)" = "${FRAGS0[$h]}" ] \
        || fail "h$h created IP fragments: IpFragCreates ${FRAGS0[$h]} -> $(frag_creates $h)"
done
ok "no host created an IP fragment (nstat IpFragCreates unchanged on h1, h2, h3)"
st=$(status_json 1 i)
echo "$st" | python3 -c '
import json, sys
s = json.load(sys.stdin)
m = {p["ip4"]: p["path_mtu"] for p in s["peers"] if p["established"]}
assert m == {"10.0.3.101": 1280, "10.0.3.102": 1280}, m' || fail "inner path MTUs on h1 are not 1280 (tunnel-tap): $st"
ok "inner links' path MTU is tunnel-tap's 1280 in ipop status"
sleep 1
for f in eth0-inner1 eth0-inner3 tt-inner1 tt-frag1; do stop_pid "${CAP_PID[$f]}"; done
for h in 1 3; do
    n=$(pcap_count "$T_DIR/eth0-inner$h.pcap" "udp port 5805 or (ip[6:2] & 0x3fff != 0)")
    [ "$n" = 0 ] || fail "h$h: $n inner-overlay packets (udp 5805) or fragments directly on eth0"
    # The same capture saw the outer overlay carrying them (port 5800).
    n_eo=$(pcap_count "$T_DIR/eth0-inner$h.pcap" "udp port 5800")
    [ "$n_eo" -gt 100 ] || fail "h$h: only $n_eo outer packets on eth0: capture broken?"
done
n_tt=$(pcap_count "$T_DIR/tt-inner1.pcap")
[ "$n_tt" -gt 100 ] || fail "only $n_tt inner-overlay packets on tunnel-tap"
n=$(pcap_count "$T_DIR/tt-frag1.pcap")
[ "$n" = 0 ] || fail "$n IP fragments on tunnel-tap"
ok "inner traffic: $n_tt packets on tunnel-tap, 0 on eth0 (h1, h3; $n_eo outer packets there), 0 fragments"

# ---------------------------------------------------------------- outer restart
kill "$PID_o2"
wait "$PID_o2" 2>/dev/null || true
ip netns exec ipr-c1 ping -c 1 -W 1 10.0.3.12 >/dev/null 2>&1 && fail "c2 reachable with h2's outer node down"
T_R=$(date +%s)
start ipr-h2 o2r run -v --config "$T_DIR/outer2.json"
wait_ping ipr-h1 192.168.1.101 60 || fail "outer h1 -> h2 after h2's outer node restarted"
T_R1=$(($(date +%s) - T_R))
# What the inner node on h1 thinks of h2 meanwhile (for the report).
peer_h2() {
    status_json 1 i | python3 -c '
import json, sys
p = [p for p in json.load(sys.stdin)["peers"] if p["ip4"] == "10.0.3.101"]
print("h1 inner peer 10.0.3.101 %s: %s" % (sys.argv[1], "absent" if not p else
      "established %s, endpoint %s, last handshake %s s ago" % (p[0]["established"], p[0]["endpoint"], p[0]["last_handshake_s"])))' "$1"
}
note "$(peer_h2 "when the outer came back")"
wait_ping ipr-c1 10.0.3.12 60 || fail "inner overlay did not recover after the outer node on h2 restarted"
T_R2=$(($(date +%s) - T_R))
# h3 is behind the NAT: its outer link to h2 needs h3 to notice the old
# session is dead (keepalive + rekey timeouts) and handshake again.
wait_ping ipr-c3 10.0.3.12 40 || fail "c3 -> c2 after the outer restart"
for h in 1 2 3; do kill -0 "$(eval echo \$PID_i$h)" 2>/dev/null || fail "inner node h$h died"; done
note "$(peer_h2 "when the inner came back")"
note "h2's outer node restarted: outer h1->h2 back after $T_R1 s, containers c1->c2 after $T_R2 s, c3 (NAT) -> c2 after $(($(date +%s) - T_R)) s"
ok "outer node on h2 killed and restarted: inner overlay recovers by itself"

# ---------------------------------------------------------------- IPsec
. "$(dirname "$0")/ipsec.sh"
ipsec_check

# ---------------------------------------------------------------- UCI
PID_o2=$PID_o2r
for h in 1 2 3; do kill "$(eval echo \$PID_o$h)" "$(eval echo \$PID_i$h)"; done
for h in 1 2 3; do wait "$(eval echo \$PID_o$h)" "$(eval echo \$PID_i$h)" 2>/dev/null || true; done
for h in 1 2 3; do
    { "$IPOP_BIN" uci export --config "$T_DIR/outer$h.json" --name outer
      echo
      "$IPOP_BIN" uci export --config "$T_DIR/inner$h.json" --name inner; } > "$T_DIR/ipop$h.uci"
    [ "$(grep -c "^config overlay" "$T_DIR/ipop$h.uci")" = 2 ] || fail "h$h UCI file has not 2 sections"
done
T_U=$(date +%s)
for h in 1 2 3; do
    start "ipr-h$h" "ui$h" run -v --uci inner --uci-file "$T_DIR/ipop$h.uci"
    start "ipr-h$h" "uo$h" run -v --uci outer --uci-file "$T_DIR/ipop$h.uci"
done
for h in 1 2 3; do
    wait_dev "ipr-h$h" ipop || fail "UCI: h$h inner TAP"
    wait_dev "ipr-h$h" tunnel-tap || fail "UCI: h$h outer TAP"
done
for p in "1 10.0.3.12" "1 10.0.3.13" "2 10.0.3.13"; do
    set -- $p
    wait_ping "ipr-c$1" "$2" 60 || fail "UCI: container c$1 cannot reach $2"
done
[ "$(mtu_of ipr-h1 ipop)" = "$M" ] || fail "UCI: inner TAP MTU differs from $M"
ip netns exec ipr-c1 ping -M do -s 1472 -c 2 -i 0.2 -W 2 10.0.3.13 >/dev/null || fail "UCI: DF ping 1500"
# Pings may have gone through a relaying inner node while a direct inner
# link still waits for its next handshake retransmission: give it 20 s.
uci_inner_peers() {
    status_json 1 i | python3 -c '
import json, sys
got = {p["ip4"]: p["endpoint"] for p in json.load(sys.stdin)["peers"] if p["established"]}
assert got == {"10.0.3.101": "192.168.1.101:5805", "10.0.3.102": "192.168.1.102:5805"}, got'
}
for _ in $(seq 1 40); do uci_inner_peers 2>/dev/null && break; sleep 0.5; done
uci_inner_peers || fail "UCI: inner peers not over the outer overlay"
note "UCI: containers up $(($(date +%s) - T_U)) s after starting both sections"
ok "one UCI file, sections outer + inner: containers ping, DF 1500 passes, endpoints 192.168.1.x"

echo "=== recursive overlay report"
for l in "${REPORT[@]}"; do echo "  $l"; done
echo "  RTT avg: container c1->c2 $RTT_INNER ms, c1->c3 (NAT) $RTT_INNER3 ms;" \
    "outer alone h1->h2 $RTT_OUTER ms; underlay $RTT_UNDER ms"
echo "  TCP (iperf3 3 s): inner-over-outer c1->c2 $TP_INNER Mbit/s, c2->c1 $TP_INNER_R Mbit/s, c1->c3 $TP_INNER3 Mbit/s;" \
    "outer alone h1->h2 $TP_OUTER Mbit/s"
echo "  MTU: tunnel-tap $MO, ipop/lxcbr0/containers $M"
echo "  total $(elapsed) s"
