//! Building C programs against the library this `cargo test` built: shared by the C test
//! suites (`c_tests.rs`, `jobs_e2e.rs`). Included by path, so it needs nothing else from
//! `support`. Each including test uses only some of these helpers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The strict flags every C source of the project compiles with.
pub const STRICT: &[&str] = &[
    "-Wall",
    "-Wextra",
    "-Wpedantic",
    "-Werror",
    "-pthread",
    "-g",
];

pub fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `target/<profile>`: the test binary lives in its `deps/`.
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("path of the test binary");
    exe.parent()
        .and_then(Path::parent)
        .expect("the test binary lives in target/<profile>/deps")
        .to_path_buf()
}

/// The static library cargo built for this test run (left, unhashed, in `deps/` or uplifted).
pub fn static_lib() -> Result<PathBuf, String> {
    let candidates = [
        profile_dir().join("deps").join("libiotjobs.a"),
        profile_dir().join("libiotjobs.a"),
    ];
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .ok_or_else(|| {
            format!("no libiotjobs.a in {candidates:?}: the crate-type must include staticlib")
        })
}

/// The system libraries a static link needs, as `-l` flags, from the single documented list
/// `cmake/static-libs.txt`.
pub fn static_link_libs() -> Result<Vec<String>, String> {
    let path = manifest_dir().join("cmake/static-libs.txt");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let libs: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| format!("-l{l}"))
        .collect();
    if libs.is_empty() {
        return Err(format!("{} lists no library", path.display()));
    }
    Ok(libs)
}

/// The `*.c` files of a directory under the repository, sorted.
pub fn c_files(dir: &str) -> Vec<PathBuf> {
    let dir = manifest_dir().join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "c"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no C sources in {}", dir.display());
    files
}

/// Whether a C++ compiler is there. The README promises `cargo test` on a machine with Rust and
/// a C compiler only, so without one the C++ passes are left out with a loud note; in CI (`CI`
/// set) a missing C++ compiler fails instead.
pub fn cxx_compiler_present() -> bool {
    let cxx = std::env::var("CXX").unwrap_or_else(|_| "c++".into());
    let found = Command::new(&cxx)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "no C++ compiler ({cxx}): CI must compile the C sources as C++ too"
        );
        eprintln!("NOTE: no C++ compiler ({cxx}); the C sources were compiled as C99 only");
    }
    found
}
