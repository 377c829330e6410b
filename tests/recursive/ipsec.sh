# IPsec on the outer overlay's addresses (sourced by test_recursive.sh):
# strongSwan's charon (IKEv2, PSK) in hosts h1 and h2 protects all traffic
# between 192.168.1.100 and 192.168.1.101 with ESP. Each charon runs in its
# host's namespace and a private mount namespace (its pid file lives in
# /run), with its own strongswan.conf and vici socket.
#
# With a kernel that has ESP (CONFIG_INET_ESP) it is a transport-mode SA in
# the kernel, as in the seed. Kernels built without ESP (some VM kernels)
# cannot install any SA; there charon's userspace ESP (kernel-libipsec:
# tunnel mode between the two addresses, ESP in UDP 4500 through a TUN
# ipsec0, fwmark so charon's own packets bypass it) does the same job.

IPSEC_PSK="ipop-recursive-lab-$RANDOM$RANDOM"

kernel_has_esp() {
    local k
    k=$(printf '%032x' 1)
    ip -n ipr-h1 xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1 mode transport \
        enc 'cbc(aes)' "0x$k" auth-trunc 'hmac(sha256)' "0x$k$k" 128 2>/dev/null || return 1
    ip -n ipr-h1 xfrm state del src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1
}

# charon_start H ME OTHER START_ACTION
charon_start() {
    local h=$1 me=$2 other=$3 mode=$4 d="$T_DIR/ipsec$1" load plugins
    mkdir -p "$d"
    if [ "$mode" = transport ]; then
        load="kernel-netlink"
        plugins=""
    else
        load="kernel-libipsec kernel-netlink"
        plugins="kernel-netlink { fwmark = !0x42 }
    socket-default { fwmark = 0x42 }
    kernel-libipsec { allow_peer_ts = yes }"
    fi
    cat > "$d/strongswan.conf" <<EOF
charon {
  load = random nonce aes sha1 sha2 hmac gmp kdf $load socket-default vici
  filelog { log { path = $d/charon.log
                  default = 1
                  flush_line = yes } }
  install_routes = $([ "$mode" = transport ] && echo no || echo yes)
  plugins {
    vici { socket = unix://$d/charon.vici }
    $plugins
  }
}
swanctl { socket = unix://$d/charon.vici }
EOF
    cat > "$d/swanctl.conf" <<EOF
connections {
  outer {
    version = 2
    local_addrs = $me
    remote_addrs = $other
    proposals = aes128-sha256-modp2048
    local { auth = psk
            id = $me }
    remote { auth = psk
             id = $other }
    children {
      outer {
        mode = $mode
        esp_proposals = aes128-sha256
        start_action = none
        local_ts = $me
        remote_ts = $other
      }
    }
  }
}
secrets { ike-outer { id-1 = 192.168.1.100
                      id-2 = 192.168.1.101
                      secret = "$IPSEC_PSK" } }
EOF
    bg "ipr-h$h" "charon$h" env STRONGSWAN_CONF="$d/strongswan.conf" \
        unshare -m sh -c 'mount -t tmpfs tmpfs /run && exec /usr/lib/ipsec/charon'
    eval "CHARON_$h=$BG_PID"
    local i
    for ((i = 0; i < 100; i++)); do [ -S "$d/charon.vici" ] && break; sleep 0.1; done
    swan "$h" --load-all --file "$d/swanctl.conf" >/dev/null || fail "swanctl --load-all on h$h"
}
swan() {
    local h=$1; shift
    STRONGSWAN_CONF="$T_DIR/ipsec$h/strongswan.conf" ip netns exec "ipr-h$h" swanctl "$@" 2>/dev/null
}

# esp_count PCAP: ESP packets from 192.168.1.101 to .100 (raw or in UDP).
esp_count() {
    { tcpdump -r "$1" -n "src 192.168.1.101 and dst 192.168.1.100" 2>/dev/null || true; } | grep -c "ESP(spi=" || true
}

ipsec_check() {
    if ! command -v swanctl >/dev/null || [ ! -x /usr/lib/ipsec/charon ]; then
        fail "strongSwan (strongswan-charon, strongswan-swanctl) not installed"
    fi
    local mode=transport n plain want
    if ! kernel_has_esp; then
        mode=tunnel
        [ -e /usr/lib/ipsec/plugins/libstrongswan-kernel-libipsec.so ] \
            || fail "kernel has no ESP and strongSwan's kernel-libipsec (libcharon-extra-plugins) is missing"
    fi
    charon_start 1 192.168.1.100 192.168.1.101 $mode
    charon_start 2 192.168.1.101 192.168.1.100 $mode
    cap ipr-h1 tunnel-tap tt-frag-esp1 "ip[6:2] & 0x3fff != 0"
    swan 1 --initiate --child outer --timeout 20 >/dev/null || fail "IPsec: CHILD_SA not established"
    swan 1 --list-sas > "$T_DIR/ipsec-sas.txt"
    want="INSTALLED, TRANSPORT"
    [ $mode = tunnel ] && want="INSTALLED, TUNNEL-in-UDP"
    grep -q "$want" "$T_DIR/ipsec-sas.txt" || fail "IPsec: no '$want' CHILD_SA: $(cat "$T_DIR/ipsec-sas.txt")"
    # Capture from here: before the CHILD_SA is installed, the inner
    # overlay's keepalives rightly travel in the clear.
    cap ipr-h1 tunnel-tap tt-esp1 "host 192.168.1.101"
    wait_ping ipr-c1 10.0.3.12 20 || fail "IPsec: containers c1 -> c2 under ESP"
    ip netns exec ipr-c1 ping -c 10 -i 0.1 -W 2 10.0.3.12 >/dev/null || fail "IPsec: pings lost under ESP"
    RTT_ESP=$(rtt ipr-c1 10.0.3.12)
    wait_ping ipr-c1 10.0.3.13 10 || fail "IPsec: c1 -> c3 (no IPsec to h3)"
    # Full-size inner frames: reported, not asserted (ESP adds its own bytes).
    local full=fails
    ip netns exec ipr-c1 ping -M do -s $((M - 28)) -c 2 -i 0.2 -W 2 10.0.3.12 >/dev/null 2>&1 && full=passes
    TP_ESP=$(iperf ipr-c2 10.0.3.12 ipr-c1)
    sleep 1
    stop_pid "${CAP_PID[tt-esp1]}"
    stop_pid "${CAP_PID[tt-frag-esp1]}"
    n=$(esp_count "$T_DIR/tt-esp1.pcap")
    [ "$n" -gt 100 ] || fail "IPsec: only $n ESP packets from 192.168.1.101 on h1's tunnel-tap"
    # Inner traffic between h1 and h2 is now only inside ESP.
    plain=$(pcap_count "$T_DIR/tt-esp1.pcap" "host 192.168.1.101 and udp port 5805")
    [ "$plain" = 0 ] || fail "IPsec: $plain plain inner packets between h1 and h2 on tunnel-tap"
    local frags
    frags=$(pcap_count "$T_DIR/tt-frag-esp1.pcap")
    tcpdump -r "$T_DIR/tt-esp1.pcap" -n 2>/dev/null > "$T_DIR/tt-esp1.txt" || true
    grep -m1 "ESP(spi=" "$T_DIR/tt-esp1.txt" | sed 's/^[0-9:.]* /e.g. /' > "$T_DIR/esp-line"
    note "IPsec ($mode mode$([ $mode = tunnel ] && echo ", userspace ESP-in-UDP: kernel has no ESP")): $n ESP packets on h1's tunnel-tap, 0 plain; $(cat "$T_DIR/esp-line")"
    note "IPsec: container RTT $RTT_ESP ms, TCP $TP_ESP Mbit/s; DF $M-byte ping $full, $frags IP fragments on tunnel-tap"
    stop_pid "$CHARON_1"
    stop_pid "$CHARON_2"
    case "$(ip -n ipr-h1 xfrm policy)" in *192.168.1.101*) fail "IPsec: policies left after charon stopped" ;; esac
    ip -n ipr-h1 link show ipsec0 >/dev/null 2>&1 && fail "IPsec: ipsec0 left after charon stopped"
    wait_ping ipr-c1 10.0.3.12 10 || fail "containers after IPsec removed"
    ok "IPsec: strongSwan ESP ($mode mode) between the outer addresses, seen on tunnel-tap; containers still reach each other"
}
