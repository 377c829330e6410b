//! The node's static X25519 key: created on first start (mode 0600), read
//! afterwards. The private key is never logged or printed by `ipop run`.

use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::config::base64;

#[derive(Debug)]
pub enum KeyError {
    Io(PathBuf, io::Error),
    /// The file does not hold a base64 32-byte key.
    Malformed(PathBuf),
    Random(String),
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::Io(p, e) => write!(f, "{}: {e}", p.display()),
            KeyError::Malformed(p) => {
                write!(
                    f,
                    "{}: expected a base64 X25519 private key (32 bytes, as `ipop genkey` prints)",
                    p.display()
                )
            }
            KeyError::Random(e) => write!(f, "no randomness from the OS: {e}"),
        }
    }
}

/// 32 bytes from the OS random source.
pub fn random_bytes() -> Result<[u8; 32], KeyError> {
    let mut b = [0u8; 32];
    getrandom::getrandom(&mut b).map_err(|e| KeyError::Random(e.to_string()))?;
    Ok(b)
}

pub fn public_of(secret: &[u8; 32]) -> [u8; 32] {
    crate::core::link::handshake::public_key(&x25519_dalek::StaticSecret::from(*secret))
}

pub fn parse_secret(text: &str) -> Option<[u8; 32]> {
    base64::decode(text.trim())?.try_into().ok()
}

/// Reads the key at `path`, creating it (0600, parent 0700) if absent.
pub fn load_or_create(path: &Path) -> Result<[u8; 32], KeyError> {
    match fs::read_to_string(path) {
        Ok(text) => {
            let mode = fs::metadata(path)
                .map(|m| m.permissions().mode() & 0o077)
                .unwrap_or(0);
            if mode != 0 {
                log::warn!(
                    "{}: key file is readable by others; chmod 600 it",
                    path.display()
                );
            }
            parse_secret(&text).ok_or_else(|| KeyError::Malformed(path.to_path_buf()))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let secret = random_bytes()?;
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(dir)
                    .map_err(|e| KeyError::Io(dir.to_path_buf(), e))?;
            }
            let mut f = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .map_err(|e| KeyError::Io(path.to_path_buf(), e))?;
            writeln!(f, "{}", base64::encode(&secret))
                .map_err(|e| KeyError::Io(path.to_path_buf(), e))?;
            log::info!("created a new node key in {}", path.display());
            Ok(secret)
        }
        Err(e) => Err(KeyError::Io(path.to_path_buf(), e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_once_with_private_mode() {
        let dir = std::env::temp_dir().join(format!("ipop-key-{}", std::process::id()));
        let path = dir.join("sub/node.key");
        let a = load_or_create(&path).unwrap();
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(load_or_create(&path).unwrap(), a);
        fs::write(&path, "not a key\n").unwrap();
        assert!(matches!(load_or_create(&path), Err(KeyError::Malformed(_))));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn rfc7748_public_key() {
        // RFC 7748 §6.1 Alice.
        let sk: [u8; 32] = [
            0x77, 0x07, 0x6d, 0x0a, 0x73, 0x18, 0xa5, 0x7d, 0x3c, 0x16, 0xc1, 0x72, 0x51, 0xb2,
            0x66, 0x45, 0xdf, 0x4c, 0x2f, 0x87, 0xeb, 0xc0, 0x99, 0x2a, 0xb1, 0x77, 0xfb, 0xa5,
            0x1d, 0xb9, 0x2c, 0x2a,
        ];
        let pk = public_of(&sk);
        assert_eq!(pk[..4], [0x85, 0x20, 0xf0, 0x09]);
        assert_eq!(parse_secret(&base64::encode(&sk)), Some(sk));
        assert_eq!(parse_secret("AAAA"), None);
    }
}
