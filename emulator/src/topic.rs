//! Topic names, topic filters and matching, with the AWS IoT Core limits
//! (docs/jobs-protocol.md, 'Topic names and filters').
//!
//! Pure functions, no I/O.

/// AWS IoT Core: a topic or filter is at most 256 bytes of UTF-8.
pub const MAX_TOPIC_BYTES: usize = 256;
/// AWS IoT Core: at most 7 forward slashes in a topic or filter.
pub const MAX_TOPIC_SLASHES: usize = 7;

/// Why a topic name or filter is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicError {
    Empty,
    TooLong(usize),
    TooDeep(usize),
    Wildcard,
    BadFilter,
    NulChar,
}

impl std::fmt::Display for TopicError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TopicError::Empty => write!(f, "empty topic"),
            TopicError::TooLong(n) => write!(f, "topic is {n} bytes, limit {MAX_TOPIC_BYTES}"),
            TopicError::TooDeep(n) => write!(f, "topic has {n} slashes, limit {MAX_TOPIC_SLASHES}"),
            TopicError::Wildcard => write!(f, "publish topic contains a wildcard"),
            TopicError::BadFilter => write!(f, "malformed topic filter"),
            TopicError::NulChar => write!(f, "topic contains U+0000"),
        }
    }
}

fn check_limits(t: &str) -> Result<(), TopicError> {
    if t.is_empty() {
        return Err(TopicError::Empty);
    }
    if t.contains('\0') {
        return Err(TopicError::NulChar);
    }
    if t.len() > MAX_TOPIC_BYTES {
        return Err(TopicError::TooLong(t.len()));
    }
    let slashes = t.bytes().filter(|b| *b == b'/').count();
    if slashes > MAX_TOPIC_SLASHES {
        return Err(TopicError::TooDeep(slashes));
    }
    Ok(())
}

/// Validates a topic name used in a PUBLISH.
pub fn validate_topic(t: &str) -> Result<(), TopicError> {
    check_limits(t)?;
    if t.contains(['+', '#']) {
        return Err(TopicError::Wildcard);
    }
    Ok(())
}

/// Validates a topic filter used in a SUBSCRIBE or UNSUBSCRIBE.
pub fn validate_filter(f: &str) -> Result<(), TopicError> {
    check_limits(f)?;
    let levels: Vec<&str> = f.split('/').collect();
    for (i, level) in levels.iter().enumerate() {
        if level.contains('#') && (*level != "#" || i != levels.len() - 1) {
            return Err(TopicError::BadFilter);
        }
        if level.contains('+') && *level != "+" {
            return Err(TopicError::BadFilter);
        }
    }
    Ok(())
}

/// True when `topic` (a valid topic name) matches `filter` (a valid filter), MQTT 3.1.1
/// section 4.7.
/// Topics starting with `$` are not matched by a filter whose first level is a wildcard.
pub fn matches(filter: &str, topic: &str) -> bool {
    if topic.starts_with('$') && (filter.starts_with('+') || filter.starts_with('#')) {
        return false;
    }
    let mut f = filter.split('/');
    let mut t = topic.split('/');
    loop {
        match (f.next(), t.next()) {
            (Some("#"), _) => return true,
            (Some("+"), Some(_)) => {}
            (Some(fl), Some(tl)) if fl == tl => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching_table() {
        let cases: &[(&str, &str, bool)] = &[
            ("a/b", "a/b", true),
            ("a/b", "a/c", false),
            ("a/+", "a/b", true),
            ("a/+", "a/b/c", false),
            ("a/+/c", "a/b/c", true),
            ("a/#", "a/b/c", true),
            ("a/#", "a", true), // MQTT 3.1.1: parent level matches
            ("a/#", "a/", true),
            ("#", "a/b", true),
            ("#", "$aws/things/t/jobs/notify", false),
            ("+/things/t/jobs/notify", "$aws/things/t/jobs/notify", false),
            ("$aws/things/+/jobs/#", "$aws/things/t/jobs/notify", true),
            (
                "$aws/things/t/jobs/+/update/accepted",
                "$aws/things/t/jobs/j1/update/accepted",
                true,
            ),
            ("+", "", true),
            ("+/+", "/x", true),
            ("a/b/c", "a/b", false),
            ("a/b", "a/b/c", false),
        ];
        for (f, t, want) in cases {
            assert_eq!(matches(f, t), *want, "filter {f} topic {t}");
        }
    }

    #[test]
    fn validation() {
        assert!(validate_topic("a/b").is_ok());
        assert_eq!(validate_topic(""), Err(TopicError::Empty));
        assert_eq!(validate_topic("a/+"), Err(TopicError::Wildcard));
        assert_eq!(validate_topic("a/#"), Err(TopicError::Wildcard));
        assert_eq!(validate_topic("1/2/3/4/5/6/7/8"), Ok(()));
        assert_eq!(
            validate_topic("1/2/3/4/5/6/7/8/9"),
            Err(TopicError::TooDeep(8))
        );
        assert_eq!(
            validate_topic(&"x".repeat(257)),
            Err(TopicError::TooLong(257))
        );
        assert!(validate_topic(&"x".repeat(256)).is_ok());
        assert!(validate_filter("a/#").is_ok());
        assert!(validate_filter("#").is_ok());
        assert!(validate_filter("+/a/+").is_ok());
        assert_eq!(validate_filter("a/#/b"), Err(TopicError::BadFilter));
        assert_eq!(validate_filter("a#"), Err(TopicError::BadFilter));
        assert_eq!(validate_filter("a/b+"), Err(TopicError::BadFilter));
        assert_eq!(
            validate_filter("1/2/3/4/5/6/7/8/#"),
            Err(TopicError::TooDeep(8))
        );
    }
}
