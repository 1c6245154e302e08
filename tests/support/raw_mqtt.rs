//! The transport layer (`iotjobs::mqtt::transport::Stream`) with hand-written MQTT packets:
//! it proves what a transport carries without the session engine on top.
//!
//! The helpers are async (the transport is); [`block_on`] runs them from a plain `#[test]`, so
//! one test can check the same scenario at the transport layer and through the engine.

use super::certs::{certs, pem_file};
use bytes::BytesMut;
use iotjobs::mqtt::tls::{build_client_config, TlsSettings};
use iotjobs::mqtt::transport::{Endpoint, RequestHook, Stream, TransportKind};
use rumqttc::mqttbytes::v4::{Connect, ConnectReturnCode, Packet, PubAck, Publish, Subscribe};
use rumqttc::mqttbytes::QoS;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::timeout;

/// Bound on every single transport operation.
pub const LIMIT: Duration = Duration::from_secs(10);
/// AWS IoT's packet limit, used for encoding and decoding.
pub const MAX_PACKET: usize = 128 * 1024;
/// The topic of [`round_trip`].
pub const TOPIC: &str = "$aws/things/x/jobs/notify";

/// Runs `work` to completion on a current-thread runtime of its own.
pub fn block_on<F: Future>(work: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("tokio runtime: {e}"))
        .block_on(work)
}

pub fn ep(host: &str, port: u16, kind: TransportKind) -> Endpoint {
    Endpoint {
        host: host.into(),
        port,
        kind,
        ws_path: "/mqtt".into(),
    }
}

pub fn client_tls(s: TlsSettings) -> Arc<rustls::ClientConfig> {
    build_client_config(&s).unwrap_or_else(|e| panic!("TLS config: {e}"))
}

/// A TLS client that trusts the test CA and has no certificate of its own.
pub fn ca_only() -> Arc<rustls::ClientConfig> {
    client_tls(TlsSettings {
        ca: pem_file(&certs().ca),
        ..TlsSettings::default()
    })
}

pub async fn open(
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
pub async fn next_packet(s: &mut Stream, buf: &mut BytesMut) -> Option<Packet> {
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

pub async fn send(s: &mut Stream, p: Packet) {
    let mut out = BytesMut::new();
    p.write(&mut out, MAX_PACKET)
        .unwrap_or_else(|e| panic!("encode: {e:?}"));
    timeout(LIMIT, s.write_all(&out))
        .await
        .unwrap_or_else(|_| panic!("write timed out"))
        .unwrap_or_else(|e| panic!("write: {e}"));
}

/// CONNECT, then the CONNACK (or `None` when the server dropped the connection instead).
pub async fn mqtt_connect(
    s: &mut Stream,
    buf: &mut BytesMut,
    id: &str,
) -> Option<ConnectReturnCode> {
    let mut c = Connect::new(id);
    c.keep_alive = 30;
    c.clean_session = true;
    send(s, Packet::Connect(c)).await;
    match next_packet(s, buf).await? {
        Packet::ConnAck(ack) => Some(ack.code),
        other => panic!("expected CONNACK, got {other:?}"),
    }
}

pub async fn connect_ok(s: &mut Stream, buf: &mut BytesMut, id: &str) {
    assert_eq!(
        mqtt_connect(s, buf, id).await,
        Some(ConnectReturnCode::Success),
        "CONNACK for {id}"
    );
}

/// Subscribes to `TOPIC` at QoS 1, publishes to it at QoS 1 on the same connection, and expects
/// the PUBACK and the message back.
pub async fn round_trip(s: &mut Stream, buf: &mut BytesMut) {
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

/// Opens `ep`, connects as a fresh client id, makes a [`round_trip`] and shuts down.
pub async fn open_and_round_trip(ep: &Endpoint, tls: Option<Arc<rustls::ClientConfig>>) {
    let mut s = open(ep, tls, None).await;
    let mut buf = BytesMut::new();
    connect_ok(&mut s, &mut buf, &super::unique_id("raw")).await;
    round_trip(&mut s, &mut buf).await;
    s.shutdown().await;
}
