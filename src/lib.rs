//! ipop: a lean IP-over-P2P GroupVPN node.
//!
//! The tree is split in two on purpose:
//! * [`core`] holds deterministic state machines (no sockets, files, clocks or
//!   threads). They are fed bytes, events and "now", and return what to do.
//! * [`io`] is the thin shell that owns the TAP, the UDP socket, the XMPP TCP
//!   stream and the clock, and drives the core from one smol event loop.
//!
//! [`config`] reads IPOP 16.01 JSON and OpenWrt UCI; [`sim`] runs many cores
//! on a virtual network and clock.

pub mod board;
pub mod config;
pub mod core;
#[doc(hidden)]
pub mod fuzzing;
pub mod io;
#[cfg(feature = "lab")]
pub mod sim;
