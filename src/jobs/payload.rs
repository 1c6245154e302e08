//! Request payloads, with the same keys, key order, omissions and JSON types as the Python SDK
//! v1 (`docs/jobs-protocol.md`, 'Python SDK v1 payloads'), written compactly (no spaces).
//!
//! Differences from the SDK, all refusals of requests it would send broken or AWS would reject:
//! a status of `NOT_SET`/`UNKNOWN` is an error (the SDK publishes an empty payload); a client
//! token over 64 bytes and a step timeout outside AWS's range are errors.

use super::types::ExecutionStatus;
use super::validate::{self, push_json_string, StatusDetails, ValidationError};

/// A JSON object written key by key, in call order, without spaces.
struct JsonObject {
    out: String,
}

impl JsonObject {
    /// Starts an empty object.
    fn new() -> Self {
        JsonObject {
            out: String::from("{"),
        }
    }

    /// Writes the separator and `"key":`, ready for a value.
    fn key(&mut self, key: &str) -> &mut String {
        if self.out.len() > 1 {
            self.out.push(',');
        }
        push_json_string(&mut self.out, key);
        self.out.push(':');
        &mut self.out
    }

    /// Adds a string member.
    fn string(&mut self, key: &str, value: &str) {
        push_json_string(self.key(key), value);
    }

    /// Adds a member whose value is already JSON text (a number, `true`, an object).
    fn raw(&mut self, key: &str, json: &str) {
        self.key(key).push_str(json);
    }

    /// Adds `clientToken` when a token is given, after checking its length.
    fn client_token(&mut self, token: Option<&str>) -> Result<(), ValidationError> {
        if let Some(token) = token {
            validate::validate_client_token(token)?;
            self.string("clientToken", token);
        }
        Ok(())
    }

    /// Returns the finished object text.
    fn finish(mut self) -> String {
        self.out.push('}');
        self.out
    }
}

/// Returns the GetPending / query payload: `{"clientToken":"tok"}`, or `{}` without a token
/// (SDK `serializeClientTokenPayload`).
///
/// # Errors
/// [`ValidationError::TooLong`] when the token is over 64 bytes.
pub fn client_token_payload(token: Option<&str>) -> Result<String, ValidationError> {
    let mut obj = JsonObject::new();
    obj.client_token(token)?;
    Ok(obj.finish())
}

/// Returns the StartNextPendingJobExecution payload (SDK
/// `serializeStartNextPendingJobExecutionPayload`): keys `clientToken` (when given),
/// `statusDetails` (whenever given, so an empty set is sent as `{}`), `stepTimeoutInMinutes`
/// (when given), in that order.
///
/// # Errors
/// [`ValidationError::TooLong`] for a token over 64 bytes;
/// [`ValidationError::StepTimeoutOutOfRange`] for a step timeout outside 1–10080.
pub fn start_next_payload(
    token: Option<&str>,
    details: Option<&StatusDetails>,
    step_timeout: Option<i64>,
) -> Result<String, ValidationError> {
    let mut obj = JsonObject::new();
    obj.client_token(token)?;
    if let Some(details) = details {
        obj.raw("statusDetails", &details.to_json());
    }
    if let Some(minutes) = step_timeout {
        validate::validate_step_timeout(minutes)?;
        obj.raw("stepTimeoutInMinutes", &minutes.to_string());
    }
    Ok(obj.finish())
}

/// Returns the DescribeJobExecution payload (SDK `serializeDescribeJobExecutionPayload`):
/// `includeJobDocument` (always, a JSON boolean), `executionNumber` (a JSON **integer**, omitted
/// when 0), `clientToken` (when given), in that order.
///
/// # Errors
/// [`ValidationError::TooLong`] for a token over 64 bytes.
pub fn describe_payload(
    token: Option<&str>,
    execution_number: u64,
    include_job_document: bool,
) -> Result<String, ValidationError> {
    let mut obj = JsonObject::new();
    obj.raw(
        "includeJobDocument",
        if include_job_document {
            "true"
        } else {
            "false"
        },
    );
    if execution_number > 0 {
        obj.raw("executionNumber", &execution_number.to_string());
    }
    obj.client_token(token)?;
    Ok(obj.finish())
}

/// The arguments of an UpdateJobExecution request, with the SDK's defaults from
/// [`UpdateRequest::new`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UpdateRequest<'a> {
    /// The new status; `NotSet` and `Unknown` are refused.
    pub status: ExecutionStatus,
    /// Status details; `None` or an empty set leaves the stored details unchanged (not sent).
    pub details: Option<&'a StatusDetails>,
    /// The version the execution must have for the update to apply; 0 = no check (not sent).
    pub expected_version: u64,
    /// The execution to update; 0 = the latest (not sent).
    pub execution_number: u64,
    /// Ask for `executionState` in the accepted reply.
    pub include_job_execution_state: bool,
    /// Ask for `jobDocument` in the accepted reply.
    pub include_job_document: bool,
    /// New step timer in minutes (1–10080), or -1 to cancel it; `None` = not sent.
    pub step_timeout: Option<i64>,
}

impl<'a> UpdateRequest<'a> {
    /// Returns a request for `status` with every other argument at the SDK's default (no details,
    /// no expected version, latest execution, nothing included, no step timeout).
    pub fn new(status: ExecutionStatus) -> Self {
        UpdateRequest {
            status,
            ..Default::default()
        }
    }
}

/// Returns the UpdateJobExecution payload (SDK `serializeJobExecutionUpdatePayload`). Keys, in
/// order: `status`; `statusDetails` (only when non-empty); `expectedVersion` and
/// `executionNumber` (only when > 0, as JSON **strings** like the SDK); `includeJobExecutionState`
/// and `includeJobDocument` (only when true); `clientToken` (when given);
/// `stepTimeoutInMinutes` (when given).
///
/// # Errors
/// [`ValidationError::StatusNotSendable`] for `NotSet`/`Unknown` (the SDK sends an empty
/// payload instead); [`ValidationError::TooLong`] for a token over 64 bytes;
/// [`ValidationError::StepTimeoutOutOfRange`] outside 1–10080 and -1.
pub fn update_payload(
    req: &UpdateRequest<'_>,
    token: Option<&str>,
) -> Result<String, ValidationError> {
    let status = req
        .status
        .wire_name()
        .ok_or(ValidationError::StatusNotSendable { status: req.status })?;
    let mut obj = JsonObject::new();
    obj.string("status", status);
    if let Some(details) = req.details.filter(|d| !d.is_empty()) {
        obj.raw("statusDetails", &details.to_json());
    }
    if req.expected_version > 0 {
        obj.string("expectedVersion", &req.expected_version.to_string());
    }
    if req.execution_number > 0 {
        obj.string("executionNumber", &req.execution_number.to_string());
    }
    if req.include_job_execution_state {
        obj.raw("includeJobExecutionState", "true");
    }
    if req.include_job_document {
        obj.raw("includeJobDocument", "true");
    }
    obj.client_token(token)?;
    if let Some(minutes) = req.step_timeout {
        validate::validate_update_step_timeout(minutes)?;
        obj.raw("stepTimeoutInMinutes", &minutes.to_string());
    }
    Ok(obj.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::validate::OrderedMap;
    use serde_json::Value;

    /// Returns the top-level keys of a JSON object, in document order.
    fn keys(json: &str) -> Vec<String> {
        let OrderedMap(pairs) = serde_json::from_str::<OrderedMap<Value>>(json).unwrap();
        pairs.into_iter().map(|(k, _)| k).collect()
    }

    /// Asserts that `ours` equals the Python SDK v1's output as JSON and in key order, and is
    /// compact.
    fn assert_same_as_sdk_v1(ours: &str, sdk: &str) {
        let a: Value = serde_json::from_str(ours).unwrap();
        let b: Value = serde_json::from_str(sdk).unwrap();
        assert_eq!(a, b, "ours {ours}\nsdk v1 {sdk}");
        assert_eq!(
            keys(ours),
            keys(sdk),
            "key order: ours {ours}\nsdk v1 {sdk}"
        );
        assert!(
            !ours.contains(", ") && !ours.contains(": "),
            "not compact: {ours}"
        );
    }

    fn details(json: &str) -> StatusDetails {
        StatusDetails::parse(json).unwrap()
    }

    #[test]
    fn client_token_payload_matches_seed() {
        let ours = client_token_payload(Some("tok")).unwrap();
        assert_eq!(ours, r#"{"clientToken":"tok"}"#);
        assert_same_as_sdk_v1(&ours, r#"{"clientToken": "tok"}"#);
        assert_eq!(client_token_payload(None).unwrap(), "{}");
        assert_eq!(
            client_token_payload(Some("")).unwrap(),
            r#"{"clientToken":""}"#
        );
    }

    #[test]
    fn start_next_payload_matches_seed() {
        let d = details(r#"{"a":"b"}"#);
        let ours = start_next_payload(Some("tok"), Some(&d), Some(5)).unwrap();
        assert_eq!(
            ours,
            r#"{"clientToken":"tok","statusDetails":{"a":"b"},"stepTimeoutInMinutes":5}"#
        );
        assert_same_as_sdk_v1(
            &ours,
            r#"{"clientToken": "tok", "statusDetails": {"a": "b"}, "stepTimeoutInMinutes": 5}"#,
        );
        let plain = start_next_payload(Some("tok"), None, None).unwrap();
        assert_same_as_sdk_v1(&plain, r#"{"clientToken": "tok"}"#);
        assert_eq!(start_next_payload(None, None, None).unwrap(), "{}");
        let timeout_only = start_next_payload(None, None, Some(10080)).unwrap();
        assert_eq!(timeout_only, r#"{"stepTimeoutInMinutes":10080}"#);
    }

    #[test]
    fn start_next_keeps_empty_details_like_seed() {
        let empty = StatusDetails::default();
        let ours = start_next_payload(Some("tok"), Some(&empty), None).unwrap();
        assert_eq!(ours, r#"{"clientToken":"tok","statusDetails":{}}"#);
        assert_same_as_sdk_v1(&ours, r#"{"clientToken": "tok", "statusDetails": {}}"#);
    }

    #[test]
    fn start_next_details_keep_insertion_order() {
        let d = details(r#"{"StartedBy":"agent","b":"2","a":"1"}"#);
        let ours = start_next_payload(Some("tok"), Some(&d), None).unwrap();
        assert_eq!(
            ours,
            r#"{"clientToken":"tok","statusDetails":{"StartedBy":"agent","b":"2","a":"1"}}"#
        );
    }

    #[test]
    fn start_next_refuses_bad_step_timeout() {
        for bad in [0, -1, 10081] {
            assert_eq!(
                start_next_payload(Some("tok"), None, Some(bad)),
                Err(ValidationError::StepTimeoutOutOfRange {
                    minutes: bad,
                    cancel_allowed: false
                })
            );
        }
    }

    #[test]
    fn describe_payload_matches_seed() {
        let ours = describe_payload(Some("tok"), 0, true).unwrap();
        assert_eq!(ours, r#"{"includeJobDocument":true,"clientToken":"tok"}"#);
        assert_same_as_sdk_v1(
            &ours,
            r#"{"includeJobDocument": true, "clientToken": "tok"}"#,
        );
        let ours = describe_payload(Some("tok"), 3, false).unwrap();
        assert_eq!(
            ours,
            r#"{"includeJobDocument":false,"executionNumber":3,"clientToken":"tok"}"#
        );
        assert_same_as_sdk_v1(
            &ours,
            r#"{"includeJobDocument": false, "executionNumber": 3, "clientToken": "tok"}"#,
        );
        assert_eq!(
            describe_payload(None, 0, false).unwrap(),
            r#"{"includeJobDocument":false}"#
        );
    }

    #[test]
    fn describe_execution_number_is_a_json_integer() {
        let ours = describe_payload(None, u64::MAX, true).unwrap();
        let v: Value = serde_json::from_str(&ours).unwrap();
        assert_eq!(v["executionNumber"].as_u64(), Some(u64::MAX));
    }

    #[test]
    fn update_payload_matches_seed_full() {
        let d = details(r#"{"k":"v"}"#);
        let req = UpdateRequest {
            status: ExecutionStatus::Succeeded,
            details: Some(&d),
            expected_version: 2,
            execution_number: 1,
            include_job_execution_state: true,
            include_job_document: true,
            step_timeout: Some(10),
        };
        let ours = update_payload(&req, Some("tok")).unwrap();
        assert_eq!(
            ours,
            r#"{"status":"SUCCEEDED","statusDetails":{"k":"v"},"expectedVersion":"2","executionNumber":"1","includeJobExecutionState":true,"includeJobDocument":true,"clientToken":"tok","stepTimeoutInMinutes":10}"#
        );
        assert_same_as_sdk_v1(
            &ours,
            r#"{"status": "SUCCEEDED", "statusDetails": {"k": "v"}, "expectedVersion": "2", "executionNumber": "1", "includeJobExecutionState": true, "includeJobDocument": true, "clientToken": "tok", "stepTimeoutInMinutes": 10}"#,
        );
    }

    #[test]
    fn update_payload_defaults_match_seed() {
        let ours = update_payload(
            &UpdateRequest::new(ExecutionStatus::InProgress),
            Some("tok"),
        )
        .unwrap();
        assert_same_as_sdk_v1(&ours, r#"{"status": "IN_PROGRESS", "clientToken": "tok"}"#);
        let no_token = update_payload(&UpdateRequest::new(ExecutionStatus::Failed), None).unwrap();
        assert_eq!(no_token, r#"{"status":"FAILED"}"#);
    }

    #[test]
    fn update_drops_empty_details_like_seed() {
        let empty = StatusDetails::default();
        let req = UpdateRequest {
            details: Some(&empty),
            ..UpdateRequest::new(ExecutionStatus::Rejected)
        };
        let ours = update_payload(&req, Some("tok")).unwrap();
        assert_same_as_sdk_v1(&ours, r#"{"status": "REJECTED", "clientToken": "tok"}"#);
    }

    #[test]
    fn update_numbers_are_strings_and_omitted_when_zero() {
        let req = UpdateRequest {
            expected_version: u64::MAX,
            ..UpdateRequest::new(ExecutionStatus::InProgress)
        };
        let ours = update_payload(&req, None).unwrap();
        assert_eq!(
            ours,
            format!(
                r#"{{"status":"IN_PROGRESS","expectedVersion":"{}"}}"#,
                u64::MAX
            )
        );
        let req = UpdateRequest {
            execution_number: 7,
            ..UpdateRequest::new(ExecutionStatus::InProgress)
        };
        let ours = update_payload(&req, None).unwrap();
        assert_eq!(ours, r#"{"status":"IN_PROGRESS","executionNumber":"7"}"#);
        // The include flags are only ever sent as true.
        let req = UpdateRequest {
            include_job_document: true,
            ..UpdateRequest::new(ExecutionStatus::InProgress)
        };
        assert_eq!(
            update_payload(&req, None).unwrap(),
            r#"{"status":"IN_PROGRESS","includeJobDocument":true}"#
        );
    }

    #[test]
    fn update_sends_every_status_with_a_wire_string() {
        for status in ExecutionStatus::ALL {
            let got = update_payload(&UpdateRequest::new(*status), None);
            match status.wire_name() {
                Some(wire) => assert_eq!(got.unwrap(), format!(r#"{{"status":"{wire}"}}"#)),
                None => assert_eq!(
                    got,
                    Err(ValidationError::StatusNotSendable { status: *status })
                ),
            }
        }
    }

    #[test]
    fn update_step_timeout_accepts_cancel() {
        let req = UpdateRequest {
            step_timeout: Some(-1),
            ..UpdateRequest::new(ExecutionStatus::InProgress)
        };
        assert_eq!(
            update_payload(&req, Some("t")).unwrap(),
            r#"{"status":"IN_PROGRESS","clientToken":"t","stepTimeoutInMinutes":-1}"#
        );
        let req = UpdateRequest {
            step_timeout: Some(0),
            ..UpdateRequest::new(ExecutionStatus::InProgress)
        };
        assert_eq!(
            update_payload(&req, Some("t")),
            Err(ValidationError::StepTimeoutOutOfRange {
                minutes: 0,
                cancel_allowed: true
            })
        );
    }

    #[test]
    fn client_token_is_escaped_and_limited() {
        let token = "a\"b\\c\u{1}é";
        for payload in [
            client_token_payload(Some(token)).unwrap(),
            start_next_payload(Some(token), None, None).unwrap(),
            describe_payload(Some(token), 0, true).unwrap(),
            update_payload(&UpdateRequest::new(ExecutionStatus::Succeeded), Some(token)).unwrap(),
        ] {
            let v: Value = serde_json::from_str(&payload).unwrap();
            assert_eq!(v["clientToken"], token, "{payload}");
        }
        let long = "t".repeat(65);
        assert!(client_token_payload(Some(&long)).is_err());
        assert!(start_next_payload(Some(&long), None, None).is_err());
        assert!(describe_payload(Some(&long), 0, true).is_err());
        assert!(
            update_payload(&UpdateRequest::new(ExecutionStatus::Succeeded), Some(&long)).is_err()
        );
    }

    #[test]
    fn details_values_are_escaped() {
        let d = StatusDetails::from_pairs([("msg", "50% \"done\" \\ ok")]).unwrap();
        let req = UpdateRequest {
            details: Some(&d),
            ..UpdateRequest::new(ExecutionStatus::InProgress)
        };
        let ours = update_payload(&req, None).unwrap();
        let v: Value = serde_json::from_str(&ours).unwrap();
        assert_eq!(v["statusDetails"]["msg"], "50% \"done\" \\ ok");
    }
}
