#!/usr/bin/env python3
"""Independent oracle for the link test vectors in docs/PROTOCOL.md.

Recomputes every output of the "link-test-vectors" block from its inputs
with Python's hashlib (BLAKE2s, HMAC) and the `cryptography` package
(X25519, ChaCha20-Poly1305; XChaCha20 built from HChaCha20 here), sharing no
code with ipop. Prints one line per output and exits 1 on any mismatch.
"""
import hashlib
import hmac
import ipaddress
import struct
import sys

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

CONSTRUCTION = b"Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s"
IDENTIFIER = b"ipop link v1 (IKpsk2, BLAKE2s, ChaChaPoly)"
LABEL_MAC1 = b"ipop-mac1-v1"
LABEL_COOKIE = b"ipop-cookie-v1"


def H(*parts):
    return hashlib.blake2s(b"".join(parts)).digest()


def HMAC(key, *parts):
    return hmac.new(key, b"".join(parts), hashlib.blake2s).digest()


def KDF(ck, ikm, n):
    prk, t, out = HMAC(ck, ikm), b"", []
    for i in range(1, n + 1):
        t = HMAC(prk, t, bytes([i]))
        out.append(t)
    return out


def MAC(key, msg):
    return hashlib.blake2s(msg, key=key, digest_size=16).digest()


def pub(secret):
    key = X25519PrivateKey.from_private_bytes(secret).public_key()
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def DH(secret, public):
    return X25519PrivateKey.from_private_bytes(secret).exchange(X25519PublicKey.from_public_bytes(public))


def AEAD(key, counter, plain, ad):
    return ChaCha20Poly1305(key).encrypt(b"\0" * 4 + struct.pack("<Q", counter), plain, ad)


def hchacha20(key, nonce16):
    def rotl(v, c):
        return ((v << c) & 0xFFFFFFFF) | (v >> (32 - c))

    def qr(s, a, b, c, d):
        s[a] = (s[a] + s[b]) & 0xFFFFFFFF; s[d] = rotl(s[d] ^ s[a], 16)
        s[c] = (s[c] + s[d]) & 0xFFFFFFFF; s[b] = rotl(s[b] ^ s[c], 12)
        s[a] = (s[a] + s[b]) & 0xFFFFFFFF; s[d] = rotl(s[d] ^ s[a], 8)
        s[c] = (s[c] + s[d]) & 0xFFFFFFFF; s[b] = rotl(s[b] ^ s[c], 7)

    s = list(struct.unpack("<4I", b"expand 32-byte k") + struct.unpack("<8I", key) + struct.unpack("<4I", nonce16))
    for _ in range(10):
        qr(s, 0, 4, 8, 12); qr(s, 1, 5, 9, 13); qr(s, 2, 6, 10, 14); qr(s, 3, 7, 11, 15)
        qr(s, 0, 5, 10, 15); qr(s, 1, 6, 11, 12); qr(s, 2, 7, 8, 13); qr(s, 3, 4, 9, 14)
    return struct.pack("<8I", *(s[0:4] + s[12:16]))


def XAEAD(key, nonce24, plain, ad):
    sub = hchacha20(key, nonce24[:16])
    return ChaCha20Poly1305(sub).encrypt(b"\0" * 4 + nonce24[16:], plain, ad)


def read_block(path):
    text = open(path, encoding="utf-8").read()
    start = text.index("```text link-test-vectors") + len("```text link-test-vectors")
    block = text[start:text.index("```", start)]
    return {k.strip(): v.strip() for k, v in (l.split("=", 1) for l in block.splitlines() if "=" in l)}


def compute(v):
    x = lambda k: bytes.fromhex(v[k])
    si, sr = x("initiator_static_secret"), x("responder_static_secret")
    ei, er, psk, ts = x("initiator_ephemeral_secret"), x("responder_ephemeral_secret"), x("psk"), x("timestamp")
    ii, ri = int(v["initiator_index"], 16), int(v["responder_index"], 16)
    pi, pr = pub(si), pub(sr)
    out = {"initiator_public": pi, "responder_public": pr}
    mac1_r, mac1_i = H(LABEL_MAC1, pr), H(LABEL_MAC1, pi)
    out["mac1_key_to_responder"] = mac1_r
    out["cookie_key_of_responder"] = H(LABEL_COOKIE, pr)

    ck = H(CONSTRUCTION)
    h = H(ck, IDENTIFIER)
    out["initial_chaining_key"], out["initial_hash"] = ck, h
    h = H(h, pr)
    # Initiation: e, es, s, ss, timestamp.
    epi = pub(ei)
    h = H(h, epi); ck = KDF(ck, epi, 1)[0]
    ck, k = KDF(ck, DH(ei, pr), 2)
    enc_static = AEAD(k, 0, pi, h); h = H(h, enc_static)
    ck, k = KDF(ck, DH(si, pr), 2)
    enc_ts = AEAD(k, 0, ts, h); h = H(h, enc_ts)
    init = bytes([1, 0, 0, 0]) + struct.pack("<I", ii) + epi + enc_static + enc_ts
    init += MAC(mac1_r, init)
    out["initiation"] = init + b"\0" * 16
    # Response: e, ee, se, psk, empty.
    epr = pub(er)
    h = H(h, epr); ck = KDF(ck, epr, 1)[0]
    ck = KDF(ck, DH(er, epi), 1)[0]
    ck = KDF(ck, DH(er, pi), 1)[0]
    ck, t, k = KDF(ck, psk, 3); h = H(h, t)
    empty = AEAD(k, 0, b"", h)
    resp = bytes([2, 0, 0, 0]) + struct.pack("<II", ri, ii) + epr + empty
    out["response"] = resp + MAC(mac1_i, resp) + b"\0" * 16
    t_i2r, t_r2i = KDF(ck, b"", 2)
    out["key_initiator_to_responder"], out["key_responder_to_initiator"] = t_i2r, t_r2i
    payload = x("transport_payload")
    out["transport_initiator_to_responder"] = bytes([4, 0, 0, 0]) + struct.pack("<IQ", ri, 0) + AEAD(t_i2r, 0, payload, b"")
    out["keepalive_responder_to_initiator"] = bytes([4, 0, 0, 0]) + struct.pack("<IQ", ii, 0) + AEAD(t_r2i, 0, b"", b"")
    # Cookie for the source address, its reply, and mac2.
    host, port = v["cookie_source"].rsplit(":", 1)
    addr = ipaddress.ip_address(host.strip("[]")).packed + struct.pack(">H", int(port))
    cookie = MAC(x("cookie_secret"), addr)
    out["cookie"] = cookie
    nonce = x("cookie_nonce")
    mac1 = out["initiation"][116:132]
    out["cookie_reply"] = bytes([3, 0, 0, 0]) + struct.pack("<I", ii) + nonce + XAEAD(H(LABEL_COOKIE, pr), nonce, cookie, mac1)
    out["initiation_with_mac2"] = out["initiation"][:132] + MAC(cookie, out["initiation"][:132])
    return out


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "docs/PROTOCOL.md"
    v = read_block(path)
    bad = 0
    for name, value in compute(v).items():
        ok = v.get(name) == value.hex()
        bad += not ok
        print(("ok  " if ok else "BAD ") + name + ("" if ok else "\n  doc:    %s\n  python: %s" % (v.get(name), value.hex())))
    print("%d outputs, %d mismatches" % (len(compute(v)), bad))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
