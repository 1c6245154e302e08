//! CA, certificate and key files are read safely, through the real C functions: a FIFO or a
//! device is refused at once (no blocking open, no endless read), a directory and a file over
//! the 1 MiB cap are refused, each with `JOBS_RESULT_TLS_CONFIG` and a message naming the file.
//! Every call runs on its own thread and the test waits for it at most 20 s, so a regression
//! shows as a failure ("did not return"), never as a hung test run.

mod support;

use iotjobs::error::jobs_result;
use iotjobs::ffi::config::*;
use iotjobs::ffi::connection::*;
use iotjobs::ffi::jobs_last_error_message;
use std::ffi::{c_char, CString};
use std::path::{Path, PathBuf};
use std::ptr;
use std::sync::mpsc;
use std::time::Duration;
use support::certs::certs;

/// Far beyond any real file read; only a blocked or endless read gets near it.
const HANG_LIMIT: Duration = Duration::from_secs(20);

#[derive(Clone, Copy)]
enum Slot {
    Ca,
    Cert,
    Key,
}

fn last_error() -> String {
    let mut buf = vec![0 as c_char; 1024];
    let n = unsafe { jobs_last_error_message(buf.as_mut_ptr(), buf.len()) };
    let bytes: Vec<u8> = buf[..n.min(1023)].iter().map(|&c| c as u8).collect();
    String::from_utf8(bytes).unwrap()
}

/// Builds a TLS config whose `slot` file is `path` (the others valid), calls
/// `jobs_connection_new` on a thread, and returns its result and last-error message, or
/// panics when it does not return within [`HANG_LIMIT`].
fn connection_new_with(slot: Slot, path: &Path) -> (jobs_result, String) {
    let c = certs();
    let mut files = [
        c.ca.clone(),
        c.client_ec_cert.clone(),
        c.client_ec_pkcs8_key.clone(),
    ];
    files[slot as usize] = path.to_path_buf();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || unsafe {
        let path = |p: &PathBuf| CString::new(p.to_str().unwrap()).unwrap();
        let (ca, cert, key) = (path(&files[0]), path(&files[1]), path(&files[2]));
        let mut cfg = ptr::null_mut();
        assert_eq!(jobs_config_new(&mut cfg), jobs_result::Ok);
        let host = c"127.0.0.1";
        assert_eq!(
            jobs_config_set_endpoint(cfg, host.as_ptr(), 8883),
            jobs_result::Ok
        );
        assert_eq!(jobs_config_set_ca_file(cfg, ca.as_ptr()), jobs_result::Ok);
        assert_eq!(
            jobs_config_set_cert_file(cfg, cert.as_ptr()),
            jobs_result::Ok
        );
        assert_eq!(jobs_config_set_key_file(cfg, key.as_ptr()), jobs_result::Ok);
        let mut conn = ptr::null_mut();
        let rc = jobs_connection_new(cfg, &mut conn);
        let message = last_error();
        jobs_connection_free(conn);
        jobs_config_free(cfg);
        let _ = tx.send((rc, message));
    });
    match rx.recv_timeout(HANG_LIMIT) {
        Ok(outcome) => outcome,
        Err(mpsc::RecvTimeoutError::Timeout) => panic!(
            "jobs_connection_new did not return within {HANG_LIMIT:?} for {}",
            path.display()
        ),
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("the config calls failed (see above)"),
    }
}

/// A FIFO nobody writes to, removed on drop.
struct Fifo(PathBuf);

impl Fifo {
    fn new(name: &str) -> Fifo {
        let path = support::process_dir().join(name);
        let _ = std::fs::remove_file(&path);
        let c = CString::new(path.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
        Fifo(path)
    }
}

impl Drop for Fifo {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn the_valid_files_build_a_connection() {
    // The baseline the refusals below differ from in one file only.
    let (rc, message) = connection_new_with(Slot::Ca, &certs().ca);
    assert_eq!(rc, jobs_result::Ok, "{message}");
}

#[test]
fn a_fifo_is_refused_at_once_in_every_slot() {
    for (slot, field) in [
        (Slot::Ca, "CA certificate"),
        (Slot::Cert, "client certificate"),
        (Slot::Key, "client key"),
    ] {
        let fifo = Fifo::new(&format!("fifo-{field}"));
        let (rc, message) = connection_new_with(slot, &fifo.0);
        assert_eq!(rc, jobs_result::TlsConfig, "{message}");
        assert!(
            message.contains(&format!(
                "{field}: a FIFO, not a regular file: {}",
                fifo.0.display()
            )),
            "{message}"
        );
    }
}

#[test]
fn dev_zero_is_refused_instead_of_read_forever() {
    for slot in [Slot::Ca, Slot::Key] {
        let (rc, message) = connection_new_with(slot, Path::new("/dev/zero"));
        assert_eq!(rc, jobs_result::TlsConfig, "{message}");
        assert!(
            message.contains("a character device, not a regular file: /dev/zero"),
            "{message}"
        );
    }
}

#[test]
fn a_directory_is_refused() {
    let (rc, message) = connection_new_with(Slot::Ca, support::process_dir());
    assert_eq!(rc, jobs_result::TlsConfig, "{message}");
    assert!(
        message.contains("a directory, not a regular file"),
        "{message}"
    );
}

#[test]
fn a_file_over_one_mib_is_refused_and_one_at_the_limit_is_read() {
    let ca = std::fs::read(&certs().ca).unwrap();
    let dir = support::process_dir();
    // Padding after the PEM block is ignored by the parser: only the size differs.
    let at_limit = dir.join("ca-at-limit.pem");
    let mut text = ca.clone();
    text.resize(1024 * 1024, b'\n');
    std::fs::write(&at_limit, &text).unwrap();
    let (rc, message) = connection_new_with(Slot::Ca, &at_limit);
    assert_eq!(rc, jobs_result::Ok, "{message}");

    let over = dir.join("ca-over-limit.pem");
    text.push(b'\n');
    std::fs::write(&over, &text).unwrap();
    let (rc, message) = connection_new_with(Slot::Ca, &over);
    assert_eq!(rc, jobs_result::TlsConfig, "{message}");
    assert!(
        message.contains("the file is larger than the 1048576-byte limit"),
        "{message}"
    );
    let _ = std::fs::remove_file(at_limit);
    let _ = std::fs::remove_file(over);
}
