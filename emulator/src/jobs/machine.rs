//! The AWS IoT Jobs state machine: pure logic, no I/O, no clock (callers pass `now` in seconds).
//!
//! Semantics follow `docs/jobs-protocol.md`. Every request yields one reply (`…/accepted` or
//! `…/rejected`, to the requester only) plus the notifications AWS would publish:
//! - `jobs/notify` (ListNotification) whenever an execution of the thing is queued or changes
//!   status (to any status). Not sent for an IN_PROGRESS → IN_PROGRESS progress update.
//! - `jobs/notify-next` (NextNotification) whenever the head of the thing's pending list changes
//!   (IN_PROGRESS first, then QUEUED, each in queue order); `{ "timestamp" }` alone when the list
//!   becomes empty. Not sent when only the head's details change.
//!
//! Choices where AWS's documentation leaves room (documented, tested):
//! - An empty payload is `{}` (AWS answers an empty `$next/get` with `{"timestamp":…}`); a
//!   payload that is not JSON is `InvalidJson`; JSON that is not an object is `InvalidRequest`.
//! - Check order: throttling, topic, JSON, field validation, job id pattern, resource
//!   (+ executionNumber), `expectedVersion` (VersionMismatch), then the transition.
//! - Update to a status a device may not set (QUEUED, CANCELED, TIMED_OUT, REMOVED) and any update
//!   of a terminal execution is `InvalidStateTransition` with `executionState`; an unknown status
//!   string is `InvalidRequest`.
//! - Describe of an execution that is CANCELED or REMOVED (its job or target was withdrawn) is
//!   `TerminalStateReached`; describing a SUCCEEDED/FAILED/REJECTED/TIMED_OUT execution succeeds.
//! - `stepTimeoutInMinutes`: 1–10080 on StartNext (applied when it starts a QUEUED execution) and
//!   on Update, where -1 cancels the timer. Reaching a terminal status cancels it.
//! - `executionNumber` and `expectedVersion` are accepted as JSON numbers or digit strings;
//!   an `executionNumber` that does not match is `ResourceNotFound`.
//! - Pending lists (GetPending, notify) hold at most 10 executions, IN_PROGRESS first.
//! - Every thing exists (there is no registry): a thing without executions has nothing pending.
//!
//! Retries (`jobExecutionsRetryConfig`, [`RetryConfig`]): when an execution ends FAILED (set by
//! the device) or TIMED_OUT (step or in-progress timer) and the job's criteria allow it, a new
//! execution of the job is queued for the thing: `executionNumber` one higher, version 1, fresh
//! `queuedAt`, no statusDetails. Choices where AWS's documentation leaves room:
//! - The retry is queued at once, after the notifications of the ending (so a device sees the
//!   execution end, then a newly queued one: `notify`, and `notify-next` when the head changes).
//!   It queues behind the thing's other QUEUED executions, as its fresh `queuedAt` says.
//! - A criterion counts retries of its own failure type; `ALL` stands for each type that has no
//!   criterion of its own, and those types share its count. Whatever the types, a thing gets at
//!   most as many retries as the largest `numberOfRetries` (N retries: N + 1 executions).
//! - The numbers of one job's criteria add up to at most 10 (AWS: "up to 10 retries for both
//!   failure types combined"); a failure type appears at most once.
//! - No retry once the job is canceled or the thing is no longer a target.
//! - Older executions stay readable: DescribeJobExecution and UpdateJobExecution with their
//!   `executionNumber` (an update of one is `InvalidStateTransition`, they are terminal); without
//!   it, requests address the latest execution.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

/// Most pending executions listed by GetPending and `notify`.
pub const MAX_PENDING_LISTED: usize = 10;
/// statusDetails limits (docs/jobs-protocol.md, 'statusDetails').
pub const MAX_DETAILS: usize = 10;
pub const MAX_DETAIL_KEY: usize = 128;
pub const MAX_DETAIL_VALUE: usize = 1024;
pub const MAX_CLIENT_TOKEN: usize = 64;
pub const MAX_JOB_DOCUMENT: usize = 32768;
pub const MAX_STEP_TIMEOUT: i64 = 10080;

/// Job execution status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Queued,
    InProgress,
    Succeeded,
    Failed,
    TimedOut,
    Rejected,
    Removed,
    Canceled,
}

impl Status {
    pub const ALL: [Status; 8] = [
        Status::Queued,
        Status::InProgress,
        Status::Succeeded,
        Status::Failed,
        Status::TimedOut,
        Status::Rejected,
        Status::Removed,
        Status::Canceled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "QUEUED",
            Status::InProgress => "IN_PROGRESS",
            Status::Succeeded => "SUCCEEDED",
            Status::Failed => "FAILED",
            Status::TimedOut => "TIMED_OUT",
            Status::Rejected => "REJECTED",
            Status::Removed => "REMOVED",
            Status::Canceled => "CANCELED",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|x| x.as_str() == s)
    }

    pub fn is_terminal(self) -> bool {
        !matches!(self, Status::Queued | Status::InProgress)
    }

    /// Statuses a device may set with UpdateJobExecution.
    pub fn device_settable(self) -> bool {
        matches!(
            self,
            Status::InProgress | Status::Succeeded | Status::Failed | Status::Rejected
        )
    }
}

/// Rejection codes (ErrorResponse.code).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    InvalidTopic,
    InvalidJson,
    InvalidRequest,
    InvalidStateTransition,
    ResourceNotFound,
    VersionMismatch,
    InternalError,
    RequestThrottled,
    TerminalStateReached,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::InvalidTopic => "InvalidTopic",
            Code::InvalidJson => "InvalidJson",
            Code::InvalidRequest => "InvalidRequest",
            Code::InvalidStateTransition => "InvalidStateTransition",
            Code::ResourceNotFound => "ResourceNotFound",
            Code::VersionMismatch => "VersionMismatch",
            Code::InternalError => "InternalError",
            Code::RequestThrottled => "RequestThrottled",
            Code::TerminalStateReached => "TerminalStateReached",
        }
    }
}

/// A message the service publishes.
#[derive(Clone, Debug, PartialEq)]
pub struct Msg {
    pub topic: String,
    pub payload: Value,
}

/// Which timer: the execution's step timer or the job's in-progress timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimerKind {
    Step,
    InProgress,
}

/// A timer to arm: after `minutes` "minutes", call [`Jobs::timer_fired`] with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimerReq {
    pub kind: TimerKind,
    pub thing: String,
    pub job_id: String,
    /// What must still match when it fires: the execution's step-timer generation (Step), or
    /// its execution number (InProgress).
    pub generation: u64,
    pub minutes: i64,
}

/// Most retries per failure type, and for all types of one job together.
pub const MAX_RETRIES: u32 = 10;

/// A job's `jobExecutionsRetryConfig`: `numberOfRetries` per failure type (`None`: no criterion
/// for that type). The default retries nothing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RetryConfig {
    /// `failureType: "FAILED"`.
    pub failed: Option<u32>,
    /// `failureType: "TIMED_OUT"`.
    pub timed_out: Option<u32>,
    /// `failureType: "ALL"`: for each type without a criterion of its own.
    pub all: Option<u32>,
}

/// The failure types of a retry criterion, in AWS's spelling.
const FAILURE_TYPES: [&str; 3] = ["FAILED", "TIMED_OUT", "ALL"];

impl RetryConfig {
    pub fn is_empty(&self) -> bool {
        *self == RetryConfig::default()
    }

    fn slot(&mut self, failure_type: &str) -> Option<&mut Option<u32>> {
        match failure_type {
            "FAILED" => Some(&mut self.failed),
            "TIMED_OUT" => Some(&mut self.timed_out),
            "ALL" => Some(&mut self.all),
            _ => None,
        }
    }

    /// Adds one criterion; an unknown or repeated failure type is an error.
    pub fn set(&mut self, failure_type: &str, retries: u64) -> Result<(), String> {
        let slot = self.slot(failure_type).ok_or_else(|| {
            format!(
                "bad retry failure type {failure_type:?}: one of {}",
                FAILURE_TYPES.join(", ")
            )
        })?;
        if slot.is_some() {
            return Err(format!("retry failure type {failure_type} given twice"));
        }
        let n = u32::try_from(retries)
            .ok()
            .filter(|n| *n <= MAX_RETRIES)
            .ok_or_else(|| {
                format!("bad number of retries {retries} for {failure_type}: 0-{MAX_RETRIES}")
            })?;
        *slot = Some(n);
        Ok(())
    }

    /// Parses `{"FAILED": 2, "TIMED_OUT": 1}` or AWS's
    /// `{"criteriaList": [{"failureType": "FAILED", "numberOfRetries": 2}, …]}`.
    pub fn from_json(v: &Value) -> Result<RetryConfig, String> {
        let m = v
            .as_object()
            .ok_or("retry must be an object: {\"FAILED\":N,…} or {\"criteriaList\":[…]}")?;
        let mut c = RetryConfig::default();
        let number = |v: Option<&Value>, what: &str| {
            v.and_then(Value::as_u64)
                .ok_or_else(|| format!("bad number of retries for {what}: 0-{MAX_RETRIES}"))
        };
        if let Some(list) = m.get("criteriaList") {
            if m.len() > 1 {
                return Err("retry with criteriaList has no other members".into());
            }
            let list = list
                .as_array()
                .filter(|l| (1..=2).contains(&l.len()))
                .ok_or("retry criteriaList must be an array of 1 or 2 criteria")?;
            for cr in list {
                let ty = cr
                    .get("failureType")
                    .and_then(Value::as_str)
                    .ok_or("each retry criterion needs a failureType string")?;
                c.set(ty, number(cr.get("numberOfRetries"), ty)?)?;
            }
        } else {
            for (ty, n) in m {
                c.set(ty, number(Some(n), ty)?)?;
            }
        }
        c.validate()?;
        Ok(c)
    }

    /// AWS's form, `{"criteriaList": [...]}`, in the order FAILED, TIMED_OUT, ALL.
    pub fn to_json(&self) -> Value {
        let list: Vec<Value> = FAILURE_TYPES
            .iter()
            .zip([self.failed, self.timed_out, self.all])
            .filter_map(|(ty, n)| n.map(|n| json!({"failureType": ty, "numberOfRetries": n})))
            .collect();
        json!({ "criteriaList": list })
    }

    /// Limits AWS documents: each type 0-10, at most 10 for all types together.
    pub fn validate(&self) -> Result<(), String> {
        let ns = [self.failed, self.timed_out, self.all];
        if let Some(n) = ns.iter().flatten().find(|n| **n > MAX_RETRIES) {
            return Err(format!("bad number of retries {n}: 0-{MAX_RETRIES}"));
        }
        let sum: u32 = ns.iter().flatten().sum();
        if sum > MAX_RETRIES {
            return Err(format!(
                "bad retry config: {sum} retries in all, at most {MAX_RETRIES} for all failure types together"
            ));
        }
        if self.all.is_some() && self.failed.is_some() && self.timed_out.is_some() {
            return Err("bad retry config: at most 2 criteria".into());
        }
        Ok(())
    }

    /// The criterion that governs an ending in `status` (FAILED or TIMED_OUT), as (its failure
    /// type, numberOfRetries): the status's own, else ALL.
    fn criterion(&self, status: Status) -> Option<(&'static str, u32)> {
        let (ty, own) = match status {
            Status::Failed => ("FAILED", self.failed),
            Status::TimedOut => ("TIMED_OUT", self.timed_out),
            _ => return None,
        };
        match (own, self.all) {
            (Some(n), _) => Some((ty, n)),
            (None, Some(n)) => Some(("ALL", n)),
            (None, None) => None,
        }
    }

    /// Whether an execution that just ended with `status` gets another attempt, given the
    /// statuses of the earlier executions that were retried already.
    fn allows(&self, status: Status, retried: &[Status]) -> bool {
        let Some((which, n)) = self.criterion(status) else {
            return false;
        };
        let same = retried
            .iter()
            .filter(|s| self.criterion(**s).map(|c| c.0) == Some(which))
            .count();
        let most = [self.failed, self.timed_out, self.all]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(0);
        same < n as usize && retried.len() < most as usize
    }
}

/// Job options beyond the document and targets.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JobOptions {
    /// `timeoutConfig.inProgressTimeoutInMinutes`: an execution still IN_PROGRESS this long
    /// after it started becomes TIMED_OUT (1–10080).
    pub in_progress_timeout_minutes: Option<i64>,
    /// `jobExecutionsRetryConfig`: FAILED and TIMED_OUT executions queue a new attempt.
    pub retry: RetryConfig,
}

/// The result of one device request.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// The reply for the requester (None only for topics outside the Jobs namespace).
    pub reply: Option<Msg>,
    /// Rejection code when the reply is a rejection.
    pub rejected: Option<Code>,
    /// Notifications for subscribers (notify, notify-next).
    pub notifications: Vec<Msg>,
    pub timers: Vec<TimerReq>,
}

/// One job execution (one job on one thing).
#[derive(Clone, Debug)]
pub struct Execution {
    pub job_id: String,
    pub thing: String,
    pub status: Status,
    pub details: BTreeMap<String, String>,
    pub queued_at: i64,
    pub started_at: Option<i64>,
    pub last_updated_at: i64,
    pub version: u64,
    pub execution_number: u64,
    /// Queue order.
    pub seq: u64,
    /// Step timer: deadline in seconds and the generation that must match when it fires.
    pub step_deadline: Option<i64>,
    pub timer_gen: u64,
    /// Job-level in-progress timer deadline in seconds.
    pub ip_deadline: Option<i64>,
}

/// A job.
#[derive(Clone, Debug)]
pub struct Job {
    pub id: String,
    pub document: Value,
    pub targets: Vec<String>,
    pub canceled: bool,
    pub created_at: i64,
    /// Creation order.
    pub seq: u64,
    pub options: JobOptions,
}

/// The parsed request topic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    GetPending,
    StartNext,
    Describe(String),
    Update(String),
}

/// Splits `$aws/things/{thing}/jobs/{rest}`. `None` when outside the Jobs namespace;
/// `Some((thing, Err(())))` for a Jobs-namespace topic that maps to no API.
pub fn parse_topic(topic: &str) -> Option<(String, Result<Op, ()>)> {
    let rest = topic.strip_prefix("$aws/things/")?;
    let (thing, rest) = rest.split_once('/')?;
    let rest = rest.strip_prefix("jobs/")?;
    let parts: Vec<&str> = rest.split('/').collect();
    let op = match parts.as_slice() {
        ["get"] => Ok(Op::GetPending),
        ["start-next"] => Ok(Op::StartNext),
        [j, "get"] if !j.is_empty() => Ok(Op::Describe(j.to_string())),
        [j, "update"] if !j.is_empty() => Ok(Op::Update(j.to_string())),
        _ => Err(()),
    };
    Some((thing.to_string(), op))
}

pub fn valid_thing_name(s: &str) -> bool {
    (1..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b':' || b == b'_' || b == b'-')
}

pub fn valid_job_id(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn valid_detail_key(s: &str) -> bool {
    (1..=MAX_DETAIL_KEY).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b':' || b == b'_' || b == b'-')
}

struct Reject(Code, String);

type R<T> = Result<T, Reject>;

fn invalid(msg: impl Into<String>) -> Reject {
    Reject(Code::InvalidRequest, msg.into())
}

/// Parsed common request fields.
#[derive(Default)]
struct Req {
    client_token: Option<String>,
    obj: Map<String, Value>,
}

fn parse_payload(payload: &[u8]) -> R<Req> {
    let obj = if payload.iter().all(|b| b.is_ascii_whitespace()) {
        Map::new()
    } else {
        let text = std::str::from_utf8(payload).map_err(|_| {
            Reject(
                Code::InvalidJson,
                "Request payload is not valid UTF-8".into(),
            )
        })?;
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(m)) => m,
            Ok(_) => return Err(invalid("Request payload must be a JSON object")),
            Err(e) => return Err(Reject(Code::InvalidJson, format!("Invalid JSON: {e}"))),
        }
    };
    let client_token = match obj.get("clientToken") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.len() <= MAX_CLIENT_TOKEN => Some(s.clone()),
        Some(Value::String(_)) => {
            return Err(invalid(format!(
                "clientToken must be at most {MAX_CLIENT_TOKEN} bytes"
            )))
        }
        Some(_) => return Err(invalid("clientToken must be a string")),
    };
    Ok(Req { client_token, obj })
}

impl Req {
    fn bool_field(&self, k: &str) -> R<Option<bool>> {
        match self.obj.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(invalid(format!("{k} must be a boolean"))),
        }
    }

    /// A non-negative integer given as a JSON number or a string of digits.
    fn number_field(&self, k: &str) -> R<Option<u64>> {
        match self.obj.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n
                .as_u64()
                .map(Some)
                .ok_or_else(|| invalid(format!("{k} must be a non-negative integer"))),
            Some(Value::String(s)) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => s
                .parse::<u64>()
                .map(Some)
                .map_err(|_| invalid(format!("{k} is out of range"))),
            Some(_) => Err(invalid(format!("{k} must be a number"))),
        }
    }

    fn step_timeout(&self, allow_minus_one: bool) -> R<Option<i64>> {
        let v = match self.obj.get("stepTimeoutInMinutes") {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::Number(n)) => n.as_i64(),
            Some(_) => None,
        };
        match v {
            Some(-1) if allow_minus_one => Ok(Some(-1)),
            Some(n) if (1..=MAX_STEP_TIMEOUT).contains(&n) => Ok(Some(n)),
            _ => Err(invalid(format!(
                "stepTimeoutInMinutes must be an integer from 1 to {MAX_STEP_TIMEOUT}{}",
                if allow_minus_one { ", or -1" } else { "" }
            ))),
        }
    }

    fn details(&self) -> R<Option<BTreeMap<String, String>>> {
        let m = match self.obj.get("statusDetails") {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::Object(m)) => m,
            Some(_) => return Err(invalid("statusDetails must be an object")),
        };
        validate_details(m).map(Some)
    }
}

fn validate_details(m: &Map<String, Value>) -> R<BTreeMap<String, String>> {
    if m.len() > MAX_DETAILS {
        return Err(invalid(format!(
            "statusDetails has {} entries, at most {MAX_DETAILS} allowed",
            m.len()
        )));
    }
    let mut out = BTreeMap::new();
    for (k, v) in m {
        if !valid_detail_key(k) {
            return Err(invalid(format!(
                "statusDetails key {k:?} must match [a-zA-Z0-9:_-]+ and be 1-{MAX_DETAIL_KEY} characters"
            )));
        }
        let Value::String(s) = v else {
            return Err(invalid(format!(
                "statusDetails value for {k:?} must be a string"
            )));
        };
        let n = s.chars().count();
        if n == 0 || n > MAX_DETAIL_VALUE {
            return Err(invalid(format!(
                "statusDetails value for {k:?} must be 1-{MAX_DETAIL_VALUE} characters"
            )));
        }
        if let Some((c, cat)) = s.chars().find_map(|c| other_category(c).map(|g| (c, g))) {
            return Err(invalid(format!(
                "statusDetails value for {k:?} contains U+{:04X}, a character of category {cat} (values must match [^\\p{{C}}]+)",
                c as u32
            )));
        }
        out.insert(k.clone(), s.clone());
    }
    Ok(out)
}

/// The category of `c` when it is in Unicode's "Other" group, `\p{C}` in AWS's Java pattern
/// `[^\p{C}]+` for statusDetails values: Cc (control), Cf (format, e.g. U+200B), Cs (surrogate;
/// cannot occur in a Rust string), Co (private use) or Cn (unassigned). None for any other.
fn other_category(c: char) -> Option<&'static str> {
    use unicode_general_category::{get_general_category, GeneralCategory as G};
    match get_general_category(c) {
        g @ (G::Control | G::Format | G::Surrogate | G::PrivateUse | G::Unassigned) => {
            Some(g.abbreviation())
        }
        _ => None,
    }
}

/// All jobs and executions.
#[derive(Default, Debug)]
pub struct Jobs {
    pub jobs: BTreeMap<String, Job>,
    /// The latest execution of each job on each thing, keyed by (thing, job id).
    pub execs: BTreeMap<(String, String), Execution>,
    /// Executions a retry replaced (all terminal), oldest first, with the same keys.
    pub past: BTreeMap<(String, String), Vec<Execution>>,
    seq: u64,
}

fn thing_topic(thing: &str, suffix: &str) -> String {
    format!("$aws/things/{thing}/jobs/{suffix}")
}

impl Execution {
    fn state_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("status".into(), json!(self.status.as_str()));
        if !self.details.is_empty() {
            m.insert("statusDetails".into(), json!(self.details));
        }
        m.insert("versionNumber".into(), json!(self.version));
        Value::Object(m)
    }

    fn summary_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("jobId".into(), json!(self.job_id));
        m.insert("queuedAt".into(), json!(self.queued_at));
        if let Some(s) = self.started_at {
            m.insert("startedAt".into(), json!(s));
        }
        m.insert("lastUpdatedAt".into(), json!(self.last_updated_at));
        m.insert("versionNumber".into(), json!(self.version));
        m.insert("executionNumber".into(), json!(self.execution_number));
        Value::Object(m)
    }

    fn full_json(&self, doc: Option<&Value>, thing_name: bool, now: i64) -> Value {
        let mut m = Map::new();
        m.insert("jobId".into(), json!(self.job_id));
        if thing_name {
            m.insert("thingName".into(), json!(self.thing));
        }
        if let Some(d) = doc {
            m.insert("jobDocument".into(), d.clone());
        }
        m.insert("status".into(), json!(self.status.as_str()));
        if !self.details.is_empty() {
            m.insert("statusDetails".into(), json!(self.details));
        }
        m.insert("queuedAt".into(), json!(self.queued_at));
        if let Some(s) = self.started_at {
            m.insert("startedAt".into(), json!(s));
        }
        m.insert("lastUpdatedAt".into(), json!(self.last_updated_at));
        m.insert("versionNumber".into(), json!(self.version));
        m.insert("executionNumber".into(), json!(self.execution_number));
        let deadline = match (self.step_deadline, self.ip_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if let Some(d) = deadline {
            m.insert(
                "approximateSecondsBeforeTimedOut".into(),
                json!((d - now).max(0)),
            );
        }
        Value::Object(m)
    }

    fn touch(&mut self, now: i64) {
        self.version += 1;
        self.last_updated_at = now;
    }

    fn set_status(&mut self, s: Status, now: i64) {
        if s == Status::InProgress && self.started_at.is_none() {
            self.started_at = Some(now);
        }
        if s.is_terminal() {
            self.cancel_timer();
            self.ip_deadline = None;
        }
        self.status = s;
    }

    fn cancel_timer(&mut self) {
        if self.step_deadline.is_some() {
            self.step_deadline = None;
            self.timer_gen += 1;
        }
    }

    fn arm_timer(&mut self, minutes: i64, now: i64) -> TimerReq {
        self.timer_gen += 1;
        self.step_deadline = Some(now + minutes * 60);
        TimerReq {
            kind: TimerKind::Step,
            thing: self.thing.clone(),
            job_id: self.job_id.clone(),
            generation: self.timer_gen,
            minutes,
        }
    }
}

fn start_ip_timer(e: &mut Execution, minutes: Option<i64>, now: i64) -> Option<TimerReq> {
    let m = minutes?;
    e.ip_deadline = Some(now + m * 60);
    Some(TimerReq {
        kind: TimerKind::InProgress,
        thing: e.thing.clone(),
        job_id: e.job_id.clone(),
        generation: e.execution_number,
        minutes: m,
    })
}

fn with_token(mut m: Map<String, Value>, token: &Option<String>, now: i64) -> Value {
    m.insert("timestamp".into(), json!(now));
    if let Some(t) = token {
        m.insert("clientToken".into(), json!(t));
    }
    Value::Object(m)
}

/// Builds an ErrorResponse payload.
pub fn error_payload(
    code: Code,
    message: &str,
    token: &Option<String>,
    state: Option<Value>,
    now: i64,
) -> Value {
    let mut m = Map::new();
    m.insert("code".into(), json!(code.as_str()));
    m.insert("message".into(), json!(message));
    if let Some(s) = state {
        m.insert("executionState".into(), s);
    }
    with_token(m, token, now)
}

impl Jobs {
    pub fn new() -> Jobs {
        Jobs::default()
    }

    fn doc(&self, job_id: &str) -> Option<&Value> {
        self.jobs.get(job_id).map(|j| &j.document)
    }

    /// The thing's pending executions: IN_PROGRESS first, then QUEUED, each in queue order.
    pub fn pending(&self, thing: &str) -> Vec<&Execution> {
        let mut v: Vec<&Execution> = self
            .execs
            .values()
            .filter(|e| e.thing == thing && !e.status.is_terminal())
            .collect();
        v.sort_by_key(|e| (e.status != Status::InProgress, e.seq));
        v
    }

    /// The head of the thing's pending list: job id and execution number (a retry of the same
    /// job is a new head).
    fn head(&self, thing: &str) -> Option<(String, u64)> {
        self.pending(thing)
            .first()
            .map(|e| (e.job_id.clone(), e.execution_number))
    }

    /// Notifications after a change on `thing` (`head_before` taken before the change).
    fn notices(
        &self,
        thing: &str,
        head_before: Option<(String, u64)>,
        status_changed: bool,
        now: i64,
    ) -> Vec<Msg> {
        let mut out = Vec::new();
        if status_changed {
            let mut ip = Vec::new();
            let mut q = Vec::new();
            for e in self.pending(thing).into_iter().take(MAX_PENDING_LISTED) {
                if e.status == Status::InProgress {
                    ip.push(e.summary_json());
                } else {
                    q.push(e.summary_json());
                }
            }
            let mut jobs = Map::new();
            if !ip.is_empty() {
                jobs.insert("IN_PROGRESS".into(), Value::Array(ip));
            }
            if !q.is_empty() {
                jobs.insert("QUEUED".into(), Value::Array(q));
            }
            out.push(Msg {
                topic: thing_topic(thing, "notify"),
                payload: json!({ "timestamp": now, "jobs": jobs }),
            });
        }
        let head_after = self.head(thing);
        if head_after != head_before {
            let payload = match &head_after {
                Some((j, _)) => {
                    let e = &self.execs[&(thing.to_string(), j.clone())];
                    json!({ "timestamp": now, "execution": e.full_json(self.doc(j), false, now) })
                }
                None => json!({ "timestamp": now }),
            };
            out.push(Msg {
                topic: thing_topic(thing, "notify-next"),
                payload,
            });
        }
        out
    }

    /// Handles one device request published to `topic`.
    pub fn request(&mut self, topic: &str, payload: &[u8], now: i64) -> Outcome {
        let Some((thing, op)) = parse_topic(topic) else {
            return Outcome::default();
        };
        let reply_topic =
            |ok: bool| format!("{topic}/{}", if ok { "accepted" } else { "rejected" });
        let token_guess = parse_payload(payload).ok().and_then(|r| r.client_token);
        let mut out = Outcome::default();
        let result = match op {
            Err(()) => Err((
                Reject(
                    Code::InvalidTopic,
                    format!("Topic {topic} does not map to a Jobs API"),
                ),
                None,
            )),
            Ok(_) if !valid_thing_name(&thing) => Err((
                Reject(
                    Code::InvalidTopic,
                    format!("Thing name {thing:?} must match [a-zA-Z0-9:_-]+ (1-128)"),
                ),
                None,
            )),
            Ok(op) => self.dispatch(&thing, op, payload, now, &mut out),
        };
        match result {
            Ok(accepted) => {
                out.reply = Some(Msg {
                    topic: reply_topic(true),
                    payload: accepted,
                })
            }
            Err((Reject(code, msg), state)) => {
                out.rejected = Some(code);
                out.reply = Some(Msg {
                    topic: reply_topic(false),
                    payload: error_payload(code, &msg, &token_guess, state, now),
                });
            }
        }
        out
    }

    /// A rejection that does not depend on state (throttling, injected internal errors).
    pub fn reject_request(topic: &str, payload: &[u8], code: Code, now: i64) -> Option<Msg> {
        let _ = parse_topic(topic)?;
        let token = parse_payload(payload).ok().and_then(|r| r.client_token);
        let message = match code {
            Code::RequestThrottled => "Rate exceeded",
            Code::InternalError => "Internal error",
            _ => code.as_str(),
        };
        Some(Msg {
            topic: format!("{topic}/rejected"),
            payload: error_payload(code, message, &token, None, now),
        })
    }

    #[allow(clippy::result_large_err)]
    fn dispatch(
        &mut self,
        thing: &str,
        op: Op,
        payload: &[u8],
        now: i64,
        out: &mut Outcome,
    ) -> Result<Value, (Reject, Option<Value>)> {
        let plain = |r: Reject| (r, None);
        let req = parse_payload(payload).map_err(plain)?;
        match op {
            Op::GetPending => {
                let mut ip = Vec::new();
                let mut q = Vec::new();
                for e in self.pending(thing).into_iter().take(MAX_PENDING_LISTED) {
                    if e.status == Status::InProgress {
                        ip.push(e.summary_json());
                    } else {
                        q.push(e.summary_json());
                    }
                }
                let mut m = Map::new();
                m.insert("inProgressJobs".into(), Value::Array(ip));
                m.insert("queuedJobs".into(), Value::Array(q));
                Ok(with_token(m, &req.client_token, now))
            }
            Op::StartNext => {
                let details = req.details().map_err(plain)?;
                let step = req.step_timeout(false).map_err(plain)?;
                let before = self.head(thing);
                let Some((job_id, _)) = before.clone() else {
                    return Ok(with_token(Map::new(), &req.client_token, now));
                };
                let key = (thing.to_string(), job_id.clone());
                let e = self.execs.get_mut(&key).expect("head exists");
                let mut changed = false;
                if e.status == Status::Queued {
                    let mut merged = e.details.clone();
                    merged.extend(details.unwrap_or_default());
                    if merged.len() > MAX_DETAILS {
                        return Err(plain(invalid(format!(
                            "statusDetails would have {} entries, at most {MAX_DETAILS} allowed",
                            merged.len()
                        ))));
                    }
                    e.details = merged;
                    e.set_status(Status::InProgress, now);
                    e.touch(now);
                    let ipt = self
                        .jobs
                        .get(&job_id)
                        .and_then(|j| j.options.in_progress_timeout_minutes);
                    let e = self.execs.get_mut(&key).expect("head exists");
                    if let Some(t) = start_ip_timer(e, ipt, now) {
                        out.timers.push(t);
                    }
                    if let Some(m) = step {
                        out.timers.push(e.arm_timer(m, now));
                    }
                    changed = true;
                }
                let e = &self.execs[&key];
                let exec = e.full_json(self.doc(&job_id), true, now);
                out.notifications = self.notices(thing, before, changed, now);
                let mut m = Map::new();
                m.insert("execution".into(), exec);
                Ok(with_token(m, &req.client_token, now))
            }
            Op::Describe(job) => {
                let include_doc = req.bool_field("includeJobDocument").map_err(plain)?;
                let exec_no = req.number_field("executionNumber").map_err(plain)?;
                let job_id = if job == "$next" {
                    match self.head(thing) {
                        Some((j, _)) => j,
                        None => return Ok(with_token(Map::new(), &req.client_token, now)),
                    }
                } else if valid_job_id(&job) {
                    job
                } else {
                    return Err(plain(invalid(format!(
                        "jobId {job:?} must match [a-zA-Z0-9_-]+ (1-64) or be $next"
                    ))));
                };
                let e = self.find(thing, &job_id, exec_no).map_err(plain)?;
                if matches!(e.status, Status::Canceled | Status::Removed) {
                    return Err(plain(Reject(
                        Code::TerminalStateReached,
                        format!(
                            "Job execution {job_id} on {thing} is {} (terminal)",
                            e.status.as_str()
                        ),
                    )));
                }
                let doc = if include_doc.unwrap_or(true) {
                    self.doc(&job_id)
                } else {
                    None
                };
                let mut m = Map::new();
                m.insert("execution".into(), e.full_json(doc, true, now));
                Ok(with_token(m, &req.client_token, now))
            }
            Op::Update(job) => self.update(thing, job, &req, now, out),
        }
    }

    fn find(&self, thing: &str, job_id: &str, exec_no: Option<u64>) -> R<&Execution> {
        let not_found = || {
            Reject(
                Code::ResourceNotFound,
                format!("Job execution {job_id} not found for thing {thing}"),
            )
        };
        let key = (thing.to_string(), job_id.to_string());
        let e = self.execs.get(&key).ok_or_else(not_found)?;
        match exec_no {
            Some(n) if n != e.execution_number => self
                .past
                .get(&key)
                .and_then(|v| v.iter().find(|p| p.execution_number == n))
                .ok_or_else(not_found),
            _ => Ok(e),
        }
    }

    #[allow(clippy::result_large_err)]
    fn update(
        &mut self,
        thing: &str,
        job: String,
        req: &Req,
        now: i64,
        out: &mut Outcome,
    ) -> Result<Value, (Reject, Option<Value>)> {
        let plain = |r: Reject| (r, None);
        let status = match req.obj.get("status") {
            None | Some(Value::Null) => {
                return Err(plain(invalid(
                    "Value null at 'status' failed to satisfy constraint: Member must not be null",
                )))
            }
            Some(Value::String(s)) => Status::parse(s).ok_or_else(|| {
                plain(invalid(format!(
                    "Value '{s}' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [QUEUED, IN_PROGRESS, SUCCEEDED, FAILED, TIMED_OUT, REJECTED, REMOVED, CANCELED]"
                )))
            })?,
            Some(_) => return Err(plain(invalid("status must be a string"))),
        };
        let details = req.details().map_err(plain)?;
        let expected = req.number_field("expectedVersion").map_err(plain)?;
        let exec_no = req.number_field("executionNumber").map_err(plain)?;
        let include_state = req
            .bool_field("includeJobExecutionState")
            .map_err(plain)?
            .unwrap_or(false);
        let include_doc = req
            .bool_field("includeJobDocument")
            .map_err(plain)?
            .unwrap_or(false);
        let step = req.step_timeout(true).map_err(plain)?;
        if !valid_job_id(&job) {
            return Err(plain(invalid(format!(
                "jobId {job:?} must match [a-zA-Z0-9_-]+ (1-64)"
            ))));
        }
        let e = self.find(thing, &job, exec_no).map_err(plain)?;
        if let Some(v) = expected {
            if v != e.version {
                return Err((
                    Reject(
                        Code::VersionMismatch,
                        format!(
                            "Version mismatch: expectedVersion {v}, current version {}",
                            e.version
                        ),
                    ),
                    Some(e.state_json()),
                ));
            }
        }
        if e.status.is_terminal() || !status.device_settable() {
            return Err((
                Reject(
                    Code::InvalidStateTransition,
                    format!(
                        "Cannot update job execution {job} from {} to {}",
                        e.status.as_str(),
                        status.as_str()
                    ),
                ),
                Some(e.state_json()),
            ));
        }
        let mut merged = e.details.clone();
        merged.extend(details.unwrap_or_default());
        if merged.len() > MAX_DETAILS {
            return Err(plain(invalid(format!(
                "statusDetails would have {} entries, at most {MAX_DETAILS} allowed",
                merged.len()
            ))));
        }
        let before = self.head(thing);
        let key = (thing.to_string(), job.clone());
        let e = self.execs.get_mut(&key).expect("found above");
        let changed = e.status != status;
        let starting = e.status == Status::Queued && status == Status::InProgress;
        e.details = merged;
        e.set_status(status, now);
        e.touch(now);
        if starting {
            let ipt = self
                .jobs
                .get(&job)
                .and_then(|j| j.options.in_progress_timeout_minutes);
            if let Some(t) = start_ip_timer(e, ipt, now) {
                out.timers.push(t);
            }
        }
        if !status.is_terminal() {
            match step {
                Some(-1) => e.cancel_timer(),
                Some(m) => out.timers.push(e.arm_timer(m, now)),
                None => {}
            }
        }
        let e = &self.execs[&key];
        let mut m = Map::new();
        if include_state {
            m.insert("executionState".into(), e.state_json());
        }
        if include_doc {
            if let Some(d) = self.doc(&job) {
                m.insert("jobDocument".into(), d.clone());
            }
        }
        out.notifications = self.notices(thing, before, changed, now);
        out.notifications.extend(self.retry(thing, &job, now));
        Ok(with_token(m, &req.client_token, now))
    }

    /// After an execution ended: when it is FAILED or TIMED_OUT and the job's retry criteria
    /// allow another attempt, the ended execution moves to [`Jobs::past`] and a new one is
    /// queued in its place. Returns the notifications of a newly queued execution.
    fn retry(&mut self, thing: &str, job_id: &str, now: i64) -> Vec<Msg> {
        let key = (thing.to_string(), job_id.to_string());
        let (Some(e), Some(job)) = (self.execs.get(&key), self.jobs.get(job_id)) else {
            return Vec::new();
        };
        let retried: Vec<Status> = self
            .past
            .get(&key)
            .map(|v| v.iter().map(|p| p.status).collect())
            .unwrap_or_default();
        if job.canceled
            || !job.targets.iter().any(|t| t == thing)
            || !job.options.retry.allows(e.status, &retried)
        {
            return Vec::new();
        }
        let before = self.head(thing);
        self.seq += 1;
        let next = Execution {
            job_id: job_id.to_string(),
            thing: thing.to_string(),
            status: Status::Queued,
            details: BTreeMap::new(),
            queued_at: now,
            started_at: None,
            last_updated_at: now,
            version: 1,
            execution_number: e.execution_number + 1,
            seq: self.seq,
            step_deadline: None,
            // Carried on so that a step timer armed for the ended execution never matches.
            timer_gen: e.timer_gen,
            ip_deadline: None,
        };
        let old = self.execs.insert(key.clone(), next).expect("present above");
        self.past.entry(key).or_default().push(old);
        self.notices(thing, before, true, now)
    }

    /// A timer armed through [`Outcome::timers`] fired.
    pub fn timer_fired(&mut self, t: &TimerReq, now: i64) -> Vec<Msg> {
        match t.kind {
            TimerKind::Step => self.step_timeout(&t.thing, &t.job_id, t.generation, now),
            TimerKind::InProgress => {
                let key = (t.thing.clone(), t.job_id.clone());
                // The generation of an in-progress timer is the execution number it was armed
                // for: a retry's execution is not timed out by its predecessor's timer.
                let live = self.execs.get(&key).is_some_and(|e| {
                    e.ip_deadline.is_some()
                        && !e.status.is_terminal()
                        && e.execution_number == t.generation
                });
                if !live {
                    return Vec::new();
                }
                let mut msgs = self.end_execution(&t.thing, &t.job_id, Status::TimedOut, now);
                msgs.extend(self.retry(&t.thing, &t.job_id, now));
                msgs
            }
        }
    }

    /// A step timer fired: the execution times out if the timer is still the current one.
    pub fn step_timeout(
        &mut self,
        thing: &str,
        job_id: &str,
        generation: u64,
        now: i64,
    ) -> Vec<Msg> {
        let key = (thing.to_string(), job_id.to_string());
        let before = self.head(thing);
        let Some(e) = self.execs.get_mut(&key) else {
            return Vec::new();
        };
        if e.timer_gen != generation || e.step_deadline.is_none() || e.status.is_terminal() {
            return Vec::new();
        }
        e.set_status(Status::TimedOut, now);
        e.touch(now);
        let mut msgs = self.notices(thing, before, true, now);
        msgs.extend(self.retry(thing, job_id, now));
        msgs
    }

    // ---- control API ----

    /// Creates a job with QUEUED executions on every target.
    pub fn create_job(
        &mut self,
        job_id: &str,
        document: Value,
        targets: &[&str],
        now: i64,
    ) -> Result<Vec<Msg>, String> {
        self.create_job_with(job_id, document, targets, JobOptions::default(), now)
    }

    /// [`Jobs::create_job`] with options (in-progress timeout).
    pub fn create_job_with(
        &mut self,
        job_id: &str,
        document: Value,
        targets: &[&str],
        options: JobOptions,
        now: i64,
    ) -> Result<Vec<Msg>, String> {
        if let Some(m) = options.in_progress_timeout_minutes {
            if !(1..=MAX_STEP_TIMEOUT).contains(&m) {
                return Err(format!(
                    "bad in-progress timeout {m}: 1-{MAX_STEP_TIMEOUT} minutes"
                ));
            }
        }
        options.retry.validate()?;
        if !valid_job_id(job_id) {
            return Err(format!(
                "bad job id {job_id:?}: 1-64 characters of [a-zA-Z0-9_-]"
            ));
        }
        if self.jobs.contains_key(job_id) {
            return Err(format!("job {job_id} already exists"));
        }
        if !document.is_object() {
            return Err("bad job document: it must be a JSON object".into());
        }
        let size = document.to_string().len();
        if size > MAX_JOB_DOCUMENT {
            return Err(format!(
                "bad job document: {size} bytes, at most {MAX_JOB_DOCUMENT}"
            ));
        }
        if targets.is_empty() {
            return Err("a job needs at least one target thing".into());
        }
        let mut uniq: Vec<&str> = Vec::new();
        for t in targets {
            if !valid_thing_name(t) {
                return Err(format!(
                    "bad thing name {t:?}: 1-128 characters of [a-zA-Z0-9:_-]"
                ));
            }
            if !uniq.contains(t) {
                uniq.push(t);
            }
        }
        self.seq += 1;
        self.jobs.insert(
            job_id.to_string(),
            Job {
                id: job_id.to_string(),
                document,
                targets: uniq.iter().map(|s| s.to_string()).collect(),
                canceled: false,
                created_at: now,
                seq: self.seq,
                options,
            },
        );
        let mut msgs = Vec::new();
        for t in uniq {
            let before = self.head(t);
            self.seq += 1;
            self.execs.insert(
                (t.to_string(), job_id.to_string()),
                Execution {
                    job_id: job_id.to_string(),
                    thing: t.to_string(),
                    status: Status::Queued,
                    details: BTreeMap::new(),
                    queued_at: now,
                    started_at: None,
                    last_updated_at: now,
                    version: 1,
                    execution_number: 1,
                    seq: self.seq,
                    step_deadline: None,
                    timer_gen: 0,
                    ip_deadline: None,
                },
            );
            msgs.extend(self.notices(t, before, true, now));
        }
        Ok(msgs)
    }

    fn end_execution(&mut self, thing: &str, job_id: &str, to: Status, now: i64) -> Vec<Msg> {
        let before = self.head(thing);
        let key = (thing.to_string(), job_id.to_string());
        if let Some(e) = self.execs.get_mut(&key) {
            e.set_status(to, now);
            e.touch(now);
        }
        self.notices(thing, before, true, now)
    }

    /// Cancels a job: QUEUED executions become CANCELED, IN_PROGRESS ones too when `force`.
    pub fn cancel_job(&mut self, job_id: &str, force: bool, now: i64) -> Result<Vec<Msg>, String> {
        let job = self
            .jobs
            .get_mut(job_id)
            .ok_or_else(|| format!("unknown job {job_id}"))?;
        if job.canceled {
            return Err(format!("job {job_id} is already canceled"));
        }
        job.canceled = true;
        let victims: Vec<String> = self
            .execs
            .values()
            .filter(|e| {
                e.job_id == job_id
                    && (e.status == Status::Queued || (force && e.status == Status::InProgress))
            })
            .map(|e| e.thing.clone())
            .collect();
        let mut msgs = Vec::new();
        for t in victims {
            msgs.extend(self.end_execution(&t, job_id, Status::Canceled, now));
        }
        Ok(msgs)
    }

    fn live_execution(&self, job_id: &str, thing: &str) -> Result<&Execution, String> {
        if !self.jobs.contains_key(job_id) {
            return Err(format!("unknown job {job_id}"));
        }
        let e = self
            .execs
            .get(&(thing.to_string(), job_id.to_string()))
            .ok_or_else(|| format!("unknown thing {thing} for job {job_id}"))?;
        if e.status.is_terminal() {
            return Err(format!(
                "execution of {job_id} on {thing} is already {} (terminal)",
                e.status.as_str()
            ));
        }
        Ok(e)
    }

    /// Cancels one execution; an IN_PROGRESS one needs `force`.
    pub fn cancel_execution(
        &mut self,
        job_id: &str,
        thing: &str,
        force: bool,
        now: i64,
    ) -> Result<Vec<Msg>, String> {
        let e = self.live_execution(job_id, thing)?;
        if e.status == Status::InProgress && !force {
            return Err(format!(
                "execution of {job_id} on {thing} is IN_PROGRESS: cancel it with force"
            ));
        }
        Ok(self.end_execution(thing, job_id, Status::Canceled, now))
    }

    /// Removes a thing from a job's targets: its execution becomes REMOVED.
    pub fn remove_thing(
        &mut self,
        job_id: &str,
        thing: &str,
        now: i64,
    ) -> Result<Vec<Msg>, String> {
        self.live_execution(job_id, thing)?;
        if let Some(j) = self.jobs.get_mut(job_id) {
            j.targets.retain(|t| t != thing);
        }
        Ok(self.end_execution(thing, job_id, Status::Removed, now))
    }

    /// Full execution view for operators (includes thingName and jobDocument): the latest
    /// execution of the job on the thing.
    pub fn describe_execution(&self, job_id: &str, thing: &str, now: i64) -> Option<Value> {
        self.describe_execution_number(job_id, thing, None, now)
    }

    /// [`Jobs::describe_execution`] of the execution with `number` (None: the latest).
    pub fn describe_execution_number(
        &self,
        job_id: &str,
        thing: &str,
        number: Option<u64>,
        now: i64,
    ) -> Option<Value> {
        let e = self.find(thing, job_id, number).ok()?;
        Some(e.full_json(self.doc(job_id), true, now))
    }

    /// Every execution, older ones of a retried job included: by job creation order then
    /// thing, and each job's executions on one thing together, oldest first.
    pub fn list_executions(&self, now: i64) -> Vec<Value> {
        let mut v: Vec<(u64, &Execution)> = Vec::new();
        for (key, e) in &self.execs {
            let past = self.past.get(key).map(Vec::as_slice).unwrap_or_default();
            let first = past.first().map_or(e.seq, |p| p.seq);
            v.extend(past.iter().chain([e]).map(|x| (first, x)));
        }
        v.sort_by_key(|(first, e)| (*first, e.execution_number));
        v.into_iter()
            .map(|(_, e)| e.full_json(None, true, now))
            .collect()
    }

    /// Job status as the control plane reports it: CANCELED, COMPLETED (every execution
    /// terminal) or IN_PROGRESS.
    pub fn job_status(&self, job_id: &str) -> Option<&'static str> {
        let j = self.jobs.get(job_id)?;
        if j.canceled {
            return Some("CANCELED");
        }
        let done = self
            .execs
            .values()
            .filter(|e| e.job_id == job_id)
            .all(|e| e.status.is_terminal());
        Some(if done { "COMPLETED" } else { "IN_PROGRESS" })
    }

    /// One job with its document, targets, status and per-status execution counts. Counts are
    /// per thing, of its latest execution: executions a retry replaced are not counted.
    pub fn describe_job(&self, job_id: &str) -> Option<Value> {
        let mut v = self
            .list_jobs()
            .into_iter()
            .find(|j| j["jobId"] == job_id)?;
        let mut counts = Map::new();
        for e in self.execs.values().filter(|e| e.job_id == job_id) {
            let c = counts.entry(e.status.as_str()).or_insert(json!(0));
            *c = json!(c.as_u64().unwrap_or(0) + 1);
        }
        v["executionCounts"] = Value::Object(counts);
        Some(v)
    }

    /// Every job with its document, targets and status.
    pub fn list_jobs(&self) -> Vec<Value> {
        let mut v: Vec<&Job> = self.jobs.values().collect();
        v.sort_by_key(|j| j.seq);
        v.into_iter()
            .map(|j| {
                let mut v = json!({
                    "inProgressTimeoutInMinutes": j.options.in_progress_timeout_minutes,
                    "jobId": j.id,
                    "status": self.job_status(&j.id),
                    "document": j.document,
                    "targets": j.targets,
                    "createdAt": j.created_at,
                });
                if !j.options.retry.is_empty() {
                    v["jobExecutionsRetryConfig"] = j.options.retry.to_json();
                }
                v
            })
            .collect()
    }
}

#[cfg(test)]
#[path = "machine_tests.rs"]
mod tests;
