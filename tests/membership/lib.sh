# Helpers for the membership tests (on top of tests/e2e/lib.sh). Every
# namespace and device is named m19*; the nodes listen on port 47240.
. "$(dirname "${BASH_SOURCE[0]}")/../e2e/lib.sh"

M_PORT=47240

# m_wire NS HUB ADDR/PREFIX N: veth m19aN (in NS, renamed eth0) to m19bN in HUB's br0.
m_wire() {
    local ns=$1 hub=$2 addr=$3 n=$4
    ip link add "m19a$n" type veth peer name "m19b$n"
    ip link set "m19a$n" netns "$ns"
    ip -n "$ns" link set "m19a$n" name eth0
    ip link set "m19b$n" netns "$hub"
    ip -n "$hub" link set "m19b$n" master br0 up
    ip -n "$ns" addr add "$addr" dev eth0
    ip -n "$ns" link set eth0 up
}

# m_status N: `ipop status --json` of node N.
m_status() { "$IPOP_BIN" status --json --socket "$T_DIR/n$1.sock"; }

# m_links N KEY: 1 if node N has KEY as a peer entry, else 0.
m_has_peer() {
    m_status "$1" | python3 -c '
import json, sys
s = json.load(sys.stdin)
print(1 if any(p["public_key"] == sys.argv[1] for p in s["peers"]) else 0)' "$2"
}

# m_json N EXPR: evaluates EXPR on node N's status (as s).
m_json() {
    m_status "$1" | python3 -c 'import json, sys; s = json.load(sys.stdin); print(eval(sys.argv[1]))' "$2"
}

# m_install N B64: sends `member install B64` to node N; prints the reply.
m_install() {
    python3 - "$T_DIR/n$1.sock" "$2" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(("member install %s\n" % sys.argv[2]).encode())
out = b""
while True:
    b = s.recv(4096)
    if not b:
        break
    out += b
print(out.decode().strip())
PY
}

# psk_tag SECRET: the PSK tag of a group secret (docs/PROTOCOL.md).
psk_tag() {
    python3 - "$1" <<'PY'
import hashlib, sys
psk = hashlib.blake2s(b"ipop group_secret v1\0" + sys.argv[1].encode()).digest()
print(max(1, hashlib.blake2s(b"ipop psk tag v1" + psk).digest()[0]))
PY
}
