//! The job agent from C: `jobs_agent_*` and the job handle `jobs_job_*`.
//!
//! A `jobs_job` handle is made for each job run and stays allocated until its agent is freed,
//! so a handle kept past its handler's return is still safe to pass: every call on it then
//! returns `JOBS_RESULT_JOB_ENDED` (or NULL/0/false for getters).

use super::document::jobs_document;
use super::jobs::jobs_client;
use super::{
    args_arg, details_arg, guard, guard_or, handle_arg, init, opt_str_arg, step_timeout_arg,
    UserData,
};
use crate::error::{jobs_result, Error, Result};
use crate::jobs::agent::machine::{AgentCounters, AgentEvent};
use crate::jobs::agent::{Agent, AgentConfig, Job, Registration};
use crate::jobs::document::Document;
use crate::jobs::journal::MAX_CHECKPOINT_BYTES;
use crate::jobs::types::{ExecutionStatus, ResumePolicy};
use std::ffi::{c_char, c_void, CString};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A job agent: runs each job of one thing through its handler to one final status, once.
/// Opaque; made by `jobs_agent_new`, released by `jobs_agent_free`.
pub struct jobs_agent {
    agent: Agent,
    /// Every job handle given out, kept until the agent is freed. Boxed: C holds their
    /// addresses, which must not move when the list grows.
    #[allow(clippy::vec_box)]
    handles: Arc<Mutex<Vec<Box<jobs_job>>>>,
}

/// A job as its handler sees it. Borrowed: valid until its agent is freed; its job's data
/// (strings, document) until the handler returns.
pub struct jobs_job {
    state: Mutex<Option<JobView>>,
}

struct JobView {
    job: Arc<Job>,
    job_id: CString,
    operation: CString,
    document_text: CString,
    document: Option<jobs_document>,
}

/// Called with each agent event on the callback thread (behind the agent's gate: never after
/// `jobs_agent_free` returns). `event` and its strings are borrowed until the callback returns.
pub type jobs_agent_event_callback =
    Option<unsafe extern "C" fn(user_data: *mut c_void, event: *const jobs_agent_event)>;

/// Runs one job, on the agent's worker thread; may block for the whole job. The job ends with
/// the status given through `jobs_job_succeed`, `_fail` or `_reject`; returning without one
/// ends it FAILED with a reason.
pub type jobs_job_handler =
    Option<unsafe extern "C" fn(user_data: *mut c_void, job: *mut jobs_job)>;

/// Told that a running job was cancelled, removed or timed out at the service, on the callback
/// thread (not the handler's); must not block. The handler should stop and return.
pub type jobs_job_cancel_callback =
    Option<unsafe extern "C" fn(user_data: *mut c_void, job: *mut jobs_job)>;

/// An agent event.
#[repr(C)]
pub struct jobs_agent_event {
    /// A `jobs_agent_event_kind`.
    pub kind: u32,
    /// The job it concerns, or NULL.
    pub job_id: *const c_char,
    /// Its execution number; 0 with no job.
    pub execution_number: u64,
    /// A `jobs_status`: the final or service status for FINISHED and CANCELLED events.
    pub status: u32,
    /// Why, in words (never NULL; may be empty).
    pub reason: *const c_char,
}

/// The agent's settings. Initialise with `jobs_agent_config_init`, then change fields.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct jobs_agent_config {
    /// `sizeof(jobs_agent_config)`, set by the init function.
    pub struct_size: usize,
    /// The journal file (its directory must exist); NULL: memory only, nothing survives a
    /// restart. Copied by `jobs_agent_new`.
    pub journal_path: *const c_char,
    /// The document path naming the operation; NULL: `"operation"`. Copied.
    pub operation_path: *const c_char,
    /// `stepTimeoutInMinutes` sent with start-next; 0: none.
    pub step_timeout_minutes: i64,
    /// The shortest time between two progress updates of a job; 0: no limit.
    pub progress_interval_ms: u32,
    /// Each request's deadline (default 10000).
    pub request_timeout_ms: u32,
    /// The first retry delay (default 500) and its cap (default 30000).
    pub backoff_base_ms: u32,
    pub backoff_max_ms: u32,
    /// Agent events; may be NULL.
    pub on_event: jobs_agent_event_callback,
    /// Passed to `on_event`.
    pub user_data: *mut c_void,
}

/// A handler's registration. Initialise with `jobs_agent_handler_init`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct jobs_agent_handler {
    /// `sizeof(jobs_agent_handler)`, set by the init function.
    pub struct_size: usize,
    /// Runs the job (required).
    pub run: jobs_job_handler,
    /// Told of a cancellation; may be NULL (the handler can poll `jobs_job_is_cancelled`).
    pub on_cancel: jobs_job_cancel_callback,
    /// A `jobs_resume_policy`: what a restart does with a job this handler was running.
    pub resume: u32,
    /// Passed to `run` and `on_cancel`.
    pub user_data: *mut c_void,
}

/// The agent's counts. Initialise `struct_size` with `sizeof(jobs_agent_counters)`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct jobs_agent_counters {
    pub struct_size: usize,
    pub started: u64,
    pub resumed: u64,
    pub progress_sent: u64,
    pub finished: u64,
    pub cancelled: u64,
    pub rejected: u64,
    pub retries: u64,
    pub duplicates_suppressed: u64,
}

fn agent_arg<'a>(a: *const jobs_agent) -> Result<&'a jobs_agent> {
    // SAFETY: the header's contract: NULL or a live agent.
    unsafe { handle_arg(a, "agent") }
}

/// The job view of a live handler, or why there is none.
fn view<R>(job: *const jobs_job, f: impl FnOnce(&JobView) -> Result<R>) -> Result<R> {
    // SAFETY: the header's contract: NULL or a handle given to a handler of a live agent.
    let j = unsafe { handle_arg(job, "job") }?;
    let state = j.state.lock().unwrap_or_else(|e| e.into_inner());
    match state.as_ref() {
        Some(v) => f(v),
        None => Err(Error::new(
            jobs_result::JobEnded,
            "the job's handler has returned",
        )),
    }
}

/// Milliseconds from C, where 0 keeps `default`.
fn ms_or(v: u32, default: Duration) -> Duration {
    if v == 0 {
        default
    } else {
        Duration::from_millis(v.into())
    }
}

fn c_ms(d: Duration) -> u32 {
    u32::try_from(d.as_millis()).unwrap_or(u32::MAX)
}

/// Sets `cfg` to the defaults (no journal, `"operation"`, 10 s requests, 0.5 s to 30 s
/// backoff) and its `struct_size`. Returns `JOBS_RESULT_OK` or `_NULL_ARGUMENT`. Does not block.
///
/// # Safety
/// `cfg` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn jobs_agent_config_init(cfg: *mut jobs_agent_config) -> jobs_result {
    guard(|| {
        let d = AgentConfig::default();
        init(cfg, |size| jobs_agent_config {
            struct_size: size,
            journal_path: std::ptr::null(),
            operation_path: std::ptr::null(),
            step_timeout_minutes: d.step_timeout_minutes.unwrap_or(0),
            progress_interval_ms: c_ms(d.progress_interval),
            request_timeout_ms: c_ms(d.request_timeout),
            backoff_base_ms: c_ms(d.backoff_base),
            backoff_max_ms: c_ms(d.backoff_max),
            on_event: None,
            user_data: std::ptr::null_mut(),
        })
    })
}

/// Sets `handler` to the defaults (no functions, `JOBS_RESUME_POLICY_RESUME`) and its
/// `struct_size`. Returns `JOBS_RESULT_OK` or `_NULL_ARGUMENT`. Does not block.
///
/// # Safety
/// `handler` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn jobs_agent_handler_init(handler: *mut jobs_agent_handler) -> jobs_result {
    guard(|| {
        init(handler, |size| jobs_agent_handler {
            struct_size: size,
            run: None,
            on_cancel: None,
            resume: ResumePolicy::Resume.as_u32(),
            user_data: std::ptr::null_mut(),
        })
    })
}

/// Makes an agent for `client`'s thing, on `client`'s connection, with its own request
/// subscriptions and notification handlers (the client's own callbacks are left alone). The
/// client must outlive the agent. Register handlers, then `jobs_agent_start`. The caller owns
/// `*agent_out` and frees it with `jobs_agent_free`. Returns `JOBS_RESULT_OK`,
/// `_NULL_ARGUMENT`, `_INVALID_STRUCT_SIZE`, `_INVALID_UTF8`, `_INVALID_PATH` (operation path),
/// `_INVALID_ARGUMENT` (step timeout, request timeout or backoff out of range). Does not block.
///
/// # Safety
/// `client` NULL or live; `cfg` NULL or initialised by `jobs_agent_config_init`; `agent_out`
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn jobs_agent_new(
    client: *const jobs_client,
    cfg: *const jobs_agent_config,
    agent_out: *mut *mut jobs_agent,
) -> jobs_result {
    guard(|| {
        if agent_out.is_null() {
            return Err(Error::new(jobs_result::NullArgument, "agent_out is NULL"));
        }
        *agent_out = std::ptr::null_mut();
        let c = &handle_arg(client, "client")?.client;
        let cfg = *args_arg(cfg, "cfg")?;
        let d = AgentConfig::default();
        let rust_cfg = AgentConfig {
            operation_path: opt_str_arg(cfg.operation_path, "cfg->operation_path")?
                .map_or(d.operation_path, str::to_owned),
            journal_path: opt_str_arg(cfg.journal_path, "cfg->journal_path")?.map(Into::into),
            step_timeout_minutes: step_timeout_arg(cfg.step_timeout_minutes),
            progress_interval: Duration::from_millis(cfg.progress_interval_ms.into()),
            request_timeout: ms_or(cfg.request_timeout_ms, d.request_timeout),
            backoff_base: ms_or(cfg.backoff_base_ms, d.backoff_base),
            backoff_max: ms_or(cfg.backoff_max_ms, d.backoff_max),
        };
        let agent = Agent::new(
            c.connection().clone(),
            c.thing_name(),
            c.client_token(),
            c.qos(),
            rust_cfg,
        )?;
        if let Some(f) = cfg.on_event {
            let ud = UserData(cfg.user_data);
            agent.set_event_handler(Some(Arc::new(move |e: &AgentEvent| {
                let job_id = e
                    .key
                    .as_ref()
                    .and_then(|k| CString::new(k.job_id.as_str()).ok());
                let reason = CString::new(e.reason.replace('\0', " ")).unwrap_or_default();
                let ev = jobs_agent_event {
                    kind: e.kind.as_u32(),
                    job_id: job_id.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
                    execution_number: e.key.as_ref().map_or(0, |k| k.execution_number),
                    status: e.status.as_u32(),
                    reason: reason.as_ptr(),
                };
                // SAFETY: the header's contract for on_event.
                unsafe { f(ud.ptr(), &ev) }
            })))?;
        }
        *agent_out = Box::into_raw(Box::new(jobs_agent {
            agent,
            handles: Arc::new(Mutex::new(Vec::new())),
        }));
        Ok(())
    })
}

/// Stops the agent if it runs (as `jobs_agent_stop` with a zero timeout: a job under way stays
/// in the journal for the next start), waits for a running handler to return, and releases the
/// agent and every job handle it gave out. No agent callback runs after this returns. NULL is
/// ignored. Blocks while a handler runs. Must not be called from a handler or agent callback.
///
/// # Safety
/// `agent` NULL or live, not used after this call.
#[no_mangle]
pub unsafe extern "C" fn jobs_agent_free(agent: *mut jobs_agent) {
    guard_or((), || {
        if !agent.is_null() {
            let a = Box::from_raw(agent);
            a.agent.close();
            drop(a);
        }
    })
}

/// Registers the handler of jobs whose document names `operation` (at the configured path),
/// or with `operation` NULL the default handler of every other operation. With `handler` NULL,
/// removes the registration. Without a handler for its operation and no default, a job is
/// REJECTED with a reason. `handler` is copied. Returns `JOBS_RESULT_OK`, `_NULL_ARGUMENT`
/// (agent, or `handler->run`), `_INVALID_STRUCT_SIZE`, `_INVALID_UTF8`, `_INVALID_ARGUMENT`
/// (an empty or over-256-byte operation, or a resume policy out of range), `_INVALID_STATE`
/// (the agent runs, or the operation already has a handler). Does not block.
///
/// # Safety
/// `agent` NULL or live; `operation` NULL or NUL-terminated; `handler` NULL or initialised by
/// `jobs_agent_handler_init`.
#[no_mangle]
pub unsafe extern "C" fn jobs_agent_set_handler(
    agent: *mut jobs_agent,
    operation: *const c_char,
    handler: *const jobs_agent_handler,
) -> jobs_result {
    guard(|| {
        let a = agent_arg(agent)?;
        let operation = opt_str_arg(operation, "operation")?;
        if handler.is_null() {
            return a.agent.set_handler(operation, None);
        }
        let h = *args_arg(handler, "handler")?;
        let run = h
            .run
            .ok_or_else(|| Error::new(jobs_result::NullArgument, "handler->run is NULL"))?;
        let resume = super::enum_arg::<ResumePolicy>(h.resume, "handler->resume")?;
        let ud = UserData(h.user_data);
        let handles = a.handles.clone();
        let run_fn = Arc::new(move |job: &Arc<Job>| {
            let handle = Box::new(jobs_job {
                state: Mutex::new(Some(view_of(job))),
            });
            let ptr = &*handle as *const jobs_job as *mut jobs_job;
            handles
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(handle);
            // SAFETY: the header's contract for run; the handle lives until the agent is freed.
            unsafe { run(ud.ptr(), ptr) };
            // SAFETY: ptr is one of `handles`, still allocated.
            let h = unsafe { &*ptr };
            *h.state.lock().unwrap_or_else(|e| e.into_inner()) = None;
        });
        let on_cancel = h.on_cancel.map(|f| {
            let handles = a.handles.clone();
            Arc::new(move |job: &Arc<Job>| {
                let list = handles.lock().unwrap_or_else(|e| e.into_inner());
                let found = list.iter().rev().find(|h| {
                    h.state
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .as_ref()
                        .is_some_and(|v| Arc::ptr_eq(&v.job, job))
                });
                if let Some(h) = found {
                    let ptr = &**h as *const jobs_job as *mut jobs_job;
                    drop(list);
                    // SAFETY: the header's contract for on_cancel; handles live with the agent.
                    unsafe { f(ud.ptr(), ptr) }
                }
            }) as crate::jobs::agent::CancelFn
        });
        a.agent.set_handler(
            operation,
            Some(Registration {
                run: run_fn,
                on_cancel,
                resume,
            }),
        )
    })
}

fn view_of(job: &Arc<Job>) -> JobView {
    let c = |s: &str| CString::new(s.replace('\0', " ")).unwrap_or_default();
    JobView {
        job: job.clone(),
        job_id: c(job.job_id()),
        operation: c(job.operation()),
        document_text: c(job.document()),
        document: Document::parse(job.document()).ok().map(jobs_document::new),
    }
}

/// Starts the agent: reads the journal (a job that was under way is resumed or failed as its
/// handler's registration says; a final status not yet acknowledged is sent again), then, once
/// the connection is up, subscribes to notify-next and takes jobs with start-next. Returns
/// `JOBS_RESULT_OK`, `_NULL_ARGUMENT`, `_INVALID_STATE` (already running, no handler
/// registered, or another running agent of this process uses the same journal file),
/// `_INTERNAL` (no thread). A journal that cannot be read is reported as a
/// `JOBS_AGENT_EVENT_KIND_JOURNAL_ERROR` event, not a failure. Does not block on the network.
///
/// # Safety
/// `agent` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn jobs_agent_start(agent: *mut jobs_agent) -> jobs_result {
    guard(|| agent_arg(agent)?.agent.start())
}

/// Stops taking jobs and waits up to `timeout_ms` for the job under way, if any, to reach its
/// acknowledged final status; then stops the agent's threads, after its running handler (if
/// any) has returned. Returns `JOBS_RESULT_OK` (nothing left under way), `_TIMEOUT` (a job is
/// left in the journal for the next start), `_NULL_ARGUMENT`, `_INVALID_STATE` (not running).
/// Blocks. Must not be called from a handler or agent callback.
///
/// # Safety
/// `agent` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn jobs_agent_stop(agent: *mut jobs_agent, timeout_ms: u32) -> jobs_result {
    guard(|| {
        let done = agent_arg(agent)?
            .agent
            .stop(Duration::from_millis(timeout_ms.into()))?;
        if done {
            Ok(())
        } else {
            Err(Error::new(
                jobs_result::Timeout,
                "a job is still under way; it stays in the journal for the next start",
            ))
        }
    })
}

/// Copies the agent's counts into `*out` (whose `struct_size` the caller sets to
/// `sizeof(jobs_agent_counters)`). Returns `JOBS_RESULT_OK`, `_NULL_ARGUMENT`,
/// `_INVALID_STRUCT_SIZE`. Thread-safe; does not block.
///
/// # Safety
/// `agent` NULL or live; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn jobs_agent_get_counters(
    agent: *const jobs_agent,
    out: *mut jobs_agent_counters,
) -> jobs_result {
    guard(|| {
        let c: AgentCounters = agent_arg(agent)?.agent.counters();
        args_arg(out as *const jobs_agent_counters, "out")?;
        out.write(jobs_agent_counters {
            struct_size: std::mem::size_of::<jobs_agent_counters>(),
            started: c.started,
            resumed: c.resumed,
            progress_sent: c.progress_sent,
            finished: c.finished,
            cancelled: c.cancelled,
            rejected: c.rejected,
            retries: c.retries,
            duplicates_suppressed: c.duplicates_suppressed,
        });
        Ok(())
    })
}

// ---------------------------------------------------------------- the job handle

/// The job id, borrowed until the handler returns; NULL for NULL or an ended handler.
/// Thread-safe; does not block.
///
/// # Safety
/// `job` NULL or a handle given to a handler.
#[no_mangle]
pub unsafe extern "C" fn jobs_job_id(job: *const jobs_job) -> *const c_char {
    guard_or(std::ptr::null(), || {
        view(job, |v| Ok(v.job_id.as_ptr())).unwrap_or(std::ptr::null())
    })
}

/// The operation the document names (the handler's), borrowed until the handler returns;
/// NULL for NULL or an ended handler. Thread-safe; does not block.
///
/// # Safety
/// As `jobs_job_id`.
#[no_mangle]
pub unsafe extern "C" fn jobs_job_operation(job: *const jobs_job) -> *const c_char {
    guard_or(std::ptr::null(), || {
        view(job, |v| Ok(v.operation.as_ptr())).unwrap_or(std::ptr::null())
    })
}

/// The job document's JSON text, borrowed until the handler returns; NULL for NULL or an
/// ended handler. Thread-safe; does not block.
///
/// # Safety
/// As `jobs_job_id`.
#[no_mangle]
pub unsafe extern "C" fn jobs_job_document_text(job: *const jobs_job) -> *const c_char {
    guard_or(std::ptr::null(), || {
        view(job, |v| Ok(v.document_text.as_ptr())).unwrap_or(std::ptr::null())
    })
}

/// The job document for the `jobs_document_get_*` path getters, borrowed until the handler
/// returns (do not free it); NULL for NULL, an ended handler, or a document that is not JSON.
/// Thread-safe; does not block.
///
/// # Safety
/// As `jobs_job_id`.
#[no_mangle]
pub unsafe extern "C" fn jobs_job_document(job: *const jobs_job) -> *const jobs_document {
    guard_or(std::ptr::null(), || {
        view(job, |v| {
            Ok(v.document
                .as_ref()
                .map_or(std::ptr::null(), |d| d as *const jobs_document))
        })
        .unwrap_or(std::ptr::null())
    })
}

/// The execution number (AWS runs a retried job again under a higher one); 0 for NULL or an
/// ended handler. Thread-safe; does not block.
///
/// # Safety
/// As `jobs_job_id`.
#[no_mangle]
pub unsafe extern "C" fn jobs_job_execution_number(job: *const jobs_job) -> u64 {
    guard_or(0, || {
        view(job, |v| Ok(v.job.execution_number())).unwrap_or(0)
    })
}

/// The execution's version when the handler started; 0 when unknown, NULL or ended.
/// Thread-safe; does not block.
///
/// # Safety
/// As `jobs_job_id`.
#[no_mangle]
pub unsafe extern "C" fn jobs_job_version_number(job: *const jobs_job) -> u64 {
    guard_or(0, || view(job, |v| Ok(v.job.version_number())).unwrap_or(0))
}

/// True when the job was running when the device stopped and is handed back after a restart.
/// Thread-safe; does not block.
///
/// # Safety
/// As `jobs_job_id`.
#[no_mangle]
pub unsafe extern "C" fn jobs_job_resumed(job: *const jobs_job) -> bool {
    guard_or(false, || {
        view(job, |v| Ok(v.job.resumed())).unwrap_or(false)
    })
}

/// The checkpoint saved with `jobs_job_checkpoint` before the restart of a resumed job:
/// `*bytes_out` (borrowed until the handler returns) and `*len_out`. Returns `JOBS_RESULT_OK`,
/// `_NOT_FOUND` (none saved), `_NULL_ARGUMENT`, `_JOB_ENDED`. Thread-safe; does not block.
///
/// # Safety
/// `job` as `jobs_job_id`; `bytes_out` and `len_out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn jobs_job_saved_checkpoint(
    job: *const jobs_job,
    bytes_out: *mut *const u8,
    len_out: *mut usize,
) -> jobs_result {
    guard(|| {
        if bytes_out.is_null() || len_out.is_null() {
            return Err(Error::new(
                jobs_result::NullArgument,
                "bytes_out and len_out are required",
            ));
        }
        *bytes_out = std::ptr::null();
        *len_out = 0;
        view(job, |v| match v.job.saved_checkpoint() {
            Some(b) => {
                *bytes_out = b.as_ptr();
                *len_out = b.len();
                Ok(())
            }
            None => Err(Error::new(jobs_result::NotFound, "no checkpoint was saved")),
        })
    })
}

/// True once the service cancelled, removed or timed out the job; the handler should return
/// (its later updates are not sent). Thread-safe; does not block.
///
/// # Safety
/// As `jobs_job_id`.
#[no_mangle]
pub unsafe extern "C" fn jobs_job_is_cancelled(job: *const jobs_job) -> bool {
    guard_or(false, || {
        view(job, |v| Ok(v.job.is_cancelled())).unwrap_or(false)
    })
}

/// Reports progress: IN_PROGRESS with `status_details` (a JSON object of strings, or NULL),
/// and with `step_timeout_minutes` (0: none) a new step timeout. At most one update is in
/// flight per job; calls in between replace each other (the latest is sent), and the agent's
/// `progress_interval_ms` spaces them. Returns once queued, without waiting for the service:
/// `JOBS_RESULT_OK`, `_NULL_ARGUMENT`, `_INVALID_UTF8`, `_INVALID_STATUS_DETAILS`,
/// `_INVALID_ARGUMENT` (step timeout), `_CANCELLED` (the job is gone at the service),
/// `_JOB_ENDED` (it has its final status, or the handler returned), `_CLOSED` (agent stopped).
///
/// # Safety
/// `job` as `jobs_job_id`; `status_details` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn jobs_job_progress(
    job: *mut jobs_job,
    status_details: *const c_char,
    step_timeout_minutes: i64,
) -> jobs_result {
    guard(|| {
        let details = details_arg(status_details)?.unwrap_or_default();
        let j = view(job, |v| Ok(v.job.clone()))?;
        j.progress(details, step_timeout_arg(step_timeout_minutes))
    })
}

fn finish(job: *mut jobs_job, status: ExecutionStatus, details: *const c_char) -> Result<()> {
    let details = details_arg(details)?.unwrap_or_default();
    let j = view(job, |v| Ok(v.job.clone()))?;
    j.finish(status, details)
}

/// Ends the job SUCCEEDED with `status_details` (JSON object of strings, or NULL). The status
/// is in the journal when this returns and is sent until the service acknowledges it, across
/// reconnects and restarts. Returns `JOBS_RESULT_OK`, `_NULL_ARGUMENT`, `_INVALID_UTF8`,
/// `_INVALID_STATUS_DETAILS`, `_CANCELLED`, `_JOB_ENDED`, `_CLOSED`. Blocks for one journal
/// write at most.
///
/// # Safety
/// As `jobs_job_progress`.
#[no_mangle]
pub unsafe extern "C" fn jobs_job_succeed(
    job: *mut jobs_job,
    status_details: *const c_char,
) -> jobs_result {
    guard(|| finish(job, ExecutionStatus::Succeeded, status_details))
}

/// Ends the job FAILED; otherwise as `jobs_job_succeed`.
///
/// # Safety
/// As `jobs_job_progress`.
#[no_mangle]
pub unsafe extern "C" fn jobs_job_fail(
    job: *mut jobs_job,
    status_details: *const c_char,
) -> jobs_result {
    guard(|| finish(job, ExecutionStatus::Failed, status_details))
}

/// Ends the job REJECTED (the device refuses it); otherwise as `jobs_job_succeed`.
///
/// # Safety
/// As `jobs_job_progress`.
#[no_mangle]
pub unsafe extern "C" fn jobs_job_reject(
    job: *mut jobs_job,
    status_details: *const c_char,
) -> jobs_result {
    guard(|| finish(job, ExecutionStatus::Rejected, status_details))
}

/// Saves `len` bytes (at most 4096) in the journal, handed back by `jobs_job_saved_checkpoint`
/// if the job resumes after a restart. Returns when written (fsynced): `JOBS_RESULT_OK`,
/// `_NULL_ARGUMENT`, `_PAYLOAD_TOO_LARGE`, `_IO` (the journal could not be written: the
/// checkpoint is kept in memory only), `_CANCELLED`, `_JOB_ENDED`, `_CLOSED`. Blocks for one
/// journal write.
///
/// # Safety
/// `job` as `jobs_job_id`; `bytes` NULL (with `len` 0) or readable for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn jobs_job_checkpoint(
    job: *mut jobs_job,
    bytes: *const c_void,
    len: usize,
) -> jobs_result {
    guard(|| {
        // Any length over the limit is too large, also one no buffer can have.
        if len > MAX_CHECKPOINT_BYTES {
            return Err(Error::new(
                jobs_result::PayloadTooLarge,
                format!("the checkpoint is {len} bytes, over the limit of {MAX_CHECKPOINT_BYTES}"),
            ));
        }
        let data = super::bytes_arg(bytes as *const u8, len, "bytes")?;
        let j = view(job, |v| Ok(v.job.clone()))?;
        j.checkpoint(data)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_on_a_null_or_ended_job_give_their_documented_answers() {
        unsafe {
            assert!(jobs_job_id(std::ptr::null()).is_null());
            assert_eq!(jobs_job_execution_number(std::ptr::null()), 0);
            assert!(!jobs_job_is_cancelled(std::ptr::null()));
            assert_eq!(
                jobs_job_succeed(std::ptr::null_mut(), std::ptr::null()),
                jobs_result::NullArgument
            );
            let ended = jobs_job {
                state: Mutex::new(None),
            };
            let p = &ended as *const jobs_job as *mut jobs_job;
            assert_eq!(jobs_job_succeed(p, std::ptr::null()), jobs_result::JobEnded);
            assert_eq!(
                jobs_job_progress(p, c"{}".as_ptr(), 0),
                jobs_result::JobEnded
            );
            assert_eq!(
                jobs_job_checkpoint(p, std::ptr::null(), 0),
                jobs_result::JobEnded
            );
            assert_eq!(
                jobs_job_checkpoint(p, c"x".as_ptr().cast(), usize::MAX),
                jobs_result::PayloadTooLarge,
                "a length over the limit, whatever it is"
            );
            assert!(jobs_job_document(p).is_null());
            let (mut b, mut n) = (std::ptr::null(), 0usize);
            assert_eq!(
                jobs_job_saved_checkpoint(p, &mut b, &mut n),
                jobs_result::JobEnded
            );
            assert_eq!(
                jobs_job_progress(p, c"[1]".as_ptr(), 0),
                jobs_result::InvalidStatusDetails,
                "arguments are checked first"
            );
        }
    }

    #[test]
    fn argument_structs_are_checked() {
        unsafe {
            let mut cfg = std::mem::zeroed::<jobs_agent_config>();
            assert_eq!(jobs_agent_config_init(&mut cfg), jobs_result::Ok);
            assert_eq!(cfg.struct_size, std::mem::size_of::<jobs_agent_config>());
            let mut out = std::ptr::null_mut();
            assert_eq!(
                jobs_agent_new(std::ptr::null(), &cfg, &mut out),
                jobs_result::NullArgument
            );
            assert_eq!(
                jobs_agent_config_init(std::ptr::null_mut()),
                jobs_result::NullArgument
            );
            assert_eq!(
                jobs_agent_start(std::ptr::null_mut()),
                jobs_result::NullArgument
            );
            assert_eq!(
                jobs_agent_stop(std::ptr::null_mut(), 0),
                jobs_result::NullArgument
            );
            jobs_agent_free(std::ptr::null_mut());
        }
    }
}
