//! Glue between the node and the GroupVPN topology (IPOP 16.01's ring):
//! members the node learns become successor candidates, the topology's
//! Connect/Disconnect decide which links the node wants, its control
//! messages ride inside links, and link up/down transitions feed back.

use std::collections::VecDeque;

use super::payload::CONTROL;
use super::peers::Source;
use super::Node;
use crate::core::identity::Uid;
use crate::core::link::PeerId;
use crate::core::time::Instant;
use crate::core::topology::{Action, Roles};

/// A signalling message the node asks the shell to send (XMPP).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignalOut {
    /// Partition-healing ping carrying our UID (16.01 `ping`).
    Ping {
        to: Uid,
    },
    PingReply {
        to: Uid,
    },
    /// A membership statement was accepted: announce it to the group
    /// (`Node::statement_bytes`).
    Members,
}

/// Bound on queued signalling output; more is dropped (pings are periodic).
pub const MAX_SIGNALS_OUT: usize = 64;

impl Node {
    /// The next signalling message to send, if any.
    pub fn poll_signal(&mut self) -> Option<SignalOut> {
        self.signals_out.pop_front()
    }

    /// A partition-healing ping from member `from` arrived over signalling.
    pub fn handle_signal_ping(&mut self, now: Instant, from: Uid) {
        self.topology.handle_signal_ping(now, from);
        self.run_topology(now);
    }

    pub fn handle_signal_ping_reply(&mut self, now: Instant, from: Uid) {
        self.topology.handle_signal_ping_reply(now, from);
        self.run_topology(now);
    }

    /// The topology roles of the link to `uid` (for `ipop status`).
    pub fn roles(&self, uid: &Uid) -> Roles {
        self.topology.roles(uid)
    }

    /// Reports link transitions of every member, then carries out what the
    /// topology decided.
    pub(super) fn sync_topology(&mut self, now: Instant) {
        for i in 0..self.peers.len() {
            if let Some(id) = self.peers[i].as_ref().map(|p| p.id) {
                self.sync_peer(now, id);
            }
        }
        self.run_topology(now);
    }

    /// Tells the topology if the link to `id` came up or went down.
    pub(super) fn sync_peer(&mut self, now: Instant, id: PeerId) {
        let up = self.is_up(now, id);
        let Some(p) = self.peer_mut(id) else { return };
        let Some(uid) = p.uid() else { return };
        if p.topo_up == up {
            return;
        }
        p.topo_up = up;
        if up {
            self.topology.handle_link_up(now, uid);
        } else {
            log::info!("link to {} lost", self.peer_label(id));
            self.topology.handle_link_down(now, uid);
        }
    }

    /// Drains the topology: actions and control messages.
    pub(super) fn run_topology(&mut self, now: Instant) {
        while let Some(action) = self.topology.poll_action() {
            match action {
                Action::Connect { uid, role } => {
                    let Some(id) = self.peer_by_uid(&uid) else {
                        continue;
                    };
                    log::debug!(
                        "topology: link to {} as {}",
                        self.peer_label(id),
                        role.as_str()
                    );
                    if let Some(p) = self.peer_mut(id) {
                        if !p.wanted {
                            p.wanted = true;
                            p.next_attempt = now;
                        }
                    }
                }
                Action::Disconnect { uid } => {
                    let Some(id) = self.peer_by_uid(&uid) else {
                        continue;
                    };
                    if let Some(p) = self.peer_mut(id) {
                        // Bootstrap peers stay wanted: they are how we rejoin.
                        if p.source != Source::Static {
                            p.wanted = false;
                        }
                    }
                }
                Action::Ping { to } => push_signal(&mut self.signals_out, SignalOut::Ping { to }),
                Action::PingReply { to } => {
                    push_signal(&mut self.signals_out, SignalOut::PingReply { to })
                }
            }
        }
        loop {
            let Some(buf) = self.scratch.get_mut(1..) else {
                return;
            };
            let Some(t) = self.topology.poll_transmit(buf) else {
                break;
            };
            self.scratch[0] = CONTROL;
            match self.peer_by_uid(&t.via) {
                Some(id) if self.is_up(now, id) => self.send_scratch(now, id, t.len + 1),
                _ => {}
            }
        }
        self.attempt_connections(now);
    }

    pub(super) fn handle_control(&mut self, now: Instant, from_id: PeerId, p: &[u8]) {
        let Some(uid) = self.peer(from_id).and_then(|p| p.uid()) else {
            return;
        };
        self.sync_peer(now, from_id);
        self.topology
            .handle_control(now, uid, p.get(1..).unwrap_or_default());
        self.run_topology(now);
    }
}

fn push_signal(q: &mut VecDeque<SignalOut>, s: SignalOut) {
    if q.len() < MAX_SIGNALS_OUT {
        q.push_back(s);
    }
}
