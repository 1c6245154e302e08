//! `jobs_message`: a borrowed view of one [`JobsEvent`], so C code need not parse JSON or
//! topics. The jobs layer parses and interprets the message once for all its handlers; this
//! view only converts the results to C numbers and NUL-terminated strings, each string copied
//! on its first request and owned by the view.

use super::connection::c_text;
use super::document::jobs_document;
use super::{enum_arg, guard, guard_or, write_out};
use crate::error::{jobs_result, Error};
use crate::jobs::document::Document;
use crate::jobs::event::JobsEvent;
use crate::jobs::response::JobExecutionSummary;
use crate::jobs::types::ExecutionStatus;
use std::ffi::{c_char, CStr, CString};
use std::sync::{Arc, OnceLock};

/// The C name of the rejection-code enum, for Rust code written against the C API.
pub use crate::jobs::types::RejectionCode as jobs_rejection_code;

/// One message on a jobs topic, lent to a `jobs_message_callback`. Valid only until the
/// callback returns; every pointer obtained from it too. Never free it. The message is parsed
/// once, however many of the client's subscriptions it matches; the getters only read it.
pub struct jobs_message {
    /// The message, parsed once for every handler it reaches.
    event: Arc<JobsEvent>,
    /// NUL-terminated copies of the event's texts, made when C first asks for each.
    texts: Texts,
}

/// A NUL-terminated copy made on first use. `OnceLock`, not `OnceCell`: C may read one message
/// from several threads while its callback runs.
#[derive(Default)]
struct LazyText(OnceLock<Option<CString>>);

impl LazyText {
    fn get(&self, make: impl FnOnce() -> Option<CString>) -> Option<&CStr> {
        self.0.get_or_init(make).as_deref()
    }

    fn ptr(&self, make: impl FnOnce() -> Option<CString>) -> *const c_char {
        self.get(make).map_or(std::ptr::null(), CStr::as_ptr)
    }
}

#[derive(Default)]
struct Texts {
    topic: LazyText,
    thing: LazyText,
    job_id: LazyText,
    execution_job_id: LazyText,
    job_document: LazyText,
    status_details: LazyText,
    client_token: LazyText,
    rejection_text: LazyText,
    rejection_message: LazyText,
    /// The status details as C strings, in AWS's order.
    detail_pairs: OnceLock<Vec<(CString, CString)>>,
    /// The job ids of the in-progress and the queued summaries.
    in_progress_ids: OnceLock<Vec<CString>>,
    queued_ids: OnceLock<Vec<CString>>,
    /// The job document, parsed on first use.
    document: OnceLock<Option<jobs_document>>,
}

impl jobs_message {
    /// A view of `event`, for a C callback or a reply.
    pub(crate) fn new(event: &Arc<JobsEvent>) -> jobs_message {
        jobs_message {
            event: event.clone(),
            texts: Texts::default(),
        }
    }

    /// A fresh view of the same message: the parse is shared, the C strings are made again
    /// on first use.
    pub(crate) fn share(&self) -> jobs_message {
        jobs_message::new(&self.event)
    }
}

/// The C value of a rejection code.
fn msg<'a>(m: *const jobs_message) -> Option<&'a jobs_message> {
    // SAFETY: the header's contract: NULL or the message lent to the running callback.
    unsafe { m.as_ref() }
}

/// Returns `text`'s lazily made C copy as a pointer (NULL when absent) and writes its length
/// to `len_out`.
///
/// # Safety
/// `len_out` NULL or writable.
unsafe fn text_with_len(
    text: &LazyText,
    make: impl FnOnce() -> Option<CString>,
    len_out: *mut usize,
) -> *const c_char {
    match text.get(make) {
        Some(t) => {
            write_out(len_out, t.to_bytes().len());
            t.as_ptr()
        }
        None => std::ptr::null(),
    }
}

/// Returns the message's topic (NUL-terminated; `*len_out` gets its length if not NULL), or
/// NULL for a NULL message. Borrowed: valid until the callback returns.
///
/// # Safety
/// `m` is NULL or the message lent to the running callback; `len_out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn jobs_message_topic(
    m: *const jobs_message,
    len_out: *mut usize,
) -> *const c_char {
    guard_or(std::ptr::null(), || match msg(m) {
        Some(m) => text_with_len(&m.texts.topic, || Some(c_text(m.event.topic())), len_out),
        None => std::ptr::null(),
    })
}

/// Returns the raw payload (`*len_out` gets its length), or NULL for a NULL message. The bytes
/// are not NUL-terminated. Borrowed: valid until the callback returns.
///
/// # Safety
/// As `jobs_message_topic`.
#[no_mangle]
pub unsafe extern "C" fn jobs_message_payload(
    m: *const jobs_message,
    len_out: *mut usize,
) -> *const u8 {
    guard_or(std::ptr::null(), || match msg(m) {
        Some(m) => {
            write_out(len_out, m.event.payload().len());
            m.event.payload().as_ptr()
        }
        None => std::ptr::null(),
    })
}

/// Returns the thing name from the topic (never NULL for a non-NULL message). Borrowed.
///
/// # Safety
/// `m` is NULL or the message lent to the running callback.
#[no_mangle]
pub unsafe extern "C" fn jobs_message_thing_name(m: *const jobs_message) -> *const c_char {
    guard_or(std::ptr::null(), || {
        msg(m).map_or(std::ptr::null(), |m| {
            m.texts
                .thing
                .ptr(|| Some(c_text(m.event.thing_name().unwrap_or_default())))
        })
    })
}

/// Returns the topic type (`jobs_topic_type`), 0 (unrecognized) for NULL.
///
/// # Safety
/// `m` is NULL or the message lent to the running callback.
#[no_mangle]
pub unsafe extern "C" fn jobs_message_topic_type(m: *const jobs_message) -> u32 {
    guard_or(0, || msg(m).map_or(0, |m| m.event.topic_type().as_u32()))
}

/// Returns the reply type (`jobs_reply_type`: 1 request/notification, 2 accepted, 3 rejected),
/// 0 for NULL.
///
/// # Safety
/// `m` is NULL or the message lent to the running callback.
#[no_mangle]
pub unsafe extern "C" fn jobs_message_reply_type(m: *const jobs_message) -> u32 {
    guard_or(0, || msg(m).map_or(0, |m| m.event.reply_type().as_u32()))
}

/// Returns the job id in the topic (describe and update topics; may be `$next`), or NULL when
/// the topic has none. Borrowed.
///
/// # Safety
/// `m` is NULL or the message lent to the running callback.
#[no_mangle]
pub unsafe extern "C" fn jobs_message_job_id(m: *const jobs_message) -> *const c_char {
    guard_or(std::ptr::null(), || {
        msg(m).map_or(std::ptr::null(), |m| {
            m.texts.job_id.ptr(|| m.event.topic_job_id().map(c_text))
        })
    })
}

/// Returns true when the payload was parsed as the response its topic announces. False for a
/// malformed payload (the raw payload is still available).
///
/// # Safety
/// `m` is NULL or the message lent to the running callback.
#[no_mangle]
pub unsafe extern "C" fn jobs_message_is_parsed(m: *const jobs_message) -> bool {
    guard_or(false, || msg(m).is_some_and(|m| m.event.is_parsed()))
}

/// Returns true when the message carries a job execution: start-next or describe accepted with
/// a pending job, or notify-next naming the next job. False means "no pending job" on those
/// topics.
///
/// # Safety
/// `m` is NULL or the message lent to the running callback.
#[no_mangle]
pub unsafe extern "C" fn jobs_message_has_execution(m: *const jobs_message) -> bool {
    guard_or(false, || {
        msg(m).is_some_and(|m| m.event.execution().is_some())
    })
}

/// Returns the job id of the execution the payload describes (the execution's `jobId`, or the
/// topic's job id for update replies and rejections with an execution state), or NULL. Borrowed.
///
/// # Safety
/// `m` is NULL or the message lent to the running callback.
#[no_mangle]
pub unsafe extern "C" fn jobs_message_execution_job_id(m: *const jobs_message) -> *const c_char {
    guard_or(std::ptr::null(), || {
        msg(m).map_or(std::ptr::null(), |m| {
            m.texts
                .execution_job_id
                .ptr(|| m.event.execution_job_id().map(c_text))
        })
    })
}

/// Returns the execution status the payload reports (`jobs_status`), from the execution or the
/// execution state; `JOBS_STATUS_NOT_SET` when there is none, `JOBS_STATUS_UNKNOWN` for a
/// status this library does not know.
///
/// # Safety
/// `m` is NULL or the message lent to the running callback.
#[no_mangle]
pub unsafe extern "C" fn jobs_message_status(m: *const jobs_message) -> u32 {
    guard_or(0, || msg(m).map_or(0, |m| m.event.status() as u32))
}

/// Returns the execution's `versionNumber` (pass it as the next update's expected version), or
/// 0 when the payload has none. Versions and execution numbers are `uint64_t` with 0 for
/// "none" everywhere in this API, in getters and arguments alike.
///
/// # Safety
/// `m` is NULL or a message lent to a callback or owned by a reply.
#[no_mangle]
pub unsafe extern "C" fn jobs_message_version_number(m: *const jobs_message) -> u64 {
    guard_or(0, || {
        msg(m)
            .and_then(|m| m.event.version_number())
            .and_then(|v| u64::try_from(v).ok())
            .unwrap_or(0)
    })
}

/// Returns the execution's `executionNumber`, or 0 when the payload has none.
///
/// # Safety
/// `m` is NULL or a message lent to a callback or owned by a reply.
#[no_mangle]
pub unsafe extern "C" fn jobs_message_execution_number(m: *const jobs_message) -> u64 {
    guard_or(0, || {
        msg(m)
            .and_then(|m| m.event.execution_number())
            .and_then(|v| u64::try_from(v).ok())
            .unwrap_or(0)
    })
}

/// Returns the job document as JSON text (NUL-terminated; `*len_out` gets its length), or NULL
/// when the payload has none. Borrowed.
///
/// # Safety
/// `m` is NULL or the message lent to the running callback; `len_out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn jobs_message_job_document(
    m: *const jobs_message,
    len_out: *mut usize,
) -> *const c_char {
    guard_or(std::ptr::null(), || match msg(m) {
        Some(m) => text_with_len(
            &m.texts.job_document,
            || m.event.job_document().map(c_text),
            len_out,
        ),
        None => std::ptr::null(),
    })
}

/// Returns the execution's status details as a JSON object text (e.g. `{"progress":"50%"}`),
/// or NULL when the payload carries no execution or state. Borrowed.
///
/// # Safety
/// `m` is NULL or the message lent to the running callback.
#[no_mangle]
pub unsafe extern "C" fn jobs_message_status_details(m: *const jobs_message) -> *const c_char {
    guard_or(std::ptr::null(), || {
        msg(m).map_or(std::ptr::null(), |m| {
            m.texts
                .status_details
                .ptr(|| m.event.status_details_json().map(c_text))
        })
    })
}

/// Returns the client token AWS echoed, or NULL. Borrowed.
///
/// # Safety
/// `m` is NULL or the message lent to the running callback.
#[no_mangle]
pub unsafe extern "C" fn jobs_message_client_token(m: *const jobs_message) -> *const c_char {
    guard_or(std::ptr::null(), || {
        msg(m).map_or(std::ptr::null(), |m| {
            m.texts
                .client_token
                .ptr(|| m.event.client_token().map(c_text))
        })
    })
}

/// Returns why a request was rejected (`jobs_rejection_code`); `JOBS_REJECTION_CODE_NONE` for
/// anything but a parsed `.../rejected` message.
///
/// # Safety
/// `m` is NULL or the message lent to the running callback.
#[no_mangle]
pub unsafe extern "C" fn jobs_message_rejection_code(m: *const jobs_message) -> u32 {
    guard_or(0, || {
        msg(m)
            .and_then(|m| m.event.rejection_code())
            .map_or(jobs_rejection_code::None, |c| c.code())
            .as_u32()
    })
}

/// Returns the rejection `code` exactly as AWS sent it (e.g. `"VersionMismatch"`), or NULL.
/// Borrowed.
///
/// # Safety
/// `m` is NULL or the message lent to the running callback.
#[no_mangle]
pub unsafe extern "C" fn jobs_message_rejection_text(m: *const jobs_message) -> *const c_char {
    guard_or(std::ptr::null(), || {
        msg(m).map_or(std::ptr::null(), |m| {
            m.texts
                .rejection_text
                .ptr(|| m.event.rejection_code().map(|c| c_text(c.as_str())))
        })
    })
}

/// Returns AWS's explanation of a rejection (`message`), or NULL. Borrowed.
///
/// # Safety
/// `m` is NULL or the message lent to the running callback.
#[no_mangle]
pub unsafe extern "C" fn jobs_message_rejection_message(m: *const jobs_message) -> *const c_char {
    guard_or(std::ptr::null(), || {
        msg(m).map_or(std::ptr::null(), |m| {
            m.texts
                .rejection_message
                .ptr(|| m.event.rejection_message().map(c_text))
        })
    })
}

/// The job document, parsed, for the `jobs_document_*` getters; NULL when the message has
/// none (or it is not JSON). Borrowed: valid as long as the message or reply; never free it.
///
/// # Safety
/// `m` is NULL or a message lent to a callback or owned by a reply.
#[no_mangle]
pub unsafe extern "C" fn jobs_message_document(m: *const jobs_message) -> *const jobs_document {
    guard_or(std::ptr::null(), || {
        let Some(m) = msg(m) else {
            return std::ptr::null();
        };
        m.texts
            .document
            .get_or_init(|| {
                let text = m.event.job_document()?;
                Document::parse(text).ok().map(jobs_document::new)
            })
            .as_ref()
            .map_or(std::ptr::null(), |d| d as *const jobs_document)
    })
}

/// One pending execution of a GetPending reply or a notify message
/// (`jobs_message_pending_job`). Numbers are 0 when AWS sent none.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct jobs_job_summary {
    /// `sizeof(jobs_job_summary)`: set it before the call (the library fills in what this
    /// version of the struct holds).
    pub struct_size: usize,
    /// Borrowed from the message: valid as long as the message (or reply) is.
    pub job_id: *const c_char,
    /// Seconds since the epoch.
    pub queued_at: i64,
    pub started_at: i64,
    pub last_updated_at: i64,
    pub version_number: u64,
    pub execution_number: u64,
}

/// The execution's `queuedAt` in seconds since the epoch, 0 when absent.
///
/// # Safety
/// `m` is NULL or a message lent to a callback or owned by a reply.
#[no_mangle]
pub unsafe extern "C" fn jobs_message_queued_at(m: *const jobs_message) -> i64 {
    guard_or(0, || {
        msg(m)
            .and_then(|m| m.event.execution()?.queued_at)
            .unwrap_or(0)
    })
}

/// The execution's `startedAt` in seconds since the epoch, 0 when absent (not started).
///
/// # Safety
/// As `jobs_message_queued_at`.
#[no_mangle]
pub unsafe extern "C" fn jobs_message_started_at(m: *const jobs_message) -> i64 {
    guard_or(0, || {
        msg(m)
            .and_then(|m| m.event.execution()?.started_at)
            .unwrap_or(0)
    })
}

/// The execution's `lastUpdatedAt` in seconds since the epoch, 0 when absent.
///
/// # Safety
/// As `jobs_message_queued_at`.
#[no_mangle]
pub unsafe extern "C" fn jobs_message_last_updated_at(m: *const jobs_message) -> i64 {
    guard_or(0, || {
        msg(m)
            .and_then(|m| m.event.execution()?.last_updated_at)
            .unwrap_or(0)
    })
}

fn detail_pairs(m: &jobs_message) -> &[(CString, CString)] {
    m.texts.detail_pairs.get_or_init(|| {
        m.event
            .status_details()
            .unwrap_or_default()
            .iter()
            .map(|(k, v)| (c_text(k), c_text(v)))
            .collect()
    })
}

/// The number of status details pairs (0 when there are none).
///
/// # Safety
/// As `jobs_message_queued_at`.
#[no_mangle]
pub unsafe extern "C" fn jobs_message_status_details_count(m: *const jobs_message) -> usize {
    guard_or(0, || msg(m).map_or(0, |m| detail_pairs(m).len()))
}

/// The status details pair `index` (in the order AWS sent them): `*key_out` and `*value_out`
/// (either may be NULL) get borrowed strings, valid as long as the message. Returns
/// `JOBS_RESULT_OK`, `_NULL_ARGUMENT` (no message) or `_NOT_FOUND` (index past the end).
///
/// # Safety
/// As `jobs_message_queued_at`; `key_out` and `value_out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn jobs_message_status_detail(
    m: *const jobs_message,
    index: usize,
    key_out: *mut *const c_char,
    value_out: *mut *const c_char,
) -> jobs_result {
    guard(|| {
        let m = msg(m).ok_or_else(|| Error::new(jobs_result::NullArgument, "message is NULL"))?;
        let pairs = detail_pairs(m);
        let (k, v) = pairs.get(index).ok_or_else(|| {
            Error::new(
                jobs_result::NotFound,
                format!("status detail {index} of {}", pairs.len()),
            )
        })?;
        write_out(key_out, k.as_ptr());
        write_out(value_out, v.as_ptr());
        Ok(())
    })
}

fn summaries(
    m: &jobs_message,
    status: ExecutionStatus,
) -> Option<(&[JobExecutionSummary], &[CString])> {
    let (list, ids) = match status {
        ExecutionStatus::InProgress => (m.event.in_progress_jobs(), &m.texts.in_progress_ids),
        ExecutionStatus::Queued => (m.event.queued_jobs(), &m.texts.queued_ids),
        _ => return None,
    };
    let ids = ids.get_or_init(|| list.iter().map(|s| c_text(&s.job_id)).collect());
    Some((list, ids))
}

/// The number of pending executions with `status` (`JOBS_STATUS_IN_PROGRESS` or
/// `JOBS_STATUS_QUEUED`) in a GetPending reply or a notify message; 0 otherwise.
///
/// # Safety
/// As `jobs_message_queued_at`.
#[no_mangle]
pub unsafe extern "C" fn jobs_message_pending_count(m: *const jobs_message, status: u32) -> usize {
    guard_or(0, || {
        let status = ExecutionStatus::try_from(status).unwrap_or(ExecutionStatus::Unknown);
        msg(m)
            .and_then(|m| summaries(m, status))
            .map_or(0, |(list, _)| list.len())
    })
}

/// Fills `*out` with pending execution `index` of those with `status` (IN_PROGRESS or QUEUED).
/// `out->struct_size` must be set to `sizeof(jobs_job_summary)`. Returns `JOBS_RESULT_OK`,
/// `_NULL_ARGUMENT`, `_INVALID_STRUCT_SIZE`, `_INVALID_ARGUMENT` (another status) or
/// `_NOT_FOUND` (index past the end).
///
/// # Safety
/// As `jobs_message_queued_at`; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn jobs_message_pending_job(
    m: *const jobs_message,
    status: u32,
    index: usize,
    out: *mut jobs_job_summary,
) -> jobs_result {
    guard(|| {
        let m = msg(m).ok_or_else(|| Error::new(jobs_result::NullArgument, "message is NULL"))?;
        if out.is_null() {
            return Err(Error::new(jobs_result::NullArgument, "out is NULL"));
        }
        if (*out).struct_size != std::mem::size_of::<jobs_job_summary>() {
            return Err(Error::new(
                jobs_result::InvalidStructSize,
                "set out->struct_size to sizeof(jobs_job_summary)",
            ));
        }
        let status = enum_arg::<ExecutionStatus>(status, "status")?;
        let (list, ids) = summaries(m, status).ok_or_else(|| {
            Error::new(
                jobs_result::InvalidArgument,
                "pending executions are IN_PROGRESS or QUEUED",
            )
        })?;
        let s = list.get(index).ok_or_else(|| {
            Error::new(
                jobs_result::NotFound,
                format!("pending job {index} of {}", list.len()),
            )
        })?;
        let number = |v: Option<i64>| v.and_then(|n| u64::try_from(n).ok()).unwrap_or(0);
        *out = jobs_job_summary {
            struct_size: std::mem::size_of::<jobs_job_summary>(),
            job_id: ids[index].as_ptr(),
            queued_at: s.queued_at.unwrap_or(0),
            started_at: s.started_at.unwrap_or(0),
            last_updated_at: s.last_updated_at.unwrap_or(0),
            version_number: number(s.version_number),
            execution_number: number(s.execution_number),
        };
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::response::RejectedCode;
    use crate::mqtt::types::Message;
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

    fn text(p: *const c_char) -> Option<String> {
        (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_str().unwrap().to_owned())
    }

    #[test]
    fn getters_convert_the_event() {
        let e = event(
            "$aws/things/ffi-thing/jobs/$next/get/accepted",
            r#"{"clientToken":"tok","execution":{"jobId":"job-1","status":"IN_PROGRESS","statusDetails":{"p":"5"},"versionNumber":3,"executionNumber":2,"jobDocument":{"op":1}}}"#,
        );
        let e = Arc::new(e);
        let view = jobs_message::new(&e);
        let m: *const jobs_message = &view;
        unsafe {
            let mut len = 0;
            let topic = jobs_message_topic(m, &mut len);
            assert_eq!(text(topic).as_deref(), Some(e.topic()));
            assert_eq!(len, e.topic().len());
            // Made once, then the same copy: the pointer stays valid for the callback.
            assert_eq!(jobs_message_topic(m, std::ptr::null_mut()), topic);
            let payload = jobs_message_payload(m, &mut len);
            assert_eq!(std::slice::from_raw_parts(payload, len), e.payload());
            assert_eq!(
                text(jobs_message_thing_name(m)).as_deref(),
                Some("ffi-thing")
            );
            assert_eq!(jobs_message_topic_type(m), 3);
            assert_eq!(jobs_message_reply_type(m), 2);
            assert_eq!(text(jobs_message_job_id(m)).as_deref(), Some("$next"));
            assert!(jobs_message_is_parsed(m));
            assert!(jobs_message_has_execution(m));
            assert_eq!(
                text(jobs_message_execution_job_id(m)).as_deref(),
                Some("job-1")
            );
            assert_eq!(jobs_message_status(m), 2);
            assert_eq!(jobs_message_version_number(m), 3);
            assert_eq!(jobs_message_execution_number(m), 2);
            let doc = jobs_message_job_document(m, &mut len);
            assert_eq!(text(doc).as_deref(), Some(r#"{"op":1}"#));
            assert_eq!(len, 8);
            assert_eq!(
                text(jobs_message_status_details(m)).as_deref(),
                Some(r#"{"p":"5"}"#)
            );
            assert_eq!(text(jobs_message_client_token(m)).as_deref(), Some("tok"));
            assert_eq!(jobs_message_rejection_code(m), 0);
            assert_eq!(jobs_message_rejection_text(m), std::ptr::null());
            assert_eq!(jobs_message_rejection_message(m), std::ptr::null());
        }
    }

    #[test]
    fn rejections_map_every_code() {
        let mut codes: Vec<_> = RejectedCode::KNOWN.to_vec();
        codes.push(RejectedCode::Other("New".into()));
        for (code, want) in codes.iter().zip([1, 2, 3, 4, 5, 6, 7, 8, 9, 99]) {
            let e = event(
                "$aws/things/ffi-thing/jobs/j/update/rejected",
                &format!(
                    r#"{{"code":"{}","message":"why","executionState":{{"status":"FAILED","versionNumber":4}}}}"#,
                    code.as_str()
                ),
            );
            let e = Arc::new(e);
            let view = jobs_message::new(&e);
            let m: *const jobs_message = &view;
            unsafe {
                assert_eq!(jobs_message_rejection_code(m), want);
                assert_eq!(
                    text(jobs_message_rejection_text(m)).as_deref(),
                    Some(code.as_str())
                );
                assert_eq!(
                    text(jobs_message_rejection_message(m)).as_deref(),
                    Some("why")
                );
                assert_eq!(text(jobs_message_execution_job_id(m)).as_deref(), Some("j"));
                assert_eq!(jobs_message_status(m), 3);
                assert_eq!(jobs_message_version_number(m), 4);
                assert_eq!(jobs_message_execution_number(m), 0);
                assert!(!jobs_message_has_execution(m));
                assert_eq!(text(jobs_message_status_details(m)).as_deref(), Some("{}"));
            }
        }
    }

    #[test]
    fn malformed_and_foreign_messages_read_as_absent() {
        for (topic, payload, topic_type) in [
            (
                "$aws/things/ffi-thing/jobs/start-next/accepted",
                "{not json",
                2,
            ),
            (
                "$aws/things/ffi-thing/jobs/notify-next",
                r#"{"execution":{"jobId":7}}"#,
                6,
            ),
            (
                "$aws/things/ffi-thing/jobs/j/update/rejected",
                r#"{"message":"no code"}"#,
                4,
            ),
            (
                "$aws/things/ffi-thing/jobs/a/b/c/d",
                r#"{"execution":{"jobId":"j"}}"#,
                0,
            ),
        ] {
            let e = event(topic, payload);
            let e = Arc::new(e);
            let view = jobs_message::new(&e);
            let m: *const jobs_message = &view;
            unsafe {
                let mut len = 0;
                assert_eq!(
                    text(jobs_message_topic(m, &mut len)).as_deref(),
                    Some(topic)
                );
                assert_eq!(jobs_message_payload(m, &mut len), e.payload().as_ptr());
                assert_eq!(len, payload.len());
                assert_eq!(jobs_message_topic_type(m), topic_type);
                let thing = if topic_type == 0 { "" } else { "ffi-thing" };
                assert_eq!(text(jobs_message_thing_name(m)).as_deref(), Some(thing));
                assert!(!jobs_message_is_parsed(m));
                assert!(!jobs_message_has_execution(m));
                assert_eq!(jobs_message_execution_job_id(m), std::ptr::null());
                assert_eq!(jobs_message_status(m), 0);
                assert_eq!(jobs_message_version_number(m), 0);
                assert_eq!(jobs_message_execution_number(m), 0);
                assert_eq!(jobs_message_job_document(m, &mut len), std::ptr::null());
                assert_eq!(jobs_message_status_details(m), std::ptr::null());
                assert_eq!(jobs_message_client_token(m), std::ptr::null());
                assert_eq!(jobs_message_rejection_code(m), 0);
                assert_eq!(jobs_message_rejection_text(m), std::ptr::null());
            }
        }
    }

    #[test]
    fn null_messages_get_the_documented_defaults() {
        let null: *const jobs_message = std::ptr::null();
        let mut len = 7;
        unsafe {
            assert!(jobs_message_topic(null, &mut len).is_null());
            assert!(jobs_message_payload(null, &mut len).is_null());
            assert_eq!(len, 7);
            assert!(jobs_message_thing_name(null).is_null());
            assert_eq!(jobs_message_topic_type(null), 0);
            assert_eq!(jobs_message_reply_type(null), 0);
            assert!(!jobs_message_is_parsed(null));
            assert_eq!(jobs_message_version_number(null), 0);
            assert_eq!(jobs_message_rejection_code(null), 0);
            assert!(jobs_message_status_details(null).is_null());
        }
    }

    /// What one C handler read from its message.
    type Reading = (
        Option<String>,
        u32,
        u64,
        Option<String>,
        Option<String>,
        usize,
    );

    unsafe extern "C" fn record(ud: *mut std::ffi::c_void, m: *const jobs_message) {
        guard_or((), || {
            let seen = &*(ud as *const std::sync::Mutex<Vec<Reading>>);
            let reading = (
                text(jobs_message_execution_job_id(m)),
                jobs_message_status(m),
                jobs_message_version_number(m),
                text(jobs_message_status_details(m)),
                text(jobs_message_client_token(m)),
                jobs_message_payload(m, std::ptr::null_mut()) as usize,
            );
            seen.lock().unwrap().push(reading);
        })
    }

    #[test]
    fn c_handlers_of_one_message_read_one_parse() {
        use crate::error::jobs_result;
        use crate::ffi::config::*;
        use crate::ffi::jobs::*;
        use crate::jobs::event::parse_count;
        use std::time::{Duration, Instant};

        let emu = iotjobs_emulator::Emulator::start(Default::default()).expect("emulator");
        let seen: Box<std::sync::Mutex<Vec<Reading>>> = Box::default();
        let ud = &*seen as *const _ as *mut std::ffi::c_void;
        let thing = "ffi-once-thing";
        let topic = format!("$aws/things/{thing}/jobs/job-1/get/accepted");
        let payload = r#"{"clientToken":"t","execution":{"jobId":"job-1","status":"QUEUED","statusDetails":{"b":"2","a":"1"},"versionNumber":5}}"#;
        unsafe {
            let mut cfg = std::ptr::null_mut();
            assert_eq!(jobs_config_new(&mut cfg), jobs_result::Ok);
            let host = CString::new("127.0.0.1").unwrap();
            let id = CString::new("ffi-once").unwrap();
            let name = CString::new(thing).unwrap();
            let port = emu.mqtt_addr().port();
            assert_eq!(
                jobs_config_set_endpoint(cfg, host.as_ptr(), port),
                jobs_result::Ok
            );
            assert_eq!(
                jobs_config_set_transport(cfg, jobs_transport::Tcp as u32),
                jobs_result::Ok
            );
            assert_eq!(jobs_config_set_client_id(cfg, id.as_ptr()), jobs_result::Ok);
            assert_eq!(
                jobs_config_set_thing_name(cfg, name.as_ptr()),
                jobs_result::Ok
            );
            let mut client = std::ptr::null_mut();
            assert_eq!(jobs_client_new(cfg, &mut client), jobs_result::Ok);
            jobs_config_free(cfg);
            assert_eq!(jobs_client_connect(client), jobs_result::Ok);
            let plus = CString::new("+").unwrap();
            let job = CString::new("job-1").unwrap();
            // jobs/#, +/get/accepted, job-1/get/accepted, job-1/get/#.
            for (t, r, j) in [
                (7, 1, std::ptr::null()),
                (3, 2, plus.as_ptr()),
                (3, 2, job.as_ptr()),
                (3, 4, job.as_ptr()),
            ] {
                let rc = jobs_create_subscription(
                    client,
                    t,
                    r,
                    j,
                    Some(record),
                    ud,
                    std::ptr::null_mut(),
                );
                assert_eq!(rc, jobs_result::Ok);
            }
            let before = parse_count::of(&topic);
            emu.publish(&topic, payload.as_bytes(), 1);
            let deadline = Instant::now() + Duration::from_secs(10);
            while seen.lock().unwrap().len() < 4 {
                assert!(Instant::now() < deadline, "not every handler was called");
                std::thread::sleep(Duration::from_millis(5));
            }
            jobs_client_free(client);
            assert_eq!(parse_count::of(&topic), before + 1);
        }
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 4);
        let want = (
            Some("job-1".to_owned()),
            1,
            5,
            Some(r#"{"a":"1","b":"2"}"#.to_owned()),
            Some("t".to_owned()),
            seen[0].5,
        );
        for reading in seen.iter() {
            assert_eq!(*reading, want);
        }
    }
}
