//! The binary: startup line, clear errors, and the ctl subcommands against a running server.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};

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
