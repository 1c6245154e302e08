//! The Jobs service over MQTT: replies to the requester only, notifications, timers, faults.
mod common;

use std::time::Duration;

use common::Raw;
use iotjobs_emulator::{Emulator, EmulatorConfig};
use rumqttc::mqttbytes::QoS;
use serde_json::{json, Value};

const T: Duration = Duration::from_secs(3);

fn json_of(p: &rumqttc::mqttbytes::v4::Publish) -> Value {
    serde_json::from_slice(&p.payload).unwrap()
}

#[test]
fn replies_go_to_the_requester_only_even_without_subscription() {
    let e = Emulator::start(EmulatorConfig::default()).unwrap();
    e.create_job("job1", json!({"operation": "test"}), &["dev1"])
        .unwrap();
    let mut dev = Raw::connect(e.mqtt_addr(), "dev1-client");
    let mut spy = Raw::connect(e.mqtt_addr(), "spy");
    spy.subscribe("$aws/things/dev1/jobs/#", QoS::AtLeastOnce);
    dev.publish(
        "$aws/things/dev1/jobs/start-next",
        br#"{"clientToken":"c"}"#,
        QoS::AtLeastOnce,
    );
    let p = dev.next_publish(T).unwrap();
    assert_eq!(p.topic, "$aws/things/dev1/jobs/start-next/accepted");
    assert_eq!(p.qos, QoS::AtMostOnce, "no subscription: QoS 0");
    let v = json_of(&p);
    assert_eq!(v["execution"]["jobId"], "job1");
    assert_eq!(v["execution"]["jobDocument"], json!({"operation": "test"}));
    assert_eq!(v["clientToken"], "c");
    // the spy sees the notify (status change) but neither the request nor the reply
    let p = spy.next_publish(T).unwrap();
    assert_eq!(p.topic, "$aws/things/dev1/jobs/notify");
    assert!(spy.next_publish(Duration::from_millis(300)).is_none());
    // with a QoS 1 subscription the reply comes at QoS 1
    dev.subscribe("$aws/things/dev1/jobs/+/update/+", QoS::AtLeastOnce);
    dev.publish(
        "$aws/things/dev1/jobs/job1/update",
        br#"{"status":"SUCCEEDED","expectedVersion":"2"}"#,
        QoS::AtLeastOnce,
    );
    let p = dev.next_publish(T).unwrap();
    assert_eq!(p.topic, "$aws/things/dev1/jobs/job1/update/accepted");
    assert_eq!(p.qos, QoS::AtLeastOnce);
    assert_eq!(
        e.describe_execution("job1", "dev1").unwrap()["status"],
        "SUCCEEDED"
    );
    let all = e.list_executions();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0]["thingName"], "dev1");
}

#[test]
fn notify_next_flow_and_control_plane() {
    let e = Emulator::start(EmulatorConfig::default()).unwrap();
    let mut dev = Raw::connect(e.mqtt_addr(), "dev1");
    dev.subscribe("$aws/things/dev1/jobs/notify-next", QoS::AtLeastOnce);
    e.create_job("a", json!({"n": 1}), &["dev1"]).unwrap();
    let p = dev.next_publish(T).unwrap();
    assert_eq!(json_of(&p)["execution"]["jobId"], "a");
    e.create_job("b", json!({"n": 2}), &["dev1"]).unwrap();
    assert!(
        dev.next_publish(Duration::from_millis(200)).is_none(),
        "head unchanged"
    );
    e.cancel_execution("a", "dev1", false).unwrap();
    assert_eq!(
        json_of(&dev.next_publish(T).unwrap())["execution"]["jobId"],
        "b"
    );
    e.remove_thing("b", "dev1").unwrap();
    let v = json_of(&dev.next_publish(T).unwrap());
    assert!(v.get("execution").is_none() && v["timestamp"].is_i64());
    assert!(e
        .create_job("bad", json!("string"), &["dev1"])
        .unwrap_err()
        .contains("document"));
    assert!(e.cancel_job("ghost", false).is_err());
    assert_eq!(e.list_jobs().len(), 2);
    let d = e.describe_job("a").unwrap();
    assert_eq!(d["executionCounts"], json!({"CANCELED": 1}));
    assert_eq!(d["status"], "COMPLETED");
    assert!(e.describe_job("ghost").is_none());
}

#[test]
fn step_timer_times_out_with_scaled_minutes() {
    let cfg = EmulatorConfig {
        minute: Duration::from_millis(50),
        ..Default::default()
    };
    let e = Emulator::start(cfg).unwrap();
    e.create_job("j", json!({}), &["dev1"]).unwrap();
    let mut dev = Raw::connect(e.mqtt_addr(), "dev1");
    dev.subscribe("$aws/things/dev1/jobs/notify", QoS::AtLeastOnce);
    dev.publish(
        "$aws/things/dev1/jobs/start-next",
        br#"{"stepTimeoutInMinutes":2}"#,
        QoS::AtMostOnce,
    );
    let t0 = std::time::Instant::now();
    let mut timed_out = false;
    while t0.elapsed() < T && !timed_out {
        timed_out = e.describe_execution("j", "dev1").unwrap()["status"] == "TIMED_OUT";
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(timed_out);
    assert!(
        t0.elapsed() >= Duration::from_millis(90),
        "{:?}",
        t0.elapsed()
    );
}

#[test]
fn jobs_faults() {
    let e = Emulator::start(EmulatorConfig::default()).unwrap();
    let mut dev = Raw::connect(e.mqtt_addr(), "dev1");
    e.throttle(1);
    dev.publish(
        "$aws/things/dev1/jobs/get",
        br#"{"clientToken":"t1"}"#,
        QoS::AtMostOnce,
    );
    let p = dev.next_publish(T).unwrap();
    assert_eq!(p.topic, "$aws/things/dev1/jobs/get/rejected");
    assert_eq!(json_of(&p)["code"], "RequestThrottled");
    assert_eq!(json_of(&p)["clientToken"], "t1");
    e.drop_replies(1);
    dev.publish("$aws/things/dev1/jobs/get", b"{}", QoS::AtMostOnce);
    assert!(dev.next_publish(Duration::from_millis(300)).is_none());
    e.internal_errors(1);
    dev.publish("$aws/things/dev1/jobs/get", b"{}", QoS::AtMostOnce);
    assert_eq!(
        json_of(&dev.next_publish(T).unwrap())["code"],
        "InternalError"
    );
    e.set_reply_delay(Duration::from_millis(300));
    let t0 = std::time::Instant::now();
    dev.publish("$aws/things/dev1/jobs/get", b"{}", QoS::AtMostOnce);
    assert_eq!(
        dev.next_publish(T).unwrap().topic,
        "$aws/things/dev1/jobs/get/accepted"
    );
    assert!(t0.elapsed() >= Duration::from_millis(280));
    // InvalidTopic inside the namespace does not disconnect
    e.set_reply_delay(Duration::ZERO);
    dev.publish("$aws/things/dev1/jobs/notify", b"{}", QoS::AtMostOnce);
    let p = dev.next_publish(T).unwrap();
    assert_eq!(p.topic, "$aws/things/dev1/jobs/notify/rejected");
    assert_eq!(json_of(&p)["code"], "InvalidTopic");
}

#[test]
fn in_progress_timeout_over_mqtt() {
    let e = Emulator::start(EmulatorConfig {
        minute: Duration::from_millis(40),
        ..Default::default()
    })
    .unwrap();
    let opts = iotjobs_emulator::JobOptions {
        in_progress_timeout_minutes: Some(2),
        ..Default::default()
    };
    e.create_job_with("j", json!({}), &["dev1"], opts).unwrap();
    let mut dev = Raw::connect(e.mqtt_addr(), "dev1");
    dev.subscribe("$aws/things/dev1/jobs/notify-next", QoS::AtLeastOnce);
    dev.publish(
        "$aws/things/dev1/jobs/j/update",
        br#"{"status":"IN_PROGRESS"}"#,
        QoS::AtMostOnce,
    );
    // notify-next goes empty when the execution times out
    let t0 = std::time::Instant::now();
    let mut empty = false;
    while t0.elapsed() < T && !empty {
        if let Some(p) = dev.next_publish(Duration::from_millis(100)) {
            empty = p.topic.ends_with("/notify-next") && json_of(&p).get("execution").is_none();
        }
    }
    assert!(empty);
    assert_eq!(
        e.describe_execution("j", "dev1").unwrap()["status"],
        "TIMED_OUT"
    );
}

/// The next publish on `topic`, skipping others.
fn next_on(dev: &mut Raw, topic: &str) -> Value {
    let t0 = std::time::Instant::now();
    while t0.elapsed() < T {
        if let Some(p) = dev.next_publish(Duration::from_millis(100)) {
            if p.topic == topic {
                return json_of(&p);
            }
        }
    }
    panic!("nothing on {topic}");
}

#[test]
fn failed_execution_retried_over_mqtt() {
    let e = Emulator::start(EmulatorConfig::default()).unwrap();
    let opts = iotjobs_emulator::JobOptions {
        retry: iotjobs_emulator::RetryConfig {
            failed: Some(1),
            ..Default::default()
        },
        ..Default::default()
    };
    e.create_job_with("fw", json!({"v": 3}), &["dev1"], opts)
        .unwrap();
    let mut dev = Raw::connect(e.mqtt_addr(), "dev1");
    dev.subscribe("$aws/things/dev1/jobs/notify-next", QoS::AtLeastOnce);
    for attempt in 1..=2u64 {
        dev.publish("$aws/things/dev1/jobs/start-next", b"{}", QoS::AtMostOnce);
        let r = next_on(&mut dev, "$aws/things/dev1/jobs/start-next/accepted");
        assert_eq!(r["execution"]["executionNumber"], attempt);
        assert_eq!(r["execution"]["versionNumber"], 2);
        dev.publish(
            "$aws/things/dev1/jobs/fw/update",
            br#"{"status":"FAILED","statusDetails":{"err":"disk"}}"#,
            QoS::AtMostOnce,
        );
        next_on(&mut dev, "$aws/things/dev1/jobs/fw/update/accepted");
        // the list goes empty, then (first failure only) the retry is the next execution
        let n = next_on(&mut dev, "$aws/things/dev1/jobs/notify-next");
        assert!(n.get("execution").is_none(), "{n}");
        if attempt == 1 {
            let n = next_on(&mut dev, "$aws/things/dev1/jobs/notify-next");
            assert_eq!(n["execution"]["executionNumber"], 2);
            assert_eq!(n["execution"]["status"], "QUEUED");
            assert!(n["execution"].get("statusDetails").is_none());
        }
    }
    assert!(
        dev.next_publish(Duration::from_millis(300)).is_none(),
        "no third attempt"
    );
    let first = e.describe_execution_number("fw", "dev1", 1).unwrap();
    assert_eq!(first["status"], "FAILED");
    assert_eq!(first["statusDetails"], json!({"err": "disk"}));
    assert_eq!(
        e.describe_execution("fw", "dev1").unwrap()["executionNumber"],
        2
    );
    assert!(e.describe_execution_number("fw", "dev1", 3).is_none());
    assert_eq!(e.list_executions().len(), 2);
}
