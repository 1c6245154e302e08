//! The jobs enums, numbered exactly like the AWS IoT Python SDK v1 (`thingJobManager.py`).
//!
//! Each is also the C enum of the same concept: cbindgen exports it under its `jobs_*` name
//! (`cbindgen.toml`), so code ported from the Python SDK or Embedded-C v3 keeps its numbers.

use crate::error::c_enum;
pub use crate::error::UnknownEnumValue;

/// Jobs topic types; numbering follows the Python SDK's `jobExecutionTopicType`.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TopicType {
    /// Names no topic; refused.
    Unrecognized = 0,
    /// GetPendingJobExecutions: `jobs/get`.
    GetPending = 1,
    /// StartNextPendingJobExecution: `jobs/start-next`.
    StartNext = 2,
    /// DescribeJobExecution: `jobs/{jobId}/get` (job id required; may be `$next`).
    Describe = 3,
    /// UpdateJobExecution: `jobs/{jobId}/update` (job id required).
    Update = 4,
    /// JobExecutionsChanged: `jobs/notify` (subscribe only, reply type REQUEST).
    Notify = 5,
    /// NextJobExecutionChanged: `jobs/notify-next` (subscribe only, reply type REQUEST).
    NotifyNext = 6,
    /// Every jobs topic of the thing: `jobs/#` (subscribe only; job id and reply ignored).
    Wildcard = 7,
}

c_enum!(TopicType as "jobs_topic_type" {
    Unrecognized => "unrecognized",
    GetPending => "get_pending",
    StartNext => "start_next",
    Describe => "describe",
    Update => "update",
    Notify => "notify",
    NotifyNext => "notify_next",
    Wildcard => "wildcard",
});

impl TopicType {
    /// Returns the operation segment of the topic (`"get"`, `"start-next"`, `"update"`,
    /// `"notify"`, `"notify-next"`), or `None` for `Unrecognized` and `Wildcard`, which have none.
    pub const fn operation(self) -> Option<&'static str> {
        match self {
            TopicType::GetPending | TopicType::Describe => Some("get"),
            TopicType::StartNext => Some("start-next"),
            TopicType::Update => Some("update"),
            TopicType::Notify => Some("notify"),
            TopicType::NotifyNext => Some("notify-next"),
            TopicType::Unrecognized | TopicType::Wildcard => None,
        }
    }

    /// Returns true for the types whose topic carries a job id (`Describe`, `Update`).
    pub const fn requires_job_id(self) -> bool {
        matches!(self, TopicType::Describe | TopicType::Update)
    }

    /// Returns true for the types that refuse a job id (`GetPending`, `StartNext`, `Notify`,
    /// `NotifyNext`), exactly the Python SDK's `_isWithoutJobIdTopicType`.
    pub const fn forbids_job_id(self) -> bool {
        matches!(
            self,
            TopicType::GetPending
                | TopicType::StartNext
                | TopicType::Notify
                | TopicType::NotifyNext
        )
    }

    /// Returns true for the notification types, which exist only as [`ReplyType::Request`].
    pub const fn is_notification(self) -> bool {
        matches!(self, TopicType::Notify | TopicType::NotifyNext)
    }
}

/// Jobs reply types; numbering follows the Python SDK's `jobExecutionTopicReplyType`.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReplyType {
    /// Treated like REQUEST, as in the SDK (except for notify topics, where it is refused).
    Unrecognized = 0,
    /// The request topic itself (and the notify topics).
    Request = 1,
    /// `.../accepted`.
    Accepted = 2,
    /// `.../rejected`.
    Rejected = 3,
    /// `.../#`: accepted and rejected.
    Wildcard = 4,
}

c_enum!(ReplyType as "jobs_reply_type" {
    Unrecognized => "unrecognized",
    Request => "request",
    Accepted => "accepted",
    Rejected => "rejected",
    Wildcard => "wildcard",
});

impl ReplyType {
    /// Returns the last topic segment for this reply (`"accepted"`, `"rejected"`, `"#"`), or
    /// `None` for `Request` and `Unrecognized`, which add no segment.
    pub const fn suffix(self) -> Option<&'static str> {
        match self {
            ReplyType::Accepted => Some("accepted"),
            ReplyType::Rejected => Some("rejected"),
            ReplyType::Wildcard => Some("#"),
            ReplyType::Request | ReplyType::Unrecognized => None,
        }
    }
}

/// Job execution statuses; 0–6 and 99 follow the Python SDK's `jobExecutionStatus`, 7 and 8
/// are the AWS statuses the SDK lacks.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ExecutionStatus {
    /// No status (never sent).
    #[default]
    NotSet = 0,
    /// Waiting; set by AWS only.
    Queued = 1,
    /// Running; may be sent repeatedly to report progress.
    InProgress = 2,
    /// Failed (terminal).
    Failed = 3,
    /// Succeeded (terminal).
    Succeeded = 4,
    /// Canceled by an operator (terminal); set by AWS only.
    Canceled = 5,
    /// The device refused the job (terminal).
    Rejected = 6,
    /// A step timer or the in-progress timer expired (terminal); set by AWS only.
    TimedOut = 7,
    /// The thing was removed from the job's targets (terminal); set by AWS only.
    Removed = 8,
    /// A status this library does not know.
    Unknown = 99,
}

// The AWS wire names, and the Python SDK's names for the two that have none on the wire.
c_enum!(ExecutionStatus as "jobs_status" {
    NotSet => "NOT_SET",
    Queued => "QUEUED",
    InProgress => "IN_PROGRESS",
    Failed => "FAILED",
    Succeeded => "SUCCEEDED",
    Canceled => "CANCELED",
    Rejected => "REJECTED",
    TimedOut => "TIMED_OUT",
    Removed => "REMOVED",
    Unknown => "UNKNOWN",
});

impl ExecutionStatus {
    /// Returns the wire string (`"QUEUED"`, `"IN_PROGRESS"`, …), or `None` for `NotSet` and
    /// `Unknown`, which have none.
    pub const fn wire_name(self) -> Option<&'static str> {
        match self {
            ExecutionStatus::NotSet | ExecutionStatus::Unknown => None,
            other => Some(other.as_str()),
        }
    }

    /// Returns the status whose wire string is exactly `s` (case-sensitive), or `None`.
    pub fn from_wire(s: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|st| st.wire_name() == Some(s))
    }

    /// Returns true for the statuses an execution never leaves (`FAILED`, `SUCCEEDED`,
    /// `CANCELED`, `REJECTED`, `TIMED_OUT`, `REMOVED`).
    pub const fn is_terminal(self) -> bool {
        matches!(
            self,
            ExecutionStatus::Failed
                | ExecutionStatus::Succeeded
                | ExecutionStatus::Canceled
                | ExecutionStatus::Rejected
                | ExecutionStatus::TimedOut
                | ExecutionStatus::Removed
        )
    }
}

/// Why AWS rejected a request (`jobs_message_rejection_code`).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectionCode {
    /// Not a rejection.
    None = 0,
    /// The topic is in the jobs namespace but maps to no API.
    InvalidTopic = 1,
    /// The request is not valid UTF-8 JSON.
    InvalidJson = 2,
    /// The request's contents are invalid (the message says why).
    InvalidRequest = 3,
    /// The status change is not allowed from the current state; the execution state is included.
    InvalidStateTransition = 4,
    /// The job execution does not exist.
    ResourceNotFound = 5,
    /// `expectedVersion` differs from the stored version; the execution state is included.
    VersionMismatch = 6,
    /// AWS failed internally; retry later.
    InternalError = 7,
    /// Too many requests; retry later.
    RequestThrottled = 8,
    /// Describe of an execution in a terminal state.
    TerminalStateReached = 9,
    /// A code this library does not know (`jobs_message_rejection_text` has it).
    Other = 99,
}

// AWS's `ErrorCode` spellings; "none" and "other" are ours (AWS sends neither).
c_enum!(RejectionCode as "jobs_rejection_code" {
    None => "none",
    InvalidTopic => "InvalidTopic",
    InvalidJson => "InvalidJson",
    InvalidRequest => "InvalidRequest",
    InvalidStateTransition => "InvalidStateTransition",
    ResourceNotFound => "ResourceNotFound",
    VersionMismatch => "VersionMismatch",
    InternalError => "InternalError",
    RequestThrottled => "RequestThrottled",
    TerminalStateReached => "TerminalStateReached",
    Other => "other",
});

/// What a read does while the connection is down.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Offline {
    /// Wait for the connection within the deadline (the request is queued, and dropped unsent
    /// if the deadline passes first).
    #[default]
    Wait = 0,
    /// Fail at once with `JOBS_RESULT_NOT_CONNECTED`.
    FailFast = 1,
}

c_enum!(Offline as "jobs_offline" {
    Wait => "wait",
    FailFast => "fail_fast",
});

/// What the job agent reports through its event callback.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AgentEventKind {
    /// A job was handed to its handler.
    JobStarted = 1,
    /// A job that was running when the device stopped was handed back to its handler.
    JobResumed = 2,
    /// A progress update was acknowledged by the service.
    ProgressSent = 3,
    /// A job's final status was acknowledged by the service (`status` says which).
    JobFinished = 4,
    /// The service cancelled, removed or timed out the job (`status` says which); its handler
    /// was told and later updates for it are not sent.
    JobCancelled = 5,
    /// The agent rejected a job itself: its document is not a JSON object, names no operation,
    /// or names one with no handler (`reason` says which).
    JobRejected = 6,
    /// The journal could not be read or written (`reason` says what and where); the agent
    /// goes on from the service's state and memory.
    JournalError = 7,
    /// A request failed or was throttled and is retried after a backoff (`reason` says why).
    Retrying = 8,
    /// An execution that had finished here came back from the service; it was not run again.
    DuplicateSuppressed = 9,
}

c_enum!(AgentEventKind as "jobs_agent_event_kind" {
    JobStarted => "job_started",
    JobResumed => "job_resumed",
    ProgressSent => "progress_sent",
    JobFinished => "job_finished",
    JobCancelled => "job_cancelled",
    JobRejected => "job_rejected",
    JournalError => "journal_error",
    Retrying => "retrying",
    DuplicateSuppressed => "duplicate_suppressed",
});

/// What the agent does, after a restart, with a job that was running when the device stopped.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResumePolicy {
    /// Hand it back to its handler with `jobs_job_resumed` true and its saved checkpoint.
    #[default]
    Resume = 0,
    /// End it FAILED with the reason "interrupted by a restart".
    Fail = 1,
}

c_enum!(ResumePolicy as "jobs_resume_policy" {
    Resume => "resume",
    Fail => "fail",
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_type_numbers_match_python_sdk() {
        let expected = [
            (0, TopicType::Unrecognized),
            (1, TopicType::GetPending),
            (2, TopicType::StartNext),
            (3, TopicType::Describe),
            (4, TopicType::Update),
            (5, TopicType::Notify),
            (6, TopicType::NotifyNext),
            (7, TopicType::Wildcard),
        ];
        for (n, t) in expected {
            assert_eq!(t as u32, n);
            assert_eq!(t.as_u32(), n);
            assert_eq!(TopicType::try_from(n), Ok(t));
        }
        assert_eq!(TopicType::ALL.len(), 8);
        let err = TopicType::try_from(8).unwrap_err();
        assert_eq!(
            err,
            UnknownEnumValue {
                enum_name: "TopicType",
                c_name: "jobs_topic_type",
                value: 8
            }
        );
        assert_eq!(err.to_string(), "8 is not a valid TopicType value");
        assert!(TopicType::try_from(u32::MAX).is_err());
    }

    #[test]
    fn reply_type_numbers_match_python_sdk() {
        let expected = [
            (0, ReplyType::Unrecognized),
            (1, ReplyType::Request),
            (2, ReplyType::Accepted),
            (3, ReplyType::Rejected),
            (4, ReplyType::Wildcard),
        ];
        for (n, r) in expected {
            assert_eq!(r as u32, n);
            assert_eq!(ReplyType::try_from(n), Ok(r));
        }
        assert!(ReplyType::try_from(5).is_err());
        assert_eq!(ReplyType::Accepted.suffix(), Some("accepted"));
        assert_eq!(ReplyType::Rejected.suffix(), Some("rejected"));
        assert_eq!(ReplyType::Wildcard.suffix(), Some("#"));
        assert_eq!(ReplyType::Request.suffix(), None);
        assert_eq!(ReplyType::Unrecognized.suffix(), None);
    }

    #[test]
    fn topic_type_operations_and_job_id_rules() {
        assert_eq!(TopicType::GetPending.operation(), Some("get"));
        assert_eq!(TopicType::StartNext.operation(), Some("start-next"));
        assert_eq!(TopicType::Describe.operation(), Some("get"));
        assert_eq!(TopicType::Update.operation(), Some("update"));
        assert_eq!(TopicType::Notify.operation(), Some("notify"));
        assert_eq!(TopicType::NotifyNext.operation(), Some("notify-next"));
        assert_eq!(TopicType::Unrecognized.operation(), None);
        assert_eq!(TopicType::Wildcard.operation(), None);
        let required: Vec<_> = TopicType::ALL
            .iter()
            .filter(|t| t.requires_job_id())
            .collect();
        assert_eq!(required, [&TopicType::Describe, &TopicType::Update]);
        let forbidden: Vec<_> = TopicType::ALL
            .iter()
            .filter(|t| t.forbids_job_id())
            .collect();
        assert_eq!(
            forbidden,
            [
                &TopicType::GetPending,
                &TopicType::StartNext,
                &TopicType::Notify,
                &TopicType::NotifyNext
            ]
        );
    }

    #[test]
    fn execution_status_numbers_and_wire_strings() {
        let expected = [
            (0, ExecutionStatus::NotSet, None),
            (1, ExecutionStatus::Queued, Some("QUEUED")),
            (2, ExecutionStatus::InProgress, Some("IN_PROGRESS")),
            (3, ExecutionStatus::Failed, Some("FAILED")),
            (4, ExecutionStatus::Succeeded, Some("SUCCEEDED")),
            (5, ExecutionStatus::Canceled, Some("CANCELED")),
            (6, ExecutionStatus::Rejected, Some("REJECTED")),
            (7, ExecutionStatus::TimedOut, Some("TIMED_OUT")),
            (8, ExecutionStatus::Removed, Some("REMOVED")),
            (99, ExecutionStatus::Unknown, None),
        ];
        for (n, st, wire) in expected {
            assert_eq!(st as u32, n);
            assert_eq!(ExecutionStatus::try_from(n), Ok(st));
            assert_eq!(st.wire_name(), wire);
            if let Some(w) = wire {
                assert_eq!(ExecutionStatus::from_wire(w), Some(st));
            }
        }
        for bad in [9, 10, 98, 100] {
            assert!(ExecutionStatus::try_from(bad).is_err(), "{bad}");
        }
        assert_eq!(ExecutionStatus::from_wire("in_progress"), None);
        assert_eq!(ExecutionStatus::from_wire(""), None);
        assert_eq!(ExecutionStatus::default(), ExecutionStatus::NotSet);
    }

    #[test]
    fn terminal_statuses() {
        let terminal: Vec<_> = ExecutionStatus::ALL
            .iter()
            .filter(|s| s.is_terminal())
            .collect();
        assert_eq!(
            terminal,
            [
                &ExecutionStatus::Failed,
                &ExecutionStatus::Succeeded,
                &ExecutionStatus::Canceled,
                &ExecutionStatus::Rejected,
                &ExecutionStatus::TimedOut,
                &ExecutionStatus::Removed,
            ]
        );
    }
}
