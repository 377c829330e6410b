//! The IO shell: devices, sockets, the clock and the single-threaded event
//! loop that feeds the sans-IO [`crate::core`].

pub mod control;
pub mod ifctl;
pub mod netif;
pub mod netlink;
pub mod signals;
pub mod stun_probe;
pub mod tap;
pub mod xmpp;
