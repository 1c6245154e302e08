//! `jobs_document`: a job document (or any JSON text) read by path from C.
//!
//! The path syntax and the lookups are `jobs::document`'s; this file converts the results to C
//! and keeps the NUL-terminated copies of the strings it hands out.

use super::{guard, guard_or, str_arg, write_out};
use crate::error::{jobs_result, Error, Result};
use crate::jobs::document::{Document, PathError};
use std::collections::HashMap;
use std::ffi::c_char;
use std::sync::Mutex;

/// A parsed JSON document. Made by `jobs_document_parse` (the caller owns it and frees it with
/// `jobs_document_free`) or lent by `jobs_message_document` (valid as long as its message or
/// reply; never free it). Safe to read from several threads at once.
pub struct jobs_document {
    doc: Document,
    /// NUL-terminated copies of the strings handed out, by path (member names by path and
    /// index), alive as long as the document.
    texts: Mutex<HashMap<String, Box<[u8]>>>,
}

impl jobs_document {
    pub(crate) fn new(doc: Document) -> jobs_document {
        jobs_document {
            doc,
            texts: Mutex::new(HashMap::new()),
        }
    }

    /// A stable NUL-terminated copy of `s`, keyed by `key`.
    fn text(&self, key: String, s: &str) -> (*const c_char, usize) {
        let mut texts = self.texts.lock().unwrap_or_else(|e| e.into_inner());
        let stored = texts.entry(key).or_insert_with(|| {
            let mut bytes = Vec::with_capacity(s.len() + 1);
            bytes.extend_from_slice(s.as_bytes());
            bytes.push(0);
            bytes.into_boxed_slice()
        });
        (stored.as_ptr() as *const c_char, stored.len() - 1)
    }
}

fn path_error(e: PathError) -> Error {
    let code = match e {
        PathError::Invalid(_) => jobs_result::InvalidPath,
        PathError::NotFound(_) => jobs_result::NotFound,
        PathError::WrongType { .. } => jobs_result::WrongType,
    };
    Error::new(code, e.to_string())
}

/// # Safety
/// `doc` NULL or a live document; `path` NULL or NUL-terminated.
unsafe fn args<'a>(
    doc: *const jobs_document,
    path: *const c_char,
) -> Result<(&'a jobs_document, &'a str)> {
    let doc = doc
        .as_ref()
        .ok_or_else(|| Error::new(jobs_result::NullArgument, "document is NULL"))?;
    Ok((doc, str_arg(path, "path")?))
}

/// # Safety
/// `out` NULL or writable.
unsafe fn out_arg<T>(out: *mut T) -> Result<()> {
    if out.is_null() {
        return Err(Error::new(jobs_result::NullArgument, "out is NULL"));
    }
    Ok(())
}

/// Checks the arguments, looks `path` up with `get` and writes the value to `out`.
///
/// # Safety
/// As the public getters.
unsafe fn lookup<T>(
    doc: *const jobs_document,
    path: *const c_char,
    out: *mut T,
    get: impl FnOnce(&Document, &str) -> std::result::Result<T, PathError>,
) -> Result<()> {
    let (doc, path) = args(doc, path)?;
    out_arg(out)?;
    write_out(out, get(&doc.doc, path).map_err(path_error)?);
    Ok(())
}

/// Parses `len` bytes of JSON text at `json` (UTF-8, at most 1 MiB, need not be
/// NUL-terminated) into a document the caller owns: free it with `jobs_document_free`. Returns
/// `JOBS_RESULT_OK`, `_NULL_ARGUMENT`, `_INVALID_UTF8` or `_INVALID_ARGUMENT` (not JSON, too
/// large or too deeply nested; the last-error message says where). Does not block.
///
/// # Safety
/// `json` NULL or valid for `len` bytes; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn jobs_document_parse(
    json: *const c_char,
    len: usize,
    out: *mut *mut jobs_document,
) -> jobs_result {
    guard(|| {
        out_arg(out)?;
        write_out(out, std::ptr::null_mut());
        if json.is_null() {
            return Err(Error::new(jobs_result::NullArgument, "json is NULL"));
        }
        let bytes = std::slice::from_raw_parts(json as *const u8, len);
        let text = std::str::from_utf8(bytes)
            .map_err(|e| Error::new(jobs_result::InvalidUtf8, format!("json: {e}")))?;
        let doc = Document::parse(text).map_err(|e| Error::new(jobs_result::InvalidArgument, e))?;
        write_out(out, Box::into_raw(Box::new(jobs_document::new(doc))));
        Ok(())
    })
}

/// Frees a document made by `jobs_document_parse`. NULL is a no-op; never free a document lent
/// by a message. Does not block.
///
/// # Safety
/// `doc` NULL or a document the caller owns, not used after this.
#[no_mangle]
pub unsafe extern "C" fn jobs_document_free(doc: *mut jobs_document) {
    guard_or((), || {
        if !doc.is_null() {
            drop(Box::from_raw(doc));
        }
    })
}

/// The string at `path` (see `jobs_document_get_int` for the path syntax): `*out` gets a
/// NUL-terminated copy borrowed from the document, `*len_out` (may be NULL) its length in
/// bytes (a string with an embedded NUL is whole up to `len_out`). Returns `JOBS_RESULT_OK`,
/// `_NOT_FOUND` (nothing there), `_WRONG_TYPE` (something else there), `_INVALID_PATH`,
/// `_NULL_ARGUMENT` or `_INVALID_UTF8`. Does not block.
///
/// # Safety
/// `doc` NULL or a live document; `path` NULL or NUL-terminated; `out`, `len_out` NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn jobs_document_get_string(
    doc: *const jobs_document,
    path: *const c_char,
    out: *mut *const c_char,
    len_out: *mut usize,
) -> jobs_result {
    guard(|| {
        let (doc, path) = args(doc, path)?;
        out_arg(out)?;
        let s = doc.doc.string(path).map_err(path_error)?;
        let (ptr, len) = doc.text(format!("s:{path}"), s);
        write_out(out, ptr);
        write_out(len_out, len);
        Ok(())
    })
}

/// The integer at `path` (it must fit in 64 bits; 2.5 is `_WRONG_TYPE`). A path is member
/// names separated by dots, array indexes in brackets, and names containing `.`, `[` or `]` as
/// a quoted JSON string in brackets: `steps[2].input.handler`, `["a.b"].c`; the empty path is
/// the whole document. Returns `JOBS_RESULT_OK`, `_NOT_FOUND`, `_WRONG_TYPE`, `_INVALID_PATH`,
/// `_NULL_ARGUMENT` or `_INVALID_UTF8`. Does not block.
///
/// # Safety
/// As `jobs_document_get_string`.
#[no_mangle]
pub unsafe extern "C" fn jobs_document_get_int(
    doc: *const jobs_document,
    path: *const c_char,
    out: *mut i64,
) -> jobs_result {
    guard(|| lookup(doc, path, out, |d, p| d.integer(p)))
}

/// The number at `path` (integers too). Results as `jobs_document_get_int`.
///
/// # Safety
/// As `jobs_document_get_string`.
#[no_mangle]
pub unsafe extern "C" fn jobs_document_get_number(
    doc: *const jobs_document,
    path: *const c_char,
    out: *mut f64,
) -> jobs_result {
    guard(|| lookup(doc, path, out, |d, p| d.number(p)))
}

/// The boolean at `path`. Results as `jobs_document_get_int`.
///
/// # Safety
/// As `jobs_document_get_string`.
#[no_mangle]
pub unsafe extern "C" fn jobs_document_get_bool(
    doc: *const jobs_document,
    path: *const c_char,
    out: *mut bool,
) -> jobs_result {
    guard(|| lookup(doc, path, out, |d, p| d.boolean(p)))
}

/// The length of the array at `path`. Results as `jobs_document_get_int`.
///
/// # Safety
/// As `jobs_document_get_string`.
#[no_mangle]
pub unsafe extern "C" fn jobs_document_array_length(
    doc: *const jobs_document,
    path: *const c_char,
    out: *mut usize,
) -> jobs_result {
    guard(|| lookup(doc, path, out, |d, p| d.array_len(p)))
}

/// The number of members of the object at `path`. Results as `jobs_document_get_int`.
///
/// # Safety
/// As `jobs_document_get_string`.
#[no_mangle]
pub unsafe extern "C" fn jobs_document_member_count(
    doc: *const jobs_document,
    path: *const c_char,
    out: *mut usize,
) -> jobs_result {
    guard(|| lookup(doc, path, out, |d, p| d.members(p).map(|m| m.len())))
}

/// The name of member `index` of the object at `path`, members sorted by name: `*out` gets a
/// NUL-terminated copy borrowed from the document. Results as `jobs_document_get_int`, with
/// `_NOT_FOUND` also for an index past the end.
///
/// # Safety
/// As `jobs_document_get_string`.
#[no_mangle]
pub unsafe extern "C" fn jobs_document_member_name(
    doc: *const jobs_document,
    path: *const c_char,
    index: usize,
    out: *mut *const c_char,
) -> jobs_result {
    guard(|| {
        let (doc, path) = args(doc, path)?;
        out_arg(out)?;
        let members = doc.doc.members(path).map_err(path_error)?;
        let name = members.get(index).ok_or_else(|| {
            Error::new(
                jobs_result::NotFound,
                format!("'{path}' has {} members, no member {index}", members.len()),
            )
        })?;
        let (ptr, _) = doc.text(format!("m:{index}:{path}"), name);
        write_out(out, ptr);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn parse_read_and_free_through_the_c_functions() {
        let json = r#"{"steps":[{"h":"a\u0000b"},{"n":7}],"ok":true,"r":1.5}"#;
        unsafe {
            let mut doc = std::ptr::null_mut();
            assert_eq!(
                jobs_document_parse(json.as_ptr().cast(), json.len(), &mut doc),
                jobs_result::Ok
            );
            let (mut s, mut len) = (std::ptr::null(), 0usize);
            assert_eq!(
                jobs_document_get_string(doc, c"steps[0].h".as_ptr(), &mut s, &mut len),
                jobs_result::Ok
            );
            assert_eq!(len, 3, "the embedded NUL is kept");
            assert_eq!(std::slice::from_raw_parts(s as *const u8, len), b"a\0b");
            let again = {
                let mut p = std::ptr::null();
                jobs_document_get_string(doc, c"steps[0].h".as_ptr(), &mut p, std::ptr::null_mut());
                p
            };
            assert_eq!(again, s, "the same copy is handed out again");
            let mut n = 0i64;
            assert_eq!(
                jobs_document_get_int(doc, c"steps[1].n".as_ptr(), &mut n),
                jobs_result::Ok
            );
            assert_eq!(n, 7);
            assert_eq!(
                jobs_document_get_int(doc, c"r".as_ptr(), &mut n),
                jobs_result::WrongType
            );
            assert_eq!(
                jobs_document_get_int(doc, c"zz".as_ptr(), &mut n),
                jobs_result::NotFound
            );
            assert_eq!(
                jobs_document_get_int(doc, c"a..b".as_ptr(), &mut n),
                jobs_result::InvalidPath
            );
            let mut b = false;
            assert_eq!(
                jobs_document_get_bool(doc, c"ok".as_ptr(), &mut b),
                jobs_result::Ok
            );
            assert!(b);
            let mut count = 0usize;
            assert_eq!(
                jobs_document_array_length(doc, c"steps".as_ptr(), &mut count),
                jobs_result::Ok
            );
            assert_eq!(count, 2);
            assert_eq!(
                jobs_document_member_count(doc, c"".as_ptr(), &mut count),
                jobs_result::Ok
            );
            assert_eq!(count, 3);
            let mut name = std::ptr::null();
            assert_eq!(
                jobs_document_member_name(doc, c"".as_ptr(), 0, &mut name),
                jobs_result::Ok
            );
            assert_eq!(CStr::from_ptr(name).to_str().unwrap(), "ok");
            assert_eq!(
                jobs_document_member_name(doc, c"".as_ptr(), 3, &mut name),
                jobs_result::NotFound
            );
            assert_eq!(
                jobs_document_get_int(std::ptr::null(), c"r".as_ptr(), &mut n),
                jobs_result::NullArgument
            );
            assert_eq!(
                jobs_document_get_int(doc, std::ptr::null(), &mut n),
                jobs_result::NullArgument
            );
            assert_eq!(
                jobs_document_get_int(doc, c"r".as_ptr(), std::ptr::null_mut()),
                jobs_result::NullArgument
            );
            jobs_document_free(doc);

            let mut bad = std::ptr::null_mut();
            assert_eq!(
                jobs_document_parse(c"{".as_ptr(), 1, &mut bad),
                jobs_result::InvalidArgument
            );
            assert!(bad.is_null());
            let invalid = [0xffu8, 0xfe];
            assert_eq!(
                jobs_document_parse(invalid.as_ptr().cast(), 2, &mut bad),
                jobs_result::InvalidUtf8
            );
            assert_eq!(
                jobs_document_parse(std::ptr::null(), 0, &mut bad),
                jobs_result::NullArgument
            );
            jobs_document_free(std::ptr::null_mut());
        }
    }
}
