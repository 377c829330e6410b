//! The management cycle, every `interval_management` ticks (reference §4,
//! "Per management cycle"): failure detection, on-demand links, successors,
//! chords, advertisements; and the ping round every `interval_ping` ticks.

use super::routing::{cw, Dist};
use super::{Action, LinkRole, LinkState, Roles, Topology};
use crate::core::identity::Uid;
use crate::core::time::Instant;

impl Topology {
    pub(super) fn manage(&mut self, now: Instant) {
        self.stats.management_cycles += 1;
        self.clean_connections(now);
        self.manage_on_demand(now);
        self.manage_successors(now);
        if !self.up.is_empty() {
            self.manage_chords(now);
            // 16.01 `advertise`: every linked peer gets our link list.
            self.advert_to.clear();
            self.advert_to.extend_from_slice(&self.up);
        }
        if self.peers.is_empty() {
            // 16.01 pings whenever it is connecting with nothing to link to.
            self.ping_round();
        }
        self.last_management = Some(now);
    }

    /// 16.01 `clean_connections`: a link past its deadline is closed. One
    /// that never came up also leaves the candidate pools, so a member that
    /// is gone is not asked again every cycle.
    fn clean_connections(&mut self, now: Instant) {
        let mut i = 0;
        while let Some(p) = self.peers.get(i) {
            if now < p.expires {
                i += 1;
                continue;
            }
            let (uid, never_up) = (p.uid, p.state == LinkState::Linking);
            self.stats.link_timeouts += 1;
            self.remove_peer(&uid, true);
            if never_up {
                self.known.retain(|u| *u != uid);
                self.discovered.retain(|(_, u)| *u != uid);
                // A chord link that never came up was most likely refused
                // by the member's inbound cap: the slot keeps pointing at it
                // and asks again at its next ttl_chord re-check instead of
                // searching (and being refused) every cycle.
                for s in self
                    .chords
                    .iter_mut()
                    .filter(|s| s.peer.is_none() && s.refused == Some(uid))
                {
                    s.peer = Some(uid);
                }
            }
        }
    }

    /// 16.01 `add_successors` + `remove_successors`: the `num_successors`
    /// members closest clockwise among current links, discovered and known
    /// members become successors; successors beyond them lose the role.
    fn manage_successors(&mut self, now: Instant) {
        let me = self.me;
        let k = usize::from(self.cfg.num_successors);
        let mut cand: Vec<(Dist, Uid)> = self
            .peers
            .iter()
            .map(|p| p.uid)
            .chain(self.discovered.iter().map(|(_, u)| *u))
            .chain(self.known.iter().copied())
            .filter(|u| *u != me)
            .map(|u| (cw(&me, &u), u))
            .collect();
        cand.sort_unstable();
        cand.dedup();
        cand.truncate(k);
        self.horizon = match cand.last() {
            Some((d, _)) if cand.len() == k => *d,
            _ => Dist::MAX,
        };
        self.discovered.clear();
        let stale: Vec<Uid> = self
            .peers
            .iter()
            .filter(|p| p.roles.contains(Roles::SUCCESSOR))
            .map(|p| p.uid)
            .filter(|u| !cand.iter().any(|(_, c)| c == u))
            .collect();
        for u in stale {
            self.drop_role(&u, Roles::SUCCESSOR);
        }
        for (_, u) in cand {
            self.add_role(now, u, LinkRole::Successor);
        }
    }

    /// 16.01 `add_on_demand` / `clean_on_demand`, driven by the bytes counted
    /// through `handle_traffic` since the last cycle.
    fn manage_on_demand(&mut self, now: Instant) {
        let period = self.cfg.management_period();
        let elapsed = self
            .last_management
            .map_or(period, |t| now - t)
            .max(core::time::Duration::from_millis(1));
        let threshold = u128::from(self.cfg.threshold_on_demand);
        let busy = |bytes: u64| u128::from(bytes) * 1_000_000_000 >= threshold * elapsed.as_nanos();
        let ttl = self.cfg.ttl_on_demand;
        let mut lapsed: Vec<Uid> = Vec::new();
        for p in self
            .peers
            .iter_mut()
            .filter(|p| p.roles.contains(Roles::ON_DEMAND))
        {
            if busy(self.traffic.bytes(&p.uid)) {
                // 16.01 added ttl_on_demand to the deadline each busy cycle.
                p.on_demand_until = now + ttl;
            } else if now >= p.on_demand_until {
                lapsed.push(p.uid);
            }
        }
        for u in lapsed {
            self.drop_role(&u, Roles::ON_DEMAND);
        }
        let count = self
            .peers
            .iter()
            .filter(|p| p.roles.contains(Roles::ON_DEMAND))
            .count();
        let room = usize::from(self.cfg.num_on_demand).saturating_sub(count);
        let busy_unlinked: Vec<Uid> = self
            .traffic
            .iter()
            .filter(|(u, b)| busy(*b) && *u != self.me && self.peer(u).is_none())
            .map(|(u, _)| u)
            .take(room)
            .collect();
        for u in busy_unlinked {
            self.add_role(now, u, LinkRole::OnDemand);
        }
        self.traffic.clear();
    }

    /// 16.01 `ping`: up to `num_pings` distinct random signalling-known members.
    pub(super) fn ping_round(&mut self) {
        let n = usize::from(self.cfg.num_pings).min(self.known.len());
        for i in 0..n {
            // A partial Fisher-Yates shuffle picks n distinct members in place.
            let j = i + self.rng.below((self.known.len() - i) as u64) as usize;
            self.known.swap(i, j);
            if let Some(&to) = self.known.get(i) {
                self.push_action(Action::Ping { to });
            }
        }
    }
}
