//! `ipop check --online`: query every STUN server, allocate on every TURN
//! server, and report the addresses this node would advertise.

use std::fmt::Write as _;

use super::cli::CliError;
use crate::config::OverlayConfig;

pub fn check(cfg: &OverlayConfig) -> Result<String, CliError> {
    let mut out = String::new();
    let report = super::stun_probe::probe_config(cfg)
        .map_err(|e| CliError::Runtime(format!("STUN/TURN probe: {e}")))?;
    let _ = write!(out, "{report}");
    Ok(out)
}
