//! The session engine against the in-process emulator: reconnect with backoff,
//! resubscription, queue policies, drain order and rate, DUP=1 retransmission, no loss of QoS 1
//! requests across forced disconnects, blocking calls inside callbacks, close inside a callback.
//!
//! Timing checks use lower bounds only (a wait at least as long as configured), never upper
//! bounds: the machines are shared and slow runs must not fail.

mod support;

use iotjobs::error::jobs_result;
use iotjobs::mqtt::config::{ConnectionConfig, Protocol};
use iotjobs::mqtt::connection::Connection;
use iotjobs::mqtt::queue::{DropPolicy, QueueLimit};
use iotjobs::mqtt::transport::TransportKind;
use iotjobs::mqtt::types::*;
use iotjobs_emulator::{Dir, Emulator, EmulatorConfig, Packet, Record};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(20);

fn emulator() -> Emulator {
    Emulator::start(EmulatorConfig::default()).expect("emulator starts")
}

/// The harness's plain-TCP configuration for the emulator, with 5 s timeouts and a backoff
/// that stays within 50-200 ms.
fn config(emu: &Emulator, client_id: &str) -> ConnectionConfig {
    let addr = emu.mqtt_addr();
    let mut cfg = ConnectionConfig {
        host: addr.ip().to_string(),
        operation_timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(5),
        ..support::engine::tcp_config(addr.port(), client_id)
    };
    cfg.backoff.max = Duration::from_millis(200);
    cfg.backoff.stable = Duration::from_secs(5);
    cfg
}

/// Events seen through the callbacks, in order.
#[derive(Debug, Clone, PartialEq)]
enum Seen {
    Online,
    Offline,
    Message(String, Vec<u8>),
    Event(EventKind, String),
}

fn observed() -> (Callbacks, Receiver<Seen>) {
    let (tx, rx) = channel();
    let tx = Arc::new(Mutex::new(tx));
    let send = |tx: &Arc<Mutex<Sender<Seen>>>, s: Seen| {
        if let Ok(t) = tx.lock() {
            let _ = t.send(s);
        }
    };
    let (a, b, c, d) = (tx.clone(), tx.clone(), tx.clone(), tx);
    let cb = Callbacks {
        on_online: Some(Box::new(move || send(&a, Seen::Online))),
        on_offline: Some(Box::new(move || send(&b, Seen::Offline))),
        on_message: Some(Box::new(move |m: &Message| {
            send(&c, Seen::Message(m.topic.to_string(), m.payload.to_vec()))
        })),
        on_event: Some(Box::new(move |e: &Event| {
            send(&d, Seen::Event(e.kind, e.topic.clone()))
        })),
        ..Callbacks::default()
    };
    (cb, rx)
}

fn wait_for(rx: &Receiver<Seen>, want: impl Fn(&Seen) -> bool) -> Seen {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(s) if want(&s) => return s,
            Ok(_) => {}
            Err(_) => panic!("timed out waiting for a callback"),
        }
    }
}

fn publishes_in(emu: &Emulator, client: &str) -> Vec<(Vec<u8>, bool)> {
    publishes(&emu.records(), client)
}

/// PUBLISH packets the client sent, from a record slice (usable inside `Emulator::wait_for`,
/// which holds the record lock while it calls its predicate).
fn publishes(records: &[Record], client: &str) -> Vec<(Vec<u8>, bool)> {
    records
        .iter()
        .filter(|r| r.dir == Dir::In && r.client_id == client)
        .filter_map(|r| match &r.packet {
            Packet::Publish(p) => Some((p.payload.to_vec(), p.dup)),
            _ => None,
        })
        .collect()
}

fn connects_of(emu: &Emulator, client: &str) -> Vec<Instant> {
    emu.records()
        .into_iter()
        .filter(|r| r.dir == Dir::In && r.client_id == client)
        .filter(|r| matches!(r.packet, Packet::Connect(_)))
        .map(|r| r.at)
        .collect()
}

fn subscribes_of(emu: &Emulator, client: &str) -> Vec<String> {
    emu.records()
        .into_iter()
        .filter(|r| r.dir == Dir::In && r.client_id == client)
        .filter_map(|r| match r.packet {
            Packet::Subscribe(s) => Some(s.filters[0].path.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn publish_subscribe_round_trip_with_acks_and_counters() {
    let emu = emulator();
    let (cb, rx) = observed();
    let conn = Connection::new(config(&emu, "rt"), cb).unwrap();
    conn.connect().unwrap();
    wait_for(&rx, |s| *s == Seen::Online);
    assert_eq!(conn.status(), Status::Online);
    assert_eq!(conn.subscribe_sync("t/#", 1, None).unwrap(), Some(1));
    let sent = conn.publish_sync("t/a", b"hello", 1, false).unwrap();
    assert!(matches!(sent, Submitted::Sent { packet_id } if packet_id > 0));
    let got = wait_for(&rx, |s| matches!(s, Seen::Message(..)));
    assert_eq!(got, Seen::Message("t/a".into(), b"hello".to_vec()));
    let c = conn.counters();
    assert_eq!((c.published, c.received, c.in_flight), (1, 1, 0));
    conn.unsubscribe_sync("t/#").unwrap();
    conn.disconnect().unwrap();
    wait_for(&rx, |s| *s == Seen::Offline);
    assert_eq!(conn.status(), Status::Disconnected);
    conn.close();
}

#[test]
fn refused_connack_fails_a_blocking_connect_and_async_connect_backs_off() {
    let emu = emulator();
    emu.refuse_connack(5, 1);
    let (cb, rx) = observed();
    let conn = Connection::new(config(&emu, "refused"), cb).unwrap();
    let err = conn.connect().unwrap_err();
    assert_eq!(err.code, jobs_result::ConnectRefused);
    assert!(err.message.contains("not authorized"), "{}", err.message);
    assert_eq!(conn.status(), Status::Disconnected);

    // Four more refusals, then success: attempts must be spaced by the backoff schedule.
    emu.refuse_connack(3, 4);
    conn.connect_async().unwrap();
    wait_for(&rx, |s| *s == Seen::Online);
    let attempts = connects_of(&emu, "refused");
    assert_eq!(attempts.len(), 6, "1 blocking + 4 refused + 1 accepted");
    let gaps: Vec<Duration> = attempts[1..].windows(2).map(|w| w[1] - w[0]).collect();
    let expected = [50, 100, 200, 200];
    for (gap, want) in gaps.iter().zip(expected) {
        assert!(
            *gap >= Duration::from_millis(want * 9 / 10),
            "gaps {gaps:?} shorter than the backoff {expected:?} ms"
        );
    }
    conn.close();
}

#[test]
fn subscriptions_are_remade_after_a_lost_session_and_refusals_are_reported() {
    let emu = emulator();
    let (cb, rx) = observed();
    let conn = Connection::new(config(&emu, "resub"), cb).unwrap();
    conn.connect().unwrap();
    conn.subscribe_sync("a/+", 1, None).unwrap();
    conn.subscribe_sync("b/#", 0, None).unwrap();
    emu.refuse_suback("b/#", 1);
    assert!(emu.cut("resub"));
    wait_for(&rx, |s| *s == Seen::Offline);
    let ev = wait_for(&rx, |s| {
        matches!(s, Seen::Event(EventKind::ResubscribeRefused, _))
    });
    assert_eq!(ev, Seen::Event(EventKind::ResubscribeRefused, "b/#".into()));
    wait_for(&rx, |s| *s == Seen::Online);
    assert_eq!(subscribes_of(&emu, "resub"), ["a/+", "b/#", "a/+", "b/#"]);
    // The surviving subscription delivers; the refused one was forgotten.
    emu.publish("a/x", b"1", 1);
    wait_for(&rx, |s| *s == Seen::Message("a/x".into(), b"1".to_vec()));
    emu.cut("resub");
    wait_for(&rx, |s| *s == Seen::Online);
    assert_eq!(
        subscribes_of(&emu, "resub"),
        ["a/+", "b/#", "a/+", "b/#", "a/+"],
        "a refused subscription is not retried forever"
    );
    conn.close();
}

#[test]
fn drop_oldest_queue_reports_the_victim_and_sends_the_rest_in_order() {
    let emu = emulator();
    let (cb, rx) = observed();
    let mut cfg = config(&emu, "oldest");
    cfg.queue_limit = QueueLimit::Bounded(2);
    cfg.drop_policy = DropPolicy::DropOldest;
    let conn = Connection::new(cfg, cb).unwrap();
    let acks = Arc::new(Mutex::new(Vec::new()));
    for i in 1..=3u8 {
        let a = acks.clone();
        let done = Completion::Callback(
            conn.shared_gate(),
            Box::new(move |ack: Ack| a.lock().unwrap().push((i, ack.result))),
        );
        let r = conn.publish("q/t", &[i], 1, false, done).unwrap();
        assert_eq!(r, Submitted::Queued);
    }
    let ev = wait_for(&rx, |s| matches!(s, Seen::Event(..)));
    assert_eq!(ev, Seen::Event(EventKind::RequestDropped, "q/t".into()));
    assert_eq!(conn.counters().dropped, 1);
    conn.connect().unwrap();
    assert!(emu.wait_for(WAIT, |r| publishes(r, "oldest").len() == 2));
    assert_eq!(
        publishes_in(&emu, "oldest"),
        vec![(vec![2], false), (vec![3], false)]
    );
    let deadline = Instant::now() + WAIT;
    while acks.lock().unwrap().len() < 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut got = acks.lock().unwrap().clone();
    got.sort_by_key(|(i, _)| *i);
    assert_eq!(
        got,
        vec![
            (1, jobs_result::Dropped),
            (2, jobs_result::Ok),
            (3, jobs_result::Ok)
        ]
    );
    conn.close();
}

#[test]
fn drop_newest_and_disabled_queues_refuse_with_their_codes() {
    let emu = emulator();
    let mut cfg = config(&emu, "newest");
    cfg.queue_limit = QueueLimit::Bounded(1);
    cfg.drop_policy = DropPolicy::DropNewest;
    let conn = Connection::new(cfg, Callbacks::default()).unwrap();
    assert_eq!(
        conn.publish_sync("q", b"1", 1, false).unwrap(),
        Submitted::Queued
    );
    let full = conn.publish_sync("q", b"2", 1, false).unwrap_err();
    assert_eq!(full.code, jobs_result::QueueFull);
    let sub_full = conn.subscribe("s", 1, None, Completion::None).unwrap_err();
    assert_eq!(sub_full.code, jobs_result::QueueFull);
    conn.close();

    let mut cfg = config(&emu, "disabled");
    cfg.queue_limit = QueueLimit::Disabled;
    let conn = Connection::new(cfg, Callbacks::default()).unwrap();
    let off = conn.publish_sync("q", b"1", 0, false).unwrap_err();
    assert_eq!(off.code, jobs_result::QueueDisabled);
    conn.close();
}

#[test]
fn queued_requests_drain_in_order_at_the_configured_rate_after_resubscription() {
    let emu = emulator();
    let (cb, rx) = observed();
    let mut cfg = config(&emu, "drain");
    cfg.drain_rate_hz = 10.0; // one every 100 ms
    let conn = Connection::new(cfg, cb).unwrap();
    conn.connect().unwrap();
    conn.subscribe_sync("d/#", 1, None).unwrap();
    conn.disconnect().unwrap();
    for i in 0..5u8 {
        assert_eq!(
            conn.publish("d/t", &[i], 1, false, Completion::None)
                .unwrap(),
            Submitted::Queued
        );
    }
    assert_eq!(conn.counters().queued, 5);
    emu.clear_records();
    conn.connect().unwrap();
    assert!(emu.wait_for(WAIT, |r| publishes(r, "drain").len() == 5));
    let records: Vec<_> = emu
        .records()
        .into_iter()
        .filter(|r| r.dir == Dir::In && r.client_id == "drain")
        .filter(|r| matches!(r.packet, Packet::Publish(_) | Packet::Subscribe(_)))
        .collect();
    assert!(
        matches!(records[0].packet, Packet::Subscribe(_)),
        "resubscription goes before draining"
    );
    let payloads: Vec<u8> = publishes_in(&emu, "drain").iter().map(|p| p.0[0]).collect();
    assert_eq!(payloads, [0, 1, 2, 3, 4]);
    let times: Vec<Instant> = records[1..].iter().map(|r| r.at).collect();
    for w in times.windows(2) {
        assert!(
            w[1] - w[0] >= Duration::from_millis(90),
            "drained faster than 10/s"
        );
    }
    wait_for(&rx, |s| *s == Seen::Online);
    conn.close();
}

#[test]
fn unacknowledged_publishes_are_retransmitted_with_dup_after_reconnect() {
    let emu = emulator();
    let (cb, rx) = observed();
    let conn = Connection::new(config(&emu, "dup"), cb).unwrap();
    conn.connect().unwrap();
    wait_for(&rx, |s| *s == Seen::Online);
    emu.drop_pubacks(1);
    let (tx, acked) = channel();
    let tx = Mutex::new(tx);
    let done = Completion::Callback(
        conn.shared_gate(),
        Box::new(move |a: Ack| tx.lock().unwrap().send(a).unwrap()),
    );
    let Submitted::Sent { packet_id } = conn.publish("r/t", b"once", 1, false, done).unwrap()
    else {
        panic!("should be sent")
    };
    assert!(emu.wait_for(WAIT, |r| publishes(r, "dup").len() == 1));
    assert_eq!(conn.counters().in_flight, 1);
    emu.cut("dup");
    let ack = acked
        .recv_timeout(WAIT)
        .expect("acked after the retransmission");
    assert_eq!((ack.result, ack.packet_id), (jobs_result::Ok, packet_id));
    assert_eq!(
        publishes_in(&emu, "dup"),
        vec![(b"once".to_vec(), false), (b"once".to_vec(), true)]
    );
    conn.close();
}

#[test]
fn no_qos1_request_is_lost_across_repeated_forced_disconnects() {
    let emu = emulator();
    let (cb, _rx) = observed();
    let conn = Connection::new(config(&emu, "soak"), cb).unwrap();
    conn.connect().unwrap();
    let acked = Arc::new(AtomicUsize::new(0));
    const N: usize = 300;
    for i in 0..N {
        let a = acked.clone();
        let done = Completion::Callback(
            conn.shared_gate(),
            Box::new(move |ack: Ack| {
                assert_eq!(ack.result, jobs_result::Ok);
                a.fetch_add(1, Ordering::SeqCst);
            }),
        );
        conn.publish("soak/t", format!("{i}").as_bytes(), 1, false, done)
            .unwrap();
        if i % 50 == 25 {
            emu.cut("soak");
        }
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while acked.load(Ordering::SeqCst) < N && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        acked.load(Ordering::SeqCst),
        N,
        "every request acknowledged once"
    );
    let mut seen: Vec<usize> = publishes_in(&emu, "soak")
        .iter()
        .map(|(p, _)| String::from_utf8_lossy(p).parse().unwrap())
        .collect();
    seen.sort();
    seen.dedup();
    assert_eq!(
        seen,
        (0..N).collect::<Vec<_>>(),
        "every payload reached the server"
    );
    assert!(conn.counters().reconnects >= 1);
    conn.close();
}

#[test]
fn blocking_calls_work_from_inside_a_callback() {
    let emu = emulator();
    let (tx, rx) = channel();
    let tx = Mutex::new(tx);
    let slot: Arc<Mutex<Option<Connection>>> = Arc::new(Mutex::new(None));
    let s = slot.clone();
    let cb = Callbacks {
        on_message: Some(Box::new(move |m: &Message| {
            if &*m.topic != "in/start" {
                return;
            }
            let conn = s.lock().unwrap().clone().unwrap();
            let sub = conn.subscribe_sync("in/second", 1, None);
            let publ = conn.publish_sync("in/reply", b"from-callback", 1, false);
            tx.lock().unwrap().send((sub, publ)).unwrap();
        })),
        ..Callbacks::default()
    };
    let conn = Connection::new(config(&emu, "inside"), cb).unwrap();
    *slot.lock().unwrap() = Some(conn.clone());
    conn.connect().unwrap();
    conn.subscribe_sync("in/#", 1, None).unwrap();
    conn.publish_sync("in/start", b"go", 1, false).unwrap();
    let (sub, publ) = rx.recv_timeout(WAIT).expect("the callback finished");
    assert_eq!(sub.unwrap(), Some(1));
    assert!(matches!(publ.unwrap(), Submitted::Sent { .. }));
    conn.close();
}

#[test]
fn close_inside_a_callback_stops_later_callbacks() {
    let emu = emulator();
    let calls = Arc::new(AtomicUsize::new(0));
    let slot: Arc<Mutex<Option<Connection>>> = Arc::new(Mutex::new(None));
    let (c, s) = (calls.clone(), slot.clone());
    let cb = Callbacks {
        on_message: Some(Box::new(move |_m: &Message| {
            c.fetch_add(1, Ordering::SeqCst);
            if let Some(conn) = s.lock().unwrap().take() {
                conn.close(); // returns at once: we are on the callback thread
            }
        })),
        ..Callbacks::default()
    };
    let conn = Connection::new(config(&emu, "selfclose"), cb).unwrap();
    *slot.lock().unwrap() = Some(conn.clone());
    conn.connect().unwrap();
    conn.subscribe_sync("x/#", 0, None).unwrap();
    for i in 0..20u8 {
        emu.publish("x/y", &[i], 0);
    }
    assert!(emu.wait_for(WAIT, |_| calls.load(Ordering::SeqCst) >= 1));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(calls.load(Ordering::SeqCst), 1, "nothing ran after close");
    assert_eq!(
        conn.publish_sync("x/y", b"late", 0, false)
            .unwrap_err()
            .code,
        jobs_result::Closed
    );
}

#[test]
fn no_callback_runs_after_close_returns() {
    let emu = emulator();
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let cb = Callbacks {
        on_message: Some(Box::new(move |_m: &Message| {
            std::thread::sleep(Duration::from_millis(2));
            c.fetch_add(1, Ordering::SeqCst);
        })),
        ..Callbacks::default()
    };
    let conn = Connection::new(config(&emu, "quiet"), cb).unwrap();
    conn.connect().unwrap();
    conn.subscribe_sync("z", 0, None).unwrap();
    for i in 0..200u8 {
        emu.publish("z", &[i], 0);
    }
    assert!(emu.wait_for(WAIT, |_| calls.load(Ordering::SeqCst) >= 5));
    conn.close();
    let at_close = calls.load(Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(calls.load(Ordering::SeqCst), at_close);
}

#[test]
fn a_black_holed_link_is_detected_by_the_probe_ping_and_replaced() {
    let emu = emulator();
    let (cb, rx) = observed();
    let mut cfg = config(&emu, "hole");
    cfg.operation_timeout = Duration::from_millis(300);
    let conn = Connection::new(cfg, cb).unwrap();
    conn.connect().unwrap();
    wait_for(&rx, |s| *s == Seen::Online);
    assert!(emu.blackhole("hole"));
    let err = conn.publish_sync("h/t", b"1", 1, false).unwrap_err();
    assert_eq!(err.code, jobs_result::Timeout);
    let ev = wait_for(&rx, |s| {
        matches!(s, Seen::Event(EventKind::ConnectionLost, _))
    });
    assert!(matches!(ev, Seen::Event(EventKind::ConnectionLost, _)));
    wait_for(&rx, |s| *s == Seen::Online);
    assert!(connects_of(&emu, "hole").len() >= 2);
    // The timed-out publish was retransmitted on the new link.
    assert!(emu.wait_for(WAIT, |r| publishes(r, "hole")
        .iter()
        .any(|(p, dup)| p == b"1" && *dup)));
    conn.close();
}

#[test]
fn mqtt_3_1_is_spoken_when_asked() {
    let emu = emulator();
    let mut cfg = config(&emu, "old-device");
    cfg.protocol = Protocol::V31;
    let conn = Connection::new(cfg, Callbacks::default()).unwrap();
    conn.connect().unwrap();
    assert_eq!(emu.client_protocol_level("old-device"), Some(3));
    conn.close();
}

#[test]
fn generated_client_id_and_last_will_reach_the_server() {
    let emu = emulator();
    let mut cfg = config(&emu, "");
    cfg.last_will = Some(iotjobs::mqtt::config::LastWill {
        topic: "will/t".into(),
        payload: b"gone".to_vec(),
        qos: 1,
        retain: false,
    });
    let conn = Connection::new(cfg, Callbacks::default()).unwrap();
    let id = conn.client_id().to_owned();
    assert!(id.starts_with("iotjobs-"));
    conn.connect().unwrap();
    let connect = emu
        .records()
        .into_iter()
        .find_map(|r| match r.packet {
            Packet::Connect(c) => Some(c),
            _ => None,
        })
        .unwrap();
    assert_eq!(connect.client_id, id);
    assert_eq!(connect.last_will.unwrap().topic, "will/t");
    conn.close();
}

#[test]
fn oversized_publishes_and_bad_topics_are_refused_before_the_wire() {
    let emu = emulator();
    let conn = Connection::new(config(&emu, "limits"), Callbacks::default()).unwrap();
    conn.connect().unwrap();
    let big = vec![0u8; 128 * 1024];
    let e = conn.publish_sync("t", &big, 1, false).unwrap_err();
    assert_eq!(e.code, jobs_result::PayloadTooLarge);
    assert_eq!(
        conn.publish_sync("a/+", b"", 0, false).unwrap_err().code,
        jobs_result::InvalidTopic
    );
    assert_eq!(
        conn.subscribe_sync("a/#/b", 0, None).unwrap_err().code,
        jobs_result::InvalidTopic
    );
    assert_eq!(
        conn.publish_sync("t", b"", 2, false).unwrap_err().code,
        jobs_result::InvalidArgument
    );
    assert!(publishes_in(&emu, "limits").is_empty());
    conn.close();
}

#[test]
fn websocket_transport_with_sigv4_signing_connects_and_round_trips() {
    let emu = Emulator::start(EmulatorConfig {
        ws: Some("127.0.0.1:0".parse().unwrap()),
        ..EmulatorConfig::default()
    })
    .unwrap();
    let ws = emu.ws_addr().expect("ws listener");
    let (cb, rx) = observed();
    let mut cfg = config(&emu, "ws-dev");
    cfg.port = ws.port();
    cfg.transport = TransportKind::WebSocket;
    cfg.sigv4 = Some((
        "us-east-1".into(),
        iotjobs::mqtt::sigv4::Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "secret".into(),
            session_token: Some("token/with+chars".into()),
        },
    ));
    let conn = Connection::new(cfg, cb).unwrap();
    conn.connect().unwrap();
    conn.subscribe_sync("$aws/things/ws-dev/jobs/notify", 1, None)
        .unwrap();
    emu.publish("$aws/things/ws-dev/jobs/notify", b"{}", 1);
    wait_for(&rx, |s| {
        *s == Seen::Message("$aws/things/ws-dev/jobs/notify".into(), b"{}".to_vec())
    });
    conn.close();
}

#[test]
fn sigv4_needs_a_websocket_transport() {
    let emu = emulator();
    let mut cfg = config(&emu, "tcp-sig");
    cfg.sigv4 = Some((
        "us-east-1".into(),
        iotjobs::mqtt::sigv4::Credentials {
            access_key_id: "A".into(),
            secret_access_key: "s".into(),
            session_token: None,
        },
    ));
    let err = Connection::new(cfg, Callbacks::default()).err().unwrap();
    assert_eq!(err.code, jobs_result::InvalidArgument);
}

#[test]
fn disconnect_while_waiting_to_retry_is_confirmed() {
    let emu = emulator();
    emu.refuse_connack(3, 1000);
    let mut cfg = config(&emu, "give-up");
    // The retry wait (60 s) outlasts the disconnect's own limit (the connect timeout, 3 s):
    // an unconfirmed disconnect would come back as Timeout.
    cfg.backoff.base = Duration::from_secs(60);
    cfg.backoff.max = Duration::from_secs(60);
    cfg.backoff.stable = Duration::from_secs(120);
    cfg.connect_timeout = Duration::from_secs(3);
    let conn = Connection::new(cfg, Callbacks::default()).unwrap();
    conn.connect_async().unwrap();
    assert!(emu.wait_for(WAIT, |r| r
        .iter()
        .any(|r| matches!(r.packet, Packet::ConnAck(_)))));
    std::thread::sleep(Duration::from_millis(100)); // now inside the retry wait
    conn.disconnect()
        .expect("disconnect confirmed, not timed out");
    assert_eq!(conn.status(), Status::Disconnected);
    conn.close();
}

#[test]
fn a_blocking_connect_returns_once_subscriptions_are_remade() {
    let emu = emulator();
    emu.set_reply_delay(Duration::from_millis(200)); // slow SUBACKs widen the window
    let conn = Connection::new(config(&emu, "reconnect-send"), Callbacks::default()).unwrap();
    conn.connect().unwrap();
    conn.subscribe_sync("r/a", 1, None).unwrap();
    conn.subscribe_sync("r/b", 1, None).unwrap();
    conn.disconnect().unwrap();
    conn.connect().unwrap();
    assert_eq!(conn.status(), Status::Online);
    let sent = conn.publish_sync("r/a", b"after", 1, false).unwrap();
    assert!(matches!(sent, Submitted::Sent { .. }), "{sent:?}");
    conn.close();
}

#[test]
fn disconnect_waits_for_acks_on_their_way_so_nothing_is_sent_twice() {
    let emu = emulator();
    emu.set_reply_delay(Duration::from_millis(150)); // PUBACKs arrive after disconnect begins
    let conn = Connection::new(config(&emu, "tidy"), Callbacks::default()).unwrap();
    conn.connect().unwrap();
    for i in 0..20u8 {
        conn.publish("t/d", &[i], 1, false, Completion::None)
            .unwrap();
    }
    conn.disconnect().unwrap();
    assert_eq!(
        conn.counters().in_flight,
        0,
        "every PUBACK was read before closing"
    );
    conn.connect().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let dups = publishes_in(&emu, "tidy")
        .iter()
        .filter(|(_, d)| *d)
        .count();
    assert_eq!(dups, 0, "nothing retransmitted after a tidy disconnect");
    assert_eq!(publishes_in(&emu, "tidy").len(), 20);
    conn.close();
}
