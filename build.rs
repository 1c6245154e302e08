//! Generates the C header with cbindgen and gives the shared library a SONAME.
//!
//! The header is generated into OUT_DIR on every build; `include/iotjobs.h` is the committed
//! copy, rewritten only with `IOTJOBS_UPDATE_HEADER=1` (cargo forbids build scripts that edit
//! the source tree by default, and CI must see a stale header, not silently fix it). The
//! `header_is_current` test compares the two.

use std::env;
use std::path::PathBuf;

fn main() {
    let dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-env-changed=IOTJOBS_UPDATE_HEADER");

    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let generated = out.join("iotjobs.h");
    // The crate's own sources only: `with_crate` would run `cargo metadata`, which does not see
    // the caller's `--config` flags (a vendored source replacement) and fails offline builds.
    cbindgen::Builder::new()
        .with_src(dir.join("src/lib.rs"))
        .with_config(config)
        .generate()
        .expect("cbindgen could not generate the header")
        .write_to_file(&generated);
    if env::var_os("IOTJOBS_UPDATE_HEADER").is_some() {
        std::fs::copy(&generated, dir.join("include/iotjobs.h"))
            .expect("writing include/iotjobs.h");
    }

    // Before 1.0 the SONAME carries major.minor: every minor release may break the ABI.
    let major = env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_default();
    let minor = env::var("CARGO_PKG_VERSION_MINOR").unwrap_or_default();
    if env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libiotjobs.so.{major}.{minor}");
    }
}
