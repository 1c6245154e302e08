//! The C ABI: thin conversion and validation over the Rust API.
//!
//! Every `extern "C"` body runs inside [`guard`] (or [`guard_or`]), which catches panics, turns
//! errors into a `jobs_result` and records the message for [`jobs_last_error_message`]. Pointers
//! are checked, strings validated as UTF-8 and enums taken as integers and range-checked here
//! ([`enum_arg`]); every other rule belongs to the layer that owns the value (`mqtt::config`,
//! `jobs::validate`), whose error is passed on unchanged.

// C names (`jobs_config`, `jobs_result`) are the public contract; Rust style yields to it here.
#![allow(non_camel_case_types)]

pub mod agent;
pub mod config;
pub mod connection;
pub mod custom_auth;
pub mod document;
pub mod jobs;
pub mod message;
pub mod names;
pub mod requests;

use crate::error::{jobs_result, Error, Result, UnknownEnumValue};
use std::cell::RefCell;
use std::ffi::{c_char, c_void, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

thread_local! {
    static LAST_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
}

fn set_last_error(msg: String) {
    LAST_ERROR.with(|e| *e.borrow_mut() = msg);
}

/// Runs an FFI body: panics become `JOBS_RESULT_PANIC`, errors set the last-error message.
pub(crate) fn guard(f: impl FnOnce() -> Result<()>) -> jobs_result {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => jobs_result::Ok,
        Ok(Err(e)) => {
            set_last_error(e.to_string());
            e.code
        }
        Err(_) => {
            set_last_error("a Rust panic was caught at the C boundary; this is a bug".into());
            jobs_result::Panic
        }
    }
}

/// Like [`guard`] for functions that return a value instead of a result code.
pub(crate) fn guard_or<T>(default: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(default)
}

/// A `void *user_data` the library carries and hands back, never dereferences.
#[derive(Clone, Copy)]
pub(crate) struct UserData(pub *mut c_void);
// SAFETY: the pointer is only passed back to the C code that gave it, which owns its meaning
// and (per the header's contract) its thread safety.
unsafe impl Send for UserData {}
unsafe impl Sync for UserData {}

impl UserData {
    /// The raw pointer; a method so closures capture the whole `Send` wrapper.
    pub(crate) fn ptr(self) -> *mut c_void {
        self.0
    }
}

/// Borrows a required C string argument.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string alive for `'a`.
pub(crate) unsafe fn str_arg<'a>(p: *const c_char, name: &str) -> Result<&'a str> {
    if p.is_null() {
        return Err(Error::new(
            jobs_result::NullArgument,
            format!("{name} is NULL"),
        ));
    }
    CStr::from_ptr(p)
        .to_str()
        .map_err(|e| Error::new(jobs_result::InvalidUtf8, format!("{name}: {e}")))
}

/// Borrows an optional C string argument (NULL → `None`).
///
/// # Safety
/// As [`str_arg`].
pub(crate) unsafe fn opt_str_arg<'a>(p: *const c_char, name: &str) -> Result<Option<&'a str>> {
    if p.is_null() {
        Ok(None)
    } else {
        str_arg(p, name).map(Some)
    }
}

/// Borrows a byte buffer; `(NULL, 0)` is the empty buffer.
///
/// # Safety
/// `p` is NULL or points to `len` readable bytes alive for `'a`.
pub(crate) unsafe fn bytes_arg<'a>(p: *const u8, len: usize, name: &str) -> Result<&'a [u8]> {
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(Error::new(
            jobs_result::NullArgument,
            format!("{name} is NULL but its length is {len}"),
        ));
    }
    if len > isize::MAX as usize {
        return Err(Error::new(
            jobs_result::InvalidArgument,
            format!("{name}: length {len} is not a valid buffer size"),
        ));
    }
    Ok(std::slice::from_raw_parts(p, len))
}

/// Reads a caller's argument struct after checking its pointer and `struct_size`.
///
/// # Safety
/// `args` NULL or pointing to at least a `usize`, and to a whole `T` when its first field says so.
pub(crate) unsafe fn args_arg<'a, T>(args: *const T, name: &str) -> Result<&'a T> {
    if args.is_null() {
        return Err(Error::new(
            jobs_result::NullArgument,
            format!("{name} is NULL"),
        ));
    }
    let size = std::ptr::read_unaligned(args as *const usize);
    if size != std::mem::size_of::<T>() {
        return Err(Error::new(
            jobs_result::InvalidStructSize,
            format!(
                "{name}->struct_size is {size}, this library's is {}: initialize it with its init function",
                std::mem::size_of::<T>()
            ),
        ));
    }
    Ok(&*args)
}

/// Writes the defaults `make` builds (given the struct's size) into an argument struct.
///
/// # Safety
/// `args` NULL or writable.
pub(crate) unsafe fn init<T>(args: *mut T, make: impl FnOnce(usize) -> T) -> Result<()> {
    if args.is_null() {
        return Err(Error::new(jobs_result::NullArgument, "args is NULL"));
    }
    std::ptr::write(args, make(std::mem::size_of::<T>()));
    Ok(())
}

/// Reads optional status details (a JSON object of strings; NULL: none).
pub(crate) fn details_arg(
    json: *const c_char,
) -> Result<Option<crate::jobs::validate::StatusDetails>> {
    // SAFETY: the header's contract: NULL or NUL-terminated.
    match unsafe { opt_str_arg(json, "status_details")? } {
        None => Ok(None),
        Some(text) => Ok(Some(crate::jobs::validate::StatusDetails::parse(text)?)),
    }
}

/// A step timeout in minutes from C, where 0 means none.
pub(crate) fn step_timeout_arg(minutes: i64) -> Option<i64> {
    (minutes != 0).then_some(minutes)
}

/// Borrows a handle.
///
/// # Safety
/// `p` is NULL or a live handle of type `T` returned by this library.
pub(crate) unsafe fn handle_arg<'a, T>(p: *const T, name: &str) -> Result<&'a T> {
    p.as_ref()
        .ok_or_else(|| Error::new(jobs_result::NullArgument, format!("{name} is NULL")))
}

/// Mutably borrows a handle.
///
/// # Safety
/// `p` is NULL or a live handle of type `T` that no other thread uses during the call.
pub(crate) unsafe fn handle_mut<'a, T>(p: *mut T, name: &str) -> Result<&'a mut T> {
    p.as_mut()
        .ok_or_else(|| Error::new(jobs_result::NullArgument, format!("{name} is NULL")))
}

/// Writes `v` through an optional out-pointer.
///
/// # Safety
/// `p` is NULL or valid for a write of `T`.
pub(crate) unsafe fn write_out<T>(p: *mut T, v: T) {
    if !p.is_null() {
        p.write(v);
    }
}

/// Copies `s` into `buf` NUL-terminated and truncated to `len`; returns `s.len()`.
///
/// # Safety
/// `buf` is NULL or valid for `len` bytes.
pub(crate) unsafe fn copy_out(s: &str, buf: *mut c_char, len: usize) -> usize {
    if !buf.is_null() && len > 0 {
        let n = s.len().min(len - 1);
        std::ptr::copy_nonoverlapping(s.as_ptr(), buf as *mut u8, n);
        *buf.add(n) = 0;
    }
    s.len()
}

/// Converts an integer from C into the enum it stands for: the one range check every C enum
/// argument goes through. Out of range is `InvalidArgument`, naming the argument and the C enum.
pub(crate) fn enum_arg<T>(v: u32, name: &str) -> Result<T>
where
    T: TryFrom<u32, Error = UnknownEnumValue>,
{
    T::try_from(v).map_err(|e| {
        Error::new(
            jobs_result::InvalidArgument,
            format!("{name}: {v} is not a {} value", e.c_name),
        )
    })
}

/// Returns a static, NUL-terminated description of a result code ("unknown result code" for
/// values this version does not define). Never NULL; the caller must not free it.
/// Thread-safe; does not block.
#[no_mangle]
pub extern "C" fn jobs_result_str(result: u32) -> *const c_char {
    guard_or(c"unknown result code".as_ptr(), || {
        result_cstr(result)
            .unwrap_or(c"unknown result code")
            .as_ptr()
    })
}

fn result_cstr(v: u32) -> Option<&'static CStr> {
    jobs_result::from_u32(v).map(jobs_result::describe_c)
}

/// Copies the message of the most recent failed call made on this thread into `buf`
/// (NUL-terminated, truncated to `len` bytes) and returns the message's full length, so a
/// caller can size a buffer with `jobs_last_error_message(NULL, 0)`. Returns 0 when no call on
/// this thread has failed. Only synchronous failures are recorded here; asynchronous outcomes
/// arrive through callbacks. `buf` may be NULL when `len` is 0. Does not block.
///
/// # Safety
/// `buf` is NULL or valid for writes of `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn jobs_last_error_message(buf: *mut c_char, len: usize) -> usize {
    guard_or(0, || LAST_ERROR.with(|e| copy_out(&e.borrow(), buf, len)))
}

/// Major version of the library this header belongs to.
pub const JOBS_VERSION_MAJOR: u32 = 0;
/// Minor version.
pub const JOBS_VERSION_MINOR: u32 = 1;
/// Patch version.
pub const JOBS_VERSION_PATCH: u32 = 0;
/// `MAJOR * 1000000 + MINOR * 1000 + PATCH`, for `#if JOBS_VERSION_NUMBER >= ...` checks.
pub const JOBS_VERSION_NUMBER: u32 =
    JOBS_VERSION_MAJOR * 1_000_000 + JOBS_VERSION_MINOR * 1_000 + JOBS_VERSION_PATCH;

/// Returns a static string naming this library's version and its key dependencies, e.g.
/// `"iotjobs/0.1.0 (rumqttc-codec/0.25, rustls/0.23-ring)"`. Never NULL; do not free.
/// Thread-safe; does not block.
#[no_mangle]
pub extern "C" fn jobs_version() -> *const c_char {
    guard_or(c"iotjobs".as_ptr(), || VERSION.as_ptr())
}

const VERSION: &CStr = match CStr::from_bytes_with_nul(
    concat!(
        "iotjobs/",
        env!("CARGO_PKG_VERSION"),
        " (rumqttc-codec/0.25, rustls/0.23-ring, tokio/1)\0"
    )
    .as_bytes(),
) {
    Ok(s) => s,
    Err(_) => c"iotjobs",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_constants_match_cargo_toml() {
        assert_eq!(
            JOBS_VERSION_MAJOR.to_string(),
            env!("CARGO_PKG_VERSION_MAJOR")
        );
        assert_eq!(
            JOBS_VERSION_MINOR.to_string(),
            env!("CARGO_PKG_VERSION_MINOR")
        );
        assert_eq!(
            JOBS_VERSION_PATCH.to_string(),
            env!("CARGO_PKG_VERSION_PATCH")
        );
        assert_eq!(JOBS_VERSION_NUMBER, 1_000);
        let v = unsafe { CStr::from_ptr(jobs_version()) }.to_str().unwrap();
        assert!(v.starts_with(&format!("iotjobs/{}", env!("CARGO_PKG_VERSION"))));
    }

    #[test]
    fn every_result_code_has_a_matching_string() {
        for v in 0..200u32 {
            let s = unsafe { CStr::from_ptr(jobs_result_str(v)) }
                .to_str()
                .unwrap();
            match result_cstr(v) {
                Some(_) => assert_ne!(s, "unknown result code"),
                None => assert_eq!(s, "unknown result code"),
            }
        }
        // The C string table and the Rust descriptions agree.
        for (code, _) in [(jobs_result::Timeout, ()), (jobs_result::Tls, ())] {
            let s = unsafe { CStr::from_ptr(jobs_result_str(code as u32)) };
            assert_eq!(s.to_str().unwrap(), code.describe());
        }
    }

    #[test]
    fn every_code_in_the_header_is_known_to_jobs_result_str() {
        let header = include_str!("../../include/iotjobs.h");
        let mut values = Vec::new();
        for line in header.lines() {
            let line = line.trim();
            if let Some(rest) = line.strip_prefix("JOBS_RESULT_") {
                if let Some((_, v)) = rest.split_once(" = ") {
                    values.push(v.trim_end_matches(',').parse::<u32>().unwrap());
                }
            }
        }
        assert_eq!(values.len(), jobs_result::ALL.len(), "ALL misses a code");
        for v in values {
            assert!(jobs_result::from_u32(v).is_some(), "code {v} not in ALL");
        }
    }

    #[test]
    fn last_error_copies_truncates_and_reports_length() {
        let rc = guard(|| Err(Error::new(jobs_result::InvalidArgument, "abcdef")));
        assert_eq!(rc, jobs_result::InvalidArgument);
        let full = unsafe { jobs_last_error_message(std::ptr::null_mut(), 0) };
        let mut buf = [0 as c_char; 5];
        let n = unsafe { jobs_last_error_message(buf.as_mut_ptr(), buf.len()) };
        assert_eq!(n, full);
        let got = unsafe { CStr::from_ptr(buf.as_ptr()) }.to_str().unwrap();
        assert_eq!(got.len(), 4);
        assert!("invalid argument: abcdef".starts_with(got));
    }

    #[test]
    fn guard_turns_panics_into_a_result() {
        let rc = guard(|| panic!("boom"));
        assert_eq!(rc, jobs_result::Panic);
    }

    #[test]
    fn argument_helpers_reject_null_and_bad_utf8() {
        unsafe {
            assert_eq!(
                str_arg(std::ptr::null(), "topic").unwrap_err().code,
                jobs_result::NullArgument
            );
            let bad = [0xffu8, 0xfe, 0];
            assert_eq!(
                str_arg(bad.as_ptr() as *const c_char, "topic")
                    .unwrap_err()
                    .code,
                jobs_result::InvalidUtf8
            );
            assert_eq!(bytes_arg(std::ptr::null(), 0, "p").unwrap(), &[] as &[u8]);
            assert_eq!(
                bytes_arg(std::ptr::null(), 3, "p").unwrap_err().code,
                jobs_result::NullArgument
            );
        }
    }
}
