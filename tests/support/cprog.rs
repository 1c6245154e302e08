//! Running C programs against the in-process emulator: used by `jobs_e2e.rs`, `agent_c.rs`
//! and `agent_crash_matrix.rs`.
//!
//! - [`Programs`]: a set of C sources compiled once per test process as strict C99 against
//!   `include/iotjobs.h` and the `libiotjobs.a` this `cargo test` built (two at a time: the
//!   machines have 2 cores);
//! - [`start`], [`Running`], [`Finished`]: one program with its output collected line by line,
//!   waited for with a bound, killed by pid when dropped;
//! - [`limit`]: time limits, 10× longer under a wrapper such as valgrind;
//! - the emulator helpers the tests share ([`emulator`], [`execution`], [`publishes_in`], ...).

use super::cbuild::{check_summary, compile, wrapped_command, wrapper, Lang};
use iotjobs_emulator::{Dir, Emulator, EmulatorConfig, Packet};
use serde_json::Value;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------- building

/// C programs compiled once per test process, on first use, into
/// `$CARGO_TARGET_TMPDIR/<dir>/`, each named by its source's stem.
pub struct Programs {
    dir: &'static str,
    sources: fn() -> Vec<PathBuf>,
    built: OnceLock<Result<HashMap<String, PathBuf>, String>>,
}

impl Programs {
    pub const fn new(dir: &'static str, sources: fn() -> Vec<PathBuf>) -> Programs {
        Programs {
            dir,
            sources,
            built: OnceLock::new(),
        }
    }

    /// The sources of this set.
    pub fn sources(&self) -> Vec<PathBuf> {
        (self.sources)()
    }

    fn all(&self) -> &HashMap<String, PathBuf> {
        let built = self
            .built
            .get_or_init(|| build_all(self.dir, &self.sources()));
        match built {
            Ok(m) => m,
            Err(e) => panic!("building the C programs failed:\n{e}"),
        }
    }

    /// The executable built from `<name>.c`.
    pub fn path(&self, name: &str) -> PathBuf {
        self.all()
            .get(name)
            .cloned()
            .unwrap_or_else(|| panic!("no C program named {name}"))
    }

    /// Starts `<name>` with `args` (see [`start`]).
    pub fn start(&self, name: &str, args: &[String]) -> Running {
        start(name, &self.path(name), args)
    }
}

fn build_all(dir: &str, srcs: &[PathBuf]) -> Result<HashMap<String, PathBuf>, String> {
    let out_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(dir);
    std::fs::create_dir_all(&out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;
    let mut map = HashMap::new();
    let mut errors = Vec::new();
    for pair in srcs.chunks(2) {
        let handles: Vec<_> = pair
            .iter()
            .map(|src| {
                let (src, out_dir) = (src.clone(), out_dir.clone());
                std::thread::spawn(move || {
                    let exe = out_dir.join(src.file_stem().unwrap());
                    let r = compile(&src, Lang::C99, &exe).map(|()| exe);
                    (src, r)
                })
            })
            .collect();
        for h in handles {
            let (src, r) = h.join().expect("compiler thread");
            match r {
                Ok(exe) => {
                    map.insert(src.file_stem().unwrap().to_string_lossy().into_owned(), exe);
                }
                Err(e) => errors.push(e),
            }
        }
    }
    if errors.is_empty() {
        Ok(map)
    } else {
        Err(errors.join("\n\n"))
    }
}

// ---------------------------------------------------------------- running

/// A time limit, 10× longer under a wrapper such as valgrind.
pub fn limit(secs: u64) -> Duration {
    Duration::from_secs(secs) * scale()
}

/// How much slower programs run here: 10 under a wrapper, else 1.
pub fn scale() -> u32 {
    if wrapper().is_empty() {
        1
    } else {
        10
    }
}

/// A running C program. Dropping it kills the process (by pid) if it still runs.
pub struct Running {
    name: String,
    child: Child,
    lines: Receiver<String>,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<String>>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

/// A program that has exited: its status and everything it printed.
pub struct Finished {
    pub code: Option<i32>,
    /// The signal that ended it, if one did.
    pub signal: Option<i32>,
    pub stdout: Vec<String>,
    pub stderr: String,
}

impl Finished {
    pub fn text(&self) -> String {
        format!(
            "exit {:?} signal {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.code,
            self.signal,
            self.stdout.join("\n"),
            self.stderr
        )
    }

    pub fn has(&self, needle: &str) -> bool {
        self.stdout.iter().any(|l| l.contains(needle))
    }

    /// The output lines containing `needle`.
    pub fn lines_with(&self, needle: &str) -> Vec<&str> {
        self.stdout
            .iter()
            .filter(|l| l.contains(needle))
            .map(String::as_str)
            .collect()
    }

    /// Fails, showing the whole output, unless it contains `needle`.
    pub fn assert_has(&self, needle: &str) {
        assert!(self.has(needle), "missing {needle:?} in:\n{}", self.text());
    }

    /// Fails, showing the whole output, if it contains `needle`.
    pub fn assert_lacks(&self, needle: &str) {
        assert!(
            !self.has(needle),
            "unexpected {needle:?} in:\n{}",
            self.text()
        );
    }

    pub fn assert_success(&self) {
        assert_eq!(self.code, Some(0), "the C program failed:\n{}", self.text());
    }

    /// Asserts exit status 0 and the `tests/c/check.h` summary: no failed check, at least
    /// `min_checks` passed.
    pub fn assert_checks(&self, min_checks: usize) {
        self.assert_success();
        let (passed, failed) = check_summary(&self.stdout.join("\n"))
            .unwrap_or_else(|e| panic!("{e}:\n{}", self.text()));
        assert_eq!(failed, 0, "failed checks:\n{}", self.text());
        assert!(
            passed >= min_checks,
            "only {passed} checks ran (expected at least {min_checks}):\n{}",
            self.text()
        );
    }
}

/// Starts `exe` (under the wrapper, if any) with `args`, stdin closed, its output collected.
pub fn start(name: &str, exe: &Path, args: &[String]) -> Running {
    let mut cmd = wrapped_command(exe);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let (tx, rx) = channel();
    let stdout = Arc::new(Mutex::new(Vec::new()));
    let stderr = Arc::new(Mutex::new(String::new()));
    let so = child.stdout.take().expect("piped stdout");
    let se = child.stderr.take().expect("piped stderr");
    let keep = stdout.clone();
    let t_out = std::thread::spawn(move || {
        for line in BufReader::new(so).lines() {
            let Ok(line) = line else { break };
            keep.lock().unwrap().push(line.clone());
            let _ = tx.send(line);
        }
    });
    let keep_err = stderr.clone();
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = BufReader::new(se).read_to_string(&mut s);
        keep_err.lock().unwrap().push_str(&s);
    });
    Running {
        name: name.to_owned(),
        child,
        lines: rx,
        stdout,
        stderr,
        readers: vec![t_out, t_err],
    }
}

impl Running {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for an output line containing `needle`; panics (killing the program) on timeout.
    pub fn wait_line(&mut self, needle: &str, timeout: Duration) -> String {
        match self.try_wait_line(needle, timeout) {
            Some(l) => l,
            None => {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "{}: no line containing {needle:?} within {timeout:?}; output:\n{}",
                    self.name,
                    self.output_so_far()
                );
            }
        }
    }

    /// Waits until output lines containing each of `needles` appeared, in any order; panics
    /// (killing the program) on timeout.
    pub fn wait_lines(&mut self, needles: &[&str], timeout: Duration) {
        let end = Instant::now() + timeout;
        let mut missing: Vec<&str> = needles.to_vec();
        while !missing.is_empty() {
            let left = end.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => missing.retain(|n| !l.contains(n)),
                Err(_) => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    panic!(
                        "{}: no lines containing {missing:?} within {timeout:?}; output:\n{}",
                        self.name,
                        self.output_so_far()
                    );
                }
            }
        }
    }

    /// Waits for an output line containing `needle`, with the instant it was read; `None`
    /// when the program ended its output or `timeout` passed first.
    pub fn try_wait_line_at(
        &mut self,
        needle: &str,
        timeout: Duration,
    ) -> Option<(String, Instant)> {
        let end = Instant::now() + timeout;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) if l.contains(needle) => return Some((l, Instant::now())),
                Ok(_) => continue,
                Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => {
                    return None
                }
            }
        }
    }

    /// [`Running::try_wait_line_at`] without the instant.
    pub fn try_wait_line(&mut self, needle: &str, timeout: Duration) -> Option<String> {
        self.try_wait_line_at(needle, timeout).map(|(l, _)| l)
    }

    /// What the program printed so far (for a failure message).
    pub fn output_so_far(&self) -> String {
        format!(
            "--- stdout\n{}\n--- stderr\n{}",
            self.stdout.lock().unwrap().join("\n"),
            self.stderr.lock().unwrap()
        )
    }

    /// Waits for the exit (bounded; killed by pid on timeout).
    pub fn finish(mut self, timeout: Duration) -> Finished {
        let end = Instant::now() + timeout;
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if Instant::now() >= end => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    for r in self.readers.drain(..) {
                        let _ = r.join();
                    }
                    panic!(
                        "{} did not finish within {timeout:?}: killed; output:\n{}",
                        self.name,
                        self.output_so_far()
                    );
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
                Err(e) => panic!("waiting for {}: {e}", self.name),
            }
        }
        self.collect()
    }

    /// Kills the program by pid (SIGKILL) now and collects its output.
    pub fn kill(mut self) -> Finished {
        let _ = self.child.kill();
        self.collect()
    }

    fn collect(&mut self) -> Finished {
        use std::os::unix::process::ExitStatusExt;
        let status = self
            .child
            .wait()
            .unwrap_or_else(|e| panic!("waiting for {}: {e}", self.name));
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
        Finished {
            code: status.code(),
            signal: status.signal(),
            stdout: self.stdout.lock().unwrap().clone(),
            stderr: self.stderr.lock().unwrap().clone(),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

// ---------------------------------------------------------------- the emulator

/// An emulator with the default settings, on loopback.
pub fn emulator() -> Emulator {
    emulator_with(EmulatorConfig::default())
}

pub fn emulator_with(cfg: EmulatorConfig) -> Emulator {
    let emu = Emulator::start(cfg).expect("start the emulator");
    assert!(emu.mqtt_addr().ip().is_loopback());
    emu
}

/// The emulator's host and port, as the C programs take them.
pub fn host_port(emu: &Emulator) -> Vec<String> {
    let a = emu.mqtt_addr();
    vec![a.ip().to_string(), a.port().to_string()]
}

/// Creates each (job id, document, target things) in the emulator, in order.
pub fn create_jobs(emu: &Emulator, jobs: &[(&str, Value, &[&str])]) {
    for (id, document, things) in jobs {
        emu.create_job(id, document.clone(), things)
            .unwrap_or_else(|e| panic!("create job {id}: {e:?}"));
    }
}

/// The latest execution of `job` on `thing`; panics when there is none.
pub fn execution(emu: &Emulator, job: &str, thing: &str) -> Value {
    emu.describe_execution(job, thing)
        .unwrap_or_else(|| panic!("no execution of {job} on {thing}"))
}

/// The status of the latest execution of `job` on `thing`.
pub fn status_of(emu: &Emulator, job: &str, thing: &str) -> String {
    execution(emu, job, thing)["status"]
        .as_str()
        .unwrap_or("")
        .to_owned()
}

/// How many PUBLISHes `client` sent to a topic containing `topic_part` with a payload
/// containing `body`.
pub fn publishes_in(emu: &Emulator, client: &str, topic_part: &str, body: &str) -> usize {
    emu.records()
        .iter()
        .filter(|r| r.dir == Dir::In && r.client_id == client)
        .filter(|r| match &r.packet {
            Packet::Publish(p) => {
                p.topic.contains(topic_part) && String::from_utf8_lossy(&p.payload).contains(body)
            }
            _ => false,
        })
        .count()
}
