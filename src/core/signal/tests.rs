use super::*;

const UID_100: &str = "25c90651c297fef3cf787a191b93cce4c475c6b7";
const UID_101: &str = "5e4fe169007b144d346f9a278264d17896ccc69f";
const SUBNET: (Ipv4Addr, u8) = (Ipv4Addr::new(192, 168, 1, 100), 24);

fn uid(s: &str) -> Uid {
    Uid::from_hex(s).unwrap()
}

fn key() -> [u8; 32] {
    core::array::from_fn(|i| i as u8 + 1)
}

fn announce() -> Announce {
    let mut candidates = heapless::Vec::new();
    let host = Candidate::new(
        CandidateKind::Host,
        "10.0.3.15:5800".parse().unwrap(),
        65535,
    );
    let srflx = Candidate::new(
        CandidateKind::ServerReflexive,
        "[2001:db8::1]:5800".parse().unwrap(),
        65535,
    );
    candidates.push(host).unwrap();
    candidates.push(srflx).unwrap();
    Announce {
        uid: uid(UID_100),
        ip4: Ipv4Addr::new(192, 168, 1, 100),
        public_key: key(),
        candidates,
    }
}

/// The vectors of docs/PROTOCOL.md "Signalling", in document order.
fn vectors() -> [Signal; 5] {
    [
        Signal::Announce(announce()),
        Signal::LinkRequest(LinkRequest {
            uid: uid(UID_100),
            to: uid(UID_101),
            role: ROLE_CHORD,
        }),
        Signal::LinkAccept(LinkAccept {
            uid: uid(UID_101),
            to: uid(UID_100),
            role: ROLE_CHORD,
        }),
        Signal::Ping { uid: uid(UID_100) },
        Signal::PingResp { uid: uid(UID_101) },
    ]
}

fn encode(s: &Signal) -> String {
    let mut buf = [0u8; MAX_SIGNAL_LEN];
    let n = s.encode(&mut buf).unwrap();
    String::from_utf8(buf[..n].to_vec()).unwrap()
}

/// The JSON lines of the Signalling section's examples.
fn doc_examples() -> Vec<&'static str> {
    let doc = include_str!("../../../docs/PROTOCOL.md");
    let start = doc.find("## Signalling").unwrap();
    let section = &doc[start..];
    let end = section[3..].find("\n## ").map_or(section.len(), |e| e + 3);
    section[..end]
        .lines()
        .filter(|l| l.starts_with("{\"t\":"))
        .collect()
}

#[test]
fn protocol_md_vectors() {
    let docs = doc_examples();
    let want = vectors();
    assert_eq!(docs.len(), want.len());
    for (doc, sig) in docs.iter().zip(want.iter()) {
        assert_eq!(&encode(sig), doc);
        assert_eq!(&decode(doc.as_bytes()).unwrap(), sig);
    }
}

#[test]
fn exact_announce_bytes() {
    assert_eq!(
        encode(&vectors()[0]),
        concat!(
            r#"{"t":"announce","uid":"25c90651c297fef3cf787a191b93cce4c475c6b7","ip4":"192.168.1.100","#,
            r#""pk":"AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=","cands":["#,
            r#"{"k":"host","a":"10.0.3.15:5800","p":2130706431},"#,
            r#"{"k":"srflx","a":"[2001:db8::1]:5800","p":1694498815}]}"#
        )
    );
}

#[test]
fn field_order_free_and_unknown_fields_ignored() {
    let s = format!(r#"{{"x":[1,{{"y":null}}],"uid":"{UID_100}","t":"ping","z":"w"}}"#);
    assert_eq!(decode(s.as_bytes()), Ok(Signal::Ping { uid: uid(UID_100) }));
}

#[test]
fn max_sized_announce_fits() {
    let mut a = announce();
    a.candidates.clear();
    let addr: SocketAddr = "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff%4294967295]:65535"
        .parse()
        .unwrap();
    for _ in 0..MAX_CANDIDATES {
        a.candidates
            .push(Candidate {
                kind: CandidateKind::ServerReflexive,
                addr,
                priority: u32::MAX,
            })
            .unwrap();
    }
    let sig = Signal::Announce(a);
    let text = encode(&sig);
    assert!(text.len() < 1800, "{}", text.len());
    assert_eq!(decode(text.as_bytes()), Ok(sig.clone()));
    // A buffer one byte short is refused, not overrun.
    let mut small = vec![0u8; text.len() - 1];
    assert_eq!(sig.encode(&mut small), None);
}

#[test]
fn decode_rejects() {
    let ann = encode(&vectors()[0]);
    let cases: Vec<(String, SignalReject)> = vec![
        ("not json".into(), SignalReject::Malformed),
        (r#"{"t":"ping"}"#.into(), SignalReject::Malformed),
        (
            r#"{"t":"ping","uid":"25c9"}"#.into(),
            SignalReject::Malformed,
        ),
        (
            format!(r#"{{"t":"hello","uid":"{UID_100}"}}"#),
            SignalReject::UnknownType,
        ),
        (
            format!(r#"{{"t":"link_req","uid":"{UID_100}","role":1}}"#),
            SignalReject::Malformed,
        ),
        (
            format!(r#"{{"t":"link_acc","uid":"{UID_100}","to":"{UID_101}","role":300}}"#),
            SignalReject::Malformed,
        ),
        (ann.replace("AQID", "AQI"), SignalReject::BadPublicKey),
        (
            ann.replace("AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=", "AQID"),
            SignalReject::BadPublicKey,
        ),
        (
            ann.replace("192.168.1.100", "192.168.1"),
            SignalReject::Malformed,
        ),
        (
            ann.replace("\"host\"", "\"lan\""),
            SignalReject::BadCandidate,
        ),
        (
            ann.replace("10.0.3.15:5800", "10.0.3.15"),
            SignalReject::BadCandidate,
        ),
        (
            ann.replace(
                r#","cands":[{"k":"host","a":"10.0.3.15:5800","p":2130706431},"#,
                ",\"x\":[",
            ),
            SignalReject::Malformed,
        ),
        (
            ann.replace("\"t\":\"announce\"", "\"t\":\"ann\\u006funce\""),
            SignalReject::UnknownType,
        ),
    ];
    for (text, want) in cases {
        assert_eq!(decode(text.as_bytes()).err(), Some(want), "{text}");
    }
}

#[test]
fn too_many_candidates_is_its_own_reason() {
    let one = r#"{"k":"host","a":"10.0.3.15:5800","p":1}"#;
    let list = |n: usize| vec![one; n].join(",");
    let doc = |n: usize| {
        format!(
            r#"{{"t":"announce","uid":"{UID_100}","ip4":"192.168.1.100","pk":"AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=","cands":[{}]}}"#,
            list(n)
        )
    };
    match decode(doc(MAX_CANDIDATES).as_bytes()) {
        Ok(Signal::Announce(a)) => assert_eq!(a.candidates.len(), MAX_CANDIDATES),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        decode(doc(MAX_CANDIDATES + 1).as_bytes()),
        Err(SignalReject::TooManyCandidates)
    );
}

#[test]
fn check_announce_reasons() {
    let good = announce();
    assert_eq!(check_announce(&good, SUBNET), Ok(()));

    let mut a = good.clone();
    a.uid = uid(UID_101);
    assert_eq!(check_announce(&a, SUBNET), Err(SignalReject::UidMismatch));

    let other_net = (Ipv4Addr::new(10, 254, 0, 1), 16);
    assert_eq!(
        check_announce(&good, other_net),
        Err(SignalReject::OutsideSubnet)
    );
    for ip in [
        Ipv4Addr::new(192, 168, 1, 0),
        Ipv4Addr::new(192, 168, 1, 255),
    ] {
        let a = Announce {
            uid: Uid::from_ip4(ip),
            ip4: ip,
            ..good.clone()
        };
        assert_eq!(
            check_announce(&a, SUBNET),
            Err(SignalReject::OutsideSubnet),
            "{ip}"
        );
    }

    let a = Announce {
        public_key: [0; 32],
        ..good.clone()
    };
    assert_eq!(check_announce(&a, SUBNET), Err(SignalReject::BadPublicKey));

    for bad in [
        "0.0.0.0:5800",
        "10.0.3.15:0",
        "224.0.0.1:5800",
        "255.255.255.255:1",
        "192.168.1.7:5800",
        "[::]:1",
        "[ff02::1]:1",
    ] {
        let mut a = good.clone();
        a.candidates
            .push(Candidate::new(CandidateKind::Host, bad.parse().unwrap(), 1))
            .unwrap();
        assert_eq!(
            check_announce(&a, SUBNET),
            Err(SignalReject::BadCandidate),
            "{bad}"
        );
    }
    // Loopback candidates are kept: single-host tests run nodes that way.
    let mut a = good;
    a.candidates
        .push(Candidate::new(
            CandidateKind::Host,
            "127.0.0.1:5801".parse().unwrap(),
            1,
        ))
        .unwrap();
    assert_eq!(check_announce(&a, SUBNET), Ok(()));
}

#[test]
fn reject_names_and_counters() {
    let names: Vec<&str> = SignalReject::ALL.iter().map(|r| r.as_str()).collect();
    assert_eq!(
        names,
        [
            "malformed",
            "unknown_type",
            "uid_mismatch",
            "outside_subnet",
            "duplicate_ip4",
            "bad_public_key",
            "too_many_candidates",
            "bad_candidate"
        ]
    );
    let mut c = SignalRejectCounters::default();
    c.count(SignalReject::DuplicateIp4);
    c.count(SignalReject::DuplicateIp4);
    c.count(SignalReject::Malformed);
    assert_eq!(c.get(SignalReject::DuplicateIp4), 2);
    assert_eq!(c.get(SignalReject::BadCandidate), 0);
    let total: u64 = c.iter().map(|(_, n)| n).sum();
    assert_eq!(total, 3);
    assert_eq!(
        SignalReject::UidMismatch.to_string(),
        "UID is not SHA-1 of the claimed IPv4"
    );
}

#[test]
fn sender_and_type_names() {
    let v = vectors();
    let got: Vec<(&str, Uid)> = v.iter().map(|s| (s.type_name(), s.sender())).collect();
    assert_eq!(
        got,
        [
            ("announce", uid(UID_100)),
            ("link_req", uid(UID_100)),
            ("link_acc", uid(UID_101)),
            ("ping", uid(UID_100)),
            ("ping_resp", uid(UID_101)),
        ]
    );
}

#[test]
fn members_signal_round_trip_and_limits() {
    let s = Signal::Members {
        uid: uid(UID_100),
        statement: vec![0x69, 0x70, 0x6d, 0x73, 0xff],
    };
    let text = encode(&s);
    assert_eq!(
        text,
        format!("{{\"t\":\"members\",\"uid\":\"{UID_100}\",\"st\":\"aXBtc/8=\"}}")
    );
    assert_eq!(decode(text.as_bytes()), Ok(s));
    // A statement longer than any valid one, or no statement: malformed.
    let big = crate::config::base64::encode(&[0u8; crate::core::member::MAX_STATEMENT_LEN + 1]);
    let j = format!("{{\"t\":\"members\",\"uid\":\"{UID_100}\",\"st\":\"{big}\"}}");
    assert_eq!(decode(j.as_bytes()), Err(SignalReject::Malformed));
    let j = format!("{{\"t\":\"members\",\"uid\":\"{UID_100}\"}}");
    assert_eq!(decode(j.as_bytes()), Err(SignalReject::Malformed));
    // The largest statement fits a signal.
    let full = Signal::Members {
        uid: uid(UID_100),
        statement: vec![0xab; crate::core::member::MAX_STATEMENT_LEN],
    };
    let mut buf = [0u8; MAX_SIGNAL_LEN];
    assert!(full.encode(&mut buf).is_some());
}
