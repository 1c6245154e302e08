//! # iotjobs-emulator: a local AWS IoT endpoint
//!
//! An MQTT 3.1.1 server (built on the `rumqttc::mqttbytes::v4` codec) with the AWS IoT Jobs
//! service, a control API and fault injection. Use it in-process from Rust tests
//! ([`Emulator::start`]) or as the `iotjobs-emulator` binary.
//!
//! ## MQTT behaviour (AWS IoT Core semantics)
//! - QoS 0 and 1. A SUBSCRIBE asking QoS 2 gets return code 0x80 for that filter; a QoS 2 PUBLISH
//!   closes the connection (AWS sends no PUBACK for QoS 2).
//! - Wildcards `+` and `#`; a filter starting with a wildcard does not match `$` topics.
//! - A second connection with the same client id takes over: the older one is closed.
//! - Keep-alive is enforced at 1.5 × the CONNECT value (0 = none). With
//!   [`EmulatorConfig::aws_keepalive_limits`] the AWS clamping applies (0 or > 1200 → 1200,
//!   1–29 → 30). A black-holed connection is never timed out by the server.
//! - An empty client id with clean session gets a generated id (`iotjobs-emu-N`); with
//!   clean_session=0 it is refused with CONNACK 0x02. Ids over 128 bytes get 0x02.
//! - MQTT 3.1 (`MQIsdp`, level 3) is accepted; other protocol names/levels get CONNACK 0x01.
//! - AWS limits: payload ≤ [`EmulatorConfig::max_payload`] (128 KiB), topic ≤ 256 bytes and
//!   ≤ 7 slashes, ≤ 8 filters per SUBSCRIBE and ≤ 50 subscriptions per connection (extra
//!   filters get 0x80).
//! - **Reserved topics: the emulator disconnects** a client that publishes to any `$` topic other
//!   than the Jobs topics `$aws/things/{thing}/jobs/...` (as AWS does for a topic the policy does
//!   not allow), or that publishes with RETAIN to a Jobs topic. Publishes to Jobs topics are not
//!   routed to subscribers: they go to the Jobs service, whose replies are sent to the requesting
//!   client only, whether or not it subscribed (QoS of its best matching subscription, else 0).
//! - Persistent sessions (clean_session=0): subscriptions, unacknowledged QoS 1 publishes
//!   (resent with DUP=1) and QoS 1 publishes that arrived while offline (up to 1000) are kept;
//!   CONNACK reports session_present=1. Sessions expire after
//!   [`EmulatorConfig::session_expiry`] offline (AWS: 1 h); [`Emulator::drop_session`] forgets
//!   one at once.
//! - At most 100 unacknowledged outbound QoS 1 publishes per client (AWS); more wait in the
//!   session until PUBACKs arrive.
//! - Retained messages on non-`$` topics; delivered on non-wildcard subscriptions only (AWS).
//! - Last will published when a connection ends without DISCONNECT (including cut/takeover).
//! - Malformed packets close that connection (logged); no panic.
//!
//! ## Jobs service
//! See [`jobs::machine`] for the exact semantics (and the few choices AWS's documentation
//! leaves open).
//!
//! ## Control port protocol
//! See [`control`]: line-based JSON over loopback TCP, one request per line, one reply per line.

pub mod broker;
pub mod cli;
pub mod connect;
pub mod control;
pub mod custom_auth;
pub mod faults;
pub mod jobs;
pub mod server;
pub mod sigv4;
pub mod topic;
pub mod transport;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use broker::{lock, Shared};
use bytes::Bytes;
pub use custom_auth::{AuthRecord, AuthRequest, AuthVia, CustomAuthorizerConfig};
pub use jobs::machine::{JobOptions, RetryConfig};
pub use rumqttc::mqttbytes::v4::Packet;
pub use rumqttc::mqttbytes::QoS;
use server::Kind;
pub use sigv4::SigV4Config;
use tokio::sync::mpsc::unbounded_channel;

/// TLS listener settings: the server presents `cert`/`key` (PEM) and requires a client
/// certificate that chains to `client_ca` (PEM).
#[derive(Clone, Debug)]
pub struct TlsConfig {
    pub bind: SocketAddr,
    pub cert: PathBuf,
    pub key: PathBuf,
    pub client_ca: PathBuf,
}

/// MQTT over secure WebSocket (AWS's SigV4 path): TLS with server authentication only, path
/// `/mqtt`. The SigV4 query is verified when [`EmulatorConfig::sigv4`] is set;
/// [`Emulator::ws_requests`] shows what arrived.
#[derive(Clone, Debug)]
pub struct WssConfig {
    pub bind: SocketAddr,
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// One WebSocket upgrade request as the server received it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WsRequest {
    /// Request target, e.g. `/mqtt?X-Amz-Algorithm=…`.
    pub uri: String,
    /// Header names (lower case) and values, in order.
    pub headers: Vec<(String, String)>,
}

/// Emulator settings. `Default`: plain MQTT on 127.0.0.1:0 (a free port), no TLS, no WebSocket,
/// no control port, 128 KiB payloads, one jobs "minute" = 60 s, quiet unless the environment
/// variable `IOTJOBS_EMULATOR_LOG` is set.
#[derive(Clone, Debug)]
pub struct EmulatorConfig {
    /// Plain MQTT listener (loopback only).
    pub bind: SocketAddr,
    /// Optional TLS listener with required client certificates.
    pub tls: Option<TlsConfig>,
    /// Optional MQTT-over-WebSocket listener (plain ws, path `/mqtt`).
    pub ws: Option<SocketAddr>,
    /// Optional MQTT-over-secure-WebSocket listener.
    pub wss: Option<WssConfig>,
    /// Optional control port (line-based JSON, see [`control`]).
    pub control: Option<SocketAddr>,
    /// Largest PUBLISH payload accepted (AWS: 128 KiB); bigger ones close the connection.
    pub max_payload: usize,
    /// Apply AWS's keep-alive clamping (30–1200 s) instead of the client's exact value.
    pub aws_keepalive_limits: bool,
    /// Time allowed between TCP accept and CONNECT (and for TLS/WebSocket handshakes).
    pub connect_timeout: Duration,
    /// Length of one "minute" for step timers (tests scale it down, e.g. to 50 ms).
    pub minute: Duration,
    /// Per-device log lines on stderr.
    pub log: bool,
    /// Keep the packet record (`records()`); turn off for long-running demos.
    pub record: bool,
    /// A persistent session offline for longer than this is discarded (AWS default: 1 hour).
    pub session_expiry: Duration,
    /// When set, every WebSocket upgrade (ws and wss) must carry a SigV4 presigned query
    /// signed with one of these keys, else HTTP 403 ([`sigv4`]). `None`: anything is accepted.
    pub sigv4: Option<sigv4::SigV4Config>,
    /// An AWS IoT custom authorizer ([`custom_auth`]): the TLS listener then also accepts
    /// connections without a client certificate that negotiate ALPN `mqtt` and name the
    /// authorizer in their CONNECT username, and the WebSocket listeners accept upgrades that
    /// carry it in headers or the query. `None`: no custom authentication.
    pub custom_authorizer: Option<custom_auth::CustomAuthorizerConfig>,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            tls: None,
            ws: None,
            wss: None,
            control: None,
            max_payload: 128 * 1024,
            aws_keepalive_limits: false,
            connect_timeout: Duration::from_secs(10),
            minute: Duration::from_secs(60),
            log: std::env::var_os("IOTJOBS_EMULATOR_LOG").is_some(),
            record: true,
            session_expiry: Duration::from_secs(3600),
            sigv4: None,
            custom_authorizer: None,
        }
    }
}

/// Direction of a recorded packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    /// Client → server.
    In,
    /// Server → client.
    Out,
}

/// One packet seen by the server, in order of reading/writing.
#[derive(Clone, Debug)]
pub struct Record {
    pub at: Instant,
    pub client_id: String,
    pub dir: Dir,
    pub packet: Packet,
}

/// A running emulator on its own thread with its own tokio runtime. Dropping it stops the
/// runtime (closing every listener and connection) and joins the thread.
pub struct Emulator {
    shared: Arc<Shared>,
    mqtt: SocketAddr,
    tls: Option<SocketAddr>,
    ws: Option<SocketAddr>,
    wss: Option<SocketAddr>,
    control: Option<SocketAddr>,
    accept: Arc<transport::AcceptCtx>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

fn loopback_only(a: SocketAddr, what: &str) -> std::io::Result<()> {
    if a.ip().is_loopback() {
        Ok(())
    } else {
        Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "{what} address {a} is not loopback: the emulator listens on 127.0.0.1/::1 only"
            ),
        ))
    }
}

/// Listen backlog: large enough for connection storms (std's 128 drops SYNs, costing the
/// client a 1 s retransmission).
const BACKLOG: u32 = 1024;

/// Binds a listening socket with SO_REUSEADDR and a large backlog. Needs a runtime context.
pub(crate) fn listen_socket(a: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let sock = if a.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    sock.set_reuseaddr(true)?;
    sock.bind(a)?;
    sock.listen(BACKLOG)
}

/// Binds a listener (inside `rt.enter()`), with a clear error.
fn bind(a: SocketAddr, what: &str) -> std::io::Result<std::net::TcpListener> {
    loopback_only(a, what)?;
    let l = listen_socket(a).and_then(|l| l.into_std()).map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::AddrInUse {
            " (port in use: pick another or 0 for a free one)"
        } else {
            ""
        };
        std::io::Error::new(
            e.kind(),
            format!("cannot listen for {what} on {a}: {e}{hint}"),
        )
    })?;
    l.set_nonblocking(true)?;
    Ok(l)
}

impl Emulator {
    /// Binds every configured listener (errors such as "port in use" are returned here) and
    /// starts the runtime thread.
    pub fn start(cfg: EmulatorConfig) -> std::io::Result<Emulator> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let guard = rt.enter();
        let mqtt_l = bind(cfg.bind, "MQTT")?;
        let mut ctx = transport::AcceptCtx::default();
        let tls_l = match &cfg.tls {
            Some(t) => {
                ctx.tls = std::sync::Mutex::new(Some(transport::tls_acceptor(
                    &t.cert,
                    &t.key,
                    Some(&t.client_ca),
                    cfg.custom_authorizer.is_some(),
                )?));
                Some(bind(t.bind, "MQTT over TLS")?)
            }
            None => None,
        };
        let ws_l = cfg.ws.map(|a| bind(a, "MQTT over WebSocket")).transpose()?;
        let wss_l = match &cfg.wss {
            Some(w) => {
                ctx.wss = Some(transport::tls_acceptor(&w.cert, &w.key, None, false)?);
                Some(bind(w.bind, "MQTT over secure WebSocket")?)
            }
            None => None,
        };
        let ctl_l = cfg.control.map(|a| bind(a, "control")).transpose()?;
        let mqtt = mqtt_l.local_addr()?;
        let tls = tls_l.as_ref().map(|l| l.local_addr()).transpose()?;
        let ws = ws_l.as_ref().map(|l| l.local_addr()).transpose()?;
        let wss = wss_l.as_ref().map(|l| l.local_addr()).transpose()?;
        let control = ctl_l.as_ref().map(|l| l.local_addr()).transpose()?;
        let shared = Arc::new(Shared::new(cfg));
        let ctx = Arc::new(ctx);
        let accept = ctx.clone();
        let mut listeners = Vec::new();
        for (kind, l) in [
            (Kind::Tcp, Some(mqtt_l)),
            (Kind::Tls, tls_l),
            (Kind::Ws, ws_l),
            (Kind::Wss, wss_l),
        ] {
            if let Some(l) = l {
                let (tx, rx) = unbounded_channel();
                lock(&shared.restarts).push(tx);
                listeners.push((kind, l, rx));
            }
        }
        drop(guard);
        let _ = shared.rt.set(rt.handle().clone());
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let sh = shared.clone();
        let thread = std::thread::Builder::new()
            .name("iotjobs-emulator".into())
            .spawn(move || {
                rt.block_on(async move {
                    for (kind, l, rx) in listeners {
                        tokio::spawn(server::listen(sh.clone(), kind, l, rx, accept.clone()));
                    }
                    if let Some(l) = ctl_l {
                        tokio::spawn(control::serve(sh.clone(), l));
                    }
                    let _ = stop_rx.await;
                });
                drop(rt);
            })?;
        Ok(Emulator {
            shared,
            mqtt,
            tls,
            ws,
            wss,
            control,
            accept: ctx,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    /// The plain-TCP MQTT listener.
    pub fn mqtt_addr(&self) -> SocketAddr {
        self.mqtt
    }
    /// The TLS listener, when configured.
    pub fn tls_addr(&self) -> Option<SocketAddr> {
        self.tls
    }
    /// The WebSocket listener, when configured (URL `ws://ADDR/mqtt`).
    pub fn ws_addr(&self) -> Option<SocketAddr> {
        self.ws
    }
    /// The secure WebSocket listener, when configured (URL `wss://localhost:PORT/mqtt`).
    pub fn wss_addr(&self) -> Option<SocketAddr> {
        self.wss
    }

    /// From now on the TLS listener accepts only client certificates that chain to
    /// `client_ca` (PEM), e.g. after a certificate rotation; open connections are kept (cut
    /// them to force a new handshake). An error leaves the listener as it was.
    pub fn set_tls_client_ca(&self, client_ca: &std::path::Path) -> std::io::Result<()> {
        let t = self.shared.cfg.tls.as_ref().ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "no TLS listener")
        })?;
        let acceptor = transport::tls_acceptor(
            &t.cert,
            &t.key,
            Some(client_ca),
            self.shared.cfg.custom_authorizer.is_some(),
        )?;
        *lock(&self.accept.tls) = Some(acceptor);
        Ok(())
    }

    /// Every custom-authorizer check made (the last 1000), in order.
    pub fn auth_records(&self) -> Vec<AuthRecord> {
        lock(&self.shared.auth_records).clone()
    }

    /// Every WebSocket upgrade request received (ws and wss; the last 1000).
    pub fn ws_requests(&self) -> Vec<WsRequest> {
        lock(&self.shared.ws_requests).clone()
    }

    /// The control port, when configured.
    pub fn control_addr(&self) -> Option<SocketAddr> {
        self.control
    }

    /// Every packet in and out so far, in order.
    pub fn records(&self) -> Vec<Record> {
        lock(&self.shared.records).clone()
    }

    pub fn clear_records(&self) {
        lock(&self.shared.records).clear();
    }

    /// Polls the record every 5 ms until `f` is true (returns true) or `timeout` passes (false).
    pub fn wait_for<F: Fn(&[Record]) -> bool>(&self, timeout: Duration, f: F) -> bool {
        let end = Instant::now() + timeout;
        loop {
            if f(&lock(&self.shared.records)) {
                return true;
            }
            if Instant::now() >= end {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Client ids with a live connection, sorted.
    pub fn connected_clients(&self) -> Vec<String> {
        self.shared.connected_clients()
    }

    /// Waits until `client_id` has a live connection (true) or `timeout` passes (false).
    pub fn wait_connected(&self, client_id: &str, timeout: Duration) -> bool {
        let end = Instant::now() + timeout;
        loop {
            if self.connected_clients().iter().any(|c| c == client_id) {
                return true;
            }
            if Instant::now() >= end {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// MQTT protocol level of a connected client: 3 (MQTT 3.1) or 4 (3.1.1).
    pub fn client_protocol_level(&self, client_id: &str) -> Option<u8> {
        let b = lock(&self.shared.broker);
        b.sessions
            .get(client_id)
            .and_then(|s| s.conn.as_ref())
            .map(|c| c.level)
    }

    /// Topic filters a client's session holds, in subscription order.
    pub fn subscriptions(&self, client_id: &str) -> Vec<(String, QoS)> {
        let b = lock(&self.shared.broker);
        b.sessions
            .get(client_id)
            .map(|s| s.subs.clone())
            .unwrap_or_default()
    }

    // ---- faults ----

    /// The next `count` CONNECTs get a CONNACK with `return_code` (1–5; other values are sent as
    /// 5, "not authorized"), then the connection is closed.
    pub fn refuse_connack(&self, return_code: u8, count: usize) {
        self.shared.faults.set_refuse_connack(return_code, count);
    }

    /// The next `count` SUBSCRIBEs to exactly `filter` get return code 0x80 for it.
    pub fn refuse_suback(&self, filter: &str, count: usize) {
        self.shared.faults.set_refuse_suback(filter, count);
    }

    /// Closes that client's socket now (its will is published). False when not connected.
    pub fn cut(&self, client_id: &str) -> bool {
        self.shared.cut(client_id)
    }

    /// Forgets a client's session (subscriptions, queued and unacknowledged messages), as if it
    /// had expired; a live connection is closed too. The next CONNECT gets session_present=0.
    pub fn drop_session(&self, client_id: &str) -> bool {
        let mut b = lock(&self.shared.broker);
        match b.sessions.remove(client_id) {
            Some(s) => {
                if let Some(c) = s.conn {
                    c.close();
                }
                true
            }
            None => false,
        }
    }

    /// Closes every connection.
    pub fn cut_all(&self) {
        self.shared.cut_all();
    }

    /// Keeps the client's socket open but reads and answers nothing and delivers nothing to it
    /// (no keep-alive timeout either) until it is cut or reconnects.
    pub fn blackhole(&self, client_id: &str) -> bool {
        self.shared.blackhole(client_id)
    }

    /// Delays every CONNACK, PUBACK, SUBACK, UNSUBACK and Jobs reply by `d` (zero: no delay).
    pub fn set_reply_delay(&self, d: Duration) {
        self.shared.faults.set_reply_delay(d);
    }

    /// Swallows the next `count` PUBACKs the server would send (the PUBLISH is still processed).
    pub fn drop_pubacks(&self, count: usize) {
        self.shared.faults.set_drop_pubacks(count);
    }

    /// Closes every listener and connection, and binds the same ports again after `down_for`.
    /// Returns at once; the restart happens on the emulator thread.
    pub fn restart_listener(&self, down_for: Duration) {
        self.shared.restart_listeners(down_for);
    }

    /// Server-originated publish to every matching subscriber. `qos` above 1 is treated as 1.
    pub fn publish(&self, topic: &str, payload: &[u8], qos: u8) {
        let q = if qos == 0 {
            QoS::AtMostOnce
        } else {
            QoS::AtLeastOnce
        };
        self.shared
            .route(topic, Bytes::copy_from_slice(payload), q, false);
    }

    /// The next `count` Jobs requests are rejected with `RequestThrottled`.
    pub fn throttle(&self, count: usize) {
        self.shared.faults.set_throttle(count);
    }

    /// The next `count` Jobs replies (accepted or rejected) are not sent.
    pub fn drop_replies(&self, count: usize) {
        self.shared.faults.set_drop_replies(count);
    }

    /// Makes the next `count` Jobs replies malformed: the clientToken is kept, every other
    /// member has a wrong type.
    pub fn malform_replies(&self, count: usize) {
        self.shared.faults.set_malform_replies(count);
    }

    /// The next `count` Jobs requests are rejected with `InternalError`.
    pub fn internal_errors(&self, count: usize) {
        self.shared.faults.set_internal_errors(count);
    }

    // ---- Jobs control plane ----

    /// Creates a job (document: a JSON object ≤ 32 KiB) with a QUEUED execution on each target
    /// thing; sends `notify`/`notify-next` as AWS does.
    pub fn create_job(
        &self,
        job_id: &str,
        document: serde_json::Value,
        targets: &[&str],
    ) -> Result<(), String> {
        control::create_job(
            &self.shared,
            job_id,
            document,
            targets,
            JobOptions::default(),
        )
    }

    /// [`Emulator::create_job`] with options: an in-progress timeout
    /// (`timeoutConfig.inProgressTimeoutInMinutes`, scaled by [`EmulatorConfig::minute`]),
    /// retries of FAILED and TIMED_OUT executions (`jobExecutionsRetryConfig`, [`RetryConfig`]).
    ///
    /// ```no_run
    /// # let emu = iotjobs_emulator::Emulator::start(Default::default()).unwrap();
    /// use iotjobs_emulator::{JobOptions, RetryConfig};
    /// let retry = RetryConfig { failed: Some(2), ..Default::default() };
    /// let opts = JobOptions { retry, ..Default::default() };
    /// emu.create_job_with("j", serde_json::json!({}), &["dev1"], opts).unwrap();
    /// ```
    pub fn create_job_with(
        &self,
        job_id: &str,
        document: serde_json::Value,
        targets: &[&str],
        options: JobOptions,
    ) -> Result<(), String> {
        control::create_job(&self.shared, job_id, document, targets, options)
    }

    /// Cancels a job: QUEUED executions become CANCELED; IN_PROGRESS ones too when `force`.
    pub fn cancel_job(&self, job_id: &str, force: bool) -> Result<(), String> {
        control::cancel_job(&self.shared, job_id, force)
    }

    /// Cancels one execution (an IN_PROGRESS one only with `force`).
    pub fn cancel_execution(&self, job_id: &str, thing: &str, force: bool) -> Result<(), String> {
        control::cancel_execution(&self.shared, job_id, thing, force)
    }

    /// Removes a thing from a job's targets: its execution becomes REMOVED.
    pub fn remove_thing(&self, job_id: &str, thing: &str) -> Result<(), String> {
        control::remove_thing(&self.shared, job_id, thing)
    }

    /// The latest execution as JSON (jobId, thingName, jobDocument, status, statusDetails,
    /// queuedAt, startedAt, lastUpdatedAt, versionNumber, executionNumber), or None.
    pub fn describe_execution(&self, job_id: &str, thing: &str) -> Option<serde_json::Value> {
        control::describe_execution(&self.shared, job_id, thing, None)
    }

    /// [`Emulator::describe_execution`] of the execution with `number`, e.g. one a retry
    /// replaced; None when there is no such execution.
    pub fn describe_execution_number(
        &self,
        job_id: &str,
        thing: &str,
        number: u64,
    ) -> Option<serde_json::Value> {
        control::describe_execution(&self.shared, job_id, thing, Some(number))
    }

    /// Every execution (without documents), in creation order; a retried job's executions on
    /// one thing are listed together, oldest first.
    pub fn list_executions(&self) -> Vec<serde_json::Value> {
        control::list_executions(&self.shared)
    }

    /// One job: jobId, status, document, targets, executionCounts (per status), or None.
    pub fn describe_job(&self, job_id: &str) -> Option<serde_json::Value> {
        control::describe_job(&self.shared, job_id)
    }

    /// Every job: jobId, status (IN_PROGRESS, COMPLETED, CANCELED), document, targets.
    pub fn list_jobs(&self) -> Vec<serde_json::Value> {
        control::list_jobs(&self.shared)
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn emulator_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<super::Emulator>();
        check::<super::Record>();
    }
}
