//! Signal messages nodes exchange through XMPP (and gossip inside links):
//! who a node is (announce), link set-up (request / accept) and the
//! partition-healing pings. Each is one small JSON object; the format and its
//! test vectors are in docs/PROTOCOL.md, "Signalling".
//!
//! Decoding never trusts a peer: [`decode`] rejects what cannot be parsed and
//! [`check_announce`] rejects a well-formed but false or unusable announce.
//! Every reject has a reason the node counts ([`SignalRejectCounters`]).

use core::fmt::{self, Write};
use core::marker::PhantomData;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use serde::de::{Deserializer, SeqAccess, Visitor};
use serde::Deserialize;

use crate::config::base64;
use crate::core::candidate::{Candidate, CandidateKind};
use crate::core::identity::Uid;

/// Most candidates one announce may carry (host per interface, reflexive per
/// STUN server, relays); more is a reject, not a truncation.
pub const MAX_CANDIDATES: usize = 16;

/// Largest encoding of any signal (an announce with `MAX_CANDIDATES` IPv6
/// candidates with scope ids stays below 1800 bytes).
pub const MAX_SIGNAL_LEN: usize = 2048;

/// Why a link is wanted, as the topology names it.
pub const ROLE_SUCCESSOR: u8 = 0;
pub const ROLE_CHORD: u8 = 1;
pub const ROLE_ON_DEMAND: u8 = 2;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Announce {
    pub uid: Uid,
    pub ip4: Ipv4Addr,
    /// X25519 static public key.
    pub public_key: [u8; 32],
    pub candidates: heapless::Vec<Candidate, MAX_CANDIDATES>,
}

/// `uid` asks `to` for a link of `role`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkRequest {
    pub uid: Uid,
    pub to: Uid,
    pub role: u8,
}

/// `uid` agrees to the link `to` asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkAccept {
    pub uid: Uid,
    pub to: Uid,
    pub role: u8,
}

#[derive(Clone, Debug, PartialEq, Eq)]
// Unboxed on purpose: a signal is decoded into place without allocating.
#[allow(clippy::large_enum_variant)]
pub enum Signal {
    Announce(Announce),
    LinkRequest(LinkRequest),
    LinkAccept(LinkAccept),
    /// Partition-healing ping from `uid`.
    Ping {
        uid: Uid,
    },
    /// The answer to a ping, from `uid`.
    PingResp {
        uid: Uid,
    },
    /// The membership statement in force at `uid` (core::member; checked
    /// by the node, not here). On the heap: inline it would make every
    /// signal 1 kB bigger to move around.
    Members {
        uid: Uid,
        statement: Vec<u8>,
    },
}

impl Signal {
    /// The UID the sender claims.
    pub fn sender(&self) -> Uid {
        match self {
            Signal::Announce(a) => a.uid,
            Signal::LinkRequest(r) => r.uid,
            Signal::LinkAccept(a) => a.uid,
            Signal::Ping { uid } | Signal::PingResp { uid } | Signal::Members { uid, .. } => *uid,
        }
    }

    pub fn type_name(&self) -> &'static str {
        match self {
            Signal::Announce(_) => "announce",
            Signal::LinkRequest(_) => "link_req",
            Signal::LinkAccept(_) => "link_acc",
            Signal::Ping { .. } => "ping",
            Signal::PingResp { .. } => "ping_resp",
            Signal::Members { .. } => "members",
        }
    }

    /// Writes the JSON form into `out`; the length, or None if `out` is too
    /// small (`MAX_SIGNAL_LEN` always suffices).
    pub fn encode(&self, out: &mut [u8]) -> Option<usize> {
        let mut w = SliceWriter { buf: out, len: 0 };
        self.write_json(&mut w).ok()?;
        Some(w.len)
    }

    fn write_json(&self, w: &mut SliceWriter<'_>) -> fmt::Result {
        write!(
            w,
            "{{\"t\":\"{}\",\"uid\":\"{}\"",
            self.type_name(),
            self.sender()
        )?;
        match self {
            Signal::Announce(a) => {
                write!(w, ",\"ip4\":\"{}\",\"pk\":\"", a.ip4)?;
                write_base64_32(w, &a.public_key)?;
                w.write_str("\",\"cands\":[")?;
                for (i, c) in a.candidates.iter().enumerate() {
                    let sep = if i == 0 { "" } else { "," };
                    write!(
                        w,
                        "{sep}{{\"k\":\"{}\",\"a\":\"{}\",\"p\":{}}}",
                        c.kind.as_str(),
                        c.addr,
                        c.priority
                    )?;
                }
                w.write_str("]")?;
            }
            Signal::LinkRequest(LinkRequest { to, role, .. })
            | Signal::LinkAccept(LinkAccept { to, role, .. }) => {
                write!(w, ",\"to\":\"{to}\",\"role\":{role}")?;
            }
            Signal::Ping { .. } | Signal::PingResp { .. } => {}
            Signal::Members { statement, .. } => {
                w.write_str(",\"st\":\"")?;
                write_base64(w, statement)?;
                w.write_str("\"")?;
            }
        }
        w.write_str("}")
    }
}

/// Why a signal was not accepted. Counted per reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SignalReject {
    /// Not JSON, a missing or mistyped field, a bad UID or IPv4 spelling.
    Malformed,
    /// A `t` this version does not know.
    UnknownType,
    /// The UID is not SHA-1 of the claimed ip4.
    UidMismatch,
    /// The ip4 is outside the overlay subnet (or its network/broadcast address).
    OutsideSubnet,
    /// Another UID already holds this ip4 (the node checks; see [`check_announce`]).
    DuplicateIp4,
    /// Not 32 bytes of base64, or all zero.
    BadPublicKey,
    /// More than `MAX_CANDIDATES` candidates.
    TooManyCandidates,
    /// A candidate with an unknown kind, an unparsable or unusable address.
    BadCandidate,
}

impl SignalReject {
    pub const ALL: [SignalReject; 8] = [
        SignalReject::Malformed,
        SignalReject::UnknownType,
        SignalReject::UidMismatch,
        SignalReject::OutsideSubnet,
        SignalReject::DuplicateIp4,
        SignalReject::BadPublicKey,
        SignalReject::TooManyCandidates,
        SignalReject::BadCandidate,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            SignalReject::Malformed => "malformed",
            SignalReject::UnknownType => "unknown_type",
            SignalReject::UidMismatch => "uid_mismatch",
            SignalReject::OutsideSubnet => "outside_subnet",
            SignalReject::DuplicateIp4 => "duplicate_ip4",
            SignalReject::BadPublicKey => "bad_public_key",
            SignalReject::TooManyCandidates => "too_many_candidates",
            SignalReject::BadCandidate => "bad_candidate",
        }
    }

    const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for SignalReject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            SignalReject::Malformed => "malformed signal",
            SignalReject::UnknownType => "unknown signal type",
            SignalReject::UidMismatch => "UID is not SHA-1 of the claimed IPv4",
            SignalReject::OutsideSubnet => "IPv4 outside the overlay subnet",
            SignalReject::DuplicateIp4 => "IPv4 already held by another UID",
            SignalReject::BadPublicKey => "public key is not 32 non-zero bytes",
            SignalReject::TooManyCandidates => "too many candidates",
            SignalReject::BadCandidate => "unusable candidate",
        };
        f.write_str(text)
    }
}

/// Reject counts by reason, for `ipop status`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SignalRejectCounters([u64; SignalReject::ALL.len()]);

impl SignalRejectCounters {
    pub fn count(&mut self, r: SignalReject) {
        let c = &mut self.0[r.index()];
        *c = c.saturating_add(1);
    }

    pub fn get(&self, r: SignalReject) -> u64 {
        self.0[r.index()]
    }

    /// `(reason, count)` for every reason, in `SignalReject::ALL` order.
    pub fn iter(&self) -> impl Iterator<Item = (SignalReject, u64)> + '_ {
        SignalReject::ALL.iter().map(|&r| (r, self.get(r)))
    }
}

/// Checks what an announce claims against the overlay subnet `(any address
/// in it, prefix length)`. Whether another UID already holds `ip4` needs the
/// node's peer table, so the node checks that and counts `DuplicateIp4`.
pub fn check_announce(a: &Announce, subnet: (Ipv4Addr, u8)) -> Result<(), SignalReject> {
    if Uid::from_ip4(a.ip4) != a.uid {
        return Err(SignalReject::UidMismatch);
    }
    if !host_in_subnet(a.ip4, subnet) {
        return Err(SignalReject::OutsideSubnet);
    }
    if a.public_key == [0u8; 32] {
        return Err(SignalReject::BadPublicKey);
    }
    // The type bounds the list; the check stays in case the bound changes.
    if a.candidates.len() > MAX_CANDIDATES {
        return Err(SignalReject::TooManyCandidates);
    }
    if a.candidates.iter().any(|c| !candidate_sane(c, subnet)) {
        return Err(SignalReject::BadCandidate);
    }
    Ok(())
}

fn subnet_mask(prefix: u8) -> u32 {
    match prefix {
        0 => 0,
        p if p >= 32 => u32::MAX,
        p => u32::MAX << (32 - p),
    }
}

fn in_subnet(ip: Ipv4Addr, (net, prefix): (Ipv4Addr, u8)) -> bool {
    let mask = subnet_mask(prefix);
    u32::from(ip) & mask == u32::from(net) & mask
}

/// In the subnet and not its network or broadcast address (for /30 and wider).
fn host_in_subnet(ip: Ipv4Addr, subnet: (Ipv4Addr, u8)) -> bool {
    if !in_subnet(ip, subnet) {
        return false;
    }
    let mask = subnet_mask(subnet.1);
    let host = u32::from(ip) & !mask;
    subnet.1 >= 31 || (host != 0 && host != !mask)
}

/// A usable transport address: a port, a unicast IP, and not inside the
/// overlay itself (that would tunnel the overlay through itself).
fn candidate_sane(c: &Candidate, subnet: (Ipv4Addr, u8)) -> bool {
    if c.addr.port() == 0 {
        return false;
    }
    match c.addr.ip() {
        IpAddr::V4(ip) => {
            !(ip.is_unspecified()
                || ip.is_multicast()
                || ip.is_broadcast()
                || in_subnet(ip, subnet))
        }
        IpAddr::V6(ip) => !(ip.is_unspecified() || ip.is_multicast()),
    }
}

/// Parses one signal. Field order is free, unknown fields are ignored (so
/// later versions may add some). String escapes are not decoded, so an
/// escaped value never matches a UID, address or type and is rejected.
pub fn decode(json: &[u8]) -> Result<Signal, SignalReject> {
    let (w, _) =
        serde_json_core::from_slice::<Wire<'_>>(json).map_err(|_| SignalReject::Malformed)?;
    let uid = Uid::from_hex(w.uid).ok_or(SignalReject::Malformed)?;
    let peer = |to: Option<&str>| to.and_then(Uid::from_hex);
    let role = w.role.ok_or(SignalReject::Malformed);
    Ok(match w.t {
        "announce" => Signal::Announce(decode_announce(uid, &w)?),
        "link_req" => Signal::LinkRequest(LinkRequest {
            uid,
            to: peer(w.to).ok_or(SignalReject::Malformed)?,
            role: role?,
        }),
        "link_acc" => Signal::LinkAccept(LinkAccept {
            uid,
            to: peer(w.to).ok_or(SignalReject::Malformed)?,
            role: role?,
        }),
        "ping" => Signal::Ping { uid },
        "ping_resp" => Signal::PingResp { uid },
        "members" => {
            let bytes = base64::decode(w.st.ok_or(SignalReject::Malformed)?)
                .ok_or(SignalReject::Malformed)?;
            if bytes.len() > crate::core::member::MAX_STATEMENT_LEN {
                return Err(SignalReject::Malformed);
            }
            Signal::Members {
                uid,
                statement: bytes,
            }
        }
        _ => return Err(SignalReject::UnknownType),
    })
}

fn decode_announce(uid: Uid, w: &Wire<'_>) -> Result<Announce, SignalReject> {
    let ip4 = w
        .ip4
        .and_then(|s| s.parse().ok())
        .ok_or(SignalReject::Malformed)?;
    let pk = base64::decode(w.pk.ok_or(SignalReject::Malformed)?);
    let public_key = pk
        .and_then(|k| <[u8; 32]>::try_from(k.as_slice()).ok())
        .ok_or(SignalReject::BadPublicKey)?;
    let cands = w.cands.as_ref().ok_or(SignalReject::Malformed)?;
    if cands.overflow {
        return Err(SignalReject::TooManyCandidates);
    }
    let mut candidates = heapless::Vec::new();
    for c in &cands.items {
        let kind = CandidateKind::parse(c.k).ok_or(SignalReject::BadCandidate)?;
        let addr: SocketAddr = c.a.parse().map_err(|_| SignalReject::BadCandidate)?;
        // Cannot fail: `items` has the same capacity.
        let _ = candidates.push(Candidate {
            kind,
            addr,
            priority: c.p,
        });
    }
    Ok(Announce {
        uid,
        ip4,
        public_key,
        candidates,
    })
}

#[derive(Deserialize)]
struct Wire<'a> {
    t: &'a str,
    uid: &'a str,
    #[serde(default)]
    to: Option<&'a str>,
    #[serde(default)]
    role: Option<u8>,
    #[serde(default)]
    ip4: Option<&'a str>,
    #[serde(default)]
    pk: Option<&'a str>,
    #[serde(default, borrow)]
    cands: Option<WireCands<'a>>,
    #[serde(default)]
    st: Option<&'a str>,
}

#[derive(Deserialize)]
struct WireCand<'a> {
    k: &'a str,
    a: &'a str,
    p: u32,
}

/// The candidate array, keeping the first `MAX_CANDIDATES` and noting any
/// more, so an oversized list is told apart from malformed JSON.
struct WireCands<'a> {
    items: heapless::Vec<WireCand<'a>, MAX_CANDIDATES>,
    overflow: bool,
}

impl<'de: 'a, 'a> Deserialize<'de> for WireCands<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = WireCands<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a candidate array")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = WireCands {
                    items: heapless::Vec::new(),
                    overflow: false,
                };
                while let Some(c) = seq.next_element::<WireCand<'a>>()? {
                    if out.items.push(c).is_err() {
                        out.overflow = true;
                    }
                }
                Ok(out)
            }
        }
        d.deserialize_seq(V(PhantomData))
    }
}

/// `fmt::Write` into a fixed slice; fails instead of truncating.
struct SliceWriter<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl Write for SliceWriter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len.checked_add(s.len()).ok_or(fmt::Error)?;
        let dst = self.buf.get_mut(self.len..end).ok_or(fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Standard padded base64 of a key without allocating (44 characters).
fn write_base64_32(w: &mut SliceWriter<'_>, key: &[u8; 32]) -> fmt::Result {
    write_base64(w, key)
}

fn write_base64(w: &mut SliceWriter<'_>, key: &[u8]) -> fmt::Result {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for chunk in key.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            let c = if i <= chunk.len() {
                A[((n >> (18 - 6 * i)) & 63) as usize]
            } else {
                b'='
            };
            w.write_char(c as char)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
