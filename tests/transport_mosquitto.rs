//! Transports against a real mosquitto: TCP, mutual TLS with every key format (files and
//! memory), refusals (wrong CA, wrong host name, missing client certificate), WebSocket plain
//! and over TLS with a `$aws/...` round trip, ALPN, and the harness itself (restart).
//!
//! Run with: `cargo test --test transport_mosquitto -- --ignored` (needs `mosquitto` and `openssl`).

mod support;

use bytes::BytesMut;
use iotjobs::mqtt::sigv4::{self, Credentials};
use iotjobs::mqtt::tls::{build_client_config, PemSource, TlsSettings, ALPN_AWS_MQTT_CA};
use iotjobs::mqtt::transport::{
    describe_io_error, is_tls_io_error, Endpoint, RequestHook, Stream, TransportErrorKind,
    TransportKind, WsRequest,
};
use rumqttc::mqttbytes::v4::{Connect, ConnectReturnCode, Packet, PubAck, Publish, Subscribe};
use rumqttc::mqttbytes::QoS;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use support::certs::{certs, OpensslServer};
use support::mosquitto::{MosqExtra, MosqOpts, Mosquitto};
use tokio::time::timeout;

const NEEDS: &str = "needs mosquitto: run by .ci/run with --ignored";
const LIMIT: Duration = Duration::from_secs(10);
const MAX_PACKET: usize = 128 * 1024;
const TOPIC: &str = "$aws/things/x/jobs/notify";

fn ep(host: &str, port: u16, kind: TransportKind) -> Endpoint {
    Endpoint {
        host: host.into(),
        port,
        kind,
        ws_path: "/mqtt".into(),
    }
}

fn file(p: &Path) -> Option<PemSource> {
    Some(PemSource::File(p.to_path_buf()))
}

fn memory(p: &Path) -> Option<PemSource> {
    let bytes = std::fs::read(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()));
    Some(PemSource::Memory(bytes))
}

fn tls_config(s: TlsSettings) -> Arc<rustls::ClientConfig> {
    build_client_config(&s).unwrap_or_else(|e| panic!("TLS config: {e}"))
}

fn ca_only() -> Arc<rustls::ClientConfig> {
    tls_config(TlsSettings {
        ca: file(&certs().ca),
        ..TlsSettings::default()
    })
}

async fn open(
    ep: &Endpoint,
    tls: Option<Arc<rustls::ClientConfig>>,
    hook: Option<&RequestHook>,
) -> Stream {
    match timeout(LIMIT, Stream::connect(ep, tls, hook)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => panic!("connect {}:{} {:?}: {e}", ep.host, ep.port, ep.kind),
        Err(_) => panic!("connect {}:{} timed out", ep.host, ep.port),
    }
}

/// Reads until one whole packet is decoded; `None` if the peer closed or errored first.
async fn next_packet(s: &mut Stream, buf: &mut BytesMut) -> Option<Packet> {
    let work = async {
        loop {
            match Packet::read(buf, MAX_PACKET) {
                Ok(p) => return Some(p),
                Err(rumqttc::mqttbytes::Error::InsufficientBytes(_)) => {}
                Err(e) => panic!("decode: {e:?}"),
            }
            match s.read_buf(buf).await {
                Ok(0) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    };
    timeout(LIMIT, work)
        .await
        .unwrap_or_else(|_| panic!("no packet within {LIMIT:?}"))
}

async fn send(s: &mut Stream, p: Packet) {
    let mut out = BytesMut::new();
    p.write(&mut out, MAX_PACKET)
        .unwrap_or_else(|e| panic!("encode: {e:?}"));
    timeout(LIMIT, s.write_all(&out))
        .await
        .unwrap_or_else(|_| panic!("write timed out"))
        .unwrap_or_else(|e| panic!("write: {e}"));
}

fn client_id(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!("{prefix}-{}", N.fetch_add(1, Ordering::Relaxed))
}

/// CONNECT, then the CONNACK (or `None` when the server dropped the connection instead).
async fn mqtt_connect(s: &mut Stream, buf: &mut BytesMut, id: &str) -> Option<ConnectReturnCode> {
    let mut c = Connect::new(id);
    c.keep_alive = 30;
    c.clean_session = true;
    send(s, Packet::Connect(c)).await;
    match next_packet(s, buf).await? {
        Packet::ConnAck(ack) => Some(ack.code),
        other => panic!("expected CONNACK, got {other:?}"),
    }
}

async fn connect_ok(s: &mut Stream, buf: &mut BytesMut, id: &str) {
    assert_eq!(
        mqtt_connect(s, buf, id).await,
        Some(ConnectReturnCode::Success),
        "CONNACK for {id}"
    );
}

/// Subscribes to `TOPIC` at QoS 1, publishes to it at QoS 1 on the same connection, and expects
/// the PUBACK and the message back.
async fn round_trip(s: &mut Stream, buf: &mut BytesMut) {
    let mut sub = Subscribe::new(TOPIC, QoS::AtLeastOnce);
    sub.pkid = 1; // 0 is not a valid packet id: the broker would disconnect
    send(s, Packet::Subscribe(sub)).await;
    match next_packet(s, buf).await {
        Some(Packet::SubAck(ack)) => assert_eq!(ack.return_codes.len(), 1),
        other => panic!("expected SUBACK, got {other:?}"),
    }
    let payload = format!("{{\"jobs\":{{}},\"t\":\"{}\"}}", fastrand::u64(..));
    let mut p = Publish::new(TOPIC, QoS::AtLeastOnce, payload.clone());
    p.pkid = 7;
    send(s, Packet::Publish(p)).await;
    let (mut got_puback, mut got_msg) = (false, false);
    while !(got_puback && got_msg) {
        match next_packet(s, buf).await {
            Some(Packet::PubAck(a)) => {
                assert_eq!(a.pkid, 7);
                got_puback = true;
            }
            Some(Packet::Publish(m)) => {
                assert_eq!(m.topic, TOPIC);
                assert_eq!(&m.payload[..], payload.as_bytes());
                if m.qos == QoS::AtLeastOnce {
                    send(s, Packet::PubAck(PubAck::new(m.pkid))).await;
                }
                got_msg = true;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[tokio::test]
#[ignore = "needs mosquitto: run by .ci/run with --ignored"]
async fn plain_tcp_connect_and_round_trip() {
    let _ = NEEDS;
    let m = Mosquitto::start(MosqOpts::default());
    let mut s = open(&ep("127.0.0.1", m.port(), TransportKind::Tcp), None, None).await;
    let mut buf = BytesMut::new();
    connect_ok(&mut s, &mut buf, &client_id("tcp")).await;
    round_trip(&mut s, &mut buf).await;
    s.shutdown().await;
}

async fn mutual_tls_every_format(from_memory: bool) {
    let c = certs();
    let m = Mosquitto::start(MosqOpts {
        tls: true,
        require_cert: true,
        websockets: false,
    });
    for (cert, key, label) in c.client_key_formats() {
        let load = if from_memory { memory } else { file };
        let cfg = tls_config(TlsSettings {
            ca: load(&c.ca),
            client_cert: load(cert),
            client_key: load(key),
            alpn: Vec::new(),
        });
        for host in ["localhost", "127.0.0.1"] {
            let mut s = open(
                &ep(host, m.tls_port(), TransportKind::Tls),
                Some(cfg.clone()),
                None,
            )
            .await;
            let mut buf = BytesMut::new();
            let id = client_id("mtls");
            assert_eq!(
                mqtt_connect(&mut s, &mut buf, &id).await,
                Some(ConnectReturnCode::Success),
                "{label} via {host}"
            );
            round_trip(&mut s, &mut buf).await;
            s.shutdown().await;
        }
    }
    // use_identity_as_username: the broker saw both client certificates.
    let log = m.log();
    assert!(log.contains("u'thing-rsa'"), "{log}");
    assert!(log.contains("u'thing-ec'"), "{log}");
}

#[tokio::test]
#[ignore = "needs mosquitto: run by .ci/run with --ignored"]
async fn mutual_tls_every_key_format_from_files() {
    mutual_tls_every_format(false).await;
}

#[tokio::test]
#[ignore = "needs mosquitto: run by .ci/run with --ignored"]
async fn mutual_tls_every_key_format_from_memory() {
    mutual_tls_every_format(true).await;
}

#[tokio::test]
#[ignore = "needs mosquitto: run by .ci/run with --ignored"]
async fn ca_bundle_with_several_certificates_verifies_the_server() {
    let m = Mosquitto::start(MosqOpts {
        tls: true,
        require_cert: false,
        websockets: false,
    });
    let cfg = tls_config(TlsSettings {
        ca: file(&certs().ca_bundle),
        ..TlsSettings::default()
    });
    let mut s = open(
        &ep("localhost", m.tls_port(), TransportKind::Tls),
        Some(cfg),
        None,
    )
    .await;
    let mut buf = BytesMut::new();
    connect_ok(&mut s, &mut buf, &client_id("bundle")).await;
}

#[tokio::test]
#[ignore = "needs mosquitto: run by .ci/run with --ignored"]
async fn wrong_ca_is_refused_with_a_tls_error() {
    let c = certs();
    let m = Mosquitto::start(MosqOpts {
        tls: true,
        require_cert: true,
        websockets: true,
    });
    let cfg = tls_config(TlsSettings {
        ca: file(&c.other_ca),
        client_cert: file(&c.client_ec_cert),
        client_key: file(&c.client_ec_pkcs8_key),
        alpn: Vec::new(),
    });
    for e in [
        ep("localhost", m.tls_port(), TransportKind::Tls),
        ep("localhost", m.wss_port(), TransportKind::WebSocketTls),
    ] {
        let err = timeout(LIMIT, Stream::connect(&e, Some(cfg.clone()), None))
            .await
            .unwrap_or_else(|_| panic!("timed out"))
            .expect_err("a server signed by another CA must be refused");
        assert!(err.is_tls(), "{err}");
        assert!(
            err.to_string().contains("not signed by the configured CA"),
            "{err}"
        );
    }
}

#[tokio::test]
#[ignore = "needs mosquitto: run by .ci/run with --ignored"]
async fn wrong_host_name_is_refused_with_a_tls_error() {
    let c = certs();
    let m = Mosquitto::start_with_server_cert(
        MosqOpts {
            tls: true,
            require_cert: false,
            websockets: false,
        },
        &c.wrong_name_cert,
        &c.wrong_name_key,
    );
    for host in ["127.0.0.1", "localhost"] {
        let err = timeout(
            LIMIT,
            Stream::connect(
                &ep(host, m.tls_port(), TransportKind::Tls),
                Some(ca_only()),
                None,
            ),
        )
        .await
        .unwrap_or_else(|_| panic!("timed out"))
        .expect_err("a certificate for wrong.example must not be accepted");
        assert!(err.is_tls(), "{err}");
        assert!(err.to_string().contains("does not name this host"), "{err}");
    }
}

/// With TLS 1.3 the server checks the client certificate after our side of the handshake has
/// finished, so the refusal shows up either in `connect` (WebSocket: during the upgrade) or as a
/// TLS alert on the first read (plain TLS: while waiting for CONNACK). Both must be classified
/// as TLS failures, with `hint` in the message, never as a mere closed connection.
async fn expect_refused(m: &Mosquitto, cfg: Arc<rustls::ClientConfig>, hint: &str) {
    for e in [
        ep("localhost", m.tls_port(), TransportKind::Tls),
        ep("localhost", m.wss_port(), TransportKind::WebSocketTls),
    ] {
        match timeout(LIMIT, Stream::connect(&e, Some(cfg.clone()), None)).await {
            Err(_) => panic!("timed out"),
            Ok(Err(err)) => {
                assert!(err.is_tls(), "{:?}: {err}", e.kind);
                assert!(err.to_string().contains(hint), "{:?}: {err}", e.kind);
            }
            Ok(Ok(mut s)) => {
                let mut c = Connect::new(client_id("refused"));
                c.keep_alive = 30;
                let mut out = BytesMut::new();
                Packet::Connect(c)
                    .write(&mut out, MAX_PACKET)
                    .unwrap_or_else(|e| panic!("{e:?}"));
                let mut buf = BytesMut::new();
                let result = match s.write_all(&out).await {
                    Err(w) => Err(w),
                    Ok(()) => timeout(LIMIT, s.read_buf(&mut buf))
                        .await
                        .unwrap_or_else(|_| panic!("no refusal within {LIMIT:?}")),
                };
                match result {
                    Err(io) => {
                        assert!(is_tls_io_error(&io), "{:?}: {io}", e.kind);
                        let text = describe_io_error(&io);
                        assert!(text.contains(hint), "{:?}: {text}", e.kind);
                    }
                    Ok(n) => panic!("{:?}: expected a TLS alert, read {n} bytes", e.kind),
                }
            }
        }
    }
}

#[tokio::test]
#[ignore = "needs mosquitto: run by .ci/run with --ignored"]
async fn missing_or_foreign_client_certificate_is_refused() {
    let c = certs();
    let m = Mosquitto::start(MosqOpts {
        tls: true,
        require_cert: true,
        websockets: true,
    });
    expect_refused(&m, ca_only(), "requires a client certificate").await;
    let foreign = tls_config(TlsSettings {
        ca: file(&c.ca),
        client_cert: file(&c.other_client_cert),
        client_key: file(&c.other_client_key),
        alpn: Vec::new(),
    });
    expect_refused(&m, foreign, "refused the client certificate").await;
}

#[tokio::test]
#[ignore = "needs mosquitto: run by .ci/run with --ignored"]
async fn alpn_can_be_requested() {
    let c = certs();
    let m = Mosquitto::start(MosqOpts {
        tls: true,
        require_cert: true,
        websockets: false,
    });
    let cfg = tls_config(TlsSettings {
        ca: file(&c.ca),
        client_cert: file(&c.client_rsa_cert),
        client_key: file(&c.client_rsa_pkcs1_key),
        alpn: vec![ALPN_AWS_MQTT_CA.to_vec()],
    });
    let mut s = open(
        &ep("localhost", m.tls_port(), TransportKind::Tls),
        Some(cfg),
        None,
    )
    .await;
    let mut buf = BytesMut::new();
    connect_ok(&mut s, &mut buf, &client_id("alpn")).await;
    round_trip(&mut s, &mut buf).await;
}

fn mtls_rsa_pkcs1(alpn: Vec<Vec<u8>>) -> Arc<rustls::ClientConfig> {
    let c = certs();
    tls_config(TlsSettings {
        ca: file(&c.ca),
        client_cert: file(&c.client_rsa_cert),
        client_key: file(&c.client_rsa_pkcs1_key),
        alpn,
    })
}

#[tokio::test]
#[ignore = "needs mosquitto: run by .ci/run with --ignored"]
async fn tls_1_3_only_broker_accepts_us() {
    // `tls_version tlsv1.3` pins mosquitto 2.0 to TLS 1.3 (its `tlsv1.2` still allows 1.3).
    let m = Mosquitto::start_with(
        MosqOpts {
            tls: true,
            require_cert: true,
            websockets: true,
        },
        MosqExtra {
            tls_lines: "tls_version tlsv1.3\n".into(),
            ..MosqExtra::default()
        },
    );
    for e in [
        ep("localhost", m.tls_port(), TransportKind::Tls),
        ep("localhost", m.wss_port(), TransportKind::WebSocketTls),
    ] {
        let mut s = open(&e, Some(mtls_rsa_pkcs1(Vec::new())), None).await;
        let mut buf = BytesMut::new();
        connect_ok(&mut s, &mut buf, &client_id("tls13")).await;
        round_trip(&mut s, &mut buf).await;
    }
}

#[tokio::test]
#[ignore = "needs mosquitto: run by .ci/run with --ignored"]
async fn tls_1_2_only_server_accepts_us_and_sees_our_alpn() {
    // openssl s_server: TLS 1.2 only, client certificate required, ALPN as AWS IoT on 443.
    let server = OpensslServer::start(&[
        "-tls1_2",
        "-Verify",
        "1",
        "-verify_return_error",
        "-alpn",
        "x-amzn-mqtt-ca",
    ]);
    let cfg = mtls_rsa_pkcs1(vec![ALPN_AWS_MQTT_CA.to_vec()]);
    let mut s = open(
        &ep("localhost", server.port, TransportKind::Tls),
        Some(cfg),
        None,
    )
    .await;
    timeout(LIMIT, s.write_all(b"hello-from-iotjobs\n"))
        .await
        .unwrap_or_else(|_| panic!("write timed out"))
        .unwrap_or_else(|e| panic!("write: {e}"));
    assert!(
        server.wait_for("hello-from-iotjobs", LIMIT),
        "{}",
        server.output()
    );
    let out = server.output();
    assert!(
        out.contains("ALPN protocols selected: x-amzn-mqtt-ca"),
        "{out}"
    );
    s.shutdown().await;
}

#[tokio::test]
#[ignore = "needs mosquitto: run by .ci/run with --ignored"]
async fn websocket_round_trip() {
    let m = Mosquitto::start(MosqOpts {
        tls: false,
        require_cert: false,
        websockets: true,
    });
    let mut s = open(
        &ep("127.0.0.1", m.ws_port(), TransportKind::WebSocket),
        None,
        None,
    )
    .await;
    let mut buf = BytesMut::new();
    connect_ok(&mut s, &mut buf, &client_id("ws")).await;
    round_trip(&mut s, &mut buf).await;
    s.shutdown().await;
}

#[tokio::test]
#[ignore = "needs mosquitto: run by .ci/run with --ignored"]
async fn websocket_tls_round_trip_with_mutual_tls() {
    let c = certs();
    let m = Mosquitto::start(MosqOpts {
        tls: true,
        require_cert: true,
        websockets: true,
    });
    let cfg = tls_config(TlsSettings {
        ca: file(&c.ca),
        client_cert: file(&c.client_ec_cert),
        client_key: file(&c.client_ec_sec1_key),
        alpn: Vec::new(),
    });
    let mut s = open(
        &ep("localhost", m.wss_port(), TransportKind::WebSocketTls),
        Some(cfg),
        None,
    )
    .await;
    let mut buf = BytesMut::new();
    connect_ok(&mut s, &mut buf, &client_id("wss")).await;
    round_trip(&mut s, &mut buf).await;
    s.shutdown().await;
}

#[tokio::test]
#[ignore = "needs mosquitto: run by .ci/run with --ignored"]
async fn websocket_tls_with_a_sigv4_request_hook_on_every_connect() {
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
        let mut s = open(&e, Some(ca_only()), Some(&hook)).await;
        let mut buf = BytesMut::new();
        connect_ok(&mut s, &mut buf, &client_id("sigv4")).await;
        round_trip(&mut s, &mut buf).await;
        s.shutdown().await;
        assert_eq!(calls.load(Ordering::Relaxed), round);
    }
}

#[tokio::test]
#[ignore = "needs mosquitto: run by .ci/run with --ignored"]
async fn websocket_upgrade_against_an_mqtt_port_fails_cleanly() {
    // A WebSocket upgrade against the plain MQTT port: the server is not HTTP.
    let m = Mosquitto::start(MosqOpts::default());
    let err = timeout(
        LIMIT,
        Stream::connect(
            &ep("127.0.0.1", m.port(), TransportKind::WebSocket),
            None,
            None,
        ),
    )
    .await
    .unwrap_or_else(|_| panic!("timed out"))
    .expect_err("an MQTT port does not speak HTTP");
    assert_eq!(err.kind(), TransportErrorKind::WebSocket, "{err}");
}

#[tokio::test]
#[ignore = "needs mosquitto: run by .ci/run with --ignored"]
async fn harness_restart_keeps_ports_and_drops_clients() {
    let mut m = Mosquitto::start(MosqOpts {
        tls: true,
        require_cert: false,
        websockets: true,
    });
    let before = m.ports;
    let pid = m.pid();
    let mut s = open(&ep("127.0.0.1", m.port(), TransportKind::Tcp), None, None).await;
    let mut buf = BytesMut::new();
    connect_ok(&mut s, &mut buf, &client_id("restart")).await;
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
        connect_ok(&mut s, &mut buf, &client_id("after-restart")).await;
    }
    assert!(m.log().matches(" running").count() >= 2);
}

#[test]
#[should_panic(expected = "mosquitto binary not found")]
fn a_missing_mosquitto_binary_panics_instead_of_skipping() {
    support::mosquitto::require_binary_at(Path::new("/nonexistent/bin/mosquitto"));
}
