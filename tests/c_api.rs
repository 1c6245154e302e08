//! The C API tests (`tests/c/*.c`), run by plain `cargo test`: one Rust test per C file.
//!
//! Each file is compiled twice against `include/iotjobs.h`, the harness `tests/c/check.h` and
//! the static library this very `cargo test` built: as C99 and as C++11, both with
//! `-Wall -Wextra -Wpedantic -Werror`, linked with the system libraries listed in
//! `cmake/static-libs.txt`. Both binaries run with an in-process emulator as their MQTT server
//! (`argv[1]` host, `argv[2]` port), must exit 0 and must report at least one passed check and
//! no failed one (`CHECKS passed=N failed=0`); their output is printed when they do not.
//!
//! Environment:
//! - `CC` / `CXX`: the compilers (default `cc` / `c++`).
//! - `IOTJOBS_C_TEST_WRAPPER`: a command line to run each binary under, e.g.
//!   `valgrind --error-exitcode=1 --leak-check=full`.
//! - `IOTJOBS_C_TEST_TIMEOUT_SECS`: the limit for one binary (default 120, or 900 with a wrapper).

mod support;

use iotjobs_emulator::{Emulator, EmulatorConfig};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};
use support::cbuild::{
    c_files, check_summary, compile, cxx_compiler_present, manifest_dir, wrapped_command, wrapper,
    Lang,
};

fn timeout(wrapped: bool) -> Duration {
    let secs = std::env::var("IOTJOBS_C_TEST_TIMEOUT_SECS")
        .ok()
        .map(|s| {
            s.parse::<u64>()
                .expect("IOTJOBS_C_TEST_TIMEOUT_SECS is a number")
        })
        .unwrap_or(if wrapped { 900 } else { 120 });
    Duration::from_secs(secs)
}

/// Runs `exe host port` (under the wrapper, if any), bounded by the timeout.
fn run(exe: &Path, host: &str, port: u16) -> Result<Output, String> {
    let mut cmd = wrapped_command(exe);
    cmd.arg(host)
        .arg(port.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {cmd:?}: {e}"))?;
    // Drain both pipes on threads so a chatty test cannot block on a full pipe.
    let mut so = child.stdout.take().expect("piped stdout");
    let mut se = child.stderr.take().expect("piped stderr");
    let t_out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = so.read_to_end(&mut v);
        v
    });
    let t_err = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = se.read_to_end(&mut v);
        v
    });
    let limit = timeout(!wrapper().is_empty());
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if start.elapsed() > limit => {
                let _ = child.kill();
                let _ = child.wait();
                let stdout = t_out.join().unwrap_or_default();
                let stderr = t_err.join().unwrap_or_default();
                return Err(format!(
                    "{cmd:?} did not finish within {limit:?}\n{}{}",
                    String::from_utf8_lossy(&stdout),
                    String::from_utf8_lossy(&stderr)
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("waiting for {cmd:?}: {e}")),
        }
    };
    Ok(Output {
        status,
        stdout: t_out.join().unwrap_or_default(),
        stderr: t_err.join().unwrap_or_default(),
    })
}

/// Builds `tests/c/<stem>.c` as C99 and as C++11 (when a C++ compiler is there), runs each
/// against a fresh emulator, and fails with every failure's output.
fn c_test(stem: &str) {
    let src = manifest_dir().join("tests/c").join(format!("{stem}.c"));
    assert!(src.is_file(), "{} is missing", src.display());
    let out_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("c-api");
    std::fs::create_dir_all(&out_dir).expect("create the output directory");
    let emulator = Emulator::start(EmulatorConfig::default()).expect("start the emulator");
    let addr = emulator.mqtt_addr();
    assert!(
        addr.ip().is_loopback(),
        "the emulator must listen on loopback"
    );
    let host = addr.ip().to_string();

    let langs: &[Lang] = if cxx_compiler_present() {
        &[Lang::C99, Lang::Cxx11]
    } else {
        &[Lang::C99]
    };
    let mut failures = Vec::new();
    for &lang in langs {
        let name = format!("{stem}.c ({})", lang.name());
        let exe = out_dir.join(match lang {
            Lang::C99 => stem.to_owned(),
            Lang::Cxx11 => format!("{stem}-cxx"),
        });
        if let Err(e) = compile(&src, lang, &exe) {
            failures.push(format!("{name}: {e}"));
            continue;
        }
        let out = match run(&exe, &host, addr.port()) {
            Ok(out) => out,
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
        };
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        match check_summary(&stdout) {
            Ok((passed, 0)) if out.status.success() && passed > 0 => {
                println!("ok   {name}: {passed} checks");
                // Under a wrapper (valgrind), show its verdict in the log.
                for line in stderr
                    .lines()
                    .filter(|l| l.contains("ERROR SUMMARY") || l.contains("definitely lost"))
                {
                    println!("     {line}");
                }
            }
            summary => failures.push(format!(
                "{name} exited with {} (checks: {summary:?})\n--- stdout\n{stdout}--- stderr\n{stderr}",
                out.status
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} C test run(s) failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// The C files with a test below: a new `tests/c/*.c` needs its own `#[test]` here.
const C_TESTS: &[&str] = &[
    "api_config",
    "api_connection_args",
    "api_connection_round_trip",
    "api_jobs_client",
    "api_results",
    "api_topics_and_messages",
];

#[test]
fn every_c_test_file_has_a_rust_test() {
    let on_disk: Vec<String> = c_files("tests/c")
        .iter()
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(on_disk, C_TESTS, "tests/c/*.c and C_TESTS differ");
}

#[test]
fn config_setters_refuse_bad_input() {
    c_test("api_config");
}

#[test]
fn connection_entry_points_refuse_bad_input() {
    c_test("api_connection_args");
}

#[test]
fn connection_round_trip_over_tcp() {
    c_test("api_connection_round_trip");
}

#[test]
fn jobs_client_entry_points_refuse_bad_input() {
    c_test("api_jobs_client");
}

#[test]
fn result_strings_version_and_last_error() {
    c_test("api_results");
}

#[test]
fn topic_build_parse_and_message_accessors_handle_edges() {
    c_test("api_topics_and_messages");
}

#[test]
fn check_summary_reads_only_a_well_formed_verdict_line() {
    assert_eq!(
        check_summary("FAIL x.c:1: a\nCHECKS passed=12 failed=1\n"),
        Ok((12, 1))
    );
    assert_eq!(
        check_summary("CHECKS passed=1 failed=0\nCHECKS passed=40 failed=0"),
        Ok((40, 0)),
        "the last verdict counts"
    );
    assert!(check_summary("12 checks, 0 failed").is_err());
    assert!(check_summary("CHECKS passed=x failed=0").is_err());
    assert!(check_summary("CHECKS passed=3").is_err());
}
