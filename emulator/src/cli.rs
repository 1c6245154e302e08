//! The `iotjobs-emulator` command line: `serve` (default) runs the emulator, `ctl` talks to a
//! running one through its control port.

use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::{Emulator, EmulatorConfig, TlsConfig};

pub const USAGE: &str = "\
iotjobs-emulator: a local AWS IoT endpoint (MQTT 3.1.1 server + AWS IoT Jobs service)

USAGE:
    iotjobs-emulator [serve] [OPTIONS]
    iotjobs-emulator ctl --port CONTROL_PORT COMMAND [ARGS]

SERVE OPTIONS:
    --host ADDR           loopback address to listen on (default 127.0.0.1; ::1 allowed)
    --port PORT           plain MQTT port (default 0 = a free port)
    --control-port PORT   control port (default 0 = a free port)
    --tls-port PORT       also listen for MQTT over TLS; needs --cert, --key, --client-ca
    --cert FILE           server certificate chain (PEM)
    --key FILE            server private key (PEM)
    --client-ca FILE      CA (PEM) that client certificates must chain to (required)
    --ws-port PORT        also listen for MQTT over WebSocket (ws://HOST:PORT/mqtt)
    --wss-port PORT       also listen for MQTT over secure WebSocket (wss://localhost:PORT/mqtt,
                          server certificate only); needs --cert, --key
    --sigv4-key ID:SECRET an access key the WebSocket listeners accept (repeatable; test keys
                          only, the command line is visible to other users): with it, every
                          upgrade needs a valid SigV4 presigned query, else HTTP 403
    --minute-ms N         length of a step-timer minute in milliseconds (default 60000)
    --aws-keepalive       clamp keep-alive to AWS's 30..1200 s instead of the client's value
    --max-payload BYTES   largest PUBLISH payload (default 131072, AWS's 128 KiB)
    --quiet               no per-device log lines on stderr

    On start, one line goes to stdout, for scripts:
        listening mqtt=127.0.0.1:PORT control=127.0.0.1:PORT [tls=…] [ws=…]
    Then each device's actions are logged on stderr. Stop with Ctrl-C or SIGTERM.

CTL COMMANDS (iotjobs-emulator ctl [--host ADDR] --port CONTROL_PORT …):
    create-job --id JOB --doc JSON|@FILE --things THING[,THING…] [--in-progress-timeout MINUTES]
               [--retry TYPE=N[,TYPE=N]]
        --retry: jobExecutionsRetryConfig, TYPE FAILED, TIMED_OUT or ALL, N 0-10 (at most 10
        together), e.g. --retry FAILED=2,TIMED_OUT=1
    cancel-job --id JOB [--force]
    cancel-execution --id JOB --thing THING [--force]
    remove-thing --id JOB --thing THING
    describe-execution --id JOB --thing THING [--execution N]
        the latest execution, or the one with executionNumber N (older ones of a retried job)
    describe-job --id JOB
    list-executions [--json]          every execution, older ones of retried jobs too
    list-jobs [--json]
    clients
    cut --client ID | blackhole --client ID
    throttle --count N | drop-replies --count N | malform-replies --count N |
    drop-pubacks --count N
    refuse-connack --code C --count N | refuse-suback --filter F --count N
    reply-delay --ms N | restart --down-ms N
    wait --id JOB --thing THING --status S[,S…] [--timeout SECONDS]
        waits until the execution has one of the statuses (exit 1 on timeout)
";

/// Why a command stopped early: a message for stderr, or stdout closed under us (the reader of a
/// pipe went away, as with `… | head`), which ends the command quietly.
enum Stop {
    Msg(String),
    Closed,
}

impl From<String> for Stop {
    fn from(m: String) -> Stop {
        Stop::Msg(m)
    }
}

impl From<&str> for Stop {
    fn from(m: &str) -> Stop {
        Stop::Msg(m.to_string())
    }
}

/// Writes `text` to stdout and flushes. A closed pipe is `Stop::Closed`, not a panic (which is
/// what `print!` does); any other write error is a message.
fn say(text: &str) -> Result<(), Stop> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(Stop::Closed),
        Err(e) => Err(Stop::Msg(format!("cannot write to stdout: {e}"))),
    }
}

/// `say` with a newline.
fn say_line(text: &str) -> Result<(), Stop> {
    say(&format!("{text}\n"))
}

/// Simple `--flag value` / `--switch` argument list.
struct Args {
    items: Vec<String>,
}

impl Args {
    fn value(&mut self, name: &str) -> Result<Option<String>, String> {
        let Some(i) = self.items.iter().position(|a| a == name) else {
            return Ok(None);
        };
        if i + 1 >= self.items.len() {
            return Err(format!("{name} needs a value"));
        }
        let v = self.items.remove(i + 1);
        self.items.remove(i);
        Ok(Some(v))
    }

    fn required(&mut self, name: &str) -> Result<String, String> {
        self.value(name)?.ok_or_else(|| format!("missing {name}"))
    }

    fn switch(&mut self, name: &str) -> bool {
        match self.items.iter().position(|a| a == name) {
            Some(i) => {
                self.items.remove(i);
                true
            }
            None => false,
        }
    }

    fn port(&mut self, name: &str) -> Result<Option<u16>, String> {
        self.value(name)?
            .map(|v| {
                v.parse::<u16>()
                    .map_err(|_| format!("{name}: {v:?} is not a port number (0-65535)"))
            })
            .transpose()
    }

    fn finish(self) -> Result<(), String> {
        match self.items.first() {
            None => Ok(()),
            Some(a) => Err(format!("unexpected argument {a:?} (see --help)")),
        }
    }
}

/// Every `--sigv4-key ID:SECRET`, or `None` when there is none (upgrades are not checked).
fn sigv4_keys(args: &mut Args) -> Result<Option<crate::SigV4Config>, String> {
    let mut cfg = crate::SigV4Config::default();
    while let Some(v) = args.value("--sigv4-key")? {
        match v.split_once(':') {
            Some((id, secret)) if !id.is_empty() && !secret.is_empty() => {
                cfg.keys.insert(id.to_owned(), secret.to_owned());
            }
            _ => return Err("--sigv4-key takes ID:SECRET, both non-empty".into()),
        }
    }
    Ok((!cfg.keys.is_empty()).then_some(cfg))
}

fn host(args: &mut Args) -> Result<IpAddr, String> {
    let h = args.value("--host")?.unwrap_or_else(|| "127.0.0.1".into());
    let ip: IpAddr = if h == "localhost" {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        h.parse()
            .map_err(|_| format!("--host {h:?} is not an IP address"))?
    };
    if !ip.is_loopback() {
        return Err(format!(
            "--host {ip} is not a loopback address: the emulator only listens on 127.0.0.1 or ::1"
        ));
    }
    Ok(ip)
}

/// Entry point; returns the process exit code.
pub fn run(argv: Vec<String>) -> i32 {
    let mut items = argv;
    if items
        .iter()
        .any(|a| a == "--help" || a == "-h" || a == "help")
    {
        return match say(USAGE) {
            Ok(()) | Err(Stop::Closed) => 0,
            Err(Stop::Msg(e)) => {
                let _ = writeln!(std::io::stderr(), "iotjobs-emulator: {e}");
                1
            }
        };
    }
    let res = match items.first().map(String::as_str) {
        Some("ctl") => {
            items.remove(0);
            ctl(Args { items })
        }
        Some("serve") => {
            items.remove(0);
            serve(Args { items })
        }
        _ => serve(Args { items }),
    };
    match res {
        Ok(()) | Err(Stop::Closed) => 0,
        Err(Stop::Msg(e)) => {
            // Written, not eprintln!: a closed stderr must not turn an error into a panic.
            let _ = writeln!(std::io::stderr(), "iotjobs-emulator: {e}");
            1
        }
    }
}

fn serve(mut args: Args) -> Result<(), Stop> {
    let ip = host(&mut args)?;
    let port = args.port("--port")?.unwrap_or(0);
    let control = args.port("--control-port")?.unwrap_or(0);
    let tls_port = args.port("--tls-port")?;
    let ws_port = args.port("--ws-port")?;
    let wss_port = args.port("--wss-port")?;
    let cert = args.value("--cert")?;
    let key = args.value("--key")?;
    let ca = args.value("--client-ca")?;
    let minute_ms = args
        .value("--minute-ms")?
        .map(|v| {
            v.parse::<u64>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or(format!("--minute-ms {v:?} is not a positive number"))
        })
        .transpose()?;
    let max_payload = args
        .value("--max-payload")?
        .map(|v| {
            v.parse::<usize>()
                .map_err(|_| format!("--max-payload {v:?} is not a number"))
        })
        .transpose()?;
    let aws_keepalive = args.switch("--aws-keepalive");
    let quiet = args.switch("--quiet");
    let sigv4 = sigv4_keys(&mut args)?;
    args.finish()?;
    let wss = match (wss_port, &cert, &key) {
        (None, _, _) => None,
        (Some(p), Some(c), Some(k)) => Some(crate::WssConfig {
            bind: SocketAddr::new(ip, p),
            cert: PathBuf::from(c),
            key: PathBuf::from(k),
        }),
        _ => return Err("--wss-port needs --cert and --key".into()),
    };
    let (cert, key) = if tls_port.is_none() && ca.is_none() {
        (None, None)
    } else {
        (cert, key)
    };
    let tls = match (tls_port, cert, key, ca) {
        (None, None, None, None) => None,
        (Some(p), Some(c), Some(k), Some(a)) => Some(TlsConfig {
            bind: SocketAddr::new(ip, p),
            cert: PathBuf::from(c),
            key: PathBuf::from(k),
            client_ca: PathBuf::from(a),
        }),
        _ => return Err("TLS needs all of --tls-port, --cert, --key and --client-ca".into()),
    };
    let mut cfg = EmulatorConfig {
        bind: SocketAddr::new(ip, port),
        tls,
        ws: ws_port.map(|p| SocketAddr::new(ip, p)),
        wss,
        control: Some(SocketAddr::new(ip, control)),
        aws_keepalive_limits: aws_keepalive,
        log: !quiet,
        record: false,
        ..Default::default()
    };
    if let Some(ms) = minute_ms {
        cfg.minute = Duration::from_millis(ms);
    }
    if let Some(m) = max_payload {
        cfg.max_payload = m;
    }
    cfg.sigv4 = sigv4;
    let emu = Emulator::start(cfg).map_err(|e| e.to_string())?;
    let mut line = format!("listening mqtt={}", emu.mqtt_addr());
    if let Some(c) = emu.control_addr() {
        line.push_str(&format!(" control={c}"));
    }
    if let Some(t) = emu.tls_addr() {
        line.push_str(&format!(" tls={t}"));
    }
    if let Some(w) = emu.ws_addr() {
        line.push_str(&format!(" ws={w}"));
    }
    if let Some(w) = emu.wss_addr() {
        line.push_str(&format!(" wss={w}"));
    }
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
    wait_for_signal();
    let _ = writeln!(std::io::stderr(), "iotjobs-emulator: stopping");
    drop(emu);
    Ok(())
}

fn wait_for_signal() {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(_) => loop {
            std::thread::sleep(Duration::from_secs(3600));
        },
    };
    rt.block_on(async {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            match signal(SignalKind::terminate()) {
                Ok(mut term) => {
                    tokio::select! {
                        _ = tokio::signal::ctrl_c() => {}
                        _ = term.recv() => {}
                    }
                }
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    });
}

/// A blocking control-port client.
pub struct CtlClient {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl CtlClient {
    pub fn connect(addr: SocketAddr) -> Result<CtlClient, String> {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
            .map_err(|e| format!("cannot reach the control port {addr}: {e}"))?;
        let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
        let reader = BufReader::new(
            stream
                .try_clone()
                .map_err(|e| format!("control port: {e}"))?,
        );
        Ok(CtlClient { stream, reader })
    }

    /// Sends one request; `Ok(result)` or `Err(error message)`.
    pub fn call(&mut self, req: &Value) -> Result<Value, String> {
        let mut line = req.to_string();
        line.push('\n');
        self.stream
            .write_all(line.as_bytes())
            .map_err(|e| format!("control port: {e}"))?;
        let mut reply = String::new();
        self.reader
            .read_line(&mut reply)
            .map_err(|e| format!("control port: {e}"))?;
        let v: Value = serde_json::from_str(&reply)
            .map_err(|e| format!("control port sent a bad reply ({e}): {reply:?}"))?;
        if v["ok"] == json!(true) {
            Ok(v["result"].clone())
        } else {
            Err(v["error"].as_str().unwrap_or("unknown error").to_string())
        }
    }
}

fn num_arg(args: &mut Args, name: &str) -> Result<u64, String> {
    let v = args.required(name)?;
    v.parse()
        .map_err(|_| format!("{name} {v:?} is not a non-negative number"))
}

/// `--retry FAILED=2,TIMED_OUT=1` as AWS's `{"criteriaList": [...]}`; the server checks the
/// types and numbers.
pub fn retry_arg(s: &str) -> Result<Value, String> {
    let list = s
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(|c| {
            let (ty, n) = c
                .split_once('=')
                .ok_or_else(|| format!("--retry {c:?}: expected TYPE=N, e.g. FAILED=2"))?;
            let n: u64 = n
                .trim()
                .parse()
                .map_err(|_| format!("--retry {c:?}: {n:?} is not a non-negative number"))?;
            Ok(json!({"failureType": ty.trim().to_uppercase(), "numberOfRetries": n}))
        })
        .collect::<Result<Vec<Value>, String>>()?;
    if list.is_empty() {
        return Err("--retry needs TYPE=N[,TYPE=N], e.g. FAILED=2,TIMED_OUT=1".into());
    }
    Ok(json!({ "criteriaList": list }))
}

fn parse_doc(s: &str) -> Result<Value, String> {
    let text = match s.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| format!("bad job document: cannot read {path}: {e}"))?,
        None => s.to_string(),
    };
    let v: Value =
        serde_json::from_str(&text).map_err(|e| format!("bad job document: not JSON ({e})"))?;
    if !v.is_object() {
        return Err("bad job document: it must be a JSON object".into());
    }
    Ok(v)
}

fn ctl(mut args: Args) -> Result<(), Stop> {
    let ip = host(&mut args)?;
    let port = args
        .port("--port")?
        .ok_or("ctl needs --port CONTROL_PORT (printed as control=… by the server)")?;
    if args.items.is_empty() {
        return Err("ctl needs a command (see --help)".into());
    }
    let cmd = args.items.remove(0);
    let mut c = CtlClient::connect(SocketAddr::new(ip, port))?;
    match cmd.as_str() {
        "create-job" => {
            let id = args.required("--id")?;
            let doc = parse_doc(&args.required("--doc")?)?;
            let things: Vec<String> = args
                .required("--things")?
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect();
            let ipt = args
                .value("--in-progress-timeout")?
                .map(|v| {
                    v.parse::<i64>()
                        .map_err(|_| format!("--in-progress-timeout {v:?} is not a number"))
                })
                .transpose()?;
            let retry = args.value("--retry")?.map(|v| retry_arg(&v)).transpose()?;
            args.finish()?;
            let mut req = json!({"cmd": "create-job", "id": id, "document": doc, "things": things});
            if let Some(m) = ipt {
                req["inProgressTimeoutInMinutes"] = json!(m);
            }
            if let Some(r) = retry {
                req["retry"] = r;
            }
            c.call(&req)?;
            say_line(&format!("created job {id} for {}", things.join(", ")))?;
        }
        "cancel-job" => {
            let id = args.required("--id")?;
            let force = args.switch("--force");
            args.finish()?;
            c.call(&json!({"cmd": "cancel-job", "id": id, "force": force}))?;
            say_line(&format!("canceled job {id}"))?;
        }
        "cancel-execution" => {
            let id = args.required("--id")?;
            let thing = args.required("--thing")?;
            let force = args.switch("--force");
            args.finish()?;
            c.call(&json!({"cmd": "cancel-execution", "id": id, "thing": thing, "force": force}))?;
            say_line(&format!("canceled execution of {id} on {thing}"))?;
        }
        "remove-thing" => {
            let id = args.required("--id")?;
            let thing = args.required("--thing")?;
            args.finish()?;
            c.call(&json!({"cmd": "remove-thing", "id": id, "thing": thing}))?;
            say_line(&format!("removed {thing} from job {id}"))?;
        }
        "describe-execution" => {
            let id = args.required("--id")?;
            let thing = args.required("--thing")?;
            let number = match args.value("--execution")? {
                Some(v) => Some(
                    v.parse::<u64>()
                        .map_err(|_| format!("--execution {v:?} is not a number"))?,
                ),
                None => None,
            };
            args.finish()?;
            let mut req = json!({"cmd": "describe-execution", "id": id, "thing": thing});
            if let Some(n) = number {
                req["executionNumber"] = json!(n);
            }
            let v = c.call(&req)?;
            say_line(&serde_json::to_string_pretty(&v).unwrap_or_default())?;
        }
        "describe-job" => {
            let id = args.required("--id")?;
            args.finish()?;
            let v = c.call(&json!({"cmd": "describe-job", "id": id}))?;
            say_line(&serde_json::to_string_pretty(&v).unwrap_or_default())?;
        }
        "list-executions" => {
            let as_json = args.switch("--json");
            args.finish()?;
            let v = c.call(&json!({"cmd": "list-executions"}))?;
            if as_json {
                say_line(&v.to_string())?;
            } else {
                say(&executions_table(
                    v.as_array().map(Vec::as_slice).unwrap_or(&[]),
                ))?;
            }
        }
        "list-jobs" => {
            let as_json = args.switch("--json");
            args.finish()?;
            let v = c.call(&json!({"cmd": "list-jobs"}))?;
            if as_json {
                say_line(&v.to_string())?;
            } else {
                say(&jobs_table(v.as_array().map(Vec::as_slice).unwrap_or(&[])))?;
            }
        }
        "clients" => {
            args.finish()?;
            let v = c.call(&json!({"cmd": "clients"}))?;
            say(&clients_text(&v))?;
        }
        "cut" | "blackhole" => {
            let client = args.required("--client")?;
            args.finish()?;
            let hit = c.call(&json!({"cmd": cmd, "client": client}))?;
            if hit != json!(true) {
                return Err(format!("client {client} is not connected").into());
            }
            say_line(&format!("{cmd}: {client}"))?;
        }
        "throttle" | "drop-replies" | "malform-replies" | "drop-pubacks" => {
            let n = num_arg(&mut args, "--count")?;
            args.finish()?;
            c.call(&json!({"cmd": cmd, "count": n}))?;
            say_line(&format!("{cmd}: next {n}"))?;
        }
        "refuse-connack" => {
            let code = num_arg(&mut args, "--code")?;
            let n = num_arg(&mut args, "--count")?;
            args.finish()?;
            c.call(&json!({"cmd": cmd, "code": code, "count": n}))?;
            say_line(&format!("refuse-connack: next {n} with code {code}"))?;
        }
        "refuse-suback" => {
            let filter = args.required("--filter")?;
            let n = num_arg(&mut args, "--count")?;
            args.finish()?;
            c.call(&json!({"cmd": cmd, "filter": filter, "count": n}))?;
            say_line(&format!("refuse-suback: next {n} for {filter}"))?;
        }
        "reply-delay" => {
            let ms = num_arg(&mut args, "--ms")?;
            args.finish()?;
            c.call(&json!({"cmd": cmd, "ms": ms}))?;
            say_line(&format!("reply-delay: {ms} ms"))?;
        }
        "restart" => {
            let ms = num_arg(&mut args, "--down-ms")?;
            args.finish()?;
            c.call(&json!({"cmd": cmd, "down_ms": ms}))?;
            say_line(&format!("restart: listeners down for {ms} ms"))?;
        }
        "wait" => {
            let id = args.required("--id")?;
            let thing = args.required("--thing")?;
            let want: Vec<String> = args
                .required("--status")?
                .split(',')
                .map(|s| s.trim().to_uppercase())
                .collect();
            let secs: f64 = args
                .value("--timeout")?
                .map(|v| {
                    v.parse()
                        .map_err(|_| format!("--timeout {v:?} is not a number"))
                })
                .transpose()?
                .unwrap_or(30.0);
            args.finish()?;
            let end = Instant::now() + Duration::from_secs_f64(secs.clamp(0.0, 86400.0));
            loop {
                let v = c
                    .call(&json!({"cmd": "describe-execution", "id": id, "thing": thing}))
                    .ok();
                let status = v
                    .as_ref()
                    .and_then(|v| v["status"].as_str())
                    .unwrap_or("")
                    .to_string();
                if want.contains(&status) {
                    say_line(&format!("{id} on {thing}: {status}"))?;
                    break;
                }
                if Instant::now() >= end {
                    return Err(format!(
                        "timed out: {id} on {thing} is {} (waiting for {})",
                        if status.is_empty() {
                            "unknown"
                        } else {
                            &status
                        },
                        want.join(",")
                    )
                    .into());
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        other => return Err(format!("unknown ctl command {other:?} (see --help)").into()),
    }
    Ok(())
}

fn details_text(v: &Value) -> String {
    match v.get("statusDetails").and_then(Value::as_object) {
        Some(m) => m
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
            .collect::<Vec<_>>()
            .join(" "),
        None => String::new(),
    }
}

fn table(headers: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut w: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let mut out = String::new();
    let line = |cells: Vec<String>, out: &mut String| {
        let s: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<width$}", width = w[i]))
            .collect();
        out.push_str(s.join("  ").trim_end());
        out.push('\n');
    };
    line(headers.iter().map(|s| s.to_string()).collect(), &mut out);
    for r in rows {
        line(r, &mut out);
    }
    out
}

/// What `ctl clients` prints: one client id a line, or a line saying there are none.
pub fn clients_text(ids: &Value) -> String {
    let ids: Vec<&str> = ids
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if ids.is_empty() {
        return "no clients connected\n".to_string();
    }
    ids.iter().map(|id| format!("{id}\n")).collect()
}

/// The executions table printed by `ctl list-executions`.
pub fn executions_table(execs: &[Value]) -> String {
    let rows = execs
        .iter()
        .map(|e| {
            vec![
                e["jobId"].as_str().unwrap_or_default().to_string(),
                e["thingName"].as_str().unwrap_or_default().to_string(),
                e["status"].as_str().unwrap_or_default().to_string(),
                e["versionNumber"].to_string(),
                e["executionNumber"].to_string(),
                details_text(e),
            ]
        })
        .collect();
    table(
        &["JOB", "THING", "STATUS", "VERSION", "EXECUTION", "DETAILS"],
        rows,
    )
}

/// The jobs table printed by `ctl list-jobs`.
pub fn jobs_table(jobs: &[Value]) -> String {
    let rows = jobs
        .iter()
        .map(|j| {
            let targets: Vec<&str> = j["targets"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            vec![
                j["jobId"].as_str().unwrap_or_default().to_string(),
                j["status"].as_str().unwrap_or_default().to_string(),
                targets.join(","),
                j["document"].to_string(),
            ]
        })
        .collect();
    table(&["JOB", "STATUS", "TARGETS", "DOCUMENT"], rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables() {
        let t = executions_table(&[
            json!({"jobId": "j1", "thingName": "dev", "status": "SUCCEEDED",
            "versionNumber": 3, "executionNumber": 1, "statusDetails": {"p": "100"}}),
        ]);
        assert_eq!(
            t,
            "JOB  THING  STATUS     VERSION  EXECUTION  DETAILS\nj1   dev    SUCCEEDED  3        1          p=100\n"
        );
    }

    #[test]
    fn clients_listing() {
        assert_eq!(clients_text(&json!([])), "no clients connected\n");
        assert_eq!(clients_text(&Value::Null), "no clients connected\n");
        assert_eq!(clients_text(&json!(["a", "b"])), "a\nb\n");
    }

    #[test]
    fn args_errors() {
        assert!(host(&mut Args {
            items: vec!["--host".into(), "10.0.0.1".into()]
        })
        .unwrap_err()
        .contains("loopback"));
        assert!(parse_doc("[1]").unwrap_err().contains("bad job document"));
        assert!(parse_doc("{").unwrap_err().contains("not JSON"));
        let mut a = Args {
            items: vec!["--port".into(), "x".into()],
        };
        assert!(a.port("--port").is_err());
    }

    #[test]
    fn sigv4_key_options() {
        let mut a = Args {
            items: [
                "--sigv4-key",
                "AKID1:s/1+",
                "--quiet",
                "--sigv4-key",
                "AKID2:s:2",
            ]
            .map(String::from)
            .to_vec(),
        };
        let c = sigv4_keys(&mut a).unwrap().unwrap();
        assert_eq!(c.keys["AKID1"], "s/1+");
        assert_eq!(c.keys["AKID2"], "s:2");
        assert_eq!(a.items, ["--quiet"]);
        assert_eq!(sigv4_keys(&mut Args { items: vec![] }).unwrap(), None);
        for bad in ["AKID", ":s", "AKID:"] {
            let mut a = Args {
                items: vec!["--sigv4-key".into(), bad.into()],
            };
            assert!(sigv4_keys(&mut a).is_err(), "{bad}");
        }
    }

    #[test]
    fn retry_option() {
        assert_eq!(
            retry_arg("FAILED=2, timed_out=1").unwrap(),
            json!({"criteriaList": [{"failureType": "FAILED", "numberOfRetries": 2},
                                    {"failureType": "TIMED_OUT", "numberOfRetries": 1}]})
        );
        for bad in ["", "FAILED", "FAILED=x", "FAILED=-1", ","] {
            assert!(retry_arg(bad).is_err(), "{bad:?}");
        }
        // what the server accepts from it
        let c = crate::RetryConfig::from_json(&retry_arg("ALL=3").unwrap()).unwrap();
        assert_eq!(c.all, Some(3));
        assert!(crate::RetryConfig::from_json(&retry_arg("FAILED=1,FAILED=2").unwrap()).is_err());
    }
}
