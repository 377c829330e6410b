//! Fragmentation inside the overlay: a payload too big for a link's path
//! MTU travels as FRAGMENT payloads, each inside the link's AEAD in its own
//! datagram, and is reassembled by the receiver (docs/PROTOCOL.md,
//! "FRAGMENT").
//!
//! Reassembly takes a fixed number of buffers from the node's pool, holds
//! a partial payload for at most `TIMEOUT`, and drops (by reason) what does
//! not fit together. No allocation after start-up.

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

use core::time::Duration;

use super::pool::{Pool, Slot};
use crate::core::link::PeerId;
use crate::core::time::Instant;

/// Payload type byte.
pub const FRAGMENT: u8 = 0x08;
/// `type(1) id(4) index(1) count(1) total(2)`.
pub const HEADER: usize = 9;
/// Most pieces of one payload (the bitmap's width). A 9000-byte frame over
/// a 576-byte path needs 20.
pub const MAX_PIECES: usize = 64;
/// A partial payload older than this is dropped (`frag_incomplete`): the
/// pieces of one payload are sent back to back.
pub const TIMEOUT: Duration = Duration::from_secs(1);
/// Finished ids remembered per node, to tell a late piece from a new
/// payload.
const RECENT: usize = 32;

/// Why a fragment was dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FragDrop {
    /// A piece already received.
    Duplicate,
    /// A piece that does not fit the others: another count or total, or a
    /// length its index does not allow.
    Overlapping,
    /// More pieces or bytes than a reassembly buffer holds.
    Oversized,
    /// A piece of a payload already completed or given up.
    Late,
    /// A payload given up with pieces missing (timeout or eviction).
    Incomplete,
}

impl FragDrop {
    pub const ALL: [FragDrop; 5] = [
        FragDrop::Duplicate,
        FragDrop::Overlapping,
        FragDrop::Oversized,
        FragDrop::Late,
        FragDrop::Incomplete,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            FragDrop::Duplicate => "frag_duplicate",
            FragDrop::Overlapping => "frag_overlapping",
            FragDrop::Oversized => "frag_oversized",
            FragDrop::Late => "frag_late",
            FragDrop::Incomplete => "frag_incomplete",
        }
    }
}

/// A parsed FRAGMENT header and its piece.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Piece<'a> {
    pub id: u32,
    pub index: u8,
    pub count: u8,
    /// Length of the whole payload.
    pub total: u16,
    pub data: &'a [u8],
}

impl<'a> Piece<'a> {
    pub fn parse(p: &'a [u8]) -> Option<Piece<'a>> {
        let h = p.get(..HEADER)?;
        if h.first() != Some(&FRAGMENT) {
            return None;
        }
        Some(Piece {
            id: u32::from_be_bytes(h.get(1..5)?.try_into().ok()?),
            index: *h.get(5)?,
            count: *h.get(6)?,
            total: u16::from_be_bytes(h.get(7..9)?.try_into().ok()?),
            data: p.get(HEADER..)?,
        })
    }
}

/// How a payload of `total` bytes is cut for pieces of at most `max_data`
/// bytes: the fewest pieces, of equal size but the last. `None` if it
/// needs no cutting or more than `MAX_PIECES` pieces.
pub fn split(total: usize, max_data: usize) -> Option<(u8, usize)> {
    if total <= max_data.saturating_add(HEADER) || max_data == 0 {
        return None;
    }
    let count = total.div_ceil(max_data);
    if count > MAX_PIECES {
        return None;
    }
    Some((count as u8, total.div_ceil(count)))
}

/// The byte range piece `index` of a `(count, total)` payload covers.
fn piece_range(index: u8, count: u8, total: u16) -> Option<core::ops::Range<usize>> {
    let (index, count, total) = (usize::from(index), usize::from(count), usize::from(total));
    if count < 2 || count > MAX_PIECES || index >= count {
        return None;
    }
    let size = total.div_ceil(count);
    let start = index * size;
    let end = (start + size).min(total);
    (start < end).then_some(start..end)
}

/// Writes the header of piece `index` into `out`; returns the piece's
/// byte range in the payload.
pub fn write_header(
    out: &mut [u8],
    id: u32,
    index: u8,
    count: u8,
    total: u16,
) -> Option<core::ops::Range<usize>> {
    let range = piece_range(index, count, total)?;
    let h = out.get_mut(..HEADER)?;
    h.copy_from_slice(&[FRAGMENT, 0, 0, 0, 0, index, count, 0, 0]);
    h.get_mut(1..5)?.copy_from_slice(&id.to_be_bytes());
    h.get_mut(7..9)?.copy_from_slice(&total.to_be_bytes());
    Some(range)
}

#[derive(Clone, Copy, Debug)]
struct Partial {
    peer: PeerId,
    id: u32,
    count: u8,
    total: u16,
    have: u64,
    started: Instant,
    buf: Slot,
}

impl Partial {
    fn complete(&self) -> bool {
        let all = if self.count as usize >= 64 {
            u64::MAX
        } else {
            (1u64 << self.count) - 1
        };
        self.have == all
    }
}

pub struct Reassembly {
    slots: Vec<Option<Partial>>,
    /// Most partial payloads one peer may hold (half the slots), so one
    /// member's flood of first pieces cannot starve the others.
    per_peer: usize,
    recent: [Option<(PeerId, u32)>; RECENT],
    recent_at: usize,
    drops: [u64; FragDrop::ALL.len()],
}

impl Reassembly {
    pub fn new(slots: usize) -> Reassembly {
        let slots = slots.max(2);
        Reassembly {
            slots: vec![None; slots],
            per_peer: slots.div_ceil(2),
            recent: [None; RECENT],
            recent_at: 0,
            drops: [0; FragDrop::ALL.len()],
        }
    }

    pub fn drops(&self) -> &[u64] {
        &self.drops
    }

    fn count(&mut self, why: FragDrop) {
        if let Some(d) = self.drops.get_mut(why as usize) {
            *d += 1;
        }
    }

    fn remember(&mut self, peer: PeerId, id: u32) {
        if let Some(r) = self.recent.get_mut(self.recent_at % RECENT) {
            *r = Some((peer, id));
        }
        self.recent_at = self.recent_at.wrapping_add(1);
    }

    /// Gives a slot's buffer back; `done` says whether it completed.
    fn retire(&mut self, pool: &mut Pool, i: usize, complete: bool) {
        if let Some(p) = self.slots.get_mut(i).and_then(Option::take) {
            if !complete {
                pool.release(p.buf);
                self.count(FragDrop::Incomplete);
            }
            self.remember(p.peer, p.id);
        }
    }

    /// A FRAGMENT payload from `peer`. Returns the completed payload (a
    /// pool buffer and its length; the caller releases it) when this
    /// piece was the last one missing.
    pub fn handle(
        &mut self,
        now: Instant,
        pool: &mut Pool,
        peer: PeerId,
        piece: &Piece,
    ) -> Option<(Slot, usize)> {
        self.handle_timeout(now, pool);
        if usize::from(piece.count) > MAX_PIECES || usize::from(piece.total) > pool.buf_size() {
            self.count(FragDrop::Oversized);
            return None;
        }
        let Some(range) = piece_range(piece.index, piece.count, piece.total) else {
            self.count(FragDrop::Overlapping);
            return None;
        };
        if range.len() != piece.data.len() {
            self.count(FragDrop::Overlapping);
            return None;
        }
        let found = self
            .slots
            .iter()
            .position(|s| s.is_some_and(|p| p.peer == peer && p.id == piece.id));
        let i = match found {
            Some(i) => i,
            None => {
                if self.recent.contains(&Some((peer, piece.id))) {
                    self.count(FragDrop::Late);
                    return None;
                }
                self.open(now, pool, peer, piece)?
            }
        };
        let p = self.slots.get_mut(i).and_then(Option::as_mut)?;
        if p.count != piece.count || p.total != piece.total {
            self.count(FragDrop::Overlapping);
            return None;
        }
        let bit = 1u64 << piece.index;
        if p.have & bit != 0 {
            self.count(FragDrop::Duplicate);
            return None;
        }
        p.have |= bit;
        let (buf, total, done) = (p.buf, p.total, p.complete());
        pool.buf(buf).get_mut(range)?.copy_from_slice(piece.data);
        if !done {
            return None;
        }
        self.retire(pool, i, true);
        Some((buf, usize::from(total)))
    }

    /// A slot for a new payload: a free one, else the peer's oldest if it
    /// holds its share, else the oldest of all (each given up is counted).
    fn open(
        &mut self,
        now: Instant,
        pool: &mut Pool,
        peer: PeerId,
        piece: &Piece,
    ) -> Option<usize> {
        let oldest = |slots: &[Option<Partial>], of: Option<PeerId>| {
            slots
                .iter()
                .enumerate()
                .filter_map(|(i, s)| s.map(|p| (i, p)))
                .filter(|(_, p)| of.is_none_or(|o| o == p.peer))
                .min_by_key(|(_, p)| p.started)
                .map(|(i, _)| i)
        };
        let held = self
            .slots
            .iter()
            .flatten()
            .filter(|p| p.peer == peer)
            .count();
        let i = if held >= self.per_peer {
            oldest(&self.slots, Some(peer))
        } else {
            self.slots
                .iter()
                .position(Option::is_none)
                .or_else(|| oldest(&self.slots, None))
        }?;
        self.retire(pool, i, false);
        let Some(buf) = pool.alloc() else {
            // The pool is busy with queued packets; the node counts pool_full
            // for those. This payload cannot be held.
            self.count(FragDrop::Incomplete);
            return None;
        };
        *self.slots.get_mut(i)? = Some(Partial {
            peer,
            id: piece.id,
            count: piece.count,
            total: piece.total,
            have: 0,
            started: now,
            buf,
        });
        Some(i)
    }

    /// Gives up partial payloads older than `TIMEOUT`.
    pub fn handle_timeout(&mut self, now: Instant, pool: &mut Pool) {
        for i in 0..self.slots.len() {
            let expired = self
                .slots
                .get(i)
                .and_then(|s| s.as_ref())
                .is_some_and(|p| now.saturating_since(p.started) >= TIMEOUT);
            if expired {
                self.retire(pool, i, false);
            }
        }
    }

    /// When the oldest partial payload times out.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.slots
            .iter()
            .flatten()
            .map(|p| p.started + TIMEOUT)
            .min()
    }

    /// Partial payloads held now (for tests and status).
    pub fn in_progress(&self) -> usize {
        self.slots.iter().flatten().count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn piece_bytes(id: u32, index: u8, count: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![0u8; HEADER];
        let r = write_header(&mut out, id, index, count, payload.len() as u16).unwrap();
        out.extend_from_slice(&payload[r]);
        out
    }

    fn cut(id: u32, payload: &[u8], max_data: usize) -> Vec<Vec<u8>> {
        let (count, _) = split(payload.len(), max_data).unwrap();
        (0..count)
            .map(|i| piece_bytes(id, i, count, payload))
            .collect()
    }

    fn feed(
        r: &mut Reassembly,
        pool: &mut Pool,
        now: Instant,
        peer: u16,
        bytes: &[u8],
    ) -> Option<Vec<u8>> {
        let piece = Piece::parse(bytes).unwrap();
        let (slot, n) = r.handle(now, pool, PeerId(peer), &piece)?;
        let out = pool.buf(slot)[..n].to_vec();
        pool.release(slot);
        Some(out)
    }

    fn drops(r: &Reassembly) -> Vec<(&'static str, u64)> {
        FragDrop::ALL
            .iter()
            .map(|d| (d.as_str(), r.drops()[*d as usize]))
            .filter(|d| d.1 > 0)
            .collect()
    }

    #[test]
    fn fragment_matches_protocol_doc() {
        let doc = include_str!("../../../docs/PROTOCOL.md");
        let want: Vec<String> = doc
            .split("```hex fragment-vector")
            .nth(1)
            .and_then(|s| s.split("```").next())
            .expect("vector in docs/PROTOCOL.md")
            .split_whitespace()
            .map(String::from)
            .collect();
        let mut payload = vec![0x01u8];
        payload.extend(0u8..24);
        let hex = |b: &[u8]| b.iter().map(|b| format!("{b:02x}")).collect::<String>();
        let got: Vec<String> = cut(0x0102_0304, &payload, 12)
            .iter()
            .map(|p| hex(p))
            .collect();
        assert_eq!(got, want);
        let mut pool = Pool::new(4, 256);
        let mut r = Reassembly::new(2);
        let mut out = None;
        for p in &got {
            let bytes: Vec<u8> = (0..p.len() / 2)
                .map(|i| u8::from_str_radix(&p[2 * i..2 * i + 2], 16).unwrap())
                .collect();
            out = feed(&mut r, &mut pool, Instant::ZERO, 1, &bytes);
        }
        assert_eq!(out, Some(payload));
    }

    #[test]
    fn split_takes_the_fewest_equal_pieces() {
        assert_eq!(split(1000, 1000), None);
        assert_eq!(split(1009, 1000), None);
        assert_eq!(split(1515, 1200), Some((2, 758)));
        assert_eq!(split(2401, 1200), Some((3, 801)));
        assert_eq!(split(100_000, 10), None);
        for total in [1001usize, 1515, 3000, 9056] {
            for max in [455usize, 600, 1000, 1400] {
                let Some((count, size)) = split(total, max) else {
                    continue;
                };
                assert!(size <= max, "{total}/{max}");
                assert_eq!(usize::from(count), total.div_ceil(max));
                let covered: usize = (0..count)
                    .map(|i| piece_range(i, count, total as u16).unwrap().len())
                    .sum();
                assert_eq!(covered, total);
            }
        }
    }

    #[test]
    fn pieces_in_any_order_make_the_payload() {
        let payload: Vec<u8> = (0..3000u32).map(|i| (i * 7) as u8).collect();
        let pieces = cut(9, &payload, 1100);
        assert_eq!(pieces.len(), 3);
        let mut pool = Pool::new(8, 4096);
        let mut r = Reassembly::new(4);
        let now = Instant::ZERO;
        assert_eq!(feed(&mut r, &mut pool, now, 1, &pieces[2]), None);
        assert_eq!(feed(&mut r, &mut pool, now, 1, &pieces[0]), None);
        assert_eq!(r.in_progress(), 1);
        assert_eq!(feed(&mut r, &mut pool, now, 1, &pieces[1]), Some(payload));
        assert_eq!(r.in_progress(), 0);
        assert!(drops(&r).is_empty());
        // A copy after completion is late, not the start of a new payload.
        assert_eq!(feed(&mut r, &mut pool, now, 1, &pieces[1]), None);
        assert_eq!(drops(&r), vec![("frag_late", 1)]);
        assert_eq!(r.in_progress(), 0);
    }

    #[test]
    fn adversarial_pieces_are_counted_and_dropped() {
        let payload = vec![0xabu8; 2000];
        let pieces = cut(1, &payload, 1200);
        let mut pool = Pool::new(8, 4096);
        let mut r = Reassembly::new(4);
        let now = Instant::ZERO;
        assert_eq!(feed(&mut r, &mut pool, now, 1, &pieces[0]), None);
        // Duplicate.
        assert_eq!(feed(&mut r, &mut pool, now, 1, &pieces[0]), None);
        // Same id, another total (would overlap differently).
        let other = piece_bytes(1, 1, 2, &vec![1u8; 1900]);
        assert_eq!(feed(&mut r, &mut pool, now, 1, &other), None);
        // A piece longer than its index allows.
        let mut long = pieces[1].clone();
        long.push(0);
        assert_eq!(feed(&mut r, &mut pool, now, 1, &long), None);
        // Index past count, count of one, zero-length piece.
        let mut past = pieces[1].clone();
        past[5] = 2;
        assert_eq!(feed(&mut r, &mut pool, now, 1, &past), None);
        let mut single = pieces[1].clone();
        single[6] = 1;
        assert_eq!(feed(&mut r, &mut pool, now, 1, &single), None);
        // Bigger than a buffer, and more pieces than the bitmap.
        let huge = piece_bytes(2, 0, 2, &vec![0u8; 5000]);
        assert_eq!(feed(&mut r, &mut pool, now, 1, &huge), None);
        let mut many = pieces[0].clone();
        many[6] = 65;
        assert_eq!(feed(&mut r, &mut pool, now, 1, &many), None);
        assert_eq!(
            drops(&r),
            vec![
                ("frag_duplicate", 1),
                ("frag_overlapping", 4),
                ("frag_oversized", 2)
            ]
        );
        // The genuine last piece still completes the payload.
        assert_eq!(feed(&mut r, &mut pool, now, 1, &pieces[1]), Some(payload));
    }

    #[test]
    fn incomplete_payloads_time_out_and_free_their_buffer() {
        let pieces = cut(5, &[7u8; 2500], 1000);
        let mut pool = Pool::new(3, 4096);
        let mut r = Reassembly::new(2);
        let now = Instant::ZERO;
        assert_eq!(feed(&mut r, &mut pool, now, 1, &pieces[0]), None);
        assert_eq!(r.poll_timeout(), Some(now + TIMEOUT));
        r.handle_timeout(now + TIMEOUT, &mut pool);
        assert_eq!(r.in_progress(), 0);
        assert_eq!(drops(&r), vec![("frag_incomplete", 1)]);
        // The rest arrives after the deadline: late.
        assert_eq!(feed(&mut r, &mut pool, now + TIMEOUT, 1, &pieces[1]), None);
        assert_eq!(drops(&r), vec![("frag_late", 1), ("frag_incomplete", 1)]);
        // Every buffer is back in the pool.
        let all: Vec<_> = (0..3).filter_map(|_| pool.alloc()).collect();
        assert_eq!(all.len(), 3);
    }

    #[test]
    fn a_flood_of_first_pieces_cannot_starve_other_peers() {
        let mut pool = Pool::new(16, 4096);
        let mut r = Reassembly::new(4);
        let now = Instant::ZERO;
        // Peer 1 opens 100 payloads and never finishes one: it keeps at
        // most half the slots, recycling its own oldest.
        for id in 0..100u32 {
            let p = cut(id, &[1u8; 2000], 1200);
            assert_eq!(feed(&mut r, &mut pool, now, 1, &p[0]), None);
        }
        assert_eq!(r.in_progress(), 2);
        assert_eq!(drops(&r), vec![("frag_incomplete", 98)]);
        // Peer 2's payload still goes through.
        let payload = vec![2u8; 2000];
        let p = cut(0, &payload, 1200);
        assert_eq!(feed(&mut r, &mut pool, now, 2, &p[0]), None);
        assert_eq!(feed(&mut r, &mut pool, now, 2, &p[1]), Some(payload));
    }
}
