//! Entry points for the fuzz targets (fuzz/) into parsers that are not
//! public API: thin wrappers, no logic of their own. Not for other use.

use std::io;
use std::path::Path;

use crate::config::{ConfigError, Loaded};

/// An IPOP JSON config from memory (as `config::load_json` reads a file).
pub fn config_json(text: &str) -> Result<Loaded, ConfigError> {
    crate::config::json::load_str(text, Path::new("fuzz.json"))
}

/// One overlay of a UCI file from memory (as `config::load_uci`).
pub fn config_uci(data: &[u8], name: &str) -> Result<Loaded, ConfigError> {
    crate::config::uci_map::load_bytes(data, Path::new("fuzz.uci"), name)
}

/// The overlay sections of a UCI file from memory (as `config::uci_overlays`).
pub fn uci_overlays(data: &[u8]) -> Result<Vec<(String, bool)>, ConfigError> {
    crate::config::uci_map::overlays(data, Path::new("fuzz.uci"))
}

/// A netlink acknowledgement (`NLMSG_ERROR`) as `set_master` and the
/// address requests read it.
pub fn netlink_ack(reply: &[u8]) -> io::Result<()> {
    crate::io::netlink::check_ack(reply)
}

/// A `RTM_NEWLINK` reply as `link_master` reads it.
pub fn netlink_master(reply: &[u8]) -> io::Result<Option<u32>> {
    crate::io::netlink::parse_master(reply)
}

/// The message count of a netlink multicast read (`NetChanges`).
pub fn netlink_count(data: &[u8]) -> usize {
    crate::io::netif::count_messages(data)
}
