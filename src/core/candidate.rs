//! Transport candidates: addresses where a peer may be reached, as gathered
//! locally (host), learned from STUN (server-reflexive), allocated on a TURN
//! server (relay), or seen on an authenticated packet (peer-reflexive).

use core::fmt;
use std::net::SocketAddr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CandidateKind {
    Host,
    ServerReflexive,
    PeerReflexive,
    Relay,
}

impl CandidateKind {
    /// RFC 8445 §5.1.2.2 recommended type preferences.
    pub const fn type_preference(self) -> u32 {
        match self {
            CandidateKind::Host => 126,
            CandidateKind::PeerReflexive => 110,
            CandidateKind::ServerReflexive => 100,
            CandidateKind::Relay => 0,
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            CandidateKind::Host => "host",
            CandidateKind::ServerReflexive => "srflx",
            CandidateKind::PeerReflexive => "prflx",
            CandidateKind::Relay => "relay",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "host" => CandidateKind::Host,
            "srflx" => CandidateKind::ServerReflexive,
            "prflx" => CandidateKind::PeerReflexive,
            "relay" => CandidateKind::Relay,
            _ => return None,
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Candidate {
    pub kind: CandidateKind,
    pub addr: SocketAddr,
    /// RFC 8445 §5.1.2.1 priority; higher is better.
    pub priority: u32,
}

impl Candidate {
    /// A candidate with the RFC 8445 priority for component 1; `local_pref`
    /// orders candidates of one kind (e.g. by interface).
    pub fn new(kind: CandidateKind, addr: SocketAddr, local_pref: u16) -> Self {
        let priority = (kind.type_preference() << 24) | ((local_pref as u32) << 8) | (256 - 1);
        Candidate {
            kind,
            addr,
            priority,
        }
    }
}

impl fmt::Display for Candidate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind.as_str(), self.addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priorities_order_kinds() {
        let a: SocketAddr = "10.0.0.1:5800".parse().unwrap();
        let host = Candidate::new(CandidateKind::Host, a, 65535);
        let srflx = Candidate::new(CandidateKind::ServerReflexive, a, 65535);
        let relay = Candidate::new(CandidateKind::Relay, a, 65535);
        assert_eq!(host.priority, 0x7EFF_FFFF);
        assert!(host.priority > srflx.priority && srflx.priority > relay.priority);
        assert_eq!(
            CandidateKind::parse("srflx"),
            Some(CandidateKind::ServerReflexive)
        );
        assert_eq!(CandidateKind::parse("x"), None);
    }
}
