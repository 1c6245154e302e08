//! The session core: one connection's MQTT client state machine, with no I/O.
//!
//! No tokio, no sockets, no clock. Inputs are method calls: a user request, a wish to connect
//! or disconnect, the link opened, bytes received, the link lost, a timer fired at a given
//! [`Instant`]. Outputs accumulate until taken: [`Io`] (bytes to write, open or close the
//! link) for the driver that owns the socket, and [`Effects`] (completions, messages, events,
//! logs) for whoever dispatches callbacks, plus [`Core::next_deadline`]. Everything that
//! decides (packet ids, in-flight retransmission with DUP=1, resubscription, the offline queue
//! and its draining rate, keep-alive and probe pings, backoff, the CONNECT handshake, the
//! user disconnect that waits for acks) lives here and is tested packet by packet.

use super::backoff::Backoff;
use super::codec::{self, encode_connect};
use super::config::ConnectionConfig;
use super::packet_id::PacketIds;
use super::queue::{OfflineQueue, Push};
use super::topic;
use super::types::*;
use crate::error::{jobs_result, Error, Result};
use bytes::{Bytes, BytesMut};
use rumqttc::mqttbytes::v4::{
    Packet, PubAck, Publish, Subscribe, SubscribeReasonCode, Unsubscribe,
};
use rumqttc::mqttbytes::QoS;
use std::collections::VecDeque;
use std::sync::mpsc::SyncSender;
use std::time::{Duration, Instant};
use zeroize::Zeroize;

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

/// The kind of request an acknowledgement packet completes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AckKind {
    Publish,
    Subscribe,
    Unsubscribe,
}

impl AckKind {
    fn name(self) -> &'static str {
        match self {
            AckKind::Publish => "PUBACK",
            AckKind::Subscribe => "SUBACK",
            AckKind::Unsubscribe => "UNSUBACK",
        }
    }
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

    fn acked_by(&self) -> AckKind {
        match self {
            Op::Publish { .. } => AckKind::Publish,
            Op::Subscribe { .. } => AckKind::Subscribe,
            Op::Unsubscribe { .. } => AckKind::Unsubscribe,
        }
    }
}

/// A request with the place its outcome goes.
pub struct Request {
    pub op: Op,
    pub completion: Completion,
    /// A request still queued at this instant is not sent: it completes with `Timeout`. For
    /// reads whose answer is useless after their deadline.
    pub expires_at: Option<Instant>,
}

impl Request {
    pub fn new(op: Op, completion: Completion) -> Request {
        Request {
            op,
            completion,
            expires_at: None,
        }
    }
}

/// Told the outcome of a blocking connect.
pub type ConnectWaiter = SyncSender<Result<()>>;
/// Told once the link is closed after a user disconnect.
pub type DisconnectWaiter = SyncSender<()>;

/// What the driver must do with the link.
#[derive(Default)]
pub struct Io {
    /// Start opening a transport (and report [`Core::link_opened`] or
    /// [`Core::link_open_failed`]).
    pub open_link: bool,
    /// Bytes to write, in order.
    pub write: BytesMut,
    /// After writing `write`, close the link (or abandon the attempt to open one).
    pub close_link: bool,
    /// The connection is finished for good: the driver stops.
    pub finished: bool,
    /// `write` holds the CONNECT (and so the password): wipe it once written.
    pub wipe_after_write: bool,
}

/// Outcomes to hand to callers and callbacks, once the core's lock is released.
#[derive(Default)]
pub struct Effects {
    pub acks: Vec<(Completion, Ack)>,
    pub messages: Vec<(Message, Vec<Handler>)>,
    pub events: Vec<Event>,
    pub logs: Vec<(LogLevel, String)>,
    pub online: bool,
    pub offline: bool,
    pub connect_results: Vec<(ConnectWaiter, Result<()>)>,
    pub disconnected: Vec<DisconnectWaiter>,
}

impl Effects {
    pub fn is_empty(&self) -> bool {
        self.acks.is_empty()
            && self.messages.is_empty()
            && self.events.is_empty()
            && self.logs.is_empty()
            && !self.online
            && !self.offline
            && self.connect_results.is_empty()
            && self.disconnected.is_empty()
    }
}

struct InFlight {
    packet_id: u16,
    op: Op,
    completion: Completion,
    /// A subscription re-sent by the core after a lost session, not by the user.
    resubscribe: bool,
    sent_at: Instant,
}

struct SubRecord {
    filter: String,
    qos: u8,
    handler: Option<Handler>,
}

/// Timers of an established link.
struct Up {
    since: Instant,
    last_sent: Instant,
    ping_deadline: Option<Instant>,
    last_probe: Option<Instant>,
    next_drain: Instant,
    /// Overdue acks are looked for on a steady tick rather than a deadline per request: a
    /// deadline moved earlier for every request makes the driver re-arm its timer each time.
    next_check: Instant,
    /// Set when the user disconnects with acks outstanding: the moment to stop waiting.
    closing: Option<Instant>,
}

enum Link {
    /// No link, none being opened, no retry planned.
    Idle,
    /// Waiting to retry after a failed attempt or a lost link.
    Waiting {
        retry_at: Instant,
    },
    /// The driver is opening the transport.
    Opening {
        deadline: Instant,
    },
    /// CONNECT written; waiting for CONNACK.
    Handshake {
        deadline: Instant,
    },
    Up(Up),
}

/// Why an established link ended.
enum End {
    Lost(Error),
    UserDisconnect,
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

/// A short description of a packet for debug logs: type, id, topic, size; never a payload.
fn describe(p: &Packet) -> String {
    match p {
        Packet::Publish(p) => format!(
            "PUBLISH id {} qos {} dup {} '{}' ({} bytes)",
            p.pkid,
            p.qos as u8,
            p.dup,
            p.topic,
            p.payload.len()
        ),
        Packet::PubAck(a) => format!("PUBACK id {}", a.pkid),
        Packet::Subscribe(s) => format!(
            "SUBSCRIBE id {} '{}'",
            s.pkid,
            s.filters.first().map_or("", |f| f.path.as_str())
        ),
        Packet::SubAck(s) => format!("SUBACK id {}", s.pkid),
        Packet::Unsubscribe(u) => format!(
            "UNSUBSCRIBE id {} '{}'",
            u.pkid,
            u.topics.first().map_or("", |t| t.as_str())
        ),
        Packet::UnsubAck(u) => format!("UNSUBACK id {}", u.pkid),
        Packet::PingReq => "PINGREQ".into(),
        Packet::PingResp => "PINGRESP".into(),
        Packet::Disconnect => "DISCONNECT".into(),
        Packet::ConnAck(c) => format!("CONNACK {:?}", c.code),
        other => format!("{other:?}"),
    }
}

/// The timing and limits the core works with, read once from the configuration.
#[derive(Debug, Clone)]
pub struct Timing {
    pub keep_alive: Duration,
    pub operation_timeout: Duration,
    pub connect_timeout: Duration,
    pub drain_interval: Option<Duration>,
    pub max_packet_size: usize,
}

impl Timing {
    fn of(cfg: &ConnectionConfig) -> Timing {
        Timing {
            keep_alive: Duration::from_secs(cfg.keep_alive_secs.max(1) as u64),
            operation_timeout: cfg.operation_timeout,
            connect_timeout: cfg.connect_timeout,
            drain_interval: cfg.drain_interval(),
            max_packet_size: cfg.max_packet_size,
        }
    }
}

/// One connection's state machine.
pub struct Core {
    timing: Timing,
    /// Where the connection goes, for log lines.
    peer: String,
    connect_packet: BytesMut,
    backoff: Backoff,
    rng: fastrand::Rng,
    debug_log: bool,

    status: Status,
    link: Link,
    want_connected: bool,
    shutdown: bool,
    online_announced: bool,
    connections: u64,
    read_paused: bool,

    ids: PacketIds,
    inflight: VecDeque<InFlight>,
    queue: OfflineQueue<Request>,
    subs: Vec<SubRecord>,
    /// Fallback handlers by topic prefix, for messages no subscription matched (AWS sends
    /// jobs replies to the requester whether or not it subscribed).
    routes: Vec<(u64, String, Handler)>,
    next_route: u64,
    resub_pending: usize,
    counters: Counters,
    connect_waiters: Vec<ConnectWaiter>,
    disconnect_waiters: Vec<DisconnectWaiter>,

    io: Io,
    fx: Effects,
}

impl Core {
    /// A disconnected core for a validated configuration. `seed` drives the backoff jitter;
    /// `debug_log` turns on one log line per packet in and out.
    pub fn new(cfg: &ConnectionConfig, seed: u64, debug_log: bool) -> Core {
        Core {
            timing: Timing::of(cfg),
            peer: format!("{}:{}", cfg.host, cfg.port),
            connect_packet: encode_connect(cfg),
            backoff: Backoff::new(cfg.backoff),
            rng: fastrand::Rng::with_seed(seed),
            debug_log,
            status: Status::Disconnected,
            link: Link::Idle,
            want_connected: false,
            shutdown: false,
            online_announced: false,
            connections: 0,
            read_paused: false,
            ids: PacketIds::default(),
            inflight: VecDeque::new(),
            queue: OfflineQueue::new(cfg.queue_limit, cfg.drop_policy),
            subs: Vec::new(),
            routes: Vec::new(),
            next_route: 1,
            resub_pending: 0,
            counters: Counters::default(),
            connect_waiters: Vec::new(),
            disconnect_waiters: Vec::new(),
            io: Io::default(),
            fx: Effects::default(),
        }
    }

    // ------------------------------------------------------------------ outputs

    /// What the driver must do now.
    pub fn take_io(&mut self) -> Io {
        std::mem::take(&mut self.io)
    }

    /// Whether [`Core::take_io`] has anything for the driver.
    pub fn io_pending(&self) -> bool {
        self.io.open_link || self.io.close_link || self.io.finished || !self.io.write.is_empty()
    }

    /// Completions and callbacks to dispatch.
    pub fn take_effects(&mut self) -> Effects {
        std::mem::take(&mut self.fx)
    }

    /// The next instant at which [`Core::timer`] has something to do.
    pub fn next_deadline(&self) -> Option<Instant> {
        match &self.link {
            Link::Idle => None,
            Link::Waiting { retry_at } => Some(*retry_at),
            Link::Opening { deadline } | Link::Handshake { deadline } => Some(*deadline),
            Link::Up(up) => {
                let mut at = (up.last_sent + self.timing.keep_alive).min(up.next_check);
                for t in [up.closing, up.ping_deadline].into_iter().flatten() {
                    at = at.min(t);
                }
                if self.status == Status::Draining {
                    at = at.min(up.next_drain);
                }
                Some(at)
            }
        }
    }

    /// Connection state; `Closed` from the moment the connection is shut down.
    pub fn status(&self) -> Status {
        if self.shutdown {
            Status::Closed
        } else {
            self.status
        }
    }

    /// The totals, plus the queue depth and in-flight count at this moment.
    pub fn counters(&self) -> Counters {
        Counters {
            queued: self.queue.len() as u64,
            // The user's requests only: resubscriptions are the core's own packets.
            in_flight: self.inflight.iter().filter(|f| !f.resubscribe).count() as u64,
            ..self.counters
        }
    }

    pub fn log(&mut self, level: LogLevel, msg: impl Into<String>) {
        self.fx.logs.push((level, msg.into()));
    }

    fn event(
        &mut self,
        kind: EventKind,
        result: jobs_result,
        packet_id: u16,
        topic: String,
        message: String,
    ) {
        self.fx.events.push(Event {
            kind,
            result,
            packet_id,
            topic,
            message,
        });
    }

    /// An event about the link as a whole (no packet, no topic).
    fn link_event(&mut self, kind: EventKind, e: &Error) {
        self.event(kind, e.code, 0, String::new(), e.message.clone());
    }

    fn emit(&mut self, p: &Packet, now: Instant) {
        if let Err(e) = p.write(&mut self.io.write, usize::MAX) {
            // Requests are validated before they get here; an unencodable one is a bug.
            self.log(
                LogLevel::Error,
                format!("cannot encode {}: {e}", describe(p)),
            );
            return;
        }
        if self.debug_log {
            self.log(LogLevel::Debug, format!("out: {}", describe(p)));
        }
        if let Link::Up(up) = &mut self.link {
            up.last_sent = now;
        }
    }

    // ------------------------------------------------------------------ user requests

    /// Sends a request now when online, else queues it by the queue policy.
    pub fn submit(&mut self, req: Request, now: Instant) -> Result<Submitted> {
        if self.shutdown {
            return Err(closed());
        }
        if self.status == Status::Online {
            self.send_now(req, now)
                .map(|packet_id| Submitted::Sent { packet_id })
                .map_err(|b| b.1)
        } else {
            self.enqueue(req)
        }
    }

    /// Adds a fallback handler for messages under `prefix` that match no subscription.
    pub fn add_route(&mut self, prefix: String, handler: Handler) -> u64 {
        let id = self.next_route;
        self.next_route += 1;
        self.routes.push((id, prefix, handler));
        id
    }

    pub fn remove_route(&mut self, id: u64) {
        self.routes.retain(|(rid, _, _)| *rid != id);
    }

    /// The user wants a connection; `waiter` is told once subscriptions are re-made, or the
    /// first attempt's failure.
    pub fn connect(&mut self, waiter: Option<ConnectWaiter>, now: Instant) -> Result<()> {
        if self.shutdown {
            return Err(closed());
        }
        if let Some(w) = waiter {
            if matches!(
                self.status,
                Status::Resubscribing | Status::Draining | Status::Online
            ) {
                self.fx.connect_results.push((w, Ok(())));
            } else {
                self.connect_waiters.push(w);
            }
        }
        self.want_connected = true;
        if matches!(self.link, Link::Idle) {
            self.start_attempt(now);
        }
        Ok(())
    }

    /// The user wants no connection; `waiter` is told once the link is closed.
    pub fn disconnect(&mut self, waiter: Option<DisconnectWaiter>, now: Instant) -> Result<()> {
        if self.shutdown {
            return Err(closed());
        }
        self.want_connected = false;
        if let Some(w) = waiter {
            self.disconnect_waiters.push(w);
        }
        match &mut self.link {
            Link::Idle => self.settle_disconnected(),
            Link::Waiting { .. } | Link::Opening { .. } | Link::Handshake { .. } => {
                if !matches!(self.link, Link::Waiting { .. }) {
                    self.close_link();
                    self.io.write.clear();
                }
                self.link = Link::Idle;
                let e = Error::new(
                    jobs_result::NotConnected,
                    "disconnect requested before the connection was established",
                );
                for w in self.connect_waiters.drain(..) {
                    self.fx.connect_results.push((w, Err(e.clone())));
                }
                self.settle_disconnected();
            }
            Link::Up(up) => {
                if up.closing.is_some() {
                    return Ok(());
                }
                // Requests made from now on are queued for the next connect.
                self.status = Status::Disconnected;
                if self.inflight.is_empty() {
                    self.goodbye(now);
                } else {
                    // Let acks already on their way arrive first: what is acknowledged now is
                    // not resent (and duplicated) after the next connect.
                    up.closing =
                        Some(now + self.timing.operation_timeout.min(Duration::from_secs(2)));
                }
            }
        }
        Ok(())
    }

    /// Stops for good: pending requests complete with `Closed`, waiters are released.
    pub fn shutdown(&mut self, _now: Instant) {
        if self.shutdown {
            return;
        }
        self.shutdown = true;
        self.want_connected = false;
        match &self.link {
            Link::Up(_) => {
                for f in &self.inflight {
                    if f.resubscribe {
                        self.ids.release(f.packet_id);
                    }
                }
                self.inflight.retain(|f| !f.resubscribe);
                let mut bye = BytesMut::new();
                let _ = Packet::Disconnect.write(&mut bye, usize::MAX);
                self.io.write.extend_from_slice(&bye);
                self.close_link();
                self.fx.offline = std::mem::take(&mut self.online_announced);
            }
            Link::Opening { .. } | Link::Handshake { .. } => self.close_link(),
            Link::Idle | Link::Waiting { .. } => {}
        }
        self.link = Link::Idle;
        self.status = Status::Closed;
        for f in self.inflight.drain(..) {
            self.fx
                .acks
                .push((f.completion, Ack::new(f.packet_id, jobs_result::Closed)));
        }
        for r in self.queue.drain_all() {
            self.fx
                .acks
                .push((r.completion, Ack::new(0, jobs_result::Closed)));
        }
        for w in self.connect_waiters.drain(..) {
            self.fx.connect_results.push((w, Err(closed())));
        }
        self.fx.disconnected.append(&mut self.disconnect_waiters);
        self.io.finished = true;
    }

    /// Stops reading while callbacks are backed up (TCP backpressure). While paused, a missing
    /// PINGRESP does not count against the link: it may be sitting unread in the socket.
    pub fn set_read_paused(&mut self, paused: bool, now: Instant) {
        if self.read_paused && !paused {
            if let Link::Up(up) = &mut self.link {
                if up.ping_deadline.is_some() {
                    up.ping_deadline = Some(now + self.timing.operation_timeout);
                }
            }
        }
        self.read_paused = paused;
    }

    // ------------------------------------------------------------------ link events

    /// The transport is open: the CONNECT goes out.
    pub fn link_opened(&mut self, _now: Instant) {
        let Link::Opening { deadline } = self.link else {
            // Opened after the attempt was abandoned.
            self.close_link();
            return;
        };
        self.io.write.extend_from_slice(&self.connect_packet);
        self.io.wipe_after_write = true;
        self.link = Link::Handshake { deadline };
    }

    /// The transport could not be opened.
    pub fn link_open_failed(&mut self, e: Error, now: Instant) {
        if matches!(self.link, Link::Opening { .. }) {
            self.connect_failed(e, now);
        }
    }

    /// The link broke (read or write error, or closed by the server).
    pub fn link_lost(&mut self, e: Error, now: Instant) {
        self.close_link();
        match &self.link {
            Link::Opening { .. } => self.connect_failed(e, now),
            Link::Handshake { .. } => {
                let e = if e.code == jobs_result::Network
                    && e.message.contains("closed by the server")
                {
                    Error::new(e.code, "the server closed the connection before CONNACK")
                } else {
                    Error::new(e.code, format!("waiting for CONNACK: {}", e.message))
                };
                self.connect_failed(e, now)
            }
            Link::Up(up) => {
                let end = if up.closing.is_some() {
                    End::UserDisconnect
                } else {
                    End::Lost(e)
                };
                self.end_link(end, now)
            }
            Link::Idle | Link::Waiting { .. } => {}
        }
    }

    /// Bytes arrived; every whole packet in `buf` is handled and removed from it.
    pub fn bytes_received(&mut self, buf: &mut BytesMut, now: Instant) {
        loop {
            if !matches!(self.link, Link::Handshake { .. } | Link::Up(_)) {
                buf.clear();
                return;
            }
            let packet = match codec::read_server_packet(buf, self.timing.max_packet_size) {
                Ok(Some(p)) => p,
                Ok(None) => break,
                Err(e) => {
                    self.protocol_violation(e, now);
                    buf.clear();
                    return;
                }
            };
            if self.debug_log {
                self.log(LogLevel::Debug, format!("in: {}", describe(&packet)));
            }
            let handled = if matches!(self.link, Link::Handshake { .. }) {
                self.handle_connack(packet, now)
            } else {
                self.handle_packet(packet, now)
            };
            if let Err(e) = handled {
                self.protocol_violation(e, now);
                buf.clear();
                return;
            }
        }
        if let Link::Up(up) = &self.link {
            if up.closing.is_some() && self.inflight.is_empty() {
                self.goodbye(now);
            }
        }
    }

    /// A timer fired; `now` is the time it fired at.
    pub fn timer(&mut self, now: Instant) {
        match &mut self.link {
            Link::Idle => {}
            Link::Waiting { retry_at } => {
                if now >= *retry_at {
                    self.start_attempt(now);
                }
            }
            Link::Opening { deadline } | Link::Handshake { deadline } => {
                if now >= *deadline {
                    self.close_link();
                    self.io.write.clear();
                    let e = Error::new(
                        jobs_result::Timeout,
                        format!(
                            "no CONNACK within the connect timeout ({} ms)",
                            self.timing.connect_timeout.as_millis()
                        ),
                    );
                    self.connect_failed(e, now);
                }
            }
            Link::Up(up) => {
                if up.closing.is_some_and(|c| now >= c) {
                    return self.goodbye(now);
                }
                let op = self.timing.operation_timeout;
                if !self.read_paused && up.ping_deadline.is_some_and(|p| now >= p) {
                    self.close_link();
                    let e = Error::new(
                        jobs_result::Timeout,
                        format!("no PINGRESP within {} ms: the link is dead", op.as_millis()),
                    );
                    return self.end_link(End::Lost(e), now);
                }
                if now >= up.next_check {
                    up.next_check = now + op;
                }
                if self.status == Status::Draining && now >= up.next_drain {
                    up.next_drain = now + self.timing.drain_interval.unwrap_or(Duration::ZERO);
                    self.drain(now);
                }
                let Link::Up(up) = &mut self.link else { return };
                // A request unacked for the operation timeout triggers a probe ping, so a dead
                // link is found in seconds instead of after a keep-alive of up to 20 minutes.
                let oldest = self.inflight.iter().map(|f| f.sent_at).min();
                let probe_due = oldest
                    .map(|t| up.last_probe.map_or(t, |p| p.max(t)) + op)
                    .is_some_and(|p| now >= p);
                let keep_alive_due = now >= up.last_sent + self.timing.keep_alive;
                if up.ping_deadline.is_none() && (keep_alive_due || probe_due) {
                    if probe_due {
                        up.last_probe = Some(now);
                    }
                    up.ping_deadline = Some(now + op);
                    self.emit(&Packet::PingReq, now);
                }
            }
        }
    }

    // ------------------------------------------------------------------ internals

    /// Closes the link, or abandons an attempt the driver has not started yet. The driver
    /// writes, then closes, then opens, so a close followed by a new attempt in one batch
    /// works, and an attempt abandoned within one batch never starts.
    fn close_link(&mut self) {
        self.io.open_link = false;
        self.io.close_link = true;
    }

    fn start_attempt(&mut self, now: Instant) {
        self.status = Status::Connecting;
        self.link = Link::Opening {
            deadline: now + self.timing.connect_timeout,
        };
        self.io.open_link = true;
    }

    fn schedule_retry(&mut self, now: Instant) {
        let delay = self.backoff.next_delay(self.rng.f64());
        self.log(
            LogLevel::Info,
            format!("reconnecting in {} ms", delay.as_millis()),
        );
        self.status = Status::Connecting;
        self.link = Link::Waiting {
            retry_at: now + delay,
        };
    }

    fn settle_disconnected(&mut self) {
        self.status = Status::Disconnected;
        self.fx.disconnected.append(&mut self.disconnect_waiters);
    }

    fn connect_failed(&mut self, e: Error, now: Instant) {
        self.close_link();
        self.link_event(EventKind::ConnectFailed, &e);
        self.log(LogLevel::Warn, format!("connect failed: {e}"));
        self.link = Link::Idle;
        // A blocking connect reports its first attempt and does not retry behind the caller's
        // back; connect_async keeps trying.
        if !self.connect_waiters.is_empty() {
            for w in self.connect_waiters.drain(..) {
                self.fx.connect_results.push((w, Err(e.clone())));
            }
            self.want_connected = false;
        }
        if self.want_connected {
            self.schedule_retry(now);
        } else {
            self.settle_disconnected();
        }
    }

    fn handle_connack(&mut self, packet: Packet, now: Instant) -> Result<()> {
        match packet {
            Packet::ConnAck(ack) => {
                let code = ack.code as u8;
                if code != 0 {
                    let e = Error::new(
                        jobs_result::ConnectRefused,
                        format!("CONNACK return code {code}: {}", connack_reason(code)),
                    );
                    self.connect_failed(e, now);
                    return Ok(());
                }
                self.link_up(ack.session_present, now);
                Ok(())
            }
            other => {
                let e = Error::new(
                    jobs_result::Protocol,
                    format!("expected CONNACK, got {}", describe(&other)),
                );
                self.connect_failed(e, now);
                Ok(())
            }
        }
    }

    fn protocol_violation(&mut self, e: Error, now: Instant) {
        match self.link {
            Link::Handshake { .. } => {
                let e = if e.code == jobs_result::ConnectRefused {
                    e
                } else {
                    Error::new(e.code, format!("CONNACK: {}", e.message))
                };
                self.connect_failed(e, now)
            }
            Link::Up(_) => {
                self.link_event(EventKind::ProtocolError, &e);
                self.close_link();
                self.end_link(End::Lost(e), now);
            }
            _ => {}
        }
    }

    /// CONNACK accepted: re-make subscriptions if the session was lost, then re-send every
    /// request still waiting for its ack (publishes with DUP=1).
    fn link_up(&mut self, session_present: bool, now: Instant) {
        if self.connections > 0 {
            self.counters.reconnects += 1;
        }
        self.connections += 1;
        self.link = Link::Up(Up {
            since: now,
            last_sent: now,
            ping_deadline: None,
            last_probe: None,
            next_drain: now,
            next_check: now + self.timing.operation_timeout,
            closing: None,
        });
        self.status = Status::Resubscribing;
        self.log(
            LogLevel::Info,
            format!(
                "connected to {} (session present: {session_present})",
                self.peer
            ),
        );
        let mut resend: Vec<Packet> = Vec::new();
        if !session_present {
            let pending: Vec<(String, u8)> = self
                .subs
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
                    self.log(LogLevel::Error, "no packet id left to resubscribe");
                    break;
                };
                let op = Op::Subscribe {
                    filter,
                    qos,
                    handler: None,
                };
                resend.push(packet_for(&op, packet_id, false));
                resubs.push(InFlight {
                    packet_id,
                    op,
                    completion: Completion::None,
                    resubscribe: true,
                    sent_at: now,
                });
                self.resub_pending += 1;
            }
            for r in resubs.into_iter().rev() {
                self.inflight.push_front(r);
            }
        }
        for f in self.inflight.iter_mut().filter(|f| !f.resubscribe) {
            f.sent_at = now;
            if matches!(f.op, Op::Publish { .. }) {
                self.counters.published += 1;
            }
            resend.push(packet_for(&f.op, f.packet_id, true));
        }
        for p in &resend {
            self.emit(p, now);
        }
        self.finish_resubscribe_if_done();
    }

    /// The link ended: forget core-made resubscriptions (re-made on the next CONNACK) and
    /// unwritten bytes; user requests stay in flight for retransmission.
    fn end_link(&mut self, end: End, now: Instant) {
        if let Link::Up(up) = &self.link {
            if now.saturating_duration_since(up.since) >= self.backoff.stable_after() {
                self.backoff.reset();
            }
        }
        let ids = &mut self.ids;
        self.inflight.retain(|f| {
            if f.resubscribe {
                ids.release(f.packet_id);
            }
            !f.resubscribe
        });
        self.resub_pending = 0;
        self.link = Link::Idle;
        self.fx.offline = std::mem::take(&mut self.online_announced);
        match end {
            End::Lost(e) => {
                self.io.write.clear();
                self.link_event(EventKind::ConnectionLost, &e);
                self.log(LogLevel::Warn, format!("connection lost: {e}"));
                if self.want_connected {
                    self.schedule_retry(now);
                } else {
                    self.settle_disconnected();
                }
            }
            End::UserDisconnect => {
                self.log(LogLevel::Info, "disconnected");
                self.settle_disconnected();
                if self.want_connected {
                    // Connect was asked for again while the disconnect waited for acks.
                    self.start_attempt(now);
                }
            }
        }
    }

    /// Writes what is pending and a DISCONNECT, then closes.
    fn goodbye(&mut self, now: Instant) {
        self.emit(&Packet::Disconnect, now);
        self.close_link();
        self.end_link(End::UserDisconnect, now);
    }

    fn finish_resubscribe_if_done(&mut self) {
        if self.status == Status::Resubscribing && self.resub_pending == 0 {
            // Nothing queued: online at once, so a request made from on_online goes straight out.
            self.status = if self.queue.is_empty() {
                Status::Online
            } else {
                Status::Draining
            };
            if !self.online_announced {
                self.online_announced = true;
                self.fx.online = true;
            }
            // A blocking connect returns here, not at CONNACK: with subscriptions re-made, a
            // request made right after it goes out instead of into the queue.
            for w in self.connect_waiters.drain(..) {
                self.fx.connect_results.push((w, Ok(())));
            }
        }
    }

    /// Puts a request on the wire now. On `Busy` the request is handed back.
    fn send_now(
        &mut self,
        req: Request,
        now: Instant,
    ) -> std::result::Result<u16, Box<(Request, Error)>> {
        let Request { op, completion, .. } = req;
        if let Op::Publish {
            topic,
            payload,
            qos: 0,
            retain,
        } = &op
        {
            let mut p = Publish::from_bytes(topic.as_str(), QoS::AtMostOnce, payload.clone());
            p.retain = *retain;
            self.emit(&Packet::Publish(p), now);
            self.counters.published += 1;
            self.fx
                .acks
                .push((completion, Ack::new(0, jobs_result::Ok)));
            return Ok(0);
        }
        let Some(packet_id) = self.ids.allocate() else {
            let err = Error::new(jobs_result::Busy, "all 65535 packet ids are in flight");
            return Err(Box::new((Request::new(op, completion), err)));
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
        self.emit(&packet_for(&op, packet_id, false), now);
        self.inflight.push_back(InFlight {
            packet_id,
            op,
            completion,
            resubscribe: false,
            sent_at: now,
        });
        Ok(packet_id)
    }

    fn enqueue(&mut self, req: Request) -> Result<Submitted> {
        match self.queue.push(req) {
            Push::Queued => Ok(Submitted::Queued),
            Push::QueuedDroppedOldest(old) => {
                self.counters.dropped += 1;
                let message = format!(
                    "queued {} to '{}' dropped to make room (drop-oldest)",
                    old.op.kind(),
                    old.op.topic()
                );
                self.event(
                    EventKind::RequestDropped,
                    jobs_result::Dropped,
                    0,
                    old.op.topic().to_owned(),
                    message,
                );
                self.fx
                    .acks
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

    /// Sends the next queued request (all of them with no draining rate); the queue empty
    /// means online.
    fn drain(&mut self, now: Instant) {
        let burst = if self.timing.drain_interval.is_some() {
            1
        } else {
            usize::MAX
        };
        let mut sent = 0;
        while sent < burst {
            let Some(req) = self.queue.pop() else { break };
            if req.expires_at.is_some_and(|t| now >= t) {
                let message = format!(
                    "queued {} to '{}' expired before it could be sent",
                    req.op.kind(),
                    req.op.topic()
                );
                self.log(LogLevel::Info, message);
                self.fx
                    .acks
                    .push((req.completion, Ack::new(0, jobs_result::Timeout)));
                continue;
            }
            sent += 1;
            if let Err(b) = self.send_now(req, now) {
                let (req, e) = *b;
                self.queue.push_front(req);
                self.log(LogLevel::Warn, format!("draining paused: {e}"));
                break;
            }
        }
        if self.queue.is_empty() {
            self.status = Status::Online;
        }
    }

    /// Takes the in-flight request `packet_id` if it is one that `kind` acknowledges. An ack
    /// of the wrong type for an id in flight is reported and completes nothing.
    fn take_acked(&mut self, packet_id: u16, kind: AckKind) -> Option<InFlight> {
        let pos = self
            .inflight
            .iter()
            .position(|f| f.packet_id == packet_id)?;
        let expected = self.inflight[pos].op.acked_by();
        if expected != kind {
            let topic = self.inflight[pos].op.topic().to_owned();
            let message = format!(
                "{} for packet id {packet_id}, which is a {} waiting for a {}: ignored",
                kind.name(),
                self.inflight[pos].op.kind(),
                expected.name()
            );
            self.log(LogLevel::Warn, message.clone());
            self.event(
                EventKind::ProtocolError,
                jobs_result::Protocol,
                packet_id,
                topic,
                message,
            );
            return None;
        }
        let f = self.inflight.remove(pos)?;
        self.ids.release(packet_id);
        Some(f)
    }

    fn handle_packet(&mut self, packet: Packet, now: Instant) -> Result<()> {
        match packet {
            Packet::Publish(p) => {
                self.counters.received += 1;
                match p.qos {
                    QoS::AtMostOnce => {}
                    QoS::AtLeastOnce => self.emit(&Packet::PubAck(PubAck::new(p.pkid)), now),
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
                let mut handlers: Vec<Handler> =
                    matched.iter().filter_map(|r| r.handler.clone()).collect();
                // The library's own subscriptions do not take a message away from the
                // fallback routes: only a user subscription does.
                let user_matched = matched.iter().any(|r| {
                    !matches!(
                        r.handler,
                        Some(Handler {
                            runs: Runs::IoThread,
                            ..
                        })
                    )
                });
                if !user_matched {
                    handlers.extend(
                        self.routes
                            .iter()
                            .filter(|(_, prefix, _)| p.topic.starts_with(prefix.as_str()))
                            .map(|(_, _, h)| h.clone()),
                    );
                }
                let msg = Message::new(&p.topic, p.payload, p.qos as u8, p.retain, p.dup);
                self.fx.messages.push((msg, handlers));
            }
            Packet::PubAck(a) => {
                if let Some(f) = self.take_acked(a.pkid, AckKind::Publish) {
                    self.fx
                        .acks
                        .push((f.completion, Ack::new(a.pkid, jobs_result::Ok)));
                }
            }
            Packet::SubAck(s) => {
                let Some(f) = self.take_acked(s.pkid, AckKind::Subscribe) else {
                    return Ok(());
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
                        let message = format!("resubscription to '{filter}' refused (SUBACK 0x80)");
                        self.event(
                            EventKind::ResubscribeRefused,
                            jobs_result::SubscribeRefused,
                            s.pkid,
                            filter,
                            message,
                        );
                    }
                    self.finish_resubscribe_if_done();
                } else {
                    self.fx.acks.push((
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
                if let Some(f) = self.take_acked(u.pkid, AckKind::Unsubscribe) {
                    self.fx
                        .acks
                        .push((f.completion, Ack::new(u.pkid, jobs_result::Ok)));
                }
            }
            Packet::PingResp => {
                if let Link::Up(up) = &mut self.link {
                    up.ping_deadline = None;
                }
            }
            other => {
                return Err(Error::new(
                    jobs_result::Protocol,
                    format!("unexpected packet from the server: {}", describe(&other)),
                ))
            }
        }
        Ok(())
    }
}

impl Drop for Core {
    /// The encoded CONNECT carries the MQTT password.
    fn drop(&mut self) {
        self.connect_packet.as_mut().zeroize();
        self.io.write.as_mut().zeroize();
    }
}

#[cfg(test)]
#[path = "core_tests.rs"]
mod tests;
