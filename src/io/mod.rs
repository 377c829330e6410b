//! The IO shell: devices, sockets, the clock and the single-threaded event
//! loop that feeds the sans-IO [`crate::core`].

pub mod cli;
pub mod control;
pub mod demo;
pub mod candidates;
pub mod control_task;
pub mod keyfile;
pub mod signalling;
pub mod signals;
pub mod run;
pub mod netif;
pub mod netlink;
pub mod tap;
pub mod xmpp;
