//! AWS SigV4 presigned query for MQTT over WebSocket (`docs/jobs-protocol.md`, 'WebSocket
//! SigV4'). Pure logic.
//!
//! AWS IoT specifics: service `iotdevicegateway`, `GET /mqtt`, only the `host` header signed,
//! `X-Amz-Expires=86400`, and the session token appended AFTER signing, unsigned (IoT does not
//! sign `X-Amz-Security-Token`). Sign again on every connect: the date is part of the signature.

use ring::{digest, hmac};
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};
#[cfg(feature = "websocket")]
use tokio_tungstenite::tungstenite::handshake::client::Request;
#[cfg(feature = "websocket")]
use tokio_tungstenite::tungstenite::http::uri::{PathAndQuery, Uri};
use zeroize::{Zeroize, Zeroizing};

/// The SigV4 service name AWS IoT expects for device-gateway WebSocket connections.
pub const SERVICE: &str = "iotdevicegateway";
/// Lifetime of the presigned URL, in seconds (what the Python SDK v1 sends).
pub const EXPIRES_SECS: u32 = 86_400;
/// Hex SHA-256 of the empty payload of a GET.
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// AWS credentials used to presign. The secret key and the session token are wiped when
/// dropped, and `Debug` never prints them.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// Access key id (`AKIA…` or `ASIA…`).
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
    /// Session token of temporary credentials, if any.
    pub session_token: Option<String>,
}

impl fmt::Debug for Credentials {
    // Secrets never reach logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl Drop for Credentials {
    fn drop(&mut self) {
        self.secret_access_key.zeroize();
        self.session_token.zeroize();
    }
}

/// Credentials handed over by an application's provider before a WebSocket handshake, with
/// the time they stop being valid (none: they do not expire).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provided {
    pub credentials: Credentials,
    pub expires_at: Option<SystemTime>,
}

/// Asked for credentials before every WebSocket handshake, on the I/O thread.
pub type CredentialsProvider = dyn Fn() -> crate::error::Result<Provided> + Send + Sync;

/// The longest a reconnect is brought forward before credentials expire.
pub const REFRESH_MARGIN_MAX: std::time::Duration = std::time::Duration::from_secs(60);

/// How long after `fetched_at` to reconnect with fresh credentials that expire at `expires_at`:
/// a margin of a tenth of their lifetime, at most [`REFRESH_MARGIN_MAX`], before the expiry,
/// so that the new connection is up while the old credentials still hold. `None` when they
/// have already expired.
pub fn refresh_after(
    fetched_at: SystemTime,
    expires_at: SystemTime,
) -> Option<std::time::Duration> {
    let lifetime = expires_at.duration_since(fetched_at).ok()?;
    if lifetime.is_zero() {
        return None;
    }
    Some(lifetime - (lifetime / 10).min(REFRESH_MARGIN_MAX))
}

/// `YYYYMMDD'T'HHMMSS'Z'` for `now` (UTC). Times before 1970 are clamped to the epoch.
pub fn amz_date(now: SystemTime) -> String {
    let secs = now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// SigV4 URI encoding: everything but `A-Z a-z 0-9 - _ . ~` becomes `%XX` (upper case);
/// `/` is kept only when `keep_slash` (paths).
pub fn uri_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for &b in s.as_bytes() {
        let unreserved = b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~');
        if unreserved || (keep_slash && b == b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// HMAC-SHA256; the result is a key (or derived from one), so it is wiped when dropped.
fn hmac_sha256(key: &[u8], data: &[u8]) -> Zeroizing<Vec<u8>> {
    Zeroizing::new(
        hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data)
            .as_ref()
            .to_vec(),
    )
}

/// The SigV4 signing key: HMAC chain over date, region, service and `aws4_request`. Every
/// step (and the `AWS4` + secret input) is wiped when dropped: each one signs for a day.
pub fn signing_key(
    secret: &str,
    datestamp: &str,
    region: &str,
    service: &str,
) -> Zeroizing<Vec<u8>> {
    let k_secret = Zeroizing::new(format!("AWS4{secret}"));
    let k_date = hmac_sha256(k_secret.as_bytes(), datestamp.as_bytes());
    let k_region = hmac_sha256(&k_date, region.as_bytes());
    let k_service = hmac_sha256(&k_region, service.as_bytes());
    hmac_sha256(&k_service, b"aws4_request")
}

/// The canonical query string that is signed (parameters already in sorted order).
pub fn canonical_query(access_key_id: &str, amzdate: &str, region: &str) -> String {
    let datestamp = amzdate.get(..8).unwrap_or(amzdate);
    let credential = format!("{access_key_id}/{datestamp}/{region}/{SERVICE}/aws4_request");
    format!(
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={}&X-Amz-Date={}&X-Amz-Expires={EXPIRES_SECS}&X-Amz-SignedHeaders=host",
        uri_encode(&credential, false),
        uri_encode(amzdate, false)
    )
}

/// The canonical request: `GET`, the path, the query, the `host` header, `host`, and the
/// SHA-256 of the empty payload, joined by newlines.
pub fn canonical_request(path: &str, query: &str, host: &str) -> String {
    format!(
        "GET\n{}\n{query}\nhost:{}\n\nhost\n{EMPTY_SHA256}",
        uri_encode(path, true),
        host.trim()
    )
}

/// The string to sign for a canonical request.
pub fn string_to_sign(amzdate: &str, region: &str, canonical_request: &str) -> String {
    let datestamp = amzdate.get(..8).unwrap_or(amzdate);
    let hash = digest::digest(&digest::SHA256, canonical_request.as_bytes());
    format!(
        "AWS4-HMAC-SHA256\n{amzdate}\n{datestamp}/{region}/{SERVICE}/aws4_request\n{}",
        hex(hash.as_ref())
    )
}

/// The presigned query string (without the leading `?`) for `GET <path>` on `host`:
/// the canonical query, `X-Amz-Signature`, then the unsigned `X-Amz-Security-Token` if any.
/// `host` must be exactly the `Host` header the request sends (no port for 443). It holds the
/// session token, so it is wiped when dropped.
pub fn presign_query(
    host: &str,
    path: &str,
    region: &str,
    creds: &Credentials,
    now: SystemTime,
) -> Zeroizing<String> {
    let amzdate = amz_date(now);
    let query = canonical_query(&creds.access_key_id, &amzdate, region);
    let creq = canonical_request(path, &query, host);
    let sts = string_to_sign(&amzdate, region, &creq);
    let key = signing_key(&creds.secret_access_key, &amzdate[..8], region, SERVICE);
    let signature = hex(&hmac_sha256(&key, sts.as_bytes()));
    let mut out = Zeroizing::new(format!("{query}&X-Amz-Signature={signature}"));
    if let Some(token) = creds.session_token.as_deref().filter(|t| !t.is_empty()) {
        let encoded = Zeroizing::new(uri_encode(token, false));
        // Reserved up front: growing the string would free a copy of the token unwiped.
        out.reserve_exact("&X-Amz-Security-Token=".len() + encoded.len());
        out.push_str("&X-Amz-Security-Token=");
        out.push_str(&encoded);
    }
    out
}

/// The region of an AWS IoT data endpoint such as `abc123-ats.iot.eu-west-1.amazonaws.com`
/// (the label after `iot.`), or `None` for other host names.
pub fn region_from_endpoint(host: &str) -> Option<&str> {
    let mut labels = host.split('.');
    labels.next()?;
    if labels.next()? != "iot" {
        return None;
    }
    let region = labels.next()?;
    let rest = labels.next()?;
    (rest.starts_with("amazonaws") && !region.is_empty()).then_some(region)
}

#[cfg(feature = "websocket")]
/// Rewrites a WebSocket upgrade request's query with a fresh presigned query, signing the
/// request's own `Host` header and path (any existing query is replaced). Use it from the
/// transport's request hook so that every (re)connect is signed with the current time.
pub fn presign_request(
    req: &mut Request,
    region: &str,
    creds: &Credentials,
    now: SystemTime,
) -> Result<(), String> {
    let host = req
        .headers()
        .get("host")
        .and_then(|h| h.to_str().ok())
        .ok_or("the WebSocket request has no valid Host header")?
        .to_owned();
    let path = req.uri().path().to_owned();
    let query = presign_query(&host, &path, region, creds, now);
    // The URI (with the session token in it) belongs to the HTTP request from here on; the
    // http crate frees it unwiped after the upgrade, which we cannot change.
    let pq = PathAndQuery::try_from(format!("{}?{}", uri_encode(&path, true), query.as_str()))
        .map_err(|e| format!("presigned path: {e}"))?;
    let mut parts = req.uri().clone().into_parts();
    parts.path_and_query = Some(pq);
    *req.uri_mut() = Uri::from_parts(parts).map_err(|e| format!("presigned URI: {e}"))?;
    Ok(())
}

#[cfg(feature = "websocket")]
/// A transport request hook ([`super::transport::RequestHook`]) that presigns every WebSocket
/// upgrade with the current time, so each reconnect carries a fresh signature.
pub fn request_hook(region: String, creds: Credentials) -> Box<super::transport::RequestHook> {
    Box::new(move |req: &mut Request| {
        // Fails only without a Host header, which our requests always have; an unsigned
        // request is then refused by the server (HTTP 403), reported as a WebSocket error.
        let _ = presign_request(req, &region, &creds, SystemTime::now());
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn creds(token: Option<&str>) -> Credentials {
        Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            session_token: token.map(Into::into),
        }
    }

    // 2015-08-30T12:36:00Z, the date of the AWS signing test suite.
    const T: u64 = 1_440_938_160;

    #[test]
    fn dates() {
        assert_eq!(amz_date(at(0)), "19700101T000000Z");
        assert_eq!(amz_date(at(T)), "20150830T123600Z");
        assert_eq!(amz_date(at(951_782_400)), "20000229T000000Z"); // leap day
        assert_eq!(amz_date(at(1_795_823_999)), "20261127T235959Z"); // `date -u -d @1795823999`
        assert_eq!(
            amz_date(UNIX_EPOCH - Duration::from_secs(5)),
            "19700101T000000Z"
        );
    }

    #[test]
    fn uri_encoding() {
        assert_eq!(
            uri_encode("a/b c+d=e~f_g-h.i", false),
            "a%2Fb%20c%2Bd%3De~f_g-h.i"
        );
        assert_eq!(uri_encode("/mqtt", true), "/mqtt");
    }

    #[test]
    fn signing_key_matches_aws_documentation() {
        // The worked example in the AWS SigV4 documentation ("deriving the signing key"):
        // secret wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, 20120215, us-east-1, iam.
        let k = signing_key(
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "20120215",
            "us-east-1",
            "iam",
        );
        assert_eq!(
            hex(&k),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
        );
    }

    #[test]
    fn canonical_request_format() {
        let q = canonical_query("AKIDEXAMPLE", "20150830T123600Z", "us-east-1");
        assert_eq!(
            q,
            "X-Amz-Algorithm=AWS4-HMAC-SHA256\
             &X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fiotdevicegateway%2Faws4_request\
             &X-Amz-Date=20150830T123600Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
        );
        let creq = canonical_request("/mqtt", &q, "example-ats.iot.us-east-1.amazonaws.com");
        assert_eq!(
            creq,
            format!(
                "GET\n/mqtt\n{q}\nhost:example-ats.iot.us-east-1.amazonaws.com\n\nhost\n\
                 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
            )
        );
        let sts = string_to_sign("20150830T123600Z", "us-east-1", &creq);
        let lines: Vec<&str> = sts.lines().collect();
        assert_eq!(lines[0], "AWS4-HMAC-SHA256");
        assert_eq!(lines[1], "20150830T123600Z");
        assert_eq!(lines[2], "20150830/us-east-1/iotdevicegateway/aws4_request");
        assert_eq!(lines[3].len(), 64);
    }

    // EXPECTED_* were computed independently with python3 (hmac, hashlib) following
    // docs/jobs-protocol.md, 'WebSocket SigV4', step by step, for host
    // example-ats.iot.us-east-1.amazonaws.com, path /mqtt, region us-east-1, the AKIDEXAMPLE
    // credentials above and 2015-08-30T12:36:00Z; the script is in the comment above
    // `EXPECTED_QUERY`.
    const HOST: &str = "example-ats.iot.us-east-1.amazonaws.com";

    #[test]
    fn python_vector() {
        let q = presign_query(HOST, "/mqtt", "us-east-1", &creds(None), at(T));
        assert_eq!(q.as_str(), EXPECTED_QUERY);
    }

    #[test]
    fn session_token_is_appended_after_signing_and_unsigned() {
        let token = "AQoDYXdzEJr/token+with=chars";
        let with = presign_query(HOST, "/mqtt", "us-east-1", &creds(Some(token)), at(T));
        // Same signature as without a token: the token is not signed.
        assert_eq!(
            with.as_str(),
            format!("{EXPECTED_QUERY}&X-Amz-Security-Token=AQoDYXdzEJr%2Ftoken%2Bwith%3Dchars")
        );
        // An empty token is treated as none.
        let empty = presign_query(HOST, "/mqtt", "us-east-1", &creds(Some("")), at(T));
        assert_eq!(empty.as_str(), EXPECTED_QUERY);
    }

    #[cfg(feature = "websocket")]
    #[test]
    fn request_hook_rewrites_the_query() {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut req = format!("wss://{HOST}/mqtt?old=1")
            .into_client_request()
            .unwrap();
        presign_request(&mut req, "us-east-1", &creds(None), at(T)).unwrap();
        assert_eq!(
            req.uri().path_and_query().unwrap().as_str(),
            format!("/mqtt?{EXPECTED_QUERY}")
        );
        assert_eq!(req.uri().host(), Some(HOST));
        req.headers_mut().remove("host");
        assert!(presign_request(&mut req, "us-east-1", &creds(None), at(T)).is_err());
    }

    #[cfg(feature = "websocket")]
    #[test]
    fn request_hook_signs_with_the_current_time() {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let hook = request_hook("us-east-1".into(), creds(None));
        let mut req = format!("wss://{HOST}/mqtt").into_client_request().unwrap();
        hook(&mut req);
        let q = req.uri().query().unwrap().to_owned();
        let today = amz_date(SystemTime::now());
        assert!(
            q.contains(&format!("%2F{}%2Fus-east-1%2F", &today[..8])),
            "{q}"
        );
        assert!(q.contains("&X-Amz-Signature="), "{q}");
    }

    #[test]
    fn refresh_comes_a_tenth_of_the_lifetime_early_at_most_a_minute() {
        let s = Duration::from_secs;
        assert_eq!(refresh_after(at(T), at(T + 3600)), Some(s(3540)));
        assert_eq!(refresh_after(at(T), at(T + 100)), Some(s(90)));
        assert_eq!(refresh_after(at(T), at(T + 600)), Some(s(540)));
        assert_eq!(refresh_after(at(T), at(T)), None);
        assert_eq!(refresh_after(at(T), at(T - 1)), None);
    }

    #[test]
    fn regions() {
        assert_eq!(
            region_from_endpoint("abc123-ats.iot.eu-west-1.amazonaws.com"),
            Some("eu-west-1")
        );
        assert_eq!(
            region_from_endpoint("abc.iot.cn-north-1.amazonaws.com.cn"),
            Some("cn-north-1")
        );
        assert_eq!(region_from_endpoint("localhost"), None);
        assert_eq!(region_from_endpoint("a.b.c.amazonaws.com"), None);
    }

    #[test]
    fn debug_redacts_secrets() {
        let d = format!("{:?}", creds(Some("tok")));
        assert!(!d.contains("EXAMPLEKEY") && !d.contains("tok\""), "{d}");
    }

    // python3:
    //   import hashlib, hmac, urllib.parse
    //   scope = "20150830/us-east-1/iotdevicegateway/aws4_request"
    //   q = ("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential="
    //        + urllib.parse.quote("AKIDEXAMPLE/" + scope, safe="")
    //        + "&X-Amz-Date=20150830T123600Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host")
    //   creq = "GET\n/mqtt\n" + q + "\nhost:" + HOST + "\n\nhost\n" + hashlib.sha256(b"").hexdigest()
    //   sts = ("AWS4-HMAC-SHA256\n20150830T123600Z\n" + scope + "\n"
    //          + hashlib.sha256(creq.encode()).hexdigest())
    //   h = lambda k, m: hmac.new(k, m.encode(), hashlib.sha256).digest()
    //   k = h(h(h(h(("AWS4" + SECRET).encode(), "20150830"), "us-east-1"), "iotdevicegateway"), "aws4_request")
    //   print(q + "&X-Amz-Signature=" + hmac.new(k, sts.encode(), hashlib.sha256).hexdigest())
    const EXPECTED_QUERY: &str = "X-Amz-Algorithm=AWS4-HMAC-SHA256\
        &X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fiotdevicegateway%2Faws4_request\
        &X-Amz-Date=20150830T123600Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\
        &X-Amz-Signature=999c76eab2847c8e3b2c5c2dcd94add1cb80e962d4f278b55043a9b4c66ceb0f";
}
