#!/usr/bin/env bash
# Fault soak: five nodes (two public, two behind full-cone and one behind a
# port-restricted NAT box, tests/nat/lib.sh) that know each other as
# static peers and through one prosody account, with ping between every
# ordered pair (5 per second) and an iperf3 stream running throughout.
# After a quiet first minute the soak breaks things at random, each kind
# at least once: SIGKILL a node and restart it, restart the XMPP server,
# flush conntrack on a NAT box, take a node's underlay link down and up,
# rewrite a node's config and reload it (SIGTERM, start: what procd does on
# `/etc/init.d/ipop reload`). Then a quiet end. It asserts:
#   * no node died except those the soak killed (checked every 2 s);
#   * every ordered pair answers again within 5 s of the last fault (the
#     last one is always a network fault: XMPP, conntrack or link);
#   * ping loss only during faults: every lost ping falls in a fault that
#     involves the pair (none for the XMPP server), between its start and
#     5 s after its end (6.5 s after a node restart: see RESTART_RECOVER);
#   * the peak RSS (VmHWM) of each node process that ran 90 s or more is
#     within 10 % of its peak at the end of its first minute;
#   * no panic in any log, and no log storm: at most SOAK_LINES_PER_MIN
#     lines (SOAK_WARN_PER_MIN warnings and errors) in any minute.
#
#   tests/soak/test_soak.sh                 3 minutes of soak (CI)
#   tests/soak/test_soak.sh --seconds 3600  an hour (also SOAK_SECONDS=3600)
#   SOAK_SEED=N                             replay a fault schedule
#   SOAK_KEEP=DIR                           where a failed run's files go
# Names: namespaces s18-*, prosody on 203.0.113.2:47180 in s18-pub, iperf3
# on 47181.
. "$(dirname "$0")/../e2e/lib.sh"
NAT_PREFIX=s18
. "$(dirname "$0")/../nat/lib.sh"
XMPP_LISTEN=203.0.113.2
. "$(dirname "$0")/../xmpp/lib.sh"
set -e

SOAK_SECONDS=${SOAK_SECONDS:-180}
if [ "${1:-}" = --seconds ]; then SOAK_SECONDS=$2; fi
SEED=${SOAK_SEED:-$(( $(date +%s) % 32768 ))}
RANDOM=$SEED
LINES_PER_MIN=${SOAK_LINES_PER_MIN:-120}
WARN_PER_MIN=${SOAK_WARN_PER_MIN:-30}
PORT=47180
IPERF_PORT=47181
N=5
# One port-restricted site only: two of them can fail to link directly
# (each NAT remaps its node's port toward the other when the other's first
# initiation arrived first, and no STUN here tells them the new ports), and
# their traffic then rides the ring through a third node, so that node's
# faults would cost them pings. Sites 2-4 have NAT boxes.
TYPES=(x public cone restricted cone public)
echo "soak: $SOAK_SECONDS s, seed $SEED (SOAK_SEED=$SEED replays the schedule)"

# prosody runs in the public namespace: the lib starts it as `prosody`,
# waits with wait_port and stops it by PID (exec keeps the PID).
prosody() { exec ip netns exec "$NAT_PREFIX-pub" /usr/bin/prosody "$@"; }
wait_port() { # PORT SECONDS
    local i
    for ((i = 0; i < $2 * 10; i++)); do
        ip netns exec "$NAT_PREFIX-pub" bash -c "exec 3<>/dev/tcp/$XMPP_LISTEN/$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}
# On failure the work dir (logs, pings, samples, faults) is kept in
# $SOAK_KEEP (default /tmp/ipop-soak-failed).
trap 'rc=$?; set +e; [ $rc -ne 0 ] && { rm -rf "${SOAK_KEEP:=/tmp/ipop-soak-failed}"; cp -a "$T_DIR" "$SOAK_KEEP"; echo "soak: work dir kept in $SOAK_KEEP"; }; xmpp_cleanup; nat_teardown; (exit $rc); t_cleanup' EXIT

nat_pub_up
for i in $(seq 1 $N); do nat_site_add "$i" "${TYPES[$i]}"; done
node_ns() { echo "$NAT_PREFIX-node$1"; }
# The underlay address peers use: the WAN side of the site.
wan() { echo "203.0.113.$((10 + $1)):5800"; }
vip() { echo "10.254.18.$1"; }

xmpp_setup
prosody_start $PORT node:pw-node || fail "prosody did not start"
for i in $(seq 1 $N); do PUB[$i]=$(genkey "n$i"); done

# node_config I ROTATE SUCCESSORS: static peers (every other node, the list
# rotated by ROTATE) and the XMPP account.
node_config() {
    local i=$1 rot=$2 succ=$3 peers="" j k
    for ((k = 0; k < N; k++)); do
        j=$(( (k + rot) % N + 1 ))
        [ "$j" = "$i" ] && continue
        peers+="${peers:+, }{\"endpoint\": \"$(wan "$j")\", \"public_key\": \"${PUB[$j]}\"}"
    done
    cat > "$T_DIR/n$i.json" <<JSON
{ "CFx": { "xmpp_username": "node@$XMPP_DOMAIN", "xmpp_password": "pw-node",
           "xmpp_host": "$XMPP_LISTEN", "xmpp_port": $PORT, "xmpp_ca_file": "$XMPP_DIR/ca.pem",
           "ip4_mask": 24, "tap_name": "ipop", "listen_port": 5800,
           "key_file": "$T_DIR/n$i.key", "control_socket": "$T_DIR/n$i.sock",
           "static_peers": [$peers] },
  "TincanSender": { "stun": [] },
  "BaseTopologyManager": { "ip4": "$(vip "$i")", "num_successors": $succ } }
JSON
}

# Node processes: $T_DIR/pid.I and log.I name the current instance;
# instances.txt lists "I PID START LOG" for each one started.
INST=0
node_start() { # I
    local i=$1
    INST=$((INST + 1))
    start "$(node_ns "$i")" "n${i}_$INST" run -v --config "$T_DIR/n$i.json"
    local pid=${T_PIDS[-1]}
    echo "$pid" > "$T_DIR/pid.$i"
    echo "$T_DIR/n${i}_$INST.log" > "$T_DIR/log.$i"
    echo "$i $pid $(date +%s.%N) $T_DIR/n${i}_$INST.log" >> "$T_DIR/instances.txt"
    rm -f "$T_DIR/down.$i"
}
node_stop() { # I SIGNAL: stop on purpose (the monitor does not count it)
    local i=$1 pid
    pid=$(cat "$T_DIR/pid.$i")
    touch "$T_DIR/down.$i"
    kill "-$2" "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
alive() { kill -0 "$(cat "$T_DIR/pid.$1")" 2>/dev/null; }

for i in $(seq 1 $N); do node_config "$i" 0 20; node_start "$i"; done
for a in $(seq 1 $N); do
    for b in $(seq 1 $N); do
        [ "$a" = "$b" ] && continue
        wait_ping "$(node_ns "$a")" "$(vip "$b")" 60 || fail "warm-up: node $a cannot reach node $b"
    done
done
ok "warm-up: all 20 ordered pairs reach each other"

# Traffic and monitor for the whole soak.
T0=$(date +%s)
END=$((T0 + SOAK_SECONDS))
for a in $(seq 1 $N); do
    for b in $(seq 1 $N); do
        [ "$a" = "$b" ] && continue
        # No -w: with a deadline, ping exits at the first error (a killed
        # node's TAP gone); timeout bounds it instead.
        timeout $((SOAK_SECONDS + 10)) ip netns exec "$(node_ns "$a")" ping -D -O -n -i 0.2 -W 1 "$(vip "$b")" \
            > "$T_DIR/ping-$a-$b.txt" 2>&1 &
        T_PIDS+=($!)
    done
done
ip netns exec "$(node_ns 2)" iperf3 -s -p $IPERF_PORT > "$T_DIR/iperf-server.txt" 2>&1 &
T_PIDS+=($!)
sleep 0.5
(
    while [ "$(date +%s)" -lt $((END - 5)) ]; do
        t=$(( END - 5 - $(date +%s) )); [ $t -gt 60 ] && t=60; [ $t -lt 2 ] && break
        if ip netns exec "$(node_ns 1)" iperf3 -c "$(vip 2)" -p $IPERF_PORT -t $t -b 20M \
            >> "$T_DIR/iperf-client.txt" 2>&1; then echo ok >> "$T_DIR/iperf-runs"; else
            echo fail >> "$T_DIR/iperf-runs"; sleep 1; fi
    done
) &
T_PIDS+=($!)
(
    while [ "$(date +%s)" -lt $((END + 3)) ]; do
        now=$(date +%s.%N)
        for i in $(seq 1 $N); do
            pid=$(cat "$T_DIR/pid.$i"); log=$(cat "$T_DIR/log.$i")
            if [ -r "/proc/$pid/status" ]; then
                rss=$(awk '/^VmRSS/{r=$2} /^VmHWM/{h=$2} END{print r" "h}' "/proc/$pid/status")
            else
                rss="0 0"
                [ -e "$T_DIR/down.$i" ] || echo "$now $i $pid" >> "$T_DIR/died.txt"
            fi
            lines=$(wc -l < "$log"); warns=$(grep -c -E 'WARN|ERROR' "$log" || true)
            echo "$now $i $pid $rss $lines $warns" >> "$T_DIR/samples.txt"
        done
        sleep 2
    done
) &
T_PIDS+=($!)

# The faults. Each: fault_begin KIND NODE; ... ; fault_end.
fault_begin() { F_KIND=$1 F_NODE=$2 F_START=$(date +%s.%N); }
fault_end() {
    echo "$F_START $(date +%s.%N) $F_KIND $F_NODE" >> "$T_DIR/faults.txt"
    echo "soak: t+$(( $(date +%s) - T0 )) s: $F_KIND ${F_NODE/#0/}"
}
check_alive() {
    local i
    for i in $(seq 1 $N); do
        [ -e "$T_DIR/down.$i" ] || alive "$i" || fail "node $i died ($(tail -n 5 "$(cat "$T_DIR/log.$i")"))"
    done
}
RELOADS=0
do_fault() { # KIND
    local i
    case $1 in
        kill)
            i=$((RANDOM % N + 1))
            fault_begin kill "$i"
            node_stop "$i" KILL
            sleep $((2 + RANDOM % 3))
            node_start "$i"
            wait_dev "$(node_ns "$i")" ipop || fail "restarted node $i: no TAP"
            fault_end ;;
        xmpp)
            fault_begin xmpp 0
            prosody_stop || true
            sleep $((2 + RANDOM % 4))
            prosody_start $PORT node:pw-node || fail "prosody did not restart"
            fault_end ;;
        conntrack)
            i=$((RANDOM % 3 + 2))
            fault_begin conntrack "$i"
            nat_rebind "$i"
            fault_end ;;
        link)
            i=$((RANDOM % N + 1))
            fault_begin link "$i"
            ip -n "$(node_ns "$i")" link set eth0 down
            sleep $((3 + RANDOM % 3))
            ip -n "$(node_ns "$i")" link set eth0 up
            [ "${TYPES[$i]}" = public ] || ip -n "$(node_ns "$i")" route replace default via "10.$i.0.1"
            fault_end ;;
        reload)
            i=$((RANDOM % N + 1))
            RELOADS=$((RELOADS + 1))
            fault_begin reload "$i"
            node_config "$i" "$RELOADS" $((20 - RELOADS % 2))
            node_stop "$i" TERM
            node_start "$i"
            wait_dev "$(node_ns "$i")" ipop || fail "reloaded node $i: no TAP"
            fault_end ;;
    esac
}

sleep_until() { local d=$(( $1 - $(date +%s) )); [ $d -gt 0 ] && sleep $d; return 0; }
QUIET_START=$((SOAK_SECONDS < 120 ? 20 : 60))
QUIET_END=30
sleep_until $((T0 + QUIET_START))
kinds=(kill xmpp conntrack link reload)
# Each kind once in a random order, then random kinds.
for ((k = ${#kinds[@]} - 1; k > 0; k--)); do
    j=$((RANDOM % (k + 1))); tmp=${kinds[$k]}; kinds[$k]=${kinds[$j]}; kinds[$j]=$tmp
done
n=0
while :; do
    if [ $n -lt ${#kinds[@]} ]; then kind=${kinds[$n]}; else kind=${kinds[$((RANDOM % 5))]}; fi
    # Enough time left for this fault (at most 8 s), a closing network
    # fault and the quiet end?
    [ $n -ge ${#kinds[@]} ] && [ "$(date +%s)" -gt $((END - QUIET_END - 20)) ] && break
    check_alive
    do_fault "$kind"
    n=$((n + 1))
    sleep $((4 + RANDOM % 6))
done
# The last fault is a network one (see RESTART_RECOVER below).
net=(xmpp conntrack link)
check_alive
do_fault "${net[$((RANDOM % 3))]}"
n=$((n + 1))
[ "$(date +%s)" -le $((END - 5)) ] || echo "soak: warning: faults ran past the quiet end (slow machine?)"
LAST_END=$(tail -n 1 "$T_DIR/faults.txt" | cut -d' ' -f2)
sleep_until "$END"
check_alive
sleep 3
for p in "${T_PIDS[@]}"; do
    case " $(cat "$T_DIR"/pid.* | tr '\n' ' ') " in *" $p "*) continue ;; esac
    kill "$p" 2>/dev/null || true
done
sleep 1
[ -s "$T_DIR/died.txt" ] && fail "node processes died: $(cat "$T_DIR/died.txt")"
ok "$n faults, no node died except those killed"
grep -l -i "panicked" "$T_DIR"/n*.log && fail "a node panicked"

python3 - "$T_DIR" "$N" "$LAST_END" "$LINES_PER_MIN" "$WARN_PER_MIN" <<'PY'
import bisect, re, sys
d, n, last_end, lines_limit, warn_limit = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
RECOVER = 5.0
# A restarted node can take one handshake retransmit (REKEY_TIMEOUT 5 s
# + up to 0.33 s jitter) to reach a peer behind a port-restricted NAT:
# when all nodes started, the peer's NAT had already seen the restarted
# node's first initiation to the peer's configured port, so it mapped the
# peer's own traffic to that node to another port; the new process does
# not know that port, and its initiations to the configured one die at the
# NAT until a retransmit goes to the port it has learned meanwhile (or the
# peer hands shake itself). So restarts get 6.5 s; every other fault 5 s.
RESTART_RECOVER = 6.5
faults = []
for line in open(f"{d}/faults.txt"):
    s, e, kind, node = line.split()
    faults.append((float(s), float(e), kind, int(node)))
bad = []

def covering(a, b, t):
    """A fault that may cost pings between a and b at time t."""
    for s, e, kind, node in faults:
        grace = RESTART_RECOVER if kind in ("kill", "reload") else RECOVER
        if kind != "xmpp" and node in (a, b) and s - 0.5 <= t <= e + grace:
            return kind
    return None

worst = {}
for a in range(1, n + 1):
    for b in range(1, n + 1):
        if a == b:
            continue
        known, replies = {}, set()
        for line in open(f"{d}/ping-{a}-{b}.txt", errors="replace"):
            m = re.match(r"\[(\d+\.\d+)\] (?:64 bytes from .*icmp_seq=(\d+)|no answer yet for icmp_seq=(\d+))", line)
            if not m:
                continue
            t = float(m.group(1))
            if m.group(2):
                seq = int(m.group(2)); replies.add(seq)
            else:
                seq = int(m.group(3))
            known.setdefault(seq, t)
        if not replies:
            bad.append(f"{a}->{b}: no reply at all"); continue
        pts = sorted(known.items())
        seqs = [p[0] for p in pts]
        def time_of(seq):
            """When ping sent `seq`: interpolated between timestamped lines."""
            k = bisect.bisect_left(seqs, seq)
            lo = pts[max(k - 1, 0)] if k == len(pts) or seqs[k] != seq else pts[k]
            hi = pts[min(k, len(pts) - 1)]
            if hi[0] == lo[0]:
                return lo[1] + (seq - lo[0]) * 0.2
            return lo[1] + (hi[1] - lo[1]) * (seq - lo[0]) / (hi[0] - lo[0])
        top = max(replies)
        lost = [s for s in range(1, top) if s not in replies]
        stray = [(s, round(time_of(s), 1)) for s in lost if not covering(a, b, time_of(s))]
        if stray:
            bad.append(f"{a}->{b}: {len(stray)} pings lost outside any fault of the pair, first at seq {stray[0][0]} (t={stray[0][1]})")
        after = [known[s] for s in replies if known[s] > last_end]
        if not after or min(after) - last_end > RECOVER:
            bad.append(f"{a}->{b}: no reply within {RECOVER} s of the last fault")
        # Recovery time per fault that involved the pair (unless the next
        # fault of the pair came first).
        mine = [f for f in faults if f[2] != "xmpp" and f[3] in (a, b)]
        for k, (s, e, kind, node) in enumerate(mine):
            nxt = mine[k + 1][0] if k + 1 < len(mine) else float("inf")
            first = min((known[q] for q in replies if known[q] >= e), default=None)
            if first is not None and first < nxt:
                worst[kind] = max(worst.get(kind, 0), first - e)
print("soak: slowest recovery after each kind of fault (s): " +
      ", ".join(f"{k} {v:.1f}" for k, v in sorted(worst.items())))

# RSS and log rates per instance.
samples = {}
for line in open(f"{d}/samples.txt"):
    t, i, pid, rss, hwm, lines, warns = line.split()
    samples.setdefault(pid, []).append((float(t), int(i), int(rss), int(hwm), int(lines), int(warns)))
checked = 0
for line in open(f"{d}/instances.txt"):
    i, pid, start, log = line.split()
    s = [x for x in samples.get(pid, []) if x[3] > 0]
    if not s:
        continue
    start = float(start)
    life = s[-1][0] - start
    if life >= 90:
        first = max(x[3] for x in s if x[0] - start <= 62)
        peak = s[-1][3]
        checked += 1
        print(f"soak: node {i} pid {pid}: peak RSS {peak} kB, {first} kB after its first minute ({life:.0f} s)")
        if peak > first * 1.10:
            bad.append(f"node {i} pid {pid}: peak RSS {peak} kB > 110 % of {first} kB (first minute)")
    for (t0, _, _, _, l0, w0) in s:
        later = [x for x in s if 55 <= x[0] - t0 <= 65]
        if later:
            dl, dw = later[0][4] - l0, later[0][5] - w0
            if dl > lines_limit or dw > warn_limit:
                bad.append(f"node {i} pid {pid}: {dl} log lines ({dw} warnings/errors) in a minute from {t0:.0f}")
                break
    lines = sum(1 for _ in open(log, errors="replace"))
    print(f"soak: node {i} pid {pid}: {lines} log lines in {life:.0f} s")
if checked == 0:
    bad.append("no node process ran 90 s: the RSS check checked nothing (soak too short?)")
for b in bad:
    print("FAIL: " + b)
sys.exit(1 if bad else 0)
PY
ok "every pair answered within 5 s of the last fault; ping loss only during faults; RSS and log rates bounded"
runs=$(grep -c ok "$T_DIR/iperf-runs" 2>/dev/null || true)
[ "${runs:-0}" -ge 1 ] || fail "iperf3 never completed a run: $(tail -n 5 "$T_DIR/iperf-client.txt")"
ok "iperf3 ran throughout: ${runs} runs completed, $(grep -c fail "$T_DIR/iperf-runs" || true) failed"
