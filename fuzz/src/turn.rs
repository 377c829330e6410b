//! An emulated TURN server (RFC 8656, long-term credentials) for the
//! targets that drive a node through its own relay.

use std::net::{IpAddr, SocketAddr};

use ipop::core::stun::consts::*;
use ipop::core::stun::{
    attr, long_term_key, message_type, ChannelData, Class, Message, MessageWriter,
};

pub const USER: &str = "u";
pub const PASS: &str = "p";
const REALM: &str = "ipop.test";

/// A fuzz-chosen answer for the next request: an error code (0: success)
/// and raw attributes to add.
#[derive(Clone, Debug, Default)]
pub struct Override {
    pub code: u16,
    pub attrs: Vec<(u16, Vec<u8>)>,
    pub integrity: bool,
}

pub enum Handled {
    /// An answer for the client.
    Reply(Vec<u8>),
    /// Data the client sent through its relay to `peer`.
    Relay(SocketAddr, Vec<u8>),
    Nothing,
}

pub struct Server {
    pub addr: SocketAddr,
    pub relayed: SocketAddr,
    pub mapped: SocketAddr,
    key: [u8; 16],
    pub nonce: Vec<u8>,
    pub channels: Vec<(u16, SocketAddr)>,
    pub permissions: Vec<IpAddr>,
    pub next: Option<Override>,
    pub requests: u64,
}

impl Default for Server {
    fn default() -> Self {
        Server {
            addr: "192.0.2.10:3478".parse().unwrap(),
            relayed: "192.0.2.10:50000".parse().unwrap(),
            mapped: "203.0.113.7:41000".parse().unwrap(),
            key: long_term_key(USER, REALM, PASS),
            nonce: b"nonce-1".to_vec(),
            channels: Vec::new(),
            permissions: Vec::new(),
            next: None,
            requests: 0,
        }
    }
}

impl Server {
    /// What the server does with one datagram from its client.
    pub fn handle(&mut self, datagram: &[u8]) -> Handled {
        if let Some(cd) = ChannelData::parse(datagram) {
            return match self.channels.iter().find(|(n, _)| *n == cd.channel) {
                Some(&(_, peer)) => Handled::Relay(peer, cd.payload.to_vec()),
                None => Handled::Nothing,
            };
        }
        let Ok(m) = Message::parse(datagram) else {
            return Handled::Nothing;
        };
        let id = m.transaction_id();
        let peer = m
            .attr(ATTR_XOR_PEER_ADDRESS)
            .and_then(|a| attr::xor_address(a, &id).ok());
        if m.class() == Class::Indication {
            return match (m.method(), peer, m.attr(ATTR_DATA)) {
                (SEND, Some(p), Some(d)) if self.permissions.contains(&p.ip()) => {
                    Handled::Relay(p, d.to_vec())
                }
                _ => Handled::Nothing,
            };
        }
        if m.class() != Class::Request {
            return Handled::Nothing;
        }
        self.requests += 1;
        if let Some(o) = self.next.take() {
            return Handled::Reply(self.answer_override(&m, &o));
        }
        if m.method() != BINDING
            && (m.attr(ATTR_MESSAGE_INTEGRITY).is_none()
                || m.attr(ATTR_NONCE) != Some(&self.nonce[..])
                || m.check_integrity(&self.key).is_err())
        {
            return Handled::Reply(self.error(&m, ERR_UNAUTHORIZED, true));
        }
        let mut buf = [0u8; 512];
        let mut w =
            MessageWriter::new(&mut buf, message_type(m.method(), Class::Success), &id).unwrap();
        match m.method() {
            BINDING => w.xor_address(ATTR_XOR_MAPPED_ADDRESS, self.mapped).unwrap(),
            ALLOCATE => {
                w.xor_address(ATTR_XOR_RELAYED_ADDRESS, self.relayed)
                    .unwrap();
                w.xor_address(ATTR_XOR_MAPPED_ADDRESS, self.mapped).unwrap();
                w.u32_attr(ATTR_LIFETIME, ALLOCATION_LIFETIME_SECS).unwrap();
            }
            REFRESH => {
                let lifetime = m
                    .attr(ATTR_LIFETIME)
                    .and_then(|v| v.try_into().ok())
                    .map_or(ALLOCATION_LIFETIME_SECS, u32::from_be_bytes);
                w.u32_attr(ATTR_LIFETIME, lifetime).unwrap();
            }
            CREATE_PERMISSION => {
                if let Some(p) = peer {
                    if !self.permissions.contains(&p.ip()) {
                        self.permissions.push(p.ip());
                    }
                }
            }
            CHANNEL_BIND => {
                let number = m
                    .attr(ATTR_CHANNEL_NUMBER)
                    .and_then(|v| v.get(..2))
                    .map(|v| u16::from_be_bytes([v[0], v[1]]));
                if let (Some(n), Some(p)) = (number, peer) {
                    self.channels.retain(|(c, q)| *c != n && *q != p);
                    self.channels.push((n, p));
                    if !self.permissions.contains(&p.ip()) {
                        self.permissions.push(p.ip());
                    }
                }
            }
            _ => return Handled::Reply(self.error(&m, 400, true)),
        }
        if m.method() != BINDING {
            w.message_integrity(&self.key).unwrap();
        }
        w.fingerprint().unwrap();
        let n = w.finish();
        Handled::Reply(buf[..n].to_vec())
    }

    fn error(&self, m: &Message<'_>, code: u16, challenge: bool) -> Vec<u8> {
        let mut buf = [0u8; 512];
        let mut w = MessageWriter::new(
            &mut buf,
            message_type(m.method(), Class::Error),
            &m.transaction_id(),
        )
        .unwrap();
        w.error_code(code, "refused").unwrap();
        if challenge {
            w.attr(ATTR_REALM, REALM.as_bytes()).unwrap();
            w.attr(ATTR_NONCE, &self.nonce).unwrap();
        }
        let n = w.finish();
        buf[..n].to_vec()
    }

    /// The fuzz-chosen answer: an error or success response with the
    /// given attributes, integrity-protected if asked (so it passes the
    /// client's checks and reaches its handling).
    fn answer_override(&mut self, m: &Message<'_>, o: &Override) -> Vec<u8> {
        let class = if o.code == 0 {
            Class::Success
        } else {
            Class::Error
        };
        let mut buf = vec![0u8; 2048];
        let Ok(mut w) = MessageWriter::new(
            &mut buf,
            message_type(m.method(), class),
            &m.transaction_id(),
        ) else {
            return Vec::new();
        };
        if o.code != 0 {
            let _ = w.error_code(o.code % 700, "fuzz");
        }
        for (t, v) in &o.attrs {
            if *t == ATTR_NONCE {
                self.nonce = v.clone();
            }
            let _ = w.attr(*t, v);
        }
        if o.integrity {
            let _ = w.message_integrity(&self.key);
        }
        let n = w.finish();
        buf.truncate(n);
        buf
    }

    /// Frames `payload` from `peer` for the client: ChannelData when a
    /// channel is bound to the peer, else a Data indication.
    pub fn relay_to_client(&self, txid: [u8; 12], peer: SocketAddr, payload: &[u8]) -> Vec<u8> {
        if let Some(&(ch, _)) = self.channels.iter().find(|(_, p)| *p == peer) {
            let mut out = vec![0u8; payload.len() + 8];
            if let Some(n) = ChannelData::emit(ch, payload, &mut out) {
                out.truncate(n);
                return out;
            }
        }
        crate::data_indication(txid, peer, payload)
    }
}
