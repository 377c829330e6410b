//! `Tap::create` against the real kernel. Each test moves its own thread into
//! a fresh network namespace (unshare(CLONE_NEWNET)), so it sees only the
//! devices it makes and leaves nothing on the host. Needs root (CI runs as root).

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, UdpSocket};
use std::time::{Duration, Instant};

use ipop::io::ifctl;
use ipop::io::tap::{interface_mtu, read_back, Tap, TapError, TapSetup};

const SIOCBRADDBR: libc::c_ulong = 0x89a0; // include/uapi/linux/sockios.h

fn enter_fresh_netns() {
    // SAFETY: affects only the calling thread's network namespace.
    let rc = unsafe { libc::unshare(libc::CLONE_NEWNET) };
    assert_eq!(
        rc,
        0,
        "unshare(CLONE_NEWNET) failed: {} (these tests need root)",
        io::Error::last_os_error()
    );
}

fn make_bridge(name: &str) {
    let mut cname = [0 as libc::c_char; libc::IFNAMSIZ];
    for (d, s) in cname.iter_mut().zip(name.bytes()) {
        *d = s as libc::c_char;
    }
    // SAFETY: plain syscalls on a fresh socket with a NUL-terminated name.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0);
        assert!(fd >= 0);
        let rc = libc::ioctl(fd, SIOCBRADDBR as _, cname.as_ptr());
        libc::close(fd);
        assert_eq!(rc, 0, "SIOCBRADDBR: {}", io::Error::last_os_error());
    }
}

fn outer() -> TapSetup {
    TapSetup {
        name: "tunnel-tap".into(),
        mtu: 1280,
        ip4: Ipv4Addr::new(192, 168, 1, 100),
        ip4_prefix: 16,
        ip6: Some(("fd50:dbc:41f2:4a3c:25c9:651:c297:fef3".parse().unwrap(), 64)),
        noarp: true,
        bridge: None,
    }
}

fn inner() -> TapSetup {
    TapSetup {
        name: "ipop".into(),
        mtu: 1280,
        ip4: Ipv4Addr::new(10, 0, 3, 100),
        ip4_prefix: 24,
        ip6: Some((
            "fd50:dbc:41f2:4a3c:f46d:6281:ae45:f92e".parse().unwrap(),
            64,
        )),
        noarp: false,
        bridge: None,
    }
}

fn assert_gone(name: &str) {
    let err = ifctl::if_index(name).unwrap_err();
    assert_eq!(
        err.raw_os_error(),
        Some(libc::ENODEV),
        "{name} still exists"
    );
}

#[test]
fn outer_seed_l3_tap() {
    enter_fresh_netns();
    let tap = Tap::create(&outer()).unwrap();
    let info = read_back("tunnel-tap").unwrap();
    assert_eq!(info.ifindex, tap.ifindex());
    assert_eq!(info.mac, tap.mac());
    assert_eq!(info.mac[0] & 1, 0, "unicast MAC");
    assert_ne!(info.mac, [0; 6]);
    assert_eq!(info.mtu, 1280);
    assert!(info.is_up());
    assert!(info.noarp());
    assert_eq!(info.ip4, vec![(Ipv4Addr::new(192, 168, 1, 100), 16)]);
    let want6: Ipv6Addr = "fd50:dbc:41f2:4a3c:25c9:651:c297:fef3".parse().unwrap();
    assert_eq!(info.ip6_global(), vec![(want6, 64)]);
    assert_eq!(info.master, None);
    assert_eq!(interface_mtu("tunnel-tap"), Some(1280));

    let start = Instant::now();
    tap.shutdown();
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "shutdown took {:?}",
        start.elapsed()
    );
    assert_gone("tunnel-tap");
}

#[test]
fn inner_seed_switch_mode_tap_keeps_arp() {
    enter_fresh_netns();
    let tap = Tap::create(&inner()).unwrap();
    let info = read_back("ipop").unwrap();
    assert_eq!(info.mtu, 1280);
    assert!(info.is_up());
    assert!(!info.noarp());
    assert_eq!(info.ip4, vec![(Ipv4Addr::new(10, 0, 3, 100), 24)]);
    let want6: Ipv6Addr = "fd50:dbc:41f2:4a3c:f46d:6281:ae45:f92e".parse().unwrap();
    assert_eq!(info.ip6_global(), vec![(want6, 64)]);
    drop(tap);
    assert_gone("ipop");
}

#[test]
fn bridged_tap_is_a_port_and_leaves_cleanly() {
    enter_fresh_netns();
    make_bridge("ipopbr0");
    let mut s = inner();
    s.bridge = Some("ipopbr0".into());
    let tap = Tap::create(&s).unwrap();
    assert_eq!(
        read_back("ipop").unwrap().master.as_deref(),
        Some("ipopbr0")
    );
    tap.shutdown();
    assert_gone("ipop");
    // The bridge itself is not ours: it stays.
    assert_eq!(read_back("ipopbr0").unwrap().master, None);

    // A missing bridge is refused before any device is made.
    s.bridge = Some("nosuchbr".into());
    match Tap::create(&s) {
        Err(e @ TapError::BridgeMissing { .. }) => {
            assert_eq!(
                e.to_string(),
                "bridge 'nosuchbr' does not exist (create it first, e.g. br-lan)"
            )
        }
        other => panic!("expected BridgeMissing, got {other:?}"),
    }
    assert_gone("ipop");

    // An existing interface that is not a bridge.
    let plain = TapSetup {
        name: "plain0".into(),
        bridge: None,
        ..outer()
    };
    let _plain = Tap::create(&plain).unwrap();
    s.bridge = Some("plain0".into());
    match Tap::create(&s) {
        Err(e @ TapError::NotABridge { .. }) => {
            assert_eq!(e.to_string(), "'plain0' exists but is not a Linux bridge")
        }
        other => panic!("expected NotABridge, got {other:?}"),
    }
    assert_gone("ipop");
}

#[test]
fn name_taken_is_refused() {
    enter_fresh_netns();
    let _first = Tap::create(&outer()).unwrap();
    match Tap::create(&outer()) {
        Err(e) => assert_eq!(
            e.to_string(),
            "cannot create TAP 'tunnel-tap': an interface of that name already exists"
        ),
        Ok(_) => panic!("second TAP with the same name was created"),
    }
    // The failed attempt must not have touched the first one.
    assert_eq!(
        read_back("tunnel-tap").unwrap().ip4,
        vec![(Ipv4Addr::new(192, 168, 1, 100), 16)]
    );
}

/// An IPv4/UDP packet from 10.0.3.7:4000 to `dst`, in an Ethernet frame.
fn udp_frame(dst_mac: [u8; 6], dst: Ipv4Addr, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&dst_mac);
    f.extend_from_slice(&[0x02, 0, 0, 0, 0, 7]);
    f.extend_from_slice(&[0x08, 0x00]);
    let total = (20 + 8 + payload.len()) as u16;
    let mut ip = [0u8; 20];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    ip[8] = 64;
    ip[9] = 17;
    ip[12..16].copy_from_slice(&[10, 0, 3, 7]);
    ip[16..20].copy_from_slice(&dst.octets());
    let mut sum: u32 = ip
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    ip[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(&4000u16.to_be_bytes());
    f.extend_from_slice(&dport.to_be_bytes());
    f.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0]); // no UDP checksum (allowed over IPv4)
    f.extend_from_slice(payload);
    f
}

#[test]
fn frames_flow_both_ways() {
    enter_fresh_netns();
    let mut s = inner();
    s.noarp = true; // L3 mode: the kernel sends without resolving 10.0.3.7
    let tap = Tap::create(&s).unwrap();

    smol::block_on(async {
        // Kernel -> TAP: a datagram to a subnet peer comes out as a frame.
        let sock = UdpSocket::bind("10.0.3.100:5000").unwrap();
        sock.send_to(b"hello tap", "10.0.3.7:9999").unwrap();
        let mut buf = [0u8; 2048];
        let deadline = Instant::now() + Duration::from_secs(3);
        let frame = loop {
            assert!(
                Instant::now() < deadline,
                "no UDP frame came out of the TAP"
            );
            let read = smol::future::or(tap.read(&mut buf), async {
                async_io::Timer::after(Duration::from_secs(3)).await;
                Err(io::Error::from(io::ErrorKind::TimedOut))
            });
            let n = read.await.unwrap();
            let f = &buf[..n];
            // Skip IPv6 router solicitations / MLD reports the kernel may send.
            if n >= 42 && f[12..14] == [0x08, 0x00] && f[23] == 17 {
                break f.to_vec();
            }
        };
        assert_eq!(&frame[6..12], &tap.mac());
        assert_eq!(&frame[26..30], &[10, 0, 3, 100]);
        assert_eq!(&frame[30..34], &[10, 0, 3, 7]);
        assert_eq!(&frame[34..36], &5000u16.to_be_bytes());
        assert_eq!(&frame[36..38], &9999u16.to_be_bytes());
        assert_eq!(&frame[42..], b"hello tap");

        // TAP -> kernel: a frame written to the TAP reaches a local socket.
        let rx = UdpSocket::bind("10.0.3.100:6000").unwrap();
        rx.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        let f = udp_frame(
            tap.mac(),
            Ipv4Addr::new(10, 0, 3, 100),
            6000,
            b"from the overlay",
        );
        tap.write(&f).await.unwrap();
        let mut got = [0u8; 64];
        let (n, from) = rx.recv_from(&mut got).unwrap();
        assert_eq!(&got[..n], b"from the overlay");
        assert_eq!(from, "10.0.3.7:4000".parse().unwrap());

        // try_read on an idle TAP does not block.
        let mut idle = [0u8; 2048];
        loop {
            match tap.try_read(&mut idle) {
                Ok(_) => continue, // drain stray IPv6 control frames
                Err(e) => {
                    assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
                    break;
                }
            }
        }
    });
    tap.shutdown();
    assert_gone("ipop");
}

/// The second paths: the in6_ifreq ioctl (netlink's fallback) and the
/// IFLA_MASTER request (used where SIOCBRADDIF is missing, as under qemu).
#[test]
fn fallback_paths_work_natively() {
    use ipop::io::netlink;
    enter_fresh_netns();
    make_bridge("ipopbr1");
    let s = TapSetup {
        ip6: None,
        ..inner()
    };
    let tap = Tap::create(&s).unwrap();
    assert_eq!(read_back("ipop").unwrap().ip6_global(), vec![]);

    let a: Ipv6Addr = "fd50:dbc:41f2:4a3c:f46d:6281:ae45:f92e".parse().unwrap();
    ifctl::add_ipv6(tap.ifindex(), a, 64).unwrap();
    assert_eq!(read_back("ipop").unwrap().ip6_global(), vec![(a, 64)]);
    ifctl::del_ipv6(tap.ifindex(), a, 64).unwrap();
    assert_eq!(read_back("ipop").unwrap().ip6_global(), vec![]);
    netlink::add_addr6(tap.ifindex(), a, 64).unwrap();
    let dup = netlink::add_addr6(tap.ifindex(), a, 64).unwrap_err();
    assert_eq!(dup.raw_os_error(), Some(libc::EEXIST));
    netlink::del_addr6(tap.ifindex(), a, 64).unwrap();
    assert_eq!(read_back("ipop").unwrap().ip6_global(), vec![]);

    let br = ifctl::if_index("ipopbr1").unwrap();
    netlink::set_master(tap.ifindex(), br).unwrap();
    assert_eq!(
        read_back("ipop").unwrap().master.as_deref(),
        Some("ipopbr1")
    );
    netlink::set_master(tap.ifindex(), 0).unwrap();
    assert_eq!(read_back("ipop").unwrap().master, None);
    let err = netlink::set_master(tap.ifindex(), 999).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EINVAL));
    tap.shutdown();
    assert_gone("ipop");
}
