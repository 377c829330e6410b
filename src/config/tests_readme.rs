//! The README's key table is generated from the key table here, so it
//! cannot drift: this test fails when a row is missing or stale.

use super::keys::{Key, KEYS};
use super::value::{format_prefix6, Ty, Value, MTU_MAX, MTU_MIN};
use super::OverlayConfig;

fn ty_text(ty: Ty) -> String {
    match ty {
        Ty::Bool => "bool".into(),
        Ty::Bit => "0 or 1".into(),
        Ty::Int { min, max, unit: "" } => format!("int {min}..={max}"),
        Ty::Int { min, max, unit } => format!("int {min}..={max}, {unit}"),
        Ty::Text => "string".into(),
        Ty::NonEmpty => "non-empty string".into(),
        Ty::Jid => "JID user@domain".into(),
        Ty::Ip4 => "dotted IPv4".into(),
        Ty::Prefix6 => "4 hex groups".into(),
        Ty::IfName => "interface name".into(),
        Ty::IfNameList => "list of interface names".into(),
        Ty::HostPortList => "list of host:port".into(),
        Ty::KeyList => "list of base64 keys".into(),
        Ty::PubKey => "base64 Ed25519 key".into(),
        Ty::Turns => "list of {server, user, pass}".into(),
        Ty::Peers => "list of {endpoint, public_key}".into(),
        Ty::Mtu => format!("int {MTU_MIN}..={MTU_MAX}, bytes"),
        Ty::VpnType => "\"GroupVPN\"".into(),
        Ty::LogName => "level name".into(),
    }
}

fn default_text(k: &Key) -> String {
    match k.uci {
        "ip4" => return "required".into(),
        "key_file" => return "/etc/ipop/TAP.key".into(),
        "control_socket" => return "/var/run/ipop/TAP.sock".into(),
        "mtu" => return "bridge's, else 1500 (switch) or 1280 (L3)".into(),
        _ => {}
    }
    match (k.get)(&OverlayConfig::default()) {
        Value::Unset => "unset".into(),
        Value::Bool(b) if k.ty == Ty::Bit => if b { "1" } else { "0" }.into(),
        Value::Bool(b) => b.to_string(),
        Value::Int(n) => n.to_string(),
        Value::Str(s) if s.is_empty() => "\"\"".into(),
        Value::Str(s) => s,
        Value::List(l) if l.is_empty() => "empty".into(),
        Value::List(l) => l.join(" "),
        Value::Ip4(ip) => ip.to_string(),
        Value::Prefix(p) => format_prefix6(p),
        Value::Turns(_) | Value::Peers(_) => "empty".into(),
    }
}

/// What an honoured key does (the README's "effect" column).
fn meaning(uci: &str) -> &'static str {
    match uci {
        "xmpp_username" => "XMPP account (bare JID) used to find the group's peers",
        "xmpp_password" => "XMPP password (never logged)",
        "xmpp_host" => "XMPP server to connect to; unset = the JID's domain",
        "xmpp_port" => "XMPP client port",
        "tincan_logging" => "log level 0 off, 1 error, 2 info, 3 debug (the more verbose of this and controller_logging applies)",
        "vpn_type" => "only GroupVPN; SocialVPN is refused with an explanation",
        "ip4_mask" => "prefix length of the TAP's IPv4 address (the local subnet)",
        "ip6_mask" => "prefix length of the TAP's IPv6 address",
        "subnet_mask" => "peer IPv4 addresses are masked with it before the forwarding lookup (smaller = router mode)",
        "network_ignore_list" => "interfaces never used for candidates (exact names); the own TAP is always skipped",
        "tap_name" => "TAP device name (`--tap` overrides it)",
        "listen_port" => "UDP port of the overlay's one socket; 0 = any",
        "key_file" => "X25519 private key, created with mode 0600 on first start",
        "group_secret" => "optional pre-shared key of the group (see below)",
        "group_secret_next" => "the group's next secret during a rotation: accepted at once, initiated with once a peer uses it or `ipop secret rotate` runs (see below)",
        "group_secret_grace" => "how long the old secret stays accepted after a rotation",
        "revoked_key" => "X25519 public keys refused as members: no handshake, links closed, never gossiped or relayed for (see below)",
        "operator_key" => "Ed25519 key whose signed membership statements this node accepts (see below)",
        "static_peer" => "bootstrap peers, no XMPP needed",
        "bridge" => "Linux bridge the TAP joins (replaces `brctl addif`)",
        "mtu" => "TAP MTU; below 1280 the TAP gets no IPv6 address",
        "mss_clamp" => "lower the MSS of TCP SYNs crossing the TAP so a full segment fits each link's path MTU",
        "control_socket" => "Unix socket for `ipop status`",
        "xmpp_ca_file" => "CA bundle to verify the XMPP server (default: system roots)",
        "xmpp_pinned_cert" => "PEM certificate the XMPP server must present",
        "xmpp_insecure" => "accept any XMPP server certificate (lab servers only; warns)",
        "board" => "board profile name (see boards/)",
        "controller_logging" => "log level CRITICAL, ERROR, WARNING, INFO, DEBUG or PKTDUMP (trace)",
        "switchmode" => "0 routed L3 TAP with NOARP, 1 switched L2 TAP with ARP",
        "stun" => "STUN servers; every one is queried",
        "turn" => "TURN servers for relayed paths",
        "ip6_prefix" => "upper 64 bits of every overlay IPv6 address",
        "ip4" => "this node's overlay IPv4; UID = SHA-1 of it (also read from `CFx.ip4`, as in 16.08)",
        "num_successors" => "ring successor links",
        "num_chords" => "chord links",
        "num_on_demand" => "cap on traffic-triggered links",
        "num_inbound" => "extra links accepted from others",
        "ttl_link_initial" => "time a new link has to come up",
        "ttl_link_pulse" => "link kept alive this long after each sign of life",
        "ttl_chord" => "chord re-check period",
        "ttl_on_demand" => "on-demand link lifetime without traffic",
        "threshold_on_demand" => "traffic that creates or keeps an on-demand link",
        "timer_interval" => "topology tick",
        "interval_management" => "topology management period",
        "num_pings" => "partition-healing pings per round",
        "interval_ping" => "partition-healing period",
        _ => "",
    }
}

fn status(k: &Key) -> String {
    match (k.ignored, k.uci) {
        (Some(why), _) => format!("ignored: {why}"),
        (None, "sec") => format!(
            "links are always encrypted; `false` is reported as ignored: {}",
            super::keys::SEC_FALSE_WHY
        ),
        (None, u) => meaning(u).to_string(),
    }
}

pub(crate) fn key_table() -> String {
    let mut out = String::from(
        "| JSON key | UCI option | type | default | effect |\n|---|---|---|---|---|\n",
    );
    for k in KEYS {
        let kw = if matches!(
            k.ty,
            Ty::IfNameList | Ty::HostPortList | Ty::KeyList | Ty::Turns | Ty::Peers
        ) {
            "list"
        } else {
            "option"
        };
        out.push_str(&format!(
            "| `{}.{}` | `{kw} {}` | {} | {} | {} |\n",
            k.section,
            k.json,
            k.uci,
            ty_text(k.ty),
            default_text(k).replace('|', "\\|"),
            status(k)
        ));
    }
    out
}

#[test]
fn every_honoured_key_is_explained() {
    for k in KEYS
        .iter()
        .filter(|k| k.ignored.is_none() && k.uci != "sec")
    {
        assert!(!meaning(k.uci).is_empty(), "{} has no README text", k.uci);
    }
}

#[test]
fn readme_lists_every_key() {
    let readme = include_str!("../../README.md");
    let table = key_table();
    assert!(
        readme.contains(&table),
        "README's key table is stale; it should read:\n{table}"
    );
    // The example /etc/config/ipop, as an indented code block.
    let example = include_str!("../../tests/fixtures/ipop.uci");
    let sections = example.split_once("\n\n").map_or(example, |(_, rest)| rest);
    let indented: String = sections
        .lines()
        .map(|l| {
            if l.is_empty() {
                "\n".to_string()
            } else {
                format!("    {l}\n")
            }
        })
        .collect();
    assert!(
        readme.contains(&indented),
        "README lacks the example /etc/config/ipop:\n{indented}"
    );
}
