//! TURN client against a scripted server on a virtual clock.

use super::*;

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

const SERVER: &str = "192.0.2.10:3478";
const RELAYED: &str = "192.0.2.10:50000";
const MAPPED: &str = "203.0.113.7:41000";

/// A scripted TURN server: answers one request at a time.
struct Server {
    key: [u8; 16],
    nonce: &'static str,
}

impl Server {
    fn new() -> Self {
        Server {
            key: long_term_key("u", "r", "p"),
            nonce: "nonce-1",
        }
    }

    fn challenge(&self, req: &[u8], code: u16) -> Vec<u8> {
        let m = Message::parse(req).unwrap();
        let (method, _) = super::super::split_type(m.msg_type());
        let mut buf = [0u8; 256];
        let mut w = MessageWriter::new(
            &mut buf,
            message_type(method, Class::Error),
            &m.transaction_id(),
        )
        .unwrap();
        w.error_code(code, "Unauthorized").unwrap();
        w.attr(ATTR_REALM, b"r").unwrap();
        w.attr(ATTR_NONCE, self.nonce.as_bytes()).unwrap();
        let n = w.finish();
        buf[..n].to_vec()
    }

    /// Checks the request's credentials and answers success.
    fn accept(&self, req: &[u8], lifetime: u32) -> Vec<u8> {
        let m = Message::parse(req).unwrap();
        assert_eq!(m.attr(ATTR_USERNAME), Some(&b"u"[..]));
        assert_eq!(m.attr(ATTR_REALM), Some(&b"r"[..]));
        assert_eq!(m.attr(ATTR_NONCE), Some(self.nonce.as_bytes()));
        assert_eq!(m.check_integrity(&self.key), Ok(()));
        let mut buf = [0u8; 256];
        let mut w = MessageWriter::new(
            &mut buf,
            message_type(m.method(), Class::Success),
            &m.transaction_id(),
        )
        .unwrap();
        if m.method() == ALLOCATE {
            w.xor_address(ATTR_XOR_RELAYED_ADDRESS, addr(RELAYED))
                .unwrap();
            w.xor_address(ATTR_XOR_MAPPED_ADDRESS, addr(MAPPED))
                .unwrap();
        }
        if matches!(m.method(), ALLOCATE | REFRESH) {
            w.u32_attr(ATTR_LIFETIME, lifetime).unwrap();
        }
        w.message_integrity(&self.key).unwrap();
        let n = w.finish();
        buf[..n].to_vec()
    }
}

fn send(c: &mut TurnClient, now: Instant) -> Vec<u8> {
    let mut buf = [0u8; 512];
    let (to, n) = c.poll_transmit(now, &mut buf).expect("a request");
    assert_eq!(to, addr(SERVER));
    buf[..n].to_vec()
}

fn allocated(now: Instant) -> (TurnClient, Server) {
    let mut c = TurnClient::new(addr(SERVER), "u", "p", Rng::from_seed([5; 32]));
    let s = Server::new();
    c.handle_timeout(now);
    let first = send(&mut c, now);
    let m = Message::parse(&first).unwrap();
    assert_eq!((m.method(), m.class()), (ALLOCATE, Class::Request));
    assert_eq!(m.attr(ATTR_REQUESTED_TRANSPORT), Some(&[17, 0, 0, 0][..]));
    assert_eq!(m.attr(ATTR_MESSAGE_INTEGRITY), None);
    let challenge = s.challenge(&first, 401);
    assert!(c.accepts(&challenge));
    assert_eq!(c.handle_datagram(now, &challenge), Ok(()));
    assert!(!c.accepts(&challenge));
    let second = send(&mut c, now);
    assert_ne!(second[8..20], first[8..20], "new transaction for the retry");
    assert_eq!(c.handle_datagram(now, &s.accept(&second, 600)), Ok(()));
    assert_eq!(
        c.poll_event(),
        Some(TurnEvent::Allocated {
            relayed: addr(RELAYED),
            mapped: Some(addr(MAPPED))
        })
    );
    (c, s)
}

#[test]
fn allocate_with_long_term_credentials() {
    let now = Instant::from_secs(1);
    let (c, _) = allocated(now);
    assert_eq!(c.relayed(), Some(addr(RELAYED)));
    // Next: the keepalive (the refresh is due at 540 s).
    assert_eq!(c.poll_timeout(), Some(now + TURN_KEEPALIVE));
    assert_eq!(c.stats().requests_sent, 2);
    assert_eq!(c.stats().total_drops(), 0);
}

#[test]
fn refresh_and_stale_nonce() {
    let t0 = Instant::from_secs(1);
    let (mut c, mut s) = allocated(t0);
    let now = t0 + Duration::from_secs(540);
    c.handle_timeout(now);
    let r = send(&mut c, now);
    let m = Message::parse(&r).unwrap();
    assert_eq!(m.method(), REFRESH);
    // The keepalive due at the same time: a plain Binding request.
    let k = send(&mut c, now);
    let km = Message::parse(&k).unwrap();
    assert_eq!(
        (km.method(), km.attr(ATTR_MESSAGE_INTEGRITY)),
        (BINDING, None)
    );
    let mut out = [0u8; 64];
    let id = km.transaction_id();
    let kn = crate::core::stun::binding::write_response(&mut out, &id, addr(MAPPED)).unwrap();
    assert_eq!(c.handle_datagram(now, &out[..kn]), Ok(()));
    assert_eq!(m.attr(ATTR_LIFETIME), Some(&600u32.to_be_bytes()[..]));
    s.nonce = "nonce-2";
    assert_eq!(c.handle_datagram(now, &s.challenge(&r, 438)), Ok(()));
    let r2 = send(&mut c, now);
    assert_eq!(c.handle_datagram(now, &s.accept(&r2, 300)), Ok(()));
    // Lifetime 300 s: the next Refresh goes out at 240 s, not before.
    let mut refreshes = Vec::new();
    let mut t = now;
    let mut buf = [0u8; 512];
    while refreshes.is_empty() && t < now + Duration::from_secs(300) {
        t = c.poll_timeout().unwrap();
        c.handle_timeout(t);
        while let Some((_, n)) = c.poll_transmit(t, &mut buf) {
            let m = Message::parse(&buf[..n]).unwrap();
            if m.method() == REFRESH {
                refreshes.push(t - now);
            }
            // Answer keepalives with the unchanged mapping.
            if m.method() == BINDING {
                let id = m.transaction_id();
                let mut out = [0u8; 64];
                let rn = crate::core::stun::binding::write_response(&mut out, &id, addr(MAPPED))
                    .unwrap();
                c.handle_datagram(t, &out[..rn]).unwrap();
            }
        }
    }
    assert_eq!(refreshes.first(), Some(&Duration::from_secs(240)));
    assert_eq!(c.poll_event(), None);
}

#[test]
fn permissions_channels_and_framing() {
    let now = Instant::from_secs(1);
    let (mut c, s) = allocated(now);
    let peer = addr("198.51.100.20:5800");
    c.add_peer(now, peer);
    let perm = send(&mut c, now);
    let bind = send(&mut c, now);
    let pm = Message::parse(&perm).unwrap();
    assert_eq!(pm.method(), CREATE_PERMISSION);
    let id = pm.transaction_id();
    assert_eq!(
        attr::xor_address(pm.attr(ATTR_XOR_PEER_ADDRESS).unwrap(), &id),
        Ok(peer)
    );
    let bm = Message::parse(&bind).unwrap();
    assert_eq!(bm.method(), CHANNEL_BIND);
    assert_eq!(bm.attr(ATTR_CHANNEL_NUMBER), Some(&[0x40, 0x00, 0, 0][..]));

    // Before the channel is confirmed: a Send indication.
    let mut out = [0u8; 128];
    let n = c.wrap(peer, b"ping", &mut out).unwrap();
    let si = Message::parse(&out[..n]).unwrap();
    assert_eq!((si.method(), si.class()), (SEND, Class::Indication));
    assert_eq!(si.attr(ATTR_DATA), Some(&b"ping"[..]));
    assert_eq!(
        attr::xor_address(
            si.attr(ATTR_XOR_PEER_ADDRESS).unwrap(),
            &si.transaction_id()
        ),
        Ok(peer)
    );
    assert_eq!(n, 20 + 12 + 8);

    assert_eq!(c.handle_datagram(now, &s.accept(&perm, 0)), Ok(()));
    assert_eq!(c.handle_datagram(now, &s.accept(&bind, 0)), Ok(()));
    assert_eq!(c.channel(peer), Some(0x4000));
    let n = c.wrap(peer, b"ping", &mut out).unwrap();
    assert_eq!(&out[..n], &[0x40, 0x00, 0x00, 0x04, b'p', b'i', b'n', b'g']);

    // Incoming: ChannelData and a Data indication.
    assert!(c.accepts(&out[..n]));
    assert_eq!(c.unwrap(&out[..n]), Some((peer, &b"ping"[..])));
    let mut di = [0u8; 128];
    let mut w =
        MessageWriter::new(&mut di, message_type(DATA, Class::Indication), &[9; 12]).unwrap();
    w.xor_address(ATTR_XOR_PEER_ADDRESS, peer).unwrap();
    w.attr(ATTR_DATA, b"pong!").unwrap();
    let dn = w.finish();
    assert!(c.accepts(&di[..dn]));
    assert_eq!(c.unwrap(&di[..dn]), Some((peer, &b"pong!"[..])));
    assert_eq!(
        c.handle_input(now, &di[..dn]),
        Ok(Some((peer, &b"pong!"[..])))
    );
    assert_eq!(
        c.handle_input(now, &out[..n]),
        Ok(Some((peer, &b"ping"[..])))
    );
    assert_eq!(c.handle_input(now, &di[..dn - 1]), Err(StunDrop::Truncated));
    // Unknown channel: counted.
    assert_eq!(c.unwrap(&[0x40, 0x07, 0, 1, 0]), None);
    assert_eq!(c.stats().drops_for(StunDrop::BadChannelData), 1);

    // The permission is refreshed every 240 s; the channel, used only at
    // the instant it was bound, is not (see entries_in_use_are_refreshed).
    let log = run(&mut c, &s, now, now + PERMISSION_REFRESH);
    assert_eq!(
        requests(&log, CREATE_PERMISSION),
        [(now + PERMISSION_REFRESH, peer)]
    );
    assert_eq!(requests(&log, CHANNEL_BIND), []);
}

#[test]
fn forged_success_is_dropped() {
    let now = Instant::from_secs(1);
    let mut c = TurnClient::new(addr(SERVER), "u", "p", Rng::from_seed([6; 32]));
    let s = Server::new();
    c.handle_timeout(now);
    let first = send(&mut c, now);
    c.handle_datagram(now, &s.challenge(&first, 401)).unwrap();
    let second = send(&mut c, now);
    let mut ok = s.accept(&second, 600);
    // A response signed with a guessed password: the HMAC fails.
    let forged = Server {
        key: long_term_key("u", "r", "guess"),
        nonce: s.nonce,
    };
    let mut bad = ok.clone();
    let n = bad.len();
    let good_mac = Message::parse(&ok)
        .unwrap()
        .attr(ATTR_MESSAGE_INTEGRITY)
        .unwrap()
        .to_vec();
    let mut w =
        MessageWriter::new(&mut bad[..], 0x0103, &second[8..20].try_into().unwrap()).unwrap();
    w.xor_address(ATTR_XOR_RELAYED_ADDRESS, addr(RELAYED))
        .unwrap();
    w.message_integrity(&forged.key).unwrap();
    let bn = w.finish();
    bad.truncate(bn);
    assert_ne!(&bad[bn - 20..], &good_mac[..]);
    let _ = n;
    assert_eq!(c.handle_datagram(now, &bad), Err(StunDrop::Unauthenticated));
    // Unknown transaction.
    ok[8] ^= 1;
    assert_eq!(
        c.handle_datagram(now, &ok),
        Err(StunDrop::UnexpectedTransaction)
    );
    ok[8] ^= 1;
    assert_eq!(c.handle_datagram(now, &ok), Ok(()));
    assert_eq!(c.stats().drops_for(StunDrop::Unauthenticated), 1);
    assert_eq!(c.stats().drops_for(StunDrop::UnexpectedTransaction), 1);
}

#[test]
fn wrong_password_fails_after_bounded_rounds() {
    let now = Instant::from_secs(1);
    let mut c = TurnClient::new(addr(SERVER), "u", "bad", Rng::from_seed([7; 32]));
    let s = Server::new();
    c.handle_timeout(now);
    let mut rounds = 0;
    loop {
        let mut buf = [0u8; 512];
        let Some((_, n)) = c.poll_transmit(now, &mut buf) else {
            break;
        };
        rounds += 1;
        c.handle_datagram(now, &s.challenge(&buf[..n], 401))
            .unwrap();
    }
    assert_eq!(rounds, 1 + MAX_AUTH_ROUNDS as usize);
    assert_eq!(c.poll_event(), Some(TurnEvent::Failed));
    assert_eq!(c.poll_timeout(), Some(now + ALLOCATION_RETRY));
}

#[test]
fn silent_server_fails_once_then_retries() {
    let now = Instant::from_secs(1);
    let mut c = TurnClient::new(addr(SERVER), "u", "p", Rng::from_seed([8; 32]));
    let mut t = now;
    let mut sent = 0;
    let mut buf = [0u8; 512];
    while c.poll_event().is_none() {
        c.handle_timeout(t);
        while c.poll_transmit(t, &mut buf).is_some() {
            sent += 1;
        }
        t = c.poll_timeout().unwrap();
    }
    assert_eq!(sent, REQUEST_COUNT);
    assert_eq!(c.relayed(), None);
    let next = c.poll_timeout().unwrap();
    assert_eq!(next - now, Duration::from_millis(7500) + ALLOCATION_RETRY);
}

#[test]
fn allocation_mismatch_deletes_and_reallocates() {
    let now = Instant::from_secs(1);
    let mut c = TurnClient::new(addr(SERVER), "u", "p", Rng::from_seed([9; 32]));
    let s = Server::new();
    c.handle_timeout(now);
    let first = send(&mut c, now);
    c.handle_datagram(now, &s.challenge(&first, 401)).unwrap();
    let second = send(&mut c, now);
    c.handle_datagram(now, &s.challenge(&second, 437)).unwrap();
    let del = send(&mut c, now);
    let m = Message::parse(&del).unwrap();
    assert_eq!(m.method(), REFRESH);
    assert_eq!(m.attr(ATTR_LIFETIME), Some(&[0, 0, 0, 0][..]));
    c.handle_datagram(now, &s.accept(&del, 0)).unwrap();
    let again = send(&mut c, now);
    assert_eq!(Message::parse(&again).unwrap().method(), ALLOCATE);
    c.handle_datagram(now, &s.accept(&again, 600)).unwrap();
    assert!(matches!(c.poll_event(), Some(TurnEvent::Allocated { .. })));
}

#[test]
fn keepalive_notices_rebinding() {
    let now = Instant::from_secs(1);
    let (mut c, s) = allocated(now);
    let mut buf = [0u8; 512];
    let answer = |c: &mut TurnClient, t: Instant, req: &[u8], seen: &str| {
        let m = Message::parse(req).unwrap();
        assert_eq!(m.method(), BINDING);
        let mut out = [0u8; 64];
        let n =
            crate::core::stun::binding::write_response(&mut out, &m.transaction_id(), addr(seen))
                .unwrap();
        assert_eq!(c.handle_datagram(t, &out[..n]), Ok(()));
    };
    let t1 = now + TURN_KEEPALIVE;
    assert_eq!(c.poll_timeout(), Some(t1));
    let (_, n) = c.poll_transmit(t1, &mut buf).unwrap();
    answer(&mut c, t1, &buf[..n], MAPPED);
    assert_eq!(c.poll_event(), None);
    assert_eq!(c.relayed(), Some(addr(RELAYED)));
    // The NAT forgot us: the server now sees another port.
    let t2 = t1 + TURN_KEEPALIVE;
    let (_, n) = c.poll_transmit(t2, &mut buf).unwrap();
    answer(&mut c, t2, &buf[..n], "203.0.113.7:41001");
    assert_eq!(c.poll_event(), Some(TurnEvent::Failed));
    assert_eq!(c.relayed(), None);
    // A new allocation starts at once (with the credentials we have).
    let req = send(&mut c, t2);
    let m = Message::parse(&req).unwrap();
    assert_eq!(m.method(), ALLOCATE);
    assert_eq!(m.check_integrity(&s.key), Ok(()));
    // check_now sends a keepalive immediately once allocated again.
    c.handle_datagram(t2, &s.accept(&req, 600)).unwrap();
    assert!(matches!(c.poll_event(), Some(TurnEvent::Allocated { .. })));
    c.check_now(t2);
    let k = send(&mut c, t2);
    assert_eq!(Message::parse(&k).unwrap().method(), BINDING);
}

#[test]
fn silent_keepalive_means_lost_allocation() {
    let now = Instant::from_secs(1);
    let (mut c, _) = allocated(now);
    let mut t = now + TURN_KEEPALIVE;
    let mut buf = [0u8; 512];
    let mut sent = Vec::new();
    loop {
        c.handle_timeout(t);
        sent.clear();
        while let Some((_, n)) = c.poll_transmit(t, &mut buf) {
            sent.push(Message::parse(&buf[..n]).unwrap().method());
        }
        if let Some(e) = c.poll_event() {
            assert_eq!(e, TurnEvent::Failed);
            break;
        }
        t = c.poll_timeout().unwrap();
    }
    assert_eq!(t - (now + TURN_KEEPALIVE), Duration::from_millis(7500));
    // Allocating again right away.
    assert_eq!(sent, [ALLOCATE]);
}

/// Requests the client sent: (time, method, XOR-PEER-ADDRESS).
type Log = Vec<(Instant, u16, Option<SocketAddr>)>;

/// Runs the client from `from` to `until` (inclusive) against a server that
/// answers every request: keepalives with the unchanged mapping, the rest
/// with success.
fn run(c: &mut TurnClient, s: &Server, from: Instant, until: Instant) -> Log {
    let mut log = Log::new();
    let mut t = from;
    let mut buf = [0u8; 512];
    loop {
        c.handle_timeout(t);
        while let Some((_, n)) = c.poll_transmit(t, &mut buf) {
            let req = buf[..n].to_vec();
            let m = Message::parse(&req).unwrap();
            let id = m.transaction_id();
            let peer = m
                .attr(ATTR_XOR_PEER_ADDRESS)
                .map(|a| attr::xor_address(a, &id).unwrap());
            log.push((t, m.method(), peer));
            if m.method() == BINDING {
                let mut out = [0u8; 64];
                let rn = crate::core::stun::binding::write_response(&mut out, &id, addr(MAPPED))
                    .unwrap();
                c.handle_datagram(t, &out[..rn]).unwrap();
            } else {
                c.handle_datagram(t, &s.accept(&req, 600)).unwrap();
            }
        }
        match c.poll_timeout() {
            Some(next) if next <= until => t = next.max(t),
            _ => return log,
        }
    }
}

/// (time, peer address) of the logged requests of `method`.
fn requests(log: &Log, method: u16) -> Vec<(Instant, SocketAddr)> {
    log.iter()
        .filter(|r| r.1 == method)
        .map(|r| (r.0, r.2.unwrap()))
        .collect()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn forty_members_three_addresses_each_one_permission_per_ip() {
    let now = Instant::from_secs(1);
    let (mut c, s) = allocated(now);
    let mut expected = Vec::new();
    for i in 1..=40u8 {
        // Host (LAN: useless at a public server), reflexive, and the
        // port another observer saw: one public IP.
        assert!(!c.permit(now, addr(&format!("10.0.{i}.2:5800"))));
        assert!(c.permit(now, addr(&format!("198.51.100.{i}:41000"))));
        assert!(c.permit(now, addr(&format!("198.51.100.{i}:52000"))));
        expected.push(ip(&format!("198.51.100.{i}")));
    }
    let log = run(&mut c, &s, now, now + Duration::from_secs(5));
    let mut sent: Vec<IpAddr> = requests(&log, CREATE_PERMISSION)
        .iter()
        .map(|(_, a)| a.ip())
        .collect();
    assert_eq!(sent.len(), 40);
    sent.sort();
    assert_eq!(sent, expected);
    assert_eq!(requests(&log, CHANNEL_BIND), []);
    assert_eq!(c.permitted().count(), 40);
}

#[test]
fn full_table_evicts_the_least_recently_used() {
    let t0 = Instant::from_secs(1);
    let (mut c, s) = allocated(t0);
    let member = |i: usize| addr(&format!("198.51.{}.{}:41000", i / 200, i % 200 + 1));
    let mut log = Log::new();
    for i in 0..MAX_PERMISSIONS {
        let t = t0 + Duration::from_secs(i as u64);
        assert!(c.permit(t, member(i)));
        log.extend(run(&mut c, &s, t, t));
    }
    // Member 0 is announced again; member 1 is now the least recently used.
    let t1 = t0 + Duration::from_secs(150);
    assert!(c.permit(t1, member(0)));
    let late = addr("203.0.113.99:41000");
    assert!(c.permit(t1, late));
    log.extend(run(&mut c, &s, t1, t1 + Duration::from_secs(5)));
    let sent = requests(&log, CREATE_PERMISSION);
    assert_eq!(sent.len(), MAX_PERMISSIONS + 1);
    assert_eq!(sent.last(), Some(&(t1, late)));
    let table: Vec<IpAddr> = c.permitted().collect();
    assert_eq!(table.len(), MAX_PERMISSIONS);
    assert!(table.contains(&late.ip()) && table.contains(&member(0).ip()));
    assert!(!table.contains(&member(1).ip()));
    assert!(table.contains(&member(2).ip()));
}

#[test]
fn channel_bound_on_first_send() {
    let now = Instant::from_secs(1);
    let (mut c, s) = allocated(now);
    let peer = addr("198.51.100.20:5800");
    let other_port = addr("198.51.100.20:5900");
    assert!(c.permit(now, peer));
    let log = run(&mut c, &s, now, now);
    assert_eq!(requests(&log, CREATE_PERMISSION), [(now, peer)]);
    assert_eq!(requests(&log, CHANNEL_BIND), []);
    // First packet: a Send indication; the channel is bound next.
    let mut out = [0u8; 128];
    let n = c.wrap(peer, b"ping", &mut out).unwrap();
    let si = Message::parse(&out[..n]).unwrap();
    assert_eq!((si.method(), si.class()), (SEND, Class::Indication));
    let n = c.wrap(other_port, b"ping", &mut out).unwrap();
    assert_eq!(Message::parse(&out[..n]).unwrap().method(), SEND);
    let t = now + Duration::from_millis(10);
    let log = run(&mut c, &s, t, t);
    assert_eq!(
        requests(&log, CHANNEL_BIND),
        [(t, peer), (t, other_port)],
        "one channel per address"
    );
    assert_eq!(
        requests(&log, CREATE_PERMISSION),
        [],
        "one permission per IP"
    );
    assert_eq!(
        (c.channel(peer), c.channel(other_port)),
        (Some(0x4000), Some(0x4001))
    );
    let n = c.wrap(peer, b"ping", &mut out).unwrap();
    assert_eq!(&out[..n], &[0x40, 0x00, 0x00, 0x04, b'p', b'i', b'n', b'g']);
    // Forgotten: gone locally, the next send starts over.
    c.remove_peer(other_port);
    assert_eq!(c.channel(other_port), None);
    assert_eq!(c.unwrap(&[0x40, 0x01, 0, 1, 7]), None);
}

/// An allocated client at `t0` that permitted one peer and sent it one
/// packet (so a channel is due).
fn one_peer_sent_to(t0: Instant) -> (TurnClient, Server, SocketAddr) {
    let (mut c, s) = allocated(t0);
    let peer = addr("198.51.100.20:5800");
    assert!(c.permit(t0, peer));
    let mut out = [0u8; 128];
    c.wrap(peer, b"ping", &mut out).unwrap();
    (c, s, peer)
}

/// Seconds after `t0` at which `method` requests went out.
fn request_secs(log: &Log, method: u16, t0: Instant) -> Vec<u64> {
    requests(log, method)
        .iter()
        .map(|(t, _)| (*t - t0).as_secs())
        .collect()
}

#[test]
fn idle_entries_stop_refreshing() {
    let t0 = Instant::from_secs(1);
    let (mut c, s, peer) = one_peer_sent_to(t0);
    let log = run(&mut c, &s, t0, t0 + Duration::from_secs(1500));
    // Unused after t0: refreshed while younger than PERMISSION_IDLE.
    assert_eq!(request_secs(&log, CREATE_PERMISSION, t0), [0, 240, 480]);
    assert_eq!(request_secs(&log, CHANNEL_BIND, t0), [0]);
    assert_eq!(c.permitted().count(), 0);
    assert_eq!(c.channel(peer), None);
    // Only keepalives remain.
    assert_eq!(c.poll_timeout(), Some(t0 + Duration::from_secs(1510)));
}

#[test]
fn entries_in_use_are_refreshed() {
    let t0 = Instant::from_secs(1);
    let (mut c, s, peer) = one_peer_sent_to(t0);
    let t1 = t0 + Duration::from_secs(300);
    let mut log = run(&mut c, &s, t0, t1);
    // The peer answers on the channel at 300 s.
    let data = [0x40, 0x00, 0x00, 0x02, b'h', b'i'];
    assert_eq!(c.handle_input(t1, &data), Ok(Some((peer, &b"hi"[..]))));
    log.extend(run(&mut c, &s, t1, t0 + Duration::from_secs(1500)));
    assert_eq!(
        request_secs(&log, CREATE_PERMISSION, t0),
        [0, 240, 480, 720]
    );
    // Bound at 0, used at 300: bound again at 480; idle since, it stays
    // (still decodes) until the server's binding ends at 1080.
    assert_eq!(request_secs(&log, CHANNEL_BIND, t0), [0, 480]);
    assert_eq!(c.channel(peer), None);
}

#[test]
fn new_allocation_rebinds_on_use_and_permits_again() {
    let now = Instant::from_secs(1);
    let (mut c, s) = allocated(now);
    let peer = addr("198.51.100.20:5800");
    c.add_peer(now, peer);
    let log = run(&mut c, &s, now, now);
    assert_eq!(requests(&log, CHANNEL_BIND), [(now, peer)]);
    assert_eq!(c.channel(peer), Some(0x4000));
    // A NAT rebinding orphans the allocation: channels go with it, the
    // permission is asked for again on the new one.
    let mut buf = [0u8; 512];
    let t = now + TURN_KEEPALIVE;
    let (_, n) = c.poll_transmit(t, &mut buf).unwrap();
    let m = Message::parse(&buf[..n]).unwrap();
    let mut out = [0u8; 64];
    let rn = crate::core::stun::binding::write_response(
        &mut out,
        &m.transaction_id(),
        addr("203.0.113.7:41001"),
    )
    .unwrap();
    c.handle_datagram(t, &out[..rn]).unwrap();
    assert_eq!(c.poll_event(), Some(TurnEvent::Failed));
    assert_eq!(c.channel(peer), None);
    let log = run(&mut c, &s, t, t);
    let methods: Vec<u16> = log.iter().map(|r| r.1).collect();
    assert_eq!(methods, [ALLOCATE, CREATE_PERMISSION]);
}
