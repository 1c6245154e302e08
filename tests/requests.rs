//! Request/response through the jobs client against the emulator: every completion kind
//! (accepted, rejected, malformed, timeout with a late reply, offline fail-fast and wait, cancelled by a
//! disconnect and by freeing the client), exactly one outcome per request under concurrency,
//! and many things on one connection within AWS's subscription limits.

use iotjobs::error::jobs_result;
use iotjobs::jobs::client::JobsClient;
use iotjobs::jobs::requests::{Deliver, JobsRequest, Offline, Outcome, RequestOptions};
use iotjobs::jobs::types::{ExecutionStatus, RejectionCode, TopicType};
use iotjobs::mqtt::config::ConnectionConfig;
use iotjobs::mqtt::connection::Connection;
use iotjobs::mqtt::types::{Callbacks, TransportKind};
use iotjobs::runtime::Gate;
use iotjobs_emulator::{Emulator, EmulatorConfig, Packet};
use serde_json::json;
use std::sync::mpsc::channel;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn emulator() -> Emulator {
    Emulator::start(EmulatorConfig::default()).unwrap()
}

fn connection(emu: &Emulator, client_id: &str) -> Connection {
    let addr = emu.mqtt_addr();
    Connection::new(
        ConnectionConfig {
            host: addr.ip().to_string(),
            port: addr.port(),
            transport: TransportKind::Tcp,
            client_id: client_id.into(),
            connect_timeout: Duration::from_secs(10),
            ..ConnectionConfig::default()
        },
        Callbacks::default(),
    )
    .unwrap()
}

fn client(conn: &Connection, thing: &str) -> JobsClient {
    JobsClient::new(conn.clone(), false, thing, None, 1).unwrap()
}

fn opts(ms: u64) -> RequestOptions {
    RequestOptions {
        timeout: Duration::from_millis(ms),
        ..RequestOptions::default()
    }
}

fn start_next() -> JobsRequest {
    JobsRequest::StartNext {
        details: None,
        step_timeout: None,
    }
}

fn update(job: &str, status: ExecutionStatus, expected_version: u64) -> JobsRequest {
    JobsRequest::Update {
        job_id: job.into(),
        status,
        details: None,
        expected_version,
        execution_number: 0,
        include_job_execution_state: true,
        include_job_document: false,
        step_timeout: None,
    }
}

fn code(o: &Outcome) -> jobs_result {
    o.code()
}

#[test]
fn accepted_and_rejected_replies_come_back_typed() {
    let emu = emulator();
    let conn = connection(&emu, "rr-dev");
    conn.connect().unwrap();
    let c = client(&conn, "rr-dev");
    emu.create_job("job-1", json!({"operation": "install"}), &["rr-dev"])
        .unwrap();

    let pending = c
        .request_blocking(&JobsRequest::GetPending, &opts(5000))
        .unwrap();
    assert_eq!(code(&pending), jobs_result::Ok);
    let reply = pending.reply().unwrap();
    assert_eq!(reply.queued_jobs().len(), 1);
    assert_eq!(reply.queued_jobs()[0].job_id, "job-1");

    let started = c.request_blocking(&start_next(), &opts(5000)).unwrap();
    let ev = started.reply().expect("accepted");
    assert_eq!(code(&started), jobs_result::Ok);
    assert_eq!(ev.execution_job_id(), Some("job-1"));
    assert_eq!(ev.status(), ExecutionStatus::InProgress);
    let version = ev.version_number().unwrap() as u64;

    let wrong = c
        .request_blocking(
            &update("job-1", ExecutionStatus::Succeeded, version + 5),
            &opts(5000),
        )
        .unwrap();
    assert_eq!(code(&wrong), jobs_result::Rejected);
    let rej = wrong.reply().unwrap();
    assert_eq!(
        rej.rejection_code().map(|c| c.code()),
        Some(RejectionCode::VersionMismatch)
    );
    assert!(
        rej.execution_state().is_some(),
        "VersionMismatch carries the state"
    );

    let done = c
        .request_blocking(
            &update("job-1", ExecutionStatus::Succeeded, version),
            &opts(5000),
        )
        .unwrap();
    assert_eq!(code(&done), jobs_result::Ok);
    let missing = c
        .request_blocking(
            &JobsRequest::Describe {
                job_id: "no-such-job".into(),
                execution_number: 0,
                include_job_document: true,
            },
            &opts(5000),
        )
        .unwrap();
    assert_eq!(
        missing.reply().unwrap().rejection_code().map(|c| c.code()),
        Some(RejectionCode::ResourceNotFound)
    );
    let r = c.router().counters();
    assert_eq!(r.submitted, r.completed, "every request completed: {r:?}");
    assert_eq!(c.router().pending(), 0);
    conn.close();
}

#[test]
fn a_late_reply_after_the_deadline_is_dropped_and_counted() {
    let emu = emulator();
    let conn = connection(&emu, "late-dev");
    conn.connect().unwrap();
    let c = client(&conn, "late-dev");
    emu.set_reply_delay(Duration::from_millis(600));
    let started = Instant::now();
    let o = c
        .request_blocking(&JobsRequest::GetPending, &opts(150))
        .unwrap();
    assert_eq!(code(&o), jobs_result::Timeout);
    assert!(started.elapsed() < Duration::from_millis(600));
    let deadline = Instant::now() + Duration::from_secs(5);
    while c.router().counters().unmatched_replies == 0 {
        assert!(Instant::now() < deadline, "the late reply never arrived");
        std::thread::sleep(Duration::from_millis(20));
    }
    let r = c.router().counters();
    assert_eq!(
        (r.submitted, r.completed),
        (1, 1),
        "one outcome only: {r:?}"
    );
    conn.close();
}

#[test]
fn dropped_replies_time_out() {
    let emu = emulator();
    let conn = connection(&emu, "drop-dev");
    conn.connect().unwrap();
    let c = client(&conn, "drop-dev");
    emu.drop_replies(1);
    let o = c
        .request_blocking(&JobsRequest::GetPending, &opts(300))
        .unwrap();
    assert_eq!(code(&o), jobs_result::Timeout);
    let o = c
        .request_blocking(&JobsRequest::GetPending, &opts(5000))
        .unwrap();
    assert_eq!(code(&o), jobs_result::Ok, "the next one is answered");
    conn.close();
}

#[test]
fn a_malformed_reply_completes_its_request_at_once_with_a_protocol_error() {
    let emu = emulator();
    let conn = connection(&emu, "malformed-dev");
    conn.connect().unwrap();
    let c = client(&conn, "malformed-dev");
    emu.create_job("mal-1", json!({"operation": "x"}), &["malformed-dev"])
        .unwrap();
    let requests = [
        JobsRequest::GetPending,
        start_next(),
        update("mal-1", ExecutionStatus::InProgress, 0),
    ];
    for req in &requests {
        emu.malform_replies(1);
        let began = Instant::now();
        let o = c.request_blocking(req, &opts(20_000)).unwrap();
        assert_eq!(code(&o), jobs_result::Protocol, "{req:?}: {o:?}");
        assert!(
            format!("{o:?}").contains("malformed"),
            "the error says why: {o:?}"
        );
        // Far from the 20 s deadline: the reply itself completed the request.
        assert!(began.elapsed() < Duration::from_secs(10), "{req:?}");
    }
    let o = c
        .request_blocking(&JobsRequest::GetPending, &opts(5000))
        .unwrap();
    assert_eq!(code(&o), jobs_result::Ok, "the next one is answered");
    assert_eq!(c.router().counters().unmatched_replies, 0);
    conn.close();
}

#[test]
fn first_requests_from_several_threads_at_once_all_get_their_replies() {
    // The first request of a thing subscribes its reply filters; requests racing it from other
    // threads must not go out before those SUBSCRIBEs.
    let emu = emulator();
    let conn = connection(&emu, "race-dev");
    conn.connect().unwrap();
    for round in 0..20 {
        let c = Arc::new(client(&conn, &format!("race-{round}")));
        let barrier = Arc::new(std::sync::Barrier::new(8));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (c, barrier) = (c.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    c.request_blocking(&JobsRequest::GetPending, &opts(5000))
                        .map(|o| code(&o))
                })
            })
            .collect();
        for t in threads {
            assert_eq!(t.join().unwrap().unwrap(), jobs_result::Ok, "round {round}");
        }
    }
    conn.close();
}

#[test]
fn offline_reads_fail_fast_or_wait_within_their_deadline() {
    let emu = emulator();
    let conn = connection(&emu, "off-dev");
    let c = client(&conn, "off-dev");
    let fast = RequestOptions {
        offline: Offline::FailFast,
        ..opts(5000)
    };
    let e = c
        .request_blocking(&JobsRequest::GetPending, &fast)
        .unwrap_err();
    assert_eq!(e.code, jobs_result::NotConnected);

    // Waiting: made before the first connect, answered once connected.
    let (tx, rx) = channel();
    let gate = Gate::new();
    c.request(
        &JobsRequest::GetPending,
        &opts(10_000),
        Deliver::Callback(gate.clone(), Box::new(move |o| tx.send(o).unwrap())),
    )
    .unwrap();
    // A read whose deadline passes while queued is never sent.
    let (tx2, rx2) = channel();
    c.request(
        &start_next(),
        &opts(100),
        Deliver::Callback(gate.clone(), Box::new(move |o| tx2.send(o).unwrap())),
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        code(&rx2.recv_timeout(Duration::from_secs(5)).unwrap()),
        jobs_result::Timeout
    );
    conn.connect().unwrap();
    let o = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(code(&o), jobs_result::Ok);
    std::thread::sleep(Duration::from_millis(200));
    let start_nexts = emu
        .records()
        .iter()
        .filter(
            |r| matches!(&r.packet, Packet::Publish(p) if p.topic.ends_with("/jobs/start-next")),
        )
        .count();
    assert_eq!(start_nexts, 0, "the expired start-next was never sent");
    conn.close();
}

#[test]
fn a_user_disconnect_cancels_pending_requests_and_freeing_the_client_closes_them() {
    let emu = emulator();
    let conn = connection(&emu, "cancel-dev");
    conn.connect().unwrap();
    let c = Arc::new(client(&conn, "cancel-dev"));
    emu.set_reply_delay(Duration::from_secs(3));
    let (tx, rx) = channel();
    c.request(
        &JobsRequest::GetPending,
        &opts(10_000),
        Deliver::Callback(Gate::new(), Box::new(move |o| tx.send(o).unwrap())),
    )
    .unwrap();
    conn.disconnect().unwrap();
    let o = rx.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(code(&o), jobs_result::Cancelled);

    conn.connect().unwrap();
    let waiting = {
        let c = c.clone();
        std::thread::spawn(move || c.request_blocking(&JobsRequest::GetPending, &opts(10_000)))
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while c.router().pending() == 0 {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(10));
    }
    c.close();
    let o = waiting.join().unwrap().unwrap();
    assert_eq!(code(&o), jobs_result::Closed);
    let r = c.router().counters();
    assert_eq!(r.submitted, r.completed);
    conn.close();
}

#[test]
fn eight_threads_of_a_thousand_requests_each_get_their_own_reply_exactly_once() {
    let emu = emulator();
    let conn = connection(&emu, "conc-dev");
    conn.connect().unwrap();
    let c = Arc::new(client(&conn, "conc-dev"));
    emu.set_reply_delay(Duration::from_millis(2));
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let c = c.clone();
            std::thread::spawn(move || {
                for i in 0..1000 {
                    let token = format!("t{t}-{i}");
                    let o = c
                        .request_blocking(
                            &JobsRequest::GetPending,
                            &RequestOptions {
                                client_token: Some(token.clone()),
                                ..opts(20_000)
                            },
                        )
                        .unwrap();
                    assert_eq!(code(&o), jobs_result::Ok, "{token}");
                    assert_eq!(o.reply().unwrap().client_token(), Some(token.as_str()));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let r = c.router().counters();
    assert_eq!((r.submitted, r.completed), (8000, 8000), "{r:?}");
    assert_eq!(r.unmatched_replies, 0);
    conn.close();
}

#[test]
fn a_thousand_things_on_one_connection_get_their_replies() {
    let emu = emulator();
    let conn = connection(&emu, "gateway");
    conn.connect().unwrap();
    let things: Vec<String> = (0..1000).map(|i| format!("gw-thing-{i}")).collect();
    let targets: Vec<&str> = things.iter().map(String::as_str).collect();
    let clients: Vec<JobsClient> = things.iter().map(|t| client(&conn, t)).collect();
    // Every thing's notify-next, through the library's own subscriptions.
    let (ntx, nrx) = channel();
    for (i, c) in clients.iter().enumerate() {
        let ntx = ntx.clone();
        c.set_event_handler(
            TopicType::NotifyNext,
            Some(Arc::new(
                move |ev: &Arc<iotjobs::jobs::event::JobsEvent>| {
                    ntx.send((i, ev.execution_job_id().map(str::to_owned)))
                        .unwrap();
                },
            )),
        )
        .unwrap();
    }
    assert_eq!(
        clients[0]
            .set_event_handler(TopicType::Update, None)
            .unwrap_err()
            .code,
        jobs_result::InvalidArgument
    );
    // Let the subscriptions settle before the job announces itself: past four things, the
    // thing-wildcard filter replaces the per-thing ones.
    let deadline = Instant::now() + Duration::from_secs(10);
    while emu.subscriptions("gateway").len() != 1 {
        assert!(
            Instant::now() < deadline,
            "{:?}",
            emu.subscriptions("gateway")
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    emu.create_job("gw-job", json!({"operation": "ping"}), &targets)
        .unwrap();
    let mut notified = vec![false; clients.len()];
    for _ in 0..clients.len() {
        let (i, job) = nrx.recv_timeout(Duration::from_secs(60)).unwrap();
        assert_eq!(job.as_deref(), Some("gw-job"), "thing {i}");
        assert!(!notified[i], "thing {i} notified twice");
        notified[i] = true;
    }
    let (tx, rx) = channel();
    let gate = Gate::new();
    // In waves of 250, as a gateway paces its things: the emulator, like AWS IoT, keeps at most
    // 100 unacknowledged QoS 1 messages in flight per connection and a bounded queue behind them.
    let mut seen = vec![false; clients.len()];
    for wave in clients.chunks(250).enumerate() {
        let (w, wave_clients) = wave;
        for (k, c) in wave_clients.iter().enumerate() {
            let i = w * 250 + k;
            let tx = tx.clone();
            c.request(
                &start_next(),
                &opts(20_000),
                Deliver::Callback(gate.clone(), Box::new(move |o| tx.send((i, o)).unwrap())),
            )
            .unwrap();
        }
        for _ in 0..wave_clients.len() {
            let (i, o) = rx.recv_timeout(Duration::from_secs(60)).unwrap();
            assert_eq!(
                code(&o),
                jobs_result::Ok,
                "thing {i}: {o:?}; {:?}",
                clients[0].router().counters()
            );
            let ev = o.reply().unwrap();
            assert_eq!(ev.thing_name(), Some(things[i].as_str()));
            assert_eq!(ev.execution_job_id(), Some("gw-job"));
            assert!(!seen[i], "thing {i} answered twice");
            seen[i] = true;
        }
    }
    let subs: Vec<String> = emu
        .subscriptions("gateway")
        .into_iter()
        .map(|(f, _)| f)
        .collect();
    assert_eq!(
        subs.len(),
        5,
        "the four reply filters and the notify-next filter for every thing: {subs:?}"
    );
    assert!(
        subs.iter().all(|f| f.starts_with("$aws/things/+/")),
        "{subs:?}"
    );
    assert_eq!(clients[0].router().counters().unmatched_replies, 0);
    conn.close();
}

#[test]
fn requests_cut_in_the_middle_each_complete_exactly_once() {
    let emu = emulator();
    let conn = connection(&emu, "cut-dev");
    conn.connect().unwrap();
    let c = client(&conn, "cut-dev");
    emu.set_reply_delay(Duration::from_millis(5));
    let (tx, rx) = channel();
    let gate = Gate::new();
    const N: usize = 300;
    for i in 0..N {
        let tx = tx.clone();
        c.request(
            &JobsRequest::GetPending,
            &RequestOptions {
                client_token: Some(format!("cut-{i}")),
                ..opts(8_000)
            },
            Deliver::Callback(gate.clone(), Box::new(move |o| tx.send((i, o)).unwrap())),
        )
        .unwrap();
        if i % 100 == 50 {
            // Cut while requests and replies are on the wire; the client reconnects by itself
            // (its backoff is 1 s: the next cut waits for the new link).
            let deadline = Instant::now() + Duration::from_secs(10);
            while !emu.cut("cut-dev") {
                assert!(Instant::now() < deadline, "the client never reconnected");
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
    let mut outcomes = vec![0usize; N];
    let (mut accepted, mut timed_out) = (0, 0);
    for _ in 0..N {
        let (i, o) = rx.recv_timeout(Duration::from_secs(30)).unwrap();
        outcomes[i] += 1;
        match code(&o) {
            jobs_result::Ok => {
                accepted += 1;
                let token = format!("cut-{i}");
                assert_eq!(o.reply().unwrap().client_token(), Some(token.as_str()));
            }
            jobs_result::Timeout => timed_out += 1,
            other => panic!("request {i}: {other:?} {o:?}"),
        }
    }
    assert!(
        rx.recv_timeout(Duration::from_millis(500)).is_err(),
        "no request completes twice"
    );
    assert!(outcomes.iter().all(|&n| n == 1), "{outcomes:?}");
    let r = c.router().counters();
    assert_eq!((r.submitted, r.completed), (N as u64, N as u64), "{r:?}");
    println!("{accepted} accepted, {timed_out} timed out across 3 cuts; {r:?}");
    // Requests made while the link was down were queued and answered after the reconnect.
    assert!(accepted > 0, "{accepted} accepted");
    conn.close();
}
