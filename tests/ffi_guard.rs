//! Every `extern "C" fn` defined in `src/ffi/**/*.rs` runs its whole body inside the panic
//! boundary: the body is exactly one call of `guard(..)` or `guard_or(..)` (nothing before it
//! that could panic, nothing after it). Every public one has a doc comment (`///` or
//! `#[doc = ..]`), which cbindgen turns into the header's reference documentation.
//! Exported functions (`#[no_mangle]`) may live only in `src/ffi`.

use std::path::{Path, PathBuf};

#[derive(Debug)]
struct ExternFn {
    name: String,
    line: usize,
    public: bool,
    documented: bool,
    /// The body between its braces, or `None` for a declaration without body.
    body: Option<String>,
}

/// Index just past the literal or comment starting at `i`, if one starts there.
fn skip_literal(s: &[u8], i: usize) -> Option<usize> {
    let at = |k: usize| s.get(k).copied().unwrap_or(0);
    match at(i) {
        b'/' if at(i + 1) == b'/' => Some(
            s[i..]
                .iter()
                .position(|&c| c == b'\n')
                .map_or(s.len(), |p| i + p),
        ),
        b'/' if at(i + 1) == b'*' => {
            let mut depth = 0;
            let mut k = i;
            while k < s.len() {
                if at(k) == b'/' && at(k + 1) == b'*' {
                    depth += 1;
                    k += 2;
                } else if at(k) == b'*' && at(k + 1) == b'/' {
                    depth -= 1;
                    k += 2;
                    if depth == 0 {
                        return Some(k);
                    }
                } else {
                    k += 1;
                }
            }
            Some(s.len())
        }
        b'r' if (at(i + 1) == b'"' || at(i + 1) == b'#') && (i == 0 || !is_ident(at(i - 1))) => {
            let mut k = i + 1;
            let mut hashes = 0;
            while at(k) == b'#' {
                hashes += 1;
                k += 1;
            }
            if at(k) != b'"' {
                return None;
            }
            k += 1;
            while k < s.len() {
                if at(k) == b'"' && (1..=hashes).all(|h| at(k + h) == b'#') {
                    return Some(k + 1 + hashes);
                }
                k += 1;
            }
            Some(s.len())
        }
        b'"' => {
            let mut k = i + 1;
            while k < s.len() {
                match at(k) {
                    b'\\' => k += 2,
                    b'"' => return Some(k + 1),
                    _ => k += 1,
                }
            }
            Some(s.len())
        }
        // A char literal ('x', '\n', '\''), not a lifetime ('a).
        b'\'' if at(i + 1) == b'\\' => {
            let mut k = i + 2;
            while k < s.len() && at(k) != b'\'' {
                k += 1;
            }
            Some(k + 1)
        }
        b'\'' if at(i + 2) == b'\'' => Some(i + 3),
        _ => None,
    }
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'$'
}

/// Index of the bracket closing the one at `open` (`(`/`)` or `{`/`}`).
fn matching(s: &[u8], open: usize) -> Option<usize> {
    let (o, c) = match s[open] {
        b'(' => (b'(', b')'),
        b'{' => (b'{', b'}'),
        _ => return None,
    };
    let mut depth = 0usize;
    let mut i = open;
    while i < s.len() {
        if let Some(next) = skip_literal(s, i) {
            i = next;
            continue;
        }
        if s[i] == o {
            depth += 1;
        } else if s[i] == c {
            depth -= 1;
            if depth == 0 {
                return Some(i);
            }
        }
        i += 1;
    }
    None
}

fn skip_space_and_comments(s: &[u8], mut i: usize) -> usize {
    loop {
        while i < s.len() && s[i].is_ascii_whitespace() {
            i += 1;
        }
        if i + 1 < s.len() && s[i] == b'/' && (s[i + 1] == b'/' || s[i + 1] == b'*') {
            i = skip_literal(s, i).unwrap();
        } else {
            return i;
        }
    }
}

/// Whether the lines above `line_idx` (attributes and comments) hold a doc comment.
fn documented(lines: &[&str], line_idx: usize) -> bool {
    let mut k = line_idx;
    while k > 0 {
        k -= 1;
        let l = lines[k].trim();
        if l.starts_with("///") || l.starts_with("#[doc") || l.starts_with("#![doc") {
            return true;
        }
        let part_of_item_head = l.starts_with("#[")
            || l.starts_with("//")
            || l.ends_with(")]")
            || l.ends_with(']')
            || l.starts_with(')');
        if !part_of_item_head {
            return false;
        }
    }
    false
}

fn extern_fns(text: &str) -> Vec<ExternFn> {
    let s = text.as_bytes();
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i < s.len() {
        if let Some(next) = skip_literal(s, i) {
            i = next;
            continue;
        }
        if !text[i..].starts_with("extern \"C\" fn") {
            i += 1;
            continue;
        }
        let after = i + "extern \"C\" fn".len();
        let name_start = skip_space_and_comments(s, after);
        let mut name_end = name_start;
        while name_end < s.len() && is_ident(s[name_end]) {
            name_end += 1;
        }
        if name_end == name_start || name_start == after {
            // `extern "C" fn(...)`: a function-pointer type, not a definition.
            i = after;
            continue;
        }
        let name = text[name_start..name_end].to_owned();
        let line_start = text[..i].rfind('\n').map_or(0, |p| p + 1);
        let line_idx = text[..i].matches('\n').count();
        let head = &text[line_start..i];
        let public = head.split_whitespace().any(|w| w.starts_with("pub"));
        let params = text[name_end..].find('(').map(|p| name_end + p);
        let close = params.and_then(|p| matching(s, p));
        let mut body = None;
        let mut k = close.map_or(s.len(), |c| c + 1);
        while k < s.len() {
            if let Some(next) = skip_literal(s, k) {
                k = next;
                continue;
            }
            if s[k] == b';' {
                break;
            }
            if s[k] == b'{' {
                let end = matching(s, k).unwrap_or(s.len() - 1);
                body = Some(text[k + 1..end].to_owned());
                k = end;
                break;
            }
            k += 1;
        }
        found.push(ExternFn {
            name,
            line: line_idx + 1,
            public,
            documented: documented(&lines, line_idx),
            body,
        });
        i = k.max(after);
    }
    found
}

/// `Ok` if the body is exactly one `guard(..)` / `guard_or(..)` call (optionally path-qualified
/// and followed by `;`), else what is wrong.
fn check_body(body: &str) -> Result<(), String> {
    let s = body.as_bytes();
    let start = skip_space_and_comments(s, 0);
    let mut rest = &body[start..];
    for prefix in ["crate::ffi::", "super::", "self::"] {
        if let Some(r) = rest.strip_prefix(prefix) {
            rest = r;
        }
    }
    let callee_len = if rest.starts_with("guard_or") {
        "guard_or".len()
    } else if rest.starts_with("guard") {
        "guard".len()
    } else {
        let first = rest.lines().next().unwrap_or("").trim();
        return Err(format!(
            "the body starts with `{first}`, not guard( or guard_or("
        ));
    };
    let mut open = body.len() - rest.len() + callee_len;
    if body[open..].starts_with("::<") {
        // turbofish: guard_or::<T>(...)
        open = body[open..].find('(').map_or(body.len(), |p| open + p);
    }
    if s.get(open) != Some(&b'(') {
        return Err("guard is named but not called".into());
    }
    let close = matching(s, open).ok_or("unbalanced guard call")?;
    let mut tail = skip_space_and_comments(s, close + 1);
    if s.get(tail) == Some(&b';') {
        tail = skip_space_and_comments(s, tail + 1);
    }
    if tail < s.len() {
        let first = body[tail..].lines().next().unwrap_or("").trim();
        return Err(format!("code after the guard call: `{first}`"));
    }
    Ok(())
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn src_files(sub: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    rust_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join(sub), &mut files);
    files.sort();
    files
}

#[test]
fn every_extern_c_fn_is_guarded_and_documented() {
    let mut problems = Vec::new();
    let mut checked = 0;
    for file in src_files("src/ffi") {
        let text = std::fs::read_to_string(&file).unwrap();
        let rel = file
            .strip_prefix(env!("CARGO_MANIFEST_DIR"))
            .unwrap_or(&file)
            .display()
            .to_string();
        for f in extern_fns(&text) {
            let Some(body) = &f.body else { continue };
            checked += 1;
            if let Err(e) = check_body(body) {
                problems.push(format!("{rel}:{} {}: {e}", f.line, f.name));
            }
            if f.public && !f.documented {
                problems.push(format!(
                    "{rel}:{} {}: public extern \"C\" fn without a /// doc comment",
                    f.line, f.name
                ));
            }
        }
    }
    assert!(
        checked >= 20,
        "found only {checked} extern \"C\" functions in src/ffi: is the scanner broken?"
    );
    assert!(
        problems.is_empty(),
        "{} problem(s) at the C boundary:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn exported_functions_live_in_src_ffi() {
    let mut outside = Vec::new();
    for file in src_files("src") {
        if file.starts_with(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/ffi")) {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let l = line.trim();
            if l.starts_with("#[no_mangle]") || l.starts_with("#[unsafe(no_mangle)]") {
                outside.push(format!("{}:{}", file.display(), n + 1));
            }
            if !l.starts_with("//") && l.contains("extern \"C\" fn ") {
                let def = extern_fns(line).into_iter().any(|f| f.body.is_some());
                if def {
                    outside.push(format!(
                        "{}:{} defines an extern \"C\" fn",
                        file.display(),
                        n + 1
                    ));
                }
            }
        }
    }
    assert!(
        outside.is_empty(),
        "C entry points outside src/ffi escape the boundary checks:\n{}",
        outside.join("\n")
    );
}

// The scanner itself: it must accept the project's forms and catch each violation.

const GOOD: &str = r#"
/// Documented.
///
/// # Safety
/// Fine.
#[no_mangle]
pub unsafe extern "C" fn jobs_a(p: *const c_char) -> jobs_result {
    guard(|| {
        let s = "a string with ) and { inside";
        let c = ')';
        helper(s, c)
    })
}

#[doc = concat!("Generated ", "docs.")]
#[no_mangle]
pub extern "C" fn jobs_b() -> *const c_char {
    guard_or(std::ptr::null(), || VERSION.as_ptr())
}

pub type cb = Option<unsafe extern "C" fn(user_data: *mut c_void)>;
type F = unsafe extern "C" fn(*mut c_void, u32);

/// Doc.
#[no_mangle]
pub unsafe extern "C" fn jobs_c(x: u32) -> u32 {
    // comment first
    super::guard_or::<u32>(0, || x + 1)
}
"#;

#[test]
fn scanner_accepts_guarded_documented_functions() {
    let fns = extern_fns(GOOD);
    let names: Vec<_> = fns.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["jobs_a", "jobs_b", "jobs_c"]);
    for f in &fns {
        assert!(f.public && f.documented, "{f:?}");
        check_body(f.body.as_deref().unwrap()).unwrap();
    }
}

#[test]
fn scanner_catches_unguarded_partly_guarded_and_undocumented_functions() {
    let src = r#"
/// Doc.
#[no_mangle]
pub unsafe extern "C" fn before(p: *const c_char) -> jobs_result {
    let s = CStr::from_ptr(p).to_str().unwrap();
    guard(|| use_it(s))
}

/// Doc.
#[no_mangle]
pub extern "C" fn after() -> jobs_result {
    let r = guard(|| Ok(()));
    r
}

#[no_mangle]
pub extern "C" fn undocumented() -> u32 {
    guard_or(0, || 1)
}

/// Doc.
#[no_mangle]
pub extern "C" fn guardian() -> u32 {
    guardian_helper()
}
"#;
    let fns = extern_fns(src);
    assert_eq!(fns.len(), 4);
    assert!(check_body(fns[0].body.as_deref().unwrap()).is_err());
    assert!(check_body(fns[1].body.as_deref().unwrap()).is_err());
    assert!(check_body(fns[2].body.as_deref().unwrap()).is_ok());
    assert!(!fns[2].documented);
    assert!(fns[0].documented && fns[1].documented);
    assert!(check_body(fns[3].body.as_deref().unwrap()).is_err());
}
