//! `cargo run -p iotjobs-demo`: the whole product in one command, on a machine with only the
//! Rust toolchain and a C compiler.
//!
//! 1. Builds the C library (`cargo build -p iotjobs --lib`, same profile as this demo unless
//!    `--release`/`--debug` says otherwise; `CARGO_TARGET_DIR` is honored because the path of
//!    `libiotjobs.a` comes from cargo's own artifact messages).
//! 2. Compiles `examples-c/device_agent.c` with `$CC` (default `cc`) as strict C99 against
//!    `include/iotjobs.h` and `libiotjobs.a`, linked with the system libraries listed in
//!    `cmake/static-libs.txt`.
//! 3. Starts the emulator (a local AWS IoT endpoint) in this process and queues three jobs for
//!    the thing `demo-device`: one that succeeds after reporting progress, one that fails at a
//!    step, and a long one that the operator cancels (`cancel_job(id, force)`) as soon as the
//!    emulator shows it IN_PROGRESS with progress reported.
//! 4. Runs the C device agent against the emulator's port, streaming its output live.
//! 5. Prints a table of every job execution with its final status, and exits non-zero unless the
//!    outcome is SUCCEEDED / FAILED / CANCELED and the device agent exited 0.
//!
//! Everything is bounded in time; the device process is killed (by its pid) on any failure.
//! `IOTJOBS_EMULATOR_LOG=1` adds the emulator's per-device log on stderr.

use iotjobs_emulator::{Emulator, EmulatorConfig};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const THING: &str = "demo-device";
const BUILD_LIMIT: Duration = Duration::from_secs(20 * 60);
const COMPILE_LIMIT: Duration = Duration::from_secs(120);
const RUN_LIMIT: Duration = Duration::from_secs(90);

/// Time since the demo started, for the line prefixes.
struct Clock(Instant);

impl Clock {
    fn say(&self, who: &str, line: &str) {
        println!(
            "[{:6.2}s] {who:<6} | {line}",
            self.0.elapsed().as_secs_f64()
        );
    }
}

/// Kills the child (SIGKILL to its pid) and reaps it unless it already exited.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Waits for the child with a deadline; on timeout it is killed and an error returned.
fn wait_bounded(mut g: ChildGuard, limit: Duration, what: &str) -> Result<i32, String> {
    let end = Instant::now() + limit;
    loop {
        match g.0.try_wait() {
            Ok(Some(st)) => return Ok(st.code().unwrap_or(-1)),
            Ok(None) if Instant::now() >= end => {
                return Err(format!("{what} did not finish within {limit:?}: killed"));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("{what}: {e}")),
        }
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("demo/ lives in the workspace root")
        .to_path_buf()
}

/// `cargo build -p iotjobs --lib`; returns the path of `libiotjobs.a` cargo reports.
fn build_library(root: &Path, release: bool, clock: &Clock) -> Result<PathBuf, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    // `-p iotjobs-emulator` too: the same feature resolution as `cargo test` (which unifies
    // the emulator dev-dependency), so the demo and the tests share one `libiotjobs.a` instead
    // of rebuilding it for each other (staticlib file names carry no feature hash).
    cmd.current_dir(root).args([
        "build",
        "-p",
        "iotjobs",
        "-p",
        "iotjobs-emulator",
        "--lib",
        "--message-format=json-render-diagnostics",
    ]);
    if release {
        cmd.arg("--release");
    }
    // `cargo run` gave this process the demo package's CARGO_PKG_*, CARGO_MANIFEST_* and
    // friends. Build scripts that declare `rerun-if-env-changed` on those names (ring does)
    // would see them change and rebuild on every demo run, and again in the next plain
    // `cargo build`; the nested cargo gets the environment a shell would give it.
    for (key, _) in std::env::vars_os() {
        let k = key.to_string_lossy();
        if k.starts_with("CARGO_PKG_")
            || k.starts_with("CARGO_MANIFEST_")
            || matches!(
                k.as_ref(),
                "CARGO_CRATE_NAME"
                    | "CARGO_BIN_NAME"
                    | "CARGO_PRIMARY_PACKAGE"
                    | "CARGO_RUSTC_CURRENT_DIR"
                    | "OUT_DIR"
            )
        {
            cmd.env_remove(&key);
        }
    }
    clock.say(
        "demo",
        &format!(
            "building the C library: cargo build -p iotjobs -p iotjobs-emulator --lib{}",
            if release { " --release" } else { "" }
        ),
    );
    cmd.stdout(Stdio::piped()).stderr(Stdio::inherit());
    let mut child = cmd.spawn().map_err(|e| format!("cannot run cargo: {e}"))?;
    let mut out = child.stdout.take().expect("piped stdout");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let code = wait_bounded(ChildGuard(child), BUILD_LIMIT, "cargo build")?;
    let messages = reader.join().unwrap_or_default();
    if code != 0 {
        return Err(format!("cargo build -p iotjobs failed (exit {code})"));
    }
    let mut lib = None;
    for line in messages.lines() {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        if v["reason"] == "compiler-artifact" && v["target"]["name"] == "iotjobs" {
            if let Some(files) = v["filenames"].as_array() {
                for f in files.iter().filter_map(Value::as_str) {
                    if f.ends_with("libiotjobs.a") {
                        lib = Some(PathBuf::from(f));
                    }
                }
            }
        }
    }
    let lib = lib.ok_or("cargo reported no libiotjobs.a (crate-type must include staticlib)")?;
    clock.say("demo", &format!("static library: {}", lib.display()));
    Ok(lib)
}

/// The system libraries a static link needs (the single list in `cmake/static-libs.txt`).
fn static_link_libs(root: &Path) -> Result<Vec<String>, String> {
    let path = root.join("cmake/static-libs.txt");
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

fn compile_agent(root: &Path, lib: &Path, clock: &Clock) -> Result<PathBuf, String> {
    let out_dir = lib
        .parent()
        .ok_or("libiotjobs.a has no parent directory")?
        .join("iotjobs-demo-c");
    std::fs::create_dir_all(&out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;
    let exe = out_dir.join("device_agent");
    // Compiled under a private name and renamed, so a concurrent demo never runs a half-written
    // binary.
    let tmp = out_dir.join(format!(".device_agent.{}.tmp", std::process::id()));
    let src = root.join("examples-c/device_agent.c");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let mut cmd = Command::new(&cc);
    cmd.args([
        "-std=c99",
        "-Wall",
        "-Wextra",
        "-Wpedantic",
        "-Werror",
        "-O2",
        "-pthread",
    ])
    .arg("-I")
    .arg(root.join("include"))
    .arg(&src)
    .arg(lib)
    .args(static_link_libs(root)?)
    .arg("-o")
    .arg(&tmp)
    .stdout(Stdio::inherit())
    .stderr(Stdio::inherit());
    clock.say(
        "demo",
        &format!(
            "compiling examples-c/device_agent.c: {cc} -std=c99 -Wall -Wextra -Wpedantic -Werror"
        ),
    );
    let child = cmd
        .spawn()
        .map_err(|e| format!("cannot run the C compiler {cc:?}: {e}"))?;
    let code = wait_bounded(ChildGuard(child), COMPILE_LIMIT, "the C compiler")?;
    if code != 0 {
        return Err(format!("compiling {} failed (exit {code})", src.display()));
    }
    std::fs::rename(&tmp, &exe).map_err(|e| format!("{}: {e}", exe.display()))?;
    Ok(exe)
}

/// The three jobs: (id, document, the final status the demo expects).
fn jobs() -> Vec<(&'static str, Value, &'static str)> {
    vec![
        (
            "install-app-1",
            json!({"operation": "install", "steps": 4, "step_ms": 400}),
            "SUCCEEDED",
        ),
        (
            "configure-2",
            json!({"operation": "configure", "steps": 4, "step_ms": 300, "fail_at_step": 3}),
            "FAILED",
        ),
        (
            "firmware-3",
            json!({"operation": "firmware-download", "steps": 40, "step_ms": 250}),
            "CANCELED",
        ),
    ]
}

/// Streams a pipe line by line with a prefix, keeping the lines.
fn stream<R: Read + Send + 'static>(
    pipe: R,
    who: &'static str,
    start: Instant,
    keep: Arc<Mutex<Vec<String>>>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let clock = Clock(start);
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            clock.say(who, &line);
            if let Ok(mut k) = keep.lock() {
                k.push(line);
            }
        }
    })
}

fn field(v: &Value, k: &str) -> String {
    match &v[k] {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

fn print_table(executions: &[Value]) {
    let rows: Vec<[String; 5]> = executions
        .iter()
        .map(|e| {
            [
                field(e, "jobId"),
                field(e, "thingName"),
                field(e, "status"),
                field(e, "versionNumber"),
                e["statusDetails"].to_string(),
            ]
        })
        .collect();
    let head = ["JOB", "THING", "STATUS", "VERSION", "STATUS DETAILS"];
    let mut w = head.map(str::len);
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.len());
        }
    }
    let line = |r: [&str; 5]| {
        println!(
            "  {:<w0$}  {:<w1$}  {:<w2$}  {:>w3$}  {}",
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            w0 = w[0],
            w1 = w[1],
            w2 = w[2],
            w3 = w[3]
        )
    };
    println!();
    line(head);
    line([
        &"-".repeat(w[0]),
        &"-".repeat(w[1]),
        &"-".repeat(w[2]),
        &"-".repeat(w[3]),
        &"-".repeat(w[4]),
    ]);
    for r in &rows {
        line([&r[0], &r[1], &r[2], &r[3], &r[4]]);
    }
    println!();
}

fn run(release: bool) -> Result<(), String> {
    let start = Instant::now();
    let clock = Clock(start);
    let root = workspace_root();

    let lib = build_library(&root, release, &clock)?;
    let exe = compile_agent(&root, &lib, &clock)?;

    let emu = Emulator::start(EmulatorConfig {
        record: false,
        ..EmulatorConfig::default()
    })
    .map_err(|e| format!("cannot start the emulator: {e}"))?;
    let addr = emu.mqtt_addr();
    clock.say(
        "demo",
        &format!("emulator (local AWS IoT endpoint with the Jobs service) on {addr}"),
    );
    let plan = jobs();
    for (id, doc, expect) in &plan {
        emu.create_job(id, doc.clone(), &[THING])
            .map_err(|e| format!("create_job {id}: {e}"))?;
        clock.say(
            "demo",
            &format!("queued job {id} for {THING}: {doc} (expect {expect})"),
        );
    }
    let cancel_id = plan
        .iter()
        .find(|p| p.2 == "CANCELED")
        .map(|p| p.0)
        .expect("one job is cancelled");

    let args = [
        "--endpoint".to_string(),
        addr.ip().to_string(),
        "--port".into(),
        addr.port().to_string(),
        "--plain".into(),
        "--thing".into(),
        THING.into(),
        "--idle-exit".into(),
        "2".into(),
        "--reply-timeout".into(),
        "20".into(),
    ];
    clock.say(
        "demo",
        &format!("running {} {}", exe.display(), args.join(" ")),
    );
    let mut child = Command::new(&exe)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
    let out_lines = Arc::new(Mutex::new(Vec::new()));
    let t_out = stream(
        child.stdout.take().expect("piped"),
        "device",
        start,
        out_lines.clone(),
    );
    let t_err = stream(
        child.stderr.take().expect("piped"),
        "device!",
        start,
        out_lines.clone(),
    );
    let mut guard = ChildGuard(child);

    // The operator: cancel the long job once it runs and has reported progress.
    let end = Instant::now() + RUN_LIMIT;
    let mut cancelled = false;
    let code = loop {
        if let Some(st) = guard.0.try_wait().map_err(|e| e.to_string())? {
            break st.code().unwrap_or(-1);
        }
        if Instant::now() >= end {
            drop(guard); // kills the device by pid
            let _ = t_out.join();
            let _ = t_err.join();
            return Err(format!(
                "the device agent did not finish within {RUN_LIMIT:?}: killed"
            ));
        }
        if !cancelled {
            if let Some(e) = emu.describe_execution(cancel_id, THING) {
                let progressed = e["statusDetails"]
                    .get("progress")
                    .and_then(Value::as_str)
                    .is_some();
                if e["status"] == "IN_PROGRESS" && progressed {
                    clock.say(
                        "demo",
                        &format!(
                            "operator: {cancel_id} is IN_PROGRESS ({}, version {}): cancel_job({cancel_id}, force=true)",
                            e["statusDetails"],
                            e["versionNumber"]
                        ),
                    );
                    emu.cancel_job(cancel_id, true)
                        .map_err(|e| format!("cancel_job {cancel_id}: {e}"))?;
                    cancelled = true;
                }
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let _ = t_out.join();
    let _ = t_err.join();
    clock.say("demo", &format!("device agent exited with {code}"));

    let executions = emu.list_executions();
    print_table(&executions);

    let mut problems = Vec::new();
    if code != 0 {
        problems.push(format!("the device agent exited with {code}"));
    }
    if !cancelled {
        problems.push(format!(
            "{cancel_id} was never seen IN_PROGRESS, so never cancelled"
        ));
    }
    for (id, _, expect) in &plan {
        let got = executions
            .iter()
            .find(|e| e["jobId"] == *id && e["thingName"] == THING)
            .map(|e| field(e, "status"))
            .unwrap_or_else(|| "missing".into());
        if got != *expect {
            problems.push(format!("{id}: {got}, expected {expect}"));
        }
    }
    let noticed = out_lines
        .lock()
        .map(|l| {
            l.iter()
                .any(|x| x.contains(cancel_id) && x.contains("CANCELED by the service"))
        })
        .unwrap_or(false);
    if cancelled && !noticed {
        problems.push(format!(
            "the device agent never reported that {cancel_id} was cancelled"
        ));
    }
    let took = start.elapsed().as_secs_f64();
    if problems.is_empty() {
        println!(
            "demo: OK in {took:.1} s: {} SUCCEEDED, {} FAILED, {} CANCELED while running, as expected",
            plan[0].0, plan[1].0, plan[2].0
        );
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

fn main() -> ExitCode {
    let mut release = !cfg!(debug_assertions);
    for a in std::env::args().skip(1) {
        match a.as_str() {
            "--release" => release = true,
            "--debug" => release = false,
            "-h" | "--help" => {
                println!(
                    "usage: cargo run -p iotjobs-demo [-- --release|--debug]\n\
                     Builds libiotjobs (same profile as the demo unless told), compiles\n\
                     examples-c/device_agent.c, runs it against an in-process emulator with three\n\
                     jobs (succeeds / fails / cancelled while running) and prints the outcome."
                );
                return ExitCode::SUCCESS;
            }
            other => {
                eprintln!("iotjobs-demo: unknown argument {other:?} (try --help)");
                return ExitCode::from(2);
            }
        }
    }
    match run(release) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo: FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}
