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

/// A new `jobs_config` for plain TCP to `127.0.0.1:port` with `client_id`; the caller frees it.
///
/// # Safety
/// Calls the C API; the returned pointer is a live config.
pub unsafe fn tcp_config(port: u16, client_id: &str) -> *mut iotjobs::ffi::config::jobs_config {
    use iotjobs::ffi::config::*;
    let mut cfg = std::ptr::null_mut();
    ok(jobs_config_new(&mut cfg), "jobs_config_new");
    let host = cstr("127.0.0.1");
    ok(
        jobs_config_set_endpoint(cfg, host.as_ptr(), port),
        "endpoint",
    );
    ok(
        jobs_config_set_transport(cfg, jobs_transport::Tcp as u32),
        "transport",
    );
    let id = cstr(client_id);
    ok(jobs_config_set_client_id(cfg, id.as_ptr()), "client id");
    cfg
}

/// Waits up to `limit` for `cond`, panicking with `what` if it never holds.
pub fn wait_for(what: &str, limit: std::time::Duration, cond: impl FnMut() -> bool) {
    assert!(
        super::wait_until(limit, cond),
        "timed out waiting for {what}"
    );
}

/// Connects `conn`, publishes one QoS 1 message on `topic` if that worked (so the link is known
/// to carry traffic), then frees `conn`: the connect result and its message.
///
/// # Safety
/// `conn` is a live connection, not used again.
pub unsafe fn connect_publish_free(
    conn: *mut iotjobs::ffi::connection::jobs_connection,
    topic: &str,
) -> (jobs_result, String) {
    use iotjobs::ffi::connection::*;
    let rc = jobs_connection_connect(conn);
    let msg = last_error();
    if rc == jobs_result::Ok {
        let topic = cstr(topic);
        ok(
            jobs_connection_publish(
                conn,
                topic.as_ptr(),
                b"x".as_ptr(),
                1,
                1,
                false,
                std::ptr::null_mut(),
            ),
            "publish",
        );
    }
    jobs_connection_free(conn);
    (rc, msg)
}
