//! libuci's rules, checked two ways: exact cases written here, and every
//! file under tests/fixtures/uci/ against the answer OpenWrt's own libuci
//! gave for it (recorded by tests/config/gen_uci_cases.py).

use super::*;

fn show_of(text: &str) -> String {
    match parse(text.as_bytes()) {
        Ok(s) => show("ipop", &s),
        Err(e) => format!("error: {} at line {}, byte {}", e.what, e.line, e.byte),
    }
}

/// What `uci-show` prints for a file, in the recorded `.expect` format.
pub(crate) fn expect_format(data: &[u8]) -> String {
    match parse(data) {
        Ok(s) => format!("ok\n{}", show("ipop", &s)),
        Err(e) => format!(
            "error\nuci: Parse error ({}) at line {}, byte {}\n",
            e.what, e.line, e.byte
        ),
    }
}

#[test]
fn quoting_rules() {
    let t = "config overlay 'o'\n\
             \toption single 'a\\b \"c\" #d'\n\
             \toption double \"a\\\\b \\\"c\\\" \\$x 'q'\"\n\
             \toption bare a\\ b\\'c\n\
             \toption joined 'it'\\''s'\"\"x\n\
             \toption hash a#b c\n\
             \toption empty ''\n";
    assert_eq!(
        show_of(t),
        "ipop.o=overlay\n\
         ipop.o.single='a\\b \"c\" #d'\n\
         ipop.o.double='a\\b \"c\" $x '\\''q'\\'''\n\
         ipop.o.bare='a b'\\''c'\n\
         ipop.o.joined='it'\\''sx'\n\
         ipop.o.hash='a'\n"
    );
}

#[test]
fn lists_and_options() {
    let t = "config overlay 'o'\n\
             \tlist stun 's1'\n\
             \toption a '1'\n\
             \tlist stun 's2'\n\
             \tlist a '2'\n\
             \toption b 'x'\n\
             \toption b 'x'\n\
             \toption c 'y'\n\
             \toption b 'z'\n\
             \toption c ''\n\
             \tlist e ''\n";
    // A string turned into a list, or a changed option, keeps its place.
    assert_eq!(
        show_of(t),
        "ipop.o=overlay\n\
         ipop.o.stun='s1' 's2'\n\
         ipop.o.a='1' '2'\n\
         ipop.o.b='z'\n\
         ipop.o.c='y'\n\
         ipop.o.e=''\n"
    );
}

#[test]
fn sections() {
    let t = "package ipop\n\
             config overlay\n\
             \toption a 1\n\
             config overlay 'outer'\n\
             config global\n\
             config overlay\n\
             config overlay 'outer'\n\
             \toption b 2\n";
    let s = parse(t.as_bytes()).unwrap();
    assert_eq!(s.len(), 4);
    assert_eq!(s[1].name.as_deref(), Some("outer"));
    assert_eq!(s[1].options[0].name, "b");
    assert_eq!(s[1].line, 4);
    assert_eq!(
        show("ipop", &s),
        "ipop.@overlay[0]=overlay\n\
         ipop.@overlay[0].a='1'\n\
         ipop.outer=overlay\n\
         ipop.outer.b='2'\n\
         ipop.@global[0]=global\n\
         ipop.@overlay[2]=overlay\n"
    );
    assert_eq!(s[1].option("b").map(|o| o.lines.clone()), Some(vec![8]));
}

#[test]
fn continuation_comments_and_abbreviations() {
    let t = "c overlay o # comment\n\
             o a va\\\n\
             lue\n\
             o b 'multi\n\
             line'\n\
             l c x; l c y\n\
             o d v1 ;o e v2\n\
             # o f 3\n\
             o g \"a\\\n\
             b\"\n";
    assert_eq!(
        show_of(t),
        "ipop.o=overlay\n\
         ipop.o.a='value'\n\
         ipop.o.b='multi\nline'\n\
         ipop.o.c='x'\n\
         ipop.o.d='v1'\n\
         ipop.o.e='v2'\n\
         ipop.o.g='ab'\n"
    );
}

#[test]
fn errors_like_libuci() {
    let cases = [
        ("config overlay 'a'\n\toption x 'abc\n", "error: EOF with unterminated ' at line 2, byte 15"),
        ("config overlay 'a'\n\toption x \"abc\n\n", "error: EOF with unterminated \" at line 3, byte 16"),
        ("config\n", "error: invalid command at line 1, byte 0"),
        ("config", "error: config without name at line 0, byte 0"),
        ("option a b\n", "error: option/list command found before the first section at line 1, byte 0"),
        ("config overlay 'a-b'\n", "error: invalid character in name field at line 1, byte 21"),
        ("config 'a b'\n", "error: invalid character in type field at line 1, byte 13"),
        ("config overlay a\noption a b c\n", "error: too many arguments at line 2, byte 13"),
        ("config overlay a\noption\n", "error: invalid command at line 2, byte 0"),
        ("config overlay a\noption \n", "error: insufficient arguments at line 2, byte 8"),
        ("config overlay a\nconfig other a\n", "error: section of different type overwrites prior section with same name at line 2, byte 15"),
        ("config overlay a\nfoo\n", "error: invalid command at line 2, byte 0"),
        ("config overlay a\n\toption x 'a\0b'\n", "error: NUL byte in file at line 2, byte 12"),
    ];
    for (text, want) in cases {
        assert_eq!(show_of(text), want, "{text:?}");
    }
}

#[test]
fn quote_round_trips() {
    for v in [
        "plain",
        "it's",
        "'",
        "a\\b",
        "two words",
        "x\ny",
        "\"q\"",
        "#;$",
    ] {
        let text = format!("config t 's'\n\toption v {}\n", quote(v));
        let s = parse(text.as_bytes()).unwrap();
        assert_eq!(s[0].options[0].values, [v]);
    }
    assert_eq!(quote("it's"), "'it'\\''s'");
}

#[test]
fn matches_recorded_libuci_answers() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/uci");
    let mut checked = 0;
    let mut failures = Vec::new();
    for dir in ["hand", "random"] {
        let mut files: Vec<_> = std::fs::read_dir(root.join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "uci"))
            .collect();
        files.sort();
        for f in files {
            let data = std::fs::read(&f).unwrap();
            let want = std::fs::read_to_string(f.with_extension("expect")).unwrap();
            let got = expect_format(&data);
            if got != want {
                failures.push(format!(
                    "{}:\n--- libuci\n{want}--- ipop\n{got}",
                    f.display()
                ));
            }
            checked += 1;
        }
    }
    assert!(checked >= 300, "only {checked} recorded cases");
    assert!(
        failures.is_empty(),
        "{} of {checked} differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
