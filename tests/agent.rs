//! The job agent against the emulator, through the Rust API: jobs run to one final status,
//! progress coalesces, cancellations reach the handler, bad documents and unknown operations
//! are rejected, a restart resumes from the journal, and a retried execution runs again.

use iotjobs::error::jobs_result;
use iotjobs::jobs::agent::machine::AgentEvent;
use iotjobs::jobs::agent::{Agent, AgentConfig, Job, Registration};
use iotjobs::jobs::types::{AgentEventKind, ExecutionStatus, ResumePolicy};
use iotjobs::jobs::validate::StatusDetails;
use iotjobs::mqtt::config::ConnectionConfig;
use iotjobs::mqtt::connection::Connection;
use iotjobs::mqtt::types::{Callbacks, TransportKind};
use iotjobs_emulator::{Emulator, EmulatorConfig, JobOptions, RetryConfig};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn emulator() -> Emulator {
    Emulator::start(EmulatorConfig::default()).unwrap()
}

fn connection(emu: &Emulator, client_id: &str) -> Connection {
    let addr = emu.mqtt_addr();
    let conn = Connection::new(
        ConnectionConfig {
            host: addr.ip().to_string(),
            port: addr.port(),
            transport: TransportKind::Tcp,
            client_id: client_id.into(),
            connect_timeout: Duration::from_secs(10),
            ..ConnectionConfig::default()
        },
        Callbacks::default(),
    )
    .unwrap();
    conn.connect().unwrap();
    conn
}

fn config(journal: Option<PathBuf>) -> AgentConfig {
    AgentConfig {
        journal_path: journal,
        request_timeout: Duration::from_secs(5),
        backoff_base: Duration::from_millis(50),
        backoff_max: Duration::from_millis(500),
        ..AgentConfig::default()
    }
}

fn details(json: Value) -> StatusDetails {
    StatusDetails::parse(&json.to_string()).unwrap()
}

fn handler(f: impl Fn(&Arc<Job>) + Send + Sync + 'static) -> Registration {
    Registration {
        run: Arc::new(f),
        on_cancel: None,
        resume: ResumePolicy::Resume,
    }
}

/// Collects agent events.
fn events(agent: &Agent) -> Arc<Mutex<Vec<AgentEvent>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let keep = seen.clone();
    agent
        .set_event_handler(Some(Arc::new(move |e: &AgentEvent| {
            keep.lock().unwrap().push(e.clone())
        })))
        .unwrap();
    seen
}

fn status(emu: &Emulator, job: &str, thing: &str) -> String {
    emu.describe_execution(job, thing)
        .map(|e| e["status"].as_str().unwrap_or("").to_owned())
        .unwrap_or_default()
}

/// Polls until `job` on `thing` has `want`, within `secs`.
fn wait_status(emu: &Emulator, job: &str, thing: &str, want: &str, secs: u64) -> Value {
    let end = Instant::now() + Duration::from_secs(secs);
    loop {
        let e = emu.describe_execution(job, thing).unwrap_or(Value::Null);
        if e["status"] == want {
            return e;
        }
        assert!(Instant::now() < end, "{job} never reached {want}: {e}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("iotjobs-agent-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn jobs_run_to_their_final_status_in_order_with_progress() {
    let emu = emulator();
    let thing = "agent-ok";
    for (id, steps) in [("a1", 3), ("a2", 5)] {
        emu.create_job(
            id,
            json!({"operation": "install", "steps": steps}),
            &[thing],
        )
        .unwrap();
    }
    let conn = connection(&emu, thing);
    let agent = Agent::new(conn.clone(), thing, None, 1, config(None)).unwrap();
    let seen = events(&agent);
    let order = Arc::new(Mutex::new(Vec::new()));
    let o = order.clone();
    agent
        .set_handler(
            Some("install"),
            Some(handler(move |job| {
                o.lock().unwrap().push(job.job_id().to_owned());
                let doc: Value = serde_json::from_str(job.document()).unwrap();
                let steps = doc["steps"].as_u64().unwrap();
                for i in 1..=steps {
                    job.progress(details(json!({"step": format!("{i}/{steps}")})), None)
                        .unwrap();
                }
                job.finish(ExecutionStatus::Succeeded, details(json!({"step": "done"})))
                    .unwrap();
                // After the final status, further calls are refused.
                let e = job.progress(StatusDetails::default(), None).unwrap_err();
                assert_eq!(e.code, jobs_result::JobEnded);
            })),
        )
        .unwrap();
    agent.start().unwrap();
    wait_status(&emu, "a1", thing, "SUCCEEDED", 20);
    let e = wait_status(&emu, "a2", thing, "SUCCEEDED", 20);
    assert_eq!(e["statusDetails"]["step"], "done");
    assert!(
        agent.stop(Duration::from_secs(5)).unwrap(),
        "nothing left under way"
    );
    assert_eq!(
        *order.lock().unwrap(),
        ["a1", "a2"],
        "one at a time, in order"
    );
    let c = agent.counters();
    assert_eq!((c.started, c.finished), (2, 2));
    assert!(c.progress_sent >= 2, "{c:?}");
    std::thread::sleep(Duration::from_millis(100));
    let finished: Vec<_> = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|e| e.kind == AgentEventKind::JobFinished)
        .map(|e| (e.key.clone().unwrap().job_id, e.status))
        .collect();
    assert_eq!(
        finished,
        [
            ("a1".to_owned(), ExecutionStatus::Succeeded),
            ("a2".to_owned(), ExecutionStatus::Succeeded)
        ]
    );
    agent.close();
    conn.close();
}

#[test]
fn a_job_is_taken_when_it_is_created_after_the_agent_started() {
    let emu = emulator();
    let thing = "agent-late";
    let conn = connection(&emu, thing);
    let agent = Agent::new(conn.clone(), thing, None, 1, config(None)).unwrap();
    agent
        .set_handler(
            None,
            Some(handler(|job| {
                job.finish(ExecutionStatus::Succeeded, StatusDetails::default())
                    .unwrap()
            })),
        )
        .unwrap();
    agent.start().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    emu.create_job("late", json!({"operation": "anything"}), &[thing])
        .unwrap();
    wait_status(&emu, "late", thing, "SUCCEEDED", 20);
    agent.close();
    conn.close();
}

#[test]
fn bad_documents_unknown_operations_and_silent_handlers_end_with_a_reason() {
    let emu = emulator();
    let thing = "agent-bad";
    emu.create_job("no-op", json!({"steps": 1}), &[thing])
        .unwrap();
    emu.create_job("unknown", json!({"operation": "paint"}), &[thing])
        .unwrap();
    emu.create_job("silent", json!({"operation": "install"}), &[thing])
        .unwrap();
    let conn = connection(&emu, thing);
    let agent = Agent::new(conn.clone(), thing, None, 1, config(None)).unwrap();
    agent
        .set_handler(Some("install"), Some(handler(|_job| {})))
        .unwrap();
    agent.start().unwrap();
    let e = wait_status(&emu, "no-op", thing, "REJECTED", 20);
    assert!(
        e["statusDetails"]["reason"]
            .as_str()
            .unwrap()
            .contains("no operation"),
        "{e}"
    );
    let e = wait_status(&emu, "unknown", thing, "REJECTED", 20);
    assert!(e["statusDetails"]["reason"]
        .as_str()
        .unwrap()
        .contains("paint"));
    let e = wait_status(&emu, "silent", thing, "FAILED", 20);
    assert!(e["statusDetails"]["reason"]
        .as_str()
        .unwrap()
        .contains("without a final status"));
    assert_eq!(agent.counters().rejected, 2);
    agent.close();
    conn.close();
}

#[test]
fn a_cancelled_job_reaches_its_handler_within_a_second_and_later_updates_are_refused() {
    let emu = emulator();
    let thing = "agent-cancel";
    emu.create_job("long", json!({"operation": "install"}), &[thing])
        .unwrap();
    let conn = connection(&emu, thing);
    let agent = Agent::new(conn.clone(), thing, None, 1, config(None)).unwrap();
    let (told_tx, told_rx) = channel::<Instant>();
    let (result_tx, result_rx) = channel::<jobs_result>();
    let told_tx = Mutex::new(told_tx);
    agent
        .set_handler(
            Some("install"),
            Some(Registration {
                run: Arc::new(move |job: &Arc<Job>| {
                    let end = Instant::now() + Duration::from_secs(20);
                    while !job.is_cancelled() && Instant::now() < end {
                        let _ = job.progress(details(json!({"tick": "1"})), None);
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    let r = job.finish(ExecutionStatus::Succeeded, StatusDetails::default());
                    let _ = result_tx.send(r.map_or_else(|e| e.code, |_| jobs_result::Ok));
                }),
                on_cancel: Some(Arc::new(move |job: &Arc<Job>| {
                    assert_eq!(job.cancelled_status(), ExecutionStatus::Canceled);
                    let _ = told_tx.lock().unwrap().send(Instant::now());
                })),
                resume: ResumePolicy::Resume,
            }),
        )
        .unwrap();
    agent.start().unwrap();
    wait_status(&emu, "long", thing, "IN_PROGRESS", 20);
    std::thread::sleep(Duration::from_millis(200));
    let cancelled_at = Instant::now();
    emu.cancel_job("long", true).unwrap();
    let told = told_rx.recv_timeout(Duration::from_secs(10)).expect("told");
    assert!(
        told - cancelled_at < Duration::from_secs(1),
        "told after {:?}",
        told - cancelled_at
    );
    assert_eq!(
        result_rx.recv_timeout(Duration::from_secs(10)).unwrap(),
        jobs_result::Cancelled
    );
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        status(&emu, "long", thing),
        "CANCELED",
        "no update after the cancel"
    );
    assert_eq!(agent.counters().cancelled, 1);
    agent.close();
    conn.close();
}

#[test]
fn a_failed_execution_retried_by_the_service_runs_again_under_its_new_number() {
    let emu = emulator();
    let thing = "agent-retry";
    emu.create_job_with(
        "flaky",
        json!({"operation": "install"}),
        &[thing],
        JobOptions {
            retry: RetryConfig {
                failed: Some(1),
                ..Default::default()
            },
            ..Default::default()
        },
    )
    .unwrap();
    let conn = connection(&emu, thing);
    let agent = Agent::new(conn.clone(), thing, None, 1, config(None)).unwrap();
    let runs = Arc::new(Mutex::new(Vec::new()));
    let r = runs.clone();
    agent
        .set_handler(
            Some("install"),
            Some(handler(move |job| {
                r.lock().unwrap().push(job.execution_number());
                let status = if job.execution_number() == 1 {
                    ExecutionStatus::Failed
                } else {
                    ExecutionStatus::Succeeded
                };
                job.finish(status, StatusDetails::default()).unwrap();
            })),
        )
        .unwrap();
    agent.start().unwrap();
    let end = Instant::now() + Duration::from_secs(20);
    while emu
        .describe_execution_number("flaky", thing, 2)
        .is_none_or(|e| e["status"] != "SUCCEEDED")
    {
        assert!(Instant::now() < end, "{:?}", emu.list_executions());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(*runs.lock().unwrap(), [1, 2]);
    agent.close();
    conn.close();
}

/// Runs an agent whose handler checkpoints and then blocks until released: stopping it while
/// the handler runs leaves the job in the journal, as a power cut would.
fn interrupted_run(emu: &Emulator, thing: &str, journal: &std::path::Path) {
    let conn = connection(emu, thing);
    let agent = Arc::new(
        Agent::new(
            conn.clone(),
            thing,
            None,
            1,
            config(Some(journal.to_path_buf())),
        )
        .unwrap(),
    );
    let (started_tx, started_rx) = channel::<()>();
    let (release_tx, release_rx) = channel::<()>();
    let started_tx = Mutex::new(started_tx);
    let release_rx = Mutex::new(release_rx);
    agent
        .set_handler(
            Some("firmware"),
            Some(handler(move |job| {
                assert!(!job.resumed());
                job.checkpoint(b"image written; rebooting").unwrap();
                let _ = started_tx.lock().unwrap().send(());
                let _ = release_rx
                    .lock()
                    .unwrap()
                    .recv_timeout(Duration::from_secs(20));
            })),
        )
        .unwrap();
    agent.start().unwrap();
    started_rx.recv_timeout(Duration::from_secs(20)).unwrap();
    // Stop with the handler still running; release it only once the agent thread is gone, so
    // its return is never recorded (as with a process that died).
    let stopper = {
        let agent = agent.clone();
        std::thread::spawn(move || agent.stop(Duration::ZERO))
    };
    std::thread::sleep(Duration::from_millis(300));
    release(&release_tx);
    assert!(
        !stopper.join().unwrap().unwrap(),
        "a job was left under way"
    );
    agent.close();
    conn.close();
}

fn release(tx: &Sender<()>) {
    let _ = tx.send(());
}

#[test]
fn after_a_restart_the_job_resumes_from_its_checkpoint_and_is_confirmed() {
    let emu = emulator();
    let thing = "agent-resume";
    let dir = temp_dir("resume");
    let journal = dir.join("journal");
    emu.create_job(
        "fw-1",
        json!({"operation": "firmware", "version": "2.0"}),
        &[thing],
    )
    .unwrap();
    interrupted_run(&emu, thing, &journal);
    assert_eq!(status(&emu, "fw-1", thing), "IN_PROGRESS");

    let conn = connection(&emu, thing);
    let agent = Agent::new(conn.clone(), thing, None, 1, config(Some(journal.clone()))).unwrap();
    let seen = events(&agent);
    agent
        .set_handler(
            Some("firmware"),
            Some(handler(|job| {
                assert!(job.resumed());
                assert_eq!(
                    job.saved_checkpoint(),
                    Some(&b"image written; rebooting"[..])
                );
                let doc: Value = serde_json::from_str(job.document()).unwrap();
                assert_eq!(
                    doc["version"], "2.0",
                    "the document comes back with the job"
                );
                job.finish(
                    ExecutionStatus::Succeeded,
                    details(json!({"version": "2.0"})),
                )
                .unwrap();
            })),
        )
        .unwrap();
    agent.start().unwrap();
    let e = wait_status(&emu, "fw-1", thing, "SUCCEEDED", 20);
    assert_eq!(e["statusDetails"]["version"], "2.0");
    assert!(agent.stop(Duration::from_secs(5)).unwrap());
    assert_eq!(agent.counters().resumed, 1);
    assert!(seen
        .lock()
        .unwrap()
        .iter()
        .any(|e| e.kind == AgentEventKind::JobResumed));
    agent.close();

    // Started again, nothing runs twice.
    emu.create_job("fw-2", json!({"operation": "firmware"}), &[thing])
        .unwrap();
    let agent = Agent::new(conn.clone(), thing, None, 1, config(Some(journal.clone()))).unwrap();
    let ran = Arc::new(Mutex::new(Vec::new()));
    let r = ran.clone();
    agent
        .set_handler(
            Some("firmware"),
            Some(handler(move |job| {
                r.lock().unwrap().push(job.job_id().to_owned());
                job.finish(ExecutionStatus::Succeeded, StatusDetails::default())
                    .unwrap();
            })),
        )
        .unwrap();
    agent.start().unwrap();
    wait_status(&emu, "fw-2", thing, "SUCCEEDED", 20);
    assert!(agent.stop(Duration::from_secs(5)).unwrap());
    assert_eq!(*ran.lock().unwrap(), ["fw-2"]);
    agent.close();
    conn.close();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_job_registered_to_fail_on_resume_ends_failed_after_a_restart() {
    let emu = emulator();
    let thing = "agent-nores";
    let dir = temp_dir("noresume");
    let journal = dir.join("journal");
    emu.create_job("fw", json!({"operation": "firmware"}), &[thing])
        .unwrap();
    interrupted_run(&emu, thing, &journal);
    let conn = connection(&emu, thing);
    let agent = Agent::new(conn.clone(), thing, None, 1, config(Some(journal))).unwrap();
    agent
        .set_handler(
            Some("firmware"),
            Some(Registration {
                run: Arc::new(|_job: &Arc<Job>| panic!("must not run again")),
                on_cancel: None,
                resume: ResumePolicy::Fail,
            }),
        )
        .unwrap();
    agent.start().unwrap();
    let e = wait_status(&emu, "fw", thing, "FAILED", 20);
    assert!(e["statusDetails"]["reason"]
        .as_str()
        .unwrap()
        .contains("restart"));
    agent.close();
    conn.close();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_corrupt_journal_is_set_aside_and_reported_and_the_agent_goes_on() {
    let emu = emulator();
    let thing = "agent-corrupt";
    let dir = temp_dir("corrupt");
    let journal = dir.join("journal");
    std::fs::write(&journal, b"iotjobs-journal 1 999 0\n{garbage").unwrap();
    emu.create_job("j", json!({"operation": "install"}), &[thing])
        .unwrap();
    let conn = connection(&emu, thing);
    let agent = Agent::new(conn.clone(), thing, None, 1, config(Some(journal.clone()))).unwrap();
    let seen = events(&agent);
    agent
        .set_handler(
            None,
            Some(handler(|job| {
                job.finish(ExecutionStatus::Succeeded, StatusDetails::default())
                    .unwrap()
            })),
        )
        .unwrap();
    agent.start().unwrap();
    wait_status(&emu, "j", thing, "SUCCEEDED", 20);
    std::thread::sleep(Duration::from_millis(100));
    assert!(seen
        .lock()
        .unwrap()
        .iter()
        .any(|e| e.kind == AgentEventKind::JournalError && e.reason.contains("set aside")));
    let set_aside = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .any(|e| e.file_name().to_string_lossy().contains(".corrupt-"));
    assert!(set_aside, "renamed, not deleted");
    agent.close();
    conn.close();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn registration_rules_are_enforced() {
    let emu = emulator();
    let conn = connection(&emu, "agent-rules");
    let agent = Agent::new(conn.clone(), "agent-rules", None, 1, config(None)).unwrap();
    assert_eq!(
        agent.start().unwrap_err().code,
        jobs_result::InvalidState,
        "no handler"
    );
    agent.set_handler(Some("x"), Some(handler(|_| {}))).unwrap();
    assert_eq!(
        agent
            .set_handler(Some("x"), Some(handler(|_| {})))
            .unwrap_err()
            .code,
        jobs_result::InvalidState,
        "registered twice"
    );
    assert_eq!(
        agent
            .set_handler(Some(""), Some(handler(|_| {})))
            .unwrap_err()
            .code,
        jobs_result::InvalidArgument
    );
    agent.start().unwrap();
    assert_eq!(agent.start().unwrap_err().code, jobs_result::InvalidState);
    assert_eq!(
        agent
            .set_handler(Some("y"), Some(handler(|_| {})))
            .unwrap_err()
            .code,
        jobs_result::InvalidState,
        "while running"
    );
    assert!(agent.stop(Duration::from_secs(1)).unwrap());
    assert_eq!(
        agent.stop(Duration::ZERO).unwrap_err().code,
        jobs_result::InvalidState
    );
    // One running agent per journal file.
    let dir = temp_dir("shared-journal");
    let journal = dir.join("journal");
    let first = Agent::new(
        conn.clone(),
        "agent-rules",
        None,
        1,
        config(Some(journal.clone())),
    )
    .unwrap();
    let second = Agent::new(
        conn.clone(),
        "agent-rules-2",
        None,
        1,
        config(Some(dir.join(".").join("journal"))),
    )
    .unwrap();
    for a in [&first, &second] {
        a.set_handler(None, Some(handler(|_| {}))).unwrap();
    }
    first.start().unwrap();
    assert_eq!(second.start().unwrap_err().code, jobs_result::InvalidState);
    assert!(first.stop(Duration::from_secs(1)).unwrap());
    second.start().unwrap();
    second.close();
    first.close();
    let _ = std::fs::remove_dir_all(&dir);
    let bad = AgentConfig {
        operation_path: "a[".into(),
        ..AgentConfig::default()
    };
    assert_eq!(
        Agent::new(conn.clone(), "agent-rules", None, 1, bad)
            .err()
            .unwrap()
            .code,
        jobs_result::InvalidPath
    );
    agent.close();
    conn.close();
}

#[test]
fn a_stop_made_as_a_job_starts_waits_for_its_acknowledged_final_status() {
    let emu = emulator();
    let thing = "agent-stop";
    emu.create_job("s1", json!({"operation": "install"}), &[thing])
        .unwrap();
    let conn = connection(&emu, thing);
    let agent = Agent::new(conn.clone(), thing, None, 1, config(None)).unwrap();
    let (started_tx, started_rx) = channel::<()>();
    let started_tx = Mutex::new(started_tx);
    agent
        .set_handler(
            None,
            Some(handler(move |job| {
                let _ = started_tx.lock().unwrap().send(());
                std::thread::sleep(Duration::from_millis(200));
                job.finish(ExecutionStatus::Succeeded, StatusDetails::default())
                    .unwrap();
            })),
        )
        .unwrap();
    agent.start().unwrap();
    started_rx.recv_timeout(Duration::from_secs(20)).unwrap();
    assert!(
        agent.stop(Duration::from_secs(20)).unwrap(),
        "nothing left under way"
    );
    assert_eq!(
        status(&emu, "s1", thing),
        "SUCCEEDED",
        "acknowledged before stop returned"
    );
    agent.close();
    conn.close();
}
