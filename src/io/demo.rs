//! `ipop demo`: a local three-node group with no server. Three network
//! namespaces on one bridge, three `ipop run` processes (the second and third
//! know only the first; gossip introduces them to each other), pings over
//! IPv4 and IPv6, a status table, and everything removed again, also on
//! Ctrl-C. Namespace plumbing uses `ip` from iproute2.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::cli::CliError;
use super::keyfile;
use crate::config::base64;
use crate::core::identity::{Uid, DEFAULT_IP6_PREFIX};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

const NODES: [char; 3] = ['a', 'b', 'c'];
const PORT: u16 = 5800;

fn ns(n: char) -> String {
    format!("ipopdemo-{n}")
}
const HUB: &str = "ipopdemo-hub";

fn underlay(i: usize) -> String {
    format!("10.77.0.{}", i + 1)
}
fn overlay(i: usize) -> String {
    format!("10.254.0.{}", i + 1)
}

/// Everything the demo made; dropping it removes all of it.
struct World {
    dir: PathBuf,
    children: Vec<Child>,
}

impl Drop for World {
    fn drop(&mut self) {
        for c in &mut self.children {
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
        }
        for c in &mut self.children {
            let _ = c.wait();
        }
        for n in NODES {
            let _ = quiet(&["ip", "netns", "del", &ns(n)]);
        }
        let _ = quiet(&["ip", "netns", "del", HUB]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn quiet(cmd: &[&str]) -> std::io::Result<bool> {
    Ok(Command::new(cmd[0])
        .args(&cmd[1..])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()?
        .success())
}

fn sh(cmd: &[&str]) -> Result<(), CliError> {
    let out = Command::new(cmd[0]).args(&cmd[1..]).output().map_err(|e| {
        CliError::Runtime(format!(
            "cannot run {}: {e} (is iproute2 installed?)",
            cmd[0]
        ))
    })?;
    if !out.status.success() {
        return Err(CliError::Runtime(format!(
            "`{}` failed: {}",
            cmd.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

fn check_interrupt() -> Result<(), CliError> {
    if INTERRUPTED.load(Ordering::SeqCst) {
        return Err(CliError::Runtime(
            "interrupted; removed everything the demo made".into(),
        ));
    }
    Ok(())
}

pub fn demo() -> Result<(), CliError> {
    if unsafe { libc::geteuid() } != 0 {
        return Err(CliError::Runtime(
            "ipop demo needs root (it creates network namespaces)".into(),
        ));
    }
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
    }
    // Leftovers of an interrupted earlier run.
    for n in NODES {
        let _ = quiet(&["ip", "netns", "del", &ns(n)]);
    }
    let _ = quiet(&["ip", "netns", "del", HUB]);
    let dir = std::env::temp_dir().join(format!("ipop-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)
        .map_err(|e| CliError::Runtime(format!("{}: {e}", dir.display())))?;
    let mut world = World {
        dir: dir.clone(),
        children: Vec::new(),
    };

    println!("building three namespaces on one bridge (underlay 10.77.0.0/24)...");
    sh(&["ip", "netns", "add", HUB])?;
    sh(&["ip", "-n", HUB, "link", "add", "br0", "type", "bridge"])?;
    sh(&["ip", "-n", HUB, "link", "set", "br0", "up"])?;
    for (i, n) in NODES.into_iter().enumerate() {
        let name = ns(n);
        sh(&["ip", "netns", "add", &name])?;
        let (inner, outer) = (format!("ipopd-{n}0"), format!("ipopd-{n}1"));
        sh(&[
            "ip", "link", "add", &inner, "type", "veth", "peer", "name", &outer,
        ])?;
        sh(&["ip", "link", "set", &inner, "netns", &name, "name", "eth0"])?;
        sh(&["ip", "link", "set", &outer, "netns", HUB])?;
        // `master` must be set inside the hub namespace once the device lives there.
        sh(&[
            "ip", "-n", HUB, "link", "set", &outer, "master", "br0", "up",
        ])?;
        sh(&[
            "ip",
            "-n",
            &name,
            "addr",
            "add",
            &format!("{}/24", underlay(i)),
            "dev",
            "eth0",
        ])?;
        sh(&["ip", "-n", &name, "link", "set", "eth0", "up"])?;
        sh(&["ip", "-n", &name, "link", "set", "lo", "up"])?;
    }

    let secrets: Vec<[u8; 32]> = (0..3)
        .map(|_| keyfile::random_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| CliError::Runtime(e.to_string()))?;
    let exe =
        std::env::current_exe().map_err(|e| CliError::Runtime(format!("own executable: {e}")))?;
    for (i, n) in NODES.into_iter().enumerate() {
        let key_file = dir.join(format!("{n}.key"));
        std::fs::write(&key_file, format!("{}\n", base64::encode(&secrets[i])))
            .map_err(|e| CliError::Runtime(e.to_string()))?;
        // b and c know only a; a knows nobody. Gossip does the rest.
        let peers = if i == 0 {
            String::new()
        } else {
            format!(
                "{{\"endpoint\": \"{}:{PORT}\", \"public_key\": \"{}\"}}",
                underlay(0),
                base64::encode(&keyfile::public_of(&secrets[0]))
            )
        };
        let cfg = format!(
            r#"{{
  "CFx": {{ "vpn_type": "GroupVPN", "ip4_mask": 24, "tap_name": "ipop", "listen_port": {PORT},
           "key_file": "{}", "control_socket": "{}", "static_peers": [{peers}] }},
  "TincanSender": {{ "switchmode": 0 }},
  "BaseTopologyManager": {{ "ip4": "{}" }}
}}"#,
            key_file.display(),
            sock(&dir, n).display(),
            overlay(i)
        );
        let path = dir.join(format!("{n}.json"));
        std::fs::write(&path, cfg).map_err(|e| CliError::Runtime(e.to_string()))?;
        let log = std::fs::File::create(dir.join(format!("{n}.log")))
            .map_err(|e| CliError::Runtime(e.to_string()))?;
        let child = Command::new("ip")
            .args(["netns", "exec", &ns(n)])
            .arg(&exe)
            .args(["run", "-v", "--config"])
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| CliError::Runtime(format!("cannot start node {n}: {e}")))?;
        world.children.push(child);
    }
    println!("started nodes a, b, c (overlay 10.254.0.0/24; b and c know only a)");

    let mut report = String::new();
    for (i, j) in [(1, 2), (2, 0), (0, 1)] {
        let v4 = overlay(j);
        let v6 = Uid::from_ip4(v4.parse().unwrap_or(std::net::Ipv4Addr::UNSPECIFIED))
            .ip6(DEFAULT_IP6_PREFIX)
            .to_string();
        for dst in [v4, v6] {
            let rtt = ping_until(&ns(NODES[i]), &dst, Duration::from_secs(20))?;
            let _ = writeln!(report, "  {} -> {:<40} ok, rtt {rtt}", NODES[i], dst);
        }
    }
    println!("pings over the overlay:\n{report}");
    for n in NODES {
        let out = Command::new(&exe)
            .args(["status", "--socket"])
            .arg(sock(&dir, n))
            .output();
        if let Ok(o) = out {
            println!("--- node {n}\n{}", String::from_utf8_lossy(&o.stdout));
        }
    }
    println!("removing namespaces and processes...");
    drop(world);
    println!("done");
    Ok(())
}

fn sock(dir: &Path, n: char) -> PathBuf {
    dir.join(format!("{n}.sock"))
}

/// Pings until one reply comes back; returns the RTT text.
fn ping_until(ns: &str, dst: &str, limit: Duration) -> Result<String, CliError> {
    let start = Instant::now();
    loop {
        check_interrupt()?;
        let out = Command::new("ip")
            .args(["netns", "exec", ns, "ping", "-c", "1", "-W", "1", dst])
            .output()
            .map_err(|e| CliError::Runtime(format!("ping: {e}")))?;
        let text = String::from_utf8_lossy(&out.stdout);
        if out.status.success() {
            let rtt = text
                .split("time=")
                .nth(1)
                .and_then(|s| s.split_whitespace().next())
                .unwrap_or("?");
            return Ok(format!("{rtt} ms"));
        }
        if start.elapsed() > limit {
            return Err(CliError::Runtime(format!(
                "{ns}: no reply from {dst} within {} s",
                limit.as_secs()
            )));
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}
