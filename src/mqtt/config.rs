//! Connection settings and their validation (pure logic).
//!
//! Every rule about a connection setting lives here, once: the C setters call the same
//! functions as [`ConnectionConfig::validate`], so a value is refused with the same code and
//! message whichever way it arrives.

use super::backoff::BackoffConfig;
use super::custom_auth::CustomAuthorizer;
use super::queue::QueueLimit;
use super::sigv4::{Credentials, CredentialsProvider, Provided};
use super::tls::TlsSettings;
use super::topic;
use crate::error::{jobs_result, Error, Result};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use zeroize::{Zeroize, Zeroizing};

use super::types::{DropPolicy, TransportKind};

pub use super::types::Protocol;

/// The MQTT 3.1 client-id limit (3.1.1 lifted it; AWS allows 128 bytes).
pub const V31_MAX_CLIENT_ID: usize = 23;
/// AWS IoT's client-id limit.
pub const AWS_MAX_CLIENT_ID: usize = 128;
/// AWS IoT's message size limit, the default maximum packet size.
pub const DEFAULT_MAX_PACKET: usize = 128 * 1024;
/// The smallest maximum packet size accepted.
pub const MIN_MAX_PACKET: usize = 128;
/// The largest packet MQTT can express (the remaining-length limit).
pub const MAX_MAX_PACKET: usize = 268_435_455;
/// AWS IoT accepts keep-alive values from 30 to 1200 s.
/// Callback backlog before reading pauses: room for two maximum-size messages.
pub const DEFAULT_CALLBACK_QUEUE_BYTES: usize = 256 * 1024;
pub const KEEP_ALIVE_MIN: u16 = 30;
pub const KEEP_ALIVE_MAX: u16 = 1200;
/// The longest host name (the DNS limit).
pub const HOST_MAX_LEN: usize = 253;
/// The longest connect or operation timeout.
pub const TIMEOUT_MAX: Duration = Duration::from_secs(3600);
/// The fastest draining rate, in requests per second.
pub const DRAIN_RATE_MAX: f64 = 1_000_000.0;
/// The longest ALPN protocol name (its length is one byte on the wire).
pub const ALPN_MAX_LEN: usize = 255;
/// The largest last-will payload (its length is two bytes in CONNECT).
pub const WILL_PAYLOAD_MAX: usize = u16::MAX as usize;
/// The highest QoS AWS IoT supports.
pub const QOS_MAX: u8 = 1;

fn invalid(msg: impl Into<String>) -> Error {
    Error::new(jobs_result::InvalidArgument, msg)
}

/// Checks an endpoint host name: 1 to 253 bytes.
pub fn validate_host(host: &str) -> Result<()> {
    if host.is_empty() || host.len() > HOST_MAX_LEN {
        return Err(invalid(format!(
            "host is {} bytes: it must be 1 to {HOST_MAX_LEN}",
            host.len()
        )));
    }
    Ok(())
}

/// Checks an endpoint port: 1 to 65535.
pub fn validate_port(port: u16) -> Result<()> {
    if port == 0 {
        return Err(invalid("port 0: the endpoint port must be 1 to 65535"));
    }
    Ok(())
}

/// Checks a client id against AWS IoT's limit of 128 bytes (empty means "generate one").
/// MQTT 3.1's 23-byte limit is checked by [`ConnectionConfig::validate`], once the protocol
/// is known.
pub fn validate_client_id(client_id: &str) -> Result<()> {
    if client_id.len() > AWS_MAX_CLIENT_ID {
        return Err(invalid(format!(
            "client id is {} bytes; AWS IoT allows at most {AWS_MAX_CLIENT_ID}",
            client_id.len()
        )));
    }
    Ok(())
}

/// Checks a QoS for any publish, subscription or last will: AWS IoT has 0 and 1, no QoS 2.
pub fn validate_qos(qos: u32) -> Result<u8> {
    match u8::try_from(qos) {
        Ok(q) if q <= QOS_MAX => Ok(q),
        _ => Err(invalid(format!("QoS {qos}: AWS IoT supports QoS 0 and 1"))),
    }
}

/// Checks a user name and password pair: a password needs a user name.
pub fn validate_login(username: Option<&str>, password: Option<&str>) -> Result<()> {
    if username.is_none() && password.is_some() {
        return Err(invalid("a password needs a username (MQTT 3.1.1 §3.1.2.9)"));
    }
    Ok(())
}

/// Checks a connect or operation timeout: 1 ms to 1 hour.
pub fn validate_timeout(name: &str, timeout: Duration) -> Result<()> {
    if timeout < Duration::from_millis(1) || timeout > TIMEOUT_MAX {
        return Err(invalid(format!(
            "{name} is {} ms: it must be 1 to {} ms",
            timeout.as_millis(),
            TIMEOUT_MAX.as_millis()
        )));
    }
    Ok(())
}

/// Checks a maximum packet size: 128 bytes to 256 MiB (MQTT's own limit).
pub fn validate_max_packet_size(bytes: usize) -> Result<()> {
    if !(MIN_MAX_PACKET..=MAX_MAX_PACKET).contains(&bytes) {
        return Err(invalid(format!(
            "maximum packet size {bytes}: it must be {MIN_MAX_PACKET} to {MAX_MAX_PACKET} bytes"
        )));
    }
    Ok(())
}

/// Checks the reconnect backoff (the rule itself is [`BackoffConfig::validate`]).
pub fn validate_backoff(backoff: &BackoffConfig) -> Result<()> {
    backoff.validate().map_err(invalid)
}

/// The queue limit for the Python SDK's size convention: −1 unbounded, 0 disabled, N > 0.
pub fn queue_limit(size: i64) -> Result<QueueLimit> {
    QueueLimit::from_size(size)
        .ok_or_else(|| invalid(format!("queue size {size}: use -1, 0 or a positive count")))
}

/// Checks a draining rate: 0 (no throttling) to 1000000 requests per second.
pub fn validate_drain_rate(per_second: f64) -> Result<()> {
    if !per_second.is_finite() || !(0.0..=DRAIN_RATE_MAX).contains(&per_second) {
        return Err(invalid(format!(
            "draining rate {per_second}: it must be 0 to {DRAIN_RATE_MAX} per second"
        )));
    }
    Ok(())
}

/// Checks one ALPN protocol name: 1 to 255 bytes.
pub fn validate_alpn(protocol: &[u8]) -> Result<()> {
    if protocol.is_empty() || protocol.len() > ALPN_MAX_LEN {
        return Err(invalid(format!(
            "an ALPN protocol name is {} bytes: it must be 1 to {ALPN_MAX_LEN}",
            protocol.len()
        )));
    }
    Ok(())
}

/// The longest access key id (IAM's documented limit).
pub const ACCESS_KEY_ID_MAX_LEN: usize = 128;
/// The longest secret access key accepted (IAM's are 40 characters).
pub const SECRET_ACCESS_KEY_MAX_LEN: usize = 1024;
/// The longest session token accepted (STS tokens are a few hundred to a few thousand bytes).
pub const SESSION_TOKEN_MAX_LEN: usize = 16 * 1024;
/// The longest region name accepted.
pub const REGION_MAX_LEN: usize = 64;

/// Checks IAM credentials and an explicit region for SigV4: none of them empty, none longer
/// than its limit.
pub fn validate_iam(credentials: &Credentials, region: Option<&str>) -> Result<()> {
    if !WEBSOCKET_BUILT {
        return Err(invalid(
            "IAM (SigV4) credentials need the WebSocket transports, and this build of iotjobs has none (built without the cargo feature `websocket`)",
        ));
    }
    if credentials.access_key_id.is_empty()
        || credentials.secret_access_key.is_empty()
        || region == Some("")
    {
        return Err(invalid(
            "access key id, secret and region must not be empty",
        ));
    }
    let too_long = |what: &str, len: usize, max: usize| {
        (len > max).then(|| invalid(format!("the {what} is {len} bytes: at most {max}")))
    };
    let token_len = credentials.session_token.as_ref().map_or(0, String::len);
    if let Some(e) = [
        too_long(
            "access key id",
            credentials.access_key_id.len(),
            ACCESS_KEY_ID_MAX_LEN,
        ),
        too_long(
            "secret access key",
            credentials.secret_access_key.len(),
            SECRET_ACCESS_KEY_MAX_LEN,
        ),
        too_long("session token", token_len, SESSION_TOKEN_MAX_LEN),
        too_long("region", region.map_or(0, str::len), REGION_MAX_LEN),
    ]
    .into_iter()
    .flatten()
    .next()
    {
        return Err(e);
    }
    Ok(())
}

/// The most signature schemes a key signer may list.
pub const KEY_SIGNER_SCHEMES_MAX: usize = 16;

/// Checks the TLS signature schemes (IANA code points) of a key signer: 1 to
/// [`KEY_SIGNER_SCHEMES_MAX`], each one rustls offers, all of one algorithm (one key).
pub fn validate_signature_schemes(schemes: &[u16]) -> Result<Vec<rustls::SignatureScheme>> {
    if schemes.is_empty() || schemes.len() > KEY_SIGNER_SCHEMES_MAX {
        return Err(invalid(format!(
            "a key signer lists {} signature schemes: it must list 1 to {KEY_SIGNER_SCHEMES_MAX}",
            schemes.len()
        )));
    }
    let mut algorithm = None;
    let mut out = Vec::with_capacity(schemes.len());
    for &code in schemes {
        let scheme = rustls::SignatureScheme::from(code);
        let Some(a) = super::tls::scheme_algorithm(scheme) else {
            return Err(invalid(format!(
                "signature scheme 0x{code:04x} is not one TLS 1.2/1.3 signs with here (RSA PKCS#1 or PSS with SHA-256/384/512, ECDSA P-256/P-384/P-521, Ed25519)"
            )));
        };
        if *algorithm.get_or_insert(a) != a {
            return Err(invalid(
                "the signature schemes of a key signer are of one algorithm (one key): RSA, ECDSA or Ed25519",
            ));
        }
        out.push(scheme);
    }
    Ok(out)
}

/// Checks an explicit SigV4 region: 1 to [`REGION_MAX_LEN`] bytes.
pub fn validate_region(region: &str) -> Result<()> {
    if region.is_empty() || region.len() > REGION_MAX_LEN {
        return Err(invalid(format!(
            "the region is {} bytes: it must be 1 to {REGION_MAX_LEN}",
            region.len()
        )));
    }
    Ok(())
}

/// Checks the settings of a credentials provider: this build has SigV4, and an explicit
/// region (none: taken from the endpoint) follows [`validate_region`].
pub fn validate_provider_settings(region: Option<&str>) -> Result<()> {
    if !WEBSOCKET_BUILT {
        return Err(invalid(
            "a credentials provider needs the WebSocket transports, and this build of iotjobs has none (built without the cargo feature `websocket`)",
        ));
    }
    region.map_or(Ok(()), validate_region)
}

/// Checks credentials a provider returned, at `now`: the rules of [`validate_iam`], and an
/// expiry (if any) still ahead.
pub fn validate_provided(provided: &Provided, now: SystemTime) -> Result<()> {
    validate_iam(&provided.credentials, None)?;
    if let Some(at) = provided.expires_at {
        if at <= now {
            let secs = at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
            return Err(invalid(format!(
                "the credentials expired at {secs} (Unix seconds), before they were used"
            )));
        }
    }
    Ok(())
}

/// Checks an expiry given as Unix seconds (0: none) and converts it.
pub fn expiry_from_unix(secs: i64) -> Result<Option<SystemTime>> {
    match secs {
        0 => Ok(None),
        s if s < 0 => Err(invalid(format!(
            "an expiry of {s} Unix seconds is before 1970: use 0 for none"
        ))),
        s => Ok(Some(UNIX_EPOCH + Duration::from_secs(s as u64))),
    }
}

/// True when this build has the WebSocket transports and SigV4 (the cargo feature `websocket`,
/// on by default). The C API is the same either way; the rules below refuse what is missing.
pub const WEBSOCKET_BUILT: bool = cfg!(feature = "websocket");

/// Checks that this build has the transport: the WebSocket kinds need the `websocket` feature.
pub fn validate_transport(kind: TransportKind) -> Result<()> {
    if kind.is_websocket() && !WEBSOCKET_BUILT {
        return Err(invalid(format!(
            "transport {}: this build of iotjobs has no WebSocket transport (built without the cargo feature `websocket`)",
            kind.as_str()
        )));
    }
    Ok(())
}

/// A last-will message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastWill {
    pub topic: String,
    pub payload: Vec<u8>,
    pub qos: u8,
    pub retain: bool,
}

impl LastWill {
    /// A checked last will: a valid topic (no wildcards), at most 65535 payload bytes, QoS 0
    /// or 1.
    pub fn new(topic: &str, payload: &[u8], qos: u32, retain: bool) -> Result<LastWill> {
        check_will_topic(topic)?;
        check_will_payload(payload)?;
        Ok(LastWill {
            topic: topic.to_owned(),
            payload: payload.to_vec(),
            qos: validate_qos(qos)?,
            retain,
        })
    }

    /// Checks a last will built field by field, with the rules of [`LastWill::new`].
    pub fn validate(&self) -> Result<()> {
        check_will_topic(&self.topic)?;
        check_will_payload(&self.payload)?;
        validate_qos(u32::from(self.qos)).map(|_| ())
    }
}

fn check_will_topic(topic: &str) -> Result<()> {
    topic::validate_topic(topic)
        .map_err(|e| Error::new(jobs_result::InvalidTopic, format!("last will: {e}")))
}

fn check_will_payload(payload: &[u8]) -> Result<()> {
    if payload.len() > WILL_PAYLOAD_MAX {
        return Err(Error::new(
            jobs_result::PayloadTooLarge,
            format!(
                "a last-will payload holds at most {WILL_PAYLOAD_MAX} bytes, not {}",
                payload.len()
            ),
        ));
    }
    Ok(())
}

/// Everything needed to open and keep one MQTT connection. `Debug` never prints the password
/// or in-memory TLS material.
#[derive(Clone)]
pub struct ConnectionConfig {
    pub host: String,
    pub port: u16,
    pub transport: TransportKind,
    pub ws_path: String,
    pub tls: TlsSettings,
    pub client_id: String,
    pub protocol: Protocol,
    pub clean_session: bool,
    pub keep_alive_secs: u16,
    pub username: Option<String>,
    pub password: Option<String>,
    pub last_will: Option<LastWill>,
    pub connect_timeout: Duration,
    pub operation_timeout: Duration,
    pub max_packet_size: usize,
    pub backoff: BackoffConfig,
    pub queue_limit: QueueLimit,
    pub drop_policy: DropPolicy,
    /// Queued requests sent per second after a reconnect; 0 means as fast as possible.
    pub drain_rate_hz: f64,
    /// SigV4 signing of the WebSocket upgrade (AWS IoT over WSS): region and credentials,
    /// signed afresh on every connect.
    pub sigv4: Option<(String, Credentials)>,
    /// SigV4 signing with credentials asked from the application before every WebSocket
    /// handshake (region, provider); excludes `sigv4`.
    pub credentials_provider: Option<(String, Arc<CredentialsProvider>)>,
    /// Bytes of messages, events and log lines waiting for the callback thread, past which the
    /// connection stops reading the socket until callbacks catch up (TCP backpressure).
    pub callback_queue_bytes: usize,
    /// AWS IoT custom authentication: owns the CONNECT user name and password (and, on the
    /// WebSocket transports, adds its values to the upgrade); excludes SigV4, `username`,
    /// `password` and a client certificate.
    pub custom_authorizer: Option<CustomAuthorizer>,
}

impl Default for ConnectionConfig {
    /// The SDK's defaults: TLS, port 8883, MQTT 3.1.1, clean session, keep-alive 600 s,
    /// 30 s connect timeout, 5 s operation timeout, unbounded queue dropping the newest,
    /// draining at 2 per second.
    fn default() -> Self {
        ConnectionConfig {
            host: String::new(),
            port: 8883,
            transport: TransportKind::Tls,
            ws_path: "/mqtt".into(),
            tls: TlsSettings::default(),
            client_id: String::new(),
            protocol: Protocol::Mqtt311,
            clean_session: true,
            keep_alive_secs: 600,
            username: None,
            password: None,
            last_will: None,
            connect_timeout: Duration::from_secs(30),
            operation_timeout: Duration::from_secs(5),
            max_packet_size: DEFAULT_MAX_PACKET,
            backoff: BackoffConfig::default(),
            queue_limit: QueueLimit::Unbounded,
            drop_policy: DropPolicy::DropNewest,
            drain_rate_hz: 2.0,
            sigv4: None,
            credentials_provider: None,
            callback_queue_bytes: DEFAULT_CALLBACK_QUEUE_BYTES,
            custom_authorizer: None,
        }
    }
}

impl fmt::Debug for ConnectionConfig {
    // Debug output ends up in logs: the password is never printed (the TLS material and the
    // IAM credentials redact themselves).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("transport", &self.transport)
            .field("ws_path", &self.ws_path)
            .field("tls", &self.tls)
            .field("client_id", &self.client_id)
            .field("protocol", &self.protocol)
            .field("clean_session", &self.clean_session)
            .field("keep_alive_secs", &self.keep_alive_secs)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("last_will", &self.last_will)
            .field("connect_timeout", &self.connect_timeout)
            .field("operation_timeout", &self.operation_timeout)
            .field("max_packet_size", &self.max_packet_size)
            .field("backoff", &self.backoff)
            .field("queue_limit", &self.queue_limit)
            .field("drop_policy", &self.drop_policy)
            .field("drain_rate_hz", &self.drain_rate_hz)
            .field("sigv4", &self.sigv4)
            .field(
                "credentials_provider",
                &self.credentials_provider.as_ref().map(|(r, _)| r),
            )
            .field("custom_authorizer", &self.custom_authorizer)
            .finish()
    }
}

/// AWS's documented server-side rule, applied on the client so the value sent is the value used:
/// 1–29 s become 30 s; 0 and anything above 1200 s become 1200 s.
pub fn clamp_keep_alive(secs: u32) -> u16 {
    match secs {
        0 => KEEP_ALIVE_MAX,
        s if s < KEEP_ALIVE_MIN as u32 => KEEP_ALIVE_MIN,
        s if s > KEEP_ALIVE_MAX as u32 => KEEP_ALIVE_MAX,
        s => s as u16,
    }
}

impl ConnectionConfig {
    /// Checks the settings and fills in a generated client id where one is allowed.
    pub fn validate(mut self) -> Result<ConnectionConfig> {
        if self.host.is_empty() {
            return Err(Error::new(
                jobs_result::IncompleteConfig,
                "no endpoint host set (jobs_config_set_endpoint)",
            ));
        }
        validate_host(&self.host)?;
        validate_port(self.port)?;
        validate_transport(self.transport)?;
        if self.client_id.is_empty() {
            if !self.clean_session {
                return Err(invalid(
                    "an empty client id needs a clean session: the server cannot keep a session for a generated id",
                ));
            }
            self.client_id = generated_client_id();
        }
        validate_client_id(&self.client_id)?;
        if self.protocol == Protocol::Mqtt31 && self.client_id.len() > V31_MAX_CLIENT_ID {
            return Err(invalid(format!(
                "MQTT 3.1 allows client ids of at most {V31_MAX_CLIENT_ID} bytes; '{}' has {}",
                self.client_id,
                self.client_id.len()
            )));
        }
        validate_login(self.username.as_deref(), self.password.as_deref())?;
        if let Some(will) = &self.last_will {
            will.validate()?;
        }
        validate_timeout("connect timeout", self.connect_timeout)?;
        validate_timeout("operation timeout", self.operation_timeout)?;
        validate_max_packet_size(self.max_packet_size)?;
        validate_backoff(&self.backoff)?;
        validate_drain_rate(self.drain_rate_hz)?;
        for protocol in &self.tls.alpn {
            validate_alpn(protocol)?;
        }
        if self.transport.uses_tls() && self.tls.ca.is_none() {
            return Err(Error::new(
                jobs_result::IncompleteConfig,
                "TLS needs a CA certificate (jobs_config_set_ca_file or _pem); plain TCP must be asked for explicitly",
            ));
        }
        if let Some((region, credentials)) = &self.sigv4 {
            validate_iam(credentials, Some(region))?;
            if !self.transport.is_websocket() {
                return Err(invalid(
                    "IAM (SigV4) credentials apply to the WebSocket transports only",
                ));
            }
        }
        if let Some((region, _)) = &self.credentials_provider {
            if self.sigv4.is_some() {
                return Err(invalid(
                    "fixed IAM credentials and a credentials provider exclude each other: set one",
                ));
            }
            validate_provider_settings(Some(region))?;
            if !self.transport.is_websocket() {
                return Err(invalid(
                    "a credentials provider (SigV4) applies to the WebSocket transports only",
                ));
            }
        }
        if let Some(auth) = &self.custom_authorizer {
            validate_custom_authorizer(&self, auth)?;
        }
        Ok(self)
    }

    /// Wipes the secrets a `ConnectionConfig` cannot wipe itself (it has no `Drop`, so that
    /// `..ConnectionConfig::default()` keeps working): the password. The IAM credentials and
    /// in-memory PEM wipe themselves when dropped. Call it before dropping a config that held
    /// a password.
    pub fn wipe_secrets(&mut self) {
        self.password.zeroize();
    }

    /// The user name and password CONNECT carries: a custom authorizer's (on TLS and TCP its
    /// query rides in the user name), else `username` and `password`. Wiped when dropped.
    pub fn mqtt_login(&self) -> Option<MqttLogin<'_>> {
        if let Some(auth) = &self.custom_authorizer {
            let user = if self.transport.is_websocket() {
                Zeroizing::new(auth.username.clone().unwrap_or_default().into_bytes())
            } else {
                Zeroizing::new(std::mem::take(&mut *auth.mqtt_username()).into_bytes())
            };
            let pass = auth.password.as_ref().map(|p| p.as_slice());
            // On WebSocket with neither: no user name at all, as without an authorizer.
            if self.transport.is_websocket() && auth.username.is_none() && pass.is_none() {
                return None;
            }
            return Some((user, pass));
        }
        self.username.as_ref().map(|u| {
            (
                Zeroizing::new(u.as_bytes().to_vec()),
                self.password.as_ref().map(|p| p.as_bytes()),
            )
        })
    }

    /// The interval between queued requests while draining, if throttled.
    pub fn drain_interval(&self) -> Option<Duration> {
        (self.drain_rate_hz > 0.0).then(|| Duration::from_secs_f64(1.0 / self.drain_rate_hz))
    }
}

/// The CONNECT user name (wiped when dropped) and password of [`ConnectionConfig::mqtt_login`].
pub type MqttLogin<'a> = (Zeroizing<Vec<u8>>, Option<&'a [u8]>);

/// Checks a custom authorizer against the rest of a configuration: its own rules, no SigV4,
/// no separate user name or password, no client certificate, and on TLS an ALPN list that
/// offers `mqtt` (AWS IoT runs the authorizer only for that protocol).
pub fn validate_custom_authorizer(cfg: &ConnectionConfig, auth: &CustomAuthorizer) -> Result<()> {
    auth.validate()?;
    if cfg.sigv4.is_some() || cfg.credentials_provider.is_some() {
        return Err(invalid(
            "a custom authorizer and IAM (SigV4) credentials or a credentials provider exclude each other: set one",
        ));
    }
    if cfg.username.is_some() || cfg.password.is_some() {
        return Err(invalid(
            "a custom authorizer sets the MQTT username and password itself (its username and password fields): do not also call jobs_config_set_username_password",
        ));
    }
    let t = &cfg.tls;
    if t.client_cert.is_some()
        || t.client_key.is_some()
        || t.key_signer.is_some()
        || t.pem_provider.is_some()
        || t.pkcs11.is_some()
    {
        return Err(invalid(
            "a custom authorizer replaces the client certificate: AWS IoT authenticates a connection with one or the other, so set no client certificate or key",
        ));
    }
    if cfg.transport == TransportKind::Tls
        && !cfg
            .tls
            .alpn
            .iter()
            .any(|p| p == super::custom_auth::ALPN_MQTT)
    {
        return Err(invalid(
            "a custom authorizer over TLS needs ALPN `mqtt` (AWS IoT runs the authorizer only for it): leave ALPN unset, or include \"mqtt\"",
        ));
    }
    if cfg.transport.is_websocket() && !WEBSOCKET_BUILT {
        return Err(invalid(
            "this build of iotjobs has no WebSocket transport (built without the cargo feature `websocket`)",
        ));
    }
    if let Some(u) = cfg.mqtt_login() {
        if u.0.len() > u16::MAX as usize {
            return Err(invalid(format!(
                "the custom-authorizer CONNECT username would be {} bytes: MQTT allows at most 65535",
                u.0.len()
            )));
        }
    }
    Ok(())
}

/// `iotjobs-` plus 15 random hex digits: fits MQTT 3.1's 23-byte limit.
pub fn generated_client_id() -> String {
    format!("iotjobs-{:015x}", fastrand::u64(..) >> 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain() -> ConnectionConfig {
        ConnectionConfig {
            host: "127.0.0.1".into(),
            port: 1883,
            transport: TransportKind::Tcp,
            client_id: "dev".into(),
            ..ConnectionConfig::default()
        }
    }

    #[test]
    fn websocket_kinds_and_iam_credentials_follow_the_build() {
        let creds = || Credentials {
            access_key_id: "AKID".into(),
            secret_access_key: "secret".into(),
            session_token: None,
        };
        for kind in TransportKind::ALL.iter().copied() {
            let built = validate_transport(kind);
            let config = ConnectionConfig {
                transport: kind,
                ..plain()
            }
            .validate();
            if kind.is_websocket() && !WEBSOCKET_BUILT {
                let e = built.unwrap_err();
                assert_eq!(e.code, jobs_result::InvalidArgument);
                assert!(e.message.contains("cargo feature `websocket`"), "{e}");
                assert_eq!(config.unwrap_err(), e);
            } else {
                assert_eq!(built, Ok(()));
                // Plain TCP needs no CA; the TLS kinds fail only for the missing CA.
                if kind.uses_tls() {
                    assert_eq!(config.unwrap_err().code, jobs_result::IncompleteConfig);
                } else {
                    assert!(config.is_ok());
                }
            }
        }
        let iam = validate_iam(&creds(), Some("eu-west-1"));
        if WEBSOCKET_BUILT {
            assert_eq!(iam, Ok(()));
        } else {
            let e = iam.unwrap_err();
            assert_eq!(e.code, jobs_result::InvalidArgument);
            assert!(e.message.contains("cargo feature `websocket`"), "{e}");
        }
    }

    #[test]
    fn keep_alive_follows_the_aws_rule() {
        assert_eq!(clamp_keep_alive(0), 1200);
        assert_eq!(clamp_keep_alive(1), 30);
        assert_eq!(clamp_keep_alive(29), 30);
        assert_eq!(clamp_keep_alive(30), 30);
        assert_eq!(clamp_keep_alive(600), 600);
        assert_eq!(clamp_keep_alive(1200), 1200);
        assert_eq!(clamp_keep_alive(1201), 1200);
        assert_eq!(clamp_keep_alive(u32::MAX), 1200);
    }

    #[test]
    fn empty_client_id_is_generated_only_with_clean_session() {
        let cfg = ConnectionConfig {
            client_id: String::new(),
            ..plain()
        };
        let id = cfg.clone().validate().unwrap().client_id;
        assert!(id.starts_with("iotjobs-") && id.len() <= V31_MAX_CLIENT_ID);
        let persistent = ConnectionConfig {
            clean_session: false,
            ..cfg
        };
        assert_eq!(
            persistent.validate().unwrap_err().code,
            jobs_result::InvalidArgument
        );
    }

    #[test]
    fn refuses_what_the_protocol_or_aws_forbids() {
        let long_id = ConnectionConfig {
            client_id: "x".repeat(129),
            ..plain()
        };
        assert!(long_id.validate().is_err());
        let v31 = ConnectionConfig {
            protocol: Protocol::Mqtt31,
            client_id: "x".repeat(24),
            ..plain()
        };
        assert!(v31.validate().unwrap_err().message.contains("23"));
        let pw = ConnectionConfig {
            password: Some("p".into()),
            ..plain()
        };
        assert!(pw.validate().is_err());
        let will = ConnectionConfig {
            last_will: Some(LastWill {
                topic: "a/#".into(),
                payload: vec![],
                qos: 0,
                retain: false,
            }),
            ..plain()
        };
        assert_eq!(will.validate().unwrap_err().code, jobs_result::InvalidTopic);
        let no_host = ConnectionConfig {
            host: String::new(),
            ..plain()
        };
        assert_eq!(
            no_host.validate().unwrap_err().code,
            jobs_result::IncompleteConfig
        );
    }

    #[test]
    fn tls_is_never_a_silent_fallback() {
        let cfg = ConnectionConfig {
            transport: TransportKind::Tls,
            ..plain()
        };
        assert_eq!(
            cfg.validate().unwrap_err().code,
            jobs_result::IncompleteConfig
        );
    }

    #[test]
    fn drain_interval_from_rate() {
        assert_eq!(plain().drain_interval(), Some(Duration::from_millis(500)));
        let fast = ConnectionConfig {
            drain_rate_hz: 0.0,
            ..plain()
        };
        assert_eq!(fast.drain_interval(), None);
    }

    #[test]
    fn one_rule_per_setting_with_its_own_message() {
        assert!(validate_host("h").is_ok() && validate_host(&"h".repeat(253)).is_ok());
        for bad in [String::new(), "h".repeat(254)] {
            let e = validate_host(&bad).unwrap_err();
            assert_eq!(e.code, jobs_result::InvalidArgument);
            assert!(e.message.contains("1 to 253"), "{}", e.message);
        }
        assert!(validate_port(1).is_ok() && validate_port(0).is_err());
        assert!(validate_client_id(&"c".repeat(128)).is_ok());
        assert!(validate_client_id(&"c".repeat(129)).is_err());
        assert_eq!(validate_qos(0), Ok(0));
        assert_eq!(validate_qos(1), Ok(1));
        for bad in [2, 256, 257, u32::MAX] {
            let e = validate_qos(bad).unwrap_err();
            assert_eq!(
                e.message,
                format!("QoS {bad}: AWS IoT supports QoS 0 and 1")
            );
        }
        assert!(validate_login(Some("u"), None).is_ok());
        assert!(validate_login(None, Some("p")).is_err());
        for ok in [1, 3_600_000] {
            assert!(validate_timeout("t", Duration::from_millis(ok)).is_ok());
        }
        for bad in [0, 3_600_001] {
            assert!(validate_timeout("t", Duration::from_millis(bad)).is_err());
        }
        assert!(validate_timeout("t", Duration::from_micros(999)).is_err());
        assert!(validate_max_packet_size(128).is_ok() && validate_max_packet_size(127).is_err());
        assert!(validate_max_packet_size(268_435_455).is_ok());
        assert!(validate_max_packet_size(268_435_456).is_err());
        for bad in [-1.0, f64::NAN, f64::INFINITY, 1_000_001.0] {
            assert!(validate_drain_rate(bad).is_err(), "{bad}");
        }
        assert!(validate_drain_rate(0.0).is_ok() && validate_drain_rate(1e6).is_ok());
        assert!(validate_alpn(b"x").is_ok() && validate_alpn(&[b'a'; 255]).is_ok());
        assert!(validate_alpn(b"").is_err() && validate_alpn(&[b'a'; 256]).is_err());
        assert_eq!(queue_limit(-1), Ok(QueueLimit::Unbounded));
        assert!(queue_limit(-2).is_err());
    }

    #[test]
    fn last_will_rules_are_the_same_built_or_checked() {
        let will = LastWill::new("will", b"bye", 1, true).unwrap();
        assert_eq!(will.validate(), Ok(()));
        let bad_topic = LastWill::new("a/#", b"", 0, false).unwrap_err();
        assert_eq!(bad_topic.code, jobs_result::InvalidTopic);
        let big = LastWill::new("w", &vec![0; 65536], 0, false).unwrap_err();
        assert_eq!(big.code, jobs_result::PayloadTooLarge);
        let qos = LastWill::new("w", b"", 2, false).unwrap_err();
        let literal = LastWill {
            qos: 2,
            ..will.clone()
        };
        assert_eq!(literal.validate().unwrap_err(), qos);
        let in_config = ConnectionConfig {
            last_will: Some(literal),
            ..plain()
        };
        assert_eq!(in_config.validate().unwrap_err(), qos);
    }

    #[test]
    fn validate_applies_the_setter_rules() {
        let cases = [
            ConnectionConfig {
                max_packet_size: 127,
                ..plain()
            },
            ConnectionConfig {
                connect_timeout: Duration::from_secs(3601),
                ..plain()
            },
            ConnectionConfig {
                drain_rate_hz: 2e6,
                ..plain()
            },
            ConnectionConfig {
                host: "h".repeat(254),
                ..plain()
            },
        ];
        let expected = [
            validate_max_packet_size(127),
            validate_timeout("connect timeout", Duration::from_secs(3601)),
            validate_drain_rate(2e6),
            validate_host(&"h".repeat(254)),
        ];
        for (cfg, want) in cases.into_iter().zip(expected) {
            assert_eq!(cfg.validate().err(), want.err());
        }
    }

    #[test]
    fn debug_never_prints_the_password() {
        let cfg = ConnectionConfig {
            username: Some("user".into()),
            password: Some("hunter2-secret".into()),
            ..plain()
        };
        let d = format!("{cfg:?}");
        assert!(!d.contains("hunter2-secret"), "{d}");
        assert!(d.contains("<redacted>") && d.contains("user"), "{d}");
    }

    fn authorizer() -> CustomAuthorizer {
        CustomAuthorizer::new(
            "auth",
            Some("tok"),
            Some("t1"),
            Some("AAAA"),
            Some("u"),
            Some(b"pw"),
            super::super::custom_auth::CustomAuthForm::Headers,
        )
        .unwrap()
    }

    #[test]
    fn a_custom_authorizer_owns_the_login_and_excludes_other_credentials() {
        let with = |cfg: ConnectionConfig| ConnectionConfig {
            custom_authorizer: Some(authorizer()),
            ..cfg
        };
        let ok = with(plain()).validate().unwrap();
        let (user, pass) = ok.mqtt_login().unwrap();
        assert_eq!(
            std::str::from_utf8(&user).unwrap(),
            "u?x-amz-customauthorizer-name=auth&x-amz-customauthorizer-signature=AAAA&tok=t1"
        );
        assert_eq!(pass, Some(&b"pw"[..]));
        // Over WebSocket the values ride on the upgrade: CONNECT has the plain login.
        let ws = ConnectionConfig {
            transport: TransportKind::Websocket,
            ..ok.clone()
        };
        assert_eq!(&ws.mqtt_login().unwrap().0[..], b"u");
        let e = with(ConnectionConfig {
            username: Some("x".into()),
            ..plain()
        })
        .validate()
        .unwrap_err();
        assert!(
            e.message.contains("jobs_config_set_username_password"),
            "{e}"
        );
        // SigV4 needs a WebSocket transport, which only the `websocket` build has.
        #[cfg(feature = "websocket")]
        {
            let e = with(ConnectionConfig {
                transport: TransportKind::Websocket,
                sigv4: Some((
                    "r".into(),
                    Credentials {
                        access_key_id: "a".into(),
                        secret_access_key: "s".into(),
                        session_token: None,
                    },
                )),
                ..plain()
            })
            .validate()
            .unwrap_err();
            assert!(e.message.contains("exclude each other"), "{e}");
        }
        let mut cert = with(plain());
        cert.tls.client_cert = Some(super::super::tls::PemSource::Memory(
            b"-----BEGIN CERTIFICATE-----".to_vec(),
        ));
        let e = cert.validate().unwrap_err();
        assert!(e.message.contains("client certificate"), "{e}");
        #[cfg(feature = "pkcs11")]
        {
            let mut token = with(plain());
            token.tls.pkcs11 = Some(
                super::super::pkcs11::Pkcs11Settings::new(
                    "/nonexistent/module.so",
                    None,
                    Some("token"),
                    "1234",
                    "key",
                    None,
                )
                .unwrap(),
            );
            let e = token.validate().unwrap_err();
            assert!(e.message.contains("client certificate"), "{e}");
        }
        // TLS needs ALPN `mqtt` on offer (the C layer fills it in when unset).
        let mut tls = with(plain());
        tls.transport = TransportKind::Tls;
        tls.tls.ca = Some(super::super::tls::PemSource::Memory(b"ca".to_vec()));
        tls.tls.alpn = vec![b"x-amzn-mqtt-ca".to_vec()];
        assert!(tls.clone().validate().unwrap_err().message.contains("ALPN"));
        tls.tls.alpn.push(b"mqtt".to_vec());
        assert!(tls.validate().is_ok());
        // The field's own rules apply to a literal too.
        let mut bad = authorizer();
        bad.authorizer_name = "a b".into();
        let e = ConnectionConfig {
            custom_authorizer: Some(bad),
            ..plain()
        }
        .validate()
        .unwrap_err();
        assert!(e.message.contains("authorizer name"), "{e}");
    }

    #[test]
    fn wipe_secrets_clears_the_password() {
        let mut cfg = ConnectionConfig {
            username: Some("u".into()),
            password: Some("p".into()),
            ..plain()
        };
        cfg.wipe_secrets();
        assert_eq!((cfg.username.as_deref(), cfg.password), (Some("u"), None));
    }
}
