//! The jobs topic parser and builder, `jobs::topics`.
//!
//! Invariants:
//! - `parse_topic` on an arbitrary string: no panic; whatever it parses builds back to exactly
//!   the same topic, and its topic type is never `Unrecognized` or `Wildcard`;
//! - round trip build → parse: for every (thing, topic type, reply type, job id) that
//!   `build_topic` accepts as a concrete topic (not a filter), `parse_topic` gives back the
//!   thing, the topic type, the reply type (`Unrecognized` reads as `Request`) and the job id
//!   (kept only by the types whose topic carries one).

#![no_main]

use arbitrary::Arbitrary;
use iotjobs::jobs::topics::{build_topic, is_filter, parse_topic};
use iotjobs::jobs::types::{ReplyType, TopicType};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    raw: String,
    thing: String,
    topic_type: u8,
    reply_type: u8,
    job_id: Option<String>,
    /// Use a short id from the alphabet AWS allows (so valid inputs are common).
    tame: bool,
}

fn tame(s: &str) -> String {
    const OK: &[u8] = b"abcXYZ019_-:";
    let mut out: String = s
        .bytes()
        .take(64)
        .map(|b| OK[usize::from(b) % OK.len()] as char)
        .collect();
    if out.is_empty() {
        out.push('t');
    }
    out
}

fuzz_target!(|input: Input| {
    if let Some(p) = parse_topic(&input.raw) {
        assert!(!matches!(
            p.topic_type,
            TopicType::Unrecognized | TopicType::Wildcard
        ));
        let rebuilt = build_topic(&p.thing, p.topic_type, p.reply_type, p.job_id.as_deref())
            .unwrap_or_else(|e| panic!("{p:?} parsed from {:?} does not build: {e:?}", input.raw));
        assert_eq!(rebuilt, input.raw);
    }

    let topic_type = TopicType::ALL[usize::from(input.topic_type) % TopicType::ALL.len()];
    let reply_type = ReplyType::ALL[usize::from(input.reply_type) % ReplyType::ALL.len()];
    let (thing, job_id) = if input.tame {
        let job = input.job_id.as_deref().map(|j| match j.len() % 3 {
            0 => "$next".to_owned(),
            _ => tame(j),
        });
        (tame(&input.thing), job)
    } else {
        (input.thing, input.job_id)
    };
    let Ok(topic) = build_topic(&thing, topic_type, reply_type, job_id.as_deref()) else {
        return;
    };
    if is_filter(&topic) {
        return;
    }
    let parsed =
        parse_topic(&topic).unwrap_or_else(|| panic!("built topic {topic:?} does not parse"));
    let want_reply = match reply_type {
        ReplyType::Unrecognized => ReplyType::Request,
        r => r,
    };
    let want_job = job_id.filter(|_| topic_type.requires_job_id());
    assert_eq!(parsed.thing, thing, "{topic}");
    assert_eq!(parsed.topic_type, topic_type, "{topic}");
    assert_eq!(parsed.reply_type, want_reply, "{topic}");
    assert_eq!(parsed.job_id, want_job, "{topic}");
});
