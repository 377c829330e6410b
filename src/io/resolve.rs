//! Host names to addresses without blocking the loop and without a helper
//! thread: IP literals, then `/etc/hosts`, then DNS over UDP to the
//! nameservers of `/etc/resolv.conf` (the codec is [`crate::core::dns`]).
//! `getaddrinfo` would stall the packet path for as long as DNS is down —
//! seconds per name on a router that boots before its uplink.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use async_io::{Async, Timer};

use crate::core::dns::{self, DnsError, TYPE_A, TYPE_AAAA};

/// How long one nameserver gets to answer one question.
const QUERY_TIMEOUT: Duration = Duration::from_millis(1500);
/// Rounds over all nameservers (UDP loses packets).
const ROUNDS: usize = 2;
/// resolv.conf(5): at most three nameservers are used.
const MAX_NAMESERVERS: usize = 3;

/// What resolution needs from `/etc/resolv.conf`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResolvConf {
    pub nameservers: Vec<SocketAddr>,
    pub search: Vec<String>,
}

impl ResolvConf {
    /// `nameserver`, `search` and `domain` lines; the rest is ignored. No
    /// nameserver means the local one, as in libc.
    pub fn parse(text: &str) -> ResolvConf {
        let mut conf = ResolvConf::default();
        for line in text.lines() {
            let mut words = line.split_whitespace();
            match words.next() {
                Some("nameserver") => {
                    if let Some(ip) = words.next().and_then(|w| w.parse::<IpAddr>().ok()) {
                        if conf.nameservers.len() < MAX_NAMESERVERS {
                            conf.nameservers.push(SocketAddr::new(ip, 53));
                        }
                    }
                }
                Some("search") | Some("domain") => {
                    conf.search = words.map(|w| w.trim_end_matches('.').to_owned()).collect();
                }
                _ => {}
            }
        }
        if conf.nameservers.is_empty() {
            conf.nameservers
                .push(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 53));
        }
        conf
    }

    /// The names to ask, in order: a single label tries the search domains
    /// first (resolv.conf's default `ndots:1`), any name finally as given.
    fn candidates<'n>(&'n self, name: &'n str) -> impl Iterator<Item = String> + 'n {
        let relative = !name.trim_end_matches('.').contains('.') && !name.ends_with('.');
        self.search
            .iter()
            .filter(move |_| relative)
            .map(move |d| format!("{name}.{d}"))
            .chain(std::iter::once(name.to_owned()))
    }
}

/// The addresses `/etc/hosts` (as `text`) gives `name`.
pub fn hosts_lookup(text: &str, name: &str) -> Vec<IpAddr> {
    let name = name.trim_end_matches('.');
    text.lines()
        .filter_map(|line| {
            let mut words = line.split('#').next()?.split_whitespace();
            let ip = words.next()?.parse::<IpAddr>().ok()?;
            words.any(|w| w.eq_ignore_ascii_case(name)).then_some(ip)
        })
        .collect()
}

/// Splits a 16.01-style server entry: `host`, `host:port`, `1.2.3.4:port`,
/// `[v6]:port` or a bare IPv6 address.
pub fn split_host_port(entry: &str, default_port: u16) -> Option<(&str, u16)> {
    if let Some(rest) = entry.strip_prefix('[') {
        let (host, tail) = rest.split_once(']')?;
        let port = match tail {
            "" => default_port,
            t => t.strip_prefix(':')?.parse().ok()?,
        };
        return Some((host, port));
    }
    if entry.parse::<IpAddr>().is_ok() {
        return Some((entry, default_port));
    }
    match entry.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() => Some((host, port.parse().ok()?)),
        Some(_) => None,
        None if entry.is_empty() => None,
        None => Some((entry, default_port)),
    }
}

/// The address `host` names right now, if that needs no lookup.
pub fn literal(host: &str, port: u16) -> Option<SocketAddr> {
    // `[2001:db8::1]` as an XMPP host: the brackets of a URL or an entry.
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    host.parse::<IpAddr>()
        .ok()
        .map(|ip| SocketAddr::new(ip, port))
}

/// The address a server entry (`host[:port]`) names, if it needs no lookup.
pub fn literal_entry(entry: &str, default_port: u16) -> Option<SocketAddr> {
    let (host, port) = split_host_port(entry, default_port)?;
    literal(host, port)
}

/// Resolves a server entry (`host[:port]`) to its first IPv4 address: the
/// overlay's one UDP socket is IPv4.
/// Every address of `entry` ("host[:port]", "[v6]:port"), IPv4 first.
pub async fn resolve_entry(entry: &str, default_port: u16) -> io::Result<Vec<SocketAddr>> {
    let (host, port) = split_host_port(entry, default_port).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{entry}: expected host[:port]"),
        )
    })?;
    let mut all = resolve(host, port).await?;
    all.sort_by_key(SocketAddr::is_ipv6);
    Ok(all)
}

pub async fn resolve_entry_v4(entry: &str, default_port: u16) -> io::Result<SocketAddr> {
    let (host, port) = split_host_port(entry, default_port).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{entry}: expected host[:port]"),
        )
    })?;
    resolve(host, port)
        .await?
        .into_iter()
        .find(SocketAddr::is_ipv4)
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("{host}: no IPv4 address")))
}

/// Resolves `host` with the system's hosts file and nameservers; IPv4
/// addresses first.
pub async fn resolve(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    if let Some(a) = literal(host, port) {
        return Ok(vec![a]);
    }
    let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    let conf = ResolvConf::parse(&std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default());
    resolve_with(&conf, &hosts, host, port).await
}

/// [`resolve`] with the files' contents given.
pub async fn resolve_with(
    conf: &ResolvConf,
    hosts: &str,
    host: &str,
    port: u16,
) -> io::Result<Vec<SocketAddr>> {
    if let Some(a) = literal(host, port) {
        return Ok(vec![a]);
    }
    let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if host.is_empty() || !host.chars().all(valid) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{host:?} is not a host name"),
        ));
    }
    let mut found = hosts_lookup(hosts, host);
    found.sort_by_key(|ip| ip.is_ipv6());
    if !found.is_empty() {
        return Ok(found
            .into_iter()
            .map(|ip| SocketAddr::new(ip, port))
            .collect());
    }
    let mut last = io::Error::new(io::ErrorKind::NotFound, format!("{host}: no address"));
    for name in conf.candidates(host) {
        match lookup(conf, &name).await {
            Ok(ips) if !ips.is_empty() => {
                return Ok(ips
                    .into_iter()
                    .map(|ip| SocketAddr::new(ip, port))
                    .collect());
            }
            Ok(_) => {}
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// A and then AAAA records of one absolute name. A failed A question ends
/// it: no such name, or no nameserver answering, holds for AAAA as well.
async fn lookup(conf: &ResolvConf, name: &str) -> io::Result<Vec<IpAddr>> {
    let mut ips = ask(conf, name, TYPE_A).await?;
    // Addresses from A suffice if the AAAA question fails.
    ips.extend(ask(conf, name, TYPE_AAAA).await.unwrap_or_default());
    Ok(ips)
}

/// One question to the nameservers in turn until one answers.
async fn ask(conf: &ResolvConf, name: &str, qtype: u16) -> io::Result<Vec<IpAddr>> {
    let mut query = [0u8; 300];
    let mut id = [0u8; 2];
    getrandom::getrandom(&mut id).map_err(|e| io::Error::other(e.to_string()))?;
    let id = u16::from_be_bytes(id);
    let len = dns::write_query(&mut query, id, name, qtype)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("{name}: {e}")))?;
    let mut last = io::Error::new(
        io::ErrorKind::TimedOut,
        format!("{name}: no nameserver answered"),
    );
    for _ in 0..ROUNDS {
        for &ns in &conf.nameservers {
            match ask_one(ns, &query[..len], id, name, qtype).await {
                Ok(ips) => return Ok(ips),
                Err(DnsFailure::Answer(DnsError::NoSuchName)) => {
                    return Err(io::Error::new(
                        io::ErrorKind::NotFound,
                        format!("{name}: no such name"),
                    ));
                }
                Err(DnsFailure::Answer(e)) => {
                    last = io::Error::other(format!("{name}: {e} from {ns}"));
                }
                Err(DnsFailure::Io(e)) => {
                    last = io::Error::new(e.kind(), format!("{name}: {ns}: {e}"))
                }
            }
        }
    }
    Err(last)
}

enum DnsFailure {
    Io(io::Error),
    Answer(DnsError),
}

/// Sends `query` to `ns` from a fresh random port and waits for the answer,
/// ignoring datagrams that are not it (a connected socket only hears `ns`).
async fn ask_one(
    ns: SocketAddr,
    query: &[u8],
    id: u16,
    name: &str,
    qtype: u16,
) -> Result<Vec<IpAddr>, DnsFailure> {
    let any: SocketAddr = if ns.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let sock = Async::<std::net::UdpSocket>::bind(any).map_err(DnsFailure::Io)?;
    sock.get_ref().connect(ns).map_err(DnsFailure::Io)?;
    sock.send(query).await.map_err(DnsFailure::Io)?;
    let answer = async {
        let mut buf = [0u8; 1232];
        loop {
            let n = sock.recv(&mut buf).await.map_err(DnsFailure::Io)?;
            match dns::read_answer(&buf[..n], id, name, qtype) {
                Ok(ips) => return Ok(ips.to_vec()),
                Err(DnsError::NotOurs) => continue,
                Err(e) => return Err(DnsFailure::Answer(e)),
            }
        }
    };
    let timeout = async {
        Timer::after(QUERY_TIMEOUT).await;
        Err(DnsFailure::Io(io::Error::new(
            io::ErrorKind::TimedOut,
            "timed out",
        )))
    };
    smol::future::or(answer, timeout).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_conf() {
        let c = ResolvConf::parse(
            "# OpenWrt\nsearch lan home.\nnameserver 127.0.0.1\nnameserver ::1\n\
             nameserver fe80::1%eth0\nnameserver 9.9.9.9\nnameserver 1.1.1.1\noptions ndots:1\n",
        );
        assert_eq!(
            c.nameservers,
            ["127.0.0.1:53", "[::1]:53", "9.9.9.9:53"].map(|s| s.parse().unwrap())
        );
        assert_eq!(c.search, ["lan", "home"]);
        assert_eq!(
            c.candidates("xmpp").collect::<Vec<_>>(),
            ["xmpp.lan", "xmpp.home", "xmpp"]
        );
        assert_eq!(
            c.candidates("xmpp.example.org").collect::<Vec<_>>(),
            ["xmpp.example.org"]
        );
        assert_eq!(c.candidates("xmpp.").collect::<Vec<_>>(), ["xmpp."]);
        let empty = ResolvConf::parse("");
        assert_eq!(empty.nameservers, ["127.0.0.1:53".parse().unwrap()]);
    }

    #[test]
    fn hosts_file() {
        let hosts = "127.0.0.1 localhost\n::1 localhost ip6-localhost # comment\n\
                     10.0.0.5  xmpp.lan xmpp # the server\n# 10.0.0.6 xmpp\nbogus xmpp\n";
        assert_eq!(
            hosts_lookup(hosts, "XMPP"),
            ["10.0.0.5".parse::<IpAddr>().unwrap()]
        );
        assert_eq!(hosts_lookup(hosts, "localhost").len(), 2);
        assert!(hosts_lookup(hosts, "comment").is_empty());
    }

    #[test]
    fn server_entries() {
        assert_eq!(
            split_host_port("stun.l.google.com:19302", 3478),
            Some(("stun.l.google.com", 19302))
        );
        assert_eq!(
            split_host_port("stun.example", 3478),
            Some(("stun.example", 3478))
        );
        assert_eq!(
            split_host_port("192.168.1.100:19302", 3478),
            Some(("192.168.1.100", 19302))
        );
        assert_eq!(
            split_host_port("[fd00::1]:5000", 3478),
            Some(("fd00::1", 5000))
        );
        assert_eq!(split_host_port("[fd00::1]", 3478), Some(("fd00::1", 3478)));
        assert_eq!(split_host_port("fd00::1", 3478), Some(("fd00::1", 3478)));
        for bad in [
            "",
            ":5",
            "host:port",
            "host:70000",
            "[fd00::1",
            "[fd00::1]x",
        ] {
            assert_eq!(split_host_port(bad, 3478), None, "{bad:?}");
        }
        // An IPv6 host, bare or bracketed (xmpp_host), is a literal.
        let v6: SocketAddr = "[2001:db8::1]:5222".parse().unwrap();
        assert_eq!(literal("2001:db8::1", 5222), Some(v6));
        assert_eq!(literal("[2001:db8::1]", 5222), Some(v6));
        assert_eq!(literal("[2001:db8::1", 5222), None);
        assert_eq!(literal_entry("[2001:db8::1]:5222", 1), Some(v6));
    }

    /// A real UDP nameserver on loopback that answers A queries for one
    /// name, says NXDOMAIN for others, and first sends a forged answer
    /// with the wrong ID (which must be ignored).
    #[test]
    fn resolves_through_a_nameserver_on_loopback() {
        let server = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let ns = server.local_addr().unwrap();
        let t = std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            for _ in 0..4 {
                let (n, from) = server.recv_from(&mut buf).unwrap();
                let q = &buf[..n];
                let qtype = u16::from_be_bytes([q[n - 4], q[n - 3]]);
                let known = q[12..n - 4].eq_ignore_ascii_case(b"\x04xmpp\x03lan\x00");
                let mut a = q.to_vec();
                a[2] = 0x81;
                a[3] = if known { 0x80 } else { 0x83 };
                if known && qtype == TYPE_A {
                    a[7] = 1;
                    a.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 0, 0, 9]);
                    let mut forged = a.clone();
                    forged[1] ^= 1;
                    forged[n + 12 + 3] = 66;
                    server.send_to(&forged, from).unwrap();
                }
                server.send_to(&a, from).unwrap();
            }
        });
        let conf = ResolvConf {
            nameservers: vec![ns],
            search: vec!["lan".into()],
        };
        // "xmpp" -> xmpp.lan (A found, AAAA empty); "nope" -> nope.lan and
        // nope both NXDOMAIN.
        let got = smol::block_on(resolve_with(&conf, "", "xmpp", 5222)).unwrap();
        assert_eq!(got, ["10.0.0.9:5222".parse().unwrap()]);
        let err = smol::block_on(resolve_with(&conf, "", "nope", 1)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert_eq!(err.to_string(), "nope: no such name");
        t.join().unwrap();
        // Hosts file and literals need no server.
        let got = smol::block_on(resolve_with(&conf, "10.1.1.1 peer", "peer", 7)).unwrap();
        assert_eq!(got, ["10.1.1.1:7".parse().unwrap()]);
        let got = smol::block_on(resolve_with(&conf, "", "fd00::2", 7)).unwrap();
        assert_eq!(got, ["[fd00::2]:7".parse().unwrap()]);
    }

    #[test]
    fn a_silent_nameserver_times_out() {
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let conf = ResolvConf {
            nameservers: vec![silent.local_addr().unwrap()],
            search: vec![],
        };
        let t0 = std::time::Instant::now();
        let err = smol::block_on(resolve_with(&conf, "", "a.example", 1)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(t0.elapsed() >= QUERY_TIMEOUT * ROUNDS as u32);
    }
}
