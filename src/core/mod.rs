//! The sans-IO core. Nothing below this module reads a clock, a random
//! source, the environment, a file or a socket: time and randomness are
//! inputs, and every output is a value the shell carries out.
#![forbid(unsafe_code)]

pub mod candidate;
pub mod dns;
pub mod frame;
pub mod identity;
pub mod link;
pub mod member;
pub mod mss;
pub mod node;
pub mod pmtu;
pub mod rng;
pub mod sig;
pub mod signal;
pub mod stun;
pub mod switch;
pub mod time;
pub mod topology;
pub mod xmpp;
