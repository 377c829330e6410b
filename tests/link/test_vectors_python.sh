#!/usr/bin/env bash
# The link test vectors in docs/PROTOCOL.md, recomputed by an independent
# Python implementation (hashlib + cryptography). Needs no root, no binary.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$(python3 tests/link/vectors.py docs/PROTOCOL.md)
echo "$out"
grep -qx "15 outputs, 0 mismatches" <<<"$out"
# The oracle must notice a wrong byte.
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
sed 's/^cookie = 7/cookie = 8/' docs/PROTOCOL.md >"$tmp"
if python3 tests/link/vectors.py "$tmp" >/dev/null; then
    echo "FAIL: a corrupted vector was accepted" >&2
    exit 1
fi
echo "PASS: link vectors agree with the independent Python implementation"
