//! Chords (reference §4, "Chords"): for i in 0..num_chords a link to the
//! first member at or after `uid + 2^(159-i)`, found by a `find_chord` that
//! travels greedily toward the target (*closest*: it stops at the node with
//! no linked peer in (itself, target]) and a `found_chord` routed back to the
//! requester (*exact*). Each chord is re-checked every `ttl_chord`.

use super::{routing, wire, DropReason, LinkRole, Roles, Topology};
use crate::core::identity::Uid;
use crate::core::time::Instant;
use wire::ChordMsg;

pub(super) struct ChordSlot {
    pub target: Uid,
    pub peer: Option<Uid>,
    /// When the chord is re-checked.
    pub expires: Instant,
    /// When the last search for an empty slot went out.
    pub searched: Option<Instant>,
    /// The member this slot lost its link to last (see `clean_connections`).
    pub refused: Option<Uid>,
}

impl ChordSlot {
    pub fn new(target: Uid) -> Self {
        ChordSlot {
            target,
            peer: None,
            expires: Instant::ZERO,
            searched: None,
            refused: None,
        }
    }
}

impl Topology {
    /// The chord step of a management cycle: search for every empty slot
    /// (again each cycle until answered) and re-check every expired one.
    pub(super) fn manage_chords(&mut self, now: Instant) {
        let retry = self.cfg.management_period();
        let ttl = self.cfg.ttl_chord;
        let mut due = [false; 160];
        for (i, s) in self.chords.iter_mut().enumerate() {
            let search = match s.peer {
                None => s.searched.is_none_or(|t| now >= t + retry),
                Some(_) => now >= s.expires,
            };
            if search {
                if s.peer.is_some() {
                    // 16.01 `clean_chord`: re-issue and extend by ttl_chord.
                    s.expires = now + ttl;
                }
                s.searched = Some(now);
                if let Some(d) = due.get_mut(i) {
                    *d = true;
                }
            }
        }
        for i in 0..self.chords.len() {
            if !due.get(i).copied().unwrap_or(false) {
                continue;
            }
            let Some(target) = self.chords.get(i).map(|s| s.target) else {
                continue;
            };
            self.stats.chord_searches += 1;
            let index = u8::try_from(i).unwrap_or(u8::MAX);
            let m = ChordMsg::Find {
                hops_left: wire::INITIAL_HOPS,
                index,
                src: self.me,
                target,
            };
            self.route_find(now, m);
        }
    }

    /// A chord message from a link (hops already checked by the sender side
    /// of this hop: a message with no hops left is dropped here).
    pub(super) fn handle_chord(&mut self, now: Instant, m: ChordMsg) {
        let hops = match m {
            ChordMsg::Find { hops_left, .. } | ChordMsg::Found { hops_left, .. } => hops_left,
        };
        if hops == 0 {
            return self.drop(DropReason::HopLimit);
        }
        match m {
            ChordMsg::Find { .. } => self.route_find(now, m),
            ChordMsg::Found { .. } => self.route_found(now, m),
        }
    }

    /// *Closest* forwarding: pass `find_chord` on while a peer is closer to
    /// the target, else answer it.
    fn route_find(&mut self, now: Instant, m: ChordMsg) {
        let ChordMsg::Find {
            hops_left,
            index,
            src,
            target,
        } = m
        else {
            return;
        };
        if let Some(via) = routing::greedy(&self.me, &self.up, &target) {
            self.stats.chord_forwards += 1;
            let m = ChordMsg::Find {
                hops_left: hops_left.saturating_sub(1),
                index,
                src,
                target,
            };
            return self.push_control(via, m);
        }
        // No peer lies in (me, target]: the first member at or after the
        // target is us (exactly on it) or our nearest successor.
        // 16.01: answered with its own UID, the member just before the target.
        let found = if target == self.me {
            self.me
        } else {
            match routing::first_after(&self.me, &self.up) {
                Some(u) => u,
                None => return,
            }
        };
        let reply = ChordMsg::Found {
            hops_left: wire::INITIAL_HOPS,
            index,
            dst: src,
            target,
            found,
        };
        self.route_found(now, reply);
    }

    /// *Exact* forwarding: deliver `found_chord` here or pass it on toward
    /// its requester; drop it if no peer makes progress.
    fn route_found(&mut self, now: Instant, m: ChordMsg) {
        let ChordMsg::Found {
            hops_left,
            index,
            dst,
            target,
            found,
        } = m
        else {
            return;
        };
        if dst == self.me {
            return self.apply_found(now, usize::from(index), target, found);
        }
        match routing::greedy(&self.me, &self.up, &dst) {
            Some(via) => {
                self.stats.chord_forwards += 1;
                let hops_left = hops_left.saturating_sub(1);
                self.push_control(
                    via,
                    ChordMsg::Found {
                        hops_left,
                        index,
                        dst,
                        target,
                        found,
                    },
                );
            }
            None => self.drop(DropReason::NoRoute),
        }
    }

    /// 16.01 `add_chord`: keep the chord if it is the same member, else
    /// replace it with a link to the new one.
    fn apply_found(&mut self, now: Instant, index: usize, target: Uid, found: Uid) {
        let ttl = self.cfg.ttl_chord;
        let Some(slot) = self.chords.get_mut(index).filter(|s| s.target == target) else {
            return self.drop(DropReason::Stale);
        };
        if found == self.me {
            return;
        }
        slot.expires = now + ttl;
        if slot.peer == Some(found) {
            // Still the right member; ask for the link again if it was refused.
            if self.peer(&found).is_none() {
                self.add_role(now, found, LinkRole::Chord);
            }
            return;
        }
        let old = slot.peer.replace(found);
        if let Some(old) = old {
            if !self.chords.iter().any(|s| s.peer == Some(old)) {
                self.drop_role(&old, Roles::CHORD);
            }
        }
        self.add_role(now, found, LinkRole::Chord);
    }
}
