//! The I/O driver: one tokio task per connection on the runtime thread, doing what the
//! session core decides.
//!
//! The task owns the socket, the timer and the read buffer. API calls and the task share the
//! [`Core`] under a mutex: a call decides at once (inside the core) whether its request goes to
//! the network or to the offline queue, so it can tell the caller which happened, then wakes
//! the task to write. No lock is held across an await or while C runs: the core's effects are
//! taken under the lock and dispatched after it is released.
//!
//! Callbacks are posted to the callback thread against a per-connection byte budget. While the
//! budget is spent the task stops reading the socket, so a flood from the server is held back
//! by TCP instead of growing memory.

use super::config::ConnectionConfig;
use super::core::{ConnectWaiter, Core, DisconnectWaiter, Effects, Io, Request};
#[cfg(feature = "websocket")]
use super::sigv4;
use super::transport::{describe_io_error, is_tls_io_error, Endpoint, Stream};
use super::types::*;
use crate::error::{jobs_result, Error, Result};
use crate::runtime::{self, Budget};
use bytes::BytesMut;
use std::future::{pending, Future};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::{sleep_until, timeout, Instant};
use zeroize::Zeroize;

/// One connection's state, shared by its handle and its task.
pub struct Shared {
    pub cfg: ConnectionConfig,
    tls: Option<Arc<rustls::ClientConfig>>,
    core: Mutex<Core>,
    wake: Notify,
    pub callbacks: Callbacks,
    budget: Arc<Budget>,
    extensions: Mutex<Vec<Extended>>,
    /// Application code the I/O thread calls (credentials provider, key signer): closed when the
    /// connection closes, so none runs after that returns.
    pub io_gate: Arc<runtime::Gate>,
}

/// State a layer above keeps per connection (see [`Shared::extension`]).
pub trait Extension: std::any::Any + Send + Sync {
    /// The user asked to disconnect (before the link closes).
    fn user_disconnected(&self) {}
    /// The connection was shut down for good.
    fn closed(&self) {}
    /// The session is up (CONNACK accepted, subscriptions restored), on the I/O thread: must
    /// not block.
    fn online(&self) {}
    /// The link went down (reconnecting follows unless the user disconnected), on the I/O
    /// thread: must not block.
    fn offline(&self) {}
}

/// One extension, held both as itself (to find it by type) and as an [`Extension`].
struct Extended {
    any: Arc<dyn std::any::Any + Send + Sync>,
    hooks: Arc<dyn Extension>,
}

fn poisoned() -> Error {
    Error::new(jobs_result::Panic, "connection state poisoned by a panic")
}

impl Shared {
    pub fn new(
        cfg: ConnectionConfig,
        tls: Option<Arc<rustls::ClientConfig>>,
        callbacks: Callbacks,
        io_gate: Arc<runtime::Gate>,
    ) -> Shared {
        let debug_log =
            callbacks.on_log.is_some() && callbacks.log_level.is_some_and(|l| l >= LogLevel::Debug);
        Shared {
            core: Mutex::new(Core::new(&cfg, fastrand::u64(..), debug_log)),
            budget: Budget::new(cfg.callback_queue_bytes),
            cfg,
            tls,
            wake: Notify::new(),
            callbacks,
            extensions: Mutex::new(Vec::new()),
            io_gate,
        }
    }

    /// The connection's one `T`, made on first use.
    pub fn extension<T: Extension + Default>(&self) -> Arc<T> {
        let mut list = self.extensions.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(found) = list.iter().find_map(|e| e.any.clone().downcast::<T>().ok()) {
            return found;
        }
        let made = Arc::new(T::default());
        list.push(Extended {
            any: made.clone(),
            hooks: made.clone(),
        });
        made
    }

    /// Runs `f` on every extension, outside the list's lock.
    pub fn each_extension(&self, f: impl Fn(&dyn Extension)) {
        let hooks: Vec<Arc<dyn Extension>> = self
            .extensions
            .lock()
            .map(|l| l.iter().map(|e| e.hooks.clone()).collect())
            .unwrap_or_default();
        for h in hooks {
            f(&*h);
        }
    }

    fn lock(&self) -> Result<MutexGuard<'_, Core>> {
        self.core.lock().map_err(|_| poisoned())
    }

    /// Runs `f` on the core for the task itself: dispatches its effects (the task takes the
    /// I/O at the top of its loop).
    fn feed(self: &Arc<Self>, f: impl FnOnce(&mut Core, std::time::Instant)) -> Result<()> {
        let fx = {
            let mut core = self.lock()?;
            f(&mut core, std::time::Instant::now());
            core.take_effects()
        };
        self.dispatch(fx);
        Ok(())
    }

    /// Runs `f` on the core for an API call, then dispatches its effects and wakes the task
    /// if there is I/O to do.
    fn with_core<R>(
        self: &Arc<Self>,
        f: impl FnOnce(&mut Core, std::time::Instant) -> R,
    ) -> Result<R> {
        let (r, fx, io) = {
            let mut core = self.lock()?;
            let r = f(&mut core, std::time::Instant::now());
            (r, core.take_effects(), core.io_pending())
        };
        if io {
            self.wake.notify_one();
        }
        self.dispatch(fx);
        Ok(r)
    }

    /// Sends a request now when online, else queues it by the queue policy.
    pub fn submit(self: &Arc<Self>, req: Request) -> Result<Submitted> {
        self.with_core(|c, now| c.submit(req, now))?
    }

    /// Adds a fallback handler for messages under `prefix` that match no subscription.
    pub fn add_route(&self, prefix: String, handler: Handler) -> Result<u64> {
        Ok(self.lock()?.add_route(prefix, handler))
    }

    pub fn remove_route(&self, id: u64) {
        if let Ok(mut c) = self.lock() {
            c.remove_route(id);
        }
    }

    pub fn status(&self) -> Status {
        self.lock().map(|c| c.status()).unwrap_or(Status::Closed)
    }

    pub fn counters(&self) -> Counters {
        self.lock().map(|c| c.counters()).unwrap_or_default()
    }

    /// Asks for a connection; `waiter` gets the outcome of the first attempt.
    pub fn request_connect(self: &Arc<Self>, waiter: Option<ConnectWaiter>) -> Result<()> {
        self.with_core(|c, now| c.connect(waiter, now))?
    }

    /// Asks to disconnect; `waiter` is told once the link is closed.
    pub fn request_disconnect(self: &Arc<Self>, waiter: Option<DisconnectWaiter>) -> Result<()> {
        self.with_core(|c, now| c.disconnect(waiter, now))?
    }

    /// Stops for good; pending requests complete with `Closed`.
    pub fn shutdown(self: &Arc<Self>) {
        let _ = self.with_core(|c, now| c.shutdown(now));
    }

    pub fn log(self: &Arc<Self>, level: LogLevel, msg: impl Into<String>) {
        let mut fx = Effects::default();
        fx.logs.push((level, msg.into()));
        self.dispatch(fx);
    }

    /// Completes what completed and posts callbacks, each charged to the callback budget
    /// until it has run.
    fn dispatch(self: &Arc<Self>, fx: Effects) {
        if fx.is_empty() {
            return;
        }
        for (w, r) in fx.connect_results {
            let _ = w.try_send(r);
        }
        for w in fx.disconnected {
            let _ = w.try_send(());
        }
        for (completion, ack) in fx.acks {
            completion.complete(ack);
        }
        let cb = &self.callbacks;
        let wanted =
            |level: LogLevel| cb.on_log.is_some() && cb.log_level.is_some_and(|l| level <= l);
        for (level, msg) in fx.logs {
            if wanted(level) {
                let me = self.clone();
                let charge = self.budget.charge(msg.len());
                runtime::post(&cb.gate, move || {
                    let _charge = charge;
                    if let Some(f) = &me.callbacks.on_log {
                        f(level, &msg)
                    }
                });
            }
        }
        if fx.offline {
            self.each_extension(|e| e.offline());
        }
        if fx.online {
            self.each_extension(|e| e.online());
        }
        if fx.offline && cb.on_offline.is_some() {
            let me = self.clone();
            runtime::post(&cb.gate, move || {
                if let Some(f) = &me.callbacks.on_offline {
                    f()
                }
            });
        }
        for ev in fx.events {
            if cb.on_event.is_some() {
                let me = self.clone();
                let charge = self.budget.charge(ev.message.len() + ev.topic.len());
                runtime::post(&cb.gate, move || {
                    let _charge = charge;
                    if let Some(f) = &me.callbacks.on_event {
                        f(&ev)
                    }
                });
            }
        }
        if fx.online && cb.on_online.is_some() {
            let me = self.clone();
            runtime::post(&cb.gate, move || {
                if let Some(f) = &me.callbacks.on_online {
                    f()
                }
            });
        }
        for (msg, handlers) in fx.messages {
            if cb.on_message.is_none() && handlers.is_empty() {
                continue;
            }
            // One charge per message, released when the last of its callbacks has run (or
            // was dropped behind a closed gate): the topic and payload are shared, not copied.
            let charge = Arc::new(self.budget.charge(msg.topic.len() + msg.payload.len()));
            if cb.on_message.is_some() {
                let me = self.clone();
                let m = msg.clone();
                let charge = charge.clone();
                runtime::post(&cb.gate, move || {
                    let _charge = charge;
                    if let Some(f) = &me.callbacks.on_message {
                        f(&m)
                    }
                });
            }
            for h in handlers {
                match h.runs {
                    Runs::IoThread => (h.f)(&msg),
                    Runs::Callback(gate) => {
                        let m = msg.clone();
                        let f = h.f.clone();
                        let charge = charge.clone();
                        runtime::post(&gate, move || {
                            let _charge = charge;
                            f(&m)
                        });
                    }
                }
            }
        }
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.cfg.wipe_secrets();
    }
}

/// An opened link, and when to replace it because its credentials expire.
type Opened = (Stream, Option<Duration>);
type Opening = Pin<Box<dyn Future<Output = Result<Opened>> + Send>>;

/// Asks the application's provider for credentials (on this thread, behind the I/O gate) and
/// checks them; returns them with the delay after which to reconnect with fresh ones.
#[cfg(feature = "websocket")]
fn provided_credentials(
    shared: &Shared,
    provide: &super::sigv4::CredentialsProvider,
) -> Result<(sigv4::Credentials, Option<Duration>)> {
    let p = shared
        .io_gate
        .run(provide)
        .unwrap_or_else(|| Err(Error::new(jobs_result::Closed, "the connection is closed")))?;
    let now = std::time::SystemTime::now();
    super::config::validate_provided(&p, now).map_err(|e| {
        Error::new(
            jobs_result::IncompleteConfig,
            format!("the credentials provider: {}", e.message),
        )
    })?;
    let refresh = p.expires_at.and_then(|at| sigv4::refresh_after(now, at));
    Ok((p.credentials.clone(), refresh))
}

/// Opens the transport (TCP, TLS, WebSocket); the core does the MQTT handshake.
fn open(shared: &Arc<Shared>) -> Opening {
    let shared = shared.clone();
    Box::pin(async move {
        let cfg = &shared.cfg;
        let ep = Endpoint {
            host: cfg.host.clone(),
            port: cfg.port,
            kind: cfg.transport,
            ws_path: cfg.ws_path.clone(),
        };
        // Signed afresh on every attempt: a presigned URL carries its time and credentials.
        #[cfg(feature = "websocket")]
        let (hook, refresh) = match &cfg.credentials_provider {
            Some((region, provide)) => {
                let (creds, refresh) = provided_credentials(&shared, provide.as_ref())?;
                (Some(sigv4::request_hook(region.clone(), creds)), refresh)
            }
            None => (
                cfg.sigv4
                    .as_ref()
                    .map(|(region, creds)| sigv4::request_hook(region.clone(), creds.clone()))
                    .or_else(|| {
                        cfg.custom_authorizer
                            .clone()
                            .map(super::custom_auth::request_hook)
                    }),
                None,
            ),
        };
        // The configuration refuses SigV4 credentials in a build without WebSocket.
        #[cfg(not(feature = "websocket"))]
        let (hook, refresh): (Option<Box<super::transport::RequestHook>>, _) = (None, None);
        // Certificate and key files are read again before every attempt: a certificate
        // rotated on disk is used from the next reconnect on.
        let tls = if cfg.transport.uses_tls() && cfg.tls.reloads() {
            let built = super::tls::build_client_config(&cfg.tls)
                .map_err(|e| Error::new(jobs_result::TlsConfig, e.to_string()))?;
            Some(built)
        } else {
            shared.tls.clone()
        };
        Stream::connect(&ep, tls, hook.as_deref())
            .await
            .map(|s| (s, refresh))
            .map_err(|e| {
                use super::transport::TransportErrorKind as K;
                let code = match e.kind() {
                    K::Tls => jobs_result::Tls,
                    // An HTTP refusal (a SigV4 403) is not a network fault: say so.
                    K::WebSocket => jobs_result::WebSocket,
                    _ => jobs_result::Network,
                };
                Error::new(code, e.to_string())
            })
    })
}

fn read_error(e: &std::io::Error) -> Error {
    // With TLS 1.3 a refused client certificate surfaces on the first read.
    let code = if is_tls_io_error(e) {
        jobs_result::Tls
    } else {
        jobs_result::Network
    };
    Error::new(code, format!("read: {}", describe_io_error(e)))
}

/// Writes `data`, bounded: a black-holed peer can fill the socket buffer.
async fn write(stream: &mut Stream, data: &[u8], limit: Duration) -> Result<()> {
    match timeout(limit, stream.write_all(data)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(Error::new(jobs_result::Network, format!("write: {e}"))),
        Err(_) => Err(Error::new(
            jobs_result::Timeout,
            "write blocked longer than twice the operation timeout",
        )),
    }
}

/// The task: does the core's I/O until the connection is freed.
pub async fn run(shared: Arc<Shared>) {
    let write_limit = shared.cfg.operation_timeout.max(Duration::from_secs(1)) * 2;
    let mut link: Option<Stream> = None;
    let mut opening: Option<Opening> = None;
    // When the link's credentials are about to expire: replace it before they do.
    let mut refresh_at: Option<Instant> = None;
    let mut rbuf = BytesMut::with_capacity(4096);
    loop {
        let paused = shared.budget.spent();
        let (io, fx, deadline) = match shared.core.lock() {
            Ok(mut core) => {
                core.set_read_paused(paused, std::time::Instant::now());
                (core.take_io(), core.take_effects(), core.next_deadline())
            }
            Err(_) => return,
        };
        shared.dispatch(fx);
        let Io {
            open_link,
            write: mut out,
            close_link,
            finished,
            wipe_after_write,
        } = io;
        if !out.is_empty() {
            if let Some(stream) = link.as_mut() {
                if let Err(e) = write(stream, &out, write_limit).await {
                    link = None;
                    rbuf.clear();
                    // A failed goodbye needs no report: that link is being closed anyway.
                    if !close_link {
                        let _ = shared.feed(|c, now| c.link_lost(e, now));
                    }
                }
            }
        }
        if wipe_after_write {
            out.as_mut().zeroize();
        }
        if close_link {
            opening = None;
            rbuf.clear();
            if let Some(mut stream) = link.take() {
                let _ = timeout(Duration::from_secs(1), stream.shutdown()).await;
            }
        }
        if finished {
            return;
        }
        if open_link {
            link = None;
            rbuf.clear();
            opening = Some(open(&shared));
        }
        let sleep = async {
            match deadline {
                Some(d) => sleep_until(Instant::from_std(d)).await,
                None => pending().await,
            }
        };
        let opened = async {
            match opening.as_mut() {
                Some(f) => f.await,
                None => pending().await,
            }
        };
        if link.is_none() {
            refresh_at = None;
        }
        let refresh = async {
            match refresh_at {
                Some(at) => sleep_until(at).await,
                None => pending().await,
            }
        };
        let read = async {
            match link.as_mut() {
                Some(s) if !paused => s.read_buf(&mut rbuf).await,
                _ => pending().await,
            }
        };
        let relieved = async {
            if paused {
                shared.budget.relieved().await
            } else {
                pending().await
            }
        };
        enum Woke {
            Nudged,
            Opened(Result<Opened>),
            Read(std::io::Result<usize>),
            Timer,
            Refresh,
        }
        // Unbiased: a flood of sends must not starve reads (acks), nor the reverse.
        let woke = tokio::select! {
            _ = shared.wake.notified() => Woke::Nudged,
            r = opened => Woke::Opened(r),
            r = read => Woke::Read(r),
            _ = relieved => Woke::Nudged,
            _ = sleep => Woke::Timer,
            _ = refresh => Woke::Refresh,
        };
        let fed = match woke {
            Woke::Nudged => Ok(()),
            Woke::Opened(r) => {
                opening = None;
                match r {
                    Ok((stream, refresh)) => {
                        link = Some(stream);
                        refresh_at = refresh.map(|d| Instant::now() + d);
                        shared.feed(|c, now| c.link_opened(now))
                    }
                    Err(e) => shared.feed(|c, now| c.link_open_failed(e, now)),
                }
            }
            Woke::Read(Ok(0)) => {
                link = None;
                shared.feed(|c, now| {
                    c.link_lost(
                        Error::new(jobs_result::Network, "connection closed by the server"),
                        now,
                    )
                })
            }
            Woke::Read(Ok(_)) => shared.feed(|c, now| c.bytes_received(&mut rbuf, now)),
            Woke::Read(Err(e)) => {
                link = None;
                shared.feed(|c, now| c.link_lost(read_error(&e), now))
            }
            Woke::Timer => shared.feed(|c, now| c.timer(now)),
            Woke::Refresh => {
                link = None;
                rbuf.clear();
                shared.feed(|c, now| {
                    c.link_lost(
                        Error::new(
                            jobs_result::Network,
                            "reconnecting: the IAM credentials of this connection expire soon",
                        ),
                        now,
                    )
                })
            }
        };
        if fed.is_err() {
            return;
        }
    }
}
