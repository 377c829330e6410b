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

pub fn refresh(shell: &Shell) {
    let host = netif::host_addresses(shell.tap.name(), &shell.cfg.network_ignore_list);
    let mut cands: Vec<Candidate> = Vec::new();
    // Our socket is IPv4; prefer addresses in the order the kernel lists them.
    for (i, (_ifname, ip)) in host
        .iter()
        .filter(|(_, ip)| matches!(ip, IpAddr::V4(_)))
        .enumerate()
    {
        let pref = u16::MAX.saturating_sub(i as u16);
        cands.push(Candidate::new(
            CandidateKind::Host,
            SocketAddr::new(*ip, shell.local_port),
            pref,
        ));
    }
    if shell.cfg.mtu.is_none() {
        apply_auto_mtu(shell, &host);
    }
    let mut node = shell.node.borrow_mut();
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

/// Bytes ipop adds to a TAP frame on the underlay: IPv4 + UDP headers, the
/// link's header and tag, the largest overlay header (a relayed frame) and
/// the Ethernet header the TAP frame carries.
pub const ENCAP_OVERHEAD: u16 = 20
    + 8
    + crate::core::link::TRANSPORT_OVERHEAD as u16
    + crate::core::node::payload::MAX_HEADER as u16
    + crate::core::frame::ETH_HEADER_LEN as u16;

/// The TAP MTU when the config sets none: IPOP's 1280, lowered so that a
/// full-size frame plus all encapsulation fits the smallest usable underlay
/// interface (an inner overlay over an outer overlay's 1280-byte TAP gets
/// 1280 - ENCAP_OVERHEAD), never below IPv6's minimum... unless the underlay
/// forces it, in which case IPv4 still works.
pub fn auto_mtu(underlay_mtus: impl Iterator<Item = u16>) -> u16 {
    let fit = underlay_mtus
        .map(|m| m.saturating_sub(ENCAP_OVERHEAD))
        .min();
    fit.map_or(super::tap::DEFAULT_MTU, |f| {
        f.clamp(576, super::tap::DEFAULT_MTU)
    })
}

fn apply_auto_mtu(shell: &Shell, host: &[(String, IpAddr)]) {
    // No usable underlay right now (an outer overlay restarting): keep the
    // MTU we have rather than bounce to the default and back.
    if host.is_empty() {
        return;
    }
    let mtus = host
        .iter()
        .filter_map(|(ifname, _)| super::tap::interface_mtu(ifname));
    let want = auto_mtu(mtus);
    let have = super::tap::interface_mtu(shell.tap.name());
    if have != Some(want) {
        match super::ifctl::set_mtu(shell.tap.name(), want) {
            Ok(()) => log::info!("TAP {} MTU {want} (fits the underlay with {ENCAP_OVERHEAD} bytes of encapsulation)", shell.tap.name()),
            Err(e) => log::warn!("cannot set MTU {want} on {}: {e}", shell.tap.name()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mtu_fits_the_underlay() {
        assert_eq!(ENCAP_OVERHEAD, 116);
        assert_eq!(auto_mtu([1500u16, 9000].into_iter()), 1280);
        assert_eq!(auto_mtu([1280u16].into_iter()), 1164);
        assert_eq!(auto_mtu(std::iter::empty()), 1280);
        assert_eq!(auto_mtu([600u16].into_iter()), 576);
    }
}
