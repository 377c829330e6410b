//! A deterministic many-node simulator: a virtual clock and a virtual
//! network (per-pair latency, loss, partitions) driving many sans-IO cores in
//! one thread. All randomness comes from one seeded [`Rng`](crate::core::rng::Rng),
//! so a failing seed replays exactly.
//!
//! Today it drives [`Topology`](crate::core::topology::Topology) instances
//! through a minimal model of links and signalling ([`World`]): a `Connect`
//! becomes a link request delivered over signalling, an accepted request
//! becomes an established link one round trip later, control messages travel
//! inside established links, and pings travel over signalling.
//!
//! [`NodeNet`] runs real [`Node`](crate::core::node::Node)s (Noise links,
//! forwarding, gossip) on the same kind of virtual network; it is what the
//! ring tests move to once `Node` drives a `Topology`.
//!
//! [`check`] holds the invariants the tests assert (true successors, chord
//! targets, unicast reachability, exactly-once broadcast) and [`bench`] the
//! 10,000-node benchmark behind `ipop sim-bench`.

pub mod bench;
pub mod check;
pub mod nodes;
mod schedule;
mod world;

pub use bench::{bench, BenchReport};
pub use nodes::{NodeNet, NodeNetConfig};
pub use world::{SimConfig, SimStats, World};

#[cfg(test)]
mod node_tests;
#[cfg(test)]
mod tests;
