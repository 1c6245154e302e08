//! MQTT server behaviour and fault injection, driven by a raw codec client.
mod common;

use std::time::{Duration, Instant};

use common::Raw;
use iotjobs_emulator::{Dir, Emulator, EmulatorConfig, Packet};
use rumqttc::mqttbytes::v4::{Connect, ConnectReturnCode, PubAck, Publish, SubscribeReasonCode};
use rumqttc::mqttbytes::QoS;

const T: Duration = Duration::from_secs(3);

fn emu() -> Emulator {
    Emulator::start(EmulatorConfig::default()).unwrap()
}

#[test]
fn pubsub_qos0_qos1_and_records() {
    let e = emu();
    let mut sub = Raw::connect(e.mqtt_addr(), "sub");
    let mut pubr = Raw::connect(e.mqtt_addr(), "pub");
    assert_eq!(
        sub.subscribe("a/+/c", QoS::AtLeastOnce),
        vec![SubscribeReasonCode::Success(QoS::AtLeastOnce)]
    );
    pubr.publish("a/b/c", b"one", QoS::AtLeastOnce);
    match pubr.recv() {
        Packet::PubAck(a) => assert_eq!(a.pkid, 1),
        p => panic!("{p:?}"),
    }
    let p = sub.next_publish(T).unwrap();
    assert_eq!(
        (p.topic.as_str(), &p.payload[..], p.qos),
        ("a/b/c", &b"one"[..], QoS::AtLeastOnce)
    );
    pubr.publish("a/b/c", b"two", QoS::AtMostOnce);
    let p = sub.next_publish(T).unwrap();
    assert_eq!(p.qos, QoS::AtMostOnce);
    pubr.publish("a/b/x", b"no", QoS::AtMostOnce);
    assert!(sub.next_publish(Duration::from_millis(200)).is_none());
    assert_eq!(
        e.connected_clients(),
        vec!["pub".to_string(), "sub".to_string()]
    );
    // the PUBACK from sub for the QoS 1 delivery is recorded as In
    assert!(e.wait_for(T, |r| r.iter().any(|r| r.client_id == "sub"
        && r.dir == Dir::In
        && matches!(r.packet, Packet::PubAck(_)))));
    let recs = e.records();
    assert!(matches!(recs[0].packet, Packet::Connect(_)) && recs[0].dir == Dir::In);
    assert!(matches!(recs[1].packet, Packet::ConnAck(_)) && recs[1].dir == Dir::Out);
    e.clear_records();
    assert!(e.records().is_empty());
}

#[test]
fn dollar_topics_and_wildcards() {
    let e = emu();
    let mut sub = Raw::connect(e.mqtt_addr(), "sub");
    assert_eq!(
        sub.subscribe("#", QoS::AtMostOnce),
        vec![SubscribeReasonCode::Success(QoS::AtMostOnce)]
    );
    e.publish("$aws/things/t/jobs/notify", b"{}", 0);
    assert!(sub.next_publish(Duration::from_millis(200)).is_none());
    e.publish("x/y", b"1", 1);
    let p = sub.next_publish(T).unwrap();
    assert_eq!(p.qos, QoS::AtMostOnce, "downgraded to the subscription QoS");
    sub.subscribe("$aws/things/+/jobs/notify", QoS::AtLeastOnce);
    e.publish("$aws/things/t/jobs/notify", b"{}", 1);
    assert_eq!(
        sub.next_publish(T).unwrap().topic,
        "$aws/things/t/jobs/notify"
    );
}

#[test]
fn qos2_refused_as_aws() {
    let e = emu();
    let mut c = Raw::connect(e.mqtt_addr(), "c");
    assert_eq!(
        c.subscribe("a", QoS::ExactlyOnce),
        vec![SubscribeReasonCode::Failure]
    );
    c.publish("a", b"x", QoS::ExactlyOnce);
    assert!(c.closed_within(T));
}

#[test]
fn limits_and_reserved_topics() {
    let e = emu();
    let mut c = Raw::connect(e.mqtt_addr(), "c");
    assert_eq!(
        c.subscribe("1/2/3/4/5/6/7/8/9", QoS::AtMostOnce),
        vec![SubscribeReasonCode::Failure]
    );
    assert_eq!(
        c.subscribe("a/#/b", QoS::AtMostOnce),
        vec![SubscribeReasonCode::Failure]
    );
    c.publish("1/2/3/4/5/6/7/8/9", b"x", QoS::AtMostOnce);
    assert!(c.closed_within(T), "too deep topic closes");
    let mut c = Raw::connect(e.mqtt_addr(), "c");
    c.publish("$aws/things/t/shadow/update", b"{}", QoS::AtMostOnce);
    assert!(c.closed_within(T), "reserved topic closes");
    let mut c = Raw::connect(e.mqtt_addr(), "c");
    c.publish("big", &vec![0u8; 128 * 1024], QoS::AtLeastOnce);
    assert!(
        matches!(c.recv(), Packet::PubAck(_)),
        "exactly 128 KiB is fine"
    );
    c.publish("big", &vec![0u8; 128 * 1024 + 1], QoS::AtLeastOnce);
    assert!(c.closed_within(T), "over 128 KiB closes");
}

#[test]
fn takeover_closes_the_older_connection() {
    let e = emu();
    let mut a = Raw::connect(e.mqtt_addr(), "same");
    let _b = Raw::connect(e.mqtt_addr(), "same");
    assert!(a.closed_within(T));
    assert_eq!(e.connected_clients(), vec!["same".to_string()]);
}

#[test]
fn keepalive_enforced_at_one_and_a_half() {
    let e = emu();
    let mut c = Connect::new("ka");
    c.keep_alive = 1;
    let (mut r, _) = Raw::connect_with(e.mqtt_addr(), c);
    let t0 = Instant::now();
    assert!(r.closed_within(Duration::from_secs(6)));
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(1400) && took < Duration::from_millis(4500),
        "{took:?}"
    );
    // pings keep it alive
    let mut c = Connect::new("ka2");
    c.keep_alive = 1;
    let (mut r, _) = Raw::connect_with(e.mqtt_addr(), c);
    for _ in 0..4 {
        std::thread::sleep(Duration::from_millis(700));
        r.send(Packet::PingReq);
        assert!(matches!(r.recv(), Packet::PingResp));
    }
}

#[test]
fn empty_client_id() {
    let e = emu();
    let (mut r, a) = Raw::connect_with(e.mqtt_addr(), Connect::new(""));
    assert_eq!(a.code, ConnectReturnCode::Success);
    let ids = e.connected_clients();
    assert_eq!(ids.len(), 1);
    assert!(ids[0].starts_with("iotjobs-emu-"));
    r.send(Packet::Disconnect);
    let mut c = Connect::new("");
    c.clean_session = false;
    let (_r, a) = Raw::connect_with(e.mqtt_addr(), c);
    assert_eq!(a.code, ConnectReturnCode::BadClientId);
}

#[test]
fn persistent_session_keeps_subscriptions_and_queues_qos1() {
    let e = emu();
    let mut c = Connect::new("p");
    c.clean_session = false;
    let (mut r, a) = Raw::connect_with(e.mqtt_addr(), c.clone());
    assert!(!a.session_present);
    r.subscribe("q/#", QoS::AtLeastOnce);
    drop(r);
    assert!(e.wait_for(T, |_| true));
    let t0 = Instant::now();
    while !e.connected_clients().is_empty() && t0.elapsed() < T {
        std::thread::sleep(Duration::from_millis(10));
    }
    e.publish("q/1", b"while away", 1);
    e.publish("q/2", b"qos0 dropped", 0);
    let (mut r, a) = Raw::connect_with(e.mqtt_addr(), c.clone());
    assert!(a.session_present);
    let p = r.next_publish(T).unwrap();
    assert_eq!(&p.payload[..], b"while away");
    assert!(r.next_publish(Duration::from_millis(200)).is_none());
    // an unacked delivery is resent with DUP=1 on the next resume
    e.publish("q/3", b"unacked", 1);
    match r.recv() {
        Packet::Publish(p) => assert!(!p.dup),
        p => panic!("{p:?}"),
    }
    drop(r);
    std::thread::sleep(Duration::from_millis(100));
    let (mut r, a) = Raw::connect_with(e.mqtt_addr(), c.clone());
    assert!(a.session_present);
    match r.recv() {
        Packet::Publish(p) => assert!(p.dup && &p.payload[..] == b"unacked"),
        p => panic!("{p:?}"),
    }
    // clean session discards it
    let mut c2 = c.clone();
    c2.clean_session = true;
    let (_r, a) = Raw::connect_with(e.mqtt_addr(), c2);
    assert!(!a.session_present);
    assert!(e.subscriptions("p").is_empty());
}

#[test]
fn mqtt31_connect_is_accepted() {
    let e = emu();
    let mut r = Raw::tcp(e.mqtt_addr());
    let body: Vec<u8> = [&[0, 6][..], b"MQIsdp", &[3, 0x02, 0, 60, 0, 4], b"v31c"].concat();
    let mut v = vec![0x10, body.len() as u8];
    v.extend(body);
    r.send_raw(&v);
    match r.recv() {
        Packet::ConnAck(a) => {
            assert_eq!(a.code, ConnectReturnCode::Success);
            assert!(!a.session_present);
        }
        p => panic!("{p:?}"),
    }
    assert_eq!(e.client_protocol_level("v31c"), Some(3));
    // unknown protocol level: CONNACK 1
    let mut r = Raw::tcp(e.mqtt_addr());
    let body: Vec<u8> = [&[0, 4][..], b"MQTT", &[7, 0x02, 0, 60, 0, 1], b"x"].concat();
    let mut v = vec![0x10, body.len() as u8];
    v.extend(body);
    r.send_raw(&v);
    match r.recv() {
        Packet::ConnAck(a) => assert_eq!(a.code, ConnectReturnCode::RefusedProtocolVersion),
        p => panic!("{p:?}"),
    }
}

#[test]
fn malformed_input_closes_cleanly() {
    let e = emu();
    let mut r = Raw::tcp(e.mqtt_addr());
    r.send_raw(&[0x30, 0x00]);
    assert!(r.closed_within(T), "PUBLISH before CONNECT");
    let mut r = Raw::connect(e.mqtt_addr(), "m");
    r.send_raw(&[0x32, 0x03, 0x00, 0x09, 0x41]); // topic length crosses the packet end
    assert!(r.closed_within(T));
    let mut r = Raw::connect(e.mqtt_addr(), "m2");
    r.send_raw(&[0xf0, 0x00]); // reserved packet type 15
    assert!(r.closed_within(T));
    let mut r = Raw::connect(e.mqtt_addr(), "m3");
    r.send_raw(&[0x82, 0x02, 0x00, 0x01]); // SUBSCRIBE with no filter
    assert!(r.closed_within(T));
    // the server still works
    let _ok = Raw::connect(e.mqtt_addr(), "fine");
}

#[test]
fn dup_publish_is_recorded_with_the_flag() {
    let e = emu();
    let mut r = Raw::connect(e.mqtt_addr(), "d");
    let mut p = Publish::new("t/1", QoS::AtLeastOnce, b"x".to_vec());
    p.pkid = 7;
    p.dup = true;
    r.send(Packet::Publish(p));
    assert!(matches!(r.recv(), Packet::PubAck(PubAck { pkid: 7, .. })));
    assert!(e.records().iter().any(
        |r| matches!(&r.packet, Packet::Publish(p) if p.dup && p.pkid == 7) && r.dir == Dir::In
    ));
}

#[test]
fn fault_refuse_connack_and_suback() {
    let e = emu();
    e.refuse_connack(5, 2);
    for _ in 0..2 {
        let (mut r, a) = Raw::connect_with(e.mqtt_addr(), Connect::new("f"));
        assert_eq!(a.code, ConnectReturnCode::NotAuthorized);
        assert!(r.closed_within(T));
    }
    let mut r = Raw::connect(e.mqtt_addr(), "f");
    e.refuse_suback("a/b", 1);
    assert_eq!(
        r.subscribe("a/b", QoS::AtLeastOnce),
        vec![SubscribeReasonCode::Failure]
    );
    assert_eq!(
        r.subscribe("a/b", QoS::AtLeastOnce),
        vec![SubscribeReasonCode::Success(QoS::AtLeastOnce)]
    );
}

#[test]
fn fault_cut_blackhole_drop_delay() {
    let e = emu();
    let mut a = Raw::connect(e.mqtt_addr(), "a");
    assert!(e.cut("a"));
    assert!(a.closed_within(T));
    assert!(!e.cut("nobody"));

    let mut b = Raw::connect(e.mqtt_addr(), "b");
    b.subscribe("x", QoS::AtMostOnce);
    assert!(e.blackhole("b"));
    b.send(Packet::PingReq);
    e.publish("x", b"1", 0);
    assert!(
        matches!(b.recv_within(Duration::from_millis(300)), Ok(None)),
        "silence, socket open"
    );

    let mut c = Raw::connect(e.mqtt_addr(), "c");
    e.drop_pubacks(1);
    c.publish("y", b"1", QoS::AtLeastOnce);
    assert!(matches!(
        c.recv_within(Duration::from_millis(300)),
        Ok(None)
    ));
    c.publish("y", b"2", QoS::AtLeastOnce);
    assert!(matches!(c.recv(), Packet::PubAck(_)));

    e.set_reply_delay(Duration::from_millis(300));
    let t0 = Instant::now();
    c.publish("y", b"3", QoS::AtLeastOnce);
    assert!(matches!(c.recv(), Packet::PubAck(_)));
    assert!(t0.elapsed() >= Duration::from_millis(280));
    e.set_reply_delay(Duration::ZERO);
    e.cut_all();
    assert!(c.closed_within(T));
}

#[test]
fn restart_listener_rebinds_same_port() {
    let e = emu();
    let addr = e.mqtt_addr();
    let mut a = Raw::connect(addr, "a");
    e.restart_listener(Duration::from_millis(1500));
    assert!(a.closed_within(T));
    assert!(std::net::TcpStream::connect(addr).is_err(), "down");
    let t0 = Instant::now();
    loop {
        if std::net::TcpStream::connect(addr).is_ok() {
            break;
        }
        assert!(t0.elapsed() < T, "never came back");
        std::thread::sleep(Duration::from_millis(20));
    }
    let _a = Raw::connect(addr, "a");
}

#[test]
fn will_is_published_on_abrupt_close() {
    let e = emu();
    let mut w = Raw::connect(e.mqtt_addr(), "watcher");
    w.subscribe("wills/#", QoS::AtLeastOnce);
    let mut c = Connect::new("dying");
    c.last_will = Some(rumqttc::mqttbytes::v4::LastWill::new(
        "wills/dying",
        "gone",
        QoS::AtLeastOnce,
        false,
    ));
    let (_r, _) = Raw::connect_with(e.mqtt_addr(), c);
    e.cut("dying");
    assert_eq!(&w.next_publish(T).unwrap().payload[..], b"gone");
}

#[test]
fn drop_stops_the_server() {
    let e = emu();
    let addr = e.mqtt_addr();
    let mut c = Raw::connect(addr, "c");
    drop(e);
    assert!(c.closed_within(T));
    assert!(std::net::TcpStream::connect(addr).is_err());
}

#[test]
fn persistent_sessions_expire_or_can_be_dropped() {
    let e = Emulator::start(EmulatorConfig {
        session_expiry: Duration::from_millis(1000),
        ..Default::default()
    })
    .unwrap();
    let mut c = Connect::new("exp");
    c.clean_session = false;
    let (mut r, _) = Raw::connect_with(e.mqtt_addr(), c.clone());
    r.subscribe("x", QoS::AtLeastOnce);
    drop(r);
    std::thread::sleep(Duration::from_millis(100));
    let (r, a) = Raw::connect_with(e.mqtt_addr(), c.clone());
    assert!(a.session_present, "within the expiry");
    drop(r);
    std::thread::sleep(Duration::from_millis(1600));
    let (mut r, a) = Raw::connect_with(e.mqtt_addr(), c.clone());
    assert!(!a.session_present, "expired");
    assert!(e.subscriptions("exp").is_empty());
    r.subscribe("x", QoS::AtLeastOnce);
    assert!(e.drop_session("exp"));
    assert!(r.closed_within(T));
    let (_r, a) = Raw::connect_with(e.mqtt_addr(), c);
    assert!(!a.session_present, "dropped");
    assert!(!e.drop_session("nobody"));
}

#[test]
fn outbound_qos1_window_is_100_like_aws() {
    let e = emu();
    let mut c = Raw::connect(e.mqtt_addr(), "slow");
    c.subscribe("w", QoS::AtLeastOnce);
    for i in 0..130u32 {
        e.publish("w", &i.to_be_bytes(), 1);
    }
    // read without acking: exactly 100 arrive
    let mut got = Vec::new();
    while let Ok(Some(p)) = c.recv_within(Duration::from_millis(300)) {
        if let Packet::Publish(p) = p {
            got.push(p);
        }
    }
    assert_eq!(got.len(), 100);
    // acking releases the rest, in order
    for p in &got {
        c.send(Packet::PubAck(PubAck::new(p.pkid)));
    }
    let mut rest = Vec::new();
    while let Some(p) = c.next_publish(Duration::from_millis(300)) {
        rest.push(u32::from_be_bytes(p.payload[..].try_into().unwrap()));
    }
    assert_eq!(rest, (100..130).collect::<Vec<_>>());
}

#[test]
fn cut_works_even_when_the_client_does_not_read() {
    let e = emu();
    let mut c = Raw::connect(e.mqtt_addr(), "deaf");
    c.subscribe("flood", QoS::AtMostOnce);
    let chunk = vec![7u8; 100 * 1024];
    for _ in 0..300 {
        e.publish("flood", &chunk, 0); // ~30 MB the client never reads: the writer blocks
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(e.cut("deaf"));
    let t0 = Instant::now();
    while !e.connected_clients().is_empty() {
        assert!(
            t0.elapsed() < Duration::from_secs(3),
            "cut did not take effect"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    drop(c);
}
