//! The test harness itself (`tests/support`): a restarted mosquitto keeps its ports and drops
//! its clients, and a missing mosquitto binary fails the tests instead of skipping them.
//!
//! The restart test is `#[ignore]`d (it needs mosquitto); `.ci/run` runs it with `--ignored`.

mod support;

use bytes::BytesMut;
use iotjobs::mqtt::transport::TransportKind;
use std::path::Path;
use support::mosquitto::{MosqOpts, Mosquitto};
use support::raw_mqtt::{block_on, ca_only, connect_ok, ep, next_packet, open};
use support::unique_id;

#[test]
#[ignore = "needs mosquitto: run by .ci/run with --ignored"]
fn mosquitto_restart_keeps_ports_and_drops_clients() {
    let mut m = Mosquitto::start(MosqOpts {
        tls: true,
        require_cert: false,
        websockets: true,
    });
    let before = m.ports;
    let pid = m.pid();
    block_on(async {
        let mut s = open(&ep("127.0.0.1", m.port(), TransportKind::Tcp), None, None).await;
        let mut buf = BytesMut::new();
        connect_ok(&mut s, &mut buf, &unique_id("restart")).await;
        m.restart();
        assert_eq!(m.ports, before);
        assert_ne!(m.pid(), pid);
        assert_eq!(
            next_packet(&mut s, &mut buf).await,
            None,
            "the old connection is gone"
        );
        for e in [
            ep("127.0.0.1", m.port(), TransportKind::Tcp),
            ep("localhost", m.tls_port(), TransportKind::Tls),
            ep("127.0.0.1", m.ws_port(), TransportKind::WebSocket),
            ep("localhost", m.wss_port(), TransportKind::WebSocketTls),
        ] {
            let tls = e.kind.uses_tls().then(ca_only);
            let mut s = open(&e, tls, None).await;
            let mut buf = BytesMut::new();
            connect_ok(&mut s, &mut buf, &unique_id("after-restart")).await;
        }
    });
    assert!(m.log().matches(" running").count() >= 2);
}

#[test]
#[should_panic(expected = "mosquitto binary not found")]
fn a_missing_mosquitto_binary_panics_instead_of_skipping() {
    support::mosquitto::require_binary_at(Path::new("/nonexistent/bin/mosquitto"));
}
