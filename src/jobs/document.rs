//! Job documents read by path, so C code needs no JSON parser (pure logic).
//!
//! A path names a value inside a JSON document: member names separated by dots, array indexes
//! in brackets, and member names that contain `.`, `[` or `]` as a quoted JSON string in
//! brackets: `steps[2].input.handler`, `["a.b"].c`, `[0]`. The empty path names the whole
//! document. Looking a path up tells apart a malformed path, a value that is not there, and a
//! value of another type.

use serde_json::Value;
use std::fmt;

/// The largest document text accepted (AWS's job documents are at most 32 KiB).
pub const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;
/// The longest path accepted.
pub const MAX_PATH_BYTES: usize = 1024;

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Member(String),
    Index(usize),
}

/// Why a lookup failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathError {
    /// The path is malformed; the text says where.
    Invalid(String),
    /// Nothing is at the path (a member or index that does not exist, or a step into a value
    /// that is not an object or array).
    NotFound(String),
    /// Something is there, of another type.
    WrongType {
        path: String,
        expected: &'static str,
        found: &'static str,
    },
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathError::Invalid(why) => write!(f, "invalid path: {why}"),
            PathError::NotFound(path) => write!(f, "no value at '{path}'"),
            PathError::WrongType {
                path,
                expected,
                found,
            } => write!(f, "'{path}' is {found}, not {expected}"),
        }
    }
}

/// The JSON type name of `v`, for messages.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Splits `path` into steps.
pub fn parse_path(path: &str) -> Result<Vec<Step>, PathError> {
    if path.len() > MAX_PATH_BYTES {
        return Err(PathError::Invalid(format!(
            "{} bytes, over the {MAX_PATH_BYTES}-byte limit",
            path.len()
        )));
    }
    let bytes = path.as_bytes();
    let mut steps = Vec::new();
    let mut i = 0;
    let mut expect_name = true; // at the start or after a '.'
    while i < bytes.len() {
        match bytes[i] {
            b'[' => {
                let close = find_close(path, i)?;
                let inner = &path[i + 1..close];
                if inner.starts_with('"') {
                    let key: String = serde_json::from_str(inner).map_err(|_| {
                        PathError::Invalid(format!("bad quoted name {inner} at byte {i}"))
                    })?;
                    steps.push(Step::Member(key));
                } else {
                    if inner.is_empty() || !inner.bytes().all(|b| b.is_ascii_digit()) {
                        return Err(PathError::Invalid(format!(
                            "'[{inner}]' at byte {i} is neither an index nor a quoted name"
                        )));
                    }
                    let n = inner.parse::<usize>().map_err(|_| {
                        PathError::Invalid(format!("index {inner} at byte {i} is too large"))
                    })?;
                    steps.push(Step::Index(n));
                }
                i = close + 1;
                expect_name = false;
                if i < bytes.len() && bytes[i] != b'.' && bytes[i] != b'[' {
                    return Err(PathError::Invalid(format!(
                        "'.' or '[' expected at byte {i}"
                    )));
                }
            }
            b'.' => {
                if expect_name {
                    return Err(PathError::Invalid(format!("empty name at byte {i}")));
                }
                i += 1;
                expect_name = true;
                if i == bytes.len() {
                    return Err(PathError::Invalid("the path ends with '.'".into()));
                }
            }
            b']' => return Err(PathError::Invalid(format!("unmatched ']' at byte {i}"))),
            _ => {
                let start = i;
                while i < bytes.len() && !matches!(bytes[i], b'.' | b'[' | b']') {
                    i += 1;
                }
                if !expect_name {
                    return Err(PathError::Invalid(format!("'.' expected at byte {start}")));
                }
                steps.push(Step::Member(path[start..i].to_owned()));
                expect_name = false;
            }
        }
    }
    Ok(steps)
}

/// The index of the `]` closing the bracket at `open`, skipping over a quoted name.
fn find_close(path: &str, open: usize) -> Result<usize, PathError> {
    let bytes = path.as_bytes();
    let mut i = open + 1;
    if bytes.get(i) == Some(&b'"') {
        i += 1;
        while i < bytes.len() {
            match bytes[i] {
                b'\\' => i += 2,
                b'"' => {
                    return if bytes.get(i + 1) == Some(&b']') {
                        Ok(i + 1)
                    } else {
                        Err(PathError::Invalid(format!(
                            "']' expected after the quoted name at byte {}",
                            i + 1
                        )))
                    };
                }
                _ => i += 1,
            }
        }
        return Err(PathError::Invalid(format!(
            "unterminated quoted name at byte {open}"
        )));
    }
    path[open..]
        .find(']')
        .map(|off| open + off)
        .ok_or_else(|| PathError::Invalid(format!("unclosed '[' at byte {open}")))
}

/// A parsed JSON document.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    root: Value,
}

impl Document {
    /// Parses `text` (at most [`MAX_DOCUMENT_BYTES`]; nesting is bounded by the JSON parser's
    /// recursion limit, so a hostile document cannot exhaust the stack).
    pub fn parse(text: &str) -> Result<Document, String> {
        if text.len() > MAX_DOCUMENT_BYTES {
            return Err(format!(
                "the document is {} bytes, over the {MAX_DOCUMENT_BYTES}-byte limit",
                text.len()
            ));
        }
        serde_json::from_str(text)
            .map(|root| Document { root })
            .map_err(|e| format!("not JSON: {e}"))
    }

    pub fn from_value(root: Value) -> Document {
        Document { root }
    }

    /// The value at `path`.
    pub fn get(&self, path: &str) -> Result<&Value, PathError> {
        let steps = parse_path(path)?;
        let mut v = &self.root;
        for step in &steps {
            v = match (step, v) {
                (Step::Member(name), Value::Object(map)) => map.get(name),
                (Step::Index(i), Value::Array(items)) => items.get(*i),
                _ => None,
            }
            .ok_or_else(|| PathError::NotFound(path.to_owned()))?;
        }
        Ok(v)
    }

    fn typed<'a, T>(
        &'a self,
        path: &str,
        expected: &'static str,
        pick: impl FnOnce(&'a Value) -> Option<T>,
    ) -> Result<T, PathError> {
        let v = self.get(path)?;
        pick(v).ok_or_else(|| PathError::WrongType {
            path: path.to_owned(),
            expected,
            found: type_name(v),
        })
    }

    pub fn string(&self, path: &str) -> Result<&str, PathError> {
        self.typed(path, "a string", Value::as_str)
    }

    /// An integer that fits in 64 bits (a number with a fraction is the wrong type).
    pub fn integer(&self, path: &str) -> Result<i64, PathError> {
        self.typed(path, "an integer", Value::as_i64)
    }

    pub fn number(&self, path: &str) -> Result<f64, PathError> {
        self.typed(path, "a number", Value::as_f64)
    }

    pub fn boolean(&self, path: &str) -> Result<bool, PathError> {
        self.typed(path, "a boolean", Value::as_bool)
    }

    pub fn array_len(&self, path: &str) -> Result<usize, PathError> {
        self.typed(path, "an array", |v| v.as_array().map(Vec::len))
    }

    /// The member names of the object at `path`, sorted (byte order).
    pub fn members(&self, path: &str) -> Result<Vec<&str>, PathError> {
        self.typed(path, "an object", |v| {
            v.as_object()
                .map(|m| m.keys().map(String::as_str).collect())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> Document {
        Document::parse(
            r#"{"operation":"install","steps":[{"input":{"handler":"a"}},{"n":2},{"input":{"handler":"c","retries":3,"ratio":0.5,"on":true}}],"a.b":{"c":"dot"},"empty":{},"nil":null}"#,
        )
        .unwrap()
    }

    #[test]
    fn paths_split_into_steps() {
        assert_eq!(parse_path("").unwrap(), vec![]);
        assert_eq!(
            parse_path("steps[2].input.handler").unwrap(),
            vec![
                Step::Member("steps".into()),
                Step::Index(2),
                Step::Member("input".into()),
                Step::Member("handler".into())
            ]
        );
        assert_eq!(
            parse_path(r#"["a.b"].c"#).unwrap(),
            vec![Step::Member("a.b".into()), Step::Member("c".into())]
        );
        assert_eq!(
            parse_path("[0][1]").unwrap(),
            vec![Step::Index(0), Step::Index(1)]
        );
        assert_eq!(
            parse_path(r#"["with \"quote\" and ]"]"#).unwrap(),
            vec![Step::Member("with \"quote\" and ]".into())]
        );
    }

    #[test]
    fn malformed_paths_are_invalid() {
        for bad in [
            ".a",
            "a.",
            "a..b",
            "a[",
            "a[]",
            "a[x]",
            "a[-1]",
            "a]",
            "a[0]b",
            r#"a["x"#,
            r#"a["x"y]"#,
            "a[99999999999999999999999]",
        ] {
            assert!(
                matches!(parse_path(bad), Err(PathError::Invalid(_))),
                "{bad:?}: {:?}",
                parse_path(bad)
            );
        }
        assert!(matches!(
            parse_path(&"a".repeat(MAX_PATH_BYTES + 1)),
            Err(PathError::Invalid(_))
        ));
    }

    #[test]
    fn values_by_type() {
        let d = doc();
        assert_eq!(d.string("operation").unwrap(), "install");
        assert_eq!(d.string("steps[2].input.handler").unwrap(), "c");
        assert_eq!(d.integer("steps[2].input.retries").unwrap(), 3);
        assert_eq!(d.number("steps[2].input.ratio").unwrap(), 0.5);
        assert_eq!(d.number("steps[2].input.retries").unwrap(), 3.0);
        assert!(d.boolean("steps[2].input.on").unwrap());
        assert_eq!(d.array_len("steps").unwrap(), 3);
        assert_eq!(d.string(r#"["a.b"].c"#).unwrap(), "dot");
        assert_eq!(
            d.members("").unwrap(),
            ["a.b", "empty", "nil", "operation", "steps"]
        );
        assert!(d.members("empty").unwrap().is_empty());
    }

    #[test]
    fn missing_and_wrong_type_are_told_apart() {
        let d = doc();
        for missing in [
            "nope",
            "steps[3]",
            "steps[0].input.x",
            "operation.x",
            "steps.x",
        ] {
            assert_eq!(
                d.get(missing),
                Err(PathError::NotFound(missing.into())),
                "{missing}"
            );
        }
        assert_eq!(
            d.integer("steps[2].input.ratio"),
            Err(PathError::WrongType {
                path: "steps[2].input.ratio".into(),
                expected: "an integer",
                found: "a number"
            })
        );
        assert!(matches!(
            d.string("steps"),
            Err(PathError::WrongType {
                found: "an array",
                ..
            })
        ));
        assert!(matches!(
            d.boolean("nil"),
            Err(PathError::WrongType { found: "null", .. })
        ));
        assert!(matches!(
            d.array_len("empty"),
            Err(PathError::WrongType { .. })
        ));
    }

    #[test]
    fn hostile_documents_are_refused_cleanly() {
        assert!(Document::parse("not json").is_err());
        assert!(
            Document::parse(&"[".repeat(100_000)).is_err(),
            "deep nesting"
        );
        assert!(Document::parse(&format!("\"{}\"", "x".repeat(MAX_DOCUMENT_BYTES))).is_err());
        let scalar = Document::parse("42").unwrap();
        assert_eq!(scalar.integer("").unwrap(), 42);
        assert_eq!(scalar.get("a"), Err(PathError::NotFound("a".into())));
    }
}
