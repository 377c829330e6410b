//! One transport session: the two keys a handshake derived, the send
//! counter and the receive replay window. Encryption and decryption work in
//! caller buffers.

use ipop_fastpath::ChaChaPoly;

use super::consts::{
    REJECT_AFTER_MESSAGES, REJECT_AFTER_TIME, REKEY_AFTER_MESSAGES, REKEY_AFTER_TIME, TAG_LEN,
    TRANSPORT_HEADER_LEN, TYPE_TRANSPORT,
};
use super::noise;
use super::replay::ReplayWindow;
use crate::core::time::Instant;

pub struct Session {
    /// Our index: the peer writes it into every transport message to us.
    pub local_index: u32,
    /// The peer's index: we write it into every transport message we send.
    pub remote_index: u32,
    send: ChaChaPoly,
    recv: ChaChaPoly,
    send_counter: u64,
    replay: ReplayWindow,
    pub created: Instant,
    /// True when we sent the initiation that made this session; only the
    /// initiator rekeys on time, so both ends do not race to rekey.
    pub initiator: bool,
}

/// Why a transport message could not be opened.
#[derive(Debug, PartialEq, Eq)]
pub enum OpenError {
    Replay,
    AeadFail,
}

impl Session {
    pub fn new(
        local_index: u32,
        remote_index: u32,
        send_key: &[u8; 32],
        recv_key: &[u8; 32],
        created: Instant,
        initiator: bool,
    ) -> Session {
        Session {
            local_index,
            remote_index,
            send: noise::cipher(send_key),
            recv: noise::cipher(recv_key),
            send_counter: 0,
            replay: ReplayWindow::default(),
            created,
            initiator,
        }
    }

    /// Usable for sending: not too old, counter not exhausted.
    pub fn can_send(&self, now: Instant) -> bool {
        now.saturating_since(self.created) < REJECT_AFTER_TIME
            && self.send_counter < REJECT_AFTER_MESSAGES
    }

    /// Usable for receiving: not too old.
    pub fn can_receive(&self, now: Instant) -> bool {
        now.saturating_since(self.created) < REJECT_AFTER_TIME
    }

    /// Sending on this session calls for a new handshake (paper §6.2): too
    /// many messages, or (initiator only) too old.
    pub fn wants_rekey_on_send(&self, now: Instant) -> bool {
        self.send_counter >= REKEY_AFTER_MESSAGES
            || (self.initiator && now.saturating_since(self.created) >= REKEY_AFTER_TIME)
    }

    #[cfg(test)]
    pub fn set_send_counter(&mut self, n: u64) {
        self.send_counter = n;
    }

    pub fn send_counter(&self) -> u64 {
        self.send_counter
    }

    /// Writes a transport message carrying `payload` into `out` and returns
    /// its length. The caller checked `can_send` and the buffer size.
    pub fn seal(&mut self, payload: &[u8], out: &mut [u8]) -> Option<usize> {
        let len = TRANSPORT_HEADER_LEN + payload.len() + TAG_LEN;
        let out = out.get_mut(..len)?;
        let (header, rest) = out.split_at_mut(TRANSPORT_HEADER_LEN);
        let (body, tag_out) = rest.split_at_mut(payload.len());
        let counter = self.send_counter;
        header.copy_from_slice(&transport_header(self.remote_index, counter));
        body.copy_from_slice(payload);
        let tag = noise::seal(&self.send, counter, &[], body);
        tag_out.copy_from_slice(&tag);
        self.send_counter += 1;
        Some(len)
    }

    /// Opens the transport body `body` (ciphertext then tag) with `counter`
    /// in place; returns the plaintext length.
    pub fn open(&mut self, counter: u64, body: &mut [u8]) -> Result<usize, OpenError> {
        if !self.replay.check(counter) {
            return Err(OpenError::Replay);
        }
        let plain_len = body.len().checked_sub(TAG_LEN).ok_or(OpenError::AeadFail)?;
        let (plain, tag) = body.split_at_mut(plain_len);
        let tag: [u8; TAG_LEN] = (&*tag).try_into().map_err(|_| OpenError::AeadFail)?;
        if !noise::open(&self.recv, counter, &[], plain, &tag) {
            return Err(OpenError::AeadFail);
        }
        if !self.replay.accept(counter) {
            return Err(OpenError::Replay);
        }
        Ok(plain_len)
    }
}

/// The 16-byte transport header: type, three zero bytes, receiver index, counter.
pub fn transport_header(receiver: u32, counter: u64) -> [u8; TRANSPORT_HEADER_LEN] {
    let mut h = [0u8; TRANSPORT_HEADER_LEN];
    h[0] = TYPE_TRANSPORT;
    h[4..8].copy_from_slice(&receiver.to_le_bytes());
    h[8..16].copy_from_slice(&counter.to_le_bytes());
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (Session, Session) {
        let t = Instant::from_secs(1);
        let a = Session::new(1, 2, &[1; 32], &[2; 32], t, true);
        let b = Session::new(2, 1, &[2; 32], &[1; 32], t, false);
        (a, b)
    }

    #[test]
    fn seal_then_open() {
        let (mut a, mut b) = pair();
        let mut out = [0u8; 64];
        let n = a.seal(b"ping", &mut out).unwrap();
        assert_eq!(n, 4 + 4 + 8 + 4 + 16);
        assert_eq!(
            &out[..16],
            &[4, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        );
        let mut body = out[16..n].to_vec();
        assert_eq!(b.open(0, &mut body), Ok(4));
        assert_eq!(&body[..4], b"ping");
        let mut body = out[16..n].to_vec();
        assert_eq!(b.open(0, &mut body), Err(OpenError::Replay));
        let n2 = a.seal(b"", &mut out).unwrap();
        assert_eq!(n2, 32);
        assert_eq!(out[8], 1, "counter advanced");
        let mut body = out[16..n2].to_vec();
        body[0] ^= 1;
        assert_eq!(b.open(1, &mut body), Err(OpenError::AeadFail));
        // A failed tag does not consume the counter.
        body[0] ^= 1;
        assert_eq!(b.open(1, &mut body), Ok(0));
    }

    #[test]
    fn short_buffer_and_body() {
        let (mut a, mut b) = pair();
        let mut out = [0u8; 35];
        assert_eq!(a.seal(b"abcd", &mut out), None);
        assert_eq!(a.send_counter(), 0);
        assert_eq!(b.open(0, &mut [0u8; 15]), Err(OpenError::AeadFail));
    }

    #[test]
    fn age_and_counter_limits() {
        let (mut a, b) = pair();
        let t = Instant::from_secs(1);
        assert!(a.can_send(t) && !a.wants_rekey_on_send(t));
        assert!(a.wants_rekey_on_send(t + REKEY_AFTER_TIME));
        assert!(
            !b.wants_rekey_on_send(t + REKEY_AFTER_TIME),
            "responder never rekeys on time"
        );
        assert!(!a.can_send(t + REJECT_AFTER_TIME) && !a.can_receive(t + REJECT_AFTER_TIME));
        a.set_send_counter(REKEY_AFTER_MESSAGES);
        assert!(a.wants_rekey_on_send(t) && a.can_send(t));
        a.set_send_counter(REJECT_AFTER_MESSAGES);
        assert!(!a.can_send(t));
    }
}
