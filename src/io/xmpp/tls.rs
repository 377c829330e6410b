//! rustls client configuration for the XMPP STARTTLS upgrade: the system
//! roots, a configured CA file, a pinned certificate (exact DER match), or,
//! only when asked for, no check at all.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, Error as TlsError, RootCertStore, SignatureScheme};

use crate::config::base64;

/// Debian's (and OpenWrt's ca-bundle) system trust store.
pub const SYSTEM_ROOTS: &str = "/etc/ssl/certs/ca-certificates.crt";

/// How the server certificate is checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Trust {
    SystemRoots,
    CaFile(PathBuf),
    /// The server's certificate must be exactly this one (file: PEM or DER).
    Pinned(PathBuf),
    /// `xmpp_insecure = true`: anything goes (lab servers only).
    Insecure,
}

#[derive(Debug)]
pub enum TlsSetupError {
    Read(PathBuf, std::io::Error),
    NoCertificates(PathBuf),
    Rustls(TlsError),
}

impl fmt::Display for TlsSetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsSetupError::Read(p, e) => write!(f, "cannot read {}: {e}", p.display()),
            TlsSetupError::NoCertificates(p) => {
                write!(f, "{}: no usable certificate in it", p.display())
            }
            TlsSetupError::Rustls(e) => write!(f, "TLS setup: {e}"),
        }
    }
}

/// Every `CERTIFICATE` block of a PEM text, decoded.
pub fn pem_certificates(text: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN CERTIFICATE-----") {
        let body = &rest[start + 27..];
        let Some(end) = body.find("-----END CERTIFICATE-----") else {
            break;
        };
        let b64: String = body[..end].chars().filter(|c| !c.is_whitespace()).collect();
        if let Some(der) = base64::decode(&b64) {
            out.push(der);
        }
        rest = &body[end..];
    }
    out
}

/// A certificate file in PEM (first certificate) or DER.
fn read_certs(path: &Path) -> Result<Vec<Vec<u8>>, TlsSetupError> {
    let bytes = std::fs::read(path).map_err(|e| TlsSetupError::Read(path.to_owned(), e))?;
    let certs = match std::str::from_utf8(&bytes) {
        Ok(text) if text.contains("-----BEGIN") => pem_certificates(text),
        _ => vec![bytes],
    };
    if certs.is_empty() {
        return Err(TlsSetupError::NoCertificates(path.to_owned()));
    }
    Ok(certs)
}

fn roots_from(path: &Path) -> Result<RootCertStore, TlsSetupError> {
    let mut roots = RootCertStore::empty();
    let (added, _ignored) =
        roots.add_parsable_certificates(read_certs(path)?.into_iter().map(CertificateDer::from));
    if added == 0 {
        return Err(TlsSetupError::NoCertificates(path.to_owned()));
    }
    Ok(roots)
}

pub fn client_config(trust: &Trust) -> Result<Arc<rustls::ClientConfig>, TlsSetupError> {
    let provider = Arc::new(super::tls_crypto::provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(TlsSetupError::Rustls)?;
    let cfg = match trust {
        Trust::SystemRoots => builder.with_root_certificates(roots_from(Path::new(SYSTEM_ROOTS))?),
        Trust::CaFile(p) => builder.with_root_certificates(roots_from(p)?),
        Trust::Pinned(p) => {
            let pinned = read_certs(p)?.swap_remove(0);
            let v = Fixed {
                pinned: Some(pinned),
                provider,
            };
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(v))
        }
        Trust::Insecure => {
            let v = Fixed {
                pinned: None,
                provider,
            };
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(v))
        }
    };
    Ok(Arc::new(cfg.with_no_client_auth()))
}

/// Accepts exactly the pinned certificate (or any, when `pinned` is None);
/// handshake signatures are still checked against the presented key.
#[derive(Debug)]
struct Fixed {
    pinned: Option<Vec<u8>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Fixed {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, TlsError> {
        match &self.pinned {
            Some(p) if p.as_slice() != end_entity.as_ref() => Err(TlsError::General(
                "server certificate does not match xmpp_pinned_cert".into(),
            )),
            _ => Ok(ServerCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_blocks_decoded() {
        let pem = "junk\n-----BEGIN CERTIFICATE-----\naXBv\ncA==\n-----END CERTIFICATE-----\n\
                   -----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----\n";
        assert_eq!(pem_certificates(pem), vec![b"ipop".to_vec(), vec![1, 2, 3]]);
        assert!(pem_certificates("no pem").is_empty());
    }

    #[test]
    fn missing_ca_file_is_a_clear_error() {
        let e = client_config(&Trust::CaFile("/nonexistent/ca.pem".into()))
            .err()
            .unwrap();
        assert!(
            e.to_string()
                .starts_with("cannot read /nonexistent/ca.pem: "),
            "{e}"
        );
        assert!(client_config(&Trust::Insecure).is_ok());
    }
}
