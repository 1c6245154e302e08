//! The engine (`iotjobs::mqtt::connection::Connection`) keeps its promises when the link
//! breaks, against a real mosquitto that each test starts itself on free loopback ports: a
//! broker restarted twice in the middle of 500 QoS 1 publishes with every one of them arriving
//! (persistent session), restarts without persistence over TCP, WebSocket and mutual TLS
//! (every publish acknowledged, subscriptions re-made), keep-alive on an idle link, a frozen
//! broker found by keep-alive, an oversized incoming message, requests made before the broker
//! exists, and a user disconnect and connect.
//!
//! Every test is `#[ignore]`d: plain `cargo test` needs no broker; `.ci/run` runs them with
//! `--ignored`. Run with: `cargo test --test engine_reconnect -- --ignored`.

mod support;

use iotjobs::error::jobs_result;
use iotjobs::mqtt::config::ConnectionConfig;
use iotjobs::mqtt::connection::Connection;
use iotjobs::mqtt::transport::TransportKind;
use iotjobs::mqtt::types::*;
use iotjobs::runtime::Gate;
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::certs::{certs, mutual_tls, pem_file};
use support::engine::{
    connect, evented_callbacks, inbox_callbacks, round_trip, tcp_config, tls_config, WAIT,
};
use support::mosquitto::{MosqExtra, MosqOpts, Mosquitto};
use support::{unique_id, wait_until};

// ---------------------------------------------------------------------------------------------
// Broker restarts in the middle of a QoS 1 stream.

/// Messages published in the restart test.
const STREAM: usize = 500;

/// The persistent-session observer: a fixed client id, clean_session=false, QoS 1, its own
/// reconnect. Records every distinct payload it receives (duplicates are allowed by QoS 1).
struct Observer {
    conn: Connection,
    seen: Arc<Mutex<HashSet<Vec<u8>>>>,
    deliveries: Arc<AtomicUsize>,
    /// Set while the observer is connected (its on_online / on_offline callbacks).
    online: Arc<std::sync::atomic::AtomicBool>,
}

impl Observer {
    /// Connects with a fixed reconnect delay of `reconnect_after` and subscribes to `filter`.
    fn start(port: u16, filter: &str, reconnect_after: Duration) -> Observer {
        Self::start_with(
            tcp_config(port, &unique_id("observer")),
            filter,
            reconnect_after,
        )
    }

    /// Like [`Observer::start`] over the connection settings `base` (transport, TLS, id).
    fn start_with(base: ConnectionConfig, filter: &str, reconnect_after: Duration) -> Observer {
        let seen = Arc::new(Mutex::new(HashSet::new()));
        let deliveries = Arc::new(AtomicUsize::new(0));
        let online = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (s, d) = (seen.clone(), deliveries.clone());
        let (on, off) = (online.clone(), online.clone());
        let cb = Callbacks {
            on_online: Some(Box::new(move || on.store(true, Ordering::SeqCst))),
            on_offline: Some(Box::new(move || off.store(false, Ordering::SeqCst))),
            on_message: Some(Box::new(move |m: &Message| {
                d.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut set) = s.lock() {
                    set.insert(m.payload.to_vec());
                }
            })),
            ..Callbacks::default()
        };
        let mut cfg = ConnectionConfig {
            clean_session: false,
            ..base
        };
        cfg.backoff.base = reconnect_after;
        cfg.backoff.max = reconnect_after;
        let conn = Connection::new(cfg, cb).unwrap_or_else(|e| panic!("observer: {e}"));
        conn.connect()
            .unwrap_or_else(|e| panic!("observer connect: {e}"));
        assert_eq!(
            conn.subscribe_sync(filter, 1, None)
                .unwrap_or_else(|e| panic!("observer subscribe: {e}")),
            Some(1)
        );
        Observer {
            conn,
            seen,
            deliveries,
            online,
        }
    }

    fn distinct(&self) -> usize {
        self.seen.lock().map(|s| s.len()).unwrap_or(0)
    }
}

/// What the publisher's completions reported, per message index.
#[derive(Default)]
struct AckBook {
    ok: HashSet<usize>,
    failed: Vec<(usize, jobs_result)>,
}

/// The honest end-to-end check: mosquitto runs with `persistence true` (a database in a temp
/// directory, written on SIGTERM), so the observer's persistent session and the QoS 1 messages
/// queued for it survive each restart. Everything the broker PUBACKed is then owed to the
/// observer, and everything our API accepted is owed a PUBACK: so every one of the 500 payloads
/// must reach the observer (duplicates allowed), and every publish must complete with `Ok`.
#[test]
#[ignore = "needs mosquitto: run by .ci/run with --ignored"]
fn broker_restarts_mid_stream_lose_no_qos1_message() {
    // mosquitto drops root privileges to user `mosquitto` and writes its database here.
    let db_dir = support::scratch_dir("persist", 0o777);
    let mut broker = Mosquitto::start_with(
        MosqOpts::default(),
        MosqExtra {
            // Later lines win: this overrides the harness's `persistence false`.
            global_lines: format!(
                "persistence true\npersistence_location {}/\nautosave_interval 0\n\
                 max_queued_messages 10000\n",
                db_dir.display()
            ),
            ..MosqExtra::default()
        },
    );
    let port = broker.port();
    let topic = format!("$aws/things/restart-{}/jobs/notify", fastrand::u32(..));
    // The observer comes back a second after each restart, long after the publisher (50 ms):
    // messages published meanwhile exist only in its persisted session on the broker.
    let observer = Observer::start(port, &topic, Duration::from_secs(1));

    let publisher_online = Arc::new(AtomicUsize::new(0));
    let p_online = publisher_online.clone();
    let publisher = Connection::new(
        tcp_config(port, &unique_id("publisher")),
        Callbacks {
            on_online: Some(Box::new(move || {
                p_online.fetch_add(1, Ordering::Relaxed);
            })),
            ..Callbacks::default()
        },
    )
    .unwrap_or_else(|e| panic!("publisher: {e}"));
    publisher
        .connect()
        .unwrap_or_else(|e| panic!("publisher connect: {e}"));

    let book = Arc::new(Mutex::new(AckBook::default()));
    let submitted = Arc::new(AtomicUsize::new(0));
    let queued = Arc::new(AtomicUsize::new(0));
    let while_observer_away = Arc::new(AtomicUsize::new(0));
    let gate = Gate::new();
    let producer = {
        let (publisher, book, submitted, queued, topic) = (
            publisher.clone(),
            book.clone(),
            submitted.clone(),
            queued.clone(),
            topic.clone(),
        );
        let (observer_online, away) = (observer.online.clone(), while_observer_away.clone());
        std::thread::spawn(move || {
            for i in 0..STREAM {
                let payload = format!("{{\"seq\":{i}}}");
                let b = book.clone();
                let completion = Completion::Callback(
                    gate.clone(),
                    Box::new(move |ack: Ack| {
                        if let Ok(mut b) = b.lock() {
                            if ack.result == jobs_result::Ok {
                                b.ok.insert(i);
                            } else {
                                b.failed.push((i, ack.result));
                            }
                        }
                    }),
                );
                match publisher.publish(&topic, payload.as_bytes(), 1, false, completion) {
                    Ok(Submitted::Queued) => {
                        queued.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(Submitted::Sent { .. }) => {
                        if !observer_online.load(Ordering::SeqCst) {
                            away.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Err(e) => panic!("publish {i} refused by the API: {e}"),
                }
                submitted.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(8));
            }
        })
    };

    // Restart twice, each time in the middle of the stream, the second time only once the
    // observer is back from the first.
    let mut restarted_at = Vec::new();
    for (k, threshold) in [STREAM / 4, STREAM * 3 / 5].into_iter().enumerate() {
        assert!(
            wait_until(Duration::from_secs(60), || submitted
                .load(Ordering::Relaxed)
                >= threshold
                && observer.conn.counters().reconnects >= k as u64
                && observer.online.load(Ordering::SeqCst)),
            "the producer stalled before {threshold} publishes, or the observer did not come back"
        );
        restarted_at.push(submitted.load(Ordering::Relaxed));
        broker.restart();
    }
    producer
        .join()
        .unwrap_or_else(|_| panic!("producer thread panicked"));
    for at in &restarted_at {
        assert!(
            *at > 0 && *at < STREAM,
            "a restart happened mid-stream, not before or after it: {restarted_at:?}"
        );
    }

    // Every publish accepted by the API completes with a PUBACK, however many restarts.
    let all_acked = wait_until(Duration::from_secs(90), || {
        book.lock()
            .map(|b| b.ok.len() + b.failed.len() >= STREAM)
            .unwrap_or(false)
    });
    let (ok, failed) = book
        .lock()
        .map(|b| (b.ok.len(), b.failed.clone()))
        .unwrap_or_default();
    assert!(
        all_acked && failed.is_empty() && ok == STREAM,
        "PUBACKs: {ok}/{STREAM} ok, failures {failed:?}, counters {:?}",
        publisher.counters()
    );

    // And the broker delivered every one of them to the persistent observer.
    let all_seen = wait_until(Duration::from_secs(90), || observer.distinct() >= STREAM);
    let seen = observer.seen.lock().map(|s| s.clone()).unwrap_or_default();
    let missing: Vec<usize> = (0..STREAM)
        .filter(|i| !seen.contains(format!("{{\"seq\":{i}}}").as_bytes()))
        .collect();
    assert!(
        all_seen && missing.is_empty(),
        "observer got {} distinct of {STREAM}; missing {:?}; deliveries {}; \
         publisher counters {:?}; observer counters {:?}",
        seen.len(),
        missing,
        observer.deliveries.load(Ordering::Relaxed),
        publisher.counters(),
        observer.conn.counters()
    );
    assert_eq!(seen.len(), STREAM, "no payload outside the stream arrived");

    // The restarts really cut both clients: each came online again, twice.
    let pc = publisher.counters();
    let oc = observer.conn.counters();
    assert!(
        pc.reconnects >= 2,
        "publisher reconnects {pc:?}, restarts at {restarted_at:?}"
    );
    assert!(oc.reconnects >= 2, "observer reconnects {oc:?}");
    assert!(publisher_online.load(Ordering::Relaxed) >= 3);
    assert!(
        broker.log().matches("Opening ipv4 listen socket").count() >= 3
            || broker.log().matches(" running").count() >= 3,
        "mosquitto started three times"
    );
    // The test measured something: publishes went out while the observer was away, and only
    // its persisted session could hold them.
    let away = while_observer_away.load(Ordering::Relaxed);
    assert!(away > 0, "no publish happened while the observer was away");
    eprintln!(
        "restarts at {restarted_at:?}; queued offline {}; sent while the observer was away \
         {away}; publisher {pc:?}; observer {oc:?}; deliveries {}",
        queued.load(Ordering::Relaxed),
        observer.deliveries.load(Ordering::Relaxed)
    );
    publisher.close();
    observer.conn.close();
}

/// With `persistence false` the broker forgets the observer's session on restart, so messages
/// published while the observer is away are lost by the BROKER. What remains ours to guarantee
/// is measured here: every publish accepted by the API gets a PUBACK from a broker eventually,
/// and every message published after the observer re-subscribed (it re-makes its subscription
/// itself after a session-less CONNACK) reaches it.
#[test]
#[ignore = "needs mosquitto: run by .ci/run with --ignored"]
fn broker_restart_without_persistence_every_publish_acked_and_resubscribed() {
    restart_without_persistence(MosqOpts::default(), |b, id| tcp_config(b.port(), id));
}

#[test]
#[ignore = "needs mosquitto: run by .ci/run with --ignored"]
fn broker_restart_over_websocket_every_publish_acked_and_resubscribed() {
    let opts = MosqOpts {
        tls: false,
        require_cert: false,
        websockets: true,
    };
    restart_without_persistence(opts, |b, id| ConnectionConfig {
        transport: TransportKind::WebSocket,
        ..tcp_config(b.ws_port(), id)
    });
}

#[test]
#[ignore = "needs mosquitto: run by .ci/run with --ignored"]
fn broker_restart_over_mutual_tls_every_publish_acked_and_resubscribed() {
    let opts = MosqOpts {
        tls: true,
        require_cert: true,
        websockets: false,
    };
    restart_without_persistence(opts, |b, id| {
        let c = certs();
        tls_config(
            "localhost",
            b.tls_port(),
            id,
            mutual_tls(pem_file, &c.client_ec_cert, &c.client_ec_pkcs8_key),
        )
    });
}

/// The body of the restart-without-persistence tests, over the transport `make` configures.
fn restart_without_persistence(
    opts: MosqOpts,
    make: impl Fn(&Mosquitto, &str) -> ConnectionConfig,
) {
    let mut broker = Mosquitto::start(opts);
    let topic = format!("$aws/things/nopersist-{}/jobs/notify", fastrand::u32(..));
    let observer = Observer::start_with(
        make(&broker, &unique_id("observer")),
        &topic,
        Duration::from_millis(50),
    );
    let publisher = Connection::new(make(&broker, &unique_id("pub")), Callbacks::default())
        .unwrap_or_else(|e| panic!("publisher: {e}"));
    publisher
        .connect()
        .unwrap_or_else(|e| panic!("publisher connect: {e}"));

    let acked = Arc::new(Mutex::new((HashSet::new(), Vec::new())));
    let gate = Gate::new();
    let publish = |label: String| {
        let a = acked.clone();
        let l = label.clone();
        let completion = Completion::Callback(
            gate.clone(),
            Box::new(move |ack: Ack| {
                if let Ok(mut a) = a.lock() {
                    if ack.result == jobs_result::Ok {
                        a.0.insert(l);
                    } else {
                        a.1.push((l, ack.result));
                    }
                }
            }),
        );
        publisher
            .publish(&topic, label.as_bytes(), 1, false, completion)
            .unwrap_or_else(|e| panic!("publish {label}: {e}"));
    };

    // Phase 1: delivered while the session exists (checked before the restart).
    for i in 0..100 {
        publish(format!("before-{i}"));
    }
    assert!(
        wait_until(WAIT, || observer.distinct() >= 100),
        "phase 1 reached the observer: {} of 100",
        observer.distinct()
    );
    // Phase 2: across the restart (in flight or queued offline): owed a PUBACK.
    broker.restart();
    for i in 0..100 {
        publish(format!("across-{i}"));
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(
        wait_until(Duration::from_secs(60), || acked
            .lock()
            .map(|a| a.0.len() + a.1.len() >= 200)
            .unwrap_or(false)),
        "not every publish completed: {:?}",
        publisher.counters()
    );
    let failures = acked.lock().map(|a| a.1.clone()).unwrap_or_default();
    assert!(failures.is_empty(), "publishes failed: {failures:?}");

    // The observer re-subscribed by itself: prove it with a marker it must receive, then
    // phase 3, all of which must arrive.
    assert!(
        wait_until(Duration::from_secs(30), || {
            observer.conn.status() == Status::Online && {
                publish(format!("probe-{}", fastrand::u32(..)));
                wait_until(Duration::from_millis(300), || {
                    observer
                        .seen
                        .lock()
                        .map(|s| s.iter().any(|p| p.starts_with(b"probe-")))
                        .unwrap_or(false)
                })
            }
        }),
        "the observer never received anything after the restart; counters {:?}",
        observer.conn.counters()
    );
    for i in 0..200 {
        publish(format!("after-{i}"));
    }
    let all = wait_until(Duration::from_secs(30), || {
        observer
            .seen
            .lock()
            .map(|s| (0..200).all(|i| s.contains(format!("after-{i}").as_bytes())))
            .unwrap_or(false)
    });
    let seen = observer.seen.lock().map(|s| s.clone()).unwrap_or_default();
    let missing: Vec<usize> = (0..200)
        .filter(|i| !seen.contains(format!("after-{i}").as_bytes()))
        .collect();
    assert!(all, "after the resubscription, missing {missing:?}");
    let failures = acked.lock().map(|a| a.1.clone()).unwrap_or_default();
    assert!(failures.is_empty(), "publishes failed: {failures:?}");
    assert!(observer.conn.counters().reconnects >= 1);
    assert!(publisher.counters().reconnects >= 1);
    publisher.close();
    observer.conn.close();
}

// ---------------------------------------------------------------------------------------------
// Keep-alive, a frozen broker and an oversized message.

/// mosquitto drops a client that sends nothing for 1.5 keep-alive periods: with a 2 s
/// keep-alive and 7 s of silence from the application, only PINGREQs keep the link up.
#[test]
#[ignore = "needs mosquitto: run by .ci/run with --ignored"]
fn keep_alive_pings_keep_an_idle_connection_open() {
    let broker = Mosquitto::start(MosqOpts::default());
    let id = unique_id("keepalive");
    let cfg = ConnectionConfig {
        keep_alive_secs: 2, // below AWS's 30 s floor: the Rust config is not clamped (C is)
        ..tcp_config(broker.port(), &id)
    };
    let (cb, inbox, events) = evented_callbacks();
    let conn = Connection::new(cfg, cb).unwrap_or_else(|e| panic!("new: {e}"));
    conn.connect().unwrap_or_else(|e| panic!("connect: {e}"));
    assert!(
        broker.log().contains(&format!(" as {id} (p2, c1, k2)")),
        "keep-alive 2 s announced in CONNECT:\n{}",
        broker.log()
    );
    std::thread::sleep(Duration::from_secs(7));
    assert_eq!(conn.status(), Status::Online);
    assert_eq!(
        conn.counters().reconnects,
        0,
        "the idle link was never dropped"
    );
    assert!(events.try_recv().is_err(), "no connection event while idle");
    let log = broker.log();
    assert!(
        log.matches(&format!("Received PINGREQ from {id}")).count() >= 2,
        "PINGREQs kept the link alive:\n{log}"
    );
    assert!(
        !log.contains("exceeded timeout"),
        "mosquitto timed a client out:\n{log}"
    );
    round_trip(&conn, &inbox);
    conn.close();
}

/// A broker that stops answering without closing the socket (SIGSTOP: the kernel still
/// accepts bytes) is detected by the unanswered PINGREQ, reported as a lost connection, and
/// left behind by a reconnect once it runs again; a QoS 1 publish made meanwhile arrives.
#[test]
#[ignore = "needs mosquitto: run by .ci/run with --ignored"]
fn frozen_broker_is_detected_by_keep_alive_and_recovered() {
    let broker = Mosquitto::start(MosqOpts::default());
    let pid = broker
        .pid()
        .and_then(|p| i32::try_from(p).ok())
        .unwrap_or_else(|| panic!("broker pid"));
    let offline = Arc::new(AtomicUsize::new(0));
    let off = offline.clone();
    let (cb, inbox, events) = evented_callbacks();
    let cfg = ConnectionConfig {
        keep_alive_secs: 2,
        operation_timeout: Duration::from_secs(2),
        connect_timeout: Duration::from_secs(2),
        ..tcp_config(broker.port(), &unique_id("frozen"))
    };
    let conn = Connection::new(
        cfg,
        Callbacks {
            on_offline: Some(Box::new(move || {
                off.fetch_add(1, Ordering::SeqCst);
            })),
            ..cb
        },
    )
    .unwrap_or_else(|e| panic!("new: {e}"));
    conn.connect().unwrap_or_else(|e| panic!("connect: {e}"));
    let topic = format!("$aws/things/{}/jobs/notify", conn.client_id());
    assert_eq!(conn.subscribe_sync(&topic, 1, None).ok(), Some(Some(1)));

    // SAFETY: kill(2) on the pid of the broker this test started and still owns.
    unsafe { libc::kill(pid, libc::SIGSTOP) };
    let frozen_at = Instant::now();
    let detected = wait_until(Duration::from_secs(20), || {
        offline.load(Ordering::SeqCst) > 0
    });
    let detection = frozen_at.elapsed();
    // A QoS 1 publish while the broker is frozen: in flight or queued, never lost.
    let sent = conn.publish(
        &topic,
        b"{\"while\":\"frozen\"}",
        1,
        false,
        Completion::None,
    );
    // SAFETY: as above; the broker continues.
    unsafe { libc::kill(pid, libc::SIGCONT) };
    assert!(detected, "a frozen broker was never detected");
    assert!(sent.is_ok(), "publish while frozen: {sent:?}");
    let lost = events
        .try_iter()
        .find(|(k, _)| *k == EventKind::ConnectionLost);
    assert!(lost.is_some(), "a ConnectionLost event was reported");
    eprintln!("frozen broker detected after {detection:?}: {lost:?}");

    assert_eq!(inbox.expect(&topic), b"{\"while\":\"frozen\"}");
    assert!(
        wait_until(WAIT, || conn.status() == Status::Online),
        "back online: {:?}",
        conn.status()
    );
    assert!(conn.counters().reconnects >= 1);
    round_trip(&conn, &inbox);
    conn.close();
}

/// A message larger than the client's packet limit (mosquitto has none by default) is
/// reported as a protocol error; the client drops that connection, reconnects, resubscribes
/// and receives the next message.
#[test]
#[ignore = "needs mosquitto: run by .ci/run with --ignored"]
fn oversized_incoming_message_is_reported_and_the_connection_recovers() {
    let broker = Mosquitto::start(MosqOpts::default());
    let (cb, inbox, events) = evented_callbacks();
    let cfg = ConnectionConfig {
        max_packet_size: 4096,
        ..tcp_config(broker.port(), &unique_id("oversize"))
    };
    let conn = Connection::new(cfg, cb).unwrap_or_else(|e| panic!("new: {e}"));
    conn.connect().unwrap_or_else(|e| panic!("connect: {e}"));
    let topic = format!("$aws/things/{}/jobs/notify-next", conn.client_id());
    assert_eq!(conn.subscribe_sync(&topic, 1, None).ok(), Some(Some(1)));

    // Another client (its own limit is the default 128 KiB) publishes 8 KiB there.
    let (sender, _) = connect(tcp_config(broker.port(), &unique_id("sender")));
    sender
        .publish_sync(&topic, &vec![b'z'; 8 * 1024], 1, false)
        .unwrap_or_else(|e| panic!("send 8 KiB: {e}"));
    let deadline = Instant::now() + WAIT;
    let mut kinds = Vec::new();
    while !kinds.contains(&EventKind::ProtocolError) && Instant::now() < deadline {
        if let Ok((k, _)) = events.recv_timeout(Duration::from_millis(100)) {
            kinds.push(k);
        }
    }
    assert!(
        kinds.contains(&EventKind::ProtocolError),
        "oversized message reported: {kinds:?}"
    );
    assert!(
        wait_until(WAIT, || conn.status() == Status::Online
            && conn.counters().reconnects >= 1),
        "reconnected: {:?} {:?}",
        conn.status(),
        conn.counters()
    );
    // Resubscribed (clean session): a normal message arrives; the oversized one never does.
    let deadline = Instant::now() + WAIT;
    let mut got_small = false;
    while !got_small && Instant::now() < deadline {
        sender
            .publish_sync(&topic, b"{\"small\":true}", 1, false)
            .unwrap_or_else(|e| panic!("send small: {e}"));
        if let Ok((t, p)) = inbox.rx.recv_timeout(Duration::from_millis(300)) {
            assert_eq!(t, topic);
            assert_eq!(
                p, b"{\"small\":true}",
                "only the small message is delivered"
            );
            got_small = true;
        }
    }
    assert!(got_small, "the resubscribed client received nothing");
    sender.close();
    conn.close();
}

// ---------------------------------------------------------------------------------------------
// Life cycle: requests made before the broker exists, and a user disconnect + connect.

/// `connect_async` while the broker is down: subscribe and QoS 1 publishes are queued, then
/// sent in order — subscription first — once the broker comes up, and the publish arrives.
#[test]
#[ignore = "needs mosquitto: run by .ci/run with --ignored"]
fn requests_queued_before_the_broker_starts_are_delivered() {
    let mut broker = Mosquitto::start(MosqOpts::default());
    broker.stop(); // keep its port, and start it later
    let id = unique_id("early");
    let (cb, inbox) = inbox_callbacks();
    let conn =
        Connection::new(tcp_config(broker.port(), &id), cb).unwrap_or_else(|e| panic!("new: {e}"));
    conn.connect_async()
        .unwrap_or_else(|e| panic!("connect_async: {e}"));
    let topic = format!("$aws/things/{id}/jobs/notify");
    let sub = conn
        .subscribe(&topic, 1, None, Completion::None)
        .unwrap_or_else(|e| panic!("subscribe: {e}"));
    assert_eq!(sub, Submitted::Queued, "subscribe while the broker is down");
    for i in 0..5 {
        let p = conn
            .publish(
                &topic,
                format!("early-{i}").as_bytes(),
                1,
                false,
                Completion::None,
            )
            .unwrap_or_else(|e| panic!("publish {i}: {e}"));
        assert_eq!(p, Submitted::Queued, "publish {i} while the broker is down");
    }
    assert_eq!(conn.counters().queued, 6);
    std::thread::sleep(Duration::from_millis(500)); // a few failed attempts
    broker.start_again();
    for i in 0..5 {
        assert_eq!(
            inbox.expect(&topic),
            format!("early-{i}").as_bytes(),
            "queued publishes arrive in order, after the queued subscription"
        );
    }
    assert!(wait_until(WAIT, || conn.counters().queued == 0));
    conn.close();
}

/// A user disconnect and a new connect on the same handle: the subscriptions are re-made
/// (clean session), so messages arrive again without subscribing anew.
///
/// Duplicates are allowed (QoS 1): `disconnect` sends DISCONNECT without waiting for PUBACKs
/// still on their way, so a publish whose PUBACK was not read yet stays in flight and is
/// retransmitted with DUP=1 on the next connect, and the broker (a new clean session) delivers
/// it again. And a `publish_sync` right after `connect` may be queued (the engine is still
/// re-subscribing) and sent moments later: both are within the QoS 1 contract, so this test
/// only requires every round's message to arrive, in order of first arrival.
#[test]
#[ignore = "needs mosquitto: run by .ci/run with --ignored"]
fn subscriptions_survive_a_user_disconnect_and_connect() {
    let broker = Mosquitto::start(MosqOpts::default());
    let id = unique_id("again");
    let (conn, inbox) = connect(tcp_config(broker.port(), &id));
    round_trip(&conn, &inbox);
    let topic = format!("$aws/things/{id}/jobs/notify-next");
    let mut duplicates = 0;
    for round in 0..3 {
        conn.disconnect()
            .unwrap_or_else(|e| panic!("disconnect {round}: {e}"));
        assert_eq!(conn.status(), Status::Disconnected);
        conn.connect()
            .unwrap_or_else(|e| panic!("connect {round}: {e}"));
        let payload = format!("round-{round}");
        conn.publish_sync(&topic, payload.as_bytes(), 1, false)
            .unwrap_or_else(|e| panic!("publish {round}: {e}"));
        loop {
            let got = inbox.expect(&topic);
            if got == payload.as_bytes() {
                break;
            }
            // Only an earlier round's message may come again (a QoS 1 duplicate).
            let earlier = (0..round).any(|r| got == format!("round-{r}").as_bytes());
            assert!(
                earlier,
                "round {round}: unexpected {:?}; broker log:\n{}",
                String::from_utf8_lossy(&got),
                broker.log()
            );
            duplicates += 1;
        }
    }
    let subscribes = broker
        .log()
        .matches(&format!("Received SUBSCRIBE from {id}"))
        .count();
    assert_eq!(subscribes, 4, "one SUBSCRIBE per session");
    eprintln!("user disconnect/connect: {duplicates} QoS 1 duplicates");
    conn.close();
}
