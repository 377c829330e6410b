#!/usr/bin/env bash
# Membership an operator can change (issue 19), with five real nodes in
# namespaces (static peers + gossip, management interval 2 s):
#  1. revocation by config on one node: it refuses the revoked key and
#     counts it, the others still link it;
#  2. revocation by a signed statement issued at another node: within three
#     management intervals no node has a link to the victim, its pings to
#     the group fail, a node restarted afterwards still refuses it (statement
#     file) and a node that was offline learns it when it links again;
#  3. forged statements (wrong operator key, replayed older serial,
#     truncated) are refused and counted by reason;
#  4. the group secret is rotated node by node while ping runs between every
#     pair: no pair loses more than a handshake's worth of packets, and after
#     the grace period every node holds only the new secret.
. "$(dirname "$0")/lib.sh"

MGMT=2            # seconds per management interval (gossip period)
GRACE=10          # group_secret_grace

hub_add m19-hub
for n in 1 2 3 4 5; do
    ns_add "m19-n$n"
    m_wire "m19-n$n" m19-hub "10.19.0.$n/24" "$n"
done

OPK=$("$IPOP_BIN" genkey --operator "$T_DIR/op.key")
[ "$(stat -c %a "$T_DIR/op.key")" = 600 ] || fail "operator key file mode"
"$IPOP_BIN" genkey --operator "$T_DIR/op.key" 2>/dev/null && fail "genkey --operator overwrote a key file"
"$IPOP_BIN" genkey --operator "$T_DIR/forger.key" >/dev/null
declare -A PK
for n in 1 2 3 4 5; do PK[$n]=$(genkey "n$n"); done
peer() { echo "{\"endpoint\": \"10.19.0.$1:$M_PORT\", \"public_key\": \"${PK[$1]}\"}"; }

# node_cfg N [EXTRA_CFX]: node N knows nodes 1 and 2 statically.
node_cfg() {
    local n=$1 peers=()
    for p in 1 2; do [ "$p" != "$n" ] && peers+=("$(peer $p)"); done
    local IFS=,
    cat > "$T_DIR/n$n.json" <<JSON
{
  "CFx": { "vpn_type": "GroupVPN", "ip4_mask": 24, "tap_name": "m19tap", "listen_port": $M_PORT,
           "key_file": "$T_DIR/n$n.key", "control_socket": "$T_DIR/n$n.sock",
           "group_secret": "first secret", "group_secret_grace": $GRACE,
           "operator_key": "$OPK", "static_peers": [${peers[*]}] ${2:-} },
  "TincanSender": { "stun": [] },
  "BaseTopologyManager": { "ip4": "10.254.19.$n", "interval_management": $MGMT }
}
JSON
}
run_node() { start "m19-n$1" "n$1${2:-}" run -v --config "$T_DIR/n$1.json"; wait_dev "m19-n$1" m19tap || fail "TAP of n$1 not up"; }

for n in 1 2 3 4 5; do node_cfg $n; run_node $n; done
"$IPOP_BIN" check --config "$T_DIR/n1.json" | grep -q "^operator_key *$OPK" || fail "ipop check does not show operator_key"

t0=$(date +%s)
for a in 1 2 3 4 5; do for b in 1 2 3 4 5; do
    [ $a = $b ] && continue
    wait_ping "m19-n$a" "10.254.19.$b" 30 || fail "n$a cannot reach n$b"
done; done
ok "5 nodes: all 20 ordered pairs ping ($(( $(date +%s) - t0 )) s)"

# --- 1. revocation by config on n1 only ---------------------------------
kill "$PID_n1"; wait "$PID_n1" 2>/dev/null || true
node_cfg 1 ", \"revoked_keys\": [\"${PK[5]}\"]"
"$IPOP_BIN" check --config "$T_DIR/n1.json" | grep -q "^revoked_keys *${PK[5]}" || fail "ipop check does not list revoked_keys"
run_node 1 b
for b in 2 3 4; do wait_ping m19-n1 "10.254.19.$b" 30 || fail "restarted n1 cannot reach n$b"; done
sleep $((2 * MGMT))
[ "$(m_has_peer 1 "${PK[5]}")" = 0 ] || fail "n1 has a peer entry for the key it revoked"
ip netns exec m19-n5 ping -c 3 -i 0.3 -W 1 10.254.19.1 >/dev/null 2>&1 && fail "n5 still reaches n1"
for b in 2 3 4; do wait_ping m19-n5 "10.254.19.$b" 10 || fail "n5 lost n$b (only n1 revoked it)"; done
# n5 still holds its session from before n1's restart: its handshake comes
# when that session goes quiet (keepalive + rekey timeout, 15 s).
ip netns exec m19-n5 ping -c 25 -i 1 -W 1 10.254.19.1 >/dev/null 2>&1 &
T_PIDS+=($!)
for i in $(seq 1 25); do
    tries=$(m_json 1 "[t['refusals'] for t in s['membership']['revoked_tried'] if t['key'] == '${PK[5]}']")
    [ "$tries" != "[]" ] && break
    sleep 1
done
drops=$(m_json 1 "s['drops']['revoked']")
python3 -c "t=$tries; assert len(t) == 1 and t[0] >= 1 and t[0] <= $drops, ($tries, $drops)" ||
    fail "n1 status: revoked_tried $tries, drops.revoked $drops"
"$IPOP_BIN" status --socket "$T_DIR/n1.sock" | grep -q "revoked_tried.*${PK[5]} refused" || fail "text status lacks revoked_tried"
ok "revoked by config on n1: no link, n5 -> n1 ping fails, n5 -> others works, n1 counted $drops refusals (${tries})"

# --- 2. revocation by signed statement issued on n2 ---------------------
kill "$PID_n4"; wait "$PID_n4" 2>/dev/null || true     # n4 is offline meanwhile
out=$("$IPOP_BIN" member revoke "${PK[5]}" --operator-key "$T_DIR/op.key" --socket "$T_DIR/n2.sock") ||
    fail "member revoke: $out"
t_rev=$(date +%s.%N)
echo "$out" | grep -q "statement 1 in force" || fail "member revoke said: $out"
limit=$((3 * MGMT))
gone=0
for i in $(seq 1 $((limit * 10))); do
    gone=1
    for n in 1 2 3; do [ "$(m_has_peer $n "${PK[5]}")" = 0 ] || gone=0; done
    [ $gone = 1 ] && break
    sleep 0.1
done
[ $gone = 1 ] || fail "a node still has a link to n5 ${limit} s after the statement"
t_gone=$(python3 -c "import time; print(f'{time.time() - $t_rev:.1f}')")
for n in 1 2 3; do
    [ "$(m_json $n "s['membership']['serial']")" = 1 ] || fail "n$n does not hold statement 1"
    "$IPOP_BIN" member show --socket "$T_DIR/n$n.sock" | grep -qx "revoked ${PK[5]}" || fail "member show of n$n"
done
[ -f "$T_DIR/n3.members" ] || fail "n3 did not store the statement next to its key file"
[ "$(stat -c %a "$T_DIR/n3.members")" = 600 ] || fail "statement file mode"
for b in 1 2 3; do
    ip netns exec m19-n5 ping -c 2 -i 0.3 -W 1 "10.254.19.$b" >/dev/null 2>&1 && fail "n5 still reaches n$b"
done
[ "$(m_json 5 "sum(1 for p in s['peers'] if p['established'])")" = 0 ] ||
    sleep $((MGMT)) # its sessions time out on its own side; none may carry data
ok "statement issued on n2: no node links n5 after ${t_gone} s (limit ${limit} s), n5's pings fail"

# n3 restarted after the revocation still refuses n5 (statement file).
kill "$PID_n3"; wait "$PID_n3" 2>/dev/null || true
run_node 3 b
wait_ping m19-n3 10.254.19.1 30 || fail "restarted n3 cannot reach n1"
[ "$(m_json 3 "s['membership']['serial']")" = 1 ] || fail "restarted n3 lost the statement"
sleep $((2 * MGMT))
[ "$(m_has_peer 3 "${PK[5]}")" = 0 ] || fail "restarted n3 linked n5"
ip netns exec m19-n5 ping -c 2 -i 0.3 -W 1 10.254.19.3 >/dev/null 2>&1 && fail "n5 reaches restarted n3"
ok "n3 restarted after the revocation: statement 1 from its file, still refuses n5"

# n4, offline during the revocation, learns it as soon as it links again.
run_node 4 b
wait_ping m19-n4 10.254.19.2 30 || fail "n4 cannot reach n2 after its restart"
for i in $(seq 1 $((limit * 10))); do
    [ "$(m_json 4 "s['membership']['serial']")" = 1 ] && break
    sleep 0.1
done
[ "$(m_json 4 "s['membership']['serial']")" = 1 ] || fail "n4 did not learn statement 1 after linking"
sleep $((2 * MGMT))
[ "$(m_has_peer 4 "${PK[5]}")" = 0 ] || fail "n4 linked n5 after learning the statement"
ok "n4 (offline during the revocation) got statement 1 when it linked again and refuses n5"

# --- 3. forged statements -----------------------------------------------
old=$("$IPOP_BIN" member show --socket "$T_DIR/n1.sock" | sed -n 's/^statement //p')
out=$("$IPOP_BIN" member revoke "${PK[4]}" --operator-key "$T_DIR/forger.key" --socket "$T_DIR/n1.sock" 2>&1) &&
    fail "a statement signed by another key was accepted: $out"
echo "$out" | grep -q "signature does not verify" || fail "wrong-key refusal said: $out"
"$IPOP_BIN" member revoke "$("$IPOP_BIN" genkey | "$IPOP_BIN" pubkey)" --operator-key "$T_DIR/op.key" --socket "$T_DIR/n1.sock" >/dev/null ||
    fail "statement 2 refused"
reply=$(m_install 1 "$old")
[ "$reply" = "error: statement is not newer than the one in force" ] || fail "replay of statement 1: $reply"
new=$("$IPOP_BIN" member show --socket "$T_DIR/n1.sock" | sed -n 's/^statement //p')
cut=$(python3 -c "import base64,sys; b=base64.b64decode('$new'); print(base64.b64encode(b[:-10]).decode())")
reply=$(m_install 1 "$cut")
[ "$reply" = "error: statement is truncated" ] || fail "truncated statement: $reply"
refused=$(m_json 1 "(s['membership']['refused']['bad_signature'], s['membership']['refused']['stale'], s['membership']['refused']['truncated'], s['membership']['serial'])")
[ "$refused" = "(1, 1, 1, 2)" ] || fail "n1 counts (bad_signature, stale, truncated, serial) = $refused"
for n in 2 3 4; do
    for i in $(seq 1 30); do [ "$(m_json $n "s['membership']['serial']")" = 2 ] && break; sleep 0.1; done
    [ "$(m_json $n "s['membership']['serial']")" = 2 ] || fail "statement 2 did not reach n$n"
done
ok "forged statements refused on n1 (bad_signature 1, stale 1, truncated 1); statement 2 reached all"

# --- 4. secret rotation, node by node, while every pair pings -----------
pairs=()
for a in 1 2 3 4; do for b in 1 2 3 4; do [ $a != $b ] && pairs+=("$a$b"); done; done
for p in "${pairs[@]}"; do
    ip netns exec "m19-n${p:0:1}" ping -i 0.2 -W 1 "10.254.19.${p:1:1}" >"$T_DIR/ping$p.out" 2>&1 &
    T_PIDS+=($!); eval "PING_$p=$!"
done
sleep 2
tag1=$(psk_tag "first secret"); tag2=$(psk_tag "second secret")
# n3, n1 and n2 rotate by command; n4 only holds the next secret and adopts
# it when n2's re-key shows it a peer using it.
for n in 3 1 4 2; do
    echo "second secret" | "$IPOP_BIN" secret next --socket "$T_DIR/n$n.sock" >/dev/null || fail "secret next on n$n"
    if [ $n != 4 ]; then
        "$IPOP_BIN" secret rotate --socket "$T_DIR/n$n.sock" | grep -q "ok: rotated" || fail "rotate on n$n"
        [ "$(m_json $n "s['membership']['secret']['current_tag']")" = "$tag2" ] || fail "n$n not on the new secret"
    else
        [ "$(m_json 4 "s['membership']['secret']['current_tag']")" = "$tag1" ] || fail "n4 initiates with the next secret before any peer used it"
    fi
    sleep 2
done
[ "$(m_json 4 "(s['membership']['secret']['current_tag'], s['membership']['secret']['rotations'])")" = "($tag2, 1)" ] ||
    fail "n4 did not adopt the next secret after a peer used it"
"$IPOP_BIN" secret rotate --socket "$T_DIR/n1.sock" >/dev/null 2>&1 && fail "a second rotate without a next secret succeeded"
# Past the last node's grace period every node holds only the new secret.
sleep $((GRACE - 1))
for n in 1 2 3 4; do
    st=$(m_json $n "(s['membership']['secret']['current_tag'], s['membership']['secret']['other'], s['membership']['secret']['rotations'])")
    [ "$st" = "($tag2, None, 1)" ] || fail "n$n secret state $st after the grace period"
done
sleep 1
for p in "${pairs[@]}"; do eval "kill -INT \$PING_$p"; done
sleep 0.5
worst=0
for p in "${pairs[@]}"; do
    line=$(grep "packets transmitted" "$T_DIR/ping$p.out") || fail "ping n${p:0:1} -> n${p:1:1}: no summary"
    sent=$(echo "$line" | awk '{print $1}'); got=$(echo "$line" | awk '{print $4}')
    lost=$((sent - got))
    [ "$sent" -ge 80 ] || fail "ping n${p:0:1} -> n${p:1:1} sent only $sent"
    [ "$lost" -gt "$worst" ] && worst=$lost
    # A handshake takes one round trip (< 200 ms here): at most one 200 ms ping.
    [ "$lost" -le 1 ] || fail "pair n${p:0:1} -> n${p:1:1} lost $lost of $sent pings during the rotation"
done
# A node that knows only the new secret joins the rotated group.
kill "$PID_n4b"; wait "$PID_n4b" 2>/dev/null || true
sed -i 's/"group_secret": "first secret"/"group_secret": "second secret"/' "$T_DIR/n4.json"
run_node 4 c
for b in 1 2 3; do wait_ping m19-n4 "10.254.19.$b" 20 || fail "n4 with only the new secret cannot reach n$b"; done
for a in 1 2 3; do for b in 1 2 3 4; do
    [ $a = $b ] && continue
    ip netns exec "m19-n$a" ping -c 1 -W 2 "10.254.19.$b" >/dev/null || fail "n$a -> n$b after the rotation"
done; done
ok "secret rotated on n3, n1, (n4 adopted), n2 under ping: worst pair lost $worst of ~$sent; old secret gone after ${GRACE} s; a node with only the new secret joins"
