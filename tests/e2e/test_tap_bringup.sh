#!/usr/bin/env bash
# TAP bring-up of `ipop run` with the seed's two configs, read back from the
# kernel (`ip -j`), then SIGTERM or SIGINT: the process exits within 1 s and leaves
# nothing behind (no device, no addresses, no bridge port, no socket).
#   outer seed: 192.168.1.100/16 + fd50:dbc:41f2:4a3c:25c9:651:c297:fef3/64, MTU 1280, NOARP
#   inner seed: 10.0.3.100/24 + fd50:dbc:41f2:4a3c:f46d:6281:ae45:f92e/64, MTU 1500, ARP on
# Each run is alone in its own namespace (no peers, no routes: nothing leaves it).
. "$(dirname "$0")/lib.sh"

FIX="$(cd "$(dirname "$0")/../fixtures" && pwd)"

# seed_config SEED OUT NAME [EXTRA_CFX_JSON]: the seed file plus our per-test
# key file and control socket (and e.g. a bridge), nothing else changed.
seed_config() {
    python3 - "$FIX/$1" "$2" "$T_DIR/$3.key" "$T_DIR/$3/ipop.sock" "${4:-}" <<'PY'
import json, sys
seed, out, key, sock, extra = sys.argv[1:]
cfg = json.load(open(seed))
cfg["CFx"].update({"key_file": key, "control_socket": sock})
cfg["CFx"].update(json.loads(extra) if extra else {})
json.dump(cfg, open(out, "w"), indent=1)
PY
}

# check_link NS DEV IP4/LEN IP6/LEN NOARP(yes|no) MTU [MASTER]: exact read-back.
check_link() {
    ip -n "$1" -j addr show dev "$2" >"$T_DIR/addr.json"
    ip -n "$1" -d -j link show dev "$2" >"$T_DIR/link.json"
    python3 - "$T_DIR/addr.json" "$T_DIR/link.json" "$3" "$4" "$5" "$6" "${7:-}" <<'PY'
import json, sys
addr_file, link_file, want4, want6, noarp, mtu, master = sys.argv[1:]
a = json.load(open(addr_file))[0]
l = json.load(open(link_file))[0]
errors = []
v4 = sorted(f"{i['local']}/{i['prefixlen']}" for i in a["addr_info"] if i["family"] == "inet")
v6 = sorted(f"{i['local']}/{i['prefixlen']}" for i in a["addr_info"]
            if i["family"] == "inet6" and i["scope"] != "link")
if v4 != [want4]: errors.append(f"IPv4 {v4}, want [{want4}]")
if v6 != [want6]: errors.append(f"IPv6 {v6}, want [{want6}]")
if a["mtu"] != int(mtu): errors.append(f"MTU {a['mtu']}, want {mtu}")
if "UP" not in a["flags"]: errors.append(f"not UP: {a['flags']}")
if ("NOARP" in a["flags"]) != (noarp == "yes"): errors.append(f"NOARP should be {noarp}: {a['flags']}")
if l.get("linkinfo", {}).get("info_kind") != "tun": errors.append(f"not a tun/tap: {l.get('linkinfo')}")
if l.get("linkinfo", {}).get("info_data", {}).get("type") != "tap": errors.append("not a TAP")
if l.get("master", "") != master: errors.append(f"master {l.get('master')!r}, want {master!r}")
if a.get("broadcast") != "ff:ff:ff:ff:ff:ff": errors.append("not an Ethernet device")
if errors:
    print("\n".join(errors)); sys.exit(1)
PY
}

# stop_within NS PID DEV NAME SIG: SIG (TERM or INT), exit status 0 within 1 s,
# device gone, no address left in the namespace (but lo's and a bridge's own
# link-local).
stop_within() {
    local ns=$1 pid=$2 dev=$3 name=$4 sig=$5 t0 ms i
    t0=$(date +%s%N)
    kill -"$sig" "$pid"
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.01
    done
    ms=$((($(date +%s%N) - t0) / 1000000))
    kill -0 "$pid" 2>/dev/null && fail "$name: still running ${ms} ms after SIG$sig"
    wait "$pid" || fail "$name: exit status $? after SIG$sig"
    [ "$ms" -le 1000 ] || fail "$name: took ${ms} ms to exit"
    ip -n "$ns" link show dev "$dev" >/dev/null 2>&1 && fail "$name: $dev still exists after exit"
    ip -n "$ns" -j addr show | python3 -c '
import json, sys
left = [(l["ifname"], i["local"]) for l in json.load(sys.stdin) for i in l["addr_info"]
        if l["ifname"] != "lo" and not (i["scope"] == "link" and l["ifname"] != sys.argv[1])]
if left: print("addresses left:", left); sys.exit(1)' "$dev" || fail "$name: addresses left behind"
    [ ! -e "$T_DIR/$name/ipop.sock" ] || fail "$name: control socket left behind"
    ok "$name: exited 0 in ${ms} ms after SIG$sig, $dev gone"
}

# run_case NAME SEED DEV IP4 IP6 NOARP SIG MTU [BRIDGE BRIDGE_MTU]
run_case() {
    local name=$1 seed=$2 dev=$3 ip4=$4 ip6=$5 noarp=$6 sig=$7 mtu=$8 bridge=${9:-} ns pid extra='{}'
    ns="iptap-$name-$T_ID"
    ns_add "$ns"
    if [ -n "$bridge" ]; then
        ip -n "$ns" link add "$bridge" type bridge
        ip -n "$ns" link set "$bridge" mtu "${10}" up
        extra="{\"bridge\": \"$bridge\"}"
    fi
    seed_config "$seed" "$T_DIR/$name.json" "$name" "$extra"
    ip netns exec "$ns" "$IPOP_BIN" run -v --config "$T_DIR/$name.json" --tap "$dev" \
        >"$T_DIR/$name.log" 2>&1 &
    pid=$!
    T_PIDS+=("$pid")
    wait_dev "$ns" "$dev" || fail "$name: $dev did not come up"
    # Addresses are set right after UP; give the last ioctl a moment.
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        check_link "$ns" "$dev" "$ip4" "$ip6" "$noarp" "$mtu" "$bridge" >/dev/null && break
        sleep 0.1
    done
    check_link "$ns" "$dev" "$ip4" "$ip6" "$noarp" "$mtu" "$bridge" || fail "$name: read-back differs"
    if [ -n "$bridge" ]; then
        bm=$(ip -n "$ns" -j link show "$bridge" | python3 -c 'import json,sys;print(json.load(sys.stdin)[0]["mtu"])')
        [ "$bm" = "${10}" ] || fail "$name: joining lowered $bridge's MTU from ${10} to $bm"
    fi
    ok "$name: $dev has $ip4, $ip6, MTU $mtu, NOARP=$noarp${bridge:+, port of $bridge (its MTU ${10} kept)}"
    stop_within "$ns" "$pid" "$dev" "$name" "$sig"
    if [ -n "$bridge" ]; then
        [ "$(ip -n "$ns" -j link show master "$bridge")" = "[]" ] ||
            fail "$name: $bridge still has ports"
        ok "$name: $bridge has no ports left"
    fi
}

OUT4=192.168.1.100/16
OUT6=fd50:dbc:41f2:4a3c:25c9:651:c297:fef3/64
IN4=10.0.3.100/24
IN6=fd50:dbc:41f2:4a3c:f46d:6281:ae45:f92e/64

# MTUs: L3 1280, switch mode 1500, a bridge's own (a jumbo one here).
run_case outer seed-outer.json tunnel-tap "$OUT4" "$OUT6" yes TERM 1280
run_case inner seed-inner.json ipop "$IN4" "$IN6" no INT 1500
run_case bridged seed-inner.json ipop "$IN4" "$IN6" no TERM 9000 lxcbr0 9000
run_case outerbr seed-outer.json tunnel-tap "$OUT4" "$OUT6" yes INT 1500 br-lan 1500

# A missing bridge is a clear start-up error, and no TAP is left.
ns="iptap-nobr-$T_ID"
ns_add "$ns"
seed_config seed-inner.json "$T_DIR/nobr.json" nobr '{"bridge": "lxcbr0"}'
set +e
ip netns exec "$ns" timeout 10 "$IPOP_BIN" run --config "$T_DIR/nobr.json" --tap ipop \
    >"$T_DIR/nobr.log" 2>&1
rc=$?
set -e
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "missing bridge: exit status $rc"
grep -q "bridge 'lxcbr0' does not exist" "$T_DIR/nobr.log" || fail "missing bridge: no clear message"
ip -n "$ns" link show dev ipop >/dev/null 2>&1 && fail "missing bridge: TAP left behind"
ok "missing bridge: exit $rc, \"$(grep -o "bridge 'lxcbr0' does not exist[^\"]*" "$T_DIR/nobr.log" | head -1)\""

# A name already taken is refused without touching the existing device.
ns="iptap-taken-$T_ID"
ns_add "$ns"
ip -n "$ns" link add ipop type veth peer name ipop-peer
seed_config seed-inner.json "$T_DIR/taken.json" taken
set +e
ip netns exec "$ns" timeout 10 "$IPOP_BIN" run --config "$T_DIR/taken.json" --tap ipop \
    >"$T_DIR/taken.log" 2>&1
rc=$?
set -e
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "name taken: exit status $rc"
grep -q "an interface of that name already exists" "$T_DIR/taken.log" || fail "name taken: no clear message"
[ "$(ip -n "$ns" -j addr show dev ipop | python3 -c 'import json,sys; print(len(json.load(sys.stdin)[0]["addr_info"]))')" = 0 ] ||
    fail "name taken: the existing device was modified"
ok "name taken: refused (exit $rc), existing device untouched"
