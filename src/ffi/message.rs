//! `jobs_message`: a borrowed view of one jobs message, with its topic and payload parsed so C
//! code need not parse JSON or topics.

use super::connection::c_text;
use super::{guard_or, write_out};
use crate::jobs::client::JobsMessage;
use crate::jobs::response::{parse_response, JobExecutionState, RejectedCode, Response};
use crate::jobs::types::{ExecutionStatus, RejectionCode};
use std::ffi::{c_char, CString};

/// The C name of the rejection-code enum, for Rust code written against the C API.
pub use crate::jobs::types::RejectionCode as jobs_rejection_code;

/// One message on a jobs topic, lent to a `jobs_message_callback`. Valid only until the
/// callback returns; every pointer obtained from it too. Never free it.
pub struct jobs_message {
    topic: CString,
    topic_len: usize,
    payload: bytes::Bytes,
    thing: CString,
    topic_type: u32,
    reply_type: u32,
    job_id: Option<CString>,
    response: Option<Response>,
    texts: Texts,
}

#[derive(Default)]
struct Texts {
    execution_job_id: Option<CString>,
    job_document: Option<CString>,
    status_details: Option<CString>,
    client_token: Option<CString>,
    rejection_text: Option<CString>,
    rejection_message: Option<CString>,
}

fn details_json(pairs: &[(String, String)]) -> CString {
    let map: serde_json::Map<String, serde_json::Value> = pairs
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    c_text(&serde_json::Value::Object(map).to_string())
}

impl jobs_message {
    pub(crate) fn new(m: &JobsMessage<'_>) -> jobs_message {
        let (thing, topic_type, reply_type, job_id) = match &m.parsed {
            Some(p) => (
                c_text(&p.thing),
                p.topic_type as u32,
                p.reply_type as u32,
                p.job_id.as_deref().map(c_text),
            ),
            None => (CString::default(), 0, 0, None),
        };
        let response = m
            .parsed
            .as_ref()
            .and_then(|p| parse_response(p.topic_type, p.reply_type, &m.message.payload).ok());
        let topic = c_text(&m.message.topic);
        let mut msg = jobs_message {
            topic_len: topic.as_bytes().len(),
            topic,
            payload: m.message.payload.clone(),
            thing,
            topic_type,
            reply_type,
            job_id,
            response,
            texts: Texts::default(),
        };
        msg.texts = msg.make_texts();
        msg
    }

    fn state(&self) -> Option<&JobExecutionState> {
        match &self.response {
            Some(Response::UpdateAccepted(u)) => u.execution_state.as_ref(),
            Some(Response::Rejected(r)) => r.execution_state.as_ref(),
            _ => None,
        }
    }

    fn execution(&self) -> Option<&crate::jobs::response::JobExecution> {
        match &self.response {
            Some(Response::StartNextAccepted(e)) | Some(Response::DescribeAccepted(e)) => {
                e.execution.as_ref()
            }
            Some(Response::NextJobExecutionChanged(n)) => n.execution.as_ref(),
            _ => None,
        }
    }

    fn make_texts(&self) -> Texts {
        let mut t = Texts::default();
        if let Some(e) = self.execution() {
            t.execution_job_id = Some(c_text(&e.job_id));
            t.job_document = e.job_document.as_deref().map(c_text);
            t.status_details = Some(details_json(&e.status_details));
        } else if let Some(s) = self.state() {
            t.execution_job_id = self.job_id.clone();
            t.status_details = Some(details_json(&s.status_details));
        }
        match &self.response {
            Some(Response::UpdateAccepted(u)) => {
                t.job_document = u.job_document.as_deref().map(c_text);
                t.client_token = u.client_token.as_deref().map(c_text);
            }
            Some(Response::StartNextAccepted(e)) | Some(Response::DescribeAccepted(e)) => {
                t.client_token = e.client_token.as_deref().map(c_text);
            }
            Some(Response::GetPendingAccepted(g)) => {
                t.client_token = g.client_token.as_deref().map(c_text);
            }
            Some(Response::Rejected(r)) => {
                t.client_token = r.client_token.as_deref().map(c_text);
                t.rejection_text = Some(c_text(r.code.as_str()));
                t.rejection_message = r.message.as_deref().map(c_text);
            }
            _ => {}
        }
        t
    }
}

fn opt_ptr(s: &Option<CString>) -> *const c_char {
    s.as_ref().map_or(std::ptr::null(), |s| s.as_ptr())
}

fn msg<'a>(m: *const jobs_message) -> Option<&'a jobs_message> {
    // SAFETY: the header's contract: NULL or the message lent to the running callback.
    unsafe { m.as_ref() }
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
        Some(m) => {
            write_out(len_out, m.topic_len);
            m.topic.as_ptr()
        }
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
            write_out(len_out, m.payload.len());
            m.payload.as_ptr()
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
        msg(m).map_or(std::ptr::null(), |m| m.thing.as_ptr())
    })
}

/// Returns the topic type (`jobs_topic_type`), 0 (unrecognized) for NULL.
///
/// # Safety
/// `m` is NULL or the message lent to the running callback.
#[no_mangle]
pub unsafe extern "C" fn jobs_message_topic_type(m: *const jobs_message) -> u32 {
    guard_or(0, || msg(m).map_or(0, |m| m.topic_type))
}

/// Returns the reply type (`jobs_reply_type`: 1 request/notification, 2 accepted, 3 rejected),
/// 0 for NULL.
///
/// # Safety
/// `m` is NULL or the message lent to the running callback.
#[no_mangle]
pub unsafe extern "C" fn jobs_message_reply_type(m: *const jobs_message) -> u32 {
    guard_or(0, || msg(m).map_or(0, |m| m.reply_type))
}

/// Returns the job id in the topic (describe and update topics; may be `$next`), or NULL when
/// the topic has none. Borrowed.
///
/// # Safety
/// `m` is NULL or the message lent to the running callback.
#[no_mangle]
pub unsafe extern "C" fn jobs_message_job_id(m: *const jobs_message) -> *const c_char {
    guard_or(std::ptr::null(), || {
        msg(m).map_or(std::ptr::null(), |m| opt_ptr(&m.job_id))
    })
}

/// Returns true when the payload was parsed as the response its topic announces. False for a
/// malformed payload (the raw payload is still available).
///
/// # Safety
/// `m` is NULL or the message lent to the running callback.
#[no_mangle]
pub unsafe extern "C" fn jobs_message_is_parsed(m: *const jobs_message) -> bool {
    guard_or(false, || msg(m).is_some_and(|m| m.response.is_some()))
}

/// Returns true when the message carries a job execution: start-next or describe accepted with
/// a pending job, or notify-next naming the next job. False means "no pending job" on those
/// topics.
///
/// # Safety
/// `m` is NULL or the message lent to the running callback.
#[no_mangle]
pub unsafe extern "C" fn jobs_message_has_execution(m: *const jobs_message) -> bool {
    guard_or(false, || msg(m).is_some_and(|m| m.execution().is_some()))
}

/// Returns the job id of the execution the payload describes (the execution's `jobId`, or the
/// topic's job id for update replies and rejections with an execution state), or NULL. Borrowed.
///
/// # Safety
/// `m` is NULL or the message lent to the running callback.
#[no_mangle]
pub unsafe extern "C" fn jobs_message_execution_job_id(m: *const jobs_message) -> *const c_char {
    guard_or(std::ptr::null(), || {
        msg(m).map_or(std::ptr::null(), |m| opt_ptr(&m.texts.execution_job_id))
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
    guard_or(0, || {
        msg(m).map_or(0, |m| {
            m.execution()
                .map(|e| e.status)
                .or_else(|| m.state().map(|s| s.status))
                .unwrap_or(ExecutionStatus::NotSet) as u32
        })
    })
}

/// Returns the execution's `versionNumber` (pass it as the next update's expected version), or
/// -1 when the payload has none.
///
/// # Safety
/// `m` is NULL or the message lent to the running callback.
#[no_mangle]
pub unsafe extern "C" fn jobs_message_version_number(m: *const jobs_message) -> i64 {
    guard_or(-1, || {
        msg(m)
            .and_then(|m| {
                m.execution()
                    .and_then(|e| e.version_number)
                    .or_else(|| m.state().and_then(|s| s.version_number))
            })
            .unwrap_or(-1)
    })
}

/// Returns the execution's `executionNumber`, or -1 when the payload has none.
///
/// # Safety
/// `m` is NULL or the message lent to the running callback.
#[no_mangle]
pub unsafe extern "C" fn jobs_message_execution_number(m: *const jobs_message) -> i64 {
    guard_or(-1, || {
        msg(m)
            .and_then(|m| m.execution().and_then(|e| e.execution_number))
            .unwrap_or(-1)
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
    guard_or(std::ptr::null(), || {
        match msg(m).and_then(|m| m.texts.job_document.as_ref()) {
            Some(doc) => {
                write_out(len_out, doc.as_bytes().len());
                doc.as_ptr()
            }
            None => std::ptr::null(),
        }
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
        msg(m).map_or(std::ptr::null(), |m| opt_ptr(&m.texts.status_details))
    })
}

/// Returns the client token AWS echoed, or NULL. Borrowed.
///
/// # Safety
/// `m` is NULL or the message lent to the running callback.
#[no_mangle]
pub unsafe extern "C" fn jobs_message_client_token(m: *const jobs_message) -> *const c_char {
    guard_or(std::ptr::null(), || {
        msg(m).map_or(std::ptr::null(), |m| opt_ptr(&m.texts.client_token))
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
        let Some(Response::Rejected(r)) = msg(m).and_then(|m| m.response.as_ref()) else {
            return RejectionCode::None.as_u32();
        };
        use RejectionCode as C;
        (match &r.code {
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
        })
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
        msg(m).map_or(std::ptr::null(), |m| opt_ptr(&m.texts.rejection_text))
    })
}

/// Returns AWS's explanation of a rejection (`message`), or NULL. Borrowed.
///
/// # Safety
/// `m` is NULL or the message lent to the running callback.
#[no_mangle]
pub unsafe extern "C" fn jobs_message_rejection_message(m: *const jobs_message) -> *const c_char {
    guard_or(std::ptr::null(), || {
        msg(m).map_or(std::ptr::null(), |m| opt_ptr(&m.texts.rejection_message))
    })
}
