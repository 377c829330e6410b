//! `ipop check`: the resolved config in a few readable lines.

use super::value::format_prefix6;
use super::OverlayConfig;
use crate::core::identity::Uid;

/// Human-readable summary: identity (UID, IPv4, IPv6), TAP, MTU, mode,
/// XMPP, peers and timers. Ignored keys are listed by the caller from
/// `Loaded::ignored`.
pub fn describe(cfg: &OverlayConfig) -> String {
    describe_with(cfg, None)
}

/// `describe`, knowing the MTU of the bridge the TAP joins (if it exists).
pub fn describe_with(cfg: &OverlayConfig, bridge_mtu: Option<u16>) -> String {
    let uid = Uid::from_ip4(cfg.ip4);
    let (mtu, why) = cfg.tap_mtu(bridge_mtu);
    let mut out = String::new();
    let mut line = |k: &str, v: String| out.push_str(&format!("{k:<16}{v}\n"));
    line("uid", uid.to_string());
    line("ip4", format!("{}/{}", cfg.ip4, cfg.ip4_mask));
    if mtu >= super::IPV6_MIN_MTU {
        line(
            "ip6",
            format!("{}/{}", uid.ip6(cfg.ip6_prefix), cfg.ip6_mask),
        );
    } else {
        line(
            "ip6",
            format!("none (mtu {mtu} < 1280: Linux allows no IPv6 on the TAP)"),
        );
    }
    line("ip6_prefix", format_prefix6(cfg.ip6_prefix));
    line("tap", cfg.tap_name.clone());
    line("mtu", format!("{mtu} ({why})"));
    line(
        "mss_clamp",
        if cfg.mss_clamp {
            "on (TCP SYNs get an MSS that fits each link's path MTU)".into()
        } else {
            "off".into()
        },
    );
    line(
        "mode",
        if cfg.switchmode {
            "switch (L2, ARP on)".to_string()
        } else {
            "routed (L3, NOARP)".to_string()
        },
    );
    line(
        "bridge",
        cfg.bridge.clone().unwrap_or_else(|| "none".into()),
    );
    line(
        "listen_port",
        if cfg.listen_port == 0 {
            "any".into()
        } else {
            cfg.listen_port.to_string()
        },
    );
    line(
        "xmpp",
        match (&cfg.xmpp_username, cfg.xmpp_server()) {
            (Some(u), Some((h, p))) => format!(
                "{u} via {h}:{p}{}",
                if cfg.xmpp_password.is_some() {
                    ""
                } else {
                    " (no password set)"
                }
            ),
            _ => "none".into(),
        },
    );
    line("static_peers", cfg.static_peers.len().to_string());
    line(
        "group_secret",
        if cfg.group_secret.is_some() {
            "set"
        } else {
            "none"
        }
        .into(),
    );
    if cfg.group_secret_next.is_some() {
        line(
            "secret_next",
            format!(
                "set (old one kept {} s after a rotation)",
                cfg.group_secret_grace
            ),
        );
    }
    line(
        "revoked_keys",
        if cfg.revoked_keys.is_empty() {
            "none".into()
        } else {
            cfg.revoked_keys.join(" ")
        },
    );
    line(
        "operator_key",
        cfg.operator_key
            .clone()
            .unwrap_or_else(|| "none (membership statements are refused)".into()),
    );
    line("ignore_list", cfg.network_ignore_list.join(" "));
    line("stun", cfg.stun.join(" "));
    line(
        "turn",
        cfg.turn
            .iter()
            .map(|t| t.server.as_str())
            .collect::<Vec<_>>()
            .join(" "),
    );
    line("key_file", cfg.key_file.display().to_string());
    line("control_socket", cfg.control_socket.display().to_string());
    line(
        "links",
        format!(
            "successors {}, chords {}, on-demand {}, inbound {}",
            cfg.num_successors, cfg.num_chords, cfg.num_on_demand, cfg.num_inbound
        ),
    );
    line(
        "timers",
        format!(
            "tick {} s, management every {} ticks, ping {} every {} ticks",
            cfg.timer_interval, cfg.interval_management, cfg.num_pings, cfg.interval_ping
        ),
    );
    line(
        "ttl",
        format!(
            "link initial {} s, pulse {} s, chord {} s, on-demand {} s (threshold {} B/s)",
            cfg.ttl_link_initial,
            cfg.ttl_link_pulse,
            cfg.ttl_chord,
            cfg.ttl_on_demand,
            cfg.threshold_on_demand
        ),
    );
    line("log_level", cfg.log_level().to_string().to_lowercase());
    out
}

/// `describe` followed by the ignored keys, one per line.
pub fn describe_loaded(loaded: &super::Loaded) -> String {
    let mut out = describe(&loaded.config);
    if !loaded.enabled {
        out.push_str("enabled         no (the UCI section has enabled '0')\n");
    }
    if loaded.ignored.is_empty() {
        out.push_str("ignored keys    none\n");
    } else {
        out.push_str(&format!("ignored keys    {}\n", loaded.ignored.len()));
        for k in &loaded.ignored {
            out.push_str(&format!("  {k}\n"));
        }
    }
    out
}
