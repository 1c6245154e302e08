//! The system libraries a static link of `libiotjobs.a` needs are documented once, in
//! `cmake/static-libs.txt`, from which CMake fills `iotjobs::iotjobs_static`'s
//! `INTERFACE_LINK_LIBRARIES` and `iotjobs.pc`'s `Libs.private`. This test asks rustc for the
//! real list (`--print native-static-libs`) and fails when the two differ, and checks that the
//! CMake files still read that one list.

mod support;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;
use support::cbuild::{documented_static_libs, manifest_dir};

/// `-lgcc_s -lutil ...` from rustc's `note: native-static-libs: ...` line.
fn from_rustc() -> Vec<String> {
    // A separate target dir: a staticlib-only build must not overwrite the artifacts of the
    // build that is running these tests.
    let target_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("static-libs");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(manifest_dir())
        .args([
            "rustc",
            "--lib",
            "--crate-type",
            "staticlib",
            "--target-dir",
        ])
        .arg(&target_dir)
        .args(["--", "--print", "native-static-libs"])
        .env_remove("IOTJOBS_UPDATE_HEADER")
        .output()
        .expect("run cargo rustc");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "cargo rustc failed:\n{stderr}");
    let line = stderr
        .lines()
        .find_map(|l| l.split("native-static-libs:").nth(1))
        .unwrap_or_else(|| panic!("no native-static-libs note in:\n{stderr}"));
    line.split_whitespace()
        .map(|flag| {
            flag.strip_prefix("-l")
                .unwrap_or_else(|| panic!("unexpected link flag {flag:?} in {line:?}"))
                .to_owned()
        })
        .collect()
}

#[test]
fn documented_static_libs_match_rustc() {
    let doc = documented_static_libs().unwrap_or_else(|e| panic!("{e}"));
    let real = from_rustc();
    let doc_set: BTreeSet<_> = doc.iter().collect();
    let real_set: BTreeSet<_> = real.iter().collect();
    assert_eq!(
        doc_set, real_set,
        "cmake/static-libs.txt ({doc:?}) differs from rustc's native-static-libs ({real:?}); \
         update the file (one library per line)"
    );
}

#[test]
fn cmake_and_pkg_config_use_the_documented_list() {
    let cmake = std::fs::read_to_string(manifest_dir().join("CMakeLists.txt")).unwrap();
    assert!(
        cmake.contains("cmake/static-libs.txt"),
        "CMakeLists.txt no longer reads cmake/static-libs.txt"
    );
    assert!(cmake.contains("IOTJOBS_STATIC_LIBS"));
    let pc = std::fs::read_to_string(manifest_dir().join("cmake/iotjobs.pc.in")).unwrap();
    let private = pc
        .lines()
        .find(|l| l.starts_with("Libs.private:"))
        .expect("iotjobs.pc.in has a Libs.private line");
    assert!(
        private.contains("@IOTJOBS_PC_LIBS_PRIVATE@"),
        "Libs.private must come from cmake/static-libs.txt: {private}"
    );
    let config =
        std::fs::read_to_string(manifest_dir().join("cmake/iotjobsConfig.cmake.in")).unwrap();
    assert!(
        config.contains("@IOTJOBS_STATIC_LIBS@"),
        "iotjobsConfig.cmake.in must take the static link libraries from cmake/static-libs.txt"
    );
}
