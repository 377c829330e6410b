//! TEMPORARY stand-in with the agreed API of the Noise link layer, so the node
//! compiles until core/link lands. NOT ENCRYPTED. Replaced by the real module.
#![allow(dead_code, unused_variables)]
use std::net::SocketAddr;

use super::rng::Rng;
use super::time::Instant;

pub const TRANSPORT_OVERHEAD: usize = 32;

pub struct LinkConfig {
    pub static_secret: [u8; 32],
    pub psk: [u8; 32],
    pub max_peers: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PeerId(pub u16);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkError {
    NoSession,
    Full,
    BufferTooSmall,
    UnknownPeer,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    Truncated,
    UnknownPeer,
}
impl DropReason {
    pub const ALL: [DropReason; 2] = [DropReason::Truncated, DropReason::UnknownPeer];
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::Truncated => "truncated",
            DropReason::UnknownPeer => "unknown_peer",
        }
    }
}

#[derive(Clone, Copy, Debug, Default)]
pub struct PeerLinkStats {
    pub established: bool,
    pub last_handshake: Option<Instant>,
    pub last_received: Option<Instant>,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_packets: u64,
    pub tx_packets: u64,
}

pub enum Received<'a> {
    Data { peer: PeerId, payload: &'a [u8] },
    Keepalive { peer: PeerId },
    Reply { peer: Option<PeerId>, len: usize },
    Established { peer: PeerId },
    Dropped(DropReason),
}

pub struct Links {
    keys: Vec<Option<([u8; 32], PeerLinkStats)>>,
    me: [u8; 32],
    drops: [u64; 2],
    accept_unknown: bool,
}

impl Links {
    pub fn new(cfg: LinkConfig, _rng: Rng) -> Links {
        let me =
            x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::from(cfg.static_secret))
                .to_bytes();
        Links {
            keys: vec![None; cfg.max_peers],
            me,
            drops: [0; 2],
            accept_unknown: false,
        }
    }
    pub fn set_accept_unknown(&mut self, yes: bool) {
        self.accept_unknown = yes;
    }
    pub fn public_key(&self) -> [u8; 32] {
        self.me
    }
    pub fn add_peer(&mut self, k: [u8; 32]) -> Result<PeerId, LinkError> {
        if let Some(p) = self.find_peer(&k) {
            return Ok(p);
        }
        let i = self
            .keys
            .iter()
            .position(|s| s.is_none())
            .ok_or(LinkError::Full)?;
        self.keys[i] = Some((k, PeerLinkStats::default()));
        Ok(PeerId(i as u16))
    }
    pub fn remove_peer(&mut self, p: PeerId) {
        if let Some(s) = self.keys.get_mut(p.0 as usize) {
            *s = None;
        }
    }
    pub fn find_peer(&self, k: &[u8; 32]) -> Option<PeerId> {
        self.keys
            .iter()
            .position(|s| s.map(|s| &s.0 == k).unwrap_or(false))
            .map(|i| PeerId(i as u16))
    }
    pub fn peer_public_key(&self, p: PeerId) -> Option<[u8; 32]> {
        self.keys.get(p.0 as usize)?.map(|s| s.0)
    }
    pub fn initiate(
        &mut self,
        now: Instant,
        p: PeerId,
        out: &mut [u8],
    ) -> Result<usize, LinkError> {
        out[0] = 1;
        out[1..33].copy_from_slice(&self.me);
        Ok(33)
    }
    pub fn receive<'a>(
        &mut self,
        now: Instant,
        from: SocketAddr,
        buf: &'a mut [u8],
        out: &mut [u8],
    ) -> Received<'a> {
        match buf.first() {
            Some(1) | Some(2) if buf.len() >= 33 => {
                let k: [u8; 32] = buf[1..33].try_into().unwrap();
                let p = match self.find_peer(&k) {
                    Some(p) => p,
                    None if self.accept_unknown => match self.add_peer(k) {
                        Ok(p) => p,
                        Err(_) => return Received::Dropped(DropReason::UnknownPeer),
                    },
                    None => return Received::Dropped(DropReason::UnknownPeer),
                };
                let st = &mut self.keys[p.0 as usize].as_mut().unwrap().1;
                let was = st.established;
                st.established = true;
                st.last_handshake = Some(now);
                st.last_received = Some(now);
                if buf[0] == 1 {
                    out[0] = 2;
                    out[1..33].copy_from_slice(&self.me);
                    Received::Reply {
                        peer: Some(p),
                        len: 33,
                    }
                } else {
                    Received::Established { peer: p }
                }
            }
            Some(4) if buf.len() >= 3 => {
                let p = PeerId(u16::from_le_bytes([buf[1], buf[2]]));
                match self.keys.get_mut(p.0 as usize) {
                    Some(Some(s)) => {
                        s.1.rx_packets += 1;
                        s.1.last_received = Some(now);
                        if buf.len() == 3 {
                            Received::Keepalive { peer: p }
                        } else {
                            Received::Data {
                                peer: p,
                                payload: &buf[3..],
                            }
                        }
                    }
                    _ => Received::Dropped(DropReason::UnknownPeer),
                }
            }
            _ => Received::Dropped(DropReason::Truncated),
        }
    }
    pub fn encapsulate(
        &mut self,
        now: Instant,
        p: PeerId,
        payload: &[u8],
        out: &mut [u8],
    ) -> Result<usize, LinkError> {
        let Some(Some(s)) = self.keys.get_mut(p.0 as usize) else {
            return Err(LinkError::UnknownPeer);
        };
        if !s.1.established {
            return Err(LinkError::NoSession);
        }
        s.1.tx_packets += 1;
        // The stub addresses by the *receiver's* index of us: both sides use
        // symmetric slot numbers only in tests; good enough to compile.
        out[0] = 4;
        out[1..3].copy_from_slice(&p.0.to_le_bytes());
        out[3..3 + payload.len()].copy_from_slice(payload);
        Ok(3 + payload.len())
    }
    pub fn poll_transmit(&mut self, now: Instant, out: &mut [u8]) -> Option<(PeerId, usize)> {
        None
    }
    pub fn poll_timeout(&self) -> Option<Instant> {
        None
    }
    pub fn stats(&self, p: PeerId) -> Option<PeerLinkStats> {
        self.keys.get(p.0 as usize)?.map(|s| s.1)
    }
    pub fn drops(&self) -> &[u64] {
        &self.drops
    }
    pub fn is_established(&self, p: PeerId) -> bool {
        self.stats(p).map(|s| s.established).unwrap_or(false)
    }
}
