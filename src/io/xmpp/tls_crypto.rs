//! The crypto under the XMPP client's rustls: TLS 1.3 with
//! ChaCha20-Poly1305 and X25519 from the crates the overlay already links,
//! SHA-256 from sha2, and certificate and handshake signatures checked by
//! `core::sig` (RSA PKCS #1 / PSS, ECDSA P-256 / P-384). On mipsel this is
//! about 120 kB smaller than ring, which duplicated all of it.
//!
//! Left out, knowingly: AES-GCM suites (every TLS 1.3 server also offers
//! ChaCha20-Poly1305 unless configured for FIPS), NIST-curve key exchange,
//! TLS 1.2, and Ed25519 certificates (no public CA issues them).

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use hmac::Mac;
use ipop_fastpath::ChaChaPoly as Aead;
use rustls::crypto::cipher::{
    make_tls13_aad, AeadKey, InboundOpaqueMessage, InboundPlainMessage, Iv, MessageDecrypter,
    MessageEncrypter, Nonce, OutboundOpaqueMessage, OutboundPlainMessage, PrefixedPayload,
    Tls13AeadAlgorithm, UnsupportedOperationError,
};
use rustls::crypto::hash::{self, HashAlgorithm};
use rustls::crypto::tls13::HkdfUsingHmac;
use rustls::crypto::{
    ActiveKeyExchange, CipherSuiteCommon, CryptoProvider, GetRandomFailed, KeyProvider,
    SecureRandom, SharedSecret, SupportedKxGroup, WebPkiSupportedAlgorithms,
};
use rustls::pki_types::{
    alg_id, AlgorithmIdentifier, InvalidSignature, PrivateKeyDer, SignatureVerificationAlgorithm,
};
use rustls::sign::SigningKey;
use rustls::{
    CipherSuite, ConnectionTrafficSecrets, ContentType, Error, NamedGroup, PeerMisbehaved,
    ProtocolVersion, SignatureScheme, SupportedCipherSuite, Tls13CipherSuite,
};
use x25519_dalek::StaticSecret;

use crate::core::link::handshake;
use crate::core::sig::ecdsa::{self, Curve, P256, P384};
use crate::core::sig::{rsa, Digest};

pub fn provider() -> CryptoProvider {
    CryptoProvider {
        cipher_suites: vec![TLS13_CHACHA20_POLY1305_SHA256],
        kx_groups: vec![&X25519],
        signature_verification_algorithms: SIGNATURES,
        secure_random: &Random,
        key_provider: &NoClientKeys,
    }
}

pub static TLS13_CHACHA20_POLY1305_SHA256: SupportedCipherSuite =
    SupportedCipherSuite::Tls13(&Tls13CipherSuite {
        common: CipherSuiteCommon {
            suite: CipherSuite::TLS13_CHACHA20_POLY1305_SHA256,
            hash_provider: &SHA256,
            // Far beyond any XMPP session (RFC 8446 5.5 gives 2^64 - 1).
            confidentiality_limit: u64::MAX,
        },
        hkdf_provider: &HkdfUsingHmac(&HmacSha256),
        aead_alg: &ChaChaPoly,
        quic: None,
    });

// --- hashing

static SHA256: Sha<sha2::Sha256> = Sha(PhantomData, HashAlgorithm::SHA256);

struct Sha<D>(PhantomData<fn() -> D>, HashAlgorithm);

impl<D: sha2::Digest + Clone + Send + Sync + 'static> hash::Hash for Sha<D> {
    fn start(&self) -> Box<dyn hash::Context> {
        Box::new(ShaContext(D::new()))
    }

    fn hash(&self, data: &[u8]) -> hash::Output {
        hash::Output::new(&D::digest(data))
    }

    fn output_len(&self) -> usize {
        <D as sha2::Digest>::output_size()
    }

    fn algorithm(&self) -> HashAlgorithm {
        self.1
    }
}

struct ShaContext<D>(D);

impl<D: sha2::Digest + Clone + Send + Sync + 'static> hash::Context for ShaContext<D> {
    fn fork_finish(&self) -> hash::Output {
        hash::Output::new(&self.0.clone().finalize())
    }

    fn fork(&self) -> Box<dyn hash::Context> {
        Box::new(ShaContext(self.0.clone()))
    }

    fn finish(self: Box<Self>) -> hash::Output {
        hash::Output::new(&self.0.finalize())
    }

    fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }
}

struct HmacSha256;

impl rustls::crypto::hmac::Hmac for HmacSha256 {
    fn with_key(&self, key: &[u8]) -> Box<dyn rustls::crypto::hmac::Key> {
        // HMAC takes keys of any length.
        Box::new(HmacKey(
            <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(key)
                .expect("HMAC accepts any key length"),
        ))
    }

    fn hash_output_len(&self) -> usize {
        32
    }
}

struct HmacKey(hmac::Hmac<sha2::Sha256>);

impl rustls::crypto::hmac::Key for HmacKey {
    fn sign_concat(
        &self,
        first: &[u8],
        middle: &[&[u8]],
        last: &[u8],
    ) -> rustls::crypto::hmac::Tag {
        let mut mac = self.0.clone();
        mac.update(first);
        for part in middle {
            mac.update(part);
        }
        mac.update(last);
        rustls::crypto::hmac::Tag::new(&mac.finalize().into_bytes())
    }

    fn tag_len(&self) -> usize {
        32
    }
}

// --- record protection

const TAG_LEN: usize = 16;

struct ChaChaPoly;

impl Tls13AeadAlgorithm for ChaChaPoly {
    fn encrypter(&self, key: AeadKey, iv: Iv) -> Box<dyn MessageEncrypter> {
        Box::new(Record::new(&key, iv))
    }

    fn decrypter(&self, key: AeadKey, iv: Iv) -> Box<dyn MessageDecrypter> {
        Box::new(Record::new(&key, iv))
    }

    fn key_len(&self) -> usize {
        32
    }

    fn extract_keys(
        &self,
        key: AeadKey,
        iv: Iv,
    ) -> Result<ConnectionTrafficSecrets, UnsupportedOperationError> {
        Ok(ConnectionTrafficSecrets::Chacha20Poly1305 { key, iv })
    }
}

/// One direction of a TLS 1.3 connection (RFC 8446 5.2, 5.3).
struct Record {
    cipher: Aead,
    iv: Iv,
}

impl Record {
    fn new(key: &AeadKey, iv: Iv) -> Record {
        // rustls derives exactly key_len() = 32 bytes.
        let mut k = [0u8; 32];
        if let Some(src) = key.as_ref().get(..32) {
            k.copy_from_slice(src);
        }
        Record {
            cipher: Aead::new(&k),
            iv,
        }
    }
}

impl MessageEncrypter for Record {
    fn encrypt(
        &mut self,
        msg: OutboundPlainMessage<'_>,
        seq: u64,
    ) -> Result<OutboundOpaqueMessage, Error> {
        let total = self.encrypted_payload_len(msg.payload.len());
        let mut payload = PrefixedPayload::with_capacity(total);
        payload.extend_from_chunks(&msg.payload);
        payload.extend_from_slice(&[u8::from(msg.typ)]);
        let nonce = Nonce::new(&self.iv, seq).0;
        let tag = self
            .cipher
            .seal(&nonce, &make_tls13_aad(total), payload.as_mut())
            .map_err(|_| Error::EncryptError)?;
        payload.extend_from_slice(&tag);
        // TLS 1.3 records all say TLS 1.2 on the outside (RFC 8446 5.1).
        Ok(OutboundOpaqueMessage::new(
            ContentType::ApplicationData,
            ProtocolVersion::TLSv1_2,
            payload,
        ))
    }

    fn encrypted_payload_len(&self, payload_len: usize) -> usize {
        payload_len + 1 + TAG_LEN
    }
}

impl MessageDecrypter for Record {
    fn decrypt<'a>(
        &mut self,
        mut msg: InboundOpaqueMessage<'a>,
        seq: u64,
    ) -> Result<InboundPlainMessage<'a>, Error> {
        let payload = &mut msg.payload;
        let len = payload.len();
        if len < TAG_LEN {
            return Err(Error::DecryptError);
        }
        let nonce = Nonce::new(&self.iv, seq).0;
        let (data, tag) = payload.split_at_mut(len - TAG_LEN);
        let tag: [u8; TAG_LEN] = (&*tag).try_into().map_err(|_| Error::DecryptError)?;
        if !self.cipher.open(&nonce, &make_tls13_aad(len), data, &tag) {
            return Err(Error::DecryptError);
        }
        payload.truncate(len - TAG_LEN);
        msg.into_tls13_unpadded_message()
    }
}

// --- key exchange and randomness

#[derive(Debug)]
struct X25519;

impl SupportedKxGroup for X25519 {
    fn start(&self) -> Result<Box<dyn ActiveKeyExchange>, Error> {
        let mut bytes = [0u8; 32];
        Random.fill(&mut bytes)?;
        let secret = StaticSecret::from(bytes);
        let public = handshake::public_key(&secret);
        Ok(Box::new(X25519Exchange { secret, public }))
    }

    fn name(&self) -> NamedGroup {
        NamedGroup::X25519
    }
}

struct X25519Exchange {
    secret: StaticSecret,
    public: [u8; 32],
}

impl ActiveKeyExchange for X25519Exchange {
    fn complete(self: Box<Self>, peer: &[u8]) -> Result<SharedSecret, Error> {
        let peer: [u8; 32] = peer
            .try_into()
            .map_err(|_| PeerMisbehaved::InvalidKeyShare)?;
        let mut ops = 0;
        // An all-zero result (a low-order point) is refused (RFC 8446 7.4.2).
        let shared = handshake::dh(&self.secret, &peer, &mut ops)
            .map_err(|_| PeerMisbehaved::InvalidKeyShare)?;
        Ok(SharedSecret::from(&shared[..]))
    }

    fn pub_key(&self) -> &[u8] {
        &self.public
    }

    fn group(&self) -> NamedGroup {
        NamedGroup::X25519
    }
}

#[derive(Debug)]
struct Random;

impl SecureRandom for Random {
    fn fill(&self, buf: &mut [u8]) -> Result<(), GetRandomFailed> {
        getrandom::getrandom(buf).map_err(|_| GetRandomFailed)
    }
}

/// The client never presents a certificate, so it never loads a key.
#[derive(Debug)]
struct NoClientKeys;

impl KeyProvider for NoClientKeys {
    fn load_private_key(&self, _: PrivateKeyDer<'static>) -> Result<Arc<dyn SigningKey>, Error> {
        Err(Error::General("ipop loads no TLS client keys".into()))
    }
}

// --- signature checks

enum Check {
    Pkcs1(Digest),
    Pss(Digest),
    Ecdsa(&'static Curve, Digest),
}

struct SigAlg {
    name: &'static str,
    key: AlgorithmIdentifier,
    sig: AlgorithmIdentifier,
    check: Check,
}

impl fmt::Debug for SigAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

impl SignatureVerificationAlgorithm for SigAlg {
    fn verify_signature(
        &self,
        key: &[u8],
        message: &[u8],
        sig: &[u8],
    ) -> Result<(), InvalidSignature> {
        let valid = match self.check {
            Check::Pkcs1(d) => rsa::verify_pkcs1(key, d, message, sig),
            Check::Pss(d) => rsa::verify_pss(key, d, message, sig),
            Check::Ecdsa(curve, d) => ecdsa::verify(curve, key, d, message, sig),
        };
        valid.then_some(()).ok_or(InvalidSignature)
    }

    fn public_key_alg_id(&self) -> AlgorithmIdentifier {
        self.key
    }

    fn signature_alg_id(&self) -> AlgorithmIdentifier {
        self.sig
    }
}

macro_rules! sig_alg {
    ($static:ident, $key:expr, $sig:expr, $check:expr) => {
        static $static: &dyn SignatureVerificationAlgorithm = &SigAlg {
            name: stringify!($static),
            key: $key,
            sig: $sig,
            check: $check,
        };
    };
}

use Digest::{Sha256, Sha384, Sha512};
sig_alg!(
    ECDSA_P256_SHA256,
    alg_id::ECDSA_P256,
    alg_id::ECDSA_SHA256,
    Check::Ecdsa(&P256, Sha256)
);
sig_alg!(
    ECDSA_P256_SHA384,
    alg_id::ECDSA_P256,
    alg_id::ECDSA_SHA384,
    Check::Ecdsa(&P256, Sha384)
);
sig_alg!(
    ECDSA_P384_SHA256,
    alg_id::ECDSA_P384,
    alg_id::ECDSA_SHA256,
    Check::Ecdsa(&P384, Sha256)
);
sig_alg!(
    ECDSA_P384_SHA384,
    alg_id::ECDSA_P384,
    alg_id::ECDSA_SHA384,
    Check::Ecdsa(&P384, Sha384)
);
sig_alg!(
    RSA_PKCS1_SHA256,
    alg_id::RSA_ENCRYPTION,
    alg_id::RSA_PKCS1_SHA256,
    Check::Pkcs1(Sha256)
);
sig_alg!(
    RSA_PKCS1_SHA384,
    alg_id::RSA_ENCRYPTION,
    alg_id::RSA_PKCS1_SHA384,
    Check::Pkcs1(Sha384)
);
sig_alg!(
    RSA_PKCS1_SHA512,
    alg_id::RSA_ENCRYPTION,
    alg_id::RSA_PKCS1_SHA512,
    Check::Pkcs1(Sha512)
);
sig_alg!(
    RSA_PSS_SHA256,
    alg_id::RSA_ENCRYPTION,
    alg_id::RSA_PSS_SHA256,
    Check::Pss(Sha256)
);
sig_alg!(
    RSA_PSS_SHA384,
    alg_id::RSA_ENCRYPTION,
    alg_id::RSA_PSS_SHA384,
    Check::Pss(Sha384)
);
sig_alg!(
    RSA_PSS_SHA512,
    alg_id::RSA_ENCRYPTION,
    alg_id::RSA_PSS_SHA512,
    Check::Pss(Sha512)
);
// Certificates whose sha*WithRSAEncryption identifier leaves out the NULL
// parameter (a common encoder slip; only the OID).
const fn rsa_oid(last: u8) -> AlgorithmIdentifier {
    AlgorithmIdentifier::from_slice(match last {
        0x0b => &[
            0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b,
        ],
        0x0c => &[
            0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c,
        ],
        _ => &[
            0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d,
        ],
    })
}
sig_alg!(
    RSA_PKCS1_SHA256_NO_NULL,
    alg_id::RSA_ENCRYPTION,
    rsa_oid(0x0b),
    Check::Pkcs1(Sha256)
);
sig_alg!(
    RSA_PKCS1_SHA384_NO_NULL,
    alg_id::RSA_ENCRYPTION,
    rsa_oid(0x0c),
    Check::Pkcs1(Sha384)
);
sig_alg!(
    RSA_PKCS1_SHA512_NO_NULL,
    alg_id::RSA_ENCRYPTION,
    rsa_oid(0x0d),
    Check::Pkcs1(Sha512)
);

/// What certificate chains may use, and which check each TLS 1.3 handshake
/// signature scheme means (most preferred first, as ring's provider orders them).
static SIGNATURES: WebPkiSupportedAlgorithms = WebPkiSupportedAlgorithms {
    all: &[
        ECDSA_P256_SHA256,
        ECDSA_P256_SHA384,
        ECDSA_P384_SHA256,
        ECDSA_P384_SHA384,
        RSA_PSS_SHA256,
        RSA_PSS_SHA384,
        RSA_PSS_SHA512,
        RSA_PKCS1_SHA256,
        RSA_PKCS1_SHA384,
        RSA_PKCS1_SHA512,
        RSA_PKCS1_SHA256_NO_NULL,
        RSA_PKCS1_SHA384_NO_NULL,
        RSA_PKCS1_SHA512_NO_NULL,
    ],
    mapping: &[
        (
            SignatureScheme::ECDSA_NISTP384_SHA384,
            &[ECDSA_P384_SHA384, ECDSA_P256_SHA384],
        ),
        (
            SignatureScheme::ECDSA_NISTP256_SHA256,
            &[ECDSA_P256_SHA256, ECDSA_P384_SHA256],
        ),
        (SignatureScheme::RSA_PSS_SHA512, &[RSA_PSS_SHA512]),
        (SignatureScheme::RSA_PSS_SHA384, &[RSA_PSS_SHA384]),
        (SignatureScheme::RSA_PSS_SHA256, &[RSA_PSS_SHA256]),
        (SignatureScheme::RSA_PKCS1_SHA512, &[RSA_PKCS1_SHA512]),
        (SignatureScheme::RSA_PKCS1_SHA384, &[RSA_PKCS1_SHA384]),
        (SignatureScheme::RSA_PKCS1_SHA256, &[RSA_PKCS1_SHA256]),
    ],
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::xmpp::tls::{client_config, Trust};
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName};
    use rustls::{ClientConnection, Connection, ConnectionCommon, ServerConfig, ServerConnection};
    use std::io::{Read, Write};
    use std::path::PathBuf;

    fn data(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("src/io/xmpp/testdata")
            .join(name)
    }

    /// A TLS 1.3 server on ring's provider, as an XMPP server's OpenSSL
    /// would be: an independent implementation to check ours against.
    fn server(leaf: &str, key: &str) -> ServerConnection {
        let chain = vec![CertificateDer::from_pem_file(data(leaf)).unwrap()];
        let key = PrivateKeyDer::from_pem_file(data(key)).unwrap();
        let cfg =
            ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_protocol_versions(&[&rustls::version::TLS13])
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(chain, key)
                .unwrap();
        ServerConnection::new(Arc::new(cfg)).unwrap()
    }

    /// Moves what `from` has to send into `to`; whether anything moved.
    fn flow<A, B>(
        from: &mut ConnectionCommon<A>,
        to: &mut ConnectionCommon<B>,
    ) -> Result<bool, Error> {
        let mut buf = Vec::new();
        while from.wants_write() {
            from.write_tls(&mut buf).unwrap();
        }
        let mut rest = &buf[..];
        while !rest.is_empty() {
            to.read_tls(&mut rest).unwrap();
            to.process_new_packets()?;
        }
        Ok(!buf.is_empty())
    }

    /// Moves records both ways until neither side has anything to say.
    fn pump(client: &mut ClientConnection, server: &mut ServerConnection) -> Result<(), Error> {
        for _ in 0..20 {
            let up = flow(client, server)?;
            if !(flow(server, client)? || up) {
                return Ok(());
            }
        }
        panic!("handshake did not settle");
    }

    fn connect(
        ca: &str,
        leaf: &str,
        key: &str,
        name: &str,
    ) -> Result<(ClientConnection, ServerConnection), Error> {
        let cfg = client_config(&Trust::CaFile(data(ca))).unwrap();
        let name = ServerName::try_from(name.to_string()).unwrap();
        let mut client = ClientConnection::new(cfg, name).unwrap();
        let mut srv = server(leaf, key);
        pump(&mut client, &mut srv)?;
        Ok((client, srv))
    }

    fn exchange(client: &mut ClientConnection, server: &mut ServerConnection) {
        // Several records each way, so sequence numbers advance.
        for round in 0..3u8 {
            let stanza: Vec<u8> = (0..10_000u32)
                .map(|i| b'a' + ((i + round as u32) % 26) as u8)
                .collect();
            client.writer().write_all(&stanza).unwrap();
            server.writer().write_all(b"<stream:features/>").unwrap();
            pump(client, server).unwrap();
            let mut got = vec![0; stanza.len()];
            server.reader().read_exact(&mut got).unwrap();
            assert_eq!(got, stanza);
            let mut reply = [0u8; 18];
            client.reader().read_exact(&mut reply).unwrap();
            assert_eq!(&reply, b"<stream:features/>");
        }
    }

    #[test]
    fn rsa_chain_with_pss_handshake_signature() {
        let (mut c, mut s) =
            connect("rsa-ca.pem", "rsa-leaf.pem", "rsa-leaf.key", "xmpp.test").unwrap();
        assert_eq!(
            c.negotiated_cipher_suite().map(|s| s.suite()),
            Some(CipherSuite::TLS13_CHACHA20_POLY1305_SHA256)
        );
        assert_eq!(c.protocol_version(), Some(ProtocolVersion::TLSv1_3));
        exchange(&mut c, &mut s);
    }

    #[test]
    fn ecdsa_p384_ca_and_p256_leaf() {
        let (mut c, mut s) =
            connect("ec-ca.pem", "ec-leaf.pem", "ec-leaf.key", "xmpp.test").unwrap();
        exchange(&mut c, &mut s);
        assert_eq!(
            Connection::from(s)
                .negotiated_key_exchange_group()
                .map(|g| g.name()),
            Some(NamedGroup::X25519)
        );
    }

    #[test]
    fn wrong_ca_and_wrong_name_are_refused() {
        use rustls::CertificateError::{NotValidForNameContext, UnknownIssuer};
        let e = connect("ec-ca.pem", "rsa-leaf.pem", "rsa-leaf.key", "xmpp.test").err();
        assert_eq!(e, Some(Error::InvalidCertificate(UnknownIssuer)));
        match connect("rsa-ca.pem", "rsa-leaf.pem", "rsa-leaf.key", "other.test").err() {
            Some(Error::InvalidCertificate(NotValidForNameContext { .. })) => {}
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_tampered_record_is_refused() {
        let (mut c, mut s) =
            connect("ec-ca.pem", "ec-leaf.pem", "ec-leaf.key", "xmpp.test").unwrap();
        s.writer().write_all(b"<presence/>").unwrap();
        let mut buf = Vec::new();
        s.write_tls(&mut buf).unwrap();
        let last = buf.len() - 1;
        buf[last] ^= 1;
        c.read_tls(&mut &buf[..]).unwrap();
        assert_eq!(c.process_new_packets().err(), Some(Error::DecryptError));
    }

    #[test]
    fn offers_only_what_it_implements() {
        let p = provider();
        assert_eq!(
            p.cipher_suites
                .iter()
                .map(|s| s.suite())
                .collect::<Vec<_>>(),
            vec![CipherSuite::TLS13_CHACHA20_POLY1305_SHA256]
        );
        assert_eq!(
            p.kx_groups.iter().map(|g| g.name()).collect::<Vec<_>>(),
            vec![NamedGroup::X25519]
        );
        assert!(!p
            .signature_verification_algorithms
            .supported_schemes()
            .contains(&SignatureScheme::ED25519));
        let key = PrivateKeyDer::Pkcs8(vec![0u8; 4].into());
        assert_eq!(
            p.key_provider.load_private_key(key).err(),
            Some(Error::General("ipop loads no TLS client keys".into()))
        );
    }

    #[test]
    fn low_order_key_share_is_refused() {
        let kx = X25519.start().unwrap();
        assert_eq!(kx.pub_key().len(), 32);
        assert_eq!(
            kx.complete(&[0u8; 32]).err(),
            Some(Error::PeerMisbehaved(PeerMisbehaved::InvalidKeyShare))
        );
        assert!(X25519.start().unwrap().complete(&[9u8; 31]).is_err());
    }
}
