//! CONNECT encoding for MQTT 3.1 and 3.1.1, and the decoding of server packets (pure logic).
//!
//! Every other packet is encoded and decoded by `rumqttc::mqttbytes::v4`. CONNECT is ours
//! because rumqttc writes only protocol level 4 (no MQTT 3.1, `MQIsdp` level 3) and drops an
//! empty password. [`read_server_packet`] adds the checks rumqttc's decoder leaves to its
//! caller: a CONNACK's exact length and a PUBLISH topic a server may send.

use super::config::{ConnectionConfig, Protocol};
use crate::error::{jobs_result, Error, Result};
use bytes::{BufMut, BytesMut};
use rumqttc::mqttbytes::v4::Packet;
use rumqttc::mqttbytes::Error as CodecError;
use zeroize::Zeroize;

fn put_str(buf: &mut BytesMut, s: &[u8]) {
    buf.put_u16(s.len() as u16);
    buf.put_slice(s);
}

fn put_remaining_length(buf: &mut BytesMut, mut len: usize) {
    loop {
        let mut byte = (len % 128) as u8;
        len /= 128;
        if len > 0 {
            byte |= 0x80;
        }
        buf.put_u8(byte);
        if len == 0 {
            break;
        }
    }
}

/// Encodes the CONNECT packet for a validated configuration.
pub fn encode_connect(cfg: &ConnectionConfig) -> BytesMut {
    let (name, level): (&[u8], u8) = match cfg.protocol {
        Protocol::Mqtt31 => (b"MQIsdp", 3),
        Protocol::Mqtt311 => (b"MQTT", 4),
    };
    let mut flags = 0u8;
    if cfg.clean_session {
        flags |= 0x02;
    }
    // Sized up front and wiped after use: the body holds the password, and a buffer that grew
    // would leave copies of it in freed memory.
    let str_len = |s: &[u8]| 2 + s.len();
    let login = cfg.mqtt_login();
    let size = str_len(name)
        + 4
        + str_len(cfg.client_id.as_bytes())
        + cfg
            .last_will
            .as_ref()
            .map_or(0, |w| str_len(w.topic.as_bytes()) + str_len(&w.payload))
        + login
            .as_ref()
            .map_or(0, |(u, p)| str_len(u) + p.map_or(0, str_len));
    let mut body = BytesMut::with_capacity(size);
    put_str(&mut body, name);
    body.put_u8(level);
    body.put_u8(0); // flags, patched below
    body.put_u16(cfg.keep_alive_secs);
    put_str(&mut body, cfg.client_id.as_bytes());
    if let Some(will) = &cfg.last_will {
        flags |= 0x04 | (will.qos << 3);
        if will.retain {
            flags |= 0x20;
        }
        put_str(&mut body, will.topic.as_bytes());
        put_str(&mut body, &will.payload);
    }
    if let Some((user, pass)) = &login {
        flags |= 0x80;
        put_str(&mut body, user);
        if let Some(pass) = pass {
            flags |= 0x40;
            put_str(&mut body, pass);
        }
    }
    body[2 + name.len() + 1] = flags;
    let mut out = BytesMut::with_capacity(body.len() + 5);
    out.put_u8(0x10);
    put_remaining_length(&mut out, body.len());
    out.extend_from_slice(&body);
    debug_assert_eq!(body.len(), size);
    body.as_mut().zeroize();
    out
}

fn protocol(message: impl Into<String>) -> Error {
    Error::new(jobs_result::Protocol, message)
}

/// The remaining length of the packet at the start of `buf`, once `check` has framed it.
fn remaining_length(buf: &[u8]) -> usize {
    let mut len = 0usize;
    for (i, byte) in buf.iter().skip(1).take(4).enumerate() {
        len |= ((byte & 0x7f) as usize) << (7 * i);
        if byte & 0x80 == 0 {
            break;
        }
    }
    len
}

/// Takes one whole packet from the start of `buf`: `Ok(None)` until one has fully arrived.
/// Refused as protocol errors: packets over `max_size`, malformed packets, a CONNACK whose
/// remaining length is not 2, and a PUBLISH whose topic is empty, contains U+0000
/// (MQTT-1.5.3-2) or contains a wildcard (MQTT-3.3.2-2).
pub fn read_server_packet(buf: &mut BytesMut, max_size: usize) -> Result<Option<Packet>> {
    match rumqttc::mqttbytes::check(buf.iter(), max_size) {
        Ok(_) => {}
        Err(CodecError::InsufficientBytes(_)) => return Ok(None),
        Err(CodecError::PayloadSizeLimitExceeded(n)) => {
            return Err(protocol(format!(
                "incoming packet of {n} bytes exceeds the {max_size}-byte limit"
            )))
        }
        Err(e) => return Err(protocol(format!("incoming packet: {e}"))),
    }
    if buf[0] >> 4 == 2 && remaining_length(buf) != 2 {
        return Err(protocol(format!(
            "CONNACK with remaining length {}, not 2",
            remaining_length(buf)
        )));
    }
    match Packet::read(buf, max_size) {
        Ok(Packet::Publish(p)) => {
            let bad = if p.topic.is_empty() {
                Some("is empty")
            } else if p.topic.contains('\0') {
                Some("contains U+0000")
            } else if p.topic.contains(['+', '#']) {
                Some("contains a wildcard")
            } else {
                None
            };
            match bad {
                Some(why) => Err(protocol(format!(
                    "server PUBLISH topic {why}: {:?}",
                    p.topic
                ))),
                None => Ok(Some(Packet::Publish(p))),
            }
        }
        Ok(p) => Ok(Some(p)),
        Err(CodecError::InvalidConnectReturnCode(code)) => Err(Error::new(
            jobs_result::ConnectRefused,
            format!("CONNACK return code {code}: unknown return code"),
        )),
        Err(e) => Err(protocol(format!("incoming packet: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mqtt::config::LastWill;
    use rumqttc::mqttbytes::v4::Packet;

    fn cfg() -> ConnectionConfig {
        ConnectionConfig {
            host: "h".into(),
            client_id: "dev-1".into(),
            keep_alive_secs: 30,
            ..ConnectionConfig::default()
        }
    }

    #[test]
    fn v311_connect_decodes_with_rumqttc() {
        let mut c = cfg();
        c.username = Some("user".into());
        c.password = Some("pw".into());
        c.last_will = Some(LastWill {
            topic: "will/t".into(),
            payload: b"bye".to_vec(),
            qos: 1,
            retain: true,
        });
        let mut buf = encode_connect(&c);
        let Packet::Connect(p) = Packet::read(&mut buf, 1024).unwrap() else {
            panic!("not a CONNECT")
        };
        assert_eq!(p.client_id, "dev-1");
        assert_eq!(p.keep_alive, 30);
        assert!(p.clean_session);
        let login = p.login.unwrap();
        assert_eq!(
            (login.username.as_str(), login.password.as_str()),
            ("user", "pw")
        );
        let will = p.last_will.unwrap();
        assert_eq!(will.topic, "will/t");
        assert_eq!(&will.message[..], b"bye");
        assert!(will.retain);
    }

    #[test]
    fn v31_uses_mqisdp_level_3() {
        let mut c = cfg();
        c.protocol = Protocol::Mqtt31;
        c.clean_session = false;
        let buf = encode_connect(&c);
        assert_eq!(buf[0], 0x10);
        assert_eq!(&buf[2..10], b"\x00\x06MQIsdp");
        assert_eq!(buf[10], 3);
        assert_eq!(buf[11], 0, "no clean-session flag");
        assert_eq!(buf[1] as usize, buf.len() - 2);
    }

    #[test]
    fn long_payload_uses_multi_byte_remaining_length() {
        let mut c = cfg();
        c.last_will = Some(LastWill {
            topic: "t".into(),
            payload: vec![7; 20_000],
            qos: 0,
            retain: false,
        });
        let mut buf = encode_connect(&c);
        assert!(matches!(
            Packet::read(&mut buf, 64 * 1024),
            Ok(Packet::Connect(_))
        ));
    }
}
