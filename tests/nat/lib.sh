# NAT testbed: a "public" namespace standing in for the Internet (with
# coturn for STUN and TURN), and per site a NAT namespace with an nftables
# NAT box and a node namespace behind it. Source this file; every name is
# prefixed with $NAT_PREFIX so concurrent users do not collide.
#
#            ${P}-pub  (bridge br-pub 203.0.113.1/24 + .2/24, coturn)
#              |  veth ${P}-w<i> <-> wan0 203.0.113.(10+i)
#            ${P}-nat<i>  (NAT box, forwarding, nftables)
#              |  lan0 10.<i>.0.1/24 <-> eth0 10.<i>.0.2/24
#            ${P}-node<i> (the node; default route via 10.<i>.0.1)
#
# NAT behaviours (RFC 4787 terms), for UDP:
#   public      no NAT box: eth0 of the node sits on br-pub as 203.0.113.(10+i).
#   cone        endpoint-independent mapping AND endpoint-independent
#               filtering ("full cone"): SNAT keeps the source port
#               (masquerade, which only changes a port on a clash), and
#               inbound UDP to wan0 port $NAT_NODE_PORT is DNATed to the
#               node, so anyone may send to the mapped address.
#   restricted  endpoint-independent mapping, address-and-port-dependent
#               filtering ("port-restricted cone"): plain masquerade;
#               conntrack only lets in replies from the exact remote
#               address and port the node sent to.
#   symmetric   address-and-port-dependent mapping and filtering:
#               masquerade fully-random, a new random external port for
#               every remote address/port.
# tests/nat/probe.rs checks each of these claims (mapped ports seen by two
# STUN addresses; unsolicited packets from another address/port).

NAT_PREFIX=${NAT_PREFIX:-ipn}
NAT_NODE_PORT=${NAT_NODE_PORT:-5800}
NAT_PUB_IP=203.0.113.1
NAT_PUB_IP2=203.0.113.2
NAT_TURN_USER=u
NAT_TURN_PASS=p
NAT_TURN_REALM=r
NAT_WORK=${NAT_WORK:-}
NAT_PIDS=()

nat_ns() { ip netns exec "$NAT_PREFIX-$1" "${@:2}"; }

nat_log() { echo "nat: $*" >&2; }

# Creates the public namespace and its bridge.
nat_pub_up() {
    local p=$NAT_PREFIX
    [ -n "$NAT_WORK" ] || NAT_WORK=$(mktemp -d "/tmp/$p-nat.XXXXXX")
    ip netns add "$p-pub"
    nat_ns pub ip link set lo up
    nat_ns pub ip link add name br-pub type bridge
    nat_ns pub ip link set br-pub up
    nat_ns pub ip addr add "$NAT_PUB_IP/24" dev br-pub
    nat_ns pub ip addr add "$NAT_PUB_IP2/24" dev br-pub
}

# Starts coturn in the public namespace on both public addresses, port
# 3478, long-term credentials u:p in realm r. Waits until it listens.
nat_coturn_start() {
    local log="$NAT_WORK/turnserver.log"
    nat_ns pub turnserver -n --no-cli --no-tls --no-dtls \
        --listening-ip="$NAT_PUB_IP" --listening-ip="$NAT_PUB_IP2" \
        --relay-ip="$NAT_PUB_IP" --listening-port=3478 \
        --min-port=49152 --max-port=49999 \
        --lt-cred-mech --user "$NAT_TURN_USER:$NAT_TURN_PASS" --realm "$NAT_TURN_REALM" \
        --pidfile="$NAT_WORK/turnserver.pid" --log-file=stdout --simple-log \
        >"$log" 2>&1 &
    NAT_COTURN_PID=$!
    NAT_PIDS+=("$NAT_COTURN_PID")
    local i
    for i in $(seq 1 50); do
        if nat_ns pub ss -lun | grep -q "$NAT_PUB_IP2:3478"; then
            return 0
        fi
        kill -0 "$NAT_COTURN_PID" 2>/dev/null || break
        sleep 0.1
    done
    nat_log "coturn did not start:"; cat "$log" >&2
    return 1
}

# nat_site_add INDEX TYPE: a node namespace behind a NAT box of TYPE
# (public, cone, restricted, symmetric). The node's address is printed by
# nat_node_ip INDEX; its public (WAN) address is 203.0.113.(10+INDEX).
nat_site_add() {
    local i=$1 type=$2 p=$NAT_PREFIX
    local wan="203.0.113.$((10 + i))"
    ip netns add "$p-node$i"
    nat_ns "node$i" ip link set lo up
    if [ "$type" = public ]; then
        ip link add name "$p-w$i" type veth peer name eth0 netns "$p-node$i"
        ip link set "$p-w$i" netns "$p-pub"
        nat_ns pub ip link set "$p-w$i" master br-pub up
        nat_ns "node$i" ip addr add "$wan/24" dev eth0
        nat_ns "node$i" ip link set eth0 up
        return 0
    fi
    ip netns add "$p-nat$i"
    nat_ns "nat$i" ip link set lo up
    ip link add name "$p-w$i" type veth peer name wan0 netns "$p-nat$i"
    ip link set "$p-w$i" netns "$p-pub"
    nat_ns pub ip link set "$p-w$i" master br-pub up
    nat_ns "nat$i" ip addr add "$wan/24" dev wan0
    nat_ns "nat$i" ip link set wan0 up
    ip link add name "$p-l$i" type veth peer name eth0 netns "$p-node$i"
    ip link set "$p-l$i" netns "$p-nat$i"
    nat_ns "nat$i" ip link set "$p-l$i" name lan0
    nat_ns "nat$i" ip addr add "10.$i.0.1/24" dev lan0
    nat_ns "nat$i" ip link set lan0 up
    nat_ns "node$i" ip addr add "10.$i.0.2/24" dev eth0
    nat_ns "node$i" ip link set eth0 up
    nat_ns "node$i" ip route add default via "10.$i.0.1"
    nat_ns "nat$i" sysctl -qw net.ipv4.ip_forward=1
    nat_nft "$i" "$type"
}

# Loads the NAT rules of TYPE into site I's NAT box (replacing any).
nat_nft() {
    local i=$1 type=$2 snat
    case "$type" in
        cone | restricted) snat="masquerade" ;;
        symmetric) snat="masquerade fully-random" ;;
        *) nat_log "unknown NAT type $type"; return 1 ;;
    esac
    local dnat=""
    if [ "$type" = cone ]; then
        dnat="iifname \"wan0\" udp dport $NAT_NODE_PORT dnat to 10.$i.0.2"
    fi
    nat_ns "nat$i" nft -f - <<NFT
table ip nat
delete table ip nat
table ip nat {
    chain pre {
        type nat hook prerouting priority dstnat;
        $dnat
    }
    chain post {
        type nat hook postrouting priority srcnat;
        oifname "wan0" $snat
    }
}
NFT
}

nat_node_ip() { echo "10.$1.0.2"; }
nat_wan_ip() { echo "203.0.113.$((10 + $1))"; }

# Forgets every connection-tracking (and so NAT mapping) entry of site I:
# the next packet gets a new mapping (with fully-random, a new port).
nat_rebind() { nat_ns "nat$1" conntrack -F 2>/dev/null || true; }

# Kills what we started and deletes our namespaces. Safe to call twice.
nat_teardown() {
    local pid ns
    for pid in "${NAT_PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${NAT_PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    NAT_PIDS=()
    for ns in $(ip netns list | awk '{print $1}' | grep -E "^$NAT_PREFIX-(pub|nat[0-9]+|node[0-9]+)$"); do
        ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true
        ip netns del "$ns" 2>/dev/null || true
    done
    if [ -n "$NAT_WORK" ] && [ -d "$NAT_WORK" ] && [ -z "${NAT_KEEP_WORK:-}" ]; then
        rm -rf "$NAT_WORK"
    fi
}
