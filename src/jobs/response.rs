//! Parsing what AWS IoT Jobs publishes back (`docs/jobs-protocol.md`, 'GetPendingJobExecutions'
//! to 'Notifications'): accepted
//! and rejected replies and the two notifications.
//!
//! Parsing is tolerant where AWS may vary and strict where a wrong value would mislead:
//! - unknown fields are ignored; absent optional fields are `None` or empty, and so is `null`;
//! - numbers may be JSON integers or numeric strings; counters (`versionNumber`,
//!   `executionNumber`, …) must be whole and fit an `i64`; timestamps may also carry a fraction,
//!   which is dropped;
//! - an unknown status string becomes [`ExecutionStatus::Unknown`], an unknown rejection code
//!   [`RejectedCode::Other`];
//! - `jobDocument` is kept as the raw JSON text AWS sent, byte for byte;
//! - anything else of the wrong type (a status that is not a string, a details value that is not
//!   a string, a number out of range) is a [`ResponseError`]. Nothing here panics on any input.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, Visitor};

use super::types::{ExecutionStatus, ReplyType, TopicType};
use super::validate::OrderedMap;

/// Why a payload could not be read as the expected jobs response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseError {
    /// The payload is not UTF-8.
    NotUtf8 {
        /// Length of the longest valid UTF-8 prefix.
        valid_up_to: usize,
    },
    /// The payload is not a JSON object.
    NotObject,
    /// The payload is not JSON, or a known field has the wrong type or an out-of-range value.
    Malformed {
        /// serde_json's description, with line and column.
        reason: String,
    },
    /// The topic is not one AWS answers on (a request topic, or a wildcard reply type).
    NotAResponse {
        /// The topic type given.
        topic_type: TopicType,
        /// The reply type given.
        reply_type: ReplyType,
    },
    /// The topic is not a concrete AWS IoT Jobs topic, so no response is expected on it.
    NotAJobsTopic,
}

impl fmt::Display for ResponseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResponseError::NotUtf8 { valid_up_to } => {
                write!(
                    f,
                    "jobs response is not UTF-8 (invalid byte at offset {valid_up_to})"
                )
            }
            ResponseError::NotObject => f.write_str("jobs response is not a JSON object"),
            ResponseError::Malformed { reason } => write!(f, "malformed jobs response: {reason}"),
            ResponseError::NotAResponse {
                topic_type,
                reply_type,
            } => write!(
                f,
                "topic type {} with reply type {} carries no jobs response",
                topic_type.as_u32(),
                reply_type.as_u32()
            ),
            ResponseError::NotAJobsTopic => {
                f.write_str("the topic is not an AWS IoT Jobs topic; no jobs response is parsed")
            }
        }
    }
}

impl std::error::Error for ResponseError {}

/// One pending execution in a GetPending reply or a notify message (AWS `JobExecutionSummary`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobExecutionSummary {
    /// The job id.
    pub job_id: String,
    /// When the execution was queued (seconds since the epoch).
    #[serde(default, deserialize_with = "timestamp")]
    pub queued_at: Option<i64>,
    /// When the execution started; absent until it does.
    #[serde(default, deserialize_with = "timestamp")]
    pub started_at: Option<i64>,
    /// When the execution was last updated.
    #[serde(default, deserialize_with = "timestamp")]
    pub last_updated_at: Option<i64>,
    /// The execution's version, raised by every device update.
    #[serde(default, deserialize_with = "counter")]
    pub version_number: Option<i64>,
    /// Which execution of the job on this thing this is.
    #[serde(default, deserialize_with = "counter")]
    pub execution_number: Option<i64>,
}

/// A job execution with its document (AWS `JobExecution`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobExecution {
    /// The job id.
    pub job_id: String,
    /// The thing the execution runs on.
    #[serde(default)]
    pub thing_name: Option<String>,
    /// The status; `NotSet` when absent, `Unknown` for a string this library does not know.
    #[serde(default, deserialize_with = "status")]
    pub status: ExecutionStatus,
    /// The status details, in the order AWS sent them.
    #[serde(default, deserialize_with = "status_details")]
    pub status_details: Vec<(String, String)>,
    /// When the execution was queued (seconds since the epoch).
    #[serde(default, deserialize_with = "timestamp")]
    pub queued_at: Option<i64>,
    /// When the execution started.
    #[serde(default, deserialize_with = "timestamp")]
    pub started_at: Option<i64>,
    /// When the execution was last updated.
    #[serde(default, deserialize_with = "timestamp")]
    pub last_updated_at: Option<i64>,
    /// The execution's version; pass it as `expectedVersion` of the next update.
    #[serde(default, deserialize_with = "counter")]
    pub version_number: Option<i64>,
    /// Which execution of the job on this thing this is.
    #[serde(default, deserialize_with = "counter")]
    pub execution_number: Option<i64>,
    /// Seconds left before the execution times out, when AWS says.
    #[serde(default, deserialize_with = "counter")]
    pub approximate_seconds_before_timed_out: Option<i64>,
    /// The job document as the raw JSON text AWS sent (normally an object); `None` when absent
    /// or `null`.
    #[serde(skip)]
    pub job_document: Option<String>,
}

/// The state part of an execution, sent by update/accepted and some rejections (AWS
/// `JobExecutionState`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobExecutionState {
    /// The status; `NotSet` when absent, `Unknown` for a string this library does not know.
    #[serde(default, deserialize_with = "status")]
    pub status: ExecutionStatus,
    /// The status details, in the order AWS sent them.
    #[serde(default, deserialize_with = "status_details")]
    pub status_details: Vec<(String, String)>,
    /// The execution's version.
    #[serde(default, deserialize_with = "counter")]
    pub version_number: Option<i64>,
}

/// `.../jobs/get/accepted`: the pending executions.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetPendingAccepted {
    /// The executions in progress.
    #[serde(default, deserialize_with = "null_as_default")]
    pub in_progress_jobs: Vec<JobExecutionSummary>,
    /// The queued executions.
    #[serde(default, deserialize_with = "null_as_default")]
    pub queued_jobs: Vec<JobExecutionSummary>,
    /// When AWS sent the reply.
    #[serde(default, deserialize_with = "timestamp")]
    pub timestamp: Option<i64>,
    /// The request's client token, echoed.
    #[serde(default)]
    pub client_token: Option<String>,
}

/// `.../jobs/start-next/accepted` and `.../jobs/J/get/accepted`: one execution, or none when
/// nothing is pending.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionAccepted {
    /// The execution; `None` means no pending job.
    #[serde(default)]
    pub execution: Option<JobExecution>,
    /// When AWS sent the reply.
    #[serde(default, deserialize_with = "timestamp")]
    pub timestamp: Option<i64>,
    /// The request's client token, echoed.
    #[serde(default)]
    pub client_token: Option<String>,
}

/// `.../jobs/J/update/accepted`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateAccepted {
    /// The new state, present when the update asked for `includeJobExecutionState`.
    #[serde(default)]
    pub execution_state: Option<JobExecutionState>,
    /// The raw job document JSON, present when the update asked for `includeJobDocument`.
    #[serde(skip)]
    pub job_document: Option<String>,
    /// When AWS sent the reply.
    #[serde(default, deserialize_with = "timestamp")]
    pub timestamp: Option<i64>,
    /// The request's client token, echoed.
    #[serde(default)]
    pub client_token: Option<String>,
}

/// The `code` of a rejection (AWS `ErrorCode`; the nine documented codes).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RejectedCode {
    /// The topic is in the jobs namespace but maps to no API.
    InvalidTopic,
    /// The request is not valid UTF-8 JSON.
    InvalidJson,
    /// The request's contents are invalid; `message` has details.
    InvalidRequest,
    /// The status change is not allowed from the current state; carries `executionState`.
    InvalidStateTransition,
    /// The job execution does not exist.
    ResourceNotFound,
    /// `expectedVersion` differs from the stored version; carries `executionState`.
    VersionMismatch,
    /// AWS failed internally.
    InternalError,
    /// The request was throttled.
    RequestThrottled,
    /// Describe of an execution in a terminal state.
    TerminalStateReached,
    /// A code this library does not know, as sent.
    Other(String),
}

impl RejectedCode {
    /// The modeled code C sees (`jobs_rejection_code`).
    pub fn code(&self) -> crate::jobs::types::RejectionCode {
        use crate::jobs::types::RejectionCode as C;
        match self {
            RejectedCode::InvalidTopic => C::InvalidTopic,
            RejectedCode::InvalidJson => C::InvalidJson,
            RejectedCode::InvalidRequest => C::InvalidRequest,
            RejectedCode::InvalidStateTransition => C::InvalidStateTransition,
            RejectedCode::ResourceNotFound => C::ResourceNotFound,
            RejectedCode::VersionMismatch => C::VersionMismatch,
            RejectedCode::InternalError => C::InternalError,
            RejectedCode::RequestThrottled => C::RequestThrottled,
            RejectedCode::TerminalStateReached => C::TerminalStateReached,
            RejectedCode::Other(_) => C::Other,
        }
    }

    /// The nine documented codes, in the order of AWS's documentation.
    pub const KNOWN: [RejectedCode; 9] = [
        RejectedCode::InvalidTopic,
        RejectedCode::InvalidJson,
        RejectedCode::InvalidRequest,
        RejectedCode::InvalidStateTransition,
        RejectedCode::ResourceNotFound,
        RejectedCode::VersionMismatch,
        RejectedCode::InternalError,
        RejectedCode::RequestThrottled,
        RejectedCode::TerminalStateReached,
    ];

    /// Returns the code as AWS spells it (the original text for `Other`).
    pub fn as_str(&self) -> &str {
        match self {
            RejectedCode::InvalidTopic => "InvalidTopic",
            RejectedCode::InvalidJson => "InvalidJson",
            RejectedCode::InvalidRequest => "InvalidRequest",
            RejectedCode::InvalidStateTransition => "InvalidStateTransition",
            RejectedCode::ResourceNotFound => "ResourceNotFound",
            RejectedCode::VersionMismatch => "VersionMismatch",
            RejectedCode::InternalError => "InternalError",
            RejectedCode::RequestThrottled => "RequestThrottled",
            RejectedCode::TerminalStateReached => "TerminalStateReached",
            RejectedCode::Other(code) => code,
        }
    }

    /// Returns the code for AWS's spelling `s` (case-sensitive), `Other(s)` when unknown.
    pub fn from_wire(s: &str) -> Self {
        Self::KNOWN
            .into_iter()
            .find(|c| c.as_str() == s)
            .unwrap_or_else(|| RejectedCode::Other(s.to_owned()))
    }
}

impl<'de> Deserialize<'de> for RejectedCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(|s| RejectedCode::from_wire(&s))
    }
}

/// `.../rejected` of any operation (AWS `ErrorResponse`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rejected {
    /// Why the request was rejected.
    pub code: RejectedCode,
    /// AWS's explanation.
    #[serde(default)]
    pub message: Option<String>,
    /// The request's client token, echoed.
    #[serde(default)]
    pub client_token: Option<String>,
    /// When AWS sent the reply.
    #[serde(default, deserialize_with = "timestamp")]
    pub timestamp: Option<i64>,
    /// The current state, sent with `InvalidStateTransition` and `VersionMismatch`.
    #[serde(default)]
    pub execution_state: Option<JobExecutionState>,
}

/// `.../jobs/notify` (JobExecutionsChanged): the pending executions grouped by status.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobExecutionsChanged {
    /// Status → executions, in the order AWS sent them (normally `IN_PROGRESS`, `QUEUED`);
    /// empty when nothing is pending.
    #[serde(default, deserialize_with = "jobs_by_status")]
    pub jobs: Vec<(ExecutionStatus, Vec<JobExecutionSummary>)>,
    /// When AWS sent the notification.
    #[serde(default, deserialize_with = "timestamp")]
    pub timestamp: Option<i64>,
}

impl JobExecutionsChanged {
    /// Returns the executions listed under `status` (empty when none).
    pub fn with_status(&self, status: ExecutionStatus) -> &[JobExecutionSummary] {
        self.jobs
            .iter()
            .find(|(s, _)| *s == status)
            .map_or(&[], |(_, list)| list.as_slice())
    }
}

/// `.../jobs/notify-next` (NextJobExecutionChanged): the new head of the queue, or none.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NextJobExecutionChanged {
    /// The next execution; `None` means the queue became empty.
    #[serde(default)]
    pub execution: Option<JobExecution>,
    /// When AWS sent the notification.
    #[serde(default, deserialize_with = "timestamp")]
    pub timestamp: Option<i64>,
}

/// Any jobs message AWS publishes, by the topic it arrived on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// `get/accepted`.
    GetPendingAccepted(GetPendingAccepted),
    /// `start-next/accepted`.
    StartNextAccepted(ExecutionAccepted),
    /// `J/get/accepted` (J may be `$next`).
    DescribeAccepted(ExecutionAccepted),
    /// `J/update/accepted`.
    UpdateAccepted(UpdateAccepted),
    /// `.../rejected` of any operation.
    Rejected(Rejected),
    /// `notify`.
    JobExecutionsChanged(JobExecutionsChanged),
    /// `notify-next`.
    NextJobExecutionChanged(NextJobExecutionChanged),
}

/// Parses `payload` as the message AWS sends on a topic of `topic_type`/`reply_type` (as given
/// by [`super::topics::parse_topic`]).
///
/// # Errors
/// [`ResponseError::NotAResponse`] for request topics, `Unrecognized`/`Wildcard` types or
/// reply types; otherwise the error of the matching `parse` function.
pub fn parse_response(
    topic_type: TopicType,
    reply_type: ReplyType,
    payload: &[u8],
) -> Result<Response, ResponseError> {
    use ReplyType as R;
    use TopicType as T;
    match (topic_type, reply_type) {
        (T::GetPending | T::StartNext | T::Describe | T::Update, R::Rejected) => {
            Rejected::parse(payload).map(Response::Rejected)
        }
        (T::GetPending, R::Accepted) => {
            GetPendingAccepted::parse(payload).map(Response::GetPendingAccepted)
        }
        (T::StartNext, R::Accepted) => {
            ExecutionAccepted::parse(payload).map(Response::StartNextAccepted)
        }
        (T::Describe, R::Accepted) => {
            ExecutionAccepted::parse(payload).map(Response::DescribeAccepted)
        }
        (T::Update, R::Accepted) => UpdateAccepted::parse(payload).map(Response::UpdateAccepted),
        (T::Notify, R::Request) => {
            JobExecutionsChanged::parse(payload).map(Response::JobExecutionsChanged)
        }
        (T::NotifyNext, R::Request) => {
            NextJobExecutionChanged::parse(payload).map(Response::NextJobExecutionChanged)
        }
        _ => Err(ResponseError::NotAResponse {
            topic_type,
            reply_type,
        }),
    }
}

impl GetPendingAccepted {
    /// Parses a `get/accepted` payload.
    ///
    /// # Errors
    /// [`ResponseError::NotUtf8`], [`ResponseError::NotObject`] or [`ResponseError::Malformed`].
    pub fn parse(payload: &[u8]) -> Result<Self, ResponseError> {
        parse_object(payload).map(|(_, v)| v)
    }
}

impl ExecutionAccepted {
    /// Parses a `start-next/accepted` or `J/get/accepted` payload, with the job document.
    ///
    /// # Errors
    /// [`ResponseError::NotUtf8`], [`ResponseError::NotObject`] or [`ResponseError::Malformed`].
    pub fn parse(payload: &[u8]) -> Result<Self, ResponseError> {
        let (text, mut v): (_, Self) = parse_object(payload)?;
        attach_document(&mut v.execution, text);
        Ok(v)
    }
}

impl UpdateAccepted {
    /// Parses a `J/update/accepted` payload, with the job document when present.
    ///
    /// # Errors
    /// [`ResponseError::NotUtf8`], [`ResponseError::NotObject`] or [`ResponseError::Malformed`].
    pub fn parse(payload: &[u8]) -> Result<Self, ResponseError> {
        let (text, mut v): (_, Self) = parse_object(payload)?;
        v.job_document = raw_member(text, &["jobDocument"]).map(str::to_owned);
        Ok(v)
    }
}

impl Rejected {
    /// Parses a `.../rejected` payload; `code` is required.
    ///
    /// # Errors
    /// [`ResponseError::NotUtf8`], [`ResponseError::NotObject`] or [`ResponseError::Malformed`]
    /// (also when `code` is missing or not a string).
    pub fn parse(payload: &[u8]) -> Result<Self, ResponseError> {
        parse_object(payload).map(|(_, v)| v)
    }
}

impl JobExecutionsChanged {
    /// Parses a `notify` payload.
    ///
    /// # Errors
    /// [`ResponseError::NotUtf8`], [`ResponseError::NotObject`] or [`ResponseError::Malformed`].
    pub fn parse(payload: &[u8]) -> Result<Self, ResponseError> {
        parse_object(payload).map(|(_, v)| v)
    }
}

impl NextJobExecutionChanged {
    /// Parses a `notify-next` payload, with the job document.
    ///
    /// # Errors
    /// [`ResponseError::NotUtf8`], [`ResponseError::NotObject`] or [`ResponseError::Malformed`].
    pub fn parse(payload: &[u8]) -> Result<Self, ResponseError> {
        let (text, mut v): (_, Self) = parse_object(payload)?;
        attach_document(&mut v.execution, text);
        Ok(v)
    }
}

/// Checks UTF-8 and that the payload is an object, then deserializes it.
fn parse_object<T: serde::de::DeserializeOwned>(
    payload: &[u8],
) -> Result<(&str, T), ResponseError> {
    let text = std::str::from_utf8(payload).map_err(|e| ResponseError::NotUtf8 {
        valid_up_to: e.valid_up_to(),
    })?;
    if !text.trim_start().starts_with('{') {
        return Err(ResponseError::NotObject);
    }
    let value = serde_json::from_str(text).map_err(|e| ResponseError::Malformed {
        reason: e.to_string(),
    })?;
    Ok((text, value))
}

/// Fills `execution.job_document` from the payload text.
fn attach_document(execution: &mut Option<JobExecution>, text: &str) {
    if let Some(execution) = execution {
        execution.job_document = raw_member(text, &["execution", "jobDocument"]).map(str::to_owned);
    }
}

/// Deserializes an optional value, reading `null` as the default.
fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Option::<T>::deserialize(d).map(Option::unwrap_or_default)
}

/// Deserializes a status string (`null` → `NotSet`, unknown → `Unknown`).
fn status<'de, D: Deserializer<'de>>(d: D) -> Result<ExecutionStatus, D::Error> {
    let s = Option::<String>::deserialize(d)?;
    Ok(s.map_or(ExecutionStatus::NotSet, |s| {
        ExecutionStatus::from_wire(&s).unwrap_or(ExecutionStatus::Unknown)
    }))
}

/// Deserializes `statusDetails` in document order; values must be strings.
fn status_details<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(String, String)>, D::Error> {
    let map = Option::<OrderedMap<String>>::deserialize(d)?;
    Ok(map.map(|m| m.0).unwrap_or_default())
}

/// Deserializes the notify `jobs` map: status string → summaries, in document order.
fn jobs_by_status<'de, D>(
    d: D,
) -> Result<Vec<(ExecutionStatus, Vec<JobExecutionSummary>)>, D::Error>
where
    D: Deserializer<'de>,
{
    let map = Option::<OrderedMap<Option<Vec<JobExecutionSummary>>>>::deserialize(d)?;
    let pairs = map.map(|m| m.0).unwrap_or_default();
    Ok(pairs
        .into_iter()
        .map(|(status, list)| {
            (
                ExecutionStatus::from_wire(&status).unwrap_or(ExecutionStatus::Unknown),
                list.unwrap_or_default(),
            )
        })
        .collect())
}

/// Deserializes a whole number (JSON integer, whole float, or numeric string) that fits an i64.
fn counter<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    d.deserialize_any(IntVisitor {
        drop_fraction: false,
    })
}

/// Deserializes a timestamp like [`counter`], but drops a fractional part.
fn timestamp<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    d.deserialize_any(IntVisitor {
        drop_fraction: true,
    })
}

/// Reads an optional i64 from a number or a numeric string.
struct IntVisitor {
    /// Accept `1.5` as 1 (timestamps) instead of refusing it (counters).
    drop_fraction: bool,
}

impl IntVisitor {
    /// Converts a float, refusing non-finite ones, ones beyond ±2^53 (where floats stop being
    /// exact integers, so `-9223372036854775809` cannot pass as `i64::MIN`) and, unless allowed,
    /// fractional ones.
    fn convert_f64<E: de::Error>(&self, f: f64) -> Result<Option<i64>, E> {
        const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
        if !(f.is_finite() && f.abs() <= EXACT) {
            return Err(E::custom(format_args!(
                "number {f} is out of range for a 64-bit integer"
            )));
        }
        if f.fract() != 0.0 && !self.drop_fraction {
            return Err(E::custom(format_args!("number {f} is not a whole number")));
        }
        // In range and finite: the cast is exact after truncation.
        Ok(Some(f.trunc() as i64))
    }
}

impl<'de> Visitor<'de> for IntVisitor {
    type Value = Option<i64>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an integer or a numeric string")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        i64::try_from(v).map(Some).map_err(|_| {
            E::custom(format_args!(
                "number {v} is out of range for a 64-bit integer"
            ))
        })
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        self.convert_f64(v)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        if let Ok(n) = v.parse::<i64>() {
            return Ok(Some(n));
        }
        match v.parse::<f64>() {
            Ok(f)
                if !v.is_empty()
                    && v.bytes()
                        .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b)) =>
            {
                self.convert_f64(f)
            }
            _ => Err(E::custom(format_args!(
                "\"{}\" is not a number",
                v.escape_debug()
            ))),
        }
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// Returns the raw JSON text of the member at `path` (object keys from the top), or `None` when
/// a key is missing, a step is not an object, or the value is `null`. `json` must already be
/// valid JSON. When a key is repeated, the last occurrence wins (as serde_json's own map does).
fn raw_member<'a>(json: &'a str, path: &[&str]) -> Option<&'a str> {
    let mut span = (0, json.len());
    for key in path {
        span = object_member(json, span.0, key)?;
    }
    let raw = &json[span.0..span.1];
    (raw != "null").then_some(raw)
}

/// Returns the byte span of member `key` of the object starting at or after `start`.
fn object_member(json: &str, start: usize, key: &str) -> Option<(usize, usize)> {
    let mut pos = skip_ws(json, start);
    if json.as_bytes().get(pos) != Some(&b'{') {
        return None;
    }
    pos = skip_ws(json, pos + 1);
    if json.as_bytes().get(pos) == Some(&b'}') {
        return None;
    }
    let mut found = None;
    loop {
        let key_end = value_end(json, pos)?;
        let name: String = serde_json::from_str(&json[pos..key_end]).ok()?;
        pos = skip_ws(json, key_end);
        if json.as_bytes().get(pos) != Some(&b':') {
            return None;
        }
        let value_start = skip_ws(json, pos + 1);
        let end = value_end(json, value_start)?;
        if name == key {
            found = Some((value_start, end));
        }
        pos = skip_ws(json, end);
        match json.as_bytes().get(pos) {
            Some(b',') => pos = skip_ws(json, pos + 1),
            Some(b'}') => return found,
            _ => return None,
        }
    }
}

/// Returns the index of the first non-whitespace byte at or after `pos`.
fn skip_ws(json: &str, pos: usize) -> usize {
    let bytes = json.as_bytes();
    let mut pos = pos;
    while matches!(bytes.get(pos), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        pos += 1;
    }
    pos
}

/// Returns the end (exclusive) of the JSON value starting exactly at `start`.
fn value_end(json: &str, start: usize) -> Option<usize> {
    let rest = json.get(start..)?;
    let mut stream = serde_json::Deserializer::from_str(rest).into_iter::<IgnoredAny>();
    match stream.next() {
        Some(Ok(_)) => Some(start + stream.byte_offset()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(
        job_id: &str,
        queued: i64,
        updated: i64,
        execution: i64,
        version: i64,
    ) -> JobExecutionSummary {
        JobExecutionSummary {
            job_id: job_id.into(),
            queued_at: Some(queued),
            started_at: None,
            last_updated_at: Some(updated),
            version_number: Some(version),
            execution_number: Some(execution),
        }
    }

    fn malformed<T: std::fmt::Debug>(r: Result<T, ResponseError>) -> String {
        match r {
            Err(ResponseError::Malformed { reason }) => reason,
            other => panic!("expected Malformed, got {other:?}"),
        }
    }

    /// The `jobs/notify` example of the AWS developer guide (jobs-comm-notifications).
    const NOTIFY_DOC: &str = r#"{
  "timestamp" : 10011,
  "jobs" : {
    "IN_PROGRESS" : [ {
      "jobId" : "other-job",
      "queuedAt" : 10003,
      "lastUpdatedAt" : 10009,
      "executionNumber" : 1,
      "versionNumber" : 1
    } ],
    "QUEUED" : [ {
      "jobId" : "this-job",
      "queuedAt" : 10011,
      "lastUpdatedAt" : 10011,
      "executionNumber" : 1,
      "versionNumber" : 0
    } ]
  }
}"#;

    #[test]
    fn notify_doc_example() {
        let n = JobExecutionsChanged::parse(NOTIFY_DOC.as_bytes()).unwrap();
        assert_eq!(n.timestamp, Some(10011));
        assert_eq!(
            n.jobs,
            vec![
                (
                    ExecutionStatus::InProgress,
                    vec![summary("other-job", 10003, 10009, 1, 1)]
                ),
                (
                    ExecutionStatus::Queued,
                    vec![summary("this-job", 10011, 10011, 1, 0)]
                ),
            ]
        );
        assert_eq!(n.with_status(ExecutionStatus::Queued)[0].job_id, "this-job");
        assert!(n.with_status(ExecutionStatus::Failed).is_empty());
    }

    #[test]
    fn notify_with_started_job_and_empty_queue() {
        let n = JobExecutionsChanged::parse(
            br#"{"timestamp":1517189392,"jobs":{"IN_PROGRESS":[{"jobId":"job3","queuedAt":1517017905,"lastUpdatedAt":1517186779,"startedAt":1517186779,"executionNumber":1,"versionNumber":2}]}}"#,
        )
        .unwrap();
        let job3 = &n.with_status(ExecutionStatus::InProgress)[0];
        assert_eq!(job3.started_at, Some(1517186779));
        assert_eq!(job3.version_number, Some(2));
        let empty =
            JobExecutionsChanged::parse(br#"{"timestamp": 1517189551, "jobs": {}}"#).unwrap();
        assert_eq!(
            empty,
            JobExecutionsChanged {
                jobs: vec![],
                timestamp: Some(1517189551)
            }
        );
        let absent = JobExecutionsChanged::parse(br#"{"jobs":null}"#).unwrap();
        assert_eq!(
            absent,
            JobExecutionsChanged {
                jobs: vec![],
                timestamp: None
            }
        );
        let odd = JobExecutionsChanged::parse(br#"{"jobs":{"PAUSED":[]}}"#).unwrap();
        assert_eq!(odd.jobs, vec![(ExecutionStatus::Unknown, vec![])]);
    }

    #[test]
    fn notify_next_doc_examples() {
        let text = r#"{
  "timestamp": 1517186779,
  "execution": {
    "jobId": "job3",
    "status": "IN_PROGRESS",
    "queuedAt": 1517017905,
    "startedAt": 1517186779,
    "lastUpdatedAt": 1517186779,
    "versionNumber": 2,
    "executionNumber": 1,
    "jobDocument": {
      "operation": "test"
    }
  }
}"#;
        let n = NextJobExecutionChanged::parse(text.as_bytes()).unwrap();
        assert_eq!(n.timestamp, Some(1517186779));
        let e = n.execution.unwrap();
        assert_eq!(e.job_id, "job3");
        assert_eq!(e.status, ExecutionStatus::InProgress);
        assert_eq!(e.queued_at, Some(1517017905));
        assert_eq!(e.started_at, Some(1517186779));
        assert_eq!(e.last_updated_at, Some(1517186779));
        assert_eq!(e.version_number, Some(2));
        assert_eq!(e.execution_number, Some(1));
        assert_eq!(e.thing_name, None);
        // Kept byte for byte, whitespace included.
        assert_eq!(
            e.job_document.as_deref(),
            Some("{\n      \"operation\": \"test\"\n    }")
        );

        let compact = br#"{"timestamp":10011,"execution":{"jobId":"other-job","status":"IN_PROGRESS","queuedAt":10009,"lastUpdatedAt":10009,"versionNumber":1,"executionNumber":1,"jobDocument":{"c":"d"}}}"#;
        let e = NextJobExecutionChanged::parse(compact)
            .unwrap()
            .execution
            .unwrap();
        assert_eq!(e.job_document.as_deref(), Some(r#"{"c":"d"}"#));

        let drained = NextJobExecutionChanged::parse(br#"{"timestamp":1517189551}"#).unwrap();
        assert_eq!(
            drained,
            NextJobExecutionChanged {
                execution: None,
                timestamp: Some(1517189551)
            }
        );
    }

    #[test]
    fn get_pending_accepted_doc_example() {
        let text = br#"{
"inProgressJobs" : [ {"jobId":"a","queuedAt":1489096123309,"startedAt":1489096123400,"lastUpdatedAt":1489096123409,"versionNumber":2,"executionNumber":1} ],
"queuedJobs" : [ {"jobId":"b","queuedAt":1489096123500,"lastUpdatedAt":1489096123500,"versionNumber":1,"executionNumber":1}, {"jobId":"c"} ],
"timestamp" : 1489096425069,
"clientToken" : "client-001"
}"#;
        let g = GetPendingAccepted::parse(text).unwrap();
        assert_eq!(g.timestamp, Some(1489096425069));
        assert_eq!(g.client_token.as_deref(), Some("client-001"));
        assert_eq!(g.in_progress_jobs.len(), 1);
        assert_eq!(g.in_progress_jobs[0].started_at, Some(1489096123400));
        assert_eq!(
            g.queued_jobs[0],
            summary("b", 1489096123500, 1489096123500, 1, 1)
        );
        assert_eq!(
            g.queued_jobs[1],
            JobExecutionSummary {
                job_id: "c".into(),
                queued_at: None,
                started_at: None,
                last_updated_at: None,
                version_number: None,
                execution_number: None
            }
        );
        let none =
            GetPendingAccepted::parse(br#"{"timestamp":1,"inProgressJobs":[],"queuedJobs":null}"#)
                .unwrap();
        assert!(none.in_progress_jobs.is_empty() && none.queued_jobs.is_empty());
    }

    #[test]
    fn start_next_accepted_doc_example() {
        // The guide's example, minus its trailing comma (invalid JSON).
        let text = br#"{
"execution" : {
    "jobId" : "022",
    "thingName" : "MyThing",
    "jobDocument" : "< contents of job document >",
    "status" : "IN_PROGRESS",
    "queuedAt" : 1489096123309,
    "lastUpdatedAt" : 1489096123309,
    "versionNumber" : 1,
    "executionNumber" : 1234567890
},
"clientToken" : "client-1",
"timestamp" : 1489088524284
}"#;
        let a = ExecutionAccepted::parse(text).unwrap();
        assert_eq!(a.client_token.as_deref(), Some("client-1"));
        assert_eq!(a.timestamp, Some(1489088524284));
        let e = a.execution.unwrap();
        assert_eq!(e.job_id, "022");
        assert_eq!(e.thing_name.as_deref(), Some("MyThing"));
        assert_eq!(e.execution_number, Some(1234567890));
        assert_eq!(
            e.job_document.as_deref(),
            Some(r#""< contents of job document >""#)
        );
        assert!(e.status_details.is_empty());
    }

    #[test]
    fn describe_next_with_nothing_pending() {
        let a =
            ExecutionAccepted::parse(br#"{"timestamp":1489088524,"clientToken":"tok"}"#).unwrap();
        assert_eq!(
            a,
            ExecutionAccepted {
                execution: None,
                timestamp: Some(1489088524),
                client_token: Some("tok".into())
            }
        );
        let null_exec = ExecutionAccepted::parse(br#"{"execution":null}"#).unwrap();
        assert_eq!(null_exec.execution, None);
    }

    #[test]
    fn execution_status_details_keep_order_and_document_is_not_confused() {
        let text = br#"{"execution":{"jobId":"j","status":"SUCCEEDED","statusDetails":{"z":"1","jobDocument":"fake","a":"2"},"jobDocument":{"b":[1,2,{"c":null}],"a":"x"},"approximateSecondsBeforeTimedOut":120}}"#;
        let e = ExecutionAccepted::parse(text).unwrap().execution.unwrap();
        assert_eq!(e.status, ExecutionStatus::Succeeded);
        let keys: Vec<_> = e
            .status_details
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(keys, [("z", "1"), ("jobDocument", "fake"), ("a", "2")]);
        assert_eq!(
            e.job_document.as_deref(),
            Some(r#"{"b":[1,2,{"c":null}],"a":"x"}"#)
        );
        assert_eq!(e.approximate_seconds_before_timed_out, Some(120));
    }

    #[test]
    fn job_document_edge_cases() {
        let doc = |text: &str| {
            ExecutionAccepted::parse(text.as_bytes())
                .unwrap()
                .execution
                .unwrap()
                .job_document
        };
        assert_eq!(
            doc(r#"{"execution":{"jobId":"j","jobDocument":null}}"#),
            None
        );
        assert_eq!(doc(r#"{"execution":{"jobId":"j"}}"#), None);
        assert_eq!(
            doc(r#"{"execution":{"jobId":"j","jobDocument":12.5e3}}"#).as_deref(),
            Some("12.5e3")
        );
        // Big integers survive untouched (no float round trip).
        assert_eq!(
            doc(
                r#"{"execution":{"jobId":"j","jobDocument":{"n":123456789012345678901234567890}}}"#
            )
            .as_deref(),
            Some(r#"{"n":123456789012345678901234567890}"#)
        );
        // An escaped key still names the member, and the last duplicate wins.
        assert_eq!(
            doc(r#"{"execution":{"jobId":"j","job\u0044ocument":{"v":1},"jobDocument":{"v":2}}}"#)
                .as_deref(),
            Some(r#"{"v":2}"#)
        );
        // Strings with braces, quotes and escapes inside the document.
        assert_eq!(
            doc(r#"{"execution":{"jobId":"j","jobDocument":{"s":"}\"{,:"}}}"#).as_deref(),
            Some(r#"{"s":"}\"{,:"}"#)
        );
        // A top-level jobDocument is not the execution's.
        assert_eq!(
            doc(r#"{"jobDocument":{"x":1},"execution":{"jobId":"j"}}"#),
            None
        );
    }

    #[test]
    fn update_accepted_with_and_without_extras() {
        let text = br#"{"executionState":{"status":"IN_PROGRESS","statusDetails":{"progress":"50%"},"versionNumber":3},"jobDocument":{"operation":"reboot"},"timestamp":1517186779,"clientToken":"tok"}"#;
        let u = UpdateAccepted::parse(text).unwrap();
        assert_eq!(
            u.execution_state,
            Some(JobExecutionState {
                status: ExecutionStatus::InProgress,
                status_details: vec![("progress".into(), "50%".into())],
                version_number: Some(3)
            })
        );
        assert_eq!(u.job_document.as_deref(), Some(r#"{"operation":"reboot"}"#));
        assert_eq!(u.timestamp, Some(1517186779));
        assert_eq!(u.client_token.as_deref(), Some("tok"));
        let bare =
            UpdateAccepted::parse(br#"{"timestamp":1517186779,"clientToken":"tok"}"#).unwrap();
        assert_eq!(bare.execution_state, None);
        assert_eq!(bare.job_document, None);
    }

    #[test]
    fn rejected_codes() {
        for code in RejectedCode::KNOWN {
            let text = format!(
                r#"{{"code":"{}","message":"m","clientToken":"tok","timestamp":5}}"#,
                code.as_str()
            );
            let r = Rejected::parse(text.as_bytes()).unwrap();
            assert_eq!(r.code, code);
            assert_eq!(r.message.as_deref(), Some("m"));
            assert_eq!(r.client_token.as_deref(), Some("tok"));
            assert_eq!(r.timestamp, Some(5));
            assert_eq!(r.execution_state, None);
        }
        let names: Vec<_> = RejectedCode::KNOWN
            .iter()
            .map(RejectedCode::as_str)
            .collect();
        assert_eq!(
            names,
            [
                "InvalidTopic",
                "InvalidJson",
                "InvalidRequest",
                "InvalidStateTransition",
                "ResourceNotFound",
                "VersionMismatch",
                "InternalError",
                "RequestThrottled",
                "TerminalStateReached"
            ]
        );
        let other = Rejected::parse(br#"{"code":"SomethingNew"}"#).unwrap();
        assert_eq!(other.code, RejectedCode::Other("SomethingNew".into()));
        assert_eq!(other.code.as_str(), "SomethingNew");
        assert_eq!(
            RejectedCode::from_wire("versionmismatch"),
            RejectedCode::Other("versionmismatch".into())
        );
    }

    #[test]
    fn rejected_version_mismatch_carries_state() {
        let text = br#"{"code":"VersionMismatch","message":"The expected version 1 does not match the current version 2","clientToken":"tok","timestamp":1517186779,"executionState":{"status":"IN_PROGRESS","versionNumber":2}}"#;
        let r = Rejected::parse(text).unwrap();
        assert_eq!(r.code, RejectedCode::VersionMismatch);
        let state = r.execution_state.unwrap();
        assert_eq!(state.status, ExecutionStatus::InProgress);
        assert_eq!(state.version_number, Some(2));
        assert!(state.status_details.is_empty());
        let missing_status = br#"{"code":"InvalidRequest","message":"Value null at 'status' failed to satisfy constraint: Member must not be null"}"#;
        let r = Rejected::parse(missing_status).unwrap();
        assert_eq!(r.code, RejectedCode::InvalidRequest);
        assert!(r.message.unwrap().contains("Member must not be null"));
    }

    #[test]
    fn rejected_without_code_is_an_error() {
        let reason = malformed(Rejected::parse(br#"{"message":"m"}"#));
        assert!(reason.contains("missing field `code`"), "{reason}");
        malformed(Rejected::parse(br#"{"code":7}"#));
    }

    #[test]
    fn numbers_may_be_numeric_strings() {
        let text = br#"{"execution":{"jobId":"j","versionNumber":"3","executionNumber":"12","queuedAt":"1517016947","startedAt":1517016948.75,"lastUpdatedAt":"1517016949.5"},"timestamp":"1517016950"}"#;
        let a = ExecutionAccepted::parse(text).unwrap();
        assert_eq!(a.timestamp, Some(1517016950));
        let e = a.execution.unwrap();
        assert_eq!(e.version_number, Some(3));
        assert_eq!(e.execution_number, Some(12));
        assert_eq!(e.queued_at, Some(1517016947));
        assert_eq!(e.started_at, Some(1517016948));
        assert_eq!(e.last_updated_at, Some(1517016949));
        let whole = ExecutionAccepted::parse(
            br#"{"execution":{"jobId":"j","versionNumber":2.0,"executionNumber":-1}}"#,
        )
        .unwrap();
        assert_eq!(whole.execution.as_ref().unwrap().version_number, Some(2));
        assert_eq!(whole.execution.unwrap().execution_number, Some(-1));
        let nulls = ExecutionAccepted::parse(
            br#"{"execution":{"jobId":"j","versionNumber":null},"timestamp":null}"#,
        )
        .unwrap();
        assert_eq!(nulls.timestamp, None);
        assert_eq!(nulls.execution.unwrap().version_number, None);
        let max = format!(r#"{{"timestamp":{}}}"#, i64::MAX);
        assert_eq!(
            ExecutionAccepted::parse(max.as_bytes()).unwrap().timestamp,
            Some(i64::MAX)
        );
    }

    #[test]
    fn out_of_range_or_non_numeric_numbers_are_errors() {
        for bad in [
            "99999999999999999999",
            "9223372036854775808",
            "-9223372036854775809",
            "1e300",
            "-1e19",
            "1.5",
            "\"1.5\"",
            "\"abc\"",
            "\"12abc\"",
            "\"\"",
            "\"NaN\"",
            "\"inf\"",
            "\"1e400\"",
            "true",
            "[1]",
            "{}",
        ] {
            let text = format!(r#"{{"execution":{{"jobId":"j","versionNumber":{bad}}}}}"#);
            let reason = malformed(ExecutionAccepted::parse(text.as_bytes()));
            assert!(reason.contains("line 1"), "{bad}: {reason}");
        }
        for bad in ["1e300", "\"x\"", "false", "18446744073709551615"] {
            let text = format!(r#"{{"timestamp":{bad}}}"#);
            malformed(NextJobExecutionChanged::parse(text.as_bytes()));
        }
    }

    #[test]
    fn statuses() {
        let status = |s: &str| {
            let text = format!(r#"{{"executionState":{{"status":{s}}}}}"#);
            UpdateAccepted::parse(text.as_bytes()).map(|u| u.execution_state.unwrap().status)
        };
        assert_eq!(status("\"TIMED_OUT\""), Ok(ExecutionStatus::TimedOut));
        assert_eq!(status("\"REMOVED\""), Ok(ExecutionStatus::Removed));
        assert_eq!(status("\"CANCELED\""), Ok(ExecutionStatus::Canceled));
        assert_eq!(status("\"PAUSED\""), Ok(ExecutionStatus::Unknown));
        assert_eq!(status("null"), Ok(ExecutionStatus::NotSet));
        malformed(status("2"));
        malformed(status("{}"));
    }

    #[test]
    fn wrong_types_are_errors() {
        let cases: [&[u8]; 12] = [
            br#"{"execution":"x"}"#,
            br#"{"execution":{"jobId":5}}"#,
            br#"{"execution":{"status":"QUEUED"}}"#,
            br#"{"execution":{"jobId":"j","statusDetails":{"k":1}}}"#,
            br#"{"execution":{"jobId":"j","statusDetails":["k","v"]}}"#,
            br#"{"execution":{"jobId":"j","thingName":false}}"#,
            br#"{"execution":[]}"#,
            br#"{"clientToken":5}"#,
            br#"{"execution":{"jobId":"j"}"#,
            br#"{"execution":{"jobId":"j"}} trailing"#,
            br#"{"timestamp":1,}"#,
            br#"{"a":1 "b":2}"#,
        ];
        for text in cases {
            malformed(ExecutionAccepted::parse(text));
        }
        malformed(GetPendingAccepted::parse(
            br#"{"queuedJobs":{"jobId":"a"}}"#,
        ));
        malformed(GetPendingAccepted::parse(
            br#"{"queuedJobs":[{"queuedAt":1}]}"#,
        ));
        malformed(JobExecutionsChanged::parse(
            br#"{"jobs":{"QUEUED":{"jobId":"a"}}}"#,
        ));
        malformed(JobExecutionsChanged::parse(br#"{"jobs":[]}"#));
        malformed(UpdateAccepted::parse(
            br#"{"executionState":"IN_PROGRESS"}"#,
        ));
    }

    #[test]
    fn non_json_and_non_objects_are_errors() {
        assert_eq!(
            ExecutionAccepted::parse(b"").unwrap_err(),
            ResponseError::NotObject
        );
        assert_eq!(
            ExecutionAccepted::parse(b"   ").unwrap_err(),
            ResponseError::NotObject
        );
        assert_eq!(
            ExecutionAccepted::parse(b"not json").unwrap_err(),
            ResponseError::NotObject
        );
        for text in ["[]", "5", "\"s\"", "null", "true"] {
            assert_eq!(
                Rejected::parse(text.as_bytes()).unwrap_err(),
                ResponseError::NotObject,
                "{text}"
            );
        }
        assert_eq!(
            ExecutionAccepted::parse(b"{\"clientToken\":\"a\xff\"}").unwrap_err(),
            ResponseError::NotUtf8 { valid_up_to: 17 }
        );
        malformed(ExecutionAccepted::parse(b"{"));
        malformed(ExecutionAccepted::parse(b"{'a':1}"));
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let text = br#"{"future":{"deep":[1,{"x":null}]},"execution":{"jobId":"j","newField":[true],"status":"QUEUED"},"timestamp":3,"other":"x"}"#;
        let a = ExecutionAccepted::parse(text).unwrap();
        assert_eq!(a.execution.unwrap().status, ExecutionStatus::Queued);
        assert_eq!(a.timestamp, Some(3));
    }

    #[test]
    fn deep_nesting_never_crashes() {
        // serde_json skips unknown values without recursion, so a deep job document is kept.
        let inner = format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000));
        let deep = format!(r#"{{"execution":{{"jobId":"j","jobDocument":{inner}}}}}"#);
        let e = ExecutionAccepted::parse(deep.as_bytes())
            .unwrap()
            .execution
            .unwrap();
        assert_eq!(e.job_document.as_deref(), Some(inner.as_str()));
        // Typed fields are depth-limited by serde_json: an error, not a stack overflow.
        let details = format!(r#"{{"execution":{{"jobId":"j","statusDetails":{{"k":{inner}}}}}}}"#);
        malformed(ExecutionAccepted::parse(details.as_bytes()));
        let open = "{\"a\":".repeat(50_000);
        malformed(NextJobExecutionChanged::parse(open.as_bytes()));
    }

    #[test]
    fn truncated_and_corrupted_payloads_never_panic() {
        let full = br#"{"timestamp":1517186779,"execution":{"jobId":"job3","status":"IN_PROGRESS","statusDetails":{"a":"b"},"queuedAt":1517017905,"versionNumber":"2","executionNumber":1,"jobDocument":{"operation":"test","n":[1,2.5,"x\"y"]}}}"#;
        assert!(NextJobExecutionChanged::parse(full).is_ok());
        for cut in 0..full.len() {
            assert!(
                NextJobExecutionChanged::parse(&full[..cut]).is_err(),
                "prefix {cut} parsed"
            );
        }
        let mut oks = 0;
        for i in 0..full.len() {
            for replacement in [b'"', b'{', b'}', b',', b':', b'\\', b'0', 0xff] {
                let mut bytes = full.to_vec();
                bytes[i] = replacement;
                for parsed in [
                    parse_response(TopicType::NotifyNext, ReplyType::Request, &bytes).is_ok(),
                    parse_response(TopicType::Update, ReplyType::Accepted, &bytes).is_ok(),
                    parse_response(TopicType::Notify, ReplyType::Request, &bytes).is_ok(),
                    parse_response(TopicType::Describe, ReplyType::Rejected, &bytes).is_ok(),
                ] {
                    oks += usize::from(parsed);
                }
            }
        }
        // Some corruptions still parse (e.g. inside a string); the point is that none panicked.
        assert!(oks > 0);
    }

    #[test]
    fn parse_response_dispatches_by_topic() {
        let exec = br#"{"execution":{"jobId":"j"},"timestamp":1}"#;
        assert!(matches!(
            parse_response(TopicType::StartNext, ReplyType::Accepted, exec),
            Ok(Response::StartNextAccepted(ExecutionAccepted {
                execution: Some(_),
                ..
            }))
        ));
        assert!(matches!(
            parse_response(TopicType::Describe, ReplyType::Accepted, exec),
            Ok(Response::DescribeAccepted(ExecutionAccepted {
                execution: Some(_),
                ..
            }))
        ));
        assert!(matches!(
            parse_response(TopicType::NotifyNext, ReplyType::Request, exec),
            Ok(Response::NextJobExecutionChanged(NextJobExecutionChanged {
                execution: Some(_),
                ..
            }))
        ));
        assert!(matches!(
            parse_response(TopicType::GetPending, ReplyType::Accepted, br#"{"queuedJobs":[{"jobId":"q"}]}"#),
            Ok(Response::GetPendingAccepted(g)) if g.queued_jobs[0].job_id == "q"
        ));
        assert!(matches!(
            parse_response(TopicType::Update, ReplyType::Accepted, br#"{"jobDocument":{}}"#),
            Ok(Response::UpdateAccepted(u)) if u.job_document.as_deref() == Some("{}")
        ));
        assert!(matches!(
            parse_response(TopicType::Notify, ReplyType::Request, NOTIFY_DOC.as_bytes()),
            Ok(Response::JobExecutionsChanged(n)) if n.jobs.len() == 2
        ));
        for t in [
            TopicType::GetPending,
            TopicType::StartNext,
            TopicType::Describe,
            TopicType::Update,
        ] {
            assert!(matches!(
                parse_response(t, ReplyType::Rejected, br#"{"code":"ResourceNotFound"}"#),
                Ok(Response::Rejected(Rejected {
                    code: RejectedCode::ResourceNotFound,
                    ..
                }))
            ));
        }
        let mut refused = 0;
        for t in TopicType::ALL {
            for r in ReplyType::ALL {
                if let Err(ResponseError::NotAResponse {
                    topic_type,
                    reply_type,
                }) = parse_response(*t, *r, b"{}")
                {
                    assert_eq!((topic_type, reply_type), (*t, *r));
                    refused += 1;
                }
            }
        }
        // 40 pairs minus the 10 that carry responses (4 accepted, 4 rejected, 2 notifications).
        assert_eq!(refused, 30);
    }

    #[test]
    fn error_messages() {
        assert_eq!(
            ResponseError::NotObject.to_string(),
            "jobs response is not a JSON object"
        );
        assert_eq!(
            ResponseError::NotUtf8 { valid_up_to: 3 }.to_string(),
            "jobs response is not UTF-8 (invalid byte at offset 3)"
        );
        let err = ExecutionAccepted::parse(br#"{"execution":{"jobId":"j","versionNumber":1.5}}"#)
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("malformed jobs response: number 1.5 is not a whole number"),
            "{err}"
        );
        let err = parse_response(TopicType::Update, ReplyType::Request, b"{}").unwrap_err();
        assert_eq!(
            err.to_string(),
            "topic type 4 with reply type 1 carries no jobs response"
        );
        assert_eq!(
            ResponseError::NotAJobsTopic.to_string(),
            "the topic is not an AWS IoT Jobs topic; no jobs response is parsed"
        );
    }
}
