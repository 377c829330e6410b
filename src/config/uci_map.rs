//! The overlay <-> UCI mapping: `/etc/config/ipop` holds one
//! `config overlay 'NAME'` section per overlay. Option names are the
//! `OverlayConfig` field names (= the JSON key names, except
//! `stat_report_*`, `central_visualizer_*`, `ipop_ver_rel` and
//! `static_peer`); list keys are `list` lines; booleans are '1'/'0'.
//! `turn` entries are `user:pass@host:port` and `static_peer` entries are
//! `<public key base64>@host:port` (see `encode_turn`).

use std::path::Path;

use super::error::show_got;
use super::json::writer_defaults;
use super::keys::{find_uci, worth_writing, Builder, Key, KEYS};
use super::uci::{self, quote, UciOption, UciSection};
use super::value::{self, parse_int_text, parse_str, parse_uci_bool, Reject, Ty, Value};
use super::{ConfigError, Loaded, OverlayConfig, StaticPeer, TurnServer};

/// The UCI package name used in messages (`ipop.outer.ip4`).
pub const PACKAGE: &str = "ipop";
/// The section type of an overlay.
pub const SECTION_TYPE: &str = "overlay";

fn parse_file(data: &[u8], file: &Path) -> Result<Vec<UciSection>, ConfigError> {
    uci::parse(data).map_err(|e| ConfigError::Uci {
        file: file.to_path_buf(),
        line: e.line,
        byte: e.byte,
        what: e.what.to_string(),
    })
}

/// Named overlay sections with their `enabled` flag.
pub(crate) fn overlays(data: &[u8], file: &Path) -> Result<Vec<(String, bool)>, ConfigError> {
    let sections = parse_file(data, file)?;
    Ok(sections
        .iter()
        .filter(|s| s.section_type == SECTION_TYPE)
        .filter_map(|s| {
            let name = s.name.clone()?;
            let enabled = s
                .option("enabled")
                .and_then(|o| o.values.first())
                .is_none_or(|v| parse_uci_bool(v).unwrap_or(false));
            Some((name, enabled))
        })
        .collect())
}

/// `uci show ipop` for a file, as OpenWrt's `uci` prints it.
pub fn show_file(path: &Path) -> Result<String, ConfigError> {
    let data = super::read_bytes(path)?;
    Ok(uci::show(PACKAGE, &parse_file(&data, path)?))
}

/// Finds overlay `name`: a section name, or `@overlay[N]` for the N-th
/// overlay section (anonymous ones included, as libuci counts).
fn find<'s>(sections: &'s [UciSection], name: &str) -> Option<(usize, &'s UciSection)> {
    if let Some(idx) = name
        .strip_prefix("@overlay[")
        .and_then(|r| r.strip_suffix(']'))
        .and_then(|n| n.parse::<usize>().ok())
    {
        let (i, _) = sections
            .iter()
            .enumerate()
            .filter(|(_, s)| s.section_type == SECTION_TYPE)
            .nth(idx)?;
        return Some((i, &sections[i]));
    }
    sections
        .iter()
        .enumerate()
        .find(|(_, s)| s.section_type == SECTION_TYPE && s.name.as_deref() == Some(name))
}

pub(crate) fn load_bytes(data: &[u8], file: &Path, name: &str) -> Result<Loaded, ConfigError> {
    let sections = parse_file(data, file)?;
    let Some((index, section)) = find(&sections, name) else {
        return Err(ConfigError::UnknownOverlay {
            file: file.to_path_buf(),
            name: name.to_string(),
            known: sections
                .iter()
                .filter(|s| s.section_type == SECTION_TYPE)
                .filter_map(|s| s.name.clone())
                .collect(),
        });
    };
    let prefix = format!("{PACKAGE}.{}.", uci::section_ref(&sections, index));
    let cx = Cx {
        file,
        prefix: &prefix,
    };
    let mut b = Builder::new(Some(prefix.clone()));
    let mut enabled = true;
    for o in &section.options {
        if o.name == "enabled" {
            enabled = cx.scalar(o).and_then(|v| {
                parse_uci_bool(v).ok_or_else(|| cx.err(o, 0, value::UCI_BOOL_EXPECTED.into()))
            })?;
            continue;
        }
        let Some(k) = find_uci(&o.name) else {
            b.ignore(
                format!("{prefix}{}", o.name),
                "unknown option, not part of ipop's UCI mapping",
            );
            continue;
        };
        let v = cx.parse(k, o)?;
        b.apply(k, v);
    }
    let (config, ignored) = b.finish(file)?;
    Ok(Loaded {
        config,
        ignored,
        enabled,
    })
}

struct Cx<'a> {
    file: &'a Path,
    prefix: &'a str,
}

impl Cx<'_> {
    fn err(&self, o: &UciOption, i: usize, expected: String) -> ConfigError {
        ConfigError::Value {
            file: self.file.to_path_buf(),
            key: format!("{}{}", self.prefix, o.name),
            line: o.lines.get(i).copied(),
            expected,
            got: if o.is_list {
                format!("list entry {}", show_got(&o.values[i]))
            } else {
                show_got(&o.values[i])
            },
        }
    }

    fn reject(&self, o: &UciOption, i: usize, r: Reject) -> ConfigError {
        match r {
            Reject::Expected(e) => self.err(o, i, e),
            Reject::Unsupported(what) => ConfigError::Unsupported {
                file: self.file.to_path_buf(),
                key: format!("{}{}", self.prefix, o.name),
                line: o.lines.get(i).copied(),
                what,
            },
        }
    }

    /// The value of a single-valued option; a `list` is an error.
    fn scalar<'o>(&self, o: &'o UciOption) -> Result<&'o str, ConfigError> {
        if o.is_list {
            return Err(ConfigError::Value {
                file: self.file.to_path_buf(),
                key: format!("{}{}", self.prefix, o.name),
                line: o.lines.first().copied(),
                expected: format!("one `option {}` line", o.name),
                got: format!("`list {}` lines", o.name),
            });
        }
        Ok(&o.values[0])
    }

    /// List entries: `list` lines, or one `option` whose words are the
    /// entries (the OpenWrt convention `option stun 'a:1 b:2'`).
    fn entries<'o>(&self, o: &'o UciOption) -> Vec<(usize, &'o str)> {
        if o.is_list && o.values.len() == 1 && o.values[0].is_empty() {
            // `list stun ''`: an explicitly empty list.
            Vec::new()
        } else if o.is_list {
            o.values.iter().map(|v| v.as_str()).enumerate().collect()
        } else {
            o.values[0]
                .split_ascii_whitespace()
                .map(|w| (0, w))
                .collect()
        }
    }

    fn parse(&self, k: &Key, o: &UciOption) -> Result<Value, ConfigError> {
        match k.ty {
            Ty::Bool | Ty::Bit => {
                let v = self.scalar(o)?;
                parse_uci_bool(v)
                    .map(Value::Bool)
                    .ok_or_else(|| self.err(o, 0, value::UCI_BOOL_EXPECTED.into()))
            }
            Ty::Int { .. } | Ty::Mtu => {
                let v = self.scalar(o)?;
                parse_int_text(k.ty, v).map_err(|r| self.reject(o, 0, r))
            }
            Ty::IfNameList | Ty::HostPortList | Ty::KeyList => {
                let mut out = Vec::new();
                for (i, e) in self.entries(o) {
                    if !value::check_list_item(k.ty, e) {
                        return Err(self.err(o, i, value::expected(k.ty)));
                    }
                    out.push(e.to_string());
                }
                Ok(Value::List(out))
            }
            Ty::Turns => {
                let mut out = Vec::new();
                for (i, e) in self.entries(o) {
                    let t = decode_turn(e).ok_or_else(|| {
                        self.err(
                            o,
                            i,
                            "user:pass@host:port (with % : @ in user and pass written %25 %3A %40)"
                                .into(),
                        )
                    })?;
                    out.push(t);
                }
                Ok(Value::Turns(out))
            }
            Ty::Peers => {
                let mut out = Vec::new();
                for (i, e) in self.entries(o) {
                    let p = decode_peer(e).ok_or_else(|| {
                        self.err(o, i, "<public key base64>@host:port, e.g. '//////////////////////////////////////////8=@203.0.113.7:5800'".into())
                    })?;
                    out.push(p);
                }
                Ok(Value::Peers(out))
            }
            _ => {
                let v = self.scalar(o)?;
                parse_str(k.ty, v).map_err(|r| self.reject(o, 0, r))
            }
        }
    }
}

fn pct_encode(s: &str, special: &[char]) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c == '%' || special.contains(&c) {
            out.push_str(&format!("%{:02X}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

fn pct_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            if !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
                return None;
            }
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// `user:pass@server`; `%`, `:` and `@` in user and pass (and `%`, `@` in
/// the server) are written `%25`, `%3A`, `%40`, so any value round-trips.
pub fn encode_turn(t: &TurnServer) -> String {
    format!(
        "{}:{}@{}",
        pct_encode(&t.user, &[':', '@']),
        pct_encode(&t.pass, &[':', '@']),
        pct_encode(&t.server, &['@'])
    )
}

pub fn decode_turn(s: &str) -> Option<TurnServer> {
    let (cred, server) = s.split_once('@')?;
    let (user, pass) = cred.split_once(':')?;
    let server = pct_decode(server)?;
    if !value::valid_host_port(&server) {
        return None;
    }
    Some(TurnServer {
        server,
        user: pct_decode(user)?,
        pass: pct_decode(pass)?,
    })
}

/// `<base64 public key>@host:port` (base64 has no `@`).
pub fn encode_peer(p: &StaticPeer) -> String {
    format!("{}@{}", super::base64::encode(&p.public_key), p.endpoint)
}

pub fn decode_peer(s: &str) -> Option<StaticPeer> {
    let (key, endpoint) = s.split_once('@')?;
    if !value::valid_host_port(endpoint) {
        return None;
    }
    Some(StaticPeer {
        endpoint: endpoint.to_string(),
        public_key: value::parse_key(key)?,
    })
}

fn uci_lines(k: &Key, v: &Value) -> Vec<(bool, String)> {
    match v {
        Value::Unset => Vec::new(),
        Value::Bool(b) => vec![(false, if *b { "1" } else { "0" }.into())],
        Value::Int(n) => vec![(false, n.to_string())],
        Value::Str(s) => vec![(false, s.clone())],
        Value::List(l) => l.iter().map(|s| (true, s.clone())).collect(),
        Value::Ip4(ip) => vec![(false, ip.to_string())],
        Value::Prefix(p) => vec![(false, value::format_prefix6(*p))],
        Value::Turns(t) => t.iter().map(|t| (true, encode_turn(t))).collect(),
        Value::Peers(p) => p.iter().map(|p| (true, encode_peer(p))).collect(),
    }
    .into_iter()
    .map(|(list, s)| {
        (
            list || matches!(k.ty, Ty::IfNameList | Ty::HostPortList | Ty::KeyList),
            s,
        )
    })
    .collect()
}

/// Whether `name` can be a UCI section name (`[A-Za-z0-9_]+`).
pub fn valid_section_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

/// The `config overlay 'NAME'` section for `cfg` (what `ipop uci export`
/// prints). Options at their default are left out, except `vpn_type`,
/// `ip4_mask`, `switchmode` and `ip4`. An empty `stun` list (no STUN
/// servers) is written `list stun ''`. `name` must pass
/// [`valid_section_name`].
pub fn to_uci_section(cfg: &OverlayConfig, name: &str, enabled: bool) -> String {
    let defaults = writer_defaults(cfg);
    let mut out = format!("config {SECTION_TYPE} {}\n", quote(name));
    out.push_str(&format!(
        "\toption enabled '{}'\n",
        if enabled { 1 } else { 0 }
    ));
    for k in KEYS.iter().filter(|k| worth_writing(k, cfg, &defaults)) {
        let v = (k.get)(cfg);
        let lines = uci_lines(k, &v);
        if lines.is_empty() && matches!(v, Value::List(_)) {
            out.push_str(&format!("\tlist {} ''\n", k.uci));
        }
        for (list, s) in lines {
            let kw = if list { "list" } else { "option" };
            out.push_str(&format!("\t{kw} {} {}\n", k.uci, quote(&s)));
        }
    }
    out
}
