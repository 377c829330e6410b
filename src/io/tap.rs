//! The overlay's TAP device: created with tun-tap (`IFF_TAP | IFF_NO_PI`),
//! configured through ioctls (MTU, IPv4, IPv6, NOARP, up, bridge port) and
//! read/written asynchronously on the async-io reactor.
//!
//! The TAP is not persistent: the kernel deletes it when the descriptor is
//! closed. `shutdown` (or drop) still detaches it from its bridge and removes
//! its addresses first, so nothing is left even for an instant.
//!
//! A bridge can be deleted and re-created under a running TAP (netifd does
//! that to `br-lan` on a network reload; the kernel drops every port with
//! it): [`Tap::keep_bridged`], called on every netlink link change, joins
//! the TAP to the new bridge of the same name.

use std::cell::Cell;
use std::fmt;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

use async_io::Async;

pub use super::linkinfo::{interface_mtu, read_back, LinkInfo};
use super::{ifctl, netlink};
use crate::config::OverlayConfig;
use crate::core::identity::Uid;

pub use crate::config::IPV6_MIN_MTU;

/// Everything `Tap::create` sets on the device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TapSetup {
    pub name: String,
    pub mtu: u16,
    pub ip4: Ipv4Addr,
    pub ip4_prefix: u8,
    pub ip6: Option<(Ipv6Addr, u8)>,
    /// true in L3 mode (GroupVPN); false in switch mode, where ARP stays on.
    pub noarp: bool,
    pub bridge: Option<String>,
}

impl TapSetup {
    /// The setup an overlay config asks for; `tap` (the `--tap` flag)
    /// overrides `tap_name`.
    pub fn from_config(cfg: &OverlayConfig, tap: Option<&str>) -> TapSetup {
        let uid = Uid::from_ip4(cfg.ip4);
        let bridge_mtu = cfg.bridge.as_deref().and_then(interface_mtu);
        let (mtu, _) = cfg.tap_mtu(bridge_mtu);
        TapSetup {
            name: tap.unwrap_or(&cfg.tap_name).to_string(),
            mtu,
            ip4: cfg.ip4,
            ip4_prefix: cfg.ip4_mask,
            ip6: (mtu >= IPV6_MIN_MTU).then(|| (uid.ip6(cfg.ip6_prefix), cfg.ip6_mask)),
            noarp: !cfg.switchmode,
            bridge: cfg.bridge.clone(),
        }
    }
}

/// Why the TAP could not be set up. Each variant names the device.
#[derive(Debug)]
pub enum TapError {
    BadName {
        name: String,
        why: &'static str,
    },
    /// An interface of that name exists already (another TAP, or a persistent one).
    Exists {
        name: String,
    },
    /// Opening /dev/net/tun or TUNSETIFF failed.
    Create {
        name: String,
        source: io::Error,
    },
    BadSetup {
        name: String,
        why: String,
    },
    /// One configuration step failed; `what` says which.
    Configure {
        name: String,
        what: &'static str,
        source: io::Error,
    },
    BridgeMissing {
        bridge: String,
    },
    NotABridge {
        bridge: String,
    },
    Bridge {
        name: String,
        bridge: String,
        source: io::Error,
    },
}

impl fmt::Display for TapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TapError::BadName { name, why } => write!(f, "bad TAP name '{name}': {why}"),
            TapError::Exists { name } => {
                write!(
                    f,
                    "cannot create TAP '{name}': an interface of that name already exists"
                )
            }
            TapError::Create { name, source } => {
                write!(f, "cannot create TAP '{name}': {source}")?;
                match source.raw_os_error() {
                    Some(libc::EPERM) | Some(libc::EACCES) => {
                        write!(f, " (needs root or CAP_NET_ADMIN)")
                    }
                    Some(libc::ENOENT) | Some(libc::ENODEV) => {
                        write!(f, " (no /dev/net/tun: load the tun module)")
                    }
                    Some(libc::EBUSY) => write!(f, " (in use by another process)"),
                    _ => Ok(()),
                }
            }
            TapError::BadSetup { name, why } => write!(f, "TAP '{name}': {why}"),
            TapError::Configure { name, what, source } => {
                write!(f, "TAP '{name}': cannot {what}: {source}")
            }
            TapError::BridgeMissing { bridge } => {
                write!(
                    f,
                    "bridge '{bridge}' does not exist (create it first, e.g. br-lan)"
                )
            }
            TapError::NotABridge { bridge } => {
                write!(f, "'{bridge}' exists but is not a Linux bridge")
            }
            TapError::Bridge {
                name,
                bridge,
                source,
            } => {
                write!(f, "cannot add TAP '{name}' to bridge '{bridge}': {source}")
            }
        }
    }
}

impl std::error::Error for TapError {}

/// The tun-tap interface with the `AsFd` that `Async::new` needs.
#[derive(Debug)]
pub struct TapFd(tun_tap::Iface);

impl AsFd for TapFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        // SAFETY: the descriptor is owned by the Iface inside `self`, so it
        // stays open for as long as the returned borrow lives.
        unsafe { BorrowedFd::borrow_raw(self.0.as_raw_fd()) }
    }
}

/// A configured TAP device, open in non-blocking mode.
#[derive(Debug)]
pub struct Tap {
    io: Async<TapFd>,
    name: String,
    ifindex: u32,
    mac: [u8; 6],
    /// What has been set up so far, so teardown undoes exactly that.
    ip4_set: bool,
    ip6_set: Option<(Ipv6Addr, u8)>,
    /// Why the overlay has no IPv6 here (the node then runs IPv4-only).
    ip6_off: Option<String>,
    bridged: Option<String>,
    /// The bridge ifindex a re-join last failed for, so a failing bridge
    /// is reported once, not on every link change.
    rejoin_failed: Cell<u32>,
    closed: bool,
}

impl Tap {
    /// Creates and configures the TAP. On error, anything already created is
    /// removed again before returning.
    pub fn create(setup: &TapSetup) -> Result<Tap, TapError> {
        let name = &setup.name;
        ifctl::check_ifname(name).map_err(|why| TapError::BadName {
            name: name.clone(),
            why,
        })?;
        check_setup(setup)?;
        if ifctl::if_index(name).is_ok() {
            return Err(TapError::Exists { name: name.clone() });
        }
        if let Some(bridge) = &setup.bridge {
            check_bridge(bridge)?;
        }

        let create = |source| TapError::Create {
            name: name.clone(),
            source,
        };
        let iface =
            tun_tap::Iface::without_packet_info(name, tun_tap::Mode::Tap).map_err(create)?;
        if iface.name() != name {
            // tun-tap truncates; check_ifname makes this unreachable, but a
            // mismatch must never leave us configuring someone else's device.
            return Err(TapError::BadName {
                name: name.clone(),
                why: "the kernel renamed it",
            });
        }
        let step = |what| {
            move |source| TapError::Configure {
                name: name.clone(),
                what,
                source,
            }
        };
        let ifindex = ifctl::if_index(name).map_err(step("read its index"))?;
        let mac = ifctl::hw_addr(name).map_err(step("read its MAC address"))?;
        // Async::new sets O_NONBLOCK itself (tun-tap offers no way to).
        let io = Async::new(TapFd(iface)).map_err(step("register it with the reactor"))?;
        let mut tap = Tap {
            io,
            name: name.clone(),
            ifindex,
            mac,
            ip4_set: false,
            ip6_set: None,
            ip6_off: None,
            bridged: None,
            rejoin_failed: Cell::new(0),
            closed: false,
        };

        // MTU first: IPv6 needs >= 1280 to be enabled on the link at all.
        ifctl::set_mtu(name, setup.mtu).map_err(step("set the MTU"))?;
        tap.ip4_set = true;
        ifctl::set_ipv4(name, setup.ip4, setup.ip4_prefix).map_err(step("set the IPv4 address"))?;
        let noarp = libc::IFF_NOARP as u32;
        let (set, clear) = if setup.noarp { (noarp, 0) } else { (0, noarp) };
        let up = libc::IFF_UP as u32;
        ifctl::change_flags(name, set | up, clear).map_err(step("set NOARP and bring it up"))?;
        tap.ip6_off = match setup.ip6 {
            Some((ip6, prefix)) => tap.set_ipv6(ip6, prefix)?,
            None => Some(format!(
                "TAP MTU {} is below 1280, which IPv6 requires",
                setup.mtu
            )),
        };
        if let Some(why) = &tap.ip6_off {
            log::warn!("TAP {name}: no IPv6 on the overlay ({why}); running IPv4-only");
        }
        if let Some(bridge) = &setup.bridge {
            join_bridge(bridge, ifindex).map_err(|source| match source.raw_os_error() {
                Some(libc::ENODEV) => TapError::BridgeMissing {
                    bridge: bridge.clone(),
                },
                Some(libc::EOPNOTSUPP) | Some(libc::EINVAL) => TapError::NotABridge {
                    bridge: bridge.clone(),
                },
                _ => TapError::Bridge {
                    name: name.clone(),
                    bridge: bridge.clone(),
                    source,
                },
            })?;
            tap.bridged = Some(bridge.clone());
        }
        log::info!(
            "TAP {name} up: ifindex {ifindex}, mtu {}, {}/{}{}{}",
            setup.mtu,
            setup.ip4,
            setup.ip4_prefix,
            match tap.ip6_set {
                Some((a, p)) => format!(", {a}/{p}"),
                None => ", no IPv6".to_string(),
            },
            match &setup.bridge {
                Some(b) => format!(", port of {b}"),
                None => String::new(),
            }
        );
        Ok(tap)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Why the overlay has no IPv6 on this TAP (`ipop status` shows it), or
    /// `None` when its IPv6 address is set.
    pub fn ipv6_off(&self) -> Option<&str> {
        self.ip6_off.as_deref()
    }

    /// Sets the overlay IPv6 address unless the kernel refuses IPv6 on the
    /// TAP; `Ok(Some(reason))` when it does (IPv4-only, not an error).
    fn set_ipv6(&mut self, ip6: Ipv6Addr, prefix: u8) -> Result<Option<String>, TapError> {
        if let Some(why) = super::ipv6::refusal(&self.name) {
            return Ok(Some(why));
        }
        match add_ipv6(self.ifindex, ip6, prefix) {
            Ok(()) => {
                self.ip6_set = Some((ip6, prefix));
                Ok(None)
            }
            Err(e) if super::ipv6::is_refusal(&e) => {
                Ok(Some(format!("the kernel refused the IPv6 address: {e}")))
            }
            Err(source) => Err(TapError::Configure {
                name: self.name.clone(),
                what: "set the IPv6 address",
                source,
            }),
        }
    }

    /// The kernel-assigned MAC address of the TAP.
    pub fn mac(&self) -> [u8; 6] {
        self.mac
    }

    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// Waits for and reads one Ethernet frame. `buf` should hold MTU + 14
    /// (+4 with a VLAN tag) bytes; a longer frame is truncated by the kernel.
    pub async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.read_with(|t| t.0.recv(buf)).await
    }

    /// Reads a frame if one is queued, without waiting (`WouldBlock` if none).
    /// Lets the loop drain the TAP in a batch after one wake-up.
    pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.get_ref().0.recv(buf)
    }

    /// Writes one Ethernet frame, waiting if the kernel queue is full.
    pub async fn write(&self, frame: &[u8]) -> io::Result<()> {
        let n = self.io.write_with(|t| t.0.send(frame)).await?;
        check_whole(n, frame.len())
    }

    /// Writes one frame without waiting (`WouldBlock` if the queue is full,
    /// which a TAP practically never reports).
    pub fn try_write(&self, frame: &[u8]) -> io::Result<()> {
        let n = self.io.get_ref().0.send(frame)?;
        check_whole(n, frame.len())
    }

    /// Makes the TAP a port of its configured bridge again when it is a port
    /// of nothing (the bridge was deleted and re-created). Does nothing
    /// without a bridge, while the bridge does not exist, while the TAP is
    /// its port, or when the TAP is a port of another master (somebody
    /// moved it there; that choice is left alone). Cheap: one RTM_GETLINK
    /// and an ifindex lookup.
    pub fn keep_bridged(&self) {
        let Some(bridge) = self.bridged.as_deref() else {
            return;
        };
        let Ok(want) = ifctl::if_index(bridge) else {
            return;
        };
        match netlink::link_master(self.ifindex) {
            Ok(None) => {}
            Ok(Some(_)) => return,
            Err(e) => {
                log::debug!("TAP {}: cannot read its master: {e}", self.name);
                return;
            }
        }
        match join_bridge(bridge, self.ifindex) {
            Ok(()) => {
                self.rejoin_failed.set(0);
                log::info!(
                    "TAP {}: port of bridge {bridge} again (re-created, ifindex {want})",
                    self.name
                );
            }
            // Somebody joined it meanwhile (netifd, with the TAP in `ports`).
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {}
            Err(e) => {
                if self.rejoin_failed.replace(want) != want {
                    log::warn!("TAP {}: cannot re-join bridge {bridge}: {e}", self.name);
                }
            }
        }
    }

    /// Undoes the setup and deletes the device. Also done on drop.
    pub fn shutdown(mut self) {
        self.teardown();
    }

    fn teardown(&mut self) {
        if self.closed {
            return;
        }
        self.closed = true;
        let name = self.name.clone();
        if let Some(bridge) = self.bridged.take() {
            // Only while it is that bridge's port: the bridge may have gone
            // (and not come back) since.
            let port = match (ifctl::if_index(&bridge), netlink::link_master(self.ifindex)) {
                (Ok(b), Ok(master)) => master == Some(b),
                (Ok(_), Err(_)) => true,
                (Err(_), _) => false,
            };
            if port {
                if let Err(e) = leave_bridge(&bridge, self.ifindex) {
                    log::warn!("TAP {name}: leaving bridge {bridge}: {e}");
                }
            }
        }
        if let Some((ip6, prefix)) = self.ip6_set.take() {
            if let Err(e) = del_ipv6(self.ifindex, ip6, prefix) {
                log::warn!("TAP {name}: removing {ip6}/{prefix}: {e}");
            }
        }
        if std::mem::take(&mut self.ip4_set) {
            if let Err(e) = ifctl::clear_ipv4(&name) {
                // EADDRNOTAVAIL: creation failed before the address was set.
                if e.raw_os_error() != Some(libc::EADDRNOTAVAIL) {
                    log::warn!("TAP {name}: removing the IPv4 address: {e}");
                }
            }
        }
        if let Err(e) = ifctl::change_flags(&name, 0, libc::IFF_UP as u32) {
            log::warn!("TAP {name}: bringing it down: {e}");
        }
        log::info!("TAP {name} removed");
        // The descriptor closes when `self.io` drops; the kernel then deletes
        // the (non-persistent) device.
    }
}

impl Drop for Tap {
    fn drop(&mut self) {
        self.teardown();
    }
}

/// IPv6 through rtnetlink (the only way that works under qemu-user on every
/// target), the ioctl if netlink itself is unavailable.
fn add_ipv6(ifindex: u32, addr: Ipv6Addr, prefix: u8) -> io::Result<()> {
    netlink::add_addr6(ifindex, addr, prefix)
        .or_else(|e| ifctl::add_ipv6(ifindex, addr, prefix).map_err(|_| e))
}

fn del_ipv6(ifindex: u32, addr: Ipv6Addr, prefix: u8) -> io::Result<()> {
    netlink::del_addr6(ifindex, addr, prefix)
        .or_else(|e| ifctl::del_ipv6(ifindex, addr, prefix).map_err(|_| e))
}

/// `brctl addif` by ioctl; rtnetlink where the ioctl is not implemented
/// (qemu-user answers ENOSYS).
fn join_bridge(bridge: &str, ifindex: u32) -> io::Result<()> {
    match ifctl::bridge_add_port(bridge, ifindex) {
        Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => {
            netlink::set_master(ifindex, ifctl::if_index(bridge)?)
        }
        r => r,
    }
}

fn leave_bridge(bridge: &str, ifindex: u32) -> io::Result<()> {
    match ifctl::bridge_del_port(bridge, ifindex) {
        Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => netlink::set_master(ifindex, 0),
        r => r,
    }
}

fn check_whole(written: usize, len: usize) -> io::Result<()> {
    if written == len {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::WriteZero,
            format!("TAP took {written} of {len} bytes"),
        ))
    }
}

fn check_setup(s: &TapSetup) -> Result<(), TapError> {
    let bad = |why: String| {
        Err(TapError::BadSetup {
            name: s.name.clone(),
            why,
        })
    };
    if s.mtu < 68 {
        return bad(format!("MTU {} is below 68, the IPv4 minimum", s.mtu));
    }
    if s.ip4_prefix > 32 {
        return bad(format!("IPv4 prefix /{} is longer than 32", s.ip4_prefix));
    }
    if let Some((_, p)) = s.ip6 {
        if p > 128 {
            return bad(format!("IPv6 prefix /{p} is longer than 128"));
        }
        if s.mtu < IPV6_MIN_MTU {
            return bad(format!("MTU {} is below 1280, which IPv6 requires", s.mtu));
        }
    }
    Ok(())
}

fn check_bridge(bridge: &str) -> Result<(), TapError> {
    if ifctl::check_ifname(bridge).is_err() || ifctl::if_index(bridge).is_err() {
        return Err(TapError::BridgeMissing {
            bridge: bridge.to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> TapSetup {
        TapSetup {
            name: "ipoptest0".into(),
            mtu: 1280,
            ip4: Ipv4Addr::new(10, 0, 3, 100),
            ip4_prefix: 24,
            ip6: Some((
                "fd50:dbc:41f2:4a3c:f46d:6281:ae45:f92e".parse().unwrap(),
                64,
            )),
            noarp: false,
            bridge: None,
        }
    }

    fn err_text(s: &TapSetup) -> String {
        match Tap::create(s) {
            Ok(_) => panic!("expected an error"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn bad_setups_are_refused_before_anything_is_created() {
        let mut s = setup();
        s.name = "this-name-is-too-long".into();
        assert_eq!(
            err_text(&s),
            "bad TAP name 'this-name-is-too-long': it is longer than 15 bytes"
        );
        let mut s = setup();
        s.mtu = 1200;
        assert_eq!(
            err_text(&s),
            "TAP 'ipoptest0': MTU 1200 is below 1280, which IPv6 requires"
        );
        let mut s = setup();
        s.ip4_prefix = 33;
        assert_eq!(
            err_text(&s),
            "TAP 'ipoptest0': IPv4 prefix /33 is longer than 32"
        );
        let mut s = setup();
        s.name = "lo".into();
        assert_eq!(
            err_text(&s),
            "cannot create TAP 'lo': an interface of that name already exists"
        );
        let mut s = setup();
        s.bridge = Some("ipopnobridge0".into());
        assert_eq!(
            err_text(&s),
            "bridge 'ipopnobridge0' does not exist (create it first, e.g. br-lan)"
        );
    }

    #[test]
    fn setup_from_the_seed_identity() {
        let s = setup();
        assert_eq!(
            s.ip6.unwrap().0,
            Uid::from_ip4(s.ip4).ip6(crate::core::identity::DEFAULT_IP6_PREFIX)
        );
    }
}
