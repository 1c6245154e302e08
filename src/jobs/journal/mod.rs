//! The job agent's crash-safe journal: what must survive a reboot or a power loss so that an
//! execution never runs twice, a final status is resent until the service acknowledges it, and
//! a job cut short goes back to its handler with its checkpoint.
//!
//! This module is the pure part: the state, its transitions and its file format, no I/O.
//! [`file`] stores it. `docs/journal.md` describes the format, the bounds and the protocol.
//!
//! Every transition checks its input and keeps the invariants [`JournalState::check`] states;
//! [`decode`] accepts exactly the states that pass that check, so a state read back from disk
//! is as sound as one built by the transitions.

pub mod file;

use std::collections::{HashSet, VecDeque};
use std::fmt;

use serde::{Deserialize, Serialize};

use super::types::ExecutionStatus;
use super::validate::{
    validate_device_status, validate_job_id, validate_thing_name, StatusDetails,
    DETAILS_KEY_MAX_LEN, DETAILS_MAX_PAIRS, DETAILS_VALUE_MAX_LEN, JOB_ID_MAX_LEN,
    THING_NAME_MAX_LEN,
};
use crate::error::{jobs_result, Error, Result};

/// The format version this library writes and reads; any other is refused.
pub const JOURNAL_VERSION: u32 = 1;
/// Largest checkpoint, in bytes: a checkpoint is a small state blob, not a data store.
pub const MAX_CHECKPOINT_BYTES: usize = 4096;
/// Finished executions remembered; beyond this the oldest is forgotten.
pub const MAX_FINISHED: usize = 256;
/// Things that may have a job under way at once.
pub const MAX_ACTIVE: usize = 16;
/// Longest operation name, in bytes (UTF-8).
pub const MAX_OPERATION_BYTES: usize = 128;

/// The magic that opens the header line; the version follows it.
const MAGIC: &[u8] = b"iotjobs-journal ";
/// Longest header line, newline included: magic, a `u32`, a `u64` and 8 hex digits need 57.
const HEADER_MAX_BYTES: usize = 64;
/// Field names, quotes, punctuation and three 20-digit numbers of one record, rounded up.
const RECORD_OVERHEAD_BYTES: usize = 256;
/// One active job at its largest: serde_json writes a control character of the operation as
/// up to 6 bytes (`\u0000`), the checkpoint as 2 hex digits a byte, and a details value as up
/// to 4 bytes a character (UTF-8; values hold no control characters, `"` and `\` take 2).
const ACTIVE_MAX_BYTES: usize = RECORD_OVERHEAD_BYTES
    + THING_NAME_MAX_LEN
    + JOB_ID_MAX_LEN
    + 6 * MAX_OPERATION_BYTES
    + 2 * MAX_CHECKPOINT_BYTES
    + DETAILS_MAX_PAIRS * (DETAILS_KEY_MAX_LEN + 4 * DETAILS_VALUE_MAX_LEN + 8);
/// One finished execution at its largest (thing names and job ids are ASCII, never escaped).
const FINISHED_MAX_BYTES: usize = RECORD_OVERHEAD_BYTES + THING_NAME_MAX_LEN + JOB_ID_MAX_LEN;
/// The body at its largest: the two arrays' frame, and each record with its comma.
const BODY_MAX_BYTES: usize =
    32 + MAX_ACTIVE * (ACTIVE_MAX_BYTES + 1) + MAX_FINISHED * (FINISHED_MAX_BYTES + 1);
/// Largest journal file (header and body) that any valid state encodes to, about 0.9 MiB; the
/// reader refuses bigger files without parsing them.
pub const MAX_JOURNAL_BYTES: usize = HEADER_MAX_BYTES + BODY_MAX_BYTES;
// A device reads the whole file into memory at start: keep it under 1 MiB.
const _: () = assert!(MAX_JOURNAL_BYTES < 1024 * 1024);

/// Names one execution: AWS numbers each run of a job on a thing (`executionNumber`, from 1).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ExecutionKey {
    /// The thing the job runs on.
    pub thing: String,
    /// The job id.
    pub job_id: String,
    /// The execution number AWS gave this run (1 or more).
    pub execution_number: u64,
}

impl ExecutionKey {
    /// Builds a key.
    pub fn new(thing: impl Into<String>, job_id: impl Into<String>, execution_number: u64) -> Self {
        ExecutionKey {
            thing: thing.into(),
            job_id: job_id.into(),
            execution_number,
        }
    }

    /// Checks the thing name and job id against AWS's rules and that the execution number is
    /// at least 1.
    ///
    /// # Errors
    /// `INVALID_THING_NAME`, `INVALID_JOB_ID`, or `INVALID_ARGUMENT` for execution number 0.
    pub fn check(&self) -> Result<()> {
        validate_thing_name(&self.thing)?;
        validate_job_id(&self.job_id)?;
        if self.execution_number == 0 {
            return Err(Error::new(
                jobs_result::InvalidArgument,
                format!("{self}: execution numbers start at 1"),
            ));
        }
        Ok(())
    }
}

impl fmt::Display for ExecutionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "job {} (execution {}) of thing {}",
            self.job_id, self.execution_number, self.thing
        )
    }
}

/// Where an active job is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Handed to its handler; after a restart it goes back to the handler with its checkpoint.
    Running,
    /// Its handler decided the final status, not yet acknowledged by the service; after a
    /// restart it is resent, never run again.
    Final {
        /// SUCCEEDED, FAILED or REJECTED.
        status: ExecutionStatus,
        /// The status details sent with it, in order (AWS's update limits).
        details: Vec<(String, String)>,
    },
}

/// A job under way on one thing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActiveJob {
    /// Which execution.
    pub key: ExecutionKey,
    /// The handler's operation name (at most [`MAX_OPERATION_BYTES`]).
    pub operation: String,
    /// Running, or decided and waiting for the service's acknowledgement.
    pub phase: Phase,
    /// The handler's last checkpoint (at most [`MAX_CHECKPOINT_BYTES`]), if it saved one.
    pub checkpoint: Option<Vec<u8>>,
    /// The last `versionNumber` known for the execution, 0 for none.
    pub version_number: u64,
    /// When the handler first got the job, in milliseconds since the Unix epoch.
    pub started_unix_ms: u64,
}

impl ActiveJob {
    /// A job just handed to its handler: running, no checkpoint, no version known.
    pub fn running(key: ExecutionKey, operation: impl Into<String>, started_unix_ms: u64) -> Self {
        ActiveJob {
            key,
            operation: operation.into(),
            phase: Phase::Running,
            checkpoint: None,
            version_number: 0,
            started_unix_ms,
        }
    }

    /// Checks every field: the key, the operation's length, the checkpoint's size, and a final
    /// phase's status and details.
    ///
    /// # Errors
    /// The code of the first bad field (`INVALID_THING_NAME`, `INVALID_JOB_ID`,
    /// `INVALID_ARGUMENT`, `PAYLOAD_TOO_LARGE`, `INVALID_STATUS`, `INVALID_STATUS_DETAILS`).
    pub fn check(&self) -> Result<()> {
        self.key.check()?;
        if self.operation.len() > MAX_OPERATION_BYTES {
            return Err(Error::new(
                jobs_result::InvalidArgument,
                format!(
                    "{}: the operation name is {} bytes long, over the limit of \
                     {MAX_OPERATION_BYTES}",
                    self.key,
                    self.operation.len()
                ),
            ));
        }
        if let Some(c) = &self.checkpoint {
            check_checkpoint(&self.key, c)?;
        }
        if let Phase::Final { status, details } = &self.phase {
            check_final(*status, details)?;
        }
        Ok(())
    }
}

/// An execution that reached a terminal status acknowledged by the service: never run again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FinishedExecution {
    /// Which execution.
    pub key: ExecutionKey,
    /// Its terminal status.
    pub status: ExecutionStatus,
}

/// Everything the journal keeps: the jobs under way (at most one per thing) and the
/// executions finished lately, oldest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JournalState {
    /// At most [`MAX_ACTIVE`] jobs under way, at most one per thing, in the order begun.
    pub active: Vec<ActiveJob>,
    /// At most [`MAX_FINISHED`] finished executions, oldest first, each once.
    pub finished: VecDeque<FinishedExecution>,
}

/// Refuses a checkpoint over [`MAX_CHECKPOINT_BYTES`].
fn check_checkpoint(key: &ExecutionKey, bytes: &[u8]) -> Result<()> {
    if bytes.len() > MAX_CHECKPOINT_BYTES {
        return Err(Error::new(
            jobs_result::PayloadTooLarge,
            format!(
                "{key}: the checkpoint is {} bytes, over the limit of {MAX_CHECKPOINT_BYTES}",
                bytes.len()
            ),
        ));
    }
    Ok(())
}

/// Checks a final decision: a status a device ends a job with, and details AWS would take.
fn check_final(status: ExecutionStatus, details: &[(String, String)]) -> Result<()> {
    validate_device_status(status)?;
    if !status.is_terminal() {
        return Err(Error::new(
            jobs_result::InvalidStatus,
            format!(
                "status {} is not final: a job ends with SUCCEEDED, FAILED or REJECTED",
                status.as_str()
            ),
        ));
    }
    // The details go out in the final update: the update's own rule decides.
    StatusDetails::from_pairs(details.iter().cloned())?;
    Ok(())
}

/// Refuses a status that an execution may still leave.
fn check_terminal(key: &ExecutionKey, status: ExecutionStatus) -> Result<()> {
    if !status.is_terminal() {
        return Err(Error::new(
            jobs_result::InvalidStatus,
            format!(
                "{key}: status {} is not terminal: an execution finishes with SUCCEEDED, \
                 FAILED, REJECTED, CANCELED, TIMED_OUT or REMOVED",
                status.as_str()
            ),
        ));
    }
    Ok(())
}

/// Adds `context` in front of an error's message, keeping its code.
fn within(context: impl fmt::Display) -> impl FnOnce(Error) -> Error {
    move |e| Error::new(e.code, format!("{context}: {}", e.message))
}

impl JournalState {
    /// Checks every invariant the transitions keep: each record valid, at most
    /// [`MAX_ACTIVE`] active jobs and one per thing, at most [`MAX_FINISHED`] finished
    /// executions each listed once with a terminal status, and no active job already finished.
    ///
    /// # Errors
    /// The first broken rule, with its code; the message names the record.
    pub fn check(&self) -> Result<()> {
        if self.active.len() > MAX_ACTIVE {
            return Err(Error::new(
                jobs_result::InvalidArgument,
                format!(
                    "{} active jobs, over the limit of {MAX_ACTIVE}",
                    self.active.len()
                ),
            ));
        }
        if self.finished.len() > MAX_FINISHED {
            return Err(Error::new(
                jobs_result::InvalidArgument,
                format!(
                    "{} finished executions, over the limit of {MAX_FINISHED}",
                    self.finished.len()
                ),
            ));
        }
        let mut done = HashSet::with_capacity(self.finished.len());
        for (i, f) in self.finished.iter().enumerate() {
            let context = format!("finished execution {i}");
            f.key.check().map_err(within(&context))?;
            check_terminal(&f.key, f.status).map_err(within(&context))?;
            if !done.insert(&f.key) {
                return Err(Error::new(
                    jobs_result::InvalidArgument,
                    format!("{context}: {} is listed twice", f.key),
                ));
            }
        }
        let mut things = HashSet::with_capacity(self.active.len());
        for (i, a) in self.active.iter().enumerate() {
            let context = format!("active job {i}");
            a.check().map_err(within(&context))?;
            if !things.insert(a.key.thing.as_str()) {
                return Err(Error::new(
                    jobs_result::InvalidArgument,
                    format!("{context}: thing {} has two active jobs", a.key.thing),
                ));
            }
            if done.contains(&a.key) {
                return Err(Error::new(
                    jobs_result::InvalidArgument,
                    format!("{context}: {} is also listed as finished", a.key),
                ));
            }
        }
        Ok(())
    }

    /// The job under way on `thing`, if any.
    pub fn active_for(&self, thing: &str) -> Option<&ActiveJob> {
        self.active.iter().find(|a| a.key.thing == thing)
    }

    /// The terminal status `key` finished with, if it is still remembered.
    pub fn finished_status(&self, key: &ExecutionKey) -> Option<ExecutionStatus> {
        self.finished
            .iter()
            .find(|f| f.key == *key)
            .map(|f| f.status)
    }

    /// Records a job handed to its handler (normally [`ActiveJob::running`]).
    ///
    /// # Errors
    /// The error of [`ActiveJob::check`]; `INVALID_ARGUMENT` when the execution already
    /// finished (it must not run again); `IN_PROGRESS` when this execution is already under
    /// way; `BUSY` when the thing has another job under way, or [`MAX_ACTIVE`] things do.
    pub fn begin(&mut self, job: ActiveJob) -> Result<()> {
        job.check()?;
        if let Some(status) = self.finished_status(&job.key) {
            return Err(Error::new(
                jobs_result::InvalidArgument,
                format!(
                    "{} already finished with {}: it must not run again",
                    job.key,
                    status.as_str()
                ),
            ));
        }
        if let Some(a) = self.active_for(&job.key.thing) {
            if a.key == job.key {
                return Err(Error::new(
                    jobs_result::InProgress,
                    format!("{} is already under way", job.key),
                ));
            }
            return Err(Error::new(
                jobs_result::Busy,
                format!(
                    "thing {} already has job {} (execution {}) under way: one job at a time \
                     per thing",
                    a.key.thing, a.key.job_id, a.key.execution_number
                ),
            ));
        }
        if self.active.len() >= MAX_ACTIVE {
            return Err(Error::new(
                jobs_result::Busy,
                format!(
                    "{MAX_ACTIVE} things already have a job under way, the most the journal keeps"
                ),
            ));
        }
        self.active.push(job);
        Ok(())
    }

    /// The active job `key` names, or `NOT_FOUND` saying what the thing has instead.
    fn active_mut(&mut self, key: &ExecutionKey) -> Result<&mut ActiveJob> {
        let Some(a) = self.active.iter_mut().find(|a| a.key.thing == key.thing) else {
            return Err(Error::new(
                jobs_result::NotFound,
                format!("{key} is not under way: the thing has no active job"),
            ));
        };
        if a.key != *key {
            return Err(Error::new(
                jobs_result::NotFound,
                format!(
                    "{key} is not under way: the thing's active job is {} (execution {})",
                    a.key.job_id, a.key.execution_number
                ),
            ));
        }
        Ok(a)
    }

    /// Replaces the running job's checkpoint.
    ///
    /// # Errors
    /// `PAYLOAD_TOO_LARGE` over [`MAX_CHECKPOINT_BYTES`]; `NOT_FOUND` when `key` is not under
    /// way; `INVALID_ARGUMENT` once its final status is decided (its handler is done).
    pub fn set_checkpoint(&mut self, key: &ExecutionKey, bytes: &[u8]) -> Result<()> {
        check_checkpoint(key, bytes)?;
        let a = self.active_mut(key)?;
        if let Phase::Final { status, .. } = a.phase {
            return Err(Error::new(
                jobs_result::InvalidArgument,
                format!(
                    "{key} is decided ({}): its checkpoint no longer changes",
                    status.as_str()
                ),
            ));
        }
        a.checkpoint = Some(bytes.to_vec());
        Ok(())
    }

    /// Records the last `versionNumber` the service reported for `key` (the service's word is
    /// taken as it is).
    ///
    /// # Errors
    /// `NOT_FOUND` when `key` is not under way.
    pub fn set_version(&mut self, key: &ExecutionKey, version_number: u64) -> Result<()> {
        self.active_mut(key)?.version_number = version_number;
        Ok(())
    }

    /// Records the handler's final status (Running → Final): from now on it is resent until
    /// acknowledged, never run again. Deciding again the same status and details does nothing.
    ///
    /// # Errors
    /// `INVALID_STATUS` unless SUCCEEDED, FAILED or REJECTED; `INVALID_STATUS_DETAILS` for
    /// details an update would refuse; `NOT_FOUND` when `key` is not under way;
    /// `INVALID_ARGUMENT` when another decision was already recorded.
    pub fn decide(
        &mut self,
        key: &ExecutionKey,
        status: ExecutionStatus,
        details: Vec<(String, String)>,
    ) -> Result<()> {
        check_final(status, &details).map_err(within(key))?;
        let a = self.active_mut(key)?;
        let decided = Phase::Final { status, details };
        match &a.phase {
            Phase::Running => a.phase = decided,
            same if *same == decided => {}
            Phase::Final { status: was, .. } => {
                return Err(Error::new(
                    jobs_result::InvalidArgument,
                    format!(
                        "{key} is already decided ({}): a decision is not changed",
                        was.as_str()
                    ),
                ))
            }
        }
        Ok(())
    }

    /// Ends `key` with the terminal status the service acknowledged (or set itself, such as
    /// CANCELED): it leaves the active jobs and is remembered as finished, the oldest finished
    /// execution forgotten beyond [`MAX_FINISHED`]. Finishing again with the same status does
    /// nothing.
    ///
    /// # Errors
    /// `INVALID_STATUS` for a status that is not terminal; `NOT_FOUND` when `key` is not under
    /// way (nor finished with this status).
    pub fn finish(&mut self, key: &ExecutionKey, status: ExecutionStatus) -> Result<()> {
        check_terminal(key, status)?;
        if self.finished_status(key) == Some(status) {
            return Ok(());
        }
        self.active_mut(key)?;
        self.active.retain(|a| a.key != *key);
        self.finished.push_back(FinishedExecution {
            key: key.clone(),
            status,
        });
        while self.finished.len() > MAX_FINISHED {
            self.finished.pop_front();
        }
        Ok(())
    }
}

/// Why bytes are not a journal this library can use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// Over [`MAX_JOURNAL_BYTES`]: refused unread.
    TooBig {
        /// The size found, in bytes.
        len: u64,
    },
    /// Does not start with a journal header line.
    NotAJournal {
        /// What is wrong with the start of the file.
        reason: String,
    },
    /// A journal of another format version.
    WrongVersion {
        /// The version in the header.
        found: u32,
    },
    /// Ends before the header line or the body it announces does: a write cut short.
    Truncated {
        /// The bytes there are.
        found: usize,
        /// The bytes the header announces, when the header line is whole.
        expected: Option<usize>,
    },
    /// The body's CRC-32 is not the header's: the bytes changed after they were written.
    BadChecksum {
        /// The header's CRC-32.
        expected: u32,
        /// The body's.
        actual: u32,
    },
    /// Header and checksum are right but the content is not a valid state.
    InvalidContent {
        /// What is wrong, naming the record.
        reason: String,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::TooBig { len } => write!(
                f,
                "the journal is {len} bytes, over the limit of {MAX_JOURNAL_BYTES}"
            ),
            DecodeError::NotAJournal { reason } => write!(f, "not a journal: {reason}"),
            DecodeError::WrongVersion { found } => write!(
                f,
                "journal format version {found}, but this library reads version \
                 {JOURNAL_VERSION} only"
            ),
            DecodeError::Truncated {
                found,
                expected: Some(expected),
            } => write!(
                f,
                "the journal is truncated: {found} of its {expected} bytes are there"
            ),
            DecodeError::Truncated {
                found,
                expected: None,
            } => write!(
                f,
                "the journal is truncated: its {found} bytes end inside the header line"
            ),
            DecodeError::BadChecksum { expected, actual } => write!(
                f,
                "the journal's body has CRC-32 {actual:08x}, not the {expected:08x} its header \
                 says: it changed after it was written"
            ),
            DecodeError::InvalidContent { reason } => {
                write!(f, "the journal's content is invalid: {reason}")
            }
        }
    }
}

impl std::error::Error for DecodeError {}

/// The JSON body as written: borrows the state.
#[derive(Serialize)]
struct BodyOut<'a> {
    active: Vec<ActiveOut<'a>>,
    finished: Vec<FinishedOut<'a>>,
}

#[derive(Serialize)]
struct ActiveOut<'a> {
    thing: &'a str,
    job_id: &'a str,
    execution_number: u64,
    operation: &'a str,
    #[serde(rename = "final")]
    decided: Option<FinalOut<'a>>,
    checkpoint: Option<String>,
    version_number: u64,
    started_unix_ms: u64,
}

#[derive(Serialize)]
struct FinalOut<'a> {
    status: &'static str,
    details: &'a [(String, String)],
}

#[derive(Serialize)]
struct FinishedOut<'a> {
    thing: &'a str,
    job_id: &'a str,
    execution_number: u64,
    status: &'static str,
}

/// The JSON body as read: the same shape, nothing unknown accepted.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BodyIn {
    active: Vec<ActiveIn>,
    finished: Vec<FinishedIn>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ActiveIn {
    thing: String,
    job_id: String,
    execution_number: u64,
    operation: String,
    #[serde(rename = "final")]
    decided: Option<FinalIn>,
    checkpoint: Option<String>,
    version_number: u64,
    started_unix_ms: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FinalIn {
    status: String,
    details: Vec<(String, String)>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FinishedIn {
    thing: String,
    job_id: String,
    execution_number: u64,
    status: String,
}

/// Encodes `state` as a journal file: the header line
/// `iotjobs-journal <version> <body length> <body CRC-32, 8 hex digits>\n`, then the JSON body.
/// A state that passes [`JournalState::check`] encodes to at most [`MAX_JOURNAL_BYTES`] and
/// decodes back to itself.
pub fn encode(state: &JournalState) -> Vec<u8> {
    let body = BodyOut {
        active: state
            .active
            .iter()
            .map(|a| ActiveOut {
                thing: &a.key.thing,
                job_id: &a.key.job_id,
                execution_number: a.key.execution_number,
                operation: &a.operation,
                decided: match &a.phase {
                    Phase::Running => None,
                    Phase::Final { status, details } => Some(FinalOut {
                        status: status.as_str(),
                        details,
                    }),
                },
                checkpoint: a.checkpoint.as_deref().map(hex_encode),
                version_number: a.version_number,
                started_unix_ms: a.started_unix_ms,
            })
            .collect(),
        finished: state
            .finished
            .iter()
            .map(|f| FinishedOut {
                thing: &f.key.thing,
                job_id: &f.key.job_id,
                execution_number: f.key.execution_number,
                status: f.status.as_str(),
            })
            .collect(),
    };
    // Serializing borrowed strings, numbers and `&'static str`s cannot fail.
    let body = serde_json::to_vec(&body).unwrap_or_default();
    let mut out = format!(
        "iotjobs-journal {JOURNAL_VERSION} {} {:08x}\n",
        body.len(),
        crc32fast::hash(&body)
    )
    .into_bytes();
    out.extend_from_slice(&body);
    out
}

/// Decodes a journal file written by [`encode`], checking in order its size, header, version,
/// length, checksum and content; what it returns passes [`JournalState::check`].
///
/// # Errors
/// The [`DecodeError`] of the first check that fails.
pub fn decode(bytes: &[u8]) -> std::result::Result<JournalState, DecodeError> {
    if bytes.len() > MAX_JOURNAL_BYTES {
        return Err(DecodeError::TooBig {
            len: bytes.len() as u64,
        });
    }
    let not_a_journal = |reason: String| DecodeError::NotAJournal { reason };
    let head = &bytes[..bytes.len().min(MAGIC.len())];
    if head != &MAGIC[..head.len()] {
        return Err(not_a_journal(
            "it does not start with \"iotjobs-journal \"".into(),
        ));
    }
    let window = &bytes[..bytes.len().min(HEADER_MAX_BYTES)];
    let Some(newline) = window.iter().position(|&b| b == b'\n') else {
        if bytes.len() < HEADER_MAX_BYTES {
            return Err(DecodeError::Truncated {
                found: bytes.len(),
                expected: None,
            });
        }
        return Err(not_a_journal(format!(
            "its header line is longer than {HEADER_MAX_BYTES} bytes"
        )));
    };
    let header = &bytes[MAGIC.len()..newline];
    if !header.is_ascii() {
        return Err(not_a_journal("its header line is not ASCII".into()));
    }
    let header = String::from_utf8_lossy(header);
    let mut fields = header.split(' ');
    let version = fields.next().unwrap_or_default();
    let version: u32 = parse_decimal(version)
        .and_then(|v| u32::try_from(v).ok())
        .ok_or_else(|| not_a_journal(format!("the version {version:?} is not a number")))?;
    if version != JOURNAL_VERSION {
        return Err(DecodeError::WrongVersion { found: version });
    }
    let (Some(len), Some(crc), None) = (fields.next(), fields.next(), fields.next()) else {
        return Err(not_a_journal(format!(
            "the header line {header:?} is not \"<version> <length> <crc32>\""
        )));
    };
    let body_len = parse_decimal(len)
        .and_then(|l| usize::try_from(l).ok())
        .filter(|&l| l <= BODY_MAX_BYTES)
        .ok_or_else(|| {
            not_a_journal(format!(
                "the body length {len:?} is not a number up to {BODY_MAX_BYTES}"
            ))
        })?;
    let expected_crc = (crc.len() == 8
        && crc.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
    .then(|| u32::from_str_radix(crc, 16).ok())
    .flatten()
    .ok_or_else(|| not_a_journal(format!("the CRC-32 {crc:?} is not 8 lowercase hex digits")))?;
    let body = &bytes[newline + 1..];
    if body.len() < body_len {
        return Err(DecodeError::Truncated {
            found: bytes.len(),
            expected: Some(newline + 1 + body_len),
        });
    }
    let invalid = |reason: String| DecodeError::InvalidContent { reason };
    if body.len() > body_len {
        return Err(invalid(format!(
            "{} bytes follow the {body_len}-byte body the header announces",
            body.len() - body_len
        )));
    }
    let actual_crc = crc32fast::hash(body);
    if actual_crc != expected_crc {
        return Err(DecodeError::BadChecksum {
            expected: expected_crc,
            actual: actual_crc,
        });
    }
    let raw: BodyIn = serde_json::from_slice(body).map_err(|e| invalid(e.to_string()))?;
    let state = from_raw(raw).map_err(invalid)?;
    state.check().map_err(|e| invalid(e.message))?;
    Ok(state)
}

/// Turns the parsed body into a state: hex checkpoints and status names; the rest is checked
/// by [`JournalState::check`].
fn from_raw(raw: BodyIn) -> std::result::Result<JournalState, String> {
    let mut active = Vec::with_capacity(raw.active.len());
    for (i, a) in raw.active.into_iter().enumerate() {
        let key = ExecutionKey::new(a.thing, a.job_id, a.execution_number);
        let phase = match a.decided {
            None => Phase::Running,
            Some(f) => Phase::Final {
                status: status_named(&f.status)
                    .ok_or_else(|| format!("active job {i}: unknown status {:?}", f.status))?,
                details: f.details,
            },
        };
        let checkpoint = match a.checkpoint {
            None => None,
            Some(hex) => Some(hex_decode(&hex).ok_or_else(|| {
                format!("active job {i}: the checkpoint is not lowercase hex digit pairs")
            })?),
        };
        active.push(ActiveJob {
            key,
            operation: a.operation,
            phase,
            checkpoint,
            version_number: a.version_number,
            started_unix_ms: a.started_unix_ms,
        });
    }
    let mut finished = VecDeque::with_capacity(raw.finished.len());
    for (i, f) in raw.finished.into_iter().enumerate() {
        finished.push_back(FinishedExecution {
            status: status_named(&f.status)
                .ok_or_else(|| format!("finished execution {i}: unknown status {:?}", f.status))?,
            key: ExecutionKey::new(f.thing, f.job_id, f.execution_number),
        });
    }
    Ok(JournalState { active, finished })
}

/// The status whose stable name ([`ExecutionStatus::as_str`]) is `name`.
fn status_named(name: &str) -> Option<ExecutionStatus> {
    ExecutionStatus::ALL
        .iter()
        .copied()
        .find(|s| s.as_str() == name)
}

/// Parses plain decimal digits (no sign, no leading zero but for "0") into a `u64`.
fn parse_decimal(s: &str) -> Option<u64> {
    let canonical =
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    canonical.then(|| s.parse().ok()).flatten()
}

/// Lowercase hex, two digits a byte.
fn hex_encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(2 * bytes.len());
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    out
}

/// The bytes of lowercase hex digit pairs, or `None` for anything else.
fn hex_decode(hex: &str) -> Option<Vec<u8>> {
    let digit = |b: u8| match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    };
    if hex.len() % 2 != 0 {
        return None;
    }
    hex.as_bytes()
        .chunks_exact(2)
        .map(|p| Some(digit(p[0])? << 4 | digit(p[1])?))
        .collect()
}

#[cfg(test)]
mod tests;
