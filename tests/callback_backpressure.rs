//! Bounded memory under a flood: a server sends QoS 0 notify-next messages far faster than a
//! stalled handler takes them. The connection stops reading its socket once its callback backlog
//! reaches its byte budget, so the flood waits in TCP, not in this process; once the handler
//! resumes, every message is delivered, in order, none dropped.
//!
//! One test in its own binary, so the process's peak RSS (VmHWM) is this scenario's alone.

mod support;

use iotjobs::error::jobs_result;
use iotjobs::ffi::config::*;
use iotjobs::ffi::jobs::*;
use iotjobs::ffi::message::{jobs_message, jobs_message_payload};
use std::ffi::{c_void, CString};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

const MESSAGES: usize = 50_000;
const PAYLOAD: usize = 1024;
const TOPIC: &str = "$aws/things/dev1/jobs/notify-next";
/// Peak RSS growth allowed while the flood is held back. Unbounded queueing takes well over
/// MESSAGES * PAYLOAD (50 MB) here.
const GROWTH_BOUND_KB: u64 = 24 * 1024;

fn status_kb(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

fn qos0_publish(topic: &str, payload: &[u8]) -> Vec<u8> {
    let len = 2 + topic.len() + payload.len();
    assert!((128..16_384).contains(&len), "a two-byte remaining length");
    let mut p = vec![0x30, 0x80 | (len & 0x7f) as u8, (len >> 7) as u8];
    p.extend_from_slice(&(topic.len() as u16).to_be_bytes());
    p.extend_from_slice(topic.as_bytes());
    p.extend_from_slice(payload);
    p
}

/// Reads whole packets from the client; answers CONNECT, SUBSCRIBE and PINGREQ. Returns once
/// the client has subscribed, leaving a thread that keeps answering.
fn serve(listener: TcpListener, sent: Arc<AtomicUsize>) {
    let (stream, _) = listener.accept().unwrap();
    stream.set_nodelay(true).unwrap();
    let mut reader = stream.try_clone().unwrap();
    let writer = Arc::new(std::sync::Mutex::new(stream));
    let (subscribed_tx, subscribed_rx) = std::sync::mpsc::channel();
    let answers = writer.clone();
    thread::spawn(move || {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let n = match reader.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            buf.extend_from_slice(&chunk[..n]);
            while buf.len() >= 2 {
                let (mut len, mut i, mut shift) = (0usize, 1usize, 0);
                while i < buf.len() {
                    len |= ((buf[i] & 0x7f) as usize) << shift;
                    shift += 7;
                    i += 1;
                    if buf[i - 1] & 0x80 == 0 {
                        break;
                    }
                }
                if buf.len() < i + len {
                    break;
                }
                let packet: Vec<u8> = buf.drain(..i + len).collect();
                let reply = match packet[0] >> 4 {
                    1 => vec![0x20, 0x02, 0x00, 0x00],
                    8 => vec![0x90, 0x03, packet[i], packet[i + 1], 0x00],
                    12 => vec![0xd0, 0x00],
                    _ => continue,
                };
                let _ = answers.lock().unwrap().write_all(&reply);
                // The flood starts only after the SUBACK is on its way, as from a real broker.
                if packet[0] >> 4 == 8 {
                    let _ = subscribed_tx.send(());
                }
            }
        }
    });
    subscribed_rx.recv_timeout(Duration::from_secs(20)).unwrap();
    let frame = "{\"timestamp\":1,\"pad\":\"\"}";
    let body = frame.replace(
        "\"\"}",
        &format!("\"{}\"}}", "x".repeat(PAYLOAD - frame.len())),
    );
    assert_eq!(body.len(), PAYLOAD);
    let packet = qos0_publish(TOPIC, body.as_bytes());
    thread::spawn(move || {
        for _ in 0..MESSAGES {
            // Blocks once the client stops reading: that is the backpressure.
            if writer.lock().unwrap().write_all(&packet).is_err() {
                return;
            }
            sent.fetch_add(1, Ordering::SeqCst);
        }
    });
}

struct Handler {
    stalled: AtomicBool,
    delivered: AtomicUsize,
    bad_payloads: AtomicUsize,
}

unsafe extern "C" fn on_notify_next(ud: *mut c_void, m: *const jobs_message) {
    let h = &*(ud as *const Handler);
    let deadline = Instant::now() + Duration::from_secs(60);
    while h.stalled.load(Ordering::SeqCst) && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(5));
    }
    let mut len = 0usize;
    let p = jobs_message_payload(m, &mut len);
    if p.is_null() || len != PAYLOAD {
        h.bad_payloads.fetch_add(1, Ordering::SeqCst);
    }
    h.delivered.fetch_add(1, Ordering::SeqCst);
}

#[test]
fn a_flood_to_a_stalled_handler_is_held_back_by_tcp_and_then_delivered_whole() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let sent = Arc::new(AtomicUsize::new(0));
    let server_sent = sent.clone();
    let server = thread::spawn(move || serve(listener, server_sent));
    let handler = Box::new(Handler {
        stalled: AtomicBool::new(true),
        delivered: AtomicUsize::new(0),
        bad_payloads: AtomicUsize::new(0),
    });
    unsafe {
        let cfg = support::c_api::tcp_config(port, "dev1");
        let thing = CString::new("dev1").unwrap();
        assert_eq!(
            jobs_config_set_thing_name(cfg, thing.as_ptr()),
            jobs_result::Ok
        );
        assert_eq!(
            jobs_config_set_callback_queue_limit(ptr::null_mut(), 1),
            jobs_result::NullArgument
        );
        assert_eq!(
            jobs_config_set_callback_queue_limit(cfg, 64 * 1024),
            jobs_result::Ok
        );
        let mut client = ptr::null_mut();
        assert_eq!(jobs_client_new(cfg, &mut client), jobs_result::Ok);
        jobs_config_free(cfg);
        assert_eq!(jobs_client_connect(client), jobs_result::Ok);
        let before_kb = status_kb("VmHWM:");
        assert_eq!(
            jobs_create_subscription(
                client,
                jobs_topic_type::NotifyNext as u32,
                jobs_reply_type::Request as u32,
                ptr::null(),
                Some(on_notify_next),
                &*handler as *const Handler as *mut c_void,
                ptr::null_mut(),
            ),
            jobs_result::Ok
        );
        server.join().unwrap();
        // Let the flood run until TCP holds it back: the server's count stops moving.
        let mut last = usize::MAX;
        let settle_deadline = Instant::now() + Duration::from_secs(60);
        loop {
            thread::sleep(Duration::from_millis(500));
            let now = sent.load(Ordering::SeqCst);
            if now == last || now == MESSAGES || Instant::now() > settle_deadline {
                break;
            }
            last = now;
        }
        let held_at = sent.load(Ordering::SeqCst);
        let peak_kb = status_kb("VmHWM:");
        let growth = peak_kb.saturating_sub(before_kb);
        println!(
            "flood: server wrote {held_at} of {MESSAGES} messages of {PAYLOAD} bytes before TCP held it back; \
             peak RSS {before_kb} kB -> {peak_kb} kB (+{growth} kB, bound {GROWTH_BOUND_KB} kB)"
        );
        assert!(
            held_at < MESSAGES,
            "the server was never held back: the client read everything"
        );
        assert!(
            growth < GROWTH_BOUND_KB,
            "peak RSS grew by {growth} kB under the flood"
        );
        handler.stalled.store(false, Ordering::SeqCst);
        support::c_api::wait_for("every message delivered", Duration::from_secs(120), || {
            handler.delivered.load(Ordering::SeqCst) == MESSAGES
        });
        assert_eq!(handler.bad_payloads.load(Ordering::SeqCst), 0);
        jobs_client_free(client);
    }
    assert_eq!(
        handler.delivered.load(Ordering::SeqCst),
        MESSAGES,
        "none dropped, none twice"
    );
}
