//! The client's server-packet decoder, `mqtt::codec::read_server_packet`.
//!
//! Invariants:
//! - on arbitrary bytes (under an arbitrary size limit): no panic; `Ok(None)` consumes nothing,
//!   `Ok(Some(_))` consumes exactly one packet, an error is a protocol error (or a refused connect); a decoded PUBLISH
//!   topic is never empty and has no U+0000 or wildcard;
//! - round trip: a PUBLISH, PUBACK, SUBACK, UNSUBACK or PINGRESP with arbitrary fields within
//!   MQTT 3.1.1's limits, encoded by rumqttc, decodes back to the same packet, consuming
//!   exactly its bytes, whatever follows it.

#![no_main]

use arbitrary::Arbitrary;
use bytes::BytesMut;
use iotjobs::error::jobs_result;
use iotjobs::mqtt::codec::read_server_packet;
use libfuzzer_sys::fuzz_target;
use rumqttc::mqttbytes::v4::{Packet, PubAck, Publish, SubAck, SubscribeReasonCode, UnsubAck};
use rumqttc::mqttbytes::QoS;

const MAX: usize = 64 * 1024;

#[derive(Arbitrary, Debug)]
enum Server {
    Publish {
        topic: String,
        qos: u8,
        dup: bool,
        retain: bool,
        pkid: u16,
        payload: Vec<u8>,
    },
    PubAck(u16),
    SubAck {
        pkid: u16,
        codes: Vec<Option<u8>>,
    },
    UnsubAck(u16),
    PingResp,
}

#[derive(Arbitrary, Debug)]
struct Input {
    raw: Vec<u8>,
    limit: u32,
    packet: Server,
    trailer: Vec<u8>,
}

/// The packet within the protocol's limits: a topic a server may send, a non-zero packet id
/// where one is carried, DUP only with QoS > 0, at least one SUBACK return code.
fn to_packet(s: Server) -> Packet {
    let pkid = |id: u16| id.max(1);
    match s {
        Server::Publish {
            topic,
            qos,
            dup,
            retain,
            pkid: id,
            payload,
        } => {
            let mut topic: String = topic
                .chars()
                .filter(|c| !matches!(c, '\0' | '+' | '#'))
                .take(256)
                .collect();
            if topic.is_empty() {
                topic.push('t');
            }
            let qos = match qos % 3 {
                0 => QoS::AtMostOnce,
                1 => QoS::AtLeastOnce,
                _ => QoS::ExactlyOnce,
            };
            let mut p = Publish::new(topic, qos, payload);
            p.retain = retain;
            if qos != QoS::AtMostOnce {
                p.pkid = pkid(id);
                p.dup = dup;
            }
            Packet::Publish(p)
        }
        Server::PubAck(id) => Packet::PubAck(PubAck::new(pkid(id))),
        Server::SubAck { pkid: id, codes } => {
            let mut return_codes: Vec<SubscribeReasonCode> = codes
                .into_iter()
                .take(64)
                .map(|c| match c.map(|q| q % 3) {
                    Some(0) => SubscribeReasonCode::Success(QoS::AtMostOnce),
                    Some(1) => SubscribeReasonCode::Success(QoS::AtLeastOnce),
                    Some(_) => SubscribeReasonCode::Success(QoS::ExactlyOnce),
                    None => SubscribeReasonCode::Failure,
                })
                .collect();
            if return_codes.is_empty() {
                return_codes.push(SubscribeReasonCode::Failure);
            }
            Packet::SubAck(SubAck::new(pkid(id), return_codes))
        }
        Server::UnsubAck(id) => Packet::UnsubAck(UnsubAck::new(pkid(id))),
        Server::PingResp => Packet::PingResp,
    }
}

fuzz_target!(|input: Input| {
    // Arbitrary bytes.
    let limit = (input.limit as usize) % (2 * MAX);
    let mut buf = BytesMut::from(&input.raw[..]);
    let before = buf.len();
    match read_server_packet(&mut buf, limit) {
        Ok(None) => assert_eq!(buf.len(), before, "an incomplete packet consumes nothing"),
        Ok(Some(p)) => {
            assert!(buf.len() < before, "a packet consumes its bytes");
            if let Packet::Publish(p) = p {
                assert!(!p.topic.is_empty() && !p.topic.contains(['\0', '+', '#']));
            }
        }
        // A CONNACK with an unknown return code is a refused connect; the rest protocol errors.
        Err(e) => assert!(
            matches!(e.code, jobs_result::Protocol | jobs_result::ConnectRefused),
            "{:?}: {}",
            e.code,
            e.message
        ),
    }

    // Round trip.
    let packet = to_packet(input.packet);
    let mut wire = BytesMut::new();
    packet
        .write(&mut wire, usize::MAX)
        .expect("a packet within the limits encodes");
    let len = wire.len();
    wire.extend_from_slice(&input.trailer);
    let decoded = read_server_packet(&mut wire, MAX + 1024)
        .unwrap_or_else(|e| panic!("{packet:?} does not decode: {}", e.message))
        .unwrap_or_else(|| panic!("{packet:?} is incomplete"));
    assert_eq!(
        wire.len(),
        input.trailer.len(),
        "exactly the packet's {len} bytes consumed"
    );
    assert_eq!(decoded, packet);
});
