//! Verification of SigV4 presigned WebSocket upgrades, as AWS IoT's device gateway does it.
//!
//! Written from AWS's description of query-string signing, independently of the client
//! library's signer, so that a mistake there cannot verify itself here:
//! - the canonical query is every parameter except `X-Amz-Signature` and, for AWS IoT,
//!   `X-Amz-Security-Token` (appended after signing), each name and value URI-encoded, sorted;
//! - the canonical headers are the `X-Amz-SignedHeaders` list, lower-case names, trimmed values;
//! - the payload hash is the SHA-256 of the empty body;
//! - the signing key is HMAC-SHA256 chained over `AWS4`+secret, date, region, service,
//!   `aws4_request`; the scope's service must be `iotdevicegateway`;
//! - `X-Amz-Date` may be up to 5 minutes ahead of the server's clock, and the URL is good
//!   until `X-Amz-Date` + `X-Amz-Expires` (at most 7 days) plus the same 5 minutes of skew.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use ring::{digest, hmac};

/// The service name AWS IoT's device gateway signs for.
pub const SERVICE: &str = "iotdevicegateway";
/// Clock skew AWS tolerates either way.
pub const MAX_SKEW_SECS: i64 = 300;
/// Largest `X-Amz-Expires` SigV4 allows (7 days).
pub const MAX_EXPIRES_SECS: i64 = 604_800;

/// Keys the emulator accepts for SigV4 WebSocket upgrades.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SigV4Config {
    /// Access key id → secret access key.
    pub keys: BTreeMap<String, String>,
    /// Seconds added to the host clock when checking `X-Amz-Date` (positive: the server is
    /// ahead, so fresh signatures look old), to test expiry without waiting.
    pub clock_offset_secs: i64,
}

impl fmt::Debug for SigV4Config {
    // Secrets stay out of logs, even test ones.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigV4Config")
            .field("keys", &self.keys.keys().collect::<Vec<_>>())
            .field("clock_offset_secs", &self.clock_offset_secs)
            .finish()
    }
}

/// Why an upgrade is refused (the text goes into the HTTP 403 body and the log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A required parameter is missing, repeated or malformed.
    Malformed(String),
    /// The access key id is not configured.
    UnknownKey(String),
    /// `X-Amz-Date` is more than 5 minutes in the future.
    NotYetValid,
    /// `X-Amz-Date` + `X-Amz-Expires` is in the past.
    Expired,
    /// The signature does not match (wrong secret or a changed request).
    SignatureMismatch,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Malformed(w) => write!(f, "malformed SigV4 query: {w}"),
            Refusal::UnknownKey(k) => write!(f, "unknown access key id {k:?}"),
            Refusal::NotYetValid => write!(f, "X-Amz-Date is too far in the future"),
            Refusal::Expired => write!(f, "the signature has expired"),
            Refusal::SignatureMismatch => write!(
                f,
                "the request signature we calculated does not match the signature provided"
            ),
        }
    }
}

fn malformed(w: impl Into<String>) -> Refusal {
    Refusal::Malformed(w.into())
}

fn percent_decode(s: &str) -> Result<String, Refusal> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let h = b
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| malformed("bad percent escape"))?;
                out.push(h);
                i += 3;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| malformed("not UTF-8"))
}

/// RFC 3986 unreserved characters stay, everything else is `%XX` with upper-case hex.
fn encode(s: &str) -> String {
    let mut out = String::new();
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// `YYYYMMDDTHHMMSSZ` to Unix seconds.
fn parse_amz_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    let (y, m, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (hh, mm, ss) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    // Days from civil (H. Hinnant), independent of any calendar crate.
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss)
}

/// A request as the verifier sees it: the path, the raw query (still encoded) and a header
/// lookup (case-insensitive name → value).
pub struct Upgrade<'a> {
    pub path: &'a str,
    pub query: &'a str,
    pub header: &'a dyn Fn(&str) -> Option<String>,
}

/// Checks a presigned upgrade against `cfg` at `now`. Returns the access key id on success.
pub fn verify(cfg: &SigV4Config, req: &Upgrade<'_>, now: SystemTime) -> Result<String, Refusal> {
    let mut params: Vec<(String, String)> = Vec::new();
    for pair in req.query.split('&').filter(|p| !p.is_empty()) {
        let (n, v) = pair.split_once('=').unwrap_or((pair, ""));
        params.push((percent_decode(n)?, percent_decode(v)?));
    }
    let one = |name: &str| -> Result<&str, Refusal> {
        let mut it = params.iter().filter(|(n, _)| n == name);
        match (it.next(), it.next()) {
            (Some((_, v)), None) => Ok(v.as_str()),
            (None, _) => Err(malformed(format!("{name} is missing"))),
            _ => Err(malformed(format!("{name} appears twice"))),
        }
    };
    if one("X-Amz-Algorithm")? != "AWS4-HMAC-SHA256" {
        return Err(malformed("X-Amz-Algorithm is not AWS4-HMAC-SHA256"));
    }
    let credential = one("X-Amz-Credential")?;
    let amz_date = one("X-Amz-Date")?;
    let expires = one("X-Amz-Expires")?;
    let signed_headers = one("X-Amz-SignedHeaders")?;
    let signature = one("X-Amz-Signature")?;

    let parts: Vec<&str> = credential.split('/').collect();
    let [key_id, date, region, service, terminator] = parts[..] else {
        return Err(malformed(
            "X-Amz-Credential is not id/date/region/service/aws4_request",
        ));
    };
    if terminator != "aws4_request" || key_id.is_empty() || region.is_empty() {
        return Err(malformed("X-Amz-Credential scope"));
    }
    if service != SERVICE {
        return Err(malformed(format!("service {service:?} is not {SERVICE}")));
    }
    let signed_at = parse_amz_date(amz_date).ok_or_else(|| malformed("X-Amz-Date"))?;
    if amz_date.get(..8) != Some(date) {
        return Err(malformed(
            "the credential date is not the day of X-Amz-Date",
        ));
    }
    let expires: i64 = match expires.parse() {
        Ok(e) if (1..=MAX_EXPIRES_SECS).contains(&e) && !expires.starts_with('+') => e,
        _ => return Err(malformed("X-Amz-Expires")),
    };
    let secret = cfg
        .keys
        .get(key_id)
        .ok_or_else(|| Refusal::UnknownKey(key_id.to_owned()))?;
    let now = now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
        + cfg.clock_offset_secs;
    if signed_at > now + MAX_SKEW_SECS {
        return Err(Refusal::NotYetValid);
    }
    if now > signed_at + expires + MAX_SKEW_SECS {
        return Err(Refusal::Expired);
    }

    let mut canonical: Vec<(String, String)> = params
        .iter()
        .filter(|(n, _)| n != "X-Amz-Signature" && n != "X-Amz-Security-Token")
        .map(|(n, v)| (encode(n), encode(v)))
        .collect();
    canonical.sort();
    let canonical_query = canonical
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let names: Vec<&str> = signed_headers.split(';').collect();
    if !names.contains(&"host") {
        return Err(malformed("host is not a signed header"));
    }
    let mut canonical_headers = String::new();
    for n in &names {
        if n.is_empty() || *n != n.to_ascii_lowercase() {
            return Err(malformed("X-Amz-SignedHeaders"));
        }
        let v = (req.header)(n).ok_or_else(|| malformed(format!("signed header {n} missing")))?;
        let v = v.split_whitespace().collect::<Vec<_>>().join(" ");
        canonical_headers.push_str(&format!("{n}:{v}\n"));
    }
    // The path arrives encoded once; non-S3 services sign it encoded (segments kept).
    let path = percent_decode(req.path)?;
    let canonical_path = path.split('/').map(encode).collect::<Vec<_>>().join("/");
    let empty_hash = hex(digest::digest(&digest::SHA256, b"").as_ref());
    let creq = format!(
        "GET\n{canonical_path}\n{canonical_query}\n{canonical_headers}\n{signed_headers}\n{empty_hash}"
    );
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let sts = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex(digest::digest(&digest::SHA256, creq.as_bytes()).as_ref())
    );
    let mac = |k: &[u8], m: &str| {
        hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, k), m.as_bytes())
            .as_ref()
            .to_vec()
    };
    let k = mac(format!("AWS4{secret}").as_bytes(), date);
    let k = mac(&k, region);
    let k = mac(&k, service);
    let k = mac(&k, "aws4_request");
    let given = unhex(signature).ok_or(Refusal::SignatureMismatch)?;
    // ring compares in constant time.
    hmac::verify(
        &hmac::Key::new(hmac::HMAC_SHA256, &k),
        sts.as_bytes(),
        &given,
    )
    .map_err(|_| Refusal::SignatureMismatch)?;
    Ok(key_id.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const HOST: &str = "example-ats.iot.us-east-1.amazonaws.com";
    const ID: &str = "AKIDEXAMPLE";
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    // 2015-08-30T12:36:00Z.
    const T: u64 = 1_440_938_160;
    // Computed with python3 hmac/hashlib from AWS's description (the script is beside the
    // client library's own copy of this vector); the emulator must accept it at T.
    const QUERY: &str = "X-Amz-Algorithm=AWS4-HMAC-SHA256\
        &X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fiotdevicegateway%2Faws4_request\
        &X-Amz-Date=20150830T123600Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\
        &X-Amz-Signature=999c76eab2847c8e3b2c5c2dcd94add1cb80e962d4f278b55043a9b4c66ceb0f";

    fn cfg() -> SigV4Config {
        SigV4Config {
            keys: [(ID.to_owned(), SECRET.to_owned())].into(),
            clock_offset_secs: 0,
        }
    }

    fn check(cfg: &SigV4Config, query: &str, host: &str, at: u64) -> Result<String, Refusal> {
        let host = host.to_owned();
        let header = move |n: &str| (n == "host").then(|| host.clone());
        verify(
            cfg,
            &Upgrade {
                path: "/mqtt",
                query,
                header: &header,
            },
            UNIX_EPOCH + Duration::from_secs(at),
        )
    }

    #[test]
    fn accepts_the_reference_vector_with_and_without_a_token() {
        assert_eq!(check(&cfg(), QUERY, HOST, T).as_deref(), Ok(ID));
        let with = format!("{QUERY}&X-Amz-Security-Token=AQoDYXdzEJr%2Ftoken%2Bwith%3Dchars");
        assert_eq!(check(&cfg(), &with, HOST, T).as_deref(), Ok(ID));
        // Parameter order does not matter: they are sorted before signing.
        let mut shuffled: Vec<&str> = QUERY.split('&').collect();
        shuffled.reverse();
        assert_eq!(
            check(&cfg(), &shuffled.join("&"), HOST, T).as_deref(),
            Ok(ID)
        );
    }

    #[test]
    fn refuses_wrong_secret_and_unknown_key() {
        let mut wrong = cfg();
        wrong.keys.insert(ID.into(), "not-the-secret".into());
        assert_eq!(
            check(&wrong, QUERY, HOST, T),
            Err(Refusal::SignatureMismatch)
        );
        let other = SigV4Config {
            keys: [("AKIDOTHER".to_owned(), SECRET.to_owned())].into(),
            clock_offset_secs: 0,
        };
        assert_eq!(
            check(&other, QUERY, HOST, T),
            Err(Refusal::UnknownKey(ID.into()))
        );
    }

    #[test]
    fn refuses_tampering() {
        let c = cfg();
        // Another host, a longer lifetime, an added signed parameter, a changed signature.
        assert_eq!(
            check(&c, QUERY, "evil.example.com", T),
            Err(Refusal::SignatureMismatch)
        );
        let longer = QUERY.replace("X-Amz-Expires=86400", "X-Amz-Expires=86401");
        assert_eq!(check(&c, &longer, HOST, T), Err(Refusal::SignatureMismatch));
        let extra = format!("{QUERY}&x=1");
        assert_eq!(check(&c, &extra, HOST, T), Err(Refusal::SignatureMismatch));
        let sig = QUERY.replace("ceb0f", "ceb0e");
        assert_eq!(check(&c, &sig, HOST, T), Err(Refusal::SignatureMismatch));
        let short = QUERY.replace("ceb0f", "ceb0");
        assert_eq!(check(&c, &short, HOST, T), Err(Refusal::SignatureMismatch));
        // Missing, repeated and malformed parameters.
        let no_sig = QUERY.split("&X-Amz-Signature").next().unwrap();
        assert!(matches!(
            check(&c, no_sig, HOST, T),
            Err(Refusal::Malformed(_))
        ));
        let twice = format!("{QUERY}&X-Amz-Date=20150830T123600Z");
        assert!(matches!(
            check(&c, &twice, HOST, T),
            Err(Refusal::Malformed(_))
        ));
        let svc = QUERY.replace("iotdevicegateway", "execute-api");
        assert!(matches!(
            check(&c, &svc, HOST, T),
            Err(Refusal::Malformed(_))
        ));
        for bad in ["", "%", "%zz", "X-Amz-Date=%FF"] {
            assert!(matches!(
                check(&c, bad, HOST, T),
                Err(Refusal::Malformed(_))
            ));
        }
    }

    #[test]
    fn honours_skew_and_expiry() {
        let c = cfg();
        let expires = 86_400;
        let skew = MAX_SKEW_SECS as u64;
        assert!(check(&c, QUERY, HOST, T - skew).is_ok());
        assert_eq!(
            check(&c, QUERY, HOST, T - skew - 1),
            Err(Refusal::NotYetValid)
        );
        assert!(check(&c, QUERY, HOST, T + expires + skew).is_ok());
        assert_eq!(
            check(&c, QUERY, HOST, T + expires + skew + 1),
            Err(Refusal::Expired)
        );
        // The server's clock offset moves the window.
        let ahead = SigV4Config {
            clock_offset_secs: (expires + skew + 1) as i64,
            ..cfg()
        };
        assert_eq!(check(&ahead, QUERY, HOST, T), Err(Refusal::Expired));
    }

    #[test]
    fn dates() {
        assert_eq!(parse_amz_date("19700101T000000Z"), Some(0));
        assert_eq!(parse_amz_date("20150830T123600Z"), Some(T as i64));
        assert_eq!(parse_amz_date("20000229T000000Z"), Some(951_782_400));
        for bad in [
            "2015083T123600Z",
            "20151330T123600Z",
            "2015+830T123600Z",
            "20150830 123600Z",
        ] {
            assert_eq!(parse_amz_date(bad), None, "{bad}");
        }
    }
}
