//! The one error type of the crate, the result codes C sees, and the `u32` conversion every
//! C enum shares.

use std::fmt;

/// A `u32` that names no member of the enum it was converted to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownEnumValue {
    /// The Rust name of the enum, e.g. `"TopicType"`.
    pub enum_name: &'static str,
    /// The enum's name in the C header, e.g. `"jobs_topic_type"`.
    pub c_name: &'static str,
    /// The value that was passed in.
    pub value: u32,
}

impl fmt::Display for UnknownEnumValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} is not a valid {} value", self.value, self.enum_name)
    }
}

impl std::error::Error for UnknownEnumValue {}

/// Gives a fieldless `#[repr(u32)]` enum that C sees its table, written once:
/// `C_NAME` (the name cbindgen exports it under, see `cbindgen.toml`), `ALL` (every member in
/// numeric order), `as_u32`, `as_str` (a stable name per member) and a range-checked
/// `TryFrom<u32>`. The enum itself stays a plain declaration so cbindgen can read it; a member
/// missing from the list fails to compile.
macro_rules! c_enum {
    ($t:ident as $c_name:literal { $($v:ident => $s:literal),+ $(,)? }) => {
        impl $t {
            /// The enum's name in `include/iotjobs.h`.
            pub const C_NAME: &'static str = $c_name;

            /// Every member, in numeric order.
            pub const ALL: &'static [$t] = &[$($t::$v),+];

            /// Returns the member's number, the value C sees.
            pub const fn as_u32(self) -> u32 {
                self as u32
            }

            /// Returns the member's stable name (never changes once released).
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($t::$v => $s,)+
                }
            }

            /// The same name, NUL-terminated for C (the `jobs_*_str` functions).
            pub const fn as_c_str(self) -> &'static ::std::ffi::CStr {
                match self {
                    $($t::$v => match ::std::ffi::CStr::from_bytes_with_nul(concat!($s, "\0").as_bytes()) {
                        Ok(c) => c,
                        Err(_) => panic!("an enum name contains NUL"),
                    },)+
                }
            }
        }

        impl TryFrom<u32> for $t {
            type Error = $crate::error::UnknownEnumValue;

            /// Returns the member numbered `value`, or [`UnknownEnumValue`] when none is.
            ///
            /// [`UnknownEnumValue`]: $crate::error::UnknownEnumValue
            fn try_from(value: u32) -> ::std::result::Result<Self, $crate::error::UnknownEnumValue> {
                Self::ALL
                    .iter()
                    .copied()
                    .find(|m| *m as u32 == value)
                    .ok_or($crate::error::UnknownEnumValue {
                        enum_name: stringify!($t),
                        c_name: $c_name,
                        value,
                    })
            }
        }
    };
}
pub(crate) use c_enum;

/// Result of every fallible C entry point. `JOBS_RESULT_OK` is 0 so `if (rc)` tests failure.
/// Values are grouped and never reused; a retired value stays as a reserved comment.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum jobs_result {
    /// Success.
    Ok = 0,
    // --- the caller passed something wrong (1..19)
    /// A required pointer argument was NULL.
    NullArgument = 1,
    /// An argument is out of range or inconsistent; the last-error message says which.
    InvalidArgument = 2,
    /// A string argument is not valid UTF-8.
    InvalidUtf8 = 3,
    /// A topic or topic filter is invalid (empty, too long, wildcards misplaced, too deep).
    InvalidTopic = 4,
    /// A thing name does not match AWS's pattern `[a-zA-Z0-9:_-]{1,128}`.
    InvalidThingName = 5,
    /// A job id does not match AWS's pattern `[a-zA-Z0-9_-]{1,64}` (or `$next` / `+` where allowed).
    InvalidJobId = 6,
    /// Status details are not a JSON object of string values within AWS's limits.
    InvalidStatusDetails = 7,
    /// The message would exceed the maximum packet size.
    PayloadTooLarge = 8,
    /// The (topic type, reply type, job id) combination names no AWS Jobs topic.
    InvalidTopicCombination = 9,
    /// The execution status cannot be sent (NOT_SET, UNKNOWN, or one only AWS sets).
    InvalidStatus = 10,
    /// The client token is longer than 64 bytes.
    InvalidClientToken = 11,
    /// A JSON path is malformed (see the `jobs_document_*` functions).
    InvalidPath = 12,
    /// The value a JSON path names is not there.
    NotFound = 13,
    /// The value a JSON path names has another type than the one asked for.
    WrongType = 14,
    /// An argument struct's `struct_size` is not one this library knows (call its init function).
    InvalidStructSize = 15,
    /// The call is not allowed in the handle's current state (for example registering a job
    /// agent handler while the agent runs); the last-error message says why.
    InvalidState = 16,
    // --- configuration (20..29)
    /// A CA, certificate or key could not be read or parsed, or they do not fit together.
    TlsConfig = 20,
    /// The configuration is incomplete (for example no endpoint, or TLS material missing).
    IncompleteConfig = 21,
    // --- state and delivery (30..49)
    /// The operation needs a connection and there is none (and nothing was queued).
    NotConnected = 30,
    /// The offline queue is full and its policy is drop-newest: the request was not queued.
    QueueFull = 31,
    /// Not connected and the offline queue is disabled: the request was not queued.
    QueueDisabled = 32,
    /// The acknowledgement did not arrive within the operation (or connect) timeout.
    Timeout = 33,
    /// The server refused the connection (CONNACK return code in the message).
    ConnectRefused = 34,
    /// The server refused the subscription (SUBACK 0x80).
    SubscribeRefused = 35,
    /// The handle is shutting down or its connection was freed.
    Closed = 36,
    /// All 65535 packet ids are in use.
    Busy = 37,
    /// A request was removed from the offline queue to make room (drop-oldest policy).
    Dropped = 38,
    /// The operation is already in progress (for example connect while connecting).
    InProgress = 39,
    /// AWS rejected the request; the reply carries its code, message and execution state.
    Rejected = 40,
    /// The request was cancelled before its answer came (the user disconnected), or the job
    /// was cancelled, removed or timed out at the service.
    Cancelled = 41,
    /// The job already has its final status, or its handler has returned.
    JobEnded = 42,
    // --- the network and the system (50..59)
    /// Name resolution or TCP connection failed, or the connection was lost.
    Network = 50,
    /// The TLS handshake failed (untrusted server, wrong host name, rejected client cert).
    Tls = 51,
    /// The WebSocket upgrade failed.
    WebSocket = 52,
    /// The server broke the MQTT protocol (malformed or unexpected packet).
    Protocol = 53,
    /// A file could not be read or written; the message says which and why.
    Io = 54,
    // --- bugs (90..99)
    /// A Rust panic was caught at the boundary; the handle should be freed.
    Panic = 90,
    /// An internal invariant failed.
    Internal = 91,
}

impl jobs_result {
    /// Every defined code, in numeric order.
    pub const ALL: [jobs_result; 39] = {
        use jobs_result::*;
        [
            Ok,
            NullArgument,
            InvalidArgument,
            InvalidUtf8,
            InvalidTopic,
            InvalidThingName,
            InvalidJobId,
            InvalidStatusDetails,
            PayloadTooLarge,
            InvalidTopicCombination,
            InvalidStatus,
            InvalidClientToken,
            InvalidPath,
            NotFound,
            WrongType,
            InvalidStructSize,
            InvalidState,
            TlsConfig,
            IncompleteConfig,
            NotConnected,
            QueueFull,
            QueueDisabled,
            Timeout,
            ConnectRefused,
            SubscribeRefused,
            Closed,
            Busy,
            Dropped,
            InProgress,
            Rejected,
            Cancelled,
            JobEnded,
            Network,
            Tls,
            WebSocket,
            Protocol,
            Io,
            Panic,
            Internal,
        ]
    };

    /// The code with this numeric value, if it is defined.
    pub fn from_u32(v: u32) -> Option<jobs_result> {
        Self::ALL.into_iter().find(|r| *r as u32 == v)
    }

    /// A static description of the code.
    pub fn describe(self) -> &'static str {
        self.describe_c().to_str().unwrap_or("")
    }

    /// The same description, NUL-terminated for C (`jobs_result_str`).
    pub fn describe_c(self) -> &'static std::ffi::CStr {
        use jobs_result::*;
        match self {
            Ok => c"success",
            NullArgument => c"a required argument was NULL",
            InvalidArgument => c"invalid argument",
            InvalidUtf8 => c"string is not valid UTF-8",
            InvalidTopic => c"invalid topic or topic filter",
            InvalidThingName => c"invalid thing name",
            InvalidJobId => c"invalid job id",
            InvalidStatusDetails => c"invalid status details",
            PayloadTooLarge => c"payload too large",
            InvalidTopicCombination => c"invalid jobs topic combination",
            InvalidStatus => c"invalid execution status for this request",
            InvalidClientToken => c"invalid client token",
            InvalidPath => c"invalid JSON path",
            NotFound => c"no value at this path",
            WrongType => c"the value has another type",
            InvalidStructSize => c"unknown argument struct size",
            InvalidState => c"not allowed in the current state",
            TlsConfig => c"invalid TLS configuration",
            IncompleteConfig => c"incomplete configuration",
            NotConnected => c"not connected",
            QueueFull => c"offline queue full",
            QueueDisabled => c"not connected and offline queueing disabled",
            Timeout => c"timed out",
            ConnectRefused => c"connection refused by the server",
            SubscribeRefused => c"subscription refused by the server",
            Closed => c"handle closed",
            Busy => c"no packet id available",
            Dropped => c"request dropped from the offline queue",
            InProgress => c"operation already in progress",
            Rejected => c"rejected by AWS IoT Jobs",
            Cancelled => c"cancelled",
            JobEnded => c"the job has ended",
            Network => c"network error",
            Tls => c"TLS handshake failed",
            WebSocket => c"WebSocket upgrade failed",
            Protocol => c"MQTT protocol error",
            Io => c"file read or write failed",
            Panic => c"internal panic caught",
            Internal => c"internal error",
        }
    }
}

/// An error with its code and a message written for a firmware engineer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub code: jobs_result,
    pub message: String,
}

impl Error {
    pub fn new(code: jobs_result, message: impl Into<String>) -> Error {
        Error {
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.describe(), self.message)
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;
