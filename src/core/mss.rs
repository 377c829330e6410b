//! TCP MSS clamping: a SYN (or SYN-ACK) crossing the overlay gets its MSS
//! option lowered so that a full segment, with every header the overlay
//! adds, fits one datagram of the link's path MTU. Bulk TCP then never
//! takes the fragment path. The checksum is fixed incrementally (RFC 1624).

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

use super::frame::{ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETH_HEADER_LEN};

const ETHERTYPE_VLAN: u16 = 0x8100;
const PROTO_TCP: u8 = 6;
const TCP_SYN: u8 = 0x02;
const OPT_END: u8 = 0;
const OPT_NOP: u8 = 1;
const OPT_MSS: u8 = 2;
const TCP_HEADER: usize = 20;

/// Where the TCP header of a frame starts and which IP version carries it.
fn tcp_offset(frame: &[u8]) -> Option<(usize, u8)> {
    let be16 = |at: usize| Some(u16::from_be_bytes([*frame.get(at)?, *frame.get(at + 1)?]));
    let mut l3 = ETH_HEADER_LEN;
    let mut ethertype = be16(12)?;
    if ethertype == ETHERTYPE_VLAN {
        ethertype = be16(16)?;
        l3 += 4;
    }
    match ethertype {
        ETHERTYPE_IPV4 => {
            let vihl = *frame.get(l3)?;
            let ihl = usize::from(vihl & 0x0f) * 4;
            // Later fragments carry no TCP header; first ones may.
            let frag = be16(l3 + 6)? & 0x1fff;
            if vihl >> 4 != 4 || ihl < 20 || frag != 0 || *frame.get(l3 + 9)? != PROTO_TCP {
                return None;
            }
            Some((l3 + ihl, 4))
        }
        ETHERTYPE_IPV6 => {
            // Only TCP directly after the fixed header: SYNs carry no
            // extension headers in practice.
            if *frame.get(l3)? >> 4 != 6 || *frame.get(l3 + 6)? != PROTO_TCP {
                return None;
            }
            Some((l3 + 40, 6))
        }
        _ => None,
    }
}

/// Lowers the MSS option of a TCP SYN in `frame` so that a full segment
/// (with this frame's Ethernet and IP headers and a 20-byte TCP header;
/// the sender takes its TCP options out of the MSS itself) fits `room`
/// bytes of frame. Returns the MSS it wrote, or `None` when nothing
/// changed (not a SYN, no option, already small enough, or malformed:
/// left as it is).
pub fn clamp(frame: &mut [u8], room: usize) -> Option<u16> {
    let (tcp, _) = tcp_offset(frame)?;
    if *frame.get(tcp + 13)? & TCP_SYN == 0 {
        return None;
    }
    let max_mss = u16::try_from(room.saturating_sub(tcp + TCP_HEADER)).unwrap_or(u16::MAX);
    let data_offset = usize::from(*frame.get(tcp + 12)? >> 4) * 4;
    let options = frame.get(tcp + 20..tcp + data_offset)?;
    let mut i = 0;
    let at = loop {
        match *options.get(i)? {
            OPT_END => return None,
            OPT_NOP => i += 1,
            OPT_MSS => {
                if *options.get(i + 1)? != 4 {
                    return None;
                }
                break tcp + 20 + i + 2;
            }
            _ => {
                let len = usize::from(*options.get(i + 1)?);
                if len < 2 {
                    return None;
                }
                i += len;
            }
        }
    };
    let field = frame.get_mut(at..at + 2)?;
    let old = u16::from_be_bytes(<[u8; 2]>::try_from(&*field).ok()?);
    if old <= max_mss {
        return None;
    }
    field.copy_from_slice(&max_mss.to_be_bytes());
    let sum = frame.get_mut(tcp + 16..tcp + 18)?;
    let fixed = checksum_update(
        u16::from_be_bytes(<[u8; 2]>::try_from(&*sum).ok()?),
        old,
        max_mss,
    );
    sum.copy_from_slice(&fixed.to_be_bytes());
    Some(max_mss)
}

/// RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m').
fn checksum_update(hc: u16, old: u16, new: u16) -> u16 {
    let mut sum = u32::from(!hc) + u32::from(!old) + u32::from(new);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One's-complement sum over the TCP segment and its pseudo-header.
    fn tcp_checksum_ok(frame: &[u8], tcp: usize, v6: bool) -> bool {
        let mut sum: u32 = 0;
        let mut add = |b: &[u8]| {
            for c in b.chunks(2) {
                let w = if c.len() == 2 {
                    u16::from_be_bytes([c[0], c[1]])
                } else {
                    u16::from(c[0]) << 8
                };
                sum += u32::from(w);
            }
        };
        let seg = &frame[tcp..];
        if v6 {
            add(&frame[22..54]);
        } else {
            add(&frame[26..34]);
        }
        add(&[0, PROTO_TCP]);
        add(&(seg.len() as u16).to_be_bytes());
        add(seg);
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        sum == 0xffff
    }

    /// A SYN from 10.0.0.1:40000 to 10.0.0.2:80 with MSS 1460, SACK-perm,
    /// timestamps, NOP, window scale (Linux's layout), checksum correct.
    fn syn4() -> Vec<u8> {
        let mut f = vec![0u8; 14 + 20 + 40];
        f[12..14].copy_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
        f[14] = 0x45;
        f[16..18].copy_from_slice(&60u16.to_be_bytes());
        f[22] = 64;
        f[23] = PROTO_TCP;
        f[26..30].copy_from_slice(&[10, 0, 0, 1]);
        f[30..34].copy_from_slice(&[10, 0, 0, 2]);
        let t = 34;
        f[t..t + 2].copy_from_slice(&40000u16.to_be_bytes());
        f[t + 2..t + 4].copy_from_slice(&80u16.to_be_bytes());
        f[t + 12] = 10 << 4;
        f[t + 13] = TCP_SYN;
        f[t + 14..t + 16].copy_from_slice(&64240u16.to_be_bytes());
        f[t + 20..t + 40].copy_from_slice(&[
            2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7,
        ]);
        let mut sum: u32 = 0;
        let mut add = |b: &[u8]| {
            for c in b.chunks(2) {
                sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
            }
        };
        add(&f[26..34]);
        add(&[0, PROTO_TCP, 0, 40]);
        add(&f[t..]);
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        let c = !(sum as u16);
        f[t + 16..t + 18].copy_from_slice(&c.to_be_bytes());
        assert!(tcp_checksum_ok(&f, t, false));
        f
    }

    #[test]
    fn clamps_ipv4_syn_and_keeps_the_checksum_valid() {
        let mut f = syn4();
        // A 1414-byte frame room: 1414 - 14 - 20 - 20.
        assert_eq!(clamp(&mut f, 1414), Some(1360));
        assert_eq!(&f[34 + 22..34 + 24], &1360u16.to_be_bytes());
        assert!(tcp_checksum_ok(&f, 34, false));
        // Already small enough: untouched.
        let before = f.clone();
        assert_eq!(clamp(&mut f, 1454), None);
        assert_eq!(f, before);
    }

    #[test]
    fn clamps_ipv6_and_vlan_tagged_syns() {
        let v4 = syn4();
        // IPv6: same TCP segment behind a 40-byte header.
        let mut f = vec![0u8; 14 + 40];
        f[12..14].copy_from_slice(&ETHERTYPE_IPV6.to_be_bytes());
        f[14] = 0x60;
        f[18..20].copy_from_slice(&40u16.to_be_bytes());
        f[20] = PROTO_TCP;
        f[22] = 0xfd;
        f[38] = 0xfd;
        f[53] = 2;
        f.extend_from_slice(&v4[34..]);
        // Recompute the checksum for the IPv6 pseudo-header.
        f[54 + 16] = 0;
        f[54 + 17] = 0;
        let mut sum: u32 = 0;
        for c in f[22..54].chunks(2).chain(f[54..].chunks(2)) {
            sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
        }
        sum += u32::from(PROTO_TCP) + 40;
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        let c = !(sum as u16);
        f[54 + 16..54 + 18].copy_from_slice(&c.to_be_bytes());
        assert!(tcp_checksum_ok(&f, 54, true));
        // 1414 - 14 - 40 - 20.
        assert_eq!(clamp(&mut f, 1414), Some(1340));
        assert!(tcp_checksum_ok(&f, 54, true));

        let mut tagged = v4[..12].to_vec();
        tagged.extend_from_slice(&[0x81, 0x00, 0x00, 0x05]);
        tagged.extend_from_slice(&v4[12..]);
        // The tag's 4 bytes come off the MSS too.
        assert_eq!(clamp(&mut tagged, 1058), Some(1000));
        assert_eq!(&tagged[38 + 22..38 + 24], &1000u16.to_be_bytes());
    }

    #[test]
    fn leaves_everything_else_alone() {
        let mut ack = syn4();
        ack[34 + 13] = 0x10;
        assert_eq!(clamp(&mut ack, 500), None);
        let mut udp = syn4();
        udp[23] = 17;
        assert_eq!(clamp(&mut udp, 500), None);
        let mut frag = syn4();
        frag[20..22].copy_from_slice(&[0x00, 0x10]);
        assert_eq!(clamp(&mut frag, 500), None);
        // Truncated at every length, and a zero-length option: no panic,
        // no change.
        let full = syn4();
        for n in 0..full.len() {
            let mut t = full[..n].to_vec();
            assert_eq!(clamp(&mut t, 500), None, "length {n}");
        }
        let mut bad = syn4();
        bad[54] = 4;
        bad[55] = 0;
        bad[56] = 2;
        assert_eq!(clamp(&mut bad, 500), None);
    }

    #[test]
    fn a_full_ethernet_frame_gives_the_familiar_mss() {
        let mut f = syn4();
        f[34 + 22..34 + 24].copy_from_slice(&9000u16.to_be_bytes());
        assert_eq!(clamp(&mut f, 1514), Some(1460));
    }
}
