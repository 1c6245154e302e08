//! The job agent: runs each job of a thing through its handler to one final status, once,
//! across disconnects, cancellations and restarts.
//!
//! [`machine`] decides; this module carries the decisions out. Two threads per running agent:
//! - the agent thread owns the machine and the journal. Every input (a reply, a notification,
//!   the link going up or down, a handler's call) arrives on its channel; it applies the
//!   machine's actions in order: journal first, then requests, handlers and events;
//! - the worker thread runs the handlers, one job at a time, so a handler may block for the
//!   whole job.
//!
//! The agent has its own jobs client on the user's connection (its own client token prefix,
//! gate and notification handlers), so it never takes the user's callbacks away.

pub mod machine;
mod store;

use self::machine::{
    exec_info, pending_job_ids, Action, AgentCounters, AgentEvent, Key, Machine, MachineConfig,
    Reply,
};
use self::store::Store;
use crate::error::{jobs_result, Error, Result};
use crate::jobs::client::JobsClient;
use crate::jobs::event::JobsEvent;
use crate::jobs::requests::{Deliver, Offline, Outcome, RequestOptions};
use crate::jobs::types::{AgentEventKind, ExecutionStatus, ResumePolicy, TopicType};
use crate::jobs::validate::StatusDetails;
use crate::mqtt::connection::{Connection, Extension};
use crate::mqtt::types::Status;
use crate::runtime::{self, Gate};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{channel, sync_channel, Receiver, RecvTimeoutError, Sender, SyncSender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a handler's call waits for the agent thread before giving up (it answers in
/// microseconds, or after one journal write).
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest the agent thread sleeps without looking at its machine.
const IDLE_WAKE: Duration = Duration::from_secs(1);

/// The agent's settings.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// The document path naming the operation (default `operation`).
    pub operation_path: String,
    /// The journal file; `None`: state is kept in memory only (nothing survives a restart).
    pub journal_path: Option<PathBuf>,
    /// `stepTimeoutInMinutes` sent with start-next; `None`: none.
    pub step_timeout_minutes: Option<i64>,
    /// The shortest time between two progress updates of a job (zero: no limit).
    pub progress_interval: Duration,
    /// Each request's deadline.
    pub request_timeout: Duration,
    /// The first retry delay and the cap of its doubling.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
}

impl Default for AgentConfig {
    fn default() -> Self {
        // The decisions' defaults have one home: the machine's config.
        let m = MachineConfig::default();
        AgentConfig {
            operation_path: m.operation_path,
            journal_path: None,
            step_timeout_minutes: m.step_timeout_minutes,
            progress_interval: m.progress_interval,
            request_timeout: RequestOptions::default().timeout,
            backoff_base: m.backoff_base,
            backoff_max: m.backoff_max,
        }
    }
}

impl AgentConfig {
    pub fn validate(&self) -> Result<()> {
        crate::jobs::document::parse_path(&self.operation_path).map_err(|e| {
            Error::new(
                jobs_result::InvalidPath,
                format!("operation path {:?}: {e}", self.operation_path),
            )
        })?;
        if let Some(m) = self.step_timeout_minutes {
            crate::jobs::validate::validate_step_timeout(m)?;
        }
        RequestOptions {
            timeout: self.request_timeout,
            ..RequestOptions::default()
        }
        .validate()?;
        if self.backoff_base.is_zero() || self.backoff_max < self.backoff_base {
            return Err(Error::new(
                jobs_result::InvalidArgument,
                "the backoff base must be above zero and at most its maximum",
            ));
        }
        if self.progress_interval > Duration::from_secs(24 * 3600) {
            return Err(Error::new(
                jobs_result::InvalidArgument,
                "the progress interval is at most a day",
            ));
        }
        Ok(())
    }
}

/// A job as its handler sees it. The handler's calls go to the agent thread.
pub struct Job {
    key: Key,
    operation: String,
    document: String,
    version: u64,
    resumed: bool,
    checkpoint: Option<Vec<u8>>,
    cancelled: AtomicBool,
    cancelled_status: Mutex<ExecutionStatus>,
    tx: Sender<Msg>,
}

impl Job {
    pub fn job_id(&self) -> &str {
        &self.key.job_id
    }
    pub fn execution_number(&self) -> u64 {
        self.key.execution_number
    }
    pub fn version_number(&self) -> u64 {
        self.version
    }
    pub fn operation(&self) -> &str {
        &self.operation
    }
    /// The job document as the service sent it.
    pub fn document(&self) -> &str {
        &self.document
    }
    /// True when the job was running when the device stopped and is handed back now.
    pub fn resumed(&self) -> bool {
        self.resumed
    }
    /// The checkpoint saved before the restart (for a resumed job).
    pub fn saved_checkpoint(&self) -> Option<&[u8]> {
        self.checkpoint.as_deref()
    }
    /// True once the service cancelled, removed or timed out the job.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }
    /// What the service shows for a cancelled job (CANCELED, REMOVED, TIMED_OUT).
    pub fn cancelled_status(&self) -> ExecutionStatus {
        *lock(&self.cancelled_status)
    }

    /// Reports progress (IN_PROGRESS with `details`); replaces progress not yet sent. Does not
    /// wait for the service.
    pub fn progress(&self, details: StatusDetails, step_timeout: Option<i64>) -> Result<()> {
        if let Some(m) = step_timeout {
            crate::jobs::validate::validate_update_step_timeout(m)?;
        }
        self.call(|reply| Msg::Progress {
            key: self.key.clone(),
            details,
            step_timeout,
            reply,
        })
    }

    /// Decides the job's final status (SUCCEEDED, FAILED or REJECTED). It is journaled before
    /// this returns and sent until acknowledged, across reconnects and restarts.
    pub fn finish(&self, status: ExecutionStatus, details: StatusDetails) -> Result<()> {
        self.call(|reply| Msg::Decide {
            key: self.key.clone(),
            status,
            details,
            reply,
        })
    }

    /// Saves `bytes` in the journal for a resumed run (written before this returns).
    pub fn checkpoint(&self, bytes: &[u8]) -> Result<()> {
        self.call(|reply| Msg::Checkpoint {
            key: self.key.clone(),
            bytes: bytes.to_vec(),
            reply,
        })
    }

    fn call(&self, msg: impl FnOnce(SyncSender<Result<()>>) -> Msg) -> Result<()> {
        let (reply, answer) = sync_channel(1);
        let closed = || Error::new(jobs_result::Closed, "the agent was stopped");
        self.tx.send(msg(reply)).map_err(|_| closed())?;
        match answer.recv_timeout(CALL_TIMEOUT) {
            Ok(r) => r,
            Err(RecvTimeoutError::Timeout) => Err(Error::new(
                jobs_result::Timeout,
                "the agent thread did not answer",
            )),
            Err(RecvTimeoutError::Disconnected) => Err(closed()),
        }
    }
}

/// Runs a job on the worker thread.
pub type JobFn = Arc<dyn Fn(&Arc<Job>) + Send + Sync>;
/// Told that a running job is gone at the service, on the callback thread.
pub type CancelFn = Arc<dyn Fn(&Arc<Job>) + Send + Sync>;
/// Receives the agent's events on the callback thread.
pub type AgentEventFn = Arc<dyn Fn(&AgentEvent) + Send + Sync>;

/// A handler as registered.
#[derive(Clone)]
pub struct Registration {
    pub run: JobFn,
    pub on_cancel: Option<CancelFn>,
    pub resume: ResumePolicy,
}

/// The agent thread's inputs.
enum Msg {
    Online,
    Offline,
    Closed,
    NotifyNext(Arc<JobsEvent>),
    Notify(Arc<JobsEvent>),
    Reply(u64, Outcome),
    Progress {
        key: Key,
        details: StatusDetails,
        step_timeout: Option<i64>,
        reply: SyncSender<Result<()>>,
    },
    Decide {
        key: Key,
        status: ExecutionStatus,
        details: StatusDetails,
        reply: SyncSender<Result<()>>,
    },
    Checkpoint {
        key: Key,
        bytes: Vec<u8>,
        reply: SyncSender<Result<()>>,
    },
    HandlerReturned(Key),
    /// Take no new job; answered once the machine knows, so the stop's wait for idleness
    /// cannot see a state from before it.
    Stop(SyncSender<()>),
    Shutdown,
}

/// The connection's agents, told when the link goes up or down.
#[derive(Default)]
pub struct LinkWatch {
    listeners: Mutex<Vec<(u64, Sender<Msg>)>>,
    next: AtomicU64,
}

impl LinkWatch {
    fn add(&self, tx: Sender<Msg>) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        lock(&self.listeners).push((id, tx));
        id
    }
    fn remove(&self, id: u64) {
        lock(&self.listeners).retain(|(i, _)| *i != id);
    }
    fn tell(&self, msg: fn() -> Msg) {
        for (_, tx) in lock(&self.listeners).iter() {
            let _ = tx.send(msg());
        }
    }
}

impl Extension for LinkWatch {
    fn online(&self) {
        self.tell(|| Msg::Online);
    }
    fn offline(&self) {
        self.tell(|| Msg::Offline);
    }
    fn user_disconnected(&self) {
        self.tell(|| Msg::Offline);
    }
    fn closed(&self) {
        self.tell(|| Msg::Closed);
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What a running agent holds.
struct Running {
    tx: Sender<Msg>,
    agent_thread: JoinHandle<()>,
    worker: JoinHandle<()>,
    link_id: u64,
    /// Released (after the threads stopped) when this is dropped.
    _claim: JournalClaim,
}

/// The journal files running agents of this process write: one agent per file, since each
/// keeps the whole file's state and would overwrite another's.
static JOURNALS_IN_USE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

struct JournalClaim(Option<PathBuf>);

impl JournalClaim {
    fn take(path: Option<&std::path::Path>) -> Result<JournalClaim> {
        let Some(path) = path else {
            return Ok(JournalClaim(None));
        };
        // The directory resolved, so two spellings of one file are one claim.
        let key = match (path.parent(), path.file_name()) {
            (Some(dir), Some(name)) if !dir.as_os_str().is_empty() => dir
                .canonicalize()
                .map(|d| d.join(name))
                .unwrap_or_else(|_| path.to_path_buf()),
            _ => std::env::current_dir()
                .map(|d| d.join(path))
                .unwrap_or_else(|_| path.to_path_buf()),
        };
        let mut used = lock(&JOURNALS_IN_USE);
        if used.contains(&key) {
            return Err(Error::new(
                jobs_result::InvalidState,
                format!(
                    "the journal {} is in use by another running agent: give each agent its own",
                    key.display()
                ),
            ));
        }
        used.push(key.clone());
        Ok(JournalClaim(Some(key)))
    }
}

impl Drop for JournalClaim {
    fn drop(&mut self) {
        if let Some(k) = &self.0 {
            lock(&JOURNALS_IN_USE).retain(|p| p != k);
        }
    }
}

/// Shared between the agent's handle and its agent thread.
struct AgentStatus {
    idle: Mutex<bool>,
    changed: Condvar,
    counters: Mutex<AgentCounters>,
}

/// A job agent for one thing.
pub struct Agent {
    client: Arc<JobsClient>,
    cfg: AgentConfig,
    handlers: Mutex<HashMap<Option<String>, Registration>>,
    on_event: Mutex<Option<AgentEventFn>>,
    gate: Arc<Gate>,
    running: Mutex<Option<Running>>,
    status: Arc<AgentStatus>,
}

impl Agent {
    /// An agent for `thing` on `conn`, with its own jobs client (client token prefix
    /// `client_token` or the thing name; `qos` 0 or 1).
    pub fn new(
        conn: Connection,
        thing: &str,
        client_token: Option<&str>,
        qos: u8,
        cfg: AgentConfig,
    ) -> Result<Agent> {
        cfg.validate()?;
        let client = JobsClient::new(conn, false, thing, client_token, qos)?;
        Ok(Agent {
            client: Arc::new(client),
            cfg,
            handlers: Mutex::new(HashMap::new()),
            on_event: Mutex::new(None),
            gate: Gate::new(),
            running: Mutex::new(None),
            status: Arc::new(AgentStatus {
                idle: Mutex::new(true),
                changed: Condvar::new(),
                counters: Mutex::new(AgentCounters::default()),
            }),
        })
    }

    pub fn thing_name(&self) -> &str {
        self.client.thing_name()
    }

    fn refuse_while_running(&self, what: &str) -> Result<()> {
        if lock(&self.running).is_some() {
            return Err(Error::new(
                jobs_result::InvalidState,
                format!("{what} while the agent runs: stop it first"),
            ));
        }
        Ok(())
    }

    /// Registers (or with `None` removes) the handler of `operation`; `None` for the default
    /// handler of every other operation. Refused while the agent runs, and for an operation
    /// that already has one.
    pub fn set_handler(&self, operation: Option<&str>, reg: Option<Registration>) -> Result<()> {
        self.refuse_while_running("a handler cannot be changed")?;
        if let Some(op) = operation {
            if op.is_empty() || op.len() > 256 {
                return Err(Error::new(
                    jobs_result::InvalidArgument,
                    "an operation name is 1 to 256 bytes",
                ));
            }
        }
        let mut handlers = lock(&self.handlers);
        let key = operation.map(str::to_owned);
        match reg {
            Some(r) => {
                if handlers.contains_key(&key) {
                    return Err(Error::new(
                        jobs_result::InvalidState,
                        format!(
                            "{} already has a handler: remove it first",
                            operation.map_or("the default".into(), |o| format!("operation {o:?}"))
                        ),
                    ));
                }
                handlers.insert(key, r);
            }
            None => {
                handlers.remove(&key);
            }
        }
        Ok(())
    }

    /// Sets (or removes) the event callback. Refused while the agent runs.
    pub fn set_event_handler(&self, f: Option<AgentEventFn>) -> Result<()> {
        self.refuse_while_running("the event callback cannot be changed")?;
        *lock(&self.on_event) = f;
        Ok(())
    }

    pub fn counters(&self) -> AgentCounters {
        *lock(&self.status.counters)
    }

    /// Starts the agent: reads the journal, then takes jobs as the service offers them.
    pub fn start(&self) -> Result<()> {
        let mut running = lock(&self.running);
        if running.is_some() {
            return Err(Error::new(
                jobs_result::InvalidState,
                "the agent is already running",
            ));
        }
        let handlers = lock(&self.handlers).clone();
        if handlers.is_empty() {
            return Err(Error::new(
                jobs_result::InvalidState,
                "no handler is registered",
            ));
        }
        let mut mcfg = MachineConfig {
            operation_path: self.cfg.operation_path.clone(),
            step_timeout_minutes: self.cfg.step_timeout_minutes,
            progress_interval: self.cfg.progress_interval,
            backoff_base: self.cfg.backoff_base,
            backoff_max: self.cfg.backoff_max,
            seed: fastrand::u64(..),
            ..MachineConfig::default()
        };
        for (op, reg) in &handlers {
            match op {
                Some(op) => {
                    mcfg.handlers.insert(op.clone(), reg.resume);
                }
                None => mcfg.default_handler = Some(reg.resume),
            }
        }
        let thing = self.client.thing_name().to_owned();
        let claim = JournalClaim::take(self.cfg.journal_path.as_deref())?;
        let (store, recovered, problems) = Store::open(self.cfg.journal_path.as_deref(), &thing);
        let (tx, rx) = channel();
        let (work_tx, work_rx) = channel::<(Arc<Job>, Registration)>();
        let on_event = lock(&self.on_event).clone();

        // Notifications and the link state feed the agent thread.
        let link = self.client.connection().extension::<LinkWatch>();
        let link_id = link.add(tx.clone());
        for (topic_type, wrap) in [
            (
                TopicType::NotifyNext,
                Msg::NotifyNext as fn(Arc<JobsEvent>) -> Msg,
            ),
            (TopicType::Notify, Msg::Notify),
        ] {
            let tx = tx.clone();
            let f: crate::jobs::requests::EventFn = Arc::new(move |ev: &Arc<JobsEvent>| {
                let _ = tx.send(wrap(ev.clone()));
            });
            if let Err(e) = self.client.set_event_handler(topic_type, Some(f)) {
                link.remove(link_id);
                return Err(e);
            }
        }

        let worker = {
            let tx = tx.clone();
            std::thread::Builder::new()
                .name("iotjobs-agent-worker".into())
                .spawn(move || {
                    for (job, reg) in work_rx {
                        let run = reg.run.clone();
                        let j = job.clone();
                        // A panicking handler ends its job like one that returned.
                        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(&j)));
                        let _ = tx.send(Msg::HandlerReturned(job.key.clone()));
                    }
                })
                .map_err(|e| Error::new(jobs_result::Internal, format!("no worker thread: {e}")))?
        };
        let thread = AgentThread {
            machine: Machine::new(mcfg),
            store,
            client: self.client.clone(),
            tx: tx.clone(),
            work_tx,
            handlers,
            jobs: HashMap::new(),
            gate: self.gate.clone(),
            on_event,
            request_timeout: self.cfg.request_timeout,
            status: self.status.clone(),
        };
        for p in problems {
            thread.event(AgentEvent {
                kind: AgentEventKind::JournalError,
                key: None,
                status: ExecutionStatus::NotSet,
                reason: p,
            });
        }
        let online = self.client.connection().status() == Status::Online
            || self.client.connection().status() == Status::Draining;
        let agent_thread = std::thread::Builder::new()
            .name("iotjobs-agent".into())
            .spawn(move || thread.run(rx, recovered, online))
            .map_err(|e| Error::new(jobs_result::Internal, format!("no agent thread: {e}")))?;
        *running = Some(Running {
            tx,
            agent_thread,
            worker,
            link_id,
            _claim: claim,
        });
        Ok(())
    }

    /// Stops taking jobs, waits up to `timeout` for the job under way to reach its final
    /// status, then stops the agent's threads. Returns after the running handler, if any, has
    /// returned. `Ok(true)`: nothing was left under way; `Ok(false)`: a job is left in the
    /// journal for the next start.
    pub fn stop(&self, timeout: Duration) -> Result<bool> {
        let Some(run) = lock(&self.running).take() else {
            return Err(Error::new(
                jobs_result::InvalidState,
                "the agent is not running",
            ));
        };
        let (stopped, ack) = sync_channel(1);
        if run.tx.send(Msg::Stop(stopped)).is_ok() {
            let _ = ack.recv_timeout(CALL_TIMEOUT);
        }
        let end = Instant::now() + timeout;
        let mut idle = lock(&self.status.idle);
        while !*idle {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            idle = self
                .status
                .changed
                .wait_timeout(idle, left)
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
        let finished = *idle;
        drop(idle);
        self.client
            .connection()
            .extension::<LinkWatch>()
            .remove(run.link_id);
        let _ = self.client.set_event_handler(TopicType::NotifyNext, None);
        let _ = self.client.set_event_handler(TopicType::Notify, None);
        let _ = run.tx.send(Msg::Shutdown);
        let _ = run.agent_thread.join();
        let _ = run.worker.join();
        Ok(finished)
    }

    /// Stops the agent if it runs (without waiting for the job under way) and releases its
    /// jobs client; no agent callback runs after this returns.
    pub fn close(&self) {
        if lock(&self.running).is_some() {
            let _ = self.stop(Duration::ZERO);
        }
        self.gate.close();
        self.client.close();
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.close();
    }
}

/// The agent thread's state.
struct AgentThread {
    machine: Machine,
    store: Store,
    client: Arc<JobsClient>,
    tx: Sender<Msg>,
    work_tx: Sender<(Arc<Job>, Registration)>,
    handlers: HashMap<Option<String>, Registration>,
    jobs: HashMap<Key, Arc<Job>>,
    gate: Arc<Gate>,
    on_event: Option<AgentEventFn>,
    request_timeout: Duration,
    status: Arc<AgentStatus>,
}

impl AgentThread {
    fn run(mut self, rx: Receiver<Msg>, recovered: machine::Recovered, online: bool) {
        self.machine.start(recovered, Instant::now());
        if online {
            self.machine.online(Instant::now());
        }
        self.apply();
        loop {
            let wait = self
                .machine
                .next_deadline()
                .map_or(IDLE_WAKE, |t| t.saturating_duration_since(Instant::now()))
                .min(IDLE_WAKE);
            let msg = match rx.recv_timeout(wait) {
                Ok(m) => Some(m),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => break,
            };
            let now = Instant::now();
            match msg {
                None => self.machine.tick(now),
                Some(Msg::Shutdown) => break,
                Some(m) => self.handle(m, now),
            }
            self.apply();
        }
        self.set_idle(true);
    }

    fn handle(&mut self, msg: Msg, now: Instant) {
        match msg {
            Msg::Online => self.machine.online(now),
            Msg::Offline => self.machine.offline(),
            Msg::Closed => self.machine.close(),
            Msg::NotifyNext(ev) => self.machine.notify_next(exec_info(&ev), now),
            Msg::Notify(ev) => self.machine.notify(&pending_job_ids(&ev), now),
            Msg::Reply(id, outcome) => self.machine.reply(id, Reply::of(&outcome), now),
            Msg::Progress {
                key,
                details,
                step_timeout,
                reply,
            } => {
                let r = self.machine.progress(&key, details, step_timeout, now);
                let _ = reply.try_send(r);
            }
            Msg::Decide {
                key,
                status,
                details,
                reply,
            } => {
                let r = self.machine.decide(&key, status, details, now);
                // The decision is journaled before the caller hears it was taken.
                self.apply();
                let _ = reply.try_send(r);
            }
            Msg::Checkpoint { key, bytes, reply } => {
                let r = self
                    .machine
                    .may_checkpoint(&key)
                    .and_then(|()| self.store.checkpoint(&key, &bytes));
                let _ = reply.try_send(r);
            }
            Msg::HandlerReturned(key) => {
                self.jobs.remove(&key);
                self.machine.handler_returned(&key, now);
            }
            Msg::Stop(ack) => {
                self.machine.stop();
                self.apply();
                let _ = ack.try_send(());
            }
            Msg::Shutdown => {}
        }
    }

    /// Carries out the machine's actions, in order.
    fn apply(&mut self) {
        loop {
            let actions = self.machine.take_actions();
            if actions.is_empty() {
                break;
            }
            for a in actions {
                self.act(a);
            }
        }
        *lock(&self.status.counters) = self.machine.counters();
        self.set_idle(!self.machine.busy());
    }

    fn set_idle(&self, idle: bool) {
        let mut g = lock(&self.status.idle);
        if *g != idle {
            *g = idle;
            self.status.changed.notify_all();
        }
    }

    fn act(&mut self, action: Action) {
        match action {
            Action::Journal(op) => {
                if let Err(e) = self.store.apply(&op) {
                    self.event(AgentEvent {
                        kind: AgentEventKind::JournalError,
                        key: None,
                        status: ExecutionStatus::NotSet,
                        reason: e.message,
                    });
                }
            }
            Action::Send { id, request } => {
                let opts = RequestOptions {
                    timeout: self.request_timeout,
                    // Reads are not queued: the machine asks again once online.
                    offline: Offline::FailFast,
                    client_token: None,
                };
                let tx = self.tx.clone();
                let deliver = Deliver::Callback(
                    self.client.gate(),
                    Box::new(move |o: Outcome| {
                        let _ = tx.send(Msg::Reply(id, o));
                    }),
                );
                if let Err(e) = self.client.request(&request, &opts, deliver) {
                    self.machine.reply(
                        id,
                        Reply::Failed {
                            code: e.code,
                            message: e.message,
                        },
                        Instant::now(),
                    );
                }
            }
            Action::Run {
                key,
                operation,
                document,
                version,
                resumed,
                checkpoint,
            } => {
                let reg = self
                    .handlers
                    .get(&Some(operation.clone()))
                    .or_else(|| self.handlers.get(&None))
                    .cloned();
                let job = Arc::new(Job {
                    key: key.clone(),
                    operation,
                    document,
                    version,
                    resumed,
                    checkpoint,
                    cancelled: AtomicBool::new(false),
                    cancelled_status: Mutex::new(ExecutionStatus::NotSet),
                    tx: self.tx.clone(),
                });
                // Busy before the handler can run: a stop must never see this job as absent.
                self.set_idle(false);
                let sent = reg.is_some_and(|reg| self.work_tx.send((job.clone(), reg)).is_ok());
                if sent {
                    self.jobs.insert(key, job);
                } else {
                    self.machine.handler_returned(&key, Instant::now());
                }
            }
            Action::TellCancelled { key, status } => {
                if let Some(job) = self.jobs.get(&key) {
                    *lock(&job.cancelled_status) = status;
                    job.cancelled.store(true, Ordering::SeqCst);
                    let on_cancel = self
                        .handlers
                        .get(&Some(job.operation.clone()))
                        .or_else(|| self.handlers.get(&None))
                        .and_then(|r| r.on_cancel.clone());
                    if let Some(f) = on_cancel {
                        let job = job.clone();
                        runtime::post(&self.gate, move || f(&job));
                    }
                }
            }
            Action::Event(e) => self.event(e),
        }
    }

    fn event(&self, e: AgentEvent) {
        if let Some(f) = &self.on_event {
            let f = f.clone();
            runtime::post(&self.gate, move || f(&e));
        }
    }
}
