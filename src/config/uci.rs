//! OpenWrt UCI files, read with the rules of libuci's parser (file.c of
//! openwrt/uci), ported step by step so that quirks match: `'...'` is
//! literal, `"..."` and bare words take backslash escapes, touching pieces
//! join, `#` starts a comment outside quotes, a trailing backslash joins
//! lines, quoted values may span lines, `;` separates commands, keywords
//! may be abbreviated to their first letter, and errors carry libuci's
//! wording, line and byte offset. `show` prints what `uci show` prints.

/// One `option` (a single value) or `list` (values in order).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UciOption {
    pub name: String,
    pub values: Vec<String>,
    pub is_list: bool,
    /// Line of each value's command (the last line of a multi-line value).
    pub lines: Vec<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UciSection {
    pub section_type: String,
    /// None for an anonymous section (`config overlay` with no name).
    pub name: Option<String>,
    pub options: Vec<UciOption>,
    pub line: u32,
}

impl UciSection {
    pub fn option(&self, name: &str) -> Option<&UciOption> {
        self.options.iter().find(|o| o.name == name)
    }
}

/// A parse error as libuci reports it: `Parse error (WHAT) at line N, byte B`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UciParseError {
    pub line: u32,
    pub byte: usize,
    pub what: &'static str,
}

type R<T> = Result<T, &'static str>;

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// libuci's `uci_validate_str`: names are `[A-Za-z0-9_]+`, packages may
/// also hold `-`, types any printable ASCII except space.
fn validate_str(s: &[u8], name: bool, package: bool) -> bool {
    !s.is_empty()
        && s.iter().all(|&c| {
            c.is_ascii_alphanumeric()
                || c == b'_'
                || (package && c == b'-')
                || (!name && (33..=126).contains(&c))
        })
}

struct Parser<'a> {
    data: &'a [u8],
    read: usize,
    /// The line buffer; bytes past its end read as NUL, as in C.
    buf: Vec<u8>,
    filled: usize,
    pos: usize,
    line: u32,
    sections: Vec<UciSection>,
    current: Option<usize>,
}

impl Parser<'_> {
    fn ch(&self, i: usize) -> u8 {
        self.buf.get(i).copied().unwrap_or(0)
    }

    fn put(&mut self, i: usize, c: u8) {
        if i >= self.buf.len() {
            self.buf.resize(i + 1, 0);
        }
        self.buf[i] = c;
    }

    /// The NUL-terminated string starting at `i`.
    fn cstr(&self, i: usize) -> Vec<u8> {
        let tail = self.buf.get(i..).unwrap_or(&[]);
        let end = tail.iter().position(|&c| c == 0).unwrap_or(tail.len());
        tail[..end].to_vec()
    }

    fn strlen(&self, i: usize) -> usize {
        self.cstr(i).len()
    }

    /// `uci_getln`: reads the next line into the buffer at `offset`.
    fn getln(&mut self, offset: usize) {
        self.buf.truncate(offset);
        if self.read >= self.data.len() {
            return;
        }
        let rest = &self.data[self.read..];
        let n = rest
            .iter()
            .position(|&c| c == b'\n')
            .map_or(rest.len(), |p| p + 1);
        self.buf.resize(offset, 0);
        self.buf.extend_from_slice(&rest[..n]);
        self.read += n;
        self.filled = self.buf.len();
        if rest[n - 1] == b'\n' {
            self.line += 1;
        }
    }

    /// `parse_backslash`: false when the backslash joined the next line.
    fn backslash(&mut self) -> bool {
        self.pos += 1;
        let c = self.ch(self.pos);
        if c == 0
            || c == b'\n'
            || (c == b'\r' && self.ch(self.pos + 1) == b'\n' && self.ch(self.pos + 2) == 0)
        {
            self.getln(self.pos);
            return false;
        }
        true
    }

    fn skip_ws(&mut self) {
        while self.ch(self.pos) != 0 && is_space(self.ch(self.pos)) {
            self.pos += 1;
        }
    }

    fn addc(&mut self, target: &mut usize) {
        let c = self.ch(self.pos);
        self.put(*target, c);
        *target += 1;
        self.pos += 1;
    }

    fn double_quote(&mut self, target: &mut usize) -> R<()> {
        self.pos += 1;
        loop {
            match self.ch(self.pos) {
                b'"' => {
                    self.pos += 1;
                    return Ok(());
                }
                0 => {
                    self.getln(self.pos);
                    if self.ch(self.pos) == 0 {
                        return Err("EOF with unterminated \"");
                    }
                }
                b'\\' => {
                    if self.backslash() {
                        self.addc(target);
                    }
                }
                _ => self.addc(target),
            }
        }
    }

    fn single_quote(&mut self, target: &mut usize) -> R<()> {
        self.pos += 1;
        loop {
            match self.ch(self.pos) {
                b'\'' => {
                    self.pos += 1;
                    return Ok(());
                }
                0 => {
                    self.getln(self.pos);
                    if self.ch(self.pos) == 0 {
                        return Err("EOF with unterminated '");
                    }
                }
                _ => self.addc(target),
            }
        }
    }

    /// `parse_str`: one argument, written in place from `target`.
    fn parse_str(&mut self, target: &mut usize) -> R<()> {
        let mut next = true;
        loop {
            match self.ch(self.pos) {
                b'\'' => self.single_quote(target)?,
                b'"' => self.double_quote(target)?,
                b'#' => {
                    self.put(self.pos, 0);
                    break;
                }
                0 => break,
                b';' => {
                    next = false;
                    break;
                }
                b'\\' => {
                    if self.backslash() {
                        self.addc(target);
                    }
                }
                _ => self.addc(target),
            }
            let c = self.ch(self.pos);
            if c == 0 || is_space(c) {
                break;
            }
        }
        if self.ch(self.pos) != 0 && next {
            self.pos += 1;
        }
        self.put(*target, 0);
        Ok(())
    }

    fn next_arg(&mut self, required: bool, name: bool, package: bool) -> R<usize> {
        self.skip_ws();
        let val = self.pos;
        let mut ptr = self.pos;
        if self.ch(self.pos) == b';' {
            self.put(self.pos, 0);
            self.pos += 1;
        } else {
            self.parse_str(&mut ptr)?;
        }
        if self.ch(val) == 0 {
            if required {
                return Err("insufficient arguments");
            }
            return Ok(val);
        }
        if name && !validate_str(&self.cstr(val), name, package) {
            return Err("invalid character in name field");
        }
        Ok(val)
    }

    fn assert_eol(&mut self) -> R<()> {
        self.skip_ws();
        let v = self.next_arg(false, false, false)?;
        if self.ch(v) != 0 {
            return Err("too many arguments");
        }
        Ok(())
    }

    fn increase_pos(&mut self, add: usize, err: &'static str) -> R<()> {
        if self.pos + add > self.filled {
            return Err(err);
        }
        self.pos += add;
        Ok(())
    }

    fn skip_command(&mut self, err: &'static str) -> R<()> {
        let n = self.strlen(self.pos) + 1;
        self.increase_pos(n, err)
    }

    fn package(&mut self) -> R<()> {
        self.skip_command("package without name")?;
        self.next_arg(true, true, true)?;
        self.assert_eol()
    }

    fn config(&mut self) -> R<()> {
        self.skip_command("config without name")?;
        let ofs_type = self.next_arg(true, false, false)?;
        if !validate_str(&self.cstr(ofs_type), false, false) {
            return Err("invalid character in type field");
        }
        let ofs_name = self.next_arg(false, true, false)?;
        self.assert_eol()?;
        let section_type = String::from_utf8_lossy(&self.cstr(ofs_type)).into_owned();
        let name = String::from_utf8_lossy(&self.cstr(ofs_name)).into_owned();
        if name.is_empty() {
            self.sections.push(UciSection {
                section_type,
                name: None,
                options: Vec::new(),
                line: self.line,
            });
            self.current = Some(self.sections.len() - 1);
            return Ok(());
        }
        match self
            .sections
            .iter()
            .position(|s| s.name.as_deref() == Some(&name))
        {
            Some(i) => {
                if self.sections[i].section_type != section_type {
                    return Err(
                        "section of different type overwrites prior section with same name",
                    );
                }
                self.current = Some(i);
            }
            None => {
                self.sections.push(UciSection {
                    section_type,
                    name: Some(name),
                    options: Vec::new(),
                    line: self.line,
                });
                self.current = Some(self.sections.len() - 1);
            }
        }
        Ok(())
    }

    fn option(&mut self, list: bool) -> Result<(), (&'static str, bool)> {
        let Some(cur) = self.current else {
            return Err(("option/list command found before the first section", true));
        };
        self.skip_command("option without name")
            .map_err(|e| (e, true))?;
        let ofs_name = self.next_arg(true, true, false).map_err(|e| (e, true))?;
        let ofs_value = self.next_arg(false, false, false).map_err(|e| (e, true))?;
        self.assert_eol().map_err(|e| (e, true))?;
        let name = String::from_utf8_lossy(&self.cstr(ofs_name)).into_owned();
        let raw = self.cstr(ofs_value);
        let value = match String::from_utf8(raw) {
            Ok(v) => v,
            Err(_) => return Err(("value is not valid UTF-8", false)),
        };
        let line = self.line;
        let options = &mut self.sections[cur].options;
        let existing = options.iter().position(|o| o.name == name);
        if list {
            match existing {
                Some(i) if options[i].is_list => {
                    options[i].values.push(value);
                    options[i].lines.push(line);
                }
                Some(i) => {
                    // A string becomes a list in its place (uci_add_list).
                    let o = &mut options[i];
                    o.is_list = true;
                    o.values.push(value);
                    o.lines.push(line);
                }
                None => options.push(UciOption {
                    name,
                    values: vec![value],
                    is_list: true,
                    lines: vec![line],
                }),
            }
        } else if !value.is_empty() {
            // uci_set: an empty value changes nothing while parsing; a new
            // value replaces the old option (string or list) in its place.
            let new = UciOption {
                name,
                values: vec![value],
                is_list: false,
                lines: vec![line],
            };
            match existing {
                Some(i) => options[i] = new,
                None => options.push(new),
            }
        }
        Ok(())
    }

    /// `strtok(cur, " \t")`: the start of the next word, NUL-terminated in place.
    fn strtok(&mut self) -> Option<usize> {
        let mut i = self.pos;
        while matches!(self.ch(i), b' ' | b'\t') {
            i += 1;
        }
        if self.ch(i) == 0 {
            return None;
        }
        let start = i;
        while !matches!(self.ch(i), 0 | b' ' | b'\t') {
            i += 1;
        }
        if self.ch(i) != 0 {
            self.put(i, 0);
        }
        Some(start)
    }

    fn parse_line(&mut self) -> Result<(), (&'static str, bool)> {
        self.skip_ws();
        loop {
            let Some(start) = self.strtok() else {
                return Ok(());
            };
            let word = self.cstr(start);
            let is = |full: &[u8]| word.len() == 1 || word == full;
            let r = match word.first() {
                None | Some(b'#') => return Ok(()),
                Some(b'p') if is(b"package") => self.package(),
                Some(b'c') if is(b"config") => self.config(),
                Some(b'o') if is(b"option") => {
                    self.option(false)?;
                    Ok(())
                }
                Some(b'l') if is(b"list") => {
                    self.option(true)?;
                    Ok(())
                }
                _ => Err("invalid command"),
            };
            r.map_err(|e| (e, true))?;
        }
    }
}

/// Parses a UCI file. NUL bytes are refused (libuci reads C strings and
/// silently cuts lines at them).
pub fn parse(data: &[u8]) -> Result<Vec<UciSection>, UciParseError> {
    if let Some(at) = data.iter().position(|&c| c == 0) {
        let line = data[..at].iter().filter(|&&c| c == b'\n').count() as u32 + 1;
        let start = data[..at]
            .iter()
            .rposition(|&c| c == b'\n')
            .map_or(0, |p| p + 1);
        return Err(UciParseError {
            line,
            byte: at - start,
            what: "NUL byte in file",
        });
    }
    let mut p = Parser {
        data,
        read: 0,
        buf: Vec::new(),
        filled: 0,
        pos: 0,
        line: 0,
        sections: Vec::new(),
        current: None,
    };
    while p.read < p.data.len() {
        p.pos = 0;
        p.getln(0);
        if p.ch(0) != 0 {
            if let Err((what, _)) = p.parse_line() {
                return Err(UciParseError {
                    line: p.line,
                    byte: p.pos,
                    what,
                });
            }
        }
    }
    Ok(p.sections)
}

/// A value quoted for a UCI file or `uci show`: `'...'` with `'` as `'\''`.
pub fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// The reference of section `i` as `uci show` prints it: its name, or
/// `@type[n]` (n counts the sections of that type before it).
pub fn section_ref(sections: &[UciSection], i: usize) -> String {
    match &sections[i].name {
        Some(n) => n.clone(),
        None => {
            let t = &sections[i].section_type;
            let n = sections[..i]
                .iter()
                .filter(|s| &s.section_type == t)
                .count();
            format!("@{t}[{n}]")
        }
    }
}

/// What `uci show PACKAGE` prints for these sections.
pub fn show(package: &str, sections: &[UciSection]) -> String {
    let mut out = String::new();
    for (i, s) in sections.iter().enumerate() {
        let r = section_ref(sections, i);
        out.push_str(&format!("{package}.{r}={}\n", s.section_type));
        for o in &s.options {
            let vals: Vec<String> = o.values.iter().map(|v| quote(v)).collect();
            out.push_str(&format!("{package}.{r}.{}={}\n", o.name, vals.join(" ")));
        }
    }
    out
}

#[cfg(test)]
mod tests;
