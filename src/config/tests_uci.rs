//! Tests of the overlay <-> UCI mapping: round trips, the example file,
//! and every bad-input case.

use std::net::Ipv4Addr;
use std::path::Path;

use super::json::load_str;
use super::tests_json::{FULL, INNER, OUTER};
use super::uci_map::load_bytes;
use super::*;

const FILE: &str = "/etc/config/ipop";

fn uci(text: &str, name: &str) -> Result<Loaded, ConfigError> {
    load_bytes(text.as_bytes(), Path::new(FILE), name)
}

fn json(text: &str) -> OverlayConfig {
    load_str(text, Path::new("x.json")).unwrap().config
}

fn err(text: &str, name: &str) -> String {
    let s = uci(text, name).expect_err("must be rejected").to_string();
    assert!(!s.contains('\n'), "one line: {s}");
    s
}

fn sec(body: &str) -> String {
    format!("config overlay 'o'\n\toption ip4 '10.1.2.3'\n{body}")
}

#[test]
fn json_uci_json_is_lossless() {
    let no_stun =
        "{\"BaseTopologyManager\": {\"ip4\": \"10.1.2.3\"}, \"TincanSender\": {\"stun\": []}}";
    for text in [OUTER, INNER, FULL, no_stun] {
        let first = json(text);
        let section = to_uci_section(&first, "o", true);
        let back = uci(&section, "o").unwrap_or_else(|e| panic!("{e}\n{section}"));
        assert!(back.enabled);
        assert_eq!(back.config, first, "{section}");
        assert_eq!(to_json(&back.config), to_json(&first));
        // And the section text itself is stable.
        assert_eq!(to_uci_section(&back.config, "o", true), section);
    }
    assert!(json(no_stun).stun.is_empty());
}

#[test]
fn export_of_seed_outer() {
    assert_eq!(
        to_uci_section(&json(OUTER), "outer", false),
        "config overlay 'outer'\n\
         \toption enabled '0'\n\
         \toption xmpp_username 'xxxx@xxxx.com'\n\
         \toption xmpp_password 'xxxx'\n\
         \toption xmpp_host 'xxxx.com'\n\
         \toption tincan_logging '2'\n\
         \toption vpn_type 'GroupVPN'\n\
         \toption ip4_mask '16'\n\
         \tlist network_ignore_list 'ipop'\n\
         \tlist network_ignore_list 'lxcbr0'\n\
         \toption controller_logging 'DEBUG'\n\
         \toption switchmode '0'\n\
         \toption ip4 '192.168.1.100'\n"
    );
}

#[test]
fn export_quotes_and_encodes() {
    let c = json(FULL);
    let s = to_uci_section(&c, "full", true);
    assert!(
        s.contains("\toption xmpp_password 's3cr'\\''et \"x\" \\ é'\n"),
        "{s}"
    );
    assert!(
        s.contains("\tlist turn 'u%3As%40r:it'\\''s %2540@turn.example.org:3478'\n"),
        "{s}"
    );
    assert!(
        s.contains(
            "\tlist static_peer '//////////////////////////////////////////8=@203.0.113.7:5800'\n"
        ),
        "{s}"
    );
    assert!(
        s.contains("\toption ip6_prefix 'fd00:0001:0002:0003'\n"),
        "{s}"
    );
    assert!(
        s.contains("\toption stat_report_enabled '0'\n\toption stat_server 'stats.example.org'\n"),
        "{s}"
    );
    assert!(s.contains("\toption ipop_ver_rel '16.08.0'\n"), "{s}");
}

/// The example `/etc/config/ipop` (README): the seed's two overlays, with
/// the TAP names of the seed's tincan commands and the inner TAP in lxcbr0.
fn seed_as_uci() -> (OverlayConfig, OverlayConfig) {
    let mut outer = json(OUTER);
    outer.tap_name = "tunnel-tap".into();
    outer.key_file = default_key_file("tunnel-tap");
    outer.control_socket = default_control_socket("tunnel-tap");
    let mut inner = json(INNER);
    inner.bridge = Some("lxcbr0".into());
    let d = OverlayConfig::default();
    // The two-process ports mean nothing to ipop: left at their defaults.
    for c in [&mut outer, &mut inner] {
        c.contr_port = d.contr_port;
        c.svpn_port = d.svpn_port;
    }
    (outer, inner)
}

#[test]
fn example_file_holds_the_seed() {
    let text = include_str!("../../tests/fixtures/ipop.uci");
    let (outer, inner) = seed_as_uci();
    let want = format!(
        "# /etc/config/ipop: the seed's recursive setup, one section per overlay.\n\n{}\n{}",
        to_uci_section(&outer, "outer", true),
        to_uci_section(&inner, "inner", true)
    );
    assert_eq!(text, want);
    let o = uci(text, "outer").unwrap();
    assert_eq!(o.config, outer);
    assert!(o.ignored.is_empty(), "{:?}", o.ignored);
    let i = uci(text, "inner").unwrap();
    assert_eq!(i.config, inner);
    assert_eq!(i.config.ip4, Ipv4Addr::new(10, 0, 3, 100));
    assert_eq!(i.config.stun, ["192.168.1.100:19302"]);
    assert!(i.config.switchmode);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ipop.uci");
    assert_eq!(
        uci_overlays(&dir).unwrap(),
        [("outer".to_string(), true), ("inner".to_string(), true)]
    );
    assert_eq!(load_uci(&dir, "inner").unwrap().config, inner);
}

#[test]
fn overlay_lookup() {
    let t = "config overlay\n\toption ip4 '10.0.0.1'\n\toption enabled '0'\nconfig overlay 'b'\n\toption ip4 '10.0.0.2'\nconfig other 'c'\n";
    let a = uci(t, "@overlay[0]").unwrap();
    assert_eq!(
        (a.config.ip4, a.enabled),
        (Ipv4Addr::new(10, 0, 0, 1), false)
    );
    assert_eq!(
        uci(t, "@overlay[1]").unwrap().config.ip4,
        Ipv4Addr::new(10, 0, 0, 2)
    );
    assert_eq!(
        err(t, "c"),
        "/etc/config/ipop: no `config overlay` section named \"c\" (known: b)"
    );
    assert_eq!(err("config other 'x'\n", "outer"), "/etc/config/ipop: no `config overlay` section named \"outer\" (the file has no named overlay sections)");
    assert_eq!(
        uci_map::overlays(t.as_bytes(), Path::new(FILE)).unwrap(),
        [("b".to_string(), true)]
    );
}

#[test]
fn uci_errors_name_file_key_and_line() {
    assert_eq!(
        err("config overlay 'o'\n\toption ip4 '10.0.0.1\n", "o"),
        "/etc/config/ipop: Parse error (EOF with unterminated ') at line 2, byte 22"
    );
    assert_eq!(
        err("config overlay 'o'\n\toption enabled '1'\n\n\toption ip4 '300.1.1.1'\n", "o"),
        "/etc/config/ipop:4: ipop.o.ip4: expected a dotted IPv4 address like 192.168.1.100, got \"300.1.1.1\""
    );
    assert_eq!(
        err("config overlay 'o'\n\toption ip4_mask '16'\n", "o"),
        "/etc/config/ipop: ipop.o.ip4 is missing: expected a dotted IPv4 address like 192.168.1.100 (this node's overlay address; its UID is SHA-1 of it)"
    );
    assert_eq!(err(&sec("\toption ip4_mask '33'\n"), "o"), "/etc/config/ipop:3: ipop.o.ip4_mask: expected an integer in 1..=32 (prefix length), got \"33\"");
    assert_eq!(
        err(&sec("\toption xmpp_port 'x'\n"), "o"),
        "/etc/config/ipop:3: ipop.o.xmpp_port: expected an integer in 1..=65535, got \"x\""
    );
    assert_eq!(err(&sec("\toption sec 'maybe'\n"), "o"), "/etc/config/ipop:3: ipop.o.sec: expected a boolean (1/0, yes/no, on/off, true/false, enabled/disabled), got \"maybe\"");
    assert_eq!(
        err(&sec("\tlist ip4 '10.0.0.1'\n"), "o"),
        "/etc/config/ipop:2: ipop.o.ip4: expected one `option ip4` line, got `list ip4` lines"
    );
    assert_eq!(err(&sec("\toption ip6_prefix 'fd50::'\n"), "o"), "/etc/config/ipop:3: ipop.o.ip6_prefix: expected an IPv6 /64 prefix of 4 colon-separated groups of 1-4 hex digits like fd50:0dbc:41f2:4a3c, got \"fd50::\"");
    assert_eq!(
        err(&sec("\toption mtu '100'\n"), "o"),
        "/etc/config/ipop:3: ipop.o.mtu: expected an MTU in 576..=9000 (bytes), got \"100\""
    );
    assert_eq!(
        err(&sec("\toption vpn_type 'SocialVPN'\n"), "o"),
        "/etc/config/ipop:3: ipop.o.vpn_type: SocialVPN is not supported: ipop implements GroupVPN only (one group whose members are addressed by their ip4); set vpn_type to \"GroupVPN\""
    );
    assert_eq!(err(&sec("\tlist stun 'a:1'\n\tlist stun 'b'\n"), "o"), "/etc/config/ipop:4: ipop.o.stun: expected a list of \"host:port\" strings like \"stun.l.google.com:19302\" (IPv6 as \"[addr]:port\"), got list entry \"b\"");
    assert_eq!(
        err(&sec("\tlist static_peer 'AAAA@h:1'\n"), "o"),
        "/etc/config/ipop:3: ipop.o.static_peer: expected <public key base64>@host:port, e.g. '//////////////////////////////////////////8=@203.0.113.7:5800', got list entry \"AAAA@h:1\""
    );
    assert_eq!(err(&sec("\tlist turn 'turn.example.org:3478'\n"), "o"), "/etc/config/ipop:3: ipop.o.turn: expected user:pass@host:port (with % : @ in user and pass written %25 %3A %40), got list entry \"turn.example.org:3478\"");
    assert_eq!(err(&sec("\toption enabled 'sometimes'\n"), "o"), "/etc/config/ipop:3: ipop.o.enabled: expected a boolean (1/0, yes/no, on/off, true/false, enabled/disabled), got \"sometimes\"");
}

#[test]
fn options_as_word_lists_and_unknown_options() {
    let l = uci(&sec("\toption network_ignore_list 'eth0 lxcbr0'\n\toption stun 'a:1'\n\toption colour 'blue'\n\toption svpn_port '5805'\n"), "o").unwrap();
    assert_eq!(l.config.network_ignore_list, ["eth0", "lxcbr0"]);
    assert_eq!(l.config.stun, ["a:1"]);
    let got: Vec<(&str, &str)> = l
        .ignored
        .iter()
        .map(|k| (k.key.as_str(), k.why.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("ipop.o.colour", "unknown option, not part of ipop's UCI mapping"),
            ("ipop.o.svpn_port", "names a loopback port of IPOP's two-process design (tincan + Python controller); ipop is one process and has no such port"),
        ]
    );
}

#[test]
fn uci_booleans() {
    let l = uci(
        &sec("\toption switchmode 'on'\n\toption sec 'no'\n\toption xmpp_insecure 'enabled'\n"),
        "o",
    )
    .unwrap();
    assert!(l.config.switchmode && !l.config.sec && l.config.xmpp_insecure);
    assert!(l.ignored.iter().any(|k| k.key == "ipop.o.sec"));
}

#[test]
fn turn_and_peer_encodings_round_trip() {
    for (user, pass) in [("u", "p"), ("", ""), ("a:b@c%d", "%3A:@@"), ("é", "it's")] {
        let t = TurnServer {
            server: "turn.example.org:3478".into(),
            user: user.into(),
            pass: pass.into(),
        };
        let e = encode_turn(&t);
        assert_eq!(decode_turn(&e), Some(t), "{e}");
    }
    assert_eq!(
        encode_turn(&TurnServer {
            server: "h:1".into(),
            user: "a:b".into(),
            pass: "c@d%".into()
        }),
        "a%3Ab:c%40d%25@h:1"
    );
    for bad in [
        "h:1",
        "u@h:1",
        "u:p@h",
        "u:p@h:1:2",
        "u:%zz@h:1",
        "u:%4@h:1",
    ] {
        assert_eq!(decode_turn(bad), None, "{bad}");
    }
    let p = StaticPeer {
        endpoint: "[2001:db8::1]:5800".into(),
        public_key: [7; 32],
    };
    assert_eq!(decode_peer(&encode_peer(&p)), Some(p));
    assert_eq!(
        decode_peer("BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=@h"),
        None
    );
}

#[test]
fn show_file_prints_like_uci_show() {
    let dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/uci/hand/seed_example.uci");
    let want = std::fs::read_to_string(dir.with_extension("expect")).unwrap();
    assert_eq!(format!("ok\n{}", uci_show_file(&dir).unwrap()), want);
    assert_eq!(
        uci_show_file(Path::new("/nonexistent/ipop"))
            .unwrap_err()
            .to_string(),
        "/nonexistent/ipop: cannot read config: no such file"
    );
}

#[test]
fn section_names() {
    assert!(valid_section_name("outer_1"));
    assert!(!valid_section_name("a-b"));
    assert!(!valid_section_name(""));
}

/// A tiny deterministic generator for the no-panic tests.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Mutates `base` at a few random places with bytes from `alphabet`.
fn mutate(rng: &mut Lcg, base: &[u8], alphabet: &[u8]) -> Vec<u8> {
    let mut v = base.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(v.len() + 1);
        let c = alphabet[rng.below(alphabet.len())];
        match rng.below(3) {
            0 if at < v.len() => {
                v.remove(at);
            }
            1 if at < v.len() => v[at] = c,
            _ => v.insert(at, c),
        }
    }
    v
}

#[test]
fn mutated_inputs_never_panic() {
    let mut rng = Lcg(7);
    let json_alphabet = b"{}[]\",:\\ \n0123456789.-+eEtruefalsn\x01\xc3\xa9u";
    let (mut ok, mut bad) = (0, 0);
    for base in [OUTER, INNER, FULL] {
        for _ in 0..700 {
            let m = mutate(&mut rng, base.as_bytes(), json_alphabet);
            let Ok(text) = String::from_utf8(m) else {
                continue;
            };
            match load_str(&text, Path::new("m.json")) {
                Ok(_) => ok += 1,
                Err(e) => {
                    assert!(!e.to_string().contains('\n'), "{e}");
                    bad += 1;
                }
            }
        }
    }
    assert!(ok > 100 && bad > 500, "ok {ok} bad {bad}");
    let example = include_str!("../../tests/fixtures/ipop.uci");
    let uci_alphabet = b"'\"\\# \t\n;xo0@:%\r\0\xff";
    let (mut ok, mut bad) = (0, 0);
    for _ in 0..2000 {
        let m = mutate(&mut rng, example.as_bytes(), uci_alphabet);
        match load_bytes(&m, Path::new(FILE), "inner") {
            Ok(_) => ok += 1,
            Err(e) => {
                assert!(!e.to_string().contains('\n'), "{e}");
                bad += 1;
            }
        }
    }
    assert!(ok > 100 && bad > 500, "ok {ok} bad {bad}");
}

#[test]
fn revoked_keys_as_uci_lists() {
    let k1 = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
    let k2 = "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=";
    let text = sec(&format!(
        "\tlist revoked_key '{k1}'\n\tlist revoked_key '{k2}'\n\toption operator_key '{k1}'\n"
    ));
    let c = uci(&text, "o").unwrap().config;
    assert_eq!(c.revoked(), vec![[1u8; 32], [2u8; 32]]);
    assert_eq!(c.operator(), Some([1u8; 32]));
    let out = crate::config::to_uci_section(&c, "o", true);
    assert!(
        out.contains(&format!(
            "\tlist revoked_key '{k1}'\n\tlist revoked_key '{k2}'\n"
        )),
        "{out}"
    );
    assert!(err(&sec("\tlist revoked_key 'AAAA'\n"), "o").contains("revoked_key"));
}
