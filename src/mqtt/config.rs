//! Connection settings and their validation (pure logic).

use super::backoff::BackoffConfig;
use super::queue::{DropPolicy, QueueLimit};
use super::sigv4::Credentials;
use super::tls::TlsSettings;
use super::topic;
use super::transport::TransportKind;
use crate::error::{jobs_result, Error, Result};
use std::time::Duration;

/// MQTT protocol level. Numbering follows the SDK (`MQTTv3_1 = 3`, `MQTTv3_1_1 = 4`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    V31 = 3,
    V311 = 4,
}

/// The MQTT 3.1 client-id limit (3.1.1 lifted it; AWS allows 128 bytes).
pub const V31_MAX_CLIENT_ID: usize = 23;
/// AWS IoT's client-id limit.
pub const AWS_MAX_CLIENT_ID: usize = 128;
/// AWS IoT's message size limit, the default maximum packet size.
pub const DEFAULT_MAX_PACKET: usize = 128 * 1024;
/// AWS IoT accepts keep-alive values from 30 to 1200 s.
/// Callback backlog before reading pauses: room for two maximum-size messages.
pub const DEFAULT_CALLBACK_QUEUE_BYTES: usize = 256 * 1024;
pub const KEEP_ALIVE_MIN: u16 = 30;
pub const KEEP_ALIVE_MAX: u16 = 1200;

/// A last-will message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastWill {
    pub topic: String,
    pub payload: Vec<u8>,
    pub qos: u8,
    pub retain: bool,
}

/// Everything needed to open and keep one MQTT connection.
#[derive(Debug, Clone)]
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
    /// Bytes of messages, events and log lines waiting for the callback thread, past which the
    /// connection stops reading the socket until callbacks catch up (TCP backpressure).
    pub callback_queue_bytes: usize,
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
            protocol: Protocol::V311,
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
            callback_queue_bytes: DEFAULT_CALLBACK_QUEUE_BYTES,
        }
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

fn invalid(msg: impl Into<String>) -> Error {
    Error::new(jobs_result::InvalidArgument, msg)
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
        if self.port == 0 {
            return Err(invalid("endpoint port must be 1-65535"));
        }
        if self.client_id.is_empty() {
            if !self.clean_session {
                return Err(invalid(
                    "an empty client id needs a clean session: the server cannot keep a session for a generated id",
                ));
            }
            self.client_id = generated_client_id();
        }
        if self.client_id.len() > AWS_MAX_CLIENT_ID {
            return Err(invalid(format!(
                "client id is {} bytes; AWS IoT allows at most {AWS_MAX_CLIENT_ID}",
                self.client_id.len()
            )));
        }
        if self.protocol == Protocol::V31 && self.client_id.len() > V31_MAX_CLIENT_ID {
            return Err(invalid(format!(
                "MQTT 3.1 allows client ids of at most {V31_MAX_CLIENT_ID} bytes; '{}' has {}",
                self.client_id,
                self.client_id.len()
            )));
        }
        if self.password.is_some() && self.username.is_none() {
            return Err(invalid("a password needs a username (MQTT 3.1.1 §3.1.2.9)"));
        }
        if let Some(will) = &self.last_will {
            topic::validate_topic(&will.topic)
                .map_err(|e| Error::new(jobs_result::InvalidTopic, format!("last will: {e}")))?;
            if will.qos > 1 {
                return Err(invalid(
                    "last will QoS must be 0 or 1 (AWS IoT has no QoS 2)",
                ));
            }
        }
        if self.connect_timeout.is_zero() || self.operation_timeout.is_zero() {
            return Err(invalid("timeouts must be greater than 0"));
        }
        if self.max_packet_size < 128 || self.max_packet_size > 268_435_455 {
            return Err(invalid(
                "maximum packet size must be between 128 bytes and 256 MiB",
            ));
        }
        self.backoff.validate().map_err(invalid)?;
        if !self.drain_rate_hz.is_finite() || self.drain_rate_hz < 0.0 {
            return Err(invalid("draining rate must be a finite number >= 0"));
        }
        let needs_tls = matches!(
            self.transport,
            TransportKind::Tls | TransportKind::WebSocketTls
        );
        if needs_tls && self.tls.ca.is_none() {
            return Err(Error::new(
                jobs_result::IncompleteConfig,
                "TLS needs a CA certificate (jobs_config_set_ca_file or _pem); plain TCP must be asked for explicitly",
            ));
        }
        if self.sigv4.is_some() && !self.transport.is_websocket() {
            return Err(invalid(
                "IAM (SigV4) credentials apply to the WebSocket transports only",
            ));
        }
        Ok(self)
    }

    /// The interval between queued requests while draining, if throttled.
    pub fn drain_interval(&self) -> Option<Duration> {
        (self.drain_rate_hz > 0.0).then(|| Duration::from_secs_f64(1.0 / self.drain_rate_hz))
    }
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
            protocol: Protocol::V31,
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
}
