//! The connection engine (`iotjobs::mqtt::connection::Connection`) against a broker the test
//! started: configurations with short timeouts, an inbox of received messages, a QoS 1 round
//! trip and a connect that must fail.

use iotjobs::error::jobs_result;
use iotjobs::mqtt::config::ConnectionConfig;
use iotjobs::mqtt::connection::Connection;
use iotjobs::mqtt::tls::TlsSettings;
use iotjobs::mqtt::transport::TransportKind;
use iotjobs::mqtt::types::{Callbacks, Event, EventKind, Message, Status, Submitted};
use std::sync::mpsc::{channel, Receiver};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Bound on every single wait for a callback or an acknowledgement.
pub const WAIT: Duration = Duration::from_secs(15);

/// A plain-TCP configuration for `127.0.0.1:port` with short timeouts and a fast reconnect.
pub fn tcp_config(port: u16, client_id: &str) -> ConnectionConfig {
    let mut cfg = ConnectionConfig {
        host: "127.0.0.1".into(),
        port,
        transport: TransportKind::Tcp,
        client_id: client_id.into(),
        keep_alive_secs: 30,
        connect_timeout: Duration::from_secs(10),
        operation_timeout: Duration::from_secs(10),
        drain_rate_hz: 0.0,
        ..ConnectionConfig::default()
    };
    cfg.backoff.base = Duration::from_millis(50);
    cfg.backoff.max = Duration::from_millis(250);
    cfg.backoff.stable = Duration::from_secs(2);
    cfg
}

/// A TLS configuration for `host:port` with `tls` material.
pub fn tls_config(host: &str, port: u16, client_id: &str, tls: TlsSettings) -> ConnectionConfig {
    ConnectionConfig {
        host: host.into(),
        transport: TransportKind::Tls,
        tls,
        ..tcp_config(port, client_id)
    }
}

/// Messages arriving on a connection's `on_message`, as (topic, payload).
pub struct Inbox {
    pub rx: Receiver<(String, Vec<u8>)>,
}

pub fn inbox_callbacks() -> (Callbacks, Inbox) {
    let (tx, rx) = channel();
    let tx = Mutex::new(tx);
    let cb = Callbacks {
        on_message: Some(Box::new(move |m: &Message| {
            if let Ok(t) = tx.lock() {
                let _ = t.send((m.topic.to_string(), m.payload.to_vec()));
            }
        })),
        ..Callbacks::default()
    };
    (cb, Inbox { rx })
}

/// Connection-level events (kind, result) in arrival order, plus the message inbox.
pub fn evented_callbacks() -> (Callbacks, Inbox, Receiver<(EventKind, jobs_result)>) {
    let (cb, inbox) = inbox_callbacks();
    let (tx, rx) = channel();
    let tx = Mutex::new(tx);
    let cb = Callbacks {
        on_event: Some(Box::new(move |e: &Event| {
            if let Ok(t) = tx.lock() {
                let _ = t.send((e.kind, e.result));
            }
        })),
        ..cb
    };
    (cb, inbox, rx)
}

impl Inbox {
    /// The next message on `topic` (others are skipped), within `WAIT`.
    pub fn expect(&self, topic: &str) -> Vec<u8> {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok((t, p)) if t == topic => return p,
                Ok(_) => {}
                Err(_) => panic!("no message on {topic} within {WAIT:?}"),
            }
        }
    }
}

/// A connection made with `cfg`, connected (blocking) and online.
pub fn connect(cfg: ConnectionConfig) -> (Connection, Inbox) {
    let what = format!("{}:{} {:?}", cfg.host, cfg.port, cfg.transport);
    let (cb, inbox) = inbox_callbacks();
    let conn = Connection::new(cfg, cb).unwrap_or_else(|e| panic!("Connection::new {what}: {e}"));
    conn.connect()
        .unwrap_or_else(|e| panic!("connect {what}: {e}"));
    assert_eq!(conn.status(), Status::Online, "status after connect {what}");
    (conn, inbox)
}

/// Subscribes to a `$aws/...` jobs topic at QoS 1, publishes to it at QoS 1 (waiting for the
/// PUBACK) and expects the message back, byte for byte.
pub fn round_trip(conn: &Connection, inbox: &Inbox) {
    let topic = format!("$aws/things/{}/jobs/notify-next", conn.client_id());
    let granted = conn
        .subscribe_sync(&topic, 1, None)
        .unwrap_or_else(|e| panic!("subscribe {topic}: {e}"));
    assert_eq!(granted, Some(1), "granted QoS for {topic}");
    let payload = format!(
        "{{\"execution\":{{\"jobId\":\"j-{}\"}},\"timestamp\":{}}}",
        fastrand::u32(..),
        fastrand::u32(..)
    );
    let sent = conn
        .publish_sync(&topic, payload.as_bytes(), 1, false)
        .unwrap_or_else(|e| panic!("publish {topic}: {e}"));
    assert!(
        matches!(sent, Submitted::Sent { packet_id } if packet_id != 0),
        "QoS 1 publish went out with a packet id: {sent:?}"
    );
    assert_eq!(
        inbox.expect(&topic),
        payload.as_bytes(),
        "payload on {topic}"
    );
}

/// The error of a connect that must fail, bounded by the connect timeout.
pub fn connect_error(cfg: ConnectionConfig) -> iotjobs::error::Error {
    let what = format!("{}:{} {:?}", cfg.host, cfg.port, cfg.transport);
    let conn =
        Connection::new(cfg, Callbacks::default()).unwrap_or_else(|e| panic!("new {what}: {e}"));
    let started = Instant::now();
    let err = match conn.connect() {
        Ok(()) => panic!("connect {what} succeeded but must be refused"),
        Err(e) => e,
    };
    assert!(
        started.elapsed() < Duration::from_secs(13),
        "refusal was bounded"
    );
    assert_ne!(conn.status(), Status::Online);
    conn.close();
    err
}

/// The line of the broker log where `client_id` connected (`... as <id> (p2, c1, k30) ...`).
pub fn connect_line(log: &str, client_id: &str) -> String {
    log.lines()
        .find(|l| l.contains(&format!(" as {client_id} (")))
        .unwrap_or_else(|| panic!("no connect line for {client_id}:\n{log}"))
        .to_owned()
}
