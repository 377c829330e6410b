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

/// Buffers one XML stream and yields its items.
pub struct StreamParser {
    buf: Box<[u8]>,
    len: usize,
    in_stream: bool,
}

impl Default for StreamParser {
    fn default() -> Self {
        StreamParser {
            buf: vec![0u8; MAX_STANZA].into_boxed_slice(),
            len: 0,
            in_stream: false,
        }
    }
}

impl StreamParser {
    /// Forgets everything: a new stream starts (after TLS or SASL).
    pub fn reset(&mut self) {
        self.len = 0;
        self.in_stream = false;
    }

    /// Copies in as much of `data` as fits; how many bytes it took.
    pub fn push(&mut self, data: &[u8]) -> usize {
        let n = data.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&data[..n]);
        self.len += n;
        n
    }

    pub fn is_full(&self) -> bool {
        self.len == self.buf.len()
    }

    /// The next complete item and how many bytes to `consume` after
    /// handling it; None until more input arrives.
    pub fn next_item(&mut self) -> Result<Option<(Item<'_>, usize)>, XmlError> {
        let b = &self.buf[..self.len];
        let mut pos = 0;
        loop {
            let Some((tok, next)) = next_token(b, pos)? else {
                self.drop_prefix(pos);
                return if self.is_full() {
                    Err(XmlError::TooLarge)
                } else {
                    Ok(None)
                };
            };
            match tok {
                Token::Text(r) => {
                    // Whitespace keepalives; a partial text run waits for more.
                    if !b[r.clone()].iter().all(|&c| is_space(c)) {
                        return Err(XmlError::Malformed);
                    }
                    pos = next;
                }
                Token::Decl if !self.in_stream => pos = next,
                Token::Decl => return Err(XmlError::Malformed),
                Token::Start { name, attrs, empty } if !self.in_stream => {
                    if empty || &b[name.clone()] != b"stream:stream" {
                        return Err(XmlError::Malformed);
                    }
                    self.in_stream = true;
                    let src =
                        core::str::from_utf8(&self.buf[..next]).map_err(|_| XmlError::Malformed)?;
                    let el = Element {
                        src,
                        name: (name.start, name.end),
                        attrs: (attrs.start, attrs.end),
                        content: (next, next),
                    };
                    return Ok(Some((Item::Header(el), next)));
                }
                Token::End { name } if &b[name.clone()] == b"stream:stream" && self.in_stream => {
                    return Ok(Some((Item::End, next)));
                }
                Token::End { .. } => return Err(XmlError::Malformed),
                Token::Start { name, .. } => {
                    let end = match next_token(b, pos)? {
                        Some((Token::Start { empty: true, .. }, n)) => Some(n),
                        _ => element_end(b, name, next)?.map(|(_, e)| e),
                    };
                    let Some(end) = end else {
                        self.drop_prefix(pos);
                        return if self.is_full() {
                            Err(XmlError::TooLarge)
                        } else {
                            Ok(None)
                        };
                    };
                    let src = core::str::from_utf8(&self.buf[pos..end])
                        .map_err(|_| XmlError::Malformed)?;
                    let el = Element::parse(src)?;
                    return Ok(Some((Item::Stanza(el), end)));
                }
            }
        }
    }

    /// Drops `n` handled bytes from the front.
    pub fn consume(&mut self, n: usize) {
        let n = n.min(self.len);
        self.buf.copy_within(n..self.len, 0);
        self.len -= n;
    }

    fn drop_prefix(&mut self, n: usize) {
        if n > 0 {
            self.consume(n);
        }
    }
}
