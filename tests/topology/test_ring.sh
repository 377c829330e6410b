#!/usr/bin/env bash
# Six real nodes with a tiny ring (1 successor, no chords, 1-second ticks,
# 2-tick management cycles): members that are not ring neighbours reach
# each other through relays; iperf3 between two of them makes an on-demand
# link; when the traffic stops, the on-demand role lapses after ttl_on_demand.
. "$(dirname "$0")/../e2e/lib.sh"

hub_add ipr-hub
names=(a b c d e f)
for i in "${!names[@]}"; do
    n=${names[$i]}
    ns_add "ipr-$n"
    ns_wire "ipr-$n" ipr-hub "10.85.0.$((i + 1))/24"
done
PA=$(genkey a)
for n in b c d e f; do genkey $n >/dev/null; done
peer_a="{\"endpoint\": \"10.85.0.1:5800\", \"public_key\": \"$PA\"}"
for i in "${!names[@]}"; do
    n=${names[$i]}
    peers=$([ $n = a ] || echo "$peer_a")
    cat > "$T_DIR/$n.json" <<JSON
{ "CFx": { "ip4_mask": 24, "tap_name": "ipop", "listen_port": 5800, "key_file": "$T_DIR/$n.key",
           "control_socket": "$T_DIR/$n.sock", "static_peers": [$peers] },
  "BaseTopologyManager": { "ip4": "10.254.5.$((i + 1))", "num_successors": 1, "num_chords": 0,
    "num_on_demand": 2, "num_inbound": 8, "timer_interval": 1, "interval_management": 2,
    "ttl_link_initial": 20, "ttl_link_pulse": 10, "ttl_on_demand": 8, "threshold_on_demand": 2000 } }
JSON
    start "ipr-$n" "$n" run -v --config "$T_DIR/$n.json"
done
for n in "${names[@]}"; do wait_dev "ipr-$n" ipop || fail "TAP of $n not up"; done

status_json() { ip netns exec "ipr-$1" "$IPOP_BIN" status --json --socket "$T_DIR/$1.sock"; }
# path_of NODE IP4: the path NODE's status shows toward IP4.
path_of() {
    status_json "$1" | python3 -c '
import json, sys
s = json.load(sys.stdin)
print(next((p["path"] for p in s["peers"] if p["ip4"] == sys.argv[1]), "unknown"))' "$2"
}
roles_of() {
    status_json "$1" | python3 -c '
import json, sys
s = json.load(sys.stdin)
print(next((p["roles"] for p in s["peers"] if p["ip4"] == sys.argv[1]), ""))' "$2"
}

# Let the ring form: every node reaches every other.
for i in 1 2 3 4 5 6; do
    for j in 1 2 3 4 5 6; do
        [ $i = $j ] && continue
        wait_ping "ipr-${names[$((i - 1))]}" "10.254.5.$j" 30 || fail "${names[$((i - 1))]} cannot reach 10.254.5.$j"
    done
done
ok "all 30 ordered pairs reach each other"

# Find a pair with no direct link (not ring neighbours, not the bootstrap):
# its traffic must have been relayed by someone.
pair=""
for x in b c d e f; do
    for j in 2 3 4 5 6; do
        [ "ipr-$x" = "ipr-${names[$((j - 1))]}" ] && continue
        if [ "$(path_of $x 10.254.5.$j)" = "relay-overlay" ] || [ "$(path_of $x 10.254.5.$j)" = "unknown" ]; then
            pair="$x 10.254.5.$j ${names[$((j - 1))]}"; break 2
        fi
    done
done
[ -n "$pair" ] || fail "every pair has a direct link: the ring is a full mesh (num_successors 1 not honoured)"
set -- $pair
src=$1 dst=$2 dstname=$3
ip netns exec "ipr-$src" ping -c 3 -i 0.2 -W 2 "$dst" >/dev/null || fail "$src -> $dst (relayed) ping"
fwd=0
for n in "${names[@]}"; do
    f=$(status_json "$n" | python3 -c 'import json,sys; print(sum(p["forwarded_packets"] for p in json.load(sys.stdin)["peers"]))')
    fwd=$((fwd + f))
done
[ "$fwd" -gt 0 ] || fail "no node forwarded any frame"
ok "$src reaches $dst without a direct link (relayed; $fwd frames forwarded in the ring)"

# Traffic above threshold_on_demand (2000 B/s) makes an on-demand link.
ip netns exec "ipr-$dstname" iperf3 -s -1 -D -p 5202
sleep 0.3
ip netns exec "ipr-$src" iperf3 -c "$dst" -p 5202 -t 8 -b 2M >/dev/null || fail "iperf3 $src -> $dst"
roles=$(roles_of "$src" "$dst")
[[ "$roles" == *on-demand* ]] || fail "no on-demand link $src -> $dst after iperf3 (roles '$roles', path $(path_of $src $dst))"
ok "on-demand link $src -> $dst formed under load (roles $roles, path $(path_of $src $dst))"

# Quiet now: the role lapses ttl_on_demand (8 s) after the rate drops.
for i in $(seq 1 40); do
    roles=$(roles_of "$src" "$dst")
    [[ "$roles" == *on-demand* ]] || break
    sleep 1
done
[[ "$roles" == *on-demand* ]] && fail "on-demand role still there 40 s after the traffic stopped"
ok "on-demand role aged out (roles now '${roles:-none}')"
