//! `ipop check --online`: log in to the XMPP server (when configured),
//! query every STUN server, allocate on every TURN server, and report what
//! this node would see and advertise. Exits non-zero on an XMPP failure.

use std::fmt::Write as _;

use super::cli::CliError;
use crate::config::OverlayConfig;

pub fn check(cfg: &OverlayConfig) -> Result<String, CliError> {
    let mut out = String::new();
    if cfg.xmpp_username.is_some() {
        let report = super::xmpp::probe(cfg).map_err(|e| CliError::Runtime(e.to_string()))?;
        let _ = writeln!(out, "{report}");
    }
    let report = super::stun_probe::probe_config(cfg)
        .map_err(|e| CliError::Runtime(format!("STUN/TURN probe: {e}")))?;
    let _ = write!(out, "{report}");
    Ok(out)
}
