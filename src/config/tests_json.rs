//! Tests of the JSON reader and writer against the seed files and every
//! bad-input case the CLI must report.

use std::net::Ipv4Addr;
use std::path::Path;

use super::json::load_str;
use super::keys::KEYS;
use super::*;

pub(crate) const OUTER: &str = include_str!("../../tests/fixtures/seed-outer.json");
pub(crate) const INNER: &str = include_str!("../../tests/fixtures/seed-inner.json");

fn load(text: &str) -> Result<Loaded, ConfigError> {
    load_str(text, Path::new("/etc/ipop/x.json"))
}

fn err(text: &str) -> String {
    let e = load(text).expect_err("config must be rejected");
    let s = e.to_string();
    assert!(!s.contains('\n'), "one line: {s}");
    s
}

fn with(section: &str, body: &str) -> String {
    format!("{{\"BaseTopologyManager\": {{\"ip4\": \"10.1.2.3\"}}, \"{section}\": {{{body}}}}}")
}

fn ignored_keys(l: &Loaded) -> Vec<&str> {
    l.ignored.iter().map(|k| k.key.as_str()).collect()
}

#[test]
fn seed_outer_loads_unchanged() {
    let l = load(OUTER).unwrap();
    let c = &l.config;
    assert_eq!(c.xmpp_username.as_deref(), Some("xxxx@xxxx.com"));
    assert_eq!(c.xmpp_password.as_deref(), Some("xxxx"));
    assert_eq!(c.xmpp_host.as_deref(), Some("xxxx.com"));
    assert_eq!(c.xmpp_port, 5222);
    assert_eq!(c.tincan_logging, 2);
    assert_eq!(c.vpn_type, "GroupVPN");
    assert_eq!(c.ip4_mask, 16);
    assert_eq!(c.network_ignore_list, ["ipop", "lxcbr0"]);
    assert_eq!(c.contr_port, 5801);
    assert_eq!(c.controller_logging, "DEBUG");
    assert_eq!(c.socket_read_wait_time, 15);
    assert!(!c.switchmode);
    assert_eq!(c.svpn_port, 5800);
    assert_eq!(c.stun.len(), 5);
    assert_eq!(c.stun[0], "stun.l.google.com:19302");
    assert_eq!(c.stun[4], "stun4.l.google.com:19302");
    assert_eq!(c.ip4, Ipv4Addr::new(192, 168, 1, 100));
    assert_eq!(c.subnet(), (Ipv4Addr::new(192, 168, 1, 100), 16));
    assert!(c.sec);
    assert_eq!(
        (
            c.num_successors,
            c.num_chords,
            c.num_on_demand,
            c.num_inbound
        ),
        (20, 10, 20, 50)
    );
    assert_eq!(
        (
            c.ttl_link_initial,
            c.ttl_link_pulse,
            c.ttl_chord,
            c.ttl_on_demand
        ),
        (60, 30, 180, 240)
    );
    assert_eq!(
        (
            c.threshold_on_demand,
            c.timer_interval,
            c.interval_management
        ),
        (128, 1, 15)
    );
    assert_eq!(
        (c.num_pings, c.interval_ping, c.interval_central_visualizer),
        (5, 300, 5)
    );
    assert!(c.stat_report_enabled);
    assert_eq!(c.stat_server, "metrics.ipop-project.org");
    assert_eq!((c.stat_server_port, c.stat_report_interval), (8080, 200));
    assert!(!c.central_visualizer_enabled);
    assert_eq!(c.central_visualizer_port, 51234);
    assert_eq!(c.tap_name, "ipop");
    assert_eq!(c.key_file, Path::new("/etc/ipop/ipop.key"));
    assert_eq!(c.tap_mtu(None), (1280, "L3: IPOP 16.01's 1280".to_string()));
    assert!(c.mss_clamp);
    assert!(l.enabled);
    assert_eq!(
        ignored_keys(&l),
        [
            "CFx.contr_port",
            "TincanDispatcher.dependencies",
            "TincanListener.socket_read_wait_time",
            "TincanListener.dependencies",
            "TincanSender.svpn_port",
            "TincanSender.dependencies",
            "BaseTopologyManager.multihop",
            "BaseTopologyManager.use_central_visualizer",
            "BaseTopologyManager.interval_central_visualizer",
            "BaseTopologyManager.dependencies",
            "LinkManager.dependencies",
            "StatReport.enabled",
            "StatReport.stat_server",
            "StatReport.stat_server_port",
            "StatReport.timer_interval",
            "StatReport.dependencies",
            "CentralVisualizer.enabled",
            "CentralVisualizer.name",
            "CentralVisualizer.central_visualizer_addr",
            "CentralVisualizer.central_visualizer_port",
            "CentralVisualizer.dependencies",
        ]
    );
    let why = |k: &str| l.ignored.iter().find(|i| i.key == k).unwrap().why.clone();
    assert!(why("CFx.contr_port").contains("two-process design"));
    assert!(why("TincanSender.svpn_port").contains("two-process design"));
    assert!(why("StatReport.enabled").contains("never reports usage to a third-party server"));
    assert!(why("TincanDispatcher.dependencies").contains("load order"));
    assert!(why("TincanListener.socket_read_wait_time").contains("no functional effect"));
}

#[test]
fn seed_inner_loads_unchanged() {
    let l = load(INNER).unwrap();
    let c = &l.config;
    assert_eq!(c.xmpp_username.as_deref(), Some("yyyy@yyyy"));
    assert_eq!(c.xmpp_server(), Some(("yyyy", 5222)));
    assert_eq!(c.ip4, Ipv4Addr::new(10, 0, 3, 100));
    assert_eq!(c.ip4_mask, 24);
    assert_eq!(c.network_ignore_list, ["eth0", "lxcbr0"]);
    assert!(c.switchmode);
    assert_eq!(c.svpn_port, 5805);
    assert_eq!(c.contr_port, 5806);
    assert_eq!(c.stun, ["192.168.1.100:19302"]);
    assert_eq!(ignored_keys(&l).len(), 21);
}

#[test]
fn every_default() {
    let l = load("{\"BaseTopologyManager\": {\"ip4\": \"10.1.2.3\"}}").unwrap();
    assert!(l.ignored.is_empty());
    let c = l.config;
    let want = OverlayConfig {
        ip4: Ipv4Addr::new(10, 1, 2, 3),
        ..Default::default()
    };
    assert_eq!(c, want);
    // The 16.01 defaults from the reference, spelled out.
    assert_eq!(
        (
            c.xmpp_username.clone(),
            c.xmpp_password.clone(),
            c.xmpp_host.clone()
        ),
        (None, None, None)
    );
    assert_eq!(
        (c.xmpp_port, c.tincan_logging, c.vpn_type.as_str()),
        (5222, 1, "GroupVPN")
    );
    assert_eq!((c.ip4_mask, c.ip6_mask, c.subnet_mask), (24, 64, 32));
    assert!(c.network_ignore_list.is_empty());
    assert_eq!(
        (c.contr_port, c.local_uid.as_str(), c.uid_size),
        (5801, "", 40)
    );
    assert_eq!(
        (c.trim_enabled, c.router_mode, c.ipop_ver_rel.as_str()),
        (false, false, "16.01.0")
    );
    assert_eq!(c.controller_logging, "ERROR");
    assert_eq!((c.socket_read_wait_time, c.buf_size), (15, 65507));
    assert_eq!((c.switchmode, c.svpn_port), (false, 5800));
    assert_eq!(
        c.stun,
        [
            "stun.l.google.com:19302",
            "stun1.l.google.com:19302",
            "stun2.l.google.com:19302",
            "stun3.l.google.com:19302",
            "stun4.l.google.com:19302"
        ]
    );
    assert!(c.turn.is_empty());
    assert_eq!(c.ip6_prefix, [0xfd50, 0x0dbc, 0x41f2, 0x4a3c]);
    assert_eq!(
        (c.localhost.as_str(), c.localhost6.as_str()),
        ("127.0.0.1", "::1")
    );
    assert_eq!((c.sec, c.multihop), (true, false));
    assert_eq!(
        (
            c.num_successors,
            c.num_chords,
            c.num_on_demand,
            c.num_inbound
        ),
        (20, 10, 20, 50)
    );
    assert_eq!(
        (
            c.ttl_link_initial,
            c.ttl_link_pulse,
            c.ttl_chord,
            c.ttl_on_demand
        ),
        (60, 30, 180, 240)
    );
    assert_eq!(
        (
            c.threshold_on_demand,
            c.timer_interval,
            c.interval_management
        ),
        (128, 1, 15)
    );
    assert_eq!(
        (c.use_central_visualizer, c.interval_central_visualizer),
        (false, 5)
    );
    assert_eq!((c.num_pings, c.interval_ping), (5, 300));
    assert_eq!(
        (
            c.stat_report_enabled,
            c.stat_server.as_str(),
            c.stat_server_port,
            c.stat_report_interval
        ),
        (true, "metrics.ipop-project.org", 8080, 200)
    );
    assert_eq!(
        (
            c.central_visualizer_enabled,
            c.central_visualizer_name.as_str(),
            c.central_visualizer_addr.as_str(),
            c.central_visualizer_port
        ),
        (false, "", "", 51234)
    );
    // ipop's own keys.
    assert_eq!((c.tap_name.as_str(), c.listen_port), ("ipop", 0));
    assert_eq!(c.key_file, Path::new("/etc/ipop/ipop.key"));
    assert_eq!(c.control_socket, Path::new("/var/run/ipop/ipop.sock"));
    assert_eq!(
        (
            c.group_secret.clone(),
            c.bridge.clone(),
            c.mtu,
            c.board.clone()
        ),
        (None, None, None, None)
    );
    assert!(c.static_peers.is_empty());
    assert_eq!(
        (
            c.xmpp_ca_file.clone(),
            c.xmpp_pinned_cert.clone(),
            c.xmpp_insecure
        ),
        (None, None, false)
    );
    assert_eq!(c.psk(), [0; 32]);
    assert_eq!(c.log_level(), log::LevelFilter::Error);
    assert_eq!(c.xmpp_server(), None);
}

#[test]
fn tap_name_moves_derived_paths() {
    let l = load(&with("CFx", "\"tap_name\": \"tunnel-tap\"")).unwrap();
    assert_eq!(l.config.key_file, Path::new("/etc/ipop/tunnel-tap.key"));
    assert_eq!(
        l.config.control_socket,
        Path::new("/var/run/ipop/tunnel-tap.sock")
    );
    let l = load(&with(
        "CFx",
        "\"tap_name\": \"t1\", \"key_file\": \"/k\", \"control_socket\": \"/s\"",
    ))
    .unwrap();
    assert_eq!(
        (l.config.key_file.to_str(), l.config.control_socket.to_str()),
        (Some("/k"), Some("/s"))
    );
}

#[test]
fn ip4_in_cfx_as_in_16_08() {
    let l = load("{\"CFx\": {\"ip4\": \"192.168.1.101\"}}").unwrap();
    assert_eq!(l.config.ip4, Ipv4Addr::new(192, 168, 1, 101));
    let l = load(
        "{\"CFx\": {\"ip4\": \"10.0.0.1\"}, \"BaseTopologyManager\": {\"ip4\": \"10.0.0.1\"}}",
    )
    .unwrap();
    assert_eq!(l.config.ip4, Ipv4Addr::new(10, 0, 0, 1));
    assert_eq!(
        err("{\"CFx\": {\"ip4\": \"10.0.0.1\"},\n \"BaseTopologyManager\": {\"ip4\": \"10.0.0.2\"}}"),
        "/etc/ipop/x.json:1: CFx.ip4: 10.0.0.1 differs from BaseTopologyManager.ip4 10.0.0.2; set ip4 in one place (16.01: BaseTopologyManager, 16.08: CFx)"
    );
}

#[test]
fn json_escapes_in_strings() {
    let l = load(&with(
        "CFx",
        r#""xmpp_password": "p\"a\\ss\u00e9\n\t\/x", "xmpp_username": "caf\u00e9@example.org""#,
    ))
    .unwrap();
    assert_eq!(l.config.xmpp_password.as_deref(), Some("p\"a\\ssé\n\t/x"));
    assert_eq!(l.config.xmpp_username.as_deref(), Some("café@example.org"));
    // Escapes in keys work too.
    let l = load(&with("CFx", r#""xmpp_\u0070ort": 5223"#)).unwrap();
    assert_eq!(l.config.xmpp_port, 5223);
}

#[test]
fn all_ipop_keys() {
    let text = FULL;
    let l = load(text).unwrap();
    let c = &l.config;
    assert_eq!(c.tap_name, "tunnel-tap");
    assert_eq!(c.listen_port, 5800);
    assert_eq!(c.key_file, Path::new("/etc/ipop/outer.key"));
    assert_eq!(c.group_secret.as_deref(), Some("correct horse"));
    assert_eq!(c.static_peers.len(), 2);
    assert_eq!(c.static_peers[0].endpoint, "203.0.113.7:5800");
    assert_eq!(c.static_peers[0].public_key, [0xff; 32]);
    assert_eq!(c.static_peers[1].endpoint, "[2001:db8::1]:5800");
    assert_eq!(c.static_peers[1].public_key, [0; 32]);
    assert_eq!(c.bridge.as_deref(), Some("lxcbr0"));
    assert_eq!(c.mtu, Some(1400));
    assert!(!c.mss_clamp);
    assert_eq!(c.control_socket, Path::new("/run/ipop-outer.sock"));
    assert_eq!(
        c.xmpp_ca_file.as_deref(),
        Some(Path::new("/etc/ssl/ca.pem"))
    );
    assert_eq!(
        c.xmpp_pinned_cert.as_deref(),
        Some(Path::new("/etc/ipop/server.pem"))
    );
    assert!(c.xmpp_insecure);
    assert_eq!(c.board.as_deref(), Some("rpi4"));
    assert_eq!(
        c.turn,
        [TurnServer {
            server: "turn.example.org:3478".into(),
            user: "u:s@r".into(),
            pass: "it's %40".into()
        }]
    );
    assert_eq!(c.ip6_prefix, [0xfd00, 0x1, 0x2, 0x3]);
    // sec false cannot be honoured: reported.
    assert!(l
        .ignored
        .iter()
        .any(|k| k.key == "BaseTopologyManager.sec" && k.why.contains("always encrypts")));
    // psk = BLAKE2s-256("ipop group_secret v1" 0x00 "correct horse"), checked with Python's hashlib.
    assert_eq!(
        crate::config::base64::encode(&c.psk()),
        crate::config::base64::encode(&[
            0x46, 0xa4, 0xcf, 0x28, 0x1a, 0x14, 0xc1, 0xd6, 0x0e, 0xd1, 0xc1, 0x8e, 0xdd, 0x57,
            0xbe, 0xa9, 0xbe, 0xe7, 0x75, 0xfd, 0xec, 0xc3, 0x20, 0xf3, 0x39, 0xfb, 0x6f, 0x32,
            0x12, 0xd7, 0x6a, 0x12
        ])
    );
    assert_eq!(c.log_level(), log::LevelFilter::Trace);
}

/// A config that sets every supported key to a non-default value.
pub(crate) const FULL: &str = include_str!("../../tests/fixtures/every-key.json");

#[test]
fn full_config_sets_every_key() {
    let c = load(FULL).unwrap().config;
    let defaults = super::json::writer_defaults(&c);
    for k in KEYS {
        if k.uci != "vpn_type" {
            assert_ne!(
                (k.get)(&c),
                (k.get)(&defaults),
                "FULL leaves {} at its default",
                k.uci
            );
        }
    }
}

#[test]
fn to_json_round_trips() {
    for text in [
        OUTER,
        INNER,
        FULL,
        "{\"BaseTopologyManager\": {\"ip4\": \"10.1.2.3\"}}",
    ] {
        let first = load(text).unwrap().config;
        let written = to_json(&first);
        let again = load(&written).unwrap_or_else(|e| panic!("{e}\n{written}"));
        assert_eq!(again.config, first);
        assert_eq!(to_json(&again.config), written);
    }
}

#[test]
fn to_json_of_seed_outer() {
    let c = load(OUTER).unwrap().config;
    assert_eq!(
        to_json(&c),
        r#"{
  "CFx": {
    "xmpp_username": "xxxx@xxxx.com",
    "xmpp_password": "xxxx",
    "xmpp_host": "xxxx.com",
    "tincan_logging": 2,
    "vpn_type": "GroupVPN",
    "ip4_mask": 16,
    "network_ignore_list": ["ipop", "lxcbr0"]
  },
  "Logger": {
    "controller_logging": "DEBUG"
  },
  "TincanSender": {
    "switchmode": 0
  },
  "BaseTopologyManager": {
    "ip4": "192.168.1.100"
  }
}
"#
    );
}

#[test]
fn unknown_sections_and_keys_are_reported() {
    let l = load(
        "{\"BaseTopologyManager\": {\"ip4\": \"10.1.2.3\", \"colour\": 1}, \"Watchdog\": {\"timer_interval\": 10}, \"Foo\": 3, \"CFx\": {\"icc\": false, \"xmpp_port\": 1, \"xmpp_port\": 2}}",
    )
    .unwrap();
    assert_eq!(l.config.xmpp_port, 2);
    let got: Vec<(String, String)> = l
        .ignored
        .iter()
        .map(|k| (k.key.clone(), k.why.clone()))
        .collect();
    assert_eq!(
        got,
        [
            ("BaseTopologyManager.colour".to_string(), "unknown key, not part of the IPOP 16.01 format".to_string()),
            ("Watchdog".into(), "SocialVPN module; ipop implements GroupVPN only".into()),
            ("Foo".into(), "unknown section, not part of the IPOP 16.01 GroupVPN format".into()),
            ("CFx.icc".into(), "IPOP 15.x controller key, unused since 16.01; ipop's overlay forwarding needs no settings".into()),
            ("CFx.xmpp_port".into(), "duplicate key: the last value wins".into()),
        ]
    );
}

#[test]
fn null_means_default() {
    let l = load(&with("CFx", "\"xmpp_port\": null, \"xmpp_password\": null")).unwrap();
    assert_eq!(l.config.xmpp_port, 5222);
    assert_eq!(l.config.xmpp_password, None);
}

#[test]
fn missing_file() {
    let e = load_json(Path::new("/nonexistent/ipop-test.json")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "/nonexistent/ipop-test.json: cannot read config: no such file"
    );
}

#[test]
fn directories_and_huge_files_are_refused() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    assert_eq!(
        load_json(&dir).unwrap_err().to_string(),
        format!("{}: cannot read config: is a directory", dir.display())
    );
    let big = std::env::temp_dir().join(format!("ipop-config-test-{}.json", std::process::id()));
    std::fs::write(&big, vec![b' '; (MAX_CONFIG_BYTES + 1) as usize]).unwrap();
    let e = load_uci(&big, "o").unwrap_err().to_string();
    std::fs::remove_file(&big).unwrap();
    assert_eq!(
        e,
        format!(
            "{}: cannot read config: larger than 1048576 bytes",
            big.display()
        )
    );
}

#[test]
fn seed_files_from_disk() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let outer = load_json(&dir.join("seed-outer.json")).unwrap();
    assert_eq!(outer.config.ip4, Ipv4Addr::new(192, 168, 1, 100));
    let inner = load_json(&dir.join("seed-inner.json")).unwrap();
    assert_eq!(inner.config.ip4, Ipv4Addr::new(10, 0, 3, 100));
}

#[test]
fn malformed_json_says_where() {
    assert_eq!(
        err("{\n  \"CFx\": {\n    \"a\": 1\n    \"b\": 2\n  }\n}"),
        "/etc/ipop/x.json:4:5: malformed JSON: expected ',' or '}' after a value, found '\"'"
    );
    assert_eq!(
        err("{\"CFx\": {\"a\": 1,}}"),
        "/etc/ipop/x.json:1:17: malformed JSON: trailing comma before '}'"
    );
    assert_eq!(
        err("{\"CFx\": {\"a\": tru}}"),
        "/etc/ipop/x.json:1:15: malformed JSON: expected a value, found 't'"
    );
    assert_eq!(
        err("{\"CFx\": {\"a\": \"x"),
        "/etc/ipop/x.json:1:15: malformed JSON: unterminated string"
    );
    assert_eq!(err("{\"CFx\": {\"a\": \"x\ny\"}}"), "/etc/ipop/x.json:1:17: malformed JSON: raw control character or line break inside a string (write it as an escape such as \\n)");
    assert_eq!(err("{\"CFx\": {}} x"), "/etc/ipop/x.json:1:13: malformed JSON: unexpected 'x' after the end of the top-level object");
    assert_eq!(
        err(""),
        "/etc/ipop/x.json:1:1: malformed JSON: expected a value, found the end of the file"
    );
    assert_eq!(
        err("{\"a\": 01}"),
        "/etc/ipop/x.json:1:7: malformed JSON: numbers must not have leading zeros"
    );
    assert_eq!(
        err("{\"a\": \"\\q\"}"),
        "/etc/ipop/x.json:1:9: malformed JSON: invalid escape in a string"
    );
    assert_eq!(err("[1, 2]"), "/etc/ipop/x.json:1:1: malformed JSON: expected an object {\"CFx\": {...}, ...} at the top level");
    assert_eq!(
        err("{\"CFx\" 1}"),
        "/etc/ipop/x.json:1:8: malformed JSON: expected ':' after the key \"CFx\", found '1'"
    );
    assert_eq!(
        err(&format!("{{\"a\": {}1{}}}", "[".repeat(40), "]".repeat(40))),
        "/etc/ipop/x.json:1:39: malformed JSON: nested deeper than 32 levels"
    );
}

#[test]
fn wrong_types_name_the_key() {
    assert_eq!(
        err(&with("CFx", "\"xmpp_port\": \"5222\"")),
        "/etc/ipop/x.json:1: CFx.xmpp_port: expected an integer in 1..=65535, got \"5222\""
    );
    assert_eq!(
        err(&with("CFx", "\"xmpp_port\": 70000")),
        "/etc/ipop/x.json:1: CFx.xmpp_port: expected an integer in 1..=65535, got 70000"
    );
    assert_eq!(
        err(&with("CFx", "\"xmpp_port\": 52.5")),
        "/etc/ipop/x.json:1: CFx.xmpp_port: expected an integer in 1..=65535, got 52.5"
    );
    assert_eq!(
        err(&with("CFx", "\"xmpp_port\": -1")),
        "/etc/ipop/x.json:1: CFx.xmpp_port: expected an integer in 1..=65535, got -1"
    );
    assert_eq!(err(&with("BaseTopologyManager", "\"sec\": \"yes\"")), "/etc/ipop/x.json:1: BaseTopologyManager.sec: expected a boolean (true or false), got \"yes\"");
    assert_eq!(err(&with("CFx", "\"network_ignore_list\": \"eth0\"")), "/etc/ipop/x.json:1: CFx.network_ignore_list: expected a list of interface names (1-15 bytes, no '/', ':' or whitespace), got \"eth0\"");
    assert_eq!(err(&with("CFx", "\"network_ignore_list\": [\"eth0\", 5]")), "/etc/ipop/x.json:1: CFx.network_ignore_list[1]: expected a list of interface names (1-15 bytes, no '/', ':' or whitespace), got 5");
    assert_eq!(err(&with("CFx", "\"network_ignore_list\": [\"a very long interface\"]")), "/etc/ipop/x.json:1: CFx.network_ignore_list[0]: expected an interface name of 1-15 bytes without '/', ':' or whitespace, got \"a very long interface\"");
    assert_eq!(
        err(&with("TincanSender", "\"switchmode\": 2")),
        "/etc/ipop/x.json:1: TincanSender.switchmode: expected 0 or 1, got 2"
    );
    assert_eq!(err(&with("Logger", "\"controller_logging\": \"debug\"")), "/etc/ipop/x.json:1: Logger.controller_logging: expected one of CRITICAL, ERROR, WARNING, INFO, DEBUG, PKTDUMP, got \"debug\"");
    assert_eq!(
        err("{\"CFx\": []}"),
        "/etc/ipop/x.json:1: CFx: expected an object of keys, got a list"
    );
    assert_eq!(
        err(&with("CFx", "\"tincan_logging\": 4")),
        "/etc/ipop/x.json:1: CFx.tincan_logging: expected an integer in 0..=3, got 4"
    );
    assert_eq!(err(&with("BaseTopologyManager", "\"ttl_chord\": 0")), "/etc/ipop/x.json:1: BaseTopologyManager.ttl_chord: expected an integer in 1..=86400 (seconds), got 0");
    assert_eq!(err(&with("TincanSender", "\"stun\": [\"stun.example.org\"]")), "/etc/ipop/x.json:1: TincanSender.stun[0]: expected \"host:port\" like \"stun.l.google.com:19302\" (IPv6 as \"[addr]:port\"), got \"stun.example.org\"");
    assert_eq!(err(&with("CFx", "\"xmpp_username\": \"alice\"")), "/etc/ipop/x.json:1: CFx.xmpp_username: expected a bare JID like alice@example.org, got \"alice\"");
    assert_eq!(
        err(&with("CFx", "\"xmpp_password\": \"\"")),
        "/etc/ipop/x.json:1: CFx.xmpp_password: expected a non-empty string, got \"\""
    );
    let long = "x".repeat(1100);
    assert!(err(&with("CFx", &format!("\"xmpp_password\": \"{long}\""))).starts_with("/etc/ipop/x.json:1: CFx.xmpp_password: expected a non-empty string of at most 1024 bytes"));
}

#[test]
fn every_key_rejects_an_object() {
    for k in KEYS {
        let text = format!(
            "{{\"BaseTopologyManager\": {{\"ip4\": \"10.1.2.3\"}}, \"{}\": {{\"{}\": {{}}}}}}",
            k.section, k.json
        );
        let e = err(&text);
        let want = format!("/etc/ipop/x.json:1: {}.{}: expected ", k.section, k.json);
        assert!(e.starts_with(&want), "{e}");
        assert!(e.ends_with(", got an object"), "{e}");
    }
}

#[test]
fn bad_addresses() {
    assert_eq!(
        err("{\"BaseTopologyManager\": {\n\"ip4\": \"300.1.1.1\"}}"),
        "/etc/ipop/x.json:2: BaseTopologyManager.ip4: expected a dotted IPv4 address like 192.168.1.100, got \"300.1.1.1\""
    );
    assert_eq!(
        err("{\"CFx\": {\"ip4_mask\": 16}}"),
        "/etc/ipop/x.json: BaseTopologyManager.ip4 is missing: expected a dotted IPv4 address like 192.168.1.100 (this node's overlay address; its UID is SHA-1 of it)"
    );
    assert_eq!(
        err(&with("CFx", "\"ip4_mask\": 33")),
        "/etc/ipop/x.json:1: CFx.ip4_mask: expected an integer in 1..=32 (prefix length), got 33"
    );
    assert_eq!(
        err(&with("CFx", "\"ip4_mask\": 0")),
        "/etc/ipop/x.json:1: CFx.ip4_mask: expected an integer in 1..=32 (prefix length), got 0"
    );
    assert_eq!(err(&with("CFx", "\"subnet_mask\": 40")), "/etc/ipop/x.json:1: CFx.subnet_mask: expected an integer in 1..=32 (prefix length), got 40");
    assert_eq!(
        err(&with("CFx", "\"ip6_mask\": 129")),
        "/etc/ipop/x.json:1: CFx.ip6_mask: expected an integer in 1..=128 (prefix length), got 129"
    );
    assert_eq!(
        err(&with("TincanSender", "\"ip6_prefix\": \"fd50:dbc::\"")),
        "/etc/ipop/x.json:1: TincanSender.ip6_prefix: expected an IPv6 /64 prefix of 4 colon-separated groups of 1-4 hex digits like fd50:0dbc:41f2:4a3c, got \"fd50:dbc::\""
    );
}

#[test]
fn bad_keys_and_peers() {
    let peer = |ep: &str, key: &str| {
        with(
            "CFx",
            &format!("\"static_peers\": [{{\"endpoint\": \"{ep}\", \"public_key\": \"{key}\"}}]"),
        )
    };
    let good = "//////////////////////////////////////////8=";
    assert_eq!(
        err(&peer("203.0.113.7:5800", "AAAA")),
        "/etc/ipop/x.json:1: CFx.static_peers[0].public_key: expected a base64 X25519 public key (32 bytes, 44 characters ending in '='), got \"AAAA\""
    );
    assert_eq!(
        err(&peer("203.0.113.7", good)),
        "/etc/ipop/x.json:1: CFx.static_peers[0].endpoint: expected an endpoint \"host:port\" like \"203.0.113.7:5800\" (IPv6 as \"[addr]:port\"), got \"203.0.113.7\""
    );
    assert_eq!(
        err(&with("CFx", "\"static_peers\": [{\"endpoint\": \"h:1\"}]")),
        "/etc/ipop/x.json: CFx.static_peers[0].public_key is missing: expected a list of {\"endpoint\": \"host:port\", \"public_key\": \"<base64 of 32 bytes>\"} objects"
    );
    assert_eq!(
        err(&with("CFx", &format!("\"static_peers\": [{{\"endpoint\": \"h:1\", \"public_key\": \"{good}\", \"name\": \"x\"}}]"))),
        "/etc/ipop/x.json:1: CFx.static_peers[0].name: expected only the keys endpoint, public_key, got \"x\""
    );
    assert_eq!(
        err(&with("TincanSender", "\"turn\": [{\"server\": \"turn\", \"user\": \"u\", \"pass\": \"p\"}]")),
        "/etc/ipop/x.json:1: TincanSender.turn[0].server: expected \"host:port\" like \"turn.example.org:3478\", got \"turn\""
    );
}

#[test]
fn mtu_range() {
    assert_eq!(
        err(&with("CFx", "\"mtu\": 575")),
        "/etc/ipop/x.json:1: CFx.mtu: expected an MTU in 576..=9000 (bytes), got 575"
    );
    assert_eq!(
        err(&with("CFx", "\"mtu\": 9001")),
        "/etc/ipop/x.json:1: CFx.mtu: expected an MTU in 576..=9000 (bytes), got 9001"
    );
    let c = load(&with("CFx", "\"mtu\": 1200")).unwrap().config;
    assert_eq!(c.tap_mtu(Some(1500)).0, 1200);
    assert!(describe(&c).contains("ip6             none (mtu 1200 < 1280"));
    let c = load(&with("CFx", "\"mtu\": 1280")).unwrap().config;
    assert_eq!(c.tap_mtu(None).0, 1280);
}

#[test]
fn mtu_defaults_never_shrink_a_lan() {
    let l3 = load(&with("CFx", "\"bridge\": \"br-lan\"")).unwrap().config;
    assert_eq!(l3.tap_mtu(Some(1500)).0, 1500);
    assert_eq!(
        l3.tap_mtu(None),
        (1280, "L3: IPOP 16.01's 1280".to_string())
    );
    let sw = load(&with("TincanSender", "\"switchmode\": 1"))
        .unwrap()
        .config;
    assert_eq!(
        sw.tap_mtu(None),
        (1500, "switch mode: Ethernet's 1500".to_string())
    );
    let br = load(&with("CFx", "\"bridge\": \"lxcbr0\"")).unwrap().config;
    let br = OverlayConfig {
        switchmode: true,
        ..br
    };
    assert_eq!(
        br.tap_mtu(Some(9000)),
        (
            9000,
            "the MTU of bridge lxcbr0, so joining it never lowers it".to_string()
        )
    );
    assert_eq!(br.tap_mtu(None).0, 1500);
    // Never below IPv6's minimum by default.
    assert_eq!(br.tap_mtu(Some(1000)).0, 1280);
    let off = load(&with("CFx", "\"mss_clamp\": false")).unwrap().config;
    assert!(!off.mss_clamp);
}

#[test]
fn vpn_type() {
    assert_eq!(
        err(&with("CFx", "\"vpn_type\": \"SocialVPN\"")),
        "/etc/ipop/x.json:1: CFx.vpn_type: SocialVPN is not supported: ipop implements GroupVPN only (one group whose members are addressed by their ip4); set vpn_type to \"GroupVPN\""
    );
    assert_eq!(
        err(&with("CFx", "\"vpn_type\": \"MeshVPN\"")),
        "/etc/ipop/x.json:1: CFx.vpn_type: expected \"GroupVPN\", got \"MeshVPN\""
    );
}

#[test]
fn bools_accept_python_style_ints() {
    let c = load(&with("TincanSender", "\"switchmode\": true"))
        .unwrap()
        .config;
    assert!(c.switchmode);
    let c = load(&with(
        "BaseTopologyManager",
        "\"ip4\": \"10.1.2.3\", \"sec\": 1, \"multihop\": 0",
    ))
    .unwrap()
    .config;
    assert!(c.sec && !c.multihop);
}

#[test]
fn describe_seed_outer() {
    let l = load(OUTER).unwrap();
    let d = describe(&l.config);
    for line in [
        "uid             25c90651c297fef3cf787a191b93cce4c475c6b7\n",
        "ip4             192.168.1.100/16\n",
        "ip6             fd50:dbc:41f2:4a3c:25c9:651:c297:fef3/64\n",
        "tap             ipop\n",
        "mtu             1280 (L3: IPOP 16.01's 1280)\n",
        "mode            routed (L3, NOARP)\n",
        "xmpp            xxxx@xxxx.com via xxxx.com:5222\n",
        "log_level       debug\n",
    ] {
        assert!(d.contains(line), "{line:?} not in\n{d}");
    }
    let full = describe_loaded(&l);
    assert!(full.contains("ignored keys    21\n  CFx.contr_port: names a loopback port"));
    let inner = describe(&load(INNER).unwrap().config);
    assert!(inner.contains("uid             f46d6281ae45f92ed5dd0b85aae702ddfb38ec23\n"));
    assert!(inner.contains("ip6             fd50:dbc:41f2:4a3c:f46d:6281:ae45:f92e/64\n"));
    assert!(inner.contains("mode            switch (L2, ARP on)\n"));
    // The seed's inner overlay (switch mode; the user adds it to lxcbr0).
    assert!(
        inner.contains("mtu             1500 (switch mode: Ethernet's 1500)\n"),
        "{inner}"
    );
}

#[test]
fn odd_key_names_stay_on_one_line() {
    let l = load("{\"BaseTopologyManager\": {\"ip4\": \"10.1.2.3\", \"a\\nb\": 1}, \"x\\ny\": {}}")
        .unwrap();
    let keys: Vec<String> = l.ignored.iter().map(|k| k.to_string()).collect();
    assert_eq!(
        keys[0],
        "BaseTopologyManager.\"a\\nb\": unknown key, not part of the IPOP 16.01 format"
    );
    assert_eq!(
        keys[1],
        "\"x\\ny\": unknown section, not part of the IPOP 16.01 GroupVPN format"
    );
    let e = err(&with("CFx", "\"static_peers\": [{\"endpoint\": \"h:1\", \"public_key\": \"//////////////////////////////////////////8=\", \"a\\u000ab\": 1}]"));
    assert_eq!(e, "/etc/ipop/x.json:1: CFx.static_peers[0].\"a\\nb\": expected only the keys endpoint, public_key, got 1");
}

#[test]
fn ipop_16_08_xmpp_client_section() {
    let l = load(
        "{\"CFx\": {\"ip4\": \"10.0.0.9\", \"vpn_type\": \"GroupVPN\"}, \"XmppClient\": {\"enabled\": true, \"xmpp_username\": \"bob@example.org\", \"xmpp_password\": \"pw\", \"xmpp_host\": \"10.0.0.1\", \"xmpp_port\": 5223, \"xmpp_authentication_method\": \"password\", \"xmpp_accept_untrusted_server\": true, \"truststore\": \"/etc/ssl/certs/ca-certificates.crt\", \"timer_interval\": 15}}",
    )
    .unwrap();
    let c = &l.config;
    assert_eq!(c.ip4, Ipv4Addr::new(10, 0, 0, 9));
    assert_eq!(c.xmpp_username.as_deref(), Some("bob@example.org"));
    assert_eq!(c.xmpp_password.as_deref(), Some("pw"));
    assert_eq!(c.xmpp_server(), Some(("10.0.0.1", 5223)));
    assert!(c.xmpp_insecure);
    assert_eq!(
        c.xmpp_ca_file.as_deref(),
        Some(Path::new("/etc/ssl/certs/ca-certificates.crt"))
    );
    assert_eq!(
        ignored_keys(&l),
        [
            "XmppClient.enabled",
            "XmppClient.xmpp_authentication_method",
            "XmppClient.timer_interval"
        ]
    );
    assert_eq!(
        err("{\"CFx\": {\"ip4\": \"10.0.0.9\"}, \"XmppClient\": {\"xmpp_port\": \"x\"}}"),
        "/etc/ipop/x.json:1: XmppClient.xmpp_port: expected an integer in 1..=65535, got \"x\""
    );
}

#[test]
fn membership_keys_are_checked() {
    let k1 = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
    let l = load(&with(
        "CFx",
        &format!("\"revoked_keys\": [\"{k1}\"], \"operator_key\": \"{k1}\", \"group_secret_next\": \"n\", \"group_secret_grace\": 60"),
    ))
    .unwrap();
    assert_eq!(l.config.revoked(), vec![[1u8; 32]]);
    assert_eq!(l.config.operator(), Some([1u8; 32]));
    assert_eq!(l.config.next_psk(), Some(super::psk_of("n")));
    assert_eq!(l.config.group_secret_grace, 60);
    assert_eq!(
        err(&with("CFx", "\"revoked_keys\": [\"AAAA\"]")),
        "/etc/ipop/x.json:1: CFx.revoked_keys[0]: expected a base64 X25519 public key (32 bytes, 44 characters ending in '='), got \"AAAA\""
    );
    assert!(err(&with("CFx", "\"operator_key\": \"nope\""))
        .contains("CFx.operator_key: expected a base64 Ed25519 public key"));
    assert!(err(&with("CFx", "\"group_secret_grace\": 0"))
        .contains("CFx.group_secret_grace: expected an integer in 1..=86400 (seconds)"));
    assert_eq!(
        super::statement_file(Path::new("/etc/ipop/ipop.key")),
        Path::new("/etc/ipop/ipop.members")
    );
}
