//! Overlay routing over the sorted list of up links: greedy clockwise
//! forwarding (reference §4, `forward_msg`) and the bounded broadcast flood.
//!
//! Both are pure functions of (own UID, sorted up peers, destination), run in
//! the datapath, and never allocate.
//!
//! **Flood rule.** A broadcast copy carries `arc_end`: its receiver is
//! responsible for the members strictly inside the clockwise arc
//! `(self, arc_end)`; the originator uses `arc_end = self`, the whole ring. The
//! receiver takes its up peers inside that arc in clockwise order
//! `p1 < p2 < … < pk` and sends `p_j` a copy with `arc_end = p_{j+1}`
//! (`p_k` gets the receiver's own `arc_end`). The sub-arcs `(p_j, p_{j+1})` and
//! the points `p_j` partition `(self, arc_end)`, so no member is given two
//! copies and every arc strictly shrinks (no loops). Every member is reached
//! when each node's clockwise successor is linked (a converged ring): the
//! first member inside any non-empty arc is then always one of the `p_j`.

use crate::core::identity::Uid;

/// A clockwise distance `(x - from) mod 2^160` as three big-endian limbs, so
/// comparing distances is a few integer compares. Equal to
/// `from.distance_cw(x)` in order; this is the hot path of the topology.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Dist(u32, u64, u64);

impl Dist {
    pub const ZERO: Dist = Dist(0, 0, 0);
    pub const MAX: Dist = Dist(u32::MAX, u64::MAX, u64::MAX);
}

fn limbs(u: &Uid) -> (u32, u64, u64) {
    let b = &u.0;
    let hi = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    let mid = u64::from_be_bytes([b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11]]);
    let lo = u64::from_be_bytes([b[12], b[13], b[14], b[15], b[16], b[17], b[18], b[19]]);
    (hi, mid, lo)
}

/// Clockwise distance from `from` to `x`.
pub fn cw(from: &Uid, x: &Uid) -> Dist {
    let (fh, fm, fl) = limbs(from);
    let (xh, xm, xl) = limbs(x);
    let (lo, b1) = xl.overflowing_sub(fl);
    let (mid, b2) = xm.overflowing_sub(fm);
    let (mid, b3) = mid.overflowing_sub(u64::from(b1));
    let hi = xh.wrapping_sub(fh).wrapping_sub(u32::from(b2 || b3));
    Dist(hi, mid, lo)
}

/// True if `x` lies in the clockwise half-open arc `(from, end]`.
pub fn in_arc(from: &Uid, x: &Uid, end: &Uid) -> bool {
    let d = cw(from, x);
    d != Dist::ZERO && d <= cw(from, end)
}

/// The up peer with the largest clockwise progress from `me` toward `dst`
/// that does not pass it: the last peer in `(me, dst]`. `up` must be sorted
/// ascending and must not contain `me`. None if no peer makes progress.
pub fn greedy(me: &Uid, up: &[Uid], dst: &Uid) -> Option<Uid> {
    let last = *up.last()?;
    // The peer at or just before `dst` going counter-clockwise: if any peer
    // lies in (me, dst] this one does, being the closest to dst.
    let idx = up.partition_point(|p| p <= dst);
    let cand = match idx.checked_sub(1) {
        Some(i) => up.get(i).copied().unwrap_or(last),
        None => last,
    };
    in_arc(me, &cand, dst).then_some(cand)
}

/// The first up peer clockwise after `me` (its nearest successor).
pub fn first_after(me: &Uid, up: &[Uid]) -> Option<Uid> {
    let idx = up.partition_point(|p| p <= me);
    up.get(idx).or_else(|| up.first()).copied()
}

/// True if `x` is strictly inside the clockwise arc `(from, end)`; the arc
/// `(from, from)` is the whole ring except `from`.
pub fn in_open_arc(from: &Uid, x: &Uid, end: &Uid) -> bool {
    let dx = cw(from, x);
    dx != Dist::ZERO && (end == from || dx < cw(from, end))
}

/// Fills `out` with (peer, arc_end) pairs for a broadcast copy this node is
/// responsible for up to `arc_end` (see the module doc). When there are more
/// peers in the arc than `out` holds, an evenly spaced subset that always
/// starts with the nearest one is used, which keeps the exactly-once property.
pub fn flood_targets<const N: usize>(
    me: &Uid,
    up: &[Uid],
    arc_end: &Uid,
    out: &mut heapless::Vec<(Uid, Uid), N>,
) {
    out.clear();
    if N == 0 || up.is_empty() {
        return;
    }
    let start = up.partition_point(|p| p <= me);
    let clockwise = || up.iter().cycle().skip(start).take(up.len());
    let inside = clockwise()
        .take_while(|p| in_open_arc(me, p, arc_end))
        .count();
    let stride = inside.div_ceil(N).max(1);
    let mut prev: Option<Uid> = None;
    for p in clockwise().take(inside).step_by(stride) {
        if let Some(q) = prev {
            // Capacity is guaranteed by the stride; a failure is impossible.
            let _ = out.push((q, *p));
        }
        prev = Some(*p);
    }
    if let Some(q) = prev {
        let _ = out.push((q, *arc_end));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn u(b: u8) -> Uid {
        let mut x = [0u8; 20];
        x[0] = b;
        Uid(x)
    }

    #[test]
    fn fast_distance_matches_uid_arithmetic() {
        let ids: Vec<Uid> = (0..40u8)
            .map(|i| Uid::from_ip4([10, 0, 0, i].into()))
            .chain([Uid::ZERO, Uid([0xff; 20]), u(0x80)])
            .collect();
        for a in &ids {
            for b in &ids {
                let d = a.distance_cw(b);
                assert_eq!(cw(a, b), cw(&Uid::ZERO, &d));
                for c in &ids {
                    assert_eq!(cw(a, b) < cw(a, c), d < a.distance_cw(c));
                    assert_eq!(in_arc(a, b, c), a.arc_contains(b, c));
                }
            }
        }
    }

    #[test]
    fn greedy_does_not_pass_the_destination() {
        let up = [u(10), u(50), u(90), u(200)];
        assert_eq!(greedy(&u(0), &up, &u(60)), Some(u(50)));
        assert_eq!(greedy(&u(0), &up, &u(50)), Some(u(50)));
        assert_eq!(greedy(&u(0), &up, &u(5)), None);
        // Wrapping: from 220 toward 20, the best is 10 (past zero).
        assert_eq!(greedy(&u(220), &up, &u(20)), Some(u(10)));
        assert_eq!(greedy(&u(220), &up, &u(210)), Some(u(200)));
        assert_eq!(greedy(&u(100), &up, &u(95)), Some(u(90)));
        assert_eq!(greedy(&u(100), &[], &u(95)), None);
        assert_eq!(first_after(&u(100), &up), Some(u(200)));
        assert_eq!(first_after(&u(250), &up), Some(u(10)));
    }

    #[test]
    fn flood_splits_the_arc() {
        let up = [u(10), u(50), u(90), u(200)];
        let mut out = heapless::Vec::<(Uid, Uid), 8>::new();
        flood_targets(&u(60), &up, &u(60), &mut out);
        assert_eq!(
            &out[..],
            &[
                (u(90), u(200)),
                (u(200), u(10)),
                (u(10), u(50)),
                (u(50), u(60))
            ]
        );
        flood_targets(&u(60), &up, &u(200), &mut out);
        assert_eq!(&out[..], &[(u(90), u(200))]);
        flood_targets(&u(60), &up, &u(90), &mut out);
        assert!(out.is_empty());
        let mut small = heapless::Vec::<(Uid, Uid), 2>::new();
        flood_targets(&u(60), &up, &u(60), &mut small);
        assert_eq!(&small[..], &[(u(90), u(10)), (u(10), u(60))]);
    }

    /// Every member of a ring where each node links its `succ` nearest
    /// successors plus a few far peers receives a flood exactly once, from
    /// every originator, whatever the out capacity.
    #[test]
    fn flood_reaches_each_member_exactly_once() {
        let n = 60usize;
        let mut ring: Vec<Uid> = (0..n)
            .map(|i| Uid::from_ip4([10, 0, 0, i as u8].into()))
            .collect();
        ring.sort();
        let links = |i: usize| -> Vec<Uid> {
            let mut v: Vec<Uid> = [1, 2, 7, 19, 30]
                .iter()
                .map(|d| ring[(i + d) % n])
                .collect();
            v.sort();
            v.dedup();
            v
        };
        for origin in 0..n {
            let mut got = vec![0u32; n];
            let mut stack = vec![(origin, ring[origin])];
            got[origin] += 1;
            while let Some((at, end)) = stack.pop() {
                let mut out = heapless::Vec::<(Uid, Uid), 3>::new();
                flood_targets(&ring[at], &links(at), &end, &mut out);
                for (peer, sub_end) in out {
                    let j = ring.binary_search(&peer).unwrap();
                    got[j] += 1;
                    stack.push((j, sub_end));
                }
            }
            assert!(got.iter().all(|&c| c == 1), "origin {origin}: {got:?}");
        }
    }
}
