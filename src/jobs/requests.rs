//! Request/response: every Jobs operation as one call with exactly one outcome.
//!
//! Each request gets its own clientToken (or the caller's). Its reply is matched on the
//! accepted and rejected topics by thing and token. One [`Router`] per connection, shared by
//! every jobs client on it, keeps the pending requests and the reply subscriptions: four
//! filters per thing (`get/+`, `start-next/+`, `+/get/+`, `+/update/+`) for the first few things,
//! then the same four with `+` for the thing, so a gateway of a thousand things stays within AWS
//! IoT's 50 subscriptions per connection. Replies are handled on the I/O thread as they are read:
//! a blocked caller is woken directly, an asynchronous completion is posted behind its client's
//! gate.
//!
//! Exactly one outcome per request: whoever removes the request from the pending table (its
//! reply, its deadline, a cancellation) delivers the outcome; nobody else can.

use super::event::JobsEvent;
use super::payload::{self, UpdateRequest};
use super::topics;
pub use super::types::Offline;
use super::types::{ExecutionStatus, ReplyType, TopicType};
use super::validate::{self, StatusDetails};
use crate::error::{jobs_result, Error, Result};
use crate::mqtt::connection::{Connection, Extension};
use crate::mqtt::types::{Completion, Handler, Message, Status};
use crate::runtime::{self, Gate};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The longest deadline a request may have.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 3600);
/// Things whose reply filters are per thing; from the next one on the connection uses the
/// four thing-wildcard filters (16 filters at most, leaving AWS's other 34 to the user).
pub const PER_THING_FILTER_THINGS: usize = 4;

/// One Jobs request, with its operation's fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobsRequest {
    GetPending,
    StartNext {
        details: Option<StatusDetails>,
        step_timeout: Option<i64>,
    },
    Describe {
        /// A job id or `$next`.
        job_id: String,
        /// 0: the latest execution.
        execution_number: u64,
        include_job_document: bool,
    },
    Update {
        job_id: String,
        status: ExecutionStatus,
        details: Option<StatusDetails>,
        /// 0: not checked.
        expected_version: u64,
        /// 0: the latest execution.
        execution_number: u64,
        include_job_execution_state: bool,
        include_job_document: bool,
        step_timeout: Option<i64>,
    },
}

impl JobsRequest {
    fn topic_type(&self) -> TopicType {
        match self {
            JobsRequest::GetPending => TopicType::GetPending,
            JobsRequest::StartNext { .. } => TopicType::StartNext,
            JobsRequest::Describe { .. } => TopicType::Describe,
            JobsRequest::Update { .. } => TopicType::Update,
        }
    }

    fn job_id(&self) -> Option<&str> {
        match self {
            JobsRequest::Describe { job_id, .. } | JobsRequest::Update { job_id, .. } => {
                Some(job_id)
            }
            _ => None,
        }
    }

    /// Reads are not worth sending after their deadline; an update is (the device's state
    /// must reach the service), so it stays queued like any publish.
    fn is_read(&self) -> bool {
        !matches!(self, JobsRequest::Update { .. })
    }

    /// Checks the request's own fields (job id, status, details, step timeout).
    pub fn validate(&self) -> Result<()> {
        match self {
            JobsRequest::GetPending => Ok(()),
            JobsRequest::StartNext { step_timeout, .. } => {
                if let Some(m) = step_timeout {
                    validate::validate_step_timeout(*m)?;
                }
                Ok(())
            }
            JobsRequest::Describe { job_id, .. } => Ok(validate::validate_describe_job_id(job_id)?),
            JobsRequest::Update {
                job_id,
                status,
                step_timeout,
                ..
            } => {
                validate::validate_job_id(job_id)?;
                validate::validate_device_status(*status)?;
                if let Some(m) = step_timeout {
                    validate::validate_step_timeout(*m)?;
                }
                Ok(())
            }
        }
    }

    /// The request payload with `token`.
    fn payload(&self, token: &str) -> Result<String> {
        let token = Some(token);
        Ok(match self {
            JobsRequest::GetPending => payload::client_token_payload(token)?,
            JobsRequest::StartNext {
                details,
                step_timeout,
            } => payload::start_next_payload(token, details.as_ref(), *step_timeout)?,
            JobsRequest::Describe {
                execution_number,
                include_job_document,
                ..
            } => payload::describe_payload(token, *execution_number, *include_job_document)?,
            JobsRequest::Update {
                status,
                details,
                expected_version,
                execution_number,
                include_job_execution_state,
                include_job_document,
                step_timeout,
                ..
            } => {
                let req = UpdateRequest {
                    status: *status,
                    details: details.as_ref(),
                    expected_version: *expected_version,
                    execution_number: *execution_number,
                    include_job_execution_state: *include_job_execution_state,
                    include_job_document: *include_job_document,
                    step_timeout: *step_timeout,
                };
                payload::update_payload(&req, token)?
            }
        })
    }
}

/// How one request is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestOptions {
    /// Counted from submission; 1 ms to [`MAX_TIMEOUT`].
    pub timeout: Duration,
    /// For reads; updates are always queued while offline.
    pub offline: Offline,
    /// The request's clientToken; `None`: the library makes one.
    pub client_token: Option<String>,
}

impl Default for RequestOptions {
    fn default() -> Self {
        RequestOptions {
            timeout: Duration::from_secs(10),
            offline: Offline::Wait,
            client_token: None,
        }
    }
}

impl RequestOptions {
    pub fn validate(&self) -> Result<()> {
        if self.timeout.is_zero() || self.timeout > MAX_TIMEOUT {
            return Err(Error::new(
                jobs_result::InvalidArgument,
                format!(
                    "request timeout of {} ms: use 1 ms to {} ms",
                    self.timeout.as_millis(),
                    MAX_TIMEOUT.as_millis()
                ),
            ));
        }
        if let Some(t) = &self.client_token {
            validate::validate_client_token(t)?;
        }
        Ok(())
    }
}

/// How a request ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The accepted reply.
    Accepted(Arc<JobsEvent>),
    /// The rejected reply: code, message and execution state are in it.
    Rejected(Arc<JobsEvent>),
    /// `Timeout` (the deadline passed), `Cancelled` (the user disconnected), `Closed` (the
    /// client or its connection was freed), or a delivery failure such as `Dropped`.
    Failed(Error),
}

impl Outcome {
    /// The result code C sees.
    pub fn code(&self) -> jobs_result {
        match self {
            Outcome::Accepted(_) => jobs_result::Ok,
            Outcome::Rejected(_) => jobs_result::Rejected,
            Outcome::Failed(e) => e.code,
        }
    }

    pub fn reply(&self) -> Option<&Arc<JobsEvent>> {
        match self {
            Outcome::Accepted(e) | Outcome::Rejected(e) => Some(e),
            Outcome::Failed(_) => None,
        }
    }
}

/// Where an outcome goes.
pub enum Deliver {
    /// A blocked caller.
    Wait(SyncSender<Outcome>),
    /// A callback on the callback thread, behind the gate of the client that made the request.
    Callback(Arc<Gate>, Box<dyn FnOnce(Outcome) + Send>),
}

impl Deliver {
    fn deliver(self, outcome: Outcome) {
        match self {
            Deliver::Wait(tx) => {
                let _ = tx.try_send(outcome);
            }
            Deliver::Callback(gate, f) => runtime::post(&gate, move || f(outcome)),
        }
    }
}

struct Pending {
    topic_type: TopicType,
    /// The jobs client that made it (for cancelling its requests when it is freed).
    client: u64,
    deliver: Deliver,
}

/// Counters of the router, for tests and observability.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RouterCounters {
    pub submitted: u64,
    pub completed: u64,
    /// Replies whose token matched no pending request (late after a timeout, or not ours).
    pub unmatched_replies: u64,
}

#[derive(Default)]
struct Filters {
    /// Things with their own filters (at most [`PER_THING_FILTER_THINGS`]).
    things: Vec<String>,
    /// Past that, every thing is covered by the `+` filters.
    wildcard: bool,
    /// The (scope, set) pairs subscribed; the scope is a thing name or `+`.
    subscribed: Vec<(String, FilterSet)>,
}

/// Which filters a scope needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FilterSet {
    /// Accepted and rejected replies.
    Replies,
    /// notify (`TopicType::Notify`) or notify-next (`TopicType::NotifyNext`) messages.
    Events(TopicType),
}

impl FilterSet {
    fn filters(self, scope: &str) -> Vec<String> {
        match self {
            FilterSet::Replies => reply_filters(scope).to_vec(),
            FilterSet::Events(t) => {
                vec![format!(
                    "$aws/things/{scope}/jobs/{}",
                    t.operation().unwrap_or("notify")
                )]
            }
        }
    }
}

/// A jobs client's notify or notify-next handler, run behind the client's gate.
/// The event handlers of one (thing, notification type), by jobs client id.
type ClientHandlers = Vec<(u64, EventHandler)>;

struct EventHandler {
    gate: Arc<Gate>,
    f: EventFn,
}

/// Receives the parsed notify or notify-next message.
pub type EventFn = Arc<dyn Fn(&Arc<JobsEvent>) + Send + Sync>;

/// The pending requests and reply subscriptions of one connection.
#[derive(Default)]
pub struct Router {
    pending: Mutex<HashMap<(String, String), Pending>>,
    filters: Mutex<Filters>,
    /// Per (thing, notification type), the handler of each jobs client that set one (a job
    /// agent has its own client beside the user's on the same thing).
    events: Mutex<HashMap<(String, TopicType), ClientHandlers>>,
    next_token: AtomicU64,
    next_client: AtomicU64,
    submitted: AtomicU64,
    completed: AtomicU64,
    unmatched: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn reply_filters(thing: &str) -> [String; 4] {
    [
        format!("$aws/things/{thing}/jobs/get/+"),
        format!("$aws/things/{thing}/jobs/start-next/+"),
        format!("$aws/things/{thing}/jobs/+/get/+"),
        format!("$aws/things/{thing}/jobs/+/update/+"),
    ]
}

impl Extension for Router {
    fn user_disconnected(&self) {
        self.cancel(
            |_| true,
            jobs_result::Cancelled,
            "the connection was disconnected",
        );
    }

    fn closed(&self) {
        self.cancel(|_| true, jobs_result::Closed, "the connection was freed");
    }
}

impl Router {
    /// An id for a jobs client, to cancel its requests when it is freed.
    pub fn register_client(&self) -> u64 {
        self.next_client.fetch_add(1, Ordering::Relaxed) + 1
    }

    pub fn counters(&self) -> RouterCounters {
        RouterCounters {
            submitted: self.submitted.load(Ordering::SeqCst),
            completed: self.completed.load(Ordering::SeqCst),
            unmatched_replies: self.unmatched.load(Ordering::SeqCst),
        }
    }

    /// Requests waiting for their outcome now.
    pub fn pending(&self) -> usize {
        lock(&self.pending).len()
    }

    /// A token unique in this process: `prefix` (cut to fit) and a counter, at most 64 bytes.
    fn make_token(&self, prefix: &str) -> String {
        let n = self.next_token.fetch_add(1, Ordering::Relaxed) + 1;
        let suffix = format!(":{n:x}");
        let mut keep = prefix
            .len()
            .min(validate::CLIENT_TOKEN_MAX_BYTES - suffix.len());
        while !prefix.is_char_boundary(keep) {
            keep -= 1;
        }
        format!("{}{suffix}", &prefix[..keep])
    }

    /// Makes sure the `set` messages for `thing` reach the router: per-thing filters for the
    /// first things, then the thing-wildcard filters, each subscribed once.
    fn ensure_filters(
        self: &Arc<Self>,
        conn: &Connection,
        thing: &str,
        qos: u8,
        set: FilterSet,
    ) -> Result<()> {
        // The lock is held until the subscriptions are submitted: another thread that finds
        // the set marked subscribed must not send a request before its SUBSCRIBE is queued,
        // or the reply could come before the subscription and be lost.
        let mut f = lock(&self.filters);
        let known = f.things.iter().any(|t| t == thing);
        if !known && !f.wildcard {
            if f.things.len() < PER_THING_FILTER_THINGS {
                f.things.push(thing.to_owned());
            } else {
                f.wildcard = true;
            }
        }
        let scope = if f.wildcard { "+" } else { thing };
        if f.subscribed
            .iter()
            .any(|(sc, st)| sc == scope && *st == set)
        {
            return Ok(());
        }
        let scope = scope.to_owned();
        f.subscribed.push((scope.clone(), set));
        // The `+` filters replace the per-thing ones of the same set, which are unsubscribed
        // after them (the server applies both in order: no gap, no overlap, so no message
        // arrives twice).
        let mut replaced = Vec::new();
        if scope == "+" {
            f.subscribed.retain(|(sc, st)| {
                let old = sc != "+" && *st == set;
                if old {
                    replaced.extend(set.filters(sc));
                }
                !old
            });
        }
        let me = Arc::downgrade(self);
        let handler = Handler::on_io_thread(Arc::new(move |m: &Message| {
            if let Some(router) = me.upgrade() {
                match set {
                    FilterSet::Replies => router.on_reply(m),
                    FilterSet::Events(_) => router.on_event(m),
                }
            }
        }));
        for filter in set.filters(&scope) {
            // Queued with the request when offline, so they go out before it, in order.
            conn.subscribe(&filter, qos, Some(handler.clone()), Completion::None)?;
        }
        for filter in replaced {
            conn.unsubscribe(&filter, Completion::None)?;
        }
        drop(f);
        Ok(())
    }

    /// Sets (or with `None` removes) `thing`'s handler for notify or notify-next messages; the
    /// router subscribes what it needs.
    pub fn set_event_handler(
        self: &Arc<Self>,
        conn: &Connection,
        client: u64,
        thing: &str,
        qos: u8,
        topic_type: TopicType,
        handler: Option<(Arc<Gate>, EventFn)>,
    ) -> Result<()> {
        let key = (thing.to_owned(), topic_type);
        if handler.is_some() {
            self.ensure_filters(conn, thing, qos, FilterSet::Events(topic_type))?;
        }
        let mut events = lock(&self.events);
        let list = events.entry(key.clone()).or_default();
        list.retain(|(c, _)| *c != client);
        if let Some((gate, f)) = handler {
            list.push((client, EventHandler { gate, f }));
        }
        if list.is_empty() {
            events.remove(&key);
        }
        Ok(())
    }

    /// Forgets the event handlers of the jobs client `client` (it was freed).
    pub fn remove_event_handlers(&self, client: u64) {
        let mut events = lock(&self.events);
        for list in events.values_mut() {
            list.retain(|(c, _)| *c != client);
        }
        events.retain(|_, list| !list.is_empty());
    }

    /// A notify or notify-next message, on the I/O thread: to each handler of its thing.
    fn on_event(&self, m: &Message) {
        let event = JobsEvent::of(m);
        let Some(thing) = event.thing_name() else {
            return;
        };
        let key = (thing.to_owned(), event.topic_type());
        let targets: Vec<(Arc<Gate>, EventFn)> = lock(&self.events)
            .get(&key)
            .map(|list| {
                list.iter()
                    .map(|(_, h)| (h.gate.clone(), h.f.clone()))
                    .collect()
            })
            .unwrap_or_default();
        for (gate, f) in targets {
            let event = event.clone();
            runtime::post(&gate, move || f(&event));
        }
    }

    /// A message on a reply filter, on the I/O thread.
    fn on_reply(&self, m: &Message) {
        let event = JobsEvent::of(m);
        let reply = event.reply_type();
        if !matches!(reply, ReplyType::Accepted | ReplyType::Rejected) {
            return;
        }
        let (Some(thing), Some(token)) = (event.thing_name(), event.client_token()) else {
            self.unmatched.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let key = (thing.to_owned(), token.to_owned());
        let pending = {
            let mut table = lock(&self.pending);
            match table.get(&key) {
                Some(p) if p.topic_type == event.topic_type() => table.remove(&key),
                _ => None,
            }
        };
        let Some(p) = pending else {
            self.unmatched.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let outcome = if let Some(why) = event.parse_error() {
            // The request's answer came but cannot be read: say so now rather than at the
            // deadline.
            Outcome::Failed(Error::new(
                jobs_result::Protocol,
                format!("malformed {} reply: {why}", reply.suffix().unwrap_or("")),
            ))
        } else if reply == ReplyType::Accepted {
            Outcome::Accepted(event)
        } else {
            Outcome::Rejected(event)
        };
        self.finish(p, outcome);
    }

    fn finish(&self, p: Pending, outcome: Outcome) {
        let completed = self.completed.fetch_add(1, Ordering::SeqCst) + 1;
        debug_assert!(
            completed <= self.submitted.load(Ordering::SeqCst),
            "a request completed twice"
        );
        p.deliver.deliver(outcome);
    }

    /// Completes the request `key` with `e` if it is still pending.
    fn fail(&self, key: &(String, String), e: Error) -> bool {
        let p = lock(&self.pending).remove(key);
        match p {
            Some(p) => {
                self.finish(p, Outcome::Failed(e));
                true
            }
            None => false,
        }
    }

    /// Completes every pending request `which` selects with `code`.
    pub fn cancel(&self, which: impl Fn(u64) -> bool, code: jobs_result, why: &str) {
        let cancelled: Vec<Pending> = {
            let mut table = lock(&self.pending);
            let keys: Vec<_> = table
                .iter()
                .filter(|(_, p)| which(p.client))
                .map(|(k, _)| k.clone())
                .collect();
            keys.iter().filter_map(|k| table.remove(k)).collect()
        };
        for p in cancelled {
            self.finish(
                p,
                Outcome::Failed(Error::new(code, format!("request cancelled: {why}"))),
            );
        }
    }

    /// Submits `req` for `thing`; `deliver` gets exactly one outcome, unless this returns an
    /// error (then the request was not made and `deliver` is dropped unused). Returns the
    /// request's key (thing, token).
    #[allow(clippy::too_many_arguments)]
    pub fn submit(
        self: &Arc<Self>,
        conn: &Connection,
        client: u64,
        thing: &str,
        token_prefix: &str,
        qos: u8,
        req: &JobsRequest,
        opts: &RequestOptions,
        deliver: Deliver,
    ) -> Result<(String, String)> {
        req.validate()?;
        opts.validate()?;
        let online = matches!(conn.status(), Status::Online | Status::Draining);
        if req.is_read() && opts.offline == Offline::FailFast && !online {
            return Err(Error::new(
                jobs_result::NotConnected,
                "not connected, and this request fails fast when offline",
            ));
        }
        if conn.status() == Status::Closed {
            return Err(Error::new(
                jobs_result::Closed,
                "the connection has been freed",
            ));
        }
        let token = match &opts.client_token {
            Some(t) => t.clone(),
            None => self.make_token(token_prefix),
        };
        let topic = topics::build_topic(thing, req.topic_type(), ReplyType::Request, req.job_id())
            .map_err(super::client::topic_error)?;
        let body = req.payload(&token)?;
        let key = (thing.to_owned(), token);
        let deadline = Instant::now() + opts.timeout;
        // Before taking the table's lock: subscribing may complete other requests (a drop from
        // a full queue), and completing takes that lock.
        self.ensure_filters(conn, thing, qos, FilterSet::Replies)?;
        {
            let mut table = lock(&self.pending);
            if table.contains_key(&key) {
                return Err(Error::new(
                    jobs_result::InvalidClientToken,
                    format!(
                        "client token '{}' is already in use by a pending request",
                        key.1
                    ),
                ));
            }
            self.submitted.fetch_add(1, Ordering::SeqCst);
            table.insert(
                key.clone(),
                Pending {
                    topic_type: req.topic_type(),
                    client,
                    deliver,
                },
            );
        }
        let expires = req.is_read().then_some(deadline);
        // The publish's own outcome matters only when it never reaches the wire: dropped from
        // the queue, or expired there (then the deadline has passed anyway).
        let me = Arc::downgrade(self);
        let publish_key = key.clone();
        let on_publish = Completion::Direct(Box::new(move |ack| {
            if ack.result != jobs_result::Ok && ack.result != jobs_result::Timeout {
                if let Some(router) = me.upgrade() {
                    router.fail(
                        &publish_key,
                        Error::new(
                            ack.result,
                            format!("the request was not sent: {}", ack.result.describe()),
                        ),
                    );
                }
            }
        }));
        if let Err(e) = conn.publish_until(&topic, body.as_bytes(), qos, false, expires, on_publish)
        {
            let _ = lock(&self.pending).remove(&key);
            self.submitted.fetch_sub(1, Ordering::SeqCst);
            return Err(e);
        }
        Ok(key)
    }

    /// Arms the deadline of an asynchronous request on the runtime thread.
    pub fn arm_deadline(self: &Arc<Self>, key: (String, String), timeout: Duration) {
        let me = Arc::downgrade(self);
        runtime::handle().spawn(async move {
            tokio::time::sleep(timeout).await;
            if let Some(router) = me.upgrade() {
                router.fail(&key, timeout_error(timeout));
            }
        });
    }

    /// Waits for the outcome of a blocking request until its deadline.
    pub fn wait(
        &self,
        key: &(String, String),
        rx: Receiver<Outcome>,
        timeout: Duration,
    ) -> Outcome {
        match rx.recv_timeout(timeout) {
            Ok(outcome) => outcome,
            Err(_) => {
                // Whoever removes it completes it: if the reply won the race, take its outcome.
                self.fail(key, timeout_error(timeout));
                rx.recv_timeout(Duration::from_secs(1))
                    .unwrap_or_else(|_| Outcome::Failed(timeout_error(timeout)))
            }
        }
    }
}

fn timeout_error(timeout: Duration) -> Error {
    Error::new(
        jobs_result::Timeout,
        format!("no reply within the request's {} ms", timeout.as_millis()),
    )
}

/// A blocking request's channel.
pub fn blocking() -> (Deliver, Receiver<Outcome>) {
    let (tx, rx) = sync_channel(1);
    (Deliver::Wait(tx), rx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_unique_and_fit_in_64_bytes() {
        let r = Router::default();
        let a = r.make_token("dev1");
        let b = r.make_token("dev1");
        assert_ne!(a, b);
        assert!(a.starts_with("dev1:"));
        let long = "x".repeat(200);
        let t = r.make_token(&long);
        assert_eq!(t.len(), 64);
        assert!(validate::validate_client_token(&t).is_ok());
        let wide = "é".repeat(40);
        let t = r.make_token(&wide);
        assert!(t.len() <= 64 && t.is_char_boundary(t.len()));
    }

    #[test]
    fn options_are_checked() {
        let zero = RequestOptions {
            timeout: Duration::ZERO,
            ..RequestOptions::default()
        };
        assert_eq!(
            zero.validate().unwrap_err().code,
            jobs_result::InvalidArgument
        );
        let huge = RequestOptions {
            timeout: MAX_TIMEOUT + Duration::from_millis(1),
            ..RequestOptions::default()
        };
        assert_eq!(
            huge.validate().unwrap_err().code,
            jobs_result::InvalidArgument
        );
        let token = RequestOptions {
            client_token: Some("t".repeat(65)),
            ..RequestOptions::default()
        };
        assert_eq!(
            token.validate().unwrap_err().code,
            jobs_result::InvalidClientToken
        );
        assert!(RequestOptions::default().validate().is_ok());
    }

    #[test]
    fn requests_check_their_fields() {
        let bad_id = JobsRequest::Describe {
            job_id: "a/b".into(),
            execution_number: 0,
            include_job_document: true,
        };
        assert_eq!(
            bad_id.validate().unwrap_err().code,
            jobs_result::InvalidJobId
        );
        let bad_status = JobsRequest::Update {
            job_id: "j".into(),
            status: ExecutionStatus::Queued,
            details: None,
            expected_version: 0,
            execution_number: 0,
            include_job_execution_state: false,
            include_job_document: false,
            step_timeout: None,
        };
        assert_eq!(
            bad_status.validate().unwrap_err().code,
            jobs_result::InvalidStatus
        );
        let next = JobsRequest::Describe {
            job_id: "$next".into(),
            execution_number: 0,
            include_job_document: true,
        };
        assert!(next.validate().is_ok());
        assert!(next.is_read());
    }

    #[test]
    fn payloads_carry_the_request_token() {
        let r = JobsRequest::Update {
            job_id: "j".into(),
            status: ExecutionStatus::Succeeded,
            details: None,
            expected_version: 3,
            execution_number: 0,
            include_job_execution_state: true,
            include_job_document: false,
            step_timeout: None,
        };
        let body = r.payload("dev:1").unwrap();
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["clientToken"], "dev:1");
        assert_eq!(v["status"], "SUCCEEDED");
        assert_eq!(v["expectedVersion"], "3");
        let g: serde_json::Value =
            serde_json::from_str(&JobsRequest::GetPending.payload("t:2").unwrap()).unwrap();
        assert_eq!(g["clientToken"], "t:2");
    }
}
