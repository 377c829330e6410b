# Shared helpers for namespace tests. Source it; it sets a trap that removes
# every namespace and process the test made, also on failure.
#   IPOP_BIN  the binary under test (scripts/test sets it)
set -euo pipefail

IPOP_BIN=${IPOP_BIN:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/target/release/ipop}
T_ID=${T_ID:-$$}
T_DIR=$(mktemp -d /tmp/ipop-test.XXXXXX)
T_NS=()
T_PIDS=()

t_cleanup() {
    local rc=$?
    for p in "${T_PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
    sleep 0.3
    for p in "${T_PIDS[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true; done
    for n in "${T_NS[@]:-}"; do [ -n "$n" ] && ip netns del "$n" 2>/dev/null || true; done
    if [ $rc -ne 0 ]; then
        echo "--- logs of failed test:"
        for f in "$T_DIR"/*.log; do [ -f "$f" ] && { echo "## $f"; tail -n 40 "$f"; }; done
    fi
    rm -rf "$T_DIR"
    exit $rc
}
trap t_cleanup EXIT
trap 'exit 130' INT TERM

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }

# ns_add NAME: a namespace with lo up, removed at exit.
ns_add() {
    ip netns add "$1"
    T_NS+=("$1")
    ip -n "$1" link set lo up
}

# hub_add NAME: a namespace holding bridge br0, the shared "LAN".
hub_add() {
    ns_add "$1"
    ip -n "$1" link add br0 type bridge
    ip -n "$1" link set br0 up
}

# ns_wire NS HUB ADDR/PREFIX [IFNAME]: a veth from NS (named IFNAME, default eth0) to HUB's br0.
ns_wire() {
    local ns=$1 hub=$2 addr=$3 ifn=${4:-eth0}
    local a="v$RANDOM$RANDOM" b="w$RANDOM$RANDOM"
    a=${a:0:12}; b=${b:0:12}
    ip link add "$a" type veth peer name "$b"
    ip link set "$a" netns "$ns"
    ip -n "$ns" link set "$a" name "$ifn"
    ip link set "$b" netns "$hub"
    ip -n "$hub" link set "$b" master br0 up
    ip -n "$ns" addr add "$addr" dev "$ifn"
    ip -n "$ns" link set "$ifn" up
}

# genkey NAME: writes $T_DIR/NAME.key, prints the public key.
genkey() {
    "$IPOP_BIN" genkey > "$T_DIR/$1.key"
    chmod 600 "$T_DIR/$1.key"
    "$IPOP_BIN" pubkey < "$T_DIR/$1.key"
}

# start NS NAME ARGS...: runs `ipop ARGS` in NS in the background, log in $T_DIR/NAME.log.
start() {
    local ns=$1 name=$2; shift 2
    ip netns exec "$ns" "$IPOP_BIN" "$@" >"$T_DIR/$name.log" 2>&1 &
    T_PIDS+=($!)
    eval "PID_$name=$!"
}

# wait_ping NS DST [SECONDS]: until one ping succeeds.
wait_ping() {
    local ns=$1 dst=$2 limit=${3:-20} i
    for ((i = 0; i < limit * 2; i++)); do
        ip netns exec "$ns" ping -c 1 -W 1 "$dst" >/dev/null 2>&1 && return 0
        sleep 0.5
    done
    return 1
}

# wait_dev NS DEV: until the device exists and is up.
wait_dev() {
    local i
    for ((i = 0; i < 50; i++)); do
        ip -n "$1" link show "$2" 2>/dev/null | grep -q ',UP' && return 0
        sleep 0.1
    done
    return 1
}

# uid_ip6 IP4: the overlay IPv6 of an ip4 (IPOP's rule), via the binary's check.
ip6_of() {
    python3 - "$1" <<'PY'
import hashlib, sys, ipaddress
h = hashlib.sha1(sys.argv[1].encode()).hexdigest()
print(ipaddress.IPv6Address(int("fd500dbc41f24a3c" + h[:16], 16)))
PY
}

# overlay_json FILE IP4 KEYFILE SOCK SWITCHMODE PEERS_JSON [EXTRA_CFX]
overlay_json() {
    cat > "$1" <<JSON
{
  "CFx": { "vpn_type": "GroupVPN", "ip4_mask": 24, "tap_name": "ipop", "listen_port": 5800,
           "key_file": "$3", "control_socket": "$4", "static_peers": [$6] ${7:-} },
  "TincanSender": { "switchmode": $5 },
  "BaseTopologyManager": { "ip4": "$2" }
}
JSON
}
