//! Views over Ethernet frames and the few headers the datapath reads: ARP,
//! IPv4 and IPv6 addresses. Every accessor checks lengths and returns `None`
//! on short input, so a malformed frame from the TAP or a peer can only be
//! dropped, never panic.

use std::net::{Ipv4Addr, Ipv6Addr};

pub const ETH_HEADER_LEN: usize = 14;
pub const ETHERTYPE_IPV4: u16 = 0x0800;
pub const ETHERTYPE_ARP: u16 = 0x0806;
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
pub const BROADCAST_MAC: [u8; 6] = [0xff; 6];

const ARP_LEN: usize = 28;
const ARP_OP_REQUEST: u16 = 1;
const ARP_OP_REPLY: u16 = 2;

pub type Mac = [u8; 6];

fn array<const N: usize>(b: &[u8], at: usize) -> Option<[u8; N]> {
    b.get(at..at.checked_add(N)?)?.try_into().ok()
}

/// An Ethernet II frame (no VLAN handling: tagged frames pass through as
/// their own EtherType in switch mode and are dropped in L3 mode).
#[derive(Clone, Copy)]
pub struct EthFrame<'a>(&'a [u8]);

impl<'a> EthFrame<'a> {
    pub fn new(b: &'a [u8]) -> Option<Self> {
        (b.len() >= ETH_HEADER_LEN).then_some(EthFrame(b))
    }
    pub fn dst(&self) -> Mac {
        array(self.0, 0).unwrap_or_default()
    }
    pub fn src(&self) -> Mac {
        array(self.0, 6).unwrap_or_default()
    }
    pub fn ethertype(&self) -> u16 {
        u16::from_be_bytes(array(self.0, 12).unwrap_or_default())
    }
    pub fn payload(&self) -> &'a [u8] {
        self.0.get(ETH_HEADER_LEN..).unwrap_or_default()
    }
    /// Broadcast or multicast destination (the I/G bit).
    pub fn is_group(&self) -> bool {
        self.dst()[0] & 1 == 1
    }
    pub fn ipv4_dst(&self) -> Option<Ipv4Addr> {
        self.ipv4_header()?;
        array::<4>(self.0, ETH_HEADER_LEN + 16).map(Ipv4Addr::from)
    }
    pub fn ipv4_src(&self) -> Option<Ipv4Addr> {
        self.ipv4_header()?;
        array::<4>(self.0, ETH_HEADER_LEN + 12).map(Ipv4Addr::from)
    }
    pub fn ipv6_dst(&self) -> Option<Ipv6Addr> {
        self.ipv6_header()?;
        array::<16>(self.0, ETH_HEADER_LEN + 24).map(Ipv6Addr::from)
    }
    pub fn ipv6_src(&self) -> Option<Ipv6Addr> {
        self.ipv6_header()?;
        array::<16>(self.0, ETH_HEADER_LEN + 8).map(Ipv6Addr::from)
    }
    fn ipv4_header(&self) -> Option<()> {
        let p = self.payload();
        (self.ethertype() == ETHERTYPE_IPV4 && p.len() >= 20 && p[0] >> 4 == 4).then_some(())
    }
    fn ipv6_header(&self) -> Option<()> {
        let p = self.payload();
        (self.ethertype() == ETHERTYPE_IPV6 && p.len() >= 40 && p[0] >> 4 == 6).then_some(())
    }
    /// The ARP request (Ethernet/IPv4) this frame carries, if any.
    pub fn arp_request(&self) -> Option<ArpRequest> {
        if self.ethertype() != ETHERTYPE_ARP {
            return None;
        }
        let a = self.payload().get(..ARP_LEN)?;
        let fixed = [0, 1, 8, 0, 6, 4];
        if a[..6] != fixed || u16::from_be_bytes([a[6], a[7]]) != ARP_OP_REQUEST {
            return None;
        }
        Some(ArpRequest {
            sender_mac: array(a, 8)?,
            sender_ip: Ipv4Addr::from(array::<4>(a, 14)?),
            target_ip: Ipv4Addr::from(array::<4>(a, 24)?),
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArpRequest {
    pub sender_mac: Mac,
    pub sender_ip: Ipv4Addr,
    pub target_ip: Ipv4Addr,
}

impl ArpRequest {
    /// Writes the reply "`target_ip` is at `mac`" into `out`; returns its length
    /// (42), or `None` if `out` is too small.
    pub fn write_reply(&self, mac: Mac, out: &mut [u8]) -> Option<usize> {
        let out = out.get_mut(..ETH_HEADER_LEN + ARP_LEN)?;
        out[0..6].copy_from_slice(&self.sender_mac);
        out[6..12].copy_from_slice(&mac);
        out[12..14].copy_from_slice(&ETHERTYPE_ARP.to_be_bytes());
        out[14..20].copy_from_slice(&[0, 1, 8, 0, 6, 4]);
        out[20..22].copy_from_slice(&ARP_OP_REPLY.to_be_bytes());
        out[22..28].copy_from_slice(&mac);
        out[28..32].copy_from_slice(&self.target_ip.octets());
        out[32..38].copy_from_slice(&self.sender_mac);
        out[38..42].copy_from_slice(&self.sender_ip.octets());
        Some(ETH_HEADER_LEN + ARP_LEN)
    }
}

/// Sets the destination MAC of a frame in place (no-op on short frames).
pub fn set_dst_mac(frame: &mut [u8], mac: Mac) {
    if let Some(d) = frame.get_mut(0..6) {
        d.copy_from_slice(&mac);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn ipv4_frame(src: [u8; 4], dst: [u8; 4], len: usize) -> Vec<u8> {
        let mut f = vec![0u8; ETH_HEADER_LEN + len.max(20)];
        f[0..6].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
        f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
        f[12..14].copy_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
        f[14] = 0x45;
        f[26..30].copy_from_slice(&src);
        f[30..34].copy_from_slice(&dst);
        f
    }

    pub fn arp_request(sender: [u8; 4], target: [u8; 4]) -> Vec<u8> {
        let mut f = vec![0u8; 42];
        f[0..6].copy_from_slice(&BROADCAST_MAC);
        f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 9]);
        f[12..14].copy_from_slice(&ETHERTYPE_ARP.to_be_bytes());
        f[14..22].copy_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
        f[22..28].copy_from_slice(&[2, 0, 0, 0, 0, 9]);
        f[28..32].copy_from_slice(&sender);
        f[38..42].copy_from_slice(&target);
        f
    }

    #[test]
    fn reads_ipv4_addresses() {
        let f = ipv4_frame([10, 0, 0, 1], [10, 0, 0, 2], 20);
        let e = EthFrame::new(&f).unwrap();
        assert_eq!(e.ipv4_src(), Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(e.ipv4_dst(), Some(Ipv4Addr::new(10, 0, 0, 2)));
        assert_eq!(e.ipv6_dst(), None);
        assert!(!e.is_group());
        // Truncated IPv4 header: no address, no panic.
        assert_eq!(EthFrame::new(&f[..30]).unwrap().ipv4_dst(), None);
        assert!(EthFrame::new(&f[..13]).is_none());
    }

    #[test]
    fn reads_ipv6_addresses() {
        let mut f = vec![0u8; 54];
        f[12..14].copy_from_slice(&ETHERTYPE_IPV6.to_be_bytes());
        f[14] = 0x60;
        f[38] = 0xfd;
        f[53] = 7;
        let e = EthFrame::new(&f).unwrap();
        assert_eq!(e.ipv6_dst(), Some("fd00::7".parse().unwrap()));
        assert_eq!(EthFrame::new(&f[..53]).unwrap().ipv6_dst(), None);
    }

    #[test]
    fn answers_arp() {
        let f = arp_request([10, 0, 3, 1], [10, 0, 3, 2]);
        let req = EthFrame::new(&f).unwrap().arp_request().unwrap();
        assert_eq!(req.target_ip, Ipv4Addr::new(10, 0, 3, 2));
        let mut out = [0u8; 64];
        let n = req.write_reply(BROADCAST_MAC, &mut out).unwrap();
        assert_eq!(n, 42);
        let expect: [u8; 42] = [
            2, 0, 0, 0, 0, 9, 255, 255, 255, 255, 255, 255, 8, 6, 0, 1, 8, 0, 6, 4, 0, 2, 255, 255,
            255, 255, 255, 255, 10, 0, 3, 2, 2, 0, 0, 0, 0, 9, 10, 0, 3, 1,
        ];
        assert_eq!(out[..42], expect);
        assert!(req.write_reply(BROADCAST_MAC, &mut out[..41]).is_none());
        // A reply is not a request.
        assert!(EthFrame::new(&out[..42]).unwrap().arp_request().is_none());
    }
}
