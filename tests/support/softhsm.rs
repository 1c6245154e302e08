//! A SoftHSM2 token per test process, in its own directory: label [`TOKEN`], user PIN [`PIN`],
//! holding the test client keys (`thing-rsa`, id 01; `thing-ec`, id 02) and a secp256k1 key
//! (`thing-k1`, id 09) no TLS signature scheme is made for, and the certificate of `thing-rsa`
//! (same label and id; `thing-ec` has none). `SOFTHSM2_CONF` is set for the
//! process before any test loads the module.
//!
//! A missing softhsm2 PANICS: the PKCS#11 tests must fail, never skip, in CI.

use super::certs::certs;
use super::process_dir;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The SoftHSM2 module as Debian installs it (package softhsm2).
pub const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
pub const TOKEN: &str = "iotjobs";
pub const PIN: &str = "1234";
pub const SO_PIN: &str = "5678";

pub struct Token {
    pub dir: PathBuf,
    /// The slot SoftHSM moved the initialized token to.
    pub slot_id: u64,
}

/// The token of this process, created on first use. A failed creation fails every caller
/// with its first message (not a second attempt, which would make a second token).
pub fn token() -> &'static Token {
    static TOKEN_: OnceLock<Result<Token, String>> = OnceLock::new();
    let made = TOKEN_.get_or_init(|| {
        std::panic::catch_unwind(create).map_err(|e| {
            e.downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "creating the SoftHSM2 token panicked".into())
        })
    });
    match made {
        Ok(t) => t,
        Err(e) => panic!("the test token could not be made: {e}"),
    }
}

/// The contents and the rest after one DER TLV at the start of `der`.
fn der_tlv(der: &[u8]) -> (&[u8], &[u8], &[u8]) {
    let (len, header) = match der[1] {
        n if n < 0x80 => (n as usize, 2),
        0x81 => (der[2] as usize, 3),
        0x82 => (((der[2] as usize) << 8) | der[3] as usize, 4),
        n => panic!("DER length form {n:#x}"),
    };
    (
        &der[..header + len],
        &der[header..header + len],
        &der[header + len..],
    )
}

/// The DER subject Name of an X.509 certificate (PKCS#11 wants it as `CKA_SUBJECT`).
fn subject(cert: &[u8]) -> Vec<u8> {
    let (_, certificate, _) = der_tlv(cert);
    let (_, tbs, _) = der_tlv(certificate);
    let mut rest = tbs;
    if rest[0] == 0xa0 {
        rest = der_tlv(rest).2; // [0] version
    }
    for _ in 0..4 {
        rest = der_tlv(rest).2; // serial, signature, issuer, validity
    }
    der_tlv(rest).0.to_vec()
}

fn util(args: &[&str]) -> String {
    let out = Command::new("softhsm2-util")
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run softhsm2-util ({e}): install softhsm2 (apt-get install -y softhsm2)")
        });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "softhsm2-util {} failed ({}):\n{text}",
        args.join(" "),
        out.status
    );
    text
}

fn create() -> Token {
    assert!(
        Path::new(MODULE).is_file(),
        "{MODULE} is missing: install softhsm2 (apt-get install -y softhsm2)"
    );
    let dir = process_dir().join("softhsm");
    let tokens = dir.join("tokens");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&tokens).unwrap();
    let conf = dir.join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            tokens.display()
        ),
    )
    .unwrap();
    // Before any thread loads the module: it reads the variable when initialized.
    std::env::set_var("SOFTHSM2_CONF", &conf);
    let out = util(&[
        "--init-token",
        "--free",
        "--label",
        TOKEN,
        "--pin",
        PIN,
        "--so-pin",
        SO_PIN,
    ]);
    let slot_id = out
        .split("reassigned to slot ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no slot id in softhsm2-util's output:\n{out}"));
    let c = certs();
    let k1 = dir.join("k1.pem");
    let status = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:secp256k1",
            "-out",
        ])
        .arg(&k1)
        .status()
        .expect("openssl");
    assert!(status.success(), "openssl genpkey secp256k1");
    for (key, label, id) in [
        (&c.client_rsa_pkcs8_key, "thing-rsa", "01"),
        (&c.client_ec_pkcs8_key, "thing-ec", "02"),
        (&k1, "thing-k1", "09"),
    ] {
        util(&[
            "--import",
            key.to_str().unwrap(),
            "--token",
            TOKEN,
            "--label",
            label,
            "--id",
            id,
            "--pin",
            PIN,
        ]);
    }
    store_certificate(slot_id, &c.client_rsa_cert, "thing-rsa", &[0x01]);
    Token { dir, slot_id }
}

/// Stores the certificate in `path` as a token object labelled `label`, with `id`.
fn store_certificate(slot_id: u64, path: &Path, label: &str, id: &[u8]) {
    use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
    use cryptoki::object::{Attribute, CertificateType, ObjectClass};
    use cryptoki::session::UserType;
    use cryptoki::types::AuthPin;
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let der = CertificateDer::from_pem_file(path).unwrap();
    let ctx = Pkcs11::new(MODULE).unwrap();
    ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .unwrap();
    {
        let slot = ctx
            .get_slots_with_token()
            .unwrap()
            .into_iter()
            .find(|s| s.id() == slot_id)
            .expect("the token's slot");
        let session = ctx.open_rw_session(slot).unwrap();
        session
            .login(UserType::User, Some(&AuthPin::from(PIN.to_owned())))
            .unwrap();
        session
            .create_object(&[
                Attribute::Class(ObjectClass::CERTIFICATE),
                Attribute::CertificateType(CertificateType::X_509),
                Attribute::Token(true),
                Attribute::Label(label.as_bytes().to_vec()),
                Attribute::Id(id.to_vec()),
                Attribute::Subject(subject(der.as_ref())),
                Attribute::Value(der.as_ref().to_vec()),
            ])
            .unwrap();
    }
    // The library initializes the module afresh for itself.
    ctx.finalize().unwrap();
}
