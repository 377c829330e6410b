//! The table of every config key: its JSON section and name, its UCI option,
//! its kind, and, for keys that have no effect in ipop, why. The JSON and
//! UCI readers and writers all work from this one table.

use super::value::{FieldVal, Ty, Value};
use super::OverlayConfig;

pub(crate) struct Key {
    /// JSON section (`CFx`, `TincanSender`, ...).
    pub section: &'static str,
    /// JSON key inside the section.
    pub json: &'static str,
    /// UCI option name (= the `OverlayConfig` field name).
    pub uci: &'static str,
    pub ty: Ty,
    /// `Some(why)` when the key is accepted but has no effect.
    pub ignored: Option<&'static str>,
    pub get: fn(&OverlayConfig) -> Value,
    pub set: fn(&mut OverlayConfig, Value),
}

const TWO_PROCESS: &str = "names a loopback port of IPOP's two-process design (tincan + Python controller); ipop is one process and has no such port";
const NO_STATS: &str = "ipop never reports usage to a third-party server; the StatReport section is accepted for compatibility and does nothing";
const NO_VISUALIZER: &str = "ipop sends no CentralVisualizer snapshots (it has no visualizer sender); `ipop status` shows links locally";

macro_rules! key {
    ($sec:literal, $json:literal, $field:ident, $ty:expr) => {
        key!($sec, $json, $field, $ty, None)
    };
    ($sec:literal, $json:literal, $field:ident, $ty:expr, $ign:expr) => {
        key!($sec, $json, $field as stringify!($field), $ty, $ign)
    };
    ($sec:literal, $json:literal, $field:ident as $uci:expr, $ty:expr, $ign:expr) => {
        Key {
            section: $sec,
            json: $json,
            uci: $uci,
            ty: $ty,
            ignored: $ign,
            get: |c| FieldVal::to_value(&c.$field),
            set: |c, v| {
                if let Some(x) = FieldVal::from_value(v) {
                    c.$field = x;
                }
            },
        }
    };
}

const fn int(min: u32, max: u32, unit: &'static str) -> Ty {
    Ty::Int { min, max, unit }
}

const PORT: Ty = int(1, 65535, "");
const ANY_PORT: Ty = int(0, 65535, "");
const LINKS: Ty = int(0, 1024, "links");
const SECS: Ty = int(1, 86400, "seconds");
const TICKS: Ty = int(1, 86400, "ticks of timer_interval");

pub(crate) static KEYS: &[Key] = &[
    // --- CFx (16.01) ---
    key!("CFx", "xmpp_username", xmpp_username, Ty::Jid),
    key!("CFx", "xmpp_password", xmpp_password, Ty::NonEmpty),
    key!("CFx", "xmpp_host", xmpp_host, Ty::NonEmpty),
    key!("CFx", "xmpp_port", xmpp_port, PORT),
    key!("CFx", "tincan_logging", tincan_logging, int(0, 3, "")),
    key!("CFx", "vpn_type", vpn_type, Ty::VpnType),
    key!("CFx", "ip4_mask", ip4_mask, int(1, 32, "prefix length")),
    key!("CFx", "ip6_mask", ip6_mask, int(1, 128, "prefix length")),
    key!("CFx", "subnet_mask", subnet_mask, int(1, 32, "prefix length")),
    key!("CFx", "network_ignore_list", network_ignore_list, Ty::IfNameList),
    key!("CFx", "contr_port", contr_port, ANY_PORT, Some(TWO_PROCESS)),
    key!("CFx", "local_uid", local_uid, Ty::Text, Some("SocialVPN UID and StatReport id; a GroupVPN UID is always SHA-1 of ip4")),
    key!("CFx", "uid_size", uid_size, int(0, 255, ""), Some("SocialVPN UID length; a GroupVPN UID is always SHA-1 of ip4 (40 hex digits)")),
    key!("CFx", "trim_enabled", trim_enabled, Ty::Bool, Some("ipop always replaces a relayed path by a direct one as soon as the direct path works; there is no separate trim policy")),
    key!("CFx", "router_mode", router_mode, Ty::Bool, Some("IPOP 16.01 ignored it as well (router-mode code removed in Nov 2015); subnet_mask gives router mode")),
    key!("CFx", "ipopVerRel", ipop_ver_rel, Ty::NonEmpty, Some("version string of the Python controller; ipop reports its own (`ipop --version`)")),
    // --- CFx, keys ipop adds ---
    key!("CFx", "tap_name", tap_name, Ty::IfName),
    key!("CFx", "listen_port", listen_port, ANY_PORT),
    key!("CFx", "key_file", key_file, Ty::NonEmpty),
    key!("CFx", "group_secret", group_secret, Ty::NonEmpty),
    key!("CFx", "group_secret_next", group_secret_next, Ty::NonEmpty),
    key!("CFx", "group_secret_grace", group_secret_grace, SECS),
    key!("CFx", "revoked_keys", revoked_keys as "revoked_key", Ty::KeyList, None),
    key!("CFx", "operator_key", operator_key, Ty::PubKey),
    key!("CFx", "static_peers", static_peers as "static_peer", Ty::Peers, None),
    key!("CFx", "bridge", bridge, Ty::IfName),
    key!("CFx", "mtu", mtu, Ty::Mtu),
    key!("CFx", "mss_clamp", mss_clamp, Ty::Bool),
    key!("CFx", "control_socket", control_socket, Ty::NonEmpty),
    key!("CFx", "xmpp_ca_file", xmpp_ca_file, Ty::NonEmpty),
    key!("CFx", "xmpp_pinned_cert", xmpp_pinned_cert, Ty::NonEmpty),
    key!("CFx", "xmpp_insecure", xmpp_insecure, Ty::Bool),
    key!("CFx", "board", board, Ty::NonEmpty),
    // --- Logger ---
    key!("Logger", "controller_logging", controller_logging, Ty::LogName),
    // --- TincanListener ---
    key!("TincanListener", "socket_read_wait_time", socket_read_wait_time, int(0, 86400, "seconds"), Some("select() timeout of the controller's loopback socket; it had no functional effect in 16.01 and ipop has no such socket")),
    key!("TincanListener", "buf_size", buf_size, int(0, 65507, "bytes"), Some("receive buffer of the controller's loopback socket; ipop sizes its buffers from the MTU")),
    // --- TincanSender ---
    key!("TincanSender", "switchmode", switchmode, Ty::Bit),
    key!("TincanSender", "svpn_port", svpn_port, ANY_PORT, Some(TWO_PROCESS)),
    key!("TincanSender", "stun", stun, Ty::HostPortList),
    key!("TincanSender", "turn", turn, Ty::Turns),
    key!("TincanSender", "ip6_prefix", ip6_prefix, Ty::Prefix6),
    key!("TincanSender", "localhost", localhost, Ty::NonEmpty, Some("loopback address of the tincan-controller control socket; ipop is one process")),
    key!("TincanSender", "localhost6", localhost6, Ty::NonEmpty, Some("loopback address of the tincan-controller control socket; ipop is one process")),
    // --- BaseTopologyManager ---
    key!("BaseTopologyManager", "ip4", ip4, Ty::Ip4),
    key!("BaseTopologyManager", "sec", sec, Ty::Bool),
    key!("BaseTopologyManager", "multihop", multihop, Ty::Bool, Some("IPOP 16.01 GroupVPN ignored it as well; ipop always forwards through the overlay to peers it has no link to")),
    key!("BaseTopologyManager", "num_successors", num_successors, LINKS),
    key!("BaseTopologyManager", "num_chords", num_chords, int(0, 160, "links")),
    key!("BaseTopologyManager", "num_on_demand", num_on_demand, LINKS),
    key!("BaseTopologyManager", "num_inbound", num_inbound, LINKS),
    key!("BaseTopologyManager", "ttl_link_initial", ttl_link_initial, SECS),
    key!("BaseTopologyManager", "ttl_link_pulse", ttl_link_pulse, SECS),
    key!("BaseTopologyManager", "ttl_chord", ttl_chord, SECS),
    key!("BaseTopologyManager", "ttl_on_demand", ttl_on_demand, SECS),
    key!("BaseTopologyManager", "threshold_on_demand", threshold_on_demand, int(0, u32::MAX, "bytes per second")),
    key!("BaseTopologyManager", "timer_interval", timer_interval, int(1, 3600, "seconds")),
    key!("BaseTopologyManager", "interval_management", interval_management, TICKS),
    key!("BaseTopologyManager", "use_central_visualizer", use_central_visualizer, Ty::Bool, Some(NO_VISUALIZER)),
    key!("BaseTopologyManager", "interval_central_visualizer", interval_central_visualizer, TICKS, Some(NO_VISUALIZER)),
    key!("BaseTopologyManager", "num_pings", num_pings, int(0, 1000, "pings")),
    key!("BaseTopologyManager", "interval_ping", interval_ping, TICKS),
    // --- StatReport ---
    key!("StatReport", "enabled", stat_report_enabled, Ty::Bool, Some(NO_STATS)),
    key!("StatReport", "stat_server", stat_server, Ty::NonEmpty, Some(NO_STATS)),
    key!("StatReport", "stat_server_port", stat_server_port, PORT, Some(NO_STATS)),
    key!("StatReport", "timer_interval", stat_report_interval, SECS, Some(NO_STATS)),
    // --- CentralVisualizer ---
    key!("CentralVisualizer", "enabled", central_visualizer_enabled, Ty::Bool, Some(NO_VISUALIZER)),
    key!("CentralVisualizer", "name", central_visualizer_name, Ty::Text, Some(NO_VISUALIZER)),
    key!("CentralVisualizer", "central_visualizer_addr", central_visualizer_addr, Ty::Text, Some(NO_VISUALIZER)),
    key!("CentralVisualizer", "central_visualizer_port", central_visualizer_port, PORT, Some(NO_VISUALIZER)),
];

/// JSON sections in the order ipop writes them (the seed's order).
pub(crate) const SECTIONS: [&str; 9] = [
    "CFx",
    "Logger",
    "TincanDispatcher",
    "TincanListener",
    "TincanSender",
    "BaseTopologyManager",
    "LinkManager",
    "StatReport",
    "CentralVisualizer",
];

/// Why the per-module keys of the Python controller do nothing in ipop.
pub(crate) fn generic_key_why(section: &str, key: &str) -> Option<&'static str> {
    match key {
        "dependencies" => {
            Some("module load order of the Python controller; ipop is one program with fixed parts")
        }
        "enabled" => Some("this part is built into ipop and cannot be unloaded"),
        "timer_interval" => Some("this module has no timer of its own in ipop"),
        _ => {
            let _ = section;
            None
        }
    }
}

pub(crate) fn find_json(section: &str, key: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.section == section && k.json == key)
}

pub(crate) fn find_uci(option: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.uci == option)
}

/// Why `sec: false` cannot be honoured (reported only when false).
pub(crate) const SEC_FALSE_WHY: &str = "ipop always encrypts and authenticates links (Noise, X25519); unencrypted links are not offered";

/// The dotted JSON name, e.g. `BaseTopologyManager.ip4`.
pub(crate) fn dotted(k: &Key) -> String {
    format!("{}.{}", k.section, k.json)
}

/// Collects values for one overlay and applies the rules shared by the
/// JSON and UCI readers (required `ip4`, defaults derived from `tap_name`).
pub(crate) struct Builder {
    pub cfg: OverlayConfig,
    set: Vec<&'static str>,
    pub ignored: Vec<super::IgnoredKey>,
    /// `None`: name keys `Section.key`; `Some(p)`: name them `p` + option.
    uci_prefix: Option<String>,
}

impl Builder {
    pub fn new(uci_prefix: Option<String>) -> Builder {
        Builder {
            cfg: OverlayConfig::default(),
            set: Vec::new(),
            ignored: Vec::new(),
            uci_prefix,
        }
    }

    pub fn name(&self, k: &Key) -> String {
        match &self.uci_prefix {
            Some(p) => format!("{p}{}", k.uci),
            None => dotted(k),
        }
    }

    pub fn is_set(&self, uci: &str) -> bool {
        self.set.contains(&uci)
    }

    pub fn ignore(&mut self, key: String, why: &str) {
        self.ignored.push(super::IgnoredKey {
            key,
            why: why.to_string(),
        });
    }

    pub fn apply(&mut self, k: &'static Key, v: Value) {
        if let Some(why) = k.ignored {
            if !self.is_set(k.uci) {
                let name = self.name(k);
                self.ignore(name, why);
            }
        }
        (k.set)(&mut self.cfg, v);
        if !self.is_set(k.uci) {
            self.set.push(k.uci);
        }
    }

    pub fn finish(
        mut self,
        file: &std::path::Path,
    ) -> Result<(OverlayConfig, Vec<super::IgnoredKey>), super::ConfigError> {
        if !self.is_set("ip4") {
            let key = match &self.uci_prefix {
                Some(p) => format!("{p}ip4"),
                None => "BaseTopologyManager.ip4".to_string(),
            };
            return Err(super::ConfigError::Missing {
                file: file.to_path_buf(),
                key,
                expected: "a dotted IPv4 address like 192.168.1.100 (this node's overlay address; its UID is SHA-1 of it)".into(),
            });
        }
        if !self.is_set("key_file") {
            self.cfg.key_file = super::default_key_file(&self.cfg.tap_name);
        }
        if !self.is_set("control_socket") {
            self.cfg.control_socket = super::default_control_socket(&self.cfg.tap_name);
        }
        if !self.cfg.sec {
            let name = match &self.uci_prefix {
                Some(p) => format!("{p}sec"),
                None => "BaseTopologyManager.sec".to_string(),
            };
            self.ignore(name, SEC_FALSE_WHY);
        }
        Ok((self.cfg, self.ignored))
    }
}

/// Whether a writer emits key `k`: always for the keys that say what the
/// overlay is, otherwise only when the value differs from the default.
pub(crate) fn worth_writing(k: &Key, cfg: &OverlayConfig, defaults: &OverlayConfig) -> bool {
    let v = (k.get)(cfg);
    if v == Value::Unset {
        return false;
    }
    matches!(k.uci, "vpn_type" | "ip4_mask" | "switchmode" | "ip4") || v != (k.get)(defaults)
}
