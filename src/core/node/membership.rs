//! Who may be a member: revoked keys from the config and from the
//! operator's signed statement (core::member), enforced at every layer.
//!
//! Rules, one line each:
//! * A refused key (revoked, or off the allow-list) gets no handshake: the
//!   link layer drops its initiations (`revoked`) and counts them per key.
//! * When the rules change, links to refused keys close at once and their
//!   peer entries go (keys erased, topology told), so they are never
//!   gossiped again; gossip or XMPP records naming them are ignored.
//! * ROUTED and FLOOD frames from or to a refused member's UID are neither
//!   relayed nor delivered (`relay_refused`).
//! * A statement is accepted only with a valid operator signature and a
//!   higher serial than the one held; it is stored by the shell
//!   (`poll_statement_to_store`), sent once per session to every linked
//!   peer that has not had this serial, and announced over XMPP.

use core::time::Duration;

use super::payload::MEMBERS;
use super::ring::SignalOut;
use super::Node;
use crate::core::identity::Uid;
use crate::core::link::psk::PskStatus;
use crate::core::link::refuse::Tried;
use crate::core::link::PeerId;
use crate::core::member::{self, Statement, StatementError};
use crate::core::time::Instant;

/// UIDs of refused members remembered for the relay check.
const MAX_REFUSED_UIDS: usize = 64;

/// What the shell configures membership with (from the config and the
/// statement file).
#[derive(Clone, Debug, Default)]
pub struct MembershipConfig {
    /// Ed25519 public key whose statements this node believes.
    pub operator_key: Option<[u8; 32]>,
    /// `revoked_keys` of the config.
    pub revoked: Vec<[u8; 32]>,
    /// The statement stored by an earlier run, if any.
    pub stored: Option<Vec<u8>>,
    /// PSK of `group_secret_next`.
    pub next_psk: Option<[u8; 32]>,
    /// `group_secret_grace`.
    pub psk_grace: Option<Duration>,
}

/// Where a statement came from (for the log).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatementSource {
    Stored,
    Link,
    Signal,
    Control,
}

impl StatementSource {
    fn as_str(self) -> &'static str {
        match self {
            StatementSource::Stored => "the statement file",
            StatementSource::Link => "a link",
            StatementSource::Signal => "xmpp",
            StatementSource::Control => "the control socket",
        }
    }
}

#[derive(Default)]
pub struct Membership {
    operator: Option<[u8; 32]>,
    config_revoked: Vec<[u8; 32]>,
    statement: Option<Statement>,
    raw: Vec<u8>,
    unsaved: bool,
    accepted: u64,
    refused: [u64; StatementError::COUNT],
    refused_uids: Vec<Uid>,
    relay_refused: u64,
    closed_links: u64,
}

/// What `ipop status` shows about membership.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MembershipStatus {
    pub operator_key: Option<[u8; 32]>,
    /// Serial of the statement in force (0: none).
    pub serial: u64,
    /// Revoked keys in force (config and statement).
    pub revoked: usize,
    pub allow_list: Option<usize>,
    pub accepted: u64,
    pub refused: Vec<(&'static str, u64)>,
    pub relay_refused: u64,
    pub closed_links: u64,
    pub tried: Vec<Tried>,
    pub psk: PskStatus,
}

impl Node {
    /// Sets the membership rules at start-up (before any traffic). A stored
    /// statement is checked like any other.
    pub fn configure_membership(&mut self, now: Instant, cfg: MembershipConfig) {
        self.membership.operator = cfg.operator_key;
        self.membership.config_revoked = cfg.revoked;
        if let Some(grace) = cfg.psk_grace {
            self.links.set_psk_grace(grace);
        }
        if let Some(next) = cfg.next_psk {
            self.links.set_next_psk(next);
        }
        if let Some(bytes) = cfg.stored {
            if let Err(e) = self.install_statement(now, &bytes, StatementSource::Stored) {
                log::warn!("stored membership statement not used: {e}");
            }
            self.membership.unsaved = false;
        }
        self.apply_membership(now);
    }

    /// Checks and, if newer, installs a statement. Refusals are counted.
    pub fn install_statement(
        &mut self,
        now: Instant,
        bytes: &[u8],
        source: StatementSource,
    ) -> Result<u64, StatementError> {
        let res = self.check_statement(bytes);
        let st = match res {
            Ok(st) => st,
            Err(e) => {
                if let Some(c) = self.membership.refused.get_mut(e as usize) {
                    *c += 1;
                }
                return Err(e);
            }
        };
        let serial = st.serial;
        log::info!(
            "membership statement {serial} accepted from {}: {} revoked, {}",
            source.as_str(),
            st.revoked.len(),
            match &st.allowed {
                Some(a) => format!("allow-list of {}", a.len()),
                None => "no allow-list".into(),
            }
        );
        self.membership.statement = Some(st);
        self.membership.raw = bytes.to_vec();
        self.membership.unsaved = true;
        self.membership.accepted += 1;
        self.apply_membership(now);
        // Tell every up link now (the periodic gossip would too, later).
        for i in 0..self.peers.len() {
            let Some(id) = self.peers[i].as_ref().map(|p| p.id) else {
                continue;
            };
            if self.is_up(now, id) {
                self.offer_statement(now, id, false);
            }
        }
        if self.signals_out.len() < super::ring::MAX_SIGNALS_OUT {
            self.signals_out.push_back(SignalOut::Members);
        }
        Ok(serial)
    }

    fn check_statement(&self, bytes: &[u8]) -> Result<Statement, StatementError> {
        let op = self
            .membership
            .operator
            .ok_or(StatementError::NoOperatorKey)?;
        // Cheap checks (layout, serial) before the signature.
        let st = member::parse(bytes)?;
        if st.serial <= self.statement_serial() {
            return Err(StatementError::Stale);
        }
        member::verify(bytes, &op)
    }

    /// Serial of the statement in force (0: none).
    pub fn statement_serial(&self) -> u64 {
        self.membership.statement.as_ref().map_or(0, |s| s.serial)
    }

    /// The signed statement in force, as received (empty: none).
    pub fn statement_bytes(&self) -> &[u8] {
        &self.membership.raw
    }

    /// The statement in force, parsed.
    pub fn statement(&self) -> Option<&Statement> {
        self.membership.statement.as_ref()
    }

    /// A newly accepted statement the shell should store (once).
    pub fn poll_statement_to_store(&mut self) -> Option<&[u8]> {
        if !self.membership.unsaved {
            return None;
        }
        self.membership.unsaved = false;
        Some(&self.membership.raw)
    }

    /// Whether `key` is refused (revoked, or off the allow-list).
    pub fn refuses_key(&self, key: &[u8; 32]) -> bool {
        self.links.refuses(key)
    }

    /// Hands the rules to the link layer and closes links to refused keys.
    fn apply_membership(&mut self, now: Instant) {
        let mut revoked = self.membership.config_revoked.clone();
        let mut allowed = None;
        if let Some(st) = &self.membership.statement {
            for k in &st.revoked {
                if !revoked.contains(k) {
                    revoked.push(*k);
                }
            }
            allowed = st.allowed.clone();
        }
        self.links.set_refusals(revoked, allowed);
        self.close_refused(now);
    }

    fn close_refused(&mut self, now: Instant) {
        for i in 0..self.peers.len() {
            let Some((id, key)) = self.peers[i].as_ref().map(|p| (p.id, p.public_key)) else {
                continue;
            };
            if self.links.refuses(&key) {
                self.remove_member(now, id);
            }
        }
    }

    /// Forgets a member entirely: session keys erased (the link is closed),
    /// topology told, queued payload released.
    fn remove_member(&mut self, now: Instant, id: PeerId) {
        let label = self.peer_label(id);
        let Some(p) = self.peer_slot(id).and_then(Option::take) else {
            return;
        };
        if let Some(uid) = p.uid() {
            self.note_refused_uid(uid);
            if p.topo_up {
                self.topology.handle_link_down(now, uid);
            }
            self.topology.handle_departed(uid);
        }
        if let Some((slot, _)) = p.pending {
            self.pool.release(slot);
        }
        if self.links.is_established(id) {
            self.membership.closed_links += 1;
        }
        self.links.remove_peer(id);
        self.route_cache = None;
        log::info!("member {label} refused: link closed");
        self.run_topology(now);
    }

    /// Remembers the UID of a refused member for the relay check.
    pub(super) fn note_refused_uid(&mut self, uid: Uid) {
        let uids = &mut self.membership.refused_uids;
        if uids.contains(&uid) {
            return;
        }
        if uids.len() >= MAX_REFUSED_UIDS {
            uids.remove(0);
        }
        uids.push(uid);
    }

    /// True (and counted) when a ROUTED or FLOOD frame names a refused
    /// member as source or destination: it is neither relayed nor delivered.
    pub(super) fn refuses_routed(&mut self, src: &Uid, dst: &Uid) -> bool {
        let refused = self
            .membership
            .refused_uids
            .iter()
            .any(|u| u == src || u == dst);
        if refused {
            self.membership.relay_refused += 1;
        }
        refused
    }

    /// Sends our statement to `id` unless it already has this serial.
    /// `fresh`: a new session, so the peer may have lost what it had.
    pub(super) fn offer_statement(&mut self, now: Instant, id: PeerId, fresh: bool) {
        let serial = self.statement_serial();
        if serial == 0 {
            return;
        }
        let Some(p) = self.peer_mut(id) else { return };
        if fresh {
            p.members_sent = 0;
        }
        if p.members_sent >= serial {
            return;
        }
        let n = 1 + self.membership.raw.len();
        let Some(dst) = self.scratch.get_mut(..n) else {
            return self.count(super::NodeDrop::TooBig);
        };
        if let Some((head, body)) = dst.split_first_mut() {
            *head = MEMBERS;
            body.copy_from_slice(&self.membership.raw);
        }
        if let Some(p) = self.peer_mut(id) {
            p.members_sent = serial;
        }
        self.send_scratch(now, id, n);
    }

    /// A MEMBERS payload from a linked peer.
    pub(super) fn handle_members(&mut self, now: Instant, from: PeerId, p: &[u8]) {
        let body = p.get(1..).unwrap_or(&[]);
        // The statement we hold, coming back from a peer that got it from
        // someone else: not a refusal, and that peer needs no copy.
        if self.holds(body) {
            let held = self.statement_serial();
            if let Some(peer) = self.peer_mut(from) {
                peer.members_sent = held;
            }
            return;
        }
        match self.install_statement(now, body, StatementSource::Link) {
            Ok(serial) => {
                // The sender has it: do not send it back.
                if let Some(peer) = self.peer_mut(from) {
                    peer.members_sent = serial;
                }
            }
            Err(StatementError::Stale) => {
                // The sender is behind (or level): it gets ours.
                self.offer_statement(now, from, false);
            }
            Err(e) => log::debug!("membership statement from peer #{} refused: {e}", from.0),
        }
    }

    /// Whether `bytes` is the statement in force (a copy that came back).
    fn holds(&self, bytes: &[u8]) -> bool {
        !self.membership.raw.is_empty() && bytes == self.membership.raw.as_slice()
    }

    /// A statement that arrived in an XMPP `members` signal (the one in
    /// force, coming back, is ignored without counting).
    pub fn handle_signal_statement(&mut self, now: Instant, bytes: &[u8]) {
        if self.holds(bytes) {
            return;
        }
        if let Err(e) = self.install_statement(now, bytes, StatementSource::Signal) {
            log::debug!("membership statement from xmpp refused: {e}");
        }
    }

    /// Timer work: erase a previous group secret whose grace ran out.
    pub(super) fn membership_tick(&mut self, now: Instant) {
        if self.links.expire_psk(now) {
            log::info!("previous group secret erased (grace period over)");
        }
    }

    /// When `membership_tick` has work.
    pub(super) fn membership_timeout(&self) -> Option<Instant> {
        self.links.psk_deadline()
    }

    /// Holds `psk` as the next group secret (control socket).
    pub fn set_next_psk(&mut self, psk: [u8; 32]) {
        self.links.set_next_psk(psk);
    }

    /// Starts using the next group secret now and re-keys every link.
    /// False when no next secret is held.
    pub fn rotate_psk(&mut self, now: Instant) -> bool {
        let done = self.links.rotate_psk(now);
        if done {
            log::info!("group secret rotated: initiating with the next secret");
        }
        done
    }

    pub fn membership_status(&self) -> MembershipStatus {
        let mut revoked = self.membership.config_revoked.clone();
        if let Some(st) = &self.membership.statement {
            for k in &st.revoked {
                if !revoked.contains(k) {
                    revoked.push(*k);
                }
            }
        }
        MembershipStatus {
            operator_key: self.membership.operator,
            serial: self.statement_serial(),
            revoked: revoked.len(),
            allow_list: self
                .membership
                .statement
                .as_ref()
                .and_then(|s| s.allowed.as_ref().map(Vec::len)),
            accepted: self.membership.accepted,
            refused: StatementError::ALL
                .iter()
                .map(|e| (e.as_str(), self.membership.refused[*e as usize]))
                .collect(),
            relay_refused: self.membership.relay_refused,
            closed_links: self.membership.closed_links,
            tried: self.links.refused_tries().to_vec(),
            psk: self.links.psk_status(),
        }
    }
}
