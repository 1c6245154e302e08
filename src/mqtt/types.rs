//! Values that cross from the engine to its users: messages, acks, events, counters.

use crate::error::jobs_result;
use crate::runtime::Gate;
use bytes::Bytes;
use std::sync::Arc;

/// An incoming application message. `topic` and `payload` are shared, cheap to clone.
#[derive(Debug, Clone)]
pub struct Message {
    pub topic: Arc<str>,
    pub payload: Bytes,
    pub qos: u8,
    pub retain: bool,
    pub dup: bool,
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

/// Connection state, as the C API reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Not connected and not trying (never connected, or disconnected by the user).
    Disconnected = 0,
    /// Opening the transport or waiting for CONNACK, or waiting to retry.
    Connecting = 1,
    /// Connected; re-sending subscriptions after a session was lost.
    Resubscribing = 2,
    /// Connected; sending queued requests at the draining rate.
    Draining = 3,
    /// Connected; requests go straight to the network.
    Online = 4,
    /// Freed or shut down.
    Closed = 5,
}

/// What an asynchronous event reports (`jobs_event_kind` in C).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// A connection attempt failed; `result` says why; a retry follows unless disconnected.
    ConnectFailed = 1,
    /// An established connection was lost; reconnecting follows.
    ConnectionLost = 2,
    /// A subscription re-sent after a reconnect was refused (SUBACK 0x80); `topic` names it.
    ResubscribeRefused = 3,
    /// A queued request was dropped to make room (drop-oldest); `topic` names it.
    RequestDropped = 4,
    /// A packet from the server broke the protocol or exceeded the size limit.
    ProtocolError = 5,
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

/// Log severity (`jobs_log_level` in C).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Error = 1,
    Warn = 2,
    Info = 3,
    Debug = 4,
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
    /// QoS 1 publishes, subscribes and unsubscribes waiting for their ack now.
    pub in_flight: u64,
    /// PUBLISH packets sent / received, in total (retransmissions included).
    pub published: u64,
    pub received: u64,
}

/// A message handler bound to one subscription; runs on the callback thread behind `gate`.
#[derive(Clone)]
pub struct Handler {
    pub gate: Arc<Gate>,
    pub f: Arc<dyn Fn(&Message) + Send + Sync>,
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
        }
    }
}
