//! `ipop check --online`: log in to the signalling server and query STUN.

use super::cli::CliError;
use crate::config::OverlayConfig;

pub fn check(cfg: &OverlayConfig) -> Result<String, CliError> {
    let _ = cfg;
    Err(CliError::Runtime(
        "--online checks are not built into this binary yet".into(),
    ))
}
