#!/usr/bin/env bash
# The XMPP client against a real prosody (tests/xmpp/common.sh lists the
# checks): certificate modes, wrong password, shared-account group.
set -euo pipefail
cd "$(dirname "$0")/../.."
IPOP_BIN=${IPOP_BIN:-$PWD/target/release/ipop}
SERVER=prosody
PORT=15322
. tests/xmpp/lib.sh
. tests/xmpp/common.sh
trap xmpp_cleanup EXIT
xmpp_setup
prosody_start "$PORT" alice:pw-alice bob:pw-bob group:pw-group || fail "prosody did not start"
run_common_checks
echo "PASS prosody"
