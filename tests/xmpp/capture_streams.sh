#!/usr/bin/env bash
# Records what real prosody and ejabberd send during a login into
# tests/xmpp/streams/{prosody,ejabberd}-real.xml, split into the parts the
# unit tests (core::xmpp::tests) replay. The login uses PLAIN so the capture
# is deterministic; the SCRAM challenge/success parts are templates the
# tests fill in. Not run by CI; rerun after a server upgrade.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/xmpp/lib.sh
trap xmpp_cleanup EXIT
xmpp_setup
H="<?xml version='1.0'?><stream:stream to='ipop.test' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>"

capture() { # PORT NAME SESSION(0/1)
    local port=$1 name=$2 session=$3 d="$XMPP_DIR/$2"
    mkdir -p "$d"
    # Before TLS: features and proceed.
    exec 3<>/dev/tcp/127.0.0.1/"$port"
    printf '%s' "$H" >&3; sleep 0.5
    printf "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>" >&3; sleep 0.5
    timeout 1 cat <&3 > "$d/plain" || true
    exec 3<&-
    # After TLS (openssl does the STARTTLS): PLAIN login, bind, session, roster, presence.
    {
        sleep 0.5; printf '%s' "$H"; sleep 0.5
        printf "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>%s</auth>" "$(printf '\0alice\0pw-alice' | base64)"; sleep 0.5
        printf '%s' "$H"; sleep 0.5
        printf "<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>ipopc31dcee6</resource></bind></iq>"; sleep 0.5
        if [ "$session" = 1 ]; then
            printf "<iq type='set' id='sess'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>"; sleep 0.5
        fi
        printf "<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq><presence><priority>0</priority></presence>"; sleep 1
    } | timeout 15 openssl s_client -connect 127.0.0.1:"$port" -starttls xmpp -xmpphost ipop.test -quiet 2>/dev/null > "$d/tls" || true
    cp "$d/plain" "$d/tls" "${CAPTURE_RAW:-$d}/" 2>/dev/null || true
    python3 - "$d/plain" "$d/tls" "$session" > "tests/xmpp/streams/$name-real.xml" <<'PY'
import re, sys
plain = open(sys.argv[1]).read()
tls = open(sys.argv[2]).read()
session = sys.argv[3] == "1"
i = plain.index("<proceed")
parts = [("features-plain", plain[:i]), ("proceed", plain[i:])]
a = tls.index("<success")
b = tls.index("<?xml", a)
c = tls.index("<iq", b)
d = tls.index("</iq>", c) + 5
parts += [("features-tls", tls[:a]),
          ("challenge", "<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>SERVER_FIRST</challenge>"),
          ("success", "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>SERVER_FINAL</success>"),
          ("features-bind", tls[b:c]), ("bind-result", tls[c:d])]
if session:
    gt = tls.index(">", d)
    e = gt + 1 if tls[gt - 1] == "/" else tls.index("</iq>", d) + 5
    parts.append(("session-result", tls[d:e]))
    d = e
parts.append(("after-online", tls[d:]))
for name, text in parts:
    print(f"<!-- {name} -->\n{text.strip()}")
PY
}

servers=${*:-prosody ejabberd}
case " $servers " in *" prosody "*)
    prosody_start 15522 alice:pw-alice
    capture 15522 prosody 0
    prosody_stop;; esac
case " $servers " in *" ejabberd "*)
    ejabberd_start 15523 alice:pw-alice
    # Both servers list the session as optional, so ipop sends none.
    capture 15523 ejabberd 0;; esac
echo "captured: tests/xmpp/streams/prosody-real.xml tests/xmpp/streams/ejabberd-real.xml"
