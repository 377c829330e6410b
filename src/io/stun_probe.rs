//! `ipop check --online`: gathers this machine's candidates once, the way a
//! node would, and reports them. Host addresses (netif), the reflexive
//! address from every STUN server, and for every TURN server an allocation
//! plus a relay round trip through it:
//!
//! * relay-in: we send from our socket straight to the relayed address; the
//!   server must hand it back to us (ChannelData or Data indication);
//! * relay-out: we send through the server to our own reflexive address;
//!   it must arrive from the relayed address. Behind an address-and-port-
//!   dependent (symmetric) NAT this direction is expected to fail, since
//!   our NAT only lets in the TURN server's port.
//!
//! Blocking, one UDP socket, for a CLI command; the node drives the same
//! sans-IO clients from its event loop instead.

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant as StdInstant};

use crate::config::{OverlayConfig, TurnServer};
use crate::core::rng::Rng;
use crate::core::stun::{BindingClient, BindingEvent, TurnClient, TurnEvent};
use crate::core::time::Instant;

/// STUN/TURN port when an entry has none (RFC 8489 §9).
pub const DEFAULT_PORT: u16 = 3478;
const PROBE_IN: &[u8] = b"ipop-probe-in";
const PROBE_OUT: &[u8] = b"ipop-probe-out";

pub struct ProbeOptions<'a> {
    /// 16.01 `stun` entries, "host:port" or "host".
    pub stun: &'a [String],
    /// 16.01 `turn` entries.
    pub turn: &'a [TurnServer],
    /// Local UDP port; 0 = any.
    pub local_port: u16,
    /// Own TAP and `network_ignore_list`, for the host candidates.
    pub own_tap: &'a str,
    pub ignore: &'a [String],
    /// Give up on everything after this long.
    pub timeout: Duration,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StunProbe {
    pub server: String,
    /// None: the name did not resolve.
    pub addr: Option<SocketAddr>,
    /// None: no answer.
    pub mapped: Option<SocketAddr>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TurnProbe {
    pub server: String,
    pub addr: Option<SocketAddr>,
    pub relayed: Option<SocketAddr>,
    pub mapped: Option<SocketAddr>,
    pub relay_in: bool,
    pub relay_out: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeReport {
    pub local: SocketAddr,
    pub host: Vec<(String, IpAddr)>,
    pub stun: Vec<StunProbe>,
    pub turn: Vec<TurnProbe>,
}

impl ProbeReport {
    /// True when every resolved STUN server answered and every TURN server
    /// allocated and passed relay-in.
    pub fn all_ok(&self) -> bool {
        self.stun.iter().all(|s| s.mapped.is_some())
            && self.turn.iter().all(|t| t.relayed.is_some() && t.relay_in)
    }
}

fn opt(a: &Option<SocketAddr>) -> String {
    a.map_or_else(|| "-".to_string(), |a| a.to_string())
}

impl fmt::Display for ProbeReport {
    /// One line per finding, stable for scripts:
    /// `host IFNAME IP`, `srflx SERVER MAPPED|failed`,
    /// `relay SERVER RELAYED|failed mapped=.. in=ok|fail out=ok|fail`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "local {}", self.local)?;
        for (name, ip) in &self.host {
            writeln!(f, "host {name} {ip}")?;
        }
        for s in &self.stun {
            match (s.addr, s.mapped) {
                (None, _) => writeln!(f, "srflx {} unresolved", s.server)?,
                (Some(a), None) => writeln!(f, "srflx {a} failed")?,
                (Some(a), Some(m)) => writeln!(f, "srflx {a} {m}")?,
            }
        }
        for t in &self.turn {
            let ok = |b: bool| if b { "ok" } else { "fail" };
            match (t.addr, t.relayed) {
                (None, _) => writeln!(f, "relay {} unresolved", t.server)?,
                (Some(a), None) => writeln!(f, "relay {a} failed")?,
                (Some(a), Some(r)) => writeln!(
                    f,
                    "relay {a} {r} mapped={} in={} out={}",
                    opt(&t.mapped),
                    ok(t.relay_in),
                    ok(t.relay_out)
                )?,
            }
        }
        Ok(())
    }
}

/// Resolves a 16.01 server entry ("host:port" or "host") to IPv4.
pub fn resolve(entry: &str) -> Option<SocketAddr> {
    smol::block_on(super::resolve::resolve_entry_v4(entry, DEFAULT_PORT)).ok()
}

struct TurnSlot {
    client: TurnClient,
    done: bool,
    probe_sent: Option<StdInstant>,
}

/// How long `ipop check --online` waits at most: one STUN give-up
/// (7.5 s) plus a TURN allocation and relay round trip.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(12);

/// The probe for one overlay's config: its `stun` and `turn` entries, its
/// `listen_port` (or any port when a running node holds it), its TAP and
/// `network_ignore_list`. What `ipop check --online` prints.
pub fn probe_config(cfg: &OverlayConfig) -> io::Result<ProbeReport> {
    probe(&ProbeOptions {
        stun: &cfg.stun,
        turn: &cfg.turn,
        local_port: cfg.listen_port,
        own_tap: &cfg.tap_name,
        ignore: &cfg.network_ignore_list,
        timeout: CHECK_TIMEOUT,
    })
}

/// Runs the probe. Errors only when no UDP socket can be bound. When
/// `local_port` is taken (the node runs), any port is used instead.
pub fn probe(opts: &ProbeOptions) -> io::Result<ProbeReport> {
    let sock = match UdpSocket::bind((Ipv4Addr::UNSPECIFIED, opts.local_port)) {
        Err(e) if e.kind() == io::ErrorKind::AddrInUse => {
            log::info!("probe: port {} in use, using any port", opts.local_port);
            UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))?
        }
        r => r?,
    };
    let mut seed = [0u8; 32];
    getrandom::getrandom(&mut seed).map_err(|e| io::Error::other(e.to_string()))?;
    let mut rng = Rng::from_seed(seed);
    let origin = StdInstant::now();
    let clock = |t: StdInstant| Instant::from_nanos(t.duration_since(origin).as_nanos() as u64);

    let mut report = ProbeReport {
        local: sock.local_addr()?,
        host: super::netif::host_addresses(opts.own_tap, opts.ignore),
        stun: opts
            .stun
            .iter()
            .map(|s| StunProbe {
                server: s.clone(),
                addr: resolve(s),
                mapped: None,
            })
            .collect(),
        turn: opts
            .turn
            .iter()
            .map(|t| TurnProbe {
                server: t.server.clone(),
                addr: resolve(&t.server),
                relayed: None,
                mapped: None,
                relay_in: false,
                relay_out: false,
            })
            .collect(),
    };
    let stun_addrs: Vec<SocketAddr> = report.stun.iter().filter_map(|s| s.addr).collect();
    let mut binding = BindingClient::new(&stun_addrs, rng.fork());
    let mut stun_left = stun_addrs.len();
    let mut turns: Vec<Option<TurnSlot>> = report
        .turn
        .iter()
        .zip(opts.turn)
        .map(|(p, t)| {
            p.addr.map(|a| TurnSlot {
                client: TurnClient::new(a, &t.user, &t.pass, rng.fork()),
                done: false,
                probe_sent: None,
            })
        })
        .collect();

    let deadline = origin + opts.timeout;
    let mut buf = [0u8; 2048];
    loop {
        let now_std = StdInstant::now();
        let now = clock(now_std);
        binding.handle_timeout(now);
        while let Some((to, n)) = binding.poll_transmit(now, &mut buf) {
            send(&sock, &buf[..n], to);
        }
        while let Some(ev) = binding.poll_event() {
            stun_left = stun_left.saturating_sub(1);
            if let BindingEvent::Reflexive { server, mapped } = ev {
                for s in report.stun.iter_mut().filter(|s| s.addr == Some(server)) {
                    s.mapped = Some(mapped);
                }
            }
        }
        for (slot, rep) in turns.iter_mut().zip(report.turn.iter_mut()) {
            let Some(slot) = slot else { continue };
            drive_turn(slot, rep, &sock, now, now_std, &mut buf);
        }
        let turn_busy = turns.iter().flatten().any(|s| !s.done);
        if (stun_left == 0 && !turn_busy) || now_std >= deadline {
            break;
        }

        // Sleep until the next timer (at most 100 ms) or a datagram.
        let next = [binding.poll_timeout()]
            .into_iter()
            .chain(turns.iter().flatten().map(|s| s.client.poll_timeout()))
            .flatten()
            .min()
            .map_or(Duration::from_millis(100), |t| t.saturating_since(now));
        let wait = next.clamp(Duration::from_millis(1), Duration::from_millis(100));
        sock.set_read_timeout(Some(wait))?;
        let Ok((n, from)) = sock.recv_from(&mut buf) else {
            continue;
        };
        let now = clock(StdInstant::now());
        let data = &buf[..n];
        if binding.accepts(data) {
            let _ = binding.handle_datagram(now, from, data);
            continue;
        }
        for (slot, rep) in turns.iter_mut().zip(report.turn.iter_mut()) {
            let Some(slot) = slot else { continue };
            if Some(from) == rep.relayed && data == PROBE_OUT {
                rep.relay_out = true;
            } else if from == slot.client.server() && slot.client.accepts(data) {
                if let Ok(Some((_, payload))) = slot.client.handle_input(now, data) {
                    rep.relay_in |= payload == PROBE_IN;
                }
            }
        }
    }
    Ok(report)
}

/// One step of a TURN server's probe: allocation events, then the relay
/// round trip (repeated every 500 ms until both directions were seen).
fn drive_turn(
    slot: &mut TurnSlot,
    rep: &mut TurnProbe,
    sock: &UdpSocket,
    now: Instant,
    now_std: StdInstant,
    buf: &mut [u8],
) {
    let c = &mut slot.client;
    c.handle_timeout(now);
    while let Some(ev) = c.poll_event() {
        match ev {
            TurnEvent::Allocated { relayed, mapped } => {
                rep.relayed = Some(relayed);
                rep.mapped = mapped;
                match mapped {
                    Some(m) => {
                        c.add_peer(now, m);
                    }
                    None => slot.done = true,
                }
            }
            TurnEvent::Failed => slot.done = true,
        }
    }
    while let Some((to, n)) = c.poll_transmit(now, buf) {
        send(sock, &buf[..n], to);
    }
    if rep.relay_in && rep.relay_out {
        slot.done = true;
    }
    let (Some(relayed), Some(mapped)) = (rep.relayed, rep.mapped) else {
        return;
    };
    if slot.done || c.channel(mapped).is_none() {
        return;
    }
    if slot
        .probe_sent
        .is_some_and(|t| now_std.duration_since(t) < Duration::from_millis(500))
    {
        return;
    }
    slot.probe_sent = Some(now_std);
    send(sock, PROBE_IN, relayed);
    if let Some(n) = c.wrap(mapped, PROBE_OUT, buf) {
        send(sock, &buf[..n], c.server());
    }
}

fn send(sock: &UdpSocket, data: &[u8], to: SocketAddr) {
    if let Err(e) = sock.send_to(data, to) {
        log::debug!("probe: send to {to}: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_entries() {
        assert_eq!(
            resolve("127.0.0.1:19302"),
            Some("127.0.0.1:19302".parse().unwrap())
        );
        assert_eq!(
            resolve("127.0.0.1"),
            Some("127.0.0.1:3478".parse().unwrap())
        );
        assert_eq!(resolve("no such host.invalid:1"), None);
    }

    /// A silent STUN server (the seed's dummy entry) costs one timeout:
    /// the probe returns after ~7.5 s with the server marked failed.
    #[test]
    fn silent_server_is_reported_failed() {
        let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
        let entry = silent.local_addr().unwrap().to_string();
        let stun = [entry.clone()];
        let start = StdInstant::now();
        let r = probe(&ProbeOptions {
            stun: &stun,
            turn: &[],
            local_port: 0,
            own_tap: "ipop",
            ignore: &[],
            timeout: Duration::from_secs(20),
        })
        .unwrap();
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(7400) && took < Duration::from_secs(10),
            "{took:?}"
        );
        assert_eq!(r.stun.len(), 1);
        assert_eq!(r.stun[0].mapped, None);
        assert!(!r.all_ok());
        assert!(r.to_string().contains(&format!("srflx {entry} failed\n")));
        // Every request reached the server: 4 sends.
        silent.set_nonblocking(true).unwrap();
        let mut n = 0;
        let mut b = [0u8; 64];
        while silent.recv_from(&mut b).is_ok() {
            n += 1;
        }
        assert_eq!(n, 4);
    }

    /// A tiny Binding server on loopback answers; the probe reports the
    /// address it saw.
    #[test]
    fn loopback_binding_server_answers() {
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        let entry = server.local_addr().unwrap().to_string();
        let t = std::thread::spawn(move || {
            let mut b = [0u8; 128];
            let (n, from) = server.recv_from(&mut b).unwrap();
            let id: [u8; 12] = b[8..20].try_into().unwrap();
            assert_eq!(n, 28);
            let mut out = [0u8; 64];
            let m = crate::core::stun::binding::write_response(&mut out, &id, from).unwrap();
            server.send_to(&out[..m], from).unwrap();
            from
        });
        let stun = [entry];
        let r = probe(&ProbeOptions {
            stun: &stun,
            turn: &[],
            local_port: 0,
            own_tap: "ipop",
            ignore: &[],
            timeout: Duration::from_secs(5),
        })
        .unwrap();
        let from = t.join().unwrap();
        assert_eq!(r.stun[0].mapped, Some(from));
        assert_eq!(from.port(), r.local.port());
        assert!(r.all_ok());
    }
}
