//! STUN Binding client (RFC 8489 §6, §7): asks every configured server for
//! this node's server-reflexive address, not one at random as IPOP 16.01
//! did.
//!
//! Timers (all per server):
//! * a request is sent at 0, RTO, 3 RTO, 7 RTO; if nothing came back
//!   [`LAST_WAIT_RTOS`] RTO after the last send, the server has failed
//!   (7.5 s in all, see [`super::consts`]);
//! * after an answer or a failure the server is asked again
//!   [`BINDING_REFRESH`] later, so a NAT rebinding shows up as a new
//!   [`BindingEvent::Reflexive`] within a minute;
//! * [`BindingClient::regather`] asks all servers at once (interfaces changed).
//!
//! A server that never answers costs one give-up timeout and then one
//! request a minute; it never blocks the others or delays host candidates.

use super::attr;
use super::consts::*;
use super::error::{StunDrop, StunStats};
use super::message::{message_type, Class, Message};
use super::writer::MessageWriter;
use crate::core::rng::Rng;
use crate::core::time::Instant;
use std::net::SocketAddr;

/// What the binding client learned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BindingEvent {
    /// `server` saw us as `mapped`; emitted on the first answer and
    /// whenever the mapping changes (NAT rebinding).
    Reflexive {
        server: SocketAddr,
        mapped: SocketAddr,
    },
    /// `server` did not answer (or answered with an error); emitted once
    /// per change from answering to not answering.
    Failed { server: SocketAddr },
}

/// One outstanding request and its retransmission state.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Txn {
    pub id: [u8; 12],
    /// Requests sent so far.
    pub sends: u8,
    /// Next send, or the give-up time once `sends == REQUEST_COUNT`.
    pub next: Instant,
}

impl Txn {
    pub fn new(rng: &mut Rng, now: Instant) -> Txn {
        Txn {
            id: rng.bytes(),
            sends: 0,
            next: now,
        }
    }

    /// True when a (re)transmission is due.
    pub fn send_due(&self, now: Instant) -> bool {
        self.sends < REQUEST_COUNT && self.next <= now
    }

    /// True when the last wait has passed with no answer.
    pub fn expired(&self, now: Instant) -> bool {
        self.sends >= REQUEST_COUNT && self.next <= now
    }

    /// Call after sending: RTO doubling, then the final wait.
    pub fn on_sent(&mut self, now: Instant) {
        self.sends = self.sends.saturating_add(1);
        self.next = if self.sends < REQUEST_COUNT {
            now + RTO * (1u32 << (self.sends - 1).min(16))
        } else {
            now + RTO * LAST_WAIT_RTOS
        };
    }
}

struct Server {
    addr: SocketAddr,
    txn: Option<Txn>,
    mapped: Option<SocketAddr>,
    failed: bool,
    next_gather: Instant,
    pending: Option<BindingEvent>,
}

/// Binding client for all configured STUN servers (resolved by the shell).
pub struct BindingClient {
    servers: Vec<Server>,
    rng: Rng,
    stats: StunStats,
}

impl BindingClient {
    /// A client that will query every server in `servers` at the first
    /// [`handle_timeout`](Self::handle_timeout) or
    /// [`poll_transmit`](Self::poll_transmit). Allocates once, here.
    pub fn new(servers: &[SocketAddr], rng: Rng) -> Self {
        let mut client = BindingClient {
            servers: Vec::with_capacity(servers.len()),
            rng,
            stats: StunStats::default(),
        };
        for &addr in servers {
            client.add_server(addr);
        }
        client
    }

    /// Adds a server (one whose name resolved late), asked at the next
    /// timeout; false if it is already known.
    pub fn add_server(&mut self, addr: SocketAddr) -> bool {
        if self.is_server(addr) {
            return false;
        }
        self.servers.push(Server {
            addr,
            txn: None,
            mapped: None,
            failed: false,
            next_gather: Instant::ZERO,
            pending: None,
        });
        true
    }

    /// True when `addr` is one of this client's servers (for the shell's
    /// demultiplexing of the shared socket).
    pub fn is_server(&self, addr: SocketAddr) -> bool {
        self.servers.iter().any(|s| s.addr == addr)
    }

    /// True when `datagram` is a STUN response to one of this client's
    /// outstanding requests (by transaction ID; no full parse). Lets the
    /// shell tell Binding answers from TURN answers when one server does
    /// both on one address.
    pub fn accepts(&self, datagram: &[u8]) -> bool {
        let Some(id) = txid_of(datagram) else {
            return false;
        };
        self.servers
            .iter()
            .any(|s| s.txn.is_some_and(|t| t.id == id))
    }

    /// Current reflexive addresses: (server, mapped).
    pub fn reflexive(&self) -> impl Iterator<Item = (SocketAddr, SocketAddr)> + '_ {
        self.servers
            .iter()
            .filter_map(|s| s.mapped.map(|m| (s.addr, m)))
    }

    pub fn stats(&self) -> &StunStats {
        &self.stats
    }

    /// Ask every server now (call when interfaces or addresses changed).
    /// Requests already in flight continue.
    pub fn regather(&mut self, now: Instant) {
        for s in &mut self.servers {
            if s.txn.is_none() {
                s.next_gather = now;
            }
        }
        self.advance(now);
    }

    /// Starts due gathers and gives up on expired requests.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.advance(now);
    }

    fn advance(&mut self, now: Instant) {
        for s in &mut self.servers {
            match s.txn {
                Some(t) if t.expired(now) => {
                    s.txn = None;
                    s.next_gather = now + BINDING_REFRESH;
                    if !s.failed {
                        log::info!("stun: no answer from {}", s.addr);
                        s.failed = true;
                        s.mapped = None;
                        s.pending = Some(BindingEvent::Failed { server: s.addr });
                    }
                }
                None if s.next_gather <= now => {
                    s.txn = Some(Txn::new(&mut self.rng, now));
                }
                _ => {}
            }
        }
    }

    /// Writes the next due Binding request into `buf`: (destination,
    /// length). Call until `None`. A too-small `buf` yields `None`.
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<(SocketAddr, usize)> {
        self.advance(now);
        let s = self
            .servers
            .iter_mut()
            .find(|s| s.txn.is_some_and(|t| t.send_due(now)))?;
        let txn = s.txn.as_mut()?;
        let len = write_request(buf, &txn.id)?;
        txn.on_sent(now);
        self.stats.requests_sent += 1;
        Some((s.addr, len))
    }

    pub fn poll_event(&mut self) -> Option<BindingEvent> {
        self.servers.iter_mut().find_map(|s| s.pending.take())
    }

    /// The earliest time [`handle_timeout`](Self::handle_timeout) or
    /// [`poll_transmit`](Self::poll_transmit) has work. Changes after any
    /// handle_* or poll_transmit call.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.servers
            .iter()
            .map(|s| s.txn.map_or(s.next_gather, |t| t.next))
            .min()
    }

    /// Feeds a STUN datagram from the socket. `Ok` when it answered one of
    /// our requests; otherwise the drop reason, already counted.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        from: SocketAddr,
        datagram: &[u8],
    ) -> Result<(), StunDrop> {
        let r = self.accept(now, from, datagram);
        match r {
            Ok(()) => self.stats.responses_accepted += 1,
            Err(d) => self.stats.drop(d),
        }
        r
    }

    fn accept(&mut self, now: Instant, from: SocketAddr, datagram: &[u8]) -> Result<(), StunDrop> {
        let msg = Message::parse(datagram)?;
        if msg.method() != BINDING || !matches!(msg.class(), Class::Success | Class::Error) {
            return Err(StunDrop::UnexpectedMessage);
        }
        let id = msg.transaction_id();
        let s = self
            .servers
            .iter_mut()
            .find(|s| s.txn.is_some_and(|t| t.id == id))
            .ok_or(StunDrop::UnexpectedTransaction)?;
        msg.check_fingerprint()?;
        if msg.class() == Class::Error {
            log::debug!("stun: error response from {from}");
            s.txn = None;
            s.next_gather = now + BINDING_REFRESH;
            if !s.failed {
                s.failed = true;
                s.mapped = None;
                s.pending = Some(BindingEvent::Failed { server: s.addr });
            }
            return Ok(());
        }
        let mapped = match (
            msg.attr(ATTR_XOR_MAPPED_ADDRESS),
            msg.attr(ATTR_MAPPED_ADDRESS),
        ) {
            (Some(v), _) => attr::xor_address(v, &id)?,
            (None, Some(v)) => attr::address(v)?,
            (None, None) => return Err(StunDrop::Malformed),
        };
        s.txn = None;
        s.failed = false;
        s.next_gather = now + BINDING_REFRESH;
        if s.mapped != Some(mapped) {
            log::info!("stun: {} sees us as {mapped}", s.addr);
            s.mapped = Some(mapped);
            s.pending = Some(BindingEvent::Reflexive {
                server: s.addr,
                mapped,
            });
        }
        Ok(())
    }
}

/// The transaction ID of something that passes [`super::is_stun`].
pub(crate) fn txid_of(datagram: &[u8]) -> Option<[u8; 12]> {
    if !super::is_stun(datagram) {
        return None;
    }
    datagram.get(8..HEADER_LEN)?.try_into().ok()
}

/// A Binding request with FINGERPRINT (helps servers and our own demux).
pub fn write_request(buf: &mut [u8], txid: &[u8; 12]) -> Option<usize> {
    let mut w = MessageWriter::new(buf, message_type(BINDING, Class::Request), txid).ok()?;
    w.fingerprint().ok()?;
    Some(w.finish())
}

/// A Binding success response (for tests and the simulator's servers).
pub fn write_response(buf: &mut [u8], txid: &[u8; 12], mapped: SocketAddr) -> Option<usize> {
    let mut w = MessageWriter::new(buf, message_type(BINDING, Class::Success), txid).ok()?;
    w.xor_address(ATTR_XOR_MAPPED_ADDRESS, mapped).ok()?;
    w.fingerprint().ok()?;
    Some(w.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::time::Duration;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn answer(
        client: &mut BindingClient,
        now: Instant,
        req: &[u8],
        from: SocketAddr,
        mapped: &str,
    ) {
        let id: [u8; 12] = req[8..20].try_into().unwrap();
        let mut resp = [0u8; 64];
        let n = write_response(&mut resp, &id, addr(mapped)).unwrap();
        assert_eq!(client.handle_datagram(now, from, &resp[..n]), Ok(()));
    }

    #[test]
    fn queries_every_server_and_reports_each() {
        let a = addr("192.0.2.1:3478");
        let b = addr("192.0.2.2:3478");
        let mut c = BindingClient::new(&[a, b], Rng::from_seed([1; 32]));
        assert_eq!(c.poll_timeout(), Some(Instant::ZERO));
        let now = Instant::from_secs(10);
        let mut buf = [0u8; 128];
        let (d1, n1) = c.poll_transmit(now, &mut buf).unwrap();
        let req1 = buf[..n1].to_vec();
        let (d2, _) = c.poll_transmit(now, &mut buf).unwrap();
        assert_eq!((d1, d2), (a, b));
        assert_eq!(c.poll_transmit(now, &mut buf), None);
        // Request: type 0x0001, length 8 (FINGERPRINT only), cookie.
        assert_eq!(&req1[..8], &[0, 1, 0, 8, 0x21, 0x12, 0xA4, 0x42]);
        assert_eq!(req1.len(), 28);
        assert_eq!(Message::parse(&req1).unwrap().check_fingerprint(), Ok(true));

        assert!(c.accepts(&req1));
        assert!(!c.accepts(&req1[..27]));
        answer(&mut c, now, &req1, a, "203.0.113.5:40000");
        assert!(!c.accepts(&req1));
        assert_eq!(
            c.poll_event(),
            Some(BindingEvent::Reflexive {
                server: a,
                mapped: addr("203.0.113.5:40000")
            })
        );
        assert_eq!(c.poll_event(), None);
        // A duplicate answer (retransmitted request) is a counted drop.
        let id: [u8; 12] = req1[8..20].try_into().unwrap();
        let mut resp = [0u8; 64];
        let n = write_response(&mut resp, &id, addr("203.0.113.5:40000")).unwrap();
        assert_eq!(
            c.handle_datagram(now, a, &resp[..n]),
            Err(StunDrop::UnexpectedTransaction)
        );
        assert_eq!(c.stats().drops_for(StunDrop::UnexpectedTransaction), 1);
        assert_eq!(c.stats().requests_sent, 2);
    }

    #[test]
    fn dead_server_costs_one_timeout() {
        let dead = addr("10.254.254.254:3478");
        let mut c = BindingClient::new(&[dead], Rng::from_seed([2; 32]));
        let t0 = Instant::from_secs(1);
        let mut buf = [0u8; 128];
        let mut sends = Vec::new();
        let mut now = t0;
        // Drive the client by its own timeouts until it gives up.
        loop {
            c.handle_timeout(now);
            while let Some((d, _)) = c.poll_transmit(now, &mut buf) {
                assert_eq!(d, dead);
                sends.push(now - t0);
            }
            if let Some(e) = c.poll_event() {
                assert_eq!(e, BindingEvent::Failed { server: dead });
                break;
            }
            now = c.poll_timeout().unwrap();
        }
        let ms: Vec<u128> = sends.iter().map(|d| d.as_millis()).collect();
        assert_eq!(ms, [0, 500, 1500, 3500]);
        assert_eq!(now - t0, Duration::from_millis(7500));
        // Next try a minute later; no second Failed event.
        assert_eq!(c.poll_timeout(), Some(now + BINDING_REFRESH));
        let later = now + BINDING_REFRESH;
        assert!(c.poll_transmit(later, &mut buf).is_some());
        let end = later + Duration::from_secs(8);
        c.handle_timeout(end);
        assert_eq!(c.poll_event(), None);
    }

    #[test]
    fn rebinding_emits_new_address_only_on_change() {
        let a = addr("192.0.2.1:3478");
        let mut c = BindingClient::new(&[a], Rng::from_seed([3; 32]));
        let mut buf = [0u8; 128];
        let mut now = Instant::from_secs(1);
        let mut round = |c: &mut BindingClient, now: Instant, mapped: &str| {
            let (_, n) = c.poll_transmit(now, &mut buf).unwrap();
            let req = buf[..n].to_vec();
            answer(c, now, &req, a, mapped);
            c.poll_event()
        };
        assert!(round(&mut c, now, "203.0.113.5:1000").is_some());
        assert_eq!(c.poll_timeout(), Some(now + BINDING_REFRESH));
        now += BINDING_REFRESH;
        assert_eq!(round(&mut c, now, "203.0.113.5:1000"), None);
        now += BINDING_REFRESH;
        assert_eq!(
            round(&mut c, now, "203.0.113.5:2000"),
            Some(BindingEvent::Reflexive {
                server: a,
                mapped: addr("203.0.113.5:2000")
            })
        );
        assert_eq!(
            c.reflexive().collect::<Vec<_>>(),
            [(a, addr("203.0.113.5:2000"))]
        );
        // regather asks at once.
        now += Duration::from_secs(1);
        c.regather(now);
        assert!(c.poll_transmit(now, &mut buf).is_some());
    }

    #[test]
    fn bad_answers_are_counted() {
        let a = addr("192.0.2.1:3478");
        let mut c = BindingClient::new(&[a], Rng::from_seed([4; 32]));
        let now = Instant::from_secs(1);
        let mut buf = [0u8; 128];
        let (_, n) = c.poll_transmit(now, &mut buf).unwrap();
        let id: [u8; 12] = buf[8..20].try_into().unwrap();
        let _ = n;
        let mut resp = [0u8; 64];
        let n = write_response(&mut resp, &id, addr("203.0.113.5:1")).unwrap();
        // Corrupt the fingerprint.
        let mut bad = resp[..n].to_vec();
        bad[n - 1] ^= 1;
        assert_eq!(
            c.handle_datagram(now, a, &bad),
            Err(StunDrop::BadFingerprint)
        );
        assert_eq!(
            c.handle_datagram(now, a, &resp[..10]),
            Err(StunDrop::Truncated)
        );
        assert_eq!(
            c.handle_datagram(now, a, &[0x80; 20]),
            Err(StunDrop::Malformed)
        );
        // A request is not an answer.
        let mut req = [0u8; 64];
        let rn = write_request(&mut req, &id).unwrap();
        assert_eq!(
            c.handle_datagram(now, a, &req[..rn]),
            Err(StunDrop::UnexpectedMessage)
        );
        // Success without any address attribute.
        let mut w = MessageWriter::new(&mut req, 0x0101, &id).unwrap();
        w.fingerprint().unwrap();
        let rn = w.finish();
        assert_eq!(
            c.handle_datagram(now, a, &req[..rn]),
            Err(StunDrop::Malformed)
        );
        // The transaction survived all of that.
        assert_eq!(c.handle_datagram(now, a, &resp[..n]), Ok(()));
        assert_eq!(c.stats().total_drops(), 5);
    }
}

#[cfg(test)]
mod vector_tests {
    /// The Binding request vector in docs/PROTOCOL.md ("STUN and TURN").
    #[test]
    fn protocol_md_binding_request() {
        let txid: [u8; 12] = core::array::from_fn(|i| i as u8 + 1);
        let mut buf = [0u8; 64];
        let n = super::write_request(&mut buf, &txid).unwrap();
        assert_eq!(
            &buf[..n],
            &[
                0x00, 0x01, 0x00, 0x08, 0x21, 0x12, 0xa4, 0x42, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06,
                0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x80, 0x28, 0x00, 0x04, 0x5b, 0x20, 0xf9, 0xcc
            ]
        );
    }
}
