#!/usr/bin/env python3
"""Test stand-in for OpenWrt's `uci` command line tool (libuci's rules, the
subset the package's scripts use), for machines without libuci:

    uci [-q] [-c CONFDIR] [-p|-P SAVEDIR] COMMAND ...
    get PKG.SEC[.OPT]      show [PKG[.SEC[.OPT]]]     export PKG
    set PKG.SEC=TYPE       set PKG.SEC.OPT=VALUE      add PKG TYPE
    add_list PKG.SEC.OPT=VALUE   del_list ...   delete PKG.SEC[.OPT]
    commit [PKG]  revert PKG  changes  batch (commands on stdin)

As with libuci, changes are staged (in SAVEDIR, default $SHIM_UCI_SAVEDIR or
CONFDIR/.uci-staged) and seen by get/show until `commit` writes the file in
libuci's export format. Sections are addressed by name or as @TYPE[N]
(N < 0 counts from the end); `show` names unnamed sections @TYPE[N], N
counting every section of that type, named or not, as libuci does. The
tests compare `show` with `ipop uci show`, whose output matches libuci's on
the recorded cases in tests/fixtures/uci.
"""
import json
import os
import re
import sys

SECTION_RE = re.compile(r"^[A-Za-z0-9_]+$")


class UciError(Exception):
    pass


def tokenize(line_iter):
    """Yields the tokens of each logical line (libuci's quoting: '..'
    literal, ".." and bare words with backslash escapes, pieces that touch
    concatenate, # starts a comment, a trailing backslash continues)."""
    pending = ""
    for raw in line_iter:
        raw = raw.rstrip("\n").rstrip("\r")
        if raw.endswith("\\") and not raw.endswith("\\\\"):
            pending += raw[:-1]
            continue
        line = pending + raw
        pending = ""
        toks, cur, have, i, n = [], "", False, 0, len(line)
        while i < n:
            c = line[i]
            if c in " \t":
                if have:
                    toks.append(cur)
                cur, have = "", False
                i += 1
            elif c == "#":
                break
            elif c == "'":
                j = line.find("'", i + 1)
                if j < 0:
                    raise UciError("unterminated '")
                cur += line[i + 1:j]
                have = True
                i = j + 1
            elif c == '"':
                i += 1
                while i < n and line[i] != '"':
                    if line[i] == "\\" and i + 1 < n:
                        i += 1
                    cur += line[i]
                    i += 1
                if i >= n:
                    raise UciError('unterminated "')
                have = True
                i += 1
            elif c == "\\" and i + 1 < n:
                cur += line[i + 1]
                have = True
                i += 2
            else:
                cur += c
                have = True
                i += 1
        if have:
            toks.append(cur)
        if toks:
            yield toks


def parse(text):
    sections = []
    for toks in tokenize(text.splitlines()):
        kw = toks[0]
        if kw == "package":
            continue
        if kw == "config":
            if len(toks) not in (2, 3):
                raise UciError("bad config line")
            name = toks[2] if len(toks) == 3 else None
            sections.append({"type": toks[1], "name": name, "options": []})
        elif kw in ("option", "list"):
            if not sections or len(toks) != 3:
                raise UciError("bad %s line" % kw)
            opts = sections[-1]["options"]
            found = [o for o in opts if o[0] == toks[1]]
            if kw == "option":
                if found:
                    found[0][1] = toks[2]
                else:
                    opts.append([toks[1], toks[2]])
            else:
                if found and isinstance(found[0][1], list):
                    found[0][1].append(toks[2])
                elif found:
                    found[0][1] = [found[0][1], toks[2]]
                else:
                    opts.append([toks[1], [toks[2]]])
        else:
            raise UciError("unknown keyword %s" % kw)
    return sections


def quote(v):
    return "'" + v.replace("'", "'\\''") + "'"


def export(sections):
    out = []
    for s in sections:
        out.append("\nconfig %s%s\n" % (s["type"], " " + quote(s["name"]) if s["name"] else ""))
        for name, val in s["options"]:
            if isinstance(val, list):
                for v in val:
                    out.append("\tlist %s %s\n" % (name, quote(v)))
            else:
                out.append("\toption %s %s\n" % (name, quote(val)))
    out.append("\n")
    return "".join(out)


class Uci:
    def __init__(self, confdir, savedir):
        self.confdir, self.savedir = confdir, savedir
        self.pkgs = {}

    def _staged(self, pkg):
        return os.path.join(self.savedir, pkg + ".json")

    def load(self, pkg):
        if pkg in self.pkgs:
            return self.pkgs[pkg]
        if not re.match(r"^[A-Za-z0-9_-]+$", pkg):
            raise UciError("Invalid argument")
        st = self._staged(pkg)
        if os.path.exists(st):
            secs = json.load(open(st))
        else:
            path = os.path.join(self.confdir, pkg)
            if not os.path.isfile(path):
                raise UciError("Entry not found")
            secs = parse(open(path).read())
        self.pkgs[pkg] = secs
        return secs

    def stage(self, pkg):
        os.makedirs(self.savedir, exist_ok=True)
        json.dump(self.pkgs[pkg], open(self._staged(pkg), "w"))

    def commit(self, pkg):
        # Nothing staged: libuci leaves the file as it is.
        if not os.path.exists(self._staged(pkg)):
            return
        secs = self.load(pkg)
        with open(os.path.join(self.confdir, pkg), "w") as f:
            f.write(export(secs))
        if os.path.exists(self._staged(pkg)):
            os.unlink(self._staged(pkg))

    def revert(self, pkg):
        self.pkgs.pop(pkg, None)
        if os.path.exists(self._staged(pkg)):
            os.unlink(self._staged(pkg))

    @staticmethod
    def index(secs, ref):
        m = re.match(r"^@([A-Za-z0-9_-]+)\[(-?\d+)\]$", ref)
        if m:
            of_type = [i for i, s in enumerate(secs) if s["type"] == m.group(1)]
            n = int(m.group(2))
            try:
                return of_type[n]
            except IndexError:
                return None
        for i, s in enumerate(secs):
            if s["name"] == ref:
                return i
        # libuci names unnamed sections cfgNNXXXX on load; accept ours.
        for i, s in enumerate(secs):
            if s["name"] is None and anon_name(i) == ref:
                return i
        return None

    def split(self, path):
        parts = path.split(".", 2)
        secs = self.load(parts[0])
        return parts[0], secs, parts[1:] if len(parts) > 1 else []


def anon_name(i):
    return "cfg%02x%04x" % (i + 1, 0x1234)


def show_ref(secs, i):
    s = secs[i]
    if s["name"]:
        return s["name"]
    n = [j for j, t in enumerate(secs) if t["type"] == s["type"]].index(i)
    return "@%s[%d]" % (s["type"], n)


def show_lines(pkg, secs, only_sec=None, only_opt=None):
    out = []
    for i, s in enumerate(secs):
        if only_sec is not None and i != only_sec:
            continue
        ref = "%s.%s" % (pkg, show_ref(secs, i))
        if only_opt is None:
            out.append("%s=%s" % (ref, s["type"]))
        for name, val in s["options"]:
            if only_opt is not None and name != only_opt:
                continue
            v = " ".join(quote(x) for x in val) if isinstance(val, list) else quote(val)
            out.append("%s.%s=%s" % (ref, name, v))
    return out


def run(u, argv, out):
    if not argv:
        raise UciError("no command")
    cmd, args = argv[0], argv[1:]
    if cmd == "get":
        pkg, secs, rest = u.split(args[0])
        if not rest:
            raise UciError("Invalid argument")
        i = u.index(secs, rest[0])
        if i is None:
            raise UciError("Entry not found")
        if len(rest) == 1:
            out.append(secs[i]["type"])
            return
        for name, val in secs[i]["options"]:
            if name == rest[1]:
                out.append(" ".join(val) if isinstance(val, list) else val)
                return
        raise UciError("Entry not found")
    if cmd == "show":
        if not args:
            pkgs = sorted(p for p in os.listdir(u.confdir) if not p.startswith("."))
            for p in pkgs:
                out.extend(show_lines(p, u.load(p)))
            return
        pkg, secs, rest = u.split(args[0])
        if not rest:
            out.extend(show_lines(pkg, secs))
            return
        i = u.index(secs, rest[0])
        if i is None:
            raise UciError("Entry not found")
        lines = show_lines(pkg, secs, i, rest[1] if len(rest) > 1 else None)
        if not lines:
            raise UciError("Entry not found")
        out.extend(lines)
        return
    if cmd == "export":
        out.append(export(u.load(args[0])).rstrip("\n"))
        return
    if cmd in ("set", "add_list", "del_list"):
        if "=" not in args[0]:
            raise UciError("Invalid argument")
        path, value = args[0].split("=", 1)
        pkg, secs, rest = u.split(path)
        if not rest:
            raise UciError("Invalid argument")
        i = u.index(secs, rest[0])
        if len(rest) == 1:
            if cmd != "set" or not SECTION_RE.match(value) or not SECTION_RE.match(rest[0]):
                raise UciError("Invalid argument")
            if i is None:
                secs.append({"type": value, "name": rest[0], "options": []})
            else:
                secs[i]["type"] = value
            u.stage(pkg)
            return
        if i is None:
            raise UciError("Entry not found")
        if not SECTION_RE.match(rest[1]):
            raise UciError("Invalid argument")
        opts = secs[i]["options"]
        found = [o for o in opts if o[0] == rest[1]]
        if cmd == "set":
            if found:
                found[0][1] = value
            else:
                opts.append([rest[1], value])
        elif cmd == "add_list":
            if found and isinstance(found[0][1], list):
                found[0][1].append(value)
            elif found:
                found[0][1] = [found[0][1], value]
            else:
                opts.append([rest[1], [value]])
        else:
            if found and isinstance(found[0][1], list):
                found[0][1] = [v for v in found[0][1] if v != value]
        u.stage(pkg)
        return
    if cmd == "add":
        pkg, secs, _ = u.split(args[0])
        if len(args) != 2 or not SECTION_RE.match(args[1]):
            raise UciError("Invalid argument")
        secs.append({"type": args[1], "name": None, "options": []})
        u.stage(pkg)
        out.append(anon_name(len(secs) - 1))
        return
    if cmd == "delete":
        pkg, secs, rest = u.split(args[0])
        i = u.index(secs, rest[0]) if rest else None
        if i is None:
            raise UciError("Entry not found")
        if len(rest) == 1:
            del secs[i]
        else:
            opts = secs[i]["options"]
            if not any(o[0] == rest[1] for o in opts):
                raise UciError("Entry not found")
            secs[i]["options"] = [o for o in opts if o[0] != rest[1]]
        u.stage(pkg)
        return
    if cmd == "commit":
        pkgs = [args[0]] if args else [f[:-5] for f in os.listdir(u.savedir)
                                       if f.endswith(".json")] if os.path.isdir(u.savedir) else []
        for p in pkgs:
            u.commit(p)
        return
    if cmd == "revert":
        u.revert(args[0])
        return
    if cmd == "changes":
        return
    if cmd == "batch":
        for toks in tokenize(sys.stdin):
            if toks == ["quit"]:
                break
            run(u, toks, out)
        return
    raise UciError("unknown command %s" % cmd)


def main(argv):
    quiet = False
    confdir = os.environ.get("UCI_CONFIG_DIR") or os.environ.get("SHIM_UCI_DIR", "/etc/config")
    savedir = os.environ.get("SHIM_UCI_SAVEDIR")
    while argv and argv[0].startswith("-") and len(argv[0]) == 2:
        o = argv.pop(0)
        if o == "-q":
            quiet = True
        elif o == "-c":
            confdir = argv.pop(0)
        elif o in ("-p", "-P"):
            savedir = argv.pop(0)
        elif o in ("-X", "-n", "-N", "-S", "-f", "-m", "-d", "-t", "-s"):
            if o in ("-f", "-d", "-t"):
                argv.pop(0)
        else:
            break
    u = Uci(confdir, savedir or os.path.join(confdir, ".uci-staged"))
    out = []
    try:
        run(u, argv, out)
    except (UciError, IndexError) as e:
        for line in out:
            print(line)
        if not quiet:
            print("uci: %s" % (e if isinstance(e, UciError) else "Invalid argument"), file=sys.stderr)
        return 1
    for line in out:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
