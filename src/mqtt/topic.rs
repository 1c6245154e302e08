//! MQTT topic names and filters: validation and matching (pure logic).

/// AWS IoT's limits (docs/jobs-protocol.md, 'Topic names and filters'): 256 bytes and at most 7
/// slashes. The slash rule applies to topics the device publishes or subscribes to; AWS's own
/// reserved topics are built to fit it.
pub const MAX_TOPIC_BYTES: usize = 256;
pub const MAX_TOPIC_SLASHES: usize = 7;

/// Why a topic or filter was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicError(pub String);

impl std::fmt::Display for TopicError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn check_common(kind: &str, s: &str) -> Result<(), TopicError> {
    if s.is_empty() {
        return Err(TopicError(format!("{kind} must not be empty")));
    }
    if s.len() > MAX_TOPIC_BYTES {
        return Err(TopicError(format!(
            "{kind} is {} bytes; AWS IoT allows at most {MAX_TOPIC_BYTES}",
            s.len()
        )));
    }
    if s.contains('\0') {
        return Err(TopicError(format!("{kind} must not contain NUL")));
    }
    let slashes = s.bytes().filter(|b| *b == b'/').count();
    if slashes > MAX_TOPIC_SLASHES {
        return Err(TopicError(format!(
            "{kind} '{s}' has {slashes} '/'; AWS IoT allows at most {MAX_TOPIC_SLASHES}"
        )));
    }
    Ok(())
}

/// A topic name one may publish to: no wildcards.
pub fn validate_topic(topic: &str) -> Result<(), TopicError> {
    check_common("topic", topic)?;
    if topic.contains(['+', '#']) {
        return Err(TopicError(format!(
            "topic '{topic}' contains a wildcard; publish topics cannot"
        )));
    }
    Ok(())
}

/// A subscription filter: `+` must fill a whole level, `#` must be the whole last level.
pub fn validate_filter(filter: &str) -> Result<(), TopicError> {
    check_common("topic filter", filter)?;
    let levels: Vec<&str> = filter.split('/').collect();
    for (i, level) in levels.iter().enumerate() {
        let bad_plus = level.contains('+') && *level != "+";
        let bad_hash = level.contains('#') && (*level != "#" || i + 1 != levels.len());
        if bad_plus || bad_hash {
            return Err(TopicError(format!(
                "topic filter '{filter}': wildcards must fill a whole level, and '#' must be last"
            )));
        }
    }
    Ok(())
}

/// Whether `topic` matches `filter` (MQTT 3.1.1 section 4.7; a leading wildcard does not match a
/// topic starting with `$`).
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
    fn topics_refuse_wildcards_and_limits() {
        assert!(validate_topic("$aws/things/t/jobs/get").is_ok());
        assert!(validate_topic("").is_err());
        assert!(validate_topic("a/+/b").is_err());
        assert!(validate_topic("a/#").is_err());
        assert!(validate_topic(&"x".repeat(257)).is_err());
        assert!(validate_topic("a/b/c/d/e/f/g/h").is_ok());
        assert!(validate_topic("a/b/c/d/e/f/g/h/i").is_err());
        assert!(validate_topic("a\0b").is_err());
    }

    #[test]
    fn filters_need_whole_level_wildcards() {
        for ok in [
            "#",
            "+",
            "a/+/b",
            "a/#",
            "$aws/things/t/jobs/+/update/accepted",
        ] {
            assert!(validate_filter(ok).is_ok(), "{ok}");
        }
        for bad in ["a/b#", "a/#/b", "a+/b", "", "a/++"] {
            assert!(validate_filter(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn matching_follows_mqtt_rules() {
        let cases = [
            ("a/b", "a/b", true),
            ("a/+", "a/b", true),
            ("a/+", "a/b/c", false),
            ("a/#", "a/b/c", true),
            ("a/#", "a", true),
            ("sensor/#", "sensor/", true),
            ("+/b", "a/b", true),
            ("#", "$aws/things/t/jobs/notify", false),
            ("+/things/t/jobs/notify", "$aws/things/t/jobs/notify", false),
            (
                "$aws/things/+/jobs/#",
                "$aws/things/t/jobs/j/update/accepted",
                true,
            ),
            (
                "$aws/things/t/jobs/+/update/accepted",
                "$aws/things/t/jobs/j/update/accepted",
                true,
            ),
            (
                "$aws/things/t/jobs/+/update/accepted",
                "$aws/things/t/jobs/j/get/accepted",
                false,
            ),
            ("a/b", "a/b/c", false),
        ];
        for (f, t, want) in cases {
            assert_eq!(matches(f, t), want, "{f} vs {t}");
        }
    }
}
