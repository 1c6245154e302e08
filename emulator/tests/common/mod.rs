//! A tiny blocking MQTT test client on the same codec (no dependency on the client library).
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use iotjobs_emulator::Packet;
use rumqttc::mqttbytes::v4::{ConnAck, Connect, PubAck, Publish, Subscribe};
use rumqttc::mqttbytes::QoS;

pub struct Raw {
    pub s: TcpStream,
    buf: BytesMut,
    pkid: u16,
}

impl Raw {
    pub fn tcp(addr: SocketAddr) -> Raw {
        let s = TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        Raw {
            s,
            buf: BytesMut::new(),
            pkid: 0,
        }
    }

    pub fn send(&mut self, p: Packet) {
        let mut b = BytesMut::new();
        p.write(&mut b, 1 << 24).unwrap();
        self.s.write_all(&b).unwrap();
    }

    pub fn send_raw(&mut self, b: &[u8]) {
        self.s.write_all(b).unwrap();
    }

    /// Next packet within `t`, None on timeout; panics on EOF unless `eof_ok`.
    pub fn recv_within(&mut self, t: Duration) -> Result<Option<Packet>, ()> {
        let end = Instant::now() + t;
        loop {
            match Packet::read(&mut self.buf, 1 << 24) {
                Ok(p) => return Ok(Some(p)),
                Err(rumqttc::mqttbytes::Error::InsufficientBytes(_)) => {}
                Err(e) => panic!("decode: {e}"),
            }
            if Instant::now() >= end {
                return Ok(None);
            }
            let mut tmp = [0u8; 4096];
            match self.s.read(&mut tmp) {
                Ok(0) => return Err(()),
                Ok(n) => self.buf.extend_from_slice(&tmp[..n]),
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(_) => return Err(()),
            }
        }
    }

    pub fn recv(&mut self) -> Packet {
        self.recv_within(Duration::from_secs(5))
            .expect("connection closed")
            .expect("no packet in 5 s")
    }

    /// True when the server closes the connection within `t`.
    pub fn closed_within(&mut self, t: Duration) -> bool {
        let end = Instant::now() + t;
        while Instant::now() < end {
            if self.recv_within(Duration::from_millis(50)).is_err() {
                return true;
            }
        }
        false
    }

    pub fn connect_with(addr: SocketAddr, c: Connect) -> (Raw, ConnAck) {
        let mut r = Raw::tcp(addr);
        r.send(Packet::Connect(c));
        match r.recv() {
            Packet::ConnAck(a) => (r, a),
            p => panic!("expected CONNACK, got {p:?}"),
        }
    }

    pub fn connect(addr: SocketAddr, id: &str) -> Raw {
        let mut c = Connect::new(id);
        c.keep_alive = 60;
        let (r, a) = Raw::connect_with(addr, c);
        assert_eq!(a.code, rumqttc::mqttbytes::v4::ConnectReturnCode::Success);
        r
    }

    pub fn next_pkid(&mut self) -> u16 {
        self.pkid = self.pkid.wrapping_add(1).max(1);
        self.pkid
    }

    pub fn subscribe(
        &mut self,
        filter: &str,
        qos: QoS,
    ) -> Vec<rumqttc::mqttbytes::v4::SubscribeReasonCode> {
        let mut s = Subscribe::new(filter, qos);
        s.pkid = self.next_pkid();
        self.send(Packet::Subscribe(s));
        loop {
            match self.recv() {
                Packet::SubAck(a) => return a.return_codes,
                _ => continue,
            }
        }
    }

    pub fn publish(&mut self, topic: &str, payload: &[u8], qos: QoS) {
        let mut p = Publish::new(topic, qos, payload.to_vec());
        if qos != QoS::AtMostOnce {
            p.pkid = self.next_pkid();
        }
        self.send(Packet::Publish(p));
    }

    /// Next PUBLISH (skipping acks), PUBACKing QoS 1.
    pub fn next_publish(&mut self, t: Duration) -> Option<Publish> {
        let end = Instant::now() + t;
        while Instant::now() < end {
            match self.recv_within(Duration::from_millis(50)) {
                Ok(Some(Packet::Publish(p))) => {
                    if p.qos == QoS::AtLeastOnce {
                        self.send(Packet::PubAck(PubAck::new(p.pkid)));
                    }
                    return Some(p);
                }
                Ok(_) => {}
                Err(()) => return None,
            }
        }
        None
    }
}
