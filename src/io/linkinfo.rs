//! Reading an interface's state back from the kernel: for tests, for
//! `ipop status`, and for the MTU of the interface an overlay runs over.
//! Ioctls plus `/proc/.../if_inet6`, not getifaddrs: musl's getifaddrs loops
//! forever under qemu-user on big-endian MIPS.

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::{ifctl, netlink};

/// What the kernel reports about an interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkInfo {
    pub name: String,
    pub ifindex: u32,
    pub mtu: u32,
    /// `IFF_*` flags.
    pub flags: u32,
    pub mac: [u8; 6],
    pub ip4: Vec<(Ipv4Addr, u8)>,
    /// Every IPv6 address, including the kernel's link-local one.
    pub ip6: Vec<(Ipv6Addr, u8)>,
    /// The bridge this interface is a port of.
    pub master: Option<String>,
}

impl LinkInfo {
    pub fn is_up(&self) -> bool {
        self.flags & libc::IFF_UP as u32 != 0
    }

    pub fn noarp(&self) -> bool {
        self.flags & libc::IFF_NOARP as u32 != 0
    }

    /// IPv6 addresses other than link-local (fe80::/10).
    pub fn ip6_global(&self) -> Vec<(Ipv6Addr, u8)> {
        self.ip6
            .iter()
            .copied()
            .filter(|(a, _)| a.segments()[0] & 0xffc0 != 0xfe80)
            .collect()
    }
}

/// One line for `ipop status`: `tunnel-tap up mtu 1280 noarp mac 02:..
/// 192.168.1.100/16 fd50:..:fef3/64 bridge br-lan` (link-local left out).
impl fmt::Display for LinkInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = if self.is_up() { "up" } else { "down" };
        write!(f, "{} {state} mtu {}", self.name, self.mtu)?;
        if self.noarp() {
            write!(f, " noarp")?;
        }
        write!(f, " mac {}", MacText(self.mac))?;
        for (a, p) in &self.ip4 {
            write!(f, " {a}/{p}")?;
        }
        for (a, p) in self.ip6_global() {
            write!(f, " {a}/{p}")?;
        }
        if let Some(m) = &self.master {
            write!(f, " bridge {m}")?;
        }
        Ok(())
    }
}

impl LinkInfo {
    /// The same as a JSON object (`"bridge": null` when not bridged). Names
    /// are escaped although the kernel forbids most odd characters in them.
    pub fn to_json(&self) -> String {
        let list = |v: Vec<String>| v.join(",");
        let ip4 = list(
            self.ip4
                .iter()
                .map(|(a, p)| format!("\"{a}/{p}\""))
                .collect(),
        );
        let ip6 = list(
            self.ip6_global()
                .iter()
                .map(|(a, p)| format!("\"{a}/{p}\""))
                .collect(),
        );
        let master = match &self.master {
            Some(m) => format!("\"{}\"", json_escape(m)),
            None => "null".to_string(),
        };
        format!(
            "{{\"name\":\"{}\",\"up\":{},\"mtu\":{},\"noarp\":{},\"mac\":\"{}\",\"ip4\":[{ip4}],\"ip6\":[{ip6}],\"bridge\":{master}}}",
            json_escape(&self.name),
            self.is_up(),
            self.mtu,
            self.noarp(),
            MacText(self.mac),
        )
    }
}

fn json_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// `aa:bb:cc:dd:ee:ff`.
pub struct MacText(pub [u8; 6]);

impl fmt::Display for MacText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }
}

/// Reads an interface's state back from the kernel (for tests and status).
pub fn read_back(name: &str) -> io::Result<LinkInfo> {
    let ifindex = ifctl::if_index(name)?;
    let mut info = LinkInfo {
        name: name.to_string(),
        ifindex,
        mtu: ifctl::get_mtu(name)?,
        flags: ifctl::get_flags(name)?,
        mac: ifctl::hw_addr(name)?,
        ip4: Vec::new(),
        ip6: Vec::new(),
        master: None,
    };
    info.ip4.extend(ifctl::get_ipv4(name)?);
    info.ip6 = read_ipv6(ifindex)?;
    if let Some(master) = netlink::link_master(ifindex)? {
        info.master = Some(index_to_name(master)?);
    }
    Ok(info)
}

/// The MTU of any interface; `None` if it does not exist.
pub fn interface_mtu(name: &str) -> Option<u16> {
    let mtu = ifctl::get_mtu(name).ok()?;
    Some(u16::try_from(mtu).unwrap_or(u16::MAX))
}

fn index_to_name(ifindex: u32) -> io::Result<String> {
    let mut buf = [0 as libc::c_char; libc::IFNAMSIZ];
    // SAFETY: `buf` has the IFNAMSIZ bytes if_indextoname requires.
    let p = unsafe { libc::if_indextoname(ifindex, buf.as_mut_ptr()) };
    if p.is_null() {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: on success the buffer holds a NUL-terminated name.
    let name = unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) };
    Ok(name.to_string_lossy().into_owned())
}

/// The IPv6 addresses of `ifindex`, from the kernel's text table. Not
/// getifaddrs: musl's version loops forever under qemu-user on big-endian
/// MIPS. `thread-self` because tests move single threads into namespaces.
fn read_ipv6(ifindex: u32) -> io::Result<Vec<(Ipv6Addr, u8)>> {
    let text = match std::fs::read_to_string("/proc/thread-self/net/if_inet6") {
        Ok(t) => t,
        Err(_) => match std::fs::read_to_string("/proc/net/if_inet6") {
            Ok(t) => t,
            // No IPv6 in the kernel: no table, and no addresses.
            Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(e),
        },
    };
    Ok(parse_if_inet6(&text, ifindex))
}

/// Lines look like `fd500dbc41f24a3c25c90651c297fef3 03 40 00 c0  ptap`:
/// address, ifindex, prefix length, scope, flags (all hex), name.
fn parse_if_inet6(text: &str, ifindex: u32) -> Vec<(Ipv6Addr, u8)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut f = line.split_whitespace();
        let (Some(addr), Some(idx), Some(prefix)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        if u32::from_str_radix(idx, 16) != Ok(ifindex) {
            continue;
        }
        if let (Ok(a), Ok(p)) = (
            u128::from_str_radix(addr, 16),
            u8::from_str_radix(prefix, 16),
        ) {
            if addr.len() == 32 {
                out.push((Ipv6Addr::from(a), p));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_local_is_not_global() {
        let info = LinkInfo {
            name: "x".into(),
            ifindex: 1,
            mtu: 1280,
            flags: (libc::IFF_UP | libc::IFF_NOARP) as u32,
            mac: [0; 6],
            ip4: vec![],
            ip6: vec![
                ("fe80::1".parse().unwrap(), 64),
                ("fd50:dbc:41f2:4a3c:25c9:651:c297:fef3".parse().unwrap(), 64),
            ],
            master: None,
        };
        assert!(info.is_up() && info.noarp());
        assert_eq!(
            info.to_string(),
            "x up mtu 1280 noarp mac 00:00:00:00:00:00 fd50:dbc:41f2:4a3c:25c9:651:c297:fef3/64"
        );
        let mut bridged = info.clone();
        bridged.mac = [0x02, 0xab, 0, 0, 0x10, 0xff];
        bridged.ip4 = vec![(Ipv4Addr::new(10, 0, 3, 100), 24)];
        bridged.master = Some("br-lan".into());
        bridged.flags = libc::IFF_UP as u32;
        assert_eq!(
            bridged.to_string(),
            "x up mtu 1280 mac 02:ab:00:00:10:ff 10.0.3.100/24 \
             fd50:dbc:41f2:4a3c:25c9:651:c297:fef3/64 bridge br-lan"
        );
        assert_eq!(json_escape("a\"b\\c\u{1}é"), "a\\\"b\\\\c\\u0001é");
        assert_eq!(
            bridged.to_json(),
            "{\"name\":\"x\",\"up\":true,\"mtu\":1280,\"noarp\":false,\
             \"mac\":\"02:ab:00:00:10:ff\",\"ip4\":[\"10.0.3.100/24\"],\
             \"ip6\":[\"fd50:dbc:41f2:4a3c:25c9:651:c297:fef3/64\"],\"bridge\":\"br-lan\"}"
        );
        assert_eq!(
            info.ip6_global(),
            vec![("fd50:dbc:41f2:4a3c:25c9:651:c297:fef3".parse().unwrap(), 64)]
        );
    }

    #[test]
    fn if_inet6_table() {
        let text = "fd500dbc41f24a3c25c90651c297fef3 03 40 00 c0     ptap\n\
                    00000000000000000000000000000001 01 80 10 80       lo\n\
                    fe80000000000000a8c1abfffe000001 03 40 20 80     ptap\n\
                    garbage line\n\
                    zz 03 40 00 80 ptap\n";
        assert_eq!(
            parse_if_inet6(text, 3),
            vec![
                ("fd50:dbc:41f2:4a3c:25c9:651:c297:fef3".parse().unwrap(), 64),
                ("fe80::a8c1:abff:fe00:1".parse().unwrap(), 64)
            ]
        );
        assert_eq!(parse_if_inet6(text, 1), vec![(Ipv6Addr::LOCALHOST, 128)]);
        assert_eq!(parse_if_inet6(text, 9), vec![]);
    }

    #[test]
    fn loopback_read_back_and_mtu() {
        let lo = read_back("lo").unwrap();
        assert_eq!(lo.ifindex, 1);
        assert_eq!(lo.mtu, 65536);
        assert_eq!(lo.master, None);
        assert_eq!(lo.ip4, vec![(Ipv4Addr::LOCALHOST, 8)]);
        assert_eq!(interface_mtu("lo"), Some(u16::MAX));
        assert_eq!(interface_mtu("ipopnosuchif0"), None);
    }
}
