//! Certificate rotation: the client certificate and key are read again before every
//! reconnect. The emulator is switched to accept only a new certificate, the files are
//! replaced, the client reconnects with the new one, and a request queued while it could not
//! connect is delivered. Through the real `extern "C"` functions; loopback only.

mod support;

use iotjobs::error::jobs_result;
use iotjobs::ffi::config::*;
use iotjobs::ffi::connection::*;
use iotjobs::mqtt::types::{Delivery, Status};
use iotjobs_emulator::{Dir, Emulator, EmulatorConfig, Packet, TlsConfig};
use std::ffi::c_void;
use std::path::Path;
use std::ptr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use support::c_api::{cstr, last_error, ok, wait_for};
use support::certs::certs;

const WAIT: Duration = Duration::from_secs(20);
const ID: &str = "rotating-thing";

/// Replaces `to` with a copy of `from` in one rename, as a provisioning agent would.
fn install(from: &Path, to: &Path) {
    let tmp = to.with_extension("new");
    std::fs::copy(from, &tmp).unwrap();
    std::fs::rename(&tmp, to).unwrap();
}

unsafe extern "C" fn on_ack(ud: *mut c_void, _id: u16, result: jobs_result, _qos: u8) {
    (*(ud as *const AtomicU32)).store(result as u32 + 1, Ordering::SeqCst);
}

#[test]
fn a_rotated_certificate_is_used_from_the_next_reconnect_and_queued_requests_survive() {
    let c = certs();
    let dir = support::scratch_dir("cert-rotation", 0o700);
    let (cert, key) = (dir.join("client.crt"), dir.join("client.key"));
    install(&c.client_ec_cert, &cert);
    install(&c.client_ec_pkcs8_key, &key);
    let emu = Emulator::start(EmulatorConfig {
        tls: Some(TlsConfig {
            bind: "127.0.0.1:0".parse().unwrap(),
            cert: c.server_cert.clone(),
            key: c.server_key.clone(),
            client_ca: c.ca.clone(),
        }),
        ..EmulatorConfig::default()
    })
    .unwrap();
    let port = emu.tls_addr().unwrap().port();
    let acked = AtomicU32::new(0);
    unsafe {
        let cfg = support::c_api::tcp_config(port, ID);
        let host = cstr("localhost");
        ok(
            jobs_config_set_endpoint(cfg, host.as_ptr(), port),
            "endpoint",
        );
        ok(
            jobs_config_set_transport(cfg, jobs_transport::Tls as u32),
            "transport",
        );
        let p = |p: &Path| cstr(p.to_str().unwrap());
        ok(jobs_config_set_ca_file(cfg, p(&c.ca).as_ptr()), "ca");
        ok(jobs_config_set_cert_file(cfg, p(&cert).as_ptr()), "cert");
        ok(jobs_config_set_key_file(cfg, p(&key).as_ptr()), "key");
        ok(
            jobs_config_set_backoff(cfg, 50, 200, 10_000, false),
            "backoff",
        );
        let mut conn = ptr::null_mut();
        ok(jobs_connection_new(cfg, &mut conn), "connection_new");
        jobs_config_free(cfg);
        ok(
            jobs_connection_connect(conn),
            "connect with the first certificate",
        );

        // The server now trusts only certificates of the other CA: the old one is refused.
        emu.set_tls_client_ca(&c.other_ca).unwrap();
        assert!(emu.cut(ID));
        wait_for("offline", WAIT, || {
            jobs_connection_get_state(conn) == Status::Connecting as u32
        });
        let (topic, payload) = (cstr("rotation/queued"), b"sent while offline");
        let mut delivery = 99u32;
        ok(
            jobs_connection_publish_async(
                conn,
                topic.as_ptr(),
                payload.as_ptr(),
                payload.len(),
                1,
                false,
                Some(on_ack),
                &acked as *const AtomicU32 as *mut c_void,
                ptr::null_mut(),
                &mut delivery,
            ),
            "queue a publish",
        );
        assert_eq!(delivery, Delivery::Queued as u32);
        // A few refused attempts with the old certificate, then the new one is installed.
        std::thread::sleep(Duration::from_millis(500));
        assert_ne!(jobs_connection_get_state(conn), Status::Online as u32);
        install(&c.other_client_cert, &cert);
        install(&c.other_client_key, &key);
        wait_for("online with the new certificate", WAIT, || {
            jobs_connection_get_state(conn) == Status::Online as u32
        });
        wait_for("the queued publish acknowledged", WAIT, || {
            acked.load(Ordering::SeqCst) != 0
        });
        assert_eq!(
            acked.load(Ordering::SeqCst),
            jobs_result::Ok as u32 + 1,
            "{}",
            last_error()
        );
        jobs_connection_free(conn);
    }
    let delivered = emu
        .records()
        .iter()
        .filter(|r| r.dir == Dir::In && r.client_id == ID)
        .filter(
            |r| matches!(&r.packet, Packet::Publish(p) if &p.payload[..] == b"sent while offline"),
        )
        .count();
    assert_eq!(delivered, 1);
}

/// A certificate provider: hands out pair `current` of `pairs` (read from the files on
/// every call), or fails with `rc`.
struct PemProvider {
    pairs: Vec<(std::path::PathBuf, std::path::PathBuf)>,
    current: std::sync::atomic::AtomicUsize,
    rc: i32,
    calls: std::sync::atomic::AtomicUsize,
}

unsafe extern "C" fn provide_pem(ud: *mut c_void, sink: *mut jobs_pem_sink) -> i32 {
    let p = &*(ud as *const PemProvider);
    p.calls.fetch_add(1, Ordering::SeqCst);
    if p.rc != 0 {
        return p.rc;
    }
    let (cert, key) = &p.pairs[p.current.load(Ordering::SeqCst)];
    let (cert, key) = (std::fs::read(cert).unwrap(), std::fs::read(key).unwrap());
    let r = jobs_pem_set(sink, cert.as_ptr(), cert.len(), key.as_ptr(), key.len());
    assert_eq!(r, jobs_result::Ok);
    0
}

fn tls_emulator() -> Emulator {
    support::certs::mtls_emulator()
}

unsafe fn provider_config(emu: &Emulator, id: &str, p: &PemProvider) -> *mut jobs_config {
    let c = certs();
    let port = emu.tls_addr().unwrap().port();
    let cfg = support::c_api::tcp_config(port, id);
    let host = cstr("localhost");
    ok(
        jobs_config_set_endpoint(cfg, host.as_ptr(), port),
        "endpoint",
    );
    ok(
        jobs_config_set_transport(cfg, jobs_transport::Tls as u32),
        "transport",
    );
    let ca = cstr(c.ca.to_str().unwrap());
    ok(jobs_config_set_ca_file(cfg, ca.as_ptr()), "ca");
    ok(
        jobs_config_set_backoff(cfg, 50, 200, 10_000, false),
        "backoff",
    );
    ok(
        jobs_config_set_cert_provider(
            cfg,
            Some(provide_pem),
            p as *const PemProvider as *mut c_void,
        ),
        "cert provider",
    );
    cfg
}

#[test]
fn a_certificate_provider_is_asked_before_every_reconnect() {
    let c = certs();
    let emu = tls_emulator();
    let p = PemProvider {
        pairs: vec![
            (c.client_ec_cert.clone(), c.client_ec_pkcs8_key.clone()),
            (c.other_client_cert.clone(), c.other_client_key.clone()),
        ],
        current: 0.into(),
        rc: 0,
        calls: 0.into(),
    };
    let acked = AtomicU32::new(0);
    unsafe {
        let cfg = provider_config(&emu, "pem-provider", &p);
        let mut conn = ptr::null_mut();
        ok(jobs_connection_new(cfg, &mut conn), "connection_new");
        jobs_config_free(cfg);
        ok(jobs_connection_connect(conn), "connect with the first pair");
        emu.set_tls_client_ca(&c.other_ca).unwrap();
        assert!(emu.cut("pem-provider"));
        wait_for("offline", WAIT, || {
            jobs_connection_get_state(conn) == Status::Connecting as u32
        });
        let (topic, payload) = (cstr("rotation/queued"), b"queued for the provider");
        let mut delivery = 99u32;
        ok(
            jobs_connection_publish_async(
                conn,
                topic.as_ptr(),
                payload.as_ptr(),
                payload.len(),
                1,
                false,
                Some(on_ack),
                &acked as *const AtomicU32 as *mut c_void,
                ptr::null_mut(),
                &mut delivery,
            ),
            "queue a publish",
        );
        assert_eq!(delivery, Delivery::Queued as u32);
        let before = p.calls.load(Ordering::SeqCst);
        wait_for("refused attempts with the old pair", WAIT, || {
            p.calls.load(Ordering::SeqCst) >= before + 2
        });
        assert_ne!(jobs_connection_get_state(conn), Status::Online as u32);
        p.current.store(1, Ordering::SeqCst);
        wait_for("online with the new pair", WAIT, || {
            jobs_connection_get_state(conn) == Status::Online as u32
        });
        wait_for("the queued publish acknowledged", WAIT, || {
            acked.load(Ordering::SeqCst) != 0
        });
        assert_eq!(acked.load(Ordering::SeqCst), jobs_result::Ok as u32 + 1);
        jobs_connection_free(conn);
    }
    let calls = p.calls.load(Ordering::SeqCst);
    // Nothing is asked after the free returned.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(p.calls.load(Ordering::SeqCst), calls);
}

#[test]
fn a_failing_certificate_provider_or_one_beside_a_certificate_is_a_tls_config_error() {
    let c = certs();
    let emu = tls_emulator();
    let failing = PemProvider {
        pairs: Vec::new(),
        current: 0.into(),
        rc: 3,
        calls: 0.into(),
    };
    unsafe {
        let cfg = provider_config(&emu, "pem-failing", &failing);
        let mut conn = ptr::null_mut();
        assert_eq!(jobs_connection_new(cfg, &mut conn), jobs_result::TlsConfig);
        assert!(last_error().contains("returned 3"), "{}", last_error());
        let cert = cstr(c.client_ec_cert.to_str().unwrap());
        ok(jobs_config_set_cert_file(cfg, cert.as_ptr()), "cert");
        assert_eq!(jobs_connection_new(cfg, &mut conn), jobs_result::TlsConfig);
        assert!(last_error().contains("exclude"), "{}", last_error());
        jobs_config_free(cfg);
        assert_eq!(
            jobs_config_set_cert_provider(ptr::null_mut(), Some(provide_pem), ptr::null_mut()),
            jobs_result::NullArgument
        );
        let pem = b"x";
        assert_eq!(
            jobs_pem_set(ptr::null_mut(), pem.as_ptr(), 1, ptr::null(), 0),
            jobs_result::NullArgument
        );
    }
    assert_eq!(failing.calls.load(Ordering::SeqCst), 1);
}
