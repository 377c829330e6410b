//! Board profiles: a board family's RAM budget and what follows from it (the
//! packet buffer pool, peer and link caps, the XMPP stanza buffer).
//!
//! Profiles are the `boards/*.conf` files, compiled in with `include_str!` so
//! a router needs nothing beside the binary. The format is deliberately tiny
//! (`key = value` lines, `#` comment lines) so no TOML parser ships in a
//! 1 MB binary; see `boards/README.md` for the keys.
//!
//! Selection, as the CLI does it: `ipop run --board NAME` uses [`load`]
//! (a built-in name, or a path to a custom `.conf`); without it, [`detect`].

use std::fmt;

/// One board family's limits. Sizes are bytes unless the name says otherwise.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Profile {
    pub name: String,
    pub description: String,
    /// Rust target triple to build for this board.
    pub target: String,
    /// OpenWrt package architecture (`DISTRIB_ARCH`); None if `-`.
    pub openwrt_arch: Option<String>,
    pub cpu: String,
    /// RAM of the smallest board of the family, MB.
    pub ram_mb: u32,
    /// Hard cap on one overlay process's memory, KiB.
    pub rss_budget_kb: u32,
    /// Packet buffers allocated once at start-up.
    pub pool_buffers: u32,
    /// Bytes per packet buffer.
    pub buffer_size: u32,
    pub max_peers: u32,
    pub max_links: u32,
    /// Switch mode: most MAC addresses in the learning table.
    pub mac_table: u32,
    /// Largest XMPP stanza accepted, bytes.
    pub xmpp_buffer: u32,
    /// Default LAN bridge for switch mode; None if `-`.
    pub lan_bridge: Option<String>,
    /// Default underlay device; None if `-`.
    pub wan_dev: Option<String>,
    /// Where this profile came from (built-in file, path, detection reason).
    pub origin: String,
}

/// Why a profile could not be loaded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BoardError {
    /// `--board NAME` names no built-in profile.
    UnknownBoard {
        name: String,
    },
    /// A line that is neither `key = value`, a comment nor blank.
    Syntax {
        origin: String,
        line: usize,
    },
    UnknownKey {
        origin: String,
        line: usize,
        key: String,
    },
    DuplicateKey {
        origin: String,
        line: usize,
        key: String,
    },
    MissingKey {
        origin: String,
        key: &'static str,
    },
    BadValue {
        origin: String,
        line: usize,
        key: String,
        expected: &'static str,
    },
    /// Values that parse but do not fit together.
    Inconsistent {
        origin: String,
        what: String,
    },
    /// A custom profile file could not be read.
    Io {
        path: String,
        reason: String,
    },
}

impl fmt::Display for BoardError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BoardError::UnknownBoard { name } => write!(
                f,
                "unknown board '{name}': expected one of {} or a path to a .conf file",
                NAMES.join(", ")
            ),
            BoardError::Syntax { origin, line } => {
                write!(
                    f,
                    "{origin}:{line}: expected 'key = value', a '#' comment or a blank line"
                )
            }
            BoardError::UnknownKey { origin, line, key } => write!(
                f,
                "{origin}:{line}: unknown key '{key}' (expected one of {})",
                KEYS.join(", ")
            ),
            BoardError::DuplicateKey { origin, line, key } => {
                write!(f, "{origin}:{line}: key '{key}' given twice")
            }
            BoardError::MissingKey { origin, key } => write!(f, "{origin}: missing key '{key}'"),
            BoardError::BadValue {
                origin,
                line,
                key,
                expected,
            } => {
                write!(
                    f,
                    "{origin}:{line}: bad value for '{key}': expected {expected}"
                )
            }
            BoardError::Inconsistent { origin, what } => write!(f, "{origin}: {what}"),
            BoardError::Io { path, reason } => {
                write!(f, "{path}: cannot read board profile: {reason}")
            }
        }
    }
}

impl std::error::Error for BoardError {}

/// Built-in profile names, in the order `ipop check` lists them.
pub const NAMES: &[&str] = &[
    "mt7621",
    "ath79-64mb",
    "filogic",
    "rpi2",
    "rpi3",
    "rpi4",
    "rpi5",
    "x86_64",
];

const BUILTIN: &[(&str, &str)] = &[
    ("mt7621", include_str!("../boards/mt7621.conf")),
    ("ath79-64mb", include_str!("../boards/ath79-64mb.conf")),
    ("filogic", include_str!("../boards/filogic.conf")),
    ("rpi2", include_str!("../boards/rpi2.conf")),
    ("rpi3", include_str!("../boards/rpi3.conf")),
    ("rpi4", include_str!("../boards/rpi4.conf")),
    ("rpi5", include_str!("../boards/rpi5.conf")),
    ("x86_64", include_str!("../boards/x86_64.conf")),
];

const KEYS: &[&str] = &[
    "name",
    "description",
    "target",
    "openwrt_arch",
    "cpu",
    "ram_mb",
    "rss_budget_kb",
    "pool_buffers",
    "buffer_size",
    "max_peers",
    "max_links",
    "mac_table",
    "xmpp_buffer",
    "lan_bridge",
    "wan_dev",
];

/// Smallest buffer that holds a 1500-byte-MTU Ethernet frame plus link
/// header and AEAD tag; the largest a u16 length can describe.
const BUFFER_SIZE_RANGE: (u32, u32) = (1600, 65535);

/// A built-in profile by name.
pub fn by_name(name: &str) -> Result<Profile, BoardError> {
    let text = BUILTIN
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| *t)
        .ok_or_else(|| BoardError::UnknownBoard {
            name: name.to_string(),
        })?;
    parse(text, &format!("boards/{name}.conf (built in)"))
}

/// `--board ARG`: a built-in name, or (if ARG contains '/' or ends in
/// `.conf`) a profile file read from disk.
pub fn load(arg: &str) -> Result<Profile, BoardError> {
    if arg.contains('/') || arg.ends_with(".conf") {
        let text = std::fs::read_to_string(arg).map_err(|e| BoardError::Io {
            path: arg.to_string(),
            reason: e.to_string(),
        })?;
        parse(&text, arg)
    } else {
        by_name(arg)
    }
}

/// What `ipop run/check [--board ARG]` applies: [`load`] of ARG when given
/// (also from the config's `board` key), else [`detect`].
pub fn select(arg: Option<&str>) -> Result<Profile, BoardError> {
    match arg {
        Some(a) => load(a),
        None => Ok(detect()),
    }
}

/// Every built-in profile.
pub fn all() -> Vec<Profile> {
    NAMES.iter().filter_map(|n| by_name(n).ok()).collect()
}

/// Parse one profile file. `origin` names it in error messages.
pub fn parse(text: &str, origin: &str) -> Result<Profile, BoardError> {
    let mut values: [Option<(usize, &str)>; 15] = [None; 15];
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = line.split_once('=').ok_or(BoardError::Syntax {
            origin: origin.to_string(),
            line: line_no,
        })?;
        let (key, value) = (key.trim(), value.trim());
        if key.is_empty() {
            return Err(BoardError::Syntax {
                origin: origin.to_string(),
                line: line_no,
            });
        }
        let idx = KEYS
            .iter()
            .position(|k| *k == key)
            .ok_or_else(|| BoardError::UnknownKey {
                origin: origin.to_string(),
                line: line_no,
                key: key.to_string(),
            })?;
        if values[idx].is_some() {
            return Err(BoardError::DuplicateKey {
                origin: origin.to_string(),
                line: line_no,
                key: key.to_string(),
            });
        }
        values[idx] = Some((line_no, value));
    }
    let f = Fields { origin, values };
    let p = Profile {
        name: f.name("name")?,
        description: f.text("description")?,
        target: f.name("target")?,
        openwrt_arch: f.optional_name("openwrt_arch")?,
        cpu: f.text("cpu")?,
        ram_mb: f.number("ram_mb", 16, 1 << 20)?,
        rss_budget_kb: f.number("rss_budget_kb", 1024, 1 << 24)?,
        pool_buffers: f.number("pool_buffers", 16, 1 << 20)?,
        buffer_size: f.number("buffer_size", BUFFER_SIZE_RANGE.0, BUFFER_SIZE_RANGE.1)?,
        max_peers: f.number("max_peers", 2, 1 << 20)?,
        max_links: f.number("max_links", 1, 1 << 20)?,
        mac_table: f.number("mac_table", 16, 1 << 20)?,
        xmpp_buffer: f.number("xmpp_buffer", 4096, 1 << 20)?,
        lan_bridge: f.optional_name("lan_bridge")?,
        wan_dev: f.optional_name("wan_dev")?,
        origin: origin.to_string(),
    };
    p.check_consistent()?;
    Ok(p)
}

/// The parsed `key = value` pairs of one file, with their line numbers.
struct Fields<'a> {
    origin: &'a str,
    values: [Option<(usize, &'a str)>; 15],
}

impl<'a> Fields<'a> {
    fn get(&self, key: &'static str) -> Result<(usize, &'a str), BoardError> {
        let idx = KEYS.iter().position(|k| *k == key).unwrap_or(0);
        self.values
            .get(idx)
            .copied()
            .flatten()
            .ok_or(BoardError::MissingKey {
                origin: self.origin.to_string(),
                key,
            })
    }

    fn bad(&self, line: usize, key: &str, expected: &'static str) -> BoardError {
        BoardError::BadValue {
            origin: self.origin.to_string(),
            line,
            key: key.to_string(),
            expected,
        }
    }

    fn text(&self, key: &'static str) -> Result<String, BoardError> {
        let (line, v) = self.get(key)?;
        if v.is_empty() {
            return Err(self.bad(line, key, "a non-empty text"));
        }
        Ok(v.to_string())
    }

    /// Names, triples, device names: `[A-Za-z0-9_.-]`, no spaces.
    fn name(&self, key: &'static str) -> Result<String, BoardError> {
        let (line, v) = self.get(key)?;
        let ok = !v.is_empty()
            && v.len() <= 64
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
        if !ok {
            return Err(self.bad(
                line,
                key,
                "a name of 1-64 characters from A-Z a-z 0-9 _ - .",
            ));
        }
        Ok(v.to_string())
    }

    fn optional_name(&self, key: &'static str) -> Result<Option<String>, BoardError> {
        match self.get(key)? {
            (_, "-") => Ok(None),
            _ => self.name(key).map(Some),
        }
    }

    fn number(&self, key: &'static str, min: u32, max: u32) -> Result<u32, BoardError> {
        let (line, v) = self.get(key)?;
        let expected: &'static str = match key {
            "ram_mb" => "an integer from 16 to 1048576",
            "rss_budget_kb" => "an integer from 1024 to 16777216",
            "pool_buffers" => "an integer from 16 to 1048576",
            "buffer_size" => "an integer from 1600 to 65535",
            "max_peers" => "an integer from 2 to 1048576",
            "max_links" => "an integer from 1 to 1048576",
            "mac_table" => "an integer from 16 to 1048576",
            "xmpp_buffer" => "an integer from 4096 to 1048576",
            _ => "an integer in range",
        };
        match v.parse::<u32>() {
            Ok(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(self.bad(line, key, expected)),
        }
    }
}

impl Profile {
    /// Bytes of the packet buffer pool.
    pub fn pool_bytes(&self) -> u64 {
        u64::from(self.pool_buffers) * u64::from(self.buffer_size)
    }

    fn check_consistent(&self) -> Result<(), BoardError> {
        let err = |what: String| {
            Err(BoardError::Inconsistent {
                origin: self.origin.clone(),
                what,
            })
        };
        if self.max_links > self.max_peers {
            return err(format!(
                "max_links ({}) exceeds max_peers ({})",
                self.max_links, self.max_peers
            ));
        }
        // The fixed allocations must leave at least half the budget for the
        // per-peer and per-link state and the binary's own pages.
        let fixed_kb = (self.pool_bytes() + u64::from(self.xmpp_buffer)) / 1024;
        if fixed_kb * 2 > u64::from(self.rss_budget_kb) {
            return err(format!(
                "buffer pool + XMPP buffer ({fixed_kb} KiB) exceed half of rss_budget_kb ({})",
                self.rss_budget_kb
            ));
        }
        if u64::from(self.rss_budget_kb) * 4 > u64::from(self.ram_mb) * 1024 {
            return err(format!(
                "rss_budget_kb ({}) exceeds a quarter of ram_mb ({} MB)",
                self.rss_budget_kb, self.ram_mb
            ));
        }
        Ok(())
    }

    /// Lines for `ipop check`: the profile and the limits it sets.
    pub fn describe(&self) -> String {
        let or_none = |o: &Option<String>| o.clone().unwrap_or_else(|| "-".to_string());
        format!(
            "board: {} ({})\n\
             \x20 from: {}\n\
             \x20 target: {}, OpenWrt arch: {}, CPU: {}, RAM: {} MB\n\
             \x20 memory budget: {} KiB per overlay\n\
             \x20 packet buffers: {} x {} B = {} KiB\n\
             \x20 max peers: {}, max links: {}, MAC table: {}\n\
             \x20 XMPP stanza buffer: {} B\n\
             \x20 default LAN bridge: {}, underlay device: {}\n",
            self.name,
            self.description,
            self.origin,
            self.target,
            or_none(&self.openwrt_arch),
            self.cpu,
            self.ram_mb,
            self.rss_budget_kb,
            self.pool_buffers,
            self.buffer_size,
            self.pool_bytes() / 1024,
            self.max_peers,
            self.max_links,
            self.mac_table,
            self.xmpp_buffer,
            or_none(&self.lan_bridge),
            or_none(&self.wan_dev),
        )
    }
}

/// What [`detect`] looked at; separated from the file reads so the choice is
/// testable.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostFacts {
    /// `DISTRIB_ARCH` from `/etc/openwrt_release` (OpenWrt only).
    pub openwrt_arch: Option<String>,
    /// `MemTotal` from `/proc/meminfo`, KiB.
    pub mem_total_kb: Option<u64>,
    /// Raspberry Pi generation from `/proc/device-tree/model` ("Raspberry Pi 4 ...").
    pub pi_model: Option<u8>,
    /// Rust target triple this binary was built for (its arch + musl).
    pub build_target: &'static str,
}

/// The profile for the machine we run on.
///
/// 1. Candidates: on OpenWrt, the profiles whose `openwrt_arch` equals
///    `DISTRIB_ARCH` in `/etc/openwrt_release`; else on a Raspberry Pi the
///    `rpiN` profile named by `/proc/device-tree/model`; else the profiles
///    built for this binary's own target.
/// 2. Among them, the one with the most RAM that fits `MemTotal` from
///    `/proc/meminfo` (a profile fits when 7/8 of its `ram_mb` is at most
///    MemTotal, since the kernel keeps some memory for itself).
/// 3. If none fits, the largest profile of any family that fits (limits
///    follow RAM, not CPU); if nothing fits, the smallest profile.
/// 4. Without MemTotal, the candidate with the least RAM; without any
///    candidate, the default for the build target (x86_64 -> `x86_64`,
///    aarch64 -> `rpi3`, armv7 -> `rpi2`, mipsel -> `mt7621`, mips ->
///    `ath79-64mb`).
///
/// The returned profile's `origin` says what was detected.
pub fn detect() -> Profile {
    let read = |p: &str| std::fs::read_to_string(p).ok();
    let facts = HostFacts {
        openwrt_arch: read("/etc/openwrt_release").and_then(|t| openwrt_arch_of(&t)),
        mem_total_kb: read("/proc/meminfo").and_then(|t| mem_total_kb_of(&t)),
        pi_model: read("/proc/device-tree/model").and_then(|t| pi_model_of(&t)),
        build_target: BUILD_TARGET,
    };
    detect_from(&facts)
}

/// The musl triple matching the running binary's architecture.
pub const BUILD_TARGET: &str = if cfg!(target_arch = "x86_64") {
    "x86_64-unknown-linux-musl"
} else if cfg!(target_arch = "aarch64") {
    "aarch64-unknown-linux-musl"
} else if cfg!(target_arch = "arm") {
    "armv7-unknown-linux-musleabihf"
} else if cfg!(all(target_arch = "mips", target_endian = "little")) {
    "mipsel-unknown-linux-musl"
} else if cfg!(target_arch = "mips") {
    "mips-unknown-linux-musl"
} else {
    "unknown"
};

fn default_for(target: &str) -> &'static str {
    match target {
        "aarch64-unknown-linux-musl" => "rpi3",
        "armv7-unknown-linux-musleabihf" => "rpi2",
        "mipsel-unknown-linux-musl" => "mt7621",
        "mips-unknown-linux-musl" => "ath79-64mb",
        _ => "x86_64",
    }
}

/// Step 1-4 of [`detect`] on given facts.
pub fn detect_from(facts: &HostFacts) -> Profile {
    let profiles = all();
    let (candidates, why): (Vec<&Profile>, String) = if let Some(arch) = &facts.openwrt_arch {
        let c = profiles
            .iter()
            .filter(|p| p.openwrt_arch.as_deref() == Some(arch.as_str()));
        (c.collect(), format!("OpenWrt DISTRIB_ARCH {arch}"))
    } else if let Some(n) = facts.pi_model {
        let name = format!("rpi{n}");
        (
            profiles.iter().filter(|p| p.name == name).collect(),
            format!("Raspberry Pi {n}"),
        )
    } else {
        let c = profiles.iter().filter(|p| p.target == facts.build_target);
        (c.collect(), format!("build target {}", facts.build_target))
    };
    let fits = |p: &&Profile, kb: u64| u64::from(p.ram_mb) * 1024 * 7 / 8 <= kb;
    let largest = |c: &mut dyn Iterator<Item = &Profile>| c.max_by_key(|p| p.ram_mb).cloned();
    let chosen = match facts.mem_total_kb {
        Some(kb) => largest(&mut candidates.iter().copied().filter(|p| fits(p, kb)))
            .or_else(|| largest(&mut profiles.iter().filter(|p| fits(p, kb))))
            .or_else(|| profiles.iter().min_by_key(|p| p.ram_mb).cloned()),
        None => candidates
            .iter()
            .min_by_key(|p| p.ram_mb)
            .map(|p| (*p).clone()),
    };
    let mut p = chosen
        .or_else(|| by_name(default_for(facts.build_target)).ok())
        .or_else(|| profiles.first().cloned())
        .unwrap_or_else(fallback);
    let mem = match facts.mem_total_kb {
        Some(kb) => format!("MemTotal {} MB", kb / 1024),
        None => "MemTotal unknown".to_string(),
    };
    p.origin = format!("detected ({why}, {mem})");
    p
}

/// Only reachable if the built-in files were broken, which the unit tests
/// rule out; keeps `detect` total without a panic.
fn fallback() -> Profile {
    Profile {
        name: "minimal".into(),
        description: "built-in minimum".into(),
        target: BUILD_TARGET.into(),
        openwrt_arch: None,
        cpu: "unknown".into(),
        ram_mb: 64,
        rss_budget_kb: 6144,
        pool_buffers: 128,
        buffer_size: 1600,
        max_peers: 64,
        max_links: 24,
        mac_table: 256,
        xmpp_buffer: 8192,
        lan_bridge: None,
        wan_dev: None,
        origin: String::new(),
    }
}

/// `DISTRIB_ARCH='mipsel_24kc'` (quotes optional) from /etc/openwrt_release.
pub fn openwrt_arch_of(release: &str) -> Option<String> {
    release.lines().find_map(|l| {
        let v = l.trim().strip_prefix("DISTRIB_ARCH=")?;
        let v = v.trim().trim_matches(|c| c == '\'' || c == '"');
        (!v.is_empty()).then(|| v.to_string())
    })
}

/// `MemTotal:  123456 kB` from /proc/meminfo, in KiB.
pub fn mem_total_kb_of(meminfo: &str) -> Option<u64> {
    meminfo.lines().find_map(|l| {
        let rest = l.strip_prefix("MemTotal:")?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// The generation N of "Raspberry Pi N Model B Rev 1.2" (NUL-terminated in
/// the device tree); "Compute Module N" counts too.
pub fn pi_model_of(model: &str) -> Option<u8> {
    let model = model.trim_end_matches('\0');
    let rest = model
        .strip_prefix("Raspberry Pi Compute Module ")
        .or_else(|| model.strip_prefix("Raspberry Pi "))?;
    let n: u8 = rest
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()?;
    (2..=5).contains(&n).then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_parses_and_is_named_after_its_file() {
        for (name, text) in BUILTIN {
            let p = parse(text, name).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(p.name, *name);
        }
        assert_eq!(all().len(), NAMES.len());
        assert_eq!(BUILTIN.len(), NAMES.len());
    }

    #[test]
    fn mt7621_values() {
        let p = by_name("mt7621").unwrap();
        assert_eq!(p.target, "mipsel-unknown-linux-musl");
        assert_eq!(p.openwrt_arch.as_deref(), Some("mipsel_24kc"));
        assert_eq!(p.ram_mb, 128);
        assert_eq!((p.pool_buffers, p.buffer_size), (256, 1600));
        assert_eq!(p.pool_bytes(), 409_600);
        assert_eq!((p.max_peers, p.max_links, p.xmpp_buffer), (256, 64, 16384));
        assert_eq!(p.mac_table, 1024);
        assert_eq!(select(Some("mt7621")).unwrap(), p);
        assert!(select(None).unwrap().origin.starts_with("detected ("));
        assert_eq!(
            select(Some("nope")).unwrap_err(),
            BoardError::UnknownBoard {
                name: "nope".into()
            }
        );
        assert_eq!(p.lan_bridge.as_deref(), Some("br-lan"));
        assert_eq!(p.origin, "boards/mt7621.conf (built in)");
    }

    #[test]
    fn small_router_profile_fits_50_peers_under_8_mb() {
        let p = by_name("ath79-64mb").unwrap();
        assert_eq!(p.target, "mips-unknown-linux-musl");
        assert_eq!(p.openwrt_arch.as_deref(), Some("mips_24kc"));
        assert_eq!(p.ram_mb, 64);
        assert!(p.max_peers >= 50);
        assert_eq!(p.rss_budget_kb, 6144);
        assert_eq!(p.pool_bytes(), 204_800);
    }

    #[test]
    fn raspberry_pi_targets() {
        let t = |n: &str| by_name(n).unwrap();
        assert_eq!(t("rpi2").target, "armv7-unknown-linux-musleabihf");
        assert_eq!(
            t("rpi3").openwrt_arch.as_deref(),
            Some("aarch64_cortex-a53")
        );
        assert_eq!(
            t("rpi4").openwrt_arch.as_deref(),
            Some("aarch64_cortex-a72")
        );
        assert_eq!(
            t("rpi5").openwrt_arch.as_deref(),
            Some("aarch64_cortex-a76")
        );
        assert_eq!(t("rpi5").target, "aarch64-unknown-linux-musl");
        assert_eq!(t("x86_64").target, "x86_64-unknown-linux-musl");
    }

    #[test]
    fn unknown_board_lists_the_known_ones() {
        let e = by_name("wrt54g").unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown board 'wrt54g': expected one of mt7621, ath79-64mb, filogic, rpi2, rpi3, \
             rpi4, rpi5, x86_64 or a path to a .conf file"
        );
        assert_eq!(load("wrt54g").unwrap_err(), e);
    }

    fn sample() -> String {
        include_str!("../boards/mt7621.conf").to_string()
    }

    #[test]
    fn parse_errors_name_file_line_and_key() {
        let err = |text: &str| parse(text, "my.conf").unwrap_err().to_string();
        let s = sample();
        assert_eq!(
            err(&s.replace("ram_mb = 128", "ram_mb 128")),
            "my.conf:8: expected 'key = value', a '#' comment or a blank line"
        );
        assert_eq!(
            err(&s.replace("ram_mb = 128", "ram_mb = lots")),
            "my.conf:8: bad value for 'ram_mb': expected an integer from 16 to 1048576"
        );
        assert_eq!(
            err(&s.replace("buffer_size = 1600", "buffer_size = 1500")),
            "my.conf:11: bad value for 'buffer_size': expected an integer from 1600 to 65535"
        );
        assert!(err(&s.replace("cpu =", "cpus =")).starts_with("my.conf:7: unknown key 'cpus'"));
        assert_eq!(
            err(&format!("{s}max_peers = 3\n")),
            "my.conf:18: key 'max_peers' given twice"
        );
        assert_eq!(
            err(&s.replace("xmpp_buffer = 16384\n", "")),
            "my.conf: missing key 'xmpp_buffer'"
        );
        assert_eq!(
            err(&s.replace("name = mt7621", "name = mt 7621")),
            "my.conf:3: bad value for 'name': expected a name of 1-64 characters from \
             A-Z a-z 0-9 _ - ."
        );
        assert_eq!(
            err(&s.replace("max_links = 64", "max_links = 300")),
            "my.conf: max_links (300) exceeds max_peers (256)"
        );
        assert_eq!(
            err(&s.replace("pool_buffers = 256", "pool_buffers = 8192")),
            "my.conf: buffer pool + XMPP buffer (12816 KiB) exceed half of rss_budget_kb (16384)"
        );
        assert_eq!(
            err(&s.replace("rss_budget_kb = 16384", "rss_budget_kb = 65536")),
            "my.conf: rss_budget_kb (65536) exceeds a quarter of ram_mb (128 MB)"
        );
    }

    #[test]
    fn dash_means_none_and_comments_are_skipped() {
        let s = sample().replace("lan_bridge = br-lan", "# a comment\n  lan_bridge = -  ");
        let p = parse(&s, "x").unwrap();
        assert_eq!(p.lan_bridge, None);
        assert_eq!(p.wan_dev.as_deref(), Some("wan"));
    }

    #[test]
    fn load_reads_a_custom_file() {
        let dir = std::env::temp_dir().join(format!("ipop-board-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("custom.conf");
        std::fs::write(&path, sample().replace("name = mt7621", "name = custom")).unwrap();
        let p = load(path.to_str().unwrap()).unwrap();
        assert_eq!(p.name, "custom");
        assert_eq!(p.origin, path.to_str().unwrap());
        let missing = dir.join("missing.conf");
        let e = load(missing.to_str().unwrap()).unwrap_err();
        assert!(matches!(e, BoardError::Io { .. }), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn host_fact_parsers() {
        let release = "DISTRIB_ID='OpenWrt'\nDISTRIB_RELEASE='24.10.4'\n\
                       DISTRIB_ARCH='mipsel_24kc'\nDISTRIB_TARGET='ramips/mt7621'\n";
        assert_eq!(openwrt_arch_of(release).as_deref(), Some("mipsel_24kc"));
        assert_eq!(
            openwrt_arch_of("DISTRIB_ARCH=\"x86_64\"\n").as_deref(),
            Some("x86_64")
        );
        assert_eq!(openwrt_arch_of("DISTRIB_ID='OpenWrt'\n"), None);
        let meminfo = "MemTotal:         249856 kB\nMemFree:           12345 kB\n";
        assert_eq!(mem_total_kb_of(meminfo), Some(249_856));
        assert_eq!(mem_total_kb_of("MemFree: 1 kB\n"), None);
        assert_eq!(pi_model_of("Raspberry Pi 4 Model B Rev 1.4\0"), Some(4));
        assert_eq!(
            pi_model_of("Raspberry Pi Compute Module 5 Rev 1.0\0"),
            Some(5)
        );
        assert_eq!(pi_model_of("Raspberry Pi Model B Rev 2\0"), None);
        assert_eq!(pi_model_of("Xiaomi Mi Router 3G"), None);
    }

    fn facts(
        arch: Option<&str>,
        mem_mb: Option<u64>,
        pi: Option<u8>,
        t: &'static str,
    ) -> HostFacts {
        HostFacts {
            openwrt_arch: arch.map(str::to_string),
            mem_total_kb: mem_mb.map(|m| m * 1024),
            pi_model: pi,
            build_target: t,
        }
    }

    const MIPSEL: &str = "mipsel-unknown-linux-musl";
    const AARCH64: &str = "aarch64-unknown-linux-musl";
    const X86: &str = "x86_64-unknown-linux-musl";

    #[test]
    fn detect_by_openwrt_arch_and_ram() {
        let p = detect_from(&facts(Some("mipsel_24kc"), Some(122), None, MIPSEL));
        assert_eq!(p.name, "mt7621");
        assert_eq!(
            p.origin,
            "detected (OpenWrt DISTRIB_ARCH mipsel_24kc, MemTotal 122 MB)"
        );
        // An MT7628 with 64 MB: mt7621 does not fit, the 64 MB limits apply.
        let p = detect_from(&facts(Some("mipsel_24kc"), Some(59), None, MIPSEL));
        assert_eq!(p.name, "ath79-64mb");
        assert_eq!(
            detect_from(&facts(Some("mips_24kc"), Some(59), None, "x")).name,
            "ath79-64mb"
        );
        // Cortex-A53: a 256 MB Filogic router vs a 1 GB Pi 3.
        let a53 = Some("aarch64_cortex-a53");
        assert_eq!(
            detect_from(&facts(a53, Some(233), None, AARCH64)).name,
            "filogic"
        );
        assert_eq!(
            detect_from(&facts(a53, Some(921), None, AARCH64)).name,
            "rpi3"
        );
        assert_eq!(
            detect_from(&facts(
                Some("aarch64_cortex-a72"),
                Some(3800),
                None,
                AARCH64
            ))
            .name,
            "rpi4"
        );
        // An arch without a profile (IPQ40xx, 256 MB): the largest profile that fits.
        let p = detect_from(&facts(
            Some("arm_cortex-a7_neon-vfpv4"),
            Some(240),
            None,
            "x",
        ));
        assert_eq!(p.name, "filogic");
        // 20 MB: nothing fits; the smallest profile.
        assert_eq!(
            detect_from(&facts(Some("x86_64"), Some(20), None, X86)).name,
            "ath79-64mb"
        );
    }

    #[test]
    fn detect_without_openwrt() {
        let p = detect_from(&facts(None, Some(3900), Some(4), AARCH64));
        assert_eq!(p.name, "rpi4");
        assert_eq!(p.origin, "detected (Raspberry Pi 4, MemTotal 3900 MB)");
        assert_eq!(
            detect_from(&facts(None, Some(16000), None, X86)).name,
            "x86_64"
        );
        let p = detect_from(&facts(None, None, None, X86));
        assert_eq!(p.name, "x86_64");
        assert_eq!(
            p.origin,
            "detected (build target x86_64-unknown-linux-musl, MemTotal unknown)"
        );
        // No MemTotal: the smallest candidate of the arch.
        assert_eq!(
            detect_from(&facts(Some("aarch64_cortex-a53"), None, None, AARCH64)).name,
            "filogic"
        );
        assert_eq!(detect_from(&facts(None, None, None, MIPSEL)).name, "mt7621");
        // Unknown build target and nothing else known: the x86_64 default.
        assert_eq!(
            detect_from(&facts(None, None, None, "riscv64gc-unknown-linux-musl")).name,
            "x86_64"
        );
    }

    #[test]
    fn detect_on_this_host_returns_a_builtin() {
        let p = detect();
        assert!(NAMES.contains(&p.name.as_str()), "{}", p.name);
        assert!(p.origin.starts_with("detected ("), "{}", p.origin);
    }

    #[test]
    fn describe_lists_the_limits() {
        let d = by_name("ath79-64mb").unwrap().describe();
        assert_eq!(
            d,
            "board: ath79-64mb (Atheros ath79 routers with 64 MB RAM (MIPS 24Kc, big-endian))\n\
             \x20 from: boards/ath79-64mb.conf (built in)\n\
             \x20 target: mips-unknown-linux-musl, OpenWrt arch: mips_24kc, CPU: MIPS 24Kc \
             650-775 MHz, RAM: 64 MB\n\
             \x20 memory budget: 6144 KiB per overlay\n\
             \x20 packet buffers: 128 x 1600 B = 200 KiB\n\
             \x20 max peers: 64, max links: 24, MAC table: 256\n\
             \x20 XMPP stanza buffer: 8192 B\n\
             \x20 default LAN bridge: br-lan, underlay device: wan\n"
        );
    }

    /// The OpenWrt package's default /etc/config/ipop (openwrt/net/ipop/
    /// files/ipop.config) must load with ipop's own UCI reader, use no
    /// unknown option, and carry the seed configs' values. Kept here because
    /// the board module is the OpenWrt side's Rust home.
    #[test]
    fn openwrt_default_uci_file_matches_the_seed() {
        use crate::config::{load_json, load_uci, uci_overlays};
        use std::path::Path;
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let uci = root.join("openwrt/net/ipop/files/ipop.config");
        assert_eq!(
            uci_overlays(&uci).unwrap(),
            vec![("outer".to_string(), false), ("inner".to_string(), false)]
        );
        for (name, tap, port) in [("outer", "tunnel-tap", 5800), ("inner", "ipop", 5805)] {
            let u = load_uci(&uci, name).unwrap_or_else(|e| panic!("{e}"));
            assert!(!u.enabled);
            assert_eq!(u.ignored, vec![], "{name}: options ipop ignores");
            let j = load_json(&root.join(format!("tests/fixtures/seed-{name}.json")))
                .unwrap_or_else(|e| panic!("{e}"))
                .config;
            let c = u.config;
            assert_eq!(c.tap_name, tap);
            assert_eq!(c.listen_port, port);
            assert_eq!(c.mtu, Some(1280));
            assert_eq!(
                (
                    &c.xmpp_username,
                    &c.xmpp_password,
                    &c.xmpp_host,
                    c.xmpp_port
                ),
                (
                    &j.xmpp_username,
                    &j.xmpp_password,
                    &j.xmpp_host,
                    j.xmpp_port
                )
            );
            assert_eq!(
                (c.ip4, c.ip4_mask, c.switchmode),
                (j.ip4, j.ip4_mask, j.switchmode)
            );
            assert_eq!(c.network_ignore_list, j.network_ignore_list);
            assert_eq!((&c.vpn_type, c.sec), (&j.vpn_type, j.sec));
            assert_eq!(
                (
                    c.num_successors,
                    c.num_chords,
                    c.num_on_demand,
                    c.num_inbound
                ),
                (
                    j.num_successors,
                    j.num_chords,
                    j.num_on_demand,
                    j.num_inbound
                )
            );
            assert_eq!(
                (
                    c.ttl_link_initial,
                    c.ttl_link_pulse,
                    c.ttl_chord,
                    c.ttl_on_demand
                ),
                (
                    j.ttl_link_initial,
                    j.ttl_link_pulse,
                    j.ttl_chord,
                    j.ttl_on_demand
                )
            );
            assert_eq!(
                (
                    c.threshold_on_demand,
                    c.timer_interval,
                    c.interval_management
                ),
                (
                    j.threshold_on_demand,
                    j.timer_interval,
                    j.interval_management
                )
            );
            assert_eq!(
                (c.num_pings, c.interval_ping),
                (j.num_pings, j.interval_ping)
            );
            if name == "inner" {
                assert_eq!(c.stun, j.stun);
                assert_eq!(c.stun, vec!["192.168.1.100:19302".to_string()]);
            }
        }
    }
}
