# Checks shared by test_client_prosody.sh and test_client_ejabberd.sh:
# `ipop check --online` (io::xmpp::probe) against the server on $PORT.
# Output lines checked (io::xmpp::ProbeReport's Display):
#   xmpp: online as JID / xmpp tls: ... (certificate: KIND) / xmpp auth: MECH
#   xmpp members seen: N, then one "  JID" line per member
# Needs: IPOP_BIN, PORT, SERVER (name for messages), lib.sh sourced and
# xmpp_setup done, accounts alice:pw-alice, bob:pw-bob, group:pw-group.

fail() { echo "FAIL ($SERVER): $*" >&2; exit 1; }

# check NAME CONFIG: runs the probe at trace level; output in $XMPP_DIR/NAME.{out,err}, status in $rc.
check() {
    set +e
    RUST_LOG=trace timeout 60 "$IPOP_BIN" check --config "$2" --online >"$XMPP_DIR/$1.out" 2>"$XMPP_DIR/$1.err"
    rc=$?
    set -e
    # No secret at any log level.
    if grep -q -e "pw-alice" -e "pw-bob" -e "pw-group" -e "wrong-pw" "$XMPP_DIR/$1.out" "$XMPP_DIR/$1.err"; then
        fail "$1: a password appears in the output"
    fi
    if grep -q -e "p=" -e "c=biws" "$XMPP_DIR/$1.err"; then fail "$1: SCRAM material in the log"; fi
}

expect_ok() { # NAME CONFIG CERT-KIND
    check "$1" "$2"
    [ "$rc" = 0 ] || { cat "$XMPP_DIR/$1.err" >&2; fail "$1: exit $rc"; }
    grep -qx "xmpp: online as alice@ipop.test/ipopc31dcee6" "$XMPP_DIR/$1.out" || fail "$1: not online as alice"
    grep -qx "xmpp auth: SCRAM-SHA-1" "$XMPP_DIR/$1.out" || fail "$1: not SCRAM-SHA-1"
    grep -qx "xmpp tls: TLSv1_3 TLS13_CHACHA20_POLY1305_SHA256 (certificate: $3)" "$XMPP_DIR/$1.out" ||
        fail "$1: tls line: $(grep 'xmpp tls' "$XMPP_DIR/$1.out")"
}

expect_fail() { # NAME CONFIG MESSAGE
    check "$1" "$2"
    [ "$rc" != 0 ] || fail "$1: succeeded"
    grep -qF "$3" "$XMPP_DIR/$1.err" || { cat "$XMPP_DIR/$1.err" >&2; fail "$1: no '$3'"; }
}

run_common_checks() {
    local d=$XMPP_DIR ca=",\"xmpp_ca_file\": \"$XMPP_DIR/ca.pem\""
    xmpp_config "$d/insecure.json" alice pw-alice "$PORT" 10.254.0.1 ',"xmpp_insecure": true'
    xmpp_config "$d/ca.json" alice pw-alice "$PORT" 10.254.0.1 "$ca"
    xmpp_config "$d/pin.json" alice pw-alice "$PORT" 10.254.0.1 ",\"xmpp_pinned_cert\": \"$d/cert.pem\""
    xmpp_config "$d/pinbad.json" alice pw-alice "$PORT" 10.254.0.1 ",\"xmpp_pinned_cert\": \"$d/other-cert.pem\""
    xmpp_config "$d/system.json" alice pw-alice "$PORT" 10.254.0.1
    xmpp_config "$d/wrong.json" alice wrong-pw "$PORT" 10.254.0.1 "$ca"
    xmpp_config "$d/noserver.json" alice pw-alice 1 10.254.0.1 "$ca"

    expect_ok insecure "$d/insecure.json" "NOT CHECKED (xmpp_insecure)"
    grep -q "xmpp_insecure is set: the server certificate is NOT checked" "$d/insecure.err" || fail "no insecure warning"
    expect_ok ca "$d/ca.json" "xmpp_ca_file"
    expect_ok pin "$d/pin.json" "pinned (xmpp_pinned_cert)"
    expect_fail pinbad "$d/pinbad.json" "server certificate does not match xmpp_pinned_cert"
    expect_fail system "$d/system.json" "invalid peer certificate: UnknownIssuer"
    expect_fail noserver "$d/noserver.json" "cannot connect to XMPP server 127.0.0.1:1"

    # Wrong password: a clear error, one attempt, and the daemon's back-off.
    expect_fail wrong "$d/wrong.json" "XMPP login failed: authentication failed (not-authorized): check xmpp_username / xmpp_password"
    grep -q "retrying in [0-9]* ms" "$d/wrong.err" || fail "wrong password: no back-off"
    [ "$(grep -c "authentication failed" "$d/wrong.err")" = 2 ] || fail "wrong password: more than one attempt"

    # A whole group sharing one account: each node sees the other's resource.
    xmpp_config "$d/g1.json" group pw-group "$PORT" 10.254.0.1 "$ca"
    xmpp_config "$d/g2.json" group pw-group "$PORT" 10.254.0.2 "$ca"
    pair_sees_each_other g1 "$d/g1.json" "group@ipop.test/ipopc31dcee6" \
        g2 "$d/g2.json" "group@ipop.test/ipop$(uid8 10.254.0.2)" || fail "shared account group"
}

uid8() { printf %s "$1" | sha1sum | cut -c1-8; } # short UID: SHA-1 of the dotted ip4

# pair_sees_each_other N1 CFG1 JID1 N2 CFG2 JID2: two probes at once; each
# must list the other as present. Each probe listens 2.5 s once online; on
# a loaded machine the two windows may not overlap, so up to 3 tries.
pair_sees_each_other() {
    local try
    for try in 1 2 3; do
        check "$1" "$2" & local p1=$!
        check "$4" "$5" & local p2=$!
        wait $p1 && wait $p2 || return 1
        if grep -qx "  $6" "$XMPP_DIR/$1.out" && grep -qx "  $3" "$XMPP_DIR/$4.out"; then
            grep -qx "xmpp members seen: 1" "$XMPP_DIR/$1.out" || return 1
            return 0
        fi
        xmpp_log "try $try: $1/$4 did not overlap"
    done
    cat "$XMPP_DIR/$1.out" "$XMPP_DIR/$4.out" >&2
    return 1
}
