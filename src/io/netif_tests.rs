use super::*;
use std::process::Command;
use std::time::Duration;

const UP: libc::c_uint = libc::IFF_UP as libc::c_uint;

fn v4(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn keep_rules() {
    let ignore = vec!["eth0".to_string(), "lxcbr0".to_string()];
    let tap = "tunnel-tap";
    assert_eq!(keep("eth1", UP, v4("10.0.0.2"), tap, &ignore), Some("eth1"));
    assert_eq!(keep("eth0", UP, v4("10.0.0.2"), tap, &ignore), None);
    assert_eq!(keep("eth0:1", UP, v4("10.0.0.3"), tap, &ignore), None);
    assert_eq!(
        keep("eth10", UP, v4("10.0.0.3"), tap, &ignore),
        Some("eth10")
    );
    assert_eq!(keep("lxcbr0", UP, v4("10.0.3.1"), tap, &ignore), None);
    assert_eq!(
        keep("tunnel-tap", UP, v4("192.168.1.1"), tap, &ignore),
        None
    );
    assert_eq!(
        keep("tunnel-tap", UP, v4("192.168.1.1"), "ipop", &ignore),
        Some("tunnel-tap")
    );
    assert_eq!(keep("eth1", 0, v4("10.0.0.2"), tap, &ignore), None);
    let lo = UP | libc::IFF_LOOPBACK as libc::c_uint;
    assert_eq!(keep("lo", lo, v4("127.0.0.1"), tap, &ignore), None);
    assert_eq!(keep("eth1", UP, v4("127.0.0.2"), tap, &ignore), None);
    assert_eq!(keep("eth1", UP, v4("fe80::1"), tap, &ignore), None);
    assert_eq!(
        keep("eth1", UP, v4("2001:db8::1"), tap, &ignore),
        Some("eth1")
    );
    assert_eq!(keep("eth1", UP, v4("fd00::1"), tap, &ignore), Some("eth1"));
}

#[test]
fn netlink_message_counting() {
    let mut two = [0u8; 40];
    two[..4].copy_from_slice(&20u32.to_ne_bytes());
    two[20..24].copy_from_slice(&18u32.to_ne_bytes());
    assert_eq!(count_messages(&two), 2);
    assert_eq!(count_messages(&[0, 0, 0, 0]), 0);
    assert_eq!(count_messages(&[1, 2]), 0);
    // The largest length: one message, the rest skipped (no wrap on 32 bits).
    assert_eq!(count_messages(&u32::MAX.to_ne_bytes()), 1);
}

fn ip(args: &str) {
    let st = Command::new("ip")
        .args(args.split_whitespace())
        .status()
        .expect("iproute2 `ip` is installed (tests/nat/apt-packages)");
    assert!(st.success(), "ip {args}");
}

/// Gathering and change notification in a fresh network namespace of this
/// test thread (children such as `ip` inherit it). Needs root, as CI has.
#[test]
fn gathers_in_netns_and_notices_changes() {
    std::thread::spawn(|| {
        // SAFETY: moves only this thread into a new network namespace.
        let rc = unsafe { libc::unshare(libc::CLONE_NEWNET) };
        assert_eq!(
            rc,
            0,
            "unshare(CLONE_NEWNET): {} (needs root)",
            io::Error::last_os_error()
        );
        ip("link set lo up");
        ip("link add name eth0 type veth peer name eth0-p");
        ip("link add name uplink type veth peer name uplink-p");
        ip("link add name tunnel-tap type veth peer name tunnel-p");
        ip("link add name down0 type veth peer name down0-p");
        for dev in ["eth0", "uplink", "tunnel-tap"] {
            ip(&format!("link set {dev} up"));
        }
        ip("addr add 10.1.0.2/24 dev eth0");
        ip("addr add 10.2.0.2/24 dev uplink");
        ip("addr add 10.2.0.3/24 dev uplink label uplink:7");
        ip("addr add 2001:db8::2/64 dev uplink nodad");
        ip("addr add 192.168.1.100/16 dev tunnel-tap");
        ip("addr add 10.9.0.1/24 dev down0");

        let ignore = vec!["eth0".to_string()];
        let got = host_addresses("ipop", &ignore);
        let want: Vec<(String, IpAddr)> = vec![
            ("uplink".into(), v4("10.2.0.2")),
            ("uplink".into(), v4("10.2.0.3")),
            ("tunnel-tap".into(), v4("192.168.1.100")),
            ("uplink".into(), v4("2001:db8::2")),
        ];
        assert_eq!(got, want);
        // The seed's inner overlay: ignore eth0 and lxcbr0, own TAP "ipop";
        // with uplink ignored too only the outer TAP's address remains.
        let ignore = vec!["eth0".into(), "lxcbr0".into(), "uplink".into()];
        assert_eq!(
            host_addresses("ipop", &ignore),
            [("tunnel-tap".to_string(), v4("192.168.1.100"))]
        );
        assert_eq!(
            host_addresses("tunnel-tap", &ignore),
            Vec::<(String, IpAddr)>::new()
        );

        let changes = NetChanges::new().unwrap();
        ip("addr add 10.3.0.2/24 dev uplink");
        let n = smol::block_on(async {
            smol::future::or(async { Some(changes.wait().await.unwrap()) }, async {
                smol::Timer::after(Duration::from_secs(5)).await;
                None
            })
            .await
        });
        assert!(n.unwrap_or(0) >= 1, "no netlink notification: {n:?}");
        assert!(host_addresses("ipop", &[]).contains(&("uplink".into(), v4("10.3.0.2"))));
    })
    .join()
    .unwrap();
}

#[test]
fn deprecated_tentative_and_failed_ip6_are_unusable() {
    let text = "\
20010db8000000000000000000000001 02 40 00 80     eth0
20010db8000000000000000000000002 02 40 00 a0     eth0
fd000000000000000000000000000003 03 40 00 c0     eth1
fd000000000000000000000000000004 03 40 00 88     eth1
fe800000000000000000000000000005 02 40 20 80     eth0
20010db800000000000000000000000x 02 40 00 a0     eth0
2001 02 40 00 a0 eth0
20010db8000000000000000000000006 02 40 00
";
    let bad: Vec<Ipv6Addr> = ["2001:db8::2", "fd00::3", "fd00::4"]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
    assert_eq!(unusable_ip6(text), bad);
    assert_eq!(unusable_ip6(""), Vec::<Ipv6Addr>::new());
}

#[test]
fn ip6_scopes() {
    let ip = |s: &str| -> IpAddr { s.parse().unwrap() };
    assert_eq!(keep("eth0", UP, ip("2001:db8::1"), "t", &[]), Some("eth0"));
    assert_eq!(keep("eth0", UP, ip("fd00::1"), "t", &[]), Some("eth0"));
    assert_eq!(keep("eth0", UP, ip("fe80::1"), "t", &[]), None);
    assert_eq!(keep("eth0", UP, ip("fec0::1"), "t", &[]), None);
    assert_eq!(keep("eth0", UP, ip("::1"), "t", &[]), None);
    assert_eq!(keep("eth0", UP, ip("ff02::1"), "t", &[]), None);
    let ignore = vec!["eth0".to_string()];
    assert_eq!(keep("eth0", UP, ip("2001:db8::1"), "t", &ignore), None);
}
