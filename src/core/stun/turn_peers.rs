//! The peers one TURN allocation admits (RFC 8656 §9, §12):
//! * permissions, one per peer IP (the server ignores the port), so the
//!   eight candidates of a member behind one public IP cost one;
//! * channels, one per peer transport address we actually send to.
//!
//! Both tables are bounded and, when full, evict the entry used least
//! recently, so a member learned late always gets in. "Used" means
//! permitted again (the member is still announced) or a packet to or from
//! it; entries idle for too long are not refreshed and drop out.

use crate::core::time::Instant;
use core::time::Duration;
use std::net::{IpAddr, SocketAddr};

/// Peer IPs one allocation keeps permissions for.
pub const MAX_PERMISSIONS: usize = 128;
/// Peer addresses one allocation keeps channels for.
pub const MAX_CHANNELS: usize = 64;
/// A permission unused this long (two 300 s lifetimes: gossip re-announces
/// every live member well within that) is no longer refreshed.
pub const PERMISSION_IDLE: Duration = Duration::from_secs(600);
/// RFC 8656 §12: a channel binding lasts 10 minutes.
pub const CHANNEL_LIFETIME: Duration = Duration::from_secs(600);
/// Channels in use are bound again this long after the last ChannelBind.
pub const CHANNEL_REFRESH: Duration = Duration::from_secs(480);

/// The permission for one peer IP; `addr` is the address last permitted
/// with that IP (what the CreatePermission request carries).
#[derive(Clone, Copy, Debug)]
pub(super) struct Permission {
    pub addr: SocketAddr,
    pub used: Instant,
    pub refresh_at: Instant,
}

#[derive(Clone, Copy, Debug)]
pub(super) struct Channel {
    pub peer: SocketAddr,
    pub number: u16,
    /// The server confirmed the binding.
    pub bound: bool,
    pub used: Instant,
    /// When the last ChannelBind for it was sent (the server's binding
    /// lives [`CHANNEL_LIFETIME`] from about then).
    pub bound_at: Option<Instant>,
    pub refresh_at: Instant,
}

/// What to do with a table entry whose refresh time came.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Due {
    Refresh,
    /// Idle: nothing to send; look again at this time.
    Wait(Instant),
    /// Idle and expired on the server: forget it.
    Drop,
}

impl Permission {
    pub fn due(&self, now: Instant) -> Due {
        if now.saturating_since(self.used) < PERMISSION_IDLE {
            Due::Refresh
        } else {
            Due::Drop
        }
    }
}

impl Channel {
    /// Bound again only if a packet used it since the last ChannelBind; an
    /// idle one stays (its number still decodes the server's ChannelData)
    /// until the server's binding expired. One never bound (new, or its
    /// ChannelBind failed) is tried while used within a channel lifetime.
    pub fn due(&self, now: Instant) -> Due {
        match self.bound_at {
            None if now.saturating_since(self.used) < CHANNEL_LIFETIME => Due::Refresh,
            None => Due::Drop,
            Some(b) if self.used > b => Due::Refresh,
            Some(b) if now >= b + CHANNEL_LIFETIME => Due::Drop,
            Some(b) => Due::Wait(b + CHANNEL_LIFETIME),
        }
    }

    /// Marks a packet on the channel: an idle one waiting for expiry is
    /// bound again at once if its refresh time has passed.
    pub fn touch(&mut self, now: Instant) {
        self.used = self.used.max(now);
        if let Some(b) = self.bound_at {
            self.refresh_at = self.refresh_at.min(b + CHANNEL_REFRESH);
        }
    }
}

/// Adds `new` to `table`; a full table gives up its least recently used
/// entry for it, which is returned.
pub(super) fn insert_lru<T, const N: usize>(
    table: &mut heapless::Vec<T, N>,
    new: T,
    used: impl Fn(&T) -> Instant,
) -> Option<T> {
    let new = table.push(new).err()?;
    let oldest = table.iter_mut().min_by_key(|e| used(e))?;
    Some(core::mem::replace(oldest, new))
}

/// Where an address lives, for deciding what a TURN server can reach.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddrClass {
    Loopback,
    LinkLocal,
    /// RFC 1918, RFC 6598 (carrier-grade NAT), RFC 4193 (IPv6 ULA).
    Private,
    Public,
    /// Unspecified, multicast, broadcast: never a peer.
    Unusable,
}

pub fn addr_class(ip: IpAddr) -> AddrClass {
    match ip.to_canonical() {
        IpAddr::V4(a) => {
            let [o0, o1, ..] = a.octets();
            if a.is_unspecified() || a.is_multicast() || a.is_broadcast() {
                AddrClass::Unusable
            } else if a.is_loopback() {
                AddrClass::Loopback
            } else if a.is_link_local() {
                AddrClass::LinkLocal
            } else if a.is_private() || (o0 == 100 && (o1 & 0xC0) == 64) {
                AddrClass::Private
            } else {
                AddrClass::Public
            }
        }
        IpAddr::V6(a) => {
            let s0 = a.segments()[0];
            if a.is_unspecified() || a.is_multicast() {
                AddrClass::Unusable
            } else if a.is_loopback() {
                AddrClass::Loopback
            } else if s0 & 0xFFC0 == 0xFE80 {
                AddrClass::LinkLocal
            } else if s0 & 0xFE00 == 0xFC00 {
                AddrClass::Private
            } else {
                AddrClass::Public
            }
        }
    }
}

/// Whether a TURN server at `server` can usefully permit `peer`: same
/// address class (a public server cannot reach a peer's LAN, loopback or
/// link-local address), and IPv4, the family of the relayed address an
/// Allocate without REQUESTED-ADDRESS-FAMILY gets (RFC 8656 §7.2).
pub fn can_permit(server: IpAddr, peer: IpAddr) -> bool {
    let class = addr_class(peer);
    class != AddrClass::Unusable && class == addr_class(server) && peer.to_canonical().is_ipv4()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn classes() {
        let cases = [
            ("203.0.113.9", AddrClass::Public),
            ("8.8.8.8", AddrClass::Public),
            ("10.1.0.2", AddrClass::Private),
            ("172.16.0.1", AddrClass::Private),
            ("172.32.0.1", AddrClass::Public),
            ("192.168.1.1", AddrClass::Private),
            ("100.64.0.1", AddrClass::Private),
            ("100.127.255.254", AddrClass::Private),
            ("100.128.0.1", AddrClass::Public),
            ("127.0.0.1", AddrClass::Loopback),
            ("169.254.3.4", AddrClass::LinkLocal),
            ("0.0.0.0", AddrClass::Unusable),
            ("224.0.0.1", AddrClass::Unusable),
            ("255.255.255.255", AddrClass::Unusable),
            ("::1", AddrClass::Loopback),
            ("fe80::1", AddrClass::LinkLocal),
            ("fd00::1", AddrClass::Private),
            ("2001:db8::1", AddrClass::Public),
            ("::ffff:10.0.0.1", AddrClass::Private),
            ("::", AddrClass::Unusable),
        ];
        for (a, class) in cases {
            assert_eq!(addr_class(ip(a)), class, "{a}");
        }
    }

    #[test]
    fn permit_same_class_ipv4_only() {
        let public = ip("203.0.113.1");
        assert!(can_permit(public, ip("198.51.100.7")));
        assert!(can_permit(public, ip("::ffff:198.51.100.7")));
        assert!(!can_permit(public, ip("10.3.0.2")));
        assert!(!can_permit(public, ip("127.0.0.1")));
        assert!(!can_permit(public, ip("169.254.1.1")));
        assert!(!can_permit(public, ip("2001:db8::7")));
        assert!(!can_permit(public, ip("0.0.0.0")));
        let lan = ip("192.168.1.1");
        assert!(can_permit(lan, ip("10.3.0.2")));
        assert!(!can_permit(lan, ip("198.51.100.7")));
        assert!(can_permit(ip("127.0.0.1"), ip("127.0.0.1")));
    }

    #[test]
    fn channel_refresh_only_when_used() {
        let t0 = Instant::from_secs(100);
        let mut c = Channel {
            peer: "198.51.100.1:1".parse().unwrap(),
            number: 0x4000,
            bound: true,
            used: t0,
            bound_at: None,
            refresh_at: t0,
        };
        assert_eq!(c.due(t0), Due::Refresh);
        // Never bound (its ChannelBind failed) and unused for a lifetime.
        assert_eq!(c.due(t0 + CHANNEL_LIFETIME), Due::Drop);
        c.bound_at = Some(t0);
        c.refresh_at = t0 + CHANNEL_REFRESH;
        let t1 = t0 + CHANNEL_REFRESH;
        assert_eq!(c.due(t1), Due::Wait(t0 + CHANNEL_LIFETIME));
        c.refresh_at = t0 + CHANNEL_LIFETIME;
        assert_eq!(c.due(t0 + CHANNEL_LIFETIME), Due::Drop);
        // Used again while waiting: due at once, and bound again.
        c.touch(t1 + Duration::from_secs(1));
        assert_eq!(c.refresh_at, t1);
        assert_eq!(c.due(t1 + Duration::from_secs(1)), Due::Refresh);
    }
}
