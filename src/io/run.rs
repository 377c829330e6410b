//! `ipop run`: the event loop of one overlay. Single-threaded: a smol
//! `LocalExecutor` runs one task per input source (TAP, UDP, timers, control
//! socket, signalling), all sharing the sans-IO `Node` through a `RefCell`.
//! After every input the task drains the node's outputs with non-blocking
//! writes; a full socket or TAP queue drops (and counts), never blocks.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;

use async_io::Timer;
use smol::channel;

use super::batch::{RecvBatch, SendBatch, SendFailure, BATCH};
use super::cli::CliError;
use super::keyfile;
use super::tap::{Tap, TapSetup};
use crate::config::OverlayConfig;
use crate::core::node::{Dest, Node, NodeConfig, PeerInfo, Source};
use crate::core::rng::Rng;
use crate::core::time::Instant;

/// Capacities from the board profile.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub pool_buffers: usize,
    pub max_peers: usize,
    pub mac_table: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            pool_buffers: 256,
            max_peers: 128,
            mac_table: 1024,
        }
    }
}

/// The shell's monotonic clock, as the core's `Instant`.
#[derive(Clone, Copy)]
pub struct Clock(std::time::Instant);

impl Clock {
    pub fn new() -> Clock {
        Clock(std::time::Instant::now())
    }
    pub fn now(&self) -> Instant {
        Instant::from_nanos(self.0.elapsed().as_nanos() as u64)
    }
    /// Unix time (ns) at this clock's zero.
    pub fn unix_nanos_at_zero(&self) -> u64 {
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        (since_epoch.saturating_sub(self.0.elapsed())).as_nanos() as u64
    }

    pub fn to_std(&self, t: Instant) -> std::time::Instant {
        self.0 + Duration::from_nanos(t.as_nanos())
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::new()
    }
}

/// Counters of the shell itself (the core counts its own drops).
#[derive(Default)]
pub struct ShellStats {
    pub udp_send_errors: Cell<u64>,
    pub tap_write_errors: Cell<u64>,
    /// Received datagrams longer than the node's buffers, dropped.
    pub udp_truncated: Cell<u64>,
}

/// What the tasks share.
pub struct Shell {
    pub node: RefCell<Node>,
    pub udp: super::udp::Udp,
    pub tap: Tap,
    pub clock: Clock,
    pub stats: ShellStats,
    /// Nudges the timer task when an input moved the next deadline earlier.
    wake: channel::Sender<()>,
    /// The deadline the timer task sleeps until.
    armed: Cell<Option<Instant>>,
    /// UDP outputs gathered for one `sendmmsg` (src/io/batch.rs).
    send_batch: RefCell<SendBatch>,
    pub cfg: OverlayConfig,
    pub local_port: u16,
    /// Signalling state for `ipop status` ("static peers only", "connected
    /// to host:port", "back-off, next try in 8 s", ...).
    pub signalling: RefCell<String>,
}

impl Shell {
    /// Carries out every queued output of the node.
    pub fn flush(&self, node: &mut Node) {
        super::membership::persist(&self.cfg, node);
        // Datagrams the kernel refused as too big (EMSGSIZE), told to the
        // node after the loop (its outputs are borrowed during it).
        let mut too_big: heapless::Vec<(SocketAddr, usize), 8> = heapless::Vec::new();
        let mut failed = |f: SendFailure| {
            self.stats
                .udp_send_errors
                .set(self.stats.udp_send_errors.get() + 1);
            let to = super::udp::unmap(f.to);
            if f.error.raw_os_error() == Some(libc::EMSGSIZE) {
                let _ = too_big.push((to, f.len));
            }
            log::debug!("udp send to {to}: {}", f.error);
        };
        let fd = std::os::fd::AsRawFd::as_raw_fd(self.udp.get_ref());
        let mut batch = self.send_batch.borrow_mut();
        while let Some((dest, bytes)) = node.poll_transmit() {
            match dest {
                Dest::Udp(to) => {
                    if batch.is_full() {
                        batch.send(fd, &mut failed);
                    }
                    if !batch.push(self.udp.get_ref().wire_addr(to), bytes) {
                        // Longer than a batch slot: after the queued ones, alone.
                        batch.send(fd, &mut failed);
                        if let Err(error) = self.udp.get_ref().send_to(bytes, to) {
                            let len = bytes.len();
                            failed(SendFailure { to, len, error });
                        }
                    }
                }
                Dest::Tap => {
                    if self.tap.try_write(bytes).is_err() {
                        self.stats
                            .tap_write_errors
                            .set(self.stats.tap_write_errors.get() + 1);
                    }
                }
            }
        }
        batch.send(fd, &mut failed);
        drop(batch);
        if !too_big.is_empty() {
            let now = self.clock.now();
            for (to, len) in too_big {
                node.handle_too_big(now, to, len);
            }
        }
        // Re-arm the timer only when the node's next deadline moved earlier
        // than the armed one: re-arming per packet costs more than the packet.
        if let Some(t) = node.poll_timeout() {
            if self.armed.get().is_none_or(|armed| t < armed) {
                self.armed.set(Some(t));
                let _ = self.wake.try_send(());
            }
        }
    }
}

/// Builds everything and runs until SIGINT/SIGTERM.
pub fn run(cfg: OverlayConfig, tap_override: Option<&str>, limits: Limits) -> Result<(), CliError> {
    // Signal handlers before any device exists: a SIGTERM that arrives while
    // the TAP is being set up must still take the clean path that removes it.
    let signals = super::signals::install_signal_handlers()
        .map_err(|e| CliError::Runtime(format!("signal handling: {e}")))?;
    // The control socket first: a second node on the same socket fails
    // before it touches the TAP of the running one.
    let control = super::control::ControlServer::bind(&cfg.control_socket)
        .map_err(|e| CliError::Runtime(e.to_string()))?;
    let secret =
        keyfile::load_or_create(&cfg.key_file).map_err(|e| CliError::Runtime(e.to_string()))?;
    let setup = TapSetup::from_config(&cfg, tap_override);
    let tap = Tap::create(&setup).map_err(|e| CliError::Runtime(e.to_string()))?;
    log::info!(
        "TAP {} up: {}/{}, MTU {}, {}",
        setup.name,
        setup.ip4,
        setup.ip4_prefix,
        setup.mtu,
        if cfg.switchmode {
            "switch mode"
        } else {
            "L3 mode"
        }
    );
    let (udp, local_port) = super::udp::open(cfg.listen_port)?;
    let reach = |a: &SocketAddr| udp.get_ref().reaches(a);

    let clock = Clock::new();
    let seed = keyfile::random_bytes().map_err(|e| CliError::Runtime(e.to_string()))?;
    let node_cfg = NodeConfig {
        ip4: cfg.ip4,
        ip4_prefix: cfg.ip4_mask,
        ip6_prefix: cfg.ip6_prefix,
        switchmode: cfg.switchmode,
        static_secret: secret,
        psk: cfg.psk(),
        static_peers: resolve_static_peers(&cfg, &reach),
        accept_unknown: !cfg.static_peers.is_empty() || cfg.xmpp_username.is_none(),
        max_peers: limits.max_peers,
        pool_buffers: limits.pool_buffers,
        mtu: setup.mtu,
        mac_table: limits.mac_table,
        gossip_interval: Duration::from_secs(
            (cfg.interval_management as u64 * cfg.timer_interval as u64).clamp(1, 3600),
        ),
        unix_nanos_at_zero: clock.unix_nanos_at_zero(),
        topology: crate::core::topology::TopologyConfig::from(&cfg),
        stun: resolve_stun(&cfg, &reach),
        turn: resolve_turn(&cfg, &reach),
        mss_clamp: cfg.mss_clamp,
    };
    let mut node = Node::new(node_cfg, Rng::from_seed(seed), clock.now());
    super::membership::setup(&cfg, &mut node, clock.now());
    node.set_tap_mac(tap.mac());
    log::info!(
        "node {} uid {} listening on UDP {local_port}",
        cfg.ip4,
        node.uid()
    );

    let (wake_tx, wake_rx) = channel::bounded(1);
    let send_batch = RefCell::new(SendBatch::new(node.buf_size()));
    let shell = Rc::new(Shell {
        node: RefCell::new(node),
        udp,
        tap,
        clock,
        stats: ShellStats::default(),
        wake: wake_tx,
        armed: Cell::new(None),
        send_batch,
        signalling: RefCell::new(if cfg.xmpp_username.is_some() {
            "starting".into()
        } else {
            "none (static peers and gossip)".into()
        }),
        cfg,
        local_port,
    });
    super::candidates::refresh(&shell);

    let ex = smol::LocalExecutor::new();
    // Every task is boxed to one future type, so the executor's task code
    // is compiled once rather than once per task (6 kB on mipsel); the
    // cost is one allocation per task at start-up.
    let spawn = |task: Pin<Box<dyn Future<Output = ()>>>| ex.spawn(task);
    let result = smol::block_on(ex.run(async {
        let _tasks = [
            spawn(Box::pin(tap_task(shell.clone()))),
            spawn(Box::pin(udp_task(shell.clone()))),
            spawn(Box::pin(timer_task(shell.clone(), wake_rx))),
            spawn(Box::pin(super::control_task::serve(shell.clone(), control))),
            spawn(Box::pin(super::candidates::watch(shell.clone()))),
            spawn(Box::pin(super::signalling::run(shell.clone()))),
            spawn(Box::pin(super::servers::run(shell.clone()))),
        ];
        super::signals::wait_for_shutdown(&signals).await
    }));
    match Rc::try_unwrap(shell) {
        Ok(shell) => shell.tap.shutdown(),
        Err(_) => log::debug!("tasks still hold the shell; the TAP goes away with the process"),
    }
    result.map_err(|e| CliError::Runtime(format!("signal handling: {e}")))
}

/// The static peers whose endpoints are literal addresses; names are
/// resolved by [`super::servers`] once the loop runs.
fn resolve_static_peers(
    cfg: &OverlayConfig,
    reach: &dyn Fn(&SocketAddr) -> bool,
) -> Vec<(SocketAddr, [u8; 32])> {
    cfg.static_peers
        .iter()
        .filter_map(|p| Some((literal(&p.endpoint, reach)?, p.public_key)))
        .collect()
}

/// `entry` ("a.b.c.d[:port]", "[v6]:port") if it needs no name lookup and
/// the socket can reach it.
fn literal(entry: &str, reach: &dyn Fn(&SocketAddr) -> bool) -> Option<SocketAddr> {
    let a = super::resolve::literal_entry(entry, super::stun_probe::DEFAULT_PORT)?;
    if !reach(&a) {
        log::warn!("{entry}: this kernel has no IPv6 socket; skipped");
        return None;
    }
    Some(a)
}

async fn tap_task(shell: Rc<Shell>) {
    let mut buf = vec![0u8; 65536];
    loop {
        let n = match shell.tap.read(&mut buf).await {
            Ok(n) => n,
            Err(e) => {
                log::error!("TAP read: {e}");
                Timer::after(Duration::from_millis(100)).await;
                continue;
            }
        };
        let mut node = shell.node.borrow_mut();
        let now = shell.clock.now();
        node.handle_tap_frame(now, &buf[..n]);
        // Drain what else is ready before yielding (one clock read, one
        // flush, whose datagrams leave in one sendmmsg): fewer wake-ups and
        // system calls under load.
        for _ in 0..BATCH {
            match shell.tap.try_read(&mut buf) {
                Ok(n) => node.handle_tap_frame(now, &buf[..n]),
                Err(_) => break,
            }
        }
        shell.flush(&mut node);
    }
}

async fn udp_task(shell: Rc<Shell>) {
    let mut batch = RecvBatch::new(shell.node.borrow().buf_size());
    let fd = std::os::fd::AsRawFd::as_raw_fd(shell.udp.get_ref());
    loop {
        if let Err(e) = shell.udp.readable().await {
            log::debug!("udp wait: {e}");
            continue;
        }
        let mut node = shell.node.borrow_mut();
        // Up to 4 batches (one recvmmsg each) per wake-up, one clock read
        // and one flush per batch; then the other tasks get their turn.
        for _ in 0..4 {
            let n = match batch.recv(fd) {
                Ok(n) => n,
                Err(e) => {
                    if e.kind() != io::ErrorKind::WouldBlock {
                        log::debug!("udp recv: {e}");
                    }
                    0
                }
            };
            let now = shell.clock.now();
            for i in 0..n {
                if let Some((from, buf)) = batch.get(i) {
                    node.handle_datagram(now, super::udp::unmap(from), buf);
                }
            }
            shell.flush(&mut node);
            if n < BATCH {
                break;
            }
        }
        shell.stats.udp_truncated.set(batch.truncated);
    }
}

async fn timer_task(shell: Rc<Shell>, wake: channel::Receiver<()>) {
    let mut timer = Timer::never();
    loop {
        let next = shell.node.borrow().poll_timeout();
        shell.armed.set(next);
        match next {
            Some(t) => timer.set_at(shell.clock.to_std(t)),
            None => timer = Timer::never(),
        }
        let woke = smol::future::or(async { wake.recv().await.is_ok() }, async {
            (&mut timer).await;
            false
        })
        .await;
        if woke {
            continue;
        }
        let mut node = shell.node.borrow_mut();
        node.handle_timeout(shell.clock.now());
        shell.flush(&mut node);
    }
}

/// The config's `stun` entries given as addresses (names: see
/// [`super::servers`]).
fn resolve_stun(cfg: &OverlayConfig, reach: &dyn Fn(&SocketAddr) -> bool) -> Vec<SocketAddr> {
    cfg.stun.iter().filter_map(|s| literal(s, reach)).collect()
}

/// The config's `turn` entries given as addresses.
fn resolve_turn(
    cfg: &OverlayConfig,
    reach: &dyn Fn(&SocketAddr) -> bool,
) -> Vec<(SocketAddr, String, String)> {
    cfg.turn
        .iter()
        .filter_map(|t| Some((literal(&t.server, reach)?, t.user.clone(), t.pass.clone())))
        .collect()
}

/// Feeds a validated announcement (from signalling) to the node.
pub fn announce(shell: &Shell, info: &PeerInfo, source: Source) {
    let mut node = shell.node.borrow_mut();
    if node.valid_info(info) {
        node.handle_announce(shell.clock.now(), info, source);
        shell.flush(&mut node);
    }
}
