//! Request/response from C: `jobs_get_pending`, `jobs_start_next`, `jobs_describe`,
//! `jobs_update` and their `_async` forms, their argument structs, and `jobs_reply`.
//!
//! The FFI only reads the argument structs (checking `struct_size`, pointers, UTF-8 and enum
//! ranges) into a [`JobsRequest`]; the jobs layer validates and runs it.

use super::jobs::jobs_client;
use super::message::jobs_message;
use super::{
    args_arg, details_arg, enum_arg, guard, guard_or, handle_arg, init, opt_str_arg,
    step_timeout_arg, str_arg, write_out, UserData,
};
use crate::error::{jobs_result, Error, Result};
use crate::jobs::requests::{Deliver, JobsRequest, Outcome, RequestOptions};
use crate::jobs::types::{ExecutionStatus, Offline};
use std::ffi::{c_char, c_void};
use std::time::Duration;

/// Options every request takes; part of each `jobs_*_args` struct and set by its init function.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct jobs_request_options {
    /// The deadline, counted from the call: 1 to 86400000 ms (default 10000). The outcome is
    /// `JOBS_RESULT_TIMEOUT` if no reply came by then; a reply after it is dropped.
    pub timeout_ms: u32,
    /// A `jobs_offline` value, for reads (get-pending, start-next, describe) made while not
    /// connected: `JOBS_OFFLINE_WAIT` (default: queued, sent once connected if the deadline has
    /// not passed, never after it) or `JOBS_OFFLINE_FAIL_FAST` (`JOBS_RESULT_NOT_CONNECTED` at
    /// once). Updates are always queued while offline.
    pub offline: u32,
    /// The request's clientToken (copied; at most 64 bytes), or NULL for one made by the
    /// library: the client's token (or thing name) and a unique suffix.
    pub client_token: *const c_char,
}

/// GetPendingJobExecutions. Initialize with `jobs_get_pending_args_init`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct jobs_get_pending_args {
    /// `sizeof(jobs_get_pending_args)`, set by the init function: it tells the library which
    /// version of the struct the caller was compiled with.
    pub struct_size: usize,
    pub options: jobs_request_options,
}

/// StartNextPendingJobExecution. Initialize with `jobs_start_next_args_init`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct jobs_start_next_args {
    /// `sizeof(jobs_start_next_args)`, set by the init function.
    pub struct_size: usize,
    /// A JSON object of string values (at most 10 pairs), or NULL for none.
    pub status_details: *const c_char,
    /// 1 to 10080 minutes, or 0 for none.
    pub step_timeout_minutes: i64,
    pub options: jobs_request_options,
}

/// DescribeJobExecution. Initialize with `jobs_describe_args_init`, then set `job_id`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct jobs_describe_args {
    /// `sizeof(jobs_describe_args)`, set by the init function.
    pub struct_size: usize,
    /// A job id, or `"$next"` for the next pending execution. Required.
    pub job_id: *const c_char,
    /// 0 for the latest execution.
    pub execution_number: u64,
    /// Default true.
    pub include_job_document: bool,
    pub options: jobs_request_options,
}

/// UpdateJobExecution. Initialize with `jobs_update_args_init`, then set `job_id` and `status`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct jobs_update_args {
    /// `sizeof(jobs_update_args)`, set by the init function.
    pub struct_size: usize,
    /// Required.
    pub job_id: *const c_char,
    /// A `jobs_status` a device may set: IN_PROGRESS, FAILED, SUCCEEDED or REJECTED. The init
    /// function leaves NOT_SET, which is refused, so forgetting it is an error.
    pub status: u32,
    /// A JSON object of string values (at most 10 pairs), or NULL for none.
    pub status_details: *const c_char,
    /// The version the update expects (a reply's `jobs_message_version_number`), 0 for none.
    pub expected_version: u64,
    /// 0 for the latest execution.
    pub execution_number: u64,
    pub include_job_execution_state: bool,
    pub include_job_document: bool,
    /// 1 to 10080 minutes, or 0 for none.
    pub step_timeout_minutes: i64,
    pub options: jobs_request_options,
}

/// The reply to a request: AWS's accepted or rejected message. Owned by whoever the API says
/// (the caller of a blocking request; the library, for the one lent to a `jobs_reply_callback`).
pub struct jobs_reply {
    message: jobs_message,
}

/// Called once when an asynchronous request ends, on the callback thread, behind the client's
/// gate (never after `jobs_client_free` returns). `result` is `JOBS_RESULT_OK` (accepted),
/// `_REJECTED` (`reply` says why), `_TIMEOUT`, `_PROTOCOL` (the reply came but was malformed),
/// `_CANCELLED` (the connection was disconnected by the user), `_CLOSED` (the connection was
/// freed) or `_DROPPED` (removed from a full offline queue). `reply` is NULL unless `result` is OK or REJECTED; it is borrowed and valid until
/// the callback returns (`jobs_reply_copy` keeps it longer).
pub type jobs_reply_callback = Option<
    unsafe extern "C" fn(user_data: *mut c_void, result: jobs_result, reply: *const jobs_reply),
>;

const DEFAULT_TIMEOUT_MS: u32 = 10_000;

fn default_options() -> jobs_request_options {
    jobs_request_options {
        timeout_ms: DEFAULT_TIMEOUT_MS,
        offline: Offline::Wait.as_u32(),
        client_token: std::ptr::null(),
    }
}

/// # Safety
/// `o.client_token` NULL or NUL-terminated.
unsafe fn options(o: &jobs_request_options) -> Result<RequestOptions> {
    Ok(RequestOptions {
        timeout: Duration::from_millis(o.timeout_ms.into()),
        offline: enum_arg::<Offline>(o.offline, "options.offline")?,
        client_token: opt_str_arg(o.client_token, "options.client_token")?.map(str::to_owned),
    })
}

fn client_arg<'a>(c: *mut jobs_client) -> Result<&'a jobs_client> {
    // SAFETY: the header's contract: NULL or a live jobs client.
    unsafe { handle_arg(c, "client") }
}

/// Runs a blocking request and hands its reply to `reply_out`.
fn blocking(
    client: *mut jobs_client,
    reply_out: *mut *mut jobs_reply,
    read: impl FnOnce() -> Result<(JobsRequest, RequestOptions)>,
) -> Result<()> {
    if !reply_out.is_null() {
        // SAFETY: the header's contract: NULL or writable.
        unsafe { *reply_out = std::ptr::null_mut() };
    }
    {
        let c = client_arg(client)?;
        let (req, opts) = read()?;
        let outcome = c.client.request_blocking(&req, &opts)?;
        let code = outcome.code();
        let message = match &outcome {
            Outcome::Failed(e) => e.message.clone(),
            Outcome::Rejected(ev) => format!(
                "rejected: {}: {}",
                ev.rejection_code().map_or("", |c| c.as_str()),
                ev.rejection_message().unwrap_or("")
            ),
            Outcome::Accepted(_) => String::new(),
        };
        if let Some(ev) = outcome.reply() {
            if !reply_out.is_null() {
                let reply = Box::new(jobs_reply {
                    message: jobs_message::new(ev),
                });
                // SAFETY: checked non-NULL; the header's contract: writable.
                unsafe { *reply_out = Box::into_raw(reply) };
            }
        }
        if code == jobs_result::Ok {
            Ok(())
        } else {
            Err(Error::new(code, message))
        }
    }
}

/// Starts an asynchronous request whose outcome goes to `callback`.
fn asynchronous(
    client: *mut jobs_client,
    callback: jobs_reply_callback,
    user_data: *mut c_void,
    read: impl FnOnce() -> Result<(JobsRequest, RequestOptions)>,
) -> Result<()> {
    {
        let c = client_arg(client)?;
        let (req, opts) = read()?;
        let ud = UserData(user_data);
        let deliver = Deliver::Callback(
            c.client.gate(),
            Box::new(move |outcome: Outcome| {
                let Some(f) = callback else { return };
                let reply = outcome.reply().map(|ev| jobs_reply {
                    message: jobs_message::new(ev),
                });
                let ptr = reply
                    .as_ref()
                    .map_or(std::ptr::null(), |r| r as *const jobs_reply);
                // SAFETY: the caller's callback, with its own user data and a reply alive for
                // the call.
                unsafe { f(ud.ptr(), outcome.code(), ptr) }
            }),
        );
        c.client.request(&req, &opts, deliver)
    }
}

/// # Safety
/// As the public functions.
unsafe fn read_get_pending(
    args: *const jobs_get_pending_args,
) -> Result<(JobsRequest, RequestOptions)> {
    let a = args_arg(args, "args")?;
    Ok((JobsRequest::GetPending, options(&a.options)?))
}

/// # Safety
/// As the public functions.
unsafe fn read_start_next(
    args: *const jobs_start_next_args,
) -> Result<(JobsRequest, RequestOptions)> {
    let a = args_arg(args, "args")?;
    let req = JobsRequest::StartNext {
        details: details_arg(a.status_details)?,
        step_timeout: step_timeout_arg(a.step_timeout_minutes),
    };
    Ok((req, options(&a.options)?))
}

/// # Safety
/// As the public functions.
unsafe fn read_describe(args: *const jobs_describe_args) -> Result<(JobsRequest, RequestOptions)> {
    let a = args_arg(args, "args")?;
    let req = JobsRequest::Describe {
        job_id: str_arg(a.job_id, "args->job_id")?.to_owned(),
        execution_number: a.execution_number,
        include_job_document: a.include_job_document,
    };
    Ok((req, options(&a.options)?))
}

/// # Safety
/// As the public functions.
unsafe fn read_update(args: *const jobs_update_args) -> Result<(JobsRequest, RequestOptions)> {
    let a = args_arg(args, "args")?;
    let req = JobsRequest::Update {
        job_id: str_arg(a.job_id, "args->job_id")?.to_owned(),
        status: enum_arg::<ExecutionStatus>(a.status, "args->status")?,
        details: details_arg(a.status_details)?,
        expected_version: a.expected_version,
        execution_number: a.execution_number,
        include_job_execution_state: a.include_job_execution_state,
        include_job_document: a.include_job_document,
        step_timeout: step_timeout_arg(a.step_timeout_minutes),
    };
    Ok((req, options(&a.options)?))
}

/// Sets `args` to its defaults and its `struct_size`. Returns `JOBS_RESULT_OK` or
/// `_NULL_ARGUMENT`. Does not block.
///
/// # Safety
/// `args` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn jobs_get_pending_args_init(
    args: *mut jobs_get_pending_args,
) -> jobs_result {
    guard(|| {
        init(args, |size| jobs_get_pending_args {
            struct_size: size,
            options: default_options(),
        })
    })
}

/// Sets `args` to its defaults (no status details, no step timeout) and its `struct_size`.
/// Returns `JOBS_RESULT_OK` or `_NULL_ARGUMENT`. Does not block.
///
/// # Safety
/// `args` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn jobs_start_next_args_init(args: *mut jobs_start_next_args) -> jobs_result {
    guard(|| {
        init(args, |size| jobs_start_next_args {
            struct_size: size,
            status_details: std::ptr::null(),
            step_timeout_minutes: 0,
            options: default_options(),
        })
    })
}

/// Sets `args` to its defaults (no job id yet, latest execution, with the job document) and
/// its `struct_size`. Returns `JOBS_RESULT_OK` or `_NULL_ARGUMENT`. Does not block.
///
/// # Safety
/// `args` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn jobs_describe_args_init(args: *mut jobs_describe_args) -> jobs_result {
    guard(|| {
        init(args, |size| jobs_describe_args {
            struct_size: size,
            job_id: std::ptr::null(),
            execution_number: 0,
            include_job_document: true,
            options: default_options(),
        })
    })
}

/// Sets `args` to its defaults (no job id, status NOT_SET: set both; no details, no version
/// check, latest execution, the execution state and job document not requested) and its
/// `struct_size`. Returns `JOBS_RESULT_OK` or `_NULL_ARGUMENT`. Does not block.
///
/// # Safety
/// `args` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn jobs_update_args_init(args: *mut jobs_update_args) -> jobs_result {
    guard(|| {
        init(args, |size| jobs_update_args {
            struct_size: size,
            job_id: std::ptr::null(),
            status: ExecutionStatus::NotSet.as_u32(),
            status_details: std::ptr::null(),
            expected_version: 0,
            execution_number: 0,
            include_job_execution_state: false,
            include_job_document: false,
            step_timeout_minutes: 0,
            options: default_options(),
        })
    })
}

/// GetPendingJobExecutions, blocking until the reply or the deadline
/// (`args->options.timeout_ms`). Returns `JOBS_RESULT_OK` with the accepted reply in
/// `*reply_out` (read the lists with `jobs_message_pending_count` and
/// `jobs_message_pending_job` on `jobs_reply_message`), `_REJECTED` with the rejected reply,
/// or with `*reply_out` NULL: `_TIMEOUT`, `_PROTOCOL` (a malformed reply), `_NOT_CONNECTED`
/// (offline and fail-fast), `_CANCELLED`, `_CLOSED`, `_DROPPED`, `_QUEUE_FULL`, `_QUEUE_DISABLED`, `_NULL_ARGUMENT`,
/// `_INVALID_STRUCT_SIZE`, `_INVALID_UTF8`, `_INVALID_ARGUMENT`, `_INVALID_CLIENT_TOKEN`.
/// The caller owns `*reply_out` and frees it with `jobs_reply_free`. The reply is delivered
/// by the I/O thread directly, so this may be called from inside a callback. Blocks.
///
/// # Safety
/// `client` NULL or a live jobs client; `args` NULL or an initialized struct whose strings are
/// NULL or NUL-terminated; `reply_out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn jobs_get_pending(
    client: *mut jobs_client,
    args: *const jobs_get_pending_args,
    reply_out: *mut *mut jobs_reply,
) -> jobs_result {
    guard(|| blocking(client, reply_out, || unsafe { read_get_pending(args) }))
}

/// GetPendingJobExecutions without blocking: `callback` (may be NULL) gets the one outcome
/// (see `jobs_reply_callback`). Returns `JOBS_RESULT_OK` when the request was made (then the
/// callback runs exactly once), or the blocking form's argument and offline errors (then it
/// never runs). Does not block.
///
/// # Safety
/// As `jobs_get_pending`; `callback` NULL or a function safe to call from the callback thread with
/// `user_data`.
#[no_mangle]
pub unsafe extern "C" fn jobs_get_pending_async(
    client: *mut jobs_client,
    args: *const jobs_get_pending_args,
    callback: jobs_reply_callback,
    user_data: *mut c_void,
) -> jobs_result {
    guard(|| {
        asynchronous(client, callback, user_data, || unsafe {
            read_get_pending(args)
        })
    })
}

/// StartNextPendingJobExecution, blocking; results as `jobs_get_pending`. An accepted reply
/// without an execution (`jobs_message_has_execution` false) means no job is pending.
///
/// # Safety
/// `client` NULL or a live jobs client; `args` NULL or an initialized struct whose strings are
/// NULL or NUL-terminated; `reply_out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn jobs_start_next(
    client: *mut jobs_client,
    args: *const jobs_start_next_args,
    reply_out: *mut *mut jobs_reply,
) -> jobs_result {
    guard(|| blocking(client, reply_out, || unsafe { read_start_next(args) }))
}

/// StartNextPendingJobExecution without blocking; as `jobs_get_pending_async`.
///
/// # Safety
/// As `jobs_start_next`; `callback` NULL or a function safe to call from the callback thread with
/// `user_data`.
#[no_mangle]
pub unsafe extern "C" fn jobs_start_next_async(
    client: *mut jobs_client,
    args: *const jobs_start_next_args,
    callback: jobs_reply_callback,
    user_data: *mut c_void,
) -> jobs_result {
    guard(|| {
        asynchronous(client, callback, user_data, || unsafe {
            read_start_next(args)
        })
    })
}

/// DescribeJobExecution, blocking; results as `jobs_get_pending`, plus `_INVALID_JOB_ID`.
///
/// # Safety
/// `client` NULL or a live jobs client; `args` NULL or an initialized struct whose strings are
/// NULL or NUL-terminated; `reply_out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn jobs_describe(
    client: *mut jobs_client,
    args: *const jobs_describe_args,
    reply_out: *mut *mut jobs_reply,
) -> jobs_result {
    guard(|| blocking(client, reply_out, || unsafe { read_describe(args) }))
}

/// DescribeJobExecution without blocking; as `jobs_get_pending_async`.
///
/// # Safety
/// As `jobs_describe`; `callback` NULL or a function safe to call from the callback thread with
/// `user_data`.
#[no_mangle]
pub unsafe extern "C" fn jobs_describe_async(
    client: *mut jobs_client,
    args: *const jobs_describe_args,
    callback: jobs_reply_callback,
    user_data: *mut c_void,
) -> jobs_result {
    guard(|| {
        asynchronous(client, callback, user_data, || unsafe {
            read_describe(args)
        })
    })
}

/// UpdateJobExecution, blocking; results as `jobs_get_pending`, plus `_INVALID_JOB_ID`,
/// `_INVALID_STATUS` and `_INVALID_STATUS_DETAILS`. Offline, the update is queued and sent
/// after the reconnect, still within its deadline for the reply.
///
/// # Safety
/// `client` NULL or a live jobs client; `args` NULL or an initialized struct whose strings are
/// NULL or NUL-terminated; `reply_out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn jobs_update(
    client: *mut jobs_client,
    args: *const jobs_update_args,
    reply_out: *mut *mut jobs_reply,
) -> jobs_result {
    guard(|| blocking(client, reply_out, || unsafe { read_update(args) }))
}

/// UpdateJobExecution without blocking; as `jobs_get_pending_async`.
///
/// # Safety
/// As `jobs_update`; `callback` NULL or a function safe to call from the callback thread with
/// `user_data`.
#[no_mangle]
pub unsafe extern "C" fn jobs_update_async(
    client: *mut jobs_client,
    args: *const jobs_update_args,
    callback: jobs_reply_callback,
    user_data: *mut c_void,
) -> jobs_result {
    guard(|| asynchronous(client, callback, user_data, || unsafe { read_update(args) }))
}

/// The reply as a message: read it with every `jobs_message_*` getter (execution, status,
/// version, status details, job document, rejection code and message, pending lists). Borrowed,
/// valid as long as `reply`. NULL for a NULL reply.
///
/// # Safety
/// `reply` NULL or a live reply.
#[no_mangle]
pub unsafe extern "C" fn jobs_reply_message(reply: *const jobs_reply) -> *const jobs_message {
    guard_or(std::ptr::null(), || match reply.as_ref() {
        Some(r) => &r.message as *const jobs_message,
        None => std::ptr::null(),
    })
}

/// Copies a reply into one the caller owns, so that the reply lent to a `jobs_reply_callback`
/// can be kept after the callback returns: `*out` reads exactly as `reply` (the parsed message
/// is shared, not parsed again) and is freed with `jobs_reply_free`; `reply` is unaffected.
/// On error `*out` is untouched. Returns `JOBS_RESULT_OK` or `_NULL_ARGUMENT`. Thread-safe;
/// does not block.
///
/// # Safety
/// `reply` NULL or a live reply (owned, or lent to the running callback); `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn jobs_reply_copy(
    reply: *const jobs_reply,
    out: *mut *mut jobs_reply,
) -> jobs_result {
    guard(|| {
        let r = handle_arg(reply, "reply")?;
        if out.is_null() {
            return Err(Error::new(jobs_result::NullArgument, "out is NULL"));
        }
        let copy = Box::new(jobs_reply {
            message: r.message.share(),
        });
        write_out(out, Box::into_raw(copy));
        Ok(())
    })
}

/// Frees a reply returned by a blocking request or by `jobs_reply_copy`. NULL is a no-op; never
/// free a reply lent to a callback. Does not block.
///
/// # Safety
/// `reply` NULL or a reply owned by the caller, not used after this.
#[no_mangle]
pub unsafe extern "C" fn jobs_reply_free(reply: *mut jobs_reply) {
    guard_or((), || {
        if !reply.is_null() {
            drop(Box::from_raw(reply));
        }
    })
}
