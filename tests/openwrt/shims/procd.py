#!/usr/bin/env python3
"""Test model of procd (and of the shell half of procd.sh) for the OpenWrt
init script tests: the rules procd applies, taken from its service/
instance.c, service.c and trigger.c, with processes that are only pids.
State lives in $SHIM_ROOT/procd.json; every change is logged to
$SHIM_ROOT/procd.log. Commands:

  set OPS [add]       the service message procd.sh builds from the call
                      record OPS (tab-separated, one call a line) and sends
                      with `ubus call service set` (or `add`)
  delete NAME [INST]  `ubus call service delete` (procd_kill)
  event TYPE JSON     `ubus call service event`: a trigger event
  set_data JSON | get_data JSON | list [NAME]    the ubus methods
  exit NAME INST [RUNTIME_S]   the instance's process dies after RUNTIME_S
  tick [MS]           time passes (default 2000 ms): respawn timers and
                      trigger commands that are due run
  netdev add|del DEV  the kernel creates or deletes a device
  fw4 [--data-trigger]  registers the firewall service with fw4's triggers
                      (24.10: config.change only; 25.12 adds the data trigger)
  pids [NAME] / starts [NAME] / fw4-rules / fw4-reloads / notify   read-outs

The rules, as procd has them:
* `set` parses every instance anew: the md5 of each `file` and the ifindex
  of each `netdev` are taken now (a missing file or device counts as zero);
  a new instance with data fires service.data.update for each data key.
* An existing instance that is running restarts only if its command, env,
  netdev, file checksums, respawn values, term_timeout, user/group, limits
  etc. differ (instance_config_changed: data and stdout/stderr are not
  compared); if only its data differs, data triggers fire. One that is not
  running (crashed out, halted) is started with the new config.
* Instances missing from a `set` are stopped and deleted; deleting an
  instance fires data triggers for its data.
* respawn: a death within threshold counts; once the count exceeds retry
  the instance stays, halted and *with its data*, and "instance.fail" is
  notified; otherwise it starts again after the timeout. The count is not
  reset by a later `set` (instance_config_move leaves it).
* get_data returns the data of every instance, running or not.
* Trigger commands with the same arguments coalesce while pending (a
  later event only extends the delay, 1000 ms from procd.sh).
"""
import hashlib
import json
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import uci  # noqa: E402

ROOT = os.environ.get("SHIM_ROOT", "")
STATE = os.path.join(ROOT, "procd.json")
LOG = os.path.join(ROOT, "procd.log")
NOTIFY = os.path.join(ROOT, "ubus-notify.log")

COMPARED = ["command", "env", "netdev", "file", "nice", "facility", "user", "group",
            "pidfile", "respawn_vals", "reload_signal", "term_timeout", "seccomp",
            "capabilities", "limits", "errors", "no_new_privs", "watchdog", "trace"]


def load():
    if os.path.exists(STATE):
        return json.load(open(STATE))
    return {"now": 0, "next_pid": 100, "next_ifindex": 10, "netdevs": {"lo": 1},
            "services": {}, "pending": [], "timers": [], "fw4": {"reloads": 0, "rules": []}}


def save(st):
    json.dump(st, open(STATE, "w"), indent=1, sort_keys=True)


def log(st, msg):
    with open(LOG, "a") as f:
        f.write("[%6d] %s\n" % (st["now"], msg))


def host_path(p):
    if ROOT and p.startswith("/") and not p.startswith(ROOT + "/"):
        return ROOT + p
    return p


def md5_of(p):
    try:
        return hashlib.md5(open(host_path(p), "rb").read()).hexdigest()
    except OSError:
        return "0" * 32


# --- procd.sh: the message built from the shell's calls ---------------------

def uci_get(path):
    conf = os.environ.get("SHIM_UCI_DIR", "/etc/config")
    u = uci.Uci(conf, os.path.join(conf, ".uci-staged"))
    out = []
    try:
        uci.run(u, ["get", path], out)
    except (uci.UciError, IndexError):
        return ""
    return out[0] if out else ""


def build_message(ops_file):
    msg = {"instances": {}, "triggers": []}
    cur = None          # the instance being built
    seq = 0
    stack = None        # json containers inside procd_open_data
    for line in open(ops_file):
        w = line.rstrip("\n").split("\t")
        op, a = w[0], w[1:]
        if op == "procd_open_service":
            msg["name"] = a[0]
            if len(a) > 1:
                msg["script"] = a[1]
        elif op == "procd_open_instance":
            seq += 1
            name = a[0] if a and a[0] else "instance%d" % seq
            cur = {}
            msg["instances"][name] = cur
        elif op in ("procd_set_param", "procd_append_param"):
            typ, vals = a[0], a[1:]
            append = op == "procd_append_param" and typ in cur
            if typ in ("env", "data", "limits"):
                t = cur[typ] if append else {}
                for v in vals:
                    k, _, val = v.partition("=")
                    t[k] = val
                cur[typ] = t
            elif typ in ("command", "netdev", "file", "respawn", "watch", "watchdog"):
                cur[typ] = (cur[typ] if append else []) + vals
            elif typ == "error":
                cur[typ] = (cur[typ] if append else []) + [vals[0] if vals else ""]
            elif typ in ("nice", "term_timeout"):
                cur[typ] = int(vals[0])
            elif typ in ("stdout", "stderr", "no_new_privs"):
                cur[typ] = vals[0] not in ("0", "")
            else:
                cur[typ] = vals[0] if vals else ""
        elif op == "procd_close_instance":
            if "respawn" in cur and not cur["respawn"]:
                cur["respawn"] = [uci_get("system.@service[0].respawn_threshold") or "3600",
                                  uci_get("system.@service[0].respawn_timeout") or "5",
                                  uci_get("system.@service[0].respawn_retry") or "5"]
            cur = None
        elif op == "procd_open_data":
            target = cur if cur is not None else msg
            target.setdefault("data", {})
            stack = [target["data"]]
        elif op == "procd_close_data":
            stack = None
        elif op in ("json_add_array", "json_add_object"):
            new = [] if op == "json_add_array" else {}
            top = stack[-1]
            if isinstance(top, list):
                top.append(new)
            else:
                top[a[0]] = new
            stack.append(new)
        elif op in ("json_close_array", "json_close_object"):
            stack.pop()
        elif op in ("json_add_string", "json_add_int", "json_add_boolean"):
            v = a[1] if len(a) > 1 else ""
            if op == "json_add_int":
                v = int(v)
            elif op == "json_add_boolean":
                v = v not in ("0", "")
            top = stack[-1]
            if isinstance(top, list):
                top.append(v)
            else:
                top[a[0]] = v
        elif op == "procd_add_reload_trigger":
            for pkg in a:
                msg["triggers"].append(["config.change", "package", pkg,
                                        ["/etc/init.d/%s" % msg["name"], "reload"], 1000])
        elif op == "procd_add_reload_data_trigger":
            for name in a:
                msg["triggers"].append(["service.data.update", "name", name,
                                        ["/etc/init.d/%s" % msg["name"], "reload"], 1000])
    return msg


# --- procd -------------------------------------------------------------------

def parse_instance(st, name, blob):
    """instance_init + instance_config_parse: what procd keeps of a blob."""
    ins = {"name": name, "valid": bool(blob.get("command")),
           "command": blob.get("command"), "env": blob.get("env", {}),
           "netdev": [[d, st["netdevs"].get(d, 0)] for d in blob.get("netdev", [])],
           "file": [[f, md5_of(f)] for f in blob.get("file", [])],
           "data": blob.get("data", {}), "term_timeout": blob.get("term_timeout", 5),
           "respawn": "respawn" in blob}
    r = [int(x) for x in blob.get("respawn", [])] if "respawn" in blob else []
    r += [3600, 5, 5][len(r):] if "respawn" in blob else []
    ins["respawn_vals"] = r[:3] if r else [0, 0, 0]
    for k in ("nice", "facility", "user", "group", "pidfile", "reload_signal", "seccomp",
              "capabilities", "limits", "errors", "no_new_privs", "watchdog", "trace"):
        ins[k] = blob.get(k)
    return ins


def data_trigger(st, data):
    for key in data:
        trigger_event(st, "service.data.update", {"name": key})


def start(st, svc, ins):
    if ins.get("running"):
        if ins.get("halt"):
            ins["restart"] = True
        return
    ins["restart"] = ins["halt"] = False
    if not ins["valid"]:
        return
    ins["pid"] = st["next_pid"]
    st["next_pid"] += 1
    ins["running"] = True
    ins["started_at"] = st["now"]
    ins["starts"] = ins.get("starts", 0) + 1
    log(st, "start %s::%s pid %d" % (svc["name"], ins["name"], ins["pid"]))


def delete_instance(st, svc, ins):
    log(st, "delete %s::%s" % (svc["name"], ins["name"]))
    data_trigger(st, ins["data"])
    svc["instances"].pop(ins["name"], None)


def stop(st, svc, ins, halt):
    if not ins.get("running"):
        if halt:
            delete_instance(st, svc, ins)
        return
    # SIGTERM; the model's processes exit at once.
    log(st, "stop %s::%s pid %d" % (svc["name"], ins["name"], ins["pid"]))
    ins["running"] = False
    if halt:
        delete_instance(st, svc, ins)


def move(old, new):
    keep = {k: old[k] for k in ("running", "pid", "halt", "restart", "respawn_count",
                                "started_at", "starts") if k in old}
    old.clear()
    old.update(new)
    old.update(keep)


def changed(old, new):
    if not old.get("valid"):
        return True
    return any(old.get(k) != new.get(k) for k in COMPARED)


def update(st, svc, old, new):
    ch = changed(old, new)
    running, stopping = old.get("running"), old.get("halt")
    if not running or stopping:
        move(old, new)
        start(st, svc, old)
    else:
        if ch:
            log(st, "restart %s::%s pid %d" % (svc["name"], old["name"], old["pid"]))
            old["running"] = False
            move(old, new)
            start(st, svc, old)
            return
        if old["data"] != new["data"]:
            data_trigger(st, old["data"])
            data_trigger(st, new["data"])
        move(old, new)


def service_set(st, msg, add):
    name = msg["name"]
    svc = st["services"].get(name)
    if svc is None:
        svc = st["services"][name] = {"name": name, "instances": {}, "triggers": [], "data": {}}
    if msg.get("triggers") is not None:
        svc["triggers"] = msg["triggers"]
    if msg.get("instances") is not None:
        seen = set()
        for iname, blob in msg["instances"].items():
            new = parse_instance(st, iname, blob)
            data_trigger(st, new["data"])          # instance_init
            seen.add(iname)
            if iname in svc["instances"]:
                update(st, svc, svc["instances"][iname], new)
            else:
                svc["instances"][iname] = new
                start(st, svc, new)
        if not add:
            for iname in [n for n in svc["instances"] if n not in seen]:
                stop(st, svc, svc["instances"][iname], True)
    if "data" in msg and msg["data"] != svc["data"]:
        data_trigger(st, svc["data"])
        svc["data"] = msg["data"]
        data_trigger(st, svc["data"])


def service_delete(st, name, inst=None):
    svc = st["services"].get(name)
    if not svc:
        return
    if inst:
        if inst in svc["instances"]:
            stop(st, svc, svc["instances"][inst], True)
        return
    for iname in list(svc["instances"]):
        stop(st, svc, svc["instances"][iname], True)
    del st["services"][name]


def instance_exit(st, name, inst, runtime):
    svc = st["services"][name]
    ins = svc["instances"][inst]
    assert ins.get("running"), "%s::%s is not running" % (name, inst)
    log(st, "exit %s::%s pid %d after %d s" % (name, inst, ins["pid"], runtime))
    ins["running"] = False
    if ins.get("halt"):
        if ins.get("restart"):
            start(st, svc, ins)
        else:
            delete_instance(st, svc, ins)
    elif ins.get("restart"):
        start(st, svc, ins)
    elif ins.get("respawn"):
        threshold, timeout, retry = ins["respawn_vals"]
        if runtime < threshold:
            ins["respawn_count"] = ins.get("respawn_count", 0) + 1
        else:
            ins["respawn_count"] = 0
        note = {"service": name, "instance": inst, "pid": ins["pid"], "exit_code": 1,
                "respawn_count": ins["respawn_count"], "command": ins["command"]}
        if ins["respawn_count"] > retry and retry > 0:
            log(st, "%s::%s in a crash loop: %d crashes; not respawned"
                % (name, inst, ins["respawn_count"]))
            ins["restart"] = ins["respawn"] = False
            ins["halt"] = True
            notify(st, "instance.fail", note)
        else:
            notify(st, "instance.respawn", note)
            st["timers"].append([st["now"] + timeout * 1000, name, inst])


def notify(st, kind, msg):
    # The line `ubus subscribe service` prints for it.
    with open(NOTIFY, "a") as f:
        f.write('{ "%s": %s }\n' % (kind, json.dumps(msg, separators=(",", ":"))))


def trigger_event(st, typ, data):
    for svc in st["services"].values():
        for ttype, key, value, cmd, delay in svc["triggers"]:
            if ttype != typ or data.get(key) != value:
                continue
            for p in st["pending"]:
                if p[1] == cmd:
                    if p[0] - st["now"] < delay:
                        p[0] = st["now"] + delay
                    break
            else:
                st["pending"].append([st["now"] + delay, cmd])


def get_data(st, name=None, inst=None, typ=None):
    out = {}
    for sname, svc in sorted(st["services"].items()):
        if name and name != sname:
            continue
        d = {k: v for k, v in svc["data"].items() if not typ or k == typ}
        if d:
            out.setdefault(sname, {})["*"] = d
        for iname, ins in svc["instances"].items():
            if inst and inst != iname:
                continue
            d = {k: v for k, v in ins["data"].items() if not typ or k == typ}
            if d:
                out.setdefault(sname, {})[iname] = d
    return out


def fw4_reload(st):
    """fw4 reload: the rules from `ubus call service get_data {type:firewall}`."""
    rules = []
    for sname, insts in get_data(st, typ="firewall").items():
        for iname, d in insts.items():
            for r in d.get("firewall", []):
                rules.append("%s[%s] %s %s/%s" % (sname, iname, r.get("name", "-"),
                                                   r.get("dest_port", "-"), r.get("proto", "-")))
    st["fw4"]["reloads"] += 1
    st["fw4"]["rules"] = sorted(rules)
    log(st, "fw4 reload #%d: %s" % (st["fw4"]["reloads"], ", ".join(st["fw4"]["rules"]) or "none"))


def tick(st, ms):
    end = st["now"] + ms
    while True:
        due = [t[0] for t in st["timers"] if t[0] <= end] + [p[0] for p in st["pending"] if p[0] <= end]
        if not due:
            break
        st["now"] = max(st["now"], min(due))
        for t in [t for t in st["timers"] if t[0] <= st["now"]]:
            st["timers"].remove(t)
            svc = st["services"].get(t[1])
            ins = svc and svc["instances"].get(t[2])
            if ins and not ins.get("halt") and (ins.get("restart") or ins.get("respawn")):
                start(st, svc, ins)
        for p in [p for p in st["pending"] if p[0] <= st["now"]]:
            st["pending"].remove(p)
            if p[1] == ["/etc/init.d/firewall", "reload"]:
                fw4_reload(st)
            else:
                log(st, "trigger runs: %s" % " ".join(p[1]))
                with open(os.path.join(ROOT, "triggered.log"), "a") as f:
                    f.write(" ".join(p[1]) + "\n")
    st["now"] = end


def main(argv):
    st = load()
    cmd, a = argv[0], argv[1:]
    if cmd == "set":
        service_set(st, build_message(a[0]), len(a) > 1 and a[1] == "add")
    elif cmd == "delete":
        service_delete(st, a[0], a[1] if len(a) > 1 and a[1] else None)
    elif cmd == "event":
        log(st, "event %s %s" % (a[0], a[1]))
        trigger_event(st, a[0], json.loads(a[1]))
    elif cmd == "set_data":
        m = json.loads(a[0])
        svc = st["services"].get(m["name"])
        if not svc:
            print("Command failed: Not found", file=sys.stderr)
            return 4
        if m.get("instance"):
            ins = svc["instances"].get(m["instance"])
            if not ins:
                print("Command failed: Not found", file=sys.stderr)
                return 4
            ins["data"] = m["data"]        # no data trigger, as in procd
            log(st, "set_data %s::%s %s" % (m["name"], m["instance"], json.dumps(m["data"])))
        else:
            data_trigger(st, svc["data"])
            svc["data"] = m["data"]
            data_trigger(st, svc["data"])
    elif cmd == "get_data":
        m = json.loads(a[0]) if a else {}
        print(json.dumps(get_data(st, m.get("name"), m.get("instance"), m.get("type"))))
    elif cmd == "list":
        out = {}
        for sname, svc in st["services"].items():
            if a and a[0] != sname:
                continue
            out[sname] = {"instances": {n: dict({"running": bool(i.get("running"))},
                                                **({"pid": i["pid"]} if i.get("running") else {}))
                                        for n, i in svc["instances"].items()}}
        print(json.dumps(out))
    elif cmd == "exit":
        instance_exit(st, a[0], a[1], int(a[2]) if len(a) > 2 else 0)
    elif cmd == "tick":
        tick(st, int(a[0]) if a else 2000)
    elif cmd == "netdev":
        if a[0] == "add":
            st["netdevs"][a[1]] = st["next_ifindex"]
            st["next_ifindex"] += 1
        else:
            st["netdevs"].pop(a[1], None)
        log(st, "netdev %s %s" % (a[0], a[1]))
    elif cmd == "fw4":
        trig = [["config.change", "package", "firewall", ["/etc/init.d/firewall", "reload"], 1000]]
        if "--data-trigger" in a:
            trig.append(["service.data.update", "name", "firewall",
                         ["/etc/init.d/firewall", "reload"], 1000])
        st["services"]["firewall"] = {"name": "firewall", "instances": {}, "triggers": trig,
                                      "data": {}}
    elif cmd in ("pids", "starts"):
        for sname, svc in sorted(st["services"].items()):
            if a and a[0] != sname:
                continue
            for n, i in sorted(svc["instances"].items()):
                if cmd == "pids":
                    print("%s=%s" % (n, i["pid"] if i.get("running") else "-"))
                else:
                    print("%s=%d" % (n, i.get("starts", 0)))
    elif cmd == "fw4-rules":
        for r in st["fw4"]["rules"]:
            print(r)
    elif cmd == "fw4-reloads":
        print(st["fw4"]["reloads"])
    else:
        print("procd.py: unknown command %s" % cmd, file=sys.stderr)
        return 2
    save(st)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
