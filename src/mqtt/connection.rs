//! The connection handle: the Rust face of the session engine (the SDK's `AWSIoTMQTTClient`).
//!
//! Every method may be called from any thread, including from inside a callback: blocking
//! methods wait for the runtime thread, never for the callback thread.

use super::config::{validate_qos, ConnectionConfig};
use super::core::{Op, Request};
pub use super::driver::Extension;
use super::driver::{self, Shared};
use super::tls;
use super::topic;
use super::transport::TransportKind;
use super::types::*;
use crate::error::{jobs_result, Error, Result};
use crate::runtime;
use bytes::Bytes;
use std::sync::mpsc::sync_channel;
use std::sync::Arc;
use std::time::Duration;

/// A shareable MQTT connection. Cloning shares the same connection.
#[derive(Clone)]
pub struct Connection {
    shared: Arc<Shared>,
}

/// Bytes of a PUBLISH besides topic and payload: fixed header (≤5), topic length (2), packet id (2).
const PUBLISH_OVERHEAD: usize = 9;

impl Connection {
    /// Validates `cfg`, loads its TLS material and starts the (idle) engine task.
    /// Errors: `InvalidArgument`, `IncompleteConfig`, `InvalidTopic`, `TlsConfig`.
    pub fn new(cfg: ConnectionConfig, callbacks: Callbacks) -> Result<Connection> {
        let mut cfg = cfg.validate()?;
        // Application code the handshake calls goes through this connection's I/O gate, so
        // none runs once the connection is closed.
        let io_gate = runtime::Gate::new();
        // Before the gate wraps the key signer: a PKCS#11 key becomes one here, so a bad PIN
        // or a missing key fails creation instead of every connection attempt.
        if cfg.transport.uses_tls() {
            tls::open_pkcs11(&mut cfg.tls)
                .map_err(|e| Error::new(jobs_result::TlsConfig, e.to_string()))?;
        }
        if let Some(k) = &mut cfg.tls.key_signer {
            let (inner, gate) = (k.sign.clone(), io_gate.clone());
            k.sign = Arc::new(move |scheme, message| {
                gate.run(|| inner(scheme, message))
                    .unwrap_or_else(|| Err("the connection is closed".into()))
            });
        }
        if let Some(p) = &mut cfg.tls.pem_provider {
            let (inner, gate) = (p.0.clone(), io_gate.clone());
            p.0 = Arc::new(move || {
                gate.run(|| inner())
                    .unwrap_or_else(|| Err("the connection is closed".into()))
            });
        }
        let tls = match cfg.transport {
            TransportKind::Tls | TransportKind::WebsocketTls => Some(
                tls::build_client_config(&cfg.tls)
                    .map_err(|e| Error::new(jobs_result::TlsConfig, e.to_string()))?,
            ),
            TransportKind::Tcp | TransportKind::Websocket => None,
        };
        let shared = Arc::new(Shared::new(cfg, tls, callbacks, io_gate));
        runtime::handle().spawn(driver::run(shared.clone()));
        Ok(Connection { shared })
    }

    pub fn config(&self) -> &ConnectionConfig {
        &self.shared.cfg
    }

    /// The client id in use (generated when the configuration left it empty).
    pub fn client_id(&self) -> &str {
        &self.shared.cfg.client_id
    }

    /// Connects and waits for CONNACK, bounded by the connect timeout. On failure the
    /// connection stays disconnected (no background retry). Returns `Ok` at once when connected.
    pub fn connect(&self) -> Result<()> {
        let (tx, rx) = sync_channel(1);
        self.shared.request_connect(Some(tx))?;
        let limit = self.shared.cfg.connect_timeout + Duration::from_secs(2);
        match rx.recv_timeout(limit) {
            Ok(r) => r,
            Err(_) => {
                let _ = self.shared.request_disconnect(None);
                Err(Error::new(
                    jobs_result::Timeout,
                    "connect did not complete in time",
                ))
            }
        }
    }

    /// Starts connecting and returns; retries with backoff until connected or disconnected.
    pub fn connect_async(&self) -> Result<()> {
        self.shared.request_connect(None)
    }

    /// Waits briefly for acks on their way, sends DISCONNECT, closes the link and waits for that
    /// (bounded by the connect timeout). Queued and unacknowledged requests are kept for the
    /// next connect.
    pub fn disconnect(&self) -> Result<()> {
        self.shared.each_extension(|e| e.user_disconnected());
        let (tx, rx) = sync_channel(1);
        self.shared.request_disconnect(Some(tx))?;
        rx.recv_timeout(self.shared.cfg.connect_timeout)
            .map_err(|_| Error::new(jobs_result::Timeout, "disconnect did not complete in time"))
    }

    pub fn status(&self) -> Status {
        self.shared.status()
    }

    pub fn counters(&self) -> Counters {
        self.shared.counters()
    }

    /// Publishes; the completion gets the PUBACK (QoS 1) or fires once written (QoS 0).
    /// Errors: `InvalidTopic`, `InvalidArgument`, `PayloadTooLarge`, `QueueFull`,
    /// `QueueDisabled`, `Busy`, `Closed`. On error the completion never fires.
    pub fn publish(
        &self,
        topic: &str,
        payload: &[u8],
        qos: u8,
        retain: bool,
        completion: Completion,
    ) -> Result<Submitted> {
        self.publish_until(topic, payload, qos, retain, None, completion)
    }

    /// [`Connection::publish`], except that while queued offline the request expires at
    /// `expires_at`: then it is never sent and its completion gets `Timeout`.
    pub fn publish_until(
        &self,
        topic: &str,
        payload: &[u8],
        qos: u8,
        retain: bool,
        expires_at: Option<std::time::Instant>,
        completion: Completion,
    ) -> Result<Submitted> {
        topic::validate_topic(topic).map_err(|e| Error::new(jobs_result::InvalidTopic, e.0))?;
        validate_qos(qos.into())?;
        let size = topic.len() + payload.len() + PUBLISH_OVERHEAD;
        let max = self.shared.cfg.max_packet_size;
        if size > max {
            return Err(Error::new(
                jobs_result::PayloadTooLarge,
                format!(
                    "a {}-byte payload on '{topic}' makes a {size}-byte packet; the limit is {max}",
                    payload.len()
                ),
            ));
        }
        self.shared.submit(Request {
            expires_at,
            op: Op::Publish {
                topic: topic.to_owned(),
                payload: Bytes::copy_from_slice(payload),
                qos,
                retain,
            },
            completion,
        })
    }

    /// Publishes and, for QoS 1, waits for PUBACK up to the operation timeout. A queued
    /// request returns `Queued` at once. `Timeout` leaves the message in flight: it is
    /// retransmitted after a reconnect, never silently dropped.
    pub fn publish_sync(
        &self,
        topic: &str,
        payload: &[u8],
        qos: u8,
        retain: bool,
    ) -> Result<Submitted> {
        if qos == 0 {
            return self.publish(topic, payload, 0, retain, Completion::None);
        }
        let (tx, rx) = sync_channel(1);
        let sub = self.publish(topic, payload, qos, retain, Completion::Wait(tx))?;
        self.wait_ack(sub, rx).map(|_| sub)
    }

    /// Subscribes; `handler` gets every message matching `filter` (on the callback thread).
    /// The completion gets the SUBACK: `Ok` with the granted QoS, or `SubscribeRefused`.
    pub fn subscribe(
        &self,
        filter: &str,
        qos: u8,
        handler: Option<Handler>,
        completion: Completion,
    ) -> Result<Submitted> {
        topic::validate_filter(filter).map_err(|e| Error::new(jobs_result::InvalidTopic, e.0))?;
        validate_qos(qos.into())?;
        self.shared.submit(Request {
            expires_at: None,
            op: Op::Subscribe {
                filter: filter.to_owned(),
                qos,
                handler,
            },
            completion,
        })
    }

    /// Subscribes and waits for SUBACK; returns the granted QoS (or `None` when queued).
    /// Errors besides [`Connection::subscribe`]'s: `SubscribeRefused`, `Timeout`.
    pub fn subscribe_sync(
        &self,
        filter: &str,
        qos: u8,
        handler: Option<Handler>,
    ) -> Result<Option<u8>> {
        let (tx, rx) = sync_channel(1);
        let sub = self.subscribe(filter, qos, handler, Completion::Wait(tx))?;
        self.wait_ack(sub, rx).map(|ack| ack.map(|a| a.granted_qos))
    }

    /// Unsubscribes; its record is forgotten at once, so it is not re-made after a reconnect.
    pub fn unsubscribe(&self, filter: &str, completion: Completion) -> Result<Submitted> {
        topic::validate_filter(filter).map_err(|e| Error::new(jobs_result::InvalidTopic, e.0))?;
        self.shared.submit(Request {
            expires_at: None,
            op: Op::Unsubscribe {
                filter: filter.to_owned(),
            },
            completion,
        })
    }

    /// Unsubscribes and waits for UNSUBACK up to the operation timeout.
    pub fn unsubscribe_sync(&self, filter: &str) -> Result<Submitted> {
        let (tx, rx) = sync_channel(1);
        let sub = self.unsubscribe(filter, Completion::Wait(tx))?;
        self.wait_ack(sub, rx).map(|_| sub)
    }

    fn wait_ack(&self, sub: Submitted, rx: std::sync::mpsc::Receiver<Ack>) -> Result<Option<Ack>> {
        if sub == Submitted::Queued {
            return Ok(None);
        }
        let limit = self.shared.cfg.operation_timeout;
        match rx.recv_timeout(limit) {
            Ok(ack) if ack.result == jobs_result::Ok => Ok(Some(ack)),
            Ok(ack) => Err(Error::new(
                ack.result,
                format!("packet {} completed with: {}", ack.packet_id, ack.result.describe()),
            )),
            Err(_) => Err(Error::new(
                jobs_result::Timeout,
                format!(
                    "no acknowledgement within the operation timeout ({} ms); the request stays in flight",
                    limit.as_millis()
                ),
            )),
        }
    }

    /// Routes messages under `prefix` that match no subscription to `handler`; returns an id
    /// for [`Connection::remove_route`].
    pub fn add_route(&self, prefix: &str, handler: Handler) -> Result<u64> {
        self.shared.add_route(prefix.to_owned(), handler)
    }

    pub fn remove_route(&self, id: u64) {
        self.shared.remove_route(id)
    }

    /// Writes a log line through the connection's log callback.
    pub fn log(&self, level: LogLevel, msg: impl Into<String>) {
        self.shared.log(level, msg);
    }

    /// Stops the engine for good and closes the callback gate: once this returns (off the
    /// callback thread), no connection-level callback runs again.
    pub fn close(&self) {
        self.shared.shutdown();
        self.shared.each_extension(|e| e.closed());
        self.shared.callbacks.gate.close();
        self.shared.io_gate.close();
    }

    /// The connection's one `T`, made on first use: state a layer above keeps per connection
    /// (the jobs request router), told when the user disconnects and when the connection closes.
    pub fn extension<T: Extension + Default>(&self) -> Arc<T> {
        self.shared.extension::<T>()
    }
}

impl Connection {
    /// The gate of the connection-level callbacks; raw subscriptions made through the C API
    /// share it, so freeing the connection silences them too.
    pub fn shared_gate(&self) -> std::sync::Arc<crate::runtime::Gate> {
        self.shared.callbacks.gate.clone()
    }
}
