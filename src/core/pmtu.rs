//! Path MTU of one link, found by probing (in the spirit of RFC 8899,
//! DPLPMTUD): NATs and firewalls often drop ICMP, and a TURN or overlay
//! path has limits no ICMP would report anyway.
//!
//! Sizes are whole underlay IP datagrams (IP + UDP + everything inside).
//! The search starts from a confirmed base and probes the ceiling (the
//! underlay device's MTU) first, which is the answer on most paths; when
//! that probe is lost it bisects between the largest size that got through
//! and the smallest that did not. The confirmed size is what the node
//! fragments and clamps to; it never exceeds what a probe proved.

use core::time::Duration;

use crate::core::time::Instant;

/// Assumed before any probe got through: RFC 8899's BASE_PLPMTU. Every
/// IPv6 path carries it, and IPv4 paths below it are rare.
pub const BASE: u16 = 1200;
/// Used when even `BASE` is lost: IPv4's minimum reassembly size.
pub const MIN: u16 = 576;
/// How long one probe may take to be acknowledged.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(1);
/// Probes lost at one size before that size counts as too big.
pub const MAX_PROBES: u8 = 2;
/// A finished search is repeated this often (RFC 8899's PMTU_RAISE_TIMER),
/// so a path that grew or shrank is noticed.
pub const RESEARCH_INTERVAL: Duration = Duration::from_secs(600);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Outstanding {
    size: u16,
    sent: Instant,
    tries: u8,
}

#[derive(Clone, Debug)]
pub struct PathMtu {
    /// The largest size a probe proved (or `BASE` before any did).
    confirmed: u16,
    ceiling: u16,
    /// Search bounds: sizes above `high` did not get through; `low` did
    /// if `proved` (the base is assumed until then).
    low: u16,
    high: u16,
    proved: bool,
    probe: Option<Outstanding>,
    /// The search ended; it restarts at this time.
    next_search: Option<Instant>,
}

impl PathMtu {
    /// A new path whose device MTU (or buffer limit) is `ceiling`.
    pub fn new(now: Instant, ceiling: u16) -> PathMtu {
        let ceiling = ceiling.max(MIN);
        let base = BASE.min(ceiling);
        let mut p = PathMtu {
            confirmed: base,
            ceiling,
            low: base,
            high: ceiling,
            proved: false,
            probe: None,
            next_search: None,
        };
        p.start_search(now);
        p
    }

    /// The size every datagram on this path must fit.
    pub fn current(&self) -> u16 {
        self.confirmed
    }

    /// Whether a search is still running (no final answer yet).
    pub fn searching(&self) -> bool {
        self.next_search.is_none()
    }

    /// The path changed (another address or relay): forget what was proved.
    pub fn reset(&mut self, now: Instant, ceiling: u16) {
        *self = PathMtu::new(now, ceiling);
    }

    /// The underlay device MTU changed; a new search bounds to it.
    pub fn set_ceiling(&mut self, now: Instant, ceiling: u16) {
        let ceiling = ceiling.max(MIN);
        if ceiling != self.ceiling {
            self.ceiling = ceiling;
            self.confirmed = self.confirmed.min(ceiling);
            self.start_search(now);
        }
    }

    fn start_search(&mut self, _now: Instant) {
        self.low = self.confirmed.min(self.ceiling);
        self.high = self.ceiling;
        self.proved = false;
        self.probe = None;
        self.next_search = None;
    }

    /// Ends the search once the range is closed and its bottom proved.
    fn maybe_finish(&mut self, now: Instant) {
        if self.low >= self.high && (self.proved || self.low <= MIN) {
            self.finish(now);
        }
    }

    fn finish(&mut self, now: Instant) {
        self.confirmed = self.low;
        self.probe = None;
        self.next_search = Some(now + RESEARCH_INTERVAL);
    }

    /// The next size to probe: the ceiling first, then the middle of the
    /// open range, then (if nothing above it got through) the base itself.
    fn next_size(&self) -> u16 {
        if self.high == self.ceiling && self.low < self.ceiling {
            // Not yet refuted: the common answer, one round trip away.
            return self.ceiling;
        }
        if self.low >= self.high {
            return self.low;
        }
        self.low + (self.high - self.low).div_ceil(2)
    }

    /// A probe to send now, if one is due: its size. Call again after
    /// `poll_timeout`.
    pub fn poll_probe(&mut self, now: Instant) -> Option<u16> {
        self.handle_timeout(now);
        if !self.searching() {
            return None;
        }
        match self.probe {
            Some(p) if now < p.sent + PROBE_TIMEOUT => None,
            Some(p) => {
                // A retry of a lost probe (handle_timeout keeps it while
                // tries remain).
                self.probe = Some(Outstanding {
                    sent: now,
                    tries: p.tries + 1,
                    ..p
                });
                Some(p.size)
            }
            None => {
                let size = self.next_size();
                self.probe = Some(Outstanding {
                    size,
                    sent: now,
                    tries: 1,
                });
                Some(size)
            }
        }
    }

    /// The peer acknowledged a probe of `size` bytes.
    pub fn handle_ack(&mut self, now: Instant, size: u16) {
        let Some(p) = self.probe else { return };
        if p.size != size {
            return;
        }
        self.probe = None;
        self.low = size;
        self.proved = true;
        // A larger confirmed size is usable at once, mid-search.
        self.confirmed = self.confirmed.max(size).min(self.ceiling);
        self.maybe_finish(now);
    }

    /// A datagram of `size` bytes did not fit (the local stack refused it:
    /// a device MTU, a route's MTU learned from ICMP, IPsec overhead). A
    /// probe of that size is refuted at once; if data of that size was
    /// thought to fit, fall back to what surely does and search below.
    pub fn handle_too_big(&mut self, now: Instant, size: u16) {
        if self.probe.is_some_and(|p| p.size == size) {
            return self.refute(now, size);
        }
        if size > self.confirmed {
            return;
        }
        let limit = size.saturating_sub(1).max(MIN);
        self.ceiling = self.ceiling.min(limit);
        self.confirmed = BASE.min(limit);
        self.start_search(now);
    }

    /// Probe losses and the periodic re-search.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(t) = self.next_search {
            if now >= t {
                // Re-search from the base: a path that shrank is found too.
                self.confirmed = self.confirmed.min(self.ceiling);
                self.low = BASE.min(self.confirmed);
                self.high = self.ceiling;
                self.proved = false;
                self.probe = None;
                self.next_search = None;
            }
            return;
        }
        let Some(p) = self.probe else { return };
        if now < p.sent + PROBE_TIMEOUT || p.tries < MAX_PROBES {
            return;
        }
        self.refute(now, p.size);
    }

    /// `size` does not get through.
    fn refute(&mut self, now: Instant, size: u16) {
        self.probe = None;
        self.high = size.saturating_sub(1);
        if size <= self.low {
            // Even the base is lost: search below it from the minimum.
            self.low = MIN;
            self.proved = false;
        }
        self.high = self.high.max(self.low);
        if self.confirmed > self.high {
            self.confirmed = self.low;
        }
        self.maybe_finish(now);
    }

    /// When `poll_probe` or `handle_timeout` has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.next_search, self.probe) {
            (Some(t), _) => Some(t),
            (None, Some(p)) => Some(p.sent + PROBE_TIMEOUT),
            // A probe is due now.
            (None, None) => Some(Instant::ZERO),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs a search against a path that carries `path` bytes at most;
    /// returns the result and how long it took.
    fn search(ceiling: u16, path: u16) -> (u16, Duration, u32) {
        let start = Instant::ZERO + Duration::from_secs(1);
        let mut now = start;
        let mut p = PathMtu::new(now, ceiling);
        let mut probes = 0;
        while p.searching() {
            if let Some(size) = p.poll_probe(now) {
                probes += 1;
                if size <= path {
                    // Acknowledged 20 ms later.
                    now = now + Duration::from_millis(20);
                    p.handle_ack(now, size);
                    continue;
                }
            }
            now = now + Duration::from_millis(100);
            p.handle_timeout(now);
            assert!(probes < 100, "search does not end");
        }
        (p.current(), now.saturating_since(start), probes)
    }

    #[test]
    fn the_ceiling_is_found_in_one_probe() {
        assert_eq!(search(1500, 1500), (1500, Duration::from_millis(20), 1));
    }

    #[test]
    fn a_smaller_path_is_found_exactly() {
        for path in [1200u16, 1280, 1399, 1400, 1401, 1492, 1499] {
            let (mtu, took, probes) = search(1500, path);
            assert_eq!(mtu, path, "path {path}");
            assert!(probes <= 2 * 10, "path {path}: {probes} probes");
            assert!(took < Duration::from_secs(25), "path {path}: {took:?}");
        }
    }

    #[test]
    fn a_path_below_the_base_is_found_too() {
        assert_eq!(search(1500, 1000).0, 1000);
        assert_eq!(search(1500, 500).0, MIN);
        // A device MTU below the base is the base.
        assert_eq!(PathMtu::new(Instant::ZERO, 1000).current(), 1000);
    }

    #[test]
    fn confirmed_never_exceeds_a_proved_size() {
        let now = Instant::ZERO;
        let mut p = PathMtu::new(now, 1500);
        assert_eq!(p.current(), BASE);
        assert_eq!(p.poll_probe(now), Some(1500));
        // An ack for a size not probed changes nothing.
        p.handle_ack(now, 1400);
        assert_eq!(p.current(), BASE);
        // Lost twice: 1500 is refuted, the middle comes next.
        assert_eq!(p.poll_probe(now + PROBE_TIMEOUT), Some(1500));
        p.handle_timeout(now + PROBE_TIMEOUT * 2);
        assert_eq!(p.poll_probe(now + PROBE_TIMEOUT * 2), Some(1350));
        p.handle_ack(now + PROBE_TIMEOUT * 2, 1350);
        assert_eq!(p.current(), 1350);
        assert!(p.searching());
    }

    #[test]
    fn the_search_repeats_and_notices_a_shrunk_path() {
        let now = Instant::ZERO;
        let mut p = PathMtu::new(now, 1500);
        assert_eq!(p.poll_probe(now), Some(1500));
        p.handle_ack(now, 1500);
        assert_eq!((p.current(), p.searching()), (1500, false));
        assert_eq!(p.poll_timeout(), Some(now + RESEARCH_INTERVAL));
        let mut t = now + RESEARCH_INTERVAL;
        // The path now carries 1300: 1500 is lost, the search settles there.
        loop {
            if let Some(size) = p.poll_probe(t) {
                if size <= 1300 {
                    p.handle_ack(t, size);
                }
            }
            if !p.searching() {
                break;
            }
            t = t + Duration::from_millis(500);
        }
        assert_eq!(p.current(), 1300);
    }

    #[test]
    fn a_local_refusal_ends_a_probe_or_a_black_hole_at_once() {
        let now = Instant::ZERO;
        let mut p = PathMtu::new(now, 1500);
        assert_eq!(p.poll_probe(now), Some(1500));
        // The device takes only 1280: the 1500 probe fails on the spot.
        p.handle_too_big(now, 1500);
        assert_eq!(p.poll_probe(now), Some(1350));
        p.handle_too_big(now, 1350);
        assert_eq!(p.poll_probe(now), Some(1275));
        p.handle_ack(now, 1275);
        // ... and so on down to the device's 1280.
        let mut t = now;
        while p.searching() {
            match p.poll_probe(t) {
                Some(s) if s <= 1280 => p.handle_ack(t, s),
                Some(s) => p.handle_too_big(t, s),
                None => {}
            }
            t = t + Duration::from_millis(1);
        }
        assert_eq!(p.current(), 1280);
        // IPsec starts on the path: 1280-byte datagrams are refused; the
        // link falls back to the base at once and searches below 1280.
        p.handle_too_big(t, 1280);
        assert_eq!((p.current(), p.searching()), (BASE, true));
        assert_eq!(p.poll_probe(t), Some(1279));
        // A refusal above what is in use changes nothing.
        let mut q = PathMtu::new(now, 1500);
        q.handle_too_big(now, 1400);
        assert_eq!(q.current(), BASE);
    }

    #[test]
    fn reset_forgets_the_old_path() {
        let now = Instant::ZERO;
        let mut p = PathMtu::new(now, 1500);
        let _ = p.poll_probe(now);
        p.handle_ack(now, 1500);
        p.reset(now, 1280);
        assert_eq!((p.current(), p.searching()), (BASE, true));
        assert_eq!(p.poll_probe(now), Some(1280));
    }
}
