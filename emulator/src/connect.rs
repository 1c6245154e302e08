//! CONNECT parsing for MQTT 3.1.1 ("MQTT", level 4) **and** MQTT 3.1 ("MQIsdp", level 3).
//!
//! rumqttc's `Connect::read` rejects MQTT 3.1, so the first packet of every connection is framed
//! and parsed here; everything after it goes through `Packet::read`.

use bytes::{Buf, Bytes, BytesMut};
use rumqttc::mqttbytes::v4::{Connect, LastWill, Login};
use rumqttc::mqttbytes::{Protocol, QoS};

/// A parsed CONNECT with the protocol level the client asked for.
#[derive(Debug, Clone)]
pub struct ParsedConnect {
    pub connect: Connect,
    /// 3 for MQTT 3.1, 4 for MQTT 3.1.1.
    pub level: u8,
    /// The password as sent (`connect.login` holds it decoded lossily as UTF-8).
    pub raw_password: Option<Vec<u8>>,
}

/// Why the first packet is not an acceptable CONNECT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectError {
    /// The first packet is not a CONNECT: close without CONNACK.
    NotConnect(u8),
    /// Malformed bytes: close without CONNACK.
    Malformed(&'static str),
    /// Protocol name/level unknown: CONNACK 0x01 then close (MQTT 3.1.1 section 3.1.2.2).
    UnacceptableProtocol { name: String, level: u8 },
    /// Longer than the limit.
    TooLarge(usize),
}

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnectError::NotConnect(t) => write!(f, "first packet is type {t}, not CONNECT"),
            ConnectError::Malformed(w) => write!(f, "malformed CONNECT: {w}"),
            ConnectError::UnacceptableProtocol { name, level } => {
                write!(f, "unsupported protocol {name:?} level {level}")
            }
            ConnectError::TooLarge(n) => write!(f, "CONNECT of {n} bytes is too large"),
        }
    }
}

/// Parses the fixed header; `Ok(None)` when more bytes are needed.
/// Returns (packet type nibble, header length, remaining length).
pub fn fixed_header(buf: &[u8]) -> Result<Option<(u8, usize, usize)>, ConnectError> {
    if buf.len() < 2 {
        return Ok(None);
    }
    let mut len = 0usize;
    let mut shift = 0;
    for (i, b) in buf[1..].iter().enumerate() {
        len += ((*b & 0x7f) as usize) << shift;
        if b & 0x80 == 0 {
            return Ok(Some((buf[0] >> 4, 2 + i, len)));
        }
        shift += 7;
        if shift > 21 {
            return Err(ConnectError::Malformed("remaining length"));
        }
    }
    Ok(None)
}

fn take_u8(b: &mut Bytes) -> Result<u8, ConnectError> {
    if b.remaining() < 1 {
        return Err(ConnectError::Malformed("truncated"));
    }
    Ok(b.get_u8())
}

fn take_u16(b: &mut Bytes) -> Result<u16, ConnectError> {
    if b.remaining() < 2 {
        return Err(ConnectError::Malformed("truncated"));
    }
    Ok(b.get_u16())
}

fn take_bytes(b: &mut Bytes) -> Result<Bytes, ConnectError> {
    let n = take_u16(b)? as usize;
    if b.remaining() < n {
        return Err(ConnectError::Malformed("string crosses packet end"));
    }
    Ok(b.split_to(n))
}

fn take_string(b: &mut Bytes) -> Result<String, ConnectError> {
    String::from_utf8(take_bytes(b)?.to_vec()).map_err(|_| ConnectError::Malformed("not UTF-8"))
}

/// Tries to take one CONNECT from the front of `buf`. `Ok(None)`: need more bytes.
pub fn read_connect(buf: &mut BytesMut, max: usize) -> Result<Option<ParsedConnect>, ConnectError> {
    let Some((ptype, hlen, rlen)) = fixed_header(buf)? else {
        return Ok(None);
    };
    if ptype != 1 {
        return Err(ConnectError::NotConnect(ptype));
    }
    if buf[0] & 0x0f != 0 {
        return Err(ConnectError::Malformed("reserved flags set"));
    }
    if rlen > max {
        return Err(ConnectError::TooLarge(rlen));
    }
    if buf.len() < hlen + rlen {
        return Ok(None);
    }
    let mut frame = buf.split_to(hlen + rlen).freeze();
    frame.advance(hlen);
    parse_body(frame).map(Some)
}

fn parse_body(mut b: Bytes) -> Result<ParsedConnect, ConnectError> {
    let name = take_string(&mut b)?;
    let level = take_u8(&mut b)?;
    match (name.as_str(), level) {
        ("MQTT", 4) | ("MQIsdp", 3) => {}
        _ => return Err(ConnectError::UnacceptableProtocol { name, level }),
    }
    let flags = take_u8(&mut b)?;
    if flags & 0x01 != 0 {
        return Err(ConnectError::Malformed("reserved connect flag set"));
    }
    let keep_alive = take_u16(&mut b)?;
    let client_id = take_string(&mut b)?;
    let last_will = if flags & 0x04 != 0 {
        let topic = take_string(&mut b)?;
        let message = take_bytes(&mut b)?;
        let qos = match (flags >> 3) & 0x03 {
            0 => QoS::AtMostOnce,
            1 => QoS::AtLeastOnce,
            2 => QoS::ExactlyOnce,
            _ => return Err(ConnectError::Malformed("will QoS 3")),
        };
        Some(LastWill {
            topic,
            message,
            qos,
            retain: flags & 0x20 != 0,
        })
    } else {
        if flags & 0x38 != 0 {
            return Err(ConnectError::Malformed("will flags without will"));
        }
        None
    };
    let username = if flags & 0x80 != 0 {
        Some(take_string(&mut b)?)
    } else {
        None
    };
    let raw_password = if flags & 0x40 != 0 {
        Some(take_bytes(&mut b)?.to_vec())
    } else {
        None
    };
    let password = raw_password
        .as_ref()
        .map(|p| String::from_utf8_lossy(p).into_owned());
    let login = match (username, password) {
        (None, None) => None,
        (u, p) => Some(Login {
            username: u.unwrap_or_default(),
            password: p.unwrap_or_default(),
        }),
    };
    Ok(ParsedConnect {
        connect: Connect {
            protocol: Protocol::V4,
            keep_alive,
            client_id,
            clean_session: flags & 0x02 != 0,
            last_will,
            login,
        },
        level,
        raw_password,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rumqttc::mqttbytes::v4::Packet;

    fn encode(c: &Connect) -> BytesMut {
        let mut b = BytesMut::new();
        Packet::Connect(c.clone()).write(&mut b, 1 << 20).unwrap();
        b
    }

    #[test]
    fn parses_311_like_rumqttc() {
        let mut c = Connect::new("dev-1");
        c.keep_alive = 30;
        c.clean_session = false;
        c.last_will = Some(LastWill::new("w/t", "bye", QoS::AtLeastOnce, false));
        c.set_login("user", "pw");
        let mut b = encode(&c);
        b.extend_from_slice(&[0xc0, 0x00]); // a PINGREQ after it stays in the buffer
        let p = read_connect(&mut b, 1 << 20).unwrap().unwrap();
        assert_eq!(p.level, 4);
        assert_eq!(p.connect, c);
        assert_eq!(&b[..], &[0xc0, 0x00]);
    }

    #[test]
    fn parses_31_mqisdp() {
        let mut v = vec![0x10, 0];
        let body: Vec<u8> = [&[0, 6][..], b"MQIsdp", &[3, 0x02, 0, 60, 0, 3], b"abc"].concat();
        v[1] = body.len() as u8;
        v.extend(body);
        let mut b = BytesMut::from(&v[..]);
        let p = read_connect(&mut b, 1024).unwrap().unwrap();
        assert_eq!(p.level, 3);
        assert_eq!(p.connect.client_id, "abc");
        assert!(p.connect.clean_session);
        assert_eq!(p.connect.keep_alive, 60);
    }

    #[test]
    fn partial_and_bad_input() {
        let c = Connect::new("x");
        let full = encode(&c);
        for cut in 0..full.len() {
            let mut b = BytesMut::from(&full[..cut]);
            assert!(read_connect(&mut b, 1024).unwrap().is_none(), "cut {cut}");
        }
        let mut b = BytesMut::from(&[0x30u8, 0x00][..]);
        assert_eq!(
            read_connect(&mut b, 1024).unwrap_err(),
            ConnectError::NotConnect(3)
        );
        let mut b = BytesMut::from(&[0x10u8, 0xff, 0xff, 0xff, 0xff, 0x01][..]);
        assert!(read_connect(&mut b, 1024).is_err());
        // level 5 is refused with a protocol error, not a panic
        let mut bad = encode(&c);
        bad[8] = 5;
        assert!(matches!(
            read_connect(&mut bad, 1024),
            Err(ConnectError::UnacceptableProtocol { level: 5, .. })
        ));
        // a string length running past the end
        let mut b = BytesMut::from(&[0x10u8, 0x04, 0x00, 0x09, b'M', b'Q'][..]);
        assert!(matches!(
            read_connect(&mut b, 1024),
            Err(ConnectError::Malformed(_))
        ));
    }
}
