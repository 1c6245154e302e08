//! Building and parsing AWS IoT Jobs topics (`docs/jobs-protocol.md`, 'Topics' and 'Topics from
//! getJobTopic').
//!
//! [`build_topic`] produces exactly the strings of the Python SDK's `getJobTopic`; where that
//! function returns `None` (and the SDK then publishes to topic `None`), this one returns a
//! [`TopicError`] naming the reason. [`parse_topic`] is its inverse for concrete topics, the ones
//! AWS publishes on.

use std::fmt;

use super::types::{ReplyType, TopicType};
use super::validate::{self, ValidationError};

/// The prefix of every thing topic.
pub const THINGS_PREFIX: &str = "$aws/things/";

/// The single-level wildcard, accepted as a job id to build subscription filters.
pub const JOB_ID_WILDCARD: &str = "+";

/// Why a (thing, topic type, reply type, job id) combination names no jobs topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicError {
    /// The thing name breaks AWS's thing-name rule; the inner error says how.
    InvalidThingName(ValidationError),
    /// A notification topic type was combined with a reply type other than `Request`.
    ReplyNotAllowed {
        /// `Notify` or `NotifyNext`.
        topic_type: TopicType,
        /// The refused reply type.
        reply_type: ReplyType,
    },
    /// A job id was given for a type whose topic has none (GetPending, StartNext, Notify,
    /// NotifyNext).
    JobIdNotAllowed {
        /// The topic type.
        topic_type: TopicType,
    },
    /// No job id was given for Describe or Update.
    MissingJobId {
        /// The topic type.
        topic_type: TopicType,
    },
    /// The topic type is `Unrecognized`, which names no topic.
    UnrecognizedType,
    /// The job id breaks AWS's job-id rule (or is `$next` for Update); the inner error says how.
    InvalidJobId(ValidationError),
}

/// Returns the upper-case name used in messages (`GET_PENDING`), matching the C enum suffix.
fn topic_type_name(t: TopicType) -> String {
    t.as_str().to_ascii_uppercase()
}

/// Returns the upper-case name used in messages (`ACCEPTED`), matching the C enum suffix.
fn reply_type_name(r: ReplyType) -> String {
    r.as_str().to_ascii_uppercase()
}

impl fmt::Display for TopicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TopicError::InvalidThingName(e) | TopicError::InvalidJobId(e) => e.fmt(f),
            TopicError::ReplyNotAllowed {
                topic_type,
                reply_type,
            } => write!(
                f,
                "topic type {} ({}) is a notification and takes only reply type REQUEST (1), \
                 not {} ({})",
                topic_type_name(*topic_type),
                topic_type.as_u32(),
                reply_type_name(*reply_type),
                reply_type.as_u32()
            ),
            TopicError::JobIdNotAllowed { topic_type } => write!(
                f,
                "topic type {} ({}) takes no job id: pass none",
                topic_type_name(*topic_type),
                topic_type.as_u32()
            ),
            TopicError::MissingJobId { topic_type } => write!(
                f,
                "topic type {} ({}) needs a job id (or \"+\" in a subscription filter{})",
                topic_type_name(*topic_type),
                topic_type.as_u32(),
                if *topic_type == TopicType::Describe {
                    ", or \"$next\""
                } else {
                    ""
                }
            ),
            TopicError::UnrecognizedType => {
                f.write_str("topic type UNRECOGNIZED (0) names no jobs topic")
            }
        }
    }
}

impl std::error::Error for TopicError {}

/// Builds the jobs topic (or subscription filter) for `thing`, exactly as the Python SDK's
/// `getJobTopic` does (`docs/jobs-protocol.md`, 'Topics from getJobTopic'):
///
/// - `Wildcard` gives `$aws/things/T/jobs/#` for every reply type; the job id is ignored.
/// - `Notify`/`NotifyNext` exist only with `ReplyType::Request`.
/// - `ReplyType::Unrecognized` behaves like `Request` for every other type.
/// - `Describe` and `Update` need a job id: a real one, `+` (subscription filters), or for
///   `Describe` also `$next`.
///
/// The result is a subscription filter (never publishable) for `Wildcard` types or replies and
/// for the job id `+`; check it with [`is_filter`] before publishing.
///
/// The checks run in the SDK's order: thing name, notification reply, job id not allowed,
/// job id missing, unrecognized type; then the job id itself is validated.
///
/// # Errors
/// The first failing [`TopicError`] in that order.
pub fn build_topic(
    thing: &str,
    topic_type: TopicType,
    reply_type: ReplyType,
    job_id: Option<&str>,
) -> Result<String, TopicError> {
    validate::validate_thing_name(thing).map_err(TopicError::InvalidThingName)?;
    if topic_type.is_notification() && reply_type != ReplyType::Request {
        return Err(TopicError::ReplyNotAllowed {
            topic_type,
            reply_type,
        });
    }
    if job_id.is_some() && topic_type.forbids_job_id() {
        return Err(TopicError::JobIdNotAllowed { topic_type });
    }
    if job_id.is_none() && topic_type.requires_job_id() {
        return Err(TopicError::MissingJobId { topic_type });
    }
    let Some(operation) = topic_type.operation() else {
        return match topic_type {
            TopicType::Wildcard => Ok(format!("{THINGS_PREFIX}{thing}/jobs/#")),
            _ => Err(TopicError::UnrecognizedType),
        };
    };
    let mut topic = format!("{THINGS_PREFIX}{thing}/jobs/");
    if let Some(job_id) = job_id.filter(|_| topic_type.requires_job_id()) {
        check_topic_job_id(topic_type, job_id)?;
        topic.push_str(job_id);
        topic.push('/');
    }
    topic.push_str(operation);
    if let Some(reply) = reply_type.suffix() {
        topic.push('/');
        topic.push_str(reply);
    }
    Ok(topic)
}

/// Checks a job id for a Describe or Update topic: `+`, `$next` (Describe only) or a real id.
fn check_topic_job_id(topic_type: TopicType, job_id: &str) -> Result<(), TopicError> {
    if job_id == JOB_ID_WILDCARD {
        return Ok(());
    }
    let checked = if topic_type == TopicType::Describe {
        validate::validate_describe_job_id(job_id)
    } else {
        validate::validate_job_id(job_id)
    };
    checked.map_err(TopicError::InvalidJobId)
}

/// Returns true when `topic` is an MQTT filter (has a `+` or `#`), which can be subscribed to
/// but never published to.
pub fn is_filter(topic: &str) -> bool {
    topic.contains(['+', '#'])
}

/// A concrete jobs topic taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedTopic {
    /// The thing name (valid by AWS's rule).
    pub thing: String,
    /// The topic type; never `Unrecognized` or `Wildcard`.
    pub topic_type: TopicType,
    /// `Request` for requests and notifications, else `Accepted` or `Rejected`.
    pub reply_type: ReplyType,
    /// The job id for Describe and Update (`$next` possible for Describe), else `None`.
    pub job_id: Option<String>,
}

/// Parses a concrete jobs topic (`$aws/things/T/jobs/...`), the inverse of [`build_topic`].
///
/// Returns `None` for anything else: other topics, filters (`+`, `#`), an invalid thing name or
/// job id, `$next` with update, or an unknown operation.
///
/// Job ids such as `get`, `start-next` or `notify` are valid, so topics are resolved by their
/// number of segments after `jobs/`, as AWS routes them: one segment is an operation without job
/// id (`jobs/get` is GetPending, `jobs/notify` is Notify); two segments are either such an
/// operation with its reply (`jobs/get/accepted`) or a job id with `get`/`update`
/// (`jobs/get/get` is Describe of the job named `get`); three segments are job id, operation and
/// reply. No topic matches two readings, because the reply words are never `get` or `update`.
pub fn parse_topic(topic: &str) -> Option<ParsedTopic> {
    let rest = topic.strip_prefix(THINGS_PREFIX)?;
    let (thing, rest) = rest.split_once('/')?;
    let rest = rest.strip_prefix("jobs/")?;
    validate::validate_thing_name(thing).ok()?;
    let segments: Vec<&str> = rest.split('/').collect();
    let (topic_type, reply_type, job_id) = match segments.as_slice() {
        [op] => (operation_without_job(op)?, ReplyType::Request, None),
        [op, reply] if reply_of(reply).is_some() => {
            let topic_type = operation_without_job(op).filter(|t| !t.is_notification())?;
            (topic_type, reply_of(reply)?, None)
        }
        [job, op] => (operation_with_job(job, op)?, ReplyType::Request, Some(*job)),
        [job, op, reply] => (operation_with_job(job, op)?, reply_of(reply)?, Some(*job)),
        _ => return None,
    };
    Some(ParsedTopic {
        thing: thing.to_owned(),
        topic_type,
        reply_type,
        job_id: job_id.map(str::to_owned),
    })
}

/// Returns the type of an operation segment that carries no job id.
fn operation_without_job(op: &str) -> Option<TopicType> {
    match op {
        "get" => Some(TopicType::GetPending),
        "start-next" => Some(TopicType::StartNext),
        "notify" => Some(TopicType::Notify),
        "notify-next" => Some(TopicType::NotifyNext),
        _ => None,
    }
}

/// Returns the type of a `job/op` pair, after checking the job id for that type.
fn operation_with_job(job: &str, op: &str) -> Option<TopicType> {
    let topic_type = match op {
        "get" => TopicType::Describe,
        "update" => TopicType::Update,
        _ => return None,
    };
    let valid = if topic_type == TopicType::Describe {
        validate::validate_describe_job_id(job)
    } else {
        validate::validate_job_id(job)
    };
    valid.ok().map(|()| topic_type)
}

/// Returns the reply type of a final `accepted`/`rejected` segment.
fn reply_of(segment: &str) -> Option<ReplyType> {
    match segment {
        "accepted" => Some(ReplyType::Accepted),
        "rejected" => Some(ReplyType::Rejected),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::validate::Field;

    /// The job id cases of the table: none, a real id, the filter wildcard, `$next`.
    const JOB_CASES: [Option<&str>; 4] = [None, Some("J"), Some("+"), Some("$next")];

    /// Expected outcome per (type, job case), one entry per reply type 0..=4, transcribed from
    /// the outputs of the SDK's `getJobTopic` and its rule order. Entries are the topic after
    /// `$aws/things/T/jobs/`, or `!` plus an error code: `reply` (notification with a reply
    /// type), `nojob` (job id not allowed), `missing`, `unrec`, `badjob` (invalid job id).
    #[rustfmt::skip]
    const TABLE: [(TopicType, usize, [&str; 5]); 32] = [
        (TopicType::Unrecognized, 0, ["!unrec", "!unrec", "!unrec", "!unrec", "!unrec"]),
        (TopicType::Unrecognized, 1, ["!unrec", "!unrec", "!unrec", "!unrec", "!unrec"]),
        (TopicType::Unrecognized, 2, ["!unrec", "!unrec", "!unrec", "!unrec", "!unrec"]),
        (TopicType::Unrecognized, 3, ["!unrec", "!unrec", "!unrec", "!unrec", "!unrec"]),
        (TopicType::GetPending, 0, ["get", "get", "get/accepted", "get/rejected", "get/#"]),
        (TopicType::GetPending, 1, ["!nojob", "!nojob", "!nojob", "!nojob", "!nojob"]),
        (TopicType::GetPending, 2, ["!nojob", "!nojob", "!nojob", "!nojob", "!nojob"]),
        (TopicType::GetPending, 3, ["!nojob", "!nojob", "!nojob", "!nojob", "!nojob"]),
        (TopicType::StartNext, 0, ["start-next", "start-next", "start-next/accepted", "start-next/rejected", "start-next/#"]),
        (TopicType::StartNext, 1, ["!nojob", "!nojob", "!nojob", "!nojob", "!nojob"]),
        (TopicType::StartNext, 2, ["!nojob", "!nojob", "!nojob", "!nojob", "!nojob"]),
        (TopicType::StartNext, 3, ["!nojob", "!nojob", "!nojob", "!nojob", "!nojob"]),
        (TopicType::Describe, 0, ["!missing", "!missing", "!missing", "!missing", "!missing"]),
        (TopicType::Describe, 1, ["J/get", "J/get", "J/get/accepted", "J/get/rejected", "J/get/#"]),
        (TopicType::Describe, 2, ["+/get", "+/get", "+/get/accepted", "+/get/rejected", "+/get/#"]),
        (TopicType::Describe, 3, ["$next/get", "$next/get", "$next/get/accepted", "$next/get/rejected", "$next/get/#"]),
        (TopicType::Update, 0, ["!missing", "!missing", "!missing", "!missing", "!missing"]),
        (TopicType::Update, 1, ["J/update", "J/update", "J/update/accepted", "J/update/rejected", "J/update/#"]),
        (TopicType::Update, 2, ["+/update", "+/update", "+/update/accepted", "+/update/rejected", "+/update/#"]),
        (TopicType::Update, 3, ["!badjob", "!badjob", "!badjob", "!badjob", "!badjob"]),
        (TopicType::Notify, 0, ["!reply", "notify", "!reply", "!reply", "!reply"]),
        (TopicType::Notify, 1, ["!reply", "!nojob", "!reply", "!reply", "!reply"]),
        (TopicType::Notify, 2, ["!reply", "!nojob", "!reply", "!reply", "!reply"]),
        (TopicType::Notify, 3, ["!reply", "!nojob", "!reply", "!reply", "!reply"]),
        (TopicType::NotifyNext, 0, ["!reply", "notify-next", "!reply", "!reply", "!reply"]),
        (TopicType::NotifyNext, 1, ["!reply", "!nojob", "!reply", "!reply", "!reply"]),
        (TopicType::NotifyNext, 2, ["!reply", "!nojob", "!reply", "!reply", "!reply"]),
        (TopicType::NotifyNext, 3, ["!reply", "!nojob", "!reply", "!reply", "!reply"]),
        (TopicType::Wildcard, 0, ["#", "#", "#", "#", "#"]),
        (TopicType::Wildcard, 1, ["#", "#", "#", "#", "#"]),
        (TopicType::Wildcard, 2, ["#", "#", "#", "#", "#"]),
        (TopicType::Wildcard, 3, ["#", "#", "#", "#", "#"]),
    ];

    /// Returns the error code of the table for `err`.
    fn code(err: &TopicError) -> &'static str {
        match err {
            TopicError::InvalidThingName(_) => "!thing",
            TopicError::ReplyNotAllowed { .. } => "!reply",
            TopicError::JobIdNotAllowed { .. } => "!nojob",
            TopicError::MissingJobId { .. } => "!missing",
            TopicError::UnrecognizedType => "!unrec",
            TopicError::InvalidJobId(_) => "!badjob",
        }
    }

    #[test]
    fn every_combination_matches_the_reference_table() {
        let mut checked = 0;
        for &(topic_type, job_case, expected) in &TABLE {
            let job_id = JOB_CASES[job_case];
            for (reply_number, want) in expected.iter().enumerate() {
                let reply_type = ReplyType::try_from(reply_number as u32).unwrap();
                let got = build_topic("T", topic_type, reply_type, job_id);
                let ctx = format!("{topic_type:?} {reply_type:?} {job_id:?}");
                match (want.strip_prefix('!'), got) {
                    (None, Ok(topic)) => {
                        assert_eq!(topic, format!("$aws/things/T/jobs/{want}"), "{ctx}")
                    }
                    (Some(_), Err(err)) => assert_eq!(code(&err), *want, "{ctx}: {err}"),
                    (_, got) => panic!("{ctx}: expected {want}, got {got:?}"),
                }
                checked += 1;
            }
        }
        // Every type 0..=7 × reply 0..=4 × job case is covered exactly once.
        assert_eq!(checked, 8 * 5 * 4);
        for t in TopicType::ALL {
            for j in 0..JOB_CASES.len() {
                assert_eq!(
                    TABLE.iter().filter(|r| r.0 == *t && r.1 == j).count(),
                    1,
                    "{t:?} {j}"
                );
            }
        }
    }

    #[test]
    fn errors_carry_the_offending_types() {
        assert_eq!(
            build_topic("T", TopicType::Notify, ReplyType::Unrecognized, None),
            Err(TopicError::ReplyNotAllowed {
                topic_type: TopicType::Notify,
                reply_type: ReplyType::Unrecognized
            })
        );
        assert_eq!(
            build_topic("T", TopicType::StartNext, ReplyType::Request, Some("J")),
            Err(TopicError::JobIdNotAllowed {
                topic_type: TopicType::StartNext
            })
        );
        assert_eq!(
            build_topic("T", TopicType::Update, ReplyType::Accepted, None),
            Err(TopicError::MissingJobId {
                topic_type: TopicType::Update
            })
        );
        assert_eq!(
            build_topic("T", TopicType::Update, ReplyType::Request, Some("$next")),
            Err(TopicError::InvalidJobId(
                ValidationError::NextJobIdNotAllowed
            ))
        );
    }

    #[test]
    fn error_messages_are_precise() {
        let msg = |t, r, j| build_topic("T", t, r, j).unwrap_err().to_string();
        assert_eq!(
            msg(TopicType::NotifyNext, ReplyType::Accepted, None),
            "topic type NOTIFY_NEXT (6) is a notification and takes only reply type REQUEST (1), \
             not ACCEPTED (2)"
        );
        assert_eq!(
            msg(TopicType::GetPending, ReplyType::Request, Some("J")),
            "topic type GET_PENDING (1) takes no job id: pass none"
        );
        assert_eq!(
            msg(TopicType::Describe, ReplyType::Request, None),
            "topic type DESCRIBE (3) needs a job id (or \"+\" in a subscription filter, or \"$next\")"
        );
        assert_eq!(
            msg(TopicType::Update, ReplyType::Request, None),
            "topic type UPDATE (4) needs a job id (or \"+\" in a subscription filter)"
        );
        assert_eq!(
            msg(TopicType::Unrecognized, ReplyType::Request, None),
            "topic type UNRECOGNIZED (0) names no jobs topic"
        );
        assert!(msg(TopicType::Update, ReplyType::Request, Some("a b")).starts_with("job id has"));
        let bad_thing = build_topic("a/b", TopicType::GetPending, ReplyType::Request, None);
        assert!(bad_thing
            .unwrap_err()
            .to_string()
            .starts_with("thing name has the character '/'"));
    }

    #[test]
    fn thing_name_is_checked_first() {
        for t in TopicType::ALL {
            for r in ReplyType::ALL {
                for j in JOB_CASES {
                    for thing in ["", "a b", "+", "#", "a/b"] {
                        let got = build_topic(thing, *t, *r, j);
                        assert!(
                            matches!(got, Err(TopicError::InvalidThingName(_))),
                            "{thing:?} {t:?} {r:?} {j:?}: {got:?}"
                        );
                    }
                }
            }
        }
        let long = "t".repeat(129);
        assert_eq!(
            build_topic(&long, TopicType::Wildcard, ReplyType::Request, None),
            Err(TopicError::InvalidThingName(ValidationError::TooLong {
                field: Field::ThingName,
                len: 129,
                max: 128
            }))
        );
    }

    #[test]
    fn job_ids_are_validated_for_describe_and_update() {
        for t in [TopicType::Describe, TopicType::Update] {
            for bad in ["", "a/b", "a+", "#", "j b", "a:b", &"j".repeat(65)] {
                let got = build_topic("T", t, ReplyType::Request, Some(bad));
                assert!(
                    matches!(got, Err(TopicError::InvalidJobId(_))),
                    "{t:?} {bad:?}: {got:?}"
                );
            }
            let longest = "j".repeat(64);
            assert!(build_topic("T", t, ReplyType::Request, Some(&longest)).is_ok());
        }
        // The wildcard type ignores the job id entirely, as the SDK does.
        assert_eq!(
            build_topic(
                "T",
                TopicType::Wildcard,
                ReplyType::Accepted,
                Some("not valid/")
            ),
            Ok("$aws/things/T/jobs/#".to_string())
        );
    }

    #[test]
    fn longest_topic_fits_aws_limit() {
        let thing = "t".repeat(128);
        let job = "j".repeat(64);
        let topic =
            build_topic(&thing, TopicType::Update, ReplyType::Rejected, Some(&job)).unwrap();
        assert_eq!(topic.len(), 226);
    }

    #[test]
    fn filter_detection() {
        assert!(is_filter("$aws/things/T/jobs/#"));
        assert!(is_filter("$aws/things/T/jobs/+/update"));
        assert!(is_filter("$aws/things/T/jobs/get/#"));
        assert!(!is_filter("$aws/things/T/jobs/get"));
        assert!(!is_filter("$aws/things/T/jobs/$next/get"));
    }

    #[test]
    fn every_concrete_topic_round_trips() {
        let mut round_trips = 0;
        for thing in ["T", "my:thing_1-x", &"t".repeat(128)] {
            for t in TopicType::ALL {
                for r in ReplyType::ALL {
                    for j in JOB_CASES {
                        let Ok(topic) = build_topic(thing, *t, *r, j) else {
                            continue;
                        };
                        if is_filter(&topic) {
                            assert_eq!(parse_topic(&topic), None, "{topic}");
                            continue;
                        }
                        let want_reply = if *r == ReplyType::Unrecognized {
                            ReplyType::Request
                        } else {
                            *r
                        };
                        let want = ParsedTopic {
                            thing: thing.to_string(),
                            topic_type: *t,
                            reply_type: want_reply,
                            job_id: j.map(str::to_string),
                        };
                        assert_eq!(parse_topic(&topic), Some(want), "{topic}");
                        round_trips += 1;
                    }
                }
            }
        }
        // Per thing: GetPending 4, StartNext 4, Describe 2 ids × 4, Update 4, Notify 1,
        // NotifyNext 1 (UNRECOGNIZED reply counts as REQUEST).
        assert_eq!(round_trips, 3 * (4 + 4 + 8 + 4 + 1 + 1));
    }

    fn parsed(topic_type: TopicType, reply_type: ReplyType, job_id: Option<&str>) -> ParsedTopic {
        ParsedTopic {
            thing: "T".into(),
            topic_type,
            reply_type,
            job_id: job_id.map(str::to_string),
        }
    }

    #[test]
    fn job_ids_that_look_like_operations_resolve_like_aws() {
        let cases = [
            (
                "get",
                parsed(TopicType::GetPending, ReplyType::Request, None),
            ),
            (
                "get/accepted",
                parsed(TopicType::GetPending, ReplyType::Accepted, None),
            ),
            (
                "get/get",
                parsed(TopicType::Describe, ReplyType::Request, Some("get")),
            ),
            (
                "get/get/rejected",
                parsed(TopicType::Describe, ReplyType::Rejected, Some("get")),
            ),
            (
                "get/update",
                parsed(TopicType::Update, ReplyType::Request, Some("get")),
            ),
            (
                "start-next/get",
                parsed(TopicType::Describe, ReplyType::Request, Some("start-next")),
            ),
            (
                "start-next/get/accepted",
                parsed(TopicType::Describe, ReplyType::Accepted, Some("start-next")),
            ),
            (
                "notify/update/accepted",
                parsed(TopicType::Update, ReplyType::Accepted, Some("notify")),
            ),
            (
                "notify-next/get",
                parsed(TopicType::Describe, ReplyType::Request, Some("notify-next")),
            ),
            (
                "accepted/get",
                parsed(TopicType::Describe, ReplyType::Request, Some("accepted")),
            ),
            (
                "update/update",
                parsed(TopicType::Update, ReplyType::Request, Some("update")),
            ),
            (
                "$next/get/accepted",
                parsed(TopicType::Describe, ReplyType::Accepted, Some("$next")),
            ),
            (
                "notify",
                parsed(TopicType::Notify, ReplyType::Request, None),
            ),
            (
                "notify-next",
                parsed(TopicType::NotifyNext, ReplyType::Request, None),
            ),
        ];
        for (rest, want) in cases {
            let topic = format!("$aws/things/T/jobs/{rest}");
            assert_eq!(parse_topic(&topic), Some(want), "{topic}");
        }
    }

    #[test]
    fn non_jobs_topics_are_not_parsed() {
        let bad = [
            "",
            "$aws/things/T/jobs",
            "$aws/things/T/jobs/",
            "$aws/things/T/jobs/update",
            "$aws/things/T/jobs/notify/accepted",
            "$aws/things/T/jobs/notify-next/rejected",
            "$aws/things/T/jobs/get/",
            "$aws/things/T/jobs/get/#",
            "$aws/things/T/jobs/#",
            "$aws/things/T/jobs/+/get",
            "$aws/things/T/jobs/J/get/foo",
            "$aws/things/T/jobs/J/get/accepted/x",
            "$aws/things/T/jobs/J/describe",
            "$aws/things/T/jobs/$next/update",
            "$aws/things/T/jobs/$next/update/accepted",
            "$aws/things/T/jobs/a.b/get",
            "$aws/things/T/jobs//get",
            "$aws/things//jobs/get",
            "$aws/things/a b/jobs/get",
            "$aws/things/+/jobs/get",
            "$aws/things/T/shadow/get",
            "$aws/things/T/jobsx/get",
            "aws/things/T/jobs/get",
            "$aws/things/T",
            "$aws/events/job/J/completed",
        ];
        for topic in bad {
            assert_eq!(parse_topic(topic), None, "{topic}");
        }
        let long_job = format!("$aws/things/T/jobs/{}/get", "j".repeat(65));
        assert_eq!(parse_topic(&long_job), None);
    }
}
