//! Configuration: the typed overlay config, read from IPOP 16.01 JSON or from
//! OpenWrt UCI. Every key of the 16.01 format has a field here; keys ipop adds
//! live in `CFx` in JSON and are marked "ipop" below.
//!
//! Units follow IPOP 16.01: `ttl_*` are seconds, `interval_*` are ticks of
//! `timer_interval` seconds, `threshold_on_demand` is bytes per second.

pub mod base64;

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

mod describe;
mod error;
pub(crate) mod json;
mod keys;
pub mod uci;
pub(crate) mod uci_map;
mod value;

#[cfg(test)]
mod tests_json;
#[cfg(test)]
mod tests_readme;
#[cfg(test)]
mod tests_uci;

pub use describe::{describe, describe_loaded, describe_with};
pub use error::{ConfigError, IgnoredKey};
pub use json::to_json;
pub use uci_map::{
    decode_peer, decode_turn, encode_peer, encode_turn, show_file as uci_show_file, to_uci_section,
    valid_section_name,
};

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
    /// ipop: the next group secret (accepted now, used once a peer uses it
    /// or `ipop secret rotate` is run).
    pub group_secret_next: Option<String>,
    /// ipop: seconds the old secret stays accepted after a rotation.
    pub group_secret_grace: u32,
    /// ipop: X25519 public keys (base64) refused as members.
    pub revoked_keys: Vec<String>,
    /// ipop: Ed25519 public key (base64) whose membership statements count.
    pub operator_key: Option<String>,
    /// ipop: bootstrap peers for server-less groups.
    pub static_peers: Vec<StaticPeer>,
    /// ipop: Linux bridge the TAP joins (replaces `brctl addif`).
    pub bridge: Option<String>,
    /// ipop: TAP MTU; None = chosen by `tap_mtu`.
    pub mtu: Option<u16>,
    /// ipop: lower the MSS of TCP SYNs to fit each link's path MTU.
    pub mss_clamp: bool,
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

/// The result of loading one overlay: the config, the keys that were read
/// but have no effect (report each once at start-up), and, for UCI, the
/// section's `enabled` option (always true for JSON files).
#[derive(Clone, Debug, PartialEq)]
pub struct Loaded {
    pub config: OverlayConfig,
    pub ignored: Vec<IgnoredKey>,
    pub enabled: bool,
}

/// Reads an IPOP 16.01 JSON config file (the seed's files load unchanged).
pub fn load_json(path: &Path) -> Result<Loaded, ConfigError> {
    let text = read_text(path)?;
    json::load_str(&text, path)
}

/// Reads the `config overlay 'NAME'` section of a UCI file (`NAME` may
/// also be `@overlay[N]`, the N-th overlay section).
pub fn load_uci(path: &Path, name: &str) -> Result<Loaded, ConfigError> {
    let data = read_bytes(path)?;
    uci_map::load_bytes(&data, path, name)
}

/// The named `config overlay` sections of a UCI file, in file order, with
/// their `enabled` flag (absent = enabled).
pub fn uci_overlays(path: &Path) -> Result<Vec<(String, bool)>, ConfigError> {
    let data = read_bytes(path)?;
    uci_map::overlays(&data, path)
}

pub(crate) fn read_error(path: &Path, e: &std::io::Error) -> ConfigError {
    let reason = match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => e.to_string(),
    };
    ConfigError::Read {
        file: path.to_path_buf(),
        reason,
    }
}

/// Config files larger than this are refused (a mistake, not a config).
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;

pub(crate) fn read_bytes(path: &Path) -> Result<Vec<u8>, ConfigError> {
    let meta = std::fs::metadata(path).map_err(|e| read_error(path, &e))?;
    if meta.is_dir() {
        return Err(ConfigError::Read {
            file: path.to_path_buf(),
            reason: "is a directory".into(),
        });
    }
    if meta.len() > MAX_CONFIG_BYTES {
        return Err(ConfigError::Read {
            file: path.to_path_buf(),
            reason: format!("larger than {MAX_CONFIG_BYTES} bytes"),
        });
    }
    std::fs::read(path).map_err(|e| read_error(path, &e))
}

fn read_text(path: &Path) -> Result<String, ConfigError> {
    let bytes = read_bytes(path)?;
    String::from_utf8(bytes).map_err(|e| ConfigError::Read {
        file: path.to_path_buf(),
        reason: format!(
            "not UTF-8 text (bad byte at offset {})",
            e.utf8_error().valid_up_to()
        ),
    })
}

/// L3 TAP MTU when `mtu` is not set (IPOP 16.01's fixed value).
pub const DEFAULT_MTU: u16 = 1280;
/// Switch-mode TAP MTU without a bridge: an Ethernet segment's.
pub const SWITCH_MTU: u16 = 1500;
/// Linux gives a device IPv6 only from this MTU up.
pub const IPV6_MIN_MTU: u16 = 1280;
/// Label mixed into the group PSK derivation (see `OverlayConfig::psk`).
pub const PSK_LABEL: &[u8] = b"ipop group_secret v1";

impl OverlayConfig {
    /// The defaults of IPOP 16.01 plus ipop's own, for TAP `tap_name`.
    /// `ip4` is 0.0.0.0 here: loaders require it to be set.
    pub fn defaults_for_tap(tap_name: &str) -> OverlayConfig {
        OverlayConfig {
            xmpp_username: None,
            xmpp_password: None,
            xmpp_host: None,
            xmpp_port: 5222,
            tincan_logging: 1,
            vpn_type: "GroupVPN".into(),
            ip4_mask: 24,
            ip6_mask: 64,
            subnet_mask: 32,
            network_ignore_list: Vec::new(),
            contr_port: 5801,
            local_uid: String::new(),
            uid_size: 40,
            trim_enabled: false,
            router_mode: false,
            ipop_ver_rel: "16.01.0".into(),
            tap_name: tap_name.into(),
            listen_port: 0,
            key_file: default_key_file(tap_name),
            group_secret: None,
            group_secret_next: None,
            group_secret_grace: 3600,
            revoked_keys: Vec::new(),
            operator_key: None,
            static_peers: Vec::new(),
            bridge: None,
            mtu: None,
            mss_clamp: true,
            control_socket: default_control_socket(tap_name),
            xmpp_ca_file: None,
            xmpp_pinned_cert: None,
            xmpp_insecure: false,
            board: None,
            controller_logging: "ERROR".into(),
            socket_read_wait_time: 15,
            buf_size: 65507,
            switchmode: false,
            svpn_port: 5800,
            stun: [
                "stun.l.google.com:19302",
                "stun1.l.google.com:19302",
                "stun2.l.google.com:19302",
                "stun3.l.google.com:19302",
                "stun4.l.google.com:19302",
            ]
            .map(String::from)
            .to_vec(),
            turn: Vec::new(),
            ip6_prefix: crate::core::identity::DEFAULT_IP6_PREFIX,
            localhost: "127.0.0.1".into(),
            localhost6: "::1".into(),
            ip4: Ipv4Addr::UNSPECIFIED,
            sec: true,
            multihop: false,
            num_successors: 20,
            num_chords: 10,
            num_on_demand: 20,
            num_inbound: 50,
            ttl_link_initial: 60,
            ttl_link_pulse: 30,
            ttl_chord: 180,
            ttl_on_demand: 240,
            threshold_on_demand: 128,
            timer_interval: 1,
            interval_management: 15,
            use_central_visualizer: false,
            interval_central_visualizer: 5,
            num_pings: 5,
            interval_ping: 300,
            stat_report_enabled: true,
            stat_server: "metrics.ipop-project.org".into(),
            stat_server_port: 8080,
            stat_report_interval: 200,
            central_visualizer_enabled: false,
            central_visualizer_name: String::new(),
            central_visualizer_addr: String::new(),
            central_visualizer_port: 51234,
        }
    }

    /// The TAP MTU and why. Frames bigger than a link's path MTU are
    /// fragmented inside the overlay, so the TAP never has to shrink to
    /// fit the underlay: an explicit `mtu` wins; a TAP joining a bridge
    /// takes the bridge's MTU (`bridge_mtu`, if the bridge exists), so
    /// joining never lowers the LAN's; a switch-mode TAP gets Ethernet's
    /// 1500; L3 keeps IPOP 16.01's 1280. Defaults never go below 1280, so
    /// the TAP always gets its IPv6 address.
    pub fn tap_mtu(&self, bridge_mtu: Option<u16>) -> (u16, String) {
        if let Some(m) = self.mtu {
            return (m, "set by mtu".into());
        }
        match (&self.bridge, bridge_mtu) {
            (Some(b), Some(m)) => (
                m.clamp(IPV6_MIN_MTU, value::MTU_MAX as u16),
                format!("the MTU of bridge {b}, so joining it never lowers it"),
            ),
            (Some(b), None) if self.switchmode => (
                SWITCH_MTU,
                format!("switch mode; bridge {b} not found, so Ethernet's 1500"),
            ),
            _ if self.switchmode => (SWITCH_MTU, "switch mode: Ethernet's 1500".into()),
            _ => (DEFAULT_MTU, "L3: IPOP 16.01's 1280".into()),
        }
    }

    /// The overlay pre-shared key: all zeros without `group_secret`,
    /// otherwise BLAKE2s-256(`PSK_LABEL` || 0x00 || secret as UTF-8).
    pub fn psk(&self) -> [u8; 32] {
        match &self.group_secret {
            None => [0; 32],
            Some(secret) => psk_of(secret),
        }
    }

    /// The PSK of `group_secret_next`, if set.
    pub fn next_psk(&self) -> Option<[u8; 32]> {
        self.group_secret_next.as_deref().map(psk_of)
    }

    /// `revoked_keys` as keys (each was checked when the config was read).
    pub fn revoked(&self) -> Vec<[u8; 32]> {
        self.revoked_keys
            .iter()
            .filter_map(|k| value::parse_key(k))
            .collect()
    }

    /// `operator_key` as a key (checked when the config was read).
    pub fn operator(&self) -> Option<[u8; 32]> {
        self.operator_key.as_deref().and_then(value::parse_key)
    }

    /// This node's address and prefix length on the TAP (`ip4`/`ip4_mask`).
    pub fn subnet(&self) -> (Ipv4Addr, u8) {
        (self.ip4, self.ip4_mask)
    }

    /// The effective log level asked for by the config: the more verbose of
    /// `CFx.tincan_logging` (0 off, 1 error, 2 info, 3 debug) and
    /// `Logger.controller_logging`. `RUST_LOG`, `-v` and `-q` override it.
    pub fn log_level(&self) -> log::LevelFilter {
        use log::LevelFilter as L;
        let tincan = match self.tincan_logging {
            0 => L::Off,
            1 => L::Error,
            2 => L::Info,
            _ => L::Debug,
        };
        let controller = match self.controller_logging.as_str() {
            "CRITICAL" | "ERROR" => L::Error,
            "WARNING" => L::Warn,
            "INFO" => L::Info,
            "DEBUG" => L::Debug,
            "PKTDUMP" => L::Trace,
            _ => L::Error,
        };
        tincan.max(controller)
    }

    /// The XMPP server to connect to: `xmpp_host` (else the JID's domain)
    /// and `xmpp_port`; None when no XMPP account is configured.
    pub fn xmpp_server(&self) -> Option<(&str, u16)> {
        let user = self.xmpp_username.as_deref()?;
        let host = match &self.xmpp_host {
            Some(h) => h.as_str(),
            None => user.split_once('@').map(|(_, d)| d)?,
        };
        Some((host, self.xmpp_port))
    }
}

impl Default for OverlayConfig {
    fn default() -> Self {
        OverlayConfig::defaults_for_tap("ipop")
    }
}

/// BLAKE2s-256(`PSK_LABEL` || 0x00 || secret as UTF-8).
pub fn psk_of(secret: &str) -> [u8; 32] {
    use blake2::{Blake2s256, Digest};
    Blake2s256::new()
        .chain_update(PSK_LABEL)
        .chain_update([0u8])
        .chain_update(secret.as_bytes())
        .finalize()
        .into()
}

/// Where a node stores the membership statement in force: next to its key
/// file, `/etc/ipop/ipop.key` -> `/etc/ipop/ipop.members`.
pub fn statement_file(key_file: &Path) -> PathBuf {
    key_file.with_extension("members")
}

/// `/etc/ipop/<tap_name>.key`.
pub fn default_key_file(tap_name: &str) -> PathBuf {
    PathBuf::from(format!("/etc/ipop/{tap_name}.key"))
}

/// `/var/run/ipop/<tap_name>.sock`.
pub fn default_control_socket(tap_name: &str) -> PathBuf {
    PathBuf::from(format!("/var/run/ipop/{tap_name}.sock"))
}
