//! The control plane: in-process functions behind [`crate::Emulator`]'s Jobs methods, and the
//! loopback control port.
//!
//! ## Control port protocol
//! Line-based JSON over TCP on a loopback address (`--control-port`). Each request is one JSON
//! object on one line; each reply is one JSON object on one line:
//! `{"ok":true,"result":…}` or `{"ok":false,"error":"…"}`. A connection may send many requests.
//!
//! | `cmd` | other fields | `result` |
//! |---|---|---|
//! | `ping` | | `"pong"` |
//! | `create-job` | `id`, `document` (object), `things` (array of names), optional `inProgressTimeoutInMinutes`, optional `retry` | `null` |
//! | `cancel-job` | `id`, `force` (bool, default false) | `null` |
//! | `cancel-execution` | `id`, `thing`, `force` | `null` |
//! | `remove-thing` | `id`, `thing` | `null` |
//! | `describe-execution` | `id`, `thing`, optional `executionNumber` (default: the latest) | execution object |
//! | `describe-job` | `id` | job with `executionCounts` per status |
//! | `list-executions` | | array of executions, older executions of retried jobs included |
//! | `list-jobs` | | array of jobs |
//! | `clients` | | array of connected client ids |
//! | `cut` / `blackhole` | `client` | bool (false: not connected) |
//! | `throttle` / `drop-replies` / `drop-pubacks` | `count` | `null` |
//! | `refuse-connack` | `code`, `count` | `null` |
//! | `refuse-suback` | `filter`, `count` | `null` |
//! | `reply-delay` | `ms` | `null` |
//! | `restart` | `down_ms` | `null` (listeners close, rebind after down_ms) |
//!
//! `retry` is the job's `jobExecutionsRetryConfig`: `{"FAILED": 2, "TIMED_OUT": 1}` (failure
//! type → `numberOfRetries`; types `FAILED`, `TIMED_OUT`, `ALL`), or AWS's own form
//! `{"criteriaList": [{"failureType": "FAILED", "numberOfRetries": 2}]}`. Each number is 0-10,
//! and together at most 10. `list-jobs` and `describe-job` show it in AWS's form.
//!
//! Example with a shell: `echo '{"cmd":"list-jobs"}' | nc 127.0.0.1 PORT`, or the
//! `iotjobs-emulator ctl --port PORT …` subcommands.

use std::sync::Arc;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use crate::broker::{lock, Shared};
use crate::jobs::machine::{JobOptions, RetryConfig};
use crate::jobs::service::{notify, now_secs};

pub(crate) fn create_job(
    shared: &Shared,
    job_id: &str,
    document: Value,
    targets: &[&str],
    options: JobOptions,
) -> Result<(), String> {
    let msgs =
        lock(&shared.jobs)
            .jobs
            .create_job_with(job_id, document, targets, options, now_secs())?;
    shared.log.log(
        "control",
        format_args!("job {job_id} created for {}", targets.join(", ")),
    );
    notify(shared, msgs);
    Ok(())
}

pub(crate) fn cancel_job(shared: &Shared, job_id: &str, force: bool) -> Result<(), String> {
    let msgs = lock(&shared.jobs)
        .jobs
        .cancel_job(job_id, force, now_secs())?;
    shared.log.log(
        "control",
        format_args!(
            "job {job_id} canceled{}",
            if force { " (force)" } else { "" }
        ),
    );
    notify(shared, msgs);
    Ok(())
}

pub(crate) fn cancel_execution(
    shared: &Shared,
    job_id: &str,
    thing: &str,
    force: bool,
) -> Result<(), String> {
    let msgs = lock(&shared.jobs)
        .jobs
        .cancel_execution(job_id, thing, force, now_secs())?;
    shared.log.log(
        "control",
        format_args!(
            "execution of {job_id} on {thing} canceled{}",
            if force { " (force)" } else { "" }
        ),
    );
    notify(shared, msgs);
    Ok(())
}

pub(crate) fn remove_thing(shared: &Shared, job_id: &str, thing: &str) -> Result<(), String> {
    let msgs = lock(&shared.jobs)
        .jobs
        .remove_thing(job_id, thing, now_secs())?;
    shared
        .log
        .log("control", format_args!("{thing} removed from job {job_id}"));
    notify(shared, msgs);
    Ok(())
}

/// The execution with `number`, or the latest one (None).
pub(crate) fn describe_execution(
    shared: &Shared,
    job_id: &str,
    thing: &str,
    number: Option<u64>,
) -> Option<Value> {
    lock(&shared.jobs)
        .jobs
        .describe_execution_number(job_id, thing, number, now_secs())
}

pub(crate) fn list_executions(shared: &Shared) -> Vec<Value> {
    lock(&shared.jobs).jobs.list_executions(now_secs())
}

pub(crate) fn describe_job(shared: &Shared, job_id: &str) -> Option<Value> {
    lock(&shared.jobs).jobs.describe_job(job_id)
}

pub(crate) fn list_jobs(shared: &Shared) -> Vec<Value> {
    lock(&shared.jobs).jobs.list_jobs()
}

fn str_field<'a>(req: &'a Value, k: &str) -> Result<&'a str, String> {
    req.get(k)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("missing string field {k:?}"))
}

fn num_field(req: &Value, k: &str) -> Result<u64, String> {
    req.get(k)
        .and_then(Value::as_u64)
        .ok_or_else(|| format!("missing number field {k:?}"))
}

/// Executes one control request.
pub(crate) fn execute(shared: &Shared, req: &Value) -> Result<Value, String> {
    let cmd = str_field(req, "cmd")?;
    let force = req.get("force").and_then(Value::as_bool).unwrap_or(false);
    match cmd {
        "ping" => Ok(json!("pong")),
        "create-job" => {
            let id = str_field(req, "id")?;
            let doc = req
                .get("document")
                .cloned()
                .ok_or("missing field \"document\"")?;
            let things: Vec<&str> = req
                .get("things")
                .and_then(Value::as_array)
                .ok_or("missing array field \"things\"")?
                .iter()
                .map(|v| v.as_str().ok_or("thing names must be strings"))
                .collect::<Result<_, _>>()?;
            let retry = match req.get("retry") {
                None | Some(Value::Null) => RetryConfig::default(),
                Some(r) => RetryConfig::from_json(r)?,
            };
            let options = JobOptions {
                in_progress_timeout_minutes: req
                    .get("inProgressTimeoutInMinutes")
                    .and_then(Value::as_i64),
                retry,
            };
            create_job(shared, id, doc, &things, options).map(|_| Value::Null)
        }
        "cancel-job" => cancel_job(shared, str_field(req, "id")?, force).map(|_| Value::Null),
        "cancel-execution" => cancel_execution(
            shared,
            str_field(req, "id")?,
            str_field(req, "thing")?,
            force,
        )
        .map(|_| Value::Null),
        "remove-thing" => remove_thing(shared, str_field(req, "id")?, str_field(req, "thing")?)
            .map(|_| Value::Null),
        "describe-execution" => {
            let id = str_field(req, "id")?;
            let thing = str_field(req, "thing")?;
            let number = match req.get("executionNumber") {
                None | Some(Value::Null) => None,
                Some(_) => Some(num_field(req, "executionNumber")?),
            };
            describe_execution(shared, id, thing, number).ok_or_else(|| match number {
                Some(n) => format!("no execution number {n} of job {id} on thing {thing}"),
                None => format!("no execution of job {id} on thing {thing}"),
            })
        }
        "describe-job" => {
            let id = str_field(req, "id")?;
            describe_job(shared, id).ok_or_else(|| format!("unknown job {id}"))
        }
        "list-executions" => Ok(Value::Array(list_executions(shared))),
        "list-jobs" => Ok(Value::Array(list_jobs(shared))),
        "clients" => Ok(json!(shared.connected_clients())),
        "cut" => Ok(json!(shared.cut(str_field(req, "client")?))),
        "blackhole" => Ok(json!(shared.blackhole(str_field(req, "client")?))),
        "throttle" | "drop-replies" | "malform-replies" | "drop-pubacks" => {
            let n = num_field(req, "count")? as usize;
            match cmd {
                "throttle" => shared.faults.set_throttle(n),
                "drop-replies" => shared.faults.set_drop_replies(n),
                "malform-replies" => shared.faults.set_malform_replies(n),
                _ => shared.faults.set_drop_pubacks(n),
            }
            Ok(Value::Null)
        }
        "refuse-connack" => {
            let code = u8::try_from(num_field(req, "code")?).map_err(|_| "code must be 1-5")?;
            shared
                .faults
                .set_refuse_connack(code, num_field(req, "count")? as usize);
            Ok(Value::Null)
        }
        "refuse-suback" => {
            shared
                .faults
                .set_refuse_suback(str_field(req, "filter")?, num_field(req, "count")? as usize);
            Ok(Value::Null)
        }
        "reply-delay" => {
            shared
                .faults
                .set_reply_delay(std::time::Duration::from_millis(num_field(req, "ms")?));
            Ok(Value::Null)
        }
        "restart" => {
            shared.restart_listeners(std::time::Duration::from_millis(num_field(req, "down_ms")?));
            Ok(Value::Null)
        }
        other => Err(format!("unknown cmd {other:?}")),
    }
}

/// Serves the control port.
pub(crate) async fn serve(shared: Arc<Shared>, l: std::net::TcpListener) {
    let Ok(listener) = TcpListener::from_std(l) else {
        return;
    };
    loop {
        let Ok((sock, peer)) = listener.accept().await else {
            continue;
        };
        if !peer.ip().is_loopback() {
            continue;
        }
        let shared = shared.clone();
        tokio::spawn(async move {
            let (rd, mut wr) = sock.into_split();
            let mut lines = BufReader::new(rd).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if line.trim().is_empty() {
                    continue;
                }
                let reply = match serde_json::from_str::<Value>(&line) {
                    Ok(req) => match execute(&shared, &req) {
                        Ok(r) => json!({"ok": true, "result": r}),
                        Err(e) => json!({"ok": false, "error": e}),
                    },
                    Err(e) => json!({"ok": false, "error": format!("bad JSON request: {e}")}),
                };
                let mut out = reply.to_string();
                out.push('\n');
                if wr.write_all(out.as_bytes()).await.is_err() {
                    break;
                }
            }
        });
    }
}
