#!/usr/bin/env bash
# The XMPP client against a real ejabberd (tests/xmpp/common.sh lists the
# checks), plus an ejabberd shared roster group (srg_create/srg_user_add),
# the IPOP 16.01 way to make separate accounts members of one group.
# The server's certificate here is ECDSA (P-256, from a P-384 CA); prosody's
# is RSA.
set -euo pipefail
cd "$(dirname "$0")/../.."
IPOP_BIN=${IPOP_BIN:-$PWD/target/release/ipop}
SERVER=ejabberd
PORT=15323
. tests/xmpp/lib.sh
. tests/xmpp/common.sh
trap xmpp_cleanup EXIT
XMPP_CERT_KIND=ec xmpp_setup
ejabberd_start "$PORT" alice:pw-alice bob:pw-bob group:pw-group || fail "ejabberd did not start"
run_common_checks

ejabberd_ctl srg_create ipop "$XMPP_DOMAIN" ipop "IPOP group" ipop >/dev/null || fail "srg_create"
ejabberd_ctl srg_user_add alice "$XMPP_DOMAIN" ipop "$XMPP_DOMAIN" >/dev/null || fail "srg_user_add alice"
ejabberd_ctl srg_user_add bob "$XMPP_DOMAIN" ipop "$XMPP_DOMAIN" >/dev/null || fail "srg_user_add bob"
ca=",\"xmpp_ca_file\": \"$XMPP_DIR/ca.pem\""
xmpp_config "$XMPP_DIR/a.json" alice pw-alice "$PORT" 10.254.0.1 "$ca"
xmpp_config "$XMPP_DIR/b.json" bob pw-bob "$PORT" 10.254.0.2 "$ca"
pair_sees_each_other srg-a "$XMPP_DIR/a.json" "alice@ipop.test/ipopc31dcee6" \
    srg-b "$XMPP_DIR/b.json" "bob@ipop.test/ipop$(uid8 10.254.0.2)" || fail "shared roster group"
grep -qx "xmpp roster: 1 items" "$XMPP_DIR/srg-a.out" || { cat "$XMPP_DIR/srg-a.out"; fail "alice roster"; }
echo "PASS ejabberd"
