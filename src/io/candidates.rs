//! This node's host candidates: the addresses of every up interface except
//! loopback, its own TAP and `network_ignore_list`, with the overlay's UDP
//! port. Re-gathered whenever the kernel reports an address or link change,
//! which is also when a bridged TAP re-joins a re-created bridge.

use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::time::Duration;

use super::netif::{self, NetChanges};
use super::run::Shell;
use crate::core::candidate::{Candidate, CandidateKind};

/// IPv6 host candidates per node (of payload::MAX_GOSSIP_CANDIDATES = 8).
const MAX_V6_HOST: usize = 3;

pub fn refresh(shell: &Shell) {
    let host = netif::host_addresses(shell.tap.name(), &shell.cfg.network_ignore_list);
    let mut cands: Vec<Candidate> = Vec::new();
    // Addresses the socket can send from (IPv6 on a dual-stack socket),
    // IPv6 first (no NAT in the way: the path the node prefers), each
    // family in the order the kernel lists them.
    let udp = shell.udp.get_ref();
    let usable = |ip: &IpAddr| udp.reaches(&SocketAddr::new(*ip, 0));
    // At most MAX_V6_HOST of them, so IPv4 keeps room among the gossiped
    // candidates when privacy extensions add many.
    let v6 = host
        .iter()
        .filter(|(_, ip)| ip.is_ipv6() && usable(ip))
        .take(MAX_V6_HOST);
    let v4 = host.iter().filter(|(_, ip)| ip.is_ipv4());
    for (i, (_ifname, ip)) in v6.chain(v4).enumerate() {
        let pref = u16::MAX.saturating_sub(i as u16);
        cands.push(Candidate::new(
            CandidateKind::Host,
            SocketAddr::new(*ip, shell.local_port),
            pref,
        ));
    }
    let mut node = shell.node.borrow_mut();
    // No usable underlay right now (an outer overlay restarting): keep the
    // ceiling we have.
    if let Some(mtu) = underlay_mtu(&host) {
        node.set_underlay_mtu(shell.clock.now(), mtu);
    }
    node.set_local_candidates(&cands);
    node.handle_network_change(shell.clock.now());
    log::info!(
        "host candidates: {}",
        if cands.is_empty() {
            "none".to_string()
        } else {
            cands
                .iter()
                .map(|c| c.addr.to_string())
                .collect::<Vec<_>>()
                .join(" ")
        }
    );
    shell.flush(&mut node);
}

pub async fn watch(shell: Rc<Shell>) {
    let changes = match NetChanges::new() {
        Ok(c) => c,
        Err(e) => {
            log::warn!("no netlink change notifications ({e}); candidates are gathered once");
            return std::future::pending().await;
        }
    };
    loop {
        if changes.wait().await.is_err() {
            async_io::Timer::after(Duration::from_secs(1)).await;
            continue;
        }
        // Let a burst of changes (address + route + link) settle first.
        async_io::Timer::after(Duration::from_millis(200)).await;
        shell.tap.keep_bridged();
        refresh(&shell);
    }
}

/// The largest MTU among the interfaces that carry host candidates: the
/// ceiling of every link's path MTU search (the search finds what the
/// path really carries below it). `None` with no usable interface.
fn underlay_mtu(host: &[(String, IpAddr)]) -> Option<u16> {
    host.iter()
        .filter_map(|(ifname, _)| super::tap::interface_mtu(ifname))
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ceiling_is_the_largest_underlay_mtu() {
        let host = [
            ("lo".to_string(), IpAddr::from([127, 0, 0, 1])),
            ("ipopnosuchif0".to_string(), IpAddr::from([10, 0, 0, 1])),
        ];
        assert_eq!(underlay_mtu(&host), Some(u16::MAX));
        assert_eq!(underlay_mtu(&host[1..]), None);
    }
}
