//! Topology control messages, carried inside a link (docs/PROTOCOL.md,
//! "Topology control messages"). Fixed layouts, one type byte first:
//!
//! | type | message | layout | size |
//! |---|---|---|---|
//! | 1 | advertise | type, count, count × UID | 2 + 20·count |
//! | 2 | find_chord | type, hops_left, index, src UID, target UID | 43 |
//! | 3 | found_chord | type, hops_left, index, dst UID, target UID, found UID | 63 |
//!
//! Parsing checks the exact size for each type and never panics.

use core::fmt;

use crate::core::identity::Uid;

pub const TYPE_ADVERTISE: u8 = 1;
pub const TYPE_FIND_CHORD: u8 = 2;
pub const TYPE_FOUND_CHORD: u8 = 3;

pub const FIND_CHORD_LEN: usize = 3 + 2 * Uid::LEN;
pub const FOUND_CHORD_LEN: usize = 3 + 3 * Uid::LEN;
/// Most UIDs one advertisement carries (the count is one byte).
pub const MAX_ADVERTISED: usize = 255;

/// Hop budget a chord search starts with. Greedy clockwise forwarding always
/// gets strictly closer, so this only guards against a buggy peer.
pub const INITIAL_HOPS: u8 = 64;

/// A validated chord message (advertisements are parsed lazily, see [`parse`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChordMsg {
    /// "Who is at or after `target`?", forwarded toward `target` (closest).
    Find {
        hops_left: u8,
        index: u8,
        src: Uid,
        target: Uid,
    },
    /// The answer, forwarded to `dst` (exact): `found` is the first member at
    /// or after `target` as far as the answering node knows.
    Found {
        hops_left: u8,
        index: u8,
        dst: Uid,
        target: Uid,
        found: Uid,
    },
}

/// A parsed control message borrowing the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Message<'a> {
    /// The sender's linked peers closest clockwise to the receiver; an exact
    /// multiple of 20 bytes, read with [`advertised`].
    Advertise(&'a [u8]),
    Chord(ChordMsg),
}

/// Why a control message was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireError {
    /// Shorter or longer than its type requires.
    BadLength,
    /// A type byte this version does not know.
    UnknownType(u8),
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::BadLength => {
                f.write_str("topology message has the wrong length for its type")
            }
            WireError::UnknownType(t) => write!(f, "unknown topology message type {t}"),
        }
    }
}

fn uid_at(b: &[u8], off: usize) -> Result<Uid, WireError> {
    b.get(off..off + Uid::LEN)
        .and_then(Uid::from_slice)
        .ok_or(WireError::BadLength)
}

/// Parses one control message.
pub fn parse(b: &[u8]) -> Result<Message<'_>, WireError> {
    match b {
        [TYPE_ADVERTISE, count, list @ ..] if list.len() == usize::from(*count) * Uid::LEN => {
            Ok(Message::Advertise(list))
        }
        [TYPE_FIND_CHORD, hops_left, index, ..] if b.len() == FIND_CHORD_LEN => {
            Ok(Message::Chord(ChordMsg::Find {
                hops_left: *hops_left,
                index: *index,
                src: uid_at(b, 3)?,
                target: uid_at(b, 23)?,
            }))
        }
        [TYPE_FOUND_CHORD, hops_left, index, ..] if b.len() == FOUND_CHORD_LEN => {
            Ok(Message::Chord(ChordMsg::Found {
                hops_left: *hops_left,
                index: *index,
                dst: uid_at(b, 3)?,
                target: uid_at(b, 23)?,
                found: uid_at(b, 43)?,
            }))
        }
        [] | [TYPE_ADVERTISE | TYPE_FIND_CHORD | TYPE_FOUND_CHORD, ..] => Err(WireError::BadLength),
        [t, ..] => Err(WireError::UnknownType(*t)),
    }
}

/// The UIDs of an advertisement body returned by [`parse`].
pub fn advertised(list: &[u8]) -> impl Iterator<Item = Uid> + '_ {
    list.chunks_exact(Uid::LEN).filter_map(Uid::from_slice)
}

/// Writes an advertisement of `uids` (at most [`MAX_ADVERTISED`] are taken).
/// Returns the length, or None if `buf` is too small.
pub fn emit_advertise(buf: &mut [u8], uids: impl Iterator<Item = Uid>) -> Option<usize> {
    let mut len = 2;
    let mut count = 0u8;
    for u in uids.take(MAX_ADVERTISED) {
        buf.get_mut(len..len + Uid::LEN)?.copy_from_slice(&u.0);
        len += Uid::LEN;
        count += 1;
    }
    buf.get_mut(..2)?.copy_from_slice(&[TYPE_ADVERTISE, count]);
    Some(len)
}

/// Writes a chord message. Returns the length, or None if `buf` is too small.
pub fn emit_chord(buf: &mut [u8], m: &ChordMsg) -> Option<usize> {
    let (ty, hops, index, uids, len): (u8, u8, u8, [&Uid; 3], usize) = match m {
        ChordMsg::Find {
            hops_left,
            index,
            src,
            target,
        } => (
            TYPE_FIND_CHORD,
            *hops_left,
            *index,
            [src, target, target],
            FIND_CHORD_LEN,
        ),
        ChordMsg::Found {
            hops_left,
            index,
            dst,
            target,
            found,
        } => (
            TYPE_FOUND_CHORD,
            *hops_left,
            *index,
            [dst, target, found],
            FOUND_CHORD_LEN,
        ),
    };
    let (head, body) = buf.get_mut(..len)?.split_at_mut(3);
    head.copy_from_slice(&[ty, hops, index]);
    for (chunk, u) in body.chunks_exact_mut(Uid::LEN).zip(uids) {
        chunk.copy_from_slice(&u.0);
    }
    Some(len)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    // The UIDs of the seed's identities (reference §3).
    fn a() -> Uid {
        Uid::from_hex("25c90651c297fef3cf787a191b93cce4c475c6b7").unwrap()
    }
    fn b() -> Uid {
        Uid::from_hex("5e4fe169007b144d346f9a278264d17896ccc69f").unwrap()
    }
    fn c() -> Uid {
        Uid::from_hex("f46d6281ae45f92ed5dd0b85aae702ddfb38ec23").unwrap()
    }

    // Test vectors printed in docs/PROTOCOL.md, "Topology control messages".
    const ADVERTISE: &str = "01 02
        5e4fe169007b144d346f9a278264d17896ccc69f
        f46d6281ae45f92ed5dd0b85aae702ddfb38ec23";
    const FIND: &str = "02 40 00
        25c90651c297fef3cf787a191b93cce4c475c6b7
        a5c90651c297fef3cf787a191b93cce4c475c6b7";
    const FOUND: &str = "03 3f 00
        25c90651c297fef3cf787a191b93cce4c475c6b7
        a5c90651c297fef3cf787a191b93cce4c475c6b7
        f46d6281ae45f92ed5dd0b85aae702ddfb38ec23";

    #[test]
    fn advertise_vector() {
        let mut buf = [0u8; 64];
        let n = emit_advertise(&mut buf, [b(), c()].into_iter()).unwrap();
        assert_eq!(&buf[..n], &hex(ADVERTISE)[..]);
        let bytes = hex(ADVERTISE);
        let Ok(Message::Advertise(list)) = parse(&bytes) else {
            panic!("not an advert")
        };
        assert_eq!(advertised(list).collect::<Vec<_>>(), vec![b(), c()]);
    }

    #[test]
    fn chord_vectors() {
        let target = a().add_pow2(159);
        let find = ChordMsg::Find {
            hops_left: INITIAL_HOPS,
            index: 0,
            src: a(),
            target,
        };
        let found = ChordMsg::Found {
            hops_left: 63,
            index: 0,
            dst: a(),
            target,
            found: c(),
        };
        let mut buf = [0u8; 64];
        for (m, v) in [(find, FIND), (found, FOUND)] {
            let n = emit_chord(&mut buf, &m).unwrap();
            assert_eq!(&buf[..n], &hex(v)[..]);
            assert_eq!(parse(&hex(v)), Ok(Message::Chord(m)));
        }
    }

    #[test]
    fn refuses_bad_input() {
        assert_eq!(parse(&[]), Err(WireError::BadLength));
        assert_eq!(parse(&[1]), Err(WireError::BadLength));
        assert_eq!(parse(&[1, 1, 0]), Err(WireError::BadLength));
        assert_eq!(parse(&[1, 0]), Ok(Message::Advertise(&[])));
        assert_eq!(parse(&[9, 0]), Err(WireError::UnknownType(9)));
        let mut find = hex(FIND);
        find.push(0);
        assert_eq!(parse(&find), Err(WireError::BadLength));
        assert_eq!(parse(&hex(FOUND)[..62]), Err(WireError::BadLength));
        // Too small a buffer is a None, not a panic.
        assert_eq!(
            emit_chord(
                &mut [0u8; 42],
                &ChordMsg::Find {
                    hops_left: 1,
                    index: 0,
                    src: a(),
                    target: a()
                }
            ),
            None
        );
        assert_eq!(emit_advertise(&mut [0u8; 21], [b()].into_iter()), None);
    }
}
