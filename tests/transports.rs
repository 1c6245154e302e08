//! Every transport carries MQTT to a real mosquitto that each test starts itself on free
//! loopback ports: plain TCP, WebSocket, secure WebSocket with a client certificate, a SigV4
//! request hook on every WebSocket connect, a WebSocket upgrade against a non-HTTP port, and
//! messages close to AWS IoT's 128 KiB limit.
//!
//! Round trips are checked at the transport (`Stream` with hand-written MQTT packets) and
//! through the engine (`Connection`) in the same test. TLS itself is proven in `tls.rs`.
//!
//! Every test is `#[ignore]`d: plain `cargo test` needs no broker; `.ci/run` runs them with
//! `--ignored`. Run with: `cargo test --test transports -- --ignored`.

mod support;

use bytes::BytesMut;
use iotjobs::error::jobs_result;
use iotjobs::mqtt::config::ConnectionConfig;
use iotjobs::mqtt::sigv4::{self, Credentials};
use iotjobs::mqtt::transport::{Stream, TransportErrorKind, TransportKind, WsRequest};
use iotjobs::mqtt::types::Status;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use support::certs::{certs, mutual_tls, pem_file, pem_memory};
use support::engine::{connect, round_trip, tcp_config, tls_config, WAIT};
use support::mosquitto::{MosqOpts, Mosquitto};
use support::raw_mqtt::{block_on, ca_only, client_tls, connect_ok, ep, open, LIMIT};
use support::unique_id;
use tokio::time::timeout;

/// A QoS 1 round trip over plain TCP at the transport and through the engine; the engine
/// also honours unsubscribe and ends with a clean DISCONNECT the broker logs.
#[test]
#[ignore = "needs mosquitto: run by .ci/run with --ignored"]
fn plain_tcp_publish_subscribe_round_trip() {
    let broker = Mosquitto::start(MosqOpts::default());
    block_on(support::raw_mqtt::open_and_round_trip(
        &ep("127.0.0.1", broker.port(), TransportKind::Tcp),
        None,
    ));

    let id = unique_id("tcp");
    let (conn, inbox) = connect(tcp_config(broker.port(), &id));
    round_trip(&conn, &inbox);
    // Unsubscribe is honoured: a publish after it is not delivered back.
    let topic = format!("$aws/things/{id}/jobs/notify-next");
    conn.unsubscribe_sync(&topic)
        .unwrap_or_else(|e| panic!("unsubscribe: {e}"));
    conn.publish_sync(&topic, b"{}", 1, false)
        .unwrap_or_else(|e| panic!("publish: {e}"));
    assert!(
        inbox.rx.recv_timeout(Duration::from_millis(500)).is_err(),
        "a message arrived after unsubscribe"
    );
    conn.disconnect()
        .unwrap_or_else(|e| panic!("disconnect: {e}"));
    assert_eq!(conn.status(), Status::Disconnected);
    assert!(
        broker.wait_for_log(&format!("Client {id} disconnected."), WAIT),
        "mosquitto saw a clean DISCONNECT from {id}:\n{}",
        broker.log()
    );
    conn.close();
}

fn websocket_broker(tls: bool) -> Mosquitto {
    Mosquitto::start(MosqOpts {
        tls,
        require_cert: tls,
        websockets: true,
    })
}

#[test]
#[ignore = "needs mosquitto: run by .ci/run with --ignored"]
fn websocket_round_trip() {
    let broker = websocket_broker(false);
    block_on(support::raw_mqtt::open_and_round_trip(
        &ep("127.0.0.1", broker.ws_port(), TransportKind::WebSocket),
        None,
    ));

    let cfg = ConnectionConfig {
        transport: TransportKind::WebSocket,
        ws_path: "/mqtt".into(),
        ..tcp_config(broker.ws_port(), &unique_id("ws"))
    };
    let (conn, inbox) = connect(cfg);
    round_trip(&conn, &inbox);
    conn.close();
}

/// MQTT over WebSocket over TLS to a broker that requires a client certificate (EC, SEC1
/// key): from files at the transport, from memory through the engine.
#[test]
#[ignore = "needs mosquitto: run by .ci/run with --ignored"]
fn secure_websocket_with_client_certificate_round_trip() {
    let broker = websocket_broker(true);
    let c = certs();
    let from_files = client_tls(mutual_tls(
        pem_file,
        &c.client_ec_cert,
        &c.client_ec_sec1_key,
    ));
    block_on(support::raw_mqtt::open_and_round_trip(
        &ep("localhost", broker.wss_port(), TransportKind::WebSocketTls),
        Some(from_files),
    ));

    let cfg = ConnectionConfig {
        transport: TransportKind::WebSocketTls,
        ws_path: "/mqtt".into(),
        ..tls_config(
            "localhost",
            broker.wss_port(),
            &unique_id("wss"),
            mutual_tls(pem_memory, &c.client_ec_cert, &c.client_ec_sec1_key),
        )
    };
    let (conn, inbox) = connect(cfg);
    round_trip(&conn, &inbox);
    conn.close();
}

#[test]
#[ignore = "needs mosquitto: run by .ci/run with --ignored"]
fn websocket_tls_with_a_sigv4_request_hook_on_every_connect() {
    let m = Mosquitto::start(MosqOpts {
        tls: true,
        require_cert: false,
        websockets: true,
    });
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let creds = Credentials {
        access_key_id: "AKIDEXAMPLE".into(),
        secret_access_key: "secret".into(),
        session_token: Some("tok/en+=".into()),
    };
    // mosquitto ignores the query; this proves the hook runs and the signed URI is accepted.
    let hook = move |req: &mut WsRequest| {
        seen.fetch_add(1, Ordering::Relaxed);
        sigv4::presign_request(req, "us-east-1", &creds, SystemTime::now())
            .unwrap_or_else(|e| panic!("presign: {e}"));
        let q = req.uri().query().unwrap_or_default().to_owned();
        assert!(
            q.contains("X-Amz-Signature=") && q.ends_with("X-Amz-Security-Token=tok%2Fen%2B%3D"),
            "{q}"
        );
    };
    let e = ep("localhost", m.wss_port(), TransportKind::WebSocketTls);
    for round in 1..=2 {
        block_on(async {
            let mut s = open(&e, Some(ca_only()), Some(&hook)).await;
            let mut buf = BytesMut::new();
            connect_ok(&mut s, &mut buf, &unique_id("sigv4")).await;
            support::raw_mqtt::round_trip(&mut s, &mut buf).await;
            s.shutdown().await;
        });
        assert_eq!(calls.load(Ordering::Relaxed), round);
    }
}

#[test]
#[ignore = "needs mosquitto: run by .ci/run with --ignored"]
fn websocket_upgrade_against_an_mqtt_port_fails_cleanly() {
    // A WebSocket upgrade against the plain MQTT port: the server is not HTTP.
    let m = Mosquitto::start(MosqOpts::default());
    let err = block_on(async {
        timeout(
            LIMIT,
            Stream::connect(
                &ep("127.0.0.1", m.port(), TransportKind::WebSocket),
                None,
                None,
            ),
        )
        .await
        .unwrap_or_else(|_| panic!("timed out"))
        .expect_err("an MQTT port does not speak HTTP")
    });
    assert_eq!(err.kind(), TransportErrorKind::WebSocket, "{err}");
}

/// Messages close to AWS IoT's 128 KiB limit cross TCP and WebSocket intact (many reads and,
/// over WebSocket, frames per packet).
#[test]
#[ignore = "needs mosquitto: run by .ci/run with --ignored"]
fn large_messages_round_trip_over_tcp_and_websocket() {
    let broker = websocket_broker(false);
    for (transport, port) in [
        (TransportKind::Tcp, broker.port()),
        (TransportKind::WebSocket, broker.ws_port()),
    ] {
        let cfg = ConnectionConfig {
            transport,
            ..tcp_config(port, &unique_id("large"))
        };
        let (conn, inbox) = connect(cfg);
        let topic = format!("$aws/things/{}/jobs/job-1/get/accepted", conn.client_id());
        assert_eq!(conn.subscribe_sync(&topic, 1, None).ok(), Some(Some(1)));
        for size in [16 * 1024, 100 * 1024, 128 * 1024 - topic.len() - 9] {
            let payload: Vec<u8> = (0..size).map(|i| b'a' + (i % 26) as u8).collect();
            conn.publish_sync(&topic, &payload, 1, false)
                .unwrap_or_else(|e| panic!("{transport:?} {size} B: {e}"));
            let got = inbox.expect(&topic);
            assert!(
                got == payload,
                "{transport:?}: {size} B came back as {} B",
                got.len()
            );
        }
        // One byte more is refused by the API before anything is sent.
        let too_big = vec![b'x'; 128 * 1024 - topic.len() - 8];
        let err = conn
            .publish_sync(&topic, &too_big, 1, false)
            .expect_err("over the packet limit");
        assert_eq!(err.code, jobs_result::PayloadTooLarge, "{err}");
        conn.close();
    }
}
