//! Job documents read by path, `jobs::document`.
//!
//! Invariants, for an arbitrary document text and path:
//! - `parse_path` and `Document::parse` never panic, and the document text is bounded by its
//!   size limit (a larger one is refused);
//! - every typed getter returns a value, `NotFound`, `WrongType` or `Invalid`, never panics, and
//!   agrees with `get`: a typed getter succeeds only where `get` finds a value of that type, and
//!   `Invalid` exactly when the path does not parse;
//! - a path built from the steps of `parse_path` (re-quoted) parses back to the same steps,
//!   unless quoting made it longer than the path limit.

#![no_main]

use arbitrary::Arbitrary;
use iotjobs::jobs::document::{parse_path, Document, PathError, Step, MAX_PATH_BYTES};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    document: String,
    path: String,
}

fn rebuild(steps: &[Step]) -> String {
    let mut out = String::new();
    for step in steps {
        match step {
            Step::Member(name) => {
                out.push('[');
                out.push_str(&serde_json::to_string(name).expect("a string serializes"));
                out.push(']');
            }
            Step::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

fuzz_target!(|input: Input| {
    let steps = parse_path(&input.path);
    if let Ok(steps) = &steps {
        let rebuilt = rebuild(steps);
        // Quoting lengthens a path; past the limit it is refused as too long, which is right.
        if rebuilt.len() <= MAX_PATH_BYTES {
            assert_eq!(parse_path(&rebuilt).as_ref(), Ok(steps), "re-quoted path");
        }
    }
    let Ok(doc) = Document::parse(&input.document) else {
        return;
    };
    let found = doc.get(&input.path);
    assert_eq!(
        matches!(found, Err(PathError::Invalid(_))),
        steps.is_err(),
        "Invalid exactly for a malformed path"
    );
    let check = |ok: bool, what: &str| {
        if ok {
            assert!(found.is_ok(), "{what} succeeded where get found nothing");
        }
    };
    check(doc.string(&input.path).is_ok(), "string");
    check(doc.integer(&input.path).is_ok(), "integer");
    check(doc.number(&input.path).is_ok(), "number");
    check(doc.boolean(&input.path).is_ok(), "boolean");
    check(doc.array_len(&input.path).is_ok(), "array_len");
    check(doc.members(&input.path).is_ok(), "members");
    if let Ok(v) = &found {
        assert_eq!(doc.string(&input.path).is_ok(), v.is_string());
        assert_eq!(doc.boolean(&input.path).is_ok(), v.is_boolean());
        assert_eq!(doc.array_len(&input.path).is_ok(), v.is_array());
        assert_eq!(doc.members(&input.path).is_ok(), v.is_object());
    }
});
