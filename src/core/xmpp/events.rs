//! What the client reports: events, its state for `ipop status`, why a
//! connection ended, and counters.

use core::fmt;

use jid::FullJid;

use super::scram::ScramError;
use super::xml::XmlError;
use crate::core::time::Instant;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// Bound, session up, presence sent: signals can flow.
    Online,
    /// A group member's available presence arrived (once per member).
    PeerPresent(FullJid),
    /// A member sent unavailable presence.
    PeerGone(FullJid),
    /// A signal from a present member (the JSON text, unparsed).
    Signal { from: FullJid, body: Vec<u8> },
    /// The server refused our credentials (reported before `Disconnected`).
    AuthFailed,
    /// The connection ended; every member is forgotten (no `PeerGone` each)
    /// and the next attempt is at `retry_at`. Links are not affected.
    Disconnected {
        retry_at: Instant,
        reason: CloseReason,
    },
}

/// Why a connection attempt or session ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CloseReason {
    /// TCP closed, reset or failed to connect (reported by the shell).
    ConnectionLost,
    /// The server ended the stream (`</stream:stream>`).
    ServerClosed,
    /// `<stream:error>` with this condition.
    StreamError(String),
    Xml(XmlError),
    /// The server offers no STARTTLS, or refused it.
    NoTls,
    /// The TLS handshake or certificate check failed (reported by the shell).
    TlsFailed,
    /// The server rejected our credentials (SASL condition).
    AuthFailed(String),
    /// Neither SCRAM-SHA-1 nor PLAIN is offered.
    NoMechanism,
    Scram(ScramError),
    /// Binding or session establishment failed.
    BindFailed,
    PingTimeout,
    NegotiationTimeout,
    /// The server sent something out of order.
    Protocol,
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseReason::ConnectionLost => f.write_str("connection lost or refused"),
            CloseReason::ServerClosed => f.write_str("server closed the stream"),
            CloseReason::StreamError(c) => write!(f, "stream error: {c}"),
            CloseReason::Xml(e) => write!(f, "bad XML from server: {e}"),
            CloseReason::NoTls => f.write_str("server does not offer STARTTLS (TLS is required)"),
            CloseReason::TlsFailed => f.write_str("TLS handshake or certificate check failed"),
            CloseReason::AuthFailed(c) => write!(
                f,
                "authentication failed ({c}): check xmpp_username / xmpp_password"
            ),
            CloseReason::NoMechanism => f.write_str("server offers neither SCRAM-SHA-1 nor PLAIN"),
            CloseReason::Scram(e) => write!(f, "SCRAM: {e}"),
            CloseReason::BindFailed => f.write_str("resource binding or session failed"),
            CloseReason::PingTimeout => f.write_str("server did not answer a ping"),
            CloseReason::NegotiationTimeout => f.write_str("server too slow to finish login"),
            CloseReason::Protocol => f.write_str("unexpected stanza from server"),
        }
    }
}

/// The client's state, for `ipop status`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum State {
    /// Waiting for the shell to open TCP.
    Connecting,
    /// TCP up, TLS / SASL / bind in progress.
    Negotiating,
    Online,
    /// Disconnected; the next attempt is at `until`.
    BackOff {
        until: Instant,
        reason: CloseReason,
    },
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            State::Connecting => f.write_str("connecting"),
            State::Negotiating => f.write_str("logging in"),
            State::Online => f.write_str("online"),
            State::BackOff { reason, .. } => write!(f, "back-off ({reason})"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SendError {
    NotOnline,
    /// Not UTF-8 or longer than `MAX_SIGNAL_LEN`.
    BadBody,
    /// The output queue is full (the server is not reading).
    QueueFull,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SendError::NotOnline => "XMPP not online",
            SendError::BadBody => "signal body not UTF-8 or too long",
            SendError::QueueFull => "XMPP output queue full",
        })
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub connects: u64,
    pub signals_in: u64,
    pub signals_out: u64,
    /// Signals from a JID that is not a present member.
    pub signals_not_member: u64,
    /// Signals too long, not UTF-8 or with bad XML escapes.
    pub signals_bad: u64,
    /// Stanzas we do not handle (ignored, IQs answered with an error).
    pub stanzas_unknown: u64,
    /// Members not tracked because `MAX_PEERS` was reached.
    pub peers_over_limit: u64,
}
