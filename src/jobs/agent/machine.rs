//! The job agent's decisions, with no threads, sockets, files or clock.
//!
//! One [`Machine`] per thing. Its inputs are method calls (the link went up or down, a reply
//! came, a notification came, a handler reported progress or its result, time passed), each
//! with the current `Instant`; its outputs are [`Action`]s the driver carries out in order
//! (send a request, run a handler, tell a handler its job is gone, write the journal, report an
//! event) and [`Machine::next_deadline`].
//!
//! The rules it keeps:
//! - at most one request in flight, so progress coalesces (the latest wins) and nothing is sent
//!   while offline: reads are never queued, a final status is held until it can be sent;
//! - a job's final status is written to the journal before it is sent, and the execution is
//!   remembered as finished once the service acknowledged it (or said it ended), so after a
//!   restart the status is sent again and the execution never runs twice;
//! - after every reconnect, and whenever a notification hints that the current job is gone, the
//!   job is described before anything else is sent for it;
//! - throttling, internal errors, timeouts and failed sends are retried with jittered
//!   exponential backoff; a final status is retried until acknowledged or the job is terminal at
//!   the service.

use crate::error::{jobs_result, Error, Result};
use crate::jobs::document::Document;
use crate::jobs::requests::{JobsRequest, Outcome};
use crate::jobs::types::{AgentEventKind, ExecutionStatus, RejectionCode, ResumePolicy};
use crate::jobs::validate::StatusDetails;
use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

/// One execution of a job on the agent's thing: AWS retries a job under a new number.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    pub job_id: String,
    pub execution_number: u64,
}

/// How the agent is set up (handlers are registered before it starts).
#[derive(Debug, Clone)]
pub struct MachineConfig {
    /// The document path that names the operation (default `operation`).
    pub operation_path: String,
    /// The registered operations and what each does with a job interrupted by a restart.
    pub handlers: HashMap<String, ResumePolicy>,
    /// The handler of other operations, if any.
    pub default_handler: Option<ResumePolicy>,
    /// `stepTimeoutInMinutes` sent with start-next.
    pub step_timeout_minutes: Option<i64>,
    /// The shortest time between two progress updates of a job.
    pub progress_interval: Duration,
    /// The first retry delay; it doubles per failure up to `backoff_max`, with full jitter.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// Seeds the jitter (tests pass a fixed one).
    pub seed: u64,
    /// Finished executions remembered, oldest forgotten first (the journal keeps as many).
    pub finished_capacity: usize,
}

impl Default for MachineConfig {
    fn default() -> Self {
        MachineConfig {
            operation_path: "operation".into(),
            handlers: HashMap::new(),
            default_handler: None,
            step_timeout_minutes: None,
            progress_interval: Duration::ZERO,
            backoff_base: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            seed: 0,
            finished_capacity: 256,
        }
    }
}

/// What the journal said on start.
#[derive(Debug, Clone, Default)]
pub struct Recovered {
    /// The job that was under way when the device stopped.
    pub active: Option<RecoveredJob>,
    /// Executions that finished here, oldest first.
    pub finished: Vec<(Key, ExecutionStatus)>,
}

#[derive(Debug, Clone)]
pub struct RecoveredJob {
    pub key: Key,
    pub operation: String,
    pub version: u64,
    pub checkpoint: Option<Vec<u8>>,
    /// The final status decided but perhaps not acknowledged.
    pub decided: Option<(ExecutionStatus, StatusDetails)>,
}

/// An execution as a reply or notification describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecInfo {
    pub key: Key,
    pub status: ExecutionStatus,
    /// 0: not given.
    pub version: u64,
    pub document: Option<String>,
    /// The execution's status details as the service has them.
    pub details: Vec<(String, String)>,
}

/// A request's outcome, as the machine needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// start-next or describe accepted; `None`: no pending execution.
    Execution(Option<ExecInfo>),
    /// update accepted, with the new version when the service said.
    Updated { version: Option<u64> },
    Rejected {
        code: RejectionCode,
        message: String,
        /// The execution's status and version, when the rejection carries them.
        state: Option<(ExecutionStatus, u64)>,
    },
    /// No answer: timeout, not connected, malformed reply, dropped, cancelled, closed.
    Failed { code: jobs_result, message: String },
}

impl Reply {
    /// Reads a request's outcome.
    pub fn of(outcome: &Outcome) -> Reply {
        match outcome {
            Outcome::Failed(e) => Reply::Failed {
                code: e.code,
                message: e.message.clone(),
            },
            Outcome::Rejected(ev) => Reply::Rejected {
                code: ev
                    .rejection_code()
                    .map_or(RejectionCode::Other, |c| c.code()),
                message: ev.rejection_message().unwrap_or_default().to_owned(),
                state: ev
                    .execution_state()
                    .map(|s| (s.status, counter(s.version_number))),
            },
            Outcome::Accepted(ev) => match ev.topic_type() {
                crate::jobs::types::TopicType::Update => Reply::Updated {
                    version: ev.version_number().map(|v| counter(Some(v))),
                },
                _ => Reply::Execution(exec_info(ev)),
            },
        }
    }
}

fn counter(v: Option<i64>) -> u64 {
    v.and_then(|v| u64::try_from(v).ok()).unwrap_or(0)
}

/// The execution a start-next or describe reply, or a notify-next message, carries.
pub fn exec_info(ev: &crate::jobs::event::JobsEvent) -> Option<ExecInfo> {
    let e = ev.execution()?;
    Some(ExecInfo {
        key: Key {
            job_id: e.job_id.clone(),
            execution_number: counter(e.execution_number),
        },
        status: e.status,
        version: counter(e.version_number),
        document: e.job_document.clone(),
        details: e.status_details.clone(),
    })
}

/// An event for the application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentEvent {
    pub kind: AgentEventKind,
    pub key: Option<Key>,
    pub status: ExecutionStatus,
    pub reason: String,
}

/// A change the journal must record, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JournalOp {
    /// A job is under way (handed to its handler, or with its final status already decided).
    Begin {
        key: Key,
        operation: String,
        version: u64,
        decided: Option<(ExecutionStatus, StatusDetails)>,
    },
    /// The final status is decided (written before it is sent).
    Decide {
        key: Key,
        status: ExecutionStatus,
        details: StatusDetails,
    },
    /// The job ended: acknowledged, or the service said it is gone. It never runs again.
    Finish { key: Key, status: ExecutionStatus },
}

/// What the driver does, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Send {
        id: u64,
        request: JobsRequest,
    },
    /// Run the handler of `operation` (the default handler when none is registered for it).
    Run {
        key: Key,
        operation: String,
        document: String,
        version: u64,
        resumed: bool,
        checkpoint: Option<Vec<u8>>,
    },
    /// The running handler's job is gone at the service.
    TellCancelled {
        key: Key,
        status: ExecutionStatus,
    },
    Journal(JournalOp),
    Event(AgentEvent),
}

/// Why the request in flight was sent.
#[derive(Debug, Clone)]
enum Purpose {
    StartNext,
    /// `check` is the job's check sequence when it was sent: a hint that came after it asks
    /// for another describe.
    Describe {
        key: Key,
        check: u64,
    },
    Progress {
        key: Key,
        details: StatusDetails,
        step_timeout: Option<i64>,
    },
    Final {
        key: Key,
    },
}

#[derive(Debug)]
struct Job {
    key: Key,
    operation: String,
    version: u64,
    document: Option<String>,
    /// The handler is to be started (once the job was checked, for a resumed one).
    run_pending: bool,
    resumed: bool,
    checkpoint: Option<Vec<u8>>,
    handler_running: bool,
    /// A describe is needed before anything else is sent for this job.
    needs_check: bool,
    /// Bumped by every hint that the job may be gone.
    check_seq: u64,
    /// The latest progress not yet sent.
    progress: Option<(StatusDetails, Option<i64>)>,
    progress_sent_at: Option<Instant>,
    decided: Option<(ExecutionStatus, StatusDetails)>,
    /// Finished or gone: nothing more is sent for it.
    ended: Option<ExecutionStatus>,
}

impl Job {
    fn new(key: Key, operation: String, version: u64) -> Job {
        Job {
            key,
            operation,
            version,
            document: None,
            run_pending: false,
            resumed: false,
            checkpoint: None,
            handler_running: false,
            needs_check: false,
            check_seq: 0,
            progress: None,
            progress_sent_at: None,
            decided: None,
            ended: None,
        }
    }
}

/// Counts of what happened, for `jobs_agent_counters`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AgentCounters {
    pub started: u64,
    pub resumed: u64,
    pub progress_sent: u64,
    pub finished: u64,
    pub cancelled: u64,
    pub rejected: u64,
    pub retries: u64,
    pub duplicates_suppressed: u64,
    pub stale_replies: u64,
}

/// The agent's state for one thing.
pub struct Machine {
    cfg: MachineConfig,
    started: bool,
    stopping: bool,
    online: bool,
    /// The jobs client is gone: nothing more can be sent.
    closed: bool,
    want_next: bool,
    job: Option<Job>,
    in_flight: Option<(u64, Purpose)>,
    next_id: u64,
    attempt: u32,
    retry_at: Option<Instant>,
    finished: HashMap<Key, ExecutionStatus>,
    finished_order: VecDeque<Key>,
    rng: fastrand::Rng,
    out: Vec<Action>,
    counters: AgentCounters,
}

/// A reason as status details (`{"reason": ...}`), cut to what AWS accepts.
pub fn reason_details(reason: &str) -> StatusDetails {
    let short: String = reason.chars().take(1000).collect();
    StatusDetails::from_pairs([("reason", short)])
        .or_else(|_| StatusDetails::from_pairs([("reason", "see the device log")]))
        .unwrap_or_default()
}

fn is_device_final(s: ExecutionStatus) -> bool {
    matches!(
        s,
        ExecutionStatus::Succeeded | ExecutionStatus::Failed | ExecutionStatus::Rejected
    )
}

fn is_terminal(s: ExecutionStatus) -> bool {
    is_device_final(s)
        || matches!(
            s,
            ExecutionStatus::Canceled | ExecutionStatus::TimedOut | ExecutionStatus::Removed
        )
}

impl Machine {
    pub fn new(cfg: MachineConfig) -> Machine {
        let rng = fastrand::Rng::with_seed(cfg.seed);
        Machine {
            cfg,
            started: false,
            stopping: false,
            online: false,
            closed: false,
            want_next: false,
            job: None,
            in_flight: None,
            next_id: 1,
            attempt: 0,
            retry_at: None,
            finished: HashMap::new(),
            finished_order: VecDeque::new(),
            rng,
            out: Vec::new(),
            counters: AgentCounters::default(),
        }
    }

    /// The actions decided since the last call, in order.
    pub fn take_actions(&mut self) -> Vec<Action> {
        std::mem::take(&mut self.out)
    }

    pub fn counters(&self) -> AgentCounters {
        self.counters
    }

    /// True while a job is under way (its handler running or its final status unsent), or
    /// start-next is asked and its answer may bring one.
    pub fn busy(&self) -> bool {
        self.job.is_some() || matches!(self.in_flight, Some((_, Purpose::StartNext)))
    }

    /// The job whose handler is running, if any.
    pub fn running_job(&self) -> Option<&Key> {
        self.job
            .as_ref()
            .filter(|j| j.handler_running)
            .map(|j| &j.key)
    }

    /// When [`Machine::tick`] is next due.
    pub fn next_deadline(&self) -> Option<Instant> {
        let progress_due = self.job.as_ref().and_then(|j| {
            if j.progress.is_some() && j.decided.is_none() && j.ended.is_none() {
                j.progress_sent_at.map(|t| t + self.cfg.progress_interval)
            } else {
                None
            }
        });
        match (self.retry_at, progress_due) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    // ------------------------------------------------------------------ inputs

    /// Starts with what the journal recovered.
    pub fn start(&mut self, recovered: Recovered, now: Instant) {
        if self.started {
            return;
        }
        self.started = true;
        self.stopping = false;
        for (key, status) in recovered.finished {
            self.remember(key, status);
        }
        if let Some(r) = recovered.active {
            if self.finished.contains_key(&r.key) {
                // The journal finished it already; only the stale active entry is left.
                let status = self.finished[&r.key];
                self.journal(JournalOp::Finish { key: r.key, status });
            } else {
                self.recover(r);
            }
        }
        self.want_next = true;
        self.pump(now);
    }

    fn recover(&mut self, r: RecoveredJob) {
        let mut job = Job::new(r.key.clone(), r.operation.clone(), r.version);
        job.needs_check = true;
        job.checkpoint = r.checkpoint;
        match r.decided {
            Some(d) => job.decided = Some(d),
            None => match self.policy_of(&r.operation) {
                Some(ResumePolicy::Resume) => {
                    job.run_pending = true;
                    job.resumed = true;
                }
                policy => {
                    let why = if policy.is_some() {
                        "interrupted by a restart".to_owned()
                    } else {
                        format!(
                            "interrupted by a restart; no handler for operation {:?} now",
                            r.operation
                        )
                    };
                    let details = reason_details(&why);
                    self.journal(JournalOp::Decide {
                        key: r.key.clone(),
                        status: ExecutionStatus::Failed,
                        details: details.clone(),
                    });
                    job.decided = Some((ExecutionStatus::Failed, details));
                }
            },
        }
        self.job = Some(job);
    }

    /// No new job is started; the current one is carried to its end.
    pub fn stop(&mut self) {
        self.stopping = true;
    }

    /// The jobs client was freed: nothing can be sent any more.
    pub fn close(&mut self) {
        self.closed = true;
        self.in_flight = None;
    }

    /// The session is up (subscriptions restored).
    pub fn online(&mut self, now: Instant) {
        if self.online {
            // Told again without going offline (the agent started on a link that was already
            // up, then heard its online hook): nothing was lost, nothing is asked again.
            return;
        }
        self.online = true;
        // A reply to what was in flight may have been lost with the link: ask again.
        if let Some((_, p)) = self.in_flight.take() {
            self.restore(p);
        }
        match &mut self.job {
            Some(job) if job.ended.is_none() => job.needs_check = true,
            _ => self.want_next = true,
        }
        self.retry_at = None;
        self.pump(now);
    }

    pub fn offline(&mut self) {
        self.online = false;
    }

    pub fn tick(&mut self, now: Instant) {
        self.pump(now);
    }

    /// A notify-next message.
    pub fn notify_next(&mut self, next: Option<ExecInfo>, now: Instant) {
        match &mut self.job {
            Some(job) if job.ended.is_none() => {
                if next.as_ref().map(|e| &e.key) == Some(&job.key) {
                    self.counters.duplicates_suppressed += 1;
                } else {
                    job.needs_check = true;
                    job.check_seq += 1;
                }
            }
            _ => {
                if next.is_some() {
                    self.want_next = true;
                }
            }
        }
        self.pump(now);
    }

    /// A notify message: the job ids of the thing's pending executions.
    pub fn notify(&mut self, pending_job_ids: &[String], now: Instant) {
        match &mut self.job {
            Some(job) if job.ended.is_none() => {
                if !pending_job_ids.contains(&job.key.job_id) {
                    job.needs_check = true;
                    job.check_seq += 1;
                }
            }
            _ => {
                if !pending_job_ids.is_empty() {
                    self.want_next = true;
                }
            }
        }
        self.pump(now);
    }

    /// The outcome of request `id`.
    pub fn reply(&mut self, id: u64, reply: Reply, now: Instant) {
        let purpose = match self.in_flight.take() {
            Some((i, p)) if i == id => p,
            other => {
                self.in_flight = other;
                self.counters.stale_replies += 1;
                return;
            }
        };
        self.on_reply(purpose, reply, now);
        self.pump(now);
    }

    fn on_reply(&mut self, purpose: Purpose, reply: Reply, now: Instant) {
        match reply {
            Reply::Failed { code, message } => {
                if matches!(code, jobs_result::Closed) {
                    self.closed = true;
                    return;
                }
                self.retry(purpose, format!("{}: {message}", code.describe()), now);
            }
            Reply::Rejected { code, message, .. }
                if matches!(
                    code,
                    RejectionCode::RequestThrottled | RejectionCode::InternalError
                ) =>
            {
                self.retry(purpose, format!("{}: {message}", code.as_str()), now);
            }
            reply => {
                self.attempt = 0;
                match purpose {
                    Purpose::StartNext => self.on_start_next(reply, now),
                    Purpose::Describe { key, check } => self.on_describe(key, check, reply, now),
                    Purpose::Progress {
                        key,
                        details,
                        step_timeout,
                    } => self.on_progress(key, details, step_timeout, reply, now),
                    Purpose::Final { key } => self.on_final(key, reply, now),
                }
            }
        }
    }

    fn on_start_next(&mut self, reply: Reply, now: Instant) {
        match reply {
            Reply::Execution(None) => self.want_next = false,
            Reply::Execution(Some(e)) => {
                self.want_next = false;
                self.begin(e);
            }
            Reply::Rejected { code, message, .. } => self.retry(
                Purpose::StartNext,
                format!("{}: {message}", code.as_str()),
                now,
            ),
            Reply::Updated { .. } | Reply::Failed { .. } => {
                self.retry(Purpose::StartNext, "unexpected reply".into(), now)
            }
        }
    }

    /// Takes on the execution start-next returned.
    fn begin(&mut self, e: ExecInfo) {
        if let Some(&status) = self.finished.get(&e.key) {
            // Finished here, yet the service still has it pending: its final status was lost.
            // Say it again; never run it again.
            self.counters.duplicates_suppressed += 1;
            let (status, details) = if is_device_final(status) {
                (status, StatusDetails::default())
            } else {
                (
                    ExecutionStatus::Failed,
                    reason_details(&format!(
                        "already ended on the device as {}",
                        status.as_str()
                    )),
                )
            };
            self.event(
                AgentEventKind::DuplicateSuppressed,
                Some(&e.key),
                status,
                "this execution already finished here; its final status is sent again".into(),
            );
            self.begin_decided(e, String::new(), status, details);
            return;
        }
        let document = e.document.clone().unwrap_or_default();
        let operation = match self.operation_of(&document) {
            Ok(op) => op,
            Err(why) => return self.reject(e, String::new(), why),
        };
        if self.policy_of(&operation).is_none() {
            let why = format!("no handler for operation {operation:?}");
            return self.reject(e, operation, why);
        }
        self.journal(JournalOp::Begin {
            key: e.key.clone(),
            operation: operation.clone(),
            version: e.version,
            decided: None,
        });
        let mut job = Job::new(e.key, operation, e.version);
        job.document = Some(document);
        job.run_pending = true;
        self.job = Some(job);
    }

    fn reject(&mut self, e: ExecInfo, operation: String, why: String) {
        self.counters.rejected += 1;
        self.event(
            AgentEventKind::JobRejected,
            Some(&e.key),
            ExecutionStatus::Rejected,
            why.clone(),
        );
        self.begin_decided(
            e,
            operation,
            ExecutionStatus::Rejected,
            reason_details(&why),
        );
    }

    fn begin_decided(
        &mut self,
        e: ExecInfo,
        operation: String,
        status: ExecutionStatus,
        details: StatusDetails,
    ) {
        self.journal(JournalOp::Begin {
            key: e.key.clone(),
            operation: operation.clone(),
            version: e.version,
            decided: Some((status, details.clone())),
        });
        let mut job = Job::new(e.key, operation, e.version);
        job.decided = Some((status, details));
        self.job = Some(job);
    }

    /// The operation a document names, or why it names none.
    fn operation_of(&self, document: &str) -> std::result::Result<String, String> {
        let doc = Document::parse(document).map_err(|e| match e.strip_prefix("the document ") {
            // The parser's own subject ("the document is N bytes, ...") becomes the job's.
            Some(rest) => format!("the job document {rest}"),
            None => format!("the job document is {e}"),
        })?;
        if !doc.get("").is_ok_and(|v| v.is_object()) {
            return Err("the job document is not a JSON object".into());
        }
        let path = &self.cfg.operation_path;
        match doc.string(path) {
            Ok(op) => Ok(op.to_owned()),
            Err(e) => Err(format!(
                "the job document has no operation at {path:?}: {e}"
            )),
        }
    }

    /// The current job if it is `key` and has not ended.
    fn live_job(&mut self, key: &Key) -> Option<&mut Job> {
        self.job
            .as_mut()
            .filter(|j| &j.key == key && j.ended.is_none())
    }

    fn policy_of(&self, operation: &str) -> Option<ResumePolicy> {
        self.cfg
            .handlers
            .get(operation)
            .copied()
            .or(self.cfg.default_handler)
    }

    fn on_describe(&mut self, key: Key, check: u64, reply: Reply, now: Instant) {
        let Some(job) = self.live_job(&key) else {
            return;
        };
        match reply {
            Reply::Execution(Some(e)) => {
                if e.version > 0 {
                    job.version = e.version;
                }
                if job.document.is_none() {
                    job.document = e.document;
                }
                job.needs_check = job.check_seq != check;
                // Progress whose update landed before its reply was lost is not sent again.
                let applied = job
                    .progress
                    .as_ref()
                    .is_some_and(|(d, _)| same_details(d.pairs(), &e.details));
                let mut acknowledged = None;
                if applied && e.status == ExecutionStatus::InProgress {
                    acknowledged = job.progress.take().map(|(d, _)| d);
                    job.progress_sent_at = Some(now);
                }
                match e.status {
                    ExecutionStatus::Queued | ExecutionStatus::InProgress => {}
                    s if job.decided.as_ref().is_some_and(|(d, _)| *d == s) => self.finish(s),
                    s if is_terminal(s) => self.gone(s),
                    _ => {}
                }
                if let Some(d) = acknowledged {
                    // The service has it: as good as an acknowledgement.
                    self.progress_acknowledged(&key, &d);
                }
            }
            Reply::Execution(None) => self.gone(ExecutionStatus::Removed),
            Reply::Rejected { code, message, .. } => match code {
                RejectionCode::ResourceNotFound => self.gone(ExecutionStatus::Removed),
                RejectionCode::TerminalStateReached => match job.decided.as_ref() {
                    Some((s, _)) => {
                        let s = *s;
                        self.finish(s)
                    }
                    None => self.gone(ExecutionStatus::Canceled),
                },
                _ => self.retry(
                    Purpose::Describe { key, check },
                    format!("{}: {message}", code.as_str()),
                    now,
                ),
            },
            Reply::Updated { .. } | Reply::Failed { .. } => {}
        }
    }

    fn on_progress(
        &mut self,
        key: Key,
        details: StatusDetails,
        step_timeout: Option<i64>,
        reply: Reply,
        now: Instant,
    ) {
        let Some(job) = self.live_job(&key) else {
            return;
        };
        match reply {
            Reply::Updated { version } => {
                job.version = version.unwrap_or(job.version.saturating_add(1));
                job.progress_sent_at = Some(now);
                self.progress_acknowledged(&key, &details);
            }
            Reply::Rejected {
                code,
                message,
                state,
            } => {
                if job.progress.is_none() {
                    job.progress = Some((details.clone(), step_timeout));
                }
                self.on_update_rejected(
                    Purpose::Progress {
                        key,
                        details,
                        step_timeout,
                    },
                    code,
                    message,
                    state,
                    now,
                );
            }
            Reply::Execution(_) | Reply::Failed { .. } => {}
        }
    }

    fn on_final(&mut self, key: Key, reply: Reply, now: Instant) {
        let Some(job) = self.live_job(&key) else {
            return;
        };
        let Some((status, _)) = job.decided.clone() else {
            return;
        };
        match reply {
            Reply::Updated { .. } => self.finish(status),
            Reply::Rejected {
                code,
                message,
                state,
            } => self.on_update_rejected(Purpose::Final { key }, code, message, state, now),
            Reply::Execution(_) | Reply::Failed { .. } => {}
        }
    }

    fn on_update_rejected(
        &mut self,
        purpose: Purpose,
        code: RejectionCode,
        message: String,
        state: Option<(ExecutionStatus, u64)>,
        now: Instant,
    ) {
        let Some(job) = self.job.as_mut() else { return };
        if let Some((_, v)) = state.filter(|(_, v)| *v > 0) {
            job.version = v;
        }
        let decided = job.decided.as_ref().map(|(s, _)| *s);
        match (code, state) {
            (_, Some((s, _))) if Some(s) == decided => self.finish(s),
            (_, Some((s, _))) if is_terminal(s) => self.gone(s),
            (RejectionCode::ResourceNotFound, _) => self.gone(ExecutionStatus::Removed),
            (RejectionCode::VersionMismatch, _) => {
                // Reconciled by a describe, then the update goes again with the new version.
                job.needs_check = true;
                self.event(
                    AgentEventKind::Retrying,
                    purpose_key(&purpose).as_ref(),
                    ExecutionStatus::NotSet,
                    format!("VersionMismatch: {message}; describing the execution"),
                );
            }
            (RejectionCode::InvalidStateTransition | RejectionCode::TerminalStateReached, _) => {
                job.needs_check = true;
                self.retry(purpose, format!("{}: {message}", code.as_str()), now);
            }
            (RejectionCode::InvalidRequest | RejectionCode::InvalidJson, _) => {
                let key = job.key.clone();
                match &purpose {
                    Purpose::Final { .. } => {
                        // The details were refused: the status matters more than they do.
                        if let Some((_, d)) = job.decided.as_mut() {
                            *d = StatusDetails::default();
                        }
                    }
                    _ => job.progress = None,
                }
                self.event(
                    AgentEventKind::Retrying,
                    Some(&key),
                    ExecutionStatus::NotSet,
                    format!(
                        "{}: {message}; sent again without status details",
                        code.as_str()
                    ),
                );
            }
            _ => self.retry(purpose, format!("{}: {message}", code.as_str()), now),
        }
    }

    // ------------------------------------------------------------------ handler calls

    fn handler_job(&mut self, key: &Key) -> Result<&mut Job> {
        let job = self
            .job
            .as_mut()
            .filter(|j| &j.key == key)
            .ok_or_else(|| Error::new(jobs_result::JobEnded, "this job has ended"))?;
        match job.ended {
            Some(s) if !is_device_final(s) => Err(Error::new(
                jobs_result::Cancelled,
                format!("the job was {} at the service", s.as_str()),
            )),
            Some(_) => Err(Error::new(jobs_result::JobEnded, "this job has ended")),
            None if job.decided.is_some() => Err(Error::new(
                jobs_result::JobEnded,
                "this job already has its final status",
            )),
            None => Ok(job),
        }
    }

    /// The handler's progress: replaces any not yet sent.
    pub fn progress(
        &mut self,
        key: &Key,
        details: StatusDetails,
        step_timeout: Option<i64>,
        now: Instant,
    ) -> Result<()> {
        let job = self.handler_job(key)?;
        job.progress = Some((details, step_timeout));
        self.pump(now);
        Ok(())
    }

    /// The handler's final status (SUCCEEDED, FAILED or REJECTED).
    pub fn decide(
        &mut self,
        key: &Key,
        status: ExecutionStatus,
        details: StatusDetails,
        now: Instant,
    ) -> Result<()> {
        if !is_device_final(status) {
            return Err(Error::new(
                jobs_result::InvalidStatus,
                format!("{} is not a final status a device sets", status.as_str()),
            ));
        }
        let job = self.handler_job(key)?;
        job.progress = None;
        job.decided = Some((status, details.clone()));
        self.journal(JournalOp::Decide {
            key: key.clone(),
            status,
            details,
        });
        self.pump(now);
        Ok(())
    }

    /// Checks that the handler of `key` may still save a checkpoint.
    pub fn may_checkpoint(&mut self, key: &Key) -> Result<()> {
        self.handler_job(key).map(|_| ())
    }

    /// The handler returned: a job without a final status ends FAILED.
    pub fn handler_returned(&mut self, key: &Key, now: Instant) {
        let Some(job) = self.job.as_mut().filter(|j| &j.key == key) else {
            return;
        };
        job.handler_running = false;
        if job.ended.is_none() && job.decided.is_none() {
            let details = reason_details("the handler returned without a final status");
            job.progress = None;
            job.decided = Some((ExecutionStatus::Failed, details.clone()));
            self.journal(JournalOp::Decide {
                key: key.clone(),
                status: ExecutionStatus::Failed,
                details,
            });
        }
        self.pump(now);
    }

    // ------------------------------------------------------------------ decisions

    fn progress_acknowledged(&mut self, key: &Key, details: &StatusDetails) {
        self.counters.progress_sent += 1;
        self.event(
            AgentEventKind::ProgressSent,
            Some(key),
            ExecutionStatus::InProgress,
            details.to_json(),
        );
    }

    /// The job's final status was acknowledged (or the service shows it).
    fn finish(&mut self, status: ExecutionStatus) {
        let Some((key, _)) = self.end_job(status) else {
            return;
        };
        self.counters.finished += 1;
        self.event(
            AgentEventKind::JobFinished,
            Some(&key),
            status,
            String::new(),
        );
    }

    /// Ends the current job with `status`: nothing more is sent for it, the journal records it
    /// finished, and it is remembered so it never runs again. Returns its key and whether its
    /// handler still runs.
    fn end_job(&mut self, status: ExecutionStatus) -> Option<(Key, bool)> {
        let job = self.job.as_mut()?;
        job.ended = Some(status);
        job.progress = None;
        let ended = (job.key.clone(), job.handler_running);
        self.journal(JournalOp::Finish {
            key: ended.0.clone(),
            status,
        });
        self.remember(ended.0.clone(), status);
        Some(ended)
    }

    /// The service cancelled, removed or timed out the job (or ended it otherwise).
    fn gone(&mut self, status: ExecutionStatus) {
        if let Some(job) = self.job.as_mut() {
            job.decided = None;
            job.run_pending = false;
        }
        let Some((key, running)) = self.end_job(status) else {
            return;
        };
        self.counters.cancelled += 1;
        if running {
            self.out.push(Action::TellCancelled {
                key: key.clone(),
                status,
            });
        }
        self.event(
            AgentEventKind::JobCancelled,
            Some(&key),
            status,
            format!("the service shows the job {}", status.as_str()),
        );
    }

    fn remember(&mut self, key: Key, status: ExecutionStatus) {
        if self.finished.insert(key.clone(), status).is_none() {
            self.finished_order.push_back(key);
        }
        while self.finished_order.len() > self.cfg.finished_capacity.max(1) {
            if let Some(old) = self.finished_order.pop_front() {
                self.finished.remove(&old);
            }
        }
    }

    /// Puts back what a request that will not be answered was carrying.
    fn restore(&mut self, purpose: Purpose) {
        match purpose {
            Purpose::StartNext => self.want_next = true,
            Purpose::Describe { key, .. } => {
                if let Some(j) = self.job.as_mut().filter(|j| j.key == key) {
                    j.needs_check = true;
                }
            }
            Purpose::Progress {
                key,
                details,
                step_timeout,
            } => {
                if let Some(j) = self
                    .job
                    .as_mut()
                    .filter(|j| j.key == key && j.progress.is_none() && j.decided.is_none())
                {
                    j.progress = Some((details, step_timeout));
                }
            }
            Purpose::Final { .. } => {}
        }
    }

    fn retry(&mut self, purpose: Purpose, reason: String, now: Instant) {
        let key = purpose_key(&purpose);
        self.restore(purpose);
        self.attempt = self.attempt.saturating_add(1);
        let cap = self.cfg.backoff_max.max(self.cfg.backoff_base);
        let grown = self
            .cfg
            .backoff_base
            .saturating_mul(1u32 << self.attempt.min(16).saturating_sub(1));
        let ceiling = grown.min(cap).as_millis() as u64;
        // Full jitter, with a floor of half the base so retries never spin.
        let floor = self.cfg.backoff_base.as_millis() as u64 / 2;
        let delay = Duration::from_millis(floor.max(self.rng.u64(0..=ceiling.max(1))));
        self.retry_at = Some(now + delay);
        self.counters.retries += 1;
        self.event(
            AgentEventKind::Retrying,
            key.as_ref(),
            ExecutionStatus::NotSet,
            format!("{reason}; retrying in {} ms", delay.as_millis()),
        );
    }

    fn send(&mut self, request: JobsRequest, purpose: Purpose) {
        let id = self.next_id;
        self.next_id += 1;
        self.in_flight = Some((id, purpose));
        self.out.push(Action::Send { id, request });
    }

    /// Decides what to do next: at most one request in flight, nothing while offline.
    fn pump(&mut self, now: Instant) {
        if !self.started || self.closed || self.in_flight.is_some() {
            return;
        }
        // A handler is started whatever the link: it needs no network to begin.
        if let Some(job) = self.job.as_mut() {
            if job.run_pending && !job.needs_check && job.ended.is_none() {
                job.run_pending = false;
                job.handler_running = true;
                let action = Action::Run {
                    key: job.key.clone(),
                    operation: job.operation.clone(),
                    document: job.document.clone().unwrap_or_else(|| "{}".into()),
                    version: job.version,
                    resumed: job.resumed,
                    checkpoint: job.checkpoint.clone(),
                };
                let (kind, key) = if job.resumed {
                    (AgentEventKind::JobResumed, job.key.clone())
                } else {
                    (AgentEventKind::JobStarted, job.key.clone())
                };
                self.out.push(action);
                if kind == AgentEventKind::JobResumed {
                    self.counters.resumed += 1;
                } else {
                    self.counters.started += 1;
                }
                self.event(kind, Some(&key), ExecutionStatus::InProgress, String::new());
            }
        }
        // An ended job whose handler returned is done with, online or not (a stop waits for it).
        if let Some(job) = &self.job {
            if job.ended.is_some() {
                if job.handler_running {
                    return;
                }
                self.job = None;
                self.want_next = true;
            }
        }
        if !self.online || self.retry_at.is_some_and(|t| now < t) {
            return;
        }
        self.retry_at = None;
        let Some(job) = self.job.as_mut() else {
            if self.want_next && !self.stopping {
                self.send(
                    JobsRequest::StartNext {
                        details: None,
                        step_timeout: self.cfg.step_timeout_minutes,
                    },
                    Purpose::StartNext,
                );
            }
            return;
        };
        let key = job.key.clone();
        if job.needs_check {
            job.needs_check = false;
            let check = job.check_seq;
            let include_job_document = job.run_pending && job.document.is_none();
            return self.send(
                JobsRequest::Describe {
                    job_id: key.job_id.clone(),
                    execution_number: key.execution_number,
                    include_job_document,
                },
                Purpose::Describe { key, check },
            );
        }
        if let Some((status, details)) = job.decided.clone() {
            let request = update(job, status, Some(details), None);
            return self.send(request, Purpose::Final { key });
        }
        if job.progress.is_some() {
            let due = job
                .progress_sent_at
                .map_or(now, |t| t + self.cfg.progress_interval);
            if now < due {
                return;
            }
            let (details, step_timeout) = job.progress.take().unwrap_or_default();
            let request = update(
                job,
                ExecutionStatus::InProgress,
                Some(details.clone()),
                step_timeout,
            );
            self.send(
                request,
                Purpose::Progress {
                    key,
                    details,
                    step_timeout,
                },
            );
        }
    }

    fn journal(&mut self, op: JournalOp) {
        self.out.push(Action::Journal(op));
    }

    fn event(
        &mut self,
        kind: AgentEventKind,
        key: Option<&Key>,
        status: ExecutionStatus,
        reason: String,
    ) {
        self.out.push(Action::Event(AgentEvent {
            kind,
            key: key.cloned(),
            status,
            reason,
        }));
    }
}

fn update(
    job: &Job,
    status: ExecutionStatus,
    details: Option<StatusDetails>,
    step_timeout: Option<i64>,
) -> JobsRequest {
    JobsRequest::Update {
        job_id: job.key.job_id.clone(),
        status,
        details: details.filter(|d| !d.is_empty()),
        expected_version: job.version,
        execution_number: job.key.execution_number,
        include_job_execution_state: true,
        include_job_document: false,
        step_timeout,
    }
}

/// The same key/value pairs, whatever their order.
fn same_details(a: &[(String, String)], b: &[(String, String)]) -> bool {
    let mut a: Vec<_> = a.iter().collect();
    let mut b: Vec<_> = b.iter().collect();
    a.sort();
    b.sort();
    a == b
}

fn purpose_key(p: &Purpose) -> Option<Key> {
    match p {
        Purpose::StartNext => None,
        Purpose::Describe { key, .. } | Purpose::Progress { key, .. } | Purpose::Final { key } => {
            Some(key.clone())
        }
    }
}

/// The job ids a notify message lists as pending (in progress or queued).
pub fn pending_job_ids(ev: &crate::jobs::event::JobsEvent) -> Vec<String> {
    let mut seen = HashSet::new();
    ev.in_progress_jobs()
        .iter()
        .chain(ev.queued_jobs())
        .filter(|s| seen.insert(s.job_id.clone()))
        .map(|s| s.job_id.clone())
        .collect()
}

#[cfg(test)]
#[path = "machine_tests.rs"]
mod tests;
