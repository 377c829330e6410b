//! mac1, mac2 and cookie replies (WireGuard paper §5.4.4 and §5.4.7).
//!
//! * mac1 = MAC(HASH(LABEL_MAC1 || receiver's static public key), message
//!   up to mac1). Anyone who knows our public key can make it, so it only
//!   proves the sender addressed *us*; it is checked in constant time before
//!   any Diffie-Hellman work, which makes random garbage free to reject.
//! * mac2 = MAC(cookie, message up to mac2), zeros without a cookie. A cookie
//!   is MAC(secret, source IP and port) under a responder secret that rotates
//!   every two minutes; under load the responder demands it, so only sources
//!   that can receive at their claimed address get DH work done.
//! * A cookie reply carries the cookie sealed with XChaCha20-Poly1305 under
//!   HASH(LABEL_COOKIE || responder's public key), with the mac1 of the
//!   message it answers as associated data, so only the real initiator can
//!   open it and an off-path party cannot forge one.

use std::net::{IpAddr, SocketAddr};

use super::consts::*;
use super::error::DropReason;
use super::noise;
use super::wire::{field, put, put_header, take};
use crate::core::rng::Rng;
use crate::core::time::Instant;

/// HASH(label || public key): the mac1 or cookie key for messages to `public`.
pub fn derive_key(label: &[u8], public: &[u8; 32]) -> [u8; 32] {
    noise::hash(&[label, public])
}

/// Bytes that identify a source for its cookie: IP then big-endian port.
fn addr_bytes(from: SocketAddr) -> ([u8; 18], usize) {
    let mut out = [0u8; 18];
    let port = from.port().to_be_bytes();
    match from.ip() {
        IpAddr::V4(ip) => {
            put(&mut out, 0..4, &ip.octets());
            put(&mut out, 4..6, &port);
            (out, 6)
        }
        IpAddr::V6(ip) => {
            put(&mut out, 0..16, &ip.octets());
            put(&mut out, 16..18, &port);
            (out, 18)
        }
    }
}

/// Where mac1 and mac2 sit in a handshake message of length `len`.
fn mac_offsets(len: usize) -> (usize, usize) {
    let mac2 = len.saturating_sub(MAC_LEN);
    (mac2.saturating_sub(MAC_LEN), mac2)
}

/// The responder side: verifies macs on messages to us and makes cookies.
pub struct CookieChecker {
    mac1_key: [u8; 32],
    reply_key: [u8; 32],
    secret: [u8; 32],
    secret_born: Option<Instant>,
}

impl CookieChecker {
    pub fn new(local_public: &[u8; 32]) -> CookieChecker {
        CookieChecker {
            mac1_key: derive_key(LABEL_MAC1, local_public),
            reply_key: derive_key(LABEL_COOKIE, local_public),
            secret: [0; 32],
            secret_born: None,
        }
    }

    /// True when `msg` (a whole handshake message) carries a valid mac1.
    pub fn check_mac1(&self, msg: &[u8]) -> bool {
        let (m1, m2) = mac_offsets(msg.len());
        let Some(body) = msg.get(..m1) else {
            return false;
        };
        let Some(got) = msg.get(m1..m2) else {
            return false;
        };
        noise::ct_eq(&noise::mac(&self.mac1_key, body), got)
    }

    /// The cookie of `from` under the current secret (rotated when stale).
    fn cookie(&mut self, now: Instant, rng: &mut Rng, from: SocketAddr) -> [u8; COOKIE_LEN] {
        let stale = self
            .secret_born
            .is_none_or(|born| now.saturating_since(born) >= COOKIE_SECRET_MAX_AGE);
        if stale {
            self.secret = rng.bytes();
            self.secret_born = Some(now);
        }
        let (a, n) = addr_bytes(from);
        noise::mac(&self.secret, a.get(..n).unwrap_or_default())
    }

    /// True when `msg` carries the mac2 made with `from`'s current cookie.
    pub fn check_mac2(
        &mut self,
        now: Instant,
        rng: &mut Rng,
        from: SocketAddr,
        msg: &[u8],
    ) -> bool {
        let cookie = self.cookie(now, rng, from);
        let (_, m2) = mac_offsets(msg.len());
        let Some(body) = msg.get(..m2) else {
            return false;
        };
        let Some(got) = msg.get(m2..) else {
            return false;
        };
        noise::ct_eq(&noise::mac(&cookie, body), got)
    }

    /// Writes a cookie reply to `msg` (sent from `from`) into `out`.
    pub fn write_reply(
        &mut self,
        now: Instant,
        rng: &mut Rng,
        from: SocketAddr,
        msg: &[u8],
        out: &mut [u8],
    ) -> Result<usize, DropReason> {
        let cookie = self.cookie(now, rng, from);
        let nonce: [u8; COOKIE_NONCE_LEN] = rng.bytes();
        self.seal_reply(cookie, &nonce, msg, out)
    }

    /// The cookie reply carrying `cookie` for the handshake message `msg`.
    pub fn seal_reply(
        &self,
        mut cookie: [u8; COOKIE_LEN],
        nonce: &[u8; COOKIE_NONCE_LEN],
        msg: &[u8],
        out: &mut [u8],
    ) -> Result<usize, DropReason> {
        let out = out
            .get_mut(..COOKIE_REPLY_LEN)
            .ok_or(DropReason::BufferTooSmall)?;
        let (m1, m2) = mac_offsets(msg.len());
        let mac1 = msg.get(m1..m2).unwrap_or_default();
        // Initiation and response both carry the sender index at bytes 4..8.
        let sender = msg.get(4..8).unwrap_or_default();
        let tag = noise::xseal(&self.reply_key, nonce, mac1, &mut cookie);
        put_header(out, TYPE_COOKIE_REPLY);
        put(out, field::cookie_reply::RECEIVER, sender);
        put(out, field::cookie_reply::NONCE, nonce);
        put(out, 32..48, &cookie);
        put(out, 48..64, &tag);
        Ok(COOKIE_REPLY_LEN)
    }

    /// A checker with a given secret (test vectors).
    #[cfg(test)]
    pub fn with_secret(local_public: &[u8; 32], secret: [u8; 32], now: Instant) -> CookieChecker {
        let mut c = CookieChecker::new(local_public);
        c.secret = secret;
        c.secret_born = Some(now);
        c
    }

    /// The cookie of `from` (test vectors).
    #[cfg(test)]
    pub fn cookie_of(&mut self, now: Instant, rng: &mut Rng, from: SocketAddr) -> [u8; COOKIE_LEN] {
        self.cookie(now, rng, from)
    }
}

/// The initiator side, one per peer: fills in mac1/mac2 on messages to the
/// peer and keeps the last cookie the peer sent.
pub struct CookieSender {
    mac1_key: [u8; 32],
    reply_key: [u8; 32],
    cookie: Option<([u8; COOKIE_LEN], Instant)>,
    /// mac1 of the last handshake message we sent: the cookie reply's AD.
    last_mac1: Option<[u8; MAC_LEN]>,
}

impl CookieSender {
    pub fn new(peer_public: &[u8; 32]) -> CookieSender {
        CookieSender {
            mac1_key: derive_key(LABEL_MAC1, peer_public),
            reply_key: derive_key(LABEL_COOKIE, peer_public),
            cookie: None,
            last_mac1: None,
        }
    }

    /// Writes mac1 and mac2 into the last 32 bytes of the handshake message `msg`.
    pub fn seal(&mut self, now: Instant, msg: &mut [u8]) {
        let (m1, m2) = mac_offsets(msg.len());
        let mac1 = noise::mac(&self.mac1_key, msg.get(..m1).unwrap_or_default());
        put(msg, m1..m2, &mac1);
        self.last_mac1 = Some(mac1);
        let mac2 = match self.cookie {
            Some((c, at)) if now.saturating_since(at) < COOKIE_MAX_AGE => {
                noise::mac(&c, msg.get(..m2).unwrap_or_default())
            }
            _ => [0; MAC_LEN],
        };
        put(msg, m2..m2 + MAC_LEN, &mac2);
    }

    /// Opens a cookie reply (already matched to this peer by its index).
    pub fn consume_reply(&mut self, now: Instant, msg: &[u8]) -> Result<(), DropReason> {
        let ad = self.last_mac1.ok_or(DropReason::UnknownIndex)?;
        let nonce: [u8; COOKIE_NONCE_LEN] = take(msg, field::cookie_reply::NONCE);
        let mut cookie: [u8; COOKIE_LEN] = take(msg, 32..48);
        let tag: [u8; TAG_LEN] = take(msg, 48..64);
        if !noise::xopen(&self.reply_key, &nonce, &ad, &mut cookie, &tag) {
            return Err(DropReason::AeadFail);
        }
        self.cookie = Some((cookie, now));
        Ok(())
    }

    pub fn has_cookie(&self, now: Instant) -> bool {
        self.cookie
            .is_some_and(|(_, at)| now.saturating_since(at) < COOKIE_MAX_AGE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn mac1_and_cookie_round_trip() {
        let responder_pub = [7u8; 32];
        let mut checker = CookieChecker::new(&responder_pub);
        let mut sender = CookieSender::new(&responder_pub);
        let mut rng = Rng::from_seed([1; 32]);
        let t = Instant::from_secs(10);
        let from = addr("192.0.2.1:5000");

        let mut msg = [0x55u8; INITIATION_LEN];
        msg[..8].copy_from_slice(&[1, 0, 0, 0, 9, 8, 7, 6]);
        sender.seal(t, &mut msg);
        assert!(checker.check_mac1(&msg));
        assert_eq!(&msg[132..], &[0u8; 16], "no cookie yet: mac2 is zero");
        assert!(!checker.check_mac2(t, &mut rng, from, &msg));

        let mut reply = [0u8; 80];
        assert_eq!(
            checker.write_reply(t, &mut rng, from, &msg, &mut reply),
            Ok(64)
        );
        assert_eq!(&reply[..8], &[3, 0, 0, 0, 9, 8, 7, 6]);
        assert_eq!(sender.consume_reply(t, &reply[..64]), Ok(()));
        assert!(sender.has_cookie(t));

        sender.seal(t, &mut msg);
        assert!(checker.check_mac1(&msg));
        assert!(checker.check_mac2(t, &mut rng, from, &msg));
        // The cookie is bound to the source address and port.
        assert!(!checker.check_mac2(t, &mut rng, addr("192.0.2.1:5001"), &msg));
        assert!(!checker.check_mac2(t, &mut rng, addr("[2001:db8::1]:5000"), &msg));
        // It dies when the responder rotates its secret.
        let later = t + COOKIE_SECRET_MAX_AGE;
        assert!(!checker.check_mac2(later, &mut rng, from, &msg));
        // And the initiator stops using it on its own.
        assert!(!sender.has_cookie(t + COOKIE_MAX_AGE));

        msg[20] ^= 1;
        assert!(!checker.check_mac1(&msg));
    }

    #[test]
    fn forged_cookie_reply_is_refused() {
        let responder_pub = [7u8; 32];
        let mut sender = CookieSender::new(&responder_pub);
        let t = Instant::ZERO;
        let reply = [3u8; COOKIE_REPLY_LEN];
        // Nothing sent yet: no mac1 to bind to.
        assert_eq!(
            sender.consume_reply(t, &reply),
            Err(DropReason::UnknownIndex)
        );
        let mut msg = [0u8; RESPONSE_LEN];
        sender.seal(t, &mut msg);
        assert_eq!(sender.consume_reply(t, &reply), Err(DropReason::AeadFail));
        assert!(!sender.has_cookie(t));
    }

    #[test]
    fn short_messages_never_verify() {
        let checker = CookieChecker::new(&[1; 32]);
        assert!(!checker.check_mac1(&[]));
        assert!(!checker.check_mac1(&[0; 20]));
    }
}
