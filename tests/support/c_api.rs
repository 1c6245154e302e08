//! Calling the `extern "C"` functions from Rust: C strings, the last-error message, and a
//! result check that shows it.

use iotjobs::error::jobs_result;
use std::ffi::CString;

/// `s` as a C string (test strings never contain NUL).
pub fn cstr(s: &str) -> CString {
    CString::new(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
}

/// This thread's last-error message.
pub fn last_error() -> String {
    let mut buf = vec![0u8; 1024];
    // SAFETY: buf is writable for its length.
    let n = unsafe { iotjobs::ffi::jobs_last_error_message(buf.as_mut_ptr().cast(), buf.len()) };
    buf.truncate(n.min(buf.len()));
    String::from_utf8_lossy(&buf)
        .trim_end_matches('\0')
        .to_owned()
}

/// Panics with the last-error message unless `r` is OK.
pub fn ok(r: jobs_result, what: &str) {
    assert_eq!(r, jobs_result::Ok, "{what}: {}", last_error());
}
