//! The emulator's client-packet handling and its Jobs state machine.
//!
//! Invariants:
//! - `connect::fixed_header` and `connect::read_connect` on arbitrary client bytes: no panic;
//!   an incomplete packet consumes nothing, a parsed CONNECT consumes its bytes;
//! - `jobs::machine::Jobs` driven by an arbitrary sequence of device requests (any topic of the
//!   jobs namespace, payloads built from the request fields or raw bytes), control calls
//!   (create, cancel, remove) and timers: no panic; every request on a jobs API topic gets
//!   exactly one reply, on `<topic>/accepted` or `<topic>/rejected` (a rejection with its code);
//!   every execution is in one of the statuses AWS defines; a terminal execution never
//!   changes status again; an execution's version number never decreases and its execution
//!   number never changes.

#![no_main]

use arbitrary::Arbitrary;
use bytes::BytesMut;
use iotjobs_emulator::connect::{fixed_header, read_connect};
use iotjobs_emulator::jobs::machine::{parse_topic, Jobs, Status, TimerReq};
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

const THINGS: [&str; 3] = ["t1", "t2", "bad thing"];
const JOBS: [&str; 4] = ["j1", "j2", "$next", "j3"];
const STATUSES: [&str; 9] = [
    "QUEUED",
    "IN_PROGRESS",
    "SUCCEEDED",
    "FAILED",
    "TIMED_OUT",
    "REJECTED",
    "REMOVED",
    "CANCELED",
    "bogus",
];

#[derive(Arbitrary, Debug)]
enum Field {
    Status(u8),
    ExpectedVersion(i64),
    ExecutionNumber(i64),
    StepTimeout(i64),
    Include(bool, bool),
    Details(Vec<(String, String)>),
    Token(String),
    Raw(String, i64),
}

#[derive(Arbitrary, Debug)]
enum Step {
    Request {
        thing: u8,
        op: u8,
        job: u8,
        fields: Vec<Field>,
    },
    RawRequest {
        topic: String,
        payload: Vec<u8>,
    },
    Create {
        job: u8,
        targets: u8,
        timeout: Option<i64>,
    },
    Cancel {
        job: u8,
        force: bool,
    },
    CancelExecution {
        job: u8,
        thing: u8,
        force: bool,
    },
    Remove {
        job: u8,
        thing: u8,
    },
    /// Fire one of the timers armed so far.
    Timer(u8),
    /// Minutes pass.
    Wait(u16),
}

#[derive(Arbitrary, Debug)]
struct Input {
    client_bytes: Vec<u8>,
    max: u16,
    steps: Vec<Step>,
}

fn payload(fields: Vec<Field>) -> Vec<u8> {
    let mut m = Map::new();
    for f in fields.into_iter().take(8) {
        match f {
            Field::Status(s) => {
                m.insert(
                    "status".into(),
                    json!(STATUSES[usize::from(s) % STATUSES.len()]),
                );
            }
            Field::ExpectedVersion(v) => {
                m.insert("expectedVersion".into(), json!(v % 8));
            }
            Field::ExecutionNumber(v) => {
                m.insert("executionNumber".into(), json!(v % 4));
            }
            Field::StepTimeout(v) => {
                m.insert("stepTimeoutInMinutes".into(), json!(v % 20000));
            }
            Field::Include(state, doc) => {
                m.insert("includeJobExecutionState".into(), json!(state));
                m.insert("includeJobDocument".into(), json!(doc));
            }
            Field::Details(d) => {
                let d: Map<String, Value> = d
                    .into_iter()
                    .take(12)
                    .map(|(k, v)| (k, Value::String(v)))
                    .collect();
                m.insert("statusDetails".into(), Value::Object(d));
            }
            Field::Token(t) => {
                m.insert("clientToken".into(), json!(t));
            }
            Field::Raw(k, v) => {
                m.insert(k, json!(v));
            }
        }
    }
    Value::Object(m).to_string().into_bytes()
}

fuzz_target!(|input: Input| {
    let _ = fixed_header(&input.client_bytes);
    let mut buf = BytesMut::from(&input.client_bytes[..]);
    let before = buf.len();
    match read_connect(&mut buf, usize::from(input.max).max(2)) {
        Ok(None) => assert_eq!(buf.len(), before, "an incomplete packet consumes nothing"),
        Ok(Some(_)) => assert!(buf.len() < before, "a CONNECT consumes its bytes"),
        Err(_) => {}
    }

    let mut jobs = Jobs::new();
    let mut now: i64 = 1_700_000_000;
    let mut timers: Vec<TimerReq> = Vec::new();
    // (thing, job) -> (status, version, execution number) as last seen.
    let mut seen: BTreeMap<(String, String), (Status, u64, u64)> = BTreeMap::new();
    for step in input.steps.into_iter().take(128) {
        now += 1;
        match step {
            Step::Request {
                thing,
                op,
                job,
                fields,
            } => {
                let thing = THINGS[usize::from(thing) % THINGS.len()];
                let job = JOBS[usize::from(job) % JOBS.len()];
                let suffix = match op % 5 {
                    0 => "get".to_owned(),
                    1 => "start-next".to_owned(),
                    2 => format!("{job}/get"),
                    3 => format!("{job}/update"),
                    _ => format!("{job}/nothing"),
                };
                let topic = format!("$aws/things/{thing}/jobs/{suffix}");
                let out = jobs.request(&topic, &payload(fields), now);
                let reply = out.reply.expect("a jobs-namespace request is answered");
                if out.rejected.is_some() {
                    assert_eq!(reply.topic, format!("{topic}/rejected"));
                    assert!(reply.payload.get("code").is_some(), "{:?}", reply.payload);
                } else {
                    assert_eq!(reply.topic, format!("{topic}/accepted"));
                }
                timers.extend(out.timers);
            }
            Step::RawRequest { topic, payload } => {
                let out = jobs.request(&topic, &payload, now);
                match parse_topic(&topic) {
                    None => assert!(
                        out.reply.is_none(),
                        "{topic:?} is outside the jobs namespace"
                    ),
                    Some(_) => assert!(out.reply.is_some(), "{topic:?} gets a reply"),
                }
                timers.extend(out.timers);
            }
            Step::Create {
                job,
                targets,
                timeout,
            } => {
                let job = JOBS[usize::from(job) % JOBS.len()];
                let things: Vec<&str> = (0..3)
                    .filter(|i| targets & (1 << i) != 0)
                    .map(|i| THINGS[i])
                    .collect();
                let options = iotjobs_emulator::JobOptions {
                    in_progress_timeout_minutes: timeout.map(|t| t % 11000),
                    ..Default::default()
                };
                let _ = jobs.create_job_with(job, json!({"op": job}), &things, options, now);
            }
            Step::Cancel { job, force } => {
                let _ = jobs.cancel_job(JOBS[usize::from(job) % JOBS.len()], force, now);
            }
            Step::CancelExecution { job, thing, force } => {
                let _ = jobs.cancel_execution(
                    JOBS[usize::from(job) % JOBS.len()],
                    THINGS[usize::from(thing) % THINGS.len()],
                    force,
                    now,
                );
            }
            Step::Remove { job, thing } => {
                let _ = jobs.remove_thing(
                    JOBS[usize::from(job) % JOBS.len()],
                    THINGS[usize::from(thing) % THINGS.len()],
                    now,
                );
            }
            Step::Timer(i) => {
                if !timers.is_empty() {
                    let t = timers.remove(usize::from(i) % timers.len());
                    now = now.max(now + t.minutes.clamp(0, 20000) * 60);
                    let _ = jobs.timer_fired(&t, now);
                }
            }
            Step::Wait(minutes) => now += i64::from(minutes) * 60,
        }
        timers.truncate(256);
        for (key, e) in &jobs.execs {
            assert!(Status::ALL.contains(&e.status));
            assert_eq!((&e.thing, &e.job_id), (&key.0, &key.1));
            if let Some(&(status, version, number)) = seen.get(key) {
                if status.is_terminal() {
                    assert_eq!(e.status, status, "{key:?}: a terminal execution changed");
                }
                assert!(
                    e.version >= version,
                    "{key:?}: version {version} -> {}",
                    e.version
                );
                assert_eq!(
                    e.execution_number, number,
                    "{key:?}: execution number changed"
                );
            }
            seen.insert(key.clone(), (e.status, e.version, e.execution_number));
        }
    }
});
