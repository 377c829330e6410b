#!/usr/bin/env bash
# ipop's UCI reader and writer against OpenWrt's own libuci.
#
# Always: `ipop uci show` on every recorded case in tests/fixtures/uci/
# (hand-written and random files, with the answer libuci gave for each)
# must print exactly what libuci printed, or fail with libuci's message;
# `ipop uci export` / `uci import` round trips for the seed configs and a
# config that sets every key; bad UCI input exits 2 with a one-line error.
# With the real libuci (../shared/tools/uci/uci-show, or $UCI_SHOW): also
# fresh random files (seed printed), and libuci must read what
# `ipop uci export` writes to the same values.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${IPOP_BIN:?set IPOP_BIN to the ipop binary}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }

# UCI_SHOW=none checks the recorded answers only.
oracle=${UCI_SHOW:-}
for c in ../shared/tools/uci/uci-show /work/shared/tools/uci/uci-show; do
    [ -z "$oracle" ] && [ -x "$c" ] && oracle=$(cd "$(dirname "$c")" && pwd)/uci-show
done
[ "$oracle" = none ] && oracle=

# What `ipop uci show` gives for FILE, in the .expect format.
ipop_expect() {
    local out rc=0
    out=$("$IPOP_BIN" uci show --uci-file "$1" 2>"$work/err") || rc=$?
    if [ "$rc" = 0 ]; then
        printf 'ok\n%s' "$out"; [ -n "$out" ] && echo
    elif [ "$rc" = 2 ]; then
        # "ipop: FILE: Parse error (...) at line N, byte B" -> libuci's form
        printf 'error\n'; sed "s|^ipop: $1: |uci: |" "$work/err"
    else
        printf 'exit %s\n' "$rc"; cat "$work/err"
    fi
}

# 1. recorded libuci answers
n=0
for f in tests/fixtures/uci/hand/*.uci tests/fixtures/uci/random/*.uci; do
    n=$((n + 1))
    if ! diff -u "${f%.uci}.expect" <(ipop_expect "$f") > "$work/diff"; then
        bad "$f differs from libuci"; head -20 "$work/diff"
    fi
done
echo "recorded cases checked: $n"
[ "$n" -ge 400 ] || bad "expected at least 400 recorded cases, found $n"

# 2. export -> import -> export round trips
for j in tests/fixtures/seed-outer.json tests/fixtures/seed-inner.json tests/fixtures/every-key.json; do
    "$IPOP_BIN" uci export --config "$j" --name o > "$work/a.uci" || { bad "export $j"; continue; }
    "$IPOP_BIN" uci import --uci-file "$work/a.uci" --name o > "$work/b.json" || { bad "import of export of $j"; continue; }
    "$IPOP_BIN" uci export --config "$work/b.json" --name o > "$work/c.uci" || { bad "re-export $j"; continue; }
    diff -u "$work/a.uci" "$work/c.uci" || bad "$j: JSON -> UCI -> JSON -> UCI changed"
    "$IPOP_BIN" check --config "$j" > "$work/check1" || bad "check $j"
    "$IPOP_BIN" check --config "$work/b.json" > "$work/check2" || bad "check of import of $j"
    grep -q '^uid ' "$work/check1" || bad "check $j prints no uid line"
    if [ -n "$oracle" ]; then
        # libuci must read the exported file to the values ipop reads.
        "$oracle" "$work/a.uci" > "$work/lib.show" || bad "libuci rejects export of $j"
        "$IPOP_BIN" uci show --uci-file "$work/a.uci" > "$work/ipop.show"
        diff -u "$work/lib.show" "$work/ipop.show" || bad "libuci reads export of $j differently"
    fi
done
grep -q "^uid             25c90651c297fef3cf787a191b93cce4c475c6b7$" <("$IPOP_BIN" check --config tests/fixtures/seed-outer.json) \
    || bad "seed-outer UID"
"$IPOP_BIN" check --uci inner --uci-file tests/fixtures/ipop.uci > "$work/inner" || bad "check --uci inner"
grep -q "^ip6             fd50:dbc:41f2:4a3c:f46d:6281:ae45:f92e/64$" "$work/inner" || bad "inner IPv6 from UCI"

# 3. bad UCI input: exit 2, one line naming file, key/line and expectation
expect_error() { # FILE-CONTENT NAME EXPECTED-STDERR
    printf '%b' "$1" > "$work/bad"
    local rc=0
    "$IPOP_BIN" check --uci "$2" --uci-file "$work/bad" > /dev/null 2> "$work/err" || rc=$?
    [ "$rc" = 2 ] || bad "exit $rc (want 2) for: $1"
    [ "$(wc -l < "$work/err")" = 1 ] || bad "not one line: $(cat "$work/err")"
    [ "$(cat "$work/err")" = "ipop: $work/bad: $3" ] || bad "got '$(cat "$work/err")' want 'ipop: $work/bad: $3'"
}
expect_error "config overlay 'o'\n\toption ip4 '10.0.0.1\n" o "Parse error (EOF with unterminated ') at line 2, byte 22"
expect_error "config overlay 'o'\n\toption ip4 '10.0.0.1'\n" x "no \`config overlay\` section named \"x\" (known: o)"
printf 'config overlay o\n\toption ip4 300.1.1.1\n' > "$work/bad"
rc=0; "$IPOP_BIN" check --uci o --uci-file "$work/bad" 2> "$work/err" >/dev/null || rc=$?
[ "$rc" = 2 ] && [ "$(cat "$work/err")" = "ipop: $work/bad:2: ipop.o.ip4: expected a dotted IPv4 address like 192.168.1.100, got \"300.1.1.1\"" ] \
    || bad "bad ip4 in UCI: rc=$rc $(cat "$work/err")"

# 4. fresh random files against the live libuci
if [ -n "$oracle" ]; then
    seed=${UCI_SEED:-$(date +%s)}
    echo "random seed $seed (rerun with UCI_SEED=$seed)"
    python3 tests/config/gen_uci_cases.py "$work/rand" 300 "$seed" "$oracle"
    m=0
    for f in "$work"/rand/*.uci; do
        m=$((m + 1))
        if ! diff -u "${f%.uci}.expect" <(ipop_expect "$f") > "$work/diff"; then
            bad "random case differs from libuci:"; cat -A "$f" | head -20; head -20 "$work/diff"
            cp "$f" "/tmp/ipop-uci-mismatch-$seed-$(basename "$f")"
        fi
    done
    echo "live random cases checked: $m"
else
    echo "NOTE: libuci oracle not found (set UCI_SHOW); checked the recorded answers only"
fi

[ "$fail" = 0 ] && echo "PASS: UCI matches libuci"
exit "$fail"
