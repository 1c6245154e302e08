//! The jobs client: the SDK's `AWSIoTMQTTThingJobsClient` over a [`Connection`].
//!
//! One client serves one thing. Several clients may share one connection (a gateway); a client
//! closes its connection only if it created it. Every request is validated before it reaches
//! the connection, so requests the SDK would send broken (topic `None`, an empty update
//! payload, a wildcard publish) are refused with a precise error instead.

use super::event::JobsEvent;
use super::payload::{self, UpdateRequest};
use super::requests::{self, Deliver, JobsRequest, Outcome, RequestOptions, Router};
use super::topics::{self, TopicError};
use super::types::{ReplyType, TopicType};
use super::validate::{self, StatusDetails};
use crate::error::{jobs_result, Error, Result};
use crate::mqtt::connection::Connection;
use crate::mqtt::types::{Completion, Handler, Message, Submitted};
use crate::runtime::Gate;
use std::sync::{Arc, Mutex};

/// A handler for jobs messages; runs on the callback thread. Every handler a message reaches
/// gets the same event, parsed once; a handler may keep it (a clone of the `Arc`).
pub type JobsHandler = Arc<dyn Fn(&Arc<JobsEvent>) + Send + Sync>;

/// The jobs client of one thing.
pub struct JobsClient {
    conn: Connection,
    owns_connection: bool,
    thing: String,
    client_token: Option<String>,
    qos: u8,
    gate: Arc<Gate>,
    filters: Mutex<Vec<String>>,
    fallback_route: Mutex<Option<u64>>,
    /// The connection's request router, and this client's id in it.
    router: Arc<Router>,
    router_id: u64,
}

/// Maps a topic-building error to its result code.
pub fn topic_error(e: TopicError) -> Error {
    match e {
        TopicError::InvalidThingName(v) | TopicError::InvalidJobId(v) => Error::from(v),
        other => Error::new(jobs_result::InvalidTopicCombination, other.to_string()),
    }
}

impl JobsClient {
    /// Creates the client of `thing` over `conn`. `client_token` is put in every request
    /// (the SDK uses the client id); `qos` (0 or 1) is used for every subscribe and publish.
    /// Errors: `InvalidThingName`, `InvalidClientToken`, `InvalidArgument` (QoS).
    pub fn new(
        conn: Connection,
        owns_connection: bool,
        thing: &str,
        client_token: Option<&str>,
        qos: u8,
    ) -> Result<JobsClient> {
        validate::validate_thing_name(thing).map_err(Error::from)?;
        if let Some(t) = client_token {
            validate::validate_client_token(t).map_err(Error::from)?;
        }
        crate::mqtt::config::validate_qos(qos.into())?;
        let router = conn.extension::<Router>();
        Ok(JobsClient {
            conn,
            owns_connection,
            thing: thing.to_owned(),
            client_token: client_token.map(str::to_owned),
            qos,
            gate: Gate::new(),
            filters: Mutex::new(Vec::new()),
            fallback_route: Mutex::new(None),
            router_id: router.register_client(),
            router,
        })
    }

    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Makes `req` with `opts`; `deliver` gets exactly one outcome unless this returns an
    /// error. Asynchronous requests get their deadline armed here.
    pub fn request(
        &self,
        req: &JobsRequest,
        opts: &RequestOptions,
        deliver: Deliver,
    ) -> Result<()> {
        let asynchronous = matches!(deliver, Deliver::Callback(..));
        let key = self.submit(req, opts, deliver)?;
        if asynchronous {
            self.router.arm_deadline(key, opts.timeout);
        }
        Ok(())
    }

    /// Makes `req` and waits for its outcome (the deadline is `opts.timeout`). The reply wakes
    /// the caller from the I/O thread directly, so this may be called from a callback.
    pub fn request_blocking(&self, req: &JobsRequest, opts: &RequestOptions) -> Result<Outcome> {
        let (deliver, rx) = requests::blocking();
        let key = self.submit(req, opts, deliver)?;
        Ok(self.router.wait(&key, rx, opts.timeout))
    }

    fn submit(
        &self,
        req: &JobsRequest,
        opts: &RequestOptions,
        deliver: Deliver,
    ) -> Result<(String, String)> {
        let prefix = self.client_token().unwrap_or(&self.thing);
        self.router.submit(
            &self.conn,
            self.router_id,
            &self.thing,
            prefix,
            self.qos,
            req,
            opts,
            deliver,
        )
    }

    /// Sets (or with `None` removes) the handler of this thing's notify-next messages
    /// (`TopicType::NotifyNext`) or notify messages (`TopicType::Notify`); the library manages
    /// the subscription (per thing, or one for every thing of a large gateway). The handler runs
    /// on the callback thread behind this client's gate.
    pub fn set_event_handler(
        &self,
        topic_type: TopicType,
        handler: Option<requests::EventFn>,
    ) -> Result<()> {
        if !topic_type.is_notification() {
            return Err(Error::new(
                jobs_result::InvalidArgument,
                "event handlers are for notify and notify-next",
            ));
        }
        self.router.set_event_handler(
            &self.conn,
            self.router_id,
            &self.thing,
            self.qos,
            topic_type,
            handler.map(|f| (self.gate.clone(), f)),
        )
    }

    /// The connection's request router (counters, pending count).
    pub fn router(&self) -> &Arc<Router> {
        &self.router
    }

    /// The gate of this client's callbacks: its handlers and the completions of its
    /// asynchronous requests go through it, so none runs after [`JobsClient::close`].
    pub fn gate(&self) -> Arc<Gate> {
        self.gate.clone()
    }

    pub fn thing_name(&self) -> &str {
        &self.thing
    }

    /// The QoS of this client's subscriptions and publishes.
    pub fn qos(&self) -> u8 {
        self.qos
    }

    pub fn client_token(&self) -> Option<&str> {
        self.client_token.as_deref()
    }

    fn handler(&self, f: JobsHandler) -> Handler {
        // Parsed by the first handler the message reaches, shared by the others.
        Handler::callback(
            &self.gate,
            Arc::new(move |m: &Message| {
                let event = JobsEvent::of(m);
                f(&event)
            }),
        )
    }

    /// The topic filter for a subscription (the Python SDK v1's `getJobTopic`, with errors).
    pub fn filter_for(
        &self,
        topic_type: TopicType,
        reply_type: ReplyType,
        job_id: Option<&str>,
    ) -> Result<String> {
        topics::build_topic(&self.thing, topic_type, reply_type, job_id).map_err(topic_error)
    }

    fn remember(&self, filter: &str) {
        if let Ok(mut f) = self.filters.lock() {
            if !f.iter().any(|x| x == filter) {
                f.push(filter.to_owned());
            }
        }
    }

    /// Subscribes and waits for SUBACK; returns the granted QoS (`None` when queued offline).
    pub fn create_subscription(
        &self,
        topic_type: TopicType,
        reply_type: ReplyType,
        job_id: Option<&str>,
        handler: JobsHandler,
    ) -> Result<Option<u8>> {
        let filter = self.filter_for(topic_type, reply_type, job_id)?;
        let r = self
            .conn
            .subscribe_sync(&filter, self.qos, Some(self.handler(handler)))?;
        self.remember(&filter);
        Ok(r)
    }

    /// Subscribes without waiting; the completion gets the SUBACK.
    pub fn create_subscription_async(
        &self,
        topic_type: TopicType,
        reply_type: ReplyType,
        job_id: Option<&str>,
        handler: JobsHandler,
        completion: Completion,
    ) -> Result<Submitted> {
        let filter = self.filter_for(topic_type, reply_type, job_id)?;
        let r = self
            .conn
            .subscribe(&filter, self.qos, Some(self.handler(handler)), completion)?;
        self.remember(&filter);
        Ok(r)
    }

    /// Unsubscribes a subscription made above and waits for UNSUBACK.
    pub fn unsubscribe(
        &self,
        topic_type: TopicType,
        reply_type: ReplyType,
        job_id: Option<&str>,
    ) -> Result<Submitted> {
        let filter = self.filter_for(topic_type, reply_type, job_id)?;
        let r = self.conn.unsubscribe_sync(&filter)?;
        if let Ok(mut f) = self.filters.lock() {
            f.retain(|x| *x != filter);
        }
        Ok(r)
    }

    /// Receives every message on this thing's jobs topics that no subscription matched — the
    /// replies AWS sends to a requester that did not subscribe. Replaces an earlier fallback.
    pub fn set_fallback(&self, handler: Option<JobsHandler>) -> Result<()> {
        let mut route = self
            .fallback_route
            .lock()
            .map_err(|_| Error::new(jobs_result::Panic, "fallback state poisoned"))?;
        if let Some(id) = route.take() {
            self.conn.remove_route(id);
        }
        if let Some(h) = handler {
            let prefix = format!("{}{}/jobs/", topics::THINGS_PREFIX, self.thing);
            *route = Some(self.conn.add_route(&prefix, self.handler(h))?);
        }
        Ok(())
    }

    fn publish(&self, topic: &str, payload: String) -> Result<Submitted> {
        self.conn
            .publish_sync(topic, payload.as_bytes(), self.qos, false)
    }

    fn request_topic(&self, topic_type: TopicType, job_id: Option<&str>) -> Result<String> {
        if topic_type == TopicType::Wildcard || job_id == Some(topics::JOB_ID_WILDCARD) {
            return Err(Error::new(
                jobs_result::InvalidTopicCombination,
                "cannot publish a request to a wildcard topic; wildcards are for subscriptions",
            ));
        }
        if topic_type.is_notification() {
            return Err(Error::new(
                jobs_result::InvalidTopicCombination,
                "notify and notify-next are subscribe-only topics; AWS accepts no request there",
            ));
        }
        self.filter_for(topic_type, ReplyType::Request, job_id)
    }

    /// The Python SDK v1's `sendJobsQuery`: publishes `{"clientToken": ...}` to the request
    /// topic of GetPending, StartNext or Describe (`job_id` required for Describe; may be `$next`).
    /// Update is refused: an update without a status is always rejected (use `send_update`).
    pub fn send_query(&self, topic_type: TopicType, job_id: Option<&str>) -> Result<Submitted> {
        if topic_type == TopicType::Update {
            return Err(Error::new(
                jobs_result::InvalidTopicCombination,
                "an update needs a status: use jobs_send_update",
            ));
        }
        let topic = self.request_topic(topic_type, job_id)?;
        let body = payload::client_token_payload(self.client_token()).map_err(Error::from)?;
        self.publish(&topic, body)
    }

    /// StartNextPendingJobExecution.
    pub fn send_start_next(
        &self,
        details: Option<&StatusDetails>,
        step_timeout: Option<i64>,
    ) -> Result<Submitted> {
        let topic = self.request_topic(TopicType::StartNext, None)?;
        let body = payload::start_next_payload(self.client_token(), details, step_timeout)
            .map_err(Error::from)?;
        self.publish(&topic, body)
    }

    /// UpdateJobExecution. Only the statuses a device may set are sent: IN_PROGRESS, FAILED,
    /// SUCCEEDED and REJECTED (AWS rejects the others; the Python SDK v1 would send them or an
    /// empty payload).
    pub fn send_update(&self, job_id: &str, req: &UpdateRequest<'_>) -> Result<Submitted> {
        validate::validate_job_id(job_id).map_err(Error::from)?;
        validate::validate_device_status(req.status)?;
        let topic = self.request_topic(TopicType::Update, Some(job_id))?;
        let body = payload::update_payload(req, self.client_token()).map_err(Error::from)?;
        self.publish(&topic, body)
    }

    /// DescribeJobExecution (`job_id` may be `$next`).
    pub fn send_describe(
        &self,
        job_id: &str,
        execution_number: u64,
        include_job_document: bool,
    ) -> Result<Submitted> {
        validate::validate_describe_job_id(job_id).map_err(Error::from)?;
        let topic = self.request_topic(TopicType::Describe, Some(job_id))?;
        let body =
            payload::describe_payload(self.client_token(), execution_number, include_job_document)
                .map_err(Error::from)?;
        self.publish(&topic, body)
    }

    /// Stops this client's callbacks (waiting for a running one unless called from the
    /// callback thread). An owned connection is closed; on a shared connection this client's
    /// subscriptions and fallback route are removed and the connection keeps running.
    pub fn close(&self) {
        self.gate.close();
        let me = self.router_id;
        self.router.remove_event_handlers(me);
        self.router.cancel(
            |c| c == me,
            jobs_result::Closed,
            "the jobs client was freed",
        );
        if self.owns_connection {
            self.conn.close();
            return;
        }
        if let Ok(mut route) = self.fallback_route.lock() {
            if let Some(id) = route.take() {
                self.conn.remove_route(id);
            }
        }
        let filters = self
            .filters
            .lock()
            .map(|mut f| std::mem::take(&mut *f))
            .unwrap_or_default();
        for f in filters {
            let _ = self.conn.unsubscribe(&f, Completion::None);
        }
    }
}

#[cfg(test)]
mod bench {
    use super::*;
    use crate::mqtt::config::ConnectionConfig;
    use crate::mqtt::types::Callbacks;
    use std::hint::black_box;
    use std::time::Instant;

    const BENCH_PAYLOAD: &str = r#"{"timestamp":1517186779,"execution":{"jobId":"install-app-1","thingName":"bench-thing","status":"IN_PROGRESS","statusDetails":{"progress":"50%","step":"download"},"queuedAt":1517186700,"startedAt":1517186710,"lastUpdatedAt":1517186770,"versionNumber":3,"executionNumber":1,"jobDocument":{"operation":"install","url":"https://example.com/app-1.tar.gz","sha256":"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef","steps":["download","verify","install","restart"]}}}"#;

    /// What a typical C handler reads.
    fn read_like_a_c_handler(m: *const crate::ffi::message::jobs_message) {
        use crate::ffi::message::*;
        unsafe {
            black_box(jobs_message_topic_type(m));
            black_box(jobs_message_status(m));
            black_box(jobs_message_version_number(m));
            black_box(jobs_message_execution_job_id(m));
            black_box(jobs_message_job_document(m, std::ptr::null_mut()));
            black_box(jobs_message_status_details(m));
        }
    }

    /// The FFI's handler adapter (`ffi::jobs`), minus the C call.
    fn bench_handler() -> JobsHandler {
        Arc::new(|m: &Arc<JobsEvent>| {
            let view = crate::ffi::message::jobs_message::new(m);
            read_like_a_c_handler(&view);
        })
    }

    #[test]
    #[ignore = "benchmark: cargo test --release --lib jobs::client::bench -- --ignored --nocapture"]
    fn delivery_cost_with_several_handlers() {
        let conn = Connection::new(
            ConnectionConfig {
                host: "127.0.0.1".into(),
                transport: crate::mqtt::transport::TransportKind::Tcp,
                ..ConnectionConfig::default()
            },
            Callbacks::default(),
        )
        .unwrap();
        let client = JobsClient::new(conn, true, "bench-thing", None, 1).unwrap();
        let msg = Message {
            topic: Arc::from("$aws/things/bench-thing/jobs/notify-next"),
            payload: bytes::Bytes::from_static(BENCH_PAYLOAD.as_bytes()),
            qos: 1,
            retain: false,
            dup: false,
            derived: Default::default(),
        };
        for handlers in [1usize, 4, 8] {
            let hs: Vec<Handler> = (0..handlers)
                .map(|_| client.handler(bench_handler()))
                .collect();
            let rounds = 20_000;
            // The fastest of several runs: the machine is shared, so slower runs measure others.
            let mut best = u128::MAX;
            for _run in 0..7 {
                let start = Instant::now();
                for _ in 0..rounds {
                    // A new message each round, one clone per handler, as the session posts them.
                    let m = Message {
                        topic: Arc::from(&*msg.topic),
                        ..msg.clone()
                    };
                    let posted: Vec<Message> = hs.iter().map(|_| m.clone()).collect();
                    drop(m);
                    for (h, m) in hs.iter().zip(posted) {
                        (h.f)(&m);
                    }
                }
                best = best.min(start.elapsed().as_nanos() / rounds);
            }
            let per = best;
            println!("bench: {handlers} handler(s): {per} ns per delivered message");
        }
        client.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::event::parse_count;
    use crate::mqtt::config::ConnectionConfig;
    use crate::mqtt::transport::TransportKind;
    use crate::mqtt::types::Callbacks;
    use iotjobs_emulator::{Emulator, EmulatorConfig};
    use std::time::{Duration, Instant};

    fn message(topic: &str, payload: &'static str) -> Message {
        Message {
            topic: Arc::from(topic),
            payload: bytes::Bytes::from_static(payload.as_bytes()),
            qos: 1,
            retain: false,
            dup: false,
            derived: Default::default(),
        }
    }

    #[test]
    fn a_message_is_parsed_once_and_freed_with_its_last_clone() {
        let topic = "$aws/things/cache-thing/jobs/notify-next";
        let m = message(topic, r#"{"execution":{"jobId":"j"}}"#);
        let before = parse_count::of(topic);
        let client_handler = |m: &Message| {
            m.derived
                .get_or_init(|| JobsEvent::parse(m.clone()))
                .unwrap()
        };
        let a = client_handler(&m);
        let b = client_handler(&m.clone());
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(parse_count::of(topic), before + 1);
        assert_eq!(a.execution_job_id(), Some("j"));
        // The same text in a new message is another delivery, parsed again.
        let again = message(topic, r#"{"execution":{"jobId":"j"}}"#);
        assert!(!Arc::ptr_eq(&client_handler(&again), &a));
        assert_eq!(parse_count::of(topic), before + 2);
        // No cycle: once the message and the handlers' events are gone, so is the topic.
        let weak = Arc::downgrade(&a);
        drop((a, b, m));
        assert!(
            weak.upgrade().is_none(),
            "the event is freed with its message"
        );
    }

    #[test]
    fn a_message_reaching_several_handlers_is_parsed_once() {
        let emu = Emulator::start(EmulatorConfig::default()).expect("emulator starts");
        let addr = emu.mqtt_addr();
        let conn = Connection::new(
            ConnectionConfig {
                host: addr.ip().to_string(),
                port: addr.port(),
                transport: TransportKind::Tcp,
                client_id: "parse-once".into(),
                connect_timeout: Duration::from_secs(10),
                operation_timeout: Duration::from_secs(10),
                ..ConnectionConfig::default()
            },
            Callbacks::default(),
        )
        .expect("connection");
        conn.connect().expect("connect");
        let thing = "parse-once-thing";
        let client = JobsClient::new(conn, true, thing, Some("tok"), 1).expect("client");
        type Seen = Arc<Mutex<Vec<(usize, Arc<JobsEvent>)>>>;
        let seen: Seen = Arc::default();
        // Four filters matching `job-1/get/accepted`: jobs/#, +/get/accepted,
        // job-1/get/accepted, job-1/get/#.
        let filters = [
            (TopicType::Wildcard, ReplyType::Request, None),
            (TopicType::Describe, ReplyType::Accepted, Some("+")),
            (TopicType::Describe, ReplyType::Accepted, Some("job-1")),
            (TopicType::Describe, ReplyType::Wildcard, Some("job-1")),
        ];
        for (i, (t, r, j)) in filters.into_iter().enumerate() {
            let s = seen.clone();
            let handler: JobsHandler = Arc::new(move |e| s.lock().unwrap().push((i, e.clone())));
            assert_eq!(
                client.create_subscription(t, r, j, handler).unwrap(),
                Some(1)
            );
        }
        let topic = format!("$aws/things/{thing}/jobs/job-1/get/accepted");
        let payloads = [
            r#"{"execution":{"jobId":"job-1","status":"QUEUED","versionNumber":1},"clientToken":"tok"}"#,
            r#"{"execution":{"jobId":"job-1","status":"IN_PROGRESS","versionNumber":2}}"#,
            r#"{"execution":{"jobId":"job-1","status":"IN_PROGRESS","versionNumber":2}}"#,
        ];
        let before = parse_count::of(&topic);
        for (round, payload) in payloads.iter().enumerate() {
            emu.publish(&topic, payload.as_bytes(), 1);
            let want = filters.len() * (round + 1);
            let deadline = Instant::now() + Duration::from_secs(10);
            while seen.lock().unwrap().len() < want {
                assert!(
                    Instant::now() < deadline,
                    "round {round}: handlers not all called"
                );
                std::thread::sleep(Duration::from_millis(5));
            }
            assert_eq!(parse_count::of(&topic), before + round + 1, "round {round}");
        }
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), filters.len() * payloads.len());
        for (round, deliveries) in seen.chunks(filters.len()).enumerate() {
            let mut handlers: Vec<usize> = deliveries.iter().map(|(i, _)| *i).collect();
            handlers.sort_unstable();
            assert_eq!(handlers, [0, 1, 2, 3], "round {round}");
            let event = &deliveries[0].1;
            assert_eq!(event.payload(), payloads[round].as_bytes());
            assert_eq!(event.version_number(), Some(round.min(1) as i64 + 1));
            for (_, other) in deliveries {
                assert!(Arc::ptr_eq(event, other), "round {round}: a second parse");
            }
        }
        // Equal payloads in two messages are two events.
        assert!(!Arc::ptr_eq(&seen[4].1, &seen[8].1));
        client.close();
    }
}
