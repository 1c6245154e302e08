//! One message on a jobs topic, read once: its topic taken apart and its payload parsed as the
//! response the topic announces. Every handler the message fans out to shares the same
//! [`JobsEvent`], and reads the job execution, status, rejection and the rest through its
//! accessors instead of parsing again.

use super::response::{
    parse_response, JobExecution, JobExecutionState, JobExecutionSummary, Rejected, RejectedCode,
    Response, ResponseError,
};
use super::topics::{self, ParsedTopic};
use super::types::{ExecutionStatus, ReplyType, TopicType};
use crate::mqtt::types::Message;
use std::sync::{Arc, OnceLock};

/// A jobs message with its topic and payload parsed. Built by [`JobsEvent::parse`]; immutable.
#[derive(Debug)]
pub struct JobsEvent {
    /// The message as it arrived.
    pub message: Message,
    /// The topic taken apart; `None` for a topic outside the jobs API (a jobs client can still
    /// receive one through a `jobs/#` subscription or its fallback, e.g. `.../jobs/x/y/z/w`).
    pub parsed: Option<ParsedTopic>,
    /// The payload read as the response its topic announces, or why it could not be.
    response: Result<Response, ResponseError>,
    /// [`JobsEvent::status_details_json`], rendered on first use for every handler.
    status_details_json: OnceLock<Option<String>>,
    /// The `clientToken` string member of a reply whose payload is JSON but not the response
    /// its topic announces: it still tells which request the malformed reply answers.
    salvaged_token: Option<String>,
}

/// The `clientToken` member of `payload` when it is a JSON object whose `clientToken` is a
/// string, whatever else it holds.
fn salvage_client_token(payload: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct TokenOnly {
        #[serde(rename = "clientToken")]
        client_token: Option<String>,
    }
    serde_json::from_slice::<TokenOnly>(payload)
        .ok()
        .and_then(|t| t.client_token)
}

impl JobsEvent {
    /// Parses `message`'s topic and, when it names a jobs response, its payload. Never fails:
    /// a payload that is not the announced response (bad JSON, wrong types, a request topic)
    /// is kept with its [`ResponseError`].
    pub fn parse(message: Message) -> JobsEvent {
        #[cfg(test)]
        parse_count::record(&message.topic);
        let parsed = topics::parse_topic(&message.topic);
        let response = match &parsed {
            Some(p) => parse_response(p.topic_type, p.reply_type, &message.payload),
            None => Err(ResponseError::NotAJobsTopic),
        };
        let salvaged_token = match (&parsed, &response) {
            (Some(p), Err(_))
                if matches!(p.reply_type, ReplyType::Accepted | ReplyType::Rejected) =>
            {
                salvage_client_token(&message.payload)
            }
            _ => None,
        };
        JobsEvent {
            // Without the derived slot: this event is what goes into it.
            message: Message {
                derived: Default::default(),
                ..message
            },
            parsed,
            response,
            status_details_json: OnceLock::new(),
            salvaged_token,
        }
    }

    /// The event of `m`, parsed by whichever handler asks first and shared through the
    /// message's derived slot with every other handler of the same delivery.
    pub fn of(m: &Message) -> Arc<JobsEvent> {
        m.derived
            .get_or_init(|| JobsEvent::parse(m.clone()))
            .unwrap_or_else(|| Arc::new(JobsEvent::parse(m.clone())))
    }

    /// The topic the message arrived on.
    pub fn topic(&self) -> &str {
        &self.message.topic
    }

    /// The raw payload.
    pub fn payload(&self) -> &[u8] {
        &self.message.payload
    }

    /// The thing name from the topic; `None` for a topic outside the jobs API.
    pub fn thing_name(&self) -> Option<&str> {
        self.parsed.as_ref().map(|p| p.thing.as_str())
    }

    /// The topic type; `Unrecognized` for a topic outside the jobs API.
    pub fn topic_type(&self) -> TopicType {
        self.parsed
            .as_ref()
            .map_or(TopicType::Unrecognized, |p| p.topic_type)
    }

    /// The reply type (`Request` for requests and notifications); `Unrecognized` for a topic
    /// outside the jobs API.
    pub fn reply_type(&self) -> ReplyType {
        self.parsed
            .as_ref()
            .map_or(ReplyType::Unrecognized, |p| p.reply_type)
    }

    /// The job id in the topic (describe and update topics; may be `$next`).
    pub fn topic_job_id(&self) -> Option<&str> {
        self.parsed.as_ref().and_then(|p| p.job_id.as_deref())
    }

    /// The parsed response; `None` when the payload is not the response the topic announces.
    pub fn response(&self) -> Option<&Response> {
        self.response.as_ref().ok()
    }

    /// Why the payload was not parsed; `None` when it was.
    pub fn parse_error(&self) -> Option<&ResponseError> {
        self.response.as_ref().err()
    }

    /// True when the payload was parsed as the response its topic announces.
    pub fn is_parsed(&self) -> bool {
        self.response.is_ok()
    }

    /// The job execution of a start-next or describe reply, or of a notify-next message;
    /// `None` on those topics means "no pending job".
    pub fn execution(&self) -> Option<&JobExecution> {
        match self.response()? {
            Response::StartNextAccepted(a) | Response::DescribeAccepted(a) => a.execution.as_ref(),
            Response::NextJobExecutionChanged(n) => n.execution.as_ref(),
            _ => None,
        }
    }

    /// The execution state of an update reply (when requested) or of a rejection that carries
    /// one (`InvalidStateTransition`, `VersionMismatch`).
    pub fn execution_state(&self) -> Option<&JobExecutionState> {
        match self.response()? {
            Response::UpdateAccepted(u) => u.execution_state.as_ref(),
            Response::Rejected(r) => r.execution_state.as_ref(),
            _ => None,
        }
    }

    /// The job id of the execution the payload describes: the execution's `jobId`, or for an
    /// execution state (which names no job) the topic's job id.
    pub fn execution_job_id(&self) -> Option<&str> {
        match (self.execution(), self.execution_state()) {
            (Some(e), _) => Some(&e.job_id),
            (None, Some(_)) => self.topic_job_id(),
            (None, None) => None,
        }
    }

    /// The status of the execution or execution state; `NotSet` when the payload has neither.
    pub fn status(&self) -> ExecutionStatus {
        self.execution()
            .map(|e| e.status)
            .or_else(|| self.execution_state().map(|s| s.status))
            .unwrap_or(ExecutionStatus::NotSet)
    }

    /// The `versionNumber` of the execution or execution state (the next update's expected
    /// version).
    pub fn version_number(&self) -> Option<i64> {
        self.execution()
            .and_then(|e| e.version_number)
            .or_else(|| self.execution_state().and_then(|s| s.version_number))
    }

    /// The execution's `executionNumber`.
    pub fn execution_number(&self) -> Option<i64> {
        self.execution().and_then(|e| e.execution_number)
    }

    /// The status details of the execution or execution state, in the order AWS sent them;
    /// `None` when the payload has neither (an execution without details gives `Some(&[])`).
    pub fn status_details(&self) -> Option<&[(String, String)]> {
        self.execution()
            .map(|e| e.status_details.as_slice())
            .or_else(|| self.execution_state().map(|s| s.status_details.as_slice()))
    }

    /// [`JobsEvent::status_details`] as a compact JSON object, e.g. `{"progress":"50%"}`: keys
    /// sorted, a repeated key with its last value. Rendered once per event.
    pub fn status_details_json(&self) -> Option<&str> {
        self.status_details_json
            .get_or_init(|| {
                let map: serde_json::Map<String, serde_json::Value> = self
                    .status_details()?
                    .iter()
                    .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                    .collect();
                Some(serde_json::Value::Object(map).to_string())
            })
            .as_deref()
    }

    /// The job document as the raw JSON text AWS sent: from the execution, or from an update
    /// reply that asked for it.
    pub fn job_document(&self) -> Option<&str> {
        match self.response()? {
            Response::UpdateAccepted(u) => u.job_document.as_deref(),
            _ => self.execution().and_then(|e| e.job_document.as_deref()),
        }
    }

    /// The client token AWS echoed in a reply (notifications carry none). For a reply whose
    /// payload is not the announced response, the `clientToken` string member if the payload
    /// is a JSON object that has one.
    pub fn client_token(&self) -> Option<&str> {
        let Some(response) = self.response() else {
            return self.salvaged_token.as_deref();
        };
        match response {
            Response::GetPendingAccepted(g) => g.client_token.as_deref(),
            Response::StartNextAccepted(a) | Response::DescribeAccepted(a) => {
                a.client_token.as_deref()
            }
            Response::UpdateAccepted(u) => u.client_token.as_deref(),
            Response::Rejected(r) => r.client_token.as_deref(),
            Response::JobExecutionsChanged(_) | Response::NextJobExecutionChanged(_) => None,
        }
    }

    /// The rejection, for a parsed `.../rejected` message.
    pub fn rejection(&self) -> Option<&Rejected> {
        match self.response()? {
            Response::Rejected(r) => Some(r),
            _ => None,
        }
    }

    /// Why the request was rejected (its text is [`RejectedCode::as_str`]).
    pub fn rejection_code(&self) -> Option<&RejectedCode> {
        self.rejection().map(|r| &r.code)
    }

    /// AWS's explanation of a rejection.
    pub fn rejection_message(&self) -> Option<&str> {
        self.rejection().and_then(|r| r.message.as_deref())
    }

    /// When AWS sent the reply or notification (seconds since the epoch).
    pub fn timestamp(&self) -> Option<i64> {
        match self.response()? {
            Response::GetPendingAccepted(g) => g.timestamp,
            Response::StartNextAccepted(a) | Response::DescribeAccepted(a) => a.timestamp,
            Response::UpdateAccepted(u) => u.timestamp,
            Response::Rejected(r) => r.timestamp,
            Response::JobExecutionsChanged(n) => n.timestamp,
            Response::NextJobExecutionChanged(n) => n.timestamp,
        }
    }

    /// The executions in progress, from a GetPending reply or a notify message (empty
    /// otherwise).
    pub fn in_progress_jobs(&self) -> &[JobExecutionSummary] {
        self.summaries(ExecutionStatus::InProgress)
    }

    /// The queued executions, from a GetPending reply or a notify message (empty otherwise).
    pub fn queued_jobs(&self) -> &[JobExecutionSummary] {
        self.summaries(ExecutionStatus::Queued)
    }

    fn summaries(&self, status: ExecutionStatus) -> &[JobExecutionSummary] {
        match self.response() {
            Some(Response::GetPendingAccepted(g)) if status == ExecutionStatus::InProgress => {
                &g.in_progress_jobs
            }
            Some(Response::GetPendingAccepted(g)) if status == ExecutionStatus::Queued => {
                &g.queued_jobs
            }
            Some(Response::JobExecutionsChanged(n)) => n.with_status(status),
            _ => &[],
        }
    }
}

/// How many times [`JobsEvent::parse`] ran per topic, so tests can prove a message fanned out
/// to several handlers is parsed once. Keyed by topic because tests run in parallel.
#[cfg(test)]
pub(crate) mod parse_count {
    use std::sync::Mutex;

    static COUNTS: Mutex<Vec<(String, usize)>> = Mutex::new(Vec::new());

    pub(crate) fn record(topic: &str) {
        let mut counts = COUNTS.lock().unwrap_or_else(|e| e.into_inner());
        match counts.iter_mut().find(|(t, _)| t == topic) {
            Some((_, n)) => *n += 1,
            None => counts.push((topic.to_owned(), 1)),
        }
    }

    pub(crate) fn of(topic: &str) -> usize {
        let counts = COUNTS.lock().unwrap_or_else(|e| e.into_inner());
        counts
            .iter()
            .find(|(t, _)| t == topic)
            .map_or(0, |(_, n)| *n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn event(topic: &str, payload: &str) -> JobsEvent {
        JobsEvent::parse(Message {
            topic: Arc::from(topic),
            payload: bytes::Bytes::copy_from_slice(payload.as_bytes()),
            qos: 1,
            retain: false,
            dup: false,
            derived: Default::default(),
        })
    }

    fn jobs(rest: &str) -> String {
        format!("$aws/things/ev-thing/jobs/{rest}")
    }

    const EXECUTION: &str = r#"{"timestamp":1517186779,"clientToken":"tok","execution":{"jobId":"job-1","thingName":"ev-thing","status":"IN_PROGRESS","statusDetails":{"step":"2","progress":"50%"},"queuedAt":1517186700,"versionNumber":3,"executionNumber":7,"jobDocument":{"operation":"reboot"}}}"#;

    #[test]
    fn start_next_describe_and_notify_next_carry_an_execution() {
        for (rest, token) in [
            ("start-next/accepted", Some("tok")),
            ("job-1/get/accepted", Some("tok")),
            ("$next/get/accepted", Some("tok")),
            ("notify-next", None),
        ] {
            let e = event(&jobs(rest), EXECUTION);
            assert!(e.is_parsed(), "{rest}: {:?}", e.parse_error());
            assert_eq!(e.thing_name(), Some("ev-thing"));
            let x = e.execution().expect(rest);
            assert_eq!(x.job_id, "job-1");
            assert_eq!(e.execution_state(), None);
            assert_eq!(e.execution_job_id(), Some("job-1"), "{rest}");
            assert_eq!(e.status(), ExecutionStatus::InProgress);
            assert_eq!(e.version_number(), Some(3));
            assert_eq!(e.execution_number(), Some(7));
            assert_eq!(
                e.status_details(),
                Some(
                    &[
                        ("step".into(), "2".into()),
                        ("progress".into(), "50%".into())
                    ][..]
                )
            );
            assert_eq!(
                e.status_details_json(),
                Some(r#"{"progress":"50%","step":"2"}"#)
            );
            assert_eq!(e.job_document(), Some(r#"{"operation":"reboot"}"#));
            assert_eq!(e.timestamp(), Some(1517186779));
            // notify-next has no clientToken member, so an extra one in the payload is ignored.
            assert_eq!(e.client_token(), token, "{rest}");
            assert_eq!(e.rejection(), None);
            assert!(e.in_progress_jobs().is_empty() && e.queued_jobs().is_empty());
        }
    }

    #[test]
    fn no_pending_job_is_a_parsed_reply_without_execution() {
        let e = event(
            &jobs("start-next/accepted"),
            r#"{"timestamp":5,"clientToken":"t"}"#,
        );
        assert!(e.is_parsed());
        assert_eq!(e.execution(), None);
        assert_eq!(e.execution_job_id(), None);
        assert_eq!(e.status(), ExecutionStatus::NotSet);
        assert_eq!(e.version_number(), None);
        assert_eq!(e.execution_number(), None);
        assert_eq!(e.status_details(), None);
        assert_eq!(e.status_details_json(), None);
        assert_eq!(e.job_document(), None);
        assert_eq!(e.client_token(), Some("t"));
        assert_eq!(e.timestamp(), Some(5));
    }

    #[test]
    fn update_reply_reports_the_state_under_the_topic_job_id() {
        let e = event(
            &jobs("job-9/update/accepted"),
            r#"{"executionState":{"status":"SUCCEEDED","versionNumber":4},"jobDocument":{"a":1},"timestamp":9,"clientToken":"c"}"#,
        );
        assert_eq!(e.topic_type(), TopicType::Update);
        assert_eq!(e.reply_type(), ReplyType::Accepted);
        assert_eq!(e.topic_job_id(), Some("job-9"));
        assert_eq!(e.execution(), None);
        assert!(e.execution_state().is_some());
        assert_eq!(e.execution_job_id(), Some("job-9"));
        assert_eq!(e.status(), ExecutionStatus::Succeeded);
        assert_eq!(e.version_number(), Some(4));
        assert_eq!(e.execution_number(), None);
        assert_eq!(e.status_details_json(), Some("{}"));
        assert_eq!(e.job_document(), Some(r#"{"a":1}"#));
        assert_eq!(e.client_token(), Some("c"));
        assert_eq!(e.timestamp(), Some(9));
        let bare = event(&jobs("job-9/update/accepted"), r#"{"timestamp":9}"#);
        assert_eq!(bare.execution_job_id(), None);
        assert_eq!(bare.status_details(), None);
        assert_eq!(bare.status(), ExecutionStatus::NotSet);
    }

    #[test]
    fn rejections_carry_code_message_token_and_state() {
        let e = event(
            &jobs("job-1/update/rejected"),
            r#"{"code":"VersionMismatch","message":"expected 1, found 2","clientToken":"c","timestamp":3,"executionState":{"status":"IN_PROGRESS","statusDetails":{"k":"v"},"versionNumber":2}}"#,
        );
        assert_eq!(e.rejection_code(), Some(&RejectedCode::VersionMismatch));
        assert_eq!(e.rejection_message(), Some("expected 1, found 2"));
        assert_eq!(e.client_token(), Some("c"));
        assert_eq!(e.timestamp(), Some(3));
        assert_eq!(e.execution_job_id(), Some("job-1"));
        assert_eq!(e.status(), ExecutionStatus::InProgress);
        assert_eq!(e.version_number(), Some(2));
        assert_eq!(e.status_details_json(), Some(r#"{"k":"v"}"#));
        let other = event(&jobs("start-next/rejected"), r#"{"code":"Brand New"}"#);
        assert_eq!(
            other.rejection_code().map(RejectedCode::as_str),
            Some("Brand New")
        );
        assert_eq!(other.rejection_message(), None);
        assert_eq!(other.execution_job_id(), None);
        assert_eq!(other.status_details(), None);
    }

    #[test]
    fn pending_lists_come_from_get_pending_and_notify() {
        let g = event(
            &jobs("get/accepted"),
            r#"{"inProgressJobs":[{"jobId":"a"}],"queuedJobs":[{"jobId":"b"},{"jobId":"c"}],"timestamp":1,"clientToken":"t"}"#,
        );
        let ids =
            |l: &[JobExecutionSummary]| l.iter().map(|s| s.job_id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(g.in_progress_jobs()), ["a"]);
        assert_eq!(ids(g.queued_jobs()), ["b", "c"]);
        assert_eq!(g.client_token(), Some("t"));
        assert_eq!(g.execution(), None);
        let n = event(
            &jobs("notify"),
            r#"{"jobs":{"QUEUED":[{"jobId":"q"}],"IN_PROGRESS":[{"jobId":"p"}]},"timestamp":2}"#,
        );
        assert_eq!(ids(n.in_progress_jobs()), ["p"]);
        assert_eq!(ids(n.queued_jobs()), ["q"]);
        assert_eq!(n.client_token(), None);
        assert_eq!(n.timestamp(), Some(2));
    }

    #[test]
    fn malformed_payloads_keep_the_topic_and_read_as_absent() {
        let big = format!(
            r#"{{"execution":{{"jobId":"j","x":"{}"}}"#,
            "y".repeat(200_000)
        );
        for payload in [
            "not json",
            "",
            "[1,2]",
            r#"{"execution":{"jobId":5}}"#,
            r#"{"execution":{"jobId":"j","versionNumber":1.5}}"#,
            r#"{"execution":{"jobId":"j","statusDetails":{"k":1}}}"#,
            big.as_str(),
        ] {
            let e = event(&jobs("start-next/accepted"), payload);
            assert!(!e.is_parsed(), "{payload:.40}");
            assert!(e.parse_error().is_some());
            assert_eq!(e.topic_type(), TopicType::StartNext);
            assert_eq!(e.thing_name(), Some("ev-thing"));
            assert_eq!(e.payload(), payload.as_bytes());
            assert_eq!(e.execution(), None);
            assert_eq!(e.execution_job_id(), None);
            assert_eq!(e.status(), ExecutionStatus::NotSet);
            assert_eq!(e.version_number(), None);
            assert_eq!(e.status_details_json(), None);
            assert_eq!(e.job_document(), None);
            assert_eq!(e.client_token(), None);
            assert_eq!(e.rejection(), None);
            assert_eq!(e.timestamp(), None);
        }
        let bytes = JobsEvent::parse(Message {
            topic: Arc::from(jobs("notify-next").as_str()),
            payload: bytes::Bytes::from_static(b"{\"timestamp\":\xff}"),
            qos: 0,
            retain: false,
            dup: false,
            derived: Default::default(),
        });
        assert!(matches!(
            bytes.parse_error(),
            Some(ResponseError::NotUtf8 { .. })
        ));
    }

    #[test]
    fn a_malformed_reply_still_names_its_client_token() {
        let payload = r#"{"clientToken":"tok-1","timestamp":"now","execution":"not an object"}"#;
        for topic in ["start-next/accepted", "get/rejected", "j1/update/accepted"] {
            let e = event(&jobs(topic), payload);
            assert!(!e.is_parsed(), "{topic}");
            assert_eq!(e.client_token(), Some("tok-1"), "{topic}");
        }
        // Not on a notification, and not when the token is not a string.
        assert_eq!(event(&jobs("notify-next"), payload).client_token(), None);
        let e = event(&jobs("get/accepted"), r#"{"clientToken":5,"jobs":1}"#);
        assert_eq!(e.client_token(), None);
    }

    #[test]
    fn request_and_foreign_topics_have_no_response() {
        let request = event(&jobs("job-1/update"), r#"{"status":"SUCCEEDED"}"#);
        assert_eq!(request.topic_type(), TopicType::Update);
        assert_eq!(request.reply_type(), ReplyType::Request);
        assert!(matches!(
            request.parse_error(),
            Some(ResponseError::NotAResponse { .. })
        ));
        for topic in [
            jobs("job-1/update/accepted/extra"),
            jobs(""),
            "$aws/things/ev-thing/shadow/update".to_owned(),
        ] {
            let e = event(&topic, EXECUTION);
            assert_eq!(e.topic(), topic);
            assert_eq!(e.parsed, None);
            assert_eq!(e.thing_name(), None);
            assert_eq!(e.topic_type(), TopicType::Unrecognized);
            assert_eq!(e.reply_type(), ReplyType::Unrecognized);
            assert_eq!(e.topic_job_id(), None);
            assert_eq!(e.parse_error(), Some(&ResponseError::NotAJobsTopic));
            assert_eq!(e.execution(), None);
        }
    }

    #[test]
    fn every_parse_is_counted_per_topic() {
        let topic = jobs("count-probe/get/accepted");
        let before = parse_count::of(&topic);
        event(&topic, "{}");
        event(&topic, "{}");
        assert_eq!(parse_count::of(&topic), before + 2);
    }
}
