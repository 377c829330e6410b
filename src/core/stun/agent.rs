//! All of a node's STUN and TURN clients behind one sans-IO front: the
//! Binding client for every `stun` server and one TURN client per `turn`
//! entry. The node feeds it every datagram from a STUN/TURN server, drains
//! its transmits, and re-reads [`NatAgent::candidates`] whenever
//! [`NatAgent::poll_changed`] says the server-reflexive or relayed
//! candidates changed.
//!
//! Relaying (RFC 8656): a peer reaches us by sending to our relayed
//! address; our TURN server hands that to us as ChannelData or a Data
//! indication, which [`NatAgent::handle_datagram`] unframes into
//! [`Relayed`]. We answer with [`NatAgent::wrap`] to the exact peer
//! address it came from. The server only forwards from IPs we permitted:
//! call [`NatAgent::permit`] with the addresses of each peer's candidates
//! (one permission per reachable IP; see `turn_peers.rs` for the bounds).

use super::binding::{BindingClient, BindingEvent};
use super::error::{StunDrop, StunStats};
use super::turn::{TurnClient, TurnEvent};
use super::{is_channel_data, is_stun};
use crate::core::candidate::{Candidate, CandidateKind};
use crate::core::rng::Rng;
use crate::core::time::Instant;
use std::net::SocketAddr;

/// Data a peer sent to one of our relayed addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Relayed<'d> {
    /// Index of the TURN client (answer through the same one).
    pub via: usize,
    /// The peer's address as the TURN server saw it.
    pub peer: SocketAddr,
    pub payload: &'d [u8],
}

pub struct NatAgent {
    binding: BindingClient,
    turns: Vec<TurnClient>,
    changed: bool,
}

impl NatAgent {
    /// `stun`: resolved STUN servers; `turn`: (server, user, password).
    pub fn new(stun: &[SocketAddr], turn: &[(SocketAddr, &str, &str)], rng: &mut Rng) -> Self {
        NatAgent {
            binding: BindingClient::new(stun, rng.fork()),
            turns: turn
                .iter()
                .map(|(a, u, p)| TurnClient::new(*a, u, p, rng.fork()))
                .collect(),
            changed: false,
        }
    }

    /// Adds servers whose names resolved after start; known ones are
    /// skipped. True if any was new (its peers then need
    /// [`permit`](Self::permit) again).
    pub fn add_servers(
        &mut self,
        stun: &[SocketAddr],
        turn: &[(SocketAddr, &str, &str)],
        rng: &mut Rng,
    ) -> bool {
        let mut added = false;
        for &a in stun {
            added |= self.binding.add_server(a);
        }
        for &(a, user, pass) in turn {
            if self.turns.iter().all(|t| t.server() != a) {
                self.turns.push(TurnClient::new(a, user, pass, rng.fork()));
                added = true;
            }
        }
        added
    }

    /// True when `datagram` from `from` belongs to this agent: a STUN
    /// message or ChannelData from one of its servers.
    pub fn accepts(&self, from: SocketAddr, datagram: &[u8]) -> bool {
        (is_stun(datagram) || is_channel_data(datagram))
            && (self.binding.is_server(from) || self.turns.iter().any(|t| t.server() == from))
    }

    /// Feeds a datagram for which [`accepts`](Self::accepts) was true.
    /// Relayed peer data comes back as `Some`; protocol messages are
    /// consumed. Drops are counted in [`stats`](Self::stats).
    pub fn handle_datagram<'d>(
        &mut self,
        now: Instant,
        from: SocketAddr,
        datagram: &'d [u8],
    ) -> Result<Option<Relayed<'d>>, StunDrop> {
        if self.binding.accepts(datagram) {
            self.binding.handle_datagram(now, from, datagram)?;
            self.drain_events();
            return Ok(None);
        }
        let (via, turn) = self
            .turns
            .iter_mut()
            .enumerate()
            .find(|(_, t)| t.server() == from)
            .ok_or(StunDrop::UnexpectedMessage)?;
        let r = turn.handle_input(now, datagram)?;
        self.drain_events();
        Ok(r.map(|(peer, payload)| Relayed { via, peer, payload }))
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        self.binding.handle_timeout(now);
        for t in &mut self.turns {
            t.handle_timeout(now);
        }
        self.drain_events();
    }

    /// Interfaces or addresses changed: ask every STUN server again and
    /// check every TURN allocation now.
    pub fn regather(&mut self, now: Instant) {
        self.binding.regather(now);
        for t in &mut self.turns {
            t.check_now(now);
        }
    }

    /// Lets `peers` (a peer's candidate addresses) send to our relayed
    /// addresses, on every TURN server: one permission per IP the server
    /// can reach (`turn::can_permit`), kept while the IP is permitted again
    /// or carries packets. Call again whenever the member is re-announced;
    /// idempotent. Channels are bound only for addresses we
    /// [`wrap`](Self::wrap) for.
    pub fn permit(&mut self, now: Instant, peers: &[SocketAddr]) {
        for t in &mut self.turns {
            for p in peers {
                t.permit(now, *p);
            }
        }
    }

    /// The node forgot these peer addresses: their channels go (the server
    /// lets them expire); their IPs' permissions lapse unless still in use.
    pub fn forget(&mut self, peers: &[SocketAddr]) {
        for t in &mut self.turns {
            for p in peers {
                t.remove_peer(*p);
            }
        }
    }

    /// The server TURN client `via` talks to.
    pub fn relay_server(&self, via: usize) -> Option<SocketAddr> {
        self.turns.get(via).map(TurnClient::server)
    }

    /// Frames `payload` for `peer` through TURN client `via`: (server, len).
    pub fn wrap(
        &mut self,
        via: usize,
        peer: SocketAddr,
        payload: &[u8],
        out: &mut [u8],
    ) -> Option<(SocketAddr, usize)> {
        let t = self.turns.get_mut(via)?;
        let n = t.wrap(peer, payload, out)?;
        Some((t.server(), n))
    }

    pub fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<(SocketAddr, usize)> {
        if let Some(t) = self.binding.poll_transmit(now, buf) {
            return Some(t);
        }
        self.turns
            .iter_mut()
            .find_map(|t| t.poll_transmit(now, buf))
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        core::iter::once(self.binding.poll_timeout())
            .chain(self.turns.iter().map(|t| t.poll_timeout()))
            .flatten()
            .min()
    }

    /// True once after the reflexive or relayed candidates changed.
    pub fn poll_changed(&mut self) -> bool {
        self.drain_events();
        core::mem::take(&mut self.changed)
    }

    fn drain_events(&mut self) {
        while let Some(e) = self.binding.poll_event() {
            if let BindingEvent::Failed { server } = e {
                log::debug!("stun: {server} failed");
            }
            self.changed = true;
        }
        for t in &mut self.turns {
            while let Some(e) = t.poll_event() {
                if e == TurnEvent::Failed {
                    log::debug!("turn: {} failed", t.server());
                }
                self.changed = true;
            }
        }
    }

    /// Server-reflexive candidates (one per distinct mapped address, in
    /// server order) then relayed ones (one per allocation), with
    /// `local_pref` falling in that order.
    pub fn candidates(&self, out: &mut Vec<Candidate>) {
        let mut pref = u16::MAX;
        let mut seen: heapless::Vec<SocketAddr, 16> = heapless::Vec::new();
        for (_, mapped) in self.binding.reflexive() {
            if seen.contains(&mapped) {
                continue;
            }
            let _ = seen.push(mapped);
            out.push(Candidate::new(CandidateKind::ServerReflexive, mapped, pref));
            pref = pref.saturating_sub(1);
        }
        for t in &self.turns {
            if let Some(r) = t.relayed() {
                out.push(Candidate::new(CandidateKind::Relay, r, pref));
                pref = pref.saturating_sub(1);
            }
        }
    }

    /// Drop counters summed over all clients, by [`StunDrop::ALL`] order.
    pub fn stats(&self) -> StunStats {
        let mut s = self.binding.stats().clone();
        for t in &self.turns {
            let ts = t.stats();
            for (a, b) in s.drops.iter_mut().zip(ts.drops) {
                *a += b;
            }
            s.requests_sent += ts.requests_sent;
            s.responses_accepted += ts.responses_accepted;
        }
        s
    }
}

#[cfg(test)]
#[path = "agent_tests.rs"]
mod tests;
