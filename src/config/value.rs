//! Typed values of config keys: how each kind of key is parsed from text
//! (UCI option, decoded JSON string), checked, and written back.

use std::net::Ipv4Addr;
use std::path::PathBuf;

use super::{base64, StaticPeer, TurnServer};

/// The kind of a key, which fixes its syntax and checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ty {
    Bool,
    /// 16.01 writes `switchmode` as the integer 0 or 1.
    Bit,
    Int {
        min: u32,
        max: u32,
        unit: &'static str,
    },
    /// Any string, empty allowed.
    Text,
    /// A non-empty string (also file paths).
    NonEmpty,
    Jid,
    Ip4,
    Prefix6,
    IfName,
    IfNameList,
    /// `host:port` entries (`stun`).
    HostPortList,
    /// Base64 32-byte public keys (`revoked_keys`).
    KeyList,
    /// One base64 32-byte public key (`operator_key`).
    PubKey,
    Turns,
    Peers,
    Mtu,
    VpnType,
    LogName,
}

/// A parsed value, or `Unset` for an absent optional key.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    Unset,
    Bool(bool),
    Int(u32),
    Str(String),
    List(Vec<String>),
    Ip4(Ipv4Addr),
    Prefix([u16; 4]),
    Turns(Vec<TurnServer>),
    Peers(Vec<StaticPeer>),
}

pub(crate) const MTU_MIN: u32 = 576;
pub(crate) const MTU_MAX: u32 = 9000;
pub(crate) const LOG_NAMES: [&str; 6] =
    ["CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG", "PKTDUMP"];

/// Why a value was rejected: either "expected ..." (the caller adds what it
/// got) or a complete sentence for unsupported features.
#[derive(Debug, PartialEq)]
pub(crate) enum Reject {
    Expected(String),
    Unsupported(String),
}

pub(crate) fn expected(ty: Ty) -> String {
    match ty {
        Ty::Bool => "a boolean (true or false)".into(),
        Ty::Bit => "0 or 1".into(),
        Ty::Int { min, max, unit: "" } => format!("an integer in {min}..={max}"),
        Ty::Int { min, max, unit } => format!("an integer in {min}..={max} ({unit})"),
        Ty::Text => "a string".into(),
        Ty::NonEmpty => "a non-empty string".into(),
        Ty::Jid => "a bare JID like alice@example.org".into(),
        Ty::Ip4 => "a dotted IPv4 address like 192.168.1.100".into(),
        Ty::Prefix6 => "an IPv6 /64 prefix of 4 colon-separated groups of 1-4 hex digits like fd50:0dbc:41f2:4a3c".into(),
        Ty::IfName => "an interface name of 1-15 bytes without '/', ':' or whitespace".into(),
        Ty::IfNameList => "a list of interface names (1-15 bytes, no '/', ':' or whitespace)".into(),
        Ty::HostPortList => "a list of \"host:port\" strings like \"stun.l.google.com:19302\" (IPv6 as \"[addr]:port\")".into(),
        Ty::KeyList => "a list of base64 public keys (32 bytes, 44 characters ending in '=')".into(),
        Ty::PubKey => "a base64 Ed25519 public key (32 bytes, 44 characters ending in '='), as `ipop genkey --operator` prints".into(),
        Ty::Turns => "a list of {\"server\": \"host:port\", \"user\": \"...\", \"pass\": \"...\"} objects".into(),
        Ty::Peers => "a list of {\"endpoint\": \"host:port\", \"public_key\": \"<base64 of 32 bytes>\"} objects".into(),
        Ty::Mtu => format!("an MTU in {MTU_MIN}..={MTU_MAX} (bytes)"),
        Ty::VpnType => "\"GroupVPN\"".into(),
        Ty::LogName => format!("one of {}", LOG_NAMES.join(", ")),
    }
}

fn want(ty: Ty) -> Reject {
    Reject::Expected(expected(ty))
}

/// Checks a decoded string for a string-shaped kind.
pub(crate) fn parse_str(ty: Ty, s: &str) -> Result<Value, Reject> {
    if s.contains('\0') {
        return Err(Reject::Expected(format!(
            "{} without NUL characters",
            expected(ty)
        )));
    }
    match ty {
        Ty::Text => Ok(Value::Str(s.into())),
        Ty::NonEmpty if !s.is_empty() => Ok(Value::Str(s.into())),
        Ty::Jid if valid_jid(s) => Ok(Value::Str(s.into())),
        Ty::IfName if valid_ifname(s) => Ok(Value::Str(s.into())),
        Ty::PubKey if parse_key(s).is_some() => Ok(Value::Str(s.into())),
        Ty::Ip4 => parse_ip4(s).map(Value::Ip4).ok_or_else(|| want(ty)),
        Ty::Prefix6 => parse_prefix6(s).map(Value::Prefix).ok_or_else(|| want(ty)),
        Ty::VpnType => match s {
            "GroupVPN" => Ok(Value::Str(s.into())),
            "SocialVPN" => Err(Reject::Unsupported(
                "SocialVPN is not supported: ipop implements GroupVPN only (one group whose members are addressed by their ip4); set vpn_type to \"GroupVPN\"".into(),
            )),
            _ => Err(want(ty)),
        },
        Ty::LogName if LOG_NAMES.contains(&s) => Ok(Value::Str(s.into())),
        _ => Err(want(ty)),
    }
}

/// Parses an integer written in decimal (UCI text).
pub(crate) fn parse_int_text(ty: Ty, s: &str) -> Result<Value, Reject> {
    if s.is_empty() || s.len() > 10 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(want(ty));
    }
    let n: u64 = s.parse().map_err(|_| want(ty))?;
    check_int(ty, n)
}

/// Range-checks an integer for `Int`, `Bit` and `Mtu` kinds.
pub(crate) fn check_int(ty: Ty, n: u64) -> Result<Value, Reject> {
    let (min, max) = match ty {
        Ty::Int { min, max, .. } => (min, max),
        Ty::Bit => {
            return if n <= 1 {
                Ok(Value::Bool(n == 1))
            } else {
                Err(want(ty))
            }
        }
        Ty::Mtu => (MTU_MIN, MTU_MAX),
        _ => return Err(want(ty)),
    };
    if n < u64::from(min) || n > u64::from(max) {
        return Err(want(ty));
    }
    Ok(Value::Int(n as u32))
}

/// UCI booleans as OpenWrt's `config_get_bool` reads them.
pub(crate) fn parse_uci_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "yes" | "on" | "true" | "enabled" => Some(true),
        "0" | "no" | "off" | "false" | "disabled" => Some(false),
        _ => None,
    }
}

pub(crate) const UCI_BOOL_EXPECTED: &str =
    "a boolean (1/0, yes/no, on/off, true/false, enabled/disabled)";

/// Strict dotted quad, unicast (the UID is SHA-1 of exactly this text).
pub(crate) fn parse_ip4(s: &str) -> Option<Ipv4Addr> {
    let ip: Ipv4Addr = s.parse().ok()?;
    if ip.is_unspecified() || ip.is_broadcast() || ip.is_multicast() {
        return None;
    }
    Some(ip)
}

pub(crate) fn parse_prefix6(s: &str) -> Option<[u16; 4]> {
    let mut out = [0u16; 4];
    let mut groups = s.split(':');
    for slot in out.iter_mut() {
        let g = groups.next()?;
        if g.is_empty() || g.len() > 4 || !g.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        *slot = u16::from_str_radix(g, 16).ok()?;
    }
    if groups.next().is_some() {
        return None;
    }
    Some(out)
}

pub(crate) fn format_prefix6(p: [u16; 4]) -> String {
    format!("{:04x}:{:04x}:{:04x}:{:04x}", p[0], p[1], p[2], p[3])
}

fn valid_jid(s: &str) -> bool {
    match s.split_once('@') {
        Some((user, domain)) => {
            !user.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !domain.contains('/')
                && !s.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    }
}

pub(crate) fn valid_ifname(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 15
        && s != "."
        && s != ".."
        && !s
            .bytes()
            .any(|b| b == b'/' || b == b':' || b.is_ascii_whitespace() || b < 0x20 || b == 0x7f)
}

/// `host:port` with a non-zero port; IPv6 hosts in brackets.
pub(crate) fn valid_host_port(s: &str) -> bool {
    let Some((host, port)) = s.rsplit_once(':') else {
        return false;
    };
    let port_ok = !port.is_empty()
        && port.len() <= 5
        && port.bytes().all(|b| b.is_ascii_digit())
        && matches!(port.parse::<u32>(), Ok(1..=65535));
    let host_ok = if let Some(inner) = host.strip_prefix('[') {
        inner
            .strip_suffix(']')
            .is_some_and(|a| a.parse::<std::net::Ipv6Addr>().is_ok())
    } else {
        !host.is_empty()
            && !host.contains(':')
            && !host
                .bytes()
                .any(|b| b.is_ascii_whitespace() || b < 0x20 || b == b'@')
    };
    port_ok && host_ok
}

pub(crate) fn check_list_item(ty: Ty, s: &str) -> bool {
    match ty {
        Ty::IfNameList => valid_ifname(s),
        Ty::HostPortList => valid_host_port(s),
        Ty::KeyList => parse_key(s).is_some(),
        _ => true,
    }
}

/// A 32-byte X25519 public key in base64.
pub(crate) fn parse_key(s: &str) -> Option<[u8; 32]> {
    base64::decode(s)?.try_into().ok()
}

pub(crate) const KEY_EXPECTED: &str =
    "a base64 X25519 public key (32 bytes, 44 characters ending in '=')";
pub(crate) const ENDPOINT_EXPECTED: &str =
    "an endpoint \"host:port\" like \"203.0.113.7:5800\" (IPv6 as \"[addr]:port\")";

/// Converts between a config field and a [`Value`].
pub(crate) trait FieldVal: Sized {
    fn to_value(&self) -> Value;
    fn from_value(v: Value) -> Option<Self>;
}

impl FieldVal for bool {
    fn to_value(&self) -> Value {
        Value::Bool(*self)
    }
    fn from_value(v: Value) -> Option<Self> {
        match v {
            Value::Bool(b) => Some(b),
            _ => None,
        }
    }
}

macro_rules! int_field {
    ($t:ty) => {
        impl FieldVal for $t {
            fn to_value(&self) -> Value {
                Value::Int(u32::from(*self))
            }
            fn from_value(v: Value) -> Option<Self> {
                match v {
                    Value::Int(n) => <$t>::try_from(n).ok(),
                    _ => None,
                }
            }
        }
    };
}
int_field!(u8);
int_field!(u16);
int_field!(u32);

impl FieldVal for Option<u16> {
    fn to_value(&self) -> Value {
        match self {
            Some(n) => Value::Int(u32::from(*n)),
            None => Value::Unset,
        }
    }
    fn from_value(v: Value) -> Option<Self> {
        match v {
            Value::Int(n) => u16::try_from(n).ok().map(Some),
            Value::Unset => Some(None),
            _ => None,
        }
    }
}

impl FieldVal for String {
    fn to_value(&self) -> Value {
        Value::Str(self.clone())
    }
    fn from_value(v: Value) -> Option<Self> {
        match v {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
}

impl FieldVal for Option<String> {
    fn to_value(&self) -> Value {
        match self {
            Some(s) => Value::Str(s.clone()),
            None => Value::Unset,
        }
    }
    fn from_value(v: Value) -> Option<Self> {
        match v {
            Value::Str(s) => Some(Some(s)),
            Value::Unset => Some(None),
            _ => None,
        }
    }
}

impl FieldVal for PathBuf {
    fn to_value(&self) -> Value {
        Value::Str(self.to_string_lossy().into_owned())
    }
    fn from_value(v: Value) -> Option<Self> {
        match v {
            Value::Str(s) => Some(PathBuf::from(s)),
            _ => None,
        }
    }
}

impl FieldVal for Option<PathBuf> {
    fn to_value(&self) -> Value {
        match self {
            Some(p) => Value::Str(p.to_string_lossy().into_owned()),
            None => Value::Unset,
        }
    }
    fn from_value(v: Value) -> Option<Self> {
        match v {
            Value::Str(s) => Some(Some(PathBuf::from(s))),
            Value::Unset => Some(None),
            _ => None,
        }
    }
}

impl FieldVal for Vec<String> {
    fn to_value(&self) -> Value {
        Value::List(self.clone())
    }
    fn from_value(v: Value) -> Option<Self> {
        match v {
            Value::List(l) => Some(l),
            _ => None,
        }
    }
}

impl FieldVal for Ipv4Addr {
    fn to_value(&self) -> Value {
        Value::Ip4(*self)
    }
    fn from_value(v: Value) -> Option<Self> {
        match v {
            Value::Ip4(ip) => Some(ip),
            _ => None,
        }
    }
}

impl FieldVal for [u16; 4] {
    fn to_value(&self) -> Value {
        Value::Prefix(*self)
    }
    fn from_value(v: Value) -> Option<Self> {
        match v {
            Value::Prefix(p) => Some(p),
            _ => None,
        }
    }
}

impl FieldVal for Vec<TurnServer> {
    fn to_value(&self) -> Value {
        Value::Turns(self.clone())
    }
    fn from_value(v: Value) -> Option<Self> {
        match v {
            Value::Turns(t) => Some(t),
            _ => None,
        }
    }
}

impl FieldVal for Vec<StaticPeer> {
    fn to_value(&self) -> Value {
        Value::Peers(self.clone())
    }
    fn from_value(v: Value) -> Option<Self> {
        match v {
            Value::Peers(p) => Some(p),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        assert_eq!(
            parse_prefix6("fd50:0dbc:41f2:4a3c"),
            Some([0xfd50, 0x0dbc, 0x41f2, 0x4a3c])
        );
        assert_eq!(parse_prefix6("FD50:dbc:1:0"), Some([0xfd50, 0x0dbc, 1, 0]));
        for bad in [
            "fd50:dbc:41f2",
            "fd50:dbc:41f2:4a3c:1",
            "fd50::41f2:4a3c",
            "fd50:dbc:41f2:4a3c::",
            "fd50:dbc:41f2:4a3g",
            "fd50:0dbc0:1:2",
            "",
        ] {
            assert_eq!(parse_prefix6(bad), None, "{bad}");
        }
        assert_eq!(format_prefix6([0xfd50, 0xdbc, 1, 0]), "fd50:0dbc:0001:0000");
    }

    #[test]
    fn ip4_strict() {
        assert_eq!(parse_ip4("10.0.3.100"), Some(Ipv4Addr::new(10, 0, 3, 100)));
        for bad in [
            "300.1.1.1",
            "10.0.3",
            "10.0.3.100 ",
            "010.0.3.100",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "a.b.c.d",
            "",
        ] {
            assert_eq!(parse_ip4(bad), None, "{bad}");
        }
    }

    #[test]
    fn host_ports() {
        for good in [
            "stun.l.google.com:19302",
            "192.168.1.100:19302",
            "[fd00::1]:3478",
            "h:1",
            "h:65535",
        ] {
            assert!(valid_host_port(good), "{good}");
        }
        for bad in [
            "host",
            "host:",
            ":80",
            "host:0",
            "host:65536",
            "fd00::1:3478",
            "[fd00::1]",
            "[zz]:1",
            "a b:1",
            "h:+1",
            "u@h:1",
        ] {
            assert!(!valid_host_port(bad), "{bad}");
        }
    }

    #[test]
    fn ifnames() {
        assert!(valid_ifname("tunnel-tap"));
        assert!(valid_ifname("eth0.2"));
        assert!(valid_ifname("abcdefghijklmno"));
        for bad in ["", "abcdefghijklmnop", "a/b", "a b", "a:b", "..", "."] {
            assert!(!valid_ifname(bad), "{bad}");
        }
    }

    #[test]
    fn ints_and_bits() {
        let port = Ty::Int {
            min: 1,
            max: 65535,
            unit: "",
        };
        assert_eq!(parse_int_text(port, "5222"), Ok(Value::Int(5222)));
        assert_eq!(
            parse_int_text(port, "0"),
            Err(Reject::Expected("an integer in 1..=65535".into()))
        );
        for bad in ["", "-1", "+1", "1.0", "0x10", "99999999999", " 1"] {
            assert!(parse_int_text(port, bad).is_err(), "{bad}");
        }
        assert_eq!(check_int(Ty::Bit, 1), Ok(Value::Bool(true)));
        assert_eq!(
            check_int(Ty::Bit, 2),
            Err(Reject::Expected("0 or 1".into()))
        );
        assert_eq!(
            check_int(Ty::Mtu, 575),
            Err(Reject::Expected("an MTU in 576..=9000 (bytes)".into()))
        );
        assert_eq!(check_int(Ty::Mtu, 9000), Ok(Value::Int(9000)));
    }

    #[test]
    fn strings() {
        assert_eq!(
            parse_str(Ty::Jid, "yyyy@yyyy"),
            Ok(Value::Str("yyyy@yyyy".into()))
        );
        for bad in ["yyyy", "@d", "u@", "u@d@e", "u @d", "u@d/res"] {
            assert!(parse_str(Ty::Jid, bad).is_err(), "{bad}");
        }
        assert!(
            matches!(parse_str(Ty::VpnType, "SocialVPN"), Err(Reject::Unsupported(m)) if m.contains("GroupVPN only"))
        );
        assert_eq!(
            parse_str(Ty::VpnType, "groupvpn"),
            Err(Reject::Expected("\"GroupVPN\"".into()))
        );
        assert_eq!(
            parse_str(Ty::LogName, "DEBUG"),
            Ok(Value::Str("DEBUG".into()))
        );
        assert!(parse_str(Ty::LogName, "debug").is_err());
        assert!(parse_str(Ty::Text, "a\0b").is_err());
        assert_eq!(
            parse_str(Ty::NonEmpty, ""),
            Err(Reject::Expected("a non-empty string".into()))
        );
    }

    #[test]
    fn keys() {
        let k = "//////////////////////////////////////////8=";
        assert_eq!(parse_key(k), Some([0xff; 32]));
        assert_eq!(parse_key("AAAA"), None);
    }

    #[test]
    fn uci_bools() {
        for t in ["1", "yes", "on", "true", "enabled"] {
            assert_eq!(parse_uci_bool(t), Some(true));
        }
        for f in ["0", "no", "off", "false", "disabled"] {
            assert_eq!(parse_uci_bool(f), Some(false));
        }
        assert_eq!(parse_uci_bool("TRUE"), None);
    }
}
