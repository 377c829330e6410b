//! A minimal sans-IO XMPP client for signalling (RFC 6120/6121): stream
//! negotiation, STARTTLS (the shell runs TLS and calls back), SASL
//! SCRAM-SHA-1 (PLAIN only inside TLS), resource binding, session, presence,
//! roster, XEP-0199 pings both ways, and reconnect back-off. Group
//! membership is the set of `ipop*` resources whose presence the server
//! delivers; signals travel as `<ipop xmlns="urn:ipop:signal:1">` children
//! of chat messages (docs/PROTOCOL.md, "Signalling").
//!
//! Driving it: see `Client` and `src/io/xmpp.rs`.

pub mod backoff;
mod client;
mod events;
pub mod scram;
pub mod xml;

#[cfg(test)]
mod tests;

pub use client::{Client, ClientConfig};
pub use events::{CloseReason, Counters, Event, SendError, State};

use core::time::Duration;

/// Namespace of the element that carries a signal.
pub const SIGNAL_NS: &str = "urn:ipop:signal:1";
/// Our resources (and the ones we treat as group members) start with this.
pub const RESOURCE_PREFIX: &str = "ipop";
/// Our XEP-0199 pings to the server.
pub const PING_INTERVAL: Duration = Duration::from_secs(30);
/// A ping unanswered this long means the connection is dead.
pub const PING_TIMEOUT: Duration = Duration::from_secs(15);
/// Available presence is re-sent this often, as IPOP 16.01 did.
pub const PRESENCE_INTERVAL: Duration = Duration::from_secs(120);
/// From TCP connect to online, or the attempt is abandoned.
pub const NEGOTIATION_TIMEOUT: Duration = Duration::from_secs(30);
/// Peers tracked at most; presence beyond this is ignored (and counted).
pub const MAX_PEERS: usize = 1024;
/// Unsent output kept at most; signals beyond it are refused.
pub const MAX_OUTPUT: usize = 256 * 1024;
