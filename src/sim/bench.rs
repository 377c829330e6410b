//! The many-node benchmark behind `ipop sim-bench`: `n` nodes with IPOP
//! 16.01's default topology settings join over a minute, then the world runs
//! until every successor and chord is right. Reports wall time, peak memory,
//! convergence time on the virtual clock, links per node and unicast hop
//! counts.

use core::fmt;
use std::time::Duration;

use crate::core::rng::Rng;

use super::{SimConfig, World};

/// What [`bench`] measured.
#[derive(Clone, Debug)]
pub struct BenchReport {
    pub nodes: usize,
    pub seed: u64,
    /// Real time the whole run took.
    pub wall: Duration,
    /// CPU time this process used (user + system), if the OS says; on a
    /// shared machine this is the fairer figure.
    pub cpu: Option<Duration>,
    /// Peak resident memory of this process (VmHWM, KiB), if the OS says.
    pub peak_rss_kib: Option<u64>,
    /// Virtual time from the last join until every successor set was right.
    pub successors_converged: Option<Duration>,
    /// Virtual time from the last join until every chord pointed at the
    /// right member too.
    pub converged: Option<Duration>,
    /// Chords pointing at the right member without an up link at the end
    /// (refused by that member's inbound cap, 16.01's `max_num_links`).
    pub chords_down: usize,
    /// Up links per node: min, median, max.
    pub links: (usize, usize, usize),
    /// Unicast hops over sampled pairs: p50, p90, p99, max.
    pub hops: (usize, usize, usize, usize),
    /// Sampled pairs that could not reach each other.
    pub unreachable: usize,
    pub pairs: usize,
    pub events: u64,
    pub control_messages: u64,
}

/// Spreads joins over this window of virtual time.
pub const JOIN_WINDOW: Duration = Duration::from_secs(60);
/// Gives up converging after this much virtual time past the last join.
pub const CONVERGE_LIMIT: Duration = Duration::from_secs(1800);
/// Source/destination pairs sampled for hop counts.
pub const SAMPLED_PAIRS: usize = 10_000;

/// Runs `n` nodes on a network seeded with `seed`. See the module doc.
pub fn bench(n: usize, seed: u64) -> BenchReport {
    let started = std::time::Instant::now();
    let mut w = World::new(SimConfig {
        seed,
        ..SimConfig::default()
    });
    w.join_spread(n, JOIN_WINDOW);
    let (succ, all) = w.run_until_converged(CONVERGE_LIMIT);
    let mut links = w.links_per_node();
    links.sort_unstable();
    let pick = |v: &[usize], q: usize| {
        v.get((v.len().saturating_sub(1)) * q / 100)
            .copied()
            .unwrap_or(0)
    };
    let members = w.members();
    let mut rng = Rng::from_seed([seed as u8; 32]);
    let mut hops = Vec::with_capacity(SAMPLED_PAIRS);
    let mut unreachable = 0;
    let pairs = if members.len() > 1 { SAMPLED_PAIRS } else { 0 };
    for _ in 0..pairs {
        let a = members[rng.below(members.len() as u64) as usize];
        let b = members[rng.below(members.len() as u64) as usize];
        match w.route(&a, &b) {
            Some(h) => hops.push(h),
            None => unreachable += 1,
        }
    }
    hops.sort_unstable();
    BenchReport {
        nodes: n,
        seed,
        wall: started.elapsed(),
        cpu: cpu_time(),
        peak_rss_kib: peak_rss_kib(),
        successors_converged: succ,
        converged: all,
        chords_down: w.chords_down(),
        links: (pick(&links, 0), pick(&links, 50), pick(&links, 100)),
        hops: (
            pick(&hops, 50),
            pick(&hops, 90),
            pick(&hops, 99),
            pick(&hops, 100),
        ),
        unreachable,
        pairs,
        events: w.stats.events,
        control_messages: w.stats.control_messages,
    }
}

/// VmHWM from /proc/self/status (Linux), in KiB.
fn peak_rss_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// utime + stime from /proc/self/stat (Linux).
fn cpu_time() -> Option<Duration> {
    let s = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields overall.
    let rest = s.rsplit_once(')')?.1;
    let mut f = rest.split_whitespace().skip(11);
    let ticks: u64 = f.next()?.parse::<u64>().ok()? + f.next()?.parse::<u64>().ok()?;
    // SAFETY: sysconf only reads a constant of the C library.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let hz = u64::try_from(hz).ok().filter(|&h| h > 0)?;
    Some(Duration::from_millis(ticks * 1000 / hz))
}

fn secs(d: Option<Duration>) -> String {
    d.map_or_else(
        || "not within limit".to_string(),
        |d| format!("{} s", d.as_secs()),
    )
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "nodes                {} (seed {})",
            self.nodes, self.seed
        )?;
        writeln!(f, "wall time            {:.1} s", self.wall.as_secs_f64())?;
        if let Some(c) = self.cpu {
            writeln!(f, "cpu time             {:.1} s", c.as_secs_f64())?;
        }
        match self.peak_rss_kib {
            Some(k) => writeln!(f, "peak memory (VmHWM)  {:.1} MiB", k as f64 / 1024.0)?,
            None => writeln!(f, "peak memory (VmHWM)  unknown")?,
        }
        writeln!(
            f,
            "successors converged {} after the last join (virtual)",
            secs(self.successors_converged)
        )?;
        writeln!(
            f,
            "chords converged     {} after the last join (virtual)",
            secs(self.converged)
        )?;
        let (lo, med, hi) = self.links;
        writeln!(f, "links per node       min {lo} / median {med} / max {hi}")?;
        let (p50, p90, p99, max) = self.hops;
        writeln!(f, "unicast hops         p50 {p50} / p90 {p90} / p99 {p99} / max {max} ({} pairs, {} unreachable)", self.pairs, self.unreachable)?;
        write!(
            f,
            "events               {} ({} control messages)",
            self.events, self.control_messages
        )
    }
}
