//! What the topology knows about each link: its roles and its deadlines.

use core::fmt;

use crate::core::identity::Uid;
use crate::core::time::Instant;

/// Why a link was asked for, as in 16.01's `con_type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LinkRole {
    Successor,
    Chord,
    OnDemand,
}

impl LinkRole {
    /// The name 16.01 used in `con_req` (`"successor"`, `"chord"`, `"on_demand"`).
    pub fn as_str(self) -> &'static str {
        match self {
            LinkRole::Successor => "successor",
            LinkRole::Chord => "chord",
            LinkRole::OnDemand => "on_demand",
        }
    }

    pub fn from_name(s: &str) -> Option<LinkRole> {
        match s {
            "successor" => Some(LinkRole::Successor),
            "chord" => Some(LinkRole::Chord),
            "on_demand" => Some(LinkRole::OnDemand),
            _ => None,
        }
    }

    fn bit(self) -> Roles {
        match self {
            LinkRole::Successor => Roles::SUCCESSOR,
            LinkRole::Chord => Roles::CHORD,
            LinkRole::OnDemand => Roles::ON_DEMAND,
        }
    }
}

impl fmt::Display for LinkRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The roles a link plays, as a bitset. A link may hold several.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Roles(pub u8);

impl Roles {
    pub const NONE: Roles = Roles(0);
    /// One of our `num_successors` clockwise neighbours.
    pub const SUCCESSOR: Roles = Roles(1);
    /// The member at or after one of our chord targets.
    pub const CHORD: Roles = Roles(2);
    /// Carries enough of our traffic to be worth a direct link.
    pub const ON_DEMAND: Roles = Roles(4);
    /// The peer asked for this link (it holds some role for them).
    pub const INBOUND: Roles = Roles(8);

    pub fn contains(self, r: Roles) -> bool {
        self.0 & r.0 == r.0 && r.0 != 0
    }
    pub fn insert(&mut self, r: Roles) {
        self.0 |= r.0;
    }
    pub fn remove(&mut self, r: Roles) {
        self.0 &= !r.0;
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    pub fn of(role: LinkRole) -> Roles {
        role.bit()
    }
}

impl fmt::Display for Roles {
    /// Comma-separated names, e.g. `successor,chord`; `-` when empty.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            (Roles::SUCCESSOR, "successor"),
            (Roles::CHORD, "chord"),
            (Roles::ON_DEMAND, "on_demand"),
            (Roles::INBOUND, "inbound"),
        ];
        let mut first = true;
        for (r, name) in names {
            if self.contains(r) {
                if !first {
                    f.write_str(",")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        if first {
            f.write_str("-")?;
        }
        Ok(())
    }
}

/// Link state as the topology tracks it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkState {
    /// Requested or accepted; must come up before `expires`.
    Linking,
    /// Established; must show life again before `expires`.
    Up,
}

/// One link (being built or up).
#[derive(Clone, Debug)]
pub struct Peer {
    pub uid: Uid,
    pub roles: Roles,
    pub state: LinkState,
    /// ttl_link_initial while linking, then ttl_link_pulse after each sign of life.
    pub expires: Instant,
    /// When the on-demand role lapses unless traffic stays above threshold.
    pub on_demand_until: Instant,
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn roles_bitset() {
        let mut r = Roles::NONE;
        assert_eq!(r.to_string(), "-");
        r.insert(Roles::SUCCESSOR);
        r.insert(Roles::of(LinkRole::OnDemand));
        r.insert(Roles::INBOUND);
        assert_eq!(r.to_string(), "successor,on_demand,inbound");
        assert!(r.contains(Roles::ON_DEMAND) && !r.contains(Roles::CHORD));
        assert!(!r.contains(Roles::NONE));
        r.remove(Roles::SUCCESSOR);
        assert_eq!(r, Roles(12));
        assert_eq!(LinkRole::from_name("chord"), Some(LinkRole::Chord));
        assert_eq!(LinkRole::from_name("x"), None);
        assert_eq!(LinkRole::OnDemand.to_string(), "on_demand");
    }
}
