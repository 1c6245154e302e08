//! Checks of every caller-supplied jobs value against AWS's documented limits
//! (`docs/jobs-protocol.md`, 'Names and statusDetails limits'), and the validated
//! [`StatusDetails`] type.
//!
//! Every check returns a [`ValidationError`] whose `Display` text names the offending field and
//! the rule it broke; the FFI layer hands that text to C through `jobs_last_error_message`.
//!
//! Lengths are counted in Unicode scalar values (`char`s) except the client token, which is
//! counted in bytes. Thing names, job ids and detail keys are ASCII-only, so there both agree.

use std::collections::HashSet;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};

use super::types::ExecutionStatus;
use crate::error::{jobs_result, Error};

/// Longest thing name AWS accepts, in characters.
pub const THING_NAME_MAX_LEN: usize = 128;
/// Longest job id AWS accepts, in characters.
pub const JOB_ID_MAX_LEN: usize = 64;
/// Longest client token, in bytes (AWS IoT's documented client-token limit).
pub const CLIENT_TOKEN_MAX_BYTES: usize = 64;
/// Longest `statusDetails` key, in characters.
pub const DETAILS_KEY_MAX_LEN: usize = 128;
/// Longest `statusDetails` value, in characters.
pub const DETAILS_VALUE_MAX_LEN: usize = 1024;
/// Most `statusDetails` pairs in one request.
pub const DETAILS_MAX_PAIRS: usize = 10;
/// Longest step timeout, in minutes (7 days).
pub const STEP_TIMEOUT_MAX_MINUTES: i64 = 10080;
/// The step timeout that cancels the running step timer (UpdateJobExecution only).
pub const STEP_TIMEOUT_CANCEL: i64 = -1;
/// The describe job id meaning "the next pending execution".
pub const NEXT_JOB_ID: &str = "$next";

/// Longest piece of a caller's string quoted back in an error message, in characters.
const QUOTE_MAX: usize = 40;

/// The caller-supplied value a [`ValidationError`] is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    /// The thing name.
    ThingName,
    /// A job id.
    JobId,
    /// The client token.
    ClientToken,
    /// A `statusDetails` key (the key itself is the offending value).
    StatusDetailsKey(String),
    /// The `statusDetails` value stored under the given key.
    StatusDetailsValue(String),
}

impl Field {
    /// Returns the full rule for this field, as shown in error messages.
    pub fn rule(&self) -> &'static str {
        match self {
            Field::ThingName => {
                "a thing name must be 1 to 128 characters from a-z, A-Z, 0-9, ':', '_' and '-'"
            }
            Field::JobId => {
                "a job id must be 1 to 64 characters from a-z, A-Z, 0-9, '_' and '-' \
                 (\"$next\" is also accepted by describe)"
            }
            Field::ClientToken => "a client token must be at most 64 bytes",
            Field::StatusDetailsKey(_) => {
                "a statusDetails key must be 1 to 128 characters from a-z, A-Z, 0-9, ':', '_' \
                 and '-'"
            }
            Field::StatusDetailsValue(_) => {
                "a statusDetails value must be 1 to 1024 characters with no control, format, \
                 private-use or unassigned characters"
            }
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Field::ThingName => f.write_str("thing name"),
            Field::JobId => f.write_str("job id"),
            Field::ClientToken => f.write_str("client token"),
            Field::StatusDetailsKey(key) => write!(f, "statusDetails key \"{}\"", quote(key)),
            Field::StatusDetailsValue(key) => {
                write!(f, "statusDetails value of key \"{}\"", quote(key))
            }
        }
    }
}

/// Returns `s` cut to [`QUOTE_MAX`] characters (with `…` when cut) for error messages.
fn quote(s: &str) -> String {
    let mut out: String = s.chars().take(QUOTE_MAX).collect();
    if s.chars().nth(QUOTE_MAX).is_some() {
        out.push('…');
    }
    out.escape_debug().to_string()
}

/// A caller-supplied value that AWS would refuse (or that the Python SDK would send broken).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValidationError {
    /// The value is empty but must have at least one character.
    Empty {
        /// The offending field.
        field: Field,
    },
    /// The value is longer than the field allows.
    TooLong {
        /// The offending field.
        field: Field,
        /// The value's length (bytes for the client token, characters otherwise).
        len: usize,
        /// The largest allowed length, in the same unit.
        max: usize,
    },
    /// The value has a character the field does not allow.
    InvalidChar {
        /// The offending field.
        field: Field,
        /// The first offending character.
        ch: char,
        /// Its position, counted in characters from 0.
        position: usize,
    },
    /// `$next` was given where only a real job id is allowed (anything but describe).
    NextJobIdNotAllowed,
    /// The status details text is not JSON.
    StatusDetailsNotJson {
        /// serde_json's description of the syntax error, with line and column.
        reason: String,
    },
    /// The status details JSON is not an object.
    StatusDetailsNotObject {
        /// The JSON type found instead (`"array"`, `"string"`, …).
        found: &'static str,
    },
    /// A status details value is not a JSON string.
    StatusDetailsValueNotString {
        /// The key of the offending value.
        key: String,
        /// The JSON type found instead.
        found: &'static str,
    },
    /// The same key appears twice in the status details.
    StatusDetailsDuplicateKey {
        /// The repeated key.
        key: String,
    },
    /// More than [`DETAILS_MAX_PAIRS`] pairs.
    StatusDetailsTooManyPairs {
        /// The number of pairs given.
        count: usize,
    },
    /// A step timeout outside 1..=10080 (or also -1 when `cancel_allowed`).
    StepTimeoutOutOfRange {
        /// The value given.
        minutes: i64,
        /// Whether -1 would have been accepted (UpdateJobExecution).
        cancel_allowed: bool,
    },
    /// A status that has no wire string (`NOT_SET`, `UNKNOWN`) was given for an update, or
    /// (from [`validate_device_status`]) one that only AWS sets.
    StatusNotSendable {
        /// The status given.
        status: ExecutionStatus,
    },
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValidationError::Empty { field } => write!(f, "{field} is empty: {}", field.rule()),
            ValidationError::TooLong { field, len, max } => {
                let unit = if *field == Field::ClientToken { "bytes" } else { "characters" };
                write!(f, "{field} is {len} {unit} long, over the limit of {max}: {}", field.rule())
            }
            ValidationError::InvalidChar { field, ch, position } => write!(
                f,
                "{field} has the character {ch:?} (U+{:04X}) at position {position}: {}",
                u32::from(*ch),
                field.rule()
            ),
            ValidationError::NextJobIdNotAllowed => f.write_str(
                "job id \"$next\" is only accepted by describe: give the id of the job to update",
            ),
            ValidationError::StatusDetailsNotJson { reason } => {
                write!(f, "statusDetails is not valid JSON ({reason}): it must be a JSON object of string values")
            }
            ValidationError::StatusDetailsNotObject { found } => write!(
                f,
                "statusDetails is a JSON {found}: it must be a JSON object of string values"
            ),
            ValidationError::StatusDetailsValueNotString { key, found } => write!(
                f,
                "statusDetails value of key \"{}\" is a JSON {found}: every value must be a JSON string",
                quote(key)
            ),
            ValidationError::StatusDetailsDuplicateKey { key } => write!(
                f,
                "statusDetails has the key \"{}\" twice: every key must be unique",
                quote(key)
            ),
            ValidationError::StatusDetailsTooManyPairs { count } => write!(
                f,
                "statusDetails has {count} pairs, over the limit of {DETAILS_MAX_PAIRS}"
            ),
            ValidationError::StepTimeoutOutOfRange { minutes, cancel_allowed } => {
                write!(
                    f,
                    "stepTimeoutInMinutes is {minutes}: it must be 1 to {STEP_TIMEOUT_MAX_MINUTES}"
                )?;
                if *cancel_allowed {
                    f.write_str(", or -1 to cancel the step timer")?;
                }
                Ok(())
            }
            ValidationError::StatusNotSendable { status } if status.wire_name().is_some() => {
                write!(
                    f,
                    "status {} ({}) cannot be set by a device, only by AWS: a device sends \
                     IN_PROGRESS, FAILED, SUCCEEDED or REJECTED",
                    status.as_str(),
                    status.as_u32()
                )
            }
            ValidationError::StatusNotSendable { status } => write!(
                f,
                "status {} ({}) cannot be sent: give QUEUED, IN_PROGRESS, FAILED, SUCCEEDED, \
                 CANCELED, REJECTED, TIMED_OUT or REMOVED (devices normally send IN_PROGRESS, \
                 FAILED, SUCCEEDED or REJECTED)",
                status.as_str(),
                status.as_u32()
            ),
        }
    }
}

impl std::error::Error for ValidationError {}

impl ValidationError {
    /// The result code C sees for this error: the one naming the offending field.
    pub fn code(&self) -> jobs_result {
        match self {
            ValidationError::Empty { field }
            | ValidationError::TooLong { field, .. }
            | ValidationError::InvalidChar { field, .. } => match field {
                Field::ThingName => jobs_result::InvalidThingName,
                Field::JobId => jobs_result::InvalidJobId,
                Field::ClientToken => jobs_result::InvalidClientToken,
                Field::StatusDetailsKey(_) | Field::StatusDetailsValue(_) => {
                    jobs_result::InvalidStatusDetails
                }
            },
            ValidationError::NextJobIdNotAllowed => jobs_result::InvalidJobId,
            ValidationError::StatusDetailsNotJson { .. }
            | ValidationError::StatusDetailsNotObject { .. }
            | ValidationError::StatusDetailsValueNotString { .. }
            | ValidationError::StatusDetailsDuplicateKey { .. }
            | ValidationError::StatusDetailsTooManyPairs { .. } => {
                jobs_result::InvalidStatusDetails
            }
            ValidationError::StepTimeoutOutOfRange { .. } => jobs_result::InvalidArgument,
            ValidationError::StatusNotSendable { .. } => jobs_result::InvalidStatus,
        }
    }
}

impl From<ValidationError> for Error {
    fn from(e: ValidationError) -> Error {
        Error::new(e.code(), e.to_string())
    }
}

/// Checks a length range (in characters) and that every character satisfies `allowed`.
fn check_chars(
    value: &str,
    field: Field,
    max: usize,
    allowed: impl Fn(char) -> bool,
) -> Result<(), ValidationError> {
    if value.is_empty() {
        return Err(ValidationError::Empty { field });
    }
    let len = value.chars().count();
    if len > max {
        return Err(ValidationError::TooLong { field, len, max });
    }
    match value.chars().enumerate().find(|&(_, c)| !allowed(c)) {
        Some((position, ch)) => Err(ValidationError::InvalidChar {
            field,
            ch,
            position,
        }),
        None => Ok(()),
    }
}

/// Returns true for `[a-zA-Z0-9:_-]`, the thing-name and details-key alphabet.
fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, ':' | '_' | '-')
}

/// Returns true for `[a-zA-Z0-9_-]`, the job-id alphabet.
fn is_job_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-')
}

/// Returns true for the characters AWS's `[^\p{C}]` refuses: Unicode's "Other" categories,
/// i.e. controls (Cc), format characters (Cf), surrogates (Cs, never in a Rust `char`),
/// private use (Co) and unassigned code points (Cn, noncharacters included).
fn is_other_category(c: char) -> bool {
    use unicode_general_category::{get_general_category, GeneralCategory as G};
    matches!(
        get_general_category(c),
        G::Control | G::Format | G::Surrogate | G::PrivateUse | G::Unassigned
    )
}

/// Checks a thing name: 1–128 characters from `[a-zA-Z0-9:_-]`.
///
/// # Errors
/// [`ValidationError::Empty`], [`ValidationError::TooLong`] or [`ValidationError::InvalidChar`]
/// with [`Field::ThingName`].
pub fn validate_thing_name(name: &str) -> Result<(), ValidationError> {
    check_chars(name, Field::ThingName, THING_NAME_MAX_LEN, is_name_char)
}

/// Checks a job id for anything but describe: 1–64 characters from `[a-zA-Z0-9_-]`.
///
/// # Errors
/// [`ValidationError::NextJobIdNotAllowed`] for `$next`; otherwise
/// [`ValidationError::Empty`], [`ValidationError::TooLong`] or [`ValidationError::InvalidChar`]
/// with [`Field::JobId`].
pub fn validate_job_id(job_id: &str) -> Result<(), ValidationError> {
    if job_id == NEXT_JOB_ID {
        return Err(ValidationError::NextJobIdNotAllowed);
    }
    check_chars(job_id, Field::JobId, JOB_ID_MAX_LEN, is_job_id_char)
}

/// Checks a describe job id: `$next`, or what [`validate_job_id`] accepts.
///
/// # Errors
/// As [`validate_job_id`], except that `$next` is accepted.
pub fn validate_describe_job_id(job_id: &str) -> Result<(), ValidationError> {
    if job_id == NEXT_JOB_ID {
        return Ok(());
    }
    validate_job_id(job_id)
}

/// Checks a client token: at most 64 bytes (it may be empty, as the Python SDK sends it).
///
/// # Errors
/// [`ValidationError::TooLong`] with [`Field::ClientToken`], length in bytes.
pub fn validate_client_token(token: &str) -> Result<(), ValidationError> {
    if token.len() > CLIENT_TOKEN_MAX_BYTES {
        return Err(ValidationError::TooLong {
            field: Field::ClientToken,
            len: token.len(),
            max: CLIENT_TOKEN_MAX_BYTES,
        });
    }
    Ok(())
}

/// Checks that a device may send `status` in an update: IN_PROGRESS, FAILED, SUCCEEDED or
/// REJECTED. AWS sets QUEUED, CANCELED, TIMED_OUT and REMOVED itself and rejects them from a
/// device; NOT_SET and UNKNOWN have no wire string at all.
///
/// # Errors
/// [`ValidationError::StatusNotSendable`] for every other status.
pub fn validate_device_status(status: ExecutionStatus) -> Result<(), ValidationError> {
    match status {
        ExecutionStatus::InProgress
        | ExecutionStatus::Failed
        | ExecutionStatus::Succeeded
        | ExecutionStatus::Rejected => Ok(()),
        _ => Err(ValidationError::StatusNotSendable { status }),
    }
}

/// Checks a start-next step timeout: 1–10080 minutes.
///
/// # Errors
/// [`ValidationError::StepTimeoutOutOfRange`] with `cancel_allowed: false`.
pub fn validate_step_timeout(minutes: i64) -> Result<(), ValidationError> {
    if (1..=STEP_TIMEOUT_MAX_MINUTES).contains(&minutes) {
        Ok(())
    } else {
        Err(ValidationError::StepTimeoutOutOfRange {
            minutes,
            cancel_allowed: false,
        })
    }
}

/// Checks an update step timeout: 1–10080 minutes, or -1 to cancel the step timer.
///
/// # Errors
/// [`ValidationError::StepTimeoutOutOfRange`] with `cancel_allowed: true`.
pub fn validate_update_step_timeout(minutes: i64) -> Result<(), ValidationError> {
    if minutes == STEP_TIMEOUT_CANCEL || (1..=STEP_TIMEOUT_MAX_MINUTES).contains(&minutes) {
        Ok(())
    } else {
        Err(ValidationError::StepTimeoutOutOfRange {
            minutes,
            cancel_allowed: true,
        })
    }
}

/// Checks one `statusDetails` key: 1–128 characters from `[a-zA-Z0-9:_-]`.
///
/// # Errors
/// [`ValidationError::Empty`], [`ValidationError::TooLong`] or [`ValidationError::InvalidChar`]
/// with [`Field::StatusDetailsKey`].
pub fn validate_details_key(key: &str) -> Result<(), ValidationError> {
    let field = Field::StatusDetailsKey(key.to_owned());
    check_chars(key, field, DETAILS_KEY_MAX_LEN, is_name_char)
}

/// Checks one `statusDetails` value (stored under `key`): 1–1024 characters matching AWS's
/// `[^\p{C}]+`: none of them a control, format, private-use or unassigned code point.
///
/// # Errors
/// [`ValidationError::Empty`], [`ValidationError::TooLong`] or [`ValidationError::InvalidChar`]
/// with [`Field::StatusDetailsValue`].
pub fn validate_details_value(key: &str, value: &str) -> Result<(), ValidationError> {
    let field = Field::StatusDetailsValue(key.to_owned());
    check_chars(value, field, DETAILS_VALUE_MAX_LEN, |c| {
        !is_other_category(c)
    })
}

/// Returns the JSON type name of `v` for error messages.
fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "boolean",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}

/// A JSON object read with its members in document order (serde_json's own map is sorted).
/// Duplicate keys are kept, in order, for the caller to judge.
#[derive(Debug)]
pub(crate) struct OrderedMap<V>(pub(crate) Vec<(String, V)>);

impl<'de, V: Deserialize<'de>> Deserialize<'de> for OrderedMap<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OrderedVisitor<V>(PhantomData<V>);

        impl<'de, V: Deserialize<'de>> Visitor<'de> for OrderedVisitor<V> {
            type Value = OrderedMap<V>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut pairs = Vec::new();
                while let Some(pair) = map.next_entry::<String, V>()? {
                    pairs.push(pair);
                }
                Ok(OrderedMap(pairs))
            }
        }

        deserializer.deserialize_map(OrderedVisitor(PhantomData))
    }
}

/// Validated `statusDetails`: string keys and values within AWS's limits, in insertion order.
///
/// An empty set is allowed (the Python SDK sends `{}` in start-next and drops it in update).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusDetails {
    pairs: Vec<(String, String)>,
}

impl StatusDetails {
    /// Parses a JSON object of string values, e.g. `{"progress":"50%"}`, keeping its order.
    ///
    /// # Errors
    /// [`ValidationError::StatusDetailsNotJson`], [`ValidationError::StatusDetailsNotObject`],
    /// [`ValidationError::StatusDetailsValueNotString`], or any error of [`StatusDetails::from_pairs`].
    pub fn parse(json: &str) -> Result<Self, ValidationError> {
        let value: serde_json::Value =
            serde_json::from_str(json).map_err(|e| ValidationError::StatusDetailsNotJson {
                reason: e.to_string(),
            })?;
        if !value.is_object() {
            return Err(ValidationError::StatusDetailsNotObject {
                found: json_kind(&value),
            });
        }
        let OrderedMap(members) = serde_json::from_str::<OrderedMap<serde_json::Value>>(json)
            .map_err(|e| ValidationError::StatusDetailsNotJson {
                reason: e.to_string(),
            })?;
        if members.len() > DETAILS_MAX_PAIRS {
            return Err(ValidationError::StatusDetailsTooManyPairs {
                count: members.len(),
            });
        }
        let mut pairs = Vec::with_capacity(members.len());
        for (key, value) in members {
            match value {
                serde_json::Value::String(s) => pairs.push((key, s)),
                other => {
                    return Err(ValidationError::StatusDetailsValueNotString {
                        found: json_kind(&other),
                        key,
                    })
                }
            }
        }
        Self::from_pairs(pairs)
    }

    /// Builds status details from key/value pairs, keeping their order.
    ///
    /// # Errors
    /// [`ValidationError::StatusDetailsTooManyPairs`] over 10 pairs,
    /// [`ValidationError::StatusDetailsDuplicateKey`], or the error of
    /// [`validate_details_key`] / [`validate_details_value`] for the first bad pair.
    pub fn from_pairs<K, V, I>(pairs: I) -> Result<Self, ValidationError>
    where
        K: Into<String>,
        V: Into<String>,
        I: IntoIterator<Item = (K, V)>,
    {
        let pairs: Vec<(String, String)> = pairs
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        if pairs.len() > DETAILS_MAX_PAIRS {
            return Err(ValidationError::StatusDetailsTooManyPairs { count: pairs.len() });
        }
        let mut seen = HashSet::with_capacity(pairs.len());
        for (key, value) in &pairs {
            if !seen.insert(key.as_str()) {
                return Err(ValidationError::StatusDetailsDuplicateKey { key: key.clone() });
            }
            validate_details_key(key)?;
            validate_details_value(key, value)?;
        }
        Ok(StatusDetails { pairs })
    }

    /// Returns the pairs in insertion order.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    /// Returns the value stored under `key`, if any.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Returns the number of pairs.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// Returns true when there are no pairs (`{}`).
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// Returns the compact JSON object (`{"k":"v",…}`), keys in insertion order.
    pub fn to_json(&self) -> String {
        let mut out = String::from("{");
        for (i, (key, value)) in self.pairs.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            push_json_string(&mut out, key);
            out.push(':');
            push_json_string(&mut out, value);
        }
        out.push('}');
        out
    }
}

/// Appends `s` to `out` as a JSON string literal, escaped by serde_json.
pub(crate) fn push_json_string(out: &mut String, s: &str) {
    // Serializing a &str into a String cannot fail.
    out.push_str(&serde_json::to_string(s).unwrap_or_else(|_| String::from("\"\"")));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(err: &ValidationError) -> Option<&Field> {
        match err {
            ValidationError::Empty { field }
            | ValidationError::TooLong { field, .. }
            | ValidationError::InvalidChar { field, .. } => Some(field),
            _ => None,
        }
    }

    #[test]
    fn thing_name_rules() {
        for ok in ["T", "my-thing_1:a", &"a".repeat(128), "0", "A:B:C"] {
            assert_eq!(validate_thing_name(ok), Ok(()), "{ok}");
        }
        assert_eq!(
            validate_thing_name(""),
            Err(ValidationError::Empty {
                field: Field::ThingName
            })
        );
        assert_eq!(
            validate_thing_name(&"a".repeat(129)),
            Err(ValidationError::TooLong {
                field: Field::ThingName,
                len: 129,
                max: 128
            })
        );
        for (bad, ch, position) in [
            ("my thing", ' ', 2),
            ("a/b", '/', 1),
            ("+", '+', 0),
            ("#", '#', 0),
            ("a.b", '.', 1),
            ("$aws", '$', 0),
            ("é", 'é', 0),
            ("a\0", '\0', 1),
        ] {
            assert_eq!(
                validate_thing_name(bad),
                Err(ValidationError::InvalidChar {
                    field: Field::ThingName,
                    ch,
                    position
                }),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn job_id_rules() {
        for ok in [
            "J",
            "job-1_a",
            &"j".repeat(64),
            "get",
            "update",
            "notify-next",
        ] {
            assert_eq!(validate_job_id(ok), Ok(()), "{ok}");
            assert_eq!(validate_describe_job_id(ok), Ok(()), "{ok}");
        }
        assert_eq!(
            validate_job_id("$next"),
            Err(ValidationError::NextJobIdNotAllowed)
        );
        assert_eq!(validate_describe_job_id("$next"), Ok(()));
        assert_eq!(
            validate_job_id(""),
            Err(ValidationError::Empty {
                field: Field::JobId
            })
        );
        assert_eq!(
            validate_job_id(&"j".repeat(65)),
            Err(ValidationError::TooLong {
                field: Field::JobId,
                len: 65,
                max: 64
            })
        );
        for bad in ["a:b", "+", "#", "a/b", "$Next", "$next2", "j b"] {
            let err = validate_describe_job_id(bad).unwrap_err();
            assert_eq!(field_of(&err), Some(&Field::JobId), "{bad}");
            assert!(matches!(err, ValidationError::InvalidChar { .. }), "{bad}");
        }
    }

    #[test]
    fn client_token_is_limited_in_bytes() {
        assert_eq!(validate_client_token(""), Ok(()));
        assert_eq!(validate_client_token(&"t".repeat(64)), Ok(()));
        assert_eq!(
            validate_client_token(&"t".repeat(65)),
            Err(ValidationError::TooLong {
                field: Field::ClientToken,
                len: 65,
                max: 64
            })
        );
        // 32 two-byte characters are 64 bytes; 33 are 66.
        assert_eq!(validate_client_token(&"é".repeat(32)), Ok(()));
        assert_eq!(
            validate_client_token(&"é".repeat(33)),
            Err(ValidationError::TooLong {
                field: Field::ClientToken,
                len: 66,
                max: 64
            })
        );
    }

    #[test]
    fn step_timeout_ranges() {
        for ok in [1, 5, 10080] {
            assert_eq!(validate_step_timeout(ok), Ok(()));
            assert_eq!(validate_update_step_timeout(ok), Ok(()));
        }
        assert_eq!(validate_update_step_timeout(-1), Ok(()));
        for bad in [0, -1, -2, 10081, i64::MIN, i64::MAX] {
            assert_eq!(
                validate_step_timeout(bad),
                Err(ValidationError::StepTimeoutOutOfRange {
                    minutes: bad,
                    cancel_allowed: false
                })
            );
        }
        for bad in [0, -2, 10081, i64::MIN, i64::MAX] {
            assert_eq!(
                validate_update_step_timeout(bad),
                Err(ValidationError::StepTimeoutOutOfRange {
                    minutes: bad,
                    cancel_allowed: true
                })
            );
        }
    }

    #[test]
    fn error_messages_name_field_and_rule() {
        let msg = validate_thing_name("my thing").unwrap_err().to_string();
        assert_eq!(
            msg,
            "thing name has the character ' ' (U+0020) at position 2: a thing name must be 1 to \
             128 characters from a-z, A-Z, 0-9, ':', '_' and '-'"
        );
        let msg = validate_job_id(&"j".repeat(70)).unwrap_err().to_string();
        assert!(
            msg.starts_with("job id is 70 characters long, over the limit of 64"),
            "{msg}"
        );
        let msg = validate_client_token(&"t".repeat(70))
            .unwrap_err()
            .to_string();
        assert!(msg.starts_with("client token is 70 bytes long"), "{msg}");
        let msg = validate_update_step_timeout(0).unwrap_err().to_string();
        assert_eq!(
            msg,
            "stepTimeoutInMinutes is 0: it must be 1 to 10080, or -1 to cancel the step timer"
        );
        let msg = validate_step_timeout(-1).unwrap_err().to_string();
        assert_eq!(msg, "stepTimeoutInMinutes is -1: it must be 1 to 10080");
        let msg = StatusDetails::parse(r#"{"bad key":"v"}"#)
            .unwrap_err()
            .to_string();
        assert!(
            msg.starts_with("statusDetails key \"bad key\" has the character ' '"),
            "{msg}"
        );
        let msg = StatusDetails::parse(r#"{"k":"a\u0007"}"#)
            .unwrap_err()
            .to_string();
        assert!(
            msg.starts_with("statusDetails value of key \"k\" has the character"),
            "{msg}"
        );
        let msg = StatusDetails::parse("[1]").unwrap_err().to_string();
        assert_eq!(
            msg,
            "statusDetails is a JSON array: it must be a JSON object of string values"
        );
        let long_key = "k".repeat(200);
        let msg = validate_details_key(&long_key).unwrap_err().to_string();
        assert!(msg.contains(&format!("\"{}…\"", "k".repeat(40))), "{msg}");
        let msg = ValidationError::StatusNotSendable {
            status: ExecutionStatus::Unknown,
        }
        .to_string();
        assert!(
            msg.starts_with("status UNKNOWN (99) cannot be sent: give QUEUED"),
            "{msg}"
        );
        let msg = ValidationError::StatusNotSendable {
            status: ExecutionStatus::NotSet,
        }
        .to_string();
        assert!(
            msg.starts_with("status NOT_SET (0) cannot be sent"),
            "{msg}"
        );
    }

    #[test]
    fn status_details_parse_keeps_order() {
        let d = StatusDetails::parse(r#" {"z":"1", "a":"2", "m:x_y-z":"3"} "#).unwrap();
        let keys: Vec<_> = d.pairs().iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["z", "a", "m:x_y-z"]);
        assert_eq!(d.get("a"), Some("2"));
        assert_eq!(d.get("b"), None);
        assert_eq!(d.len(), 3);
        assert_eq!(d.to_json(), r#"{"z":"1","a":"2","m:x_y-z":"3"}"#);
    }

    #[test]
    fn status_details_empty_object_is_allowed() {
        let d = StatusDetails::parse("{}").unwrap();
        assert!(d.is_empty());
        assert_eq!(d.to_json(), "{}");
        assert_eq!(StatusDetails::default(), d);
    }

    #[test]
    fn status_details_value_escaping_round_trips() {
        let d = StatusDetails::from_pairs([("msg", "say \"hi\" \\ ünï €")]).unwrap();
        let json = d.to_json();
        assert_eq!(json, r#"{"msg":"say \"hi\" \\ ünï €"}"#);
        assert_eq!(StatusDetails::parse(&json).unwrap(), d);
    }

    #[test]
    fn status_details_refusals() {
        let cases: [(&str, ValidationError); 8] = [
            (
                r#"{"a":1}"#,
                ValidationError::StatusDetailsValueNotString {
                    key: "a".into(),
                    found: "number",
                },
            ),
            (
                r#"{"a":"x","b":{"c":"d"}}"#,
                ValidationError::StatusDetailsValueNotString {
                    key: "b".into(),
                    found: "object",
                },
            ),
            (
                r#"{"a":null}"#,
                ValidationError::StatusDetailsValueNotString {
                    key: "a".into(),
                    found: "null",
                },
            ),
            (
                r#""x""#,
                ValidationError::StatusDetailsNotObject { found: "string" },
            ),
            (
                "null",
                ValidationError::StatusDetailsNotObject { found: "null" },
            ),
            (
                r#"{"a":"1","a":"2"}"#,
                ValidationError::StatusDetailsDuplicateKey { key: "a".into() },
            ),
            (
                r#"{"":"v"}"#,
                ValidationError::Empty {
                    field: Field::StatusDetailsKey(String::new()),
                },
            ),
            (
                r#"{"k":""}"#,
                ValidationError::Empty {
                    field: Field::StatusDetailsValue("k".into()),
                },
            ),
        ];
        for (json, expected) in cases {
            assert_eq!(StatusDetails::parse(json), Err(expected), "{json}");
        }
        for not_json in ["", "{", "{'a':'b'}", r#"{"a":"b"} x"#, "{\"a\":\"b\",}"] {
            assert!(
                matches!(
                    StatusDetails::parse(not_json),
                    Err(ValidationError::StatusDetailsNotJson { .. })
                ),
                "{not_json:?}"
            );
        }
    }

    #[test]
    fn status_details_limits() {
        let ten: Vec<_> = (0..10)
            .map(|i| (format!("k{i}"), "v".to_string()))
            .collect();
        assert_eq!(StatusDetails::from_pairs(ten.clone()).unwrap().len(), 10);
        let mut eleven = ten;
        eleven.push(("k10".into(), "v".into()));
        assert_eq!(
            StatusDetails::from_pairs(eleven.clone()),
            Err(ValidationError::StatusDetailsTooManyPairs { count: 11 })
        );
        let json = StatusDetails { pairs: eleven }.to_json();
        assert_eq!(
            StatusDetails::parse(&json),
            Err(ValidationError::StatusDetailsTooManyPairs { count: 11 })
        );
        assert!(StatusDetails::from_pairs([("k".repeat(128), "v")]).is_ok());
        assert!(matches!(
            StatusDetails::from_pairs([("k".repeat(129), "v")]),
            Err(ValidationError::TooLong {
                len: 129,
                max: 128,
                ..
            })
        ));
        // 1024 characters (2048 bytes) is the limit, counted in characters.
        assert!(StatusDetails::from_pairs([("k", "é".repeat(1024))]).is_ok());
        assert_eq!(
            StatusDetails::from_pairs([("k", "v".repeat(1025))]),
            Err(ValidationError::TooLong {
                field: Field::StatusDetailsValue("k".into()),
                len: 1025,
                max: 1024
            })
        );
    }

    #[test]
    fn status_details_value_characters() {
        for ok in [
            "50%",
            "a b\u{e9}",
            "é",
            "日本",
            "日本語",
            "emoji 🚀",
            "👍🏽",
            "tab-free",
        ] {
            assert!(validate_details_value("k", ok).is_ok(), "{ok:?}");
        }
        for (bad, ch) in [
            ("a\nb", '\n'),
            ("\t", '\t'),
            ("x\u{7f}", '\u{7f}'),
            ("x\u{85}", '\u{85}'),
            ("zero\u{200b}width", '\u{200b}'),
            ("\u{feff}bom", '\u{feff}'),
            ("private \u{e000}", '\u{e000}'),
            ("non \u{fffe}", '\u{fffe}'),
            ("tag \u{e0041}", '\u{e0041}'),
            // AWS's pattern is [^\p{C}]+: the task's named cases, format, private use, unassigned.
            ("a\u{200b}b", '\u{200b}'),
            ("a\u{e000}b", '\u{e000}'),
            ("a\u{378}b", '\u{378}'),
            ("plane 15 \u{f0000}", '\u{f0000}'),
            ("soft\u{ad}hyphen", '\u{ad}'),
        ] {
            match validate_details_value("k", bad) {
                Err(ValidationError::InvalidChar { ch: got, .. }) => assert_eq!(got, ch, "{bad:?}"),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn only_the_four_device_statuses_pass_the_device_rule() {
        let allowed: Vec<_> = ExecutionStatus::ALL
            .iter()
            .copied()
            .filter(|s| validate_device_status(*s).is_ok())
            .collect();
        assert_eq!(
            allowed,
            [
                ExecutionStatus::InProgress,
                ExecutionStatus::Failed,
                ExecutionStatus::Succeeded,
                ExecutionStatus::Rejected
            ]
        );
        let err = validate_device_status(ExecutionStatus::Queued).unwrap_err();
        assert_eq!(err.code(), jobs_result::InvalidStatus);
        assert_eq!(
            err.to_string(),
            "status QUEUED (1) cannot be set by a device, only by AWS: a device sends \
             IN_PROGRESS, FAILED, SUCCEEDED or REJECTED"
        );
        let err = validate_device_status(ExecutionStatus::NotSet).unwrap_err();
        assert!(err
            .to_string()
            .starts_with("status NOT_SET (0) cannot be sent"));
    }

    #[test]
    fn every_error_maps_to_the_code_of_its_field() {
        let cases = [
            (
                validate_thing_name("a b").unwrap_err(),
                jobs_result::InvalidThingName,
            ),
            (validate_job_id("").unwrap_err(), jobs_result::InvalidJobId),
            (
                validate_job_id("$next").unwrap_err(),
                jobs_result::InvalidJobId,
            ),
            (
                validate_client_token(&"t".repeat(65)).unwrap_err(),
                jobs_result::InvalidClientToken,
            ),
            (
                StatusDetails::parse("[]").unwrap_err(),
                jobs_result::InvalidStatusDetails,
            ),
            (
                validate_details_value("k", "\u{7}").unwrap_err(),
                jobs_result::InvalidStatusDetails,
            ),
            (
                validate_step_timeout(0).unwrap_err(),
                jobs_result::InvalidArgument,
            ),
        ];
        for (err, code) in cases {
            let message = err.to_string();
            let e = Error::from(err);
            assert_eq!((e.code, e.message), (code, message));
        }
    }

    #[test]
    fn details_key_alphabet() {
        assert!(validate_details_key("a:b_c-D9").is_ok());
        for bad in ["a b", "a.b", "ключ", "a/b"] {
            assert!(matches!(
                validate_details_key(bad),
                Err(ValidationError::InvalidChar {
                    field: Field::StatusDetailsKey(_),
                    ..
                })
            ));
        }
    }

    #[test]
    fn ordered_map_keeps_duplicates_for_the_caller() {
        let OrderedMap(pairs) =
            serde_json::from_str::<OrderedMap<u32>>(r#"{"b":1,"a":2,"b":3}"#).unwrap();
        assert_eq!(
            pairs,
            [
                ("b".to_string(), 1),
                ("a".to_string(), 2),
                ("b".to_string(), 3)
            ]
        );
        assert!(serde_json::from_str::<OrderedMap<u32>>("[1]").is_err());
    }
}
