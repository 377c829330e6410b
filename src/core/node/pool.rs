//! A fixed pool of packet buffers and the queue of outputs waiting for the
//! shell. Sized once at start-up (from the board profile); the packet path
//! never allocates. A full pool or queue drops and counts, it never grows.

use std::collections::VecDeque;
use std::net::SocketAddr;

/// Where an output goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dest {
    /// A UDP datagram from the overlay's socket.
    Udp(SocketAddr),
    /// A frame to write to the TAP.
    Tap,
}

#[derive(Clone, Copy, Debug)]
struct Pending {
    slot: u16,
    len: u16,
    dest: Dest,
}

pub struct Pool {
    /// All buffers back to back. The capacity is reserved at start; the
    /// length grows to the highest slot used so far, so only buffers that
    /// carried a packet are ever touched (a calloc'd pool is memset page by
    /// page by some allocators, musl's among them: megabytes of RSS for
    /// buffers an idle node never uses).
    bytes: Vec<u8>,
    buf_size: usize,
    free: Vec<u16>,
    queue: VecDeque<Pending>,
    /// The slot lent out by the last `pop`, returned on the next call.
    lent: Option<u16>,
}

impl Pool {
    pub fn new(buffers: usize, buf_size: usize) -> Pool {
        let buffers = buffers.clamp(2, u16::MAX as usize);
        Pool {
            bytes: Vec::with_capacity(buffers * buf_size),
            buf_size,
            free: (0..buffers as u16).rev().collect(),
            queue: VecDeque::with_capacity(buffers),
            lent: None,
        }
    }

    pub fn buf_size(&self) -> usize {
        self.buf_size
    }

    /// Takes a free buffer, or `None` when every buffer is queued.
    pub fn alloc(&mut self) -> Option<Slot> {
        self.free.pop().map(Slot)
    }

    pub fn buf(&mut self, slot: Slot) -> &mut [u8] {
        let start = slot.0 as usize * self.buf_size;
        self.touch(start + self.buf_size);
        &mut self.bytes[start..start + self.buf_size]
    }

    /// Grows the used part up to `end`, within the reserved capacity (no
    /// allocation: the free list only hands out slots below it).
    fn touch(&mut self, end: usize) {
        if end > self.bytes.len() {
            self.bytes.resize(end, 0);
        }
    }

    /// Two distinct buffers at once (for copying one into the other).
    pub fn two_bufs(&mut self, a: Slot, b: Slot) -> (&mut [u8], &mut [u8]) {
        let n = self.buf_size;
        let (lo, hi, swap) = if a.0 < b.0 {
            (a.0, b.0, false)
        } else {
            (b.0, a.0, true)
        };
        self.touch(hi as usize * n + n);
        let (left, right) = self.bytes.split_at_mut(hi as usize * n);
        let x = &mut left[lo as usize * n..lo as usize * n + n];
        let y = &mut right[..n];
        if swap {
            (y, x)
        } else {
            (x, y)
        }
    }

    pub fn release(&mut self, slot: Slot) {
        self.free.push(slot.0);
    }

    /// Queues `len` bytes of `slot` for `dest`.
    pub fn push(&mut self, slot: Slot, len: usize, dest: Dest) {
        let len = len.min(self.buf_size) as u16;
        self.touch((slot.0 as usize + 1) * self.buf_size);
        self.queue.push_back(Pending {
            slot: slot.0,
            len,
            dest,
        });
    }

    /// The next output; its bytes stay valid until the next call.
    pub fn pop(&mut self) -> Option<(Dest, &[u8])> {
        if let Some(s) = self.lent.take() {
            self.free.push(s);
        }
        let p = self.queue.pop_front()?;
        self.lent = Some(p.slot);
        let start = p.slot as usize * self.buf_size;
        Some((p.dest, &self.bytes[start..start + p.len as usize]))
    }

    pub fn queued(&self) -> usize {
        self.queue.len()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot(u16);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_cycle_without_growth() {
        let mut p = Pool::new(2, 64);
        let a = p.alloc().unwrap();
        let b = p.alloc().unwrap();
        assert!(p.alloc().is_none());
        p.buf(a)[..3].copy_from_slice(b"abc");
        p.push(a, 3, Dest::Tap);
        p.release(b);
        assert_eq!(p.pop(), Some((Dest::Tap, &b"abc"[..])));
        // `a` is lent until the next pop; then both are free again.
        assert!(p.alloc().is_some());
        assert!(p.alloc().is_none());
        assert_eq!(p.pop(), None);
        assert!(p.alloc().is_some());
    }

    #[test]
    fn only_used_buffers_are_touched() {
        let mut p = Pool::new(1024, 2048);
        assert_eq!(p.bytes.len(), 0);
        assert!(p.bytes.capacity() >= 1024 * 2048);
        let cap = p.bytes.capacity();
        // LIFO: a steady one-packet-at-a-time flow alternates between slots
        // 0 and 1 (a popped slot stays lent until the next pop).
        for _ in 0..100 {
            let s = p.alloc().unwrap();
            p.buf(s)[0] = 1;
            p.push(s, 1, Dest::Tap);
            assert_eq!(p.pop(), Some((Dest::Tap, &[1u8][..])));
        }
        assert_eq!(p.bytes.len(), 2 * 2048);
        let (a, b) = (p.alloc().unwrap(), p.alloc().unwrap());
        assert_eq!((a.0, b.0), (0, 2));
        let (x, y) = p.two_bufs(a, b);
        assert_eq!((x.len(), y.len()), (2048, 2048));
        assert_eq!(p.bytes.len(), 3 * 2048);
        assert_eq!(p.bytes.capacity(), cap);
    }
}
