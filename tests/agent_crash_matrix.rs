//! A crash matrix for the job agent: a device process (`tests/c_e2e/agent_crash.c`, an agent
//! with a journal file) works on three jobs with progress and checkpoints and is killed with
//! SIGKILL at a random point, then started again, until every job is final at the emulator;
//! a last run stops it cleanly. Fifty runs, each seeded from one seed printed at the start
//! (`IOTJOBS_CRASH_SEED=<seed>` repeats them).
//!
//! The kill points: a random moment after the start; right after a handler started, or after
//! its n-th checkpoint; between a job's final status (journaled, the program printed
//! `decided`) and its acknowledgement (the emulator's replies are delayed from the moment the
//! handler runs, and the kill lands while the reply is on its way); right after a job's
//! acknowledgement. A point the device never reaches (its jobs are done) kills it after a
//! bounded wait instead.
//!
//! The device appends one fsync'd line per handler execution to a count file, independent of
//! the journal. Over all runs: every job ends in its final status at the emulator, none is left
//! IN_PROGRESS; an execution runs fresh at most once, every other run of it is a resume; no
//! handler ran after its job was decided (journaled) or final at the emulator. The totals
//! (runs, kills by point, kills mid-handler and between a final status and its
//! acknowledgement, resumes, wall time) are printed.

mod support;

use iotjobs_emulator::Emulator;
use serde_json::json;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use support::cbuild::manifest_dir;
use support::cprog::{emulator, host_port, limit, Finished, Programs, Running};

fn sources() -> Vec<PathBuf> {
    vec![manifest_dir().join("tests/c_e2e/agent_crash.c")]
}

static PROGRAMS: Programs = Programs::new("agent-crash", sources);

const RUNS: u64 = 50;
/// Kills per run before the device is left to finish.
const MAX_KILLS: usize = 6;

/// A job of a run: its id, steps and final status.
struct Spec {
    id: String,
    steps: u64,
    status: &'static str,
}

fn specs(run: u64) -> Vec<Spec> {
    [
        ("a", 3, "SUCCEEDED"),
        ("b", 2, "FAILED"),
        ("c", 2, "SUCCEEDED"),
    ]
    .into_iter()
    .map(|(name, steps, status)| Spec {
        id: format!("r{run}-{name}"),
        steps,
        status,
    })
    .collect()
}

/// Where an attempt is killed.
#[derive(Debug)]
enum Point {
    /// `after` the start.
    After(Duration),
    /// `then` after the `nth` output line containing `needle`.
    OnLine {
        needle: &'static str,
        nth: usize,
        then: Duration,
    },
    /// Replies delayed by `delay` once job `job` runs; the kill `then` after it is decided.
    FinalInFlight {
        job: usize,
        delay: Duration,
        then: Duration,
    },
}

impl Point {
    fn pick(rng: &mut fastrand::Rng) -> Point {
        let ms = Duration::from_millis;
        match rng.u8(0..5) {
            0 => Point::After(ms(rng.u64(0..700))),
            1 => Point::OnLine {
                needle: "] checkpoint ",
                nth: rng.usize(1..=4),
                then: ms(rng.u64(0..20)),
            },
            2 => Point::OnLine {
                needle: "] run ",
                nth: rng.usize(1..=3),
                then: ms(rng.u64(0..30)),
            },
            3 => {
                let delay = ms(rng.u64(150..400));
                Point::FinalInFlight {
                    job: rng.usize(0..3),
                    delay,
                    then: ms(rng.u64(0..delay.as_millis() as u64 / 2)),
                }
            }
            _ => Point::OnLine {
                needle: "event job_finished",
                nth: rng.usize(1..=3),
                then: Duration::ZERO,
            },
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Point::After(_) => "after a moment",
            Point::OnLine { needle, .. } if needle.contains("checkpoint") => "after a checkpoint",
            Point::OnLine { needle, .. } if needle.contains("run") => "in a handler",
            Point::OnLine { .. } => "after an acknowledgement",
            Point::FinalInFlight { .. } => "final status in flight",
        }
    }
}

/// One process of a run: its pid, output, and what the emulator showed final after it.
struct Attempt {
    pid: u32,
    out: Finished,
    final_after: HashSet<String>,
}

impl Attempt {
    fn printed(&self, what: &str, job: &str) -> bool {
        self.out.has(&format!("] {what} {job} "))
    }
}

/// One line of the count file: job, execution, resumed, step resumed from, pid.
struct Count {
    job: String,
    execution: u64,
    resumed: bool,
    from: u64,
    pid: u32,
}

fn counts(path: &Path) -> Vec<Count> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            let field = |i: usize, key: &str| -> u64 {
                w.get(i)
                    .and_then(|f| f.strip_prefix(key))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| panic!("bad count line {l:?}"))
            };
            assert_eq!(w.len(), 5, "bad count line {l:?}");
            assert!(w[2] == "start" || w[2] == "resumed", "bad count line {l:?}");
            Count {
                job: w[0].to_owned(),
                execution: field(1, ""),
                resumed: w[2] == "resumed",
                from: field(3, "from="),
                pid: field(4, "pid=") as u32,
            }
        })
        .collect()
}

fn finals(emu: &Emulator, thing: &str, jobs: &[Spec]) -> HashSet<String> {
    jobs.iter()
        .filter(|j| {
            emu.describe_execution(&j.id, thing)
                .is_some_and(|e| e["status"] == j.status)
        })
        .map(|j| j.id.clone())
        .collect()
}

/// The matrix's totals.
#[derive(Default)]
struct Totals {
    kills: usize,
    by_point: std::collections::BTreeMap<&'static str, usize>,
    mid_handler: usize,
    final_unacked: usize,
    resumes: usize,
    processes: usize,
}

/// Starts the device and kills it at `point`.
fn killed_attempt(emu: &Emulator, args: &[String], point: &Point, jobs: &[Spec]) -> Running {
    let mut run = PROGRAMS.start("agent_crash", args);
    let bound = limit(3);
    match point {
        Point::After(d) => std::thread::sleep(*d),
        Point::OnLine { needle, nth, then } => {
            for _ in 0..*nth {
                if run.try_wait_line(needle, bound).is_none() {
                    break;
                }
            }
            std::thread::sleep(*then);
        }
        Point::FinalInFlight { job, delay, then } => {
            let id = &jobs[*job].id;
            if run.try_wait_line(&format!("] run {id} "), bound).is_some() {
                emu.set_reply_delay(*delay);
                if run
                    .try_wait_line(&format!("] decided {id} "), bound + *delay * 8)
                    .is_some()
                {
                    std::thread::sleep(*then);
                }
            }
        }
    }
    run
}

fn one_run(emu: &Emulator, run_no: u64, seed: u64, totals: &mut Totals) {
    let mut rng = fastrand::Rng::with_seed(seed.wrapping_add(run_no));
    let thing = format!("crash-{run_no}");
    let jobs = specs(run_no);
    for j in &jobs {
        emu.create_job(
            &j.id,
            json!({"operation": "install", "steps": j.steps, "step_ms": 30,
                   "result": if j.status == "FAILED" { "fail" } else { "succeed" }}),
            &[&thing],
        )
        .unwrap();
    }
    let dir = support::scratch_dir(&format!("crash-{run_no}"), 0o700);
    let (journal, count, stop) = (dir.join("journal"), dir.join("count"), dir.join("stop"));
    let mut args = host_port(emu);
    args.push(thing.clone());
    for p in [&journal, &count, &stop] {
        args.push(p.to_string_lossy().into_owned());
    }

    let mut attempts: Vec<Attempt> = Vec::new();
    while attempts.len() < MAX_KILLS && finals(emu, &thing, &jobs).len() < jobs.len() {
        let point = Point::pick(&mut rng);
        let running = killed_attempt(emu, &args, &point, &jobs);
        let pid = running.pid();
        let out = running.kill();
        emu.set_reply_delay(Duration::ZERO);
        assert_eq!(
            out.signal,
            Some(9),
            "run {run_no}: not killed:\n{}",
            out.text()
        );
        totals.kills += 1;
        *totals.by_point.entry(point.name()).or_default() += 1;
        for j in &jobs {
            let ran = out.has(&format!("] run {} ", j.id));
            let decided = out.has(&format!("] decided {} ", j.id));
            let acked = out.has(&format!("event job_finished job={} ", j.id));
            if ran && !decided {
                totals.mid_handler += 1;
            }
            if decided && !acked {
                totals.final_unacked += 1;
            }
        }
        let final_after = finals(emu, &thing, &jobs);
        attempts.push(Attempt {
            pid,
            out,
            final_after,
        });
    }

    // Left to finish, then stopped cleanly: nothing may be left under way.
    let mut last = PROGRAMS.start("agent_crash", &args);
    let pid = last.pid();
    let done = support::wait_until(limit(30), || finals(emu, &thing, &jobs).len() == jobs.len());
    std::fs::write(&stop, b"stop").unwrap();
    last.try_wait_line("] stopped ", limit(30));
    let out = last.finish(limit(30));
    assert!(
        done,
        "run {run_no} (seed {seed}): jobs not final:\n{}",
        out.text()
    );
    out.assert_checks(3);
    out.assert_has("] stopped rc=0");
    attempts.push(Attempt {
        pid,
        out,
        final_after: finals(emu, &thing, &jobs),
    });
    totals.processes += attempts.len();

    let ctx = |what: String| format!("run {run_no} (seed {seed}): {what}");
    // Every job is final, with the status and details of its last step; none in progress.
    for j in &jobs {
        let e = emu.describe_execution(&j.id, &thing).unwrap();
        assert_eq!(e["status"], j.status, "{}", ctx(format!("{e}")));
        assert_eq!(
            e["statusDetails"]["step"],
            format!("{}/{}", j.steps, j.steps),
            "{}",
            ctx(format!("{e}"))
        );
    }
    let in_progress: Vec<_> = emu
        .list_executions()
        .into_iter()
        .filter(|e| e["thingName"] == thing.as_str() && e["status"] == "IN_PROGRESS")
        .collect();
    assert!(
        in_progress.is_empty(),
        "{}",
        ctx(format!("{in_progress:?}"))
    );

    // The count file against the attempts.
    let lines = counts(&count);
    let attempt_of = |pid: u32| {
        attempts
            .iter()
            .position(|a| a.pid == pid)
            .unwrap_or_else(|| panic!("{}", ctx(format!("no attempt has pid {pid}"))))
    };
    for j in &jobs {
        let runs: Vec<&Count> = lines.iter().filter(|c| c.job == j.id).collect();
        assert!(!runs.is_empty(), "{}", ctx(format!("{} never ran", j.id)));
        let fresh = runs.iter().filter(|c| !c.resumed).count();
        assert!(
            fresh <= 1,
            "{}",
            ctx(format!("{} ran fresh {fresh} times", j.id))
        );
        assert!(
            runs[1..].iter().all(|c| c.resumed),
            "{}",
            ctx(format!("{} ran fresh after a resume", j.id))
        );
        let mut seen = HashSet::new();
        for c in &runs {
            assert_eq!(c.execution, 1, "{}", ctx(c.job.clone()));
            assert!(
                c.from <= j.steps,
                "{}",
                ctx(format!("{} from {}", c.job, c.from))
            );
            let a = attempt_of(c.pid);
            assert!(
                seen.insert(a),
                "{}",
                ctx(format!("{} ran twice in one process", j.id))
            );
            for (b, earlier) in attempts[..a].iter().enumerate() {
                assert!(
                    !earlier.printed("decided", &j.id),
                    "{}",
                    ctx(format!(
                        "{} ran in process {a} after process {b} decided it",
                        j.id
                    ))
                );
                assert!(
                    !earlier.final_after.contains(&j.id),
                    "{}",
                    ctx(format!(
                        "{} ran in process {a} after it was final at the service",
                        j.id
                    ))
                );
            }
            if c.resumed {
                totals.resumes += 1;
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn killed_at_random_points_every_job_ends_once_and_never_runs_after_it_finished() {
    let seed = std::env::var("IOTJOBS_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    println!("crash matrix: seed {seed} (IOTJOBS_CRASH_SEED={seed} repeats it)");
    let started = Instant::now();
    let emu = emulator();
    let mut totals = Totals::default();
    for run_no in 0..RUNS {
        one_run(&emu, run_no, seed, &mut totals);
    }
    let elapsed = started.elapsed();
    println!(
        "crash matrix: {RUNS} runs, {} processes, {} kills ({:?}), {} mid-handler, {} between \
         a final status and its acknowledgement, {} resumes, {elapsed:.1?}",
        totals.processes,
        totals.kills,
        totals.by_point,
        totals.mid_handler,
        totals.final_unacked,
        totals.resumes
    );
    assert!(totals.kills >= RUNS as usize, "a kill per run at least");
    assert!(totals.mid_handler > 0, "no kill landed in a handler");
    assert!(
        totals.final_unacked > 0,
        "no kill landed between a final status and its acknowledgement"
    );
    assert!(totals.resumes > 0, "no job was resumed");
}
