//! The binary: startup line, clear errors, and the ctl subcommands against a running server.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use iotjobs_emulator::cli::CtlClient;
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_iotjobs-emulator");

struct Server {
    child: Child,
    mqtt: u16,
    control: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(extra: &[&str]) -> Server {
    let mut child = Command::new(BIN)
        .args(["--quiet"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = |k: &str| -> u16 {
        let start = line.find(&format!("{k}=127.0.0.1:")).unwrap() + k.len() + 11;
        line[start..]
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert!(line.starts_with("listening mqtt=127.0.0.1:"), "{line}");
    Server {
        mqtt: port("mqtt"),
        control: port("control"),
        child,
    }
}

fn ctl(s: &Server, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(["ctl", "--port", &s.control.to_string()])
        .args(args)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
}

#[test]
fn help_and_errors() {
    let o = Command::new(BIN).arg("--help").output().unwrap();
    assert!(o.status.success());
    assert!(text(&o).contains("USAGE"));
    let o = Command::new(BIN)
        .args(["--host", "192.168.1.1"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("not a loopback address"));
    let o = Command::new(BIN).args(["--bogus"]).output().unwrap();
    assert!(text(&o).contains("unexpected argument"));
    let s = start(&[]);
    let o = Command::new(BIN)
        .args(["--port", &s.mqtt.to_string()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("port in use"), "{}", text(&o));
}

#[test]
fn ctl_round_trip() {
    let s = start(&["--minute-ms", "10"]);
    let o = ctl(
        &s,
        &[
            "create-job",
            "--id",
            "j1",
            "--doc",
            r#"{"op":"x"}"#,
            "--things",
            "a,b",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = ctl(
        &s,
        &[
            "create-job",
            "--id",
            "j2",
            "--doc",
            "not json",
            "--things",
            "a",
        ],
    );
    assert!(!o.status.success() && text(&o).contains("bad job document"));
    let o = ctl(&s, &["cancel-execution", "--id", "j1", "--thing", "zzz"]);
    assert!(!o.status.success() && text(&o).contains("unknown thing zzz"));
    assert!(ctl(&s, &["cancel-execution", "--id", "j1", "--thing", "a"])
        .status
        .success());
    assert!(ctl(&s, &["remove-thing", "--id", "j1", "--thing", "b"])
        .status
        .success());
    let o = ctl(&s, &["list-executions"]);
    let t = text(&o);
    assert!(t.starts_with("JOB"), "{t}");
    assert!(t.contains("CANCELED") && t.contains("REMOVED"), "{t}");
    let o = ctl(&s, &["list-executions", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 2);
    let o = ctl(&s, &["list-jobs"]);
    assert!(text(&o).contains("COMPLETED"), "{}", text(&o));
    let o = ctl(
        &s,
        &[
            "wait",
            "--id",
            "j1",
            "--thing",
            "a",
            "--status",
            "canceled",
            "--timeout",
            "2",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = ctl(&s, &["describe-execution", "--id", "j1", "--thing", "a"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["jobDocument"]["op"], "x");
    let o = ctl(&s, &["cut", "--client", "nobody"]);
    assert!(!o.status.success() && text(&o).contains("not connected"));
    for args in [
        &["throttle", "--count", "1"][..],
        &["drop-replies", "--count", "0"],
        &["drop-pubacks", "--count", "0"],
        &["refuse-connack", "--code", "5", "--count", "0"],
        &["refuse-suback", "--filter", "a/b", "--count", "0"],
        &["reply-delay", "--ms", "0"],
        &["restart", "--down-ms", "50"],
    ] {
        let o = ctl(&s, args);
        assert!(o.status.success(), "{args:?}: {}", text(&o));
    }
    // after the restart the MQTT port is back
    let t0 = std::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", s.mqtt)).is_err() {
        assert!(t0.elapsed() < std::time::Duration::from_secs(5));
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let o = ctl(&s, &["nonsense"]);
    assert!(text(&o).contains("unknown ctl command"));
}

/// Asserts that a command whose stdout reader went away ended as a quiet success: exit status 0
/// and nothing at all on stderr (no "failed printing to stdout", no panic message).
fn assert_quiet_end(what: &str, o: &Output) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !err.contains("panicked") && !err.contains("Broken pipe"),
        "{what}: {err}"
    );
    assert!(err.is_empty(), "{what}: unexpected stderr {err:?}");
    assert_eq!(o.status.code(), Some(0), "{what}: {err}");
}

/// Runs `iotjobs-emulator ctl … args` against a stand-in control port that answers its one
/// request with `result`. The reader of the command's stdout is dropped before the answer is
/// sent, so the command's first write to stdout fails with EPIPE.
fn ctl_into_closed_pipe(args: &[&str], result: &Value) -> Output {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let mut child = Command::new(BIN)
        .args(["ctl", "--port", &port])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let end = Instant::now() + Duration::from_secs(10);
    let conn = loop {
        match listener.accept() {
            Ok((c, _)) => break c,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                assert!(Instant::now() < end, "{args:?}: ctl never connected");
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("accept: {e}"),
        }
    };
    conn.set_nonblocking(false).unwrap();
    let mut request = String::new();
    BufReader::new(conn.try_clone().unwrap())
        .read_line(&mut request)
        .unwrap();
    let mut w = conn;
    writeln!(w, "{}", json!({"ok": true, "result": result})).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn every_ctl_output_into_a_closed_pipe_ends_quietly() {
    let execs = json!((0..50)
        .map(
            |i| json!({"jobId": format!("j{i}"), "thingName": "dev", "status": "QUEUED",
            "versionNumber": 1, "executionNumber": 1, "statusDetails": {"k": "v"}})
        )
        .collect::<Vec<_>>());
    let jobs = json!([{"jobId": "j1", "status": "IN_PROGRESS", "targets": ["dev"],
        "document": {"op": "x"}}]);
    let cases: Vec<(&[&str], Value)> = vec![
        (&["list-executions", "--json"], execs.clone()),
        (&["list-executions"], execs),
        (&["list-jobs", "--json"], jobs.clone()),
        (&["list-jobs"], jobs),
        (&["describe-job", "--id", "j1"], json!({"jobId": "j1"})),
        (
            &["describe-execution", "--id", "j1", "--thing", "dev"],
            json!({"jobId": "j1", "status": "QUEUED"}),
        ),
        (&["clients"], json!([])),
        (&["clients"], json!(["dev-1", "dev-2"])),
        (
            &["create-job", "--id", "j", "--doc", "{}", "--things", "a"],
            Value::Null,
        ),
        (&["cancel-job", "--id", "j"], Value::Null),
        (&["throttle", "--count", "1"], Value::Null),
        (&["cut", "--client", "dev-1"], json!(true)),
        (
            &["wait", "--id", "j", "--thing", "a", "--status", "queued"],
            json!({"status": "QUEUED"}),
        ),
    ];
    for (args, result) in &cases {
        let o = ctl_into_closed_pipe(args, result);
        assert_quiet_end(&format!("{args:?}"), &o);
    }
}

/// `ctl list-jobs --json | head -c 300` against a real server: the output is far larger than a
/// pipe holds, so the command is still writing when the reader goes away.
#[test]
fn reader_closing_early_ends_quietly() {
    let s = start(&[]);
    let mut c = CtlClient::connect(SocketAddr::from(([127, 0, 0, 1], s.control))).unwrap();
    let doc = json!({"blob": "x".repeat(30_000)});
    for i in 0..12 {
        c.call(
            &json!({"cmd": "create-job", "id": format!("j{i}"), "document": doc,
            "things": ["a", "b"]}),
        )
        .unwrap();
    }
    for args in [
        &["list-jobs", "--json"][..],
        &["list-jobs"],
        &["describe-job", "--id", "j0"],
    ] {
        let mut child = Command::new(BIN)
            .args(["ctl", "--port", &s.control.to_string()])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut head = [0u8; 300];
        child
            .stdout
            .as_mut()
            .unwrap()
            .read_exact(&mut head)
            .unwrap();
        drop(child.stdout.take());
        let o = child.wait_with_output().unwrap();
        assert_quiet_end(&format!("{args:?}"), &o);
    }
}

/// `iotjobs-emulator --help` into a pipe nobody reads. `sh` waits for a line on stdin before it
/// becomes the emulator, so the reader is gone before the first write.
#[cfg(unix)]
#[test]
fn help_into_a_closed_pipe_ends_quietly() {
    let mut child = Command::new("sh")
        .args(["-c", "read line && exec \"$0\" --help", BIN])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "go").unwrap();
    drop(stdin);
    let o = child.wait_with_output().unwrap();
    assert_quiet_end("--help", &o);
}

#[test]
fn ctl_clients_says_when_none_are_connected() {
    let s = start(&[]);
    let o = ctl(&s, &["clients"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "no clients connected\n");
    let _dev = common::Raw::connect(SocketAddr::from(([127, 0, 0, 1], s.mqtt)), "dev-1");
    let end = Instant::now() + Duration::from_secs(5);
    loop {
        let o = ctl(&s, &["clients"]);
        assert!(o.status.success(), "{}", text(&o));
        if String::from_utf8_lossy(&o.stdout) == "dev-1\n" {
            break;
        }
        assert!(Instant::now() < end, "{}", text(&o));
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn ctl_retries() {
    let s = start(&[]);
    let o = ctl(
        &s,
        &[
            "create-job",
            "--id",
            "bad",
            "--doc",
            "{}",
            "--things",
            "dev1",
            "--retry",
            "FAILED=11",
        ],
    );
    assert!(
        !o.status.success() && text(&o).contains("0-10"),
        "{}",
        text(&o)
    );
    let o = ctl(
        &s,
        &[
            "create-job",
            "--id",
            "fw",
            "--doc",
            "{}",
            "--things",
            "dev1",
            "--retry",
            "FAILED=1,TIMED_OUT=1",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = ctl(&s, &["describe-job", "--id", "fw"]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        v["jobExecutionsRetryConfig"]["criteriaList"][0],
        json!({"failureType": "FAILED", "numberOfRetries": 1})
    );
    // the device fails its first attempt
    let mut dev = common::Raw::connect(SocketAddr::from(([127, 0, 0, 1], s.mqtt)), "dev1");
    for (topic, payload) in [
        ("start-next", "{}"),
        ("fw/update", r#"{"status":"FAILED"}"#),
    ] {
        dev.publish(
            &format!("$aws/things/dev1/jobs/{topic}"),
            payload.as_bytes(),
            rumqttc::mqttbytes::QoS::AtMostOnce,
        );
        let p = dev.next_publish(Duration::from_secs(3)).unwrap();
        assert!(p.topic.ends_with("/accepted"), "{}", p.topic);
    }
    let o = ctl(
        &s,
        &[
            "wait",
            "--id",
            "fw",
            "--thing",
            "dev1",
            "--status",
            "QUEUED",
            "--timeout",
            "3",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = ctl(&s, &["list-executions", "--json"]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let attempts: Vec<(u64, &str)> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["executionNumber"].as_u64().unwrap(),
                e["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(attempts, [(1, "FAILED"), (2, "QUEUED")]);
    let t = text(&ctl(&s, &["list-executions"]));
    assert!(t.contains("FAILED") && t.contains("QUEUED"), "{t}");
    let o = ctl(
        &s,
        &[
            "describe-execution",
            "--id",
            "fw",
            "--thing",
            "dev1",
            "--execution",
            "1",
        ],
    );
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (v["executionNumber"].as_u64(), v["status"].as_str()),
        (Some(1), Some("FAILED"))
    );
    let o = ctl(&s, &["describe-execution", "--id", "fw", "--thing", "dev1"]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["executionNumber"], 2);
    let o = ctl(
        &s,
        &[
            "describe-execution",
            "--id",
            "fw",
            "--thing",
            "dev1",
            "--execution",
            "7",
        ],
    );
    assert!(
        !o.status.success() && text(&o).contains("no execution number 7"),
        "{}",
        text(&o)
    );
}
