//! The jobs reply and event parsers, `jobs::response` and `jobs::event`.
//!
//! Invariants, for an arbitrary payload on every (topic type, reply type):
//! - `parse_response` never panics; it accepts exactly the (type, reply) pairs AWS answers on
//!   (a request topic or `Unrecognized`/`Wildcard` is `NotAResponse`);
//! - a `JobsEvent` parsed from a message on the matching jobs topic agrees with
//!   `parse_response` (topic, thing, job id, response), and every accessor runs without panic;
//! - `status_details_json` renders JSON that parses back to the same details (a repeated key
//!   with its last value), and the job document is JSON text.

#![no_main]

use arbitrary::Arbitrary;
use bytes::Bytes;
use iotjobs::jobs::event::JobsEvent;
use iotjobs::jobs::response::{parse_response, ResponseError};
use iotjobs::jobs::topics::build_topic;
use iotjobs::jobs::types::{ExecutionStatus, ReplyType, TopicType};
use iotjobs::mqtt::types::Message;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    topic_type: u8,
    reply_type: u8,
    payload: Vec<u8>,
}

fuzz_target!(|input: Input| {
    let topic_type = TopicType::ALL[usize::from(input.topic_type) % TopicType::ALL.len()];
    let reply_type = ReplyType::ALL[usize::from(input.reply_type) % ReplyType::ALL.len()];
    let result = parse_response(topic_type, reply_type, &input.payload);
    let answered = !matches!(topic_type, TopicType::Unrecognized | TopicType::Wildcard)
        && if topic_type.is_notification() {
            reply_type == ReplyType::Request
        } else {
            matches!(reply_type, ReplyType::Accepted | ReplyType::Rejected)
        };
    if !answered {
        assert!(
            matches!(result, Err(ResponseError::NotAResponse { .. })),
            "{topic_type:?}/{reply_type:?}: {result:?}"
        );
        return;
    }
    let job_id = topic_type.requires_job_id().then_some("job-1");
    let topic = build_topic("thing-1", topic_type, reply_type, job_id).expect("a reply topic");
    let event = JobsEvent::parse(Message::new(
        &topic,
        Bytes::from(input.payload.clone()),
        1,
        false,
        false,
    ));
    assert_eq!(event.topic_type(), topic_type);
    assert_eq!(event.reply_type(), reply_type);
    assert_eq!(event.thing_name(), Some("thing-1"));
    assert_eq!(event.topic_job_id(), job_id);
    assert_eq!(event.response(), result.as_ref().ok());
    assert_eq!(event.is_parsed(), result.is_ok());
    assert_eq!(event.parse_error().is_some(), result.is_err());
    assert_eq!(event.payload(), &input.payload[..]);

    let _ = event.execution();
    let _ = event.execution_state();
    let _ = event.execution_job_id();
    let status = event.status();
    assert!(ExecutionStatus::ALL.contains(&status));
    let _ = event.version_number();
    let _ = event.execution_number();
    let _ = event.client_token();
    let _ = event.rejection();
    let _ = event.rejection_code().map(|c| (c.code(), c.as_str().len()));
    let _ = event.rejection_message();
    let _ = event.timestamp();
    let _ = event.in_progress_jobs().len() + event.queued_jobs().len();
    if let Some(doc) = event.job_document() {
        assert!(
            serde_json::from_str::<serde_json::Value>(doc).is_ok(),
            "{doc:?}"
        );
    }
    if let Some(details) = event.status_details() {
        let json = event.status_details_json().expect("details render as JSON");
        let back: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(json).expect("status details JSON parses");
        // A repeated key keeps its last value.
        let want: std::collections::BTreeMap<&str, &str> = details
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(back.len(), want.len(), "{json}");
        for (k, v) in want {
            assert_eq!(back.get(k).and_then(|x| x.as_str()), Some(v), "{json}");
        }
        assert_eq!(
            event.status_details_json(),
            Some(json),
            "rendered once, the same"
        );
    }
});
