#!/usr/bin/env python3
"""Generates random UCI files that stress libuci's quoting rules and, with
OpenWrt's real `uci` (uci-show), records how libuci reads each one.

    gen_uci_cases.py OUTDIR COUNT SEED [UCI_SHOW]

Writes OUTDIR/NNN.uci and, when UCI_SHOW is given, OUTDIR/NNN.expect:
"ok" + the `uci show ipop` output, or "error" + libuci's message.
The same SEED always gives the same files."""
import os
import random
import subprocess
import sys

VALUE_CHARS = "abcXYZ019 _-.:@/\t'\"\\#;$%é"


def word(rng, chars, n):
    return "".join(rng.choice(chars) for _ in range(rng.randint(0, n)))


def quoted(rng, text):
    """Writes `text` in one of libuci's quoting styles (or a deliberately
    odd one), possibly split into touching pieces."""
    style = rng.random()
    if style < 0.3:
        return "'" + text.replace("'", "'\\''") + "'"
    if style < 0.55:
        out = ""
        for c in text:
            out += "\\" + c if c in "\"\\" or (c == "$" and rng.random() < 0.5) else c
        return '"' + out + '"'
    if style < 0.75:
        out = ""
        for c in text:
            if c in " \t'\"\\#;" or rng.random() < 0.1:
                out += "\\" + c
            else:
                out += c
        return out
    if style < 0.9 and len(text) > 1:
        cut = rng.randint(1, len(text) - 1)
        return quoted(rng, text[:cut]) + quoted(rng, text[cut:])
    if rng.random() < 0.7:
        return "'" + text.replace("'", "'\\''") + "'"
    # raw: whatever the characters do
    return text


def name(rng):
    if rng.random() < 0.97:
        return rng.choice(["a", "b", "ip4", "stun", "x_1", "enabled", "Opt9"])
    return word(rng, "ab-.$9", 4)


def line(rng):
    r = rng.random()
    ws = rng.choice([" ", "\t", "  ", " \t"])
    if r < 0.15:
        kw = rng.choice(["config"] * 8 + ["c"]) if rng.random() > 0.03 else "conf"
        parts = [kw, quoted(rng, rng.choice(["overlay", "overlay", "ipop", "a-b", "t.x", "x y"]))]
        if rng.random() < 0.7:
            parts.append(quoted(rng, rng.choice(["outer", "inner", "o1", "", "cfg"] * 6 + ["bad-name"])))
        return ws.join(parts)
    if r < 0.8:
        kw = rng.choice(["option"] * 5 + ["list"] * 4 + ["o", "l"]) if rng.random() > 0.03 else "opt"
        parts = [kw, quoted(rng, name(rng)), quoted(rng, word(rng, VALUE_CHARS, 8))]
        if rng.random() < 0.05:
            parts.append(quoted(rng, "extra"))
        return ws.join(parts)
    if r < 0.85:
        return "# " + word(rng, VALUE_CHARS, 10)
    if r < 0.9:
        return ""
    if r < 0.93:
        return "package " + quoted(rng, rng.choice(["ipop", "a-b", "ipop", "x y"]))
    if r < 0.96:
        return ws.join(["option", "a", quoted(rng, "v")]) + " ; " + ws.join(["list", "b", quoted(rng, "w")])
    return ws.join(["option", "a", "v\\"])  # continuation


def case(rng):
    lines = ["config overlay 'first'"] if rng.random() < 0.95 else []
    for _ in range(rng.randint(1, 12)):
        lines.append(rng.choice(["", "\t", "  "]) + line(rng) + (" # c" if rng.random() < 0.1 else ""))
    text = "\n".join(lines)
    if rng.random() < 0.9:
        text += "\n"
    if rng.random() < 0.05:
        text = text.replace("\n", "\r\n")
    return text


def main():
    out, count, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    oracle = sys.argv[4] if len(sys.argv) > 4 else None
    rng = random.Random(seed)
    os.makedirs(out, exist_ok=True)
    for i in range(count):
        path = os.path.join(out, "%03d.uci" % i)
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(case(rng))
        if oracle:
            p = subprocess.run([oracle, path], capture_output=True)
            with open(os.path.join(out, "%03d.expect" % i), "wb") as f:
                if p.returncode == 0:
                    f.write(b"ok\n" + p.stdout)
                else:
                    f.write(b"error\n" + p.stderr)


main()
