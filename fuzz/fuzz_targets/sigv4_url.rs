//! The SigV4 presign and the WebSocket URL handling, `mqtt::sigv4`.
//!
//! Invariants, for arbitrary region, keys, session token, host, path and time:
//! - no panic in `presign_query`, `presign_request`, `region_from_endpoint`, `uri_encode`;
//! - the presigned query is ASCII and carries, once each and in order, `X-Amz-Algorithm`,
//!   `X-Amz-Credential`, `X-Amz-Date`, `X-Amz-Expires`, `X-Amz-SignedHeaders`,
//!   `X-Amz-Signature` (64 hex digits), then `X-Amz-Security-Token` exactly when a non-empty
//!   token is given; decoded, the credential and the token are the ones given;
//! - `wss://<host><encoded path>?<query>` parses as a URL (for a host that is a valid DNS
//!   name) with the same query pairs;
//! - `presign_request` on an upgrade request with that host and path gives a URI whose query is
//!   the presigned query, or an error message, never a panic;
//! - `uri_encode` output is unreserved ASCII and `%XX` only, and decodes back to its input.

#![no_main]

use arbitrary::Arbitrary;
use iotjobs::mqtt::sigv4::{
    presign_query, presign_request, region_from_endpoint, uri_encode, Credentials,
};
use libfuzzer_sys::fuzz_target;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio_tungstenite::tungstenite::handshake::client::Request;

#[derive(Arbitrary, Debug)]
struct Input {
    region: String,
    access_key_id: String,
    secret: String,
    token: Option<String>,
    host: String,
    /// Use a DNS host name made from `host` (so URL parsing is exercised often).
    dns_host: bool,
    path: String,
    secs: u32,
}

const KEYS: [&str; 6] = [
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
];

fn percent_decode(s: &str) -> Vec<u8> {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned().into_bytes())
        .unwrap_or_default()
}

fn check_query(query: &str, creds: &Credentials, region: &str) {
    assert!(query.is_ascii());
    let pairs: Vec<(&str, &str)> = query
        .split('&')
        .map(|p| p.split_once('=').expect("key=value"))
        .collect();
    let token = creds.session_token.as_deref().filter(|t| !t.is_empty());
    let mut want: Vec<&str> = KEYS.to_vec();
    if token.is_some() {
        want.push("X-Amz-Security-Token");
    }
    let keys: Vec<&str> = pairs.iter().map(|(k, _)| *k).collect();
    assert_eq!(keys, want);
    let value = |k: &str| pairs.iter().find(|(key, _)| *key == k).unwrap().1;
    let date = value("X-Amz-Date");
    assert_eq!(date.len(), 16, "{date}");
    let credential = percent_decode(value("X-Amz-Credential"));
    let expected = format!(
        "{}/{}/{region}/iotdevicegateway/aws4_request",
        creds.access_key_id,
        &date[..8]
    );
    assert_eq!(credential, expected.into_bytes());
    let signature = value("X-Amz-Signature");
    assert!(signature.len() == 64 && signature.bytes().all(|b| b.is_ascii_hexdigit()));
    if let Some(t) = token {
        assert_eq!(percent_decode(value("X-Amz-Security-Token")), t.as_bytes());
    }
}

fn dns_name(s: &str) -> String {
    let label: String = s
        .bytes()
        .take(40)
        .map(|b| b"abcdefghijklmnopqrstuvwxyz0123456789"[usize::from(b) % 36] as char)
        .collect();
    format!("h{label}.iot.eu-west-1.amazonaws.com")
}

fuzz_target!(|input: Input| {
    let encoded = uri_encode(&input.path, true);
    assert!(encoded
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-_.~/%".contains(&b)));
    assert_eq!(percent_decode(&encoded), input.path.as_bytes());
    let _ = region_from_endpoint(&input.host);

    let creds = Credentials {
        access_key_id: input.access_key_id,
        secret_access_key: input.secret,
        session_token: input.token,
    };
    let host = if input.dns_host {
        dns_name(&input.host)
    } else {
        input.host
    };
    let now = UNIX_EPOCH + Duration::from_secs(u64::from(input.secs) * 4);
    let query = presign_query(&host, &input.path, &input.region, &creds, now);
    check_query(&query, &creds, &input.region);

    // A WebSocket path starts with `/` (the configuration's rule); sign it as such.
    let path = if input.path.starts_with('/') {
        input.path.clone()
    } else {
        format!("/{}", input.path)
    };
    if input.dns_host {
        let query = presign_query(&host, &path, &input.region, &creds, now);
        let raw = format!("wss://{host}{}?{}", uri_encode(&path, true), query.as_str());
        let url = url::Url::parse(&raw).unwrap_or_else(|e| panic!("{raw}: {e}"));
        assert_eq!(url.host_str(), Some(host.as_str()));
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        let ours: Vec<(String, String)> =
            url::form_urlencoded::parse(query.replace('+', "%2B").as_bytes())
                .into_owned()
                .collect();
        // `+` in a query means a space to `query_pairs`; our encoder never writes one.
        assert!(!query.contains('+'));
        assert_eq!(pairs, ours);
        assert_eq!(region_from_endpoint(&host), Some("eu-west-1"));
    }

    let uri = format!("wss://{host}{}", uri_encode(&path, true));
    if let Ok(mut req) = Request::builder().uri(&uri).header("host", &host).body(()) {
        let path = req.uri().path().to_owned();
        match presign_request(&mut req, &input.region, &creds, SystemTime::now()) {
            Ok(()) => {
                let q = req.uri().query().expect("a presigned query").to_owned();
                check_query(&q, &creds, &input.region);
                assert_eq!(req.uri().path(), uri_encode(&path, true));
            }
            Err(e) => assert!(!e.is_empty()),
        }
    }
});
