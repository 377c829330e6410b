//! Capacities for this machine, from the board profile.

use super::cli::CliError;
use super::run::Limits;

pub fn for_board(board: Option<&str>) -> Result<Limits, CliError> {
    let _ = board;
    Ok(Limits::default())
}

pub fn describe(board: Option<&str>) -> Result<String, CliError> {
    let l = for_board(board)?;
    Ok(format!(
        "limits   {} buffers, {} peers, {} MACs\n",
        l.pool_buffers, l.max_peers, l.mac_table
    ))
}
