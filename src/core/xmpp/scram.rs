//! SASL SCRAM-SHA-1 client (RFC 5802), without channel binding (`n,,`).
//! Nothing here implements `Debug`: the state holds the password and the
//! derived keys, which must never reach a log.

use hmac::{Hmac, Mac};
use sha1::{Digest, Sha1};

use crate::config::base64;

/// Iteration counts above this are refused: a hostile server must not be
/// able to make a router spin on PBKDF2.
pub const MAX_ITERATIONS: u32 = 100_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScramError {
    /// The server-first message is not `r=..,s=..,i=..` or has extensions.
    BadServerFirst,
    /// The server's nonce does not extend ours.
    NonceMismatch,
    /// Iteration count 0 or above `MAX_ITERATIONS`.
    BadIterations,
    /// The server-final message is an error or not `v=..`.
    BadServerFinal,
    /// The server could not prove it knows the password.
    ServerSignatureMismatch,
}

impl core::fmt::Display for ScramError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            ScramError::BadServerFirst => "malformed SCRAM server-first message",
            ScramError::NonceMismatch => "SCRAM server nonce does not extend the client nonce",
            ScramError::BadIterations => "SCRAM iteration count out of range",
            ScramError::BadServerFinal => "SCRAM server-final message is an error or malformed",
            ScramError::ServerSignatureMismatch => "SCRAM server signature is wrong",
        })
    }
}

type HmacSha1 = Hmac<Sha1>;

fn hmac(key: &[u8], data: &[u8]) -> [u8; 20] {
    // HMAC takes keys of any length, so this cannot fail.
    let mut m = <HmacSha1 as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    m.update(data);
    m.finalize().into_bytes().into()
}

/// `saslname` escaping of RFC 5802 §5.1.
fn saslname(user: &str) -> String {
    user.replace('=', "=3D").replace(',', "=2C")
}

pub struct Scram {
    password: String,
    client_first_bare: String,
    nonce: String,
    server_signature: Option<[u8; 20]>,
}

impl Scram {
    /// Starts an exchange; returns the state and the client-first message.
    /// `nonce` must be printable ASCII without `,` (base64 of random bytes).
    pub fn start(user: &str, password: &str, nonce: &str) -> (Scram, String) {
        let client_first_bare = format!("n={},r={}", saslname(user), nonce);
        let first = format!("n,,{client_first_bare}");
        let s = Scram {
            password: password.to_owned(),
            client_first_bare,
            nonce: nonce.to_owned(),
            server_signature: None,
        };
        (s, first)
    }

    /// Answers the server-first message with the client-final message.
    pub fn client_final(&mut self, server_first: &str) -> Result<String, ScramError> {
        let (mut r, mut salt, mut iter) = (None, None, None);
        for part in server_first.split(',') {
            match part.split_at_checked(2) {
                Some(("r=", v)) => r = Some(v),
                Some(("s=", v)) => salt = Some(v),
                Some(("i=", v)) => iter = Some(v),
                _ => return Err(ScramError::BadServerFirst),
            }
        }
        let (Some(r), Some(salt), Some(iter)) = (r, salt, iter) else {
            return Err(ScramError::BadServerFirst);
        };
        if !r.starts_with(self.nonce.as_str()) || r.len() == self.nonce.len() {
            return Err(ScramError::NonceMismatch);
        }
        let salt = base64::decode(salt).ok_or(ScramError::BadServerFirst)?;
        let iter: u32 = iter.parse().map_err(|_| ScramError::BadIterations)?;
        if iter == 0 || iter > MAX_ITERATIONS {
            return Err(ScramError::BadIterations);
        }
        let mut salted = [0u8; 20];
        pbkdf2::pbkdf2_hmac::<Sha1>(self.password.as_bytes(), &salt, iter, &mut salted);
        let client_key = hmac(&salted, b"Client Key");
        let stored_key: [u8; 20] = Sha1::digest(client_key).into();
        let without_proof = format!("c=biws,r={r}");
        let auth_message = format!("{},{server_first},{without_proof}", self.client_first_bare);
        let client_sig = hmac(&stored_key, auth_message.as_bytes());
        let mut proof = client_key;
        for (p, s) in proof.iter_mut().zip(client_sig) {
            *p ^= s;
        }
        let server_key = hmac(&salted, b"Server Key");
        self.server_signature = Some(hmac(&server_key, auth_message.as_bytes()));
        Ok(format!("{without_proof},p={}", base64::encode(&proof)))
    }

    /// What the server must send back (tests and fuzz targets play the
    /// server with it).
    #[doc(hidden)]
    pub fn server_signature(&self) -> Option<[u8; 20]> {
        self.server_signature
    }

    /// Checks the server-final message (`v=` the server signature).
    pub fn verify_final(&self, server_final: &str) -> Result<(), ScramError> {
        let v = server_final
            .strip_prefix("v=")
            .ok_or(ScramError::BadServerFinal)?;
        let got = base64::decode(v).ok_or(ScramError::BadServerFinal)?;
        let want = self.server_signature.ok_or(ScramError::BadServerFinal)?;
        // Not secret-dependent timing worth hiding: the value is public once sent.
        if got.as_slice() == want.as_slice() {
            Ok(())
        } else {
            Err(ScramError::ServerSignatureMismatch)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 5802 §5, the whole exchange.
    #[test]
    fn rfc5802_example() {
        let (mut s, first) = Scram::start("user", "pencil", "fyko+d2lbbFgONRv9qkxdawL");
        assert_eq!(first, "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL");
        let server_first = "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096";
        assert_eq!(
            s.client_final(server_first).unwrap(),
            "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="
        );
        assert_eq!(s.verify_final("v=rmF9pqV8S7suAoZWja4dJRkFsKQ="), Ok(()));
        assert_eq!(
            s.verify_final("v=rmF9pqV8S7suAoZWja4dJRkFsKA="),
            Err(ScramError::ServerSignatureMismatch)
        );
        assert_eq!(
            s.verify_final("e=invalid-proof"),
            Err(ScramError::BadServerFinal)
        );
    }

    #[test]
    fn escapes_and_rejects() {
        let (mut s, first) = Scram::start("a=b,c", "p", "abc");
        assert_eq!(first, "n,,n=a=3Db=2Cc,r=abc");
        assert_eq!(
            s.client_final("r=xyz1,s=QSXCR+Q6sek8bf92,i=1"),
            Err(ScramError::NonceMismatch)
        );
        assert_eq!(
            s.client_final("r=abc,s=QSXCR+Q6sek8bf92,i=1"),
            Err(ScramError::NonceMismatch)
        );
        assert_eq!(
            s.client_final("r=abcd,s=QSXCR+Q6sek8bf92,i=0"),
            Err(ScramError::BadIterations)
        );
        assert_eq!(
            s.client_final("r=abcd,s=QSXCR+Q6sek8bf92,i=100001"),
            Err(ScramError::BadIterations)
        );
        assert_eq!(
            s.client_final("m=ext,r=abcd,s=QSXCR+Q6sek8bf92,i=1"),
            Err(ScramError::BadServerFirst)
        );
        assert_eq!(
            s.client_final("r=abcd,i=1"),
            Err(ScramError::BadServerFirst)
        );
        assert_eq!(
            s.client_final("r=abcd,s=!!,i=1"),
            Err(ScramError::BadServerFirst)
        );
        assert_eq!(
            s.verify_final("v=rmF9pqV8S7suAoZWja4dJRkFsKQ="),
            Err(ScramError::BadServerFinal)
        );
    }
}
