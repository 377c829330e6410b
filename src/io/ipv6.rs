//! Whether this host lets the overlay have IPv6 at all. Many OpenWrt
//! installs switch IPv6 off (`net.ipv6.conf.all.disable_ipv6=1`), and some
//! small kernels are built without it; nothing in the overlay needs IPv6,
//! so the node then runs IPv4-only instead of refusing to start.
//!
//! The answer comes from `/proc/sys/net/ipv6` (per network namespace: the
//! reader's), read before the address is set, so the reason names the
//! switch to flip rather than a bare errno.

use std::io;
use std::path::Path;

/// Why the kernel will not give IPv6 to interface `ifname` (an existing
/// one: its own `disable_ipv6` inherits `default`, which `all` also sets),
/// or `None` if it will. `ifname = "default"` asks about new interfaces.
pub fn refusal(ifname: &str) -> Option<String> {
    refusal_in(Path::new("/proc/sys/net"), ifname)
}

/// [`refusal`] for a new interface, and what `all` says: for `ipop check`,
/// before any TAP exists.
pub fn host_refusal() -> Option<String> {
    refusal("all").or_else(|| refusal("default"))
}

fn refusal_in(net: &Path, ifname: &str) -> Option<String> {
    // Without /proc/sys/net at all (no procfs) nothing can be said; the
    // address is then tried and its error decides.
    if !net.is_dir() {
        return None;
    }
    let v6 = net.join("ipv6");
    if !v6.is_dir() {
        return Some("the kernel has no IPv6 (module ipv6 not loaded?)".into());
    }
    let flag = v6.join("conf").join(ifname).join("disable_ipv6");
    match std::fs::read_to_string(&flag) {
        Ok(s) if s.trim() != "0" => {
            Some(format!("net.ipv6.conf.{ifname}.disable_ipv6={}", s.trim()))
        }
        _ => None,
    }
}

/// Errors of setting an IPv6 address that mean "this kernel does no IPv6
/// here" rather than a fault: EACCES is what a disabled interface answers,
/// EAFNOSUPPORT and friends a kernel without IPv6.
pub fn is_refusal(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EACCES)
            | Some(libc::EPERM)
            | Some(libc::EAFNOSUPPORT)
            | Some(libc::EPROTONOSUPPORT)
            | Some(libc::EOPNOTSUPP)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Dir(std::path::PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn tree(tag: &str, flags: &[(&str, &str)]) -> Dir {
        let d = std::env::temp_dir().join(format!("ipop-v6-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        for (ifname, v) in flags {
            let conf = d.join("ipv6/conf").join(ifname);
            std::fs::create_dir_all(&conf).unwrap();
            std::fs::write(conf.join("disable_ipv6"), v).unwrap();
        }
        Dir(d)
    }

    #[test]
    fn disabled_absent_and_enabled() {
        let t = tree(
            "sysctl",
            &[("all", "1\n"), ("default", "1\n"), ("ovl", "0\n")],
        );
        assert_eq!(
            refusal_in(&t.0, "all").as_deref(),
            Some("net.ipv6.conf.all.disable_ipv6=1")
        );
        assert_eq!(refusal_in(&t.0, "ovl"), None);
        // An interface the tree does not know: nothing to say.
        assert_eq!(refusal_in(&t.0, "eth9"), None);

        let t = tree("none", &[]);
        std::fs::remove_dir_all(t.0.join("ipv6")).ok();
        assert_eq!(
            refusal_in(&t.0, "ovl").as_deref(),
            Some("the kernel has no IPv6 (module ipv6 not loaded?)")
        );
        assert_eq!(refusal_in(&t.0.join("nonexistent"), "ovl"), None);
    }

    #[test]
    fn refusing_errnos() {
        assert!(is_refusal(&io::Error::from_raw_os_error(libc::EACCES)));
        assert!(is_refusal(&io::Error::from_raw_os_error(
            libc::EAFNOSUPPORT
        )));
        assert!(!is_refusal(&io::Error::from_raw_os_error(libc::EEXIST)));
        assert!(!is_refusal(&io::Error::other("x")));
    }
}
