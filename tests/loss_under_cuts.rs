//! No QoS 1 publish is lost across forced link cuts, and every retransmission carries DUP=1.
//!
//! 2,000 QoS 1 publishes through `Connection::publish` go through a fault proxy (a TCP proxy in
//! this test, on loopback, between the client and the in-process emulator) that cuts the link
//! 100 times at random points: after a random number of client bytes (so mostly in the middle
//! of a PUBLISH), or right after swallowing a PUBACK (so the client never learns that the
//! server has the message). Counted at the emulator (its packet record): every publish the API
//! reported as sent or queued arrives, and each arrival after the first of a message has DUP=1.

mod support;

use iotjobs::error::jobs_result;
use iotjobs::mqtt::connection::Connection;
use iotjobs::mqtt::types::{Ack, Callbacks, Completion, Status, Submitted};
use iotjobs_emulator::{Dir, Emulator, EmulatorConfig, Packet};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use support::engine::tcp_config;
use support::{unique_id, wait_until};

const MESSAGES: usize = 2000;
const CUTS: usize = 100;
/// Bound on the whole test; a healthy run needs a fraction of it.
const BUDGET: Duration = Duration::from_secs(120);

/// Where the proxy cuts next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cut {
    None,
    /// After this many more client-to-server bytes (the rest of that read is dropped).
    AfterClientBytes(usize),
    /// Instead of forwarding the next PUBACK to the client.
    SwallowPuback,
}

struct ProxyState {
    plan: Mutex<Cut>,
    /// The current link's two sockets, to shut down on a cut.
    link: Mutex<Option<(TcpStream, TcpStream)>>,
    cuts: AtomicUsize,
    swallowed_pubacks: AtomicUsize,
    stop: AtomicBool,
}

impl ProxyState {
    fn cut_now(&self) {
        if let Some((a, b)) = self.link.lock().unwrap().take() {
            let _ = a.shutdown(Shutdown::Both);
            let _ = b.shutdown(Shutdown::Both);
            *self.plan.lock().unwrap() = Cut::None;
            self.cuts.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// A loopback TCP proxy to `upstream` that cuts links as planned.
struct FaultProxy {
    addr: SocketAddr,
    state: Arc<ProxyState>,
    acceptor: Option<JoinHandle<()>>,
}

impl FaultProxy {
    fn start(upstream: SocketAddr) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("proxy binds on loopback");
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(ProxyState {
            plan: Mutex::new(Cut::None),
            link: Mutex::new(None),
            cuts: AtomicUsize::new(0),
            swallowed_pubacks: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
        });
        let st = state.clone();
        let acceptor = std::thread::spawn(move || {
            for client in listener.incoming() {
                if st.stop.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(upstream) else {
                    continue;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                // A new link replaces a previous one (the client reconnects only after the
                // old one failed, so there is nothing left to forward on it).
                if let Some((a, b)) = st
                    .link
                    .lock()
                    .unwrap()
                    .replace((client.try_clone().unwrap(), server.try_clone().unwrap()))
                {
                    let _ = a.shutdown(Shutdown::Both);
                    let _ = b.shutdown(Shutdown::Both);
                }
                let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                let st1 = st.clone();
                std::thread::spawn(move || client_to_server(client, server, &st1));
                let st2 = st.clone();
                std::thread::spawn(move || server_to_client(s2, c2, &st2));
            }
        });
        FaultProxy {
            addr,
            state,
            acceptor: Some(acceptor),
        }
    }

    fn arm(&self, cut: Cut) {
        *self.state.plan.lock().unwrap() = cut;
    }

    fn cuts(&self) -> usize {
        self.state.cuts.load(Ordering::SeqCst)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        self.state.cut_now();
        let _ = TcpStream::connect(self.addr); // wakes the acceptor
        if let Some(t) = self.acceptor.take() {
            let _ = t.join();
        }
    }
}

/// Forwards client bytes; on `AfterClientBytes(n)` forwards n more bytes, then cuts.
fn client_to_server(mut from: TcpStream, mut to: TcpStream, st: &ProxyState) {
    let mut buf = [0u8; 4096];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let mut forward = n;
        let mut cut = false;
        {
            let mut plan = st.plan.lock().unwrap();
            if let Cut::AfterClientBytes(left) = *plan {
                if left <= n {
                    forward = left;
                    cut = true;
                } else {
                    *plan = Cut::AfterClientBytes(left - n);
                }
            }
        }
        if to.write_all(&buf[..forward]).is_err() {
            break;
        }
        if cut {
            st.cut_now();
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

/// Forwards server packets whole; on `SwallowPuback` drops the next PUBACK and cuts.
fn server_to_client(mut from: TcpStream, mut to: TcpStream, st: &ProxyState) {
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        pending.extend_from_slice(&buf[..n]);
        while let Some(len) = packet_len(&pending) {
            let packet: Vec<u8> = pending.drain(..len).collect();
            let swallow = packet[0] >> 4 == 4 && *st.plan.lock().unwrap() == Cut::SwallowPuback;
            if swallow {
                st.swallowed_pubacks.fetch_add(1, Ordering::SeqCst);
                st.cut_now();
                return;
            }
            if to.write_all(&packet).is_err() {
                return;
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

/// The length of the whole MQTT packet at the start of `b`, once it has fully arrived.
fn packet_len(b: &[u8]) -> Option<usize> {
    let mut remaining = 0usize;
    for i in 0..4 {
        let byte = *b.get(1 + i)?;
        remaining |= usize::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            let total = 2 + i + remaining;
            return (b.len() >= total).then_some(total);
        }
    }
    panic!("malformed remaining length from the emulator")
}

/// A small xorshift generator: the cut points vary from run to run; its starting value is printed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[test]
fn qos1_publishes_survive_100_cuts_and_retransmissions_carry_dup() {
    let started = Instant::now();
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    println!("seed {seed}");
    let mut rng = Rng(seed);
    let emu = Emulator::start(EmulatorConfig::default()).expect("emulator starts");
    let proxy = FaultProxy::start(emu.mqtt_addr());
    let client_id = unique_id("loss");
    let mut cfg = tcp_config(proxy.addr.port(), &client_id);
    // Persistent: the emulator keeps the session across cuts, as AWS does.
    cfg.clean_session = false;
    cfg.backoff.base = Duration::from_millis(20);
    cfg.backoff.max = Duration::from_millis(100);
    let conn = Connection::new(cfg, Callbacks::default()).expect("connection");
    conn.connect().expect("first connect");
    let topic = format!("loss/{client_id}");

    let mut outcomes: Vec<(String, Submitted, Receiver<Ack>)> = Vec::with_capacity(MESSAGES);
    let per_cut = MESSAGES / CUTS;
    let mut refused = 0usize;
    for cut in 0..CUTS {
        assert!(
            wait_until(Duration::from_secs(15), || conn.status() == Status::Online),
            "online again before cut {cut}"
        );
        proxy.arm(if cut % 2 == 0 {
            // A PUBLISH here is 2 + 2 + topic + 2 + payload bytes: about 40.
            Cut::AfterClientBytes(1 + rng.below(120) as usize)
        } else {
            Cut::SwallowPuback
        });
        for i in 0..per_cut {
            let payload = format!("m-{}", cut * per_cut + i);
            let (tx, rx) = sync_channel(1);
            match conn.publish(&topic, payload.as_bytes(), 1, false, Completion::Wait(tx)) {
                Ok(sub) => outcomes.push((payload, sub, rx)),
                Err(e) => {
                    refused += 1;
                    println!("{payload} refused: {e}");
                }
            }
        }
        assert!(
            wait_until(Duration::from_secs(15), || proxy.cuts() > cut),
            "cut {cut} did not happen ({:?} armed)",
            *proxy.state.plan.lock().unwrap()
        );
        assert!(
            started.elapsed() < BUDGET,
            "over the time budget at cut {cut}"
        );
    }
    assert_eq!(refused, 0, "the unbounded queue refuses nothing");
    assert_eq!(proxy.cuts(), CUTS);

    // Every publish completes with its PUBACK: nothing stays in flight for ever.
    let deadline = Instant::now() + Duration::from_secs(60);
    let (mut sent, mut queued) = (0usize, 0usize);
    for (payload, sub, rx) in &outcomes {
        match sub {
            Submitted::Sent { .. } => sent += 1,
            Submitted::Queued => queued += 1,
        }
        let left = deadline.saturating_duration_since(Instant::now());
        let ack = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("{payload} ({sub:?}) was never acknowledged"));
        assert_eq!(ack.result, jobs_result::Ok, "{payload}: {ack:?}");
    }

    // Counted at the emulator: each message at least once, repeats only with DUP=1.
    let mut arrivals: HashMap<Vec<u8>, Vec<bool>> = HashMap::new();
    for r in emu.records() {
        if let (Dir::In, Packet::Publish(p)) = (r.dir, &r.packet) {
            if r.client_id == client_id && p.topic == topic {
                arrivals.entry(p.payload.to_vec()).or_default().push(p.dup);
            }
        }
    }
    let mut lost = Vec::new();
    let (mut received, mut retransmissions, mut dup_flagged) = (0usize, 0usize, 0usize);
    for (payload, _, _) in &outcomes {
        match arrivals.get(payload.as_bytes()) {
            None => lost.push(payload.clone()),
            Some(flags) => {
                received += flags.len();
                retransmissions += flags.len() - 1;
                dup_flagged += flags.iter().filter(|d| **d).count();
                assert!(
                    flags[1..].iter().all(|d| *d),
                    "{payload} arrived again without DUP=1: {flags:?}"
                );
            }
        }
    }
    println!(
        "{MESSAGES} QoS 1 publishes ({sent} sent, {queued} queued), {} cuts ({} after a \
         swallowed PUBACK), {received} PUBLISH packets at the emulator, {retransmissions} \
         repeats, {dup_flagged} with DUP=1, {} lost, in {:?}",
        proxy.cuts(),
        proxy.state.swallowed_pubacks.load(Ordering::SeqCst),
        lost.len(),
        started.elapsed()
    );
    assert!(lost.is_empty(), "lost: {lost:?}");
    assert_eq!(sent + queued, MESSAGES);
    assert!(
        proxy.state.swallowed_pubacks.load(Ordering::SeqCst) >= CUTS / 2,
        "half of the cuts swallow a PUBACK"
    );
    assert!(
        retransmissions > 0,
        "a swallowed PUBACK makes the client send that message again"
    );
    conn.close();
}
