# Harness for tests against real XMPP servers (source it).
#
#   xmpp_setup                      temp dir + self-signed cert for ipop.test
#   prosody_start PORT USER:PASS..  prosody on $XMPP_LISTEN:PORT (default 127.0.0.1), accounts
#   ejabberd_start PORT USER:PASS.. ejabberd on $XMPP_LISTEN:PORT (default 127.0.0.1), accounts
#   ejabberd_ctl ARGS..             ejabberdctl against our node
#   xmpp_config OUT USER PASS PORT [IP4] [extra CFx json]   a node config
#   xmpp_cleanup                    (trap EXIT) kill by PID, epmd only if ours
#
# Everything lives in $XMPP_DIR; servers run in the foreground as children.

set -u
XMPP_DOMAIN=ipop.test
XMPP_DIR=""
PROSODY_PID=""
EJABBERD_PID=""
EJABBERD_NODE="ipopxmpptest@localhost"
EPMD_OURS=0
XMPP_LISTEN=${XMPP_LISTEN:-127.0.0.1}

xmpp_log() { echo "[xmpp-test] $*" >&2; }

# XMPP_CERT_KIND=ec: a P-384 CA and a P-256 server key instead of RSA-2048,
# so both kinds of certificate chain meet a real server.
newkey() { # ca|server
    if [ "${XMPP_CERT_KIND:-rsa}" = ec ]; then
        [ "$1" = ca ] && echo "-newkey ec -pkeyopt ec_paramgen_curve:secp384r1" ||
            echo "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1"
    else
        echo "-newkey rsa:2048"
    fi
}

xmpp_setup() {
    XMPP_DIR=$(mktemp -d /tmp/ipx-xmpp.XXXXXX)
    chmod 755 "$XMPP_DIR"
    # A test CA (for xmpp_ca_file) and the server certificate it signs
    # (for the servers and xmpp_pinned_cert).
    # shellcheck disable=SC2046 # newkey's words are separate arguments
    openssl req -x509 $(newkey ca) -nodes -days 2 -subj "/CN=ipop test CA" \
        -keyout "$XMPP_DIR/ca-key.pem" -out "$XMPP_DIR/ca.pem" 2>/dev/null
    # shellcheck disable=SC2046
    openssl req $(newkey server) -nodes -subj "/CN=$XMPP_DOMAIN" \
        -keyout "$XMPP_DIR/key.pem" -out "$XMPP_DIR/server.csr" 2>/dev/null
    printf 'subjectAltName=DNS:%s\nbasicConstraints=CA:FALSE\n' "$XMPP_DOMAIN" > "$XMPP_DIR/ext.cnf"
    openssl x509 -req -in "$XMPP_DIR/server.csr" -CA "$XMPP_DIR/ca.pem" -CAkey "$XMPP_DIR/ca-key.pem" \
        -CAcreateserial -days 2 -extfile "$XMPP_DIR/ext.cnf" -out "$XMPP_DIR/cert.pem" 2>/dev/null
    # An unrelated self-signed certificate: pinning it must fail.
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$XMPP_DOMAIN" \
        -keyout "$XMPP_DIR/other-key.pem" -out "$XMPP_DIR/other-cert.pem" 2>/dev/null
    cat "$XMPP_DIR/key.pem" "$XMPP_DIR/cert.pem" > "$XMPP_DIR/both.pem"
    chmod 644 "$XMPP_DIR"/*.pem
}

wait_port() { # PORT SECONDS
    local i
    for i in $(seq 1 $(( $2 * 10 ))); do
        if (exec 3<>/dev/tcp/"$XMPP_LISTEN"/"$1") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    return 1
}

prosody_start() { # PORT USER:PASS...
    local port=$1; shift
    local d="$XMPP_DIR/prosody"
    mkdir -p "$d/data"
    cat > "$d/prosody.cfg.lua" <<EOF
daemonize = false
run_as_root = true
pidfile = "$d/prosody.pid"
data_path = "$d/data"
interfaces = { "$XMPP_LISTEN" }
c2s_ports = { $port }
s2s_ports = { }
c2s_require_encryption = true
authentication = "internal_hashed"
log = { info = "$d/prosody.log"; error = "$d/prosody.err" }
plugin_paths = { }
modules_enabled = { "roster", "saslauth", "tls", "disco", "ping", "presence", "message", "iq" }
modules_disabled = { "s2s", "http", "admin_telnet", "posix" }
VirtualHost "$XMPP_DOMAIN"
  ssl = { key = "$XMPP_DIR/key.pem", certificate = "$XMPP_DIR/cert.pem" }
EOF
    local up
    for up in "$@"; do
        prosodyctl --config "$d/prosody.cfg.lua" register "${up%%:*}" "$XMPP_DOMAIN" "${up#*:}" >/dev/null 2>&1 \
            || { xmpp_log "prosodyctl register ${up%%:*} failed"; return 1; }
    done
    prosody --config "$d/prosody.cfg.lua" -F > "$d/stdout" 2>&1 &
    PROSODY_PID=$!
    wait_port "$port" 20 || { xmpp_log "prosody did not listen"; cat "$d/stdout" "$d/prosody.log" >&2; return 1; }
}

prosody_stop() {
    [ -n "$PROSODY_PID" ] || return 0
    kill "$PROSODY_PID" 2>/dev/null
    wait "$PROSODY_PID" 2>/dev/null
    PROSODY_PID=""
}

ejabberd_ctl() {
    ejabberdctl --config-dir "$XMPP_DIR/ejabberd" --config "$XMPP_DIR/ejabberd/ejabberd.yml" \
        --ctl-config "$XMPP_DIR/ejabberd/ejabberdctl.cfg" --logs "$XMPP_DIR/ejabberd/log" \
        --spool "$XMPP_DIR/ejabberd/db" --node "$EJABBERD_NODE" "$@"
}

ejabberd_start() { # PORT USER:PASS...
    local port=$1; shift
    local d="$XMPP_DIR/ejabberd"
    mkdir -p "$d/log" "$d/db"
    : > "$d/ejabberdctl.cfg"
    : > "$d/inetrc"
    cat > "$d/ejabberd.yml" <<EOF
hosts:
  - $XMPP_DOMAIN
loglevel: info
certfiles:
  - $XMPP_DIR/both.pem
listen:
  -
    port: $port
    ip: "$XMPP_LISTEN"
    module: ejabberd_c2s
    starttls_required: true
acl:
  local:
    user_regexp: ""
access_rules:
  local:
    allow: local
  c2s:
    allow: all
api_permissions:
  "console commands":
    from: [ejabberd_ctl]
    who: all
    what: "*"
auth_password_format: scram
modules:
  mod_admin_extra: {}
  mod_disco: {}
  mod_ping: {}
  mod_roster: {}
  mod_shared_roster: {}
EOF
    # Only an epmd that answers counts as someone else's (not a zombie).
    if ! epmd -names >/dev/null 2>&1; then EPMD_OURS=1; fi
    chown -R ejabberd:ejabberd "$d"
    ejabberd_ctl foreground > "$d/stdout" 2>&1 &
    EJABBERD_PID=$!
    local i
    for i in $(seq 1 60); do
        kill -0 "$EJABBERD_PID" 2>/dev/null || break
        ejabberd_ctl status >/dev/null 2>&1 && break
        sleep 1
    done
    ejabberd_ctl status >/dev/null 2>&1 || { xmpp_log "ejabberd did not start"; tail -n 20 "$d/stdout" >&2; return 1; }
    local up
    for up in "$@"; do
        ejabberd_ctl register "${up%%:*}" "$XMPP_DOMAIN" "${up#*:}" >/dev/null \
            || { xmpp_log "ejabberdctl register ${up%%:*} failed"; return 1; }
    done
    wait_port "$port" 20 || { xmpp_log "ejabberd did not listen"; return 1; }
}

ejabberd_stop() {
    [ -n "$EJABBERD_PID" ] || return 0
    ejabberd_ctl stop >/dev/null 2>&1
    local i
    for i in $(seq 1 30); do kill -0 "$EJABBERD_PID" 2>/dev/null || break; sleep 0.5; done
    # The erl process runs under su: kill the tree we started if it lingers.
    pkill -P "$EJABBERD_PID" 2>/dev/null
    kill "$EJABBERD_PID" 2>/dev/null
    wait "$EJABBERD_PID" 2>/dev/null
    EJABBERD_PID=""
}

xmpp_cleanup() {
    # Runs from an EXIT trap of a `set -e` script: keep going past failures.
    set +e
    prosody_stop
    ejabberd_stop
    if [ "$EPMD_OURS" = 1 ]; then
        # epmd refuses -kill while a node is still registered.
        local i
        for i in $(seq 1 20); do
            epmd -names 2>/dev/null | grep -q "^name " || break
            sleep 0.5
        done
        epmd -kill >/dev/null 2>&1
        for i in $(seq 1 10); do epmd -names >/dev/null 2>&1 || break; sleep 0.5; done
        if epmd -names >/dev/null 2>&1; then xmpp_log "epmd still running after epmd -kill"; fi
    fi
    [ -n "$XMPP_DIR" ] && rm -rf "$XMPP_DIR"
}

# xmpp_config OUT USER PASS PORT [IP4] [EXTRA]: an IPOP 16.01-style config
# with the account in CFx; EXTRA is more CFx members (",\"k\": v").
xmpp_config() {
    local out=$1 user=$2 pass=$3 port=$4 ip4=${5:-10.254.0.1} extra=${6:-}
    cat > "$out" <<EOF
{
  "CFx": {
    "xmpp_username": "$user@$XMPP_DOMAIN",
    "xmpp_password": "$pass",
    "xmpp_host": "127.0.0.1",
    "xmpp_port": $port,
    "ip4_mask": 16,
    "key_file": "$XMPP_DIR/$user-$ip4.key"$extra
  },
  "TincanSender": { "stun": [] },
  "BaseTopologyManager": { "ip4": "$ip4" }
}
EOF
}
