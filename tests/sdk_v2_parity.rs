//! Parity with the AWS IoT Device SDK v2 for Python: one request/response jobs flow, made by
//! the SDK's `IotJobsClientV2` for one thing and by iotjobs' `JobsClient::request_blocking`
//! for another, both over MQTT 3.1.1 with mutual TLS against one in-process emulator, must end
//! with equal outcomes and equal final executions.
//!
//! The flow: get-pending (two queued) -> start-next (job 1 in progress) -> update in progress
//! with details -> update with a stale expected version (VersionMismatch) -> update succeeded
//! -> describe an unknown job (ResourceNotFound) -> start-next (job 2) -> update failed ->
//! start-next (no execution) -> get-pending (empty).
//!
//! Each outcome is a JSON record (operation, accepted or rejected, rejection code, the reply's
//! job id, status, version number and status details, the pending job ids) built from the
//! reply each side parsed: by `tests/py/sdk_v2_flow.py` from the SDK's modeled responses and
//! `V2ServiceException`s, here from iotjobs' `Outcome`s. Only outcomes are compared: the two
//! sides make their client tokens and subscriptions their own way.
//!
//! Needs python3 with venv and pip, PyPI access the first time (the SDK, pinned to
//! [`SDK_VERSION`] with its [`CRT_VERSION`], is installed into a venv under `target/tmp`) and
//! the `openssl` CLI for the certificates, so it is `#[ignore]`d like the other interop suites;
//! `.ci/run` runs it with `--ignored`. A missing tool fails the test, never skips it.
//! Run with: `cargo test --test sdk_v2_parity -- --ignored --nocapture`.

mod support;

use iotjobs::jobs::client::JobsClient;
use iotjobs::jobs::event::JobsEvent;
use iotjobs::jobs::requests::{JobsRequest, Outcome, RequestOptions};
use iotjobs::jobs::types::ExecutionStatus;
use iotjobs::jobs::validate::StatusDetails;
use iotjobs::mqtt::config::ConnectionConfig;
use iotjobs::mqtt::connection::Connection;
use iotjobs::mqtt::types::{Callbacks, TransportKind};
use iotjobs_emulator::{Emulator, EmulatorConfig};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::certs::{certs, mutual_tls, pem_file};

/// The AWS IoT Device SDK v2 for Python release this test pins (`awsiotsdk` on PyPI).
const SDK_VERSION: &str = "1.31.0";
/// The `awscrt` release that SDK release requires.
const CRT_VERSION: &str = "0.36.1";
/// The thing whose jobs the SDK runs.
const SDK_THING: &str = "parity-sdk-v2";
/// The thing whose jobs iotjobs runs.
const OUR_THING: &str = "parity-iotjobs";
/// The two jobs, each targeting both things, in creation (and so queue) order.
const JOBS: [&str; 2] = ["parity-job-1", "parity-job-2"];
/// Bound on each request and on the connect (both sides).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// Bound on the whole SDK script (connect, ten requests, disconnect).
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(180);

// ---------------------------------------------------------------------------------------------
// Processes: the venv and the SDK script, bounded and stopped by pid.

/// A child process killed (by its pid) and reaped on drop.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `cmd` with its output in `dir/<label>.{out,err}`, within `limit` (killed by pid past
/// it). Returns (exited 0, stdout, stderr).
fn run_bounded(
    mut cmd: Command,
    limit: Duration,
    dir: &Path,
    label: &str,
) -> (bool, String, String) {
    let out_path = dir.join(format!("{label}.out"));
    let err_path = dir.join(format!("{label}.err"));
    let file = |p: &Path| std::fs::File::create(p).unwrap_or_else(|e| panic!("{label}: {e}"));
    let what = format!("{cmd:?}");
    let mut guard = ChildGuard(
        cmd.stdin(Stdio::null())
            .stdout(file(&out_path))
            .stderr(file(&err_path))
            .spawn()
            .unwrap_or_else(|e| panic!("{label}: cannot run {what}: {e}")),
    );
    let deadline = Instant::now() + limit;
    let status = loop {
        match guard.0.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            Ok(None) => break None,
            Err(e) => panic!("{label}: wait: {e}"),
        }
    };
    drop(guard);
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    let (stdout, stderr) = (read(&out_path), read(&err_path));
    match status {
        Some(s) => (s.success(), stdout, stderr),
        None => panic!(
            "{label} did not finish within {limit:?} (killed): {what}\nstdout:\n{stdout}\n\
             stderr:\n{stderr}"
        ),
    }
}

/// Like [`run_bounded`], panicking with the output unless the command exits 0.
fn run_ok(cmd: Command, limit: Duration, dir: &Path, label: &str) -> String {
    let what = format!("{cmd:?}");
    let (ok, stdout, stderr) = run_bounded(cmd, limit, dir, label);
    assert!(
        ok,
        "{label} failed: {what}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    stdout
}

/// The venv's python with `awsiotsdk==SDK_VERSION` and `awscrt==CRT_VERSION`, made under
/// `target/tmp` (reused while it holds those versions).
fn sdk_python(logs: &Path) -> PathBuf {
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("awsiotsdk-{SDK_VERSION}-venv"));
    let py = venv.join("bin").join("python");
    let check = format!(
        "import sys, importlib.metadata as m, awsiot.iotjobs, awscrt.mqtt_request_response; \
         sys.exit((m.version('awsiotsdk'), m.version('awscrt')) != ('{SDK_VERSION}', '{CRT_VERSION}'))"
    );
    let ready = |py: &Path| {
        Command::new(py)
            .args(["-c", &check])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if ready(&py) {
        return py;
    }
    let python3 = std::env::var_os("IOTJOBS_PYTHON3").unwrap_or_else(|| "python3".into());
    assert!(
        Command::new(&python3).arg("--version").output().is_ok(),
        "python3 not found: this test needs it (apt-get install -y python3 python3-venv) and \
         must not be skipped"
    );
    let _ = std::fs::remove_dir_all(&venv);
    let mut mk = Command::new(&python3);
    mk.args(["-m", "venv"]).arg(&venv);
    run_ok(mk, Duration::from_secs(120), logs, "python3-venv");
    let mut pip = Command::new(&py);
    pip.args([
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--no-input",
    ])
    .arg(format!("awsiotsdk=={SDK_VERSION}"))
    .arg(format!("awscrt=={CRT_VERSION}"));
    run_ok(pip, Duration::from_secs(400), logs, "pip-install");
    assert!(
        ready(&py),
        "awsiotsdk {SDK_VERSION} with awscrt {CRT_VERSION} not importable from {}",
        py.display()
    );
    py
}

/// Runs `tests/py/sdk_v2_flow.py` for [`SDK_THING`] and returns its outcome records, or what
/// it printed when it did not finish its flow.
fn run_sdk(port: u16, logs: &Path) -> Result<Vec<Value>, String> {
    let c = certs();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/sdk_v2_flow.py");
    let mut cmd = Command::new(sdk_python(logs));
    cmd.arg(script)
        .args(["--endpoint", "localhost", "--port", &port.to_string()])
        .arg("--ca")
        .arg(&c.ca)
        .arg("--cert")
        .arg(&c.client_rsa_cert)
        .arg("--key")
        .arg(&c.client_rsa_pkcs1_key)
        .args(["--thing", SDK_THING, "--client-id", SDK_THING])
        .args(["--timeout", &REQUEST_TIMEOUT.as_secs().to_string()]);
    let (ok, stdout, stderr) = run_bounded(cmd, SCRIPT_TIMEOUT, logs, "sdk-v2-flow");
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("SDK script printed {l:?}: {e}"))
        })
        .collect();
    if !ok || lines.last() != Some(&json!({"done": true})) {
        return Err(format!(
            "the SDK script did not finish its flow (exited 0: {ok})\nstdout:\n{stdout}\n\
             stderr:\n{stderr}"
        ));
    }
    Ok(lines[..lines.len() - 1].to_vec())
}

// ---------------------------------------------------------------------------------------------
// The same flow through iotjobs.

/// A record with the keys `sdk_v2_flow.py`'s `outcome` prints, every field null.
fn empty_record(op: &str, result: &str) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    m.insert("op".into(), json!(op));
    m.insert("result".into(), json!(result));
    for k in [
        "code",
        "job_id",
        "status",
        "version",
        "details",
        "queued",
        "in_progress",
    ] {
        m.insert(k.into(), Value::Null);
    }
    m
}

fn details_object(details: Option<&[(String, String)]>) -> Value {
    details.map_or(Value::Null, |d| {
        Value::Object(d.iter().map(|(k, v)| (k.clone(), json!(v))).collect())
    })
}

fn status_name(s: ExecutionStatus) -> Value {
    s.wire_name().map_or(Value::Null, |n| json!(n))
}

/// The outcome record of one iotjobs request, from the reply it parsed: the execution of a
/// start-next or describe reply, else the execution state of an update reply or rejection.
fn record(op: &str, outcome: &Outcome) -> Value {
    let (result, ev): (&str, &JobsEvent) = match outcome {
        Outcome::Accepted(ev) => ("accepted", ev),
        Outcome::Rejected(ev) => ("rejected", ev),
        Outcome::Failed(e) => {
            let mut m = empty_record(op, "failed");
            m.insert("code".into(), json!(e.to_string()));
            return Value::Object(m);
        }
    };
    let mut m = empty_record(op, result);
    if let Some(code) = ev.rejection_code() {
        m.insert("code".into(), json!(code.as_str()));
    }
    if op == "get_pending" && result == "accepted" {
        let ids = |jobs: &[iotjobs::jobs::response::JobExecutionSummary]| {
            json!(jobs.iter().map(|j| j.job_id.as_str()).collect::<Vec<_>>())
        };
        m.insert("queued".into(), ids(ev.queued_jobs()));
        m.insert("in_progress".into(), ids(ev.in_progress_jobs()));
    } else if let Some(e) = ev.execution() {
        m.insert("job_id".into(), json!(e.job_id));
        m.insert("status".into(), status_name(e.status));
        m.insert("version".into(), json!(e.version_number));
        m.insert("details".into(), details_object(ev.status_details()));
    } else if let Some(s) = ev.execution_state() {
        m.insert("status".into(), status_name(s.status));
        m.insert("version".into(), json!(s.version_number));
        m.insert("details".into(), details_object(ev.status_details()));
    }
    Value::Object(m)
}

fn details(v: Value) -> Option<StatusDetails> {
    Some(StatusDetails::parse(&v.to_string()).expect("valid status details"))
}

/// The flow of `sdk_v2_flow.py`'s `main`, step for step, through `request_blocking`.
fn run_ours(port: u16) -> Vec<Value> {
    let c = certs();
    let conn = Connection::new(
        ConnectionConfig {
            host: "localhost".into(),
            port,
            transport: TransportKind::Tls,
            tls: mutual_tls(pem_file, &c.client_rsa_cert, &c.client_rsa_pkcs1_key),
            client_id: OUR_THING.into(),
            connect_timeout: REQUEST_TIMEOUT,
            ..ConnectionConfig::default()
        },
        Callbacks::default(),
    )
    .expect("connection config");
    conn.connect().expect("connect over mutual TLS");
    let client = JobsClient::new(conn.clone(), false, OUR_THING, None, 1).expect("jobs client");
    let opts = RequestOptions {
        timeout: REQUEST_TIMEOUT,
        ..RequestOptions::default()
    };
    let mut records = Vec::new();
    let mut call = |op: &str, req: JobsRequest| -> Value {
        // A request refused before it is sent (an earlier step went wrong) is recorded, so
        // the comparison shows both lists.
        let rec = match client.request_blocking(&req, &opts) {
            Ok(outcome) => record(op, &outcome),
            Err(e) => {
                let mut m = empty_record(op, "refused");
                m.insert("code".into(), json!(format!("{req:?}: {e}")));
                Value::Object(m)
            }
        };
        records.push(rec.clone());
        rec
    };
    let start_next = || JobsRequest::StartNext {
        details: None,
        step_timeout: None,
    };
    let update = |job: &Value, status, expected: &Value, d: Value| JobsRequest::Update {
        job_id: job.as_str().unwrap_or_default().to_owned(),
        status,
        details: details(d),
        expected_version: expected.as_u64().unwrap_or_default(),
        execution_number: 0,
        include_job_execution_state: true,
        include_job_document: false,
        step_timeout: None,
    };

    call("get_pending", JobsRequest::GetPending);
    let first = call("start_next", start_next());
    let (job1, started_version) = (&first["job_id"], &first["version"]);
    let progress = call(
        "update",
        update(
            job1,
            ExecutionStatus::InProgress,
            started_version,
            json!({"step": "download"}),
        ),
    );
    call(
        "update",
        update(
            job1,
            ExecutionStatus::Succeeded,
            started_version,
            json!({"step": "stale"}),
        ),
    );
    call(
        "update",
        update(
            job1,
            ExecutionStatus::Succeeded,
            &progress["version"],
            json!({"result": "installed"}),
        ),
    );
    call(
        "describe",
        JobsRequest::Describe {
            job_id: "no-such-job".into(),
            execution_number: 0,
            include_job_document: false,
        },
    );
    let second = call("start_next", start_next());
    call(
        "update",
        update(
            &second["job_id"],
            ExecutionStatus::Failed,
            &second["version"],
            json!({"reason": "disk full"}),
        ),
    );
    call("start_next", start_next());
    call("get_pending", JobsRequest::GetPending);
    let counters = client.router().counters();
    assert_eq!(
        counters.submitted, counters.completed,
        "every request completed: {counters:?}"
    );
    conn.close();
    records
}

// ---------------------------------------------------------------------------------------------
// The expected outcomes and the comparison.

/// (operation, result, code, job id, status) of each step, as the flow must go on either side.
fn expected_steps() -> Vec<(&'static str, &'static str, Value, Value, Value)> {
    let (j1, j2) = (json!(JOBS[0]), json!(JOBS[1]));
    let n = Value::Null;
    vec![
        ("get_pending", "accepted", n.clone(), n.clone(), n.clone()),
        (
            "start_next",
            "accepted",
            n.clone(),
            j1,
            json!("IN_PROGRESS"),
        ),
        (
            "update",
            "accepted",
            n.clone(),
            n.clone(),
            json!("IN_PROGRESS"),
        ),
        (
            "update",
            "rejected",
            json!("VersionMismatch"),
            n.clone(),
            json!("IN_PROGRESS"),
        ),
        (
            "update",
            "accepted",
            n.clone(),
            n.clone(),
            json!("SUCCEEDED"),
        ),
        (
            "describe",
            "rejected",
            json!("ResourceNotFound"),
            n.clone(),
            n.clone(),
        ),
        (
            "start_next",
            "accepted",
            n.clone(),
            j2,
            json!("IN_PROGRESS"),
        ),
        ("update", "accepted", n.clone(), n.clone(), json!("FAILED")),
        ("start_next", "accepted", n.clone(), n.clone(), n.clone()),
        ("get_pending", "accepted", n.clone(), n.clone(), n),
    ]
}

/// Checks one side's records against the flow: the steps, the pending lists, the details each
/// update reported and the versions (each accepted update raises the version by one; the stale
/// update is refused with the current version).
fn check_flow(side: &str, r: &[Value]) -> Result<(), String> {
    let steps = expected_steps();
    if r.len() != steps.len() {
        return Err(format!(
            "{side}: {} outcomes, expected {}",
            r.len(),
            steps.len()
        ));
    }
    for (i, (rec, (op, result, code, job_id, status))) in r.iter().zip(&steps).enumerate() {
        let got = (
            &rec["op"],
            &rec["result"],
            &rec["code"],
            &rec["job_id"],
            &rec["status"],
        );
        let want = (&json!(op), &json!(result), code, job_id, status);
        if got != want {
            return Err(format!("{side}: step {i}: got {got:?}, expected {want:?}"));
        }
    }
    let checks = [
        (r[0]["queued"] == json!(JOBS), "two queued at first"),
        (
            r[0]["in_progress"] == json!([]),
            "none in progress at first",
        ),
        (
            r[2]["details"] == json!({"step": "download"}),
            "the in-progress update's details",
        ),
        (
            // Details are merged into the execution's, as AWS does: the earlier key stays.
            r[4]["details"] == json!({"step": "download", "result": "installed"}),
            "the succeeded update's details, merged with the earlier ones",
        ),
        (
            r[7]["details"] == json!({"reason": "disk full"}),
            "the failed update's details",
        ),
        (r[9]["queued"] == json!([]), "none queued at the end"),
        (
            r[9]["in_progress"] == json!([]),
            "none in progress at the end",
        ),
    ];
    for (ok, what) in checks {
        if !ok {
            return Err(format!("{side}: {what}"));
        }
    }
    let v = |i: usize| r[i]["version"].as_i64();
    let versions = [
        (v(2), v(1).map(|x| x + 1), "the in-progress update"),
        (
            v(3),
            v(2),
            "the stale update's rejection carries the current version",
        ),
        (v(4), v(2).map(|x| x + 1), "the succeeded update"),
        (v(7), v(6).map(|x| x + 1), "the failed update"),
    ];
    for (got, want, what) in versions {
        if got.is_none() || got != want {
            return Err(format!(
                "{side}: {what}: version {got:?}, expected {want:?}"
            ));
        }
    }
    Ok(())
}

fn pretty(records: &[Value]) -> String {
    records
        .iter()
        .map(Value::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// The emulator's view of one execution: its status, status details and version.
fn final_state(emu: &Emulator, job: &str, thing: &str) -> Value {
    let e = emu
        .describe_execution(job, thing)
        .unwrap_or_else(|| panic!("no execution of {job} for {thing}"));
    json!({
        "status": e["status"],
        "statusDetails": e["statusDetails"],
        "versionNumber": e["versionNumber"],
    })
}

#[test]
#[ignore = "needs python3 + PyPI (awsiotsdk); run with --ignored"]
fn sdk_v2_and_iotjobs_get_the_same_outcomes_for_the_same_flow() {
    let started = Instant::now();
    let logs = support::scratch_dir("sdk-v2-parity", 0o755);
    let emu = Emulator::start(EmulatorConfig {
        tls: Some(support::certs::emulator_tls()),
        ..EmulatorConfig::default()
    })
    .expect("start the emulator with a mutual-TLS listener");
    let port = emu.tls_addr().expect("TLS listener").port();
    for (i, job) in JOBS.iter().enumerate() {
        emu.create_job(
            job,
            json!({"operation": "install", "n": i}),
            &[SDK_THING, OUR_THING],
        )
        .unwrap_or_else(|e| panic!("create {job}: {e}"));
    }

    let ours = run_ours(port);
    let sdk = run_sdk(port, &logs)
        .unwrap_or_else(|e| panic!("{e}\n\niotjobs ({OUR_THING}):\n{}", pretty(&ours)));
    let both = format!(
        "SDK v2 ({SDK_THING}):\n{}\n\niotjobs ({OUR_THING}):\n{}",
        pretty(&sdk),
        pretty(&ours)
    );
    println!("{both}");

    let checked = [check_flow("SDK v2", &sdk), check_flow("iotjobs", &ours)];
    for r in &checked {
        if let Err(e) = r {
            panic!("{e}\n\n{both}");
        }
    }
    for (i, (a, b)) in sdk.iter().zip(&ours).enumerate() {
        assert_eq!(a, b, "step {i} differs\n\n{both}");
    }
    assert_eq!(sdk.len(), ours.len(), "{both}");

    let mut finals = Vec::new();
    for (job, status) in JOBS.iter().zip(["SUCCEEDED", "FAILED"]) {
        let (a, b) = (
            final_state(&emu, job, SDK_THING),
            final_state(&emu, job, OUR_THING),
        );
        assert_eq!(a["status"], json!(status), "{job} for {SDK_THING}: {a}");
        assert!(a["statusDetails"].is_object(), "{job}: details kept: {a}");
        assert_eq!(a, b, "{job}: the emulator's final executions differ");
        finals.push(format!("{job}: {a}"));
    }
    println!(
        "final executions (equal for both things):\n{}\nrun time {:?}",
        finals.join("\n"),
        started.elapsed()
    );
}
