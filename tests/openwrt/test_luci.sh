#!/usr/bin/env bash
# Checks luci-app-ipop without a router: JS syntax of every view, each view
# loaded the way LuCI loads it (stand-ins record the form's options and the
# status page's output), menu.d/acl.d JSON against LuCI's schema, and the
# rpcd plugin's JSON for a sample config with a stand-in ipop.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
app=openwrt/luci-app-ipop
views=$app/htdocs/luci-static/resources/view/ipop
work=$(mktemp -d /tmp/ipop-openwrt-luci.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
command -v node >/dev/null || fail "node is needed (apt-get install nodejs)"

# --- 1. syntax ---
n=0
while IFS= read -r f; do
	node --check "$f" || fail "$f: syntax"
	n=$((n + 1))
done < <(find "$app" -name '*.js' | sort)
[ "$n" = 2 ] || fail "expected 2 JS views, found $n"
echo "ok: node --check on $n JS files"

# --- 2. the overlays form: every option, once, in the expected tab ---
node tests/openwrt/luci_harness.js overlays $views/overlays.js > "$work/form.json"
python3 - "$work/form.json" src/config/keys.rs <<'PY'
import json, re, sys, os
form = json.load(open(sys.argv[1]))
assert form["map"] == "ipop", form["map"]
assert form["sections"] == [{"cls": "GridSection", "type": "overlay",
    "tabs": ["general", "xmpp", "links", "topology", "advanced"],
    "anonymous": False, "addremove": True}], form["sections"]
opts = {o["name"]: o for o in form["options"]}
names = [o["name"] for o in form["options"]]
dups = {n for n in names if names.count(n) > 1}
assert not dups, f"options declared twice: {dups}"
expected = {
 "general": ["enabled", "tap_name", "ip4", "ip4_mask", "switchmode", "bridge", "mtu", "mss_clamp", "listen_port", "vpn_type"],
 "xmpp": ["xmpp_username", "xmpp_password", "xmpp_host", "xmpp_port", "xmpp_ca_file", "xmpp_pinned_cert", "xmpp_insecure"],
 "links": ["network_ignore_list", "stun", "turn", "static_peer", "group_secret", "group_secret_next",
           "group_secret_grace", "revoked_key", "operator_key"],
 "topology": ["sec", "num_successors", "num_chords", "num_on_demand", "num_inbound", "ttl_link_initial",
              "ttl_link_pulse", "ttl_chord", "ttl_on_demand", "threshold_on_demand", "timer_interval",
              "interval_management", "num_pings", "interval_ping"],
 "advanced": ["board", "ip6_prefix", "ip6_mask", "subnet_mask", "key_file", "control_socket",
              "controller_logging", "tincan_logging"],
}
got = {}
for o in form["options"]:
    got.setdefault(o["tab"], []).append(o["name"])
assert got == expected, f"options per tab differ:\n got {got}\nwant {expected}"
# Secrets are password fields; lists are DynamicLists; checks on key values.
for n in ["xmpp_password", "group_secret", "group_secret_next"]:
    assert opts[n]["password"], n
for n in ["network_ignore_list", "stun", "turn", "static_peer", "revoked_key"]:
    assert opts[n]["type"] == "DynamicList", n
assert opts["ip4"]["datatype"] == 'ip4addr("nomask")'
assert opts["listen_port"]["datatype"] == "port"
assert opts["mtu"]["datatype"] == "range(576,9000)"
assert opts["switchmode"]["values"] == ["0", "1"]
boards = sorted(f[:-5] for f in os.listdir("boards") if f.endswith(".conf"))
assert sorted(opts["board"]["values"]) == sorted([""] + boards), opts["board"]["values"]
print(f"ok: overlays form declares {len(names)} options in 5 tabs; boards {boards}")
# Every UCI option ipop honours (the config key table) has a field in the form.
if os.path.exists(sys.argv[2]):
    src = open(sys.argv[2]).read()
    # key!("Section", "json", field [as "uci_name"], Ty[, Some(why) = ignored])
    rows = re.findall(r'key!\(\s*"[^"]+",\s*"[^"]+",\s*(\w+)(?:\s+as\s+"(\w+)")?,([^\n]*)', src)
    honoured = [uci or field for field, uci, rest in rows if "Some(" not in rest]
    assert len(honoured) >= 30, f"could not read the key table ({len(honoured)} keys)"
    missing = [k for k in honoured if k not in opts]
    assert not missing, f"UCI options missing from the LuCI form: {missing}"
    extra = [n for n in names if n not in honoured and n != "enabled"]
    assert not extra, f"LuCI options ipop does not know: {extra}"
    print(f"ok: the form covers all {len(honoured)} honoured keys of src/config/keys.rs")
else:
    print("note: src/config/keys.rs absent; key-table cross-check not available")
PY

# --- 3. the status view renders what the rpcd plugin returns ---
cat > "$work/status.json" <<'JSON'
{"overlays": [
  {"name": "outer", "enabled": true, "status": {"uid": "25c9651c297fef3", "ip4": "192.168.1.100",
   "tap": "tunnel-tap", "uptime_s": 90061, "switchmode": false, "drops": {"replay": 0, "bad_mac": 3},
   "peers": [{"uid": "aa01", "ip4": "192.168.1.101", "state": "connected", "path_mtu": 1400, "path_mtu_searching": false},
             {"uid": "aa02", "ip4": "192.168.1.102", "state": "trying", "rtt_ms": 12, "path_mtu": 1200, "path_mtu_searching": true}]}},
  {"name": "inner", "enabled": true, "status": {"error": "not running"}},
  {"name": "lab", "enabled": false, "status": {"error": "not running"}}],
 "services": {"instances": {"outer": {"running": true}}}}
JSON
node tests/openwrt/luci_harness.js status $views/status.js "$work/status.json" > "$work/page"
cat > "$work/expected" <<'PAGE'
{"declares":[{"object":"luci.ipop","method":"status","expect":{"overlays":[]}},{"object":"service","method":"list","params":["name"],"expect":{"ipop":{}}}],"polls":[5]}
IPOP statusEach overlay's identity, TAP device and peers, refreshed every 5 seconds.
outer (running)
|uid|25c9651c297fef3
|ip4|192.168.1.100
|tap|tunnel-tap
|switchmode|routed (L3)
|uptime_s|1d 01:01:01
|drops|bad_mac 3
Peers
|uid|ip4|state|path_mtu|rtt_ms
|aa01|192.168.1.101|connected|1400|-
|aa02|192.168.1.102|trying|1200 (probing)|12
inner (not running)
No status: not running
lab (disabled)
No status: not running
PAGE
diff -u "$work/expected" "$work/page" || fail "status page differs"
echo "ok: status view renders overlays, peers, states"

# --- 4. menu.d and acl.d ---
python3 - $app/root/usr/share/luci/menu.d/luci-app-ipop.json \
	$app/root/usr/share/rpcd/acl.d/luci-app-ipop.json $views <<'PY'
import json, sys, os
menu = json.load(open(sys.argv[1]))
acl = json.load(open(sys.argv[2]))
views = sys.argv[3]
# menu.d schema (luci-base): path -> {title, order, action{type, path?}, depends?}
assert set(menu) == {"admin/vpn/ipop", "admin/vpn/ipop/overlays", "admin/vpn/ipop/status"}, set(menu)
for path, node in menu.items():
    assert set(node) <= {"title", "order", "action", "depends"}, (path, set(node))
    assert isinstance(node["title"], str) and node["title"], path
    assert isinstance(node["order"], int), path
    a = node["action"]
    assert a["type"] in ("firstchild", "view"), (path, a)
    if a["type"] == "view":
        js = os.path.join(views, "..", a["path"] + ".js")
        assert os.path.isfile(js), f"{path}: view {a['path']} has no file {js}"
root = menu["admin/vpn/ipop"]
assert root["action"] == {"type": "firstchild"}
assert root["depends"] == {"acl": ["luci-app-ipop"], "uci": {"ipop": True}}, root["depends"]
assert menu["admin/vpn/ipop/overlays"]["action"] == {"type": "view", "path": "ipop/overlays"}
assert menu["admin/vpn/ipop/status"]["action"] == {"type": "view", "path": "ipop/status"}
# acl.d schema (rpcd): group -> {description, read{uci, ubus}, write{uci}}
assert set(acl) == {"luci-app-ipop"}, set(acl)
g = acl["luci-app-ipop"]
assert set(g) == {"description", "read", "write"} and g["description"]
assert g["read"] == {"uci": ["ipop"], "ubus": {"service": ["list"], "luci.ipop": ["status"]}}, g["read"]
assert g["write"] == {"uci": ["ipop"]}, g["write"]
# The menu's ACL group exists.
for acl_name in root["depends"]["acl"]:
    assert acl_name in acl, acl_name
print("ok: menu.d and acl.d match LuCI's schema and each other")
PY

# --- 5. the rpcd plugin ---
plugin=$app/root/usr/libexec/rpcd/luci.ipop
[ -x $plugin ] || fail "rpcd plugin must be executable"
dash -n $plugin || fail "rpcd plugin syntax"
mkdir -p "$work/config" "$work/bin" "$work/lib"
cat > "$work/config/ipop" <<'UCI'
config overlay 'outer'
	option enabled '1'

config overlay 'inner'
	option enabled '1'

config overlay 'lab'
	option enabled '0'
UCI
# Stand-in ipop: a status for outer, failure for inner, garbage for lab.
cat > "$work/bin/ipop" <<'SH'
#!/bin/sh
[ "$1 $2 $3 $5" = "status --json --uci --uci-file" ] || { echo "bad args: $*" >&2; exit 2; }
case "$4" in
	outer) echo '{"uid":"25c9","tap":"tunnel-tap","peers":[]}' ;;
	inner) echo "ipop: cannot reach /var/run/ipop/ipop.sock" >&2; exit 1 ;;
	*) echo "garbage" ;;
esac
SH
chmod +x "$work/bin/ipop"
mkdir -p "$work/root/lib"
printf '. "%s"\n' "$repo/tests/openwrt/shims/functions.sh" > "$work/root/lib/functions.sh"
run_plugin() {
	SHIM_LOG="$work/log" SHIM_UCI_DIR="$work/config" SHIM_DIR="$repo/tests/openwrt/shims" \
		UCI_CONFIG_DIR="$work/config" IPKG_INSTROOT="$work/root" IPOP="${ipop_for_plugin:-$work/bin/ipop}" \
		dash $plugin "$@"
}
[ "$(run_plugin list)" = '{ "status": {} }' ] || fail "plugin list"
run_plugin call status < /dev/null > "$work/out"
python3 - "$work/out" <<'PY'
import json, sys
got = json.load(open(sys.argv[1]))
want = {"overlays": [
    {"name": "outer", "enabled": True, "status": {"uid": "25c9", "tap": "tunnel-tap", "peers": []}},
    {"name": "inner", "enabled": True, "status": {"error": "not running"}},
    {"name": "lab", "enabled": False, "status": {"error": "not running"}}]}
assert got == want, got
print("ok: rpcd plugin returns valid JSON for running, failed and garbage outputs")
PY
[ "$(run_plugin call nosuch < /dev/null)" = '{ "error": "unknown method" }' ] || fail "unknown method"

# The same plugin against a real `ipop run --uci` in a namespace (when the
# test has the binary and root): the status of a running node reaches LuCI.
if [ -n "${IPOP_BIN:-}" ] && [ -x "$IPOP_BIN" ] && [ "$(id -u)" = 0 ]; then
	ns="ipx-owrt-luci-$$"
	cat > "$work/config/ipop" <<UCI
config overlay 'outer'
	option enabled '1'
	option tap_name 'tunnel-tap'
	option ip4 '192.168.1.100'
	option ip4_mask '16'
	option xmpp_username 'node@ipop.test'
	option xmpp_password 'x'
	option xmpp_host '127.0.0.1'
	option xmpp_port '9'
	option key_file '$work/outer.key'
	option control_socket '$work/outer.sock'

config overlay 'inner'
	option enabled '0'
	option ip4 '10.0.3.100'
	option control_socket '$work/inner.sock'
UCI
	ip netns add "$ns"
	run_pid=""
	cleanup_live() {
		[ -n "$run_pid" ] && { kill -TERM "$run_pid" 2>/dev/null; wait "$run_pid" 2>/dev/null; }
		ip netns del "$ns" 2>/dev/null
		rm -rf "$work"
		return 0
	}
	trap cleanup_live EXIT
	ip netns exec "$ns" "$IPOP_BIN" run --uci outer --uci-file "$work/config/ipop" > "$work/run.log" 2>&1 &
	run_pid=$!
	for _ in $(seq 1 50); do [ -S "$work/outer.sock" ] && break; sleep 0.1; done
	ipop_for_plugin="$IPOP_BIN" run_plugin call status < /dev/null > "$work/real.json"
	python3 - "$work/real.json" <<'PY' || { cat "$work/run.log"; fail "plugin with a running ipop"; }
import json, sys
got = json.load(open(sys.argv[1]))["overlays"]
assert [o["name"] for o in got] == ["outer", "inner"], got
outer, inner = got
assert outer["enabled"] is True and inner["enabled"] is False, got
st = outer["status"]
assert "error" not in st, st
assert st["uid"] == "25c90651c297fef3cf787a191b93cce4c475c6b7", st
assert st["ip4"] == "192.168.1.100" and st["tap"] == "tunnel-tap" and st["mtu"] == 1280, st
assert st["peers"] == [], st
assert inner["status"] == {"error": "not running"}, inner
print("ok: rpcd plugin reports a running ipop's status (uid, tap, mtu, no peers)")
PY
	kill -TERM $run_pid
	rc=0; wait $run_pid || rc=$?
	run_pid=""
	[ $rc = 0 ] || fail "ipop run exit status $rc after SIGTERM"
else
	echo "note: no \$IPOP_BIN or not root; plugin not run against a live ipop"
fi

# --- 6. the package Makefile ---
for want in 'LUCI_DEPENDS:=+ipop +luci-base' 'LUCI_PKGARCH:=all' 'include $(TOPDIR)/feeds/luci/luci.mk'; do
	grep -qF -- "$want" $app/Makefile || fail "luci Makefile lacks $want"
done
echo "PASS test_luci.sh"
