//! Configuration: the typed overlay config, read from IPOP 16.01 JSON or from
//! OpenWrt UCI. Every key of the 16.01 format has a field here; keys ipop adds
//! live in `CFx` in JSON and are marked "ipop" below.
//!
//! Units follow IPOP 16.01: `ttl_*` are seconds, `interval_*` are ticks of
//! `timer_interval` seconds, `threshold_on_demand` is bytes per second.

pub mod base64;

use std::net::Ipv4Addr;
use std::path::PathBuf;

/// One overlay (one IPOP config file, or one UCI `config overlay` section).
#[derive(Clone, Debug, PartialEq)]
pub struct OverlayConfig {
    // --- CFx ---
    pub xmpp_username: Option<String>,
    pub xmpp_password: Option<String>,
    pub xmpp_host: Option<String>,
    pub xmpp_port: u16,
    pub tincan_logging: u8,
    pub vpn_type: String,
    pub ip4_mask: u8,
    pub ip6_mask: u8,
    pub subnet_mask: u8,
    pub network_ignore_list: Vec<String>,
    pub contr_port: u16,
    pub local_uid: String,
    pub uid_size: u8,
    pub trim_enabled: bool,
    pub router_mode: bool,
    pub ipop_ver_rel: String,
    // --- CFx, ipop's own keys ---
    /// ipop: TAP device name (the seed passes it to tincan on the command line).
    pub tap_name: String,
    /// ipop: UDP port of the overlay's one socket; 0 = any.
    pub listen_port: u16,
    /// ipop: file holding this node's X25519 private key (created 0600).
    pub key_file: PathBuf,
    /// ipop: optional pre-shared key of the overlay (Noise psk).
    pub group_secret: Option<String>,
    /// ipop: bootstrap peers for server-less groups.
    pub static_peers: Vec<StaticPeer>,
    /// ipop: Linux bridge the TAP joins (replaces `brctl addif`).
    pub bridge: Option<String>,
    /// ipop: TAP MTU; None = 1280.
    pub mtu: Option<u16>,
    /// ipop: Unix socket for `ipop status`.
    pub control_socket: PathBuf,
    /// ipop: XMPP TLS: CA bundle file to verify the server with.
    pub xmpp_ca_file: Option<PathBuf>,
    /// ipop: XMPP TLS: pinned server certificate (PEM).
    pub xmpp_pinned_cert: Option<PathBuf>,
    /// ipop: XMPP TLS: accept any certificate (lab servers only; warns).
    pub xmpp_insecure: bool,
    /// ipop: board profile name (see boards/).
    pub board: Option<String>,
    // --- Logger ---
    pub controller_logging: String,
    // --- TincanListener ---
    pub socket_read_wait_time: u32,
    pub buf_size: u32,
    // --- TincanSender ---
    pub switchmode: bool,
    pub svpn_port: u16,
    pub stun: Vec<String>,
    pub turn: Vec<TurnServer>,
    pub ip6_prefix: [u16; 4],
    pub localhost: String,
    pub localhost6: String,
    // --- BaseTopologyManager ---
    pub ip4: Ipv4Addr,
    pub sec: bool,
    pub multihop: bool,
    pub num_successors: u16,
    pub num_chords: u16,
    pub num_on_demand: u16,
    pub num_inbound: u16,
    pub ttl_link_initial: u32,
    pub ttl_link_pulse: u32,
    pub ttl_chord: u32,
    pub ttl_on_demand: u32,
    pub threshold_on_demand: u32,
    pub timer_interval: u32,
    pub interval_management: u32,
    pub use_central_visualizer: bool,
    pub interval_central_visualizer: u32,
    pub num_pings: u16,
    pub interval_ping: u32,
    // --- StatReport ---
    pub stat_report_enabled: bool,
    pub stat_server: String,
    pub stat_server_port: u16,
    pub stat_report_interval: u32,
    // --- CentralVisualizer ---
    pub central_visualizer_enabled: bool,
    pub central_visualizer_name: String,
    pub central_visualizer_addr: String,
    pub central_visualizer_port: u16,
}

/// A bootstrap peer: `{"endpoint": "host:port", "public_key": "<base64>"}`.
#[derive(Clone, Debug, PartialEq)]
pub struct StaticPeer {
    pub endpoint: String,
    pub public_key: [u8; 32],
}

/// A 16.01 `turn` entry.
#[derive(Clone, Debug, PartialEq)]
pub struct TurnServer {
    pub server: String,
    pub user: String,
    pub pass: String,
}
