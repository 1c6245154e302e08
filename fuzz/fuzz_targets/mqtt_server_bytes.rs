//! The session core fed arbitrary server bytes.
//!
//! A core is brought up to "CONNECT sent"; then the input decides a sequence of steps: server
//! bytes in arbitrary chunks (the input also carries well-formed CONNACK/PUBACK/SUBACK bytes so
//! the core gets online and past its handshake often), timers at arbitrary later instants,
//! user requests (QoS 0/1 publishes, subscribes, unsubscribes), link loss and reopen,
//! connect, disconnect, read pauses and shutdown.
//!
//! Invariants after every step:
//! - no panic;
//! - `counters().in_flight + counters().queued` equals the requests accepted by `submit` minus
//!   those completed (an ack delivered through their `Completion::Wait` channel): no request
//!   is lost silently, none is counted twice;
//! - every accepted request completes at most once;
//! - memory stays bounded: what the core leaves unread is at most one unfinished packet of the
//!   configured maximum size, the bytes it writes in one step stay under a cap proportional to
//!   the open requests, the offline queue is bounded (0..7 by the input), and a deadline is
//!   never more than an hour away (checked when the clock jumps to it).

#![no_main]

use arbitrary::Arbitrary;
use bytes::{Bytes, BytesMut};
use iotjobs::error::{jobs_result, Error};
use iotjobs::mqtt::config::ConnectionConfig;
use iotjobs::mqtt::core::{Core, Op, Request};
use iotjobs::mqtt::queue::{DropPolicy, QueueLimit};
use iotjobs::mqtt::types::{Ack, Completion, Submitted};
use libfuzzer_sys::fuzz_target;
use std::sync::mpsc::{sync_channel, Receiver};
use std::time::{Duration, Instant};

#[derive(Arbitrary, Debug)]
enum Step {
    /// Raw server bytes, delivered in chunks of the given sizes.
    Bytes {
        data: Vec<u8>,
        chunks: Vec<u8>,
    },
    /// A well-formed CONNACK with this session-present flag and return code.
    Connack {
        session_present: bool,
        code: u8,
    },
    /// A PUBACK, SUBACK (one return code) or UNSUBACK for this packet id.
    Puback(u16),
    Suback(u16, u8),
    Unsuback(u16),
    /// A server PUBLISH (topic from a small set, QoS 0..2, DUP/retain flags).
    Publish {
        topic: u8,
        qos: u8,
        dup: bool,
        retain: bool,
        id: u16,
        payload: Vec<u8>,
    },
    Pingresp,
    /// The clock moves by this many milliseconds (up to about 16 minutes), then the timer runs.
    Advance(u16),
    /// The clock moves to the core's next deadline, then the timer runs.
    ToDeadline,
    Publish0(u8),
    Publish1(u8),
    Subscribe(u8, u8),
    Unsubscribe(u8),
    LinkLost,
    LinkOpened,
    LinkOpenFailed,
    Connect,
    Disconnect,
    ReadPaused(bool),
    Shutdown,
}

#[derive(Arbitrary, Debug)]
struct Input {
    drop_oldest: bool,
    queue_limit: u8,
    clean_session: bool,
    steps: Vec<Step>,
}

const TOPICS: [&str; 4] = ["a/b", "$aws/things/t/jobs/notify", "x", "a/+/c"];

fn filter(i: u8) -> &'static str {
    ["a/b", "a/#", "$aws/things/t/jobs/#", "+"][usize::from(i) % 4]
}

/// Bytes the core may write for one step: a CONNECT, the resubscriptions and retransmissions
/// of everything outstanding, and a few control packets. Far above any real step.
fn write_cap(outstanding: usize) -> usize {
    4096 + outstanding * 512
}

struct Tracker {
    /// Receivers of accepted requests not yet completed, with the acks seen so far.
    pending: Vec<(Receiver<Ack>, u32)>,
    /// Receivers of completed requests: nothing more may arrive on them.
    done: Vec<Receiver<Ack>>,
}

fn check(core: &mut Core, t: &mut Tracker) {
    let fx = core.take_effects();
    for (completion, ack) in fx.acks {
        completion.complete(ack);
    }
    for rx in &t.done {
        assert!(rx.try_recv().is_err(), "a request completed twice");
    }
    let mut still_open = Vec::new();
    for (rx, mut seen) in t.pending.drain(..) {
        while rx.try_recv().is_ok() {
            seen += 1;
        }
        assert!(seen <= 1, "a request completed {seen} times");
        if seen == 1 {
            t.done.push(rx);
        } else {
            still_open.push((rx, seen));
        }
    }
    t.pending = still_open;
    let c = core.counters();
    let outstanding = (c.in_flight + c.queued) as usize;
    // Every request, QoS 0 publishes included, completes through an ack; until then it is in
    // flight or queued. A request dropped without an ack would leave `open` above it.
    let open = t.pending.len();
    assert_eq!(
        outstanding, open,
        "{} in flight + {} queued, but {open} requests accepted and not completed",
        c.in_flight, c.queued
    );
}

fuzz_target!(|input: Input| {
    let cfg = ConnectionConfig {
        host: "broker".into(),
        port: 1883,
        client_id: "fuzz".into(),
        keep_alive_secs: 30,
        clean_session: input.clean_session,
        operation_timeout: Duration::from_secs(1),
        connect_timeout: Duration::from_secs(5),
        drain_rate_hz: 10.0,
        max_packet_size: 4096,
        queue_limit: QueueLimit::Bounded(usize::from(input.queue_limit % 8)),
        drop_policy: if input.drop_oldest {
            DropPolicy::DropOldest
        } else {
            DropPolicy::DropNewest
        },
        ..ConnectionConfig::default()
    };
    let t0 = Instant::now();
    let mut now = t0;
    let mut core = Core::new(&cfg, 1, true);
    core.connect(None, now).expect("connect from idle");
    let io = core.take_io();
    assert!(io.open_link);
    core.link_opened(now);
    assert!(!core.take_io().write.is_empty(), "CONNECT sent");
    let mut t = Tracker {
        pending: Vec::new(),
        done: Vec::new(),
    };
    let mut buf = BytesMut::new();
    for step in input.steps.into_iter().take(256) {
        let mut submit = |core: &mut Core, op: Op, now: Instant| {
            let (tx, rx) = sync_channel(2);
            let req = Request::new(op, Completion::Wait(tx));
            match core.submit(req, now) {
                Ok(Submitted::Sent { .. }) | Ok(Submitted::Queued) => t.pending.push((rx, 0)),
                Err(e) => assert_ne!(e.code, jobs_result::Ok, "a refusal has a code"),
            }
        };
        let feed = |core: &mut Core, bytes: &[u8], buf: &mut BytesMut, now: Instant| {
            buf.extend_from_slice(bytes);
            core.bytes_received(buf, now);
            // What stays unread is at most one unfinished packet of the allowed size.
            assert!(buf.len() <= 4096 + 5, "{} bytes kept unread", buf.len());
        };
        match step {
            Step::Bytes { data, chunks } => {
                let mut rest = &data[..];
                let mut sizes = chunks.into_iter().map(|c| usize::from(c).max(1));
                while !rest.is_empty() {
                    let n = sizes.next().unwrap_or(rest.len()).min(rest.len());
                    feed(&mut core, &rest[..n], &mut buf, now);
                    rest = &rest[n..];
                }
            }
            Step::Connack {
                session_present,
                code,
            } => feed(
                &mut core,
                &[0x20, 0x02, session_present as u8, code % 7],
                &mut buf,
                now,
            ),
            Step::Puback(id) => feed(
                &mut core,
                &[0x40, 2, (id >> 8) as u8, id as u8],
                &mut buf,
                now,
            ),
            Step::Suback(id, rc) => {
                let rc = [0, 1, 2, 0x80][usize::from(rc) % 4];
                feed(
                    &mut core,
                    &[0x90, 3, (id >> 8) as u8, id as u8, rc],
                    &mut buf,
                    now,
                )
            }
            Step::Unsuback(id) => feed(
                &mut core,
                &[0xb0, 2, (id >> 8) as u8, id as u8],
                &mut buf,
                now,
            ),
            Step::Publish {
                topic,
                qos,
                dup,
                retain,
                id,
                payload,
            } => {
                let topic = TOPICS[usize::from(topic) % TOPICS.len()].as_bytes();
                let qos = qos % 3;
                let payload = &payload[..payload.len().min(512)];
                let mut body = Vec::new();
                body.extend_from_slice(&(topic.len() as u16).to_be_bytes());
                body.extend_from_slice(topic);
                if qos > 0 {
                    body.extend_from_slice(&id.to_be_bytes());
                }
                body.extend_from_slice(payload);
                let mut pkt = vec![0x30 | (u8::from(dup) << 3) | (qos << 1) | u8::from(retain)];
                let mut len = body.len();
                loop {
                    let mut b = (len % 128) as u8;
                    len /= 128;
                    if len > 0 {
                        b |= 0x80;
                    }
                    pkt.push(b);
                    if len == 0 {
                        break;
                    }
                }
                pkt.extend_from_slice(&body);
                feed(&mut core, &pkt, &mut buf, now)
            }
            Step::Pingresp => feed(&mut core, &[0xd0, 0], &mut buf, now),
            Step::Advance(ms) => {
                now += Duration::from_millis(u64::from(ms) * 16);
                core.timer(now);
            }
            Step::ToDeadline => {
                if let Some(at) = core.next_deadline() {
                    assert!(
                        at <= now + Duration::from_secs(3600),
                        "deadline within an hour"
                    );
                    now = now.max(at);
                }
                core.timer(now);
            }
            Step::Publish0(topic) => {
                let op = Op::Publish {
                    topic: TOPICS[usize::from(topic) % 3].into(),
                    payload: Bytes::from_static(b"q0"),
                    qos: 0,
                    retain: false,
                };
                submit(&mut core, op, now)
            }
            Step::Publish1(topic) => {
                let op = Op::Publish {
                    topic: TOPICS[usize::from(topic) % 3].into(),
                    payload: Bytes::from_static(b"q1"),
                    qos: 1,
                    retain: false,
                };
                submit(&mut core, op, now)
            }
            Step::Subscribe(f, qos) => {
                let op = Op::Subscribe {
                    filter: filter(f).into(),
                    qos: qos % 2,
                    handler: None,
                };
                submit(&mut core, op, now)
            }
            Step::Unsubscribe(f) => {
                let op = Op::Unsubscribe {
                    filter: filter(f).into(),
                };
                submit(&mut core, op, now)
            }
            Step::LinkLost => {
                buf.clear();
                core.link_lost(Error::new(jobs_result::Network, "fuzz: link lost"), now)
            }
            Step::LinkOpened => core.link_opened(now),
            Step::LinkOpenFailed => {
                core.link_open_failed(Error::new(jobs_result::Network, "fuzz: refused"), now)
            }
            Step::Connect => {
                let _ = core.connect(None, now);
            }
            Step::Disconnect => {
                let _ = core.disconnect(None, now);
            }
            Step::ReadPaused(p) => core.set_read_paused(p, now),
            Step::Shutdown => core.shutdown(now),
        }
        let io = core.take_io();
        let outstanding = t.pending.len();
        assert!(
            io.write.len() <= write_cap(outstanding),
            "{} bytes written in one step with {outstanding} requests open",
            io.write.len()
        );
        if io.close_link {
            buf.clear();
        }
        check(&mut core, &mut t);
    }
});
