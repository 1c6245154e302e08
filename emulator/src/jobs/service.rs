//! Wires the pure Jobs state machine to the broker: requests from a connection, replies to the
//! requester only (whether or not it subscribed), notifications to subscribers, step timers on
//! the emulator runtime (one "minute" = `EmulatorConfig::minute`), and the Jobs faults
//! (throttle, dropped replies, reply delay, injected internal errors).

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use rumqttc::mqttbytes::QoS;
use serde_json::{json, Value};

use super::machine::{Code, Jobs, Msg, TimerReq};
use crate::broker::{lock, Shared};

/// The Jobs service state held by the emulator.
#[derive(Default)]
pub struct JobsService {
    pub jobs: Jobs,
}

impl JobsService {
    pub fn new() -> JobsService {
        JobsService::default()
    }
}

/// Seconds since the epoch (Jobs timestamps are seconds).
pub fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// True for topics in the Jobs namespace `$aws/things/{thing}/jobs/...`.
pub(crate) fn is_jobs_topic(t: &str) -> bool {
    super::machine::parse_topic(t).is_some()
}

fn payload_bytes(v: &Value) -> Bytes {
    Bytes::from(serde_json::to_vec(v).unwrap_or_default())
}

/// Publishes notifications to subscribers.
pub(crate) fn notify(shared: &Shared, msgs: Vec<Msg>) {
    for m in msgs {
        shared
            .log
            .log("jobs", format_args!("{} {}", m.topic, short(&m.payload)));
        shared.route(&m.topic, payload_bytes(&m.payload), QoS::AtLeastOnce, false);
    }
}

fn short(v: &Value) -> String {
    short_text(&v.to_string())
}

/// At most ~300 characters of `s`, for log lines.
pub(crate) fn short_text(s: &str) -> String {
    match s.char_indices().nth(300) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// `$aws/things/dev1/jobs/x` → `dev1/jobs/x` for log lines.
pub(crate) fn short_topic(t: &str) -> &str {
    t.strip_prefix("$aws/things/").unwrap_or(t)
}

/// Handles a PUBLISH from `client` to a Jobs topic.
pub(crate) fn on_request(shared: &Arc<Shared>, client: &str, topic: &str, payload: &[u8]) {
    let now = now_secs();
    let (reply, notes, timers) = if shared.faults.take_throttle() {
        (
            Jobs::reject_request(topic, payload, Code::RequestThrottled, now),
            Vec::new(),
            Vec::new(),
        )
    } else if shared.faults.take_internal_error() {
        (
            Jobs::reject_request(topic, payload, Code::InternalError, now),
            Vec::new(),
            Vec::new(),
        )
    } else {
        let out = lock(&shared.jobs).jobs.request(topic, payload, now);
        (out.reply, out.notifications, out.timers)
    };
    if let Some(mut r) = reply {
        if shared.faults.take_malform_reply() {
            r.payload = malformed(&r.payload);
            shared.log.log(
                client,
                format_args!("fault: reply on {} malformed", short_topic(&r.topic)),
            );
        }
        if shared.faults.take_drop_reply() {
            shared
                .log
                .log(client, format_args!("fault: reply on {} dropped", r.topic));
        } else {
            shared.log.log(
                client,
                format_args!("<- {} {}", short_topic(&r.topic), short(&r.payload)),
            );
            let delay = shared.faults.reply_delay();
            let bytes = payload_bytes(&r.payload);
            if delay.is_zero() {
                shared.deliver_to(client, &r.topic, bytes);
            } else {
                let sh = shared.clone();
                let client = client.to_string();
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    sh.deliver_to(&client, &r.topic, bytes);
                });
            }
        }
    }
    notify(shared, notes);
    for t in timers {
        arm(shared, t);
    }
}

/// `reply` with its clientToken kept and every other member given a wrong type (a string where
/// AWS sends a number or an object), as a buggy or hostile broker might send it.
fn malformed(reply: &Value) -> Value {
    let mut out = serde_json::Map::new();
    if let Some(token) = reply.get("clientToken") {
        out.insert("clientToken".into(), token.clone());
    }
    out.insert("timestamp".into(), json!("not a number"));
    out.insert("execution".into(), json!("not an object"));
    out.insert("code".into(), json!(7));
    Value::Object(out)
}

/// Arms a step timer on the emulator runtime.
pub(crate) fn arm(shared: &Arc<Shared>, t: TimerReq) {
    let Some(rt) = shared.rt.get() else { return };
    let d = shared
        .cfg
        .minute
        .saturating_mul(t.minutes.clamp(0, i64::from(u32::MAX)) as u32);
    let sh = shared.clone();
    rt.spawn(async move {
        tokio::time::sleep(d).await;
        let msgs = lock(&sh.jobs).jobs.timer_fired(&t, now_secs());
        if !msgs.is_empty() {
            sh.log.log(
                &format!("[thing {}]", t.thing),
                format_args!("{:?} timer expired: {} is TIMED_OUT", t.kind, t.job_id),
            );
        }
        notify(&sh, msgs);
    });
}
