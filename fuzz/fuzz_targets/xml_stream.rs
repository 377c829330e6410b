//! The XMPP stream reader: the same items and verdict whether the input
//! arrives whole or in pieces of any size, work linear in the input
//! (`bytes_examined`), and every element view (attributes, children,
//! text) of every stanza safe to call.
#![no_main]

use ipop::core::xmpp::xml::{Element, Item, StreamParser, XmlError};
use libfuzzer_sys::fuzz_target;

fn walk(e: &Element<'_>, depth: usize, out: &mut String) {
    out.push_str(e.qname());
    for key in ["xmlns", "type", "id", "from", "to"] {
        if let Some(v) = e.attr(key) {
            out.push_str(&v);
        }
    }
    if let Some(t) = e.text() {
        out.push_str(&t);
    }
    if depth < 40 {
        for c in e.children() {
            walk(&c, depth + 1, out);
        }
    }
}

fn drive(p: &mut StreamParser, data: &[u8], piece: usize) -> (Vec<String>, Result<(), XmlError>) {
    let mut items = Vec::new();
    for mut chunk in data.chunks(piece.max(1)) {
        loop {
            let n = p.push(chunk);
            chunk = &chunk[n..];
            loop {
                match p.next_item() {
                    Ok(Some((item, used))) => {
                        let mut s = String::new();
                        match &item {
                            Item::Header(e) => {
                                s.push_str("H ");
                                walk(e, 0, &mut s);
                            }
                            Item::Stanza(e) => {
                                s.push_str("S ");
                                walk(e, 0, &mut s);
                            }
                            Item::End => s.push('E'),
                        }
                        items.push(s);
                        p.consume(used);
                    }
                    Ok(None) => break,
                    Err(e) => return (items, Err(e)),
                }
            }
            if chunk.is_empty() {
                break;
            }
        }
    }
    (items, Ok(()))
}

fuzz_target!(|data: &[u8]| {
    let Some((&piece, stream)) = data.split_first() else {
        return;
    };
    let mut whole = StreamParser::default();
    let a = drive(&mut whole, stream, stream.len());
    let mut split = StreamParser::default();
    let b = drive(&mut split, stream, usize::from(piece % 64) + 1);
    assert_eq!(a, b);
    let n = stream.len() as u64;
    assert!(
        split.bytes_examined() <= 3 * n + 64,
        "{} for {n}",
        split.bytes_examined()
    );
    // Element::parse on the raw text (as tests use it) is safe too.
    if let Ok(text) = std::str::from_utf8(stream) {
        if let Ok(e) = Element::parse(text) {
            walk(&e, 0, &mut String::new());
        }
    }
});
