//! `cargo run -p iotjobs-demo`: the whole product in one command, on a machine with only the
//! Rust toolchain and a C compiler.
//!
//! 1. Builds the C library (`cargo build -p iotjobs --lib`, same profile as this demo unless
//!    `--release`/`--debug` says otherwise; `CARGO_TARGET_DIR` is honored because the path of
//!    `libiotjobs.a` comes from cargo's own artifact messages).
//! 2. Compiles `examples-c/device_agent.c` with `$CC` (default `cc`) as strict C99 against
//!    `include/iotjobs.h` and `libiotjobs.a`, linked with the system libraries listed in
//!    `cmake/static-libs.txt`.
//! 3. Starts the emulator (a local AWS IoT endpoint) in this process and queues five jobs for
//!    the thing `demo-device`: one that succeeds after reporting progress, one that fails at a
//!    step, a long one that the operator cancels (`cancel_job(id, force)`) as soon as the
//!    emulator shows it IN_PROGRESS with progress reported, one during which the device
//!    process is killed (SIGKILL) and restarted, and a firmware update that "reboots" the
//!    device (the process exits) and is confirmed after the restart.
//! 4. Runs the C device agent against the emulator's port with a journal, streaming its output
//!    live, three times: until the demo kills it, until the firmware reboot, and until it is
//!    idle. The second run resumes the killed job from its checkpoint; the third confirms the
//!    firmware.
//! 5. Prints a table of every job execution with its final status, and exits non-zero unless the
//!    outcome is as listed in [`jobs`], the resumed job reported every step once, and the device
//!    agent exited 0 where it should.
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

/// The jobs: (id, document, the final status the demo expects).
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
            CANCEL_JOB,
            json!({"operation": "download", "steps": 40, "step_ms": 250}),
            "CANCELED",
        ),
        (
            KILL_JOB,
            json!({"operation": "install", "steps": 8, "step_ms": 250}),
            "SUCCEEDED",
        ),
        (
            FIRMWARE_JOB,
            json!({"operation": "firmware", "version": "2.0"}),
            "SUCCEEDED",
        ),
    ]
}

/// The job the operator cancels while it runs.
const CANCEL_JOB: &str = "download-3";
/// The job during which the device process is killed, and the output line it is killed at.
const KILL_JOB: &str = "update-4";
const KILL_AT: &str = r#"update-4 IN_PROGRESS {"step":"3/8""#;
/// The firmware update that "reboots" the device.
const FIRMWARE_JOB: &str = "firmware-5";

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

/// What the operator does to a running device process.
enum Act {
    Wait,
    Kill,
}

/// How one device process ended: its exit code (`None`: killed by the demo) and its output.
struct DeviceRun {
    code: Option<i32>,
    lines: Vec<String>,
}

impl DeviceRun {
    fn has(&self, needle: &str) -> bool {
        self.lines.iter().any(|l| l.contains(needle))
    }
}

/// Runs the device agent once, streaming its output. Every 20 ms `operator` sees the emulator
/// and the lines so far and may kill the process (SIGKILL to its pid). Bounded by `RUN_LIMIT`.
fn run_device(
    exe: &Path,
    args: &[String],
    start: Instant,
    emu: &Emulator,
    mut operator: impl FnMut(&Emulator, &[String]) -> Result<Act, String>,
) -> Result<DeviceRun, String> {
    let clock = Clock(start);
    clock.say(
        "demo",
        &format!("running {} {}", exe.display(), args.join(" ")),
    );
    let mut child = Command::new(exe)
        .args(args)
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
    let end = Instant::now() + RUN_LIMIT;
    let lines = || out_lines.lock().map(|l| l.clone()).unwrap_or_default();
    let code = loop {
        if let Some(st) = guard.0.try_wait().map_err(|e| e.to_string())? {
            break st.code();
        }
        if Instant::now() >= end {
            drop(guard); // kills the device by pid
            let _ = t_out.join();
            let _ = t_err.join();
            return Err(format!(
                "the device agent did not finish within {RUN_LIMIT:?}: killed"
            ));
        }
        if let Act::Kill = operator(emu, &lines())? {
            clock.say(
                "demo",
                &format!("operator: SIGKILL to the device process {}", guard.0.id()),
            );
            guard.0.kill().map_err(|e| format!("kill: {e}"))?;
            let _ = guard.0.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let _ = t_out.join();
    let _ = t_err.join();
    clock.say(
        "demo",
        &match code {
            Some(c) => format!("device agent exited with {c}"),
            None => "device agent killed".to_string(),
        },
    );
    Ok(DeviceRun {
        code,
        lines: lines(),
    })
}

fn run(release: bool) -> Result<(), String> {
    let start = Instant::now();
    let clock = Clock(start);
    let root = workspace_root();

    let lib = build_library(&root, release, &clock)?;
    let exe = compile_agent(&root, &lib, &clock)?;
    // The device's journal lives next to its binary, one per demo process.
    let journal_dir = exe
        .parent()
        .ok_or("the device agent has no directory")?
        .join(format!("journal-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&journal_dir);
    std::fs::create_dir_all(&journal_dir).map_err(|e| format!("{}: {e}", journal_dir.display()))?;
    let result = scenes(&exe, &journal_dir.join("journal"), start);
    let _ = std::fs::remove_dir_all(&journal_dir);
    result
}

/// The five scenes, over three runs of the device process.
fn scenes(exe: &Path, journal: &Path, start: Instant) -> Result<(), String> {
    let clock = Clock(start);
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
    let args = [
        "--endpoint".to_string(),
        addr.ip().to_string(),
        "--port".into(),
        addr.port().to_string(),
        "--plain".into(),
        "--thing".into(),
        THING.into(),
        "--journal".into(),
        journal.to_string_lossy().into_owned(),
        "--idle-exit".into(),
        "2".into(),
    ];

    // Run 1: the operator cancels the long job once it runs and has reported progress, then
    // kills the device process during the next job.
    let mut cancelled = false;
    let first = run_device(exe, &args, start, &emu, |emu, lines| {
        if !cancelled {
            if let Some(e) = emu.describe_execution(CANCEL_JOB, THING) {
                let progressed = e["statusDetails"]
                    .get("progress")
                    .and_then(Value::as_str)
                    .is_some();
                if e["status"] == "IN_PROGRESS" && progressed {
                    clock.say(
                        "demo",
                        &format!(
                            "operator: {CANCEL_JOB} is IN_PROGRESS ({}, version {}): cancel_job({CANCEL_JOB}, force=true)",
                            e["statusDetails"],
                            e["versionNumber"]
                        ),
                    );
                    emu.cancel_job(CANCEL_JOB, true)
                        .map_err(|e| format!("cancel_job {CANCEL_JOB}: {e}"))?;
                    cancelled = true;
                }
            }
        }
        Ok(if lines.iter().any(|l| l.contains(KILL_AT)) {
            Act::Kill
        } else {
            Act::Wait
        })
    })?;
    // Run 2: restarted on the same journal, the device resumes the killed job after its last
    // checkpointed step, then takes the firmware update, which ends with a "reboot".
    clock.say(
        "demo",
        &format!("restarting the device: it resumes {KILL_JOB} from its journal"),
    );
    let second = run_device(exe, &args, start, &emu, |_, _| Ok(Act::Wait))?;
    // Run 3: after the "reboot", the device confirms the new firmware, then idles and stops.
    clock.say(
        "demo",
        &format!("starting the device after the reboot: it confirms {FIRMWARE_JOB}"),
    );
    let third = run_device(exe, &args, start, &emu, |_, _| Ok(Act::Wait))?;

    let executions = emu.list_executions();
    print_table(&executions);

    let mut problems = Vec::new();
    if !cancelled {
        problems.push(format!(
            "{CANCEL_JOB} was never seen IN_PROGRESS, so never cancelled"
        ));
    } else if !first.has(&format!("{CANCEL_JOB} job_cancelled CANCELED")) {
        problems.push(format!(
            "the device agent never reported that {CANCEL_JOB} was cancelled"
        ));
    }
    if first.code.is_some() {
        problems.push(format!(
            "the first device run was not killed during {KILL_JOB} (exit {:?})",
            first.code
        ));
    }
    if second.code != Some(0) || !second.has(&format!("{KILL_JOB} resumed at step 3/8")) {
        problems.push(format!(
            "the second device run did not resume {KILL_JOB} at step 3/8 (exit {:?})",
            second.code
        ));
    }
    if !second.has(&format!("{FIRMWARE_JOB} firmware 2.0 written; rebooting")) {
        problems.push(format!("{FIRMWARE_JOB} never rebooted the device"));
    }
    if third.code != Some(0)
        || !third.has(&format!(
            "{FIRMWARE_JOB} firmware 2.0 runs after the reboot: confirmed"
        ))
    {
        problems.push(format!(
            "the third device run did not confirm {FIRMWARE_JOB} (exit {:?})",
            third.code
        ));
    }
    let execution = |id: &str| {
        executions
            .iter()
            .find(|e| e["jobId"] == id && e["thingName"] == THING)
            .cloned()
            .unwrap_or(Value::Null)
    };
    for (id, _, expect) in &plan {
        let got = field(&execution(id), "status");
        if got != *expect {
            problems.push(format!("{id}: {got}, expected {expect}"));
        }
    }
    // start-next (2), seven progress updates, the final one: each step reported once, across
    // the kill.
    if execution(KILL_JOB)["versionNumber"] != 10 {
        problems.push(format!(
            "{KILL_JOB}: version {}, expected 10 (one update per step)",
            execution(KILL_JOB)["versionNumber"]
        ));
    }
    if execution(FIRMWARE_JOB)["statusDetails"]["version"] != "2.0" {
        problems.push(format!(
            "{FIRMWARE_JOB}: no version 2.0 in its status details"
        ));
    }
    let took = start.elapsed().as_secs_f64();
    if problems.is_empty() {
        println!(
            "demo: OK in {took:.1} s: {} SUCCEEDED, {} FAILED, {CANCEL_JOB} CANCELED while running, \
             {KILL_JOB} SUCCEEDED after a SIGKILL and a resume, {FIRMWARE_JOB} SUCCEEDED after a reboot",
            plan[0].0, plan[1].0
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
                     examples-c/device_agent.c, runs it against an in-process emulator with five\n\
                     jobs (succeeds / fails / cancelled while running / resumed after a SIGKILL /\n\
                     firmware confirmed after a reboot) and prints the outcome."
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
