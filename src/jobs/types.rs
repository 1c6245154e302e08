//! The jobs enums, numbered exactly like the AWS IoT Python SDK v1 (`thingJobManager.py`).
//!
//! The numeric values are part of the C ABI contract (the FFI layer maps its own C enums onto
//! these one to one), so code ported from the Python SDK or Embedded-C v3 keeps its numbers.

use std::fmt;

/// A `u32` that names no member of the enum it was converted to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownEnumValue {
    /// The Rust name of the enum, e.g. `"TopicType"`.
    pub enum_name: &'static str,
    /// The value that was passed in.
    pub value: u32,
}

impl fmt::Display for UnknownEnumValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} is not a valid {} value", self.value, self.enum_name)
    }
}

impl std::error::Error for UnknownEnumValue {}

/// Declares a `#[repr(u32)]` enum with `ALL`, `as_u32` and `TryFrom<u32>`.
macro_rules! numbered_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident { $( $(#[$vmeta:meta])* $variant:ident = $value:literal, )+ }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u32)]
        pub enum $name { $( $(#[$vmeta])* $variant = $value, )+ }

        impl $name {
            /// Every member, in numeric order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// Returns the member's number (the Python SDK's tuple element `[0]`).
            pub const fn as_u32(self) -> u32 {
                self as u32
            }
        }

        impl TryFrom<u32> for $name {
            type Error = UnknownEnumValue;

            /// Returns the member numbered `value`.
            ///
            /// # Errors
            /// [`UnknownEnumValue`] when no member has that number.
            fn try_from(value: u32) -> Result<Self, Self::Error> {
                match value {
                    $( $value => Ok($name::$variant), )+
                    _ => Err(UnknownEnumValue { enum_name: stringify!($name), value }),
                }
            }
        }
    };
}

numbered_enum! {
    /// The kind of jobs topic (Python `jobExecutionTopicType`).
    pub enum TopicType {
        /// No topic; building a topic of this type always fails.
        Unrecognized = 0,
        /// GetPendingJobExecutions: `$aws/things/T/jobs/get`.
        GetPending = 1,
        /// StartNextPendingJobExecution: `$aws/things/T/jobs/start-next`.
        StartNext = 2,
        /// DescribeJobExecution: `$aws/things/T/jobs/J/get` (job id required, may be `$next`).
        Describe = 3,
        /// UpdateJobExecution: `$aws/things/T/jobs/J/update` (job id required).
        Update = 4,
        /// JobExecutionsChanged notification: `$aws/things/T/jobs/notify`.
        Notify = 5,
        /// NextJobExecutionChanged notification: `$aws/things/T/jobs/notify-next`.
        NotifyNext = 6,
        /// Every jobs topic of the thing: the filter `$aws/things/T/jobs/#`.
        Wildcard = 7,
    }
}

impl TopicType {
    /// Returns the operation segment of the topic (`"get"`, `"start-next"`, `"update"`,
    /// `"notify"`, `"notify-next"`), or `None` for `Unrecognized` and `Wildcard`, which have none.
    pub const fn as_str(self) -> Option<&'static str> {
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

numbered_enum! {
    /// The reply part of a jobs topic (Python `jobExecutionTopicReplyType`).
    pub enum ReplyType {
        /// Treated like `Request` by the topic builder, except for notifications (refused).
        Unrecognized = 0,
        /// The request topic itself (or a notification): no suffix.
        Request = 1,
        /// The `/accepted` reply.
        Accepted = 2,
        /// The `/rejected` reply.
        Rejected = 3,
        /// Both replies: the filter suffix `/#`.
        Wildcard = 4,
    }
}

impl ReplyType {
    /// Returns the last topic segment for this reply (`"accepted"`, `"rejected"`, `"#"`), or
    /// `None` for `Request` and `Unrecognized`, which add no segment.
    pub const fn as_str(self) -> Option<&'static str> {
        match self {
            ReplyType::Accepted => Some("accepted"),
            ReplyType::Rejected => Some("rejected"),
            ReplyType::Wildcard => Some("#"),
            ReplyType::Request | ReplyType::Unrecognized => None,
        }
    }
}

numbered_enum! {
    /// A job execution status (Python `jobExecutionStatus`, plus `TimedOut` and `Removed`,
    /// which AWS has and the Python SDK lacks).
    #[derive(Default)]
    pub enum ExecutionStatus {
        /// No status; cannot be sent.
        #[default]
        NotSet = 0,
        /// `QUEUED`: set by the service only.
        Queued = 1,
        /// `IN_PROGRESS`.
        InProgress = 2,
        /// `FAILED` (terminal).
        Failed = 3,
        /// `SUCCEEDED` (terminal).
        Succeeded = 4,
        /// `CANCELED` (terminal, set by the service only).
        Canceled = 5,
        /// `REJECTED` (terminal).
        Rejected = 6,
        /// `TIMED_OUT` (terminal, set by the service only). Not in the Python SDK.
        TimedOut = 7,
        /// `REMOVED` (terminal, set by the service only). Not in the Python SDK.
        Removed = 8,
        /// A status this library does not know; cannot be sent.
        Unknown = 99,
    }
}

impl ExecutionStatus {
    /// Returns the wire string (`"QUEUED"`, `"IN_PROGRESS"`, …), or `None` for `NotSet` and
    /// `Unknown`, which have none.
    pub const fn as_str(self) -> Option<&'static str> {
        match self {
            ExecutionStatus::Queued => Some("QUEUED"),
            ExecutionStatus::InProgress => Some("IN_PROGRESS"),
            ExecutionStatus::Failed => Some("FAILED"),
            ExecutionStatus::Succeeded => Some("SUCCEEDED"),
            ExecutionStatus::Canceled => Some("CANCELED"),
            ExecutionStatus::Rejected => Some("REJECTED"),
            ExecutionStatus::TimedOut => Some("TIMED_OUT"),
            ExecutionStatus::Removed => Some("REMOVED"),
            ExecutionStatus::NotSet | ExecutionStatus::Unknown => None,
        }
    }

    /// Returns the status whose wire string is exactly `s` (case-sensitive), or `None`.
    pub fn from_wire(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|st| st.as_str() == Some(s))
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
        assert_eq!(ReplyType::Accepted.as_str(), Some("accepted"));
        assert_eq!(ReplyType::Rejected.as_str(), Some("rejected"));
        assert_eq!(ReplyType::Wildcard.as_str(), Some("#"));
        assert_eq!(ReplyType::Request.as_str(), None);
        assert_eq!(ReplyType::Unrecognized.as_str(), None);
    }

    #[test]
    fn topic_type_operations_and_job_id_rules() {
        assert_eq!(TopicType::GetPending.as_str(), Some("get"));
        assert_eq!(TopicType::StartNext.as_str(), Some("start-next"));
        assert_eq!(TopicType::Describe.as_str(), Some("get"));
        assert_eq!(TopicType::Update.as_str(), Some("update"));
        assert_eq!(TopicType::Notify.as_str(), Some("notify"));
        assert_eq!(TopicType::NotifyNext.as_str(), Some("notify-next"));
        assert_eq!(TopicType::Unrecognized.as_str(), None);
        assert_eq!(TopicType::Wildcard.as_str(), None);
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
            assert_eq!(st.as_str(), wire);
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
