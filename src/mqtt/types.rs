//! Values that cross from the engine to its users: messages, acks, events, counters, and the
//! connection enums C sees (exported by cbindgen under their `jobs_*` names; the numbers are
//! the ABI and follow the Python SDK v1 where it has them).

use crate::error::{c_enum, jobs_result};
use crate::runtime::Gate;
use bytes::Bytes;
use std::sync::Arc;

// Variant names are spelled so that cbindgen derives the C constants from them
// (`WebsocketTls` → `JOBS_TRANSPORT_WEBSOCKET_TLS`, `Mqtt31` → `JOBS_PROTOCOL_MQTT31`).
/// How bytes reach the endpoint (`jobs_config_set_transport`).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransportKind {
    /// MQTT over TLS with mutual X.509 authentication (the default; port 8883, or 443 with ALPN).
    Tls = 1,
    /// Plain TCP, for local brokers only. Never used unless asked for.
    Tcp = 2,
    /// MQTT over WebSocket over TLS (`wss://host/mqtt`).
    WebsocketTls = 3,
    /// MQTT over plain WebSocket, for local brokers only.
    Websocket = 4,
}

c_enum!(TransportKind as "jobs_transport" {
    Tls => "tls",
    Tcp => "tcp",
    WebsocketTls => "websocket_tls",
    Websocket => "websocket",
});

/// cbindgen:ignore
impl TransportKind {
    /// The spelling before the variants took their C names; kept so existing callers compile.
    #[allow(non_upper_case_globals)]
    pub const WebSocket: TransportKind = TransportKind::Websocket;
    /// The spelling before the variants took their C names; kept so existing callers compile.
    #[allow(non_upper_case_globals)]
    pub const WebSocketTls: TransportKind = TransportKind::WebsocketTls;
}

impl TransportKind {
    /// True for the kinds that run TLS and therefore need a `ClientConfig`.
    pub fn uses_tls(self) -> bool {
        matches!(self, TransportKind::Tls | TransportKind::WebsocketTls)
    }

    /// True for the WebSocket kinds.
    pub fn is_websocket(self) -> bool {
        matches!(self, TransportKind::Websocket | TransportKind::WebsocketTls)
    }
}

/// MQTT protocol level (`jobs_config_set_protocol`); numbering follows the Python SDK.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// MQTT 3.1 (`MQIsdp`, level 3); client ids of at most 23 bytes.
    Mqtt31 = 3,
    /// MQTT 3.1.1 (the default).
    Mqtt311 = 4,
}

c_enum!(Protocol as "jobs_protocol" {
    Mqtt31 => "mqtt31",
    Mqtt311 => "mqtt311",
});

/// cbindgen:ignore
impl Protocol {
    /// The spelling before the variants took their C names; kept so existing callers compile.
    #[allow(non_upper_case_globals)]
    pub const V31: Protocol = Protocol::Mqtt31;
    /// The spelling before the variants took their C names; kept so existing callers compile.
    #[allow(non_upper_case_globals)]
    pub const V311: Protocol = Protocol::Mqtt311;
}

/// What a full offline queue does (`jobs_config_set_offline_queue`); numbering follows the SDK.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropPolicy {
    /// Drop the oldest queued request to make room; a `JOBS_EVENT_KIND_REQUEST_DROPPED` names it.
    DropOldest = 0,
    /// Refuse the new request with `JOBS_RESULT_QUEUE_FULL`.
    DropNewest = 1,
}

c_enum!(DropPolicy as "jobs_drop_policy" {
    DropOldest => "drop_oldest",
    DropNewest => "drop_newest",
});

/// Where a request went (`*delivery_out` of publish, subscribe and unsubscribe calls).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Delivery {
    /// Sent on the live connection (for blocking QoS 1 calls: acknowledged).
    Sent = 0,
    /// Not online: held in the offline queue and sent, in order, after the next reconnect.
    Queued = 1,
}

c_enum!(Delivery as "jobs_delivery" {
    Sent => "sent",
    Queued => "queued",
});

/// How a custom authorizer's name, token and signature travel on a WebSocket upgrade
/// (`websocket_form` of `jobs_custom_authorizer_args`). Ignored on the TLS and TCP transports.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CustomAuthForm {
    /// As HTTP headers of the upgrade request (the default).
    Headers = 0,
    /// As query parameters of the upgrade URL (`/mqtt?x-amz-customauthorizer-name=…`).
    Query = 1,
}

c_enum!(CustomAuthForm as "jobs_custom_auth_form" {
    Headers => "headers",
    Query => "query",
});

/// Connection state, as returned by `jobs_connection_get_state`.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// Not connected and not trying.
    Disconnected = 0,
    /// Connecting, or waiting to retry.
    Connecting = 1,
    /// Connected; re-sending subscriptions after a lost session.
    Resubscribing = 2,
    /// Connected; sending queued requests at the draining rate.
    Draining = 3,
    /// Connected; requests go straight out.
    Online = 4,
    /// Shut down.
    Closed = 5,
}

c_enum!(Status as "jobs_connection_state" {
    Disconnected => "disconnected",
    Connecting => "connecting",
    Resubscribing => "resubscribing",
    Draining => "draining",
    Online => "online",
    Closed => "closed",
});

/// Asynchronous events (`kind` of `jobs_event_callback`).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// A connection attempt failed (`result`: `_NETWORK`, `_TLS`, `_CONNECT_REFUSED`, `_TIMEOUT`, ...).
    ConnectFailed = 1,
    /// An established connection was lost; reconnecting follows.
    ConnectionLost = 2,
    /// A subscription re-sent after a reconnect was refused (SUBACK 0x80); `topic` is its filter.
    ResubscribeRefused = 3,
    /// A queued request was dropped to make room (drop-oldest); `topic` names it.
    RequestDropped = 4,
    /// The server sent a malformed, unexpected or oversized packet; the link is closed.
    ProtocolError = 5,
}

c_enum!(EventKind as "jobs_event_kind" {
    ConnectFailed => "connect_failed",
    ConnectionLost => "connection_lost",
    ResubscribeRefused => "resubscribe_refused",
    RequestDropped => "request_dropped",
    ProtocolError => "protocol_error",
});

/// Log levels (`jobs_config_set_log`): higher is more verbose. A callback set for a level gets
/// that level and every level below it (INFO also gets WARN and ERROR).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    /// Logging off.
    Off = 0,
    /// Failures.
    Error = 1,
    /// Lost connections, failed attempts.
    Warn = 2,
    /// Connects, disconnects, reconnect waits.
    Info = 3,
    /// The most verbose: also every packet in and out (type, packet id, topic, size; never a
    /// payload or a password).
    Debug = 4,
}

c_enum!(LogLevel as "jobs_log_level" {
    Off => "off",
    Error => "error",
    Warn => "warn",
    Info => "info",
    Debug => "debug",
});

impl LogLevel {
    /// The most verbose level a log callback receives, or `None` when logging is off.
    pub fn threshold(self) -> Option<LogLevel> {
        (self != LogLevel::Off).then_some(self)
    }
}

/// Counters readable with `jobs_connection_counter`.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Counter {
    /// Successful connections after the first.
    Reconnects = 0,
    /// Requests in the offline queue now.
    Queued = 1,
    /// Requests dropped by the queue policy, in total.
    Dropped = 2,
    /// Requests waiting for their acknowledgement now.
    InFlight = 3,
    /// PUBLISH packets sent, in total (retransmissions included).
    Published = 4,
    /// PUBLISH packets received, in total.
    Received = 5,
}

c_enum!(Counter as "jobs_counter" {
    Reconnects => "reconnects",
    Queued => "queued",
    Dropped => "dropped",
    InFlight => "in_flight",
    Published => "published",
    Received => "received",
});

/// An incoming application message. `topic` and `payload` are shared, cheap to clone.
#[derive(Debug, Clone)]
pub struct Message {
    pub topic: Arc<str>,
    pub payload: Bytes,
    pub qos: u8,
    pub retain: bool,
    pub dup: bool,
    /// What a layer above works out from the message once, for every handler it reaches.
    pub derived: Derived,
}

impl Message {
    pub fn new(topic: &str, payload: Bytes, qos: u8, retain: bool, dup: bool) -> Message {
        Message {
            topic: Arc::from(topic),
            payload,
            qos,
            retain,
            dup,
            derived: Derived::default(),
        }
    }
}

/// A value derived from one message (the jobs layer's parsed event), made by the first handler
/// that asks and shared by all the others: every handler of a message gets a clone of the same
/// [`Message`], and so the same slot. Freed with the last clone.
#[derive(Clone, Default)]
pub struct Derived(Arc<std::sync::OnceLock<Arc<dyn std::any::Any + Send + Sync>>>);

impl Derived {
    /// The value, made by `make` on first use. `None` if the slot holds another type.
    pub fn get_or_init<T: Send + Sync + 'static>(
        &self,
        make: impl FnOnce() -> T,
    ) -> Option<Arc<T>> {
        self.0
            .get_or_init(|| Arc::new(make()))
            .clone()
            .downcast::<T>()
            .ok()
    }
}

impl std::fmt::Debug for Derived {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.get().is_some() {
            "Derived(set)"
        } else {
            "Derived(empty)"
        })
    }
}

/// How a request ended, given to its completion exactly once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ack {
    /// The packet id the request was sent with (0 for QoS 0 or when it was never sent).
    pub packet_id: u16,
    /// `Ok`, `SubscribeRefused`, `Dropped` (drop-oldest removed it from the queue) or `Closed`.
    pub result: jobs_result,
    /// Granted QoS for a subscription, else 0.
    pub granted_qos: u8,
}

impl Ack {
    /// An ack carrying no granted QoS (publish, unsubscribe, or a request that ended unsent).
    pub fn new(packet_id: u16, result: jobs_result) -> Ack {
        Ack {
            packet_id,
            result,
            granted_qos: 0,
        }
    }
}

/// Whether a request went out at once or waits in the offline queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Submitted {
    /// Handed to the connection; `packet_id` is 0 for QoS 0.
    Sent { packet_id: u16 },
    /// Waiting in the offline queue; sent after the next reconnect (and resubscription).
    Queued,
}

impl Submitted {
    /// Whether the request went out or waits, as C sees it.
    pub fn delivery(self) -> Delivery {
        match self {
            Submitted::Sent { .. } => Delivery::Sent,
            Submitted::Queued => Delivery::Queued,
        }
    }

    /// The packet id it was sent with: 0 for QoS 0 and while queued.
    pub fn packet_id(self) -> u16 {
        match self {
            Submitted::Sent { packet_id } => packet_id,
            Submitted::Queued => 0,
        }
    }
}

/// An asynchronous event.
#[derive(Debug, Clone)]
pub struct Event {
    pub kind: EventKind,
    pub result: jobs_result,
    pub packet_id: u16,
    pub topic: String,
    pub message: String,
}

/// Counters a caller can read at any time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Successful connections after the first.
    pub reconnects: u64,
    /// Requests waiting in the offline queue now.
    pub queued: u64,
    /// Requests dropped by the queue policy, in total.
    pub dropped: u64,
    /// The user's QoS 1 publishes, subscribes and unsubscribes waiting for their ack now (the
    /// library's own resubscriptions after a reconnect are not counted).
    pub in_flight: u64,
    /// PUBLISH packets sent / received, in total (retransmissions included).
    pub published: u64,
    pub received: u64,
}

impl Counters {
    /// The value of one counter.
    pub fn get(&self, counter: Counter) -> u64 {
        match counter {
            Counter::Reconnects => self.reconnects,
            Counter::Queued => self.queued,
            Counter::Dropped => self.dropped,
            Counter::InFlight => self.in_flight,
            Counter::Published => self.published,
            Counter::Received => self.received,
        }
    }
}

/// A message handler bound to one subscription.
#[derive(Clone)]
pub struct Handler {
    pub f: Arc<dyn Fn(&Message) + Send + Sync>,
    pub runs: Runs,
}

/// Where a handler runs.
#[derive(Clone)]
pub enum Runs {
    /// On the callback thread, behind the gate of the handle it belongs to (C code).
    Callback(Arc<Gate>),
    /// On the I/O thread, as the message is read: library code that must not wait for the
    /// callback thread (completing a blocked request). It must be quick and never call C.
    /// Such a subscription is the library's own: it does not count as a user subscription
    /// when deciding whether a message goes to the fallback routes.
    IoThread,
}

impl Handler {
    pub fn callback(gate: &Arc<Gate>, f: Arc<dyn Fn(&Message) + Send + Sync>) -> Handler {
        Handler {
            f,
            runs: Runs::Callback(gate.clone()),
        }
    }

    pub fn on_io_thread(f: Arc<dyn Fn(&Message) + Send + Sync>) -> Handler {
        Handler {
            f,
            runs: Runs::IoThread,
        }
    }
}

pub type StateFn = Box<dyn Fn() + Send + Sync>;
pub type MessageFn = Box<dyn Fn(&Message) + Send + Sync>;
pub type EventFn = Box<dyn Fn(&Event) + Send + Sync>;
pub type LogFn = Box<dyn Fn(LogLevel, &str) + Send + Sync>;

/// Connection-level callbacks; each runs on the callback thread behind `gate`.
#[derive(Default)]
pub struct Callbacks {
    pub gate: Arc<Gate>,
    pub on_online: Option<StateFn>,
    pub on_offline: Option<StateFn>,
    pub on_message: Option<MessageFn>,
    pub on_event: Option<EventFn>,
    pub on_log: Option<LogFn>,
    pub log_level: Option<LogLevel>,
}

/// Where a request's outcome goes: nowhere, to a blocked caller, or to a callback.
pub enum Completion {
    None,
    Wait(std::sync::mpsc::SyncSender<Ack>),
    Callback(Arc<Gate>, Box<dyn FnOnce(Ack) + Send>),
    /// Library code run where the ack is handled (usually the I/O thread); quick, never C.
    Direct(Box<dyn FnOnce(Ack) + Send>),
}

impl Completion {
    /// Delivers the ack: a waiter is woken directly (no callback thread needed, so a blocking
    /// call made from inside a callback still completes); a callback is posted.
    pub fn complete(self, ack: Ack) {
        match self {
            Completion::None => {}
            Completion::Wait(tx) => {
                let _ = tx.try_send(ack);
            }
            Completion::Callback(gate, f) => crate::runtime::post(&gate, move || f(ack)),
            Completion::Direct(f) => f(ack),
        }
    }
}
