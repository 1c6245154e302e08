//! Packet-exact scenarios for the session core: given these inputs at these instants, exactly
//! these bytes out, these completions and events, this next deadline. No sockets, no clock.

use super::*;
use crate::mqtt::queue::{DropPolicy, QueueLimit};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;

const OP: Duration = Duration::from_secs(1);
const KEEP_ALIVE: Duration = Duration::from_secs(60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

fn cfg() -> ConnectionConfig {
    ConnectionConfig {
        host: "broker".into(),
        port: 1883,
        client_id: "dev".into(),
        keep_alive_secs: 60,
        operation_timeout: OP,
        connect_timeout: CONNECT_TIMEOUT,
        drain_rate_hz: 0.0,
        ..ConnectionConfig::default()
    }
}

/// Bytes from a hex string with spaces, and quoted ASCII: `"32 09 00 03 'a/b' 00 01"`.
fn hex(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for part in s.split_whitespace() {
        if let Some(text) = part.strip_prefix('\'').and_then(|p| p.strip_suffix('\'')) {
            out.extend_from_slice(text.as_bytes());
        } else {
            out.push(u8::from_str_radix(part, 16).expect("hex byte"));
        }
    }
    out
}

fn waiter() -> (Completion, Receiver<Ack>) {
    let (tx, rx) = sync_channel(1);
    (Completion::Wait(tx), rx)
}

fn subscribe(filter: &str, qos: u8) -> Op {
    Op::Subscribe {
        filter: filter.into(),
        qos,
        handler: None,
    }
}

fn publish(topic: &str, payload: &'static [u8], qos: u8) -> Op {
    Op::Publish {
        topic: topic.into(),
        payload: Bytes::from_static(payload),
        qos,
        retain: false,
    }
}

/// A core and a fake clock: every input happens at `now`.
struct Harness {
    core: Core,
    t0: Instant,
    now: Instant,
}

impl Harness {
    fn new(cfg: ConnectionConfig) -> Harness {
        let t0 = Instant::now();
        Harness {
            core: Core::new(&cfg, 7, false),
            t0,
            now: t0,
        }
    }

    fn at(&mut self, ms: u64) -> Instant {
        self.now = self.t0 + Duration::from_millis(ms);
        self.now
    }

    fn ms(&self, ms: u64) -> Instant {
        self.t0 + Duration::from_millis(ms)
    }

    fn io(&mut self) -> Io {
        self.core.take_io()
    }

    /// The bytes written since the last look, expecting no other link action.
    fn written(&mut self) -> Vec<u8> {
        let io = self.io();
        assert!(!io.open_link && !io.close_link, "unexpected link action");
        io.write.to_vec()
    }

    fn feed(&mut self, bytes: &[u8]) {
        let mut buf = BytesMut::from(bytes);
        self.core.bytes_received(&mut buf, self.now);
        assert!(buf.is_empty(), "whole packets are consumed");
    }

    fn submit(&mut self, op: Op, completion: Completion) -> Result<Submitted> {
        self.core.submit(Request::new(op, completion), self.now)
    }

    fn timer(&mut self) {
        self.core.timer(self.now)
    }

    /// Opens the link at `now` and answers CONNACK with `session_present`.
    fn come_up(&mut self, session_present: bool) {
        let io = self.io();
        assert!(io.open_link, "an attempt starts");
        self.core.link_opened(self.now);
        assert_eq!(self.written(), encode_connect(&cfg()).to_vec(), "CONNECT");
        self.feed(&[0x20, 0x02, session_present as u8, 0x00]);
    }

    fn connect(&mut self) {
        self.core.connect(None, self.now).unwrap();
        self.come_up(false);
        assert_eq!(self.core.status(), Status::Online);
        self.core.take_effects();
    }

    fn effects(&mut self) -> Effects {
        self.core.take_effects()
    }
}

impl Harness {
    /// Online, with the QoS 1 publish `32 09 00 03 'a/b' 00 01 'hi'` waiting for its PUBACK.
    fn online_with_one_in_flight(&mut self) {
        self.connect();
        self.submit(publish("a/b", b"hi", 1), Completion::None)
            .unwrap();
        assert_eq!(self.written(), hex("32 09 00 03 'a/b' 00 01 'hi'"));
    }
}

fn kinds(fx: &Effects) -> Vec<EventKind> {
    fx.events.iter().map(|e| e.kind).collect()
}

#[test]
fn connect_writes_connect_and_goes_online_on_connack() {
    let mut h = Harness::new(cfg());
    assert_eq!(h.core.next_deadline(), None, "idle: nothing to wait for");
    let (tx, rx) = sync_channel(1);
    h.core.connect(Some(tx), h.now).unwrap();
    assert_eq!(h.core.status(), Status::Connecting);
    assert_eq!(h.core.next_deadline(), Some(h.ms(5000)), "connect timeout");
    let io = h.io();
    assert!(io.open_link && io.write.is_empty());
    h.at(10);
    h.core.link_opened(h.now);
    assert_eq!(h.written(), encode_connect(&cfg()).to_vec());
    assert_eq!(
        h.core.next_deadline(),
        Some(h.ms(5000)),
        "still the connect timeout"
    );
    h.feed(&hex("20 02 00 00"));
    assert_eq!(h.core.status(), Status::Online);
    let fx = h.effects();
    assert!(fx.online);
    assert_eq!(fx.connect_results.len(), 1);
    let (w, r) = fx.connect_results.into_iter().next().unwrap();
    assert!(r.is_ok());
    drop(w);
    drop(rx);
    assert_eq!(h.written(), Vec::<u8>::new(), "no subscriptions to re-make");
    assert_eq!(
        h.core.next_deadline(),
        Some(h.ms(1010)),
        "the steady ack-check tick"
    );
}

#[test]
fn qos1_publish_is_completed_by_its_puback() {
    let mut h = Harness::new(cfg());
    h.connect();
    let (done, rx) = waiter();
    let sent = h.submit(publish("a/b", b"hi", 1), done).unwrap();
    assert_eq!(sent, Submitted::Sent { packet_id: 1 });
    assert_eq!(h.written(), hex("32 09 00 03 'a/b' 00 01 'hi'"));
    assert_eq!(h.core.counters().in_flight, 1);
    assert!(rx.try_recv().is_err());
    h.feed(&hex("40 02 00 01"));
    let fx = h.effects();
    assert_eq!(fx.acks.len(), 1);
    let (completion, ack) = fx.acks.into_iter().next().unwrap();
    assert_eq!(ack, Ack::new(1, jobs_result::Ok));
    completion.complete(ack);
    assert_eq!(rx.try_recv().unwrap(), ack);
    assert_eq!(h.core.counters().in_flight, 0);
    assert_eq!(h.core.counters().published, 1);
}

#[test]
fn qos0_publish_completes_when_written() {
    let mut h = Harness::new(cfg());
    h.connect();
    let sent = h
        .submit(publish("a/b", b"hi", 0), Completion::None)
        .unwrap();
    assert_eq!(sent, Submitted::Sent { packet_id: 0 });
    assert_eq!(h.written(), hex("30 07 00 03 'a/b' 'hi'"));
    let fx = h.effects();
    assert_eq!(fx.acks[0].1, Ack::new(0, jobs_result::Ok));
    assert_eq!(h.core.counters().in_flight, 0);
}

#[test]
fn an_ack_of_the_wrong_type_completes_nothing_and_is_a_protocol_error() {
    let mut h = Harness::new(cfg());
    h.online_with_one_in_flight();
    // A SUBACK carrying the PUBLISH's packet id.
    h.feed(&hex("90 03 00 01 01"));
    let fx = h.effects();
    assert!(
        fx.acks.is_empty(),
        "the publish is not acknowledged by a SUBACK"
    );
    assert_eq!(kinds(&fx), [EventKind::ProtocolError]);
    assert_eq!(fx.events[0].packet_id, 1);
    assert_eq!(h.core.counters().in_flight, 1);
    // An UNSUBACK for it neither.
    h.feed(&hex("b0 02 00 01"));
    assert!(h.effects().acks.is_empty());
    // The PUBACK does.
    h.feed(&hex("40 02 00 01"));
    let fx = h.effects();
    assert_eq!(fx.acks[0].1, Ack::new(1, jobs_result::Ok));
    assert_eq!(h.core.counters().in_flight, 0);

    // And a PUBACK does not complete a SUBSCRIBE.
    h.submit(subscribe("a/#", 1), Completion::None).unwrap();
    assert_eq!(h.written(), hex("82 08 00 02 00 03 'a/#' 01"));
    h.feed(&hex("40 02 00 02"));
    let fx = h.effects();
    assert!(fx.acks.is_empty());
    assert_eq!(kinds(&fx), [EventKind::ProtocolError]);
    h.feed(&hex("90 03 00 02 01"));
    assert_eq!(h.effects().acks[0].1.granted_qos, 1);
}

#[test]
fn an_ack_for_no_request_in_flight_is_ignored() {
    let mut h = Harness::new(cfg());
    h.connect();
    h.feed(&hex("40 02 00 09"));
    let fx = h.effects();
    assert!(fx.acks.is_empty() && fx.events.is_empty());
    assert_eq!(h.core.status(), Status::Online);
}

#[test]
fn unacknowledged_publish_is_retransmitted_with_dup_after_a_reconnect() {
    let mut h = Harness::new(cfg());
    h.connect();
    h.submit(publish("a/b", b"hi", 1), Completion::None)
        .unwrap();
    assert_eq!(h.written(), hex("32 09 00 03 'a/b' 00 01 'hi'"));
    h.at(100);
    h.core.link_lost(
        Error::new(jobs_result::Network, "connection closed by the server"),
        h.now,
    );
    let io = h.io();
    assert!(io.close_link && !io.open_link);
    let fx = h.effects();
    assert_eq!(kinds(&fx), [EventKind::ConnectionLost]);
    assert!(fx.offline);
    assert_eq!(h.core.status(), Status::Connecting);
    // The first wait is the backoff base (1 s), without jitter.
    assert_eq!(h.core.next_deadline(), Some(h.ms(1100)));
    h.at(1099);
    h.timer();
    assert!(!h.io().open_link, "not before the backoff");
    h.at(1100);
    h.timer();
    h.come_up(true);
    // Session present: no resubscription, the publish again with DUP=1, same packet id.
    assert_eq!(h.written(), hex("3a 09 00 03 'a/b' 00 01 'hi'"));
    assert_eq!(
        h.core.counters().published,
        2,
        "retransmissions are counted"
    );
    assert_eq!(h.core.counters().reconnects, 1);
    let fx = h.effects();
    assert!(fx.online);
    h.feed(&hex("40 02 00 01"));
    assert_eq!(h.effects().acks.len(), 1);
}

#[test]
fn an_overdue_ack_triggers_a_probe_ping_and_a_dead_link_is_dropped() {
    let mut h = Harness::new(cfg());
    h.online_with_one_in_flight();
    // The ack check runs on a steady tick of the operation timeout.
    assert_eq!(h.core.next_deadline(), Some(h.ms(1000)));
    h.at(1000);
    h.timer();
    assert_eq!(h.written(), hex("c0 00"), "probe PINGREQ");
    assert_eq!(
        h.core.next_deadline(),
        Some(h.ms(2000)),
        "PINGRESP deadline"
    );
    h.at(2000);
    h.timer();
    let io = h.io();
    assert!(io.close_link);
    let fx = h.effects();
    assert_eq!(kinds(&fx), [EventKind::ConnectionLost]);
    assert_eq!(fx.events[0].result, jobs_result::Timeout);
    assert!(fx.acks.is_empty(), "the publish stays in flight");
    assert_eq!(h.core.counters().in_flight, 1);
}

#[test]
fn a_pingresp_keeps_the_link() {
    let mut h = Harness::new(cfg());
    h.online_with_one_in_flight();
    h.at(1000);
    h.timer();
    assert_eq!(h.written(), hex("c0 00"));
    h.at(1500);
    h.feed(&hex("d0 00"));
    h.at(1999);
    h.timer();
    assert!(h.written().is_empty(), "answered: no close, no probe yet");
    assert_eq!(h.core.status(), Status::Online);
    // The next probe comes an operation timeout after the last one, while the ack is overdue.
    h.at(2000);
    h.timer();
    assert_eq!(h.written(), hex("c0 00"));
}

#[test]
fn keep_alive_pings_an_idle_link() {
    let mut h = Harness::new(cfg());
    h.connect();
    for s in 1..60 {
        h.at(s * 1000);
        h.timer();
        assert!(
            h.written().is_empty(),
            "nothing before the keep-alive ({s} s)"
        );
    }
    assert_eq!(h.core.next_deadline(), Some(h.ms(60_000)));
    h.at(60_000);
    h.timer();
    assert_eq!(h.written(), hex("c0 00"));
    h.feed(&hex("d0 00"));
    // Sending resets the keep-alive: a publish at 70 s moves the next ping to 130 s.
    h.at(70_000);
    h.submit(publish("t", b"", 0), Completion::None).unwrap();
    h.written();
    for s in 71..130 {
        h.at(s * 1000);
        h.timer();
        assert!(h.written().is_empty());
    }
    h.at(130_000);
    h.timer();
    assert_eq!(h.written(), hex("c0 00"));
    assert_eq!(KEEP_ALIVE, Duration::from_secs(60));
}

#[test]
fn a_paused_reader_does_not_count_a_missing_pingresp() {
    let mut h = Harness::new(cfg());
    h.connect();
    h.at(60_000);
    h.timer();
    assert_eq!(h.written(), hex("c0 00"));
    h.core.set_read_paused(true, h.now);
    h.at(65_000);
    h.timer();
    assert!(
        !h.io().close_link,
        "the PINGRESP may be unread in the socket"
    );
    h.core.set_read_paused(false, h.now);
    assert_eq!(
        h.core.next_deadline(),
        Some(h.ms(66_000)),
        "a fresh allowance"
    );
    h.at(66_000);
    h.timer();
    assert!(h.io().close_link);
}

#[test]
fn subscribe_and_a_refused_resubscription() {
    let mut h = Harness::new(cfg());
    h.connect();
    let (done, _rx) = waiter();
    let sub = subscribe("a/#", 1);
    assert_eq!(
        h.submit(sub, done).unwrap(),
        Submitted::Sent { packet_id: 1 }
    );
    assert_eq!(h.written(), hex("82 08 00 01 00 03 'a/#' 01"));
    h.feed(&hex("90 03 00 01 01"));
    let fx = h.effects();
    let ack = fx.acks[0].1;
    assert_eq!((ack.result, ack.granted_qos), (jobs_result::Ok, 1));

    // Session lost: the subscription is re-made, before anything else, with a fresh id.
    h.core
        .link_lost(Error::new(jobs_result::Network, "gone"), h.now);
    h.io();
    h.at(1000);
    h.timer();
    h.come_up(false);
    assert_eq!(h.written(), hex("82 08 00 02 00 03 'a/#' 01"));
    assert_eq!(h.core.status(), Status::Resubscribing);
    // Connected already: a blocking connect now answers at once.
    let (tx, _r) = sync_channel(1);
    h.core.connect(Some(tx), h.now).unwrap();
    let answered = h.effects().connect_results;
    assert_eq!(answered.len(), 1);
    assert!(answered[0].1.is_ok());
    assert!(!h.io().open_link, "no second attempt");
    h.feed(&hex("90 03 00 02 80"));
    let fx = h.effects();
    assert_eq!(kinds(&fx), [EventKind::ResubscribeRefused]);
    assert_eq!(fx.events[0].topic, "a/#");
    assert!(
        fx.acks.is_empty(),
        "the core's own resubscription has no completion"
    );
    assert_eq!(h.core.status(), Status::Online);

    // Forgotten: the next lost session re-makes nothing.
    h.core
        .link_lost(Error::new(jobs_result::Network, "gone"), h.now);
    h.io();
    h.at(3000);
    h.timer();
    h.come_up(false);
    assert!(h.written().is_empty());
    assert_eq!(h.core.status(), Status::Online);
}

#[test]
fn a_refused_subscription_completes_with_subscribe_refused() {
    let mut h = Harness::new(cfg());
    h.connect();
    let sub = subscribe("x", 0);
    h.submit(sub, Completion::None).unwrap();
    assert_eq!(h.written(), hex("82 06 00 01 00 01 'x' 00"));
    h.feed(&hex("90 03 00 01 80"));
    let ack = h.effects().acks[0].1;
    assert_eq!(ack.result, jobs_result::SubscribeRefused);
    assert_eq!(ack.granted_qos, 0x80);
}

#[test]
fn unsubscribe_is_acknowledged_and_not_remade() {
    let mut h = Harness::new(cfg());
    h.connect();
    let sub = subscribe("a/#", 1);
    h.submit(sub, Completion::None).unwrap();
    h.written();
    h.feed(&hex("90 03 00 01 01"));
    h.effects();
    let unsub = Op::Unsubscribe {
        filter: "a/#".into(),
    };
    assert_eq!(
        h.submit(unsub, Completion::None).unwrap(),
        Submitted::Sent { packet_id: 2 }
    );
    assert_eq!(h.written(), hex("a2 07 00 02 00 03 'a/#'"));
    h.feed(&hex("b0 02 00 02"));
    assert_eq!(h.effects().acks[0].1, Ack::new(2, jobs_result::Ok));
    h.core
        .link_lost(Error::new(jobs_result::Network, "gone"), h.now);
    h.io();
    h.at(1000);
    h.timer();
    h.come_up(false);
    assert!(
        h.written().is_empty(),
        "no resubscription after unsubscribe"
    );
}

#[test]
fn persistent_session_keeps_subscriptions_and_clean_session_remakes_them() {
    let mut h = Harness::new(cfg());
    h.connect();
    for (i, f) in ["a", "b"].iter().enumerate() {
        let sub = subscribe(f, 1);
        h.submit(sub, Completion::None).unwrap();
        h.written();
        h.feed(&[0x90, 0x03, 0x00, i as u8 + 1, 0x01]);
    }
    h.submit(publish("p", b"1", 1), Completion::None).unwrap();
    h.written();
    h.core
        .link_lost(Error::new(jobs_result::Network, "gone"), h.now);
    h.io();
    h.at(1000);
    h.timer();
    h.come_up(true);
    assert_eq!(
        h.written(),
        hex("3a 06 00 01 'p' 00 03 '1'"),
        "session present: only the retransmission"
    );
    h.core
        .link_lost(Error::new(jobs_result::Network, "gone"), h.now);
    h.io();
    h.at(3000);
    h.timer();
    h.come_up(false);
    assert_eq!(
        h.written(),
        hex("82 06 00 04 00 01 'a' 01  82 06 00 05 00 01 'b' 01  3a 06 00 01 'p' 00 03 '1'"),
        "session lost: subscriptions first, then the retransmission"
    );
    assert_eq!(h.core.status(), Status::Resubscribing);
    h.feed(&hex("90 03 00 04 01  90 03 00 05 01"));
    assert_eq!(h.core.status(), Status::Online);
}

#[test]
fn unbounded_queue_holds_every_request_while_offline() {
    let mut h = Harness::new(cfg());
    for _ in 0..100 {
        assert_eq!(
            h.submit(publish("t", b"x", 1), Completion::None).unwrap(),
            Submitted::Queued
        );
    }
    assert_eq!(h.core.counters().queued, 100);
    assert!(h.io().write.is_empty(), "nothing written while offline");
}

#[test]
fn bounded_drop_oldest_queue_drops_the_oldest_with_an_event() {
    let mut h = Harness::new(ConnectionConfig {
        queue_limit: QueueLimit::Bounded(2),
        drop_policy: DropPolicy::DropOldest,
        ..cfg()
    });
    let (first, rx) = waiter();
    h.submit(publish("t/1", b"1", 1), first).unwrap();
    h.submit(publish("t/2", b"2", 1), Completion::None).unwrap();
    assert_eq!(
        h.submit(publish("t/3", b"3", 1), Completion::None).unwrap(),
        Submitted::Queued
    );
    let fx = h.effects();
    assert_eq!(kinds(&fx), [EventKind::RequestDropped]);
    assert_eq!(fx.events[0].topic, "t/1");
    let (c, ack) = fx.acks.into_iter().next().unwrap();
    assert_eq!(ack.result, jobs_result::Dropped);
    c.complete(ack);
    assert_eq!(rx.try_recv().unwrap().result, jobs_result::Dropped);
    assert_eq!(h.core.counters().dropped, 1);
    assert_eq!(h.core.counters().queued, 2);
    // What is left drains in order.
    h.connect_draining();
    assert_eq!(
        h.written(),
        hex("32 08 00 03 't/2' 00 01 '2'  32 08 00 03 't/3' 00 02 '3'")
    );
}

#[test]
fn bounded_drop_newest_queue_refuses_the_newest() {
    let mut h = Harness::new(ConnectionConfig {
        queue_limit: QueueLimit::Bounded(1),
        drop_policy: DropPolicy::DropNewest,
        ..cfg()
    });
    h.submit(publish("t/1", b"1", 1), Completion::None).unwrap();
    let e = h
        .submit(publish("t/2", b"2", 1), Completion::None)
        .unwrap_err();
    assert_eq!(e.code, jobs_result::QueueFull);
    assert!(
        h.effects().acks.is_empty(),
        "a refused request has no completion"
    );
    assert_eq!(h.core.counters().dropped, 1);
    assert_eq!(h.core.counters().queued, 1);
}

#[test]
fn disabled_queue_refuses_offline_requests() {
    let mut h = Harness::new(ConnectionConfig {
        queue_limit: QueueLimit::Disabled,
        ..cfg()
    });
    let e = h
        .submit(publish("t", b"1", 1), Completion::None)
        .unwrap_err();
    assert_eq!(e.code, jobs_result::QueueDisabled);
    assert_eq!(h.core.counters().queued, 0);
}

impl Harness {
    /// Connects with requests queued: draining starts at once.
    fn connect_draining(&mut self) {
        self.core.connect(None, self.now).unwrap();
        self.come_up(false);
        assert_eq!(self.core.status(), Status::Draining);
        assert_eq!(self.core.next_deadline(), Some(self.now));
        self.timer();
    }
}

#[test]
fn the_queue_drains_at_the_configured_rate_then_goes_online() {
    let mut h = Harness::new(ConnectionConfig {
        drain_rate_hz: 10.0,
        ..cfg()
    });
    for p in [b"1", b"2", b"3"] {
        h.submit(publish("t", p, 1), Completion::None).unwrap();
    }
    h.connect_draining();
    assert_eq!(h.written(), hex("32 06 00 01 't' 00 01 '1'"));
    assert_eq!(h.core.next_deadline(), Some(h.ms(100)));
    // A request made while draining is queued behind the others, in order.
    assert_eq!(
        h.submit(publish("t", b"4", 1), Completion::None).unwrap(),
        Submitted::Queued
    );
    h.at(99);
    h.timer();
    assert!(h.written().is_empty(), "not before 100 ms");
    h.at(100);
    h.timer();
    assert_eq!(h.written(), hex("32 06 00 01 't' 00 02 '2'"));
    h.at(200);
    h.timer();
    assert_eq!(h.written(), hex("32 06 00 01 't' 00 03 '3'"));
    assert_eq!(h.core.status(), Status::Draining);
    h.at(300);
    h.timer();
    assert_eq!(h.written(), hex("32 06 00 01 't' 00 04 '4'"));
    assert_eq!(h.core.status(), Status::Online);
    assert_eq!(
        h.submit(publish("t", b"5", 1), Completion::None).unwrap(),
        Submitted::Sent { packet_id: 5 }
    );
}

#[test]
fn without_a_draining_rate_the_queue_drains_at_once() {
    let mut h = Harness::new(cfg());
    for p in [b"1", b"2", b"3"] {
        h.submit(publish("t", p, 0), Completion::None).unwrap();
    }
    h.connect_draining();
    assert_eq!(
        h.written(),
        hex("30 04 00 01 't' '1'  30 04 00 01 't' '2'  30 04 00 01 't' '3'")
    );
    assert_eq!(h.core.status(), Status::Online);
}

#[test]
fn disconnect_waits_for_acks_in_flight_then_says_goodbye() {
    let mut h = Harness::new(cfg());
    h.connect();
    h.submit(publish("t", b"1", 1), Completion::None).unwrap();
    h.written();
    let (tx, rx) = sync_channel(1);
    h.core.disconnect(Some(tx), h.now).unwrap();
    assert!(
        h.written().is_empty(),
        "no DISCONNECT while an ack is on its way"
    );
    assert_eq!(h.core.status(), Status::Disconnected);
    assert_eq!(
        h.core.next_deadline(),
        Some(h.ms(1000)),
        "waits at most min(op, 2 s)"
    );
    // A request made now is queued for the next connect.
    assert_eq!(
        h.submit(publish("t", b"2", 1), Completion::None).unwrap(),
        Submitted::Queued
    );
    h.at(300);
    h.feed(&hex("40 02 00 01"));
    let io = h.io();
    assert_eq!(io.write.to_vec(), hex("e0 00"));
    assert!(io.close_link);
    let fx = h.effects();
    assert_eq!(fx.acks[0].1, Ack::new(1, jobs_result::Ok));
    assert_eq!(fx.disconnected.len(), 1);
    assert!(fx.offline);
    for w in fx.disconnected {
        w.try_send(()).unwrap();
    }
    assert!(rx.try_recv().is_ok());
    assert_eq!(h.core.counters().in_flight, 0);
    assert_eq!(
        h.core.next_deadline(),
        None,
        "no reconnect after a user disconnect"
    );
}

#[test]
fn disconnect_gives_up_waiting_for_acks_at_its_deadline() {
    let mut h = Harness::new(cfg());
    h.connect();
    h.submit(publish("t", b"1", 1), Completion::None).unwrap();
    h.written();
    h.core.disconnect(None, h.now).unwrap();
    h.at(1000);
    h.timer();
    let io = h.io();
    assert_eq!(io.write.to_vec(), hex("e0 00"));
    assert!(io.close_link);
    assert_eq!(h.core.counters().in_flight, 1, "kept for the next connect");
    // Reconnected: retransmitted with DUP=1.
    h.core.connect(None, h.now).unwrap();
    h.come_up(true);
    assert_eq!(h.written(), hex("3a 06 00 01 't' 00 01 '1'"));
}

#[test]
fn disconnect_with_nothing_in_flight_says_goodbye_at_once() {
    let mut h = Harness::new(cfg());
    h.connect();
    h.core.disconnect(None, h.now).unwrap();
    let io = h.io();
    assert_eq!(io.write.to_vec(), hex("e0 00"));
    assert!(io.close_link);
    assert_eq!(h.core.status(), Status::Disconnected);
}

#[test]
fn a_disconnect_and_a_connect_in_one_batch_close_then_reopen() {
    let mut h = Harness::new(cfg());
    h.connect();
    h.core.disconnect(None, h.now).unwrap();
    h.core.connect(None, h.now).unwrap();
    let io = h.io();
    assert_eq!(io.write.to_vec(), hex("e0 00"));
    assert!(io.close_link && io.open_link);
    // Abandoned before the driver started it: the attempt never starts.
    h.core.disconnect(None, h.now).unwrap();
    h.core.connect(None, h.now).unwrap();
    h.core.disconnect(None, h.now).unwrap();
    let io = h.io();
    assert!(!io.open_link && io.close_link);
    assert_eq!(h.core.status(), Status::Disconnected);
}

#[test]
fn a_refused_connack_fails_a_blocking_connect_without_retrying() {
    let mut h = Harness::new(cfg());
    let (tx, rx) = sync_channel(1);
    h.core.connect(Some(tx), h.now).unwrap();
    h.io();
    h.core.link_opened(h.now);
    h.written();
    h.feed(&hex("20 02 00 05"));
    assert!(h.io().close_link);
    let fx = h.effects();
    assert_eq!(kinds(&fx), [EventKind::ConnectFailed]);
    for (w, r) in fx.connect_results {
        w.try_send(r).unwrap();
    }
    let e = rx.try_recv().unwrap().unwrap_err();
    assert_eq!(e.code, jobs_result::ConnectRefused);
    assert!(e.message.contains("not authorized"), "{}", e.message);
    assert_eq!(h.core.status(), Status::Disconnected);
    assert_eq!(h.core.next_deadline(), None);
}

#[test]
fn connect_async_retries_with_backoff_after_a_failure() {
    let mut h = Harness::new(cfg());
    h.core.connect(None, h.now).unwrap();
    h.io();
    h.core
        .link_open_failed(Error::new(jobs_result::Network, "refused"), h.now);
    assert_eq!(kinds(&h.effects()), [EventKind::ConnectFailed]);
    assert_eq!(h.core.status(), Status::Connecting);
    assert_eq!(h.core.next_deadline(), Some(h.ms(1000)));
    h.at(1000);
    h.timer();
    assert!(h.io().open_link);
    h.core
        .link_open_failed(Error::new(jobs_result::Network, "refused"), h.now);
    assert_eq!(h.core.next_deadline(), Some(h.ms(3000)), "the wait doubles");
}

#[test]
fn no_connack_within_the_connect_timeout_fails_the_attempt() {
    let mut h = Harness::new(cfg());
    h.core.connect(None, h.now).unwrap();
    h.io();
    h.core.link_opened(h.now);
    h.written();
    h.at(5000);
    h.timer();
    assert!(h.io().close_link);
    let fx = h.effects();
    assert_eq!(fx.events[0].result, jobs_result::Timeout);
    assert_eq!(h.core.status(), Status::Connecting, "retrying");
}

#[test]
fn a_connack_of_the_wrong_length_is_a_protocol_error() {
    let mut h = Harness::new(cfg());
    h.core.connect(None, h.now).unwrap();
    h.io();
    h.core.link_opened(h.now);
    h.written();
    h.feed(&hex("20 03 00 00 00"));
    assert!(h.io().close_link);
    let fx = h.effects();
    assert_eq!(fx.events[0].kind, EventKind::ConnectFailed);
    assert_eq!(fx.events[0].result, jobs_result::Protocol);
    assert!(fx.events[0].message.contains("remaining length 3"));
    assert_ne!(h.core.status(), Status::Online);
}

#[test]
fn incoming_qos1_publish_is_acked_and_routed() {
    let mut h = Harness::new(cfg());
    h.connect();
    h.feed(&hex("32 09 00 03 'a/b' 00 07 'hi'"));
    assert_eq!(h.written(), hex("40 02 00 07"));
    let fx = h.effects();
    assert_eq!(fx.messages.len(), 1);
    assert_eq!(&*fx.messages[0].0.topic, "a/b");
    assert_eq!(&fx.messages[0].0.payload[..], b"hi");
    assert_eq!(h.core.counters().received, 1);
}

#[test]
fn a_server_publish_with_a_nul_or_a_wildcard_in_its_topic_closes_the_link() {
    for topic in [
        &b"$aws/things/dev1/jobs/notify-next\0/evil"[..],
        b"a/+",
        b"a/#",
    ] {
        let mut h = Harness::new(cfg());
        h.connect();
        let mut p = vec![0x30, (2 + topic.len() + 2) as u8, 0, topic.len() as u8];
        p.extend_from_slice(topic);
        p.extend_from_slice(b"{}");
        h.feed(&p);
        let io = h.io();
        assert!(io.close_link, "{topic:?}");
        let fx = h.effects();
        assert!(fx.messages.is_empty(), "never delivered: {topic:?}");
        assert_eq!(
            kinds(&fx),
            [EventKind::ProtocolError, EventKind::ConnectionLost]
        );
        assert_eq!(fx.events[0].result, jobs_result::Protocol);
        assert_eq!(h.core.status(), Status::Connecting);
    }
}

#[test]
fn a_qos2_publish_or_an_unexpected_packet_closes_the_link() {
    for bytes in [
        hex("34 06 00 01 't' 00 01 'x'"),
        hex("20 02 00 00"),
        hex("82 06 00 01 00 01 't' 00"),
    ] {
        let mut h = Harness::new(cfg());
        h.connect();
        h.feed(&bytes);
        assert!(h.io().close_link, "{bytes:02x?}");
        assert_eq!(kinds(&h.effects())[0], EventKind::ProtocolError);
    }
}

#[test]
fn an_oversized_packet_closes_the_link() {
    let mut h = Harness::new(ConnectionConfig {
        max_packet_size: 16,
        ..cfg()
    });
    h.connect();
    h.feed(&hex("30 20"));
    assert!(h.io().close_link);
    let fx = h.effects();
    assert!(
        fx.events[0].message.contains("exceeds"),
        "{}",
        fx.events[0].message
    );
}

#[test]
fn packets_split_across_reads_are_reassembled() {
    let mut h = Harness::new(cfg());
    h.connect();
    let whole = hex("30 07 00 03 'a/b' 'hi'  30 07 00 03 'a/b' 'ho'");
    let mut buf = BytesMut::new();
    for byte in whole {
        buf.extend_from_slice(&[byte]);
        h.core.bytes_received(&mut buf, h.now);
    }
    assert!(buf.is_empty());
    assert_eq!(h.effects().messages.len(), 2);
}

#[test]
fn shutdown_completes_everything_with_closed_and_reports_closed() {
    let mut h = Harness::new(cfg());
    h.connect();
    h.submit(publish("t", b"1", 1), Completion::None).unwrap();
    h.written();
    h.core.disconnect(None, h.now).unwrap();
    h.submit(publish("t", b"2", 1), Completion::None).unwrap();
    h.core.shutdown(h.now);
    assert_eq!(h.core.status(), Status::Closed);
    let io = h.io();
    assert_eq!(io.write.to_vec(), hex("e0 00"));
    assert!(io.close_link && io.finished);
    let fx = h.effects();
    let results: Vec<_> = fx
        .acks
        .iter()
        .map(|(_, a)| (a.packet_id, a.result))
        .collect();
    assert_eq!(
        results,
        [(1, jobs_result::Closed), (0, jobs_result::Closed)]
    );
    let e = h
        .submit(publish("t", b"3", 1), Completion::None)
        .unwrap_err();
    assert_eq!(e.code, jobs_result::Closed);
    assert_eq!(
        h.core.connect(None, h.now).unwrap_err().code,
        jobs_result::Closed
    );
}

#[test]
fn packet_ids_in_flight_are_never_reused() {
    let mut h = Harness::new(cfg());
    h.connect();
    for expected in 1..=3u16 {
        assert_eq!(
            h.submit(publish("t", b"", 1), Completion::None).unwrap(),
            Submitted::Sent {
                packet_id: expected
            }
        );
    }
    h.feed(&hex("40 02 00 02"));
    // 2 is free again; the allocator moves on rather than reusing at once.
    let next = h.submit(publish("t", b"", 1), Completion::None).unwrap();
    assert!(matches!(next, Submitted::Sent { packet_id } if packet_id != 1 && packet_id != 3));
}

#[test]
fn debug_logging_names_each_packet_in_and_out_without_payloads() {
    let mut h = Harness::new(cfg());
    h.core = Core::new(&cfg(), 7, true);
    h.connect();
    h.submit(publish("a/b", b"secret", 1), Completion::None)
        .unwrap();
    h.feed(&hex("40 02 00 01"));
    let logs: Vec<String> = h.effects().logs.into_iter().map(|(_, m)| m).collect();
    assert!(
        logs.iter()
            .any(|l| l.starts_with("out: PUBLISH id 1") && l.contains("'a/b'")),
        "{logs:?}"
    );
    assert!(logs.iter().any(|l| l == "in: PUBACK id 1"), "{logs:?}");
    assert!(logs.iter().all(|l| !l.contains("secret")));
}

#[test]
fn a_queued_request_past_its_expiry_is_never_sent_and_times_out() {
    let mut h = Harness::new(cfg());
    let (expiring, rx) = waiter();
    let mut read = Request::new(publish("t/read", b"r", 1), expiring);
    read.expires_at = Some(h.ms(500));
    h.core.submit(read, h.now).unwrap();
    h.submit(publish("t/update", b"u", 1), Completion::None)
        .unwrap();
    h.at(600);
    h.connect_draining();
    assert_eq!(
        h.written(),
        hex("32 0d 00 08 't/update' 00 01 'u'"),
        "only the request that has not expired"
    );
    let fx = h.effects();
    let (c, ack) = fx.acks.into_iter().next().unwrap();
    assert_eq!(ack, Ack::new(0, jobs_result::Timeout));
    c.complete(ack);
    assert_eq!(rx.try_recv().unwrap().result, jobs_result::Timeout);
    assert_eq!(h.core.status(), Status::Online);
}

#[test]
fn the_librarys_own_subscription_leaves_messages_to_the_fallback_routes() {
    let mut h = Harness::new(cfg());
    h.connect();
    let noop: Arc<dyn Fn(&Message) + Send + Sync> = Arc::new(|_| {});
    let own = Op::Subscribe {
        filter: "r/+".into(),
        qos: 1,
        handler: Some(Handler::on_io_thread(noop.clone())),
    };
    h.submit(own, Completion::None).unwrap();
    h.written();
    h.core.add_route(
        "r/".into(),
        Handler::callback(&crate::runtime::Gate::new(), noop.clone()),
    );
    h.feed(&hex("30 05 00 03 'r/x'"));
    let fx = h.effects();
    assert_eq!(
        fx.messages[0].1.len(),
        2,
        "the library's handler and the fallback route"
    );
    // A user subscription takes the message from the fallback.
    let user = Op::Subscribe {
        filter: "r/#".into(),
        qos: 1,
        handler: Some(Handler::callback(&crate::runtime::Gate::new(), noop)),
    };
    h.submit(user, Completion::None).unwrap();
    h.written();
    h.feed(&hex("30 05 00 03 'r/x'"));
    let fx = h.effects();
    let kinds: Vec<bool> = fx.messages[0]
        .1
        .iter()
        .map(|h| matches!(h.runs, Runs::IoThread))
        .collect();
    assert_eq!(
        kinds,
        [true, false],
        "the library's and the user's, no fallback"
    );
}

#[test]
fn resubscriptions_are_not_counted_as_the_users_requests_in_flight() {
    // Found by the session-core fuzz target: after a clean-session reconnect the core re-sends
    // the acknowledged subscription itself, and the in-flight counter counted it as a request.
    let mut h = Harness::new(ConnectionConfig {
        clean_session: true,
        ..cfg()
    });
    h.core.connect(None, h.now).unwrap();
    h.come_up(false);
    h.io();
    let mut open = Vec::new();
    for op in [
        publish("a/b", b"q1", 1),
        subscribe("a/#", 1),
        subscribe("$aws/things/t/jobs/#", 1),
    ] {
        let (c, rx) = waiter();
        h.submit(op, c).unwrap();
        open.push(rx);
    }
    h.feed(&hex("90 03 00 03 01"));
    h.io();
    assert_eq!(h.core.counters().in_flight, 2);
    h.core
        .link_lost(Error::new(jobs_result::Network, "cut"), h.now);
    h.io();
    h.now = h.core.next_deadline().expect("a reconnect is due");
    h.timer();
    h.come_up(false);
    let out = h.written();
    // The acknowledged filter is resubscribed by the core (packet id 4), the rest re-sent.
    assert_eq!(
        &out[..4],
        &hex("82 19 00 04")[..],
        "the resubscription first: {out:02x?}"
    );
    assert_eq!(
        h.core.counters().in_flight,
        2,
        "the user's two requests only"
    );
    h.feed(&hex("90 03 00 04 01"));
    assert_eq!(h.core.counters().in_flight, 2);
}
