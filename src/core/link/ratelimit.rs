//! Handshake rate limiting: how many mac1-valid handshake messages may
//! reach Diffie-Hellman.
//!
//! * Up to UNDER_LOAD_PER_SECOND per second are served without question.
//! * Beyond that the node is "under load": a message needs a valid mac2
//!   (a cookie proving its source address is real) or it is answered with
//!   a cookie reply and costs no DH; cookie holders are further limited to
//!   PER_IP_PER_SECOND each (token buckets in a fixed table).
//! * Independent of load, a global token bucket caps DH-bound messages at
//!   GLOBAL_DH_PER_SECOND, so even many real addresses cannot pin the CPU.
//!
//! Buckets count nanoseconds of credit, as WireGuard's ratelimiter does, so
//! refills need no division per packet and no floating point.

use std::net::IpAddr;

use super::consts::*;
use super::noise;
use crate::core::time::Instant;

const NANOS_PER_SEC: u64 = 1_000_000_000;

#[derive(Clone, Copy, Default)]
struct Bucket {
    last: Instant,
    /// Credit in nanoseconds; one message costs `NANOS_PER_SEC / rate`.
    credit: u64,
}

impl Bucket {
    fn full(now: Instant, rate: u32, burst: u32) -> Bucket {
        Bucket {
            last: now,
            credit: cost(rate) * u64::from(burst),
        }
    }

    fn take(&mut self, now: Instant, rate: u32, burst: u32) -> bool {
        let elapsed = u64::try_from(now.saturating_since(self.last).as_nanos()).unwrap_or(u64::MAX);
        self.credit = self
            .credit
            .saturating_add(elapsed)
            .min(cost(rate) * u64::from(burst));
        self.last = now;
        if self.credit >= cost(rate) {
            self.credit -= cost(rate);
            true
        } else {
            false
        }
    }
}

fn cost(rate: u32) -> u64 {
    NANOS_PER_SEC / u64::from(rate.max(1))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Do the handshake.
    Accept,
    /// Under load and no valid mac2: send a cookie reply instead.
    NeedCookie,
    /// Over a limit: drop.
    Limited,
}

pub struct RateLimiter {
    window_start: Instant,
    window_count: u32,
    global: Option<Bucket>,
    per_ip: [Option<Bucket>; RATE_BUCKETS],
    /// Keys the IP-to-bucket hash, so nobody can aim at a given bucket.
    hash_key: [u8; 16],
}

impl RateLimiter {
    pub fn new(hash_key: [u8; 16]) -> RateLimiter {
        RateLimiter {
            window_start: Instant::ZERO,
            window_count: 0,
            global: None,
            per_ip: [None; RATE_BUCKETS],
            hash_key,
        }
    }

    /// True when more than UNDER_LOAD_PER_SECOND messages arrived in the
    /// current one-second window (this one included once `note` ran).
    pub fn under_load(&self) -> bool {
        self.window_count > UNDER_LOAD_PER_SECOND
    }

    /// Counts one mac1-valid handshake message.
    fn note(&mut self, now: Instant) {
        if now.saturating_since(self.window_start).as_nanos() >= u128::from(NANOS_PER_SEC) {
            self.window_start = now;
            self.window_count = 0;
        }
        self.window_count = self.window_count.saturating_add(1);
    }

    /// Decides on one mac1-valid handshake message from `ip`. `mac2_ok` is
    /// only evaluated under load (it costs a MAC).
    pub fn check(&mut self, now: Instant, ip: IpAddr, mac2_ok: impl FnOnce() -> bool) -> Verdict {
        self.note(now);
        if self.under_load() {
            if !mac2_ok() {
                return Verdict::NeedCookie;
            }
            let slot = self.bucket_of(ip);
            if let Some(b) = self.per_ip.get_mut(slot) {
                let bucket =
                    b.get_or_insert_with(|| Bucket::full(now, PER_IP_PER_SECOND, PER_IP_BURST));
                if !bucket.take(now, PER_IP_PER_SECOND, PER_IP_BURST) {
                    return Verdict::Limited;
                }
            }
        }
        let global = self
            .global
            .get_or_insert_with(|| Bucket::full(now, GLOBAL_DH_PER_SECOND, GLOBAL_DH_PER_SECOND));
        if global.take(now, GLOBAL_DH_PER_SECOND, GLOBAL_DH_PER_SECOND) {
            Verdict::Accept
        } else {
            Verdict::Limited
        }
    }

    fn bucket_of(&self, ip: IpAddr) -> usize {
        let h = match ip {
            IpAddr::V4(a) => noise::mac(&self.hash_key, &a.octets()),
            IpAddr::V6(a) => noise::mac(&self.hash_key, &a.octets()),
        };
        usize::from(u16::from_le_bytes([h[0], h[1]])) % RATE_BUCKETS
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::time::Duration;

    fn ip(n: u8) -> IpAddr {
        IpAddr::from([198, 51, 100, n])
    }

    #[test]
    fn below_load_everything_passes() {
        let mut r = RateLimiter::new([1; 16]);
        let t = Instant::from_secs(1);
        for _ in 0..UNDER_LOAD_PER_SECOND {
            assert_eq!(
                r.check(t, ip(1), || panic!("mac2 not needed")),
                Verdict::Accept
            );
        }
        assert!(!r.under_load());
        assert_eq!(r.check(t, ip(1), || false), Verdict::NeedCookie);
        assert!(r.under_load());
        // The next second starts a fresh window.
        let t2 = t + Duration::from_secs(1);
        assert_eq!(r.check(t2, ip(1), || false), Verdict::Accept);
    }

    #[test]
    fn per_ip_bucket_under_load() {
        let mut r = RateLimiter::new([1; 16]);
        let t = Instant::from_secs(1);
        for _ in 0..UNDER_LOAD_PER_SECOND {
            r.check(t, ip(9), || true);
        }
        let ok = (0..100)
            .filter(|_| r.check(t, ip(1), || true) == Verdict::Accept)
            .count();
        assert_eq!(ok, PER_IP_BURST as usize);
        // 50 ms later exactly one more token (20 per second) has accrued.
        let t2 = t + Duration::from_millis(50);
        assert_eq!(r.check(t2, ip(1), || true), Verdict::Accept);
        assert_eq!(r.check(t2, ip(1), || true), Verdict::Limited);
    }

    #[test]
    fn global_cap_holds_across_addresses() {
        let mut r = RateLimiter::new([2; 16]);
        let t = Instant::from_secs(1);
        let ok = (0..=255u8)
            .flat_map(|n| [n, n])
            .filter(|&n| r.check(t, ip(n), || true) == Verdict::Accept)
            .count();
        assert_eq!(ok, GLOBAL_DH_PER_SECOND as usize);
    }
}
