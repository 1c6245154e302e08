//! The C++ wrapper (`include/iotjobs.hpp`) through its C++ programs: the API test without a
//! server (`tests/cpp/api.cpp`), the end-to-end program against the emulator
//! (`tests/cpp/e2e.cpp`) and the example (`examples-cpp/get_pending.cpp`).
//!
//! Each program is compiled once per test process in every build the wrapper promises
//! ([`CxxBuild::ALL`]: C++17 and C++20, with and without `-fno-exceptions`), with
//! `-Wall -Wextra -Wpedantic -Werror`, against the `libiotjobs.a` this `cargo test` built, and
//! every build is run: the API test must pass its checks, the end-to-end program must pass its
//! checks against its own in-process emulator and leave the job SUCCEEDED, and the example must
//! list a queued job and print its document. The header alone also compiles included twice,
//! and refuses C++14 with a clear message.
//!
//! Without a C++ compiler the tests pass with a note, except in CI (`CI` set), where they fail.
//!
//! Environment:
//! - `CXX`: the C++ compiler (default `c++`).
//! - `IOTJOBS_C_TEST_CFLAGS`: extra compiler flags, e.g. `-fsanitize=address,undefined`.
//! - `IOTJOBS_C_TEST_WRAPPER`: a command line each program runs under (limits 10× longer).

mod support;

use iotjobs_emulator::{Dir, Emulator, EmulatorConfig, Packet};
use serde_json::json;
use std::collections::HashMap;
use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use support::cbuild::{
    check_summary, compile_cxx, cxx_compiler_present, manifest_dir, wrapped_command, wrapper,
    CxxBuild,
};

/// The programs, by name, with their sources.
const SOURCES: &[(&str, &str)] = &[
    ("api", "tests/cpp/api.cpp"),
    ("e2e", "tests/cpp/e2e.cpp"),
    ("get_pending", "examples-cpp/get_pending.cpp"),
    ("agent", "examples-cpp/agent.cpp"),
];

/// The built programs by (program name, build name).
type Programs = HashMap<(String, String), PathBuf>;

/// Every program in every build, compiled once per test process, two at a time (the machines
/// have 2 cores). `None` without a C++ compiler (outside CI only).
fn programs() -> Option<&'static Programs> {
    static BUILT: OnceLock<Option<Result<Programs, String>>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        if !cxx_compiler_present() {
            return None;
        }
        let out_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cpp-wrapper");
        if let Err(e) = std::fs::create_dir_all(&out_dir) {
            return Some(Err(format!("{}: {e}", out_dir.display())));
        }
        let jobs: Vec<(&str, &str, CxxBuild)> = SOURCES
            .iter()
            .flat_map(|&(name, src)| CxxBuild::ALL.iter().map(move |&b| (name, src, b)))
            .collect();
        let mut map = HashMap::new();
        let mut errors = Vec::new();
        for pair in jobs.chunks(2) {
            let handles: Vec<_> = pair
                .iter()
                .map(|&(name, src, build)| {
                    let exe = out_dir.join(format!("{name}-{}", build.name()));
                    std::thread::spawn(move || {
                        let r = compile_cxx(&manifest_dir().join(src), build, &exe).map(|_| exe);
                        ((name.to_owned(), build.name()), r)
                    })
                })
                .collect();
            for h in handles {
                match h.join().expect("compiler thread") {
                    (key, Ok(exe)) => {
                        map.insert(key, exe);
                    }
                    (_, Err(e)) => errors.push(e),
                }
            }
        }
        Some(if errors.is_empty() {
            Ok(map)
        } else {
            Err(errors.join("\n\n"))
        })
    });
    match built {
        None => None,
        Some(Ok(m)) => Some(m),
        Some(Err(e)) => panic!("building the C++ programs failed:\n{e}"),
    }
}

/// A time limit, 10× longer under a wrapper such as valgrind.
fn limit(secs: u64) -> Duration {
    let scale = if wrapper().is_empty() { 1 } else { 10 };
    Duration::from_secs(secs * scale)
}

/// What a finished program printed.
struct Finished {
    what: String,
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Finished {
    fn text(&self) -> String {
        format!(
            "{}: exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.what, self.code, self.stdout, self.stderr
        )
    }

    fn assert_success(&self) {
        assert_eq!(self.code, Some(0), "the program failed:\n{}", self.text());
    }

    fn assert_checks(&self, min_checks: usize) {
        self.assert_success();
        let (passed, failed) =
            check_summary(&self.stdout).unwrap_or_else(|e| panic!("{e}:\n{}", self.text()));
        assert_eq!(failed, 0, "failed checks:\n{}", self.text());
        assert!(
            passed >= min_checks,
            "only {passed} checks ran (expected at least {min_checks}):\n{}",
            self.text()
        );
    }

    fn assert_has(&self, needle: &str) {
        assert!(
            self.stdout.lines().any(|l| l.contains(needle)),
            "missing {needle:?} in:\n{}",
            self.text()
        );
    }
}

/// Runs `exe args` (under the wrapper, if any) to its end, killed by pid after `timeout`.
fn run(exe: &Path, args: &[String], timeout: Duration) -> Finished {
    let what = format!("{} {}", exe.display(), args.join(" "));
    let mut cmd = wrapped_command(exe);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    // Drained on threads so that a chatty program cannot block on a full pipe.
    let mut so = child.stdout.take().expect("piped stdout");
    let mut se = child.stderr.take().expect("piped stderr");
    let t_out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = so.read_to_string(&mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = se.read_to_string(&mut s);
        s
    });
    let end = Instant::now() + timeout;
    let code = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status.code(),
            Ok(None) if Instant::now() >= end => {
                let _ = child.kill();
                let _ = child.wait();
                let stdout = t_out.join().unwrap_or_default();
                let stderr = t_err.join().unwrap_or_default();
                panic!("{what} did not finish within {timeout:?}: killed\n{stdout}\n{stderr}");
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => panic!("waiting for {what}: {e}"),
        }
    };
    Finished {
        what,
        code,
        stdout: t_out.join().unwrap_or_default(),
        stderr: t_err.join().unwrap_or_default(),
    }
}

fn emulator() -> Emulator {
    let emu = Emulator::start(EmulatorConfig::default()).expect("start the emulator");
    assert!(emu.mqtt_addr().ip().is_loopback());
    emu
}

/// A loopback port where nothing listens: bound, then released.
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.local_addr().expect("its address").port()
}

#[test]
fn api_test_passes_in_every_build() {
    let Some(programs) = programs() else { return };
    for build in CxxBuild::ALL {
        let out = run(&programs[&("api".into(), build.name())], &[], limit(120));
        out.assert_checks(140);
        for line in [
            "ok results and names",
            "ok documents",
            "ok configs and connections",
            "ok bad arguments",
            "ok offline outcomes",
            "ok destroyed with requests in flight",
            "ok destroyed inside its own callback",
            "ok config callbacks copied",
        ] {
            out.assert_has(line);
        }
    }
}

#[test]
fn end_to_end_against_the_emulator_in_every_build() {
    let Some(programs) = programs() else { return };
    for build in CxxBuild::ALL {
        let emu = emulator();
        let (thing, job) = ("cpp-thing", "cpp-job-1");
        emu.create_job(
            job,
            json!({
                "operation": "install",
                "steps": [{"name": "download", "retries": 3}],
                "ratio": 0.5,
                "reboot": true,
                "options": {"b": "2", "a": "1"},
            }),
            &[thing],
        )
        .unwrap();
        emu.drop_replies(1);
        let a = emu.mqtt_addr();
        let args: Vec<String> = vec![
            a.ip().to_string(),
            a.port().to_string(),
            thing.into(),
            job.into(),
            closed_port().to_string(),
        ];
        let out = run(&programs[&("e2e".into(), build.name())], &args, limit(90));
        out.assert_checks(70);
        for line in [
            "ok connected",
            "ok timeout",
            "ok get-pending",
            "ok start-next future",
            "ok document",
            "ok update rejected",
            "ok describe",
            "ok update async",
            "ok notify-next event",
            "ok nothing pending",
            "ok own connection",
            "ok connection event",
            "ok done",
        ] {
            out.assert_has(line);
        }
        let e = emu
            .describe_execution(job, thing)
            .expect("the job's execution");
        assert_eq!(e["status"], "SUCCEEDED", "{}: {e}", build.name());
        assert_eq!(e["statusDetails"]["progress"], "100%", "{e}");
        // start-next (2), one progress update (3), SUCCEEDED (4); the rejected ones changed
        // nothing.
        assert_eq!(e["versionNumber"], 4, "{e}");
        // Each update went out with its own token: two rejected, two accepted.
        let tokens: std::collections::HashSet<String> = emu
            .records()
            .into_iter()
            .filter(|r| r.dir == Dir::In && r.client_id == "cpp-e2e")
            .filter_map(|r| match r.packet {
                Packet::Publish(p) if p.topic.ends_with(&format!("/jobs/{job}/update")) => {
                    let v: serde_json::Value = serde_json::from_slice(&p.payload).ok()?;
                    Some(v["clientToken"].to_string())
                }
                _ => None,
            })
            .collect();
        assert_eq!(tokens.len(), 4, "{tokens:?}");
    }
}

#[test]
fn example_lists_the_pending_jobs_in_every_build() {
    let Some(programs) = programs() else { return };
    for build in CxxBuild::ALL {
        let emu = emulator();
        let thing = "cpp-example-thing";
        emu.create_job("example-1", json!({"operation": "reboot"}), &[thing])
            .unwrap();
        let a = emu.mqtt_addr();
        let args: Vec<String> = [
            "--endpoint",
            &a.ip().to_string(),
            "--port",
            &a.port().to_string(),
            "--plain",
            "--thing",
            thing,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let out = run(
            &programs[&("get_pending".into(), build.name())],
            &args,
            limit(60),
        );
        out.assert_success();
        out.assert_has("queued example-1 (version 1)");
        out.assert_has(r#"document example-1: {"operation":"reboot"}"#);

        // Bad arguments: exit 2 with the usage.
        let out = run(
            &programs[&("get_pending".into(), build.name())],
            &["--thing".into()],
            limit(10),
        );
        assert_eq!(out.code, Some(2), "{}", out.text());
        assert!(out.stderr.contains("usage:"), "{}", out.text());
    }
}

#[test]
fn the_agent_example_runs_jobs_through_lambda_handlers_in_every_build() {
    let Some(programs) = programs() else { return };
    for build in CxxBuild::ALL {
        let emu = emulator();
        let thing = "cpp-agent-thing";
        emu.create_job(
            "install-1",
            json!({"operation": "install", "steps": 3}),
            &[thing],
        )
        .unwrap();
        emu.create_job("explode-2", json!({"operation": "explode"}), &[thing])
            .unwrap();
        emu.create_job("paint-3", json!({"operation": "paint"}), &[thing])
            .unwrap();
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cpp-agent");
        std::fs::create_dir_all(&dir).unwrap();
        let journal = dir.join(format!("journal-{}", build.name()));
        let _ = std::fs::remove_file(&journal);
        let a = emu.mqtt_addr();
        let args: Vec<String> = [
            "--endpoint",
            &a.ip().to_string(),
            "--port",
            &a.port().to_string(),
            "--plain",
            "--thing",
            thing,
            "--jobs",
            "3",
            "--journal",
            &journal.to_string_lossy(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let out = run(&programs[&("agent".into(), build.name())], &args, limit(90));
        out.assert_success();
        out.assert_has("done 3");
        let exec = |id: &str| emu.describe_execution(id, thing).unwrap();
        let e = exec("install-1");
        assert_eq!(e["status"], "SUCCEEDED", "{}: {e}", build.name());
        assert_eq!(e["statusDetails"]["step"], "done");
        let e = exec("explode-2");
        assert_eq!(e["status"], "FAILED", "{}: {e}", build.name());
        let reason = e["statusDetails"]["reason"].as_str().unwrap_or("");
        assert!(reason.contains("write-protected"), "{}: {e}", build.name());
        if build.exceptions {
            assert!(
                reason.contains("the handler threw"),
                "{}: {e}",
                build.name()
            );
        }
        let e = exec("paint-3");
        assert_eq!(e["status"], "REJECTED", "{e}");
        assert!(journal.is_file(), "the journal was written");
    }
}

#[test]
fn header_compiles_alone_twice_included_and_refuses_cxx14() {
    if !cxx_compiler_present() {
        return; // allowed outside CI only; the note says so
    }
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cpp-wrapper");
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("twice.cpp");
    std::fs::write(
        &src,
        "#include \"iotjobs.hpp\"\n#include \"iotjobs.hpp\"\nint main() { return 0; }\n",
    )
    .unwrap();
    let cxx = std::env::var("CXX").unwrap_or_else(|_| "c++".into());
    let syntax = |std: &str| {
        std::process::Command::new(&cxx)
            .arg(format!("-std={std}"))
            .args([
                "-Wall",
                "-Wextra",
                "-Wpedantic",
                "-Werror",
                "-fsyntax-only",
                "-I",
            ])
            .arg(manifest_dir().join("include"))
            .arg(&src)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {cxx}: {e}"))
    };
    for std in ["c++17", "c++20"] {
        let out = syntax(std);
        assert!(
            out.status.success(),
            "iotjobs.hpp does not compile alone as {std}:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let old = syntax("c++14");
    assert!(!old.status.success(), "iotjobs.hpp compiled as C++14");
    assert!(
        String::from_utf8_lossy(&old.stderr).contains("iotjobs.hpp needs C++17"),
        "no clear message for C++14:\n{}",
        String::from_utf8_lossy(&old.stderr)
    );
}
