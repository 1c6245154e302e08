//! AWS IoT custom authentication: what a custom authorizer needs on the wire, and its rules.
//!
//! Over MQTT (TLS, ALPN `mqtt`, no client certificate) the authorizer's name, the token and
//! its signature travel in the CONNECT user name as a query string, each value URL-encoded:
//! `USER?x-amz-customauthorizer-name=NAME&x-amz-customauthorizer-signature=SIG&KEY=TOKEN`;
//! the password is the CONNECT password (AWS hands it, base64-encoded, to the authorizer's
//! Lambda). Over MQTT on WebSocket the same three values go on the HTTP upgrade instead, as
//! headers or as query parameters ([`WebsocketForm`]), and the user name and password stay
//! plain in CONNECT. No SigV4 signing then.

use super::sigv4::uri_encode;
use crate::error::{jobs_result, Error, Result};
use std::fmt;
use zeroize::Zeroizing;

/// The query/header name that picks the authorizer.
pub const NAME_PARAM: &str = "x-amz-customauthorizer-name";
/// The query/header name of the token signature.
pub const SIGNATURE_PARAM: &str = "x-amz-customauthorizer-signature";
/// AWS's limit on an authorizer name (and we apply it to the token key name too).
pub const NAME_MAX_LEN: usize = 128;
/// The longest token accepted (AWS tokens are opaque; JWTs are well below this).
pub const TOKEN_MAX_LEN: usize = 4096;
/// The longest base64 signature accepted: an RSA-8192 signature is 1368 characters.
pub const SIGNATURE_MAX_LEN: usize = 2048;
/// The longest user name accepted (the whole CONNECT user name must fit 65535 bytes).
pub const USERNAME_MAX_LEN: usize = 1024;
/// The longest password: its length is two bytes in CONNECT.
pub const PASSWORD_MAX_LEN: usize = u16::MAX as usize;
/// The ALPN protocol AWS IoT requires for custom authentication over MQTT on TLS.
pub const ALPN_MQTT: &[u8] = b"mqtt";

pub use super::types::CustomAuthForm;

/// A custom authorizer and what the device presents to it. Build it with
/// [`CustomAuthorizer::new`], which applies every rule. The token, its signature and the
/// password wipe themselves when dropped; `Debug` never prints them.
#[derive(Clone, PartialEq, Eq)]
pub struct CustomAuthorizer {
    pub authorizer_name: String,
    /// The token and the name it is sent under (both or neither).
    pub token: Option<(String, Zeroizing<String>)>,
    /// Base64 RSA SHA-256 signature of the token, for an authorizer with signing enabled.
    pub token_signature: Option<Zeroizing<String>>,
    pub username: Option<String>,
    pub password: Option<Zeroizing<Vec<u8>>>,
    pub websocket_form: CustomAuthForm,
}

impl fmt::Debug for CustomAuthorizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CustomAuthorizer")
            .field("authorizer_name", &self.authorizer_name)
            .field("token_key_name", &self.token.as_ref().map(|(k, _)| k))
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field(
                "token_signature",
                &self.token_signature.as_ref().map(|_| "<redacted>"),
            )
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("websocket_form", &self.websocket_form)
            .finish()
    }
}

fn invalid(msg: impl Into<String>) -> Error {
    Error::new(jobs_result::InvalidArgument, msg)
}

/// Checks an authorizer name or token key name: 1 to 128 characters of `[A-Za-z0-9_=,@-]`
/// (AWS's pattern `[\w=,@-]+`). Only ASCII word characters: a name goes into HTTP headers.
pub fn validate_name(what: &str, name: &str) -> Result<()> {
    if name.is_empty() || name.len() > NAME_MAX_LEN {
        return Err(invalid(format!(
            "the {what} is {} bytes: it must be 1 to {NAME_MAX_LEN}",
            name.len()
        )));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '=' | ',' | '@' | '-')))
    {
        return Err(invalid(format!(
            "the {what} contains {c:?}: only letters, digits and _ = , @ - are allowed"
        )));
    }
    Ok(())
}

/// Checks a token: 1 to 4096 bytes of printable ASCII (it may be sent as an HTTP header).
pub fn validate_token(token: &str) -> Result<()> {
    if token.is_empty() || token.len() > TOKEN_MAX_LEN {
        return Err(invalid(format!(
            "the token is {} bytes: it must be 1 to {TOKEN_MAX_LEN}",
            token.len()
        )));
    }
    if token.bytes().any(|b| !(0x20..0x7f).contains(&b)) {
        return Err(invalid(
            "the token holds a control or non-ASCII character: only printable ASCII is allowed",
        ));
    }
    Ok(())
}

/// Checks a token signature: standard base64 (padded) of 1 to 1536 bytes, at most 2048
/// characters.
pub fn validate_signature(signature: &str) -> Result<()> {
    use base64::Engine as _;
    if signature.is_empty() || signature.len() > SIGNATURE_MAX_LEN {
        return Err(invalid(format!(
            "the token signature is {} characters: it must be 1 to {SIGNATURE_MAX_LEN}",
            signature.len()
        )));
    }
    let decoded = Zeroizing::new(
        base64::engine::general_purpose::STANDARD
            .decode(signature)
            .map_err(|e| invalid(format!("the token signature is not base64: {e}")))?,
    );
    if decoded.is_empty() {
        return Err(invalid("the token signature decodes to nothing"));
    }
    Ok(())
}

/// Checks the user name presented to the authorizer: at most 1024 bytes, no `?` (AWS splits
/// the CONNECT user name at the first `?`) and no control characters.
pub fn validate_username(username: &str) -> Result<()> {
    if username.len() > USERNAME_MAX_LEN {
        return Err(invalid(format!(
            "the custom-authorizer username is {} bytes: at most {USERNAME_MAX_LEN}",
            username.len()
        )));
    }
    if username.contains('?') || username.chars().any(char::is_control) {
        return Err(invalid(
            "the custom-authorizer username must not contain '?' (it starts the authorizer query) or control characters",
        ));
    }
    Ok(())
}

impl CustomAuthorizer {
    /// A checked authorizer. `token_key_name` and `token` come together (an authorizer that
    /// signs needs both); a signature needs a token; the password is at most 65535 bytes.
    pub fn new(
        authorizer_name: &str,
        token_key_name: Option<&str>,
        token: Option<&str>,
        token_signature: Option<&str>,
        username: Option<&str>,
        password: Option<&[u8]>,
        websocket_form: CustomAuthForm,
    ) -> Result<CustomAuthorizer> {
        let token = match (token_key_name, token) {
            (Some(k), Some(t)) => Some((k.to_owned(), Zeroizing::new(t.to_owned()))),
            (None, None) => None,
            _ => {
                return Err(invalid(
                    "token_key_name and token go together: set both or neither",
                ))
            }
        };
        let a = CustomAuthorizer {
            authorizer_name: authorizer_name.to_owned(),
            token,
            token_signature: token_signature.map(|s| Zeroizing::new(s.to_owned())),
            username: username.map(str::to_owned),
            password: password.map(|p| Zeroizing::new(p.to_vec())),
            websocket_form,
        };
        a.validate()?;
        Ok(a)
    }

    /// Checks an authorizer built field by field, with the rules of [`CustomAuthorizer::new`].
    pub fn validate(&self) -> Result<()> {
        validate_name("authorizer name", &self.authorizer_name)?;
        if let Some((key, token)) = &self.token {
            validate_name("token key name", key)?;
            if key.eq_ignore_ascii_case(NAME_PARAM) || key.eq_ignore_ascii_case(SIGNATURE_PARAM) {
                return Err(invalid(format!(
                    "the token key name '{key}' is one of AWS's own parameter names"
                )));
            }
            validate_token(token)?;
        }
        if let Some(sig) = &self.token_signature {
            if self.token.is_none() {
                return Err(invalid("a token signature needs a token to sign"));
            }
            validate_signature(sig)?;
        }
        if let Some(u) = &self.username {
            validate_username(u)?;
        }
        if let Some(p) = &self.password {
            if p.len() > PASSWORD_MAX_LEN {
                return Err(invalid(format!(
                    "the password is {} bytes: at most {PASSWORD_MAX_LEN}",
                    p.len()
                )));
            }
        }
        Ok(())
    }

    /// The authorizer parameters, names and raw values, in AWS's order.
    fn params(&self) -> Vec<(&str, &str)> {
        let mut out = vec![(NAME_PARAM, self.authorizer_name.as_str())];
        if let Some(sig) = &self.token_signature {
            out.push((SIGNATURE_PARAM, sig.as_str()));
        }
        if let Some((key, token)) = &self.token {
            out.push((key.as_str(), token.as_str()));
        }
        out
    }

    /// `name=value&…` with every value URL-encoded (the base64 `+`, `/`, `=` included).
    /// Holds the token: wiped when dropped.
    pub fn query(&self) -> Zeroizing<String> {
        let params = self.params();
        // Sized up front: a string that grew would leave copies of the token in freed memory.
        let size = params.iter().map(|(k, v)| k.len() + 2 + 3 * v.len()).sum();
        let mut q = Zeroizing::new(String::with_capacity(size));
        for (i, (k, v)) in params.into_iter().enumerate() {
            if i > 0 {
                q.push('&');
            }
            q.push_str(k);
            q.push('=');
            q.push_str(&Zeroizing::new(uri_encode(v, false)));
        }
        q
    }

    /// The CONNECT user name for MQTT over TLS or TCP: the user name (may be empty), `?`, and
    /// the authorizer query.
    pub fn mqtt_username(&self) -> Zeroizing<String> {
        let query = self.query();
        let user = self.username.as_deref().unwrap_or("");
        let mut u = Zeroizing::new(String::with_capacity(user.len() + 1 + query.len()));
        u.push_str(self.username.as_deref().unwrap_or(""));
        u.push('?');
        u.push_str(&query);
        u
    }

    /// The HTTP headers of the upgrade for [`CustomAuthForm::Headers`]: names and raw values.
    pub fn headers(&self) -> Vec<(&str, &str)> {
        self.params()
    }

    /// `path` with the authorizer query appended (after an existing query, if any).
    pub fn path_with_query(&self, path_and_query: &str) -> Zeroizing<String> {
        let sep = if path_and_query.contains('?') {
            '&'
        } else {
            '?'
        };
        let query = self.query();
        let mut p = Zeroizing::new(String::with_capacity(
            path_and_query.len() + 1 + query.len(),
        ));
        p.push_str(path_and_query);
        p.push(sep);
        p.push_str(&query);
        p
    }
}

/// Rewrites a WebSocket upgrade request for `auth`: headers, or the query of its URI.
/// Returns a message when the request cannot carry the values (never for checked ones).
#[cfg(feature = "websocket")]
pub fn apply_to_request(
    auth: &CustomAuthorizer,
    req: &mut super::transport::WsRequest,
) -> std::result::Result<(), String> {
    use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue, Uri};
    match auth.websocket_form {
        CustomAuthForm::Headers => {
            for (k, v) in auth.headers() {
                let name = HeaderName::from_bytes(k.as_bytes()).map_err(|e| e.to_string())?;
                let mut value = HeaderValue::from_str(v).map_err(|e| e.to_string())?;
                value.set_sensitive(true);
                req.headers_mut().insert(name, value);
            }
        }
        CustomAuthForm::Query => {
            let uri = req.uri().clone();
            let pq = uri.path_and_query().map_or("/mqtt", |p| p.as_str());
            let new_pq = auth.path_with_query(pq);
            let mut parts = uri.into_parts();
            parts.path_and_query = Some(new_pq.parse().map_err(|e| format!("{e}"))?);
            *req.uri_mut() = Uri::from_parts(parts).map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

/// The request hook that puts `auth` on every WebSocket upgrade.
#[cfg(feature = "websocket")]
pub fn request_hook(auth: CustomAuthorizer) -> Box<super::transport::RequestHook> {
    Box::new(move |req| {
        // Checked values always fit; if one did not, the server refuses the bare upgrade
        // (HTTP 401), reported as a WebSocket error.
        let _ = apply_to_request(&auth, req);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed() -> CustomAuthorizer {
        CustomAuthorizer::new(
            "my-authorizer",
            Some("tokenKey"),
            Some("allow me"),
            Some("ab+/cQ=="),
            Some("dev"),
            Some(b"p\x00w"),
            CustomAuthForm::Headers,
        )
        .unwrap()
    }

    #[test]
    fn mqtt_username_is_the_aws_query_with_encoded_values() {
        assert_eq!(
            signed().mqtt_username().as_str(),
            "dev?x-amz-customauthorizer-name=my-authorizer&x-amz-customauthorizer-signature=ab%2B%2FcQ%3D%3D&tokenKey=allow%20me"
        );
        let bare = CustomAuthorizer::new("a", None, None, None, None, None, CustomAuthForm::Query)
            .unwrap();
        assert_eq!(
            bare.mqtt_username().as_str(),
            "?x-amz-customauthorizer-name=a"
        );
    }

    #[test]
    fn headers_carry_raw_values_and_the_query_form_appends() {
        let a = signed();
        assert_eq!(
            a.headers(),
            vec![
                (NAME_PARAM, "my-authorizer"),
                (SIGNATURE_PARAM, "ab+/cQ=="),
                ("tokenKey", "allow me")
            ]
        );
        assert_eq!(
            a.path_with_query("/mqtt").as_str(),
            "/mqtt?x-amz-customauthorizer-name=my-authorizer&x-amz-customauthorizer-signature=ab%2B%2FcQ%3D%3D&tokenKey=allow%20me"
        );
        assert!(a
            .path_with_query("/mqtt?x=1")
            .starts_with("/mqtt?x=1&x-amz"));
    }

    #[cfg(feature = "websocket")]
    #[test]
    fn request_rewrite_in_both_forms() {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut a = signed();
        let mut req = "wss://h/mqtt".into_client_request().unwrap();
        apply_to_request(&a, &mut req).unwrap();
        assert_eq!(
            req.headers()["x-amz-customauthorizer-name"],
            "my-authorizer"
        );
        assert_eq!(req.headers()["tokenkey"], "allow me");
        assert_eq!(req.uri().query(), None);
        a.websocket_form = CustomAuthForm::Query;
        let mut req = "wss://h:8443/mqtt".into_client_request().unwrap();
        apply_to_request(&a, &mut req).unwrap();
        assert_eq!(req.uri().authority().unwrap().as_str(), "h:8443");
        assert!(req
            .uri()
            .query()
            .unwrap()
            .starts_with("x-amz-customauthorizer-name=my-authorizer&"));
        assert!(req.headers().get("x-amz-customauthorizer-name").is_none());
    }

    #[test]
    fn names_follow_the_aws_pattern_and_length() {
        for ok in ["a", "Name_1=,@-", &"n".repeat(128)] {
            assert_eq!(validate_name("authorizer name", ok), Ok(()), "{ok}");
        }
        for bad in ["", &"n".repeat(129), "a b", "a/b", "é", "a?b", "a&b"] {
            let e = validate_name("authorizer name", bad).unwrap_err();
            assert_eq!(e.code, jobs_result::InvalidArgument);
            assert!(e.message.contains("authorizer name"), "{e}");
        }
    }

    #[test]
    fn token_signature_and_username_rules() {
        assert!(validate_token("t").is_ok() && validate_token(&"t".repeat(4096)).is_ok());
        for bad in [String::new(), "t".repeat(4097), "a\nb".into(), "é".into()] {
            assert!(validate_token(&bad).is_err(), "{bad:?}");
        }
        assert!(validate_signature("AAAA").is_ok());
        for bad in ["", "not base64!", "AAA", "====", &"A".repeat(2052)] {
            assert!(validate_signature(bad).is_err(), "{bad}");
        }
        assert!(validate_username("").is_ok() && validate_username("user@x").is_ok());
        for bad in ["a?b", "a\u{0}", &"u".repeat(1025)] {
            assert!(validate_username(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn combinations_are_checked() {
        let f = CustomAuthForm::Headers;
        let e = CustomAuthorizer::new("a", Some("k"), None, None, None, None, f).unwrap_err();
        assert!(e.message.contains("go together"), "{e}");
        let e = CustomAuthorizer::new("a", None, None, Some("AAAA"), None, None, f).unwrap_err();
        assert!(e.message.contains("needs a token"), "{e}");
        let e = CustomAuthorizer::new("a", Some(NAME_PARAM), Some("t"), None, None, None, f)
            .unwrap_err();
        assert!(e.message.contains("AWS's own"), "{e}");
        let big = vec![0u8; PASSWORD_MAX_LEN + 1];
        let e = CustomAuthorizer::new("a", None, None, None, None, Some(&big), f).unwrap_err();
        assert!(e.message.contains("password"), "{e}");
        let mut literal = signed();
        literal.authorizer_name.clear();
        assert_eq!(
            literal.validate(),
            Err(validate_name("authorizer name", "").unwrap_err())
        );
    }

    #[test]
    fn debug_redacts_the_secrets() {
        let d = format!("{:?}", signed());
        assert!(!d.contains("allow me") && !d.contains("ab+/cQ") && !d.contains("p\\0w"));
        assert!(d.contains("my-authorizer") && d.contains("tokenKey"), "{d}");
    }

    #[test]
    fn enum_numbers_and_names() {
        assert_eq!(CustomAuthForm::try_from(0), Ok(CustomAuthForm::Headers));
        assert_eq!(CustomAuthForm::try_from(1), Ok(CustomAuthForm::Query));
        assert!(CustomAuthForm::try_from(2).is_err());
        assert_eq!(CustomAuthForm::Query.as_str(), "query");
    }
}
