//! Runs the Python interoperability tests (tests/py/run.sh) against this build's binary.
//! Ignored by default: it needs python3, openssl and PyPI access (first run).
//! `cargo test -p iotjobs-emulator --test python_interop -- --ignored`

use std::process::Command;

#[test]
#[ignore = "needs python3 + openssl + PyPI; run with --ignored"]
fn python_clients_against_the_emulator() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/run.sh");
    let status = Command::new("bash")
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_iotjobs-emulator"))
        .status()
        .expect("bash");
    assert!(status.success(), "python interop tests failed: {status}");
}
