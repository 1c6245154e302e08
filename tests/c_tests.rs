//! The C test suite (`tests/c/*.c`), run by plain `cargo test`.
//!
//! Each file is compiled twice against `include/iotjobs.h` and the static library this very
//! `cargo test` built: as C99 and as C++11, both with `-Wall -Wextra -Wpedantic -Werror`, linked
//! with the system libraries listed in `cmake/static-libs.txt`. Both binaries run with an
//! in-process emulator as their MQTT server (`argv[1]` host, `argv[2]` port) and must exit 0;
//! their output is printed when they do not.
//!
//! Environment:
//! - `CC` / `CXX`: the compilers (default `cc` / `c++`).
//! - `IOTJOBS_C_TEST_WRAPPER`: a command line to run each binary under, e.g.
//!   `valgrind --error-exitcode=1 --leak-check=full`.
//! - `IOTJOBS_C_TEST_TIMEOUT_SECS`: the limit for one binary (default 120, or 900 with a wrapper).

use iotjobs_emulator::{Emulator, EmulatorConfig};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

#[path = "support/cbuild.rs"]
mod cbuild;
use cbuild::{c_files, cxx_compiler_present, manifest_dir, static_lib, static_link_libs, STRICT};

fn run_checked(mut cmd: Command, what: &str) -> Result<(), String> {
    let out = cmd
        .output()
        .map_err(|e| format!("{what}: cannot run {:?}: {e}", cmd.get_program()))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed ({}):\n{:?}\n{}{}",
            out.status,
            cmd,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Compiles and links one test, as C99 (`cxx == false`) or as C++11.
fn build(src: &Path, cxx: bool, out_dir: &Path) -> Result<PathBuf, String> {
    let stem = src.file_stem().unwrap().to_string_lossy().into_owned();
    let exe = out_dir.join(if cxx {
        format!("{stem}-cxx")
    } else {
        stem.clone()
    });
    let compiler = if cxx {
        std::env::var("CXX").unwrap_or_else(|_| "c++".into())
    } else {
        std::env::var("CC").unwrap_or_else(|_| "cc".into())
    };
    let mut cmd = Command::new(&compiler);
    if cxx {
        cmd.args(["-x", "c++", "-std=c++11"]);
    } else {
        cmd.arg("-std=c99");
    }
    cmd.args(STRICT)
        .arg("-I")
        .arg(manifest_dir().join("include"))
        .arg("-I")
        .arg(manifest_dir().join("tests/c"))
        .arg(src);
    if cxx {
        // The library and system libraries are not C++ sources.
        cmd.args(["-x", "none"]);
    }
    cmd.arg(static_lib()?)
        .args(static_link_libs()?)
        .arg("-o")
        .arg(&exe);
    let lang = if cxx { "C++11" } else { "C99" };
    run_checked(cmd, &format!("compiling {stem} as {lang}"))?;
    Ok(exe)
}

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
    let wrapper: Vec<String> = std::env::var("IOTJOBS_C_TEST_WRAPPER")
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let mut cmd = match wrapper.split_first() {
        Some((prog, args)) => {
            let mut c = Command::new(prog);
            c.args(args).arg(exe);
            c
        }
        None => Command::new(exe),
    };
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
    let limit = timeout(!wrapper.is_empty());
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

#[test]
fn c_tests_pass_as_c99_and_as_cxx11() {
    let out_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("c-tests");
    fs::create_dir_all(&out_dir).expect("create the output directory");
    let emulator = Emulator::start(EmulatorConfig::default()).expect("start the emulator");
    let addr = emulator.mqtt_addr();
    assert!(
        addr.ip().is_loopback(),
        "the emulator must listen on loopback"
    );
    let host = addr.ip().to_string();

    let mut failures = Vec::new();
    let mut ran = 0;
    for src in c_files("tests/c") {
        let langs: &[bool] = if cxx_compiler_present() {
            &[false, true]
        } else {
            &[false]
        };
        for &cxx in langs {
            let name = format!(
                "{}{}",
                src.file_name().unwrap().to_string_lossy(),
                if cxx { " (C++11)" } else { " (C99)" }
            );
            let exe = match build(&src, cxx, &out_dir) {
                Ok(exe) => exe,
                Err(e) => {
                    failures.push(format!("{name}: {e}"));
                    continue;
                }
            };
            match run(&exe, &host, addr.port()) {
                Ok(out) if out.status.success() => {
                    ran += 1;
                    println!(
                        "ok   {name}: {}",
                        String::from_utf8_lossy(&out.stdout).trim()
                    );
                    // Under a wrapper (valgrind), show its verdict in the log.
                    let stderr = String::from_utf8_lossy(&out.stderr);
                    for line in stderr
                        .lines()
                        .filter(|l| l.contains("ERROR SUMMARY") || l.contains("definitely lost"))
                    {
                        println!("     {line}");
                    }
                }
                Ok(out) => failures.push(format!(
                    "{name} exited with {}\n--- stdout\n{}--- stderr\n{}",
                    out.status,
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                )),
                Err(e) => failures.push(format!("{name}: {e}")),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} C test run(s) failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    assert!(ran >= 1, "no C test ran");
}
