//! Config errors (one line each: the CLI prints `ipop: <error>` and exits 2)
//! and the report of keys that are accepted but have no effect.

use core::fmt;
use std::path::PathBuf;

/// A key that was read but does nothing in ipop, with the reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IgnoredKey {
    /// Dotted JSON key (`TincanSender.svpn_port`) or UCI option
    /// (`ipop.outer.svpn_port`).
    pub key: String,
    pub why: String,
}

impl fmt::Display for IgnoredKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.why)
    }
}

/// Why a config could not be loaded. Every variant names the file; value
/// errors also name the key and, where known, the line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// The file could not be read (missing, permissions, not UTF-8).
    Read { file: PathBuf, reason: String },
    /// The JSON text itself is malformed.
    Json {
        file: PathBuf,
        line: u32,
        column: u32,
        what: String,
    },
    /// The UCI text is malformed; `what` and `byte` are libuci's wording.
    Uci {
        file: PathBuf,
        line: u32,
        byte: usize,
        what: String,
    },
    /// A key has a value of the wrong type or out of range.
    Value {
        file: PathBuf,
        key: String,
        line: Option<u32>,
        expected: String,
        got: String,
    },
    /// A required key is absent.
    Missing {
        file: PathBuf,
        key: String,
        expected: String,
    },
    /// A key asks for something ipop does not do (e.g. SocialVPN).
    Unsupported {
        file: PathBuf,
        key: String,
        line: Option<u32>,
        what: String,
    },
    /// `--uci NAME` names no `config overlay` section.
    UnknownOverlay {
        file: PathBuf,
        name: String,
        known: Vec<String>,
    },
}

/// Shortens and escapes user text so that an error stays one line.
pub(crate) fn show_got(text: &str) -> String {
    let mut short: String = text.chars().take(60).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    format!("{short:?}")
}

fn at(file: &std::path::Path, line: Option<u32>) -> String {
    match line {
        Some(l) => format!("{}:{l}", file.display()),
        None => format!("{}", file.display()),
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Read { file, reason } => {
                write!(f, "{}: cannot read config: {reason}", file.display())
            }
            ConfigError::Json {
                file,
                line,
                column,
                what,
            } => write!(
                f,
                "{}:{line}:{column}: malformed JSON: {what}",
                file.display()
            ),
            ConfigError::Uci {
                file,
                line,
                byte,
                what,
            } => write!(
                f,
                "{}: Parse error ({what}) at line {line}, byte {byte}",
                file.display()
            ),
            ConfigError::Value {
                file,
                key,
                line,
                expected,
                got,
            } => write!(
                f,
                "{}: {key}: expected {expected}, got {got}",
                at(file, *line)
            ),
            ConfigError::Missing {
                file,
                key,
                expected,
            } => write!(
                f,
                "{}: {key} is missing: expected {expected}",
                file.display()
            ),
            ConfigError::Unsupported {
                file,
                key,
                line,
                what,
            } => write!(f, "{}: {key}: {what}", at(file, *line)),
            ConfigError::UnknownOverlay { file, name, known } => {
                write!(
                    f,
                    "{}: no `config overlay` section named {name:?}",
                    file.display()
                )?;
                if known.is_empty() {
                    write!(f, " (the file has no named overlay sections)")
                } else {
                    write!(f, " (known: {})", known.join(", "))
                }
            }
        }
    }
}

impl std::error::Error for ConfigError {}
