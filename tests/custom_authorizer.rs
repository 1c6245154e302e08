//! AWS IoT custom authorizers against the emulator's custom-authorizer mode, through the real
//! `extern "C"` functions: MQTT over TLS (ALPN `mqtt`, no client certificate, the authorizer in
//! the CONNECT username) and MQTT over secure WebSocket (header and query forms). Allowed
//! tokens connect and run a job; a denial, a tampered signature and an unknown authorizer are
//! refused with the error each transport gives. Then bad input at the new C entry points.
//! The authorizer's RSA key is made with the `openssl` CLI; the test signs tokens with ring.
//! Loopback only.

mod support;

use base64::Engine as _;
use iotjobs::error::jobs_result;
use iotjobs::ffi::config::*;
use iotjobs::ffi::custom_auth::*;
use iotjobs::ffi::jobs::*;
use iotjobs::ffi::requests::*;
use iotjobs_emulator::{
    AuthRecord, AuthRequest, AuthVia, CustomAuthorizerConfig, Emulator, EmulatorConfig, WssConfig,
};
use std::ffi::{c_char, CString};
use std::path::PathBuf;
use std::process::Command;
use std::ptr;
use std::sync::{Arc, OnceLock};
use support::c_api::{cstr, last_error, ok};
use support::certs::certs;

const AUTHORIZER: &str = "iotjobs-authorizer";
const TOKEN_KEY: &str = "x-token";
const ALLOWED: &str = "allow-me.token/with+chars=";
const USERNAME: &str = "alice";
const PASSWORD: &[u8] = b"s3cret\x00\xffbytes";

/// The authorizer's key pair: PKCS#8 DER (to sign with) and SPKI DER (the emulator's).
struct SigningKey {
    pkcs8: Vec<u8>,
    spki: Vec<u8>,
}

fn signing_key() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| {
        let dir: PathBuf = support::scratch_dir("custom-auth-key", 0o700);
        let run = |args: &[&str]| {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(&dir)
                .output()
                .unwrap_or_else(|e| panic!("cannot run the openssl CLI ({e})"));
            assert!(out.status.success(), "openssl {args:?}: {out:?}");
        };
        run(&["genrsa", "-out", "authz.pem", "2048"]);
        run(&[
            "pkcs8",
            "-topk8",
            "-nocrypt",
            "-in",
            "authz.pem",
            "-outform",
            "DER",
            "-out",
            "authz.pk8",
        ]);
        run(&[
            "rsa",
            "-in",
            "authz.pem",
            "-pubout",
            "-outform",
            "DER",
            "-out",
            "authz.spki",
        ]);
        SigningKey {
            pkcs8: std::fs::read(dir.join("authz.pk8")).unwrap(),
            spki: std::fs::read(dir.join("authz.spki")).unwrap(),
        }
    })
}

/// Base64 of the RSA PKCS#1 v1.5 SHA-256 signature of `token`, as AWS expects it.
fn sign(token: &str) -> String {
    let pair = ring::signature::RsaKeyPair::from_pkcs8(&signing_key().pkcs8).unwrap();
    let mut sig = vec![0u8; pair.public().modulus_len()];
    pair.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        token.as_bytes(),
        &mut sig,
    )
    .unwrap();
    base64::engine::general_purpose::STANDARD.encode(sig)
}

/// An emulator with a TLS listener (client certificates optional because of the authorizer),
/// a WSS listener, and an authorizer that allows [`ALLOWED`] presented by [`USERNAME`] with
/// [`PASSWORD`].
fn emulator() -> Emulator {
    let c = certs();
    let decide = |r: &AuthRequest| {
        r.token.as_deref() == Some(ALLOWED)
            && r.username.as_deref() == Some(USERNAME)
            && r.password.as_deref() == Some(PASSWORD)
    };
    Emulator::start(EmulatorConfig {
        tls: Some(support::certs::emulator_tls()),
        wss: Some(WssConfig {
            bind: "127.0.0.1:0".parse().unwrap(),
            cert: c.server_cert.clone(),
            key: c.server_key.clone(),
        }),
        custom_authorizer: Some(CustomAuthorizerConfig {
            name: AUTHORIZER.into(),
            token_key_name: TOKEN_KEY.into(),
            public_key: Some(signing_key().spki.clone()),
            signing: true,
            decide: Arc::new(decide),
        }),
        ..EmulatorConfig::default()
    })
    .unwrap()
}

/// What a device presents.
struct Presented<'a> {
    name: &'a str,
    token: &'a str,
    signature: String,
    password: &'a [u8],
    form: jobs_custom_auth_form,
}

impl<'a> Presented<'a> {
    fn good() -> Presented<'a> {
        Presented {
            name: AUTHORIZER,
            token: ALLOWED,
            signature: sign(ALLOWED),
            password: PASSWORD,
            form: jobs_custom_auth_form::Headers,
        }
    }
}

/// A config for `transport` to the emulator with the CA, a thing name, fast retries and the
/// custom authorizer `p`.
unsafe fn config(
    emu: &Emulator,
    transport: jobs_transport,
    thing: &str,
    p: &Presented,
) -> *mut jobs_config {
    let port = match transport {
        jobs_transport::Tls => emu.tls_addr().unwrap().port(),
        _ => emu.wss_addr().unwrap().port(),
    };
    let cfg = support::c_api::tcp_config(port, thing);
    ok(
        jobs_config_set_transport(cfg, transport as u32),
        "transport",
    );
    let ca = cstr(certs().ca.to_str().unwrap());
    ok(jobs_config_set_ca_file(cfg, ca.as_ptr()), "ca");
    let t = cstr(thing);
    ok(jobs_config_set_thing_name(cfg, t.as_ptr()), "thing");
    ok(
        jobs_config_set_backoff(cfg, 50, 200, 10_000, false),
        "backoff",
    );
    let (name, key, token, sig, user) = (
        cstr(p.name),
        cstr(TOKEN_KEY),
        cstr(p.token),
        cstr(&p.signature),
        cstr(USERNAME),
    );
    let mut a = std::mem::zeroed::<jobs_custom_authorizer_args>();
    ok(jobs_custom_authorizer_args_init(&mut a), "args init");
    a.authorizer_name = name.as_ptr();
    a.token_key_name = key.as_ptr();
    a.token = token.as_ptr();
    a.token_signature = sig.as_ptr();
    a.username = user.as_ptr();
    a.password = p.password.as_ptr();
    a.password_len = p.password.len();
    a.websocket_form = p.form as u32;
    ok(
        jobs_config_set_custom_authorizer(cfg, &a),
        "set custom authorizer",
    );
    cfg
}

/// Connects a jobs client for `cfg`; returns the connect result and its message.
unsafe fn connect(cfg: *mut jobs_config) -> (*mut jobs_client, jobs_result, String) {
    let mut client = ptr::null_mut();
    ok(jobs_client_new(cfg, &mut client), "client_new");
    jobs_config_free(cfg);
    let r = jobs_client_connect(client);
    (client, r, last_error())
}

/// StartNextPendingJobExecution through the client, checked at the emulator.
unsafe fn start_next_job(emu: &Emulator, client: *mut jobs_client, thing: &str) {
    let job = format!("job-{thing}");
    emu.create_job(&job, serde_json::json!({"op": "x"}), &[thing])
        .unwrap();
    let mut args = std::mem::zeroed::<jobs_start_next_args>();
    ok(jobs_start_next_args_init(&mut args), "start_next init");
    let mut reply = ptr::null_mut();
    ok(jobs_start_next(client, &args, &mut reply), "start_next");
    jobs_reply_free(reply);
    assert_eq!(
        emu.describe_execution(&job, thing).unwrap()["status"],
        "IN_PROGRESS"
    );
}

fn last_record(emu: &Emulator) -> AuthRecord {
    emu.auth_records().pop().expect("an authorizer check")
}

#[test]
fn tls_with_an_allowed_signed_token_connects_on_alpn_mqtt_and_runs_a_job() {
    let emu = emulator();
    unsafe {
        let cfg = config(&emu, jobs_transport::Tls, "ca-tls-ok", &Presented::good());
        let (client, r, e) = connect(cfg);
        assert_eq!(r, jobs_result::Ok, "{e}");
        start_next_job(&emu, client, "ca-tls-ok");
        jobs_client_free(client);
    }
    let rec = last_record(&emu);
    assert_eq!(rec.via, AuthVia::MqttUsername);
    assert_eq!(rec.alpn.as_deref(), Some("mqtt"));
    assert_eq!(rec.authorizer_name.as_deref(), Some(AUTHORIZER));
    assert_eq!(rec.signature, Some(sign(ALLOWED)));
    assert_eq!(rec.outcome, Ok(()));
    // The username and the raw password reached the decision, the token under its key.
    assert_eq!(
        rec.request,
        AuthRequest {
            token: Some(ALLOWED.into()),
            username: Some(USERNAME.into()),
            password: Some(PASSWORD.to_vec()),
            client_id: "ca-tls-ok".into(),
        }
    );
}

#[test]
fn tls_refusals_are_connack_5() {
    let emu = emulator();
    let denied = "deny-me";
    let cases = [
        (
            "denied token",
            Presented {
                token: denied,
                signature: sign(denied),
                ..Presented::good()
            },
            "denied",
        ),
        (
            "wrong password",
            Presented {
                password: b"wrong",
                ..Presented::good()
            },
            "denied",
        ),
        (
            "tampered signature",
            Presented {
                signature: sign("another token"),
                ..Presented::good()
            },
            "does not verify",
        ),
        (
            "unknown authorizer",
            Presented {
                name: "someone-else",
                ..Presented::good()
            },
            "unknown authorizer",
        ),
    ];
    for (what, p, why) in cases {
        unsafe {
            let cfg = config(&emu, jobs_transport::Tls, "ca-tls-refused", &p);
            let (client, r, e) = connect(cfg);
            assert_eq!(r, jobs_result::ConnectRefused, "{what}: {e}");
            assert!(
                e.contains("CONNACK return code 5: not authorized"),
                "{what}: {e}"
            );
            jobs_client_free(client);
        }
        let rec = last_record(&emu);
        let got = rec.outcome.unwrap_err();
        assert!(got.contains(why), "{what}: {got}");
    }
}

#[test]
fn tls_without_a_certificate_or_alpn_mqtt_is_not_let_in() {
    let emu = emulator();
    unsafe {
        // An explicit ALPN without "mqtt" is refused by the configuration already.
        let cfg = config(&emu, jobs_transport::Tls, "ca-alpn", &Presented::good());
        let alpn = cstr("x-amzn-mqtt-ca");
        ok(jobs_config_set_alpn(cfg, alpn.as_ptr()), "alpn");
        let mut client = ptr::null_mut();
        assert_eq!(
            jobs_client_new(cfg, &mut client),
            jobs_result::InvalidArgument
        );
        assert!(last_error().contains("ALPN `mqtt`"), "{}", last_error());
        jobs_config_free(cfg);
        // A username/password set separately would be overwritten: refused.
        let cfg = config(&emu, jobs_transport::Tls, "ca-login", &Presented::good());
        let (u, pw) = (cstr("u"), cstr("p"));
        ok(
            jobs_config_set_username_password(cfg, u.as_ptr(), pw.as_ptr()),
            "username",
        );
        assert_eq!(
            jobs_client_new(cfg, &mut client),
            jobs_result::InvalidArgument
        );
        assert!(last_error().contains("jobs_config_set_username_password"));
        jobs_config_free(cfg);
    }
    assert!(emu.auth_records().is_empty());
}

#[test]
fn wss_header_and_query_forms_connect_and_run_a_job() {
    let emu = emulator();
    for (form, thing, via) in [
        (
            jobs_custom_auth_form::Headers,
            "ca-wss-headers",
            AuthVia::Headers,
        ),
        (jobs_custom_auth_form::Query, "ca-wss-query", AuthVia::Query),
    ] {
        let p = Presented {
            form,
            ..Presented::good()
        };
        unsafe {
            let cfg = config(&emu, jobs_transport::WebsocketTls, thing, &p);
            let (client, r, e) = connect(cfg);
            assert_eq!(r, jobs_result::Ok, "{form:?}: {e}");
            start_next_job(&emu, client, thing);
            jobs_client_free(client);
        }
        let rec = last_record(&emu);
        assert_eq!((rec.via, rec.outcome.clone()), (via, Ok(())), "{rec:?}");
        assert_eq!(rec.request.username.as_deref(), Some(USERNAME));
        assert_eq!(rec.request.password.as_deref(), Some(PASSWORD));
        // What went on the wire: headers or the query, never both, no SigV4.
        let req = emu.ws_requests().pop().unwrap();
        let header = |n: &str| {
            req.headers
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.clone())
        };
        assert!(!req.uri.contains("X-Amz-Signature"), "{}", req.uri);
        match form {
            jobs_custom_auth_form::Headers => {
                assert_eq!(
                    header("x-amz-customauthorizer-name").as_deref(),
                    Some(AUTHORIZER)
                );
                assert_eq!(header(TOKEN_KEY).as_deref(), Some(ALLOWED));
                assert_eq!(
                    header("x-amz-customauthorizer-signature"),
                    Some(sign(ALLOWED))
                );
                assert_eq!(req.uri, "/mqtt");
            }
            jobs_custom_auth_form::Query => {
                assert!(header("x-amz-customauthorizer-name").is_none());
                let q = req.uri.strip_prefix("/mqtt?").unwrap();
                assert!(q.starts_with("x-amz-customauthorizer-name=iotjobs-authorizer&x-amz-customauthorizer-signature="), "{q}");
                assert!(
                    q.ends_with("&x-token=allow-me.token%2Fwith%2Bchars%3D"),
                    "{q}"
                );
            }
        }
    }
}

#[test]
fn wss_refusals_are_http_401_or_connack_5() {
    let emu = emulator();
    let denied = "deny-me";
    let cases = [
        (
            Presented {
                token: denied,
                signature: sign(denied),
                ..Presented::good()
            },
            jobs_result::ConnectRefused,
            "denied",
        ),
        (
            Presented {
                signature: sign("another token"),
                form: jobs_custom_auth_form::Query,
                ..Presented::good()
            },
            jobs_result::WebSocket,
            "does not verify",
        ),
        (
            Presented {
                name: "someone-else",
                ..Presented::good()
            },
            jobs_result::WebSocket,
            "unknown authorizer",
        ),
    ];
    for (p, code, why) in cases {
        unsafe {
            let cfg = config(&emu, jobs_transport::WebsocketTls, "ca-wss-refused", &p);
            let (client, r, e) = connect(cfg);
            assert_eq!(r, code, "{why}: {e}");
            if code == jobs_result::WebSocket {
                assert!(e.contains("401") && e.contains("custom authorizer"), "{e}");
            }
            jobs_client_free(client);
        }
        let got = last_record(&emu).outcome.unwrap_err();
        assert!(got.contains(why), "{got}");
    }
}

/// A change to good arguments.
type Edit<'a> = Box<dyn FnOnce(&mut jobs_custom_authorizer_args) + 'a>;

/// Calls `jobs_config_set_custom_authorizer` on a fresh config with `edit` applied to good
/// arguments; returns the result and the message.
fn set_with(edit: impl FnOnce(&mut jobs_custom_authorizer_args)) -> (jobs_result, String) {
    let (name, key, token) = (cstr(AUTHORIZER), cstr(TOKEN_KEY), cstr("t"));
    unsafe {
        let mut cfg = ptr::null_mut();
        ok(jobs_config_new(&mut cfg), "config");
        let mut a = std::mem::zeroed::<jobs_custom_authorizer_args>();
        ok(jobs_custom_authorizer_args_init(&mut a), "init");
        a.authorizer_name = name.as_ptr();
        a.token_key_name = key.as_ptr();
        a.token = token.as_ptr();
        edit(&mut a);
        let r = jobs_config_set_custom_authorizer(cfg, &a);
        let e = last_error();
        jobs_config_free(cfg);
        (r, e)
    }
}

#[test]
fn bad_input_at_the_c_entry_points() {
    unsafe {
        let mut a = std::mem::zeroed::<jobs_custom_authorizer_args>();
        assert_eq!(
            jobs_custom_authorizer_args_init(ptr::null_mut()),
            jobs_result::NullArgument
        );
        ok(jobs_custom_authorizer_args_init(&mut a), "init");
        assert_eq!(
            a.struct_size,
            std::mem::size_of::<jobs_custom_authorizer_args>()
        );
        assert_eq!(a.websocket_form, jobs_custom_auth_form::Headers as u32);
        assert_eq!(
            jobs_config_set_custom_authorizer(ptr::null_mut(), &a),
            jobs_result::NullArgument
        );
        // NULL args clears, on a live config.
        let mut cfg = ptr::null_mut();
        ok(jobs_config_new(&mut cfg), "config");
        ok(jobs_config_set_custom_authorizer(cfg, ptr::null()), "clear");
        jobs_config_free(cfg);
    }
    let bad_utf8 = b"\xff\xfe\0";
    let long_token = CString::new("t".repeat(4097)).unwrap();
    let long_name = CString::new("n".repeat(129)).unwrap();
    let (space, slash, empty) = (cstr("my authorizer"), cstr("a/b"), cstr(""));
    let bad_sig = cstr("not base64!");
    let query_user = cstr("a?b");
    let cases: Vec<(&str, jobs_result, &str, Edit)> = vec![
        (
            "wrong struct_size",
            jobs_result::InvalidStructSize,
            "struct_size",
            Box::new(|a| a.struct_size -= 1),
        ),
        (
            "NULL name",
            jobs_result::NullArgument,
            "authorizer_name",
            Box::new(|a| a.authorizer_name = ptr::null()),
        ),
        (
            "bad UTF-8",
            jobs_result::InvalidUtf8,
            "token",
            Box::new(|a| a.token = bad_utf8.as_ptr() as *const c_char),
        ),
        (
            "empty name",
            jobs_result::InvalidArgument,
            "authorizer name",
            Box::new(|a| a.authorizer_name = empty.as_ptr()),
        ),
        (
            "name too long",
            jobs_result::InvalidArgument,
            "1 to 128",
            Box::new(|a| a.authorizer_name = long_name.as_ptr()),
        ),
        (
            "space in name",
            jobs_result::InvalidArgument,
            "only letters",
            Box::new(|a| a.authorizer_name = space.as_ptr()),
        ),
        (
            "slash in key",
            jobs_result::InvalidArgument,
            "token key name",
            Box::new(|a| a.token_key_name = slash.as_ptr()),
        ),
        (
            "oversized token",
            jobs_result::InvalidArgument,
            "1 to 4096",
            Box::new(|a| a.token = long_token.as_ptr()),
        ),
        (
            "bad base64",
            jobs_result::InvalidArgument,
            "not base64",
            Box::new(|a| a.token_signature = bad_sig.as_ptr()),
        ),
        (
            "key without token",
            jobs_result::InvalidArgument,
            "go together",
            Box::new(|a| a.token = ptr::null()),
        ),
        (
            "? in username",
            jobs_result::InvalidArgument,
            "'?'",
            Box::new(|a| a.username = query_user.as_ptr()),
        ),
        (
            "NULL password with a length",
            jobs_result::NullArgument,
            "password",
            Box::new(|a| a.password_len = 3),
        ),
        (
            "password too long",
            jobs_result::InvalidArgument,
            "at most 65535",
            Box::new(|a| {
                static BIG: [u8; 65536] = [0; 65536];
                a.password = BIG.as_ptr();
                a.password_len = BIG.len();
            }),
        ),
        (
            "out-of-range form",
            jobs_result::InvalidArgument,
            "jobs_custom_auth_form",
            Box::new(|a| a.websocket_form = 2),
        ),
    ];
    for (what, code, needle, edit) in cases {
        let (r, e) = set_with(edit);
        assert_eq!(r, code, "{what}: {e}");
        assert!(e.contains(needle), "{what}: {e}");
    }
    // Good arguments pass, with and without the optional fields.
    assert_eq!(set_with(|_| {}).0, jobs_result::Ok);
    assert_eq!(
        set_with(|a| {
            a.token_key_name = ptr::null();
            a.token = ptr::null();
            a.password = b"".as_ptr();
        })
        .0,
        jobs_result::Ok
    );
    let name = |v: u32| {
        unsafe { std::ffi::CStr::from_ptr(iotjobs::ffi::names::jobs_custom_auth_form_str(v)) }
            .to_str()
            .unwrap()
    };
    assert_eq!((name(0), name(1), name(2)), ("headers", "query", "unknown"));
}

#[test]
fn exclusions_are_reported_when_the_connection_is_made() {
    unsafe {
        let emu_less_port = 8443;
        let cfg = support::c_api::tcp_config(emu_less_port, "ca-excl");
        ok(
            jobs_config_set_transport(cfg, jobs_transport::WebsocketTls as u32),
            "transport",
        );
        let ca = cstr(certs().ca.to_str().unwrap());
        ok(jobs_config_set_ca_file(cfg, ca.as_ptr()), "ca");
        let (name, k, s, r) = (
            cstr(AUTHORIZER),
            cstr("AKID"),
            cstr("secret"),
            cstr("us-east-1"),
        );
        let mut a = std::mem::zeroed::<jobs_custom_authorizer_args>();
        ok(jobs_custom_authorizer_args_init(&mut a), "init");
        a.authorizer_name = name.as_ptr();
        ok(jobs_config_set_custom_authorizer(cfg, &a), "set");
        ok(
            jobs_config_set_iam_credentials(cfg, k.as_ptr(), s.as_ptr(), ptr::null(), r.as_ptr()),
            "iam",
        );
        let mut conn = ptr::null_mut();
        assert_eq!(
            iotjobs::ffi::connection::jobs_connection_new(cfg, &mut conn),
            jobs_result::InvalidArgument
        );
        assert!(
            last_error().contains("exclude each other"),
            "{}",
            last_error()
        );
        ok(
            jobs_config_set_iam_credentials(
                cfg,
                ptr::null(),
                ptr::null(),
                ptr::null(),
                ptr::null(),
            ),
            "clear iam",
        );
        // A client certificate and key: refused too (AWS uses one or the other).
        let c = certs();
        let (cert, key) = (
            cstr(c.client_rsa_cert.to_str().unwrap()),
            cstr(c.client_rsa_pkcs8_key.to_str().unwrap()),
        );
        ok(jobs_config_set_cert_file(cfg, cert.as_ptr()), "cert");
        ok(jobs_config_set_key_file(cfg, key.as_ptr()), "key");
        assert_eq!(
            iotjobs::ffi::connection::jobs_connection_new(cfg, &mut conn),
            jobs_result::InvalidArgument
        );
        assert!(
            last_error().contains("client certificate"),
            "{}",
            last_error()
        );
        jobs_config_free(cfg);
    }
}
