//! IPOP 16.01 JSON: reading and writing.
//!
//! A small scanner checks the JSON structure and records where every value
//! starts, so that errors can name the key and line; serde-json-core (with
//! heapless strings, so escapes work) decodes each value.

use std::path::Path;

use super::keys::{self, find_json, generic_key_why, worth_writing, Builder, SECTIONS};
use super::value::{self, check_int, parse_str, Reject, Ty, Value};
use super::{ConfigError, Loaded, OverlayConfig, StaticPeer, TurnServer};

/// Longest string value accepted (bytes, after unescaping).
pub(crate) const MAX_STRING: usize = 1024;
const MAX_DEPTH: u32 = 32;

#[derive(Debug)]
pub(crate) enum Node<'a> {
    /// Raw JSON text of a string, number, `true`, `false` or `null`.
    Scalar(&'a str),
    Array(Vec<Item<'a>>),
    Object(Vec<Member<'a>>),
}

#[derive(Debug)]
pub(crate) struct Item<'a> {
    pub node: Node<'a>,
    pub line: u32,
    pub column: u32,
}

#[derive(Debug)]
pub(crate) struct Member<'a> {
    pub key: String,
    pub item: Item<'a>,
}

struct Scanner<'a> {
    text: &'a str,
    s: &'a [u8],
    i: usize,
    line: u32,
    line_start: usize,
}

type ScanResult<T> = Result<T, (u32, u32, String)>;

impl<'a> Scanner<'a> {
    fn column(&self) -> u32 {
        // Columns count characters, not bytes.
        self.text[self.line_start..self.i].chars().count() as u32 + 1
    }

    fn fail<T>(&self, what: impl Into<String>) -> ScanResult<T> {
        Err((self.line, self.column(), what.into()))
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(c) = self.peek() {
            match c {
                b'\n' => {
                    self.i += 1;
                    self.line += 1;
                    self.line_start = self.i;
                }
                b' ' | b'\t' | b'\r' => self.i += 1,
                _ => break,
            }
        }
    }

    fn found(&self) -> String {
        match self.text[self.i..].chars().next() {
            None => "the end of the file".into(),
            Some(c) => format!("{c:?}"),
        }
    }

    fn value(&mut self, depth: u32) -> ScanResult<Item<'a>> {
        self.skip_ws();
        let (line, column) = (self.line, self.column());
        if depth > MAX_DEPTH {
            return self.fail(format!("nested deeper than {MAX_DEPTH} levels"));
        }
        let node = match self.peek() {
            Some(b'{') => self.object(depth)?,
            Some(b'[') => self.array(depth)?,
            Some(b'"') => Node::Scalar(self.string()?),
            Some(b't') => self.literal("true")?,
            Some(b'f') => self.literal("false")?,
            Some(b'n') => self.literal("null")?,
            Some(b'-' | b'0'..=b'9') => self.number()?,
            _ => return self.fail(format!("expected a value, found {}", self.found())),
        };
        Ok(Item { node, line, column })
    }

    fn literal(&mut self, word: &'static str) -> ScanResult<Node<'a>> {
        if self.s[self.i..].starts_with(word.as_bytes()) {
            let start = self.i;
            self.i += word.len();
            Ok(Node::Scalar(&self.text[start..self.i]))
        } else {
            self.fail(format!("expected a value, found {}", self.found()))
        }
    }

    fn number(&mut self) -> ScanResult<Node<'a>> {
        let start = self.i;
        let digits = |sc: &mut Scanner| {
            let from = sc.i;
            while matches!(sc.peek(), Some(b'0'..=b'9')) {
                sc.i += 1;
            }
            sc.i > from
        };
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        let int_start = self.i;
        if !digits(self) {
            return self.fail("expected digits in a number");
        }
        if self.s[int_start] == b'0' && self.i - int_start > 1 {
            self.i = int_start;
            return self.fail("numbers must not have leading zeros");
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if !digits(self) {
                return self.fail("expected digits after '.'");
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if !digits(self) {
                return self.fail("expected digits in the exponent");
            }
        }
        Ok(Node::Scalar(&self.text[start..self.i]))
    }

    /// Scans a string (quotes included) without decoding it.
    fn string(&mut self) -> ScanResult<&'a str> {
        let start = self.i;
        self.i += 1;
        loop {
            match self.peek() {
                None => {
                    self.i = start;
                    return self.fail("unterminated string");
                }
                Some(b'"') => {
                    self.i += 1;
                    return Ok(&self.text[start..self.i]);
                }
                Some(b'\\') => {
                    self.i += 1;
                    match self.peek() {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.i += 1,
                        Some(b'u') => {
                            let hex = self.s.get(self.i + 1..self.i + 5);
                            if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                                return self.fail("expected 4 hex digits after \\u");
                            }
                            self.i += 5;
                        }
                        _ => return self.fail("invalid escape in a string"),
                    }
                }
                Some(c) if c < 0x20 => {
                    return self.fail("raw control character or line break inside a string (write it as an escape such as \\n)")
                }
                Some(_) => self.i += 1,
            }
        }
    }

    fn array(&mut self, depth: u32) -> ScanResult<Node<'a>> {
        self.i += 1;
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.i += 1;
            return Ok(Node::Array(items));
        }
        loop {
            items.push(self.value(depth + 1)?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => {
                    self.i += 1;
                    self.skip_ws();
                    if self.peek() == Some(b']') {
                        return self.fail("trailing comma before ']'");
                    }
                }
                Some(b']') => {
                    self.i += 1;
                    return Ok(Node::Array(items));
                }
                _ => {
                    return self.fail(format!(
                        "expected ',' or ']' in a list, found {}",
                        self.found()
                    ))
                }
            }
        }
    }

    fn object(&mut self, depth: u32) -> ScanResult<Node<'a>> {
        self.i += 1;
        let mut members = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(Node::Object(members));
        }
        loop {
            self.skip_ws();
            if self.peek() != Some(b'"') {
                return self.fail(format!(
                    "expected a \"key\" in quotes, found {}",
                    self.found()
                ));
            }
            let raw = self.string()?;
            let Some(key) = decode_string(raw) else {
                return self.fail("invalid escape in a key");
            };
            self.skip_ws();
            if self.peek() != Some(b':') {
                return self.fail(format!(
                    "expected ':' after the key {key:?}, found {}",
                    self.found()
                ));
            }
            self.i += 1;
            let item = self.value(depth + 1)?;
            members.push(Member { key, item });
            self.skip_ws();
            match self.peek() {
                Some(b',') => {
                    self.i += 1;
                    self.skip_ws();
                    if self.peek() == Some(b'}') {
                        return self.fail("trailing comma before '}'");
                    }
                }
                Some(b'}') => {
                    self.i += 1;
                    return Ok(Node::Object(members));
                }
                _ => {
                    return self.fail(format!(
                        "expected ',' or '}}' after a value, found {}",
                        self.found()
                    ))
                }
            }
        }
    }
}

/// Parses a whole document; errors carry line and column.
pub(crate) fn parse(text: &str) -> ScanResult<Item<'_>> {
    let mut sc = Scanner {
        text,
        s: text.as_bytes(),
        i: 0,
        line: 1,
        line_start: 0,
    };
    // A UTF-8 byte order mark is tolerated, as Python's json does not.
    if text.starts_with('\u{feff}') {
        sc.i = 3;
        sc.line_start = 3;
    }
    let root = sc.value(0)?;
    sc.skip_ws();
    if sc.i != sc.s.len() {
        return sc.fail(format!(
            "unexpected {} after the end of the top-level object",
            sc.found()
        ));
    }
    Ok(root)
}

/// Decodes a raw JSON string (with quotes) with serde-json-core.
pub(crate) fn decode_string(raw: &str) -> Option<String> {
    let mut buf = [0u8; MAX_STRING];
    let (s, _) =
        serde_json_core::from_str_escaped::<heapless::String<MAX_STRING>>(raw, &mut buf).ok()?;
    Some(s.as_str().to_string())
}

fn kind_of(item: &Item) -> String {
    match &item.node {
        Node::Object(_) => "an object".into(),
        Node::Array(_) => "a list".into(),
        Node::Scalar(raw) => show_raw(raw),
    }
}

/// Raw JSON scalar text for messages (already quoted if a string).
fn show_raw(raw: &str) -> String {
    let short: String = raw.chars().take(60).collect();
    if short.len() < raw.len() {
        format!("{short}…")
    } else {
        short
    }
}

struct Ctx<'p> {
    file: &'p Path,
}

impl Ctx<'_> {
    fn value_err(&self, key: &str, item: &Item, expected: String) -> ConfigError {
        ConfigError::Value {
            file: self.file.to_path_buf(),
            key: key.to_string(),
            line: Some(item.line),
            expected,
            got: kind_of(item),
        }
    }

    fn reject(&self, key: &str, item: &Item, r: Reject) -> ConfigError {
        match r {
            Reject::Expected(e) => self.value_err(key, item, e),
            Reject::Unsupported(what) => ConfigError::Unsupported {
                file: self.file.to_path_buf(),
                key: key.to_string(),
                line: Some(item.line),
                what,
            },
        }
    }

    fn string(&self, key: &str, item: &Item, ty: Ty) -> Result<String, ConfigError> {
        match &item.node {
            Node::Scalar(raw) if raw.starts_with('"') => decode_string(raw).ok_or_else(|| {
                self.value_err(
                    key,
                    item,
                    format!(
                        "{} of at most {MAX_STRING} bytes (\\u escapes of UTF-16 surrogates are not supported)",
                        value::expected(ty)
                    ),
                )
            }),
            _ => Err(self.value_err(key, item, value::expected(ty))),
        }
    }

    fn integer(&self, key: &str, item: &Item, ty: Ty) -> Result<u64, ConfigError> {
        if let Node::Scalar(raw) = &item.node {
            if let Ok((n, _)) = serde_json_core::from_str::<i64>(raw) {
                if let Ok(n) = u64::try_from(n) {
                    return Ok(n);
                }
            }
        }
        Err(self.value_err(key, item, value::expected(ty)))
    }

    fn parse(&self, key: &str, item: &Item, ty: Ty) -> Result<Value, ConfigError> {
        match ty {
            Ty::Bool => match &item.node {
                Node::Scalar("true") | Node::Scalar("1") => Ok(Value::Bool(true)),
                Node::Scalar("false") | Node::Scalar("0") => Ok(Value::Bool(false)),
                _ => Err(self.value_err(key, item, value::expected(ty))),
            },
            Ty::Bit => match &item.node {
                Node::Scalar("true") => Ok(Value::Bool(true)),
                Node::Scalar("false") => Ok(Value::Bool(false)),
                _ => {
                    let n = self.integer(key, item, ty)?;
                    check_int(ty, n).map_err(|r| self.reject(key, item, r))
                }
            },
            Ty::Int { .. } | Ty::Mtu => {
                let n = self.integer(key, item, ty)?;
                check_int(ty, n).map_err(|r| self.reject(key, item, r))
            }
            Ty::IfNameList | Ty::HostPortList | Ty::KeyList => {
                let Node::Array(items) = &item.node else {
                    return Err(self.value_err(key, item, value::expected(ty)));
                };
                let mut out = Vec::with_capacity(items.len());
                for (i, it) in items.iter().enumerate() {
                    let k = format!("{key}[{i}]");
                    let s = self.string(&k, it, ty)?;
                    if !value::check_list_item(ty, &s) {
                        let one = if ty == Ty::IfNameList { Ty::IfName } else { ty };
                        let exp = if ty == Ty::IfNameList {
                            value::expected(one)
                        } else if ty == Ty::KeyList {
                            value::KEY_EXPECTED.into()
                        } else {
                            "\"host:port\" like \"stun.l.google.com:19302\" (IPv6 as \"[addr]:port\")".into()
                        };
                        return Err(self.value_err(&k, it, exp));
                    }
                    out.push(s);
                }
                Ok(Value::List(out))
            }
            Ty::Turns => self.turns(key, item),
            Ty::Peers => self.peers(key, item),
            _ => {
                let s = self.string(key, item, ty)?;
                parse_str(ty, &s).map_err(|r| self.reject(key, item, r))
            }
        }
    }

    /// The members of an object-shaped list entry, by name.
    fn fields<'i, 'a>(
        &self,
        key: &str,
        item: &'i Item<'a>,
        ty: Ty,
        names: &[&str],
    ) -> Result<Vec<&'i Item<'a>>, ConfigError> {
        let Node::Object(members) = &item.node else {
            return Err(self.value_err(key, item, value::expected(ty)));
        };
        let mut out = Vec::new();
        for name in names {
            match members.iter().rev().find(|m| m.key == *name) {
                Some(m) => out.push(&m.item),
                None => {
                    return Err(ConfigError::Missing {
                        file: self.file.to_path_buf(),
                        key: format!("{key}.{name}"),
                        expected: value::expected(ty),
                    })
                }
            }
        }
        if let Some(m) = members.iter().find(|m| !names.contains(&m.key.as_str())) {
            return Err(self.value_err(
                &format!("{key}.{}", printable(&m.key)),
                &m.item,
                format!("only the keys {}", names.join(", ")),
            ));
        }
        Ok(out)
    }

    fn turns(&self, key: &str, item: &Item) -> Result<Value, ConfigError> {
        let Node::Array(items) = &item.node else {
            return Err(self.value_err(key, item, value::expected(Ty::Turns)));
        };
        let mut out = Vec::new();
        for (i, it) in items.iter().enumerate() {
            let k = format!("{key}[{i}]");
            let f = self.fields(&k, it, Ty::Turns, &["server", "user", "pass"])?;
            let server = self.string(&format!("{k}.server"), f[0], Ty::NonEmpty)?;
            if !value::valid_host_port(&server) {
                return Err(self.value_err(
                    &format!("{k}.server"),
                    f[0],
                    "\"host:port\" like \"turn.example.org:3478\"".into(),
                ));
            }
            let user = self.string(&format!("{k}.user"), f[1], Ty::Text)?;
            let pass = self.string(&format!("{k}.pass"), f[2], Ty::Text)?;
            out.push(TurnServer { server, user, pass });
        }
        Ok(Value::Turns(out))
    }

    fn peers(&self, key: &str, item: &Item) -> Result<Value, ConfigError> {
        let Node::Array(items) = &item.node else {
            return Err(self.value_err(key, item, value::expected(Ty::Peers)));
        };
        let mut out = Vec::new();
        for (i, it) in items.iter().enumerate() {
            let k = format!("{key}[{i}]");
            let f = self.fields(&k, it, Ty::Peers, &["endpoint", "public_key"])?;
            let ek = format!("{k}.endpoint");
            let endpoint = self.string(&ek, f[0], Ty::NonEmpty)?;
            if !value::valid_host_port(&endpoint) {
                return Err(self.value_err(&ek, f[0], value::ENDPOINT_EXPECTED.into()));
            }
            let kk = format!("{k}.public_key");
            let text = self.string(&kk, f[1], Ty::NonEmpty)?;
            let Some(public_key) = value::parse_key(&text) else {
                return Err(self.value_err(&kk, f[1], value::KEY_EXPECTED.into()));
            };
            out.push(StaticPeer {
                endpoint,
                public_key,
            });
        }
        Ok(Value::Peers(out))
    }
}

/// A user-written key name made safe for a one-line message.
fn printable(s: &str) -> String {
    if s.chars().any(char::is_control) {
        format!("{s:?}")
    } else {
        s.to_string()
    }
}

/// Keys of other IPOP versions that ipop reads as one of its own keys:
/// 16.08's `XmppClient` section holds the XMPP account.
fn alias(section: &str, key: &str) -> Option<&'static keys::Key> {
    match (section, key) {
        ("CFx", "ip4") => find_json("BaseTopologyManager", "ip4"),
        ("XmppClient", "xmpp_username" | "xmpp_password" | "xmpp_host" | "xmpp_port") => {
            find_json("CFx", key)
        }
        ("XmppClient", "xmpp_accept_untrusted_server") => find_json("CFx", "xmpp_insecure"),
        ("XmppClient", "truststore") => find_json("CFx", "xmpp_ca_file"),
        _ => None,
    }
}

/// Why keys of other IPOP versions do nothing.
fn legacy_why(section: &str, key: &str) -> Option<&'static str> {
    match (section, key) {
        ("XmppClient", "xmpp_authentication_method" | "certdirectory" | "certfile" | "keyfile") => {
            Some("ipop logs in to XMPP with a password (SASL SCRAM-SHA-1, or PLAIN inside TLS); client certificates are not supported")
        }
        ("CFx", "wait_time" | "icc" | "icc_port" | "multihop_cl" | "multihop_ihc" | "multihop_hl" | "multihop_tl" | "multihop_sr") => {
            Some("IPOP 15.x controller key, unused since 16.01; ipop's overlay forwarding needs no settings")
        }
        ("CFx", "stat_report") => Some("IPOP 15.x key; ipop never reports usage to a third-party server"),
        ("CFx", "router_ip" | "router_ip4_mask") => {
            Some("IPOP 15.x router-mode key; ipop's router mode is subnet_mask")
        }
        _ => None,
    }
}

fn section_why(section: &str) -> &'static str {
    match section {
        "Watchdog" | "Monitor" | "AddressMapper" => {
            "SocialVPN module; ipop implements GroupVPN only"
        }
        _ => "unknown section, not part of the IPOP 16.01 GroupVPN format",
    }
}

/// Loads a config from JSON text; `file` is only used in messages.
pub(crate) fn load_str(text: &str, file: &Path) -> Result<Loaded, ConfigError> {
    let root = parse(text).map_err(|(line, column, what)| ConfigError::Json {
        file: file.to_path_buf(),
        line,
        column,
        what,
    })?;
    let ctx = Ctx { file };
    let Node::Object(sections) = &root.node else {
        return Err(ConfigError::Json {
            file: file.to_path_buf(),
            line: root.line,
            column: root.column,
            what: "expected an object {\"CFx\": {...}, ...} at the top level".into(),
        });
    };
    let mut b = Builder::new(None);
    let mut seen: Vec<String> = Vec::new();
    let mut cfx_ip4: Option<(std::net::Ipv4Addr, u32)> = None;
    let mut btm_ip4: Option<std::net::Ipv4Addr> = None;
    for sec in sections {
        let name = sec.key.as_str();
        let known = SECTIONS.contains(&name) || name == "XmppClient";
        let Node::Object(members) = &sec.item.node else {
            if known {
                return Err(ctx.value_err(name, &sec.item, "an object of keys".into()));
            }
            b.ignore(printable(name), section_why(name));
            continue;
        };
        if !known {
            b.ignore(printable(name), section_why(name));
            continue;
        }
        for m in members {
            let dotted = format!("{name}.{}", printable(&m.key));
            if seen.contains(&dotted) {
                b.ignore(dotted.clone(), "duplicate key: the last value wins");
            } else {
                seen.push(dotted.clone());
            }
            let is_null = matches!(m.item.node, Node::Scalar("null"));
            let lookup = alias(name, &m.key).or_else(|| find_json(name, &m.key));
            if let Some(k) = lookup {
                if is_null {
                    continue;
                }
                let v = ctx.parse(&dotted, &m.item, k.ty)?;
                if k.uci == "ip4" {
                    if let Value::Ip4(ip) = v {
                        if name == "CFx" {
                            cfx_ip4 = Some((ip, m.item.line));
                        } else {
                            btm_ip4 = Some(ip);
                        }
                    }
                }
                b.apply(k, v);
            } else if let Some(why) =
                legacy_why(name, &m.key).or_else(|| generic_key_why(name, &m.key))
            {
                b.ignore(dotted, why);
            } else {
                b.ignore(dotted, "unknown key, not part of the IPOP 16.01 format");
            }
        }
    }
    if let (Some((a, line)), Some(c)) = (cfx_ip4, btm_ip4) {
        if a != c {
            return Err(ConfigError::Unsupported {
                file: file.to_path_buf(),
                key: "CFx.ip4".into(),
                line: Some(line),
                what: format!("{a} differs from BaseTopologyManager.ip4 {c}; set ip4 in one place (16.01: BaseTopologyManager, 16.08: CFx)"),
            });
        }
    }
    let (config, ignored) = b.finish(file)?;
    Ok(Loaded {
        config,
        ignored,
        enabled: true,
    })
}

/// Writes a JSON string literal.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json_value(ty: Ty, v: &Value) -> String {
    match v {
        Value::Unset => "null".into(),
        Value::Bool(b) if ty == Ty::Bit => if *b { "1" } else { "0" }.into(),
        Value::Bool(b) => b.to_string(),
        Value::Int(n) => n.to_string(),
        Value::Str(s) => quote(s),
        Value::List(l) => format!(
            "[{}]",
            l.iter().map(|s| quote(s)).collect::<Vec<_>>().join(", ")
        ),
        Value::Ip4(ip) => quote(&ip.to_string()),
        Value::Prefix(p) => quote(&value::format_prefix6(*p)),
        Value::Turns(t) => format!(
            "[{}]",
            t.iter()
                .map(|t| format!(
                    "{{\"server\": {}, \"user\": {}, \"pass\": {}}}",
                    quote(&t.server),
                    quote(&t.user),
                    quote(&t.pass)
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::Peers(p) => format!(
            "[{}]",
            p.iter()
                .map(|p| format!(
                    "{{\"endpoint\": {}, \"public_key\": {}}}",
                    quote(&p.endpoint),
                    quote(&super::base64::encode(&p.public_key))
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// An IPOP-16.01-shaped JSON config for `cfg` (what `ipop uci import`
/// prints). Keys at their default value are left out, except `vpn_type`,
/// `ip4_mask`, `switchmode` and `ip4`; `load_json` reads it back to `cfg`.
pub fn to_json(cfg: &OverlayConfig) -> String {
    let defaults = writer_defaults(cfg);
    let mut sections = Vec::new();
    for sec in SECTIONS {
        let lines: Vec<String> = keys::KEYS
            .iter()
            .filter(|k| k.section == sec && worth_writing(k, cfg, &defaults))
            .map(|k| format!("    {}: {}", quote(k.json), json_value(k.ty, &(k.get)(cfg))))
            .collect();
        if !lines.is_empty() {
            sections.push(format!("  {}: {{\n{}\n  }}", quote(sec), lines.join(",\n")));
        }
    }
    format!("{{\n{}\n}}\n", sections.join(",\n"))
}

/// What a writer compares against: the defaults, with `key_file` and
/// `control_socket` derived from the config's own `tap_name`.
pub(crate) fn writer_defaults(cfg: &OverlayConfig) -> OverlayConfig {
    let mut d = OverlayConfig::defaults_for_tap(&cfg.tap_name);
    d.tap_name = OverlayConfig::default().tap_name;
    d
}
