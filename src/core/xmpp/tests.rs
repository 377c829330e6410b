//! The client fed server byte streams modelled on (and checked against)
//! prosody 0.12 and ejabberd 23 (tests/xmpp/streams/; the `*-real.xml` ones
//! recorded from the real servers), whole, split into
//! single bytes and coalesced, plus the error paths.

use core::time::Duration;

use jid::{BareJid, FullJid};

use super::scram::Scram;
use super::xml::{Element, XmlError, MAX_STANZA};
use super::*;
use crate::config::base64;
use crate::core::identity::Uid;
use crate::core::rng::Rng;
use crate::core::time::Instant;

const PASSWORD: &str = "s3cret-pw";
const SALT: &str = "QSXCR+Q6sek8bf92";

/// Server side of each step, from the streams directory.
const PROSODY: &str = include_str!("../../../tests/xmpp/streams/prosody.xml");
const EJABBERD: &str = include_str!("../../../tests/xmpp/streams/ejabberd.xml");
/// Real logins recorded by tests/xmpp/capture_streams.sh (prosody 0.12.3,
/// ejabberd 23.01), SCRAM parts templated.
const PROSODY_REAL: &str = include_str!("../../../tests/xmpp/streams/prosody-real.xml");
const EJABBERD_REAL: &str = include_str!("../../../tests/xmpp/streams/ejabberd-real.xml");

/// The part of a recorded stream between `<!-- NAME -->` and the next marker.
fn part(stream: &'static str, name: &str) -> &'static str {
    let marker = format!("<!-- {name} -->\n");
    let start = stream
        .find(&marker)
        .unwrap_or_else(|| panic!("no part {name}"))
        + marker.len();
    let rest = &stream[start..];
    let end = rest.find("<!-- ").unwrap_or(rest.len());
    rest[..end].trim_end_matches('\n')
}

fn uid() -> Uid {
    Uid::from_ip4("10.254.0.1".parse().unwrap())
}

fn client() -> Client {
    let cfg = ClientConfig {
        jid: BareJid::new("alice@ipop.test").unwrap(),
        password: PASSWORD.into(),
        uid: uid(),
    };
    Client::new(cfg, Rng::from_seed([1; 32]))
}

struct T {
    c: Client,
    now: Instant,
    /// How server bytes are chunked: 0 = whole, n = n-byte pieces.
    chunk: usize,
}

impl T {
    fn new(chunk: usize) -> T {
        T {
            c: client(),
            now: Instant::from_secs(100),
            chunk,
        }
    }

    fn out(&mut self) -> String {
        let mut all = Vec::new();
        let mut buf = [0u8; 100];
        while let Some(n) = self.c.poll_transmit(&mut buf) {
            all.extend_from_slice(&buf[..n]);
        }
        String::from_utf8(all).unwrap()
    }

    fn feed(&mut self, s: &str) {
        if self.chunk == 0 {
            self.c.handle_input(self.now, s.as_bytes());
        } else {
            for piece in s.as_bytes().chunks(self.chunk) {
                self.c.handle_input(self.now, piece);
            }
        }
    }

    fn events(&mut self) -> Vec<Event> {
        core::iter::from_fn(|| self.c.poll_event()).collect()
    }

    /// Plays `stream` up to online; returns everything the client sent.
    fn login(&mut self, stream: &'static str) -> Vec<String> {
        let mut sent = Vec::new();
        assert!(self.c.wants_connect());
        self.c.handle_connected(self.now);
        sent.push(self.out());
        self.feed(part(stream, "features-plain"));
        sent.push(self.out());
        self.feed(part(stream, "proceed"));
        assert!(self.c.wants_tls());
        assert!(!self.c.wants_close());
        self.c.handle_tls_established(self.now);
        sent.push(self.out());
        self.feed(part(stream, "features-tls"));
        let auth = self.out();
        sent.push(auth.clone());
        let (server_first, server_final) = play_scram(&auth);
        self.feed(
            &part(stream, "challenge")
                .replace("SERVER_FIRST", &base64::encode(server_first.as_bytes())),
        );
        sent.push(self.out());
        self.feed(
            &part(stream, "success")
                .replace("SERVER_FINAL", &base64::encode(server_final.as_bytes())),
        );
        sent.push(self.out());
        self.feed(part(stream, "features-bind"));
        sent.push(self.out());
        self.feed(part(stream, "bind-result"));
        sent.push(self.out());
        if stream.contains("<!-- session-result -->") {
            self.feed(part(stream, "session-result"));
            sent.push(self.out());
        }
        sent
    }
}

/// The server's SCRAM messages for the client-first inside `auth`.
fn play_scram(auth: &str) -> (String, String) {
    let b64 = auth.split('>').nth(1).unwrap().split('<').next().unwrap();
    let first = String::from_utf8(base64::decode(b64).unwrap()).unwrap();
    let nonce = first.strip_prefix("n,,n=alice,r=").unwrap();
    let server_first = format!("r={nonce}srvNONCE,s={SALT},i=4096");
    let (mut s, _) = Scram::start("alice", PASSWORD, nonce);
    s.client_final(&server_first).unwrap();
    let server_final = format!("v={}", base64::encode(&s.server_signature().unwrap()));
    (server_first, server_final)
}

const HEADER: &str = "<?xml version='1.0'?><stream:stream to='ipop.test' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>";

fn expected_sends(session: bool) -> Vec<String> {
    let mut v = vec![
        HEADER.to_string(),
        "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>".into(),
        HEADER.into(),
        "AUTH".into(),
        "RESPONSE".into(),
        HEADER.into(),
        "<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>ipopc31dcee6</resource></bind></iq>".into(),
    ];
    let online = "<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq><presence><priority>0</priority></presence>";
    if session {
        v.push(
            "<iq type='set' id='sess'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>"
                .into(),
        );
    }
    v.push(online.into());
    v
}

fn check_login(stream: &'static str, chunk: usize, session: bool) -> T {
    let mut t = T::new(chunk);
    let sent = t.login(stream);
    let mut want = expected_sends(session);
    assert!(
        sent[3]
            .starts_with("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-1'>"),
        "{}",
        sent[3]
    );
    assert!(
        sent[4].starts_with("<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>"),
        "{}",
        sent[4]
    );
    want[3] = sent[3].clone();
    want[4] = sent[4].clone();
    assert_eq!(sent, want);
    assert_eq!(t.events(), vec![Event::Online]);
    assert_eq!(t.c.state(), State::Online);
    assert_eq!(
        t.c.jid().map(|j| j.to_string()).as_deref(),
        Some("alice@ipop.test/ipopc31dcee6")
    );
    assert_eq!(t.c.mechanism(), Some("SCRAM-SHA-1"));
    assert!(t.c.tls_up());
    t
}

#[test]
fn resource_is_ipop_and_short_uid() {
    assert_eq!(uid().short().to_string(), "c31dcee6");
}

#[test]
fn login_prosody_whole_split_and_bytewise() {
    for chunk in [0, 1, 7, 100] {
        check_login(PROSODY, chunk, false);
    }
}

#[test]
fn login_ejabberd_with_session() {
    for chunk in [0, 1, 13] {
        check_login(EJABBERD, chunk, true);
    }
}

#[test]
fn login_real_server_captures() {
    for stream in [PROSODY_REAL, EJABBERD_REAL] {
        for chunk in [0, 1, 29] {
            let mut t = check_login(stream, chunk, false);
            t.feed(part(stream, "after-online"));
            // Our own presence echo is not a member; the roster is empty.
            assert_eq!(t.events(), vec![]);
            assert_eq!(t.c.roster_items(), Some(0));
            assert_eq!(t.c.state(), State::Online);
            assert_eq!(t.out(), "");
        }
    }
}

#[test]
fn coalesced_stanzas_after_login() {
    let mut t = check_login(PROSODY, 0, false);
    // Roster answer, three presences and a server ping in one read.
    t.feed(part(PROSODY, "after-online"));
    assert_eq!(t.c.roster_items(), Some(2));
    let bob = FullJid::new("bob@ipop.test/ipop5e4fe169").unwrap();
    let alice2 = FullJid::new("alice@ipop.test/ipop25c90651").unwrap();
    assert_eq!(
        t.events(),
        vec![
            Event::PeerPresent(bob.clone()),
            Event::PeerPresent(alice2.clone())
        ]
    );
    assert_eq!(t.c.peers(), &[bob.clone(), alice2.clone()]);
    assert_eq!(t.out(), "<iq type='result' id='ping-1' to='ipop.test'/>");

    // A signal from a member, one from a non-member, an unknown stanza.
    t.feed(part(PROSODY, "signals"));
    let body = br#"{"t":"ping","uid":"5e4fe169007b144d346f9a278264d17896ccc69f"}"#.to_vec();
    assert_eq!(
        t.events(),
        vec![Event::Signal {
            from: bob.clone(),
            body
        }]
    );
    assert_eq!(t.c.counters().signals_not_member, 1);
    assert_eq!(t.c.counters().signals_in, 1);
    assert_eq!(
        t.out(),
        "<iq type='error' id='v1' to='mallory@ipop.test/x'><error type='cancel'><service-unavailable \
         xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"
    );
    assert_eq!(t.c.counters().stanzas_unknown, 2);

    // Unavailable presence removes the member.
    t.feed("<presence from='bob@ipop.test/ipop5e4fe169' type='unavailable'/>");
    assert_eq!(t.events(), vec![Event::PeerGone(bob)]);
    assert_eq!(t.c.peers(), &[alice2]);
}

#[test]
fn send_and_broadcast_signals() {
    let mut t = check_login(PROSODY, 0, false);
    assert_eq!(t.c.broadcast_signal(b"{}"), Ok(0));
    t.feed(part(PROSODY, "after-online"));
    t.events();
    t.out();
    let body = br#"{"t":"ping","uid":"x<&>"}"#;
    assert_eq!(t.c.broadcast_signal(body), Ok(2));
    assert_eq!(
        t.out(),
        "<message type='chat' to='bob@ipop.test/ipop5e4fe169'><ipop xmlns='urn:ipop:signal:1'>{&quot;t&quot;:&quot;ping&quot;,&quot;uid&quot;:&quot;x&lt;&amp;&gt;&quot;}</ipop></message>\
         <message type='chat' to='alice@ipop.test/ipop25c90651'><ipop xmlns='urn:ipop:signal:1'>{&quot;t&quot;:&quot;ping&quot;,&quot;uid&quot;:&quot;x&lt;&amp;&gt;&quot;}</ipop></message>"
    );
    let bob = FullJid::new("bob@ipop.test/ipop5e4fe169").unwrap();
    assert_eq!(t.c.send_signal(&bob, &[0xff]), Err(SendError::BadBody));
    assert_eq!(
        t.c.send_signal(&bob, &[b' '; 2049]),
        Err(SendError::BadBody)
    );
    assert_eq!(t.c.counters().signals_out, 2);
    // The escaped signal reads back as sent.
    let echoed = "<message from='bob@ipop.test/ipop5e4fe169' to='alice@ipop.test/ipopc31dcee6' type='chat'><ipop xmlns='urn:ipop:signal:1'>{&quot;t&quot;:&quot;ping&quot;,&quot;uid&quot;:&quot;x&lt;&amp;&gt;&quot;}</ipop></message>";
    t.feed(echoed);
    assert_eq!(
        t.events(),
        vec![Event::Signal {
            from: bob,
            body: body.to_vec()
        }]
    );
}

#[test]
fn not_online_refuses_signals() {
    let mut c = client();
    let bob = FullJid::new("bob@ipop.test/ipop1").unwrap();
    assert_eq!(c.send_signal(&bob, b"{}"), Err(SendError::NotOnline));
}

fn disconnected(t: &mut T) -> (Instant, CloseReason) {
    let ev = t.events();
    match ev.last() {
        Some(Event::Disconnected { retry_at, reason }) => (*retry_at, reason.clone()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn stream_error_closes_and_backs_off() {
    let mut t = check_login(EJABBERD, 0, true);
    t.feed(part(EJABBERD, "after-online"));
    t.events();
    t.out();
    t.feed(part(EJABBERD, "stream-error"));
    let (retry, reason) = disconnected(&mut t);
    assert_eq!(reason, CloseReason::StreamError("conflict".into()));
    assert_eq!(t.c.peers(), &[] as &[FullJid]);
    assert!(t.c.wants_close());
    assert_eq!(t.out(), "</stream:stream>");
    t.c.handle_closed(t.now);
    assert!(!t.c.wants_close());
    assert!(t.events().is_empty());
    // Fully online before, so the back-off restarted at ~1 s.
    let d = retry - t.now;
    assert!(
        d >= Duration::from_millis(500) && d <= Duration::from_secs(1),
        "{d:?}"
    );
    assert_eq!(t.c.poll_timeout(), Some(retry));
    t.c.handle_timeout(retry - Duration::from_millis(1));
    assert!(!t.c.wants_connect());
    t.c.handle_timeout(retry);
    assert!(t.c.wants_connect());
    assert_eq!(t.c.state(), State::Connecting);
}

#[test]
fn server_end_of_stream() {
    let mut t = check_login(PROSODY, 0, false);
    t.feed("</stream:stream>");
    assert_eq!(disconnected(&mut t).1, CloseReason::ServerClosed);
}

#[test]
fn malformed_xml_is_a_stream_failure() {
    for bad in [
        "<message><body>x</bdy></message>",
        "<message from='a<b'/>",
        "<!-- comment -->",
        "<message><![CDATA[x]]></message>",
        "text outside stanzas",
        "<message>\u{0}</message><a b=c/>",
        "</wrong>",
    ] {
        let mut t = check_login(PROSODY, 0, false);
        t.feed(bad);
        assert_eq!(
            disconnected(&mut t).1,
            CloseReason::Xml(XmlError::Malformed),
            "{bad}"
        );
    }
    let mut t = check_login(PROSODY, 0, false);
    t.c.handle_input(t.now, b"<message from='\xff'/>");
    assert_eq!(
        disconnected(&mut t).1,
        CloseReason::Xml(XmlError::Malformed)
    );
}

#[test]
fn oversized_stanza_is_a_clean_error() {
    for chunk in [0, 4096] {
        let mut t = check_login(PROSODY, chunk, false);
        let big = format!("<message><body>{}</body></message>", "x".repeat(MAX_STANZA));
        t.feed(&big);
        assert_eq!(disconnected(&mut t).1, CloseReason::Xml(XmlError::TooLarge));
        assert!(t.c.wants_close());
    }
    // Just under the limit passes.
    let mut t = check_login(PROSODY, 0, false);
    let fits = format!(
        "<message><body>{}</body></message>",
        "x".repeat(MAX_STANZA - 40)
    );
    t.feed(&fits);
    assert_eq!(t.c.state(), State::Online);
    assert_eq!(t.c.counters().stanzas_unknown, 1);
    // Deep nesting.
    let deep = format!(
        "<message>{}{}</message>",
        "<a>".repeat(40),
        "</a>".repeat(40)
    );
    t.feed(&deep);
    assert_eq!(disconnected(&mut t).1, CloseReason::Xml(XmlError::TooDeep));
}

#[test]
fn wrong_password_backs_off_exponentially() {
    let mut t = T::new(0);
    let mut delays = Vec::new();
    for _ in 0..8 {
        assert!(t.c.wants_connect());
        t.c.handle_connected(t.now);
        t.feed(part(PROSODY, "features-plain"));
        t.feed(part(PROSODY, "proceed"));
        t.c.handle_tls_established(t.now);
        t.feed(part(PROSODY, "features-tls"));
        t.out();
        t.feed(part(PROSODY, "auth-failure"));
        let ev = t.events();
        assert_eq!(ev[0], Event::AuthFailed);
        let Event::Disconnected { retry_at, reason } = ev[1].clone() else {
            panic!("{ev:?}")
        };
        assert_eq!(reason, CloseReason::AuthFailed("not-authorized".into()));
        assert_eq!(
            reason.to_string(),
            "authentication failed (not-authorized): check xmpp_username / xmpp_password"
        );
        assert!(matches!(t.c.state(), State::BackOff { until, .. } if until == retry_at));
        assert_eq!(t.out(), "</stream:stream>");
        t.c.handle_closed(t.now);
        delays.push((retry_at - t.now).as_millis() as u64);
        t.now = retry_at;
        t.c.handle_timeout(t.now);
    }
    let bases = [1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000];
    for (d, b) in delays.iter().zip(bases) {
        assert!(*d >= b / 2 && *d <= b, "{delays:?}");
    }
}

#[test]
fn scram_server_must_prove_itself() {
    let mut t = T::new(0);
    t.c.handle_connected(t.now);
    t.feed(part(PROSODY, "features-plain"));
    t.feed(part(PROSODY, "proceed"));
    t.c.handle_tls_established(t.now);
    t.out();
    t.feed(part(PROSODY, "features-tls"));
    let (first, _) = play_scram(&t.out());
    t.feed(&part(PROSODY, "challenge").replace("SERVER_FIRST", &base64::encode(first.as_bytes())));
    let forged = base64::encode(b"v=rmF9pqV8S7suAoZWja4dJRkFsKQ=");
    t.feed(&part(PROSODY, "success").replace("SERVER_FINAL", &forged));
    assert_eq!(
        disconnected(&mut t).1,
        CloseReason::Scram(scram::ScramError::ServerSignatureMismatch)
    );
}

#[test]
fn no_starttls_no_login() {
    let mut t = T::new(0);
    t.c.handle_connected(t.now);
    t.out();
    t.feed(
        part(PROSODY, "features-tls")
            .replace("<stream:features>", "<stream:features><x/>")
            .as_str(),
    );
    assert_eq!(disconnected(&mut t).1, CloseReason::NoTls);
    assert_eq!(t.out(), "</stream:stream>");
}

#[test]
fn plain_only_inside_tls() {
    let mut t = T::new(0);
    t.c.handle_connected(t.now);
    t.feed(part(PROSODY, "features-plain"));
    t.feed(part(PROSODY, "proceed"));
    t.c.handle_tls_established(t.now);
    t.out();
    t.feed(&part(PROSODY, "features-tls").replace("<mechanism>SCRAM-SHA-1</mechanism>", ""));
    let user_pw = base64::encode(b"\0alice\0s3cret-pw");
    assert_eq!(
        t.out(),
        format!(
            "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{user_pw}</auth>"
        )
    );
    t.feed("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>");
    assert_eq!(t.out(), HEADER);
    assert_eq!(t.c.mechanism(), Some("PLAIN"));
}

#[test]
fn pings_presence_and_ping_timeout() {
    let mut t = check_login(PROSODY, 0, false);
    t.out();
    let start = t.now;
    assert_eq!(t.c.poll_timeout(), Some(start + PING_INTERVAL));
    t.now = start + PING_INTERVAL;
    t.c.handle_timeout(t.now);
    assert_eq!(
        t.out(),
        "<iq type='get' id='p2'><ping xmlns='urn:xmpp:ping'/></iq>"
    );
    t.feed("<iq type='result' id='p2' from='ipop.test' to='alice@ipop.test/ipopc31dcee6'/>");
    assert_eq!(t.c.poll_timeout(), Some(start + 2 * PING_INTERVAL));
    for k in 2..=3 {
        t.now = start + k * PING_INTERVAL;
        t.c.handle_timeout(t.now);
        let id = k + 1;
        assert_eq!(
            t.out(),
            format!("<iq type='get' id='p{id}'><ping xmlns='urn:xmpp:ping'/></iq>"),
            "{k}"
        );
        t.feed(&format!("<iq type='result' id='p{id}'/>"));
    }
    // Presence every 120 s (16.01's interval), here with the fourth ping.
    t.now = start + PRESENCE_INTERVAL;
    t.c.handle_timeout(t.now);
    assert_eq!(
        t.out(),
        "<iq type='get' id='p5'><ping xmlns='urn:xmpp:ping'/></iq><presence><priority>0</priority></presence>"
    );
    t.feed("<iq type='error' id='p5'/>");
    // The next ping goes unanswered.
    t.now = start + 5 * PING_INTERVAL;
    t.c.handle_timeout(t.now);
    assert!(t.out().contains("urn:xmpp:ping"));
    t.now += PING_TIMEOUT;
    assert_eq!(t.c.poll_timeout(), Some(t.now));
    t.c.handle_timeout(t.now);
    assert_eq!(disconnected(&mut t).1, CloseReason::PingTimeout);
}

#[test]
fn negotiation_timeout_and_connect_failure() {
    let mut t = T::new(0);
    t.c.handle_connected(t.now);
    assert_eq!(t.c.poll_timeout(), Some(t.now + NEGOTIATION_TIMEOUT));
    t.c.handle_timeout(t.now + NEGOTIATION_TIMEOUT);
    assert_eq!(disconnected(&mut t).1, CloseReason::NegotiationTimeout);
    t.c.handle_closed(t.now);
    let mut t = T::new(0);
    t.c.handle_closed(t.now);
    assert_eq!(disconnected(&mut t).1, CloseReason::ConnectionLost);
    assert!(!t.c.wants_close());
}

#[test]
fn tls_failure_reported_by_shell() {
    let mut t = T::new(0);
    t.c.handle_connected(t.now);
    t.feed(part(PROSODY, "features-plain"));
    t.feed(part(PROSODY, "proceed"));
    t.out();
    t.c.handle_tls_failed(t.now);
    assert_eq!(disconnected(&mut t).1, CloseReason::TlsFailed);
    // No plaintext goes out once TLS was started.
    assert_eq!(t.out(), "");
    assert!(t.c.wants_close());
}

#[test]
fn element_views() {
    let e =
        Element::parse("<a x='1' y=\"&lt;2&amp;\"><b/>t&#x41;<c n='3'>in</c>u&#66;</a>").unwrap();
    assert_eq!(e.name(), "a");
    assert_eq!(e.attr("y").as_deref(), Some("<2&"));
    assert_eq!(e.attr("z"), None);
    assert_eq!(e.text().as_deref(), Some("tAuB"));
    let names: Vec<&str> = e.children().map(|c| c.name()).collect();
    assert_eq!(names, ["b", "c"]);
    assert_eq!(e.child("c").unwrap().text().as_deref(), Some("in"));
    assert_eq!(Element::parse("<a>&bogus;</a>").unwrap().text(), None);
}

#[test]
fn secrets_never_printed() {
    let c = ClientConfig {
        jid: BareJid::new("a@b").unwrap(),
        password: PASSWORD.into(),
        uid: uid(),
    };
    let dbg = format!("{c:?}");
    assert!(!dbg.contains(PASSWORD), "{dbg}");
    // No log call in the XMPP code formats a payload, password or proof.
    let sources = [
        include_str!("client.rs"),
        include_str!("client/handlers.rs"),
        include_str!("scram.rs"),
        include_str!("../../io/xmpp/mod.rs"),
        include_str!("../../io/xmpp/conn.rs"),
        include_str!("../../io/xmpp/probe.rs"),
        include_str!("../../io/xmpp/tls.rs"),
    ];
    for src in sources {
        for stmt in src.split("log::").skip(1) {
            let call = &stmt[..stmt.find(';').unwrap_or(stmt.len())];
            for word in [
                "password", "proof", "payload", "first", "last", "msg", "body", "self.out",
            ] {
                assert!(!call.contains(word), "log call mentions {word}: {call}");
            }
        }
    }
}
