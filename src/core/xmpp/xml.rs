//! A streaming XML reader for XMPP over one fixed buffer: it finds the stream
//! header and then each complete top-level stanza, and gives read-only views
//! of them. Only what XMPP allows is accepted: no comments, CDATA, DTDs or
//! processing instructions inside the stream (RFC 6120 §11.1). A stanza that
//! does not fit the buffer is an error, never a reallocation.

use std::borrow::Cow;
use std::ops::Range;

/// Largest stanza accepted (and the size of the read buffer).
pub const MAX_STANZA: usize = 16 * 1024;
/// Deepest element nesting inside a stanza.
const MAX_DEPTH: usize = 32;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XmlError {
    /// Not well-formed, not UTF-8, or a construct XMPP forbids.
    Malformed,
    /// A stanza larger than `MAX_STANZA`.
    TooLarge,
    /// Nesting deeper than `MAX_DEPTH`.
    TooDeep,
}

impl core::fmt::Display for XmlError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            XmlError::Malformed => "malformed XML",
            XmlError::TooLarge => "stanza larger than 16 KiB",
            XmlError::TooDeep => "XML nested too deeply",
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    /// `<?xml ...?>`
    Decl,
    Start {
        name: Range<usize>,
        attrs: Range<usize>,
        empty: bool,
    },
    End {
        name: Range<usize>,
    },
    Text(Range<usize>),
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_name_byte(c: u8) -> bool {
    !(is_space(c)
        || matches!(
            c,
            b'<' | b'>' | b'/' | b'=' | b'"' | b'\'' | b'?' | b'!' | b'&'
        ))
}

/// The next token at `pos`, or None when `b` ends before it does.
fn next_token(b: &[u8], pos: usize) -> Result<Option<(Token, usize)>, XmlError> {
    let Some(&first) = b.get(pos) else {
        return Ok(None);
    };
    if first != b'<' {
        let end = b[pos..]
            .iter()
            .position(|&c| c == b'<')
            .map_or(b.len(), |i| pos + i);
        return Ok(Some((Token::Text(pos..end), end)));
    }
    let Some(&second) = b.get(pos + 1) else {
        return Ok(None);
    };
    match second {
        b'?' => {
            let rest = &b[pos + 2..];
            Ok(rest
                .windows(2)
                .position(|w| w == b"?>")
                .map(|i| (Token::Decl, pos + 2 + i + 2)))
        }
        b'!' => Err(XmlError::Malformed),
        b'/' => {
            let start = pos + 2;
            let mut i = start;
            while i < b.len() && is_name_byte(b[i]) {
                i += 1;
            }
            let name = start..i;
            while i < b.len() && is_space(b[i]) {
                i += 1;
            }
            match b.get(i) {
                None => Ok(None),
                Some(b'>') if !name.is_empty() => Ok(Some((Token::End { name }, i + 1))),
                Some(_) => Err(XmlError::Malformed),
            }
        }
        _ => start_tag(b, pos),
    }
}

fn start_tag(b: &[u8], pos: usize) -> Result<Option<(Token, usize)>, XmlError> {
    let start = pos + 1;
    let mut i = start;
    while i < b.len() && is_name_byte(b[i]) {
        i += 1;
    }
    let name = start..i;
    if i < b.len() && name.is_empty() {
        return Err(XmlError::Malformed);
    }
    let attrs_start = i;
    loop {
        let ws = i;
        while i < b.len() && is_space(b[i]) {
            i += 1;
        }
        let Some(&c) = b.get(i) else { return Ok(None) };
        match c {
            b'>' => {
                let t = Token::Start {
                    name,
                    attrs: attrs_start..i,
                    empty: false,
                };
                return Ok(Some((t, i + 1)));
            }
            b'/' => match b.get(i + 1) {
                None => return Ok(None),
                Some(b'>') => {
                    let t = Token::Start {
                        name,
                        attrs: attrs_start..i,
                        empty: true,
                    };
                    return Ok(Some((t, i + 2)));
                }
                Some(_) => return Err(XmlError::Malformed),
            },
            _ if ws == i => return Err(XmlError::Malformed), // attributes need space before
            _ => {}
        }
        let n0 = i;
        while i < b.len() && is_name_byte(b[i]) {
            i += 1;
        }
        if i == b.len() {
            return Ok(None);
        }
        if i == n0 {
            return Err(XmlError::Malformed);
        }
        while i < b.len() && is_space(b[i]) {
            i += 1;
        }
        match b.get(i) {
            None => return Ok(None),
            Some(b'=') => i += 1,
            Some(_) => return Err(XmlError::Malformed),
        }
        while i < b.len() && is_space(b[i]) {
            i += 1;
        }
        let quote = match b.get(i) {
            None => return Ok(None),
            Some(&q @ (b'"' | b'\'')) => q,
            Some(_) => return Err(XmlError::Malformed),
        };
        i += 1;
        let Some(len) = b[i..].iter().position(|&c| c == quote) else {
            return Ok(None);
        };
        if b[i..i + len].contains(&b'<') {
            return Err(XmlError::Malformed);
        }
        i += len + 1;
    }
}

/// Scans the element whose start tag ended at `pos` with name `name`; where
/// its end tag starts and ends, or None if `b` ends first.
fn element_end(
    b: &[u8],
    name: Range<usize>,
    mut pos: usize,
) -> Result<Option<(usize, usize)>, XmlError> {
    let mut stack: [Range<usize>; MAX_DEPTH] = core::array::from_fn(|_| 0..0);
    stack[0] = name;
    let mut depth = 1;
    loop {
        let Some((tok, next)) = next_token(b, pos)? else {
            return Ok(None);
        };
        match tok {
            Token::Decl => return Err(XmlError::Malformed),
            Token::Text(_) => {}
            Token::Start { empty: true, .. } => {}
            Token::Start { name, .. } => {
                let slot = stack.get_mut(depth).ok_or(XmlError::TooDeep)?;
                *slot = name;
                depth += 1;
            }
            Token::End { name } => {
                depth -= 1;
                if b[stack[depth].clone()] != b[name] {
                    return Err(XmlError::Malformed);
                }
                if depth == 0 {
                    return Ok(Some((pos, next)));
                }
            }
        }
        pos = next;
    }
}

/// A read-only view of one element inside a checked, UTF-8 stanza.
#[derive(Clone, Copy, Debug)]
pub struct Element<'a> {
    src: &'a str,
    name: (usize, usize),
    attrs: (usize, usize),
    /// Between the start and end tag; empty for `<x/>`.
    content: (usize, usize),
}

impl<'a> Element<'a> {
    /// Parses a complete element (used by tests and by `StreamParser`).
    pub fn parse(src: &'a str) -> Result<Element<'a>, XmlError> {
        let b = src.as_bytes();
        let mut pos = 0;
        loop {
            match next_token(b, pos)?.ok_or(XmlError::Malformed)? {
                (Token::Text(r), next) if b[r.clone()].iter().all(|&c| is_space(c)) => pos = next,
                (Token::Start { name, attrs, empty }, next) => {
                    let content = if empty {
                        (next, next)
                    } else {
                        let (close, _) =
                            element_end(b, name.clone(), next)?.ok_or(XmlError::Malformed)?;
                        (next, close)
                    };
                    return Ok(Element {
                        src,
                        name: (name.start, name.end),
                        attrs: (attrs.start, attrs.end),
                        content,
                    });
                }
                _ => return Err(XmlError::Malformed),
            }
        }
    }

    /// The qualified name as written, e.g. `stream:features`.
    pub fn qname(&self) -> &'a str {
        &self.src[self.name.0..self.name.1]
    }

    /// The name without its prefix.
    pub fn name(&self) -> &'a str {
        let q = self.qname();
        q.rsplit(':').next().unwrap_or(q)
    }

    /// An attribute's value, entities resolved; None if absent or invalid.
    pub fn attr(&self, key: &str) -> Option<Cow<'a, str>> {
        let mut s = &self.src[self.attrs.0..self.attrs.1];
        loop {
            s = s.trim_start_matches([' ', '\t', '\r', '\n']);
            let eq = s.find('=')?;
            let name = s[..eq].trim_end();
            let rest = s[eq + 1..].trim_start();
            let quote = rest.chars().next()?;
            let close = rest[1..].find(quote)?;
            let raw = &rest[1..1 + close];
            if name == key {
                return unescape(raw);
            }
            s = &rest[close + 2..];
        }
    }

    /// Direct child elements.
    pub fn children(&self) -> Children<'a> {
        Children {
            src: self.src,
            pos: self.content.0,
            end: self.content.1,
        }
    }

    /// The first child with this (unprefixed) name.
    pub fn child(&self, name: &str) -> Option<Element<'a>> {
        self.children().find(|c| c.name() == name)
    }

    /// The first child with this name and `xmlns`.
    pub fn child_ns(&self, name: &str, ns: &str) -> Option<Element<'a>> {
        self.children()
            .find(|c| c.name() == name && c.attr("xmlns").as_deref() == Some(ns))
    }

    /// The element's own text (children's text excluded), entities resolved.
    pub fn text(&self) -> Option<Cow<'a, str>> {
        let b = self.src.as_bytes();
        let (mut pos, end) = self.content;
        let mut out: Option<Cow<'a, str>> = None;
        while pos < end {
            let (tok, next) = next_token(&b[..end], pos).ok()??;
            match tok {
                Token::Text(r) => {
                    let piece = unescape(&self.src[r])?;
                    out = Some(match out {
                        None => piece,
                        Some(prev) => Cow::Owned(prev.into_owned() + &piece),
                    });
                    pos = next;
                }
                Token::Start {
                    name, empty: false, ..
                } => pos = element_end(&b[..end], name, next).ok()??.1,
                _ => pos = next,
            }
        }
        Some(out.unwrap_or(Cow::Borrowed("")))
    }
}

pub struct Children<'a> {
    src: &'a str,
    pos: usize,
    end: usize,
}

impl<'a> Iterator for Children<'a> {
    type Item = Element<'a>;
    fn next(&mut self) -> Option<Element<'a>> {
        let b = &self.src.as_bytes()[..self.end];
        while self.pos < self.end {
            let (tok, next) = next_token(b, self.pos).ok()??;
            match tok {
                Token::Start { name, attrs, empty } => {
                    let (content, end) = if empty {
                        ((next, next), next)
                    } else {
                        let (close, end) = element_end(b, name.clone(), next).ok()??;
                        ((next, close), end)
                    };
                    self.pos = end;
                    return Some(Element {
                        src: self.src,
                        name: (name.start, name.end),
                        attrs: (attrs.start, attrs.end),
                        content,
                    });
                }
                _ => self.pos = next,
            }
        }
        None
    }
}

/// Resolves the five predefined entities and character references.
pub fn unescape(raw: &str) -> Option<Cow<'_, str>> {
    if !raw.contains('&') {
        return Some(Cow::Borrowed(raw));
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let semi = rest[i..].find(';')? + i;
        let ent = &rest[i + 1..semi];
        let c = match ent {
            "lt" => '<',
            "gt" => '>',
            "amp" => '&',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let num = ent.strip_prefix('#')?;
                let code = match num.strip_prefix('x') {
                    Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                    None => num.parse().ok()?,
                };
                char::from_u32(code)?
            }
        };
        out.push(c);
        rest = &rest[semi + 1..];
    }
    out.push_str(rest);
    Some(Cow::Owned(out))
}

/// `Display` wrapper that escapes text and attribute values.
pub struct Esc<'a>(pub &'a str);

impl core::fmt::Display for Esc<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let mut last = 0;
        for (i, c) in self.0.char_indices() {
            let rep = match c {
                '<' => "&lt;",
                '>' => "&gt;",
                '&' => "&amp;",
                '"' => "&quot;",
                '\'' => "&apos;",
                _ => continue,
            };
            f.write_str(&self.0[last..i])?;
            f.write_str(rep)?;
            last = i + 1;
        }
        f.write_str(&self.0[last..])
    }
}

/// What the stream yields.
#[derive(Debug)]
pub enum Item<'a> {
    /// The server's `<stream:stream ...>` (an open element).
    Header(Element<'a>),
    Stanza(Element<'a>),
    /// `</stream:stream>`.
    End,
}

/// Where the stream scanner stands: the lexer state at the next unread byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lex {
    /// Between tags: whitespace at the top level, any text inside a stanza.
    Text,
    /// After `<`.
    Open,
    /// Inside `<?...?>`; `q`: the last byte was `?`.
    Decl {
        q: bool,
    },
    /// A start tag's name.
    StartName,
    /// After a start tag's name or an attribute value; `spaced`: whitespace since.
    Gap {
        spaced: bool,
    },
    /// After `/` in a start tag.
    Slash,
    AttrName,
    /// After an attribute's name, before `=`.
    BeforeEq,
    /// After `=`, before the quote.
    AfterEq,
    Value {
        quote: u8,
    },
    /// An end tag's name.
    EndName,
    /// After an end tag's name, before `>`.
    EndGap,
}

/// What one lexer step did with a byte.
enum Step {
    /// Took it.
    Next,
    /// Changed state; the same byte is looked at again.
    Again,
    /// Took it, and it completed an item.
    Done(Ready),
}

/// A complete item found by the scanner. Offsets are relative to the
/// item's first byte (`StreamParser::item`).
#[derive(Clone, Copy, Debug)]
struct Ready {
    kind: ReadyKind,
    name: (usize, usize),
    attrs: (usize, usize),
    content: (usize, usize),
    /// One past the item's last byte.
    end: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ReadyKind {
    Header,
    Stanza,
    End,
}

/// Buffers one XML stream and yields its items.
///
/// The scanner keeps its place between calls: each byte is lexed once when
/// it first arrives (an end tag's name is compared once more with its start
/// tag's), and a completed stanza is checked as UTF-8 once. So a stanza
/// costs the same whether it arrives whole or one byte per `push`: never a
/// rescan of what is buffered (`bytes_examined` counts it).
pub struct StreamParser {
    buf: Box<[u8]>,
    /// Unconsumed input is `buf[start..len]`; consumed bytes stay in front
    /// until `push` needs the room.
    start: usize,
    len: usize,
    in_stream: bool,
    /// The next byte to lex, and the lexer state there.
    scan: usize,
    lex: Lex,
    /// Where the item being scanned starts (its `<`); offsets below are
    /// relative to it.
    item: usize,
    /// Open elements of the stanza being scanned (0: none).
    depth: usize,
    stack: [(usize, usize); MAX_DEPTH],
    /// The tag being lexed: its `<`, name, and where its attributes end.
    tag_lt: usize,
    tag_name: (usize, usize),
    attrs_end: usize,
    /// The stanza's root element: name, attributes, where its content starts.
    root: (usize, usize),
    root_attrs: (usize, usize),
    root_content: usize,
    /// An item found but not yet consumed.
    ready: Option<Ready>,
    /// A failure sticks until `reset`.
    failed: Option<XmlError>,
    examined: u64,
}

impl Default for StreamParser {
    fn default() -> Self {
        StreamParser {
            buf: vec![0u8; MAX_STANZA].into_boxed_slice(),
            start: 0,
            len: 0,
            in_stream: false,
            scan: 0,
            lex: Lex::Text,
            item: 0,
            depth: 0,
            stack: [(0, 0); MAX_DEPTH],
            tag_lt: 0,
            tag_name: (0, 0),
            attrs_end: 0,
            root: (0, 0),
            root_attrs: (0, 0),
            root_content: 0,
            ready: None,
            failed: None,
            examined: 0,
        }
    }
}

impl StreamParser {
    /// Forgets everything: a new stream starts (after TLS or SASL).
    pub fn reset(&mut self) {
        self.start = 0;
        self.len = 0;
        self.in_stream = false;
        self.failed = None;
        self.rescan_from(0);
    }

    /// Copies in as much of `data` as fits; how many bytes it took.
    pub fn push(&mut self, data: &[u8]) -> usize {
        if self.start > 0 && self.buf.len() - self.len < data.len() {
            self.compact();
        }
        let n = data.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&data[..n]);
        self.len += n;
        n
    }

    /// The unconsumed input fills the buffer.
    pub fn is_full(&self) -> bool {
        self.len - self.start == self.buf.len()
    }

    /// Bytes looked at so far by the scanner and the UTF-8 checks (for
    /// tests: it grows with the input, not with the number of pushes).
    #[doc(hidden)]
    pub fn bytes_examined(&self) -> u64 {
        self.examined
    }

    /// The next complete item and how many bytes to `consume` after
    /// handling it; None until more input arrives.
    pub fn next_item(&mut self) -> Result<Option<(Item<'_>, usize)>, XmlError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        if self.ready.is_none() {
            match self.scan_input() {
                Ok(r) => self.ready = r,
                Err(e) => {
                    self.failed = Some(e);
                    return Err(e);
                }
            }
        }
        let Some(r) = self.ready else {
            // Whitespace and declarations already lexed are not kept.
            self.start = if self.depth == 0 && self.lex == Lex::Text {
                self.scan
            } else {
                self.item
            };
            return if self.is_full() {
                self.failed = Some(XmlError::TooLarge);
                Err(XmlError::TooLarge)
            } else {
                Ok(None)
            };
        };
        let used = self.item + r.end - self.start;
        if r.kind == ReadyKind::End {
            return Ok(Some((Item::End, used)));
        }
        self.examined += r.end as u64;
        let Ok(src) = core::str::from_utf8(&self.buf[self.item..self.item + r.end]) else {
            self.failed = Some(XmlError::Malformed);
            return Err(XmlError::Malformed);
        };
        let el = Element {
            src,
            name: r.name,
            attrs: r.attrs,
            content: r.content,
        };
        let item = match r.kind {
            ReadyKind::Header => Item::Header(el),
            _ => Item::Stanza(el),
        };
        Ok(Some((item, used)))
    }

    /// Drops `n` handled bytes from the front.
    pub fn consume(&mut self, n: usize) {
        self.start += n.min(self.len - self.start);
        self.ready = None;
        if self.start != self.scan || self.depth != 0 || self.lex != Lex::Text {
            // Not the end of the item just returned: lex again from the front.
            self.rescan_from(self.start);
        }
        if self.start == self.len {
            self.start = 0;
            self.len = 0;
            self.scan = 0;
            self.item = 0;
        }
    }

    fn rescan_from(&mut self, at: usize) {
        self.scan = at;
        self.item = at;
        self.lex = Lex::Text;
        self.depth = 0;
        self.ready = None;
    }

    /// Moves the unconsumed input to the front of the buffer.
    fn compact(&mut self) {
        let d = self.start;
        self.buf.copy_within(d..self.len, 0);
        self.len -= d;
        self.scan -= d;
        self.item = self.item.saturating_sub(d);
        self.start = 0;
    }

    /// Lexes the bytes not yet seen, up to the end of the next item.
    fn scan_input(&mut self) -> Result<Option<Ready>, XmlError> {
        while self.scan < self.len {
            let c = self.buf[self.scan];
            self.examined += 1;
            match self.step(c)? {
                Step::Again => {}
                Step::Next => self.scan += 1,
                Step::Done(r) => {
                    self.scan += 1;
                    self.lex = Lex::Text;
                    return Ok(Some(r));
                }
            }
        }
        Ok(None)
    }

    fn step(&mut self, c: u8) -> Result<Step, XmlError> {
        use XmlError::Malformed;
        let rel = self.scan - self.item;
        self.lex = match self.lex {
            Lex::Text if c == b'<' => {
                if self.depth == 0 {
                    self.item = self.scan;
                    self.tag_lt = 0;
                } else {
                    self.tag_lt = rel;
                }
                Lex::Open
            }
            Lex::Text if self.depth > 0 || is_space(c) => Lex::Text,
            // Text between stanzas other than whitespace keepalives.
            Lex::Text => return Err(Malformed),
            Lex::Open => match c {
                b'?' if self.depth == 0 && !self.in_stream => Lex::Decl { q: false },
                b'/' => {
                    self.tag_name = (rel + 1, rel + 1);
                    Lex::EndName
                }
                _ if is_name_byte(c) => {
                    self.tag_name = (rel, rel);
                    Lex::StartName
                }
                // `<!`, `<?` inside the stream, `< `, `<>`, ...
                _ => return Err(Malformed),
            },
            Lex::Decl { q } => match c {
                b'>' if q => Lex::Text,
                _ => Lex::Decl { q: c == b'?' },
            },
            Lex::StartName if is_name_byte(c) => Lex::StartName,
            Lex::StartName => {
                self.tag_name.1 = rel;
                self.lex = Lex::Gap { spaced: false };
                return Ok(Step::Again);
            }
            Lex::Gap { .. } if is_space(c) => Lex::Gap { spaced: true },
            Lex::Gap { .. } if c == b'>' => {
                self.attrs_end = rel;
                return self.start_tag(false, rel + 1);
            }
            Lex::Gap { .. } if c == b'/' => {
                self.attrs_end = rel;
                Lex::Slash
            }
            // Attributes need space before them.
            Lex::Gap { spaced: true } if is_name_byte(c) => Lex::AttrName,
            Lex::Gap { .. } => return Err(Malformed),
            Lex::Slash if c == b'>' => return self.start_tag(true, rel + 1),
            Lex::Slash => return Err(Malformed),
            Lex::AttrName if is_name_byte(c) => Lex::AttrName,
            Lex::AttrName => {
                self.lex = Lex::BeforeEq;
                return Ok(Step::Again);
            }
            Lex::BeforeEq if is_space(c) => Lex::BeforeEq,
            Lex::BeforeEq if c == b'=' => Lex::AfterEq,
            Lex::BeforeEq => return Err(Malformed),
            Lex::AfterEq if is_space(c) => Lex::AfterEq,
            Lex::AfterEq if c == b'"' || c == b'\'' => Lex::Value { quote: c },
            Lex::AfterEq => return Err(Malformed),
            Lex::Value { quote } if c == quote => Lex::Gap { spaced: false },
            Lex::Value { .. } if c == b'<' => return Err(Malformed),
            Lex::Value { quote } => Lex::Value { quote },
            Lex::EndName if is_name_byte(c) => Lex::EndName,
            Lex::EndName => {
                self.tag_name.1 = rel;
                self.lex = Lex::EndGap;
                return Ok(Step::Again);
            }
            Lex::EndGap if is_space(c) => Lex::EndGap,
            Lex::EndGap if c == b'>' && self.tag_name.0 < self.tag_name.1 => {
                return self.end_tag(rel + 1);
            }
            Lex::EndGap => return Err(Malformed),
        };
        Ok(Step::Next)
    }

    fn name_is(&mut self, name: (usize, usize), other: &[u8]) -> bool {
        self.examined += (name.1 - name.0) as u64;
        self.buf[self.item + name.0..self.item + name.1] == *other
    }

    /// A start tag ended at `end` (relative).
    fn start_tag(&mut self, empty: bool, end: usize) -> Result<Step, XmlError> {
        let name = self.tag_name;
        let attrs = (name.1, self.attrs_end);
        self.lex = Lex::Text;
        if self.depth == 0 {
            if !self.in_stream {
                if empty || !self.name_is(name, b"stream:stream") {
                    return Err(XmlError::Malformed);
                }
                self.in_stream = true;
                return Ok(Step::Done(Ready {
                    kind: ReadyKind::Header,
                    name,
                    attrs,
                    content: (end, end),
                    end,
                }));
            }
            if empty {
                return Ok(Step::Done(Ready {
                    kind: ReadyKind::Stanza,
                    name,
                    attrs,
                    content: (end, end),
                    end,
                }));
            }
            self.root = name;
            self.root_attrs = attrs;
            self.root_content = end;
        } else if empty {
            return Ok(Step::Next);
        }
        let slot = self.stack.get_mut(self.depth).ok_or(XmlError::TooDeep)?;
        *slot = name;
        self.depth += 1;
        Ok(Step::Next)
    }

    /// An end tag ended at `end` (relative).
    fn end_tag(&mut self, end: usize) -> Result<Step, XmlError> {
        let name = self.tag_name;
        self.lex = Lex::Text;
        if self.depth == 0 {
            if self.in_stream && self.name_is(name, b"stream:stream") {
                return Ok(Step::Done(Ready {
                    kind: ReadyKind::End,
                    name,
                    attrs: (name.1, name.1),
                    content: (end, end),
                    end,
                }));
            }
            return Err(XmlError::Malformed);
        }
        self.depth -= 1;
        let open = self.stack[self.depth];
        self.examined += (name.1 - name.0) as u64;
        let (item, b) = (self.item, &self.buf);
        if b[item + open.0..item + open.1] != b[item + name.0..item + name.1] {
            return Err(XmlError::Malformed);
        }
        if self.depth > 0 {
            return Ok(Step::Next);
        }
        Ok(Step::Done(Ready {
            kind: ReadyKind::Stanza,
            name: self.root,
            attrs: self.root_attrs,
            content: (self.root_content, self.tag_lt),
            end,
        }))
    }
}

#[cfg(test)]
#[path = "xml_tests.rs"]
mod tests;
