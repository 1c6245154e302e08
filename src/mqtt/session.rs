//! The session engine: one tokio task per connection on the runtime thread.
//!
//! API calls and the task share [`Inner`] under a mutex. A call decides at once whether its
//! request goes to the network (status `Online`) or to the offline queue, so it can tell the
//! caller which happened; the task owns the socket, writes what calls put in the outbox, reads
//! and routes what arrives, and runs keep-alive, reconnect with backoff, resubscription,
//! retransmission (DUP=1) and draining. No lock is held across an await or while C runs:
//! completions and callbacks are collected into [`Effects`] and applied after unlocking.

use super::backoff::Backoff;
use super::codec::encode_connect;
use super::config::ConnectionConfig;
use super::packet_id::PacketIds;
use super::queue::{OfflineQueue, Push};
use super::sigv4;
use super::topic;
use super::transport::{describe_io_error, is_tls_io_error, Endpoint, Stream};
use super::types::*;
use crate::error::{jobs_result, Error, Result};
use crate::runtime;
use bytes::{Bytes, BytesMut};
use rumqttc::mqttbytes::v4::{
    Packet, PubAck, Publish, Subscribe, SubscribeReasonCode, Unsubscribe,
};
use rumqttc::mqttbytes::{Error as CodecError, QoS};
use std::collections::VecDeque;
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::{sleep_until, timeout, Instant};

/// One request as the caller made it.
pub enum Op {
    Publish {
        topic: String,
        payload: Bytes,
        qos: u8,
        retain: bool,
    },
    Subscribe {
        filter: String,
        qos: u8,
        handler: Option<Handler>,
    },
    Unsubscribe {
        filter: String,
    },
}

impl Op {
    fn topic(&self) -> &str {
        match self {
            Op::Publish { topic, .. } => topic,
            Op::Subscribe { filter, .. } | Op::Unsubscribe { filter } => filter,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Op::Publish { .. } => "publish",
            Op::Subscribe { .. } => "subscribe",
            Op::Unsubscribe { .. } => "unsubscribe",
        }
    }
}

/// A request with the place its outcome goes.
pub struct Request {
    pub op: Op,
    pub completion: Completion,
}

struct InFlight {
    packet_id: u16,
    op: Op,
    completion: Completion,
    /// A subscription re-sent by the engine after a lost session, not by the user.
    resubscribe: bool,
    sent_at: Instant,
}

struct SubRecord {
    filter: String,
    qos: u8,
    handler: Option<Handler>,
}

/// State shared by API calls and the task.
pub struct Inner {
    status: Status,
    want_connected: bool,
    shutdown: bool,
    online_announced: bool,
    connections: u64,
    ids: PacketIds,
    inflight: VecDeque<InFlight>,
    outbox: Vec<Packet>,
    queue: OfflineQueue<Request>,
    subs: Vec<SubRecord>,
    /// Fallback handlers by topic prefix, for messages no subscription matched (AWS sends
    /// jobs replies to the requester whether or not it subscribed).
    routes: Vec<(u64, String, Handler)>,
    next_route: u64,
    resub_pending: usize,
    counters: Counters,
    connect_waiters: Vec<SyncSender<Result<()>>>,
    disconnect_waiters: Vec<SyncSender<()>>,
}

/// Work to do once the lock is released.
#[derive(Default)]
struct Effects {
    acks: Vec<(Completion, Ack)>,
    messages: Vec<(Message, Vec<Handler>)>,
    events: Vec<Event>,
    online: bool,
    offline: bool,
    logs: Vec<(LogLevel, String)>,
}

/// One connection's engine state, shared by its handle and its task.
pub struct Shared {
    pub cfg: ConnectionConfig,
    tls: Option<Arc<rustls::ClientConfig>>,
    inner: Mutex<Inner>,
    wake: Notify,
    pub callbacks: Callbacks,
}

enum End {
    Shutdown,
    UserDisconnect,
    Lost(Error),
}

fn closed() -> Error {
    Error::new(jobs_result::Closed, "the connection has been freed")
}

fn qos_of(q: u8) -> QoS {
    if q == 0 {
        QoS::AtMostOnce
    } else {
        QoS::AtLeastOnce
    }
}

impl Inner {
    fn new(cfg: &ConnectionConfig) -> Inner {
        Inner {
            status: Status::Disconnected,
            want_connected: false,
            shutdown: false,
            online_announced: false,
            connections: 0,
            ids: PacketIds::default(),
            inflight: VecDeque::new(),
            outbox: Vec::new(),
            queue: OfflineQueue::new(cfg.queue_limit, cfg.drop_policy),
            subs: Vec::new(),
            routes: Vec::new(),
            next_route: 1,
            resub_pending: 0,
            counters: Counters::default(),
            connect_waiters: Vec::new(),
            disconnect_waiters: Vec::new(),
        }
    }

    /// Puts a request on the wire now. On `Busy` the request is handed back.
    fn send_now(
        &mut self,
        req: Request,
        fx: &mut Effects,
    ) -> std::result::Result<u16, Box<(Request, Error)>> {
        let Request { op, completion } = req;
        if let Op::Publish {
            topic,
            payload,
            qos: 0,
            retain,
        } = &op
        {
            let mut p = Publish::from_bytes(topic.as_str(), QoS::AtMostOnce, payload.clone());
            p.retain = *retain;
            self.outbox.push(Packet::Publish(p));
            self.counters.published += 1;
            fx.acks.push((completion, Ack::new(0, jobs_result::Ok)));
            return Ok(0);
        }
        let Some(packet_id) = self.ids.allocate() else {
            let err = Error::new(jobs_result::Busy, "all 65535 packet ids are in flight");
            return Err(Box::new((Request { op, completion }, err)));
        };
        match &op {
            Op::Publish { .. } => self.counters.published += 1,
            Op::Subscribe {
                filter,
                qos,
                handler,
            } => {
                self.subs.retain(|r| &r.filter != filter);
                self.subs.push(SubRecord {
                    filter: filter.clone(),
                    qos: *qos,
                    handler: handler.clone(),
                });
            }
            Op::Unsubscribe { filter } => self.subs.retain(|r| &r.filter != filter),
        }
        self.outbox.push(packet_for(&op, packet_id, false));
        self.inflight.push_back(InFlight {
            packet_id,
            op,
            completion,
            resubscribe: false,
            sent_at: Instant::now(),
        });
        Ok(packet_id)
    }

    fn enqueue(&mut self, req: Request, fx: &mut Effects) -> Result<Submitted> {
        match self.queue.push(req) {
            Push::Queued => Ok(Submitted::Queued),
            Push::QueuedDroppedOldest(old) => {
                self.counters.dropped += 1;
                fx.events.push(Event {
                    kind: EventKind::RequestDropped,
                    result: jobs_result::Dropped,
                    packet_id: 0,
                    topic: old.op.topic().to_owned(),
                    message: format!(
                        "queued {} to '{}' dropped to make room (drop-oldest)",
                        old.op.kind(),
                        old.op.topic()
                    ),
                });
                fx.acks
                    .push((old.completion, Ack::new(0, jobs_result::Dropped)));
                Ok(Submitted::Queued)
            }
            Push::Full(_) => {
                self.counters.dropped += 1;
                Err(Error::new(
                    jobs_result::QueueFull,
                    "not connected and the offline queue is full (drop-newest): request not queued",
                ))
            }
            Push::Disabled(_) => Err(Error::new(
                jobs_result::QueueDisabled,
                "not connected and offline queueing is disabled: request not sent",
            )),
        }
    }

    /// After CONNACK: re-send subscriptions if the session was lost, then every request still
    /// waiting for its ack (publishes with DUP=1).
    fn recover(&mut self, session_present: bool, fx: &mut Effects) {
        self.outbox.clear();
        let now = Instant::now();
        for f in self.inflight.iter_mut() {
            f.sent_at = now;
            self.outbox.push(packet_for(&f.op, f.packet_id, true));
        }
        if session_present {
            return;
        }
        let pending: Vec<(String, u8)> =
            self.subs
                .iter()
                .filter(|r| {
                    !self.inflight.iter().any(
                        |f| matches!(&f.op, Op::Subscribe { filter, .. } if *filter == r.filter),
                    )
                })
                .map(|r| (r.filter.clone(), r.qos))
                .collect();
        // Subscriptions go out before the retransmissions, so replies find their routes.
        let mut resubs = Vec::new();
        for (filter, qos) in pending {
            let Some(packet_id) = self.ids.allocate() else {
                fx.logs
                    .push((LogLevel::Error, "no packet id left to resubscribe".into()));
                break;
            };
            let op = Op::Subscribe {
                filter,
                qos,
                handler: None,
            };
            resubs.push(packet_for(&op, packet_id, false));
            self.inflight.push_front(InFlight {
                packet_id,
                op,
                completion: Completion::None,
                resubscribe: true,
                sent_at: now,
            });
            self.resub_pending += 1;
        }
        resubs.append(&mut self.outbox);
        self.outbox = resubs;
    }

    /// The link is gone: forget engine-made resubscriptions (they are re-made on the next
    /// CONNACK) and unwritten packets; user requests stay in flight for retransmission.
    fn on_link_lost(&mut self) {
        let ids = &mut self.ids;
        self.inflight.retain(|f| {
            if f.resubscribe {
                ids.release(f.packet_id);
            }
            !f.resubscribe
        });
        self.resub_pending = 0;
        self.outbox.clear();
    }

    fn finish_resubscribe_if_done(&mut self, fx: &mut Effects) {
        if self.status == Status::Resubscribing && self.resub_pending == 0 {
            // Nothing queued: online at once, so a request made from on_online goes straight out.
            self.status = if self.queue.is_empty() {
                Status::Online
            } else {
                Status::Draining
            };
            if !self.online_announced {
                self.online_announced = true;
                fx.online = true;
            }
            // A blocking connect returns here, not at CONNACK: with subscriptions re-made, a
            // request made right after it goes out instead of into the queue.
            for w in self.connect_waiters.drain(..) {
                let _ = w.try_send(Ok(()));
            }
        }
    }

    fn take_inflight(&mut self, packet_id: u16) -> Option<InFlight> {
        let pos = self
            .inflight
            .iter()
            .position(|f| f.packet_id == packet_id)?;
        let f = self.inflight.remove(pos)?;
        self.ids.release(packet_id);
        Some(f)
    }

    fn oldest_unacked(&self) -> Option<Instant> {
        self.inflight.iter().map(|f| f.sent_at).min()
    }

    fn handle_packet(&mut self, packet: Packet, fx: &mut Effects) -> Result<bool> {
        match packet {
            Packet::Publish(p) => {
                self.counters.received += 1;
                match p.qos {
                    QoS::AtMostOnce => {}
                    QoS::AtLeastOnce => self.outbox.push(Packet::PubAck(PubAck::new(p.pkid))),
                    QoS::ExactlyOnce => {
                        return Err(Error::new(
                            jobs_result::Protocol,
                            format!("server sent a QoS 2 PUBLISH on '{}'", p.topic),
                        ))
                    }
                }
                let matched: Vec<&SubRecord> = self
                    .subs
                    .iter()
                    .filter(|r| topic::matches(&r.filter, &p.topic))
                    .collect();
                let handlers = if matched.is_empty() {
                    self.routes
                        .iter()
                        .filter(|(_, prefix, _)| p.topic.starts_with(prefix.as_str()))
                        .map(|(_, _, h)| h.clone())
                        .collect()
                } else {
                    matched.iter().filter_map(|r| r.handler.clone()).collect()
                };
                let msg = Message {
                    topic: Arc::from(p.topic.as_str()),
                    payload: p.payload,
                    qos: p.qos as u8,
                    retain: p.retain,
                    dup: p.dup,
                };
                fx.messages.push((msg, handlers));
            }
            Packet::PubAck(a) => {
                if let Some(f) = self.take_inflight(a.pkid) {
                    fx.acks
                        .push((f.completion, Ack::new(a.pkid, jobs_result::Ok)));
                }
            }
            Packet::SubAck(s) => {
                let Some(f) = self.take_inflight(s.pkid) else {
                    return Ok(false);
                };
                let filter = f.op.topic().to_owned();
                let granted = match s.return_codes.first() {
                    Some(SubscribeReasonCode::Success(q)) => Some(*q as u8),
                    _ => None,
                };
                if granted.is_none() {
                    self.subs.retain(|r| r.filter != filter);
                }
                if f.resubscribe {
                    self.resub_pending = self.resub_pending.saturating_sub(1);
                    if granted.is_none() {
                        fx.events.push(Event {
                            kind: EventKind::ResubscribeRefused,
                            result: jobs_result::SubscribeRefused,
                            packet_id: s.pkid,
                            topic: filter.clone(),
                            message: format!("resubscription to '{filter}' refused (SUBACK 0x80)"),
                        });
                    }
                    self.finish_resubscribe_if_done(fx);
                } else {
                    fx.acks.push((
                        f.completion,
                        Ack {
                            packet_id: s.pkid,
                            result: if granted.is_some() {
                                jobs_result::Ok
                            } else {
                                jobs_result::SubscribeRefused
                            },
                            granted_qos: granted.unwrap_or(0x80),
                        },
                    ));
                }
            }
            Packet::UnsubAck(u) => {
                if let Some(f) = self.take_inflight(u.pkid) {
                    fx.acks
                        .push((f.completion, Ack::new(u.pkid, jobs_result::Ok)));
                }
            }
            Packet::PingResp => return Ok(true),
            other => {
                return Err(Error::new(
                    jobs_result::Protocol,
                    format!("unexpected packet from the server: {other:?}"),
                ))
            }
        }
        Ok(false)
    }
}

fn packet_for(op: &Op, packet_id: u16, retransmit: bool) -> Packet {
    match op {
        Op::Publish {
            topic,
            payload,
            qos,
            retain,
        } => {
            let mut p = Publish::from_bytes(topic.as_str(), qos_of(*qos), payload.clone());
            p.pkid = packet_id;
            p.retain = *retain;
            p.dup = retransmit && *qos > 0;
            Packet::Publish(p)
        }
        Op::Subscribe { filter, qos, .. } => {
            let mut s = Subscribe::new(filter.as_str(), qos_of(*qos));
            s.pkid = packet_id;
            Packet::Subscribe(s)
        }
        Op::Unsubscribe { filter } => {
            let mut u = Unsubscribe::new(filter.as_str());
            u.pkid = packet_id;
            Packet::Unsubscribe(u)
        }
    }
}

fn connack_reason(code: u8) -> &'static str {
    match code {
        1 => "unacceptable protocol version",
        2 => "client identifier rejected",
        3 => "server unavailable",
        4 => "bad user name or password",
        5 => "not authorized",
        _ => "unknown return code",
    }
}

impl Shared {
    pub fn new(
        cfg: ConnectionConfig,
        tls: Option<Arc<rustls::ClientConfig>>,
        callbacks: Callbacks,
    ) -> Shared {
        Shared {
            inner: Mutex::new(Inner::new(&cfg)),
            cfg,
            tls,
            wake: Notify::new(),
            callbacks,
        }
    }

    fn lock(&self) -> Result<MutexGuard<'_, Inner>> {
        self.inner
            .lock()
            .map_err(|_| Error::new(jobs_result::Panic, "connection state poisoned by a panic"))
    }

    /// Sends a request now when online, else queues it by the queue policy.
    pub fn submit(self: &Arc<Self>, req: Request) -> Result<Submitted> {
        let mut fx = Effects::default();
        let result = {
            let mut g = self.lock()?;
            if g.shutdown {
                return Err(closed());
            }
            if g.status == Status::Online {
                match g.send_now(req, &mut fx) {
                    Ok(packet_id) => Ok(Submitted::Sent { packet_id }),
                    Err(b) => Err(b.1),
                }
            } else {
                g.enqueue(req, &mut fx)
            }
        };
        if matches!(result, Ok(Submitted::Sent { .. })) {
            self.wake.notify_one();
        }
        self.apply(fx);
        result
    }

    /// Adds a fallback handler for messages under `prefix` that match no subscription.
    pub fn add_route(&self, prefix: String, handler: Handler) -> Result<u64> {
        let mut g = self.lock()?;
        let id = g.next_route;
        g.next_route += 1;
        g.routes.push((id, prefix, handler));
        Ok(id)
    }

    pub fn remove_route(&self, id: u64) {
        if let Ok(mut g) = self.inner.lock() {
            g.routes.retain(|(rid, _, _)| *rid != id);
        }
    }

    pub fn status(&self) -> Status {
        self.lock().map(|g| g.status).unwrap_or(Status::Closed)
    }

    /// The totals, plus the queue depth and in-flight count read at this moment.
    pub fn counters(&self) -> Counters {
        self.lock()
            .map(|g| Counters {
                queued: g.queue.len() as u64,
                in_flight: g.inflight.len() as u64,
                ..g.counters
            })
            .unwrap_or_default()
    }

    /// Asks the task to connect; `waiter` gets the first attempt's outcome.
    pub fn request_connect(&self, waiter: Option<SyncSender<Result<()>>>) -> Result<()> {
        {
            let mut g = self.lock()?;
            if g.shutdown {
                return Err(closed());
            }
            if let Some(w) = waiter {
                if matches!(
                    g.status,
                    Status::Resubscribing | Status::Draining | Status::Online
                ) {
                    let _ = w.try_send(Ok(()));
                } else {
                    g.connect_waiters.push(w);
                }
            }
            g.want_connected = true;
        }
        self.wake.notify_one();
        Ok(())
    }

    /// Asks the task to disconnect; `waiter` is told once the link is closed.
    pub fn request_disconnect(&self, waiter: Option<SyncSender<()>>) -> Result<()> {
        {
            let mut g = self.lock()?;
            if g.shutdown {
                return Err(closed());
            }
            g.want_connected = false;
            if let Some(w) = waiter {
                if g.status == Status::Disconnected {
                    let _ = w.try_send(());
                } else {
                    g.disconnect_waiters.push(w);
                }
            }
        }
        self.wake.notify_one();
        Ok(())
    }

    /// Stops the task for good; pending requests complete with `Closed`.
    pub fn shutdown(&self) {
        if let Ok(mut g) = self.inner.lock() {
            g.shutdown = true;
            g.want_connected = false;
        }
        self.wake.notify_one();
    }

    pub fn log(self: &Arc<Self>, level: LogLevel, msg: impl Into<String>) {
        let mut fx = Effects::default();
        fx.logs.push((level, msg.into()));
        self.apply(fx);
    }

    fn apply(self: &Arc<Self>, fx: Effects) {
        for (completion, ack) in fx.acks {
            completion.complete(ack);
        }
        let cb = &self.callbacks;
        let wanted =
            |level: LogLevel| cb.on_log.is_some() && cb.log_level.is_some_and(|l| level <= l);
        for (level, msg) in fx.logs {
            if wanted(level) {
                let me = self.clone();
                runtime::post(&cb.gate, move || {
                    if let Some(f) = &me.callbacks.on_log {
                        f(level, &msg)
                    }
                });
            }
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
                runtime::post(&cb.gate, move || {
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
            if cb.on_message.is_some() {
                let me = self.clone();
                let m = msg.clone();
                runtime::post(&cb.gate, move || {
                    if let Some(f) = &me.callbacks.on_message {
                        f(&m)
                    }
                });
            }
            for h in handlers {
                let m = msg.clone();
                let f = h.f.clone();
                runtime::post(&h.gate, move || f(&m));
            }
        }
    }

    fn set_status(&self, status: Status) {
        if let Ok(mut g) = self.inner.lock() {
            g.status = status;
        }
    }

    fn flags(&self) -> (bool, bool) {
        self.inner
            .lock()
            .map(|g| (g.want_connected, g.shutdown))
            .unwrap_or((false, true))
    }

    /// Resolves when the user no longer wants a connection (disconnect or free).
    async fn until_unwanted(&self) {
        loop {
            let (want, shutdown) = self.flags();
            if !want || shutdown {
                return;
            }
            self.wake.notified().await;
        }
    }
}

/// The task: connect, serve, and reconnect with backoff until freed.
pub async fn run(shared: Arc<Shared>) {
    let mut backoff = Backoff::new(shared.cfg.backoff);
    loop {
        loop {
            let (want, shutdown) = shared.flags();
            if shutdown {
                return finish(&shared);
            }
            if want {
                break;
            }
            // Idle (never connected, disconnected, or interrupted while waiting to retry).
            shared.set_status(Status::Disconnected);
            notify_disconnected(&shared);
            shared.wake.notified().await;
        }
        shared.set_status(Status::Connecting);
        let attempt = tokio::select! {
            r = timeout(shared.cfg.connect_timeout, open(&shared)) => Some(r.unwrap_or_else(|_| Err(Error::new(
                jobs_result::Timeout,
                format!("no CONNACK within the connect timeout ({} ms)", shared.cfg.connect_timeout.as_millis()),
            )))),
            _ = shared.until_unwanted() => None,
        };
        match attempt {
            None => {}
            Some(Ok((stream, session_present, rbuf))) => {
                let connected_at = Instant::now();
                let end = serve(&shared, stream, session_present, rbuf).await;
                if connected_at.elapsed() >= backoff.stable_after() {
                    backoff.reset();
                }
                let mut fx = Effects::default();
                if let Ok(mut g) = shared.inner.lock() {
                    g.on_link_lost();
                    fx.offline = std::mem::take(&mut g.online_announced);
                    match &end {
                        End::Lost(e) => {
                            g.status = Status::Connecting;
                            fx.events.push(Event {
                                kind: EventKind::ConnectionLost,
                                result: e.code,
                                packet_id: 0,
                                topic: String::new(),
                                message: e.message.clone(),
                            });
                            fx.logs
                                .push((LogLevel::Warn, format!("connection lost: {e}")));
                        }
                        End::UserDisconnect => {
                            g.status = Status::Disconnected;
                            for w in g.disconnect_waiters.drain(..) {
                                let _ = w.try_send(());
                            }
                            fx.logs.push((LogLevel::Info, "disconnected".into()));
                        }
                        End::Shutdown => {}
                    }
                }
                shared.apply(fx);
                match end {
                    End::Shutdown => return finish(&shared),
                    End::UserDisconnect => continue,
                    End::Lost(_) => {}
                }
            }
            Some(Err(e)) => {
                let mut fx = Effects::default();
                if let Ok(mut g) = shared.inner.lock() {
                    // A blocking connect reports its first attempt and does not retry behind
                    // the caller's back; connect_async keeps trying.
                    if !g.connect_waiters.is_empty() {
                        for w in g.connect_waiters.drain(..) {
                            let _ = w.try_send(Err(e.clone()));
                        }
                        g.want_connected = false;
                        g.status = Status::Disconnected;
                    }
                }
                fx.events.push(Event {
                    kind: EventKind::ConnectFailed,
                    result: e.code,
                    packet_id: 0,
                    topic: String::new(),
                    message: e.message.clone(),
                });
                fx.logs
                    .push((LogLevel::Warn, format!("connect failed: {e}")));
                shared.apply(fx);
            }
        }
        let (want, shutdown) = shared.flags();
        if shutdown {
            return finish(&shared);
        }
        if !want {
            shared.set_status(Status::Disconnected);
            notify_disconnected(&shared);
            continue;
        }
        let delay = backoff.next_delay(fastrand::f64());
        shared.log(
            LogLevel::Info,
            format!("reconnecting in {} ms", delay.as_millis()),
        );
        let deadline = Instant::now() + delay;
        tokio::select! {
            _ = sleep_until(deadline) => {}
            _ = shared.until_unwanted() => {}
        }
    }
}

fn notify_disconnected(shared: &Shared) {
    if let Ok(mut g) = shared.inner.lock() {
        for w in g.disconnect_waiters.drain(..) {
            let _ = w.try_send(());
        }
    }
}

/// Completes everything still pending with `Closed`.
fn finish(shared: &Arc<Shared>) {
    let mut fx = Effects::default();
    if let Ok(mut g) = shared.inner.lock() {
        g.status = Status::Closed;
        for f in g.inflight.drain(..).collect::<Vec<_>>() {
            fx.acks
                .push((f.completion, Ack::new(f.packet_id, jobs_result::Closed)));
        }
        for r in g.queue.drain_all().collect::<Vec<_>>() {
            fx.acks
                .push((r.completion, Ack::new(0, jobs_result::Closed)));
        }
        for w in g.connect_waiters.drain(..) {
            let _ = w.try_send(Err(closed()));
        }
        for w in g.disconnect_waiters.drain(..) {
            let _ = w.try_send(());
        }
    }
    shared.apply(fx);
}

/// Opens the transport, sends CONNECT and waits for a successful CONNACK.
async fn open(shared: &Shared) -> Result<(Stream, bool, BytesMut)> {
    let cfg = &shared.cfg;
    let ep = Endpoint {
        host: cfg.host.clone(),
        port: cfg.port,
        kind: cfg.transport,
        ws_path: cfg.ws_path.clone(),
    };
    // Signed afresh on every attempt: a presigned URL carries its time and credentials.
    let hook = cfg
        .sigv4
        .as_ref()
        .map(|(region, creds)| sigv4::request_hook(region.clone(), creds.clone()));
    let mut stream = Stream::connect(&ep, shared.tls.clone(), hook.as_deref())
        .await
        .map_err(|e| {
            let code = if e.is_tls() {
                jobs_result::Tls
            } else {
                jobs_result::Network
            };
            Error::new(code, e.to_string())
        })?;
    stream
        .write_all(&encode_connect(cfg))
        .await
        .map_err(|e| Error::new(jobs_result::Network, format!("sending CONNECT: {e}")))?;
    let mut buf = BytesMut::with_capacity(4096);
    loop {
        match Packet::read(&mut buf, cfg.max_packet_size) {
            Ok(Packet::ConnAck(ack)) => {
                let code = ack.code as u8;
                if code != 0 {
                    return Err(Error::new(
                        jobs_result::ConnectRefused,
                        format!("CONNACK return code {code}: {}", connack_reason(code)),
                    ));
                }
                return Ok((stream, ack.session_present, buf));
            }
            Ok(other) => {
                return Err(Error::new(
                    jobs_result::Protocol,
                    format!("expected CONNACK, got {other:?}"),
                ))
            }
            Err(CodecError::InsufficientBytes(_)) => {}
            Err(CodecError::InvalidConnectReturnCode(code)) => {
                return Err(Error::new(
                    jobs_result::ConnectRefused,
                    format!("CONNACK return code {code}: {}", connack_reason(code)),
                ))
            }
            Err(e) => return Err(Error::new(jobs_result::Protocol, format!("CONNACK: {e}"))),
        }
        // With TLS 1.3 a refused client certificate surfaces here, on the first read.
        let n = stream.read_buf(&mut buf).await.map_err(|e| {
            let code = if is_tls_io_error(&e) {
                jobs_result::Tls
            } else {
                jobs_result::Network
            };
            Error::new(
                code,
                format!("waiting for CONNACK: {}", describe_io_error(&e)),
            )
        })?;
        if n == 0 {
            return Err(Error::new(
                jobs_result::Network,
                "the server closed the connection before CONNACK",
            ));
        }
    }
}

async fn flush(shared: &Shared, stream: &mut Stream, last_sent: &mut Instant) -> Result<()> {
    let packets = match shared.inner.lock() {
        Ok(mut g) => std::mem::take(&mut g.outbox),
        Err(_) => return Err(closed()),
    };
    if packets.is_empty() {
        return Ok(());
    }
    let mut buf = BytesMut::new();
    for p in &packets {
        p.write(&mut buf, usize::MAX)
            .map_err(|e| Error::new(jobs_result::Internal, format!("encoding {p:?}: {e}")))?;
    }
    // A black-holed peer can fill the socket buffer; bound the write like any operation.
    let limit = shared.cfg.operation_timeout.max(Duration::from_secs(1)) * 2;
    match timeout(limit, stream.write_all(&buf)).await {
        Ok(Ok(())) => {
            *last_sent = Instant::now();
            Ok(())
        }
        Ok(Err(e)) => Err(Error::new(jobs_result::Network, format!("write: {e}"))),
        Err(_) => Err(Error::new(
            jobs_result::Timeout,
            "write blocked longer than twice the operation timeout",
        )),
    }
}

/// Drives one established connection until it ends.
async fn serve(
    shared: &Arc<Shared>,
    mut stream: Stream,
    session_present: bool,
    mut rbuf: BytesMut,
) -> End {
    let cfg = &shared.cfg;
    let keep_alive = Duration::from_secs(cfg.keep_alive_secs.max(1) as u64);
    let op_timeout = cfg.operation_timeout;
    let drain_interval = cfg.drain_interval();
    {
        let mut fx = Effects::default();
        if let Ok(mut g) = shared.inner.lock() {
            if g.connections > 0 {
                g.counters.reconnects += 1;
            }
            g.connections += 1;
            g.status = Status::Resubscribing;
            g.recover(session_present, &mut fx);
            g.finish_resubscribe_if_done(&mut fx);
        }
        fx.logs.push((
            LogLevel::Info,
            format!(
                "connected to {}:{} (session present: {session_present})",
                cfg.host, cfg.port
            ),
        ));
        shared.apply(fx);
    }
    let mut last_sent = Instant::now();
    let mut ping_deadline: Option<Instant> = None;
    let mut last_probe: Option<Instant> = None;
    let mut next_drain = Instant::now();
    // Overdue acks are looked for on a steady tick rather than a deadline per request: a timer
    // moved earlier for every request makes tokio wake its own driver (an extra syscall per
    // request). A dead link is still found within two operation timeouts.
    let mut next_check = Instant::now() + op_timeout;
    // Set when the user disconnects with acks outstanding: the moment to stop waiting for them.
    let mut closing: Option<Instant> = None;
    loop {
        if let Err(e) = flush(shared, &mut stream, &mut last_sent).await {
            return End::Lost(e);
        }
        if let Some(deadline) = closing {
            let settled = shared
                .inner
                .lock()
                .map(|g| g.inflight.is_empty())
                .unwrap_or(true);
            if settled || Instant::now() >= deadline {
                say_goodbye(shared, &mut stream, &mut last_sent).await;
                return End::UserDisconnect;
            }
        }
        let (status, oldest) = match shared.inner.lock() {
            Ok(g) => (g.status, g.oldest_unacked()),
            Err(_) => return End::Shutdown,
        };
        // A request unacked for the operation timeout triggers a probe ping, so a dead link is
        // found in seconds instead of waiting out a keep-alive of up to 20 minutes.
        let probe_at = oldest.map(|t| last_probe.map_or(t, |p| p.max(t)) + op_timeout);
        let mut wake_at = (last_sent + keep_alive).min(next_check);
        if let Some(deadline) = closing {
            wake_at = wake_at.min(deadline);
        }
        if let Some(p) = ping_deadline {
            wake_at = wake_at.min(p);
        }
        if status == Status::Draining {
            wake_at = wake_at.min(next_drain);
        }
        // Unbiased: a flood of sends must not starve reads (acks), nor the reverse.
        tokio::select! {
            _ = shared.wake.notified() => {
                let (want, shutdown) = shared.flags();
                if shutdown {
                    say_goodbye(shared, &mut stream, &mut last_sent).await;
                    return End::Shutdown;
                }
                if !want && closing.is_none() {
                    // Let acks already on their way arrive first: what is acknowledged now is
                    // not resent (and duplicated) after the next connect. New requests queue.
                    let waiting = match shared.inner.lock() {
                        Ok(mut g) => {
                            g.status = Status::Disconnected;
                            !g.inflight.is_empty()
                        }
                        Err(_) => false,
                    };
                    if !waiting {
                        say_goodbye(shared, &mut stream, &mut last_sent).await;
                        return End::UserDisconnect;
                    }
                    closing = Some(Instant::now() + op_timeout.min(Duration::from_secs(2)));
                }
            }
            r = stream.read_buf(&mut rbuf) => match r {
                Ok(0) => return End::Lost(Error::new(jobs_result::Network, "connection closed by the server")),
                Ok(_) => {
                    let mut fx = Effects::default();
                    let mut outcome = Ok(());
                    if let Ok(mut g) = shared.inner.lock() {
                        loop {
                            match Packet::read(&mut rbuf, cfg.max_packet_size) {
                                Ok(p) => match g.handle_packet(p, &mut fx) {
                                    Ok(true) => ping_deadline = None,
                                    Ok(false) => {}
                                    Err(e) => { outcome = Err(e); break; }
                                },
                                Err(CodecError::InsufficientBytes(_)) => break,
                                Err(e) => {
                                    outcome = Err(Error::new(jobs_result::Protocol, format!("incoming packet: {e}")));
                                    break;
                                }
                            }
                        }
                    }
                    if let Err(e) = &outcome {
                        fx.events.push(Event {
                            kind: EventKind::ProtocolError,
                            result: e.code,
                            packet_id: 0,
                            topic: String::new(),
                            message: e.message.clone(),
                        });
                    }
                    shared.apply(fx);
                    if let Err(e) = outcome {
                        return End::Lost(e);
                    }
                }
                Err(e) => return End::Lost(Error::new(jobs_result::Network, format!("read: {e}"))),
            },
            _ = sleep_until(wake_at) => {
                let now = Instant::now();
                if ping_deadline.is_some_and(|p| now >= p) {
                    return End::Lost(Error::new(
                        jobs_result::Timeout,
                        format!("no PINGRESP within {} ms: the link is dead", op_timeout.as_millis()),
                    ));
                }
                if status == Status::Draining && now >= next_drain {
                    drain_one(shared);
                    next_drain = now + drain_interval.unwrap_or(Duration::ZERO);
                }
                if now >= next_check {
                    next_check = now + op_timeout;
                }
                let probe_due = probe_at.is_some_and(|p| now >= p);
                if ping_deadline.is_none() && (now >= last_sent + keep_alive || probe_due) {
                    if probe_due {
                        last_probe = Some(now);
                    }
                    if let Ok(mut g) = shared.inner.lock() {
                        g.outbox.push(Packet::PingReq);
                    }
                    ping_deadline = Some(now + op_timeout);
                }
            }
        }
    }
}

/// Flushes what is pending, sends DISCONNECT and closes, each step bounded.
async fn say_goodbye(shared: &Shared, stream: &mut Stream, last_sent: &mut Instant) {
    let _ = flush(shared, stream, last_sent).await;
    let mut buf = BytesMut::new();
    let _ = Packet::Disconnect.write(&mut buf, usize::MAX);
    let _ = timeout(Duration::from_secs(1), stream.write_all(&buf)).await;
    let _ = timeout(Duration::from_secs(1), stream.shutdown()).await;
}

/// Sends the next queued request (one per drain tick); the queue empty means online.
fn drain_one(shared: &Arc<Shared>) {
    let mut fx = Effects::default();
    if let Ok(mut g) = shared.inner.lock() {
        if g.status != Status::Draining {
            return;
        }
        // With no throttle, drain everything at once.
        let burst = if shared.cfg.drain_interval().is_some() {
            1
        } else {
            usize::MAX
        };
        for _ in 0..burst {
            let Some(req) = g.queue.pop() else { break };
            if let Err(b) = g.send_now(req, &mut fx) {
                let (req, e) = *b;
                g.queue.push_front(req);
                fx.logs
                    .push((LogLevel::Warn, format!("draining paused: {e}")));
                break;
            }
        }
        if g.queue.is_empty() {
            g.status = Status::Online;
        }
    }
    shared.apply(fx);
}
