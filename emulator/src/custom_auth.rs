//! AWS IoT custom authorizers, as the emulator checks them.
//!
//! MQTT over TLS: a connection without a client certificate that negotiated ALPN `mqtt` must
//! carry the authorizer in its CONNECT username, `USER?x-amz-customauthorizer-name=NAME&
//! x-amz-customauthorizer-signature=SIG&KEY=TOKEN` (values URL-encoded). An unknown name, a
//! missing token or a signature that does not verify, or a "no" from the decision, is answered
//! with CONNACK 5 (not authorized). MQTT over WebSocket: the same values as upgrade headers or
//! query parameters; an unknown name, a missing token or a bad signature is refused at the
//! upgrade with HTTP 401, and the decision (which also sees the CONNECT username and
//! password) is taken at CONNECT, refusing with CONNACK 5. Every check is recorded
//! ([`crate::Emulator::auth_records`]).

use base64::Engine as _;
use std::fmt;
use std::sync::Arc;

/// The query/header name that picks the authorizer.
pub const NAME_PARAM: &str = "x-amz-customauthorizer-name";
/// The query/header name of the token signature.
pub const SIGNATURE_PARAM: &str = "x-amz-customauthorizer-signature";

/// What the authorizer's decision sees (what AWS hands the authorizer's Lambda).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthRequest {
    /// The token (under the configured token key name), if one was sent.
    pub token: Option<String>,
    /// The CONNECT username without the authorizer query (`None`: no username; over TLS an
    /// empty part before `?` is `Some("")`).
    pub username: Option<String>,
    /// The CONNECT password, raw.
    pub password: Option<Vec<u8>>,
    /// The CONNECT client id.
    pub client_id: String,
}

/// The authorizer's allow/deny function.
pub type Decide = dyn Fn(&AuthRequest) -> bool + Send + Sync;

/// One custom authorizer (`EmulatorConfig::custom_authorizer`).
#[derive(Clone)]
pub struct CustomAuthorizerConfig {
    /// The authorizer's name (`x-amz-customauthorizer-name`).
    pub name: String,
    /// The name the token is sent under.
    pub token_key_name: String,
    /// The RSA public key that verifies token signatures: PEM or DER, SubjectPublicKeyInfo
    /// (`PUBLIC KEY`) or PKCS#1 (`RSA PUBLIC KEY`). Needed when `signing` is on.
    pub public_key: Option<Vec<u8>>,
    /// Signing enabled: a token and a valid RSA SHA-256 signature of it are required.
    pub signing: bool,
    /// The decision, once the name and signature check out.
    pub decide: Arc<Decide>,
}

impl fmt::Debug for CustomAuthorizerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CustomAuthorizerConfig")
            .field("name", &self.name)
            .field("token_key_name", &self.token_key_name)
            .field("signing", &self.signing)
            .finish_non_exhaustive()
    }
}

impl CustomAuthorizerConfig {
    /// An authorizer with signing on that allows exactly the tokens in `allowed`.
    pub fn allowing_tokens(
        name: &str,
        token_key_name: &str,
        public_key: Vec<u8>,
        allowed: &[&str],
    ) -> CustomAuthorizerConfig {
        let allowed: Vec<String> = allowed.iter().map(|s| s.to_string()).collect();
        CustomAuthorizerConfig {
            name: name.into(),
            token_key_name: token_key_name.into(),
            public_key: Some(public_key),
            signing: true,
            decide: Arc::new(move |r: &AuthRequest| {
                r.token.as_ref().is_some_and(|t| allowed.contains(t))
            }),
        }
    }
}

/// Where the authorizer values arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthVia {
    /// In the CONNECT username over TLS (ALPN `mqtt`).
    MqttUsername,
    /// As headers of the WebSocket upgrade.
    Headers,
    /// As query parameters of the WebSocket upgrade.
    Query,
}

/// One authorizer check, for tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthRecord {
    pub via: AuthVia,
    /// The ALPN protocol the TLS connection negotiated (None for plain WebSocket).
    pub alpn: Option<String>,
    /// The authorizer name asked for.
    pub authorizer_name: Option<String>,
    /// The raw signature text received.
    pub signature: Option<String>,
    /// What the decision saw (the client id is empty for checks made at a WebSocket upgrade).
    pub request: AuthRequest,
    /// `Ok(())` allowed; `Err(why)` refused.
    pub outcome: Result<(), String>,
}

/// The authorizer values of one connection, before the decision.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Presented {
    pub authorizer_name: Option<String>,
    pub signature: Option<String>,
    pub token: Option<String>,
}

/// How a connection was (or must still be) authenticated, from the transport to CONNECT.
#[derive(Clone, Debug)]
pub(crate) enum ConnAuth {
    /// Nothing to check here: plain TCP, a client certificate, SigV4, or no authorizer.
    None,
    /// TLS without a client certificate, ALPN `mqtt`: the CONNECT username names the authorizer.
    Username { alpn: Option<String> },
    /// A WebSocket upgrade that passed [`check_presented`]: the decision is taken at CONNECT.
    Upgrade {
        presented: Presented,
        via: AuthVia,
        alpn: Option<String>,
    },
}

/// Decodes `%XX` escapes (and nothing else: `+` stays `+`, as in AWS's query strings).
pub fn url_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Reads the authorizer values from a query string (`a=b&c=d`, URL-encoded values).
pub fn from_query(query: &str, token_key_name: &str) -> Presented {
    let mut p = Presented::default();
    for pair in query.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = url_decode(v);
        if k == NAME_PARAM {
            p.authorizer_name = v;
        } else if k == SIGNATURE_PARAM {
            p.signature = v;
        } else if k == token_key_name {
            p.token = v;
        }
    }
    p
}

/// Splits a CONNECT username at the first `?`: the username part and the authorizer values.
pub fn from_username(username: &str, token_key_name: &str) -> (String, Presented) {
    match username.split_once('?') {
        Some((user, query)) => (user.to_owned(), from_query(query, token_key_name)),
        None => (username.to_owned(), Presented::default()),
    }
}

/// The RSAPublicKey (PKCS#1) DER inside a key given as PEM or DER, SPKI or PKCS#1.
fn rsa_public_key_der(key: &[u8]) -> Result<Vec<u8>, String> {
    let der = if key.starts_with(b"-----") {
        let text = std::str::from_utf8(key).map_err(|_| "PEM is not UTF-8".to_string())?;
        let body: String = text
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect::<Vec<_>>()
            .concat();
        base64::engine::general_purpose::STANDARD
            .decode(body.trim())
            .map_err(|e| format!("PEM body: {e}"))?
    } else {
        key.to_vec()
    };
    // SPKI: SEQUENCE { SEQUENCE { algorithm }, BIT STRING { 0x00, RSAPublicKey } }.
    let Some((0x30, outer, _)) = der_item(&der) else {
        return Err("not a DER SEQUENCE".into());
    };
    match der_item(outer) {
        Some((0x30, _, rest)) => match der_item(rest) {
            Some((0x03, bits, _)) if bits.first() == Some(&0) => Ok(bits[1..].to_vec()),
            _ => Err("SubjectPublicKeyInfo without a BIT STRING key".into()),
        },
        // PKCS#1 RSAPublicKey: SEQUENCE { INTEGER n, INTEGER e }.
        Some((0x02, _, _)) => Ok(der),
        _ => Err("neither SubjectPublicKeyInfo nor an RSA public key".into()),
    }
}

/// One DER item: (tag, contents, what follows).
fn der_item(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *b.first()?;
    let first = *b.get(1)? as usize;
    let (len, start) = if first < 0x80 {
        (first, 2)
    } else {
        let n = first & 0x7f;
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | *b.get(2 + i)? as usize;
        }
        (len, 2 + n)
    };
    let end = start.checked_add(len)?;
    Some((tag, b.get(start..end)?, b.get(end..)?))
}

/// Checks a token's signature: base64 of an RSA PKCS#1 v1.5 SHA-256 signature over the token.
pub fn verify_signature(public_key: &[u8], token: &str, signature_b64: &str) -> Result<(), String> {
    let sig = base64::engine::general_purpose::STANDARD
        .decode(signature_b64)
        .map_err(|e| format!("the signature is not base64: {e}"))?;
    let der = rsa_public_key_der(public_key).map_err(|e| format!("authorizer key: {e}"))?;
    ring::signature::UnparsedPublicKey::new(&ring::signature::RSA_PKCS1_2048_8192_SHA256, der)
        .verify(token.as_bytes(), &sig)
        .map_err(|_| "the token signature does not verify".to_string())
}

/// The checks made before the decision: the authorizer is the configured one and, with
/// signing on, the token is there and its signature verifies.
pub fn check_presented(cfg: &CustomAuthorizerConfig, p: &Presented) -> Result<(), String> {
    match &p.authorizer_name {
        None => return Err(format!("no {NAME_PARAM}")),
        Some(n) if *n != cfg.name => return Err(format!("unknown authorizer {n:?}")),
        Some(_) => {}
    }
    if cfg.signing {
        let Some(token) = &p.token else {
            return Err(format!(
                "signing is on and no token under {:?}",
                cfg.token_key_name
            ));
        };
        let Some(sig) = &p.signature else {
            return Err(format!("signing is on and no {SIGNATURE_PARAM}"));
        };
        let Some(key) = &cfg.public_key else {
            return Err("signing is on and the authorizer has no public key".into());
        };
        verify_signature(key, token, sig)?;
    }
    Ok(())
}

/// The full check: [`check_presented`], then the decision.
pub fn authorize(
    cfg: &CustomAuthorizerConfig,
    p: &Presented,
    request: &AuthRequest,
) -> Result<(), String> {
    check_presented(cfg, p)?;
    if (cfg.decide)(request) {
        Ok(())
    } else {
        Err("the authorizer denied the connection".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn username_query_is_split_and_decoded() {
        let (user, p) = from_username(
            "dev?x-amz-customauthorizer-name=auth&x-amz-customauthorizer-signature=ab%2B%2FcQ%3D%3D&tok=a%20b",
            "tok",
        );
        assert_eq!(user, "dev");
        assert_eq!(p.authorizer_name.as_deref(), Some("auth"));
        assert_eq!(p.signature.as_deref(), Some("ab+/cQ=="));
        assert_eq!(p.token.as_deref(), Some("a b"));
        let (user, p) = from_username("plain", "tok");
        assert_eq!((user.as_str(), p), ("plain", Presented::default()));
        assert_eq!(url_decode("%zz"), None);
        assert_eq!(url_decode("a+b"), Some("a+b".into()));
    }

    #[test]
    fn name_and_signing_rules() {
        let cfg = CustomAuthorizerConfig {
            name: "auth".into(),
            token_key_name: "tok".into(),
            public_key: None,
            signing: false,
            decide: Arc::new(|r| r.username.as_deref() == Some("ok")),
        };
        let p = Presented {
            authorizer_name: Some("auth".into()),
            ..Presented::default()
        };
        let req = |u: &str| AuthRequest {
            token: None,
            username: Some(u.into()),
            password: None,
            client_id: "c".into(),
        };
        assert_eq!(authorize(&cfg, &p, &req("ok")), Ok(()));
        assert!(authorize(&cfg, &p, &req("no"))
            .unwrap_err()
            .contains("denied"));
        let other = Presented {
            authorizer_name: Some("other".into()),
            ..Presented::default()
        };
        assert!(authorize(&cfg, &other, &req("ok"))
            .unwrap_err()
            .contains("unknown authorizer"));
        let signing = CustomAuthorizerConfig {
            signing: true,
            ..cfg
        };
        assert!(check_presented(&signing, &p)
            .unwrap_err()
            .contains("no token"));
    }

    #[test]
    fn bad_keys_and_signatures_are_errors_not_panics() {
        assert!(rsa_public_key_der(b"").is_err());
        assert!(
            rsa_public_key_der(b"-----BEGIN PUBLIC KEY-----\n!!\n-----END PUBLIC KEY-----")
                .is_err()
        );
        assert!(rsa_public_key_der(&[0x30, 0x82, 0xff]).is_err());
        assert!(verify_signature(&[0x30, 0x00], "t", "AAAA").is_err());
        assert!(verify_signature(&[0x30, 0x00], "t", "***")
            .unwrap_err()
            .contains("base64"));
    }
}
