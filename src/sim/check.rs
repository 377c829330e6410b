//! The properties the simulator tests assert, computed from the true
//! membership (what an omniscient observer knows) and each node's own view.

use crate::core::identity::Uid;
use crate::core::topology::{in_open_arc, LinkState, Roles};

use super::World;

/// Most hops a unicast may take before it counts as lost.
pub const MAX_HOPS: usize = 64;

/// The first member at or after `target` going clockwise (`members` sorted).
pub fn successor_of(members: &[Uid], target: &Uid) -> Option<Uid> {
    let i = members.partition_point(|m| m < target);
    members.get(i).or_else(|| members.first()).copied()
}

/// The `k` members following `me` clockwise (`members` sorted, contains `me`).
pub fn true_successors(members: &[Uid], me: &Uid, k: usize) -> Vec<Uid> {
    let start = members.partition_point(|m| m <= me);
    let k = k.min(members.len().saturating_sub(1));
    members
        .iter()
        .cycle()
        .skip(start)
        .take(k)
        .copied()
        .collect()
}

impl World {
    /// Live nodes whose up successor links differ from the true next
    /// `num_successors` members.
    pub fn successor_errors(&self) -> usize {
        let members = self.members();
        let k = usize::from(self.cfg.topology.num_successors);
        self.live_nodes()
            .filter(|n| {
                let mut want = true_successors(&members, &n.uid, k);
                want.sort_unstable();
                let mut have: Vec<Uid> = n
                    .topo
                    .links()
                    .filter(|l| l.roles.contains(Roles::SUCCESSOR) && l.state == LinkState::Up)
                    .map(|l| l.uid)
                    .collect();
                have.sort_unstable();
                have != want
            })
            .count()
    }

    /// Chord slots (over all live nodes) not pointing at the first member
    /// at or after their target (slots whose answer is the node itself are
    /// not counted: no link is needed).
    pub fn chord_errors(&self) -> usize {
        self.chord_slots()
            .filter(|(_, peer, want)| peer != want)
            .count()
    }

    /// Chord slots pointing at the right member whose link is not up: the
    /// member's inbound cap (`max_links`, 16.01's rule) refused it, or it is
    /// still being built.
    pub fn chords_down(&self) -> usize {
        self.chord_slots()
            .filter(|(n, peer, want)| {
                peer == want && peer.is_some_and(|p| n.topo.linked().binary_search(&p).is_err())
            })
            .count()
    }

    /// (node, slot's member, true member) for every chord slot that needs a link.
    fn chord_slots(
        &self,
    ) -> impl Iterator<Item = (&super::world::SimNode, Option<Uid>, Option<Uid>)> {
        let members = self.members();
        let chords = usize::from(self.cfg.topology.num_chords);
        self.live_nodes().flat_map(move |n| {
            let members = members.clone();
            (0..chords).filter_map(move |i| {
                let (target, peer) = n.topo.chord(i)?;
                let want = successor_of(&members, &target);
                (want != Some(n.uid)).then_some((n, peer, want))
            })
        })
    }

    /// Hops a unicast from `src` to `dst` takes following every node's
    /// `next_hop`; None if it is dropped, loops or hits a dead node.
    pub fn route(&self, src: &Uid, dst: &Uid) -> Option<usize> {
        let mut at = *src;
        for hops in 0..=MAX_HOPS {
            if at == *dst {
                return Some(hops);
            }
            let node = self.node_of(&at)?;
            at = node.topo.next_hop(dst)?;
        }
        None
    }

    /// How many copies of a broadcast from `origin` each live member gets,
    /// following every node's `flood_targets` (sorted like [`World::members`]).
    /// The origin is counted once, as if it received its own frame.
    pub fn flood(&self, origin: &Uid) -> Vec<u32> {
        let members = self.members();
        let mut got = vec![0u32; members.len()];
        let mut stack = vec![(*origin, *origin)];
        let mut out = heapless::Vec::<(Uid, Uid), 128>::new();
        while let Some((at, end)) = stack.pop() {
            let Ok(i) = members.binary_search(&at) else {
                continue;
            };
            got[i] += 1;
            let Some(node) = self.node_of(&at) else {
                continue;
            };
            node.topo.flood_targets(&end, &mut out);
            for &(peer, sub_end) in out.iter() {
                debug_assert!(in_open_arc(&at, &peer, &end));
                stack.push((peer, sub_end));
            }
        }
        got
    }

    /// Up links per live node.
    pub fn links_per_node(&self) -> Vec<usize> {
        self.live_nodes().map(|n| n.topo.linked().len()).collect()
    }

    fn live_nodes(&self) -> impl Iterator<Item = &super::world::SimNode> {
        self.nodes.iter().filter(|n| n.alive)
    }
}
