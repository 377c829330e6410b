//! The XMPP shell: TCP, STARTTLS through rustls, and the task that runs the
//! sans-IO [`crate::core::xmpp::Client`] for the node.
//!
//! The node talks to [`run_xmpp`] through two unbounded smol channels: it
//! sends [`XmppCommand`]s (our announce, signals to a UID or to everyone)
//! and receives [`XmppEvent`]s (validated signals, rejects, membership,
//! connection state). The task keeps the UID -> full JID map, learned from
//! validated announces. [`probe`] is one login for `ipop check --online`.

mod conn;
mod probe;
pub mod tls;
pub mod tls_crypto;

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::net::Ipv4Addr;
use std::rc::Rc;
use std::time::Duration;

use jid::{BareJid, FullJid};
use smol::channel::{Receiver, Sender};

pub use probe::{probe, ProbeReport};
pub use tls::Trust;

use crate::config::OverlayConfig;
use crate::core::identity::Uid;
use crate::core::rng::Rng;
use crate::core::signal::{self, Signal, SignalReject, SignalRejectCounters, MAX_SIGNAL_LEN};
use crate::core::xmpp::{Client, ClientConfig, CloseReason, Counters, Event, State};
use crate::io::run::Clock;
use conn::Wake;

/// The XMPP part of an overlay's configuration.
#[derive(Clone)]
pub struct XmppSettings {
    pub jid: BareJid,
    pub password: String,
    /// Where to connect (`xmpp_host`, else the JID's domain).
    pub host: String,
    pub port: u16,
    pub trust: Trust,
}

// Hand-written: the password must never be printed.
impl fmt::Debug for XmppSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "XmppSettings {{ jid: {}, server: {}:{}, trust: {:?} }}",
            self.jid, self.host, self.port, self.trust
        )
    }
}

#[derive(Debug)]
pub enum XmppError {
    /// No `xmpp_username` in the config.
    NotConfigured,
    BadJid(String),
    NoPassword,
    Tls(tls::TlsSetupError),
    Connect {
        server: String,
        error: std::io::Error,
    },
    /// The TLS handshake or certificate check failed.
    Handshake(std::io::Error),
    /// The server ended the login (wrong password, stream error, ...).
    Login(CloseReason),
    Timeout,
}

impl fmt::Display for XmppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            XmppError::NotConfigured => {
                f.write_str("no XMPP account configured (CFx.xmpp_username)")
            }
            XmppError::BadJid(j) => write!(f, "xmpp_username {j:?} is not a bare JID user@domain"),
            XmppError::NoPassword => f.write_str("xmpp_password is not set"),
            XmppError::Tls(e) => write!(f, "XMPP TLS setup: {e}"),
            XmppError::Connect { server, error } => {
                write!(f, "cannot connect to XMPP server {server}: {error}")
            }
            XmppError::Handshake(e) => write!(f, "XMPP TLS handshake failed: {e}"),
            XmppError::Login(r) => write!(f, "XMPP login failed: {r}"),
            XmppError::Timeout => f.write_str("XMPP login timed out"),
        }
    }
}

impl XmppSettings {
    /// The XMPP settings of `cfg`; `Ok(None)` when it has no XMPP account.
    pub fn from_config(cfg: &OverlayConfig) -> Result<Option<XmppSettings>, XmppError> {
        let Some(user) = cfg.xmpp_username.as_deref() else {
            return Ok(None);
        };
        let jid = BareJid::new(user).map_err(|_| XmppError::BadJid(user.to_owned()))?;
        if jid.node().is_none() {
            return Err(XmppError::BadJid(user.to_owned()));
        }
        let password = cfg.xmpp_password.clone().ok_or(XmppError::NoPassword)?;
        let host = cfg
            .xmpp_host
            .clone()
            .unwrap_or_else(|| jid.domain().to_string());
        let trust = if cfg.xmpp_insecure {
            Trust::Insecure
        } else if let Some(p) = &cfg.xmpp_pinned_cert {
            Trust::Pinned(p.clone())
        } else if let Some(p) = &cfg.xmpp_ca_file {
            Trust::CaFile(p.clone())
        } else {
            Trust::SystemRoots
        };
        Ok(Some(XmppSettings {
            jid,
            password,
            host,
            port: cfg.xmpp_port,
            trust,
        }))
    }

    fn server(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    fn client(&self, uid: Uid, rng: Rng) -> Client {
        let cfg = ClientConfig {
            jid: self.jid.clone(),
            password: self.password.clone(),
            uid,
        };
        Client::new(cfg, rng)
    }
}

/// What the node asks of the XMPP task.
#[derive(Clone, Debug)]
pub enum XmppCommand {
    /// Our announce: sent to every member when it changes, when we come
    /// online and when a member appears.
    SetAnnounce(Signal),
    /// To the member that announced `to` (dropped if none did).
    SendTo { to: Uid, signal: Signal },
    /// To every present member.
    Broadcast(Signal),
    /// Log out and end the task.
    Stop,
}

/// What the XMPP task tells the node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum XmppEvent {
    Online {
        jid: FullJid,
    },
    /// The connection ended; `retry_in` until the next attempt. Every
    /// member is forgotten; links are untouched.
    Disconnected {
        retry_in: Duration,
        reason: CloseReason,
    },
    AuthFailed,
    PeerPresent(FullJid),
    /// `uid` if the member had announced one.
    PeerGone {
        jid: FullJid,
        uid: Option<Uid>,
    },
    /// A signal that passed decoding and, for announces, `check_announce`
    /// (the node still checks for a duplicate ip4).
    Signal {
        from: FullJid,
        signal: Signal,
    },
    /// A signal that did not (the node counts it).
    Rejected {
        from: FullJid,
        reason: SignalReject,
    },
}

/// What `ipop status` shows about XMPP; updated by the task.
#[derive(Clone, Debug)]
pub struct XmppStatus {
    pub server: String,
    pub state: State,
    pub jid: Option<FullJid>,
    /// Present members and the UID each announced.
    pub members: Vec<(FullJid, Option<Uid>)>,
    pub counters: Counters,
    pub rejects: SignalRejectCounters,
    /// Signals for a UID no member announced.
    pub unknown_uid: u64,
}

impl XmppStatus {
    pub fn new(server: String) -> XmppStatus {
        XmppStatus {
            server,
            state: State::Connecting,
            jid: None,
            members: Vec::new(),
            counters: Counters::default(),
            rejects: SignalRejectCounters::default(),
            unknown_uid: 0,
        }
    }
}

/// Who we are, for validating peers' announces.
#[derive(Clone, Copy, Debug)]
pub struct LocalIdentity {
    pub uid: Uid,
    /// The overlay subnet `(ip4, prefix)`.
    pub subnet: (Ipv4Addr, u8),
}

/// The task's state besides the client.
struct Task {
    me: LocalIdentity,
    events: Sender<XmppEvent>,
    status: Rc<RefCell<XmppStatus>>,
    announce: Option<Signal>,
    uids: HashMap<FullJid, Uid>,
    clock: Clock,
}

/// Runs the XMPP client for the node until `XmppCommand::Stop` or the
/// command channel closes. Spawn it on the node's `LocalExecutor`.
pub async fn run_xmpp(
    settings: XmppSettings,
    me: LocalIdentity,
    rng: Rng,
    events: Sender<XmppEvent>,
    commands: Receiver<XmppCommand>,
    status: Rc<RefCell<XmppStatus>>,
) {
    let tls_cfg = match tls::client_config(&settings.trust) {
        Ok(c) => c,
        Err(e) => {
            log::error!("xmpp: {e}; signalling disabled");
            return;
        }
    };
    let clock = Clock::new();
    let mut client = settings.client(me.uid, rng);
    let mut task = Task {
        me,
        events,
        status,
        announce: None,
        uids: HashMap::new(),
        clock,
    };
    let server = settings.server();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let now = task.clock.now();
        client.handle_timeout(now);
        task.pump(&mut client);
        if client.wants_connect() {
            if settings.trust == Trust::Insecure {
                log::warn!(
                    "xmpp: xmpp_insecure is set: the server certificate is NOT checked ({server})"
                );
            }
            let mut conn = match conn::connect(&settings.host, settings.port).await {
                Ok(c) => c,
                Err(e) => {
                    log::warn!("xmpp: cannot connect to {server}: {e}");
                    client.handle_closed(task.clock.now());
                    continue;
                }
            };
            log::info!("xmpp: connected to {server} ({})", conn.peer);
            client.handle_connected(task.clock.now());
            if !task
                .connection(&mut client, &mut conn, &tls_cfg, &commands, &mut buf)
                .await
            {
                conn.close(&mut client).await;
                return;
            }
            conn.close(&mut client).await;
            client.handle_closed(task.clock.now());
            task.pump(&mut client);
            continue;
        }
        // Offline: wait for the retry time, keeping up with commands.
        let deadline = client.poll_timeout().map(|t| task.clock.to_std(t));
        let cmd = async { Some(commands.recv().await.ok()) };
        let timer = async {
            match deadline {
                Some(t) => {
                    async_io::Timer::at(t).await;
                }
                None => std::future::pending::<()>().await,
            }
            None
        };
        match smol::future::or(cmd, timer).await {
            Some(Some(c)) => {
                if !task.command(&mut client, c) {
                    return;
                }
            }
            Some(None) => return,
            None => {}
        }
    }
}

impl Task {
    /// Runs one connection; false when the task should end.
    async fn connection(
        &mut self,
        client: &mut Client,
        conn: &mut conn::Conn,
        tls_cfg: &std::sync::Arc<rustls::ClientConfig>,
        commands: &Receiver<XmppCommand>,
        buf: &mut [u8],
    ) -> bool {
        loop {
            self.pump(client);
            if conn.flush(client).await.is_err() {
                return true;
            }
            if client.wants_tls() {
                match conn.start_tls(tls_cfg.clone(), client.server_name()).await {
                    Ok(()) => {
                        log::debug!("xmpp: TLS up ({})", conn.tls_description());
                        client.handle_tls_established(self.clock.now());
                    }
                    Err(e) => {
                        log::warn!("xmpp: TLS with {}: {e}", client.server_name());
                        client.handle_tls_failed(self.clock.now());
                    }
                }
                continue;
            }
            if client.wants_close() {
                return true;
            }
            match conn::wait(conn, client, &self.clock, Some(commands), buf).await {
                Wake::Input(Ok(Some(data))) => client.handle_input(self.clock.now(), &data),
                Wake::Input(Ok(None)) | Wake::Input(Err(_)) => return true,
                Wake::Command(Some(c)) => {
                    if !self.command(client, c) {
                        return false;
                    }
                }
                Wake::Command(None) => return false,
                Wake::Timer => client.handle_timeout(self.clock.now()),
            }
        }
    }

    /// Handles one command; false on `Stop`.
    fn command(&mut self, client: &mut Client, cmd: XmppCommand) -> bool {
        match cmd {
            XmppCommand::SetAnnounce(sig) => {
                let changed = self.announce.as_ref() != Some(&sig);
                self.announce = Some(sig);
                if changed && client.state() == State::Online {
                    self.broadcast(client, self.announce.clone());
                }
            }
            XmppCommand::Broadcast(sig) => self.broadcast(client, Some(sig)),
            XmppCommand::SendTo { to, signal } => {
                match self
                    .uids
                    .iter()
                    .find(|(_, u)| **u == to)
                    .map(|(j, _)| j.clone())
                {
                    Some(jid) => send(client, &jid, &signal),
                    None => {
                        self.status.borrow_mut().unknown_uid += 1;
                        log::debug!("xmpp: no member announced {}", to.short());
                    }
                }
            }
            XmppCommand::Stop => return false,
        }
        true
    }

    fn broadcast(&mut self, client: &mut Client, sig: Option<Signal>) {
        let Some(sig) = sig else { return };
        let mut body = [0u8; MAX_SIGNAL_LEN];
        if let Some(n) = sig.encode(&mut body) {
            let _ = client.broadcast_signal(&body[..n]);
        }
    }

    /// Carries the client's events to the node and keeps the UID map.
    fn pump(&mut self, client: &mut Client) {
        while let Some(ev) = client.poll_event() {
            let out = match ev {
                Event::Online => {
                    self.broadcast(client, self.announce.clone());
                    client.jid().cloned().map(|jid| XmppEvent::Online { jid })
                }
                Event::PeerPresent(jid) => {
                    if let Some(a) = self.announce.clone() {
                        send(client, &jid, &a);
                    }
                    Some(XmppEvent::PeerPresent(jid))
                }
                Event::PeerGone(jid) => {
                    let uid = self.uids.remove(&jid);
                    Some(XmppEvent::PeerGone { jid, uid })
                }
                Event::Signal { from, body } => Some(self.on_signal(from, &body)),
                Event::AuthFailed => Some(XmppEvent::AuthFailed),
                Event::Disconnected { retry_at, reason } => {
                    self.uids.clear();
                    let retry_in = retry_at.saturating_since(self.clock.now());
                    Some(XmppEvent::Disconnected { retry_in, reason })
                }
            };
            if let Some(e) = out {
                // Unbounded: fails only when the node is gone.
                let _ = self.events.try_send(e);
            }
        }
        let mut st = self.status.borrow_mut();
        st.state = client.state();
        st.jid = client.jid().cloned();
        st.counters = client.counters().clone();
        st.members = client
            .peers()
            .iter()
            .map(|j| (j.clone(), self.uids.get(j).copied()))
            .collect();
    }

    /// Decodes and checks a member's signal; learns its UID from an announce.
    fn on_signal(&mut self, from: FullJid, body: &[u8]) -> XmppEvent {
        let checked = signal::decode(body).and_then(|sig| {
            match &sig {
                Signal::Announce(a) => {
                    signal::check_announce(a, self.me.subnet)?;
                    if a.uid == self.me.uid {
                        return Err(SignalReject::DuplicateIp4);
                    }
                    let taken = self.uids.iter().any(|(j, u)| *u == a.uid && *j != from);
                    if taken {
                        return Err(SignalReject::DuplicateIp4);
                    }
                    self.uids.insert(from.clone(), a.uid);
                }
                other => {
                    // Only a member that announced this UID may speak for it.
                    if self.uids.get(&from) != Some(&other.sender()) {
                        return Err(SignalReject::UidMismatch);
                    }
                }
            }
            Ok(sig)
        });
        match checked {
            Ok(signal) => XmppEvent::Signal { from, signal },
            Err(reason) => {
                self.status.borrow_mut().rejects.count(reason);
                log::debug!("xmpp: signal from {from} rejected: {reason}");
                XmppEvent::Rejected { from, reason }
            }
        }
    }
}

fn send(client: &mut Client, to: &FullJid, sig: &Signal) {
    let mut body = [0u8; MAX_SIGNAL_LEN];
    if let Some(n) = sig.encode(&mut body) {
        if let Err(e) = client.send_signal(to, &body[..n]) {
            log::debug!("xmpp: signal to {to} not sent: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::signal::{Announce, LinkRequest, ROLE_CHORD};

    fn task() -> (Task, Receiver<XmppEvent>) {
        let (tx, rx) = smol::channel::unbounded();
        let me = LocalIdentity {
            uid: Uid::from_ip4(Ipv4Addr::new(10, 254, 0, 1)),
            subnet: (Ipv4Addr::new(10, 254, 0, 1), 16),
        };
        let status = Rc::new(RefCell::new(XmppStatus::new("x:5222".into())));
        let t = Task {
            me,
            events: tx,
            status,
            announce: None,
            uids: HashMap::new(),
            clock: Clock::new(),
        };
        (t, rx)
    }

    fn announce(ip: [u8; 4]) -> Vec<u8> {
        let ip4 = Ipv4Addr::from(ip);
        let a = Announce {
            uid: Uid::from_ip4(ip4),
            ip4,
            public_key: [7; 32],
            candidates: heapless::Vec::new(),
        };
        let mut buf = [0u8; MAX_SIGNAL_LEN];
        let n = Signal::Announce(a).encode(&mut buf).unwrap();
        buf[..n].to_vec()
    }

    fn jid(s: &str) -> FullJid {
        FullJid::new(s).unwrap()
    }

    #[test]
    fn announces_map_uids_and_rejects_are_counted() {
        let (mut t, _rx) = task();
        let bob = jid("bob@ipop.test/ipop1");
        let carol = jid("carol@ipop.test/ipop2");
        let bob_uid = Uid::from_ip4(Ipv4Addr::new(10, 254, 0, 2));
        match t.on_signal(bob.clone(), &announce([10, 254, 0, 2])) {
            XmppEvent::Signal {
                from,
                signal: Signal::Announce(a),
            } => assert_eq!((from, a.uid), (bob.clone(), bob_uid)),
            other => panic!("{other:?}"),
        }
        assert_eq!(t.uids.get(&bob), Some(&bob_uid));
        // Another member claiming the same address, or ours.
        let dup = t.on_signal(carol.clone(), &announce([10, 254, 0, 2]));
        assert_eq!(
            dup,
            XmppEvent::Rejected {
                from: carol.clone(),
                reason: SignalReject::DuplicateIp4
            }
        );
        let ours = t.on_signal(carol.clone(), &announce([10, 254, 0, 1]));
        assert_eq!(
            ours,
            XmppEvent::Rejected {
                from: carol.clone(),
                reason: SignalReject::DuplicateIp4
            }
        );
        let outside = t.on_signal(carol.clone(), &announce([10, 9, 0, 2]));
        assert_eq!(
            outside,
            XmppEvent::Rejected {
                from: carol.clone(),
                reason: SignalReject::OutsideSubnet
            }
        );
        // A link request speaks for a UID only from the JID that announced it.
        let req = Signal::LinkRequest(LinkRequest {
            uid: bob_uid,
            to: t.me.uid,
            role: ROLE_CHORD,
        });
        let mut buf = [0u8; MAX_SIGNAL_LEN];
        let n = req.encode(&mut buf).unwrap();
        assert_eq!(
            t.on_signal(bob.clone(), &buf[..n]),
            XmppEvent::Signal {
                from: bob,
                signal: req
            }
        );
        let forged = t.on_signal(carol.clone(), &buf[..n]);
        assert_eq!(
            forged,
            XmppEvent::Rejected {
                from: carol,
                reason: SignalReject::UidMismatch
            }
        );
        let st = t.status.borrow();
        let counts: Vec<(SignalReject, u64)> = st.rejects.iter().filter(|(_, n)| *n > 0).collect();
        assert_eq!(
            counts,
            [
                (SignalReject::UidMismatch, 1),
                (SignalReject::OutsideSubnet, 1),
                (SignalReject::DuplicateIp4, 2)
            ]
        );
    }

    #[test]
    fn settings_from_config() {
        let mut cfg = OverlayConfig::defaults_for_tap("ipop");
        assert!(XmppSettings::from_config(&cfg).unwrap().is_none());
        cfg.xmpp_username = Some("alice@ipop.test".into());
        assert_eq!(
            XmppSettings::from_config(&cfg)
                .err()
                .map(|e| e.to_string())
                .as_deref(),
            Some("xmpp_password is not set")
        );
        cfg.xmpp_password = Some("pw-secret".into());
        let s = XmppSettings::from_config(&cfg).unwrap().unwrap();
        assert_eq!(
            (s.host.as_str(), s.port, s.trust.clone()),
            ("ipop.test", 5222, Trust::SystemRoots)
        );
        assert!(!format!("{s:?}").contains("pw-secret"));
        cfg.xmpp_ca_file = Some("/ca.pem".into());
        cfg.xmpp_host = Some("127.0.0.1".into());
        let s = XmppSettings::from_config(&cfg).unwrap().unwrap();
        assert_eq!(
            (s.host.as_str(), s.trust),
            ("127.0.0.1", Trust::CaFile("/ca.pem".into()))
        );
        cfg.xmpp_pinned_cert = Some("/pin.der".into());
        assert_eq!(
            XmppSettings::from_config(&cfg).unwrap().unwrap().trust,
            Trust::Pinned("/pin.der".into())
        );
        cfg.xmpp_insecure = true;
        assert_eq!(
            XmppSettings::from_config(&cfg).unwrap().unwrap().trust,
            Trust::Insecure
        );
        cfg.xmpp_username = Some("ipop.test".into());
        assert!(matches!(
            XmppSettings::from_config(&cfg),
            Err(XmppError::BadJid(_))
        ));
    }
}
