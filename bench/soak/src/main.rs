//! Endurance run of the client against the in-process emulator. Prints its figures; asserts
//! no timing.
//!
//! 1. `--cycles N` connect, cut and reconnect cycles (the emulator's `cut` fault), each with a
//!    QoS 1 publish acknowledged and a QoS 1 message received on a subscription that the
//!    client re-makes after every reconnect (clean session).
//! 2. `--ffi-cycles N` create/free cycles through the C API: a config, a connection that
//!    connects, a jobs client that connects and subscribes, all freed.
//! 3. `--fault-secs S` of mixed faults (cut, blackhole, listener restart, throttled jobs
//!    requests) while a jobs client keeps sending updates and queries.
//!
//! Each phase samples RSS (`/proc/self/status`), open file descriptors (`/proc/self/fd`) and
//! threads (`/proc/self/task`) at intervals and prints, after a warm-up of the first quarter,
//! the range and the least-squares slope per 1,000 cycles, and whether each stays flat. With
//! `--check` it exits non-zero on a clear leak: descriptors or threads above their warm-up
//! maximum at the end, or an RSS slope over `--max-rss-slope-kib` per 1,000 cycles (default
//! 1024 KiB) or, for the faults, over `--max-fault-rss-slope-kib` per 1,000 faults (default
//! 8192 KiB: a fault every 250 ms, so 1,000 faults are about four minutes). The offline queue
//! of the fault phase is bounded (drop-oldest), so its memory is bounded by design.

use iotjobs::error::jobs_result;
use iotjobs::ffi::config::*;
use iotjobs::ffi::connection::*;
use iotjobs::ffi::jobs::*;
use iotjobs::mqtt::config::ConnectionConfig;
use iotjobs::mqtt::connection::Connection;
use iotjobs::mqtt::transport::TransportKind;
use iotjobs::mqtt::types::{Callbacks, Completion, Message, Status};
use iotjobs_emulator::{Emulator, EmulatorConfig};
use std::ffi::CString;
use std::sync::mpsc::{channel, Receiver};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Bound on every single wait (a reconnect, an ack, a message).
const WAIT: Duration = Duration::from_secs(20);

struct Args {
    cycles: usize,
    ffi_cycles: usize,
    fault_secs: u64,
    check: bool,
    max_rss_slope_kib: f64,
    max_fault_rss_slope_kib: f64,
}

fn args() -> Args {
    let mut a = Args {
        cycles: 10_000,
        ffi_cycles: 2_000,
        fault_secs: 120,
        check: false,
        max_rss_slope_kib: 1024.0,
        max_fault_rss_slope_kib: 8192.0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut num = |what: &str| -> f64 {
            it.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| die(&format!("{what} needs a number")))
        };
        match k.as_str() {
            "--cycles" => a.cycles = num("--cycles") as usize,
            "--ffi-cycles" => a.ffi_cycles = num("--ffi-cycles") as usize,
            "--fault-secs" => a.fault_secs = num("--fault-secs") as u64,
            "--max-rss-slope-kib" => a.max_rss_slope_kib = num("--max-rss-slope-kib"),
            "--max-fault-rss-slope-kib" => {
                a.max_fault_rss_slope_kib = num("--max-fault-rss-slope-kib")
            }
            "--check" => a.check = true,
            _ => die(&format!(
                "unknown argument {k}; usage: iotjobs-soak [--cycles N] [--ffi-cycles N] \
                 [--fault-secs S] [--check] [--max-rss-slope-kib K] \
                 [--max-fault-rss-slope-kib K]"
            )),
        }
    }
    a
}

fn die(msg: &str) -> ! {
    eprintln!("iotjobs-soak: {msg}");
    std::process::exit(2)
}

// ------------------------------------------------------------------------------- measuring

#[derive(Clone, Copy, Debug)]
struct Sample {
    cycle: usize,
    rss_kib: u64,
    fds: usize,
    threads: usize,
}

fn sample(cycle: usize) -> Sample {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let rss_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    let count = |dir: &str| std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0);
    Sample {
        cycle,
        rss_kib,
        fds: count("/proc/self/fd"),
        threads: count("/proc/self/task"),
    }
}

/// Least-squares slope of `y` against the cycle number, per 1,000 cycles.
fn slope(s: &[Sample], y: impl Fn(&Sample) -> f64) -> f64 {
    let n = s.len() as f64;
    if s.len() < 2 {
        return 0.0;
    }
    let mx = s.iter().map(|p| p.cycle as f64).sum::<f64>() / n;
    let my = s.iter().map(&y).sum::<f64>() / n;
    let sxy: f64 = s.iter().map(|p| (p.cycle as f64 - mx) * (y(p) - my)).sum();
    let sxx: f64 = s.iter().map(|p| (p.cycle as f64 - mx).powi(2)).sum();
    if sxx == 0.0 {
        0.0
    } else {
        sxy / sxx * 1000.0
    }
}

struct Phase {
    name: &'static str,
    samples: Vec<Sample>,
    every: usize,
}

impl Phase {
    fn new(name: &'static str, cycles: usize) -> Phase {
        println!("\n== {name}");
        Phase {
            name,
            samples: vec![sample(0)],
            every: (cycles / 40).max(1),
        }
    }

    fn tick(&mut self, cycle: usize) {
        if cycle.is_multiple_of(self.every) {
            let s = sample(cycle);
            if cycle.is_multiple_of(self.every * 8) {
                println!(
                    "  cycle {:>6}: rss {:>7} KiB, fds {:>4}, threads {:>3}",
                    s.cycle, s.rss_kib, s.fds, s.threads
                );
            }
            self.samples.push(s);
        }
    }

    /// Prints the figures; returns the leaks found (empty when flat).
    fn report(&mut self, cycles: usize, elapsed: Duration, max_rss_slope: f64) -> Vec<String> {
        self.samples.push(sample(cycles));
        let warm = self.samples.len() / 4;
        let (warmup, steady) = self.samples.split_at(warm.max(1));
        let first = warmup.last().copied().unwrap_or(self.samples[0]);
        let last = *steady.last().unwrap_or(&first);
        let max = |f: fn(&Sample) -> u64, s: &[Sample]| s.iter().map(f).max().unwrap_or(0);
        let fd_warm_max = max(|s| s.fds as u64, warmup);
        let th_warm_max = max(|s| s.threads as u64, warmup);
        let rss_slope = slope(steady, |s| s.rss_kib as f64);
        let fd_slope = slope(steady, |s| s.fds as f64);
        let th_slope = slope(steady, |s| s.threads as f64);
        let rss_min = steady.iter().map(|s| s.rss_kib).min().unwrap_or(0);
        let rss_max = max(|s| s.rss_kib, steady);
        println!(
            "  {} cycles in {:.1} s; after warm-up (cycle {}):",
            cycles,
            elapsed.as_secs_f64(),
            first.cycle
        );
        let mut leaks = Vec::new();
        let fds_flat = (last.fds as u64) <= fd_warm_max;
        let threads_flat = (last.threads as u64) <= th_warm_max;
        let rss_flat = rss_slope <= max_rss_slope;
        println!(
            "  rss     {:>7}..{:>7} KiB, slope {:>8.1} KiB/1000 cycles  {}",
            rss_min,
            rss_max,
            rss_slope,
            if rss_flat { "flat" } else { "GROWING" }
        );
        println!(
            "  fds     {:>7}..{:>7},     slope {:>8.2} /1000 cycles      {} (end {}, warm-up max {})",
            steady.iter().map(|s| s.fds).min().unwrap_or(0),
            max(|s| s.fds as u64, steady),
            fd_slope,
            if fds_flat { "flat" } else { "GROWING" },
            last.fds,
            fd_warm_max
        );
        println!(
            "  threads {:>7}..{:>7},     slope {:>8.2} /1000 cycles      {} (end {}, warm-up max {})",
            steady.iter().map(|s| s.threads).min().unwrap_or(0),
            max(|s| s.threads as u64, steady),
            th_slope,
            if threads_flat { "flat" } else { "GROWING" },
            last.threads,
            th_warm_max
        );
        if !fds_flat {
            leaks.push(format!(
                "{}: file descriptors {} > {fd_warm_max}",
                self.name, last.fds
            ));
        }
        if !threads_flat {
            leaks.push(format!(
                "{}: threads {} > {th_warm_max}",
                self.name, last.threads
            ));
        }
        if !rss_flat {
            leaks.push(format!(
                "{}: RSS slope {rss_slope:.0} KiB per 1000 cycles > {max_rss_slope}",
                self.name
            ));
        }
        leaks
    }
}

fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    cond()
}

// ------------------------------------------------------------------------------- phases

fn tcp_config(port: u16, client_id: &str) -> ConnectionConfig {
    let mut cfg = ConnectionConfig {
        host: "127.0.0.1".into(),
        port,
        transport: TransportKind::Tcp,
        client_id: client_id.into(),
        keep_alive_secs: 30,
        connect_timeout: Duration::from_secs(10),
        operation_timeout: Duration::from_secs(2),
        drain_rate_hz: 0.0,
        ..ConnectionConfig::default()
    };
    cfg.backoff.base = Duration::from_millis(1);
    cfg.backoff.max = Duration::from_millis(5);
    cfg
}

fn inbox() -> (Callbacks, Receiver<Vec<u8>>) {
    let (tx, rx) = channel();
    let tx = Mutex::new(tx);
    let cb = Callbacks {
        on_message: Some(Box::new(move |m: &Message| {
            if let Ok(t) = tx.lock() {
                let _ = t.send(m.payload.to_vec());
            }
        })),
        ..Callbacks::default()
    };
    (cb, rx)
}

fn cut_cycles(emu: &Emulator, cycles: usize, max_slope: f64) -> Vec<String> {
    let mut phase = Phase::new(
        "connect, cut, reconnect (subscription and QoS 1 each cycle)",
        cycles,
    );
    let id = "soak-cut";
    let (cb, rx) = inbox();
    let conn = Connection::new(tcp_config(emu.mqtt_addr().port(), id), cb)
        .unwrap_or_else(|e| die(&format!("connection: {e}")));
    conn.connect()
        .unwrap_or_else(|e| die(&format!("connect: {e}")));
    let topic = format!("soak/{id}");
    conn.subscribe_sync(&topic, 1, None)
        .unwrap_or_else(|e| die(&format!("subscribe: {e}")));
    let start = Instant::now();
    for cycle in 1..=cycles {
        let reconnects = conn.counters().reconnects;
        if !emu.cut(id) {
            die(&format!(
                "cycle {cycle}: the emulator has no connection {id}"
            ));
        }
        // Online again, with the subscription re-made (a clean session loses it).
        if !wait_until(WAIT, || {
            conn.counters().reconnects > reconnects && conn.status() == Status::Online
        }) {
            die(&format!("cycle {cycle}: not back online within {WAIT:?}"));
        }
        let payload = format!("c-{cycle}");
        // The resubscription's SUBACK may still be on its way: a message published before it
        // would not come back, so retry the round trip a bounded number of times.
        let mut back = false;
        for _ in 0..50 {
            match conn.publish_sync(&topic, payload.as_bytes(), 1, false) {
                Ok(_) => {}
                Err(e) if e.code == jobs_result::Timeout => continue,
                Err(e) => die(&format!("cycle {cycle}: publish: {e}")),
            }
            let deadline = Instant::now() + Duration::from_millis(200);
            while let Ok(p) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                if p == payload.as_bytes() {
                    back = true;
                    break;
                }
            }
            if back {
                break;
            }
        }
        if !back {
            die(&format!(
                "cycle {cycle}: {payload} never came back on {topic}"
            ));
        }
        phase.tick(cycle);
    }
    conn.close();
    drop(conn);
    phase.report(cycles, start.elapsed(), max_slope)
}

fn cstr(s: &str) -> CString {
    CString::new(s).expect("no NUL")
}

fn ok(r: jobs_result, what: &str) {
    if r != jobs_result::Ok {
        let mut buf = vec![0u8; 512];
        // SAFETY: buf is writable for its length.
        let n =
            unsafe { iotjobs::ffi::jobs_last_error_message(buf.as_mut_ptr().cast(), buf.len()) };
        buf.truncate(n.min(buf.len()));
        die(&format!("{what}: {r:?}: {}", String::from_utf8_lossy(&buf)));
    }
}

unsafe extern "C" fn ignore_message(
    _ud: *mut std::ffi::c_void,
    _m: *const iotjobs::ffi::message::jobs_message,
) {
}

fn ffi_cycles(emu: &Emulator, cycles: usize, max_slope: f64) -> Vec<String> {
    let mut phase = Phase::new("C API create/free: config, connection, jobs client", cycles);
    let host = cstr("127.0.0.1");
    let port = emu.mqtt_addr().port();
    let start = Instant::now();
    for cycle in 1..=cycles {
        // SAFETY: every pointer passed is live (created here) or a C string that outlives
        // the call; each handle is freed exactly once.
        unsafe {
            let mut cfg = std::ptr::null_mut();
            ok(jobs_config_new(&mut cfg), "jobs_config_new");
            ok(
                jobs_config_set_endpoint(cfg, host.as_ptr(), port),
                "endpoint",
            );
            ok(
                jobs_config_set_transport(cfg, jobs_transport::Tcp as u32),
                "transport",
            );
            let id = cstr(&format!("soak-ffi-{}", cycle % 4));
            ok(jobs_config_set_client_id(cfg, id.as_ptr()), "client id");
            ok(jobs_config_set_thing_name(cfg, id.as_ptr()), "thing name");
            let mut conn = std::ptr::null_mut();
            ok(jobs_connection_new(cfg, &mut conn), "jobs_connection_new");
            ok(jobs_connection_connect(conn), "jobs_connection_connect");
            jobs_connection_free(conn);
            let mut client = std::ptr::null_mut();
            ok(jobs_client_new(cfg, &mut client), "jobs_client_new");
            jobs_config_free(cfg);
            ok(jobs_client_connect(client), "jobs_client_connect");
            ok(
                jobs_create_subscription(
                    client,
                    jobs_topic_type::NotifyNext as u32,
                    jobs_reply_type::Request as u32,
                    std::ptr::null(),
                    Some(ignore_message),
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                ),
                "jobs_create_subscription",
            );
            jobs_client_free(client);
        }
        phase.tick(cycle);
    }
    phase.report(cycles, start.elapsed(), max_slope)
}

fn mixed_faults(emu: &Emulator, secs: u64, max_slope: f64) -> Vec<String> {
    // One fault every 250 ms; "cycles" here are faults injected.
    let interval = Duration::from_millis(250);
    let faults = (secs * 4) as usize;
    let mut phase = Phase::new(
        "mixed faults: cut, blackhole, listener restart, throttle",
        faults,
    );
    let id = "soak-faults";
    let mut cfg = tcp_config(emu.mqtt_addr().port(), id);
    cfg.operation_timeout = Duration::from_millis(500);
    cfg.queue_limit = iotjobs::mqtt::queue::QueueLimit::Bounded(200);
    cfg.drop_policy = iotjobs::mqtt::queue::DropPolicy::DropOldest;
    let (cb, rx) = inbox();
    let conn = std::sync::Arc::new(
        Connection::new(cfg, cb).unwrap_or_else(|e| die(&format!("connection: {e}"))),
    );
    conn.connect()
        .unwrap_or_else(|e| die(&format!("connect: {e}")));
    let topic = format!("$aws/things/{id}/jobs/get");
    let _ = conn.subscribe_sync(&format!("$aws/things/{id}/jobs/#"), 1, None);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (c, s) = (conn.clone(), stop.clone());
    // Traffic: a jobs query every 5 ms; sent, queued or refused (queue full) are all fine.
    let traffic = std::thread::spawn(move || {
        let mut n = 0u64;
        while !s.load(std::sync::atomic::Ordering::SeqCst) {
            let payload = format!("{{\"clientToken\":\"q-{n}\"}}");
            let _ = c.publish(&topic, payload.as_bytes(), 1, false, Completion::None);
            n += 1;
            std::thread::sleep(Duration::from_millis(5));
        }
        n
    });
    let start = Instant::now();
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut counts = [0usize; 4];
    for fault in 1..=faults {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let kind = (rng % 4) as usize;
        counts[kind] += 1;
        match kind {
            0 => {
                emu.cut(id);
            }
            1 => {
                emu.blackhole(id);
            }
            2 => emu.restart_listener(Duration::from_millis(100)),
            _ => emu.throttle(5),
        }
        std::thread::sleep(interval);
        while rx.try_recv().is_ok() {}
        phase.tick(fault);
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let sent = traffic.join().unwrap_or(0);
    let back = wait_until(WAIT, || conn.status() == Status::Online);
    let c = conn.counters();
    println!(
        "  faults: {} cuts, {} blackholes, {} listener restarts, {} throttles; {sent} requests, \
         {} reconnects, {} dropped, online at the end: {back}",
        counts[0], counts[1], counts[2], counts[3], c.reconnects, c.dropped
    );
    conn.close();
    let mut leaks = phase.report(faults, start.elapsed(), max_slope);
    if !back {
        leaks.push("mixed faults: not back online after the faults stopped".into());
    }
    leaks
}

fn main() {
    let a = args();
    let emu = Emulator::start(EmulatorConfig {
        // The packet record grows with every packet: off for a soak.
        record: false,
        ..EmulatorConfig::default()
    })
    .unwrap_or_else(|e| die(&format!("emulator: {e}")));
    println!(
        "iotjobs soak: {} cut cycles, {} C-API cycles, {} s of mixed faults; start: {:?}",
        a.cycles,
        a.ffi_cycles,
        a.fault_secs,
        sample(0)
    );
    let mut leaks = Vec::new();
    if a.cycles > 0 {
        leaks.extend(cut_cycles(&emu, a.cycles, a.max_rss_slope_kib));
    }
    if a.ffi_cycles > 0 {
        leaks.extend(ffi_cycles(&emu, a.ffi_cycles, a.max_rss_slope_kib));
    }
    if a.fault_secs > 0 {
        leaks.extend(mixed_faults(&emu, a.fault_secs, a.max_fault_rss_slope_kib));
    }
    println!();
    if leaks.is_empty() {
        println!("soak: flat (no growing descriptors, threads or RSS)");
    } else {
        for l in &leaks {
            println!("soak: LEAK? {l}");
        }
        if a.check {
            std::process::exit(1);
        }
    }
}
