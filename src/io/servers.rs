//! The names in `stun`, `turn` and `static_peers`, resolved inside the loop
//! and again later: a router often starts before its uplink or its DNS, and
//! a dynamic-DNS peer moves. Literal addresses reach the node at start
//! (through `NodeConfig`); only names come through here.

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use super::resolve::{self, resolve_entry_v4};
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
    addr: Option<SocketAddr>,
    warned: bool,
}

impl Name {
    fn new(entry: &str) -> Option<Name> {
        resolve::literal_entry(entry, DEFAULT_PORT)
            .is_none()
            .then(|| Name {
                entry: entry.to_owned(),
                addr: None,
                warned: false,
            })
    }

    /// Resolves again; the address if it is new.
    async fn refresh(&mut self, what: &str) -> Option<SocketAddr> {
        match resolve_entry_v4(&self.entry, DEFAULT_PORT).await {
            Ok(a) if self.addr == Some(a) => None,
            Ok(a) => {
                log::info!("{what} {} resolved to {a}", self.entry);
                self.addr = Some(a);
                Some(a)
            }
            Err(e) if !self.warned => {
                log::warn!("{what} {}: {e}; retrying", self.entry);
                self.warned = true;
                None
            }
            Err(e) => {
                log::debug!("{what} {}: {e}", self.entry);
                None
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
    let mut retry = RETRY_FIRST;
    loop {
        // Peers first, each applied at once: they matter most, and with a
        // silent DNS server every one of the (often many) STUN names costs
        // seconds.
        for (name, key) in &mut peers {
            if let Some(a) = name.refresh("static peer").await {
                apply(&shell, |node, now| node.add_static_peer(now, a, *key));
            }
        }
        for (name, user, pass) in &mut turn {
            if let Some(a) = name.refresh("turn server").await {
                let server = [(a, user.to_string(), pass.to_string())];
                apply(&shell, |node, now| node.add_nat_servers(now, &[], &server));
            }
        }
        for name in &mut stun {
            if let Some(a) = name.refresh("stun server").await {
                apply(&shell, |node, now| node.add_nat_servers(now, &[a], &[]));
            }
        }
        let all = stun.iter().chain(turn.iter().map(|t| &t.0));
        let pending = all
            .chain(peers.iter().map(|p| &p.0))
            .any(|n| n.addr.is_none());
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
