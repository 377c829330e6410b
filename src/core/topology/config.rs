//! The topology's knobs, with IPOP 16.01's names, defaults and units
//! (reference §2, BaseTopologyManager): `ttl_*` are seconds, `interval_*` are
//! ticks of `timer_interval` seconds, `threshold_on_demand` is bytes/s.

use core::time::Duration;

use crate::config::OverlayConfig;

/// Everything [`super::Topology`] needs to know, converted to typed units.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopologyConfig {
    /// Clockwise ring neighbours to keep (16.01 `num_successors`, 20).
    pub num_successors: u16,
    /// Finger links toward `uid + 2^(159-i)` (16.01 `num_chords`, 10; at most 160).
    pub num_chords: u16,
    /// Cap on traffic-triggered links (16.01 `num_on_demand`, 20).
    pub num_on_demand: u16,
    /// Added to the three above to form the cap for accepting chord and
    /// on-demand requests (16.01 `num_inbound`, 50).
    pub num_inbound: u16,
    /// Time a new link has to come up (16.01 `ttl_link_initial`, 60 s).
    pub ttl_link_initial: Duration,
    /// An up link expires this long after it last showed life (16.01 `ttl_link_pulse`, 30 s).
    pub ttl_link_pulse: Duration,
    /// Chord re-check period (16.01 `ttl_chord`, 180 s).
    pub ttl_chord: Duration,
    /// On-demand link lifetime, renewed while busy (16.01 `ttl_on_demand`, 240 s).
    pub ttl_on_demand: Duration,
    /// Traffic rate that makes a destination worth a direct link (16.01
    /// `threshold_on_demand`, 128 bytes/s).
    pub threshold_on_demand: u32,
    /// Tick length (16.01 `timer_interval`, 1 s).
    pub tick: Duration,
    /// Management cycle in ticks (16.01 `interval_management`, 15).
    pub interval_management: u32,
    /// Signalling pings per round (16.01 `num_pings`, 5).
    pub num_pings: u16,
    /// Ping round period in ticks (16.01 `interval_ping`, 300).
    pub interval_ping: u32,
    /// ipop: how many signalling-known UIDs are remembered as ping targets and
    /// successor candidates (a random sample once full).
    pub max_known: usize,
    /// ipop: pending connect/disconnect/ping actions; more are dropped and counted.
    pub max_actions: usize,
    /// ipop: pending control messages; more are dropped and counted.
    pub max_outbox: usize,
}

impl Default for TopologyConfig {
    /// IPOP 16.01's defaults, which are also the seed's values.
    fn default() -> Self {
        TopologyConfig {
            num_successors: 20,
            num_chords: 10,
            num_on_demand: 20,
            num_inbound: 50,
            ttl_link_initial: Duration::from_secs(60),
            ttl_link_pulse: Duration::from_secs(30),
            ttl_chord: Duration::from_secs(180),
            ttl_on_demand: Duration::from_secs(240),
            threshold_on_demand: 128,
            tick: Duration::from_secs(1),
            interval_management: 15,
            num_pings: 5,
            interval_ping: 300,
            max_known: 64,
            max_actions: 256,
            max_outbox: 256,
        }
    }
}

impl TopologyConfig {
    /// 16.01's `max_num_links`: chord and on-demand requests are accepted only
    /// while the node has fewer links than this.
    pub fn max_links(&self) -> usize {
        self.num_successors as usize
            + self.num_chords as usize
            + self.num_on_demand as usize
            + self.num_inbound as usize
    }

    /// Length of one management cycle.
    pub fn management_period(&self) -> Duration {
        self.tick.saturating_mul(self.interval_management.max(1))
    }

    /// Length of one ping round.
    pub fn ping_period(&self) -> Duration {
        self.tick.saturating_mul(self.interval_ping.max(1))
    }
}

impl From<&OverlayConfig> for TopologyConfig {
    fn from(c: &OverlayConfig) -> Self {
        let secs = |s: u32| Duration::from_secs(u64::from(s));
        TopologyConfig {
            num_successors: c.num_successors,
            // A chord index is a bit position of the 160-bit ring.
            num_chords: c.num_chords.min(160),
            num_on_demand: c.num_on_demand,
            num_inbound: c.num_inbound,
            ttl_link_initial: secs(c.ttl_link_initial),
            ttl_link_pulse: secs(c.ttl_link_pulse),
            ttl_chord: secs(c.ttl_chord),
            ttl_on_demand: secs(c.ttl_on_demand),
            threshold_on_demand: c.threshold_on_demand,
            // A zero tick would make the timer spin; 16.01 would crash on it.
            tick: secs(c.timer_interval.max(1)),
            interval_management: c.interval_management.max(1),
            num_pings: c.num_pings,
            interval_ping: c.interval_ping.max(1),
            ..TopologyConfig::default()
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_16_01() {
        let c = TopologyConfig::default();
        assert_eq!(c.max_links(), 100);
        assert_eq!(c.management_period(), Duration::from_secs(15));
        assert_eq!(c.ping_period(), Duration::from_secs(300));
    }
}
