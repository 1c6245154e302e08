//! Secrets are wiped before their memory is freed. This test binary's global allocator scans
//! every block it frees for marker byte strings (a private key's PEM text and DER, a password,
//! an IAM secret key and session token, a custom authorizer's token, signature and password);
//! a freed block still holding one is a hit. Everything
//! goes through the real C functions: config, connection, free.
//!
//! What is checked is the library's own buffers. Not checked, because the library cannot wipe
//! them: the key as parsed by ring inside rustls' `ClientConfig` (RSA primes, the EC scalar; no
//! whole DER), the base64 scratch buffer of the PEM decoder (base64 text, not the markers), and
//! the HTTP request of a WebSocket upgrade (its headers and URI, which carry a presigned query
//! or a custom authorizer's token, live in the `http` crate's buffers): the custom authorizer
//! is checked over TCP, where its values travel in the CONNECT username.

mod support;

use iotjobs::error::jobs_result;
use iotjobs::ffi::config::*;
use iotjobs::ffi::connection::*;
use iotjobs::ffi::custom_auth::*;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::PrivateKeyDer;
use std::alloc::{GlobalAlloc, Layout, System};
use std::ffi::{c_char, CString};
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use support::certs::certs;
use zeroize::Zeroizing;

/// Byte strings whose presence in a freed block is a hit, by slot.
const SLOTS: usize = 16;
static PATTERNS: [OnceLock<Vec<u8>>; SLOTS] = [const { OnceLock::new() }; SLOTS];
static HITS: [AtomicUsize; SLOTS] = [const { AtomicUsize::new(0) }; SLOTS];
static SCANNING: AtomicBool = AtomicBool::new(false);
/// Freed blocks of exactly this many bytes that were all zero: wiped copies of a watched secret.
static WATCH_LEN: AtomicUsize = AtomicUsize::new(0);
static WIPED_FREES: AtomicUsize = AtomicUsize::new(0);

struct ScanOnFree;

// SAFETY: every call is forwarded to `System`; `dealloc` only reads the block before freeing
// it, and allocates nothing (no re-entry). `realloc` is the default (alloc, copy, dealloc), so
// the old block of a growing buffer is scanned too.
unsafe impl GlobalAlloc for ScanOnFree {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        System.alloc(layout)
    }

    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        if SCANNING.load(Ordering::SeqCst) && layout.size() > 0 {
            let block = std::slice::from_raw_parts(p, layout.size());
            for (pattern, hits) in PATTERNS.iter().zip(&HITS) {
                if let Some(pattern) = pattern.get() {
                    if contains(block, pattern) {
                        hits.fetch_add(1, Ordering::SeqCst);
                    }
                }
            }
            if layout.size() == WATCH_LEN.load(Ordering::SeqCst) && block.iter().all(|&b| b == 0) {
                WIPED_FREES.fetch_add(1, Ordering::SeqCst);
            }
        }
        System.dealloc(p, layout)
    }
}

#[global_allocator]
static ALLOCATOR: ScanOnFree = ScanOnFree;

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

fn hits(slot: usize) -> usize {
    HITS[slot].load(Ordering::SeqCst)
}

/// Slots of the markers below.
const PEM_MARKER: usize = 0;
const PASSWORD: usize = 1;
const IAM_SECRET: usize = 2;
const IAM_TOKEN: usize = 3;
const CONTROL: usize = 4;
const FIRST_DER: usize = 5;
#[cfg(feature = "pkcs11")]
const PKCS11_PIN: usize = SLOTS - 1;
// After the five key formats' DER slots.
const AUTHZ_TOKEN: usize = 12;
const AUTHZ_SIGNATURE: usize = 13;
const AUTHZ_PASSWORD: usize = 14;

const PEM_MARKER_LINE: &[u8] = b"iotjobs-test-pem-marker-5b1c0e9d7a4f\n";
const PASSWORD_TEXT: &[u8] = b"iotjobs-test-password-marker-93e1\0";
const SECRET_TEXT: &[u8] = b"iotjobs-test-iam-secret-marker-27ad\0";
const TOKEN_TEXT: &[u8] = b"iotjobs-test-iam-token-marker-c4f8\0";
#[cfg(feature = "pkcs11")]
const PIN_TEXT: &[u8] = b"iotjobs-test-pin-marker-61d2\0";
// Only URL-unreserved characters: the URL-encoded copy in the CONNECT username matches too.
const AUTHZ_TOKEN_TEXT: &[u8] = b"iotjobs-test-authz-token-marker-6d2e\0";
// Base64 without `+`, `/` or `=`, for the same reason.
const AUTHZ_SIG_TEXT: &[u8] = b"aW90am9icy10ZXN0LXNpZy1tYXJrZXIh\0";
const AUTHZ_PASSWORD_TEXT: &[u8] = b"iotjobs-test-authz-password-marker-81f0";

/// A one-connection MQTT server on a free loopback port: answers the CONNECT with CONNACK 0 and
/// reads until the client closes. It reads into a stack buffer it wipes, so only the library's
/// heap copies of what was sent are scanned.
fn accepting_server() -> (u16, std::thread::JoinHandle<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        use std::io::{Read, Write};
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = [0u8; 1024];
        let mut answered = false;
        while let Ok(n) = s.read(&mut buf) {
            if n == 0 {
                break;
            }
            if !answered {
                answered = true;
                s.write_all(&[0x20, 0x02, 0x00, 0x00]).unwrap();
            }
        }
        buf.fill(0);
    });
    (port, server)
}

fn set_pattern(slot: usize, bytes: &[u8]) {
    PATTERNS[slot]
        .set(bytes.to_vec())
        .expect("each slot is set once");
}

fn c(bytes: &'static [u8]) -> *const c_char {
    bytes.as_ptr() as *const c_char
}

fn path(p: &std::path::Path) -> CString {
    CString::new(p.to_str().unwrap()).unwrap()
}

/// A TLS config for 127.0.0.1 with the test CA and client certificate; the key is set by the
/// caller.
unsafe fn tls_config(cert: &std::path::Path) -> *mut jobs_config {
    let mut cfg = ptr::null_mut();
    assert_eq!(jobs_config_new(&mut cfg), jobs_result::Ok);
    assert_eq!(
        jobs_config_set_endpoint(cfg, c"127.0.0.1".as_ptr(), 8883),
        jobs_result::Ok
    );
    let ca = path(&certs().ca);
    assert_eq!(jobs_config_set_ca_file(cfg, ca.as_ptr()), jobs_result::Ok);
    let cert = path(cert);
    assert_eq!(
        jobs_config_set_cert_file(cfg, cert.as_ptr()),
        jobs_result::Ok
    );
    cfg
}

unsafe fn new_connection(cfg: *mut jobs_config) -> *mut jobs_connection {
    let mut conn = ptr::null_mut();
    assert_eq!(jobs_connection_new(cfg, &mut conn), jobs_result::Ok);
    conn
}

/// Waits (bounded) until `n` wiped blocks of the watched length were freed: the copies held by
/// a freed connection are dropped by its engine task, on the runtime thread, a moment later.
fn wait_for_wiped_frees(n: usize, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while WIPED_FREES.load(Ordering::SeqCst) < n {
        assert!(
            Instant::now() < deadline,
            "{what}: only {} of {n} copies were freed wiped within 10 s",
            WIPED_FREES.load(Ordering::SeqCst)
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn watch(len: usize) {
    WIPED_FREES.store(0, Ordering::SeqCst);
    WATCH_LEN.store(len, Ordering::SeqCst);
}

// One test function: the allocator's counters are process-wide, so the scenarios run in order.
#[test]
fn freed_memory_holds_no_key_password_or_iam_secret() {
    let certs = certs();
    // The keys in every supported format, each with the marker line before its PEM block (text
    // outside a block is ignored by the parser, so only the library's buffers can hold it).
    let mut keys = Vec::new();
    for (i, (cert, key, label)) in certs.client_key_formats().into_iter().enumerate() {
        let original = Zeroizing::new(std::fs::read(key).unwrap());
        let der = Zeroizing::new(PrivateKeyDer::from_pem_slice(&original).unwrap());
        set_pattern(FIRST_DER + i, der.secret_der());
        let mut marked = Zeroizing::new(Vec::with_capacity(PEM_MARKER_LINE.len() + original.len()));
        marked.extend_from_slice(PEM_MARKER_LINE);
        marked.extend_from_slice(&original);
        let file = support::process_dir().join(format!("marked-key-{i}.pem"));
        std::fs::write(&file, &*marked).unwrap();
        keys.push((cert.to_path_buf(), file, marked, FIRST_DER + i, label));
    }
    set_pattern(PEM_MARKER, PEM_MARKER_LINE);
    set_pattern(PASSWORD, &PASSWORD_TEXT[..PASSWORD_TEXT.len() - 1]);
    set_pattern(IAM_SECRET, &SECRET_TEXT[..SECRET_TEXT.len() - 1]);
    set_pattern(IAM_TOKEN, &TOKEN_TEXT[..TOKEN_TEXT.len() - 1]);
    set_pattern(CONTROL, b"iotjobs-test-control-marker");
    #[cfg(feature = "pkcs11")]
    set_pattern(PKCS11_PIN, &PIN_TEXT[..PIN_TEXT.len() - 1]);
    set_pattern(AUTHZ_TOKEN, &AUTHZ_TOKEN_TEXT[..AUTHZ_TOKEN_TEXT.len() - 1]);
    set_pattern(AUTHZ_SIGNATURE, &AUTHZ_SIG_TEXT[..AUTHZ_SIG_TEXT.len() - 1]);
    set_pattern(AUTHZ_PASSWORD, AUTHZ_PASSWORD_TEXT);
    SCANNING.store(true, Ordering::SeqCst);

    // The scanner works: an unwiped buffer holding a marker is seen when freed.
    drop(std::hint::black_box(
        b"..iotjobs-test-control-marker..".to_vec(),
    ));
    assert_eq!(
        hits(CONTROL),
        1,
        "the allocator scan missed an unwiped marker"
    );

    unsafe {
        // Key files: read, parsed and wiped inside jobs_connection_new; the config and the
        // connection hold only the path.
        for (cert, file, _, der_slot, label) in &keys {
            let cfg = tls_config(cert);
            let key = path(file);
            assert_eq!(jobs_config_set_key_file(cfg, key.as_ptr()), jobs_result::Ok);
            let conn = new_connection(cfg);
            assert_eq!(
                (hits(PEM_MARKER), hits(*der_slot)),
                (0, 0),
                "{label}: key file"
            );
            jobs_connection_free(conn);
            jobs_config_free(cfg);
            assert_eq!(
                (hits(PEM_MARKER), hits(*der_slot)),
                (0, 0),
                "{label}: key file"
            );
        }

        // Key PEM in memory: the config's copy, the connection's copy and the read buffer.
        let (cert, _, marked, der_slot, label) = &keys[0];
        watch(marked.len());
        let cfg = tls_config(cert);
        assert_eq!(
            jobs_config_set_key_pem(cfg, marked.as_ptr(), marked.len()),
            jobs_result::Ok
        );
        let conn = new_connection(cfg);
        jobs_connection_free(conn);
        jobs_config_free(cfg);
        wait_for_wiped_frees(3, "in-memory key PEM");
        assert_eq!(
            (hits(PEM_MARKER), hits(*der_slot)),
            (0, 0),
            "{label}: key PEM"
        );

        // The MQTT password held by a config, also when replaced.
        let mut cfg = ptr::null_mut();
        assert_eq!(jobs_config_new(&mut cfg), jobs_result::Ok);
        for _ in 0..2 {
            assert_eq!(
                jobs_config_set_username_password(cfg, c(b"user\0"), c(PASSWORD_TEXT)),
                jobs_result::Ok
            );
        }
        assert_eq!(
            jobs_config_set_username_password(cfg, ptr::null(), ptr::null()),
            jobs_result::Ok
        );
        assert_eq!(
            jobs_config_set_username_password(cfg, c(b"user\0"), c(PASSWORD_TEXT)),
            jobs_result::Ok
        );
        jobs_config_free(cfg);
        assert_eq!(hits(PASSWORD), 0, "MQTT password");

        // IAM credentials: held by the config and by the connection built from it.
        watch(SECRET_TEXT.len() - 1);
        let mut cfg = ptr::null_mut();
        assert_eq!(jobs_config_new(&mut cfg), jobs_result::Ok);
        let host = c"abc123-ats.iot.us-east-1.amazonaws.com";
        assert_eq!(
            jobs_config_set_endpoint(cfg, host.as_ptr(), 443),
            jobs_result::Ok
        );
        assert_eq!(
            jobs_config_set_transport(cfg, jobs_transport::WebsocketTls.as_u32()),
            jobs_result::Ok
        );
        let ca = path(&certs.ca);
        assert_eq!(jobs_config_set_ca_file(cfg, ca.as_ptr()), jobs_result::Ok);
        assert_eq!(
            jobs_config_set_iam_credentials(
                cfg,
                c(b"AKIDEXAMPLE\0"),
                c(SECRET_TEXT),
                c(TOKEN_TEXT),
                ptr::null()
            ),
            jobs_result::Ok
        );
        let conn = new_connection(cfg);
        jobs_connection_free(conn);
        jobs_config_free(cfg);
        wait_for_wiped_frees(2, "IAM secret key");
        assert_eq!(
            (hits(IAM_SECRET), hits(IAM_TOKEN)),
            (0, 0),
            "IAM credentials"
        );

        // IAM credentials from a provider: the copy jobs_credentials_set makes and the one
        // each attempt signs with. The port is closed: the provider runs, TCP is refused.
        unsafe extern "C" fn provide(
            _: *mut std::ffi::c_void,
            sink: *mut jobs_credentials_sink,
        ) -> i32 {
            let mut creds = std::mem::zeroed::<jobs_credentials>();
            jobs_credentials_init(&mut creds);
            creds.access_key_id = c(b"AKIDEXAMPLE\0");
            creds.secret_access_key = c(SECRET_TEXT);
            creds.session_token = c(TOKEN_TEXT);
            jobs_credentials_set(sink, &creds) as i32
        }
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let closed_port = closed.local_addr().unwrap().port();
        drop(closed);
        let mut cfg = ptr::null_mut();
        assert_eq!(jobs_config_new(&mut cfg), jobs_result::Ok);
        assert_eq!(
            jobs_config_set_endpoint(cfg, c"127.0.0.1".as_ptr(), closed_port),
            jobs_result::Ok
        );
        assert_eq!(
            jobs_config_set_transport(cfg, jobs_transport::Websocket.as_u32()),
            jobs_result::Ok
        );
        assert_eq!(
            jobs_config_set_credentials_provider(
                cfg,
                Some(provide),
                ptr::null_mut(),
                c"us-east-1".as_ptr()
            ),
            jobs_result::Ok
        );
        let conn = new_connection(cfg);
        jobs_config_free(cfg);
        assert_eq!(jobs_connection_connect(conn), jobs_result::Network);
        jobs_connection_free(conn);
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(
            (hits(IAM_SECRET), hits(IAM_TOKEN)),
            (0, 0),
            "IAM credentials from a provider"
        );

        // A key handed over by a certificate provider: its copy and the parsed key.
        static MARKED: OnceLock<(Vec<u8>, Vec<u8>)> = OnceLock::new();
        let (cert, _, marked, der_slot, label) = &keys[0];
        let _ = MARKED.set((std::fs::read(cert).unwrap(), marked.to_vec()));
        unsafe extern "C" fn provide_pem(
            _: *mut std::ffi::c_void,
            sink: *mut jobs_pem_sink,
        ) -> i32 {
            let (cert, key) = MARKED.get().unwrap();
            jobs_pem_set(sink, cert.as_ptr(), cert.len(), key.as_ptr(), key.len()) as i32
        }
        // A provider excludes a certificate file: not tls_config.
        let mut cfg2 = ptr::null_mut();
        assert_eq!(jobs_config_new(&mut cfg2), jobs_result::Ok);
        assert_eq!(
            jobs_config_set_endpoint(cfg2, c"127.0.0.1".as_ptr(), 8883),
            jobs_result::Ok
        );
        let ca = path(&certs.ca);
        assert_eq!(jobs_config_set_ca_file(cfg2, ca.as_ptr()), jobs_result::Ok);
        assert_eq!(
            jobs_config_set_cert_provider(cfg2, Some(provide_pem), ptr::null_mut()),
            jobs_result::Ok
        );
        let conn = new_connection(cfg2);
        jobs_connection_free(conn);
        jobs_config_free(cfg2);
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(
            (hits(PEM_MARKER), hits(*der_slot)),
            (0, 0),
            "{label}: key from a certificate provider"
        );

        // The MQTT password used on the wire: the CONNECT the connection encodes and writes
        // holds it too. The server reads into a stack buffer, so only the library's heap
        // copies are scanned.
        let (port, server) = accepting_server();
        watch(PASSWORD_TEXT.len() - 1);
        let mut cfg = ptr::null_mut();
        assert_eq!(jobs_config_new(&mut cfg), jobs_result::Ok);
        assert_eq!(
            jobs_config_set_endpoint(cfg, c"127.0.0.1".as_ptr(), port),
            jobs_result::Ok
        );
        assert_eq!(
            jobs_config_set_transport(cfg, jobs_transport::Tcp.as_u32()),
            jobs_result::Ok
        );
        assert_eq!(
            jobs_config_set_username_password(cfg, c(b"user\0"), c(PASSWORD_TEXT)),
            jobs_result::Ok
        );
        let conn = new_connection(cfg);
        jobs_config_free(cfg);
        assert_eq!(jobs_connection_connect(conn), jobs_result::Ok);
        assert_eq!(jobs_connection_disconnect(conn), jobs_result::Ok);
        jobs_connection_free(conn);
        // The config's copy and the connection's (freed by its task a moment later).
        wait_for_wiped_frees(2, "MQTT password of a connection");
        std::thread::sleep(Duration::from_millis(200));
        server.join().unwrap();
        assert_eq!(hits(PASSWORD), 0, "MQTT password of a used connection");

        // A PKCS#11 user PIN (with the feature `pkcs11`, .ci/run's PKCS#11 suite): the
        // config's copy, replaced once, and the copy a connection made from it holds (TCP: no
        // token is opened, the connection keeps the settings as given).
        #[cfg(feature = "pkcs11")]
        {
            watch(PIN_TEXT.len() - 1);
            let mut cfg = ptr::null_mut();
            assert_eq!(jobs_config_new(&mut cfg), jobs_result::Ok);
            assert_eq!(
                jobs_config_set_endpoint(cfg, c"127.0.0.1".as_ptr(), 1),
                jobs_result::Ok
            );
            assert_eq!(
                jobs_config_set_transport(cfg, jobs_transport::Tcp.as_u32()),
                jobs_result::Ok
            );
            let mut a = std::mem::zeroed::<jobs_pkcs11_args>();
            assert_eq!(jobs_pkcs11_args_init(&mut a), jobs_result::Ok);
            a.module_path = c(b"/usr/lib/softhsm/libsofthsm2.so\0");
            a.token_label = c(b"iotjobs\0");
            a.user_pin = c(PIN_TEXT);
            a.key_label = c(b"thing-ec\0");
            for _ in 0..2 {
                assert_eq!(jobs_config_set_pkcs11(cfg, &a), jobs_result::Ok);
            }
            let conn = new_connection(cfg);
            jobs_connection_free(conn);
            jobs_config_free(cfg);
            wait_for_wiped_frees(3, "PKCS#11 PIN");
            std::thread::sleep(Duration::from_millis(200));
            assert_eq!(hits(PKCS11_PIN), 0, "PKCS#11 PIN");
        }
        // A custom authorizer's token, signature and password: held by the config (also when
        // replaced or cleared), by the connection, and by the CONNECT username it builds.
        let (port, server) = accepting_server();
        let mut cfg = ptr::null_mut();
        assert_eq!(jobs_config_new(&mut cfg), jobs_result::Ok);
        assert_eq!(
            jobs_config_set_endpoint(cfg, c"127.0.0.1".as_ptr(), port),
            jobs_result::Ok
        );
        assert_eq!(
            jobs_config_set_transport(cfg, jobs_transport::Tcp.as_u32()),
            jobs_result::Ok
        );
        let mut args = std::mem::zeroed::<jobs_custom_authorizer_args>();
        assert_eq!(jobs_custom_authorizer_args_init(&mut args), jobs_result::Ok);
        args.authorizer_name = c(b"authz\0");
        args.token_key_name = c(b"tok\0");
        args.token = c(AUTHZ_TOKEN_TEXT);
        args.token_signature = c(AUTHZ_SIG_TEXT);
        args.username = c(b"user\0");
        args.password = AUTHZ_PASSWORD_TEXT.as_ptr();
        args.password_len = AUTHZ_PASSWORD_TEXT.len();
        for _ in 0..2 {
            assert_eq!(
                jobs_config_set_custom_authorizer(cfg, &args),
                jobs_result::Ok
            );
        }
        assert_eq!(
            jobs_config_set_custom_authorizer(cfg, ptr::null()),
            jobs_result::Ok
        );
        assert_eq!(
            jobs_config_set_custom_authorizer(cfg, &args),
            jobs_result::Ok
        );
        let conn = new_connection(cfg);
        jobs_config_free(cfg);
        assert_eq!(jobs_connection_connect(conn), jobs_result::Ok);
        assert_eq!(jobs_connection_disconnect(conn), jobs_result::Ok);
        jobs_connection_free(conn);
        std::thread::sleep(Duration::from_millis(300));
        server.join().unwrap();
        assert_eq!(
            (
                hits(AUTHZ_TOKEN),
                hits(AUTHZ_SIGNATURE),
                hits(AUTHZ_PASSWORD)
            ),
            (0, 0, 0),
            "custom authorizer token, signature, password"
        );
    }
    SCANNING.store(false, Ordering::SeqCst);
    for (_, file, ..) in keys {
        let _ = std::fs::remove_file(file);
    }
}

#[test]
fn debug_output_holds_no_secret() {
    use iotjobs::mqtt::config::ConnectionConfig;
    use iotjobs::mqtt::sigv4::Credentials;
    use iotjobs::mqtt::tls::PemSource;
    // Markers of their own: this test's strings are freed unwiped while the other one scans.
    let mut cfg = ConnectionConfig {
        username: Some("debug-user".into()),
        password: Some("debug-only-password".into()),
        sigv4: Some((
            "us-east-1".into(),
            Credentials {
                access_key_id: "AKIDDEBUG".into(),
                secret_access_key: "debug-only-secret".into(),
                session_token: Some("debug-only-token".into()),
            },
        )),
        ..ConnectionConfig::default()
    };
    cfg.tls.client_key = Some(PemSource::Memory(
        b"-----BEGIN PRIVATE KEY-----\ndebug-only-key\n-----END PRIVATE KEY-----\n".to_vec(),
    ));
    cfg.tls.pkcs11 = Some(iotjobs::mqtt::pkcs11::Pkcs11Settings {
        module_path: "/m.so".into(),
        token: iotjobs::mqtt::pkcs11::TokenSelector::Label("t".into()),
        user_pin: Zeroizing::new("debug-only-pin".into()),
        key_label: "k".into(),
        key_id: None,
    });
    let d = format!("{cfg:?}");
    for secret in [
        "debug-only-pin",
        "debug-only-password",
        "debug-only-secret",
        "debug-only-token",
        "debug-only-key",
    ] {
        assert!(!d.contains(secret), "{secret} in {d}");
    }
    for visible in ["debug-user", "AKIDDEBUG", "<redacted>"] {
        assert!(d.contains(visible), "{visible} missing from {d}");
    }
}
