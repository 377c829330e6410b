//! The client state machine. Inputs are `handle_*`, outputs `poll_*`; the
//! shell owns the socket and TLS (see `src/io/xmpp.rs`).

use std::collections::VecDeque;
use std::io::Write as _;

use jid::{BareJid, FullJid};

use super::backoff::Backoff;
use super::events::{CloseReason, Counters, Event, SendError, State};
use super::scram::Scram;
use super::xml::{Esc, Item, StreamParser};
use super::*;
use crate::config::base64;
use crate::core::identity::Uid;
use crate::core::rng::Rng;
use crate::core::signal::MAX_SIGNAL_LEN;
use crate::core::time::Instant;

const NS_TLS: &str = "urn:ietf:params:xml:ns:xmpp-tls";
const NS_SASL: &str = "urn:ietf:params:xml:ns:xmpp-sasl";
const NS_BIND: &str = "urn:ietf:params:xml:ns:xmpp-bind";
const NS_SESSION: &str = "urn:ietf:params:xml:ns:xmpp-session";
const NS_ROSTER: &str = "jabber:iq:roster";
const NS_PING: &str = "urn:xmpp:ping";

pub struct ClientConfig {
    /// The account (`xmpp_username`).
    pub jid: BareJid,
    pub password: String,
    /// Our UID; the resource is `ipop` + its first 8 hex digits.
    pub uid: Uid,
}

// Hand-written so the password can never be printed.
impl core::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "ClientConfig {{ jid: {}, uid: {:?}, password: <hidden> }}",
            self.jid, self.uid
        )
    }
}

enum Phase {
    BackOff {
        until: Instant,
        reason: CloseReason,
    },
    Connecting,
    /// Stream header sent, waiting for `<stream:features>`.
    Features,
    StartTls,
    /// `<proceed/>` received; the shell runs the handshake.
    TlsHandshake,
    SaslScram {
        scram: Scram,
        sent_final: bool,
    },
    SaslPlain,
    Bind {
        session: bool,
    },
    Session,
    Online,
}

/// What handling one stanza asks of the input loop.
#[derive(PartialEq, Eq)]
enum Flow {
    Continue,
    /// A new stream starts (after SASL success): drop buffered input.
    Restart,
    /// Stop reading (TLS starts, or the connection failed).
    Stop,
}

pub struct Client {
    cfg: ClientConfig,
    resource: String,
    rng: Rng,
    /// Taken out while a stanza (which borrows it) is handled.
    parser: Option<StreamParser>,
    phase: Phase,
    socket_open: bool,
    tls_up: bool,
    authed: bool,
    deadline: Option<Instant>,
    out: Vec<u8>,
    events: VecDeque<Event>,
    backoff: Backoff,
    jid: Option<FullJid>,
    peers: Vec<FullJid>,
    next_id: u32,
    /// Outstanding ping: its id and when it times out.
    ping: Option<(u32, Instant)>,
    next_ping: Instant,
    next_presence: Instant,
    mechanism: Option<&'static str>,
    roster_items: Option<usize>,
    counters: Counters,
}

impl Client {
    /// A client that wants to connect right away (`wants_connect`).
    pub fn new(cfg: ClientConfig, rng: Rng) -> Client {
        let resource = format!("{RESOURCE_PREFIX}{}", cfg.uid.short());
        Client {
            cfg,
            resource,
            rng,
            parser: Some(StreamParser::default()),
            phase: Phase::Connecting,
            socket_open: false,
            tls_up: false,
            authed: false,
            deadline: None,
            out: Vec::new(),
            events: VecDeque::new(),
            backoff: Backoff::default(),
            jid: None,
            peers: Vec::new(),
            next_id: 0,
            ping: None,
            next_ping: Instant::ZERO,
            next_presence: Instant::ZERO,
            mechanism: None,
            roster_items: None,
            counters: Counters::default(),
        }
    }

    // ----- outputs -----

    pub fn state(&self) -> State {
        match &self.phase {
            Phase::BackOff { until, reason } => State::BackOff {
                until: *until,
                reason: reason.clone(),
            },
            Phase::Connecting => State::Connecting,
            Phase::Online => State::Online,
            _ => State::Negotiating,
        }
    }

    /// The shell should open a TCP connection now.
    pub fn wants_connect(&self) -> bool {
        matches!(self.phase, Phase::Connecting) && !self.socket_open
    }

    /// The shell should run the TLS handshake now, then `handle_tls_established`.
    pub fn wants_tls(&self) -> bool {
        matches!(self.phase, Phase::TlsHandshake)
    }

    /// The shell should flush `poll_transmit`, close the socket and call
    /// `handle_closed`.
    pub fn wants_close(&self) -> bool {
        self.socket_open && matches!(self.phase, Phase::BackOff { .. })
    }

    /// Copies pending output into `buf`; the number of bytes, None if idle.
    pub fn poll_transmit(&mut self, buf: &mut [u8]) -> Option<usize> {
        if self.out.is_empty() {
            return None;
        }
        let n = buf.len().min(self.out.len());
        buf[..n].copy_from_slice(&self.out[..n]);
        self.out.drain(..n);
        Some(n)
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When `handle_timeout` should be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.phase {
            Phase::BackOff { until, .. } if !self.socket_open => Some(*until),
            Phase::BackOff { .. } | Phase::Connecting => None,
            Phase::Online => {
                let ping = self.ping.map_or(self.next_ping, |(_, t)| t);
                Some(ping.min(self.next_presence))
            }
            _ => self.deadline,
        }
    }

    /// Our bound full JID while online.
    pub fn jid(&self) -> Option<&FullJid> {
        self.jid.as_ref()
    }

    /// Present group members.
    pub fn peers(&self) -> &[FullJid] {
        &self.peers
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// The SASL mechanism of the last login.
    pub fn mechanism(&self) -> Option<&'static str> {
        self.mechanism
    }

    /// Items in the roster we fetched, once its answer arrived.
    pub fn roster_items(&self) -> Option<usize> {
        self.roster_items
    }

    pub fn tls_up(&self) -> bool {
        self.tls_up
    }

    /// The name the server certificate must carry: the account's domain.
    pub fn server_name(&self) -> &str {
        self.cfg.jid.domain().as_str()
    }

    // ----- inputs -----

    /// TCP is connected.
    pub fn handle_connected(&mut self, now: Instant) {
        if !self.wants_connect() {
            return;
        }
        self.socket_open = true;
        self.tls_up = false;
        self.authed = false;
        self.jid = None;
        self.mechanism = None;
        self.roster_items = None;
        self.counters.connects += 1;
        self.deadline = Some(now + NEGOTIATION_TIMEOUT);
        self.open_stream();
    }

    /// The shell finished the TLS handshake; what follows is decrypted.
    pub fn handle_tls_established(&mut self, _now: Instant) {
        if !self.wants_tls() {
            return;
        }
        self.tls_up = true;
        self.open_stream();
    }

    /// The connection closed, failed or could not be opened.
    pub fn handle_closed(&mut self, now: Instant) {
        self.socket_open = false;
        self.fail(now, CloseReason::ConnectionLost);
        self.out.clear();
        if let Some(p) = self.parser.as_mut() {
            p.reset();
        }
    }

    /// The TLS handshake or certificate check failed.
    pub fn handle_tls_failed(&mut self, now: Instant) {
        self.fail(now, CloseReason::TlsFailed);
    }

    /// Bytes from the server (decrypted once TLS is up).
    pub fn handle_input(&mut self, now: Instant, mut data: &[u8]) {
        let Some(mut parser) = self.parser.take() else {
            return;
        };
        while self.reading() {
            let n = parser.push(data);
            data = &data[n..];
            let flow = loop {
                let (item, used) = match parser.next_item() {
                    Ok(Some(x)) => x,
                    Ok(None) => break Flow::Continue,
                    Err(e) => {
                        self.fail(now, CloseReason::Xml(e));
                        break Flow::Stop;
                    }
                };
                let flow = self.on_item(now, item);
                parser.consume(used);
                match flow {
                    Flow::Continue => {}
                    Flow::Restart => {
                        parser.reset();
                        data = &[];
                        break Flow::Continue;
                    }
                    Flow::Stop => break Flow::Stop,
                }
            };
            if flow == Flow::Stop || data.is_empty() {
                break;
            }
        }
        self.parser = Some(parser);
    }

    fn reading(&self) -> bool {
        self.socket_open && !matches!(self.phase, Phase::BackOff { .. } | Phase::TlsHandshake)
    }

    /// Timers: retry after back-off, login deadline, pings, presence.
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.phase {
            Phase::BackOff { until, .. } if !self.socket_open && now >= until => {
                self.phase = Phase::Connecting;
            }
            Phase::BackOff { .. } | Phase::Connecting => {}
            Phase::Online => {
                if let Some((_, t)) = self.ping {
                    if now >= t {
                        log::warn!("xmpp: ping to server timed out");
                        self.fail(now, CloseReason::PingTimeout);
                        return;
                    }
                } else if now >= self.next_ping {
                    let id = self.id();
                    let _ = write!(
                        self.out,
                        "<iq type='get' id='p{id}'><ping xmlns='{NS_PING}'/></iq>"
                    );
                    self.ping = Some((id, now + PING_TIMEOUT));
                    self.next_ping = now + PING_INTERVAL;
                }
                if now >= self.next_presence {
                    self.send_presence(now);
                }
            }
            _ => {
                if self.deadline.is_some_and(|d| now >= d) {
                    self.fail(now, CloseReason::NegotiationTimeout);
                }
            }
        }
    }

    /// Sends one signal to a member's full JID.
    pub fn send_signal(&mut self, to: &FullJid, body: &[u8]) -> Result<(), SendError> {
        if !matches!(self.phase, Phase::Online) {
            return Err(SendError::NotOnline);
        }
        let text = core::str::from_utf8(body).map_err(|_| SendError::BadBody)?;
        if body.len() > MAX_SIGNAL_LEN {
            return Err(SendError::BadBody);
        }
        if self.out.len() + body.len() > MAX_OUTPUT {
            return Err(SendError::QueueFull);
        }
        let _ = write!(
            self.out,
            "<message type='chat' to='{}'><ipop xmlns='{SIGNAL_NS}'>{}</ipop></message>",
            Esc(to.as_str()),
            Esc(text)
        );
        self.counters.signals_out += 1;
        Ok(())
    }

    /// Sends one signal to every present member; how many were sent.
    pub fn broadcast_signal(&mut self, body: &[u8]) -> Result<usize, SendError> {
        let peers = core::mem::take(&mut self.peers);
        let mut sent = 0;
        let mut result = Ok(());
        for p in &peers {
            match self.send_signal(p, body) {
                Ok(()) => sent += 1,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        self.peers = peers;
        result.map(|()| sent)
    }

    // ----- internals -----

    fn id(&mut self) -> u32 {
        self.next_id = self.next_id.wrapping_add(1);
        self.next_id
    }

    fn open_stream(&mut self) {
        if let Some(p) = self.parser.as_mut() {
            p.reset();
        }
        self.phase = Phase::Features;
        let domain = self.cfg.jid.domain();
        let _ = write!(
            self.out,
            "<?xml version='1.0'?><stream:stream to='{}' version='1.0' xmlns='jabber:client' \
             xmlns:stream='http://etherx.jabber.org/streams'>",
            Esc(domain.as_str())
        );
    }

    fn send_presence(&mut self, now: Instant) {
        self.out
            .extend_from_slice(b"<presence><priority>0</priority></presence>");
        self.next_presence = now + PRESENCE_INTERVAL;
    }

    /// Ends the attempt or session and schedules the next one.
    fn fail(&mut self, now: Instant, reason: CloseReason) {
        if matches!(self.phase, Phase::BackOff { .. }) {
            return;
        }
        let delay = self.backoff.next_delay(&mut self.rng);
        let until = now + delay;
        log::warn!(
            "xmpp: {reason}; retrying in {} ms; links keep running",
            delay.as_millis()
        );
        if matches!(reason, CloseReason::AuthFailed(_)) {
            self.events.push_back(Event::AuthFailed);
        }
        self.out.clear();
        if self.socket_open && !matches!(self.phase, Phase::TlsHandshake) {
            self.out.extend_from_slice(b"</stream:stream>");
        }
        self.peers.clear();
        self.ping = None;
        self.deadline = None;
        self.jid = None;
        self.events.push_back(Event::Disconnected {
            retry_at: until,
            reason: reason.clone(),
        });
        self.phase = Phase::BackOff { until, reason };
    }

    fn online(&mut self, now: Instant) {
        self.phase = Phase::Online;
        self.deadline = None;
        self.backoff.reset();
        let id = self.id();
        let _ = write!(
            self.out,
            "<iq type='get' id='r{id}'><query xmlns='{NS_ROSTER}'/></iq>"
        );
        self.send_presence(now);
        self.ping = None;
        self.next_ping = now + PING_INTERVAL;
        if let Some(j) = &self.jid {
            log::info!("xmpp: online as {j}");
        }
        self.events.push_back(Event::Online);
    }
}

/// The SASL PLAIN message `\0user\0password`, base64.
fn plain_message(user: &str, password: &str) -> String {
    let mut m = Vec::with_capacity(user.len() + password.len() + 2);
    m.push(0);
    m.extend_from_slice(user.as_bytes());
    m.push(0);
    m.extend_from_slice(password.as_bytes());
    base64::encode(&m)
}

mod handlers;
