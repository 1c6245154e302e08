//! Shared integration-test harness, included by every `tests/*.rs` that needs it with
//! `mod support;` (the one way; no `#[path]` includes, no copies). Each binary uses a subset,
//! hence the `dead_code` allowance.
//!
//! - [`cbuild`]: compiling C and C++ programs against the library this `cargo test` built.
//! - [`cprog`]: running C programs against the in-process emulator, with bounded waits.
//! - [`certs`]: test certificates generated with the `openssl` CLI, and an `openssl s_server`.
//! - [`mosquitto`]: a private mosquitto per test on free loopback ports.
//! - [`engine`]: the connection engine (`Connection`) against such a broker: configs,
//!   an inbox of received messages, a QoS 1 round trip.
//! - [`raw_mqtt`]: the transport layer (`Stream`) with hand-written MQTT packets.
//! - [`c_api`]: small helpers for calling the `extern "C"` functions from Rust.
//! - [`softhsm`]: a SoftHSM2 token per test process holding the test client keys.
#![allow(dead_code)]

pub mod c_api;
pub mod cbuild;
pub mod certs;
pub mod cprog;
pub mod engine;
pub mod mosquitto;
pub mod raw_mqtt;
pub mod softhsm;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A client id unique in this process (tests run in parallel against their own brokers, but
/// ids also show up in broker logs, where they must name one connection).
pub fn unique_id(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id() % 100_000,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Polls `cond` every 20 ms until it holds or `limit` passes; returns whether it held.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    cond()
}

/// A directory private to this test process (`$TMPDIR/iotjobs-test-<pid>`), created once.
/// Directories left by earlier test processes that no longer run are removed on first use.
pub fn process_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let tmp = std::env::temp_dir();
        remove_stale_dirs(&tmp);
        let dir = tmp.join(format!("iotjobs-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        // mosquitto drops root privileges to user `mosquitto`: it must be able to enter here.
        set_mode(&dir, 0o755);
        dir
    })
}

/// A new directory `<process_dir>/<prefix>-<random>` with `mode` (mosquitto, which drops
/// root privileges, must be able to enter it, or write to it).
pub fn scratch_dir(prefix: &str, mode: u32) -> PathBuf {
    let dir = process_dir().join(format!("{prefix}-{}", fastrand::u64(..)));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
    set_mode(&dir, mode);
    dir
}

/// Best effort: `iotjobs-test-<pid>` directories whose process is gone (Linux `/proc` check).
fn remove_stale_dirs(tmp: &Path) {
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("iotjobs-test-"))
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// chmod, panicking with the path on failure (test setup must not half-work).
pub fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {mode:o} {}: {e}", path.display()));
}
