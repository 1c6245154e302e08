//! Bounded random input: malformed packets close that connection, never the server.
mod common;

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use common::Raw;
use iotjobs_emulator::{Emulator, EmulatorConfig};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

#[test]
fn random_bytes_never_take_the_server_down() {
    let e = Emulator::start(EmulatorConfig {
        connect_timeout: Duration::from_millis(300),
        ..Default::default()
    })
    .unwrap();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let connect = {
        let mut b = bytes::BytesMut::new();
        iotjobs_emulator::Packet::Connect(rumqttc::mqttbytes::v4::Connect::new("fz"))
            .write(&mut b, 1024)
            .unwrap();
        b.to_vec()
    };
    for i in 0..150 {
        let mut s = TcpStream::connect(e.mqtt_addr()).unwrap();
        s.set_write_timeout(Some(Duration::from_secs(2))).unwrap();
        let mut data = Vec::new();
        if i % 2 == 0 {
            data.extend_from_slice(&connect);
        }
        // a plausible packet type nibble followed by random bytes
        let n = (rng.next() % 64) as usize + 1;
        let mut junk = rng.bytes(n);
        junk[0] = (junk[0] & 0xf0) | (rng.next() as u8 & 0x0f);
        data.extend(junk);
        let _ = s.write_all(&data);
    }
    // connections with junk get closed; the server still serves
    std::thread::sleep(Duration::from_millis(400));
    let mut ok = Raw::connect(e.mqtt_addr(), "after-fuzz");
    ok.send(iotjobs_emulator::Packet::PingReq);
    assert!(matches!(ok.recv(), iotjobs_emulator::Packet::PingResp));
}

#[test]
fn random_connect_bodies_do_not_panic_the_parser() {
    let mut rng = Rng(42);
    for _ in 0..5000 {
        let n = (rng.next() % 80) as usize;
        let mut v = vec![0x10, n as u8];
        v.extend(rng.bytes(n));
        if rng.next() % 2 == 0 && n >= 8 {
            v[2..10].copy_from_slice(&[0, 4, b'M', b'Q', b'T', b'T', 4, 0x02]);
        }
        let mut b = bytes::BytesMut::from(&v[..]);
        let _ = iotjobs_emulator::connect::read_connect(&mut b, 1 << 16);
    }
}
