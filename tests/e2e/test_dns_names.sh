#!/usr/bin/env bash
# Names instead of addresses: b's static peer is "a.mesh.test:5800", served
# by a real dnsmasq in its own namespace. b starts while DNS is down: the
# node runs (status answers, no lookup thread), and links to a
# by itself once dnsmasq is up. b's /etc/resolv.conf is its namespace's own
# (ip netns exec bind-mounts /etc/netns/NAME/*).
. "$(dirname "$0")/lib.sh"

command -v dnsmasq >/dev/null || fail "dnsmasq not installed (tests/e2e/apt-packages)"
hub_add ipe-dhub
for n in a b dns; do ns_add "ipe-d$n"; done
ns_wire ipe-da ipe-dhub 10.89.0.1/24
ns_wire ipe-db ipe-dhub 10.89.0.2/24
ns_wire ipe-ddns ipe-dhub 10.89.0.53/24
etc=/etc/netns/ipe-db
mkdir -p "$etc"
trap 'rm -rf "$etc"; t_cleanup' EXIT
printf 'search mesh.test\nnameserver 10.89.0.53\n' > "$etc/resolv.conf"
printf '127.0.0.1 localhost\n' > "$etc/hosts"

PA=$(genkey a); genkey b >/dev/null
overlay_json "$T_DIR/a.json" 10.254.9.1 "$T_DIR/a.key" "$T_DIR/a.sock" 0 ""
# A single label: the search domain makes it a.mesh.test.
overlay_json "$T_DIR/b.json" 10.254.9.2 "$T_DIR/b.key" "$T_DIR/b.sock" 0 \
    "{\"endpoint\": \"a:5800\", \"public_key\": \"$PA\"}"
start ipe-da a run -v --config "$T_DIR/a.json"
start ipe-db b run -v --config "$T_DIR/b.json"
wait_dev ipe-da ipop || fail "TAP of a not up"
wait_dev ipe-db ipop || fail "TAP of b not up"

# DNS down (nothing listens on 10.89.0.53): b's loop still serves status,
# and says why the peer is missing.
for _ in $(seq 1 50); do grep -q "static peer a:5800" "$T_DIR/b.log" && break; sleep 0.1; done
grep -q "static peer a:5800: .*retrying" "$T_DIR/b.log" || fail "no warning about the unresolved peer: $(cat "$T_DIR/b.log")"
st=$("$IPOP_BIN" status --json --socket "$T_DIR/b.sock") || fail "status while DNS is down"
[ "$(echo "$st" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["peers"]))')" = 0 ] ||
    fail "b has peers before the name resolved: $st"
# Threads: ours, plus async-io's reactor helper (it parks on the reactor
# lock while our loop runs); no blocking-pool thread for lookups.
threads=$(cat /proc/"$PID_b"/task/*/comm | sort | tr '\n' ' ')
[ "$threads" = "async-io ipop " ] || fail "ipop run threads: '$threads', want 'async-io ipop '"
ok "DNS down: b answers status, threads '$threads', warns 'static peer a:5800: ... retrying'"

ip netns exec ipe-ddns dnsmasq --keep-in-foreground --no-resolv --no-hosts --user=root \
    --listen-address=10.89.0.53 --bind-interfaces --host-record=a.mesh.test,10.89.0.1 \
    --log-queries --log-facility="$T_DIR/dnsmasq.log" &
T_PIDS+=($!)
wait_ping ipe-db 10.254.9.1 40 || fail "b never reached a after DNS came up"
wait_ping ipe-da 10.254.9.2 10 || fail "a cannot reach b"
grep -q "static peer a:5800 resolved to 10.89.0.1:5800" "$T_DIR/b.log" || fail "no 'resolved' line in b's log"
grep -q "query\[A\] a.mesh.test from 10.89.0.2" "$T_DIR/dnsmasq.log" || fail "dnsmasq saw no query: $(cat "$T_DIR/dnsmasq.log")"
ok "dnsmasq up: b resolved a.mesh.test -> 10.89.0.1 by itself and the overlay pings both ways"
