//! One login for `ipop check --online`: connect, STARTTLS, authenticate,
//! bind, fetch the roster, send presence, collect the members that are
//! present within a moment, log out.

use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, Instant as StdInstant};

use super::conn::{self, Wake};
use super::{tls, Trust, XmppError, XmppSettings};
use crate::config::OverlayConfig;
use crate::core::identity::Uid;
use crate::core::rng::Rng;
use crate::core::xmpp::{CloseReason, Event};
use crate::io::run::Clock;

/// Whole probe limit.
const PROBE_TIMEOUT: Duration = Duration::from_secs(20);
/// How long to listen for members' presence once online.
const LISTEN: Duration = Duration::from_millis(2500);

#[derive(Clone, Debug)]
pub struct ProbeReport {
    pub server: String,
    pub address: SocketAddr,
    pub tls: String,
    pub certificate_check: &'static str,
    pub mechanism: &'static str,
    pub jid: String,
    pub roster_items: Option<usize>,
    /// Members whose available presence arrived while we listened.
    pub members: Vec<String>,
    pub elapsed: Duration,
}

impl fmt::Display for ProbeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "xmpp: online as {}", self.jid)?;
        writeln!(f, "xmpp server: {} ({})", self.server, self.address)?;
        writeln!(
            f,
            "xmpp tls: {} (certificate: {})",
            self.tls, self.certificate_check
        )?;
        writeln!(f, "xmpp auth: {}", self.mechanism)?;
        match self.roster_items {
            Some(n) => writeln!(f, "xmpp roster: {n} items")?,
            None => writeln!(f, "xmpp roster: no answer")?,
        }
        writeln!(f, "xmpp members seen: {}", self.members.len())?;
        for m in &self.members {
            writeln!(f, "  {m}")?;
        }
        write!(f, "xmpp login took {} ms", self.elapsed.as_millis())
    }
}

fn trust_name(t: &Trust) -> &'static str {
    match t {
        Trust::SystemRoots => "system roots",
        Trust::CaFile(_) => "xmpp_ca_file",
        Trust::Pinned(_) => "pinned (xmpp_pinned_cert)",
        Trust::Insecure => "NOT CHECKED (xmpp_insecure)",
    }
}

/// Logs in once with the config's account and reports what happened.
pub fn probe(cfg: &OverlayConfig) -> Result<ProbeReport, XmppError> {
    let settings = XmppSettings::from_config(cfg)?.ok_or(XmppError::NotConfigured)?;
    let tls_cfg = tls::client_config(&settings.trust).map_err(XmppError::Tls)?;
    if settings.trust == Trust::Insecure {
        log::warn!("xmpp: xmpp_insecure is set: the server certificate is NOT checked");
    }
    let mut seed = [0u8; 32];
    getrandom::getrandom(&mut seed)
        .map_err(|e| XmppError::Handshake(std::io::Error::other(e.to_string())))?;
    let uid = Uid::from_ip4(cfg.ip4);
    let mut client = settings.client(uid, Rng::from_seed(seed));
    let clock = Clock::new();
    let started = StdInstant::now();
    let server = settings.server();
    smol::block_on(smol::future::or(
        async {
            let mut conn = conn::connect(&settings.host, settings.port)
                .await
                .map_err(|error| XmppError::Connect {
                    server: server.clone(),
                    error,
                })?;
            client.handle_connected(clock.now());
            let mut buf = vec![0u8; 16 * 1024];
            let mut online_at = None;
            let mut members = Vec::new();
            let result = loop {
                while let Some(ev) = client.poll_event() {
                    match ev {
                        Event::Online => online_at = Some(StdInstant::now()),
                        Event::PeerPresent(j) => members.push(j.to_string()),
                        _ => {}
                    }
                }
                if let Some(reason) = failed(&client) {
                    break Err(XmppError::Login(reason));
                }
                if conn.flush(&mut client).await.is_err() {
                    break Err(XmppError::Login(CloseReason::ConnectionLost));
                }
                if client.wants_tls() {
                    if let Err(e) = conn.start_tls(tls_cfg.clone(), client.server_name()).await {
                        break Err(XmppError::Handshake(e));
                    }
                    client.handle_tls_established(clock.now());
                    continue;
                }
                if online_at.is_some_and(|t| t.elapsed() >= LISTEN) {
                    break Ok(ProbeReport {
                        server: server.clone(),
                        address: conn.peer,
                        tls: conn.tls_description(),
                        certificate_check: trust_name(&settings.trust),
                        mechanism: client.mechanism().unwrap_or("?"),
                        jid: client.jid().map(|j| j.to_string()).unwrap_or_default(),
                        roster_items: client.roster_items(),
                        members: members.clone(),
                        elapsed: started.elapsed(),
                    });
                }
                let listen = async {
                    match online_at {
                        Some(t) => async_io::Timer::at(t + LISTEN).await,
                        None => std::future::pending().await,
                    };
                    Wake::<()>::Timer
                };
                let woke = smol::future::or(
                    conn::wait::<()>(&mut conn, &client, &clock, None, &mut buf),
                    listen,
                )
                .await;
                match woke {
                    Wake::Input(Ok(Some(data))) => client.handle_input(clock.now(), &data),
                    Wake::Input(_) => client.handle_closed(clock.now()),
                    Wake::Timer | Wake::Command(_) => client.handle_timeout(clock.now()),
                }
            };
            conn.close(&mut client).await;
            result
        },
        async {
            async_io::Timer::after(PROBE_TIMEOUT).await;
            Err(XmppError::Timeout)
        },
    ))
}

/// The reason the attempt ended, if it did.
fn failed(client: &crate::core::xmpp::Client) -> Option<CloseReason> {
    match client.state() {
        crate::core::xmpp::State::BackOff { reason, .. } => Some(reason),
        _ => None,
    }
}
