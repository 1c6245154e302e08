//! Mutual TLS with a private key the library never sees: `jobs_config_set_key_signer` against
//! the emulator's mutual-TLS listener, with a signer that signs with a key held here (ring),
//! and signers that fail or return garbage (a clear TLS error, no crash, no hang), through
//! the real `extern "C"` functions. Loopback only.

mod support;

use iotjobs::error::jobs_result;
use iotjobs::ffi::config::*;
use iotjobs::ffi::connection::*;
use iotjobs_emulator::Emulator;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, RsaKeyPair};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::PrivatePkcs8KeyDer;
use std::ffi::c_void;
use std::path::Path;
use std::ptr;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use support::c_api::{connect_publish_free, cstr, last_error, ok};
use support::certs::certs;

const RSA_PSS: [u16; 3] = [0x0804, 0x0805, 0x0806];
const ECDSA_P256: [u16; 1] = [0x0403];

fn emulator() -> Emulator {
    support::certs::mtls_emulator()
}

/// What the signer does with each request.
enum Behaviour {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Fail,
    Garbage,
    Length(usize),
}

struct Signer {
    behaviour: Behaviour,
    /// The schemes it was asked for.
    asked: Mutex<Vec<u16>>,
}

fn pkcs8(path: &Path) -> PrivatePkcs8KeyDer<'static> {
    PrivatePkcs8KeyDer::from_pem_file(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn signer(behaviour: Behaviour) -> Signer {
    Signer {
        behaviour,
        asked: Mutex::new(Vec::new()),
    }
}

unsafe extern "C" fn sign(
    ud: *mut c_void,
    scheme: u16,
    message: *const u8,
    message_len: usize,
    out: *mut u8,
    out_len: *mut usize,
) -> i32 {
    let s = &*(ud as *const Signer);
    s.asked.lock().unwrap().push(scheme);
    let message = std::slice::from_raw_parts(message, message_len);
    let rng = SystemRandom::new();
    let sig: Vec<u8> = match &s.behaviour {
        Behaviour::Rsa(k) => {
            let alg: &'static dyn signature::RsaEncoding = match scheme {
                0x0804 => &signature::RSA_PSS_SHA256,
                0x0805 => &signature::RSA_PSS_SHA384,
                0x0806 => &signature::RSA_PSS_SHA512,
                _ => return 2,
            };
            let mut v = vec![0u8; k.public().modulus_len()];
            if k.sign(alg, &rng, message, &mut v).is_err() {
                return 3;
            }
            v
        }
        Behaviour::Ec(k) => match k.sign(&rng, message) {
            Ok(sig) => sig.as_ref().to_vec(),
            Err(_) => return 3,
        },
        Behaviour::Fail => return 42,
        Behaviour::Garbage => vec![0x5a; 70],
        Behaviour::Length(n) => {
            *out_len = *n;
            return 0;
        }
    };
    if sig.len() > *out_len {
        return 4;
    }
    ptr::copy_nonoverlapping(sig.as_ptr(), out, sig.len());
    *out_len = sig.len();
    0
}

unsafe fn tls_config(emu: &Emulator, id: &str, cert: Option<&Path>) -> *mut jobs_config {
    let c = certs();
    let port = emu.tls_addr().expect("TLS listener").port();
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
    if let Some(cert) = cert {
        let cert = cstr(cert.to_str().unwrap());
        ok(jobs_config_set_cert_file(cfg, cert.as_ptr()), "cert");
    }
    cfg
}

unsafe fn with_signer(cfg: *mut jobs_config, schemes: &[u16], s: &Signer) {
    ok(
        jobs_config_set_key_signer(
            cfg,
            schemes.as_ptr(),
            schemes.len(),
            Some(sign),
            s as *const Signer as *mut c_void,
        ),
        "key signer",
    );
}

/// Connects with `s`; the connect result and its message.
unsafe fn connect_with(
    emu: &Emulator,
    id: &str,
    cert: &Path,
    schemes: &[u16],
    s: &Signer,
) -> (jobs_result, String) {
    let cfg = tls_config(emu, id, Some(cert));
    with_signer(cfg, schemes, s);
    let mut conn = ptr::null_mut();
    ok(jobs_connection_new(cfg, &mut conn), "connection_new");
    jobs_config_free(cfg);
    connect_publish_free(conn, "signer/t")
}

#[test]
fn a_signer_holding_the_key_completes_mutual_tls_rsa_and_ecdsa() {
    let emu = emulator();
    let c = certs();
    let rsa = signer(Behaviour::Rsa(
        RsaKeyPair::from_pkcs8(pkcs8(&c.client_rsa_pkcs8_key).secret_pkcs8_der()).unwrap(),
    ));
    let ec = signer(Behaviour::Ec(
        EcdsaKeyPair::from_pkcs8(
            &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            pkcs8(&c.client_ec_pkcs8_key).secret_pkcs8_der(),
            &SystemRandom::new(),
        )
        .unwrap(),
    ));
    unsafe {
        let r = connect_with(&emu, "signer-rsa", &c.client_rsa_cert, &RSA_PSS, &rsa);
        assert_eq!(r.0, jobs_result::Ok, "{}", r.1);
        let r = connect_with(&emu, "signer-ec", &c.client_ec_cert, &ECDSA_P256, &ec);
        assert_eq!(r.0, jobs_result::Ok, "{}", r.1);
    }
    assert_eq!(rsa.asked.lock().unwrap()[..], [0x0804]);
    assert_eq!(ec.asked.lock().unwrap()[..], [0x0403]);
}

#[test]
fn a_failing_or_lying_signer_is_a_clear_tls_error() {
    let emu = emulator();
    let c = certs();
    let cases = [
        (Behaviour::Fail, "returned 42"),
        (Behaviour::Length(0), "0 bytes"),
        (Behaviour::Length(JOBS_SIGNATURE_MAX + 1), "2049 bytes"),
        // A signature the server cannot verify: it refuses the handshake.
        (Behaviour::Garbage, ""),
    ];
    for (behaviour, needle) in cases {
        let s = signer(behaviour);
        let started = Instant::now();
        let (rc, msg) =
            unsafe { connect_with(&emu, "signer-bad", &c.client_ec_cert, &ECDSA_P256, &s) };
        assert_eq!(rc, jobs_result::Tls, "{msg}");
        assert!(msg.contains(needle), "{needle:?} not in {msg:?}");
        assert!(started.elapsed() < Duration::from_secs(10), "{msg}");
        assert_eq!(s.asked.lock().unwrap().len(), 1, "{msg}");
    }
}

#[test]
fn a_signer_needs_the_certificate_and_excludes_a_key() {
    let emu = emulator();
    let c = certs();
    let s = signer(Behaviour::Fail);
    unsafe {
        // Without a certificate.
        let cfg = tls_config(&emu, "signer-nocert", None);
        with_signer(cfg, &ECDSA_P256, &s);
        let mut conn = ptr::null_mut();
        assert_eq!(jobs_connection_new(cfg, &mut conn), jobs_result::TlsConfig);
        assert!(
            last_error().contains("without its client certificate"),
            "{}",
            last_error()
        );
        jobs_config_free(cfg);
        // With a key as well.
        let cfg = tls_config(&emu, "signer-key", Some(&c.client_ec_cert));
        let key = cstr(c.client_ec_pkcs8_key.to_str().unwrap());
        ok(jobs_config_set_key_file(cfg, key.as_ptr()), "key");
        with_signer(cfg, &ECDSA_P256, &s);
        assert_eq!(jobs_connection_new(cfg, &mut conn), jobs_result::TlsConfig);
        assert!(last_error().contains("exclude"), "{}", last_error());
        // Clearing the signer leaves the key: that connection works.
        ok(
            jobs_config_set_key_signer(cfg, ptr::null(), 0, None, ptr::null_mut()),
            "clear",
        );
        ok(
            jobs_connection_new(cfg, &mut conn),
            "connection_new with the key",
        );
        ok(jobs_connection_connect(conn), "connect with the key");
        jobs_connection_free(conn);
        jobs_config_free(cfg);
    }
    assert!(s.asked.lock().unwrap().is_empty());
}

#[test]
fn bad_input_to_jobs_config_set_key_signer_gets_its_documented_code() {
    let s = signer(Behaviour::Fail);
    let ud = &s as *const Signer as *mut c_void;
    unsafe {
        assert_eq!(
            jobs_config_set_key_signer(ptr::null_mut(), ECDSA_P256.as_ptr(), 1, Some(sign), ud),
            jobs_result::NullArgument
        );
        let mut cfg = ptr::null_mut();
        ok(jobs_config_new(&mut cfg), "config_new");
        assert_eq!(
            jobs_config_set_key_signer(cfg, ptr::null(), 2, Some(sign), ud),
            jobs_result::NullArgument
        );
        let many = [0x0403u16; 17];
        for schemes in [
            &[][..],
            &many[..],
            &[0x0201][..],         // RSA PKCS#1 SHA-1
            &[0x1234][..],         // unknown
            &[0x0403, 0x0804][..], // two algorithms
        ] {
            assert_eq!(
                jobs_config_set_key_signer(cfg, schemes.as_ptr(), schemes.len(), Some(sign), ud),
                jobs_result::InvalidArgument,
                "{schemes:x?}"
            );
        }
        ok(
            jobs_config_set_key_signer(cfg, RSA_PSS.as_ptr(), RSA_PSS.len(), Some(sign), ud),
            "valid schemes",
        );
        jobs_config_free(cfg);
    }
}
