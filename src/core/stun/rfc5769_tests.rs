//! RFC 5769 sample messages: parsed, authenticated and re-encoded to the
//! exact bytes. The samples in §2.1-2.3 pad with spaces (0x20), §2.4 with
//! zeros, hence `set_pad_byte`.

use super::consts::*;
use super::*;

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

const PASSWORD: &str = "VOkJxbRl1RmTxUk/WvJxBt";
const TXID: [u8; 12] = [
    0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae,
];

fn request() -> Vec<u8> {
    hex("00 01 00 58 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
         80 22 00 10 53 54 55 4e 20 74 65 73 74 20 63 6c 69 65 6e 74
         00 24 00 04 6e 00 01 ff
         80 29 00 08 93 2f f9 b1 51 26 3b 36
         00 06 00 09 65 76 74 6a 3a 68 36 76 59 20 20 20
         00 08 00 14 9a ea a7 0c bf d8 cb 56 78 1e f2 b5 b2 d3 f2 49 c1 b5 71 a2
         80 28 00 04 e5 7a 3b cf")
}

fn response_v4() -> Vec<u8> {
    hex("01 01 00 3c 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
         80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
         00 20 00 08 00 01 a1 47 e1 12 a6 43
         00 08 00 14 2b 91 f5 99 fd 9e 90 c3 8c 74 89 f9 2a f9 ba 53 f0 6b e7 d7
         80 28 00 04 c0 7d 4c 96")
}

fn response_v6() -> Vec<u8> {
    hex("01 01 00 48 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
         80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
         00 20 00 14 00 02 a1 47 01 13 a9 fa a5 d3 f1 79 bc 25 f4 b5 be d2 b9 d9
         00 08 00 14 a3 82 95 4e 4b e6 7b f1 17 84 c9 7c 82 92 c2 75 bf e3 ed 41
         80 28 00 04 c8 fb 0b 4c")
}

fn request_long_term() -> Vec<u8> {
    hex("00 01 00 60 21 12 a4 42 78 ad 34 33 c6 ad 72 c0 29 da 41 2e
         00 06 00 12 e3 83 9e e3 83 88 e3 83 aa e3 83 83 e3 82 af e3 82 b9 00 00
         00 15 00 1c 66 2f 2f 34 39 39 6b 39 35 34 64 36 4f 4c 33 34 6f 4c 39 46
                     53 54 76 79 36 34 73 41
         00 14 00 0b 65 78 61 6d 70 6c 65 2e 6f 72 67 00
         00 08 00 14 f6 70 24 65 6d d6 4a 3e 02 b8 e0 71 2e 85 c9 a2 8c a8 96 66")
}

#[test]
fn sample_request_parses_and_authenticates() {
    let bytes = request();
    assert!(is_stun(&bytes));
    let m = Message::parse(&bytes).unwrap();
    assert_eq!(m.method(), BINDING);
    assert_eq!(m.class(), Class::Request);
    assert_eq!(m.transaction_id(), TXID);
    assert_eq!(m.attr(ATTR_SOFTWARE), Some(&b"STUN test client"[..]));
    assert_eq!(m.attr(ATTR_USERNAME), Some(&b"evtj:h6vY"[..]));
    assert_eq!(m.attr(0x0024), Some(&[0x6e, 0x00, 0x01, 0xff][..]));
    let types: Vec<u16> = m.attributes().map(|a| a.typ).collect();
    assert_eq!(types, [0x8022, 0x0024, 0x8029, 0x0006, 0x0008, 0x8028]);
    assert_eq!(m.check_fingerprint(), Ok(true));
    assert_eq!(m.check_integrity(PASSWORD.as_bytes()), Ok(()));
    assert_eq!(m.check_integrity(b"wrong"), Err(StunError::BadIntegrity));
}

#[test]
fn sample_request_encodes_exactly() {
    let mut buf = [0u8; 128];
    let mut w = MessageWriter::new(&mut buf, 0x0001, &TXID).unwrap();
    w.set_pad_byte(0x20);
    w.attr(ATTR_SOFTWARE, b"STUN test client").unwrap();
    w.u32_attr(0x0024, 0x6e0001ff).unwrap();
    w.attr(0x8029, &[0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36])
        .unwrap();
    w.attr(ATTR_USERNAME, b"evtj:h6vY").unwrap();
    w.message_integrity(PASSWORD.as_bytes()).unwrap();
    w.fingerprint().unwrap();
    let n = w.finish();
    assert_eq!(&buf[..n], &request()[..]);
}

#[test]
fn sample_ipv4_response() {
    let bytes = response_v4();
    let m = Message::parse(&bytes).unwrap();
    assert_eq!((m.method(), m.class()), (BINDING, Class::Success));
    let mapped = attr::xor_address(m.attr(ATTR_XOR_MAPPED_ADDRESS).unwrap(), &TXID).unwrap();
    assert_eq!(mapped, "192.0.2.1:32853".parse().unwrap());
    assert_eq!(m.attr(ATTR_SOFTWARE), Some(&b"test vector"[..]));
    assert_eq!(m.check_fingerprint(), Ok(true));
    assert_eq!(m.check_integrity(PASSWORD.as_bytes()), Ok(()));

    let mut buf = [0u8; 128];
    let mut w = MessageWriter::new(&mut buf, 0x0101, &TXID).unwrap();
    w.set_pad_byte(0x20);
    w.attr(ATTR_SOFTWARE, b"test vector").unwrap();
    w.xor_address(ATTR_XOR_MAPPED_ADDRESS, mapped).unwrap();
    w.message_integrity(PASSWORD.as_bytes()).unwrap();
    w.fingerprint().unwrap();
    let n = w.finish();
    assert_eq!(&buf[..n], &bytes[..]);
}

#[test]
fn sample_ipv6_response() {
    let bytes = response_v6();
    let m = Message::parse(&bytes).unwrap();
    let mapped = attr::xor_address(m.attr(ATTR_XOR_MAPPED_ADDRESS).unwrap(), &TXID).unwrap();
    assert_eq!(
        mapped,
        "[2001:db8:1234:5678:11:2233:4455:6677]:32853"
            .parse()
            .unwrap()
    );
    assert_eq!(m.check_fingerprint(), Ok(true));
    assert_eq!(m.check_integrity(PASSWORD.as_bytes()), Ok(()));

    let mut buf = [0u8; 128];
    let mut w = MessageWriter::new(&mut buf, 0x0101, &TXID).unwrap();
    w.set_pad_byte(0x20);
    w.attr(ATTR_SOFTWARE, b"test vector").unwrap();
    w.xor_address(ATTR_XOR_MAPPED_ADDRESS, mapped).unwrap();
    w.message_integrity(PASSWORD.as_bytes()).unwrap();
    w.fingerprint().unwrap();
    let n = w.finish();
    assert_eq!(&buf[..n], &bytes[..]);
}

#[test]
fn sample_long_term_request() {
    let bytes = request_long_term();
    let m = Message::parse(&bytes).unwrap();
    let user = attr::text(m.attr(ATTR_USERNAME).unwrap()).unwrap();
    let realm = attr::text(m.attr(ATTR_REALM).unwrap()).unwrap();
    let nonce = m.attr(ATTR_NONCE).unwrap();
    assert_eq!(user, "\u{30DE}\u{30C8}\u{30EA}\u{30C3}\u{30AF}\u{30B9}");
    assert_eq!(realm, "example.org");
    assert_eq!(nonce, b"f//499k954d6OL34oL9FSTvy64sA");
    assert_eq!(m.check_fingerprint(), Ok(false));
    // The password "TheM\u{aa}tr\u{2168}" after SASLprep.
    let key = long_term_key(user, realm, "TheMatrIX");
    assert_eq!(m.check_integrity(&key), Ok(()));
    assert_eq!(
        m.check_integrity(&long_term_key(user, realm, "TheMatrix")),
        Err(StunError::BadIntegrity)
    );

    let txid: [u8; 12] = bytes[8..20].try_into().unwrap();
    let mut buf = [0u8; 128];
    let mut w = MessageWriter::new(&mut buf, 0x0001, &txid).unwrap();
    w.attr(ATTR_USERNAME, user.as_bytes()).unwrap();
    w.attr(ATTR_NONCE, nonce).unwrap();
    w.attr(ATTR_REALM, realm.as_bytes()).unwrap();
    w.message_integrity(&key).unwrap();
    let n = w.finish();
    assert_eq!(&buf[..n], &bytes[..]);
}

#[test]
fn tampering_is_detected() {
    let mut bytes = request();
    // Flip a bit inside USERNAME: both FINGERPRINT and MESSAGE-INTEGRITY fail.
    bytes[80] ^= 1;
    let m = Message::parse(&bytes).unwrap();
    assert_eq!(m.check_fingerprint(), Err(StunError::BadFingerprint));
    assert_eq!(
        m.check_integrity(PASSWORD.as_bytes()),
        Err(StunError::BadIntegrity)
    );
    // No MESSAGE-INTEGRITY at all.
    let mut buf = [0u8; 32];
    let n = MessageWriter::new(&mut buf, 0x0001, &TXID)
        .unwrap()
        .finish();
    assert_eq!(
        Message::parse(&buf[..n]).unwrap().check_integrity(b"k"),
        Err(StunError::MissingIntegrity)
    );
}

#[test]
fn writer_reports_small_buffers() {
    let mut buf = [0u8; 19];
    assert_eq!(
        MessageWriter::new(&mut buf, 1, &TXID).err(),
        Some(StunError::BufferTooSmall)
    );
    let mut buf = [0u8; 40];
    let mut w = MessageWriter::new(&mut buf, 1, &TXID).unwrap();
    assert_eq!(w.attr(ATTR_DATA, &[0; 17]), Err(StunError::BufferTooSmall));
    assert_eq!(w.message_integrity(b"k"), Err(StunError::BufferTooSmall));
    w.fingerprint().unwrap();
    assert_eq!(w.finish(), 28);
}

#[test]
fn demux_table() {
    assert!(is_stun(&request()));
    assert!(!is_channel_data(&request()));
    // Link messages: type 1..4 then three zero bytes.
    for t in 1..=4u8 {
        let mut link = [0u8; 48];
        link[0] = t;
        assert!(!is_stun(&link));
        assert!(!is_channel_data(&link));
    }
    assert!(is_channel_data(&[0x40, 0x00, 0x00, 0x01, 0xAA]));
    assert!(!is_stun(&[0x40, 0x00, 0x00, 0x01, 0xAA]));
    // Right cookie, wrong length: not STUN.
    let mut r = request();
    r.push(0);
    assert!(!is_stun(&r));
}
