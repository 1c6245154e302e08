//! Mutual TLS with a private key that stays in a PKCS#11 token (an HSM, a smart card,
//! SoftHSM2): a producer of a [`KeySigner`].
//!
//! When the connection is created, the module is loaded and initialized (once per process and
//! path: a PKCS#11 module is meant to have one context per application), the slot found (by id
//! or token label), a session opened and the user logged in with the PIN, and the private key
//! found by its label (and id). Its type picks the TLS schemes it can sign with. Every
//! handshake then signs through that session on the library's network thread; a session that
//! fails (token removed) fails that handshake, and the next one opens a new session.
//!
//! The message is hashed here (ring) and signed with the token's raw mechanisms (`CKM_RSA_PKCS`
//! over a DigestInfo, `CKM_RSA_PKCS_PSS` over the digest, `CKM_ECDSA` over the digest): those
//! are the ones tokens implement most widely. ECDSA comes back as raw `r || s` and is re-encoded
//! as the DER TLS wants.
//!
//! Validation of the settings is pure Rust and always built; opening a token needs the cargo
//! feature `pkcs11`.

use crate::error::{jobs_result, Error, Result};
use rustls::SignatureScheme;
use std::fmt;
use std::path::PathBuf;
use zeroize::Zeroizing;

/// True when this build can open PKCS#11 tokens (the cargo feature `pkcs11`).
pub const PKCS11_BUILT: bool = cfg!(feature = "pkcs11");
/// The longest module path accepted, in bytes (PATH_MAX on Linux).
pub const MODULE_PATH_MAX: usize = 4096;
/// The longest token or key label accepted, in bytes: a token label is 32 bytes in PKCS#11.
pub const LABEL_MAX: usize = 32;
/// The longest user PIN accepted, in bytes.
pub const PIN_MAX: usize = 255;
/// The longest key id (`CKA_ID`) accepted, in bytes.
pub const KEY_ID_MAX: usize = 255;

/// Which token to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSelector {
    /// The token in the slot with this id.
    SlotId(u64),
    /// The token with this label.
    Label(String),
}

/// Where the private key is and how to log in to it. The PIN is wiped when dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct Pkcs11Settings {
    /// The PKCS#11 module (shared library) to load.
    pub module_path: PathBuf,
    pub token: TokenSelector,
    pub user_pin: Zeroizing<String>,
    /// The private key's `CKA_LABEL`.
    pub key_label: String,
    /// The private key's `CKA_ID`, when several keys share a label.
    pub key_id: Option<Vec<u8>>,
}

impl fmt::Debug for Pkcs11Settings {
    // Never print the PIN: Debug output ends up in logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pkcs11Settings")
            .field("module_path", &self.module_path)
            .field("token", &self.token)
            .field("user_pin", &"<redacted>")
            .field("key_label", &self.key_label)
            .field("key_id", &self.key_id)
            .finish()
    }
}

fn invalid(msg: impl Into<String>) -> Error {
    Error::new(jobs_result::InvalidArgument, msg)
}

fn check_len(what: &str, value: &[u8], max: usize) -> Result<()> {
    if value.is_empty() {
        return Err(invalid(format!("PKCS#11 {what} is empty")));
    }
    if value.len() > max {
        return Err(invalid(format!(
            "PKCS#11 {what} is {} bytes: at most {max}",
            value.len()
        )));
    }
    Ok(())
}

impl Pkcs11Settings {
    /// Checks and copies the settings: a module path (1 to [`MODULE_PATH_MAX`] bytes), exactly
    /// one of a slot id and a token label (1 to [`LABEL_MAX`] bytes), a PIN (1 to [`PIN_MAX`]),
    /// a key label (1 to [`LABEL_MAX`]) and an optional key id (1 to [`KEY_ID_MAX`]; empty is
    /// none). All `InvalidArgument`, as is a build without the cargo feature `pkcs11`.
    pub fn new(
        module_path: &str,
        slot_id: Option<u64>,
        token_label: Option<&str>,
        user_pin: &str,
        key_label: &str,
        key_id: Option<&[u8]>,
    ) -> Result<Pkcs11Settings> {
        if !PKCS11_BUILT {
            return Err(invalid(
                "PKCS#11 keys: this build of iotjobs cannot open PKCS#11 tokens (built without the cargo feature `pkcs11`)",
            ));
        }
        check_len("module path", module_path.as_bytes(), MODULE_PATH_MAX)?;
        let token = match (slot_id, token_label) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "PKCS#11: give a slot id or a token label, not both",
                ))
            }
            (None, None) => {
                return Err(invalid(
                    "PKCS#11: no token chosen: give a slot id or a token label",
                ))
            }
            (Some(id), None) => TokenSelector::SlotId(id),
            (None, Some(label)) => {
                check_len("token label", label.as_bytes(), LABEL_MAX)?;
                TokenSelector::Label(label.to_owned())
            }
        };
        check_len("user PIN", user_pin.as_bytes(), PIN_MAX)?;
        check_len("key label", key_label.as_bytes(), LABEL_MAX)?;
        let key_id = key_id.filter(|id| !id.is_empty());
        if let Some(id) = key_id {
            check_len("key id", id, KEY_ID_MAX)?;
        }
        Ok(Pkcs11Settings {
            module_path: PathBuf::from(module_path),
            token,
            user_pin: Zeroizing::new(user_pin.to_owned()),
            key_label: key_label.to_owned(),
            key_id: key_id.map(<[u8]>::to_vec),
        })
    }

    #[cfg_attr(not(feature = "pkcs11"), allow(dead_code))]
    /// "token \"LABEL\"" or "the token in slot N", for messages.
    fn describe_token(&self) -> String {
        match &self.token {
            TokenSelector::SlotId(id) => format!("the token in slot {id}"),
            TokenSelector::Label(l) => format!("token \"{l}\""),
        }
    }

    #[cfg_attr(not(feature = "pkcs11"), allow(dead_code))]
    /// "key \"LABEL\"" (with its id in hex when one was given), for messages.
    fn describe_key(&self) -> String {
        match &self.key_id {
            None => format!("private key labelled \"{}\"", self.key_label),
            Some(id) => format!(
                "private key labelled \"{}\" with id {}",
                self.key_label,
                id.iter().map(|b| format!("{b:02x}")).collect::<String>()
            ),
        }
    }
}

/// The key types signed for, each with what TLS calls it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Rsa,
    EcP256,
    EcP384,
    EcP521,
}

/// The schemes a key can sign with, in order of preference: for RSA, PSS first (TLS 1.3 signs
/// with nothing else) then PKCS#1 v1.5 for TLS 1.2 servers; for EC, the one scheme of its curve.
/// `pss` and `pkcs1` say whether the token has `CKM_RSA_PKCS_PSS` and `CKM_RSA_PKCS`.
pub fn schemes_for(kind: KeyKind, pss: bool, pkcs1: bool) -> Vec<SignatureScheme> {
    use SignatureScheme as S;
    match kind {
        KeyKind::Rsa => {
            let mut v = Vec::new();
            if pss {
                v.extend([S::RSA_PSS_SHA256, S::RSA_PSS_SHA384, S::RSA_PSS_SHA512]);
            }
            if pkcs1 {
                v.extend([
                    S::RSA_PKCS1_SHA256,
                    S::RSA_PKCS1_SHA384,
                    S::RSA_PKCS1_SHA512,
                ]);
            }
            v
        }
        KeyKind::EcP256 => vec![S::ECDSA_NISTP256_SHA256],
        KeyKind::EcP384 => vec![S::ECDSA_NISTP384_SHA384],
        KeyKind::EcP521 => vec![S::ECDSA_NISTP521_SHA512],
    }
}

/// The curve of an EC key from its `CKA_EC_PARAMS` (a DER OBJECT IDENTIFIER of a named curve),
/// or `None` for another curve or explicit parameters.
pub fn curve_from_ec_params(params: &[u8]) -> Option<KeyKind> {
    const P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    const P384: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
    const P521: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23];
    match params {
        P256 => Some(KeyKind::EcP256),
        P384 => Some(KeyKind::EcP384),
        P521 => Some(KeyKind::EcP521),
        _ => None,
    }
}

#[cfg_attr(not(feature = "pkcs11"), allow(dead_code))]
/// The byte length of `r` and of `s` in a raw ECDSA signature of the curve.
fn ec_scalar_len(kind: KeyKind) -> Option<usize> {
    match kind {
        KeyKind::EcP256 => Some(32),
        KeyKind::EcP384 => Some(48),
        KeyKind::EcP521 => Some(66),
        KeyKind::Rsa => None,
    }
}

fn der_len(n: usize, out: &mut Vec<u8>) {
    if n < 0x80 {
        out.push(n as u8);
    } else if n < 0x100 {
        out.extend([0x81, n as u8]);
    } else {
        out.extend([0x82, (n >> 8) as u8, n as u8]);
    }
}

fn der_uint(bytes: &[u8], out: &mut Vec<u8>) {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    let digits = if start == bytes.len() {
        &[0u8][..]
    } else {
        &bytes[start..]
    };
    // A leading zero keeps a high bit from reading as a negative number.
    let pad = digits[0] & 0x80 != 0;
    out.push(0x02);
    der_len(digits.len() + usize::from(pad), out);
    if pad {
        out.push(0);
    }
    out.extend_from_slice(digits);
}

/// Re-encodes a PKCS#11 ECDSA signature (`r || s`, each half the length) as the DER
/// `SEQUENCE { INTEGER r, INTEGER s }` TLS carries; `None` for an empty or odd length.
pub fn ecdsa_raw_to_der(raw: &[u8]) -> Option<Vec<u8>> {
    if raw.is_empty() || raw.len() % 2 != 0 {
        return None;
    }
    let (r, s) = raw.split_at(raw.len() / 2);
    let mut body = Vec::with_capacity(raw.len() + 8);
    der_uint(r, &mut body);
    der_uint(s, &mut body);
    let mut out = Vec::with_capacity(body.len() + 4);
    out.push(0x30);
    der_len(body.len(), &mut out);
    out.extend(body);
    Some(out)
}

/// What a scheme asks of the token: the hash, and how the digest is signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signing {
    /// `CKM_RSA_PKCS` over DigestInfo || digest.
    RsaPkcs1(Hash),
    /// `CKM_RSA_PKCS_PSS` over the digest, MGF1 with the same hash, salt of the hash's length.
    RsaPss(Hash),
    /// `CKM_ECDSA` over the digest, the raw signature re-encoded as DER.
    Ecdsa(Hash),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hash {
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    fn digest(self, message: &[u8]) -> ring::digest::Digest {
        let alg = match self {
            Hash::Sha256 => &ring::digest::SHA256,
            Hash::Sha384 => &ring::digest::SHA384,
            Hash::Sha512 => &ring::digest::SHA512,
        };
        ring::digest::digest(alg, message)
    }

    /// The DER DigestInfo header PKCS#1 v1.5 puts before the digest (RFC 8017, 9.2 note 1).
    fn digest_info_prefix(self) -> &'static [u8] {
        match self {
            Hash::Sha256 => &[
                0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x01, 0x05, 0x00, 0x04, 0x20,
            ],
            Hash::Sha384 => &[
                0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x02, 0x05, 0x00, 0x04, 0x30,
            ],
            Hash::Sha512 => &[
                0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x03, 0x05, 0x00, 0x04, 0x40,
            ],
        }
    }
}

/// How to sign for `scheme`, or `None` for a scheme no key here signs with.
pub fn signing_for(scheme: SignatureScheme) -> Option<Signing> {
    use SignatureScheme as S;
    Some(match scheme {
        S::RSA_PKCS1_SHA256 => Signing::RsaPkcs1(Hash::Sha256),
        S::RSA_PKCS1_SHA384 => Signing::RsaPkcs1(Hash::Sha384),
        S::RSA_PKCS1_SHA512 => Signing::RsaPkcs1(Hash::Sha512),
        S::RSA_PSS_SHA256 => Signing::RsaPss(Hash::Sha256),
        S::RSA_PSS_SHA384 => Signing::RsaPss(Hash::Sha384),
        S::RSA_PSS_SHA512 => Signing::RsaPss(Hash::Sha512),
        S::ECDSA_NISTP256_SHA256 => Signing::Ecdsa(Hash::Sha256),
        S::ECDSA_NISTP384_SHA384 => Signing::Ecdsa(Hash::Sha384),
        S::ECDSA_NISTP521_SHA512 => Signing::Ecdsa(Hash::Sha512),
        _ => return None,
    })
}

/// The bytes handed to the token for `signing`: the digest, behind a DigestInfo for PKCS#1.
pub fn token_input(signing: Signing, message: &[u8]) -> Vec<u8> {
    match signing {
        Signing::RsaPkcs1(h) => {
            let d = h.digest(message);
            let mut v = h.digest_info_prefix().to_vec();
            v.extend_from_slice(d.as_ref());
            v
        }
        Signing::RsaPss(h) | Signing::Ecdsa(h) => h.digest(message).as_ref().to_vec(),
    }
}

/// A DER certificate as a PEM `CERTIFICATE` block (base64, 64 characters a line).
pub fn certificate_pem(der: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b64 = String::with_capacity(der.len().div_ceil(3) * 4);
    for chunk in der.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= chunk.len() {
                b64.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                b64.push('=');
            }
        }
    }
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    pem
}

#[cfg(feature = "pkcs11")]
pub use token::open;

#[cfg(feature = "pkcs11")]
mod token {
    use super::*;
    use crate::mqtt::tls::{KeySigner, TlsError, TlsErrorKind};
    use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
    use cryptoki::error::{Error as CkError, RvError};
    use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsPssParams};
    use cryptoki::mechanism::{Mechanism, MechanismType};
    use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
    use cryptoki::session::{Session, UserType};
    use cryptoki::slot::Slot;
    use cryptoki::types::AuthPin;
    use std::path::Path;
    use std::sync::{Arc, Mutex};

    fn error(message: String) -> TlsError {
        TlsError::new(TlsErrorKind::Pkcs11, message)
    }

    /// The loaded and initialized modules, one context per path for the life of the process:
    /// finalizing a module would end the sessions of every other user of it in the process.
    static CONTEXTS: Mutex<Vec<(PathBuf, Pkcs11)>> = Mutex::new(Vec::new());

    fn context(path: &Path) -> std::result::Result<Pkcs11, TlsError> {
        let shown = path.display();
        match std::fs::metadata(path) {
            Err(e) => {
                return Err(error(format!(
                    "PKCS#11 module {shown}: cannot be opened ({e})"
                )))
            }
            Ok(m) if !m.is_file() => {
                return Err(error(format!("PKCS#11 module {shown}: not a regular file")))
            }
            Ok(_) => {}
        }
        let key = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
        let mut contexts = CONTEXTS.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, ctx)) = contexts.iter().find(|(p, _)| *p == key) {
            return Ok(ctx.clone());
        }
        let ctx = Pkcs11::new(&key).map_err(|e| {
            let why = match e {
                CkError::MissingSymbol(_) => {
                    "not a PKCS#11 module: it has no C_GetFunctionList".to_owned()
                }
                CkError::LibraryLoading(e) => {
                    format!("not a PKCS#11 module: it cannot be loaded as a shared library ({e})")
                }
                e => format!("not a usable PKCS#11 module ({e})"),
            };
            error(format!("PKCS#11 module {shown}: {why}"))
        })?;
        match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
            // Another part of the process initialized it: that is the context we share.
            Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
            Err(e) => {
                return Err(error(format!(
                    "PKCS#11 module {shown}: initialization failed ({e})"
                )))
            }
        }
        contexts.push((key, ctx.clone()));
        Ok(ctx)
    }

    fn find_slot(ctx: &Pkcs11, s: &Pkcs11Settings) -> std::result::Result<Slot, TlsError> {
        let slots = ctx
            .get_slots_with_token()
            .map_err(|e| error(format!("PKCS#11: cannot list the slots ({e})")))?;
        match &s.token {
            TokenSelector::SlotId(id) => slots
                .iter()
                .find(|sl| sl.id() == *id)
                .copied()
                .ok_or_else(|| {
                    let ids: Vec<String> = slots.iter().map(|sl| sl.id().to_string()).collect();
                    error(format!(
                        "PKCS#11: no slot {id} with a token (slots with a token: {})",
                        if ids.is_empty() {
                            "none".to_owned()
                        } else {
                            ids.join(", ")
                        }
                    ))
                }),
            TokenSelector::Label(label) => {
                let mut seen = Vec::new();
                for slot in &slots {
                    if let Ok(info) = ctx.get_token_info(*slot) {
                        if info.label().trim_end() == label {
                            return Ok(*slot);
                        }
                        seen.push(format!("\"{}\"", info.label().trim_end()));
                    }
                }
                Err(error(format!(
                    "PKCS#11: no token labelled \"{label}\" (tokens present: {})",
                    if seen.is_empty() {
                        "none".to_owned()
                    } else {
                        seen.join(", ")
                    }
                )))
            }
        }
    }

    /// An open, logged-in session and the key's handle in it.
    struct Live {
        session: Session,
        key: ObjectHandle,
    }

    /// Opens a session on the token, logs in and finds the key: the session, the key and its kind.
    fn login(
        ctx: &Pkcs11,
        s: &Pkcs11Settings,
    ) -> std::result::Result<(Live, KeyKind, Slot), TlsError> {
        let slot = find_slot(ctx, s)?;
        let token = s.describe_token();
        let session = ctx
            .open_ro_session(slot)
            .map_err(|e| error(format!("PKCS#11: cannot open a session on {token} ({e})")))?;
        // Built at its final size, so no unwiped partial copy of the PIN is left behind.
        let mut pin = String::with_capacity(s.user_pin.len());
        pin.push_str(&s.user_pin);
        let pin = AuthPin::from(pin);
        match session.login(UserType::User, Some(&pin)) {
            // Logging in is per application, not per session: a second session is already in.
            Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
            Err(CkError::Pkcs11(rv, _)) => {
                let why = match rv {
                    RvError::PinIncorrect => "the PIN is incorrect".to_owned(),
                    RvError::PinLocked => "the PIN is locked".to_owned(),
                    RvError::PinExpired => "the PIN has expired".to_owned(),
                    RvError::PinLenRange => "the PIN has a length the token refuses".to_owned(),
                    rv => format!("{rv}"),
                };
                return Err(error(format!("PKCS#11: login to {token} failed: {why}")));
            }
            Err(e) => return Err(error(format!("PKCS#11: login to {token} failed: {e}"))),
        }
        let key_name = s.describe_key();
        let mut template = vec![
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::Label(s.key_label.as_bytes().to_vec()),
        ];
        if let Some(id) = &s.key_id {
            template.push(Attribute::Id(id.clone()));
        }
        let keys = session
            .find_objects(&template)
            .map_err(|e| error(format!("PKCS#11: cannot search {token} ({e})")))?;
        let key = match keys.as_slice() {
            [] => return Err(error(format!("PKCS#11: no {key_name} on {token}"))),
            [key] => *key,
            more => {
                return Err(error(format!(
                    "PKCS#11: {} keys match the {key_name} on {token}: give the key id",
                    more.len()
                )))
            }
        };
        let kind = key_kind(&session, key)
            .map_err(|why| error(format!("PKCS#11: the {key_name} on {token}: {why}")))?;
        Ok((Live { session, key }, kind, slot))
    }

    fn key_kind(session: &Session, key: ObjectHandle) -> std::result::Result<KeyKind, String> {
        let attrs = session
            .get_attributes(key, &[AttributeType::KeyType])
            .map_err(|e| format!("cannot read its type ({e})"))?;
        let Some(Attribute::KeyType(kt)) = attrs.first() else {
            return Err("the token does not say its type".into());
        };
        if *kt == KeyType::RSA {
            return Ok(KeyKind::Rsa);
        }
        if *kt != KeyType::EC {
            return Err(format!(
                "unsupported key type {kt}: only RSA and EC (P-256, P-384, P-521) keys are supported"
            ));
        }
        let attrs = session
            .get_attributes(key, &[AttributeType::EcParams])
            .map_err(|e| format!("cannot read its curve ({e})"))?;
        let Some(Attribute::EcParams(params)) = attrs.first() else {
            return Err("the token does not say its curve".into());
        };
        curve_from_ec_params(params).ok_or_else(|| {
            "unsupported EC curve: only P-256, P-384 and P-521 are supported".to_owned()
        })
    }

    struct Token {
        settings: Pkcs11Settings,
        ctx: Pkcs11,
        kind: KeyKind,
        /// `None` after a failure: the next signature opens a new session.
        live: Mutex<Option<Live>>,
    }

    impl Token {
        fn sign(
            &self,
            scheme: SignatureScheme,
            message: &[u8],
        ) -> std::result::Result<Vec<u8>, String> {
            let signing = signing_for(scheme)
                .ok_or_else(|| format!("PKCS#11: no way to sign with {scheme:?}"))?;
            let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
            if live.is_none() {
                let (l, kind, _) = login(&self.ctx, &self.settings).map_err(|e| e.to_string())?;
                if kind != self.kind {
                    return Err(format!(
                        "PKCS#11: the {} is now a {kind:?} key, it was {:?}",
                        self.settings.describe_key(),
                        self.kind
                    ));
                }
                *live = Some(l);
            }
            let l = live.as_ref().expect("set above");
            let mechanism = match signing {
                Signing::RsaPkcs1(_) => Mechanism::RsaPkcs,
                Signing::RsaPss(h) => {
                    let (hash_alg, mgf, len) = match h {
                        Hash::Sha256 => (MechanismType::SHA256, PkcsMgfType::MGF1_SHA256, 32u64),
                        Hash::Sha384 => (MechanismType::SHA384, PkcsMgfType::MGF1_SHA384, 48),
                        Hash::Sha512 => (MechanismType::SHA512, PkcsMgfType::MGF1_SHA512, 64),
                    };
                    Mechanism::RsaPkcsPss(PkcsPssParams {
                        hash_alg,
                        mgf,
                        s_len: len.into(),
                    })
                }
                Signing::Ecdsa(_) => Mechanism::Ecdsa,
            };
            let input = token_input(signing, message);
            match l.session.sign(&mechanism, l.key, &input) {
                Ok(sig) => match signing {
                    Signing::Ecdsa(_) => {
                        let want = ec_scalar_len(self.kind).unwrap_or(0) * 2;
                        if sig.len() != want {
                            return Err(format!(
                                "PKCS#11: the token's ECDSA signature is {} bytes, expected {want}",
                                sig.len()
                            ));
                        }
                        ecdsa_raw_to_der(&sig)
                            .ok_or_else(|| "PKCS#11: empty ECDSA signature".to_owned())
                    }
                    _ => Ok(sig),
                },
                Err(e) => {
                    // The session may be gone (token removed, module reset): start afresh next time.
                    *live = None;
                    Err(format!(
                        "PKCS#11: signing with the {} failed ({e})",
                        self.settings.describe_key()
                    ))
                }
            }
        }
    }

    /// Opens the token and logs in (blocking on the token): a key signer for the key and, when
    /// `with_certificate`, the DER of the certificate object that has the key's label (and
    /// id), if there is one; or a message saying which step failed.
    pub fn open(
        settings: &Pkcs11Settings,
        with_certificate: bool,
    ) -> std::result::Result<(KeySigner, Option<Vec<u8>>), TlsError> {
        let ctx = context(&settings.module_path)?;
        let (live, kind, slot) = login(&ctx, settings)?;
        let certificate = if with_certificate {
            find_certificate(&live.session, settings)?
        } else {
            None
        };
        // A token that cannot list its mechanisms is taken to have them: signing will tell.
        let mechanisms = ctx.get_mechanism_list(slot).ok();
        let has = |m: MechanismType| mechanisms.as_ref().is_none_or(|l| l.contains(&m));
        let schemes = schemes_for(
            kind,
            has(MechanismType::RSA_PKCS_PSS),
            has(MechanismType::RSA_PKCS),
        );
        let needed = if kind == KeyKind::Rsa {
            "CKM_RSA_PKCS_PSS or CKM_RSA_PKCS"
        } else {
            "CKM_ECDSA"
        };
        if schemes.is_empty() || (kind != KeyKind::Rsa && !has(MechanismType::ECDSA)) {
            return Err(error(format!(
                "PKCS#11: {} cannot sign with {needed}",
                settings.describe_token()
            )));
        }
        let token = Arc::new(Token {
            settings: settings.clone(),
            ctx,
            kind,
            live: Mutex::new(Some(live)),
        });
        let signer = KeySigner {
            schemes,
            sign: Arc::new(move |scheme, message| token.sign(scheme, message)),
        };
        Ok((signer, certificate))
    }

    fn find_certificate(
        session: &Session,
        s: &Pkcs11Settings,
    ) -> std::result::Result<Option<Vec<u8>>, TlsError> {
        let mut template = vec![
            Attribute::Class(ObjectClass::CERTIFICATE),
            Attribute::Label(s.key_label.as_bytes().to_vec()),
        ];
        if let Some(id) = &s.key_id {
            template.push(Attribute::Id(id.clone()));
        }
        let token = s.describe_token();
        let found = session
            .find_objects(&template)
            .map_err(|e| error(format!("PKCS#11: cannot search {token} ({e})")))?;
        let Some(cert) = found.first() else {
            return Ok(None);
        };
        let attrs = session
            .get_attributes(*cert, &[AttributeType::Value])
            .map_err(|e| {
                error(format!(
                    "PKCS#11: cannot read the certificate labelled \"{}\" on {token} ({e})",
                    s.key_label
                ))
            })?;
        match attrs.into_iter().next() {
            Some(Attribute::Value(der)) if !der.is_empty() => Ok(Some(der)),
            _ => Err(error(format!(
                "PKCS#11: the certificate labelled \"{}\" on {token} has no value",
                s.key_label
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use SignatureScheme as S;

    fn settings(
        path: &str,
        slot: Option<u64>,
        label: Option<&str>,
        pin: &str,
        key: &str,
        id: Option<&[u8]>,
    ) -> Result<Pkcs11Settings> {
        Pkcs11Settings::new(path, slot, label, pin, key, id)
    }

    #[test]
    fn raw_ecdsa_becomes_der() {
        // High bits set: a zero byte keeps each integer positive.
        let mut raw = vec![0x80; 32];
        raw.extend(vec![0x01; 32]);
        let der = ecdsa_raw_to_der(&raw).unwrap();
        assert_eq!(&der[..5], &[0x30, 0x45, 0x02, 0x21, 0x00]);
        assert_eq!(&der[5..37], &[0x80; 32][..]);
        assert_eq!(&der[37..39], &[0x02, 0x20]);
        assert_eq!(der.len(), 71);
        // Leading zeros are dropped, a zero integer is one zero byte.
        let mut raw = vec![0u8; 31];
        raw.push(0x05);
        raw.extend(vec![0u8; 32]);
        assert_eq!(
            ecdsa_raw_to_der(&raw).unwrap(),
            vec![0x30, 0x06, 0x02, 0x01, 0x05, 0x02, 0x01, 0x00]
        );
        // P-521: 132 bytes of r||s, a long-form length.
        let der = ecdsa_raw_to_der(&[0xff; 132]).unwrap();
        assert_eq!(&der[..3], &[0x30, 0x81, 138]);
        assert_eq!(ecdsa_raw_to_der(&[]), None);
        assert_eq!(ecdsa_raw_to_der(&[1, 2, 3]), None);
    }

    #[test]
    fn der_from_raw_is_what_ring_verifies() {
        use ring::rand::SystemRandom;
        use ring::signature::{self, EcdsaKeyPair, KeyPair};
        let rng = SystemRandom::new();
        let fixed = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(fixed, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(fixed, pkcs8.as_ref(), &rng).unwrap();
        for i in 0..20u8 {
            let msg = [i; 40];
            let raw = pair.sign(&rng, &msg).unwrap();
            let der = ecdsa_raw_to_der(raw.as_ref()).unwrap();
            signature::UnparsedPublicKey::new(
                &signature::ECDSA_P256_SHA256_ASN1,
                pair.public_key().as_ref(),
            )
            .verify(&msg, &der)
            .unwrap();
        }
    }

    #[test]
    fn schemes_follow_the_key_and_the_token_mechanisms() {
        assert_eq!(
            schemes_for(KeyKind::Rsa, true, true),
            vec![
                S::RSA_PSS_SHA256,
                S::RSA_PSS_SHA384,
                S::RSA_PSS_SHA512,
                S::RSA_PKCS1_SHA256,
                S::RSA_PKCS1_SHA384,
                S::RSA_PKCS1_SHA512
            ]
        );
        assert_eq!(
            schemes_for(KeyKind::Rsa, false, true),
            vec![
                S::RSA_PKCS1_SHA256,
                S::RSA_PKCS1_SHA384,
                S::RSA_PKCS1_SHA512
            ]
        );
        assert!(schemes_for(KeyKind::Rsa, false, false).is_empty());
        assert_eq!(
            schemes_for(KeyKind::EcP256, true, true),
            vec![S::ECDSA_NISTP256_SHA256]
        );
        assert_eq!(
            u16::from(schemes_for(KeyKind::EcP256, false, false)[0]),
            0x0403
        );
        assert_eq!(
            u16::from(schemes_for(KeyKind::EcP384, false, false)[0]),
            0x0503
        );
        for kind in [
            KeyKind::Rsa,
            KeyKind::EcP256,
            KeyKind::EcP384,
            KeyKind::EcP521,
        ] {
            for s in schemes_for(kind, true, true) {
                assert!(signing_for(s).is_some(), "{s:?}");
            }
        }
        assert_eq!(signing_for(S::ED25519), None);
    }

    #[test]
    fn curves_from_ec_params() {
        let p256 = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
        assert_eq!(curve_from_ec_params(&p256), Some(KeyKind::EcP256));
        let p384 = [0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
        assert_eq!(curve_from_ec_params(&p384), Some(KeyKind::EcP384));
        // secp256k1 and garbage are not signed for.
        let k1 = [0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a];
        assert_eq!(curve_from_ec_params(&k1), None);
        assert_eq!(curve_from_ec_params(&[]), None);
    }

    #[test]
    fn pkcs1_input_is_a_digest_info() {
        let input = token_input(Signing::RsaPkcs1(Hash::Sha256), b"abc");
        assert_eq!(input.len(), 19 + 32);
        // SHA-256("abc") starts ba7816bf.
        assert_eq!(&input[19..23], &[0xba, 0x78, 0x16, 0xbf]);
        assert_eq!(input[0], 0x30);
        assert_eq!(token_input(Signing::RsaPss(Hash::Sha384), b"abc").len(), 48);
        assert_eq!(token_input(Signing::Ecdsa(Hash::Sha512), b"abc").len(), 64);
        // The DigestInfo lengths agree with their digests.
        for h in [Hash::Sha256, Hash::Sha384, Hash::Sha512] {
            let p = h.digest_info_prefix();
            let d = h.digest(b"").as_ref().len();
            assert_eq!(p[1] as usize, p.len() - 2 + d);
            assert_eq!(p[p.len() - 1] as usize, d);
        }
    }

    #[test]
    fn settings_are_checked() {
        if !PKCS11_BUILT {
            let e = settings("/m.so", Some(0), None, "1234", "k", None).unwrap_err();
            assert_eq!(e.code, jobs_result::InvalidArgument);
            assert!(e.message.contains("cargo feature `pkcs11`"), "{e}");
            return;
        }
        let ok = settings("/m.so", None, Some("iotjobs"), "1234", "thing", Some(&[1])).unwrap();
        assert_eq!(ok.token, TokenSelector::Label("iotjobs".into()));
        assert_eq!(ok.key_id, Some(vec![1]));
        let ok = settings("/m.so", Some(7), None, "1234", "thing", Some(&[])).unwrap();
        assert_eq!((ok.token, ok.key_id), (TokenSelector::SlotId(7), None));
        let cases: [(Result<Pkcs11Settings>, &str); 9] = [
            (
                settings("", Some(0), None, "1", "k", None),
                "module path is empty",
            ),
            (
                settings(&"m".repeat(4097), Some(0), None, "1", "k", None),
                "module path is 4097 bytes: at most 4096",
            ),
            (
                settings("/m", None, None, "1", "k", None),
                "no token chosen",
            ),
            (
                settings("/m", Some(0), Some("t"), "1", "k", None),
                "not both",
            ),
            (
                settings("/m", None, Some(""), "1", "k", None),
                "token label is empty",
            ),
            (
                settings("/m", None, Some(&"t".repeat(33)), "1", "k", None),
                "token label is 33 bytes: at most 32",
            ),
            (
                settings("/m", Some(0), None, "", "k", None),
                "user PIN is empty",
            ),
            (
                settings("/m", Some(0), None, &"1".repeat(256), "k", None),
                "user PIN is 256 bytes: at most 255",
            ),
            (
                settings("/m", Some(0), None, "1", "", None),
                "key label is empty",
            ),
        ];
        for (got, want) in cases {
            let e = got.unwrap_err();
            assert_eq!(e.code, jobs_result::InvalidArgument, "{e}");
            assert!(e.message.contains(want), "{e} / {want}");
        }
        let e = settings("/m", Some(0), None, "1", "k", Some(&[0; 256])).unwrap_err();
        assert!(e.message.contains("key id is 256 bytes"), "{e}");
        let long_pin = "9".repeat(255);
        assert!(settings("/m", Some(0), None, &long_pin, &"k".repeat(32), None).is_ok());
    }

    #[test]
    fn a_der_certificate_becomes_pem_that_parses_back() {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::CertificateDer;
        for len in [1usize, 2, 3, 4, 47, 48, 49, 100, 1000] {
            let der: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            let pem = certificate_pem(&der);
            assert!(pem.lines().all(|l| l.len() <= 64), "{pem}");
            let back: Vec<_> = CertificateDer::pem_slice_iter(pem.as_bytes())
                .collect::<std::result::Result<_, _>>()
                .unwrap();
            assert_eq!(back.len(), 1);
            assert_eq!(back[0].as_ref(), &der[..], "{len}");
        }
        assert!(certificate_pem(b"abc").contains("\nYWJj\n"));
    }

    #[test]
    fn debug_hides_the_pin() {
        let s = Pkcs11Settings {
            module_path: "/m.so".into(),
            token: TokenSelector::SlotId(0),
            user_pin: Zeroizing::new("s3cr3t-pin".into()),
            key_label: "k".into(),
            key_id: None,
        };
        let d = format!("{s:?}");
        assert!(!d.contains("s3cr3t"), "{d}");
        assert!(d.contains("redacted"), "{d}");
    }
}
