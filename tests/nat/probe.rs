//! The STUN and TURN clients through real NAT boxes (tests/nat/lib.sh):
//! coturn in a "public" namespace, and one site per NAT behaviour. Checks
//! the reflexive and relayed addresses `ipop check --online` would print,
//! and that each NAT box maps and filters as lib.sh documents.
//! Needs root, coturn, nftables and iproute2 (tests/nat/apt-packages).

use std::fs::File;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::process::Command;
use std::thread;
use std::time::Duration;

use ipop::config::TurnServer;
use ipop::core::rng::Rng;
use ipop::core::stun::binding::write_request;
use ipop::core::stun::{attr, consts, BindingClient, BindingEvent, Message, TurnClient, TurnEvent};
use ipop::core::time::Instant;
use ipop::io::stun_probe::{probe, ProbeOptions, ProbeReport};

/// Namespace prefix, per process so concurrent runs do not collide.
fn prefix() -> String {
    format!("ipn{}", std::process::id() % 100_000)
}
const SITES: [(u8, &str); 4] = [
    (1, "cone"),
    (2, "restricted"),
    (3, "symmetric"),
    (4, "public"),
];

/// Builds the testbed; tears it down on drop (also when a test panics).
struct Testbed;

fn lib(script: &str) -> std::process::Output {
    let p = prefix();
    let work = format!("/tmp/{p}-work");
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "set -e; NAT_PREFIX={p}; NAT_WORK={work}; mkdir -p {work}; \
             . {}/tests/nat/lib.sh; {script}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .output()
        .expect("bash runs");
    out
}

impl Testbed {
    fn up() -> Testbed {
        let bed = Testbed;
        let mut script = String::from("nat_pub_up; nat_coturn_start; ");
        for (i, t) in SITES {
            script += &format!("nat_site_add {i} {t}; ");
        }
        let out = lib(&script);
        assert!(
            out.status.success(),
            "testbed setup failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        bed
    }
}

impl Drop for Testbed {
    fn drop(&mut self) {
        lib("nat_teardown");
    }
}

/// Runs `f` on a thread inside namespace `<prefix>-{ns}`.
fn in_ns<T: Send + 'static>(
    ns: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> thread::JoinHandle<T> {
    let path = format!("/run/netns/{}-{ns}", prefix());
    thread::spawn(move || {
        let file = File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        // SAFETY: moves only this thread into the namespace.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns {path}");
        f()
    })
}

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn run_probe(site: u8) -> thread::JoinHandle<ProbeReport> {
    in_ns(&format!("node{site}"), move || {
        let stun = [
            "203.0.113.1:3478".to_string(),
            "203.0.113.2".to_string(),
            // Nothing listens here: the seed's dummy inner STUN entry.
            "203.0.113.99:3478".to_string(),
        ];
        let turn = [TurnServer {
            server: "203.0.113.1:3478".into(),
            user: "u".into(),
            pass: "p".into(),
        }];
        probe(&ProbeOptions {
            stun: &stun,
            turn: &turn,
            local_port: 5800,
            own_tap: "ipop",
            ignore: &[],
            timeout: Duration::from_secs(15),
        })
        .unwrap()
    })
}

/// Asks the STUN server 203.0.113.1:3478 for `sock`'s mapped address.
fn mapped_of(sock: &UdpSocket) -> SocketAddr {
    let id = [0x5a; 12];
    let mut buf = [0u8; 256];
    let n = write_request(&mut buf, &id).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    for _ in 0..3 {
        sock.send_to(&buf[..n], sa("203.0.113.1:3478")).unwrap();
        if let Ok((m, _)) = sock.recv_from(&mut buf) {
            let msg = Message::parse(&buf[..m]).unwrap();
            return attr::xor_address(msg.attr(consts::ATTR_XOR_MAPPED_ADDRESS).unwrap(), &id)
                .unwrap();
        }
    }
    panic!("no Binding answer");
}

/// Whether `sock` receives `tag` within 700 ms.
fn receives(sock: &UdpSocket, tag: &[u8]) -> bool {
    sock.set_read_timeout(Some(Duration::from_millis(700)))
        .unwrap();
    let mut buf = [0u8; 64];
    while let Ok((n, _)) = sock.recv_from(&mut buf) {
        if &buf[..n] == tag {
            return true;
        }
    }
    false
}

fn send_from_pub(from: &'static str, to: SocketAddr, tag: &'static [u8]) {
    in_ns("pub", move || {
        let s = UdpSocket::bind(from).unwrap();
        s.send_to(tag, to).unwrap();
    })
    .join()
    .unwrap();
}

#[test]
fn stun_turn_and_nat_behaviours() {
    let _bed = Testbed::up();

    // 1. The probe from behind every NAT type, all at once.
    let probes: Vec<_> = SITES.iter().map(|&(i, _)| (i, run_probe(i))).collect();
    for (i, h) in probes {
        let r = h.join().unwrap();
        eprintln!("site {i}:\n{r}");
        let wan = format!("203.0.113.{}", 10 + i);
        let m1 = r.stun[0].mapped.expect("203.0.113.1 answered");
        let m2 = r.stun[1].mapped.expect("203.0.113.2 answered");
        assert_eq!(r.stun[1].addr, Some(sa("203.0.113.2:3478")));
        assert_eq!(r.stun[2].mapped, None, "the dead server fails");
        assert_eq!(m1.ip().to_string(), wan);
        assert_eq!(m2.ip().to_string(), wan);
        let t = &r.turn[0];
        let relayed = t.relayed.expect("allocation");
        assert_eq!(relayed.ip().to_string(), "203.0.113.1");
        assert!((49152..=49999).contains(&relayed.port()));
        assert_eq!(t.mapped, Some(m1), "TURN sees the same mapping");
        assert!(
            t.relay_in,
            "site {i}: data from the relayed address came back"
        );
        match i {
            3 => {
                // Symmetric: a new port per destination.
                assert_ne!(m1.port(), m2.port());
                assert!(!t.relay_out, "symmetric NAT filters the relay's port");
            }
            _ => {
                // Endpoint-independent mapping, port kept.
                assert_eq!((m1.port(), m2.port()), (5800, 5800));
                assert!(t.relay_out);
            }
        }
        // Host candidates: the node's eth0 address only.
        let host: Vec<String> = r.host.iter().map(|(n, a)| format!("{n} {a}")).collect();
        let want = if i == 4 {
            wan.clone()
        } else {
            format!("10.{i}.0.2")
        };
        assert_eq!(host, [format!("eth0 {want}")]);
    }

    // 2. Filtering: who may send to a mapping the node opened towards
    //    203.0.113.1:3478?
    for (i, ty) in SITES {
        let node = in_ns(&format!("node{i}"), move || {
            let s = UdpSocket::bind("0.0.0.0:5800").unwrap();
            let m = mapped_of(&s);
            // The node also talks to 203.0.113.2:40002 (opens that pinhole).
            s.send_to(b"hello", sa("203.0.113.2:40002")).unwrap();
            (s, m)
        });
        let (sock, mapped) = node.join().unwrap();
        send_from_pub("203.0.113.2:40001", mapped, b"other-addr");
        let other_addr = receives(&sock, b"other-addr");
        send_from_pub("203.0.113.1:40003", mapped, b"other-port");
        let other_port = receives(&sock, b"other-port");
        send_from_pub("203.0.113.2:40002", mapped, b"contacted");
        let contacted = receives(&sock, b"contacted");
        eprintln!("site {i} {ty}: mapped {mapped} other-addr {other_addr} other-port {other_port} contacted {contacted}");
        let open = matches!(ty, "cone" | "public");
        assert_eq!(
            (other_addr, other_port),
            (open, open),
            "site {i} {ty} filtering"
        );
        // Symmetric: the mapping towards 203.0.113.2:40002 is another port,
        // so the answer to "contacted" sent to `mapped` does not pass.
        assert_eq!(contacted, ty != "symmetric", "site {i} {ty}");
    }

    // 3. Rebinding behind the symmetric NAT: after a conntrack flush the
    //    Binding client reports the new mapping and the TURN client's
    //    keepalive notices its orphaned allocation and allocates again.
    let p = prefix();
    let events = in_ns("node3", move || rebinding_run(&p)).join().unwrap();
    eprintln!("rebinding: {events:?}");
}

#[derive(Debug)]
enum Seen {
    Mapped(SocketAddr),
    Relayed(SocketAddr),
    TurnFailed,
    Flushed,
}

/// Drives a Binding and a TURN client on one socket with the real clock
/// (what the node's event loop does), flushing NAT 3 once both are up.
fn rebinding_run(prefix: &str) -> Vec<Seen> {
    let sock = UdpSocket::bind("0.0.0.0:5801").unwrap();
    let server = sa("203.0.113.1:3478");
    let mut binding = BindingClient::new(&[server], Rng::from_seed([1; 32]));
    let mut turn = TurnClient::new(server, "u", "p", Rng::from_seed([2; 32]));
    let origin = std::time::Instant::now();
    let clock = || Instant::from_nanos(origin.elapsed().as_nanos() as u64);
    let mut seen = Vec::new();
    let mut buf = [0u8; 1500];
    let mut flushed_at = None;
    while origin.elapsed() < Duration::from_secs(20) {
        let now = clock();
        binding.handle_timeout(now);
        turn.handle_timeout(now);
        while let Some((to, n)) = binding.poll_transmit(now, &mut buf) {
            sock.send_to(&buf[..n], to).unwrap();
        }
        while let Some((to, n)) = turn.poll_transmit(now, &mut buf) {
            sock.send_to(&buf[..n], to).unwrap();
        }
        while let Some(e) = binding.poll_event() {
            if let BindingEvent::Reflexive { mapped, .. } = e {
                seen.push(Seen::Mapped(mapped));
            }
        }
        while let Some(e) = turn.poll_event() {
            seen.push(match e {
                TurnEvent::Allocated { relayed, .. } => Seen::Relayed(relayed),
                TurnEvent::Failed => Seen::TurnFailed,
            });
        }
        let mapped: Vec<SocketAddr> = seen
            .iter()
            .filter_map(|s| {
                if let Seen::Mapped(m) = s {
                    Some(*m)
                } else {
                    None
                }
            })
            .collect();
        let relayed: Vec<SocketAddr> = seen
            .iter()
            .filter_map(|s| {
                if let Seen::Relayed(r) = s {
                    Some(*r)
                } else {
                    None
                }
            })
            .collect();
        let relays = relayed.len();
        if flushed_at.is_none() && mapped.len() == 1 && relays == 1 {
            let st = Command::new("ip")
                .args([
                    "netns",
                    "exec",
                    &format!("{prefix}-nat3"),
                    "conntrack",
                    "-F",
                ])
                .output()
                .unwrap();
            assert!(st.status.success(), "conntrack -F");
            seen.push(Seen::Flushed);
            flushed_at = Some(origin.elapsed());
            // What the node does on a network change: ask again now.
            binding.regather(now);
            turn.check_now(now);
        }
        if mapped.len() == 2 && relays == 2 {
            let took = origin.elapsed() - flushed_at.unwrap();
            assert!(took < Duration::from_secs(3), "recovery took {took:?}");
            assert_ne!(mapped[0], mapped[1], "fully-random NAT: new mapping");
            assert!(relayed.iter().all(|r| r.ip() == sa("203.0.113.1:0").ip()));
            let order: Vec<&str> = seen
                .iter()
                .map(|s| match s {
                    Seen::Mapped(_) => "mapped",
                    Seen::Relayed(_) => "relayed",
                    Seen::TurnFailed => "turn-failed",
                    Seen::Flushed => "flushed",
                })
                .collect();
            let after: Vec<&str> = order
                .iter()
                .skip_while(|s| **s != "flushed")
                .copied()
                .collect();
            assert!(after.contains(&"turn-failed"), "{order:?}");
            assert_eq!(after.last(), Some(&"relayed"), "{order:?}");
            assert_eq!(
                binding.stats().total_drops() + turn.stats().total_drops(),
                0
            );
            return seen;
        }
        let next = [binding.poll_timeout(), turn.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
            .map_or(Duration::from_millis(50), |t| t.saturating_since(clock()));
        sock.set_read_timeout(Some(
            next.clamp(Duration::from_millis(1), Duration::from_millis(50)),
        ))
        .unwrap();
        if let Ok((n, from)) = sock.recv_from(&mut buf) {
            let now = clock();
            let data = &buf[..n];
            if binding.accepts(data) {
                binding.handle_datagram(now, from, data).unwrap();
            } else if from == server && turn.accepts(data) {
                turn.handle_input(now, data).unwrap();
            }
        }
    }
    panic!("no recovery within 20 s: {seen:?}");
}
