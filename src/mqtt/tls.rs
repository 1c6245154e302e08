//! TLS client configuration: PEM loading (files or memory) and a rustls `ClientConfig`.
//!
//! Always the ring provider, passed explicitly (never a process-global default, which another
//! library in the same process could have installed differently), TLS 1.2 and 1.3 only, server
//! name verification always on, and no TLS without a CA: there is no insecure mode to fall into.

//!
//! Secrets: every PEM buffer we hold (in-memory PEM, file contents), the private key DER and
//! its PKCS#8 form are wiped before they are freed (rustls wipes the DER copy it parses). What
//! we cannot wipe: ring keeps the parsed key (RSA primes and exponents, the EC private scalar)
//! inside the `ClientConfig`'s signing key and frees it unwiped when the config is dropped
//! (ring 0.17 implements no zeroization), and rustls-pki-types' PEM decoder frees its scratch
//! buffer of the key's base64 text unwiped.

use crate::error::{jobs_result, Error};
use rustls::crypto::ring as ring_provider;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use rustls::{ClientConfig, RootCertStore};
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use zeroize::{Zeroize, Zeroizing};

/// ALPN protocol AWS IoT requires for MQTT with a client certificate on port 443.
pub const ALPN_AWS_MQTT_CA: &[u8] = b"x-amzn-mqtt-ca";

/// The largest CA, certificate or key file read (1 MiB): far above any real bundle, and a
/// bound on what a wrong path (a log, `/dev/zero`) can make us allocate.
pub const PEM_FILE_MAX_BYTES: usize = 1024 * 1024;

/// Where a PEM document comes from. In-memory PEM is wiped when dropped.
#[derive(Clone, PartialEq, Eq)]
pub enum PemSource {
    /// A file, read each time the configuration is built.
    File(PathBuf),
    /// PEM text held in memory.
    Memory(Vec<u8>),
}

impl Drop for PemSource {
    // It may be a private key: wipe it before the allocator reuses the memory.
    fn drop(&mut self) {
        if let PemSource::Memory(bytes) = self {
            bytes.zeroize();
        }
    }
}

impl fmt::Debug for PemSource {
    // Never print in-memory PEM: it may be a private key and Debug output ends up in logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PemSource::File(p) => f.debug_tuple("File").field(p).finish(),
            PemSource::Memory(b) => write!(f, "Memory(<{} bytes>)", b.len()),
        }
    }
}

impl PemSource {
    /// In-memory PEM copied from `bytes`, which must not be empty.
    pub fn memory(bytes: &[u8]) -> Result<PemSource, Error> {
        if bytes.is_empty() {
            return Err(Error::new(
                jobs_result::InvalidArgument,
                "in-memory PEM is empty (0 bytes)",
            ));
        }
        Ok(PemSource::Memory(bytes.to_vec()))
    }

    /// In-memory PEM from a provider: as [`PemSource::memory`], and at most
    /// [`PEM_FILE_MAX_BYTES`], like a file.
    pub fn memory_capped(bytes: &[u8]) -> Result<PemSource, Error> {
        if bytes.len() > PEM_FILE_MAX_BYTES {
            return Err(Error::new(
                jobs_result::InvalidArgument,
                format!(
                    "in-memory PEM of {} bytes: at most {PEM_FILE_MAX_BYTES}, as for a file",
                    bytes.len()
                ),
            ));
        }
        PemSource::memory(bytes)
    }

    /// Short description for error messages: the path, or "in-memory PEM".
    fn describe(&self) -> String {
        match self {
            PemSource::File(p) => format!("file {}", p.display()),
            PemSource::Memory(b) => format!("in-memory PEM, {} bytes", b.len()),
        }
    }

    /// The PEM bytes, in a buffer wiped when dropped; a file is read with [`read_pem_file`].
    fn read(&self, field: &'static str) -> Result<Zeroizing<Vec<u8>>, TlsError> {
        match self {
            PemSource::Memory(b) => Ok(Zeroizing::new(b.clone())),
            PemSource::File(p) => read_pem_file(p, PEM_FILE_MAX_BYTES).map_err(|(kind, why)| {
                TlsError::new(kind, format!("{field}: {why}: {}", p.display()))
            }),
        }
    }
}

/// Reads a PEM file safely: it must be a regular file of at most `cap` bytes. Opened with
/// `O_NONBLOCK`, so a FIFO cannot block the open, then refused by `fstat` unless regular; at
/// most `cap + 1` bytes are read, so `/dev/zero`-like files cannot exhaust memory. The buffer
/// (and every buffer it grew from) is wiped when dropped: the file may hold a private key.
pub fn read_pem_file(
    path: &Path,
    cap: usize,
) -> Result<Zeroizing<Vec<u8>>, (TlsErrorKind, String)> {
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    let io_error = |e: io::Error| {
        let (kind, why) = match e.kind() {
            io::ErrorKind::NotFound => (TlsErrorKind::FileNotFound, "file not found"),
            io::ErrorKind::PermissionDenied => (TlsErrorKind::FileUnreadable, "permission denied"),
            _ => (TlsErrorKind::FileUnreadable, "cannot read the file"),
        };
        (kind, format!("{why} ({e})"))
    };
    let file = File::options()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(io_error)?;
    let meta = file.metadata().map_err(io_error)?;
    if !meta.is_file() {
        let t = meta.file_type();
        let what = if t.is_dir() {
            "a directory"
        } else if t.is_fifo() {
            "a FIFO"
        } else if t.is_char_device() {
            "a character device"
        } else if t.is_block_device() {
            "a block device"
        } else if t.is_socket() {
            "a socket"
        } else {
            "not a regular file"
        };
        return Err((
            TlsErrorKind::NotRegularFile,
            format!("{what}, not a regular file"),
        ));
    }
    let too_large = || {
        (
            TlsErrorKind::FileTooLarge,
            format!("the file is larger than the {cap}-byte limit"),
        )
    };
    if meta.len() > cap as u64 {
        return Err(too_large());
    }
    read_capped(file, meta.len() as usize, cap)
        .map_err(io_error)?
        .ok_or_else(too_large)
}

/// Reads `r` to its end into a wiped-on-drop buffer, or `None` when it holds more than `cap`
/// bytes. Grows by copying into a new wiped buffer, so no unwiped copy is left behind.
fn read_capped(
    mut r: impl Read,
    size_hint: usize,
    cap: usize,
) -> io::Result<Option<Zeroizing<Vec<u8>>>> {
    // One byte more than expected, so the end of the file is seen without growing.
    let mut buf = Zeroizing::new(vec![0u8; size_hint.min(cap) + 1]);
    let mut len = 0;
    loop {
        if len == buf.len() {
            if len > cap {
                return Ok(None);
            }
            let mut bigger = Zeroizing::new(vec![0u8; (len * 2).min(cap + 1)]);
            bigger[..len].copy_from_slice(&buf[..len]);
            buf = bigger;
        }
        match r.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    if len > cap {
        return Ok(None);
    }
    buf.truncate(len);
    Ok(Some(buf))
}

/// Signs with a scheme (the TLS `SignatureScheme`) the message a TLS handshake has to sign:
/// the signature, or why there is none.
pub type SignFn = dyn Fn(rustls::SignatureScheme, &[u8]) -> Result<Vec<u8>, String> + Send + Sync;

/// A client private key the application holds (a secure element, an HSM, a TPM): the TLS
/// client signature is asked from `sign`. The certificate chain comes from `client_cert`.
#[derive(Clone)]
pub struct KeySigner {
    /// The schemes the key signs with, in order of preference, all of one algorithm.
    pub schemes: Vec<rustls::SignatureScheme>,
    pub sign: Arc<SignFn>,
}

impl fmt::Debug for KeySigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeySigner")
            .field("schemes", &self.schemes)
            .finish_non_exhaustive()
    }
}

impl PartialEq for KeySigner {
    // The same signer: a function has no other equality.
    fn eq(&self, other: &Self) -> bool {
        self.schemes == other.schemes && Arc::ptr_eq(&self.sign, &other.sign)
    }
}

impl Eq for KeySigner {}

/// The client certificate chain and (unless a key signer stands for it) its key, as PEM,
/// from the application: or why there are none.
pub type PemFn = dyn Fn() -> Result<(PemSource, Option<PemSource>), String> + Send + Sync;

/// Asked for the client certificate and key each time the TLS configuration is built: when
/// the connection is created and before every connection attempt (certificate rotation).
#[derive(Clone)]
pub struct PemProvider(pub Arc<PemFn>);

impl fmt::Debug for PemProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PemProvider")
    }
}

impl PartialEq for PemProvider {
    // The same provider: a function has no other equality.
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for PemProvider {}

/// The algorithm a scheme signs with, or `None` for schemes ring cannot verify and rustls
/// does not offer (SHA-1, SHA-224 and the legacy ones).
pub fn scheme_algorithm(scheme: rustls::SignatureScheme) -> Option<rustls::SignatureAlgorithm> {
    use rustls::SignatureAlgorithm as A;
    use rustls::SignatureScheme as S;
    match scheme {
        S::RSA_PKCS1_SHA256
        | S::RSA_PKCS1_SHA384
        | S::RSA_PKCS1_SHA512
        | S::RSA_PSS_SHA256
        | S::RSA_PSS_SHA384
        | S::RSA_PSS_SHA512 => Some(A::RSA),
        S::ECDSA_NISTP256_SHA256 | S::ECDSA_NISTP384_SHA384 | S::ECDSA_NISTP521_SHA512 => {
            Some(A::ECDSA)
        }
        S::ED25519 => Some(A::ED25519),
        _ => None,
    }
}

/// The rustls view of a [`KeySigner`].
#[derive(Debug)]
struct ExternalKey(KeySigner);

#[derive(Debug)]
struct ExternalSigner {
    scheme: rustls::SignatureScheme,
    signer: KeySigner,
}

impl rustls::sign::SigningKey for ExternalKey {
    fn choose_scheme(
        &self,
        offered: &[rustls::SignatureScheme],
    ) -> Option<Box<dyn rustls::sign::Signer>> {
        let scheme = self.0.schemes.iter().find(|s| offered.contains(s))?;
        Some(Box::new(ExternalSigner {
            scheme: *scheme,
            signer: self.0.clone(),
        }))
    }

    fn algorithm(&self) -> rustls::SignatureAlgorithm {
        self.0
            .schemes
            .first()
            .and_then(|s| scheme_algorithm(*s))
            .unwrap_or(rustls::SignatureAlgorithm::Unknown(0))
    }
}

impl rustls::sign::Signer for ExternalSigner {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, rustls::Error> {
        (self.signer.sign)(self.scheme, message)
            .map_err(|e| rustls::Error::General(format!("the key signer: {e}")))
    }

    fn scheme(&self) -> rustls::SignatureScheme {
        self.scheme
    }
}

/// TLS material and options for one connection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsSettings {
    /// CA certificate(s) that sign the server certificate; required for TLS.
    pub ca: Option<PemSource>,
    /// Client certificate chain (leaf first) for mutual TLS; needs `client_key`.
    pub client_cert: Option<PemSource>,
    /// Client private key: RSA PKCS#1/PKCS#8, EC SEC1/PKCS#8; needs `client_cert`.
    pub client_key: Option<PemSource>,
    /// Instead of `client_key`: the application signs for the key; needs `client_cert`.
    pub key_signer: Option<KeySigner>,
    /// Instead of `client_cert` and `client_key`: asked for both on every build.
    pub pem_provider: Option<PemProvider>,
    /// Instead of `client_key`: the key is in a PKCS#11 token (and the certificate too, when
    /// `client_cert` is unset). Turned into a `key_signer` by [`open_pkcs11`] when the
    /// connection is created.
    pub pkcs11: Option<super::pkcs11::Pkcs11Settings>,
    /// ALPN protocols to offer, e.g. [`ALPN_AWS_MQTT_CA`] for AWS IoT on port 443.
    pub alpn: Vec<Vec<u8>>,
}

impl TlsSettings {
    /// True when the client certificate or key is read from a file or asked from a provider,
    /// so that building the configuration again picks up a rotated one.
    pub fn reloads(&self) -> bool {
        self.pem_provider.is_some()
            || [&self.client_cert, &self.client_key]
                .iter()
                .any(|p| matches!(p, Some(PemSource::File(_))))
    }
}

/// What went wrong while building a TLS configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsErrorKind {
    /// TLS was asked for without a CA (no silent insecure mode).
    MissingCa,
    /// A client certificate without a key, or a key without a certificate.
    IncompleteClientAuth,
    /// A PEM file does not exist.
    FileNotFound,
    /// A PEM file exists but cannot be read.
    FileUnreadable,
    /// The path names a FIFO, device, directory or socket, not a regular file.
    NotRegularFile,
    /// The file is larger than [`PEM_FILE_MAX_BYTES`].
    FileTooLarge,
    /// The PEM text is malformed (bad section markers or base64).
    InvalidPem,
    /// No certificate in a PEM document that must hold one.
    NoCertificate,
    /// No CA certificate in the bundle could be parsed.
    InvalidCertificate,
    /// No private key in the key PEM.
    NoKey,
    /// The key is encrypted; only unencrypted keys are supported.
    EncryptedKey,
    /// The key type or size is not supported by the ring provider.
    UnsupportedKey,
    /// The private key does not belong to the client certificate.
    KeyMismatch,
    /// Any other refusal from rustls.
    Config,
    /// A PKCS#11 token could not be used: the module, the slot or token, the login, the key.
    Pkcs11,
}

/// A TLS configuration error: a kind and a message naming the field, file and reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsError {
    kind: TlsErrorKind,
    message: String,
}

impl TlsError {
    pub(crate) fn new(kind: TlsErrorKind, message: impl Into<String>) -> TlsError {
        TlsError {
            kind,
            message: message.into(),
        }
    }

    /// The category of the failure.
    pub fn kind(&self) -> TlsErrorKind {
        self.kind
    }

    /// The human-readable message (same text as `Display`).
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for TlsError {}

const CA_FIELD: &str = "CA certificate";
const CERT_FIELD: &str = "client certificate";
const KEY_FIELD: &str = "client key";

fn pem_error(field: &str, src: &PemSource, e: &pem::Error) -> TlsError {
    TlsError::new(
        TlsErrorKind::InvalidPem,
        format!("{field} ({}): invalid PEM: {e}", src.describe()),
    )
}

/// Every certificate in a PEM document, in order; an error when there is none.
fn load_certs(
    field: &'static str,
    src: &PemSource,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = src.read(field)?;
    let mut certs = Vec::new();
    for item in CertificateDer::pem_slice_iter(&bytes) {
        certs.push(item.map_err(|e| pem_error(field, src, &e))?);
    }
    if certs.is_empty() {
        let hint = if contains(&bytes, b"PRIVATE KEY-----") {
            " (it holds a private key: were the certificate and key swapped?)"
        } else {
            ""
        };
        return Err(TlsError::new(
            TlsErrorKind::NoCertificate,
            format!(
                "{field} ({}): no certificate found; expected a '-----BEGIN CERTIFICATE-----' block{hint}",
                src.describe()
            ),
        ));
    }
    Ok(certs)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The first private key (PKCS#1, PKCS#8 or SEC1) in a PEM document. Other blocks, such as the
/// `EC PARAMETERS` block `openssl ecparam -genkey` writes first, are skipped.
fn load_key(src: &PemSource) -> Result<Zeroizing<PrivateKeyDer<'static>>, TlsError> {
    let bytes = src.read(KEY_FIELD)?;
    match PrivateKeyDer::from_pem_slice(&bytes) {
        Ok(key) => Ok(Zeroizing::new(key)),
        Err(pem::Error::NoItemsFound) => {
            // Explain the two common causes instead of a bare "not found".
            if contains(&bytes, b"ENCRYPTED PRIVATE KEY-----")
                || contains(&bytes, b"Proc-Type: 4,ENCRYPTED")
            {
                return Err(TlsError::new(
                    TlsErrorKind::EncryptedKey,
                    format!(
                        "{KEY_FIELD} ({}): the key is encrypted; only unencrypted keys are supported \
                         (decrypt it with `openssl pkey -in KEY -out KEY.plain`)",
                        src.describe()
                    ),
                ));
            }
            let hint = if contains(&bytes, b"BEGIN CERTIFICATE") {
                " (it holds a certificate: were the certificate and key swapped?)"
            } else {
                ""
            };
            Err(TlsError::new(
                TlsErrorKind::NoKey,
                format!(
                    "{KEY_FIELD} ({}): no private key found; expected a 'PRIVATE KEY', \
                     'RSA PRIVATE KEY' or 'EC PRIVATE KEY' block{hint}",
                    src.describe()
                ),
            ))
        }
        Err(e) => Err(pem_error(KEY_FIELD, src, &e)),
    }
}

/// Parses the private key for signing. rustls wipes the DER it is given; our `key` is wiped by
/// its owner. A SEC1 key is first wrapped as PKCS#8 here, in buffers handed to (and wiped by)
/// rustls: its ring provider would do the same wrapping in buffers it frees unwiped.
fn load_signing_key(
    provider: &rustls::crypto::CryptoProvider,
    key: &PrivateKeyDer<'static>,
) -> Result<Arc<dyn rustls::sign::SigningKey>, rustls::Error> {
    let PrivateKeyDer::Sec1(sec1) = key else {
        return provider.key_provider.load_private_key(key.clone_key());
    };
    let mut result = Err(rustls::Error::General("no curve".into()));
    // The two curves ring signs with; a key of another curve fails both.
    for prefix in [PKCS8_PREFIX_EC_P256, PKCS8_PREFIX_EC_P384] {
        let pkcs8 = sec1_as_pkcs8(prefix, sec1.secret_sec1_der());
        result = provider
            .key_provider
            .load_private_key(PrivateKeyDer::Pkcs8(pkcs8.into()));
        if result.is_ok() {
            break;
        }
    }
    result
}

/// PKCS#8 `version 0, AlgorithmIdentifier { id-ecPublicKey, prime256v1 }`.
const PKCS8_PREFIX_EC_P256: &[u8] = b"\x02\x01\x00\x30\x13\x06\x07\x2a\x86\x48\xce\x3d\x02\x01\
      \x06\x08\x2a\x86\x48\xce\x3d\x03\x01\x07";
/// PKCS#8 `version 0, AlgorithmIdentifier { id-ecPublicKey, secp384r1 }`.
const PKCS8_PREFIX_EC_P384: &[u8] =
    b"\x02\x01\x00\x30\x10\x06\x07\x2a\x86\x48\xce\x3d\x02\x01\x06\x05\x2b\x81\x04\x00\x22";

/// `SEQUENCE { prefix, OCTET STRING { sec1 } }`, built in one exactly sized buffer (growing
/// would free a partial copy of the key).
fn sec1_as_pkcs8(prefix: &[u8], sec1: &[u8]) -> Vec<u8> {
    fn der_len(n: usize) -> Vec<u8> {
        if n < 0x80 {
            return vec![n as u8];
        }
        let bytes: Vec<u8> = n
            .to_be_bytes()
            .into_iter()
            .skip_while(|&b| b == 0)
            .collect();
        let mut out = vec![0x80 | bytes.len() as u8];
        out.extend(bytes);
        out
    }
    let octet_len = der_len(sec1.len());
    let content = prefix.len() + 1 + octet_len.len() + sec1.len();
    let seq_len = der_len(content);
    let mut out = Vec::with_capacity(1 + seq_len.len() + content);
    out.push(0x30);
    out.extend_from_slice(&seq_len);
    out.extend_from_slice(prefix);
    out.push(0x04);
    out.extend_from_slice(&octet_len);
    out.extend_from_slice(sec1);
    out
}

/// Opens the PKCS#11 token of `s`, if any, and puts the key signer it gives in `key_signer`
/// (blocking on the token: it loads the module and logs in). A key signer, a client key and a
/// certificate provider are refused alongside it. Without a client certificate, the token's
/// certificate with the key's label becomes it (and none there is an error).
pub fn open_pkcs11(s: &mut TlsSettings) -> Result<(), TlsError> {
    let Some(p11) = &s.pkcs11 else {
        return Ok(());
    };
    let refuse = |what: &str| {
        Err(TlsError::new(
            TlsErrorKind::IncompleteClientAuth,
            format!("a PKCS#11 key and {what} exclude each other: the token holds the key"),
        ))
    };
    if s.key_signer.is_some() {
        return refuse("a key signer");
    }
    if s.client_key.is_some() {
        return refuse("a client key");
    }
    if s.pem_provider.is_some() {
        return refuse("a certificate provider");
    }
    #[cfg(feature = "pkcs11")]
    {
        // Without a certificate set, the token's own (same label) is the chain.
        let (signer, certificate) = super::pkcs11::open(p11, s.client_cert.is_none())?;
        if s.client_cert.is_none() {
            let der = certificate.ok_or_else(|| {
                TlsError::new(
                    TlsErrorKind::IncompleteClientAuth,
                    format!(
                        "a PKCS#11 key was configured without its client certificate: none was set \
                         (jobs_config_set_cert_file or _pem) and the token has no certificate \
                         labelled \"{}\"",
                        p11.key_label
                    ),
                )
            })?;
            s.client_cert = Some(PemSource::Memory(
                super::pkcs11::certificate_pem(&der).into_bytes(),
            ));
        }
        s.key_signer = Some(signer);
        s.pkcs11 = None;
        Ok(())
    }
    #[cfg(not(feature = "pkcs11"))]
    {
        let _ = p11;
        Err(TlsError::new(
            TlsErrorKind::Pkcs11,
            "PKCS#11 keys: this build of iotjobs cannot open PKCS#11 tokens (built without the cargo feature `pkcs11`)",
        ))
    }
}

/// Builds the rustls client configuration: ring provider, TLS 1.2 and 1.3, the CA roots, the
/// optional client certificate and key, and ALPN. PEM files are read on every call, so a
/// rebuilt configuration picks up rotated certificates.
pub fn build_client_config(s: &TlsSettings) -> Result<Arc<ClientConfig>, TlsError> {
    let ca = s.ca.as_ref().ok_or_else(|| {
        TlsError::new(
            TlsErrorKind::MissingCa,
            "TLS needs a CA certificate to verify the server; none was configured",
        )
    })?;
    let mut roots = RootCertStore::empty();
    let ca_certs = load_certs(CA_FIELD, ca)?;
    let (added, ignored) = roots.add_parsable_certificates(ca_certs);
    if added == 0 {
        return Err(TlsError::new(
            TlsErrorKind::InvalidCertificate,
            format!(
                "{CA_FIELD} ({}): none of the {ignored} certificate(s) could be parsed as a trust anchor",
                ca.describe()
            ),
        ));
    }

    let provider = Arc::new(ring_provider::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| TlsError::new(TlsErrorKind::Config, format!("TLS versions: {e}")))?
        .with_root_certificates(roots);

    let provided;
    let (client_cert, client_key) = match &s.pem_provider {
        Some(p) => {
            if s.client_cert.is_some() || s.client_key.is_some() {
                return Err(TlsError::new(
                    TlsErrorKind::IncompleteClientAuth,
                    "a certificate provider and a client certificate or key exclude each other",
                ));
            }
            provided = (p.0)().map_err(|e| {
                TlsError::new(
                    TlsErrorKind::Config,
                    format!("the certificate provider: {e}"),
                )
            })?;
            (Some(&provided.0), provided.1.as_ref())
        }
        None => (s.client_cert.as_ref(), s.client_key.as_ref()),
    };
    if s.key_signer.is_some() && client_key.is_some() {
        return Err(TlsError::new(
            TlsErrorKind::IncompleteClientAuth,
            "a client key and a key signer exclude each other: the signer stands for the key",
        ));
    }
    if let Some(signer) = &s.key_signer {
        let cert_src = client_cert.ok_or_else(|| {
            TlsError::new(
                TlsErrorKind::IncompleteClientAuth,
                "a key signer was configured without its client certificate",
            )
        })?;
        let chain = load_certs(CERT_FIELD, cert_src)?;
        let certified = CertifiedKey::new(chain, Arc::new(ExternalKey(signer.clone())));
        let mut config =
            builder.with_client_cert_resolver(Arc::new(SingleCertAndKey::from(certified)));
        config.alpn_protocols = s.alpn.clone();
        return Ok(Arc::new(config));
    }
    let mut config = match (client_cert, client_key) {
        (None, None) => builder.with_no_client_auth(),
        (Some(_), None) => {
            return Err(TlsError::new(
                TlsErrorKind::IncompleteClientAuth,
                "a client certificate was configured without its client key",
            ))
        }
        (None, Some(_)) => {
            return Err(TlsError::new(
                TlsErrorKind::IncompleteClientAuth,
                "a client key was configured without its client certificate",
            ))
        }
        (Some(cert_src), Some(key_src)) => {
            let chain = load_certs(CERT_FIELD, cert_src)?;
            let key = load_key(key_src)?;
            // Parsed once, here rather than inside rustls, so the message can say "unsupported"
            // precisely.
            let signing_key = match load_signing_key(&provider, &key) {
                Ok(k) => k,
                Err(e) => {
                    return Err(TlsError::new(
                        TlsErrorKind::UnsupportedKey,
                        format!(
                            "{KEY_FIELD} ({}): unsupported key type or size ({e}); supported are \
                             RSA 2048-8192 bits, ECDSA P-256 and P-384, and Ed25519",
                            key_src.describe()
                        ),
                    ))
                }
            };
            let certified = CertifiedKey::new(chain, signing_key);
            certified
                .keys_match()
                .or_else(|e| match e {
                    // As rustls itself: a key that cannot tell its public half is not refused.
                    rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown) => Ok(()),
                    other => Err(other),
                })
                .map(|()| {
                    builder.with_client_cert_resolver(Arc::new(SingleCertAndKey::from(certified)))
                })
                .map_err(|e| match e {
                    rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => {
                        TlsError::new(
                            TlsErrorKind::KeyMismatch,
                            format!(
                                "{KEY_FIELD} ({}) does not match the {CERT_FIELD} ({}): \
                                 the key is not the certificate's private key",
                                key_src.describe(),
                                cert_src.describe()
                            ),
                        )
                    }
                    other => TlsError::new(
                        TlsErrorKind::Config,
                        format!(
                            "{CERT_FIELD} ({}) with {KEY_FIELD} ({}): {other}",
                            cert_src.describe(),
                            key_src.describe()
                        ),
                    ),
                })?
        }
    };
    config.alpn_protocols = s.alpn.clone();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mem(s: &str) -> Option<PemSource> {
        Some(PemSource::Memory(s.as_bytes().to_vec()))
    }

    fn settings(cert: &str, key: &str) -> TlsSettings {
        TlsSettings {
            ca: mem(CA),
            client_cert: mem(cert),
            client_key: mem(key),
            ..Default::default()
        }
    }

    fn err(s: &TlsSettings) -> TlsError {
        match build_client_config(s) {
            Ok(_) => panic!("expected an error for {s:?}"),
            Err(e) => e,
        }
    }

    /// A unique temporary file holding `text`, removed on drop.
    struct TempPem(PathBuf);
    impl TempPem {
        fn new(name: &str, text: &str) -> TempPem {
            let p = std::env::temp_dir().join(format!(
                "iotjobs-tls-unit-{}-{:x}-{name}",
                std::process::id(),
                fastrand::u64(..)
            ));
            std::fs::write(&p, text).unwrap();
            TempPem(p)
        }
        fn src(&self) -> Option<PemSource> {
            Some(PemSource::File(self.0.clone()))
        }
    }
    impl Drop for TempPem {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    #[test]
    fn ca_only_builds_with_alpn() {
        let s = TlsSettings {
            ca: mem(CA),
            alpn: vec![ALPN_AWS_MQTT_CA.to_vec()],
            ..TlsSettings::default()
        };
        let cfg = build_client_config(&s).unwrap();
        assert_eq!(cfg.alpn_protocols, vec![b"x-amzn-mqtt-ca".to_vec()]);
        assert!(!cfg.client_auth_cert_resolver.has_certs());
        // The protocol versions (1.2 and 1.3) are proven against servers pinned to each
        // version in tests/tls.rs (`tls_1_3_only_broker_accepts_us`,
        // `tls_1_2_only_server_accepts_us_and_sees_our_alpn`).
    }

    #[test]
    fn ca_bundle_with_several_certificates() {
        let bundle = format!("{CA2}\n{CA}");
        let s = TlsSettings {
            ca: mem(&bundle),
            ..TlsSettings::default()
        };
        assert!(build_client_config(&s).is_ok());
    }

    #[test]
    fn rsa_pkcs8_key() {
        let cfg = build_client_config(&settings(RSA_CERT, RSA_PKCS8)).unwrap();
        assert!(cfg.client_auth_cert_resolver.has_certs());
    }

    #[test]
    fn rsa_pkcs1_key() {
        assert!(RSA_PKCS1.contains("BEGIN RSA PRIVATE KEY"));
        let cfg = build_client_config(&settings(RSA_CERT, RSA_PKCS1)).unwrap();
        assert!(cfg.client_auth_cert_resolver.has_certs());
    }

    #[test]
    fn ec_sec1_key_with_and_without_parameters_block() {
        assert!(EC_SEC1_WITH_PARAMS.starts_with("-----BEGIN EC PARAMETERS-----"));
        assert!(build_client_config(&settings(EC_CERT, EC_SEC1_WITH_PARAMS)).is_ok());
        let sec1_only = EC_SEC1_WITH_PARAMS
            .split_once("-----END EC PARAMETERS-----\n")
            .unwrap()
            .1;
        assert!(sec1_only.starts_with("-----BEGIN EC PRIVATE KEY-----"));
        assert!(build_client_config(&settings(EC_CERT, sec1_only)).is_ok());
    }

    #[test]
    fn ec_pkcs8_key() {
        assert!(build_client_config(&settings(EC_CERT, EC_PKCS8)).is_ok());
    }

    #[test]
    fn all_formats_from_files() {
        let ca = TempPem::new("ca.crt", CA);
        for (cert, key) in [
            (RSA_CERT, RSA_PKCS8),
            (RSA_CERT, RSA_PKCS1),
            (EC_CERT, EC_SEC1_WITH_PARAMS),
            (EC_CERT, EC_PKCS8),
        ] {
            let c = TempPem::new("client.crt", cert);
            let k = TempPem::new("client.key", key);
            let s = TlsSettings {
                ca: ca.src(),
                client_cert: c.src(),
                client_key: k.src(),
                ..Default::default()
            };
            assert!(build_client_config(&s).is_ok(), "{key}");
        }
    }

    #[test]
    fn missing_ca_is_an_error_not_insecure_mode() {
        let e = err(&TlsSettings::default());
        assert_eq!(e.kind(), TlsErrorKind::MissingCa);
        assert!(e.to_string().contains("CA"), "{e}");
    }

    #[test]
    fn missing_file_names_the_path() {
        let s = TlsSettings {
            ca: Some(PemSource::File("/nonexistent/dir/root-ca.pem".into())),
            ..TlsSettings::default()
        };
        let e = err(&s);
        assert_eq!(e.kind(), TlsErrorKind::FileNotFound);
        assert!(e.message().contains("/nonexistent/dir/root-ca.pem"), "{e}");
        assert!(e.message().contains("CA certificate"), "{e}");
        assert!(e.message().contains("not found"), "{e}");

        let mut s = settings(EC_CERT, EC_PKCS8);
        s.client_key = Some(PemSource::File("/nonexistent/thing.key".into()));
        let e = err(&s);
        assert_eq!(e.kind(), TlsErrorKind::FileNotFound);
        assert!(
            e.message().contains("client key") && e.message().contains("/nonexistent/thing.key"),
            "{e}"
        );
    }

    #[test]
    fn no_certificate_in_pem() {
        let s = TlsSettings {
            ca: mem("just some text\n"),
            ..TlsSettings::default()
        };
        let e = err(&s);
        assert_eq!(e.kind(), TlsErrorKind::NoCertificate);
        assert!(e.message().contains("no certificate"), "{e}");

        // A key where the client certificate belongs gets a hint.
        let e = err(&settings(EC_PKCS8, EC_PKCS8));
        assert_eq!(e.kind(), TlsErrorKind::NoCertificate);
        assert!(
            e.message().contains("client certificate") && e.message().contains("swapped"),
            "{e}"
        );
    }

    #[test]
    fn no_key_in_pem() {
        let e = err(&settings(EC_CERT, EC_CERT));
        assert_eq!(e.kind(), TlsErrorKind::NoKey);
        assert!(
            e.message().contains("no private key") && e.message().contains("swapped"),
            "{e}"
        );
        let e = err(&settings(EC_CERT, ""));
        assert_eq!(e.kind(), TlsErrorKind::NoKey);
    }

    #[test]
    fn malformed_pem() {
        let broken = "-----BEGIN CERTIFICATE-----\n!!!not base64!!!\n-----END CERTIFICATE-----\n";
        let e = err(&TlsSettings {
            ca: mem(broken),
            ..TlsSettings::default()
        });
        assert_eq!(e.kind(), TlsErrorKind::InvalidPem, "{e}");
        let truncated = &CA[..CA.len() / 2];
        let e = err(&TlsSettings {
            ca: mem(truncated),
            ..TlsSettings::default()
        });
        assert_eq!(e.kind(), TlsErrorKind::InvalidPem, "{e}");
    }

    #[test]
    fn unparsable_ca_certificate() {
        // Valid PEM and base64, but not a certificate.
        let junk = "-----BEGIN CERTIFICATE-----\nAAECAwQF\n-----END CERTIFICATE-----\n";
        let e = err(&TlsSettings {
            ca: mem(junk),
            ..TlsSettings::default()
        });
        assert_eq!(e.kind(), TlsErrorKind::InvalidCertificate, "{e}");
    }

    #[test]
    fn key_and_certificate_mismatch() {
        let e = err(&settings(RSA_CERT, EC_PKCS8));
        assert_eq!(e.kind(), TlsErrorKind::KeyMismatch, "{e}");
        assert!(e.message().contains("does not match"), "{e}");
        let e = err(&settings(EC_CERT, RSA_PKCS1));
        assert_eq!(e.kind(), TlsErrorKind::KeyMismatch, "{e}");
    }

    #[test]
    fn unsupported_key_type() {
        // ring signs with P-256 and P-384 only.
        let e = err(&settings(EC_CERT, EC_P521_SEC1));
        assert_eq!(e.kind(), TlsErrorKind::UnsupportedKey, "{e}");
        assert!(e.message().contains("unsupported"), "{e}");
    }

    #[test]
    fn encrypted_key() {
        let e = err(&settings(EC_CERT, EC_ENCRYPTED_PKCS8));
        assert_eq!(e.kind(), TlsErrorKind::EncryptedKey, "{e}");
        assert!(e.message().contains("encrypted"), "{e}");
    }

    #[test]
    fn half_configured_client_auth() {
        let mut s = settings(EC_CERT, EC_PKCS8);
        s.client_key = None;
        assert_eq!(err(&s).kind(), TlsErrorKind::IncompleteClientAuth);
        let mut s = settings(EC_CERT, EC_PKCS8);
        s.client_cert = None;
        assert_eq!(err(&s).kind(), TlsErrorKind::IncompleteClientAuth);
    }

    #[test]
    fn read_capped_grows_past_a_wrong_size_hint_and_stops_at_the_cap() {
        let data: Vec<u8> = (0..100u8).collect();
        let got = read_capped(&data[..], 0, 100).unwrap().unwrap();
        assert_eq!(&got[..], &data[..]);
        let got = read_capped(&data[..], 1000, 100).unwrap().unwrap();
        assert_eq!(&got[..], &data[..]);
        assert!(read_capped(&data[..], 0, 99).unwrap().is_none());
        assert!(read_capped(&data[..], 99, 99).unwrap().is_none());
        assert!(read_capped(std::io::repeat(0), 0, 4096).unwrap().is_none());
        assert_eq!(&read_capped(&b""[..], 0, 10).unwrap().unwrap()[..], b"");
    }

    #[test]
    fn only_regular_files_within_the_cap_are_read() {
        let pem = TempPem::new("ok.crt", CA);
        assert_eq!(
            &read_pem_file(&pem.0, PEM_FILE_MAX_BYTES).unwrap()[..],
            CA.as_bytes()
        );
        let (kind, why) = read_pem_file(&pem.0, CA.len() - 1).unwrap_err();
        assert_eq!(kind, TlsErrorKind::FileTooLarge);
        assert!(
            why.contains(&format!("{}-byte limit", CA.len() - 1)),
            "{why}"
        );
        let (kind, why) = read_pem_file(Path::new("/dev/zero"), PEM_FILE_MAX_BYTES).unwrap_err();
        assert_eq!(kind, TlsErrorKind::NotRegularFile);
        assert!(why.starts_with("a character device"), "{why}");
        let (kind, why) = read_pem_file(&std::env::temp_dir(), PEM_FILE_MAX_BYTES).unwrap_err();
        assert_eq!(
            (kind, why.as_str()),
            (
                TlsErrorKind::NotRegularFile,
                "a directory, not a regular file"
            )
        );
        let (kind, _) = read_pem_file(Path::new("/nonexistent/ca.pem"), 10).unwrap_err();
        assert_eq!(kind, TlsErrorKind::FileNotFound);
    }

    #[test]
    fn a_device_as_ca_file_is_a_clear_error() {
        let s = TlsSettings {
            ca: Some(PemSource::File("/dev/zero".into())),
            ..TlsSettings::default()
        };
        let e = err(&s);
        assert_eq!(e.kind(), TlsErrorKind::NotRegularFile);
        assert_eq!(
            e.message(),
            "CA certificate: a character device, not a regular file: /dev/zero"
        );
    }

    #[test]
    fn debug_never_prints_in_memory_pem() {
        let s = settings(EC_CERT, EC_PKCS8);
        let d = format!("{s:?}");
        assert!(!d.contains("PRIVATE KEY"), "{d}");
        assert!(d.contains("bytes"), "{d}");
    }

    // Test-only material, generated once with openssl 3.0 for these unit tests and used nowhere
    // else (100-year validity, so the tests never expire):
    //   CA / CA2: `openssl ecparam -name prime256v1 -genkey -noout` + `openssl req -x509`
    //   RSA: `openssl req -newkey rsa:2048 -nodes` (PKCS#8), `openssl rsa -traditional` (PKCS#1)
    //   EC: `openssl ecparam -name prime256v1 -genkey` (EC PARAMETERS + SEC1), `openssl pkcs8 -topk8 -nocrypt`
    //   P-521: `openssl ecparam -name secp521r1 -genkey -noout`; encrypted: `openssl pkcs8 -topk8 -v2 aes-128-cbc`
    // Client certificates are signed by CA with extendedKeyUsage=clientAuth.
    const CA: &str = "\
-----BEGIN CERTIFICATE-----\n\
MIIBezCCASGgAwIBAgIUHv/m604Gg3LZB+qU+UnOsYrwdoEwCgYIKoZIzj0EAwIw\n\
EjEQMA4GA1UEAwwHVW5pdCBDQTAgFw0yNjExMjcwNzE4MDJaGA8yMTI2MTEwMzA3\n\
MTgwMlowEjEQMA4GA1UEAwwHVW5pdCBDQTBZMBMGByqGSM49AgEGCCqGSM49AwEH\n\
A0IABBZ4cGnqHfiQZjk0lmzeUOrKcpRfQHGJDmDcE/rBSJz9UiDaLhZXUa4P5jVb\n\
MYKAVqr1WsbdhERoIQn6iZxtZVejUzBRMB0GA1UdDgQWBBQRDddxW1ZBHyba0E12\n\
4DwjLxunyjAfBgNVHSMEGDAWgBQRDddxW1ZBHyba0E124DwjLxunyjAPBgNVHRMB\n\
Af8EBTADAQH/MAoGCCqGSM49BAMCA0gAMEUCIBNvDvUjX9vKI7zSbZ4trYw/MpYC\n\
0UlX4FA9gkcCpVKcAiEAiiOO7ryYqr3UOf/Z/+0i4M4jLvUXKxe75XxyTpGx6pE=\n\
-----END CERTIFICATE-----\n";

    const CA2: &str = "\
-----BEGIN CERTIFICATE-----\n\
MIIBfjCCASWgAwIBAgIUGO+lG5v5hvnFzKLKdF2bVh1owV8wCgYIKoZIzj0EAwIw\n\
FDESMBAGA1UEAwwJVW5pdCBDQSAyMCAXDTI2MTEyNzA3MTgwMloYDzIxMjYxMTAz\n\
MDcxODAyWjAUMRIwEAYDVQQDDAlVbml0IENBIDIwWTATBgcqhkjOPQIBBggqhkjO\n\
PQMBBwNCAATSpPm8mkq1/6RKShvSufV64WowJlkDeM023dibMvvXK0F0FUXOSWvH\n\
gm6mbcHrEJxrlyF9YOrOzGWtN9uCjSwLo1MwUTAdBgNVHQ4EFgQUXZ4ZzA1jZjz1\n\
utvMTldHwYVvUnAwHwYDVR0jBBgwFoAUXZ4ZzA1jZjz1utvMTldHwYVvUnAwDwYD\n\
VR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNHADBEAiASnFCpReHXMrPClIqohkJM\n\
yuAHhrYTq7h0WH31bGaUpgIgHwVnXvYn1Nlz7nNLTYmY3nT1ul4ssiKpKOFbVKVT\n\
0J0=\n\
-----END CERTIFICATE-----\n";

    const RSA_CERT: &str = "\
-----BEGIN CERTIFICATE-----\n\
MIICVzCCAfygAwIBAgIUdwl8cEdG4B1hx9uuEXzGTmDFZFEwCgYIKoZIzj0EAwIw\n\
EjEQMA4GA1UEAwwHVW5pdCBDQTAgFw0yNjExMjcwNzE4MDJaGA8yMTI2MTEwMzA3\n\
MTgwMlowEzERMA8GA1UEAwwIdW5pdC1yc2EwggEiMA0GCSqGSIb3DQEBAQUAA4IB\n\
DwAwggEKAoIBAQC9YlZ5gSq60e2rk1oGX7AVU20ufyVd/nBt+psnN+KD+mku1Jrn\n\
zFH1Dvwx7Tp3Qai+0EqMtGk+mFp6tVbBpcexy9Jh8JN6i/9g54/11OYd4zELXlU1\n\
vXhcYAwGZ+anjDsD4WcVPtbix0ebd+IOorkEiNs3lXbjaEZXrrDFFDQ+rkteLyxw\n\
Hi8lViXSjAfoGSGEjxkuCHP+xN5wum3cKz0GoBgUoJAAhkV0cx6uD7XKeP6LLDgE\n\
2Ji0Bswd3ijtF4vSZq7yDFY4Hf9CMJ57OAlgCkYPfiyjHCg70hou5CZRaoxkSqL4\n\
bCM1YejoRiEpPI/XHgSfJ5bEdGi/Vg2RADwdAgMBAAGjYjBgMAkGA1UdEwQCMAAw\n\
EwYDVR0lBAwwCgYIKwYBBQUHAwIwHQYDVR0OBBYEFHbgicgtzmZRTNrrLdjjdrPJ\n\
tgS2MB8GA1UdIwQYMBaAFBEN13FbVkEfJtrQTXbgPCMvG6fKMAoGCCqGSM49BAMC\n\
A0kAMEYCIQDdS1u3uJBJ6nGtv7mClgRrnfhDU4uDWuI8ktLk9pKBaAIhAJYsuRtS\n\
JiCUWb0q1gmlYkv/oy8A4mbusCapz2p11sma\n\
-----END CERTIFICATE-----\n";

    const RSA_PKCS8: &str = "\
-----BEGIN PRIVATE KEY-----\n\
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC9YlZ5gSq60e2r\n\
k1oGX7AVU20ufyVd/nBt+psnN+KD+mku1JrnzFH1Dvwx7Tp3Qai+0EqMtGk+mFp6\n\
tVbBpcexy9Jh8JN6i/9g54/11OYd4zELXlU1vXhcYAwGZ+anjDsD4WcVPtbix0eb\n\
d+IOorkEiNs3lXbjaEZXrrDFFDQ+rkteLyxwHi8lViXSjAfoGSGEjxkuCHP+xN5w\n\
um3cKz0GoBgUoJAAhkV0cx6uD7XKeP6LLDgE2Ji0Bswd3ijtF4vSZq7yDFY4Hf9C\n\
MJ57OAlgCkYPfiyjHCg70hou5CZRaoxkSqL4bCM1YejoRiEpPI/XHgSfJ5bEdGi/\n\
Vg2RADwdAgMBAAECggEAOj+Ns09cEhvRSu1GSiGSKez/7sYiexdwAxOKNvTEUa1q\n\
PoIbpuG773CNdtmtGtLyEMZFt6Mhn6QCaC1wIp1Xn0K+UWtKIO4APRDbwVOa92RS\n\
SFnaQW4mH9tWt32rfqrt19Ky/uDV/OgoCRRFThUUbOWe7yikaWs//2X2bpc5PnGb\n\
rojfUd+WtC/Qx7yLK0zJqhLdaPfGY1s1aYahT/dQ2gcsQUB701tKYsoIEMzIM6Bk\n\
pCeg1G7XfPWebHQXTAkQAt/y7bKQYarOqU3aJqSyZELp7gsp890FRj+cUe9yjTYA\n\
+lxkxQv77X6sWgVi9M9aUWd9/PUPugOF78H8V2BHjQKBgQDjYEGXIf1rlhqrUb3J\n\
Oiffhcp/R3xyyLKNgcTgHho78VHqZ2CdH6zbW+5xJTs+6Ks5pjMsdBNLaqlcwona\n\
XTj54SiDTJM34ZTD3b3ulyKmqGEvEl7SgCPplda1cVr4J/OfyAdBSpWrt8QKQHv3\n\
+Y+U2LHpWqIOv9JcpJpOBPO/rwKBgQDVObOLcLZKOUHkgWyBJ6MjgOa4gqtbdTj6\n\
kyKuDqEQ6ofLzYZLc8cQ1kfopNLGdPrj0A1Qp4VoXbwi4ycL0f7NiHDCH8IRazwz\n\
U4ZQ4urDUQNFsDVPm5J2dni9ACOinYnLZPydIuMKVpS9fHJm7r9x72z3FCvBw/J6\n\
my9r3DSH8wKBgC84DCcArgorr/ooDYu+gg1PUZBBHj0QJNRyQJpyZexQ3zwYn93B\n\
eDpNyyTAIJ+d3gEo3LO8n00oJ2fWFp68gVqTQcCSpHgUZrqOUCU+Sbnmedg2rm50\n\
ogCeV2py0ft7AIMMHUWX4aE5loKyhYwnzYORxNC7O7BocZ0/qbPOH3iNAoGBALlZ\n\
bDqVItDIjv/chX6L/yMYpPbVF7Hr5zjid+4H53j19k9x/ABQx0Vaj62qwVIkVAd+\n\
TmTDCpPbj3RgMwvyYmU16pbE1oUfy3fubj6X0m0wWgDVGLJ30MxLVc8tdMyh1ytI\n\
QNMzhVryQl+o8yWI+kBHWVg6X4MTGw/7IDDJfZyDAoGAVh6DVkqnLSBzr5bq8mDt\n\
aUSGEtnUwR/kM2lCSFfZMxP1qCe9s6Ot4rX9rUAQUIHet0oJM+9je23SD3zICIGy\n\
cLRlWlIPFXbvEzLzofhBMrK4yVrGMIK45tORruYDwnGML9bEov+80ur9J8D0o9fu\n\
vTSBMCMhYwox3EllncWFYuo=\n\
-----END PRIVATE KEY-----\n";

    const RSA_PKCS1: &str = "\
-----BEGIN RSA PRIVATE KEY-----\n\
MIIEowIBAAKCAQEAvWJWeYEqutHtq5NaBl+wFVNtLn8lXf5wbfqbJzfig/ppLtSa\n\
58xR9Q78Me06d0GovtBKjLRpPphaerVWwaXHscvSYfCTeov/YOeP9dTmHeMxC15V\n\
Nb14XGAMBmfmp4w7A+FnFT7W4sdHm3fiDqK5BIjbN5V242hGV66wxRQ0Pq5LXi8s\n\
cB4vJVYl0owH6BkhhI8ZLghz/sTecLpt3Cs9BqAYFKCQAIZFdHMerg+1ynj+iyw4\n\
BNiYtAbMHd4o7ReL0mau8gxWOB3/QjCeezgJYApGD34soxwoO9IaLuQmUWqMZEqi\n\
+GwjNWHo6EYhKTyP1x4EnyeWxHRov1YNkQA8HQIDAQABAoIBADo/jbNPXBIb0Urt\n\
Rkohkins/+7GInsXcAMTijb0xFGtaj6CG6bhu+9wjXbZrRrS8hDGRbejIZ+kAmgt\n\
cCKdV59CvlFrSiDuAD0Q28FTmvdkUkhZ2kFuJh/bVrd9q36q7dfSsv7g1fzoKAkU\n\
RU4VFGzlnu8opGlrP/9l9m6XOT5xm66I31HflrQv0Me8iytMyaoS3Wj3xmNbNWmG\n\
oU/3UNoHLEFAe9NbSmLKCBDMyDOgZKQnoNRu13z1nmx0F0wJEALf8u2ykGGqzqlN\n\
2iaksmRC6e4LKfPdBUY/nFHvco02APpcZMUL++1+rFoFYvTPWlFnffz1D7oDhe/B\n\
/FdgR40CgYEA42BBlyH9a5Yaq1G9yTon34XKf0d8csiyjYHE4B4aO/FR6mdgnR+s\n\
21vucSU7PuirOaYzLHQTS2qpXMKJ2l04+eEog0yTN+GUw9297pcipqhhLxJe0oAj\n\
6ZXWtXFa+Cfzn8gHQUqVq7fECkB79/mPlNix6VqiDr/SXKSaTgTzv68CgYEA1Tmz\n\
i3C2SjlB5IFsgSejI4DmuIKrW3U4+pMirg6hEOqHy82GS3PHENZH6KTSxnT649AN\n\
UKeFaF28IuMnC9H+zYhwwh/CEWs8M1OGUOLqw1EDRbA1T5uSdnZ4vQAjop2Jy2T8\n\
nSLjClaUvXxyZu6/ce9s9xQrwcPyepsva9w0h/MCgYAvOAwnAK4KK6/6KA2LvoIN\n\
T1GQQR49ECTUckCacmXsUN88GJ/dwXg6TcskwCCfnd4BKNyzvJ9NKCdn1haevIFa\n\
k0HAkqR4FGa6jlAlPkm55nnYNq5udKIAnldqctH7ewCDDB1Fl+GhOZaCsoWMJ82D\n\
kcTQuzuwaHGdP6mzzh94jQKBgQC5WWw6lSLQyI7/3IV+i/8jGKT21Rex6+c44nfu\n\
B+d49fZPcfwAUMdFWo+tqsFSJFQHfk5kwwqT2490YDML8mJlNeqWxNaFH8t37m4+\n\
l9JtMFoA1Riyd9DMS1XPLXTModcrSEDTM4Va8kJfqPMliPpAR1lYOl+DExsP+yAw\n\
yX2cgwKBgFYeg1ZKpy0gc6+W6vJg7WlEhhLZ1MEf5DNpQkhX2TMT9agnvbOjreK1\n\
/a1AEFCB3rdKCTPvY3tt0g98yAiBsnC0ZVpSDxV27xMy86H4QTKyuMlaxjCCuObT\n\
ka7mA8JxjC/WxKL/vNLq/SfA9KPX7r00gTAjIWMKMdxJZZ3FhWLq\n\
-----END RSA PRIVATE KEY-----\n";

    const EC_CERT: &str = "\
-----BEGIN CERTIFICATE-----\n\
MIIBijCCATCgAwIBAgIUdwl8cEdG4B1hx9uuEXzGTmDFZFIwCgYIKoZIzj0EAwIw\n\
EjEQMA4GA1UEAwwHVW5pdCBDQTAgFw0yNjExMjcwNzE4MDNaGA8yMTI2MTEwMzA3\n\
MTgwM1owEjEQMA4GA1UEAwwHdW5pdC1lYzBZMBMGByqGSM49AgEGCCqGSM49AwEH\n\
A0IABICElzRo2zeOhtgyzvob1fFtjW5qQ/2ftlebhcGHZl1HFSpO7ZxH8PId3Xhd\n\
G9M534h0xPQpbptbCFScs2wXFrCjYjBgMAkGA1UdEwQCMAAwEwYDVR0lBAwwCgYI\n\
KwYBBQUHAwIwHQYDVR0OBBYEFDBjGh2rfT1ZxZ26SxBLaSqDtehAMB8GA1UdIwQY\n\
MBaAFBEN13FbVkEfJtrQTXbgPCMvG6fKMAoGCCqGSM49BAMCA0gAMEUCIQDxWtfn\n\
NSVGtrTPhwz9fOu8L2Q+eNrlufiFZym1F1DjAQIgf90ErPikoH3f/HfoOM6z1vhT\n\
0gSLcn7O/HUHZgksvPQ=\n\
-----END CERTIFICATE-----\n";

    const EC_SEC1_WITH_PARAMS: &str = "\
-----BEGIN EC PARAMETERS-----\n\
BggqhkjOPQMBBw==\n\
-----END EC PARAMETERS-----\n\
-----BEGIN EC PRIVATE KEY-----\n\
MHcCAQEEICJb06Q49K75KtKP3FoIcejy+NFSGS4yMku8cKZEHDHAoAoGCCqGSM49\n\
AwEHoUQDQgAEgISXNGjbN46G2DLO+hvV8W2NbmpD/Z+2V5uFwYdmXUcVKk7tnEfw\n\
8h3deF0b0znfiHTE9Clum1sIVJyzbBcWsA==\n\
-----END EC PRIVATE KEY-----\n";

    const EC_PKCS8: &str = "\
-----BEGIN PRIVATE KEY-----\n\
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgIlvTpDj0rvkq0o/c\n\
Wghx6PL40VIZLjIyS7xwpkQcMcChRANCAASAhJc0aNs3jobYMs76G9XxbY1uakP9\n\
n7ZXm4XBh2ZdRxUqTu2cR/DyHd14XRvTOd+IdMT0KW6bWwhUnLNsFxaw\n\
-----END PRIVATE KEY-----\n";

    const EC_P521_SEC1: &str = "\
-----BEGIN EC PRIVATE KEY-----\n\
MIHcAgEBBEIBXp37/xOlrn5WjZn0TnNlRTzDfYBLofp2DovxjolQ3u7HfVzh1ynI\n\
BAil74D+1+lCIwTCRRliDsVKqKOB3t8ZMYegBwYFK4EEACOhgYkDgYYABAG/fGFU\n\
NOMbVkwQvU91VTflm50ycI6MOQY6UXSiuX6LnpR+r8hPlBmyhw9a1ZpRBjpdUn5o\n\
W7gIRh1NBsdtlxR4ewDxfJ4zY1QD8TTAbuNQz4pRSYNcCtdO/O1MppaAvRN0FAW2\n\
4aFwOZqWlSzUoyfXPTIp5Tircxt1EZUmJQ9NjUJLNQ==\n\
-----END EC PRIVATE KEY-----\n";

    const EC_ENCRYPTED_PKCS8: &str = "\
-----BEGIN ENCRYPTED PRIVATE KEY-----\n\
MIHsMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAcBAhFGss77I3NywICCAAw\n\
DAYIKoZIhvcNAgkFADAdBglghkgBZQMEAQIEEJpl5MUgV7ZOvBr0VOxViSAEgZCw\n\
gbUG7xxoiEVjDGDQd9Yb2fRGUsP+xKnq7GVWLfWSX6VsosZqFs6mbH8o34RyFOBE\n\
0KY/ogUmGZOOhb2ksTEDPijHt1p/qkKYT/054lH2Zs4tWgqIFgqqqLUBFpyPN5+P\n\
qa39Fiy4GyW7ZyBQorKolEqeyGd2RMH9G5rvkGURHQs3Ov2KG921SEZQFWpzkcs=\n\
-----END ENCRYPTED PRIVATE KEY-----\n";
}
