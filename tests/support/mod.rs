//! Shared integration-test harness: generated certificates and a private mosquitto per test.
//!
//! Each `tests/*.rs` binary includes this with `mod support;` and uses a subset of it, hence
//! the `dead_code` allowance.
#![allow(dead_code)]

pub mod certs;
pub mod mosquitto;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

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
