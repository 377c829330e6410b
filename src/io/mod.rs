//! The IO shell: devices, sockets, the clock and the single-threaded event
//! loop that feeds the sans-IO [`crate::core`].

pub mod batch;
pub mod candidates;
pub mod cli;
pub mod control;
pub mod control_task;
#[cfg(feature = "lab")]
pub mod demo;
pub mod ifctl;
pub mod ipv6;
pub mod keyfile;
pub mod limits;
pub mod linkinfo;
pub mod membership;
pub mod netif;
pub mod netlink;
pub mod online;
pub mod resolve;
pub mod run;
pub mod servers;
pub mod signalling;
pub mod signals;
pub mod stun_probe;
pub mod tap;
pub mod udp;
pub mod xmpp;
