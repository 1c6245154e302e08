//! Mutual TLS with the private key in a PKCS#11 token (`jobs_config_set_pkcs11`), against a
//! SoftHSM2 token made for this test process: the RSA and EC test client keys complete mutual
//! TLS with the emulator (with a jobs request round trip) and with mosquitto requiring client
//! certificates; every way the token can be wrong (PIN, key label, token label, slot, module,
//! key type, a key file as well) fails `jobs_connection_new` / `jobs_client_new` with
//! `JOBS_RESULT_TLS_CONFIG` and a message saying which; a C program does the same through the
//! header, with the bad-input cases. Needs softhsm2 (and mosquitto): `.ci/run` installs both and
//! runs this with `--features pkcs11 -- --ignored`. Loopback only.

mod support;

use iotjobs::error::jobs_result;
use iotjobs::ffi::config::*;
use iotjobs::ffi::connection::*;
use iotjobs::ffi::jobs::*;
use iotjobs::ffi::message::*;
use iotjobs::ffi::requests::*;
use iotjobs_emulator::Emulator;
use serde_json::json;
use std::ffi::CString;
use std::path::Path;
use std::ptr;
use std::sync::{RwLock, RwLockReadGuard};
use std::time::Duration;
use support::c_api::{connect_publish_free, cstr, last_error, ok};
use support::certs::certs;
use support::cprog::{limit, Programs};
use support::mosquitto::{MosqOpts, Mosquitto};
use support::softhsm::{self, MODULE, PIN, TOKEN};

/// Held shared by every test, and exclusively by the one that logs the process out of the
/// token (login state is per process, so it would fail the others' handshakes).
static TOKEN_USE: RwLock<()> = RwLock::new(());

fn shared() -> RwLockReadGuard<'static, ()> {
    TOKEN_USE.read().unwrap_or_else(|p| p.into_inner())
}

fn emulator() -> Emulator {
    support::certs::mtls_emulator()
}

/// Where the key is: a token label or a slot id.
#[derive(Clone, Copy)]
enum Tok<'a> {
    Label(&'a str),
    Slot(u64),
}

struct P11<'a> {
    module: &'a str,
    token: Tok<'a>,
    pin: &'a str,
    key: &'a str,
    id: Option<&'a [u8]>,
}

fn p11(key: &str) -> P11<'_> {
    P11 {
        module: MODULE,
        token: Tok::Label(TOKEN),
        pin: PIN,
        key,
        id: None,
    }
}

/// A TLS config for localhost:`port` with the CA, `cert` and the PKCS#11 key of `p`.
unsafe fn config(
    port: u16,
    id: &str,
    thing: Option<&str>,
    cert: Option<&Path>,
    p: &P11,
) -> *mut jobs_config {
    softhsm::token();
    let c = certs();
    let mut cfg = ptr::null_mut();
    ok(jobs_config_new(&mut cfg), "config_new");
    let host = cstr("localhost");
    ok(
        jobs_config_set_endpoint(cfg, host.as_ptr(), port),
        "endpoint",
    );
    ok(
        jobs_config_set_transport(cfg, jobs_transport::Tls as u32),
        "transport",
    );
    let cid = cstr(id);
    ok(jobs_config_set_client_id(cfg, cid.as_ptr()), "client id");
    if let Some(t) = thing {
        let t = cstr(t);
        ok(jobs_config_set_thing_name(cfg, t.as_ptr()), "thing");
        ok(jobs_config_set_jobs_qos(cfg, 1), "qos");
    }
    ok(jobs_config_set_timeouts(cfg, 10_000, 10_000), "timeouts");
    let ca = cstr(c.ca.to_str().unwrap());
    ok(jobs_config_set_ca_file(cfg, ca.as_ptr()), "ca");
    if let Some(cert) = cert {
        let cert = cstr(cert.to_str().unwrap());
        ok(jobs_config_set_cert_file(cfg, cert.as_ptr()), "cert");
    }
    ok(set_pkcs11(cfg, p), "set_pkcs11");
    cfg
}

unsafe fn set_pkcs11(cfg: *mut jobs_config, p: &P11) -> jobs_result {
    let module = cstr(p.module);
    let pin = cstr(p.pin);
    let key = cstr(p.key);
    let label: Option<CString>;
    let mut a = std::mem::zeroed::<jobs_pkcs11_args>();
    ok(jobs_pkcs11_args_init(&mut a), "args_init");
    a.module_path = module.as_ptr();
    match p.token {
        Tok::Label(l) => {
            label = Some(cstr(l));
            a.token_label = label.as_ref().unwrap().as_ptr();
        }
        Tok::Slot(id) => {
            label = None;
            a.has_slot_id = true;
            a.slot_id = id;
        }
    }
    a.user_pin = pin.as_ptr();
    a.key_label = key.as_ptr();
    if let Some(id) = p.id {
        a.key_id = id.as_ptr();
        a.key_id_len = id.len();
    }
    let rc = jobs_config_set_pkcs11(cfg, &a);
    drop(label);
    rc
}

/// `jobs_connection_new` with `p`: its result and message; connects and publishes when it worked.
unsafe fn connect(port: u16, id: &str, cert: &Path, p: &P11) -> (jobs_result, String) {
    let cfg = config(port, id, None, Some(cert), p);
    let mut conn = ptr::null_mut();
    let rc = jobs_connection_new(cfg, &mut conn);
    let msg = last_error();
    jobs_config_free(cfg);
    if rc != jobs_result::Ok {
        assert!(conn.is_null());
        return (rc, msg);
    }
    connect_publish_free(conn, "pkcs11/t")
}

/// A jobs client for `thing` with the key `key`: connects and reads the pending jobs.
unsafe fn jobs_round_trip(emu: &Emulator, thing: &str, cert: &Path, key: &str) {
    let port = emu.tls_addr().expect("TLS listener").port();
    let cfg = config(port, thing, Some(thing), Some(cert), &p11(key));
    let mut client = ptr::null_mut();
    ok(jobs_client_new(cfg, &mut client), "jobs_client_new");
    jobs_config_free(cfg);
    ok(jobs_client_connect(client), "jobs_client_connect");
    let mut g = std::mem::zeroed::<jobs_get_pending_args>();
    ok(jobs_get_pending_args_init(&mut g), "args");
    let mut reply = ptr::null_mut();
    ok(jobs_get_pending(client, &g, &mut reply), "get pending");
    let m = jobs_reply_message(reply);
    assert_eq!(jobs_message_reply_type(m), jobs_reply_type::Accepted as u32);
    assert_eq!(jobs_message_pending_count(m, jobs_status::Queued as u32), 1);
    jobs_reply_free(reply);
    jobs_client_free(client);
}

#[test]
#[ignore = "needs softhsm2: run by .ci/run with --ignored"]
fn rsa_and_ec_keys_in_the_token_connect_to_the_emulator_and_read_their_jobs() {
    let _token = shared();
    let emu = emulator();
    let c = certs();
    emu.create_job(
        "p11-job",
        json!({"operation": "x"}),
        &["thing-rsa", "thing-ec"],
    )
    .unwrap();
    unsafe {
        jobs_round_trip(&emu, "thing-rsa", &c.client_rsa_cert, "thing-rsa");
        jobs_round_trip(&emu, "thing-ec", &c.client_ec_cert, "thing-ec");
        // By slot id and with the key id too.
        let port = emu.tls_addr().unwrap().port();
        let p = P11 {
            token: Tok::Slot(softhsm::token().slot_id),
            id: Some(&[0x02]),
            ..p11("thing-ec")
        };
        let r = connect(port, "p11-slot", &c.client_ec_cert, &p);
        assert_eq!(r.0, jobs_result::Ok, "{}", r.1);
    }
}

#[test]
#[ignore = "needs softhsm2: run by .ci/run with --ignored"]
fn rsa_and_ec_keys_in_the_token_connect_to_mosquitto_requiring_certificates() {
    let _token = shared();
    let c = certs();
    let broker = Mosquitto::start(MosqOpts {
        tls: true,
        require_cert: true,
        websockets: false,
    });
    unsafe {
        for (cert, key) in [
            (&c.client_rsa_cert, "thing-rsa"),
            (&c.client_ec_cert, "thing-ec"),
        ] {
            let r = connect(broker.tls_port(), &format!("p11-{key}"), cert, &p11(key));
            assert_eq!(r.0, jobs_result::Ok, "{key}: {}", r.1);
            // The broker took the certificate's CN as the user: the client certificate was used.
            assert!(
                broker.wait_for_log(&format!("u'{key}'"), Duration::from_secs(5)),
                "{}",
                broker.log()
            );
        }
    }
}

/// Creation fails with TLS_CONFIG and a message holding `needle`.
fn refused(p: &P11, cert: &Path, needle: &str) {
    let (rc, msg) = unsafe { connect(1, "p11-bad", cert, p) };
    assert_eq!(rc, jobs_result::TlsConfig, "{msg}");
    assert!(msg.contains(needle), "{needle:?} not in {msg:?}");
}

#[test]
#[ignore = "needs softhsm2: run by .ci/run with --ignored"]
fn every_wrong_token_setting_fails_creation_saying_which() {
    let _token = shared();
    let c = certs();
    let ec = &c.client_ec_cert;
    softhsm::token();
    refused(
        &P11 {
            pin: "9999",
            ..p11("thing-ec")
        },
        ec,
        "PKCS#11: login to token \"iotjobs\" failed: the PIN is incorrect",
    );
    refused(
        &p11("no-such-key"),
        ec,
        "PKCS#11: no private key labelled \"no-such-key\" on token \"iotjobs\"",
    );
    refused(
        &P11 {
            id: Some(&[0x07]),
            ..p11("thing-ec")
        },
        ec,
        "no private key labelled \"thing-ec\" with id 07",
    );
    refused(
        &P11 {
            token: Tok::Label("nope"),
            ..p11("thing-ec")
        },
        ec,
        "PKCS#11: no token labelled \"nope\" (tokens present: \"iotjobs\"",
    );
    refused(
        &P11 {
            token: Tok::Slot(424242),
            ..p11("thing-ec")
        },
        ec,
        "PKCS#11: no slot 424242 with a token",
    );
    refused(
        &P11 {
            module: "/nonexistent/libpkcs11.so",
            ..p11("thing-ec")
        },
        ec,
        "PKCS#11 module /nonexistent/libpkcs11.so: cannot be opened",
    );
    let not_module = softhsm::token().dir.join("not-a-module.so");
    std::fs::write(&not_module, "this is text\n").unwrap();
    refused(
        &P11 {
            module: not_module.to_str().unwrap(),
            ..p11("thing-ec")
        },
        ec,
        "not a PKCS#11 module: it cannot be loaded as a shared library",
    );
    // A shared library, but not a PKCS#11 module: one built here with a single function.
    let dir = softhsm::token().dir.clone();
    let src = dir.join("not-pkcs11.c");
    std::fs::write(&src, "int not_pkcs11(void) { return 1; }\n").unwrap();
    let so = dir.join("libnot-pkcs11.so");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let built = std::process::Command::new(&cc)
        .args(["-shared", "-fPIC", "-o"])
        .arg(&so)
        .arg(&src)
        .status()
        .unwrap_or_else(|e| panic!("{cc}: {e}"));
    assert!(
        built.success() && so.is_file(),
        "{cc} could not build {}",
        so.display()
    );
    refused(
        &P11 {
            module: so.to_str().unwrap(),
            ..p11("thing-ec")
        },
        ec,
        "not a PKCS#11 module: it has no C_GetFunctionList",
    );
    refused(&p11("thing-k1"), ec, "unsupported EC curve");
}

#[test]
#[ignore = "needs softhsm2: run by .ci/run with --ignored"]
fn a_pkcs11_key_excludes_a_key_file_and_a_key_signer_and_needs_a_certificate() {
    let _token = shared();
    let c = certs();
    unsafe {
        let cfg = config(
            1,
            "p11-both",
            None,
            Some(&c.client_ec_cert),
            &p11("thing-ec"),
        );
        let key = cstr(c.client_ec_pkcs8_key.to_str().unwrap());
        ok(jobs_config_set_key_file(cfg, key.as_ptr()), "key file");
        let mut conn = ptr::null_mut();
        assert_eq!(jobs_connection_new(cfg, &mut conn), jobs_result::TlsConfig);
        assert!(
            last_error().contains("a PKCS#11 key and a client key exclude each other"),
            "{}",
            last_error()
        );
        jobs_config_free(cfg);

        let mut cfg = ptr::null_mut();
        ok(jobs_config_new(&mut cfg), "config_new");
        let host = cstr("localhost");
        ok(jobs_config_set_endpoint(cfg, host.as_ptr(), 1), "endpoint");
        ok(
            jobs_config_set_transport(cfg, jobs_transport::Tls as u32),
            "transport",
        );
        let ca = cstr(c.ca.to_str().unwrap());
        ok(jobs_config_set_ca_file(cfg, ca.as_ptr()), "ca");
        ok(set_pkcs11(cfg, &p11("thing-ec")), "pkcs11");
        assert_eq!(jobs_connection_new(cfg, &mut conn), jobs_result::TlsConfig);
        assert!(
            last_error().contains("a PKCS#11 key was configured without its client certificate"),
            "{}",
            last_error()
        );
        jobs_config_free(cfg);
    }
}

#[test]
#[ignore = "needs softhsm2: run by .ci/run with --ignored"]
fn many_connections_share_one_token_and_one_module() {
    let _token = shared();
    // Two connections at once on the same token: the module is initialized once and the
    // second login finds the user already logged in.
    let emu = emulator();
    let c = certs();
    let port = emu.tls_addr().unwrap().port();
    unsafe {
        let a = config(
            port,
            "p11-a",
            None,
            Some(&c.client_rsa_cert),
            &p11("thing-rsa"),
        );
        let b = config(
            port,
            "p11-b",
            None,
            Some(&c.client_ec_cert),
            &p11("thing-ec"),
        );
        let (mut ca, mut cb) = (ptr::null_mut(), ptr::null_mut());
        ok(jobs_connection_new(a, &mut ca), "new a");
        ok(jobs_connection_new(b, &mut cb), "new b");
        ok(jobs_connection_connect(ca), "connect a");
        ok(jobs_connection_connect(cb), "connect b");
        // Reconnects sign again with the same session.
        for _ in 0..3 {
            ok(jobs_connection_disconnect(ca), "disconnect a");
            ok(jobs_connection_connect(ca), "connect a again");
        }
        jobs_connection_free(ca);
        jobs_connection_free(cb);
        jobs_config_free(a);
        jobs_config_free(b);
    }
}

#[test]
#[ignore = "needs softhsm2: run by .ci/run with --ignored"]
fn without_a_certificate_set_the_tokens_certificate_is_the_chain() {
    let _token = shared();
    let emu = emulator();
    let port = emu.tls_addr().unwrap().port();
    unsafe {
        // thing-rsa has a certificate object in the token.
        let cfg = config(port, "p11-tokcert", None, None, &p11("thing-rsa"));
        let mut conn = ptr::null_mut();
        ok(jobs_connection_new(cfg, &mut conn), "new");
        ok(
            jobs_connection_connect(conn),
            "connect with the token's certificate",
        );
        jobs_connection_free(conn);
        jobs_config_free(cfg);
        // thing-ec has none.
        let cfg = config(port, "p11-nocert", None, None, &p11("thing-ec"));
        assert_eq!(jobs_connection_new(cfg, &mut conn), jobs_result::TlsConfig);
        assert!(
            last_error().contains("the token has no certificate labelled \"thing-ec\""),
            "{}",
            last_error()
        );
        jobs_config_free(cfg);
    }
}

#[test]
#[ignore = "needs softhsm2: run by .ci/run with --ignored"]
fn a_session_that_fails_fails_one_handshake_and_the_next_attempt_logs_in_again() {
    let _token = TOKEN_USE.write().unwrap_or_else(|p| p.into_inner());
    use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
    let emu = emulator();
    let c = certs();
    let port = emu.tls_addr().unwrap().port();
    unsafe {
        let cfg = config(
            port,
            "p11-relogin",
            None,
            Some(&c.client_ec_cert),
            &p11("thing-ec"),
        );
        let mut conn = ptr::null_mut();
        ok(jobs_connection_new(cfg, &mut conn), "new");
        jobs_config_free(cfg);
        ok(jobs_connection_connect(conn), "first connect");
        ok(jobs_connection_disconnect(conn), "disconnect");
        // Another part of the process logs out of the token: the library's session can no
        // longer sign (CKR_USER_NOT_LOGGED_IN), as after a token reset.
        let other = Pkcs11::new(MODULE).unwrap();
        let _ = other.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK));
        let slot = other
            .get_slots_with_token()
            .unwrap()
            .into_iter()
            .find(|s| s.id() == softhsm::token().slot_id)
            .unwrap();
        let session = other.open_ro_session(slot).unwrap();
        session.logout().unwrap();
        drop(session);
        assert_eq!(jobs_connection_connect(conn), jobs_result::Tls);
        let msg = last_error();
        assert!(
            msg.contains("PKCS#11: signing with the private key labelled \"thing-ec\" failed"),
            "{msg}"
        );
        // The next attempt opens a new session and logs in again.
        ok(jobs_connection_connect(conn), "connect after the failure");
        jobs_connection_free(conn);
    }
}

static C_PROGRAMS: Programs =
    Programs::new("c_pkcs11", || support::cbuild::c_files("tests/c_pkcs11"));

#[test]
#[ignore = "needs softhsm2: run by .ci/run with --ignored"]
fn c_program_connects_with_a_token_key_and_gets_every_bad_input_code() {
    let _token = shared();
    let emu = emulator();
    let c = certs();
    let token = softhsm::token();
    emu.create_job("p11-c-job", json!({"operation": "x"}), &["thing-ec"])
        .unwrap();
    let port = emu.tls_addr().unwrap().port();
    let args: Vec<String> = vec![
        "localhost".into(),
        port.to_string(),
        c.ca.display().to_string(),
        c.client_ec_cert.display().to_string(),
        MODULE.into(),
        TOKEN.into(),
        PIN.into(),
        token.slot_id.to_string(),
    ];
    // The child inherits SOFTHSM2_CONF, set by softhsm::token().
    let out = C_PROGRAMS.start("pkcs11_connect", &args).finish(limit(60));
    out.assert_checks(20);
    out.assert_has("ok bad input");
    out.assert_has("ok wrong pin");
    out.assert_has("ok get-pending");
}
