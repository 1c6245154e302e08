//! IAM credentials for MQTT over WebSocket against an emulator that verifies SigV4 as AWS IoT
//! does: fixed credentials, and a credentials provider asked before every handshake (refused
//! credentials, failing providers, rotation across forced reconnects, reconnecting before
//! credentials expire), through the real `extern "C"` functions. Loopback only.

mod support;

use iotjobs::error::jobs_result;
use iotjobs::ffi::config::*;
use iotjobs::ffi::connection::*;
use iotjobs_emulator::{Emulator, EmulatorConfig, SigV4Config};
use std::ffi::{c_char, c_void, CStr, CString};
use std::ptr;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use support::c_api::{cstr, last_error, ok, wait_for};

const REGION: &str = "us-east-1";
const WAIT: Duration = Duration::from_secs(15);
const KEYS: [(&str, &str); 3] = [
    ("AKIDONE", "secret-one"),
    ("AKIDTWO", "secret-two/with+chars="),
    ("AKIDTHREE", "secret-three"),
];

fn emulator(clock_offset_secs: i64) -> Emulator {
    Emulator::start(EmulatorConfig {
        ws: Some("127.0.0.1:0".parse().unwrap()),
        sigv4: Some(SigV4Config {
            keys: KEYS
                .iter()
                .map(|(k, s)| (k.to_string(), s.to_string()))
                .collect(),
            clock_offset_secs,
        }),
        ..EmulatorConfig::default()
    })
    .unwrap()
}

/// The access key ids of the upgrade requests the emulator received, in order.
fn keys_seen(emu: &Emulator) -> Vec<String> {
    emu.ws_requests()
        .iter()
        .filter_map(|r| {
            let q = r.uri.split_once('?')?.1;
            let cred = q
                .split('&')
                .find_map(|p| p.strip_prefix("X-Amz-Credential="))?;
            Some(cred.split("%2F").next()?.to_owned())
        })
        .collect()
}

/// What the event callback saw: (kind, result, message).
type Events = Mutex<Vec<(u32, jobs_result, String)>>;

unsafe extern "C" fn on_event(
    ud: *mut c_void,
    kind: u32,
    result: jobs_result,
    _topic: *const c_char,
    message: *const c_char,
) {
    let events = &*(ud as *const Events);
    let m = CStr::from_ptr(message).to_string_lossy().into_owned();
    events.lock().unwrap().push((kind, result, m));
}

/// A config for plain WebSocket to the emulator, events into `events`, fast retries.
unsafe fn ws_config(emu: &Emulator, client_id: &str, events: &Events) -> *mut jobs_config {
    let port = emu.ws_addr().expect("ws listener").port();
    let cfg = support::c_api::tcp_config(port, client_id);
    ok(
        jobs_config_set_transport(cfg, jobs_transport::WebSocket as u32),
        "transport",
    );
    ok(
        jobs_config_set_backoff(cfg, 50, 200, 10_000, false),
        "backoff",
    );
    ok(
        jobs_config_set_user_data(cfg, events as *const Events as *mut c_void),
        "user data",
    );
    ok(jobs_config_set_on_event(cfg, Some(on_event)), "on_event");
    cfg
}

unsafe fn fixed(cfg: *mut jobs_config, key: &str, secret: &str) {
    let (k, s, t, r) = (cstr(key), cstr(secret), cstr("token/x+y="), cstr(REGION));
    ok(
        jobs_config_set_iam_credentials(cfg, k.as_ptr(), s.as_ptr(), t.as_ptr(), r.as_ptr()),
        "iam credentials",
    );
}

unsafe fn new_conn(cfg: *mut jobs_config) -> *mut jobs_connection {
    let mut conn = ptr::null_mut();
    ok(jobs_connection_new(cfg, &mut conn), "connection_new");
    jobs_config_free(cfg);
    conn
}

unsafe fn publish_qos1(conn: *mut jobs_connection) -> jobs_result {
    let topic = cstr("creds/t");
    jobs_connection_publish(
        conn,
        topic.as_ptr(),
        b"x".as_ptr(),
        1,
        1,
        false,
        ptr::null_mut(),
    )
}

#[test]
fn fixed_credentials_are_verified() {
    let emu = emulator(0);
    let events = Events::default();
    unsafe {
        let cfg = ws_config(&emu, "fixed-good", &events);
        fixed(cfg, KEYS[1].0, KEYS[1].1);
        let conn = new_conn(cfg);
        ok(jobs_connection_connect(conn), "connect with the right key");
        ok(publish_qos1(conn), "publish");
        jobs_connection_free(conn);

        for (key, secret) in [(KEYS[0].0, "wrong"), ("AKIDUNKNOWN", KEYS[0].1)] {
            let cfg = ws_config(&emu, "fixed-bad", &events);
            fixed(cfg, key, secret);
            let conn = new_conn(cfg);
            assert_eq!(jobs_connection_connect(conn), jobs_result::WebSocket);
            let e = last_error();
            assert!(e.contains("403"), "{key}: {e}");
            jobs_connection_free(conn);
        }
    }
}

/// A provider's state: the credentials it hands out in turn (cycling), how often it ran,
/// and what it returns.
struct Provider {
    creds: Vec<(String, String)>,
    lifetime_secs: i64,
    rc: i32,
    set: bool,
    calls: Mutex<usize>,
    set_results: Mutex<Vec<jobs_result>>,
}

impl Provider {
    fn new(creds: &[(&str, &str)]) -> Provider {
        Provider {
            creds: creds
                .iter()
                .map(|(k, s)| (k.to_string(), s.to_string()))
                .collect(),
            lifetime_secs: 0,
            rc: 0,
            set: true,
            calls: Mutex::new(0),
            set_results: Mutex::new(Vec::new()),
        }
    }

    fn calls(&self) -> usize {
        *self.calls.lock().unwrap()
    }
}

unsafe extern "C" fn provide(ud: *mut c_void, sink: *mut jobs_credentials_sink) -> i32 {
    let p = &*(ud as *const Provider);
    let n = {
        let mut c = p.calls.lock().unwrap();
        *c += 1;
        *c - 1
    };
    if p.set {
        let (key, secret) = &p.creds[n % p.creds.len()];
        // On the stack: the library copies them during jobs_credentials_set.
        let (k, s, t) = (cstr(key), cstr(secret), cstr("session/token+="));
        let mut c = std::mem::zeroed::<jobs_credentials>();
        ok(jobs_credentials_init(&mut c), "credentials_init");
        c.access_key_id = k.as_ptr();
        c.secret_access_key = s.as_ptr();
        c.session_token = t.as_ptr();
        if p.lifetime_secs != 0 {
            let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
            c.expires_at = now.as_secs() as i64 + p.lifetime_secs;
        }
        let r = jobs_credentials_set(sink, &c);
        p.set_results.lock().unwrap().push(r);
    }
    p.rc
}

unsafe fn with_provider(cfg: *mut jobs_config, p: &Provider) {
    let r = cstr(REGION);
    ok(
        jobs_config_set_credentials_provider(
            cfg,
            Some(provide),
            p as *const Provider as *mut c_void,
            r.as_ptr(),
        ),
        "credentials provider",
    );
}

fn connect_failures(events: &Events) -> Vec<(jobs_result, String)> {
    let kind = iotjobs::mqtt::types::EventKind::ConnectFailed as u32;
    events
        .lock()
        .unwrap()
        .iter()
        .filter(|(k, _, _)| *k == kind)
        .map(|(_, r, m)| (*r, m.clone()))
        .collect()
}

#[test]
fn a_provider_with_fresh_credentials_is_accepted() {
    let emu = emulator(0);
    let events = Events::default();
    let p = Provider::new(&[KEYS[0]]);
    unsafe {
        let cfg = ws_config(&emu, "prov-good", &events);
        with_provider(cfg, &p);
        let conn = new_conn(cfg);
        ok(jobs_connection_connect(conn), "connect");
        ok(publish_qos1(conn), "publish");
        jobs_connection_free(conn);
    }
    assert_eq!(p.calls(), 1);
    assert_eq!(*p.set_results.lock().unwrap(), [jobs_result::Ok]);
    assert_eq!(keys_seen(&emu), [KEYS[0].0]);
}

#[test]
fn refused_credentials_from_a_provider_fail_the_connect_clearly() {
    let wrong_secret = Provider::new(&[(KEYS[0].0, "wrong")]);
    let unknown_key = Provider::new(&[("AKIDUNKNOWN", KEYS[0].1)]);
    let good = Provider::new(&[KEYS[0]]);
    // The server's clock a day and ten minutes ahead: a fresh signature has expired for it.
    for (p, offset) in [(&wrong_secret, 0), (&unknown_key, 0), (&good, 86_400 + 600)] {
        let emu = emulator(offset);
        let events = Events::default();
        unsafe {
            let cfg = ws_config(&emu, "prov-refused", &events);
            with_provider(cfg, p);
            let conn = new_conn(cfg);
            assert_eq!(jobs_connection_connect(conn), jobs_result::WebSocket);
            assert!(last_error().contains("403"), "{}", last_error());
            wait_for("the connect-failed event", WAIT, || {
                !connect_failures(&events).is_empty()
            });
            jobs_connection_free(conn);
        }
        let failures = connect_failures(&events);
        assert_eq!(failures[0].0, jobs_result::WebSocket, "{failures:?}");
    }
}

#[test]
fn a_failing_provider_gives_a_connect_failed_event_not_a_crash() {
    let emu = emulator(0);
    let mut failing = Provider::new(&[KEYS[0]]);
    failing.rc = 7;
    failing.set = false;
    let mut silent = Provider::new(&[KEYS[0]]);
    silent.set = false;
    let empty = Provider::new(&[("", "")]);
    let mut expired = Provider::new(&[KEYS[0]]);
    expired.lifetime_secs = -10;
    for (p, needle) in [
        (&failing, "returned 7"),
        (&silent, "without a successful jobs_credentials_set"),
        (&empty, "without a successful jobs_credentials_set"),
        (&expired, "without a successful jobs_credentials_set"),
    ] {
        let events = Events::default();
        unsafe {
            let cfg = ws_config(&emu, "prov-fails", &events);
            with_provider(cfg, p);
            let conn = new_conn(cfg);
            assert_eq!(jobs_connection_connect(conn), jobs_result::IncompleteConfig);
            assert!(last_error().contains(needle), "{}", last_error());
            wait_for("the connect-failed event", WAIT, || {
                !connect_failures(&events).is_empty()
            });
            jobs_connection_free(conn);
        }
        let (code, msg) = &connect_failures(&events)[0];
        assert_eq!(*code, jobs_result::IncompleteConfig);
        assert!(msg.contains(needle), "{msg}");
    }
    // jobs_credentials_set refused the bad values with their own code.
    assert_eq!(
        *empty.set_results.lock().unwrap(),
        [jobs_result::InvalidArgument]
    );
    assert_eq!(
        *expired.set_results.lock().unwrap(),
        [jobs_result::InvalidArgument]
    );
    // Nothing reached the server.
    assert!(emu.ws_requests().is_empty());
}

#[test]
fn a_provider_rotating_credentials_across_forced_reconnects_keeps_working() {
    let emu = emulator(0);
    let events = Events::default();
    let p = Provider::new(&KEYS);
    unsafe {
        let cfg = ws_config(&emu, "prov-rotate", &events);
        with_provider(cfg, &p);
        let conn = new_conn(cfg);
        ok(jobs_connection_connect(conn), "connect");
        for round in 1..=3 {
            wait_for("the emulator to cut the client", WAIT, || {
                emu.cut("prov-rotate")
            });
            wait_for("the provider to be asked again", WAIT, || p.calls() > round);
            wait_for("online again", WAIT, || {
                jobs_connection_get_state(conn) == iotjobs::mqtt::types::Status::Online as u32
            });
            ok(publish_qos1(conn), "publish after a reconnect");
        }
        jobs_connection_free(conn);
    }
    assert_eq!(
        keys_seen(&emu),
        [KEYS[0].0, KEYS[1].0, KEYS[2].0, KEYS[0].0]
    );
    assert!(connect_failures(&events).is_empty());
}

#[test]
fn credentials_about_to_expire_are_replaced_by_reconnecting() {
    let emu = emulator(0);
    let events = Events::default();
    let mut p = Provider::new(&KEYS[..2]);
    // Two to three seconds (whole Unix seconds): the reconnect comes a tenth earlier.
    p.lifetime_secs = 3;
    unsafe {
        let cfg = ws_config(&emu, "prov-expiry", &events);
        with_provider(cfg, &p);
        let conn = new_conn(cfg);
        ok(jobs_connection_connect(conn), "connect");
        wait_for("two refreshes", WAIT, || p.calls() >= 3);
        wait_for("online again", WAIT, || {
            jobs_connection_get_state(conn) == iotjobs::mqtt::types::Status::Online as u32
        });
        ok(publish_qos1(conn), "publish after the refreshes");
        jobs_connection_free(conn);
    }
    let seen = keys_seen(&emu);
    assert_eq!(&seen[..3], [KEYS[0].0, KEYS[1].0, KEYS[0].0]);
    assert!(connect_failures(&events).is_empty());
}

#[test]
fn fixed_credentials_and_a_provider_exclude_each_other() {
    let emu = emulator(0);
    let events = Events::default();
    let p = Provider::new(&[KEYS[0]]);
    unsafe {
        let cfg = ws_config(&emu, "both", &events);
        fixed(cfg, KEYS[0].0, KEYS[0].1);
        with_provider(cfg, &p);
        let mut conn = ptr::null_mut();
        assert_eq!(
            jobs_connection_new(cfg, &mut conn),
            jobs_result::InvalidArgument
        );
        assert!(last_error().contains("exclude"), "{}", last_error());
        // Clearing the provider leaves the fixed credentials.
        ok(
            jobs_config_set_credentials_provider(cfg, None, ptr::null_mut(), ptr::null()),
            "clear",
        );
        let conn = new_conn(cfg);
        ok(jobs_connection_connect(conn), "connect");
        jobs_connection_free(conn);
    }
    assert_eq!(p.calls(), 0);
}

#[test]
fn bad_input_to_the_new_calls_gets_its_documented_code() {
    unsafe {
        let p = Provider::new(&[KEYS[0]]);
        let ud = &p as *const Provider as *mut c_void;
        assert_eq!(
            jobs_config_set_credentials_provider(ptr::null_mut(), Some(provide), ud, ptr::null()),
            jobs_result::NullArgument
        );
        let mut cfg = ptr::null_mut();
        ok(jobs_config_new(&mut cfg), "config_new");
        let bad_utf8 = CString::new(vec![0xffu8, 0xfe]).unwrap();
        assert_eq!(
            jobs_config_set_credentials_provider(cfg, Some(provide), ud, bad_utf8.as_ptr()),
            jobs_result::InvalidUtf8
        );
        let long = cstr(&"r".repeat(65));
        for region in [cstr(""), long] {
            assert_eq!(
                jobs_config_set_credentials_provider(cfg, Some(provide), ud, region.as_ptr()),
                jobs_result::InvalidArgument
            );
        }
        ok(
            jobs_config_set_credentials_provider(cfg, Some(provide), ud, ptr::null()),
            "region from the endpoint",
        );
        // No region in the endpoint 127.0.0.1: the connection cannot be made.
        let host = cstr("127.0.0.1");
        ok(jobs_config_set_endpoint(cfg, host.as_ptr(), 1), "endpoint");
        ok(
            jobs_config_set_transport(cfg, jobs_transport::WebSocket as u32),
            "transport",
        );
        let mut conn = ptr::null_mut();
        assert_eq!(
            jobs_connection_new(cfg, &mut conn),
            jobs_result::IncompleteConfig
        );
        jobs_config_free(cfg);

        // jobs_credentials_init and _set outside a provider, with bad arguments.
        assert_eq!(
            jobs_credentials_init(ptr::null_mut()),
            jobs_result::NullArgument
        );
        let mut c = std::mem::zeroed::<jobs_credentials>();
        ok(jobs_credentials_init(&mut c), "init");
        assert_eq!(c.struct_size, std::mem::size_of::<jobs_credentials>());
        assert_eq!(
            jobs_credentials_set(ptr::null_mut(), &c),
            jobs_result::NullArgument
        );
    }
}

/// `jobs_credentials_set` checks every field; it is given a sink by a provider only, so the
/// checks run inside one that records each result.
#[test]
fn jobs_credentials_set_checks_every_field() {
    struct Case {
        key: Option<Vec<u8>>,
        secret: Option<Vec<u8>>,
        token: Option<Vec<u8>>,
        expires_at: i64,
        struct_size_delta: isize,
    }
    static CASES: Mutex<Vec<(Case, jobs_result)>> = Mutex::new(Vec::new());
    static RESULTS: Mutex<Vec<jobs_result>> = Mutex::new(Vec::new());
    unsafe extern "C" fn checker(_ud: *mut c_void, sink: *mut jobs_credentials_sink) -> i32 {
        for (case, _) in CASES.lock().unwrap().iter() {
            let owned = |v: &Option<Vec<u8>>| v.clone().map(|b| CString::new(b).unwrap());
            let (k, s, t) = (owned(&case.key), owned(&case.secret), owned(&case.token));
            let p = |c: &Option<CString>| c.as_ref().map_or(ptr::null(), |c| c.as_ptr());
            let mut c = std::mem::zeroed::<jobs_credentials>();
            jobs_credentials_init(&mut c);
            c.struct_size = (c.struct_size as isize + case.struct_size_delta) as usize;
            c.access_key_id = p(&k);
            c.secret_access_key = p(&s);
            c.session_token = p(&t);
            c.expires_at = case.expires_at;
            RESULTS.lock().unwrap().push(jobs_credentials_set(sink, &c));
        }
        1
    }
    let ok_case = || Case {
        key: Some(b"AKID".to_vec()),
        secret: Some(b"secret".to_vec()),
        token: None,
        expires_at: 0,
        struct_size_delta: 0,
    };
    let later = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        + 3600;
    let cases = vec![
        (ok_case(), jobs_result::Ok),
        (
            Case {
                token: Some(b"".to_vec()),
                expires_at: later,
                ..ok_case()
            },
            jobs_result::Ok,
        ),
        (
            Case {
                key: None,
                ..ok_case()
            },
            jobs_result::NullArgument,
        ),
        (
            Case {
                secret: None,
                ..ok_case()
            },
            jobs_result::NullArgument,
        ),
        (
            Case {
                struct_size_delta: -8,
                ..ok_case()
            },
            jobs_result::InvalidStructSize,
        ),
        (
            Case {
                key: Some(vec![0xff]),
                ..ok_case()
            },
            jobs_result::InvalidUtf8,
        ),
        (
            Case {
                token: Some(vec![0xc3]),
                ..ok_case()
            },
            jobs_result::InvalidUtf8,
        ),
        (
            Case {
                key: Some(b"".to_vec()),
                ..ok_case()
            },
            jobs_result::InvalidArgument,
        ),
        (
            Case {
                key: Some(vec![b'A'; 129]),
                ..ok_case()
            },
            jobs_result::InvalidArgument,
        ),
        (
            Case {
                secret: Some(vec![b's'; 1025]),
                ..ok_case()
            },
            jobs_result::InvalidArgument,
        ),
        (
            Case {
                token: Some(vec![b't'; 16 * 1024 + 1]),
                ..ok_case()
            },
            jobs_result::InvalidArgument,
        ),
        (
            Case {
                expires_at: -1,
                ..ok_case()
            },
            jobs_result::InvalidArgument,
        ),
        (
            Case {
                expires_at: 1,
                ..ok_case()
            },
            jobs_result::InvalidArgument,
        ),
    ];
    let expected: Vec<jobs_result> = cases.iter().map(|(_, r)| *r).collect();
    *CASES.lock().unwrap() = cases;
    let emu = emulator(0);
    let events = Events::default();
    unsafe {
        let cfg = ws_config(&emu, "checker", &events);
        let r = cstr(REGION);
        ok(
            jobs_config_set_credentials_provider(cfg, Some(checker), ptr::null_mut(), r.as_ptr()),
            "provider",
        );
        let conn = new_conn(cfg);
        assert_eq!(jobs_connection_connect(conn), jobs_result::IncompleteConfig);
        jobs_connection_free(conn);
    }
    let got = RESULTS.lock().unwrap().clone();
    assert_eq!(got[..expected.len()], expected[..]);
}
