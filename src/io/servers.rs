//! The names in `stun`, `turn` and `static_peers`, resolved inside the loop
//! and again later: a router often starts before its uplink or its DNS, and
//! a dynamic-DNS peer moves. Literal addresses reach the node at start
//! (through `NodeConfig`); only names come through here.

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use super::resolve;
use super::run::Shell;
use super::stun_probe::DEFAULT_PORT;

/// Retries while some name does not resolve: doubling from the first to
/// the last (DNS usually comes up seconds after the node on a booting
/// router; a name that never resolves costs one query a minute).
const RETRY_FIRST: Duration = Duration::from_secs(2);
const RETRY_MAX: Duration = Duration::from_secs(60);
/// Re-resolution of names that did (their addresses may change).
const REFRESH: Duration = Duration::from_secs(30 * 60);

/// A configured name and what it last resolved to.
struct Name {
    entry: String,
    /// Its addresses the socket can reach (A and AAAA), IPv4 first.
    addrs: Vec<SocketAddr>,
    warned: bool,
}

impl Name {
    fn new(entry: &str) -> Option<Name> {
        resolve::literal_entry(entry, DEFAULT_PORT)
            .is_none()
            .then(|| Name {
                entry: entry.to_owned(),
                addrs: Vec::new(),
                warned: false,
            })
    }

    /// Resolves again; the addresses that are new (none if nothing changed).
    async fn refresh(
        &mut self,
        what: &str,
        reach: &dyn Fn(&SocketAddr) -> bool,
    ) -> Vec<SocketAddr> {
        let found = resolve::resolve_entry(&self.entry, DEFAULT_PORT)
            .await
            .map(|v| v.into_iter().filter(|a| reach(a)).collect::<Vec<_>>())
            .and_then(|v| {
                if v.is_empty() {
                    Err(std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        "no address this socket can reach",
                    ))
                } else {
                    Ok(v)
                }
            });
        match found {
            Ok(v) => {
                let new: Vec<SocketAddr> = v
                    .iter()
                    .filter(|a| !self.addrs.contains(a))
                    .copied()
                    .collect();
                if !new.is_empty() {
                    log::info!(
                        "{what} {} resolved to {}",
                        self.entry,
                        v.iter()
                            .map(|a| a.to_string())
                            .collect::<Vec<_>>()
                            .join(" ")
                    );
                }
                self.addrs = v;
                new
            }
            Err(e) if !self.warned => {
                log::warn!("{what} {}: {e}; retrying", self.entry);
                self.warned = true;
                Vec::new()
            }
            Err(e) => {
                log::debug!("{what} {}: {e}", self.entry);
                Vec::new()
            }
        }
    }
}

/// Runs for the node's lifetime; returns at once if every entry is literal.
pub async fn run(shell: Rc<Shell>) {
    let cfg = &shell.cfg;
    let mut stun: Vec<Name> = cfg.stun.iter().filter_map(|s| Name::new(s)).collect();
    let mut turn: Vec<(Name, &str, &str)> = cfg
        .turn
        .iter()
        .filter_map(|t| Some((Name::new(&t.server)?, t.user.as_str(), t.pass.as_str())))
        .collect();
    let mut peers: Vec<(Name, [u8; 32])> = cfg
        .static_peers
        .iter()
        .filter_map(|p| Some((Name::new(&p.endpoint)?, p.public_key)))
        .collect();
    if stun.is_empty() && turn.is_empty() && peers.is_empty() {
        return;
    }
    let udp = shell.udp.get_ref();
    let reach = |a: &SocketAddr| udp.reaches(a);
    let mut retry = RETRY_FIRST;
    loop {
        // Peers first, each applied at once: they matter most, and with a
        // silent DNS server every one of the (often many) STUN names costs
        // seconds.
        for (name, key) in &mut peers {
            // Every address: a dual-stack peer is reachable over both.
            for a in name.refresh("static peer", &reach).await {
                apply(&shell, |node, now| node.add_static_peer(now, a, *key));
            }
        }
        for (name, user, pass) in &mut turn {
            // One allocation per server: its first address (IPv4 first).
            let first = name.addrs.first().copied();
            name.refresh("turn server", &reach).await;
            if let Some(a) = name.addrs.first().copied().filter(|a| Some(*a) != first) {
                let server = [(a, user.to_string(), pass.to_string())];
                apply(&shell, |node, now| node.add_nat_servers(now, &[], &server));
            }
        }
        for name in &mut stun {
            // Every address: STUN over IPv6 finds nothing to translate, but
            // over IPv4 it finds the NAT mapping; both are candidates.
            let new = name.refresh("stun server", &reach).await;
            if !new.is_empty() {
                apply(&shell, |node, now| node.add_nat_servers(now, &new, &[]));
            }
        }
        let all = stun.iter().chain(turn.iter().map(|t| &t.0));
        let pending = all
            .chain(peers.iter().map(|p| &p.0))
            .any(|n| n.addrs.is_empty());
        let wait = if pending {
            let now = retry;
            retry = (retry * 2).min(RETRY_MAX);
            now
        } else {
            retry = RETRY_FIRST;
            REFRESH
        };
        async_io::Timer::after(wait).await;
    }
}

fn apply(shell: &Shell, f: impl FnOnce(&mut crate::core::node::Node, crate::core::time::Instant)) {
    let mut node = shell.node.borrow_mut();
    f(&mut node, shell.clock.now());
    shell.flush(&mut node);
}
