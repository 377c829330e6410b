//! Capacities for this machine, from the board profile (`--board NAME` or
//! `board` in the config, else detected; see boards/).

use super::cli::CliError;
use super::run::Limits;
use crate::board::{self, Profile};

pub fn profile(board: Option<&str>) -> Result<Profile, CliError> {
    match board {
        Some(name) => board::load(name).map_err(|e| CliError::Usage(e.to_string())),
        None => Ok(board::detect()),
    }
}

pub fn of(p: &Profile) -> Limits {
    Limits {
        pool_buffers: p.pool_buffers as usize,
        max_peers: p.max_peers as usize,
        mac_table: (p.max_links as usize * 16).clamp(64, 4096),
    }
}
