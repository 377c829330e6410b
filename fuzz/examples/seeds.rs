//! Writes the committed seed corpora, fuzz/seeds/TARGET/NAME, from the
//! unit tests' valid inputs: the fixtures and recorded XMPP streams in
//! tests/, the signature test data, and messages built with the library's
//! own writers (handshakes, payloads, STUN/TURN, signals, DNS answers).
//!   cargo run --manifest-path fuzz/Cargo.toml --example seeds
//! Deterministic: rerunning rewrites the same files.

use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use ipop::config::base64;
use ipop::core::candidate::{Candidate, CandidateKind};
use ipop::core::identity::Uid;
use ipop::core::link::cookie::CookieSender;
use ipop::core::node::payload;
use ipop::core::signal::{Announce, LinkAccept, LinkRequest, Signal, MAX_SIGNAL_LEN};
use ipop::core::stun::consts::*;
use ipop::core::stun::{message_type, ChannelData, Class, MessageWriter};
use ipop::core::time::Instant;
use ipop::core::topology::wire::{self, ChordMsg};
use ipop_fuzz::{data_indication, ip4, ipv4_frame, public, put_chunk, LinkPeer};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn write(target: &str, name: &str, data: &[u8]) {
    let dir = root().join("fuzz/seeds").join(target);
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join(name), data).unwrap();
}

fn read(path: &str) -> Vec<u8> {
    fs::read(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The parts of a recorded stream (tests/xmpp/streams), in order.
fn parts(stream: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for chunk in stream.split("<!-- ").skip(1) {
        let (name, body) = chunk.split_once(" -->\n").unwrap();
        out.push((name.to_string(), body.trim_end_matches('\n').to_string()));
    }
    out
}

fn stanza(p: &[(String, String)], name: &str) -> Option<String> {
    p.iter().find(|(n, _)| n == name).map(|(_, b)| b.clone())
}

fn xmpp() {
    for file in ["prosody", "ejabberd", "prosody-real", "ejabberd-real"] {
        let text = String::from_utf8(read(&format!("tests/xmpp/streams/{file}.xml"))).unwrap();
        let p = parts(&text);
        // The client's whole login and session, turn by turn (NUL between
        // turns; each turn's first byte: 0x10 whole, 0x11 byte by byte,
        // 0x12 in 7-byte pieces). The error parts (auth-failure, stream-error) only in the last one.
        for (ctl, suffix) in [(0x10u8, "whole"), (0x11, "bytewise"), (0x12, "errors")] {
            let mut seed = Vec::new();
            for (name, body) in &p {
                if suffix != "errors" && (name == "auth-failure" || name == "stream-error") {
                    continue;
                }
                if !seed.is_empty() {
                    seed.push(0);
                }
                seed.push(ctl);
                seed.extend_from_slice(body.as_bytes());
            }
            write("xmpp_client", &format!("{file}-{suffix}"), &seed);
        }
        // The reader: each header part alone and with the stanzas after it.
        let header = p
            .iter()
            .find(|(_, b)| b.starts_with("<?xml"))
            .unwrap()
            .1
            .clone();
        for (name, body) in &p {
            let data = if body.starts_with("<?xml") {
                body.clone()
            } else {
                format!("{header}{body}")
            };
            let mut seed = vec![1u8];
            seed.extend_from_slice(data.as_bytes());
            write("xml_stream", &format!("{file}-{name}"), &seed);
        }
        if let Some(s) = stanza(&p, "signals") {
            for (i, m) in s
                .split("<ipop xmlns='urn:ipop:signal:1'>")
                .skip(1)
                .enumerate()
            {
                let json = m.split("</ipop>").next().unwrap();
                write("signal", &format!("{file}-{i}"), json.as_bytes());
            }
        }
    }
    let mut seed = vec![7u8];
    seed.extend_from_slice(b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' from='ipop.test'><message to='a@b' type='chat'><body>x &amp; y &#x41;</body><x xmlns='urn:x'/></message></stream:stream>");
    write("xml_stream", "small", &seed);
}

fn configs() {
    for f in ["seed-outer", "seed-inner", "every-key"] {
        write("config_json", f, &read(&format!("tests/fixtures/{f}.json")));
    }
    write("config_uci", "ipop", &read("tests/fixtures/ipop.uci"));
    let dir = root().join("tests/fixtures/uci/hand");
    let mut names: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".uci"))
        .collect();
    names.sort();
    for n in names {
        write("config_uci", &n, &fs::read(dir.join(&n)).unwrap());
    }
    for f in ["seed-outer", "every-key"] {
        let text = String::from_utf8(read(&format!("tests/fixtures/{f}.json"))).unwrap();
        let l = ipop::fuzzing::config_json(&text).unwrap();
        let s = ipop::config::to_uci_section(&l.config, "outer", true);
        write("config_uci", &format!("export-{f}"), s.as_bytes());
    }
    write(
        "config_uci",
        "peer",
        b"198.51.100.2:5800/abcdefABCDEF0123456789abcdef0123456789ABCD=",
    );
    write("config_uci", "turn", b"turn.example.org:3478/user/p%40ss");
}

fn candidates<const N: usize>() -> heapless::Vec<Candidate, N> {
    let mut c = heapless::Vec::new();
    let _ = c.push(Candidate::new(
        CandidateKind::Host,
        "198.51.100.2:5800".parse().unwrap(),
        65535,
    ));
    let _ = c.push(Candidate::new(
        CandidateKind::ServerReflexive,
        "203.0.113.7:41000".parse().unwrap(),
        65535,
    ));
    let _ = c.push(Candidate::new(
        CandidateKind::Relay,
        "[2001:db8::10]:50000".parse().unwrap(),
        65535,
    ));
    c
}

fn signals() {
    let uid = Uid::from_ip4(ip4(2));
    let to = Uid::from_ip4(ip4(1));
    let all = [
        Signal::Announce(Announce {
            uid,
            ip4: ip4(2),
            public_key: public(2),
            candidates: candidates(),
        }),
        Signal::LinkRequest(LinkRequest { uid, to, role: 1 }),
        Signal::LinkAccept(LinkAccept { uid, to, role: 0 }),
        Signal::Ping { uid },
        Signal::PingResp { uid },
    ];
    for (i, s) in all.iter().enumerate() {
        let mut out = [0u8; MAX_SIGNAL_LEN];
        let n = s.encode(&mut out).unwrap();
        write("signal", &format!("encoded-{i}"), &out[..n]);
    }
}

/// Payloads of every type the node reads, as the peer would seal them.
fn payloads(peer: &LinkPeer) -> Vec<(&'static str, Vec<u8>)> {
    let mut v = vec![("gossip", peer.gossip())];
    let frame = ipv4_frame(ip4(2).octets(), ip4(1).octets(), 60);
    let mut f = vec![payload::FRAME];
    f.extend_from_slice(&frame);
    v.push(("frame", f));
    let (src, dst) = (Uid::from_ip4(ip4(2)), Uid::from_ip4(ip4(1)));
    let mut r = vec![0u8; payload::ROUTED_HEADER];
    payload::write_routed_header(&mut r, 8, &src, &dst).unwrap();
    r.extend_from_slice(&frame);
    v.push(("routed", r));
    let mut fl = vec![0u8; payload::FLOOD_HEADER];
    payload::write_flood_header(&mut fl, &src, &Uid::from_ip4(ip4(9))).unwrap();
    let mut bcast = ipv4_frame(ip4(2).octets(), [10, 0, 3, 255], 40);
    bcast[..6].copy_from_slice(&[0xff; 6]);
    fl.extend_from_slice(&bcast);
    v.push(("flood", fl));
    let mut probe = vec![payload::PROBE];
    probe.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
    v.push(("probe", probe));
    let mut ack = vec![payload::PROBE_ACK];
    ack.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
    v.push(("probe-ack", ack));
    let mut adv = vec![0u8; 128];
    adv[0] = payload::CONTROL;
    let n = wire::emit_advertise(&mut adv[1..], [src, dst].into_iter()).unwrap();
    adv.truncate(1 + n);
    v.push(("advertise", adv));
    for (name, m) in [
        (
            "find",
            ChordMsg::Find {
                hops_left: 64,
                index: 3,
                src,
                target: dst,
            },
        ),
        (
            "found",
            ChordMsg::Found {
                hops_left: 64,
                index: 3,
                dst,
                target: dst,
                found: src,
            },
        ),
    ] {
        let mut c = vec![0u8; 128];
        c[0] = payload::CONTROL;
        let n = wire::emit_chord(&mut c[1..], &m).unwrap();
        c.truncate(1 + n);
        v.push((name, c));
    }
    v
}

fn links() {
    let now = Instant::from_secs(10);
    let node_pub = public(1);
    let mut peer = LinkPeer::new(2, node_pub);
    let init = peer.initiation(now).unwrap();
    // datagram_responder: op 2 = reseal and deliver (from index 2).
    let mut s = vec![2u8, 2];
    put_chunk(&mut s, &init);
    write("datagram_responder", "initiation", &s);
    let mut s = vec![0u8, 2];
    put_chunk(&mut s, &init);
    s.extend_from_slice(&[3, 0, 100]);
    let mut again = init.clone();
    CookieSender::new(&node_pub).seal(now, &mut again);
    s.extend_from_slice(&[2, 2]);
    put_chunk(&mut s, &again);
    write("datagram_responder", "initiation-twice", &s);
    let mut s = vec![0u8, 9];
    put_chunk(
        &mut s,
        &[
            4, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
            13, 14, 15, 16,
        ],
    );
    write("datagram_responder", "transport-unknown", &s);

    // datagram_established: op 0 = a sealed payload; 6 = time; 7 = TAP frame.
    let ps = payloads(&peer);
    for (name, p) in &ps {
        let mut s = vec![0u8];
        put_chunk(&mut s, p);
        write("datagram_established", name, &s);
        write("payload_parsers", name, p);
    }
    let mut all = Vec::new();
    for (_, p) in &ps {
        all.push(0u8);
        put_chunk(&mut all, p);
        all.extend_from_slice(&[6, 0x0f, 0xa0]);
    }
    all.push(5);
    all.push(7);
    put_chunk(&mut all, &ipv4_frame(ip4(1).octets(), ip4(2).octets(), 100));
    write("datagram_established", "all-then-tap", &all);
    let mut arp = vec![0xffu8; 6];
    arp.extend_from_slice(&[
        2, 0, 0, 0, 0, 9, 0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 9,
    ]);
    arp.extend_from_slice(&[10, 0, 3, 1, 0, 0, 0, 0, 0, 0, 10, 0, 3, 2]);
    write("payload_parsers", "arp", &arp);

    // cookie_load: mutate, reseal, forge a cookie reply, time, flood.
    write(
        "cookie_load",
        "ops",
        &[
            0, 0, 20, 1, 1, 1, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8, 4, 3, 232, 5, 3, 9, 9, 9,
        ],
    );
    let mut s = vec![1u8, 1];
    put_chunk(&mut s, &init);
    write("cookie_load", "initiation", &s);

    // turn_relay: payloads through the relay, a TAP frame out through it,
    // an answer chosen by the input, time.
    let mut s = Vec::new();
    for (_, p) in ps.iter().take(3) {
        s.push(0);
        put_chunk(&mut s, p);
    }
    s.extend_from_slice(&[2, 0, 100, 0, 0]);
    s.extend_from_slice(&[2, 0, 200, 0, 0]);
    s.extend_from_slice(&[6, 0, 250, 6, 0, 250]);
    s.extend_from_slice(&[5, 1, 182, 0, 1, 0, 0x15]);
    put_chunk(&mut s, b"nonce-2");
    s.extend_from_slice(&[7, 6, 0, 30]);
    write("turn_relay", "session", &s);
}

fn stun() {
    let txid = [1u8; 12];
    let server: SocketAddr = "192.0.2.10:3478".parse().unwrap();
    let mapped: SocketAddr = "203.0.113.7:41000".parse().unwrap();
    let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();
    let mut build = |name: &'static str, t: u16, f: &dyn Fn(&mut MessageWriter<'_>)| {
        let mut buf = [0u8; 512];
        let mut w = MessageWriter::new(&mut buf, t, &txid).unwrap();
        f(&mut w);
        let n = w.finish();
        cases.push((name, buf[..n].to_vec()));
    };
    build(
        "binding-success",
        message_type(BINDING, Class::Success),
        &|w| {
            w.xor_address(ATTR_XOR_MAPPED_ADDRESS, mapped).unwrap();
            w.fingerprint().unwrap();
        },
    );
    build("allocate-401", message_type(ALLOCATE, Class::Error), &|w| {
        w.error_code(401, "Unauthorized").unwrap();
        w.attr(ATTR_REALM, b"ipop.test").unwrap();
        w.attr(ATTR_NONCE, b"nonce-1").unwrap();
    });
    build(
        "allocate-success",
        message_type(ALLOCATE, Class::Success),
        &|w| {
            w.xor_address(ATTR_XOR_RELAYED_ADDRESS, server).unwrap();
            w.xor_address(ATTR_XOR_MAPPED_ADDRESS, mapped).unwrap();
            w.u32_attr(ATTR_LIFETIME, 600).unwrap();
            w.message_integrity(b"0123456789abcdef").unwrap();
            w.fingerprint().unwrap();
        },
    );
    cases.push(("data-indication", data_indication(txid, mapped, b"hello")));
    let mut cd = [0u8; 16];
    let n = ChannelData::emit(0x4000, b"hello", &mut cd).unwrap();
    cases.push(("channel-data", cd[..n].to_vec()));
    for (name, c) in &cases {
        write("stun_input", name, c);
    }
    // turn_relay op 3: raw bytes from the server.
    for (name, c) in &cases {
        let mut s = vec![3u8];
        put_chunk(&mut s, c);
        write("turn_relay", &format!("server-{name}"), &s);
    }
}

fn dns() {
    let mut a = vec![
        0xab, 0xcd, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0, 3, b'w', b'w', b'w', 7, b'e', b'x', b'a',
        b'm', b'p', b'l', b'e', 3, b'o', b'r', b'g', 0, 0, 1, 0, 1,
    ];
    a.extend_from_slice(&[0xc0, 12, 0, 5, 0, 1, 0, 0, 0x0e, 0x10, 0, 2, 0xc0, 16]);
    a.extend_from_slice(&[0xc0, 16, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, 192, 0, 2, 7]);
    write("dns_answer", "cname-a", &a);
    let mut q = vec![
        0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, 1, b'a', 1, b'b', 0, 0, 28, 0, 1,
    ];
    q.extend_from_slice(&[0xc0, 12, 0, 28, 0, 1, 0, 0, 0, 60, 0, 16]);
    q.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    write("dns_answer", "aaaa", &q);
    let nx = [
        0x12, 0x34, 0x81, 0x83, 0, 1, 0, 0, 0, 0, 0, 0, 1, b'x', 0, 0, 1, 0, 1,
    ];
    write("dns_answer", "nxdomain", &nx);
}

fn sig() {
    let msg = read("src/core/sig/testdata/msg");
    for (op, key, sig) in [
        (0x00u8, "rsa2048.pub", "rsa2048-pkcs1-sha256.sig"),
        (0x01, "rsa2048.pub", "rsa2048-pss-sha256.sig"),
        (0x11, "rsa2048.pub", "rsa2048-pss-sha384.sig"),
        (0x20, "rsa2056.pub", "rsa2056-pkcs1-sha512.sig"),
        (0x02, "p256.pub", "p256-sha256.sig"),
        (0x12, "p256.pub", "p256-sha384.sig"),
        (0x03, "p384.pub", "p384-sha256.sig"),
        (0x13, "p384.pub", "p384-sha384.sig"),
    ] {
        let mut s = vec![op];
        put_chunk(&mut s, &read(&format!("src/core/sig/testdata/{key}")));
        put_chunk(&mut s, &msg);
        s.extend_from_slice(&read(&format!("src/core/sig/testdata/{sig}")));
        write("sig", sig, &s);
    }
}

fn small() {
    // scram_base64: iterations, user, password, nonce, suffix, salt, then
    // "server-first\nserver-final".
    let mut s = vec![3u8, 5];
    s.extend_from_slice(b"alicepencil!");
    s.extend_from_slice(&[7; 26]);
    s.extend_from_slice(b"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096\nv=rmF9pqV8S7suAoZWja4dJRkFsKQ=");
    write("scram_base64", "rfc5802", &s);
    write(
        "scram_base64",
        "b64",
        base64::encode(b"any carnal pleas").as_bytes(),
    );

    let mut m = vec![0u8; 16];
    m[4..6].copy_from_slice(&16u16.to_ne_bytes());
    m.extend_from_slice(&[0; 16]);
    m.extend_from_slice(&8u16.to_ne_bytes());
    m.extend_from_slice(&10u16.to_ne_bytes());
    m.extend_from_slice(&7u32.to_ne_bytes());
    let total = m.len() as u32;
    m[..4].copy_from_slice(&total.to_ne_bytes());
    write("netlink", "newlink-master", &m);
    let mut e = vec![0u8; 20];
    e[..4].copy_from_slice(&20u32.to_ne_bytes());
    e[4..6].copy_from_slice(&2u16.to_ne_bytes());
    e[16..].copy_from_slice(&(-19i32).to_ne_bytes());
    write("netlink", "error-enodev", &e);
    let mut o = e.clone();
    o[..4].copy_from_slice(&0u32.to_ne_bytes());
    o[16..].copy_from_slice(&0x8000_0000u32.to_ne_bytes());
    write("netlink", "errno-overflow", &o);

    write("local_files", "resolv.conf", b"# generated\nsearch lan example.org\nnameserver 192.168.1.1\nnameserver fd00::1\noptions ndots:1\n");
    write(
        "local_files",
        "hosts",
        b"127.0.0.1 localhost\n::1 localhost ip6-localhost\n192.0.2.10 turn.example.org turn\n",
    );
    write("local_files", "key", base64::encode(&[7u8; 32]).as_bytes());
    write(
        "local_files",
        "openwrt_release",
        b"DISTRIB_ID='OpenWrt'\nDISTRIB_RELEASE='23.05.3'\nDISTRIB_ARCH='mipsel_24kc'\n",
    );
    write(
        "local_files",
        "meminfo",
        b"MemTotal:        124548 kB\nMemFree:          60124 kB\n",
    );
    write("local_files", "model", b"Raspberry Pi 4 Model B Rev 1.4\0");
    write(
        "local_files",
        "entries",
        b"turn.example.org:3478\n[2001:db8::1]:5800\n192.0.2.1\nhost\n",
    );
    let mut boards: Vec<_> = fs::read_dir(root().join("boards"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "conf"))
        .collect();
    boards.sort();
    for b in boards.iter().take(3) {
        let name = b.file_name().unwrap().to_str().unwrap().to_string();
        write("local_files", &name, &fs::read(b).unwrap());
    }
}

fn main() {
    let _ = fs::remove_dir_all(root().join("fuzz/seeds"));
    xmpp();
    configs();
    signals();
    links();
    stun();
    dns();
    sig();
    small();
    println!("seeds written to fuzz/seeds/");
}
