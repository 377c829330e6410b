//! A snapshot of the node for `ipop status`, as a table or as JSON.

use core::fmt::Write;
use core::time::Duration;
use std::net::{Ipv4Addr, SocketAddr};

use super::{Node, NodeDrop};
use crate::core::identity::Uid;
use crate::core::time::Instant;

pub struct NodeStatus {
    pub uid: Uid,
    pub ip4: Ipv4Addr,
    pub ip6: std::net::Ipv6Addr,
    /// Why the overlay runs IPv4-only (the shell knows: the kernel refused
    /// IPv6 on the TAP), `None` when `ip6` is set on the TAP.
    pub ip6_off: Option<String>,
    pub public_key: [u8; 32],
    pub switchmode: bool,
    pub uptime: Duration,
    pub peers: Vec<PeerStatus>,
    /// Drop counters by reason, link layer and node.
    pub drops: Vec<(&'static str, u64)>,
}

pub struct PeerStatus {
    pub uid: Option<Uid>,
    pub ip4: Option<Ipv4Addr>,
    pub public_key: [u8; 32],
    pub source: &'static str,
    pub endpoint: Option<SocketAddr>,
    /// The underlay family of `endpoint`: "ipv4", "ipv6" or "-".
    pub family: &'static str,
    /// host / srflx / prflx / relay-turn / relay-overlay / none
    pub path: &'static str,
    pub established: bool,
    pub last_handshake_age: Option<Duration>,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub forwarded_packets: u64,
    pub forwarded_bytes: u64,
    /// Topology roles: successor, chord, on-demand, inbound (comma-joined).
    pub roles: String,
    /// Path MTU of the link (underlay datagram bytes) and whether it is
    /// still being probed.
    pub path_mtu: Option<(u16, bool)>,
}

impl Node {
    pub fn status(&self, now: Instant) -> NodeStatus {
        let mut drops: Vec<(&'static str, u64)> = Vec::new();
        for r in crate::core::link::DropReason::ALL {
            drops.push((
                r.as_str(),
                self.links.drops().get(r as usize).copied().unwrap_or(0),
            ));
        }
        for r in NodeDrop::ALL {
            drops.push((r.as_str(), self.drops[r as usize]));
        }
        for r in super::fragment::FragDrop::ALL {
            drops.push((r.as_str(), self.frag.drops()[r as usize]));
        }
        let nat = self.nat.stats();
        for (r, n) in crate::core::stun::error::StunDrop::ALL
            .iter()
            .zip(nat.drops)
        {
            drops.push((stun_drop_name(*r), n));
        }
        let peers = self
            .peers
            .iter()
            .flatten()
            .map(|p| {
                let st = self.links.stats(p.id);
                let up = self.is_up(now, p.id);
                let path = match (up, p.path_kind()) {
                    (true, Some(k)) => match k {
                        crate::core::candidate::CandidateKind::Host => "host",
                        crate::core::candidate::CandidateKind::ServerReflexive => "srflx",
                        crate::core::candidate::CandidateKind::PeerReflexive => "prflx",
                        crate::core::candidate::CandidateKind::Relay => "relay-turn",
                    },
                    _ if p.uid().and_then(|u| self.next_hop(now, &u, None)).is_some() => {
                        "relay-overlay"
                    }
                    _ => "none",
                };
                PeerStatus {
                    uid: p.uid(),
                    ip4: p.ident.map(|i| i.ip4),
                    public_key: p.public_key,
                    source: p.source.as_str(),
                    endpoint: p.path,
                    family: match p.path {
                        Some(SocketAddr::V4(_)) => "ipv4",
                        Some(SocketAddr::V6(_)) => "ipv6",
                        None => "-",
                    },
                    path,
                    established: up,
                    last_handshake_age: st
                        .and_then(|s| s.last_handshake)
                        .map(|t| now.saturating_since(t)),
                    rx_bytes: st.map_or(0, |s| s.rx_bytes),
                    tx_bytes: st.map_or(0, |s| s.tx_bytes),
                    rx_packets: st.map_or(0, |s| s.rx_packets),
                    tx_packets: st.map_or(0, |s| s.tx_packets),
                    forwarded_packets: p.forwarded_packets,
                    forwarded_bytes: p.forwarded_bytes,
                    roles: p
                        .uid()
                        .map(|u| role_names(self.topology.roles(&u)))
                        .unwrap_or_default(),
                    path_mtu: up.then(|| self.path_mtu(p.id)).flatten(),
                }
            })
            .collect();
        NodeStatus {
            uid: self.uid,
            ip4: self.cfg.ip4,
            ip6: self.uid.ip6(self.cfg.ip6_prefix),
            ip6_off: None,
            public_key: self.links.public_key(),
            switchmode: self.cfg.switchmode,
            uptime: now.saturating_since(self.started),
            peers,
            drops,
        }
    }
}

/// STUN/TURN drop names, prefixed so they never clash with the link's.
fn stun_drop_name(r: crate::core::stun::error::StunDrop) -> &'static str {
    use crate::core::stun::error::StunDrop;
    match r {
        StunDrop::Truncated => "stun_truncated",
        StunDrop::Malformed => "stun_malformed",
        StunDrop::BadFingerprint => "stun_bad_fingerprint",
        StunDrop::Unauthenticated => "stun_unauthenticated",
        StunDrop::UnexpectedTransaction => "stun_unexpected_transaction",
        StunDrop::UnexpectedMessage => "stun_unexpected_message",
        StunDrop::BadChannelData => "stun_bad_channel_data",
    }
}

fn role_names(r: crate::core::topology::Roles) -> String {
    use crate::core::topology::Roles;
    let names = [
        (Roles::SUCCESSOR, "successor"),
        (Roles::CHORD, "chord"),
        (Roles::ON_DEMAND, "on-demand"),
        (Roles::INBOUND, "inbound"),
    ];
    let v: Vec<&str> = names
        .iter()
        .filter(|(f, _)| r.contains(*f))
        .map(|(_, n)| *n)
        .collect();
    v.join(",")
}

/// Minimal JSON string escaping for status output.
pub fn json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn opt<T: core::fmt::Display>(v: &Option<T>) -> String {
    v.as_ref()
        .map(|v| v.to_string())
        .unwrap_or_else(|| "-".into())
}

impl NodeStatus {
    /// JSON object; `extra` are shell-side fields (`"key": value` pairs, already JSON).
    pub fn to_json(&self, extra: &[(&str, String)]) -> String {
        let mut o = String::from("{");
        let _ = write!(
            o,
            "\"uid\":\"{}\",\"ip4\":\"{}\",\"ip6\":\"{}\",\"public_key\":\"{}\",\"switchmode\":{},\"uptime_s\":{}",
            self.uid,
            self.ip4,
            self.ip6,
            crate::config::base64::encode(&self.public_key),
            self.switchmode,
            self.uptime.as_secs()
        );
        let _ = write!(o, ",\"ip6_enabled\":{}", self.ip6_off.is_none());
        o.push_str(",\"ip6_off_reason\":");
        match &self.ip6_off {
            Some(why) => json_str(&mut o, why),
            None => o.push_str("null"),
        }
        for (k, v) in extra {
            o.push(',');
            json_str(&mut o, k);
            o.push(':');
            o.push_str(v);
        }
        o.push_str(",\"peers\":[");
        for (i, p) in self.peers.iter().enumerate() {
            if i > 0 {
                o.push(',');
            }
            let q = |v: &Option<String>| {
                v.as_ref()
                    .map(|s| format!("\"{s}\""))
                    .unwrap_or_else(|| "null".into())
            };
            let _ = write!(
                o,
                "{{\"uid\":{},\"ip4\":{},\"public_key\":\"{}\",\"source\":\"{}\",\"endpoint\":{},\"family\":\"{}\",\"path\":\"{}\",\"established\":{},\"last_handshake_s\":{},\"rx_bytes\":{},\"tx_bytes\":{},\"rx_packets\":{},\"tx_packets\":{},\"forwarded_packets\":{},\"forwarded_bytes\":{},\"roles\":\"{}\",\"path_mtu\":{},\"path_mtu_searching\":{}}}",
                q(&p.uid.map(|u| u.to_string())),
                q(&p.ip4.map(|u| u.to_string())),
                crate::config::base64::encode(&p.public_key),
                p.source,
                q(&p.endpoint.map(|u| u.to_string())),
                p.family,
                p.path,
                p.established,
                p.last_handshake_age.map(|d| d.as_secs().to_string()).unwrap_or_else(|| "null".into()),
                p.rx_bytes,
                p.tx_bytes,
                p.rx_packets,
                p.tx_packets,
                p.forwarded_packets,
                p.forwarded_bytes,
                p.roles,
                p.path_mtu.map_or("null".into(), |m| m.0.to_string()),
                p.path_mtu.is_some_and(|m| m.1),
            );
        }
        o.push_str("],\"drops\":{");
        for (i, (k, v)) in self.drops.iter().enumerate() {
            if i > 0 {
                o.push(',');
            }
            let _ = write!(o, "\"{k}\":{v}");
        }
        o.push_str("}}");
        o
    }

    /// A human-readable table; `extra` lines are printed after the header.
    pub fn to_text(&self, extra: &[(&str, String)]) -> String {
        let mut o = String::new();
        let _ = writeln!(o, "node     {} uid {}", self.ip4, self.uid);
        match &self.ip6_off {
            None => {
                let _ = writeln!(o, "ip6      {}/64", self.ip6);
            }
            Some(why) => {
                let _ = writeln!(o, "ip6      off: {why} (IPv4-only)");
            }
        }
        let _ = writeln!(
            o,
            "key      {}",
            crate::config::base64::encode(&self.public_key)
        );
        let _ = writeln!(
            o,
            "mode     {}",
            if self.switchmode {
                "switch (L2)"
            } else {
                "routed (L3)"
            }
        );
        let _ = writeln!(o, "uptime   {} s", self.uptime.as_secs());
        for (k, v) in extra {
            let _ = writeln!(o, "{k:<8} {v}");
        }
        let _ = writeln!(
            o,
            "\n{:<15} {:<8} {:<7} {:<14} {:<22} {:>5} {:>5} {:>10} {:>10} {:>8} {:<4} roles",
            "peer",
            "uid",
            "source",
            "path",
            "endpoint",
            "pmtu",
            "hs_s",
            "rx_bytes",
            "tx_bytes",
            "fwd_pkts",
            "af",
        );
        for p in &self.peers {
            let _ = writeln!(
                o,
                "{:<15} {:<8} {:<7} {:<14} {:<22} {:>5} {:>5} {:>10} {:>10} {:>8} {:<4} {}",
                opt(&p.ip4),
                p.uid
                    .map(|u| u.short().to_string())
                    .unwrap_or_else(|| "-".into()),
                p.source,
                p.path,
                opt(&p.endpoint),
                // A trailing `?` while the search still runs.
                p.path_mtu
                    .map(|(m, searching)| format!("{m}{}", if searching { "?" } else { "" }))
                    .unwrap_or_else(|| "-".into()),
                p.last_handshake_age
                    .map(|d| d.as_secs().to_string())
                    .unwrap_or_else(|| "-".into()),
                p.rx_bytes,
                p.tx_bytes,
                p.forwarded_packets,
                p.family,
                p.roles
            );
        }
        let nonzero: Vec<String> = self
            .drops
            .iter()
            .filter(|d| d.1 > 0)
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let _ = writeln!(
            o,
            "\ndrops    {}",
            if nonzero.is_empty() {
                "none".into()
            } else {
                nonzero.join(" ")
            }
        );
        o
    }
}
