//! The job agent through its C API, end to end against the emulator: `tests/c_e2e/agent_*.c`
//! (compiled once per test process as strict C99; `jobs_e2e.rs` also checks them as C++11).
//!
//! Each test sets jobs up through the emulator's control API, runs `agent_jobs` (one agent
//! whose handler does what each job document says, printing the handler's steps and the
//! agent's events with times) or `agent_bad_input`, and checks the program's exit status and
//! check summary, its output and the emulator's final state. Faults are sequenced with the
//! agent's phases through its output (the handler prints `WAIT <job> <step>` and waits for a
//! file this test creates). Job documents AWS could never send (not JSON, not an object, over
//! the size limit) come from the test itself, answering the agent's start-next in the
//! service's place.
//!
//! Environment: as `jobs_e2e.rs` (`CC`, `IOTJOBS_C_TEST_WRAPPER`, `IOTJOBS_C_TEST_CFLAGS`).

mod support;

use iotjobs_emulator::{Dir, Emulator, EmulatorConfig, JobOptions, Packet, RetryConfig};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use support::cbuild::c_files;
use support::cprog::{
    emulator, emulator_with, execution, host_port, limit, publishes_in, scale, status_of, Finished,
    Programs, Running,
};

fn sources() -> Vec<PathBuf> {
    c_files("tests/c_e2e")
        .into_iter()
        .filter(|p| {
            let stem = p.file_stem().unwrap().to_string_lossy();
            stem == "agent_jobs" || stem == "agent_bad_input"
        })
        .collect()
}

static PROGRAMS: Programs = Programs::new("agent-c", sources);

/// Starts `agent_jobs` for `thing` with `extra` options.
fn agent(emu: &Emulator, thing: &str, extra: &[&str]) -> Running {
    let mut args = host_port(emu);
    args.push(thing.to_owned());
    args.extend(extra.iter().map(|s| s.to_string()));
    args.extend(["--timeout".to_owned(), limit(60).as_secs().to_string()]);
    PROGRAMS.start("agent_jobs", &args)
}

/// A new directory for this test's files (sentinels, journals).
fn scratch(name: &str) -> PathBuf {
    support::scratch_dir(name, 0o700)
}

fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// Creates the file the handler waits for.
fn release(p: &Path) {
    std::fs::write(p, b"go").unwrap_or_else(|e| panic!("{}: {e}", p.display()));
}

/// The agent's events of `kind` in the program's output.
fn events<'a>(out: &'a Finished, kind: &str) -> Vec<&'a str> {
    out.lines_with(&format!(" event {kind} "))
}

/// The number after `name=` in the program's `counters` line.
fn counter(out: &Finished, name: &str) -> u64 {
    let line = out
        .lines_with("] counters ")
        .pop()
        .unwrap_or_else(|| panic!("no counters line:\n{}", out.text()));
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(&format!("{name}=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {line}"))
}

/// The seconds stamp (`[12.345]`) at the start of a program's line.
fn stamp(line: &str) -> f64 {
    line.trim_start_matches('[')
        .split(']')
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no time stamp in {line:?}"))
}

/// Waits until `f` holds (bounded by `limit(secs)`), or fails with `what`.
fn wait(what: &str, secs: u64, f: impl Fn() -> bool) {
    assert!(support::wait_until(limit(secs), f), "{what} never happened");
}

/// Jobs requests `client` sent to a topic ending in `suffix`, as (topic, payload).
fn requests(emu: &Emulator, client: &str, suffix: &str) -> Vec<Value> {
    emu.records()
        .into_iter()
        .filter(|r| r.dir == Dir::In && r.client_id == client)
        .filter_map(|r| match r.packet {
            Packet::Publish(p) if p.topic.ends_with(suffix) => {
                serde_json::from_slice(&p.payload).ok()
            }
            _ => None,
        })
        .collect()
}

/// Replies the emulator sent to `client` on a topic ending in `suffix`.
fn replies(emu: &Emulator, client: &str, suffix: &str) -> Vec<Value> {
    emu.records()
        .into_iter()
        .filter(|r| r.dir == Dir::Out && r.client_id == client)
        .filter_map(|r| match r.packet {
            Packet::Publish(p) if p.topic.ends_with(suffix) => {
                serde_json::from_slice(&p.payload).ok()
            }
            _ => None,
        })
        .collect()
}

fn reason(e: &Value) -> String {
    e["statusDetails"]["reason"]
        .as_str()
        .unwrap_or("")
        .to_owned()
}

// ---------------------------------------------------------------- outcomes

#[test]
fn jobs_succeed_and_fail_with_their_details_and_one_final_update_each() {
    let emu = emulator();
    let thing = "agent-c-ok";
    emu.create_job(
        "ok-1",
        json!({"operation": "install", "steps": 3, "step_ms": 20}),
        &[thing],
    )
    .unwrap();
    emu.create_job(
        "fail-2",
        json!({"operation": "install", "steps": 2, "result": "fail"}),
        &[thing],
    )
    .unwrap();
    emu.create_job(
        "silent-3",
        json!({"operation": "install", "result": "return"}),
        &[thing],
    )
    .unwrap();
    let out = agent(&emu, thing, &["--jobs", "3"]).finish(limit(60));
    out.assert_checks(10);
    let ok = execution(&emu, "ok-1", thing);
    assert_eq!(ok["status"], "SUCCEEDED", "{ok}");
    assert_eq!(ok["statusDetails"]["step"], "3/3");
    assert_eq!(ok["statusDetails"]["by"], "agent_jobs");
    let fail = execution(&emu, "fail-2", thing);
    assert_eq!(fail["status"], "FAILED", "{fail}");
    assert_eq!(fail["statusDetails"]["step"], "2/2");
    let silent = execution(&emu, "silent-3", thing);
    assert_eq!(silent["status"], "FAILED", "{silent}");
    assert!(
        reason(&silent).contains("without a final status"),
        "{silent}"
    );
    // Jobs ran one at a time, in order, each finished once.
    let runs: Vec<&str> = out
        .lines_with("] run ")
        .iter()
        .map(|l| l.split_whitespace().nth(2).unwrap())
        .collect();
    assert_eq!(runs, ["ok-1", "fail-2", "silent-3"], "{}", out.text());
    let finished = events(&out, "job_finished");
    assert_eq!(finished.len(), 3, "{}", out.text());
    assert!(finished[0].contains("job=ok-1") && finished[0].contains("status=SUCCEEDED"));
    assert!(finished[1].contains("job=fail-2") && finished[1].contains("status=FAILED"));
    assert_eq!(counter(&out, "started"), 3);
    assert_eq!(counter(&out, "finished"), 3);
    // Every acknowledged progress update is one the service applied: each execution went
    // through start-next (version 2), its progress, and one final update. (Progress not yet
    // sent when the final status is decided is replaced by it.)
    let applied: u64 = ["ok-1", "fail-2", "silent-3"]
        .iter()
        .map(|j| execution(&emu, j, thing)["versionNumber"].as_u64().unwrap() - 3)
        .sum();
    assert_eq!(counter(&out, "progress"), applied, "{}", out.text());
    assert!(applied >= 2, "{}", out.text());
    for job in ["ok-1", "fail-2", "silent-3"] {
        let finals = publishes_in(
            &emu,
            thing,
            &format!("/{job}/update"),
            "\"status\":\"SUCCEEDED\"",
        ) + publishes_in(
            &emu,
            thing,
            &format!("/{job}/update"),
            "\"status\":\"FAILED\"",
        );
        assert_eq!(finals, 1, "{job}: one final update");
    }
}

#[test]
fn bad_input_at_every_agent_entry_point_returns_the_documented_code() {
    let emu = emulator();
    let thing = "agent-bad-input";
    emu.create_job("agent-bad-1", json!({"operation": "install"}), &[thing])
        .unwrap();
    let dir = scratch("bad-input");
    let mut args = host_port(&emu);
    args.push(path_str(&dir));
    let out = PROGRAMS.start("agent_bad_input", &args).finish(limit(60));
    out.assert_checks(150);
    out.assert_has("ok bad input refused at every agent entry point");
    let e = execution(&emu, "agent-bad-1", thing);
    assert_eq!(e["status"], "SUCCEEDED", "{e}");
    assert_eq!(e["statusDetails"]["by"], "agent_bad_input", "{e}");
    // Only the one progress update the checks allowed went out before the final status: the
    // refused calls sent nothing.
    let updates = requests(&emu, thing, "/agent-bad-1/update");
    assert_eq!(updates.len(), 2, "{updates:?}");
    assert_eq!(updates[0]["statusDetails"]["step"], "bad input refused");
    assert_eq!(updates[1]["status"], "SUCCEEDED");
}

/// The clientToken of the first start-next `client` sent, once it did.
fn start_next_token(emu: &Emulator, client: &str) -> String {
    let token = || {
        requests(emu, client, "/jobs/start-next")
            .first()
            .and_then(|r| r["clientToken"].as_str().map(str::to_owned))
    };
    wait("a start-next request", 20, || token().is_some());
    token().unwrap()
}

/// Answers the agent's start-next in the service's place, with `document` (raw JSON text) as
/// the execution's job document: the emulator only keeps documents AWS would, so a document
/// AWS could never send comes this way. The emulator applied the start-next (its own reply
/// was dropped), so the agent's final update lands on the real execution.
fn answer_start_next(emu: &Emulator, thing: &str, job: &str, document: &str, run: &Running) {
    let token = start_next_token(emu, thing);
    let applied = support::wait_until(limit(20), || {
        emu.describe_execution(job, thing)
            .is_some_and(|e| e["status"] == "IN_PROGRESS")
    });
    assert!(
        applied,
        "{job}: {:?}\n{:?}\n{:?}\n{}",
        emu.describe_execution(job, thing),
        requests(emu, thing, "/jobs/start-next"),
        replies(emu, thing, "/jobs/start-next/accepted"),
        run.output_so_far()
    );
    // The agent waits for its answer: it asked once.
    assert_eq!(requests(emu, thing, "/jobs/start-next").len(), 1);
    let payload = format!(
        r#"{{"clientToken":{},"timestamp":1,"execution":{{"jobId":"{job}","thingName":"{thing}","status":"IN_PROGRESS","queuedAt":1,"startedAt":1,"lastUpdatedAt":1,"versionNumber":2,"executionNumber":1,"jobDocument":{document}}}}}"#,
        Value::String(token)
    );
    emu.publish(
        &format!("$aws/things/{thing}/jobs/start-next/accepted"),
        payload.as_bytes(),
        1,
    );
}

/// A document `depth` objects deep, with a valid operation at the top.
fn deep_document(depth: usize) -> Value {
    let mut v = json!("bottom");
    for _ in 0..depth {
        v = json!({ "a": v });
    }
    json!({"operation": "install", "deep": v})
}

#[test]
fn documents_that_are_not_json_not_an_object_huge_or_too_deep_are_rejected_with_a_reason() {
    let emu = emulator();
    // Through the emulator: deeper than the document parser allows.
    let thing = "agent-c-deep";
    emu.create_job("deep-1", deep_document(300), &[thing])
        .unwrap();
    let out = agent(&emu, thing, &[]).finish(limit(60));
    out.assert_checks(5);
    out.assert_lacks("] run ");
    let e = execution(&emu, "deep-1", thing);
    assert_eq!(e["status"], "REJECTED", "{}", out.text());
    assert!(
        reason(&e).starts_with("the job document is not JSON: recursion limit exceeded"),
        "{e}"
    );
    assert_eq!(counter(&out, "rejected"), 1);
    assert_eq!(events(&out, "job_rejected").len(), 1, "{}", out.text());

    // In the service's place: what AWS would never send.
    let huge = format!(
        r#"{{"operation":"install","blob":"{}"}}"#,
        "x".repeat(1100 * 1024)
    );
    let huge_why = format!(
        "the job document is {} bytes, over the 1048576-byte limit",
        huge.len()
    );
    for (thing, job, document, why) in [
        (
            "agent-c-notjson",
            "notjson-1",
            "1e999".to_owned(),
            "the job document is not JSON: number out of range",
        ),
        (
            "agent-c-array",
            "array-1",
            r#"["operation","install"]"#.to_owned(),
            "the job document is not a JSON object",
        ),
        (
            "agent-c-string",
            "string-1",
            r#""install""#.to_owned(),
            "the job document is not a JSON object",
        ),
        ("agent-c-huge", "huge-1", huge.clone(), huge_why.as_str()),
    ] {
        // Its own emulator: no other client's request may take the dropped reply.
        let emu = emulator();
        emu.create_job(
            job,
            json!({"operation": "install", "note": "replaced"}),
            &[thing],
        )
        .unwrap();
        emu.drop_replies(1);
        // A packet limit above the document, as a device expecting large documents sets it.
        let run = agent(&emu, thing, &["--max-packet", "4194304"]);
        answer_start_next(&emu, thing, job, &document, &run);
        let out = run.finish(limit(60));
        out.assert_checks(5);
        out.assert_lacks("] run ");
        let e = execution(&emu, job, thing);
        assert_eq!(e["status"], "REJECTED", "{job}: {e}\n{}", out.text());
        assert!(reason(&e).starts_with(why), "{job}: {e}");
        let rejected = events(&out, "job_rejected");
        assert_eq!(rejected.len(), 1, "{}", out.text());
        assert!(rejected[0].contains(why), "{}", rejected[0]);
        assert_eq!(counter(&out, "rejected"), 1);
        // One final update, sent for the execution the service had started.
        let updates = requests(&emu, thing, &format!("/{job}/update"));
        assert_eq!(updates.len(), 1, "{updates:?}");
        assert_eq!(updates[0]["status"], "REJECTED");
        assert_eq!(updates[0]["expectedVersion"], "2");
    }
}

#[test]
fn an_unknown_operation_is_rejected_without_a_default_handler_and_run_by_one() {
    let emu = emulator();
    let (plain, with_default) = ("agent-c-nodefault", "agent-c-default");
    emu.create_job("paint-1", json!({"operation": "paint"}), &[plain])
        .unwrap();
    emu.create_job(
        "paint-2",
        json!({"operation": "paint", "expect_op": "paint"}),
        &[with_default],
    )
    .unwrap();
    // No operation at all, or not a string: rejected even with a default handler.
    emu.create_job("noop-3", json!({"steps": 1}), &[with_default])
        .unwrap();
    emu.create_job("number-4", json!({"operation": 5}), &[with_default])
        .unwrap();
    let a = agent(&emu, plain, &["--ops", "install"]);
    let b = agent(
        &emu,
        with_default,
        &["--ops", "install", "--default", "--jobs", "3"],
    );
    let (a, b) = (a.finish(limit(60)), b.finish(limit(60)));
    a.assert_checks(5);
    b.assert_checks(5);

    a.assert_lacks("] run ");
    let e = execution(&emu, "paint-1", plain);
    assert_eq!(e["status"], "REJECTED", "{e}\n{}", a.text());
    assert_eq!(reason(&e), r#"no handler for operation "paint""#);
    assert_eq!(counter(&a, "rejected"), 1);

    let e = execution(&emu, "paint-2", with_default);
    assert_eq!(e["status"], "SUCCEEDED", "{e}\n{}", b.text());
    assert_eq!(b.lines_with("] run paint-2 ").len(), 1, "{}", b.text());
    b.assert_has("op=paint");
    for job in ["noop-3", "number-4"] {
        let e = execution(&emu, job, with_default);
        assert_eq!(e["status"], "REJECTED", "{e}\n{}", b.text());
        assert!(
            reason(&e).starts_with(r#"the job document has no operation at "operation""#),
            "{e}"
        );
    }
    assert_eq!(b.lines_with("] run ").len(), 1, "{}", b.text());
    assert_eq!(counter(&b, "rejected"), 2);
}

// ---------------------------------------------------------------- the service ends the job

#[test]
fn a_job_cancelled_while_running_reaches_its_handler_within_a_second() {
    let emu = emulator();
    let thing = "agent-c-cancel";
    emu.create_job(
        "long-1",
        json!({"operation": "install", "until_cancelled": true}),
        &[thing],
    )
    .unwrap();
    let mut run = agent(&emu, thing, &[]);
    run.wait_line("event progress_sent job=long-1", limit(20));
    let cancelled_at = Instant::now();
    emu.cancel_job("long-1", true).unwrap();
    let (told, told_at) = run
        .try_wait_line_at("cancel-told long-1", limit(10))
        .unwrap_or_else(|| panic!("the handler was never told:\n{}", run.output_so_far()));
    let latency = told_at - cancelled_at;
    println!("cancel -> handler told: {latency:?} ({told})");
    assert!(
        latency < Duration::from_secs(1) * scale(),
        "told after {latency:?}"
    );
    assert!(told.contains("cancelled=1"), "{told}");
    let out = run.finish(limit(30));
    out.assert_checks(5);
    let cancelled = events(&out, "job_cancelled");
    assert_eq!(cancelled.len(), 1, "{}", out.text());
    assert!(cancelled[0].contains("status=CANCELED"), "{}", cancelled[0]);
    out.assert_has("handler-saw-cancel long-1 cancelled=1");
    // The handler's own clock: told, then it saw the flag and stopped.
    let told_s = stamp(out.lines_with("cancel-told long-1")[0]);
    let saw_s = stamp(out.lines_with("handler-saw-cancel long-1")[0]);
    println!("C program: told at {told_s:.3} s, handler stopped at {saw_s:.3} s");
    assert!(
        saw_s >= told_s - 0.1 && saw_s - told_s < scale() as f64,
        "{}",
        out.text()
    );
    assert_eq!(status_of(&emu, "long-1", thing), "CANCELED");
    assert_eq!(counter(&out, "cancelled"), 1);
    assert_eq!(counter(&out, "finished"), 0);
    // Nothing was sent for the job once its handler was told.
    let late = emu
        .records()
        .iter()
        .filter(|r| r.dir == Dir::In && r.client_id == thing && r.at > told_at)
        .filter(|r| matches!(&r.packet, Packet::Publish(p) if p.topic.ends_with("/long-1/update")))
        .count();
    assert_eq!(late, 0, "updates after the cancellation");
}

#[test]
fn a_job_timed_out_by_its_step_timeout_reaches_its_handler() {
    // One emulator minute is 300 ms: start-next's one-minute step timeout runs out quickly.
    let emu = emulator_with(EmulatorConfig {
        minute: Duration::from_millis(300),
        ..EmulatorConfig::default()
    });
    let thing = "agent-c-timeout";
    emu.create_job(
        "slow-1",
        json!({"operation": "install", "until_cancelled": true, "quiet": true}),
        &[thing],
    )
    .unwrap();
    let out = agent(&emu, thing, &["--step-timeout", "1"]).finish(limit(60));
    out.assert_checks(3);
    let start_next = requests(&emu, thing, "/jobs/start-next");
    assert_eq!(start_next[0]["stepTimeoutInMinutes"], 1, "{start_next:?}");
    assert_eq!(status_of(&emu, "slow-1", thing), "TIMED_OUT");
    let cancelled = events(&out, "job_cancelled");
    assert_eq!(cancelled.len(), 1, "{}", out.text());
    assert!(
        cancelled[0].contains("status=TIMED_OUT"),
        "{}",
        cancelled[0]
    );
    out.assert_has("cancel-told slow-1 cancelled=1");
    out.assert_has("handler-saw-cancel slow-1 cancelled=1");
    // Told soon after the timer ran out (300 ms after the start).
    let run_s = stamp(out.lines_with("] run slow-1")[0]);
    let told_s = stamp(out.lines_with("cancel-told slow-1")[0]);
    println!("run at {run_s:.3} s, told of the timeout at {told_s:.3} s");
    assert!(told_s - run_s < 0.3 + scale() as f64, "{}", out.text());
}

// ---------------------------------------------------------------- rejections and retries

#[test]
fn a_throttled_then_failed_final_status_is_retried_and_lands_once() {
    let emu = emulator();
    let thing = "agent-c-throttle";
    let dir = scratch("throttle");
    let go = dir.join("go");
    emu.create_job(
        "thr-1",
        json!({"operation": "install", "steps": 1, "wait_file": path_str(&go)}),
        &[thing],
    )
    .unwrap();
    let mut run = agent(&emu, thing, &[]);
    run.wait_lines(
        &["WAIT thr-1 1", "event progress_sent job=thr-1"],
        limit(20),
    );
    // The next two Jobs requests, the final update and its first retry, are refused.
    emu.throttle(1);
    emu.internal_errors(1);
    release(&go);
    let out = run.finish(limit(60));
    out.assert_checks(5);
    let e = execution(&emu, "thr-1", thing);
    assert_eq!(e["status"], "SUCCEEDED", "{e}");
    // start-next (2), the progress (3), the final status once (4).
    assert_eq!(e["versionNumber"], 4, "{e}");
    let finals: Vec<Value> = requests(&emu, thing, "/thr-1/update")
        .into_iter()
        .filter(|u| u["status"] == "SUCCEEDED")
        .collect();
    assert_eq!(finals.len(), 3, "{finals:?}");
    let rejected = replies(&emu, thing, "/thr-1/update/rejected");
    let codes: Vec<&str> = rejected
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["RequestThrottled", "InternalError"]);
    assert_eq!(replies(&emu, thing, "/thr-1/update/accepted").len(), 2);
    let retrying = events(&out, "retrying");
    assert!(
        retrying.iter().any(|l| l.contains("RequestThrottled"))
            && retrying.iter().any(|l| l.contains("InternalError")),
        "{}",
        out.text()
    );
    assert_eq!(events(&out, "job_finished").len(), 1, "{}", out.text());
    assert_eq!(counter(&out, "retries"), 2);
}

#[test]
fn a_version_bumped_by_another_client_is_reconciled_and_the_final_status_lands() {
    let emu = emulator();
    let thing = "agent-c-version";
    let dir = scratch("version");
    let go = dir.join("go");
    emu.create_job(
        "ver-1",
        json!({"operation": "install", "steps": 1, "wait_file": path_str(&go), "bump": true}),
        &[thing],
    )
    .unwrap();
    let mut run = agent(&emu, thing, &["--other"]);
    // Once the progress is acknowledged, the other client's update makes the agent stale.
    run.wait_lines(
        &["WAIT ver-1 1", "event progress_sent job=ver-1"],
        limit(20),
    );
    release(&go);
    let out = run.finish(limit(60));
    out.assert_checks(5);
    out.assert_has("bumped ver-1 version=4");
    let e = execution(&emu, "ver-1", thing);
    assert_eq!(e["status"], "SUCCEEDED", "{e}\n{}", out.text());
    assert_eq!(e["statusDetails"]["by"], "agent_jobs", "{e}");
    // start-next (2), progress (3), the other client (4), the final status (5).
    assert_eq!(e["versionNumber"], 5, "{e}");
    let rejected = replies(&emu, thing, "/ver-1/update/rejected");
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    assert_eq!(rejected[0]["code"], "VersionMismatch");
    // Reconciled by a describe, then sent again with the version the service has.
    assert!(!requests(&emu, thing, "/ver-1/get").is_empty());
    let finals: Vec<Value> = requests(&emu, thing, "/ver-1/update")
        .into_iter()
        .filter(|u| u["status"] == "SUCCEEDED")
        .collect();
    assert_eq!(finals.len(), 2, "{finals:?}");
    assert_eq!(finals[0]["expectedVersion"], "3");
    assert_eq!(finals[1]["expectedVersion"], "4");
    assert!(events(&out, "retrying")
        .iter()
        .any(|l| l.contains("VersionMismatch")));
    assert_eq!(events(&out, "job_finished").len(), 1);
}

#[test]
fn a_failed_execution_retried_by_the_service_runs_again_under_its_new_number() {
    let emu = emulator();
    let thing = "agent-c-retry";
    emu.create_job_with(
        "flaky-1",
        json!({"operation": "install", "fail_first": true}),
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
    let out = agent(&emu, thing, &["--jobs", "2"]).finish(limit(60));
    out.assert_checks(5);
    let runs = out.lines_with("] run flaky-1 ");
    assert_eq!(runs.len(), 2, "{}", out.text());
    assert!(
        runs[0].contains("exec=1") && runs[1].contains("exec=2"),
        "{runs:?}"
    );
    let first = emu.describe_execution_number("flaky-1", thing, 1).unwrap();
    let second = emu.describe_execution_number("flaky-1", thing, 2).unwrap();
    assert_eq!(first["status"], "FAILED", "{first}");
    assert_eq!(second["status"], "SUCCEEDED", "{second}");
    let finished = events(&out, "job_finished");
    assert!(finished[0].contains("exec=1 status=FAILED"), "{finished:?}");
    assert!(
        finished[1].contains("exec=2 status=SUCCEEDED"),
        "{finished:?}"
    );
}

// ---------------------------------------------------------------- cut connections

/// CONNECTs `client` made.
fn connects(emu: &Emulator, client: &str) -> usize {
    emu.records()
        .iter()
        .filter(|r| r.dir == Dir::In && r.client_id == client)
        .filter(|r| matches!(r.packet, Packet::Connect(..)))
        .count()
}

#[test]
fn a_cut_before_the_start_next_reply_runs_the_job_once() {
    let emu = emulator();
    let thing = "agent-c-cut-start";
    emu.create_job(
        "cs-1",
        json!({"operation": "install", "steps": 2}),
        &[thing],
    )
    .unwrap();
    emu.drop_replies(1);
    let run = agent(&emu, thing, &[]);
    start_next_token(&emu, thing);
    wait("the start-next applied", 20, || {
        emu.describe_execution("cs-1", thing)
            .is_some_and(|e| e["status"] == "IN_PROGRESS")
    });
    assert!(emu.cut(thing), "the agent was not connected");
    let out = run.finish(limit(60));
    out.assert_checks(5);
    assert_eq!(connects(&emu, thing), 2);
    // Asked again after the reconnect; the service handed back the execution it had started.
    assert!(requests(&emu, thing, "/jobs/start-next").len() >= 2);
    assert_eq!(out.lines_with("] run cs-1 ").len(), 1, "{}", out.text());
    let e = execution(&emu, "cs-1", thing);
    assert_eq!(e["status"], "SUCCEEDED", "{e}");
    assert_eq!(e["statusDetails"]["step"], "2/2");
    assert_eq!(events(&out, "job_finished").len(), 1);
}

#[test]
fn a_link_black_holed_during_progress_is_replaced_and_the_job_goes_on() {
    let emu = emulator();
    let thing = "agent-c-blackhole";
    let dir = scratch("blackhole");
    let go = dir.join("go");
    emu.create_job(
        "bh-1",
        json!({"operation": "install", "steps": 4, "step_ms": 50, "wait_file": path_str(&go), "wait_at": 2}),
        &[thing],
    )
    .unwrap();
    // A short operation timeout finds the silent link quickly (probe PINGREQ, no PINGRESP).
    let mut run = agent(&emu, thing, &["--op-timeout", "500"]);
    run.wait_lines(
        &[
            "WAIT bh-1 2",
            "event progress_sent job=bh-1 exec=1 status=IN_PROGRESS reason={\"step\":\"2/4\"}",
        ],
        limit(20),
    );
    assert!(emu.blackhole(thing), "the agent was not connected");
    release(&go);
    let out = run.finish(limit(60));
    out.assert_checks(8);
    assert_eq!(connects(&emu, thing), 2, "{}", out.text());
    assert_eq!(out.lines_with("] run bh-1 ").len(), 1, "{}", out.text());
    let e = execution(&emu, "bh-1", thing);
    assert_eq!(e["status"], "SUCCEEDED", "{e}");
    assert_eq!(e["statusDetails"]["step"], "4/4");
    // start-next, at most four progress updates (the latest replaces one not yet sent), the
    // final one: no step was applied twice.
    let v = e["versionNumber"].as_u64().unwrap();
    assert!((5..=7).contains(&v), "{e}");
    assert_eq!(events(&out, "job_finished").len(), 1);
}

#[test]
fn a_cut_between_the_final_update_and_its_reply_is_reconciled_without_sending_it_again() {
    let emu = emulator();
    let thing = "agent-c-cut-final";
    let dir = scratch("cutfinal");
    let go = dir.join("go");
    emu.create_job(
        "cf-1",
        json!({"operation": "install", "steps": 1, "wait_file": path_str(&go)}),
        &[thing],
    )
    .unwrap();
    let mut run = agent(&emu, thing, &[]);
    run.wait_lines(&["WAIT cf-1 1", "event progress_sent job=cf-1"], limit(20));
    // The final update is applied, its reply lost, then the link drops.
    emu.drop_replies(1);
    release(&go);
    wait("the final status applied", 20, || {
        status_of(&emu, "cf-1", thing) == "SUCCEEDED"
    });
    assert!(emu.cut(thing), "the agent was not connected");
    let out = run.finish(limit(60));
    out.assert_checks(5);
    assert_eq!(connects(&emu, thing), 2);
    let e = execution(&emu, "cf-1", thing);
    assert_eq!(e["status"], "SUCCEEDED", "{e}");
    // start-next (2), progress (3), final (4): applied once.
    assert_eq!(e["versionNumber"], 4, "{e}");
    let finals: Vec<Value> = requests(&emu, thing, "/cf-1/update")
        .into_iter()
        .filter(|u| u["status"] == "SUCCEEDED")
        .collect();
    assert_eq!(finals.len(), 1, "a describe reconciled it: {finals:?}");
    assert!(!requests(&emu, thing, "/cf-1/get").is_empty());
    assert_eq!(events(&out, "job_finished").len(), 1);
    assert_eq!(out.lines_with("] run cf-1 ").len(), 1);
}

// ---------------------------------------------------------------- the journal

fn journal_checks(out: &Finished, emu: &Emulator, thing: &str, job: &str) {
    out.assert_checks(5);
    let checkpoint = out.lines_with(&format!("checkpoint {job} "));
    assert_eq!(checkpoint.len(), 1, "{}", out.text());
    assert!(
        checkpoint[0].contains("rc=54 (file read or write failed)"),
        "{}",
        checkpoint[0]
    );
    assert!(!events(out, "journal_error").is_empty(), "{}", out.text());
    let e = execution(emu, job, thing);
    assert_eq!(e["status"], "SUCCEEDED", "{e}\n{}", out.text());
    assert_eq!(events(out, "job_finished").len(), 1);
}

#[test]
fn an_unwritable_journal_fails_checkpoints_with_io_and_the_job_still_finishes() {
    let emu = emulator();
    let thing = "agent-c-nojournal";
    let dir = scratch("unwritable");
    // Tests run as root: a path under a regular file is one that cannot be written.
    let file = dir.join("regular-file");
    std::fs::write(&file, b"not a directory").unwrap();
    let journal = file.join("journal");
    emu.create_job(
        "nj-1",
        json!({"operation": "install", "steps": 1, "checkpoint": 100}),
        &[thing],
    )
    .unwrap();
    let out = agent(&emu, thing, &["--journal", &path_str(&journal)]).finish(limit(60));
    journal_checks(&out, &emu, thing, "nj-1");
    let errors = events(&out, "journal_error");
    assert!(
        errors.iter().all(|l| l.contains("regular-file")),
        "{errors:?}"
    );
}

#[test]
fn a_full_disk_fails_checkpoints_with_io_and_the_job_still_finishes() {
    let emu = emulator();
    let thing = "agent-c-diskfull";
    let dir = scratch("diskfull");
    let journal = dir.join("journal");
    // The journal's first states fit in 1 KiB; a 3000-byte checkpoint does not.
    emu.create_job(
        "df-1",
        json!({"operation": "install", "steps": 1, "checkpoint": 3000}),
        &[thing],
    )
    .unwrap();
    let out = agent(
        &emu,
        thing,
        &["--journal", &path_str(&journal), "--fsize", "1024"],
    )
    .finish(limit(60));
    journal_checks(&out, &emu, thing, "df-1");
    let errors = events(&out, "journal_error");
    assert!(errors.iter().all(|l| l.contains("journal")), "{errors:?}");
    // The journal kept its last good state; no temporary file was left.
    assert!(journal.is_file());
    assert!(std::fs::metadata(&journal).unwrap().len() <= 1024);
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "journal")
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
