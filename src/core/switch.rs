//! Forwarding decisions for frames read from the TAP.
//!
//! L3 mode (`switchmode` 0, as IPOP's GroupVPN): ARP for in-subnet addresses
//! is answered locally; IPv4/IPv6 unicast goes to the peer owning the
//! destination; broadcast and multicast go to every linked peer.
//!
//! Switch mode (`switchmode` 1): whole Ethernet frames, MAC learning per
//! peer, unknown unicast and group frames flooded.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::frame::{ArpRequest, EthFrame, Mac, ETHERTYPE_IPV4, ETHERTYPE_IPV6};
use super::identity::Uid;
use super::time::Instant;
use core::time::Duration;

/// Where an L3-mode frame from the TAP should go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum L3Dest {
    /// Answer this ARP request on the TAP ourselves.
    Arp(ArpRequest),
    Ipv4(Ipv4Addr),
    Ipv6(Ipv6Addr),
    /// Broadcast or multicast: a copy to every linked peer.
    Group,
    /// Not for the overlay (foreign EtherType, ARP outside the subnet, ff02::).
    Ignore,
}

/// The overlay's IPv4 subnet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Subnet {
    pub addr: Ipv4Addr,
    pub prefix: u8,
}

impl Subnet {
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Self {
        Subnet {
            addr,
            prefix: prefix.min(32),
        }
    }
    fn mask(&self) -> u32 {
        if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - self.prefix as u32)
        }
    }
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        (u32::from(ip) ^ u32::from(self.addr)) & self.mask() == 0
    }
    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) | !self.mask())
    }
}

/// Classifies a frame read from the TAP in L3 mode.
pub fn classify_l3(frame: &EthFrame, subnet: &Subnet) -> L3Dest {
    if let Some(req) = frame.arp_request() {
        return if subnet.contains(req.target_ip) {
            L3Dest::Arp(req)
        } else {
            L3Dest::Ignore
        };
    }
    match frame.ethertype() {
        ETHERTYPE_IPV4 => match frame.ipv4_dst() {
            Some(d)
                if d.is_multicast()
                    || d.is_broadcast()
                    || d == subnet.broadcast()
                    || d.octets()[3] == 255 =>
            {
                L3Dest::Group
            }
            Some(d) => L3Dest::Ipv4(d),
            None => L3Dest::Ignore,
        },
        ETHERTYPE_IPV6 => match frame.ipv6_dst() {
            // Link-local scope multicast (ND, MLD) stays local, as in IPOP;
            // site/org/global scope multicast is replicated.
            Some(d) if d.segments()[0] & 0xff00 == 0xff00 => {
                if d.segments()[0] & 0x000f >= 5 {
                    L3Dest::Group
                } else {
                    L3Dest::Ignore
                }
            }
            Some(d) => L3Dest::Ipv6(d),
            None => L3Dest::Ignore,
        },
        _ => L3Dest::Ignore,
    }
}

/// Learned MAC addresses and the member behind each (switch mode).
/// Fixed capacity; the oldest entry is replaced when full.
pub struct MacTable {
    entries: Vec<MacEntry>,
    cap: usize,
}

#[derive(Clone, Copy)]
struct MacEntry {
    mac: Mac,
    uid: Uid,
    seen: Instant,
}

/// How long a learned MAC stays valid without traffic (a Linux bridge's default).
pub const MAC_AGEING: Duration = Duration::from_secs(300);

impl MacTable {
    pub fn new(cap: usize) -> Self {
        MacTable {
            entries: Vec::with_capacity(cap.max(1)),
            cap: cap.max(1),
        }
    }

    /// Records that `mac` lives behind member `uid`. Group MACs are ignored.
    pub fn learn(&mut self, now: Instant, mac: Mac, uid: Uid) {
        if mac[0] & 1 == 1 {
            return;
        }
        if let Some(e) = self.entries.iter_mut().find(|e| e.mac == mac) {
            e.uid = uid;
            e.seen = now;
            return;
        }
        let entry = MacEntry {
            mac,
            uid,
            seen: now,
        };
        if self.entries.len() < self.cap {
            self.entries.push(entry);
        } else if let Some(oldest) = self.entries.iter_mut().min_by_key(|e| e.seen) {
            *oldest = entry;
        }
    }

    pub fn lookup(&self, now: Instant, mac: &Mac) -> Option<Uid> {
        self.entries
            .iter()
            .find(|e| &e.mac == mac && now.saturating_since(e.seen) < MAC_AGEING)
            .map(|e| e.uid)
    }

    /// Forgets every MAC behind `uid` (its link went away).
    pub fn forget(&mut self, uid: &Uid) {
        self.entries.retain(|e| &e.uid != uid);
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::super::frame::tests::{arp_request, ipv4_frame};
    use super::*;

    fn subnet() -> Subnet {
        Subnet::new(Ipv4Addr::new(192, 168, 1, 100), 16)
    }

    #[test]
    fn subnet_maths() {
        let s = subnet();
        assert!(s.contains(Ipv4Addr::new(192, 168, 200, 1)));
        assert!(!s.contains(Ipv4Addr::new(192, 169, 0, 1)));
        assert_eq!(s.broadcast(), Ipv4Addr::new(192, 168, 255, 255));
        assert!(Subnet::new(Ipv4Addr::new(1, 2, 3, 4), 0).contains(Ipv4Addr::new(9, 9, 9, 9)));
        assert_eq!(
            Subnet::new(Ipv4Addr::new(10, 0, 3, 7), 32).broadcast(),
            Ipv4Addr::new(10, 0, 3, 7)
        );
    }

    #[test]
    fn l3_classification() {
        let s = subnet();
        let f = ipv4_frame([192, 168, 1, 100], [192, 168, 1, 101], 20);
        assert_eq!(
            classify_l3(&EthFrame::new(&f).unwrap(), &s),
            L3Dest::Ipv4(Ipv4Addr::new(192, 168, 1, 101))
        );
        for dst in [[192, 168, 255, 255], [224, 0, 0, 251], [192, 168, 3, 255]] {
            let f = ipv4_frame([192, 168, 1, 100], dst, 20);
            assert_eq!(classify_l3(&EthFrame::new(&f).unwrap(), &s), L3Dest::Group);
        }
        let a = arp_request([192, 168, 1, 100], [192, 168, 7, 7]);
        assert!(
            matches!(classify_l3(&EthFrame::new(&a).unwrap(), &s), L3Dest::Arp(r) if r.target_ip == Ipv4Addr::new(192, 168, 7, 7))
        );
        let a = arp_request([192, 168, 1, 100], [10, 0, 0, 1]);
        assert_eq!(classify_l3(&EthFrame::new(&a).unwrap(), &s), L3Dest::Ignore);
    }

    #[test]
    fn l3_ipv6_scopes() {
        let s = subnet();
        let mut f = vec![0u8; 54];
        f[12..14].copy_from_slice(&ETHERTYPE_IPV6.to_be_bytes());
        f[14] = 0x60;
        let mut with_dst = |d: &str| {
            let ip: Ipv6Addr = d.parse().unwrap();
            f[38..54].copy_from_slice(&ip.octets());
            classify_l3(&EthFrame::new(&f).unwrap(), &s)
        };
        assert_eq!(with_dst("ff02::1"), L3Dest::Ignore);
        assert_eq!(with_dst("ff05::2"), L3Dest::Group);
        assert_eq!(with_dst("ff0e::2"), L3Dest::Group);
        assert_eq!(
            with_dst("fd50::1"),
            L3Dest::Ipv6("fd50::1".parse().unwrap())
        );
    }

    #[test]
    fn mac_learning_ages_and_evicts() {
        let mut t = MacTable::new(2);
        let (a, b, c) = (Uid([1; 20]), Uid([2; 20]), Uid([3; 20]));
        let t0 = Instant::from_secs(10);
        t.learn(t0, [2, 0, 0, 0, 0, 1], a);
        t.learn(t0, [0xff; 6], a);
        assert_eq!(t.len(), 1);
        t.learn(t0 + Duration::from_secs(1), [2, 0, 0, 0, 0, 2], b);
        assert_eq!(t.lookup(t0, &[2, 0, 0, 0, 0, 1]), Some(a));
        // Full: the oldest (a's MAC) makes room.
        t.learn(t0 + Duration::from_secs(2), [2, 0, 0, 0, 0, 3], c);
        assert_eq!(t.lookup(t0, &[2, 0, 0, 0, 0, 1]), None);
        assert_eq!(t.lookup(t0, &[2, 0, 0, 0, 0, 3]), Some(c));
        // Moves follow the latest frame; entries expire.
        t.learn(t0 + Duration::from_secs(3), [2, 0, 0, 0, 0, 3], a);
        assert_eq!(t.lookup(t0, &[2, 0, 0, 0, 0, 3]), Some(a));
        assert_eq!(
            t.lookup(
                t0 + MAC_AGEING + Duration::from_secs(4),
                &[2, 0, 0, 0, 0, 3]
            ),
            None
        );
        t.forget(&a);
        assert_eq!(t.len(), 1);
    }
}
